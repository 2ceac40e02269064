"""Instance generators, used by the benchmarks and the tests alike: seeded (the same
arguments give bit-identical arrays), pure, numpy-only, and returning the optimiser's
own types. ``synthetic_instance`` is the national-like instance that ``planner bench
synthetic`` solves and ``benchmarks/`` measures; ``clustered_instance`` is a quicker
clustered instance for tests; ``synthetic_rollout_instance`` and ``greedy_selection``
feed the rollout's tests and benchmark. Nothing here is real data: results on these
instances say how the solvers behave, not where to open stores.

Three *families* differ in structure, each at national size by default (100,000
cells, 10,000 candidates, 1,000 stores, 1-2 M pairs), for ``benchmarks/bench_families.py``:

* ``china_like_instance``: a few huge metros, a tier ladder of cities and
  thousands of small towns; the catchment radius grows down the tiers (3 km in
  a tier-1 city, 15 km in the countryside) as in the default scenario;
* ``uniform_instance``: demand and sites spread evenly with a large radius, so
  every cell reaches ~20 sites and the cell-site graph is one dense component;
* ``fragmented_instance``: many tiny towns in loose county groups, a dominant
  rival network (several times the brand's pull) and 40 % of the stores fixed.

:data:`FAMILIES` maps each family's name to its generator.
"""

from __future__ import annotations

import heapq
import logging
import math
from collections.abc import Callable
from dataclasses import replace

import numpy as np
from scipy.spatial import cKDTree

from planner.optimise.compete import Follower
from planner.optimise.rollout.model import value_model
from planner.optimise.rollout.types import RolloutInstance
from planner.optimise.types import OBJECTIVES, Instance, ObjectiveKind, Solution, attraction

__all__ = [
    "orlib_like_pmed",
    "synthetic_instance",
    "clustered_instance",
    "china_like_instance",
    "uniform_instance",
    "fragmented_instance",
    "FAMILIES",
    "with_profit",
    "synthetic_rollout_instance",
    "greedy_selection",
    "logit_capture_instance",
    "logit_utilities",
    "encode_logit",
    "logit_capture",
    "synthetic_compete",
]

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



def with_profit(
    inst: Instance,
    *,
    seed: int,
    margin: float = 1.0,
    cost_ratio: float = 0.5,
    stores_min: int | None = None,
    stores_max: int | None = None,
) -> Instance:
    """The same instance with the profit objective's arrays: a margin, a fixed cost per site, a count range.

    Each site's yearly fixed cost is ``cost_ratio`` x U(0.5, 1.5) x what a site
    captures on average when all ``stores`` are open against the competitors
    (``margin x sum(weight) / stores`` x the mean share of a cell, estimated from the
    pull), so with the default ratio a typical site roughly pays for itself and the
    marginal ones do not: the range's end is then a real choice. Illustrative only.

    Parameters
    ----------
    inst
        A market-share instance (``competitor_pull`` set).
    seed
        Seed of the cost draw.
    margin
        Money per unit of captured weight.
    cost_ratio
        Scale of the costs relative to a site's typical gross margin.
    stores_min, stores_max
        The count range (None: the exact ``stores``).
    """
    rng = np.random.default_rng(seed)
    out = Instance(**{f: getattr(inst, f) for f in inst.__dataclass_fields__})
    typical = margin * float(np.sum(inst.weight)) / max(int(inst.stores), 1) * 0.5
    out.site_fixed_cost = cost_ratio * typical * rng.uniform(0.5, 1.5, inst.n_sites)
    out.margin = float(margin)
    out.stores_min, out.stores_max = stores_min, stores_max
    return out


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
# --- instance families (benchmarks/bench_families.py) ----------------------
def _site_pairs(
    cell_xy: np.ndarray, site_xy: np.ndarray, reach_km: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every (cell, site) pair within the site's own reach, sorted by site then cell."""
    nb = cKDTree(cell_xy).query_ball_point(site_xy, r=reach_km)
    ps = np.repeat(np.arange(site_xy.shape[0]), [len(x) for x in nb]).astype(np.int32)
    pc = np.concatenate([np.asarray(x, dtype=np.int64) for x in nb] or [np.zeros(0, np.int64)]).astype(np.int32)
    order = np.lexsort((pc, ps))
    pc, ps = pc[order], ps[order]
    km = np.round(np.linalg.norm(cell_xy[pc] - site_xy[ps], axis=1), 4)
    return pc, ps, km


def _rival_pull(
    cell_xy: np.ndarray, comp_xy: np.ndarray, comp_attr: np.ndarray, reach_km: float, beta: float
) -> np.ndarray:
    """Each cell's Huff pull from the rival stores within ``reach_km``."""
    cp = cKDTree(cell_xy).sparse_distance_matrix(cKDTree(comp_xy), reach_km, output_type="ndarray")
    return np.bincount(
        cp["i"], weights=attraction(comp_attr[cp["j"]], cp["v"], beta), minlength=cell_xy.shape[0]
    )


def _check_sizes(cells: int, candidates: int, stores: int, existing: int) -> None:
    if cells < 1 or candidates < 1:
        raise ValueError("cells and candidates must be positive")
    if not 0 <= existing <= stores <= candidates:
        raise ValueError(
            f"need 0 <= existing ({existing}) <= stores ({stores}) <= candidates ({candidates})"
        )


def _log_family(name: str, seed: int, inst: Instance) -> None:
    logger.info(
        "%s instance seed=%d: %d cells, %d sites, %d pairs (%.1f per cell), %d stores (%d fixed)",
        name, seed, inst.n_cells, inst.n_sites, inst.n_pairs, inst.n_pairs / inst.n_cells,
        inst.stores, inst.fixed.size,
    )


#: China-like tiers: (name, number of cities, share of the cells, spread km,
#: people per cell factor, catchment radius km). Small towns and rural cells follow.
_CHINA_TIERS: tuple[tuple[str, int, float, float, float, float], ...] = (
    ("1", 4, 0.16, 22.0, 3.0, 3.0),
    ("new1", 15, 0.20, 14.0, 2.2, 4.0),
    ("2", 30, 0.16, 9.0, 1.6, 5.0),
    ("3", 80, 0.16, 5.0, 1.2, 8.0),
)
_CHINA_TOWNS = (3000, 0.26, 2.0, 0.8, 12.0)  # towns, share, spread km, people factor, radius km
_CHINA_RURAL_RADIUS_KM = 15.0
#: Pairs reach this many times a site's catchment radius (distance and market share
#: see beyond the step-coverage catchment).
_CHINA_REACH = 2.0


def china_like_instance(
    *,
    cells: int = 100_000,
    candidates: int = 10_000,
    stores: int = 1000,
    existing: int = 150,
    seed: int = 0,
) -> Instance:
    """A China-like clustered instance: a few huge metros, a tier ladder, many small towns.

    Four tier-1 metros (16 % of the cells), 15 new-tier-1 cities (20 %), 30
    tier-2 (16 %), 80 tier-3 (16 %), 3,000 small towns (26 %, 2 km spreads) and
    6 % rural cells scattered around the towns, on a 3,600 x 2,800 km plane
    weighted to the east. Each cell's demand is lognormal times its tier's
    people factor (3 in tier 1 down to 0.3 in the countryside). Candidates are
    drawn where the demand is; each site's catchment radius is its tier's (3, 4,
    5, 8 km, 12 km in a town, 15 km in the countryside, as the default scenario's
    ``objective.catchment_km``), and its pairs reach twice that. The ``existing``
    fixed stores sit in tier-1 to tier-2 cities. Rivals: as many stores as
    candidates, placed like them, reach 10 km.

    Parameters
    ----------
    cells, candidates, stores, existing
        N, M, open sites in total (fixed included), fixed open sites.
    seed
        Everything random is drawn from ``numpy.random.default_rng(seed)``.

    Returns
    -------
    Instance
        ``radius_km`` per site (by tier), ``unreachable_km`` 40, ``beta`` 2,
        ``site_attr`` in {0.6, 1, 1.8}.
    """
    _check_sizes(cells, candidates, stores, existing)
    rng = np.random.default_rng(seed)
    xs, tiers_of, people, radius_of = [], [], [], []
    n_left = cells
    groups: list[tuple[int, float, float, float, float]] = [
        (n, share, spread, ppl, rad) for _name, n, share, spread, ppl, rad in _CHINA_TIERS
    ]
    groups.append(_CHINA_TOWNS)
    town_centres = np.zeros((0, 2))
    for t, (n_city, share, spread, ppl, rad) in enumerate(groups):
        n_cells = min(n_left, int(round(share * cells)))
        n_left -= n_cells
        centre = np.column_stack(
            (rng.beta(2.5, 1.3, n_city) * _EXTENT_KM[0], rng.beta(1.6, 1.6, n_city) * _EXTENT_KM[1])
        )
        size = rng.lognormal(0.0, 0.5, n_city)
        per = rng.multinomial(n_cells, size / size.sum())
        city = np.repeat(np.arange(n_city), per)
        sp = spread * np.sqrt(size / size.mean())
        xs.append(centre[city] + rng.normal(size=(n_cells, 2)) * sp[city, None])
        tiers_of.append(np.full(n_cells, t))
        people.append(np.full(n_cells, ppl))
        radius_of.append(rad)
        if t == len(groups) - 1:
            town_centres = centre
    # the rest: rural cells loosely around the towns
    n_rural = n_left
    around = rng.integers(0, max(1, town_centres.shape[0]), n_rural)
    xs.append(town_centres[around] + rng.normal(size=(n_rural, 2)) * 12.0)
    tiers_of.append(np.full(n_rural, len(groups)))
    people.append(np.full(n_rural, 0.3))
    radius_of.append(_CHINA_RURAL_RADIUS_KM)
    cell_xy = np.vstack(xs)
    cell_tier = np.concatenate(tiers_of)
    weight = np.round(rng.lognormal(0.0, 0.8, cells) * np.concatenate(people) * 1000.0) / 1000.0

    pick = rng.choice(cells, size=candidates, p=weight / weight.sum())
    site_xy = cell_xy[pick] + rng.normal(size=(candidates, 2)) * 0.3
    site_tier = cell_tier[pick]
    radius = np.asarray(radius_of, dtype=float)[site_tier]
    site_attr = rng.choice(np.array([0.6, 1.0, 1.8]), size=candidates, p=[0.25, 0.6, 0.15])
    big = np.flatnonzero(site_tier <= 2)
    pool = big if big.size >= existing else np.arange(candidates)
    fixed = np.sort(rng.choice(pool, size=existing, replace=False)).astype(np.int64)
    pc, ps, km = _site_pairs(cell_xy, site_xy, _CHINA_REACH * radius)

    beta = 2.0
    comp_pick = rng.choice(cells, size=candidates, p=weight / weight.sum())
    comp_xy = cell_xy[comp_pick] + rng.normal(size=(candidates, 2)) * 0.3
    pull = _rival_pull(cell_xy, comp_xy, rng.choice(np.array([1.2, 1.0, 1.0]), size=candidates), 10.0, beta)
    inst = Instance(
        weight=weight, pair_cell=pc, pair_site=ps, pair_km=km, n_sites=candidates, stores=stores,
        radius_km=radius, unreachable_km=40.0, site_attr=site_attr, competitor_pull=pull, beta=beta,
        fixed=fixed,
    )
    _log_family("china-like", seed, inst)
    return inst


def uniform_instance(
    *,
    cells: int = 100_000,
    candidates: int = 10_000,
    stores: int = 1000,
    existing: int = 100,
    seed: int = 0,
    sites_per_cell: float = 20.0,
    extent_km: float = 2000.0,
) -> Instance:
    """Uniform, sparse demand with a large radius: dense pairs, one big component.

    Cells and candidates are uniform on an ``extent_km`` square (lognormal
    demand), so the structure that helps the decomposition (regions) is absent:
    the pair radius is chosen so that a cell reaches ``sites_per_cell`` sites on
    average (about 2 M pairs at the default sizes, a 50 km radius), and a store
    covers the cells within half that radius, so 1,000 stores can cover about
    half the country. Fixed stores are drawn uniformly. Rivals: half as many
    stores as candidates, uniform, within the pair radius.

    Parameters
    ----------
    cells, candidates, stores, existing
        N, M, open sites in total (fixed included), fixed open sites.
    seed
        Everything random is drawn from ``numpy.random.default_rng(seed)``.
    sites_per_cell, extent_km
        Mean sites within a cell's pair radius; side of the square.

    Returns
    -------
    Instance
        ``radius_km`` (every site) half the pair radius, ``unreachable_km``
        twice the pair radius, ``beta`` 2, ``site_attr`` U(0.6, 1.8).
    """
    _check_sizes(cells, candidates, stores, existing)
    rng = np.random.default_rng(seed)
    cell_xy = rng.uniform(0.0, extent_km, size=(cells, 2))
    site_xy = rng.uniform(0.0, extent_km, size=(candidates, 2))
    weight = np.round(rng.lognormal(0.0, 1.0, cells) * 1000.0) / 1000.0
    reach = math.sqrt(sites_per_cell * extent_km**2 / (math.pi * candidates))
    reach = math.ceil(reach * 10.0) / 10.0
    pc, ps, km = _site_pairs(cell_xy, site_xy, np.full(candidates, reach))
    fixed = np.sort(rng.choice(candidates, size=existing, replace=False)).astype(np.int64)
    beta = 2.0
    n_comp = max(1, candidates // 2)
    comp_xy = rng.uniform(0.0, extent_km, size=(n_comp, 2))
    pull = _rival_pull(cell_xy, comp_xy, np.ones(n_comp), reach, beta)
    inst = Instance(
        weight=weight, pair_cell=pc, pair_site=ps, pair_km=km, n_sites=candidates, stores=stores,
        radius_km=np.full(candidates, 0.5 * reach), unreachable_km=2.0 * reach,
        site_attr=rng.uniform(0.6, 1.8, candidates), competitor_pull=pull, beta=beta, fixed=fixed,
    )
    _log_family("uniform", seed, inst)
    return inst


def fragmented_instance(
    *,
    cells: int = 100_000,
    candidates: int = 10_000,
    stores: int = 1000,
    existing: int = 400,
    seed: int = 0,
    towns: int = 4000,
    rival_factor: float = 4.0,
) -> Instance:
    """Many tiny towns, a dominant rival network and a high share of fixed stores.

    ``towns`` small towns (1.5 km spreads, lognormal sizes) sit in county groups
    of about five, 4-8 km apart, so a town's cells also reach the next towns'
    sites (8 km pairs; about 1.2 M pairs at the default sizes) and the graph
    falls into ~800 small regions. Candidates are drawn where the demand is;
    ``existing`` (40 % of the stores by default) are fixed, spread over the
    towns as a long-established network. Rivals have ``rival_factor`` times as
    many stores as candidates, each 1.5 times as attractive, near the demand,
    so the brand's Huff share is small and every cell's value is concave and flat.

    Parameters
    ----------
    cells, candidates, stores, existing
        N, M, open sites in total (fixed included), fixed open sites.
    seed
        Everything random is drawn from ``numpy.random.default_rng(seed)``.
    towns, rival_factor
        Number of towns; rival stores per candidate.

    Returns
    -------
    Instance
        ``radius_km`` 4 (every site), ``unreachable_km`` 16, ``beta`` 2,
        ``site_attr`` in {0.6, 1, 1.8}.
    """
    _check_sizes(cells, candidates, stores, existing)
    rng = np.random.default_rng(seed)
    n_county = max(1, towns // 5)
    county_xy = np.column_stack(
        (rng.beta(2.0, 1.4, n_county) * _EXTENT_KM[0], rng.beta(1.6, 1.6, n_county) * _EXTENT_KM[1])
    )
    town_county = rng.integers(0, n_county, towns)
    angle = rng.uniform(0.0, 2.0 * math.pi, towns)
    dist = rng.uniform(4.0, 8.0, towns)
    town_xy = county_xy[town_county] + np.column_stack((np.cos(angle), np.sin(angle))) * dist[:, None]
    size = rng.lognormal(0.0, 0.6, towns)
    per = rng.multinomial(cells, size / size.sum())
    town_of = np.repeat(np.arange(towns), per)
    cell_xy = town_xy[town_of] + rng.normal(size=(cells, 2)) * 1.5
    weight = np.round(rng.lognormal(0.0, 0.8, cells) * 1000.0) / 1000.0
    pick = rng.choice(cells, size=candidates, p=weight / weight.sum())
    site_xy = cell_xy[pick] + rng.normal(size=(candidates, 2)) * 0.3
    site_attr = rng.choice(np.array([0.6, 1.0, 1.8]), size=candidates, p=[0.25, 0.6, 0.15])
    fixed = np.sort(rng.choice(candidates, size=existing, replace=False)).astype(np.int64)
    reach = 8.0
    pc, ps, km = _site_pairs(cell_xy, site_xy, np.full(candidates, reach))
    beta = 2.0
    n_comp = int(round(rival_factor * candidates))
    comp_pick = rng.choice(cells, size=n_comp, p=weight / weight.sum())
    comp_xy = cell_xy[comp_pick] + rng.normal(size=(n_comp, 2)) * 0.3
    pull = _rival_pull(cell_xy, comp_xy, np.full(n_comp, 1.5), reach, beta)
    inst = Instance(
        weight=weight, pair_cell=pc, pair_site=ps, pair_km=km, n_sites=candidates, stores=stores,
        radius_km=np.full(candidates, 4.0), unreachable_km=2.0 * reach, site_attr=site_attr,
        competitor_pull=pull, beta=beta, fixed=fixed,
    )
    _log_family("fragmented", seed, inst)
    return inst


def no_rivals_instance(**kw: int) -> Instance:
    """:func:`china_like_instance` with no rival anywhere (competitor pull 0 in every cell).

    A cell's share is then 1 once any open site reaches it: the market-share end of
    "competitor pull from zero to dominant" (coverage and distance are china_like's).
    """
    inst = china_like_instance(**kw)
    return replace(inst, competitor_pull=np.zeros(inst.n_cells))


def dominant_rivals_instance(**kw: int) -> Instance:
    """:func:`china_like_instance` with every rival's pull 1,000 times stronger.

    Where rivals reach, a new store's share is small and nearly additive; where none
    does (a fifth of the cells, 8 % of the demand at seed 0), a cell is won whole by
    the first store: the two extremes mixed in one instance.
    """
    inst = china_like_instance(**kw)
    pull = np.zeros(inst.n_cells) if inst.competitor_pull is None else np.asarray(inst.competitor_pull)
    return replace(inst, competitor_pull=1e3 * pull)


#: The benchmark families by name (``benchmarks/bench_families.py``): each takes
#: keyword-only ``cells``, ``candidates``, ``stores``, ``existing`` and ``seed``.
FAMILIES: dict[str, Callable[..., Instance]] = {
    "china_like": china_like_instance,
    "uniform": uniform_instance,
    "fragmented": fragmented_instance,
    "no_rivals": no_rivals_instance,
    "dominant_rivals": dominant_rivals_instance,
}


# --- p-median graphs of the OR-Library's sizes ----------------------------------
def orlib_like_pmed(n: int, p: int, *, seed: int, edges: int | None = None) -> str:
    """The text of a p-median file in the OR-Library format, generated like Beasley's (1985) pmed set.

    ``n`` vertices joined first by the path 1-2-...-n (so the graph is connected,
    as the published files are), then random vertex pairs up to ``edges`` lines
    (default ``n**2 / 50``, the published files' count), each with an integer cost
    U(1, 100). Pairs may repeat, as in the published files (the reader and the
    checker apply the OR-Library rule: the last cost listed wins). Read it with
    :func:`planner.bench.read_orlib_pmed`; the published optima do not apply.
    """
    rng = np.random.default_rng(seed)
    m = max(n - 1, int(round(n * n / 50)) if edges is None else int(edges))
    path_i = np.arange(1, n)
    ei = np.concatenate([path_i, rng.integers(1, n + 1, size=m - (n - 1))])
    ej = np.concatenate([path_i + 1, rng.integers(1, n + 1, size=m - (n - 1))])
    same = ei == ej
    ej[same] = ei[same] % n + 1  # no loops
    cost = rng.integers(1, 101, size=m)
    lines = [f" {n} {m} {p} "] + [f" {a} {b} {c}" for a, b, c in zip(ei, ej, cost, strict=True)]
    return "\n".join(lines) + "\n"


# --- maximum capture with logit (random utility) choice ----------------------
def logit_utilities(
    n: int, *, seed: int, beta_util: float = 1.0, alpha: float = 0.1, side: float = 100.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Utilities of a maximum-capture instance, generated in the style of the literature's sets.

    Generated *in the style of* the HM14 instances of Haase and Müller (2014, EJOR
    237) as used by Freire, Moreno and Yushimito (2016, EJOR 252) and Ljubić and
    Moreno (2018, EJOR 266); the published files are not available offline, so
    these are not those instances and the parameter values are ours, chosen as we
    recall the papers' ranges: ``n`` customers that are also the ``n`` candidate
    locations (50-200 there), points uniform on a ``side`` x ``side`` square,
    utility ``v_ij = a_j - beta_util * d_ij`` (attractiveness ``a_j`` ~ U(0, 1),
    Euclidean ``d_ij``), demand ``q_i`` uniform on the integers 1..100, and a
    competitor (and no-purchase) alternative worth ``alpha`` times the whole
    candidate set: ``U_i = alpha * sum_j e^{v_ij}``. With ``side = 100`` and
    ``beta_util = 5`` the factors ``e^{v_ij}`` span 300 orders of magnitude.

    Returns
    -------
    q : ndarray
        float[n] demand per customer.
    v : ndarray
        float[n, n] utility of location j for customer i.
    log_u : ndarray
        float[n] natural log of the competitor alternative's ``U_i``.
    """
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0.0, side, size=(n, 2))
    d = np.linalg.norm(xy[:, None, :] - xy[None, :, :], axis=2)
    a = rng.uniform(0.0, 1.0, n)
    v = a[None, :] - beta_util * d
    q = rng.integers(1, 101, n).astype(float)
    top = v.max(axis=1)
    log_u = math.log(alpha) + top + np.log(np.exp(v - top[:, None]).sum(axis=1))
    return q, v, log_u


def encode_logit(
    q: np.ndarray, v: np.ndarray, log_u: np.ndarray, stores: int, *, beta: float = 2.0
) -> Instance:
    """Encode a logit maximum-capture instance (``q``, ``v``, ``log U``) in the interchange format.

    The captured demand ``sum_i q_i sum_{j open} e^{v_ij} / (sum_{j open} e^{v_ij} + U_i)``
    is the market-share objective once ``site_attr_j (1 + pair_km_ij)^-beta`` is
    ``e^{v_ij}`` up to a factor per customer, which cancels in each share. The
    factor is ``e^{-m_i}`` with ``m_i`` the customer's largest utility (its own
    competitor's included), so every strength is at most 1 and
    ``pair_km_ij = e^{(m_i - v_ij) / beta} - 1`` stays finite for utility ranges
    up to ``700 beta``; a pair whose strength falls below the smallest float
    (``e^{-745}`` of the customer's best) is left out, being worth nothing
    next to it. Every other customer-location pair is listed (dense).

    Returns
    -------
    Instance
        Cells are customers (``weight = q``), sites are locations, ``site_attr = 1``.
    """
    n_cust, n_loc = v.shape
    m_i = np.maximum(v.max(axis=1), log_u)
    gap = (m_i[:, None] - v) / beta
    keep = gap * beta < 745.0
    cell, site = np.nonzero(keep)
    km = np.expm1(gap[cell, site])
    order = np.lexsort((cell, site))
    return Instance(
        weight=np.asarray(q, dtype=float),
        pair_cell=cell[order].astype(np.int32),
        pair_site=site[order].astype(np.int32),
        pair_km=km[order],
        n_sites=n_loc,
        stores=stores,
        radius_km=np.zeros(n_loc),
        unreachable_km=0.0,
        site_attr=np.ones(n_loc),
        competitor_pull=np.exp(log_u - m_i),
        beta=beta,
    )


def logit_capture_instance(
    n: int, stores: int, *, seed: int, beta_util: float = 1.0, alpha: float = 0.1
) -> Instance:
    """A maximum-capture instance (see :func:`logit_utilities`) in the interchange format (:func:`encode_logit`)."""
    q, v, log_u = logit_utilities(n, seed=seed, beta_util=beta_util, alpha=alpha)
    return encode_logit(q, v, log_u, stores)


def logit_capture(q: np.ndarray, v: np.ndarray, log_u: np.ndarray, open_sites: np.ndarray) -> float:
    """Captured demand of a plan, computed directly from the utilities (log-sum-exp, no encoding)."""
    vo = v[:, np.asarray(open_sites, dtype=np.int64)]
    top = np.maximum(vo.max(axis=1), log_u)
    own = np.exp(vo - top[:, None]).sum(axis=1)
    return float(np.sum(q * own / (own + np.exp(log_u - top))))


# --- leader-follower instances (planner bench compete)
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
