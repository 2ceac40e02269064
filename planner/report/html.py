"""HTML helpers shared by every report page: escaping, number formats, pages and tables.

:func:`esc` and :func:`js_json` are the only ways user text reaches a page (as
HTML text, or as JSON inside a ``<script>``); both also defuse Folium's second
Jinja pass. :func:`html_page` wraps a body in a self-contained page (inline CSS,
no network), :func:`html_table` builds a table from formatted cell strings
(escaping them), :func:`embed_png` inlines a PNG as a data URI.
"""

from __future__ import annotations

import base64
import html
import json
import math
import re
from collections.abc import Sequence
from typing import Any

__all__ = [
    "PAGE_CSS", "embed_png", "esc", "fmt_float", "fmt_int", "fmt_pct", "html_page", "html_table", "js_json",
]


def esc(value: Any) -> str:
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


def js_json(obj: Any) -> str:
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


def fmt_int(x: Any) -> str:
    """A number with thousands separators and no decimals ("n/a" when missing)."""
    try:
        f = float(x)
    except (TypeError, ValueError):
        return "n/a"
    return "n/a" if math.isnan(f) else f"{f:,.0f}"


def fmt_float(x: Any, digits: int = 2) -> str:
    """A number with thousands separators and ``digits`` decimals ("n/a" when missing)."""
    try:
        f = float(x)
    except (TypeError, ValueError):
        return "n/a"
    return "n/a" if math.isnan(f) else f"{f:,.{digits}f}"


def fmt_pct(share: Any) -> str:
    """A share (fraction 0–1) as a percentage."""
    try:
        f = float(share)
    except (TypeError, ValueError):
        return "n/a"
    return "n/a" if math.isnan(f) else f"{100 * f:.1f} %"


def embed_png(data: bytes, alt: str, *, css_class: str = "chart") -> str:
    """An ``<img>`` carrying ``data`` as a base64 data URI."""
    b64 = base64.b64encode(data).decode("ascii")
    return f'<img class="{css_class}" alt="{html.escape(alt)}" src="data:image/png;base64,{b64}">'


PAGE_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI","PingFang SC","Microsoft YaHei",sans-serif;margin:1.5em auto;max-width:1400px;padding:0 1em;color:#222}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:1.8em;border-bottom:1px solid #ddd;padding-bottom:.2em}
table{border-collapse:collapse;font-size:.88em;margin:.5em 0}th,td{border:1px solid #ddd;padding:.25em .55em}
th{background:#f3f4f6;text-align:left;position:sticky;top:0}td.num{text-align:right;font-variant-numeric:tabular-nums}
td.up{background:#e6f4ea;color:#135e2b}td.down{background:#fdecea;color:#8a1c12}td.same{color:#999}
tr.unchanged td{color:#888}tr.failed td{background:#fdecea}.note{background:#fff8e1;border:1px solid #f0d98c;padding:.5em .8em;border-radius:4px}
.err{background:#fdecea;border:1px solid #f3b4ad;padding:.5em .8em;border-radius:4px}
.maps{display:flex;flex-wrap:wrap;gap:1em}.maps figure{margin:0;flex:1 1 400px;max-width:680px}
.maps img{width:100%;border:1px solid #ddd}img.chart{max-width:100%}figcaption{font-size:.9em;margin:.3em 0}
.small{font-size:.85em;color:#555}code{background:#f3f4f6;padding:0 .2em}
"""


def html_page(title: str, body: str) -> str:
    """A complete, self-contained HTML page (inline CSS, no external resources)."""
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>{html.escape(title)}</title>"
        f"<style>{PAGE_CSS}</style></head><body>\n{body}\n</body></html>\n"
    )


def html_table(
    header: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    classes: Sequence[Sequence[str]] | None = None,
    row_classes: Sequence[str] | None = None,
) -> str:
    """An HTML table from already formatted (unescaped) cell strings; everything is escaped here."""
    out = ["<table><thead><tr>", *(f"<th>{html.escape(h)}</th>" for h in header), "</tr></thead><tbody>"]
    for i, row in enumerate(rows):
        rc = f' class="{row_classes[i]}"' if row_classes and row_classes[i] else ""
        out.append(f"<tr{rc}>")
        for j, cell in enumerate(row):
            c = classes[i][j] if classes else ""
            out.append(f'<td class="{c}">{html.escape(cell)}</td>' if c else f"<td>{html.escape(cell)}</td>")
        out.append("</tr>")
    out.append("</tbody></table>")
    return "".join(out)
