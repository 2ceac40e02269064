"""Illustrative store networks, generated deterministically from the scenario seed.

We have no real store lists, so the brand's existing stores and the
competitors' are *generated* to look like the real networks and are labelled
``illustrative=True`` everywhere. The recipe, per brand:

1. choose ``cities`` cities by weighted sampling without replacement (Gumbel
   top-k), weight = city population × the brand's tier preference
   (``TIER_PREFERENCE``: the own brand is strongly tier-1/2 heavy, competitors
   nearly flat);
2. share ``count`` stores among them in proportion to the same weight to the
   power 0.8, at least one each (largest remainders);
3. in each city, each store goes to a county town with probability
   ``county_depth`` (if the city has counties beyond its core), else to the
   core (urban districts: codes ending 01–20, or the whole municipality's
   districts); core stores sit at cells drawn ∝ population^1.5 (dense centres;
   the own brand at most one store per cell), county stores in a county drawn
   ∝ its urban population, at a cell drawn ∝ population²;
4. each store is jittered uniformly inside its cell's inscribed circle;
5. own-store formats: flagship with probability ``FLAGSHIP_P`` in tier-1/new1
   cores, small with probability ``SMALL_P`` (higher in county towns and
   tier 3–5), else standard.

``count`` and ``cities`` are for the scenario's provinces (the national
default: 150 own stores in 45 cities; a one-province scenario states its own).
Stores are always placed on the resolution-7 grid, so they stay put whatever
the scenario's resolution. Random streams: ``(seed, crc32(brand))`` for the
choice of cities and counts, ``(seed, brand, city code)`` for each city's
stores; ids are ``<brand>-<city code>-<n>``.
"""

from __future__ import annotations

import logging
import math
import zlib

import h3
import numpy as np
import pandas as pd

from planner.config.models import StoreSource

from ._sources import MUNICIPALITY_PREFIXES

log = logging.getLogger(__name__)

__all__ = ["PlacementSpace", "plan_cities", "core_county_mask", "NETWORK_RESOLUTION"]

#: the grid resolution stores are placed on (independent of the scenario's)
NETWORK_RESOLUTION = 7

TIER_PREFERENCE: dict[str, dict[str, float]] = {
    "own": {"1": 8.0, "new1": 5.0, "2": 2.5, "3": 0.8, "4": 0.25, "5": 0.1},
    "competitor": {"1": 1.3, "new1": 1.25, "2": 1.15, "3": 1.0, "4": 0.9, "5": 0.8},
}
#: own-brand flagship probability in the core of tier-1 / new-tier-1 cities
FLAGSHIP_P = {"1": 0.25, "new1": 0.12}
#: own-brand small-format probability: city core by tier, county towns
SMALL_P = {"1": 0.05, "new1": 0.08, "2": 0.12, "3": 0.25, "4": 0.35, "5": 0.35, "county": 0.5}
_GUMBEL_SCALE = 0.6


def core_county_mask(county_codes: pd.Series, city_codes: pd.Series) -> np.ndarray:
    """True for a city's core counties: urban districts (codes ..01–..20), or the
    municipality's districts (..01xx), or the county that is the city itself."""
    c = county_codes.astype(str)
    muni = c.str[:2].isin(MUNICIPALITY_PREFIXES).to_numpy()
    tail = c.str[4:].astype(int).to_numpy()
    core = np.where(muni, (c.str[2:4] == "01").to_numpy(), (tail >= 1) & (tail <= 20))
    return np.asarray(core | (c == city_codes.astype(str)).to_numpy(), dtype=bool)


def _rng(seed: int, *salt: str) -> np.random.Generator:
    return np.random.default_rng([int(seed), *(zlib.crc32(x.encode("utf-8")) for x in salt)])


def _largest_remainder(total: int, weights: np.ndarray) -> np.ndarray:
    """Integers ≥ 1 summing to ``total`` (≥ len), proportional to weights."""
    n = len(weights)
    base = np.ones(n, dtype=np.int64)
    rest = total - n
    if rest <= 0:
        return base
    quota = rest * weights / weights.sum()
    floor = np.floor(quota).astype(np.int64)
    left = rest - int(floor.sum())
    order = np.argsort(-(quota - floor), kind="stable")
    floor[order[:left]] += 1
    return base + floor


def _jitter(rng: np.random.Generator, lat: np.ndarray, lon: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Uniform points in the inscribed circle of each cell (so they stay inside it)."""
    radius_m = 0.5 * math.sqrt(3.0) * h3.average_hexagon_edge_length(NETWORK_RESOLUTION, unit="m") * 0.9
    r = radius_m * np.sqrt(rng.random(len(lat)))
    theta = 2 * np.pi * rng.random(len(lat))
    dlat = (r * np.cos(theta)) / 111_320.0
    dlon = (r * np.sin(theta)) / (111_320.0 * np.cos(np.radians(lat)))
    return lat + dlat, lon + dlon


def plan_cities(brand: str, cfg: StoreSource, *, seed: int, cities: pd.DataFrame, own: bool) -> pd.Series:
    """How many stores the brand has in each city (whole mainland).

    Returns
    -------
    pandas.Series
        Stores per city code, for the chosen cities only, sorted by code.
    """
    rng = _rng(seed, brand)
    pref = TIER_PREFERENCE["own" if own else "competitor"]
    cities = cities[cities["population"] > 0].sort_values("code").reset_index(drop=True)
    weight = cities["population"].to_numpy(dtype=float) * cities["tier"].map(pref).to_numpy(dtype=float)
    n_cities = min(cfg.cities, len(cities), cfg.count)
    if n_cities == 0:
        return pd.Series(dtype=np.int64)
    keys = np.log(weight) + _GUMBEL_SCALE * rng.gumbel(size=len(weight))
    chosen = np.sort(np.argsort(-keys, kind="stable")[:n_cities])
    per_city = _largest_remainder(cfg.count, weight[chosen] ** 0.8)
    return pd.Series(per_city, index=cities["code"].to_numpy()[chosen], name="stores")


class PlacementSpace:
    """Where stores can go: cells grouped by county, counties grouped by city.

    Built once and shared by every brand's :meth:`generate`.

    Parameters
    ----------
    cells : pandas.DataFrame
        Resolution-7 cells of (at least) the selected provinces: ``h3``,
        ``county_code``, ``population``, ``lat``, ``lon``.
    counties : pandas.DataFrame
        Every county: ``code, name, city_code, urban_population``.
    cities : pandas.DataFrame
        Every city: ``code, name, tier, population``.
    """

    def __init__(self, cells: pd.DataFrame, counties: pd.DataFrame, cities: pd.DataFrame) -> None:
        county_codes = cells["county_code"].to_numpy(dtype=object)
        h3_codes = cells["h3"].to_numpy(dtype=object)
        # grid cells come sorted by cell within a county; a stable sort by county keeps that
        order = np.argsort(pd.factorize(county_codes, sort=True)[0], kind="stable")
        del h3_codes
        # plain numpy arrays: indexing Arrow-backed columns inside loops is slow
        self.pop = cells["population"].to_numpy(dtype=float)[order]
        self.lat = cells["lat"].to_numpy(dtype=float)[order]
        self.lon = cells["lon"].to_numpy(dtype=float)[order]
        self.county = county_codes[order]
        codes_sorted, uniq = pd.factorize(self.county, sort=False)
        bounds = np.flatnonzero(np.diff(codes_sorted, prepend=-1, append=-1))
        self.slices = {str(uniq[codes_sorted[a]]): (int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:], strict=True)}
        counties = counties.sort_values("code").reset_index(drop=True)
        core = core_county_mask(counties["code"], counties["city_code"])
        self.county_name = dict(zip(counties["code"].tolist(), counties["name"].tolist(), strict=True))
        self.by_city: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        codes = counties["code"].to_numpy(dtype=object)
        urban = counties["urban_population"].to_numpy(dtype=float)
        for city, idx in counties.groupby("city_code", sort=True).indices.items():
            self.by_city[str(city)] = (codes[idx], core[idx], urban[idx])
        self.cities = cities.sort_values("code").reset_index(drop=True)
        self.city_name = dict(zip(self.cities["code"].tolist(), self.cities["name"].tolist(), strict=True))
        self.city_tier = dict(zip(self.cities["code"].tolist(), self.cities["tier"].astype(str).tolist(), strict=True))

    def _cells_of(self, codes: np.ndarray) -> np.ndarray:
        parts = [np.arange(*self.slices[c]) for c in codes.tolist() if c in self.slices]
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)

    def generate(
        self, brand: str, cfg: StoreSource, *, seed: int, own: bool, province_codes: list[str]
    ) -> pd.DataFrame:
        """Generate one brand's stores in some provinces.

        ``cfg.count`` stores over ``cfg.cities`` cities *of these provinces* (a
        one-province scenario states its own counts). The cities and their store
        counts come from one random stream (``seed``, brand); each city's stores
        are then placed with a stream of their own (``seed``, brand, city code).

        Parameters
        ----------
        brand : str
            ``'own'`` or the competitor's name (also salts the random streams).
        cfg : StoreSource
            ``count``, ``cities``, ``county_depth``.
        seed : int
            ``scenario.seed``.
        own : bool
            The brand's own network (tier-heavy, formats, one store per cell).
        province_codes : list of str
            Provinces to place stores in.

        Returns
        -------
        pandas.DataFrame
            ``store_id`` (``<brand>-<city code>-<n>``), ``name, format, lat, lon,
            county_code, city_code``; sorted by id.
        """
        wanted = {p[:2] for p in province_codes}
        in_scope = self.cities[self.cities["code"].astype(str).str[:2].isin(wanted)]
        plan = plan_cities(brand, cfg, seed=seed, cities=in_scope, own=own)
        prefix = "own" if own else brand
        out: dict[str, list[object]] = {k: [] for k in ("store_id", "name", "format", "lat", "lon", "county_code", "city_code")}
        for city_code, n_stores in plan.items():
            city_code = str(city_code)
            rng = _rng(seed, brand, city_code)
            tier = self.city_tier[city_code]
            codes, core, urban = self.by_city[city_code]
            if not core.any():
                core = np.arange(len(codes)) == int(np.argmax(urban))
            town = ~core & (urban > 0)
            n_town = int(rng.binomial(int(n_stores), cfg.county_depth)) if town.any() else 0
            core_idx = self._cells_of(codes[core])
            picks: list[int] = []
            in_town: list[bool] = []
            k_core = int(n_stores) - n_town
            if k_core > 0 and len(core_idx):
                p = self.pop[core_idx] ** 1.5
                replace = (not own) or k_core > len(core_idx)
                picks += rng.choice(core_idx, size=k_core, replace=replace, p=p / p.sum()).tolist()
                in_town += [False] * k_core
            elif k_core > 0:
                n_town += k_core
            if n_town and town.any():
                t_codes, t_urban = codes[town], urban[town]
                which = rng.choice(len(t_codes), size=n_town, replace=True, p=t_urban / t_urban.sum())
                for t, n_t in enumerate(np.bincount(which, minlength=len(t_codes)).tolist()):
                    idx = self._cells_of(t_codes[t : t + 1])
                    if n_t and len(idx):
                        p = self.pop[idx] ** 2
                        picks += rng.choice(idx, size=n_t, p=p / p.sum()).tolist()
                        in_town += [True] * n_t
            if not picks:
                continue
            idx = np.asarray(picks, dtype=np.int64)
            town_mask = np.asarray(in_town, dtype=bool)
            fmt = np.full(len(idx), "standard", dtype=object)
            if own:
                u = rng.random(len(idx))
                flag = np.where(town_mask, 0.0, FLAGSHIP_P.get(tier, 0.0))
                small = np.where(town_mask, SMALL_P["county"], SMALL_P[tier])
                fmt = np.where(u < flag, "flagship", np.where(u < flag + small, "small", "standard")).astype(object)
            lat, lon = _jitter(rng, self.lat[idx], self.lon[idx])
            for k, i in enumerate(idx.tolist(), start=1):
                county = str(self.county[i])
                label = f"{self.city_name[city_code]}·{self.county_name.get(county, county)}"
                out["store_id"].append(f"{prefix}-{city_code}-{k:03d}")
                out["name"].append(f"示例门店 {label} {k}" if own else f"{brand.upper()} {label} {k}")
                out["county_code"].append(county)
                out["city_code"].append(city_code)
            out["format"] += fmt.tolist()
            out["lat"] += lat.tolist()
            out["lon"] += lon.tolist()
        return pd.DataFrame(out).sort_values("store_id").reset_index(drop=True)
