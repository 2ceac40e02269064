"""The profit objective: margin on captured sales minus the open sites' fixed costs.

``profit(open) = margin * market_share(open) - sum over open j of fixed_cost_j``,
with the number of open sites anywhere in ``Instance.store_range()`` (fixed sites
and their costs included). It is built on the market-share machinery: the same
compiled :class:`~planner.optimise.model.Model` (Huff strengths per pair), the same
gain / loss / extra tables for moves (``local_search.move_tables``) and the same
per-cell upper models of the share (``market_share_bounds.cell_tables`` /
``cell_terms``) for the bound. What differs is linear: every site carries
``fixed_cost / margin`` (the search works in units of captured weight, so the
share's machinery is used unchanged), and a move may also open or close one site
when the count range allows it.

The bound. The cell-hull Lagrangian relaxes the tie between each cell's copy of
its sites and the plan; what is left of the plan's problem is "choose the open set
maximising ``sum_j (rho_j - fixed_cost_j / margin)``" under the forced sites, one
site per location and a count in ``[lo, hi]``: the best such set takes the forced
sites, then the ``lo - forced`` best other locations whatever their score, then
every further location with a positive score up to ``hi``. That maximum is over a
superset of the feasible plans for every count in the range at once, so the bound
holds for the whole range (a fixed count is the range ``[p, p]``). With regions, the
relaxation is also run region by region at a price on the store count, each region's
priced problem then branched on (``tree_search.market_share_priced_regions`` with the
sites' costs as prices).

Budgets: as in ``solve``, every phase is limited by work (``incumbent.Work``; rounds,
iterations and nodes charged by the cost model), and the wall clock is only the safety
net that sets ``status = "time_limit"`` and a warning (``incumbent.outcome``).
"""

from __future__ import annotations

import copy
import heapq
import itertools
import logging
import math
import time
from collections.abc import Callable

import numpy as np

from planner.errors import InfeasibleError
from planner.optimise.bounds import plan_prices, select_range
from planner.optimise.feasibility import precheck
from planner.optimise.greedy import GainTracker
from planner.optimise.incumbent import (
    CELL_HULL_S_PER_PAIR,
    PROFIT_ROUND_S_PER_PAIR,
    PROFIT_ROUND_S_PER_PAIR_PAIR,
    SETUP_S_PER_PAIR,
    WORK_PER_LIMIT_S,
    Clock,
    Progress,
    Work,
    outcome,
    relative_gap,
)
from planner.optimise.local_search import move_tables
from planner.optimise.market_share_bounds import (
    CellTables,
    cell_hull_seconds,
    cell_tables,
    cell_tables_seconds,
    initial_multipliers,
    market_share_dual_value,
    market_share_lagrangian,
)
from planner.optimise.model import Model, PlanState, compile_model
from planner.optimise.types import Instance, Solution

log = logging.getLogger(__name__)

#: Share of the work budget the regional bound leaves for polishing the relaxation's plans.
_POLISH_SHARE = 0.12
#: Of the regional bound's work, the share of its Lagrangian (the rest: branching on the regions).
_BRANCH_AFTER = 0.7

__all__ = [
    "ProfitModel", "profit_model", "solve_profit", "profit_lagrangian", "regional_profit_bound", "select_range",
    "dual_value",
]


class ProfitModel:
    """A compiled market-share model plus each site's cost in weight units and the count range.

    ``value(mask)`` is the internal objective ``share(mask) - sum cost_w[mask]``
    (captured weight net of costs); the user's profit is ``margin * value``.
    """

    def __init__(self, inst: Instance) -> None:
        self.inst = inst
        self.model: Model = compile_model(inst, "market_share")
        self.margin = 1.0 if inst.margin is None else float(inst.margin)
        cost = np.zeros(inst.n_sites) if inst.site_fixed_cost is None else np.asarray(inst.site_fixed_cost, float)
        self.cost_cny = cost
        # with no margin every sale is worth nothing: costs still count, in CNY
        self.scale = self.margin if self.margin > 0 else 1.0
        self.share_w = 1.0 if self.margin > 0 else 0.0
        self.cost_w = cost / self.scale
        self.lo, self.hi = inst.store_range()

    def share(self, mask: np.ndarray) -> float:
        return self.share_w * self.model.value(mask)

    def value(self, mask: np.ndarray) -> float:
        return self.share(mask) - float(self.cost_w[mask].sum())

    def profit(self, value: float) -> float:
        return self.scale * value

    def at_count(self, count: int) -> Model:
        """The compiled model with the store count set to ``count`` (for ``PlanState.feasible``)."""
        out = copy.copy(self.model)
        out.p = int(count)
        return out

    def feasible(self, mask: np.ndarray) -> bool:
        n = int(mask.sum())
        return self.lo <= n <= self.hi and PlanState(self.at_count(n), mask).feasible()


def profit_model(inst: Instance) -> ProfitModel:
    """Compile ``inst`` for the profit search (see :class:`ProfitModel`)."""
    return ProfitModel(inst)


# ---------------------------------------------------------------------------
# plans: lazy greedy, then add / drop / swap search
# ---------------------------------------------------------------------------
def greedy_profit(pm: ProfitModel) -> np.ndarray:
    """Forced sites, group minimums, then the best net gains: up to ``lo`` whatever they earn, beyond only if they pay.

    Net gains ``share gain - cost`` only fall as stores open (the share is
    submodular, the cost fixed), so a lazy queue gives the plain greedy's plan.
    """
    m = pm.model
    st = PlanState(m)
    gt = GainTracker(m)
    for f0 in np.flatnonzero(m.forced):
        st.add(int(f0))
        gt.open_site(int(f0))
    net = pm.share_w * gt.all_gains() - pm.cost_w
    for _ in range(pm.hi):
        short = np.flatnonzero(st.grp_count < st.grp_min)
        if short.size == 0 or st.n_open >= pm.hi:
            break
        cand = np.unique(np.concatenate([m.groups[g].sites for g in short]))
        cand = cand[st.addable_mask()[cand]]
        if cand.size == 0:
            break
        net = pm.share_w * gt.all_gains() - pm.cost_w
        pick = int(cand[np.argmax(net[cand])])
        st.add(pick)
        gt.open_site(pick)
    net = pm.share_w * gt.all_gains() - pm.cost_w
    heap: list[tuple[float, int]] = [(-float(net[k]), int(k)) for k in np.flatnonzero(st.addable_mask())]
    heapq.heapify(heap)
    while heap and st.n_open < pm.hi:
        neg, j = heapq.heappop(heap)
        if st.n_open >= pm.lo and -neg <= 0.0:
            break  # an upper bound on every gain left, and it does not pay
        if not st.can_add(j):
            continue
        g = pm.share_w * gt.gain(j) - pm.cost_w[j]
        if heap and g < -heap[0][0] - 1e-12 * max(1.0, abs(g)):
            heapq.heappush(heap, (-g, j))
            continue
        if st.n_open >= pm.lo and g <= 0.0:
            break
        st.add(j)
        gt.open_site(j)
    return st.open.copy()


def profit_round_seconds(pm: ProfitModel) -> float:
    """Nominal seconds of one round of :func:`local_search_profit` (``incumbent``'s cost model)."""
    return 1e-3 + PROFIT_ROUND_S_PER_PAIR * float(pm.model.pc.size)


def profit_lagrangian_seconds(pm: ProfitModel, tab: CellTables) -> float:
    """Nominal seconds of one iteration of :func:`profit_lagrangian` (and of :func:`dual_value`) on ``tab``.

    The market share's cell-hull iteration (``market_share_bounds.cell_hull_seconds``)
    plus the count range's selection over the sites.
    """
    return cell_hull_seconds(pm.model, tab) + CELL_HULL_S_PER_PAIR * float(pm.model.n_sites)


def local_search_profit(
    pm: ProfitModel,
    open_mask: np.ndarray,
    *,
    time_limit_s: float = 30.0,
    max_rounds: int = 10_000,
    work: Work | None = None,
    work_s: float = math.inf,
) -> tuple[np.ndarray, int]:
    """Improve a plan by opening, closing or swapping sites while any such move pays.

    Every round values every move at once from the share's gain / loss / extra
    tables: open ``j`` is ``gain_j - cost_j``, close ``f`` is ``cost_f - loss_f``,
    swap ``f -> j`` is ``gain_j - loss_f + extra_fj - cost_j + cost_f``; the
    improving moves whose cells do not overlap are applied together (their values
    add up exactly), each checked against every constraint and the count range.
    Rounds are deterministic: the work limit is ``work_s`` nominal seconds (each round
    charged :func:`profit_round_seconds` plus its extra table's pair-pairs, to ``work``
    when given) and at most ``max_rounds`` rounds; ``time_limit_s`` is only a wall-clock
    safety net.
    """
    m = pm.model
    t0 = time.perf_counter()
    st = PlanState(m, open_mask)
    n_moves = 0
    eps = 1e-10 * max(1.0, abs(pm.value(st.open)))
    touched = np.zeros(m.n_cells, dtype=bool)
    used = np.zeros(m.n_sites, dtype=bool)
    sw = pm.share_w
    spent = 0.0
    for _rnd in range(max_rounds):
        if time.perf_counter() - t0 > time_limit_s or spent >= work_s:
            break
        t = move_tables(m, st.open)
        cost = profit_round_seconds(pm) + PROFIT_ROUND_S_PER_PAIR_PAIR * t.pair_pairs
        spent += cost
        if work is not None:
            work.charge(cost)
        gain, loss = sw * t.gain, sw * t.loss
        addable = st.addable_mask()
        removable = st.removable_mask()
        kinds: list[np.ndarray] = []
        fs: list[np.ndarray] = []
        js: list[np.ndarray] = []
        scores: list[np.ndarray] = []
        # opening / closing only where the count range leaves room (else they would crowd out the swaps)
        add_j = np.flatnonzero(addable) if st.n_open < pm.hi else np.zeros(0, dtype=np.int64)
        add_s = gain[add_j] - pm.cost_w[add_j]
        drop_f = np.flatnonzero(removable) if st.n_open > pm.lo else np.zeros(0, dtype=np.int64)
        drop_s = pm.cost_w[drop_f] - loss[drop_f]
        kinds += [np.zeros(add_j.size, np.int8), np.ones(drop_f.size, np.int8)]
        fs += [np.full(add_j.size, -1), drop_f]
        js += [add_j, np.full(drop_f.size, -1)]
        scores += [add_s, drop_s]
        # swaps: sites sharing cells (the extra table), format changes, and the cheapest closures
        n_s = m.n_sites
        sf = [t.keys // n_s]
        sj = [t.keys % n_s]
        cand_add = ~st.open & m.allowed
        loc_open = np.full(m.n_loc, -1, dtype=np.int64)
        loc_open[m.loc[st.open]] = np.flatnonzero(st.open)
        jj = np.flatnonzero(cand_add & (loc_open[m.loc] >= 0))
        sf.append(loc_open[m.loc[jj]])
        sj.append(jj)
        rem = np.flatnonzero(st.open & ~m.forced)
        add_all = np.flatnonzero(addable)
        if rem.size and add_all.size:
            cheap = rem[np.argsort(loss[rem] - pm.cost_w[rem], kind="stable")[:3]]
            top = add_all[np.argsort(-(gain[add_all] - pm.cost_w[add_all]), kind="stable")[:200]]
            for f in cheap:
                sf.append(np.full(top.size, f))
                sj.append(top)
        f = np.concatenate(sf).astype(np.int64)
        j = np.concatenate(sj).astype(np.int64)
        ok = (f >= 0) & st.open[np.maximum(f, 0)] & ~m.forced[np.maximum(f, 0)] & cand_add[j]
        f, j = f[ok], j[ok]
        if f.size:
            key, first = np.unique(f * n_s + j, return_index=True)
            f, j = f[first], j[first]
            s = gain[j] - loss[f] + sw * t.lookup(f, j, n_s) - pm.cost_w[j] + pm.cost_w[f]
            kinds.append(np.full(f.size, 2, np.int8))
            fs.append(f)
            js.append(j)
            scores.append(s)
        kind = np.concatenate(kinds)
        ff = np.concatenate(fs).astype(np.int64)
        jj_all = np.concatenate(js).astype(np.int64)
        score = np.concatenate(scores)
        good = score > eps
        if not np.any(good):
            break
        order = np.flatnonzero(good)[np.argsort(-score[good], kind="stable")][:5000]
        taken = 0
        marks: list[np.ndarray] = []
        n_open = st.n_open
        tm = t.model
        for k in order:
            kd, a, b = int(kind[k]), int(ff[k]), int(jj_all[k])
            sites = [x for x in (a, b) if x >= 0]
            if any(used[x] for x in sites):
                continue
            cells = np.concatenate([tm.pc[tm.site_cells(x)] for x in sites])
            if taken and np.any(touched[cells]):
                continue
            if kd == 0:
                if n_open >= pm.hi or not st.can_add(b):
                    continue
                st.add(b)
                n_open += 1
            elif kd == 1:
                if n_open <= pm.lo or not st.removable_mask()[a]:
                    continue
                st.remove(a)
                n_open -= 1
            else:
                if not st.can_swap(a, b):
                    continue
                st.swap(a, b)
            taken += 1
            touched[cells] = True
            marks.append(cells)
            for x in sites:
                used[x] = True
        for c in marks:
            touched[c] = False
        used[:] = False
        if taken == 0:
            break
        n_moves += taken
    log.debug("profit local search: %d moves in %.2fs", n_moves, time.perf_counter() - t0)
    return st.open.copy(), n_moves


def _enumerate(pm: ProfitModel, max_plans: int) -> np.ndarray | None:
    """The best plan by scoring every plan, when there are at most ``max_plans`` (else None)."""
    m = pm.model
    forced = np.flatnonzero(m.forced)
    free = np.flatnonzero(m.allowed & ~m.forced)
    lo, hi = max(pm.lo - forced.size, 0), min(pm.hi - forced.size, free.size)
    total = sum(math.comb(free.size, k) for k in range(lo, hi + 1))
    if total > max_plans or lo > hi:
        return None
    best, best_v = None, -np.inf
    mask = np.zeros(m.n_sites, dtype=bool)
    for k in range(lo, hi + 1):
        for combo in itertools.combinations(free.tolist(), k):
            mask[:] = False
            mask[forced] = True
            mask[list(combo)] = True
            if not pm.feasible(mask):
                continue
            v = pm.value(mask)
            if v > best_v:
                best, best_v = mask.copy(), v
    return best


# ---------------------------------------------------------------------------
# the bound
# ---------------------------------------------------------------------------
def profit_lagrangian(
    pm: ProfitModel,
    incumbent_value: float,
    open_mask: np.ndarray,
    *,
    time_limit_s: float = 10.0,
    max_iter: int = 2000,
    gap_stop: float = 1e-6,
    on_plan: Callable[[np.ndarray], float | None] | None = None,
    plan_every: int = 10,
    work: Work | None = None,
    tables: CellTables | None = None,
    mu_out: np.ndarray | None = None,
) -> float:
    """Upper bound on the internal profit value (captured weight net of costs) for every count in the range.

    The cell-hull Lagrangian of ``market_share_bounds.market_share_lagrangian``
    with the linear cost ``-cost_w`` on each site and :func:`select_range` in
    place of the exact count (see the module docstring). Polyak steps deflected by
    the previous direction; ``mu >= 0``. ``max_iter`` is the work limit (``work``,
    when given, is charged the cell tables and :func:`profit_lagrangian_seconds`
    per iteration); ``time_limit_s`` only a wall-clock safety net. ``tables``:
    the cells' upper models (default ``cell_tables`` at ``open_mask``);
    ``mu_out``, when given, receives the best multipliers (a warm start for
    :func:`regional_profit_bound`).
    """
    m = pm.model
    if pm.share_w == 0.0:
        # no margin: the value is minus the costs; the cheapest admissible set bounds it
        sel = select_range(m, -pm.cost_w, pm.lo, pm.hi)
        return float(-pm.cost_w[sel].sum())
    tab = cell_tables(m, open_mask) if tables is None else tables
    iter_s = profit_lagrangian_seconds(pm, tab)
    if work is not None and tables is None:
        work.charge(cell_tables_seconds(m, tab))
    bound, best_mu = market_share_lagrangian(
        m, incumbent_value, open_mask, time_limit_s=time_limit_s, max_iter=max_iter, gap_stop=gap_stop,
        on_plan=on_plan, plan_every=plan_every, tables=tab, site_cost=pm.cost_w, count_range=(pm.lo, pm.hi),
        on_iteration=None if work is None else (lambda: work.charge(iter_s)),
    )
    if mu_out is not None:
        mu_out[:] = best_mu
    return float(bound)


def dual_value(pm: ProfitModel, tab: CellTables, mu: np.ndarray) -> float:
    """The profit relaxation's value at multipliers ``mu >= 0`` (a valid bound for every count in the range)."""
    return market_share_dual_value(pm.model, tab, mu, site_cost=pm.cost_w, count_range=(pm.lo, pm.hi))


def regional_profit_bound(
    pm: ProfitModel,
    open_mask: np.ndarray,
    *,
    time_limit_s: float = math.inf,
    work_s: float = math.inf,
    work: Work | None = None,
    tables: CellTables | None = None,
    mu0: np.ndarray | None = None,
    branch_work_s: float = 0.0,
    rel_slack: float = 1e-9,
) -> float:
    """The profit relaxation region by region, with the store count priced (``decompose.regional_market_share``).

    At a count price ``lam`` the relaxation separates by region (connected
    components of the cell-site graph): ``lam K + sum over regions of
    max [f_r(S) - cost(S) - lam |S|]`` with ``K = hi`` for ``lam >= 0`` and ``lo``
    otherwise bounds every plan with a count in the range, and each region
    converges on its own (each site's cost is its own price on top of ``lam``).
    The groups' limits are priced too (``bounds.plan_prices``). The regions' multipliers are then re-priced together with the exact range
    (:func:`dual_value`); the smaller of the two bounds is returned.

    The regional iterations stop after ``work_s`` nominal seconds (charged to
    ``work`` when given, with the cell tables and the final re-pricing);
    ``time_limit_s`` is only a wall-clock safety net. ``tables`` and ``mu0``
    (the cells' upper models, starting multipliers) default to ``cell_tables``
    and ``initial_multipliers`` at ``open_mask``.

    With ``branch_work_s > 0`` each region's priced bound is then tightened by
    branching, smallest regions first, for that many nominal seconds
    (``tree_search.market_share_priced_regions`` with the sites' costs as
    prices; ``rel_slack`` its pruning tolerance).
    """
    from planner.optimise.decompose import (
        components,
        market_share_primal_by_region,
        regional_market_share,
    )
    from planner.optimise.tree_search import market_share_priced_regions

    t0 = time.perf_counter()

    m = pm.model
    comps = components(m)
    tab = cell_tables(m, open_mask) if tables is None else tables
    if work is not None:
        work.charge((cell_tables_seconds(m, tab) if tables is None else 0.0) + profit_lagrangian_seconds(pm, tab))
    mu = initial_multipliers(m, tab, open_mask) if mu0 is None else np.asarray(mu0, dtype=float)
    # the count and the groups priced (bounds.plan_prices), each site's fixed cost on top
    lam, price, const = plan_prices(m, np.bincount(m.ps, weights=mu, minlength=m.n_sites) - pm.cost_w, pm.lo, pm.hi)
    site_price = price - lam + pm.cost_w
    target = market_share_primal_by_region(m, comps, open_mask, lam) - np.bincount(
        comps.site_comp, weights=np.where(open_mask, site_price, 0.0), minlength=comps.n_components)
    mu_reg = mu.copy()
    reg = regional_market_share(
        m, comps, lam, mu, target, time_limit_s=time_limit_s, tables=tab, mu_out=mu_reg, max_iter=100_000,
        site_price=site_price, work_s=work_s, work=work,
    )
    if branch_work_s > 0:
        size = np.bincount(comps.cell_comp, minlength=comps.n_components) * np.maximum(
            np.bincount(comps.site_comp, minlength=comps.n_components), 1
        )
        exact = market_share_priced_regions(
            m, comps.cell_comp, comps.site_comp, np.argsort(size, kind="stable"), lam, mu_reg, tab,
            work_s=branch_work_s, work=work, deadline=t0 + time_limit_s, rel_slack=rel_slack, max_nodes=2000,
            site_price=site_price,
        )
        reg = np.minimum(reg, exact)
    priced = const + float(reg.sum())
    return min(priced, dual_value(pm, tab, mu_reg))


# ---------------------------------------------------------------------------
# the entry point
# ---------------------------------------------------------------------------
def solve_profit(
    inst: Instance,
    *,
    time_limit_s: float = 60.0,
    gap_target: float = 0.005,
    progress: Progress | None = None,
    max_enumerated: int = 20_000,
    work_limit_s: float | None = None,
) -> Solution:
    """Maximise ``margin * market_share - sum of open sites' fixed costs`` with a proven bound.

    Parameters
    ----------
    inst : Instance
        With ``site_fixed_cost`` (CNY per year per open site, default 0),
        ``margin`` (CNY per unit of captured weight, default 1) and optionally a
        store-count range (``stores_min`` / ``stores_max``).
    time_limit_s : float
        Wall-clock limit (s), a safety net, and the nominal size of the search:
        unless ``work_limit_s`` is given, the work budget is
        ``incumbent.WORK_PER_LIMIT_S`` times it (as in ``solve.solve``).
    gap_target : float
        Stop once the proven relative gap (a fraction) is at most this.
    progress : callable, optional
        Called with ``{"stage", "incumbent", "bound", "gap", "seconds"}`` on improvements.
    max_enumerated : int
        Instances with at most this many possible plans are solved by scoring each.
    work_limit_s : float, optional
        The work budget in nominal seconds (``incumbent``'s cost model), instead
        of the share of ``time_limit_s``.

    Returns
    -------
    Solution
        ``objective_kind = "profit"``; ``objective`` and ``bound`` in the
        instance's money unit; ``gap`` is None when the bound is not positive
        (a relative gap has no meaning there).

    Raises
    ------
    InfeasibleError
        When the constraints cannot hold for any count in the range.

    Notes
    -----
    Deterministic as ``solve.solve`` is: every phase (rounds of the move search,
    iterations of the global and the regional Lagrangian, plans polished) is
    limited by work counted from the instance's size, so the same instance,
    ``gap_target`` and work budget give the same plan, bound and statistics
    (but the seconds) whatever the machine's load. When the wall clock runs out
    first, ``status`` is ``"time_limit"`` and ``methods["warning"]`` names what
    was cut short.
    """
    from planner.optimise.check import check_solution  # the checker is the last word, as in solve()

    clock = Clock(time_limit_s)
    work = Work(WORK_PER_LIMIT_S * time_limit_s if work_limit_s is None else work_limit_s)
    pm = profit_model(inst)
    lo, hi = pm.lo, pm.hi
    probe = copy.copy(inst)
    probe.stores_min = probe.stores_max = None
    problems: list[str] = []
    for count in sorted({lo, hi}):
        probe.stores = count
        problems = precheck(probe)
        if not problems:
            break
    if problems:
        raise InfeasibleError("the constraints cannot all hold", problems=problems)

    best_mask: np.ndarray | None = None
    best_v = -np.inf
    bound = np.inf
    methods = {"primal": "", "bound": ""}
    n_pairs = float(pm.model.pc.size)

    def offer(mask: np.ndarray | None, how: str) -> bool:
        nonlocal best_mask, best_v
        if mask is None or not pm.feasible(mask):
            return False
        v = pm.value(mask)
        if v > best_v + 1e-12 * max(1.0, abs(v)):
            best_mask, best_v, methods["primal"] = mask.copy(), v, how
            _report(how)
            return True
        return False

    def _report(stage: str) -> None:
        if progress is not None:
            b = pm.profit(bound) if np.isfinite(bound) else None
            progress({"stage": stage, "incumbent": pm.profit(best_v), "bound": b,
                      "gap": _gap(pm.profit(best_v), b), "seconds": clock.elapsed})

    stats: dict[str, float] = {}
    exact = _enumerate(pm, max_enumerated) if max_enumerated > 0 else None
    if exact is not None and offer(exact, "enumeration"):
        bound, methods["bound"] = best_v, "enumeration"
    else:
        offer(greedy_profit(pm), "greedy")
        work.charge(SETUP_S_PER_PAIR * n_pairs)
        if best_mask is None:
            raise InfeasibleError(
                "no plan satisfying every constraint was found by the profit search; the constraints may be "
                f"contradictory (loosen one of {inst.keys.stores}, the group limits, {inst.keys.spacing}, "
                f"{inst.keys.capex_budget}, {inst.keys.opex_budget})"
            )
        assert best_mask is not None
        ls, n_mv = local_search_profit(pm, best_mask, time_limit_s=clock.left, work=work,
                                       work_s=max(1.0, 0.35 * work.left))
        clock.expired("move search")
        offer(ls, "greedy+moves")
        stats["moves"] = float(n_mv)
        stats["local_search_s"] = clock.elapsed
        plans: dict[bytes, np.ndarray] = {}

        def on_plan(sel: np.ndarray) -> float:
            key = np.packbits(sel).tobytes()
            if key not in plans and len(plans) < 50:
                plans[key] = sel.copy()
            return best_v

        assert best_mask is not None
        from planner.optimise.decompose import components

        comps = components(pm.model)
        stats["components"] = float(comps.n_components)
        regional = comps.n_components > 1
        # with regions the global run only gives a first bound and plans to polish: the regional
        # run below does the real work (one global step size serves many regions badly)
        # the cells' upper models, exact at the incumbent, serve both runs; the regional
        # one starts from the global run's multipliers
        tab = cell_tables(pm.model, best_mask)
        work.charge(cell_tables_seconds(pm.model, tab))
        mu = np.zeros(pm.model.val.size)
        n_it = Work.iterations(max(0.5, (0.3 if regional else 0.6) * work.left), profit_lagrangian_seconds(pm, tab),
                               cap=40 if regional else 2000)
        bound = profit_lagrangian(
            pm, best_v, best_mask, time_limit_s=clock.left, gap_stop=gap_target * 0.2, on_plan=on_plan,
            max_iter=n_it, work=work, tables=tab, mu_out=mu,
        )
        clock.expired("profit Lagrangian")
        methods["bound"] = "cell-hull-lagrangian"
        if (regional and pm.share_w > 0 and not clock.cut
                and (_gap(pm.profit(best_v), pm.profit(bound)) or 1.0) > gap_target):
            # the regions' own Lagrangian, then branching on their priced problems, smallest first
            share = max(0.5, work.left - _POLISH_SHARE * work.limit)
            reg = regional_profit_bound(
                pm, best_mask, time_limit_s=clock.left, tables=tab, mu0=mu, work=work,
                work_s=_BRANCH_AFTER * share, branch_work_s=(1.0 - _BRANCH_AFTER) * share,
                rel_slack=max(1e-9, 0.02 * gap_target),
            )
            clock.expired("regional profit Lagrangian")
            if reg < bound:
                bound, methods["bound"] = reg, "regional-cell-hull-lagrangian"
        stats["bound_s"] = clock.elapsed
        _report("bound")
        polished = 0
        ranked = sorted(plans.values(), key=lambda s: -pm.value(s))[:5]
        for k, sel in enumerate(ranked):
            g = _gap(pm.profit(best_v), pm.profit(bound))
            if (g is not None and g <= gap_target) or work.left <= 0.0 or clock.expired("polishing"):
                break
            start = sel if pm.feasible(sel) else best_mask
            # each plan left an equal share of the work left
            share = max(0.2, work.left / (len(ranked) - k))
            mask, _ = local_search_profit(pm, start, time_limit_s=clock.left, work=work, work_s=share)
            clock.expired("polishing")  # records the safety net if it ended that search
            offer(mask, "lagrangian+moves")
            polished += 1
        stats["lagrangian_plans_polished"] = float(polished)
    assert best_mask is not None
    if bound < best_v and best_v - bound <= 1e-9 * max(1.0, abs(best_v)):
        bound = best_v  # floating-point noise only
    obj = pm.profit(best_v)
    ub = pm.profit(bound)
    gap = _gap(obj, ub)
    status, warning = outcome(gap, clock, inst.keys.time_limit)
    if warning is not None:
        methods["warning"] = warning
    stats["work_s"] = round(work.spent, 6)
    stats["work_limit_s"] = work.limit
    sol = Solution(
        open_sites=np.flatnonzero(best_mask).astype(np.int64),
        objective=float(obj),
        objective_kind="profit",
        bound=float(ub),
        gap=gap,
        seconds=clock.elapsed,
        methods=methods,
        status=status,
        stats=stats,
    )
    check_solution(inst, sol).raise_if_failed()
    log.info("solve profit: objective %.6g bound %.6g gap %s, %d stores in %.2fs",
             obj, ub, gap, sol.open_sites.size, sol.seconds)
    if warning is not None:
        log.warning("solve profit: %s", warning)
    return sol


def _gap(objective: float, bound: float | None) -> float | None:
    """``relative_gap`` where it means something (a positive bound), else None; 0 for a proven optimum of any sign."""
    if bound is not None and objective >= bound - 1e-9 * max(1.0, abs(bound)):
        return 0.0
    if bound is None or not bound > 0:
        return None
    return relative_gap(objective, bound, maximise=True)
