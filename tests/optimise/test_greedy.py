"""Greedy construction: biggest marginal gain first, constraints respected on the way.

cover4 (see micro.py) gains from the empty plan: site 0 10+20 = 30, site 1 20+30 = 50,
site 2 40.
"""

from __future__ import annotations

import numpy as np
import pytest
from micro import brute_feasible, brute_value, cover4, group, huff1, random_instance, trap3

from planner.optimise.greedy import GainTracker, greedy
from planner.optimise.model import compile_model


def _greedy(inst, kind: str = "coverage") -> list[int]:
    return np.flatnonzero(greedy(compile_model(inst, kind))).tolist()


def test_cover4_biggest_gain_first() -> None:
    # p=1: site 1 (50); p=2: then site 2 (+40) beats site 0 (+10 once cell 1 is covered)
    assert _greedy(cover4(1)) == [1]
    assert _greedy(cover4(2)) == [1, 2]
    assert _greedy(cover4(3)) == [0, 1, 2]


def test_greedy_is_myopic_on_trap3() -> None:
    # site 0 (6) first, then +2.5 from either other site: 8.5, below the optimum 11
    plan = _greedy(trap3())
    assert 0 in plan and len(plan) == 2
    assert brute_value(trap3(), "coverage", plan) == 8.5


def test_forced_site_opens_first() -> None:
    # site 0 forced: site 1 then adds only cell 2 (30), site 2 adds 40
    assert _greedy(cover4(2, fixed=np.array([0]))) == [0, 2]
    assert _greedy(cover4(1, fixed=np.array([0]))) == [0]


def test_group_minimum_served_before_the_best_site() -> None:
    # p=1 with "at least one of {0}": site 0 although site 1 is worth more
    assert _greedy(cover4(1, groups=[group([0], lo=1)])) == [0]
    # p=2: 0 for the minimum, then site 2 (+40) over site 1 (+30)
    assert _greedy(cover4(2, groups=[group([0], lo=1)])) == [0, 2]


def test_group_maximum_skips_blocked_site() -> None:
    # at most one of {1, 2}: site 1 (50) first, site 2 is blocked, site 0 (+10) fills: {0, 1}
    assert _greedy(cover4(2, groups=[group([1, 2], hi=1)])) == [0, 1]


def test_spacing_and_location_skip_blocked_sites() -> None:
    # 1 and 2 conflict: after site 1 only site 0 may open
    assert _greedy(cover4(2, conflict_a=np.array([1]), conflict_b=np.array([2]))) == [0, 1]
    # 1 and 2 share a location: same
    assert _greedy(cover4(2, site_location=np.array([0, 1, 1]))) == [0, 1]


def test_budget_excludes_unaffordable_site() -> None:
    # site 1 costs 10 > budget 5: the best affordable single site is 2 (40)
    assert _greedy(cover4(1, capex_cny=np.array([1.0, 10.0, 1.0]), capex_budget_cny=5.0)) == [2]


def test_budget_reserve_keeps_room_for_the_remaining_stores() -> None:
    # capex 3, 4, 3 and budget 6 for two stores: site 1 (4) would leave 2 < 3 for the second
    # store, so greedy takes site 2 (40) then site 0 (3 + 3 = 6)
    inst = cover4(2, opex_cny=np.array([3.0, 4.0, 3.0]), opex_budget_cny=6.0)
    plan = _greedy(inst)
    assert plan == [0, 2]
    assert brute_feasible(inst, plan)


def test_start_plan_is_kept() -> None:
    m = compile_model(cover4(2), "coverage")
    start = np.array([True, False, False])  # with 0 open, site 1 adds 30 and site 2 adds 40
    assert np.flatnonzero(greedy(m, start=start)).tolist() == [0, 2]


@pytest.mark.parametrize("seed", range(6))
def test_reaches_the_count_feasibly_with_side_constraints(seed: int) -> None:
    inst = random_instance(
        seed, n_sites=6, stores=3, fixed=np.array([seed % 6]),
        conflict_a=np.array([(seed + 1) % 6]), conflict_b=np.array([(seed + 2) % 6]),
        groups=[group([(seed + 3) % 6, (seed + 4) % 6], lo=1)],
    )
    plan = _greedy(inst)
    assert len(plan) == 3 and brute_feasible(inst, plan)


def test_market_share_greedy_huff1() -> None:
    # two identical sites: the first gives 50, the second +16.67; both are taken for p=2
    assert _greedy(huff1(2), "market_share") == [0, 1]
    gt = GainTracker(compile_model(huff1(2), "market_share"))
    assert gt.gain(0) == pytest.approx(50.0)
    gt.open_site(0)
    assert gt.gain(1) == pytest.approx(200 / 3 - 50)


def test_gain_by_hand_on_cover4() -> None:
    gt = GainTracker(compile_model(cover4(2), "coverage"))
    assert [gt.gain(j) for j in range(3)] == [30, 50, 40]
    gt.open_site(1)
    # cell 1 is covered now: site 0 adds cell 0 only
    assert [gt.gain(j) for j in range(3)] == [10, 0, 40]
    assert gt.all_gains().tolist() == [10, 0, 40]


@pytest.mark.parametrize("kind", ["coverage", "distance", "market_share"])
def test_gain_equals_brute_value_difference(kind: str) -> None:
    inst = random_instance(3, decay="linear")
    m = compile_model(inst, kind)
    sign = -1.0 if kind == "distance" else 1.0
    for plan in ([], [0], [2, 4], [1, 3, 5]):
        mask = np.zeros(inst.n_sites, dtype=bool)
        mask[plan] = True
        gt = GainTracker(m, mask)
        gains = gt.all_gains()
        for j in set(range(inst.n_sites)) - set(plan):
            diff = sign * (brute_value(inst, kind, plan + [j]) - brute_value(inst, kind, plan))
            assert gt.gain(j) == pytest.approx(diff, abs=1e-9)
            assert gains[j] == pytest.approx(diff, abs=1e-9)


def test_overlapping_group_minimums_are_all_met() -> None:
    # at least two of {0, 1} and one of {0, 2}, p=2: only {0, 1} (60) is feasible. Taking the best
    # site of any short group (1, then 2 for the second group) gave the infeasible {1, 2}; site 0
    # is in both short groups, so it goes first.
    inst = cover4(2, groups=[group([0, 1], lo=2), group([0, 2], lo=1)])
    plan = _greedy(inst)
    assert sorted(plan) == [0, 1]
    assert brute_feasible(inst, plan)
