"""Regions of the cell-site graph, and the priced regional bounds (valid, >= brute force)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from micro import brute_optimum, brute_value, cover4

from planner.optimise.bounds import lagrangian_facility
from planner.optimise.decompose import components, decomposed_bound, regional_lagrangian
from planner.optimise.greedy import greedy
from planner.optimise.incumbent import Clock, Incumbent
from planner.optimise.local_search import best_two
from planner.optimise.model import compile_model
from planner.optimise.types import Instance


def _hand(bridge: bool = False) -> Instance:
    """Region A: cells 0, 1 with sites 0, 1; region B: cells 2, 3 with site 2; site 3 reaches nothing.

    Pairs (cell, site): A (0,0) (1,0) (1,1), B (2,2) (3,2); site 3's only pair is beyond its radius.
    ``bridge`` adds (1, 2), joining A and B.
    """
    pc = [0, 1, 1, 2, 3, 3] + ([1] if bridge else [])
    ps = [0, 0, 1, 2, 2, 3] + ([2] if bridge else [])
    km = [1.0, 1.0, 1.0, 1.0, 1.0, 9.0] + ([1.0] if bridge else [])
    return Instance(weight=np.ones(4), pair_cell=np.array(pc, dtype=np.int32), pair_site=np.array(ps, dtype=np.int32),
                    pair_km=np.array(km), n_sites=4, stores=2, radius_km=np.full(4, 2.0))


def test_components_two_regions_and_a_lone_site() -> None:
    c = components(compile_model(_hand(), "coverage"))
    assert c.n_components == 3
    a, b = c.cell_comp[0], c.cell_comp[2]
    assert a != b
    # cells 2 and 3 are reached by site 2 alone: step coverage compiles them as one cell
    assert c.cell_comp.tolist() == [a, a, b]
    assert c.site_comp[:3].tolist() == [a, a, b]
    assert c.site_comp[3] not in (a, b)
    assert c.largest_share == pytest.approx(3 / 4)  # A holds 3 of the 4 useful pairs


def test_components_bridge_joins_regions() -> None:
    c = components(compile_model(_hand(bridge=True), "coverage"))
    assert c.n_components == 2  # A+B and the lone site
    assert len(set(c.cell_comp.tolist())) == 1


def _two_clusters(seed: int, stores: int = 3) -> Instance:
    """Two clusters of 5 cells and 3 sites each, all pairs inside a cluster, none across."""
    rng = np.random.default_rng(seed)
    pc, ps = [], []
    for k in range(2):
        for j in range(3 * k, 3 * k + 3):
            for i in range(5 * k, 5 * k + 5):
                ps.append(j)
                pc.append(i)
    return Instance(
        weight=rng.integers(1, 20, 10).astype(float),
        pair_cell=np.array(pc, dtype=np.int32),
        pair_site=np.array(ps, dtype=np.int32),
        pair_km=np.round(rng.uniform(0, 4, len(pc)), 1),
        n_sites=6,
        stores=stores,
        radius_km=np.full(6, 10.0),
        unreachable_km=8.0,
        decay="linear",
    )


@pytest.mark.parametrize("kind", ["coverage", "distance"])
@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("lam", [0.0, 5.0, 20.0])
def test_regional_lagrangian_bounds_each_priced_region(kind: str, seed: int, lam: float) -> None:
    inst = _two_clusters(seed)
    m = compile_model(inst, kind)
    comps = components(m)
    assert comps.n_components == 2
    best_l, u = regional_lagrangian(m, comps, lam, np.zeros(m.n_cells), np.zeros(2), time_limit_s=30)
    assert np.all(u >= 0)
    for c in range(2):
        sites = np.flatnonzero(comps.site_comp == c).tolist()
        # brute force: max over every subset S of the region of f_c(S) - lam |S| (other regions closed)
        priced = max(
            m.internal(brute_value(inst, kind, s)) - lam * len(s)
            for r in range(len(sites) + 1) for s in itertools.combinations(sites, r)
        )
        assert best_l[c] >= priced - 1e-9 * max(1.0, abs(priced))
    opt, _ = brute_optimum(inst, kind)
    assert lam * inst.stores + best_l.sum() >= m.internal(opt) - 1e-9 * max(1.0, abs(opt))


@pytest.mark.parametrize("use_mip", [False, True])
@pytest.mark.parametrize("kind", ["coverage", "distance"])
@pytest.mark.parametrize("seed", range(4))
def test_decomposed_bound_is_valid(kind: str, seed: int, use_mip: bool) -> None:
    inst = _two_clusters(seed)
    m = compile_model(inst, kind)
    best = Incumbent(m, None, Clock(10.0))
    assert best.offer(greedy(m), "greedy")
    b1, _, _ = best_two(m, best.plan)
    # one global step only: the regional phase (and its MIPs) then have a gap to close
    lag = lagrangian_facility(m, best.value, b1, max_iter=1)
    stats: dict[str, float] = {}
    decomposed_bound(m, m, best, lag, components(m), clock=best.clock, gap_target=0.0, threads=1,
                     use_mip=use_mip, integral=False, stats=stats, use_lns=False)
    opt, _ = brute_optimum(inst, kind)
    internal_opt = m.internal(opt)
    tol = 1e-9 * max(1.0, abs(internal_opt))
    assert best.bound >= internal_opt - tol
    assert best.value <= internal_opt + tol
    assert best.bound <= lag.bound + tol  # offer_bound keeps the smallest
    if use_mip:
        assert stats["regional_mips"] >= 1


def test_regional_lagrangian_price_above_every_site_with_shared_locations() -> None:
    # at 1000 per store nothing is worth opening: each region's priced optimum is the empty plan, 0,
    # which u = 0 proves (sum u = 0, no positive score); without shared locations this already holds
    inst = cover4(2, site_location=np.array([0, 1, 1]))
    m = compile_model(inst, "coverage")
    comps = components(m)
    best_l, _ = regional_lagrangian(m, comps, 1000.0, np.zeros(m.n_cells), np.zeros(comps.n_components),
                                    time_limit_s=10)
    assert best_l.tolist() == pytest.approx([0.0] * comps.n_components)


def test_regional_lagrangian_price_above_every_site() -> None:
    # the same without shared locations (the control for the test above)
    m = compile_model(cover4(2), "coverage")
    comps = components(m)
    best_l, _ = regional_lagrangian(m, comps, 1000.0, np.zeros(m.n_cells), np.zeros(comps.n_components),
                                    time_limit_s=10)
    assert best_l.tolist() == pytest.approx([0.0] * comps.n_components)
