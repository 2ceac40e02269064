"""Lagrangian tree search: an exact method for facility models the LP does not close.

The cell Lagrangian (``bounds.lagrangian_facility``) converges to the LP
relaxation's value, which on p-median instances with few stores (p = 5 or 10
on OR-Library) sits up to 1-2 % below the optimum. A MIP over the candidates
that reduced-cost fixing leaves spends most of its time solving LPs of a
10,000-row model. This search branches instead, in the manner of Beasley's
(1985) Lagrangian tree search: a node fixes a set ``T`` open and a set ``C``
closed; its bound is the Lagrangian with those fixings, warm-started from
its parent's multipliers; reduced-cost fixing at the node shrinks it further.
Children partition the node's plans by their first open site in an order
(``o_1`` open; ``o_1`` closed and ``o_2`` open; ...), so every plan lies in
exactly one child. A node is pruned once its bound cannot beat the incumbent
(by more than ``slack``), and the largest bound pruned that way is kept, so
the final bound is valid whatever the slack.

Only plain instances are searched (the count, fixed and forbidden sites; no
location, spacing, group or budget limits), where every relaxation plan of
the right size is feasible.
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from planner.optimise.bounds import lagrangian_facility, reduced_cost_fixing
from planner.optimise.model import Model

log = logging.getLogger(__name__)


@dataclass
class TreeResult:
    """Outcome of :func:`lagrangian_tree_search` (internal, maximised units)."""

    value: float  # best plan's value (the incumbent's if nothing better was found)
    plan: np.ndarray | None  # a better plan than the incumbent, if one was found
    bound: float  # proven upper bound (np.inf when the search could not start)
    complete: bool  # every node was settled (bound = max(value, pruned bounds))
    nodes: int


def searchable(model: Model) -> bool:
    """Whether the tree search applies: a facility model with only the count, fixed and forbidden sites."""
    return bool(
        model.facility
        and not model.groups
        and model.conf_adj.size == 0
        and model.capex is None
        and model.opex is None
        and model.n_loc == model.n_sites
    )


def restrict(model: Model, closed: np.ndarray, forced: np.ndarray) -> Model:
    """The model with the sites ``closed`` removed (their pairs dropped) and ``forced`` open.

    Cells keep their index (a cell may be left with no pair); the result only
    serves the Lagrangian and fixing, which read pairs, sites and locations.
    """
    keep = ~closed[model.ps]
    out = copy.copy(model)
    out.pc, out.ps, out.val = model.pc[keep], model.ps[keep], model.val[keep]
    out.cell_ptr = np.searchsorted(out.pc, np.arange(model.n_cells + 1)).astype(np.int64)
    out.allowed = model.allowed & ~closed
    out.forced = model.forced | forced
    return out


def lagrangian_tree_search(
    model: Model,
    incumbent_value: float,
    u0: np.ndarray,
    *,
    deadline: float,
    slack: float = 0.0,
    on_plan: Callable[[np.ndarray], float | None] | None = None,
    node_iter: int = 300,
) -> TreeResult:
    """Prove (or improve) the incumbent by a Lagrangian tree search.

    Parameters
    ----------
    model : Model
        A facility model for which :func:`searchable` holds (possibly
        truncated: plans are then valued on ``model.full``).
    incumbent_value : float
        Internal value of the best known plan.
    u0 : ndarray
        Starting multipliers (the root Lagrangian's).
    deadline : float
        ``time.perf_counter()`` by which to stop; an unfinished search returns
        the largest bound of its open nodes (valid, but no proof).
    slack : float
        A node is pruned when its bound is at most ``value + slack`` (for an
        integral objective ``1 - 1e-6`` proves optimality).
    on_plan : callable, optional
        Called with every better plan found (the caller's incumbent).
    node_iter : int
        Subgradient iterations per node.

    Returns
    -------
    TreeResult
    """
    assert searchable(model)
    full = model.full if model.full is not None else model
    best_v = float(incumbent_value)
    best_plan: np.ndarray | None = None
    pruned = -np.inf
    nodes = 0

    def offer(sel: np.ndarray) -> float | None:
        nonlocal best_v, best_plan
        if int(sel.sum()) != model.p:
            return best_v
        v = full.value(sel)
        if v > best_v + 1e-9 * max(1.0, abs(best_v)):
            best_v, best_plan = v, sel.copy()
            if on_plan is not None:
                on_plan(sel)
        return best_v

    # a node: (parent's model, closed mask, forced mask, multipliers, parent's bound); depth first
    no = np.zeros(model.n_sites, dtype=bool)
    stack: list[tuple[Model, np.ndarray, np.ndarray, np.ndarray, float]] = [(model, no, no, u0, np.inf)]
    open_bounds: list[float] = []
    while stack:
        parent, closed, forced, u, parent_b = stack.pop()
        if parent_b <= best_v + slack:
            pruned = max(pruned, parent_b)
            continue
        if time.perf_counter() > deadline:
            open_bounds.append(parent_b)
            open_bounds.extend(s[4] for s in stack)
            break
        nodes += 1
        sub = restrict(parent, closed, forced)
        n_forced = int(sub.forced.sum())
        free = sub.allowed & ~sub.forced
        if n_forced > model.p or n_forced + int(free.sum()) < model.p:
            continue  # no plan in this node
        if n_forced == model.p or n_forced + int(free.sum()) == model.p:
            # one plan left: its value is the node's bound
            sel = sub.forced | free
            offer(sel)
            pruned = max(pruned, full.value(sel))
            continue
        if n_forced == model.p - 1:
            # each free site completes the plan: value them all exactly
            _last_site(full, sub.forced, free, offer)
            pruned = max(pruned, best_v)
            continue
        gap_stop = slack / max(abs(best_v), 1e-12)
        lag = lagrangian_facility(
            sub, best_v, u, time_limit_s=max(0.0, deadline - time.perf_counter()),
            max_iter=node_iter, gap_stop=gap_stop, on_plan=offer, plan_every=10,
        )
        b = min(lag.bound, parent_b)
        if b <= best_v + slack:
            pruned = max(pruned, b)
            continue
        out, in_, worst = reduced_cost_fixing(sub, lag, best_v, slack=slack)
        pruned = max(pruned, worst)
        closed2 = closed | out
        forced2 = forced | in_
        cand = np.flatnonzero(sub.allowed & ~sub.forced & ~out & ~in_)
        if in_.any() or cand.size == 0:
            stack.append((sub, closed2, forced2, lag.u, b))
            continue
        # children, strongest first: o_k open with o_1..o_{k-1} closed. The last one
        # explored (top of the stack) is the most promising.
        order = cand[np.argsort(-lag.rho[cand], kind="stable")]
        children = []
        shut = closed2.copy()
        for j in order:
            f = forced2.copy()
            f[j] = True
            children.append((sub, shut.copy(), f, lag.u, b))
            shut[j] = True
        stack.extend(reversed(children))
    complete = not open_bounds
    bound = max(best_v, pruned, max(open_bounds) if open_bounds else -np.inf)
    log.debug("tree search: %d nodes, value %.6g, bound %.6g, complete %s", nodes, best_v, bound, complete)
    return TreeResult(best_v, best_plan, float(bound), complete, nodes)


def _last_site(full: Model, forced: np.ndarray, free: np.ndarray, offer: Callable[[np.ndarray], float | None]) -> None:
    """Offer the best plan ``forced + {j}`` over the free sites ``j`` (exact values)."""
    base_cells = full.cell_values(forced) / 1.0
    # per cell the best benefit of the forced sites (facility form: cell value is that benefit)
    gain = np.maximum(full.val - base_cells[full.pc], 0.0)
    per_site = np.bincount(full.ps, weights=gain, minlength=full.n_sites)
    per_site[~free] = -np.inf
    j = int(np.argmax(per_site))
    sel = forced.copy()
    sel[j] = True
    offer(sel)
