"""Benchmark files and the ``planner bench`` drivers: outside instances in, one JSON line out.

This is the edge where benchmark instances cross into the optimiser. It reads
Beasley's OR-Library p-median files and the project's ``.npz`` interchange format
into an :class:`~planner.optimise.types.Instance`, writes that format back, and
turns a :class:`~planner.optimise.types.Solution` into the benchmark contract's
JSON (``objective``, ``bound``, ``gap``, ``seconds``, ``open``). The ``run_*``
functions are what ``planner bench ...`` calls; they and the readers and writer
are the only functions here that touch files, and nothing here prints. Instance
generators live in :mod:`planner.synthetic`.

The interchange format is ``numpy.savez`` of the arrays of
:meth:`Instance.to_arrays <planner.optimise.types.Instance.to_arrays>`, one array
per key of :data:`NPZ_KEYS`; the keys, their types and meanings are listed (and
checked) by :meth:`Instance.from_arrays <planner.optimise.types.Instance.from_arrays>`.
A file may hold other arrays too: they are ignored with a warning.

Gap targets are fractions here, as in :func:`planner.optimise.solve.solve`
(``0.005`` = 0.5 %); the command line's ``--gap-target`` is a percentage,
converted once in ``planner.cli``.

Time limits: the ``time_limit_s`` a ``run_*`` function is given is *nominal*: it
sets the solver's deterministic work budget (:func:`work_budget_s`) once, before
anything is read, so the same file and limit give the same plan however long
reading took or however loaded the machine is; what is left of the limit after
reading is only the solver's wall-clock safety net.
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import shortest_path

from planner.errors import DataError, OutputError
from planner.optimise.compete import Follower
from planner.optimise.incumbent import WORK_PER_LIMIT_S
from planner.optimise.types import ARRAY_KEYS, OBJECTIVES, Instance, ObjectiveKind, Solution
from planner.synthetic import synthetic_instance

__all__ = [
    "NPZ_KEYS",
    "DEFAULT_GAP_TARGET",
    "work_budget_s",
    "read_orlib_pmed",
    "read_npz",
    "write_npz",
    "result_json",
    "solve_instance",
    "run_pmed",
    "run_instance",
    "run_synthetic",
    "COMPETE_KEYS",
    "read_compete_npz",
    "write_compete_npz",
    "run_compete",
]

logger = logging.getLogger(__name__)

#: Arrays an interchange ``.npz`` holds (exactly those of ``Instance.to_arrays``).
NPZ_KEYS: tuple[str, ...] = ARRAY_KEYS

#: Seed passed to the optimiser by the ``run_*`` functions (reproducible runs).
DEFAULT_SEED = 0
#: Gap target (a fraction) for OR-Library runs: prove the optimum (or use the whole time limit).
PMED_GAP_TARGET = 0.0
#: Gap target (a fraction) of ``planner bench instance`` and ``synthetic``: 0.1 %.
DEFAULT_GAP_TARGET = 0.001


def work_budget_s(time_limit_s: float) -> float:
    """The solver's deterministic work budget (nominal seconds) for a nominal time limit (s).

    The same share as :func:`planner.optimise.solve.solve` takes of its own
    ``time_limit_s`` (``incumbent.WORK_PER_LIMIT_S``).
    """
    return WORK_PER_LIMIT_S * float(time_limit_s)


# ---------------------------------------------------------------------------
# OR-Library p-median
# ---------------------------------------------------------------------------
def read_orlib_pmed(path: str | os.PathLike[str]) -> tuple[Instance, int]:
    """Read an OR-Library uncapacitated p-median file (``pmedN.txt``).

    The file is ``n m p`` followed by ``m`` lines ``i j cost``: undirected edges
    between 1-based vertices. Following the OR-Library rule (``pmedinfo``), edges
    are read in order and a later line for the same vertex pair replaces an
    earlier one (the *last* cost wins, not the minimum); distances are the
    all-pairs shortest paths over the resulting graph. Every vertex is a client
    of weight 1 and a candidate site, so the instance has ``n`` cells, ``n``
    sites and ``n**2`` pairs (dense; intended for ``n <= ~1000``).

    Parameters
    ----------
    path
        The ``pmedN.txt`` file.

    Returns
    -------
    instance
        Cells and sites are the vertices, 0-based (vertex ``v`` is index
        ``v - 1``). ``stores = p``, nothing fixed. ``radius_km`` and
        ``unreachable_km`` are set to ``10 * max distance + 1``, so every pair
        covers and no cell is ever unreachable.
    p
        The number of medians.

    Raises
    ------
    DataError
        The file is missing, malformed, or its graph is not connected.
    """
    path = Path(path)
    try:
        tokens = path.read_text().split()
    except OSError as exc:
        raise DataError(f"{path}: cannot read the p-median file ({exc.strerror}).") from exc
    if len(tokens) < 3:
        raise DataError(f"{path}: expected a header 'n m p', found {len(tokens)} token(s).")
    try:
        n, m, p = (int(t) for t in tokens[:3])
        body = np.asarray(tokens[3:], dtype=np.float64)
    except ValueError as exc:
        raise DataError(f"{path}: non-numeric value ({exc}).") from exc
    if n < 1 or m < 0 or not 1 <= p <= n:
        raise DataError(f"{path}: header 'n m p' = {n} {m} {p} is not valid (need 1 <= p <= n).")
    if body.size != 3 * m:
        raise DataError(
            f"{path}: header says {m} edges but the file holds {body.size / 3:g} edge triples."
        )
    edges = body.reshape(m, 3)
    ends = edges[:, :2]
    if m and (np.any(ends != np.round(ends)) or ends.min() < 1 or ends.max() > n):
        bad = int(
            np.nonzero((ends != np.round(ends)).any(1) | (ends < 1).any(1) | (ends > n).any(1))[0][
                0
            ]
        )
        raise DataError(
            f"{path}: edge line {bad + 2} has an endpoint outside 1..{n}: {edges[bad].tolist()}."
        )
    cost = edges[:, 2]
    if m and (not np.all(np.isfinite(cost)) or cost.min() < 0):
        bad = int(np.nonzero(~np.isfinite(cost) | (cost < 0))[0][0])
        raise DataError(f"{path}: edge line {bad + 2} has a negative or non-finite cost.")

    dist = _pmed_distances(n, ends.astype(np.int64) - 1, cost)
    if not np.all(np.isfinite(dist)):
        raise DataError(f"{path}: the graph is not connected; every vertex must reach every other.")
    far = 10.0 * float(dist.max()) + 1.0
    # pairs sorted by site then cell: row j of dist.T lists every cell's distance to site j
    site = np.repeat(np.arange(n, dtype=np.int32), n)
    cell = np.tile(np.arange(n, dtype=np.int32), n)
    inst = Instance(
        weight=np.ones(n),
        pair_cell=cell,
        pair_site=site,
        pair_km=np.ascontiguousarray(dist.T).ravel(),
        n_sites=n,
        stores=p,
        radius_km=np.full(n, far),
        unreachable_km=far,
    )
    logger.debug("read %s: n=%d m=%d p=%d max distance %g", path, n, m, p, dist.max())
    return inst, p


def _pmed_distances(n: int, ends0: np.ndarray, cost: np.ndarray) -> np.ndarray:
    """All-pairs shortest paths of an undirected graph whose later duplicate edges win."""
    a = ends0.min(axis=1)
    b = ends0.max(axis=1)
    keep = a != b  # a self-loop is c(i,i) = 0 whatever the file says
    a, b, cost = a[keep], b[keep], cost[keep]
    key = a * n + b
    # np.unique keeps the first occurrence; on the reversed list that is the last line
    _, first_rev = np.unique(key[::-1], return_index=True)
    last = key.size - 1 - first_rev
    # explicit entries, so a zero-cost edge stays an edge
    graph = csr_matrix((cost[last], (a[last], b[last])), shape=(n, n))
    return np.asarray(shortest_path(graph, method="D", directed=False), dtype=np.float64)


# ---------------------------------------------------------------------------
# Interchange format
# ---------------------------------------------------------------------------
def read_npz(path: str | os.PathLike[str]) -> Instance:
    """Read an instance in the ``.npz`` interchange format and validate it.

    Parameters
    ----------
    path
        A file written by ``numpy.savez`` / :func:`write_npz` with the keys in
        :data:`NPZ_KEYS` (see :meth:`Instance.from_arrays
        <planner.optimise.types.Instance.from_arrays>`). ``fixed``, ``site_attr``
        (default 1), ``competitor_pull`` (default 0) and ``beta`` (default 2) may
        be left out; other arrays are ignored with a warning.

    Returns
    -------
    Instance
        Pairs sorted by site then cell; a scalar ``radius_km`` becomes a per-site
        array.

    Raises
    ------
    DataError
        Naming the file, the key and the problem: a missing key, a wrong shape or
        type, a negative or non-finite value, an index out of range, a repeated pair.
    """
    path = Path(path)
    data = _load_npz(path)
    unknown = sorted(set(data) - set(NPZ_KEYS))
    if unknown:
        logger.warning("%s: ignoring unknown key(s) %s", path, ", ".join(unknown))
    return _instance_of(path, data)


def _instance_of(path: Path, data: dict[str, np.ndarray]) -> Instance:
    try:
        return Instance.from_arrays(**{k: v for k, v in data.items() if k in NPZ_KEYS})
    except DataError as exc:
        raise DataError(f"{path}: {exc.message}", problems=exc.problems) from exc


def _load_npz(path: Path) -> dict[str, np.ndarray]:
    """Every array of an ``.npz`` file (errors name the file)."""
    try:
        loaded = np.load(path, allow_pickle=False)
    except FileNotFoundError as exc:
        raise DataError(f"{path}: file not found.") from exc
    except (OSError, ValueError, EOFError) as exc:
        raise DataError(f"{path}: cannot read as .npz ({exc}).") from exc
    if not isinstance(loaded, np.lib.npyio.NpzFile):
        raise DataError(f"{path}: not an .npz archive (numpy.savez); a single array was found.")
    try:
        data = {k: loaded[k] for k in loaded.files}
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: cannot read an array of the .npz ({exc}).") from exc
    finally:
        loaded.close()
    return data


def write_npz(path: str | os.PathLike[str], inst: Instance, *, compressed: bool = False) -> Path:
    """Write an instance in the ``.npz`` interchange format.

    Parameters
    ----------
    path
        Target file; ``.npz`` is appended by numpy when missing.
    inst
        The instance (see :meth:`Instance.to_arrays
        <planner.optimise.types.Instance.to_arrays>` for what is kept).
    compressed
        Use ``numpy.savez_compressed`` (smaller, slower).

    Returns
    -------
    Path
        The file written.
    """
    path = Path(path)
    if path.suffix != ".npz":
        path = path.with_name(path.name + ".npz")
    save: Callable[..., None] = np.savez_compressed if compressed else np.savez
    save(path, **inst.to_arrays())
    return path


# ---------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------
def result_json(sol: Solution, *, one_based: bool, seconds: float | None = None) -> dict[str, Any]:
    """The benchmark contract's JSON object for a solution.

    Parameters
    ----------
    sol
        The optimiser's answer.
    one_based
        Report ``open`` as 1-based ids (OR-Library vertices) instead of 0-based
        site indices.
    seconds
        Wall time to report instead of ``sol.seconds`` (e.g. including reading).

    Returns
    -------
    dict
        ``{"objective", "bound", "gap", "seconds", "open", "status"}``, in that
        order (the first five are the contract of issue 4; ``status`` is the
        solution's: ``"time_limit"`` when the wall clock cut the search short);
        a bound or gap that is missing or not finite is ``None``.
    """
    base = 1 if one_based else 0
    return {
        "objective": float(sol.objective),
        "bound": _finite_or_none(sol.bound),
        "gap": _finite_or_none(sol.gap),
        "seconds": float(sol.seconds if seconds is None else seconds),
        "open": [int(j) + base for j in np.sort(np.asarray(sol.open_sites, dtype=np.int64))],
        "status": str(sol.status),
    }


def _finite_or_none(x: float | None) -> float | None:
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


# ---------------------------------------------------------------------------
# What ``planner bench`` runs
# ---------------------------------------------------------------------------
def solve_instance(
    inst: Instance,
    kind: ObjectiveKind,
    *,
    time_limit_s: float,
    gap_target: float | None = None,
    threads: int | None = None,
    seed: int = DEFAULT_SEED,
    use_mip: bool = True,
    work_limit_s: float | None = None,
) -> Solution:
    """Solve with the project optimiser (``planner.optimise.solve.solve``), quietly.

    ``gap_target`` is a fraction (``0.005`` = 0.5 %), passed on unchanged;
    ``gap_target``, ``threads`` and ``work_limit_s`` (nominal seconds of work)
    left as ``None`` take the optimiser's defaults.
    """
    if kind not in OBJECTIVES:
        raise ValueError(f"objective must be one of {OBJECTIVES}, got {kind!r}")
    from planner.optimise.solve import solve  # the optimiser is imported only when solving

    options: dict[str, Any] = {}
    if gap_target is not None:
        options["gap_target"] = gap_target
    if threads is not None:
        options["threads"] = threads
    if work_limit_s is not None:
        options["work_limit_s"] = work_limit_s
    return solve(
        inst,
        kind,
        time_limit_s=time_limit_s,
        seed=seed,
        use_mip=use_mip,
        progress=None,
        **options,
    )


def _remaining(time_limit_s: float, t0: float) -> float:
    """What is left of a wall-clock budget started at ``t0`` (never below 10 % of it)."""
    return max(0.1 * time_limit_s, time_limit_s - (time.perf_counter() - t0))


def run_pmed(
    path: str | os.PathLike[str],
    time_limit_s: float = 10.0,
    *,
    gap_target: float | None = PMED_GAP_TARGET,
    threads: int | None = None,
    seed: int = DEFAULT_SEED,
    work_limit_s: float | None = None,
) -> dict[str, Any]:
    """``planner bench pmed``: read an OR-Library file, solve the p-median, report.

    The time limit covers reading (shortest paths included) and solving, and
    ``seconds`` is the wall time of both; ``open`` holds 1-based vertex ids.
    The solver's work budget is ``work_limit_s``, by default
    :func:`work_budget_s` of ``time_limit_s`` (see the module docstring).
    The default gap target (a fraction, :data:`PMED_GAP_TARGET` = 0) asks for a
    proven optimum (the objective is integral, so a gap below ``1 / objective``
    is one). See :func:`result_json`.
    """
    t0 = time.perf_counter()
    work = work_budget_s(time_limit_s) if work_limit_s is None else work_limit_s
    inst, _ = read_orlib_pmed(path)
    sol = solve_instance(
        inst,
        "distance",
        time_limit_s=_remaining(time_limit_s, t0),
        gap_target=gap_target,
        threads=threads,
        seed=seed,
        work_limit_s=work,
    )
    return result_json(sol, one_based=True, seconds=time.perf_counter() - t0)


def run_instance(
    path: str | os.PathLike[str],
    objective: ObjectiveKind,
    time_limit_s: float = 60.0,
    *,
    gap_target: float | None = DEFAULT_GAP_TARGET,
    threads: int | None = None,
    seed: int = DEFAULT_SEED,
    work_limit_s: float | None = None,
) -> dict[str, Any]:
    """``planner bench instance``: read an interchange ``.npz``, solve, report.

    The time limit covers reading and solving; ``seconds`` is the wall time of
    both; ``open`` holds 0-based site indices. The solver stops at
    ``gap_target`` (a fraction, default :data:`DEFAULT_GAP_TARGET` = 0.1 %) or
    when its work budget (``work_limit_s``, by default :func:`work_budget_s` of
    ``time_limit_s``) is spent.
    """
    if objective not in OBJECTIVES:
        raise DataError(f"--objective must be one of {', '.join(OBJECTIVES)}, got '{objective}'.")
    t0 = time.perf_counter()
    work = work_budget_s(time_limit_s) if work_limit_s is None else work_limit_s
    inst = read_npz(path)
    sol = solve_instance(
        inst,
        objective,
        time_limit_s=_remaining(time_limit_s, t0),
        gap_target=gap_target,
        threads=threads,
        seed=seed,
        work_limit_s=work,
    )
    return result_json(sol, one_based=False, seconds=time.perf_counter() - t0)


def run_synthetic(
    *,
    cells: int,
    candidates: int,
    stores: int,
    existing: int,
    objective: ObjectiveKind,
    seed: int = 0,
    time_limit_s: float = 60.0,
    dump_dir: str | os.PathLike[str] | None = None,
    gap_target: float | None = DEFAULT_GAP_TARGET,
    threads: int | None = None,
    work_limit_s: float | None = None,
) -> dict[str, Any]:
    """``planner bench synthetic``: build :func:`synthetic_instance`, solve, report.

    ``seconds`` is the solve's wall time (building the instance, about a second
    at national size, is excluded). Gap target and work budget as in
    :func:`run_instance`. With ``dump_dir`` the instance is written
    there as ``instance.npz`` and the returned JSON as ``solution.json``
    (0-based ``open``), so the run can be repeated with ``planner bench instance``.
    """
    if objective not in OBJECTIVES:
        raise DataError(f"--objective must be one of {', '.join(OBJECTIVES)}, got '{objective}'.")
    try:
        inst = synthetic_instance(
            cells=cells,
            candidates=candidates,
            stores=stores,
            existing=existing,
            seed=seed,
            objective=objective,
        )
    except ValueError as exc:
        raise DataError(f"synthetic instance: {exc}.") from exc
    t0 = time.perf_counter()
    sol = solve_instance(
        inst,
        objective,
        time_limit_s=time_limit_s,
        gap_target=gap_target,
        threads=threads,
        seed=seed,
        work_limit_s=work_budget_s(time_limit_s) if work_limit_s is None else work_limit_s,
    )
    out = result_json(sol, one_based=False, seconds=time.perf_counter() - t0)
    if dump_dir is not None:
        d = Path(dump_dir)
        try:
            d.mkdir(parents=True, exist_ok=True)
            write_npz(d / "instance.npz", inst)
            (d / "solution.json").write_text(json.dumps(out) + "\n")
        except OSError as exc:
            raise OutputError(
                f"--dump {d}: cannot write ({exc.strerror}); choose a writable folder."
            ) from exc
    return out


# ---------------------------------------------------------------------------
# Leader-follower: ``planner bench compete``
# ---------------------------------------------------------------------------
#: The follower's arrays of a ``compete`` file, beside the interchange arrays.
COMPETE_KEYS: tuple[str, ...] = ("f_site_attr", "f_pair_cell", "f_pair_site", "f_pair_km", "f_stores")


def read_compete_npz(path: str | os.PathLike[str]) -> tuple[Instance, Follower]:
    """Read a leader-follower instance: the interchange arrays plus :data:`COMPETE_KEYS`.

    ``f_site_attr`` float[F] (each follower site's attraction), ``f_pair_cell`` /
    ``f_pair_site`` int[K'] and ``f_pair_km`` float[K'] (the follower's reachable
    pairs, cells as in ``weight``), ``f_stores`` int (the follower's openings).

    Raises
    ------
    DataError
        Naming the file and the key, as :func:`read_npz` does.
    """
    path = Path(path)
    data = _load_npz(path)
    missing = [k for k in COMPETE_KEYS if k not in data]
    if missing:
        raise DataError(f"{path}: missing follower key(s) {', '.join(missing)}; `bench compete` needs {', '.join(COMPETE_KEYS)}.")
    unknown = sorted(set(data) - set(NPZ_KEYS) - set(COMPETE_KEYS))
    if unknown:
        logger.warning("%s: ignoring unknown key(s) %s", path, ", ".join(unknown))
    inst = _instance_of(path, data)
    try:
        stores = np.asarray(data["f_stores"]).reshape(-1)
        if stores.size != 1 or float(stores[0]) != round(float(stores[0])):
            raise DataError("key 'f_stores' must be one whole number.")

        def ints(key: str) -> np.ndarray:
            arr = np.asarray(data[key])
            if arr.ndim != 1 or (arr.size and arr.dtype.kind not in "biu"):
                raise DataError(f"key '{key}' must be a 1-D integer array, found {arr.dtype} {arr.shape}.")
            return arr.astype(np.int64)

        attr = np.asarray(data["f_site_attr"], dtype=np.float64)
        if attr.ndim != 1:
            raise DataError(f"key 'f_site_attr' must be float[F], found shape {attr.shape}.")
        fol = Follower(
            site_attr=attr, pair_cell=ints("f_pair_cell"), pair_site=ints("f_pair_site"),
            pair_km=np.asarray(data["f_pair_km"], dtype=np.float64).reshape(-1), stores=int(stores[0]),
        )
        fol.validate(inst.n_cells)
    except DataError as exc:
        raise DataError(f"{path}: {exc.message}", problems=exc.problems) from exc
    return inst, fol


def write_compete_npz(path: str | os.PathLike[str], inst: Instance, follower: Follower) -> Path:
    """Write a leader-follower instance (the inverse of :func:`read_compete_npz`)."""
    path = Path(path)
    if path.suffix != ".npz":
        path = path.with_name(path.name + ".npz")
    arrays: dict[str, Any] = {
        **inst.to_arrays(), "f_site_attr": np.asarray(follower.site_attr, dtype=np.float64),
        "f_pair_cell": np.asarray(follower.pair_cell, dtype=np.int64),
        "f_pair_site": np.asarray(follower.pair_site, dtype=np.int64),
        "f_pair_km": np.asarray(follower.pair_km, dtype=np.float64), "f_stores": np.asarray(int(follower.stores)),
    }
    save: Callable[..., None] = np.savez
    save(path, **arrays)
    return path


def run_compete(
    path: str | os.PathLike[str],
    time_limit_s: float = 60.0,
    *,
    gap_target: float = 0.005,
    threads: int | None = None,
    seed: int = DEFAULT_SEED,
) -> dict[str, Any]:
    """``planner bench compete``: the leader's max-min plan against the follower's best response.

    A fifth of the budget goes to the plan that ignores the follower (the start
    and the fallback), the rest to :func:`planner.optimise.compete.anticipate`.

    Returns
    -------
    dict
        Exactly ``{"objective", "bound", "gap", "seconds", "open", "response",
        "response_gap", "objective_without_response"}``: ``objective`` is the
        leader's share (market-share objective) of ``open`` against ``response``,
        the follower's best response found to it; ``response_gap`` that
        response's proven gap; ``bound`` an upper bound on the max-min optimum;
        ``objective_without_response`` the share of ``open`` before any response.
    """
    from planner.optimise.compete import anticipate  # the optimiser is imported only when solving

    t0 = time.perf_counter()
    inst, fol = read_compete_npz(path)
    opts: dict[str, Any] = {} if threads is None else {"threads": threads}
    start = solve_instance(
        inst, "market_share", time_limit_s=0.2 * _remaining(time_limit_s, t0), gap_target=gap_target,
        seed=seed, **opts,
    )
    left = _remaining(time_limit_s, t0) - 0.5
    mm = anticipate(
        inst, fol, start=start.open_sites, time_limit_s=max(0.5, left), gap_target=gap_target, seed=seed,
        solve_time_limit_s=max(0.5, left / 5), **opts,
    )
    return {
        "objective": float(mm.objective),
        "bound": _finite_or_none(mm.bound),
        "gap": _finite_or_none(mm.gap),
        "seconds": float(time.perf_counter() - t0),
        "open": [int(j) for j in np.sort(mm.open_sites)],
        "response": [int(k) for k in np.sort(mm.response)],
        "response_gap": _finite_or_none(mm.response_gap),
        "objective_without_response": float(mm.objective_without_response),
    }
