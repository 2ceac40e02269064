"""The rollout's value model, manager pool and quarter table (planner.optimise.rollout.model).

Hand-known answers: one cell per site for the modular cases, one shared cell for
the submodular ones, and a manager pipeline worked out quarter by quarter.
"""

from __future__ import annotations

from dataclasses import fields

import numpy as np
import pytest
from rollout_micro import cfg, micro

from planner.config.models import RolloutConfig
from planner.instance import rollout_params
from planner.optimise import rollout_check
from planner.optimise.rollout import RolloutParams
from planner.optimise.rollout.model import NetworkValue, manager_pool, quarter_table, value_model
from planner.optimise.types import Instance


def shared_cell(kind: str, **kw: object) -> Instance:
    """One cell of weight 10, two sites at 0 km and 1 km (radius 2 km)."""
    return Instance(
        weight=np.array([10.0]), pair_cell=np.array([0, 0], dtype=np.int32),
        pair_site=np.array([0, 1], dtype=np.int32), pair_km=np.array([0.0, 1.0]), n_sites=2, stores=1,
        radius_km=np.full(2, 2.0), **kw,  # type: ignore[arg-type]
    )


def test_coverage_value_is_submodular_max() -> None:
    vm = NetworkValue(shared_cell("coverage"), "coverage")
    st = vm.empty_state()
    assert vm.gains(st, np.array([0, 1])).tolist() == [10.0, 10.0]
    vm.add(st, 0)
    assert vm.total(st) == 10.0
    assert vm.gain(st, 1) == 0.0  # the cell is covered already
    assert vm.objective(10.0) == 10.0


def test_distance_value_is_distance_saved() -> None:
    vm = NetworkValue(shared_cell("distance", unreachable_km=5.0), "distance")
    st = vm.state_of(np.array([1]))  # 1 km away: saves 4 km of 5
    assert vm.total(st) == pytest.approx(40.0)
    assert vm.objective(vm.total(st)) == pytest.approx(10.0)  # 10 people x 1 km
    assert vm.gain(st, 0) == pytest.approx(10.0)  # the 0 km site saves the last km


def test_market_share_value_is_huff() -> None:
    vm = NetworkValue(shared_cell("market_share", competitor_pull=np.array([1.0]), beta=1.0), "market_share")
    st = vm.state_of(np.array([0]))  # strength 1 against pull 1
    assert vm.total(st) == pytest.approx(5.0)
    # the second site (strength 1 / (1 + 1 km) = 0.5): share 1.5 / 2.5
    assert vm.gain(st, 1) == pytest.approx(10 * 1.5 / 2.5 - 5.0)
    assert vm.quarter_values(np.zeros(0, dtype=np.int64), np.array([0, 1]), np.array([0, 1]), 2).tolist() == \
        pytest.approx([5.0, 6.0])


def test_value_model_is_built_once_per_instance_and_kind() -> None:
    ri = micro([1.0, 2.0])
    assert value_model(ri) is value_model(ri)
    assert value_model(ri, "distance") is not value_model(ri)


@pytest.mark.parametrize("pool", [manager_pool, rollout_check.manager_pool], ids=["solver", "checker"])
def test_manager_pool_dynamics_by_hand(pool) -> None:  # type: ignore[no-untyped-def]
    # 2 managers, 2 stores training 0.5 cadres each for 1 quarter, half the idle managers leave
    p = cfg(initial_managers=2, cadres_per_store=0.5, training_quarters=1, attrition_pct=50.0)
    out = pool(p, 2, np.array([1, 0, 2]), np.array([0, 1, 0]))
    assert out.started.tolist() == pytest.approx([1.0, 1.5, 1.5])  # 0.5 x (2, 3, 3) stores
    assert out.graduated.tolist() == pytest.approx([0.0, 1.0, 1.5])
    assert out.carried.tolist() == pytest.approx([2.0, 0.5, 1.25])  # 0.5 x (2 - 1), 0.5 x (2.5 - 0)
    assert out.ready.tolist() == pytest.approx([2.0, 2.5, 2.75])  # carried + graduated + hires
    assert out.trainees.tolist() == pytest.approx([1.0, 1.5, 1.5])


def test_manager_pool_without_training_time() -> None:
    p = cfg(initial_managers=0, cadres_per_store=1.0, training_quarters=0)
    out = manager_pool(p, 1, np.array([1, 0]), np.array([0, 0]))
    assert out.ready.tolist() == pytest.approx([1.0, 1.0 + 2.0 - 1.0 + 0.0])  # trainees ready at once
    assert out.trainees.tolist() == [0.0, 0.0]


def test_quarter_table_by_hand() -> None:
    ri = micro([10.0, 5.0], existing=[1.0], capex=[3.0, 2.0])
    table, total, value = quarter_table(ri, cfg(quarters=2), np.array([0, 1, 2]), np.array([-1, 0, 1]),
                                        np.array([0, 0]))
    assert table["objective"].tolist() == [11.0, 16.0]
    assert total == 27.0 and value.tolist() == [11.0, 16.0]
    assert table["opened"].tolist() == [1, 1] and table["open_total"].tolist() == [2, 3]
    assert table["capex_cny"].tolist() == [3.0, 2.0]
    assert table["opex_cny"].tolist() == [2.0, 3.0]  # 4 CNY a year per store, a quarter of it
    assert table["covered_population"].tolist() == [11.0, 16.0]
    assert np.isnan(table["market_share"]).all()  # no competitor pull


def test_params_defaults_are_the_configs() -> None:
    """RolloutParams mirrors the rollout section: same names, same defaults (enabled stays in config)."""
    assert rollout_params(RolloutConfig()) == RolloutParams()
    assert {f.name for f in fields(RolloutParams)} == set(RolloutConfig.model_fields) - {"enabled"}
    custom = RolloutConfig(quarters=4, capex_budget_per_quarter_cny=5e6, mode="joint")
    assert rollout_params(custom) == RolloutParams(quarters=4, capex_budget_per_quarter_cny=5e6, mode="joint")
