"""The ``profit`` rollout: a schedule's NPV in CNY, its linear cost terms, and a bound on the best NPV.

Quarter ``t = 0..T-1`` is discounted by ``d_t = (1 + r/100)^(-t/4)``; ``N_t`` is the
network open at the end of ``t`` (the stores open before the horizon included);
``m`` is the margin in CNY per year per unit of captured weight. The NPV of a
schedule is

``NPV = sum_t d_t [m * sum_{j in N_t} rho_j(t) s_j(N_t) - sum_{j in N_t} opex_j] / 4
- sum_{new j} d_{t_j} capex_j``

with ``s_j(N)`` the weight store ``j`` captures in the network ``N`` (Huff; their
sum is the market share ``share(N)``), ``t_j`` its opening quarter and
``rho_j(t) = min(1, (t - t_j + 1) / R)`` its ramp (``R = ramp_quarters``; a store
open before the horizon is mature, ``rho = 1``). This is, quarter by quarter,
``report/pnl.py``'s EBITDA (gross margin x sales / 4 - opex / 4) minus the capex
paid in the opening quarter, discounted the same way, so the rollout's objective
is the ``npv_cny`` of ``kpis.json`` (a pipeline test holds them equal).

Why the solvers may optimise what they do. The market-share part ``m share(N_t)``
is monotone submodular as for ``market_share``; opex and capex are linear in the
cumulative opening variables (``Y[j, t]`` = open by the end of ``t``):
``-d_t opex_j / 4`` on ``Y[j, t]`` and, since ``Y[j, t] - Y[j, t-1]`` is the
opening, ``-capex_j (d_t - d_{t+1})`` on ``Y[j, t]`` (``d_T = 0``). The ramp is not
a function of ``N_t`` alone; the MIP handles it by a valid over-estimate instead
of exactly:

- ramp loss. ``sum_j rho_j s_j = share(N_t) - sum_j (1 - rho_j(t)) s_j(N_t)``, and
  ``1 - rho_j(t) = (1/R) sum_{k=0}^{R-2} (Y[j, t] - Y[j, t-k-1])`` exactly (for
  ``R >= 2``; ``Y`` before quarter 0 is 0). Huff captures less as the own network
  grows, so ``s_j(N_t) >= s_j(N_full)`` for every ``N_t`` within the schedulable
  network ``N_full`` (the selected sites in ``two_stage``, the MIP's candidate
  pool in ``joint``). Charging only ``(1 - rho_j(t)) s_j(N_full)`` therefore charges
  no more than the true ramp loss: the MIP's objective stays an upper model of
  the exact NPV for every schedule, linear in ``Y``, and its proven bound (and
  its LP relaxation) is a valid upper bound on the best exact NPV.
- the per-quarter submodular bound (:func:`npv_bound`) drops the ramp altogether
  (``rho <= 1`` and the costs do not ramp, so dropping it can only raise the
  value) and bounds ``m share(S) - opex(S)`` for any network ``S`` of at most
  ``cap_t`` new stores by ``m f(G) - opex(base) + (the cap_t largest positive
  m rho_j(G) - opex_j)`` for any checkpoint network ``G`` containing the base
  (submodularity, ``opex >= 0``); capex is bounded below by every site that must
  open paying it in the last quarter (``d_t`` decreases).

The objective reported is always the exact NPV (:func:`~planner.optimise.rollout.model.quarter_cash`,
recomputed by the checker with its own code), never the over-estimate. The greedy scores a
candidate by what opening it *now rather than next quarter* is worth
(:func:`open_now_value`), so a store whose net is negative in every quarter
waits: in ``two_stage`` (every selected site must open) it opens as late as the
rules allow, in ``joint`` it opens only when the store count needs it.
"""

# The model notation (T quarters, R ramp, Y[j, t]) is kept in code so it reads like the docstring.
# ruff: noqa: N806

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from planner.optimise.rollout.types import RolloutInstance

if TYPE_CHECKING:  # pragma: no cover
    from planner.optimise.rollout.context import Context

__all__ = ["is_profit", "open_now_value", "linear_costs", "npv_bound"]


def is_profit(rinst: RolloutInstance) -> bool:
    """Whether the rollout maximises NPV (``objective_kind == "profit"``)."""
    return rinst.objective_kind == "profit"


def open_now_value(ctx: Context, loc: np.ndarray, gains: np.ndarray, t: int) -> np.ndarray:
    """What opening candidates ``loc`` (local) in quarter ``t`` rather than ``t + 1`` is worth (CNY).

    ``gains`` are their marginal captured weights now. A linear ramp moves the
    sales curve one quarter earlier, adding ``1/R`` of the mature sales to each of
    the next ``R`` quarters within the horizon; the store pays a quarter's opex
    more, and its capex a quarter earlier (in the last quarter: rather than never).
    """
    T = ctx.T
    rinst = ctx.rinst
    d = np.r_[rinst.discount(T), 0.0]
    R = max(int(rinst.ramp_quarters), 1)
    sales_weight = float(d[t : min(t + R, T)].sum()) / R
    loc = np.asarray(loc, dtype=np.int64)
    opex = rinst.site_opex()[ctx.cand[loc]]
    capex = ctx.capex[loc]
    m = rinst.profit_margin()
    return np.asarray(m * gains / 4.0 * sales_weight - d[t] * opex / 4.0 - capex * (d[t] - d[t + 1]), dtype=float)


def linear_costs(ctx: Context) -> tuple[np.ndarray, np.ndarray, float]:
    """The MIP's money terms: (coef float[n, T] on ``Y[j, t]``, scale float[T] of the share, constant).

    The MIP's objective is ``sum_t scale_t * (upper model of share(N_t)) + sum coef * Y + constant``:
    ``scale_t = m d_t / 4``, ``coef`` the opex, capex and (under-charged) ramp-loss
    terms and ``constant`` the opex of the stores open before the horizon (module docstring).
    """
    rinst, T, n = ctx.rinst, ctx.T, ctx.n
    d = rinst.discount(T)
    dn = np.r_[d[1:], 0.0]
    m = rinst.profit_margin()
    opex = rinst.site_opex()
    opex_c = opex[ctx.cand]
    coef = -(opex_c[:, None] * d[None, :] / 4.0) - ctx.capex[:, None] * (d - dn)[None, :]
    R = int(rinst.ramp_quarters)
    if R >= 2 and n:
        vm = ctx.vm
        full = vm.state_of(np.r_[ctx.base, ctx.cand])
        s_full = vm.site_shares(full, ctx.cand)
        for t in range(T):
            c = m * d[t] * s_full / (4.0 * R)
            coef[:, t] -= (R - 1) * c
            for k in range(R - 1):
                if t - k - 1 >= 0:
                    coef[:, t - k - 1] += c
    const = -float(d.sum()) * float(opex[ctx.base].sum()) / 4.0
    return coef, m * d / 4.0, const


def npv_bound(ctx: Context, caps: np.ndarray, checkpoints: list[np.ndarray], pool: np.ndarray) -> float:
    """An upper bound on the NPV of every schedule (CNY): the per-quarter submodular bound with money.

    Per quarter ``min_G [m f(G) - opex(base) + sum of the caps[t] largest positive
    m rho_j(G) - opex_j over pool]`` (year units), discounted and summed, minus the
    capex every schedule pays at least (module docstring). ``pool`` are global ids.
    """
    rinst, vm, T = ctx.rinst, ctx.vm, ctx.T
    d = rinst.discount(T)
    m = rinst.profit_margin()
    opex = rinst.site_opex()
    pool = np.asarray(pool, dtype=np.int64)
    base_opex = float(opex[ctx.base].sum())
    best = np.full(T, math.inf)
    for g_sites in checkpoints:
        st = ctx.base_state.copy()
        vm.add(st, g_sites)
        fg = vm.total(st)
        net = np.sort(np.maximum(m * vm.gains(st, pool) - opex[pool], 0.0))[::-1]
        cum = np.r_[0.0, np.cumsum(net)]
        best = np.minimum(best, m * fg - base_opex + cum[np.minimum(caps, net.size)])
    capex = rinst.site_capex()[pool]
    need = pool.size if ctx.must_open else max(int(ctx.n_required), 0)
    capex_lb = d[-1] * float(np.sort(capex)[: min(need, capex.size)].sum()) if T else 0.0
    return float(np.sum(d * best) / 4.0) - capex_lb
