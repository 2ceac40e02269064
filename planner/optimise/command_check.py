"""Solver-independent validation of area territories.

:func:`check_territories` verifies, with code of its own (it imports only the
data types), every rule an area must keep: each county with a store in exactly
one area, areas inside one province, connected through the county graph
(shared borders or water links), within the size limits unless a flagged
exception's own condition holds, the centre inside its area. :func:`check_store_areas`
verifies that every open store belongs to the area of its county. Territories
never shrink over the quarters: an area's counties are fixed when it is drawn and
it is formed in the quarter of its first store, which the rollout's checker
(:mod:`planner.optimise.rollout_check`) verifies against the area-manager pool.
"""

from __future__ import annotations

import numpy as np

from planner.optimise.command_types import (
    EXCEPTIONS,
    NO_AREA,
    CommandParams,
    Territories,
    TerritoryInstance,
)

__all__ = ["check_territories", "check_store_areas"]


def _connected(members: list[int], nbrs: dict[int, set[int]]) -> bool:
    # the checker's own graph search, on purpose (the solver uses command._hops)
    inside = set(members)
    seen = {members[0]}
    stack = [members[0]]
    while stack:
        u = stack.pop()
        for v in nbrs.get(u, ()):
            if v in inside and v not in seen:
                seen.add(v)
                stack.append(v)
    return len(seen) == len(inside)


def check_territories(tinst: TerritoryInstance, terr: Territories, params: CommandParams) -> list[str]:
    """Every territory rule, verified from the territories alone.

    Returns
    -------
    list of str
        One sentence per violation, empty when the territories are valid.
    """
    out: list[str] = []
    C = tinst.n_counties  # noqa: N806
    ca = np.asarray(terr.county_area, dtype=np.int64)
    k = terr.n_areas
    if ca.shape != (C,):
        return [f"county_area has shape {ca.shape}, expected ({C},)"]
    if len(terr.area_exception) != k or terr.area_centre.shape != (k,):
        return ["area_province, area_centre and area_exception differ in length"]
    if np.any((ca < NO_AREA) | (ca >= k)):
        return [f"county_area holds values outside {NO_AREA}..{k - 1}"]
    stores = np.asarray(tinst.county_stores)
    lost = np.flatnonzero((stores > 0) & (ca == NO_AREA))
    for c in lost[:10].tolist():
        out.append(f"county {tinst.county_label(c)} has {stores[c]} stores but no area")
    nbrs: dict[int, set[int]] = {}
    for a, b in zip(np.asarray(tinst.adj_a).tolist(), np.asarray(tinst.adj_b).tolist(), strict=True):
        nbrs.setdefault(a, set()).add(b)
        nbrs.setdefault(b, set()).add(a)
    lo, hi = params.min_stores_per_area, params.max_stores_per_area
    prov = np.asarray(tinst.county_province)
    for a in range(k):
        members = np.flatnonzero(ca == a).tolist()
        name = f"area {a}"
        if not members:
            out.append(f"{name} has no county")
            continue
        provs = set(prov[members].tolist())
        if len(provs) > 1 or int(terr.area_province[a]) not in provs:
            out.append(f"{name} spans provinces {sorted(tinst.province_label(p) for p in provs)}")
        if not _connected(members, nbrs):
            out.append(f"{name} (counties {', '.join(tinst.county_label(c) for c in members[:6])}) is not connected "
                       "through county borders or water links")
        if int(terr.area_centre[a]) not in members:
            out.append(f"{name}: its centre county is not in it")
        n = int(stores[members].sum())
        exc = terr.area_exception[a]
        if exc and exc not in EXCEPTIONS:
            out.append(f"{name}: unknown exception {exc!r}")
        if n == 0:
            out.append(f"{name} holds no store")
        elif exc == "big_county":
            if len(members) != 1 or n <= hi:
                out.append(f"{name} is flagged big_county but holds {len(members)} counties and {n} stores "
                           f"(command.max_stores_per_area={hi})")
        elif exc in ("small_province", "relaxed_minimum"):
            if n >= lo or n > hi:
                out.append(f"{name} is flagged {exc} but holds {n} stores (limits {lo}..{hi})")
        elif exc == "":
            if not lo <= n <= hi:
                out.append(f"{name} holds {n} stores outside command.min_stores_per_area={lo}.."
                           f"command.max_stores_per_area={hi}")
    return out


def check_store_areas(
    terr: Territories, store_county: np.ndarray, store_area: np.ndarray
) -> list[str]:
    """Every open store in exactly one area, the area of its county (arrays aligned per store)."""
    store_area = np.asarray(store_area, dtype=np.int64)
    expect = np.asarray(terr.county_area, dtype=np.int64)[np.asarray(store_county, dtype=np.int64)]
    bad = np.flatnonzero((store_area != expect) | (store_area < 0))
    return [f"{bad.size} stores are not in the area of their county (e.g. store #{int(bad[0])})"] if bad.size else []
