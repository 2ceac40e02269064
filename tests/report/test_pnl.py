"""Store P&L by hand on two cells and two stores, and on a tiny pipeline run.

Cells: 0 (market 1,000 CNY/yr) and 1 (500), competitor pull 1 each. Store A
(strength 1 at both cells), store B (strength 1 at cell 1 only).
- Cell 0: A takes 1/(1+1) = 1/2 -> 500. Cell 1: S = 2, each store 1/3 of 500.
  Sales A = 500 + 166.67 = 666.67, B = 166.67.
- Without A, cell 0 earns 0 and cell 1 earns 1/2 (vs 2/3): A adds 500 + 83.33,
  so 83.33 of its sales (12.5 %) the network would make anyway; B adds
  (2/3 - 1/2) x 500 = 83.33 of its 166.67 (50 % cannibalised).
- Margin 20 %, opex 50 and 10, capex 400 and 0: EBITDA 83.33 and 23.33; payback
  400 / (83.33 / 4) = 19.2 quarters.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from planner.config.models import EconomicsConfig
from planner.instance import BuiltInstance
from planner.optimise.types import Instance
from planner.report.pnl import pnl_kpis, quarterly_cash, store_npv, store_pnl


def two_stores() -> BuiltInstance:
    inst = Instance(
        weight=np.array([1.0, 1.0]), pair_cell=np.array([0, 1, 1], dtype=np.int32),
        pair_site=np.array([0, 0, 1], dtype=np.int32), pair_km=np.zeros(3), n_sites=2, stores=2,
        radius_km=np.ones(2), site_attr=np.ones(2), competitor_pull=np.ones(2),
    )
    sites = pd.DataFrame({"site_id": ["A", "B"], "opex_cny": [50.0, 10.0], "capex_cny": [400.0, 0.0],
                          "province_code": ["440000", "440000"]})
    cells = pd.DataFrame({"market_cny_per_year": [1000.0, 500.0]})
    return BuiltInstance(instance=inst, sites=sites, cells=cells)


def test_store_pnl_by_hand() -> None:
    pnl = store_pnl(two_stores(), np.array([0, 1]), EconomicsConfig(gross_margin_pct=20.0))
    assert pnl["sales_cny_per_year"].tolist() == pytest.approx([2000 / 3, 500 / 3])
    assert pnl["cannibalised_sales_pct"].tolist() == pytest.approx([12.5, 50.0])
    assert pnl["cannibalised_sales_cny_per_year"].tolist() == pytest.approx(
        (pnl["cannibalised_sales_pct"] / 100 * pnl["sales_cny_per_year"]).tolist())
    assert pnl["ebitda_cny_per_year"].tolist() == pytest.approx([400 / 3 - 50, 100 / 3 - 10])
    assert pnl["payback_quarters"].iloc[0] == pytest.approx(400 / ((400 / 3 - 50) / 4))
    assert pnl["payback_quarters"].iloc[1] == pytest.approx(0.0)  # nothing to pay back


def test_quarterly_cash_ramp_and_capex_in_the_opening_quarter() -> None:
    # A opens in quarter 1, B is open from the start; ramp 2 quarters, no discounting
    econ = EconomicsConfig(gross_margin_pct=20.0, ramp_quarters=2, discount_rate_pct=0.0)
    cash = quarterly_cash(two_stores(), np.array([0, 1]), np.array([1, -1]), econ, 3)
    # quarter 0: B alone takes 1/2 of cell 1 = 250 a year; mature (existing)
    assert cash["sales_cny"].iloc[0] == pytest.approx(250 / 4)
    assert cash["capex_paid_cny"].tolist() == pytest.approx([0.0, 400.0, 0.0])
    # quarter 1: A at half its sales (first quarter of a 2-quarter ramp), B full
    assert cash["sales_cny"].iloc[1] == pytest.approx((0.5 * 2000 / 3 + 500 / 3) / 4)
    assert cash["cumulative_cash_cny"].iloc[-1] == pytest.approx(cash["cash_flow_cny"].sum())


def test_profit_run_writes_pnl(tmp_path: Path) -> None:
    from planner.pipeline import run
    from tests.test_pipeline import prepared

    prep = prepared(objective={"kind": "profit"}, constraints={"total_stores": {"min": 2, "max": 4}})
    res = run(prep.scenario, results_dir=tmp_path, prepared=prep)
    plan = pd.read_csv(res.path / "plan.csv")
    kpis = json.loads((res.path / "kpis.json").read_text(encoding="utf-8"))
    assert 2 <= len(plan) <= 4 and kpis["objective_kind"] == "profit"
    assert plan["ebitda_cny_per_year"].to_numpy() == pytest.approx(
        (plan["gross_profit_cny_per_year"] - plan["opex_cny_per_year"]).to_numpy())
    assert kpis["pnl"]["sales_cny_per_year"] == pytest.approx(plan["sales_cny_per_year"].sum())
    assert kpis["pnl"]["npv_cny"] is not None and (res.path / "cashflow.png").is_file()
    roll = pd.read_csv(res.path / "rollout.csv")
    assert {"sales_cny", "ebitda_cny", "cumulative_cash_cny"} <= set(roll.columns)


def test_store_npvs_sum_to_the_network_npv_and_by_province() -> None:
    built = two_stores()
    built.sites["province_code"] = ["440000", "450000"]
    econ = EconomicsConfig(gross_margin_pct=20.0, ramp_quarters=2, discount_rate_pct=10.0)
    cash = quarterly_cash(built, np.array([0, 1]), np.array([1, -1]), econ, 3)
    npv = store_npv(built, np.array([0, 1]), np.array([1, -1]), econ, 3)
    d = 1.1 ** (-np.arange(3) / 4)
    # B alone in quarter 0 (250 a year); then A ramps in: half its sales in quarter 1, all in quarter 2
    b_sales = np.array([250.0, 500 / 3, 500 / 3]) / 4
    want_b = float(np.sum(d * (0.2 * b_sales - 10 / 4)))
    want_a = float(d[1] * (0.2 * 0.5 * 2000 / 3 / 4 - 50 / 4 - 400) + d[2] * (0.2 * 2000 / 3 / 4 - 50 / 4))
    assert npv.loc[1] == pytest.approx(want_b) and npv.loc[0] == pytest.approx(want_a)
    assert npv.sum() == pytest.approx(cash["npv_to_date_cny"].iloc[-1])
    k = pnl_kpis(store_pnl(built, np.array([0, 1]), econ), built.sites["province_code"], cash, npv)
    assert k["per_province"]["440000"]["npv_cny"] == pytest.approx(want_a)
    assert sum(p["npv_cny"] for p in k["per_province"].values()) == pytest.approx(k["npv_cny"])


def test_profit_rollout_objective_is_the_pnl_npv(tmp_path: Path) -> None:
    from planner.pipeline import run
    from tests.test_pipeline import prepared

    prep = prepared(objective={"kind": "profit"}, constraints={"total_stores": {"min": 2, "max": 4}},
                    rollout={"quarters": 4}, economics={"ramp_quarters": 2, "discount_rate_pct": 8.0})
    res = run(prep.scenario, results_dir=tmp_path, prepared=prep)
    kpis = json.loads((res.path / "kpis.json").read_text(encoding="utf-8"))
    roll = kpis["rollout"]
    assert roll["objective_kind"] == "profit" and roll["objective_unit"] == "CNY" and "NPV" in roll["objective_label"]
    assert roll["objective"] == pytest.approx(kpis["pnl"]["npv_cny"], rel=1e-9, abs=1e-3)
    assert roll["bound"] >= roll["objective"] - 1e-6 * abs(roll["objective"])
    table = pd.read_csv(res.path / "rollout.csv")
    assert table["objective"].sum() == pytest.approx(kpis["pnl"]["npv_cny"], rel=1e-9, abs=1e-3)
    assert table["npv_to_date_cny"].iloc[-1] == pytest.approx(kpis["pnl"]["npv_cny"])
    per = kpis["pnl"]["per_province"]
    assert sum(p["npv_cny"] for p in per.values()) == pytest.approx(kpis["pnl"]["npv_cny"], rel=1e-9, abs=1e-3)


def test_a_store_open_before_the_start_is_mature_whatever_the_ramp() -> None:
    # B open from the start sells its full 250 a year in quarter 0, also with a 4-quarter ramp
    econ = EconomicsConfig(gross_margin_pct=20.0, ramp_quarters=4, discount_rate_pct=0.0)
    cash = quarterly_cash(two_stores(), np.array([0, 1]), np.array([1, -1]), econ, 3)
    assert cash["sales_cny"].iloc[0] == pytest.approx(250 / 4)
    # A opened in quarter 1 at a quarter of its sales, then half
    assert cash["sales_cny"].iloc[1] == pytest.approx((0.25 * 2000 / 3 + 500 / 3) / 4)
    assert cash["sales_cny"].iloc[2] == pytest.approx((0.5 * 2000 / 3 + 500 / 3) / 4)
