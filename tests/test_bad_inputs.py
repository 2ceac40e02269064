"""Table-driven bad inputs: each gets a clear message (file, key or row, what to do), exit code 1
(or 4 for infeasible constraints), no traceback, and nothing written.

Fixtures live in ``tests/data/bad/``; good variants (BOM, GBK) in ``tests/data/good/``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from planner.cli import app
from planner.errors import EXIT_INFEASIBLE, DataError
from planner.geodata import read_store_file

BAD = Path(__file__).parent / "data" / "bad"
GOOD = Path(__file__).parent / "data" / "good"
ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()

YAML_CASES = [
    ("not_yaml.yaml", "not valid YAML"),
    ("tab_indent.yaml", "not valid YAML"),
    ("empty.yaml", "empty"),
    ("top_list.yaml", "mapping"),
    ("top_scalar.yaml", "mapping"),
    ("unknown_key.yaml", "Did you mean `objective`"),
    ("misspelt_nested.yaml", "Did you mean `constraints.total_stores`"),
    ("wrong_type.yaml", "constraints.total_stores"),
    ("negative_total.yaml", "greater than or equal to 1"),
    ("zero_time_limit.yaml", "solver.time_limit_s"),
    ("pct_over_100.yaml", "less than or equal to 100"),
    ("extends_missing.yaml", "no_such_base.yaml"),
    ("extends_cycle_a.yaml", "cycle"),
    ("unknown_objective.yaml", "'coverage', 'market_share', 'distance' or 'profit'"),
    ("unknown_tier.yaml", "unknown city tier"),
    ("negative_radius.yaml", "must be > 0 km"),
    ("bad_quarter.yaml", "rollout.start_quarter"),
    ("min_over_max.yaml", "exceeds its max"),
    ("unsafe_name.yaml", "key `name`"),
    ("unknown_crs.yaml", "networks.own.crs"),
    ("not_utf8.yaml", "not UTF-8"),
    ("float_seed.yaml", "key `seed`"),
    ("resolution_out_of_range.yaml", "grid.h3_resolution"),
    ("duplicate_key.yaml", "`constraints.total_stores`: line 4 and line 6"),
]


@pytest.mark.parametrize(("fixture", "needle"), YAML_CASES, ids=[c[0] for c in YAML_CASES])
def test_bad_scenario_files(fixture: str, needle: str, tmp_path: Path) -> None:
    before = set(tmp_path.iterdir())
    res = runner.invoke(app, ["validate", str(BAD / fixture), "--no-deep"])
    assert res.exit_code == 1, res.output
    assert needle in res.output
    assert str(BAD / fixture) in res.output or fixture in res.output
    assert "Traceback" not in res.output
    assert set(tmp_path.iterdir()) == before


def test_missing_scenario_file() -> None:
    res = runner.invoke(app, ["validate", "nowhere/scenario.yaml", "--no-deep"])
    assert res.exit_code == 1 and "not found" in res.output and "Traceback" not in res.output


def test_bad_override_value() -> None:
    res = runner.invoke(app, ["validate", str(ROOT / "scenarios/china-1000.yaml"), "--no-deep",
                              "--set", "objective.kind=revenue"])
    assert res.exit_code == 1 and "objective.kind" in res.output and "revenue" in res.output


STORE_CASES = [
    ("stores_empty.csv", "empty"),
    ("stores_header_only.csv", "no stores"),
    ("stores_missing_lat.csv", "lat"),
    ("stores_duplicate_ids.csv", "A1"),
    ("stores_non_numeric.csv", "line 2"),
    ("stores_nan_coords.csv", "line 2"),
    ("stores_swapped.csv", "swapped"),
    ("stores_outside_china.csv", "outside"),
    ("stores_lat_out_of_range.csv", "line 2"),
    ("stores_empty_geometry.geojson", "geometr"),
    ("stores_invalid_geometry.geojson", "stores_invalid_geometry.geojson"),
    ("stores_binary.csv", "stores_binary.csv"),
    ("does_not_exist.csv", "not found"),
]


@pytest.mark.parametrize(("fixture", "needle"), STORE_CASES, ids=[c[0] for c in STORE_CASES])
def test_bad_store_files(fixture: str, needle: str) -> None:
    with pytest.raises(DataError) as info:
        read_store_file(BAD / fixture, role="own stores")
    text = str(info.value)
    assert needle.lower() in text.lower(), text
    assert fixture in text


@pytest.mark.parametrize("fixture", ["stores_utf8.csv", "stores_bom.csv", "stores_gbk.csv"])
def test_encodings_read_correctly(fixture: str) -> None:
    stores = read_store_file(GOOD / fixture)
    assert list(stores["store_id"]) == ["G1", "G2"]
    assert stores["name"].iloc[0] == "广州天河店"
    assert stores["format"].iloc[1] == "flagship"


def test_bad_store_file_through_the_cli(tmp_path: Path) -> None:
    res = runner.invoke(app, ["validate", str(ROOT / "scenarios/province-guangdong.yaml"),
                              "--set", f"networks.own.source={BAD / 'stores_swapped.csv'}"])
    assert res.exit_code == 1, res.output
    assert "swapped" in res.output and "Traceback" not in res.output


@pytest.mark.parametrize("fixture", ["county_pop_unknown_code.csv", "county_pop_negative.csv"])
def test_bad_county_population_files(fixture: str) -> None:
    res = runner.invoke(app, ["validate", str(ROOT / "scenarios/province-guangdong.yaml"),
                              "--set", f"data.county_population={BAD / fixture}"])
    assert res.exit_code == 1, res.output
    assert fixture in res.output and "Traceback" not in res.output


INFEASIBLE = [
    (["constraints.total_stores=5"], "total_stores"),
    (["constraints.total_stores=30", "constraints.city.default_min=2"], "constraints.city"),
    (["constraints.capex_budget_cny=1000"], "capex_budget_cny"),
    (["candidates.min_cell_population=1e12", "candidates.include_county_seats=false",
      "constraints.total_stores=25", "constraints.county.min={440882: 1}"], "constraints.county.min.440882"),
]


@pytest.mark.parametrize(("sets", "needle"), INFEASIBLE, ids=["existing>total", "quota-sum", "budget", "no-candidates"])
def test_infeasible_explained_before_solving(sets: list[str], needle: str) -> None:
    args = ["validate", str(ROOT / "scenarios/province-guangdong.yaml")]
    for s in sets:
        args += ["--set", s]
    res = runner.invoke(app, args)
    assert res.exit_code == EXIT_INFEASIBLE, res.output
    assert needle in res.output and "Traceback" not in res.output
