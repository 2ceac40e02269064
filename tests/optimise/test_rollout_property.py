"""Property tests: whatever the rollout returns, the checker accepts; bounds are bounds."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from planner.config.models import RolloutConfig
from planner.errors import InfeasibleError
from planner.optimise.rollout import (
    RolloutInstance,
    check_rollout,
    greedy_selection,
    plan_joint,
    schedule,
    synthetic_rollout_instance,
)

_CACHE: dict[tuple[str, int], RolloutInstance] = {}


def _inst(kind: str, seed: int) -> RolloutInstance:
    if (kind, seed) not in _CACHE:
        _CACHE[(kind, seed)] = synthetic_rollout_instance(
            n_cells=600, n_sites=60, n_existing=4, n_provinces=3, cities_per_province=2, stores=16,
            kind=kind, seed=seed,  # type: ignore[arg-type]
        )
    return _CACHE[(kind, seed)]


configs = st.builds(
    RolloutConfig,
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
    cfg: RolloutConfig, kind: str, seed: int, joint: bool, use_mip: bool
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
