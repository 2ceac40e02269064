"""Money: each store's sales, gross profit, opex, EBITDA, payback and cannibalisation; the rollout's cash and NPV.

A store's sales are the part of each cell's yearly offline market (CNY, from
``planner.demand``) it captures under the Huff model against the own and the
competitors' stores: ``market_i × a_ij / (S_i + pull_i)`` summed over its cells.
Its *cannibalised* sales are the part the rest of the own network would make
anyway without it (network sales with it minus without it, taken from its own
sales), so a store next to a sister store shows its overlap in CNY. Figures in
``plan.csv`` are those of a mature store in the final network; the quarterly
figures (``rollout.csv``, NPV) use the network open in each quarter, a linear
ramp to maturity over ``economics.ramp_quarters``, capex paid in the opening
quarter and a quarterly discount factor ``(1 + r)^(-t/4)``. Computed for every
objective.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from planner.config.models import EconomicsConfig
from planner.instance import BuiltInstance
from planner.optimise.types import attraction
from planner.report.figures import agg_figure

__all__ = ["store_sales", "store_pnl", "quarterly_cash", "store_npv", "pnl_kpis", "write_cashflow_png", "PNL_COLUMNS"]

#: Columns ``plan.csv`` gains (yearly figures of a mature store).
PNL_COLUMNS = (
    "sales_cny_per_year", "gross_profit_cny_per_year", "opex_cny_per_year", "ebitda_cny_per_year",
    "capex_cny", "payback_quarters", "cannibalised_sales_pct", "cannibalised_sales_cny_per_year",
)


def _pairs(built: BuiltInstance, open_sites: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    inst = built.instance
    is_open = np.zeros(inst.n_sites, dtype=bool)
    is_open[np.asarray(open_sites, dtype=np.int64)] = True
    sel = is_open[inst.pair_site]
    pc = np.asarray(inst.pair_cell, dtype=np.int64)[sel]
    ps = np.asarray(inst.pair_site, dtype=np.int64)[sel]
    attr = np.ones(inst.n_sites) if inst.site_attr is None else np.asarray(inst.site_attr, float)
    a = attraction(attr[ps], np.asarray(inst.pair_km, float)[sel], inst.beta)
    s = np.bincount(pc, weights=a, minlength=inst.n_cells)
    return pc, ps, a, s


def store_sales(built: BuiltInstance, open_sites: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Yearly sales (CNY) of each open site and the part of them the other own stores would make anyway.

    Returns arrays aligned with ``np.unique(open_sites)``.
    """
    inst = built.instance
    sites = np.unique(np.asarray(open_sites, dtype=np.int64))
    market = built.cells["market_cny_per_year"].to_numpy(float)
    pull = np.zeros(inst.n_cells) if inst.competitor_pull is None else np.asarray(inst.competitor_pull, float)
    pc, ps, a, s = _pairs(built, sites)
    pos = np.full(inst.n_sites, -1, dtype=np.int64)
    pos[sites] = np.arange(sites.size)
    den = s[pc] + pull[pc]
    own = np.divide(a, den, out=np.zeros_like(a), where=den > 0)
    sales = np.bincount(pos[ps], weights=market[pc] * own, minlength=sites.size)
    s_wo = np.maximum(s[pc] - a, 0.0)
    den_wo = s_wo + pull[pc]
    with_j = np.divide(s[pc], den, out=np.zeros_like(a), where=den > 0)
    without_j = np.divide(s_wo, den_wo, out=np.zeros_like(a), where=den_wo > 0)
    marginal = np.bincount(pos[ps], weights=market[pc] * (with_j - without_j), minlength=sites.size)
    return sales, np.maximum(sales - marginal, 0.0)


def store_pnl(built: BuiltInstance, open_sites: np.ndarray, econ: EconomicsConfig) -> pd.DataFrame:
    """The P&L columns (:data:`PNL_COLUMNS`) of each open site, indexed by site index (sorted)."""
    sites = np.unique(np.asarray(open_sites, dtype=np.int64))
    sales, cann = store_sales(built, sites)
    tab = built.sites.iloc[sites]
    opex = tab["opex_cny"].to_numpy(float)
    capex = tab["capex_cny"].to_numpy(float)
    gp = econ.gross_margin_pct / 100.0 * sales
    ebitda = gp - opex
    payback = np.where(ebitda > 0, capex / np.where(ebitda > 0, ebitda / 4.0, 1.0), np.nan)
    return pd.DataFrame(
        {
            "sales_cny_per_year": sales,
            "gross_profit_cny_per_year": gp,
            "opex_cny_per_year": opex,
            "ebitda_cny_per_year": ebitda,
            "capex_cny": capex,
            "payback_quarters": payback,
            "cannibalised_sales_pct": np.divide(100.0 * cann, sales, out=np.zeros_like(sales), where=sales > 0),
            "cannibalised_sales_cny_per_year": cann,
        },
        index=sites,
    )


def _store_quarters(
    built: BuiltInstance, open_sites: np.ndarray, quarter: np.ndarray | None, econ: EconomicsConfig, quarters: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per open store (sorted site index) and quarter: sales, EBITDA and capex paid (CNY in the quarter).

    Returns ``sites`` and three float[stores, quarters] arrays; a store not yet
    open has zeros. ``quarter`` as in :func:`quarterly_cash`.
    """
    sites = np.unique(np.asarray(open_sites, dtype=np.int64))
    if quarter is None:
        q_of = np.full(sites.size, -1, dtype=np.int64)
    else:
        order = np.argsort(np.asarray(open_sites, dtype=np.int64))
        q_of = np.asarray(quarter, dtype=np.int64)[order]
    tab = built.sites.iloc[sites]
    opex = tab["opex_cny"].to_numpy(float)
    capex = np.where(q_of >= 0, tab["capex_cny"].to_numpy(float), 0.0)
    gm = econ.gross_margin_pct / 100.0
    ramp = max(int(econ.ramp_quarters), 0)
    sales = np.zeros((sites.size, quarters))
    ebitda = np.zeros((sites.size, quarters))
    paid = np.zeros((sites.size, quarters))
    for t in range(quarters):
        live = q_of <= t
        sales_y, _ = store_sales(built, sites[live])
        age = t - q_of[live]  # quarters since opening
        factor = np.ones(age.size) if ramp == 0 else np.minimum(1.0, (age + 1) / ramp)
        factor[q_of[live] < 0] = 1.0  # stores open before the start are mature
        sales[live, t] = sales_y * factor / 4.0
        ebitda[live, t] = gm * sales[live, t] - opex[live] / 4.0
        paid[q_of == t, t] = capex[q_of == t]
    return sites, sales, ebitda, paid


def _discount(econ: EconomicsConfig, quarters: int) -> np.ndarray:
    """Quarterly discount factors ``(1 + r)^(-t/4)``."""
    return np.asarray((1.0 + econ.discount_rate_pct / 100.0) ** (-np.arange(quarters) / 4.0), dtype=float)


def quarterly_cash(
    built: BuiltInstance, open_sites: np.ndarray, quarter: np.ndarray | None, econ: EconomicsConfig, quarters: int
) -> pd.DataFrame:
    """Per quarter: sales, EBITDA, capex, cash flow, cumulative cash and its discounted sum (CNY).

    ``quarter`` is each open site's opening quarter (0-based, -1 = open before the
    start; None: everything open from the start). ``npv_to_date_cny`` in the last
    quarter is the network's NPV; with ``objective.kind: profit`` the rollout
    maximised it (its ``objective`` is the same figure).
    """
    _, sales, ebitda, paid = _store_quarters(built, open_sites, quarter, econ, quarters)
    d = _discount(econ, quarters)
    rows = []
    cum = npv = 0.0
    for t in range(quarters):
        sales_q, ebitda_q, capex_q = float(sales[:, t].sum()), float(ebitda[:, t].sum()), float(paid[:, t].sum())
        cash = ebitda_q - capex_q
        cum += cash
        npv += cash * d[t]
        rows.append({"sales_cny": sales_q, "ebitda_cny": ebitda_q, "capex_paid_cny": capex_q,
                     "cash_flow_cny": cash, "cumulative_cash_cny": cum, "npv_to_date_cny": npv})
    return pd.DataFrame(rows)


def store_npv(
    built: BuiltInstance, open_sites: np.ndarray, quarter: np.ndarray | None, econ: EconomicsConfig, quarters: int
) -> pd.Series:
    """Each open store's discounted cash over the horizon (CNY), indexed by site index; sums to the network NPV.

    A store's cash in a quarter is its own EBITDA (its captured sales under the
    network open then, ramped, times the gross margin, minus its opex) minus the
    capex it pays on opening, discounted as in :func:`quarterly_cash`.
    """
    sites, _, ebitda, paid = _store_quarters(built, open_sites, quarter, econ, quarters)
    return pd.Series((ebitda - paid) @ _discount(econ, quarters), index=sites, dtype=float)


def pnl_kpis(
    pnl: pd.DataFrame, provinces: pd.Series, cash: pd.DataFrame | None, npv: pd.Series | None = None,
) -> dict[str, Any]:
    """``kpis.json``'s ``pnl``: network totals, NPV over the horizon, and the same per province.

    ``npv`` (:func:`store_npv`, with the rollout) gives each province's ``npv_cny``:
    the discounted cash of its stores, so the provinces' NPVs sum to the network's.
    """

    def totals(df: pd.DataFrame) -> dict[str, Any]:
        return {
            "stores": int(len(df)),
            "sales_cny_per_year": float(df["sales_cny_per_year"].sum()),
            "gross_profit_cny_per_year": float(df["gross_profit_cny_per_year"].sum()),
            "opex_cny_per_year": float(df["opex_cny_per_year"].sum()),
            "ebitda_cny_per_year": float(df["ebitda_cny_per_year"].sum()),
            "capex_cny": float(df["capex_cny"].sum()),
            "loss_making_stores": int((df["ebitda_cny_per_year"] <= 0).sum()),
        }

    out: dict[str, Any] = totals(pnl)
    out["npv_cny"] = None if cash is None or cash.empty else float(cash["npv_to_date_cny"].iloc[-1])
    out["note"] = "yearly figures of mature stores in the final network; economics parameters marked " \
                  "ASSUMPTION in scenarios/defaults.yaml are illustrative"
    prov = provinces.reindex(pnl.index).astype(str)
    out["per_province"] = {}
    for code in sorted(prov.unique()):
        part = pnl[prov == code]
        row = totals(part)
        row["npv_cny"] = None if npv is None else float(npv.reindex(part.index).fillna(0.0).sum())
        out["per_province"][code] = row
    return out


def write_cashflow_png(path: Any, *, cash: pd.DataFrame, labels: list[str], kpis: dict[str, Any], dpi: int = 150) -> Any:
    """The rollout's J-curve: cash flow per quarter (bars) and cumulative cash (line), million CNY."""
    x = np.arange(len(cash))
    fig = agg_figure(figsize=(10, 5))  # no pyplot: a notebook's backend stays as it is
    ax = fig.subplots()
    ax.bar(x, cash["cash_flow_cny"] / 1e6, color="#6a3d9a", alpha=0.7, label="cash flow in the quarter (EBITDA - capex)")
    ax.plot(x, cash["cumulative_cash_cny"] / 1e6, color="#1f2937", marker="o", label="cumulative cash")
    ax.axhline(0.0, color="#999999", linewidth=0.8)
    ax.set_xticks(x, labels[: len(cash)], rotation=45)
    ax.set_ylabel("million CNY")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize=8)
    npv = (kpis.get("pnl") or {}).get("npv_cny")
    npv_txt = "" if npv is None else f" · NPV {npv / 1e6:,.0f} M CNY"
    fig.suptitle(f"{kpis.get('scenario', '')}: cash over the rollout{npv_txt}")
    fig.text(0.5, 0.005, "Economics parameters marked ASSUMPTION are illustrative"
             + ("; existing and competitor stores are generated, not real." if kpis.get("illustrative_networks") else "."),
             ha="center", fontsize=8, color="#8a5a00")
    fig.tight_layout(rect=(0, 0.03, 1, 0.97))
    fig.savefig(path, dpi=dpi)
    return path
