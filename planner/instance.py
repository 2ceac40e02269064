"""Build the solver's :class:`~planner.optimise.types.Instance` from geodata layers.

This is the line in the flow below which nothing sees GeoPandas: sites
(existing own stores and candidate locations, one row per location × format),
demand cells, the sparse cell-to-site distances within each site's catchment,
and every constraint of the scenario turned into arrays and index groups. The
``sites`` table returned beside the instance maps each site index back to its
place, ids and administrative units so the report can name them.
"""

from __future__ import annotations

import difflib
import logging
import re
from dataclasses import dataclass, fields

import numpy as np
import pandas as pd

from planner.config.models import CommandConfig, Quota, RolloutConfig, Scenario, StoreRange
from planner.demand import market_cny_per_demand
from planner.errors import ConfigError, DataError
from planner.geodata.layers import Layers, TravelCosts
from planner.optimise.command_types import CommandParams, TerritoryInstance
from planner.optimise.compete import Follower
from planner.optimise.rollout.chain import implies_city_minimum
from planner.optimise.rollout.types import RolloutParams
from planner.optimise.types import ConstraintKeys, GroupLimit, Instance
from planner.spatial import km_to_minutes, minutes_to_km, pairs_within

__all__ = [
    "BuiltInstance", "BuiltFollower", "build_follower", "check_response_brands", "build_instance", "is_county_unit",
    "rollout_params", "UnitNames", "site_costs", "profit_terms", "command_params", "store_workload",
    "territory_instance",
]

log = logging.getLogger(__name__)

# the scenario keys behind the instance-wide constraints, so the solver's messages name them
SCENARIO_KEYS = ConstraintKeys(
    stores="constraints.total_stores",
    forced="constraints.forced_sites / constraints.keep_existing",
    forbidden="constraints.forbidden_sites",
    closures="constraints.max_closures",
    spacing="constraints.min_spacing_km",
    location="constraints.one_store_per_cell / formats",
    capex_budget="constraints.capex_budget_cny",
    opex_budget="constraints.opex_budget_cny",
    time_limit="solver.time_limit_s",
)

_SUFFIXES = re.compile(
    r"(省|市|自治区|特别行政区|壮族|回族|维吾尔|自治州|地区|盟|区|县|旗|林区|特区|"
    r" Province| Municipality| Autonomous Region)$"
)


def _short_name(name: str) -> str:
    """广西壮族自治区 → 广西, 广东省 → 广东, 乌鲁木齐市 → 乌鲁木齐 (strip suffixes repeatedly)."""
    while True:
        short = _SUFFIXES.sub("", name)
        if short == name or not short:
            return name
        name = short


def is_county_unit(name: str) -> bool:
    """True for county-level units that are not urban districts (县, 县级市, 旗, ...).

    The chain of command opens city stores (urban districts, 区) before county
    stores; a county-level unit whose name ends in 区 is an urban district. (A
    prefecture-level city without counties, such as 东莞市, is handled by the
    caller: its code is its city's code.)
    """
    return not str(name).endswith("区")


@dataclass
class UnitNames:
    """Resolve a planner's name for an administrative unit (code, Chinese or English name)."""

    level: str
    table: pd.DataFrame  # code, name (and optionally name_en)

    def __post_init__(self) -> None:
        self._lookup: dict[str, str] = {}
        for row in self.table.itertuples(index=False):
            code = str(row.code)
            names = {code, str(row.name), _short_name(str(row.name))}
            name_en = getattr(row, "name_en", None)
            if isinstance(name_en, str) and name_en:
                names |= {name_en, name_en.lower(), _SUFFIXES.sub("", name_en)}
            for n in names:
                if n:
                    self._lookup.setdefault(n, code)

    def resolve(self, name: str, key: str) -> str:
        """GB code of ``name``; a ConfigError naming ``key`` and suggesting a close match if unknown."""
        text = str(name).strip()
        code = self._lookup.get(text) or self._lookup.get(text.lower())
        if code is not None:
            return code
        hint = difflib.get_close_matches(text, list(self._lookup), n=1, cutoff=0.5)
        suggestion = f" Did you mean {hint[0]!r}?" if hint else ""
        raise ConfigError(
            f"{key}: unknown {self.level} {text!r} (not in this scenario's geodata).{suggestion} "
            f"Use a GB code or the official name."
        )


@dataclass
class BuiltInstance:
    """An instance plus the tables that tie its indices back to geography."""

    instance: Instance
    sites: pd.DataFrame  # one row per site index
    cells: pd.DataFrame  # one row per cell index: h3, population, demand, competitor_pull, codes, tier
    cost_unit: str = "km"  # unit of instance.pair_km / radius_km: 'km', or 'min' with data.travel_costs in minutes


def _site_rows(layers: Layers, scenario: Scenario) -> pd.DataFrame:
    """Existing stores and candidate locations × formats as one table."""
    formats = scenario.formats.catalogue
    cols = ["h3", "lat", "lon", "county_code", "city_code", "province_code", "tier"]
    own = layers.own_stores
    ex = pd.DataFrame(
        {
            "site_id": own["store_id"].astype(str).to_numpy(),
            "location_id": ("store-" + own["store_id"].astype(str)).to_numpy(),
            "name": own["name"].astype(str).to_numpy(),
            "format": own["format"].fillna("standard").astype(str).to_numpy(),
            "existing": True,
            **{c: own[c].to_numpy() for c in cols},
        }
    )
    unknown = sorted(set(ex["format"]) - set(formats))
    if unknown:
        raise DataError(
            f"own stores: format(s) {unknown} are not in formats.catalogue ({sorted(formats)}). "
            "Add them to the scenario's formats.catalogue or fix the store file's format column."
        )
    cand = layers.candidates
    extra = _site_file_columns(cand)
    base = pd.DataFrame(
        {
            "site_id": cand["site_id"].astype(str).to_numpy(),
            "location_id": cand["site_id"].astype(str).to_numpy(),
            "name": extra["name"],
            "existing": False,
            **{c: cand[c].to_numpy() for c in cols},
            **{k: v for k, v in extra.items() if k != "name"},
        }
    )
    listed = base["formats"].astype(str)
    if scenario.formats.enabled:
        parts = []
        for fname, fmt in formats.items():
            # a site file's own list of formats wins over the catalogue's tiers
            own_list = listed.str.split(";").apply(lambda xs, f=fname: f in xs)
            allowed = np.where(listed != "", own_list, base["tier"].astype(str).isin(fmt.tiers))
            part = base[allowed].copy()
            part["format"] = fname
            first = listed[allowed].str.split(";").str[0]
            # the file's id names the site's standard format (or its first listed one)
            plain = (fname == "standard") | ((listed[allowed] != "") & ~listed[allowed].str.contains("standard")
                                             & (first == fname))
            part.loc[~plain.to_numpy(), "site_id"] = part.loc[~plain.to_numpy(), "site_id"] + "#" + fname
            parts.append(part)
        new = pd.concat(parts, ignore_index=True)
    else:
        # every new store is standard, or the first format a site file allows
        first = listed.str.split(";").str[0]
        new = base.assign(format=np.where((listed == "") | listed.str.contains("standard"), "standard", first))
    sites = pd.concat([ex, new], ignore_index=True)
    sites["tier"] = sites["tier"].astype(str)
    for k, default in (("capex_file_cny", np.nan), ("opex_file_cny", np.nan), ("available_from", 0),
                       ("signed", False), ("from_file", False)):
        sites[k] = sites[k].fillna(default) if k in sites else default
    sites["signed"] = sites["signed"].astype(bool)
    sites["from_file"] = sites["from_file"].astype(bool)
    sites["available_from"] = sites["available_from"].astype(np.int64)
    return sites


def _site_file_columns(cand: pd.DataFrame) -> dict[str, np.ndarray]:
    """The site file's own columns of the candidates (defaults for modelled candidates)."""
    n = len(cand)

    def get(col: str, default: object) -> pd.Series:
        return cand[col] if col in cand else pd.Series([default] * n, index=cand.index)

    return {
        "name": get("name", None).fillna(cand["site_id"]).astype(str).to_numpy(),
        "formats": get("formats", "").fillna("").astype(str).to_numpy(),
        "capex_file_cny": get("capex_cny", np.nan).astype(float).to_numpy(),
        "opex_file_cny": get("opex_cny_per_year", np.nan).astype(float).to_numpy(),
        "available_from": get("available_from", 0).fillna(0).astype(np.int64).to_numpy(),
        "signed": (get("status", "candidate").astype(str) == "signed").to_numpy(),
        "from_file": (get("kind", "cell").astype(str) == "file").to_numpy(),
    }


def output_store_ids(sites: pd.DataFrame) -> dict[str, str]:
    """The id each of ``sites`` (the open stores) carries in the outputs, by its ``site_id``.

    A site-file site keeps the file's own id whatever format it opens in (``plan.csv``'s
    ``format`` column says which), so the team's systems can join on it; only where two
    open stores would then share an id (two formats of one file site, or a file id equal
    to an existing store's) do they keep their internal ``id#format`` names.
    """
    ids = sites["site_id"].astype(str)
    from_file = sites["from_file"].to_numpy(bool) if "from_file" in sites else np.zeros(len(sites), dtype=bool)
    out = ids.where(~from_file, sites["location_id"].astype(str))
    out = out.where(~out.duplicated(keep=False), ids)
    return dict(zip(ids.tolist(), out.tolist(), strict=True))


def site_costs(sites: pd.DataFrame, scenario: Scenario) -> tuple[np.ndarray, np.ndarray]:
    """Capex (CNY, 0 for existing stores) and yearly opex (CNY) of every site.

    A site file's own figures win; otherwise the format's catalogue cost times the
    city tier's factor (``economics.capex_tier_factor`` / ``opex_tier_factor``).
    """
    formats = scenario.formats.catalogue
    e = scenario.economics
    tier = sites["tier"].astype(str)
    capex = sites["format"].map({k: f.capex_cny for k, f in formats.items()}).to_numpy(float)
    capex = capex * tier.map(e.capex_tier_factor).fillna(1.0).to_numpy(float)
    opex = sites["format"].map({k: f.opex_cny_per_year for k, f in formats.items()}).to_numpy(float)
    opex = opex * tier.map(e.opex_tier_factor).fillna(1.0).to_numpy(float)
    own_capex = sites["capex_file_cny"].to_numpy(float)
    own_opex = sites["opex_file_cny"].to_numpy(float)
    capex = np.where(np.isfinite(own_capex), own_capex, capex)
    opex = np.where(np.isfinite(own_opex), own_opex, opex)
    capex = np.where(sites["existing"].to_numpy(bool), 0.0, capex)
    return capex, opex


def _quota_groups(
    sites: pd.DataFrame, unit_col: str, quota: Quota, names: UnitNames, key: str
) -> list[GroupLimit]:
    """One GroupLimit per unit that has a min or max."""
    groups: list[GroupLimit] = []
    explicit_min = {names.resolve(n, f"{key}.min.{n}"): (v, n) for n, v in quota.min.items()}
    explicit_max = {names.resolve(n, f"{key}.max.{n}"): (v, n) for n, v in quota.max.items()}
    by_unit = sites.groupby(sites[unit_col].astype(str)).indices
    units = set(names.table["code"].astype(str))
    if not (quota.default_min or quota.default_max is not None):
        units = set(explicit_min) | set(explicit_max)
    for code in sorted(units):
        lo, lo_name = explicit_min.get(code, (quota.default_min, None))
        hi, hi_name = explicit_max.get(code, (quota.default_max, None))
        if lo == 0 and hi is None:
            continue
        idx = np.asarray(by_unit.get(code, np.zeros(0, dtype=np.int64)), dtype=np.int64)
        label = lo_name or hi_name or code
        where = f"{key}.min.{lo_name}" if lo_name else f"{key}.max.{hi_name}" if hi_name else f"{key}.default_min/default_max"
        groups.append(GroupLimit(name=f"{names.level} {label}", sites=idx, min_open=int(lo), max_open=hi, key=where))
    return groups


def _spacing_conflicts(sites: pd.DataFrame, scenario: Scenario) -> tuple[np.ndarray, np.ndarray]:
    """Site pairs at different locations closer than the larger of their tiers' spacings."""
    spacing = scenario.constraints.min_spacing_km
    loc = sites.drop_duplicates("location_id")
    r = loc["tier"].map(spacing).to_numpy(dtype=float)
    if not (r > 0).any():
        z = np.zeros(0, dtype=np.int64)
        return z, z.copy()
    lon, lat = loc["lon"].to_numpy(), loc["lat"].to_numpy()
    a, b, km = pairs_within(lon, lat, lon, lat, np.maximum(r - 1e-9, 0.0))
    keep = (a != b) & (km < r[a])
    a, b = np.minimum(a[keep], b[keep]), np.maximum(a[keep], b[keep])
    pairs = np.unique(np.column_stack([a, b]), axis=0) if a.size else np.zeros((0, 2), dtype=np.int64)
    existing = loc["existing"].to_numpy()
    # two existing stores already closer than the rule are grandfathered
    pairs = pairs[~(existing[pairs[:, 0]] & existing[pairs[:, 1]])]
    # expand locations to their sites (formats)
    loc_ids = loc["location_id"].to_numpy()
    members = sites.groupby("location_id").indices
    ca: list[np.ndarray] = []
    cb: list[np.ndarray] = []
    for la, lb in pairs:
        sa, sb = members[loc_ids[la]], members[loc_ids[lb]]
        ca.append(np.repeat(sa, len(sb)))
        cb.append(np.tile(sb, len(sa)))
    if not ca:
        z = np.zeros(0, dtype=np.int64)
        return z, z.copy()
    return np.concatenate(ca).astype(np.int64), np.concatenate(cb).astype(np.int64)


def _chain_of_command_groups(sites: pd.DataFrame, scenario: Scenario, names: UnitNames) -> list[GroupLimit]:
    """City-store minimums implied by the rollout's chain of command.

    A province opens county stores only once it has ``N =
    rollout.city_stores_before_county`` city stores. In a province that must
    have at least N stores anyway, every schedulable plan therefore has at
    least N city stores (either it has a county store, which needs them, or all
    its stores are city stores), so the limit removes no schedulable plan.
    Provinces with a smaller minimum are handled after solving (see
    ``planner.pipeline``).
    """
    need = scenario.rollout.city_stores_before_county
    if not scenario.rollout.enabled or need == 0:
        return []
    quota = scenario.constraints.province
    explicit = {names.resolve(n, f"constraints.province.min.{n}"): v for n, v in quota.min.items()}
    city_mask = ~sites["is_county"].to_numpy(dtype=bool)
    city_sites = {
        code: np.flatnonzero(city_mask & (sites["province_code"].astype(str).to_numpy() == code))
        for code in names.table["code"].astype(str)
    }
    groups = []
    for code in sorted(names.table["code"].astype(str)):
        if implies_city_minimum(explicit.get(code, quota.default_min), need):
            groups.append(
                GroupLimit(
                    name=f"city stores before county stores, province {code}",
                    sites=np.asarray(city_sites.get(code, np.zeros(0, dtype=np.int64)), dtype=np.int64),
                    min_open=need,
                    key="rollout.city_stores_before_county (with constraints.province min)",
                )
            )
    return groups


def site_cell_pairs(
    sites: pd.DataFrame, cells: pd.DataFrame, search: np.ndarray, scenario: Scenario, travel: TravelCosts | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The instance's (site, cell, cost) pairs with cost <= the site's search radius.

    Without ``data.travel_costs`` the cost is the great-circle km. With a file,
    its pairs replace the straight-line cost (a cell given for a location counts
    for every format of it: the file names candidate ``site_id`` / own
    ``store_id``); pairs it leaves out cost the straight-line distance (in
    minutes at ``data.travel_speed_kmh`` when the file gives minutes) under
    ``data.travel_costs_missing: straight_line``, and do not exist (the cell
    cannot reach the site) under ``unreachable``. Pairs for cells without demand
    are dropped with those cells. Returns ``(site_idx, cell_idx, cost)`` sorted
    by site then cell, in the file's unit (``search`` is in that unit too).
    """
    lon, lat = sites["lon"].to_numpy(), sites["lat"].to_numpy()
    c_lon, c_lat = cells["lon"].to_numpy(), cells["lat"].to_numpy()
    if travel is None:
        return pairs_within(lon, lat, c_lon, c_lat, search)
    speed = scenario.data.travel_speed_kmh
    minutes = travel.unit == "min"
    if scenario.data.travel_costs_missing == "straight_line":
        ps, pc, km = pairs_within(lon, lat, c_lon, c_lat, minutes_to_km(search, speed) if minutes else search)
        cost = km_to_minutes(km, speed) if minutes else km
    else:
        ps = pc = np.zeros(0, dtype=np.int64)
        cost = np.zeros(0)
    # the file's pairs, expanded to every format of the location they name
    base_id = np.where(sites["existing"].to_numpy(dtype=bool), sites["site_id"], sites["location_id"]).astype(str)
    site_rows = pd.DataFrame({"site_id": base_id, "site": np.arange(len(sites))})
    cell_rows = pd.DataFrame({"h3": cells["h3"].astype(str).to_numpy(), "cell": np.arange(len(cells))})
    given = travel.table.merge(site_rows, on="site_id").merge(cell_rows, on="h3")
    fs = given["site"].to_numpy(dtype=np.int64)
    fc = given["cell"].to_numpy(dtype=np.int64)
    f_cost = given["cost"].to_numpy(dtype=float)
    n_cells = max(len(cells), 1)
    keep = ~np.isin(ps * n_cells + pc, fs * n_cells + fc)
    ps = np.concatenate([ps[keep], fs])
    pc = np.concatenate([pc[keep], fc])
    cost = np.concatenate([cost[keep], f_cost])
    within = cost <= search[ps]
    n_file = int(within[len(within) - len(fs):].sum())
    ps, pc, cost = ps[within], pc[within], cost[within]
    order = np.lexsort((pc, ps))
    log.info("travel costs: %d of %d instance pairs from %s (%s); pairs it leaves out: %s",
             n_file, len(ps), travel.path, travel.unit, scenario.data.travel_costs_missing)
    return ps[order], pc[order], cost[order]
def _store_range(total: int | StoreRange) -> tuple[int, int]:
    """``constraints.total_stores`` as (min, max): a number is both ends."""
    if isinstance(total, StoreRange):
        return int(total.min), int(total.max)
    return int(total), int(total)


def profit_terms(sites: pd.DataFrame, scenario: Scenario, cny_per_demand: float) -> tuple[np.ndarray, float]:
    """The profit objective's yearly fixed cost per site and margin per unit of demand (CNY).

    Fixed cost = opex + capex / ``economics.capex_years`` (existing stores: opex only,
    their capex is spent); margin = ``economics.gross_margin_pct`` × the yearly offline
    market of one unit of demand (:func:`planner.demand.market_cny_per_demand`).
    """
    e = scenario.economics
    fixed = sites["opex_cny"].to_numpy(float) + sites["capex_cny"].to_numpy(float) / e.capex_years
    return fixed, e.gross_margin_pct / 100.0 * cny_per_demand


def rollout_params(config: RolloutConfig) -> RolloutParams:
    """The rollout's plain-number parameters from the validated ``rollout`` section.

    Every field of :class:`~planner.optimise.rollout.types.RolloutParams` has the
    name of its scenario key; ``enabled`` stays with the pipeline, which decides
    whether to schedule at all.
    """
    return RolloutParams(**{f.name: getattr(config, f.name) for f in fields(RolloutParams)})


def build_instance(layers: Layers, demand: pd.DataFrame, scenario: Scenario) -> BuiltInstance:
    """Turn layers + demand into an :class:`Instance` and its site/cell tables.

    Raises
    ------
    ConfigError
        A quota, forced or forbidden site names something that does not exist.
    """
    c = scenario.constraints
    formats = scenario.formats.catalogue
    sites = _site_rows(layers, scenario)
    cny_per_demand = market_cny_per_demand(layers, scenario)

    cell_mask = demand["demand"].to_numpy() > 0
    cells = pd.concat(
        [
            demand.loc[cell_mask].reset_index(drop=True),
            layers.cells.loc[cell_mask, ["county_code", "city_code", "province_code", "tier", "lat", "lon"]]
            .reset_index(drop=True),
        ],
        axis=1,
    )

    reach = sites["format"].map({k: f.reach_factor for k, f in formats.items()}).to_numpy(dtype=float)
    travel = layers.travel_costs
    unit = travel.unit if travel is not None else "km"
    catchment = scenario.objective.catchment_min if unit == "min" else scenario.objective.catchment_km
    radius = sites["tier"].map(catchment).to_numpy(dtype=float) * reach
    # the report's straight-line uses (rivals in the catchment, map circles) need km
    sites["radius_km"] = minutes_to_km(radius, scenario.data.travel_speed_kmh) if unit == "min" else radius
    if unit == "min":
        sites["radius_min"] = radius
    search = radius * (3.0 if scenario.objective.decay == "exponential" else 1.0)
    ps, pc, km = site_cell_pairs(sites, cells, search, scenario, travel)
    attr = sites["format"].map({k: f.attractiveness for k, f in formats.items()}).to_numpy(dtype=float)
    attr = attr * scenario.networks.brand_weight.get("own", 1.0)
    capex, opex = site_costs(sites, scenario)
    sites["capex_cny"], sites["opex_cny"], sites["attractiveness"] = capex, opex, attr
    county_name = sites["county_code"].map(layers.counties.set_index("code")["name"]).fillna("")
    # a prefecture without counties (东莞, 中山, ...) is all city core
    sites["is_county"] = county_name.map(is_county_unit).astype(bool) & (sites["county_code"] != sites["city_code"])

    existing_idx = np.flatnonzero(sites["existing"].to_numpy()).astype(np.int64)
    id_to_idx = pd.Series(np.arange(len(sites)), index=sites["site_id"])

    def _resolve_sites(ids: list[str], key: str) -> np.ndarray:
        missing = [s for s in ids if s not in id_to_idx.index]
        if missing:
            hint = difflib.get_close_matches(missing[0], list(id_to_idx.index[:50000]), n=1)
            raise ConfigError(
                f"{key}: unknown site id(s) {missing[:5]}" + (f"; did you mean {hint[0]!r}?" if hint else ".")
                + " Site ids are the store_id values of plan.csv (candidates: c-<h3 cell>, seat-<county code>)."
            )
        return np.asarray(id_to_idx[ids].to_numpy(), dtype=np.int64)

    forced = _resolve_sites(c.forced_sites, "constraints.forced_sites")
    # a signed lease must open: the file's id (its standard or first format) is forced
    signed = sites["signed"].to_numpy(bool) & (sites["site_id"] == sites["location_id"]).to_numpy()
    forced = np.union1d(forced, np.flatnonzero(signed)).astype(np.int64)
    forbidden = _resolve_sites(c.forbidden_sites, "constraints.forbidden_sites")
    if forbidden.size:
        # a forbidden place takes no store in any format: every format of the named locations
        named = sites["location_id"].to_numpy()[forbidden]
        same_place = sites["location_id"].isin(named).to_numpy() & ~sites["existing"].to_numpy(bool)
        forbidden = np.union1d(forbidden, np.flatnonzero(same_place)).astype(np.int64)

    # one store per cell: sites in the same H3 cell share a location
    location_key = sites["location_id"].copy()
    if c.one_store_per_cell:
        ex_per_cell = sites.loc[sites["existing"], "h3"].value_counts()
        crowded = set(ex_per_cell[ex_per_cell > 1].index)
        use_cell = ~(sites["existing"] & sites["h3"].isin(crowded))
        location_key[use_cell] = "cell-" + sites.loc[use_cell, "h3"].astype(str)
        blocked = (~sites["existing"]) & sites["h3"].isin(crowded)
        forbidden = np.union1d(forbidden, np.flatnonzero(blocked.to_numpy()))
    site_location = pd.factorize(location_key)[0].astype(np.int64)
    conflict_a, conflict_b = _spacing_conflicts(sites, scenario)

    groups: list[GroupLimit] = []
    prov_names = UnitNames("province", layers.provinces[["code", "name", "name_en"]])
    city_names = UnitNames("city", layers.cities[["code", "name", "name_en"]])
    county_names = UnitNames("county", layers.counties[["code", "name"]])
    tier_table = pd.DataFrame({"code": ["1", "new1", "2", "3", "4", "5"], "name": ["1", "new1", "2", "3", "4", "5"]})
    groups += _quota_groups(sites, "province_code", c.province, prov_names, "constraints.province")
    groups += _quota_groups(sites, "city_code", c.city, city_names, "constraints.city")
    groups += _quota_groups(sites, "county_code", c.county, county_names, "constraints.county")
    groups += _quota_groups(sites, "tier", c.tier, UnitNames("tier", tier_table), "constraints.tier")
    groups += _chain_of_command_groups(sites, scenario, prov_names)
    fmt_idx = sites.groupby("format").indices
    for fname, fmt in formats.items() if scenario.formats.enabled else ():
        if fmt.min_count or fmt.max_count is not None:
            groups.append(
                GroupLimit(
                    name=f"format {fname}",
                    sites=np.asarray(fmt_idx.get(fname, np.zeros(0, dtype=np.int64)), dtype=np.int64),
                    min_open=fmt.min_count, max_open=fmt.max_count,
                    key=f"formats.catalogue.{fname}.min_count/max_count",
                )
            )

    if c.keep_existing:
        fixed = np.union1d(existing_idx, forced)
        closable, max_closures = np.zeros(0, dtype=np.int64), 0
    else:
        fixed, closable, max_closures = forced, existing_idx, c.max_closures

    unreachable = scenario.objective.unreachable_min if unit == "min" else scenario.objective.unreachable_km
    lo, hi = _store_range(c.total_stores)
    fixed_cost, margin = profit_terms(sites, scenario, cny_per_demand)
    inst = Instance(
        weight=cells["demand"].to_numpy(dtype=float),
        pair_cell=pc.astype(np.int32),
        pair_site=ps.astype(np.int32),
        pair_km=km,
        n_sites=len(sites),
        stores=hi,
        radius_km=radius,
        unreachable_km=unreachable,
        site_attr=attr,
        competitor_pull=cells["competitor_pull"].to_numpy(dtype=float),
        beta=scenario.objective.huff_beta,
        decay=scenario.objective.decay,
        fixed=fixed.astype(np.int64),
        existing=closable.astype(np.int64),
        max_closures=max_closures,
        forbidden=forbidden.astype(np.int64),
        site_location=site_location,
        conflict_a=conflict_a,
        conflict_b=conflict_b,
        capex_cny=capex,
        opex_cny=opex,
        capex_budget_cny=c.capex_budget_cny,
        opex_budget_cny=c.opex_budget_cny,
        groups=groups,
        keys=SCENARIO_KEYS,
        site_fixed_cost=fixed_cost,
        margin=margin,
        stores_min=lo if lo != hi else None,
        stores_max=hi if lo != hi else None,
    )
    log.info(
        "instance: %d cells, %d sites (%d existing), %d pairs, %d spacing conflicts, %d groups",
        inst.n_cells, inst.n_sites, len(existing_idx), inst.n_pairs, len(conflict_a), len(groups),
    )
    return BuiltInstance(instance=inst, sites=sites, cells=cells, cost_unit=unit)


# --------------------------------------------------------------------------- the rivals' response
@dataclass
class BuiltFollower:
    """The rivals' response instance and the table that ties its site indices to places.

    ``sites`` has one row per follower site: ``brand``, ``site_id`` (``<brand>-<location>``),
    the candidate location's ``location_id``, place and admin codes, and ``leader_site``
    (the own site index at that location, standard format).
    """

    follower: Follower
    sites: pd.DataFrame


def check_response_brands(scenario: Scenario) -> None:
    """ConfigError when ``competition.response.stores`` names a brand that is not a competitor network."""
    known = sorted(scenario.networks.competitors)
    unknown = sorted(set(scenario.competition.response.stores) - set(known))
    if unknown:
        hint = difflib.get_close_matches(unknown[0], known, n=1)
        raise ConfigError(
            f"competition.response.stores: unknown rival brand(s) {unknown}"
            + (f"; did you mean {hint[0]!r}?" if hint else "")
            + f" The brands are those of networks.competitors: {known}."
        )


def build_follower(built: BuiltInstance, scenario: Scenario, open_sites: np.ndarray | None = None) -> BuiltFollower:
    """The rivals' openings of ``competition.response`` as a :class:`Follower`.

    Each rival brand may open at every candidate location (its standard-format
    site's pairs and distances), with the attraction ``networks.brand_weight`` of
    the brand, exactly ``competition.response.stores.<brand>`` times. With
    ``sites: untaken`` the locations of ``open_sites`` are forbidden to them.

    Raises
    ------
    ConfigError
        A brand that is not a competitor network, or more stores than locations.
    """
    check_response_brands(scenario)
    resp = scenario.competition.response
    known = sorted(scenario.networks.competitors)
    inst, sites = built.instance, built.sites
    cand = sites.index[(~sites["existing"]) & (sites["format"] == "standard")].to_numpy(dtype=np.int64)
    cand = cand[~sites.iloc[cand]["location_id"].duplicated().to_numpy()]
    n_loc = cand.size
    brands = [b for b in known if resp.stores.get(b, 0) > 0]
    order = np.argsort(inst.pair_site, kind="stable")
    ps_sorted = inst.pair_site[order]
    starts = np.searchsorted(ps_sorted, cand)
    ends = np.searchsorted(ps_sorted, cand, side="right")
    pair_idx = [order[a:b] for a, b in zip(starts, ends, strict=True)]
    loc_of_pair = np.repeat(np.arange(n_loc), [p.size for p in pair_idx])
    pairs = np.concatenate(pair_idx) if pair_idx else np.zeros(0, dtype=np.int64)
    cells_, kms, fsites, attrs, groups, rows = [], [], [], [], [], []
    weights = scenario.networks.brand_weight
    for b_i, brand in enumerate(brands):
        count = resp.stores[brand]
        if count > n_loc:
            raise ConfigError(
                f"competition.response.stores.{brand} = {count}: there are only {n_loc} candidate locations "
                "for the rivals to open at; lower it."
            )
        cells_.append(inst.pair_cell[pairs])
        kms.append(inst.pair_km[pairs])
        fsites.append(b_i * n_loc + loc_of_pair)
        attrs.append(np.full(n_loc, float(weights.get(brand, 1.0))))
        groups.append(GroupLimit(
            name=f"rival {brand}", sites=np.arange(b_i * n_loc, (b_i + 1) * n_loc, dtype=np.int64),
            min_open=count, max_open=count, key=f"competition.response.stores.{brand}",
        ))
        part = sites.iloc[cand][["location_id", "lat", "lon", "province_code", "city_code", "county_code", "tier"]].copy()
        part.insert(0, "brand", brand)
        part.insert(1, "site_id", brand + "-" + part["location_id"].astype(str))
        part["leader_site"] = cand
        rows.append(part)
    table = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(
        columns=["brand", "site_id", "location_id", "lat", "lon", "province_code", "city_code", "county_code", "tier", "leader_site"]
    )
    forbidden = np.zeros(0, dtype=np.int64)
    if resp.sites == "untaken" and open_sites is not None and len(table):
        taken = set(sites.iloc[np.asarray(open_sites, dtype=np.int64)]["h3"].astype(str))
        h3_of = sites.iloc[table["leader_site"].to_numpy()]["h3"].astype(str).to_numpy()
        forbidden = np.flatnonzero(np.isin(h3_of, list(taken))).astype(np.int64)
    fol = Follower(
        site_attr=np.concatenate(attrs) if attrs else np.zeros(0),
        pair_cell=np.concatenate(cells_) if cells_ else np.zeros(0, dtype=np.int64),
        pair_site=np.concatenate(fsites) if fsites else np.zeros(0, dtype=np.int64),
        pair_km=np.concatenate(kms) if kms else np.zeros(0),
        stores=int(sum(resp.stores.get(b, 0) for b in brands)),
        groups=groups, forbidden=forbidden, key="competition.response.stores",
    )
    return BuiltFollower(follower=fol, sites=table)


# ------------------------------------------------------------------------ command
def command_params(config: CommandConfig) -> CommandParams:
    """The command's plain-number parameters from the validated ``command`` section (same field names)."""
    return CommandParams(**{f.name: getattr(config, f.name) for f in fields(CommandParams)})


def store_workload(inst: Instance, open_sites: np.ndarray) -> np.ndarray:
    """Catchment demand of each open site: every cell's demand goes to its nearest open site within reach.

    The workload an area manager carries before the economics issue gives each
    store its sales (pass those to :func:`territory_instance` instead when present).

    Returns
    -------
    float[len(open_sites)], in the cells' demand units.
    """
    open_sites = np.asarray(open_sites, dtype=np.int64)
    pos = np.full(inst.n_sites, -1, dtype=np.int64)
    pos[open_sites] = np.arange(open_sites.size)
    ps = np.asarray(inst.pair_site, dtype=np.int64)
    mine = pos[ps] >= 0
    cell = np.asarray(inst.pair_cell, dtype=np.int64)[mine]
    km = np.asarray(inst.pair_km, dtype=float)[mine]
    site = pos[ps[mine]]
    order = np.lexsort((site, km, cell))  # per cell, the nearest open site first
    first = np.r_[True, np.diff(cell[order]) != 0]
    nearest = order[first]
    return np.bincount(site[nearest], weights=np.asarray(inst.weight, dtype=float)[cell[nearest]],
                       minlength=open_sites.size)


def territory_instance(
    layers: Layers, built: BuiltInstance, open_sites: np.ndarray, *, workload: np.ndarray | None = None,
) -> tuple[TerritoryInstance, np.ndarray, list[str]]:
    """The counties of the final network, their stores and workload, and the county graph.

    Parameters
    ----------
    layers
        The scenario's geodata (counties and their boundaries).
    built
        The site-selection instance and its site table.
    open_sites
        Site indices of the final network.
    workload
        float[len(open_sites)] each store's workload; default its catchment demand
        (:func:`store_workload`). The hook for sales per store.

    Returns
    -------
    TerritoryInstance, int[len(open_sites)] the county index (row of ``layers.counties``) of each open site,
    and the province code of each province index.
    """
    from planner.geodata import county_adjacency, county_centroids_km

    open_sites = np.asarray(open_sites, dtype=np.int64)
    counties = layers.counties.reset_index(drop=True)
    codes = counties["code"].astype(str)
    prov_codes, prov_idx = np.unique(counties["province_code"].astype(str).to_numpy(), return_inverse=True)
    pos = pd.Series(np.arange(len(counties)), index=codes)
    site_county_code = built.sites["county_code"].astype(str).to_numpy()[open_sites]
    missing = sorted(set(site_county_code) - set(pos.index))
    if missing:
        raise DataError(f"open stores lie in counties {missing[:5]} missing from the counties layer; rebuild the "
                        "geodata cache (planner data build)")
    site_county = pos[site_county_code].to_numpy(dtype=np.int64)
    w = store_workload(built.instance, open_sites) if workload is None else np.asarray(workload, dtype=float)
    adj = county_adjacency(counties)
    names = layers.provinces.set_index("code")["name"].reindex(prov_codes).fillna("").tolist()
    tinst = TerritoryInstance(
        county_province=prov_idx,
        county_stores=np.bincount(site_county, minlength=len(counties)),
        county_workload=np.bincount(site_county, weights=w, minlength=len(counties)),
        county_xy_km=county_centroids_km(counties),
        adj_a=adj["a"].to_numpy(), adj_b=adj["b"].to_numpy(),
        county_codes=codes.tolist(), province_names=names,
    )
    return tinst, site_county, [str(x) for x in prov_codes]
