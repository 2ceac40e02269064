"""Loading a results folder: run folders, ``latest`` links and pointer files, sweeps, KPI look-ups."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from planner.errors import DataError
from planner.pipeline import write_run_folder
from planner.report.runs import as_number, expand_sweep, kpi_at, load_run, resolve_run_folder

KPIS = {"scenario": "gd", "stores": 3, "market_share": {"own": 0.25, "huawei": 0.5}, "per_province": []}


def _write(folder: Path) -> None:
    (folder / "kpis.json").write_text(json.dumps(KPIS), encoding="utf-8")
    pd.DataFrame({"store_id": ["a", "b", "c"], "province_code": ["440000"] * 3, "tier": ["1", "new1", "2"]}).to_csv(
        folder / "plan.csv", index=False
    )
    (folder / "config.resolved.yaml").write_text(yaml.safe_dump({"name": "gd", "seed": 7}), encoding="utf-8")
    (folder / "run.json").write_text(json.dumps({"seed": 7}), encoding="utf-8")
    (folder / "map.html").write_text("<html></html>", encoding="utf-8")


def test_load_a_folder_the_pipeline_wrote(tmp_path: Path) -> None:
    folder = write_run_folder(tmp_path, "gd", _write)
    run = load_run(tmp_path / "gd" / "latest")
    assert run.path == folder.resolve()
    assert run.label == "gd" and run.kpis == KPIS
    assert run.plan is not None and run.plan["province_code"].tolist() == ["440000"] * 3  # codes stay text
    assert run.plan["tier"].tolist() == ["1", "new1", "2"]
    assert run.config == {"name": "gd", "seed": 7} and run.info == {"seed": 7}
    assert run.map_html == run.path / "map.html" and run.overview_png is None
    assert load_run(tmp_path / "gd", label="base").label == "base"  # a scenario folder stands for its latest run


def test_a_latest_pointer_file_is_followed(tmp_path: Path) -> None:
    folder = write_run_folder(tmp_path, "gd", _write)
    (tmp_path / "gd" / "latest").unlink()  # as on a file system without symlinks
    (tmp_path / "gd" / "LATEST").write_text(folder.name + "\n", encoding="utf-8")
    assert resolve_run_folder(tmp_path / "gd" / "latest") == folder.resolve()
    assert resolve_run_folder(tmp_path / "gd") == folder.resolve()


def test_not_a_run_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="run folder not found"):
        load_run(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no kpis.json"):
        load_run(tmp_path / "empty")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "kpis.json").write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(DataError, match="JSON object"):
        load_run(tmp_path / "bad")


def test_a_sweep_folder_stands_for_its_finished_runs(tmp_path: Path) -> None:
    sweep = tmp_path / "sweep-1"
    sweep.mkdir()
    pd.DataFrame({"status": ["ok", "failed", "ok"], "run": ["/r/a", "", "/r/c"]}).to_csv(sweep / "summary.csv", index=False)
    (sweep / "sweep.json").write_text("{}", encoding="utf-8")
    assert expand_sweep(sweep) == ["/r/a", "/r/c"]
    assert expand_sweep(tmp_path / "run") == [tmp_path / "run"]


def test_kpi_lookup_and_numbers() -> None:
    assert kpi_at(KPIS, "market_share.own") == 0.25
    assert kpi_at(KPIS, "market_share.vivo") is None and kpi_at(KPIS, "stores.x") is None
    assert as_number(3) == 3.0 and as_number(0.5) == 0.5
    assert as_number(True) is None and as_number("1") is None and as_number(float("nan")) is None
