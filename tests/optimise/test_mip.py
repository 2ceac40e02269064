"""The facility MIP equals brute force, with and without each side constraint."""

from __future__ import annotations

import numpy as np
import pytest
from micro import brute_optimum, brute_value, cover4, group, line4, random_instance

from planner.optimise.mip import solve_facility_mip
from planner.optimise.model import compile_model


def _mip(inst, kind: str = "coverage", **kw):
    m = compile_model(inst, kind)
    res = solve_facility_mip(m, np.ones(m.n_sites, dtype=bool), count=inst.stores, time_limit_s=20, **kw)
    return m, res


def _sites(mask: np.ndarray) -> tuple[int, ...]:
    return tuple(np.flatnonzero(mask).tolist())


@pytest.mark.parametrize("p, value, sites", [(1, 50.0, (1,)), (2, 90.0, (1, 2)), (3, 100.0, (0, 1, 2))])
def test_cover4_by_hand(p: int, value: float, sites: tuple[int, ...]) -> None:
    m, res = _mip(cover4(p))
    assert res.status == "optimal"
    assert _sites(res.open_mask) == sites
    assert m.user_objective(res.objective) == pytest.approx(value)
    assert res.bound == pytest.approx(res.objective)


def test_line4_distance_by_hand() -> None:
    # medians at 1 and 10: the cells at 0 and 2 walk 1 km each
    m, res = _mip(line4(2), "distance")
    assert _sites(res.open_mask) == (1, 3)
    assert m.user_objective(res.objective) == pytest.approx(2.0)


def test_store_price_without_count() -> None:
    # max f(S) - 25 |S| on cover4: {1, 2} = 90 - 50 = 40 beats {1} = 25 and {0, 1, 2} = 25;
    # at 45 per store only {1} (50 - 45 = 5) beats the empty plan
    m = compile_model(cover4(2), "coverage")
    everything = np.ones(3, dtype=bool)
    res = solve_facility_mip(m, everything, price=25.0)
    assert _sites(res.open_mask) == (1, 2) and res.objective == pytest.approx(40.0)
    res = solve_facility_mip(m, everything, price=45.0)
    assert _sites(res.open_mask) == (1,) and res.objective == pytest.approx(5.0)


def test_candidates_restrict_the_plan() -> None:
    # site 1 not a candidate: p=1 takes site 2 (40)
    m = compile_model(cover4(1), "coverage")
    res = solve_facility_mip(m, np.array([True, False, True]), count=1)
    assert _sites(res.open_mask) == (2,) and res.objective == pytest.approx(40.0)


def _side(seed: int, which: str, kind: str):
    kw: dict[str, object] = {"fixed": np.array([seed % 6])}
    if which == "spacing":
        kw.update(conflict_a=np.array([0, 1, 2]), conflict_b=np.array([3, 4, 5]))
    elif which == "location":
        kw.update(site_location=np.array([0, 0, 1, 1, 2, 3]))
    elif which == "groups":
        kw.update(groups=[group([0, 1, 2], lo=2), group([3, 4, 5], hi=1)])
    elif which == "budget":
        kw.update(capex_cny=np.array([5.0, 1.0, 4.0, 2.0, 3.0, 6.0]), capex_budget_cny=9.0)
    return random_instance(seed, n_sites=6, stores=3, decay=["step", "linear"][seed % 2], **kw)


@pytest.mark.parametrize("kind", ["coverage", "distance"])
@pytest.mark.parametrize("which", ["none", "spacing", "location", "groups", "budget"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_equals_brute_force(kind: str, which: str, seed: int) -> None:
    inst = _side(seed, which, kind)
    opt, plans = brute_optimum(inst, kind)
    m, res = _mip(inst, kind)
    if opt is None:
        assert res.status == "infeasible"
        return
    assert res.status == "optimal"
    assert m.user_objective(res.objective) == pytest.approx(opt, abs=1e-6)
    assert _sites(res.open_mask) in plans
    assert brute_value(inst, kind, _sites(res.open_mask)) == pytest.approx(opt, abs=1e-6)


@pytest.mark.parametrize("which", ["spacing", "location", "budget"])
def test_dropping_side_constraints_gives_the_unconstrained_optimum(which: str) -> None:
    # on seed 2 (distance) each of these constraints is binding: brute force 121.8 or 135.6 km
    # with it, 102.9 km without
    inst = _side(2, which, "distance")
    opt, _ = brute_optimum(inst, "distance")
    opt_free, _ = brute_optimum(_side(2, "none", "distance"), "distance")
    assert opt is not None and opt > opt_free + 1.0
    m, res = _mip(inst, "distance", side_constraints=False)
    assert m.user_objective(res.objective) == pytest.approx(opt_free, abs=1e-6)


@pytest.mark.parametrize("kw", [
    # every pair conflicts: no two stores
    {"conflict_a": np.array([0, 0, 1]), "conflict_b": np.array([1, 2, 2])},
    # two stores wanted in a group of one
    {"groups": [group([0], lo=2)]},
    # at most one in {0, 1} and none in {2}
    {"groups": [group([0, 1], hi=1), group([2], hi=0)]},
    # every pair costs 10 > 8
    {"capex_cny": np.full(3, 5.0), "capex_budget_cny": 8.0},
    # one location
    {"site_location": np.array([4, 4, 4])},
])
def test_infeasible_reports_status(kw: dict) -> None:
    inst = cover4(2, **kw)
    assert brute_optimum(inst, "coverage") == (None, [])
    _, res = _mip(inst)
    assert res.status == "infeasible" and res.open_mask is None


def test_group_minimum_with_a_forbidden_member_is_kept() -> None:
    # p=1, at least one of {0, 1}, site 1 forbidden: only {0} (30) is feasible; the MIP returns {2} (40)
    inst = cover4(1, forbidden=np.array([1]), groups=[group([0, 1], lo=1)])
    assert brute_optimum(inst, "coverage") == (30.0, [(0,)])
    _, res = _mip(inst)
    assert _sites(res.open_mask) == (0,)


def test_solve_feasible_instance_with_forbidden_group_member() -> None:
    from planner.optimise.solve import solve

    # cover4 plus a forbidden site 3; at least two of {0, 1, 3} and one of {0, 2}: only {0, 1} (60).
    # Greedy takes 1 (50), then 2 (+40) for the second group: {1, 2} misses the first minimum.
    inst = cover4(2, n_sites=4, radius_km=np.full(4, 3.0), forbidden=np.array([3]),
                  groups=[group([0, 1, 3], lo=2, key="constraints.a"), group([0, 2], lo=1, key="constraints.b")])
    assert brute_optimum(inst, "coverage") == (60.0, [(0, 1)])
    sol = solve(inst, "coverage", time_limit_s=10, max_enumerated=0)
    assert sol.open_sites.tolist() == [0, 1]
