"""Static figures of a plan (PNG) for reports and slides.

:func:`write_overview_png` draws the provinces shaded by stores per million people,
the existing stores and the new ones (by opening quarter), with a title naming the
scenario, objective and gap, and a visible note when the store networks are
illustrative. Like the HTML map it reads results and never solves; it uses the
non-interactive Agg backend, so it runs on servers and in CI.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from planner.geodata.layers import Layers
from planner.report.maps import gb_codes

__all__ = ["write_overview_png"]

log = logging.getLogger(__name__)

EXISTING_COLOUR = "#1f2937"
NEW_CMAP = "plasma"


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

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    path = Path(path)
    fig, ax = plt.subplots(figsize=size_in, dpi=dpi)
    try:
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
    finally:
        plt.close(fig)
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
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    q = rollout["quarter"].astype(str).tolist()
    x = np.arange(len(q))
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(10, 7), sharex=True, gridspec_kw={"height_ratios": [3, 2]})
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
    plt.close(fig)
    return path
