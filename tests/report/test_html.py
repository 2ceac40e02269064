"""Page and table helpers: escaping (HTML and JSON in a script), number formats, pages, tables, images."""

from __future__ import annotations

import base64
import json

from planner.report.html import (
    embed_png,
    esc,
    fmt_float,
    fmt_int,
    fmt_pct,
    html_page,
    html_table,
    js_json,
)


def test_esc_defuses_html_and_jinja() -> None:
    assert esc("<b>\"A&B\"</b>") == "&lt;b&gt;&quot;A&amp;B&quot;&lt;/b&gt;"
    assert esc("{{ 8*111 }}") == "&#123;&#123; 8*111 &#125;&#125;"
    assert esc(None) == "" and esc(float("nan")) == "" and esc(3) == "3"


def test_js_json_is_safe_in_a_script_and_still_json() -> None:
    value = {"name": "</script><script>alert('x')</script>", "t": "{{ x }}{% y %}", "sep": "\u2028"}
    text = js_json(value)
    assert "<" not in text and ">" not in text and "'" not in text and "{{" not in text and "{%" not in text
    assert "\u2028" not in text
    assert json.loads(text) == value


def test_number_formats() -> None:
    assert fmt_int(1234567.4) == "1,234,567" and fmt_int(None) == "n/a" and fmt_int(float("nan")) == "n/a"
    assert fmt_float(1234.5678) == "1,234.57" and fmt_float(2, 0) == "2" and fmt_float("x") == "n/a"
    assert fmt_pct(0.1234) == "12.3 %" and fmt_pct(None) == "n/a"


def test_table_escapes_cells_and_applies_classes() -> None:
    out = html_table(["a<b", "n"], [["<i>x</i>", "1"], ["y", "2"]], classes=[["", "num"], ["", "num up"]],
                     row_classes=["", "failed"])
    assert "<th>a&lt;b</th>" in out and "<td>&lt;i&gt;x&lt;/i&gt;</td>" in out
    assert '<td class="num">1</td>' in out and '<tr class="failed"><td>y</td><td class="num up">2</td>' in out
    assert out.startswith("<table>") and out.endswith("</table>")


def test_page_is_self_contained() -> None:
    page = html_page("A <title>", "<p>body</p>")
    assert page.startswith("<!DOCTYPE html>") and "<title>A &lt;title&gt;</title>" in page
    assert "<style>" in page and "<p>body</p>" in page
    assert "http://" not in page and "https://" not in page and "<link" not in page and "<script" not in page


def test_embed_png_is_a_data_uri() -> None:
    img = embed_png(b"\x89PNG", 'chart "a"', css_class="map")
    assert img.startswith('<img class="map" alt="chart &quot;a&quot;" src="data:image/png;base64,')
    assert base64.b64decode(img.split("base64,")[1].rstrip('">')) == b"\x89PNG"
