"""Proven bounds for market share: tangent cuts and the cell-hull Lagrangian.

Market share: each cell's share ``h(S) = S/(S+c)`` is concave in its own-store
strength S, so every tangent line is above it. Choosing one tangent per cell
(slope ``b_i``) makes the objective linear in the open sites, whose best plan is
again "top sites by score"; minimising over the slopes by subgradient gives the
outer-approximation (tangent-cut LP) bound. It is weak (the concave share
rewards spreading fractional stores); the real bound is the cell-hull
Lagrangian (``market_share_lagrangian``): each cell keeps its own copy of its
sites' choice, valued by an upper model of its share that is exact on every
subset of its strongest sites and exact at the incumbent (``cell_tables``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from planner.optimise.bounds import scale_metric, select_range, select_top
from planner.optimise.incumbent import (
    CELL_HULL_S_PER_CELL,
    CELL_HULL_S_PER_ENTRY,
    CELL_HULL_S_PER_PAIR,
    CELL_TABLES_S_PER_ENTRY,
    CELL_TABLES_S_PER_PAIR,
)
from planner.optimise.model import Model, dot, huff, run_starts

log = logging.getLogger(__name__)


def _majorant(gamma: np.ndarray, w: np.ndarray, c: np.ndarray, smax: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Best line of slope ``gamma / w`` above ``w h(S)`` on ``[0, Smax]``.

    Returns the line's intercept (already times ``w``) and its touching point S_b.
    """
    b = gamma / np.maximum(w, 1e-300)
    with np.errstate(divide="ignore", invalid="ignore"):
        sb = np.where(b > 0, np.sqrt(c / np.maximum(b, 1e-300)) - c, smax)
    sb = np.clip(sb, 0.0, smax)
    return w * (sb / (sb + c) - b * sb), sb


def market_share_bound(
    model: Model,
    incumbent_value: float,
    open_mask: np.ndarray,
    *,
    time_limit_s: float = 10.0,
    max_iter: int = 3000,
    gap_stop: float = 1e-5,
) -> tuple[float, np.ndarray]:
    """Tangent-cut (outer approximation) upper bound for market share.

    For each cell i a line ``w_i (alpha_i + b_i S)`` above ``w_i h(S)`` on
    ``[0, Smax_i]`` (``Smax`` = all its sites open; the best such line for a slope
    is a tangent, or the constant ``h(Smax)`` at slope 0) makes the objective of
    every plan at most ``sum_i w_i alpha_i`` plus the best plan's
    ``sum_j y_j sum_i w_i b_i s_ij``. Cells with no competitor (``c = 0``) have
    share 0 or 1, majorant 1. The slopes ``gamma_i = w_i b_i`` follow projected
    subgradient steps (gradient ``S_i(plan) - S_i(touch)``, in strength units).

    Returns
    -------
    bound : float
        Upper bound on the market share value.
    gamma : ndarray
        The slopes (times weight) that prove it.
    """
    m = model
    t0 = time.perf_counter()
    smax = np.add.reduceat(m.val, m.cell_ptr[:-1])
    c = m.pull
    free = c > 0
    cf = np.where(free, c, 1.0)
    s_cur = np.add.reduceat(np.where(open_mask[m.ps], m.val, 0.0), m.cell_ptr[:-1])
    gmax = np.where(free, m.w / cf, 0.0)
    gamma = np.where(free, m.w * cf / (s_cur + cf) ** 2, 0.0)
    const_fixed = float(np.sum(m.w[~free]))  # zero-pull cells: majorant 1
    best_val, best_g = np.inf, gamma.copy()
    theta, stall = 1.0, 0
    lb = incumbent_value
    for _it in range(max_iter):
        inter, sb = _majorant(gamma, m.w, cf, smax)
        inter = np.where(free, inter, 0.0)
        score = np.bincount(m.ps, weights=gamma[m.pc] * m.val, minlength=m.n_sites)
        sel = select_top(m, score)
        val = float(inter.sum() + const_fixed + score[sel].sum())
        if val < best_val:
            stall = 0 if val < best_val - 1e-4 * max(1e-9, best_val - lb) else stall + 1
            best_val, best_g = val, gamma.copy()
        else:
            stall += 1
        if stall >= 25:
            theta *= 0.5
            stall = 0
            gamma = best_g.copy()
        if (best_val - lb) / max(best_val, 1e-12) <= gap_stop or theta < 1e-6:
            break
        if time.perf_counter() - t0 > time_limit_s:
            break
        s_sel = np.add.reduceat(np.where(sel[m.ps], m.val, 0.0), m.cell_ptr[:-1])
        g = np.where(free, s_sel - sb, 0.0)
        # projected direction: no move past the box
        g = np.where(((gamma <= 0) & (g > 0)) | ((gamma >= gmax) & (g < 0)), 0.0, g)
        nrm = dot(g, g)
        if nrm <= 0:
            break
        step = theta * (val - lb) / nrm
        gamma = np.clip(gamma - step * g, 0.0, gmax)
    return best_val, best_g


def plan_value_ms(model: Model, open_mask: np.ndarray) -> float:
    """Internal market share value (used by tests)."""
    s = np.add.reduceat(np.where(open_mask[model.ps], model.val, 0.0), model.cell_ptr[:-1])
    return float(np.sum(model.w * huff(s, model.pull)))


@dataclass
class _Alt:
    """Second model of the weak sites ``R`` of the cells that have some, per subset of ``A``.

    For a subset of ``A`` with strength ``T = B + S_A`` the share is at most
    ``h(T) + sum_{j in R} g_T(v_j) x_j`` with ``g_T(v) = h(T + v) - h(T)``
    (``g_T`` is concave with ``g_T(0) = 0``, hence subadditive). ``g_T`` falls
    as ``T`` grows, so ``T`` may be rounded down to one of a few levels
    ``t_l`` (``B`` first). Rows index the widest group of the tables.
    """

    width: int  # the group's subset size d
    row: np.ndarray  # int[nr] rows of that group
    exact: np.ndarray  # float[nr, 2**d] w (h(B + S_A) - h(B))
    lev: np.ndarray  # int8[nr, 2**d] level of each subset
    r_pairs: np.ndarray  # int[*] weak pairs, cell-sorted
    r_alt: np.ndarray  # int[*] their row in this structure
    r_old: np.ndarray  # float[*] their tangent price (the first model)
    r_lev: np.ndarray  # float[*, L] w g_{t_l}(v_j)

    def take(self, rows: np.ndarray) -> _Alt:
        """The part on group rows ``rows`` (sorted), renumbered to positions in ``rows``."""
        pos = np.searchsorted(rows, self.row)
        keep = (pos < rows.size) & (rows[np.minimum(pos, rows.size - 1)] == self.row)
        new_id = np.cumsum(keep) - 1
        kr = keep[self.r_alt]
        return _Alt(self.width, pos[keep], self.exact[keep], self.lev[keep], self.r_pairs[kr],
                    new_id[self.r_alt[kr]], self.r_old[kr], self.r_lev[kr])


#: Strength levels (in units of the competitor pull above the forced base) for :class:`_Alt`.
_ALT_LEVELS = (0.0, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0)


@dataclass
class CellTables:
    """Per-cell upper models of the share for the cell-hull Lagrangians.

    A cell's value ``w h(B + S)`` (``B``: strength of its forced sites, always
    open; ``S``: strength of its other open sites) is bounded by
    ``const + table(x_A) + sum_{j in R} coef_j x_j`` where ``A`` holds the
    cell's ``d_exact`` strongest non-forced pairs (every subset's value in the
    table) and ``R`` the rest, valued linearly. See :func:`cell_tables`.
    """

    groups: list[tuple[np.ndarray, np.ndarray, np.ndarray]]  # (pair matrix, masks, values) by size
    lin_pairs: np.ndarray  # int[*] pairs valued linearly (the ``R`` parts)
    lin_coef: np.ndarray  # float[*] their value per unit of x
    const_cell: np.ndarray  # float[N] w h(B) per cell
    free: np.ndarray  # bool[K] pairs that carry a multiplier (in a table, linear or step)
    step_pairs: np.ndarray  # int[*] pairs of cells without competitor nor forced site, cell-sorted
    alt: _Alt | None = None  # the second model of the weak sites (None: tangent only)

    @property
    def const(self) -> float:
        return float(self.const_cell.sum())

    @property
    def entries(self) -> int:
        """Subset values held in the tables (one per cell row and subset): their size in work."""
        return int(sum(masks.shape[0] * pm.shape[0] for pm, masks, _ in self.groups))


def cell_hull_seconds(m: Model, tab: CellTables) -> float:
    """Nominal seconds of one iteration of the cell-hull Lagrangian on ``tab`` (``incumbent``'s cost model).

    The cells' tables cost by their subset values, not by their pairs: a cell
    valued exactly over ``d`` sites scores ``2**d`` subsets, a step cell one
    minimum; the per-pair part is the subgradient step, the per-cell part the sums.
    """
    return (1e-3 + CELL_HULL_S_PER_PAIR * float(m.pc.size) + CELL_HULL_S_PER_ENTRY * float(tab.entries)
            + CELL_HULL_S_PER_CELL * float(m.n_cells))


def cell_tables_seconds(m: Model, tab: CellTables) -> float:
    """Nominal seconds of building ``tab`` with :func:`cell_tables` (``incumbent``'s cost model)."""
    return CELL_TABLES_S_PER_PAIR * float(m.pc.size) + CELL_TABLES_S_PER_ENTRY * float(tab.entries)


#: Largest number of subset values the cell tables may hold (8 bytes each).
_MAX_TABLE = 2**24


def exact_sizes(degree: np.ndarray, weight: np.ndarray, d_max: int, budget: float | None = None) -> np.ndarray:
    """How many of each cell's strongest sites its table values exactly (``2**d`` entries each).

    Every cell gets ``min(degree, d)`` for the largest common ``d >= 3`` whose
    tables fit the ``budget`` (entries, default :data:`_MAX_TABLE`); what is left of it then raises the
    heaviest cells one level at a time (all cells able to take level ``d + 1``
    in order of weight, then ``d + 2``, ...) up to ``d_max``. Big cells of
    heavy demand hold most of the bound's slack, and a table one site wider
    costs twice as much, so the budget goes where it buys most.
    """
    budget = float(_MAX_TABLE if budget is None else budget)
    degree = np.asarray(degree, dtype=np.int64)
    base = max(1, min(3, d_max))
    while base < d_max and float(np.sum(2.0 ** np.minimum(degree, base + 1))) <= budget:
        base += 1
    size = np.minimum(degree, base)
    left = budget - float(np.sum(2.0 ** size))
    order = np.argsort(-np.asarray(weight, dtype=float), kind="stable")
    for level in range(base + 1, d_max + 1):
        if left <= 0:
            break
        can = order[degree[order] >= level]
        extra = 2.0 ** (level - 1)  # 2**level - 2**(level - 1)
        n_up = min(can.size, int(left // extra))
        if n_up == 0:
            break
        size[can[:n_up]] = level
        left -= n_up * extra
    return np.asarray(size)


def _block_rows(d: int) -> int:
    """Table rows handled at once for ``d``-site subsets (``2**d`` values each): bounded temporaries."""
    return max(1, 2**17 >> d)


def _subset_sums(a: np.ndarray) -> np.ndarray:
    """Row-wise sums over every subset: ``out[r, k] = sum_t a[r, t] * bit t of k``.

    Built by doubling rather than a matrix product: BLAS threads on such thin
    products are slow, and very slow on a busy machine.
    """
    n, d = a.shape
    out = np.empty((n, 2**d))
    out[:, 0] = 0.0
    for t in range(d):
        k = 1 << t
        np.add(out[:, :k], a[:, t : t + 1], out=out[:, k : 2 * k])
    return out


def _share(s: np.ndarray, c: np.ndarray) -> np.ndarray:
    """``h(S) = S / (S + c)``; with ``c = 0`` a step: 1 for any ``S > 0``."""
    return huff(s, np.broadcast_to(c, s.shape))


def cell_tables(model: Model, open_mask: np.ndarray | None, d_exact: int = 10) -> CellTables:
    """Upper models of every cell's share for the cell-hull Lagrangians.

    Forced sites are open in every plan, so their strength ``B`` is a constant
    base (``w h(B)`` goes into ``const_cell``, their pairs carry no multiplier).
    The cell's ``d_exact`` strongest other pairs form ``A``, whose every subset
    gets its exact increment ``w (h(B + S_A) - h(B))``. The remaining pairs
    ``R`` (cells seeing more sites) are priced linearly at the slope ``b`` of
    the share at the plan ``open_mask``: for any ``S_R`` in ``[0, Smax_R]``,
    ``h(B + S_A + S_R) <= phi(S_A) + b S_R`` with
    ``phi(S_A) = max over u in [0, Smax_R] of h(B + S_A + u) - b u`` (``S_R`` is
    itself such a ``u``), so the model is valid for any ``b >= 0`` and exact at
    ``open_mask``. ``phi`` is concave maximisation in closed form:
    ``h'(T) = b`` at the plan's strength ``T*``, so ``u = clip(T* - B - S_A)``.
    Each weak site is then priced at ``min(b v_j, g(v_j))`` with
    ``g(v) = h(B + v) - h(B)``: ``psi(u) = min(b u, g(u))`` is concave with
    ``psi(0) = 0``, hence subadditive, so ``psi(S_R) <= sum_R psi(v_j) x_j``, and
    ``max_u [h(B + S_A + u) - psi(u)] = max(phi(S_A), h(B + S_A)) = phi(S_A)``
    (``h(B + S_A + u) - g(u)`` falls with ``u``). The model stays exact at the
    plan and prices each weak site no higher than its value alone, which matters
    in cells the plan leaves unserved (there ``b`` is the steepest slope, ``1/c``).
    Cells without competitors have a step share: constant when a forced site
    reaches them, else ``w 1{any site open}``, whose Lagrangian term
    :func:`cell_terms` maximises exactly whatever the cell's degree
    (``step_pairs``).
    """
    m = model
    fp = m.forced[m.ps]
    base = np.bincount(m.pc[fp], weights=m.val[fp], minlength=m.n_cells)
    c = m.pull
    const_cell = m.w * _share(base, c)
    # pairs that matter: not forced, and not in a no-competitor cell a forced site already wins
    free = ~fp & ~((c[m.pc] == 0) & (base[m.pc] > 0))
    step = free & (c[m.pc] == 0)
    step_pairs = np.flatnonzero(step)  # already cell-sorted
    idx = np.flatnonzero(free & ~step)
    order = idx[np.lexsort((-m.val[idx], m.pc[idx]))]
    cell_o = m.pc[order]
    nf_deg = np.bincount(cell_o, minlength=m.n_cells)
    first = np.concatenate([[0], np.cumsum(nf_deg)[:-1]])
    rank = np.arange(order.size) - first[cell_o]
    # every subset of A is stored: the tables' size is bounded, the heaviest cells first
    a_size = exact_sizes(nf_deg, m.w, d_exact)
    d_exact = int(a_size.max(initial=0))
    in_a = rank < a_size[cell_o]
    a_pairs, r_pairs = order[in_a], order[~in_a]
    # the plan's strength per cell (total, forced included) and the rest's maximum
    if open_mask is None:
        open_mask = np.zeros(m.n_sites, dtype=bool)
    s_plan = np.bincount(m.pc, weights=np.where(open_mask[m.ps] | fp, m.val, 0.0), minlength=m.n_cells)
    srmax = np.bincount(m.pc[r_pairs], weights=m.val[r_pairs], minlength=m.n_cells)
    has_r = srmax > 0
    pos = c > 0
    slope = np.divide(c, (s_plan + c) ** 2, out=np.zeros(m.n_cells), where=pos)
    # a-pairs, cell-contiguous and strongest first: start of each cell's block
    a_cell = m.pc[a_pairs]
    a_start = np.flatnonzero(run_starts(a_cell)) if a_pairs.size else np.zeros(0, np.int64)
    a_cells = a_cell[a_start]
    groups = []
    alt = None
    for d in range(1, d_exact + 1):
        pick = a_size[a_cells] == d
        if not np.any(pick):
            continue
        st = a_start[pick]
        cl_all = a_cells[pick]
        pm = a_pairs[st[:, None] + np.arange(d)[None, :]]
        masks = ((np.arange(2**d)[:, None] >> np.arange(d)[None, :]) & 1).astype(float)
        vals = np.empty((pm.shape[0], 2**d))
        for lo in range(0, pm.shape[0], _block_rows(d)):
            hi = lo + _block_rows(d)
            cl = cl_all[lo:hi]
            sa = _subset_sums(m.val[pm[lo:hi]])
            b0 = base[cl][:, None]
            u = np.where(
                has_r[cl][:, None] & pos[cl][:, None],
                np.clip(s_plan[cl][:, None] - b0 - sa, 0.0, srmax[cl][:, None]),
                0.0,
            )
            phi = _share(b0 + sa + u, c[cl][:, None]) - slope[cl][:, None] * u
            vals[lo:hi] = m.w[cl][:, None] * (phi - _share(base[cl], c[cl])[:, None])
        if d == d_exact and r_pairs.size:
            alt = _alt_model(m, base, pm, cl_all, has_r & pos, r_pairs)
        groups.append((pm, masks, vals))
    rc = m.pc[r_pairs]
    # each weak site at the smaller of its tangent price and its own increment over B
    inc_b = _share(base[rc] + m.val[r_pairs], c[rc]) - _share(base[rc], c[rc])
    lin_coef = m.w[rc] * np.minimum(slope[rc] * m.val[r_pairs], inc_b)
    if alt is not None:
        alt.r_old = _old_of(r_pairs, lin_coef, alt.r_pairs)
    return CellTables(groups, r_pairs, lin_coef, const_cell, free, step_pairs, alt)


def _old_of(r_pairs: np.ndarray, coef: np.ndarray, want: np.ndarray) -> np.ndarray:
    """``coef`` of the pairs ``want`` (a subset of ``r_pairs``)."""
    o = np.argsort(r_pairs, kind="stable")
    return coef[o[np.searchsorted(r_pairs[o], want)]]


def _alt_model(
    m: Model, base: np.ndarray, pm: np.ndarray, cells: np.ndarray, has_r: np.ndarray, r_pairs: np.ndarray
) -> _Alt | None:
    """:class:`_Alt` for the rows of the widest group (pairs ``pm``, cells ``cells``) whose cell has weak pairs."""
    rows = np.flatnonzero(has_r[cells])
    if rows.size == 0:
        return None
    d = pm.shape[1]
    cl = cells[rows]
    c = m.pull
    exact = np.empty((rows.size, 2**d))
    lev = np.empty((rows.size, 2**d), dtype=np.int8)
    q = np.asarray(_ALT_LEVELS)
    for lo in range(0, rows.size, _block_rows(d)):
        hi = lo + _block_rows(d)
        cc = cl[lo:hi]
        sa = _subset_sums(m.val[pm[rows[lo:hi]]])
        b0 = base[cc][:, None]
        exact[lo:hi] = m.w[cc][:, None] * (_share(b0 + sa, c[cc][:, None]) - _share(b0, c[cc][:, None]))
        # the largest level t_l = B + q_l c not above T = B + S_A (q_0 = 0: always one)
        lev[lo:hi] = np.searchsorted(q, sa / c[cc][:, None], side="right") - 1
    rid = np.full(m.n_cells, -1, dtype=np.int64)
    rid[cl] = np.arange(rows.size)
    rp = r_pairs[rid[m.pc[r_pairs]] >= 0]
    rp = rp[np.argsort(rid[m.pc[rp]], kind="stable")]
    rc = m.pc[rp]
    t = base[rc][:, None] + c[rc][:, None] * q[None, :]
    cr = c[rc][:, None]
    r_lev = m.w[rc][:, None] * (_share(t + m.val[rp][:, None], cr) - _share(t, cr))
    return _Alt(d, rows, exact, lev, rp, rid[rc], np.zeros(rp.size), r_lev)


def cell_terms(
    tab: CellTables, mu: np.ndarray, x: np.ndarray, n_cells: int, pc: np.ndarray,
    groups: list[tuple[np.ndarray, np.ndarray, np.ndarray]] | None = None,
    lin: tuple[np.ndarray, np.ndarray] | None = None,
    step_pairs: np.ndarray | None = None,
    w: np.ndarray | None = None,
    alt: _Alt | None = None,
) -> np.ndarray:
    """Per cell ``max over x of [model(x) - mu x]`` (constants excluded); writes the maximisers into ``x``.

    ``groups``, ``lin``, ``step_pairs`` and ``alt`` default to the whole of
    ``tab`` when ``groups`` is not given (a caller may pass the active part,
    ``alt`` then renumbered to the rows passed, see :meth:`_Alt.take`); ``w``
    (cell weights) is needed when there are step pairs. In the cells of
    ``alt`` each subset of ``A`` takes the smaller of its two models' maxima
    over the weak sites (both are valid for that subset).
    """
    out = np.zeros(n_cells)
    if groups is None:
        alt = tab.alt
    chosen = None
    if alt is not None and alt.row.size:
        nr = alt.row.size
        mur = mu[alt.r_pairs]
        fold = np.bincount(alt.r_alt, weights=np.maximum(alt.r_old - mur, 0.0), minlength=nr)
        f_lev = np.stack(
            [np.bincount(alt.r_alt, weights=np.maximum(alt.r_lev[:, k] - mur, 0.0), minlength=nr)
             for k in range(alt.r_lev.shape[1])], axis=1,
        ) if alt.r_lev.size else np.zeros((nr, len(_ALT_LEVELS)))
        chosen = np.full(nr, -1, dtype=np.int64)
    for pm_all, masks, vals_all in tab.groups if groups is None else groups:
        step = _block_rows(masks.shape[1])
        top = np.empty(pm_all.shape[0])
        amap = None
        if chosen is not None and alt is not None and masks.shape[1] == alt.width:
            amap = np.full(pm_all.shape[0], -1, dtype=np.int64)
            amap[alt.row] = np.arange(alt.row.size)
        for lo in range(0, pm_all.shape[0], step):
            pm = pm_all[lo : lo + step]
            score = _subset_sums(mu[pm])
            np.subtract(vals_all[lo : lo + step], score, out=score)
            if amap is not None and alt is not None:
                h = np.flatnonzero(amap[lo : lo + step] >= 0)
                ai = amap[lo : lo + step][h]
                lv = alt.lev[ai].astype(np.intp)
                delta = np.minimum(
                    alt.exact[ai] + np.take_along_axis(f_lev[ai], lv, axis=1)
                    - vals_all[lo : lo + step][h] - fold[ai][:, None], 0.0,
                )
                score[h] += delta
            arg = np.argmax(score, axis=1)
            top[lo : lo + step] = score[np.arange(arg.size), arg]
            x[pm] = masks[arg]
            if amap is not None and chosen is not None and h.size:
                a_h = arg[h]
                use = delta[np.arange(h.size), a_h] < 0.0
                chosen[ai[use]] = lv[np.arange(h.size), a_h][use]
        out += np.bincount(pc[pm_all[:, 0]], weights=top, minlength=n_cells)
    lp, lcoef = (tab.lin_pairs, tab.lin_coef) if lin is None else lin
    gain = lcoef - mu[lp]
    x[lp] = gain > 0
    out += np.bincount(pc[lp], weights=np.maximum(gain, 0.0), minlength=n_cells)
    if chosen is not None and alt is not None:
        # weak sites of the subsets that took the second model
        lv = chosen[alt.r_alt]
        on = lv >= 0
        rp = alt.r_pairs[on]
        x[rp] = alt.r_lev[np.flatnonzero(on), lv[on]] > mu[rp]
    sp = tab.step_pairs if step_pairs is None else step_pairs
    if sp.size:
        # w 1{any open} - mu x: open every negative mu; with none, the cheapest if it pays
        assert w is not None
        cell = pc[sp]
        mus = mu[sp]
        neg = mus < 0
        start = np.flatnonzero(run_starts(cell))
        cs = cell[start]
        # per cell, its cheapest pair (cell-sorted segments: no sort needed)
        low = np.minimum.reduceat(mus, start)
        at = np.where(mus == np.repeat(low, np.diff(np.append(start, mus.size))), np.arange(mus.size), mus.size)
        cheapest = sp[np.minimum.reduceat(at, start)]
        any_neg = np.add.reduceat(neg.astype(np.int64), start) > 0
        gain1 = w[cs] - mu[cheapest]
        val = np.add.reduceat(np.where(neg, -mus, 0.0), start) + np.where(any_neg, w[cs], np.maximum(gain1, 0.0))
        out += np.bincount(cs, weights=val, minlength=n_cells)
        x[sp] = neg
        one = ~any_neg & (gain1 > 0)
        x[cheapest[one]] = 1.0
    return out


def initial_multipliers(m: Model, tab: CellTables, open_mask: np.ndarray) -> np.ndarray:
    """Each pair's marginal value in the plan ``open_mask``: where the cell-hull multipliers start.

    An open site's pair is priced by what its cell loses if it closes, a closed
    site's by what the cell gains if it opens; ``>= 0`` on free pairs, 0 elsewhere.
    Shared by the market-share and the profit Lagrangians.
    """
    s = np.add.reduceat(np.where(open_mask[m.ps], m.val, 0.0), m.cell_ptr[:-1]) if m.val.size else np.zeros(0)
    sp, c, wc = s[m.pc], m.pull[m.pc], m.w[m.pc]
    mu = np.where(
        open_mask[m.ps],
        wc * (huff(sp, c) - huff(np.maximum(sp - m.val, 0.0), c)),
        wc * (huff(sp + m.val, c) - huff(sp, c)),
    )
    return np.asarray(np.where(tab.free, np.maximum(mu, 0.0), 0.0))


#: The metric's power of each pair's gain (0: plain steps). Measured at 60 s (market share gap):
#: national default 1.690 % (0) -> 1.071 (0.25), 0.960 (0.5), 0.942 (0.75), 1.289 (1), 2.815 (2);
#: uniform family 11.88 -> 7.47 (0.5), 6.07 (0.75), 6.40 (1); china_like 0.881 -> 0.313 (0.5),
#: 0.306 (0.75), 0.342 (1).
_METRIC_POWER = 0.75


def step_metric(m: Model) -> np.ndarray:
    """Per pair, the scale of its multiplier's steps, from the cell's gain from that site alone.

    A pair's useful multiplier lies between 0 and that gain ``v``, and the gains of one
    instance span many orders of magnitude (a cell no rival reaches is won whole by
    its first store, a cell under a dominant rival only by a sliver). Subgradient
    steps of one size for all overshoot the small ones and crawl on the large ones;
    the Lagrangians scale each pair's step by ``D = v ** 0.75`` (the variable-metric
    Polyak step ``mu - theta (L - lb) / (d' D d) D d``; any ``mu >= 0`` keeps the
    bound valid, so the metric changes the convergence, not the validity).
    Returns float[K], > 0.
    """
    fp = m.forced[m.ps]
    base = np.bincount(m.pc[fp], weights=m.val[fp], minlength=m.n_cells)[m.pc]
    c = m.pull[m.pc]
    return scale_metric(m.w[m.pc] * (huff(base + m.val, c) - huff(base, c)), _METRIC_POWER)


def market_share_lagrangian(
    model: Model,
    incumbent_value: float,
    open_mask: np.ndarray,
    *,
    time_limit_s: float = 10.0,
    max_iter: int = 1000,
    d_exact: int = 8,
    gap_stop: float = 1e-6,
    on_plan: Callable[[np.ndarray], float | None] | None = None,
    plan_every: int = 10,
    tables: CellTables | None = None,
    deflect: float = 1.5,
    site_cost: np.ndarray | None = None,
    count_range: tuple[int, int] | None = None,
    on_iteration: Callable[[], None] | None = None,
) -> tuple[float, np.ndarray]:
    """Market-share bound from per-cell copies of the site variables.

    Each cell gets its own copy ``x_ij`` of the open/closed choice of its sites,
    tied to ``y_j`` by a multiplier ``mu_ij``. The bound is
    ``sum over cells of max over x of [model_i(x) - sum mu_ij x_ij]`` plus the
    best plan's ``sum_j y_j sum_i mu_ij``, where ``model_i >= w_i h(S_i)`` is the
    cell's upper model of :func:`cell_tables`: exact on its ``d_exact``
    strongest sites (every subset enumerated, values precomputed once), so the
    bound has the strength of the convex hull of each cell's share there, far
    stronger than linearising ``h`` (the concave share rewards spreading
    fractional stores); a cell's weaker sites beyond those are priced by the
    tangent at the incumbent, so the model is exact at the incumbent
    (``tables``, when given, were built from some plan and serve instead).
    Polyak steps, deflected by the previous direction; as the models never
    decrease when a copy opens, ``x <= y`` suffices and ``mu`` stays ``>= 0``.

    The profit objective (``optimise.profit``) runs the same method with a
    linear ``site_cost`` per open site (in the share's units) and a store count
    anywhere in ``count_range`` (``bounds.select_range`` for the plan's part,
    default the exact store total); ``on_iteration`` is called once per
    iteration (work charging).

    Returns
    -------
    bound : float
        Upper bound on the market share value (net of ``site_cost``).
    mu : ndarray
        Multipliers per pair (cell-sorted order; 0 on pairs of forced sites).
    """
    m = model
    t0 = time.perf_counter()
    tab = cell_tables(m, open_mask, d_exact) if tables is None else tables
    mu = initial_multipliers(m, tab, open_mask)  # each pair's marginal value in the incumbent
    metric = step_metric(m)
    d_prev = np.zeros(m.val.size)
    best_val, best_mu = np.inf, mu.copy()
    theta, stall = 1.0, 0
    lb = incumbent_value
    x = np.zeros(m.val.size)
    free = tab.free
    it = 0
    lo, hi = (m.p, m.p) if count_range is None else count_range
    for it in range(1, max_iter + 1):
        if on_iteration is not None:
            on_iteration()
        total = tab.const + float(cell_terms(tab, mu, x, m.n_cells, m.pc, w=m.w).sum())
        rho = np.bincount(m.ps, weights=mu, minlength=m.n_sites)
        if site_cost is not None:
            rho = rho - site_cost
        sel = select_range(m, rho, lo, hi)
        val = total + float(rho[sel].sum())
        if val < best_val:
            stall = 0 if val < best_val - 1e-4 * max(1e-9, best_val - lb) else stall + 1
            best_val, best_mu = val, mu.copy()
        else:
            stall += 1
        if stall >= 10:
            theta *= 0.5
            stall = 0
            mu = best_mu.copy()
            d_prev[:] = 0.0
        if on_plan is not None and it % plan_every == 1:
            got = on_plan(sel)
            if got is not None and got > lb:
                lb = got
        if (best_val - lb) / max(abs(best_val), 1e-12) <= gap_stop or theta < 1e-5:
            break
        if time.perf_counter() - t0 > time_limit_s:
            break
        g = np.where(free, sel[m.ps].astype(float) - x, 0.0)
        g = np.where((mu <= 0.0) & (g > 0.0), 0.0, g)
        dn = dot(d_prev, d_prev)
        beta = max(0.0, -deflect * dot(g, d_prev) / dn) if dn > 0 else 0.0
        d = g + beta * d_prev
        d_prev = d
        dd = metric * d
        nrm = dot(d, dd)
        if nrm == 0:
            break
        mu = np.maximum(mu - theta * max(val - lb, 0.0) / nrm * dd, 0.0)
    log.debug("market share lagrangian: %.6g after %d iterations, %.2fs", best_val, it, time.perf_counter() - t0)
    return best_val, best_mu


def market_share_dual_value(
    model: Model, tables: CellTables, mu: np.ndarray, *,
    site_cost: np.ndarray | None = None, count_range: tuple[int, int] | None = None,
) -> float:
    """The cell-hull bound at multipliers ``mu`` (any ``mu >= 0``), the store count exact.

    ``const + sum over cells of max [model - mu x] + the best plan's sum of
    rho_j = sum_i mu_ij`` (``bounds.select_range``: count, forced sites, one
    per location, the disjoint groups' limits). For the same ``mu`` this is at
    most the priced regional bound ``lam * p + sum_c L_c(lam)`` at any price
    ``lam``. ``site_cost`` and ``count_range`` as in :func:`market_share_lagrangian`.
    """
    x = np.zeros(model.val.size)
    mu = np.where(tables.free, np.maximum(mu, 0.0), 0.0)
    total = tables.const + float(cell_terms(tables, mu, x, model.n_cells, model.pc, w=model.w).sum())
    rho = np.bincount(model.ps, weights=mu, minlength=model.n_sites)
    if site_cost is not None:
        rho = rho - site_cost
    lo, hi = (model.p, model.p) if count_range is None else count_range
    return total + float(rho[select_range(model, rho, lo, hi)].sum())
