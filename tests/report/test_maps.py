"""Unit tests of the HTML map: content, counts, escaping, GCJ-02, offline assets.

They read the written page as text and decode the JSON blobs the layers carry, so
no browser is needed (see ``test_browser_map.py`` for what a browser sees).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from conftest import XSS_IMG, XSS_NAME

from planner.config.models import MapConfig, Scenario
from planner.report.kpis import KPI_LABELS
from planner.report.leaflet import decode_ring, encode_rings, render_map
from planner.report.maps import build_map, write_map
from planner.spatial import wgs84_to_gcj02


def _blobs(page: str, prefix: str) -> list[Any]:
    """Every JSON value in the page's scripts that starts with ``prefix``."""
    dec = json.JSONDecoder()
    out = []
    for mt in re.finditer(re.escape(prefix), page):
        value, _ = dec.raw_decode(page, mt.start())
        out.append(value)
    return out


def _data(page: str) -> list[Any]:
    """The layers' JSON data blocks, in page order."""
    blocks = re.findall(r'<script type="application/json" id="[^"]+">(.*?)</script>', page, re.S)
    return [json.loads(b) for b in blocks]


def _stores(page: str) -> dict[str, Any]:
    (blob,) = [d for d in _data(page) if isinstance(d, dict) and "groups" in d]
    return blob


def _polygons(page: str) -> list[dict[str, Any]]:
    return [d for d in _data(page) if isinstance(d, dict) and "f" in d]


def _competitor_rows(page: str) -> list[list[Any]]:
    return [d["rows"] for d in _data(page) if isinstance(d, dict) and "brand" in d]


def _ring(poly_layer: dict[str, Any], feature: int = 0) -> np.ndarray:
    """First ring of a feature as (lat, lon) degrees."""
    return np.array(decode_ring(poly_layer["f"][feature][2][0][0]))


@pytest.fixture(scope="module")
def page(write_micro_map: Any) -> str:
    return Path(write_micro_map()).read_text(encoding="utf-8")


def test_write_map_returns_the_file_with_title(page: str, write_micro_map: Any) -> None:
    path = write_micro_map()
    assert path.name == "map.html" and path.stat().st_size > 0
    title = re.search(r"<div id='planner-title'.*?</div>", page, re.S)
    assert title is not None
    text = title.group(0)
    for needle in ("micro-test", "coverage", "1,234,567", "gap 5.12 %", "2026-11-25", "12 stores"):
        assert needle in text
    # The scenario description is user text: escaped.
    assert "&lt;b&gt;test&lt;/b&gt;" in page and "<b>test</b>" not in page


def test_illustrative_note_shown_only_when_networks_are_illustrative(micro_inputs: dict[str, Any]) -> None:
    sc = Scenario(name="x", map=MapConfig(offline=False))
    shown = render_map(build_map(scenario=sc, **micro_inputs), offline=False)
    assert "planner-illustrative" in shown and "Illustrative networks" in shown
    kpis = dict(micro_inputs["kpis"], illustrative_networks=False)
    hidden = render_map(build_map(scenario=sc, **{**micro_inputs, "kpis": kpis}), offline=False)
    assert "Illustrative networks" not in hidden


def test_store_marker_counts_by_status_and_quarter(page: str, micro_inputs: dict[str, Any]) -> None:
    plan = micro_inputs["plan"]
    data = _stores(page)
    assert len(data["rows"]) == len(plan) == 12
    groups = np.bincount([r[2] for r in data["rows"]], minlength=len(data["groups"]))
    # existing, 2027Q1, 2027Q2, 2027Q3
    assert groups.tolist() == [4, 2, 3, 3]
    assert len(set(data["colours"])) == len(data["colours"])  # one colour per group
    assert data["formats"][:3] == ["flagship", "standard", "small"]
    fmt_of = [data["formats"][r[3]] for r in data["rows"]]
    assert fmt_of == plan["format"].tolist()
    for r, rec in zip(data["rows"], plan.to_dict("records"), strict=True):
        assert rec["store_id"] in r[4] and "Catchment population" in r[4]
        assert f"{rec['catchment_population']:,.0f}" in r[4]
        if rec["status"] == "new":
            assert f"opens {rec['quarter']}" in r[4]
    # Catchment radius: tier radius (km) x reach factor of the format, in metres.
    sc = Scenario()
    first = plan.iloc[0]
    expected = sc.objective.catchment_km[first["tier"]] * sc.formats.catalogue[first["format"]].reach_factor
    assert data["rows"][0][5] == round(expected * 1000)


def test_layer_counts_and_default_visibility(page: str, micro_layers: Any) -> None:
    polys = _polygons(page)
    counts = [len(p["f"]) for p in polys]
    assert counts[:3] == [2, 4, 8]  # provinces, cities, counties
    assert counts[3] == len(micro_layers.cells)  # grid at native resolution (under the cap)
    comps = _competitor_rows(page)
    assert [len(c) for c in comps] == [10, 10, 10]
    hook = re.search(r"window\.plannerMap = \{map: \w+, layers: \{\}, meta: (\{.*?\})\};", page)
    assert hook is not None
    meta = json.loads(hook.group(1))
    assert meta["stores"] == 12 and meta["existing"] == 4 and meta["quarters"] == ["2027Q1", "2027Q2", "2027Q3"]
    (hidden,) = _blobs(page, '["city","county"')
    assert set(hidden) >= {"city", "county", "catchments", "city_points", "competitor:huawei", "competitor:oppo",
                           "competitor:vivo"}
    assert "province" not in hidden and "existing" not in hidden
    for needle in ("L.control.layers", "L.Control.Search", "L.control.scale", "planner-quarter"):
        assert needle in page


def test_user_strings_are_escaped(page: str) -> None:
    assert XSS_NAME not in page
    assert "<script>alert(1)" not in page
    assert XSS_IMG not in page and "<img src=x" not in page
    rows = _stores(page)["rows"]
    popups = " ".join(r[4] for r in rows)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in popups
    assert "&lt;img src=x onerror=&quot;window.__xss=1&quot;&gt;" in popups
    comp_names = [row[2] for rows in _competitor_rows(page) for row in rows]
    assert "&lt;img src=x onerror=&quot;window.__xss=1&quot;&gt;" in comp_names


def test_hostile_strings_cannot_break_out_of_the_script_block(micro_inputs: dict[str, Any]) -> None:
    plan = micro_inputs["plan"].copy()
    plan.loc[0, "name"] = "</script><script>window.__xss=2</script>`${x}`'\"\u2028"
    plan.loc[4, "quarter"] = plan.loc[5, "quarter"] = "<b>Q</b>"
    sc = Scenario(name="x", map=MapConfig(offline=False))
    html_page = render_map(build_map(scenario=sc, **{**micro_inputs, "plan": plan}), offline=False)
    assert "</script><script>window.__xss=2" not in html_page
    assert "<b>Q</b>" not in html_page
    assert html_page.count("<script") == html_page.count("</script>")


def test_template_syntax_in_names_is_not_evaluated(micro_inputs: dict[str, Any]) -> None:
    # Folium renders each element's output through Jinja again: user text must not be a template.
    plan = micro_inputs["plan"].copy()
    plan.loc[0, "name"] = "{{ 7*7 }}{% for x in 'ab' %}[{{ x }}]{% endfor %}{# c #}"
    sc = Scenario(name="x", description="{{ 6*111 }}", map=MapConfig(offline=False))
    kpis = dict(micro_inputs["kpis"], scenario="{{ 8*111 }}")
    page = render_map(build_map(scenario=sc, **{**micro_inputs, "plan": plan, "kpis": kpis}), offline=False)
    popup = _stores(page)["rows"][0][4]
    assert "&#123;&#123; 7*7 &#125;&#125;" in popup and "49" not in popup and "[a]" not in popup
    assert "&#123;&#123; 6*111 &#125;&#125;" in page and "&#123;&#123; 8*111 &#125;&#125;" in page
    title = re.search(r"<div id='planner-title'.*?</div>", page, re.S).group(0)
    assert "666" not in title and "888" not in title


def test_osm_keeps_wgs84_rounded_to_5_decimals(page: str, micro_inputs: dict[str, Any], micro_layers: Any) -> None:
    plan = micro_inputs["plan"]
    rows = _stores(page)["rows"]
    np.testing.assert_allclose([r[0] for r in rows], plan["lat"].round(5), atol=1e-9)
    np.testing.assert_allclose([r[1] for r in rows], plan["lon"].round(5), atol=1e-9)
    ring = _ring(_polygons(page)[2])  # first county: a box, unchanged by simplification
    x0, y0, x1, y1 = micro_layers.counties.geometry.iloc[0].bounds
    assert ring[:, 0].min() == pytest.approx(y0, abs=1e-9) and ring[:, 1].max() == pytest.approx(x1, abs=1e-9)


def test_polyline_encoding_round_trips() -> None:
    rng = np.random.default_rng(1)
    coords = np.column_stack([rng.uniform(-180, 180, 50), rng.uniform(-85, 85, 50)]).round(5)
    coords[10] = [0.0, 0.0]
    offsets = np.array([0, 1, 20, 50])
    rings = encode_rings(coords, offsets)
    assert len(rings) == 3
    back = np.concatenate([np.array(decode_ring(r)) for r in rings])
    np.testing.assert_allclose(back[:, ::-1], coords, atol=1e-9)
    assert all(63 <= ord(ch) <= 126 for r in rings for ch in r)
    assert encode_rings(np.zeros((0, 2)), np.array([0])) == []


def test_amap_converts_every_geometry_to_gcj02(write_micro_map: Any, micro_inputs: dict[str, Any]) -> None:
    wgs = Path(write_micro_map()).read_text(encoding="utf-8")
    gcj = Path(write_micro_map(tiles="amap")).read_text(encoding="utf-8")
    plan = micro_inputs["plan"]
    rows = _stores(gcj)["rows"]
    exp_lon, exp_lat = wgs84_to_gcj02(plan["lon"].to_numpy(), plan["lat"].to_numpy())
    np.testing.assert_allclose([r[1] for r in rows], exp_lon, atol=1.1e-5)
    np.testing.assert_allclose([r[0] for r in rows], exp_lat, atol=1.1e-5)
    shift_m = np.hypot((exp_lon - plan["lon"]) * 96_000, (exp_lat - plan["lat"]) * 111_000)
    assert (shift_m > 100).all() and (shift_m < 1000).all()
    # Polygons, hexagons, competitors and city points move too.
    p_wgs, p_gcj = _polygons(wgs), _polygons(gcj)
    assert len(p_wgs) == len(p_gcj) == 4
    for a, b in zip(p_wgs, p_gcj, strict=True):
        ra, rb = _ring(a), _ring(b)
        assert ra.shape == rb.shape and np.abs(ra - rb).max() > 1e-3
    c_wgs, c_gcj = _competitor_rows(wgs)[0], _competitor_rows(gcj)[0]
    assert abs(c_wgs[0][1] - c_gcj[0][1]) > 1e-3
    assert "autonavi.com" in gcj and "tile.openstreetmap.org" not in gcj
    assert "GCJ-02" in gcj


def test_tiles_none_draws_no_background(write_micro_map: Any) -> None:
    page = Path(write_micro_map(tiles="none")).read_text(encoding="utf-8")
    assert "L.tileLayer(" not in page
    assert "tile.openstreetmap.org" not in page and "autonavi" not in page


def test_offline_page_has_no_remote_script_or_style(page: str, write_micro_map: Any) -> None:
    remote = re.findall(r'<(?:script|link|img)[^>]+(?:src|href)\s*=\s*["\']?(?:https?:)?//', page, re.I)
    assert remote == []
    assert "@import" not in page
    styles = " ".join(re.findall(r"<style>(.*?)</style>", page, re.S))
    assert not re.findall(r"url\(\s*(?![\"']?\s*(?:data:|#))", styles)  # nothing fetched next to the file
    assert "L.MarkerClusterGroup" in page and "L.Control.Search" in page  # plugins inlined
    online = Path(write_micro_map(offline=False)).read_text(encoding="utf-8")
    assert re.search(r'<script src="https://', online)
    assert len(online) < len(page)


@pytest.mark.parametrize("kpi", sorted(KPI_LABELS))
def test_every_choropleth_kpi_renders(kpi: str, micro_inputs: dict[str, Any]) -> None:
    sc = Scenario(name="x", map=MapConfig(offline=False, choropleth_kpi=kpi))
    page = render_map(build_map(scenario=sc, **micro_inputs), offline=False)
    label, unit = KPI_LABELS[kpi]
    assert label in page and unit in page


def test_grid_cap_is_honoured_in_the_page(micro_inputs: dict[str, Any]) -> None:
    sc = Scenario(name="x", map=MapConfig(offline=False, max_grid_cells=5))
    page = render_map(build_map(scenario=sc, **micro_inputs), offline=False)
    polys = _polygons(page)
    assert len(polys) == 4 and len(polys[3]["f"]) <= 5
    sc = Scenario(name="x", map=MapConfig(offline=False, max_grid_cells=0))
    assert len(_polygons(render_map(build_map(scenario=sc, **micro_inputs), offline=False))) == 3


def test_simplification_reduces_vertices(micro_inputs: dict[str, Any], micro_layers: Any) -> None:
    from shapely.geometry import Point

    layers = micro_layers
    detailed = layers.provinces.copy()
    detailed["geometry"] = [Point(113.5 + i, 30.5).buffer(0.45, quad_segs=256) for i in range(len(detailed))]
    sc = Scenario(name="x", map=MapConfig(offline=False, max_grid_cells=0))
    fine = type(layers)(**{**layers.__dict__, "provinces": detailed})
    page = render_map(build_map(scenario=sc, **{**micro_inputs, "layers": fine}), offline=False)
    ring = _ring(_polygons(page)[0])
    assert 8 < len(ring) < 200  # from 1,025 vertices


def test_empty_plan_and_missing_columns_still_write(tmp_path: Path, micro_layers: Any) -> None:
    plan = pd.DataFrame(columns=["store_id", "name", "status", "lat", "lon", "province_code", "city_code",
                                 "county_code", "tier", "format", "quarter"])
    kpis = {"scenario": "empty", "objective_kind": "coverage", "objective": 0.0, "gap": None,
            "illustrative_networks": True, "created": "2026-11-25", "per_province": []}
    out = write_map(tmp_path / "m.html", layers=micro_layers, plan=plan, kpis=kpis,
                    scenario=Scenario(name="empty", map=MapConfig(offline=False)))
    page = out.read_text(encoding="utf-8")
    assert "gap unknown" in page and _stores(page)["rows"] == []


def test_micro_map_stays_small(write_micro_map: Any) -> None:
    assert write_micro_map().stat().st_size < 1_000_000


def test_overview_png_is_written_and_not_blank(tmp_path: Path, micro_inputs: dict[str, Any]) -> None:
    from PIL import Image

    from planner.report.figures import write_overview_png

    out = write_overview_png(tmp_path / "overview.png", layers=micro_inputs["layers"], plan=micro_inputs["plan"],
                             kpis=micro_inputs["kpis"], dpi=60)
    img = np.asarray(Image.open(out).convert("RGB"), dtype=float)
    assert img.shape[0] > 300 and img.std() > 20


def test_plan_without_coordinates_is_a_clear_data_error(micro_inputs: dict[str, Any], tmp_path: Path) -> None:
    from planner.errors import DataError

    plan = micro_inputs["plan"].drop(columns=["lat"])
    with pytest.raises(DataError, match=r"lacks column\(s\) \['lat'\]"):
        write_map(tmp_path / "m.html", scenario=Scenario(name="x"), **{**micro_inputs, "plan": plan})


def test_ebitda_layer_popup_shows_each_provinces_npv(micro_inputs: dict[str, Any], tmp_path: Path) -> None:
    from planner.report.maps import write_map

    plan = micro_inputs["plan"].copy()
    plan["ebitda_cny_per_year"] = 2e6
    plan["sales_cny_per_year"] = 9e6
    code = str(plan["province_code"].iloc[0])
    kpis = {**micro_inputs["kpis"], "pnl": {"per_province": {code: {"npv_cny": 12.34e6}}}}
    out = write_map(tmp_path / "map.html", scenario=Scenario(name="npv"), **{**micro_inputs, "plan": plan, "kpis": kpis})
    text = out.read_text(encoding="utf-8")
    assert "Province: EBITDA of the plan" in text
    assert "NPV over the rollout: 12.3 M CNY" in text
