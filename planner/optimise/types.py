"""The solver's view of a planning problem: plain numpy arrays, no geodata.

``Instance`` is what ``planner.instance.build_instance`` produces from the geodata
layers and what every optimiser consumes; ``Solution`` is what every optimiser
returns and what ``check.check_solution`` verifies. Nothing in this package
imports GeoPandas; nothing above ``planner.instance`` imports OR-Tools.

Indices are 0-based. *Cells* ``i`` carry demand; *sites* ``j`` are candidate
stores (one row per location *and* format: a location offered in three formats
is three sites sharing one ``site_location``). Reachable cell-site pairs are
stored sparsely (``pair_*``), sorted by site then cell. ``Instance.from_arrays``,
``Instance.from_cost_matrix`` and ``Instance.to_arrays`` are the adapters (spopt's
shape) between an ``Instance`` and plain arrays: the interchange arrays that
``planner.bench`` reads and writes as ``.npz``, or a dense cell x site cost matrix.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt

from planner.errors import DataError

ObjectiveKind = Literal["coverage", "distance", "market_share", "profit"]
DecayKind = Literal["step", "linear", "exponential"]
#: Every objective an ``Instance`` can be solved for.
OBJECTIVES: tuple[ObjectiveKind, ...] = ("coverage", "distance", "market_share", "profit")

logger = logging.getLogger(__name__)

#: Interchange arrays every instance needs (see :meth:`Instance.from_arrays`).
ARRAY_KEYS_REQUIRED: tuple[str, ...] = (
    "weight",
    "pair_cell",
    "pair_site",
    "pair_km",
    "stores",
    "radius_km",
    "unreachable_km",
)
#: Interchange arrays that may be left out (a default is used instead).
ARRAY_KEYS_OPTIONAL: tuple[str, ...] = (
    "fixed",
    "site_attr",
    "competitor_pull",
    "beta",
    # the profit objective (see Instance): its costs, its margin, and a store-count range
    "site_fixed_cost",
    "margin",
    "stores_min",
    "stores_max",
)
#: The profit objective's arrays: :meth:`Instance.to_arrays` writes them only when set.
ARRAY_KEYS_PROFIT: tuple[str, ...] = ("site_fixed_cost", "margin", "stores_min", "stores_max")
#: Every interchange array, in the order :meth:`Instance.to_arrays` writes them.
ARRAY_KEYS: tuple[str, ...] = ARRAY_KEYS_REQUIRED + ARRAY_KEYS_OPTIONAL


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
    - profit       = margin * market_share - sum over open j of site_fixed_cost_j
      (fixed sites included); with ``stores_min`` / ``stores_max`` the number of
      open sites may be anything in that range instead of exactly ``stores``.
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
    # the profit objective: yearly fixed cost of each open site (opex + annualised capex)
    # and the money earned per unit of captured weight (gross margin x market per weight unit)
    site_fixed_cost: np.ndarray | None = None  # float[M]
    margin: float | None = None
    # a store-count range (profit: "how many are worth opening"); None = exactly ``stores``
    stores_min: int | None = None
    stores_max: int | None = None

    @property
    def n_cells(self) -> int:
        return int(self.weight.shape[0])

    @property
    def n_pairs(self) -> int:
        return int(self.pair_cell.shape[0])

    def store_range(self) -> tuple[int, int]:
        """Smallest and largest number of open sites allowed (both ``stores`` unless a range is set).

        A range given by only one end takes the number of fixed sites (below)
        or every site (above) for the other.
        """
        if self.stores_min is None and self.stores_max is None:
            return int(self.stores), int(self.stores)
        lo = int(np.unique(np.asarray(self.fixed)).size) if self.stores_min is None else int(self.stores_min)
        hi = int(self.n_sites) if self.stores_max is None else int(self.stores_max)
        return lo, hi

    # -- adapters: plain arrays in and out ------------------------------------
    @classmethod
    def from_arrays(cls, **arrays: npt.ArrayLike) -> Instance:
        """Validate the interchange arrays and build an instance.

        N cells, M sites, K reachable pairs:

        ==================  ==========  ==============================================
        key                 type        meaning
        ==================  ==========  ==============================================
        ``weight``          float[N]    demand per cell (>= 0)
        ``pair_cell``       int[K]      cell of each reachable pair, in 0..N-1
        ``pair_site``       int[K]      site of each reachable pair, in 0..M-1
        ``pair_km``         float[K]    distance of each pair, km (>= 0)
        ``fixed``           int[E]      sites that must be open
        ``stores``          int         open sites in total, fixed ones included
        ``radius_km``       float       coverage radius (a float[M] is also accepted)
        ``unreachable_km``  float       distance charged to a cell with no open pair
        ``site_attr``       float[M]    attractiveness of each site (Huff)
        ``competitor_pull`` float[N]    competitors' attraction on each cell (Huff)
        ``beta``            float       distance-decay exponent (Huff)
        ``site_fixed_cost`` float[M]    yearly fixed cost of each open site (profit)
        ``margin``          float       money per unit of captured weight (profit)
        ``stores_min``      int         fewest open sites, fixed included (replaces
                                        ``stores`` when given, with ``stores_max``)
        ``stores_max``      int         most open sites, fixed included
        ==================  ==========  ==============================================

        M is ``len(site_attr)`` when given, otherwise ``max(pair_site, fixed) + 1``.

        Parameters
        ----------
        **arrays
            The keys of :data:`ARRAY_KEYS`. ``fixed`` (default none), ``site_attr``
            (default 1), ``competitor_pull`` (default 0) and ``beta`` (default 2)
            may be left out, and so may the profit arrays (``site_fixed_cost``
            default 0, ``margin`` default 1, no store range); a one-element array
            is taken as a scalar. With only one of ``stores_min`` / ``stores_max``
            the other end is the number of fixed sites / every site.

        Returns
        -------
        Instance
            Pairs sorted by site then cell; a scalar ``radius_km`` becomes a
            per-site array.

        Raises
        ------
        DataError
            Naming the key and the problem: a missing or unknown key, a wrong
            shape or type, a negative or non-finite value, an index out of range,
            a repeated pair.
        """
        return _instance_from_arrays(arrays)

    @classmethod
    def from_cost_matrix(
        cls,
        cost: npt.ArrayLike,
        weight: npt.ArrayLike,
        *,
        stores: int,
        radius_km: float = math.inf,
        fixed: npt.ArrayLike | None = None,
        unreachable_km: float | None = None,
    ) -> Instance:
        """Build a sparse-pairs instance from a dense cell x site cost matrix (spopt's shape).

        Parameters
        ----------
        cost
            float[N, M], km (or any one unit used for ``radius_km`` too). Every
            finite entry becomes a pair; a non-finite one means "not reachable".
            Pairs beyond ``radius_km`` are kept: they still count for
            ``distance`` and ``market_share``.
        weight
            float[N] demand per cell.
        stores
            Open sites in total, ``fixed`` included.
        radius_km
            Coverage radius, the same for every site.
        fixed
            Sites that must be open.
        unreachable_km
            Charged to a cell with no open reachable site; default
            ``10 * max finite cost + 1`` (never binding when every cell reaches
            every site).

        Raises
        ------
        DataError
            On the problems :meth:`from_arrays` rejects, or a matrix that is not
            2-D or whose rows do not match ``weight``.
        """
        cost = np.asarray(cost, dtype=np.float64)
        if cost.ndim != 2:
            raise DataError(f"cost matrix must be 2-D, found shape {cost.shape}.")
        cell, site = np.nonzero(np.isfinite(cost).T)[::-1]  # pairs ordered by site, then cell
        km = cost[cell, site]
        if unreachable_km is None:
            unreachable_km = 10.0 * float(km.max(initial=0.0)) + 1.0
        weight_arr = np.asarray(weight, dtype=np.float64)
        if weight_arr.shape != (cost.shape[0],):
            raise DataError(
                f"weight has shape {weight_arr.shape}, expected one per cost-matrix row ({cost.shape[0]})."
            )
        try:
            return cls.from_arrays(
                weight=weight_arr,
                pair_cell=cell,
                pair_site=site,
                pair_km=km,
                stores=stores,
                radius_km=float(radius_km),
                unreachable_km=float(unreachable_km),
                site_attr=np.ones(cost.shape[1]),
                fixed=np.zeros(0, dtype=np.int64)
                if fixed is None
                else np.asarray(fixed, dtype=np.int64),
            )
        except DataError as exc:
            raise DataError(f"cost matrix: {exc.message}", problems=exc.problems) from exc

    def to_arrays(self) -> dict[str, np.ndarray]:
        """The interchange arrays of this instance (the inverse of :meth:`from_arrays`).

        ``radius_km`` is given as a scalar when every site has the same radius,
        otherwise as float[M]. Constraints the arrays cannot express (groups,
        budgets, spacing, forbidden sites, closable existing stores, site
        locations, decay other than step) are dropped with a warning.
        """
        m = self.n_sites
        radius = np.broadcast_to(np.asarray(self.radius_km, dtype=np.float64), (m,))
        dropped = [
            name
            for name, present in (
                ("groups", bool(self.groups)),
                (
                    "capex/opex budgets",
                    self.capex_budget_cny is not None or self.opex_budget_cny is not None,
                ),
                ("spacing conflicts", self.conflict_a.size > 0),
                ("forbidden sites", self.forbidden.size > 0),
                ("closable existing stores", self.existing.size > 0),
                ("site_location", self.site_location is not None),
                (f"decay '{self.decay}'", self.decay != "step"),
            )
            if present
        ]
        if dropped:
            logger.warning(
                "the interchange format cannot hold %s; they are not written", ", ".join(dropped)
            )
        return {
            "weight": np.asarray(self.weight, dtype=np.float64),
            "pair_cell": np.asarray(self.pair_cell, dtype=np.int32),
            "pair_site": np.asarray(self.pair_site, dtype=np.int32),
            "pair_km": np.asarray(self.pair_km, dtype=np.float64),
            "fixed": np.asarray(self.fixed, dtype=np.int64),
            "stores": np.asarray(int(self.stores), dtype=np.int64),
            "radius_km": np.asarray(
                radius[0] if m and np.all(radius == radius[0]) else radius, dtype=np.float64
            )
            if m
            else np.asarray(0.0),
            "unreachable_km": np.asarray(float(self.unreachable_km)),
            "site_attr": np.ones(m)
            if self.site_attr is None
            else np.asarray(self.site_attr, dtype=np.float64),
            "competitor_pull": np.zeros(self.n_cells)
            if self.competitor_pull is None
            else np.asarray(self.competitor_pull, dtype=np.float64),
            "beta": np.asarray(float(self.beta)),
            **self._profit_arrays(),
        }

    def _profit_arrays(self) -> dict[str, np.ndarray]:
        """The profit objective's optional arrays, only those set."""
        out: dict[str, np.ndarray] = {}
        if self.site_fixed_cost is not None:
            out["site_fixed_cost"] = np.asarray(self.site_fixed_cost, dtype=np.float64)
        if self.margin is not None:
            out["margin"] = np.asarray(float(self.margin))
        if self.stores_min is not None:
            out["stores_min"] = np.asarray(int(self.stores_min), dtype=np.int64)
        if self.stores_max is not None:
            out["stores_max"] = np.asarray(int(self.stores_max), dtype=np.int64)
        return out


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


#: A cell whose largest Huff term (strength or competitor pull) is below this is rescaled.
TINY_STRENGTH = 1e-150


def cell_strengths(
    site_attr: np.ndarray, pair_km: np.ndarray, beta: float, pair_cell: np.ndarray, pull: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Huff strengths per pair and competitor pull per cell, safe from underflow.

    A share ``S / (S + c)`` does not change when a cell's strengths and pull are
    scaled by one factor. Where ``pair_km`` is not a small distance (a logit
    utility encoded as ``(1 + km)^-beta``, say), every term of a cell may fall
    below the smallest float and the cell would silently count 0; such cells
    (largest term below :data:`TINY_STRENGTH`) are computed in logarithms and
    scaled so that their largest term is 1. Other cells keep
    :func:`attraction` exactly.

    Parameters
    ----------
    site_attr : ndarray
        float[K] attractiveness of each pair's site.
    pair_km, beta : ndarray, float
        The Huff distance term of each pair.
    pair_cell : ndarray
        int[K] cell of each pair.
    pull : ndarray
        float[N] competitor pull per cell.

    Returns
    -------
    strength : ndarray
        float[K] per pair.
    pull : ndarray
        float[N] per cell (a copy, rescaled where the strengths were).
    """
    attr = np.asarray(site_attr, dtype=float)
    km = np.asarray(pair_km, dtype=float)
    strength = attraction(attr, km, beta)
    pull = np.array(pull, dtype=float)
    top = pull.copy()
    np.maximum.at(top, pair_cell, strength)
    tiny = top < TINY_STRENGTH
    at = tiny[pair_cell]
    if not np.any(at):
        return strength, pull
    with np.errstate(divide="ignore"):
        log_a = np.log(attr[at]) - float(beta) * np.log1p(km[at])
        log_c = np.log(pull[tiny])
    idx = np.full(pull.size, -1, dtype=np.int64)
    idx[tiny] = np.arange(int(tiny.sum()))
    shift = log_c.copy()
    np.maximum.at(shift, idx[pair_cell[at]], log_a)
    shift = np.where(np.isfinite(shift), shift, 0.0)  # nothing there at all: leave it
    strength[at] = np.exp(log_a - shift[idx[pair_cell[at]]])
    pull[tiny] = np.exp(log_c - shift)
    return strength, pull


# ---------------------------------------------------------------------------
# Validation of the interchange arrays (behind Instance.from_arrays)
# ---------------------------------------------------------------------------
def _instance_from_arrays(data: dict[str, npt.ArrayLike]) -> Instance:
    """Check every interchange array, then build the instance (pairs sorted by site, cell)."""
    missing = [k for k in ARRAY_KEYS_REQUIRED if k not in data]
    if missing:
        raise DataError(
            f"missing key(s) {', '.join(missing)}; the interchange format needs "
            f"{', '.join(ARRAY_KEYS_REQUIRED)}.",
        )
    unknown = sorted(set(data) - set(ARRAY_KEYS))
    if unknown:
        raise DataError(
            f"unknown key(s) {', '.join(unknown)}; the interchange arrays are "
            f"{', '.join(ARRAY_KEYS)}.",
        )

    def err(key: str, problem: str) -> DataError:
        return DataError(f"key '{key}' {problem}")

    def floats(key: str, ndim: int) -> np.ndarray:
        arr = np.asarray(data[key])
        if arr.dtype.kind not in "biuf":
            raise err(key, f"must be numeric, found dtype {arr.dtype}.")
        if ndim == 0 and arr.shape == (1,):  # a one-element array is taken as a scalar
            arr = arr.reshape(())
        if arr.ndim != ndim:
            what = "a scalar" if ndim == 0 else f"a {ndim}-D array"
            raise err(key, f"must be {what}, found shape {arr.shape}.")
        arr = arr.astype(np.float64)
        if np.isnan(arr).any():
            raise err(key, f"contains NaN (first at position {_first(np.isnan(arr))}).")
        return arr

    def nonneg(key: str, arr: np.ndarray, *, finite: bool = True) -> np.ndarray:
        if finite and np.isinf(arr).any():
            raise err(
                key, f"contains an infinite value (first at position {_first(np.isinf(arr))})."
            )
        if (arr < 0).any():
            raise err(key, f"contains a negative value (first at position {_first(arr < 0)}).")
        return arr

    def indices(key: str) -> np.ndarray:
        arr = np.asarray(data[key])
        if arr.ndim != 1:
            raise err(key, f"must be a 1-D integer array, found shape {arr.shape}.")
        if arr.dtype.kind == "f":
            if np.isnan(arr).any():
                raise err(key, f"contains NaN (first at position {_first(np.isnan(arr))}).")
            if (arr != np.round(arr)).any():
                raise err(key, "must hold integers, found a fractional value.")
        elif arr.size and arr.dtype.kind not in "biu":
            raise err(key, f"must hold integers, found dtype {arr.dtype}.")
        arr = arr.astype(np.int64)
        if (arr < 0).any():
            raise err(key, f"contains a negative index (first at position {_first(arr < 0)}).")
        return arr

    weight = nonneg("weight", floats("weight", 1))
    n = weight.shape[0]
    pair_cell = indices("pair_cell")
    pair_site = indices("pair_site")
    pair_km = nonneg("pair_km", floats("pair_km", 1))
    k = pair_cell.shape[0]
    for key, arr in (("pair_site", pair_site), ("pair_km", pair_km)):
        if arr.shape[0] != k:
            raise err(key, f"has {arr.shape[0]} entries but pair_cell has {k}.")
    if k and pair_cell.max() >= n:
        raise err("pair_cell", f"index {pair_cell.max()} out of range: weight has {n} cells.")
    fixed = indices("fixed") if "fixed" in data else np.zeros(0, dtype=np.int64)

    if "site_attr" in data:
        site_attr = nonneg("site_attr", floats("site_attr", 1))
        m = site_attr.shape[0]
    else:
        m = int(max(pair_site.max(initial=-1), fixed.max(initial=-1))) + 1
        site_attr = np.ones(m)
    if k and pair_site.max() >= m:
        raise err("pair_site", f"index {pair_site.max()} out of range: site_attr has {m} sites.")
    if fixed.size and fixed.max() >= m:
        raise err("fixed", f"index {fixed.max()} out of range: there are {m} sites.")
    if np.unique(fixed).size != fixed.size:
        raise err("fixed", "lists a site more than once.")

    stores_f = float(floats("stores", 0))
    if stores_f != round(stores_f) or math.isinf(stores_f):
        raise err("stores", f"must be a whole number, found {stores_f}.")
    stores = int(stores_f)
    if not fixed.size <= stores <= m:
        raise err(
            "stores",
            f"= {stores} must be at least the {fixed.size} fixed site(s) and at most the {m} sites.",
        )

    radius = nonneg("radius_km", floats("radius_km", np.ndim(data["radius_km"])), finite=False)
    if radius.ndim == 0:
        radius_km = np.full(m, float(radius))
    elif radius.shape == (m,):
        radius_km = radius
    else:
        raise err("radius_km", f"must be a scalar or float[{m}], found shape {radius.shape}.")
    unreachable_km = float(nonneg("unreachable_km", floats("unreachable_km", 0)))

    if "competitor_pull" in data:
        pull = nonneg("competitor_pull", floats("competitor_pull", 1))
        if pull.shape[0] != n:
            raise err(
                "competitor_pull", f"has {pull.shape[0]} entries, expected one per cell ({n})."
            )
    else:
        pull = np.zeros(n)
    beta = float(nonneg("beta", floats("beta", 0))) if "beta" in data else Instance.beta

    fixed_cost, margin, stores_min, stores_max = _profit_from_arrays(data, floats, err, m, fixed.size)

    order = np.lexsort((pair_cell, pair_site))
    pair_cell, pair_site, pair_km = pair_cell[order], pair_site[order], pair_km[order]
    if k > 1:
        dup = (np.diff(pair_site) == 0) & (np.diff(pair_cell) == 0)
        if dup.any():
            at = int(np.nonzero(dup)[0][0])
            raise DataError(
                f"keys 'pair_cell'/'pair_site' repeat {int(dup.sum())} pair(s), "
                f"e.g. cell {pair_cell[at]} with site {pair_site[at]}; give each pair once.",
            )
    return Instance(
        weight=weight,
        pair_cell=pair_cell.astype(np.int32),
        pair_site=pair_site.astype(np.int32),
        pair_km=pair_km,
        n_sites=m,
        stores=stores,
        radius_km=radius_km,
        unreachable_km=unreachable_km,
        site_attr=site_attr,
        competitor_pull=pull,
        beta=beta,
        fixed=np.sort(fixed),
        site_fixed_cost=fixed_cost,
        margin=margin,
        stores_min=stores_min,
        stores_max=stores_max,
    )


def _profit_from_arrays(
    data: dict[str, npt.ArrayLike],
    floats: Callable[[str, int], np.ndarray],
    err: Callable[[str, str], DataError],
    m: int,
    n_fixed: int,
) -> tuple[np.ndarray | None, float | None, int | None, int | None]:
    """``site_fixed_cost``, ``margin``, ``stores_min``, ``stores_max`` checked (None where absent)."""
    fixed_cost = None
    if "site_fixed_cost" in data:
        fixed_cost = floats("site_fixed_cost", 1)
        if fixed_cost.shape[0] != m:
            raise err("site_fixed_cost", f"has {fixed_cost.shape[0]} entries, expected one per site ({m}).")
        if np.isinf(fixed_cost).any():
            raise err("site_fixed_cost", f"contains an infinite value (first at position {_first(np.isinf(fixed_cost))}).")
    margin = None
    if "margin" in data:
        margin = float(floats("margin", 0))
        if not math.isfinite(margin) or margin < 0:
            raise err("margin", f"must be a finite number >= 0, found {margin}.")
    ends: dict[str, int | None] = {}
    for key in ("stores_min", "stores_max"):
        if key not in data:
            ends[key] = None
            continue
        x = float(floats(key, 0))
        if x != round(x) or math.isinf(x):
            raise err(key, f"must be a whole number, found {x}.")
        ends[key] = int(x)
    lo = n_fixed if ends["stores_min"] is None else ends["stores_min"]
    hi = m if ends["stores_max"] is None else ends["stores_max"]
    if (ends["stores_min"] is not None or ends["stores_max"] is not None) and not n_fixed <= lo <= hi <= m:
        raise err(
            "stores_min" if ends["stores_min"] is not None else "stores_max",
            f"range {lo}..{hi} must hold at least the {n_fixed} fixed site(s), at most the {m} sites, "
            "and stores_min <= stores_max.",
        )
    return fixed_cost, margin, ends["stores_min"], ends["stores_max"]


def _first(mask: np.ndarray) -> int | tuple[int, ...]:
    """Position of the first true entry (an int for 1-D, a tuple otherwise)."""
    idx = np.argwhere(np.atleast_1d(mask))[0]
    return int(idx[0]) if idx.size == 1 else tuple(int(i) for i in idx)
