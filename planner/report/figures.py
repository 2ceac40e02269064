"""Static figures of a plan (PNG) for reports and slides.

:func:`write_overview_png` draws the provinces shaded by stores per million people,
the existing stores and the new ones (by opening quarter), with a title naming the
scenario, objective and gap, and a visible note when the store networks are
illustrative; :func:`write_rollout_png` the rollout per quarter. The ``*_chart_png``
functions return PNG bytes for the comparison and sweep pages (KPIs, market
shares and province differences across runs; a sweep's Pareto fronts). Like the
HTML map they read results and never solve; they draw on ``Figure`` objects with
their own Agg canvas, never through pyplot's global state, so they run on
servers and in CI and leave a notebook's backend as it was.
"""

from __future__ import annotations

import functools
import io
import logging
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from planner.geodata.layers import Layers
from planner.report.kpis import gb_codes
from planner.report.runs import RunFolder, as_number, kpi_at

__all__ = [
    "chart_name", "figure_png", "kpi_chart_png", "pareto_chart_png", "province_chart_png", "share_chart_png",
    "write_overview_png", "write_rollout_png",
]

log = logging.getLogger(__name__)

EXISTING_COLOUR = "#1f2937"
NEW_CMAP = "plasma"


def agg_figure(**kwargs: Any) -> Any:
    """A matplotlib ``Figure`` on its own Agg canvas: no pyplot, no global backend switch.

    A notebook that called :func:`planner.run` keeps its inline backend (and
    its open figures); the figure is freed when it goes out of scope.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(**kwargs)
    FigureCanvasAgg(fig)
    return fig


def _title(kpis: Mapping[str, Any]) -> str:
    gap = kpis.get("gap")
    gap_txt = "gap unknown" if gap is None else f"gap {100 * float(gap):.2f} %"
    obj = kpis.get("objective")
    obj_txt = "n/a" if obj is None else f"{float(obj):,.0f}"
    parts = [
        str(kpis.get("scenario", "")),
        f"{kpis.get('objective_kind', 'objective')} = {obj_txt}",
        gap_txt,
    ]
    if kpis.get("stores") is not None:
        parts.append(f"{int(kpis['stores']):,} stores")
    if kpis.get("created"):
        parts.append(str(kpis["created"]))
    return " · ".join(p for p in parts if p)


def write_overview_png(
    path: str | Path,
    *,
    layers: Layers,
    plan: pd.DataFrame,
    kpis: Mapping[str, Any],
    dpi: int = 150,
    size_in: tuple[float, float] = (10.0, 8.0),
) -> Path:
    """Write a static overview of the plan as a PNG.

    Parameters
    ----------
    path : str or pathlib.Path
        Output file (``overview.png``).
    layers : Layers
        Geodata layers (provinces are drawn; WGS-84).
    plan : pandas.DataFrame
        The plan table (``status``, ``lat``, ``lon``, ``quarter``, ``province_code``).
    kpis : mapping
        ``kpis.json`` (scenario, objective_kind, objective, gap, stores, created,
        illustrative_networks).
    dpi : int
        Resolution (dots per inch).
    size_in : tuple of float
        Figure width and height (inches).

    Returns
    -------
    pathlib.Path
        The written file.
    """
    import matplotlib
    from matplotlib.lines import Line2D

    path = Path(path)
    fig = agg_figure(figsize=size_in, dpi=dpi)
    ax = fig.subplots()
    prov = layers.provinces
    if prov is not None and len(prov):
        prov = prov.copy()
        codes = gb_codes(plan["province_code"]) if "province_code" in plan else pd.Series(dtype=str)
        counts = codes.value_counts()
        pop = pd.to_numeric(prov["population"], errors="coerce").to_numpy(dtype=float)
        n = gb_codes(prov["code"]).map(counts).fillna(0).to_numpy(dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            prov["stores_per_million"] = np.where(pop > 0, n / pop * 1e6, np.nan)
        prov = prov.set_geometry(prov.geometry.simplify(0.02, preserve_topology=True))
        prov.plot(
            ax=ax, column="stores_per_million", cmap="YlGnBu", edgecolor="#6b7280", linewidth=0.4,
            legend=True, legend_kwds={"label": "own stores per million people", "shrink": 0.6},
            missing_kwds={"color": "#e5e7eb"},
        )
    status = plan["status"].astype(str) if "status" in plan else pd.Series([], dtype=str)
    ex = plan[status == "existing"]
    new = plan[status == "new"]
    handles = []
    if len(new):
        q = new["quarter"].astype(str).str.strip() if "quarter" in new else pd.Series([""] * len(new))
        quarters = sorted({x for x in q if x and x.lower() != "nan"})
        if quarters:
            order = q.map({x: i for i, x in enumerate(quarters)}).fillna(len(quarters)).to_numpy()
            cmap = matplotlib.colormaps[NEW_CMAP]
            colours = cmap(0.05 + 0.8 * order / max(len(quarters) - 1, 1))
            ax.scatter(new["lon"], new["lat"], s=9, c=colours, linewidths=0.2, edgecolors="white", zorder=3)
            handles.append(Line2D([], [], marker="o", ls="", color=cmap(0.05), label=f"new, {quarters[0]}"))
            handles.append(Line2D([], [], marker="o", ls="", color=cmap(0.85), label=f"new, {quarters[-1]}"))
        else:
            ax.scatter(new["lon"], new["lat"], s=9, c="#f59e0b", linewidths=0.2, edgecolors="white", zorder=3)
            handles.append(Line2D([], [], marker="o", ls="", color="#f59e0b", label="new"))
    if len(ex):
        ax.scatter(ex["lon"], ex["lat"], s=12, c=EXISTING_COLOUR, marker="s", linewidths=0.3,
                   edgecolors="white", zorder=4)
        handles.insert(0, Line2D([], [], marker="s", ls="", color=EXISTING_COLOUR,
                                 label=f"existing ({len(ex):,})"))
    if handles:
        ax.legend(handles=handles, loc="lower left", fontsize=8, title=f"own stores ({len(plan):,})",
                  title_fontsize=8, framealpha=0.9)
    ax.set_title(_title(kpis), fontsize=10)
    ax.set_xlabel("longitude (°E, WGS-84)", fontsize=8)
    ax.set_ylabel("latitude (°N)", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.set_aspect(1.25)
    if kpis.get("illustrative_networks"):
        fig.text(
            0.5, 0.01,
            "Illustrative networks: existing own stores and competitors are generated from a seed, "
            "not real store locations.",
            ha="center", fontsize=8, color="#92400e",
            bbox={"facecolor": "#fef3c7", "edgecolor": "#d97706", "boxstyle": "round,pad=0.3"},
        )
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    fig.savefig(path, dpi=dpi)
    log.info("figures: wrote %s", path)
    return path


def write_rollout_png(path: str | Path, *, rollout: pd.DataFrame, kpis: Mapping[str, Any], dpi: int = 150) -> Path:
    """Chart of the rollout per quarter: stores open, openings, ready managers and own market share.

    Parameters
    ----------
    path : str or Path
        Where to write the PNG.
    rollout : pandas.DataFrame
        ``rollout.csv`` (quarter, opened, open_total, managers_ready, trainees, ..., market_share).
    kpis : mapping
        ``kpis.json`` (for the title).
    dpi : int
        Resolution.

    Returns
    -------
    Path
    """
    path = Path(path)
    q = rollout["quarter"].astype(str).tolist()
    x = np.arange(len(q))
    fig = agg_figure(figsize=(10, 7))
    ax1, ax2 = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 2]})
    ax1.bar(x, rollout["opened"], color="#6a3d9a", alpha=0.8, label="stores opened in the quarter")
    ax1.plot(x, rollout["open_total"], color="#1f2937", marker="o", label="stores open (end of quarter)")
    ax1.plot(x, rollout["managers_ready"], color="#e08214", marker="s", linestyle="--", label="store managers ready")
    ax1.plot(x, rollout["trainees"], color="#b2abd2", marker=".", linestyle=":", label="trainees (young cadres)")
    ax1.set_ylabel("stores / people")
    ax1.legend(loc="upper left", fontsize=8)
    ax1.grid(alpha=0.3)
    share = pd.to_numeric(rollout["market_share"], errors="coerce") * 100
    ax2.plot(x, share, color="#b2182b", marker="o", label="own market share (modelled demand, %)")
    covered = pd.to_numeric(rollout["covered_population"], errors="coerce")
    total = float(kpis.get("population") or 0) or float(covered.max() or 1)
    ax2.plot(x, 100 * covered / total, color="#2166ac", marker="s", label="population covered (%)")
    ax2.set_ylabel("%")
    ax2.set_xticks(x, q, rotation=45)
    ax2.legend(loc="upper left", fontsize=8)
    ax2.grid(alpha=0.3)
    gap = (kpis.get("rollout") or {}).get("gap")
    gap_txt = "" if gap is None else f" · rollout gap {100 * gap:.2f} %"
    fig.suptitle(f"{kpis.get('scenario', '')}: rollout over {len(q)} quarters{gap_txt}")
    if kpis.get("illustrative_networks"):
        fig.text(0.5, 0.005, "Illustrative networks: existing and competitor stores are generated, not real.",
                 ha="center", fontsize=8, color="#8a5a00")
    fig.tight_layout(rect=(0, 0.02, 1, 0.97))
    fig.savefig(path, dpi=dpi)
    return path


# ------------------------------------------------------------------ report charts (PNG bytes)
def figure_png(fig: Any) -> bytes:
    """PNG bytes of a matplotlib ``Figure`` (drawn without pyplot, so no GUI backend is needed)."""
    buf = io.BytesIO()
    with warnings.catch_warnings():
        # a label in a script the installed fonts lack is drawn as boxes; not worth a warning each
        warnings.filterwarnings("ignore", message="Glyph .* missing from font")
        fig.savefig(buf, format="png", dpi=100)
    return buf.getvalue()


_CJK_FONTS = ("Noto Sans CJK", "Noto Sans SC", "Source Han Sans", "WenQuanYi", "SimHei", "PingFang", "Microsoft YaHei")


@functools.cache
def _cjk_font() -> str | None:
    """An installed font that can draw Chinese, if any (matplotlib ships none)."""
    from matplotlib import font_manager

    for f in font_manager.fontManager.ttflist:
        if any(s in f.name for s in _CJK_FONTS):
            return str(f.name)
    return None


@functools.cache
def _english_province_names() -> dict[str, str]:
    """GB code → short English province name (from :func:`planner.geodata.province_names_en`)."""
    from planner.geodata import province_names_en

    try:
        return province_names_en()
    except (OSError, KeyError, ValueError):
        return {}


def chart_name(name: Any, code: Any) -> str:
    """A province label a chart can draw: the Chinese name with a CJK font, else English, else the code."""
    if _cjk_font() or str(name).isascii():
        return str(name)
    return _english_province_names().get(str(code), str(code) if code == code else str(name))



def kpi_chart_png(runs: Sequence[RunFolder]) -> bytes:
    """Six bar panels (stores, coverage, own share, capex, opex, mean distance), one bar per run."""
    from matplotlib.figure import Figure

    panels = [
        ("stores", "stores", 1.0, ""), ("covered_share", "covered share", 100.0, "%"),
        ("market_share.own", "own market share", 100.0, "%"), ("capex_cny", "capex", 1e-6, "M CNY"),
        ("opex_cny_per_year", "opex / year", 1e-6, "M CNY"), ("mean_distance_km", "mean distance", 1.0, "km"),
    ]
    labels = [r.label for r in runs]
    fig = Figure(figsize=(12, 6.2))
    axes = fig.subplots(2, 3)
    colours = [f"C{i % 10}" for i in range(len(runs))]
    for ax, (key, title, scale, unit) in zip(axes.flat, panels, strict=True):
        vals = [(as_number(kpi_at(r.kpis, key)) or 0.0) * scale for r in runs]
        bars = ax.bar(range(len(runs)), vals, color=colours)
        ax.bar_label(bars, labels=[f"{v:,.1f}" if abs(v) < 1000 else f"{v:,.0f}" for v in vals], fontsize=8)
        ax.set_title(f"{title}" + (f" ({unit})" if unit else ""), fontsize=10)
        ax.set_xticks(range(len(runs)), [lb if len(lb) <= 18 else lb[:17] + "…" for lb in labels], rotation=20, ha="right", fontsize=8)
        ax.margins(y=0.15)
    fig.tight_layout()
    return figure_png(fig)


def share_chart_png(runs: Sequence[RunFolder], brands: Sequence[str]) -> bytes:
    """Huff market share of the own brand and each competitor, grouped bars per run."""
    from matplotlib.figure import Figure

    keys = ["own", *brands]
    fig = Figure(figsize=(8, 3.6))
    ax = fig.subplots()
    width = 0.8 / max(len(runs), 1)
    for i, r in enumerate(runs):
        vals = [100 * (as_number((r.kpis.get("market_share") or {}).get(b)) or 0.0) for b in keys]
        ax.bar([k + (i - (len(runs) - 1) / 2) * width for k in range(len(keys))], vals, width, label=r.label, color=f"C{i % 10}")
    ax.set_xticks(range(len(keys)), keys)
    ax.set_ylabel("share of modelled demand (%)")
    ax.set_title("Market share (Huff) by brand", fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return figure_png(fig)


def province_chart_png(prov: pd.DataFrame, runs: Sequence[RunFolder], *, top: int = 25) -> bytes | None:
    """Δ stores and Δ covered share of the ``top`` most changed provinces (None when nothing changed)."""
    from matplotlib.figure import Figure

    if len(runs) < 2:
        return None
    changed = prov[prov["changed"]]
    if changed.empty:
        return None
    others = runs[1:]
    score = sum(changed[f"Δ stores | {r.label}"].abs() for r in others)
    sub = changed.assign(_s=score).sort_values("_s", ascending=False).head(top).iloc[::-1]
    fig = Figure(figsize=(12, max(2.4, 0.9 + 0.3 * len(sub))))
    ax1, ax2 = fig.subplots(1, 2, sharey=True)
    height = 0.8 / len(others)
    y = range(len(sub))
    for i, r in enumerate(others):
        off = [k + (i - (len(others) - 1) / 2) * height for k in y]
        ax1.barh(off, sub[f"Δ stores | {r.label}"], height, label=r.label, color=f"C{(i + 1) % 10}")
        ax2.barh(off, 100 * sub[f"Δ covered_share | {r.label}"].fillna(0), height, label=r.label, color=f"C{(i + 1) % 10}")
    ax1.set_yticks(list(y), [chart_name(p, c) for p, c in zip(sub["province"], sub["province_code"], strict=True)], fontsize=8)
    for ax in (ax1, ax2):
        ax.axvline(0, color="#444", lw=0.8)
    ax1.set_title(f"Δ stores vs {runs[0].label}", fontsize=10)
    ax2.set_title(f"Δ covered share vs {runs[0].label} (pp)", fontsize=10)
    ax1.legend(fontsize=8)
    fig.tight_layout()
    return figure_png(fig)


def pareto_chart_png(table: pd.DataFrame, grid_keys: Sequence[str], short: Mapping[str, str]) -> bytes:
    """A sweep's runs (stores vs own share, stores vs coverage) with their Pareto fronts.

    ``table`` is the sweep summary (``status``, ``stores``, ``market_share_own``,
    ``covered_share``, ``pareto_share``, ``pareto_covered`` and the grid columns);
    ``short`` names each grid key in the legend.
    """
    from matplotlib.figure import Figure

    ok = table[table["status"] == "ok"].copy()
    n_failed = int((table["status"] != "ok").sum())
    fig = Figure(figsize=(12, 4.6))
    axes = fig.subplots(1, 2)
    series_keys = [k for k in grid_keys if k.split(".")[-1] != "total_stores"]
    if series_keys:
        ok["_series"] = ok[series_keys].astype(str).agg(lambda r: ", ".join(
            f"{short[k]}={v}" for k, v in zip(series_keys, r, strict=True)), axis=1)
    else:
        ok["_series"] = "runs"
    panels = [("market_share_own", "own market share (%)", "pareto_share"),
              ("covered_share", "population covered (%)", "pareto_covered")]
    for ax, (col, ylabel, front_col) in zip(axes, panels, strict=True):
        if ok.empty or col not in ok:
            ax.text(0.5, 0.5, "no finished runs", ha="center", va="center", transform=ax.transAxes)
            ax.set_axis_off()
            continue
        for i, (series, sub) in enumerate(ok.groupby("_series", sort=False)):
            if i < 10:
                ax.scatter(sub["stores"], 100 * sub[col].astype(float), s=45, color=f"C{i}", label=str(series), zorder=3)
            else:  # more series than colours: grey, no legend entry
                ax.scatter(sub["stores"], 100 * sub[col].astype(float), s=30, color="#999", zorder=2)
        front = ok[ok[front_col]].sort_values("stores")
        if len(front):
            ax.step(front["stores"], 100 * front[col].astype(float), where="post", color="#333", lw=1.2,
                    ls="--", label="Pareto front", zorder=2)
            ax.scatter(front["stores"], 100 * front[col].astype(float), s=110, facecolors="none",
                       edgecolors="#111", lw=1.2, zorder=4)
        ax.set_xlabel("stores (existing + new)")
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="lower right")
    title = f"Sweep: {len(ok)} of {len(table)} combinations solved"
    if n_failed:
        title += f", {n_failed} failed (see summary.csv)"
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return figure_png(fig)
