"""Profit objective on two generated instance families, through the benchmark contract.

Builds instances with :mod:`planner.synthetic` (``synthetic_instance``, national-like,
and ``clustered_instance``) plus :func:`planner.synthetic.with_profit`, writes each as an
interchange ``.npz`` and solves it with ``planner bench instance FILE.npz --objective profit``
(a subprocess, as outside checks run it); the plan is re-scored by the checker's own
profit formula. Illustrative instances: the figures say how the solver behaves.

    python benchmarks/bench_profit.py --out /tmp/profit-bench --time-limit 60
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from planner.bench import read_npz, write_npz
from planner.optimise.check import objective_value
from planner.synthetic import clustered_instance, synthetic_instance, with_profit

FAMILIES = {
    "national-100k": lambda: with_profit(
        synthetic_instance(cells=100_000, candidates=10_000, stores=1000, existing=150, seed=0,
                           objective="market_share"),
        seed=0, cost_ratio=0.3, stores_min=150, stores_max=1500),
    "national-100k-exact": lambda: with_profit(
        synthetic_instance(cells=100_000, candidates=10_000, stores=1000, existing=150, seed=0,
                           objective="market_share"),
        seed=0, cost_ratio=0.3),
    "clustered-20k": lambda: with_profit(
        clustered_instance(n_cells=20_000, n_sites=3_000, stores=300, n_fixed=30, seed=0, radius_km=6.0,
                           max_km=10.0),
        seed=0, cost_ratio=0.2, stores_min=30, stores_max=600),
    "clustered-5k": lambda: with_profit(
        clustered_instance(n_cells=5_000, n_sites=800, stores=80, n_fixed=8, seed=1, radius_km=6.0, max_km=10.0),
        seed=1, cost_ratio=0.2, stores_min=8, stores_max=200),
}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="/tmp/profit-bench")
    ap.add_argument("--time-limit", type=float, default=60.0)
    ap.add_argument("--only", nargs="*")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    planner = str(Path(sys.executable).with_name("planner"))
    rows = []
    for name, make in FAMILIES.items():
        if args.only and name not in args.only:
            continue
        f = out / f"{name}.npz"
        if not f.exists():
            write_npz(f, make())
        res = subprocess.run([planner, "bench", "instance", str(f), "--objective", "profit",
                              "--time-limit", str(args.time_limit), "--json"],
                             capture_output=True, text=True, check=True)
        r = json.loads(res.stdout.strip().splitlines()[-1])
        inst = read_npz(f)
        again = objective_value(inst, np.asarray(r["open"], dtype=np.int64), "profit")
        rows.append({"instance": name, "cells": inst.n_cells, "sites": inst.n_sites, "pairs": inst.n_pairs,
                     "range": inst.store_range(), "stores": len(r["open"]), "objective": r["objective"],
                     "rescored": again, "bound": r["bound"], "gap_pct": None if r["gap"] is None else 100 * r["gap"],
                     "seconds": r["seconds"]})
        print(json.dumps(rows[-1]), flush=True)


if __name__ == "__main__":
    main()
