"""The team's candidate-site file: every bad file gets an error naming file, row and column."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from planner.errors import DataError
from planner.geodata.sites import read_site_file
from planner.spatial import wgs84_to_bd09, wgs84_to_gcj02

FORMATS = ["flagship", "standard", "small"]
HEADER = "id,name,lat,lon,formats,capex_cny,opex_cny_per_year,available_from,status\n"
GOOD = [
    "S1,天河城,23.1318,113.3235,flagship;standard,15000000,,2027Q3,candidate",
    "S2,北京路,23.1253,113.2696,,,1800000,,signed",
]


def _write(tmp_path: Path, rows: list[str], *, name: str = "sites.csv", encoding: str = "utf-8") -> Path:
    p = tmp_path / name
    p.write_bytes((HEADER + "\n".join(rows) + "\n").encode(encoding))
    return p


def _read(p: Path, **kw: object) -> object:
    args: dict[str, object] = dict(formats=FORMATS, start_quarter="2027Q1", quarters=10)
    args.update(kw)
    return read_site_file(p, **args)  # type: ignore[arg-type]


def test_good_file_gbk_with_every_column(tmp_path: Path) -> None:
    sites = _read(_write(tmp_path, GOOD, encoding="gbk"))
    assert sites["site_id"].tolist() == ["S1", "S2"]  # type: ignore[index]
    assert sites["formats"].tolist() == ["flagship;standard", ""]  # type: ignore[index]
    assert sites["available_from"].tolist() == [2, 0]  # 2027Q3 is the third quarter from 2027Q1
    assert sites["status"].tolist() == ["candidate", "signed"]  # type: ignore[index]
    assert sites["capex_cny"].iloc[0] == 15e6 and np.isnan(sites["capex_cny"].iloc[1])  # type: ignore[index]


@pytest.mark.parametrize("crs, convert", [("gcj02", wgs84_to_gcj02), ("bd09", wgs84_to_bd09)])
def test_gcj02_and_bd09_are_converted_to_wgs84(tmp_path: Path, crs: str, convert: object) -> None:
    lon, lat = np.array([113.3235]), np.array([23.1318])
    clon, clat = convert(lon, lat)  # type: ignore[operator]
    p = _write(tmp_path, [f"S1,x,{clat[0]:.7f},{clon[0]:.7f},,,,,"])
    sites = _read(p, crs=crs)
    assert abs(sites["lon"].iloc[0] - lon[0]) < 2e-5 and abs(sites["lat"].iloc[0] - lat[0]) < 2e-5  # type: ignore[index]
    assert abs(clon[0] - lon[0]) > 1e-3  # the shift is real (hundreds of metres)


@pytest.mark.parametrize(
    "row, match",
    [
        ("S1,dup,23.13,113.32,,,,,", "duplicate id 'S1'"),
        ("S3,missing,,113.32,,,,,", "missing or non-numeric"),
        ("S3,text,abc,113.32,,,,,", "missing or non-numeric"),
        ("S3,paris,48.85,2.35,,,,,", "outside China"),
        ("S3,swapped,113.32,23.13,,,,,", "swapped"),
        ("S3,fmt,23.13,113.32,megastore,,,,", "line 4, column 'formats': unknown format"),
        ("S3,q,23.13,113.32,,,,2027-3,", "line 4, column 'available_from'.*not a quarter"),
        ("S3,q,23.13,113.32,,,,2030Q1,", "after the rollout's horizon"),
        ("S3,neg,23.13,113.32,,-5,,,", "line 4, column 'capex_cny'.*negative"),
        ("S3,nan,23.13,113.32,,,lots,,", "line 4, column 'opex_cny_per_year'.*not a number"),
        ("S3,st,23.13,113.32,,,,,maybe", "line 4, column 'status'"),
    ],
)
def test_bad_rows_name_file_row_and_column(tmp_path: Path, row: str, match: str) -> None:
    p = _write(tmp_path, [*GOOD, row])
    with pytest.raises(DataError, match=match) as err:
        _read(p)
    assert str(p) in str(err.value)


def test_sites_outside_the_scenarios_provinces_are_left_out_with_a_warning(tmp_path: Path, caplog) -> None:
    from planner.config import load_scenario
    from planner.geodata import load_layers
    from planner.resources import shipped_scenario

    f = tmp_path / "sites.csv"
    f.write_text("id,name,lat,lon,status\nGZ-1,广州,23.13,113.26,candidate\nBJ-1,北京,39.90,116.40,signed\n",
                 encoding="utf-8")
    sc = load_scenario(shipped_scenario("province-guangdong"),
                       overrides=["candidates.source=file", f"candidates.file={f}"])
    with caplog.at_level("WARNING"):
        layers = load_layers(sc)
    assert layers.candidates["site_id"].astype(str).tolist() == ["GZ-1"]
    assert "1 of its 2 sites lie outside grid.provinces" in caplog.text and "BJ-1" in caplog.text
