"""Rollout scheduling: hand-checked micro-instances, infeasibility messages, the checker.

Micro-instances give every site its own cell (weight = the site's value, distance
0), so the quarterly coverage is the sum of the open sites' values and the best
schedule can be worked out by hand.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from rollout_micro import all_open, cfg, micro, quarters_of

from planner.errors import InfeasibleError
from planner.optimise.rollout import (
    TABLE_COLUMNS,
    RolloutInstance,
    RolloutParams,
    check_rollout,
    plan_joint,
    plan_rollout,
    schedule,
)
from planner.optimise.types import GroupLimit
from planner.synthetic import greedy_selection, synthetic_rollout_instance

# --------------------------------------------------------------- known optima


def test_manager_bound_with_hires() -> None:
    # one ready manager at the start, one hire per quarter (free): one opening per quarter after Q0's
    ri = micro([1.0, 10.0, 5.0])
    c = cfg(initial_managers=0, external_hires_per_quarter=1)
    res = schedule(ri, all_open(ri), c, time_limit_s=10)
    assert quarters_of(res, [0, 1, 2]) == [2, 0, 1]
    assert res.objective == pytest.approx(10 + 15 + 16)
    assert res.hires.tolist() == [1, 1, 1]
    assert res.gap == pytest.approx(0.0, abs=1e-6)
    assert list(res.table.columns) == list(TABLE_COLUMNS)
    assert res.table["quarter"].tolist() == ["2027Q1", "2027Q2", "2027Q3"]
    assert res.table["opened"].tolist() == [1, 1, 1]


def test_trainees_become_managers_after_training() -> None:
    # two existing stores train 0.5 cadres each per quarter: 1 trainee in Q0, ready in Q1 (training 1)
    ri = micro([3.0], existing=[1.0, 1.0])
    c = cfg(quarters=2, initial_managers=0, cadres_per_store=0.5, training_quarters=1)
    res = schedule(ri, all_open(ri), c, time_limit_s=10)
    assert quarters_of(res, [0, 1, 2]) == [-1, -1, 1]
    assert res.table["managers_ready"].tolist() == pytest.approx([0.0, 1.0])
    assert res.table["trainees"].tolist() == pytest.approx([1.0, 1.0])
    assert res.objective == pytest.approx(2 + 5)
    # no training time: the trainee is ready at once
    res0 = schedule(ri, all_open(ri), cfg(quarters=2, initial_managers=0, cadres_per_store=0.5), time_limit_s=10)
    assert quarters_of(res0, [2]) == [0]


def test_budget_bound_prefers_two_cheap_stores() -> None:
    # budget 2 per quarter: {6, 5} in Q0 then 10 (32) beats 10 first then {6, 5} (31)
    ri = micro([10.0, 6.0, 5.0], capex=[2.0, 1.0, 1.0])
    c = cfg(quarters=2, capex_budget_per_quarter_cny=2.0)
    res = schedule(ri, all_open(ri), c, time_limit_s=10)
    assert quarters_of(res, [0, 1, 2]) == [1, 0, 0]
    assert res.objective == pytest.approx(32.0)
    assert res.table["capex_cny"].tolist() == pytest.approx([2.0, 2.0])


def test_budget_carry_over() -> None:
    ri = micro([10.0, 6.0], capex=[2.0, 1.0])
    res = schedule(ri, all_open(ri), cfg(quarters=2, capex_budget_per_quarter_cny=1.5, carry_over=True),
                   time_limit_s=10)
    assert quarters_of(res, [0, 1]) == [1, 0]
    assert res.objective == pytest.approx(6 + 16)
    with pytest.raises(InfeasibleError, match="rollout.capex_budget_per_quarter_cny"):
        schedule(ri, all_open(ri), cfg(quarters=2, capex_budget_per_quarter_cny=1.5, carry_over=False))


def test_chain_of_command_opens_city_stores_first() -> None:
    # one existing city store, 2 needed before county stores: the county store (10) waits for Q1
    ri = micro([10.0, 2.0, 1.0], existing=[0.0], county=[True, False, False])
    res = schedule(ri, all_open(ri), cfg(city_stores_before_county=2), time_limit_s=10)
    assert quarters_of(res, [1, 2, 3]) == [1, 0, 0]
    assert res.objective == pytest.approx(3 + 13 + 13)


def test_province_cap() -> None:
    ri = micro([5.0, 10.0, 7.0], province=[0, 0, 1])
    res = schedule(ri, all_open(ri), cfg(quarters=2, max_openings_per_province_per_quarter=1), time_limit_s=10)
    assert quarters_of(res, [0, 1, 2]) == [1, 0, 0]
    assert res.objective == pytest.approx(17 + 22)


def test_joint_picks_sites_and_quarters() -> None:
    ri = micro([10.0, 5.0, 1.0], stores=2)
    c = cfg(quarters=2, max_openings_per_province_per_quarter=1)
    res = plan_joint(ri, c, time_limit_s=10)
    assert quarters_of(res, [0, 1, 2]) == [0, 1, None]
    assert res.objective == pytest.approx(10 + 15)
    assert res.gap == pytest.approx(0.0, abs=1e-6)
    # conflicts and forbidden sites hold in the joint mode
    ri2 = micro([10.0, 5.0, 1.0], stores=2, conflict_a=np.array([0]), conflict_b=np.array([1]))
    assert plan_joint(ri2, c, time_limit_s=10).objective == pytest.approx(10 + 11)
    ri3 = micro([10.0, 5.0, 1.0], stores=2, forbidden=np.array([0]))
    assert plan_joint(ri3, c, time_limit_s=10).objective == pytest.approx(5 + 6)
    ri4 = micro([10.0, 5.0, 1.0], stores=2, groups=[GroupLimit("g", np.array([2]), min_open=1)])
    assert plan_joint(ri4, c, time_limit_s=10).objective == pytest.approx(10 + 11)
    sol = plan_rollout(ri, replace(c, mode="joint"), time_limit_s=10).to_solution()
    assert sol.open_sites.tolist() == [0, 1] and sol.quarter.tolist() == [0, 1]


def test_distance_and_market_share_objectives() -> None:
    for kind in ("distance", "market_share"):
        ri = synthetic_rollout_instance(n_cells=800, n_sites=120, n_existing=8, n_provinces=3, stores=40,
                                        kind=kind, seed=3)  # type: ignore[arg-type]
        sol = greedy_selection(ri)
        res = schedule(ri, sol, RolloutParams(quarters=4, initial_managers=12), time_limit_s=10)
        assert check_rollout(ri, res, RolloutParams(quarters=4, initial_managers=12)) == []
        assert res.bound is not None
        if kind == "distance":
            assert res.bound <= res.objective * (1 + 1e-9)
        else:
            assert res.bound >= res.objective * (1 - 1e-9)
            assert np.all((res.table["market_share"] > 0) & (res.table["market_share"] < 1))


# ---------------------------------------------------------------- infeasible
@pytest.mark.parametrize(
    ("ri_kw", "cfg_kw", "words"),
    [
        ({}, dict(initial_managers=0), ["no store manager is ever ready", "rollout.initial_managers = 0"]),
        ({}, dict(initial_managers=2), ["at most 2 openings", "rollout.external_hires_per_quarter"]),
        (dict(capex=[3.0, 3.0, 3.0]), dict(capex_budget_per_quarter_cny=2.0, carry_over=True),
         ["rollout.capex_budget_per_quarter_cny", "9 CNY"]),
        ({}, dict(quarters=1, max_openings_per_province_per_quarter=2),
         ["rollout.max_openings_per_province_per_quarter"]),
        (dict(county=[True, True, False]), dict(city_stores_before_county=2),
         ["rollout.city_stores_before_county = 2", "can only ever have 1 city stores"]),
    ],
)
def test_infeasible_inputs_are_explained(ri_kw: dict, cfg_kw: dict, words: list[str]) -> None:
    ri = micro([1.0, 2.0, 3.0], **ri_kw)
    with pytest.raises(InfeasibleError) as err:
        schedule(ri, all_open(ri), cfg(**cfg_kw), time_limit_s=10)
    for w in words:
        assert w in str(err.value)
    assert err.value.exit_code == 4  # EXIT_INFEASIBLE (2 is Click's usage error)


def test_infeasible_interplay_is_diagnosed() -> None:
    # managers alone are enough (2 hires), money alone too (capex 0), but hires cost 1 and the budget is 1
    ri = micro([1.0, 2.0], capex=[0.0, 0.0])
    c = cfg(quarters=1, initial_managers=0, external_hires_per_quarter=2, external_hire_cost_cny=1.0,
            capex_budget_per_quarter_cny=1.0)
    with pytest.raises(InfeasibleError, match="becomes feasible without"):
        schedule(ri, all_open(ri), c, time_limit_s=10)


# ------------------------------------------------------------------- checker
def _valid() -> tuple[RolloutInstance, object, RolloutParams]:
    ri = micro([10.0, 2.0, 1.0, 4.0], existing=[0.0], county=[True, False, False, False],
               capex=[1.0, 1.0, 1.0, 1.0], province=[0, 0, 0, 0])
    c = cfg(quarters=3, initial_managers=2, external_hires_per_quarter=1, external_hire_cost_cny=0.5,
            capex_budget_per_quarter_cny=3.0, city_stores_before_county=2,
            max_openings_per_province_per_quarter=2)
    res = schedule(ri, all_open(ri), c, time_limit_s=10)
    assert check_rollout(ri, res, c) == []
    return ri, res, c


def _broken(res: object, **changes: object) -> object:
    import copy

    r = copy.deepcopy(res)
    for k, v in changes.items():
        setattr(r, k, v)
    return r


def test_checker_rejects_broken_schedules() -> None:
    ri, res, c = _valid()
    q = dict(zip(res.open_sites.tolist(), res.quarter.tolist(), strict=True))  # type: ignore[attr-defined]
    sites = res.open_sites  # type: ignore[attr-defined]

    def with_quarters(new: dict[int, int]) -> object:
        qq = np.array([new.get(j, q[j]) for j in sites.tolist()])
        return _broken(res, quarter=qq)

    def msgs(r: object, cc: RolloutParams = c) -> str:
        return "\n".join(check_rollout(ri, r, cc))  # type: ignore[arg-type]

    # county store before the chain of command allows it
    assert "rollout.city_stores_before_county" in msgs(with_quarters({1: 0}))
    # everything in Q0: managers, money and province cap all broken
    allq0 = msgs(with_quarters({1: 0, 2: 0, 3: 0, 4: 0}))
    assert "ready managers" in allq0
    assert "max_openings_per_province_per_quarter" in allq0
    assert "capex" in allq0 or "spending" in allq0
    # an existing store given a quarter, a new one marked existing
    assert "existing stores are given" in msgs(with_quarters({0: 1}))
    assert "marked as already open" in msgs(with_quarters({4: -1}))
    # too many hires, a tampered objective or table
    assert "external hires" in msgs(_broken(res, hires=np.array([5, 0, 0])))
    assert "objective" in msgs(_broken(res, objective=res.objective + 1))  # type: ignore[attr-defined]
    t = res.table.copy()  # type: ignore[attr-defined]
    t.loc[0, "managers_ready"] += 1
    assert "managers_ready" in msgs(_broken(res, table=t))
    assert "outside -1" in msgs(with_quarters({4: 7}))


def test_checker_rejects_joint_network_breaking_selection() -> None:
    ri = micro([10.0, 5.0, 1.0], stores=2, forbidden=np.array([2]))
    c = cfg(quarters=2)
    res = plan_joint(ri, c, time_limit_s=10)
    assert check_rollout(ri, res, c) == []
    bad = _broken(res, open_sites=np.array([0, 2]), quarter=np.array([0, 0]))
    msgs = "\n".join(check_rollout(ri, bad, c))  # type: ignore[arg-type]
    assert "forbidden" in msgs
