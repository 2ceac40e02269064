"""Which provinces a scenario covers: ``grid.provinces`` resolved to GB codes.

A planner may write a province as its Chinese name with or without the suffix
(``广东省``, ``广东``), its GB code (``440000``, ``44``, ``156440000``) or its
English name (``Guangdong``, ``Guangdong Province``, ``Inner Mongolia``,
``Nei Mongol``, ``Tibet``, ``Xizang``), in any case.
"""

from __future__ import annotations

import difflib

import pandas as pd

from planner.errors import ConfigError

from ._sources import read_provinces_table

__all__ = ["province_names_en", "resolve_provinces"]

_EXTRA = {"150000": ["inner mongolia"], "540000": ["tibet"], "450000": ["guangxi zhuang"], "640000": ["ningxia"],
          "650000": ["xinjiang"], "620000": ["gansu"]}
_ZH_SUFFIXES = ("维吾尔自治区", "壮族自治区", "回族自治区", "自治区", "特别行政区", "省", "市")
_EN_SUFFIXES = (" province", " municipality", " autonomous region", " uygur", " zhuang", " hui")


def _aliases(row: pd.Series) -> set[str]:
    code = str(row["code"])
    names = {code, code[:2], "156" + code, str(row["name_zh"]).lower()}
    zh = str(row["name_zh"])
    for suf in _ZH_SUFFIXES:
        if zh.endswith(suf):
            names.add(zh[: -len(suf)])
            break
    for en in (str(row["name_en"]), str(row["name_en_short"])):
        e = en.lower().strip()
        names.add(e)
        for suf in _EN_SUFFIXES:
            if e.endswith(suf):
                names.add(e[: -len(suf)].strip())
        names.add(e.split(" ")[0])
    names.update(_EXTRA.get(code, []))
    return {n.lower() for n in names if n}


def resolve_provinces(requested: list[str], table: pd.DataFrame) -> list[str]:
    """GB codes of the requested provinces (all 31 when the list is empty).

    Parameters
    ----------
    requested : list of str
        ``grid.provinces`` as written in the scenario.
    table : pandas.DataFrame
        ``code, name_zh, name_en, name_en_short`` of the 31 provinces.

    Returns
    -------
    list of str
        Sorted unique 6-digit codes.

    Raises
    ------
    ConfigError
        A name matches no province (with the closest names as a suggestion).
    """
    all_codes = sorted(table["code"].astype(str))
    if not requested:
        return all_codes
    lookup: dict[str, str] = {}
    for _, row in table.iterrows():
        for alias in _aliases(row):
            lookup.setdefault(alias, str(row["code"]))
    codes: set[str] = set()
    problems: list[str] = []
    for i, item in enumerate(requested):
        key = str(item).strip().lower()
        if key in lookup:
            codes.add(lookup[key])
            continue
        close = difflib.get_close_matches(key, list(lookup), n=3, cutoff=0.6)
        hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        problems.append(f"grid.provinces[{i}]: {item!r} is not a mainland province{hint}")
    if problems:
        raise ConfigError(
            "grid.provinces: unknown province name(s). Use a Chinese or English name or the GB code "
            "(e.g. 广东省, Guangdong, 440000).",
            problems=problems,
        )
    return sorted(codes)


def province_names_en() -> dict[str, str]:
    """GB code → short English name of the 31 provinces (``440000`` → ``Guangdong``).

    For labels drawn where no installed font has Chinese glyphs (report charts).
    """
    table = read_provinces_table()
    return dict(zip(table["code"].astype(str), table["name_en_short"].astype(str), strict=True))
