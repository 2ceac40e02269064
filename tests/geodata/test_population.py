"""Population: the census carried onto today's counties, and cells that add up to it."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from planner.errors import DataError
from planner.geodata import Layers
from planner.geodata._sources import CENSUS_FILE, CROSSWALK_FILE, PROVINCE_FILE, read_census
from planner.geodata.population import county_population

NATION_2020 = 1_409_778_724  # 31 provinces; the 2,000,000 servicemen belong to none


@pytest.fixture(scope="module")
def census() -> pd.DataFrame:
    return read_census(CENSUS_FILE)


@pytest.fixture(scope="module")
def province_census() -> pd.Series:
    return pd.read_csv(PROVINCE_FILE, dtype={"code": str}).set_index("code")["population_2020"]


def test_census_leaves_partition_the_nation(census: pd.DataFrame) -> None:
    leaves = census[census["is_leaf"]]
    assert len(leaves) == 2989
    assert leaves["population"].sum() == NATION_2020


def test_crosswalk_is_documented_and_consistent(admin_tables: dict[str, Any]) -> None:
    cw = pd.read_csv(CROSSWALK_FILE, dtype=str, keep_default_na=False)
    assert {"old_code", "old_name", "parent_code", "new_code", "share", "rule", "reason"} <= set(cw.columns)
    assert cw["reason"].str.len().gt(10).all()
    assert cw["new_code"].isin(admin_tables["counties"]["code"]).all()
    fixed = cw[cw["share"] != ""].assign(share=lambda d: d["share"].astype(float))
    sums = fixed.groupby(["old_code", "old_name", "parent_code"])["share"].sum()
    assert np.allclose(sums, 1.0, atol=1e-5)
    # spot checks of renames found by name and parent, not typed in
    new = cw.set_index("old_code")["new_code"]
    assert new["450127"] == "450181"  # 横县 → 横州市
    assert new["520522"] == "520581"  # 黔西县 → 黔西市
    assert set(cw.loc[cw["old_code"] == "330104", "new_code"]) == {"330102", "330114"}  # 江干区


def test_every_census_person_lands_in_one_unit(census: pd.DataFrame, admin_tables: dict[str, Any]) -> None:
    cp = county_population(census, CROSSWALK_FILE, admin_tables["counties"]["code"].tolist(), census_path=CENSUS_FILE)
    assert cp.units["population"].sum() == pytest.approx(NATION_2020, rel=1e-12)
    assert (cp.units["population"] > 0).all()
    assert set(cp.counties.index) == set(admin_tables["counties"]["code"])


def test_unknown_census_code_is_a_data_error(census: pd.DataFrame, admin_tables: dict[str, Any]) -> None:
    bad = pd.concat([census, census.iloc[[5]].assign(code="999999", is_leaf=True)], ignore_index=True)
    with pytest.raises(DataError, match="999999"):
        county_population(bad, CROSSWALK_FILE, admin_tables["counties"]["code"].tolist(), census_path=CENSUS_FILE)


def _check_sums(layers: Layers, province_census: pd.Series) -> None:
    counties = layers.counties
    cells = layers.cells
    assert (counties["population"] > 0).all(), "every county has people"
    assert set(counties["code"]) == set(cells["county_code"]), "every county has a cell"
    by_county = cells.groupby("county_code")["population"].sum()
    assert np.allclose(counties.set_index("code")["population"], by_county.reindex(counties["code"]), rtol=1e-9)
    units = counties.groupby("census_unit").agg(pop=("population", "sum"), census=("census_population", "first"))
    assert ((units["pop"] / units["census"] - 1).abs() <= 1e-3).all()
    single = counties.groupby("census_unit")["code"].transform("size") == 1
    alone = counties[single]
    assert ((alone["population"] / alone["census_population"] - 1).abs() <= 1e-3).all()
    prov = layers.provinces.set_index("code")["population"]
    assert ((prov / province_census.reindex(prov.index) - 1).abs() <= 1e-3).all()
    assert (cells["urban_population"] <= cells["population"] + 1e-6).all()
    assert (cells["population"] >= 1.0 - 1e-9).all()


def test_small_province_sums(small_layers: Layers, province_census: pd.Series) -> None:
    _check_sums(small_layers, province_census)
    assert small_layers.provinces["population"].sum() == pytest.approx(7_202_654, rel=1e-9)


def test_pair_of_provinces_sums(pair_layers: Layers, province_census: pd.Series) -> None:
    _check_sums(pair_layers, province_census)
    assert len(pair_layers.provinces) == 2
    # Hainan's island groups (西沙/南沙, a few thousand people) still get a cell each
    counties = pair_layers.counties.set_index("code")
    assert counties.loc["460321", "population"] == pytest.approx(1549 + 145, rel=1e-9)
    assert counties.loc["460322", "population"] == pytest.approx(639, rel=1e-9)
