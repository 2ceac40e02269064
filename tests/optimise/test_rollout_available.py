"""A site opens no earlier than its ``available_from`` quarter (a site file's lease date).

Hand case (``rollout_micro``: each site its own cell, value = weight, 100 managers,
no other limit): sites worth 10 and 6, three quarters. Unconstrained both open in
quarter 0 (value 16 per quarter, 48). With the 10-site available from quarter 2 it
opens there: 6 + 6 + 16 = 28, the optimum (it cannot earn earlier).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from rollout_micro import all_open, cfg, micro, quarters_of

from planner.optimise.rollout import schedule
from planner.optimise.rollout_check import check_rollout


def test_no_store_opens_before_available_from() -> None:
    ri = micro([10.0, 6.0])
    free = schedule(ri, all_open(ri), cfg(quarters=3), time_limit_s=10)
    assert quarters_of(free, [0, 1]) == [0, 0] and free.objective == pytest.approx(48.0)
    ri = replace(micro([10.0, 6.0]), site_available_from=np.array([2, 0]))
    res = schedule(ri, all_open(ri), cfg(quarters=3), time_limit_s=10)
    assert quarters_of(res, [0, 1]) == [2, 0]
    assert res.objective == pytest.approx(28.0)
    assert check_rollout(ri, res, cfg(quarters=3)) == []


def test_checker_rejects_an_opening_before_available_from() -> None:
    ri = micro([10.0, 6.0])
    res = schedule(ri, all_open(ri), cfg(quarters=3), time_limit_s=10)  # both in quarter 0
    late = replace(ri, site_available_from=np.array([2, 0]))
    problems = check_rollout(late, res, cfg(quarters=3))
    assert any("before their available_from" in p for p in problems)


@pytest.mark.parametrize("use_mip", [True, False])
def test_joint_mode_opens_a_signed_site_it_would_not_choose(use_mip: bool) -> None:
    """Sites worth 10, 6 and 1, one store to open, three quarters: free, the joint rollout opens
    the 10-site. With the 1-site a signed lease (``site_must_open``) it must open that one, no
    earlier than its available_from (quarter 1): 1 + 1 = 2, and the checker insists on it."""
    from planner.optimise.rollout import plan_joint

    ri = micro([10.0, 6.0, 1.0], stores=1)
    free = plan_joint(ri, cfg(quarters=3, mode="joint"), time_limit_s=10, use_mip=use_mip)
    assert free.open_sites[free.quarter >= 0].tolist() == [0]
    signed = replace(ri, site_must_open=np.array([2]), site_available_from=np.array([0, 0, 1]))
    res = plan_joint(signed, cfg(quarters=3, mode="joint"), time_limit_s=10, use_mip=use_mip)
    assert quarters_of(res, [2]) == [1] and res.open_sites[res.quarter >= 0].tolist() == [2]
    assert res.objective == pytest.approx(2.0)
    assert check_rollout(signed, res, cfg(quarters=3, mode="joint")) == []
    assert any("must open" in p for p in check_rollout(signed, free, cfg(quarters=3, mode="joint")))
