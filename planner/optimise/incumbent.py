"""What every search shares: the budgets, the incumbent plan with its bound, and the gap.

``solve``, ``decompose``, ``lns`` and the rollout all report progress against the
same things: how much *work* is left (``Work``, the deterministic budget every
decision is taken on), the wall-clock safety net (``Clock``, which only stops a
search and records that it did), the best plan found and the best proven bound
(``Incumbent``), and the relative gap between them (``relative_gap``, one formula
for the whole package; the checkers keep their own on purpose).

Why two budgets: a plan must not depend on the machine's load. Work is counted
in *nominal seconds*, estimated from sizes and counts (an iteration over so many
pairs, a MIP over so many pairs, a window) by the cost model below and never
measured, so every choice taken on ``Work.left`` is the same on every run of the
same instance and settings. The model is calibrated on the project's 2-core
reference VM; a faster machine simply finishes the same search sooner. The wall
clock only cuts a run short when the machine is far slower than the model
expects; then the plan may differ from run to run, and the solve says so
(``status = "time_limit"`` and a warning).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from planner.optimise.model import Model, PlanState

Progress = Callable[[dict[str, Any]], None]

#: Nominal seconds of work a solve plans per second of its wall-clock limit: the
#: rest of the limit is headroom, so a run on a loaded machine (about 1.5x slower than
#: the idle reference VM: two busy processes competing for its two cores) still
#: finishes its deterministic search. A nominal second is about 0.87 CPU seconds there.
WORK_PER_LIMIT_S = 0.6

# --- the cost model: nominal seconds on the reference VM (see the module docstring),
# calibrated on its CPU time (which a loaded machine inflates far less than wall time).
# Recalibrated 2026-12-03 19:05 UTC on the idle VM (load < 1), about 1.15x the CPU time
# measured there (`LAGRANGIAN`: 6.4e-9 on pmed22/40, 1.2-1.3e-8 per pair on the 0.3-0.9 M
# pair China-like instance; the market-share and profit ones on the national default,
# 1.66 M pairs: 1.3e-7, 1.9e-7, 2.0e-7 and 1.1e-7 per pair for the cell-hull, profit and
# regional iterations and a profit move round): constants set under load had charged 2-5x.
#: One subgradient iteration of the cell Lagrangian (``bounds``), per pair.
LAGRANGIAN_S_PER_PAIR = 1.5e-8
#: One iteration of the per-region Lagrangian (``decompose``), per pair of the open
#: regions, and per cell and site for its whole-instance passes.
REGIONAL_LAGRANGIAN_S_PER_PAIR = 1.8e-8
#: One round of the swap search (move tables and candidates), per pair; per pair-pair of its
#: move tables (market share: an open site's pair times its cell's other pairs); per swap
#: checked against the constraints (groups, spacing, locations). Measured 2026-12-04 on the
#: idle VM, 8 rounds from the greedy plan: China-like distance 0.061 s a round (0.92 M pairs),
#: uniform 0.136 s (1.76 M), national coverage 0.240 s (1.63 M pairs, 4,900 checks a round:
#: its 62 province limits), China-like market share 0.435 s (1.07 M, 2.43 M pair-pairs),
#: uniform 0.72 s (1.96 M, 4.0 M); this model charges 1.0-1.4x that (the per-pair constants it
#: replaced, 2e-7 and 2.5e-7 for market share, 0.6-3x).
SWAP_ROUND_S_PER_PAIR = 7.5e-8
SWAP_ROUND_S_PER_PAIR_PAIR = 1.6e-7
SWAP_CHECK_S = 2.6e-5
#: The move tables alone (one step of re-balancing merged regional plans), per pair.
MOVE_TABLES_S_PER_PAIR = 5e-8
#: One iteration of the cell-hull Lagrangians (market share and profit; ``market_share_bounds.
#: cell_hull_seconds``): per pair, per subset value of the cells' tables and per cell.
#: Measured 2026-12-04 on the idle VM (30 iterations each, the tables at the greedy plan):
#: national default 0.187 s (1.66 M pairs, 16.7 M table entries, 378 k cells), China-like
#: 0.122 s (1.07 M, 16.8 M, 86 k), the same without rivals 0.041 s (no tables: step cells),
#: uniform 0.198 s (1.96 M, 16.8 M, 100 k); this model charges 1.0-1.5x that. The per-pair
#: constants it replaced (1.6e-7, profit 2.5e-7) charged 1.4-6.5x: tables, not pairs, cost.
CELL_HULL_S_PER_PAIR = 5.5e-8
CELL_HULL_S_PER_ENTRY = 5e-9
CELL_HULL_S_PER_CELL = 3e-8
#: One iteration of its per-region form (``decompose.regional_market_share``, market share
#: and profit): per pair and per subset value of the regions still open, per cell (its
#: whole-instance sums). Measured as above (per iteration, the tables of the open regions):
#: national 0.203 s (1.17 M pairs, 12.3 M entries), China-like 0.185 s (1.02 M, 16.5 M),
#: without rivals 0.076 s (0.79 M, none), uniform 0.333 s (1.94 M, 16.8 M); this model
#: charges 0.96-1.4x that, the per-pair constants it replaced 1.3-2.4x.
REGIONAL_CELL_HULL_S_PER_PAIR = 1.2e-7
REGIONAL_CELL_HULL_S_PER_ENTRY = 5e-9
#: One iteration of the tangent-cut market-share bound, per pair.
TANGENT_S_PER_PAIR = 4e-8
#: Building the market share's cell tables, per pair and per subset value (measured as above:
#: national 1.15 s, China-like 0.87 s, uniform 1.50 s, without rivals 0.03 s).
CELL_TABLES_S_PER_PAIR = 4e-7
CELL_TABLES_S_PER_ENTRY = 4e-8
#: Compiling the model, the greedy start and the components, per pair.
SETUP_S_PER_PAIR = 6e-7
#: A MIP that closes at or near its root: fixed part, per pair in its scope and per
#: benefit level with a variable of its own (``mip``'s z: about one per cell for step
#: coverage, one per pair for distance, whose LPs are the harder ones).
MIP_S = 0.01
MIP_S_PER_PAIR = 6e-6
MIP_S_PER_LEVEL = 5e-5
#: One branch-and-bound node: fixed part and per pair in the MIP's scope.
NODE_S = 1e-3
NODE_S_PER_PAIR = 2e-6
#: One node of the Lagrangian tree search (``tree_search``): fixed part, per pair of
#: the node's model (restricting it, fixing by reduced costs) and per pair and
#: subgradient iteration of its Lagrangian (the nodes' models are small and most of
#: their iterations stop early, so this is below ``LAGRANGIAN_S_PER_PAIR``).
TREE_NODE_S = 1e-3
TREE_NODE_S_PER_PAIR = 2e-8
TREE_LAGRANGIAN_S_PER_PAIR = 9e-9
#: One node of the market-share searches (``tree_search``): fixed part and per entry
#: of the dense cells x candidates matrix the node values (Huff gains of every candidate).
MS_NODE_S = 2e-5
MS_NODE_S_PER_ENTRY = 8e-9
#: The same for a node (and a region's set-up) of the priced regional branching
#: (``tree_search.market_share_priced_regions``: many small regions, more overhead per node).
PRICED_NODE_S = 4e-5
PRICED_NODE_S_PER_ENTRY = 1.5e-8
#: One round of the profit move search (open, close and swap values), per pair, plus per
#: pair-pair of its extra table (an open site's pair times its cell's other pairs: dense
#: cells make many; measured 2026-12-04 on the national default, 0.29 M of them, 0.15 s a
#: round, and on the uniform family, 6.0 M, 1.1 s a round).
PROFIT_ROUND_S_PER_PAIR = 7e-8
PROFIT_ROUND_S_PER_PAIR_PAIR = 1.7e-7


def mip_seconds(pairs: int, levels: int = 0) -> float:
    """Nominal seconds of a MIP over ``pairs`` pairs and ``levels`` level variables that closes near its root."""
    return MIP_S + MIP_S_PER_PAIR * float(pairs) + MIP_S_PER_LEVEL * float(levels)


def node_limit(nominal_s: float, pairs: int, *, least: int = 20) -> int:
    """Branch-and-bound nodes a MIP over ``pairs`` pairs may use in ``nominal_s`` nominal seconds."""
    per = NODE_S + NODE_S_PER_PAIR * float(pairs)
    return max(least, int(max(0.0, nominal_s) / per))


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


def outcome(gap: float | None, clock: Clock, time_limit_key: str) -> tuple[str, str | None]:
    """A finished solve's status and, when the safety net fired, its warning.

    ``"optimal"`` when the proven gap is (numerically) zero, else ``"time_limit"``
    when the wall clock cut a stage short (``clock.cut``), else ``"feasible"``.
    The warning names the scenario key of the limit and the stages cut short: such
    a plan may differ from another run of the same scenario.
    """
    if gap is not None and gap <= 1e-9:
        status = "optimal"
    elif clock.cut:
        status = "time_limit"
    else:
        status = "feasible"
    if not clock.cut:
        return status, None
    warning = (
        f"the wall-clock limit ({time_limit_key} = {clock.limit:g} s) cut short: "
        + ", ".join(clock.cut)
        + "; the machine ran slower than the work budget assumes, so this plan may differ "
        "from another run of the same scenario (rerun on a less loaded machine to reproduce it)"
    )
    return status, warning


class Clock:
    """Wall-clock safety net of one solve: seconds since construction, seconds left.

    Searches take their decisions on ``Work``; they consult the clock only to stop
    early (``expired``), which records the stage cut short in ``cut``.
    """

    def __init__(self, limit_s: float) -> None:
        self.t0 = time.perf_counter()
        self.limit = float(limit_s)
        self.cut: list[str] = []

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.t0

    @property
    def left(self) -> float:
        return max(0.0, self.limit - self.elapsed)

    @property
    def deadline(self) -> float:
        """``time.perf_counter()`` value at which the limit runs out."""
        return self.t0 + self.limit

    def expired(self, stage: str, share: float = 1.0) -> bool:
        """Whether ``share`` of the limit has run out; if so, ``stage`` is recorded as cut short.

        A share below 1 keeps the rest of the limit for the stages that follow
        (e.g. merging the regional plans after the regional MIPs).
        """
        if self.elapsed < share * self.limit:
            return False
        self.note(stage)
        return True

    def note(self, stage: str) -> None:
        """Record that the clock cut ``stage`` short (the search stopped on it, not on its work)."""
        if stage not in self.cut:
            self.cut.append(stage)


class Work:
    """Deterministic budget of one solve, in nominal seconds (see the module docstring).

    ``charge`` adds the estimated cost of what was just done; ``left`` is what
    remains. Nothing here reads a clock.
    """

    def __init__(self, limit_s: float) -> None:
        self.limit = max(0.0, float(limit_s))
        self.spent = 0.0

    @property
    def left(self) -> float:
        return max(0.0, self.limit - self.spent)

    def charge(self, nominal_s: float) -> None:
        self.spent += max(0.0, float(nominal_s))

    @staticmethod
    def iterations(nominal_s: float, per_iteration_s: float, *, cap: int, least: int = 1) -> int:
        """Iterations of ``per_iteration_s`` nominal seconds that fit in ``nominal_s`` (within ``least..cap``)."""
        if per_iteration_s <= 0:
            return cap
        n = math.floor(max(0.0, nominal_s) / per_iteration_s)
        return int(min(cap, max(least, n)))


class Incumbent:
    """Incumbent plan and bound in the model's internal (maximised) units.

    ``offer`` accepts a plan only when it is feasible and strictly better;
    ``offer_bound`` keeps the smallest bound offered. Each improvement is
    reported to ``progress`` (when given) in the user's units. It carries the
    solve's budgets: ``work`` (default ``WORK_PER_LIMIT_S`` times the clock's
    limit) and ``clock``.
    """

    def __init__(self, model: Model, progress: Progress | None, clock: Clock, work: Work | None = None) -> None:
        self.m = model
        self.mask: np.ndarray | None = None
        self.value = -np.inf
        self.bound = np.inf
        self.primal_by = ""
        self.bound_by = ""
        self.progress = progress
        self.clock = clock
        self.work = work if work is not None else Work(WORK_PER_LIMIT_S * clock.limit)

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
