"""The geodata layers every later step reads (the contract of ``planner.geodata``).

``load_layers(scenario)`` returns a :class:`Layers`; all coordinates WGS-84
(EPSG:4326). Column names are part of the contract: demand, instance, report and
maps read them by name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import geopandas as gpd
import pandas as pd


@dataclass
class Layers:
    """All geodata of one scenario.

    provinces   : code (str, 6 digits), name, name_en, population, urban_population,
                  income_cny, geometry (MultiPolygon)
    cities      : code, name, name_en, province_code, tier ('1','new1','2'..'5'),
                  tier_source ('yicai2025'|'rule:population'), population, geometry
    counties    : code, name, city_code, province_code, population, urban_population,
                  seat_lat, seat_lon, geometry
    cells       : h3 (str), county_code, city_code, province_code, tier, population,
                  lat, lon, geometry (Point at the cell centre)
    candidates  : site_id (str, stable: 'c-<h3>' or 'seat-<county code>'), h3, kind
                  ('cell'|'county_seat'), county_code, city_code, province_code, tier,
                  lat, lon, geometry (Point)
    own_stores  : store_id, name, format, lat, lon, h3, county_code, city_code,
                  province_code, tier, illustrative (bool), geometry (Point)
    competitors : brand, store_id, name, lat, lon, h3, county_code, city_code,
                  province_code, tier, illustrative (bool), geometry (Point)
    provenance  : free-form notes on sources (file, licence, illustrative or real)
    travel_costs: the team's own cell-to-site travel costs (``data.travel_costs``), or None
    """

    provinces: gpd.GeoDataFrame
    cities: gpd.GeoDataFrame
    counties: gpd.GeoDataFrame
    cells: gpd.GeoDataFrame
    candidates: gpd.GeoDataFrame
    own_stores: gpd.GeoDataFrame
    competitors: gpd.GeoDataFrame
    provenance: dict[str, str] = field(default_factory=dict)
    cache_key: str = ""
    travel_costs: TravelCosts | None = None


@dataclass
class TravelCosts:
    """A user's cell-to-site travel costs (``data.travel_costs``), checked against the layers.

    table : ``h3`` (str, a grid cell of ``cells``), ``site_id`` (str, a candidate
            ``site_id`` or an own store's ``store_id``), ``cost`` (float >= 0, finite),
            one row per pair
    unit  : ``'min'`` (travel minutes) or ``'km'`` (road kilometres)
    path  : the file, for messages and provenance
    """

    table: pd.DataFrame
    unit: Literal["min", "km"]
    path: str
