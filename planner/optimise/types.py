"""The solver's view of a planning problem: plain numpy arrays, no geodata.

``Instance`` is what ``planner.instance.build_instance`` produces from the geodata
layers and what every optimiser consumes; ``Solution`` is what every optimiser
returns and what ``check.check_solution`` verifies. Nothing in this package
imports GeoPandas; nothing above ``planner.instance`` imports OR-Tools.

Indices are 0-based. *Cells* ``i`` carry demand; *sites* ``j`` are candidate
stores (one row per location *and* format: a location offered in three formats
is three sites sharing one ``site_location``). Reachable cell-site pairs are
stored sparsely (``pair_*``), sorted by site then cell.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

ObjectiveKind = Literal["coverage", "distance", "market_share"]
DecayKind = Literal["step", "linear", "exponential"]


@dataclass
class GroupLimit:
    """Min / max number of open sites among ``sites`` (a province, city, county, tier, format).

    ``key`` is the scenario key path that set the limit (e.g.
    ``constraints.province.min.广东省``) so infeasibility messages can name it.
    """

    name: str
    sites: np.ndarray  # int[...] site indices
    min_open: int = 0
    max_open: int | None = None
    key: str = ""


@dataclass
class ConstraintKeys:
    """Where each instance-wide constraint came from, so messages can name it.

    The solver never knows the scenario's key names: ``planner.instance`` fills these
    with the scenario key paths (``constraints.total_stores``...), as ``GroupLimit.key``
    does for groups. The defaults are the interchange format's array names, for
    instances built from arrays.
    """

    stores: str = "stores"
    forced: str = "fixed"
    forbidden: str = "forbidden"
    closures: str = "max_closures"
    spacing: str = "conflict_a / conflict_b"
    location: str = "site_location"
    capex_budget: str = "capex_budget_cny"
    opex_budget: str = "opex_budget_cny"
    time_limit: str = "time_limit_s"


@dataclass
class Instance:
    """A site-selection instance (arrays only).

    Objectives (exactly as in the interchange format, extended by per-site radius
    and decay):

    - coverage     = sum_i weight_i * max over open paired j of f(pair_km, radius_j)
      with f = 1[d <= r] (step), max(0, 1 - d/r) (linear), exp(-d/r) * 1[d <= 3r]
      (exponential);
    - distance     = sum_i weight_i * min(unreachable_km, min over open paired j of pair_km)
    - market_share = sum_i weight_i * S_i / (S_i + competitor_pull_i),
      S_i = sum over open paired j of site_attr_j * (1 + pair_km)^(-beta); 0/0 counts 0.
    """

    weight: np.ndarray  # float[N] demand per cell
    pair_cell: np.ndarray  # int32[K]
    pair_site: np.ndarray  # int32[K]
    pair_km: np.ndarray  # float[K]
    n_sites: int
    stores: int  # total open sites, including the fixed ones
    radius_km: np.ndarray  # float[M] coverage radius per site
    unreachable_km: float = 50.0
    site_attr: np.ndarray | None = None  # float[M] attractiveness (default 1)
    competitor_pull: np.ndarray | None = None  # float[N] (default 0)
    beta: float = 2.0
    decay: DecayKind = "step"
    fixed: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    # existing stores that may be closed (subset of sites); ``max_closures`` of them may close
    existing: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    max_closures: int = 0
    forbidden: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    # sites sharing a location value: at most one of them open (formats, one store per cell)
    site_location: np.ndarray | None = None  # int[M]
    # pairs of sites closer than the minimum spacing: not both open
    conflict_a: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    conflict_b: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    capex_cny: np.ndarray | None = None  # float[M] one-off cost of opening (0 for existing)
    opex_cny: np.ndarray | None = None  # float[M] yearly running cost
    capex_budget_cny: float | None = None
    opex_budget_cny: float | None = None
    groups: list[GroupLimit] = field(default_factory=list)
    keys: ConstraintKeys = field(default_factory=ConstraintKeys)

    @property
    def n_cells(self) -> int:
        return int(self.weight.shape[0])

    @property
    def n_pairs(self) -> int:
        return int(self.pair_cell.shape[0])


@dataclass
class Solution:
    """An optimiser's answer. ``open_sites`` are site indices, sorted.

    ``bound`` is a proven bound on the optimum (upper when maximising, lower when
    minimising) or ``None``; ``gap`` = (bound - objective) / bound when
    maximising, (objective - bound) / objective when minimising.
    ``methods`` names what produced the objective and the bound, e.g.
    ``{"primal": "greedy+swap+mip", "bound": "lagrangian"}``.
    ``quarter`` (int per open site, 0-based, -1 = already open) is filled by the rollout.
    """

    open_sites: np.ndarray
    objective: float
    objective_kind: ObjectiveKind
    bound: float | None = None
    gap: float | None = None
    seconds: float = 0.0
    methods: dict[str, str] = field(default_factory=dict)
    status: str = "feasible"  # "optimal" | "feasible" | "time_limit"
    quarter: np.ndarray | None = None
    stats: dict[str, float] = field(default_factory=dict)


def attraction(site_attr: np.ndarray, pair_km: np.ndarray, beta: float) -> np.ndarray:
    """Huff attraction of a site at a distance: ``site_attr * (1 + pair_km) ** -beta``.

    The one kernel of the Huff model for the solvers, demand and the KPIs (the
    checkers keep their own copy on purpose).
    """
    return np.asarray(site_attr, dtype=float) * (1.0 + np.asarray(pair_km, dtype=float)) ** (-float(beta))
