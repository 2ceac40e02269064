"""The map's key: store colours and marker shapes, and the title, note and legend that explain them.

The legend must say exactly what the layers draw, so the colours and shapes the
layers use (:mod:`planner.report.maps`) are defined here beside the HTML that
names them. Every string reaches the page through :func:`~planner.report.html.esc`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from planner.config.models import Scenario
from planner.report.html import esc, fmt_float, fmt_int, fmt_pct
from planner.report.kpis import KPI_LABELS

__all__ = [
    "EXISTING_COLOUR", "FORMAT_SHAPES", "NO_DATA_COLOUR", "fmt_kpi", "legend_html", "note_html", "swatch", "title_html",
]

NO_DATA_COLOUR = "#d1d5db"
"""Fill of an admin unit or hexagon without a value."""
EXISTING_COLOUR = "#1f2937"
"""Marker colour of the existing stores."""

FORMAT_SHAPES: dict[str, tuple[str, int]] = {
    "flagship": ("star", 20),
    "standard": ("circle", 12),
    "small": ("square", 9),
}
"""Marker shape and size (px) of each store format; other formats draw as ``standard``."""


def fmt_kpi(kpi: str, value: float) -> str:
    """A value of an admin-level KPI (:data:`~planner.report.kpis.KPI_LABELS`) as the map shows it."""
    if kpi in ("covered_share", "market_share"):
        return fmt_pct(value)
    if kpi == "new_stores":
        return fmt_int(value)
    return fmt_float(value, 2)


def title_html(kpis: Mapping[str, Any], scenario: Scenario) -> str:
    """The title bar: scenario, objective and gap, stores, coverage, date and description."""
    gap = kpis.get("gap")
    gap_txt = "unknown" if gap is None else f"{100 * float(gap):.2f} %"
    objective = kpis.get("objective")
    kind = kpis.get("objective_kind") or scenario.objective.kind
    obj_txt = fmt_float(objective, 0) if objective is not None else "n/a"
    stores = kpis.get("stores")
    created = kpis.get("created") or ""
    parts = [
        f"<b>{esc(kpis.get('scenario') or scenario.name)}</b>",
        f"objective {esc(kind)} = {esc(obj_txt)}",
        f"gap {esc(gap_txt)}",
    ]
    if stores is not None:
        parts.append(f"{fmt_int(stores)} stores")
    if kpis.get("covered_share") is not None:
        parts.append(f"{fmt_pct(kpis.get('covered_share'))} of people covered")
    if created:
        parts.append(esc(created))
    desc = f"<div style='font-size:11px;color:#4b5563'>{esc(scenario.description)}</div>" if scenario.description else ""
    return (
        "<div id='planner-title' style='position:fixed;top:10px;left:50%;transform:translateX(-50%);"
        "z-index:1000;background:rgba(255,255,255,.92);padding:6px 14px;border-radius:6px;"
        "box-shadow:0 1px 4px rgba(0,0,0,.3);font:13px sans-serif;max-width:70%;text-align:center'>"
        + " · ".join(parts)
        + desc
        + "</div>"
    )


def note_html(illustrative: bool, tiles: str) -> str:
    """The visible note on illustrative networks and on GCJ-02 (empty when neither applies)."""
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


def swatch(colour: str, shape: str = "rect", size: int = 12) -> str:
    """An inline SVG legend swatch: ``rect``, ``circle`` or ``star``."""
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


def legend_html(
    *,
    kpi: str,
    admin: list[tuple[str, np.ndarray, list[str]]],
    grid: dict[str, Any] | None,
    stores: dict[str, Any],
    competitors: list[tuple[str, str, int]],
) -> str:
    """The legend: choropleth classes, grid scale, store groups and formats, competitors."""
    label, unit = KPI_LABELS[kpi]
    rows = [f"<div style='font-weight:bold'>{esc(label)}</div><div style='color:#4b5563'>{esc(unit)}</div>"]
    for level, breaks, colours in admin:
        if level != "province":
            continue
        for i, c in enumerate(colours):
            lo, hi = breaks[i], breaks[i + 1]
            rows.append(f"<div>{swatch(c)} {esc(fmt_kpi(kpi, lo))} – {esc(fmt_kpi(kpi, hi))}</div>")
        rows.append(f"<div>{swatch(NO_DATA_COLOUR)} no data</div>")
    if len(admin) > 1:
        rows.append("<div style='color:#4b5563'>(provinces; city and county layers have their own quantile classes)</div>")
    if grid:
        rows.append(f"<div style='margin-top:4px;font-weight:bold'>{esc(grid['label'])}</div>")
        rows.append("<div>" + "".join(swatch(c) for c in grid["colours"]) + f" {esc(grid['text'])}</div>")
    rows.append("<div style='margin-top:4px;font-weight:bold'>Own stores</div>")
    groups = stores["groups"]
    new_colours = [c for key, _, c in groups if key.startswith("new:")]
    rows.append(f"<div>{swatch(EXISTING_COLOUR, 'circle')} existing</div>")
    if new_colours:
        first = next((k for k, _, _ in groups if k.startswith("new:")), "")
        last = [k for k, _, _ in groups if k.startswith("new:")][-1]
        rows.append(
            "<div>" + "".join(swatch(c, "circle", 10) for c in new_colours) + f" new, {esc(first[4:])} → {esc(last[4:])}</div>"
        )
    shape_txt = " ".join(
        f"{swatch('#9ca3af', FORMAT_SHAPES[f][0])} {esc(f)}" for f in FORMAT_SHAPES if f in stores["formats"]
    )
    rows.append(f"<div>{shape_txt}</div>")
    if competitors:
        rows.append("<div style='margin-top:4px;font-weight:bold'>Competitors (off by default)</div>")
        rows.append(
            "<div>" + " ".join(f"{swatch(c, 'circle')} {esc(b)}" for b, c, _ in competitors) + "</div>"
        )
    return (
        "<div id='planner-legend' style='position:fixed;bottom:28px;right:10px;z-index:1000;"
        "background:rgba(255,255,255,.92);padding:6px 10px;border-radius:6px;box-shadow:0 1px 4px rgba(0,0,0,.3);"
        "font:11px sans-serif;max-width:260px;line-height:1.5'>" + "".join(rows) + "</div>"
    )
