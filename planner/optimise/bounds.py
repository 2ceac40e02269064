"""Proven bounds for coverage and distance: the cell Lagrangian and reduced-cost fixing.

Coverage and distance (the "maximum-benefit facility location" form of
``model.py``): relaxing "each cell counts its best open site once" with a
multiplier ``u_i >= 0`` per cell leaves ``sum_i u_i + max over plans of
sum_{j open} rho_j(u)`` with ``rho_j = sum_i max(0, b_ij - u_i)``. The plan part
keeps forced sites, forbidden sites and one site per location and drops the
other side constraints (dropping constraints only loosens a bound, so it stays
valid). Subgradient steps (Polyak, with the incumbent as target) minimise it;
it converges to the LP relaxation's value. Each iterate's plan is also a
candidate plan, and the final multipliers give reduced costs that show which
sites cannot be in any better plan (``fixing``).

Market share has its own bounds in ``market_share_bounds``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from planner.optimise.model import Model, dot, run_starts

log = logging.getLogger(__name__)


@dataclass
class LagrangeResult:
    """Best bound found and the multipliers that prove it."""

    bound: float  # internal value (maximised form)
    u: np.ndarray
    rho: np.ndarray
    selected: np.ndarray  # bool[M] plan of the relaxation at ``u``
    iterations: int


def select_top(model: Model, score: np.ndarray, count: int | None = None) -> np.ndarray:
    """Forced sites plus the best ``count - forced`` others, at most one per location.

    Sites of a location holding a forced site are excluded; forbidden sites never
    enter. ``count`` defaults to the store total.
    """
    m = model
    count = m.p if count is None else count
    sel = m.forced.copy()
    k = count - int(sel.sum())
    if k <= 0:
        return sel
    elig = m.allowed & ~m.forced
    loc_taken = np.zeros(m.n_loc, dtype=bool)
    loc_taken[m.loc[m.forced]] = True
    elig &= ~loc_taken[m.loc]
    idx = np.flatnonzero(elig)
    if idx.size == 0:
        return sel
    if m.n_loc == m.n_sites:
        best = idx  # every site is its own location
    else:
        # best site per location, then the top k locations
        order = idx[np.lexsort((-score[idx], m.loc[idx]))]
        first = run_starts(m.loc[order])
        best = order[first]
    if best.size > k:
        top = best[np.argpartition(-score[best], k - 1)[:k]]
    else:
        top = best
    sel[top] = True
    return sel


def _floor(model: Model) -> np.ndarray:
    return np.zeros(model.n_cells) if model.floor is None else model.floor


def lagrangian_value(model: Model, u: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Bound at multipliers ``u`` (valid for any ``u >= 0``, and ``u >= floor`` on a
    truncated model, whose left-out pairs then contribute exactly 0).

    Returns
    -------
    bound : float
    rho : ndarray
    selected : ndarray of bool
    """
    r = np.maximum(model.val - u[model.pc], 0.0)
    rho = np.bincount(model.ps, weights=r, minlength=model.n_sites)
    sel = select_top(model, rho)
    return float(u.sum() + rho[sel].sum()), rho, sel


def lagrangian_facility(
    model: Model,
    incumbent_value: float,
    u0: np.ndarray,
    *,
    time_limit_s: float = 10.0,
    max_iter: int = 3000,
    gap_stop: float = 1e-6,
    on_plan: Callable[[np.ndarray], float | None] | None = None,
    plan_every: int = 10,
) -> LagrangeResult:
    """Minimise the cell-relaxation bound by subgradient steps.

    Parameters
    ----------
    model : Model
        Compiled coverage / distance model.
    incumbent_value : float
        Internal value of the best known plan (Polyak step target).
    u0 : ndarray
        Starting multipliers (the incumbent's per-cell values are a good start).
    time_limit_s, max_iter : float, int
        Work limits.
    gap_stop : float
        Stop when (bound - incumbent) / bound falls below this.
    on_plan : callable, optional
        Called with the relaxation's plan every ``plan_every`` iterations; may
        return a better incumbent value.
        A truncated model (``Model.truncate``) makes each step cheaper; its
        multipliers are kept at or above ``floor``.

    Returns
    -------
    LagrangeResult
    """
    assert model.facility
    t0 = time.perf_counter()
    floor = _floor(model)
    u = np.maximum(u0.astype(float), floor)
    best = LagrangeResult(np.inf, u.copy(), np.zeros(0), np.zeros(0, bool), 0)
    theta = 1.0
    stall = 0
    lb = incumbent_value
    it = 0
    for it in range(1, max_iter + 1):
        val, rho, sel = lagrangian_value(model, u)
        if val < best.bound - 1e-12 * abs(val):
            if val < best.bound - 1e-4 * max(1e-9, best.bound - lb):
                stall = 0
            best = LagrangeResult(val, u.copy(), rho, sel, it)
        else:
            stall += 1
        if stall >= 30:
            theta *= 0.5
            stall = 0
            u = best.u.copy()
        if on_plan is not None and it % plan_every == 1:
            got = on_plan(sel)
            if got is not None and got > lb:
                lb = got
        gap = (best.bound - lb) / max(abs(best.bound), 1e-12)
        if gap <= gap_stop or theta < 1e-5 or time.perf_counter() - t0 > time_limit_s:
            break
        # subgradient: 1 - number of selected sites that beat u_i at cell i
        hit = sel[model.ps] & (model.val > u[model.pc])
        g = 1.0 - np.bincount(model.pc[hit], minlength=model.n_cells)
        # a multiplier at its floor cannot go lower: project the direction
        g = np.where((u <= floor) & (g > 0), 0.0, g)
        nrm = dot(g, g)
        if nrm == 0:
            break
        step = theta * (val - lb) / nrm
        u = np.maximum(u - step * g, floor)
    best.iterations = it
    log.debug("lagrangian: bound %.6g after %d iterations, %.2fs", best.bound, it, time.perf_counter() - t0)
    return best


def reduced_cost_fixing(
    model: Model, lag: LagrangeResult, incumbent_value: float, *, slack: float = 0.0
) -> tuple[np.ndarray, np.ndarray, float]:
    """Sites that cannot be open (or closed) in any plan better than the incumbent.

    Uses upper estimates of the bound with one site forced open (or closed),
    so the test is conservative. A plan strictly better than the incumbent by
    more than ``slack`` cannot open a site in ``out`` nor close one in ``in_``.

    Returns
    -------
    out : ndarray of bool
        Sites that can be fixed closed.
    in_ : ndarray of bool
        Sites that can be fixed open.
    worst_fixed_bound : float
        The largest bound estimate among the fixed sites (the caller's bound
        must be at least this to stay valid).
    """
    m = model
    rho, sel = lag.rho, lag.selected
    free_sel = sel & ~m.forced
    elig = m.allowed & ~m.forced
    out = np.zeros(m.n_sites, dtype=bool)
    in_ = np.zeros(m.n_sites, dtype=bool)
    worst = -np.inf
    if not np.any(free_sel):
        return out, in_, worst
    rho_last = float(rho[free_sel].min())
    unsel = elig & ~sel
    rho_next = float(rho[unsel].max()) if np.any(unsel) else -np.inf
    thr = incumbent_value + slack
    with_j = lag.bound - rho_last + rho
    out = unsel & (with_j <= thr)
    if np.isfinite(rho_next):
        without_j = lag.bound - rho + rho_next
        in_ = free_sel & (without_j <= thr)
    else:
        without_j = np.full(m.n_sites, -np.inf)
        in_ = free_sel.copy()
    cands = []
    if np.any(out):
        cands.append(float(with_j[out].max()))
    if np.any(in_):
        cands.append(float(without_j[in_].max()))
    worst = max(cands) if cands else -np.inf
    return out, in_, worst


