"""The ``profit`` rollout on a synthetic instance: the NPV of scheduling by market share vs by NPV.

Usage::

    PYTHONPATH=. .venv/bin/python benchmarks/bench_rollout_npv.py [--time-limit 30] [--margin 100]

The instance is :func:`planner.synthetic.synthetic_rollout_instance` (market share,
illustrative data) with a plain greedy selection; the same selection is scheduled
twice, once maximising the sum of the quarterly market share and once the NPV
(margin CNY per unit of captured weight and year, the generator's capex and
opex, a 4-quarter ramp, 8 % a year). Prints both schedules' exact NPV (the same
formula as ``planner.report.pnl``), the NPV rollout's bound and gap, and seconds.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

import numpy as np

from planner.optimise.rollout import RolloutParams, check_rollout, schedule
from planner.optimise.rollout.model import quarter_cash
from planner.synthetic import greedy_selection, synthetic_rollout_instance


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--time-limit", type=float, default=30.0)
    ap.add_argument("--margin", type=float, default=100.0)
    args = ap.parse_args()
    params = RolloutParams(quarters=8, initial_managers=8, capex_budget_per_quarter_cny=None,
                           max_openings_per_province_per_quarter=5)
    share = synthetic_rollout_instance(n_cells=3_000, n_sites=300, n_existing=20, stores=60, n_provinces=6,
                                       kind="market_share", seed=1)
    sel = greedy_selection(share)
    money = replace(share, objective_kind="profit", margin=args.margin, discount_rate_pct=8.0, ramp_quarters=4,
                    cache={})
    rows = []
    for name, rinst in (("by market share", share), ("by NPV", money)):
        t0 = time.perf_counter()
        res = schedule(rinst, sel, params, time_limit_s=args.time_limit)
        secs = time.perf_counter() - t0
        assert check_rollout(rinst, res, params) == []
        new = res.quarter >= 0
        npv = float(quarter_cash(money, params.quarters, res.open_sites[~new], res.open_sites[new],
                                 res.quarter[new]).sum())
        bound = res.bound if rinst is money else None
        rows.append((name, npv, bound, res.gap if rinst is money else None, secs, res.methods.get("primal", "")))
    print("| schedule | NPV (M CNY) | bound (M CNY) | gap | s | primal |")
    print("|---|---:|---:|---:|---:|---|")
    for name, npv, bound, gap, secs, primal in rows:
        b = "" if bound is None else f"{bound / 1e6:,.2f}"
        g = "" if gap is None else f"{100 * gap:.2f} %"
        print(f"| {name} | {npv / 1e6:,.2f} | {b} | {g} | {secs:.1f} | {primal} |")
    print(f"\nNPV by NPV - by market share: {(rows[1][1] - rows[0][1]) / 1e6:+,.2f} M CNY "
          f"({100 * (rows[1][1] - rows[0][1]) / max(abs(rows[0][1]), 1e-9):+.2f} %); "
          f"{int(np.sum(sel.open_sites.size))} stores, margin {args.margin:g} CNY per unit of weight and year")


if __name__ == "__main__":
    main()
