"""Scenario comparison on hand-made run folders (and, when the pipeline runs, on real ones)."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from planner.errors import DataError, OutputError
from planner.report.compare import (
    compare_runs,
    config_differences,
    kpi_table,
    province_table,
)
from planner.report.runs import load_run

ROOT = Path(__file__).resolve().parents[2]

PROVINCES = [("440000", "广东省"), ("450000", "广西壮族自治区"), ("350000", "福建省")]


def _png(path: Path, colour: str) -> None:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(1, 1))
    fig.patch.set_facecolor(colour)
    fig.savefig(path, format="png", dpi=20)


def make_run(
    results: Path,
    scenario: str,
    *,
    run_id: str = "20270101T000000Z-aaaaaa",
    stores: int = 100,
    existing: int = 25,
    covered_share: float = 0.5,
    own_share: float = 0.1,
    per_province: dict[str, tuple[int, float]] | None = None,
    kind: str = "coverage",
    config: dict[str, Any] | None = None,
    png: bool = True,
    link: bool = True,
    pnl: dict[str, Any] | None = None,
) -> Path:
    """Fabricate ``results/<scenario>/<run_id>/`` like the pipeline writes it, plus ``latest``."""
    folder = results / scenario / run_id
    folder.mkdir(parents=True)
    per_province = per_province or {"广东省": (stores, covered_share)}
    code = {name: c for c, name in PROVINCES}
    kpis = {
        "scenario": scenario, "objective_kind": kind, "objective": 1000.0 * covered_share, "bound": 1100.0 * covered_share,
        "gap": 0.1 / 1.1, "status": "feasible", "objectives": {"coverage": 1000.0 * covered_share, "market_share": 100 * own_share, "distance": 5000.0},
        "stores": stores, "existing_stores": existing, "new_stores": stores - existing, "population": 1e8,
        "covered_population": 1e8 * covered_share, "covered_share": covered_share,
        "market_share": {"own": own_share, "huawei": 0.3, "oppo": 0.3, "vivo": 0.3 - own_share},
        "capex_cny": 3e6 * (stores - existing), "opex_cny_per_year": 1.5e6 * stores,
        "mean_distance_km": 10.0 / covered_share, "p_center_km": 80.0, "illustrative_networks": True,
        "solve_seconds": 1.5,
        "per_province": [
            {"province_code": code[name], "province": name, "stores": s, "new_stores": max(s - 5, 0), "covered_share": c, "market_share": own_share}
            for name, (s, c) in per_province.items()
        ],
        "per_tier": [],
    }
    if pnl is not None:
        kpis["pnl"] = pnl
    (folder / "kpis.json").write_text(json.dumps(kpis, ensure_ascii=False), encoding="utf-8")
    rows = []
    for name, (s, _) in per_province.items():
        rows += [{"store_id": f"{code[name]}-{i}", "status": "existing" if i < 5 else "new", "lat": 23.1, "lon": 113.3,
                  "province": name, "city": "广州市", "county": "天河区", "tier": "1", "format": "standard", "quarter": ""}
                 for i in range(s)]
    pd.DataFrame(rows).to_csv(folder / "plan.csv", index=False)
    cfg = {"name": scenario, "objective": {"kind": kind}, "constraints": {"total_stores": stores}}
    if config:
        cfg.update(config)
    (folder / "config.resolved.yaml").write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    (folder / "run.json").write_text(json.dumps({"scenario": scenario}), encoding="utf-8")
    (folder / "map.html").write_text("<html>map</html>", encoding="utf-8")
    if png:
        _png(folder / "overview.png", "#3366cc")
    if link:
        latest = results / scenario / "latest"
        if latest.is_symlink():
            latest.unlink()
        os.symlink(run_id, latest, target_is_directory=True)
    return folder


@pytest.fixture
def two_runs(tmp_path: Path) -> tuple[Path, Path, Path]:
    results = tmp_path / "results"
    a = make_run(results, "base", stores=100, covered_share=0.5, own_share=0.10,
                 per_province={"广东省": (80, 0.5), "广西壮族自治区": (20, 0.3), "福建省": (0, 0.0)})
    b = make_run(results, "budget-cut", stores=80, covered_share=0.45, own_share=0.08,
                 per_province={"广东省": (60, 0.42), "广西壮族自治区": (20, 0.3)},
                 config={"constraints": {"total_stores": 80, "capex_budget_cny": 1.6e8}})
    return results, a, b


def test_report_written_with_all_parts(two_runs: tuple[Path, Path, Path]) -> None:
    results, _, _ = two_runs
    path = compare_runs([results / "base" / "latest", results / "budget-cut" / "latest"])
    assert path.name == "compare.html"
    assert path.parent.parent == results / "compare"  # results/compare/<timestamp>/
    text = path.read_text(encoding="utf-8")
    # self-contained: no external scripts, styles or images
    assert not re.search(r"""(src|href)=["']https?://""", text)
    assert "<script" not in text
    assert text.count("data:image/png;base64,") >= 4  # two overview maps + charts
    for needle in ("KPIs side by side", "Differences per province", "Maps side by side", "What differs in the scenarios",
                   "huawei market share", "own − vivo share", "p-center", "Illustrative networks"):
        assert needle in text, needle
    # relative links to each run's interactive map, pinned to the run (not `latest`)
    hrefs = re.findall(r'href="([^"]+map\.html)"', text)
    assert len(hrefs) == 2
    for h in hrefs:
        assert not h.startswith("/") and "latest" not in h
        assert (path.parent / h).resolve().is_file()
    # scenario differences name the changed keys
    assert "constraints.capex_budget_cny" in text and "constraints.total_stores" in text
    # the changed province is highlighted, the unchanged one greyed
    assert 'class="num down">-20<' in text
    assert 'class="unchanged"' in text


def test_csv_holds_raw_kpis_and_deltas(two_runs: tuple[Path, Path, Path]) -> None:
    results, _, _ = two_runs
    path = compare_runs([results / "base" / "latest", results / "budget-cut" / "latest"])
    df = pd.read_csv(path.parent / "compare.csv").set_index("kpi")
    assert float(df.loc["stores", "base"]) == 100
    assert float(df.loc["stores", "budget-cut"]) == 80
    assert float(df.loc["stores", "Δ budget-cut"]) == -20
    assert float(df.loc["covered_share", "Δ budget-cut"]) == pytest.approx(-0.05)
    assert float(df.loc["own_minus_huawei", "base"]) == pytest.approx(0.10 - 0.30)
    assert float(df.loc["capex_cny", "budget-cut"]) == pytest.approx(3e6 * 55)
    for key in ("new_stores", "objective", "bound", "gap", "covered_population", "market_share.oppo",
                "opex_cny_per_year", "mean_distance_km", "p_center_km"):
        assert key in df.index
    prov = pd.read_csv(path.parent / "provinces.csv").set_index("province")
    assert prov.loc["广东省", "Δ stores | budget-cut"] == -20
    assert prov.loc["福建省", "stores | budget-cut"] == 0  # absent province counts as 0 stores
    assert prov.loc["广东省", "changed"]
    assert not prov.loc["广西壮族自治区", "changed"]


def test_never_overwrites(two_runs: tuple[Path, Path, Path]) -> None:
    results, a, b = two_runs
    p1 = compare_runs([a, b])
    p2 = compare_runs([a, b])
    assert p1 != p2 and p1.is_file() and p2.is_file()
    out = results.parent / "report"
    p3 = compare_runs([a, b], out=out)
    assert p3 == out / "compare.html"
    with pytest.raises(OutputError, match="never overwritten"):
        compare_runs([a, b], out=out)


def test_latest_resolved_and_scenario_folder_accepted(two_runs: tuple[Path, Path, Path]) -> None:
    results, a, _ = two_runs
    newer = make_run(results, "base", run_id="20270202T000000Z-bbbbbb", stores=120, covered_share=0.6)
    assert load_run(results / "base" / "latest").path == newer
    assert load_run(results / "base").path == newer  # scenario folder stands for its latest run
    assert load_run(a).path == a


def test_same_scenario_twice_gets_distinct_labels(two_runs: tuple[Path, Path, Path]) -> None:
    results, a, _ = two_runs
    newer = make_run(results, "base", run_id="20270202T000000Z-bbbbbb", stores=120, covered_share=0.6)
    path = compare_runs([a, newer])
    cols = pd.read_csv(path.parent / "compare.csv").columns
    assert "base [aaaaaa]" in cols and "base [bbbbbb]" in cols


def test_labels_and_three_runs(two_runs: tuple[Path, Path, Path]) -> None:
    results, a, b = two_runs
    c = make_run(results, "push", stores=150, covered_share=0.7, kind="market_share", png=False)
    path = compare_runs([a, b, c], labels=["A", "B", "C"], out=results / "abc")
    text = path.read_text(encoding="utf-8")
    assert "Δ B" in text and "Δ C" in text
    assert "(no overview.png in this run)" in text
    assert "different objectives" in text
    df = pd.read_csv(path.parent / "compare.csv")
    assert list(df.columns[3:]) == ["A", "B", "C", "Δ B", "Δ C"]


def test_single_run_and_missing_extras(tmp_path: Path) -> None:
    run = make_run(tmp_path / "results", "solo", png=False)
    (run / "plan.csv").unlink()
    (run / "config.resolved.yaml").unlink()
    (run / "map.html").unlink()
    path = compare_runs([run])
    text = path.read_text(encoding="utf-8")
    assert "no map.html in this run" in text


def test_province_fallback_to_plan(tmp_path: Path) -> None:
    run = make_run(tmp_path / "results", "old", per_province={"广东省": (7, 0.2), "福建省": (3, 0.1)})
    kpis = json.loads((run / "kpis.json").read_text(encoding="utf-8"))
    del kpis["per_province"]
    (run / "kpis.json").write_text(json.dumps(kpis), encoding="utf-8")
    prov = province_table([load_run(run)]).set_index("province")
    assert prov.loc["广东省", "stores | old"] == 7 and prov.loc["福建省", "stores | old"] == 3


@pytest.mark.parametrize("case", ["missing", "not_run", "no_kpis", "bad_json", "broken_latest", "file", "empty"])
def test_errors_name_the_folder_and_what_to_do(tmp_path: Path, case: str) -> None:
    results = tmp_path / "results"
    good = make_run(results, "good")
    if case == "missing":
        bad: Path | None = tmp_path / "nope"
        expect = "not found"
    elif case == "not_run":
        bad = tmp_path / "somewhere"
        bad.mkdir()
        expect = "not a run folder"
    elif case == "no_kpis":
        bad = make_run(results, "half", link=False)
        (bad / "kpis.json").unlink()
        expect = "no kpis.json"
    elif case == "bad_json":
        bad = make_run(results, "corrupt")
        (bad / "kpis.json").write_text("{not json", encoding="utf-8")
        expect = "cannot read the KPIs"
    elif case == "broken_latest":
        make_run(results, "gone")
        shutil.rmtree(results / "gone" / "20270101T000000Z-aaaaaa")
        bad = results / "gone" / "latest"
        expect = "broken `latest` link"
    elif case == "file":
        bad = good / "kpis.json"
        expect = "is a file"
    else:
        bad = None
        expect = "no run folders"
    with pytest.raises(DataError, match=re.escape(expect)) as info:
        compare_runs([good, bad] if bad is not None else [])
    if bad is not None:
        assert str(bad) in str(info.value)
        assert "planner run" in str(info.value) or "Re-run" in str(info.value) or "folder" in str(info.value)


def test_labels_count_must_match(two_runs: tuple[Path, Path, Path]) -> None:
    _, a, b = two_runs
    with pytest.raises(DataError, match="one label per folder"):
        compare_runs([a, b], labels=["only one"])


def test_config_differences_and_kpi_table_functions(two_runs: tuple[Path, Path, Path]) -> None:
    _, a, b = two_runs
    runs = [load_run(a), load_run(b)]
    diff = config_differences(runs).set_index("key")
    assert diff.loc["constraints.total_stores", "base"] == 100
    assert diff.loc["constraints.capex_budget_cny", "base"] == "(absent)"
    t = kpi_table(runs).set_index("kpi")
    assert t.loc["gap", "unit"] == "%"


def test_public_api_compare(two_runs: tuple[Path, Path, Path]) -> None:
    import planner

    _, a, b = two_runs
    path = planner.compare(a, b, out=a.parent.parent / "api")
    assert path.is_file()


def test_cli_compare(two_runs: tuple[Path, Path, Path]) -> None:
    from typer.testing import CliRunner

    from planner.cli import app

    results, a, b = two_runs
    r = CliRunner().invoke(app, ["compare", str(results / "base" / "latest"), str(b), "--out", str(results / "cli")])
    assert r.exit_code == 0, r.output
    assert r.stdout.strip().endswith("compare.html")
    assert (results / "cli" / "compare.html").is_file()
    r = CliRunner().invoke(app, ["compare", str(a), str(results / "nope")])
    assert r.exit_code == 1
    assert "run folder not found" in r.output
    r = CliRunner().invoke(app, ["compare", str(a), str(b), "--json"])
    assert r.exit_code == 0, r.output
    info = json.loads(r.stdout)
    assert Path(info["report"]).is_file() and Path(info["csv"]).is_file()


# ------------------------------------------------------ real runs (tiny geography)
def _tiny_run(results: Path, name: str, **constraints: Any) -> Path:
    """Run the real pipeline on the tiny two-province geography of ``tests/fixtures/tiny.py``."""
    from planner.config import load_scenario
    from planner.demand import compute_demand
    from planner.instance import build_instance
    from planner.pipeline import Prepared, run
    from tests.fixtures.tiny import tiny_layers

    sc = load_scenario(data={
        "name": name,
        "objective": {"catchment_km": {"1": 3, "3": 5}},
        "constraints": {"total_stores": 4, "min_spacing_km": dict.fromkeys(["1", "new1", "2", "3", "4", "5"], 0),
                        **constraints},
        "rollout": {"quarters": 2, "initial_managers": 2, "start_quarter": "2027Q1", "city_stores_before_county": 0},
        "solver": {"time_limit_s": 10},
    })
    layers = tiny_layers()
    demand = compute_demand(layers, sc)
    prep = Prepared(scenario=sc, layers=layers, demand=demand, built=build_instance(layers, demand, sc))
    return run(sc, results_dir=results, prepared=prep).path


def test_compare_real_runs(tmp_path: Path) -> None:
    results = tmp_path / "results"
    a = _tiny_run(results, "tiny-4")
    b = _tiny_run(results, "tiny-6", total_stores=6)
    path = compare_runs([results / "tiny-4" / "latest", results / "tiny-6" / "latest"])
    assert path.parent.parent == results / "compare"
    df = pd.read_csv(path.parent / "compare.csv").set_index("kpi")
    for folder, label in ((a, "tiny-4"), (b, "tiny-6")):
        kpis = json.loads((folder / "kpis.json").read_text(encoding="utf-8"))
        assert float(df.loc["stores", label]) == kpis["stores"]
        assert float(df.loc["covered_share", label]) == pytest.approx(kpis["covered_share"])
        assert float(df.loc["market_share.own", label]) == pytest.approx(kpis["market_share"]["own"])
        assert float(df.loc["capex_cny", label]) == pytest.approx(kpis["capex_cny"])
    assert float(df.loc["stores", "Δ tiny-6"]) == 2
    text = path.read_text(encoding="utf-8")
    assert text.count("data:image/png;base64,") >= 4  # both overview.png files and the charts
    assert "constraints.total_stores" in text
    prov = pd.read_csv(path.parent / "provinces.csv")
    assert set(prov["province"]) == {"广东省", "广西壮族自治区"}
    assert prov[[c for c in prov.columns if c.startswith("Δ stores")]].to_numpy().sum() == 2


def test_city_differences(two_runs: tuple[Path, Path, Path]) -> None:
    results, a, b = two_runs
    path = compare_runs([a, b])
    text = path.read_text(encoding="utf-8")
    assert "Differences per city" in text and "1 of 2 cities gain or lose stores" in text
    cities = pd.read_csv(path.parent / "cities.csv")
    top = cities.iloc[0]
    assert (top["province"], top["city"], top["Δ stores | budget-cut"]) == ("广东省", "广州市", -20)
    assert not cities.iloc[1]["changed"]
    # runs without plan.csv: no city table, no cities.csv
    for run in (a, b):
        (run / "plan.csv").unlink()
    path = compare_runs([a, b])
    assert "Differences per city" not in path.read_text(encoding="utf-8")
    assert not (path.parent / "cities.csv").exists()


def test_pnl_rows_compare_the_profit_plan_with_the_coverage_plan(tmp_path: Path) -> None:
    results = tmp_path / "results"
    money = {"sales_cny_per_year": 9e8, "ebitda_cny_per_year": 1.2e8, "capex_cny": 2.5e8, "npv_cny": 4e7,
             "loss_making_stores": 0}
    a = make_run(results, "coverage", pnl={**money, "ebitda_cny_per_year": 0.5e8, "npv_cny": -3e7,
                                            "loss_making_stores": 12})
    b = make_run(results, "profit", kind="profit", pnl=money)
    path = compare_runs([a, b])
    df = pd.read_csv(path.parent / "compare.csv").set_index("kpi")
    assert float(df.loc["pnl.npv_cny", "profit"]) == pytest.approx(4e7)
    assert float(df.loc["pnl.npv_cny", "Δ profit"]) == pytest.approx(7e7)
    assert float(df.loc["pnl.ebitda_cny_per_year", "coverage"]) == pytest.approx(0.5e8)
    assert float(df.loc["pnl.sales_cny_per_year", "Δ profit"]) == pytest.approx(0.0)
    assert float(df.loc["pnl.capex_cny", "profit"]) == pytest.approx(2.5e8)
    assert float(df.loc["pnl.loss_making_stores", "Δ profit"]) == -12
    assert df.loc["pnl.npv_cny", "unit"] == "M CNY"
    text = path.read_text(encoding="utf-8")
    for needle in ("NPV over the rollout", "EBITDA (mature network)", "sales (mature network)"):
        assert needle in text, needle
