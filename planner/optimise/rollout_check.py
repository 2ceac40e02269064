"""Solver-independent recomputation and validation of a rollout schedule.

A rollout says in which quarter each new store opens (and how many external
managers are hired per quarter). This module recomputes everything that follows
from that schedule alone -- the store-manager pool quarter by quarter, the
network's value in every quarter, capex, opex, covered population, market share
-- and, for ``profit``, the NPV (:func:`quarter_npv`) -- and :func:`check_rollout` compares it with every rollout constraint (managers,
budget, province capacity, chain of command) and with the figures the solver
reported. It shares no code with the solvers in :mod:`planner.optimise.rollout`:
it reads only the data types, so a bug in the solvers' value model or manager
pool is caught here rather than passed on. (The joint mode's final network is
handed to :func:`planner.optimise.check.check_solution`, the site selection's own
solver-independent checker, so the selection contract has one arbiter.)

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

With the command (``RolloutInstance.command`` and ``site_area``), the two pools together:

- ``promotions[t]`` store managers become area managers; each is replaced from
  the store-manager pool like an opening: ``opened[t] + promotions[t] <= ready[t]``
  and ``carried[t+1] = keep * (ready[t] - opened[t] - promotions[t])``;
- ``eligible[t] = E + sum_{s <= t-P} (opened[s] + promotions[s]) - sum_{s < t} promotions[s]``
  (``P = promotion_after_quarters``; the managers of stores open before the horizon
  are eligible from the start, a replacement starts again at zero) and
  ``promotions[t] <= eligible[t]``;
- an area is formed in the quarter its first store opens (before the horizon if it
  holds an existing store); ``areas[t]`` formed by the end of ``t`` must not exceed
  ``area_ready[t] = A0 + sum_{s <= t} (promotions[s] + area_hires[s])``, ``A0`` =
  ``initial_area_managers`` or, when None, the areas formed before the horizon;
  ``area_hires[t] <= external_area_hires_per_quarter``.
"""

# The model notation (T quarters, L training lag, E existing stores) is kept in code
# so it reads like the docstrings.
# ruff: noqa: N806

from __future__ import annotations

import math
from typing import Any

import numpy as np

from planner.optimise.check import check_solution
from planner.optimise.rollout.types import (
    TABLE_COLUMNS,
    TOL,
    ManagerPool,
    RolloutInstance,
    RolloutParams,
    RolloutResult,
    quarter_labels,
)
from planner.optimise.types import Instance, ObjectiveKind

__all__ = ["manager_pool", "quarter_values", "quarter_npv", "quarterly_metrics", "check_rollout"]


# ------------------------------------------------------------------ manager pool
def manager_pool(
    params: RolloutParams, n_existing: int, opened: np.ndarray, hires: np.ndarray,
    promotions: np.ndarray | None = None,
) -> ManagerPool:
    """The manager pool recomputed from openings and hires per quarter (dynamics above).

    Parameters
    ----------
    params
        The rollout parameters.
    n_existing
        Stores open before the first quarter (they train cadres too).
    opened, hires
        int[T] openings and external hires per quarter.

    Returns
    -------
    ManagerPool
        ``ready[t]`` is what bounds ``opened[t]``.
    """
    # the checker's own copy of the dynamics, on purpose (the solvers use rollout.model.manager_pool)
    opened_f = np.asarray(opened, dtype=float)
    hires_f = np.asarray(hires, dtype=float)
    T = opened_f.size
    took = opened_f + (0.0 if promotions is None else np.asarray(promotions, dtype=float))
    L = int(params.training_quarters)
    keep = 1.0 - params.attrition_pct / 100.0
    open_before = float(n_existing) + np.r_[0.0, np.cumsum(opened_f)[:-1]]  # N[t-1]
    started = params.cadres_per_store * open_before
    graduated = np.zeros(T)
    if L < T:
        graduated[L:] = started[: T - L]
    trainees = np.zeros(T)
    for t in range(T):
        if L > 0:
            trainees[t] = started[max(0, t - L + 1) : t + 1].sum()
    carried = np.zeros(T)
    ready = np.zeros(T)
    left = float(params.initial_managers)
    for t in range(T):
        carried[t] = left
        ready[t] = carried[t] + graduated[t] + hires_f[t]
        left = keep * (ready[t] - took[t])
    return ManagerPool(ready=ready, started=started, graduated=graduated, trainees=trainees, carried=carried)


# ----------------------------------------------------------------- network value
def _pair_credit(inst: Instance, kind: ObjectiveKind) -> np.ndarray:
    """Per pair: coverage credit, distance saved (km) or Huff strength."""
    km = np.asarray(inst.pair_km, dtype=float)
    site = np.asarray(inst.pair_site, dtype=np.int64)
    if kind == "coverage":
        r = np.broadcast_to(np.asarray(inst.radius_km, dtype=float), (inst.n_sites,))[site]
        if inst.decay == "step":
            credit = (km <= r).astype(float)
        elif inst.decay == "linear":
            credit = np.maximum(1.0 - km / r, 0.0)
        else:
            credit = np.exp(-km / r) * (km <= 3.0 * r)
        return np.asarray(credit, dtype=float)
    if kind == "distance":
        u = float(inst.unreachable_km)
        return np.asarray(u - np.minimum(km, u), dtype=float)
    attr = np.ones(inst.n_sites) if inst.site_attr is None else np.asarray(inst.site_attr, dtype=float)
    return attr[site] * (1.0 + km) ** (-float(inst.beta))


def quarter_values(inst: Instance, kind: ObjectiveKind, site_quarter: np.ndarray, quarters: int) -> np.ndarray:
    """Value to maximise of the network open at the end of each quarter (float[quarters]).

    Parameters
    ----------
    inst
        The site-selection instance.
    kind
        The objective: coverage (weighted best credit), distance (weighted best
        saving ``U - min(U, km)``) or market share (weighted Huff share).
    site_quarter
        int[M] opening quarter of each site: -1 = open before the horizon,
        ``quarters`` or more = never.
    quarters
        The horizon.
    """
    # the checker's own Huff/coverage kernel, on purpose (the solvers use rollout.model.NetworkValue)
    credit = _pair_credit(inst, kind)
    cell = np.asarray(inst.pair_cell, dtype=np.int64)
    pair_q = np.asarray(site_quarter, dtype=np.int64)[np.asarray(inst.pair_site, dtype=np.int64)]
    w = np.asarray(inst.weight, dtype=float)
    pull = np.zeros(inst.n_cells) if inst.competitor_pull is None else np.asarray(inst.competitor_pull, float)
    best = kind in ("coverage", "distance")
    state = np.zeros(inst.n_cells)  # best credit per cell, or the own brand's Huff strength
    out = np.zeros(quarters)
    for t in range(-1, quarters):
        now = pair_q == t
        if best:
            np.maximum.at(state, cell[now], credit[now])
        else:
            np.add.at(state, cell[now], credit[now])
        if t < 0:
            continue
        if best:
            out[t] = float(np.sum(w * state))
        else:
            total = state + pull
            share = np.zeros(inst.n_cells)
            np.divide(state, total, out=share, where=total > 0)
            out[t] = float(np.sum(w * share))
    return out


def quarter_npv(rinst: RolloutInstance, site_quarter: np.ndarray, quarters: int) -> np.ndarray:
    """``profit``: each quarter's discounted cash, CNY (float[quarters]); their sum is the NPV.

    Quarter ``t``: ``(1 + r/100)^(-t/4) * [margin * sum_j ramp_j(t) * captured_j(t) - sum_j opex_j] / 4``
    over the stores open at its end, minus the same discount times the capex of
    the stores opening in ``t`` (stores open before the horizon: mature, no capex).
    ``captured_j(t)`` is the weight store ``j`` captures under Huff against the
    open network and the competitors; ``ramp_j(t) = min(1, (t - t_j + 1) / ramp_quarters)``.
    """
    # the checker's own money, on purpose (the solvers use rollout.model.quarter_cash)
    inst = rinst.instance
    T = int(quarters)
    sq = np.asarray(site_quarter, dtype=np.int64)
    strength = _pair_credit(inst, "market_share")
    cell = np.asarray(inst.pair_cell, dtype=np.int64)
    site = np.asarray(inst.pair_site, dtype=np.int64)
    w = np.asarray(inst.weight, dtype=float)
    pull = np.zeros(inst.n_cells) if inst.competitor_pull is None else np.asarray(inst.competitor_pull, float)
    margin = rinst.margin if rinst.margin is not None else inst.margin
    margin = 1.0 if margin is None else float(margin)
    rate = 1.0 + rinst.discount_rate_pct / 100.0
    ramp = int(rinst.ramp_quarters)
    capex, opex = rinst.site_capex(), rinst.site_opex()
    out = np.zeros(T)
    for t in range(T):
        open_ = (sq <= t) & (sq >= -1)
        live = open_[site]
        own = np.bincount(cell[live], weights=strength[live], minlength=inst.n_cells)
        den = own[cell] + pull[cell]
        part = np.zeros(cell.size)
        ok = live & (den > 0)
        part[ok] = w[cell[ok]] * strength[ok] / den[ok]
        age = t - sq[site]
        factor = np.ones(cell.size)
        if ramp > 1:
            factor = np.where(sq[site] < 0, 1.0, np.minimum(1.0, (age + 1.0) / ramp))
        sales_w = float(np.sum(part * factor))
        disc = rate ** (-t / 4.0)
        out[t] = disc * (margin * sales_w - float(opex[open_].sum())) / 4.0 - disc * float(capex[sq == t].sum())
    return out


# ---------------------------------------------------------------- quarter table
def command_figures(
    rinst: RolloutInstance, open_sites: np.ndarray, quarter: np.ndarray, promotions: np.ndarray,
    area_hires: np.ndarray, quarters: int,
) -> dict[str, np.ndarray]:
    """The area-manager side recomputed: ``formed_quarter`` per area, ``eligible``, ``area_ready``, ``areas`` per quarter."""
    # the checker's own copy of the command pool, on purpose (the solvers use rollout.model.command_pool)
    cmd = rinst.command
    assert cmd is not None and rinst.site_area is not None
    T = quarters
    site_area = np.asarray(rinst.site_area, dtype=np.int64)
    n_areas = int(site_area.max()) + 1 if site_area.size else 0
    formed_quarter = np.full(max(n_areas, 0), T, dtype=np.int64)
    for j, t in zip(np.asarray(open_sites).tolist(), np.asarray(quarter).tolist(), strict=True):
        a = site_area[j]
        if a >= 0 and t < formed_quarter[a]:
            formed_quarter[a] = t
    before = int(np.sum(formed_quarter < 0))
    areas = np.array([before + int(np.sum((formed_quarter >= 0) & (formed_quarter <= t))) for t in range(T)])
    q = np.asarray(quarter, dtype=np.int64)
    E = int(np.sum(q < 0))
    opened = np.array([int(np.sum(q == t)) for t in range(T)], dtype=float)
    prom = np.asarray(promotions, dtype=float)
    P = int(cmd.promotion_after_quarters)
    eligible = np.array([
        E + sum(opened[s] + prom[s] for s in range(0, t - P + 1)) - sum(prom[s] for s in range(t)) for t in range(T)
    ])
    a0 = before if cmd.initial_area_managers is None else int(cmd.initial_area_managers)
    area_ready = np.array([a0 + sum(prom[s] + float(area_hires[s]) for s in range(t + 1)) for t in range(T)])
    return {"formed_quarter": formed_quarter, "eligible": eligible, "area_ready": area_ready, "areas": areas}


def quarterly_metrics(
    rinst: RolloutInstance, params: RolloutParams, open_sites: np.ndarray, quarter: np.ndarray, hires: np.ndarray,
    promotions: np.ndarray | None = None, area_hires: np.ndarray | None = None,
) -> dict[str, Any]:
    """Recompute every per-quarter figure of a schedule.

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
        int[T] promotions to area manager and area hires per quarter (None = none).

    Returns
    -------
    dict
        ``command`` (the area-manager figures of :func:`command_figures`, or None), ``columns`` (dict of arrays, :data:`~planner.optimise.rollout.types.TABLE_COLUMNS`),
        ``pool`` (:class:`~planner.optimise.rollout.types.ManagerPool`), ``spend_cny``
        (capex + hiring per quarter), ``value`` (float[T] value to maximise) and
        ``objective_total``.
    """
    inst = rinst.instance
    T = int(params.quarters)
    open_sites = np.asarray(open_sites, dtype=np.int64)
    quarter = np.asarray(quarter, dtype=np.int64)
    hires = np.asarray(hires)
    site_q = np.full(inst.n_sites, T, dtype=np.int64)  # T = not open within the horizon
    site_q[open_sites] = np.where(quarter < 0, -1, quarter)
    n_existing = int(np.sum(quarter < 0))
    opened = np.array([int(np.sum(quarter == t)) for t in range(T)], dtype=np.int64)
    prom = np.zeros(T, dtype=np.int64) if promotions is None else np.asarray(promotions, dtype=np.int64)
    ahires = np.zeros(T, dtype=np.int64) if area_hires is None else np.asarray(area_hires, dtype=np.int64)
    pool = manager_pool(params, n_existing, opened, hires, prom)
    command = None
    if rinst.command is not None and rinst.site_area is not None:
        command = command_figures(rinst, open_sites, quarter, prom, ahires, T)
    capex = rinst.site_capex()
    opex = rinst.site_opex()
    spend = np.array(
        [capex[open_sites[quarter == t]].sum() + float(hires[t]) * params.external_hire_cost_cny for t in range(T)]
    )
    opex_q = np.array([opex[open_sites[quarter <= t]].sum() / 4.0 for t in range(T)])
    kind = rinst.objective_kind
    if kind == "profit":  # the value is the NPV, quarter by quarter
        value = quarter_npv(rinst, site_q, T)
    else:
        value = quarter_values(inst, kind, site_q, T)
    if kind == "distance":
        objective = float(inst.unreachable_km) * float(np.sum(inst.weight)) - value
    else:
        objective = value.copy()
    # covered population: a cell within some open site's radius (step), whatever the objective
    pop = rinst.population()
    radius = np.broadcast_to(np.asarray(inst.radius_km, dtype=float), (inst.n_sites,))
    pair_site = np.asarray(inst.pair_site, dtype=np.int64)
    pair_cell = np.asarray(inst.pair_cell, dtype=np.int64)
    in_reach = np.asarray(inst.pair_km, dtype=float) <= radius[pair_site]
    covered = np.zeros(T)
    for t in range(T):
        cells = np.unique(pair_cell[in_reach & (site_q[pair_site] <= t)])
        covered[t] = pop[cells].sum()
    pull = inst.competitor_pull
    if pull is not None and np.any(np.asarray(pull) > 0):
        ms = value if kind == "market_share" else quarter_values(inst, "market_share", site_q, T)
        share = ms / max(float(np.sum(inst.weight)), 1e-300)
    else:
        share = np.full(T, np.nan)
    columns = {
        "quarter": np.array(quarter_labels(params.start_quarter, T)),
        "opened": opened,
        "open_total": (n_existing + np.cumsum(opened)).astype(np.int64),
        "managers_ready": pool.ready,
        "trainees": pool.trainees,
        "capex_cny": spend,
        "opex_cny": opex_q,
        "objective": objective,
        "covered_population": covered,
        "market_share": share,
        "area_managers_ready": command["area_ready"] if command else np.zeros(T),
        "areas": command["areas"] if command else np.zeros(T, dtype=np.int64),
        "promotions": prom,
    }
    return {
        "command": command,
        "columns": columns,
        "pool": pool,
        "spend_cny": spend,
        "value": value,
        "objective_total": float(objective.sum()),
    }


# ---------------------------------------------------------------------- checker
def _check_command(
    rinst: RolloutInstance, fig: dict[str, np.ndarray] | None, prom: np.ndarray, ahires: np.ndarray, labels: Any,
) -> list[str]:
    """The area-manager pool against the areas the schedule forms (both pools are checked together)."""
    if fig is None:
        if prom.any() or ahires.any():
            return ["promotions or area hires without a command (RolloutInstance.command / site_area)"]
        return []
    cmd = rinst.command
    assert cmd is not None
    out = []
    if np.any(prom < 0) or np.any(ahires < 0):
        out.append("negative promotions or area hires")
    if np.any(ahires > cmd.external_area_hires_per_quarter):
        out.append(
            f"area hires {ahires.tolist()} exceed command.external_area_hires_per_quarter="
            f"{cmd.external_area_hires_per_quarter}"
        )
    for t in range(prom.size):
        if prom[t] > fig["eligible"][t] + TOL:
            out.append(
                f"{labels[t]}: {prom[t]} promotions but only {fig['eligible'][t]:.0f} store managers with "
                f"command.promotion_after_quarters={cmd.promotion_after_quarters} quarters in the job"
            )
        if fig["areas"][t] > fig["area_ready"][t] + TOL:
            out.append(
                f"{labels[t]}: {fig['areas'][t]} areas formed but only {fig['area_ready'][t]:.0f} area managers"
            )
    return out


def check_rollout(rinst: RolloutInstance, result: RolloutResult, params: RolloutParams) -> list[str]:
    """Every rollout constraint, verified quarter by quarter from the result alone.

    Parameters
    ----------
    rinst
        The rollout instance.
    result
        A schedule (``open_sites``, ``quarter``, ``hires``, ``table``, ``objective``).
    params
        The rollout parameters the schedule was made for.

    Returns
    -------
    list of str
        One sentence per violation, empty when the schedule is valid.
    """
    out: list[str] = []
    inst = rinst.instance
    T = int(params.quarters)
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
    if rinst.site_must_open is not None:
        missed = np.setdiff1d(np.asarray(rinst.site_must_open, dtype=np.int64), sites[q >= 0])
        if missed.size:
            out.append(f"{missed.size} new store(s) that must open (signed leases, forced candidates) do not open "
                       f"within the horizon, e.g. site {int(missed[0])}")
    if rinst.site_available_from is not None:
        avail = np.asarray(rinst.site_available_from, dtype=np.int64)[sites]
        early = ~is_pre & (q >= 0) & (q < avail)
        if np.any(early):
            out.append(f"{int(early.sum())} store(s) open before their available_from quarter, e.g. site "
                       f"{int(sites[early][0])} in quarter {int(q[early][0])} (available from {int(avail[early][0])})")
    if np.any((hires < 0) | (hires > params.external_hires_per_quarter)):
        out.append(
            f"external hires {hires.tolist()} outside 0..rollout.external_hires_per_quarter="
            f"{params.external_hires_per_quarter}"
        )
    prom = np.zeros(T, dtype=np.int64) if result.promotions is None else np.asarray(result.promotions, np.int64)
    ahires = np.zeros(T, dtype=np.int64) if result.area_hires is None else np.asarray(result.area_hires, np.int64)
    if prom.shape != (T,) or ahires.shape != (T,):
        return out + [f"promotions / area_hires must have shape ({T},)"]
    m = quarterly_metrics(rinst, params, sites, q, hires, prom, ahires)
    cols, pool = m["columns"], m["pool"]
    labels = cols["quarter"]
    opened = cols["opened"]
    for t in range(T):
        if opened[t] + prom[t] > pool.ready[t] + TOL:
            out.append(
                f"{labels[t]}: {opened[t]} openings and {prom[t]} promotions but only {pool.ready[t]:.3f} "
                "ready managers"
            )
    out += _check_command(rinst, m["command"], prom, ahires, labels)
    budget = params.capex_budget_per_quarter_cny
    if budget is not None:
        spend = m["spend_cny"]
        if params.carry_over:
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
    cap = params.max_openings_per_province_per_quarter
    if cap is not None and new_mask.any():
        n_prov = int(prov.max()) + 1
        per = np.zeros((n_prov, T), dtype=np.int64)
        np.add.at(per, (prov[sites[new_mask]], q[new_mask]), 1)
        for p, t in zip(*np.nonzero(per > cap), strict=True):
            out.append(
                f"{labels[t]}: province {rinst.province_label(p)} opens {per[p, t]} stores "
                f"> rollout.max_openings_per_province_per_quarter={cap}"
            )
    # the chain of command, verified here with the checker's own code (not rollout.chain) by design
    need = params.city_stores_before_county
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
    if result.mode == "joint":
        # the final network of a joint plan must also be a valid site selection
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
    if rinst.objective_kind == "profit" and result.bound is not None and result.bound < m["objective_total"] - 1e-6 * max(
        1.0, abs(m["objective_total"])
    ):
        out.append(f"bound {result.bound} is below the recomputed NPV {m['objective_total']}")
    return out
