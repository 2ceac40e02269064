"""Neighbourhood search: window MIPs keep every constraint net of the fixed outside plan,
find the best completion of a window, and never make a plan worse."""

from __future__ import annotations

import itertools
from dataclasses import replace

import numpy as np
import pytest

from planner.optimise.check import check_solution
from planner.optimise.greedy import greedy
from planner.optimise.incumbent import Clock, Incumbent
from planner.optimise.lns import _outside_best, improve_windows, window_sites
from planner.optimise.mip import solve_facility_mip
from planner.optimise.model import PlanState, compile_model
from planner.optimise.solve import solve
from planner.optimise.types import GroupLimit, Solution
from planner.synthetic import clustered_instance


def _constrained(seed: int, kind: str = "coverage"):
    inst = clustered_instance(n_cells=400, n_sites=40, stores=8, n_fixed=2, seed=seed, radius_km=6.0)
    rng = np.random.default_rng(seed)
    inst.conflict_a = np.array([0, 3, 5, 7, 11])
    inst.conflict_b = np.array([1, 4, 9, 8, 12])
    inst.capex_cny = rng.uniform(1, 3, inst.n_sites)
    inst.capex_budget_cny = float(np.sort(inst.capex_cny)[: inst.stores + 4].sum())
    inst.groups = [
        GroupLimit("a", np.arange(0, 20), min_open=2, max_open=6, key="constraints.test.a"),
        GroupLimit("b", np.arange(15, 40), min_open=3, max_open=None, key="constraints.test.b"),
    ]
    inst.fixed = np.array([], dtype=np.int64)
    return inst


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("kind", ["coverage", "distance"])
def test_window_mip_is_the_best_feasible_completion(seed, kind):
    """Brute force over every completion of a window: the MIP finds the best feasible one."""
    inst = _constrained(seed, kind)
    m = compile_model(inst, kind)
    start = greedy(m)
    assert PlanState(m, start).feasible()
    win = np.zeros(m.n_sites, dtype=bool)
    win[window_sites(m, int(np.flatnonzero(start & ~m.forced)[0]), 9, m.allowed | m.forced)] = True
    outside = start & ~win
    k = int((start & win).sum())
    cells = np.zeros(m.n_cells, dtype=bool)
    cells[m.pc[win[m.ps]]] = True
    res = solve_facility_mip(
        m, win, cells=cells, count=k, side_constraints=True, outside_open=outside,
        floor=_outside_best(m, cells, outside), hint=start, time_limit_s=20, solver_name="SCIP", rel_gap=0.0,
    )
    assert res.status == "optimal"
    got = outside | (res.open_mask & win)
    assert PlanState(m, got).feasible()
    best = -np.inf
    for combo in itertools.combinations(np.flatnonzero(win), k):
        cand = outside.copy()
        cand[list(combo)] = True
        if PlanState(m, cand).feasible():
            best = max(best, m.value(cand))
    assert m.value(got) == pytest.approx(best, rel=1e-9)
    # the MIP's objective is the plan's value on the window's cells (outside cells are constant)
    full = m.cell_values(got)
    assert res.objective == pytest.approx(float(full[cells].sum()), rel=1e-9)


@pytest.mark.parametrize("seed", [0, 3])
def test_improve_windows_keeps_plans_feasible_and_never_worse(seed):
    inst = _constrained(seed)
    m = compile_model(inst, "coverage")
    start = greedy(m)
    best = Incumbent(m, None, Clock(30))
    assert best.offer(start, "greedy")
    v0 = best.value
    import time

    improve_windows(m, best, deadline=time.perf_counter() + 3, rng=np.random.default_rng(seed), size=10)
    assert best.value >= v0
    assert PlanState(m, best.mask).feasible()
    sol = Solution(
        open_sites=np.flatnonzero(best.mask), objective=m.user_objective(best.value),
        objective_kind="coverage", bound=None, gap=None, seconds=0.0, methods={}, status="feasible",
    )
    assert check_solution(inst, sol).ok


@pytest.mark.parametrize("kind", ["coverage", "distance"])
def test_the_windows_leave_a_plan_no_single_swap_improves(kind):
    """A window's optimum is optimal inside the window only; the closing swap search takes the
    swaps across window borders, so no improving swap is left (with the swaps off, one is)."""
    from planner.optimise.local_search import local_search

    inst = clustered_instance(n_cells=3000, n_sites=300, stores=40, n_fixed=4, seed=2, radius_km=5.0)
    m = compile_model(inst, kind)
    start = m.forced.copy()  # a poor start: the fixed stores and the first free sites
    start[np.flatnonzero(~m.forced & m.allowed)[: m.p - int(m.forced.sum())]] = True
    left = {}
    for every in (0, 3):
        best = Incumbent(m, None, Clock(600))
        assert best.offer(start, "start")
        v0 = best.value
        improve_windows(m, best, work_s=0.05, rng=np.random.default_rng(1), size=6, extra=0, swap_every=every)
        assert best.value >= v0
        _, left[every] = local_search(m, best.mask, max_rounds=1000)
    assert left[3] == 0
    assert left[0] > 0  # the instance is one where the swaps matter


def test_solve_with_windows_stays_within_bound_on_regional_instance():
    """A many-region instance large enough for the decomposition and the windows."""
    # a linear decay: step coverage would merge its cells into one small MIP (``model.merge_equal_cells``)
    inst = replace(clustered_instance(n_cells=30_000, n_sites=3000, stores=300, n_fixed=40, seed=5, radius_km=3.0),
                   decay="linear")
    # a work budget with a generous wall clock: the same search on a busy machine
    sol = solve(inst, "coverage", time_limit_s=300, work_limit_s=6, gap_target=1e-4)
    assert check_solution(inst, sol).ok
    assert sol.bound is not None and sol.objective <= sol.bound + 1e-6 * sol.bound
    assert sol.stats.get("components", 0) > 1
    assert sol.stats.get("lns_windows", 0) > 0  # the windows ran (the gap target is not met before)
