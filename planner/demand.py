"""Demand per grid cell and the competitors' pull on it.

Demand is people × spend × tier: a cell's population, times its province's
per-capita disposable income relative to the national mean raised to
``demand.income_elasticity``, times the ``demand.tier_factor`` of its city's
tier. The unit is "standard-spend people": a cell of 1,000 people in a province
at the national income and a tier-3 city has demand 1,000.

The competitors' pull on a cell is the Huff attraction of every competitor
store within reach: Σ brand_weight × (1 + d_km)^(-β), over stores no farther
than the cell's own-brand catchment radius × the largest format reach (beyond
that an own store could not compete for the cell anyway). With travel minutes
(``data.travel_costs``) the distance in the kernel is minutes at
``data.travel_speed_kmh``, the unit the own stores' pairs then have.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from planner.config.models import Scenario
from planner.errors import ConfigError
from planner.geodata.layers import Layers
from planner.optimise.types import attraction
from planner.spatial import km_to_minutes, minutes_to_km, pairs_within

__all__ = ["compute_demand", "catchment_km_of", "market_cny_per_demand"]


def catchment_km_of(tiers: pd.Series | np.ndarray, scenario: Scenario) -> np.ndarray:
    """Standard-format catchment radius (km) for each tier label."""
    radius = scenario.objective.catchment_km
    return np.array([radius[str(t)] for t in np.asarray(tiers)], dtype=float)


def _relative_income(layers: Layers, scenario: Scenario) -> pd.Series:
    """Per-province income relative to the population-weighted mean, ^ elasticity."""
    prov = layers.provinces.set_index("code")
    if not scenario.demand.use_income:
        return pd.Series(1.0, index=prov.index)
    income = prov["income_cny"].astype(float)
    pop = prov["population"].astype(float)
    mean = float((income * pop).sum() / pop.sum())
    return (income / mean) ** scenario.demand.income_elasticity


def market_cny_per_demand(layers: Layers, scenario: Scenario) -> float:
    """Yearly offline market (CNY) of one unit of demand (one "standard-spend person").

    Demand is people × (income / mean income)^elasticity × tier factor, so one unit
    is worth the population-weighted mean per-capita disposable income (CNY per year,
    ``data.province_income``) × ``economics.category_spend_share_pct`` ×
    ``economics.offline_share_pct``; a cell's market is its demand times this.
    """
    prov = layers.provinces
    income = prov["income_cny"].astype(float)
    pop = prov["population"].astype(float)
    mean_income = float((income * pop).sum() / pop.sum()) if float(pop.sum()) > 0 else 0.0
    e = scenario.economics
    return mean_income * e.category_spend_share_pct / 100.0 * e.offline_share_pct / 100.0


def compute_demand(layers: Layers, scenario: Scenario) -> pd.DataFrame:
    """Demand and competitor pull for every populated cell.

    Returns
    -------
    pandas.DataFrame
        One row per cell of ``layers.cells`` (same order) with columns
        ``h3, population, demand, market_cny_per_year, competitor_pull`` and
        ``pull_<brand>`` per competitor.
    """
    cells = layers.cells
    rel_income = _relative_income(layers, scenario)
    income_factor = cells["province_code"].map(rel_income).fillna(1.0).to_numpy(dtype=float)
    tier_factor = cells["tier"].astype(str).map(scenario.demand.tier_factor).to_numpy(dtype=float)
    if np.isnan(tier_factor).any():
        bad = sorted(set(cells.loc[np.isnan(tier_factor), "tier"].astype(str)))
        raise ConfigError(f"demand.tier_factor: no factor for tier(s) {bad}.")
    population = cells["population"].to_numpy(dtype=float)
    out = pd.DataFrame(
        {
            "h3": cells["h3"].to_numpy(),
            "population": population,
            "demand": population * income_factor * tier_factor,
        }
    )
    out["market_cny_per_year"] = out["demand"] * market_cny_per_demand(layers, scenario)
    out["competitor_pull"] = 0.0
    comp = layers.competitors
    if len(comp) == 0 or len(cells) == 0:
        return out
    weights = scenario.networks.brand_weight
    max_reach = max(
        (f.reach_factor for f in scenario.formats.catalogue.values()), default=1.0
    ) if scenario.formats.enabled else 1.0
    reach = catchment_km_of(cells["tier"], scenario) * max_reach
    # with travel minutes (data.travel_costs) the Huff kernel sees minutes: the rivals' stores
    # then count at the stated straight-line speed, the same as the own pairs the file leaves out
    minutes = layers.travel_costs is not None and layers.travel_costs.unit == "min"
    speed = scenario.data.travel_speed_kmh
    if minutes:
        catch_min = np.array([scenario.objective.catchment_min[str(t)] for t in cells["tier"]], dtype=float)
        reach = minutes_to_km(catch_min * max_reach, speed)
    beta = scenario.objective.huff_beta
    for brand, group in comp.groupby("brand", sort=True):
        if brand not in weights:
            raise ConfigError(
                f"networks.brand_weight: no weight for competitor brand {brand!r}; "
                f"add `networks.brand_weight.{brand}: 1.0` (known: {sorted(weights)})."
            )
        ci, _, km = pairs_within(
            cells["lon"].to_numpy(), cells["lat"].to_numpy(),
            group["lon"].to_numpy(), group["lat"].to_numpy(), reach,
        )
        cost = km_to_minutes(km, speed) if minutes else km
        pull = np.bincount(ci, weights=attraction(np.full(km.shape, weights[brand]), cost, beta), minlength=len(cells))
        out[f"pull_{brand}"] = pull
        out["competitor_pull"] += pull
    return out
