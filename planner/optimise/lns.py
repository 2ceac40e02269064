"""Large-neighbourhood search: re-optimise one window of the plan exactly by MIP.

Swap search stops at plans no single close-one-open-one move improves, and in a
dense city the better plan is often several moves away (three stores shifted
along a corridor at once). Here a *window* is a compact group of candidate
sites (a breadth-first walk over the cell-site graph from a seed site, plus the
few open stores cheapest to lose and the few closed sites most worth adding
anywhere else, so the window can also trade a store with the rest of the
country). Every site outside the window keeps its state; the MIP of
``mip.solve_facility_mip`` then chooses the window's sites optimally, with
the same number of stores, each cell earning at least what the fixed outside
stores already give it, and every side constraint net of the outside plan
(``outside_open``). Windows of ~100 sites solve to optimality in a fraction of a
second, so one second of search re-optimises dozens of neighbourhoods; each
result is only kept when the checker-grade evaluation of the whole plan improves.

The search is deterministic: its budget is nominal work (each window charged by
``incumbent``'s cost model from its size, or its node limit when it reaches it),
window sizes adapt to what the MIPs report (node limit reached or not), never to
how long they took, and the wall clock is only a safety net.

This is the primal side of the decomposition: the regional MIPs prove the bound
where the regions are small, the windows improve the plan where they are large.
"""

from __future__ import annotations

import logging
import math
import time
from typing import TYPE_CHECKING

import numpy as np

from planner.optimise.incumbent import mip_seconds, node_limit
from planner.optimise.local_search import local_search, move_tables
from planner.optimise.mip import solve_facility_mip
from planner.optimise.model import Model, ranges

if TYPE_CHECKING:  # pragma: no cover
    from planner.optimise.incumbent import Incumbent

log = logging.getLogger(__name__)


def window_sites(model: Model, seed: int, size: int, eligible: np.ndarray) -> np.ndarray:
    """About ``size`` eligible sites around ``seed`` (breadth-first over shared cells).

    Parameters
    ----------
    model : Model
        Compiled model (facility form).
    seed : int
        Start site.
    size : int
        Sites wanted; the last layer is cut to the sites sharing the most cells
        with the window so far.
    eligible : ndarray of bool
        Sites that may join (allowed or forced).

    Returns
    -------
    ndarray of int
        Site ids, the seed first.
    """
    m = model
    seen = np.zeros(m.n_sites, dtype=bool)
    seen[seed] = True
    chosen = [np.array([seed], dtype=np.int64)]
    n = 1
    frontier = np.array([seed], dtype=np.int64)
    cell_seen = np.zeros(m.n_cells, dtype=bool)
    while n < size and frontier.size:
        lens = m.site_ptr[frontier + 1] - m.site_ptr[frontier]
        pairs = m.site_pairs[np.repeat(m.site_ptr[frontier], lens) + ranges(lens)]
        cells = np.unique(m.pc[pairs])
        cells = cells[~cell_seen[cells]]
        cell_seen[cells] = True
        if cells.size == 0:
            break
        lens = m.cell_ptr[cells + 1] - m.cell_ptr[cells]
        sites = m.ps[np.repeat(m.cell_ptr[cells], lens) + ranges(lens)]
        sites = sites[~seen[sites] & eligible[sites]]
        if sites.size == 0:
            break
        uniq, cnt = np.unique(sites, return_counts=True)
        uniq = uniq[np.argsort(-cnt, kind="stable")][: size - n]
        seen[uniq] = True
        chosen.append(uniq)
        n += uniq.size
        frontier = uniq
    return np.concatenate(chosen)


def _outside_best(model: Model, cells: np.ndarray, outside: np.ndarray) -> np.ndarray:
    """Per cell, the best benefit an open site of ``outside`` gives it (only ``cells`` filled in)."""
    m = model
    cl = np.flatnonzero(cells)
    floor = np.zeros(m.n_cells) if m.floor is None else m.floor.copy()
    lens = m.cell_ptr[cl + 1] - m.cell_ptr[cl]
    ok = lens > 0
    cl, lens = cl[ok], lens[ok]
    if cl.size:
        pairs = np.repeat(m.cell_ptr[cl], lens) + ranges(lens)
        v = np.where(outside[m.ps[pairs]], m.val[pairs], 0.0)
        floor[cl] = np.maximum(floor[cl], np.maximum.reduceat(v, np.cumsum(lens) - lens))
    return floor


def _swap_polish(model: Model, best: Incumbent, budget: float, end: float) -> float:
    """A swap search from the incumbent (at most a tenth of ``budget`` nominal seconds); its work."""
    assert best.mask is not None
    before = best.work.spent
    mask, n_swaps = local_search(model, best.mask, time_limit_s=max(0.0, end - time.perf_counter()),
                                 work=best.work, work_s=max(0.05, 0.1 * budget))
    if n_swaps:
        best.offer(mask, "lns+swap")
    return best.work.spent - before


def improve_windows(
    model: Model,
    best: Incumbent,
    *,
    rng: np.random.Generator,
    work_s: float | None = None,
    deadline: float | None = None,
    seed_weight: np.ndarray | None = None,
    size: float = 80,
    extra: int = 6,
    per_window_s: float = 2.0,
    stats: dict[str, float] | None = None,
    gap_target: float = 0.0,
    swap_every: int = 10,
    swap_model: Model | None = None,
) -> int:
    """Re-optimise windows of the incumbent until the work budget is spent; updates ``best``.

    Parameters
    ----------
    model : Model
        The full (untruncated) facility-form model.
    best : incumbent.Incumbent
        Incumbent holder (``offer`` keeps a plan only if it is feasible and better);
        its ``work`` is charged for every window.
    rng : numpy.random.Generator
        Seeds are drawn from it (reproducible for a fixed seed).
    work_s : float, optional
        Nominal seconds of work to spend at most (default what is left of ``best.work``).
    deadline : float, optional
        ``time.perf_counter()`` value to stop by: the safety net (default the end
        of ``best.clock``). Stopping on it is recorded in ``best.clock.cut``.
    seed_weight : ndarray, optional
        Relative chance of each site to seed a window (e.g. its region's share
        of the gap); default uniform over the open sites.
    size, extra : float, int
        Sites in the compact part of a window (at most: it shrinks while the
        windows' MIPs reach their node limit or are estimated above half a
        nominal second, and grows back below a tenth); cheapest-to-lose open
        stores and most-wanted closed sites added from elsewhere.
    per_window_s : float
        Nominal seconds of one window's MIP: its node limit.
    stats : dict, optional
        Receives ``lns_windows`` and ``lns_improved``.
    gap_target : float
        Stop once the incumbent's proven gap is at most this.
    swap_every, swap_model : int, Model
        After every ``swap_every`` improving windows, and once at the end, a swap
        search over the whole plan (on ``swap_model``, default ``model``, e.g. its
        truncation): a window's optimum is only optimal inside the window, and the
        swaps across window borders that it opens are cheap to find (0 = never).

    The search also stops after ``50 + 3 p / size`` windows in a row without
    improvement (every part of the plan has had several chances).

    Returns
    -------
    int
        Windows that improved the plan.
    """
    m = model
    eligible = m.allowed | m.forced
    windows = improved = stall = polished = 0
    size0 = float(size)
    tables = None
    tables_for: np.ndarray | None = None
    # give up after many windows in a row found nothing (each open site had a few chances)
    patience = 50 + 3 * int(m.p) // max(1, int(size))
    budget = best.work.left if work_s is None else work_s
    end = best.clock.deadline if deadline is None else deadline
    spent = 0.0
    while best.mask is not None and spent < budget and stall < patience:
        if best.gap() <= gap_target:
            break
        if time.perf_counter() >= end - 0.1:
            best.clock.note("windows")
            break
        mask = best.mask
        w = (seed_weight if seed_weight is not None else mask.astype(float)) * eligible
        tot = float(w.sum())
        if tot <= 0:
            break
        seed = int(rng.choice(m.n_sites, p=w / tot))
        win = np.zeros(m.n_sites, dtype=bool)
        win[window_sites(m, seed, int(size), eligible)] = True
        if extra:
            if tables is None or tables_for is not mask:  # only a new plan changes them
                tables, tables_for = move_tables(m, mask), mask
            t = tables
            out = np.flatnonzero(mask & ~m.forced & ~win)
            win[out[np.argsort(t.loss[out], kind="stable")[:extra]]] = True
            inn = np.flatnonzero(~mask & m.allowed & ~win)
            win[inn[np.argsort(-t.gain[inn], kind="stable")[:extra]]] = True
        outside = mask & ~win
        # the window's pairs through the by-site index: a window costs its own size, not the instance's
        ws = np.flatnonzero(win)
        lens = m.site_ptr[ws + 1] - m.site_ptr[ws]
        wpairs = m.site_pairs[np.repeat(m.site_ptr[ws], lens) + ranges(lens)]
        cells = np.zeros(m.n_cells, dtype=bool)
        cells[m.pc[wpairs]] = True
        floor = _outside_best(m, cells, outside)
        n_pairs = int(wpairs.size)  # the MIP's size driver
        res = solve_facility_mip(
            m, win, cells=cells, count=int((mask & win).sum()), side_constraints=True,
            outside_open=outside, floor=floor, hint=mask, time_limit_s=math.inf,
            threads=1, solver_name="SCIP", rel_gap=1e-7, deadline=end,
            node_limit=node_limit(per_window_s, n_pairs),
        )
        windows += 1
        closed = res.status in ("optimal", "infeasible")
        est = mip_seconds(res.pairs, res.levels)
        cost = est if closed else max(est, per_window_s)
        spent += cost
        best.work.charge(cost)
        if res.clock_cut:
            if res.open_mask is not None:
                best.offer(outside | (res.open_mask & win), "lns")
            best.clock.note("windows")
            break
        # shrink the windows where their MIPs are hard (node limit reached) or large (long
        # benefit lists, e.g. distance); many small exact windows beat a few large ones
        if not closed or est > 0.5:
            size = max(12.0, 0.7 * size)
        elif est < 0.1:
            size = min(size0, 1.1 * size)
        if res.open_mask is not None and not np.array_equal(res.open_mask[ws], mask[ws]):
            # a changed window (an unchanged one is the incumbent: no need to score it)
            cand = outside | (res.open_mask & win)
            if best.offer(cand, "lns"):
                improved += 1
                stall = 0
                if swap_every and improved - polished >= swap_every:
                    spent += _swap_polish(swap_model or m, best, budget - spent, end)
                    polished = improved
                continue
        stall += 1
    if swap_every and improved > polished and best.mask is not None:
        spent += _swap_polish(swap_model or m, best, max(0.0, budget - spent), end)
    if stats is not None:
        stats["lns_windows"] = stats.get("lns_windows", 0.0) + windows
        stats["lns_improved"] = stats.get("lns_improved", 0.0) + improved
    log.debug("lns: %d windows, %d improved", windows, improved)
    return improved
