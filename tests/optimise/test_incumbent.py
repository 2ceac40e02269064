"""The gap formula, the incumbent's accept/reject rules, and the clock (on a fake timer)."""

from __future__ import annotations

import numpy as np
import pytest
from micro import cover4, line4

import planner.optimise.incumbent as incumbent_mod
from planner.optimise.incumbent import Clock, Incumbent, relative_gap
from planner.optimise.model import compile_model


@pytest.mark.parametrize("objective, bound, maximise, gap", [
    (90.0, 100.0, True, 0.1),  # (100 - 90) / 100
    (110.0, 100.0, False, 10 / 110),  # (110 - 100) / 110
    (100.0, 100.0, True, 0.0),
    (100.0, 90.0, True, 0.0),  # bound below the plan (noise): never negative
    (90.0, 100.0, False, 0.0),
    (5.0, 0.0, True, 0.0),  # zero denominator
    (-5.0, -1.0, True, 0.0),  # negative denominator
    (0.0, -3.0, False, 0.0),
    (-2.0, -3.0, False, 0.0),
])
def test_relative_gap(objective: float, bound: float, maximise: bool, gap: float) -> None:
    assert relative_gap(objective, bound, maximise=maximise) == pytest.approx(gap)


def _mask(m: int, sites: list[int]) -> np.ndarray:
    out = np.zeros(m, dtype=bool)
    out[sites] = True
    return out


def test_plan_raises_before_any_plan() -> None:
    best = Incumbent(compile_model(cover4(2), "coverage"), None, Clock(10))
    with pytest.raises(RuntimeError, match="no incumbent"):
        _ = best.plan
    assert best.gap() == np.inf


def test_offer_accepts_only_feasible_strictly_better_plans() -> None:
    m = compile_model(cover4(2, conflict_a=np.array([1]), conflict_b=np.array([2])), "coverage")
    seen: list[dict] = []
    best = Incumbent(m, seen.append, Clock(10))
    assert not best.offer(_mask(3, [1]), "short")  # one store, two wanted
    assert not best.offer(_mask(3, [1, 2]), "clash")  # 90, but 1 and 2 conflict
    assert best.offer(_mask(3, [0, 1]), "a")  # 60
    assert not best.offer(_mask(3, [0, 1]), "again")  # equal is not better
    assert best.offer(_mask(3, [0, 2]), "b")  # 70
    assert not best.offer(_mask(3, [0, 1]), "worse")
    assert best.plan.tolist() == [True, False, True] and best.value == 70 and best.primal_by == "b"
    assert [s["stage"] for s in seen] == ["a", "b"]
    assert seen[-1]["incumbent"] == 70 and seen[-1]["bound"] is None


def test_offered_plan_is_copied() -> None:
    best = Incumbent(compile_model(cover4(2), "coverage"), None, Clock(10))
    mask = _mask(3, [1, 2])
    best.offer(mask, "x")
    mask[:] = False
    assert best.plan.tolist() == [False, True, True]


def test_offer_bound_keeps_the_minimum_and_gap() -> None:
    best = Incumbent(compile_model(cover4(2), "coverage"), None, Clock(10))
    best.offer_bound(120.0, "a")
    assert best.gap() == np.inf  # a bound but no plan
    best.offer(_mask(3, [0, 2]), "plan")  # 70
    best.offer_bound(100.0, "b")
    best.offer_bound(110.0, "c")
    assert (best.bound, best.bound_by) == (100.0, "b")
    assert best.gap() == pytest.approx(0.3)  # (100 - 70) / 100


def test_gap_in_user_units_when_minimising() -> None:
    # line4 distance: internal 398 is 2 km, internal 399 is 1 km; gap (2 - 1) / 2
    m = compile_model(line4(2), "distance")
    best = Incumbent(m, None, Clock(10))
    assert best.offer(_mask(4, [1, 3]), "plan")
    assert best.value == 398
    best.offer_bound(399.0, "lb")
    assert best.gap() == pytest.approx(0.5)


def test_clock_on_a_fake_timer(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [100.0]
    monkeypatch.setattr(incumbent_mod.time, "perf_counter", lambda: now[0])
    clock = Clock(10)
    now[0] = 103.0
    assert (clock.elapsed, clock.left) == (3.0, 7.0)
    now[0] = 125.0
    assert clock.left == 0.0  # never negative
