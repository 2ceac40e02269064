"""Hand-checkable micro-instances for the optimiser tests.

``cover4`` has 4 cells (weights 10, 20, 30, 40) and 3 sites: site 0 covers
cells 0-1, site 1 covers cells 1-2, site 2 covers cell 3 (all within radius).
Optima by hand: p=1 -> site 1 (50); p=2 -> sites 1, 2 (90).
"""

from __future__ import annotations

import numpy as np

from planner.optimise.types import GroupLimit, Instance


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
