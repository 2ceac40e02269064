"""The GeoParquet cache of derived layers.

A *stage* (settlements, admin, grid, networks) is a folder
``<cache_dir>/<stage>-<key>/`` holding one Parquet file per table and a
``manifest.json`` written last. The key is a SHA-256 over the stage's inputs:
file contents, the config values it depends on and ``CODE_VERSION``; change any
and the stage gets a new folder. Every file is written to a temporary name and
moved into place with ``os.replace``, so a reader never sees half a file. A
folder without a manifest, or with a file that fails to read, is rebuilt.

Where the cache lives (:func:`resolve_cache_dir`): the scenario's
``data.cache_dir`` when set, else ``$PLANNER_CACHE_DIR``, else ``data/cache`` of
the source checkout the package is imported from (``make run``, the tests), else
the user's cache folder (``platformdirs``: ``$XDG_CACHE_HOME`` or
``~/.cache/store-expansion-planner`` on Linux) for an installed package.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

from planner.atomic import write_atomic, write_text_atomic

from ._sources import WGS84

log = logging.getLogger(__name__)

__all__ = ["CODE_VERSION", "CACHE_ENV", "checkout_root", "resolve_cache_dir", "stage_key", "Stage", "cached_stage"]

#: bump when a change to the code changes what a stage produces
CODE_VERSION = "geodata-3"

Tables = dict[str, pd.DataFrame]

#: environment variable naming the cache folder (when the scenario does not)
CACHE_ENV = "PLANNER_CACHE_DIR"
_APP_NAME = "store-expansion-planner"


def checkout_root() -> Path | None:
    """The source checkout the package is imported from, or None for an installed package."""
    root = Path(__file__).resolve().parents[2]
    if (root / "pyproject.toml").is_file() and (root / "data" / "README.md").is_file():
        return root
    return None


def resolve_cache_dir(setting: str | None) -> Path:
    """The cache folder for a scenario's ``data.cache_dir`` (see the module docstring for the order)."""
    if setting:
        return Path(setting).expanduser()
    env = os.environ.get(CACHE_ENV, "").strip()
    if env:
        return Path(env).expanduser()
    root = checkout_root()
    if root is not None:
        return root / "data" / "cache"
    import platformdirs

    return Path(platformdirs.user_cache_dir(_APP_NAME, appauthor=False))


def stage_key(stage: str, parts: dict[str, Any]) -> str:
    """Hex key of a stage from its named inputs (JSON-serialisable values)."""
    blob = json.dumps({"stage": stage, "code_version": CODE_VERSION, **parts}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:20]


class Stage:
    """One stage folder in the cache."""

    def __init__(self, cache_dir: Path, stage: str, key: str) -> None:
        self.stage = stage
        self.key = key
        self.dir = cache_dir / f"{stage}-{key}"
        self.manifest = self.dir / "manifest.json"

    def exists(self) -> bool:
        """True when the stage finished writing (its manifest is there)."""
        return self.manifest.is_file()

    def read(self, names: list[str] | None = None, **kwargs: Any) -> Tables:
        """Read tables (all, or ``names``); raises on any read failure."""
        meta = json.loads(self.manifest.read_text(encoding="utf-8"))
        out: Tables = {}
        for name, info in meta["tables"].items():
            if names is not None and name not in names:
                continue
            path = self.dir / f"{name}.parquet"
            if info.get("points_from"):
                # a point layer with lon/lat columns: rebuilding the points is much faster than WKB
                x, y = info["points_from"]
                df = pd.read_parquet(path, columns=info["columns"], **kwargs)
                out[name] = gpd.GeoDataFrame(df, geometry=gpd.points_from_xy(df[x], df[y]), crs=WGS84)
            elif info["geo"]:
                out[name] = gpd.read_parquet(path, **kwargs)
            else:
                out[name] = pd.read_parquet(path, **kwargs)
            if len(out[name]) != info["rows"] and not kwargs:
                raise ValueError(f"{path}: {len(out[name])} rows, manifest says {info['rows']}")
        return out

    def write(self, tables: Tables, info: dict[str, Any]) -> None:
        """Write every table atomically, then the manifest."""
        self.dir.mkdir(parents=True, exist_ok=True)
        meta: dict[str, Any] = {"stage": self.stage, "key": self.key, "created_unix": time.time(), **info, "tables": {}}
        for name, df in tables.items():
            geo = isinstance(df, gpd.GeoDataFrame)
            write_atomic(self.dir / f"{name}.parquet", functools.partial(_write_parquet, df))
            meta["tables"][name] = {"rows": len(df), "geo": geo}
            if geo and _is_lonlat_points(df):
                meta["tables"][name]["points_from"] = ["lon", "lat"]
                meta["tables"][name]["columns"] = [c for c in df.columns if c != df.geometry.name]
        write_text_atomic(self.manifest, json.dumps(meta, indent=1, default=str))

    def remove(self) -> None:
        """Delete the stage folder (a corrupt or unwanted cache)."""
        shutil.rmtree(self.dir, ignore_errors=True)


def _write_parquet(df: pd.DataFrame, path: Path) -> None:
    df.to_parquet(path, index=False)


def _is_lonlat_points(df: gpd.GeoDataFrame) -> bool:
    if not {"lon", "lat"} <= set(df.columns) or len(df) == 0 or df.crs is None or df.crs.to_epsg() != 4326:
        return False
    geom = df.geometry
    if not (geom.geom_type == "Point").all():
        return False
    return bool(((geom.x - df["lon"]).abs().max() < 1e-12) and ((geom.y - df["lat"]).abs().max() < 1e-12))


def cached_stage(
    cache_dir: Path,
    stage: str,
    parts: dict[str, Any],
    build: Callable[[], Tables],
    *,
    progress: Callable[[str], None] | None = None,
    names: list[str] | None = None,
    read_kwargs: dict[str, Any] | None = None,
) -> tuple[Tables, Stage]:
    """Load a stage from the cache, or build and store it.

    Parameters
    ----------
    cache_dir : Path
        Root of the cache.
    stage : str
        Stage name (folder prefix).
    parts : dict
        Everything the stage depends on (hashed into the key).
    build : callable
        Builds the tables when the cache misses.
    progress : callable, optional
        Receives one-line status messages.
    names, read_kwargs
        Read only these tables / pass these options (e.g. Parquet ``filters``)
        on a cache hit.

    Returns
    -------
    (dict of tables, Stage)
    """
    st = Stage(cache_dir, stage, stage_key(stage, parts))
    if st.exists():
        try:
            t = time.perf_counter()
            tables = st.read(names, **(read_kwargs or {}))
            log.debug("cache hit %s (%.2f s)", st.dir.name, time.perf_counter() - t)
            return tables, st
        except Exception as exc:  # any read failure means a corrupt cache: rebuild it
            log.warning("cache %s is unreadable (%s: %s); rebuilding it", st.dir, type(exc).__name__, exc)
            st.remove()
    if progress:
        progress(f"building {stage}")
    t = time.perf_counter()
    tables = build()
    build_s = time.perf_counter() - t
    try:
        st.write(tables, {"inputs": parts, "build_s": round(build_s, 2)})
    except OSError as exc:  # a read-only or full disk must not stop the run
        log.warning("cannot write the geodata cache %s (%s); continuing without it", st.dir, exc)
    log.info("built %s in %.1f s", st.dir.name, build_s)
    if names is not None or read_kwargs:
        return cached_subset(tables, names), st
    return tables, st


def cached_subset(tables: Tables, names: list[str] | None) -> Tables:
    """The named tables only (all when ``names`` is None)."""
    return tables if names is None else {k: v for k, v in tables.items() if k in names}
