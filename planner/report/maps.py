"""Layered Folium map of a solved plan (``map.html``), offline and GCJ-02 ready.

The map reads results (the plan table, the KPIs, the geodata layers and, when the
pipeline has them, the rollout table and per-cell values); it never solves. It
draws admin choropleths (province / city / county, switchable), H3 grid hexagons
(aggregated to a coarser resolution for national views), the own stores by status,
quarter and format, competitor networks (clustered, off by default), a quarter
slider, a city search box, a scale bar, a title and a visible note when the store
networks are illustrative.

Three rules hold everywhere in this module:

- every user-supplied string reaches the page through :func:`~planner.report.html.esc`,
  and every data blob through :func:`~planner.report.html.js_json` (which also escapes
  ``<``, ``>``, ``&`` and ``'``), so a store called ``<script>alert(1)</script>`` shows as text;
- coordinates are WGS-84 until :class:`_Projector` writes them, which converts to
  GCJ-02 (:func:`planner.spatial.wgs84_to_gcj02`) only when the background is AMap
  (``map.tiles: amap``), then rounds to 5 decimals (about 1 m);
- with ``map.offline: true`` every script and style sheet is inlined
  (:func:`~planner.report.leaflet.render_map`), so the page needs no network except
  for background tiles.

The figures drawn (admin-level KPIs, the H3 aggregation) come from
:mod:`planner.report.kpis`; the Leaflet elements, their JavaScript and the page
rendering from :mod:`planner.report.leaflet`; the colours, shapes and the legend that
explains them from :mod:`planner.report.legend`. This module decides what goes on the
map: its layers, their popups and the page around them.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import folium
import folium.plugins
import geopandas as gpd
import h3
import numpy as np
import pandas as pd
import shapely
from branca.element import Element
from matplotlib import colormaps
from matplotlib.colors import to_hex

from planner.config.models import Scenario
from planner.errors import DataError
from planner.geodata.layers import Layers
from planner.report.html import esc, fmt_float, fmt_int, fmt_pct, js_json
from planner.report.kpis import (
    ADMIN_LEVELS,
    KPI_LABELS,
    admin_kpi_table,
    admin_units,
    aggregate_grid,
)
from planner.report.lead_map import lead_layers, response_layer
from planner.report.leaflet import (
    AREAS_JS,
    CITY_POINTS_JS,
    COMPETITOR_JS,
    HOOK_JS,
    POLYGON_JS,
    SLIDER_JS,
    STORES_JS,
    UNUSED_DEFAULT_CSS,
    UNUSED_DEFAULT_JS,
    ClusterLayer,
    JsLayer,
    LayerRegistry,
    RawScript,
    feature_group,
    polygon_features,
    render_map,
    store_css,
)
from planner.report.legend import (
    EXISTING_COLOUR,
    FORMAT_SHAPES,
    NO_DATA_COLOUR,
    fmt_kpi,
    legend_html,
    note_html,
    title_html,
)
from planner.spatial import wgs84_to_gcj02

__all__ = ["SIMPLIFY_TOLERANCE_DEG", "TILES", "build_map", "write_map"]

log = logging.getLogger(__name__)

SIMPLIFY_TOLERANCE_DEG: dict[str, float] = {"province": 0.01, "city": 0.005, "county": 0.0025}
"""Douglas-Peucker tolerance per admin level (degrees; 0.01° ≈ 1 km)."""

COORD_DECIMALS = 5
"""Decimals kept in written coordinates (1e-5° ≈ 1.1 m)."""

PLAN_COLUMNS: tuple[str, ...] = ("store_id", "status", "lat", "lon")
"""Plan columns the map cannot do without; the others (name, codes, format, quarter, ...) are optional."""

CHOROPLETH_CMAP = "YlGnBu"
QUARTER_CMAP = "plasma"
N_CLASSES = 5
COMPETITOR_COLOURS = {"huawei": "#dc2626", "oppo": "#16a34a", "vivo": "#2563eb"}
FALLBACK_COMPETITOR_COLOURS = ("#9333ea", "#ea580c", "#0891b2", "#65a30d")

TILES: dict[str, dict[str, Any]] = {
    "osm": {
        "url": "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
        "attr": "&copy; OpenStreetMap contributors",
        "name": "OpenStreetMap",
        "subdomains": "abc",
    },
    "amap": {
        "url": "https://webrd0{s}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1&style=8&x={x}&y={y}&z={z}",
        "attr": "&copy; AutoNavi (高德地图), GCJ-02",
        "name": "AMap (Gaode)",
        "subdomains": "1234",
    },
}
"""Background tile sources; the URLs are the only network the map ever needs."""


# --------------------------------------------------------------------------- small helpers
def _quarters(plan: pd.DataFrame) -> list[str]:
    """Rollout quarters that open new stores, in time order ('2027Q1' < '2027Q2')."""
    if "quarter" not in plan:
        return []
    q = plan.loc[plan["status"] == "new", "quarter"].dropna().astype(str).str.strip()
    return sorted({x for x in q if x and x.lower() != "nan"})


# --------------------------------------------------------------------------- coordinates and colours
@dataclass(frozen=True)
class _Projector:
    """Writes coordinates: WGS-84 → (GCJ-02 for AMap) → rounded to :data:`COORD_DECIMALS`."""

    gcj02: bool

    def xy(self, lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        lon = np.asarray(lon, dtype=float)
        lat = np.asarray(lat, dtype=float)
        if self.gcj02:
            lon, lat = wgs84_to_gcj02(lon, lat)
        return np.round(lon, COORD_DECIMALS), np.round(lat, COORD_DECIMALS)

    def geoms(self, geoms: np.ndarray) -> np.ndarray:
        def _f(coords: np.ndarray) -> np.ndarray:
            x, y = self.xy(coords[:, 0], coords[:, 1])
            return np.column_stack([x, y])

        return shapely.transform(np.asarray(geoms, dtype=object), _f)


def _class_breaks(values: np.ndarray, n: int = N_CLASSES) -> np.ndarray:
    """Quantile class breaks (unique, ascending) of the finite values."""
    v = values[np.isfinite(values)]
    if v.size == 0:
        return np.array([0.0, 1.0])
    breaks = np.unique(np.quantile(v, np.linspace(0, 1, n + 1)))
    if breaks.size == 1:
        breaks = np.array([breaks[0], breaks[0] + 1e-9])
    return breaks


def _palette(n: int, cmap: str = CHOROPLETH_CMAP, lo: float = 0.15, hi: float = 0.95) -> list[str]:
    cm = colormaps[cmap]
    if n <= 1:
        return [to_hex(cm(hi))]
    return [to_hex(cm(lo + (hi - lo) * i / (n - 1))) for i in range(n)]


def _classify(values: np.ndarray, breaks: np.ndarray, colours: Sequence[str]) -> list[str]:
    idx = np.clip(np.searchsorted(breaks, values, side="right") - 1, 0, len(colours) - 1)
    return [colours[i] if np.isfinite(v) else NO_DATA_COLOUR for v, i in zip(values, idx, strict=True)]



def _admin_layers(
    m: folium.Map,
    reg: LayerRegistry,
    *,
    layers: Layers,
    plan: pd.DataFrame,
    kpis: Mapping[str, Any],
    kpi: str,
    cell_values: pd.DataFrame | None,
    proj: _Projector,
) -> list[tuple[str, np.ndarray, list[str]]]:
    """Province / city / county choropleths; returns each level's breaks and colours for the legend."""
    label, unit = KPI_LABELS[kpi]
    legends = []
    style = {"province": (1.2, 0.65), "city": (0.7, 0.6), "county": (0.4, 0.6)}
    for level in ADMIN_LEVELS:
        units = admin_units(layers, level)
        if units is None or len(units) == 0:
            continue
        table = admin_kpi_table(level, layers=layers, plan=plan, kpis=kpis, kpi=kpi, cell_values=cell_values)
        values = table["value"].to_numpy(dtype=float)
        breaks = _class_breaks(values)
        colours = _palette(len(breaks) - 1)
        fills = _classify(values, breaks, colours)
        props = []
        for (code, row), fill in zip(table.iterrows(), fills, strict=True):
            tip = (
                f"<b>{esc(row['name'])}</b> <small>({esc(level)} {esc(code)})</small><br>"
                f"{esc(label)}: <b>{esc(fmt_kpi(kpi, row['value']))}</b> <small>{esc(unit)}</small><br>"
                f"Stores: {fmt_int(row['stores'])} ({fmt_int(row['new_stores'])} new)<br>"
                f"Population: {fmt_int(row['population'])} people"
            )
            props.append((tip, fill))
        feats = polygon_features(units.geometry.to_numpy(), props, proj.geoms, SIMPLIFY_TOLERANCE_DEG[level])
        fg = feature_group(
            m, reg, level, f"{level.capitalize()}: {label.lower()}", show=(level == "province")
        )
        weight, opacity = style[level]
        data = {"f": feats, "stroke": "#4b5563", "weight": weight, "opacity": opacity}
        fg.add_child(JsLayer(fg, data, POLYGON_JS, m.get_name(), lazy=True, key=level))
        legends.append((level, breaks, colours))
        log.debug("map: %s layer with %d polygons", level, len(feats))
    return legends


def _grid_layer(
    m: folium.Map,
    reg: LayerRegistry,
    *,
    cells: gpd.GeoDataFrame,
    cell_values: pd.DataFrame | None,
    max_cells: int,
    proj: _Projector,
) -> dict[str, Any] | None:
    grid = aggregate_grid(cells, cell_values, max_cells=max_cells)
    if grid.empty:
        return None
    res = int(grid["resolution"].iloc[0])
    native = h3.get_resolution(str(cells["h3"].iloc[0]))
    by_share = grid["captured_share"].notna().any()
    values = (grid["captured_share"] if by_share else np.log10(grid["population"].clip(lower=1))).to_numpy(
        dtype=float
    )
    breaks = _class_breaks(values)
    colours = _palette(len(breaks) - 1, "OrRd", 0.1, 0.9)
    fills = _classify(values, breaks, colours)
    polys = [shapely.Polygon([(lng, lat) for lat, lng in h3.cell_to_boundary(c)]) for c in grid["h3"]]
    props = []
    for row, fill in zip(grid.itertuples(index=False), fills, strict=True):
        tip = (
            f"<b>H3 {esc(row.h3)}</b> <small>(resolution {res}"
            + (f", {int(row.cells):,} cells of res {native}" if res != native else "")
            + f")</small><br>Population: {fmt_int(row.population)} people"
        )
        if by_share:
            tip += f"<br>Demand: {fmt_int(row.demand)}<br>Captured share: {fmt_pct(row.captured_share)} of demand"
        props.append((tip, fill))
    feats = polygon_features(np.array(polys, dtype=object), props, proj.geoms, 0.0)
    name = "Grid: " + ("captured share of demand" if by_share else "population") + f" (H3 res {res})"
    fg = feature_group(m, reg, "grid", name, show=(res == native))
    fg.add_child(JsLayer(fg, {"f": feats, "stroke": "#9a3412", "weight": 0.3, "opacity": 0.55},
                          POLYGON_JS, m.get_name(), lazy=True, key="grid"))
    legend: dict[str, Any]
    if by_share:
        lo, hi = breaks[0], breaks[-1]
        legend = {"label": "Grid: captured share", "text": f"{fmt_pct(lo)} – {fmt_pct(hi)} of demand"}
    else:
        legend = {"label": "Grid: population", "text": f"{fmt_int(10 ** breaks[0])} – {fmt_int(10 ** breaks[-1])} people per hexagon"}
    legend["colours"] = colours
    return legend


def _store_popup(row: Mapping[str, Any]) -> str:
    status = str(row.get("status", ""))
    quarter = str(row.get("quarter") or "")
    quarter = "" if quarter.lower() == "nan" else quarter
    lines = [
        f"<b>{esc(row.get('name') or row.get('store_id'))}</b>",
        f"<small>id {esc(row.get('store_id'))}</small>",
        f"Status: {'existing' if status == 'existing' else 'new'}"
        + (f", opens {esc(quarter)}" if status == "new" and quarter else ""),
        f"Format: {esc(row.get('format'))}",
        f"Place: {esc(row.get('county'))}, {esc(row.get('city'))}, {esc(row.get('province'))}"
        + (f" (tier {esc(row.get('tier'))})" if row.get("tier") is not None else ""),
        f"Catchment population: {fmt_int(row.get('catchment_population'))} people",
    ]
    if row.get("marginal_value") is not None:
        lines.append(f"Marginal value: {fmt_float(row.get('marginal_value'), 0)}")
    if row.get("cannibalised_pct") is not None:
        lines.append(f"Cannibalised: {fmt_float(row.get('cannibalised_pct'), 1)} %")
    if row.get("expected_share") is not None:
        lines.append(f"Expected share: {fmt_pct(row.get('expected_share'))}")
    if row.get("sales_cny_per_year") is not None:
        lines += _pnl_lines(row)
    if row.get("nearest_own_km") is not None:
        lines.append(f"Nearest own store: {fmt_float(row.get('nearest_own_km'), 1)} km")
    if row.get("nearest_competitor_km") is not None:
        lines.append(
            f"Nearest competitor: {fmt_float(row.get('nearest_competitor_km'), 1)} km; "
            f"{fmt_int(row.get('competitors_in_catchment'))} in catchment"
        )
    return "<br>".join(lines)


def _pnl_lines(row: Mapping[str, Any]) -> list[str]:
    """A store's P&L for its popup (mature yearly figures, million CNY)."""

    def mcny(key: str) -> str:
        v = row.get(key)
        return fmt_float(None if v is None else float(v) / 1e6, 2)

    payback = row.get("payback_quarters")
    pb = "n/a (EBITDA ≤ 0)" if payback is None or pd.isna(payback) else f"{fmt_float(payback, 1)} quarters"
    return [
        f"Sales: {mcny('sales_cny_per_year')} M CNY/yr "
        f"({fmt_float(row.get('cannibalised_sales_pct'), 1)} % taken from sister stores)",
        f"Gross profit {mcny('gross_profit_cny_per_year')} − opex {mcny('opex_cny_per_year')} = "
        f"<b>EBITDA {mcny('ebitda_cny_per_year')}</b> M CNY/yr",
        f"Capex {mcny('capex_cny')} M CNY, payback {pb}",
    ]


def _ebitda_layer(
    m: folium.Map, reg: LayerRegistry, *, layers: Layers, plan: pd.DataFrame, proj: _Projector,
    kpis: Mapping[str, Any] | None = None,
) -> None:
    """Provinces coloured by the plan's yearly EBITDA there (off by default); the popup adds the rollout's NPV."""
    if "ebitda_cny_per_year" not in plan.columns or "province_code" not in plan.columns:
        return
    units = admin_units(layers, "province")
    if units is None or len(units) == 0:
        return
    by_prov = plan.groupby(plan["province_code"].astype(str))["ebitda_cny_per_year"].sum()
    sales = plan.groupby(plan["province_code"].astype(str))["sales_cny_per_year"].sum()
    codes = units["code"].astype(str).to_numpy()
    values = by_prov.reindex(codes).fillna(0.0).to_numpy(dtype=float)
    breaks = _class_breaks(values)
    fills = _classify(values, breaks, _palette(len(breaks) - 1, "Greens"))
    per = ((kpis or {}).get("pnl") or {}).get("per_province") or {}
    props = []
    for code, name, v, fill in zip(codes, units["name"].astype(str), values, fills, strict=True):
        npv = (per.get(code) or {}).get("npv_cny")
        npv_txt = "" if npv is None else f"NPV over the rollout: {fmt_float(float(npv) / 1e6, 1)} M CNY<br>"
        tip = (f"<b>{esc(name)}</b><br>EBITDA: <b>{fmt_float(v / 1e6, 1)} M CNY/yr</b><br>"
               f"Sales: {fmt_float(float(sales.get(code, 0.0)) / 1e6, 1)} M CNY/yr<br>{npv_txt}"
               "<small>mature stores of the final network; economics partly assumptions</small>")
        props.append((tip, fill))
    feats = polygon_features(units.geometry.to_numpy(), props, proj.geoms, SIMPLIFY_TOLERANCE_DEG["province"])
    fg = feature_group(m, reg, "ebitda", "Province: EBITDA of the plan (CNY/yr)", show=False)
    fg.add_child(JsLayer(fg, {"f": feats, "stroke": "#4b5563", "weight": 1.2, "opacity": 0.65}, POLYGON_JS,
                         m.get_name(), lazy=True, key="ebitda"))


def _catchment_m(plan: pd.DataFrame, scenario: Scenario) -> np.ndarray:
    """Catchment radius of every store (m): tier radius × the format's reach factor."""
    radius = scenario.objective.catchment_km
    reach = {k: f.reach_factor for k, f in scenario.formats.catalogue.items()}
    tiers = plan["tier"].astype(str) if "tier" in plan else pd.Series([""] * len(plan))
    fmts = plan["format"].astype(str) if "format" in plan else pd.Series(["standard"] * len(plan))
    km = np.array([radius.get(t, np.nan) * reach.get(f, 1.0) for t, f in zip(tiers, fmts, strict=True)])
    return np.where(np.isfinite(km), km * 1000.0, 0.0)


def _store_layers(
    m: folium.Map,
    reg: LayerRegistry,
    *,
    plan: pd.DataFrame,
    scenario: Scenario,
    rollout: pd.DataFrame | None,
    proj: _Projector,
) -> dict[str, Any]:
    """Existing stores, one layer per opening quarter, catchment circles and the slider."""
    is_new = plan["status"].astype(str).to_numpy() == "new"
    quarters = _quarters(plan)
    q_of = plan["quarter"].astype(str).str.strip() if "quarter" in plan else pd.Series([""] * len(plan))
    unscheduled = is_new & ~q_of.isin(quarters).to_numpy()

    palette = _palette(max(len(quarters), 1), QUARTER_CMAP, 0.05, 0.85)
    n_existing = int((~is_new).sum())
    groups: list[tuple[str, str, str]] = [("existing", f"Existing stores ({n_existing:,})", EXISTING_COLOUR)]
    counts = q_of[is_new].value_counts()
    for q, colour in zip(quarters, palette, strict=False):
        groups.append((f"new:{q}", f"New stores {esc(q)} ({int(counts.get(q, 0)):,})", colour))
    if unscheduled.any():
        groups.append(("new:unscheduled", f"New stores, unscheduled ({int(unscheduled.sum()):,})", palette[-1]))
    index = {key: i for i, (key, _, _) in enumerate(groups)}
    fgs = [feature_group(m, reg, key, name, show=True) for key, name, _ in groups]
    catch = feature_group(m, reg, "catchments", "Store catchments", show=False)

    formats = list(FORMAT_SHAPES)
    extra = sorted(set(plan.get("format", pd.Series(dtype=str)).astype(str)) - set(formats))
    formats += extra
    fmt_index = {f: i for i, f in enumerate(formats)}
    shapes = [list(FORMAT_SHAPES.get(f, FORMAT_SHAPES["standard"])) for f in formats]

    lon, lat = proj.xy(plan["lon"].to_numpy(dtype=float), plan["lat"].to_numpy(dtype=float))
    radius_m = _catchment_m(plan, scenario)
    rows = []
    for i, rec in enumerate(plan.to_dict("records")):
        if not is_new[i]:
            g = index["existing"]
        elif unscheduled[i]:
            g = index["new:unscheduled"]
        else:
            g = index[f"new:{q_of.iloc[i]}"]
        f = fmt_index.get(str(rec.get("format")), fmt_index["standard"])
        rows.append([float(lat[i]), float(lon[i]), g, f, _store_popup(rec), round(float(radius_m[i]))])
    data = {
        "groups": [fg.get_name() for fg in fgs],
        "catchments": catch.get_name(),
        "colours": [c for _, _, c in groups],
        "formats": formats,
        "shapes": shapes,
        "rows": rows,
    }
    root: Any = m.get_root()
    root.header.add_child(Element(store_css([c for _, _, c in groups])), name="planner_store_css")
    # One snippet fills every store group, so it renders after all of them exist.
    m.add_child(JsLayer(fgs[0], data, STORES_JS, m.get_name(), key="stores"))

    if quarters:
        q_groups = [fgs[index[f"new:{q}"]].get_name() for q in quarters]
        totals = [n_existing]
        opened = [int(counts.get(q, 0)) for q in quarters]
        if rollout is not None and {"quarter", "open_total"} <= set(rollout.columns):
            by_q = dict(zip(rollout["quarter"].astype(str), rollout["open_total"], strict=False))
            totals += [int(by_q.get(q, n_existing + sum(opened[: k + 1]))) for k, q in enumerate(quarters)]
        else:
            totals += [n_existing + sum(opened[: k + 1]) for k in range(len(quarters))]
        labels = ["today (existing only)"] + quarters
        notes = [""] * len(labels)
        if rollout is not None and {"quarter", "managers_ready"} <= set(rollout.columns):
            ready = dict(zip(rollout["quarter"].astype(str), rollout["managers_ready"], strict=False))
            notes = [""] + [
                f" · {fmt_int(ready[q])} managers ready" if q in ready else "" for q in quarters
            ]
        m.add_child(
            RawScript(
                SLIDER_JS
                % {
                    "map": m.get_name(),
                    "groups": js_json(q_groups),
                    "labels": js_json(labels),
                    "totals": js_json(totals),
                    "notes": js_json(notes),
                }
            )
        )
    return {"groups": groups, "formats": formats}


def _area_layer(
    m: folium.Map, reg: LayerRegistry, *, areas: gpd.GeoDataFrame, plan: pd.DataFrame, proj: _Projector
) -> None:
    """The command's areas (off by default): one outline per area, coloured by area, following the slider."""
    quarters = _quarters(plan)
    slot = {q: k + 1 for k, q in enumerate(quarters)}  # slider position 0 = today
    by_area = plan.groupby(plan.get("area_id", pd.Series([""] * len(plan))).astype(str))["store_id"].apply(list)
    cmap = colormaps["tab20"]
    props, names, formed = [], [], []
    for k, row in enumerate(areas.itertuples(index=False)):
        ids = by_area.get(str(row.area_id), [])
        shown = ", ".join(esc(i) for i in ids[:15]) + (f" … (+{len(ids) - 15})" if len(ids) > 15 else "")
        exc = f"<br>Exception: {esc(row.exception)}" if row.exception else ""
        tip = (
            f"<b>Area {esc(row.area_id)}</b><br>{int(row.stores)} stores, workload {fmt_float(row.workload)}"
            f"<br>Formed: {esc(row.formed) or 'before the horizon'} · manager: {esc(row.manager)}{exc}"
            f"<br><small>Stores: {shown}</small>"
        )
        props.append((tip, to_hex(cmap(k % 20))))
        names.append(f"Area {row.area_id} ({int(row.stores)} stores)")
        formed.append(slot.get(str(row.formed), 0))
    feats = polygon_features(areas.geometry.to_numpy(), props, proj.geoms, SIMPLIFY_TOLERANCE_DEG["county"])
    fg = feature_group(m, reg, "areas", f"Areas: the front-line command ({len(areas):,})", show=False)
    fg.add_child(JsLayer(fg, {"f": feats, "names": names, "formed": formed}, AREAS_JS, m.get_name(), lazy=True,
                         key="areas"))


def _competitor_layers(
    m: folium.Map, reg: LayerRegistry, *, competitors: gpd.GeoDataFrame | None, proj: _Projector
) -> list[tuple[str, str, int]]:
    if competitors is None or len(competitors) == 0:
        return []
    out = []
    brands = sorted(competitors["brand"].astype(str).unique())
    for k, brand in enumerate(brands):
        sub = competitors[competitors["brand"].astype(str) == brand]
        colour = COMPETITOR_COLOURS.get(brand.lower(), FALLBACK_COMPETITOR_COLOURS[k % len(FALLBACK_COMPETITOR_COLOURS)])
        lon, lat = proj.xy(sub["lon"].to_numpy(dtype=float), sub["lat"].to_numpy(dtype=float))
        names = sub["name"] if "name" in sub else sub["store_id"]
        ids = sub["store_id"] if "store_id" in sub else pd.Series([""] * len(sub))
        rows = [
            [float(a), float(b), esc(n), esc(i)]
            for a, b, n, i in zip(lat, lon, names, ids, strict=True)
        ]
        label = brand if not brand.islower() else brand.capitalize() if brand != "oppo" else "OPPO"
        fg = feature_group(m, reg, f"competitor:{brand}", f"Competitor: {esc(label)} ({len(rows):,})", show=False)
        data = {"brand": esc(label), "colour": colour, "rows": rows}
        fg.add_child(ClusterLayer(fg, data, COMPETITOR_JS, m.get_name(), lazy=True, key=f"competitor:{brand}"))
        out.append((label, colour, len(rows)))
    return out


def _city_search(m: folium.Map, reg: LayerRegistry, *, cities: gpd.GeoDataFrame | None, proj: _Projector) -> None:
    if cities is None or len(cities) == 0:
        return
    pts = cities.geometry.representative_point()
    lon, lat = proj.xy(pts.x.to_numpy(), pts.y.to_numpy())
    en = cities["name_en"].astype(str) if "name_en" in cities else None
    rows = []
    for i, name in enumerate(cities["name"].astype(str)):
        label = name if en is None or not en.iloc[i] or en.iloc[i] == "nan" else f"{name} {en.iloc[i]}"
        rows.append([float(lat[i]), float(lon[i]), esc(label)])
    fg = feature_group(m, reg, "city_points", f"City centres ({len(rows):,})", show=False)
    fg.add_child(JsLayer(fg, rows, CITY_POINTS_JS, m.get_name(), key="city_points"))
    folium.plugins.Search(
        layer=fg, search_label="name", geom_type="Point", placeholder="Search a city", collapsed=False,
        position="topleft", search_zoom=10,
    ).add_to(m)


def _bounds(plan: pd.DataFrame, layers: Layers, proj: _Projector) -> list[list[float]]:
    if layers.provinces is not None and len(layers.provinces):
        x0, y0, x1, y1 = layers.provinces.total_bounds
    elif len(plan):
        x0, x1 = float(plan["lon"].min()), float(plan["lon"].max())
        y0, y1 = float(plan["lat"].min()), float(plan["lat"].max())
    else:
        x0, y0, x1, y1 = 73.5, 18.0, 135.0, 53.6
    xs, ys = proj.xy(np.array([x0, x1]), np.array([y0, y1]))
    return [[float(ys[0]), float(xs[0])], [float(ys[1]), float(xs[1])]]


# --------------------------------------------------------------------------- public API
def build_map(
    *,
    layers: Layers,
    plan: pd.DataFrame,
    kpis: Mapping[str, Any],
    scenario: Scenario,
    rollout: pd.DataFrame | None = None,
    cell_values: pd.DataFrame | None = None,
    share: pd.DataFrame | None = None,
    share_start: pd.DataFrame | None = None,
    response: pd.DataFrame | None = None,
    areas: gpd.GeoDataFrame | None = None,
) -> folium.Map:
    """Build the Folium map of a plan (not yet written; see :func:`write_map`).

    Parameters are those of :func:`write_map`.

    Returns
    -------
    folium.Map
        The map, with Folium's default CDN links (:func:`render_map` inlines them).
    """
    missing = [c for c in PLAN_COLUMNS if c not in plan.columns]
    if missing:
        raise DataError(
            f"map: the plan table lacks column(s) {missing}",
            problems=[f"expected at least {list(PLAN_COLUMNS)} (see plan.csv)"],
        )
    cfg = scenario.map
    proj = _Projector(gcj02=(cfg.tiles == "amap"))
    bounds = _bounds(plan, layers, proj)
    m = folium.Map(
        location=[(bounds[0][0] + bounds[1][0]) / 2, (bounds[0][1] + bounds[1][1]) / 2],
        zoom_start=4,
        tiles=None,
        control_scale=True,
        prefer_canvas=True,
        # Leaflet.markercluster needs a maxZoom on the map itself when there are no tiles.
        maxZoom=18,
        minZoom=3,
    )
    # Instance attributes shadow Folium's class lists: drop assets this map never uses.
    m.default_css = [(n, u) for n, u in m.default_css if n not in UNUSED_DEFAULT_CSS]
    m.default_js = [(n, u) for n, u in m.default_js if n not in UNUSED_DEFAULT_JS]
    if cfg.tiles in TILES:
        t = TILES[cfg.tiles]
        folium.TileLayer(
            tiles=t["url"], attr=t["attr"], name=t["name"], subdomains=t["subdomains"], max_zoom=18,
            overlay=False, control=True,
        ).add_to(m)
    reg = LayerRegistry()
    plan = plan.reset_index(drop=True)
    admin = _admin_layers(
        m, reg, layers=layers, plan=plan, kpis=kpis, kpi=cfg.choropleth_kpi, cell_values=cell_values, proj=proj
    )
    _ebitda_layer(m, reg, layers=layers, plan=plan, proj=proj, kpis=kpis)
    grid = None
    if cfg.max_grid_cells > 0 and layers.cells is not None and len(layers.cells):
        grid = _grid_layer(m, reg, cells=layers.cells, cell_values=cell_values, max_cells=cfg.max_grid_cells,
                           proj=proj)
    _city_search(m, reg, cities=layers.cities, proj=proj)
    comp = _competitor_layers(m, reg, competitors=layers.competitors, proj=proj)
    stores = _store_layers(m, reg, plan=plan, scenario=scenario, rollout=rollout, proj=proj)
    if share is not None and len(share):
        quarters = _quarters(plan)
        lead_layers(
            m, reg, units={"province": layers.provinces, "city": layers.cities}, share=share,
            start=share_start if quarters else None,
            labels=(["today (existing only)"] + quarters) if quarters else [str(share["quarter"].iloc[-1])],
            transform=proj.geoms, tolerance=SIMPLIFY_TOLERANCE_DEG,
        )
    if response is not None and len(response):
        response_layer(m, reg, response=response, colours=COMPETITOR_COLOURS, xy=proj.xy)
    if areas is not None and len(areas):
        _area_layer(m, reg, areas=areas, plan=plan, proj=proj)
    folium.LayerControl(collapsed=True, position="topright").add_to(m)
    m.fit_bounds(bounds)

    illustrative = bool(kpis.get("illustrative_networks", False))
    root: Any = m.get_root()  # a branca Figure (typed as Element)
    root.header.add_child(Element(f"<title>{esc(kpis.get('scenario') or scenario.name)} · store plan</title>"))
    root.html.add_child(Element(title_html(kpis, scenario)))
    note = note_html(illustrative, cfg.tiles)
    if note:
        root.html.add_child(Element(note))
    root.html.add_child(
        Element(legend_html(kpi=cfg.choropleth_kpi, admin=admin, grid=grid, stores=stores, competitors=comp))
    )
    meta = {
        "scenario": str(kpis.get("scenario") or scenario.name),
        "tiles": cfg.tiles,
        "offline": cfg.offline,
        "stores": len(plan),
        "existing": int((plan["status"] == "existing").sum()) if len(plan) else 0,
        "quarters": _quarters(plan),
        "illustrative": illustrative,
    }
    m.add_child(
        RawScript(
            HOOK_JS
            % {
                "map": m.get_name(),
                "meta": js_json(meta),
                "layers": js_json({k: v.get_name() for k, v in reg.layers.items()}),
                "hidden": js_json([k for k, v in reg.layers.items() if not v.show]),
            }
        )
    )
    return m



def write_map(
    path: str | Path,
    *,
    layers: Layers,
    plan: pd.DataFrame,
    kpis: Mapping[str, Any],
    scenario: Scenario,
    rollout: pd.DataFrame | None = None,
    cell_values: pd.DataFrame | None = None,
    share: pd.DataFrame | None = None,
    share_start: pd.DataFrame | None = None,
    response: pd.DataFrame | None = None,
    areas: gpd.GeoDataFrame | None = None,
) -> Path:
    """Write the layered HTML map of a plan.

    Parameters
    ----------
    path : str or pathlib.Path
        Output file (``map.html``); parent folders must exist.
    layers : Layers
        Geodata layers of the scenario (WGS-84).
    plan : pandas.DataFrame
        The plan table (``plan.csv``): one row per open store with ``store_id``,
        ``name``, ``status``, ``lat``, ``lon``, admin names and codes, ``tier``,
        ``format``, ``quarter`` and the per-store figures.
    kpis : mapping
        ``kpis.json`` (scenario, objective, gap, created, per_province, ...).
    scenario : Scenario
        The resolved scenario; ``scenario.map`` picks tiles, offline, KPI and grid cap.
    rollout : pandas.DataFrame, optional
        Per-quarter rollout (``quarter``, ``open_total``, ...) for the slider's totals.
    cell_values : pandas.DataFrame, optional
        Per-cell ``h3``, ``demand``, ``captured_share`` for the grid layer and
        city / county shares.
    share, share_start, response : pandas.DataFrame, optional
        ``share.csv`` (per unit and quarter) and the shares of the existing network
        (the slider's first position) for the "where we lead" layers; ``response.csv``
        for the rivals' response layer.
    areas : geopandas.GeoDataFrame, optional
        The command's areas (``areas.csv`` rows with their county unions) for the
        areas layer, which follows the quarter slider.

    Returns
    -------
    pathlib.Path
        The written file.
    """
    path = Path(path)
    m = build_map(
        layers=layers, plan=plan, kpis=kpis, scenario=scenario, rollout=rollout, cell_values=cell_values,
        share=share, share_start=share_start, response=response, areas=areas,
    )
    page = render_map(m, offline=scenario.map.offline)
    path.write_text(page, encoding="utf-8")
    log.info("map: wrote %s (%.1f MB, tiles=%s, offline=%s)", path, len(page.encode()) / 1e6,
             scenario.map.tiles, scenario.map.offline)
    return path
