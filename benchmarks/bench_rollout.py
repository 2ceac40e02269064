"""Benchmark the rollout: two-stage vs joint on synthetic instances, and the national-size case.

Usage::

    .venv/bin/python benchmarks/bench_rollout.py            # medium comparison + national (≈ 8 min)
    .venv/bin/python benchmarks/bench_rollout.py --quick    # small instances only (≈ 2 min)
    .venv/bin/python benchmarks/bench_rollout.py --only national

Prints a markdown table: objective (sum over quarters of the quarterly coverage),
proven bound, gap, seconds of the rollout alone, and which methods produced the
plan and the bound. The site selection feeding the two-stage mode is a plain
lazy greedy (:func:`planner.synthetic.greedy_selection`) until
``planner.optimise.solve`` is used instead; its time is not counted.
Instances are the clustered national-like generator
:func:`planner.synthetic.synthetic_rollout_instance` (illustrative data).
"""

from __future__ import annotations

import argparse
import logging
import os
import time
from dataclasses import dataclass

from planner.optimise.rollout import (
    RolloutParams,
    RolloutResult,
    check_rollout,
    plan_joint,
    schedule,
)
from planner.synthetic import greedy_selection, synthetic_rollout_instance

logger = logging.getLogger("bench_rollout")


@dataclass
class Case:
    name: str
    n_cells: int
    n_sites: int
    n_existing: int
    stores: int
    n_provinces: int
    kind: str
    cfg: RolloutParams
    time_limit_s: float


def cases(quick: bool, time_limit_s: float) -> list[Case]:
    medium_cfg = RolloutParams(quarters=10, initial_managers=20, capex_budget_per_quarter_cny=120e6,
                               max_openings_per_province_per_quarter=10)
    out = [
        Case("small coverage (40 openings)", 3_000, 300, 20, 60, 6, "coverage",
             RolloutParams(quarters=6, initial_managers=8, capex_budget_per_quarter_cny=30e6,
                           max_openings_per_province_per_quarter=5), 30.0),
        Case("small market share (40 openings)", 3_000, 300, 20, 60, 6, "market_share",
             RolloutParams(quarters=6, initial_managers=8, capex_budget_per_quarter_cny=30e6,
                           max_openings_per_province_per_quarter=5), 30.0),
    ]
    if not quick:
        out += [
            Case("medium coverage (340 openings)", 30_000, 2_000, 60, 400, 12, "coverage", medium_cfg, 60.0),
            Case("national coverage (850 openings)", 100_000, 10_000, 150, 1_000, 31, "coverage",
                 RolloutParams(quarters=10, initial_managers=60, capex_budget_per_quarter_cny=400e6),
                 time_limit_s),
        ]
    return out


def run_case(case: Case, seed: int) -> list[tuple[str, RolloutResult]]:
    t = time.perf_counter()
    ri = synthetic_rollout_instance(
        n_cells=case.n_cells, n_sites=case.n_sites, n_existing=case.n_existing, stores=case.stores,
        n_provinces=case.n_provinces, kind=case.kind, seed=seed,  # type: ignore[arg-type]
    )
    sol = greedy_selection(ri)
    logger.info("%s: instance %d pairs, selection in %.1f s", case.name, ri.instance.n_pairs,
                time.perf_counter() - t)
    rows = []
    runs = [
        ("two_stage", lambda: schedule(ri, sol, case.cfg, time_limit_s=case.time_limit_s, seed=seed)),
        ("joint", lambda: plan_joint(ri, case.cfg, time_limit_s=case.time_limit_s, seed=seed)),
        ("joint + hint", lambda: plan_joint(ri, case.cfg, time_limit_s=case.time_limit_s, seed=seed, hint=sol)),
    ]
    for mode, fn in runs:
        res = fn()
        assert check_rollout(ri, res, case.cfg) == []
        logger.info("%s %s: %.6g (bound %s) in %.1f s", case.name, mode, res.objective, res.bound, res.seconds)
        rows.append((mode, res))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small instances only")
    ap.add_argument("--time-limit", type=float, default=120.0, help="national time limit per mode (s)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--only", default="", help="run only cases whose name contains this text")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    lines = [
        f"Rollout benchmark ({os.cpu_count()} cores, seed {args.seed}); objective = sum over quarters "
        "of the quarterly objective, seconds = rollout only.",
        "",
        "| case | mode | objective | bound | gap % | seconds | time limit s | primal | bound by | status |",
        "|---|---|---:|---:|---:|---:|---:|---|---|---|",
    ]
    for case in [c for c in cases(args.quick, args.time_limit) if args.only in c.name]:
        for mode, r in run_case(case, args.seed):
            gap = "" if r.gap is None else f"{100 * r.gap:.3f}"
            lines.append(
                f"| {case.name} | {mode} | {r.objective:,.0f} | {r.bound:,.0f} | {gap} | {r.seconds:.1f} | "
                f"{case.time_limit_s:.0f} | {r.methods['primal']} | {r.methods['bound']} | {r.status} |"
            )
    print("\n".join(lines))  # the benchmark's output is the table


if __name__ == "__main__":
    main()
