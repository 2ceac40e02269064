"""Generated store networks: deterministic from the seed, shaped like real networks, labelled illustrative."""

from __future__ import annotations

import numpy as np
import pandas as pd

from planner.config.models import StoreSource
from planner.geodata import Layers, load_layers
from planner.geodata.networks import plan_cities
from tests.geodata.conftest import PAIR, scenario


def test_same_seed_same_networks(pair_layers: Layers) -> None:
    again = load_layers(scenario(PAIR))
    pd.testing.assert_frame_equal(
        pd.DataFrame(again.own_stores.drop(columns="geometry")), pd.DataFrame(pair_layers.own_stores.drop(columns="geometry"))
    )
    pd.testing.assert_frame_equal(
        pd.DataFrame(again.competitors.drop(columns="geometry")),
        pd.DataFrame(pair_layers.competitors.drop(columns="geometry")),
    )


def test_other_seed_other_networks(pair_layers: Layers) -> None:
    other = load_layers(scenario(PAIR, seed=12345))
    a = pair_layers.competitors[["lat", "lon"]].to_numpy()
    b = other.competitors[["lat", "lon"]].to_numpy()
    assert a.shape != b.shape or not np.allclose(a, b)


def test_columns_and_labels(pair_layers: Layers) -> None:
    own, comp = pair_layers.own_stores, pair_layers.competitors
    assert list(own.columns) == ["store_id", "name", "format", "lat", "lon", "h3", "county_code", "city_code",
                                 "province_code", "tier", "illustrative", "geometry"]
    assert list(comp.columns) == ["brand", "store_id", "name", "lat", "lon", "h3", "county_code", "city_code",
                                  "province_code", "tier", "illustrative", "geometry"]
    assert own["illustrative"].all() and comp["illustrative"].all()
    assert "ILLUSTRATIVE" in pair_layers.provenance["networks"]
    assert own["store_id"].is_unique
    assert not comp.duplicated(["brand", "store_id"]).any()
    assert set(comp["brand"]) == {"huawei", "oppo", "vivo"}
    assert own["format"].isin(["flagship", "standard", "small"]).all()
    assert own["county_code"].isin(pair_layers.counties["code"]).all()
    assert comp["province_code"].isin(pair_layers.provinces["code"]).all()


def test_stores_sit_in_their_cell(pair_layers: Layers) -> None:
    import h3

    stores = pd.concat([pair_layers.own_stores, pair_layers.competitors])
    for lat, lon, cell in stores[["lat", "lon", "h3"]].itertuples(index=False):
        assert h3.latlng_to_cell(lat, lon, 7) == cell


def test_own_network_is_tier_heavy(admin_tables) -> None:  # type: ignore[no-untyped-def]
    cities = admin_tables["cities"].assign(
        population=lambda d: d["code"].map(admin_tables["counties"].groupby("city_code")["population_estimate"].sum())
    )
    plan = plan_cities("own", StoreSource(count=150, cities=45), seed=1, cities=cities, own=True)
    assert plan.sum() == 150 and len(plan) == 45
    tiers = cities.set_index("code")["tier"].reindex(plan.index)
    share_top = plan[tiers.isin(["1", "new1", "2"])].sum() / 150
    assert share_top > 0.75
    assert set(tiers[tiers == "1"].index) <= set(plan.index) or share_top > 0.8


def test_competitors_go_deeper_into_counties(small_layers: Layers) -> None:
    comp = small_layers.competitors  # 宁夏: five prefecture cities with counties beyond their districts
    core = comp["county_code"].str[4:].astype(int).between(1, 20)
    town_share = (~core).groupby(comp["brand"]).mean()
    assert town_share["oppo"] > town_share["huawei"] + 0.1 and town_share["vivo"] > town_share["huawei"] + 0.1
    own = small_layers.own_stores
    assert (~own["county_code"].str[4:].astype(int).between(1, 20)).mean() < town_share["huawei"]


def test_counts_are_the_scenarios(tmp_cache) -> None:  # type: ignore[no-untyped-def]
    sc = scenario(["广东省"], cache_dir=tmp_cache())
    sc.networks.own.count, sc.networks.own.cities = 25, 8
    sc.networks.competitors = {"huawei": sc.networks.competitors["huawei"].model_copy(update={"count": 500, "cities": 21})}
    layers = load_layers(sc)
    assert len(layers.own_stores) == 25 and layers.own_stores["city_code"].nunique() == 8
    assert len(layers.competitors) == 500 and layers.competitors["city_code"].nunique() == 21
    assert (layers.own_stores["province_code"] == "440000").all()
