"""Benchmark the geodata layers: first build (empty cache) and cached load.

Each measurement runs in a fresh Python process, so imports and in-process
memos do not flatter the numbers. The first build uses an empty temporary
cache folder (it reads every source: GeoNames, boundaries, census, and grids
the provinces); the cached loads then read that folder. Prints a Markdown table
with wall-clock and CPU seconds, the machine's load average (other work on the
machine inflates wall time, not CPU time) and the layer sizes.

Usage::

    .venv/bin/python benchmarks/bench_geodata.py                 # national, resolution 7
    .venv/bin/python benchmarks/bench_geodata.py --provinces 广东省 --repeat 3
    .venv/bin/python benchmarks/bench_geodata.py --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

_CHILD = r"""
import json, sys, time, resource
t0 = time.perf_counter(); c0 = time.process_time()
from planner.config.models import Scenario
from planner.geodata import load_layers
sc = Scenario.model_validate(json.loads(sys.argv[1]))
t1 = time.perf_counter(); c1 = time.process_time()
layers = load_layers(sc)
t2 = time.perf_counter(); c2 = time.process_time()
print(json.dumps({
    "import_s": t1 - t0, "wall_s": t2 - t1, "cpu_s": c2 - c1,
    "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    "cells": len(layers.cells), "candidates": len(layers.candidates), "counties": len(layers.counties),
    "own_stores": len(layers.own_stores), "competitors": len(layers.competitors),
    "population": float(layers.cells["population"].sum()),
}))
"""


def _measure(scenario: dict[str, Any]) -> dict[str, Any]:
    load_before = os.getloadavg()[0]
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, json.dumps(scenario)],
        cwd=ROOT, capture_output=True, text=True, check=True,
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    result["load_avg"] = round((load_before + os.getloadavg()[0]) / 2, 1)
    return result


def run(provinces: list[str], resolution: int, repeat: int, cache_dir: Path | None) -> list[dict[str, Any]]:
    """First build into an empty cache, then ``repeat`` cached loads."""
    with tempfile.TemporaryDirectory(prefix="bench-geodata-") as tmp:
        cache = cache_dir or Path(tmp)
        scenario = {"grid": {"provinces": provinces, "h3_resolution": resolution}, "data": {"cache_dir": str(cache)}}
        rows = [{"run": "first build (empty cache)", **_measure(scenario)}]
        for i in range(repeat):
            rows.append({"run": f"cached load #{i + 1}", **_measure(scenario)})
    return rows


def markdown(rows: list[dict[str, Any]], label: str) -> str:
    """The rows as a Markdown table."""
    head = (
        "| scenario | run | wall s | CPU s | load avg | cells | candidates | own / competitor stores | peak RSS MB |\n"
        "|---|---|---:|---:|---:|---:|---:|---:|---:|"
    )
    lines = [head]
    for r in rows:
        lines.append(
            f"| {label} | {r['run']} | {r['wall_s']:.1f} | {r['cpu_s']:.1f} | {r['load_avg']} | {r['cells']:,} | "
            f"{r['candidates']:,} | {r['own_stores']} / {r['competitors']:,} | {r['max_rss_mb']:.0f} |"
        )
    return "\n".join(lines)


def main() -> None:
    """Command line entry point."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--provinces", nargs="*", default=[], help="restrict to these provinces (default: all 31)")
    ap.add_argument("--resolution", type=int, default=7, help="H3 resolution (default 7)")
    ap.add_argument("--repeat", type=int, default=2, help="cached loads to time (default 2)")
    ap.add_argument("--json", type=Path, help="also write the raw measurements here")
    args = ap.parse_args()
    rows = run(args.provinces, args.resolution, args.repeat, None)
    label = f"{'national' if not args.provinces else '+'.join(args.provinces)}, res {args.resolution}"
    sys.stdout.write(markdown(rows, label) + "\n")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1, ensure_ascii=False), encoding="utf-8")


if __name__ == "__main__":
    main()
