"""The checker recomputes objectives by hand-known values and rejects every broken constraint."""

from __future__ import annotations

import numpy as np
import pytest
from micro import cover4, group, huff1, line4

from planner.optimise.check import CheckFailed, check_solution, objective_value, per_site_explain
from planner.optimise.feasibility import precheck
from planner.optimise.types import ConstraintKeys, Solution


def _sol(sites, inst, kind="coverage", **kw):
    sites = np.asarray(sites, dtype=np.int64)
    obj = kw.pop("objective", None)
    if obj is None:
        obj = objective_value(inst, sites, kind)
    return Solution(open_sites=sites, objective=obj, objective_kind=kind, **kw)


def test_objective_values_by_hand():
    assert objective_value(cover4(), np.array([1]), "coverage") == 50.0
    assert objective_value(cover4(), np.array([0, 2]), "coverage") == 70.0
    assert objective_value(line4(), np.array([1, 3]), "distance") == 2.0
    # no store: every cell pays unreachable_km
    assert objective_value(line4(), np.array([], dtype=int), "distance") == 400.0
    assert objective_value(huff1(), np.array([0, 1]), "market_share") == pytest.approx(200 / 3)
    assert objective_value(huff1(), np.array([], dtype=int), "market_share") == 0.0


def test_zero_over_zero_counts_zero():
    inst = huff1()
    inst.competitor_pull = np.zeros(1)
    assert objective_value(inst, np.array([], dtype=int), "market_share") == 0.0
    assert objective_value(inst, np.array([0]), "market_share") == 100.0


def test_valid_plan_passes():
    inst = cover4(2)
    rep = check_solution(inst, _sol([1, 2], inst, bound=90.0, gap=0.0))
    assert rep.ok, rep.violations
    assert rep.objective == 90.0
    rep.raise_if_failed()


BROKEN = {
    "count": (cover4(2), [1], "exactly 2"),
    "fixed": (cover4(2, fixed=np.array([0])), [1, 2], "fixed"),
    "closures": (cover4(2, existing=np.array([0, 2]), max_closures=0), [0, 1], "existing"),
    "forbidden": (cover4(2, forbidden=np.array([1])), [1, 2], "forbidden"),
    "location": (cover4(2, site_location=np.array([0, 1, 1])), [1, 2], "location"),
    "spacing": (cover4(2, conflict_a=np.array([1]), conflict_b=np.array([2])), [1, 2], "spacing"),
    "capex": (cover4(2, capex_cny=np.array([1.0, 5.0, 1.0]), capex_budget_cny=2.0), [1, 2], "capex"),
    "opex": (cover4(2, opex_cny=np.array([1.0, 5.0, 1.0]), opex_budget_cny=2.0), [1, 2], "opex"),
    "group_min": (cover4(2, groups=[group([0], lo=1, key="constraints.city.min.A")]), [1, 2], "constraints.city.min.A"),
    "group_max": (cover4(2, groups=[group([1, 2], hi=1, key="constraints.city.max.B")]), [1, 2], "constraints.city.max.B"),
    "range": (cover4(2), [1, 7], "out of range"),
    "duplicate": (cover4(2), [1, 1], "more than once"),
}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_checker_rejects_each_broken_constraint(name):
    inst, sites, word = BROKEN[name]
    sol = _sol(sites, inst, objective=0.0) if name == "range" else _sol(sites, inst)
    rep = check_solution(inst, sol)
    assert not rep.ok
    assert any(word in v for v in rep.violations), rep.violations
    with pytest.raises(CheckFailed):
        rep.raise_if_failed()


def test_checker_rejects_misreported_objective_bound_and_gap():
    inst = cover4(2)
    assert not check_solution(inst, _sol([1, 2], inst, objective=91.0)).ok
    # an upper bound below the plan's value is impossible
    rep = check_solution(inst, _sol([1, 2], inst, bound=80.0, gap=0.0))
    assert any("upper bound" in v for v in rep.violations)
    rep = check_solution(inst, _sol([0, 2], inst, bound=90.0, gap=0.5))
    assert any("gap" in v for v in rep.violations)
    # minimising: a lower bound above the plan's value is impossible
    d = line4(2)
    rep = check_solution(d, _sol([1, 3], d, "distance", bound=3.0, gap=0.0))
    assert any("lower bound" in v for v in rep.violations)


def test_explain_per_site():
    inst = cover4(2)
    ex = per_site_explain(inst, np.array([0, 1]), "coverage")
    assert ex["site"].tolist() == [0, 1]
    assert ex["catchment_demand"].tolist() == [30.0, 50.0]
    # removing 0 loses cell 0 (10); removing 1 loses cell 2 (30); cell 1 is shared
    assert ex["marginal_value"].tolist() == [10.0, 30.0]
    assert ex["cannibalised_pct"] == pytest.approx([100 * 20 / 30, 100 * 20 / 50])
    d = line4(2)
    exd = per_site_explain(d, np.array([1, 3]), "distance")
    # without site 3, cell 3 travels 9 km instead of 0; without site 1 cells 0-2 go to 10
    assert exd["marginal_value"].tolist() == [10 + 9 + 8 - 2, 9.0]


def test_precheck_messages_name_keys():
    # the scenario's key names travel with the instance (planner.instance sets them)
    keys = ConstraintKeys(capex_budget="constraints.capex_budget_cny")
    probs = precheck(cover4(2, capex_cny=np.array([1.0, 5.0, 1.0]), capex_budget_cny=1.0, keys=keys))
    assert any("constraints.capex_budget_cny" in p for p in probs)
    # an instance built from arrays names the interchange format's fields instead
    probs = precheck(cover4(2, capex_cny=np.array([1.0, 5.0, 1.0]), capex_budget_cny=1.0))
    assert any("capex_budget_cny" in p and "constraints." not in p for p in probs)
    assert precheck(cover4(2)) == []
