"""User files replacing the embedded sources: boundaries, county population, income."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest

from planner.errors import DataError
from planner.geodata import Layers, load_layers
from tests.geodata.conftest import scenario


def _boundaries_file(layers: Layers, path: Path) -> Path:
    prov = layers.provinces.assign(level="province", parent_code="")[["code", "name", "level", "parent_code", "geometry"]]
    city = layers.cities.assign(level="city").rename(columns={"province_code": "parent_code"})
    county = layers.counties.assign(level="county").rename(columns={"city_code": "parent_code"})
    cols = ["code", "name", "level", "parent_code", "geometry"]
    gdf = gpd.GeoDataFrame(pd.concat([prov[cols], city[cols], county[cols]], ignore_index=True), crs=4326)
    gdf.to_file(path, driver="GPKG")
    return path


def test_user_boundaries_and_population(tmp_path: Path, small_layers: Layers) -> None:
    bounds = _boundaries_file(small_layers, tmp_path / "ningxia.gpkg")
    pop = small_layers.counties[["code", "population", "urban_population"]].round(0)
    pop.to_csv(tmp_path / "pop.csv", index=False)
    income = pd.DataFrame({"code": ["640000"], "income_cny": [30000.0]})
    income.to_csv(tmp_path / "income.csv", index=False)
    sc = scenario(
        None, cache_dir=tmp_path / "cache",
        data__boundaries=str(bounds), data__county_population=str(tmp_path / "pop.csv"),
        data__province_income=str(tmp_path / "income.csv"),
    )
    layers = load_layers(sc)
    assert list(layers.provinces["code"]) == ["640000"]
    assert layers.provinces["income_cny"].iloc[0] == 30000.0
    assert layers.cells["population"].sum() == pytest.approx(pop["population"].sum(), rel=1e-9)
    assert set(layers.counties["code"]) == set(small_layers.counties["code"])
    assert "user file" in layers.provenance["boundaries"]


def test_user_population_with_unknown_code(tmp_path: Path, tmp_cache) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "pop_bad.csv"
    path.write_text("code,population\n640104,100\n999999,5\n", encoding="utf-8")
    with pytest.raises(DataError) as info:
        load_layers(scenario(["宁夏"], cache_dir=tmp_cache(), data__county_population=str(path)))
    assert "pop_bad.csv" in str(info.value) and "999999" in str(info.value)


def test_missing_user_file_names_the_key(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="data.city_tiers"):
        load_layers(scenario(["宁夏"], cache_dir=tmp_path, data__city_tiers=str(tmp_path / "nope.csv")))
