"""Demand and competitor pull on the tiny geography, checked by hand.

tests/fixtures/tiny.py: 12 cells on a parallel at 23°N, 2 km apart; cells 0-5 are
Guangdong (tier 1, 50,000 CNY), 6-11 Guangxi (tier 3, 40,000 CNY); population
1000 x (1 + i % 4); a huawei store on cell 3 and an oppo store on cell 8.
Distances are recomputed here by haversine (R = 6371.0088 km) rather than read back.
"""

from __future__ import annotations

import numpy as np
import pytest

from planner.config import load_scenario
from planner.demand import catchment_km_of, compute_demand
from planner.errors import ConfigError
from tests.fixtures.tiny import tiny_layers

HUAWEI, OPPO = 1.2, 0.9  # default networks.brand_weight


def _scenario(**data: object):
    base: dict[str, object] = {
        "objective": {"catchment_km": {"1": 3, "3": 7}, "huff_beta": 1.5},
        "demand": {"use_income": False},
    }
    base.update(data)
    return load_scenario(data=base)


def _km(layers, i: int, k: int) -> float:
    c = layers.cells
    lat1, lon1, lat2, lon2 = np.radians([c.lat[i], c.lon[i], c.lat[k], c.lon[k]])
    h = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    return float(2 * 6371.0088 * np.arcsin(np.sqrt(h)))


def test_pull_of_one_brand_within_reach() -> None:
    layers = tiny_layers()
    d = compute_demand(layers, _scenario())
    # cell 2 is ~2 km from the huawei store (tier-1 reach 3 km): 1.2 * (1 + 2)^-1.5
    assert d.loc[2, "pull_huawei"] == pytest.approx(HUAWEI * (1 + _km(layers, 2, 3)) ** -1.5, rel=1e-3)
    assert d.loc[2, "pull_huawei"] == pytest.approx(HUAWEI * 3 ** -1.5, rel=2e-3)
    # cell 1 is ~4 km away: out of reach
    assert d.loc[1, "competitor_pull"] == 0.0


def test_pull_sums_brands_within_the_cells_own_reach() -> None:
    layers = tiny_layers()
    d = compute_demand(layers, _scenario())
    # cell 6 (tier 3, reach 7 km): huawei ~6 km, oppo ~4 km away
    want = HUAWEI * (1 + _km(layers, 6, 3)) ** -1.5 + OPPO * (1 + _km(layers, 6, 8)) ** -1.5
    assert d.loc[6, "competitor_pull"] == pytest.approx(want, rel=1e-3)
    assert d.loc[6, "competitor_pull"] == pytest.approx(HUAWEI * 7 ** -1.5 + OPPO * 5 ** -1.5, rel=2e-3)
    # cell 5 (tier 1, reach 3 km) is ~4 km from huawei and ~6 km from oppo: nothing
    assert d.loc[5, "competitor_pull"] == 0.0
    assert np.allclose(d["competitor_pull"], d["pull_huawei"] + d["pull_oppo"])


def test_formats_widen_the_reach_by_the_largest_reach_factor() -> None:
    # flagship reach 1.6: the tier-1 reach becomes 4.8 km and cell 1 (~4 km) feels huawei
    layers = tiny_layers()
    d = compute_demand(layers, _scenario(formats={"enabled": True}))
    assert d.loc[1, "pull_huawei"] == pytest.approx(HUAWEI * (1 + _km(layers, 1, 3)) ** -1.5, rel=1e-3)


def test_demand_with_income_elasticity_by_hand() -> None:
    # provinces: 13,000 people at 50,000 CNY and 17,000 at 40,000: mean 1.33e9 / 30,000 = 44,333.3
    d = compute_demand(tiny_layers(), _scenario(demand={"use_income": True, "income_elasticity": 2.0}))
    mean = (13_000 * 50_000 + 17_000 * 40_000) / 30_000
    # cell 0: 1,000 people x (50,000 / mean)^2 x tier-1 factor 1.3
    assert d.loc[0, "demand"] == pytest.approx(1000 * (50_000 / mean) ** 2 * 1.3)
    # cell 7: 4,000 people x (40,000 / mean)^2 x tier-3 factor 1.0
    assert d.loc[7, "demand"] == pytest.approx(4000 * (40_000 / mean) ** 2 * 1.0)


def test_no_competitors_no_pull() -> None:
    d = compute_demand(tiny_layers(competitors=False), _scenario())
    assert (d["competitor_pull"] == 0).all()
    assert not [c for c in d.columns if c.startswith("pull_")]


def test_unknown_brand_weight_is_config_error() -> None:
    sc = _scenario(networks={"brand_weight": {"own": 1.0, "huawei": 1.2}})
    with pytest.raises(ConfigError, match="networks.brand_weight.oppo"):
        compute_demand(tiny_layers(), sc)


def test_unknown_tier_is_config_error() -> None:
    layers = tiny_layers()
    layers.cells.loc[0, "tier"] = "9"
    with pytest.raises(ConfigError, match=r"demand.tier_factor.*'9'"):
        compute_demand(layers, _scenario())


def test_catchment_by_tier_label() -> None:
    assert catchment_km_of(np.array(["1", "3", "1"]), _scenario()).tolist() == [3.0, 7.0, 3.0]
