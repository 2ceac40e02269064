"""The H3 grid: cells nested in counties, small counties kept, candidates stable."""

from __future__ import annotations

import h3
import numpy as np
import pytest

from planner.geodata import Layers, load_layers
from tests.geodata.conftest import SMALL, scenario


def test_cells_are_unique_valid_and_nested(pair_layers: Layers) -> None:
    cells = pair_layers.cells
    assert cells["h3"].is_unique
    sample = cells["h3"].iloc[:: max(1, len(cells) // 500)]
    assert all(h3.is_valid_cell(c) and h3.get_resolution(c) == 7 for c in sample)
    counties = pair_layers.counties.set_index("code")
    assert (cells["city_code"] == cells["county_code"].map(counties["city_code"])).all()
    assert (cells["province_code"] == cells["county_code"].map(counties["province_code"])).all()
    tiers = pair_layers.cities.set_index("code")["tier"]
    assert (cells["tier"] == cells["city_code"].map(tiers)).all()
    # the point is the cell centre
    lat, lon = h3.cell_to_latlng(cells["h3"].iloc[0])
    assert (cells["lat"].iloc[0], cells["lon"].iloc[0]) == pytest.approx((lat, lon))
    assert cells.geometry.x.iloc[0] == pytest.approx(lon)


def test_cell_centres_lie_in_their_county(small_layers: Layers) -> None:
    cells = small_layers.cells
    counties = small_layers.counties.set_index("code")
    sample = cells.iloc[:: max(1, len(cells) // 300)]
    inside = [counties.geometry[c].contains(p) for c, p in zip(sample["county_code"], sample.geometry, strict=True)]
    # a county left without a settled cell may take its seat's cell just across its edge
    assert np.mean(inside) > 0.99


def test_small_urban_districts_keep_a_cell(pair_layers: Layers) -> None:
    per_county = pair_layers.cells.groupby("county_code").size()
    # 东城区 and 西城区 (about 42 and 51 km²) are small next to a 5 km² cell, yet have several
    assert per_county["110101"] >= 3 and per_county["110102"] >= 3
    assert per_county.min() >= 1


def test_people_follow_towns(pair_layers: Layers) -> None:
    cells = pair_layers.cells
    bj = cells[cells["county_code"] == "110105"]  # 朝阳区: dense core, thinner edge
    assert bj["population"].max() > 20 * bj["population"].min()
    # Beijing is far denser than Hainan (its mountain districts are thin, so compare means)
    bj_mean = cells[cells["county_code"].str[:2] == "11"]["population"].mean()
    hn_mean = cells[cells["county_code"].str[:2] == "46"]["population"].mean()
    assert bj_mean > 3 * hn_mean


def test_candidates_rule(small_layers: Layers) -> None:
    from planner.config.models import CandidatesConfig

    threshold = CandidatesConfig().min_cell_population  # the scenario leaves the default
    cand = small_layers.candidates
    assert cand["site_id"].is_unique
    cells = cand[cand["kind"] == "cell"]
    assert (cells["population"] >= threshold).all()
    assert (cells["site_id"] == "c-" + cells["h3"]).all()
    seats = cand[cand["kind"] == "county_seat"]
    assert set(seats["county_code"]) == set(small_layers.counties["code"])
    assert (seats["site_id"] == "seat-" + seats["county_code"]).all()
    populous = small_layers.cells[small_layers.cells["population"] >= threshold]
    assert len(cells) == len(populous)


def test_candidates_options(small_layers: Layers) -> None:
    few = load_layers(scenario(SMALL, candidates__max_candidates=25, candidates__include_county_seats=False))
    assert len(few.candidates) == 25
    assert (few.candidates["kind"] == "cell").all()
    top = small_layers.cells.nlargest(25, "population")["h3"]
    assert set(few.candidates["h3"]) == set(top)
    # ids are stable across loads
    again = load_layers(scenario(SMALL))
    assert list(again.candidates["site_id"]) == list(small_layers.candidates["site_id"])


def test_higher_resolution_grid(tmp_cache) -> None:  # type: ignore[no-untyped-def]
    layers = load_layers(scenario(SMALL, cache_dir=tmp_cache(), grid__h3_resolution=8))
    assert h3.get_resolution(layers.cells["h3"].iloc[0]) == 8
    assert layers.cells["population"].sum() == pytest.approx(7_202_654, rel=1e-9)
    assert set(layers.counties["code"]) == set(layers.cells["county_code"])
    # stores keep their places whatever the grid; only their cell changes
    assert h3.get_resolution(layers.own_stores["h3"].iloc[0]) == 8 if len(layers.own_stores) else True
