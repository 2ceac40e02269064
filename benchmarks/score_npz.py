"""Re-score a plan on an interchange-format instance, without the planner's loader or checker.

Reads ``instance.npz`` with plain ``numpy.load`` and a plan (the JSON that
``planner bench instance|synthetic --json`` prints, or ``solution.json`` from
``--dump``), recomputes the objective from the definitions in issue 4, and
checks the plan: site indices in range, no repeats, every fixed site open,
exactly ``stores`` open, the reported objective equal to the recomputed one
and the bound on the correct side. Exit status 0 = all good, 1 = a check
failed.

Run: ``.venv/bin/python benchmarks/score_npz.py DIR/instance.npz DIR/solution.json --objective coverage``
"""

from __future__ import annotations

import argparse
import json
import sys
from types import SimpleNamespace

import numpy as np
from _common import bound_valid, score


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("instance")
    ap.add_argument("solution", help="JSON file, or - for stdin")
    ap.add_argument("--objective", required=True, choices=["coverage", "distance", "market_share"])
    ap.add_argument("--rel-tol", type=float, default=1e-9)
    args = ap.parse_args()
    with np.load(args.instance, allow_pickle=False) as z:
        a = {k: z[k] for k in z.files}
    sol = json.load(sys.stdin if args.solution == "-" else open(args.solution))
    n = a["weight"].shape[0]
    m = a["site_attr"].shape[0] if "site_attr" in a else int(a["pair_site"].max()) + 1
    inst = SimpleNamespace(
        weight=a["weight"].astype(float),
        pair_cell=a["pair_cell"].astype(np.int64),
        pair_site=a["pair_site"].astype(np.int64),
        pair_km=a["pair_km"].astype(float),
        n_cells=n,
        n_sites=m,
        radius_km=np.broadcast_to(a["radius_km"].astype(float), (m,)),
        unreachable_km=float(a["unreachable_km"]),
        site_attr=a.get("site_attr", np.ones(m)).astype(float),
        competitor_pull=a.get("competitor_pull", np.zeros(n)).astype(float),
        beta=float(a.get("beta", 2.0)),
    )
    plan = np.asarray(sol["open"], dtype=np.int64)
    fixed = a.get("fixed", np.zeros(0, dtype=np.int64))
    problems = []
    if plan.size and (plan.min() < 0 or plan.max() >= m):
        problems.append(f"site index out of 0..{m - 1}")
    if np.unique(plan).size != plan.size:
        problems.append("a site is listed twice")
    if not set(fixed.tolist()) <= set(plan.tolist()):
        problems.append(f"{len(set(fixed.tolist()) - set(plan.tolist()))} fixed site(s) not open")
    if plan.size != int(a["stores"]):
        problems.append(f"{plan.size} sites open, stores = {int(a['stores'])}")
    value = score(inst, plan[(plan >= 0) & (plan < m)], args.objective)  # type: ignore[arg-type]
    if abs(value - sol["objective"]) > args.rel_tol * max(1.0, abs(value)):
        problems.append(f"reported objective {sol['objective']!r} != recomputed {value!r}")
    if bound_valid(args.objective, value, sol.get("bound")) is False:
        problems.append(f"bound {sol['bound']!r} is on the wrong side of {value!r}")
    print(json.dumps({"objective": value, "reported": sol["objective"], "bound": sol.get("bound"),
                      "ok": not problems, "problems": problems}))  # fmt: skip
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
