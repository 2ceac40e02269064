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

Market share has its own search (:func:`market_share_tree_search`), for
small dense instances such as the maximum-capture (logit) ones of the
literature: the objective is monotone and submodular (each cell's share is
concave in its own stores' strength), so a node fixing ``T`` open is bounded
by ``f(T)`` plus its best ``r`` marginal gains (Nemhauser and Wolsey), and by
the cell-hull Lagrangian at fixed multipliers with ``T`` forced; each node
costs one pass over a dense cells x candidates matrix.
"""

from __future__ import annotations

import copy
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from planner.optimise.bounds import lagrangian_facility, reduced_cost_fixing
from planner.optimise.incumbent import (
    MS_NODE_S,
    MS_NODE_S_PER_ENTRY,
    PRICED_NODE_S,
    PRICED_NODE_S_PER_ENTRY,
    TREE_LAGRANGIAN_S_PER_PAIR,
    TREE_NODE_S,
    TREE_NODE_S_PER_PAIR,
    Work,
)
from planner.optimise.market_share_bounds import CellTables, cell_terms
from planner.optimise.model import Model, dot, huff, weigh_columns

log = logging.getLogger(__name__)


@dataclass
class TreeResult:
    """Outcome of :func:`lagrangian_tree_search` (internal, maximised units)."""

    value: float  # best plan's value (the incumbent's if nothing better was found)
    plan: np.ndarray | None  # a better plan than the incumbent, if one was found
    bound: float  # proven upper bound (np.inf when the search could not start)
    complete: bool  # every node was settled (bound = max(value, pruned bounds))
    nodes: int
    work_s: float = 0.0  # nominal seconds spent (``incumbent``'s cost model)
    clock_cut: bool = False  # the wall-clock deadline (the safety net) stopped it, not its work


#: Largest dense cells x candidates matrix the market-share search builds (floats).
MS_MAX_DENSE = 2**22


def searchable(model: Model) -> bool:
    """Whether the tree searches apply: only the count, fixed and forbidden sites constrain plans.

    (For market share, see also :func:`market_share_searchable`.)
    """
    return bool(
        not model.groups
        and model.conf_adj.size == 0
        and model.capex is None
        and model.opex is None
        and model.n_loc == model.n_sites
    )


def restrict(model: Model, closed: np.ndarray, forced: np.ndarray) -> Model:
    """The model with the sites ``closed`` removed (their pairs dropped) and ``forced`` open.

    Cells keep their index (a cell may be left with no pair); the result only
    serves the Lagrangian and fixing, which read pairs, sites and locations, and
    values plans on its ``full`` model (the unrestricted, untruncated one).
    """
    keep = ~closed[model.ps]
    out = copy.copy(model)
    out.pc, out.ps, out.val = model.pc[keep], model.ps[keep], model.val[keep]
    out.cell_ptr = np.searchsorted(out.pc, np.arange(model.n_cells + 1)).astype(np.int64)
    out.allowed = model.allowed & ~closed
    out.forced = model.forced | forced
    out.full = model.full if model.full is not None else model  # plans are valued on the whole model
    return out


def lagrangian_tree_search(
    model: Model,
    incumbent_value: float,
    u0: np.ndarray,
    *,
    work_s: float = math.inf,
    work: Work | None = None,
    deadline: float = math.inf,
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
    work_s : float
        The work budget (nominal seconds, ``incumbent``'s cost model): each node
        is charged ``TREE_NODE_S`` plus, per pair of its model,
        ``TREE_NODE_S_PER_PAIR`` and ``TREE_LAGRANGIAN_S_PER_PAIR`` per
        subgradient iteration it ran; no node starts once it is spent. An unfinished search
        returns the largest bound of its open nodes (valid, but no proof).
    work : incumbent.Work, optional
        Charged what the search spends.
    deadline : float
        ``time.perf_counter()`` value at which to stop whatever the work left:
        the wall-clock safety net (``TreeResult.clock_cut`` then says so).
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
    assert model.facility and searchable(model)
    full = model.full if model.full is not None else model
    best_v = float(incumbent_value)
    best_plan: np.ndarray | None = None
    pruned = -np.inf
    nodes = 0

    seen: set[bytes] = set()

    def offer(sel: np.ndarray) -> float | None:
        nonlocal best_v, best_plan
        if int(sel.sum()) != model.p:
            return best_v
        key = np.packbits(sel).tobytes()
        if key in seen:  # relaxation plans repeat a lot across nodes; valuing one costs a pass
            return best_v
        seen.add(key)
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
    spent = 0.0
    cut = False

    def charge(s: float) -> None:
        nonlocal spent
        spent += s
        if work is not None:
            work.charge(s)

    while stack:
        parent, closed, forced, u, parent_b = stack.pop()
        if parent_b <= best_v + slack:
            pruned = max(pruned, parent_b)
            continue
        cut = time.perf_counter() > deadline
        if spent >= work_s or cut:
            open_bounds.append(parent_b)
            open_bounds.extend(s[4] for s in stack)
            break
        nodes += 1
        sub = restrict(parent, closed, forced)
        charge(TREE_NODE_S + TREE_NODE_S_PER_PAIR * float(parent.pc.size))
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
            max_iter=node_iter, gap_stop=gap_stop, on_plan=offer, plan_every=20,
        )
        charge(TREE_LAGRANGIAN_S_PER_PAIR * float(sub.pc.size) * lag.iterations)
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
        # the node's multipliers bound each child at once: the child's own sites plus
        # the best r - 1 after it in the order (those before it are closed there)
        r = model.p - n_forced
        base = float(lag.u.sum() + lag.rho[sub.forced].sum())
        cum = np.concatenate([[0.0], np.cumsum(lag.rho[order])])
        k = np.arange(order.size)
        fits = k + r <= order.size
        child_b = base + cum[np.minimum(k + r, order.size)] - cum[k]
        children = []
        shut = closed2.copy()
        for i, j in enumerate(order):
            if not fits[i]:
                break  # too few sites left to fill the plan: no plan there
            if child_b[i] <= best_v + slack:
                pruned = max(pruned, float(child_b[i]))
            else:
                f = forced2.copy()
                f[j] = True
                children.append((sub, shut.copy(), f, lag.u, min(b, float(child_b[i]))))
            shut[j] = True
        stack.extend(reversed(children))
    cut = cut or time.perf_counter() > deadline  # a node's Lagrangian may have stopped on it
    complete = not open_bounds
    bound = max(best_v, pruned, max(open_bounds) if open_bounds else -np.inf)
    log.debug("tree search: %d nodes, value %.6g, bound %.6g, complete %s", nodes, best_v, bound, complete)
    return TreeResult(best_v, best_plan, float(bound), complete, nodes, spent, cut)


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


def market_share_searchable(model: Model) -> bool:
    """Whether :func:`market_share_tree_search` applies (plain constraints, a dense matrix of bounded size)."""
    free = int(np.sum(model.allowed & ~model.forced))
    return bool(not model.facility and searchable(model) and model.n_cells * free <= MS_MAX_DENSE)


def market_share_tree_search(
    model: Model,
    incumbent_value: float,
    mu: np.ndarray,
    tables: CellTables,
    *,
    work_s: float = math.inf,
    work: Work | None = None,
    deadline: float = math.inf,
    rel_slack: float = 1e-9,
    on_plan: Callable[[np.ndarray], float | None] | None = None,
) -> TreeResult:
    """Prove (or improve) a market-share plan by branching on the first open site.

    Parameters
    ----------
    model : Model
        A market-share model for which :func:`market_share_searchable` holds.
    incumbent_value : float
        Internal value of the best known plan.
    mu, tables : ndarray, CellTables
        Multipliers and cell models of a cell-hull Lagrangian
        (``market_share_bounds.market_share_lagrangian``); any ``mu >= 0`` is valid.
    work_s : float
        The work budget (nominal seconds): each node is charged ``MS_NODE_S``
        plus ``MS_NODE_S_PER_ENTRY`` per cell and candidate it values; no node
        starts once it is spent (the bound is then the largest of the open
        nodes': valid, not a proof).
    work : incumbent.Work, optional
        Charged what the search spends.
    deadline : float
        ``time.perf_counter()`` value at which to stop whatever the work left:
        the safety net (``TreeResult.clock_cut``).
    rel_slack : float
        A node is pruned when its bound is at most ``value * (1 + rel_slack)``.
    on_plan : callable, optional
        Called with every better plan found.

    Returns
    -------
    TreeResult
    """
    m = model
    assert market_share_searchable(m)
    x = np.zeros(m.val.size)
    mu = np.where(tables.free, np.maximum(mu, 0.0), 0.0)
    cells_part = tables.const + float(cell_terms(tables, mu, x, m.n_cells, m.pc, w=m.w).sum())
    rho = np.bincount(m.ps, weights=mu, minlength=m.n_sites)
    forced = m.forced
    cand = np.flatnonzero(m.allowed & ~forced)
    col = np.full(m.n_sites, -1, dtype=np.int64)
    col[cand] = np.arange(cand.size)
    on = col[m.ps] >= 0
    strength = np.zeros((m.n_cells, cand.size))
    strength[m.pc[on], col[m.ps[on]]] = m.val[on]
    w, c = m.w, m.pull
    rho_c = rho[cand]
    best_v, best_plan = float(incumbent_value), None
    pruned = -np.inf
    nodes = 0

    def beaten(b: float) -> bool:
        return b <= best_v + rel_slack * abs(best_v)

    s0 = np.bincount(m.pc, weights=np.where(forced[m.ps], m.val, 0.0), minlength=m.n_cells)
    n_free = m.p - int(forced.sum())
    # a node: (strength per cell, chosen candidates, remaining candidates, stores left,
    # Lagrangian part fixed so far, bound inherited)
    root = (s0, np.zeros(0, dtype=np.int64), np.arange(cand.size), n_free, cells_part + float(rho[forced].sum()), np.inf)
    stack: list[tuple[np.ndarray, np.ndarray, np.ndarray, int, float, float]] = [root] if 0 < n_free <= cand.size else []
    if n_free == 0 or n_free == cand.size:
        plan = forced.copy()
        plan[cand] = n_free > 0
        best_v = max(best_v, m.value(plan))
        pruned = best_v
    spent = 0.0
    cut = False
    while stack:
        cut = time.perf_counter() > deadline
        if spent >= work_s or cut:
            break
        s, chosen, rest, r, lag_part, parent_b = stack.pop()
        if beaten(parent_b):
            pruned = max(pruned, parent_b)
            continue
        nodes += 1
        cost = MS_NODE_S + MS_NODE_S_PER_ENTRY * float(m.n_cells) * float(rest.size)
        spent += cost
        if work is not None:
            work.charge(cost)
        share = huff(s, c)
        f_t = dot(w, share)
        gain = weigh_columns(w, huff(s[:, None] + strength[:, rest], np.broadcast_to(c[:, None], (c.size, rest.size))) - share[:, None])
        o = np.argsort(-gain, kind="stable")
        rest, gain = rest[o], gain[o]
        if r == 1:
            # the last store: every completion valued exactly
            v = f_t + float(gain[0])
            if v > best_v:
                best_v = v
                best_plan = forced.copy()
                best_plan[cand[np.append(chosen, rest[0])]] = True
                if on_plan is not None:
                    on_plan(best_plan)
            pruned = max(pruned, v)
            continue
        lag_b = lag_part + float(np.sort(rho_c[rest])[-r:].sum())
        sub_b = f_t + float(gain[:r].sum())
        b = min(parent_b, lag_b, sub_b)
        if beaten(b):
            pruned = max(pruned, b)
            continue
        # child k opens rest[k] with rest[:k] closed; by submodularity its plans are
        # worth at most f(T) + gain_k + the next r - 1 gains
        n_child = rest.size - r + 1
        cum = np.concatenate([[0.0], np.cumsum(gain)])
        k = np.arange(n_child)
        child_b = f_t + gain[k] + cum[k + r] - cum[k + 1]
        keep = child_b > best_v + rel_slack * abs(best_v)
        if np.any(~keep):
            pruned = max(pruned, float(child_b[~keep].max()))
        for kk in np.flatnonzero(keep)[::-1]:
            j = rest[kk]
            stack.append(
                (s + strength[:, j], np.append(chosen, j), rest[kk + 1 :], r - 1,
                 lag_part + float(rho_c[j]), min(b, float(child_b[kk])))
            )
    complete = not stack
    bound = max(best_v, pruned, max((t[5] for t in stack), default=-np.inf))
    log.debug("market-share tree search: %d nodes, value %.6g, bound %.6g, complete %s", nodes, best_v, bound, complete)
    return TreeResult(best_v, best_plan, float(bound), complete, nodes, spent, cut)


def market_share_priced_regions(
    model: Model,
    cell_region: np.ndarray,
    site_region: np.ndarray,
    regions: np.ndarray,
    lam: float,
    mu: np.ndarray,
    tables: CellTables,
    *,
    work_s: float = math.inf,
    work: Work | None = None,
    deadline: float = math.inf,
    rel_slack: float = 1e-9,
    max_nodes: int = 20_000,
    max_dense: int = 2**22,
    site_price: np.ndarray | None = None,
) -> np.ndarray:
    """Bounds on each region's priced optimum ``max f_c(S) - lam |S|`` (forced sites in ``S``), by branching.

    The decomposition's regional bound (``decompose.regional_market_share``)
    prices the store count at ``lam``; its gap sits in many small regions.
    Here a region's plans are searched in the order of the first open site,
    every node being a plan itself. A node ``T`` with candidates ``R`` is
    bounded by ``g(T) + sum over R of max(0, gain_j(T) - lam)`` (submodular
    shares) and by the cell-hull Lagrangian at ``mu`` with ``T`` fixed; a site
    whose gain is not positive is dropped from ``R`` (by submodularity it never
    helps below). Location, spacing, group and budget limits are dropped,
    which only loosens the bound.

    Parameters
    ----------
    model : Model
        Market-share model.
    cell_region, site_region : ndarray
        Region of every cell and site (``decompose.components``).
    regions : ndarray
        Regions to search, in order, while time is left.
    lam : float
        Price of a store.
    mu, tables : ndarray, CellTables
        Multipliers and cell models of a cell-hull Lagrangian.
    work_s : float
        The work budget (nominal seconds): building a region's dense matrix is
        charged ``PRICED_NODE_S_PER_ENTRY`` per cell and free site, each node
        ``PRICED_NODE_S`` plus that per cell and candidate it values; the search
        stops once it is spent (the region being searched keeps its open
        nodes' bound).
    work : incumbent.Work, optional
        Charged what the search spends.
    deadline : float
        ``time.perf_counter()`` value to stop by whatever the work left: the
        safety net (the caller notes it from its clock).
    rel_slack : float
        Prune a node whose bound is within this (relative to the region's
        target scale) of the best plan.
    max_nodes, max_dense : int
        Per-region work limits (nodes; cells x sites of the dense matrix).
    site_price : ndarray, optional
        float[M] a price per site on top of ``lam`` (the profit objective's
        fixed costs, ``optimise.profit``): the bound is then on
        ``max f_c(S) - sum over S of (lam + site_price)``.

    Returns
    -------
    ndarray
        float[number of regions] a valid bound for each region searched
        (``inf`` elsewhere; a stopped search gives its open nodes' largest).
    """
    m = model
    k = int(max(cell_region.max(initial=-1), site_region.max(initial=-1))) + 1
    out = np.full(k, np.inf)
    mu = np.where(tables.free, np.maximum(mu, 0.0), 0.0)
    x = np.zeros(m.val.size)
    per_cell = tables.const_cell + cell_terms(tables, mu, x, m.n_cells, m.pc, w=m.w)
    price = np.full(m.n_sites, float(lam)) if site_price is None else float(lam) + np.asarray(site_price, float)
    rho = np.bincount(m.ps, weights=mu, minlength=m.n_sites)
    cell_order = np.argsort(cell_region, kind="stable")
    cell_ptr = np.searchsorted(cell_region[cell_order], np.arange(k + 1))
    site_order = np.argsort(site_region, kind="stable")
    site_ptr = np.searchsorted(site_region[site_order], np.arange(k + 1))
    pair_region = cell_region[m.pc]
    pair_order = np.argsort(pair_region, kind="stable")
    pair_ptr = np.searchsorted(pair_region[pair_order], np.arange(k + 1))
    lc = np.full(m.n_cells, -1, dtype=np.int64)  # local index of a region's cells
    ls = np.full(m.n_sites, -1, dtype=np.int64)  # and of its free sites
    spent = 0.0

    def charge(s: float) -> None:
        nonlocal spent
        spent += s
        if work is not None:
            work.charge(s)

    for c in np.asarray(regions, dtype=np.int64):
        if spent >= work_s or time.perf_counter() > deadline:
            break
        cells = cell_order[cell_ptr[c] : cell_ptr[c + 1]]
        sites = site_order[site_ptr[c] : site_ptr[c + 1]]
        pairs = pair_order[pair_ptr[c] : pair_ptr[c + 1]]
        forced = sites[m.forced[sites]]
        free = sites[m.allowed[sites] & ~m.forced[sites]]
        if cells.size * max(free.size, 1) > max_dense:
            continue
        charge(PRICED_NODE_S + PRICED_NODE_S_PER_ENTRY * float(cells.size) * float(max(free.size, 1)))
        lc[cells] = np.arange(cells.size)
        ls[free] = np.arange(free.size)
        fp = m.forced[m.ps[pairs]]
        s0 = np.bincount(lc[m.pc[pairs[fp]]], weights=m.val[pairs[fp]], minlength=cells.size)
        fr = pairs[ls[m.ps[pairs]] >= 0]
        strength = np.zeros((cells.size, free.size))
        strength[lc[m.pc[fr]], ls[m.ps[fr]]] = m.val[fr]
        lc[cells] = -1
        ls[free] = -1
        w, pull = m.w[cells], m.pull[cells]
        pen = rho[free] - price[free]
        cost_f = price[free]
        cost0 = float(price[forced].sum())
        lag0 = float(per_cell[cells].sum() + np.sum(rho[forced]) - cost0)
        best = dot(w, huff(s0, pull)) - cost0
        tol = rel_slack * max(1.0, abs(best))
        pruned = -np.inf
        nodes = 0
        stack: list[tuple[np.ndarray, np.ndarray, float, float, float]] = [
            (s0, np.arange(free.size), cost0, lag0, np.inf)
        ]
        while stack and nodes < max_nodes and spent < work_s and time.perf_counter() <= deadline:
            s, rest, cost_open, lag_part, parent_b = stack.pop()
            if parent_b <= best + tol:
                pruned = max(pruned, parent_b)
                continue
            nodes += 1
            charge(PRICED_NODE_S + PRICED_NODE_S_PER_ENTRY * float(cells.size) * float(rest.size))
            share = huff(s, pull)
            g_t = dot(w, share) - cost_open
            best = max(best, g_t)
            if rest.size == 0:
                continue
            pc_b = np.broadcast_to(pull[:, None], (pull.size, rest.size))
            gain = weigh_columns(w, huff(s[:, None] + strength[:, rest], pc_b) - share[:, None]) - cost_f[rest]
            pos = gain > 0
            rest, gain = rest[pos], gain[pos]
            b = min(parent_b, g_t + float(gain.sum()), lag_part + float(np.maximum(pen[rest], 0.0).sum()))
            if b <= best + tol:
                pruned = max(pruned, b)
                continue
            o = np.argsort(-gain, kind="stable")
            rest, gain = rest[o], gain[o]
            # child i opens rest[i] with rest[:i] closed: worth at most g(T) + gain_i + the gains after it
            child_b = g_t + np.cumsum(gain[::-1])[::-1]
            keep = np.flatnonzero(child_b > best + tol)
            if keep.size < rest.size:
                pruned = max(pruned, float(np.max(child_b, initial=-np.inf, where=child_b <= best + tol)))
            for i in keep[::-1]:
                j = rest[i]
                stack.append(
                    (s + strength[:, j], rest[i + 1 :], cost_open + float(cost_f[j]), lag_part + float(pen[j]),
                     min(b, float(child_b[i])))
                )
        out[c] = max(best, pruned, max((t[4] for t in stack), default=-np.inf))
    return out
