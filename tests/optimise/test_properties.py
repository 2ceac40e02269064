"""Property tests: the reported objective is the checker's, and never beyond the proven bound
(nor beyond the brute-force optimum) on random small instances, rivals from none to dominant."""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from planner.optimise.check import check_solution, objective_value
from planner.optimise.solve import solve
from planner.optimise.types import Instance


@st.composite
def instances(draw):
    n = draw(st.integers(2, 10))
    m = draw(st.integers(2, 6))
    p = draw(st.integers(1, m - 1))
    seed = draw(st.integers(0, 10_000))
    rng = np.random.default_rng(seed)
    mask = rng.random((m, n)) < 0.5
    mask[rng.integers(0, m), :] |= rng.random(n) < 0.3
    ps, pc = np.nonzero(mask)
    n_fixed = draw(st.integers(0, min(1, p)))
    # competitor pull from zero to dominant: none anywhere (market share is then step coverage),
    # ordinary, or 1,000 times stronger with a third of the cells rival-free
    regime = draw(st.sampled_from(["none", "ordinary", "dominant"]))
    pull = rng.uniform(0, 1, n)
    if regime == "none":
        pull = np.zeros(n)
    elif regime == "dominant":
        pull = np.where(rng.random(n) < 1 / 3, 0.0, 1e3 * pull)
    return Instance(
        weight=rng.integers(1, 20, n).astype(float),
        pair_cell=pc.astype(np.int32),
        pair_site=ps.astype(np.int32),
        pair_km=np.round(rng.uniform(0, 6, ps.size), 1),
        n_sites=m,
        stores=p,
        radius_km=rng.uniform(2, 5, m),
        unreachable_km=8.0,
        site_attr=rng.uniform(0.5, 2, m),
        competitor_pull=pull,
        decay=draw(st.sampled_from(["step", "linear", "exponential"])),
        fixed=rng.choice(m, n_fixed, replace=False),
    )


def _brute(inst: Instance, kind: str) -> float:
    fixed = set(inst.fixed.tolist())
    vals = []
    for combo in itertools.combinations(range(inst.n_sites), inst.stores):
        if fixed <= set(combo):
            vals.append(objective_value(inst, np.array(combo), kind))
    return max(vals) if kind != "distance" else min(vals)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(inst=instances(), kind=st.sampled_from(["coverage", "distance", "market_share"]))
def test_enumeration_is_exact(inst, kind):
    """Tiny instances are solved by scoring every plan: the brute-force optimum, proven."""
    sol = solve(inst, kind, time_limit_s=5, gap_target=0.0)
    assert {k: sol.methods[k] for k in ("primal", "bound")} == {"primal": "enumeration", "bound": "enumeration"}
    if kind == "market_share" and not np.any(inst.competitor_pull):
        assert sol.methods["reduction"] == "market share without rivals = coverage"
    assert check_solution(inst, sol).ok
    opt = _brute(inst, kind)
    assert abs(sol.objective - opt) <= 1e-9 * max(1.0, abs(opt))
    assert sol.gap == 0.0 and sol.status == "optimal"


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(inst=instances(), kind=st.sampled_from(["coverage", "distance", "market_share"]))
def test_objective_within_bound_and_checked(inst, kind):
    # enumeration off: the heuristics, bounds and MIPs must be right on their own
    sol = solve(inst, kind, time_limit_s=5, gap_target=0.0, max_enumerated=0)
    rep = check_solution(inst, sol)
    assert rep.ok, rep.violations
    assert abs(sol.objective - rep.objective) <= 1e-6 * max(1.0, abs(rep.objective))
    opt = _brute(inst, kind)
    assert sol.bound is not None
    tol = 1e-6 * max(1.0, abs(opt))
    if kind == "distance":
        assert opt >= sol.bound - tol  # a lower bound below the true optimum
        assert sol.objective >= opt - tol
    else:
        assert opt <= sol.bound + tol  # an upper bound above the true optimum
        assert sol.objective <= opt + tol
