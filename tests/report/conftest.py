"""Hand-made micro geodata and a plan for the map and figure tests.

Two square "provinces" side by side (113–115° E, 30–31° N), each split into two
cities, each city into two counties; H3 cells on a regular grid inside them; a
plan of 12 stores (4 existing, 8 new over 3 quarters, all three formats, two with
hostile names); three competitor brands. Everything follows the column contract of
``planner.geodata.layers.Layers`` and ``plan.csv`` so the tests need no real data.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import geopandas as gpd
import h3
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import Point, box

from planner.config.models import MapConfig, Scenario
from planner.geodata.layers import Layers

XSS_NAME = "<script>alert(1)</script>"
XSS_IMG = '<img src=x onerror="window.__xss=1">'


def _gdf(rows: list[dict[str, Any]]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(rows, geometry="geometry", crs="EPSG:4326")


def make_layers() -> Layers:
    """Micro layers: 2 provinces, 4 cities, 8 counties, ~100 H3 cells, 30 competitors."""
    provinces, cities, counties = [], [], []
    for p in range(2):
        x0 = 113.0 + p
        pcode = f"{41 + p}0000"
        provinces.append(
            {"code": pcode, "name": f"省{p}", "name_en": f"Province {p}", "population": 0.0,
             "urban_population": 0.0, "income_cny": 30000.0, "geometry": box(x0, 30.0, x0 + 1, 31.0)}
        )
        for c in range(2):
            ccode = f"{41 + p}{c + 1:02d}00"
            cities.append(
                {"code": ccode, "name": f"市{p}{c}", "name_en": f"City {p}{c}", "province_code": pcode,
                 "tier": ["1", "3"][c], "tier_source": "yicai2025", "population": 0.0,
                 "geometry": box(x0, 30.0 + 0.5 * c, x0 + 1, 30.5 + 0.5 * c)}
            )
            for k in range(2):
                kcode = f"{41 + p}{c + 1:02d}{k + 1:02d}"
                g = box(x0 + 0.5 * k, 30.0 + 0.5 * c, x0 + 0.5 * (k + 1), 30.5 + 0.5 * c)
                counties.append(
                    {"code": kcode, "name": f"县{p}{c}{k}", "city_code": ccode, "province_code": pcode,
                     "population": 0.0, "urban_population": 0.0, "seat_lat": g.centroid.y,
                     "seat_lon": g.centroid.x, "geometry": g}
                )
    counties_g = _gdf(counties)
    rng = np.random.default_rng(7)
    seen: set[str] = set()
    cells = []
    for lon in np.arange(113.05, 115.0, 0.2):
        for lat in np.arange(30.05, 31.0, 0.2):
            h = h3.latlng_to_cell(lat, lon, 6)
            if h in seen:
                continue
            seen.add(h)
            clat, clon = h3.cell_to_latlng(h)
            hit = counties_g[counties_g.contains(Point(clon, clat))]
            if hit.empty:
                continue
            row = hit.iloc[0]
            cells.append(
                {"h3": h, "county_code": row["code"], "city_code": row["city_code"],
                 "province_code": row["province_code"], "tier": "1" if row["city_code"].endswith("0100") else "3",
                 "population": float(rng.integers(1_000, 200_000)), "lat": clat, "lon": clon,
                 "geometry": Point(clon, clat)}
            )
    cells_g = _gdf(cells)
    pop = cells_g.groupby("county_code")["population"].sum()
    counties_g["population"] = counties_g["code"].map(pop).fillna(0.0)
    cities_g = _gdf(cities)
    cities_g["population"] = cities_g["code"].map(cells_g.groupby("city_code")["population"].sum()).fillna(0.0)
    prov_g = _gdf(provinces)
    prov_g["population"] = prov_g["code"].map(cells_g.groupby("province_code")["population"].sum()).fillna(0.0)

    comps = []
    for b, brand in enumerate(["huawei", "oppo", "vivo"]):
        for i in range(10):
            lon, lat = 113.1 + 0.18 * i, 30.2 + 0.25 * b
            comps.append(
                {"brand": brand, "store_id": f"{brand}-{i}", "name": f"{brand} store {i}" if i else XSS_IMG,
                 "lat": lat, "lon": lon, "h3": h3.latlng_to_cell(lat, lon, 6), "county_code": "",
                 "city_code": "", "province_code": "", "tier": "3", "illustrative": True,
                 "geometry": Point(lon, lat)}
            )
    empty = gpd.GeoDataFrame(geometry=[], crs="EPSG:4326")
    return Layers(
        provinces=prov_g, cities=cities_g, counties=counties_g, cells=cells_g, candidates=empty,
        own_stores=empty, competitors=_gdf(comps), provenance={"networks": "illustrative"},
    )


def make_plan(layers: Layers) -> pd.DataFrame:
    """12 stores: 4 existing, 8 new in 2027Q1..Q3, every format, two hostile names."""
    rows = []
    counties = layers.counties.reset_index(drop=True)
    quarters = ["", "", "", "", "2027Q1", "2027Q1", "2027Q2", "2027Q2", "2027Q2", "2027Q3", "2027Q3", "2027Q3"]
    formats = ["flagship", "standard", "small", "standard"] * 3
    for i in range(12):
        cty = counties.iloc[i % len(counties)]
        c = cty.geometry.centroid
        status = "existing" if i < 4 else "new"
        name = {1: XSS_NAME, 5: XSS_IMG}.get(i, f"Store {i}")
        rows.append(
            {"store_id": f"s{i:03d}", "name": name, "status": status, "lat": c.y + 0.01 * (i // 8),
             "lon": c.x + 0.01 * (i // 8), "province": "P", "city": "C", "county": cty["name"],
             "province_code": cty["province_code"], "city_code": cty["city_code"], "county_code": cty["code"],
             "tier": "1" if cty["city_code"].endswith("0100") else "3", "format": formats[i],
             "quarter": quarters[i], "catchment_population": 12345.0 * (i + 1), "marginal_value": 1000.0 * i,
             "cannibalised_pct": 1.5 * i, "nearest_own_km": 2.0, "nearest_competitor_km": 0.8,
             "competitors_in_catchment": i % 4}
        )
    return pd.DataFrame(rows)


def make_kpis(layers: Layers, plan: pd.DataFrame) -> dict[str, Any]:
    per = []
    for p in layers.provinces.itertuples():
        sub = plan[plan["province_code"] == p.code]
        per.append(
            {"province_code": p.code, "province": p.name, "population": p.population, "stores": len(sub),
             "new_stores": int((sub["status"] == "new").sum()),
             "stores_per_million": len(sub) / p.population * 1e6, "covered_share": 0.25 + 0.5 * (p.Index % 2),
             "market_share": 0.1}
        )
    return {
        "scenario": "micro-test", "objective_kind": "coverage", "objective": 1234567.0, "bound": 1300000.0,
        "gap": 0.0512, "stores": len(plan), "covered_population": 1e6, "covered_share": 0.42,
        "illustrative_networks": True, "created": "2026-11-25", "per_province": per,
    }


def make_cell_values(layers: Layers) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    n = len(layers.cells)
    return pd.DataFrame(
        {"h3": layers.cells["h3"], "demand": layers.cells["population"] * 1.1, "captured_share": rng.random(n)}
    )


def make_rollout(plan: pd.DataFrame) -> pd.DataFrame:
    qs = ["2027Q1", "2027Q2", "2027Q3"]
    opened = [int((plan["quarter"] == q).sum()) for q in qs]
    total = 4 + np.cumsum(opened)
    return pd.DataFrame({"quarter": qs, "opened": opened, "open_total": total, "managers_ready": [5, 5, 5]})


@pytest.fixture(scope="session")
def micro_layers() -> Layers:
    return make_layers()


@pytest.fixture(scope="session")
def micro_inputs(micro_layers: Layers) -> dict[str, Any]:
    plan = make_plan(micro_layers)
    return {
        "layers": micro_layers,
        "plan": plan,
        "kpis": make_kpis(micro_layers, plan),
        "rollout": make_rollout(plan),
        "cell_values": make_cell_values(micro_layers),
    }


@pytest.fixture(scope="session")
def write_micro_map(
    micro_inputs: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> Callable[..., Path]:
    """Write the micro map with ``map`` options overridden; cached per option set."""
    cache: dict[tuple[Any, ...], Path] = {}

    def _write(**map_options: Any) -> Path:
        key = tuple(sorted(map_options.items()))
        if key not in cache:
            from planner.report.maps import write_map

            scenario = Scenario(name="micro-test", description="Two provinces <b>test</b>",
                                map=MapConfig(**map_options))
            out = tmp_path_factory.mktemp("map") / "map.html"
            cache[key] = write_map(out, scenario=scenario, **micro_inputs)
        return cache[key]

    return _write
