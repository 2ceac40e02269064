"""The quarter greedy (planner.optimise.rollout.greedy) on hand-checkable micro-instances."""

from __future__ import annotations

import numpy as np
from rollout_micro import cfg, micro

from planner.optimise.rollout import RolloutInstance, RolloutParams
from planner.optimise.rollout.context import NEVER, Context, Selection, make_context
from planner.optimise.rollout.greedy import quarter_greedy, trim_hires


def two_stage(ri: RolloutInstance, params: RolloutParams) -> Context:
    """Every non-existing site must open (the two-stage context)."""
    pre = ri.preopen_mask()
    cand = np.flatnonzero(~pre)
    return make_context(ri, params, np.flatnonzero(pre), cand, must_open=True, n_required=int(cand.size))


def test_one_hire_per_quarter_opens_best_first() -> None:
    ctx = two_stage(micro([1.0, 10.0, 5.0]), cfg(initial_managers=0, external_hires_per_quarter=1))
    out = quarter_greedy(ctx)
    assert out is not None
    q, (hires, promotions, area_hires) = out
    assert q.tolist() == [2, 0, 1] and hires.tolist() == [1, 1, 1]
    assert promotions.tolist() == [0, 0, 0] and area_hires.tolist() == [0, 0, 0]  # no command


def test_value_and_ratio_greedy_differ_under_a_budget() -> None:
    # budget 2 per quarter: by value 10 first (10 + 21 = 31), by value per CNY {6, 5} first (11 + 21 = 32)
    ctx = two_stage(micro([10.0, 6.0, 5.0], capex=[2.0, 1.0, 1.0]), cfg(quarters=2, capex_budget_per_quarter_cny=2.0))
    by_value, by_ratio = quarter_greedy(ctx, score="value"), quarter_greedy(ctx, score="ratio")
    assert by_value is not None and by_ratio is not None
    assert by_value[0].tolist() == [0, 1, 1]
    assert by_ratio[0].tolist() == [1, 0, 0]


def test_city_stores_that_unlock_county_stores_go_first() -> None:
    # one existing city store, two needed: both city stores open in Q0 although the county one is worth more
    ri = micro([10.0, 2.0, 1.0], existing=[0.0], county=[True, False, False])
    out = quarter_greedy(two_stage(ri, cfg(city_stores_before_county=2)))
    assert out is not None and out[0].tolist() == [1, 0, 0]


def test_province_that_would_run_out_of_quarters_goes_first() -> None:
    # cap 1 per province and quarter, 2 quarters: province 0 has 2 stores, so it must open one in Q0
    ri = micro([1.0, 2.0, 10.0], province=[0, 0, 1])
    out = quarter_greedy(two_stage(ri, cfg(quarters=2, max_openings_per_province_per_quarter=1)))
    assert out is not None
    assert sorted(out[0][:2].tolist()) == [0, 1] and out[0][2] in (0, 1)


def test_fails_when_a_required_store_cannot_open() -> None:
    ctx = two_stage(micro([1.0, 2.0, 3.0]), cfg(quarters=1, initial_managers=2))
    assert quarter_greedy(ctx) is None


def test_joint_greedy_respects_the_selection() -> None:
    # 2 stores out of 3, sites 0 and 1 too close to both open: the best pair is {0, 2}
    ri = micro([10.0, 5.0, 1.0], stores=2, conflict_a=np.array([0]), conflict_b=np.array([1]))
    base, cand = np.zeros(0, dtype=np.int64), np.arange(3)
    ctx = make_context(ri, cfg(quarters=2), base, cand, must_open=False, n_required=2)
    ctx.sel = Selection(ri, base, cand)
    out = quarter_greedy(ctx)
    assert out is not None
    assert out[0].tolist() == [0, NEVER, 0]


def test_trim_hires_keeps_only_the_hires_needed() -> None:
    ctx = two_stage(micro([1.0, 2.0, 3.0]), cfg(initial_managers=1, external_hires_per_quarter=2))
    # openings 2, 1, 0: one manager at the start, so one hire in Q0 and one in Q1
    assert trim_hires(ctx, np.array([0, 0, 1]), np.array([2, 2, 2])).tolist() == [1, 1, 0]
