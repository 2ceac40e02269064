"""Solver-independent recomputation and validation of a rollout schedule.

A rollout says in which quarter each new store opens (and how many external
managers are hired per quarter). This module recomputes everything that follows
from that schedule alone -- the store-manager pool quarter by quarter, the
network's value in every quarter, capex, opex, covered population, market share
-- and :func:`check_rollout` compares it with every rollout constraint and with
the figures the solver reported. The solvers in :mod:`planner.optimise.rollout`
use the same functions (:func:`manager_pool`, :class:`NetworkValue`) so there is
one definition of the pool dynamics and of the objective, not two.

Manager pool (quarters ``t = 0..T-1``; ``E`` stores open before quarter 0):

- ``N[t]`` stores open at the end of quarter ``t`` (``N[-1] = E``);
- ``started[t] = cadres_per_store * N[t-1]`` trainees start in quarter ``t``;
- ``graduated[t] = started[t - training_quarters]`` (0 before that) become ready
  managers at the start of quarter ``t``;
- ``ready[t] = carried[t] + graduated[t] + hires[t]``: managers available in
  quarter ``t``; ``carried[0] = initial_managers``;
- ``opened[t] <= ready[t]`` (each opening takes one ready manager);
- ``carried[t+1] = (1 - attrition_pct / 100) * (ready[t] - opened[t])``: the
  managers left without a store lose ``attrition_pct`` per quarter.

Trainees and managers are expected values (fractional); openings are integers,
so ``opened[t] <= ready[t]`` means ``opened[t] <= floor(ready[t])``.
"""

# The model notation (T quarters, B budget, L training lag, E existing stores, Y[j, t])
# is kept in code so it reads like the docstrings.
# ruff: noqa: N802, N806

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from planner.optimise.types import Instance, ObjectiveKind

if TYPE_CHECKING:  # pragma: no cover
    from planner.config.models import RolloutConfig
    from planner.optimise.rollout import RolloutInstance, RolloutResult

__all__ = [
    "TOL",
    "NetworkValue",
    "ManagerPool",
    "manager_pool",
    "quarter_labels",
    "quarterly_metrics",
    "check_rollout",
    "TABLE_COLUMNS",
]

#: Absolute tolerance on managers and money (fractional pool, float sums).
TOL = 1e-6

#: Columns of the per-quarter table, in order (``rollout.csv``).
TABLE_COLUMNS: tuple[str, ...] = (
    "quarter",
    "opened",
    "open_total",
    "managers_ready",
    "trainees",
    "capex_cny",
    "opex_cny",
    "objective",
    "covered_population",
    "market_share",
)


def quarter_labels(start_quarter: str, quarters: int) -> list[str]:
    """Labels ``YYYYQn`` of ``quarters`` consecutive quarters from ``start_quarter``.

    >>> quarter_labels("2027Q3", 3)
    ['2027Q3', '2027Q4', '2028Q1']
    """
    year, q = int(start_quarter[:4]), int(start_quarter[5]) - 1
    return [f"{year + (q + t) // 4}Q{(q + t) % 4 + 1}" for t in range(quarters)]


# ------------------------------------------------------------------ manager pool
@dataclass
class ManagerPool:
    """The manager pool over the horizon (float[T] each, expected head counts)."""

    ready: np.ndarray  # available in quarter t, before openings
    started: np.ndarray  # trainees started in quarter t
    graduated: np.ndarray  # trainees who became ready at the start of t
    trainees: np.ndarray  # trainees in training during quarter t (started, not graduated)
    carried: np.ndarray  # ready managers carried into t (after attrition)


def manager_pool(
    cfg: RolloutConfig, n_existing: int, opened: np.ndarray, hires: np.ndarray
) -> ManagerPool:
    """Recompute the manager pool from openings and hires per quarter.

    Parameters
    ----------
    cfg
        The rollout section (``initial_managers``, ``cadres_per_store``,
        ``training_quarters``, ``attrition_pct``).
    n_existing
        Stores open before the first quarter (they train cadres too).
    opened, hires
        int[T] openings and external hires per quarter.

    Returns
    -------
    ManagerPool
        ``ready[t]`` is what bounds ``opened[t]``.
    """
    T = len(opened)
    keep = 1.0 - cfg.attrition_pct / 100.0
    L = int(cfg.training_quarters)
    ready = np.zeros(T)
    started = np.zeros(T)
    graduated = np.zeros(T)
    trainees = np.zeros(T)
    carried = np.zeros(T)
    k = float(cfg.initial_managers)
    n_prev = float(n_existing)
    for t in range(T):
        started[t] = cfg.cadres_per_store * n_prev
        graduated[t] = started[t - L] if t >= L else 0.0
        carried[t] = k
        ready[t] = k + graduated[t] + float(hires[t])
        trainees[t] = started[max(0, t - L + 1) : t + 1].sum() if L > 0 else 0.0
        k = keep * (ready[t] - float(opened[t]))
        n_prev += float(opened[t])
    return ManagerPool(ready, started, graduated, trainees, carried)


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
      (``a_ij = attr_j (1 + d_ij)^-beta``); state = ``S_i``.

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
            if inst.decay == "step":
                f = (d <= r).astype(float)
            elif inst.decay == "linear":
                f = np.maximum(0.0, 1.0 - d / r)
            else:
                f = np.exp(-d / r) * (d <= 3.0 * r)
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
        sl = self._pair_index(np.atleast_1d(np.asarray(sites, dtype=np.int64)))
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
            return w * x
        c = self.pull[cells]
        den = x + c
        # C = 0 cells count fully once reached (0/0 counts 0)
        return w * np.divide(x, den, out=np.zeros_like(x, dtype=float), where=den > 0)

    def total(self, state: np.ndarray) -> float:
        """Value of the network in ``state``."""
        return float(self.phi(state).sum())

    def objective(self, value: float) -> float:
        """The instance objective (as the scenario reports it) for a value."""
        if self.kind == "distance":
            return float(self.inst.unreachable_km) * float(self.w.sum()) - value
        return value

    # -- marginal values --------------------------------------------------------
    def _pair_index(self, sites: np.ndarray) -> np.ndarray:
        if sites.size == 0:
            return np.zeros(0, dtype=np.int64)
        starts, ends = self.indptr[sites], self.indptr[sites + 1]
        lens = ends - starts
        if lens.sum() == 0:
            return np.zeros(0, dtype=np.int64)
        offs = np.repeat(starts - np.cumsum(lens) + lens, lens)
        return offs + np.arange(lens.sum())

    def gains(self, state: np.ndarray, sites: np.ndarray) -> np.ndarray:
        """Marginal value of adding each of ``sites`` alone to ``state`` (float[len(sites)])."""
        sites = np.asarray(sites, dtype=np.int64)
        sl = self._pair_index(sites)
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


# ---------------------------------------------------------------- quarter table
def quarterly_metrics(
    rinst: RolloutInstance, cfg: RolloutConfig, open_sites: np.ndarray, quarter: np.ndarray, hires: np.ndarray
) -> dict[str, Any]:
    """Recompute every per-quarter figure of a schedule.

    Parameters
    ----------
    rinst
        The rollout instance.
    cfg
        The rollout section.
    open_sites, quarter
        Open sites and their opening quarter (-1 = open before the horizon).
    hires
        int[T] external hires per quarter.

    Returns
    -------
    dict
        ``columns`` (dict of arrays, :data:`TABLE_COLUMNS`), ``pool``
        (:class:`ManagerPool`), ``spend_cny`` (capex + hiring per quarter),
        ``value`` (float[T] value to maximise) and ``objective_total``.
    """
    inst = rinst.instance
    T = int(cfg.quarters)
    open_sites = np.asarray(open_sites, dtype=np.int64)
    quarter = np.asarray(quarter, dtype=np.int64)
    existing = open_sites[quarter < 0]
    new = open_sites[quarter >= 0]
    qn = quarter[quarter >= 0]
    opened = np.bincount(qn, minlength=T)[:T]
    pool = manager_pool(cfg, len(existing), opened, hires)
    capex = rinst.site_capex()[new]
    opex = rinst.site_opex()
    capex_q = np.bincount(qn, weights=capex, minlength=T)[:T]
    spend = capex_q + np.asarray(hires, float) * cfg.external_hire_cost_cny
    open_total = len(existing) + np.cumsum(opened)
    opex_q = np.array(
        [opex[existing].sum() + opex[new[qn <= t]].sum() for t in range(T)]
    ) / 4.0
    value_model = rinst.value_model()
    value = value_model.quarter_values(existing, new, qn, T)
    objective = np.array([value_model.objective(v) for v in value])
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
        share_model = value_model if value_model.kind == "market_share" else rinst.value_model("market_share")
        share_val = (
            value if share_model is value_model else share_model.quarter_values(existing, new, qn, T)
        )
        share = share_val / max(float(share_model.w.sum()), 1e-300)
    else:
        share = np.full(T, np.nan)
    columns = {
        "quarter": np.array(quarter_labels(cfg.start_quarter, T)),
        "opened": opened.astype(np.int64),
        "open_total": open_total.astype(np.int64),
        "managers_ready": pool.ready,
        "trainees": pool.trainees,
        "capex_cny": spend,
        "opex_cny": opex_q,
        "objective": objective,
        "covered_population": covered,
        "market_share": share,
    }
    return {
        "columns": columns,
        "pool": pool,
        "spend_cny": spend,
        "value": value,
        "objective_total": float(objective.sum()),
    }


# ---------------------------------------------------------------------- checker
def check_rollout(rinst: RolloutInstance, result: RolloutResult, cfg: RolloutConfig) -> list[str]:
    """Every rollout constraint, verified quarter by quarter from the result alone.

    Parameters
    ----------
    rinst
        The rollout instance.
    result
        A schedule (``open_sites``, ``quarter``, ``hires``, ``table``, ``objective``).
    cfg
        The rollout section the schedule was made for.

    Returns
    -------
    list of str
        One sentence per violation, empty when the schedule is valid.
    """
    out: list[str] = []
    inst = rinst.instance
    T = int(cfg.quarters)
    sites = np.asarray(result.open_sites, dtype=np.int64)
    q = np.asarray(result.quarter, dtype=np.int64)
    hires = np.asarray(result.hires, dtype=np.int64)
    if sites.shape != q.shape:
        return [f"open_sites ({sites.shape}) and quarter ({q.shape}) differ in shape"]
    if hires.shape != (T,):
        return [f"hires has shape {hires.shape}, expected ({T},)"]
    if sites.size and (sites.min() < 0 or sites.max() >= inst.n_sites):
        return ["open_sites holds indices outside 0..n_sites-1"]
    if np.unique(sites).size != sites.size:
        out.append("a site is scheduled more than once")
    bad_q = (q < -1) | (q >= T)
    if bad_q.any():
        out.append(f"{int(bad_q.sum())} sites have a quarter outside -1..{T - 1}")
        return out
    pre = rinst.preopen_mask()
    is_pre = pre[sites]
    if np.any(is_pre & (q >= 0)):
        out.append(f"{int((is_pre & (q >= 0)).sum())} existing stores are given an opening quarter")
    if np.any(~is_pre & (q < 0)):
        out.append(f"{int((~is_pre & (q < 0)).sum())} new stores are marked as already open (-1)")
    if np.any((hires < 0) | (hires > cfg.external_hires_per_quarter)):
        out.append(
            f"external hires {hires.tolist()} outside 0..rollout.external_hires_per_quarter="
            f"{cfg.external_hires_per_quarter}"
        )
    m = quarterly_metrics(rinst, cfg, sites, q, hires)
    cols, pool = m["columns"], m["pool"]
    labels = cols["quarter"]
    opened = cols["opened"]
    for t in range(T):
        if opened[t] > pool.ready[t] + TOL:
            out.append(
                f"{labels[t]}: {opened[t]} openings but only {pool.ready[t]:.3f} ready managers"
            )
    budget = cfg.capex_budget_per_quarter_cny
    if budget is not None:
        spend = m["spend_cny"]
        if cfg.carry_over:
            cum = np.cumsum(spend) - budget * np.arange(1, T + 1)
            for t in np.flatnonzero(cum > TOL * max(1.0, budget)).tolist():
                out.append(
                    f"{labels[t]}: cumulative spending exceeds rollout.capex_budget_per_quarter_cny "
                    f"× {t + 1} by {cum[t]:,.0f} CNY"
                )
        else:
            for t in np.flatnonzero(spend > budget * (1 + TOL)).tolist():
                out.append(f"{labels[t]}: spending {spend[t]:,.0f} > budget {budget:,.0f} CNY")
    new_mask = q >= 0
    prov = np.asarray(rinst.site_province, dtype=np.int64)
    county = np.asarray(rinst.site_is_county, dtype=bool)
    cap = cfg.max_openings_per_province_per_quarter
    if cap is not None and new_mask.any():
        n_prov = int(prov.max()) + 1
        per = np.zeros((n_prov, T), dtype=np.int64)
        np.add.at(per, (prov[sites[new_mask]], q[new_mask]), 1)
        for p, t in zip(*np.nonzero(per > cap), strict=True):
            out.append(
                f"{labels[t]}: province {rinst.province_label(p)} opens {per[p, t]} stores "
                f"> rollout.max_openings_per_province_per_quarter={cap}"
            )
    need = cfg.city_stores_before_county
    if need > 0 and new_mask.any():
        n_prov = int(prov.max()) + 1
        city_before = np.zeros((n_prov, T + 1), dtype=np.int64)  # city stores open before quarter t
        city = ~county[sites]
        qq = np.where(q < 0, 0, q + 1)  # the quarter from whose start the store counts
        np.add.at(city_before, (prov[sites[city]], qq[city]), 1)
        city_before = np.cumsum(city_before, axis=1)
        cs = new_mask & county[sites]
        for j, t in zip(sites[cs], q[cs], strict=True):
            p = prov[j]
            if city_before[p, t] < need:
                out.append(
                    f"{labels[t]}: county store {j} opens in province {rinst.province_label(p)} with "
                    f"{city_before[p, t]} city stores open before the quarter "
                    f"< rollout.city_stores_before_county={need}"
                )
    if getattr(result, "mode", "") == "joint":
        # the final network of a joint plan must also be a valid site selection
        from planner.optimise.check import check_solution

        out += [f"final network: {v}" for v in check_solution(inst, result.to_solution()).violations]
    # the reported figures must be the recomputed ones
    table = result.table
    for c in TABLE_COLUMNS:
        if c not in table:
            out.append(f"table lacks column {c!r}")
            continue
        got = np.asarray(table[c])
        exp = cols[c]
        if c == "quarter":
            if list(map(str, got)) != list(map(str, exp)):
                out.append(f"table quarter labels {list(got)} != {list(exp)}")
            continue
        got_f, exp_f = got.astype(float), exp.astype(float)
        if got_f.shape != exp_f.shape or not np.allclose(got_f, exp_f, rtol=1e-6, atol=1e-6, equal_nan=True):
            out.append(f"table column {c!r} differs from the recomputed one")
    if not math.isclose(result.objective, m["objective_total"], rel_tol=1e-6, abs_tol=1e-6):
        out.append(f"objective {result.objective} != recomputed {m['objective_total']}")
    return out
