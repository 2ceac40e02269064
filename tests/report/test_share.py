"""Shares and ranks per unit and quarter, by hand on two cells."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from planner.instance import BuiltInstance
from planner.optimise.types import Instance
from planner.report.share import leads_kpis, rank_changes, share_table, unit_shares


def _built() -> tuple[BuiltInstance, SimpleNamespace]:
    """Cell 0 (province P1, city C1) and cell 1 (P2, C2), demand 1 each.

    Own site 0 sits on cell 0, site 1 on cell 1 (km 0, attraction 1, so S = 1 where open).
    Huawei pulls 0.5 / 1, OPPO 0.25 / 2.
    """
    inst = Instance(
        weight=np.array([1.0, 1.0]), pair_cell=np.array([0, 1], dtype=np.int32),
        pair_site=np.array([0, 1], dtype=np.int32), pair_km=np.zeros(2), n_sites=2, stores=2,
        radius_km=np.ones(2), site_attr=np.ones(2), competitor_pull=np.array([0.75, 3.0]), beta=2.0,
    )
    cells = pd.DataFrame({
        "h3": ["a", "b"], "population": [1.0, 1.0], "demand": [1.0, 1.0], "competitor_pull": [0.75, 3.0],
        "pull_huawei": [0.5, 1.0], "pull_oppo": [0.25, 2.0], "province_code": ["1", "2"], "city_code": ["11", "21"],
    })
    layers = SimpleNamespace(
        provinces=pd.DataFrame({"code": ["1", "2"], "name": ["P1", "P2"]}),
        cities=pd.DataFrame({"code": ["11", "21"], "name": ["C1", "C2"]}),
    )
    return BuiltInstance(instance=inst, sites=pd.DataFrame(index=range(2)), cells=cells), layers


def test_unit_shares_by_hand() -> None:
    built, layers = _built()
    df = unit_shares(built, layers, np.array([0])).set_index(["level", "code"])
    # cell 0: 1 / 1.75 own, 0.5 / 1.75 Huawei, 0.25 / 1.75 OPPO -> first
    assert df.loc[("province", "1"), "own"] == pytest.approx(1 / 1.75)
    assert df.loc[("province", "1"), "huawei"] == pytest.approx(0.5 / 1.75)
    assert df.loc[("province", "1"), "rank"] == 1
    # cell 1: no own store; OPPO 2/3 > Huawei 1/3 > own 0 -> third
    assert df.loc[("city", "21"), "own"] == 0.0
    assert df.loc[("city", "21"), "rank"] == 3
    # nation: own (4/7 + 0) / 2, Huawei (2/7 + 1/3) / 2, OPPO (1/7 + 2/3) / 2 -> third
    nat = df.loc[("nation", "CN")]
    assert nat["own"] == pytest.approx(2 / 7)
    assert nat["oppo"] == pytest.approx((1 / 7 + 2 / 3) / 2)
    assert nat["rank"] == 3
    assert list(unit_shares(built, layers, np.array([0])).columns) == ["level", "code", "name", "own", "huawei", "oppo", "rank"]


def test_extra_pull_after_a_response() -> None:
    built, layers = _built()
    df = unit_shares(built, layers, np.array([0]), extra_pull={"huawei": np.array([1.0, 0.0])}).set_index(["level", "code"])
    # cell 0 with 1 more Huawei pull: own 1 / 2.75 vs Huawei 1.5 / 2.75 -> second
    assert df.loc[("province", "1"), "own"] == pytest.approx(1 / 2.75)
    assert df.loc[("province", "1"), "rank"] == 2


def test_share_table_quarters_ties_and_leads() -> None:
    """Site 1 opens in the second quarter: cell 1 becomes own 1/4, Huawei 1/4, OPPO 2/4.

    A tie with Huawei is no worse rank: second (only OPPO is strictly larger).
    """
    built, layers = _built()
    share = share_table(built, layers, np.array([0, 1]), quarter=np.array([-1, 1]), quarter_labels=["Q1", "Q2"])
    assert list(share.columns) == ["level", "code", "name", "quarter", "own", "huawei", "oppo", "rank"]
    assert len(share) == 2 * 5  # nation, 2 provinces, 2 cities per quarter
    p2 = share[(share.level == "province") & (share.code == "2")].set_index("quarter")
    assert p2.loc["Q1", "rank"] == 3 and p2.loc["Q2", "rank"] == 2
    assert p2.loc["Q2", "own"] == pytest.approx(0.25)
    leads = leads_kpis(share)
    assert leads["provinces"] == 1 and leads["cities"] == 1
    assert leads["first_quarter"] == {"P1": "Q1"}
    assert leads["quarter"] == "Q2"


def test_rank_changes_between_runs() -> None:
    built, layers = _built()
    a = share_table(built, layers, np.array([0]), quarter=None, quarter_labels=None)
    b = share_table(built, layers, np.array([0, 1]), quarter=None, quarter_labels=None)
    ch = rank_changes(a, b).set_index(["level", "code"])
    assert ch.loc[("province", "2"), "rank_base"] == 3 and ch.loc[("province", "2"), "rank_other"] == 2
    assert ("province", "1") not in ch.index
