"""Area territories: cut each province's counties into connected areas of a handful of stores each.

An area is a set of whole counties of one province, connected through shared
borders (or a short water link), holding between ``min_stores_per_area`` and
``max_stores_per_area`` stores of the final network; areas are balanced in
workload and compact (little travel from the area's centre county to its
stores). Every county with a store is in exactly one area; counties without
stores join only where they connect one.

Model (per connected part of a province; the Hess districting model with the
Zoltners-Sinha contiguity rule, on CP-SAT). ``y[c, r]`` = county ``c`` belongs to
the area centred on store county ``r``; ``y[r, r]`` = ``r`` is a centre.

- each store county in exactly one area, a storeless county in at most one;
  ``y[c, r] <= y[r, r]``;
- ``min * y[r, r] <= sum_c stores_c y[c, r] <= max * y[r, r]``;
- contiguity: a county ``c != r`` joins ``r`` only with a neighbour one hop closer
  to ``r`` (``y[c, r] <= sum_{d ~ c, hop(d, r) = hop(c, r) - 1} y[d, r]``), so
  every area is a tree of shortest paths to its centre, hence connected;
- objective (minimised, integers): ``sum_r |W_r - target y[r, r]|`` with workloads
  scaled so ``target = 1000`` (the province's workload over its nominal number of
  areas, ``stores / mid-size``), plus ``compactness_weight * sum stores_c km(c, r)
  y[c, r]``, plus 1 per storeless county used.

The gap is proven on this model: areas are restricted to shortest-path trees of
their centre (within a hop limit, lifted when that makes a part infeasible).
A multi-source breadth-first region growing from spread-out centres gives the
warm start (it satisfies the contiguity rule by construction). Rules that
cannot hold have a documented fallback (:data:`~planner.optimise.command_types.EXCEPTIONS`),
announced by :func:`explain_territories` before solving.
"""

from __future__ import annotations

import logging
import math
import time
from collections import deque
from dataclasses import dataclass

import numpy as np
from ortools.sat.python import cp_model

from planner.optimise.command_types import NO_AREA, CommandParams, Territories, TerritoryInstance
from planner.optimise.incumbent import relative_gap

__all__ = ["draw_territories", "explain_territories", "territory_stats", "SCALE"]

log = logging.getLogger(__name__)

#: The workload of a nominal area in the objective's integer units.
SCALE = 1000
#: CP-SAT workers: with fewer than 8 its portfolio lacks the LP-based workers that prove bounds.
WORKERS = 8
#: Integer resolution of the balance weight in the objective.
BALANCE_UNITS = 100
#: First hop limit between a county and its area's centre (lifted if a part is then infeasible).
HOP_LIMIT = 6


@dataclass
class _Part:
    """A connected set of counties of one province (global county indices) and its graph."""

    province: int
    nodes: np.ndarray
    nbrs: list[list[int]]  # local neighbour lists


def _neighbours(tinst: TerritoryInstance) -> list[list[int]]:
    nb: list[list[int]] = [[] for _ in range(tinst.n_counties)]
    for a, b in zip(tinst.adj_a.tolist(), tinst.adj_b.tolist(), strict=True):
        if a != b and tinst.county_province[a] == tinst.county_province[b]:
            nb[a].append(b)
            nb[b].append(a)
    return [sorted(set(x)) for x in nb]


def _parts(tinst: TerritoryInstance, keep: np.ndarray, nb: list[list[int]]) -> list[_Part]:
    """Connected parts (through ``keep`` counties only) that hold at least one store."""
    seen = ~keep.copy()
    out = []
    for s in np.flatnonzero(keep & (tinst.county_stores > 0)).tolist():
        if seen[s]:
            continue
        comp, dq = [s], deque([s])
        seen[s] = True
        while dq:
            u = dq.popleft()
            for v in nb[u]:
                if not seen[v]:
                    seen[v] = True
                    comp.append(v)
                    dq.append(v)
        nodes = np.array(sorted(comp), dtype=np.int64)
        g2l = {g: i for i, g in enumerate(nodes.tolist())}
        local = [[g2l[v] for v in nb[g] if v in g2l] for g in nodes.tolist()]
        out.append(_Part(int(tinst.county_province[s]), nodes, local))
    return out


def _hops(nbrs: list[list[int]], src: int) -> np.ndarray:
    n = len(nbrs)
    d = np.full(n, n + 1, dtype=np.int64)
    d[src] = 0
    dq = deque([src])
    while dq:
        u = dq.popleft()
        for v in nbrs[u]:
            if d[v] > d[u] + 1:
                d[v] = d[u] + 1
                dq.append(v)
    return d


def _area_count(stores: int, lo: int, hi: int) -> tuple[int, int, int]:
    """(fewest, nominal, most) areas for ``stores`` stores of ``lo..hi`` each."""
    k_lo, k_hi = math.ceil(stores / hi), stores // lo
    nominal = min(max(round(stores / ((lo + hi) / 2)), k_lo), max(k_hi, k_lo))
    return k_lo, max(nominal, 1), k_hi


def explain_territories(tinst: TerritoryInstance, params: CommandParams) -> list[str]:
    """The rules that cannot hold as stated, and the fallback each takes (sentences, before solving)."""
    lo, hi = params.min_stores_per_area, params.max_stores_per_area
    out = []
    big = tinst.county_stores > hi
    for c in np.flatnonzero(big).tolist():
        out.append(
            f"county {tinst.county_label(c)} ({tinst.province_label(int(tinst.county_province[c]))}) holds "
            f"{tinst.county_stores[c]} stores > command.max_stores_per_area={hi}: it is an area on its own "
            "(exception big_county)"
        )
    for part in _parts(tinst, ~big, _neighbours(tinst)):
        s = int(tinst.county_stores[part.nodes].sum())
        where = f"{tinst.province_label(part.province)} (counties {tinst.county_label(int(part.nodes[0]))}...)"
        if s < lo:
            out.append(
                f"{where}: {s} stores < command.min_stores_per_area={lo}: one area (exception small_province)"
            )
        else:
            k_lo, _, k_hi = _area_count(s, lo, hi)
            if k_lo > k_hi:
                out.append(
                    f"{where}: {s} stores cannot be cut into areas of {lo}..{hi} stores: areas below the "
                    "minimum are allowed there (exception relaxed_minimum)"
                )
    return out


def _grow(part: _Part, stores: np.ndarray, xy: np.ndarray, hops: dict[int, np.ndarray], k: int) -> np.ndarray:
    """Warm start: ``k`` spread-out centres, then multi-source BFS; local centre index per node (-1 = none)."""
    n = part.nodes.size
    cand = np.flatnonzero(stores > 0)
    first = int(cand[np.argmax(stores[cand])])
    centres = [first]
    dmin = hops[first][cand].astype(float) + 1e-3 * np.hypot(*(xy[cand] - xy[first]).T)
    while len(centres) < min(k, cand.size):
        nxt = int(cand[np.argmax(dmin)])
        centres.append(nxt)
        dmin = np.minimum(dmin, hops[nxt][cand] + 1e-3 * np.hypot(*(xy[cand] - xy[nxt]).T))
    label = np.full(n, -1, dtype=np.int64)
    parent = np.full(n, -1, dtype=np.int64)
    dq = deque()
    for r in centres:
        label[r] = r
        dq.append(r)
    while dq:
        u = dq.popleft()
        for v in part.nbrs[u]:
            if label[v] < 0:
                label[v] = label[u]
                parent[v] = u
                dq.append(v)
    # keep storeless counties only where they carry a path to a store county
    need = stores > 0
    for v in np.flatnonzero(stores > 0).tolist():
        u = parent[v]
        while u >= 0 and not need[u]:
            need[u] = True
            u = parent[u]
    label[~need] = -1
    return label


def _solve_part(
    part: _Part, tinst: TerritoryInstance, params: CommandParams, lo: int, hop_limit: int | None,
    budget_s: float, threads: int, seed: int,
) -> tuple[np.ndarray | None, float, float, str]:
    """CP-SAT on one part: local centre per node (or None), objective, bound, status."""
    nodes = part.nodes
    n = nodes.size
    hi = params.max_stores_per_area
    stores = tinst.county_stores[nodes]
    work = tinst.county_workload[nodes]
    xy = tinst.county_xy_km[nodes]
    total_s = int(stores.sum())
    _, nominal, _ = _area_count(total_s, lo, hi)
    wsum = float(work.sum())
    target_w = wsum / nominal if wsum > 0 else 1.0
    w_int = np.rint(SCALE * work / target_w).astype(np.int64) if wsum > 0 else stores * (SCALE // max(total_s, 1))
    target = int(round(float(w_int.sum()) / nominal))
    centres = np.flatnonzero(stores > 0)
    hops = {int(r): _hops(part.nbrs, int(r)) for r in centres}
    km = {int(r): np.hypot(*(xy - xy[r]).T) for r in centres}
    m = cp_model.CpModel()
    y: dict[tuple[int, int], cp_model.IntVar] = {}
    for r in centres.tolist():
        h = hops[r]
        ok = h <= n if hop_limit is None else h <= hop_limit
        for c in np.flatnonzero(ok).tolist():
            y[c, r] = m.new_bool_var(f"y{c}_{r}")
    by_c: dict[int, list[cp_model.IntVar]] = {c: [] for c in range(n)}
    for (c, _r), v in y.items():
        by_c[c].append(v)
    for c in range(n):
        if stores[c] > 0:
            m.add_exactly_one(by_c[c])
        elif by_c[c]:
            m.add_at_most_one(by_c[c])
    cost = []
    devs = []
    for r in centres.tolist():
        members = [(c, v) for (c, rr), v in y.items() if rr == r]
        yr = y[r, r]
        for c, v in members:
            if c != r:
                m.add_implication(v, yr)
                closer = [y[d, r] for d in part.nbrs[c] if (d, r) in y and hops[r][d] == hops[r][c] - 1]
                if closer:
                    m.add_bool_or(closer).only_enforce_if(v)
                else:
                    m.add(v == 0)
        size = sum(int(stores[c]) * v for c, v in members if stores[c] > 0)
        m.add(size >= lo * yr)
        m.add(size <= hi * yr)
        load = sum(int(w_int[c]) * v for c, v in members if w_int[c] > 0)
        dev = m.new_int_var(0, int(w_int.sum()) + target, f"dev{r}")
        m.add(dev >= load - target * yr)
        m.add(dev >= target * yr - load)
        devs.append(dev)
        for c, v in members:
            unit = int(round(params.compactness_weight * stores[c] * km[r][c])) if stores[c] > 0 else 1
            if unit:
                cost.append(unit * v)
    bw = int(round(BALANCE_UNITS * params.balance_weight))
    m.minimize(bw * sum(devs) + BALANCE_UNITS * sum(cost))
    warm = _grow(part, stores, xy, hops, nominal)
    for (c, r), v in y.items():
        m.add_hint(v, int(warm[c] == r))
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = max(budget_s, 0.2)
    solver.parameters.num_workers = WORKERS
    solver.parameters.random_seed = seed
    st = solver.solve(m)
    if st == cp_model.INFEASIBLE:
        return None, math.inf, math.inf, "infeasible"
    if st not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return None, math.nan, math.nan, "unknown"
    label = np.full(n, -1, dtype=np.int64)
    for (c, r), v in y.items():
        if solver.boolean_value(v):
            label[c] = r
    return label, float(solver.objective_value) / BALANCE_UNITS, float(solver.best_objective_bound) / BALANCE_UNITS, (
        "optimal" if st == cp_model.OPTIMAL else "feasible"
    )


def draw_territories(
    tinst: TerritoryInstance, params: CommandParams, *, time_limit_s: float = 20.0, threads: int = 2, seed: int = 0,
) -> Territories:
    """Cut every province into areas (see the module docstring for the model).

    Parameters
    ----------
    tinst
        Counties, their stores and workload, and the county graph.
    params
        Size limits and the compactness weight.
    time_limit_s
        Wall-clock limit of all CP-SAT solves together (s), shared between the
        provinces' parts by their number of counties.
    threads
        CP-SAT workers.
    seed
        CP-SAT's random seed.

    Returns
    -------
    Territories
        Objective and bound are sums over the parts; a part solved by a fallback
        says so in ``methods`` and ``notes``.
    """
    t0 = time.perf_counter()
    lo, hi = params.min_stores_per_area, params.max_stores_per_area
    if not 1 <= lo <= hi:
        raise ValueError(f"need 1 <= min_stores_per_area ({lo}) <= max_stores_per_area ({hi})")
    notes = explain_territories(tinst, params)
    for s in notes:
        log.info("territories: %s", s)
    county_area = np.full(tinst.n_counties, NO_AREA, dtype=np.int64)
    a_prov: list[int] = []
    a_centre: list[int] = []
    a_exc: list[str] = []

    def new_area(prov: int, centre: int, exc: str) -> int:
        a_prov.append(prov)
        a_centre.append(centre)
        a_exc.append(exc)
        return len(a_prov) - 1

    big = tinst.county_stores > hi
    for c in np.flatnonzero(big).tolist():
        county_area[c] = new_area(int(tinst.county_province[c]), c, "big_county")
    parts = _parts(tinst, ~big, _neighbours(tinst))
    total_n = max(sum(p.nodes.size for p in parts), 1)
    objective = bound = 0.0
    statuses: set[str] = set()
    fallbacks: list[str] = []
    for part in parts:
        stores = tinst.county_stores[part.nodes]
        s = int(stores.sum())
        left = time_limit_s - (time.perf_counter() - t0)
        budget = max(left * part.nodes.size / total_n, 0.2)
        total_n -= part.nodes.size
        if s < lo:
            centre = int(np.argmax(tinst.county_workload[part.nodes] + stores))
            h = _hops(part.nbrs, centre)
            label = _steiner(part, stores, centre, h)
            a = new_area(part.province, int(part.nodes[centre]), "small_province")
            county_area[part.nodes[label >= 0]] = a
            continue
        k_lo, _, k_hi = _area_count(s, lo, hi)
        lo_part = lo if k_lo <= k_hi else 1
        label, obj, bnd, st = _solve_part(part, tinst, params, lo_part, HOP_LIMIT, budget, threads, seed)
        if st == "infeasible":
            label, obj, bnd, st = _solve_part(part, tinst, params, lo_part, None, budget, threads, seed)
        if st == "infeasible" and lo_part > 1:
            lo_part = 1
            label, obj, bnd, st = _solve_part(part, tinst, params, 1, None, budget, threads, seed)
        if label is None:  # no solution in time: the warm start, flagged
            fallbacks.append(f"{tinst.province_label(part.province)}: CP-SAT {st}, region growing used")
            hops = {int(r): _hops(part.nbrs, int(r)) for r in np.flatnonzero(stores > 0)}
            label = _grow(part, stores, tinst.county_xy_km[part.nodes], hops, _area_count(s, lo, hi)[1])
            lo_part, obj, bnd, st = 1, math.nan, math.nan, "heuristic"
        statuses.add(st)
        objective += obj
        bound += bnd
        for r in np.unique(label[label >= 0]).tolist():
            mem = label == r
            size = int(stores[mem].sum())
            exc = "" if lo <= size <= hi else ("relaxed_minimum" if size < lo else "time_limit")
            county_area[part.nodes[mem]] = new_area(part.province, int(part.nodes[r]), exc)
    area_province = np.asarray(a_prov, dtype=np.int64)
    order = np.lexsort((np.asarray(a_centre), area_province)) if a_prov else np.zeros(0, dtype=np.int64)
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    county_area = np.where(county_area >= 0, rank[np.maximum(county_area, 0)], NO_AREA)
    proven = not math.isnan(objective) and not math.isnan(bound)
    status = "optimal" if statuses <= {"optimal"} else ("time_limit" if "heuristic" in statuses else "feasible")
    methods = {"model": "CP-SAT Hess districting, Zoltners-Sinha contiguity", "warm_start": "multi-source BFS"}
    if fallbacks:
        methods["fallback"] = "; ".join(fallbacks)
    return Territories(
        county_area=county_area,
        area_province=area_province[order],
        area_centre=np.asarray(a_centre, dtype=np.int64)[order] if a_centre else np.zeros(0, dtype=np.int64),
        area_exception=[a_exc[i] for i in order.tolist()],
        objective=objective if proven else math.nan,
        bound=bound if proven else None,
        gap=relative_gap(objective, bound, maximise=False) if proven else None,
        seconds=time.perf_counter() - t0,
        status=status,
        methods=methods,
        notes=notes + fallbacks,
    )


def _steiner(part: _Part, stores: np.ndarray, centre: int, hops: np.ndarray) -> np.ndarray:
    """The store counties and shortest paths joining them to ``centre`` (label 0 = in, -1 = out)."""
    label = np.full(part.nodes.size, -1, dtype=np.int64)
    label[centre] = 0
    for v in np.flatnonzero(stores > 0).tolist():
        u = v
        while label[u] < 0:
            label[u] = 0
            u = next(d for d in part.nbrs[u] if hops[d] == hops[u] - 1)
    return label


def territory_stats(tinst: TerritoryInstance, terr: Territories) -> dict[str, float]:
    """Stores per area, workload balance and compactness of drawn territories.

    Returns ``areas``, ``stores_per_area_min/mean/max``, ``workload_max_min_ratio``,
    ``workload_cv`` (standard deviation over mean), ``compactness_km`` (mean
    distance from an area's centre county to its stores' counties, per store).
    """
    ca = terr.county_area
    k = terr.n_areas
    if k == 0:
        return {"areas": 0}
    has = ca >= 0
    stores = np.bincount(ca[has], weights=tinst.county_stores[has], minlength=k)
    work = np.bincount(ca[has], weights=tinst.county_workload[has], minlength=k)
    xy = tinst.county_xy_km
    dist = np.hypot(*(xy[has] - xy[terr.area_centre[ca[has]]]).T)
    travel = float((dist * tinst.county_stores[has]).sum() / max(stores.sum(), 1))
    return {
        "areas": k,
        "stores_per_area_min": float(stores.min()),
        "stores_per_area_mean": float(stores.mean()),
        "stores_per_area_max": float(stores.max()),
        "workload_max_min_ratio": float(work.max() / work.min()) if work.min() > 0 else math.inf,
        "workload_cv": float(work.std() / work.mean()) if work.mean() > 0 else 0.0,
        "compactness_km": travel,
    }
