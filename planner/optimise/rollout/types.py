"""The rollout's data: what scheduling needs per site, its parameters, and its result.

Plain numbers and arrays only, like :mod:`planner.optimise.types`: the solvers in
this package and the independent checker :mod:`planner.optimise.rollout_check`
both read these types and nothing else of each other. :class:`RolloutParams`
mirrors the scenario's ``rollout`` section field by field (``planner.instance``
builds it from the validated config), so nothing in ``planner.optimise`` imports
the config. The quarter labels and the per-quarter table's columns live here
because the pipeline and the report use them too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
import pandas as pd

from planner.optimise.command_types import CommandParams
from planner.optimise.types import Instance, ObjectiveKind, Solution

__all__ = [
    "TOL",
    "TABLE_COLUMNS",
    "RolloutMode",
    "MipBackend",
    "RolloutParams",
    "RolloutInstance",
    "RolloutResult",
    "ManagerPool",
    "CommandPool",
    "quarter_labels",
]

#: Absolute tolerance on managers and money (fractional pool, float sums).
TOL = 1e-6

#: Columns of the per-quarter table, in order (``rollout.csv``).
TABLE_COLUMNS: tuple[str, ...] = (
    "quarter",
    "opened",
    "open_total",
    "managers_ready",
    "trainees",
    "capex_cny",
    "opex_cny",
    "objective",
    "covered_population",
    "market_share",
    "area_managers_ready",
    "areas",
    "promotions",
)

RolloutMode = Literal["two_stage", "joint"]
MipBackend = Literal["SCIP", "HIGHS"]


def quarter_labels(start_quarter: str, quarters: int) -> list[str]:
    """Labels ``YYYYQn`` of ``quarters`` consecutive quarters from ``start_quarter``.

    >>> quarter_labels("2027Q3", 3)
    ['2027Q3', '2027Q4', '2028Q1']
    """
    year, q = int(start_quarter[:4]), int(start_quarter[5]) - 1
    return [f"{year + (q + t) // 4}Q{(q + t) % 4 + 1}" for t in range(quarters)]


@dataclass(frozen=True)
class RolloutParams:
    """The rollout's limits as plain numbers (the scenario's ``rollout`` section, validated).

    Field names are the scenario keys under ``rollout.`` (messages name them so);
    the defaults are those of ``planner.config.models.RolloutConfig`` (a test
    keeps the two equal).

    Parameters
    ----------
    quarters
        Horizon in quarters.
    start_quarter
        Label ``YYYYQn`` of the first quarter.
    mode
        ``two_stage`` (sites first, then quarters) or ``joint``.
    initial_managers
        Ready store managers at the start.
    cadres_per_store
        Trainees each open store starts per quarter.
    training_quarters
        Quarters a trainee needs to become a manager.
    attrition_pct
        Share of ready managers without a store lost per quarter (%).
    external_hires_per_quarter
        Most managers hired per quarter.
    external_hire_cost_cny
        Cost of one external hire (CNY), paid from the capex budget.
    capex_budget_per_quarter_cny
        Capex budget per quarter (CNY); None = none.
    carry_over
        Unspent budget carries over to the next quarter.
    city_stores_before_county
        A province opens county stores only once it has this many city stores.
    max_openings_per_province_per_quarter
        The front command's capacity per province and quarter; None = none.
    """

    quarters: int = 10
    start_quarter: str = "2027Q1"
    mode: RolloutMode = "two_stage"
    initial_managers: int = 60
    cadres_per_store: float = 0.5
    training_quarters: int = 2
    attrition_pct: float = 5.0
    external_hires_per_quarter: int = 10
    external_hire_cost_cny: float = 300_000
    capex_budget_per_quarter_cny: float | None = None
    carry_over: bool = True
    city_stores_before_county: int = 3
    max_openings_per_province_per_quarter: int | None = 30


@dataclass
class RolloutInstance:
    """What scheduling needs per site, beside the site-selection instance.

    Parameters
    ----------
    instance
        The site-selection :class:`~planner.optimise.types.Instance` (objective,
        existing stores in ``fixed`` / ``existing``, and for the joint mode its
        constraints).
    site_province
        int[M] province index of every site (0-based, dense).
    site_is_county
        bool[M] True for a site in a county town, False for a city core (the
        chain of command opens city stores first).
    capex_cny
        float[M] one-off cost of opening each site (CNY); default
        ``instance.capex_cny`` or 0.
    opex_cny
        float[M] yearly running cost of each site (CNY per year); default
        ``instance.opex_cny`` or 0. A quarter is charged a quarter of it for every
        store open at the quarter's end.
    objective_kind
        The scenario's objective (``coverage``, ``market_share``, ``distance``,
        ``profit``). With ``profit`` the schedule maximises the rollout's NPV in CNY
        (:mod:`planner.optimise.rollout.npv`), from ``margin``, ``capex_cny``,
        ``opex_cny``, ``discount_rate_pct`` and ``ramp_quarters``.
    cell_population
        float[N] people per cell for ``covered_population``; default the cell weight.
    province_names
        Names for messages (index = province index).
    site_available_from
        int[M] first quarter (0-based) in which each site may open (a site file's
        ``available_from``); default 0 for every site.
    site_must_open
        Site ids of new stores that must open within the horizon (signed leases,
        forced candidates; not in ``instance.fixed``, which is open before it). The
        joint mode opens them; the two-stage mode opens every selected site anyway.
    site_area
        int[M] the area of each site of the final network (-1 = none); with
        ``command``, a store opens only once its area is formed, and an area is
        formed (in the quarter its first store opens) only with an area manager.
    command
        The command's parameters (promotions, area hires); None = no area managers.
    margin
        ``profit``: money earned per year per unit of captured weight (CNY; the
        profit objective's ``Instance.margin``, i.e. gross margin x the yearly
        market of one unit of demand); default ``instance.margin`` or 1.
    discount_rate_pct
        ``profit``: yearly discount rate (%); quarter ``t`` is discounted by
        ``(1 + r/100)^(-t/4)`` (``economics.discount_rate_pct``).
    ramp_quarters
        ``profit``: a new store's sales ramp linearly to maturity, ``min(1, (age + 1) / ramp)``
        in its ``age``-th quarter (0 = opening quarter); 0 or 1 = mature at once
        (``economics.ramp_quarters``).
    cache
        The solvers' memo (their value models); not part of the data, never read
        by the checker.
    """

    instance: Instance
    site_province: np.ndarray
    site_is_county: np.ndarray
    capex_cny: np.ndarray | None = None
    opex_cny: np.ndarray | None = None
    objective_kind: ObjectiveKind = "coverage"
    cell_population: np.ndarray | None = None
    province_names: Sequence[str] | None = None
    site_available_from: np.ndarray | None = None
    site_must_open: np.ndarray | None = None
    site_area: np.ndarray | None = None
    command: CommandParams | None = None
    margin: float | None = None
    discount_rate_pct: float = 0.0
    ramp_quarters: int = 0
    cache: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        m = self.instance.n_sites
        self.site_province = np.asarray(self.site_province, dtype=np.int64)
        self.site_is_county = np.asarray(self.site_is_county, dtype=bool)
        if self.site_province.shape != (m,) or self.site_is_county.shape != (m,):
            raise ValueError(f"site_province and site_is_county must have shape ({m},)")
        if self.site_area is not None:
            self.site_area = np.asarray(self.site_area, dtype=np.int64)
            if self.site_area.shape != (m,):
                raise ValueError(f"site_area must have shape ({m},)")

    @property
    def commanded(self) -> bool:
        """Whether area managers constrain the schedule."""
        return self.command is not None and self.site_area is not None

    @property
    def n_provinces(self) -> int:
        """Number of provinces (max index + 1)."""
        return int(self.site_province.max()) + 1 if self.site_province.size else 0

    def site_capex(self) -> np.ndarray:
        """float[M] capex per site (CNY)."""
        c = self.capex_cny if self.capex_cny is not None else self.instance.capex_cny
        return np.zeros(self.instance.n_sites) if c is None else np.asarray(c, dtype=float)

    def site_opex(self) -> np.ndarray:
        """float[M] yearly opex per site (CNY per year)."""
        c = self.opex_cny if self.opex_cny is not None else self.instance.opex_cny
        return np.zeros(self.instance.n_sites) if c is None else np.asarray(c, dtype=float)

    def profit_margin(self) -> float:
        """``profit``: CNY per year per unit of captured weight (``margin``, else ``instance.margin``, else 1)."""
        m = self.margin if self.margin is not None else self.instance.margin
        return 1.0 if m is None else float(m)

    def discount(self, quarters: int) -> np.ndarray:
        """float[quarters] discount factor of each quarter, ``(1 + r/100)^(-t/4)``."""
        return np.asarray((1.0 + self.discount_rate_pct / 100.0) ** (-np.arange(quarters) / 4.0), dtype=float)

    def population(self) -> np.ndarray:
        """float[N] people per cell (the weight when no population is given)."""
        p = self.cell_population
        return np.asarray(self.instance.weight if p is None else p, dtype=float)

    def available_from(self) -> np.ndarray:
        """int[M] first quarter each site may open (0 for every site unless given)."""
        if self.site_available_from is None:
            return np.zeros(self.instance.n_sites, dtype=np.int64)
        return np.asarray(self.site_available_from, dtype=np.int64)

    def preopen_mask(self) -> np.ndarray:
        """bool[M] sites open before the horizon (``fixed`` and ``existing``)."""
        m = np.zeros(self.instance.n_sites, dtype=bool)
        m[np.asarray(self.instance.fixed, dtype=np.int64)] = True
        m[np.asarray(self.instance.existing, dtype=np.int64)] = True
        return m

    def province_label(self, p: int) -> str:
        """Name of province ``p`` for messages."""
        if self.province_names is not None and 0 <= p < len(self.province_names):
            return f"{self.province_names[p]}"
        return f"#{p}"


@dataclass
class ManagerPool:
    """The manager pool over the horizon (float[T] each, expected head counts).

    Computed by the solvers (:func:`planner.optimise.rollout.model.manager_pool`)
    and, independently, by the checker; the dynamics are documented in
    :mod:`planner.optimise.rollout_check`.
    """

    ready: np.ndarray  # available in quarter t, before openings
    started: np.ndarray  # trainees started in quarter t
    graduated: np.ndarray  # trainees who became ready at the start of t
    trainees: np.ndarray  # trainees in training during quarter t (started, not graduated)
    carried: np.ndarray  # ready managers carried into t (after attrition)


@dataclass
class CommandPool:
    """The area-manager pool over the horizon (float[T] / int[T] each).

    Computed by the solvers (:func:`planner.optimise.rollout.model.command_pool`)
    and, independently, by the checker; the dynamics are documented in
    :mod:`planner.optimise.rollout_check`.
    """

    eligible: np.ndarray  # store managers with enough quarters in the job, before promotions of t
    area_ready: np.ndarray  # area managers available by the end of t (initial + promoted + hired)
    areas: np.ndarray  # areas formed by the end of t (before the horizon included)
    formed: np.ndarray  # areas formed in t


@dataclass
class RolloutResult:
    """A rollout schedule and how good it is.

    ``quarter[k]`` is the 0-based opening quarter of ``open_sites[k]`` (-1 = open
    before the horizon). ``objective`` is the sum over quarters of the quarterly
    objective (``table["objective"]``); ``bound`` a proven bound on the best
    schedule (upper when maximising, lower for ``distance``); ``gap`` as in
    :class:`~planner.optimise.types.Solution`.
    """

    open_sites: np.ndarray
    quarter: np.ndarray
    hires: np.ndarray
    table: pd.DataFrame
    objective: float
    objective_kind: ObjectiveKind
    bound: float | None
    gap: float | None
    seconds: float
    methods: dict[str, str]
    status: str
    mode: str
    stats: dict[str, float] = field(default_factory=dict)
    promotions: np.ndarray | None = None  # int[T] store managers promoted to area manager
    area_hires: np.ndarray | None = None  # int[T] area managers hired from outside
    final_objective: float | None = None  # profit: the site selection's yearly profit of the final network

    def to_solution(self, base: Solution | None = None) -> Solution:
        """A :class:`Solution` with ``quarter`` filled (aligned with its ``open_sites``).

        With ``base`` (the two-stage input) its selection figures are kept; without
        it (joint mode) the objective is that of the final network (``profit``: its
        yearly profit, ``final_objective``).
        """
        order = np.argsort(self.open_sites, kind="stable")
        sites, q = self.open_sites[order], self.quarter[order]
        if base is not None:
            return replace(base, open_sites=sites, quarter=q)
        # the final network's selection objective: the last quarter's value, except for profit
        # (its quarters hold discounted cash; the selection's profit is a yearly figure)
        final = float(self.table["objective"].iloc[-1]) if self.final_objective is None else self.final_objective
        return Solution(
            open_sites=sites,
            objective=final,
            objective_kind=self.objective_kind,
            seconds=self.seconds,
            methods=dict(self.methods),
            status=self.status,
            quarter=q,
        )
