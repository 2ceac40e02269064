"""The plan must not depend on the machine's load: the same instance and settings
give the same open sites and the same bound whether the machine is idle or busy.

The distance instance is a mid-size clustered one that takes the regional path
(many regions, regional Lagrangian, regional MIPs) and the windows of ``lns``.
Market share is checked on a logit maximum-capture instance (its tree search
stops on its work budget) and on a clustered one that takes the regional path
and its priced branching; profit on a clustered instance with a count range
(global, then regional profit Lagrangian, then polishing). The work budget is
given explicitly and the wall-clock limit is generous, so only a machine many
times slower than the reference would reach the safety net (the test then says
so instead of comparing).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from micro import quiet_then_busy

from planner.optimise.incumbent import Clock, Work
from planner.optimise.profit import solve_profit
from planner.optimise.solve import solve
from planner.optimise.types import Solution
from planner.synthetic import clustered_instance, logit_capture_instance, with_profit

INSTANCE = {"n_cells": 15_000, "n_sites": 1800, "stores": 180, "n_fixed": 20, "seed": 5, "radius_km": 3.0}


def _solve(kind: str) -> Solution:
    inst = clustered_instance(**INSTANCE)  # type: ignore[arg-type]
    return solve(inst, kind, time_limit_s=600.0, work_limit_s=1.5, gap_target=1e-4, threads=2, seed=3)


def _quiet_and_busy(run: Callable[[], Solution]) -> tuple[Solution, Solution]:
    """``run()`` on the machine as it is, then while another process burns a core."""
    quiet, busy = quiet_then_busy(run)
    for sol in (quiet, busy):
        if sol.status == "time_limit":  # pragma: no cover - a machine far slower than the reference
            pytest.skip(f"the wall-clock safety net fired: {sol.methods.get('warning')}")
    return quiet, busy


def _assert_same(quiet: Solution, busy: Solution) -> None:
    assert np.array_equal(quiet.open_sites, busy.open_sites)
    assert quiet.bound == busy.bound
    assert quiet.objective == busy.objective
    assert quiet.methods == busy.methods
    assert {k: v for k, v in quiet.stats.items() if not k.endswith("_s")} == {
        k: v for k, v in busy.stats.items() if not k.endswith("_s")
    }
    assert quiet.stats["work_s"] == busy.stats["work_s"]


def test_same_plan_and_bound_when_another_process_burns_a_core() -> None:
    quiet, busy = _quiet_and_busy(lambda: _solve("distance"))
    # the instance takes the paths whose budgets used to be wall-clock ones
    assert quiet.stats["components"] > 1 and "regional_lagrangian_s" in quiet.stats
    assert quiet.stats.get("lns_windows", 0) > 0
    _assert_same(quiet, busy)


def test_market_share_tree_search_is_the_same_under_load() -> None:
    inst = logit_capture_instance(100, 8, seed=1, beta_util=0.05, alpha=0.1)

    def run() -> Solution:
        return solve(inst, "market_share", time_limit_s=600.0, work_limit_s=0.8, gap_target=0.0,
                     max_enumerated=0)

    quiet, busy = _quiet_and_busy(run)
    # the tree search ran and stopped on its work budget (it needs about twice as much to finish)
    assert quiet.stats["tree_nodes"] > 100 and quiet.gap is not None and quiet.gap > 0
    _assert_same(quiet, busy)


MS_REGIONAL = {"n_cells": 6000, "n_sites": 900, "stores": 90, "n_fixed": 9, "seed": 2, "radius_km": 5.0,
               "max_km": 8.0}


def test_market_share_regional_path_is_the_same_under_load() -> None:
    inst = clustered_instance(**MS_REGIONAL)  # type: ignore[arg-type]

    def run() -> Solution:
        return solve(inst, "market_share", time_limit_s=600.0, work_limit_s=0.6, gap_target=1e-6)

    quiet, busy = _quiet_and_busy(run)
    # the regional cell-hull Lagrangian, then the priced regions' branching
    assert quiet.stats["regions_searched"] > 0
    _assert_same(quiet, busy)


PROFIT = {"n_cells": 5000, "n_sites": 800, "stores": 80, "n_fixed": 8, "seed": 1, "radius_km": 6.0, "max_km": 10.0}


def _profit_instance():  # type: ignore[no-untyped-def]
    inst = clustered_instance(**PROFIT)  # type: ignore[arg-type]
    return with_profit(inst, seed=1, cost_ratio=0.2, stores_min=8, stores_max=200)


def test_profit_is_the_same_under_load() -> None:
    inst = _profit_instance()

    def run() -> Solution:
        return solve(inst, "profit", time_limit_s=600.0, work_limit_s=1.5, gap_target=1e-6)

    quiet, busy = _quiet_and_busy(run)
    assert quiet.stats["components"] > 1 and quiet.methods["bound"] == "regional-cell-hull-lagrangian"
    assert quiet.stats["work_limit_s"] == 1.5 and quiet.stats["work_s"] > 1.0
    _assert_same(quiet, busy)


def test_profit_safety_net_sets_time_limit_status_and_a_warning() -> None:
    inst = _profit_instance()
    sol = solve_profit(inst, time_limit_s=1e-3, work_limit_s=1e6, gap_target=0.0, max_enumerated=0)
    assert sol.status == "time_limit"
    assert "cut short" in sol.methods["warning"] and "time_limit_s" in sol.methods["warning"]
    lo, hi = inst.store_range()
    assert lo <= sol.open_sites.size <= hi and sol.bound is not None  # a checked plan and a bound


def test_profit_work_budget_defaults_to_a_share_of_the_time_limit() -> None:
    from planner.optimise.incumbent import WORK_PER_LIMIT_S

    sol = solve_profit(_profit_instance(), time_limit_s=4.0, max_enumerated=0)
    assert sol.stats["work_limit_s"] == pytest.approx(WORK_PER_LIMIT_S * 4.0)
    assert 0 < sol.stats["work_s"] <= sol.stats["work_limit_s"] + 1.0  # phases overrun a little at most


def test_a_larger_work_budget_buys_more_search() -> None:
    inst = clustered_instance(**INSTANCE)  # type: ignore[arg-type]
    small = solve(inst, "distance", time_limit_s=600.0, work_limit_s=0.5, gap_target=1e-4)
    large = solve(inst, "distance", time_limit_s=600.0, work_limit_s=1.5, gap_target=1e-4)
    assert small.stats["work_s"] < large.stats["work_s"]
    assert large.objective <= small.objective + 1e-9 * abs(small.objective)  # distance: minimised


def test_work_budget_defaults_to_a_share_of_the_time_limit() -> None:
    inst = clustered_instance(n_cells=400, n_sites=60, stores=6, n_fixed=1, seed=1)
    sol = solve(inst, "coverage", time_limit_s=8.0, max_enumerated=0)
    from planner.optimise.incumbent import WORK_PER_LIMIT_S

    assert sol.stats["work_limit_s"] == pytest.approx(WORK_PER_LIMIT_S * 8.0)
    assert sol.stats["work_s"] <= sol.stats["work_limit_s"] + 5.0  # phases overrun a little at most


def test_safety_net_sets_time_limit_status_and_a_warning() -> None:
    inst = clustered_instance(**INSTANCE)  # type: ignore[arg-type]
    # a work budget far beyond what the clock allows: the clock cuts the search short
    sol = solve(inst, "distance", time_limit_s=0.3, work_limit_s=1e6, gap_target=0.0)
    assert sol.status == "time_limit"
    assert "cut short" in sol.methods["warning"] and "time_limit_s" in sol.methods["warning"]
    assert sol.open_sites.size == inst.stores  # a plan, never nothing


def test_clock_records_what_it_cut() -> None:
    clock = Clock(0.0)
    assert clock.expired("windows") and clock.expired("windows")
    assert clock.cut == ["windows"]
    assert not Clock(100.0).expired("anything")


def test_work_iterations() -> None:
    assert Work.iterations(1.0, 0.1, cap=50) == 10
    assert Work.iterations(100.0, 0.1, cap=50) == 50
    assert Work.iterations(0.0, 0.1, cap=50) == 1
    w = Work(2.0)
    w.charge(0.5)
    assert w.left == 1.5 and w.spent == 0.5


def test_a_run_cut_before_its_bound_still_reports_a_gap() -> None:
    inst = clustered_instance(**INSTANCE)  # type: ignore[arg-type]
    sol = solve(inst, "coverage", time_limit_s=1e-6, max_enumerated=0)
    assert sol.status == "time_limit"
    assert sol.bound is not None and sol.gap is not None


def test_anticipating_the_rivals_is_the_same_under_load() -> None:
    from planner.optimise.compete import anticipate
    from planner.synthetic import synthetic_compete

    inst, fol = synthetic_compete(cells=2000, candidates=200, stores=20, existing=4, follower_stores=6, seed=1)
    start = solve(inst, "market_share", time_limit_s=600.0, work_limit_s=0.5).open_sites

    def run() -> tuple[np.ndarray, float, float | None, int, str, np.ndarray]:
        # each solve: 0.5 nominal seconds of work within a 60 s wall-clock net
        mm = anticipate(inst, fol, start=start, time_limit_s=600.0, solve_time_limit_s=60.0,
                        solve_work_limit_s=0.5, max_rounds=3)
        if mm.status == "time_limit":  # pragma: no cover - a machine far slower than the reference
            pytest.skip("the wall-clock safety net fired")
        return mm.open_sites, mm.objective, mm.bound, mm.rounds, mm.status, mm.response

    quiet, busy = quiet_then_busy(run)
    assert quiet[3] >= 1
    assert np.array_equal(quiet[0], busy[0]) and np.array_equal(quiet[5], busy[5])
    assert quiet[1:5] == busy[1:5]
