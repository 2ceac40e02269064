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
- ``min * y[r, r] - short_r <= sum_c stores_c y[c, r] <= max * y[r, r]``: the
  minimum is soft (``SHORT_PENALTY`` per store short), so a part that no cut
  fits still gets areas, flagged ``relaxed_minimum``;
- contiguity: a county ``c != r`` joins ``r`` only with a neighbour one hop closer
  to ``r`` (``y[c, r] <= sum_{d ~ c, hop(d, r) = hop(c, r) - 1} y[d, r]``), so
  every area is a tree of shortest paths to its centre, hence connected;
- objective (minimised): ``balance_weight * sum_r |W_r - target y[r, r]|`` with
  workloads scaled so ``target = 1000`` (the part's workload over its nominal number
  of areas, ``stores / mid-size``), plus ``compactness_weight * sum stores_c km(c, r)
  y[c, r]``, plus 1 per storeless county used, plus ``SHORT_PENALTY`` per store short.

The bound is the better of CP-SAT's and the LP relaxation of the same model
(GLOP), which is cheap and does not need CP-SAT's LP workers.

The gap is proven on this model: areas are restricted to shortest-path trees of
their centre (within ``HOP_LIMIT`` hops in parts with more than ``MAX_PAIRS``
county-centre pairs).
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
from typing import Any

import numpy as np
from ortools.linear_solver import pywraplp  # type: ignore[attr-defined]
from ortools.sat.python import cp_model

from planner.optimise.command_types import NO_AREA, CommandParams, Territories, TerritoryInstance
from planner.optimise.incumbent import relative_gap

__all__ = ["draw_territories", "explain_territories", "territory_stats", "SCALE"]

log = logging.getLogger(__name__)

#: The workload of a nominal area in the objective's integer units.
SCALE = 1000
#: Least time given to one part (s), whatever its share of the limit.
MIN_PART_S = 2.0
#: Integer resolution of the balance weight in the objective.
BALANCE_UNITS = 100
#: Hop limit between a county and its area's centre in parts with many (county, centre) pairs.
HOP_LIMIT = 6
#: (county, centre) pairs above which a part gets the hop limit.
MAX_PAIRS = 6_000
#: Objective units per store an area is short of the minimum (the minimum is soft; see the docstring).
SHORT_PENALTY = 10 * SCALE


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


def _grow(
    part: _Part, stores: np.ndarray, xy: np.ndarray, hops: dict[int, np.ndarray], k: int, hi: int,
    hop_limit: int | None = None, lo: int = 1,
) -> np.ndarray:
    """Warm start by region growing; local centre index per node (-1 = none).

    Seeds are taken from the part's edge inwards (store counties farthest, in hops,
    from the busiest one); each area grows from its seed over free counties in
    order of hops from the seed, taking a county only through a neighbour one hop
    closer that it already holds (the model's contiguity rule) and only while it
    stays within ``hi`` stores, until it reaches the part's mean area size.
    Storeless counties that carry no path are dropped. The start is feasible for
    the model (the minimum is soft there).
    """
    n = part.nodes.size
    total = int(stores.sum())
    target = min(max(math.ceil(total / max(k, 1)), 1), hi)
    cand = np.flatnonzero(stores > 0)
    hub = int(cand[np.argmax(stores[cand])])
    seeds = cand[np.lexsort((-np.hypot(*(xy[cand] - xy[hub]).T), -hops[hub][cand]))].tolist()
    label = np.full(n, -1, dtype=np.int64)
    for r in seeds:
        if label[r] >= 0:
            continue
        label[r] = r
        size = int(stores[r])
        h = hops[r]
        for c in np.argsort(h, kind="stable").tolist():
            if size >= target or (hop_limit is not None and h[c] > hop_limit) or h[c] > n:
                break
            if label[c] >= 0 or size + int(stores[c]) > hi:
                continue
            if any(label[d] == r and h[d] == h[c] - 1 for d in part.nbrs[c]):
                label[c] = r
                size += int(stores[c])
    # areas left below the minimum (or half the mean size) give their counties to the others (within ``hi``), then regrow
    sizes = {r: int(stores[label == r].sum()) for r in np.unique(label[label >= 0]).tolist()}
    small = [r for r, z in sizes.items() if z < lo or z * 2 < target]
    if small:
        label[np.isin(label, small)] = -1
        for r in sorted(set(sizes) - set(small), key=lambda x: sizes[x]):
            h, size = hops[r], sizes[r]
            for c in np.argsort(h, kind="stable").tolist():
                if (hop_limit is not None and h[c] > hop_limit) or h[c] > n:
                    break
                if label[c] >= 0 or size + int(stores[c]) > hi:
                    continue
                if any(label[d] == r and h[d] == h[c] - 1 for d in part.nbrs[c]):
                    label[c] = r
                    size += int(stores[c])
        for c in np.flatnonzero((label < 0) & (stores > 0)).tolist():  # what nobody took: areas of their own
            label[c] = c
    changed = True
    while changed:  # drop storeless counties that lead to no further member
        changed = False
        for c in np.flatnonzero((label >= 0) & (stores == 0)).tolist():
            r = int(label[c])
            if not any(label[e] == r and hops[r][e] == hops[r][c] + 1 for e in part.nbrs[c]):
                label[c] = -1
                changed = True
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
    # the same model's LP relaxation (GLOP) proves the bound: CP-SAT's own needs more workers than we have
    lp = pywraplp.Solver.CreateSolver("GLOP")
    y: dict[tuple[int, int], cp_model.IntVar] = {}
    ly: dict[tuple[int, int], Any] = {}
    for r in centres.tolist():
        h = hops[r]
        ok = h <= n if hop_limit is None else h <= hop_limit
        ok[r] = True
        for c in np.flatnonzero(ok).tolist():
            y[c, r] = m.new_bool_var(f"y{c}_{r}")
            ly[c, r] = lp.NumVar(0.0, 1.0, "")
    by_c: dict[int, list[tuple[int, int]]] = {c: [] for c in range(n)}
    for c, r in y:
        by_c[c].append((c, r))
    for c in range(n):
        if stores[c] > 0:
            m.add_exactly_one([y[k] for k in by_c[c]])
            lp.Add(sum(ly[k] for k in by_c[c]) == 1)
        elif by_c[c]:
            m.add_at_most_one([y[k] for k in by_c[c]])
            lp.Add(sum(ly[k] for k in by_c[c]) <= 1)
    cost, lcost = [], []
    devs, ldevs = [], []
    shorts, lshorts = [], []
    for r in centres.tolist():
        members = [c for (c, rr) in y if rr == r]
        yr, lyr = y[r, r], ly[r, r]
        for c in members:
            if c != r:
                v = y[c, r]
                m.add_implication(v, yr)
                lp.Add(ly[c, r] <= lyr)
                closer = [(d, r) for d in part.nbrs[c] if (d, r) in y and hops[r][d] == hops[r][c] - 1]
                if closer:
                    m.add_bool_or([y[k] for k in closer]).only_enforce_if(v)
                    lp.Add(ly[c, r] <= sum(ly[k] for k in closer))
                else:
                    m.add(v == 0)
                    lp.Add(ly[c, r] == 0)
        with_stores = [c for c in members if stores[c] > 0]
        size = sum(int(stores[c]) * y[c, r] for c in with_stores)
        lsize = sum(float(stores[c]) * ly[c, r] for c in with_stores)
        # the minimum is soft: a part that no cut fits still gets areas, the fewest stores short of it
        short, lshort = m.new_int_var(0, lo, f"short{r}"), lp.NumVar(0.0, lo, "")
        m.add(size + short >= lo * yr)
        m.add(size <= hi * yr)
        lp.Add(lsize + lshort >= lo * lyr)
        lp.Add(lsize <= hi * lyr)
        shorts.append(short)
        lshorts.append(lshort)
        loaded = [c for c in members if w_int[c] > 0]
        load = sum(int(w_int[c]) * y[c, r] for c in loaded)
        lload = sum(float(w_int[c]) * ly[c, r] for c in loaded)
        dev, ldev = m.new_int_var(0, int(w_int.sum()) + target, f"dev{r}"), lp.NumVar(0.0, lp.infinity(), "")
        m.add(dev >= load - target * yr)
        m.add(dev >= target * yr - load)
        lp.Add(ldev >= lload - target * lyr)
        lp.Add(ldev >= target * lyr - lload)
        devs.append(dev)
        ldevs.append(ldev)
        for c in members:
            unit = int(round(params.compactness_weight * stores[c] * km[r][c])) if stores[c] > 0 else 1
            if unit:
                cost.append(unit * y[c, r])
                lcost.append(unit * ly[c, r])
    bw = int(round(BALANCE_UNITS * params.balance_weight))
    m.minimize(bw * sum(devs) + BALANCE_UNITS * sum(cost) + BALANCE_UNITS * SHORT_PENALTY * sum(shorts))
    lp.Minimize(bw * sum(ldevs) + BALANCE_UNITS * sum(lcost) + BALANCE_UNITS * SHORT_PENALTY * sum(lshorts))
    lp_bound = -math.inf
    if lp.Solve() == pywraplp.Solver.OPTIMAL:
        lp_bound = lp.Objective().Value() * (1 - 1e-9)  # GLOP's tolerance, never above the true LP optimum
    warm = _grow(part, stores, xy, hops, nominal, hi, hop_limit, lo)
    for k, v in y.items():
        m.add_hint(v, int(warm[k[0]] == k[1]))
    solver = cp_model.CpSolver()
    # the budget is counted in CP-SAT's deterministic time (work, not the machine's load); the clock is a safety net
    solver.parameters.max_deterministic_time = max(budget_s, 0.2)
    solver.parameters.max_time_in_seconds = 4 * max(budget_s, 0.2)
    solver.parameters.num_workers = max(1, threads)
    # CP-SAT's parallel portfolio races its workers on the wall clock; interleaved, the workers
    # take turns in a fixed order, so the answer depends on neither the load nor the threads
    solver.parameters.interleave_search = True
    solver.parameters.random_seed = seed
    st = solver.solve(m)
    if st == cp_model.INFEASIBLE:
        return None, math.inf, math.inf, "infeasible"
    if st not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        # no solution in time: the warm start (feasible for the model), scored as the model would
        score = 0.0
        for r in np.unique(warm[warm >= 0]).tolist():
            mem = np.flatnonzero(warm == r)
            score += bw * abs(int(w_int[mem].sum()) - target)
            score += BALANCE_UNITS * sum(
                int(round(params.compactness_weight * stores[c] * km[r][c])) if stores[c] > 0 else 1 for c in mem
            )
            score += BALANCE_UNITS * SHORT_PENALTY * max(0, lo - int(stores[mem].sum()))
        return warm, score / BALANCE_UNITS, lp_bound / BALANCE_UNITS, "heuristic"
    label = np.full(n, -1, dtype=np.int64)
    for (c, r), v in y.items():
        if solver.boolean_value(v):
            label[c] = r
    bound = max(float(solver.best_objective_bound), lp_bound)
    return label, float(solver.objective_value) / BALANCE_UNITS, bound / BALANCE_UNITS, (
        "optimal" if st == cp_model.OPTIMAL else "feasible"
    )


def draw_territories(
    tinst: TerritoryInstance, params: CommandParams, *, time_limit_s: float = 15.0, threads: int = 2, seed: int = 0,
) -> Territories:
    """Cut every province into areas (see the module docstring for the model).

    Parameters
    ----------
    tinst
        Counties, their stores and workload, and the county graph.
    params
        Size limits and the compactness weight.
    time_limit_s
        Work budget of all CP-SAT solves together, in CP-SAT's deterministic
        seconds (so territories do not depend on the machine's load; each part's
        wall clock stops at four times its share), shared between the provinces'
        parts by their number of (county, centre) pairs, at least ``MIN_PART_S`` each.
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
    for note in notes:
        log.info("territories: %s", note)
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
    # time shared by (county, centre) pairs, the model's size
    total_w = max(sum(p.nodes.size * int((tinst.county_stores[p.nodes] > 0).sum()) for p in parts), 1)
    objective = bound = 0.0
    left = time_limit_s
    statuses: set[str] = set()
    fallbacks: list[str] = []
    for part in parts:
        stores = tinst.county_stores[part.nodes]
        s = int(stores.sum())
        weight = part.nodes.size * int((stores > 0).sum())
        budget = max(left * weight / total_w, MIN_PART_S)
        left -= budget
        total_w -= weight
        if s < lo:
            centre = int(np.argmax(tinst.county_workload[part.nodes] + stores))
            h = _hops(part.nbrs, centre)
            joined = _steiner(part, stores, centre, h)
            a = new_area(part.province, int(part.nodes[centre]), "small_province")
            county_area[part.nodes[joined >= 0]] = a
            continue
        pairs = part.nodes.size * int((stores > 0).sum())
        hop_limit = HOP_LIMIT if pairs > MAX_PAIRS else None
        solved, obj, bnd, st = _solve_part(part, tinst, params, lo, hop_limit, budget, threads, seed)
        if st == "heuristic":
            fallbacks.append(f"{tinst.province_label(part.province)}: CP-SAT found nothing in time, region growing used")
        if solved is None:  # pragma: no cover - the model is always feasible (soft minimum, one-county areas)
            raise RuntimeError(f"territory model infeasible in {tinst.province_label(part.province)}")
        label = solved
        statuses.add(st)
        objective += obj
        bound += bnd
        for r in np.unique(label[label >= 0]).tolist():
            mem = label == r
            size = int(stores[mem].sum())
            exc = "" if lo <= size <= hi else "relaxed_minimum"
            if exc == "relaxed_minimum" and st != "heuristic":
                fallbacks.append(
                    f"{tinst.province_label(part.province)}: area at county {tinst.county_label(int(part.nodes[r]))} "
                    f"holds {size} stores < command.min_stores_per_area={lo} (no connected cut reaches it)"
                )
            county_area[part.nodes[mem]] = new_area(part.province, int(part.nodes[r]), exc)
    area_province = np.asarray(a_prov, dtype=np.int64)
    order = np.lexsort((np.asarray(a_centre), area_province)) if a_prov else np.zeros(0, dtype=np.int64)
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    county_area = np.where(county_area >= 0, rank[np.maximum(county_area, 0)], NO_AREA)
    proven = math.isfinite(objective) and math.isfinite(bound)
    status = "optimal" if statuses <= {"optimal"} else "time_limit"
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
