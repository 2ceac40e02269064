"""Files shipped inside the package: fact tables, the settlements extract, example scenarios.

The fact tables (``*.csv``, sources and licences in the repository's
``data/README.md``), the GeoNames extract of mainland-China settlements
(``settlements_cn.csv.gz``, made by ``scripts/extract_settlements.py``) and the
example scenarios (``scenarios/*.yaml``; the repository's ``scenarios/`` folder is
a link to them) are found through :mod:`importlib.resources`, so they work the
same from a checkout, an editable install and an installed wheel.
"""

from __future__ import annotations

import importlib.resources
from pathlib import Path

__all__ = ["resource_file", "scenario_dir", "shipped_scenarios", "shipped_scenario"]


def _root() -> Path:
    # pip always installs unpacked, so the package folder is a real folder
    return Path(str(importlib.resources.files(__name__)))


def resource_file(name: str) -> Path:
    """Path of a file shipped in ``planner/resources/`` (e.g. ``city_tiers.csv``)."""
    return _root() / name


def scenario_dir() -> Path:
    """The folder of the shipped example scenarios."""
    return _root() / "scenarios"


def shipped_scenarios() -> dict[str, Path]:
    """Shipped example scenarios by name (file stem), ``defaults`` excluded, sorted by name."""
    return {
        p.stem: p for p in sorted(scenario_dir().glob("*.yaml")) if p.stem != "defaults"
    }


def shipped_scenario(name: str) -> Path | None:
    """The shipped scenario called ``name`` (``china-1000`` or ``china-1000.yaml``), or None."""
    stem = name[: -len(".yaml")] if name.endswith(".yaml") else name
    path = scenario_dir() / f"{stem}.yaml"
    return path if "/" not in stem and path.is_file() else None
