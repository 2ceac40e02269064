"""Make ``guangdong_sites.csv``: an ILLUSTRATIVE site pipeline for scenarios/guangdong-sites.yaml.

Not real sites. Deterministic (seed 20261203): 80 places drawn, weighted by people, from
the populous grid cells of the Guangdong scenario's own geodata, moved up to ~300 m,
written in GCJ-02 (as a scout's AMap export would be) with a mall-or-street name,
the formats each site can take, its own rent-driven opex for a third of them,
an availability quarter for a quarter of them, and three signed leases.

    PYTHONPATH=. python data/examples/make_guangdong_sites.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

import planner
from planner.geodata import load_layers
from planner.spatial import wgs84_to_gcj02

# the shipped copy (data/examples/guangdong_sites.csv links to it)
OUT = Path(__file__).resolve().parents[2] / "planner" / "resources" / "scenarios" / "examples" / "guangdong_sites.csv"


def main() -> None:
    sc = planner.load_scenario("scenarios/province-guangdong.yaml")
    layers = load_layers(sc)
    rng = np.random.default_rng(20261203)
    cand = layers.candidates[layers.candidates["kind"] == "cell"].reset_index(drop=True)
    p = cand["population"].to_numpy(float)
    pick = rng.choice(len(cand), size=80, replace=False, p=p / p.sum())
    rows = cand.iloc[np.sort(pick)].reset_index(drop=True)
    lat = rows["lat"].to_numpy() + rng.normal(0, 0.002, len(rows))
    lon = rows["lon"].to_numpy() + rng.normal(0, 0.002, len(rows))
    glon, glat = wgs84_to_gcj02(lon, lat)
    tiers = rows["tier"].astype(str).to_numpy()
    formats = np.where(np.isin(tiers, ["1", "new1", "2"]) & (rng.random(len(rows)) < 0.3), "flagship;standard",
                       np.where(rng.random(len(rows)) < 0.3, "standard;small", "standard"))
    opex = np.where(rng.random(len(rows)) < 0.33, np.round(rng.uniform(0.9, 3.5, len(rows)), 2) * 1e6, np.nan)
    avail = np.where(rng.random(len(rows)) < 0.25, rng.choice(["2027Q3", "2028Q1", "2028Q2"], len(rows)), "")
    status = np.array(["candidate"] * len(rows), dtype=object)
    status[rng.choice(len(rows), 3, replace=False)] = "signed"
    kinds = np.array(["购物中心", "商业街", "广场"])
    out = pd.DataFrame(
        {
            "id": [f"GD-S{i:03d}" for i in range(1, len(rows) + 1)],
            "name": [f"示例选址 {c} {kinds[i % 3]} {i + 1}" for i, c in enumerate(rows["county_code"])],
            "lat": np.round(glat, 6),
            "lon": np.round(glon, 6),
            "formats": formats,
            "capex_cny": "",
            "opex_cny_per_year": [("" if np.isnan(x) else f"{x:.0f}") for x in opex],
            "available_from": avail,
            "status": status,
        }
    )
    out.to_csv(OUT, index=False, encoding="utf-8")
    print(OUT, len(out))


if __name__ == "__main__":
    main()
