"""County population: the 2020 census leaves, carried onto today's county polygons.

The census tabulates 2,989 leaf units (``is_leaf``); most have a county polygon
of the same GB code. The rest go through ``data/county_code_changes_2020.csv``
(see :mod:`planner.geodata.derive` for how it was built): a row with a share
sends that fraction of the unit to one county; rows without a share *pool* the
unit with all its targets, and the pool's people are spread over the union of
those counties by the grid model. A county's *census unit* is therefore either
itself or the pool it belongs to (named by the pool's smallest code); the
census total is guaranteed per census unit, and cells sum to it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from planner.errors import DataError

log = logging.getLogger(__name__)

__all__ = ["CountyPopulation", "county_population"]


@dataclass
class CountyPopulation:
    """Census people per county and per census unit.

    counties : index ``code``; columns ``census_unit`` (str), ``population_fixed``
        and ``urban_fixed`` (people sent to this county alone).
    units : index ``census_unit``; columns ``population``, ``urban_population``
        (everything the unit's counties receive, fixed and pooled), ``pooled`` (bool).
    """

    counties: pd.DataFrame
    units: pd.DataFrame


def _read_crosswalk(path: Path) -> pd.DataFrame:
    cw = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    need = {"old_code", "old_name", "parent_code", "new_code", "share", "rule", "reason"}
    missing = sorted(need - set(cw.columns))
    if missing:
        raise DataError(f"{path}: crosswalk needs columns {sorted(need)}; missing {missing}.")
    return cw


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, x: str) -> str:
        self.parent.setdefault(x, x)
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            lo, hi = sorted((ra, rb))
            self.parent[hi] = lo


def county_population(
    census: pd.DataFrame, crosswalk_path: Path | None, county_codes: list[str], *, census_path: Path
) -> CountyPopulation:
    """Carry census leaves onto county codes.

    Parameters
    ----------
    census : pandas.DataFrame
        From :func:`planner.geodata._sources.read_census`.
    crosswalk_path : Path or None
        The code-change table; None for a user census file (codes must then
        match the boundaries).
    county_codes : list of str
        Codes of every county polygon (the whole mainland).
    census_path : Path
        For error messages.

    Returns
    -------
    CountyPopulation

    Raises
    ------
    DataError
        A census unit maps to no county, or the crosswalk names an unknown county.
    """
    leaves = census[census["is_leaf"]].reset_index(drop=True)
    codes = set(county_codes)
    cw = _read_crosswalk(crosswalk_path) if crosswalk_path is not None else None
    rows: list[tuple[str, str, float, float, bool]] = []  # (leaf key, target, pop, urban, pooled)
    uf = _UnionFind()
    for c in county_codes:
        uf.find(c)
    by_key: dict[tuple[str, str, str], pd.DataFrame] = {}
    if cw is not None:
        unknown = sorted(set(cw["new_code"]) - codes)
        if unknown:
            raise DataError(f"{crosswalk_path}: new_code(s) {unknown[:10]} are not county polygons.")
        for key, grp in cw.groupby(["old_code", "old_name", "parent_code"], sort=False):
            by_key[(str(key[0]), str(key[1]), str(key[2]))] = grp
    unmatched: list[str] = []
    for leaf in leaves.itertuples(index=False):
        pop, urban = float(leaf.population), float(leaf.urban_population)
        grp = by_key.get((leaf.code, leaf.name_zh, leaf.parent_code or leaf.code[:4] + "00"))
        if grp is not None:
            pooled = grp["share"].eq("")
            targets = grp["new_code"].tolist()
            if pooled.any():
                for t in targets[1:]:
                    uf.union(targets[0], t)
                fixed = grp.loc[~pooled]
                fixed_share = pd.to_numeric(fixed["share"]).sum()
                for t, s in zip(fixed["new_code"], pd.to_numeric(fixed["share"]), strict=True):
                    rows.append((leaf.code, t, pop * s, urban * s, False))
                rows.append((leaf.code, targets[0], pop * (1 - fixed_share), urban * (1 - fixed_share), True))
            else:
                shares = pd.to_numeric(grp["share"]).to_numpy(dtype=float)
                shares = shares / shares.sum()  # rounding in the file must not lose people
                for t, s in zip(targets, shares, strict=True):
                    rows.append((leaf.code, t, pop * s, urban * s, False))
        elif leaf.code in codes:
            rows.append((leaf.code, leaf.code, pop, urban, False))
        else:
            unmatched.append(f"{leaf.code or '(no code)'} {leaf.name_zh} ({pop:,.0f} people)")
    if unmatched:
        hint = (
            "Add them to data/county_code_changes_2020.csv (see planner/geodata/derive.py)."
            if cw is not None
            else "Use the codes of the boundary counties (GB/T 2260, 6 digits)."
        )
        raise DataError(
            f"{census_path}: {len(unmatched)} census unit(s) match no county polygon. {hint}",
            problems=unmatched[:20],
        )
    flows = pd.DataFrame(rows, columns=["leaf", "target", "population", "urban", "pooled"])
    unit_of = {c: uf.find(c) for c in county_codes}
    flows["unit"] = flows["target"].map(unit_of)
    fixed = flows[~flows["pooled"]].groupby("target")[["population", "urban"]].sum()
    counties = pd.DataFrame(index=pd.Index(sorted(county_codes), name="code"))
    counties["census_unit"] = counties.index.map(unit_of)
    counties["population_fixed"] = fixed["population"].reindex(counties.index).fillna(0.0)
    counties["urban_fixed"] = fixed["urban"].reindex(counties.index).fillna(0.0)
    units = flows.groupby("unit")[["population", "urban"]].sum().rename(columns={"urban": "urban_population"})
    units = units.reindex(sorted(set(unit_of.values())), fill_value=0.0)
    members = counties.groupby("census_unit").size()
    units["pooled"] = members.reindex(units.index).to_numpy() > 1
    units.index.name = "census_unit"
    empty = units.index[units["population"] <= 0]
    if len(empty):
        log.warning("%d census unit(s) have no people: %s", len(empty), list(empty[:10]))
    total = float(leaves["population"].sum())
    assert np.isclose(units["population"].sum(), total, rtol=1e-12), "crosswalk lost people"
    return CountyPopulation(counties=counties, units=units)
