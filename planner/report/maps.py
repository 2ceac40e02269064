"""Layered Folium map of a solved plan (``map.html``), offline and GCJ-02 ready.

The map reads results (the plan table, the KPIs, the geodata layers and, when the
pipeline has them, the rollout table and per-cell values); it never solves. It
draws admin choropleths (province / city / county, switchable), H3 grid hexagons
(aggregated to a coarser resolution for national views), the own stores by status,
quarter and format, competitor networks (clustered, off by default), a quarter
slider, a city search box, a scale bar, a title and a visible note when the store
networks are illustrative.

Three rules hold everywhere in this module:

- every user-supplied string reaches the page through :func:`html.escape`, and
  every data blob through :func:`_js_json` (which also escapes ``<``, ``>``, ``&``
  and ``'``), so a store called ``<script>alert(1)</script>`` shows as text;
- coordinates are WGS-84 until :class:`_Projector` writes them, which converts to
  GCJ-02 only when the background is AMap (``map.tiles: amap``), then rounds to
  5 decimals (about 1 m);
- with ``map.offline: true`` every script and style sheet is inlined from the
  installed ``folium-offline`` package (:func:`_inline_assets`), so the page needs
  no network except for background tiles.

Data-heavy layers are small hand-written Leaflet snippets fed by compact JSON
(:class:`_JsLayer`) rather than one Folium element per feature: a national map has
thousands of polygons and tens of thousands of points, and one element each would
make the file several times larger and slower to open.
"""

from __future__ import annotations

import html
import json
import logging
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import folium
import folium.plugins
import geopandas as gpd
import h3
import numpy as np
import pandas as pd
import shapely
from branca.element import Element, MacroElement
from folium.elements import JSCSSMixin
from folium.template import Template
from matplotlib import colormaps
from matplotlib.colors import to_hex

from planner.config.models import Scenario
from planner.errors import DataError
from planner.geodata.layers import Layers

__all__ = [
    "ADMIN_LEVELS",
    "KPI_LABELS",
    "SIMPLIFY_TOLERANCE_DEG",
    "admin_kpi_table",
    "aggregate_grid",
    "build_map",
    "decode_ring",
    "encode_rings",
    "gb_codes",
    "render_map",
    "to_gcj02",
    "write_map",
]

log = logging.getLogger(__name__)

ADMIN_LEVELS: tuple[str, ...] = ("province", "city", "county")
"""Admin levels drawn as choropleths, coarse to fine."""

SIMPLIFY_TOLERANCE_DEG: dict[str, float] = {"province": 0.01, "city": 0.005, "county": 0.0025}
"""Douglas-Peucker tolerance per admin level (degrees; 0.01° ≈ 1 km)."""

COORD_DECIMALS = 5
"""Decimals kept in written coordinates (1e-5° ≈ 1.1 m)."""

KPI_LABELS: dict[str, tuple[str, str]] = {
    "stores_per_million": ("Stores per million people", "stores / million people"),
    "covered_share": ("Population covered", "% of population"),
    "market_share": ("Own market share", "% of demand (Huff, vs competitors)"),
    "new_stores": ("New stores", "stores"),
}
"""Label and unit of every choropleth KPI (``map.choropleth_kpi``)."""

PLAN_COLUMNS: tuple[str, ...] = ("store_id", "status", "lat", "lon")
"""Plan columns the map cannot do without; the others (name, codes, format, quarter, ...) are optional."""

NO_DATA_COLOUR = "#d1d5db"
EXISTING_COLOUR = "#1f2937"
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

FORMAT_SHAPES: dict[str, tuple[str, int]] = {
    "flagship": ("star", 20),
    "standard": ("circle", 12),
    "small": ("square", 9),
}
"""Marker shape and size (px) of each store format; other formats draw as ``standard``."""

# Precompiled once: the <script src> and stylesheet <link> tags Folium renders.
_SCRIPT_SRC = re.compile(r'<script\s+src="(?P<url>[^"]+)"\s*>\s*</script>')
_CSS_LINK = re.compile(r'<link\s+rel="stylesheet"\s+href="(?P<url>[^"]+)"\s*/?>')

# url(...) in a style sheet that is neither a data: URI nor a fragment (#id).
_CSS_RELATIVE_URL = re.compile(r"url\(\s*(?![\"']?\s*(?:data:|#))[^)]*\)")
_EMPTY_GIF = "data:image/gif;base64,R0lGODlhAQABAAAAACH5BAEKAAEALAAAAAABAAEAAAICTAEAOw=="

# Assets Folium links by default that this map never uses (it draws no Bootstrap widgets,
# no icon-font markers and no jQuery code): about 1.2 MB when inlined, and the icon fonts
# would be fetched relative to the file.
_UNUSED_DEFAULT_CSS = {
    "bootstrap_css", "glyphicons_css", "awesome_markers_font_css", "awesome_markers_css", "awesome_rotate_css",
}
_UNUSED_DEFAULT_JS = {"bootstrap", "jquery", "awesome_markers"}


# --------------------------------------------------------------------------- small helpers
def _esc(value: Any) -> str:
    """HTML-escape any value for popups, tooltips and labels.

    Quotes are escaped, and so are braces: Folium renders every element's output
    through Jinja a second time, so a ``{{ ... }}`` in a store name would otherwise
    be evaluated as a template.
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return html.escape(str(value), quote=True).replace("{", "&#123;").replace("}", "&#125;")


# A '{' that starts a Jinja tag ('{{', '{%', '{#'); in JSON text it can only occur inside strings.
_JINJA_OPEN = re.compile(r"\{(?=[{%#])")


def _js_json(obj: Any) -> str:
    """Compact JSON that is safe inside a ``<script>`` block and through Folium's Jinja pass."""
    text = (
        json.dumps(obj, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
        .replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("'", "\\u0027")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )
    return _JINJA_OPEN.sub(r"\\u007b", text)


def _fmt_int(x: Any) -> str:
    try:
        f = float(x)
    except (TypeError, ValueError):
        return "n/a"
    return "n/a" if math.isnan(f) else f"{f:,.0f}"


def _fmt_float(x: Any, digits: int = 2) -> str:
    try:
        f = float(x)
    except (TypeError, ValueError):
        return "n/a"
    return "n/a" if math.isnan(f) else f"{f:,.{digits}f}"


def _fmt_pct(share: Any) -> str:
    """A share (fraction 0–1) as a percentage."""
    try:
        f = float(share)
    except (TypeError, ValueError):
        return "n/a"
    return "n/a" if math.isnan(f) else f"{100 * f:.1f} %"


def _fmt_kpi(kpi: str, value: float) -> str:
    if kpi in ("covered_share", "market_share"):
        return _fmt_pct(value)
    if kpi == "new_stores":
        return _fmt_int(value)
    return _fmt_float(value, 2)


def gb_codes(s: pd.Series) -> pd.Series:
    """GB codes as strings ('440300'), whatever dtype a table gave them."""
    out = s.astype("string").str.strip()
    return out.str.replace(r"\.0$", "", regex=True)


def _quarters(plan: pd.DataFrame) -> list[str]:
    """Rollout quarters that open new stores, in time order ('2027Q1' < '2027Q2')."""
    if "quarter" not in plan:
        return []
    q = plan.loc[plan["status"] == "new", "quarter"].dropna().astype(str).str.strip()
    return sorted({x for x in q if x and x.lower() != "nan"})


# --------------------------------------------------------------------------- coordinates
def to_gcj02(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Convert WGS-84 longitudes / latitudes (degrees) to GCJ-02 (the AMap datum).

    Uses :func:`fast_geocn.coord.wgs84_to_gcj02` (points outside China are
    returned unchanged). The shift is about 100–700 m inside mainland China.

    Parameters
    ----------
    lon, lat : numpy.ndarray
        WGS-84 coordinates in degrees.

    Returns
    -------
    tuple of numpy.ndarray
        GCJ-02 longitudes and latitudes in degrees.
    """
    from fast_geocn.coord import wgs84_to_gcj02

    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    if lon.size == 0:
        return lon.copy(), lat.copy()
    conv = np.frompyfunc(wgs84_to_gcj02, 2, 1)(lon, lat)
    pairs = np.array(conv.ravel().tolist(), dtype=float).reshape(-1, 2)
    return pairs[:, 0].reshape(lon.shape), pairs[:, 1].reshape(lat.shape)


@dataclass(frozen=True)
class _Projector:
    """Writes coordinates: WGS-84 → (GCJ-02 for AMap) → rounded to :data:`COORD_DECIMALS`."""

    gcj02: bool

    def xy(self, lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        lon = np.asarray(lon, dtype=float)
        lat = np.asarray(lat, dtype=float)
        if self.gcj02:
            lon, lat = to_gcj02(lon, lat)
        return np.round(lon, COORD_DECIMALS), np.round(lat, COORD_DECIMALS)

    def geoms(self, geoms: np.ndarray) -> np.ndarray:
        def _f(coords: np.ndarray) -> np.ndarray:
            x, y = self.xy(coords[:, 0], coords[:, 1])
            return np.column_stack([x, y])

        return shapely.transform(np.asarray(geoms, dtype=object), _f)


# --------------------------------------------------------------------------- KPI tables
def _level_frame(layers: Layers, level: str) -> gpd.GeoDataFrame:
    return {"province": layers.provinces, "city": layers.cities, "county": layers.counties}[level]


def _cell_shares(
    cell_values: pd.DataFrame | None, cells: gpd.GeoDataFrame, kpi: str, objective_kind: str
) -> pd.DataFrame | None:
    """Per-cell share for ``covered_share`` / ``market_share`` with its weight, or None.

    An explicit column of that name in ``cell_values`` wins; otherwise
    ``captured_share`` stands for the KPI the objective optimised (coverage →
    covered share, market_share → own market share).
    """
    if cell_values is None or cell_values.empty or "h3" not in cell_values:
        return None
    if kpi in cell_values:
        col = kpi
    elif "captured_share" in cell_values and (
        (kpi == "covered_share" and objective_kind == "coverage")
        or (kpi == "market_share" and objective_kind == "market_share")
    ):
        col = "captured_share"
    else:
        return None
    cv = cell_values[["h3", col] + (["demand"] if "demand" in cell_values else [])].copy()
    cv["h3"] = cv["h3"].astype(str)
    c = pd.DataFrame(
        {
            "h3": cells["h3"].astype(str).to_numpy(),
            "population": cells["population"].to_numpy(dtype=float),
            "province_code": gb_codes(cells["province_code"]).to_numpy(),
            "city_code": gb_codes(cells["city_code"]).to_numpy(),
            "county_code": gb_codes(cells["county_code"]).to_numpy(),
        }
    )
    m = c.merge(cv, on="h3", how="inner")
    if kpi == "market_share" and "demand" in m:
        m["weight"] = m["demand"].astype(float)
    else:
        m["weight"] = m["population"]
    m["share"] = m[col].astype(float)
    return m


def admin_kpi_table(
    level: str,
    *,
    layers: Layers,
    plan: pd.DataFrame,
    kpis: Mapping[str, Any],
    kpi: str,
    cell_values: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The choropleth KPI of every unit of one admin level, computed from the plan.

    Parameters
    ----------
    level : {'province', 'city', 'county'}
        Admin level.
    layers : Layers
        Geodata layers (the unit table gives code, name, population).
    plan : pandas.DataFrame
        The plan table (``plan.csv``), one row per open store.
    kpis : mapping
        ``kpis.json``; its ``per_province`` figures are used for shares at province level.
    kpi : str
        One of :data:`KPI_LABELS`.
    cell_values : pandas.DataFrame, optional
        Per-cell ``h3``, ``demand``, ``captured_share`` (and optionally
        ``covered_share`` / ``market_share``); shares below province level come from here.

    Returns
    -------
    pandas.DataFrame
        Indexed by code, columns ``name``, ``population``, ``stores``, ``new_stores``,
        ``value`` (the KPI; NaN where unknown; shares are fractions 0–1).
    """
    if level not in ADMIN_LEVELS:
        raise ValueError(f"unknown admin level {level!r}; expected one of {ADMIN_LEVELS}")
    if kpi not in KPI_LABELS:
        raise ValueError(f"unknown choropleth KPI {kpi!r}; expected one of {sorted(KPI_LABELS)}")
    units = _level_frame(layers, level)
    out = pd.DataFrame(
        {
            "name": units["name"].astype(str).to_numpy(),
            "population": pd.to_numeric(units["population"], errors="coerce").to_numpy(dtype=float),
        },
        index=pd.Index(gb_codes(units["code"]).to_numpy(), name="code"),
    )
    code_col = f"{level}_code"
    if len(plan) and code_col in plan:
        codes = gb_codes(plan[code_col])
        out["stores"] = codes.value_counts().reindex(out.index, fill_value=0).to_numpy()
        new = codes[plan["status"].astype(str).to_numpy() == "new"]
        out["new_stores"] = new.value_counts().reindex(out.index, fill_value=0).to_numpy()
    else:
        out["stores"] = 0
        out["new_stores"] = 0
    if kpi == "stores_per_million":
        with np.errstate(divide="ignore", invalid="ignore"):
            out["value"] = np.where(out["population"] > 0, out["stores"] / out["population"] * 1e6, np.nan)
    elif kpi == "new_stores":
        out["value"] = out["new_stores"].astype(float)
    else:
        out["value"] = np.nan
        per_prov = {str(p.get("province_code")): p.get(kpi) for p in kpis.get("per_province") or []}
        if level == "province" and any(v is not None for v in per_prov.values()):
            out["value"] = [float(per_prov[c]) if per_prov.get(c) is not None else np.nan for c in out.index]
        else:
            shares = _cell_shares(cell_values, layers.cells, kpi, str(kpis.get("objective_kind", "")))
            if shares is not None and len(shares):
                shares["ws"] = shares["weight"] * shares["share"]
                g = shares.groupby(code_col)[["ws", "weight"]].sum()
                val = (g["ws"] / g["weight"].where(g["weight"] > 0)).reindex(out.index)
                out["value"] = val.to_numpy(dtype=float)
    return out


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


# --------------------------------------------------------------------------- grid
def _h3_parents(ids: np.ndarray, res: int) -> np.ndarray:
    """Vectorised ``h3.cell_to_parent`` on 64-bit cell ids (same resolution, coarser ``res``).

    An H3 cell id keeps its resolution in bits 52–55 and one 3-bit digit per
    resolution 1–15 below bit 45; the parent has the coarser resolution and the
    digits past it set to 7 (unused).
    """
    out = ids & ~np.uint64(0xF << 52) | np.uint64(res << 52)
    unused = 0
    for r in range(res + 1, 16):
        unused |= 0b111 << ((15 - r) * 3)
    return out | np.uint64(unused)


def aggregate_grid(
    cells: pd.DataFrame, cell_values: pd.DataFrame | None, *, max_cells: int, min_resolution: int = 3
) -> pd.DataFrame:
    """H3 hexagons to draw: per-cell population, demand and captured share, aggregated.

    Cells are merged into their H3 parents, one resolution at a time, until at most
    ``max_cells`` remain (or ``min_resolution`` is reached); if still too many, the
    most populous ``max_cells`` are kept.

    Parameters
    ----------
    cells : pandas.DataFrame
        ``layers.cells`` (``h3``, ``population``).
    cell_values : pandas.DataFrame, optional
        ``h3``, ``demand``, ``captured_share`` from the run.
    max_cells : int
        Most hexagons drawn (``map.max_grid_cells``); 0 means none.
    min_resolution : int
        Coarsest H3 resolution aggregation may reach.

    Returns
    -------
    pandas.DataFrame
        ``h3``, ``resolution``, ``population``, ``demand`` (NaN without cell values),
        ``captured_share`` (demand-weighted mean, NaN without cell values), ``cells``
        (grid cells merged into this hexagon).
    """
    cols = ["h3", "resolution", "population", "demand", "captured_share", "cells"]
    if max_cells <= 0 or cells is None or len(cells) == 0:
        return pd.DataFrame(columns=cols)
    df = pd.DataFrame(
        {"h3": cells["h3"].astype(str).to_numpy(), "population": cells["population"].to_numpy(dtype=float)}
    )
    if cell_values is not None and len(cell_values) and "h3" in cell_values:
        cv = cell_values.copy()
        cv["h3"] = cv["h3"].astype(str)
        keep = [c for c in ("demand", "captured_share") if c in cv]
        df = df.merge(cv[["h3", *keep]], on="h3", how="left")
    for c in ("demand", "captured_share"):
        if c not in df:
            df[c] = np.nan
    df["captured"] = df["demand"] * df["captured_share"]
    df["cells"] = 1
    res = h3.get_resolution(df["h3"].iloc[0])
    if len(df) > max_cells and res > min_resolution:
        ids = np.array([int(c, 16) for c in df["h3"]], dtype=np.uint64)
        while len(df) > max_cells and res > min_resolution:
            res -= 1
            df["h3"] = _h3_parents(ids, res)
            df = df.groupby("h3", as_index=False, sort=False)[["population", "demand", "captured", "cells"]].sum(
                min_count=1
            )
            ids = df["h3"].to_numpy(dtype=np.uint64)
        df["h3"] = [format(int(i), "x") for i in ids]
    if len(df) > max_cells:
        df = df.nlargest(max_cells, "population")
    with np.errstate(divide="ignore", invalid="ignore"):
        df["captured_share"] = np.where(df["demand"] > 0, df["captured"] / df["demand"], np.nan)
    df["resolution"] = res
    return df[cols].reset_index(drop=True)


# --------------------------------------------------------------------------- map elements
class _JsLayer(MacroElement):
    """A Leaflet snippet filling a Folium layer from compact JSON data.

    ``js`` is a JavaScript function body with ``data`` (the decoded JSON), ``target``
    (the Folium layer) and ``map`` in scope. The data do not go through Folium's
    templates: :func:`render_map` writes them into a ``<script type="application/json">``
    block of their own (``JSON.parse`` reads that faster than V8 parses an object
    literal, and Jinja never sees user text). With ``lazy`` the snippet runs only
    when the layer is first shown, so hidden layers (cities, counties, grid,
    competitors) cost nothing at first render; ``target.plannerBuild()`` forces it.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function(target, map){
          var build = function(){
            if (build.done) return; build.done = true;
            var t0 = performance.now();
            var data = JSON.parse(document.getElementById({{ this.data_id|tojson }}).textContent);
            {{ this.js }}
            // Build time per layer, read by benchmarks/bench_map.py.
            performance.measure('planner:' + {{ this.key|tojson }}, {start: t0});
          };
          target.plannerBuild = build;
          {%- if this.lazy %}
          if (map.hasLayer(target)) build(); else target.once('add', build);
          {%- else %}
          build();
          {%- endif %}
        })({{ this.target.get_name() }}, {{ this.map_name }});
        {% endmacro %}
        """
    )

    def __init__(
        self, target: Any, data: Any, js: str, map_name: str, *, lazy: bool = False, key: str = ""
    ) -> None:
        super().__init__()
        self._name = "JsLayer"
        self.key = key or target.get_name()
        self.target = target
        self.data_id = f"{self.get_name()}-data"
        self.data_text = _js_json(data)
        self.js = js
        self.map_name = map_name
        self.lazy = lazy


class _ClusterLayer(JSCSSMixin, _JsLayer):
    """A :class:`_JsLayer` that needs Leaflet.markercluster (its JS and CSS come with it)."""

    default_js = folium.plugins.MarkerCluster.default_js
    default_css = folium.plugins.MarkerCluster.default_css


class _RawScript(MacroElement):
    """A script snippet rendered in order with the map's other scripts."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        {{ this.js }}
        {% endmacro %}
        """
    )

    def __init__(self, js: str) -> None:
        super().__init__()
        self._name = "RawScript"
        self.js = js


_POLYGON_JS = """
function decode(str) {
  var pts = [], i = 0, lat = 0, lng = 0;
  while (i < str.length) {
    var b, shift = 0, res = 0;
    do { b = str.charCodeAt(i++) - 63; res |= (b & 31) << shift; shift += 5; } while (b >= 32);
    lat += (res & 1) ? ~(res >> 1) : (res >> 1);
    shift = 0; res = 0;
    do { b = str.charCodeAt(i++) - 63; res |= (b & 31) << shift; shift += 5; } while (b >= 32);
    lng += (res & 1) ? ~(res >> 1) : (res >> 1);
    pts.push([lat / 1e5, lng / 1e5]);
  }
  return pts;
}
data.f.forEach(function(f){
  var poly = L.polygon(f[2].map(function(p){ return p.map(decode); }),
                       {fillColor: f[1], color: data.stroke, weight: data.weight, opacity: 0.8,
                        fillOpacity: data.opacity});
  poly.bindTooltip(f[0], {sticky: true});
  poly.addTo(target);
});
"""

_STORES_JS = """
// Markers are plain divs shaped and coloured by CSS classes (see _store_css): no SVG or
// HTML to parse per marker, which keeps 1,000 stores cheap to draw.
var icons = {};
function icon(g, f){
  var key = g + '|' + f;
  if (!icons[key]) {
    var s = data.shapes[f][1];
    icons[key] = L.divIcon({className: 'planner-store ps-' + data.shapes[f][0] + ' pg-' + g, html: '',
                            iconSize: [s, s], iconAnchor: [s / 2, s / 2], popupAnchor: [0, -s / 2]});
  }
  return icons[key];
}
var groups = data.groups.map(function(n){ return window[n]; });
var circles = data.catchments ? window[data.catchments] : null;
data.rows.forEach(function(r){
  var m = L.marker([r[0], r[1]], {icon: icon(r[2], r[3]), riseOnHover: true});
  m.bindPopup(r[4], {maxWidth: 320});
  m.addTo(groups[r[2]]);
  if (circles && r[5] > 0) {
    L.circle([r[0], r[1]], {radius: r[5], color: data.colours[r[2]], weight: 1, fillOpacity: 0.08,
                            interactive: false}).addTo(circles);
  }
});
"""

_STAR_CLIP = (
    "polygon(50% 0%,61% 35%,98% 35%,68% 57%,79% 91%,50% 70%,21% 91%,32% 57%,2% 35%,39% 35%)"
)


def _store_css(colours: Sequence[str]) -> str:
    """Marker shapes (by format) and fills (by group) as CSS classes."""
    rules = [
        ".planner-store{box-sizing:border-box;border:1.5px solid #fff;box-shadow:0 0 1px 1px rgba(0,0,0,.45)}",
        ".ps-circle{border-radius:50%}",
        ".ps-square{border-radius:1px}",
        f".ps-star{{border:none;box-shadow:none;clip-path:{_STAR_CLIP}}}",
    ]
    rules += [f".pg-{i}{{background:{c}}}" for i, c in enumerate(colours)]
    return "<style>" + "".join(rules) + "</style>"


_CITY_POINTS_JS = """
data.forEach(function(r){
  L.circleMarker([r[0], r[1]], {radius: 3, color: '#374151', weight: 1, fillColor: '#fff',
                                fillOpacity: 1, name: r[2]}).bindTooltip(r[2]).addTo(target);
});
"""

_COMPETITOR_JS = """
var cluster = L.markerClusterGroup({chunkedLoading: true, disableClusteringAtZoom: 14, maxClusterRadius: 60});
cluster.addLayers(data.rows.map(function(r){
  var m = L.circleMarker([r[0], r[1]], {radius: 4, color: '#ffffff', weight: 1, fillColor: data.colour,
                                         fillOpacity: 0.9});
  m.bindPopup('<b>' + data.brand + '</b><br>' + r[2] + '<br><small>' + r[3] + '</small>');
  return m;
}));
cluster.addTo(target);
"""

_SLIDER_JS = """
(function(){
  var map = %(map)s, groups = %(groups)s.map(function(n){ return window[n]; });
  var labels = %(labels)s, totals = %(totals)s, notes = %(notes)s;
  var ctl = L.control({position: 'bottomleft'});
  ctl.onAdd = function(){
    var div = L.DomUtil.create('div', 'planner-slider leaflet-bar');
    div.style.cssText = 'background:#fff;padding:6px 10px;font:12px sans-serif;min-width:220px';
    var title = L.DomUtil.create('div', '', div);
    var input = L.DomUtil.create('input', 'planner-quarter', div);
    input.type = 'range'; input.min = 0; input.max = groups.length; input.step = 1;
    input.value = groups.length; input.style.width = '100%%';
    function show(v){
      groups.forEach(function(g, i){
        if (i < v) { if (!map.hasLayer(g)) map.addLayer(g); }
        else if (map.hasLayer(g)) map.removeLayer(g);
      });
      title.textContent = 'Network after ' + labels[v] + ': ' + totals[v].toLocaleString('en') + ' stores' +
                          notes[v];
    }
    L.DomEvent.disableClickPropagation(div);
    L.DomEvent.disableScrollPropagation(div);
    input.addEventListener('input', function(){ show(parseInt(input.value, 10)); });
    window.plannerShowQuarter = function(v){ input.value = v; show(v); };
    show(groups.length);
    return div;
  };
  ctl.addTo(map);
})();
"""

_HOOK_JS = """
window.plannerMap = {map: %(map)s, layers: {}, meta: %(meta)s};
(function(){
  var names = %(layers)s;
  Object.keys(names).forEach(function(k){ window.plannerMap.layers[k] = window[names[k]]; });
  // Layers meant to start hidden that a plugin added anyway (FastMarkerCluster, leaflet-search).
  %(hidden)s.forEach(function(k){
    var l = window.plannerMap.layers[k];
    if (l && %(map)s.hasLayer(l)) %(map)s.removeLayer(l);
  });
  window.plannerMap.count = function(k){
    var t = window.plannerMap.layers[k];
    if (t && t.plannerBuild) t.plannerBuild();  // lazy layers: build before counting
    function leaves(l){
      if (l && typeof l.getLayers === 'function') {
        return l.getLayers().reduce(function(s, x){ return s + leaves(x); }, 0);
      }
      return l ? 1 : 0;
    }
    return leaves(t);
  };
  window.plannerMap.visible = function(k){ return %(map)s.hasLayer(window.plannerMap.layers[k]); };
  window.plannerMap.readyAt = performance.now();
  requestAnimationFrame(function(){ requestAnimationFrame(function(){
    window.plannerMap.drawnAt = performance.now();
  }); });
})();
"""


@dataclass
class _Registry:
    """Folium layers by a stable key (used by the slider and the browser tests)."""

    layers: dict[str, Any] = field(default_factory=dict)

    def add(self, key: str, layer: Any) -> Any:
        self.layers[key] = layer
        return layer


def _feature_group(m: folium.Map, reg: _Registry, key: str, name: str, *, show: bool, control: bool = True) -> Any:
    fg = folium.FeatureGroup(name=name, show=show, control=control)
    fg.add_to(m)
    return reg.add(key, fg)


def _encode_values(values: np.ndarray) -> tuple[bytes, np.ndarray]:
    """Google polyline encoding of integer deltas: the bytes and each value's byte count."""
    v = values.astype(np.int64)
    z = np.where(v < 0, ~(v << 1), v << 1).astype(np.uint64)
    chunks = np.stack([(z >> np.uint64(5 * k)) & np.uint64(31) for k in range(7)], axis=1)
    nbits = np.zeros(len(z), dtype=np.int64)
    nz = z > 0
    nbits[nz] = np.floor(np.log2(z[nz].astype(np.float64))).astype(np.int64) + 1
    n = np.maximum(1, -(-nbits // 5))
    k = np.arange(7)
    cont = (k[None, :] < (n[:, None] - 1)).astype(np.uint64) * np.uint64(32)
    out = (chunks | cont) + np.uint64(63)
    keep = k[None, :] < n[:, None]
    return out[keep].astype(np.uint8).tobytes(), n


def encode_rings(coords: np.ndarray, ring_offsets: np.ndarray) -> list[str]:
    """Encode rings of lon/lat coordinates as Google polylines (precision 1e-5°).

    Parameters
    ----------
    coords : numpy.ndarray
        (n, 2) longitudes and latitudes, all rings one after the other.
    ring_offsets : numpy.ndarray
        Start of each ring in ``coords`` plus the end (``len(coords)``).

    Returns
    -------
    list of str
        One encoded string per ring (latitude first, as Leaflet expects).
    """
    if len(coords) == 0:
        return []
    ints = np.round(coords[:, ::-1] * 1e5).astype(np.int64)  # lat, lng
    deltas = np.diff(ints, axis=0, prepend=np.zeros((1, 2), dtype=np.int64))
    starts = ring_offsets[:-1]
    deltas[starts] = ints[starts]  # every ring starts from an absolute position
    data, n = _encode_values(deltas.ravel())
    text = data.decode("ascii")
    ends = np.concatenate([[0], np.cumsum(n)])
    # Byte position of each coordinate pair = end of its previous value.
    pair_pos = ends[::2]
    return [text[pair_pos[a]:pair_pos[b]] for a, b in zip(ring_offsets[:-1], ring_offsets[1:], strict=True)]


def decode_ring(text: str) -> list[tuple[float, float]]:
    """Inverse of :func:`encode_rings` for one ring: (lat, lon) pairs in degrees."""
    out: list[tuple[float, float]] = []
    i = lat = lng = 0
    while i < len(text):
        vals = []
        for _ in range(2):
            shift = res = 0
            while True:
                b = ord(text[i]) - 63
                i += 1
                res |= (b & 31) << shift
                shift += 5
                if b < 32:
                    break
            vals.append(~(res >> 1) if res & 1 else res >> 1)
        lat += vals[0]
        lng += vals[1]
        out.append((lat / 1e5, lng / 1e5))
    return out


def _as_multipolygon(g: Any) -> shapely.MultiPolygon:
    """Any areal geometry as a MultiPolygon (lines and points left by repairs are dropped)."""
    if g.geom_type == "MultiPolygon":
        return g
    if g.geom_type == "Polygon":
        return shapely.MultiPolygon([g])
    parts = [p for p in shapely.get_parts(shapely.make_valid(g)) if p.geom_type in ("Polygon", "MultiPolygon")]
    polys = [q for p in parts for q in (p.geoms if p.geom_type == "MultiPolygon" else [p])]
    return shapely.MultiPolygon(polys)


def _polygon_features(
    geoms: np.ndarray, props: Sequence[tuple[str, str]], proj: _Projector, tolerance: float
) -> list[list[Any]]:
    """``[tooltip, fill colour, [[ring, ...] per polygon]]`` per non-empty geometry, rings encoded."""
    geoms = np.asarray(geoms, dtype=object)
    if tolerance > 0:
        geoms = shapely.simplify(geoms, tolerance, preserve_topology=True)
    geoms = proj.geoms(geoms)
    keep = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    geoms = geoms[keep]
    props = [p for p, k in zip(props, keep, strict=True) if k]
    multi = np.array([_as_multipolygon(g) for g in geoms], dtype=object)
    _, coords, (ring_off, poly_off, geom_off) = shapely.to_ragged_array(multi)
    rings = encode_rings(coords, ring_off)
    out = []
    for gi, (tip, colour) in enumerate(props):
        parts = []
        for pi in range(geom_off[gi], geom_off[gi + 1]):
            parts.append(rings[poly_off[pi]:poly_off[pi + 1]])
        out.append([tip, colour, parts])
    return out


def _admin_layers(
    m: folium.Map,
    reg: _Registry,
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
        units = _level_frame(layers, level)
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
                f"<b>{_esc(row['name'])}</b> <small>({_esc(level)} {_esc(code)})</small><br>"
                f"{_esc(label)}: <b>{_esc(_fmt_kpi(kpi, row['value']))}</b> <small>{_esc(unit)}</small><br>"
                f"Stores: {_fmt_int(row['stores'])} ({_fmt_int(row['new_stores'])} new)<br>"
                f"Population: {_fmt_int(row['population'])} people"
            )
            props.append((tip, fill))
        feats = _polygon_features(units.geometry.to_numpy(), props, proj, SIMPLIFY_TOLERANCE_DEG[level])
        fg = _feature_group(
            m, reg, level, f"{level.capitalize()}: {label.lower()}", show=(level == "province")
        )
        weight, opacity = style[level]
        data = {"f": feats, "stroke": "#4b5563", "weight": weight, "opacity": opacity}
        fg.add_child(_JsLayer(fg, data, _POLYGON_JS, m.get_name(), lazy=True, key=level))
        legends.append((level, breaks, colours))
        log.debug("map: %s layer with %d polygons", level, len(feats))
    return legends


def _grid_layer(
    m: folium.Map,
    reg: _Registry,
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
            f"<b>H3 {_esc(row.h3)}</b> <small>(resolution {res}"
            + (f", {int(row.cells):,} cells of res {native}" if res != native else "")
            + f")</small><br>Population: {_fmt_int(row.population)} people"
        )
        if by_share:
            tip += f"<br>Demand: {_fmt_int(row.demand)}<br>Captured share: {_fmt_pct(row.captured_share)} of demand"
        props.append((tip, fill))
    feats = _polygon_features(np.array(polys, dtype=object), props, proj, 0.0)
    name = "Grid: " + ("captured share of demand" if by_share else "population") + f" (H3 res {res})"
    fg = _feature_group(m, reg, "grid", name, show=(res == native))
    fg.add_child(_JsLayer(fg, {"f": feats, "stroke": "#9a3412", "weight": 0.3, "opacity": 0.55},
                          _POLYGON_JS, m.get_name(), lazy=True, key="grid"))
    legend: dict[str, Any]
    if by_share:
        lo, hi = breaks[0], breaks[-1]
        legend = {"label": "Grid: captured share", "text": f"{_fmt_pct(lo)} – {_fmt_pct(hi)} of demand"}
    else:
        legend = {"label": "Grid: population", "text": f"{_fmt_int(10 ** breaks[0])} – {_fmt_int(10 ** breaks[-1])} people per hexagon"}
    legend["colours"] = colours
    return legend


def _store_popup(row: Mapping[str, Any]) -> str:
    status = str(row.get("status", ""))
    quarter = str(row.get("quarter") or "")
    quarter = "" if quarter.lower() == "nan" else quarter
    lines = [
        f"<b>{_esc(row.get('name') or row.get('store_id'))}</b>",
        f"<small>id {_esc(row.get('store_id'))}</small>",
        f"Status: {'existing' if status == 'existing' else 'new'}"
        + (f", opens {_esc(quarter)}" if status == "new" and quarter else ""),
        f"Format: {_esc(row.get('format'))}",
        f"Place: {_esc(row.get('county'))}, {_esc(row.get('city'))}, {_esc(row.get('province'))}"
        + (f" (tier {_esc(row.get('tier'))})" if row.get("tier") is not None else ""),
        f"Catchment population: {_fmt_int(row.get('catchment_population'))} people",
    ]
    if row.get("marginal_value") is not None:
        lines.append(f"Marginal value: {_fmt_float(row.get('marginal_value'), 0)}")
    if row.get("cannibalised_pct") is not None:
        lines.append(f"Cannibalised: {_fmt_float(row.get('cannibalised_pct'), 1)} %")
    if row.get("expected_share") is not None:
        lines.append(f"Expected share: {_fmt_pct(row.get('expected_share'))}")
    if row.get("nearest_own_km") is not None:
        lines.append(f"Nearest own store: {_fmt_float(row.get('nearest_own_km'), 1)} km")
    if row.get("nearest_competitor_km") is not None:
        lines.append(
            f"Nearest competitor: {_fmt_float(row.get('nearest_competitor_km'), 1)} km; "
            f"{_fmt_int(row.get('competitors_in_catchment'))} in catchment"
        )
    return "<br>".join(lines)


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
    reg: _Registry,
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
        groups.append((f"new:{q}", f"New stores {_esc(q)} ({int(counts.get(q, 0)):,})", colour))
    if unscheduled.any():
        groups.append(("new:unscheduled", f"New stores, unscheduled ({int(unscheduled.sum()):,})", palette[-1]))
    index = {key: i for i, (key, _, _) in enumerate(groups)}
    fgs = [_feature_group(m, reg, key, name, show=True) for key, name, _ in groups]
    catch = _feature_group(m, reg, "catchments", "Store catchments", show=False)

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
    root.header.add_child(Element(_store_css([c for _, _, c in groups])), name="planner_store_css")
    # One snippet fills every store group, so it renders after all of them exist.
    m.add_child(_JsLayer(fgs[0], data, _STORES_JS, m.get_name(), key="stores"))

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
                f" · {_fmt_int(ready[q])} managers ready" if q in ready else "" for q in quarters
            ]
        m.add_child(
            _RawScript(
                _SLIDER_JS
                % {
                    "map": m.get_name(),
                    "groups": _js_json(q_groups),
                    "labels": _js_json(labels),
                    "totals": _js_json(totals),
                    "notes": _js_json(notes),
                }
            )
        )
    return {"groups": groups, "formats": formats}


def _competitor_layers(
    m: folium.Map, reg: _Registry, *, competitors: gpd.GeoDataFrame | None, proj: _Projector
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
            [float(a), float(b), _esc(n), _esc(i)]
            for a, b, n, i in zip(lat, lon, names, ids, strict=True)
        ]
        label = brand if not brand.islower() else brand.capitalize() if brand != "oppo" else "OPPO"
        fg = _feature_group(m, reg, f"competitor:{brand}", f"Competitor: {_esc(label)} ({len(rows):,})", show=False)
        data = {"brand": _esc(label), "colour": colour, "rows": rows}
        fg.add_child(_ClusterLayer(fg, data, _COMPETITOR_JS, m.get_name(), lazy=True, key=f"competitor:{brand}"))
        out.append((label, colour, len(rows)))
    return out


def _city_search(m: folium.Map, reg: _Registry, *, cities: gpd.GeoDataFrame | None, proj: _Projector) -> None:
    if cities is None or len(cities) == 0:
        return
    pts = cities.geometry.representative_point()
    lon, lat = proj.xy(pts.x.to_numpy(), pts.y.to_numpy())
    en = cities["name_en"].astype(str) if "name_en" in cities else None
    rows = []
    for i, name in enumerate(cities["name"].astype(str)):
        label = name if en is None or not en.iloc[i] or en.iloc[i] == "nan" else f"{name} {en.iloc[i]}"
        rows.append([float(lat[i]), float(lon[i]), _esc(label)])
    fg = _feature_group(m, reg, "city_points", f"City centres ({len(rows):,})", show=False)
    fg.add_child(_JsLayer(fg, rows, _CITY_POINTS_JS, m.get_name(), key="city_points"))
    folium.plugins.Search(
        layer=fg, search_label="name", geom_type="Point", placeholder="Search a city", collapsed=False,
        position="topleft", search_zoom=10,
    ).add_to(m)


def _title_html(kpis: Mapping[str, Any], scenario: Scenario) -> str:
    gap = kpis.get("gap")
    gap_txt = "unknown" if gap is None else f"{100 * float(gap):.2f} %"
    objective = kpis.get("objective")
    kind = kpis.get("objective_kind") or scenario.objective.kind
    obj_txt = _fmt_float(objective, 0) if objective is not None else "n/a"
    stores = kpis.get("stores")
    created = kpis.get("created") or ""
    parts = [
        f"<b>{_esc(kpis.get('scenario') or scenario.name)}</b>",
        f"objective {_esc(kind)} = {_esc(obj_txt)}",
        f"gap {_esc(gap_txt)}",
    ]
    if stores is not None:
        parts.append(f"{_fmt_int(stores)} stores")
    if kpis.get("covered_share") is not None:
        parts.append(f"{_fmt_pct(kpis.get('covered_share'))} of people covered")
    if created:
        parts.append(_esc(created))
    desc = f"<div style='font-size:11px;color:#4b5563'>{_esc(scenario.description)}</div>" if scenario.description else ""
    return (
        "<div id='planner-title' style='position:fixed;top:10px;left:50%;transform:translateX(-50%);"
        "z-index:1000;background:rgba(255,255,255,.92);padding:6px 14px;border-radius:6px;"
        "box-shadow:0 1px 4px rgba(0,0,0,.3);font:13px sans-serif;max-width:70%;text-align:center'>"
        + " · ".join(parts)
        + desc
        + "</div>"
    )


def _note_html(illustrative: bool, tiles: str) -> str:
    notes = []
    if illustrative:
        notes.append(
            "<b>Illustrative networks:</b> existing own stores and competitor stores are generated "
            "from a seed, shaped like real networks; they are not real store locations."
        )
    if tiles == "amap":
        notes.append("Coordinates shown in GCJ-02 to match AMap tiles.")
    if not notes:
        return ""
    return (
        "<div id='planner-illustrative' style='position:fixed;bottom:28px;left:50%;transform:translateX(-50%);"
        "z-index:1000;background:#fef3c7;border:1px solid #d97706;padding:4px 10px;border-radius:4px;"
        "font:12px sans-serif;max-width:60%'>" + "<br>".join(notes) + "</div>"
    )


def _swatch(colour: str, shape: str = "rect", size: int = 12) -> str:
    if shape == "circle":
        body = f"<circle cx='{size / 2}' cy='{size / 2}' r='{size / 2 - 1}'"
    elif shape == "star":
        body = f"<polygon points='{size / 2},1 {size * 0.62},{size * 0.38} {size - 1},{size * 0.4} {size * 0.68},{size * 0.62} {size * 0.8},{size - 1} {size / 2},{size * 0.76} {size * 0.2},{size - 1} {size * 0.32},{size * 0.62} 1,{size * 0.4} {size * 0.38},{size * 0.38}'"
    else:
        body = f"<rect x='1' y='1' width='{size - 2}' height='{size - 2}'"
    return (
        f"<svg width='{size}' height='{size}' style='vertical-align:middle'>{body} "
        f"fill='{colour}' stroke='#374151' stroke-width='0.8'/></svg>"
    )


def _legend_html(
    *,
    kpi: str,
    admin: list[tuple[str, np.ndarray, list[str]]],
    grid: dict[str, Any] | None,
    stores: dict[str, Any],
    competitors: list[tuple[str, str, int]],
) -> str:
    label, unit = KPI_LABELS[kpi]
    rows = [f"<div style='font-weight:bold'>{_esc(label)}</div><div style='color:#4b5563'>{_esc(unit)}</div>"]
    for level, breaks, colours in admin:
        if level != "province":
            continue
        for i, c in enumerate(colours):
            lo, hi = breaks[i], breaks[i + 1]
            rows.append(f"<div>{_swatch(c)} {_esc(_fmt_kpi(kpi, lo))} – {_esc(_fmt_kpi(kpi, hi))}</div>")
        rows.append(f"<div>{_swatch(NO_DATA_COLOUR)} no data</div>")
    if len(admin) > 1:
        rows.append("<div style='color:#4b5563'>(provinces; city and county layers have their own quantile classes)</div>")
    if grid:
        rows.append(f"<div style='margin-top:4px;font-weight:bold'>{_esc(grid['label'])}</div>")
        rows.append("<div>" + "".join(_swatch(c) for c in grid["colours"]) + f" {_esc(grid['text'])}</div>")
    rows.append("<div style='margin-top:4px;font-weight:bold'>Own stores</div>")
    groups = stores["groups"]
    new_colours = [c for key, _, c in groups if key.startswith("new:")]
    rows.append(f"<div>{_swatch(EXISTING_COLOUR, 'circle')} existing</div>")
    if new_colours:
        first = next((k for k, _, _ in groups if k.startswith("new:")), "")
        last = [k for k, _, _ in groups if k.startswith("new:")][-1]
        rows.append(
            "<div>" + "".join(_swatch(c, "circle", 10) for c in new_colours) + f" new, {_esc(first[4:])} → {_esc(last[4:])}</div>"
        )
    shape_txt = " ".join(
        f"{_swatch('#9ca3af', FORMAT_SHAPES[f][0])} {_esc(f)}" for f in FORMAT_SHAPES if f in stores["formats"]
    )
    rows.append(f"<div>{shape_txt}</div>")
    if competitors:
        rows.append("<div style='margin-top:4px;font-weight:bold'>Competitors (off by default)</div>")
        rows.append(
            "<div>" + " ".join(f"{_swatch(c, 'circle')} {_esc(b)}" for b, c, _ in competitors) + "</div>"
        )
    return (
        "<div id='planner-legend' style='position:fixed;bottom:28px;right:10px;z-index:1000;"
        "background:rgba(255,255,255,.92);padding:6px 10px;border-radius:6px;box-shadow:0 1px 4px rgba(0,0,0,.3);"
        "font:11px sans-serif;max-width:260px;line-height:1.5'>" + "".join(rows) + "</div>"
    )


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
    m.default_css = [(n, u) for n, u in m.default_css if n not in _UNUSED_DEFAULT_CSS]
    m.default_js = [(n, u) for n, u in m.default_js if n not in _UNUSED_DEFAULT_JS]
    if cfg.tiles in TILES:
        t = TILES[cfg.tiles]
        folium.TileLayer(
            tiles=t["url"], attr=t["attr"], name=t["name"], subdomains=t["subdomains"], max_zoom=18,
            overlay=False, control=True,
        ).add_to(m)
    reg = _Registry()
    plan = plan.reset_index(drop=True)
    admin = _admin_layers(
        m, reg, layers=layers, plan=plan, kpis=kpis, kpi=cfg.choropleth_kpi, cell_values=cell_values, proj=proj
    )
    grid = None
    if cfg.max_grid_cells > 0 and layers.cells is not None and len(layers.cells):
        grid = _grid_layer(m, reg, cells=layers.cells, cell_values=cell_values, max_cells=cfg.max_grid_cells,
                           proj=proj)
    _city_search(m, reg, cities=layers.cities, proj=proj)
    comp = _competitor_layers(m, reg, competitors=layers.competitors, proj=proj)
    stores = _store_layers(m, reg, plan=plan, scenario=scenario, rollout=rollout, proj=proj)
    folium.LayerControl(collapsed=True, position="topright").add_to(m)
    m.fit_bounds(bounds)

    illustrative = bool(kpis.get("illustrative_networks", False))
    root: Any = m.get_root()  # a branca Figure (typed as Element)
    root.header.add_child(Element(f"<title>{_esc(kpis.get('scenario') or scenario.name)} · store plan</title>"))
    root.html.add_child(Element(_title_html(kpis, scenario)))
    note = _note_html(illustrative, cfg.tiles)
    if note:
        root.html.add_child(Element(note))
    root.html.add_child(
        Element(_legend_html(kpi=cfg.choropleth_kpi, admin=admin, grid=grid, stores=stores, competitors=comp))
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
        _RawScript(
            _HOOK_JS
            % {
                "map": m.get_name(),
                "meta": _js_json(meta),
                "layers": _js_json({k: v.get_name() for k, v in reg.layers.items()}),
                "hidden": _js_json([k for k, v in reg.layers.items() if not v.show]),
            }
        )
    )
    return m


def _offline_asset(url: str) -> str:
    """The text of a JS/CSS asset Folium links, from the installed ``folium-offline`` package."""
    try:
        from offlinefolium.elements import _res  # the package's URL → content table
    except ImportError as exc:  # pragma: no cover - a declared dependency
        raise RuntimeError("map.offline needs the 'folium-offline' package (pip install folium-offline)") from exc
    try:
        return str(_res[url])
    except KeyError:
        raise RuntimeError(
            f"no offline copy of {url} in folium-offline; set map.offline: false or pin a folium version "
            "whose assets folium-offline ships"
        ) from None


def _inline_assets(page: str) -> str:
    """Replace every ``<script src>`` / stylesheet ``<link>`` with the asset's inlined text."""

    def script(mt: re.Match[str]) -> str:
        body = _offline_asset(mt.group("url")).replace("</script", "<\\/script")
        return f"<script>{body}</script>"

    def style(mt: re.Match[str]) -> str:
        body = _offline_asset(mt.group("url")).replace("</style", "<\\/style")
        # A relative url() (e.g. leaflet-search's images/loader.gif) would be looked up next to
        # map.html and fail; an empty image keeps the page quiet and offline.
        body = _CSS_RELATIVE_URL.sub(f"url({_EMPTY_GIF})", body)
        return f"<style>{body}</style>"

    page = _SCRIPT_SRC.sub(script, page)
    page = _CSS_LINK.sub(style, page)
    left = re.findall(r'<(?:script|link)[^>]+(?:src|href)="https?://[^"]+"', page)
    if left:
        raise RuntimeError(f"map.offline: could not inline {left[:3]}")
    return page


def _walk(element: Any) -> Iterable[Any]:
    yield element
    for child in element._children.values():
        yield from _walk(child)


def render_map(m: folium.Map, *, offline: bool) -> str:
    """The map's HTML: Folium's page, the layers' JSON data blocks, assets inlined when ``offline``."""
    page = m.get_root().render()
    blocks = "".join(
        f'<script type="application/json" id="{el.data_id}">{el.data_text}</script>\n'
        for el in _walk(m)
        if isinstance(el, _JsLayer)
    )
    if "<body>" not in page:  # pragma: no cover - Folium's page template changed
        raise RuntimeError("map: no <body> in Folium's page; cannot place the layer data")
    page = page.replace("<body>", "<body>\n" + blocks, 1)
    return _inline_assets(page) if offline else page


def write_map(
    path: str | Path,
    *,
    layers: Layers,
    plan: pd.DataFrame,
    kpis: Mapping[str, Any],
    scenario: Scenario,
    rollout: pd.DataFrame | None = None,
    cell_values: pd.DataFrame | None = None,
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

    Returns
    -------
    pathlib.Path
        The written file.
    """
    path = Path(path)
    m = build_map(
        layers=layers, plan=plan, kpis=kpis, scenario=scenario, rollout=rollout, cell_values=cell_values
    )
    page = render_map(m, offline=scenario.map.offline)
    path.write_text(page, encoding="utf-8")
    log.info("map: wrote %s (%.1f MB, tiles=%s, offline=%s)", path, len(page.encode()) / 1e6,
             scenario.map.tiles, scenario.map.offline)
    return path
