"""What the horizon can achieve at most, and why a rollout is impossible, in words.

:func:`max_cumulative_openings` is a count-only relaxation (a tiny integer
programme over the number of stores open by each quarter): a valid cap for the
bounds and for infeasibility proofs. :func:`explain_upfront` turns the cheap
proofs into sentences naming the scenario keys, before any search runs.
"""

# The model notation (T quarters, B budget, L training lag, E existing stores)
# is kept in code so it reads like the docstrings.
# ruff: noqa: N806

from __future__ import annotations

import numpy as np
from ortools.linear_solver import pywraplp  # type: ignore[attr-defined]

from planner.optimise.rollout.chain import county_stores_unlocked, provinces_short_of_city_stores
from planner.optimise.rollout.context import Context
from planner.optimise.rollout.types import TOL, quarter_labels

__all__ = ["max_cumulative_openings", "explain_upfront"]


def _kmax_affordable(capex_sorted_cum: np.ndarray, money: float) -> int:
    """Most openings whose cheapest capex fits ``money``."""
    return int(np.searchsorted(capex_sorted_cum, money + TOL * max(1.0, money), side="right"))


def max_cumulative_openings(
    ctx: Context, *, managers: bool = True, budget: bool = True, province: bool = True
) -> np.ndarray:
    """Most new stores the horizon can have opened by the end of each quarter (int[T]).

    A count-only relaxation: the manager pipeline exactly (integer openings and
    hires), the budget through the cheapest candidates' capex (hiring costs
    ignored), the province caps summed over provinces. Every schedule opens at
    most this many by quarter ``t``, so it is a valid cap for bounds and for
    infeasibility proofs.
    """
    params, T = ctx.params, ctx.T
    n = ctx.n
    if n == 0:
        return np.zeros(T, dtype=np.int64)
    per_prov = np.bincount(ctx.prov, minlength=ctx.n_prov)
    cap = params.max_openings_per_province_per_quarter
    solver = pywraplp.Solver.CreateSolver("SCIP")
    inf = solver.infinity()
    nv = [solver.IntVar(0, n, f"n{t}") for t in range(T)]
    h = [solver.IntVar(0, params.external_hires_per_quarter if managers else 0, f"h{t}") for t in range(T)]
    cum = np.cumsum(np.sort(ctx.capex))
    B = params.capex_budget_per_quarter_cny
    for t in range(T):
        o = nv[t] - (nv[t - 1] if t else 0)
        solver.Add(o >= 0)
        if province and cap is not None:
            solver.Add(o <= int(np.minimum(per_prov, cap).sum()))
            solver.Add(nv[t] <= int(np.minimum(per_prov, cap * (t + 1)).sum()))
        if budget and B is not None:
            if params.carry_over:
                solver.Add(nv[t] <= _kmax_affordable(cum, B * (t + 1)))
            else:
                solver.Add(o <= _kmax_affordable(cum, B))
    if managers:
        keep = 1.0 - params.attrition_pct / 100.0
        L, c, E = int(params.training_quarters), float(params.cadres_per_store), float(ctx.base.size)
        k = [solver.NumVar(0, inf, f"k{t}") for t in range(T)]
        a = [solver.NumVar(0, inf, f"a{t}") for t in range(T)]
        solver.Add(k[0] == float(params.initial_managers))
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


def explain_upfront(ctx: Context) -> list[str]:
    """Reasons, in words naming the keys, why no schedule can exist (empty = none found)."""
    params, T, need = ctx.params, ctx.T, ctx.n_required
    rinst = ctx.rinst
    probs: list[str] = []
    if need <= 0:
        return probs
    lab = quarter_labels(params.start_quarter, T)
    mgr = max_cumulative_openings(ctx, budget=False, province=False)
    if mgr[-1] < need:
        if params.initial_managers == 0 and params.external_hires_per_quarter == 0 and (
            ctx.base.size == 0 or params.cadres_per_store == 0
        ):
            probs.append(
                f"no store manager is ever ready: rollout.initial_managers = 0, "
                f"rollout.external_hires_per_quarter = 0 and no trainees "
                f"({ctx.base.size} stores open, rollout.cadres_per_store = {params.cadres_per_store}), "
                f"but {need} new stores must open; set rollout.initial_managers or "
                f"rollout.external_hires_per_quarter above 0"
            )
        else:
            probs.append(
                f"the manager pipeline can staff at most {int(mgr[-1])} openings by {lab[-1]} "
                f"(rollout.quarters = {T}, rollout.initial_managers = {params.initial_managers}, "
                f"rollout.cadres_per_store = {params.cadres_per_store}, rollout.training_quarters = "
                f"{params.training_quarters}, rollout.attrition_pct = {params.attrition_pct}, "
                f"rollout.external_hires_per_quarter = {params.external_hires_per_quarter}) but {need} "
                f"new stores must open; raise managers or hires, lengthen rollout.quarters, or plan "
                f"fewer stores (constraints.total_stores)"
            )
    B = params.capex_budget_per_quarter_cny
    if B is not None:
        if ctx.must_open and not params.carry_over and np.any(ctx.capex > B * (1 + TOL)):
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
    cap = params.max_openings_per_province_per_quarter
    if ctx.must_open:
        per_prov = np.bincount(ctx.prov, minlength=ctx.n_prov)
        if cap is not None:
            for p in np.flatnonzero(per_prov > cap * T):
                probs.append(
                    f"province {rinst.province_label(int(p))} has {per_prov[p]} stores to open but "
                    f"rollout.max_openings_per_province_per_quarter × rollout.quarters = {cap} × {T} = "
                    f"{cap * T}"
                )
        k = params.city_stores_before_county
        if k > 0:
            # the network: the stores open before the horizon and every candidate (all must open)
            short = provinces_short_of_city_stores(
                np.r_[rinst.site_province[ctx.base], ctx.prov], np.r_[rinst.site_is_county[ctx.base], ctx.county],
                np.r_[np.zeros(ctx.base.size, dtype=bool), np.ones(ctx.n, dtype=bool)], k, n_provinces=ctx.n_prov,
            )
            never = dict(zip(short.province.tolist(), zip(short.city_stores, short.new_county_stores, strict=True),
                             strict=True))
            locked = ~county_stores_unlocked(ctx.city_base, k)
            county_new = np.bincount(ctx.prov[ctx.county], minlength=ctx.n_prov)
            for p in np.flatnonzero(county_new > 0):
                have = int(ctx.city_base[p])
                if int(p) in never:
                    city_total, county_p = never[int(p)]
                    probs.append(
                        f"province {rinst.province_label(int(p))} must open {county_p} county stores "
                        f"but can only ever have {int(city_total)} city stores < "
                        f"rollout.city_stores_before_county = {k}"
                    )
                elif locked[p] and T < 2:
                    probs.append(
                        f"province {rinst.province_label(int(p))} has {have} city stores < "
                        f"rollout.city_stores_before_county = {k}, so its county stores can open at the "
                        f"earliest in the second quarter, but rollout.quarters = {T}"
                    )
    if not probs:
        caps = max_cumulative_openings(ctx)
        if caps[-1] < need:
            probs.append(
                f"managers, budget and province caps together allow at most {int(caps[-1])} openings "
                f"by {lab[-1]} but {need} must open (rollout.initial_managers, "
                f"rollout.external_hires_per_quarter, rollout.capex_budget_per_quarter_cny, "
                f"rollout.max_openings_per_province_per_quarter, rollout.quarters)"
            )
    return probs


