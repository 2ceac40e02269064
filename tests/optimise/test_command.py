"""Area territories on micro-grids of counties whose best areas are known by hand.

Counties sit on a grid (``x`` 10 km apart, ``y`` 20 km apart unless a test says
otherwise) and touch their grid neighbours. The objective is
``compactness_weight * sum stores * km(county, centre) + balance_weight *
sum |workload - target|`` (workload in thousandths of the target), plus 1 per
storeless county used; see :mod:`planner.optimise.command`.
"""

from __future__ import annotations

import numpy as np
import pytest
from micro import quiet_then_busy

from planner.optimise.command import draw_territories, explain_territories, territory_stats
from planner.optimise.command_check import check_store_areas, check_territories
from planner.optimise.command_types import CommandParams, Territories, TerritoryInstance


def grid(
    rows: int, cols: int, stores: list[int], *, workload: list[float] | None = None, dx: float = 10.0,
    dy: float = 20.0, province: list[int] | None = None, extra_edges: list[tuple[int, int]] = (),  # type: ignore[assignment]
    drop_edges: list[tuple[int, int]] = (),  # type: ignore[assignment]
) -> TerritoryInstance:
    """Counties ``r * cols + c`` on a grid, neighbours left-right and up-down."""
    n = rows * cols
    xy = np.array([[dx * (i % cols), dy * (i // cols)] for i in range(n)], dtype=float)
    edges = []
    for i in range(n):
        if i % cols + 1 < cols:
            edges.append((i, i + 1))
        if i + cols < n:
            edges.append((i, i + cols))
    edges = [e for e in edges if e not in set(drop_edges)] + list(extra_edges)
    a, b = zip(*edges, strict=True) if edges else ((), ())
    return TerritoryInstance(
        county_province=np.zeros(n, dtype=np.int64) if province is None else np.asarray(province),
        county_stores=np.asarray(stores),
        county_workload=np.asarray(stores, dtype=float) if workload is None else np.asarray(workload, dtype=float),
        county_xy_km=xy,
        adj_a=np.asarray(a, dtype=np.int64), adj_b=np.asarray(b, dtype=np.int64),
        county_codes=[f"c{i}" for i in range(n)],
    )


def areas_of(terr: Territories) -> list[list[int]]:
    """The areas as sorted county lists, in a canonical order."""
    return sorted(np.flatnonzero(terr.county_area == a).tolist() for a in range(terr.n_areas))


def solve(tinst: TerritoryInstance, **kw: object) -> Territories:
    params = CommandParams(**kw)  # type: ignore[arg-type]
    terr = draw_territories(tinst, params, time_limit_s=10.0, threads=1)
    assert check_territories(tinst, terr, params) == []
    return terr


# ------------------------------------------------------------------ optimal territories by hand
def test_a_line_has_one_cut() -> None:
    # 0-1-2-3, 3 stores each, exactly 6 per area: {0,1} and {2,3} is the only cut into connected pairs.
    # Centres on either county of a pair: 3 stores x 10 km per area, so objective 60, proven.
    terr = solve(grid(1, 4, [3, 3, 3, 3]), min_stores_per_area=6, max_stores_per_area=6)
    assert areas_of(terr) == [[0, 1], [2, 3]]
    assert terr.objective == pytest.approx(60.0) and terr.gap == pytest.approx(0.0)
    assert terr.status == "optimal"


def test_a_square_is_cut_along_the_short_side() -> None:
    # 2 x 2, 3 stores each, 6 per area: rows (10 km apart) or columns (20 km); rows cost 2 x 30 = 60,
    # columns 2 x 60 = 120; the diagonals do not touch.
    terr = solve(grid(2, 2, [3, 3, 3, 3]), min_stores_per_area=6, max_stores_per_area=6)
    assert areas_of(terr) == [[0, 1], [2, 3]]
    assert terr.objective == pytest.approx(60.0)


def test_balance_decides_between_equally_compact_cuts() -> None:
    # 0-1-2-3, 2 stores each, 2..8 per area, workloads 1,1,2,4: nominal 2 areas, target 4.
    # {0,1,2}+{3}: loads 4 and 4, travel 2*10+2*10 = 40 (centre 1); {0,1}+{2,3}: loads 2 and 6 (deviation
    # 500 + 500 thousandths), travel 20+20 = 40; one area: load 8 vs 4, travel 2*(10+10+20) = 80.
    terr = solve(grid(1, 4, [2, 2, 2, 2], workload=[1, 1, 2, 4]), min_stores_per_area=2, max_stores_per_area=8,
                 balance_weight=1.0)
    assert areas_of(terr) == [[0, 1, 2], [3]]
    assert terr.objective == pytest.approx(40.0)


def test_storeless_counties_join_only_to_connect() -> None:
    # 0 (6 stores) - 1 (none) - 2 (6 stores), 3 (none) hangs off 1: with 6..12 per area the two store
    # counties are one area each (12 together would cost 6 x 20 km) and neither needs 1 or 3.
    terr = solve(grid(1, 3, [6, 0, 6], dx=20.0), min_stores_per_area=6, max_stores_per_area=12)
    assert areas_of(terr) == [[0], [2]]
    # with a minimum of 12 they must join, through county 1 (and only county 1)
    terr = solve(grid(1, 3, [6, 0, 6], dx=20.0), min_stores_per_area=12, max_stores_per_area=12)
    assert areas_of(terr) == [[0, 1, 2]]
    assert terr.county_area[1] >= 0


def test_areas_stay_inside_their_province() -> None:
    # 0-1 in province 0, 2-3 in province 1; the border 1-2 is ignored for areas
    tinst = grid(1, 4, [3, 3, 3, 3], province=[0, 0, 1, 1])
    terr = solve(tinst, min_stores_per_area=6, max_stores_per_area=12)
    assert areas_of(terr) == [[0, 1], [2, 3]]
    assert sorted(terr.area_province.tolist()) == [0, 1]


# ------------------------------------------------------------------ one case per rule that cannot hold
def test_a_province_below_the_minimum_is_one_area() -> None:
    # 5 stores, minimum 6: explained before solving, then one area flagged small_province, joined
    # through the storeless county 1.
    tinst = grid(1, 3, [2, 0, 3])
    notes = explain_territories(tinst, CommandParams())
    assert any("5 stores < command.min_stores_per_area=6" in s and "small_province" in s for s in notes)
    terr = solve(tinst)
    assert areas_of(terr) == [[0, 1, 2]] and terr.area_exception == ["small_province"]


def test_a_county_above_the_maximum_is_an_area_on_its_own() -> None:
    # Dongguan-like: county 0 has 14 stores > 12; its neighbours 1 and 2 (3 + 4 stores) form an area
    tinst = grid(1, 3, [14, 3, 4])
    notes = explain_territories(tinst, CommandParams())
    assert any("14 stores > command.max_stores_per_area=12" in s for s in notes)
    terr = solve(tinst)
    assert areas_of(terr) == [[0], [1, 2]]
    assert terr.area_exception[int(terr.county_area[0])] == "big_county"


def test_a_count_that_no_sizes_fit_relaxes_the_minimum() -> None:
    # 13 stores, 7..12 per area: one area is too big, two are too small (explained before solving)
    tinst = grid(1, 2, [6, 7])
    notes = explain_territories(tinst, CommandParams(min_stores_per_area=7, max_stores_per_area=12))
    assert any("cannot be cut into areas of 7..12" in s for s in notes)
    terr = solve(tinst, min_stores_per_area=7, max_stores_per_area=12)
    assert areas_of(terr) == [[0], [1]]
    assert terr.area_exception[int(terr.county_area[0])] == "relaxed_minimum"


def test_a_star_whose_leaves_cannot_all_reach_the_minimum_relaxes_it() -> None:
    # storeless hub 0 with three leaves of 5 stores, 6..12 per area: counts allow two areas, but only one
    # area can hold the hub, so some leaf stays alone below the minimum -- found by the solver (infeasible),
    # then solved again with the minimum relaxed.
    tinst = TerritoryInstance(
        county_province=np.zeros(4, dtype=np.int64), county_stores=np.array([0, 5, 5, 5]),
        county_workload=np.array([0.0, 5, 5, 5]),
        county_xy_km=np.array([[0.0, 0], [10, 0], [-10, 0], [0, 10]]),
        adj_a=np.array([0, 0, 0]), adj_b=np.array([1, 2, 3]),
    )
    terr = solve(tinst)
    sizes = sorted(int(tinst.county_stores[terr.county_area == a].sum()) for a in range(terr.n_areas))
    assert sum(sizes) == 15 and min(sizes) < 6
    assert "relaxed_minimum" in terr.area_exception


def test_an_island_beyond_the_water_link_is_its_own_part() -> None:
    # no edge to county 2: it is cut off, so with 3 stores it is one area below the minimum
    tinst = grid(1, 3, [3, 3, 3], drop_edges=[(1, 2)])
    terr = solve(tinst, min_stores_per_area=3, max_stores_per_area=12)
    assert [2] in areas_of(terr)


def test_min_above_max_is_refused() -> None:
    with pytest.raises(ValueError, match="min_stores_per_area"):
        draw_territories(grid(1, 2, [3, 3]), CommandParams(min_stores_per_area=8, max_stores_per_area=6))


# ------------------------------------------------------------------ statistics and the checker
def test_territory_stats_by_hand() -> None:
    terr = solve(grid(1, 4, [3, 3, 3, 3], workload=[1, 1, 2, 2]), min_stores_per_area=6, max_stores_per_area=6)
    st = territory_stats(grid(1, 4, [3, 3, 3, 3], workload=[1, 1, 2, 2]), terr)
    # workloads 2 and 4: max/min 2, CV = std/mean = 1/3; every area has 3 stores 10 km from its centre
    assert st["areas"] == 2 and st["workload_max_min_ratio"] == pytest.approx(2.0)
    assert st["workload_cv"] == pytest.approx(1 / 3)
    assert st["compactness_km"] == pytest.approx(5.0)


def _terr(county_area: list[int], exc: list[str], centre: list[int], province: list[int] | None = None) -> Territories:
    k = len(exc)
    return Territories(
        county_area=np.asarray(county_area), area_province=np.asarray(province or [0] * k),
        area_centre=np.asarray(centre), area_exception=exc, objective=0.0, bound=0.0, gap=0.0, seconds=0.0,
        status="optimal",
    )


def test_checker_rejects_each_broken_rule() -> None:
    p = CommandParams(min_stores_per_area=6, max_stores_per_area=6)
    line = grid(1, 4, [3, 3, 3, 3])
    assert check_territories(line, _terr([0, 0, 1, 1], ["", ""], [0, 2]), p) == []
    # not connected: {0, 2} and {1, 3}
    assert any("not connected" in s for s in check_territories(line, _terr([0, 1, 0, 1], ["", ""], [0, 1]), p))
    # too big, and a county with stores but no area
    msgs = check_territories(line, _terr([0, 0, 0, -1], [""], [0]), p)
    assert any("outside command.min_stores_per_area" in s for s in msgs) and any("no area" in s for s in msgs)
    # spans provinces
    two = grid(1, 4, [3, 3, 3, 3], province=[0, 0, 1, 1])
    assert any("spans provinces" in s for s in check_territories(two, _terr([0, 1, 1, 0], ["", ""], [0, 1]), p))
    # an exception whose condition does not hold, and a centre outside its area
    msgs = check_territories(line, _terr([0, 0, 1, 1], ["big_county", ""], [3, 2]), p)
    assert any("flagged big_county" in s for s in msgs) and any("centre county is not in it" in s for s in msgs)
    # a store outside the area of its county
    assert check_store_areas(_terr([0, 0, 1, 1], ["", ""], [0, 2]), np.array([0, 3]), np.array([0, 0]))


def test_params_defaults_are_the_config_defaults() -> None:
    from planner.config.models import CommandConfig
    from planner.instance import command_params

    assert command_params(CommandConfig()) == CommandParams()


def test_config_refuses_min_above_max() -> None:
    from planner.config import load_scenario
    from planner.errors import ConfigError

    with pytest.raises(ConfigError, match="command.min_stores_per_area"):
        load_scenario(data={"command": {"min_stores_per_area": 13, "max_stores_per_area": 12}})


def test_territories_do_not_depend_on_the_machines_load() -> None:
    """Two CP-SAT workers while another process burns a core: the same areas (they raced before)."""
    rng = np.random.default_rng(4)
    tinst = grid(8, 9, rng.integers(0, 4, 72).tolist(), workload=rng.uniform(1, 9, 72).tolist())
    params = CommandParams(min_stores_per_area=6, max_stores_per_area=12)
    quiet, busy = quiet_then_busy(lambda: draw_territories(tinst, params, time_limit_s=3.0, threads=2))
    assert check_territories(tinst, quiet, params) == []
    assert np.array_equal(quiet.county_area, busy.county_area)
    assert quiet.bound == busy.bound
