"""Every shipped scenario validates, the small ones run; scenarios by name, `planner scenarios`, `planner init`.

National scenarios are validated with their data (the feasibility checks run) but not solved,
to keep the suite's time down; the one-province ones are solved end to end as shipped.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import planner
from planner.cli import app, resolve_scenario
from planner.config import load_scenario
from planner.errors import EXIT_USAGE, ConfigError
from planner.resources import scenario_dir, shipped_scenario, shipped_scenarios

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = sorted(scenario_dir().glob("*.yaml"))
SMALL = [p for p in SHIPPED if load_scenario(p).grid.provinces]
runner = CliRunner()


def test_there_are_shipped_scenarios_and_some_are_small() -> None:
    assert {"china-1000", "tier1-2-only", "county-push", "budget-cut", "province-guangdong"} <= set(shipped_scenarios())
    assert "defaults" not in shipped_scenarios()  # shipped (and copied by init), but not listed as an example
    assert SMALL


def test_repository_scenarios_folder_is_the_package_copy() -> None:
    # one copy only: the checkout's scenarios/ (used by `make run` and the docs) is a link to it
    assert (ROOT / "scenarios").resolve() == scenario_dir().resolve()


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_shipped_scenario_validates_with_its_data(path: Path) -> None:
    res = runner.invoke(app, ["validate", str(path)])
    assert res.exit_code == 0, res.output
    assert "ok:" in res.output


@pytest.mark.parametrize("path", SMALL, ids=[p.stem for p in SMALL])
def test_small_shipped_scenario_runs_end_to_end(path: Path, tmp_path: Path) -> None:
    sc = load_scenario(path)
    result = planner.run(sc, results_dir=tmp_path)
    kpis = json.loads((result.path / "kpis.json").read_text(encoding="utf-8"))
    total = sc.constraints.total_stores
    if isinstance(total, int):
        assert kpis["stores"] == total
    else:  # a {min, max} range (profit): the plan's count lies inside it
        assert total.min <= kpis["stores"] <= total.max
    assert result.map_path.is_file()
    if sc.candidates.file:  # the team's own sites: their ids, their leases, their dates
        import pandas as pd

        sites = pd.read_csv(sc.candidates.file, dtype=str, keep_default_na=False)
        plan = pd.read_csv(result.path / "plan.csv", dtype=str, keep_default_na=False).set_index("store_id")
        ids = set(sites["id"])
        opened = [i for i in plan.index if i.split("#")[0] in ids]
        assert opened and all(i in ids for i in opened), opened  # the file's id, whatever the format
        assert plan.loc[opened, "format"].nunique() > 1  # formats other than the first keep the bare id too
        signed = sites[sites["status"] == "signed"]
        assert len(signed) and set(signed["id"]) <= set(plan.index)  # a signed lease opens
        for _, row in sites[sites["id"].isin(opened) & (sites["available_from"] != "")].iterrows():
            assert plan.loc[row["id"], "quarter"] >= row["available_from"], row["id"]
        assert (plan.loc[list(signed["id"]), "quarter"] != "").all()  # scheduled, not open before the horizon


def test_tier1_2_only_opens_new_stores_only_in_tier_1_2_cities() -> None:
    from planner.pipeline import prepare

    sc = load_scenario(shipped_scenario("tier1-2-only"))
    sites = prepare(sc).built.sites
    new = sites[~sites["existing"]]
    assert len(new) and set(new["tier"].astype(str)) <= {"1", "new1", "2"}
    assert set(new["format"]) == {"standard"}
    # the existing stores outside tiers 1-2 stay open: that is why no tier maximum is used
    assert (sites["existing"] & ~sites["tier"].astype(str).isin(["1", "new1", "2"])).any()
    assert sc.constraints.keep_existing and not sc.constraints.tier.max


def test_a_name_resolves_to_the_shipped_file_and_a_path_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert resolve_scenario("china-1000") == shipped_scenario("china-1000")
    assert resolve_scenario("china-1000.yaml") == shipped_scenario("china-1000")
    (tmp_path / "china-1000").write_text("name: mine\n", encoding="utf-8")
    assert resolve_scenario("china-1000") == Path("china-1000")
    with pytest.raises(ConfigError, match="not a shipped scenario .*china-1000"):
        resolve_scenario("chna-1000")


def test_run_by_name_unknown_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    res = runner.invoke(app, ["validate", "no-such-scenario", "--no-deep"])
    assert res.exit_code == 1 and "planner init" in res.output and "Traceback" not in res.output
    ok = runner.invoke(app, ["validate", "province-guangdong", "--no-deep"])
    assert ok.exit_code == 0, ok.output


def test_scenarios_lists_every_shipped_example() -> None:
    res = runner.invoke(app, ["scenarios", "--json"])
    assert res.exit_code == 0, res.output
    rows = json.loads(res.stdout)
    assert [r["name"] for r in rows] == list(shipped_scenarios())
    assert all(r["description"] for r in rows)


def test_init_copies_and_never_overwrites(tmp_path: Path) -> None:
    dest = tmp_path / "my-scenarios"
    res = runner.invoke(app, ["init", str(dest)])
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in dest.iterdir() if p.is_file()) == sorted(p.name for p in SHIPPED)
    # with the example files the scenarios name, found next to the copies from any folder
    assert (dest / "examples" / "guangdong_sites.csv").read_bytes() == (scenario_dir() / "examples" / "guangdong_sites.csv").read_bytes()
    file = load_scenario(dest / "guangdong-sites.yaml").candidates.file
    assert file is not None and Path(file).resolve() == (dest / "examples" / "guangdong_sites.csv").resolve()
    copy = dest / "budget-cut.yaml"
    assert load_scenario(copy).constraints.capex_budget_cny == load_scenario(shipped_scenario("budget-cut")).constraints.capex_budget_cny
    copy.write_text(copy.read_text(encoding="utf-8") + "seed: 7\n", encoding="utf-8")
    again = runner.invoke(app, ["init", str(dest)])
    assert again.exit_code == 1
    assert "already exists" in again.output and str(dest / SHIPPED[0].name) in again.output.replace("\n", "")
    assert copy.read_text(encoding="utf-8").endswith("seed: 7\n")  # untouched


def test_version_and_exit_codes_in_help() -> None:
    res = runner.invoke(app, ["--version"])
    assert res.exit_code == 0 and res.stdout.strip() == f"planner {planner.__version__}"
    help_text = " ".join(runner.invoke(app, ["--help"]).output.split())
    for code in ("0 ok", "1 the input needs fixing", "2 the command line is wrong", "3 internal error",
                 "4 the constraints cannot all hold", "130 interrupted"):
        assert code in help_text


def test_usage_error_is_2_and_not_an_infeasibility() -> None:
    res = runner.invoke(app, ["run", "--no-such-option"])
    assert res.exit_code == EXIT_USAGE
