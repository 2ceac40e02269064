"""The optimiser's single entry point: ``solve(instance, kind) -> Solution``.

It strings the methods together under one work budget (deterministic, see
``incumbent.Work``; the wall-clock limit is only a safety net) and always
returns the best plan found with a proven bound and its gap:

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
from dataclasses import replace
from typing import Any

import numpy as np

from planner.errors import InfeasibleError
from planner.optimise import decompose
from planner.optimise.bounds import lagrangian_facility, plan_prices, reduced_cost_fixing
from planner.optimise.check import check_solution
from planner.optimise.exhaustive import best_plan, plan_count
from planner.optimise.feasibility import precheck
from planner.optimise.greedy import greedy
from planner.optimise.incumbent import (
    LAGRANGIAN_S_PER_PAIR,
    SETUP_S_PER_PAIR,
    TANGENT_S_PER_PAIR,
    WORK_PER_LIMIT_S,
    Clock,
    Incumbent,
    Progress,
    Work,
    mip_seconds,
    node_limit,
    outcome,
    relative_gap,
)
from planner.optimise.lns import improve_windows
from planner.optimise.local_search import best_two, local_search
from planner.optimise.market_share_bounds import (
    cell_hull_seconds,
    cell_tables,
    cell_tables_seconds,
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
from planner.optimise.types import ConstraintKeys, Instance, ObjectiveKind, Solution, attraction

log = logging.getLogger(__name__)

_ONE_MIP_PAIRS = 40_000  # below this many pairs, no regional decomposition
_MIP_MAX_PAIRS = 80_000  # a reduced MIP beyond this rarely closes anything in our time limits
# the tree search branches up to once per store to choose: beyond this many the reduced MIP is the better bet
_TREE_MAX_STORES = 16
# the market-share searches may use the work budget up to this share (the rest: polishing)
_TREE_WORK_SHARE = 0.9


def _coverage_without_rivals(inst: Instance) -> Instance | None:
    """The market-share instance as a step-coverage one when no cell has a rival (else None).

    With zero competitor pull a cell's Huff share ``S / (S + 0)`` is 1 as soon as one
    open site with a positive attraction reaches it: every such pair covers its cell.
    """
    pull = inst.competitor_pull
    if pull is not None and np.any(np.asarray(pull, dtype=float) > 0):
        return None
    attr = np.ones(inst.n_sites) if inst.site_attr is None else np.asarray(inst.site_attr, dtype=float)
    keep = attraction(attr[inst.pair_site], inst.pair_km, inst.beta) > 0
    km = np.asarray(inst.pair_km, dtype=float)[keep]
    reach = float(km.max(initial=0.0)) + 1.0
    return replace(
        inst, pair_cell=inst.pair_cell[keep], pair_site=inst.pair_site[keep], pair_km=km,
        radius_km=np.full(inst.n_sites, reach), decay="step", competitor_pull=None,
    )


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
    work_limit_s: float | None = None,
) -> Solution:
    """Choose the stores: best plan within the work budget, with a proven bound.

    Parameters
    ----------
    inst : Instance
        The instance (see ``types.Instance`` for the objectives).
    kind : {"coverage", "distance", "market_share", "profit"}
        Objective to optimise (coverage, market share and profit are
        maximised, distance minimised; profit is ``optimise.profit.solve_profit``).
    time_limit_s : float, default 60
        Wall-clock limit (s), a safety net, and the nominal size of the search:
        unless ``work_limit_s`` is given, the work budget is
        ``incumbent.WORK_PER_LIMIT_S`` (0.5) times it, so raising it buys more search.
    gap_target : float, default 0.005
        Stop improving once the proven relative gap is at most this (a fraction).
    threads : int, default 2
        Regional MIPs solved side by side (each single-threaded).
    seed : int, default 0
        Seed for every random choice (kept for reproducibility).
    use_mip : bool, default True
        Use OR-Tools MIPs (regional exact solves, reduced MIP, windows).
    progress : callable, optional
        Called with ``{"stage", "incumbent", "bound", "gap", "seconds"}`` whenever
        the plan or the bound improves.
    max_enumerated : int, default 20000
        Instances without side constraints and at most this many possible plans
        are solved exactly by scoring every plan (0 turns this off).
    work_limit_s : float, optional
        The work budget in nominal seconds (the reference VM's seconds, see
        ``incumbent``), instead of the share of ``time_limit_s``.

    Returns
    -------
    Solution
        Checked plan with objective, bound, gap, seconds and the methods used;
        ``stats["work_s"]`` is the work spent (nominal seconds).

    Raises
    ------
    InfeasibleError
        When the constraints cannot all hold (message names the keys).

    Notes
    -----
    What is deterministic: for the same instance, ``kind``, ``gap_target``,
    ``seed``, ``threads``, ``use_mip`` and work budget (``time_limit_s`` or
    ``work_limit_s``), the plan, the bound and every statistic except the
    seconds are the same on every run, whatever the machine's load. Every
    search is limited by work counted up front from the instance's size
    (iterations of the relaxations, rounds of the swap search, branch-and-bound
    nodes of each MIP and of the tree searches, windows of the neighbourhood
    search), never by time measured, and the regional MIPs' threads return in
    a fixed order.
    The one exception is the safety net: when the wall clock runs out first
    (a machine more than about twice as slow as the reference), the search
    stops where it is, the best plan so far is returned with its proven gap,
    ``status`` is ``"time_limit"`` and ``methods["warning"]`` names what was cut
    short; such a plan may differ from run to run.
    """
    if kind == "profit":
        from planner.optimise.profit import solve_profit

        return solve_profit(inst, time_limit_s=time_limit_s, gap_target=gap_target, progress=progress,
                            max_enumerated=max_enumerated, work_limit_s=work_limit_s)
    if kind == "market_share":
        cover = _coverage_without_rivals(inst)
        if cover is not None:
            # no rival anywhere: a cell's share is 1 once any open site reaches it, 0 before;
            # that is maximum coverage over the pairs, whose own bounds are much the stronger
            sol = solve(cover, "coverage", time_limit_s=time_limit_s, gap_target=gap_target, threads=threads,
                        seed=seed, use_mip=use_mip, progress=progress, max_enumerated=max_enumerated,
                        work_limit_s=work_limit_s)
            sol = replace(sol, objective_kind="market_share",
                          methods=sol.methods | {"reduction": "market share without rivals = coverage"})
            check_solution(inst, sol).raise_if_failed()
            return sol
    clock = Clock(time_limit_s)
    work = Work(WORK_PER_LIMIT_S * time_limit_s if work_limit_s is None else work_limit_s)
    problems = precheck(inst)
    if problems:
        raise InfeasibleError("the constraints cannot all hold", problems=problems)
    model = compile_model(inst, kind)
    tmodel = _truncation(model)
    best = Incumbent(tmodel, progress, clock, work)
    rng = np.random.default_rng(seed)
    stats: dict[str, float] = {}

    exact = best_plan(model, max_plans=max_enumerated) if max_enumerated > 0 else None
    if exact is not None and best.offer(exact, "enumeration"):
        # every plan was scored: the best one's value is also the bound
        best.offer_bound(best.value, "enumeration")
        stats["plans_enumerated"] = float(plan_count(model) or 0)
        return _finish(inst, kind, model, best, clock, gap_target, stats)

    start = greedy(model)
    work.charge(SETUP_S_PER_PAIR * model.pc.size)
    stats["greedy_s"] = clock.elapsed
    if not best.offer(start, "greedy"):
        # greedy got stuck on the constraints (count or a group minimum unmet)
        best.offer(_find_any_plan(model, best, threads, inst.keys), "mip-feasibility")
    if best.mask is None:  # pragma: no cover - the MIP's plan breaks a constraint: our bug
        raise RuntimeError("no feasible starting plan although the MIP reported one")
    ls_mask, n_sw = local_search(
        tmodel, best.mask, time_limit_s=clock.left, work=work, work_s=max(1.0, 0.3 * work.left),
    )
    clock.expired("swap search")
    best.offer(ls_mask, "greedy+swap")
    stats["swaps"] = float(n_sw)
    stats["local_search_s"] = clock.elapsed

    if clock.cut:
        _quick_bound(model, tmodel, best)  # the safety net fired already: a bound, then return
    elif model.facility:
        _facility_bound_and_improve(inst, model, tmodel, best, gap_target, threads, use_mip, rng, stats)
    else:
        _market_share(model, best, gap_target, stats)

    return _finish(inst, kind, model, best, clock, gap_target, stats)


def _quick_bound(model: Model, tmodel: Model, best: Incumbent) -> None:
    """One step of the relaxation, so a plan cut short by the clock still has a proven gap."""
    if model.facility:
        b1, _, _ = best_two(model, best.plan)
        lag = lagrangian_facility(tmodel, best.value, b1, max_iter=1, time_limit_s=math.inf)
        best.offer_bound(_round_bound(lag.bound, False), "lagrangian")
    else:
        bnd, _ = market_share_bound(model, best.value, best.plan, max_iter=1, time_limit_s=math.inf)
        best.offer_bound(bnd, "tangent-cuts")


def _find_any_plan(model: Model, best: Incumbent, threads: int, keys: ConstraintKeys) -> np.ndarray:
    """When greedy gets stuck on the constraints, ask a MIP for a plan.

    First any plan (a pure feasibility problem is quick), then, with it as a
    hint, a better one for a linear stand-in objective (each site's value alone).
    """
    clock, work = best.clock, best.work
    proxy = model if model.facility else _coverage_proxy(model)
    everything = np.ones(model.n_sites, dtype=bool)
    no_cells = np.zeros(model.n_cells, dtype=bool)
    size = model.n_sites + int(model.conf_adj.size)  # no cells: sites and spacing rows
    share = max(1.0, 0.5 * work.left)
    res = solve_facility_mip(
        proxy, everything, cells=no_cells, count=model.p, time_limit_s=math.inf,
        deadline=clock.deadline, node_limit=node_limit(share, size), threads=threads, solver_name="SCIP",
    )
    _charge_mip(best, res, size, share, "feasibility MIP")
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
    share = max(0.5, 0.2 * work.left)
    better = solve_facility_mip(
        proxy, everything, cells=no_cells, count=model.p, site_value=_standalone_value(model),
        hint=res.open_mask, rel_gap=0.05, time_limit_s=math.inf, deadline=clock.deadline,
        node_limit=node_limit(share, size), threads=threads, solver_name="SCIP",
    )
    _charge_mip(best, better, size, share, "feasibility MIP")
    if better.open_mask is not None and PlanState(model, better.open_mask).feasible():
        return better.open_mask
    return res.open_mask


def _charge_mip(best: Incumbent, res: Any, pairs: int, share_s: float, stage: str) -> None:
    """Charge a MIP's work (its estimate if it closed, else its node limit's share); note a clock cut."""
    closed = res.status in ("optimal", "infeasible")
    est = mip_seconds(max(pairs, res.pairs), res.levels)
    best.work.charge(est if closed else max(est, share_s))
    if res.clock_cut:
        best.clock.note(stage)


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
    gap_target: float,
    threads: int,
    use_mip: bool,
    rng: np.random.Generator,
    stats: dict[str, float],
) -> None:
    clock, work = best.clock, best.work
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
    iter_s = 1e-3 + LAGRANGIAN_S_PER_PAIR * tmodel.pc.size
    lag = lagrangian_facility(
        tmodel, best.value, b1, time_limit_s=clock.left, gap_stop=1e-9, on_plan=on_plan, plan_every=5,
        max_iter=Work.iterations(max(0.5, 0.25 * work.left), iter_s, cap=150 if regional else 3000),
    )
    work.charge(lag.iterations * iter_s)
    clock.expired("Lagrangian")
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
        if best.gap() <= gap_target * 0.5 or work.left < 0.5 * work.limit or clock.expired("polishing"):
            break
        mask, _ = local_search(tmodel, sel, time_limit_s=clock.left, work=work, work_s=max(0.1, 0.06 * work.left))
        best.offer(mask, "lagrangian+swap")
        tried += 1
    stats["lagrangian_plans_polished"] = float(tried)

    if best.gap() <= gap_target or clock.cut:
        return
    if regional:
        decompose.decomposed_bound(
            model, tmodel, best, lag, comps, clock=clock, gap_target=gap_target, threads=threads,
            use_mip=use_mip, integral=integral, stats=stats, rng=rng,
        )
        return
    if tree and work.left > 0.5 and not clock.cut:
        _tree_search(tmodel, lag, best, clock, integral, slack, stats)
        if best.gap() <= gap_target:
            return
    if not use_mip or work.left < 0.5:
        return
    ran = _reduced_mip(model, tmodel, lag, best, integral, slack, stats)
    local = model.pc.size <= 64 * model.n_cells  # catchments are local, so windows are small MIPs
    if not ran and local and best.gap() > gap_target and work.left > 0.1 * work.limit and not clock.cut:
        # the MIP was too big to try: the windows improve the plan piece by piece
        improve_windows(
            model, best, work_s=0.92 * work.limit - 0.3 - work.spent,
            deadline=clock.deadline - 0.03 * clock.limit - 0.1, rng=rng, stats=stats,
            per_window_s=min(2.0, 0.05 * work.limit), gap_target=gap_target, swap_model=tmodel,
        )


def _reduced_mip(
    model: Model,
    tmodel: Model,
    lag: Any,
    best: Incumbent,
    integral: bool,
    slack: float,
    stats: dict[str, float],
) -> bool:
    """The MIP over the candidates reduced-cost fixing leaves (when it is small enough; True if run)."""
    clock, work = best.clock, best.work
    out, in_, worst = reduced_cost_fixing(tmodel, lag, best.value, slack=slack)
    stats["mip_candidates"] = float(model.n_sites - out.sum())
    stats["mip_fixed_open"] = float(in_.sum())
    size = _mip_size(tmodel, ~out)
    stats["mip_pairs"] = float(size)
    if size > _MIP_MAX_PAIRS or 5e-6 * size + 1.0 > work.left:
        log.info("reduced MIP too large (%d pairs) for the work left; keeping the Lagrangian bound", size)
        return False
    share = max(0.2, 0.8 * work.limit - 0.4 - work.spent)  # the MIP may use the budget up to 80 %
    nodes = node_limit(share, size)
    res = solve_facility_mip(
        tmodel, ~out, fix_open=in_, count=model.p, hint=best.mask, time_limit_s=math.inf,
        threads=1, solver_name="SCIP", node_limit=nodes,
        deadline=clock.deadline - 0.03 * clock.limit - 0.1,  # backends overrun their limit a little
    )
    _charge_mip(best, res, size, share, "reduced MIP")
    stats["mip_s"] = res.seconds
    stats["mip_node_limit"] = float(nodes)
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
    work = best.work
    res = lagrangian_tree_search(
        restrict(tmodel, out, in_), best.value, lag.u, slack=slack,
        work_s=max(0.2, work.left), work=work,  # a MIP after an unfinished tree rarely closes more
        deadline=clock.t0 + 0.85 * clock.limit, on_plan=lambda sel: best.offer(sel, "tree-search"),
    )
    if res.clock_cut:
        clock.note("tree search")
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


def _market_share(model: Model, best: Incumbent, gap_target: float, stats: dict[str, float]) -> None:
    clock, work = best.clock, best.work
    n_pairs = model.pc.size
    comps = decompose.components(model)
    regional = comps.n_components > 1 and comps.largest_share < 0.9
    if not regional:
        # The linearised (tangent) bound is cheap but weak: a concave share rewards
        # spreading fractional stores. The per-cell hull Lagrangian is the real
        # bound; the tangent one is only a quick fallback.
        iter_s = TANGENT_S_PER_PAIR * n_pairs
        n_it = Work.iterations(max(0.2, 0.03 * work.left), iter_s, cap=3000)
        bnd, _gamma = market_share_bound(
            model, best.value, best.plan, time_limit_s=clock.left, max_iter=n_it, gap_stop=gap_target * 0.2
        )
        work.charge(n_it * iter_s)  # at most (the bound reports no count)
        clock.expired("tangent bound")
        best.offer_bound(bnd, "tangent-cuts")
    plans, collect = _plan_collector(model, best)
    calls = [0]

    def on_plan(sel: np.ndarray) -> float | None:
        calls[0] += 1
        return collect(sel)

    # the cells' upper models, exact at the incumbent (any plan keeps them valid). With
    # regions, the global run prices the store count and starts the multipliers; the
    # regions' own runs, then their branching, make the bound. A small dense instance
    # is closed by the tree search, which wants a converged Lagrangian soon more than
    # the widest tables.
    tree = not regional and market_share_searchable(model)
    tables = cell_tables(model, best.mask, 8 if tree else 10)
    work.charge(cell_tables_seconds(model, tables))
    iter_s = cell_hull_seconds(model, tables)
    plan_every = 10
    share = 0.15 if regional else (0.35 if tree else 0.6)
    lb, mu = market_share_lagrangian(
        model, best.value, best.plan, time_limit_s=clock.left, gap_stop=gap_target * 0.2,
        on_plan=on_plan, plan_every=plan_every, tables=tables,
        max_iter=Work.iterations(max(0.5, share * work.left), iter_s, cap=1000),
    )
    work.charge(calls[0] * plan_every * iter_s)  # the callback runs every ``plan_every`` iterations
    clock.expired("cell-hull Lagrangian")
    best.offer_bound(lb, "cell-hull-lagrangian")
    if regional and best.gap() > gap_target and not clock.cut:
        # price the store count and let each region converge on its own
        rho = np.bincount(model.ps, weights=mu, minlength=model.n_sites)
        # the store count and the disjoint groups' limits priced at the margins of the relaxation's plan
        lam, price, const = plan_prices(model, rho, model.p, model.p)
        target = decompose.market_share_primal_by_region(model, comps, best.plan, lam) - np.bincount(
            comps.site_comp, weights=np.where(best.plan, price - lam, 0.0), minlength=comps.n_components)
        mu_reg = mu.copy()
        reg = decompose.regional_market_share(
            model, comps, lam, mu, target, time_limit_s=clock.left,
            work_s=max(0.5, 0.7 * work.left - 0.1 * work.limit), work=work,
            tables=tables, mu_out=mu_reg, max_iter=100_000, site_price=price - lam,
        )
        clock.expired("regional cell-hull Lagrangian")
        best.offer_bound(const + float(reg.sum()), "regional-cell-hull-lagrangian")
        # the regions' multipliers together, with the store count exact again
        best.offer_bound(market_share_dual_value(model, tables, mu_reg), "regional-cell-hull-lagrangian")
        work.charge(iter_s)
        if best.gap() > gap_target:
            _priced_regions(model, comps, price, const, reg, mu_reg, tables, best, clock, gap_target, stats)
    if tree and best.gap() > gap_target:
        _market_share_tree(model, best, clock, gap_target, mu, tables, stats)
    stats["bound_s"] = clock.elapsed
    for _v, sel in sorted(plans.values(), key=lambda t: -t[0])[:5]:
        if best.gap() <= gap_target or work.left < 0.1 * work.limit or clock.expired("polishing"):
            break
        mask, _ = local_search(model, sel, time_limit_s=clock.left, work=work, work_s=max(0.2, 0.3 * work.left))
        best.offer(mask, "lagrangian+swap")


def _priced_regions(
    model: Model, comps: Any, price: np.ndarray, const: float, reg: np.ndarray, mu: np.ndarray, tables: Any,
    best: Incumbent, clock: Clock, gap_target: float, stats: dict[str, float],
) -> None:
    """Tighten the priced regional bounds by branching, smallest regions first (``tree_search``)."""
    size = np.bincount(comps.cell_comp, minlength=comps.n_components) * np.maximum(
        np.bincount(comps.site_comp, minlength=comps.n_components), 1
    )
    work = best.work
    exact = market_share_priced_regions(
        model, comps.cell_comp, comps.site_comp, np.argsort(size, kind="stable"), 0.0, mu, tables,
        work_s=max(0.2, _TREE_WORK_SHARE * work.limit - work.spent), work=work, site_price=price,
        deadline=clock.t0 + 0.9 * clock.limit, rel_slack=max(1e-9, 0.02 * gap_target), max_nodes=2000,
    )
    clock.expired("regional branching", 0.9)  # its deadline passed: the safety net may have stopped it
    stats["regions_searched"] = float(np.isfinite(exact).sum())
    best.offer_bound(const + float(np.minimum(reg, exact).sum()), "regional-cell-hull-tree")


def _market_share_tree(
    model: Model, best: Incumbent, clock: Clock, gap_target: float, mu: np.ndarray, tables: Any,
    stats: dict[str, float],
) -> None:
    """Branch on sites where the cell-hull bound leaves a gap (small dense instances, ``tree_search``)."""
    work = best.work
    res = market_share_tree_search(
        model, best.value, mu, tables, work_s=max(0.2, _TREE_WORK_SHARE * work.limit - work.spent), work=work,
        deadline=clock.t0 + 0.85 * clock.limit,
        rel_slack=max(1e-9, 0.2 * gap_target), on_plan=lambda sel: best.offer(sel, "tree-search"),
    )
    if res.clock_cut:
        clock.note("tree search")
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
    status, warning = outcome(gap, clock, inst.keys.time_limit)
    methods = {"primal": best.primal_by, "bound": best.bound_by or "none"}
    if warning is not None:
        methods["warning"] = warning
    stats["work_s"] = round(best.work.spent, 6)
    stats["work_limit_s"] = best.work.limit
    sol = Solution(
        open_sites=sites,
        objective=float(obj),
        objective_kind=kind,
        bound=None if bound is None else float(bound),
        gap=None if gap is None else float(gap),
        seconds=clock.elapsed,
        methods=methods,
        status=status,
        stats=stats,
    )
    check_solution(inst, sol).raise_if_failed()
    log.info("solve %s: objective %.6g bound %s gap %s in %.2fs (%s)", kind, obj, bound, gap, sol.seconds, sol.methods)
    if warning is not None:
        log.warning("solve %s: %s", kind, warning)
    return sol
