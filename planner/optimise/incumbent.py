"""What every search shares: the clock, the incumbent plan with its bound, and the gap.

``solve``, ``decompose``, ``lns`` and the rollout all report progress against the
same three things: how much time is left (``Clock``), the best plan found and the
best proven bound (``Incumbent``), and the relative gap between them
(``relative_gap``, one formula for the whole package; the checkers keep their
own on purpose).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from planner.optimise.model import Model, PlanState

Progress = Callable[[dict[str, Any]], None]


def relative_gap(objective: float, bound: float, *, maximise: bool) -> float:
    """Proven relative optimality gap, as a fraction (0.01 is 1 %).

    Parameters
    ----------
    objective : float
        The plan's objective, in the user's units.
    bound : float
        A proven bound on the optimum (upper when maximising, lower when minimising).
    maximise : bool
        The objective's sense.

    Returns
    -------
    float
        ``(bound - objective) / bound`` when maximising, ``(objective - bound) / objective``
        when minimising; 0 when the denominator is not positive, never negative.
    """
    if maximise:
        gap = (bound - objective) / bound if bound > 0 else 0.0
    else:
        gap = (objective - bound) / objective if objective > 0 else 0.0
    return max(0.0, float(gap))


class Clock:
    """Wall-clock budget of one solve (seconds since construction, seconds left)."""

    def __init__(self, limit_s: float) -> None:
        self.t0 = time.perf_counter()
        self.limit = float(limit_s)

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.t0

    @property
    def left(self) -> float:
        return max(0.0, self.limit - self.elapsed)


class Incumbent:
    """Incumbent plan and bound in the model's internal (maximised) units.

    ``offer`` accepts a plan only when it is feasible and strictly better;
    ``offer_bound`` keeps the smallest bound offered. Each improvement is
    reported to ``progress`` (when given) in the user's units.
    """

    def __init__(self, model: Model, progress: Progress | None, clock: Clock) -> None:
        self.m = model
        self.mask: np.ndarray | None = None
        self.value = -np.inf
        self.bound = np.inf
        self.primal_by = ""
        self.bound_by = ""
        self.progress = progress
        self.clock = clock

    @property
    def plan(self) -> np.ndarray:
        """The incumbent's open mask; only once a plan has been accepted."""
        if self.mask is None:
            raise RuntimeError("no incumbent plan yet")  # our bug: callers offer a plan first
        return self.mask

    def offer(self, mask: np.ndarray, how: str) -> bool:
        if int(mask.sum()) != self.m.p or not PlanState(self.m, mask).feasible():
            return False  # relaxations' plans may break side constraints
        v = (self.m.full or self.m).value(mask)
        if v > self.value + 1e-12 * max(1.0, abs(v)):
            self.mask, self.value, self.primal_by = mask.copy(), v, how
            self._report(how)
            return True
        return False

    def offer_bound(self, b: float, how: str) -> None:
        if b < self.bound:
            self.bound, self.bound_by = b, how
            self._report(how)

    def gap(self) -> float:
        if not np.isfinite(self.bound) or self.mask is None:
            return float(np.inf)
        return relative_gap(
            self.m.user_objective(self.value), self.m.user_objective(self.bound), maximise=self.m.maximise
        )

    def _report(self, stage: str) -> None:
        if self.progress is None:
            return
        gap = self.gap()
        self.progress(
            {
                "stage": stage,
                "incumbent": self.m.user_objective(self.value) if self.mask is not None else None,
                "bound": self.m.user_objective(self.bound) if np.isfinite(self.bound) else None,
                "gap": gap if np.isfinite(gap) else None,
                "seconds": self.clock.elapsed,
            }
        )
