"""p-median on generated graphs of the OR-Library's sizes: pmed1-40's (n, p), new graphs.

Each graph is made by :func:`planner.synthetic.orlib_like_pmed` (a path through all
vertices, then random edges up to ``n**2 / 50`` lines, integer costs U(1, 100),
repeated pairs allowed as in the published files), written in the OR-Library format,
solved by ``planner.bench.run_pmed`` (what ``planner bench pmed FILE`` runs) and
re-scored by the standalone checker ``orlib/check_pmed.py``. No published optimum
exists for these graphs: a plan counts as optimal when the solver proves it (its bound
equals the checker's objective) or when it equals the optimum of an independent MILP
(the assignment formulation over the checker-rule shortest paths, built here with
scipy and solved by SCIP through OR-Tools; ``--reference-n-max`` sets the largest n
it is tried on, 0 skips it).

Run: ``.venv/bin/python benchmarks/bench_pmed_generated.py [--time-limit 10] [--only 1-10]
[--seed 0] [--reference-n-max 200] [--reference-time-limit 120]``
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import add_common_args, bench_dir, emit, machine, solver_missing, stamp, table
from bench_pmed import check, parse_only
from ortools.linear_solver import pywraplp
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import shortest_path

from planner.bench import run_pmed
from planner.synthetic import orlib_like_pmed


def reference_optimum(path: Path, time_limit_s: float) -> tuple[float | None, bool]:
    """The MILP's objective and whether SCIP proved it optimal (its own reading, last cost wins)."""
    tok = path.read_text().split()
    n, m, p = int(tok[0]), int(tok[1]), int(tok[2])
    e = np.asarray(tok[3 : 3 + 3 * m], dtype=np.int64).reshape(m, 3)
    cost: dict[tuple[int, int], int] = {}
    for a, b, c in e:
        i, j = sorted((int(a) - 1, int(b) - 1))
        cost[(i, j)] = int(c)  # the last listed wins
    ij = np.array(list(cost), dtype=np.int64)
    w = np.array(list(cost.values()), dtype=float)
    g = coo_matrix((np.concatenate([w, w]), (np.concatenate([ij[:, 0], ij[:, 1]]), np.concatenate([ij[:, 1], ij[:, 0]]))),
                   shape=(n, n)).tocsr()
    d = shortest_path(g, method="D", directed=False)
    solver = pywraplp.Solver.CreateSolver("SCIP")
    if solver is None:
        return None, False
    y = [solver.BoolVar(f"y{j}") for j in range(n)]
    x = [[solver.NumVar(0, 1, "") for j in range(n)] for i in range(n)]
    for i in range(n):
        solver.Add(sum(x[i]) == 1)
        for j in range(n):
            solver.Add(x[i][j] <= y[j])
    solver.Add(sum(y) == p)
    solver.Minimize(sum(float(d[i, j]) * x[i][j] for i in range(n) for j in range(n)))
    solver.SetTimeLimit(int(time_limit_s * 1000))
    status = solver.Solve()
    if status not in (pywraplp.Solver.OPTIMAL, pywraplp.Solver.FEASIBLE):
        return None, False
    return float(round(solver.Objective().Value())), status == pywraplp.Solver.OPTIMAL


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_common_args(ap)
    ap.add_argument("--time-limit", type=float, default=10.0, help="seconds per instance")
    ap.add_argument("--only", help="size numbers (pmed1-40's n and p), e.g. 1-5,40 (default all 40)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--reference-n-max", type=int, default=200, help="largest n the independent MILP runs on (0: none)")
    ap.add_argument("--reference-time-limit", type=float, default=120.0)
    ap.add_argument("--work-dir", help="where the generated files go (default: a temporary folder)")
    args = ap.parse_args()
    missing = solver_missing()
    if missing:
        sys.exit(missing)
    data = bench_dir(args)
    checker = data / "orlib" / "check_pmed.py"
    with (data / "orlib" / "pmed" / "optima.csv").open() as fh:
        sizes = {r["instance"]: (int(r["n"]), int(r["p"])) for r in csv.DictReader(fh)}
    work = Path(args.work_dir or tempfile.mkdtemp(prefix="pmed-gen-"))
    work.mkdir(parents=True, exist_ok=True)
    rows = []
    n_opt = n_proven = n_ref = n_ref_equal = n_checked = 0
    gaps, secs = [], []
    for k in parse_only(args.only):
        n, p = sizes[f"pmed{k}"]
        path = work / f"gen{k}-seed{args.seed}.txt"
        path.write_text(orlib_like_pmed(n, p, seed=1000 * args.seed + k))
        out = run_pmed(path, time_limit_s=args.time_limit)
        _rc, checked, _note = check(checker, path, out["open"], data / "orlib" / "pmed" / "optima.csv")
        obj = out["objective"]
        agree = checked is not None and abs(checked - obj) <= 1e-6 * max(1.0, obj)
        n_checked += agree
        value = checked if checked is not None else obj
        bound = out.get("bound")
        proven = bound is not None and value - bound <= 1e-6 * max(1.0, value)
        n_proven += proven
        ref, ref_opt, ref_s = None, False, None
        if n <= args.reference_n_max:
            t0 = time.perf_counter()
            ref, ref_opt = reference_optimum(path, args.reference_time_limit)
            ref_s = time.perf_counter() - t0
        if ref is not None and ref_opt:
            n_ref += 1
            n_ref_equal += abs(ref - value) <= 1e-6 * max(1.0, value)
            if bound is not None and bound > ref + 1e-6 * ref:
                print(f"gen{k}: the bound {bound} exceeds the MILP's optimum {ref}: an invalid bound", file=sys.stderr)
        optimal = proven or (ref is not None and ref_opt and abs(ref - value) <= 1e-6 * max(1.0, value))
        n_opt += optimal
        gap = (value - bound) / value if bound is not None and value > 0 else None
        if gap is not None:
            gaps.append(max(gap, 0.0))
        secs.append(out["seconds"])
        print(f"gen{k} n={n} p={p}: {value} bound {bound} ({'proven' if proven else 'open'}) "
              f"ref {ref} {out['seconds']:.2f}s", file=sys.stderr)
        rows.append([
            f"gen{k}", n, p, f"{value:g}", "yes" if agree else "NO", None if bound is None else f"{bound:g}",
            None if gap is None else f"{100 * gap:.3f}", "yes" if proven else "no",
            "–" if ref is None else f"{ref:g}{'' if ref_opt else ' (not proven)'}",
            "–" if ref_s is None else f"{ref_s:.1f}", f"{out['seconds']:.2f}",
        ])  # fmt: skip
    head = (
        f"## p-median on generated graphs of the OR-Library sizes ({stamp()})\n\n"
        f"`benchmarks/bench_pmed_generated.py --seed {args.seed} --time-limit {args.time_limit:g} "
        f"--reference-n-max {args.reference_n_max}`; {machine()}. {len(rows)} graphs; optimal (proven by "
        f"the solver's bound, or equal to the independent MILP's proven optimum): **{n_opt}/{len(rows)}**; "
        f"proven by the solver: **{n_proven}/{len(rows)}**; MILP optimum known on {n_ref}, equal on "
        f"{n_ref_equal}; checker agrees on {n_checked}/{len(rows)}; own gap mean "
        f"{100 * (np.mean(gaps) if gaps else float('nan')):.4f} %, max {100 * (max(gaps) if gaps else float('nan')):.3f} %; "
        f"seconds max {max(secs):.2f}, mean {np.mean(secs):.2f}.\n\n"
    )
    emit(head + table(
        ["graph", "n", "p", "objective (checker)", "checker agrees", "bound", "own gap %", "proven",
         "MILP optimum", "MILP s", "seconds"], rows,
    ), args)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
