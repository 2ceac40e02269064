"""KPIs of a solved plan: per store, per province, per tier and for the nation.

Reads a solved instance (arrays + the site and cell tables) and never solves.
Every figure is recomputed here from the open sites, so the numbers in
``plan.csv`` and ``kpis.json`` do not depend on what the optimiser reported.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from planner.instance import BuiltInstance
from planner.optimise.check import objective_value, per_site_explain
from planner.optimise.types import Instance, Solution
from planner.spatial import nearest_km, pairs_within

__all__ = ["huff_shares", "plan_table", "compute_kpis", "covered_mask", "nearest_store_km"]

OBJECTIVES = ("coverage", "distance", "market_share")


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
        inst.pair_cell[m], weights=attr[inst.pair_site[m]] * (1.0 + inst.pair_km[m]) ** (-inst.beta),
        minlength=inst.n_cells,
    )


def huff_shares(built: BuiltInstance, open_sites: np.ndarray) -> dict[str, float]:
    """Share of all modelled demand won by the own brand and by each competitor (Huff)."""
    inst, cells = built.instance, built.cells
    own = own_attraction(inst, open_sites)
    pull_cols = [c for c in cells.columns if c.startswith("pull_")]
    total = own + cells["competitor_pull"].to_numpy()
    w = inst.weight
    denom = float(w.sum()) or 1.0
    with np.errstate(invalid="ignore", divide="ignore"):
        out = {"own": float(np.nansum(w * np.where(total > 0, own / total, 0.0)) / denom)}
        for col in pull_cols:
            p = cells[col].to_numpy()
            out[col.removeprefix("pull_")] = float(np.nansum(w * np.where(total > 0, p / total, 0.0)) / denom)
    return out


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
        "stores": int(len(open_sites)),
        "existing_stores": int((plan["status"] == "existing").sum()),
        "new_stores": int((plan["status"] == "new").sum()),
        "population": total_pop,
        "covered_population": float(pop[covered].sum()),
        "covered_share": float(pop[covered].sum() / total_pop) if total_pop else 0.0,
        "covered_demand_share": float(inst.weight[covered].sum() / inst.weight.sum()) if inst.weight.sum() else 0.0,
        "market_share": shares,
        "mean_distance_km": float(np.average(np.minimum(near, inst.unreachable_km), weights=pop)) if total_pop else None,
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
    own_s = own_attraction(inst, open_sites)
    total_pull = own_s + cells["competitor_pull"].to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        own_share_cell = np.where(total_pull > 0, own_s / total_pull, 0.0)
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
