"""Lazy greedy construction of a first plan that respects the constraints.

All three objectives are monotone submodular in the open set (a max of
benefits, or a concave function of a sum), so a site's marginal gain can only
shrink as stores open: keeping stale gains in a priority queue and re-evaluating
only the top (Minoux's lazy greedy) gives the plain greedy's answer at a small
fraction of its cost. Forced sites open first, then sites that group minimums
(provinces, formats, existing stores to keep) require, then the best sites until
the store count is reached, skipping any that would break spacing, one store per
location, a group maximum or a budget (keeping enough budget for the cheapest
sites still needed).
"""

from __future__ import annotations

import heapq
import logging

import numpy as np

from planner.optimise.model import Model, PlanState, huff

log = logging.getLogger(__name__)


class GainTracker:
    """Current per-cell state of a plan and the marginal gain of opening a site."""

    def __init__(self, model: Model, open_mask: np.ndarray | None = None) -> None:
        self.m = model
        self.cur = np.zeros(model.n_cells)  # best benefit (facility) or strength sum S
        if open_mask is not None:
            for j in np.flatnonzero(open_mask):
                self.open_site(int(j))

    def gain(self, j: int) -> float:
        m = self.m
        k = m.site_cells(j)
        c = m.pc[k]
        if m.facility:
            return float(np.maximum(m.val[k] - self.cur[c], 0.0).sum())
        s = self.cur[c]
        return float(np.sum(m.w[c] * (huff(s + m.val[k], m.pull[c]) - huff(s, m.pull[c]))))

    def all_gains(self) -> np.ndarray:
        m = self.m
        if m.facility:
            contrib = np.maximum(m.val - self.cur[m.pc], 0.0)
        else:
            s = self.cur[m.pc]
            contrib = m.w[m.pc] * (huff(s + m.val, m.pull[m.pc]) - huff(s, m.pull[m.pc]))
        return np.bincount(m.ps, weights=contrib, minlength=m.n_sites)

    def open_site(self, j: int) -> None:
        m = self.m
        k = m.site_cells(j)
        c = m.pc[k]
        if m.facility:
            self.cur[c] = np.maximum(self.cur[c], m.val[k])
        else:
            self.cur[c] += m.val[k]


def greedy(model: Model, *, start: np.ndarray | None = None) -> np.ndarray:
    """Build a plan greedily.

    Parameters
    ----------
    model : Model
        Compiled instance.
    start : ndarray of bool, optional
        Sites already open (forced sites are always added).

    Returns
    -------
    ndarray of bool
        Open mask. It has ``model.p`` sites unless the constraints stopped the
        greedy early (the caller then treats the instance as hard or infeasible).
    """
    st = PlanState(model)
    gt = GainTracker(model)
    init = model.forced.copy()
    if start is not None:
        init |= start
    for j0 in np.flatnonzero(init):
        st.add(int(j0))
        gt.open_site(int(j0))

    def reserve(cost: np.ndarray | None, j: int) -> float:
        """Cheapest way to fill the remaining slots after ``j`` from the closed sites."""
        if cost is None:
            return 0.0
        left = max(0, model.p - st.n_open - 1)
        if left == 0:
            return 0.0
        pool = st.addable_mask()  # closed sites that could still open (location, spacing, maxima)
        pool[j] = False
        c = cost[pool]
        if c.size <= left:
            return float(c.sum())
        return float(np.partition(c, left - 1)[:left].sum())

    def budget_ok(j: int) -> bool:
        if not st.can_add(j):
            return False
        if model.capex is None and model.opex is None:
            return True
        return st.can_add(j, reserve_capex=reserve(model.capex, j), reserve_opex=reserve(model.opex, j))

    # Group minimums first: a site of the most groups still short (overlapping minimums then
    # share their stores instead of using up the count), the most valuable of those.
    for _ in range(model.p):
        is_short = st.grp_count < st.grp_min
        short = np.flatnonzero(is_short)
        if short.size == 0 or st.n_open >= model.p:
            break
        cand = np.unique(np.concatenate([model.groups[g].sites for g in short]))
        cand = cand[st.addable_mask()[cand]]  # ``can_add`` for all at once
        # the most valuable one that also leaves budget for the stores still to open
        cand_gain = gt.all_gains()[cand]
        hits = st.group_hits(is_short)[cand]
        order = cand[np.lexsort((-cand_gain, -hits))]
        pick = next((int(j) for j in order if budget_ok(int(j))), None)
        if pick is None:
            log.info("greedy: no site can open for group minimum(s) %s",
                     [model.groups[int(k)].label for k in short])
            break
        st.add(pick)
        gt.open_site(pick)

    gains = gt.all_gains()
    ok = st.addable_mask()
    heap: list[tuple[float, int]] = [(-float(gains[j]), int(j)) for j in np.flatnonzero(ok)]
    heapq.heapify(heap)
    misses = 0
    blocked = {"constraint": 0, "budget": 0}
    while st.n_open < model.p and heap:
        if misses > 64:
            # gains fell everywhere (dense instances): one vectorised refresh beats many pops
            gains = gt.all_gains()
            heap = [(-float(gains[j]), j) for _, j in heap]
            heapq.heapify(heap)
            misses = 0
        neg, j = heapq.heappop(heap)
        if not st.can_add(j):
            blocked["constraint"] += 1
            continue  # only additions happen here, so a blocked site stays blocked
        if (model.capex is not None or model.opex is not None) and not st.can_add(
            j, reserve_capex=reserve(model.capex, j), reserve_opex=reserve(model.opex, j)
        ):
            blocked["budget"] += 1
            continue  # it would leave too little budget for the stores still to open
        gain = gt.gain(j)
        if heap and gain < -heap[0][0] - 1e-12 * max(1.0, abs(gain)):
            heapq.heappush(heap, (-gain, j))
            misses += 1
            continue
        misses = 0
        st.add(j)
        gt.open_site(j)
    if st.n_open < model.p:
        log.info("greedy stopped at %d of %d stores (sites blocked: %s)", st.n_open, model.p, blocked)
    return st.open
