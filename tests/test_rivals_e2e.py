"""End to end with the rivals answering back: share.csv, leads, response.csv, anticipation (Guangdong)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "scenarios" / "province-guangdong.yaml"
SETS = [
    "--set", "constraints.total_stores=60", "--set", "solver.time_limit_s=5", "--set", "rollout.quarters=4",
    "--set", "competition.response.stores.huawei=5", "--set", "competition.response.stores.oppo=4",
    "--set", "competition.anticipate=true", "--set", "competition.time_limit_s=30",
]


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    results = tmp_path_factory.mktemp("results")
    proc = subprocess.run([sys.executable, "-m", "planner.cli", "run", str(SCENARIO), *SETS, "--results", str(results), "-q"],
                          cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr
    return results / "province-guangdong" / "latest"


def test_share_csv_rows_and_ranks(folder: Path) -> None:
    share = pd.read_csv(folder / "share.csv", dtype={"code": str})
    assert list(share.columns) == ["level", "code", "name", "quarter", "own", "huawei", "oppo", "vivo", "rank"]
    assert share["quarter"].nunique() == 4
    per_q = share.groupby("quarter").size()
    assert per_q.nunique() == 1 and per_q.iloc[0] == 1 + 1 + 21  # nation, Guangdong, 21 cities
    brands = share[["own", "huawei", "oppo", "vivo"]].to_numpy()
    assert ((1 + (brands > brands[:, [0]]).sum(axis=1)) == share["rank"].to_numpy()).all()
    assert (brands.sum(axis=1) <= 1 + 1e-6).all()


def test_kpis_leads_and_response(folder: Path) -> None:
    kpis = json.loads((folder / "kpis.json").read_text(encoding="utf-8"))
    leads = kpis["leads"]
    assert leads["province_count"] == 1 and leads["city_count"] == 21
    share = pd.read_csv(folder / "share.csv", dtype={"code": str})
    end = share[share.quarter == share.quarter.iloc[-1]]
    assert leads["cities"] == int(((end.level == "city") & (end["rank"] == 1) & (end.own > 0)).sum())
    after = kpis["share_after_response"]
    assert after["stores"] == {"huawei": 5, "oppo": 4}
    assert after["nation"]["after"] < after["nation"]["before"]
    assert after["nation"]["after_floor"] <= after["nation"]["after"] + 1e-12
    assert after["per_province"][0]["province"] == "广东省"
    resp = pd.read_csv(folder / "response.csv")
    assert list(resp.columns[:7]) == ["brand", "store_id", "lat", "lon", "province", "city", "county"]
    assert resp["brand"].value_counts().to_dict() == {"huawei": 5, "oppo": 4}
    # anticipation is never worse after the response than the plan that ignores it
    ant = kpis["anticipation"]
    assert ant["share_after_response"] >= ant["ignoring_plan_share_after_response"] - 1e-12
    assert ant["bound"] is None or ant["bound"] >= ant["share_after_response"] - 1e-12
    plan = pd.read_csv(folder / "plan.csv")
    assert len(plan) == 60
