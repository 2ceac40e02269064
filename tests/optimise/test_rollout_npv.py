"""The ``profit`` rollout maximises the NPV: hand-computed micro schedules, the checker, the bound.

Micro instances (:mod:`tests.optimise.rollout_micro`): every site has its own cell,
so with no competitor a site captures its cell's whole weight; margin 1 CNY per
unit of weight and year, opex 4 CNY a year per site (a quarter: 1), capex 10.

- Site A (weight 100) earns (100 - 4) / 4 = 24 a quarter: worth opening at once.
- Site B (weight 1) loses (1 - 4) / 4 = -0.75 a quarter: in ``two_stage`` it must
  open, and opening it later saves 0.75 a quarter; it opens in the last quarter.

Three quarters, no discount, no ramp: NPV = (3 x 24 - 10) + (-0.75 - 10) = 51.25.
"""

from __future__ import annotations

import itertools
from dataclasses import replace

import numpy as np
import pytest

from planner.optimise.rollout import check_rollout, plan_joint, schedule
from planner.optimise.rollout.context import make_context
from planner.optimise.rollout.model import quarter_cash
from planner.optimise.rollout.npv import linear_costs, npv_bound
from planner.optimise.rollout.types import RolloutInstance
from planner.optimise.rollout_check import quarter_npv
from planner.optimise.types import Instance, Solution
from tests.optimise.rollout_micro import all_open, cfg, micro, quarters_of


def profit(ri: RolloutInstance, **kw: object) -> RolloutInstance:
    return replace(ri, objective_kind="profit", margin=1.0, **kw)  # type: ignore[arg-type]


def two_sites(**kw: object) -> RolloutInstance:
    return profit(micro([100.0, 1.0], capex=[10.0, 10.0]), **kw)


@pytest.mark.parametrize("use_mip", [False, True])
def test_profitable_store_opens_first_and_the_loss_making_one_last(use_mip: bool) -> None:
    ri = two_sites()
    res = schedule(ri, all_open(ri), cfg(), use_mip=use_mip)
    assert quarters_of(res, [0, 1]) == [0, 2]
    assert res.objective == pytest.approx(51.25)
    assert res.table["objective"].tolist() == pytest.approx([24 - 10, 24, 24 - 0.75 - 10])
    assert res.objective_kind == "profit" and res.bound is not None and res.bound >= res.objective - 1e-9
    if use_mip:  # the MIP's upper model is exact here: optimal, gap 0
        assert res.status == "optimal" and res.gap == pytest.approx(0.0, abs=1e-9)


def test_npv_with_ramp_and_discount_by_hand() -> None:
    # one site, ramp 2 quarters: half its sales in the opening quarter; 10 % a year
    ri = profit(micro([100.0], capex=[10.0]), ramp_quarters=2, discount_rate_pct=10.0)
    res = schedule(ri, all_open(ri), cfg())
    d = 1.1 ** (-np.arange(3) / 4)
    want = [d[0] * ((50 - 4) / 4 - 10), d[1] * (100 - 4) / 4, d[2] * (100 - 4) / 4]
    assert quarters_of(res, [0]) == [0]
    assert res.table["objective"].tolist() == pytest.approx(want)
    assert res.objective == pytest.approx(sum(want))


def test_the_loss_making_store_waits_for_the_last_quarter_of_a_longer_horizon() -> None:
    ri = two_sites()
    for use_mip in (False, True):
        res = schedule(ri, all_open(ri), cfg(quarters=4), use_mip=use_mip)
        assert quarters_of(res, [0, 1]) == [0, 3]
        assert res.objective == pytest.approx((4 * 24 - 10) + (-0.75 - 10))


def test_available_from_is_respected_under_profit() -> None:
    ri = two_sites(site_available_from=np.array([1, 0]))
    for use_mip in (False, True):
        res = schedule(ri, all_open(ri), cfg(), use_mip=use_mip)
        assert quarters_of(res, [0, 1]) == [1, 2]
        assert res.objective == pytest.approx((2 * 24 - 10) + (-0.75 - 10))


def test_joint_profit_leaves_the_loss_making_site_out() -> None:
    # one store to open out of the two: the profitable one, at once
    ri = profit(micro([100.0, 1.0], capex=[10.0, 10.0], stores=1))
    res = plan_joint(ri, cfg())
    assert res.open_sites.tolist() == [0] and res.quarter.tolist() == [0]
    assert res.objective == pytest.approx(3 * 24 - 10)


def test_checker_rejects_an_over_reported_npv_and_a_bound_below_it() -> None:
    ri = two_sites()
    res = schedule(ri, all_open(ri), cfg())
    assert check_rollout(ri, res, cfg()) == []
    over = replace(res, objective=res.objective + 1.0)
    assert any("objective" in p for p in check_rollout(ri, over, cfg()))
    table = res.table.copy()
    table.loc[1, "objective"] += 1.0
    assert any("objective" in p for p in check_rollout(ri, replace(res, table=table), cfg()))
    low = replace(res, bound=res.objective - 1.0)
    assert any("bound" in p for p in check_rollout(ri, low, cfg()))


def huff_instance(seed: int, n_sites: int = 3) -> RolloutInstance:
    """Overlapping Huff catchments with competitors, so cannibalisation and the ramp both matter."""
    rng = np.random.default_rng(seed)
    n_cells = 6
    pc, ps = np.meshgrid(np.arange(n_cells), np.arange(n_sites))
    inst = Instance(
        weight=rng.uniform(5, 40, n_cells), pair_cell=pc.ravel().astype(np.int32),
        pair_site=ps.ravel().astype(np.int32), pair_km=rng.uniform(0, 6, pc.size), n_sites=n_sites,
        stores=n_sites, radius_km=np.full(n_sites, 3.0), competitor_pull=rng.uniform(0.05, 0.5, n_cells),
        beta=1.5,
    )
    return RolloutInstance(
        instance=inst, site_province=np.zeros(n_sites, dtype=np.int64), site_is_county=np.zeros(n_sites, bool),
        capex_cny=rng.uniform(0, 30, n_sites), opex_cny=rng.uniform(0, 60, n_sites), objective_kind="profit",
        margin=1.3, discount_rate_pct=8.0, ramp_quarters=3,
    )


@pytest.mark.parametrize("seed", range(4))
def test_npv_is_optimal_and_the_bound_valid_against_every_schedule(seed: int) -> None:
    ri = huff_instance(seed)
    params = cfg(quarters=4)
    sites = np.arange(3)
    empty = np.zeros(0, dtype=np.int64)
    every = [float(quarter_cash(ri, 4, empty, sites, np.array(q)).sum())
             for q in itertools.product(range(4), repeat=3)]
    best = max(every)
    # the solvers' and the checker's NPV agree on every schedule
    for q in itertools.product(range(4), repeat=3):
        site_q = np.array(q)
        assert quarter_cash(ri, 4, empty, sites, site_q).sum() == pytest.approx(quarter_npv(ri, site_q, 4).sum())
    res = schedule(ri, Solution(open_sites=sites, objective=0.0, objective_kind="profit"), params)
    assert res.objective <= best + 1e-9
    assert res.bound is not None and res.bound >= best - 1e-9
    ctx = make_context(ri, params, empty, sites, must_open=True, n_required=3)
    assert npv_bound(ctx, np.full(4, 3), [empty], sites) >= best - 1e-9
    coef, scale, const = linear_costs(ctx)
    assert coef.shape == (3, 4) and scale == pytest.approx(1.3 * ri.discount(4) / 4) and const == 0.0


def test_joint_profit_with_a_store_range_opens_only_what_pays() -> None:
    # up to two new stores may open: A pays, B loses money in every quarter and stays out
    ri = profit(micro([100.0, 1.0], capex=[10.0, 10.0], stores=2, stores_min=1, stores_max=2))
    for use_mip in (False, True):
        res = plan_joint(ri, cfg(), use_mip=use_mip)
        assert res.open_sites.tolist() == [0] and res.quarter.tolist() == [0]
        assert res.objective == pytest.approx(3 * 24 - 10)
        assert res.to_solution().objective == pytest.approx(100.0)  # the selection's yearly profit, no fixed cost
