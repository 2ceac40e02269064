"""Own travel costs in the instance: given pairs replace straight-line distances, by hand.

The tiny geography's cells lie on a line 2 km apart (tests/fixtures/tiny.py);
existing store S001 sits on cell 0 (tier 1). With ``catchment_min`` 10 for
tier 1 and a fallback speed of 30 km/h, a straight-line pair costs
2 km / 30 km/h = 4 minutes per step: cells 0, 1, 2 cost 0, 4, 8 minutes (in
reach), cell 3 costs 12 (out of reach). The file says cell 1 is 25 minutes
away (a river between them: out of reach) and cell 4 only 6 (a ring road: in
reach). So S001 covers cells {0, 2, 4} when missing pairs fall back to the
straight line, and only {4} when they are unreachable.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from planner.config import load_scenario
from planner.config.load import deep_merge
from planner.demand import compute_demand
from planner.geodata.travel import travel_costs_for_layers
from planner.instance import build_instance
from planner.report.kpis import covered_mask
from tests.fixtures.tiny import tiny_layers

NO_SPACING = {"1": 0, "new1": 0, "2": 0, "3": 0, "4": 0, "5": 0}


def built_with_costs(tmp_path: Path, text: str, **data):
    layers = tiny_layers()
    cells = list(layers.cells["h3"])
    p = tmp_path / "tt.csv"
    p.write_text(text.format(*cells), encoding="utf-8")
    base = {
        "objective": {"catchment_min": {"1": 10, "3": 10}},
        "constraints": {"total_stores": 4, "min_spacing_km": NO_SPACING},
        "data": {"travel_costs": str(p), "travel_speed_kmh": 30},
    }
    sc = load_scenario(data=deep_merge(base, data))
    layers.travel_costs = travel_costs_for_layers(p, layers, resolution=9)
    return build_instance(layers, compute_demand(layers, sc), sc)


def cells_of(built, site: int) -> dict[int, float]:
    inst = built.instance
    m = (inst.pair_site == site) & (inst.pair_km <= inst.radius_km[inst.pair_site])
    return dict(zip(inst.pair_cell[m].tolist(), inst.pair_km[m].round(3).tolist(), strict=True))


FILE = "cell,site_id,minutes\n{1},S001,25\n{4},S001,6\n"


def test_minutes_replace_straight_line_with_fallback(tmp_path: Path) -> None:
    built = built_with_costs(tmp_path, FILE)
    assert built.cost_unit == "min"
    assert built.instance.radius_km[0] == 10.0  # catchment_min, not catchment_km
    got = cells_of(built, 0)
    assert sorted(got) == [0, 2, 4]
    assert got[0] == 0.0 and got[4] == 6.0
    assert got[2] == pytest.approx(8.0, abs=0.01)  # 2 steps of 2 km at 30 km/h
    assert covered_mask(built.instance, np.array([0]))[[0, 1, 2, 3, 4]].tolist() == [True, False, True, False, True]


def test_missing_pairs_unreachable(tmp_path: Path) -> None:
    built = built_with_costs(tmp_path, FILE, data={"travel_costs_missing": "unreachable"})
    assert cells_of(built, 0) == {4: 6.0}
    # sites the file never names reach nothing
    assert set(built.instance.pair_site.tolist()) == {0}


def test_km_file_keeps_catchment_km(tmp_path: Path) -> None:
    # road km: cell 1 is 9 km by road (beyond the tier-1 3 km), the rest straight-line km
    built = built_with_costs(tmp_path, "cell,site_id,km\n{1},S001,9\n", objective={"catchment_km": {"1": 3}})
    assert built.cost_unit == "km"
    assert sorted(cells_of(built, 0)) == [0]


def test_pair_for_a_location_applies_to_every_format(tmp_path: Path) -> None:
    layers = tiny_layers()
    site = f"c-{layers.cells['h3'].iloc[6]}"
    built = built_with_costs(
        tmp_path, "cell,site_id,minutes\n{9}," + site + ",1\n", formats={"enabled": True},
        objective={"catchment_min": {"1": 10, "3": 10}},
    )
    sites = built.sites
    idx = np.flatnonzero(sites["location_id"].to_numpy() == site)
    assert len(idx) == 2  # standard and small (flagship opens only in tiers 1, new1, 2; cell 6 is tier 3)
    for i in idx:
        assert cells_of(built, int(i)).get(9) == 1.0


def test_a_run_with_travel_minutes_is_checked_and_reports_the_unit(tmp_path: Path) -> None:
    from planner.pipeline import Prepared, run

    layers = tiny_layers()
    cells = list(layers.cells["h3"])
    p = tmp_path / "tt.csv"
    p.write_text(FILE.format(*cells), encoding="utf-8")
    sc = load_scenario(data={
        "name": "tiny-minutes",
        "objective": {"catchment_min": {"1": 10, "3": 10}},
        "constraints": {"total_stores": 3, "min_spacing_km": NO_SPACING},
        "data": {"travel_costs": str(p), "travel_speed_kmh": 30},
        "rollout": {"enabled": False},
        "solver": {"time_limit_s": 5},
    })
    layers.travel_costs = travel_costs_for_layers(p, layers, resolution=9)
    demand = compute_demand(layers, sc)
    prep = Prepared(scenario=sc, layers=layers, demand=demand, built=build_instance(layers, demand, sc))
    res = run(sc, results_dir=tmp_path / "res", prepared=prep, write_map=False)  # ends with the checker
    assert res.kpis["cost_unit"] == "min"
    covered = covered_mask(prep.built.instance, res.solution.open_sites)
    pop = prep.built.cells["population"].to_numpy()
    assert res.kpis["covered_population"] == pytest.approx(pop[covered].sum())


def test_rivals_pull_in_minutes_at_the_stated_speed(tmp_path: Path) -> None:
    # cell 4 is 2 km from the huawei store on cell 3: 4 minutes at 30 km/h, pull 1.2 * (1 + 4)^-2;
    # the oppo store on cell 8 is 8 km = 16 minutes away, beyond cell 4's 10-minute catchment
    layers = tiny_layers()
    p = tmp_path / "tt.csv"
    p.write_text(FILE.format(*layers.cells["h3"]), encoding="utf-8")
    sc = load_scenario(data={"objective": {"catchment_min": {"1": 10, "3": 10}},
                             "data": {"travel_costs": str(p), "travel_speed_kmh": 30}})
    layers.travel_costs = travel_costs_for_layers(p, layers, resolution=9)
    d = compute_demand(layers, sc)
    assert d.loc[4, "pull_huawei"] == pytest.approx(1.2 * 5.0**-2, rel=1e-2)  # the step is 2 km to 0.2 %
    assert d.loc[4, "pull_oppo"] == 0.0
