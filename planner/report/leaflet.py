"""The Leaflet kit of the HTML map: compact-JSON layers, their JavaScript, CSS and offline assets.

Data-heavy layers are small hand-written Leaflet snippets fed by compact JSON
(:class:`JsLayer`) rather than one Folium element per feature: a national map has
thousands of polygons and tens of thousands of points, and one element each would
make the file several times larger and slower to open. Polygon rings travel as
Google polylines (:func:`encode_rings`, decoded in the page by ``POLYGON_JS``).
:func:`render_map` writes the page with every layer's data in a
``<script type="application/json">`` block of its own and, offline, inlines every
script and style sheet from the installed ``folium-offline`` package
(:func:`inline_assets`), so the page needs no network except for background tiles.
The page exposes ``window.plannerMap`` (``HOOK_JS``) for the browser tests and benchmarks.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import folium
import folium.plugins
import numpy as np
import shapely
from branca.element import MacroElement
from folium.elements import JSCSSMixin
from folium.template import Template

from planner.report.html import js_json

__all__ = [
    "CITY_POINTS_JS", "COMPETITOR_JS", "ClusterLayer", "HOOK_JS", "JsLayer", "LayerRegistry", "POLYGON_JS",
    "RawScript", "SLIDER_JS", "STORES_JS", "UNUSED_DEFAULT_CSS", "UNUSED_DEFAULT_JS", "decode_ring", "encode_rings",
    "embed_layer_data", "feature_group", "inline_assets", "polygon_features", "render_map", "store_css",
]

# Precompiled once: the <script src> and stylesheet <link> tags Folium renders.
_SCRIPT_SRC = re.compile(r'<script\s+src="(?P<url>[^"]+)"\s*>\s*</script>')
_CSS_LINK = re.compile(r'<link\s+rel="stylesheet"\s+href="(?P<url>[^"]+)"\s*/?>')

# url(...) in a style sheet that is neither a data: URI nor a fragment (#id).
_CSS_RELATIVE_URL = re.compile(r"url\(\s*(?![\"']?\s*(?:data:|#))[^)]*\)")
_EMPTY_GIF = "data:image/gif;base64,R0lGODlhAQABAAAAACH5BAEKAAEALAAAAAABAAEAAAICTAEAOw=="

# Assets Folium links by default that this map never uses (it draws no Bootstrap widgets,
# no icon-font markers and no jQuery code): about 1.2 MB when inlined, and the icon fonts
# would be fetched relative to the file.
UNUSED_DEFAULT_CSS = {
    "bootstrap_css", "glyphicons_css", "awesome_markers_font_css", "awesome_markers_css", "awesome_rotate_css",
}
UNUSED_DEFAULT_JS = {"bootstrap", "jquery", "awesome_markers"}


class JsLayer(MacroElement):
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
        self.data_text = js_json(data)
        self.js = js
        self.map_name = map_name
        self.lazy = lazy


class ClusterLayer(JSCSSMixin, JsLayer):
    """A :class:`JsLayer` that needs Leaflet.markercluster (its JS and CSS come with it)."""

    default_js = folium.plugins.MarkerCluster.default_js
    default_css = folium.plugins.MarkerCluster.default_css


class RawScript(MacroElement):
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


#: JS decoder of the polygons' encoded rings (Google polyline, 1e-5 degrees), shared by the layers that draw them
DECODE_JS = """
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
"""

POLYGON_JS = DECODE_JS + """data.f.forEach(function(f){
  var poly = L.polygon(f[2].map(function(p){ return p.map(decode); }),
                       {fillColor: f[1], color: data.stroke, weight: data.weight, opacity: 0.8,
                        fillOpacity: data.opacity});
  poly.bindTooltip(f[0], {sticky: true});
  poly.addTo(target);
});
"""

STORES_JS = """
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


def store_css(colours: Sequence[str]) -> str:
    """Marker shapes (by format) and fills (by group) as CSS classes (see ``STORES_JS``)."""
    rules = [
        ".planner-store{box-sizing:border-box;border:1.5px solid #fff;box-shadow:0 0 1px 1px rgba(0,0,0,.45)}",
        ".ps-circle{border-radius:50%}",
        ".ps-square{border-radius:1px}",
        f".ps-star{{border:none;box-shadow:none;clip-path:{_STAR_CLIP}}}",
    ]
    rules += [f".pg-{i}{{background:{c}}}" for i, c in enumerate(colours)]
    return "<style>" + "".join(rules) + "</style>"


CITY_POINTS_JS = """
data.forEach(function(r){
  L.circleMarker([r[0], r[1]], {radius: 3, color: '#374151', weight: 1, fillColor: '#fff',
                                fillOpacity: 1, name: r[2]}).bindTooltip(r[2]).addTo(target);
});
"""

COMPETITOR_JS = """
var cluster = L.markerClusterGroup({chunkedLoading: true, disableClusteringAtZoom: 14, maxClusterRadius: 60});
cluster.addLayers(data.rows.map(function(r){
  var m = L.circleMarker([r[0], r[1]], {radius: 4, color: '#ffffff', weight: 1, fillColor: data.colour,
                                         fillOpacity: 0.9});
  m.bindPopup('<b>' + data.brand + '</b><br>' + r[2] + '<br><small>' + r[3] + '</small>');
  return m;
}));
cluster.addTo(target);
"""

AREAS_JS = POLYGON_JS.split("data.f.forEach")[0] + """
// The command's areas: county unions outlined, shown from the slider position of the quarter they form.
var polys = [];
data.f.forEach(function(f, i){
  var poly = L.polygon(f[2].map(function(p){ return p.map(decode); }),
                       {fillColor: f[1], color: f[1], weight: 2, opacity: 0.95, fillOpacity: 0.22});
  poly.bindPopup(f[0], {maxWidth: 340});
  poly.bindTooltip(data.names[i], {sticky: true});
  poly.plannerFormed = data.formed[i];
  polys.push(poly);
});
function at(v){
  polys.forEach(function(p){
    if (p.plannerFormed <= v) { if (!target.hasLayer(p)) target.addLayer(p); }
    else if (target.hasLayer(p)) target.removeLayer(p);
  });
}
(window.plannerQuarterHooks = window.plannerQuarterHooks || []).push(at);
at(window.plannerQuarter === undefined ? 1e9 : window.plannerQuarter);
"""

SLIDER_JS = """
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
      // layers that follow the quarter ("where we lead", the command's areas) register a callback here
      window.plannerQuarter = v;
      (window.plannerOnQuarter || []).forEach(function(f){ f(v); });
      (window.plannerQuarterHooks || []).forEach(function(h){ h(v); });
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

HOOK_JS = """
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
class LayerRegistry:
    """Folium layers by a stable key (used by the slider and the browser tests)."""

    layers: dict[str, Any] = field(default_factory=dict)

    def add(self, key: str, layer: Any) -> Any:
        self.layers[key] = layer
        return layer


def feature_group(m: folium.Map, reg: LayerRegistry, key: str, name: str, *, show: bool, control: bool = True) -> Any:
    """A Folium ``FeatureGroup`` added to ``m`` and registered under ``key``."""
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


def polygon_features(
    geoms: np.ndarray,
    props: Sequence[tuple[str, str]],
    transform: Callable[[np.ndarray], np.ndarray],
    tolerance: float,
) -> list[list[Any]]:
    """``[tooltip, fill colour, [[ring, ...] per polygon]]`` per non-empty geometry, rings encoded (``POLYGON_JS``).

    Geometries are simplified (``tolerance`` degrees, 0 for none), then ``transform``
    writes their coordinates (the map's projector), then empty ones are dropped.
    """
    geoms = np.asarray(geoms, dtype=object)
    if tolerance > 0:
        geoms = shapely.simplify(geoms, tolerance, preserve_topology=True)
    geoms = transform(geoms)
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


def inline_assets(page: str) -> str:
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


def _data_blocks(m: folium.Map) -> str:
    return "".join(
        f'<script type="application/json" id="{el.data_id}">{el.data_text}</script>\n'
        for el in _walk(m)
        if isinstance(el, JsLayer)
    )


def embed_layer_data(m: folium.Map) -> folium.Map:
    """Put the layers' JSON data blocks inside the map's own page, for display where Folium renders it.

    :func:`render_map` adds the blocks to the page it writes; a notebook shows
    ``m`` through Folium's own rendering (``_repr_html_``), which would draw the
    map without its layers. Call once on a map that is displayed, not written.
    """
    from branca.element import Element

    root: Any = m.get_root()
    root.html.add_child(Element(_data_blocks(m)), name="planner_layer_data")
    return m


def render_map(m: folium.Map, *, offline: bool) -> str:
    """The map's HTML: Folium's page, the layers' JSON data blocks, assets inlined when ``offline``."""
    page = m.get_root().render()
    blocks = _data_blocks(m)
    if "<body>" not in page:  # pragma: no cover - Folium's page template changed
        raise RuntimeError("map: no <body> in Folium's page; cannot place the layer data")
    page = page.replace("<body>", "<body>\n" + blocks, 1)
    return inline_assets(page) if offline else page

