"""Compare finished runs side by side: one self-contained HTML report plus a CSV.

:func:`compare_runs` reads run folders written by :func:`planner.pipeline.run`
(``kpis.json``, ``plan.csv``, ``config.resolved.yaml``, ``run.json``,
``overview.png``, ``map.html``) and writes ``compare.html`` (KPI table side by
side with differences against the first run, what changed in the scenarios,
per-province and per-city differences highlighted, the overview maps side by side with
relative links to each interactive map, and bar charts), ``compare.csv`` (the
KPI table, raw numbers), ``provinces.csv`` and ``cities.csv``. The page
needs no network: CSS is inline and images are base64 PNGs drawn with
matplotlib. Like every report it reads results and never solves. ``latest``
links are resolved, so a report keeps pointing at the runs it compared even
after newer runs move the link. :func:`sweep_summary_html` is the page of a
sweep (:mod:`planner.sweep`): its runs in one table beside their Pareto chart.
"""

from __future__ import annotations

import html
import json
import logging
import math
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from planner.atomic import unique_folder, write_text_atomic
from planner.errors import DataError, OutputError
from planner.report.figures import kpi_chart_png, province_chart_png, share_chart_png
from planner.report.html import embed_png, html_page, html_table
from planner.report.runs import RunFolder, as_number, expand_sweep, kpi_at, load_run
from planner.report.share import rank_changes

__all__ = [
    "KPI_ROWS", "compare_runs", "kpi_table", "province_table", "city_table", "config_differences",
    "sweep_summary_html",
]

log = logging.getLogger(__name__)


def _unique_labels(runs: Sequence[RunFolder]) -> None:
    """Make labels distinct (two runs of one scenario get their run id's suffix appended)."""
    counts: dict[str, int] = {}
    for r in runs:
        counts[r.label] = counts.get(r.label, 0) + 1
    seen: dict[str, int] = {}
    for r in runs:
        if counts[r.label] > 1:
            # run ids end in a random hex suffix (…T134541Z-fbaf23): short and unique enough for a column
            m = re.search(r"-([0-9a-f]{6})$", r.path.name)
            base = f"{r.label} [{m.group(1) if m else r.path.name}]"
            seen[base] = seen.get(base, 0) + 1
            r.label = base if seen[base] == 1 else f"{base} #{seen[base]}"


# ------------------------------------------------------------------- KPI table
def _get(path: str) -> Callable[[dict[str, Any]], Any]:
    return lambda kpis: kpi_at(kpis, path)


@dataclass(frozen=True)
class _Row:
    key: str
    label: str
    unit: str
    get: Callable[[dict[str, Any]], Any]
    fmt: str = "int"  # int | float | pct | pp | mcny | text
    better: int = 0  # +1 higher is better, -1 lower is better, 0 neutral (for colouring)


def _kpi_rows(competitors: Sequence[str]) -> list[_Row]:
    rows = [
        _Row("objective_kind", "objective", "", _get("objective_kind"), "text"),
        _Row("stores", "stores", "stores", _get("stores")),
        _Row("existing_stores", "existing stores", "stores", _get("existing_stores")),
        _Row("new_stores", "new stores", "stores", _get("new_stores")),
        _Row("objective", "objective value", "", _get("objective"), "float"),
        _Row("bound", "proven bound", "", _get("bound"), "float"),
        _Row("gap", "optimality gap", "%", _get("gap"), "pct", -1),
        _Row("objectives.coverage", "coverage objective", "demand", _get("objectives.coverage"), "float", +1),
        _Row("objectives.market_share", "market-share objective", "demand", _get("objectives.market_share"), "float", +1),
        _Row("objectives.distance", "distance objective", "demand·km", _get("objectives.distance"), "float", -1),
        _Row("covered_population", "covered population", "people", _get("covered_population"), "int", +1),
        _Row("covered_share", "covered share", "%", _get("covered_share"), "pct", +1),
        _Row("market_share.own", "own market share", "%", _get("market_share.own"), "pct", +1),
    ]
    for brand in competitors:
        rows.append(_Row(f"market_share.{brand}", f"{brand} market share", "%", _get(f"market_share.{brand}"), "pct", -1))
    for brand in competitors:
        def vs(k: dict[str, Any], b: str = brand) -> Any:
            own, other = _get("market_share.own")(k), _get(f"market_share.{b}")(k)
            return None if own is None or other is None else own - other

        rows.append(_Row(f"own_minus_{brand}", f"own − {brand} share", "pp", vs, "pp", +1))
    rows += [
        _Row("leads.nation_rank", "national rank (1 = first)", "rank", _get("leads.nation_rank"), "int", -1),
        _Row("leads.provinces", "provinces where first", "provinces", _get("leads.provinces"), "int", +1),
        _Row("leads.cities", "cities where first", "cities", _get("leads.cities"), "int", +1),
        _Row("share_after_response.nation.after", "own share after the rivals' response", "%",
             _get("share_after_response.nation.after"), "pct", +1),
    ]
    rows += [
        _Row("capex_cny", "capex", "M CNY", _get("capex_cny"), "mcny", -1),
        _Row("opex_cny_per_year", "opex", "M CNY / year", _get("opex_cny_per_year"), "mcny", -1),
        # the P&L (kpis.json pnl): mature yearly sales and EBITDA of the final network, capex, rollout NPV
        _Row("pnl.sales_cny_per_year", "sales (mature network)", "M CNY / year", _get("pnl.sales_cny_per_year"),
             "mcny", +1),
        _Row("pnl.ebitda_cny_per_year", "EBITDA (mature network)", "M CNY / year", _get("pnl.ebitda_cny_per_year"),
             "mcny", +1),
        _Row("pnl.capex_cny", "capex of the P&L", "M CNY", _get("pnl.capex_cny"), "mcny", -1),
        _Row("pnl.npv_cny", "NPV over the rollout", "M CNY", _get("pnl.npv_cny"), "mcny", +1),
        _Row("pnl.loss_making_stores", "loss-making stores", "stores", _get("pnl.loss_making_stores"), "int", -1),
        _Row("mean_distance_km", "mean distance to a store", "km", _get("mean_distance_km"), "float", -1),
        _Row("p_center_km", "farthest person (p-center)", "km", _get("p_center_km"), "float", -1),
        _Row("status", "solver status", "", _get("status"), "text"),
        _Row("solve_seconds", "solve time", "s", _get("solve_seconds"), "float"),
    ]
    return rows


KPI_ROWS: list[str] = [r.key for r in _kpi_rows(["huawei", "oppo", "vivo"])]
"""Keys of the KPI table rows for the default competitors (``compare.csv`` column ``kpi``)."""


def _competitors(runs: Sequence[RunFolder]) -> list[str]:
    brands: list[str] = []
    for r in runs:
        for b in (r.kpis.get("market_share") or {}):
            if b != "own" and b not in brands:
                brands.append(b)
    return brands


def _fmt(x: Any, fmt: str) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    if fmt == "text" or as_number(x) is None:
        return str(x)
    v = float(x)
    if fmt == "int":
        return f"{v:,.0f}"
    if fmt == "pct":
        return f"{100 * v:.2f}"
    if fmt == "pp":
        return f"{100 * v:+.2f}"
    if fmt == "mcny":
        return f"{v / 1e6:,.1f}"
    return f"{v:,.3f}" if abs(v) < 100 else f"{v:,.1f}"


def _fmt_delta(d: float, fmt: str) -> str:
    if fmt in ("pct", "pp"):
        return f"{100 * d:+.2f} pp"
    if fmt == "mcny":
        return f"{d / 1e6:+,.1f}"
    if fmt == "int":
        return f"{d:+,.0f}"
    return f"{d:+,.3f}" if abs(d) < 100 else f"{d:+,.1f}"


def kpi_table(runs: Sequence[RunFolder]) -> pd.DataFrame:
    """KPI rows × runs, raw values (shares as fractions, money in CNY).

    Columns: ``kpi``, ``label``, ``unit``, then one column per run label, then
    ``Δ <label>`` (difference against the first run) for every other run when the
    KPI is numeric.
    """
    rows = _kpi_rows(_competitors(runs))
    records = []
    for row in rows:
        rec: dict[str, Any] = {"kpi": row.key, "label": row.label, "unit": "M CNY" if row.fmt == "mcny" else row.unit}
        values = [row.get(r.kpis) for r in runs]
        for r, v in zip(runs, values, strict=True):
            rec[r.label] = v
        base = as_number(values[0])
        for r, v in zip(runs[1:], values[1:], strict=True):
            nv = as_number(v)
            rec[f"Δ {r.label}"] = None if base is None or nv is None else nv - base
        records.append(rec)
    df = pd.DataFrame.from_records(records)
    return df


# -------------------------------------------------------------- province table
def _provinces(run: RunFolder) -> pd.DataFrame:
    """Stores, new stores and covered share per province (from kpis.json, else plan.csv)."""
    per = run.kpis.get("per_province")
    if per:
        df = pd.DataFrame.from_records(per)
        if "province" not in df:
            df["province"] = df.get("province_code", "")
        for col in ("stores", "new_stores", "covered_share", "market_share"):
            if col not in df:
                df[col] = float("nan")
        if "province_code" not in df:
            df["province_code"] = ""
        return df[["province", "province_code", "stores", "new_stores", "covered_share", "market_share"]]
    if run.plan is not None and "province" in run.plan:
        g = run.plan.groupby("province")
        df = pd.DataFrame({
            "stores": g.size(),
            "new_stores": g["status"].apply(lambda s: int((s == "new").sum())) if "status" in run.plan else float("nan"),
        }).reset_index()
        df["covered_share"] = float("nan")
        df["market_share"] = float("nan")
        codes = run.plan.groupby("province")["province_code"].first() if "province_code" in run.plan else None
        df["province_code"] = df["province"].map(codes).astype(str) if codes is not None else ""
        return df
    return pd.DataFrame(columns=["province", "province_code", "stores", "new_stores", "covered_share", "market_share"])


def province_table(runs: Sequence[RunFolder]) -> pd.DataFrame:
    """One row per province: stores and covered share in every run, and the change against the first.

    Columns: ``province``; for each run ``stores | <label>``, ``covered_share | <label>``;
    for every run after the first ``Δ stores | <label>`` and ``Δ covered_share | <label>``;
    and ``changed`` (any store count or covered share differs). Provinces that
    appear in only some runs (e.g. a one-province scenario against a national one)
    count as 0 stores where absent.
    """
    merged: pd.DataFrame | None = None
    codes: dict[str, str] = {}
    for r in runs:
        p = _provinces(r)
        codes.update({str(n): str(c) for n, c in zip(p["province"], p["province_code"], strict=True)
                      if isinstance(c, str) and c and c != "nan"})
        p = p.drop(columns="province_code").rename(columns={
            "stores": f"stores | {r.label}", "new_stores": f"new_stores | {r.label}",
            "covered_share": f"covered_share | {r.label}", "market_share": f"market_share | {r.label}",
        })
        merged = p if merged is None else merged.merge(p, on="province", how="outer")
    assert merged is not None
    merged.insert(1, "province_code", [codes.get(str(n), "") for n in merged["province"]])
    first = runs[0].label
    changed = pd.Series(False, index=merged.index)
    for r in runs:
        merged[f"stores | {r.label}"] = merged[f"stores | {r.label}"].fillna(0).astype(int)
    for r in runs[1:]:
        ds = merged[f"stores | {r.label}"] - merged[f"stores | {first}"]
        dc = merged[f"covered_share | {r.label}"] - merged[f"covered_share | {first}"]
        merged[f"Δ stores | {r.label}"] = ds
        merged[f"Δ covered_share | {r.label}"] = dc
        changed |= (ds != 0) | (dc.abs() > 1e-9)
    merged["changed"] = changed
    store_cols = [f"stores | {r.label}" for r in runs]
    merged = merged.assign(_total=merged[store_cols].sum(axis=1))
    merged = merged.sort_values(["changed", "_total", "province"], ascending=[False, False, True])
    return merged.drop(columns="_total").reset_index(drop=True)


def city_table(runs: Sequence[RunFolder]) -> pd.DataFrame:
    """Stores per city (prefecture) in every run, from ``plan.csv``, with the change against the first.

    Columns: ``province``, ``city``, ``stores | <label>`` per run, ``Δ stores | <label>``
    for every run after the first, and ``changed``; changed cities first, the largest
    change on top. Empty when no run has a ``plan.csv``.
    """
    counts = []
    for r in runs:
        if r.plan is None or not {"province", "city"} <= set(r.plan.columns):
            continue
        c = r.plan.groupby(["province", "city"], dropna=False).size().rename(f"stores | {r.label}")
        counts.append(c)
    if not counts or len(counts) < len(runs):
        return pd.DataFrame(columns=["province", "city", "changed"])
    df = pd.concat(counts, axis=1).fillna(0).astype(int).reset_index()
    first = f"stores | {runs[0].label}"
    change = pd.Series(0, index=df.index)
    for r in runs[1:]:
        d = df[f"stores | {r.label}"] - df[first]
        df[f"Δ stores | {r.label}"] = d
        change = change.where(change.abs() >= d.abs(), d.abs())
    df["changed"] = change > 0
    df = df.assign(_c=change, _t=df[[f"stores | {r.label}" for r in runs]].sum(axis=1))
    df = df.sort_values(["_c", "_t", "city"], ascending=[False, False, True])
    return df.drop(columns=["_c", "_t"]).reset_index(drop=True)


# ---------------------------------------------------------- scenario differences
def _flatten(d: Any, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    if isinstance(d, dict):
        for k, v in d.items():
            out.update(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
    else:
        out[prefix] = d
    return out


_ABSENT = "(absent)"


def config_differences(runs: Sequence[RunFolder]) -> pd.DataFrame:
    """Scenario keys whose resolved value differs between runs (``name``/``description`` excluded)."""
    flats = [_flatten(r.config) for r in runs]
    keys = sorted(set().union(*flats)) if flats else []
    rows = []
    for key in keys:
        if key in ("name", "description", "extends"):
            continue
        values = [f.get(key, _ABSENT) for f in flats]
        if any(json.dumps(v, sort_keys=True, default=str) != json.dumps(values[0], sort_keys=True, default=str) for v in values[1:]):
            rows.append({"key": key, **{r.label: v for r, v in zip(runs, values, strict=True)}})
    return pd.DataFrame.from_records(rows, columns=["key", *[r.label for r in runs]])



def _delta_class(d: float | None, better: int) -> str:
    if d is None or abs(d) < 1e-12:
        return "num same"
    if better == 0:
        return "num"
    return "num up" if (d > 0) == (better > 0) else "num down"



def _timestamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")


def _out_folder(out: str | os.PathLike[str] | None, runs: Sequence[RunFolder]) -> Path:
    if out is None:
        # results/<scenario>/<run_id> → results/compare/<timestamp>/
        return unique_folder(runs[0].path.parent.parent / "compare", _timestamp())
    folder = Path(out)
    if folder.suffix.lower() in (".html", ".htm"):
        raise OutputError(f"{out}: --out is a folder (compare.html and compare.csv are written inside it).")
    if (folder / "compare.html").exists():
        raise OutputError(
            f"{folder / 'compare.html'} already exists; reports are never overwritten. "
            "Choose another --out folder, or leave it out for a new timestamped one."
        )
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{folder}: cannot create the folder ({exc.strerror}). Choose a writable --out.") from None
    return folder




def _write_text(path: Path, text: str) -> None:
    try:
        write_text_atomic(path, text)
    except OSError as exc:
        raise OutputError(f"{path}: cannot write ({exc.strerror or exc}). Check disk space and permissions.") from None


def _relative_link(target: Path, folder: Path) -> str:
    try:
        return Path(os.path.relpath(target, folder)).as_posix()
    except ValueError:  # another drive on Windows
        return target.as_uri()


# ------------------------------------------------------------------ a sweep's page
def sweep_summary_html(
    table: pd.DataFrame, grid_keys: Sequence[str], short: Mapping[str, str], folder: Path, png: bytes, title: str
) -> str:
    """The sweep's ``summary.html``: the Pareto chart and one row per combination, linked to its map.

    ``table`` is the sweep summary (``summary.csv``); ``short`` names each grid key in
    the header; ``folder`` is where the page goes (map links are relative to it).
    """
    header = ["#", *[short[k] for k in grid_keys], "status", "stores", "new", "covered %", "own share %",
              "capex M CNY", "gap %", "wall s", "Pareto", "run", "error"]
    rows, classes, row_cls = [], [], []

    def num(x: Any, scale: float = 1.0, digits: int = 2) -> str:
        try:
            v = float(x)
        except (TypeError, ValueError):
            return "–"
        return "–" if math.isnan(v) else f"{v * scale:,.{digits}f}"

    links = []
    for rec in table.to_dict("records"):
        ok = rec["status"] == "ok"
        run = rec.get("run")
        rel = ""
        if ok and isinstance(run, str) and run:
            rel = Path(os.path.relpath(Path(run) / "map.html", folder)).as_posix()
        links.append(rel)
        rows.append([
            str(rec["combo"]), *[json.dumps(rec[k], ensure_ascii=False, default=str) if not isinstance(rec[k], str) else rec[k] for k in grid_keys],
            rec["status"], num(rec.get("stores"), digits=0), num(rec.get("new_stores"), digits=0),
            num(rec.get("covered_share"), 100), num(rec.get("market_share_own"), 100),
            num(rec.get("capex_cny"), 1e-6, 1), num(rec.get("gap"), 100), num(rec.get("wall_s"), digits=1),
            " ".join(m for m, col in (("share", "pareto_share"), ("covered", "pareto_covered")) if rec.get(col) is True),
            "map" if rel else "", str(rec.get("error") or ""),
        ])
        classes.append([""] * (1 + len(grid_keys)) + ["", *(["num"] * 7), "", "", ""])
        row_cls.append("" if ok else "failed")
    table_html = html_table(header, rows, classes=classes, row_classes=row_cls)
    # turn the "map" cells into relative links (html_table escapes text, so patch after)
    for rel in links:
        if rel:
            table_html = table_html.replace("<td>map</td>", f'<td><a href="{html.escape(rel)}">map</a></td>', 1)
    n_failed = int((table["status"] != "ok").sum())
    failed = (f'<p class="err">{n_failed} combination(s) failed; their errors are in the last column '
              "and in summary.csv.</p>") if n_failed else ""
    body = (f"<h1>{html.escape(title)}</h1>"
            f'<p class="small">Written {datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")} by planner sweep. '
            'Table as CSV: <a href="summary.csv">summary.csv</a>. Compare all finished runs with '
            f"<code>planner compare {html.escape(str(folder))}</code>, or any two with "
            "<code>planner compare RUN_A RUN_B</code>. Pareto: not beaten on own market share (share) or "
            "covered population (covered) by a run with no more stores.</p>" + failed
            + embed_png(png, "Pareto chart")
            + "<h2>Combinations</h2>" + table_html)
    return html_page(title, body)


# ----------------------------------------------------------------- the report
def _kpi_section(runs: Sequence[RunFolder], table: pd.DataFrame) -> str:
    rows_def = {r.key: r for r in _kpi_rows(_competitors(runs))}
    header = ["KPI", "unit", *[r.label for r in runs], *[f"Δ {r.label}" for r in runs[1:]]]
    body, classes = [], []
    for rec in table.to_dict("records"):
        rd = rows_def[rec["kpi"]]
        unit = {"pct": "%", "pp": "pp"}.get(rd.fmt, rec["unit"])
        cells = [rd.label, unit] + [_fmt(rec[r.label], rd.fmt) for r in runs]
        cls = ["", ""] + ["num" if rd.fmt != "text" else "" for _ in runs]
        for r in runs[1:]:
            d = rec[f"Δ {r.label}"]
            d = None if d is None or (isinstance(d, float) and math.isnan(d)) else float(d)
            cells.append("" if d is None else ("0" if abs(d) < 1e-12 else _fmt_delta(d, rd.fmt)))
            cls.append(_delta_class(d, rd.better) if d is not None else "")
        body.append(cells)
        classes.append(cls)
    note = ""
    kinds = {r.kpis.get("objective_kind") for r in runs}
    if len(kinds) > 1:
        note = ('<p class="note">The runs optimise different objectives, so their objective values and gaps '
                "are not comparable; compare the three objective rows below them, which every run reports.</p>")
    legend = ('<p class="small">Δ columns: difference against the first run. Green: better, red: worse '
              "(for KPIs with a direction).</p>")
    return "<h2>KPIs side by side</h2>" + note + html_table(header, body, classes=classes) + legend


def _province_section(runs: Sequence[RunFolder], prov: pd.DataFrame) -> str:
    if prov.empty:
        return "<h2>Differences per province</h2><p>No per-province figures in these runs.</p>"
    header = ["province"]
    for r in runs:
        header += [f"stores · {r.label}", f"covered % · {r.label}"]
    for r in runs[1:]:
        header += [f"Δ stores · {r.label}", f"Δ covered pp · {r.label}"]
    body, classes, row_cls = [], [], []
    for rec in prov.to_dict("records"):
        cells, cls = [str(rec["province"])], [""]
        for r in runs:
            cells += [_fmt(rec[f"stores | {r.label}"], "int"), _fmt(rec[f"covered_share | {r.label}"], "pct")]
            cls += ["num", "num"]
        for r in runs[1:]:
            ds, dc = rec[f"Δ stores | {r.label}"], rec[f"Δ covered_share | {r.label}"]
            dc = None if dc is None or (isinstance(dc, float) and math.isnan(dc)) else float(dc)
            cells += ["0" if ds == 0 else f"{ds:+d}", "" if dc is None else ("0" if abs(dc) < 1e-12 else f"{100 * dc:+.2f}")]
            cls += [_delta_class(float(ds), +1), _delta_class(dc, +1)]
        body.append(cells)
        classes.append(cls)
        row_cls.append("" if rec["changed"] or len(runs) == 1 else "unchanged")
    n_changed = int(prov["changed"].sum())
    summary = (f"<p>{n_changed} of {len(prov)} provinces differ from <b>{html.escape(runs[0].label)}</b> "
               "(listed first; unchanged ones greyed).</p>") if len(runs) > 1 else ""
    return "<h2>Differences per province</h2>" + summary + html_table(header, body, classes=classes, row_classes=row_cls)


def _city_section(runs: Sequence[RunFolder], cities: pd.DataFrame, *, top: int = 40) -> str:
    if len(runs) < 2 or cities.empty:
        return ""
    changed = cities[cities["changed"]]
    if changed.empty:
        return "<h2>Differences per city</h2><p>Every city has the same number of stores in all runs.</p>"
    shown = changed.head(top)
    header = ["province", "city", *[f"stores · {r.label}" for r in runs], *[f"Δ · {r.label}" for r in runs[1:]]]
    body, classes = [], []
    for rec in shown.to_dict("records"):
        cells = [str(rec["province"]), str(rec["city"]), *[str(rec[f"stores | {r.label}"]) for r in runs]]
        cls = ["", "", *(["num"] * len(runs))]
        for r in runs[1:]:
            d = int(rec[f"Δ stores | {r.label}"])
            cells.append("0" if d == 0 else f"{d:+d}")
            cls.append(_delta_class(float(d), +1) if d else "num same")
        body.append(cells)
        classes.append(cls)
    more = (f" The {len(changed) - top} further changed cities are in <a href=\"cities.csv\">cities.csv</a>."
            if len(changed) > top else "")
    intro = (f"<p>{len(changed)} of {len(cities)} cities gain or lose stores against "
             f"<b>{html.escape(runs[0].label)}</b>; the largest changes first.{more}</p>")
    return "<h2>Differences per city</h2>" + intro + html_table(header, body, classes=classes)


def _rank_section(runs: Sequence[RunFolder], *, top: int = 60) -> str:
    """Provinces and cities whose final rank against the rivals differs from the baseline's (share.csv)."""
    base = runs[0]
    if base.share is None or len(runs) < 2:
        return ""
    parts = ["<h2>Rank changes against the rivals</h2>"]
    for run in runs[1:]:
        if run.share is None:
            parts.append(f"<p>{html.escape(run.label)}: no share.csv.</p>")
            continue
        ch = rank_changes(base.share, run.share)
        ch = ch[ch["level"] != "nation"].sort_values(["level", "rank_other", "code"], ascending=[False, True, True])
        up = int((ch["rank_other"] < ch["rank_base"]).sum())
        down = int((ch["rank_other"] > ch["rank_base"]).sum())
        parts.append(f"<p><b>{html.escape(run.label)}</b> vs <b>{html.escape(base.label)}</b>: {up} unit(s) rank "
                     f"higher, {down} lower (rank 1 = first among own, Huawei, OPPO, vivo; final quarter).</p>")
        if len(ch):
            body = [
                [html.escape(str(r.level)), html.escape(str(r.name)), _fmt(r.rank_base, "int"),
                 _fmt(r.rank_other, "int"), _fmt(r.own_base, "pct"), _fmt(r.own_other, "pct")]
                for r in ch.head(top).itertuples(index=False)
            ]
            parts.append(html_table(["level", "unit", f"rank {base.label}", f"rank {run.label}",
                                     f"own share {base.label}", f"own share {run.label}"], body))
    return "".join(parts)


def _config_section(runs: Sequence[RunFolder], diff: pd.DataFrame) -> str:
    if len(runs) < 2:
        return ""
    if not any(r.config for r in runs):
        return "<h2>What differs in the scenarios</h2><p>No config.resolved.yaml in these runs.</p>"
    if diff.empty:
        return "<h2>What differs in the scenarios</h2><p>The resolved scenarios are identical (apart from the name).</p>"
    header = ["key", *[r.label for r in runs]]
    def shown(v: Any) -> str:
        return v if v == _ABSENT else json.dumps(v, ensure_ascii=False, default=str)

    body = [[str(rec["key"]), *[shown(rec[r.label]) for r in runs]] for rec in diff.to_dict("records")]
    return "<h2>What differs in the scenarios</h2>" + html_table(header, body)


def _maps_section(runs: Sequence[RunFolder], folder: Path) -> str:
    figs = []
    for r in runs:
        png = r.overview_png
        img = embed_png(png.read_bytes(), f"overview of {r.label}", css_class="map") if png else "<p>(no overview.png in this run)</p>"
        link = (f'<a href="{html.escape(_relative_link(r.map_html, folder))}">open the interactive map</a>'
                if r.map_html else "no map.html in this run")
        figs.append(f"<figure>{img}<figcaption><b>{html.escape(r.label)}</b> · {link} · "
                    f"<span class=\"small\">{html.escape(str(r.path))}</span></figcaption></figure>")
    return "<h2>Maps side by side</h2><div class=\"maps\">" + "".join(figs) + "</div>"


def compare_runs(
    folders: Sequence[str | os.PathLike[str]],
    *,
    out: str | os.PathLike[str] | None = None,
    labels: Sequence[str] | None = None,
) -> Path:
    """Compare run folders side by side in one self-contained HTML report.

    Parameters
    ----------
    folders
        Run folders written by ``planner run`` (``results/<scenario>/<run_id>``), their
        ``latest`` links, scenario folders (standing for their latest run) or sweep
        folders (standing for their finished runs). The first is the baseline every
        difference is measured against.
    out
        Folder for the report. Default: ``<results>/compare/<timestamp>/`` next to the
        first run's scenario folder (``results/compare/...`` for default runs), never an
        existing one. An explicit folder must not already hold a ``compare.html``.
    labels
        Column names for the runs (default: scenario names, with the run id added
        when one scenario appears twice).

    Returns
    -------
    Path
        The written ``compare.html``; ``compare.csv`` (KPI table, raw values: shares as
        fractions, money in CNY), ``provinces.csv`` and (when the runs have ``plan.csv``)
        ``cities.csv`` sit beside it.

    Raises
    ------
    DataError
        A folder is missing, is not a run folder, or its ``kpis.json`` is unreadable.
    OutputError
        The report cannot be written (or would overwrite an earlier one).
    """
    if isinstance(folders, str | os.PathLike):
        folders = [folders]
    folders = [run for f in folders for run in expand_sweep(f)]
    if not folders:
        raise DataError("compare: no run folders given. Pass one or more, e.g. results/a/latest results/b/latest.")
    if labels is not None and len(labels) != len(folders):
        raise DataError(f"compare: {len(labels)} labels for {len(folders)} run folders; give one label per folder.")
    runs = [load_run(f, labels[i] if labels else None) for i, f in enumerate(folders)]
    _unique_labels(runs)
    if len(runs) == 1:
        log.info("compare: a single run, the report shows it without differences")

    table = kpi_table(runs)
    prov = province_table(runs)
    diff = config_differences(runs)
    brands = _competitors(runs)

    folder = _out_folder(out, runs)
    title = "Scenario comparison: " + " vs ".join(r.label for r in runs)
    parts = [f"<h1>{html.escape(title)}</h1>"]
    parts.append(
        f'<p class="small">Written {datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")} by planner compare. '
        "Runs: " + "; ".join(f"<b>{html.escape(r.label)}</b> = <code>{html.escape(str(r.path))}</code>" for r in runs)
        + ". Files next to this page: <a href=\"compare.csv\">compare.csv</a>, <a href=\"provinces.csv\">provinces.csv</a>.</p>"
    )
    if any(r.kpis.get("illustrative_networks") for r in runs):
        parts.append('<p class="note"><b>Illustrative networks.</b> The own and competitor store networks in '
                     "at least one of these runs are generated from the scenario seed, shaped like the real "
                     "ones but not real store locations. Market shares are model outputs, not market data.</p>")
    parts.append(_kpi_section(runs, table))
    parts.append(_config_section(runs, diff))
    parts.append(_maps_section(runs, folder))
    parts.append("<h2>Charts</h2>")
    parts.append(embed_png(kpi_chart_png(runs), "KPI bar charts"))
    if brands or any("market_share" in r.kpis for r in runs):
        parts.append(embed_png(share_chart_png(runs, brands), "market share by brand"))
    pchart = province_chart_png(prov, runs)
    if pchart is not None:
        parts.append(embed_png(pchart, "per-province differences"))
    parts.append(_province_section(runs, prov))
    parts.append(_rank_section(runs))
    cities = city_table(runs)
    parts.append(_city_section(runs, cities))

    csv = table.copy()
    _write_text(folder / "compare.csv", csv.to_csv(index=False))
    _write_text(folder / "provinces.csv", prov.to_csv(index=False))
    if not cities.empty:
        _write_text(folder / "cities.csv", cities.to_csv(index=False))
    path = folder / "compare.html"
    _write_text(path, html_page(title, "\n".join(parts)))
    log.info("compare: wrote %s", path)
    return path
