"""Leader-follower benchmark: ``planner bench compete`` on synthetic instances built here.

Each instance is :func:`planner.synthetic.synthetic_compete` (a clustered
national-like instance; the rivals may open on the leader's own candidate sites
with attraction 1.2) written in the interchange format plus the follower's
arrays, then solved by the real command line (``planner bench compete FILE
--time-limit S --json``, one fresh process each). The table reports sizes, the
leader's share (market-share objective, as a fraction of all demand) before and
after the follower's response, the max-min bound and gap, the follower's
proven gap and the wall time.

Run: ``.venv/bin/python benchmarks/bench_compete.py [--time-limit 60] [--sizes small,medium,large]``
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import REPO, machine, stamp, table

from planner.bench import write_compete_npz
from planner.synthetic import synthetic_compete

SIZES = {
    "micro": dict(cells=300, candidates=30, stores=6, existing=2, follower_stores=3),
    "small": dict(cells=2_000, candidates=200, stores=20, existing=5, follower_stores=10),
    "medium": dict(cells=20_000, candidates=2_000, stores=200, existing=30, follower_stores=100),
    "large": dict(cells=100_000, candidates=10_000, stores=1_000, existing=150, follower_stores=800),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--time-limit", type=float, default=60.0)
    ap.add_argument("--sizes", default="micro,small,medium,large")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.sizes.split(","):
            size = SIZES[name]
            inst, fol = synthetic_compete(seed=args.seed, **size)
            path = write_compete_npz(Path(tmp) / f"{name}.npz", inst, fol)
            t0 = time.perf_counter()
            proc = subprocess.run(
                [sys.executable, "-m", "planner.cli", "bench", "compete", str(path), "--time-limit",
                 str(args.time_limit), "--json"],
                capture_output=True, text=True, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)},
            )
            wall = time.perf_counter() - t0
            if proc.returncode != 0:
                rows.append([name, "failed", proc.stderr.strip().splitlines()[-1] if proc.stderr else ""])
                continue
            out = json.loads(proc.stdout.strip().splitlines()[-1])
            total = float(inst.weight.sum())
            rows.append([
                name, f"{inst.n_cells:,}", f"{inst.n_sites:,}", f"{inst.n_pairs:,}", str(inst.stores), str(fol.stores),
                f"{100 * out['objective_without_response'] / total:.3f}", f"{100 * out['objective'] / total:.3f}",
                "–" if out["bound"] is None else f"{100 * out['bound'] / total:.3f}",
                "–" if out["gap"] is None else f"{100 * out['gap']:.2f}",
                "–" if out["response_gap"] is None else f"{100 * out['response_gap']:.2f}",
                f"{out['seconds']:.1f}", f"{wall:.1f}",
            ])
    header = ["size", "cells", "sites", "pairs", "stores", "rival stores", "share before %", "share after %",
              "max-min bound %", "gap %", "response gap %", "s (reported)", "s (wall)"]
    print(f"`{' '.join(sys.argv)}` · {stamp()} · {machine()}\n")
    print(table(header, rows))


if __name__ == "__main__":
    main()
