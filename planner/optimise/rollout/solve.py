"""The rollout's entry points: in which quarter each new store opens, limited by managers, money and command.

Two modes (``rollout.mode``):

- ``two_stage`` (:func:`schedule`): the sites come from the site selection; every
  new site must open within the horizon and only the quarters are chosen;
- ``joint`` (:func:`plan_joint`): sites and quarters together on time-indexed
  variables, subject to the site selection's own constraints as well.

Both maximise the sum over quarters of the quarterly objective of the network
open at the end of the quarter (coverage, Huff market share, or -- for the
``distance`` objective -- the distance saved; for ``profit`` the quarter's
discounted cash, so the sum is the rollout's NPV in CNY, with capex paid in the
opening quarter and a ramp to maturity: :mod:`~planner.optimise.rollout.npv`),
subject to the manager pipeline
(see :mod:`planner.optimise.rollout_check` for its exact dynamics), the quarterly
capex budget (external hires are paid from it too; unspent money carries over
when ``rollout.carry_over``), the chain of command (a province opens county
stores only from the quarter after it has ``city_stores_before_county`` stores in
its city cores, :mod:`~planner.optimise.rollout.chain`) and the front command's
capacity per province and quarter.

Method. A greedy by marginal value (and one by value per CNY when a budget is
set), quarter by quarter (:mod:`~planner.optimise.rollout.greedy`), gives feasible
incumbents; the joint mode also takes the two-stage schedule of a given selection
as one, so it is never worse than two-stage. A MIP (:mod:`~planner.optimise.rollout.mip`,
built with OR-Tools ``pywraplp``, solved by HiGHS (SciPy's) by default, SCIP on request) on
time-indexed cumulative variables ``Y[j, t]`` (site ``j`` open by the end of quarter ``t``)
improves them; its LP relaxation is solved first so a bound exists even when the
MIP finds nothing in time. The MIP stops on a node limit set from
``solver.time_limit_s`` (deterministic work); the wall clock is only a safety net,
and when it ends the LP or the MIP the status is ``time_limit`` with a warning. The MIP's objective over-estimates the true value for
every schedule (:mod:`~planner.optimise.rollout.linearise`), so its proven bound
is a valid upper bound on the best schedule. A second, independent bound -- per
quarter, ``f(G) + (the cap_t largest gains w.r.t. G)`` for any network ``G``
(Nemhauser-Wolsey-Fisher; ``cap_t`` = most stores the pipeline and budget can
open by quarter ``t``, a tiny count-only MIP) -- is valid over all candidates, so
it also bounds the joint mode when the MIP runs on a reduced candidate pool (the
MIP and LP bounds are only used when the MIP sees every candidate). With ``profit`` the money
is linear on the opening variables and goes straight into the MIP and the bound;
the ramp enters the MIP as an under-charged loss, so every bound stays a valid
upper bound on the exact NPV (the argument is in :mod:`~planner.optimise.rollout.npv`),
and the greedy also runs a variant in which openings worth nothing yet wait. The reported
bound is the smallest valid one; the objective is always recomputed exactly and
every schedule is verified by :func:`~planner.optimise.rollout_check.check_rollout`
before it is returned.
"""

# The model notation (T quarters, B budget, L training lag, E existing stores, Y[j, t])
# is kept in code so it reads like the docstrings.
# ruff: noqa: N806

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Any, Literal

import numpy as np

from planner.errors import InfeasibleError
from planner.optimise.incumbent import relative_gap
from planner.optimise.rollout.context import NEVER, Context, Selection, make_context
from planner.optimise.rollout.feasibility import explain_upfront, max_cumulative_openings
from planner.optimise.rollout.greedy import Staff, quarter_greedy, staff_schedule
from planner.optimise.rollout.linearise import linearise
from planner.optimise.rollout.mip import Families, Mip, diagnose
from planner.optimise.rollout.model import quarter_cash, quarter_table
from planner.optimise.rollout.npv import is_profit, npv_bound
from planner.optimise.rollout.types import MipBackend, RolloutInstance, RolloutParams, RolloutResult
from planner.optimise.rollout_check import check_rollout
from planner.optimise.types import Solution

__all__ = ["schedule", "plan_joint", "plan_rollout"]

logger = logging.getLogger(__name__)

#: Largest joint MIP (pool sites x quarters) tried on a reduced candidate pool.
_MAX_POOL_BINARIES = 5_000


def _quarter_bound(ctx: Context, caps: np.ndarray, checkpoints: list[np.ndarray], pool: np.ndarray) -> np.ndarray:
    """Per quarter, ``min_G f(G) + sum of the cap_t largest gains w.r.t. G`` (float[T], value units).

    Valid for any network ``G`` (submodularity and monotonicity): the best network
    of quarter ``t`` holds at most ``caps[t]`` stores from ``pool`` (global ids)
    beyond those open before the horizon.
    """
    vm = ctx.vm
    best = np.full(ctx.T, math.inf)
    for g_sites in checkpoints:
        st = ctx.base_state.copy()
        vm.add(st, g_sites)
        fg = vm.total(st)
        gains = np.sort(vm.gains(st, pool))[::-1]
        cum = np.r_[0.0, np.cumsum(gains)]
        best = np.minimum(best, fg + cum[np.minimum(caps, gains.size)])
    return best


GreedyVariant = tuple[Literal["value", "ratio"], bool, bool, str]  # score, postpone, by_share, name


def _greedy_variants(ctx: Context) -> list[GreedyVariant]:
    """The quarter greedies to run; ``profit`` also lets worthless openings wait, and orders by share alone."""
    scores: list[Literal["value", "ratio"]] = ["value"]
    if ctx.params.capex_budget_per_quarter_cny is not None:
        scores.append("ratio")
    out: list[GreedyVariant] = [(sc, False, False, f"greedy-{sc}") for sc in scores]
    if is_profit(ctx.rinst):
        out += [(sc, True, False, f"greedy-{sc}-wait") for sc in scores]
        out += [(sc, False, True, f"greedy-{sc}-share") for sc in scores]
    return out


#: Branch-and-bound nodes of the rollout MIP per second of ``solver.time_limit_s`` (its work limit;
#: HiGHS mostly closes the national schedules at the root, 12-23 s there)
_NODES_PER_S = 20.0
_LEAST_NODES = 50


def _default_backend() -> MipBackend:
    # HiGHS solved the national two-stage case ~4x faster than SCIP (bench_rollout.py)
    return "HIGHS"


def _result(
    ctx: Context, q_local: np.ndarray, staff: Staff, *, bound_value: float | None, t0: float,
    methods: dict[str, str], status: str, mode: str, stats: dict[str, float],
) -> RolloutResult:
    rinst, params = ctx.rinst, ctx.params
    opened = q_local != NEVER
    sites = np.r_[ctx.base, ctx.cand[opened]].astype(np.int64)
    quarter = np.r_[np.full(ctx.base.size, -1), q_local[opened]].astype(np.int64)
    hires, prom, ahires = staff
    table, obj, values = quarter_table(rinst, params, sites, quarter, hires, prom, ahires)
    value = float(values.sum())
    kind = rinst.objective_kind
    bound = gap = None
    if bound_value is not None:
        bound_value = max(bound_value, value)
        if kind == "distance":  # objective = T U sum(w) - value: the value's upper bound is a lower bound
            bound = ctx.T * ctx.vm.objective(0.0) - bound_value
        else:
            bound = bound_value
        if kind == "profit":  # an NPV may be negative: the gap relative to the bound's size
            gap = _npv_gap(obj, bound)
        else:
            gap = relative_gap(obj, bound, maximise=kind != "distance")
    res = RolloutResult(
        open_sites=sites, quarter=quarter, hires=np.asarray(hires, dtype=np.int64), table=table,
        objective=obj, objective_kind=kind, bound=bound, gap=gap, seconds=time.perf_counter() - t0,
        methods=methods, status=status, mode=mode, stats=stats,
        promotions=np.asarray(prom, dtype=np.int64), area_hires=np.asarray(ahires, dtype=np.int64),
    )
    if kind == "profit":  # the selection's yearly profit of the final network (margin x share - fixed costs)
        inst = rinst.instance
        fixed = np.zeros(inst.n_sites) if inst.site_fixed_cost is None else np.asarray(inst.site_fixed_cost, float)
        margin = 1.0 if inst.margin is None else float(inst.margin)
        res.final_objective = margin * ctx.vm.total(ctx.vm.state_of(sites)) - float(fixed[sites].sum())
    problems = check_rollout(rinst, res, params)
    if problems:  # our bug, not the user's
        raise RuntimeError("rollout schedule violates its constraints:\n" + "\n".join(problems))
    return res


def _npv_gap(objective: float, bound: float) -> float:
    """Relative gap of an NPV (either sign): ``(bound - objective) / |bound|`` (0 when both are 0)."""
    den = abs(bound) if bound != 0 else abs(objective)
    return max(0.0, (bound - objective) / den) if den > 0 else 0.0


ScheduleIncumbent = tuple[np.ndarray, np.ndarray, Staff, str]  # new sites (global), their quarters, staff, name


def _run(
    ctx: Context, *, mode: str, time_limit_s: float, seed: int, backend: str | None, max_terms: int,
    threads: int, use_mip: bool, t0: float, pool_all: np.ndarray, caps: np.ndarray | None = None,
    incumbents: Sequence[ScheduleIncumbent] = (), run_greedy: bool = True, gap_target_pct: float = 0.01,
) -> RolloutResult:
    """Greedy, bounds, MIP, verified result; ``caps`` given = the caller already checked feasibility."""
    if caps is None:
        probs = explain_upfront(ctx)
        if probs:
            raise InfeasibleError("the rollout cannot open the planned stores within the horizon",
                                  problems=probs)
        caps = np.minimum(max_cumulative_openings(ctx), ctx.n_required)
    backend = backend or _default_backend()
    profit = is_profit(ctx.rinst)
    stats: dict[str, float] = {"candidates": float(ctx.n), "required_openings": float(ctx.n_required)}
    # --- incumbents: the caller's, then greedy
    best: tuple[float, np.ndarray, Staff, str] | None = None

    eval_s = [0.0]

    def offer(q: np.ndarray, hires: Staff, name: str) -> None:
        nonlocal best
        te = time.perf_counter()
        val = _schedule_value(ctx, q)
        eval_s[0] = max(eval_s[0], time.perf_counter() - te)
        logger.info("rollout %s: value %.6g", name, val)
        if best is None or val > best[0] + 1e-9 * max(1.0, abs(val)):
            best = (val, q, hires, name)

    g2l = np.full(ctx.rinst.instance.n_sites, -1, dtype=np.int64)
    g2l[ctx.cand] = np.arange(ctx.n)
    for sites, qs, hires, name in incumbents:
        loc = g2l[sites]
        if np.any(loc < 0):
            continue
        q = np.full(ctx.n, NEVER, dtype=np.int64)
        q[loc] = qs
        if ctx.sel is None or ctx.sel.accepts(loc):
            offer(q, hires, name)
    if run_greedy:
        for sc, wait, by_share, name in _greedy_variants(ctx):
            g = quarter_greedy(ctx, score=sc, postpone=wait, by_share=by_share)
            if g is not None:
                offer(g[0], g[1], name)
    stats["greedy_s"] = time.perf_counter() - t0
    stats["incumbent_value"] = best[0] if best else math.nan
    # --- the per-quarter submodular bound (before the MIP, so the MIP gets the rest of the time)
    qb = math.inf
    if best is not None:
        checkpoints = [np.zeros(0, dtype=np.int64)] + [
            ctx.cand[(best[1] != NEVER) & (best[1] <= t)] for t in range(ctx.T)
        ]
        if profit:
            qb = npv_bound(ctx, np.minimum(caps, pool_all.size), checkpoints, pool_all)
        else:
            qb = float(_quarter_bound(ctx, np.minimum(caps, pool_all.size), checkpoints, pool_all).sum())
    bounds = {"submodular-per-quarter": qb}
    stats["bound_submodular"] = qb
    # --- MIP
    primal = best[3] if best else "none"
    status = "feasible"
    reserve = 1.0 + 4.0 * eval_s[0]  # evaluating the MIP's plan, building and checking the result
    left = time_limit_s - (time.perf_counter() - t0) - reserve
    exact = False
    warning: str | None = None
    if use_mip and left > 0.5:
        tb = time.perf_counter()
        lin = linearise(ctx, max_terms=max_terms, seed=seed)
        mip = Mip(ctx, lin, backend, Families())
        stats["mip_build_s"] = time.perf_counter() - tb
        stats["cov_terms"] = float(len(lin.cov_sets))
        stats["huff_cells"] = float(len(lin.huff_cells))
        stats["relaxed_terms"] = float(lin.n_relaxed)
        if ctx.sel is None or pool_all.size == ctx.n:
            # the LP relaxation: a valid bound even when the MIP finds nothing in time
            tl = time.perf_counter()
            lp = Mip(ctx, lin, backend, Families(), relax=True)
            lp_left = 0.3 * (time_limit_s - (time.perf_counter() - t0) - reserve)
            lp_out = lp.solve(max(lp_left, 0.5), None, threads, gap_target_pct)
            stats["lp_s"] = time.perf_counter() - tl
            if lp_out.clock_cut:
                status = "time_limit"
                warning = (f"the wall-clock limit (solver.time_limit_s = {time_limit_s:g} s) cut the rollout's LP "
                           "relaxation short; its bound is missing, and another run may report a different one")
            if lp_out.status == "optimal" and lp_out.mip_value is not None:
                bounds[f"lp-{backend.lower()}"] = lp_out.mip_value
                stats["bound_lp"] = lp_out.mip_value
            del lp
        # HiGHS overshoots its limit by up to ~10% when a long LP is under way
        left = 0.85 * (time_limit_s - (time.perf_counter() - t0) - reserve)
        # the node limit is the MIP's deterministic work limit (from the scenario's limit, not the
        # clock), the seconds left only the safety net
        nodes = max(_LEAST_NODES, int(_NODES_PER_S * time_limit_s))
        out = mip.solve(max(left, 0.5), None if best is None else (best[1], best[2][0]), threads, gap_target_pct,
                        node_limit=nodes)
        stats["mip_s"] = out.seconds
        logger.info("rollout MIP (%s): %s in %.1f s, %d nodes, bound %s", backend, out.status, out.seconds, out.nodes,
                    out.bound)
        if out.status == "infeasible":
            if best is not None:  # pragma: no cover - would be a modelling bug
                raise RuntimeError("MIP says infeasible but a heuristic found a schedule")
            raise InfeasibleError(
                "no rollout schedule satisfies every constraint", problems=diagnose(ctx, backend, time_limit_s)
            )
        if out.q is not None and out.hires is not None:
            before = best
            none = np.zeros(ctx.T, dtype=np.int64)
            mip_staff = (out.hires, none if out.promotions is None else out.promotions,
                         none if out.area_hires is None else out.area_hires)
            offer(out.q, staff_schedule(ctx, out.q, mip_staff), f"mip-{backend.lower()}")
            if best is not before:
                primal = f"{primal}+mip-{backend.lower()}" if primal != "none" else best[3]  # type: ignore[index]
        if out.bound is not None and (ctx.sel is None or pool_all.size == ctx.n):
            bounds[f"mip-{backend.lower()}"] = out.bound
            stats["bound_mip"] = out.bound
        exact = out.status == "optimal" and lin.exact
        if out.clock_cut:
            status = "time_limit"
            warning = ("" if warning is None else warning + "; ") + (
                f"the wall-clock limit (solver.time_limit_s = {time_limit_s:g} s) cut the rollout MIP short "
                f"after {out.seconds:.1f} s, before its node limit ({nodes}); the machine ran slower than "
                "expected, so this schedule may differ from another run of the same scenario"
            )
    if best is None:
        raise InfeasibleError(
            "no rollout schedule found within the time limit (solver.time_limit_s); the constraints are "
            "tight -- raise the time limit or relax rollout.* limits",
            problems=[],
        )
    def below(b: float, v: float) -> bool:
        """Whether bound ``b`` is below the incumbent's value ``v`` beyond rounding."""
        if profit:  # an NPV may be negative
            return b < v - 1e-7 * max(1.0, abs(v))
        return b < v * (1 - 1e-7) - 1e-7

    for name in [k for k, b in bounds.items() if below(b, best[0])]:
        # an over-estimating model cannot bound below a schedule's true value: distrust it
        logger.warning("rollout: discarding %s bound %.6g below the incumbent %.6g", name, bounds[name], best[0])
        del bounds[name]
    bname = min(bounds, key=bounds.__getitem__)
    methods = {"primal": primal, "bound": bname}
    if warning is not None:
        methods["warning"] = warning
        logger.warning("rollout: %s", warning)
    reached = (bounds[bname] <= best[0] + 1e-9 * max(1.0, abs(best[0])) if profit
               else bounds[bname] <= best[0] * (1 + 1e-9) + 1e-9)
    if reached:
        status = "optimal"
    elif exact and status != "time_limit":
        status = "feasible"  # the MIP stopped at gap_target_pct
    res = _result(ctx, best[1], best[2], bound_value=bounds[bname], t0=t0, methods=methods,
                  status=status, mode=mode, stats=stats)
    logger.info("rollout %s: objective %.6g, bound %s, gap %s, %.1f s", mode, res.objective, res.bound,
                res.gap, res.seconds)
    return res


def _schedule_value(ctx: Context, q_local: np.ndarray) -> float:
    """Sum over quarters of the value of the network (value units; ``profit``: the NPV in CNY)."""
    ok = q_local != NEVER
    if is_profit(ctx.rinst):
        return float(quarter_cash(ctx.rinst, ctx.T, ctx.base, ctx.cand[ok], q_local[ok]).sum())
    return float(ctx.vm.quarter_values(ctx.base, ctx.cand[ok], q_local[ok], ctx.T).sum())


def schedule(
    rinst: RolloutInstance,
    solution: Solution,
    params: RolloutParams,
    *,
    time_limit_s: float = 60.0,
    seed: int = 0,
    backend: MipBackend | None = None,
    max_terms: int = 50_000,
    threads: int = 2,
    use_mip: bool = True,
    gap_target_pct: float = 0.01,
) -> RolloutResult:
    """Two-stage rollout: choose the opening quarter of every new site of ``solution``.

    Parameters
    ----------
    rinst
        The rollout instance.
    solution
        Selected sites; those that are ``fixed`` / ``existing`` in the instance are
        open before the horizon (quarter -1), every other one must open within it.
    params
        The ``rollout`` section.
    time_limit_s
        Wall-clock limit for the whole schedule (s).
    seed
        Seed of the set hashing (results do not depend on it otherwise).
    backend
        MIP solver, ``"HIGHS"`` (default) or ``"SCIP"`` (which also takes the
        greedy schedule as a hint).
    max_terms
        Most overlap terms modelled exactly; the rest are over-estimated (bound
        stays valid, it gets weaker).
    threads
        Solver threads.
    use_mip
        False = greedy only (bound from the per-quarter submodular bound).
    gap_target_pct
        The MIP stops once its proven gap is below this (%, ``solver.gap_target_pct``).

    Returns
    -------
    RolloutResult
        Verified by :func:`check_rollout`.

    Raises
    ------
    InfeasibleError
        When no schedule can open every selected site; the message names the keys.
    """
    t0 = time.perf_counter()
    sites = np.unique(np.asarray(solution.open_sites, dtype=np.int64))
    pre = rinst.preopen_mask()
    base, cand = sites[pre[sites]], sites[~pre[sites]]
    ctx = make_context(rinst, params, base, cand, must_open=True, n_required=int(cand.size))
    return _run(ctx, mode="two_stage", time_limit_s=time_limit_s, seed=seed, backend=backend,
                max_terms=max_terms, threads=threads, use_mip=use_mip, t0=t0, pool_all=cand,
                gap_target_pct=gap_target_pct)


def plan_joint(
    rinst: RolloutInstance,
    params: RolloutParams,
    *,
    time_limit_s: float = 60.0,
    seed: int = 0,
    backend: MipBackend | None = None,
    max_terms: int = 50_000,
    threads: int = 2,
    use_mip: bool = True,
    pool_size: int | None = None,
    hint: Solution | None = None,
    two_stage_share: float = 0.3,
    gap_target_pct: float = 0.01,
) -> RolloutResult:
    """Joint rollout: sites and quarters together, on time-indexed variables.

    The final network satisfies the instance's selection constraints
    (``stores`` exactly, or within ``stores_min..stores_max`` when the profit
    objective gives a range, ``forbidden``, one site per ``site_location``,
    ``conflict_*`` spacing, ``groups`` min / max, capex and opex budgets); existing
    stores stay open (closures are not scheduled).

    Parameters
    ----------
    rinst, params, time_limit_s, seed, backend, max_terms, threads, use_mip, gap_target_pct
        As in :func:`schedule`.
    pool_size
        The MIP sees at most this many candidates (the greedy's choice, ``hint``'s
        sites, then the best by single-site value); default
        all candidates when candidates × quarters <= 2,500, else
        ``max(2 * openings, openings + 200)``. The bound stays valid over all
        candidates (the per-quarter submodular bound) when the pool is smaller.
    hint
        A site selection (e.g. from :func:`planner.optimise.solve.solve`): when it
        satisfies the selection constraints, its two-stage schedule is an incumbent
        (so the joint result is never worse than the two-stage one) and its sites
        join the pool.
    two_stage_share
        Share of the time limit given to the hint's two-stage schedule.

    Returns
    -------
    RolloutResult
        Verified by :func:`check_rollout`.
    """
    t0 = time.perf_counter()
    inst = rinst.instance
    pre = rinst.preopen_mask()
    base = np.flatnonzero(pre)
    allowed = ~pre
    allowed[np.asarray(inst.forbidden, dtype=np.int64)] = False
    if inst.site_location is not None:  # a location held by an existing store is taken
        loc = np.asarray(inst.site_location)
        allowed &= ~np.isin(loc, loc[base])
    ca, cb = np.asarray(inst.conflict_a, dtype=np.int64), np.asarray(inst.conflict_b, dtype=np.int64)
    allowed[cb[pre[ca]]] = False
    allowed[ca[pre[cb]]] = False
    cand_all = np.flatnonzero(allowed)
    must = np.asarray([] if rinst.site_must_open is None else rinst.site_must_open, dtype=np.int64)
    blocked = np.setdiff1d(must, cand_all)
    if blocked.size:
        raise InfeasibleError(
            f"{blocked.size} new store(s) that must open (signed leases, forced candidates) cannot: forbidden, "
            f"or their place is held by or too close to an existing store (site indices {blocked[:5].tolist()})"
        )
    lo, hi = inst.store_range()  # a range only with profit: the final network holds lo..hi stores
    need_hi = hi - int(base.size)
    need = max(lo - int(base.size), 0) if lo != hi else need_hi
    if need_hi < 0:
        raise InfeasibleError(
            f"constraints.total_stores = {hi} is below the {base.size} existing stores "
            "(closures are not scheduled by the rollout)"
        )
    ctx = make_context(rinst, params, base, cand_all, must_open=False, n_required=need)
    ctx.sel = Selection(rinst, base, cand_all)
    if cand_all.size < need:
        raise InfeasibleError(
            f"only {cand_all.size} candidate sites can open but constraints.total_stores requires {need} "
            "new stores"
        )
    probs = explain_upfront(ctx)
    if probs:
        raise InfeasibleError("the rollout cannot reach constraints.total_stores within the horizon",
                              problems=probs)
    caps = np.minimum(max_cumulative_openings(ctx), need_hi)
    # incumbents over all candidates: greedy, and the two-stage schedule of the hint
    incumbents: list[ScheduleIncumbent] = []
    for sc, wait, by_share, name in _greedy_variants(ctx):
        g = quarter_greedy(ctx, score=sc, postpone=wait, by_share=by_share)
        if g is not None:
            ok = g[0] != NEVER
            incumbents.append((cand_all[ok], g[0][ok], g[1], name))
    if hint is not None:
        hint_sites = np.union1d(np.asarray(hint.open_sites, dtype=np.int64), base)
        loc = ctx.sel.g2l[hint_sites[~pre[hint_sites]]]
        if np.all(loc >= 0) and ctx.sel.accepts(loc):
            try:
                two = schedule(
                    rinst, replace(hint, open_sites=hint_sites), params, seed=seed, backend=backend,
                    time_limit_s=two_stage_share * (time_limit_s - (time.perf_counter() - t0)),
                    max_terms=max_terms, threads=threads, use_mip=use_mip, gap_target_pct=gap_target_pct,
                )
                new = two.quarter >= 0
                zeros = np.zeros(params.quarters, dtype=np.int64)
                staff = (two.hires, zeros if two.promotions is None else two.promotions,
                         zeros if two.area_hires is None else two.area_hires)
                incumbents.append((two.open_sites[new], two.quarter[new], staff, "two-stage"))
            except InfeasibleError as e:
                logger.info("joint rollout: the hint cannot be scheduled (%s)", e.message)
    # small instances: every candidate (then the MIP bound is valid for the joint problem)
    size = pool_size or (cand_all.size if cand_all.size * params.quarters <= 2_500
                         else max(2 * need_hi, need_hi + 200))
    pool = _joint_pool(ctx, max(size, must.size), [must, *(inc[0] for inc in incumbents)])
    sub = ctx
    if pool.size < cand_all.size:
        logger.info("joint rollout: MIP on %d of %d candidates", pool.size, cand_all.size)
        sub = make_context(rinst, params, base, pool, must_open=False, n_required=need)
        sub.sel = Selection(rinst, base, pool)
    if sub is not ctx and pool.size * params.quarters > _MAX_POOL_BINARIES:
        # a MIP this size on a reduced pool neither finishes nor finds a plan in minutes
        # (bench_rollout.py, national case) and its bound would not be valid anyway
        logger.info("joint rollout: %d x %d time-indexed binaries, MIP skipped", pool.size, params.quarters)
        use_mip = False
    res = _run(sub, mode="joint", time_limit_s=time_limit_s, seed=seed, backend=backend,
               max_terms=max_terms, threads=threads, use_mip=use_mip, t0=t0, pool_all=cand_all,
               caps=caps, incumbents=incumbents, run_greedy=False, gap_target_pct=gap_target_pct)
    res.stats["pool"] = float(pool.size)
    return res


def _joint_pool(ctx: Context, size: int, chosen_sites: list[np.ndarray]) -> np.ndarray:
    """Candidates for the joint MIP: the incumbents' sites, then the best by single-site value."""
    gains = ctx.vm.gains(ctx.base_state, ctx.cand)
    seen: dict[int, None] = {}
    for arr in [*chosen_sites, ctx.cand[np.argsort(-gains, kind="stable")]]:
        for j in arr.tolist():
            if len(seen) >= size:
                break
            seen.setdefault(j, None)
    return np.sort(np.fromiter(seen, dtype=np.int64))


def plan_rollout(
    rinst: RolloutInstance, params: RolloutParams, solution: Solution | None = None, **kw: Any
) -> RolloutResult:
    """The rollout of ``params.mode``: :func:`schedule` (needs ``solution``) or :func:`plan_joint`."""
    if params.mode == "joint":
        return plan_joint(rinst, params, hint=solution, **kw)
    if solution is None:
        raise ValueError("two_stage rollout needs the selected sites (solution)")
    return schedule(rinst, solution, params, **kw)


