"""Shared fixtures for the geodata tests.

The national and admin stages are cached under ``data/cache`` (the planner's
default cache, git-ignored) so they are built once per machine and reused by
every later test run and by ``planner data build``. Tests that damage a cache
work on a copy in a temporary folder.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from planner.config.models import Scenario
from planner.geodata import Layers, load_layers

ROOT = Path(__file__).resolve().parents[2]
SHARED_CACHE = ROOT / "data" / "cache"

#: a small province (22 counties) and a two-province pair with a municipality
SMALL = ["宁夏回族自治区"]
PAIR = ["北京市", "Hainan"]


def scenario(provinces: list[str] | None = None, cache_dir: Path = SHARED_CACHE, **extra: Any) -> Scenario:
    """A default scenario restricted to some provinces (all when None)."""
    data = {"grid": {"provinces": provinces or []}, "data": {"cache_dir": str(cache_dir)}}
    for key, value in extra.items():  # ``seed=1`` or ``candidates__max_candidates=10``
        section, _, field = key.partition("__")
        if field:
            data.setdefault(section, {})[field] = value
        else:
            data[section] = value
    return Scenario.model_validate(data)


@pytest.fixture(scope="session")
def small_layers() -> Layers:
    return load_layers(scenario(SMALL))


@pytest.fixture(scope="session")
def pair_layers() -> Layers:
    return load_layers(scenario(PAIR))


@pytest.fixture(scope="session")
def admin_tables() -> dict[str, Any]:
    from planner.geodata.build import _admin, _context

    tables, _ = _admin(_context(scenario(SMALL), None))
    return tables


@pytest.fixture
def tmp_cache(tmp_path: Path, small_layers: Layers) -> Callable[[], Path]:
    """A private cache seeded with the shared settlements and admin stages (so tests stay fast)."""

    def make() -> Path:
        dest = tmp_path / "cache"
        dest.mkdir(exist_ok=True)
        for stage in SHARED_CACHE.glob("*-*"):
            if stage.name.startswith(("settlements-", "admin-")):
                shutil.copytree(stage, dest / stage.name, dirs_exist_ok=True)
        return dest

    return make


@pytest.fixture(scope="session")
def national_layers() -> Layers:
    """The default national scenario (built once into ``data/cache``, then read from it)."""
    return load_layers(scenario(None))
