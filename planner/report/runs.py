"""Load a finished run folder (``results/<scenario>/<run_id>/``) for reports.

:func:`load_run` reads what :func:`planner.pipeline.run` wrote (``kpis.json``
required; ``plan.csv``, ``config.resolved.yaml``, ``run.json``, ``overview.png``
and ``map.html`` when present) into a :class:`RunFolder`. ``latest`` links and
``LATEST`` pointer files are resolved, so a report keeps pointing at the runs it
read after newer runs move the link; a sweep folder stands for its finished runs
(:func:`expand_sweep`). :func:`kpi_at` and :func:`as_number` read one KPI out of
a ``kpis.json`` mapping for tables and charts.
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from planner.errors import DataError

__all__ = [
    "RunFolder", "as_number", "expand_sweep", "kpi_at", "load_run", "read_kpi_tables", "read_rollout",
    "resolve_run_folder",
]

log = logging.getLogger(__name__)


@dataclass
class RunFolder:
    """One finished run as the comparison sees it."""

    path: Path
    label: str
    kpis: dict[str, Any]
    plan: pd.DataFrame | None = None
    config: dict[str, Any] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)
    share: pd.DataFrame | None = None  # share.csv: shares and ranks per unit and quarter

    @property
    def overview_png(self) -> Path | None:
        p = self.path / "overview.png"
        return p if p.is_file() else None

    @property
    def map_html(self) -> Path | None:
        p = self.path / "map.html"
        return p if p.is_file() else None


def resolve_run_folder(path: str | os.PathLike[str]) -> Path:
    """The real run folder behind ``path`` (following ``latest`` links and ``LATEST`` files).

    Accepts a run folder, a ``latest`` symlink, or a scenario folder
    (``results/<scenario>``), which stands for its latest run.

    Raises
    ------
    DataError
        When the folder does not exist or holds no ``kpis.json``.
    """
    p = Path(path).expanduser()
    if not p.exists() and p.name == "latest" and (p.parent / "LATEST").is_file():
        # file systems without symlinks: the pipeline writes a pointer file instead
        p = p.parent / (p.parent / "LATEST").read_text(encoding="utf-8").strip()
    if not p.exists():
        hint = " (a broken `latest` link: its run was deleted)" if p.is_symlink() else ""
        raise DataError(
            f"{path}: run folder not found{hint}. Give a folder written by `planner run`, "
            "e.g. results/<scenario>/latest."
        )
    p = p.resolve()
    if p.is_dir() and not (p / "kpis.json").exists():
        for pointer in (p / "latest",):
            if pointer.exists():
                return resolve_run_folder(pointer)
        if (p / "LATEST").is_file():
            return resolve_run_folder(p / "latest")
    if not p.is_dir():
        raise DataError(f"{path}: is a file, not a run folder. Give the folder that holds kpis.json.")
    if not (p / "kpis.json").is_file():
        raise DataError(
            f"{path}: not a run folder (no kpis.json in {p}). Give a folder written by `planner run`, "
            "e.g. results/<scenario>/latest; a run that failed or is still being written has none."
        )
    return p


def load_run(path: str | os.PathLike[str], label: str | None = None) -> RunFolder:
    """Read one run folder (``kpis.json`` required; the other files when present).

    Raises
    ------
    DataError
        When the folder is missing, is not a run folder, or a file in it cannot be read.
    """
    folder = resolve_run_folder(path)
    kpis_path = folder / "kpis.json"
    try:
        kpis = json.loads(kpis_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DataError(f"{kpis_path}: cannot read the KPIs ({exc}). Re-run the scenario.") from None
    if not isinstance(kpis, dict):
        raise DataError(f"{kpis_path}: expected a JSON object of KPIs. Re-run the scenario.")
    plan = None
    if (folder / "plan.csv").is_file():
        try:
            plan = pd.read_csv(folder / "plan.csv", dtype={"province_code": str, "tier": str}, encoding="utf-8-sig")
        except (OSError, ValueError, pd.errors.ParserError) as exc:
            raise DataError(f"{folder / 'plan.csv'}: cannot read the plan ({exc}). Re-run the scenario.") from None
    config: dict[str, Any] = {}
    if (folder / "config.resolved.yaml").is_file():
        try:
            config = yaml.safe_load((folder / "config.resolved.yaml").read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            log.warning("%s: config.resolved.yaml unreadable (%s); scenario differences skipped", folder, exc)
    info: dict[str, Any] = {}
    if (folder / "run.json").is_file():
        try:
            info = json.loads((folder / "run.json").read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            log.warning("%s: run.json unreadable (%s)", folder, exc)
    share = None
    if (folder / "share.csv").is_file():
        try:
            share = pd.read_csv(folder / "share.csv", dtype={"code": str, "quarter": str})
        except (OSError, ValueError, pd.errors.ParserError) as exc:
            log.warning("%s: share.csv unreadable (%s); rank changes skipped", folder, exc)
    name = label or kpis.get("scenario") or config.get("name") or folder.parent.name
    return RunFolder(path=folder, label=str(name), kpis=kpis, plan=plan, config=config, info=info, share=share)


#: columns read as text in the KPI tables (codes keep their digits, tiers stay labels)
_TEXT_COLUMNS = {"province_code": str, "city_code": str, "county_code": str, "tier": str, "scenario": str}


def read_kpi_tables(folder: Path) -> dict[str, pd.DataFrame]:
    """The ``kpis_<level>.csv`` tables of a run folder (level -> table; levels without a file are left out).

    Raises
    ------
    DataError
        When a table exists but cannot be read.
    """
    out: dict[str, pd.DataFrame] = {}
    for p in sorted(Path(folder).glob("kpis_*.csv")):
        try:
            out[p.stem.removeprefix("kpis_")] = pd.read_csv(p, dtype=_TEXT_COLUMNS, encoding="utf-8-sig")
        except (OSError, ValueError, pd.errors.ParserError) as exc:
            raise DataError(f"{p}: cannot read the KPI table ({exc}). Re-run the scenario.") from None
    return out


def read_rollout(folder: Path) -> pd.DataFrame | None:
    """``rollout.csv`` of a run folder, or None when the run scheduled no rollout."""
    p = Path(folder) / "rollout.csv"
    if not p.is_file():
        return None
    try:
        return pd.read_csv(p, dtype={"quarter": str}, encoding="utf-8-sig")
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise DataError(f"{p}: cannot read the rollout ({exc}). Re-run the scenario.") from None


def expand_sweep(path: str | os.PathLike[str]) -> list[str | os.PathLike[str]]:
    """A sweep folder (``summary.csv`` + ``sweep.json``) stands for its finished runs, in grid order."""
    p = Path(path)
    if not ((p / "summary.csv").is_file() and (p / "sweep.json").is_file() and not (p / "kpis.json").exists()):
        return [path]
    try:
        table = pd.read_csv(p / "summary.csv")
        runs = [str(r) for r in table.loc[table["status"] == "ok", "run"]]
    except (OSError, KeyError, ValueError, pd.errors.ParserError) as exc:
        raise DataError(f"{p / 'summary.csv'}: cannot read the sweep summary ({exc}).") from None
    if not runs:
        raise DataError(f"{p}: a sweep with no finished runs; see its summary.csv for the errors.")
    return list(runs)


def kpi_at(kpis: Mapping[str, Any], path: str) -> Any:
    """The KPI at a dotted ``path`` (``"market_share.own"``) of a ``kpis.json`` mapping, or None."""
    node: Any = kpis
    for part in path.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def as_number(x: Any) -> float | None:
    """``x`` as a float when it is a number (not a bool, not NaN), else None."""
    if isinstance(x, bool) or not isinstance(x, int | float):
        return None
    return None if math.isnan(x) else float(x)

