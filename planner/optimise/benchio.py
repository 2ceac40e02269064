"""Benchmark input and output: outside instances in, one JSON line out.

This module is the optimiser's door to instances built elsewhere. It reads
Beasley's OR-Library p-median files and the project's ``.npz`` interchange
format into an :class:`~planner.optimise.types.Instance`, writes that format
back, builds reproducible clustered national-like synthetic instances, and turns
a :class:`~planner.optimise.types.Solution` into the benchmark contract's JSON
(``objective``, ``bound``, ``gap``, ``seconds``, ``open``). The ``run_*``
functions are what ``planner bench ...`` calls; they are the only functions here
that solve or write files. Everything else is pure and numpy-only (no
GeoPandas, no printing).

Interchange format (``numpy.savez``; N cells, M sites, K reachable pairs):

========================  ==========  ==============================================
key                       type        meaning
========================  ==========  ==============================================
``weight``                float[N]    demand per cell (>= 0)
``pair_cell``             int[K]      cell of each reachable pair, in 0..N-1
``pair_site``             int[K]      site of each reachable pair, in 0..M-1
``pair_km``               float[K]    distance of each pair, km (>= 0)
``fixed``                 int[E]      sites that must be open
``stores``                int         open sites in total, fixed ones included
``radius_km``             float       coverage radius (a float[M] is also accepted)
``unreachable_km``        float       distance charged to a cell with no open pair
``site_attr``             float[M]    attractiveness of each site (Huff)
``competitor_pull``       float[N]    competitors' attraction on each cell (Huff)
``beta``                  float       distance-decay exponent (Huff)
========================  ==========  ==============================================

M is ``len(site_attr)`` when given, otherwise ``max(pair_site, fixed) + 1``.
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import shortest_path
from scipy.spatial import cKDTree

from planner.errors import DataError, OutputError
from planner.optimise.types import Instance, ObjectiveKind, Solution

__all__ = [
    "NPZ_KEYS",
    "OBJECTIVES",
    "read_orlib_pmed",
    "read_npz",
    "instance_from_arrays",
    "instance_from_cost_matrix",
    "instance_arrays",
    "write_npz",
    "synthetic_instance",
    "result_json",
    "run_pmed",
    "run_instance",
    "run_synthetic",
]

logger = logging.getLogger(__name__)

OBJECTIVES: tuple[ObjectiveKind, ...] = ("coverage", "distance", "market_share")

#: Keys an interchange file must hold.
NPZ_REQUIRED: tuple[str, ...] = (
    "weight",
    "pair_cell",
    "pair_site",
    "pair_km",
    "stores",
    "radius_km",
    "unreachable_km",
)
#: Keys that may be left out, with the default used instead.
NPZ_OPTIONAL: tuple[str, ...] = ("fixed", "site_attr", "competitor_pull", "beta")
NPZ_KEYS: tuple[str, ...] = NPZ_REQUIRED + NPZ_OPTIONAL

#: Default ``beta`` when an interchange file does not give one (same as ``Instance``).
DEFAULT_BETA = 2.0

#: Seed passed to the optimiser by the ``run_*`` functions (reproducible runs).
DEFAULT_SEED = 0
#: Gap target for OR-Library runs: prove the optimum (or use the whole time limit).
PMED_GAP_TARGET = 0.0


# ---------------------------------------------------------------------------
# OR-Library p-median
# ---------------------------------------------------------------------------
def read_orlib_pmed(path: str | os.PathLike[str]) -> tuple[Instance, int]:
    """Read an OR-Library uncapacitated p-median file (``pmedN.txt``).

    The file is ``n m p`` followed by ``m`` lines ``i j cost``: undirected edges
    between 1-based vertices. Following the OR-Library rule (``pmedinfo``), edges
    are read in order and a later line for the same vertex pair replaces an
    earlier one (the *last* cost wins, not the minimum); distances are the
    all-pairs shortest paths over the resulting graph. Every vertex is a client
    of weight 1 and a candidate site, so the instance has ``n`` cells, ``n``
    sites and ``n**2`` pairs (dense; intended for ``n <= ~1000``).

    Parameters
    ----------
    path
        The ``pmedN.txt`` file.

    Returns
    -------
    instance
        Cells and sites are the vertices, 0-based (vertex ``v`` is index
        ``v - 1``). ``stores = p``, nothing fixed. ``radius_km`` and
        ``unreachable_km`` are set to ``10 * max distance + 1``, so every pair
        covers and no cell is ever unreachable.
    p
        The number of medians.

    Raises
    ------
    DataError
        The file is missing, malformed, or its graph is not connected.
    """
    path = Path(path)
    try:
        tokens = path.read_text().split()
    except OSError as exc:
        raise DataError(f"{path}: cannot read the p-median file ({exc.strerror}).") from exc
    if len(tokens) < 3:
        raise DataError(f"{path}: expected a header 'n m p', found {len(tokens)} token(s).")
    try:
        n, m, p = (int(t) for t in tokens[:3])
        body = np.asarray(tokens[3:], dtype=np.float64)
    except ValueError as exc:
        raise DataError(f"{path}: non-numeric value ({exc}).") from exc
    if n < 1 or m < 0 or not 1 <= p <= n:
        raise DataError(f"{path}: header 'n m p' = {n} {m} {p} is not valid (need 1 <= p <= n).")
    if body.size != 3 * m:
        raise DataError(
            f"{path}: header says {m} edges but the file holds {body.size / 3:g} edge triples."
        )
    edges = body.reshape(m, 3)
    ends = edges[:, :2]
    if m and (np.any(ends != np.round(ends)) or ends.min() < 1 or ends.max() > n):
        bad = int(
            np.nonzero((ends != np.round(ends)).any(1) | (ends < 1).any(1) | (ends > n).any(1))[0][
                0
            ]
        )
        raise DataError(
            f"{path}: edge line {bad + 2} has an endpoint outside 1..{n}: {edges[bad].tolist()}."
        )
    cost = edges[:, 2]
    if m and (not np.all(np.isfinite(cost)) or cost.min() < 0):
        bad = int(np.nonzero(~np.isfinite(cost) | (cost < 0))[0][0])
        raise DataError(f"{path}: edge line {bad + 2} has a negative or non-finite cost.")

    dist = _pmed_distances(n, ends.astype(np.int64) - 1, cost)
    if not np.all(np.isfinite(dist)):
        raise DataError(f"{path}: the graph is not connected; every vertex must reach every other.")
    far = 10.0 * float(dist.max()) + 1.0
    # pairs sorted by site then cell: row j of dist.T lists every cell's distance to site j
    site = np.repeat(np.arange(n, dtype=np.int32), n)
    cell = np.tile(np.arange(n, dtype=np.int32), n)
    inst = Instance(
        weight=np.ones(n),
        pair_cell=cell,
        pair_site=site,
        pair_km=np.ascontiguousarray(dist.T).ravel(),
        n_sites=n,
        stores=p,
        radius_km=np.full(n, far),
        unreachable_km=far,
    )
    logger.debug("read %s: n=%d m=%d p=%d max distance %g", path, n, m, p, dist.max())
    return inst, p


def _pmed_distances(n: int, ends0: np.ndarray, cost: np.ndarray) -> np.ndarray:
    """All-pairs shortest paths of an undirected graph whose later duplicate edges win."""
    a = ends0.min(axis=1)
    b = ends0.max(axis=1)
    keep = a != b  # a self-loop is c(i,i) = 0 whatever the file says
    a, b, cost = a[keep], b[keep], cost[keep]
    key = a * n + b
    # np.unique keeps the first occurrence; on the reversed list that is the last line
    _, first_rev = np.unique(key[::-1], return_index=True)
    last = key.size - 1 - first_rev
    # explicit entries, so a zero-cost edge stays an edge
    graph = csr_matrix((cost[last], (a[last], b[last])), shape=(n, n))
    return shortest_path(graph, method="D", directed=False)


# ---------------------------------------------------------------------------
# Interchange format
# ---------------------------------------------------------------------------
def read_npz(path: str | os.PathLike[str]) -> Instance:
    """Read an instance in the ``.npz`` interchange format and validate it.

    Parameters
    ----------
    path
        A file written by ``numpy.savez`` / :func:`write_npz` with the keys in
        :data:`NPZ_KEYS` (see the module docstring). ``fixed``, ``site_attr``
        (default 1), ``competitor_pull`` (default 0) and ``beta`` (default 2)
        may be left out.

    Returns
    -------
    Instance
        Pairs sorted by site then cell; a scalar ``radius_km`` becomes a per-site
        array.

    Raises
    ------
    DataError
        Naming the key and the problem: a missing key, a wrong shape or type, a
        negative or non-finite value, an index out of range, a repeated pair.
    """
    path = Path(path)
    try:
        loaded = np.load(path, allow_pickle=False)
    except FileNotFoundError as exc:
        raise DataError(f"{path}: file not found.") from exc
    except (OSError, ValueError, EOFError) as exc:
        raise DataError(f"{path}: cannot read as .npz ({exc}).") from exc
    if not isinstance(loaded, np.lib.npyio.NpzFile):
        raise DataError(f"{path}: not an .npz archive (numpy.savez); a single array was found.")
    try:
        data = {k: loaded[k] for k in loaded.files}
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: cannot read an array of the .npz ({exc}).") from exc
    finally:
        loaded.close()
    return instance_from_arrays(data, source=str(path))


def instance_from_arrays(data: Mapping[str, Any], *, source: str = "<arrays>") -> Instance:
    """Validate interchange-format arrays (see :func:`read_npz`) and build an ``Instance``.

    Parameters
    ----------
    data
        Mapping from the keys of :data:`NPZ_KEYS` to arrays or scalars.
    source
        Named in error messages (usually the file path).

    Raises
    ------
    DataError
        As :func:`read_npz`.
    """
    missing = [k for k in NPZ_REQUIRED if k not in data]
    if missing:
        raise DataError(
            f"{source}: missing key(s) {', '.join(missing)}; the interchange format needs "
            f"{', '.join(NPZ_REQUIRED)}.",
        )
    unknown = sorted(set(data) - set(NPZ_KEYS))
    if unknown:
        logger.warning("%s: ignoring unknown key(s) %s", source, ", ".join(unknown))

    def err(key: str, problem: str) -> DataError:
        return DataError(f"{source}: key '{key}' {problem}")

    def floats(key: str, ndim: int) -> np.ndarray:
        arr = np.asarray(data[key])
        if arr.dtype.kind not in "biuf":
            raise err(key, f"must be numeric, found dtype {arr.dtype}.")
        if ndim == 0 and arr.shape == (1,):  # a one-element array is taken as a scalar
            arr = arr.reshape(())
        if arr.ndim != ndim:
            what = "a scalar" if ndim == 0 else f"a {ndim}-D array"
            raise err(key, f"must be {what}, found shape {arr.shape}.")
        arr = arr.astype(np.float64)
        if np.isnan(arr).any():
            raise err(key, f"contains NaN (first at position {_first(np.isnan(arr))}).")
        return arr

    def nonneg(key: str, arr: np.ndarray, *, finite: bool = True) -> np.ndarray:
        if finite and np.isinf(arr).any():
            raise err(
                key, f"contains an infinite value (first at position {_first(np.isinf(arr))})."
            )
        if (arr < 0).any():
            raise err(key, f"contains a negative value (first at position {_first(arr < 0)}).")
        return arr

    def indices(key: str) -> np.ndarray:
        arr = np.asarray(data[key])
        if arr.ndim != 1:
            raise err(key, f"must be a 1-D integer array, found shape {arr.shape}.")
        if arr.dtype.kind == "f":
            if np.isnan(arr).any():
                raise err(key, f"contains NaN (first at position {_first(np.isnan(arr))}).")
            if (arr != np.round(arr)).any():
                raise err(key, "must hold integers, found a fractional value.")
        elif arr.size and arr.dtype.kind not in "biu":
            raise err(key, f"must hold integers, found dtype {arr.dtype}.")
        arr = arr.astype(np.int64)
        if (arr < 0).any():
            raise err(key, f"contains a negative index (first at position {_first(arr < 0)}).")
        return arr

    weight = nonneg("weight", floats("weight", 1))
    n = weight.shape[0]
    pair_cell = indices("pair_cell")
    pair_site = indices("pair_site")
    pair_km = nonneg("pair_km", floats("pair_km", 1))
    k = pair_cell.shape[0]
    for key, arr in (("pair_site", pair_site), ("pair_km", pair_km)):
        if arr.shape[0] != k:
            raise err(key, f"has {arr.shape[0]} entries but pair_cell has {k}.")
    if k and pair_cell.max() >= n:
        raise err("pair_cell", f"index {pair_cell.max()} out of range: weight has {n} cells.")
    fixed = indices("fixed") if "fixed" in data else np.zeros(0, dtype=np.int64)

    if "site_attr" in data:
        site_attr = nonneg("site_attr", floats("site_attr", 1))
        m = site_attr.shape[0]
    else:
        m = int(max(pair_site.max(initial=-1), fixed.max(initial=-1))) + 1
        site_attr = np.ones(m)
    if k and pair_site.max() >= m:
        raise err("pair_site", f"index {pair_site.max()} out of range: site_attr has {m} sites.")
    if fixed.size and fixed.max() >= m:
        raise err("fixed", f"index {fixed.max()} out of range: there are {m} sites.")
    if np.unique(fixed).size != fixed.size:
        raise err("fixed", "lists a site more than once.")

    stores_arr = floats("stores", 0)
    stores_f = float(stores_arr)
    if stores_f != round(stores_f) or math.isinf(stores_f):
        raise err("stores", f"must be a whole number, found {stores_f}.")
    stores = int(stores_f)
    if not fixed.size <= stores <= m:
        raise err(
            "stores",
            f"= {stores} must be at least the {fixed.size} fixed site(s) and at most the {m} sites.",
        )

    radius = nonneg("radius_km", floats("radius_km", np.ndim(data["radius_km"])), finite=False)
    if radius.ndim == 0:
        radius_km = np.full(m, float(radius))
    elif radius.shape == (m,):
        radius_km = radius
    else:
        raise err("radius_km", f"must be a scalar or float[{m}], found shape {radius.shape}.")
    unreachable_km = float(nonneg("unreachable_km", floats("unreachable_km", 0)))

    if "competitor_pull" in data:
        pull = nonneg("competitor_pull", floats("competitor_pull", 1))
        if pull.shape[0] != n:
            raise err(
                "competitor_pull", f"has {pull.shape[0]} entries, expected one per cell ({n})."
            )
    else:
        pull = np.zeros(n)
    beta = float(nonneg("beta", floats("beta", 0))) if "beta" in data else DEFAULT_BETA

    order = np.lexsort((pair_cell, pair_site))
    pair_cell, pair_site, pair_km = pair_cell[order], pair_site[order], pair_km[order]
    if k > 1:
        dup = (np.diff(pair_site) == 0) & (np.diff(pair_cell) == 0)
        if dup.any():
            at = int(np.nonzero(dup)[0][0])
            raise DataError(
                f"{source}: keys 'pair_cell'/'pair_site' repeat {int(dup.sum())} pair(s), "
                f"e.g. cell {pair_cell[at]} with site {pair_site[at]}; give each pair once.",
            )
    return Instance(
        weight=weight,
        pair_cell=pair_cell.astype(np.int32),
        pair_site=pair_site.astype(np.int32),
        pair_km=pair_km,
        n_sites=m,
        stores=stores,
        radius_km=radius_km,
        unreachable_km=unreachable_km,
        site_attr=site_attr,
        competitor_pull=pull,
        beta=beta,
        fixed=np.sort(fixed),
    )


def instance_from_cost_matrix(
    cost: np.ndarray,
    weight: np.ndarray,
    *,
    stores: int,
    radius_km: float = math.inf,
    fixed: np.ndarray | list[int] | None = None,
    unreachable_km: float | None = None,
) -> Instance:
    """Build an instance from a dense client x site cost matrix (as spopt's ``from_cost_matrix``).

    Parameters
    ----------
    cost
        float[N, M]; a non-finite entry means "not reachable" (no pair).
    weight
        float[N] demand per client.
    stores
        Open sites in total, ``fixed`` included.
    radius_km
        Coverage radius (same unit as ``cost``).
    fixed
        Sites that must be open.
    unreachable_km
        Charged to a client with no open reachable site; default
        ``10 * max finite cost + 1`` (never binding when every client reaches
        every site).

    Raises
    ------
    DataError
        On the same problems as :func:`read_npz`.
    """
    cost = np.asarray(cost, dtype=np.float64)
    if cost.ndim != 2:
        raise DataError(f"cost matrix must be 2-D, found shape {cost.shape}.")
    cell, site = np.nonzero(np.isfinite(cost).T)[::-1]  # pairs ordered by site, then cell
    km = cost[cell, site]
    if unreachable_km is None:
        unreachable_km = 10.0 * float(km.max(initial=0.0)) + 1.0
    data: dict[str, Any] = {
        "weight": np.asarray(weight, dtype=np.float64),
        "pair_cell": cell,
        "pair_site": site,
        "pair_km": km,
        "stores": stores,
        "radius_km": float(radius_km),
        "unreachable_km": float(unreachable_km),
        "site_attr": np.ones(cost.shape[1]),
        "fixed": np.zeros(0, dtype=np.int64)
        if fixed is None
        else np.asarray(fixed, dtype=np.int64),
    }
    if data["weight"].shape != (cost.shape[0],):
        raise DataError(
            f"weight has shape {data['weight'].shape}, expected one per cost-matrix row ({cost.shape[0]})."
        )
    return instance_from_arrays(data, source="cost matrix")


def _first(mask: np.ndarray) -> int | tuple[int, ...]:
    """Position of the first true entry (an int for 1-D, a tuple otherwise)."""
    idx = np.argwhere(np.atleast_1d(mask))[0]
    return int(idx[0]) if idx.size == 1 else tuple(int(i) for i in idx)


def instance_arrays(inst: Instance) -> dict[str, np.ndarray]:
    """The interchange-format arrays of an instance (the inverse of :func:`instance_from_arrays`).

    ``radius_km`` is written as a scalar when every site has the same radius,
    otherwise as float[M]. Constraints the format cannot express (groups,
    budgets, spacing, forbidden sites, closable existing stores, decay other
    than step) are dropped with a warning.
    """
    m = inst.n_sites
    radius = np.broadcast_to(np.asarray(inst.radius_km, dtype=np.float64), (m,))
    dropped = [
        name
        for name, present in (
            ("groups", bool(inst.groups)),
            (
                "capex/opex budgets",
                inst.capex_budget_cny is not None or inst.opex_budget_cny is not None,
            ),
            ("spacing conflicts", inst.conflict_a.size > 0),
            ("forbidden sites", inst.forbidden.size > 0),
            ("closable existing stores", inst.existing.size > 0),
            ("site_location", inst.site_location is not None),
            (f"decay '{inst.decay}'", inst.decay != "step"),
        )
        if present
    ]
    if dropped:
        logger.warning(
            "the interchange format cannot hold %s; they are not written", ", ".join(dropped)
        )
    return {
        "weight": np.asarray(inst.weight, dtype=np.float64),
        "pair_cell": np.asarray(inst.pair_cell, dtype=np.int32),
        "pair_site": np.asarray(inst.pair_site, dtype=np.int32),
        "pair_km": np.asarray(inst.pair_km, dtype=np.float64),
        "fixed": np.asarray(inst.fixed, dtype=np.int64),
        "stores": np.asarray(int(inst.stores), dtype=np.int64),
        "radius_km": np.asarray(
            radius[0] if m and np.all(radius == radius[0]) else radius, dtype=np.float64
        )
        if m
        else np.asarray(0.0),
        "unreachable_km": np.asarray(float(inst.unreachable_km)),
        "site_attr": np.ones(m)
        if inst.site_attr is None
        else np.asarray(inst.site_attr, dtype=np.float64),
        "competitor_pull": np.zeros(inst.n_cells)
        if inst.competitor_pull is None
        else np.asarray(inst.competitor_pull, dtype=np.float64),
        "beta": np.asarray(float(inst.beta)),
    }


def write_npz(path: str | os.PathLike[str], inst: Instance, *, compressed: bool = False) -> Path:
    """Write an instance in the ``.npz`` interchange format.

    Parameters
    ----------
    path
        Target file; ``.npz`` is appended by numpy when missing.
    inst
        The instance (see :func:`instance_arrays` for what is kept).
    compressed
        Use ``numpy.savez_compressed`` (smaller, slower).

    Returns
    -------
    Path
        The file written.
    """
    path = Path(path)
    if path.suffix != ".npz":
        path = path.with_name(path.name + ".npz")
    save: Callable[..., None] = np.savez_compressed if compressed else np.savez
    save(path, **instance_arrays(inst))
    return path


# ---------------------------------------------------------------------------
# Synthetic national-like instances
# ---------------------------------------------------------------------------
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
        cp["i"], weights=comp_attr[cp["j"]] * (1.0 + cp["v"]) ** (-beta), minlength=cells
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


# ---------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------
def result_json(sol: Solution, *, one_based: bool, seconds: float | None = None) -> dict[str, Any]:
    """The benchmark contract's JSON object for a solution.

    Parameters
    ----------
    sol
        The optimiser's answer.
    one_based
        Report ``open`` as 1-based ids (OR-Library vertices) instead of 0-based
        site indices.
    seconds
        Wall time to report instead of ``sol.seconds`` (e.g. including reading).

    Returns
    -------
    dict
        Exactly ``{"objective", "bound", "gap", "seconds", "open"}``; a bound or
        gap that is missing or not finite is ``None``.
    """
    base = 1 if one_based else 0
    return {
        "objective": float(sol.objective),
        "bound": _finite_or_none(sol.bound),
        "gap": _finite_or_none(sol.gap),
        "seconds": float(sol.seconds if seconds is None else seconds),
        "open": [int(j) + base for j in np.sort(np.asarray(sol.open_sites, dtype=np.int64))],
    }


def _finite_or_none(x: float | None) -> float | None:
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


# ---------------------------------------------------------------------------
# What ``planner bench`` runs
# ---------------------------------------------------------------------------
def solve_instance(
    inst: Instance,
    kind: ObjectiveKind,
    *,
    time_limit_s: float,
    gap_target: float | None = None,
    threads: int | None = None,
    seed: int = DEFAULT_SEED,
    use_mip: bool = True,
) -> Solution:
    """Solve with the project optimiser (``planner.optimise.solve.solve``), quietly.

    ``gap_target`` and ``threads`` left as ``None`` take the optimiser's defaults.
    """
    if kind not in OBJECTIVES:
        raise ValueError(f"objective must be one of {OBJECTIVES}, got {kind!r}")
    from planner.optimise.solve import solve  # the optimiser is imported only when solving

    options: dict[str, Any] = {}
    if gap_target is not None:
        options["gap_target"] = gap_target
    if threads is not None:
        options["threads"] = threads
    return solve(
        inst,
        kind,
        time_limit_s=time_limit_s,
        seed=seed,
        use_mip=use_mip,
        progress=None,
        **options,
    )


def _remaining(time_limit_s: float, t0: float) -> float:
    """What is left of a wall-clock budget started at ``t0`` (never below 10 % of it)."""
    return max(0.1 * time_limit_s, time_limit_s - (time.perf_counter() - t0))


def run_pmed(
    path: str | os.PathLike[str],
    time_limit_s: float = 10.0,
    *,
    gap_target: float | None = PMED_GAP_TARGET,
    threads: int | None = None,
    seed: int = DEFAULT_SEED,
) -> dict[str, Any]:
    """``planner bench pmed``: read an OR-Library file, solve the p-median, report.

    The time limit covers reading (shortest paths included) and solving, and
    ``seconds`` is the wall time of both; ``open`` holds 1-based vertex ids.
    The default gap target asks for a proven optimum (the objective is
    integral, so a gap below ``1 / objective`` is one). See :func:`result_json`.
    """
    t0 = time.perf_counter()
    inst, _ = read_orlib_pmed(path)
    sol = solve_instance(
        inst,
        "distance",
        time_limit_s=_remaining(time_limit_s, t0),
        gap_target=gap_target,
        threads=threads,
        seed=seed,
    )
    return result_json(sol, one_based=True, seconds=time.perf_counter() - t0)


def run_instance(
    path: str | os.PathLike[str],
    objective: ObjectiveKind,
    time_limit_s: float = 60.0,
    *,
    gap_target: float | None = None,
    threads: int | None = None,
    seed: int = DEFAULT_SEED,
) -> dict[str, Any]:
    """``planner bench instance``: read an interchange ``.npz``, solve, report.

    The time limit covers reading and solving; ``seconds`` is the wall time of
    both; ``open`` holds 0-based site indices.
    """
    if objective not in OBJECTIVES:
        raise DataError(f"--objective must be one of {', '.join(OBJECTIVES)}, got '{objective}'.")
    t0 = time.perf_counter()
    inst = read_npz(path)
    sol = solve_instance(
        inst,
        objective,
        time_limit_s=_remaining(time_limit_s, t0),
        gap_target=gap_target,
        threads=threads,
        seed=seed,
    )
    return result_json(sol, one_based=False, seconds=time.perf_counter() - t0)


def run_synthetic(
    *,
    cells: int,
    candidates: int,
    stores: int,
    existing: int,
    objective: ObjectiveKind,
    seed: int = 0,
    time_limit_s: float = 60.0,
    dump_dir: str | os.PathLike[str] | None = None,
    gap_target: float | None = None,
    threads: int | None = None,
) -> dict[str, Any]:
    """``planner bench synthetic``: build :func:`synthetic_instance`, solve, report.

    ``seconds`` is the solve's wall time (building the instance, about a second
    at national size, is excluded). With ``dump_dir`` the instance is written
    there as ``instance.npz`` and the returned JSON as ``solution.json``
    (0-based ``open``), so the run can be repeated with ``planner bench instance``.
    """
    if objective not in OBJECTIVES:
        raise DataError(f"--objective must be one of {', '.join(OBJECTIVES)}, got '{objective}'.")
    try:
        inst = synthetic_instance(
            cells=cells,
            candidates=candidates,
            stores=stores,
            existing=existing,
            seed=seed,
            objective=objective,
        )
    except ValueError as exc:
        raise DataError(f"synthetic instance: {exc}.") from exc
    t0 = time.perf_counter()
    sol = solve_instance(
        inst,
        objective,
        time_limit_s=time_limit_s,
        gap_target=gap_target,
        threads=threads,
        seed=seed,
    )
    out = result_json(sol, one_based=False, seconds=time.perf_counter() - t0)
    if dump_dir is not None:
        d = Path(dump_dir)
        try:
            d.mkdir(parents=True, exist_ok=True)
            write_npz(d / "instance.npz", inst)
            (d / "solution.json").write_text(json.dumps(out) + "\n")
        except OSError as exc:
            raise OutputError(
                f"--dump {d}: cannot write ({exc.strerror}); choose a writable folder."
            ) from exc
    return out
