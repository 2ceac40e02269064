"""Scenario loading: extends, --set, all problems at once, defaults/schema drift."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from planner.config import Scenario, defaults_yaml, load_scenario
from planner.config.load import deep_merge, parse_override
from planner.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_shipped_scenarios_validate() -> None:
    files = sorted((ROOT / "scenarios").glob("*.yaml"))
    assert len(files) >= 5
    for f in files:
        sc = load_scenario(f)
        assert isinstance(sc, Scenario)


def test_default_scenario_targets_1000() -> None:
    sc = load_scenario(ROOT / "scenarios" / "china-1000.yaml")
    assert sc.name == "china-1000"
    assert sc.constraints.total_stores == 1000
    assert sc.constraints.keep_existing is True


def test_defaults_file_matches_models() -> None:
    shipped = (ROOT / "scenarios" / "defaults.yaml").read_text(encoding="utf-8")
    assert shipped == defaults_yaml(), "scenarios/defaults.yaml drifted: run `planner schema --defaults > scenarios/defaults.yaml`"


def test_schema_forbids_unknown_keys_everywhere() -> None:
    schema = Scenario.model_json_schema()
    assert schema["additionalProperties"] is False
    for name, sub in schema["$defs"].items():
        if sub.get("type") == "object" and "properties" in sub:
            assert sub.get("additionalProperties") is False, name


def test_extends_deep_merges_and_child_wins(tmp_path: Path) -> None:
    write(tmp_path, "base.yaml", "name: base\nseed: 7\nconstraints:\n  total_stores: 500\n  keep_existing: false\n")
    child = write(tmp_path, "child.yaml", "extends: base.yaml\nconstraints:\n  total_stores: 600\n")
    sc = load_scenario(child)
    assert sc.name == "child"  # never inherits the base's name
    assert sc.seed == 7
    assert sc.constraints.total_stores == 600
    assert sc.constraints.keep_existing is False


def test_set_overrides_win_over_file(tmp_path: Path) -> None:
    f = write(tmp_path, "s.yaml", "constraints:\n  total_stores: 500\n")
    sc = load_scenario(f, overrides=["constraints.total_stores=800", "objective.kind=market_share"])
    assert sc.constraints.total_stores == 800
    assert sc.objective.kind == "market_share"


def test_partial_tier_map_keeps_other_defaults() -> None:
    sc = load_scenario(data={"objective": {"catchment_km": {1: 2.5}}})
    assert sc.objective.catchment_km["1"] == 2.5
    assert sc.objective.catchment_km["5"] == Scenario().objective.catchment_km["5"]


def test_all_problems_reported_at_once_with_lines(tmp_path: Path) -> None:
    f = write(
        tmp_path, "bad.yaml",
        "name: bad\nobjectiv:\n  kind: coverage\nconstraints:\n  total_stores: -3\nsolver:\n  time_limit_s: 0\n",
    )
    with pytest.raises(ConfigError) as info:
        load_scenario(f)
    text = str(info.value)
    assert len(info.value.problems) == 3
    assert "line 2" in text and "Did you mean `objective`" in text
    assert "line 5" in text and "constraints.total_stores" in text and "-3" in text
    assert "solver.time_limit_s" in text


def test_extends_cycle_and_missing_base(tmp_path: Path) -> None:
    a = write(tmp_path, "a.yaml", "extends: b.yaml\n")
    write(tmp_path, "b.yaml", "extends: a.yaml\n")
    with pytest.raises(ConfigError, match="cycle"):
        load_scenario(a)
    c = write(tmp_path, "c.yaml", "extends: nowhere.yaml\n")
    with pytest.raises(ConfigError, match="nowhere.yaml"):
        load_scenario(c)


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("", "empty"),
        ("- a\n- b\n", "mapping"),
        ("name: [unclosed\n", "not valid YAML"),
        ("objective:\n  kind: revenue\n", "objective.kind"),
        ("rollout:\n  attrition_pct: 150\n", "rollout.attrition_pct"),
    ],
)
def test_bad_files(tmp_path: Path, text: str, needle: str) -> None:
    f = write(tmp_path, "x.yaml", text)
    with pytest.raises(ConfigError, match=needle.replace(".", r"\.")):
        load_scenario(f)


def test_missing_file() -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_scenario("does/not/exist.yaml")


def test_parse_override_types() -> None:
    assert parse_override("a.b=800") == (["a", "b"], 800)
    assert parse_override("a=true") == (["a"], True)
    assert parse_override("a=[x, y]") == (["a"], ["x", "y"])
    with pytest.raises(ConfigError):
        parse_override("novalue")


def test_deep_merge_does_not_mutate() -> None:
    base = {"a": {"b": 1, "c": 2}}
    merged = deep_merge(base, {"a": {"b": 3}})
    assert merged == {"a": {"b": 3, "c": 2}}
    assert base == {"a": {"b": 1, "c": 2}}


def test_resolved_yaml_round_trips(tmp_path: Path) -> None:
    from planner.config import scenario_to_yaml

    sc = load_scenario(ROOT / "scenarios" / "china-1000.yaml")
    f = write(tmp_path, "resolved.yaml", scenario_to_yaml(sc))
    again = load_scenario(f)
    assert again == sc
    assert json.loads(json.dumps(yaml.safe_load(f.read_text(encoding="utf-8"))))


def test_duplicate_key_names_path_file_and_both_lines(tmp_path: Path) -> None:
    p = write(tmp_path, "dup.yaml", "name: dup\nconstraints:\n  total_stores: 800\n  keep_existing: true\n  total_stores: 900\n")
    with pytest.raises(ConfigError) as err:
        load_scenario(p)
    text = str(err.value)
    assert str(p) in text and "`constraints.total_stores`: line 3 and line 5" in text


def test_every_duplicate_is_reported_also_at_top_level_and_in_a_base(tmp_path: Path) -> None:
    write(tmp_path, "base.yaml", "seed: 1\nobjective:\n  kind: coverage\n  decay: step\n  kind: distance\n")
    child = write(tmp_path, "child.yaml", "extends: base.yaml\nseed: 2\nseed: 3\n")
    with pytest.raises(ConfigError) as err:
        load_scenario(child)
    assert "`seed`: line 2 and line 3" in str(err.value)
    fixed = write(tmp_path, "child.yaml", "extends: base.yaml\nseed: 2\n")
    with pytest.raises(ConfigError) as err:
        load_scenario(fixed)
    assert "base.yaml" in str(err.value) and "`objective.kind`: line 3 and line 5" in str(err.value)


def test_equal_keys_in_different_mappings_are_fine(tmp_path: Path) -> None:
    p = write(tmp_path, "ok.yaml", "constraints:\n  province: {default_min: 1}\n  city: {default_min: 0}\n")
    assert load_scenario(p).constraints.province.default_min == 1


def test_relative_files_are_found_from_the_cwd_else_next_to_the_scenario(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "plans" / "base").mkdir(parents=True)
    (tmp_path / "plans" / "base" / "sites.csv").write_text("id,name,lat,lon\n", encoding="utf-8")
    (tmp_path / "plans" / "base" / "base.yaml").write_text(
        "candidates: {source: both, file: sites.csv}\ndata: {city_tiers: embedded}\n", encoding="utf-8")
    (tmp_path / "plans" / "mine.yaml").write_text("extends: base/base.yaml\nnetworks: {own: {source: own.csv}}\n",
                                                  encoding="utf-8")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    sc = load_scenario(tmp_path / "plans" / "mine.yaml")
    # found next to the base that names it; a missing file stays as written (its reader names it)
    assert Path(sc.candidates.file).resolve() == (tmp_path / "plans" / "base" / "sites.csv").resolve()
    assert sc.networks.own.source == "own.csv" and sc.data.city_tiers == "embedded"
    # a file of that name in the working directory wins (the rule before scenario folders were searched)
    (elsewhere / "sites.csv").write_text("id,name,lat,lon\n", encoding="utf-8")
    assert load_scenario(tmp_path / "plans" / "mine.yaml").candidates.file == "sites.csv"


def test_defaults_yaml_names_every_assumption() -> None:
    from planner.config.load import assumption_keys

    keys = assumption_keys()
    assert {"economics.gross_margin_pct", "economics.offline_share_pct",
            "formats.catalogue.<name>.capex_cny"} <= set(keys)
    assert "economics.discount_rate_pct" in keys and "grid.h3_resolution" not in keys
    header = "".join(line for line in defaults_yaml().splitlines(keepends=True) if line.startswith("#"))
    assert "ASSUMPTIONS" in header and all(k in " ".join(header.split()) for k in keys)
