"""The ``planner`` command line: a thin Typer layer over the public API.

Exit codes (``planner.errors.EXIT_CODES``, shown by ``planner --help``): 0 ok,
1 a user's mistake (bad scenario or data, unwritable output), 2 a wrong command
line (Click's usage errors), 3 an internal error (our bug: the traceback is
shown), 4 infeasible constraints, 130 interrupted. User errors print one clear
message and no traceback.

A scenario argument is a YAML file, or the name of a shipped example scenario
(``planner scenarios`` lists them; an existing file of that name wins).
"""

from __future__ import annotations

import json
import logging
import os
import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from planner.errors import (
    EXIT_CODES,
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    OutputError,
    PlannerError,
)

_EPILOG = "Exit codes: " + "; ".join(f"{code} {text}" for code, text in EXIT_CODES.items()) + "."

app = typer.Typer(
    name="planner",
    help="Offline retail store expansion planner: scenario YAML → plan, KPIs and maps.\n\n"
    "A SCENARIO is a YAML file or the name of a shipped example (`planner scenarios`).",
    epilog=_EPILOG,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
data_app = typer.Typer(help="Build or inspect the geodata cache.", no_args_is_help=True)
bench_app = typer.Typer(help="Solve benchmark instances (OR-Library, interchange .npz, synthetic).", no_args_is_help=True)
app.add_typer(data_app, name="data")
app.add_typer(bench_app, name="bench")

err = Console(stderr=True)
out = Console()

T = TypeVar("T")

SetOpt = Annotated[
    list[str] | None,
    typer.Option("--set", "-s", help="Override a key: --set constraints.total_stores=800 (repeatable)."),
]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="Print only the result path.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object (for scripts).")]


def _guard(fn: Callable[[], T]) -> T:
    """Run a command body mapping errors to exit codes (no traceback for user errors)."""
    try:
        return fn()
    except PlannerError as exc:
        err.print(f"[bold red]error:[/] {exc}", markup=True, highlight=False, soft_wrap=True)
        raise typer.Exit(exc.exit_code) from None
    except KeyboardInterrupt:
        err.print("interrupted: nothing was written for this run; earlier runs are untouched.")
        raise typer.Exit(EXIT_INTERRUPTED) from None
    except typer.Exit:
        raise
    except Exception:  # our bug: keep the traceback
        err.print("[bold red]internal error[/] (a bug in the planner; please report it with this traceback):")
        traceback.print_exc()
        raise typer.Exit(EXIT_INTERNAL) from None


@contextmanager
def _native_stdout_to_stderr() -> Iterator[None]:
    """Send what native solver libraries print (e.g. HiGHS's banner) to stderr.

    Our own results go to stdout; a solver writing straight to file descriptor 1
    would corrupt ``--json`` output and the "last line is the map path" contract.
    """
    try:
        sys.stdout.flush()
        saved = os.dup(1)
    except (OSError, ValueError):  # no real stdout (embedded use): nothing to protect
        yield
        return
    os.dup2(2, 1)
    try:
        yield
    finally:
        try:
            sys.stdout.flush()
        finally:
            os.dup2(saved, 1)
            os.close(saved)


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


class _RichProgress:
    """Progress display for pipeline steps (a spinner per step, live incumbent/gap while solving)."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.progress = Progress(
            SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(),
            console=err, transient=False, disable=not enabled,
        )
        self.task: Any = None
        self.step = ""

    def __enter__(self) -> _RichProgress:
        self.progress.__enter__()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.task is not None:
            self.progress.update(self.task, completed=1, total=1)
        self.progress.__exit__(exc_type, exc, tb)

    def __call__(self, step: str, info: dict[str, Any]) -> None:
        if not self.enabled:
            return
        if step != self.step:
            if self.task is not None:
                self.progress.update(self.task, completed=1, total=1)
            self.task = self.progress.add_task(step, total=None)
            self.step = step
        detail = ", ".join(
            f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in info.items() if v is not None
        )
        self.progress.update(self.task, description=f"{step}: {detail}" if detail else step)


def _version(value: bool) -> None:
    if value:
        from planner import __version__

        out.print(f"planner {__version__}", highlight=False)
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Offline retail store expansion planner: scenario YAML → plan, KPIs and maps."""


DEFAULT_SCENARIO = "china-1000"
ScenarioArg = Annotated[
    str, typer.Argument(help="Scenario YAML file, or the name of a shipped scenario (`planner scenarios`).")
]


def resolve_scenario(arg: str | Path) -> Path:
    """A scenario argument as a file (see :func:`planner.config.load.find_scenario`)."""
    from planner.config.load import find_scenario

    return find_scenario(arg)


@app.command()
def run(
    scenario: ScenarioArg = DEFAULT_SCENARIO,
    set_: SetOpt = None,
    results: Annotated[Path | None, typer.Option(help="Results folder (default: output.results_dir).")] = None,
    quiet: QuietOpt = False,
    json_: JsonOpt = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log each step.")] = False,
) -> None:
    """Solve a scenario and write plan.csv, plan.gpkg, kpis.json, kpis_<level>.csv, rollout.csv and map.html to a new run folder."""
    _setup_logging(verbose)

    def body() -> None:
        from planner.config import load_scenario
        from planner.pipeline import run as run_pipeline

        sc = load_scenario(resolve_scenario(scenario), overrides=set_ or [])
        with _RichProgress(enabled=not (quiet or json_)) as bar, _native_stdout_to_stderr():
            result = run_pipeline(sc, results_dir=results, progress=bar)
        k = result.kpis
        if json_:
            out.print_json(json.dumps({
                "run": str(result.path), "map": str(result.map_path), "stores": k["stores"],
                "objective": k["objective"], "bound": k["bound"], "gap": k["gap"],
                "covered_share": k["covered_share"], "market_share": k["market_share"],
            }))
            return
        if not quiet:
            table = Table(title=f"{sc.name}: {k['objective_kind']}", show_header=False)
            gap = "n/a" if k["gap"] is None else f"{100 * k['gap']:.2f} %"
            rows = [
                ("stores", f"{k['stores']} ({k['existing_stores']} existing, {k['new_stores']} new)"),
                ("objective", f"{k['objective']:,.1f}  (bound {k['bound'] if k['bound'] is None else format(k['bound'], ',.1f')}, gap {gap})"),
                ("population covered", f"{k['covered_population']:,.0f} ({100 * k['covered_share']:.1f} %)"),
                ("own market share", f"{100 * k['market_share']['own']:.1f} %"),
                ("capex", f"{k['capex_cny'] / 1e6:,.0f} M CNY"),
                ("run folder", str(result.path)),
            ]
            for name, value in rows:
                table.add_row(name, value)
            err.print(table)
        out.print(str(result.map_path), highlight=False, soft_wrap=True)

    _guard(body)


@app.command()
def target(
    scenario: Annotated[Path, typer.Argument(help="Scenario YAML file.")],
    share: Annotated[float, typer.Option("--share", help="Own market share to reach (%).")],
    unit: Annotated[str | None, typer.Option("--unit", help="A province or city (GB code or name); default the nation.")] = None,
    set_: SetOpt = None,
    results: Annotated[Path | None, typer.Option(help="Results folder (default: output.results_dir).")] = None,
    json_: JsonOpt = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log each step.")] = False,
) -> None:
    """The fewest total stores that reach an own share of SHARE % (nationally or in one unit), with proof."""
    _setup_logging(verbose)

    def body() -> None:
        from planner.config import load_scenario
        from planner.target import find_target

        sc = load_scenario(scenario, overrides=set_ or [])
        with _native_stdout_to_stderr():
            res = find_target(sc, share_pct=share, unit=unit, results_dir=results)
        if json_:
            sys.stdout.write(json.dumps(res.to_json(), ensure_ascii=False) + "\n")
            return
        for p in res.probes:
            err.print(f"  {p['stores']:>6} stores: share {p.get('share_pct')} %, bound {p.get('bound_pct')} %")
        if res.stores_max is None:
            out.print(f"{res.unit}: {res.reason}")
            return
        out.print(
            f"{res.unit}: {share:g} % takes between {res.stores_min} and {res.stores_max} stores "
            f"(a plan with {res.stores_max} reaches {res.share_at_max:.3f} %; run {res.run})"
        )
        if res.reason:
            out.print(res.reason)

    _guard(body)


@app.command()
def validate(
    scenario: ScenarioArg,
    set_: SetOpt = None,
    deep: Annotated[bool, typer.Option(help="Also load the data it names and check feasibility (slower).")] = True,
) -> None:
    """Check a scenario (keys, values, data files, obvious infeasibility) without solving."""
    _setup_logging(False)

    def body() -> None:
        from planner.config import load_scenario

        sc = load_scenario(resolve_scenario(scenario), overrides=set_ or [])
        if deep:
            from planner.pipeline import prepare

            prep = prepare(sc)
            inst = prep.built.instance
            err.print(
                f"{scenario}: ok: {inst.n_cells:,} cells, {inst.n_sites:,} candidate sites, "
                f"{len(prep.layers.own_stores)} existing stores, target {inst.stores} stores."
            )
        else:
            err.print(f"{scenario}: ok (keys and values).")

    _guard(body)


@app.command()
def schema(
    defaults: Annotated[bool, typer.Option("--defaults", help="Print defaults.yaml instead of the JSON Schema.")] = False,
) -> None:
    """Print the scenario JSON Schema (or every key with its default)."""
    from planner.config.load import defaults_yaml
    from planner.config.models import Scenario

    if defaults:
        sys.stdout.write(defaults_yaml())
    else:
        sys.stdout.write(json.dumps(Scenario.model_json_schema(), indent=2, ensure_ascii=False) + "\n")


@app.command("scenarios")
def scenarios_cmd(json_: JsonOpt = False) -> None:
    """List the shipped example scenarios (run one by name: `planner run china-1000`)."""

    def body() -> None:
        from planner.config import load_scenario
        from planner.resources import scenario_dir, shipped_scenarios

        rows = [(name, load_scenario(path).description.strip(), path) for name, path in shipped_scenarios().items()]
        if json_:
            sys.stdout.write(json.dumps(
                [{"name": n, "description": d, "path": str(p)} for n, d, p in rows], ensure_ascii=False
            ) + "\n")
            return
        table = Table(show_header=True, box=None)
        table.add_column("name")
        table.add_column("description")
        for name, description, _ in rows:
            table.add_row(name, " ".join(description.split()))
        out.print(table)
        err.print(f"shipped in {scenario_dir()}; `planner init DIR` copies them to a folder to edit.", highlight=False)

    _guard(body)


@app.command("init")
def init_cmd(
    folder: Annotated[Path, typer.Argument(help="Folder to copy the shipped scenarios to (created if missing).")],
) -> None:
    """Copy the shipped scenarios (and defaults.yaml) to a folder to edit; never overwrites a file."""

    def body() -> None:
        import shutil

        from planner.resources import scenario_dir

        root = scenario_dir()
        # the scenarios and the example files they name (relative to them: examples/...)
        sources = sorted(root.glob("*.yaml")) + sorted(root.glob("examples/*.csv"))
        clash = [folder / p.relative_to(root) for p in sources if (folder / p.relative_to(root)).exists()]
        if clash:
            raise OutputError(
                f"{clash[0]}: already exists; `planner init` never overwrites a file "
                f"({len(clash)} of the {len(sources)} scenario files are there). Choose another folder "
                "or move the file(s) away. Nothing was copied."
            )
        if folder.exists() and not folder.is_dir():
            raise OutputError(f"{folder}: exists and is not a folder. Choose another folder.")
        try:
            folder.mkdir(parents=True, exist_ok=True)
            for p in sources:
                (folder / p.relative_to(root)).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(p, folder / p.relative_to(root))
        except OSError as exc:
            raise OutputError(f"{folder}: could not copy the scenarios ({exc.strerror or exc}).") from None
        err.print(
            f"copied {len(sources)} scenarios to {folder}; edit one and run it: "
            f"planner run {folder / (DEFAULT_SCENARIO + '.yaml')}",
            highlight=False, soft_wrap=True,
        )
        out.print(str(folder), highlight=False, soft_wrap=True)

    _guard(body)


@data_app.command("build")
def data_build(
    scenario: ScenarioArg = DEFAULT_SCENARIO,
    set_: SetOpt = None,
) -> None:
    """Build (or refresh) the derived geodata cache for a scenario."""
    _setup_logging(False)

    def body() -> None:
        from planner.config import load_scenario
        from planner.geodata import build_cache

        sc = load_scenario(resolve_scenario(scenario), overrides=set_ or [])
        with _RichProgress(enabled=True) as bar:
            info = build_cache(sc, progress=lambda msg: bar("data build", {"step": msg}))
        out.print_json(json.dumps(info, default=str, ensure_ascii=False))

    _guard(body)


@data_app.command("info")
def data_info(
    scenario: ScenarioArg = DEFAULT_SCENARIO,
    set_: SetOpt = None,
) -> None:
    """Show what the geodata cache holds and where each layer comes from."""
    _setup_logging(False)

    def body() -> None:
        from planner.config import load_scenario
        from planner.geodata import cache_info

        sc = load_scenario(resolve_scenario(scenario), overrides=set_ or [])
        out.print_json(json.dumps(cache_info(sc), default=str, ensure_ascii=False))

    _guard(body)


TimeOpt = Annotated[float, typer.Option(
    "--time-limit",
    help="Time limit (s), counted from the start of the command; it also sets the solver's deterministic work "
    "budget, so the same file and limit give the same plan under any load.",
)]
GapOpt = Annotated[float, typer.Option(
    "--gap-target", min=0.0, max=100.0, help="Stop once the proven optimality gap is at most this (%).",
)]


def _process_seconds() -> float:
    """Wall seconds since this process started (Linux ``/proc``; 0 where unknown)."""
    try:
        with open("/proc/self/stat", encoding="ascii") as f:
            start_ticks = int(f.read().rsplit(")", 1)[1].split()[19])  # field 22: starttime
        with open("/proc/uptime", encoding="ascii") as f:
            uptime = float(f.read().split()[0])
        return max(0.0, uptime - start_ticks / os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError, AttributeError):
        return 0.0


def _budget(time_limit: float) -> float:
    """The solver's share of ``--time-limit``: what the interpreter start and imports left.

    A harness times the whole command, so the limit is counted from process start.
    """
    return max(0.5 * time_limit, time_limit - _process_seconds())


def _quiet_native(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    with _native_stdout_to_stderr():
        return fn(*args, **kwargs)


def _print_bench(result: dict[str, Any], json_: bool) -> None:
    if json_:
        sys.stdout.write(json.dumps(result) + "\n")
    else:
        for key in ("objective", "bound", "gap", "seconds", "status"):
            out.print(f"{key}: {result.get(key)}")
        out.print(f"open ({len(result['open'])}): {result['open'][:50]}{' ...' if len(result['open']) > 50 else ''}")


@bench_app.command("pmed")
def bench_pmed(
    file: Annotated[Path, typer.Argument(help="OR-Library pmed file.")],
    time_limit: TimeOpt = 10.0,
    gap_target: GapOpt = 0.0,
    json_: JsonOpt = False,
) -> None:
    """Solve an OR-Library p-median instance (open ids are 1-based; by default until the optimum is proven)."""
    from planner.bench import run_pmed, work_budget_s

    _guard(lambda: _print_bench(_quiet_native(
        run_pmed, file, time_limit_s=_budget(time_limit), gap_target=gap_target / 100.0,
        work_limit_s=work_budget_s(time_limit),
    ), json_))


@bench_app.command("instance")
def bench_instance(
    file: Annotated[Path, typer.Argument(help="Instance in the .npz interchange format.")],
    objective: Annotated[str, typer.Option(help="coverage | distance | market_share | profit")] = "coverage",
    time_limit: TimeOpt = 60.0,
    gap_target: GapOpt = 0.1,
    json_: JsonOpt = False,
) -> None:
    """Solve an instance given in the interchange format (open ids are 0-based)."""
    from planner.bench import run_instance, work_budget_s

    _guard(lambda: _print_bench(_quiet_native(
        run_instance, file, objective=objective, time_limit_s=_budget(time_limit), gap_target=gap_target / 100.0,
        work_limit_s=work_budget_s(time_limit),
    ), json_))


@bench_app.command("synthetic")
def bench_synthetic(
    cells: Annotated[int, typer.Option(help="Demand cells.")] = 100_000,
    candidates: Annotated[int, typer.Option(help="Candidate sites.")] = 10_000,
    stores: Annotated[int, typer.Option(help="Stores to open (existing included).")] = 1000,
    existing: Annotated[int, typer.Option(help="Existing (fixed) stores.")] = 150,
    objective: Annotated[str, typer.Option(help="coverage | distance | market_share | profit")] = "coverage",
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    time_limit: TimeOpt = 60.0,
    dump: Annotated[Path | None, typer.Option(help="Write instance.npz and solution.json here.")] = None,
    gap_target: GapOpt = 0.1,
    json_: JsonOpt = False,
) -> None:
    """Build a reproducible clustered national-like instance and solve it."""
    from planner.bench import run_synthetic, work_budget_s

    _guard(lambda: _print_bench(
        _quiet_native(run_synthetic, cells=cells, candidates=candidates, stores=stores, existing=existing,
                      objective=objective, seed=seed, time_limit_s=_budget(time_limit), dump_dir=dump,
                      gap_target=gap_target / 100.0, work_limit_s=work_budget_s(time_limit)),
        json_,
    ))


@bench_app.command("compete")
def bench_compete(
    file: Annotated[Path, typer.Argument(help="Leader-follower instance: the interchange .npz plus f_site_attr, f_pair_cell, f_pair_site, f_pair_km, f_stores.")],
    time_limit: TimeOpt = 60.0,
    json_: JsonOpt = False,
) -> None:
    """The leader's plan that holds up best after the follower's best response (max-min market share)."""
    from planner.bench import run_compete

    def show(result: dict[str, Any]) -> None:
        if json_:
            sys.stdout.write(json.dumps(result) + "\n")
            return
        for key in ("objective", "bound", "gap", "seconds", "response_gap", "objective_without_response"):
            out.print(f"{key}: {result.get(key)}")
        out.print(f"open ({len(result['open'])}), response ({len(result['response'])})")

    _guard(lambda: show(_quiet_native(run_compete, file, time_limit_s=_budget(time_limit))))


@app.command()
def compare(
    runs: Annotated[list[Path], typer.Argument(help="Run folders (or their `latest` links); the first is the baseline.")],
    out_dir: Annotated[Path | None, typer.Option("--out", help="Report folder (default: results/compare/<timestamp>/).")] = None,
    label: Annotated[list[str] | None, typer.Option("--label", help="Column name per run, in order (repeatable).")] = None,
    quiet: QuietOpt = False,
    json_: JsonOpt = False,
) -> None:
    """Compare runs side by side: write compare.html (KPIs, per-province differences, maps, charts) and compare.csv."""
    _setup_logging(False)

    def body() -> None:
        from planner.report.compare import compare_runs

        path = compare_runs(list(runs), out=out_dir, labels=label or None)
        if json_:
            sys.stdout.write(json.dumps({
                "report": str(path), "csv": str(path.parent / "compare.csv"),
                "provinces_csv": str(path.parent / "provinces.csv"),
            }) + "\n")
            return
        if not quiet:
            err.print(f"compared {len(runs)} runs; KPI table in {path.parent / 'compare.csv'}", highlight=False)
        out.print(str(path), highlight=False, soft_wrap=True)

    _guard(body)


@app.command()
def sweep(
    scenario: Annotated[str, typer.Argument(help="Base scenario: a YAML file or a shipped scenario's name.")],
    grid: Annotated[list[str], typer.Option("--grid", "-g", help="key.path=v1,v2,... (repeatable; every combination runs).")],
    set_: SetOpt = None,
    scheduler: Annotated[str | None, typer.Option(help="Address of a running Dask scheduler (tcp://host:8786); default: a local cluster.")] = None,
    workers: Annotated[int, typer.Option("--workers", "-w", min=1, help="Worker processes of the local cluster.")] = 2,
    results: Annotated[Path | None, typer.Option(help="Results folder (default: output.results_dir).")] = None,
    name: Annotated[str | None, typer.Option(help="Sweep name (default: the scenario name).")] = None,
    quiet: QuietOpt = False,
    json_: JsonOpt = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log each combination.")] = False,
) -> None:
    """Run every combination of --grid values on Dask; write summary.csv, summary.html and pareto.png.

    Exit code 1 when any combination failed (the summary is still written and lists the errors).
    """
    _setup_logging(verbose)

    def body() -> None:
        from planner.sweep import expand_grid, parse_grid, run_sweep

        parsed = parse_grid(grid)
        total = len(expand_grid(parsed))
        progress = Progress(
            SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
            TimeElapsedColumn(), console=err, disable=quiet or json_,
        )
        with progress:
            task = progress.add_task("sweep", total=total)

            def tick(row: dict[str, Any]) -> None:
                mark = "ok" if row["status"] == "ok" else "[red]failed[/]"
                progress.console.print(f"{row['scenario']}: {mark}", highlight=False)
                progress.advance(task)

            result = run_sweep(
                resolve_scenario(scenario), parsed, scheduler=scheduler, n_workers=workers, results_dir=results, name=name,
                overrides=set_ or [], progress=tick,
            )
        failed = result.failed
        if json_:
            sys.stdout.write(json.dumps({
                "sweep": str(result.path), "summary_csv": str(result.summary_csv),
                "summary_html": str(result.summary_html), "pareto_png": str(result.pareto_png),
                "ok": len(result.ok), "failed": len(failed), "runs": [str(p) for p in result.runs],
                "errors": {str(r["scenario"]): str(r["error"]) for r in failed.to_dict("records")},
            }, ensure_ascii=False) + "\n")
        else:
            if not quiet:
                table = Table(title=f"sweep: {len(result.ok)} ok, {len(failed)} failed", show_header=True)
                for col in ("scenario", "status", "stores", "covered %", "own share %", "error"):
                    table.add_column(col)
                for r in result.table.to_dict("records"):
                    ok = r["status"] == "ok"
                    table.add_row(
                        str(r["scenario"]), str(r["status"]),
                        f"{r['stores']:.0f}" if ok else "",
                        f"{100 * r['covered_share']:.1f}" if ok else "",
                        f"{100 * r['market_share_own']:.2f}" if ok and r.get("market_share_own") == r.get("market_share_own") else "",
                        "" if ok else str(r["error"])[:200],
                    )
                err.print(table)
            out.print(str(result.summary_html), highlight=False, soft_wrap=True)
        if len(failed):
            raise typer.Exit(1)

    _guard(body)


def main() -> None:  # pragma: no cover - console entry
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
