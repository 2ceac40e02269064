"""End to end through the real command line on one province (real geodata, real solver, real map)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from shapely.geometry import Point

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "scenarios" / "province-guangdong.yaml"
SETS = ["--set", "constraints.total_stores=60", "--set", "solver.time_limit_s=10", "--set", "rollout.quarters=4"]


def planner(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "planner.cli", *args], cwd=cwd, capture_output=True, text=True, timeout=900
    )


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    results = tmp_path_factory.mktemp("results")
    proc = planner("run", str(SCENARIO), *SETS, "--results", str(results), cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    return results, proc.stdout


def test_run_prints_map_path_last(run_folder: tuple[Path, str]) -> None:
    results, stdout = run_folder
    last = stdout.strip().splitlines()[-1]
    assert last.endswith("map.html") and Path(last).is_file()
    assert Path(last).parent.parent == results / "province-guangdong"


def test_plan_has_target_rows_existing_kept_inside_province(run_folder: tuple[Path, str]) -> None:
    results, _ = run_folder
    folder = results / "province-guangdong" / "latest"
    plan = pd.read_csv(folder / "plan.csv", dtype={"province_code": str, "quarter": str})
    assert len(plan) == 60
    assert plan["store_id"].is_unique
    from planner.config import load_scenario
    from planner.geodata import load_layers

    layers = load_layers(load_scenario(SCENARIO))
    assert set(layers.own_stores["store_id"]) <= set(plan.loc[plan.status == "existing", "store_id"])
    assert set(plan["province_code"]) == {"440000"}
    gd = layers.provinces.geometry.iloc[0].buffer(0.01)
    assert all(gd.contains(Point(x, y)) for x, y in zip(plan["lon"], plan["lat"], strict=True))
    # every new store has a quarter within the horizon; existing ones have none
    assert plan.loc[plan.status == "new", "quarter"].str.match(r"^\d{4}Q[1-4]$").all()
    assert plan.loc[plan.status == "existing", "quarter"].isna().all()
    kpis = json.loads((folder / "kpis.json").read_text(encoding="utf-8"))
    assert kpis["stores"] == 60 and kpis["gap"] is not None and kpis["gap"] >= 0
    assert kpis["illustrative_networks"] is True
    roll = pd.read_csv(folder / "rollout.csv")
    assert list(roll.columns) == ["quarter", "opened", "open_total", "managers_ready", "trainees", "capex_cny",
                                  "opex_cny", "objective", "covered_population", "market_share",
                                  "area_managers_ready", "areas", "promotions",
                                  "sales_cny", "ebitda_cny", "cumulative_cash_cny", "npv_to_date_cny"]
    assert roll["open_total"].iloc[-1] == 60


def test_json_output_and_exit_codes(tmp_path: Path) -> None:
    proc = planner("run", str(SCENARIO), *SETS, "--results", str(tmp_path), "--json", cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["stores"] == 60 and Path(out["map"]).is_file()
    bad = planner("run", str(SCENARIO), "--set", "constraints.total_stores=3", "--results", str(tmp_path), cwd=ROOT)
    assert bad.returncode == 4 and "total_stores" in bad.stderr and "Traceback" not in bad.stderr
    usage = planner("run", str(SCENARIO), "--no-such-option", cwd=ROOT)
    assert usage.returncode == 2  # Click's usage error, never an infeasibility
    typo = planner("run", str(SCENARIO), "--set", "constraints.totl_stores=3", "--results", str(tmp_path), cwd=ROOT)
    assert typo.returncode == 1 and "Did you mean" in typo.stderr
    # failed runs wrote nothing
    runs = [p for p in (tmp_path / "province-guangdong").iterdir() if not p.name.startswith(".") and p.name != "latest"]
    assert len(runs) == 1


def test_every_store_has_an_area_inside_its_province(run_folder: tuple[Path, str]) -> None:
    """The command on Guangdong: areas.csv, plan.csv's area_id, kpis' command, rollout's pool columns."""
    results, _ = run_folder
    folder = results / "province-guangdong" / "latest"
    plan = pd.read_csv(folder / "plan.csv", dtype=str)
    areas = pd.read_csv(folder / "areas.csv", dtype={"province_code": str, "counties": str, "centre_county": str})
    assert plan["area_id"].notna().all()
    assert set(plan["area_id"]) == set(areas["area_id"])
    counties = {a: set(str(c).split(";")) for a, c in zip(areas["area_id"], areas["counties"], strict=True)}
    assert all(row.county_code in counties[row.area_id] for row in plan.itertuples())
    assert (areas["province_code"] == "440000").all()
    every = [c for cs in counties.values() for c in cs]
    assert len(every) == len(set(every))  # no county in two areas
    sizes = plan.groupby("area_id").size()
    assert (sizes == areas.set_index("area_id")["stores"]).all()
    regular = areas["exception"].isna()
    assert areas.loc[regular, "stores"].between(6, 12).all()
    assert set(areas["manager"]) <= {"existing", "promoted", "hired"}
    kpis = json.loads((folder / "kpis.json").read_text(encoding="utf-8"))
    assert kpis["command"]["areas"] == len(areas)
    assert kpis["command"]["gap"] is None or 0 <= kpis["command"]["gap"] <= 1
    rollout = pd.read_csv(folder / "rollout.csv")
    assert {"area_managers_ready", "areas", "promotions"} <= set(rollout.columns)
    assert (rollout["areas"] <= rollout["area_managers_ready"] + 1e-6).all()
    assert rollout["areas"].iloc[-1] == len(areas)
    assert rollout["areas"].is_monotonic_increasing  # areas never disappear
