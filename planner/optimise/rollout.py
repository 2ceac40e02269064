"""Rollout: in which quarter each new store opens, limited by managers, money and command.

Two modes (``rollout.mode``):

- ``two_stage`` (:func:`schedule`): the sites come from the site selection; every
  new site must open within the horizon and only the quarters are chosen;
- ``joint`` (:func:`plan_joint`): sites and quarters together on time-indexed
  variables, subject to the site selection's own constraints as well.

Both maximise the sum over quarters of the quarterly objective of the network
open at the end of the quarter (coverage, Huff market share, or -- for the
``distance`` objective -- the distance saved), subject to the manager pipeline
(see :mod:`planner.optimise.rollout_check` for its exact dynamics), the quarterly
capex budget (external hires are paid from it too; unspent money carries over
when ``rollout.carry_over``), the chain of command (a province opens county
stores only from the quarter after it has ``city_stores_before_county`` stores in
its city cores) and the front command's capacity per province and quarter.

Method. A greedy by marginal value (and one by value per CNY when a budget is
set), quarter by quarter, gives feasible incumbents; the joint mode also takes
the two-stage schedule of a given selection as one, so it is never worse than
two-stage. A MIP (OR-Tools ``pywraplp``, HiGHS by default, SCIP on request) on
time-indexed cumulative variables ``Y[j, t]`` (site ``j`` open by the end of
quarter ``t``) improves them; its LP relaxation is solved first so a bound exists
even when the MIP finds nothing in time. The
quarterly value is submodular; the MIP uses an exact linearisation of it where
it can and a valid over-estimate elsewhere:

- coverage/distance: a cell's value ``w * max_open f_j`` is written exactly as a
  sum of "any of the top-k sites open" terms, ``w (f_(k) - f_(k+1)) min(1, sum_{top k} Y)``;
  terms of one site are linear; identical site sets are merged;
- market share: ``w * x / (x + C)`` is concave in ``x = sum a_j Y_j``; it is
  bounded above by tangents (and by the sum of single-site gains, valid by
  submodularity);
- terms beyond ``max_terms`` are replaced by the sum of their single-site values,
  which over-estimates them (``min(1, sum Y) <= sum Y``; submodularity).

Every replacement over-estimates the true value for every schedule, so the MIP's
proven bound is a valid upper bound on the best schedule. A second, independent
bound -- per quarter, ``f(G) + (the cap_t largest gains w.r.t. G)`` for any
network ``G`` (Nemhauser-Wolsey-Fisher; ``cap_t`` = most stores the pipeline and
budget can open by quarter ``t``, a tiny count-only MIP) -- is valid over all
candidates, so it also bounds the joint mode when the MIP runs on a reduced
candidate pool (the MIP and LP bounds are only used when the MIP sees every
candidate). The reported bound is the smallest valid one; the objective is
always recomputed exactly and every schedule is verified by
:func:`~planner.optimise.rollout_check.check_rollout` before it is returned.
"""

# The model notation (T quarters, B budget, L training lag, E existing stores, Y[j, t])
# is kept in code so it reads like the docstrings.
# ruff: noqa: N802, N806

from __future__ import annotations

import heapq
import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
import pandas as pd
from ortools.linear_solver import pywraplp

from planner.config.models import RolloutConfig
from planner.errors import InfeasibleError
from planner.optimise.rollout_check import (
    TABLE_COLUMNS,
    TOL,
    NetworkValue,
    check_rollout,
    manager_pool,
    quarter_labels,
    quarterly_metrics,
)
from planner.optimise.types import Instance, ObjectiveKind, Solution

__all__ = [
    "RolloutInstance",
    "RolloutResult",
    "schedule",
    "plan_joint",
    "plan_rollout",
    "check_rollout",
    "quarter_labels",
    "TABLE_COLUMNS",
]

logger = logging.getLogger(__name__)

MipBackend = Literal["SCIP", "HIGHS"]
_NEVER = -2  # local marker: candidate not opened within the horizon
#: Market-share cells modelled by tangent cuts (the rest by single-site gains). Each costs
#: ~4 dense rows per quarter; beyond a few hundred HiGHS stalls (bench_rollout.py, small market share).
_MAX_HUFF_CELLS = 300
#: Largest joint MIP (pool sites x quarters) tried on a reduced candidate pool.
_MAX_POOL_BINARIES = 5_000


# =========================================================================== types
@dataclass
class RolloutInstance:
    """What scheduling needs per site, beside the site-selection instance.

    Parameters
    ----------
    instance
        The site-selection :class:`~planner.optimise.types.Instance` (objective,
        existing stores in ``fixed`` / ``existing``, and for the joint mode its
        constraints).
    site_province
        int[M] province index of every site (0-based, dense).
    site_is_county
        bool[M] True for a site in a county town, False for a city core (the
        chain of command opens city stores first).
    capex_cny
        float[M] one-off cost of opening each site (CNY); default
        ``instance.capex_cny`` or 0.
    opex_cny
        float[M] yearly running cost of each site (CNY per year); default
        ``instance.opex_cny`` or 0. A quarter is charged a quarter of it for every
        store open at the quarter's end.
    objective_kind
        The scenario's objective (``coverage``, ``market_share``, ``distance``).
    cell_population
        float[N] people per cell for ``covered_population``; default the cell weight.
    province_names
        Names for messages (index = province index).
    """

    instance: Instance
    site_province: np.ndarray
    site_is_county: np.ndarray
    capex_cny: np.ndarray | None = None
    opex_cny: np.ndarray | None = None
    objective_kind: ObjectiveKind = "coverage"
    cell_population: np.ndarray | None = None
    province_names: Sequence[str] | None = None
    _cache: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        m = self.instance.n_sites
        self.site_province = np.asarray(self.site_province, dtype=np.int64)
        self.site_is_county = np.asarray(self.site_is_county, dtype=bool)
        if self.site_province.shape != (m,) or self.site_is_county.shape != (m,):
            raise ValueError(f"site_province and site_is_county must have shape ({m},)")

    @property
    def n_provinces(self) -> int:
        """Number of provinces (max index + 1)."""
        return int(self.site_province.max()) + 1 if self.site_province.size else 0

    def site_capex(self) -> np.ndarray:
        """float[M] capex per site (CNY)."""
        c = self.capex_cny if self.capex_cny is not None else self.instance.capex_cny
        return np.zeros(self.instance.n_sites) if c is None else np.asarray(c, dtype=float)

    def site_opex(self) -> np.ndarray:
        """float[M] yearly opex per site (CNY per year)."""
        c = self.opex_cny if self.opex_cny is not None else self.instance.opex_cny
        return np.zeros(self.instance.n_sites) if c is None else np.asarray(c, dtype=float)

    def population(self) -> np.ndarray:
        """float[N] people per cell (the weight when no population is given)."""
        p = self.cell_population
        return np.asarray(self.instance.weight if p is None else p, dtype=float)

    def preopen_mask(self) -> np.ndarray:
        """bool[M] sites open before the horizon (``fixed`` and ``existing``)."""
        m = np.zeros(self.instance.n_sites, dtype=bool)
        m[np.asarray(self.instance.fixed, dtype=np.int64)] = True
        m[np.asarray(self.instance.existing, dtype=np.int64)] = True
        return m

    def value_model(self, kind: ObjectiveKind | None = None) -> NetworkValue:
        """The (cached) :class:`NetworkValue` of ``kind`` (default the scenario's)."""
        kind = kind or self.objective_kind
        if kind not in self._cache:
            self._cache[kind] = NetworkValue(self.instance, kind)
        return self._cache[kind]

    def province_label(self, p: int) -> str:
        """Name of province ``p`` for messages."""
        if self.province_names is not None and 0 <= p < len(self.province_names):
            return f"{self.province_names[p]}"
        return f"#{p}"


@dataclass
class RolloutResult:
    """A rollout schedule and how good it is.

    ``quarter[k]`` is the 0-based opening quarter of ``open_sites[k]`` (-1 = open
    before the horizon). ``objective`` is the sum over quarters of the quarterly
    objective (``table["objective"]``); ``bound`` a proven bound on the best
    schedule (upper when maximising, lower for ``distance``); ``gap`` as in
    :class:`~planner.optimise.types.Solution`.
    """

    open_sites: np.ndarray
    quarter: np.ndarray
    hires: np.ndarray
    table: pd.DataFrame
    objective: float
    objective_kind: ObjectiveKind
    bound: float | None
    gap: float | None
    seconds: float
    methods: dict[str, str]
    status: str
    mode: str
    stats: dict[str, float] = field(default_factory=dict)

    def to_solution(self, base: Solution | None = None) -> Solution:
        """A :class:`Solution` with ``quarter`` filled (aligned with its ``open_sites``).

        With ``base`` (the two-stage input) its selection figures are kept; without
        it (joint mode) the objective is that of the final network.
        """
        order = np.argsort(self.open_sites, kind="stable")
        sites, q = self.open_sites[order], self.quarter[order]
        if base is not None:
            return replace(base, open_sites=sites, quarter=q)
        return Solution(
            open_sites=sites,
            objective=float(self.table["objective"].iloc[-1]),
            objective_kind=self.objective_kind,
            seconds=self.seconds,
            methods=dict(self.methods),
            status=self.status,
            quarter=q,
        )


# ========================================================================= context
@dataclass
class _Ctx:
    """Everything a schedule needs, in local candidate indices (0..n-1)."""

    rinst: RolloutInstance
    cfg: RolloutConfig
    base: np.ndarray  # global ids open before the horizon
    cand: np.ndarray  # global ids of candidate new sites
    must_open: bool  # two-stage: every candidate opens
    n_required: int  # new openings required by the end
    capex: np.ndarray
    prov: np.ndarray
    county: np.ndarray
    city_base: np.ndarray  # existing city-core stores per province
    vm: NetworkValue
    base_state: np.ndarray
    base_value: float
    sel: _Selection | None = None  # joint mode only

    @property
    def T(self) -> int:
        return int(self.cfg.quarters)

    @property
    def n(self) -> int:
        return int(self.cand.size)

    @property
    def n_prov(self) -> int:
        return self.rinst.n_provinces


def _make_ctx(
    rinst: RolloutInstance, cfg: RolloutConfig, base: np.ndarray, cand: np.ndarray, *, must_open: bool,
    n_required: int,
) -> _Ctx:
    vm = rinst.value_model()
    base_state = vm.state_of(base)
    n_prov = rinst.n_provinces
    prov = rinst.site_province
    county = rinst.site_is_county
    city_base = np.bincount(prov[base][~county[base]], minlength=n_prov)
    return _Ctx(
        rinst=rinst, cfg=cfg, base=base, cand=cand, must_open=must_open, n_required=n_required,
        capex=rinst.site_capex()[cand], prov=prov[cand], county=county[cand], city_base=city_base,
        vm=vm, base_state=base_state, base_value=vm.total(base_state),
    )


class _Selection:
    """The site-selection constraints of the joint mode, on local candidate indices."""

    def __init__(self, rinst: RolloutInstance, base: np.ndarray, cand: np.ndarray) -> None:
        inst = rinst.instance
        n = cand.size
        g2l = np.full(inst.n_sites, -1, dtype=np.int64)
        g2l[cand] = np.arange(n)
        self.g2l = g2l
        self.target = int(inst.stores) - int(base.size)
        # locations: one open site each
        if inst.site_location is not None:
            loc = np.asarray(inst.site_location, dtype=np.int64)
            _, self.loc = np.unique(loc[cand], return_inverse=True)
        else:
            self.loc = np.arange(n)
        self.loc_used = np.zeros(int(self.loc.max()) + 1 if n else 0, dtype=bool)
        a = g2l[np.asarray(inst.conflict_a, dtype=np.int64)]
        b = g2l[np.asarray(inst.conflict_b, dtype=np.int64)]
        ok = (a >= 0) & (b >= 0)
        self.conf_a, self.conf_b = a[ok], b[ok]
        nbr: list[list[int]] = [[] for _ in range(n)]
        for x, y in zip(self.conf_a.tolist(), self.conf_b.tolist(), strict=True):
            nbr[x].append(y)
            nbr[y].append(x)
        self.nbr = nbr
        self.blocked = np.zeros(n, dtype=bool)
        # groups: (local members, min_new, max_new, key)
        pre = np.zeros(inst.n_sites, dtype=bool)
        pre[base] = True
        self.groups: list[tuple[np.ndarray, int, int | None, str]] = []
        for g in inst.groups:
            s = np.asarray(g.sites, dtype=np.int64)
            have = int(pre[s].sum())
            loc_ = g2l[s]
            loc_ = loc_[loc_ >= 0]
            hi = None if g.max_open is None else g.max_open - have
            self.groups.append((loc_, max(0, g.min_open - have), hi, g.key or g.name))
        self.site_groups: list[list[int]] = [[] for _ in range(n)]
        for gi, (mem, _, _, _) in enumerate(self.groups):
            for j in mem.tolist():
                self.site_groups[j].append(gi)
        self.group_count = np.zeros(len(self.groups), dtype=np.int64)
        capex = rinst.site_capex()
        opex = rinst.site_opex()
        self.capex = capex[cand]
        self.opex = opex[cand]
        self.capex_left = math.inf if inst.capex_budget_cny is None else inst.capex_budget_cny - capex[base].sum()
        self.opex_left = math.inf if inst.opex_budget_cny is None else inst.opex_budget_cny - opex[base].sum()
        self.count = 0

    def copy_state(self) -> tuple[Any, ...]:
        return (self.loc_used.copy(), self.blocked.copy(), self.group_count.copy(),
                self.capex_left, self.opex_left, self.count)

    def restore(self, s: tuple[Any, ...]) -> None:
        (self.loc_used, self.blocked, self.group_count, self.capex_left, self.opex_left, self.count) = (
            s[0].copy(), s[1].copy(), s[2].copy(), s[3], s[4], s[5])

    def ok(self, j: int) -> bool:
        if self.count >= self.target or self.blocked[j] or self.loc_used[self.loc[j]]:
            return False
        if self.capex[j] > self.capex_left + TOL or self.opex[j] > self.opex_left + TOL:
            return False
        for gi in self.site_groups[j]:
            hi = self.groups[gi][2]
            if hi is not None and self.group_count[gi] >= hi:
                return False
        return True

    def add(self, j: int) -> None:
        self.count += 1
        self.loc_used[self.loc[j]] = True
        for k in self.nbr[j]:
            self.blocked[k] = True
        for gi in self.site_groups[j]:
            self.group_count[gi] += 1
        self.capex_left -= self.capex[j]
        self.opex_left -= self.opex[j]

    def accepts(self, sites: np.ndarray) -> bool:
        """Whether the final network of local ``sites`` satisfies every selection constraint."""
        saved = self.copy_state()
        try:
            for j in np.asarray(sites).tolist():
                if not self.ok(j):
                    return False
                self.add(j)
            return self.count == self.target and self.mins_met()
        finally:
            self.restore(saved)

    def mins_met(self) -> bool:
        return all(self.group_count[gi] >= g[1] for gi, g in enumerate(self.groups))


# ============================================================ capacities & checks
def _kmax_affordable(capex_sorted_cum: np.ndarray, money: float) -> int:
    """Most openings whose cheapest capex fits ``money``."""
    return int(np.searchsorted(capex_sorted_cum, money + TOL * max(1.0, money), side="right"))


def _max_cumulative_openings(
    ctx: _Ctx, *, managers: bool = True, budget: bool = True, province: bool = True
) -> np.ndarray:
    """Most new stores the horizon can have opened by the end of each quarter (int[T]).

    A count-only relaxation: the manager pipeline exactly (integer openings and
    hires), the budget through the cheapest candidates' capex (hiring costs
    ignored), the province caps summed over provinces. Every schedule opens at
    most this many by quarter ``t``, so it is a valid cap for bounds and for
    infeasibility proofs.
    """
    cfg, T = ctx.cfg, ctx.T
    n = ctx.n
    if n == 0:
        return np.zeros(T, dtype=np.int64)
    per_prov = np.bincount(ctx.prov, minlength=ctx.n_prov)
    cap = cfg.max_openings_per_province_per_quarter
    solver = pywraplp.Solver.CreateSolver("SCIP")
    inf = solver.infinity()
    nv = [solver.IntVar(0, n, f"n{t}") for t in range(T)]
    h = [solver.IntVar(0, cfg.external_hires_per_quarter if managers else 0, f"h{t}") for t in range(T)]
    cum = np.cumsum(np.sort(ctx.capex))
    B = cfg.capex_budget_per_quarter_cny
    for t in range(T):
        o = nv[t] - (nv[t - 1] if t else 0)
        solver.Add(o >= 0)
        if province and cap is not None:
            solver.Add(o <= int(np.minimum(per_prov, cap).sum()))
            solver.Add(nv[t] <= int(np.minimum(per_prov, cap * (t + 1)).sum()))
        if budget and B is not None:
            if cfg.carry_over:
                solver.Add(nv[t] <= _kmax_affordable(cum, B * (t + 1)))
            else:
                solver.Add(o <= _kmax_affordable(cum, B))
    if managers:
        keep = 1.0 - cfg.attrition_pct / 100.0
        L, c, E = int(cfg.training_quarters), float(cfg.cadres_per_store), float(ctx.base.size)
        k = [solver.NumVar(0, inf, f"k{t}") for t in range(T)]
        a = [solver.NumVar(0, inf, f"a{t}") for t in range(T)]
        solver.Add(k[0] == float(cfg.initial_managers))
        for t in range(T):
            grad = 0.0
            if t >= L:
                s = t - L  # trainees started in quarter s by the stores open before s
                grad = c * (E + (nv[s - 1] if s >= 1 else 0))
            solver.Add(a[t] == k[t] + grad + h[t])
            o = nv[t] - (nv[t - 1] if t else 0)
            solver.Add(o <= a[t])
            if t + 1 < T:
                solver.Add(k[t + 1] == keep * (a[t] - o))
    caps = np.zeros(T, dtype=np.int64)
    for t in range(T):
        solver.Maximize(nv[t])
        st = solver.Solve()
        if st != pywraplp.Solver.OPTIMAL:  # pragma: no cover - tiny model
            raise RuntimeError(f"count relaxation not solved (status {st})")
        caps[t] = round(solver.Objective().Value())
    return np.maximum.accumulate(caps)


def _explain_upfront(ctx: _Ctx) -> list[str]:
    """Reasons, in words naming the keys, why no schedule can exist (empty = none found)."""
    cfg, T, need = ctx.cfg, ctx.T, ctx.n_required
    rinst = ctx.rinst
    probs: list[str] = []
    if need <= 0:
        return probs
    lab = quarter_labels(cfg.start_quarter, T)
    mgr = _max_cumulative_openings(ctx, budget=False, province=False)
    if mgr[-1] < need:
        if cfg.initial_managers == 0 and cfg.external_hires_per_quarter == 0 and (
            ctx.base.size == 0 or cfg.cadres_per_store == 0
        ):
            probs.append(
                f"no store manager is ever ready: rollout.initial_managers = 0, "
                f"rollout.external_hires_per_quarter = 0 and no trainees "
                f"({ctx.base.size} stores open, rollout.cadres_per_store = {cfg.cadres_per_store}), "
                f"but {need} new stores must open; set rollout.initial_managers or "
                f"rollout.external_hires_per_quarter above 0"
            )
        else:
            probs.append(
                f"the manager pipeline can staff at most {int(mgr[-1])} openings by {lab[-1]} "
                f"(rollout.quarters = {T}, rollout.initial_managers = {cfg.initial_managers}, "
                f"rollout.cadres_per_store = {cfg.cadres_per_store}, rollout.training_quarters = "
                f"{cfg.training_quarters}, rollout.attrition_pct = {cfg.attrition_pct}, "
                f"rollout.external_hires_per_quarter = {cfg.external_hires_per_quarter}) but {need} "
                f"new stores must open; raise managers or hires, lengthen rollout.quarters, or plan "
                f"fewer stores (constraints.total_stores)"
            )
    B = cfg.capex_budget_per_quarter_cny
    if B is not None:
        if ctx.must_open and not cfg.carry_over and np.any(ctx.capex > B * (1 + TOL)):
            j = int(np.argmax(ctx.capex))
            probs.append(
                f"site {int(ctx.cand[j])} costs {ctx.capex[j]:,.0f} CNY > rollout.capex_budget_per_quarter_cny "
                f"= {B:,.0f} and rollout.carry_over is false: it can never open "
                f"({int((ctx.capex > B * (1 + TOL)).sum())} such sites)"
            )
        else:
            total = float(np.sort(ctx.capex)[:need].sum())
            if total > B * T * (1 + TOL):
                what = "the selected sites cost" if ctx.must_open else f"the {need} cheapest candidates cost"
                probs.append(
                    f"{what} {total:,.0f} CNY but rollout.capex_budget_per_quarter_cny × rollout.quarters "
                    f"= {B:,.0f} × {T} = {B * T:,.0f} CNY; raise the budget or lengthen the horizon"
                )
    cap = cfg.max_openings_per_province_per_quarter
    if ctx.must_open:
        per_prov = np.bincount(ctx.prov, minlength=ctx.n_prov)
        if cap is not None:
            for p in np.flatnonzero(per_prov > cap * T):
                probs.append(
                    f"province {rinst.province_label(int(p))} has {per_prov[p]} stores to open but "
                    f"rollout.max_openings_per_province_per_quarter × rollout.quarters = {cap} × {T} = "
                    f"{cap * T}"
                )
        k = cfg.city_stores_before_county
        if k > 0:
            city_new = np.bincount(ctx.prov[~ctx.county], minlength=ctx.n_prov)
            county_new = np.bincount(ctx.prov[ctx.county], minlength=ctx.n_prov)
            for p in np.flatnonzero(county_new > 0):
                have = int(ctx.city_base[p])
                if have + city_new[p] < k:
                    probs.append(
                        f"province {rinst.province_label(int(p))} must open {county_new[p]} county stores "
                        f"but can only ever have {have + int(city_new[p])} city stores < "
                        f"rollout.city_stores_before_county = {k}"
                    )
                elif have < k and T < 2:
                    probs.append(
                        f"province {rinst.province_label(int(p))} has {have} city stores < "
                        f"rollout.city_stores_before_county = {k}, so its county stores can open at the "
                        f"earliest in the second quarter, but rollout.quarters = {T}"
                    )
    if not probs:
        caps = _max_cumulative_openings(ctx)
        if caps[-1] < need:
            probs.append(
                f"managers, budget and province caps together allow at most {int(caps[-1])} openings "
                f"by {lab[-1]} but {need} must open (rollout.initial_managers, "
                f"rollout.external_hires_per_quarter, rollout.capex_budget_per_quarter_cny, "
                f"rollout.max_openings_per_province_per_quarter, rollout.quarters)"
            )
    return probs


# ========================================================================= greedy
@dataclass
class _Quarter:
    """The greedy's state within one quarter (``m`` indexes ``idx``, the eligible candidates)."""

    t: int
    idx: np.ndarray  # eligible local candidates
    bonus: np.ndarray  # 1 = city store unlocking pending county stores (two-stage)
    key: np.ndarray  # priority (gain or gain per CNY), an upper bound until refreshed
    gains: np.ndarray
    ver: np.ndarray  # number of openings when gains[m] was computed
    per_prov_t: np.ndarray
    ready: float
    money: float
    n_t: int = 0
    h_t: int = 0
    added: int = 0


def _greedy(ctx: _Ctx, *, score: Literal["value", "ratio"] = "value") -> tuple[np.ndarray, np.ndarray] | None:
    """Open stores quarter by quarter, most valuable (or best value per CNY) first.

    Each quarter opens as many stores as managers (hiring when short), money,
    province caps and the chain of command allow. Two-stage: provinces that would
    otherwise run out of quarters go first, and city stores that unlock pending
    county stores are preferred. Returns local quarters (``_NEVER`` = not opened)
    and hires, or None when it fails to open what must open.
    """
    cfg, T, n = ctx.cfg, ctx.T, ctx.n
    vm = ctx.vm
    sel = ctx.sel
    if sel is not None:
        sel_state = sel.copy_state()
    state = ctx.base_state.copy()
    q = np.full(n, _NEVER, dtype=np.int64)
    hires = np.zeros(T, dtype=np.int64)
    opened = np.zeros(T, dtype=np.int64)
    city_open = ctx.city_base.copy()
    B = cfg.capex_budget_per_quarter_cny
    cap = cfg.max_openings_per_province_per_quarter
    H = cfg.external_hires_per_quarter
    hire_cost = cfg.external_hire_cost_cny
    spent = 0.0
    need_city = cfg.city_stores_before_county
    cand_ids = ctx.cand

    def run(qs: _Quarter, members: np.ndarray, limit: np.ndarray | None) -> None:
        heap = [(-qs.bonus[m], -qs.key[m], int(m)) for m in members]
        heapq.heapify(heap)
        while heap:
            _, _, m = heapq.heappop(heap)
            j = int(qs.idx[m])
            if q[j] != _NEVER:
                continue
            if qs.ver[m] != qs.added:
                qs.gains[m] = vm.gain(state, int(cand_ids[j]))
                qs.key[m] = qs.gains[m] / max(ctx.capex[j], 1.0) if score == "ratio" else qs.gains[m]
                qs.ver[m] = qs.added
                heapq.heappush(heap, (-qs.bonus[m], -qs.key[m], m))
                continue
            p = ctx.prov[j]
            if cap is not None and qs.per_prov_t[p] >= cap:
                continue
            if limit is not None and limit[p] <= 0:
                continue
            if sel is not None and not sel.ok(j):
                continue
            hire = qs.n_t + 1 > qs.ready + qs.h_t + TOL
            if hire and qs.h_t >= H:
                return
            cost = ctx.capex[j] + (hire_cost if hire else 0.0)
            if cost > qs.money + TOL * max(1.0, qs.money if math.isfinite(qs.money) else 1.0):
                continue
            q[j] = qs.t
            vm.add(state, int(cand_ids[j]))
            qs.added += 1
            qs.n_t += 1
            qs.h_t += int(hire)
            qs.money -= cost
            qs.per_prov_t[p] += 1
            if limit is not None:
                limit[p] -= 1
            if sel is not None:
                sel.add(j)


    for t in range(T):
        pool = manager_pool(cfg, ctx.base.size, opened, hires)
        ready = pool.ready[t]
        money = math.inf if B is None else (B * (t + 1) - spent if cfg.carry_over else B)
        unlocked = city_open >= need_city
        todo = q == _NEVER
        elig = todo & (~ctx.county | unlocked[ctx.prov])
        if sel is not None:
            elig = _sel_ok_vec(sel, elig)
        idx = np.flatnonzero(elig)
        if idx.size == 0:
            continue
        g = vm.gains(state, cand_ids[idx])
        bonus = np.zeros(idx.size)
        if ctx.must_open and need_city > 0:
            pending_county = np.bincount(ctx.prov[todo & ctx.county], minlength=ctx.n_prov) > 0
            locked = (~unlocked) & pending_county
            bonus[(~ctx.county[idx]) & locked[ctx.prov[idx]]] = 1.0
        key = g / np.maximum(ctx.capex[idx], 1.0) if score == "ratio" else g.copy()
        per_prov_t = np.zeros(ctx.n_prov, dtype=np.int64)
        # provinces that must open some stores now to finish within the horizon
        forced = np.zeros(ctx.n_prov, dtype=np.int64)
        if ctx.must_open and cap is not None:
            rem = np.bincount(ctx.prov[todo], minlength=ctx.n_prov)
            forced = np.maximum(0, rem - cap * (T - 1 - t))
        qs = _Quarter(t=t, idx=idx, bonus=bonus, key=key, gains=g, ver=np.zeros(idx.size, dtype=np.int64),
                      per_prov_t=per_prov_t, ready=ready, money=money)
        if forced.any():
            run(qs, np.flatnonzero(forced[ctx.prov[idx]] > 0), forced.copy())
        run(qs, np.arange(idx.size), None)
        opened[t] = qs.n_t
        hires[t] = qs.h_t
        spent += money - qs.money if math.isfinite(money) else 0.0
        newly = idx[q[idx] == t]
        np.add.at(city_open, ctx.prov[newly][~ctx.county[newly]], 1)
    ok = True
    if ctx.must_open and np.any(q == _NEVER):
        ok = False
    if sel is not None:
        ok = sel.count == sel.target and sel.mins_met()
        sel.restore(sel_state)
    if not ok:
        return None
    return q, _trim_hires(ctx, q, hires)


def _sel_ok_vec(sel: _Selection, elig: np.ndarray) -> np.ndarray:
    out = elig.copy()
    for j in np.flatnonzero(elig):
        out[j] = sel.ok(int(j))
    return out


def _trim_hires(ctx: _Ctx, q: np.ndarray, hires: np.ndarray) -> np.ndarray:
    """Fewest hires, quarter by quarter, that still staff the openings ``q`` (else ``hires``)."""
    T = ctx.T
    opened = np.bincount(q[q >= 0], minlength=T)[:T]
    h = np.zeros(T, dtype=np.int64)
    for t in range(T):
        pool = manager_pool(ctx.cfg, ctx.base.size, opened, h)
        short = opened[t] - pool.ready[t]
        if short > TOL:
            h[t] = math.ceil(short - TOL)
    if np.any(h > ctx.cfg.external_hires_per_quarter):
        return hires
    return h


# ==================================================================== linearisation
@dataclass
class _HuffCell:
    """One market-share cell modelled by cuts: ``theta <= c + s * sum a Y`` and ``theta <= sum g Y``."""

    sites: np.ndarray  # local candidate indices
    a: np.ndarray  # Huff attraction of each site on the cell
    single: np.ndarray  # gain of each site alone (submodular upper bound)
    tangents: list[tuple[float, float]]  # (slope s, intercept c)


@dataclass
class _Linear:
    """Upper model of the quarterly value over candidates (local indices)."""

    const: float
    v: np.ndarray  # modular value per candidate
    cov_w: np.ndarray  # weight of each "any of set" term
    cov_sets: list[np.ndarray]
    huff_cells: list[_HuffCell] = field(default_factory=list)
    n_relaxed: int = 0
    exact: bool = True


def _linearise(ctx: _Ctx, *, max_terms: int, seed: int) -> _Linear:
    vm = ctx.vm
    cand = ctx.cand
    n = cand.size
    sl = vm._pair_index(cand)
    lens = vm.indptr[cand + 1] - vm.indptr[cand]
    loc = np.repeat(np.arange(n), lens)
    cells = vm.pcell[sl]
    f = vm.f[sl]
    b = ctx.base_state[cells]
    v = np.zeros(n)
    lin = _Linear(const=ctx.base_value, v=v, cov_w=np.zeros(0), cov_sets=[])
    if vm.max_family:
        keep = f > b + 1e-12
    else:
        c = vm.pull[cells]
        keep = (f > 0) & ~((c <= 0) & (b > 0))
    cells, f, loc, b = cells[keep], f[keep], loc[keep], b[keep]
    o = np.lexsort((-f, cells))
    cells, f, loc, b = cells[o], f[o], loc[o], b[o]
    if cells.size == 0:
        return lin
    start = np.r_[True, cells[1:] != cells[:-1]]
    gid = np.cumsum(start) - 1
    gstart = np.flatnonzero(start)
    gsize = np.diff(np.r_[gstart, cells.size])
    rank = np.arange(cells.size) - gstart[gid]
    w = vm.w[cells]
    rng = np.random.default_rng(seed)
    k1 = rng.integers(1, 2**63, size=n, dtype=np.uint64)
    k2 = rng.integers(1, 2**63, size=n, dtype=np.uint64)

    def prefix_hash(keys: np.ndarray) -> np.ndarray:
        with np.errstate(over="ignore"):
            cs = np.cumsum(keys[loc], dtype=np.uint64)
            before = np.r_[np.uint64(0), cs][gstart]
            return cs - before[gid]

    if vm.max_family:
        nxt = np.r_[f[1:], 0.0]
        last = rank == gsize[gid] - 1
        nxt[last] = b[last]
        wt = w * (f - nxt)
        cov_mask = np.ones(cells.size, dtype=bool)
    else:
        c = vm.pull[cells]
        cov_mask = c <= 0  # C = 0 and b = 0: reached or not, a coverage term of weight w
        wt = np.where(cov_mask & (rank == gsize[gid] - 1), w, 0.0)
        # huff cells: single-site gains are exact for cells with one candidate
        single = vm.phi(b + f, cells) - vm.phi(b, cells)
        huff = ~cov_mask
        one = huff & (gsize[gid] == 1)
        np.add.at(v, loc[one], single[one])
        multi = huff & (gsize[gid] >= 2)
    # coverage-type terms
    m0 = cov_mask & (rank == 0)
    if vm.max_family:
        np.add.at(v, loc[m0], wt[m0])
    else:
        m0s = m0 & (gsize[gid] == 1)
        np.add.at(v, loc[m0s], wt[m0s])
    tm = cov_mask & (rank >= 1) & (wt > 0)
    h1, h2 = prefix_hash(k1), prefix_hash(k2)
    terms_idx = np.flatnonzero(tm)
    cov_sets: list[np.ndarray] = []
    cov_w: np.ndarray = np.zeros(0)
    if terms_idx.size:
        key = np.stack([h1[terms_idx], h2[terms_idx]], axis=1)
        _, first, inv = np.unique(key, axis=0, return_index=True, return_inverse=True)
        inv = inv.ravel()
        W = np.bincount(inv, weights=wt[terms_idx])
        rep = terms_idx[first]
        size = rank[rep] + 1
        order = np.argsort(-(W * (size - 1)), kind="stable")
        kept, dropped = order[:max_terms], order[max_terms:]
        for u in dropped:
            r = rep[u]
            np.add.at(v, loc[gstart[gid[r]] : r + 1], W[u])
        cov_w = W[kept]
        cov_sets = [loc[gstart[gid[rep[u]]] : rep[u] + 1].copy() for u in kept]
        lin.n_relaxed += int(dropped.size)
    lin.cov_w, lin.cov_sets = cov_w, cov_sets
    if not vm.max_family and multi.any():
        g_ids = np.unique(gid[multi])
        budget_left = max(0, min(max_terms - len(cov_sets), _MAX_HUFF_CELLS))
        # overlap loss: sum of single gains - joint gain; the largest are modelled exactly
        s0 = gstart[g_ids]
        s1 = s0 + gsize[g_ids]
        tot_a = np.add.reduceat(f, s0) if s0.size else np.zeros(0)
        cc = cells[s0]
        joint = vm.phi(b[s0] + tot_a, cc) - vm.phi(b[s0], cc)
        sum_single = np.add.reduceat(single, s0)
        loss = sum_single - joint
        order = np.argsort(-loss, kind="stable")
        kept_g = order[:budget_left]
        for u in order[budget_left:]:
            np.add.at(v, loc[s0[u] : s1[u]], single[s0[u] : s1[u]])
        lin.n_relaxed += int(max(0, order.size - budget_left))
        for u in kept_g:
            a0, a1 = s0[u], s1[u]
            cell = int(cells[a0])
            wc, cpull, b0 = float(vm.w[cell]), float(vm.pull[cell]), float(b[a0])
            phi0 = wc * b0 / (b0 + cpull)
            xs = b0 + np.cumsum(f[a0:a1])
            at = np.unique(np.linspace(1, xs.size - 1, min(3, xs.size - 1)).round().astype(int))
            tang = []
            for x in xs[at]:
                slope = wc * cpull / (x + cpull) ** 2
                # tangent of the concave gain: theta <= gain(x) + slope * (b0 + sum aY - x)
                tang.append((float(slope), float(wc * x / (x + cpull) - phi0 + slope * (b0 - x))))
            lin.huff_cells.append(
                _HuffCell(loc[a0:a1].copy(), f[a0:a1].copy(), single[a0:a1].copy(), tang)
            )
    lin.exact = lin.n_relaxed == 0 and not lin.huff_cells
    return lin


# ============================================================================= MIP
@dataclass
class _Families:
    """Which constraint families the MIP models (all, except when diagnosing)."""

    managers: bool = True
    budget: bool = True
    province: bool = True
    chain: bool = True


@dataclass
class _MipOut:
    status: str  # optimal | feasible | infeasible | unknown
    q: np.ndarray | None
    hires: np.ndarray | None
    bound: float | None  # proven bound on the linearised upper model (value units)
    mip_value: float | None
    seconds: float


class _Mip:
    """Time-indexed MIP: ``Y[j][t]`` = candidate ``j`` open by the end of quarter ``t``."""

    def __init__(
        self, ctx: _Ctx, lin: _Linear | None, backend: str, fam: _Families, *, relax: bool = False
    ) -> None:
        self.ctx, self.lin, self.fam, self.relax = ctx, lin, fam, relax
        s = pywraplp.Solver.CreateSolver(backend)
        if s is None:  # pragma: no cover - backend missing from the wheel
            raise RuntimeError(f"OR-Tools has no {backend} backend")
        self.s = s
        self.backend = backend
        s.SuppressOutput()
        self.inf = s.infinity()
        self.define_opening_variables()
        self.define_count_constraints()
        if fam.managers:
            self.define_manager_constraints()
        if fam.budget:
            self.define_budget_constraints()
        if fam.province:
            self.define_province_constraints()
        if fam.chain:
            self.define_chain_constraints()
        if ctx.sel is not None:
            self.define_selection_constraints()
        if lin is not None:
            self.define_objective()

    # -- helpers --------------------------------------------------------------
    def _row(self, lb: float, ub: float, vars_: list[Any], coefs: Sequence[float]) -> None:
        c = self.s.Constraint(lb, ub)
        for v, a in zip(vars_, coefs, strict=True):
            c.SetCoefficient(v, float(a))

    def _opened_terms(self, members: np.ndarray, t: int) -> tuple[list[Any], list[float]]:
        """Variables and coefficients of ``sum_{j in members} (Y[j,t] - Y[j,t-1])``."""
        Y = self.Y
        vs = [Y[j][t] for j in members]
        cs = [1.0] * len(vs)
        if t > 0:
            vs += [Y[j][t - 1] for j in members]
            cs += [-1.0] * len(members)
        return vs, cs

    # -- variables --------------------------------------------------------------
    def define_opening_variables(self) -> None:
        ctx, s, T = self.ctx, self.s, self.ctx.T
        lb_last = 1.0 if ctx.must_open else 0.0
        var = s.NumVar if self.relax else s.IntVar
        self.Y = [[var(lb_last if t == T - 1 else 0.0, 1, f"y{j}_{t}") for t in range(T)] for j in range(ctx.n)]
        for j in range(ctx.n):
            for t in range(1, T):
                self._row(-self.inf, 0.0, [self.Y[j][t - 1], self.Y[j][t]], [1.0, -1.0])
        # n[t]: new stores open by the end of quarter t
        self.nv = [s.NumVar(0, ctx.n, f"n{t}") for t in range(T)]
        self.h = [var(0, ctx.cfg.external_hires_per_quarter if self.fam.managers else 0, f"h{t}")
                  for t in range(T)]

    def define_count_constraints(self) -> None:
        ctx = self.ctx
        for t in range(ctx.T):
            vs = [self.Y[j][t] for j in range(ctx.n)] + [self.nv[t]]
            self._row(0.0, 0.0, vs, [1.0] * ctx.n + [-1.0])

    def define_manager_constraints(self) -> None:
        """The pipeline of :func:`~planner.optimise.rollout_check.manager_pool`, linear in ``n`` and ``h``."""
        ctx, s, cfg, T = self.ctx, self.s, self.ctx.cfg, self.ctx.T
        keep = 1.0 - cfg.attrition_pct / 100.0
        L, c, E = int(cfg.training_quarters), float(cfg.cadres_per_store), float(ctx.base.size)
        k = [s.NumVar(0, self.inf, f"k{t}") for t in range(T)]
        a = [s.NumVar(0, self.inf, f"a{t}") for t in range(T)]
        k[0].SetBounds(float(cfg.initial_managers), float(cfg.initial_managers))
        nv, h = self.nv, self.h
        for t in range(T):
            # a[t] = k[t] + h[t] + graduates; graduates = c * (E + n[t-L-1]) when t >= L
            vs, cs, rhs = [a[t], k[t], h[t]], [1.0, -1.0, -1.0], 0.0
            if t >= L:
                rhs = c * E
                if t - L - 1 >= 0:
                    vs.append(nv[t - L - 1])
                    cs.append(-c)
            self._row(rhs, rhs, vs, cs)
            # opened[t] = n[t] - n[t-1] <= a[t]
            vs, cs = [nv[t], a[t]], [1.0, -1.0]
            if t:
                vs.append(nv[t - 1])
                cs.append(-1.0)
            self._row(-self.inf, 0.0, vs, cs)
            if t + 1 < T:
                # k[t+1] = keep * (a[t] - n[t] + n[t-1])
                vs, cs = [k[t + 1], a[t], nv[t]], [1.0, -keep, keep]
                if t:
                    vs.append(nv[t - 1])
                    cs.append(-keep)
                self._row(0.0, 0.0, vs, cs)
        self.ready = a

    def define_budget_constraints(self) -> None:
        ctx, cfg, T = self.ctx, self.ctx.cfg, self.ctx.T
        B = cfg.capex_budget_per_quarter_cny
        if B is None:
            return
        hc = float(cfg.external_hire_cost_cny)
        cap = ctx.capex
        nz = np.flatnonzero(cap > 0)
        for t in range(T):
            if cfg.carry_over:
                # cumulative spending by the end of t <= (t + 1) B
                vs = [self.Y[j][t] for j in nz] + self.h[: t + 1]
                cs = list(cap[nz]) + [hc] * (t + 1)
            else:
                vs = [self.Y[j][t] for j in nz] + [self.h[t]]
                cs = list(cap[nz]) + [hc]
                if t:
                    vs += [self.Y[j][t - 1] for j in nz]
                    cs += list(-cap[nz])
            self._row(-self.inf, B * (t + 1) if cfg.carry_over else B, vs, cs)

    def define_province_constraints(self) -> None:
        ctx, cap = self.ctx, self.ctx.cfg.max_openings_per_province_per_quarter
        if cap is None:
            return
        for p in range(ctx.n_prov):
            mem = np.flatnonzero(ctx.prov == p)
            if mem.size <= cap:
                continue
            for t in range(ctx.T):
                vs, cs = self._opened_terms(mem, t)
                self._row(-self.inf, cap, vs, cs)

    def define_chain_constraints(self) -> None:
        """County stores of province p open by t only if ``z[p,t]``; ``K z[p,t] <=`` city stores before t."""
        ctx, K = self.ctx, self.ctx.cfg.city_stores_before_county
        if K <= 0:
            return
        for p in range(ctx.n_prov):
            if ctx.city_base[p] >= K:
                continue
            cty = np.flatnonzero((ctx.prov == p) & ctx.county)
            if cty.size == 0:
                continue
            city = np.flatnonzero((ctx.prov == p) & ~ctx.county)
            for t in range(ctx.T):
                z = (self.s.NumVar if self.relax else self.s.IntVar)(0, 1, f"z{p}_{t}")
                for j in cty:
                    self._row(-self.inf, 0.0, [self.Y[j][t], z], [1.0, -1.0])
                vs = [z] + ([self.Y[j][t - 1] for j in city] if t else [])
                self._row(-self.inf, float(ctx.city_base[p]), vs, [float(K)] + [-1.0] * (len(vs) - 1))

    def define_selection_constraints(self) -> None:
        """Joint mode: the site selection's constraints on the final network."""
        ctx, sel, last = self.ctx, self.ctx.sel, self.ctx.T - 1
        assert sel is not None
        Yl = [self.Y[j][last] for j in range(ctx.n)]
        self._row(sel.target, sel.target, Yl, [1.0] * ctx.n)
        order = np.argsort(sel.loc, kind="stable")
        bounds = np.flatnonzero(np.r_[True, np.diff(sel.loc[order]) != 0, True])
        for a0, a1 in zip(bounds[:-1], bounds[1:], strict=True):
            if a1 - a0 > 1:
                mem = order[a0:a1]
                self._row(-self.inf, 1.0, [Yl[j] for j in mem], [1.0] * mem.size)
        for a, b in zip(sel.conf_a.tolist(), sel.conf_b.tolist(), strict=True):
            self._row(-self.inf, 1.0, [Yl[a], Yl[b]], [1.0, 1.0])
        for mem, lo, hi, _ in sel.groups:
            if mem.size and (lo > 0 or (hi is not None and hi < mem.size)):
                self._row(lo, self.inf if hi is None else hi, [Yl[j] for j in mem], [1.0] * mem.size)
        if math.isfinite(sel.capex_left):
            self._row(-self.inf, sel.capex_left, Yl, sel.capex)
        if math.isfinite(sel.opex_left):
            self._row(-self.inf, sel.opex_left, Yl, sel.opex)

    def define_objective(self) -> None:
        ctx, lin, s, T = self.ctx, self.lin, self.s, self.ctx.T
        assert lin is not None
        obj = s.Objective()
        for j in range(ctx.n):
            if lin.v[j]:
                for t in range(T):
                    obj.SetCoefficient(self.Y[j][t], float(lin.v[j]))
        for wk, st in zip(lin.cov_w, lin.cov_sets, strict=True):
            for t in range(T):
                u = s.NumVar(0.0, 1.0, "")
                self._row(-self.inf, 0.0, [u] + [self.Y[j][t] for j in st], [1.0] + [-1.0] * st.size)
                obj.SetCoefficient(u, float(wk))
        for hc in lin.huff_cells:
            for t in range(T):
                th = s.NumVar(0.0, self.inf, "")
                ys = [self.Y[j][t] for j in hc.sites]
                self._row(-self.inf, 0.0, [th] + ys, [1.0] + list(-hc.single))
                for slope, icpt in hc.tangents:
                    self._row(-self.inf, icpt, [th] + ys, [1.0] + list(-slope * hc.a))
                obj.SetCoefficient(th, 1.0)
        obj.SetOffset(T * lin.const)
        obj.SetMaximization()

    # -- solve ----------------------------------------------------------------
    def solve(
        self, time_limit_s: float, hint: tuple[np.ndarray, np.ndarray] | None, threads: int,
        gap_target_pct: float = 0.01,
    ) -> _MipOut:
        ctx, s, T = self.ctx, self.s, self.ctx.T
        t0 = time.perf_counter()
        s.SetTimeLimit(max(1, int(time_limit_s * 1000)))
        s.SetNumThreads(threads)
        if hint is not None and self.backend == "SCIP":  # pywraplp's HiGHS crashes on hints (9.15)
            q, h = hint
            vs, vals = [], []
            for j in range(ctx.n):
                for t in range(T):
                    vs.append(self.Y[j][t])
                    vals.append(1.0 if 0 <= q[j] <= t else 0.0)
            vs += self.h
            vals += [float(x) for x in h]
            s.SetHint(vs, vals)
        params = pywraplp.MPSolverParameters()
        params.SetDoubleParam(params.RELATIVE_MIP_GAP, gap_target_pct / 100.0)
        st = s.Solve(params)
        secs = time.perf_counter() - t0
        if st == pywraplp.Solver.INFEASIBLE:
            return _MipOut("infeasible", None, None, None, None, secs)
        if st not in (pywraplp.Solver.OPTIMAL, pywraplp.Solver.FEASIBLE):
            # pywraplp reports no usable dual bound without a solution (HiGHS returns 0)
            return _MipOut("unknown", None, None, None, None, secs)
        Yv = np.array([[self.Y[j][t].solution_value() for t in range(T)] for j in range(ctx.n)]).reshape(ctx.n, T)
        opened = Yv > 0.5
        q = np.where(opened.any(axis=1), opened.argmax(axis=1), _NEVER).astype(np.int64)
        hires = np.array([round(v.solution_value()) for v in self.h], dtype=np.int64)
        bound = None
        if self.lin is not None:
            bound = float(s.Objective().BestBound())
            if st == pywraplp.Solver.OPTIMAL:
                bound = max(bound, float(s.Objective().Value()))  # SCIP reports the bound with its own tolerance
        val = float(s.Objective().Value()) if self.lin is not None else None
        return _MipOut("optimal" if st == pywraplp.Solver.OPTIMAL else "feasible", q, hires, bound, val, secs)


def _diagnose(ctx: _Ctx, backend: str, time_limit_s: float) -> list[str]:
    """Which constraint family, dropped alone, makes the schedule feasible (in words)."""
    names = {
        "managers": "the manager pipeline (rollout.initial_managers, rollout.cadres_per_store, "
        "rollout.training_quarters, rollout.attrition_pct, rollout.external_hires_per_quarter)",
        "budget": "the capex budget (rollout.capex_budget_per_quarter_cny, rollout.carry_over, "
        "rollout.external_hire_cost_cny)",
        "province": "the province capacity (rollout.max_openings_per_province_per_quarter)",
        "chain": "the chain of command (rollout.city_stores_before_county)",
    }
    out = []
    for name in names:
        fam = _Families(**{name: False})
        r = _Mip(ctx, None, backend, fam).solve(time_limit_s, None, 1)
        if r.status in ("optimal", "feasible"):
            out.append(f"it becomes feasible without {names[name]}")
    if not out:
        out.append("no single rollout constraint family is to blame; several bind together: " + "; ".join(names.values()))
    return out


# ========================================================================== bounds
def _quarter_bound(ctx: _Ctx, caps: np.ndarray, checkpoints: list[np.ndarray], pool: np.ndarray) -> np.ndarray:
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


# ==================================================================== orchestration
def _default_backend() -> MipBackend:
    # HiGHS solved the national two-stage case ~4x faster than SCIP (bench_rollout.py)
    return "HIGHS"


def _result(
    ctx: _Ctx, q_local: np.ndarray, hires: np.ndarray, *, bound_value: float | None, t0: float,
    methods: dict[str, str], status: str, mode: str, stats: dict[str, float],
) -> RolloutResult:
    rinst, cfg = ctx.rinst, ctx.cfg
    opened = q_local != _NEVER
    sites = np.r_[ctx.base, ctx.cand[opened]].astype(np.int64)
    quarter = np.r_[np.full(ctx.base.size, -1), q_local[opened]].astype(np.int64)
    m = quarterly_metrics(rinst, cfg, sites, quarter, hires)
    table = pd.DataFrame({c: m["columns"][c] for c in TABLE_COLUMNS})
    obj = m["objective_total"]
    value = float(m["value"].sum())
    kind = rinst.objective_kind
    bound = gap = None
    if bound_value is not None:
        bound_value = max(bound_value, value)
        if kind == "distance":  # objective = T U sum(w) - value: the value's upper bound is a lower bound
            bound = ctx.T * ctx.vm.objective(0.0) - bound_value
            gap = (obj - bound) / obj if obj > 0 else 0.0
        else:
            bound = bound_value
            gap = (bound - obj) / bound if bound > 0 else 0.0
    res = RolloutResult(
        open_sites=sites, quarter=quarter, hires=np.asarray(hires, dtype=np.int64), table=table,
        objective=obj, objective_kind=kind, bound=bound, gap=gap, seconds=time.perf_counter() - t0,
        methods=methods, status=status, mode=mode, stats=stats,
    )
    problems = check_rollout(rinst, res, cfg)
    if problems:  # our bug, not the user's
        raise RuntimeError("rollout schedule violates its constraints:\n" + "\n".join(problems))
    return res


Incumbent = tuple[np.ndarray, np.ndarray, np.ndarray, str]  # new sites (global), their quarters, hires, name


def _run(
    ctx: _Ctx, *, mode: str, time_limit_s: float, seed: int, backend: str | None, max_terms: int,
    threads: int, use_mip: bool, t0: float, pool_all: np.ndarray, caps: np.ndarray | None = None,
    incumbents: Sequence[Incumbent] = (), run_greedy: bool = True, gap_target_pct: float = 0.01,
) -> RolloutResult:
    """Greedy, bounds, MIP, verified result; ``caps`` given = the caller already checked feasibility."""
    if caps is None:
        probs = _explain_upfront(ctx)
        if probs:
            raise InfeasibleError("the rollout cannot open the planned stores within the horizon",
                                  problems=probs)
        caps = np.minimum(_max_cumulative_openings(ctx), ctx.n_required)
    backend = backend or _default_backend()
    stats: dict[str, float] = {"candidates": float(ctx.n), "required_openings": float(ctx.n_required)}
    # --- incumbents: the caller's, then greedy
    best: tuple[float, np.ndarray, np.ndarray, str] | None = None

    eval_s = [0.0]

    def offer(q: np.ndarray, hires: np.ndarray, name: str) -> None:
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
        q = np.full(ctx.n, _NEVER, dtype=np.int64)
        q[loc] = qs
        if ctx.sel is None or ctx.sel.accepts(loc):
            offer(q, hires, name)
    if run_greedy:
        scores: list[Literal["value", "ratio"]] = ["value"]
        if ctx.cfg.capex_budget_per_quarter_cny is not None:
            scores.append("ratio")
        for sc in scores:
            g = _greedy(ctx, score=sc)
            if g is not None:
                offer(g[0], g[1], f"greedy-{sc}")
    stats["greedy_s"] = time.perf_counter() - t0
    stats["incumbent_value"] = best[0] if best else math.nan
    # --- the per-quarter submodular bound (before the MIP, so the MIP gets the rest of the time)
    qb = math.inf
    if best is not None:
        checkpoints = [np.zeros(0, dtype=np.int64)] + [
            ctx.cand[(best[1] != _NEVER) & (best[1] <= t)] for t in range(ctx.T)
        ]
        qb = float(_quarter_bound(ctx, np.minimum(caps, pool_all.size), checkpoints, pool_all).sum())
    bounds = {"submodular-per-quarter": qb}
    stats["bound_submodular"] = qb
    # --- MIP
    primal = best[3] if best else "none"
    status = "feasible"
    reserve = 1.0 + 4.0 * eval_s[0]  # evaluating the MIP's plan, building and checking the result
    left = time_limit_s - (time.perf_counter() - t0) - reserve
    exact = False
    if use_mip and left > 0.5:
        tb = time.perf_counter()
        lin = _linearise(ctx, max_terms=max_terms, seed=seed)
        mip = _Mip(ctx, lin, backend, _Families())
        stats["mip_build_s"] = time.perf_counter() - tb
        stats["cov_terms"] = float(len(lin.cov_sets))
        stats["huff_cells"] = float(len(lin.huff_cells))
        stats["relaxed_terms"] = float(lin.n_relaxed)
        if ctx.sel is None or pool_all.size == ctx.n:
            # the LP relaxation: a valid bound even when the MIP finds nothing in time
            tl = time.perf_counter()
            lp = _Mip(ctx, lin, backend, _Families(), relax=True)
            lp_left = 0.3 * (time_limit_s - (time.perf_counter() - t0) - reserve)
            lp_out = lp.solve(max(lp_left, 0.5), None, threads, gap_target_pct)
            stats["lp_s"] = time.perf_counter() - tl
            if lp_out.status == "optimal" and lp_out.mip_value is not None:
                bounds[f"lp-{backend.lower()}"] = lp_out.mip_value
                stats["bound_lp"] = lp_out.mip_value
            del lp
        # HiGHS overshoots its limit by up to ~10% when a long LP is under way
        left = 0.85 * (time_limit_s - (time.perf_counter() - t0) - reserve)
        out = mip.solve(max(left, 0.5), None if best is None else (best[1], best[2]), threads, gap_target_pct)
        stats["mip_s"] = out.seconds
        logger.info("rollout MIP (%s): %s in %.1f s, bound %s", backend, out.status, out.seconds, out.bound)
        if out.status == "infeasible":
            if best is not None:  # pragma: no cover - would be a modelling bug
                raise RuntimeError("MIP says infeasible but a heuristic found a schedule")
            raise InfeasibleError(
                "no rollout schedule satisfies every constraint", problems=_diagnose(ctx, backend, time_limit_s)
            )
        if out.q is not None and out.hires is not None:
            before = best
            offer(out.q, _trim_hires(ctx, out.q, out.hires), f"mip-{backend.lower()}")
            if best is not before:
                primal = f"{primal}+mip-{backend.lower()}" if primal != "none" else best[3]  # type: ignore[index]
        if out.bound is not None and (ctx.sel is None or pool_all.size == ctx.n):
            bounds[f"mip-{backend.lower()}"] = out.bound
            stats["bound_mip"] = out.bound
        exact = out.status == "optimal" and lin.exact
        if out.status != "optimal":
            status = "time_limit"
    if best is None:
        raise InfeasibleError(
            "no rollout schedule found within the time limit (solver.time_limit_s); the constraints are "
            "tight -- raise the time limit or relax rollout.* limits",
            problems=[],
        )
    for name in [k for k, b in bounds.items() if b < best[0] * (1 - 1e-7) - 1e-7]:
        # an over-estimating model cannot bound below a schedule's true value: distrust it
        logger.warning("rollout: discarding %s bound %.6g below the incumbent %.6g", name, bounds[name], best[0])
        del bounds[name]
    bname = min(bounds, key=bounds.__getitem__)
    methods = {"primal": primal, "bound": bname}
    if bounds[bname] <= best[0] * (1 + 1e-9) + 1e-9:
        status = "optimal"
    elif exact and status != "time_limit":
        status = "feasible"  # the MIP stopped at gap_target_pct
    res = _result(ctx, best[1], best[2], bound_value=bounds[bname], t0=t0, methods=methods,
                  status=status, mode=mode, stats=stats)
    logger.info("rollout %s: objective %.6g, bound %s, gap %s, %.1f s", mode, res.objective, res.bound,
                res.gap, res.seconds)
    return res


def _schedule_value(ctx: _Ctx, q_local: np.ndarray) -> float:
    """Sum over quarters of the value of the network (value units)."""
    ok = q_local != _NEVER
    return float(ctx.vm.quarter_values(ctx.base, ctx.cand[ok], q_local[ok], ctx.T).sum())


def schedule(
    rinst: RolloutInstance,
    solution: Solution,
    cfg: RolloutConfig,
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
    cfg
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
    ctx = _make_ctx(rinst, cfg, base, cand, must_open=True, n_required=int(cand.size))
    return _run(ctx, mode="two_stage", time_limit_s=time_limit_s, seed=seed, backend=backend,
                max_terms=max_terms, threads=threads, use_mip=use_mip, t0=t0, pool_all=cand,
                gap_target_pct=gap_target_pct)


def plan_joint(
    rinst: RolloutInstance,
    cfg: RolloutConfig,
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
    (``stores`` exactly, ``forbidden``, one site per ``site_location``,
    ``conflict_*`` spacing, ``groups`` min / max, capex and opex budgets); existing
    stores stay open (closures are not scheduled).

    Parameters
    ----------
    rinst, cfg, time_limit_s, seed, backend, max_terms, threads, use_mip, gap_target_pct
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
    need = int(inst.stores) - int(base.size)
    if need < 0:
        raise InfeasibleError(
            f"constraints.total_stores = {inst.stores} is below the {base.size} existing stores "
            "(closures are not scheduled by the rollout)"
        )
    ctx = _make_ctx(rinst, cfg, base, cand_all, must_open=False, n_required=need)
    ctx.sel = _Selection(rinst, base, cand_all)
    if cand_all.size < need:
        raise InfeasibleError(
            f"only {cand_all.size} candidate sites can open but constraints.total_stores requires {need} "
            "new stores"
        )
    probs = _explain_upfront(ctx)
    if probs:
        raise InfeasibleError("the rollout cannot reach constraints.total_stores within the horizon",
                              problems=probs)
    caps = np.minimum(_max_cumulative_openings(ctx), need)
    # incumbents over all candidates: greedy, and the two-stage schedule of the hint
    incumbents: list[Incumbent] = []
    for sc in ["value"] + (["ratio"] if cfg.capex_budget_per_quarter_cny is not None else []):
        g = _greedy(ctx, score=sc)  # type: ignore[arg-type]
        if g is not None:
            ok = g[0] != _NEVER
            incumbents.append((cand_all[ok], g[0][ok], g[1], f"greedy-{sc}"))
    if hint is not None:
        hint_sites = np.union1d(np.asarray(hint.open_sites, dtype=np.int64), base)
        loc = ctx.sel.g2l[hint_sites[~pre[hint_sites]]]
        if np.all(loc >= 0) and ctx.sel.accepts(loc):
            try:
                two = schedule(
                    rinst, replace(hint, open_sites=hint_sites), cfg, seed=seed, backend=backend,
                    time_limit_s=two_stage_share * (time_limit_s - (time.perf_counter() - t0)),
                    max_terms=max_terms, threads=threads, use_mip=use_mip, gap_target_pct=gap_target_pct,
                )
                new = two.quarter >= 0
                incumbents.append((two.open_sites[new], two.quarter[new], two.hires, "two-stage"))
            except InfeasibleError as e:
                logger.info("joint rollout: the hint cannot be scheduled (%s)", e.message)
    # small instances: every candidate (then the MIP bound is valid for the joint problem)
    size = pool_size or (cand_all.size if cand_all.size * cfg.quarters <= 2_500 else max(2 * need, need + 200))
    pool = _joint_pool(ctx, size, [inc[0] for inc in incumbents])
    sub = ctx
    if pool.size < cand_all.size:
        logger.info("joint rollout: MIP on %d of %d candidates", pool.size, cand_all.size)
        sub = _make_ctx(rinst, cfg, base, pool, must_open=False, n_required=need)
        sub.sel = _Selection(rinst, base, pool)
    if sub is not ctx and pool.size * cfg.quarters > _MAX_POOL_BINARIES:
        # a MIP this size on a reduced pool neither finishes nor finds a plan in minutes
        # (bench_rollout.py, national case) and its bound would not be valid anyway
        logger.info("joint rollout: %d x %d time-indexed binaries, MIP skipped", pool.size, cfg.quarters)
        use_mip = False
    res = _run(sub, mode="joint", time_limit_s=time_limit_s, seed=seed, backend=backend,
               max_terms=max_terms, threads=threads, use_mip=use_mip, t0=t0, pool_all=cand_all,
               caps=caps, incumbents=incumbents, run_greedy=False, gap_target_pct=gap_target_pct)
    res.stats["pool"] = float(pool.size)
    return res


def _joint_pool(ctx: _Ctx, size: int, chosen_sites: list[np.ndarray]) -> np.ndarray:
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
    rinst: RolloutInstance, cfg: RolloutConfig, solution: Solution | None = None, **kw: Any
) -> RolloutResult:
    """The rollout of ``cfg.mode``: :func:`schedule` (needs ``solution``) or :func:`plan_joint`."""
    if cfg.mode == "joint":
        return plan_joint(rinst, cfg, hint=solution, **kw)
    if solution is None:
        raise ValueError("two_stage rollout needs the selected sites (solution)")
    return schedule(rinst, solution, cfg, **kw)


# ======================================================================= synthetic
def synthetic_rollout_instance(
    *,
    n_cells: int = 20_000,
    n_sites: int = 2_000,
    n_existing: int = 150,
    n_provinces: int = 31,
    cities_per_province: int = 6,
    stores: int = 1_000,
    kind: ObjectiveKind = "coverage",
    radius_km: float = 8.0,
    seed: int = 0,
) -> RolloutInstance:
    """A clustered, national-like rollout instance (illustrative, for tests and benchmarks).

    Cells gather around city centres inside province boxes; sites are drawn from
    cells (a site farther than 15 km from its city centre is a county store);
    ``n_existing`` of the sites nearest city centres are existing stores. Capex
    is 3 M CNY for city sites, 1.5 M for county sites; opex half of that a year.
    """
    from scipy.spatial import cKDTree

    rng = np.random.default_rng(seed)
    side = int(math.ceil(math.sqrt(n_provinces)))
    prov_xy = np.stack(np.divmod(np.arange(n_provinces), side), axis=1) * 400.0 + 200.0
    n_cities = n_provinces * cities_per_province
    city_prov = np.repeat(np.arange(n_provinces), cities_per_province)
    city_xy = prov_xy[city_prov] + rng.uniform(-170, 170, size=(n_cities, 2))
    city_size = rng.lognormal(0.0, 1.0, n_cities)
    cell_city = rng.choice(n_cities, size=n_cells, p=city_size / city_size.sum())
    spread = rng.exponential(12.0, n_cells)
    ang = rng.uniform(0, 2 * np.pi, n_cells)
    cell_xy = city_xy[cell_city] + np.stack([np.cos(ang), np.sin(ang)], axis=1) * spread[:, None]
    weight = rng.lognormal(8.0, 1.0, n_cells) * np.exp(-spread / 25.0)
    site_cell = rng.choice(n_cells, size=n_sites, replace=False, p=weight / weight.sum())
    site_xy = cell_xy[site_cell]
    site_dist = np.linalg.norm(site_xy - city_xy[cell_city[site_cell]], axis=1)
    county = site_dist > 15.0
    tree_s, tree_c = cKDTree(site_xy), cKDTree(cell_xy)
    reach = 3.0 * radius_km if kind != "coverage" else radius_km
    nb = tree_s.query_ball_tree(tree_c, r=reach)
    lens = np.fromiter((len(x) for x in nb), dtype=np.int64, count=n_sites)
    pair_site = np.repeat(np.arange(n_sites), lens).astype(np.int32)
    pair_cell = np.concatenate([np.sort(np.asarray(x, dtype=np.int64)) for x in nb]).astype(np.int32)
    pair_km = np.linalg.norm(site_xy[pair_site] - cell_xy[pair_cell], axis=1)
    existing = np.sort(np.argsort(site_dist + rng.uniform(0, 5, n_sites))[:n_existing])
    capex = np.where(county, 1.5e6, 3.0e6)
    capex[existing] = 0.0
    pull = None
    if kind == "market_share":
        pull = rng.uniform(0.2, 2.0, n_cells) * np.exp(-spread / 30.0)
    inst = Instance(
        weight=weight, pair_cell=pair_cell, pair_site=pair_site, pair_km=pair_km, n_sites=n_sites,
        stores=stores, radius_km=np.full(n_sites, radius_km), competitor_pull=pull,
        fixed=existing.astype(np.int64), capex_cny=capex, opex_cny=np.where(county, 0.75e6, 1.5e6),
    )
    return RolloutInstance(
        instance=inst, site_province=city_prov[cell_city[site_cell]], site_is_county=county,
        objective_kind=kind, cell_population=weight / 10.0,
        province_names=[f"P{p:02d}" for p in range(n_provinces)],
    )


def greedy_selection(rinst: RolloutInstance, stores: int | None = None) -> Solution:
    """Plain lazy-greedy site selection (existing stores kept), for tests and benchmarks only.

    The real selection is :func:`planner.optimise.solve.solve`; this stands in
    for it so the rollout can be exercised on its own.
    """
    inst = rinst.instance
    vm = rinst.value_model()
    pre = rinst.preopen_mask()
    base = np.flatnonzero(pre)
    stores = inst.stores if stores is None else stores
    state = vm.state_of(base)
    cand = np.flatnonzero(~pre)
    gains = vm.gains(state, cand)
    heap = [(-g, int(j)) for g, j in zip(gains, cand, strict=True)]
    heapq.heapify(heap)
    chosen: list[int] = []
    while heap and base.size + len(chosen) < stores:
        _, j = heapq.heappop(heap)
        g = vm.gain(state, j)
        if heap and g < -heap[0][0] - 1e-12:
            heapq.heappush(heap, (-g, j))
            continue
        chosen.append(j)
        vm.add(state, j)
    sites = np.sort(np.r_[base, np.asarray(chosen, dtype=np.int64)])
    return Solution(open_sites=sites, objective=vm.objective(vm.total(state)), objective_kind=rinst.objective_kind)
