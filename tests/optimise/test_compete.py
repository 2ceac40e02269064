"""Leader-follower: the follower's best response and the anticipating (max-min) plan.

Every micro-instance is small enough to enumerate every leader plan and every
follower response, which gives the max-min optimum to compare with.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.optimise.compete import (
    Follower,
    anticipate,
    best_response,
    follower_instance,
    master_instance,
    response_pull,
    share_against,
)
from planner.optimise.solve import solve
from planner.optimise.types import Instance


def _two_cells() -> tuple[Instance, Follower]:
    """Two cells A, B (weight 1), leader sites a at A and b at B (km 0), one store.

    Pull C_A = 1, C_B = 1.2. Ignoring the rivals, a (1/2) beats b (1/2.2).
    Rival sites fA at A (attraction 10) and fB at B (0.1), one opening.
    After the response: plan a -> fA: 1/(1+1+10) = 1/12; plan b -> fB: 1/(1+1.2+0.1) = 1/2.3.
    The max-min plan is b (1/2.3 > 1/12): anticipation changes the plan.
    """
    inst = Instance(
        weight=np.array([1.0, 1.0]), pair_cell=np.array([0, 1], dtype=np.int32),
        pair_site=np.array([0, 1], dtype=np.int32), pair_km=np.zeros(2), n_sites=2, stores=1,
        radius_km=np.ones(2), competitor_pull=np.array([1.0, 1.2]), beta=2.0,
    )
    fol = Follower(site_attr=np.array([10.0, 0.1]), pair_cell=np.array([0, 1]), pair_site=np.array([0, 1]),
                   pair_km=np.zeros(2), stores=1)
    return inst, fol


def _random(seed: int, n: int = 6, m: int = 5, f: int = 4, p: int = 2, q: int = 2) -> tuple[Instance, Follower]:
    rng = np.random.default_rng(seed)
    cells = rng.uniform(0, 10, (n, 2))
    sites = rng.uniform(0, 10, (m, 2))
    fsites = rng.uniform(0, 10, (f, 2))
    d = np.linalg.norm(cells[:, None] - sites[None], axis=2)
    fd = np.linalg.norm(cells[:, None] - fsites[None], axis=2)
    ci, sj = np.nonzero(d < 6)
    fi, fj = np.nonzero(fd < 6)
    inst = Instance(
        weight=rng.uniform(1, 5, n), pair_cell=ci.astype(np.int32), pair_site=sj.astype(np.int32),
        pair_km=d[ci, sj], n_sites=m, stores=p, radius_km=np.full(m, 6.0),
        site_attr=rng.uniform(0.5, 2, m), competitor_pull=rng.uniform(0.05, 0.5, n), beta=1.5,
    )
    fol = Follower(site_attr=rng.uniform(0.5, 2, f), pair_cell=fi, pair_site=fj, pair_km=fd[fi, fj], stores=q)
    return inst, fol


def _brute(inst: Instance, fol: Follower) -> tuple[float, dict[tuple[int, ...], float]]:
    """max over leader plans of min over follower responses, by enumerating both."""
    after: dict[tuple[int, ...], float] = {}
    for plan in itertools.combinations(range(inst.n_sites), inst.stores):
        after[plan] = min(
            share_against(inst, np.array(plan), response_pull(fol, np.array(r, dtype=np.int64), inst.n_cells, inst.beta))
            for r in itertools.combinations(range(fol.n_sites), fol.stores)
        )
    return max(after.values()), after


def test_two_cells_by_hand() -> None:
    inst, fol = _two_cells()
    # the follower's answer to a is fA and takes 1/2 - 1/12
    r = best_response(inst, np.array([0]), fol)
    assert r.sites.tolist() == [0]
    assert r.share_after == pytest.approx(1 / 12)
    assert r.loss == pytest.approx(0.5 - 1 / 12)
    assert r.gap == pytest.approx(0.0)
    mm = anticipate(inst, fol, start=np.array([0]))
    assert mm.open_sites.tolist() == [1]  # anticipation changes the plan
    assert mm.response.tolist() == [1]
    assert mm.objective == pytest.approx(1 / 2.3)
    assert mm.start_objective == pytest.approx(1 / 12)
    assert mm.bound == pytest.approx(1 / 2.3)
    assert mm.gap == pytest.approx(0.0)
    assert mm.objective_without_response == pytest.approx(1 / 2.2)


def test_follower_objective_is_the_leaders_loss() -> None:
    """The follower instance's market share equals what the response takes from the leader."""
    inst, fol = _random(3)
    plan = np.array([0, 2])
    finst = follower_instance(inst, plan, fol)
    before = share_against(inst, plan)
    for r in itertools.combinations(range(fol.n_sites), fol.stores):
        r = np.array(r)
        taken = share_against(finst, r)
        assert taken == pytest.approx(before - share_against(inst, plan, response_pull(fol, r, inst.n_cells, inst.beta)))


def test_master_instance_is_the_weighted_sum() -> None:
    inst, fol = _random(5)
    pulls = [response_pull(fol, np.array(r), inst.n_cells, inst.beta) for r in ([0, 1], [2, 3], [1, 3])]
    lam = np.array([0.2, 0.5, 0.3])
    mi = master_instance(inst, pulls, lam)
    for plan in itertools.combinations(range(inst.n_sites), inst.stores):
        want = sum(la * share_against(inst, np.array(plan), p) for la, p in zip(lam, pulls, strict=True))
        assert share_against(mi, np.array(plan)) == pytest.approx(want)


@pytest.mark.parametrize("seed", range(8))
def test_maxmin_equals_enumeration(seed: int) -> None:
    inst, fol = _random(seed)
    opt, after = _brute(inst, fol)
    start = solve(inst, "market_share").open_sites
    mm = anticipate(inst, fol, start=start)
    assert mm.objective == pytest.approx(opt, rel=1e-9)
    assert after[tuple(mm.open_sites.tolist())] == pytest.approx(opt, rel=1e-9)
    assert mm.bound is not None and mm.bound >= opt - 1e-12
    assert mm.status == "optimal"
    # never worse after the response than the plan that ignores it
    assert mm.objective >= after[tuple(np.sort(start).tolist())] - 1e-12


def test_anticipation_changes_the_plan_on_some_random_instance() -> None:
    """At least one of the enumerated instances has a max-min plan other than the plain optimum."""
    changed = 0
    for seed in range(8):
        inst, fol = _random(seed)
        start = solve(inst, "market_share").open_sites
        mm = anticipate(inst, fol, start=start)
        changed += not np.array_equal(np.sort(start), mm.open_sites)
    assert changed >= 1


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), q=st.integers(1, 3))
def test_reported_share_never_exceeds_any_response(seed: int, q: int) -> None:
    """Property: the reported after-response share is at most the share against every response."""
    inst, fol = _random(seed, q=q)
    start = solve(inst, "market_share").open_sites
    mm = anticipate(inst, fol, start=start, max_rounds=2)
    for r in itertools.combinations(range(fol.n_sites), fol.stores):
        pull = response_pull(fol, np.array(r, dtype=np.int64), inst.n_cells, inst.beta)
        assert mm.objective <= share_against(inst, mm.open_sites, pull) + 1e-12
    assert mm.objective <= (mm.bound if mm.bound is not None else np.inf) + 1e-12


def test_no_openings_takes_nothing() -> None:
    inst, fol = _two_cells()
    fol.stores = 0
    r = best_response(inst, np.array([0]), fol)
    assert r.loss == 0.0 and r.sites.size == 0


def test_follower_too_many_stores_is_an_error() -> None:
    from planner.errors import DataError

    inst, fol = _two_cells()
    fol.stores = 3
    with pytest.raises(DataError, match="f_stores"):
        fol.validate(inst.n_cells)


@pytest.mark.parametrize("seed", range(6))
def test_submodular_bound_is_valid(seed: int) -> None:
    """f(R*) <= f(R) + the largest marginal gains at R, for every R (checked against enumeration)."""
    from planner.optimise.compete import submodular_bound

    inst, fol = _random(seed, q=2)
    plan = np.array([0, 1])
    finst = follower_instance(inst, plan, fol)
    best = max(share_against(finst, np.array(r)) for r in itertools.combinations(range(fol.n_sites), fol.stores))
    for r in itertools.combinations(range(fol.n_sites), fol.stores):
        assert submodular_bound(finst, np.array(r), fol) >= best - 1e-12


def test_useless_sites_are_dropped_but_counts_kept() -> None:
    """A rival site that reaches no cell the leader serves adds nothing; a count that needs it keeps it."""
    from planner.optimise.compete import _useful_sites
    from planner.optimise.types import GroupLimit

    inst, fol = _two_cells()
    fol = Follower(site_attr=np.array([10.0, 0.1, 5.0, 5.0]), pair_cell=np.array([0, 1]), pair_site=np.array([0, 1]),
                   pair_km=np.zeros(2), stores=2,
                   groups=[GroupLimit("a", np.array([0, 1]), 1, 1), GroupLimit("b", np.array([2, 3]), 1, 1)])
    small, kept = _useful_sites(follower_instance(inst, np.array([0]), fol))
    assert kept.tolist() == [0, 1, 2]  # site 2 fills group b's count, site 3 is dropped
    assert [g.sites.tolist() for g in small.groups] == [[0, 1], [2]]
    r = best_response(inst, np.array([0]), fol)
    assert sorted(r.sites.tolist()) == [0, 2] and r.share_after == pytest.approx(1 / 12)
