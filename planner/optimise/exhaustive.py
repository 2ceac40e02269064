"""Exact solution of tiny instances by evaluating every plan.

When the free choice is small (choose k of a few dozen candidates, at most
``max_plans`` plans), scoring every plan at once with numpy is exact and takes a
few milliseconds, far less than building and starting a MIP solver or running a
Lagrangian to a zero gap. It applies only to instances without side constraints
(groups, spacing, shared locations, budgets), where every k-subset of the free
candidates is a feasible plan.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from planner.optimise.model import Model, huff


def plan_count(model: Model) -> int | None:
    """Plans :func:`best_plan` would score, or None when enumeration does not apply."""
    m = model
    if m.groups or m.n_loc < m.n_sites or m.conf_adj.size or m.capex is not None or m.opex is not None:
        return None
    free = int((m.allowed & ~m.forced).sum())
    k = m.p - int(m.forced.sum())
    if k < 0 or k > free:
        return None
    return math.comb(free, k)


def best_plan(model: Model, *, max_plans: int = 20_000, max_work: float = 2e7) -> np.ndarray | None:
    """The optimal plan by exhaustive scoring, or None when the instance is too big.

    Parameters
    ----------
    model : Model
        Compiled model (untruncated).
    max_plans : int
        Enumerate only when there are at most this many plans.
    max_work : float
        ... and when plans x cells x free stores stays under this.

    Returns
    -------
    ndarray of bool or None
        The open mask of a best plan (ties: the first in lexicographic order).
    """
    m = model
    n_plans = plan_count(m)
    free = np.flatnonzero(m.allowed & ~m.forced)
    k = m.p - int(m.forced.sum())
    if n_plans is None or n_plans > max_plans or n_plans * m.n_cells * max(k, 1) > max_work:
        return None
    combos = np.fromiter(
        itertools.chain.from_iterable(itertools.combinations(range(free.size), k)),
        dtype=np.int64, count=n_plans * k,
    ).reshape(n_plans, k)
    if m.facility and free.size <= 62 and not m.forced.any() and np.array_equal(m.val, m.w[m.pc]):
        return _best_step_plan(m, free, combos)
    cells = np.unique(m.pc)  # cells no site reaches add nothing to any plan
    row = np.searchsorted(cells, m.pc)
    dense = np.zeros((cells.size, m.n_sites))
    if m.facility:
        np.maximum.at(dense, (row, m.ps), m.val)
    else:
        np.add.at(dense, (row, m.ps), m.val)
    forced = np.flatnonzero(m.forced)
    if m.facility:
        base = dense[:, forced].max(axis=1) if forced.size else np.zeros(cells.size)
        wt = m.w[cells]
        pos = wt > 0
        dense, base, weight = dense[pos] / wt[pos, None], base[pos] / wt[pos], wt[pos]
        sub = dense[:, free]
        # cells with the same benefits up to their weight count once, with the summed weight
        _, first, inv = np.unique(np.column_stack([sub, base]), axis=0, return_index=True, return_inverse=True)
        weight = np.bincount(inv.ravel(), weights=weight, minlength=first.size)
        dense, base = dense[first], base[first]
    else:
        base = dense[:, forced].sum(axis=1) if forced.size else np.zeros(cells.size)
        weight, pull = m.w[cells], m.pull[cells]
    n_rows = base.size
    rows = np.ascontiguousarray(dense[:, free].T)  # one row of cell values per free site
    chunk = max(1, int(2_000_000 // max(1, n_rows)))
    best_v, best_i = -np.inf, -1
    for a in range(0, n_plans, chunk):
        c = combos[a : a + chunk]
        acc = np.broadcast_to(base, (c.shape[0], n_rows)).copy()
        for t in range(k):
            if m.facility:
                np.maximum(acc, rows[c[:, t]], out=acc)
            else:
                acc += rows[c[:, t]]
        v = acc @ weight if m.facility else huff(acc, pull) @ weight
        i = int(np.argmax(v))
        if v[i] > best_v:
            best_v, best_i = float(v[i]), a + i
    mask = m.forced.copy()
    if k:
        mask[free[combos[best_i]]] = True
    return mask


def _best_step_plan(m: Model, free: np.ndarray, combos: np.ndarray) -> np.ndarray:
    """Step coverage without fixed stores: a cell counts when the plan's bits meet the cell's bits."""
    bit = np.zeros(m.n_sites, dtype=np.int64)
    bit[free] = np.left_shift(np.int64(1), np.arange(free.size, dtype=np.int64))
    lens = np.diff(m.cell_ptr)
    has = lens > 0
    cell_bits = np.bitwise_or.reduceat(bit[m.ps], m.cell_ptr[:-1][has]) if m.ps.size else np.zeros(0, np.int64)
    # cells with the same bits count once with their summed weight
    uniq, inv = np.unique(cell_bits, return_inverse=True)
    weight = np.bincount(inv.ravel(), weights=m.w[has], minlength=uniq.size)
    plan_bits = bit[free][combos].sum(axis=1)
    # (no matrix product: the first BLAS call of a process costs more than this whole search)
    v = np.where((plan_bits[:, None] & uniq[None, :]) != 0, weight, 0.0).sum(axis=1)
    mask = np.zeros(m.n_sites, dtype=bool)
    mask[free[combos[int(np.argmax(v))]]] = True
    return mask
