"""Maximum capture with logit (random utility) choice: gaps within 10 s, against an independent MILP.

Instances are generated in the style of the literature's HM14 sets
(``planner.synthetic.logit_utilities``: n customers = n candidate locations,
``v_ij = a_j - beta_util d_ij``, a competitor / no-purchase alternative worth
``alpha`` times the whole candidate set), encoded in the interchange format
(``encode_logit``: strengths ``e^{v_ij}`` scaled per customer, so ``pair_km`` runs
over many orders of magnitude) and solved as market share by ``solve``. Each plan
is re-scored from the utilities directly (``logit_capture``). The reference optimum
comes from Haase's (2009) MILP (choice probabilities ``x_ij <= (e^{v_ij} / U_i) x_i0``,
``x_ij <= e^{v_ij} / (e^{v_ij} + U_i) y_j``, ``sum_j x_ij + x_i0 = 1``) solved by SCIP
through OR-Tools with a long time limit, which shares no code with the solver.

Run: ``.venv/bin/python benchmarks/bench_logit.py [--time-limit 10] [--reference-time-limit 120]``
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
from _common import add_common_args, emit, machine, stamp, table
from ortools.linear_solver.python import model_builder as mb

from planner.optimise.solve import solve
from planner.synthetic import encode_logit, logit_capture, logit_utilities

#: (n, r, beta_util, alpha): sizes and store counts of the HM14 kind, utilities from flat to steep
GRID = [
    (50, 2, 1.0, 0.1), (50, 5, 0.2, 0.1), (50, 10, 0.05, 1.0),
    (100, 2, 0.2, 0.01), (100, 5, 0.2, 0.1), (100, 10, 1.0, 0.01), (100, 8, 0.05, 0.1),
    (200, 2, 1.0, 0.1), (200, 5, 5.0, 0.1), (200, 10, 0.1, 1.0), (200, 10, 0.2, 0.1),
]  # fmt: skip


def reference(
    q: np.ndarray, v: np.ndarray, log_u: np.ndarray, r: int, time_limit_s: float
) -> tuple[float, float, str, np.ndarray]:
    """Haase's MILP for the logit maximum capture; (objective, bound, status, its plan).

    The MILP's objective carries the solver's feasibility tolerance on the choice
    rows (coefficients up to 1e12); its plan is re-scored from the utilities.
    """
    n_c, n_l = v.shape
    top = np.maximum(v.max(axis=1), log_u)
    ratio = np.exp(v - log_u[:, None])  # e^{v_ij} / U_i
    prob = np.exp(v - top[:, None]) / (np.exp(v - top[:, None]) + np.exp(log_u - top)[:, None])
    model = mb.Model()
    y = [model.new_bool_var(f"y{j}") for j in range(n_l)]
    x0 = [model.new_num_var(0.0, 1.0, f"x0_{i}") for i in range(n_c)]
    obj = 0.0
    for i in range(n_c):
        keep = np.flatnonzero(prob[i] > 1e-12)  # below: worth under 1e-12 of a customer
        xs = [model.new_num_var(0.0, float(prob[i, j]), f"x{i}_{j}") for j in keep]
        model.add(mb.LinearExpr.sum(xs) + x0[i] == 1.0)
        for xv, j in zip(xs, keep, strict=True):
            model.add(xv <= float(min(ratio[i, j], 1e12)) * x0[i])
            model.add(xv <= float(prob[i, j]) * y[j])
        obj = obj + float(q[i]) * mb.LinearExpr.sum(xs)
    model.add(mb.LinearExpr.sum(y) == r)
    model.maximize(obj)
    solver = mb.Solver("scip")
    solver.set_time_limit_in_seconds(time_limit_s)
    status = solver.solve(model)
    ok = status in (mb.SolveStatus.OPTIMAL, mb.SolveStatus.FEASIBLE)
    value = float(solver.objective_value) if ok else float("nan")
    bound = float(solver.best_objective_bound) if ok else float("nan")
    plan = np.flatnonzero(np.asarray([solver.value(yj) for yj in y]) > 0.5) if ok else np.zeros(0, dtype=np.int64)
    return value, bound, "optimal" if status == mb.SolveStatus.OPTIMAL else str(status.name).lower(), plan


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_common_args(ap)
    ap.add_argument("--time-limit", type=float, default=10.0, help="seconds per solve")
    ap.add_argument("--reference-time-limit", type=float, default=120.0, help="seconds for the MILP (0: skip)")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    rows = []
    n_ok = 0
    worst_gap = 0.0
    max_s = 0.0
    for n, r, beta_util, alpha in GRID:
        q, v, log_u = logit_utilities(n, seed=args.seed, beta_util=beta_util, alpha=alpha)
        inst = encode_logit(q, v, log_u, r)
        t0 = time.perf_counter()
        sol = solve(inst, "market_share", time_limit_s=args.time_limit, gap_target=0.0, max_enumerated=0)
        secs = time.perf_counter() - t0
        direct = logit_capture(q, v, log_u, sol.open_sites)
        km = np.asarray(inst.pair_km)
        ref = ref_b = float("nan")
        ref_status = "skipped"
        if args.reference_time_limit > 0:
            _, ref_b, ref_status, ref_plan = reference(q, v, log_u, r, args.reference_time_limit)
            ref = logit_capture(q, v, log_u, ref_plan) if ref_plan.size else float("nan")
        gap = float(sol.gap) if sol.gap is not None else float("nan")
        n_ok += gap <= 0.01
        worst_gap = max(worst_gap, gap)
        max_s = max(max_s, secs)
        # ours at least the MILP's plan (re-scored), and the MILP's bound at least ours' value
        agree = "–" if np.isnan(ref) else ("yes" if direct >= ref * (1 - 1e-9) else f"NO ({ref:.6f})")
        rows.append([
            n, r, beta_util, alpha, inst.n_pairs, f"{km.max():.3g}", round(direct, 4), sol.bound,
            f"{100 * gap:.3f}", f"{secs:.2f}", sol.methods["bound"], ref_status,
            "–" if np.isnan(ref) else round(ref, 4), "–" if np.isnan(ref_b) else round(ref_b, 4), agree,
        ])  # fmt: skip
        print(f"n={n} r={r} beta={beta_util} alpha={alpha}: {direct:.4f} gap {100 * gap:.3f}% {secs:.1f}s ref {ref_status} {ref}", file=sys.stderr)
    head = ["n", "r", "beta_util", "alpha", "pairs", "max pair_km", "objective (logit, direct)", "bound", "gap %",
            "seconds", "bound by", "MILP status", "MILP plan (logit, direct)", "MILP bound", "ours ≥ MILP plan"]  # fmt: skip
    emit(
        f"## Maximum capture, logit ({stamp()})\n\n"
        f"`benchmarks/bench_logit.py --time-limit {args.time_limit:g} --reference-time-limit "
        f"{args.reference_time_limit:g} --seed {args.seed}`; {machine()}.\n\n"
        f"Gap ≤ 1 %: {n_ok}/{len(GRID)}; largest gap {100 * worst_gap:.3f} %; slowest {max_s:.2f} s.\n\n"
        + table(head, rows),
        args,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
