"""The Lagrangians' plan subproblem keeps the disjoint groups' limits (``bounds.select_range``),
and ``bounds.plan_prices`` separates it site by site with a valid constant: both against brute force."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from planner.optimise.bounds import plan_prices, select_range, select_top
from planner.optimise.model import compile_model
from planner.optimise.types import GroupLimit, Instance


def _instance(rng: np.random.Generator, n_sites: int, stores: int, **kw: object) -> Instance:
    n_cells = 12
    pc, ps = np.meshgrid(np.arange(n_cells), np.arange(n_sites), indexing="ij")
    return Instance(
        weight=rng.uniform(1, 10, n_cells), pair_cell=pc.ravel(), pair_site=ps.ravel(),
        pair_km=rng.uniform(0, 5, pc.size), n_sites=n_sites, stores=stores,
        radius_km=np.full(n_sites, 3.0), unreachable_km=10.0, **kw,  # type: ignore[arg-type]
    )


def _feasible_sets(model, lo: int, hi: int):  # type: ignore[no-untyped-def]
    """Every set the subproblem ranges over: forced in, one per location, the disjoint groups' limits, a count in [lo, hi]."""
    free = [j for j in range(model.n_sites) if model.allowed[j] and not model.forced[j]]
    forced = np.flatnonzero(model.forced)
    for k in range(0, len(free) + 1):
        for combo in itertools.combinations(free, k):
            sel = np.zeros(model.n_sites, dtype=bool)
            sel[forced] = True
            sel[list(combo)] = True
            n = int(sel.sum())
            if not lo <= n <= hi:
                continue
            if np.bincount(model.loc[sel], minlength=model.n_loc).max(initial=0) > 1:
                continue
            g = model.part[sel]
            cnt = np.bincount(g[g >= 0], minlength=model.part_min.size)
            if np.any(cnt < model.part_min) or np.any(cnt > model.part_max):
                continue
            yield sel


def _groups(rng: np.random.Generator, n_sites: int) -> list[GroupLimit]:
    cut = np.sort(rng.choice(np.arange(1, n_sites), size=2, replace=False))
    parts = np.split(np.arange(n_sites), cut)
    out = []
    for k, s in enumerate(parts[:2]):
        lo = int(rng.integers(0, min(3, s.size) + 1))
        hi = int(rng.integers(max(lo, 1), s.size + 1))
        out.append(GroupLimit(f"g{k}", s, lo, hi, key=f"constraints.g{k}"))
    # an overlapping group: not kept by the subproblem (its limit is dropped, which is valid)
    out.append(GroupLimit("overlap", np.arange(0, n_sites, 2), 1, None, key="constraints.overlap"))
    return out


@pytest.mark.parametrize("seed", range(40))
def test_select_range_is_the_best_set_and_the_prices_bound_it(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 8
    for _draw in range(50):  # draw until the limits can all hold
        lo = int(rng.integers(1, 5))
        hi = lo + int(rng.integers(0, 3))
        fixed = rng.choice(n, size=int(rng.integers(0, 2)), replace=False)
        inst = _instance(rng, n, hi, groups=_groups(rng, n), fixed=fixed,
                         site_location=np.array([0, 1, 1, 2, 3, 4, 4, 5]) if seed % 3 == 0 else None)
        m = compile_model(inst, "coverage")
        sets = list(_feasible_sets(m, lo, hi))
        if sets:
            break
    assert sets
    assert m.part is not None and m.part_min is not None and m.part_max is not None
    assert m.part_min.size <= 2  # the overlapping group is left out
    score = rng.normal(0, 1, n)
    best = max(float(score[s].sum()) for s in sets)
    sel = select_range(m, score, lo, hi)
    assert any(np.array_equal(sel, s) for s in sets), "the subproblem's set breaks a limit it keeps"
    assert float(score[sel].sum()) == pytest.approx(best)
    lam, price, const = plan_prices(m, score, lo, hi)
    if lo < hi:
        assert (lam >= 0 or int(sel.sum()) <= lo) and (lam <= 0 or int(sel.sum()) >= hi) or lam == 0
    # the separated sum: forced sites at (score - price), each free location's best positive (score - price)
    gain = score - price
    sep = const + float(gain[m.forced].sum())
    taken = np.zeros(m.n_loc, dtype=bool)
    taken[m.loc[m.forced]] = True
    for loc in range(m.n_loc):
        js = [j for j in range(n) if m.loc[j] == loc and m.allowed[j] and not m.forced[j] and not taken[loc]]
        if js:
            sep += max(0.0, max(float(gain[j]) for j in js))
    assert sep >= best - 1e-9  # valid for any prices of the right signs
    assert sep == pytest.approx(best, abs=1e-9), "the margins' prices make the separation tight"


def test_select_top_meets_a_province_minimum_the_scores_alone_would_skip() -> None:
    rng = np.random.default_rng(0)
    inst = _instance(rng, 6, 3, groups=[GroupLimit("west", np.array([4, 5]), 1, None, key="constraints.province")])
    m = compile_model(inst, "coverage")
    score = np.array([5.0, 4.0, 3.0, 2.0, 1.0, 0.5])
    sel = select_top(m, score)
    assert np.flatnonzero(sel).tolist() == [0, 1, 4]
    # and a maximum
    inst = _instance(rng, 6, 3, groups=[GroupLimit("east", np.array([0, 1, 2]), 0, 1, key="constraints.province")])
    sel = select_top(compile_model(inst, "coverage"), score)
    assert np.flatnonzero(sel).tolist() == [0, 3, 4]
