"""Sweeps: grid parsing and naming, and whole sweeps on a 2-worker Dask LocalCluster with a fake runner.

The fake runner writes a run folder the way the pipeline does (through
``planner.pipeline.write_run_folder`` when it imports, else by hand) with KPIs
that are simple functions of the scenario, so the summary can be checked
exactly. It fails on purpose for one value, to show failures are reported.
Worker processes cannot import this test module, so it is pickled by value.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

import cloudpickle
import pandas as pd
import pytest

from planner.config import Scenario, load_scenario
from planner.errors import ConfigError, InfeasibleError
from planner.sweep import combo_name, expand_grid, pareto_mask, parse_grid, run_sweep

ROOT = Path(__file__).resolve().parents[1]
BASE = ROOT / "scenarios" / "province-guangdong.yaml"

cloudpickle.register_pickle_by_value(sys.modules[__name__])


def fake_runner(scenario: Scenario, results_dir: Path) -> Path:
    """Write a minimal run folder; share grows with stores, market_share runs get a bonus."""
    n = scenario.constraints.total_stores
    if n == 13:
        raise InfeasibleError("13 stores cannot satisfy the quotas (on purpose)")
    if n == 14:
        raise RuntimeError("boom (an internal error on purpose)")
    bonus = 0.02 if scenario.objective.kind == "market_share" else 0.0
    kpis = {
        "scenario": scenario.name, "objective_kind": scenario.objective.kind, "objective": float(n),
        "bound": float(n), "gap": 0.0, "stores": n, "existing_stores": 10, "new_stores": n - 10,
        "covered_population": 1000.0 * n, "covered_share": min(1.0, n / 200 - bonus),
        "market_share": {"own": n / 1000 + bonus, "huawei": 0.3, "oppo": 0.3, "vivo": 0.2},
        "capex_cny": 3e6 * (n - 10), "opex_cny_per_year": 1.5e6 * n, "mean_distance_km": 100 / n,
        "p_center_km": 50.0, "solve_seconds": 0.01, "pid": os.getpid(),
    }
    folder = Path(results_dir) / scenario.name / f"run-{os.getpid()}-{time.time_ns()}"
    folder.mkdir(parents=True)
    (folder / "kpis.json").write_text(json.dumps(kpis), encoding="utf-8")
    (folder / "map.html").write_text("<html></html>", encoding="utf-8")
    return folder


def tiny_pipeline_runner(scenario: Scenario, results_dir: Path) -> Path:
    """The real pipeline, on the tiny two-province geography instead of the national data."""
    from planner.demand import compute_demand
    from planner.instance import build_instance
    from planner.optimise.feasibility import precheck
    from planner.pipeline import Prepared, run
    from tests.fixtures.tiny import tiny_layers

    # what planner.pipeline.prepare does, with the tiny layers instead of the national data
    layers = tiny_layers()
    demand = compute_demand(layers, scenario)
    built = build_instance(layers, demand, scenario)
    prep = Prepared(scenario=scenario, layers=layers, demand=demand, built=built)
    problems = precheck(built.instance)
    if problems:
        raise InfeasibleError("The constraints cannot all hold (nothing was solved):", problems=problems)
    return run(scenario, results_dir=results_dir, prepared=prep).path


# --------------------------------------------------------------- pure parts
def test_parse_grid_reads_yaml_values() -> None:
    grid = parse_grid(["constraints.total_stores=600, 800,1000", "objective.kind=coverage,market_share",
                       "grid.provinces=[广东省],[广东省, 广西壮族自治区]", "constraints.capex_budget_cny=null,2e9"])
    assert grid["constraints.total_stores"] == [600, 800, 1000]
    assert grid["objective.kind"] == ["coverage", "market_share"]
    assert grid["grid.provinces"] == [["广东省"], ["广东省", "广西壮族自治区"]]
    assert grid["constraints.capex_budget_cny"][0] is None


@pytest.mark.parametrize("spec,msg", [
    (["total_stores"], "expected key.path=v1,v2"),
    (["=1,2"], "key path is empty"),
    (["a.b=1,,2"], "empty value"),
    (["a.b=1", "a.b=2"], "given twice"),
])
def test_parse_grid_errors(spec: list[str], msg: str) -> None:
    with pytest.raises(ConfigError, match=msg):
        parse_grid(spec)


def test_expand_grid_order_and_errors() -> None:
    combos = expand_grid({"a": [1, 2], "b": ["x", "y"]})
    assert combos == [{"a": 1, "b": "x"}, {"a": 1, "b": "y"}, {"a": 2, "b": "x"}, {"a": 2, "b": "y"}]
    with pytest.raises(ConfigError, match="empty"):
        expand_grid({})
    with pytest.raises(ConfigError, match="no values"):
        expand_grid({"a": []})
    with pytest.raises(ConfigError, match="list of values"):
        expand_grid({"a": "600"})


def test_combo_names_are_valid_scenario_names() -> None:
    name = combo_name("province-guangdong", {"constraints.total_stores": 600, "objective.kind": "coverage"})
    assert name == "province-guangdong__total_stores-600__kind-coverage"
    clash = combo_name("b", {"constraints.city.default_max": 3, "constraints.county.default_max": 1})
    assert clash == "b__constraints.city.default_max-3__constraints.county.default_max-1"
    for combo in ({"grid.provinces": ["广东省"]}, {"x.y": "a b/c"}, {"x.y": None}, {"x.y": 1.5e9},
                  {f"k{i}.v": "long-value-" * 3 for i in range(10)}):
        n = combo_name("base", combo)
        Scenario(name=n)  # the name pattern accepts it
        assert len(n) <= 120


def test_pareto_mask() -> None:
    nan = math.nan
    assert pareto_mask([1, 2, 3, 3, 2], [0.1, 0.3, 0.2, 0.4, 0.3]) == [True, True, False, True, True]
    assert pareto_mask([1, nan, 2], [0.5, 0.9, nan]) == [True, False, False]


# ------------------------------------------------------------- whole sweeps
@pytest.fixture(scope="module")
def sweep_result(tmp_path_factory: pytest.TempPathFactory) -> Any:
    results = tmp_path_factory.mktemp("sweep")
    grid = {"constraints.total_stores": [40, 13, 14, 60], "objective.kind": ["coverage", "market_share", "nonsense"]}
    seen: list[dict[str, Any]] = []
    res = run_sweep(BASE, grid, n_workers=2, results_dir=results, runner=fake_runner, progress=seen.append,
                    overrides=["solver.time_limit_s=5"])
    return res, results, seen


@pytest.mark.timeout(300)
def test_sweep_on_local_cluster(sweep_result: Any) -> None:
    res, results, seen = sweep_result
    t = res.table
    assert len(t) == 12 and len(seen) == 12  # nothing dropped, progress for every row
    assert res.path.parent == results / "province-guangdong"
    assert res.path.name.startswith("sweep-")
    for p in (res.summary_csv, res.summary_html, res.pareto_png, res.path / "sweep.json"):
        assert p.is_file()
    ok = t[t["status"] == "ok"]
    assert len(ok) == 4  # 40 and 60 stores × coverage and market_share
    assert set(ok["constraints.total_stores"]) == {40, 60}
    row = ok[(ok["constraints.total_stores"] == 60) & (ok["objective.kind"] == "market_share")].iloc[0]
    assert row["scenario"] == "province-guangdong__total_stores-60__kind-market_share"
    assert row["market_share_own"] == pytest.approx(0.08)
    assert Path(row["run"]).parent == results / row["scenario"]
    # runs really ran in worker processes, not in this one
    pids = {json.loads((Path(r) / "kpis.json").read_text())["pid"] for r in ok["run"]}
    assert os.getpid() not in pids
    # failed combinations carry their error
    failed = t.set_index("scenario")["error"]
    assert "InfeasibleError: 13 stores" in failed["province-guangdong__total_stores-13__kind-coverage"]
    assert "internal error: RuntimeError: boom" in failed["province-guangdong__total_stores-14__kind-coverage"]
    bad = failed["province-guangdong__total_stores-40__kind-nonsense"]
    assert "ConfigError" in bad and "objective.kind" in bad
    # the Pareto front: 60 stores market_share dominates nothing cheaper; 40 market_share beats 40 coverage on share
    front = set(t[t["pareto_share"]]["scenario"])
    assert front == {"province-guangdong__total_stores-40__kind-market_share",
                     "province-guangdong__total_stores-60__kind-market_share"}
    csv = pd.read_csv(res.summary_csv)
    assert len(csv) == 12 and (csv["status"] == "failed").sum() == 8
    html = res.summary_html.read_text(encoding="utf-8")
    assert "8 combination(s) failed" in html and "boom" in html
    assert 'href="../../province-guangdong__total_stores-40__kind-coverage/' in html
    assert "data:image/png;base64," in html and "http" not in html.replace("http-equiv", "")
    assert res.runs and all(p.is_dir() for p in res.runs)


def test_sweep_from_a_loaded_scenario_with_threads(tmp_path: Path) -> None:
    """A Scenario object as base and an existing (threaded) Client, as a notebook might pass."""
    from distributed import Client, LocalCluster

    sc = load_scenario(BASE, overrides=["constraints.total_stores=30"])
    with LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        res = run_sweep(sc, {"objective.kind": ["coverage", "distance"]}, scheduler=client,
                        results_dir=tmp_path, runner=fake_runner, name="mine")
        assert client.status == "running"  # a caller's client is left open
    assert res.path.parent == tmp_path / "mine"
    assert list(res.table["status"]) == ["ok", "ok"]
    assert list(res.table["stores"]) == [30, 30]


def test_sweep_bad_base_and_scheduler(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import planner.sweep as sweep_mod

    monkeypatch.setattr(sweep_mod, "CONNECT_TIMEOUT_S", 2)
    with pytest.raises(ConfigError, match="not found"):
        run_sweep(tmp_path / "missing.yaml", {"objective.kind": ["coverage"]}, runner=fake_runner)
    with pytest.raises(ConfigError, match="empty"):
        run_sweep(BASE, {}, runner=fake_runner, results_dir=tmp_path)
    with pytest.raises(ConfigError, match="n_workers must be at least 1"):
        run_sweep(BASE, {"objective.kind": ["coverage"]}, n_workers=0, runner=fake_runner, results_dir=tmp_path)
    with pytest.raises(ConfigError, match="cannot connect"):
        run_sweep(BASE, {"objective.kind": ["coverage"]}, scheduler="tcp://127.0.0.1:9", results_dir=tmp_path,
                  runner=fake_runner)


def test_all_invalid_starts_no_cluster(tmp_path: Path) -> None:
    res = run_sweep(BASE, {"constraints.total_stores": [-1, 0]}, results_dir=tmp_path, runner=fake_runner,
                    scheduler="tcp://127.0.0.1:9")  # never contacted: nothing valid to run
    assert list(res.table["status"]) == ["failed", "failed"]
    assert res.pareto_png.is_file()


def test_cli_sweep_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI end to end; the runner is swapped for the fake one and the cluster is threaded."""
    from typer.testing import CliRunner

    import planner.sweep as sweep_mod
    from planner.cli import app

    monkeypatch.setattr(sweep_mod, "_pipeline_runner", fake_runner)
    real_connect = sweep_mod._connect

    def threaded(scheduler: Any, n_workers: int) -> Any:
        from distributed import Client, LocalCluster

        cluster = LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=False, dashboard_address=None)
        return Client(cluster), cluster

    monkeypatch.setattr(sweep_mod, "_connect", threaded)
    r = CliRunner().invoke(app, ["sweep", str(BASE), "--grid", "constraints.total_stores=20,13", "--workers", "2",
                                 "--results", str(tmp_path), "--json"])
    assert r.exit_code == 1, r.output  # one combination failed
    info = json.loads(r.stdout)
    assert info["ok"] == 1 and info["failed"] == 1
    assert "13 stores" in info["errors"]["province-guangdong__total_stores-13"]
    assert Path(info["summary_html"]).is_file()
    r = CliRunner().invoke(app, ["sweep", str(BASE), "--grid", "constraints.total_stores=20", "--results", str(tmp_path),
                                 "--quiet"])
    assert r.exit_code == 0, r.output
    assert r.stdout.strip().endswith("summary.html")
    r = CliRunner().invoke(app, ["sweep", str(BASE), "--grid", "constraints.total_stores"])
    assert r.exit_code == 1 and "expected key.path=v1,v2" in r.output
    monkeypatch.setattr(sweep_mod, "_connect", real_connect)


@pytest.mark.timeout(600)
def test_sweep_real_pipeline_on_local_cluster(tmp_path: Path) -> None:
    """Real solves in 2 worker processes (tiny geography), then a comparison of two of them."""
    import planner

    base = load_scenario(data={
        "name": "tiny",
        "objective": {"catchment_km": {"1": 3, "3": 5}},
        "constraints": {"min_spacing_km": dict.fromkeys(["1", "new1", "2", "3", "4", "5"], 0)},
        "rollout": {"quarters": 2, "initial_managers": 2, "start_quarter": "2027Q1", "city_stores_before_county": 0},
        "solver": {"time_limit_s": 10},
    })
    res = run_sweep(base, {"constraints.total_stores": [1, 3, 5], "objective.kind": ["coverage", "market_share"]},
                    results_dir=tmp_path, runner=tiny_pipeline_runner, n_workers=2)
    t = res.table.set_index("scenario")
    assert len(t) == 6
    # one store cannot keep the two existing ones: reported, not dropped
    for kind in ("coverage", "market_share"):
        assert t.loc[f"tiny__total_stores-1__kind-{kind}", "status"] == "failed"
        assert "InfeasibleError" in t.loc[f"tiny__total_stores-1__kind-{kind}", "error"]
    ok = t[t["status"] == "ok"]
    assert len(ok) == 4 and set(ok["stores"]) == {3, 5}
    for scenario, row in ok.iterrows():
        folder = Path(row["run"])
        assert folder.parent == tmp_path / scenario
        for name in ("plan.csv", "kpis.json", "map.html", "overview.png", "config.resolved.yaml"):
            assert (folder / name).is_file()
        assert row["covered_share"] == json.loads((folder / "kpis.json").read_text())["covered_share"]
    # more stores never cover less here
    cov = ok[ok["objective.kind"] == "coverage"].set_index("constraints.total_stores")["covered_share"]
    assert cov[5] >= cov[3]
    report = planner.compare(*res.runs[:2], out=tmp_path / "cmp")
    assert report.is_file()


def test_misspelt_grid_key_fails_fast(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not a scenario key") as info:
        run_sweep(BASE, {"constraints.total_store": [10, 20]}, results_dir=tmp_path, runner=fake_runner,
                  scheduler="tcp://127.0.0.1:9")
    assert "Did you mean `constraints.total_stores`" in str(info.value)
    assert not (tmp_path / "province-guangdong").exists()


def test_interrupted_sweep_still_writes_summary(tmp_path: Path) -> None:
    from distributed import Client, LocalCluster

    def stop(row: dict[str, Any]) -> None:
        if row["status"] == "ok":
            raise KeyboardInterrupt

    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as cluster, \
            Client(cluster) as client, pytest.raises(KeyboardInterrupt):
        run_sweep(BASE, {"constraints.total_stores": [20, 30, 40]}, scheduler=client, results_dir=tmp_path,
                  runner=fake_runner, progress=stop)
    (summary,) = (tmp_path / "province-guangdong").glob("sweep-*/summary.csv")
    t = pd.read_csv(summary)
    assert len(t) == 3 and (t["status"] == "ok").sum() == 1
    assert t["error"].fillna("").str.contains("interrupted").sum() == 2


def test_sweep_on_an_existing_scheduler_address(tmp_path: Path) -> None:
    """``scheduler="tcp://..."`` connects to a running cluster and leaves it running."""
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None,
                      protocol="tcp") as cluster:
        address = cluster.scheduler_address
        assert address.startswith("tcp://")
        res = run_sweep(BASE, {"constraints.total_stores": [20, 30]}, scheduler=address, results_dir=tmp_path,
                        runner=fake_runner)
        assert list(res.table["status"]) == ["ok", "ok"]
        with Client(address) as again:  # the cluster is still up for the next sweep
            assert len(again.scheduler_info()["workers"]) == 2
    assert json.loads((res.path / "sweep.json").read_text())["scheduler"] == address


def test_compare_a_whole_sweep_folder(sweep_result: Any, tmp_path: Path) -> None:
    import planner

    res, _, _ = sweep_result
    report = planner.compare(res.path, out=tmp_path / "cmp")
    cols = pd.read_csv(report.parent / "compare.csv").columns
    assert sum(c.startswith("province-guangdong__") for c in cols) == 4  # the 4 finished runs
    assert sum(c.startswith("Δ province-guangdong__") for c in cols) == 3


@pytest.mark.timeout(900)
def test_cli_sweep_then_compare_on_guangdong(tmp_path: Path) -> None:
    """End to end on the real embedded data: `planner sweep` on a 2-process LocalCluster, then `planner compare`."""
    import subprocess

    planner_bin = Path(sys.executable).parent / "planner"
    small = ["--set", "solver.time_limit_s=5", "--set", "rollout.enabled=false"]
    r = subprocess.run(
        [str(planner_bin), "sweep", str(BASE), "--grid", "constraints.total_stores=40,60", *small,
         "--workers", "2", "--results", str(tmp_path), "--json"],
        capture_output=True, text=True, cwd=ROOT, timeout=840,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    info = json.loads(r.stdout)
    assert info["ok"] == 2 and info["failed"] == 0
    t = pd.read_csv(info["summary_csv"]).set_index("constraints.total_stores")
    assert list(t["stores"]) == [40, 60]
    assert t.loc[60, "covered_share"] >= t.loc[40, "covered_share"]
    for run in info["runs"]:
        for name in ("plan.csv", "kpis.json", "map.html", "overview.png", "config.resolved.yaml", "run.json"):
            assert (Path(run) / name).is_file(), name
    r = subprocess.run([str(planner_bin), "compare", *info["runs"], "--out", str(tmp_path / "cmp"), "--json"],
                       capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    report = json.loads(r.stdout)
    df = pd.read_csv(report["csv"]).set_index("kpi")
    assert float(df.loc["stores", "Δ province-guangdong__total_stores-60"]) == 20
    text = Path(report["report"]).read_text(encoding="utf-8")
    assert text.count("data:image/png;base64,") >= 4 and "广东省" in text
