"""Run outputs for Excel, QGIS and notebooks: BOM CSVs, plan.gpkg, extra CRS columns, RunResult and load_run."""

from __future__ import annotations

import json
from pathlib import Path

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
from shapely.geometry import Point

import planner
from planner.outputs import RunOutputs
from planner.pipeline import run, write_outputs
from planner.report.kpis import unit_kpi_table
from planner.spatial import wgs84_to_bd09, wgs84_to_gcj02
from tests.test_pipeline import prepared


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> planner.pipeline.RunResult:
    prep = prepared(output={"extra_crs": ["gcj02", "bd09"]})
    return run(prep.scenario, results_dir=tmp_path_factory.mktemp("res"), prepared=prep)


def read_plan_csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype={c: str for c in ("store_id", "province_code", "city_code", "county_code",
                                                     "tier", "quarter")}, encoding="utf-8-sig")


def test_csvs_have_a_bom_and_chinese_names(result) -> None:
    for name in ("plan.csv", "kpis_nation.csv", "kpis_province.csv", "kpis_city.csv", "kpis_county.csv",
                 "kpis_tier.csv"):
        raw = (result.path / name).read_bytes()
        assert raw.startswith(b"\xef\xbb\xbf"), name
    assert "广东省" in (result.path / "plan.csv").read_bytes()[3:].decode("utf-8")


def test_gpkg_stores_are_plan_csv(result) -> None:
    csv = read_plan_csv(result.path / "plan.csv")
    assert {"lon_gcj02", "lat_gcj02", "lon_bd09", "lat_bd09"} <= set(csv.columns)
    layers = {name for name, _ in pyogrio.list_layers(result.path / "plan.gpkg")}
    assert layers == {"stores", "provinces", "cities", "counties", "areas"}  # areas: the command's territories
    areas = gpd.read_file(result.path / "plan.gpkg", layer="areas")
    assert set(areas["area_id"]) == set(csv["area_id"].dropna()) - {""}  # every store's area has its polygon
    stores = gpd.read_file(result.path / "plan.gpkg", layer="stores")
    assert stores.crs.to_epsg() == 4326
    assert list(stores.columns[:-1]) == list(csv.columns)  # every plan.csv column, in order, then geometry
    assert len(stores) == len(csv) == 4
    for col in csv.columns:
        a, b = csv[col], stores[col]
        if pd.api.types.is_numeric_dtype(a):
            np.testing.assert_allclose(b.to_numpy(dtype=float), a.to_numpy(dtype=float), err_msg=col)
        else:
            assert b.fillna("").astype(str).tolist() == a.fillna("").astype(str).tolist(), col
    np.testing.assert_allclose(stores.geometry.x, csv["lon"])
    np.testing.assert_allclose(stores.geometry.y, csv["lat"])


def test_gpkg_admin_layers_are_the_kpis(result) -> None:
    kpis = json.loads((result.path / "kpis.json").read_text(encoding="utf-8"))
    prov = gpd.read_file(result.path / "plan.gpkg", layer="provinces")
    want = pd.DataFrame(kpis["per_province"])
    assert prov["province_code"].tolist() == want["province_code"].tolist() == ["440000", "450000"]
    for col in want.columns:
        if pd.api.types.is_numeric_dtype(want[col]):
            np.testing.assert_allclose(prov[col].to_numpy(dtype=float), want[col].to_numpy(dtype=float), err_msg=col)
    assert prov.geom_type.isin(["Polygon", "MultiPolygon"]).all()
    plan = read_plan_csv(result.path / "plan.csv")
    for layer, level in (("cities", "city"), ("counties", "county")):
        gdf = gpd.read_file(result.path / "plan.gpkg", layer=layer)
        table = pd.read_csv(result.path / f"kpis_{level}.csv", dtype={f"{level}_code": str}, encoding="utf-8-sig")
        assert gdf[f"{level}_code"].tolist() == table[f"{level}_code"].tolist()
        np.testing.assert_allclose(gdf["stores"], table["stores"])
        counts = plan[f"{level}_code"].value_counts()
        assert gdf.set_index(f"{level}_code")["stores"].to_dict() == {
            c: int(counts.get(c, 0)) for c in gdf[f"{level}_code"]
        }
    counties = gpd.read_file(result.path / "plan.gpkg", layer="counties")
    assert counties["stores"].sum() == len(plan)


def test_unit_table_at_province_level_reproduces_per_province() -> None:
    prep = prepared()
    res = run(prep.scenario, results_dir=Path(pytest.importorskip("tempfile").mkdtemp()), prepared=prep,
              write_map=False)
    table = unit_kpi_table("province", prep.built, res.solution, pd.DataFrame(res.plan.drop(columns="geometry")),
                           prep.layers)
    want = pd.DataFrame(res.kpis["per_province"])
    for col in want.columns:
        if pd.api.types.is_numeric_dtype(want[col]):
            np.testing.assert_allclose(table[col].to_numpy(dtype=float), want[col].to_numpy(dtype=float),
                                       err_msg=col)
        else:
            assert table[col].tolist() == want[col].tolist(), col


def test_extra_crs_columns(result) -> None:
    p = result.plan
    lon, lat = wgs84_to_gcj02(p["lon"].to_numpy(), p["lat"].to_numpy())
    np.testing.assert_allclose(p["lon_gcj02"], np.round(lon, 6))
    np.testing.assert_allclose(p["lat_gcj02"], np.round(lat, 6))
    lon_b, lat_b = wgs84_to_bd09(p["lon"].to_numpy(), p["lat"].to_numpy())
    np.testing.assert_allclose(p["lon_bd09"], np.round(lon_b, 6))
    # GCJ-02 moves points some hundreds of metres in Guangdong; BD-09 farther still
    shift_m = np.hypot((p["lon_gcj02"] - p["lon"]) * 102_000, (p["lat_gcj02"] - p["lat"]) * 111_000)
    assert (shift_m > 100).all() and (shift_m < 1000).all()
    assert ((p["lon_bd09"] - p["lon_gcj02"]).abs() > 1e-3).all()


def test_run_result_api(result) -> None:
    assert isinstance(result.plan, gpd.GeoDataFrame)
    assert result.plan.crs.to_epsg() == 4326
    assert result.plan.geometry.x.tolist() == result.plan["lon"].tolist()
    nation = result.kpi_table("nation")
    assert len(nation) == 1 and nation["stores"].iat[0] == 4
    assert "market_share_own" in nation
    assert result.kpi_table("province")["stores"].sum() == 4
    assert result.kpi_table("city")["stores"].sum() == 4
    assert result.kpi_table("county")["stores"].sum() == 4
    assert result.kpi_table("tier")["stores"].sum() == 4
    with pytest.raises(ValueError, match="unknown KPI level"):
        result.kpi_table("street")
    assert isinstance(result.map, folium.Map)
    assert result.map is result.map  # built once


def test_load_run_gives_the_same_object(result) -> None:
    loaded = planner.load_run(result.path.parent / "latest")
    assert loaded.path == result.path
    assert loaded.solution is None
    assert loaded.scenario == result.scenario
    pd.testing.assert_frame_equal(
        pd.DataFrame(loaded.plan.drop(columns="geometry")), pd.DataFrame(result.plan.drop(columns="geometry")),
        check_dtype=False,
    )
    assert loaded.plan.crs.to_epsg() == 4326
    assert loaded.plan.geometry.equals(result.plan.geometry)
    assert loaded.kpis == json.loads((result.path / "kpis.json").read_text(encoding="utf-8"))
    for level in ("nation", "province", "city", "county", "tier"):
        a, b = loaded.kpi_table(level), result.kpi_table(level)
        assert list(a.columns) == list(b.columns), level
        for col in b.columns:
            if pd.api.types.is_numeric_dtype(b[col]) and not pd.api.types.is_bool_dtype(b[col]):
                np.testing.assert_allclose(a[col].to_numpy(dtype=float), b[col].to_numpy(dtype=float),
                                           err_msg=f"{level}.{col}")
            else:
                assert a[col].astype(str).tolist() == b[col].astype(str).tolist(), f"{level}.{col}"
    pd.testing.assert_frame_equal(loaded.rollout, result.rollout, check_dtype=False)
    m = loaded.map
    assert isinstance(m, folium.Map)
    html = m.get_root().render()
    live = result.map.get_root().render()
    for text in ("440000", "450000", result.plan["store_id"].iat[-1]):  # both provinces' polygons and a store
        assert text in html and text in live, text


def test_a_layer_more_is_one_call(tmp_path: Path) -> None:
    plan = pd.DataFrame({"store_id": ["a"], "lat": [23.0], "lon": [113.0], "name": ["店"]})
    out = RunOutputs(plan=plan)
    areas = gpd.GeoDataFrame({"area_id": ["A1"]}, geometry=[Point(113, 23).buffer(0.1)], crs="EPSG:4326")
    out.add_layer("areas", areas)
    write_outputs(tmp_path, out)
    assert gpd.read_file(tmp_path / "plan.gpkg", layer="areas")["area_id"].tolist() == ["A1"]
    assert (tmp_path / "plan.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    with pytest.raises(ValueError, match="with a CRS"):
        out.add_layer("bad", gpd.GeoDataFrame({"x": [1]}, geometry=[Point(0, 0)]))


def test_run_leaves_the_matplotlib_backend_alone(tmp_path: Path) -> None:
    import matplotlib

    before = matplotlib.get_backend()
    matplotlib.use("svg")  # a backend that is not Agg: the old code switched it to Agg
    try:
        prep = prepared()
        run(prep.scenario, results_dir=tmp_path, prepared=prep)
        assert matplotlib.get_backend() == "svg"
        assert (tmp_path / "tiny" / "latest" / "overview.png").stat().st_size > 10_000
    finally:
        matplotlib.use(before)
