"""Instance builders for the optimiser's tests and development runs.

``pmed_instance`` reads an OR-Library p-median file (last duplicate edge wins,
then all-pairs shortest paths). ``clustered_instance`` makes a quick, seeded,
national-like instance: cities as Gaussian clusters of cells and candidate
sites, a catchment radius per site, competitor pull per cell. The official
generator lives in the benchmark harness; this one only needs to be shaped
like it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import shortest_path
from scipy.spatial import cKDTree

from planner.optimise.types import Instance

PMED_DIR = Path("/work/shared/bench/orlib/pmed")


def pmed_optima() -> dict[str, int]:
    out = {}
    for line in (PMED_DIR / "optima.csv").read_text().splitlines()[1:]:
        name, _n, _p, opt = line.split(",")
        out[name] = int(opt)
    return out


def pmed_instance(name: str) -> Instance:
    tok = (PMED_DIR / f"{name}.txt").read_text().split()
    n, m, p = (int(t) for t in tok[:3])
    e = np.asarray(tok[3 : 3 + 3 * m], dtype=np.int64).reshape(m, 3)
    c = np.full((n, n), np.inf)
    for i, j, k in e.tolist():  # last listed cost wins
        c[i - 1, j - 1] = k
        c[j - 1, i - 1] = k
    np.fill_diagonal(c, 0.0)
    ii, jj = np.nonzero(np.isfinite(c) & ~np.eye(n, dtype=bool))
    d = shortest_path(csr_matrix((c[ii, jj], (ii, jj)), shape=(n, n)), method="D", directed=False)
    site, cell = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    return Instance(
        weight=np.ones(n),
        pair_cell=cell.ravel().astype(np.int32),
        pair_site=site.ravel().astype(np.int32),
        pair_km=d.ravel(),
        n_sites=n,
        stores=p,
        radius_km=np.full(n, np.inf),
        unreachable_km=float(d.max()) + 1.0,
    )


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
    """A clustered instance; pairs within ``max_km`` (default 1.5 x radius)."""
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
