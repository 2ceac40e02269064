"""The command's data: counties to draw areas on, the command's parameters, and the territories drawn.

Plain numbers and arrays only, like :mod:`planner.optimise.types`: the territory
solver :mod:`planner.optimise.command`, the rollout's area-manager pool and the
independent checker :mod:`planner.optimise.command_check` read these types and
nothing else of each other. :class:`CommandParams` mirrors the scenario's
``command`` section field by field (``planner.instance`` builds it from the
validated config), so nothing in ``planner.optimise`` imports the config.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

__all__ = ["CommandParams", "TerritoryInstance", "Territories", "EXCEPTIONS", "NO_AREA"]

#: ``Territories.county_area`` of a county in no area.
NO_AREA = -1

#: Why an area may break a size limit (``areas.csv``'s ``exception`` column; "" = none).
EXCEPTIONS: dict[str, str] = {
    "small_province": "the province (or its part cut off by more than the water link) has fewer stores "
    "than the minimum: one area",
    "big_county": "a single county holds more stores than the maximum: an area on its own",
    "relaxed_minimum": "no cut into connected areas of the minimum size exists here: an area below the minimum",
}


@dataclass(frozen=True)
class CommandParams:
    """The command's limits as plain numbers (the scenario's ``command`` section, validated).

    Field names are the scenario keys under ``command.`` (messages name them so);
    defaults are those of ``planner.config.models.CommandConfig`` (a test keeps
    the two equal).

    Parameters
    ----------
    min_stores_per_area, max_stores_per_area
        Size limits of an area in stores (final network).
    promotion_after_quarters
        Quarters a store manager must have led a store before promotion.
    external_area_hires_per_quarter
        Most area managers hired from outside per quarter.
    initial_area_managers
        Area managers at the start; None = one per area holding a store open before the horizon.
    compactness_weight
        Weight of one store-km of travel from the area's centre against one
        thousandth of the target workload in the objective.
    balance_weight
        Weight of the areas' workload deviation from the target (in thousandths
        of the target) in the objective.
    """

    min_stores_per_area: int = 6
    max_stores_per_area: int = 12
    promotion_after_quarters: int = 4
    external_area_hires_per_quarter: int = 2
    initial_area_managers: int | None = None
    compactness_weight: float = 1.0
    balance_weight: float = 0.1


@dataclass
class TerritoryInstance:
    """Counties of the final network to cut into areas.

    Parameters
    ----------
    county_province
        int[C] province index of each county (0-based).
    county_stores
        int[C] open stores of the final network in each county.
    county_workload
        float[C] the workload of those stores (catchment demand, or sales).
    county_xy_km
        float[C, 2] a point of each county (its centroid) in a metric CRS (km).
    adj_a, adj_b
        int[E] neighbouring county pairs (shared border or a water link), same province.
    county_codes, province_names
        For messages and outputs.
    """

    county_province: np.ndarray
    county_stores: np.ndarray
    county_workload: np.ndarray
    county_xy_km: np.ndarray
    adj_a: np.ndarray
    adj_b: np.ndarray
    county_codes: Sequence[str] | None = None
    province_names: Sequence[str] | None = None

    def __post_init__(self) -> None:
        self.county_province = np.asarray(self.county_province, dtype=np.int64)
        self.county_stores = np.asarray(self.county_stores, dtype=np.int64)
        self.county_workload = np.asarray(self.county_workload, dtype=float)
        self.county_xy_km = np.asarray(self.county_xy_km, dtype=float).reshape(-1, 2)
        self.adj_a = np.asarray(self.adj_a, dtype=np.int64)
        self.adj_b = np.asarray(self.adj_b, dtype=np.int64)
        c = self.county_province.size
        for name in ("county_stores", "county_workload"):
            if getattr(self, name).shape != (c,):
                raise ValueError(f"{name} must have shape ({c},)")
        if self.county_xy_km.shape != (c, 2):
            raise ValueError(f"county_xy_km must have shape ({c}, 2)")
        if self.adj_a.shape != self.adj_b.shape:
            raise ValueError("adj_a and adj_b differ in shape")

    @property
    def n_counties(self) -> int:
        """Counties."""
        return int(self.county_province.size)

    def county_label(self, c: int) -> str:
        """Code of county ``c`` for messages."""
        if self.county_codes is not None and 0 <= c < len(self.county_codes):
            return str(self.county_codes[c])
        return f"#{c}"

    def province_label(self, p: int) -> str:
        """Name of province ``p`` for messages."""
        if self.province_names is not None and 0 <= p < len(self.province_names):
            return str(self.province_names[p])
        return f"#{p}"


@dataclass
class Territories:
    """Areas drawn on a :class:`TerritoryInstance`.

    ``county_area[c]`` is the area of county ``c`` (:data:`NO_AREA` = none);
    ``area_centre[a]`` the county at an area's centre, ``area_exception[a]`` a key
    of :data:`EXCEPTIONS` or "". ``objective`` is the balance/compactness
    objective (smaller is better; the sum over provinces), ``bound`` a proven
    lower bound on it, ``gap`` ``incumbent.relative_gap`` of the two.
    """

    county_area: np.ndarray
    area_province: np.ndarray
    area_centre: np.ndarray
    area_exception: list[str]
    objective: float
    bound: float | None
    gap: float | None
    seconds: float
    status: str
    methods: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def n_areas(self) -> int:
        """Areas."""
        return int(self.area_province.size)
