"""The optimiser's single entry point: ``solve(instance, kind) -> Solution``.

It strings the methods together under one time budget and always returns the
best plan found with a proven bound and its gap:

1. ``feasibility.precheck``: obvious contradictions become an ``InfeasibleError``
   naming the scenario keys, before any work;
2. tiny instances (a few thousand possible plans, no side constraints) are
   solved exactly by scoring every plan (``exhaustive``); otherwise lazy
   greedy, then swap local search, for a first plan in well under a second;
3. a bound: the cell Lagrangian (coverage, distance; its iterates' plans are
   polished by local search as further primal candidates) or the cell-hull
   Lagrangian (market share, then region by region at a store price, each
   region's priced bound tightened by branching; a small dense instance such
   as a logit maximum-capture one is branched on as a whole, ``tree_search``);
4. when the problem splits into independent regions, ``decompose`` prices the
   shared store count, solves the regions that hold the gap exactly, and
   re-balances stores between regions;
5. otherwise, with few stores to choose and plain constraints, a Lagrangian
   tree search (``tree_search``; the LP of a p-median with p = 5 leaves a gap
   a MIP closes only slowly), then a MIP on the candidates that reduced-cost
   fixing leaves;
6. ``check.check_solution`` on the way out: a plan that fails is our bug.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from planner.errors import InfeasibleError
from planner.optimise import decompose
from planner.optimise.bounds import lagrangian_facility, reduced_cost_fixing, select_top
from planner.optimise.check import check_solution
from planner.optimise.exhaustive import best_plan, plan_count
from planner.optimise.feasibility import precheck
from planner.optimise.greedy import greedy
from planner.optimise.incumbent import Clock, Incumbent, Progress, relative_gap
from planner.optimise.lns import improve_windows
from planner.optimise.local_search import best_two, local_search
from planner.optimise.market_share_bounds import (
    cell_tables,
    market_share_bound,
    market_share_dual_value,
    market_share_lagrangian,
)
from planner.optimise.mip import solve_facility_mip
from planner.optimise.model import Model, PlanState, compile_model
from planner.optimise.tree_search import (
    lagrangian_tree_search,
    market_share_priced_regions,
    market_share_searchable,
    market_share_tree_search,
    restrict,
    searchable,
)
from planner.optimise.types import ConstraintKeys, Instance, ObjectiveKind, Solution

log = logging.getLogger(__name__)

_ONE_MIP_PAIRS = 40_000  # below this many pairs, no regional decomposition
_MIP_MAX_PAIRS = 80_000  # a reduced MIP beyond this rarely closes anything in our time limits
# the tree search branches up to once per store to choose: beyond this many the reduced MIP is the better bet
_TREE_MAX_STORES = 16


def _integral(inst: Instance, kind: str) -> bool:
    """Whether every plan's objective is an integer (lets bounds round)."""
    w = np.asarray(inst.weight, dtype=float)
    if not np.all(w == np.round(w)):
        return False
    if kind == "distance":
        km = np.asarray(inst.pair_km, dtype=float)
        return bool(np.all(km == np.round(km))) and float(inst.unreachable_km).is_integer()
    return kind == "coverage" and inst.decay == "step"


def _truncation(model: Model) -> Model:
    """Per-cell pair cut-off for the swap search and the Lagrangian (exact, see Model.truncate)."""
    if not model.facility:
        return model
    top = max(32, int(math.ceil(10.0 * model.n_sites / max(model.p, 1))))
    return model.truncate(top)


def solve(
    inst: Instance,
    kind: ObjectiveKind,
    *,
    time_limit_s: float = 60.0,
    gap_target: float = 0.005,
    threads: int = 2,
    seed: int = 0,
    use_mip: bool = True,
    progress: Progress | None = None,
    max_enumerated: int = 20_000,
) -> Solution:
    """Choose the stores: best plan within the time limit, with a proven bound.

    Parameters
    ----------
    inst : Instance
        The instance (see ``types.Instance`` for the objectives).
    kind : {"coverage", "distance", "market_share"}
        Objective to optimise (coverage and market share are maximised,
        distance minimised).
    time_limit_s : float, default 60
        Wall-clock budget (s). The best plan found is returned when it runs out.
    gap_target : float, default 0.005
        Stop improving once the proven relative gap is at most this.
    threads : int, default 2
        Threads for OR-Tools.
    seed : int, default 0
        Seed for every random choice (kept for reproducibility).
    use_mip : bool, default True
        Use OR-Tools MIPs (regional exact solves, reduced MIP).
    progress : callable, optional
        Called with ``{"stage", "incumbent", "bound", "gap", "seconds"}`` whenever
        the plan or the bound improves.
    max_enumerated : int, default 20000
        Instances without side constraints and at most this many possible plans
        are solved exactly by scoring every plan (0 turns this off).

    Returns
    -------
    Solution
        Checked plan with objective, bound, gap, seconds and the methods used.

    Raises
    ------
    InfeasibleError
        When the constraints cannot all hold (message names the keys).
    """
    clock = Clock(time_limit_s)
    problems = precheck(inst)
    if problems:
        raise InfeasibleError("the constraints cannot all hold", problems=problems)
    model = compile_model(inst, kind)
    tmodel = _truncation(model)
    best = Incumbent(tmodel, progress, clock)
    rng = np.random.default_rng(seed)
    stats: dict[str, float] = {}

    exact = best_plan(model, max_plans=max_enumerated) if max_enumerated > 0 else None
    if exact is not None and best.offer(exact, "enumeration"):
        # every plan was scored: the best one's value is also the bound
        best.offer_bound(best.value, "enumeration")
        stats["plans_enumerated"] = float(plan_count(model) or 0)
        return _finish(inst, kind, model, best, clock, gap_target, stats)

    start = greedy(model)
    stats["greedy_s"] = clock.elapsed
    if not best.offer(start, "greedy"):
        # greedy got stuck on the constraints (count or a group minimum unmet)
        best.offer(_find_any_plan(model, clock, threads, inst.keys), "mip-feasibility")
    if best.mask is None:  # pragma: no cover - the MIP's plan breaks a constraint: our bug
        raise RuntimeError("no feasible starting plan although the MIP reported one")
    ls_mask, n_sw = local_search(tmodel, best.mask, time_limit_s=max(1.0, 0.3 * clock.left))
    best.offer(ls_mask, "greedy+swap")
    stats["swaps"] = float(n_sw)
    stats["local_search_s"] = clock.elapsed

    if model.facility:
        _facility_bound_and_improve(inst, model, tmodel, best, clock, gap_target, threads, use_mip, rng, stats)
    else:
        _market_share(model, best, clock, gap_target, stats)

    return _finish(inst, kind, model, best, clock, gap_target, stats)


def _find_any_plan(model: Model, clock: Clock, threads: int, keys: ConstraintKeys) -> np.ndarray:
    """When greedy gets stuck on the constraints, ask a MIP for a plan.

    First any plan (a pure feasibility problem is quick), then, with it as a
    hint, a better one for a linear stand-in objective (each site's value alone).
    """
    proxy = model if model.facility else _coverage_proxy(model)
    everything = np.ones(model.n_sites, dtype=bool)
    no_cells = np.zeros(model.n_cells, dtype=bool)
    res = solve_facility_mip(
        proxy, everything, cells=no_cells, count=model.p,
        time_limit_s=max(1.0, 0.5 * clock.left), threads=threads, solver_name="SCIP",
    )
    if res.status == "infeasible":
        raise InfeasibleError(
            "no plan satisfies every constraint together (count, spacing, one store per "
            f"location, group limits and budgets); loosen one of: {keys.stores}, "
            + ", ".join(sorted({g.label for g in model.groups}) or ["(no group limits)"])
            + f", {keys.spacing}, {keys.capex_budget}, {keys.opex_budget}",
        )
    if res.open_mask is None:
        raise InfeasibleError(
            "no plan satisfying every constraint was found within the time limit; "
            f"the constraints may be contradictory (raise {keys.time_limit} to be sure)"
        )
    better = solve_facility_mip(
        proxy, everything, cells=no_cells, count=model.p, site_value=_standalone_value(model),
        hint=res.open_mask, rel_gap=0.05, time_limit_s=max(0.5, 0.2 * clock.left),
        threads=threads, solver_name="SCIP",
    )
    if better.open_mask is not None and PlanState(model, better.open_mask).feasible():
        return better.open_mask
    return res.open_mask


def _standalone_value(model: Model) -> np.ndarray:
    """What each site would earn alone: a linear stand-in objective for the feasibility MIP."""
    if model.facility:
        v = model.val
    else:
        v = model.w[model.pc] * model.val / (model.val + model.pull[model.pc])
    return np.bincount(model.ps, weights=v, minlength=model.n_sites)


def _coverage_proxy(model: Model) -> Model:
    """A facility-form stand-in (benefit = strength) to search for a feasible market-share plan."""
    import copy

    proxy = copy.copy(model)
    proxy.facility = True
    proxy.floor = None
    return proxy


def _facility_bound_and_improve(
    inst: Instance,
    model: Model,
    tmodel: Model,
    best: Incumbent,
    clock: Clock,
    gap_target: float,
    threads: int,
    use_mip: bool,
    rng: np.random.Generator,
    stats: dict[str, float],
) -> None:
    integral = _integral(inst, model.kind)
    slack = (1.0 - 1e-6) if integral else 0.0
    # ranking only: the truncated model's values are fine
    plans, on_plan = _plan_collector(tmodel, best)

    comps = decompose.components(model)
    stats["components"] = float(comps.n_components)
    # a small instance is solved faster by one MIP over everything (which also
    # settles the store count exactly) than region by region
    regional = comps.n_components > 1 and comps.largest_share < 0.9 and model.pc.size > _ONE_MIP_PAIRS
    b1, _, _ = best_two(model, best.plan)
    # The bound is cheap next to the rest, and its quality drives fixing, so it
    # runs to convergence whatever the gap target. With regions, the global run
    # only has to find the store price and a start for each region's multipliers.
    lag = lagrangian_facility(
        tmodel, best.value, b1, time_limit_s=max(0.5, (0.1 if regional else 0.25) * clock.left),
        gap_stop=1e-9, on_plan=on_plan, plan_every=5, max_iter=150 if regional else 3000,
    )
    best.offer_bound(_round_bound(lag.bound, integral), "lagrangian")
    stats["lagrangian_iters"] = float(lag.iterations)
    stats["lagrangian_s"] = clock.elapsed
    # polish the relaxation's best plans (regions get their own treatment below,
    # so a many-region instance polishes only a couple)
    ranked = sorted(plans.values(), key=lambda t: -t[0])
    tried = 0
    tree = searchable(tmodel) and model.p - int(model.forced.sum()) <= _TREE_MAX_STORES
    # small: the MIP follows; few stores: the tree search values the relaxation's plans itself
    n_polish = 0 if regional else (2 if model.pc.size <= _ONE_MIP_PAIRS or tree else 12)
    for _v, sel in ranked[:n_polish]:
        if best.gap() <= gap_target * 0.5 or clock.left < 0.5 * clock.limit:
            break
        mask, _ = local_search(tmodel, sel, time_limit_s=max(0.1, 0.06 * clock.left))
        best.offer(mask, "lagrangian+swap")
        tried += 1
    stats["lagrangian_plans_polished"] = float(tried)

    if best.gap() <= gap_target:
        return
    if regional:
        decompose.decomposed_bound(
            model, tmodel, best, lag, comps, clock=clock, gap_target=gap_target, threads=threads,
            use_mip=use_mip, integral=integral, stats=stats, rng=rng,
        )
        return
    if tree and clock.left > 0.5:
        _tree_search(tmodel, lag, best, clock, integral, slack, stats)
        if best.gap() <= gap_target:
            return
    if not use_mip or clock.left < 0.5:
        return
    ran = _reduced_mip(model, tmodel, lag, best, clock, threads, integral, slack, stats)
    local = model.pc.size <= 64 * model.n_cells  # catchments are local, so windows are small MIPs
    if not ran and local and best.gap() > gap_target and clock.left > 0.1 * clock.limit:
        # the MIP was too big to try: the windows improve the plan piece by piece
        improve_windows(
            model, best, deadline=clock.t0 + 0.92 * clock.limit - 0.3, rng=rng, stats=stats,
            per_window_s=min(2.0, 0.05 * clock.limit), gap_target=gap_target,
        )


def _reduced_mip(
    model: Model,
    tmodel: Model,
    lag: Any,
    best: Incumbent,
    clock: Clock,
    threads: int,
    integral: bool,
    slack: float,
    stats: dict[str, float],
) -> bool:
    """The MIP over the candidates reduced-cost fixing leaves (when it is small enough; True if run)."""
    out, in_, worst = reduced_cost_fixing(tmodel, lag, best.value, slack=slack)
    stats["mip_candidates"] = float(model.n_sites - out.sum())
    stats["mip_fixed_open"] = float(in_.sum())
    size = _mip_size(tmodel, ~out)
    stats["mip_pairs"] = float(size)
    if size > _MIP_MAX_PAIRS or 5e-6 * size + 1.0 > clock.left:
        log.info("reduced MIP too large (%d pairs) for the time left; keeping the Lagrangian bound", size)
        return False
    res = solve_facility_mip(
        tmodel, ~out, fix_open=in_, count=model.p, hint=best.mask,
        time_limit_s=max(0.2, clock.left - 0.3), threads=threads, solver_name="SCIP",
        deadline=clock.t0 + 0.8 * clock.limit - 0.4,  # backends overrun their limit a little
    )
    stats["mip_s"] = res.seconds
    if res.open_mask is not None:
        best.offer(res.open_mask, "mip")
    # plans that respect the fixings are worth at most the MIP's bound, the others
    # at most ``worst``; an infeasible restricted MIP leaves only the latter
    mb = -np.inf if res.status == "infeasible" else res.bound
    if np.isfinite(mb) or res.status == "infeasible":
        best.offer_bound(_round_bound(max(mb, worst), integral), "lagrangian+mip")
    return True



def _tree_search(
    tmodel: Model, lag: Any, best: Incumbent, clock: Clock, integral: bool, slack: float, stats: dict[str, float]
) -> None:
    """Branch on sites where the Lagrangian (the LP) leaves a gap (``tree_search``); a MIP may follow."""
    out, in_, worst = reduced_cost_fixing(tmodel, lag, best.value, slack=slack)
    if not integral:
        slack = 1e-6 * max(1.0, abs(best.value))  # prunes what cannot beat the plan by a millionth
    res = lagrangian_tree_search(
        restrict(tmodel, out, in_), best.value, lag.u, slack=slack,
        deadline=clock.t0 + 0.85 * clock.limit, on_plan=lambda sel: best.offer(sel, "tree-search"),
    )
    stats["tree_nodes"] = float(res.nodes)
    stats["tree_s"] = clock.elapsed
    best.offer_bound(_round_bound(max(res.bound, worst), integral), "lagrangian-tree")


def _plan_collector(
    model: Model, best: Incumbent
) -> tuple[dict[bytes, tuple[float, np.ndarray]], Callable[[np.ndarray], float | None]]:
    """The relaxations' full-count plans, each once with its value, and the callback that gathers them."""
    plans: dict[bytes, tuple[float, np.ndarray]] = {}

    def on_plan(sel: np.ndarray) -> float | None:
        if int(sel.sum()) == model.p:
            key = np.packbits(sel).tobytes()
            if key not in plans:
                plans[key] = (model.value(sel), sel.copy())
        return best.value

    return plans, on_plan


def _mip_size(model: Model, candidates: np.ndarray) -> int:
    """Pairs a MIP over these candidates would read (its size driver)."""
    return int(np.sum(candidates[model.ps]))


def _round_bound(b: float, integral: bool) -> float:
    if integral and np.isfinite(b):
        return float(math.floor(b + 1e-6))
    return b


def _market_share(model: Model, best: Incumbent, clock: Clock, gap_target: float, stats: dict[str, float]) -> None:
    comps = decompose.components(model)
    regional = comps.n_components > 1 and comps.largest_share < 0.9
    if not regional:
        # The linearised (tangent) bound is cheap but weak: a concave share rewards
        # spreading fractional stores. The per-cell hull Lagrangian is the real
        # bound; the tangent one is only a quick fallback.
        bnd, _gamma = market_share_bound(
            model, best.value, best.plan, time_limit_s=max(0.2, 0.03 * clock.left), gap_stop=gap_target * 0.2
        )
        best.offer_bound(bnd, "tangent-cuts")
    plans, on_plan = _plan_collector(model, best)

    # the cells' upper models, exact at the incumbent (any plan keeps them valid). With
    # regions, the global run prices the store count and starts the multipliers; the
    # regions' own runs, then their branching, make the bound. A small dense instance
    # is closed by the tree search, which wants a converged Lagrangian soon more than
    # the widest tables.
    tree = not regional and market_share_searchable(model)
    tables = cell_tables(model, best.mask, 8 if tree else 10)
    share = 0.15 if regional else (0.35 if tree else 0.6)
    lb, mu = market_share_lagrangian(
        model, best.value, best.plan, time_limit_s=max(0.5, share * clock.left),
        gap_stop=gap_target * 0.2, on_plan=on_plan, plan_every=10, tables=tables,
    )
    best.offer_bound(lb, "cell-hull-lagrangian")
    if regional and best.gap() > gap_target:
        # price the store count and let each region converge on its own
        rho = np.bincount(model.ps, weights=mu, minlength=model.n_sites)
        sel = select_top(model, rho)
        free_sel = sel & ~model.forced
        # the first site left out whose location is free
        taken = np.zeros(model.n_loc, dtype=bool)
        taken[model.loc[sel]] = True
        elig = model.allowed & ~model.forced & ~taken[model.loc]
        hi = float(rho[free_sel].min()) if np.any(free_sel) else 0.0
        lo = float(rho[elig].max()) if np.any(elig) else 0.0
        lam = max(0.0, 0.5 * (hi + lo))
        target = decompose.market_share_primal_by_region(model, comps, best.plan, lam)
        mu_reg = mu.copy()
        reg = decompose.regional_market_share(
            model, comps, lam, mu, target, time_limit_s=max(0.5, 0.75 * clock.left - 0.06 * clock.limit),
            tables=tables, mu_out=mu_reg, max_iter=100_000,
        )
        best.offer_bound(lam * model.p + float(reg.sum()), "regional-cell-hull-lagrangian")
        # the regions' multipliers together, with the store count exact again
        best.offer_bound(market_share_dual_value(model, tables, mu_reg), "regional-cell-hull-lagrangian")
        if best.gap() > gap_target:
            _priced_regions(model, comps, lam, reg, mu_reg, tables, best, clock, gap_target, stats)
    if tree and best.gap() > gap_target:
        _market_share_tree(model, best, clock, gap_target, mu, tables, stats)
    stats["bound_s"] = clock.elapsed
    for _v, sel in sorted(plans.values(), key=lambda t: -t[0])[:5]:
        if best.gap() <= gap_target or clock.left < 0.1 * clock.limit:
            break
        mask, _ = local_search(model, sel, time_limit_s=max(0.2, 0.3 * clock.left))
        best.offer(mask, "lagrangian+swap")


def _priced_regions(
    model: Model, comps: Any, lam: float, reg: np.ndarray, mu: np.ndarray, tables: Any, best: Incumbent,
    clock: Clock, gap_target: float, stats: dict[str, float],
) -> None:
    """Tighten the priced regional bounds by branching, smallest regions first (``tree_search``)."""
    size = np.bincount(comps.cell_comp, minlength=comps.n_components) * np.maximum(
        np.bincount(comps.site_comp, minlength=comps.n_components), 1
    )
    exact = market_share_priced_regions(
        model, comps.cell_comp, comps.site_comp, np.argsort(size, kind="stable"), lam, mu, tables,
        deadline=clock.t0 + 0.9 * clock.limit, rel_slack=max(1e-9, 0.02 * gap_target), max_nodes=2000,
    )
    stats["regions_searched"] = float(np.isfinite(exact).sum())
    best.offer_bound(lam * model.p + float(np.minimum(reg, exact).sum()), "regional-cell-hull-tree")


def _market_share_tree(
    model: Model, best: Incumbent, clock: Clock, gap_target: float, mu: np.ndarray, tables: Any,
    stats: dict[str, float],
) -> None:
    """Branch on sites where the cell-hull bound leaves a gap (small dense instances, ``tree_search``)."""
    res = market_share_tree_search(
        model, best.value, mu, tables, deadline=clock.t0 + 0.85 * clock.limit,
        rel_slack=max(1e-9, 0.2 * gap_target), on_plan=lambda sel: best.offer(sel, "tree-search"),
    )
    stats["tree_nodes"] = float(res.nodes)
    best.offer_bound(res.bound, "cell-hull-tree")


def _finish(
    inst: Instance,
    kind: ObjectiveKind,
    model: Model,
    best: Incumbent,
    clock: Clock,
    gap_target: float,
    stats: dict[str, float],
) -> Solution:
    assert best.mask is not None
    sites = np.flatnonzero(best.mask).astype(np.int64)
    value = model.value(best.mask)
    obj = model.user_objective(value)
    bound = None
    gap = None
    if np.isfinite(best.bound):
        b_int = best.bound
        if b_int < value and value - b_int <= 1e-9 * max(1.0, abs(value)):
            b_int = value  # floating-point noise only; a real violation is left for the checker
        bound = model.user_objective(b_int)
        gap = relative_gap(obj, bound, maximise=model.maximise)
    if gap is not None and gap <= 1e-9:
        status = "optimal"
    elif clock.left <= 0.05 * clock.limit and (gap is None or gap > gap_target):
        status = "time_limit"
    else:
        status = "feasible"
    sol = Solution(
        open_sites=sites,
        objective=float(obj),
        objective_kind=kind,
        bound=None if bound is None else float(bound),
        gap=None if gap is None else float(gap),
        seconds=clock.elapsed,
        methods={"primal": best.primal_by, "bound": best.bound_by or "none"},
        status=status,
        stats=stats,
    )
    check_solution(inst, sol).raise_if_failed()
    log.info("solve %s: objective %.6g bound %s gap %s in %.2fs (%s)", kind, obj, bound, gap, sol.seconds, sol.methods)
    return sol
