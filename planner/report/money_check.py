"""Every money figure of a run, recomputed from the plan and the instance (the checker's own code).

``plan.csv``'s P&L columns, ``kpis.json``'s ``pnl`` (network and per province) and
``rollout.csv``'s sales, EBITDA, cumulative cash and NPV to date are recomputed
here from the open sites, their opening quarters, the instance's cell-site pairs,
the cells' yearly offline market and the ``economics`` parameters, with this
module's own Huff kernel and its own loops (on purpose: :mod:`planner.report.pnl`
computes the figures, this module only checks them). A mismatch is a bug in the
planner, never a result: :func:`check_money` lists each one, naming the store or
the quarter and the column.

The definitions checked (README, "Money: a P&L for every store"): a store's
yearly sales are ``sum_i market_i * a_ij / (S_i + pull_i)`` over its cells, with
``a_ij = attr_j * (1 + km_ij)^-beta`` and ``S_i`` the own network's total
attraction; gross profit = ``gross_margin_pct / 100 * sales``; EBITDA = gross
profit - opex; payback = ``capex / (EBITDA / 4)`` quarters, empty where EBITDA <= 0;
cannibalised sales = the store's sales minus what the network gains by it. A
quarter counts the stores open by its end, each ramped ``min(1, (age + 1) /
ramp_quarters)`` (stores open before the horizon are mature), a quarter of the
yearly figures, and the capex of the stores opening in it; NPV discounts quarter
``t`` by ``(1 + r / 100)^(-t / 4)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from planner.config.models import EconomicsConfig
from planner.instance import BuiltInstance

__all__ = ["check_money"]


def _network_sales(built: BuiltInstance, is_open: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per site: yearly sales under the network ``is_open``, and the network's gain from it (CNY)."""
    inst = built.instance
    cell = np.asarray(inst.pair_cell, dtype=np.int64)
    site = np.asarray(inst.pair_site, dtype=np.int64)
    live = is_open[site]
    cell, site, km = cell[live], site[live], np.asarray(inst.pair_km, dtype=float)[live]
    attr = np.ones(inst.n_sites) if inst.site_attr is None else np.asarray(inst.site_attr, dtype=float)
    a = attr[site] / np.power(1.0 + km, float(inst.beta))
    total = np.bincount(cell, weights=a, minlength=inst.n_cells)
    pull = np.zeros(inst.n_cells) if inst.competitor_pull is None else np.asarray(inst.competitor_pull, dtype=float)
    market = built.cells["market_cny_per_year"].to_numpy(dtype=float)[cell]
    with_all = total[cell] + pull[cell]
    rest = np.maximum(total[cell] - a, 0.0)
    without = rest + pull[cell]
    share = np.where(with_all > 0, a / np.where(with_all > 0, with_all, 1.0), 0.0)
    net_with = np.where(with_all > 0, total[cell] / np.where(with_all > 0, with_all, 1.0), 0.0)
    net_without = np.where(without > 0, rest / np.where(without > 0, without, 1.0), 0.0)
    sales = np.bincount(site, weights=market * share, minlength=inst.n_sites)
    gain = np.bincount(site, weights=market * (net_with - net_without), minlength=inst.n_sites)
    return sales, gain


def _close(got: Any, want: float, scale: float, rtol: float) -> bool:
    try:
        g = float(got)
    except (TypeError, ValueError):
        return False
    return bool(np.isfinite(g) and abs(g - want) <= rtol * max(abs(want), scale))


def check_money(
    built: BuiltInstance, open_sites: np.ndarray, quarter: np.ndarray | None, econ: EconomicsConfig,
    plan: pd.DataFrame, pnl: dict[str, Any], rollout: pd.DataFrame | None = None, *, rtol: float = 1e-6,
) -> list[str]:
    """Recompute the run's money and list every figure that differs (empty: all agree).

    ``plan``: ``plan.csv``'s rows, ``store_id`` the sites' internal ``site_id``;
    ``pnl``: ``kpis.json``'s ``pnl``; ``rollout``: ``rollout.csv`` (None without a
    rollout); ``quarter``: each of ``open_sites``' opening quarter (-1: open before
    the horizon). Figures agree within ``rtol`` of the larger of their value and a
    thousandth of the network's yearly sales (or its cash, for the quarters).
    """
    problems: list[str] = []
    sites = np.asarray(open_sites, dtype=np.int64)
    n = built.instance.n_sites
    is_open = np.zeros(n, dtype=bool)
    is_open[sites] = True
    sales, gain = _network_sales(built, is_open)
    tab = built.sites
    capex = tab["capex_cny"].to_numpy(dtype=float)
    opex = tab["opex_cny"].to_numpy(dtype=float)
    gm = econ.gross_margin_pct / 100.0
    scale = 1e-3 * max(float(sales[sites].sum()), 1.0)

    index = pd.Series(np.arange(n), index=tab["site_id"].astype(str).to_numpy())
    if len(plan) != sites.size or set(plan["store_id"].astype(str)) != set(index.index[sites]):
        problems.append(f"plan.csv: {len(plan)} rows, but {sites.size} stores are open (or their ids differ)")
        return problems
    rows = index.reindex(plan["store_id"].astype(str)).to_numpy(dtype=np.int64)
    gp = gm * sales[rows]
    ebitda = gp - opex[rows]
    want = {
        "sales_cny_per_year": sales[rows], "gross_profit_cny_per_year": gp, "opex_cny_per_year": opex[rows],
        "ebitda_cny_per_year": ebitda, "capex_cny": capex[rows],
        "cannibalised_sales_pct": np.where(sales[rows] > 0, 100.0 * np.maximum(sales[rows] - gain[rows], 0.0)
                                           / np.where(sales[rows] > 0, sales[rows], 1.0), 0.0),
        "cannibalised_sales_cny_per_year": np.maximum(sales[rows] - gain[rows], 0.0),
    }
    for col, values in want.items():
        tol_scale = 1e-3 if col == "cannibalised_sales_pct" else scale
        for k, (got, w) in enumerate(zip(plan[col].to_numpy(), values, strict=True)):
            if not _close(got, float(w), tol_scale, rtol):
                problems.append(f"plan.csv, store {plan['store_id'].iloc[k]}: {col} is {got}, recomputed {w:.6f}")
    for k, (got, e, c) in enumerate(zip(plan["payback_quarters"].to_numpy(), ebitda, capex[rows], strict=True)):
        empty = got is None or (isinstance(got, float) and np.isnan(got)) or got == ""
        if e <= 0 and not empty:
            problems.append(f"plan.csv, store {plan['store_id'].iloc[k]}: payback_quarters is {got}, but EBITDA <= 0")
        elif e > 0 and not _close(got, c / (e / 4.0), 1e-6, rtol):
            problems.append(f"plan.csv, store {plan['store_id'].iloc[k]}: payback_quarters is {got}, "
                            f"recomputed {c / (e / 4.0):.6f}")

    def totals(part: np.ndarray, where: str) -> None:
        figures = {
            "stores": float(part.size), "sales_cny_per_year": float(sales[part].sum()),
            "gross_profit_cny_per_year": float(gm * sales[part].sum()), "opex_cny_per_year": float(opex[part].sum()),
            "ebitda_cny_per_year": float((gm * sales[part] - opex[part]).sum()), "capex_cny": float(capex[part].sum()),
            "loss_making_stores": float(((gm * sales[part] - opex[part]) <= 0).sum()),
        }
        block = pnl if where == "network" else pnl.get("per_province", {}).get(where, {})
        for key, w in figures.items():
            if not _close(block.get(key), w, scale, rtol):
                problems.append(f"kpis.json pnl ({where}): {key} is {block.get(key)}, recomputed {w:.6f}")

    totals(sites, "network")
    codes = tab["province_code"].astype(str).to_numpy()
    for code in sorted(set(codes[sites])):
        totals(sites[codes[sites] == code], code)

    if rollout is None:
        return problems
    quarters = len(rollout)
    q_of = np.full(n, -2, dtype=np.int64)  # -2: never open
    q_of[sites] = -1 if quarter is None else np.asarray(quarter, dtype=np.int64)
    ramp = max(int(econ.ramp_quarters), 0)
    cum = npv = 0.0
    for t in range(quarters):
        live = (q_of >= -1) & (q_of <= t)
        sales_t, _ = _network_sales(built, live)
        j = np.flatnonzero(live)
        age = t - q_of[j]
        factor = np.where(q_of[j] < 0, 1.0, 1.0 if ramp == 0 else np.minimum(1.0, (age + 1) / max(ramp, 1)))
        s_q = float((sales_t[j] * factor).sum() / 4.0)
        e_q = gm * s_q - float(opex[j].sum()) / 4.0
        cash = e_q - float(capex[q_of == t].sum())
        cum += cash
        npv += cash * (1.0 + econ.discount_rate_pct / 100.0) ** (-t / 4.0)
        label = rollout["quarter"].iloc[t] if "quarter" in rollout else t
        cash_scale = max(scale, 1e-3 * abs(cum))
        for col, w in (("sales_cny", s_q), ("ebitda_cny", e_q), ("cumulative_cash_cny", cum),
                       ("npv_to_date_cny", npv)):
            if col in rollout and not _close(rollout[col].iloc[t], w, cash_scale, rtol):
                problems.append(f"rollout.csv, {label}: {col} is {rollout[col].iloc[t]}, recomputed {w:.6f}")
    if pnl.get("npv_cny") is not None and not _close(pnl["npv_cny"], npv, max(scale, 1e-3 * abs(npv)), rtol):
        problems.append(f"kpis.json pnl: npv_cny is {pnl['npv_cny']}, recomputed {npv:.6f}")
    return problems
