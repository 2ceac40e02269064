"""Where the brand leads: Huff shares of the own brand and each rival per unit and quarter.

Each cell's demand splits between the brands in proportion to their Huff pull:
the own network's attraction ``S_i`` (through the one kernel,
``planner.optimise.types.attraction``, via :func:`planner.report.kpis.own_attraction`)
and each rival's ``pull_<brand>`` from ``planner.demand`` (plus, after the rivals'
response, the pull of their new stores). A unit's share of a brand is the
demand-weighted mean over its cells; its ``rank`` is 1 + the number of brands with
a strictly larger share. This module reads a solved plan and never solves.
"""

from __future__ import annotations

import weakref
from typing import Any

import numpy as np
import pandas as pd

from planner.instance import BuiltInstance
from planner.optimise.compete import Follower, response_pull
from planner.report.kpis import huff_share, own_attraction

__all__ = [
    "NATION_CODE", "SHARE_LEVELS", "brand_pulls", "leads_kpis", "open_by_quarter", "rank_changes",
    "response_pulls", "response_table", "share_after_response_kpis", "share_table", "unit_shares",
]

NATION_CODE = "CN"
_INDEX_CACHE: dict[int, tuple[Any, dict[str, tuple[np.ndarray, np.ndarray]]]] = {}
NATION_NAME = "nation (every cell of the scenario)"
SHARE_LEVELS: tuple[str, ...] = ("nation", "province", "city")


def brand_pulls(built: BuiltInstance) -> dict[str, np.ndarray]:
    """Each rival brand's pull per cell (the ``pull_<brand>`` columns of the demand table)."""
    cells = built.cells
    return {c.removeprefix("pull_"): cells[c].to_numpy(dtype=float) for c in cells.columns if c.startswith("pull_")}


def _names(layers: Any, level: str) -> pd.Series:
    table = layers.provinces if level == "province" else layers.cities
    return table.set_index(table["code"].astype(str))["name"].astype(str)


def unit_shares(
    built: BuiltInstance,
    layers: Any,
    open_sites: np.ndarray,
    *,
    extra_pull: dict[str, np.ndarray] | None = None,
) -> pd.DataFrame:
    """Shares and rank of every unit (nation, provinces, cities) for one open set.

    Parameters
    ----------
    built, layers
        The solved scenario's instance tables and geodata layers.
    open_sites
        Own site indices open.
    extra_pull
        Per rival brand, pull added to its ``pull_<brand>`` (its new stores after a response).

    Returns
    -------
    pandas.DataFrame
        ``level``, ``code``, ``name``, ``own``, one column per rival brand (shares,
        fractions 0-1 of the unit's demand), ``rank``. Units without demand are left out.
    """
    pulls = brand_pulls(built)
    for brand, extra in (extra_pull or {}).items():
        pulls[brand] = pulls.get(brand, np.zeros(built.instance.n_cells)) + extra
    own = own_attraction(built.instance, np.asarray(open_sites, dtype=np.int64))
    total = own + sum(pulls.values(), np.zeros_like(own))
    w = np.asarray(built.instance.weight, dtype=float)
    cols = {"own": w * huff_share(own, total)} | {b: w * huff_share(p, total) for b, p in sorted(pulls.items())}
    brands = list(cols)
    frames = []
    for level in SHARE_LEVELS:
        idx, codes = _unit_index(built, level)
        w_unit = np.bincount(idx, weights=w, minlength=codes.size)
        keep = w_unit > 0
        shares = {b: np.bincount(idx, weights=v, minlength=codes.size)[keep] / w_unit[keep] for b, v in cols.items()}
        kept = codes[keep]
        names = np.full(kept.size, NATION_NAME, dtype=object) if level == "nation" else (
            _names(layers, level).reindex(kept).fillna("").to_numpy())
        frames.append(pd.DataFrame({"level": level, "code": kept, "name": names, **shares}))
    out = pd.concat(frames, ignore_index=True)
    vals = out[brands].to_numpy(dtype=float)
    out["rank"] = 1 + (vals > vals[:, [0]] * (1 + 1e-12)).sum(axis=1)
    return out


def _unit_index(built: BuiltInstance, level: str) -> tuple[np.ndarray, np.ndarray]:
    """Per cell, the index of its unit at ``level``, and the units' codes (sorted); cached per cell table."""
    cells = built.cells
    ref, cache = _INDEX_CACHE.get(id(cells), (None, {}))
    if ref is None or ref() is not cells:
        cache = {}
        _INDEX_CACHE.clear()  # one scenario at a time is the common case; keep memory flat
        _INDEX_CACHE[id(cells)] = (weakref.ref(cells), cache)
    if level not in cache:
        if level == "nation":
            cache[level] = (np.zeros(len(built.cells), dtype=np.int64), np.array([NATION_CODE], dtype=object))
        else:
            idx, codes = pd.factorize(built.cells[f"{level}_code"].astype(str), sort=True)
            cache[level] = (idx.astype(np.int64), np.asarray(codes, dtype=object))
    return cache[level]


def open_by_quarter(open_sites: np.ndarray, quarter: np.ndarray | None, n_quarters: int) -> list[np.ndarray]:
    """The open set at the end of each quarter (quarter -1 = open before the first)."""
    sites = np.asarray(open_sites, dtype=np.int64)
    if quarter is None:
        return [sites]
    q = np.asarray(quarter, dtype=np.int64)
    return [sites[q <= t] for t in range(n_quarters)]


def share_table(
    built: BuiltInstance,
    layers: Any,
    open_sites: np.ndarray,
    *,
    quarter: np.ndarray | None,
    quarter_labels: list[str] | None,
) -> pd.DataFrame:
    """``share.csv``: one row per unit and quarter of the rollout (the last quarter is the final network).

    Without a rollout there is one quarter, ``final``.
    """
    labels = quarter_labels if (quarter is not None and quarter_labels) else ["final"]
    sets = open_by_quarter(open_sites, quarter if labels != ["final"] else None, len(labels))
    parts = []
    for label, sites in zip(labels, sets, strict=True):
        df = unit_shares(built, layers, sites)
        df.insert(3, "quarter", label)
        parts.append(df)
    out = pd.concat(parts, ignore_index=True)
    brands = [c for c in out.columns if c not in ("level", "code", "name", "quarter", "rank")]
    out[brands] = out[brands].round(6)
    return out


def _leading(df: pd.DataFrame) -> pd.Series:
    return (df["rank"] == 1) & (df["own"] > 0)


def leads_kpis(share: pd.DataFrame) -> dict[str, Any]:
    """``kpis["leads"]``: provinces and cities where the brand is first at the end, and when it first leads.

    ``first_quarter`` maps each province the brand ever leads to the first quarter it does.
    """
    last = share["quarter"].iloc[-1]
    end = share[share["quarter"] == last]
    lead_end = end[_leading(end)]
    prov = share[(share["level"] == "province") & _leading(share)]
    first = prov.drop_duplicates("code")  # rows are in quarter order
    nation = end[end["level"] == "nation"]
    return {
        "quarter": str(last),
        "nation_rank": int(nation["rank"].iloc[0]) if len(nation) else None,
        "provinces": int((lead_end["level"] == "province").sum()),
        "cities": int((lead_end["level"] == "city").sum()),
        "provinces_led": lead_end.loc[lead_end["level"] == "province", "name"].tolist(),
        "first_quarter": {str(r.name): str(r.quarter) for r in first.itertuples(index=False)},
        "province_count": int((end["level"] == "province").sum()),
        "city_count": int((end["level"] == "city").sum()),
    }


# --------------------------------------------------------------------------- after the rivals' response
def response_pulls(
    follower: Follower, follower_sites: pd.DataFrame, response: np.ndarray, n_cells: int, beta: float
) -> dict[str, np.ndarray]:
    """Each rival brand's extra pull per cell from its share of the response."""
    response = np.asarray(response, dtype=np.int64)
    brand = follower_sites["brand"].to_numpy()[response] if response.size else np.zeros(0, dtype=object)
    return {
        b: response_pull(follower, response[brand == b], n_cells, beta) for b in sorted(set(brand.tolist()))
    }


def response_table(follower_sites: pd.DataFrame, response: np.ndarray, layers: Any) -> pd.DataFrame:
    """``response.csv``: the rivals' new stores (brand, store id, lat, lon, province, city, county)."""
    s = follower_sites.iloc[np.sort(np.asarray(response, dtype=np.int64))]
    names = {
        "province": layers.provinces.set_index(layers.provinces["code"].astype(str))["name"],
        "city": layers.cities.set_index(layers.cities["code"].astype(str))["name"],
        "county": layers.counties.set_index(layers.counties["code"].astype(str))["name"],
    }
    return pd.DataFrame(
        {
            "brand": s["brand"].to_numpy(),
            "store_id": s["site_id"].to_numpy(),
            "lat": s["lat"].round(6).to_numpy(),
            "lon": s["lon"].round(6).to_numpy(),
            **{lvl: s[f"{lvl}_code"].astype(str).map(names[lvl]).to_numpy() for lvl in ("province", "city", "county")},
            "province_code": s["province_code"].astype(str).to_numpy(),
        }
    ).sort_values(["brand", "province_code", "store_id"]).reset_index(drop=True)


def share_after_response_kpis(
    before: pd.DataFrame, after: pd.DataFrame, *, response: Any, stores: dict[str, int], sites: str,
    total_weight: float,
) -> dict[str, Any]:
    """``kpis["share_after_response"]``: own share and rank before / after, nationally and per province.

    ``response`` is the follower's :class:`~planner.optimise.compete.Response`;
    ``after_floor`` is the proven lower bound on the share after the rivals'
    *optimal* response (the follower's solve has a gap).
    """
    def rows(level: str) -> pd.DataFrame:
        b = before[before["level"] == level].set_index("code")
        a = after[after["level"] == level].set_index("code").reindex(b.index)
        return pd.DataFrame({"name": b["name"], "before": b["own"], "after": a["own"],
                             "rank_before": b["rank"], "rank_after": a["rank"]})

    nation = rows("nation").iloc[0]
    floor = response.share_after_floor
    return {
        "stores": dict(stores),
        "sites": sites,
        "nation": {
            "before": float(nation["before"]), "after": float(nation["after"]),
            "after_floor": None if floor is None or total_weight <= 0 else float(floor / total_weight),
            "rank_before": int(nation["rank_before"]), "rank_after": int(nation["rank_after"]),
        },
        "response_gap": response.gap,
        "response_status": response.status,
        "response_seconds": round(float(response.seconds), 3),
        "per_province": [
            {"province_code": str(code), "province": str(r["name"]), "before": float(r["before"]),
             "after": float(r["after"]), "rank_before": int(r["rank_before"]), "rank_after": int(r["rank_after"])}
            for code, r in rows("province").iterrows()
        ],
        "provinces_led_before": int((rows("province")["rank_before"] == 1).sum()),
        "provinces_led_after": int((rows("province")["rank_after"] == 1).sum()),
    }


def rank_changes(base: pd.DataFrame, other: pd.DataFrame) -> pd.DataFrame:
    """Units whose final-quarter rank differs between two runs' ``share.csv`` (for ``compare``)."""
    def final(df: pd.DataFrame) -> pd.DataFrame:
        last = df["quarter"].astype(str).iloc[-1]
        d = df[df["quarter"].astype(str) == last].copy()
        d["code"] = d["code"].astype(str)
        return d.set_index(["level", "code"])[["name", "own", "rank"]]

    a, b = final(base), final(other)
    j = a.merge(b, left_index=True, right_index=True, how="outer", suffixes=("_base", "_other"))
    j = j[j["rank_base"] != j["rank_other"]].reset_index()
    j["name"] = j["name_base"].fillna(j["name_other"])
    return j[["level", "code", "name", "rank_base", "rank_other", "own_base", "own_other"]]
