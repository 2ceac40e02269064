"""KPIs on a hand-checkable micro example (2 cells, 2 stores), and the admin-level and grid tables.

The micro instance: cell 0 (1,000 people, demand 100) sits on site 0; cell 1
(3,000 people, demand 300) is 1 km from site 1 and 9 km from site 0. Both radii are
5 km, Huff decay (1 + km)^-2, attractiveness 1. Competitors (all "huawei") pull
1.0 on cell 0 and 0.99 on cell 1. With site 0 alone: cell 0 is covered, own pull
1 → share 1/2; cell 1 is not covered (9 km > 5 km) but still pulled by 10^-2 →
share 0.01/(0.01 + 0.99) = 0.01. With both: cell 1's own pull is 0.01 + 2^-2 = 0.26
→ share 0.26/1.25 = 0.208.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
import pytest

from planner.instance import BuiltInstance
from planner.optimise.types import Instance, Solution
from planner.report.kpis import (
    admin_kpi_table,
    aggregate_grid,
    cell_values,
    covered_mask,
    h3_parents,
    huff_share,
    huff_shares,
    own_attraction,
    own_share_per_cell,
    rollout_kpis,
)


@pytest.fixture
def micro() -> BuiltInstance:
    inst = Instance(
        weight=np.array([100.0, 300.0]),
        pair_cell=np.array([0, 1, 1], dtype=np.int32),
        pair_site=np.array([0, 0, 1], dtype=np.int32),
        pair_km=np.array([0.0, 9.0, 1.0]),
        n_sites=2,
        stores=1,
        radius_km=np.array([5.0, 5.0]),
        competitor_pull=np.array([1.0, 0.99]),
        beta=2.0,
    )
    cells = pd.DataFrame(
        {
            "h3": ["861f1d4a7ffffff", "861f1d4afffffff"],
            "population": [1000.0, 3000.0],
            "demand": [100.0, 300.0],
            "competitor_pull": [1.0, 0.99],
            "pull_huawei": [1.0, 0.99],
        }
    )
    sites = pd.DataFrame({"site_id": ["s0", "s1"], "lon": [113.0, 113.1], "lat": [23.0, 23.0]})
    return BuiltInstance(instance=inst, sites=sites, cells=cells)


def test_coverage_by_hand(micro: BuiltInstance) -> None:
    inst = micro.instance
    assert covered_mask(inst, np.array([0])).tolist() == [True, False]
    assert covered_mask(inst, np.array([1])).tolist() == [False, True]
    assert covered_mask(inst, np.array([0, 1])).tolist() == [True, True]
    assert covered_mask(inst, np.array([], dtype=np.int64)).tolist() == [False, False]


def test_own_attraction_and_share_by_hand(micro: BuiltInstance) -> None:
    np.testing.assert_allclose(own_attraction(micro.instance, np.array([0])), [1.0, 0.01])
    np.testing.assert_allclose(own_attraction(micro.instance, np.array([0, 1])), [1.0, 0.26])
    np.testing.assert_allclose(own_share_per_cell(micro, np.array([0])), [0.5, 0.01])
    np.testing.assert_allclose(own_share_per_cell(micro, np.array([0, 1])), [0.5, 0.26 / 1.25])


def test_network_shares_by_hand(micro: BuiltInstance) -> None:
    one = huff_shares(micro, np.array([0]))
    assert one["own"] == pytest.approx((100 * 0.5 + 300 * 0.01) / 400)  # 0.1325
    assert one["huawei"] == pytest.approx((100 * 0.5 + 300 * 0.99) / 400)  # 0.8675
    assert one["own"] + one["huawei"] == pytest.approx(1.0)
    both = huff_shares(micro, np.array([0, 1]))
    assert both["own"] == pytest.approx((100 * 0.5 + 300 * 0.208) / 400)
    assert both["own"] > one["own"]


def test_huff_share_is_zero_where_nothing_pulls() -> None:
    np.testing.assert_array_equal(huff_share(np.array([0.0, 1.0]), np.array([0.0, 4.0])), [0.0, 0.25])


def test_cell_values_carry_the_captured_share(micro: BuiltInstance) -> None:
    sol = Solution(open_sites=np.array([1, 0]), objective=0.0, objective_kind="market_share")
    cv = cell_values(micro, sol)
    assert cv.columns.tolist() == ["h3", "demand", "captured_share"]
    np.testing.assert_allclose(cv["captured_share"], [0.5, 0.208])
    assert cv["demand"].tolist() == [100.0, 300.0]


def test_rollout_kpis_are_plain_json_values() -> None:
    result = SimpleNamespace(mode="two_stage", objective=np.float64(12.5), bound=None, gap=np.float64(0.01),
                             status="optimal")
    table = pd.DataFrame({"opened": np.array([3.0, 2.0])})
    out = rollout_kpis(result, table, ["2027Q1", "2027Q2"])
    assert out == {"mode": "two_stage", "quarters": ["2027Q1", "2027Q2"], "opened_per_quarter": [3, 2],
                   "objective": 12.5, "bound": None, "gap": 0.01, "status": "optimal"}
    assert type(out["objective"]) is float and type(out["opened_per_quarter"][0]) is int


def test_admin_kpi_table_by_hand(micro_inputs: dict[str, Any], micro_layers: Any) -> None:
    plan, kpis = micro_inputs["plan"], micro_inputs["kpis"]
    t = admin_kpi_table("province", layers=micro_layers, plan=plan, kpis=kpis, kpi="stores_per_million")
    for code, row in t.iterrows():
        n = int((plan["province_code"] == code).sum())
        assert row["stores"] == n
        assert row["value"] == pytest.approx(n / row["population"] * 1e6)
    t = admin_kpi_table("county", layers=micro_layers, plan=plan, kpis=kpis, kpi="new_stores")
    assert t["value"].sum() == 8 and t["stores"].sum() == 12
    t = admin_kpi_table("province", layers=micro_layers, plan=plan, kpis=kpis, kpi="covered_share")
    assert t["value"].tolist() == [p["covered_share"] for p in kpis["per_province"]]
    cv = micro_inputs["cell_values"]
    t = admin_kpi_table("city", layers=micro_layers, plan=plan, kpis=kpis, kpi="covered_share", cell_values=cv)
    cells = micro_layers.cells.merge(cv, on="h3")
    for code, row in t.iterrows():
        sub = cells[cells["city_code"] == code]
        expected = (sub["population"] * sub["captured_share"]).sum() / sub["population"].sum()
        assert row["value"] == pytest.approx(expected)
    # Without cell values a city-level share is unknown, not invented.
    t = admin_kpi_table("city", layers=micro_layers, plan=plan, kpis=kpis, kpi="market_share")
    assert t["value"].isna().all()
    with pytest.raises(ValueError, match="choropleth KPI"):
        admin_kpi_table("city", layers=micro_layers, plan=plan, kpis=kpis, kpi="bogus")


def test_aggregate_grid_caps_and_keeps_population(micro_layers: Any, micro_inputs: dict[str, Any]) -> None:
    cells = micro_layers.cells
    full = aggregate_grid(cells, micro_inputs["cell_values"], max_cells=10_000)
    assert len(full) == len(cells) and (full["resolution"] == 6).all()
    small = aggregate_grid(cells, micro_inputs["cell_values"], max_cells=20)
    assert len(small) <= 20 and small["resolution"].iloc[0] < 6
    if small["cells"].sum() == len(cells):
        assert small["population"].sum() == pytest.approx(cells["population"].sum())
    dem = small["demand"].to_numpy()
    assert np.nanmin(small["captured_share"]) >= 0 and np.nanmax(small["captured_share"]) <= 1 and dem.sum() > 0
    assert aggregate_grid(cells, None, max_cells=0).empty
    pop_only = aggregate_grid(cells, None, max_cells=10_000)
    assert pop_only["captured_share"].isna().all()


def test_vectorised_h3_parents_match_h3() -> None:
    import h3

    cells = [h3.latlng_to_cell(30 + 0.37 * i, 100 + 0.53 * i, 8) for i in range(40)]
    ids = np.array([int(c, 16) for c in cells], dtype=np.uint64)
    for res in (7, 5, 3, 0):
        got = [format(int(i), "x") for i in h3_parents(ids, res)]
        assert got == [h3.cell_to_parent(c, res) for c in cells]


def test_codes_read_back_from_csv_still_match(micro_inputs: dict[str, Any], micro_layers: Any) -> None:
    plan = micro_inputs["plan"].copy()
    plan["province_code"] = plan["province_code"].astype(int)  # as pandas reads plan.csv back
    plan.loc[0, "county_code"] = np.nan
    t = admin_kpi_table("province", layers=micro_layers, plan=plan, kpis=micro_inputs["kpis"],
                        kpi="stores_per_million")
    assert t["stores"].sum() == 12
