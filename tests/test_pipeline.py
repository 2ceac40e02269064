"""The pipeline on a tiny geography: run folder contents, atomic writes, determinism."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from planner.config import load_scenario
from planner.config.load import deep_merge
from planner.demand import compute_demand
from planner.errors import OutputError
from planner.instance import build_instance
from planner.pipeline import Prepared, run, write_run_folder
from tests.fixtures.tiny import tiny_layers


def prepared(**data) -> Prepared:
    base = {
        "name": "tiny",
        "objective": {"catchment_km": {"1": 3, "3": 5}},
        "constraints": {"total_stores": 4, "min_spacing_km": {"1": 0, "new1": 0, "2": 0, "3": 0, "4": 0, "5": 0}},
        "rollout": {"quarters": 2, "initial_managers": 2, "start_quarter": "2027Q1", "city_stores_before_county": 0},
        "solver": {"time_limit_s": 10},
    }
    sc = load_scenario(data=deep_merge(base, data))
    layers = tiny_layers()
    demand = compute_demand(layers, sc)
    return Prepared(scenario=sc, layers=layers, demand=demand, built=build_instance(layers, demand, sc))


def test_run_writes_complete_folder(tmp_path: Path) -> None:
    prep = prepared()
    result = run(prep.scenario, results_dir=tmp_path, prepared=prep)
    folder = result.path
    for name in ("plan.csv", "kpis.json", "rollout.csv", "config.resolved.yaml", "run.json", "map.html", "overview.png", "rollout.png"):
        assert (folder / name).is_file(), name
    plan = pd.read_csv(folder / "plan.csv", dtype={"quarter": str})
    assert list(plan.columns[:10]) == ["store_id", "status", "lat", "lon", "province", "city", "county", "tier", "format", "quarter"]
    assert len(plan) == 4
    assert (plan["status"] == "existing").sum() == 2
    assert plan.loc[plan.status == "new", "quarter"].notna().all()
    kpis = json.loads((folder / "kpis.json").read_text(encoding="utf-8"))
    assert kpis["stores"] == 4
    assert 0 < kpis["covered_share"] <= 1
    import matplotlib.image as mpimg

    img = mpimg.imread(folder / "rollout.png")
    assert img.std() > 0.05  # a chart, not a blank page
    assert (tmp_path / "tiny" / "latest").resolve() == folder.resolve()
    assert not [p for p in (tmp_path / "tiny").iterdir() if p.name.startswith(".partial")]


def test_second_run_never_overwrites_first(tmp_path: Path) -> None:
    prep = prepared()
    a = run(prep.scenario, results_dir=tmp_path, prepared=prep, write_map=False)
    b = run(prep.scenario, results_dir=tmp_path, prepared=prep, write_map=False)
    assert a.path != b.path and a.path.exists() and b.path.exists()
    assert (tmp_path / "tiny" / "latest").resolve() == b.path.resolve()
    # same scenario and seed: identical plan and kpis (timings excepted)
    assert (a.path / "plan.csv").read_bytes() == (b.path / "plan.csv").read_bytes()
    ka = json.loads((a.path / "kpis.json").read_text())
    kb = json.loads((b.path / "kpis.json").read_text())
    for k in (ka, kb):
        k.pop("solve_seconds")
    assert ka == kb


def test_failed_writer_leaves_nothing_visible(tmp_path: Path) -> None:
    def boom(folder: Path) -> None:
        (folder / "plan.csv").write_text("half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_run_folder(tmp_path, "x", boom)
    assert list((tmp_path / "x").iterdir()) == []


@pytest.mark.parametrize(("errno_", "text"), [(30, "Read-only"), (28, "No space")])
def test_read_only_or_full_disk_is_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, errno_: int, text: str) -> None:
    # root ignores permission bits, so simulate the file system's answer instead
    def fail(folder: Path) -> None:
        raise OSError(errno_, os.strerror(errno_))

    with pytest.raises(OutputError, match=text):
        write_run_folder(tmp_path, "x", fail)
    assert list((tmp_path / "x").iterdir()) == []


def test_unwritable_results_path_is_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(OutputError, match="cannot create"):
        write_run_folder(blocker, "x", lambda f: None)


def test_command_in_both_rollout_modes(tmp_path: Path) -> None:
    """Areas for every store, in two-stage and in joint mode (joint: drawn on its network, re-scheduled)."""
    for mode in ("two_stage", "joint"):
        prep = prepared(rollout={"mode": mode}, command={"min_stores_per_area": 1, "max_stores_per_area": 3})
        result = run(prep.scenario, results_dir=tmp_path / mode, prepared=prep, write_map=False)
        areas = pd.read_csv(result.path / "areas.csv", dtype=str)
        assert (result.plan["area_id"] != "").all()
        assert set(result.plan["area_id"]) == set(areas["area_id"])
        assert result.kpis["command"]["areas"] == len(areas)
        assert {"area_managers_ready", "areas", "promotions"} <= set(result.rollout.columns)


def test_a_forced_candidate_is_scheduled_and_pays_its_capex(tmp_path: Path) -> None:
    """A new store that must open (forced_sites naming a candidate; a signed lease alike) gets its
    quarter and pays its capex then, instead of counting as open before the horizon."""
    built = prepared().built
    sites, loc = built.sites, np.asarray(built.instance.site_location)
    existing = sites["existing"].to_numpy(bool)
    free = ~existing & ~np.isin(loc, loc[existing])  # not in a cell an existing store holds
    cand = str(sites.loc[free, "site_id"].iloc[-1])
    prep = prepared(constraints={"forced_sites": [cand]})
    result = run(prep.scenario, results_dir=tmp_path, prepared=prep, write_map=False)
    row = result.plan.set_index("store_id").loc[cand]
    assert row["status"] == "new" and isinstance(row["quarter"], str) and row["quarter"].startswith("2027Q")
    assert row["capex_cny"] > 0
    assert result.rollout["opened"].sum() == (result.plan["status"] == "new").sum()
    assert result.rollout["capex_cny"].sum() == pytest.approx(result.plan["capex_cny"].sum())
    # the joint rollout, choosing sites and quarters together, opens it too, within the horizon
    joint = prepared(constraints={"forced_sites": [cand]}, rollout={"mode": "joint"})
    res = run(joint.scenario, results_dir=tmp_path / "joint", prepared=joint, write_map=False)
    row = res.plan.set_index("store_id").loc[cand]
    assert row["status"] == "new" and isinstance(row["quarter"], str) and row["capex_cny"] > 0
