"""The map's rival layers: "where we lead" (provinces and cities by rank, per quarter) and the rivals' response.

The lead layers draw every province / city once and re-colour it when the quarter
slider moves (``LEAD_JS`` registers a callback in ``window.plannerOnQuarter``,
which the slider calls with its position). Ranks come from ``share.csv``
(:mod:`planner.report.share`); the slider's first position (the existing
network) uses the shares of the stores open before the first quarter.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import folium
import numpy as np
import pandas as pd

from planner.report.html import esc
from planner.report.leaflet import (
    DECODE_JS,
    JsLayer,
    LayerRegistry,
    feature_group,
    polygon_features,
)

__all__ = ["LEAD_JS", "RANK_COLOURS", "RESPONSE_JS", "lead_layers", "response_layer"]

RANK_COLOURS: tuple[str, ...] = ("#15803d", "#86efac", "#fdba74", "#dc2626")
"""Fill per rank: first (dark green), second, third, fourth or worse (red)."""

LEAD_JS = DECODE_JS + """var polys = data.f.map(function(f){
  var p = L.polygon(f[2].map(function(r){ return r.map(decode); }),
                    {color: '#374151', weight: data.weight, opacity: 0.8, fillOpacity: 0.6});
  p.addTo(target);
  return p;
});
function paint(v){
  v = Math.max(0, Math.min(v, data.states.length - 1));
  var st = data.states[v];
  polys.forEach(function(p, i){
    var r = st.rank[i];
    p.setStyle({fillColor: r > 0 ? data.colours[Math.min(r, data.colours.length) - 1] : '#d1d5db'});
    p.bindTooltip('<b>' + data.f[i][0] + '</b><br>' + data.label + ' ' + st.label + ': ' +
                  (r > 0 ? 'rank ' + r + ' of ' + data.brands + ', own share ' + st.own[i] + ' %, ' + st.top[i]
                         : 'no demand'), {sticky: true});
  });
  target.plannerState = v;
}
target.plannerPaint = paint;
window.plannerOnQuarter = window.plannerOnQuarter || [];
window.plannerOnQuarter.push(paint);
paint(window.plannerQuarter === undefined ? data.states.length - 1 : window.plannerQuarter);
"""

RESPONSE_JS = """
data.rows.forEach(function(r){
  L.circleMarker([r[0], r[1]], {radius: 4, color: '#111827', weight: 1.5, fillColor: data.colours[r[2]],
                                fillOpacity: 0.95})
    .bindPopup('<b>' + data.brands[r[2]] + '</b> (response)<br>' + r[3]).addTo(target);
});
"""


def _states(share: pd.DataFrame, start: pd.DataFrame | None, labels: Sequence[str], level: str, codes: list[str]) -> list[dict[str, Any]]:
    """Per slider position: rank, own share (%) and the leading rival of every unit of ``level``."""
    brands = [c for c in share.columns if c not in ("level", "code", "name", "quarter", "rank", "own")]
    out = []
    for k, label in enumerate(labels):
        if k == 0 and start is not None:
            df = start
        else:
            df = share[share["quarter"].astype(str) == str(label)]
            if df.empty:
                df = share[share["quarter"] == share["quarter"].iloc[-1]]
        d = df[df["level"] == level].set_index(df.loc[df["level"] == level, "code"].astype(str)).reindex(codes)
        rank = d["rank"].fillna(0).astype(int).tolist()
        own = [f"{100 * x:.1f}" if np.isfinite(x) else "" for x in d["own"].to_numpy(dtype=float)]
        vals = d[brands].to_numpy(dtype=float) if brands else np.zeros((len(codes), 0))
        top = []
        for row in vals:
            if row.size and np.isfinite(row).all():
                i = int(np.argmax(row))
                top.append(f"leading rival {esc(brands[i])} {100 * row[i]:.1f} %")
            else:
                top.append("")
        out.append({"label": str(label), "rank": rank, "own": own, "top": top})
    return out


def lead_layers(
    m: folium.Map,
    reg: LayerRegistry,
    *,
    units: dict[str, Any],
    share: pd.DataFrame,
    start: pd.DataFrame | None,
    labels: Sequence[str],
    transform: Callable[[np.ndarray], np.ndarray],
    tolerance: dict[str, float],
) -> list[str]:
    """"Where we lead" layers (``lead:province``, ``lead:city``; hidden at first), following the slider.

    ``labels`` are the slider's positions (the first the existing network when
    ``start`` is given); ``units`` the province and city tables (code, name, geometry).
    """
    brands = 1 + len([c for c in share.columns if c not in ("level", "code", "name", "quarter", "rank", "own")])
    keys = []
    for level, weight in (("province", 1.2), ("city", 0.6)):
        table = units.get(level)
        if table is None or len(table) == 0:
            continue
        table = table[~(table.geometry.isna() | table.geometry.is_empty)]
        codes = table["code"].astype(str).tolist()
        feats = polygon_features(
            table.geometry.to_numpy(), [(esc(str(n)), "#d1d5db") for n in table["name"]], transform, tolerance[level]
        )
        if len(feats) != len(codes):  # simplification emptied a geometry: ranks would not line up
            continue
        data = {
            "f": feats, "weight": weight, "colours": list(RANK_COLOURS), "brands": brands,
            "label": "rank", "states": _states(share, start, labels, level, codes),
        }
        fg = feature_group(m, reg, f"lead:{level}", f"Where we lead: {level}s (rank, follows the quarter)", show=False)
        fg.add_child(JsLayer(fg, data, LEAD_JS, m.get_name(), lazy=True, key=f"lead:{level}"))
        keys.append(f"lead:{level}")
    return keys


def response_layer(
    m: folium.Map,
    reg: LayerRegistry,
    *,
    response: pd.DataFrame,
    colours: dict[str, str],
    xy: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]],
) -> int:
    """The rivals' new stores of ``response.csv`` (``response``, hidden at first); returns their number."""
    if response is None or len(response) == 0:
        return 0
    brands = sorted(response["brand"].astype(str).unique())
    idx = {b: i for i, b in enumerate(brands)}
    lon, lat = xy(response["lon"].to_numpy(dtype=float), response["lat"].to_numpy(dtype=float))
    where = (response["city"].astype(str) + " · " + response["county"].astype(str)).map(esc)
    rows = [
        [float(a), float(b), idx[str(br)], w]
        for a, b, br, w in zip(lat, lon, response["brand"].astype(str), where, strict=True)
    ]
    data = {"rows": rows, "brands": [esc(b) for b in brands], "colours": [colours.get(b.lower(), "#9333ea") for b in brands]}
    fg = feature_group(m, reg, "response", f"Rivals' response ({len(rows):,} new stores)", show=False)
    fg.add_child(JsLayer(fg, data, RESPONSE_JS, m.get_name(), lazy=True, key="response"))
    return len(rows)
