"""The GeoParquet cache: keyed by inputs and config, atomic, and rebuilt when damaged."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from planner.geodata import CODE_VERSION, build_cache, cache_info, load_layers
from planner.geodata._sources import TIERS_FILE
from planner.geodata.cache import stage_key
from tests.geodata.conftest import SMALL, scenario


def _stage(cache: Path, prefix: str) -> list[Path]:
    return sorted(p for p in cache.iterdir() if p.name.startswith(prefix + "-"))


def test_build_then_load_from_cache(tmp_cache) -> None:  # type: ignore[no-untyped-def]
    cache = tmp_cache()
    sc = scenario(SMALL, cache_dir=cache)
    info = build_cache(sc)
    assert info["counts"]["cells"] > 1000 and info["stages"]["grid"]["cached"]
    assert all(s["cached"] for s in info["stages"].values())
    first = load_layers(sc)
    grid = _stage(cache, "grid")
    assert len(grid) == 1 and (grid[0] / "manifest.json").is_file()
    mtime = (grid[0] / "cells.parquet").stat().st_mtime_ns
    second = load_layers(sc)
    assert (grid[0] / "cells.parquet").stat().st_mtime_ns == mtime  # read, not rebuilt
    assert second.cache_key == first.cache_key
    pd.testing.assert_frame_equal(pd.DataFrame(first.cells.drop(columns="geometry")),
                                  pd.DataFrame(second.cells.drop(columns="geometry")))
    assert not list(cache.rglob("*.tmp")), "temporary files left behind"


def test_corrupt_file_is_detected_and_rebuilt(tmp_cache) -> None:  # type: ignore[no-untyped-def]
    cache = tmp_cache()
    sc = scenario(SMALL, cache_dir=cache)
    good = load_layers(sc)
    cells_file = _stage(cache, "grid")[0] / "cells.parquet"
    cells_file.write_bytes(cells_file.read_bytes()[: 1000])  # a truncated write
    again = load_layers(sc)
    assert len(again.cells) == len(good.cells)
    assert again.cells["population"].sum() == good.cells["population"].sum()
    pd.read_parquet(cells_file)  # the rebuilt file reads


def test_garbage_manifest_is_rebuilt(tmp_cache) -> None:  # type: ignore[no-untyped-def]
    cache = tmp_cache()
    sc = scenario(SMALL, cache_dir=cache)
    load_layers(sc)
    manifest = _stage(cache, "networks")[0] / "manifest.json"
    manifest.write_text("{not json", encoding="utf-8")
    layers = load_layers(sc)
    assert len(layers.competitors) > 0
    json.loads(manifest.read_text(encoding="utf-8"))


def test_keys_follow_config_and_code_version(tmp_cache) -> None:  # type: ignore[no-untyped-def]
    cache = tmp_cache()
    base = scenario(SMALL, cache_dir=cache)
    a = cache_info(base)["stages"]
    b = cache_info(scenario(SMALL, cache_dir=cache, seed=99))["stages"]
    c = cache_info(scenario(SMALL, cache_dir=cache, grid__h3_resolution=6))["stages"]
    d = cache_info(scenario(["Beijing"], cache_dir=cache))["stages"]
    assert a["admin"]["folder"] == b["admin"]["folder"] == c["admin"]["folder"]
    assert a["grid"]["folder"] == b["grid"]["folder"] != c["grid"]["folder"]
    assert a["networks"]["folder"] != b["networks"]["folder"]
    assert a["grid"]["folder"] != d["grid"]["folder"]
    # a new CODE_VERSION gives new keys
    assert stage_key("grid", {"x": 1}) != stage_key("grid", {"x": 1, "code_version": CODE_VERSION + "x"})


def test_input_change_changes_key(tmp_path: Path, tmp_cache) -> None:  # type: ignore[no-untyped-def]
    cache = tmp_cache()
    tiers = pd.read_csv(TIERS_FILE, dtype=str)
    tiers.loc[tiers["gb_code"] == "640100", "tier"] = "2"  # promote 银川
    path = tmp_path / "tiers.csv"
    tiers.to_csv(path, index=False)
    base = cache_info(scenario(SMALL, cache_dir=cache))
    changed = cache_info(scenario(SMALL, cache_dir=cache, data__city_tiers=str(path)))
    assert base["stages"]["admin"]["folder"] != changed["stages"]["admin"]["folder"]
    layers = load_layers(scenario(SMALL, cache_dir=cache, data__city_tiers=str(path)))
    assert layers.cities.set_index("code").loc["640100", "tier"] == "2"
    assert layers.cities.set_index("code").loc["640100", "tier_source"] == "file"
    assert (layers.cells.loc[layers.cells["city_code"] == "640100", "tier"] == "2").all()


def test_cache_info_does_not_build(tmp_path: Path) -> None:
    cache = tmp_path / "empty"
    info = cache_info(scenario(SMALL, cache_dir=cache))
    assert not any(s["cached"] for s in info["stages"].values())
    assert not cache.exists()
    assert info["code_version"] == CODE_VERSION
    assert len(info["inputs"]["census"]["sha256"]) == 64
    assert info["provinces"] == ["640000"]


def test_cache_dir_order_scenario_env_checkout_user(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from planner.geodata import cache as cache_mod

    monkeypatch.delenv(cache_mod.CACHE_ENV, raising=False)
    root = cache_mod.checkout_root()
    assert root is not None and (root / "pyproject.toml").is_file()  # the tests run from a checkout
    assert cache_mod.resolve_cache_dir(None) == root / "data" / "cache"
    monkeypatch.setattr(cache_mod, "checkout_root", lambda: None)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_mod.resolve_cache_dir(None) == tmp_path / "xdg" / "store-expansion-planner"
    monkeypatch.setenv(cache_mod.CACHE_ENV, str(tmp_path / "env-cache"))
    assert cache_mod.resolve_cache_dir(None) == tmp_path / "env-cache"
    assert cache_mod.resolve_cache_dir(str(tmp_path / "key")) == tmp_path / "key"  # the scenario key wins
