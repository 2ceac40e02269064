"""Swap (interchange) local search with whole-network vectorised move evaluation.

The move is "close open site f, open closed site j". Following Whitaker's fast
interchange as refined by Resende and Werneck, the value of every such move is
split into ``gain[j] - loss[f] + extra[f, j]``: ``gain`` (what j adds to the
current plan) and ``loss`` (what removing f costs, given every cell's best and
second-best open site) are vectors, and ``extra`` (the correction when f and j
serve the same cells) is a *sparse* matrix with at most one entry per
cell-site pair. Computing all three from scratch is a few numpy passes over the
pair list, so each round sees every possible swap at once.

National plans are many loosely coupled regions, so each round applies every
improving swap whose cells do not overlap with one already taken in that round
(their values add up exactly), not just the best one; a round costs the same
whether it applies one swap or three hundred. Constraint checks go through
``PlanState.can_swap``, in score order, so a blocked best move falls back to the
next one. Market share uses the same scheme with the Huff share's own
``gain``/``loss`` and an ``extra`` built from pairs of pairs that share a cell.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

import numpy as np

from planner.optimise.incumbent import (
    SWAP_CHECK_S,
    SWAP_ROUND_S_PER_PAIR,
    SWAP_ROUND_S_PER_PAIR_PAIR,
    Work,
)
from planner.optimise.model import Model, PlanState, huff, ranges, run_starts

log = logging.getLogger(__name__)


@dataclass
class MoveTables:
    """``gain[j] - loss[f] + extra`` for the current plan (extra as sorted keys f*n_s+j)."""

    gain: np.ndarray
    loss: np.ndarray
    keys: np.ndarray
    extra: np.ndarray
    model: Model  # the (possibly untruncated) model the tables were computed on
    pair_pairs: int = 0  # (open pair, pair of the same cell) combinations the extra table read: its cost

    def lookup(self, f: np.ndarray, j: np.ndarray, m: int) -> np.ndarray:
        k = f * m + j
        pos = np.searchsorted(self.keys, k)
        pos = np.minimum(pos, max(self.keys.size - 1, 0))
        hit = (self.keys.size > 0) & (self.keys[pos] == k) if self.keys.size else np.zeros(k.size, bool)
        return np.where(hit, self.extra[pos] if self.keys.size else 0.0, 0.0)


def _aggregate(keys: np.ndarray, vals: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray]:
    """Sum values with equal keys; dense bincount when the key space is small."""
    if keys.size == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    if m * m <= 4_000_000:
        acc = np.bincount(keys, weights=vals, minlength=m * m)
        nz = np.flatnonzero(acc)
        return nz.astype(np.int64), acc[nz]
    order = np.argsort(keys, kind="stable")
    ks = keys[order]
    vs = vals[order]
    start = np.flatnonzero(run_starts(ks))
    return ks[start], np.add.reduceat(vs, start)


def best_two(model: Model, open_mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per cell: best open benefit, its site (-1 if none), second-best benefit."""
    m = model
    k = m.val.size
    is_o = open_mask[m.ps]
    v = np.where(is_o, m.val, 0.0)
    b1 = np.maximum.reduceat(v, m.cell_ptr[:-1])
    isb = is_o & (v == b1[m.pc]) & (v > 0)
    idx = np.where(isb, np.arange(k), k)
    first = np.minimum.reduceat(idx, m.cell_ptr[:-1])
    has = first < k
    s1 = np.full(m.n_cells, -1, dtype=np.int64)
    s1[has] = m.ps[first[has]]
    v[first[has]] = 0.0
    b2 = np.maximum.reduceat(v, m.cell_ptr[:-1])
    return b1, s1, b2


def move_tables(model: Model, open_mask: np.ndarray) -> MoveTables:
    """Gain, loss and sparse extra of every swap for the current plan."""
    m = model
    n_s = m.n_sites
    closed_pair = ~open_mask[m.ps]
    if m.facility:
        b1, s1, b2 = best_two(m, open_mask)
        if m.floor is not None and m.full is not None and np.any(b2 < m.floor):
            # a cell's second-best site fell outside the truncation: exact tables need all pairs
            return move_tables(m.full, open_mask)
        g = np.where(closed_pair, np.maximum(m.val - b1[m.pc], 0.0), 0.0)
        gain = np.bincount(m.ps, weights=g, minlength=n_s)
        has = s1 >= 0
        loss = np.bincount(s1[has], weights=(b1 - b2)[has], minlength=n_s)
        sel = closed_pair & has[m.pc] & (m.val > b2[m.pc])
        c = m.pc[sel]
        e = np.minimum(m.val[sel], b1[c]) - b2[c]
        keys, extra = _aggregate(s1[c] * n_s + m.ps[sel], e, n_s)
        return MoveTables(gain, loss, keys, extra, m)
    # Market share: S per cell, exact gain/loss, extra from (open, closed) pairs of a cell.
    v = np.where(~closed_pair, m.val, 0.0)
    s = np.add.reduceat(v, m.cell_ptr[:-1])
    wc = m.w[m.pc]
    sp = s[m.pc]
    cp = m.pull[m.pc]
    h0 = huff(sp, cp)
    g = np.where(closed_pair, wc * (huff(sp + m.val, cp) - h0), 0.0)
    gain = np.bincount(m.ps, weights=g, minlength=n_s)
    lo = np.where(~closed_pair, wc * (h0 - huff(np.maximum(sp - m.val, 0.0), cp)), 0.0)
    loss = np.bincount(m.ps, weights=lo, minlength=n_s)
    op = np.flatnonzero(~closed_pair)
    oc = m.pc[op]
    deg = m.cell_ptr[oc + 1] - m.cell_ptr[oc]
    a = np.repeat(op, deg)
    b = np.repeat(m.cell_ptr[oc], deg) + ranges(deg)
    keep = closed_pair[b]
    a, b = a[keep], b[keep]
    c = m.pc[a]
    sc, pc_ = s[c], m.pull[c]
    va, vb = m.val[a], m.val[b]
    inter = m.w[c] * (
        huff(np.maximum(sc - va, 0.0) + vb, pc_) - huff(sc + vb, pc_)
        - huff(np.maximum(sc - va, 0.0), pc_) + huff(sc, pc_)
    )
    keys, extra = _aggregate(m.ps[a] * n_s + m.ps[b], inter, n_s)
    return MoveTables(gain, loss, keys, extra, m, pair_pairs=int(deg.sum()))


def _candidates(model: Model, st: PlanState, t: MoveTables) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Candidate swaps (f, j, score), best first, improving ones only."""
    m = model
    n_s = m.n_sites
    open_ = st.open
    removable = open_ & ~m.forced
    addable = ~open_ & m.allowed
    fs = [t.keys // n_s]
    js = [t.keys % n_s]
    # j with the cheapest removal elsewhere (extra 0 there or looked up below);
    # with group limits, also the cheapest removals that keep every group minimum
    # towards sites that keep every group maximum (the globally cheapest removals
    # often sit in groups at their minimum, which blocks every such move)
    pools = [(np.flatnonzero(removable), addable)]
    if m.groups:
        pools.append((np.flatnonzero(st.removable_mask()), addable & st.addable_mask()))
    for rem, add_ok in pools:
        if not rem.size:
            continue
        order = rem[np.argsort(t.loss[rem], kind="stable")[:3]]
        cand_j = np.flatnonzero(add_ok & (t.gain > t.loss[order[0]]))
        for f in order:
            fs.append(np.full(cand_j.size, f, dtype=np.int64))
            js.append(cand_j)
    # the open site at the same location (format change) or the one spacing conflict
    loc_open = np.full(m.n_loc, -1, dtype=np.int64)
    loc_open[m.loc[open_]] = np.flatnonzero(open_)
    jj = np.flatnonzero(addable & (loc_open[m.loc] >= 0))
    fs.append(loc_open[m.loc[jj]])
    js.append(jj)
    one = np.flatnonzero(addable & (st.conf_count == 1))
    if one.size:
        adj_ptr = m.conf_ptr
        lens = adj_ptr[one + 1] - adj_ptr[one]
        nb = m.conf_adj[np.repeat(adj_ptr[one], lens) + ranges(lens)]
        jr = np.repeat(one, lens)
        o = open_[nb]
        fs.append(nb[o])
        js.append(jr[o])
    f = np.concatenate(fs)
    j = np.concatenate(js)
    ok = (f >= 0) & removable[np.maximum(f, 0)] & addable[j]
    f, j = f[ok], j[ok]
    key = f * n_s + j
    key, first = np.unique(key, return_index=True)
    f, j = f[first], j[first]
    score = t.gain[j] - t.loss[f] + t.lookup(f, j, n_s)
    return f, j, score


def _rank_within(keys: np.ndarray) -> np.ndarray:
    """Rank of each entry among the earlier entries with the same key (0 = first)."""
    o = np.argsort(keys, kind="stable")
    ks = keys[o]
    start = run_starts(ks)
    grp_start = np.maximum.accumulate(np.where(start, np.arange(ks.size), 0))
    rank = np.empty(keys.size, dtype=np.int64)
    rank[o] = np.arange(ks.size) - grp_start
    return rank


def round_seconds(model: Model) -> float:
    """Nominal seconds of one round of the swap search at least (``incumbent``'s cost model).

    A round also costs per pair-pair of its move tables (market share's dense cells) and
    per swap it checks against the constraints: :func:`local_search` charges those once known.
    """
    return 1e-3 + SWAP_ROUND_S_PER_PAIR * float(model.pc.size)


def local_search(
    model: Model,
    open_mask: np.ndarray,
    *,
    time_limit_s: float = 30.0,
    max_rounds: int = 100_000,
    batch: bool = True,
    work: Work | None = None,
    work_s: float = math.inf,
) -> tuple[np.ndarray, int]:
    """Improve a plan by swaps until no improving feasible swap remains.

    Rounds are deterministic, so the result depends only on the plan and
    ``max_rounds`` unless the time limit (a safety net) cuts the search short.

    Parameters
    ----------
    model : Model
        Compiled instance.
    open_mask : ndarray of bool
        Starting plan (kept feasible: only constraint-preserving swaps are made).
    time_limit_s : float, default 30
        Wall-clock safety net: stop after this many seconds (the plan is always valid).
    max_rounds : int
        Rounds at most.
    batch : bool, default True
        Apply every non-overlapping improving swap of a round.
    work : incumbent.Work, optional
        Charged each round's cost: :func:`round_seconds` plus its move tables'
        pair-pairs and the swaps it checked against the constraints.
    work_s : float, default inf
        The work limit: no round starts once this many nominal seconds are spent.

    Returns
    -------
    open_mask : ndarray of bool
        The improved plan.
    n_swaps : int
        Swaps made.
    """
    t0 = time.perf_counter()
    st = PlanState(model, open_mask)
    touched = np.zeros(model.n_cells, dtype=bool)
    used_site = np.zeros(model.n_sites, dtype=bool)
    n_swaps = 0
    scale = max(1.0, abs((model.full or model).value(st.open)))
    eps = 1e-10 * scale
    spent = 0.0
    base = round_seconds(model)

    def charge(pair_pairs: int, checks: int) -> None:
        nonlocal spent
        cost = base + SWAP_ROUND_S_PER_PAIR_PAIR * pair_pairs + SWAP_CHECK_S * checks
        spent += cost
        if work is not None:
            work.charge(cost)

    for rnd in range(max_rounds):
        if time.perf_counter() - t0 > time_limit_s:
            log.info("local search: time limit after %d rounds", rnd)
            break
        if spent >= work_s:
            break
        t = move_tables(model, st.open)
        f, j, score = _candidates(model, st, t)
        good = score > eps
        if not np.any(good):
            charge(t.pair_pairs, 0)
            break
        f, j, score = f[good], j[good], score[good]
        order = np.argsort(-score, kind="stable")
        if model.groups:
            # moves that clearly keep every group limit first (stable: best first within
            # each class), so binding province limits do not crowd out every usable move
            clear = st.removable_mask()[f] & st.addable_mask()[j]
            order = order[np.argsort(~clear[order], kind="stable")]
        if batch and order.size > 64:
            # a round uses each site at most once: keep, per site, its few best moves
            # (a few, not one, so a move blocked by a constraint has a fallback)
            f_o, j_o = f[order], j[order]
            keep = (_rank_within(f_o) < 3) | (_rank_within(j_o) < 3)
            order = order[keep][:5000]
        taken = 0
        checks = 0
        touched_cells: list[np.ndarray] = []
        for k in order:
            ff, jj = int(f[k]), int(j[k])
            if used_site[ff] or used_site[jj]:
                continue
            tm = t.model
            cells = np.concatenate([tm.pc[tm.site_cells(ff)], tm.pc[tm.site_cells(jj)]])
            if taken and np.any(touched[cells]):
                continue
            checks += 1
            if not st.can_swap(ff, jj):
                continue
            st.swap(ff, jj)
            taken += 1
            touched[cells] = True
            touched_cells.append(cells)
            used_site[ff] = used_site[jj] = True
            if not batch:
                break
        for c in touched_cells:
            touched[c] = False
        used_site[:] = False
        charge(t.pair_pairs, checks)
        if taken == 0:
            break
        n_swaps += taken
    log.debug("local search: %d swaps in %.2fs", n_swaps, time.perf_counter() - t0)
    return st.open, n_swaps
