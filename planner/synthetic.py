"""Instance generators, used by the benchmarks and the tests alike: seeded (the same
arguments give bit-identical arrays), pure, numpy-only, and returning the optimiser's
own types. ``synthetic_instance`` is the national-like instance that ``planner bench
synthetic`` solves and ``benchmarks/`` measures; ``clustered_instance`` is a quicker
clustered instance for tests; ``synthetic_rollout_instance`` and ``greedy_selection``
feed the rollout's tests and benchmark. Nothing here is real data: results on these
instances say how the solvers behave, not where to open stores.
"""

from __future__ import annotations

import heapq
import logging
import math

import numpy as np
from scipy.spatial import cKDTree

from planner.optimise.compete import Follower
from planner.optimise.rollout.model import value_model
from planner.optimise.rollout.types import RolloutInstance
from planner.optimise.types import OBJECTIVES, Instance, ObjectiveKind, Solution, attraction

__all__ = ["synthetic_instance", "clustered_instance", "synthetic_rollout_instance", "greedy_selection"]

logger = logging.getLogger(__name__)


# --- site-selection instances ------------------------------------------------
#: Extent of the synthetic "country", km (roughly mainland China's populated east).
_EXTENT_KM = (3600.0, 2800.0)
#: Mean number of reachable sites per cell the pair radius is tuned to.
_PAIRS_PER_CELL = 4.0
#: Cells per city (about 2,500 "cities" at 100,000 cells, county-like).
_CELLS_PER_CITY = 40
#: City sizes are Pareto(alpha) + 1, capped: heavy-tailed but no single megalopolis.
_CITY_PARETO_ALPHA = 1.1
_CITY_MAX_SIZE = 1000.0
#: City spread (Gaussian sigma) = base + per_sqrt_size * sqrt(size), km.
_CITY_SPREAD_KM = (1.5, 1.0)
#: Rural cells scatter around a city with this many times its spread.
_RURAL_SPREAD = 3.0


def synthetic_instance(
    *,
    cells: int,
    candidates: int,
    stores: int,
    existing: int,
    seed: int,
    objective: ObjectiveKind = "coverage",
) -> Instance:
    """Build a reproducible clustered, national-like instance.

    Cities are Gaussian clusters of grid cells with heavy-tailed (Pareto) sizes
    and spreads, scattered over a 3,600 x 2,800 km plane denser to the east; a
    tenth of the cells are rural, spread thinly. Candidate sites are drawn near
    demand (a demand-weighted cell plus a few hundred metres of jitter); the
    ``existing`` fixed sites sit in the largest cities, as a brand's first
    stores do. Pairs are every cell-site pair within one radius, found with a
    k-d tree; the radius is chosen from the data so that a cell has about four
    reachable sites on average, which keeps the instance's structure (many
    small regional components, a few big metropolitan ones) similar at every
    size. Competitors (three brands, as many stores in total as candidates)
    are placed the same way; their Huff pull on each cell within the radius is
    ``competitor_pull``.

    Parameters
    ----------
    cells, candidates
        N and M.
    stores
        Open sites in total, the fixed ones included.
    existing
        Fixed open sites (the brand's current stores), ``existing <= stores``.
    seed
        Everything random is drawn from ``numpy.random.default_rng(seed)``;
        the same arguments give bit-identical arrays.
    objective
        Checked for validity only: the arrays are the same for every
        objective, so one instance can be scored on all three.

    Returns
    -------
    Instance
        ``radius_km`` (same for every site) is also the pair radius;
        ``unreachable_km`` is twice it; ``beta`` = 2; ``site_attr`` in
        {0.6, 1, 1.8} (small, standard, flagship).

    Raises
    ------
    ValueError
        Sizes out of range or an unknown objective.
    """
    if objective not in OBJECTIVES:
        raise ValueError(f"objective must be one of {OBJECTIVES}, got {objective!r}")
    if cells < 1 or candidates < 1:
        raise ValueError("cells and candidates must be positive")
    if not 0 <= existing <= stores <= candidates:
        raise ValueError(
            f"need 0 <= existing ({existing}) <= stores ({stores}) <= candidates ({candidates})"
        )
    rng = np.random.default_rng(seed)

    # --- cities: heavy-tailed sizes, denser towards the east and south ------
    n_cities = max(1, round(cells / _CELLS_PER_CITY))
    size = np.minimum(rng.pareto(_CITY_PARETO_ALPHA, n_cities) + 1.0, _CITY_MAX_SIZE)
    share = size / size.sum()
    east = rng.beta(2.5, 1.3, n_cities)  # more cities to the east
    centre = np.column_stack((east * _EXTENT_KM[0], rng.beta(1.6, 1.6, n_cities) * _EXTENT_KM[1]))
    spread_km = _CITY_SPREAD_KM[0] + _CITY_SPREAD_KM[1] * np.sqrt(size)  # big cities sprawl

    n_rural = cells // 10
    n_urban = cells - n_rural
    per_city = rng.multinomial(n_urban, share)
    city_of = np.repeat(np.arange(n_cities), per_city)
    xy_urban = centre[city_of] + rng.normal(size=(n_urban, 2)) * spread_km[city_of, None]
    # rural cells cluster loosely around cities too, so the country is not empty
    rural_city = rng.choice(n_cities, size=n_rural, p=share)
    xy_rural = centre[rural_city] + rng.normal(size=(n_rural, 2)) * (
        _RURAL_SPREAD * spread_km[rural_city, None]
    )
    cell_xy = np.vstack((xy_urban, xy_rural))
    cell_city = np.concatenate((city_of, rural_city))
    urban = np.arange(cells) < n_urban
    # people x spend: lognormal, bigger cities richer; rural cells lighter
    weight = rng.lognormal(mean=0.0, sigma=0.8, size=cells) * (size[cell_city] ** 0.15)
    weight[~urban] *= 0.3
    weight = np.round(weight * 1000.0) / 1000.0  # people-like numbers, exact in a text dump

    # --- candidate sites near demand ----------------------------------------
    pick = rng.choice(cells, size=candidates, p=weight / weight.sum())
    site_xy = cell_xy[pick] + rng.normal(size=(candidates, 2)) * 0.3
    site_attr = rng.choice(np.array([0.6, 1.0, 1.8]), size=candidates, p=[0.25, 0.6, 0.15])

    # --- existing stores: in the largest ~45 cities -------------------------
    big = np.argsort(-size, kind="stable")[: min(45, n_cities)]
    in_big = np.nonzero(np.isin(cell_city[pick], big))[0]
    pool = in_big if in_big.size >= existing else np.arange(candidates)
    fixed = np.sort(rng.choice(pool, size=existing, replace=False)).astype(np.int64)

    # --- pairs within a radius tuned to ~4 sites per cell --------------------
    site_tree = cKDTree(site_xy)
    k_near = int(min(candidates, 4 * _PAIRS_PER_CELL))
    near_km, _ = site_tree.query(cell_xy, k=k_near)
    near_km = np.asarray(near_km).reshape(cells, -1)
    target = int(min(near_km.size, round(_PAIRS_PER_CELL * cells)))
    radius = float(np.partition(near_km.ravel(), target - 1)[target - 1])
    radius = max(0.1, math.ceil(radius * 10.0) / 10.0)  # a round catchment, 0.1 km
    pairs = cKDTree(cell_xy).sparse_distance_matrix(site_tree, radius, output_type="ndarray")
    order = np.lexsort((pairs["i"], pairs["j"]))
    pair_cell = pairs["i"][order].astype(np.int32)
    pair_site = pairs["j"][order].astype(np.int32)
    pair_km = np.round(pairs["v"][order], 4)  # 1e-4 km = 10 cm, exact in a text dump

    # --- competitors: three brands, placed like the candidates ---------------
    beta = 2.0
    n_comp = candidates
    comp_pick = rng.choice(cells, size=n_comp, p=weight / weight.sum())
    comp_xy = cell_xy[comp_pick] + rng.normal(size=(n_comp, 2)) * 0.3
    comp_attr = rng.choice(np.array([1.2, 1.0, 1.0]), size=n_comp)  # Huawei, OPPO, vivo
    cp = cKDTree(cell_xy).sparse_distance_matrix(cKDTree(comp_xy), radius, output_type="ndarray")
    pull = np.bincount(
        cp["i"], weights=attraction(comp_attr[cp["j"]], cp["v"], beta), minlength=cells
    )

    inst = Instance(
        weight=weight,
        pair_cell=pair_cell,
        pair_site=pair_site,
        pair_km=pair_km,
        n_sites=candidates,
        stores=stores,
        radius_km=np.full(candidates, radius),
        unreachable_km=2.0 * radius,
        site_attr=site_attr,
        competitor_pull=pull,
        beta=beta,
        fixed=fixed,
    )
    logger.info(
        "synthetic instance seed=%d: %d cells, %d sites, %d pairs (%.2f per cell), radius %.1f km",
        seed,
        cells,
        candidates,
        pair_cell.size,
        pair_cell.size / cells,
        radius,
    )
    return inst


def clustered_instance(
    n_cells: int = 2000,
    n_sites: int = 300,
    stores: int = 40,
    n_fixed: int = 6,
    *,
    n_cities: int | None = None,
    seed: int = 0,
    radius_km: float = 4.0,
    max_km: float | None = None,
    spread_km: float = 15.0,
) -> Instance:
    """Build a quick, seeded, clustered instance (the tests' and LNS studies' generator).

    Cities are Gaussian clusters (lognormal sizes) placed uniformly on a
    3,000 km square; candidate sites sit on cells with a few hundred metres of
    jitter, as the planner's candidates do. Unlike :func:`synthetic_instance`,
    each site has its own catchment radius (``radius_km`` x U(0.7, 1.3)) and the
    pair radius is given, not tuned, so the instance is cheap to build at any size.

    Parameters
    ----------
    n_cells, n_sites
        N and M.
    stores
        Open sites in total, the fixed ones included.
    n_fixed
        Fixed open sites, drawn uniformly among the sites.
    n_cities
        Number of clusters; default ``max(3, n_cells // 400)``.
    seed
        Everything random is drawn from ``numpy.random.default_rng(seed)``.
    radius_km
        Mean coverage radius, km.
    max_km
        Pair radius, km; default ``1.5 * radius_km``. ``unreachable_km`` is twice it.
    spread_km
        Spread (Gaussian sigma) of the largest city, km; smaller ones are tighter.

    Returns
    -------
    Instance
        Pairs sorted by site then cell; ``site_attr`` in U(0.5, 2),
        ``competitor_pull`` Gamma(2, 0.3) per cell, ``beta`` = 2.
    """
    rng = np.random.default_rng(seed)
    n_cities = n_cities or max(3, n_cells // 400)
    centre = rng.uniform(0, 3000, size=(n_cities, 2))
    size = rng.lognormal(0.0, 1.5, n_cities)
    share = size / size.sum()
    spread = spread_km * (0.3 + np.sqrt(share / share.max()))
    city_c = rng.choice(n_cities, n_cells, p=share)
    cells = centre[city_c] + rng.normal(size=(n_cells, 2)) * spread[city_c, None]
    # candidate sites sit on cells (populous places), as the planner's candidates do
    sites = cells[rng.choice(n_cells, n_sites, replace=False)] + rng.normal(size=(n_sites, 2)) * 0.3
    weight = rng.lognormal(0.0, 1.0, n_cells) * 100.0
    max_km = 1.5 * radius_km if max_km is None else max_km
    tree = cKDTree(cells)
    nb = tree.query_ball_point(sites, r=max_km)
    ps = np.repeat(np.arange(n_sites), [len(x) for x in nb]).astype(np.int32)
    pc = np.concatenate([np.asarray(x, dtype=np.int64) for x in nb]).astype(np.int32)
    km = np.linalg.norm(cells[pc] - sites[ps], axis=1)
    order = np.lexsort((pc, ps))
    fixed = rng.choice(n_sites, n_fixed, replace=False)
    return Instance(
        weight=weight,
        pair_cell=pc[order],
        pair_site=ps[order],
        pair_km=km[order],
        n_sites=n_sites,
        stores=stores,
        radius_km=np.full(n_sites, radius_km) * rng.uniform(0.7, 1.3, n_sites),
        unreachable_km=2.0 * max_km,
        site_attr=rng.uniform(0.5, 2.0, n_sites),
        competitor_pull=rng.gamma(2.0, 0.3, n_cells),
        beta=2.0,
        fixed=np.sort(fixed),
    )



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


def synthetic_compete(
    *,
    cells: int,
    candidates: int,
    stores: int,
    existing: int,
    follower_stores: int,
    follower_attr: float = 1.2,
    seed: int,
) -> tuple[Instance, Follower]:
    """A leader-follower instance: :func:`synthetic_instance` plus rivals who may open on the same sites.

    The follower's sites are the leader's sites (same pairs and distances), each
    with attraction ``follower_attr`` (a strong rival brand, as Huawei's weight
    1.2 in the default scenario); the follower opens ``follower_stores`` of them.
    """
    inst = synthetic_instance(
        cells=cells, candidates=candidates, stores=stores, existing=existing, seed=seed, objective="market_share"
    )
    fol = Follower(
        site_attr=np.full(inst.n_sites, float(follower_attr)),
        pair_cell=np.asarray(inst.pair_cell, dtype=np.int64), pair_site=np.asarray(inst.pair_site, dtype=np.int64),
        pair_km=np.asarray(inst.pair_km, dtype=float), stores=int(follower_stores),
    )
    return inst, fol
