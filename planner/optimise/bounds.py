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
    """The plan subproblem of every Lagrangian: forced sites plus the best ``count - forced`` others.

    At most one site per location (sites of a location holding a forced site
    are excluded; forbidden sites never enter), and the minimum and maximum of
    each of the model's disjoint groups (``model.part``, the provinces in a
    scenario) hold. This maximises ``sum score[selected]`` over those sets
    exactly (see :func:`select_range`); other side constraints are dropped, which
    only loosens a bound. ``count`` defaults to the store total.
    """
    count = model.p if count is None else count
    return select_range(model, score, count, count)


@dataclass
class _Pick:
    sel: np.ndarray  # bool[M] the selection
    pool: np.ndarray  # int[*] candidates beyond the group minimums, best first
    n_pool: int  # how many of them were taken
    cand: np.ndarray  # int[*] every candidate (best site of each free location)
    grp: np.ndarray  # int[*] its group (-1: none)
    rank: np.ndarray  # int[*] its rank in its group, best first
    need: np.ndarray  # int[G] sites each group still needs beyond its forced ones
    cap: np.ndarray  # int[G] sites each group may still take


def _pick(model: Model, score: np.ndarray, lo: int, hi: int) -> _Pick:
    m = model
    sel = m.forced.copy()
    n_forced = int(sel.sum())
    elig = m.allowed & ~m.forced
    loc_taken = np.zeros(m.n_loc, dtype=bool)
    loc_taken[m.loc[m.forced]] = True
    elig &= ~loc_taken[m.loc]
    idx = np.flatnonzero(elig)
    if m.n_loc == m.n_sites or idx.size == 0:
        cand = idx  # every site is its own location
    else:
        order = idx[np.lexsort((-score[idx], m.loc[idx]))]
        cand = order[run_starts(m.loc[order])]
    part = m.part
    n_g = 0 if m.part_min is None else m.part_min.size
    if part is None or n_g == 0:
        grp = np.full(cand.size, -1, dtype=np.int64)
        rank = np.zeros(cand.size, dtype=np.int64)
        need = cap = np.zeros(0, dtype=np.int64)
        mand = np.zeros(cand.size, dtype=bool)
        ok = np.ones(cand.size, dtype=bool)
    else:
        assert m.part_min is not None and m.part_max is not None
        grp = part[cand]
        fg = part[m.forced]
        n_forced_g = np.bincount(fg[fg >= 0], minlength=n_g)
        need = np.maximum(m.part_min - n_forced_g, 0)
        cap = np.maximum(m.part_max - n_forced_g, 0)
        o = np.lexsort((-score[cand], grp))
        first = np.flatnonzero(run_starts(grp[o]))
        start = np.repeat(first, np.diff(np.append(first, o.size)))
        rank = np.empty(cand.size, dtype=np.int64)
        rank[o] = np.arange(o.size) - start
        g0 = np.maximum(grp, 0)
        mand = (grp >= 0) & (rank < need[g0])
        ok = (grp < 0) | (rank < cap[g0])
    room = max(hi - n_forced, 0)
    must = cand[mand]
    if must.size > room:  # the limits cannot all hold: the best of what they ask for
        must = must[np.argsort(-score[must], kind="stable")[:room]]
    sel[must] = True
    pool = cand[ok & ~mand]
    pool = pool[np.argsort(-score[pool], kind="stable")]
    k_lo = max(lo - n_forced - must.size, 0)
    k_hi = max(room - must.size, 0)
    take = pool[:k_lo]
    rest = pool[k_lo:k_hi]
    n_pos = int(np.sum(score[rest] > 0)) if lo < hi else rest.size
    sel[take] = True
    sel[rest[:n_pos]] = True  # sorted: the positive ones come first
    return _Pick(sel, pool, take.size + n_pos, cand, grp, rank, need, cap)


def select_range(model: Model, score: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """Forced sites, each disjoint group's minimum, then the best others: ``lo`` in all whatever they score, up to ``hi`` if positive.

    One site per location (the best-scoring one); locations holding a forced
    site and forbidden sites never enter; a group (``model.part``) never takes
    more than its maximum. This maximises ``sum score[selected]`` over every
    open set with those properties and a count in ``[lo, hi]`` (each group's
    value is a concave function of its count, so its best sites first, and the
    count goes to the best marginal sites). When the limits cannot all hold,
    the best of the minimums' sites are taken.
    """
    return _pick(model, score, lo, hi).sel


def plan_prices(model: Model, score: np.ndarray, lo: int, hi: int) -> tuple[float, np.ndarray, float]:
    """Prices that separate the plan subproblem site by site: the count's ``lam``, each site's group price, a constant.

    For any ``lam`` (``>= 0`` when only the upper end ``hi`` can bind, ``<= 0``
    for the lower) and group prices ``alpha_g, beta_g >= 0`` (minimum, maximum),
    ``max over the constrained sets of sum score y <= const + sum over the
    forced sites of (score - price) + sum over the others of max(0, score -
    price)`` with ``price_j = lam - alpha_g(j) + beta_g(j)`` and
    ``const = lam K - sum alpha_g min_g + sum beta_g max_g`` (``K = hi`` for
    ``lam >= 0``, else ``lo``). So a decomposition by region may price each site
    on its own (``decompose``). The prices returned are taken midway at the
    margins of :func:`select_range`'s choice, which makes the separated sum
    equal to that choice's value at ``score``.

    Returns
    -------
    lam : float
    price : ndarray
        float[M] ``lam`` plus each site's group price.
    const : float
    """
    m = model
    pk = _pick(model, score, lo, hi)
    pool_s = score[pk.pool]
    last = float(pool_s[pk.n_pool - 1]) if pk.n_pool > 0 else None
    nxt = float(pool_s[pk.n_pool]) if pk.n_pool < pool_s.size else None
    n_sel = int(pk.sel.sum())
    margins = [v for v in (last, nxt) if v is not None]
    lam = 0.5 * (margins[0] + margins[-1]) if margins else 0.0
    if lo < hi and not ((n_sel >= hi and lam > 0) or (n_sel <= lo and lam < 0)):
        lam = 0.0  # a range end prices the count only where it binds, with the sign it allows
    price = np.full(m.n_sites, lam)
    const = lam * (hi if lam >= 0 else lo)
    n_g = pk.need.size
    if n_g and m.part is not None:
        assert m.part_min is not None and m.part_max is not None
        gs = np.full((n_g, 2), -np.inf)  # per group: score at rank need - 1 and at rank need
        hs = np.full((n_g, 2), -np.inf)  # and at rank cap - 1 and cap
        g0 = np.maximum(pk.grp, 0)
        sc = score[pk.cand]
        for col, r in ((0, pk.need - 1), (1, pk.need)):
            hit = (pk.grp >= 0) & (pk.rank == r[g0])
            gs[pk.grp[hit], col] = sc[hit]
        for col, r in ((0, pk.cap - 1), (1, pk.cap)):
            hit = (pk.grp >= 0) & (pk.rank == r[g0])
            hs[pk.grp[hit], col] = sc[hit]
        with np.errstate(invalid="ignore"):
            low = np.where(np.isfinite(gs[:, 1]), 0.5 * (gs[:, 0] + gs[:, 1]), gs[:, 0])
            alpha = np.where((pk.need > 0) & np.isfinite(gs[:, 0]), np.maximum(lam - low, 0.0), 0.0)
            high = np.where(np.isfinite(hs[:, 0]), 0.5 * (hs[:, 0] + hs[:, 1]), hs[:, 1])
            beta = np.where(np.isfinite(hs[:, 1]), np.maximum(high - lam, 0.0), 0.0)
        alpha = np.nan_to_num(alpha, nan=0.0, posinf=0.0, neginf=0.0)
        beta = np.nan_to_num(beta, nan=0.0, posinf=0.0, neginf=0.0)
        in_g = m.part >= 0
        price[in_g] += beta[m.part[in_g]] - alpha[m.part[in_g]]
        const += float(np.sum(beta * m.part_max) - np.sum(alpha * m.part_min))
    return lam, price, const


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


#: The power of a cell's best benefit that scales its multiplier's steps, per objective
#: (variable-metric Polyak steps, as ``market_share_bounds.step_metric``). Measured at 60 s:
#: distance china_like 1.826 % -> 1.429 (0.5), 1.369 (1), 1.658 (1.5); uniform 3.020 -> 1.597 (1);
#: OR-Library pmed1-40 unchanged (40 optimal, 37 proven). Coverage: the families improve
#: (china_like 0.125 -> 0.000 %) but the national default loses (0.469 -> 0.629 % at 1, 0.550 at
#: 0.5: its store price, read off the global run, gets worse), so coverage keeps plain steps.
_CELL_METRIC_POWER = {"distance": 1.0}


def cell_metric(model: Model) -> np.ndarray:
    """Per cell, the scale of its multiplier's steps (float[N], > 0): its best benefit to a power.

    A cell's multiplier lies between 0 and its best benefit, and demand per cell spans
    orders of magnitude: one step size for all overshoots the small cells and crawls on
    the large ones. Any ``u >= floor`` keeps the bound valid, so this changes the
    convergence, not the validity.
    """
    a = _CELL_METRIC_POWER.get(model.kind, 0.0)
    if a == 0.0:
        return np.ones(model.n_cells)
    top = np.zeros(model.n_cells)
    if model.val.size:
        np.maximum.at(top, model.pc, model.val)
    return scale_metric(top, a)


def scale_metric(scale: np.ndarray, power: float) -> np.ndarray:
    """``scale ** power``, with scales below a billionth of the largest raised to it (all > 0)."""
    mx = float(scale.max(initial=0.0))
    return np.asarray(np.maximum(scale, 1e-9 * mx if mx > 0 else 1.0) ** power)


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
    metric = cell_metric(model)
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
        dg = metric * g
        nrm = dot(g, dg)
        if nrm == 0:
            break
        step = theta * (val - lb) / nrm
        u = np.maximum(u - step * dg, floor)
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


