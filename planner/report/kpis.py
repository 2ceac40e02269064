"""KPIs of a solved plan: per store, per cell, per admin unit, per tier and for the nation.

Reads a solved instance (arrays + the site and cell tables) and never solves.
Every figure is recomputed here from the open sites, so the numbers in
``plan.csv`` and ``kpis.json`` do not depend on what the optimiser reported.
The Huff share has one kernel (:func:`huff_share`). The admin-level tables
(:func:`admin_kpi_table`) and the H3 aggregation (:func:`aggregate_grid`) are the
figures the map draws; they read the plan, the KPIs and the per-cell values.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import geopandas as gpd
import h3
import numpy as np
import pandas as pd

from planner.geodata.layers import Layers
from planner.instance import BuiltInstance
from planner.optimise.check import objective_value, per_site_explain
from planner.optimise.types import Instance, ObjectiveKind, Solution, attraction
from planner.spatial import nearest_km, pairs_within

__all__ = [
    "ADMIN_LEVELS", "KPI_LABELS", "admin_kpi_table", "admin_units", "aggregate_grid", "cell_values", "compute_kpis",
    "covered_mask", "gb_codes", "h3_parents", "huff_share", "huff_shares", "nearest_store_km", "own_attraction",
    "own_share_per_cell", "plan_table", "rollout_kpis", "ROLLOUT_OBJECTIVE", "unit_kpi_table",
]

OBJECTIVES: tuple[ObjectiveKind, ...] = ("coverage", "distance", "market_share")

ADMIN_LEVELS: tuple[str, ...] = ("province", "city", "county")
"""Admin levels with their own KPI tables (and map choropleths), coarse to fine."""

KPI_LABELS: dict[str, tuple[str, str]] = {
    "stores_per_million": ("Stores per million people", "stores / million people"),
    "covered_share": ("Population covered", "% of population"),
    "market_share": ("Own market share", "% of demand (Huff, vs competitors)"),
    "new_stores": ("New stores", "stores"),
}
"""Label and unit of every admin-level KPI (the map's ``map.choropleth_kpi``)."""


def covered_mask(inst: Instance, open_sites: np.ndarray) -> np.ndarray:
    """Cells within the catchment radius of at least one open site."""
    is_open = np.zeros(inst.n_sites, dtype=bool)
    is_open[open_sites] = True
    ok = is_open[inst.pair_site] & (inst.pair_km <= inst.radius_km[inst.pair_site])
    covered = np.zeros(inst.n_cells, dtype=bool)
    covered[inst.pair_cell[ok]] = True
    return covered


def own_attraction(inst: Instance, open_sites: np.ndarray) -> np.ndarray:
    """S_i: the own network's Huff attraction on every cell."""
    is_open = np.zeros(inst.n_sites, dtype=bool)
    is_open[open_sites] = True
    m = is_open[inst.pair_site]
    attr = inst.site_attr if inst.site_attr is not None else np.ones(inst.n_sites)
    return np.bincount(
        inst.pair_cell[m], weights=attraction(attr[inst.pair_site[m]], inst.pair_km[m], inst.beta),
        minlength=inst.n_cells,
    )


def huff_share(attraction: np.ndarray, total: np.ndarray) -> np.ndarray:
    """Huff share of every cell: ``attraction / total`` where the cell has any pull, else 0.

    The one Huff share of the report: the own brand's (``own_share_per_cell``),
    each competitor's (``huff_shares``) and the map's captured share all use it.
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, attraction / total, 0.0)


def _own_and_total(built: BuiltInstance, open_sites: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """S_i (own attraction) and S_i + the competitors' pull, per cell."""
    own = own_attraction(built.instance, open_sites)
    return own, own + built.cells["competitor_pull"].to_numpy()


def own_share_per_cell(built: BuiltInstance, open_sites: np.ndarray) -> np.ndarray:
    """The own brand's Huff share of every cell's demand (0 where nothing pulls)."""
    return huff_share(*_own_and_total(built, open_sites))


def huff_shares(built: BuiltInstance, open_sites: np.ndarray) -> dict[str, float]:
    """Share of all modelled demand won by the own brand and by each competitor (Huff)."""
    inst, cells = built.instance, built.cells
    own, total = _own_and_total(built, open_sites)
    pull_cols = [c for c in cells.columns if c.startswith("pull_")]
    w = inst.weight
    denom = float(w.sum()) or 1.0
    out = {"own": float(np.nansum(w * huff_share(own, total)) / denom)}
    for col in pull_cols:
        out[col.removeprefix("pull_")] = float(np.nansum(w * huff_share(cells[col].to_numpy(), total)) / denom)
    return out


def cell_values(built: BuiltInstance, sol: Solution) -> pd.DataFrame:
    """Demand and the own brand's captured (Huff) share per cell, for the map's hexagons and shares."""
    share = own_share_per_cell(built, np.asarray(sol.open_sites))
    return pd.DataFrame({"h3": built.cells["h3"], "demand": built.cells["demand"], "captured_share": share})


def nearest_store_km(built: BuiltInstance, open_sites: np.ndarray) -> np.ndarray:
    """Great-circle km from every cell to its nearest open own store (p-center input)."""
    s = built.sites.iloc[open_sites]
    km, _ = nearest_km(built.cells["lon"].to_numpy(), built.cells["lat"].to_numpy(), s["lon"].to_numpy(), s["lat"].to_numpy())
    return km


def plan_table(
    built: BuiltInstance,
    sol: Solution,
    layers: Any,
    *,
    quarter_labels: list[str] | None = None,
) -> pd.DataFrame:
    """One row per open store with its place, format, quarter and the figures that defend it."""
    inst = built.instance
    open_sites = np.sort(np.asarray(sol.open_sites, dtype=np.int64))
    s = built.sites.iloc[open_sites].reset_index(drop=True)
    names = {
        "province": layers.provinces.set_index("code")["name"],
        "city": layers.cities.set_index("code")["name"],
        "county": layers.counties.set_index("code")["name"],
    }
    explain = per_site_explain(inst, open_sites, sol.objective_kind)
    # catchment population: people (not demand) within each store's radius
    pop = built.cells["population"].to_numpy()
    in_radius = inst.pair_km <= inst.radius_km[inst.pair_site]
    catch_pop = np.bincount(inst.pair_site[in_radius], weights=pop[inst.pair_cell[in_radius]], minlength=inst.n_sites)
    own_km, _ = nearest_km(s["lon"].to_numpy(), s["lat"].to_numpy(), s["lon"].to_numpy(), s["lat"].to_numpy(), exclude_self=True)
    comp = layers.competitors
    comp_km, _ = nearest_km(s["lon"].to_numpy(), s["lat"].to_numpy(), comp["lon"].to_numpy(), comp["lat"].to_numpy())
    ci, _, _ = pairs_within(s["lon"].to_numpy(), s["lat"].to_numpy(), comp["lon"].to_numpy(), comp["lat"].to_numpy(), s["radius_km"].to_numpy())
    quarter = [""] * len(s)
    if sol.quarter is not None and quarter_labels is not None:
        q = np.asarray(sol.quarter)
        order = np.argsort(np.asarray(sol.open_sites))
        q_sorted = q[order]
        quarter = [quarter_labels[x] if x >= 0 else "" for x in q_sorted]
    plan = pd.DataFrame(
        {
            "store_id": s["site_id"],
            "status": np.where(s["existing"], "existing", "new"),
            "lat": s["lat"].round(6),
            "lon": s["lon"].round(6),
            "province": s["province_code"].map(names["province"]),
            "city": s["city_code"].map(names["city"]),
            "county": s["county_code"].map(names["county"]),
            "tier": s["tier"],
            "format": s["format"],
            "quarter": quarter,
            "name": s["name"],
            "province_code": s["province_code"],
            "city_code": s["city_code"],
            "county_code": s["county_code"],
            "catchment_population": np.round(catch_pop[open_sites]).astype(np.int64),
            "marginal_value": np.round(explain["marginal_value"], 3),
            "cannibalised_pct": np.round(explain["cannibalised_pct"], 2),
            "nearest_own_km": np.round(own_km, 3),
            "nearest_competitor_km": np.round(comp_km, 3),
            "competitors_in_catchment": np.bincount(ci, minlength=len(s)),
        }
    )
    plan = plan.sort_values(["status", "province_code", "store_id"], key=lambda c: c.map({"existing": 0, "new": 1}) if c.name == "status" else c)
    return plan.reset_index(drop=True)


def compute_kpis(
    built: BuiltInstance,
    sol: Solution,
    plan: pd.DataFrame,
    layers: Any,
    *,
    scenario_name: str,
    illustrative: bool,
) -> dict[str, Any]:
    """National, per-tier and per-province KPIs, all recomputed from the open sites."""
    inst, cells = built.instance, built.cells
    open_sites = np.sort(np.asarray(sol.open_sites, dtype=np.int64))
    pop = cells["population"].to_numpy()
    covered = covered_mask(inst, open_sites)
    shares = huff_shares(built, open_sites)
    near = nearest_store_km(built, open_sites)
    populated = pop > 0
    objectives = {k: float(objective_value(inst, open_sites, k)) for k in OBJECTIVES}
    total_pop = float(pop.sum())
    kpis: dict[str, Any] = {
        "scenario": scenario_name,
        "objective_kind": sol.objective_kind,
        "objective": float(sol.objective),
        "bound": None if sol.bound is None else float(sol.bound),
        "gap": None if sol.gap is None else float(sol.gap),
        "status": sol.status,
        "methods": dict(sol.methods),
        "objectives": objectives,
        "cost_unit": built.cost_unit,
        "stores": int(len(open_sites)),
        "existing_stores": int((plan["status"] == "existing").sum()),
        "new_stores": int((plan["status"] == "new").sum()),
        "population": total_pop,
        "covered_population": float(pop[covered].sum()),
        "covered_share": float(pop[covered].sum() / total_pop) if total_pop else 0.0,
        "covered_demand_share": float(inst.weight[covered].sum() / inst.weight.sum()) if inst.weight.sum() else 0.0,
        "market_share": shares,
        # straight-line km; the instance's unreachable cost caps it only when the instance is in km too
        "mean_distance_km": float(np.average(
            np.minimum(near, inst.unreachable_km if built.cost_unit == "km" else np.inf), weights=pop
        )) if total_pop else None,
        "p_center_km": float(np.nanmax(near[populated])) if populated.any() else None,
        "capex_cny": float(built.sites["capex_cny"].to_numpy()[open_sites].sum()),
        "opex_cny_per_year": float(built.sites["opex_cny"].to_numpy()[open_sites].sum()),
        "illustrative_networks": bool(illustrative),
    }
    per_tier = []
    tiers = cells["tier"].astype(str).to_numpy()
    for t in ["1", "new1", "2", "3", "4", "5"]:
        m = tiers == t
        per_tier.append(
            {
                "tier": t,
                "population": float(pop[m].sum()),
                "stores": int((plan["tier"].astype(str) == t).sum()),
                "covered_share": float(pop[m & covered].sum() / pop[m].sum()) if pop[m].sum() else 0.0,
            }
        )
    kpis["per_tier"] = per_tier
    per_province = []
    prov_cells = cells["province_code"].astype(str).to_numpy()
    own_share_cell = own_share_per_cell(built, open_sites)
    for row in layers.provinces.sort_values("code").itertuples(index=False):
        m = prov_cells == str(row.code)
        p_pop = float(pop[m].sum())
        in_prov = plan["province_code"].astype(str) == str(row.code)
        stores = int(in_prov.sum())
        sub = plan[in_prov]
        per_province.append(
            {
                "province_code": str(row.code),
                "province": row.name,
                "population": p_pop,
                "stores": stores,
                "new_stores": int((sub["status"] == "new").sum()),
                "stores_per_million": stores / (p_pop / 1e6) if p_pop else 0.0,
                "covered_share": float(pop[m & covered].sum() / p_pop) if p_pop else 0.0,
                "market_share": float(np.average(own_share_cell[m], weights=inst.weight[m])) if inst.weight[m].sum() else 0.0,
                "catchment_population": int(sub["catchment_population"].sum()),
                "marginal_value": float(sub["marginal_value"].sum()),
                "cannibalised_pct": float(np.average(sub["cannibalised_pct"], weights=sub["catchment_population"].clip(lower=1))) if stores else 0.0,
                "nearest_own_km": float(sub["nearest_own_km"].median()) if stores else None,
                "nearest_competitor_km": float(sub["nearest_competitor_km"].median()) if stores else None,
                "competitors_in_catchment": int(sub["competitors_in_catchment"].sum()),
            }
        )
    kpis["per_province"] = per_province
    return kpis


_PARENTS = {"province": (), "city": ("province_code",), "county": ("city_code", "province_code")}


def unit_kpi_table(
    level: str, built: BuiltInstance, sol: Solution, plan: pd.DataFrame, layers: Any
) -> pd.DataFrame:
    """The KPIs of every unit of one admin level: the ``per_province`` figures, for any level.

    One row per unit of the layers (sorted by code), with the columns of
    ``kpis["per_province"]`` renamed for the level (``city_code``, ``city``, ...),
    the parent units' codes, and the same definitions: population of the demand
    cells, stores and new stores from the plan, stores per million people,
    covered share (people), own Huff market share (demand-weighted), sums and
    medians of the plan's per-store figures. At province level it reproduces
    ``kpis["per_province"]`` (a test holds the two together).

    Parameters
    ----------
    level : {'province', 'city', 'county'}
    built, sol, plan, layers
        As for :func:`compute_kpis`.

    Returns
    -------
    pandas.DataFrame
    """
    if level not in ADMIN_LEVELS:
        raise ValueError(f"unknown admin level {level!r}; expected one of {ADMIN_LEVELS}")
    inst, cells = built.instance, built.cells
    open_sites = np.sort(np.asarray(sol.open_sites, dtype=np.int64))
    code_col = f"{level}_code"
    units = admin_units(layers, level).sort_values("code")
    codes = gb_codes(units["code"]).to_numpy()
    pop = cells["population"].to_numpy(dtype=float)
    covered = covered_mask(inst, open_sites)
    share = own_share_per_cell(built, open_sites)
    w = inst.weight
    cell_df = pd.DataFrame({
        "code": gb_codes(cells[code_col]).to_numpy(), "pop": pop, "covered_pop": np.where(covered, pop, 0.0),
        "w": w, "ws": w * share,
    })
    g = cell_df.groupby("code")[["pop", "covered_pop", "w", "ws"]].sum().reindex(codes, fill_value=0.0)
    p = plan.assign(_code=gb_codes(plan[code_col]).to_numpy(), _new=(plan["status"] == "new").to_numpy(),
                    _w=plan["catchment_population"].clip(lower=1).to_numpy(dtype=float))
    p["_wc"] = p["_w"] * p["cannibalised_pct"]
    by = p.groupby("_code")
    stores = by.size().reindex(codes, fill_value=0).to_numpy()
    n_pop = g["pop"].to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        out = pd.DataFrame({
            code_col: codes,
            level: units["name"].astype(str).to_numpy(),
            **{c: gb_codes(units[c]).to_numpy() for c in _PARENTS[level]},
            "population": n_pop,
            "stores": stores,
            "new_stores": by["_new"].sum().reindex(codes, fill_value=0).to_numpy().astype(int),
            "stores_per_million": np.where(n_pop > 0, stores / (n_pop / 1e6), 0.0),
            "covered_share": np.where(n_pop > 0, g["covered_pop"].to_numpy() / n_pop, 0.0),
            "market_share": np.where(g["w"].to_numpy() > 0, g["ws"].to_numpy() / g["w"].to_numpy(), 0.0),
            "catchment_population": by["catchment_population"].sum().reindex(codes, fill_value=0).to_numpy().astype(int),
            "marginal_value": by["marginal_value"].sum().reindex(codes, fill_value=0.0).to_numpy(dtype=float),
            "cannibalised_pct": (by["_wc"].sum() / by["_w"].sum()).reindex(codes, fill_value=0.0).to_numpy(dtype=float),
            "nearest_own_km": by["nearest_own_km"].median().reindex(codes).to_numpy(dtype=float),
            "nearest_competitor_km": by["nearest_competitor_km"].median().reindex(codes).to_numpy(dtype=float),
            "competitors_in_catchment": by["competitors_in_catchment"].sum().reindex(codes, fill_value=0).to_numpy().astype(int),
        })
    return out.reset_index(drop=True)


#: What the rollout's ``objective`` (and ``rollout.csv``'s ``objective`` column, per quarter) measures.
ROLLOUT_OBJECTIVE: dict[str, tuple[str, str]] = {
    "coverage": ("covered demand, summed over the quarters", "demand × quarters"),
    "market_share": ("captured demand (Huff), summed over the quarters", "demand × quarters"),
    "distance": ("demand-weighted distance, summed over the quarters", "demand·km × quarters"),
    "profit": ("NPV of the rollout: the quarters' discounted cash (EBITDA − capex), summed", "CNY"),
}


def rollout_kpis(result: Any, table: pd.DataFrame, quarter_labels: list[str] | None) -> dict[str, Any]:
    """``kpis["rollout"]``: mode, quarters, openings per quarter, objective (what and in which unit), bound, gap, status.

    With ``profit`` the objective and its bound are the NPV in CNY (equal to ``pnl.npv_cny``).
    """
    out: dict[str, Any] = {
        "mode": result.mode,
        "quarters": quarter_labels,
        "opened_per_quarter": table["opened"].astype(int).tolist(),
    }
    kind = getattr(result, "objective_kind", None)
    if kind is not None:
        label, unit = ROLLOUT_OBJECTIVE.get(str(kind), (str(kind), ""))
        out.update(objective_kind=str(kind), objective_label=label, objective_unit=unit)
    return out | {
        "objective": float(result.objective),
        "bound": None if result.bound is None else float(result.bound),
        "gap": None if result.gap is None else float(result.gap),
        "status": result.status,
    }


# --------------------------------------------------------------------------- admin units and the grid
def gb_codes(s: pd.Series) -> pd.Series:
    """GB codes as strings ('440300'), whatever dtype a table gave them."""
    out = s.astype("string").str.strip()
    return out.str.replace(r"\.0$", "", regex=True)



def admin_units(layers: Layers, level: str) -> gpd.GeoDataFrame:
    """The unit table of one admin level (``province``, ``city`` or ``county``) of the layers."""
    return {"province": layers.provinces, "city": layers.cities, "county": layers.counties}[level]


def _cell_shares(
    cell_values: pd.DataFrame | None, cells: gpd.GeoDataFrame, kpi: str, objective_kind: str
) -> pd.DataFrame | None:
    """Per-cell share for ``covered_share`` / ``market_share`` with its weight, or None.

    An explicit column of that name in ``cell_values`` wins; otherwise
    ``captured_share`` stands for the KPI the objective optimised (coverage →
    covered share, market_share → own market share).
    """
    if cell_values is None or cell_values.empty or "h3" not in cell_values:
        return None
    if kpi in cell_values:
        col = kpi
    elif "captured_share" in cell_values and (
        (kpi == "covered_share" and objective_kind == "coverage")
        or (kpi == "market_share" and objective_kind == "market_share")
    ):
        col = "captured_share"
    else:
        return None
    cv = cell_values[["h3", col] + (["demand"] if "demand" in cell_values else [])].copy()
    cv["h3"] = cv["h3"].astype(str)
    c = pd.DataFrame(
        {
            "h3": cells["h3"].astype(str).to_numpy(),
            "population": cells["population"].to_numpy(dtype=float),
            "province_code": gb_codes(cells["province_code"]).to_numpy(),
            "city_code": gb_codes(cells["city_code"]).to_numpy(),
            "county_code": gb_codes(cells["county_code"]).to_numpy(),
        }
    )
    m = c.merge(cv, on="h3", how="inner")
    if kpi == "market_share" and "demand" in m:
        m["weight"] = m["demand"].astype(float)
    else:
        m["weight"] = m["population"]
    m["share"] = m[col].astype(float)
    return m


def admin_kpi_table(
    level: str,
    *,
    layers: Layers,
    plan: pd.DataFrame,
    kpis: Mapping[str, Any],
    kpi: str,
    cell_values: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The choropleth KPI of every unit of one admin level, computed from the plan.

    Parameters
    ----------
    level : {'province', 'city', 'county'}
        Admin level.
    layers : Layers
        Geodata layers (the unit table gives code, name, population).
    plan : pandas.DataFrame
        The plan table (``plan.csv``), one row per open store.
    kpis : mapping
        ``kpis.json``; its ``per_province`` figures are used for shares at province level.
    kpi : str
        One of :data:`KPI_LABELS`.
    cell_values : pandas.DataFrame, optional
        Per-cell ``h3``, ``demand``, ``captured_share`` (and optionally
        ``covered_share`` / ``market_share``); shares below province level come from here.

    Returns
    -------
    pandas.DataFrame
        Indexed by code, columns ``name``, ``population``, ``stores``, ``new_stores``,
        ``value`` (the KPI; NaN where unknown; shares are fractions 0–1).
    """
    if level not in ADMIN_LEVELS:
        raise ValueError(f"unknown admin level {level!r}; expected one of {ADMIN_LEVELS}")
    if kpi not in KPI_LABELS:
        raise ValueError(f"unknown choropleth KPI {kpi!r}; expected one of {sorted(KPI_LABELS)}")
    units = admin_units(layers, level)
    out = pd.DataFrame(
        {
            "name": units["name"].astype(str).to_numpy(),
            "population": pd.to_numeric(units["population"], errors="coerce").to_numpy(dtype=float),
        },
        index=pd.Index(gb_codes(units["code"]).to_numpy(), name="code"),
    )
    code_col = f"{level}_code"
    if len(plan) and code_col in plan:
        codes = gb_codes(plan[code_col])
        out["stores"] = codes.value_counts().reindex(out.index, fill_value=0).to_numpy()
        new = codes[plan["status"].astype(str).to_numpy() == "new"]
        out["new_stores"] = new.value_counts().reindex(out.index, fill_value=0).to_numpy()
    else:
        out["stores"] = 0
        out["new_stores"] = 0
    if kpi == "stores_per_million":
        with np.errstate(divide="ignore", invalid="ignore"):
            out["value"] = np.where(out["population"] > 0, out["stores"] / out["population"] * 1e6, np.nan)
    elif kpi == "new_stores":
        out["value"] = out["new_stores"].astype(float)
    else:
        out["value"] = np.nan
        per_prov = {str(p.get("province_code")): p.get(kpi) for p in kpis.get("per_province") or []}
        if level == "province" and any(v is not None for v in per_prov.values()):
            out["value"] = [float(per_prov[c]) if per_prov.get(c) is not None else np.nan for c in out.index]
        else:
            shares = _cell_shares(cell_values, layers.cells, kpi, str(kpis.get("objective_kind", "")))
            if shares is not None and len(shares):
                shares["ws"] = shares["weight"] * shares["share"]
                g = shares.groupby(code_col)[["ws", "weight"]].sum()
                val = (g["ws"] / g["weight"].where(g["weight"] > 0)).reindex(out.index)
                out["value"] = val.to_numpy(dtype=float)
    return out



def h3_parents(ids: np.ndarray, res: int) -> np.ndarray:
    """Vectorised ``h3.cell_to_parent`` on 64-bit cell ids (same resolution, coarser ``res``).

    An H3 cell id keeps its resolution in bits 52–55 and one 3-bit digit per
    resolution 1–15 below bit 45; the parent has the coarser resolution and the
    digits past it set to 7 (unused).
    """
    out = ids & ~np.uint64(0xF << 52) | np.uint64(res << 52)
    unused = 0
    for r in range(res + 1, 16):
        unused |= 0b111 << ((15 - r) * 3)
    return out | np.uint64(unused)


def aggregate_grid(
    cells: pd.DataFrame, cell_values: pd.DataFrame | None, *, max_cells: int, min_resolution: int = 3
) -> pd.DataFrame:
    """H3 hexagons to draw: per-cell population, demand and captured share, aggregated.

    Cells are merged into their H3 parents, one resolution at a time, until at most
    ``max_cells`` remain (or ``min_resolution`` is reached); if still too many, the
    most populous ``max_cells`` are kept.

    Parameters
    ----------
    cells : pandas.DataFrame
        ``layers.cells`` (``h3``, ``population``).
    cell_values : pandas.DataFrame, optional
        ``h3``, ``demand``, ``captured_share`` from the run.
    max_cells : int
        Most hexagons drawn (``map.max_grid_cells``); 0 means none.
    min_resolution : int
        Coarsest H3 resolution aggregation may reach.

    Returns
    -------
    pandas.DataFrame
        ``h3``, ``resolution``, ``population``, ``demand`` (NaN without cell values),
        ``captured_share`` (demand-weighted mean, NaN without cell values), ``cells``
        (grid cells merged into this hexagon).
    """
    cols = ["h3", "resolution", "population", "demand", "captured_share", "cells"]
    if max_cells <= 0 or cells is None or len(cells) == 0:
        return pd.DataFrame(columns=cols)
    df = pd.DataFrame(
        {"h3": cells["h3"].astype(str).to_numpy(), "population": cells["population"].to_numpy(dtype=float)}
    )
    if cell_values is not None and len(cell_values) and "h3" in cell_values:
        cv = cell_values.copy()
        cv["h3"] = cv["h3"].astype(str)
        keep = [c for c in ("demand", "captured_share") if c in cv]
        df = df.merge(cv[["h3", *keep]], on="h3", how="left")
    for c in ("demand", "captured_share"):
        if c not in df:
            df[c] = np.nan
    df["captured"] = df["demand"] * df["captured_share"]
    df["cells"] = 1
    res = h3.get_resolution(df["h3"].iloc[0])
    if len(df) > max_cells and res > min_resolution:
        ids = np.array([int(c, 16) for c in df["h3"]], dtype=np.uint64)
        while len(df) > max_cells and res > min_resolution:
            res -= 1
            df["h3"] = h3_parents(ids, res)
            df = df.groupby("h3", as_index=False, sort=False)[["population", "demand", "captured", "cells"]].sum(
                min_count=1
            )
            ids = df["h3"].to_numpy(dtype=np.uint64)
        df["h3"] = [format(int(i), "x") for i in ids]
    if len(df) > max_cells:
        df = df.nlargest(max_cells, "population")
    with np.errstate(divide="ignore", invalid="ignore"):
        df["captured_share"] = np.where(df["demand"] > 0, df["captured"] / df["demand"], np.nan)
    df["resolution"] = res
    return df[cols].reset_index(drop=True)

