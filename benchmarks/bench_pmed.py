"""OR-Library p-median benchmark: pmed1-40 against the published optima.

Each instance is solved with ``planner.bench.run_pmed`` (what
``planner bench pmed FILE --json`` runs), then the returned plan is re-scored by
the standalone checker ``orlib/check_pmed.py`` in a subprocess (its own
Floyd-Warshall, OR-Library duplicate rule). A plan counts as optimal when the
*checker's* objective equals the published optimum. The reported bound is
valid when it does not exceed the optimum (a lower bound, minimising).

Run: ``.venv/bin/python benchmarks/bench_pmed.py [--time-limit 10] [--only 1-5,40]``
"""

from __future__ import annotations

import argparse
import csv
import re
import subprocess
import sys
from pathlib import Path

from _common import add_common_args, bench_dir, emit, machine, solver_missing, stamp, table

from planner.bench import run_pmed


def parse_only(spec: str | None) -> list[int]:
    if not spec:
        return list(range(1, 41))
    out: list[int] = []
    for part in spec.split(","):
        a, _, b = part.partition("-")
        out += list(range(int(a), int(b or a) + 1))
    return out


def check(checker: Path, inst: Path, ids: list[int], optima: Path) -> tuple[int, float | None, str]:
    """Run the independent checker; (exit code, its objective, last line)."""
    cmd = [sys.executable, str(checker), str(inst), "--optima", str(optima), "--facilities"]
    cmd += [str(i) for i in ids]
    res = subprocess.run(cmd, capture_output=True, text=True, check=False)
    m = re.search(r"^objective=([0-9.eE+-]+)", res.stdout, re.M)
    tail = (res.stdout + res.stderr).strip().splitlines()
    return res.returncode, float(m.group(1)) if m else None, tail[-1] if tail else ""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_common_args(ap)
    ap.add_argument("--time-limit", type=float, default=10.0, help="seconds per instance")
    ap.add_argument("--only", help="instance numbers, e.g. 1-5,40 (default all 40)")
    args = ap.parse_args()
    missing = solver_missing()
    if missing:
        sys.exit(missing)
    data = bench_dir(args)
    pmed_dir = data / "orlib" / "pmed"
    optima_csv = pmed_dir / "optima.csv"
    checker = data / "orlib" / "check_pmed.py"
    with optima_csv.open() as fh:
        optima = {
            r["instance"]: (int(r["n"]), int(r["p"]), float(r["optimum"]))
            for r in csv.DictReader(fh)
        }

    rows = []
    n_opt = n_bound_ok = n_bound = n_checked = 0
    gaps: list[float] = []
    secs: list[float] = []
    for k in parse_only(args.only):
        name = f"pmed{k}"
        path = pmed_dir / f"{name}.txt"
        n, p, opt = optima[name]
        out = run_pmed(path, time_limit_s=args.time_limit)
        rc, checked, note = check(checker, path, out["open"], optima_csv)
        obj = out["objective"]
        agree = checked is not None and abs(checked - obj) <= 1e-6 * max(1.0, obj)
        n_checked += agree
        value = checked if checked is not None else obj
        gap_opt = (value - opt) / opt
        gaps.append(gap_opt)
        secs.append(out["seconds"])
        optimal = checked is not None and abs(checked - opt) < 1e-6 and len(out["open"]) == p
        n_opt += optimal
        bound = out["bound"]
        ok = None if bound is None else bound <= opt + 1e-6
        n_bound += bound is not None
        n_bound_ok += bool(ok)
        rows.append(
            [
                name,
                n,
                p,
                int(opt),
                obj,
                checked,
                "yes" if agree else f"NO ({note})",
                f"{100 * gap_opt:.3f}",
                bound,
                "–" if out["gap"] is None else f"{100 * out['gap']:.3f}",
                {None: "none", True: "yes", False: "NO"}[ok],
                f"{out['seconds']:.2f}",
            ]
        )
        print(
            f"{name}: {obj} (checker {checked}, optimum {opt:g}) {out['seconds']:.2f}s",
            file=sys.stderr,
        )

    count = len(rows)
    summary = table(
        ["instances", "optimal", "mean gap to optimum %", "max gap %", "max s", "mean s",
         "bound reported", "bound valid", "checker agrees"],
        [[count, n_opt, f"{100 * sum(gaps) / count:.4f}", f"{100 * max(gaps):.3f}",
          f"{max(secs):.2f}", f"{sum(secs) / count:.2f}", n_bound, n_bound_ok, n_checked]],
    )  # fmt: skip
    detail = table(
        ["instance", "n", "p", "optimum", "objective", "checker", "checker agrees", "gap to opt %",
         "bound", "own gap %", "bound ≤ opt", "seconds"],
        rows,
    )  # fmt: skip
    emit(
        f"## OR-Library pmed ({stamp()})\n\n"
        f"`benchmarks/bench_pmed.py --time-limit {args.time_limit:g}`; {machine()}. "
        "Seconds include reading the file and all-pairs shortest paths.\n\n"
        f"{summary}\n\n{detail}",
        args,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
