"""Province income and city tiers: the two fact tables joined onto the boundaries.

Income: per-capita disposable income of all residents (CNY). The embedded
table has every province for 2017 but only 11 provinces for 2023; a province's
figure is its 2023 value where present, else its 2017 value scaled by the
national 2023/2017 ratio (39,218 / 25,973.8 ≈ 1.51). ``income_source`` says
which. A user file needs ``code`` and ``income_cny``.

Tiers: the 2025 Yicai list covers the 337 prefecture-level cities. The other
city-level units of the boundaries (Hubei's, Hainan's, Henan's and Xinjiang's
directly administered county-level cities and counties) get a tier by
population: tier 4 if they have at least the median population of the listed
tier-4 cities, else tier 5 (``tier_source = 'rule:population'``).
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from planner.errors import DataError

log = logging.getLogger(__name__)

__all__ = ["province_income", "city_tiers", "TIER_LABELS"]

TIER_LABELS: tuple[str, ...] = ("1", "new1", "2", "3", "4", "5")


def province_income(path: Path, province_codes: list[str]) -> pd.DataFrame:
    """Income per province.

    Parameters
    ----------
    path : Path
        The embedded long table (``code, year, per_capita_disposable_income_cny``)
        or a user CSV (``code, income_cny``).
    province_codes : list of str
        The provinces to cover.

    Returns
    -------
    pandas.DataFrame
        Index ``code``; ``income_cny`` (float), ``income_source`` (str).

    Raises
    ------
    DataError
        A province has no income.
    """
    df = pd.read_csv(path, dtype={"code": str}, encoding="utf-8-sig")
    df["code"] = df["code"].astype(str).str.strip().str.zfill(6)
    if "income_cny" in df.columns:
        out = pd.DataFrame(
            {"income_cny": pd.to_numeric(df["income_cny"], errors="coerce").to_numpy(), "income_source": f"file:{path.name}"},
            index=pd.Index(df["code"], name="code"),
        )
    elif {"year", "per_capita_disposable_income_cny"} <= set(df.columns):
        wide = df.pivot_table(index="code", columns="year", values="per_capita_disposable_income_cny", aggfunc="first")
        ratio = float(wide.loc["000000", 2023] / wide.loc["000000", 2017])
        recent = wide[2023]
        scaled = wide[2017] * ratio
        out = pd.DataFrame(
            {
                "income_cny": recent.fillna(scaled),
                "income_source": recent.notna().map({True: "2023", False: f"2017 x {ratio:.4f} (national 2023/2017)"}),
            }
        )
        out.index.name = "code"
    else:
        raise DataError(
            f"{path}: province income needs columns 'code' and 'income_cny' (found {list(df.columns)})."
        )
    out = out.reindex(province_codes)
    missing = out.index[out["income_cny"].isna() | (out["income_cny"] <= 0)]
    if len(missing):
        raise DataError(f"{path}: no positive income for province(s) {list(missing)}. Add a row per province.")
    return out


def city_tiers(path: Path, cities: pd.DataFrame, *, embedded: bool = True) -> pd.DataFrame:
    """Tier of every city-level unit.

    Parameters
    ----------
    path : Path
        Embedded Yicai table (``gb_code, tier, city_name_en``) or a user CSV
        (``gb_code, tier``).
    cities : pandas.DataFrame
        ``code``, ``population`` of every city-level unit.
    embedded : bool
        The embedded Yicai list (``tier_source = 'yicai2025'``) or a user file
        (``tier_source = 'file'``).

    Returns
    -------
    pandas.DataFrame
        Index ``code``; ``tier``, ``tier_source``, ``name_en`` (empty when unknown).
    """
    df = pd.read_csv(path, dtype={"gb_code": str, "tier": str}, encoding="utf-8-sig")
    if not {"gb_code", "tier"} <= set(df.columns):
        raise DataError(f"{path}: city tiers need columns 'gb_code' and 'tier' (found {list(df.columns)}).")
    df["gb_code"] = df["gb_code"].str.strip().str[-6:]
    df["tier"] = df["tier"].astype(str).str.strip()
    bad = df[~df["tier"].isin(TIER_LABELS)]
    if len(bad):
        row = int(bad.index[0]) + 2
        raise DataError(
            f"{path}: column 'tier', row {row}: {bad['tier'].iloc[0]!r} is not a tier; use one of {list(TIER_LABELS)}."
        )
    listed = df.set_index("gb_code")
    pop = cities.set_index("code")["population"]
    tier4 = pop.reindex(listed.index[listed["tier"] == "4"]).dropna()
    threshold = float(tier4.median()) if len(tier4) else float("inf")
    out = pd.DataFrame(index=pd.Index(cities["code"], name="code"))
    out["tier"] = listed["tier"].reindex(out.index)
    out["tier_source"] = out["tier"].notna().map({True: "yicai2025" if embedded else "file", False: "rule:population"})
    rule = pop.reindex(out.index).ge(threshold).map({True: "4", False: "5"})
    out["tier"] = out["tier"].fillna(rule)
    out["name_en"] = (
        listed["city_name_en"].reindex(out.index).fillna("") if "city_name_en" in listed.columns else ""
    )
    log.debug("tier-4 population threshold for unlisted units: %.0f", threshold)
    return out
