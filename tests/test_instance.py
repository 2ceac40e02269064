"""Demand and instance building on a tiny hand-made geography."""

from __future__ import annotations

import numpy as np
import pytest

from planner.config import load_scenario
from planner.demand import compute_demand
from planner.errors import ConfigError
from planner.instance import build_instance, is_county_unit
from tests.fixtures.tiny import tiny_layers


def scenario(**data):
    base = {
        "objective": {"catchment_km": {"1": 3, "3": 5}},
        "constraints": {"total_stores": 4, "min_spacing_km": {"1": 0, "new1": 0, "2": 0, "3": 0, "4": 0, "5": 0}},
        "demand": {"use_income": False},
    }
    from planner.config.load import deep_merge

    return load_scenario(data=deep_merge(base, data))


def test_demand_is_people_times_tier_factor() -> None:
    layers = tiny_layers()
    sc = scenario()
    d = compute_demand(layers, sc)
    tf = layers.cells["tier"].map(sc.demand.tier_factor).to_numpy()
    assert np.allclose(d["demand"], layers.cells["population"].to_numpy() * tf)


def test_income_raises_richer_province() -> None:
    layers = tiny_layers()
    d = compute_demand(layers, scenario(demand={"use_income": True}))
    ratio = d["demand"] / layers.cells["population"]
    gd = layers.cells["province_code"] == "440000"
    # Guangdong income 50k vs Guangxi 40k, and tier 1 vs tier 3 factors
    assert ratio[gd].iloc[0] > ratio[~gd].iloc[0]


def test_competitor_pull_is_huff_attraction() -> None:
    layers = tiny_layers()
    sc = scenario()
    d = compute_demand(layers, sc)
    # cell 3 hosts a huawei store: pull = weight * (1 + 0)^-beta
    assert d.loc[3, "pull_huawei"] == pytest.approx(sc.networks.brand_weight["huawei"], rel=1e-6)
    # cell 0 is 6 km away, beyond the tier-1 catchment of 3 km: no pull
    assert d.loc[0, "competitor_pull"] == 0.0


def test_instance_pairs_respect_tier_radius() -> None:
    layers = tiny_layers()
    built = build_instance(layers, compute_demand(layers, scenario()), scenario())
    inst = built.instance
    assert inst.n_sites == 2 + len(layers.candidates)
    assert np.all(inst.pair_km <= inst.radius_km[inst.pair_site] + 1e-9)
    # tier-1 site radius 3 km reaches cells 2 km away but not 4 km away
    site0 = 0  # existing store at cell 0 (tier 1)
    cells0 = set(inst.pair_cell[inst.pair_site == site0].tolist())
    assert cells0 == {0, 1}
    assert set(inst.fixed.tolist()) == {0, 1}


def test_one_store_per_cell_shares_location_with_existing() -> None:
    layers = tiny_layers()
    built = build_instance(layers, compute_demand(layers, scenario()), scenario())
    loc = built.instance.site_location
    cand0 = int(np.flatnonzero(built.sites["site_id"] == layers.candidates["site_id"].iloc[0])[0])
    assert loc[cand0] == loc[0]


def test_spacing_conflicts_between_close_sites() -> None:
    layers = tiny_layers()
    sc = scenario(constraints={"min_spacing_km": {"1": 2.5}})
    inst = build_instance(layers, compute_demand(layers, sc), sc).instance
    assert len(inst.conflict_a) > 0
    s = build_instance(layers, compute_demand(layers, sc), sc).sites
    from planner.spatial import haversine_km

    km = haversine_km(s.lon.values[inst.conflict_a], s.lat.values[inst.conflict_a],
                      s.lon.values[inst.conflict_b], s.lat.values[inst.conflict_b])
    assert np.all(km < 2.5)


def test_province_quota_by_name_and_unknown_name() -> None:
    layers = tiny_layers()
    sc = scenario(constraints={"province": {"min": {"Guangdong": 3}}})
    inst = build_instance(layers, compute_demand(layers, sc), sc).instance
    (g,) = [g for g in inst.groups if g.key.startswith("constraints.province")]
    assert g.min_open == 3 and "Guangdong" in g.key
    bad = scenario(constraints={"province": {"min": {"Guangdongg": 3}}})
    with pytest.raises(ConfigError, match="Did you mean"):
        build_instance(layers, compute_demand(layers, bad), bad)


def test_formats_expand_sites() -> None:
    layers = tiny_layers()
    sc = scenario(formats={"enabled": True})
    built = build_instance(layers, compute_demand(layers, sc), sc)
    fl = built.sites[built.sites["format"] == "flagship"]
    assert set(fl["tier"]) <= {"1", "new1", "2"}  # flagships only where allowed
    # a flagship reaches farther than a standard store at the same place
    assert fl["radius_km"].iloc[0] > built.sites[(~built.sites.existing) & (built.sites.format == "standard")]["radius_km"].iloc[0]


def test_forced_unknown_site_is_config_error() -> None:
    layers = tiny_layers()
    sc = scenario(constraints={"forced_sites": ["nope"]})
    with pytest.raises(ConfigError, match="forced_sites"):
        build_instance(layers, compute_demand(layers, sc), sc)


@pytest.mark.parametrize(("name", "county"), [("横县", True), ("增城区", False), ("冷水江市", True), ("鄂温克族自治旗", True)])
def test_is_county_unit(name: str, county: bool) -> None:
    assert is_county_unit(name) is county


def test_chain_of_command_implies_city_minimum() -> None:
    layers = tiny_layers()
    sc = scenario(constraints={"province": {"min": {"广东省": 3, "广西": 1}}}, rollout={"city_stores_before_county": 2})
    built = build_instance(layers, compute_demand(layers, sc), sc)
    chain = [g for g in built.instance.groups if g.key.startswith("rollout.city_stores_before_county")]
    # only Guangdong's minimum (3) reaches N = 2; Guangxi's (1) does not
    assert len(chain) == 1 and chain[0].min_open == 2
    assert not built.sites.iloc[chain[0].sites]["is_county"].any()
    assert set(built.sites.iloc[chain[0].sites]["province_code"]) == {"440000"}
    off = scenario(constraints={"province": {"min": {"广东省": 3}}}, rollout={"enabled": False})
    assert not [g for g in build_instance(layers, compute_demand(layers, off), off).instance.groups
                if g.key.startswith("rollout")]


def test_unknown_rival_brand_in_the_response_is_named() -> None:
    from planner.config.models import Scenario
    from planner.errors import ConfigError
    from planner.instance import check_response_brands

    sc = Scenario.model_validate({"competition": {"response": {"stores": {"huawai": 200}}}})
    with pytest.raises(ConfigError, match=r"competition.response.stores.*huawai.*did you mean 'huawei'"):
        check_response_brands(sc)
    check_response_brands(Scenario.model_validate({"competition": {"response": {"stores": {"huawei": 200}}}}))
def test_store_workload_is_each_cells_demand_at_its_nearest_open_store() -> None:
    import numpy as np

    from planner.instance import store_workload
    from planner.optimise.types import Instance

    # cell 0 reaches site 0 (1 km) and site 1 (2 km), cell 1 only site 1, cell 2 no site
    inst = Instance(weight=np.array([5.0, 7.0, 9.0]), pair_cell=np.array([0, 0, 1], dtype=np.int32),
                    pair_site=np.array([0, 1, 1], dtype=np.int32), pair_km=np.array([1.0, 2.0, 1.0]),
                    n_sites=2, stores=1, radius_km=np.ones(2))
    assert store_workload(inst, np.array([0, 1])).tolist() == [5.0, 7.0]
    assert store_workload(inst, np.array([1])).tolist() == [12.0]


def test_site_costs_and_profit_terms_follow_the_file_the_format_and_the_tier() -> None:
    import pandas as pd

    from planner.instance import profit_terms, site_costs

    sc = scenario(economics={"capex_years": 4, "gross_margin_pct": 25,
                             "capex_tier_factor": {"1": 2.0}, "opex_tier_factor": {"1": 1.5}})
    std = sc.formats.catalogue["standard"]
    sites = pd.DataFrame({
        "format": ["standard", "standard", "standard", "standard"],
        "tier": ["1", "3", "1", "1"],
        "capex_file_cny": [np.nan, np.nan, 700.0, np.nan],
        "opex_file_cny": [np.nan, np.nan, 90.0, np.nan],
        "existing": [False, False, False, True],
    })
    capex, opex = site_costs(sites, sc)
    assert capex.tolist() == [2.0 * std.capex_cny, std.capex_cny, 700.0, 0.0]  # the file wins; existing: spent
    assert opex.tolist() == [1.5 * std.opex_cny_per_year, std.opex_cny_per_year, 90.0, 1.5 * std.opex_cny_per_year]
    fixed, margin = profit_terms(sites.assign(capex_cny=capex, opex_cny=opex), sc, cny_per_demand=1000.0)
    assert fixed.tolist() == pytest.approx((opex + capex / 4).tolist()) and margin == pytest.approx(250.0)


def test_a_forbidden_site_takes_no_store_in_any_format() -> None:
    layers = tiny_layers()
    sc = scenario(formats={"enabled": True})
    sites = build_instance(layers, compute_demand(layers, sc), sc).sites
    new = sites[~sites["existing"].astype(bool)]
    multi = new.groupby("location_id")["format"].nunique()
    place = str(multi[multi > 1].index[0])  # a place that can take more than one format
    sc = scenario(formats={"enabled": True}, constraints={"forbidden_sites": [place]})
    built = build_instance(layers, compute_demand(layers, sc), sc)
    at_place = np.flatnonzero((built.sites["location_id"] == place).to_numpy())
    assert at_place.size > 1 and set(at_place) <= set(built.instance.forbidden.tolist())
