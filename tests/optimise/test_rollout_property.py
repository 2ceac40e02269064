"""Property tests: whatever the rollout returns, the checker accepts; bounds are bounds."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from planner.errors import InfeasibleError
from planner.optimise.rollout import (
    RolloutInstance,
    RolloutParams,
    check_rollout,
    plan_joint,
    schedule,
)
from planner.synthetic import greedy_selection, synthetic_rollout_instance

_CACHE: dict[tuple[str, int], RolloutInstance] = {}


def _inst(kind: str, seed: int) -> RolloutInstance:
    if (kind, seed) not in _CACHE:
        _CACHE[(kind, seed)] = synthetic_rollout_instance(
            n_cells=600, n_sites=60, n_existing=4, n_provinces=3, cities_per_province=2, stores=16,
            kind=kind, seed=seed,  # type: ignore[arg-type]
        )
    return _CACHE[(kind, seed)]


configs = st.builds(
    RolloutParams,
    quarters=st.integers(1, 6),
    initial_managers=st.sampled_from([0, 4, 12, 20, 30]),
    cadres_per_store=st.sampled_from([0.0, 0.25, 0.5, 1.0]),
    training_quarters=st.integers(0, 3),
    attrition_pct=st.sampled_from([0.0, 5.0, 30.0]),
    external_hires_per_quarter=st.integers(0, 4),
    external_hire_cost_cny=st.sampled_from([0.0, 3e5, 3e6]),
    capex_budget_per_quarter_cny=st.sampled_from([None, 6e6, 2e7]),
    carry_over=st.booleans(),
    city_stores_before_county=st.integers(0, 4),
    max_openings_per_province_per_quarter=st.sampled_from([None, 3, 6]),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    cfg=configs,
    kind=st.sampled_from(["coverage", "market_share", "distance"]),
    seed=st.integers(0, 2),
    joint=st.booleans(),
    use_mip=st.booleans(),
)
def test_checker_accepts_what_the_rollout_returns(
    cfg: RolloutParams, kind: str, seed: int, joint: bool, use_mip: bool
) -> None:
    ri = _inst(kind, seed)
    try:
        if joint:
            res = plan_joint(ri, cfg, time_limit_s=3, use_mip=use_mip)
        else:
            res = schedule(ri, greedy_selection(ri), cfg, time_limit_s=3, use_mip=use_mip)
    except InfeasibleError as e:
        assert "rollout." in str(e) or "constraints." in str(e) or "solver." in str(e)
        return
    assert check_rollout(ri, res, cfg) == []
    assert res.bound is not None and res.gap is not None
    if kind == "distance":
        assert res.bound <= res.objective * (1 + 1e-7)
    else:
        assert res.bound >= res.objective * (1 - 1e-7)
    assert -1e-7 <= res.gap <= 1.0
    assert np.all(np.diff(res.table["open_total"]) >= 0)
    if not joint:
        assert len(res.open_sites) == ri.instance.stores


def _brute_force(ri: RolloutInstance, cfg: RolloutParams, open_sites: np.ndarray) -> float | None:
    """Best two-stage objective over every assignment of quarters (tiny instances only)."""
    import itertools

    import pandas as pd

    from planner.optimise.rollout import RolloutResult
    from planner.optimise.rollout.types import TABLE_COLUMNS
    from planner.optimise.rollout_check import quarterly_metrics

    pre = ri.preopen_mask()
    open_sites = np.asarray(open_sites, dtype=np.int64)
    base, new = open_sites[pre[open_sites]], open_sites[~pre[open_sites]]
    sites = np.r_[base, new]
    best = None
    hire_options = list(itertools.product(range(cfg.external_hires_per_quarter + 1), repeat=cfg.quarters))
    for qs in itertools.product(range(cfg.quarters), repeat=new.size):
        quarter = np.r_[np.full(base.size, -1), np.asarray(qs, dtype=np.int64)]
        for hires in hire_options:
            h = np.asarray(hires, dtype=np.int64)
            m = quarterly_metrics(ri, cfg, sites, quarter, h)
            res = RolloutResult(
                open_sites=sites, quarter=quarter, hires=h,
                table=pd.DataFrame({c: m["columns"][c] for c in TABLE_COLUMNS}),
                objective=m["objective_total"], objective_kind=ri.objective_kind, bound=None, gap=None,
                seconds=0.0, methods={}, status="", mode="two_stage",
            )
            if not check_rollout(ri, res, cfg) and (best is None or res.objective > best):
                best = res.objective
    return best


@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    quarters=st.integers(2, 3),
    managers=st.integers(1, 3),
    hires=st.integers(0, 1),
    budget=st.sampled_from([None, 3e6, 4.5e6]),
    chain=st.integers(0, 2),
)
def test_two_stage_coverage_matches_brute_force(
    seed: int, quarters: int, managers: int, hires: int, budget: float | None, chain: int
) -> None:
    """On overlapping coverage (not modular) the MIP's schedule is the true optimum."""
    ri = synthetic_rollout_instance(n_cells=300, n_sites=12, n_existing=1, n_provinces=1, cities_per_province=1,
                                    stores=4, radius_km=25.0, seed=seed)
    cfg = RolloutParams(quarters=quarters, initial_managers=managers, external_hires_per_quarter=hires,
                        external_hire_cost_cny=1e6, capex_budget_per_quarter_cny=budget, carry_over=True,
                        city_stores_before_county=chain, cadres_per_store=0.5, training_quarters=1)
    sol = greedy_selection(ri)
    best = _brute_force(ri, cfg, sol.open_sites)
    if best is None:
        try:
            schedule(ri, sol, cfg, time_limit_s=10)
        except InfeasibleError:
            return
        raise AssertionError("brute force found no schedule but the rollout did")
    res = schedule(ri, sol, cfg, time_limit_s=10)
    assert res.objective == pytest.approx(best, rel=1e-9)
    assert res.bound is not None and res.bound >= best * (1 - 1e-9)
