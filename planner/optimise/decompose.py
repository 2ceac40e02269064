"""Regional decomposition: price the shared store count, solve regions exactly.

A national instance falls apart into connected components of the cell-site
graph (a city and its hinterland): two regions share no cell, so they interact
only through limits on the whole plan (store total, budgets, groups spanning
regions). Pricing the store total at ``lambda`` per store (a Lagrange
multiplier) separates the problem into one facility-location problem per region,
``max f_c(S) - lambda |S|``; any upper bounds ``UB_c`` on those give the proven
bound ``lambda * p + sum_c UB_c`` (side constraints that span regions are
dropped, which only loosens it).

Starting from the cell Lagrangian's multipliers, every region has a cheap bound
``L_c``. The gap of the incumbent then splits *exactly* into per-region pieces
``L_c - (f_c(S_c) - lambda |S_c|)``, so effort goes where the gap is: the regions
holding most of it are solved exactly by MIP (in parallel threads), each proof
replacing ``L_c`` and each regional optimum offered back as a plan (with the
store count re-balanced across regions and a final swap search).

Every choice here is taken on the solve's deterministic work budget
(``incumbent.Work``: iterations and MIPs charged by their estimated cost, node
limits on the MIPs), never on the wall clock, which only stops the work early
when the machine is far slower than expected. The regional MIPs run in a thread
pool, but in batches whose results are read in submission order
(``ThreadPoolExecutor.map``) and whose hints are fixed before the batch starts,
so the threads change the wall time, not the answer.
"""

from __future__ import annotations

import logging
import math
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from planner.optimise.bounds import LagrangeResult, cell_metric, select_top
from planner.optimise.incumbent import (
    CELL_HULL_S_PER_CELL,
    LAGRANGIAN_S_PER_PAIR,
    MOVE_TABLES_S_PER_PAIR,
    REGIONAL_CELL_HULL_S_PER_ENTRY,
    REGIONAL_CELL_HULL_S_PER_PAIR,
    REGIONAL_LAGRANGIAN_S_PER_PAIR,
    Work,
    mip_seconds,
    node_limit,
)
from planner.optimise.lns import improve_windows
from planner.optimise.local_search import local_search, move_tables
from planner.optimise.market_share_bounds import cell_tables, cell_terms, step_metric
from planner.optimise.mip import solve_facility_mip
from planner.optimise.model import Model, PlanState, run_starts

if TYPE_CHECKING:  # pragma: no cover
    from planner.optimise.incumbent import Clock, Incumbent

log = logging.getLogger(__name__)

# Regional MIPs with several benefit levels per cell (distance, decayed coverage)
# beyond this many pairs rarely finish in a few seconds, and their root bound is
# the Lagrangian's: the neighbourhood search improves those regions' plans instead.
# (Step coverage keeps them: there SCIP's cuts do tighten the bound.)
_REGION_MIP_MAX_PAIRS = 12_000


@dataclass
class Components:
    """Connected components of the cell-site graph (sites without cells are singletons)."""

    n_components: int
    cell_comp: np.ndarray  # int[N]
    site_comp: np.ndarray  # int[M]
    largest_share: float  # share of pairs in the largest component


def components(model: Model) -> Components:
    """Label the regions of a model.

    Parameters
    ----------
    model : Model
        Compiled model.

    Returns
    -------
    Components
    """
    n, m = model.n_cells, model.n_sites
    g = coo_matrix((np.ones(model.pc.size), (model.pc, n + model.ps)), shape=(n + m, n + m))
    k, lab = connected_components(g, directed=False)
    pairs_per = np.bincount(lab[model.pc], minlength=k)
    share = float(pairs_per.max() / max(1, model.pc.size)) if model.pc.size else 1.0
    return Components(int(k), lab[:n], lab[n:], share)


def _component_terms(
    model: Model, comps: Components, u: np.ndarray, lam: float
) -> tuple[np.ndarray, np.ndarray]:
    """Per-region Lagrangian bound ``L_c(u, lambda)`` and the priced site scores."""
    r = np.maximum(model.val - u[model.pc], 0.0)
    rho = np.bincount(model.ps, weights=r, minlength=model.n_sites)
    score = rho - lam
    take = np.where(model.forced, score, np.maximum(score, 0.0))
    take = np.where(model.allowed | model.forced, take, 0.0)
    # one site per location: keep the best positive score of each location (forced first)
    if model.n_loc < model.n_sites:
        order = np.lexsort((-take, ~model.forced, model.loc))
        first = run_starts(model.loc[order])
        keep = np.zeros(model.n_sites, dtype=bool)
        keep[order[first]] = True
        take = np.where(keep | model.forced, take, 0.0)
    k = comps.n_components
    lc = np.bincount(comps.cell_comp, weights=u, minlength=k)
    lc += np.bincount(comps.site_comp, weights=take, minlength=k)
    return lc, rho


def regional_lagrangian(
    model: Model,
    comps: Components,
    lam: float,
    u0: np.ndarray,
    target: np.ndarray,
    *,
    time_limit_s: float = math.inf,
    max_iter: int = 2000,
    rel_tol: float = 1e-7,
    work_s: float = math.inf,
    work: Work | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-region cell multipliers at a fixed store price, each region on its own.

    With the store count priced at ``lam`` the bound ``lam * p + sum_c L_c(u_c)``
    separates, so each region runs its own Polyak subgradient method (its own
    step, target ``target[c]`` and stall counter) and drops out of the work as
    soon as its bound meets its target: most regions are small and settle in a
    few iterations, leaving the work to the few big cities.

    Work is counted in pairs visited (``REGIONAL_LAGRANGIAN_S_PER_PAIR`` nominal seconds
    each, plus one pass over the cells and sites per iteration): it stops after
    ``work_s`` nominal seconds (charged to ``work`` when given) or ``max_iter``
    iterations; ``time_limit_s`` is only a wall-clock safety net.

    Returns
    -------
    best_l : ndarray
        Best ``L_c`` per region (each a valid bound on the region's priced optimum).
    u : ndarray
        Multipliers achieving them.
    """
    t0 = time.perf_counter()
    k = comps.n_components
    floor = np.zeros(model.n_cells) if model.floor is None else model.floor
    u = np.maximum(u0.astype(float).copy(), floor)
    metric = cell_metric(model)
    reg_pair = comps.cell_comp[model.pc]
    best_l = np.full(k, np.inf)
    best_u = u.copy()
    theta = np.ones(k)
    stall = np.zeros(k, dtype=np.int64)
    active = np.ones(k, dtype=bool)
    scale = np.maximum(np.abs(target), 1.0)
    idx = np.arange(model.pc.size)
    cell_reg = comps.cell_comp
    per_pass = float(model.n_cells + model.n_sites)
    spent = 0.0
    it = 0
    for it in range(1, max_iter + 1):
        if it == 1 or it % 10 == 0:
            idx = np.flatnonzero(active[reg_pair])
            if idx.size == 0:
                break
        if spent >= work_s:
            break
        cost = REGIONAL_LAGRANGIAN_S_PER_PAIR * (idx.size + per_pass)
        spent += cost
        if work is not None:
            work.charge(cost)
        pc, ps, val = model.pc[idx], model.ps[idx], model.val[idx]
        lc, rho, sel = _priced_terms(model, comps, u, lam, pc, ps, val)
        better = active & (lc < best_l)
        with np.errstate(invalid="ignore"):
            improved_much = better & ~(lc >= best_l - 1e-4 * np.maximum(best_l - target, 1e-9))
        stall = np.where(improved_much, 0, stall + 1)
        best_l = np.where(better, lc, best_l)
        cells_b = better[cell_reg]
        best_u[cells_b] = u[cells_b]
        halve = stall >= 20
        theta = np.where(halve, theta * 0.5, theta)
        stall[halve] = 0
        reset = halve[cell_reg]
        u[reset] = best_u[reset]
        done = (best_l - target <= rel_tol * scale) | (theta < 1e-4)
        active &= ~done
        if not np.any(active) or time.perf_counter() - t0 > time_limit_s:
            break
        hit = sel[ps] & (val > u[pc])
        g = 1.0 - np.bincount(pc[hit], minlength=model.n_cells)
        g = np.where((u <= floor) & (g > 0), 0.0, g)
        g = np.where(active[cell_reg], g, 0.0)
        dg = metric * g
        nrm = np.bincount(cell_reg, weights=g * dg, minlength=k)
        step = np.where(nrm > 0, theta * np.maximum(lc - target, 0.0) / np.maximum(nrm, 1e-300), 0.0)
        u = np.maximum(u - step[cell_reg] * dg, floor)
    log.debug("regional lagrangian: %d iterations, %d regions still open, %.2fs",
              it, int(active.sum()), time.perf_counter() - t0)
    return best_l, best_u


def _priced_terms(
    model: Model, comps: Components, u: np.ndarray, lam: float,
    pc: np.ndarray, ps: np.ndarray, val: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``L_c(u, lambda)`` per region from a subset of pairs, the site scores and the chosen sites."""
    r = np.maximum(val - u[pc], 0.0)
    rho = np.bincount(ps, weights=r, minlength=model.n_sites)
    score = rho - lam
    ok = model.allowed & ((score > 0) | model.forced)
    if model.n_loc < model.n_sites:
        order = np.lexsort((-score, ~model.forced, model.loc))
        order = order[ok[order]]
        first = run_starts(model.loc[order])
        keep = np.zeros(model.n_sites, dtype=bool)
        keep[order[first]] = True
        ok = keep | model.forced
    sel = ok | model.forced
    take = np.where(sel, score, 0.0)
    k = comps.n_components
    lc = np.bincount(comps.cell_comp, weights=u, minlength=k)
    lc += np.bincount(comps.site_comp, weights=take, minlength=k)
    return lc, rho, sel


def _component_primal(model: Model, comps: Components, mask: np.ndarray, lam: float) -> np.ndarray:
    """Per-region ``f_c(S_c) - lambda |S_c|`` of a plan."""
    k = comps.n_components
    cv = model.cell_values(mask)
    pv = np.bincount(comps.cell_comp, weights=cv, minlength=k)
    return pv - lam * np.bincount(comps.site_comp, weights=mask.astype(float), minlength=k)


def decomposed_bound(
    model: Model,
    tmodel: Model,
    best: Incumbent,
    lag: LagrangeResult,
    comps: Components,
    *,
    clock: Clock,
    gap_target: float,
    threads: int,
    use_mip: bool,
    integral: bool,
    stats: dict[str, float],
    rng: np.random.Generator | None = None,
    use_lns: bool = True,
) -> None:
    """Tighten the bound (and the plan) region by region; updates ``best`` in place.

    Parameters
    ----------
    model, tmodel : Model
        Full and truncated models.
    best : incumbent.Incumbent
        Incumbent and bound holder.
    lag : LagrangeResult
        Cell multipliers from the global Lagrangian.
    comps : Components
        The regions.
    clock, gap_target, threads, use_mip, integral, stats
        Settings from ``solve``; ``clock`` is only the wall-clock safety net, the
        work budget is ``best.work``.
    rng : numpy.random.Generator, optional
        Seeds the windows of the neighbourhood search.
    use_lns : bool, default True
        Spend the last third of the budget on ``lns.improve_windows``.
    """
    rng = rng if rng is not None else np.random.default_rng(0)
    work = best.work
    # price between the last store the relaxation takes and the first it leaves
    # (of the plain top-p choice: this decomposition drops the disjoint groups' limits that
    # ``lag.selected`` keeps; any price is valid)
    plain = select_top(replace(model, part=None, part_min=None, part_max=None), lag.rho)
    free_sel = plain & ~model.forced
    elig = model.allowed & ~model.forced & ~plain
    hi = float(lag.rho[free_sel].min()) if np.any(free_sel) else 0.0
    lo = float(lag.rho[elig].max()) if np.any(elig) else 0.0
    lam = max(0.0, 0.5 * (hi + lo))
    lc, _ = _component_terms(tmodel, comps, lag.u, lam)
    work.charge(LAGRANGIAN_S_PER_PAIR * tmodel.pc.size)
    base = lam * model.p
    best.offer_bound(base + float(lc.sum()), "lagrangian+regions")
    pv = _component_primal(model, comps, best.plan, lam)
    # each region tightens its own multipliers at this price (most settle at once)
    reg_l, _u = regional_lagrangian(
        tmodel, comps, lam, lag.u, pv, time_limit_s=clock.left,
        work_s=max(0.5, 0.3 * (work.left - 0.12 * work.limit)), work=work,
    )
    clock.expired("regional Lagrangian")
    ub = np.minimum(lc, reg_l)
    best.offer_bound(base + float(ub.sum()), "regional-lagrangian")
    stats["regional_lagrangian_s"] = clock.elapsed
    if not use_mip:
        return
    site_lists = _members(comps.site_comp, comps.n_components)
    cell_lists = _members(comps.cell_comp, comps.n_components)
    target_abs = gap_target * 0.5 * abs(model.user_objective(best.value))

    # Regional MIPs read at most ``top`` benefits per cell: distances give one level
    # per pair, and the deeper levels rarely matter; the left-out ones are charged
    # their best value (``floor``), so the regional bound stays valid.
    step_like = bool(np.all(np.diff(tmodel.cell_ptr) <= 1)) or _single_level(tmodel)
    mmodel = tmodel if step_like else tmodel.truncate(8)
    # Regional MIPs prove the bound where regions are small; in the big ones they
    # stop on their node limits with little to show, and the windows of ``lns``
    # improve the plan far faster, so the MIPs stop at about two thirds of the budget.
    lns_share = 0.3 * work.limit if use_lns else 0.0
    reserve = 0.06 * work.limit + lns_share  # re-balancing, windows, final swap search
    pairs_in = np.bincount(comps.site_comp[mmodel.ps], minlength=comps.n_components)
    mips = _RegionMips(model, mmodel, comps, best, clock, site_lists, cell_lists, pairs_in, threads,
                       skip_big=use_lns and not step_like)
    solved, improved_regions, counts = mips.run(ub, pv, lam, reserve=reserve, target_abs=target_abs,
                                           max_s=4.0 if use_lns else 12.0)
    first_bound = base + float(ub.sum())
    best.offer_bound(first_bound, "lagrangian+regional-mip")
    n_mip = mips.n_mip
    stats["regional_mips"] = float(n_mip)
    stats["regions_solved_exactly"] = float(solved.sum())
    stats["regional_mip_s"] = clock.elapsed
    if improved_regions:
        _rebalance(model, tmodel, best, improved_regions, site_lists, clock)
    if use_lns and best.gap() > gap_target and not clock.expired("windows"):
        # seed windows where the gap is: each region's share of it, spread over its sites
        gap_c = np.maximum(ub - _component_primal(model, comps, best.plan, lam), 0.0)
        if float(gap_c.sum()) <= 1e-9 * max(1.0, abs(best.value)):
            return  # every region's part of the plan is proven optimal at this price
        n_c = np.bincount(comps.site_comp, minlength=comps.n_components)
        weight = gap_c[comps.site_comp] / np.maximum(n_c[comps.site_comp], 1)
        weight = weight + 1e-3 * float(weight.max(initial=0.0)) + 1e-300
        improve_windows(
            model, best, work_s=work.left - 0.04 * work.limit - 0.2,
            deadline=clock.deadline - 0.03 * clock.limit - 0.1,
            rng=rng, seed_weight=weight, stats=stats, gap_target=gap_target, swap_model=tmodel,
        )
        stats["lns_s"] = clock.elapsed
    if use_lns:
        _reprice(model, tmodel, best, lag, comps, mips, lam, counts, first_bound, clock=clock, gap_target=gap_target,
                 stats=stats)


class _RegionMips:
    """The regions' MIPs at a store price, two at a time, biggest gap first (``decomposed_bound``)."""

    def __init__(self, model: Model, mmodel: Model, comps: Components, best: Incumbent, clock: Clock,
                 site_lists: list[np.ndarray], cell_lists: list[np.ndarray], pairs_in: np.ndarray, threads: int,
                 skip_big: bool) -> None:
        self.model, self.mmodel, self.comps, self.best, self.clock = model, mmodel, comps, best, clock
        self.site_lists, self.cell_lists, self.pairs_in = site_lists, cell_lists, pairs_in
        self.workers = max(1, threads)
        self.skip_big = skip_big
        self.n_mip = 0

    def _solve(self, c: int, lam: float, nodes: int) -> tuple[int, Any]:
        t0 = time.perf_counter()
        m = self.model
        sites = np.zeros(m.n_sites, dtype=bool)
        sites[self.site_lists[c]] = True
        cells = np.zeros(m.n_cells, dtype=bool)
        cells[self.cell_lists[c]] = True
        assert self.best.mask is not None
        res = solve_facility_mip(
            self.mmodel, sites, cells=cells, price=lam, side_constraints=True,
            hint=self.best.mask & sites, time_limit_s=math.inf, threads=1, solver_name="SCIP",
            rel_gap=1e-6, deadline=self.clock.t0 + 0.85 * self.clock.limit, node_limit=nodes, restarts=False,
        )
        # the nominal seconds against the wall's, for the cost model's calibration (never used to decide)
        log.debug("regional MIP %d: %d pairs, node limit %d, %s, nominal %.3f s, wall %.3f s", c, int(res.pairs), nodes,
                  res.status, mip_seconds(res.pairs, res.levels), time.perf_counter() - t0)
        return c, res

    def run(self, ub: np.ndarray, pv: np.ndarray, lam: float, *, reserve: float, target_abs: float,
            max_s: float, skip_big: bool | None = None) -> tuple[np.ndarray, list[tuple[int, np.ndarray]], np.ndarray]:
        """Tighten ``ub`` (per region, in place) by MIPs; returns the regions solved exactly, the
        regions' plans and each region's store count in its MIP plan (-1: no MIP plan)."""
        work, clock, k = self.best.work, self.clock, self.comps.n_components
        order = np.argsort(-(ub - pv), kind="stable")
        solved = np.zeros(k, dtype=bool)
        counts = np.full(k, -1, dtype=np.int64)
        plans: list[tuple[int, np.ndarray]] = []
        skip = self.skip_big if skip_big is None else skip_big
        pos = 0
        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            while pos < order.size and work.left > reserve + 1.0:
                if clock.expired("regional MIPs", 0.85):
                    break
                if float(np.sum(ub - pv)) <= target_abs:
                    break
                batch: list[int] = []
                while pos < order.size and len(batch) < self.workers * 2:
                    c = int(order[pos])
                    pos += 1
                    if ub[c] - pv[c] <= 1e-9 * max(1.0, abs(ub[c])):
                        pos = order.size
                        break
                    if 25e-6 * self.pairs_in[c] > 0.5 * (work.left - reserve):
                        continue  # too big to build in the work left
                    if skip and self.pairs_in[c] > _REGION_MIP_MAX_PAIRS:
                        continue  # would stop on its node limit with little to show: the windows take these
                    batch.append(c)
                if not batch:
                    break
                tl = max(0.5, min(0.25 * (work.left - reserve), max_s))
                # the batch's hints and limits are fixed before it starts, and map returns in order
                for c, res in pool.map(
                    lambda c, tl=tl: self._solve(c, lam, node_limit(tl, int(self.pairs_in[c]))), batch
                ):
                    self.n_mip += 1
                    closed = res.status in ("optimal", "infeasible")
                    est = mip_seconds(res.pairs, res.levels)
                    work.charge((est if closed else max(est, tl)) / self.workers)
                    if res.clock_cut:
                        clock.note("regional MIPs")
                    if res.status == "infeasible":
                        continue
                    if np.isfinite(res.bound):
                        # the region's constant part (forced sites' price) is inside the MIP objective
                        ub[c] = min(ub[c], res.bound)
                        solved[c] = res.status == "optimal"
                    if res.open_mask is not None:
                        plans.append((c, res.open_mask))
                        counts[c] = int(res.open_mask[self.site_lists[c]].sum())
        return solved, plans, counts


#: Re-pricing passes of the regional bound once the plan's search is done, at most.
_REPRICE_PASSES = 4


def _reprice(
    model: Model, tmodel: Model, best: Incumbent, lag: LagrangeResult, comps: Components, mips: _RegionMips,
    lam: float, counts: np.ndarray, first_bound: float, *, clock: Clock, gap_target: float,
    stats: dict[str, float],
) -> None:
    """Spend the work left on the store price: the regional bound at other prices.

    ``lam p + sum_c max_S [f_c(S) - lam |S|]`` bounds the plan at every ``lam >= 0``
    and is convex in ``lam``, with slope ``p - sum_c |S_c*|``; the first price (from the
    global relaxation) is rarely its minimum. Each pass moves the price against the
    slope (the regions' store counts in their MIP plans, the incumbent's where a region
    had none), by 10 % at first, halved on each change of sign, and evaluates the bound
    there: the regional Lagrangian at that price, then the small regions' MIPs (at a price
    far from the first, a big region's MIP can take many times its estimate per node),
    biggest gap first. A pass whose bound is worse than the best one's has stepped past
    the minimum: the next goes back from the best price, half as far, the other way.
    """
    work = best.work
    p = int(model.p)
    step = 0.1
    direction = 0
    lam_now = lam
    passes = 0
    counts_plan = np.bincount(comps.site_comp, weights=best.plan.astype(float), minlength=comps.n_components)
    last_counts: np.ndarray = counts
    best_lam, best_val = lam, first_bound  # the first price's regional bound
    worse = False
    while passes < _REPRICE_PASSES and best.gap() > gap_target and work.left > 0.08 * work.limit + 1.0:
        if clock.expired("re-pricing", 0.85) or lam_now <= 0.0:
            break
        if worse:
            sign = -direction  # stepped past the minimum: back from the best price, half as far
            step *= 0.5
        else:
            total = float(np.where(last_counts >= 0, last_counts, counts_plan).sum())
            sign = 1 if total > p else (-1 if total < p else 0)
            if sign == 0:
                break  # the slope is 0 here: this price is the minimum
            if direction and sign != direction:
                step *= 0.5
        direction = sign
        lam_now = max(0.0, best_lam * (1.0 + step * sign))
        pv = _component_primal(model, comps, best.plan, lam_now)
        lc, _ = _component_terms(tmodel, comps, lag.u, lam_now)
        work.charge(LAGRANGIAN_S_PER_PAIR * tmodel.pc.size)
        share = (work.left - 0.08 * work.limit) / (_REPRICE_PASSES - passes)
        reg_l, _u = regional_lagrangian(tmodel, comps, lam_now, lag.u, pv, time_limit_s=clock.left,
                                        work_s=max(0.2, 0.4 * share), work=work)
        ub = np.minimum(lc, reg_l)
        _, _, counts = mips.run(ub, pv, lam_now, reserve=max(0.0, work.left - 0.6 * share),
                                target_abs=gap_target * 0.5 * abs(model.user_objective(best.value)), max_s=4.0,
                                skip_big=True)
        value = lam_now * p + float(ub.sum())
        best.offer_bound(value, "lagrangian+regional-mip")
        worse = value >= best_val
        if not worse:
            best_lam, best_val, last_counts = lam_now, value, counts
        log.debug("re-pricing: price %.6g bound %.9g (best %.9g), %d regional MIPs", lam_now,
                  value, best.bound, int((counts >= 0).sum()))
        passes += 1
    stats["reprice_passes"] = float(passes)


def _single_level(model: Model) -> bool:
    """Every cell's benefits are equal (step coverage): one MIP level per cell."""
    if model.val.size == 0:
        return True
    mx = np.maximum.reduceat(model.val, model.cell_ptr[:-1])
    mn = np.minimum.reduceat(model.val, model.cell_ptr[:-1])
    return bool(np.all(mx == mn))


def _members(labels: np.ndarray, k: int) -> list[np.ndarray]:
    order = np.argsort(labels, kind="stable")
    bounds = np.searchsorted(labels[order], np.arange(k + 1))
    return [order[bounds[c] : bounds[c + 1]] for c in range(k)]


def _rebalance(
    model: Model,
    tmodel: Model,
    best: Incumbent,
    regions: list[tuple[int, np.ndarray]],
    site_lists: list[np.ndarray],
    clock: Clock,
) -> None:
    """Put the regional optima into the plan, fix the store count, polish by swaps.

    The regions' optima at the store price rarely add up to the store total:
    the surplus stores cheapest to lose are closed (or the missing ones most
    worth adding opened), in batches of sites that share no cell, so their
    values are independent and exact, and every step keeps the group limits.
    """
    mask = best.plan.copy()
    for c, sub in regions:
        s = site_lists[c]
        mask[s] = sub[s]
    st = PlanState(model, mask)
    touched = np.zeros(model.n_cells, dtype=bool)
    step_s = 1e-3 + MOVE_TABLES_S_PER_PAIR * model.pc.size
    for _ in range(4 * model.n_sites):
        if clock.expired("re-balancing", 0.97):
            break
        removing, cand, need = _repair_step(model, st)
        if cand is None:
            break
        best.work.charge(step_s)  # a step's cost is its move tables
        t = move_tables(model, st.open)
        cand = cand[np.argsort(t.loss[cand] if removing else -t.gain[cand], kind="stable")]
        want = max(1, need // 4)
        done: list[np.ndarray] = []
        for j in cand[: 20 * want]:
            j = int(j)
            cells = model.pc[model.site_cells(j)]
            if done and (np.any(touched[cells]) or not (st.removable_mask()[j] if removing else st.can_add(j))):
                continue
            st.remove(j) if removing else st.add(j)
            touched[cells] = True
            done.append(cells)
            if len(done) >= want:
                break
        for cells in done:
            touched[cells] = False
        if not done:
            return
    if st.n_open != model.p or not st.feasible():
        return
    work = best.work
    mask, _ = local_search(tmodel, st.open, time_limit_s=clock.left, work=work, work_s=max(0.5, 0.1 * work.left))
    clock.expired("swap search")
    best.offer(mask, "regions+rebalance+swap")


def _repair_step(model: Model, st: PlanState) -> tuple[bool, np.ndarray | None, int]:
    """The next repair of a merged plan: (remove?, candidate sites, how many are needed).

    In order: sites breaking location or spacing, groups under their minimum,
    groups over their maximum, then the store count.
    """
    m = model
    bad = st.open & ~m.forced & ((st.loc_count[m.loc] > 1) | (st.conf_count > 0))
    if np.any(bad):
        return True, np.flatnonzero(bad), 1
    if m.groups:
        under = st.grp_count < st.grp_min
        if np.any(under):
            ok = st.addable_mask() & (st.group_hits(under) > 0)
            return False, np.flatnonzero(ok), int((st.grp_min - st.grp_count)[under].sum())
        over = st.grp_count > st.grp_max
        if np.any(over):
            ok = st.removable_mask() & (st.group_hits(over) > 0)
            return True, np.flatnonzero(ok), int((st.grp_count - st.grp_max)[over].sum())
    excess = st.n_open - m.p
    if excess > 0:
        return True, np.flatnonzero(st.removable_mask()), excess
    if excess < 0:
        return False, np.flatnonzero(st.addable_mask()), -excess
    return False, None, 0


def regional_market_share(
    model: Model,
    comps: Components,
    lam: float,
    mu0: np.ndarray,
    target: np.ndarray,
    *,
    time_limit_s: float = math.inf,
    open_mask: np.ndarray | None = None,
    max_iter: int = 3000,
    d_exact: int = 8,
    rel_tol: float = 1e-7,
    refresh: int = 10,
    deflect: float = 1.5,
    stall_limit: int = 10,
    tables: Any = None,
    mu_out: np.ndarray | None = None,
    work_s: float = math.inf,
    work: Work | None = None,
    site_price: np.ndarray | None = None,
) -> np.ndarray:
    """Per-region cell-hull market-share bound at a fixed store price.

    The market-share analogue of :func:`regional_lagrangian`: with the store
    count priced at ``lam``, ``market_share_bounds.market_share_lagrangian``'s bound separates
    by region, and each region takes its own Polyak steps toward its own target
    (the incumbent's priced value there, steps deflected by the previous
    direction, which speeds the big regions up several times) until it
    converges. Every ``refresh``
    iterations the work is cut down to the cells, pairs and sites of the
    regions still open (most regions settle in a few iterations). The cells'
    upper models (``market_share_bounds.cell_tables``) are exact at ``open_mask`` (the
    incumbent; any plan, or none, keeps the bound valid), or ``tables`` when
    given. ``mu_out``, when given, receives each region's best multipliers
    (for :func:`market_share_bounds.market_share_dual_value`, which re-prices the count).
    ``site_price`` (float[M], optional) is a price per site added to ``lam``
    (the profit objective's fixed costs, ``optimise.profit``).

    Work is counted per iteration in the pairs and the cell tables' subset values
    of the open regions (``incumbent.REGIONAL_CELL_HULL_S_PER_PAIR`` and
    ``_PER_ENTRY``) plus a pass over the cells: it stops after ``work_s`` nominal seconds
    (charged to ``work`` when given) or ``max_iter`` iterations;
    ``time_limit_s`` is only a safety net.

    Returns
    -------
    ndarray
        Best bound per region on ``max f_c(S) - lam |S|`` (``- sum site_price`` over S when given).
    """

    t0 = time.perf_counter()
    m = model
    k = comps.n_components
    tab = cell_tables(m, open_mask, d_exact) if tables is None else tables
    free = tab.free
    mu = np.where(free, np.maximum(mu0.astype(float), 0.0), 0.0)
    metric = step_metric(m)
    dprev = np.zeros(m.val.size)
    cell_reg = comps.cell_comp
    reg_pair = cell_reg[m.pc]
    const_reg = np.bincount(cell_reg, weights=tab.const_cell, minlength=k)
    group_reg = [cell_reg[m.pc[pm[:, 0]]] for pm, _, _ in tab.groups]
    lin_reg = reg_pair[tab.lin_pairs]
    step_reg = reg_pair[tab.step_pairs]
    best_l = np.full(k, np.inf)
    best_mu = mu.copy()
    theta = np.ones(k)
    stall = np.zeros(k, dtype=np.int64)
    active = np.ones(k, dtype=bool)
    scale = np.maximum(np.abs(target), 1.0)
    x = np.zeros(m.val.size)
    # sites that may open besides the forced ones (not at a forced site's location)
    loc_forced = np.zeros(m.n_loc, dtype=bool)
    loc_forced[m.loc[m.forced]] = True
    can = m.allowed & ~m.forced & ~loc_forced[m.loc]
    shared_loc = m.n_loc < m.n_sites
    site_reg = comps.site_comp
    price = np.full(m.n_sites, float(lam)) if site_price is None else float(lam) + np.asarray(site_price, float)
    groups: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    alt = None
    lin = (tab.lin_pairs, tab.lin_coef)
    step_pairs = tab.step_pairs
    pidx = np.arange(m.val.size)
    sidx = np.arange(m.n_sites)
    spent = 0.0
    it = 0
    for it in range(1, max_iter + 1):
        if it == 1 or it % refresh == 0:
            groups = []
            alt = None
            for (pm, masks, vals), greg in zip(tab.groups, group_reg, strict=True):
                a = np.flatnonzero(active[greg])
                if a.size:
                    groups.append((pm[a], masks, vals[a]))
                    if tab.alt is not None and masks.shape[1] == tab.alt.width:
                        alt = tab.alt.take(a)
            a = np.flatnonzero(active[lin_reg])
            lin = (tab.lin_pairs[a], tab.lin_coef[a])
            step_pairs = tab.step_pairs[active[step_reg]]
            pidx = np.flatnonzero(active[reg_pair] & free)
            sidx = np.flatnonzero(active[site_reg])
            entries = sum(masks.shape[0] * pm.shape[0] for pm, masks, _ in groups)
            cost = (REGIONAL_CELL_HULL_S_PER_PAIR * pidx.size + REGIONAL_CELL_HULL_S_PER_ENTRY * entries
                    + CELL_HULL_S_PER_CELL * m.n_cells)
        if spent >= work_s:
            break
        spent += cost
        if work is not None:
            work.charge(cost)
        per_cell = cell_terms(
            tab, mu, x, m.n_cells, m.pc, groups=groups, lin=lin, step_pairs=step_pairs, w=m.w, alt=alt
        )
        lc = const_reg + np.bincount(cell_reg, weights=per_cell, minlength=k)
        rho = np.zeros(m.n_sites)
        rho[sidx] = np.bincount(m.ps[pidx], weights=mu[pidx], minlength=m.n_sites)[sidx]
        sel = can & (rho > price)
        if shared_loc:
            sel = _best_per_location(m, sel, rho - price)
        sel |= m.forced
        lc += np.bincount(site_reg[sidx], weights=np.where(sel[sidx], rho[sidx] - price[sidx], 0.0), minlength=k)
        better = active & (lc < best_l)
        with np.errstate(invalid="ignore"):
            much = better & ~(lc >= best_l - 1e-4 * np.maximum(best_l - target, 1e-9))
        stall = np.where(much, 0, stall + 1)
        best_l = np.where(better, lc, best_l)
        pb = pidx[better[reg_pair[pidx]]]
        best_mu[pb] = mu[pb]
        halve = active & (stall >= stall_limit)
        theta = np.where(halve, theta * 0.5, theta)
        stall[halve] = 0
        pr = pidx[halve[reg_pair[pidx]]]
        mu[pr] = best_mu[pr]
        dprev[pr] = 0.0
        active &= ~((best_l - target <= rel_tol * scale) | (theta < 1e-4))
        if not np.any(active) or time.perf_counter() - t0 > time_limit_s:
            break
        rp = reg_pair[pidx]
        g = np.where(active[rp], sel[m.ps[pidx]].astype(float) - x[pidx], 0.0)
        # the model is nondecreasing in the copies, so ``x <= y`` suffices and mu >= 0
        g = np.where((mu[pidx] <= 0.0) & (g > 0.0), 0.0, g)
        # deflected direction (Camerini, Fratta and Maffioli), region by region
        dp = dprev[pidx]
        dot = np.bincount(rp, weights=g * dp, minlength=k)
        dn = np.bincount(rp, weights=dp * dp, minlength=k)
        beta = np.where(dn > 0, np.maximum(0.0, -deflect * dot / np.maximum(dn, 1e-300)), 0.0)
        d = g + beta[rp] * dp
        dprev[pidx] = d
        dd = metric[pidx] * d  # each pair's step in its own scale (``step_metric``)
        nrm = np.bincount(rp, weights=d * dd, minlength=k)
        step = np.where(nrm > 0, theta * np.maximum(lc - target, 0.0) / np.maximum(nrm, 1e-300), 0.0)
        mu[pidx] = np.maximum(mu[pidx] - step[rp] * dd, 0.0)
    log.debug("regional market share: %d iterations, %d regions still open, %.2fs",
              it, int(active.sum()), time.perf_counter() - t0)
    if mu_out is not None:
        mu_out[:] = best_mu
    return best_l


def _best_per_location(model: Model, sel: np.ndarray, score: np.ndarray) -> np.ndarray:
    """``sel`` keeping only the best-scoring site of each location."""
    idx = np.flatnonzero(sel)
    out = np.zeros(model.n_sites, dtype=bool)
    if idx.size == 0:
        return out
    order = idx[np.lexsort((-score[idx], model.loc[idx]))]
    first = run_starts(model.loc[order])
    out[order[first]] = True
    return out


def market_share_primal_by_region(model: Model, comps: Components, mask: np.ndarray, lam: float) -> np.ndarray:
    """Per-region ``f_c(S_c) - lambda |S_c|`` of a market-share plan."""
    return _component_primal(model, comps, mask, lam)
