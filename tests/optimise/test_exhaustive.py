"""Enumeration: counts plans by hand, returns the brute-force optimum, declines what it cannot do."""

from __future__ import annotations

import numpy as np
import pytest
from micro import brute_optimum, cover4, group, random_instance

from planner.optimise.exhaustive import best_plan, plan_count
from planner.optimise.model import compile_model
from planner.optimise.types import Instance


def _sites(mask: np.ndarray | None) -> tuple[int, ...] | None:
    return None if mask is None else tuple(np.flatnonzero(mask).tolist())


@pytest.mark.parametrize("kw, count", [
    ({"stores": 2}, 3),  # C(3, 2)
    ({"stores": 1}, 3),
    ({"stores": 2, "fixed": np.array([0])}, 2),  # one of the two others: C(2, 1)
    ({"stores": 2, "forbidden": np.array([1])}, 1),  # C(2, 2)
    ({"stores": 2, "capex_cny": np.ones(3)}, 3),  # a cost without a budget constrains nothing
    ({"stores": 4}, None),  # more stores than sites
    ({"stores": 1, "fixed": np.array([0, 1])}, None),  # more forced than stores
])
def test_plan_count_by_hand(kw: dict, count: int | None) -> None:
    assert plan_count(compile_model(cover4(**kw), "coverage")) == count


@pytest.mark.parametrize("kw", [
    {"groups": [group([0, 1], hi=1)]},
    {"site_location": np.array([0, 0, 1])},
    {"conflict_a": np.array([0]), "conflict_b": np.array([2])},
    {"capex_cny": np.ones(3), "capex_budget_cny": 5.0},
    {"opex_cny": np.ones(3), "opex_budget_cny": 5.0},
])
def test_side_constraints_decline(kw: dict) -> None:
    m = compile_model(cover4(2, **kw), "coverage")
    assert plan_count(m) is None
    assert best_plan(m) is None


def test_limits_decline() -> None:
    m = compile_model(cover4(2), "coverage")
    # 3 plans; work = 3 plans x 4 cells x 2 stores = 24
    assert best_plan(m, max_plans=2) is None
    assert _sites(best_plan(m, max_plans=3)) == (1, 2)
    assert best_plan(m, max_work=23) is None
    assert _sites(best_plan(m, max_work=24)) == (1, 2)


@pytest.mark.parametrize("p, sites", [(1, (1,)), (2, (1, 2)), (3, (0, 1, 2))])
def test_cover4_by_hand(p: int, sites: tuple[int, ...]) -> None:
    assert _sites(best_plan(compile_model(cover4(p), "coverage"))) == sites


def test_ties_take_the_first_plan() -> None:
    # four sites, each alone on a cell of weight 1, 3, 3, 2: sites 1 and 2 tie for p=1
    inst = Instance(weight=np.array([1.0, 3.0, 3.0, 2.0]), pair_cell=np.arange(4, dtype=np.int32),
                    pair_site=np.arange(4, dtype=np.int32), pair_km=np.zeros(4), n_sites=4, stores=1,
                    radius_km=np.ones(4))
    assert _sites(best_plan(compile_model(inst, "coverage"))) == (1,)


@pytest.mark.parametrize("kind, decay", [
    ("coverage", "step"), ("coverage", "linear"), ("coverage", "exponential"),
    ("distance", "step"), ("market_share", "step"),
])
@pytest.mark.parametrize("fixed", [False, True])
@pytest.mark.parametrize("seed", range(4))
def test_equals_brute_force(kind: str, decay: str, fixed: bool, seed: int) -> None:
    kw: dict[str, object] = {"decay": decay, "forbidden": np.array([(seed + 3) % 7])}
    if fixed:
        kw["fixed"] = np.array([seed % 7])
    inst = random_instance(seed, n_cells=10, n_sites=7, stores=3, **kw)
    m = compile_model(inst, kind)
    opt, plans = brute_optimum(inst, kind)
    got = _sites(best_plan(m))
    assert got in plans, (got, plans, opt)
