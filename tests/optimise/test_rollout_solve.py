"""The rollout's entry points (planner.optimise.rollout.solve) and the chain-of-command rule (.chain)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from rollout_micro import all_open, cfg, micro, quarters_of

from planner.optimise.incumbent import relative_gap
from planner.optimise.rollout import plan_joint, plan_rollout, schedule
from planner.optimise.rollout.chain import (
    county_stores_unlocked,
    implies_city_minimum,
    provinces_short_of_city_stores,
)
from planner.synthetic import greedy_selection, synthetic_rollout_instance


def test_plan_rollout_dispatches_on_mode() -> None:
    ri = micro([10.0, 5.0, 1.0], stores=2)
    c = cfg(quarters=2, max_openings_per_province_per_quarter=1)
    joint = plan_rollout(ri, replace(c, mode="joint"), time_limit_s=10)
    assert joint.mode == "joint" and quarters_of(joint, [0, 1, 2]) == [0, 1, None]
    two = plan_rollout(ri, c, replace(all_open(ri), open_sites=np.array([0, 2])), time_limit_s=10)
    assert two.mode == "two_stage" and quarters_of(two, [0, 1, 2]) == [0, None, 1]
    with pytest.raises(ValueError, match="needs the selected sites"):
        plan_rollout(ri, c)


def test_greedy_only_schedule_reports_a_valid_bound() -> None:
    # no MIP: the per-quarter submodular bound; on separate cells it is tight
    ri = micro([1.0, 10.0, 5.0])
    c = cfg(initial_managers=0, external_hires_per_quarter=1)
    res = schedule(ri, all_open(ri), c, time_limit_s=10, use_mip=False)
    assert res.objective == pytest.approx(10 + 15 + 16)
    assert res.methods["bound"] == "submodular-per-quarter"
    assert res.bound == pytest.approx(res.objective) and res.status == "optimal"


def test_joint_never_worse_than_its_hint() -> None:
    ri = micro([10.0, 5.0, 1.0], stores=2)
    c = cfg(quarters=2, max_openings_per_province_per_quarter=1)
    hint = replace(all_open(ri), open_sites=np.array([0, 2]))
    two = schedule(ri, hint, c, time_limit_s=10)
    joint = plan_joint(ri, c, hint=hint, time_limit_s=10)
    assert joint.objective >= two.objective - 1e-9
    assert joint.objective == pytest.approx(25.0)


def test_gap_is_the_shared_relative_gap() -> None:
    for kind in ("coverage", "distance"):
        ri = synthetic_rollout_instance(n_cells=400, n_sites=40, n_existing=3, n_provinces=2, stores=12,
                                        kind=kind, seed=1)  # type: ignore[arg-type]
        res = schedule(ri, greedy_selection(ri), cfg(quarters=3, initial_managers=20), time_limit_s=5,
                       use_mip=False)
        assert res.bound is not None and res.gap is not None
        assert res.gap == relative_gap(res.objective, res.bound, maximise=kind != "distance")
        assert res.gap >= 0.0


# ------------------------------------------------------------------ chain of command
def test_county_stores_unlock_at_the_threshold() -> None:
    assert county_stores_unlocked(np.array([0, 2, 3]), 3).tolist() == [False, False, True]
    assert county_stores_unlocked(np.array([0]), 0).tolist() == [True]


def test_provinces_short_of_city_stores() -> None:
    # province 0: 1 city store + a new county store (short of 2); province 1: 2 city stores + a county store;
    # province 2: an existing county store only (nothing new to unlock)
    prov = np.array([0, 0, 1, 1, 1, 2])
    county = np.array([False, True, False, False, True, True])
    new = np.array([False, True, True, True, True, False])
    short = provinces_short_of_city_stores(prov, county, new, 2)
    assert short.province.tolist() == [0]
    assert short.city_stores.tolist() == [1] and short.new_county_stores.tolist() == [1]
    assert provinces_short_of_city_stores(prov, county, new, 0).province.size == 0
    assert provinces_short_of_city_stores(prov[:0], county[:0], new[:0], 2, n_provinces=0).province.size == 0


def test_province_minimum_implies_city_minimum() -> None:
    assert implies_city_minimum(3, 3) and implies_city_minimum(5, 3)
    assert not implies_city_minimum(2, 3) and not implies_city_minimum(5, 0)
