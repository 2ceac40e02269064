"""The travel-cost loader: a good file in both shapes, and every bad file named by file, column and row."""

from __future__ import annotations

from pathlib import Path

import h3
import pandas as pd
import pytest

from planner.errors import DataError
from planner.geodata.travel import read_travel_costs, travel_costs_for_layers
from tests.fixtures.tiny import tiny_layers

LAYERS = tiny_layers()
CELLS = list(LAYERS.cells["h3"])
RES = 9


def write(tmp_path: Path, text: str, name: str = "tt.csv") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def load(p: Path):
    return travel_costs_for_layers(p, LAYERS, resolution=RES)


def test_h3_file_in_minutes(tmp_path: Path) -> None:
    p = write(tmp_path, f"cell,site_id,minutes\n{CELLS[1]},S001,25\n{CELLS[4]},S001,6.5\n{CELLS[2]},c-{CELLS[3]},0\n")
    tc = load(p)
    assert tc.unit == "min"
    assert tc.table.to_dict("list") == {
        "h3": [CELLS[1], CELLS[4], CELLS[2]], "site_id": ["S001", "S001", f"c-{CELLS[3]}"], "cost": [25.0, 6.5, 0.0],
    }


def test_points_snap_to_grid_cells_and_parquet_in_km(tmp_path: Path) -> None:
    lat, lon = h3.cell_to_latlng(CELLS[5])
    df = pd.DataFrame({"cell_lat": [lat + 1e-5], "cell_lon": [lon - 1e-5], "site_id": ["S002"], "km": [3.2]})
    p = tmp_path / "tt.parquet"
    df.to_parquet(p)
    tc = load(p)
    assert tc.unit == "km"
    assert list(tc.table["h3"]) == [CELLS[5]]
    assert list(tc.table["cost"]) == [3.2]


@pytest.mark.parametrize(
    ("text", "expect"),
    [
        ("cell,site_id,minutes\n", "no pairs"),
        ("cell,minutes\n{c0},5\n", "missing column"),
        ("cell,site_id,minutes,km\n{c0},S001,5,3\n", "both minutes and km"),
        ("cell,site_id,cost\n{c0},S001,5\n", "neither minutes nor km"),
        ("cell,site_id,minutes\n{c0},S001,5\nnot-a-cell,S001,5\n", "line 3 ('not-a-cell')"),
        ("cell,site_id,minutes\n{c0},S001,5\n{other},S001,5\n", "outside this scenario's grid at line 3"),
        ("cell,site_id,minutes\n{c0},S001,5\n{c1},S009,5\n", "unknown site(s) at line 3 ('S009'); did you mean"),
        ("cell,site_id,minutes\n{c0},S001,\n", "missing or non-numeric values at line 2"),
        ("cell,site_id,minutes\n{c0},S001,abc\n", "line 2 ('abc')"),
        ("cell,site_id,minutes\n{c0},S001,-3\n", "negative at line 2 ('-3')"),
        ("cell,site_id,minutes\n{c0},S001,3\n{c1},S001,3\n{c0},S001,4\n", "appears more than once, at line 2, line 4"),
        ("cell,site_id,minutes\n{coarse},S001,3\n", "resolution 8"),
    ],
)
def test_bad_files_name_file_column_and_row(tmp_path: Path, text: str, expect: str) -> None:
    other = h3.latlng_to_cell(30.0, 120.0, RES)
    coarse = h3.cell_to_parent(CELLS[0], 8)
    p = write(tmp_path, text.format(c0=CELLS[0], c1=CELLS[1], other=other, coarse=coarse))
    with pytest.raises(DataError) as err:
        load(p)
    msg = str(err.value)
    assert str(p) in msg
    assert expect in msg


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not found"):
        read_travel_costs(tmp_path / "nope.csv", cells=CELLS, sites=["S001"], resolution=RES)


def test_load_layers_reads_the_scenario_file(tmp_path: Path, small_layers) -> None:  # type: ignore[no-untyped-def]
    from planner.geodata import load_layers
    from tests.geodata.conftest import SHARED_CACHE, SMALL, scenario

    cell = str(small_layers.cells["h3"].iloc[0])
    site = str(small_layers.candidates["site_id"].iloc[0])
    p = write(tmp_path, f"cell,site_id,minutes\n{cell},{site},12.5\n")
    layers = load_layers(scenario(SMALL, data={"cache_dir": str(SHARED_CACHE), "travel_costs": str(p)}))
    assert layers.travel_costs is not None and layers.travel_costs.unit == "min"
    assert layers.travel_costs.table.to_dict("records") == [{"h3": cell, "site_id": site, "cost": 12.5}]
    assert str(p) in layers.provenance["travel_costs"]
    assert small_layers.travel_costs is None  # the default scenario has none
