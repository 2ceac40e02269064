"""Micro-instances with optima known by hand: every objective, every constraint."""

from __future__ import annotations

import numpy as np
import pytest
from micro import cover4, group, huff1, line4

from planner.errors import InfeasibleError
from planner.optimise.solve import solve
from planner.optimise.types import ConstraintKeys, Instance, Solution


def _solve(inst, kind="coverage"):
    """Solve by the heuristics and bounds, and (where it applies) by enumeration: same optimum."""
    sol = solve(inst, kind, time_limit_s=10, gap_target=0.0, max_enumerated=0)
    enum = solve(inst, kind, time_limit_s=10, gap_target=0.0)
    assert enum.objective == pytest.approx(sol.objective)
    return sol


def _assert_opt(sol, value, sites=None):
    assert sol.objective == pytest.approx(value)
    if sites is not None:
        assert sol.open_sites.tolist() == sites
    assert sol.bound is not None
    if sol.objective_kind == "distance":
        assert sol.bound <= value + 1e-9
    else:
        assert sol.bound >= value - 1e-9


@pytest.mark.parametrize("p, value, sites", [(1, 50.0, [1]), (2, 90.0, [1, 2]), (3, 100.0, [0, 1, 2])])
def test_coverage_optimum(p, value, sites):
    _assert_opt(_solve(cover4(p)), value, sites)


def test_coverage_linear_decay():
    # linear decay: cell 0 at 1 km of a 3 km radius counts 2/3, ...
    inst = cover4(1, decay="linear")
    sol = _solve(inst)
    # site 1: 20*(1-1/3) + 30*(1-2/3) = 23.33; site 2: 40*(1-0.5/3) = 33.33; site 0: 10*2/3+20/3 = 13.33
    _assert_opt(sol, 40 * (1 - 0.5 / 3), [2])


def test_distance_optimum():
    _assert_opt(_solve(line4(2), "distance"), 2.0, [1, 3])


def test_market_share_optimum():
    _assert_opt(_solve(huff1(1), "market_share"), 50.0)
    _assert_opt(_solve(huff1(2), "market_share"), 200.0 / 3.0, [0, 1])


def test_fixed():
    _assert_opt(_solve(cover4(1, fixed=np.array([2]))), 40.0, [2])
    keys = ConstraintKeys(stores="constraints.total_stores")  # as planner.instance sets them
    with pytest.raises(InfeasibleError, match="total_stores"):
        _solve(cover4(1, fixed=np.array([0, 2]), keys=keys))
    with pytest.raises(InfeasibleError, match="exceed stores = 1"):
        _solve(cover4(1, fixed=np.array([0, 2])))


def test_forbidden():
    _assert_opt(_solve(cover4(1, forbidden=np.array([1]))), 40.0, [2])
    with pytest.raises(InfeasibleError, match="forbidden"):
        _solve(cover4(2, forbidden=np.array([0, 1])))


def test_existing_with_closures():
    # one of the two existing stores (0, 2) may close: opening site 1 alone would close both
    _assert_opt(_solve(cover4(1, existing=np.array([0, 2]), max_closures=1)), 40.0, [2])
    with pytest.raises(InfeasibleError, match="max_closures"):
        _solve(cover4(2, existing=np.array([0, 1, 2]), max_closures=0))


def test_one_site_per_location():
    _assert_opt(_solve(cover4(2, site_location=np.array([0, 1, 1]))), 70.0, [0, 2])
    with pytest.raises(InfeasibleError, match="locations"):
        _solve(cover4(2, site_location=np.array([5, 5, 5])))


def test_min_spacing_conflicts():
    inst = cover4(2, conflict_a=np.array([1]), conflict_b=np.array([2]))
    _assert_opt(_solve(inst), 70.0, [0, 2])
    tri = cover4(2, conflict_a=np.array([0, 0, 1]), conflict_b=np.array([1, 2, 2]))
    with pytest.raises(InfeasibleError, match="spacing|constraint"):
        _solve(tri)


@pytest.mark.parametrize("which", ["capex", "opex"])
def test_budgets(which):
    cost = np.array([1.0, 5.0, 1.0])
    kw = {f"{which}_cny": cost, f"{which}_budget_cny": 2.0}
    _assert_opt(_solve(cover4(2, **kw)), 70.0, [0, 2])
    kw = {f"{which}_cny": cost, f"{which}_budget_cny": 1.5}
    with pytest.raises(InfeasibleError, match=f"{which}_budget_cny"):
        _solve(cover4(2, **kw))


def test_group_min():
    _assert_opt(_solve(cover4(2, groups=[group([0], lo=1)])), 70.0, [0, 2])
    with pytest.raises(InfeasibleError, match="constraints.province.min.X"):
        _solve(cover4(2, groups=[group([0], lo=2, key="constraints.province.min.X")]))


def test_group_max():
    _assert_opt(_solve(cover4(2, groups=[group([1, 2], hi=1)])), 70.0, [0, 2])
    with pytest.raises(InfeasibleError, match="constraints.tier"):
        _solve(cover4(2, groups=[group([0, 1, 2], hi=1, key="constraints.tier.max.1")]))


def test_group_minimums_exceed_total():
    gs = [group([0], lo=1, key="constraints.province.min.A"),
          group([1], lo=1, key="constraints.province.min.B"),
          group([2], lo=1, key="constraints.province.min.C")]
    with pytest.raises(InfeasibleError) as e:
        _solve(cover4(2, groups=gs))
    assert "add up to 3" in str(e.value) and "constraints.province.min.A" in str(e.value)


def test_infeasible_found_by_solver_not_precheck():
    # spacing forbids {0,1} and {1,2}; site location forbids {0,2}: no pair of stores works,
    # which no counting argument sees
    inst = cover4(2, conflict_a=np.array([0, 1]), conflict_b=np.array([1, 2]),
                  site_location=np.array([7, 8, 7]))
    with pytest.raises(InfeasibleError):
        _solve(inst)


def test_progress_and_time_limit_return_a_plan():
    seen = []
    sol = solve(cover4(2), "coverage", time_limit_s=0.01, progress=seen.append)
    assert sol.open_sites.size == 2
    assert seen and {"incumbent", "bound", "gap"} <= set(seen[-1])


def test_solution_reports_methods_and_gap():
    sol = _solve(cover4(2))
    assert sol.methods["primal"] and sol.methods["bound"]
    assert sol.gap is not None and 0.0 <= sol.gap <= 1e-9
    assert sol.status == "optimal"


def test_group_minimum_with_spacing():
    # the group needs both 0 and 2; spacing rules out 0 with 1: optimum {0, 2} = 70
    inst = cover4(2, groups=[group([0, 2], lo=2)], conflict_a=np.array([1]), conflict_b=np.array([0]))
    sol = _solve(inst)
    assert sol.open_sites.tolist() == [0, 2]
    assert sol.objective == pytest.approx(70.0)


# ---------------------------------------------------------------- market share without rivals
def _no_rival_instance(pull: np.ndarray | None, attr: np.ndarray | None = None) -> Instance:
    rng = np.random.default_rng(7)
    n, m = 60, 12
    pc = np.repeat(np.arange(n), 3).astype(np.int32)
    ps = rng.integers(0, m, pc.size).astype(np.int32)
    return Instance(weight=rng.uniform(1, 10, n), pair_cell=pc, pair_site=ps, pair_km=rng.uniform(0, 30, pc.size),
                    n_sites=m, stores=3, radius_km=np.full(m, 5.0), competitor_pull=pull, site_attr=attr)


def _brute_market_share(inst: Instance) -> float:
    import itertools

    from planner.optimise.check import check_solution

    best = -np.inf
    for combo in itertools.combinations(range(inst.n_sites), inst.stores):
        sol = Solution(open_sites=np.array(combo), objective=0.0, objective_kind="market_share")
        best = max(best, check_solution(inst, sol).objective)
    return best


@pytest.mark.parametrize("zero_attr", [False, True])
def test_market_share_without_rivals_is_solved_as_coverage(zero_attr: bool) -> None:
    attr = None
    if zero_attr:  # a site nobody is drawn to covers nothing, however near
        attr = np.ones(12)
        attr[[0, 5]] = 0.0
    inst = _no_rival_instance(np.zeros(60), attr)
    sol = solve(inst, "market_share", time_limit_s=30, max_enumerated=0)  # the coverage search, not enumeration
    assert sol.methods["reduction"] == "market share without rivals = coverage"
    assert sol.objective_kind == "market_share" and sol.gap is not None and sol.gap <= 1e-5
    assert sol.objective == pytest.approx(_brute_market_share(inst))
    if zero_attr:
        assert not set(sol.open_sites.tolist()) & {0, 5}


def test_one_rival_keeps_the_market_share_solver() -> None:
    pull = np.zeros(60)
    pull[3] = 0.5
    inst = _no_rival_instance(pull)
    sol = solve(inst, "market_share", time_limit_s=30)
    assert "reduction" not in sol.methods
    assert sol.objective == pytest.approx(_brute_market_share(inst))
