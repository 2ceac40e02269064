"""Before / after figures for deterministic profit and tree searches (issue 17).

Solves, each once at its default work budget (``WORK_PER_LIMIT_S`` x the time limit):
the profit objective on the national-size synthetic instance (``bench_profit``'s
``national-100k`` with a count range and ``national-100k-exact``), national market
share (its regional path with the priced regional branching), logit maximum-capture
instances the market-share tree search closes, and p-median instances the
Lagrangian tree search closes (OR-Library p = 5, 10). Prints one JSON line per solve
(objective, bound, gap, seconds, status, methods, tree/work counters). Logit instances
are solved to a zero gap target, as ``bench_logit`` does, the others to the default 0.5 %.

    PYTHONPATH=. .venv/bin/python benchmarks/bench_det2.py [--only profit ms logit pmed] [--cache /tmp/det2-bench]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from planner.bench import read_npz, write_npz
from planner.optimise.incumbent import WORK_PER_LIMIT_S
from planner.optimise.solve import solve
from planner.synthetic import logit_capture_instance, synthetic_instance, with_profit

CASES = {
    "profit": [
        ("national-100k", "profit", 60.0, lambda: with_profit(
            synthetic_instance(cells=100_000, candidates=10_000, stores=1000, existing=150, seed=0,
                               objective="market_share"), seed=0, cost_ratio=0.3, stores_min=150, stores_max=1500)),
        ("national-100k-exact", "profit", 60.0, lambda: with_profit(
            synthetic_instance(cells=100_000, candidates=10_000, stores=1000, existing=150, seed=0,
                               objective="market_share"), seed=0, cost_ratio=0.3)),
    ],
    "ms": [
        ("national-100k-ms", "market_share", 60.0, lambda: synthetic_instance(
            cells=100_000, candidates=10_000, stores=1000, existing=150, seed=0, objective="market_share")),
    ],
    "logit": [
        (f"logit-{n}-{r}-{b}-{a}", "market_share", 10.0,
         (lambda n=n, r=r, b=b, a=a: logit_capture_instance(n, r, seed=1, beta_util=b, alpha=a)))
        for n, r, b, a in [(100, 8, 0.05, 0.1), (200, 10, 0.2, 0.1), (200, 10, 0.1, 1.0), (200, 5, 5.0, 0.1)]
    ],
}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", nargs="*", default=["profit", "ms", "logit", "pmed"])
    ap.add_argument("--cache", default="/tmp/det2-bench")
    ap.add_argument("--pmed", default="../shared/bench/orlib/pmed")
    ap.add_argument("--limit-scale", type=float, default=1.0,
                    help="multiply every nominal time limit (and so the work budget) by this")
    ap.add_argument("--headroom", type=float, default=1.0,
                    help="wall-clock limit = this x the nominal limit, the work budget staying at its default share "
                         "of the nominal one (e.g. 10: the safety net cannot fire on a loaded machine)")
    args = ap.parse_args()
    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    todo = [c for group in args.only if group != "pmed" for c in CASES[group]]
    for name, kind, limit0, make in todo:
        limit = limit0 * args.limit_scale
        f = cache / f"{name}.npz"
        if not f.exists():
            write_npz(f, make())
        inst = read_npz(f)
        t0, c0 = time.perf_counter(), time.process_time()
        sol = solve(inst, kind, time_limit_s=limit * args.headroom,  # type: ignore[arg-type]
                    work_limit_s=WORK_PER_LIMIT_S * limit, gap_target=0.0 if name.startswith("logit") else 0.005)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        print(json.dumps({
            "instance": name, "kind": kind, "limit_s": limit, "objective": sol.objective, "bound": sol.bound,
            "gap_pct": None if sol.gap is None else round(100 * sol.gap, 4), "seconds": round(wall, 2),
            "cpu_s": round(cpu, 2), "status": sol.status, "stores": int(sol.open_sites.size), "methods": sol.methods,
            "stats": {k: v for k, v in sol.stats.items() if not k.endswith("_s") or k.startswith("work")},
        }), flush=True)
    if "pmed" in args.only:
        from planner.bench import run_pmed

        for i in (1, 6, 11, 16, 21, 26, 31, 35):  # p = 5 or 10 (n = 100 .. 900)
            t0 = time.perf_counter()
            r = run_pmed(Path(args.pmed) / f"pmed{i}.txt", time_limit_s=10.0 * args.headroom,
                         work_limit_s=WORK_PER_LIMIT_S * 10.0)
            print(json.dumps({"instance": f"pmed{i}", "seconds": round(time.perf_counter() - t0, 2),
                              **{k: r[k] for k in ("objective", "bound", "gap", "status") if k in r}}), flush=True)


if __name__ == "__main__":
    main()
