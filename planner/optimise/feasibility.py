"""Obvious infeasibility, found and explained before any solving.

``precheck`` looks for constraint combinations that cannot all hold, with
counting arguments only (no search): more forced stores than the total, group
minimums that add up to more than the total, a group minimum above the sites
that could open in it, budgets below the forced spending, and so on. Each
problem is one sentence naming the scenario keys involved (``GroupLimit.key``)
so the planner knows which line of the YAML to change. A clean precheck does not
prove feasibility; the solver raises ``InfeasibleError`` itself when it finds no
plan at all.
"""

from __future__ import annotations

import logging

import numpy as np

from planner.optimise.types import GroupLimit, Instance

log = logging.getLogger(__name__)

def _label(g: GroupLimit) -> str:
    return g.key or g.name


def forced_sites(inst: Instance) -> np.ndarray:
    """Sites that must be open: ``fixed`` minus the closable ``existing`` ones."""
    existing = np.asarray(inst.existing, dtype=np.int64)
    return np.setdiff1d(np.asarray(inst.fixed, dtype=np.int64), existing)


def min_existing_open(inst: Instance) -> int:
    """How many of the closable ``existing`` sites must stay open."""
    n = np.unique(np.asarray(inst.existing, dtype=np.int64)).size
    return max(0, n - int(inst.max_closures))


def _family(g: GroupLimit) -> str:
    """Groups set by the same scenario section (``constraints.province``...) form a family."""
    parts = g.key.split(".")
    if len(parts) >= 2:
        return ".".join(parts[:2])
    return g.name.split(":")[0] if ":" in g.name else "(unnamed)"


def precheck(inst: Instance) -> list[str]:
    """Return the obvious reasons why no plan can satisfy the constraints.

    Parameters
    ----------
    inst : Instance
        The instance.

    Returns
    -------
    list of str
        One sentence per problem, naming the keys involved; empty when nothing
        obvious is wrong.
    """
    problems: list[str] = []
    keys = inst.keys
    m = inst.n_sites
    p = int(inst.stores)
    forced = forced_sites(inst)
    forbidden = np.unique(np.asarray(inst.forbidden, dtype=np.int64))
    existing = np.unique(np.asarray(inst.existing, dtype=np.int64))
    allowed = np.ones(m, dtype=bool)
    allowed[forbidden] = False
    loc = (
        np.arange(m) if inst.site_location is None else np.asarray(inst.site_location)
    )

    if p < 0:
        problems.append(f"{keys.stores} is {p}; it must be at least 0")
    both = np.intersect1d(forced, forbidden)
    if both.size:
        problems.append(
            f"{both.size} site(s) are both forced open ({keys.forced}) and forbidden "
            f"({keys.forbidden}), e.g. site {both[:3].tolist()}"
        )
    must_open = forced.size + min_existing_open(inst)
    if must_open > p:
        problems.append(
            f"{forced.size} forced stores plus {min_existing_open(inst)} existing stores that "
            f"must stay open ({keys.forced}, {keys.closures}) exceed {keys.stores} = {p}"
        )
    n_loc = np.unique(loc[allowed]).size
    if n_loc < p:
        problems.append(
            f"{keys.stores} = {p} but only {n_loc} distinct candidate locations may open "
            f"(after {keys.forbidden} and {keys.location})"
        )
    fl, fc = np.unique(loc[forced], return_counts=True)
    if np.any(fc > 1):
        problems.append(
            f"{int(np.sum(fc > 1))} location(s) hold two forced stores, but {keys.location} allows one "
            f"store per location (e.g. location {fl[fc > 1][:3].tolist()})"
        )
    if inst.conflict_a.size and forced.size:
        isf = np.zeros(m, dtype=bool)
        isf[forced] = True
        clash = isf[inst.conflict_a] & isf[inst.conflict_b]
        if np.any(clash):
            ex = list(zip(inst.conflict_a[clash][:3].tolist(), inst.conflict_b[clash][:3].tolist(), strict=True))
            problems.append(
                f"{int(clash.sum())} pair(s) of forced stores are closer than {keys.spacing} allows, "
                f"e.g. sites {ex}"
            )

    isforced = np.zeros(m, dtype=bool)
    isforced[forced] = True
    for g in inst.groups:
        members = np.unique(np.asarray(g.sites, dtype=np.int64))
        lab = _label(g)
        if g.max_open is not None and g.min_open > g.max_open:
            problems.append(f"{lab}: minimum {g.min_open} exceeds maximum {g.max_open} for {g.name}")
        if g.min_open > p:
            problems.append(f"{lab}: minimum {g.min_open} for {g.name} exceeds {keys.stores} = {p}")
        eligible = members[allowed[members]]
        n_elig = np.unique(loc[eligible]).size
        if g.min_open > n_elig:
            problems.append(
                f"{lab}: minimum {g.min_open} for {g.name} but only {n_elig} candidate location(s) "
                f"there may open"
            )
        nf = int(isforced[members].sum())
        if g.max_open is not None and nf > g.max_open:
            problems.append(
                f"{lab}: {nf} forced stores in {g.name} exceed its maximum {g.max_open} ({keys.forced})"
            )

    # Disjoint groups of one family (all provinces, all tiers...) add up.
    fams: dict[str, list[GroupLimit]] = {}
    for g in inst.groups:
        fams.setdefault(_family(g), []).append(g)
    for fam, gs in fams.items():
        sizes = [np.unique(np.asarray(g.sites)).size for g in gs]
        union = np.unique(np.concatenate([np.asarray(g.sites, dtype=np.int64) for g in gs]))
        if union.size != sum(sizes):
            continue  # overlapping groups: the sum argument does not apply
        tot_min = sum(g.min_open for g in gs)
        if tot_min > p:
            labels = ", ".join(_label(g) for g in gs if g.min_open > 0)
            problems.append(
                f"the minimums of {fam} add up to {tot_min}, more than {keys.stores} = {p} ({labels})"
            )
        covers_all = not np.any(allowed & ~np.isin(np.arange(m), union))
        if covers_all and all(g.max_open is not None for g in gs):
            tot_max = sum(int(g.max_open) for g in gs if g.max_open is not None)
            if tot_max < p:
                problems.append(
                    f"the maximums of {fam} add up to {tot_max}, fewer than {keys.stores} = {p}"
                )

    for key, cost, budget in (
        (keys.capex_budget, inst.capex_cny, inst.capex_budget_cny),
        (keys.opex_budget, inst.opex_cny, inst.opex_budget_cny),
    ):
        if cost is None or budget is None:
            continue
        c = np.asarray(cost, dtype=float)
        forced_cost = float(c[forced].sum())
        if forced_cost > budget:
            problems.append(
                f"{key} = {budget:,.0f} CNY is below the {forced_cost:,.0f} CNY of the forced stores"
            )
            continue
        # cheapest way to reach the store count: forced + cheapest existing kept + cheapest others
        rest = np.ones(m, dtype=bool)
        rest[forced] = False
        rest &= allowed
        need = p - forced.size
        ex_rest = existing[rest[existing]]
        k_ex = min(min_existing_open(inst), ex_rest.size)
        ex_cost = np.sort(c[ex_rest])[:k_ex]
        rest[ex_rest[np.argsort(c[ex_rest])[:k_ex]]] = False
        others = np.sort(c[rest])[: max(0, need - k_ex)]
        least = forced_cost + float(ex_cost.sum()) + float(others.sum())
        if need > 0 and least > budget * (1 + 1e-9):
            problems.append(
                f"{key} = {budget:,.0f} CNY is below the {least:,.0f} CNY that even the cheapest "
                f"{p} stores cost ({keys.stores})"
            )
    return problems
