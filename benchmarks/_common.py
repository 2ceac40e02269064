"""Shared helpers for the benchmark scripts: data paths, memory, tables, scoring.

Benchmarks are scripts, not library code: they print markdown to stdout (and
to ``--out`` when given). ``score`` recomputes an objective from the
interchange-format definitions in issue 4 on purpose *without* using
``planner.optimise.check``, so a benchmark's verdict does not rest on the code
it is checking.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as `.venv/bin/python benchmarks/x.py` from anywhere
    sys.path.insert(0, str(REPO))

from planner.optimise.types import Instance  # noqa: E402

#: Environment variable overriding where the shared benchmark data lives.
BENCH_ENV = "PLANNER_BENCH_DIR"
#: Default: the shared data folder next to the repository (``../shared/bench``).
BENCH_DEFAULT = REPO / ".." / "shared" / "bench"


def add_common_args(ap: argparse.ArgumentParser) -> None:
    """``--bench-dir`` (data) and ``--out`` (markdown copy) for every script."""
    ap.add_argument(
        "--bench-dir",
        default=os.environ.get(BENCH_ENV, str(BENCH_DEFAULT)),
        help=f"benchmark data folder (default ${BENCH_ENV} or ../shared/bench)",
    )
    ap.add_argument("--out", help="also write the markdown report to this file")


def bench_dir(args: argparse.Namespace) -> Path:
    d = Path(args.bench_dir).resolve()
    if not d.is_dir():
        sys.exit(f"benchmark data folder {d} not found; pass --bench-dir or set ${BENCH_ENV}")
    return d


def solver_missing() -> str | None:
    """A message when the optimiser (``planner.optimise.solve``) cannot be imported."""
    try:
        import planner.optimise.solve  # noqa: F401
    except ImportError as exc:
        return f"planner.optimise.solve is not available ({exc})"
    return None


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, MB (Linux reports KiB)."""
    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kib / 1024.0 if sys.platform != "darwin" else kib / 2**20


def machine() -> str:
    return (
        f"{platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, numpy {np.__version__}, "
        f"load average {os.getloadavg()[0]:.1f} at the end (the machine is shared; timings are noisy)"
    )


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A GitHub markdown table."""

    def cell(x: object) -> str:
        if x is None:
            return "–"
        if isinstance(x, float):
            return f"{x:.6g}"
        return str(x)

    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(cell(x) for x in r) + " |" for r in rows]
    return "\n".join(lines)


def emit(text: str, args: argparse.Namespace) -> None:
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")


def stamp() -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())


def score(inst: Instance, open_sites: Sequence[int] | np.ndarray, kind: str) -> float:
    """Objective of a plan, straight from the interchange-format definitions (step coverage)."""
    is_open = np.zeros(inst.n_sites, dtype=bool)
    is_open[np.asarray(open_sites, dtype=np.int64)] = True
    on = is_open[inst.pair_site]
    cell, site, km = inst.pair_cell[on], inst.pair_site[on], inst.pair_km[on]
    w = inst.weight
    if kind == "coverage":
        radius = np.broadcast_to(np.asarray(inst.radius_km, dtype=float), (inst.n_sites,))
        covered = np.zeros(inst.n_cells, dtype=bool)
        covered[cell[km <= radius[site]]] = True
        return float(w[covered].sum())
    if kind == "distance":
        d = np.full(inst.n_cells, float(inst.unreachable_km))
        np.minimum.at(d, cell, km)
        return float((w * d).sum())
    if kind == "market_share":
        attr = np.ones(inst.n_sites) if inst.site_attr is None else inst.site_attr
        pull = np.zeros(inst.n_cells) if inst.competitor_pull is None else inst.competitor_pull
        s = np.bincount(
            cell, weights=attr[site] * (1.0 + km) ** (-inst.beta), minlength=inst.n_cells
        )
        den = s + pull
        share = np.divide(s, den, out=np.zeros_like(s), where=den > 0)
        return float((w * share).sum())
    if kind == "profit":  # margin x market share - the open sites' fixed costs (fixed sites included)
        margin = 1.0 if inst.margin is None else float(inst.margin)
        cost = np.zeros(inst.n_sites) if inst.site_fixed_cost is None else np.asarray(inst.site_fixed_cost, float)
        return margin * score(inst, open_sites, "market_share") - float(cost[is_open].sum())
    raise ValueError(f"unknown objective {kind!r}")


def maximise(kind: str) -> bool:
    return kind != "distance"


def bound_valid(kind: str, objective: float, bound: float | None, rel: float = 1e-9) -> bool | None:
    """Whether a reported bound is on the right side of the reported objective."""
    if bound is None:
        return None
    tol = rel * max(1.0, abs(objective))
    return bound >= objective - tol if maximise(kind) else bound <= objective + tol
