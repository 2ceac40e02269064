"""Hand-checkable micro-instances for the optimiser tests.

``cover4`` has 4 cells (weights 10, 20, 30, 40) and 3 sites: site 0 covers
cells 0-1, site 1 covers cells 1-2, site 2 covers cell 3 (all within radius).
Optima by hand: p=1 -> site 1 (50); p=2 -> sites 1, 2 (90).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from typing import TypeVar

import numpy as np

from planner.optimise.types import GroupLimit, Instance

T = TypeVar("T")


def quiet_then_busy(run: Callable[[], T]) -> tuple[T, T]:
    """``run()`` on the machine as it is, then again while another process burns a core."""
    quiet = run()
    burner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        busy = run()
    finally:
        burner.kill()
        burner.wait()
    return quiet, busy


def cover4(stores: int = 1, **kw: object) -> Instance:
    pc = np.array([0, 1, 1, 2, 3], dtype=np.int32)
    ps = np.array([0, 0, 1, 1, 2], dtype=np.int32)
    km = np.array([1.0, 2.0, 1.0, 2.0, 0.5])
    base = dict(
        weight=np.array([10.0, 20.0, 30.0, 40.0]),
        pair_cell=pc,
        pair_site=ps,
        pair_km=km,
        n_sites=3,
        stores=stores,
        radius_km=np.full(3, 3.0),
        unreachable_km=10.0,
    )
    base.update(kw)
    return Instance(**base)  # type: ignore[arg-type]


def line4(stores: int = 2) -> Instance:
    """Cells and sites at positions 0, 1, 2, 10 on a line (all pairs, unit weights).

    p-median optimum for p=2: sites at 1 and 10, total distance 2.
    """
    pos = np.array([0.0, 1.0, 2.0, 10.0])
    site, cell = np.meshgrid(np.arange(4), np.arange(4), indexing="ij")
    return Instance(
        weight=np.ones(4),
        pair_cell=cell.ravel().astype(np.int32),
        pair_site=site.ravel().astype(np.int32),
        pair_km=np.abs(pos[cell.ravel()] - pos[site.ravel()]),
        n_sites=4,
        stores=stores,
        radius_km=np.full(4, 100.0),
        unreachable_km=100.0,
    )


def huff1(stores: int = 1) -> Instance:
    """One cell (weight 100, competitor pull 1) and two sites at 0 km (attractiveness 1).

    One store captures 1/(1+1) = 50; two capture 2/(2+1) = 66.67.
    """
    return Instance(
        weight=np.array([100.0]),
        pair_cell=np.array([0, 0], dtype=np.int32),
        pair_site=np.array([0, 1], dtype=np.int32),
        pair_km=np.array([0.0, 0.0]),
        n_sites=2,
        stores=stores,
        radius_km=np.full(2, 5.0),
        site_attr=np.ones(2),
        competitor_pull=np.ones(1),
        beta=2.0,
    )


def group(sites: list[int], lo: int = 0, hi: int | None = None, key: str = "constraints.test") -> GroupLimit:
    return GroupLimit(name=key.split(".")[-1], sites=np.array(sites), min_open=lo, max_open=hi, key=key)


# --------------------------------------------------------------- brute force
# Straight from the ``Instance`` docstring with plain loops, so the solver tests do
# not grade a module with its own formulas (the checker keeps another copy on purpose).


def brute_value(inst: Instance, kind: str, sites: object) -> float:
    """User objective of the plan ``sites`` (iterable of site indices)."""
    open_ = set(int(j) for j in sites)  # type: ignore[attr-defined]
    radius = np.broadcast_to(np.asarray(inst.radius_km, dtype=float), (inst.n_sites,))
    attr = np.ones(inst.n_sites) if inst.site_attr is None else np.asarray(inst.site_attr, float)
    pull = np.zeros(inst.n_cells) if inst.competitor_pull is None else np.asarray(inst.competitor_pull, float)
    terms: list[list[tuple[int, float]]] = [[] for _ in range(inst.n_cells)]
    for i, j, d in zip(inst.pair_cell.tolist(), inst.pair_site.tolist(), inst.pair_km.tolist(), strict=True):
        if j in open_:
            terms[i].append((j, d))
    total = 0.0
    for i, pairs in enumerate(terms):
        if kind == "coverage":
            fs = [0.0]
            for j, d in pairs:
                r = radius[j]
                if inst.decay == "step":
                    fs.append(1.0 if d <= r else 0.0)
                elif inst.decay == "linear":
                    fs.append(max(0.0, 1.0 - d / r))
                else:
                    fs.append(float(np.exp(-d / r)) if d <= 3 * r else 0.0)
            term = max(fs)
        elif kind == "distance":
            term = min([float(inst.unreachable_km)] + [d for _, d in pairs])
        else:
            s = sum(attr[j] * (1.0 + d) ** (-inst.beta) for j, d in pairs)
            term = s / (s + pull[i]) if s + pull[i] > 0 else 0.0
        total += float(inst.weight[i]) * term
    return total


def brute_feasible(inst: Instance, sites: object) -> bool:
    """Every constraint of the instance, checked one by one on a plan."""
    s = set(int(j) for j in sites)  # type: ignore[attr-defined]
    existing = set(np.asarray(inst.existing).tolist())
    forced = set(np.asarray(inst.fixed).tolist()) - existing
    if len(s) != inst.stores or not forced <= s or s & set(np.asarray(inst.forbidden).tolist()):
        return False
    if len(existing - s) > inst.max_closures:
        return False
    if inst.site_location is not None and len({int(inst.site_location[j]) for j in s}) < len(s):
        return False
    if any(a in s and b in s for a, b in zip(inst.conflict_a.tolist(), inst.conflict_b.tolist(), strict=True)):
        return False
    for g in inst.groups:
        n = len(s & set(np.asarray(g.sites).tolist()))
        if n < g.min_open or (g.max_open is not None and n > g.max_open):
            return False
    for cost, budget in ((inst.capex_cny, inst.capex_budget_cny), (inst.opex_cny, inst.opex_budget_cny)):
        if cost is not None and budget is not None and sum(float(cost[j]) for j in s) > budget + 1e-9:
            return False
    return True


def brute_optimum(inst: Instance, kind: str) -> tuple[float | None, list[tuple[int, ...]]]:
    """Best user objective over every feasible plan, and all plans reaching it (None, [] if none)."""
    import itertools

    scored = [
        (brute_value(inst, kind, c), c)
        for c in itertools.combinations(range(inst.n_sites), inst.stores)
        if brute_feasible(inst, c)
    ]
    if not scored:
        return None, []
    sign = -1.0 if kind == "distance" else 1.0
    best = max(sign * v for v, _ in scored) * sign
    tol = 1e-9 * max(1.0, abs(best))
    return best, [c for v, c in scored if abs(v - best) <= tol]


def random_instance(seed: int, n_cells: int = 9, n_sites: int = 6, stores: int = 2, **kw: object) -> Instance:
    """A seeded random instance small enough for :func:`brute_optimum` (integer weights)."""
    rng = np.random.default_rng(seed)
    mask = rng.random((n_sites, n_cells)) < 0.45
    mask[rng.integers(0, n_sites), :] |= rng.random(n_cells) < 0.3
    ps, pc = np.nonzero(mask)
    base = dict(
        weight=rng.integers(1, 20, n_cells).astype(float),
        pair_cell=pc.astype(np.int32),
        pair_site=ps.astype(np.int32),
        pair_km=np.round(rng.uniform(0, 6, ps.size), 1),
        n_sites=n_sites,
        stores=stores,
        radius_km=rng.uniform(2, 5, n_sites),
        unreachable_km=8.0,
        site_attr=rng.uniform(0.5, 2, n_sites),
        competitor_pull=rng.uniform(0, 1, n_cells),
    )
    base.update(kw)
    return Instance(**base)  # type: ignore[arg-type]


def trap3(stores: int = 2) -> Instance:
    """Greedy's trap: site 0 covers cells 0-1 (3 + 3), site 1 cells 0, 2 (3 + 2.5), site 2 cells 1, 3 (3 + 2.5).

    Greedy takes site 0 (6) then one of 1, 2 (+2.5): 8.5. The optimum for p=2 is
    sites 1, 2: 3 + 2.5 + 3 + 2.5 = 11, one swap (0 -> the other) away.
    """
    return Instance(
        weight=np.array([3.0, 3.0, 2.5, 2.5]),
        pair_cell=np.array([0, 1, 0, 2, 1, 3], dtype=np.int32),
        pair_site=np.array([0, 0, 1, 1, 2, 2], dtype=np.int32),
        pair_km=np.ones(6),
        n_sites=3,
        stores=stores,
        radius_km=np.full(3, 2.0),
        unreachable_km=10.0,
    )
