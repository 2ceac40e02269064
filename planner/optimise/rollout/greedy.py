"""The quarter greedy: open stores quarter by quarter, most valuable first, as far as the pools allow.

This is not the lazy greedy of :mod:`planner.optimise.greedy` run per quarter: each
quarter has its own capacity (ready managers plus hires, money, province caps,
which county stores the chain of command has unlocked), priorities are ordered
by a (bonus, key) pair so city stores that unlock pending county stores go
first, provinces that would run out of quarters are served before the rest,
and a hire is made only when a store would otherwise lack a manager. What it
shares with the selection greedy is the lazy re-evaluation of stale gains
(Minoux), which is a few lines on a heap, not a function worth sharing.
"""

# The model notation (T quarters, B budget, H hires) is kept in code so it reads like the docstrings.
# ruff: noqa: N806

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

from planner.optimise.rollout.chain import county_stores_unlocked
from planner.optimise.rollout.context import NEVER, Context, Selection
from planner.optimise.rollout.model import manager_pool
from planner.optimise.rollout.npv import is_profit, open_now_value
from planner.optimise.rollout.types import TOL

__all__ = ["Staff", "quarter_greedy", "trim_hires", "staff_schedule"]

#: Who staffs a schedule, int[T] each: external store-manager hires, promotions to area manager, area hires.
Staff = tuple[np.ndarray, np.ndarray, np.ndarray]


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
    eligible: float = 0.0  # store managers who may be promoted this quarter
    spare_areas: float = 0.0  # area managers without an area
    p_t: int = 0  # promotions this quarter
    a_t: int = 0  # area managers hired this quarter


def quarter_greedy(
    ctx: Context, *, score: Literal["value", "ratio"] = "value", postpone: bool = False, by_share: bool = False,
) -> tuple[np.ndarray, Staff] | None:
    """Open stores quarter by quarter, most valuable (or best value per CNY) first.

    Each quarter opens as many stores as managers (hiring when short), money,
    province caps and the chain of command allow. Two-stage: provinces that would
    otherwise run out of quarters go first, and city stores that unlock pending
    county stores are preferred. With the command, a store whose area is not yet
    formed opens only with an area manager for it: a spare one, else a promotion
    (when a store manager is free to replace the promoted one), else an external
    area hire, else a promotion with a store-manager hire. Returns local quarters
    (``NEVER`` = not opened) and the staff, or None when it fails to open what must open.

    With ``profit`` a candidate's value is what opening it now rather than next
    quarter is worth in CNY (:func:`~planner.optimise.rollout.npv.open_now_value`);
    with ``postpone`` a candidate worth nothing or less waits (in ``two_stage``
    until the last quarter, where everything left opens; in ``joint`` for ever),
    except the stores a province must open now to finish within the horizon.
    ``by_share`` orders a ``profit`` rollout by the captured weight alone, as the
    ``market_share`` rollout does (one more incumbent: the NPV is never below
    that of the market-share greedy's schedule).
    """
    params, T, n = ctx.params, ctx.T, ctx.n
    vm = ctx.vm
    profit = is_profit(ctx.rinst) and not by_share
    sel = ctx.sel
    if sel is not None:
        sel_state = sel.copy_state()
    state = ctx.base_state.copy()
    q = np.full(n, NEVER, dtype=np.int64)
    hires = np.zeros(T, dtype=np.int64)
    opened = np.zeros(T, dtype=np.int64)
    city_open = ctx.city_base.copy()
    B = params.capex_budget_per_quarter_cny
    cap = params.max_openings_per_province_per_quarter
    H = params.external_hires_per_quarter
    hire_cost = params.external_hire_cost_cny
    spent = 0.0
    need_city = params.city_stores_before_county
    cand_ids = ctx.cand
    cmd = ctx.rinst.command if ctx.area is not None else None
    prom = np.zeros(T, dtype=np.int64)
    ahires = np.zeros(T, dtype=np.int64)
    formed = ctx.area_pre.copy() if ctx.area_pre is not None else np.zeros(0, dtype=bool)
    AH = cmd.external_area_hires_per_quarter if cmd is not None else 0
    a0 = 0
    if cmd is not None:
        a0 = int(formed.sum()) if cmd.initial_area_managers is None else int(cmd.initial_area_managers)

    req = ctx.required
    req_left = 0 if req is None else int(req.sum())  # must-open stores not open yet

    def value(t: int, loc: np.ndarray, g: np.ndarray) -> np.ndarray:
        """The heap's priority of candidates ``loc`` with marginal gains ``g`` in quarter ``t``."""
        v = open_now_value(ctx, loc, g, t) if profit else g
        return v / np.maximum(ctx.capex[loc], 1.0) if score == "ratio" else v

    def run(qs: _Quarter, members: np.ndarray, limit: np.ndarray | None, wait: bool = False) -> None:
        nonlocal req_left
        heap = [(-qs.bonus[m], -qs.key[m], int(m)) for m in members]
        heapq.heapify(heap)
        while heap:
            _, _, m = heapq.heappop(heap)
            j = int(qs.idx[m])
            if q[j] != NEVER:
                continue
            if qs.ver[m] != qs.added:
                qs.gains[m] = vm.gain(state, int(cand_ids[j]))
                if profit:
                    qs.key[m] = float(value(qs.t, np.array([j]), np.array([qs.gains[m]]))[0])
                else:
                    qs.key[m] = qs.gains[m] / max(ctx.capex[j], 1.0) if score == "ratio" else qs.gains[m]
                qs.ver[m] = qs.added
                heapq.heappush(heap, (-qs.bonus[m], -qs.key[m], m))
                continue
            if wait and qs.key[m] <= 0 and qs.bonus[m] <= 0:
                continue  # worth more later (or never): it waits
            p = ctx.prov[j]
            if cap is not None and qs.per_prov_t[p] >= cap:
                continue
            if limit is not None and limit[p] <= 0:
                continue
            if sel is not None and not sel.ok(j):
                continue
            if req is not None and not req[j] and sel is not None and sel.target - sel.count <= req_left:
                continue  # the stores left to open are kept for the ones that must
            a = int(ctx.area[j]) if ctx.area is not None else -1
            need_area = a >= 0 and not formed[a]
            promote = ahire = False
            if need_area and qs.spare_areas < 1 - TOL:
                can_promote = qs.eligible - qs.p_t >= 1 - TOL
                free = qs.ready + qs.h_t - (qs.n_t + qs.p_t + 1)
                if can_promote and free >= 1 - TOL:
                    promote = True
                elif qs.a_t < AH:
                    ahire = True
                elif can_promote:
                    promote = True
                else:
                    continue
            short = qs.n_t + qs.p_t + 1 + int(promote) - (qs.ready + qs.h_t)
            n_hire = max(0, math.ceil(short - TOL))
            if qs.h_t + n_hire > H:
                if promote:
                    continue
                return
            cost = ctx.capex[j] + n_hire * hire_cost
            if cost > qs.money + TOL * max(1.0, qs.money if math.isfinite(qs.money) else 1.0):
                continue
            if need_area:
                formed[a] = True
                if promote:
                    qs.p_t += 1
                elif ahire:
                    qs.a_t += 1
                else:
                    qs.spare_areas -= 1
            q[j] = qs.t
            vm.add(state, int(cand_ids[j]))
            qs.added += 1
            qs.n_t += 1
            qs.h_t += n_hire
            qs.money -= cost
            qs.per_prov_t[p] += 1
            if limit is not None:
                limit[p] -= 1
            if sel is not None:
                sel.add(j)
            if req is not None and req[j]:
                req_left -= 1


    for t in range(T):
        pool = manager_pool(params, ctx.base.size, opened, hires, prom)
        ready = pool.ready[t]
        money = math.inf if B is None else (B * (t + 1) - spent if params.carry_over else B)
        unlocked = county_stores_unlocked(city_open, need_city)
        todo = q == NEVER
        elig = todo & (~ctx.county | unlocked[ctx.prov])
        if ctx.avail is not None:
            elig &= ctx.avail <= t  # a site opens no earlier than its available_from
        if sel is not None:
            elig = _sel_ok_vec(sel, elig)
        idx = np.flatnonzero(elig)
        if idx.size == 0:
            continue
        g = vm.gains(state, cand_ids[idx])
        bonus = np.zeros(idx.size)
        if req is not None:
            bonus[req[idx]] = 2.0  # what must open goes first, and never waits
        if ctx.must_open and need_city > 0:
            pending_county = np.bincount(ctx.prov[todo & ctx.county], minlength=ctx.n_prov) > 0
            locked = (~unlocked) & pending_county
            bonus[(~ctx.county[idx]) & locked[ctx.prov[idx]]] = 1.0
        if profit:
            key = value(t, idx, g)
        else:
            key = g / np.maximum(ctx.capex[idx], 1.0) if score == "ratio" else g.copy()
        per_prov_t = np.zeros(ctx.n_prov, dtype=np.int64)
        # provinces that must open some stores now to finish within the horizon
        forced = np.zeros(ctx.n_prov, dtype=np.int64)
        if ctx.must_open and cap is not None:
            rem = np.bincount(ctx.prov[todo], minlength=ctx.n_prov)
            forced = np.maximum(0, rem - cap * (T - 1 - t))
        qs = _Quarter(t=t, idx=idx, bonus=bonus, key=key, gains=g, ver=np.zeros(idx.size, dtype=np.int64),
                      per_prov_t=per_prov_t, ready=ready, money=money)
        if cmd is not None:
            qs.eligible, qs.spare_areas = _command_state(ctx, cmd.promotion_after_quarters, t, opened, prom,
                                                         ahires, a0 - int(formed.sum()))
        if forced.any():
            run(qs, np.flatnonzero(forced[ctx.prov[idx]] > 0), forced.copy())
        run(qs, np.arange(idx.size), None, wait=postpone and not (ctx.must_open and t == T - 1))
        opened[t] = qs.n_t
        hires[t] = qs.h_t
        prom[t] = qs.p_t
        ahires[t] = qs.a_t
        spent += money - qs.money if math.isfinite(money) else 0.0
        newly = idx[q[idx] == t]
        np.add.at(city_open, ctx.prov[newly][~ctx.county[newly]], 1)
    ok = True
    if ctx.must_open and np.any(q == NEVER):
        ok = False
    if req is not None and np.any(q[req] == NEVER):
        ok = False
    if sel is not None:
        ok = ok and sel.count_ok() and sel.mins_met()
        sel.restore(sel_state)
    if not ok:
        return None
    if cmd is not None:
        return q, staff_schedule(ctx, q, (hires, prom, ahires))
    return q, (trim_hires(ctx, q, hires), prom, ahires)


def _command_state(
    ctx: Context, after: int, t: int, opened: np.ndarray, prom: np.ndarray, ahires: np.ndarray, spare_before: int,
) -> tuple[float, float]:
    """Store managers eligible for promotion in quarter ``t`` (``after`` quarters in the job), and spare area managers."""
    took = opened + prom
    eligible = float(ctx.base.size + took[: max(t - after + 1, 0)].sum() - prom[:t].sum())
    return eligible, float(spare_before + prom[:t].sum() + ahires[:t].sum())


def _sel_ok_vec(sel: Selection, elig: np.ndarray) -> np.ndarray:
    out = elig.copy()
    for j in np.flatnonzero(elig):
        out[j] = sel.ok(int(j))
    return out


def staff_schedule(ctx: Context, q: np.ndarray, fallback: Staff) -> Staff:
    """Staff a schedule ``q`` by one rule (else ``fallback``): promote first, hire areas next, hire stores last.

    Per quarter, the areas formed beyond the spare area managers are led by
    promotions while store managers are free to replace them, then by external
    area hires (``external_area_hires_per_quarter``), then by promotions whose
    replacement is an external store-manager hire; store-manager hires cover the
    rest. Without the command, the fewest store-manager hires (:func:`trim_hires`).
    """
    T = ctx.T
    if ctx.area is None or ctx.rinst.command is None or ctx.area_pre is None:
        return trim_hires(ctx, q, fallback[0]), np.zeros(T, dtype=np.int64), np.zeros(T, dtype=np.int64)
    cmd = ctx.rinst.command
    opened = np.bincount(q[q >= 0], minlength=T)[:T]
    n_areas = ctx.area_pre.size
    fq = np.where(ctx.area_pre, -1, T)
    ok = (q >= 0) & (ctx.area >= 0)
    np.minimum.at(fq, ctx.area[ok], q[ok])
    pre = int(ctx.area_pre.sum())
    formed_t = np.bincount(fq[(fq >= 0) & (fq < T)], minlength=T)[:T] if n_areas else np.zeros(T, dtype=np.int64)
    a0 = pre if cmd.initial_area_managers is None else int(cmd.initial_area_managers)
    h = np.zeros(T, dtype=np.int64)
    p = np.zeros(T, dtype=np.int64)
    a = np.zeros(T, dtype=np.int64)
    for t in range(T):
        ready = manager_pool(ctx.params, ctx.base.size, opened, h, p).ready[t]
        elig, spare = _command_state(ctx, cmd.promotion_after_quarters, t, opened, p, a,
                                     a0 - pre - int(formed_t[:t].sum()))
        elig_n = max(0, math.floor(elig + TOL))
        need = max(0, int(formed_t[t]) - max(0, math.floor(spare + TOL)))
        p1 = min(need, elig_n, max(0, math.floor(ready - opened[t] + TOL)))
        a1 = min(need - p1, cmd.external_area_hires_per_quarter)
        p2 = min(need - p1 - a1, elig_n - p1)
        if need - p1 - a1 - p2 > 0:
            return fallback
        p[t], a[t] = p1 + p2, a1
        short = opened[t] + p[t] - ready
        h[t] = math.ceil(short - TOL) if short > TOL else 0
        if h[t] > ctx.params.external_hires_per_quarter:
            return fallback
    return h, p, a


def trim_hires(ctx: Context, q: np.ndarray, hires: np.ndarray) -> np.ndarray:
    """Fewest hires, quarter by quarter, that still staff the openings ``q`` (else ``hires``)."""
    T = ctx.T
    opened = np.bincount(q[q >= 0], minlength=T)[:T]
    h = np.zeros(T, dtype=np.int64)
    for t in range(T):
        pool = manager_pool(ctx.params, ctx.base.size, opened, h)
        short = opened[t] - pool.ready[t]
        if short > TOL:
            h[t] = math.ceil(short - TOL)
    if np.any(h > ctx.params.external_hires_per_quarter):
        return hires
    return h


