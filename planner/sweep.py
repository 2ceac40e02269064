"""Scenario sweeps: every combination of a grid of overrides, solved on Dask ``distributed``.

:func:`run_sweep` expands a grid such as ``{"constraints.total_stores": [600, 800],
"objective.kind": ["coverage", "market_share"]}`` into one scenario per
combination (the base scenario plus ``key=value`` overrides, exactly as
``planner run --set`` would apply them), validates them all in the calling
process, then solves each as an ordinary run on a Dask cluster: a
``LocalCluster`` of worker processes by default, or an existing scheduler given
by address. Each combination writes its own run folder under a suffixed scenario
name (``<base>__total_stores-600__kind-coverage``), so runs never clash and
``planner compare`` works on them. A combination that fails (invalid values,
infeasible constraints, a crash, a lost worker) becomes a row with its error
message; nothing is dropped. The sweep writes ``summary.csv``, ``summary.html``
and ``pareto.png`` to ``<results>/<name>/sweep-<timestamp>/``, each atomically and
``sweep.json`` last; the chart and the page come from :mod:`planner.report`.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import math
import os
import re
import time
import traceback
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from planner.atomic import unique_folder, write_bytes_atomic, write_text_atomic
from planner.config.load import load_scenario
from planner.config.models import Scenario
from planner.errors import ConfigError, OutputError, PlannerError
from planner.report.compare import sweep_summary_html
from planner.report.figures import pareto_chart_png

__all__ = ["SweepResult", "run_sweep", "parse_grid", "expand_grid", "combo_name", "pareto_mask"]

log = logging.getLogger(__name__)

Runner = Callable[[Scenario, Path], Path]
"""``runner(scenario, results_dir) -> run folder``; the default calls :func:`planner.pipeline.run`."""

CONNECT_TIMEOUT_S = 20
"""How long to try reaching a ``--scheduler`` address before giving up (s)."""

_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")
_MAX_NAME = 120

# Columns of summary.csv after the grid columns (KPIs copied from each run's kpis.json)
SUMMARY_KPIS = [
    "stores", "existing_stores", "new_stores", "objective_kind", "objective", "bound", "gap",
    "covered_population", "covered_share", "capex_cny", "opex_cny_per_year", "mean_distance_km", "p_center_km",
]


@dataclass
class SweepResult:
    """What a sweep produced.

    Attributes
    ----------
    path
        The sweep folder ``<results>/<name>/sweep-<timestamp>/``.
    summary_csv, summary_html, pareto_png
        Files in that folder.
    table
        One row per combination (the content of ``summary.csv``): the grid values,
        ``status`` (``ok`` or ``failed``), ``error``, ``run`` (the run folder) and the KPIs.
    """

    path: Path
    summary_csv: Path
    summary_html: Path
    pareto_png: Path
    table: pd.DataFrame
    grid: dict[str, list[Any]] = field(default_factory=dict)

    @property
    def ok(self) -> pd.DataFrame:
        """Rows of the combinations that ran."""
        return self.table[self.table["status"] == "ok"]

    @property
    def failed(self) -> pd.DataFrame:
        """Rows of the combinations that failed, with their ``error``."""
        return self.table[self.table["status"] != "ok"]

    @property
    def runs(self) -> list[Path]:
        """Run folders of the combinations that ran (for :func:`planner.compare`)."""
        return [Path(p) for p in self.ok["run"]]


# ------------------------------------------------------------------- the grid
def _split_values(raw: str) -> list[str]:
    """Split ``a,b,[c, d]`` on top-level commas (commas inside [] or {} belong to one value)."""
    parts: list[str] = []
    cur: list[str] = []
    depth = 0
    for ch in raw:
        if ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return [p.strip() for p in parts]


def parse_grid(specs: Iterable[str]) -> dict[str, list[Any]]:
    """Parse ``--grid key.path=v1,v2,...`` strings; each value is read as YAML (``600`` → int).

    Raises
    ------
    ConfigError
        For a spec without ``=``, an empty key or value, or a key given twice.
    """
    grid: dict[str, list[Any]] = {}
    for spec in specs:
        if "=" not in spec:
            raise ConfigError(f"--grid {spec!r}: expected key.path=v1,v2,..., e.g. constraints.total_stores=600,800.")
        key, _, raw = spec.partition("=")
        key = key.strip()
        if not key:
            raise ConfigError(f"--grid {spec!r}: the key path is empty.")
        if key in grid:
            raise ConfigError(f"--grid {key}: given twice; put all its values in one --grid {key}=v1,v2.")
        values = []
        for text in _split_values(raw):
            if not text:
                raise ConfigError(f"--grid {spec!r}: an empty value; separate values with single commas.")
            try:
                values.append(yaml.safe_load(text))
            except yaml.YAMLError:
                values.append(text)
        grid[key] = values
    return grid


def expand_grid(grid: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """Every combination of the grid, in order (the last key varies fastest)."""
    if not grid:
        raise ConfigError("sweep: the grid is empty. Give at least one key with values, e.g. "
                          "--grid constraints.total_stores=600,800.")
    for key, values in grid.items():
        if isinstance(values, str | bytes) or not isinstance(values, Sequence):
            raise ConfigError(f"sweep: grid key {key!r} needs a list of values, got {values!r}.")
        if len(values) == 0:
            raise ConfigError(f"sweep: grid key {key!r} has no values.")
    keys = list(grid)
    return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*(grid[k] for k in keys))]


def _short_keys(keys: Sequence[str]) -> dict[str, str]:
    """The last part of each key path, or the whole path where last parts clash."""
    last = [k.split(".")[-1] for k in keys]
    return {k: (s if last.count(s) == 1 else k) for k, s in zip(keys, last, strict=True)}


def _value_text(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    safe = _NAME_UNSAFE.sub("_", str(text)).strip("_")
    if not safe or safe != str(text).strip() and not any(c.isalnum() for c in safe):
        safe = hashlib.sha1(str(text).encode()).hexdigest()[:6]
    return safe


def combo_name(base: str, combo: Mapping[str, Any]) -> str:
    """Folder-safe scenario name of one combination: ``<base>__total_stores-600__kind-coverage``.

    ``=`` is not allowed in scenario names, so key and value are joined by ``-``;
    characters outside ``[A-Za-z0-9_.-]`` become ``_``; very long names are
    shortened with a hash so folder names stay valid.
    """
    short = _short_keys(list(combo))
    name = base + "".join(f"__{short[k]}-{_value_text(v)}" for k, v in combo.items())
    if len(name) > _MAX_NAME:
        digest = hashlib.sha1(name.encode()).hexdigest()[:8]
        name = name[: _MAX_NAME - 10].rstrip("_.-") + "__" + digest
    return name


def _override(key: str, value: Any) -> str:
    # JSON is valid YAML flow syntax, so the value survives parse_override's YAML read exactly
    return f"{key}={json.dumps(value, ensure_ascii=False)}"


# --------------------------------------------------------------- on a worker
def _pipeline_runner(scenario: Scenario, results_dir: Path) -> Path:
    """Default runner: an ordinary :func:`planner.pipeline.run` (map included)."""
    from planner.pipeline import run

    return run(scenario, results_dir=results_dir).path


def _run_combo(scenario: Scenario, results_dir: Path, runner: Runner) -> dict[str, Any]:
    """Solve one combination on a worker; never raises (errors become the row's ``error``)."""
    t0 = time.perf_counter()
    try:
        path = Path(runner(scenario, results_dir))
        kpis = json.loads((path / "kpis.json").read_text(encoding="utf-8"))
        row: dict[str, Any] = {"status": "ok", "error": "", "run": str(path)}
        row.update({k: kpis.get(k) for k in SUMMARY_KPIS})
        for brand, share in (kpis.get("market_share") or {}).items():
            row[f"market_share_{brand}"] = share
        row["solve_seconds"] = kpis.get("solve_seconds")
    except PlannerError as exc:
        row = {"status": "failed", "error": f"{type(exc).__name__}: {exc}"}
    except Exception as exc:  # our bug: keep the traceback in the log of the worker
        log.exception("sweep: %s crashed", scenario.name)
        tb = traceback.format_exception_only(type(exc), exc)[-1].strip()
        row = {"status": "failed", "error": f"internal error: {tb}"}
    row["wall_s"] = round(time.perf_counter() - t0, 3)
    return row


# ------------------------------------------------------------------- Pareto
def pareto_mask(cost: Sequence[float], value: Sequence[float]) -> list[bool]:
    """True for points no other point beats (cost ≤, value ≥, one of them strictly).

    NaN points are never on the front.
    """
    pts = list(zip(cost, value, strict=True))
    out = []
    for i, (c, v) in enumerate(pts):
        if c is None or v is None or math.isnan(c) or math.isnan(v):
            out.append(False)
            continue
        dominated = any(
            j != i and not (math.isnan(c2) or math.isnan(v2)) and c2 <= c and v2 >= v and (c2 < c or v2 > v)
            for j, (c2, v2) in enumerate(pts) if c2 is not None and v2 is not None
        )
        out.append(not dominated)
    return out


# ------------------------------------------------------------------ outputs
def _connect(scheduler: Any, n_workers: int) -> tuple[Any, Any]:
    """A Dask client (and the LocalCluster it owns, if any)."""
    from distributed import Client, LocalCluster

    if scheduler is not None and not isinstance(scheduler, str):
        return scheduler, None  # an existing Client, owned by the caller
    if scheduler:
        try:
            return Client(scheduler, timeout=f"{CONNECT_TIMEOUT_S}s"), None
        except (OSError, TimeoutError) as exc:
            raise ConfigError(
                f"--scheduler {scheduler}: cannot connect ({exc}). Check the address (tcp://host:8786) "
                "and that `dask scheduler` is running, or leave --scheduler out for a local cluster."
            ) from None
    cluster = LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                           dashboard_address=None, silence_logs=logging.WARNING)
    return Client(cluster), cluster


def run_sweep(
    base: str | os.PathLike[str] | Scenario,
    grid: Mapping[str, Sequence[Any]],
    *,
    scheduler: Any = None,
    n_workers: int = 2,
    results_dir: str | os.PathLike[str] | None = None,
    name: str | None = None,
    overrides: Iterable[str] = (),
    runner: Runner | None = None,
    progress: Callable[[dict[str, Any]], None] | None = None,
) -> SweepResult:
    """Solve every combination of ``grid`` on Dask and summarise them.

    Parameters
    ----------
    base
        A scenario YAML file, or a :class:`~planner.config.models.Scenario` already loaded
        (e.g. with ``overrides`` from a notebook).
    grid
        Key path → list of values, e.g. ``{"constraints.total_stores": [600, 800, 1000],
        "objective.kind": ["coverage", "market_share"]}``. Values are applied like
        ``--set key=value`` on top of ``base`` and ``overrides``.
    scheduler
        ``None`` for a ``LocalCluster(n_workers, threads_per_worker=1, processes=True)``
        started and stopped here; a ``"tcp://host:port"`` address of a running Dask
        scheduler (its workers need the planner installed and ``results_dir`` on a shared
        file system); or a ``distributed.Client`` the caller owns.
    n_workers
        Worker processes of the local cluster (ignored with ``scheduler``).
    results_dir
        Where runs and the sweep folder go (default: the base scenario's ``output.results_dir``).
    name
        Sweep name (default: the base scenario's name): the summary goes to
        ``<results_dir>/<name>/sweep-<timestamp>/``.
    overrides
        ``key.path=value`` strings applied to every combination (before the grid values).
    runner
        ``runner(scenario, results_dir) -> run folder`` (default: :func:`planner.pipeline.run`);
        must be picklable. For tests and custom pipelines.
    progress
        Called in this process with each finished combination's row.

    Returns
    -------
    SweepResult
        Paths of ``summary.csv``, ``summary.html``, ``pareto.png`` and the table. Failed
        combinations are rows with ``status == "failed"`` and their ``error``.

    Raises
    ------
    ConfigError
        When the grid is empty or malformed, the base scenario is invalid, or the
        scheduler cannot be reached. Invalid *combinations* do not raise: they are
        reported as failed rows.
    """
    overrides = list(overrides)
    if n_workers < 1:
        raise ConfigError(f"sweep: n_workers must be at least 1, got {n_workers}.")
    if isinstance(base, Scenario):
        base_sc = load_scenario(data=base.model_dump(mode="json"), overrides=overrides)

        def load(extra: list[str]) -> Scenario:
            return load_scenario(data=base.model_dump(mode="json"), overrides=[*overrides, *extra])
    else:
        base_path = Path(base)
        base_sc = load_scenario(base_path, overrides=overrides)

        def load(extra: list[str]) -> Scenario:
            return load_scenario(base_path, overrides=[*overrides, *extra])

    combos = expand_grid(grid)  # validates the grid's shape
    grid_lists: dict[str, list[Any]] = {str(k): list(v) for k, v in grid.items()}
    keys = list(grid_lists)
    sweep_name = name or base_sc.name
    results = Path(results_dir or base_sc.output.results_dir).resolve()
    started = datetime.now(UTC)

    for key in keys:  # a misspelt key would fail every combination: say so once, up front
        try:
            load([_override(key, grid_lists[key][0])])
        except ConfigError as exc:
            unknown = [p for p in exc.problems if "unknown key" in p]
            if unknown:
                raise ConfigError(f"--grid {key}: not a scenario key.", problems=unknown) from None

    rows: list[dict[str, Any]] = []
    todo: list[tuple[int, Scenario]] = []
    names_seen: set[str] = set()
    for i, combo in enumerate(combos):
        run_name = combo_name(base_sc.name, combo)
        if run_name in names_seen:  # two values that sanitise alike
            run_name = f"{run_name}__{i}"
        names_seen.add(run_name)
        row: dict[str, Any] = {"combo": i, **combo, "scenario": run_name, "status": "pending", "error": "", "run": ""}
        rows.append(row)
        try:
            sc = load([*(_override(k, v) for k, v in combo.items()), _override("name", run_name)])
        except PlannerError as exc:
            row.update(status="failed", error=f"{type(exc).__name__}: {exc}")
            log.warning("sweep: combination %d (%s) is invalid: %s", i, run_name, exc)
            if progress:
                progress(dict(row))
            continue
        todo.append((i, sc))
    log.info("sweep %s: %d combinations, %d valid", sweep_name, len(combos), len(todo))

    interrupted = False
    if todo:
        from distributed import as_completed

        client, cluster = _connect(scheduler, n_workers)
        try:
            run_fn = runner or _pipeline_runner
            futures = {
                client.submit(_run_combo, sc, results, run_fn, pure=False, key=f"sweep-{sc.name}-{i}-{os.getpid()}-{time.time_ns()}"): i
                for i, sc in todo
            }
            for fut in as_completed(futures):
                i = futures[fut]
                try:
                    outcome = fut.result()
                except Exception as exc:  # the worker died or the task could not run
                    outcome = {"status": "failed", "error": f"worker failure: {type(exc).__name__}: {exc}"}
                rows[i].update(outcome)
                if outcome["status"] != "ok":
                    log.warning("sweep: %s failed: %s", rows[i]["scenario"], outcome["error"])
                else:
                    log.info("sweep: %s done in %.1f s", rows[i]["scenario"], outcome.get("wall_s", 0))
                if progress:
                    progress(dict(rows[i]))
        except KeyboardInterrupt:
            # keep what finished: the summary is still written, unfinished rows say why
            interrupted = True
            for fut in futures:
                fut.cancel()
            for row in rows:
                if row["status"] == "pending":
                    row.update(status="failed", error="cancelled: the sweep was interrupted (Ctrl-C)")
        finally:
            if cluster is not None:
                client.close()
                cluster.close()
            elif isinstance(scheduler, str):
                client.close()

    table = pd.DataFrame.from_records(rows)
    for col in ("stores", "market_share_own", "covered_share"):
        if col not in table:
            table[col] = float("nan")
    stores = pd.to_numeric(table["stores"], errors="coerce").where(table["status"] == "ok").tolist()
    table["pareto_share"] = pareto_mask(stores, pd.to_numeric(table["market_share_own"], errors="coerce").tolist())
    table["pareto_covered"] = pareto_mask(stores, pd.to_numeric(table["covered_share"], errors="coerce").tolist())

    folder = unique_folder(results / sweep_name, "sweep-" + started.strftime("%Y%m%dT%H%M%SZ"))
    short = _short_keys(keys)
    png = pareto_chart_png(table, keys, short)
    pareto_png = folder / "pareto.png"
    summary_csv = folder / "summary.csv"
    summary_html = folder / "summary.html"
    title = f"Sweep of {base_sc.name}: " + " × ".join(f"{k} ({len(grid_lists[k])})" for k in keys)
    try:
        write_bytes_atomic(pareto_png, png)
        write_text_atomic(summary_csv, table.to_csv(index=False))
        write_text_atomic(summary_html, sweep_summary_html(table, keys, short, folder, png, title))
        # last: a sweep folder counts as one (for `planner compare`) once sweep.json is there
        write_text_atomic(folder / "sweep.json", json.dumps({
            "base": base_sc.name, "grid": grid_lists, "overrides": overrides, "started": started.isoformat(),
            "finished": datetime.now(UTC).isoformat(), "scheduler": scheduler if isinstance(scheduler, str) else
            ("client" if scheduler is not None else f"LocalCluster({n_workers})"),
        }, ensure_ascii=False, indent=2, default=str) + "\n")
    except OSError as exc:
        raise OutputError(
            f"{folder}: cannot write the sweep summary ({exc.strerror or exc}). Check disk space and permissions; "
            "the runs themselves are written."
        ) from None
    n_failed = int((table["status"] != "ok").sum())
    log.info("sweep %s: %d ok, %d failed → %s", sweep_name, len(table) - n_failed, n_failed, folder)
    if interrupted:
        log.warning("sweep interrupted: finished runs are summarised in %s", summary_csv)
        raise KeyboardInterrupt
    return SweepResult(path=folder, summary_csv=summary_csv, summary_html=summary_html, pareto_png=pareto_png,
                       table=table, grid=grid_lists)
