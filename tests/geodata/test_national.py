"""The default national scenario: 31 provinces summing to the census, ≥ 100,000 cells at resolution 7."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from planner.geodata import Layers
from planner.geodata._sources import PROVINCE_FILE
from tests.geodata.conftest import SMALL, scenario

pytestmark = pytest.mark.slow


def test_national_totals(national_layers: Layers) -> None:
    layers = national_layers
    assert len(layers.provinces) == 31
    assert layers.cells["population"].sum() == pytest.approx(1_409_778_724, rel=1e-9)
    census = pd.read_csv(PROVINCE_FILE, dtype={"code": str}).set_index("code")
    prov = layers.provinces.set_index("code")
    assert np.allclose(prov["population"], census["population_2020"].reindex(prov.index), rtol=1e-3)
    assert np.allclose(prov["urban_population"], census["urban_population_2020"].reindex(prov.index), rtol=1e-3)
    assert (layers.counties["population"] > 0).all()
    units = layers.counties.groupby("census_unit").agg(pop=("population", "sum"), census=("census_population", "first"))
    assert ((units["pop"] / units["census"] - 1).abs() <= 1e-3).all()


def test_national_grid_size(national_layers: Layers) -> None:
    cells = national_layers.cells
    assert len(cells) >= 100_000
    assert (cells["population"] > 0).all()
    assert cells["h3"].is_unique
    assert set(national_layers.counties["code"]) == set(cells["county_code"])
    assert 10_000 <= len(national_layers.candidates) <= 60_000
    assert len(national_layers.own_stores) == 150
    assert national_layers.competitors.groupby("brand").size().to_dict() == {"huawei": 6000, "oppo": 8000, "vivo": 8000}


def test_province_grid_equals_national_subset(national_layers: Layers, tmp_cache) -> None:  # type: ignore[no-untyped-def]
    from planner.geodata import load_layers

    alone = load_layers(scenario(SMALL, cache_dir=tmp_cache()))  # built alone: no national grid in this cache
    nat = national_layers.cells
    nat = nat[nat["province_code"] == "640000"].set_index("h3").sort_index()
    own = alone.cells.set_index("h3").sort_index()
    assert list(own.index) == list(nat.index)
    assert (own["county_code"] == nat["county_code"]).all()
    assert np.allclose(own["population"], nat["population"], rtol=1e-9)
