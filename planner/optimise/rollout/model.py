"""The solvers' value model and manager pool: what a schedule is worth, and who can staff it.

:class:`NetworkValue` turns every objective into a monotone submodular *value to
maximise* of the open network, with per-cell states so that adding a site and
its marginal gain are cheap (the greedy, the linearisation and the bounds all
read it). :func:`manager_pool` runs the store-manager pipeline quarter by
quarter. :func:`quarter_table` gives the per-quarter figures a result reports.
The checker :mod:`planner.optimise.rollout_check` recomputes all of this with
code of its own, so a bug here is caught there.
"""

# The model notation (T quarters, L training lag, E existing stores) is kept in code
# so it reads like the docstrings.
# ruff: noqa: N806

from __future__ import annotations

import numpy as np
import pandas as pd

from planner.optimise.command_types import CommandParams
from planner.optimise.model import decay_value, huff
from planner.optimise.rollout.types import (
    TABLE_COLUMNS,
    CommandPool,
    ManagerPool,
    RolloutInstance,
    RolloutParams,
    quarter_labels,
)
from planner.optimise.types import Instance, ObjectiveKind

__all__ = ["NetworkValue", "value_model", "quarter_cash", "manager_pool", "command_pool", "area_formation", "quarter_table"]


# ----------------------------------------------------------------- network value
class NetworkValue:
    """The value of an open network and of adding one site to it, cell by cell.

    Every objective is turned into a *value to maximise* that is monotone and
    submodular in the open set:

    - ``coverage``: ``sum_i w_i * max_open_j f_ij`` (decay ``f`` as in
      :class:`~planner.optimise.types.Instance`); state = best ``f`` per cell;
    - ``distance``: savings ``sum_i w_i * max_open_j (U - min(U, d_ij))``, so the
      distance objective is ``U * sum(w) - value``; state = best saving per cell;
    - ``market_share``: ``sum_i w_i * S_i / (S_i + C_i)``, ``S_i = sum_open a_ij``
      (``a_ij = attr_j (1 + d_ij)^-beta``); state = ``S_i``;
    - ``profit``: the market share above (the captured weight); the rollout's money
      (margin, costs, discount, ramp) is linear on top of it
      (:mod:`planner.optimise.rollout.npv`).

    Parameters
    ----------
    inst
        The site-selection instance.
    kind
        Which objective.
    """

    def __init__(self, inst: Instance, kind: ObjectiveKind) -> None:
        self.inst = inst
        self.kind = kind
        self.max_family = kind in ("coverage", "distance")
        order = np.lexsort((inst.pair_cell, inst.pair_site))
        self.pcell = np.asarray(inst.pair_cell, dtype=np.int64)[order]
        self.psite = np.asarray(inst.pair_site, dtype=np.int64)[order]
        d = np.asarray(inst.pair_km, dtype=float)[order]
        self.w = np.asarray(inst.weight, dtype=float)
        self.indptr = np.searchsorted(self.psite, np.arange(inst.n_sites + 1))
        if kind == "coverage":
            r = np.asarray(inst.radius_km, dtype=float)
            r = np.broadcast_to(r, (inst.n_sites,))[self.psite]
            f = decay_value(d, r, inst.decay)
        elif kind == "distance":
            u = float(inst.unreachable_km)
            f = u - np.minimum(u, d)
        else:
            attr = np.ones(inst.n_sites) if inst.site_attr is None else np.asarray(inst.site_attr, float)
            f = attr[self.psite] * (1.0 + d) ** (-float(inst.beta))
        self.f = f
        pull = inst.competitor_pull
        self.pull = np.zeros(inst.n_cells) if pull is None else np.asarray(pull, dtype=float)

    # -- state ----------------------------------------------------------------
    def empty_state(self) -> np.ndarray:
        """Per-cell state of an empty network."""
        return np.zeros(self.inst.n_cells)

    def add(self, state: np.ndarray, sites: np.ndarray | list[int] | int) -> None:
        """Open ``sites`` in ``state`` (in place)."""
        sl = self.pair_index(np.atleast_1d(np.asarray(sites, dtype=np.int64)))
        if self.max_family:
            np.maximum.at(state, self.pcell[sl], self.f[sl])
        else:
            np.add.at(state, self.pcell[sl], self.f[sl])

    def state_of(self, sites: np.ndarray) -> np.ndarray:
        """State of the network ``sites``."""
        s = self.empty_state()
        self.add(s, sites)
        return s

    def phi(self, x: np.ndarray, cells: np.ndarray | slice = slice(None)) -> np.ndarray:
        """Value per cell of state ``x`` (weighted)."""
        w = self.w[cells]
        if self.max_family:
            return np.asarray(w * x)
        # C = 0 cells count fully once reached (0/0 counts 0)
        return np.asarray(w * huff(x, self.pull[cells]))

    def total(self, state: np.ndarray) -> float:
        """Value of the network in ``state``."""
        return float(self.phi(state).sum())

    def site_shares(self, state: np.ndarray, sites: np.ndarray) -> np.ndarray:
        """Market share: the weight each open site of ``sites`` captures in ``state`` (float[len(sites)]).

        ``sum_i w_i a_ij / (S_i + C_i)`` (a cell without competitors goes to its own
        stores in proportion to their strengths); the sum over the open network is
        :meth:`total`.
        """
        sites = np.asarray(sites, dtype=np.int64)
        sl = self.pair_index(sites)
        cells = self.pcell[sl]
        den = state[cells] + self.pull[cells]
        num = self.w[cells] * self.f[sl]
        g = np.divide(num, den, out=np.zeros_like(num), where=den > 0)
        owner = np.repeat(np.arange(sites.size), self.indptr[sites + 1] - self.indptr[sites])
        return np.bincount(owner, weights=g, minlength=sites.size)

    def objective(self, value: float) -> float:
        """The instance objective (as the scenario reports it) for a value."""
        if self.kind == "distance":
            return float(self.inst.unreachable_km) * float(self.w.sum()) - value
        return value

    # -- marginal values --------------------------------------------------------
    def pair_index(self, sites: np.ndarray) -> np.ndarray:
        """Indices into ``pcell`` / ``psite`` / ``f`` of every pair of ``sites`` (site order)."""
        if sites.size == 0:
            return np.zeros(0, dtype=np.int64)
        starts, ends = self.indptr[sites], self.indptr[sites + 1]
        lens = ends - starts
        if lens.sum() == 0:
            return np.zeros(0, dtype=np.int64)
        offs = np.repeat(starts - np.cumsum(lens) + lens, lens)
        return np.asarray(offs + np.arange(lens.sum()), dtype=np.int64)

    def gains(self, state: np.ndarray, sites: np.ndarray) -> np.ndarray:
        """Marginal value of adding each of ``sites`` alone to ``state`` (float[len(sites)])."""
        sites = np.asarray(sites, dtype=np.int64)
        sl = self.pair_index(sites)
        cells = self.pcell[sl]
        cur = state[cells]
        if self.max_family:
            g = self.w[cells] * np.maximum(0.0, self.f[sl] - cur)
        else:
            g = self.phi(cur + self.f[sl], cells) - self.phi(cur, cells)
        owner = np.repeat(np.arange(sites.size), self.indptr[sites + 1] - self.indptr[sites])
        return np.bincount(owner, weights=g, minlength=sites.size)

    def gain(self, state: np.ndarray, j: int) -> float:
        """Marginal value of adding site ``j`` to ``state``."""
        a, b = self.indptr[j], self.indptr[j + 1]
        cells = self.pcell[a:b]
        cur = state[cells]
        if self.max_family:
            return float((self.w[cells] * np.maximum(0.0, self.f[a:b] - cur)).sum())
        return float((self.phi(cur + self.f[a:b], cells) - self.phi(cur, cells)).sum())

    def quarter_values(
        self, base: np.ndarray, sites: np.ndarray, quarter: np.ndarray, quarters: int
    ) -> np.ndarray:
        """Value of the network open at the end of each quarter (float[quarters]).

        ``base`` are the sites open before quarter 0, ``sites[k]`` opens in
        ``quarter[k]`` (values outside ``0..quarters-1`` never open).
        """
        state = self.state_of(base)
        out = np.zeros(quarters)
        for t in range(quarters):
            self.add(state, sites[quarter == t])
            out[t] = self.total(state)
        return out


def value_model(rinst: RolloutInstance, kind: ObjectiveKind | None = None) -> NetworkValue:
    """The :class:`NetworkValue` of ``kind`` (default the scenario's), built once per instance."""
    kind = kind or rinst.objective_kind
    if kind not in rinst.cache:
        rinst.cache[kind] = NetworkValue(rinst.instance, kind)
    vm: NetworkValue = rinst.cache[kind]
    return vm


def _ramp(age: np.ndarray, ramp: int) -> np.ndarray:
    """Ramp factor of stores ``age`` quarters after opening (0 = opening quarter)."""
    if ramp <= 1:
        return np.ones(age.shape)
    return np.asarray(np.minimum(1.0, (age + 1.0) / ramp), dtype=float)


def quarter_cash(
    rinst: RolloutInstance, quarters: int, base: np.ndarray, sites: np.ndarray, quarter: np.ndarray
) -> np.ndarray:
    """``profit``: discounted cash of each quarter (float[quarters], CNY); their sum is the NPV.

    The formula is in :mod:`planner.optimise.rollout.npv`.

    ``base`` are open before quarter 0 (mature, no capex); ``sites[k]`` opens in
    ``quarter[k]`` (outside ``0..quarters-1`` = never).
    """
    T = int(quarters)
    vm = value_model(rinst)
    m = rinst.profit_margin()
    d = rinst.discount(T)
    R = int(rinst.ramp_quarters)
    capex, opex = rinst.site_capex(), rinst.site_opex()
    base = np.asarray(base, dtype=np.int64)
    sites = np.asarray(sites, dtype=np.int64)
    quarter = np.asarray(quarter, dtype=np.int64)
    every = np.r_[base, sites]
    q_all = np.r_[np.full(base.size, -1, dtype=np.int64), quarter]
    state = vm.state_of(base)
    out = np.zeros(T)
    for t in range(T):
        now = sites[quarter == t]
        vm.add(state, now)
        live = (q_all <= t) & (q_all >= -1)
        s = vm.site_shares(state, every[live])
        age = t - q_all[live]
        rho = np.where(q_all[live] < 0, 1.0, _ramp(age, R))
        out[t] = d[t] * (m * float(np.sum(rho * s)) - float(opex[every[live]].sum())) / 4.0 - d[t] * float(
            capex[now].sum()
        )
    return out


# ------------------------------------------------------------------ manager pool
def manager_pool(
    params: RolloutParams, n_existing: int, opened: np.ndarray, hires: np.ndarray,
    promotions: np.ndarray | None = None,
) -> ManagerPool:
    """The manager pool from openings and hires per quarter.

    Parameters
    ----------
    params
        The rollout parameters (``initial_managers``, ``cadres_per_store``,
        ``training_quarters``, ``attrition_pct``).
    n_existing
        Stores open before the first quarter (they train cadres too).
    opened, hires
        int[T] openings and external hires per quarter.
    promotions
        int[T] store managers promoted to area manager per quarter (each is
        replaced from the pool like an opening); None = none.

    Returns
    -------
    ManagerPool
        ``ready[t]`` is what bounds ``opened[t] + promotions[t]``.
    """
    T = len(opened)
    prom = np.zeros(T) if promotions is None else np.asarray(promotions, dtype=float)
    keep = 1.0 - params.attrition_pct / 100.0
    L = int(params.training_quarters)
    ready = np.zeros(T)
    started = np.zeros(T)
    graduated = np.zeros(T)
    trainees = np.zeros(T)
    carried = np.zeros(T)
    k = float(params.initial_managers)
    n_prev = float(n_existing)
    for t in range(T):
        started[t] = params.cadres_per_store * n_prev
        graduated[t] = started[t - L] if t >= L else 0.0
        carried[t] = k
        ready[t] = k + graduated[t] + float(hires[t])
        trainees[t] = started[max(0, t - L + 1) : t + 1].sum() if L > 0 else 0.0
        k = keep * (ready[t] - float(opened[t]) - prom[t])
        n_prev += float(opened[t])
    return ManagerPool(ready, started, graduated, trainees, carried)


def area_formation(site_area: np.ndarray, open_sites: np.ndarray, quarter: np.ndarray, quarters: int) -> np.ndarray:
    """Per area, the quarter it is formed: that of its first store (-1 = before the horizon, ``quarters`` = never)."""
    area = np.asarray(site_area, dtype=np.int64)[np.asarray(open_sites, dtype=np.int64)]
    n_areas = int(np.asarray(site_area).max()) + 1 if np.asarray(site_area).size else 0
    formed = np.full(max(n_areas, 0), quarters, dtype=np.int64)
    ok = area >= 0
    np.minimum.at(formed, area[ok], np.asarray(quarter, dtype=np.int64)[ok])
    return formed


def command_pool(
    cmd: CommandParams, n_existing: int, opened: np.ndarray, promotions: np.ndarray, area_hires: np.ndarray,
    formed_quarter: np.ndarray,
) -> CommandPool:
    """The area-manager pool from openings, promotions, area hires and the areas' formation quarters.

    A store manager is eligible for promotion ``promotion_after_quarters`` after
    taking a store (managers of stores open before the horizon are eligible from
    the start; the replacement of a promoted manager starts at zero); an area
    needs a ready area manager from the quarter it is formed.
    """
    T = len(opened)
    P = int(cmd.promotion_after_quarters)
    prom = np.asarray(promotions, dtype=float)
    took = np.asarray(opened, dtype=float) + prom  # store managers who took a store in t
    eligible = np.zeros(T)
    for t in range(T):
        eligible[t] = n_existing + took[: max(t - P + 1, 0)].sum() - prom[:t].sum()
    fq = np.asarray(formed_quarter, dtype=np.int64)
    before = int(np.sum(fq < 0))
    formed = np.bincount(fq[(fq >= 0) & (fq < T)], minlength=T)[:T]
    a0 = before if cmd.initial_area_managers is None else int(cmd.initial_area_managers)
    area_ready = a0 + np.cumsum(prom + np.asarray(area_hires, dtype=float))
    return CommandPool(eligible=eligible, area_ready=area_ready, areas=before + np.cumsum(formed), formed=formed)


# ---------------------------------------------------------------- quarter table
def quarter_table(
    rinst: RolloutInstance, params: RolloutParams, open_sites: np.ndarray, quarter: np.ndarray,
    hires: np.ndarray, promotions: np.ndarray | None = None, area_hires: np.ndarray | None = None,
) -> tuple[pd.DataFrame, float, np.ndarray]:
    """Every per-quarter figure of a schedule, as a result reports it.

    Parameters
    ----------
    rinst
        The rollout instance.
    params
        The rollout parameters.
    open_sites, quarter
        Open sites and their opening quarter (-1 = open before the horizon).
    hires
        int[T] external hires per quarter.
    promotions, area_hires
        int[T] promotions to area manager and area managers hired per quarter (None = none).

    Returns
    -------
    table, objective_total, value
        The table (:data:`~planner.optimise.rollout.types.TABLE_COLUMNS`), the sum
        of its ``objective`` column, and float[T] the value to maximise per quarter.
    """
    inst = rinst.instance
    T = int(params.quarters)
    open_sites = np.asarray(open_sites, dtype=np.int64)
    quarter = np.asarray(quarter, dtype=np.int64)
    existing = open_sites[quarter < 0]
    new = open_sites[quarter >= 0]
    qn = quarter[quarter >= 0]
    opened = np.bincount(qn, minlength=T)[:T]
    prom = np.zeros(T, dtype=np.int64) if promotions is None else np.asarray(promotions, dtype=np.int64)
    ahire = np.zeros(T, dtype=np.int64) if area_hires is None else np.asarray(area_hires, dtype=np.int64)
    pool = manager_pool(params, len(existing), opened, hires, prom)
    if rinst.commanded:
        assert rinst.command is not None and rinst.site_area is not None
        fq = area_formation(rinst.site_area, open_sites, quarter, T)
        cpool = command_pool(rinst.command, len(existing), opened, prom, ahire, fq)
        area_ready, areas = cpool.area_ready, cpool.areas
    else:
        area_ready, areas = np.zeros(T), np.zeros(T, dtype=np.int64)
    capex = rinst.site_capex()[new]
    opex = rinst.site_opex()
    capex_q = np.bincount(qn, weights=capex, minlength=T)[:T]
    spend = capex_q + np.asarray(hires, float) * params.external_hire_cost_cny
    open_total = len(existing) + np.cumsum(opened)
    opex_q = np.array(
        [opex[existing].sum() + opex[new[qn <= t]].sum() for t in range(T)]
    ) / 4.0
    vm = value_model(rinst)
    if rinst.objective_kind == "profit":  # the value is the NPV itself, quarter by quarter (CNY)
        value = quarter_cash(rinst, T, existing, new, qn)
    else:
        value = vm.quarter_values(existing, new, qn, T)
    objective = np.array([vm.objective(v) for v in value])
    # covered population: step coverage within each site's radius, whatever the objective
    pop = rinst.population()
    r = np.broadcast_to(np.asarray(inst.radius_km, dtype=float), (inst.n_sites,))
    site_q = np.full(inst.n_sites, T, dtype=np.int64)
    site_q[existing] = -1
    site_q[new] = qn
    within = np.asarray(inst.pair_km) <= r[inst.pair_site]
    pq = site_q[inst.pair_site]
    first = np.full(inst.n_cells, T, dtype=np.int64)
    np.minimum.at(first, np.asarray(inst.pair_cell)[within], pq[within])
    covered = np.array([pop[first <= t].sum() for t in range(T)])
    if inst.competitor_pull is not None and np.any(np.asarray(inst.competitor_pull) > 0):
        share_model = vm if vm.kind == "market_share" else value_model(rinst, "market_share")
        share_val = value if share_model is vm else share_model.quarter_values(existing, new, qn, T)
        share = share_val / max(float(share_model.w.sum()), 1e-300)
    else:
        share = np.full(T, np.nan)
    columns = {
        "quarter": np.array(quarter_labels(params.start_quarter, T)),
        "opened": opened.astype(np.int64),
        "open_total": open_total.astype(np.int64),
        "managers_ready": pool.ready,
        "trainees": pool.trainees,
        "capex_cny": spend,
        "opex_cny": opex_q,
        "objective": objective,
        "covered_population": covered,
        "market_share": share,
        "area_managers_ready": area_ready,
        "areas": np.asarray(areas, dtype=np.int64),
        "promotions": prom,
    }
    table = pd.DataFrame({c: columns[c] for c in TABLE_COLUMNS})
    return table, float(objective.sum()), value
