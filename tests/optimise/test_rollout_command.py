"""The rollout with the command: areas need area managers, promotions take store managers.

Micro-instances of :mod:`tests.optimise.rollout_micro` (each site its own cell, the
quarterly value is the sum of the open sites' values) with an area per site.
"""

from __future__ import annotations

import numpy as np
import pytest

from planner.errors import InfeasibleError
from planner.optimise.command_types import CommandParams
from planner.optimise.rollout import schedule
from planner.optimise.rollout.model import command_pool
from planner.optimise.rollout_check import check_rollout
from tests.optimise.rollout_micro import all_open, cfg, micro, quarters_of


def commanded(values: list[float], areas: list[int], *, existing: list[float] = (), **cmd: object):  # type: ignore[assignment, no-untyped-def]
    ri = micro(values, existing=existing)
    ri.site_area = np.asarray(areas, dtype=np.int64)
    ri.command = CommandParams(**{"external_area_hires_per_quarter": 0, **cmd})  # type: ignore[arg-type]
    return ri


@pytest.mark.parametrize("use_mip", [False, True])
def test_a_new_area_waits_for_a_promotable_store_manager(use_mip: bool) -> None:
    # site 0 (value 1, area 0) and site 1 (value 10, area 1); one initial area manager, no hires,
    # promotion after 2 quarters. Best: site 1 takes the initial manager in Q0 (area 1); area 0 needs a
    # promotion, possible from Q2 (site 1's manager, two quarters in the job): 10 + 10 + 11 = 31.
    # Opening site 0 first would give 1 + 1 + 11 = 13.
    ri = commanded([1.0, 10.0], [0, 1], initial_area_managers=1, promotion_after_quarters=2)
    res = schedule(ri, all_open(ri), cfg(), use_mip=use_mip, time_limit_s=10)
    assert quarters_of(res, [0, 1]) == [2, 0]
    assert res.promotions.tolist() == [0, 0, 1] and res.area_hires.tolist() == [0, 0, 0]
    assert res.objective == pytest.approx(31.0)
    assert res.table["areas"].tolist() == [1, 1, 2] and res.table["area_managers_ready"].tolist() == [1, 1, 2]
    # one quarter in the job is enough: site 0 opens in Q1 (10 + 11 + 11 = 32)
    res = schedule(ri := commanded([1.0, 10.0], [0, 1], initial_area_managers=1, promotion_after_quarters=1),
                   all_open(ri), cfg(), use_mip=use_mip, time_limit_s=10)
    assert quarters_of(res, [0, 1]) == [1, 0] and res.objective == pytest.approx(32.0)


def test_promotions_compete_with_openings() -> None:
    # an existing store (area 0, its manager eligible) and two new stores in a new area 1; two store
    # managers in all (no cadres, no hires): without the command both open in Q0; with it, the promotion
    # takes a third store manager -- impossible (explained), unless an area manager may be hired.
    plain = micro([5.0, 5.0], existing=[1.0])
    assert quarters_of(schedule(plain, all_open(plain), cfg(initial_managers=2)), [1, 2]) == [0, 0]
    ri = commanded([5.0, 5.0], [0, 1, 1], existing=[1.0])
    with pytest.raises(InfeasibleError) as e:
        schedule(ri, all_open(ri), cfg(initial_managers=2), time_limit_s=10)
    assert "command.external_area_hires_per_quarter" in str(e.value.problems)
    ri = commanded([5.0, 5.0], [0, 1, 1], existing=[1.0], external_area_hires_per_quarter=1)
    res = schedule(ri, all_open(ri), cfg(initial_managers=2), time_limit_s=10)
    assert quarters_of(res, [1, 2]) == [0, 0]
    assert res.promotions.tolist() == [0, 0, 0] and res.area_hires.tolist() == [1, 0, 0]


def test_promotion_preferred_when_a_store_manager_is_free() -> None:
    # three store managers for two openings: the area is led by a promotion, not a hire
    ri = commanded([5.0, 5.0], [0, 1, 1], existing=[1.0], external_area_hires_per_quarter=1)
    res = schedule(ri, all_open(ri), cfg(initial_managers=3), time_limit_s=10)
    assert res.promotions.tolist() == [1, 0, 0] and res.area_hires.tolist() == [0, 0, 0]
    assert res.table["managers_ready"].tolist()[0] == pytest.approx(3.0)


def test_command_pool_by_hand() -> None:
    # E = 2 existing stores, P = 2: eligible[t] = 2 + took[<= t-2] - promoted before t
    cmd = CommandParams(promotion_after_quarters=2, initial_area_managers=1)
    pool = command_pool(cmd, 2, np.array([3, 0, 0, 0]), np.array([1, 0, 1, 0]), np.array([0, 1, 0, 0]),
                        np.array([-1, 0, 1, 2]))
    assert pool.eligible.tolist() == [2, 1, 5, 4]  # 2; 2-1; 2+(3+1)-1; 2+4-2
    assert pool.area_ready.tolist() == [2, 3, 4, 4]
    assert pool.areas.tolist() == [2, 3, 4, 4]


def test_checker_verifies_the_two_pools_together() -> None:
    ri = commanded([1.0, 10.0], [0, 1], initial_area_managers=1, promotion_after_quarters=2)
    res = schedule(ri, all_open(ri), cfg(), use_mip=False)
    assert check_rollout(ri, res, cfg()) == []
    early = res.promotions.copy()
    early[:] = [0, 1, 0]  # promoted after one quarter in the job
    res.promotions = early
    msgs = check_rollout(ri, res, cfg())
    assert any("command.promotion_after_quarters=2" in s for s in msgs)
    res.promotions = np.zeros(3, dtype=np.int64)  # nobody leads the area formed in Q2
    assert any("2027Q3: 2 areas formed but only 1 area managers" in s for s in check_rollout(ri, res, cfg()))
    # promotions take store managers: with two store managers, a promotion on top of two openings fails
    ri2 = commanded([5.0, 5.0], [0, 1, 1], existing=[1.0], external_area_hires_per_quarter=1)
    res2 = schedule(ri2, all_open(ri2), cfg(initial_managers=2))
    res2.promotions, res2.area_hires = np.array([1, 0, 0]), np.array([0, 0, 0])
    assert any("promotions but only" in s for s in check_rollout(ri2, res2, cfg(initial_managers=2)))
