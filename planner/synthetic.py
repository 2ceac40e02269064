"""Synthetic instances, illustrative data for tests and benchmarks alike.

Generators that shape arrays like the real problem (clustered cities inside
province boxes, county towns around them, existing stores near city centres)
from a seed, so a benchmark or a property test can exercise a solver at any size
without geodata. Nothing here is real data; results on these instances say how
the solvers behave, not where to open stores.
"""

from __future__ import annotations

import heapq
import math

import numpy as np
from scipy.spatial import cKDTree

from planner.optimise.rollout.model import value_model
from planner.optimise.rollout.types import RolloutInstance
from planner.optimise.types import Instance, ObjectiveKind, Solution

__all__ = ["synthetic_rollout_instance", "greedy_selection"]


# --- rollout instances
def synthetic_rollout_instance(
    *,
    n_cells: int = 20_000,
    n_sites: int = 2_000,
    n_existing: int = 150,
    n_provinces: int = 31,
    cities_per_province: int = 6,
    stores: int = 1_000,
    kind: ObjectiveKind = "coverage",
    radius_km: float = 8.0,
    seed: int = 0,
) -> RolloutInstance:
    """A clustered, national-like rollout instance (illustrative, for tests and benchmarks).

    Cells gather around city centres inside province boxes; sites are drawn from
    cells (a site farther than 15 km from its city centre is a county store);
    ``n_existing`` of the sites nearest city centres are existing stores. Capex
    is 3 M CNY for city sites, 1.5 M for county sites; opex half of that a year.
    """
    rng = np.random.default_rng(seed)
    side = int(math.ceil(math.sqrt(n_provinces)))
    prov_xy = np.stack(np.divmod(np.arange(n_provinces), side), axis=1) * 400.0 + 200.0
    n_cities = n_provinces * cities_per_province
    city_prov = np.repeat(np.arange(n_provinces), cities_per_province)
    city_xy = prov_xy[city_prov] + rng.uniform(-170, 170, size=(n_cities, 2))
    city_size = rng.lognormal(0.0, 1.0, n_cities)
    cell_city = rng.choice(n_cities, size=n_cells, p=city_size / city_size.sum())
    spread = rng.exponential(12.0, n_cells)
    ang = rng.uniform(0, 2 * np.pi, n_cells)
    cell_xy = city_xy[cell_city] + np.stack([np.cos(ang), np.sin(ang)], axis=1) * spread[:, None]
    weight = rng.lognormal(8.0, 1.0, n_cells) * np.exp(-spread / 25.0)
    site_cell = rng.choice(n_cells, size=n_sites, replace=False, p=weight / weight.sum())
    site_xy = cell_xy[site_cell]
    site_dist = np.linalg.norm(site_xy - city_xy[cell_city[site_cell]], axis=1)
    county = site_dist > 15.0
    tree_s, tree_c = cKDTree(site_xy), cKDTree(cell_xy)
    reach = 3.0 * radius_km if kind != "coverage" else radius_km
    nb = tree_s.query_ball_tree(tree_c, r=reach)
    lens = np.fromiter((len(x) for x in nb), dtype=np.int64, count=n_sites)
    pair_site = np.repeat(np.arange(n_sites), lens).astype(np.int32)
    pair_cell = np.concatenate([np.sort(np.asarray(x, dtype=np.int64)) for x in nb]).astype(np.int32)
    pair_km = np.linalg.norm(site_xy[pair_site] - cell_xy[pair_cell], axis=1)
    existing = np.sort(np.argsort(site_dist + rng.uniform(0, 5, n_sites))[:n_existing])
    capex = np.where(county, 1.5e6, 3.0e6)
    capex[existing] = 0.0
    pull = None
    if kind == "market_share":
        pull = rng.uniform(0.2, 2.0, n_cells) * np.exp(-spread / 30.0)
    inst = Instance(
        weight=weight, pair_cell=pair_cell, pair_site=pair_site, pair_km=pair_km, n_sites=n_sites,
        stores=stores, radius_km=np.full(n_sites, radius_km), competitor_pull=pull,
        fixed=existing.astype(np.int64), capex_cny=capex, opex_cny=np.where(county, 0.75e6, 1.5e6),
    )
    return RolloutInstance(
        instance=inst, site_province=city_prov[cell_city[site_cell]], site_is_county=county,
        objective_kind=kind, cell_population=weight / 10.0,
        province_names=[f"P{p:02d}" for p in range(n_provinces)],
    )


def greedy_selection(rinst: RolloutInstance, stores: int | None = None) -> Solution:
    """Plain lazy-greedy site selection (existing stores kept), for tests and benchmarks only.

    The real selection is :func:`planner.optimise.solve.solve`; this stands in
    for it so the rollout can be exercised on its own. It ranks sites by the
    rollout's own value model and ignores every selection constraint but the
    store count, so it is not :func:`planner.optimise.greedy.greedy` (which
    breaks near-ties differently and picks other sites on some benchmark
    instances); keeping it keeps the tests' and benchmarks' inputs unchanged.
    """
    inst = rinst.instance
    vm = value_model(rinst)
    pre = rinst.preopen_mask()
    base = np.flatnonzero(pre)
    stores = inst.stores if stores is None else stores
    state = vm.state_of(base)
    cand = np.flatnonzero(~pre)
    gains = vm.gains(state, cand)
    heap = [(-g, int(j)) for g, j in zip(gains, cand, strict=True)]
    heapq.heapify(heap)
    chosen: list[int] = []
    while heap and base.size + len(chosen) < stores:
        _, j = heapq.heappop(heap)
        g = vm.gain(state, j)
        if heap and g < -heap[0][0] - 1e-12:
            heapq.heappush(heap, (-g, j))
            continue
        chosen.append(j)
        vm.add(state, j)
    sites = np.sort(np.r_[base, np.asarray(chosen, dtype=np.int64)])
    return Solution(open_sites=sites, objective=vm.objective(vm.total(state)), objective_kind=rinst.objective_kind)
