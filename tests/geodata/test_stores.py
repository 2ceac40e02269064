"""Reading users' store files: encodings, formats, GCJ-02, and a clear DataError for each mistake."""

from __future__ import annotations

import math
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from fast_geocn.coord import wgs84_to_gcj02
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from planner.errors import DataError
from planner.geodata import load_layers, read_store_file
from planner.geodata.stores import tag_stores
from tests.geodata.conftest import SMALL, scenario

ROWS = [("S1", "广州天河店", 23.1291, 113.2644, "flagship"), ("S2", "深圳福田店", 22.5410, 114.0550, "")]


def write_csv(path: Path, rows: list[tuple[object, ...]], encoding: str, header: str = "id,name,lat,lon,format") -> Path:
    text = header + "\n" + "\n".join(",".join(str(x) for x in r) for r in rows) + "\n"
    path.write_bytes(text.encode(encoding))
    return path


def metres(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    dy = (lat2 - lat1) * 111_320.0
    dx = (lon2 - lon1) * 111_320.0 * math.cos(math.radians(lat1))
    return math.hypot(dx, dy)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk"])
def test_csv_encodings(tmp_path: Path, encoding: str) -> None:
    stores = read_store_file(write_csv(tmp_path / "s.csv", ROWS, encoding))
    assert list(stores["store_id"]) == ["S1", "S2"]
    assert list(stores["name"]) == ["广州天河店", "深圳福田店"]
    assert list(stores["format"]) == ["flagship", "standard"]
    assert stores["lat"].iloc[0] == 23.1291 and stores["lon"].iloc[1] == 114.0550
    assert stores.crs.to_epsg() == 4326 and stores.geometry.x.iloc[0] == 113.2644


def test_geojson_geopackage_parquet(tmp_path: Path) -> None:
    df = pd.DataFrame(ROWS, columns=["id", "name", "lat", "lon", "format"])
    gdf = gpd.GeoDataFrame(df[["id", "name", "format"]], geometry=gpd.points_from_xy(df.lon, df.lat), crs=4326)
    gdf.to_file(tmp_path / "s.geojson", driver="GeoJSON")
    gdf.to_file(tmp_path / "s.gpkg", driver="GPKG")
    df.to_parquet(tmp_path / "s.parquet")
    for name in ("s.geojson", "s.gpkg", "s.parquet"):
        stores = read_store_file(tmp_path / name)
        assert list(stores["store_id"]) == ["S1", "S2"], name
        assert stores["lat"].iloc[0] == pytest.approx(23.1291), name
        assert stores["name"].iloc[1] == "深圳福田店", name


def test_gcj02_is_converted_back_to_wgs84(tmp_path: Path) -> None:
    wgs = [(23.1291, 113.2644), (39.9087, 116.3975), (30.5728, 104.0668)]
    gcj = [wgs84_to_gcj02(lon, lat)[::-1] for lat, lon in wgs]
    rows = [(f"G{i}", "店", la, lo, "") for i, (la, lo) in enumerate(gcj)]
    stores = read_store_file(write_csv(tmp_path / "g.csv", rows, "utf-8"), crs="gcj02")
    for (lat, lon), (glat, glon), got_lat, got_lon in zip(wgs, gcj, stores["lat"], stores["lon"], strict=True):
        moved = metres(glat, glon, got_lat, got_lon)
        assert 100 < moved < 1000, moved  # GCJ-02 shifts by a few hundred metres in China
        assert got_lon < glon  # WGS-84 lies west of GCJ-02 in eastern China
        assert metres(lat, lon, got_lat, got_lon) < 1.0  # back where it was, to the metre


BAD = [
    ("missing.csv", None, "not found"),
    ("empty.csv", "", "empty"),
    ("header.csv", "id,name,lat,lon\n", "no stores"),
    ("nocols.csv", "id,name,y_coord\nA,x,23\n", "missing column"),
    ("dup.csv", "id,name,lat,lon\nA,x,23.1,113.3\nB,y,23.2,113.4\nA,z,23.3,113.5\n", "line 4"),
    ("nan.csv", "id,name,lat,lon\nA,x,23.1,113.3\nB,y,,113.4\n", "line 3"),
    ("text.csv", "id,name,lat,lon\nA,x,23.1,east\n", "line 2"),
    ("swap.csv", "id,name,lat,lon\nA,x,113.3,23.1\n", "swapped"),
    ("paris.csv", "id,name,lat,lon\nA,x,23.1,113.3\nB,Paris,48.85,2.35\n", "line 3"),
    ("noid.csv", "id,name,lat,lon\n,x,23.1,113.3\n", "line 2"),
    ("binary.csv", "id\x00\x01", "binary"),
]


@pytest.mark.parametrize(("name", "content", "needle"), BAD, ids=[b[0] for b in BAD])
def test_bad_files_name_file_row_and_fix(tmp_path: Path, name: str, content: str | None, needle: str) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(DataError) as info:
        read_store_file(path, role="own stores")
    text = str(info.value)
    assert name in text and needle in text, text
    assert "own stores" in text


def test_store_outside_every_county_names_the_row(tmp_path: Path, admin_tables) -> None:  # type: ignore[no-untyped-def]
    rows = [("A", "ok", 23.1291, 113.2644, ""), ("B", "at sea", 20.0, 116.0, ""), ("C", "HK", 22.28, 114.16, "")]
    path = write_csv(tmp_path / "sea.csv", rows, "utf-8")
    stores = read_store_file(path)
    with pytest.raises(DataError) as info:
        tag_stores(stores, admin_tables["counties"], path=path, role="own stores")
    text = str(info.value)
    assert "sea.csv" in text and "line 3" in text and "'B'" in text and "line 4" in text
    ok = tag_stores(stores.iloc[:1], admin_tables["counties"], path=path, role="own stores")
    assert ok["county_code"].iloc[0] == "440104" and ok["city_code"].iloc[0] == "440100"


def test_store_file_replaces_generated_network(tmp_path: Path, tmp_cache) -> None:  # type: ignore[no-untyped-def]
    rows = [("N1", "银川店", 38.4872, 106.2309, "flagship"), ("G1", "广州店", 23.1291, 113.2644, "")]
    path = write_csv(tmp_path / "own.csv", rows, "gbk")
    sc = scenario(SMALL, cache_dir=tmp_cache())
    sc.networks.own.source = str(path)
    layers = load_layers(sc)
    own = layers.own_stores
    assert list(own["store_id"]) == ["N1"]  # 广州 is outside this scenario's province
    assert not own["illustrative"].any()
    assert own["province_code"].iloc[0] == "640000" and own["format"].iloc[0] == "flagship"
    assert layers.competitors["illustrative"].all()
    assert "own" not in layers.provenance["networks"]


_CJK = "门店广州深圳北京上海成都天河福田朝阳店旗舰中心"


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    stores=st.lists(
        st.tuples(
            st.text(alphabet="ABCDEFGHJK0123456789-", min_size=1, max_size=8),
            st.text(alphabet=_CJK + "abc ", min_size=1, max_size=12).map(str.strip).filter(bool),
            st.floats(min_value=20.0, max_value=50.0, allow_nan=False),
            st.floats(min_value=75.0, max_value=130.0, allow_nan=False),
            st.sampled_from(["", "standard", "small", "flagship"]),
        ),
        min_size=1,
        max_size=25,
        unique_by=lambda r: r[0].strip(),
    ),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "gbk"]),
)
def test_any_valid_store_list_round_trips(tmp_path: Path, stores: list[tuple[str, str, float, float, str]], encoding: str) -> None:
    rows = [(i, n, repr(la), repr(lo), f) for i, n, la, lo, f in stores]
    got = read_store_file(write_csv(tmp_path / "p.csv", rows, encoding))
    assert list(got["store_id"]) == [r[0].strip() for r in stores]
    assert list(got["name"]) == [r[1] for r in stores]
    assert got["lat"].tolist() == [r[2] for r in stores]
    assert got["lon"].tolist() == [r[3] for r in stores]
    assert list(got["format"]) == [r[4] or "standard" for r in stores]
