"""precheck: one case per counting argument, each message naming the scenario keys involved.

Every case runs on cover4 (3 sites, one location each) with scenario-style key names,
so a message that falls back to the interchange names (``stores``, ``fixed``...) fails.
"""

from __future__ import annotations

import numpy as np
import pytest
from micro import cover4, group

from planner.optimise.feasibility import forced_sites, min_existing_open, precheck
from planner.optimise.types import ConstraintKeys

KEYS = ConstraintKeys(
    stores="constraints.total_stores", forced="constraints.fixed_sites", forbidden="constraints.forbidden_sites",
    closures="constraints.max_closures", spacing="constraints.min_spacing_km",
    location="constraints.one_store_per_cell", capex_budget="budget.capex_cny", opex_budget="budget.opex_cny",
)


def _problems(stores: int, **kw: object) -> list[str]:
    return precheck(cover4(stores, keys=KEYS, **kw))


def _one(problems: list[str], *needles: str) -> str:
    """The single problem mentioning every needle."""
    hits = [p for p in problems if all(n in p for n in needles)]
    assert len(hits) == 1, problems
    return hits[0]


def test_clean_instance_has_no_problems() -> None:
    assert _problems(
        2, fixed=np.array([2]), existing=np.array([0]), max_closures=1,
        conflict_a=np.array([0]), conflict_b=np.array([1]),
        groups=[group([0, 1], lo=1, hi=1, key="constraints.province.min.A")],
        capex_cny=np.array([1.0, 2.0, 3.0]), capex_budget_cny=5.0,
    ) == []


def test_negative_store_count() -> None:
    _one(_problems(-1), "constraints.total_stores is -1")


def test_forced_and_forbidden() -> None:
    msg = _one(_problems(1, fixed=np.array([0]), forbidden=np.array([0])), "both forced open")
    assert "constraints.fixed_sites" in msg and "constraints.forbidden_sites" in msg


def test_forced_exceed_total() -> None:
    msg = _one(_problems(1, fixed=np.array([0, 1])), "2 forced stores")
    assert "constraints.total_stores = 1" in msg


def test_existing_kept_exceed_total() -> None:
    # three existing stores, none may close, two stores in all
    msg = _one(_problems(2, existing=np.array([0, 1, 2]), max_closures=0), "3 existing stores")
    assert "constraints.max_closures" in msg and "constraints.total_stores = 2" in msg


@pytest.mark.parametrize("kw", [{"forbidden": np.array([0])}, {"site_location": np.array([0, 0, 1])}])
def test_too_few_locations(kw: dict) -> None:
    msg = _one(_problems(3, **kw), "only 2 distinct candidate locations")
    assert "constraints.forbidden_sites" in msg and "constraints.one_store_per_cell" in msg


def test_two_forced_at_one_location() -> None:
    msg = _one(_problems(2, fixed=np.array([1, 2]), site_location=np.array([0, 1, 1])), "hold two forced")
    assert "constraints.one_store_per_cell" in msg


def test_forced_spacing_conflict() -> None:
    msg = _one(_problems(2, fixed=np.array([0, 1]), conflict_a=np.array([1]), conflict_b=np.array([0])),
               "forced stores are closer")
    assert "constraints.min_spacing_km" in msg and "(1, 0)" in msg


def test_group_min_above_max() -> None:
    _one(_problems(2, groups=[group([0, 1], lo=2, hi=1, key="constraints.city.max.X")]),
         "constraints.city.max.X", "minimum 2 exceeds maximum 1")


def test_group_min_above_total() -> None:
    msg = _one(_problems(2, groups=[group([0, 1, 2], lo=3, key="constraints.city.min.X")]),
               "constraints.city.min.X: minimum 3")
    assert "exceeds constraints.total_stores = 2" in msg


def test_group_min_above_its_open_locations() -> None:
    # site 1 is forbidden: only site 0 may open in the group
    _one(_problems(2, forbidden=np.array([1]), groups=[group([0, 1], lo=2, key="constraints.city.min.X")]),
         "constraints.city.min.X", "only 1 candidate location")


def test_forced_above_group_max() -> None:
    msg = _one(_problems(2, fixed=np.array([0, 1]), groups=[group([0, 1], hi=1, key="constraints.city.max.X")]),
               "constraints.city.max.X: 2 forced stores")
    assert "constraints.fixed_sites" in msg


def test_family_minimums_add_up() -> None:
    gs = [group([j], lo=1, key=f"constraints.province.min.P{j}") for j in range(3)]
    msg = _one(_problems(2, groups=gs), "the minimums of constraints.province add up to 3")
    assert "constraints.province.min.P2" in msg and "constraints.total_stores = 2" in msg


def test_overlapping_family_minimums_do_not_add_up() -> None:
    # {0, 1} and {1, 2} share site 1: one store there can serve both minimums
    gs = [group([0, 1], lo=1, key="constraints.province.min.A"), group([1, 2], lo=1, key="constraints.province.min.B")]
    assert _problems(1, groups=gs) == []


def test_family_maximums_add_up() -> None:
    gs = [group([0, 1], hi=1, key="constraints.tier.max.T1"), group([2], hi=1, key="constraints.tier.max.T2")]
    _one(_problems(3, groups=gs), "the maximums of constraints.tier add up to 2, fewer than constraints.total_stores = 3")


@pytest.mark.parametrize("which", ["capex", "opex"])
def test_budget_below_forced(which: str) -> None:
    kw = {f"{which}_cny": np.array([5.0, 5.0, 5.0]), f"{which}_budget_cny": 4.0, "fixed": np.array([0])}
    _one(_problems(2, **kw), f"budget.{which}_cny = 4 CNY is below the 5 CNY of the forced stores")


@pytest.mark.parametrize("which", ["capex", "opex"])
@pytest.mark.parametrize("budget, bad", [(3.5, True), (4.0, False)])
def test_budget_below_cheapest_plan(which: str, budget: float, bad: bool) -> None:
    # the two cheapest sites cost 1 + 3 = 4
    probs = _problems(2, **{f"{which}_cny": np.array([5.0, 1.0, 3.0]), f"{which}_budget_cny": budget})
    if bad:
        _one(probs, f"budget.{which}_cny", "the 4 CNY that even the cheapest 2 stores cost")
    else:
        assert probs == []


def test_budget_counts_existing_stores_that_must_stay() -> None:
    # existing site 0 (cost 5) cannot close, so the cheapest plan is 5 + 1 = 6 > 5.5 (not 1 + 1)
    probs = _problems(2, existing=np.array([0]), max_closures=0,
                      capex_cny=np.array([5.0, 1.0, 1.0]), capex_budget_cny=5.5)
    _one(probs, "budget.capex_cny", "the 6 CNY")
    assert min_existing_open(cover4(2, existing=np.array([0]))) == 1


def test_forced_sites_exclude_closable_existing() -> None:
    inst = cover4(2, fixed=np.array([0, 2]), existing=np.array([2]), max_closures=1)
    assert forced_sites(inst).tolist() == [0]
    assert min_existing_open(inst) == 0
