"""The NPV of a finished run's rollout, recomputed with the current P&L (``planner.report.pnl``).

Reads a run folder's ``config.resolved.yaml`` and ``plan.csv`` (store ids and their
opening quarters), rebuilds the scenario's instance and prints the rollout's NPV
(CNY) under today's formula. Used to compare runs made by older code (whose
``kpis.json`` may hold an NPV from an older formula) with new ones.

    PYTHONPATH=. python benchmarks/npv_of_run.py RUN_FOLDER [RUN_FOLDER ...]
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

from planner.config import load_scenario
from planner.optimise.rollout.types import quarter_labels
from planner.pipeline import prepare
from planner.report.pnl import quarterly_cash


def run_npv(folder: Path) -> tuple[float, int]:
    """(NPV in CNY, stores) of the schedule in ``folder`` under the current P&L."""
    sc = load_scenario(folder / "config.resolved.yaml")
    prep = prepare(sc)
    plan = pd.read_csv(folder / "plan.csv", dtype={"quarter": str, "store_id": str}, encoding="utf-8-sig")
    ids = prep.built.sites["site_id"].astype(str)
    index = pd.Series(np.arange(len(ids)), index=ids.to_numpy())
    sites = index.reindex(plan["store_id"]).to_numpy()
    if np.isnan(sites.astype(float)).any():
        raise SystemExit(f"{folder}: plan.csv names stores the rebuilt instance does not hold")
    labels = quarter_labels(sc.rollout.start_quarter, sc.rollout.quarters)
    pos = {q: i for i, q in enumerate(labels)}
    quarter = np.array([pos.get(str(q), -1) if isinstance(q, str) else -1 for q in plan["quarter"]], dtype=np.int64)
    cash = quarterly_cash(prep.built, sites.astype(np.int64), quarter, sc.economics, sc.rollout.quarters)
    return float(cash["npv_to_date_cny"].iloc[-1]), len(plan)


if __name__ == "__main__":
    for arg in sys.argv[1:]:
        npv, n = run_npv(Path(arg))
        print(f"{arg}: {n} stores, NPV {npv:,.0f} CNY")
