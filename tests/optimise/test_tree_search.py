"""The Lagrangian tree search proves the brute-force optimum and never reports a bound below it.

Bounds are in the model's internal, maximised units. Instances are plain (count,
fixed and forbidden sites only), as ``tree_search.searchable`` requires.
"""

from __future__ import annotations

import itertools
import time

import numpy as np
import pytest
from micro import brute_optimum, random_instance

from planner.optimise import decompose
from planner.optimise.bounds import lagrangian_facility
from planner.optimise.greedy import greedy
from planner.optimise.local_search import best_two
from planner.optimise.market_share_bounds import cell_tables, market_share_lagrangian
from planner.optimise.model import compile_model
from planner.optimise.solve import solve
from planner.optimise.tree_search import (
    lagrangian_tree_search,
    market_share_priced_regions,
    market_share_searchable,
    market_share_tree_search,
    restrict,
    searchable,
)
from planner.optimise.types import Instance


def _setup(seed: int, kind: str, *, truncate: int | None = None):  # type: ignore[no-untyped-def]
    kw: dict[str, object] = {"decay": ["step", "linear", "exponential"][seed % 3]}
    if seed % 2:
        kw["fixed"] = np.array([seed % 9])
    inst = random_instance(seed, n_cells=14, n_sites=9, stores=4, **kw)
    m = compile_model(inst, kind)
    tm = m if truncate is None else m.truncate(truncate)
    plan = greedy(m)
    b1, _, _ = best_two(m, plan)
    lag = lagrangian_facility(tm, m.value(plan), b1, max_iter=50, time_limit_s=30)
    return inst, m, tm, plan, lag


@pytest.mark.parametrize("kind", ["coverage", "distance"])
@pytest.mark.parametrize("seed", range(10))
def test_complete_search_proves_the_brute_force_optimum(kind: str, seed: int) -> None:
    inst, m, tm, plan, lag = _setup(seed, kind)
    assert searchable(tm)
    opt = float(m.internal(brute_optimum(inst, kind)[0]))  # type: ignore[arg-type]
    found: list[np.ndarray] = []
    res = lagrangian_tree_search(
        tm, m.value(plan), lag.u, deadline=time.perf_counter() + 60, slack=0.0, on_plan=found.append
    )
    assert res.complete
    assert res.value == pytest.approx(opt, rel=1e-9, abs=1e-9)
    assert res.bound >= opt - 1e-9 * max(1.0, abs(opt))
    assert res.bound == pytest.approx(opt, rel=1e-9, abs=1e-9)
    for sel in found:
        assert int(sel.sum()) == m.p and np.all(sel[m.forced])


@pytest.mark.parametrize("seed", range(6))
def test_truncated_and_slack_search_bounds_stay_valid(seed: int) -> None:
    # truncated model (u >= floor) and a generous slack: pruned nodes keep their bound
    inst, m, tm, plan, lag = _setup(seed, "distance", truncate=3)
    opt = float(m.internal(brute_optimum(inst, "distance")[0]))  # type: ignore[arg-type]
    for slack in (0.0, 0.05 * abs(opt)):
        res = lagrangian_tree_search(tm, m.value(plan), lag.u, deadline=time.perf_counter() + 60, slack=slack)
        assert res.bound >= opt - 1e-9 * max(1.0, abs(opt))


@pytest.mark.parametrize("seed", range(4))
def test_stopped_search_still_reports_a_valid_bound(seed: int) -> None:
    inst, m, tm, plan, lag = _setup(seed, "coverage")
    opt = float(m.internal(brute_optimum(inst, "coverage")[0]))  # type: ignore[arg-type]
    res = lagrangian_tree_search(tm, m.value(plan), lag.u, deadline=time.perf_counter() - 1.0)
    assert not res.complete and res.bound >= opt - 1e-9


def test_restrict_drops_closed_sites_pairs_and_forces() -> None:
    inst = random_instance(3, n_cells=10, n_sites=6, stores=2)
    m = compile_model(inst, "coverage")
    closed = np.zeros(m.n_sites, dtype=bool)
    closed[[1, 4]] = True
    forced = np.zeros(m.n_sites, dtype=bool)
    forced[2] = True
    r = restrict(m, closed, forced)
    assert not np.isin(r.ps, [1, 4]).any() and r.forced[2] and not r.allowed[[1, 4]].any()
    assert r.cell_ptr[-1] == r.pc.size and np.all(np.diff(r.cell_ptr) >= 0)


def test_solve_proves_small_p_median_with_an_lp_gap() -> None:
    # a p-median (every vertex a client and a site) with few medians: solve's tree phase
    rng = np.random.default_rng(5)
    n = 40
    xy = rng.integers(0, 100, size=(n, 2))
    d = np.abs(xy[:, None, :] - xy[None, :, :]).sum(axis=2).astype(float)
    inst = Instance(
        weight=np.ones(n), pair_cell=np.tile(np.arange(n), n).astype(np.int32),
        pair_site=np.repeat(np.arange(n), n).astype(np.int32), pair_km=d.T.ravel(), n_sites=n,
        stores=3, radius_km=np.full(n, 1e4), unreachable_km=1e4,
    )
    sol = solve(inst, "distance", time_limit_s=60, gap_target=0.0, max_enumerated=0)
    best = min(float(d[:, list(c)].min(axis=1).sum()) for c in itertools.combinations(range(n), 3))
    assert sol.objective == pytest.approx(best)
    assert sol.bound is not None and sol.bound <= best + 1e-9
    assert sol.status == "optimal"


def _ms_setup(seed: int):  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(seed)
    kw: dict[str, object] = {}
    if seed % 2:
        kw["fixed"] = np.array([seed % 8])
    if seed % 3 == 0:  # some cells without competitor: a step share
        pull = rng.uniform(0, 1, 12)
        pull[rng.random(12) < 0.4] = 0.0
        kw["competitor_pull"] = pull
    inst = random_instance(seed, n_cells=12, n_sites=8, stores=3, **kw)
    m = compile_model(inst, "market_share")
    plan = greedy(m)
    tab = cell_tables(m, plan, 2)  # narrow tables: a loose root, so the search has work
    _, mu = market_share_lagrangian(m, m.value(plan), plan, max_iter=20, tables=tab)
    return inst, m, plan, mu, tab


@pytest.mark.parametrize("seed", range(12))
def test_market_share_search_proves_the_brute_force_optimum(seed: int) -> None:
    inst, m, plan, mu, tab = _ms_setup(seed)
    assert market_share_searchable(m)
    opt = float(m.internal(brute_optimum(inst, "market_share")[0]))  # type: ignore[arg-type]
    found: list[np.ndarray] = []
    res = market_share_tree_search(
        m, m.value(plan), mu, tab, deadline=time.perf_counter() + 60, rel_slack=0.0, on_plan=found.append
    )
    assert res.complete
    assert res.value == pytest.approx(opt, rel=1e-9)
    assert res.bound >= opt * (1 - 1e-12) and res.bound == pytest.approx(opt, rel=1e-9)
    for sel in found:
        assert int(sel.sum()) == m.p and np.all(sel[m.forced])
        assert m.value(sel) <= opt * (1 + 1e-12)


@pytest.mark.parametrize("seed", range(8))
def test_market_share_search_bound_valid_with_slack_any_multipliers_or_stopped(seed: int) -> None:
    inst, m, plan, mu, tab = _ms_setup(seed)
    opt = float(m.internal(brute_optimum(inst, "market_share")[0]))  # type: ignore[arg-type]
    rng = np.random.default_rng(seed)
    for mu_try, slack, wait in ((mu, 0.05, 60.0), (rng.uniform(0, 5, mu.size), 0.0, 60.0), (mu, 0.0, -1.0)):
        res = market_share_tree_search(
            m, m.value(plan), mu_try, tab, deadline=time.perf_counter() + wait, rel_slack=slack
        )
        assert res.bound >= opt * (1 - 1e-12)


@pytest.mark.parametrize("seed", range(8))
def test_priced_region_bounds_at_least_the_brute_force_priced_optimum(seed: int) -> None:
    # each region's bound >= max over its plans (any count, forced sites in) of f_c(S) - lam |S|
    inst, m, plan, mu, tab = _ms_setup(seed)
    _, mu = market_share_lagrangian(m, m.value(plan), plan, max_iter=5, tables=tab)
    comps = decompose.components(m)
    rng = np.random.default_rng(seed)
    # a price per site on top of lam (profit's fixed costs) or none
    for lam, price in ((0.0, None), (float(rng.uniform(0.1, 3.0)), None), (0.2, rng.uniform(0.0, 2.0, m.n_sites))):
        for slack, nodes, work_s in ((0.0, 10_000, np.inf), (0.05, 10_000, np.inf), (0.0, 1, np.inf),
                                     (0.0, 10_000, 1e-9)):
            got = market_share_priced_regions(
                m, comps.cell_comp, comps.site_comp, np.arange(comps.n_components), lam, mu, tab,
                deadline=time.perf_counter() + 60, rel_slack=slack, max_nodes=nodes, site_price=price,
                work_s=work_s,
            )
            each = np.full(m.n_sites, lam) if price is None else lam + price
            free = np.flatnonzero(m.allowed & ~m.forced)
            best = np.full(comps.n_components, -np.inf)
            for r in range(free.size + 1):
                for extra in itertools.combinations(free, r):
                    sel = m.forced.copy()
                    sel[list(extra)] = True
                    per_cell = m.cell_values(sel)
                    f = np.bincount(comps.cell_comp, weights=per_cell, minlength=comps.n_components)
                    f -= np.bincount(comps.site_comp[sel], weights=each[sel], minlength=comps.n_components)
                    best = np.maximum(best, f)
            assert np.all(got >= best - 1e-9 * np.maximum(1.0, np.abs(best)))
            if work_s < 1e-6:  # out of work after the first region's first node: the others are not searched
                assert np.isinf(got[1:]).all() or comps.n_components == 1
            if slack == 0.0 and nodes > 1 and work_s > 1:
                assert np.allclose(got, best, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("seed", range(4))
def test_searches_stop_on_their_work_budget_with_a_valid_bound(seed: int) -> None:
    inst, m, tm, plan, lag = _setup(seed, "coverage")
    opt = float(m.internal(brute_optimum(inst, "coverage")[0]))  # type: ignore[arg-type]
    res = lagrangian_tree_search(tm, m.value(plan), lag.u, work_s=1e-9)
    assert res.nodes == 1 and res.bound >= opt - 1e-9 and not res.clock_cut and res.work_s > 0
    full = lagrangian_tree_search(tm, m.value(plan), lag.u)
    assert full.complete and full.work_s >= res.work_s
    inst, m, plan, mu, tab = _ms_setup(seed)
    opt = float(m.internal(brute_optimum(inst, "market_share")[0]))  # type: ignore[arg-type]
    res = market_share_tree_search(m, m.value(plan), mu, tab, work_s=1e-9, rel_slack=0.0)
    assert res.nodes <= 1 and res.bound >= opt * (1 - 1e-12) and not res.clock_cut
