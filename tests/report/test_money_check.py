"""The money checker recomputes every P&L figure of a run and names each one that differs."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np

from planner.pipeline import run
from planner.report.money_check import check_money
from tests.test_pipeline import prepared


def _run(tmp_path: Path):
    prep = prepared(objective={"kind": "market_share"})
    result = run(prep.scenario, results_dir=tmp_path, prepared=prep, write_map=False)
    sol = result.solution
    assert sol is not None and result.rollout is not None
    return prep, sol, result


def test_the_runs_money_passes_and_every_kind_of_error_is_named(tmp_path: Path) -> None:
    prep, sol, result = _run(tmp_path)
    plan, pnl, roll = result.plan.drop(columns="geometry"), result.kpis["pnl"], result.rollout
    econ = prep.scenario.economics
    args = (prep.built, sol.open_sites, sol.quarter, econ)
    assert check_money(*args, plan, pnl, roll) == []
    assert plan["sales_cny_per_year"].gt(0).all() and np.isfinite(pnl["npv_cny"])

    bad = plan.copy()
    store = str(bad["store_id"].iloc[1])
    bad.loc[bad.index[1], "sales_cny_per_year"] *= 1.001  # a store's sales off by 0.1 %
    assert any(store in p and "sales_cny_per_year" in p for p in check_money(*args, bad, pnl, roll))
    bad = plan.copy()
    bad.loc[bad.index[0], "payback_quarters"] = np.nan if bad["ebitda_cny_per_year"].iloc[0] > 0 else 3.0
    assert any("payback_quarters" in p for p in check_money(*args, bad, pnl, roll))
    wrong = copy.deepcopy(pnl)
    code = sorted(wrong["per_province"])[0]
    wrong["per_province"][code]["ebitda_cny_per_year"] += 1e6
    assert any(f"({code})" in p and "ebitda" in p for p in check_money(*args, plan, wrong, roll))
    late = roll.copy()
    late.loc[late.index[-1], "cumulative_cash_cny"] += 1e6
    assert any("cumulative_cash_cny" in p for p in check_money(*args, plan, pnl, late))
    # a schedule other than the one the figures were computed on: the quarters disagree
    q = np.asarray(sol.quarter).copy()
    new = q >= 0
    if new.any():
        q[new] = np.minimum(q[new] + 1, len(roll) - 1) if (q[new] < len(roll) - 1).any() else 0
        assert check_money(prep.built, sol.open_sites, q, econ, plan, pnl, roll)
    # a plan missing a store
    assert "rows" in check_money(*args, plan.iloc[1:], pnl, roll)[0]
