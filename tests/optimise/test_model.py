"""compile_model's values on the micro-instances, and PlanState's constraint counters.

cover4 pairs (cell, site, km): (0,0,1) (1,0,2) (1,1,1) (2,1,2) (3,2,0.5), weights
10, 20, 30, 40, radius 3 everywhere.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from micro import brute_value, cover4, group, huff1, line4, random_instance

from planner.optimise.model import PlanState, compile_model, decay_value, huff, ranges
from planner.optimise.types import ConstraintKeys, Instance


def _mask(m: int, sites: list[int]) -> np.ndarray:
    out = np.zeros(m, dtype=bool)
    out[sites] = True
    return out


def test_ranges_concatenates_aranges() -> None:
    assert ranges(np.array([2, 0, 3])).tolist() == [0, 1, 0, 1, 2]
    assert ranges(np.array([], dtype=np.int64)).size == 0


def test_huff_share_and_zero_over_zero() -> None:
    # S/(S+c): 0/0 -> 0, 1/(1+1), 2/(2+0), 3/(3+1)
    got = huff(np.array([0.0, 1.0, 2.0, 3.0]), np.array([0.0, 1.0, 0.0, 1.0]))
    assert got.tolist() == pytest.approx([0.0, 0.5, 1.0, 0.75])


def test_decay_value_each_kind() -> None:
    km = np.array([0.0, 1.5, 3.0, 4.0, 10.0])
    r = np.full(5, 3.0)
    assert decay_value(km, r, "step").tolist() == [1, 1, 1, 0, 0]
    assert decay_value(km, r, "linear").tolist() == pytest.approx([1, 0.5, 0, 0, 0])
    # exp(-d/r) up to 3r = 9 km, 0 beyond
    assert decay_value(km, r, "exponential").tolist() == pytest.approx(
        [1, np.exp(-0.5), np.exp(-1.0), np.exp(-4 / 3), 0.0]
    )
    with pytest.raises(ValueError, match="unknown decay"):
        decay_value(km, r, "cubic")


def test_compile_cover4_step() -> None:
    m = compile_model(cover4(2), "coverage")
    # cell-sorted pairs; step benefit = the cell's weight
    assert m.pc.tolist() == [0, 1, 1, 2, 3]
    assert m.ps.tolist() == [0, 0, 1, 1, 2]
    assert m.val.tolist() == [10, 20, 20, 30, 40]
    assert m.cell_ptr.tolist() == [0, 1, 3, 4, 5]
    assert [m.site_cells(j).tolist() for j in range(3)] == [[0, 1], [2, 3], [4]]
    assert (m.offset, m.sign, m.maximise, m.p) == (0.0, 1.0, True, 2)
    # {1}: 20+30; {1,2}: 20+30+40; {0,1}: 10+20+30
    assert m.value(_mask(3, [1])) == 50
    assert m.value(_mask(3, [1, 2])) == 90
    assert m.value(_mask(3, [0, 1])) == 60
    assert m.cell_values(_mask(3, [0])).tolist() == [10, 20, 0, 0]


@pytest.mark.parametrize("decay, expect", [
    # w_i * f(d, 3): linear 1 - d/3, exponential exp(-d/3)
    ("linear", [10 * 2 / 3, 20 / 3, 20 * 2 / 3, 30 / 3, 40 * 5 / 6]),
    ("exponential", [10 * np.exp(-1 / 3), 20 * np.exp(-2 / 3), 20 * np.exp(-1 / 3), 30 * np.exp(-2 / 3),
                     40 * np.exp(-0.5 / 3)]),
])
def test_compile_cover4_decay(decay: str, expect: list[float]) -> None:
    m = compile_model(cover4(1, decay=decay), "coverage")
    assert m.val.tolist() == pytest.approx(expect)
    # a cell takes its best open site: cell 1 under {0, 1} takes site 1's 20*f(1)
    assert m.value(_mask(3, [0, 1])) == pytest.approx(expect[0] + expect[2] + expect[3])


def test_compile_drops_cells_out_of_radius() -> None:
    # radius 0.75 km: only the 0.5 km pair (cell 3, site 2) counts
    m = compile_model(cover4(1, radius_km=np.full(3, 0.75)), "coverage")
    assert m.n_cells == 1 and m.cell_map.tolist() == [3]
    assert m.value(_mask(3, [2])) == 40 and m.value(_mask(3, [0, 1])) == 0


def test_compile_line4_distance() -> None:
    m = compile_model(line4(2), "distance")
    # benefit = unreachable - km = 100 - |x_i - x_j|; user = 4 * 100 - value
    assert (m.offset, m.sign, m.maximise) == (400.0, -1.0, False)
    v = m.value(_mask(4, [1, 3]))
    assert v == 99 + 100 + 99 + 100
    assert m.user_objective(v) == 2.0
    assert m.internal(2.0) == v
    # {0, 3}: cells at 0, 1, 2 walk 0 + 1 + 2 km
    assert m.user_objective(m.value(_mask(4, [0, 3]))) == 3.0


def test_compile_huff1_market_share() -> None:
    m = compile_model(huff1(2), "market_share")
    assert not m.facility
    assert m.val.tolist() == [1.0, 1.0]  # attraction 1 * (1 + 0)^-2
    assert m.value(_mask(2, [0])) == pytest.approx(50.0)  # 100 * 1/(1+1)
    assert m.value(_mask(2, [0, 1])) == pytest.approx(200 / 3)  # 100 * 2/(2+1)
    assert m.value(_mask(2, [])) == 0.0


def test_forced_value_moves_into_offset() -> None:
    # site 2 forced: cell 3's 40 is a constant, so the model keeps cells 0-2 only
    m = compile_model(cover4(2, fixed=np.array([2])), "coverage")
    assert m.offset == 40.0 and m.n_cells == 3
    assert m.forced.tolist() == [False, False, True]
    assert m.user_objective(m.value(_mask(3, [1, 2]))) == 90.0
    assert m.user_objective(m.value(_mask(3, [0, 2]))) == 70.0


@pytest.mark.parametrize("kind", ["coverage", "distance", "market_share"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_user_objective_matches_brute_formula(kind: str, seed: int) -> None:
    inst = random_instance(seed, decay=["step", "linear", "exponential"][seed], fixed=np.array([seed]))
    m = compile_model(inst, kind)
    for sites in ([seed], [seed, 3], [seed, 4, 5]):
        got = m.user_objective(m.value(_mask(inst.n_sites, sites)))
        assert got == pytest.approx(brute_value(inst, kind, sites), abs=1e-9)


def test_planstate_spacing_conflict() -> None:
    st = PlanState(compile_model(cover4(2, conflict_a=np.array([0]), conflict_b=np.array([1])), "coverage"))
    st.add(0)
    assert not st.can_add(1) and st.can_add(2)
    assert st.can_swap(0, 1)  # closing 0 lifts its own conflict with 1
    st.add(2)
    assert st.feasible()
    st.add(1)  # forced through: both ends of the conflict open
    assert not st.feasible()


def test_planstate_location() -> None:
    st = PlanState(compile_model(cover4(2, site_location=np.array([7, 9, 9])), "coverage"))
    st.add(1)
    assert not st.can_add(2) and st.can_add(0)
    assert st.can_swap(1, 2)  # a format change at the same location
    assert not PlanState(st.m, _mask(3, [1, 2])).feasible()
    assert PlanState(st.m, _mask(3, [0, 2])).feasible()


def test_planstate_group_max_and_min() -> None:
    m = compile_model(cover4(2, groups=[group([1, 2], hi=1), group([0], lo=1)]), "coverage")
    st = PlanState(m)
    st.add(1)
    assert not st.can_add(2) and st.can_add(0)
    st.add(0)
    assert st.feasible()
    assert not st.can_swap(0, 2)  # 0 is the group minimum's only member, 2 the maximum's second
    assert st.can_swap(1, 2)  # stays at one in [1, 2]
    # {1, 2} breaks the maximum (and the minimum)
    assert not PlanState(m, _mask(3, [1, 2])).feasible()


def test_planstate_existing_kept_is_a_group_named_by_its_key() -> None:
    keys = ConstraintKeys(closures="constraints.max_closures")
    m = compile_model(cover4(1, existing=np.array([0, 2]), max_closures=1, keys=keys), "coverage")
    assert [(g.sites.tolist(), g.min_open, g.label) for g in m.groups] == [([0, 2], 1, "constraints.max_closures")]
    assert not PlanState(m, _mask(3, [1])).feasible()  # closes both existing stores
    assert PlanState(m, _mask(3, [2])).feasible()


@pytest.mark.parametrize("which", ["capex", "opex"])
def test_planstate_budget(which: str) -> None:
    kw = {f"{which}_cny": np.array([5.0, 5.0, 2.0]), f"{which}_budget_cny": 8.0}
    st = PlanState(compile_model(cover4(2, **kw), "coverage"))
    st.add(0)
    assert not st.can_add(1)  # 5 + 5 > 8
    assert st.can_add(2)  # 5 + 2 <= 8
    assert not st.can_add(2, **{f"reserve_{which}": 2.0})  # 7 + 2 > 8
    st.add(2)
    assert st.feasible()
    assert not st.can_swap(2, 1)
    assert not PlanState(st.m, _mask(3, [0, 1])).feasible()


def test_planstate_forced_forbidden_and_count() -> None:
    m = compile_model(cover4(2, fixed=np.array([0]), forbidden=np.array([1])), "coverage")
    st = PlanState(m)
    assert not st.can_add(1)
    assert PlanState(m, _mask(3, [0, 2])).feasible()
    assert not PlanState(m, _mask(3, [0])).feasible()  # one store short
    assert not PlanState(m, _mask(3, [1, 2])).feasible()  # forced 0 closed, forbidden 1 open
    st.add(0)
    st.add(2)
    assert not st.can_swap(0, 1) and not st.can_swap(2, 1)
    assert st.removable_mask().tolist() == [False, False, True]


@pytest.mark.parametrize("seed", range(6))
def test_step_coverage_merges_the_cells_its_sites_reach_alike(seed: int) -> None:
    """Cells reached by the same sites become one cell of their summed weight: fewer cells and
    pairs, the same value for every plan; a cell whose sites differ by one is kept apart."""
    from planner.optimise.check import objective_value
    from planner.optimise.model import merge_equal_cells

    rng = np.random.default_rng(seed)
    n_sites, n_cells = 12, 60
    patterns = [np.flatnonzero(rng.random(n_sites) < 0.3) for _ in range(8)]
    patterns = [p if p.size else np.array([0]) for p in patterns]
    cells = rng.integers(0, len(patterns), n_cells)
    pc = np.concatenate([np.full(patterns[k].size, c) for c, k in enumerate(cells)])
    ps = np.concatenate([patterns[k] for k in cells])
    inst = Instance(
        weight=rng.integers(1, 50, n_cells).astype(float), pair_cell=pc.astype(np.int32),
        pair_site=ps.astype(np.int32), pair_km=rng.uniform(0.0, 3.0, pc.size), n_sites=n_sites, stores=3,
        radius_km=np.full(n_sites, 5.0), fixed=np.array([int(seed % n_sites)]),
    )
    m = compile_model(inst, "coverage")
    kept = {tuple(patterns[k]) for k in cells if int(seed % n_sites) not in patterns[k]}
    assert m.n_cells == len(kept) < n_cells
    assert m.pc.size == sum(len(k) for k in kept)
    for _ in range(20):
        open_ = np.unique(np.concatenate([[seed % n_sites], rng.choice(n_sites, 2, replace=False)]))
        mask = np.zeros(n_sites, dtype=bool)
        mask[open_] = True
        assert m.offset + m.value(mask) == pytest.approx(objective_value(inst, open_, "coverage"), rel=1e-12)
    # a decay that is not a step keeps every cell (their benefits differ)
    assert compile_model(replace(inst, decay="linear"), "coverage").n_cells > m.n_cells
    # one site apart: not merged, whatever the hashes say
    ids, w, _, _, val = merge_equal_cells(np.array([10, 11]), np.array([1.0, 2.0]), np.array([0, 0, 1, 1, 1]),
                                          np.array([2, 5, 2, 5, 7]))
    assert ids.tolist() == [10, 11] and w.tolist() == [1.0, 2.0] and val.tolist() == [1.0, 1.0, 2.0, 2.0, 2.0]
    # the same sites: one cell, the first one's id, the weights summed
    ids, w, pc2, ps2, val = merge_equal_cells(np.array([10, 11, 12]), np.array([1.0, 2.0, 4.0]),
                                              np.array([0, 0, 1, 2, 2]), np.array([2, 5, 3, 2, 5]))
    assert ids.tolist() == [10, 11] and w.tolist() == [5.0, 2.0]
    assert pc2.tolist() == [0, 0, 1] and ps2.tolist() == [2, 5, 3] and val.tolist() == [5.0, 5.0, 2.0]
