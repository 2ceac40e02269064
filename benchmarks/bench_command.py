"""The front-line command on a scenario: its areas and what the area managers do to the schedule.

Usage::

    planner run scenarios/china-1000.yaml --results R                              # command on (default)
    planner run scenarios/china-1000.yaml --set command.enabled=false --results R0  # the same without it
    .venv/bin/python benchmarks/bench_command.py R/china-1000/latest R0/china-1000/latest

Reads the two run folders (the pipeline wrote them; nothing is solved here) and
prints a markdown table: number of areas, stores per area, workload balance
(max/min, coefficient of variation, with and without the flagged exceptions),
compactness (km from an area's centre county to its stores, per store), the
territory gap and the seconds the territories take, the rollout's gap and
seconds, promotions and area hires, and the openings per quarter with and
without the command. Store networks are illustrative (generated), so are these figures.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd


def _load(folder: Path) -> tuple[dict, dict, pd.DataFrame]:  # type: ignore[type-arg]
    kpis = json.loads((folder / "kpis.json").read_text(encoding="utf-8"))
    run = json.loads((folder / "run.json").read_text(encoding="utf-8"))
    return kpis, run, pd.read_csv(folder / "rollout.csv")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("with_command", type=Path)
    ap.add_argument("without_command", type=Path)
    args = ap.parse_args()
    kpis, run, roll = _load(args.with_command)
    kpis0, run0, roll0 = _load(args.without_command)
    c = kpis["command"]
    reg = c.get("without_exceptions", {})
    print("| scenario | areas | stores/area min–mean–max | workload max/min | CV | max/min, CV w/o exceptions "
          "| compactness km | territory gap | territory s | exceptions |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    print(f"| {kpis['scenario']} | {c['areas']} | {c['stores_per_area_min']:.0f}–{c['stores_per_area_mean']:.1f}–"
          f"{c['stores_per_area_max']:.0f} | {c['workload_max_min_ratio']:.2f} | {c['workload_cv']:.3f} | "
          f"{reg.get('workload_max_min_ratio', float('nan')):.2f}, {reg.get('workload_cv', float('nan')):.3f} | "
          f"{c['compactness_km']:.1f} | {100 * c['gap']:.1f} % | {run['timings_s'].get('command_s', 0):.1f} | "
          f"{c['exceptions']} |")
    print()
    r, r0 = kpis["rollout"], kpis0["rollout"]
    print("| | rollout gap | rollout s | promotions | area hires | openings per quarter |")
    print("|---|---|---|---|---|---|")
    print(f"| without the command | {100 * (r0['gap'] or 0):.2f} % | {run0['timings_s']['rollout_s']:.1f} | – | – | "
          f"{roll0['opened'].tolist()} |")
    print(f"| with the command | {100 * (r['gap'] or 0):.2f} % | {run['timings_s']['rollout_s']:.1f} | "
          f"{c.get('promotions')} | {c.get('area_hires')} | {roll['opened'].tolist()} |")
    print(f"\ntotal run s: {run0['timings_s']['total_s']:.1f} without, {run['timings_s']['total_s']:.1f} with")


if __name__ == "__main__":
    main()
