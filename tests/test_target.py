"""planner target's search over store counts, on hand-made probes (no solver)."""

from __future__ import annotations

import pytest

from planner.target import search_counts


def exact(n: int) -> tuple[float, float]:
    """A plan with n stores reaches n % (share n/100) and the bound proves it (gap 0)."""
    return n / 100, n / 100


def test_exact_probes_give_the_count() -> None:
    # 25 % takes exactly 25 stores: 24 is proven short (bound 0.24 < 0.25)
    lo, hi, _ = search_counts(exact, lo=1, start=10, top=100, target=0.25)
    assert (lo, hi) == (25, 25)


def test_start_above_the_answer() -> None:
    lo, hi, _ = search_counts(exact, lo=5, start=80, top=100, target=0.25)
    assert (lo, hi) == (25, 25)


def test_gap_leaves_counts_undecided() -> None:
    """Plans reach n % but the bounds say (n + 3) %: 22..24 stay open.

    The bound at n is below 25 % only for n <= 21, so L = 22; a plan reaches
    25 % from 25 stores on, so U = 25.
    """
    def gappy(n: int) -> tuple[float, float]:
        return n / 100, (n + 3) / 100

    lo, hi, _ = search_counts(gappy, lo=1, start=10, top=100, target=0.25)
    assert (lo, hi) == (22, 25)


def test_unreachable_up_to_the_top() -> None:
    lo, hi, last = search_counts(exact, lo=1, start=10, top=20, target=0.25)
    assert hi is None and last == 20 and lo == 21


def test_no_plan_below_a_minimum_counts_as_short() -> None:
    def with_minimum(n: int) -> tuple[float | None, float | None]:
        return (None, None) if n < 30 else exact(n)

    lo, hi, _ = search_counts(with_minimum, lo=1, start=10, top=100, target=0.25)
    assert (lo, hi) == (30, 30)


@pytest.mark.parametrize("target", [0.05, 0.5, 0.99])
def test_probe_budget_is_respected(target: float) -> None:
    calls = []

    def counted(n: int) -> tuple[float, float]:
        calls.append(n)
        return exact(n)

    search_counts(counted, lo=1, start=10, top=100, target=target, max_probes=4)
    assert len(calls) <= 4


def test_feasible_counts_between_minimums_and_maximums() -> None:
    from planner.target import feasible_counts

    # minimums need 31 x 5 = 155 stores, maximums allow 31 x 120 = 3,720
    assert feasible_counts(lambda n: 155 <= n <= 3720, 150, 27000, hint=1000) == (155, 3720)
    assert feasible_counts(lambda n: n >= 10, 1, 100) == (10, 100)
    assert feasible_counts(lambda n: False, 1, 100) == (None, 100)
