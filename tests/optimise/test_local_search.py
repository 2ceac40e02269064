"""Swap search: exact move values, never worse, feasible throughout, escapes greedy's trap."""

from __future__ import annotations

import itertools
from dataclasses import replace

import numpy as np
import pytest
from micro import (
    brute_feasible,
    brute_optimum,
    brute_value,
    cover4,
    group,
    line4,
    random_instance,
    trap3,
)

from planner.optimise.greedy import greedy
from planner.optimise.local_search import best_two, local_search, move_tables
from planner.optimise.model import PlanState, compile_model


def _mask(m: int, sites) -> np.ndarray:
    out = np.zeros(m, dtype=bool)
    out[list(sites)] = True
    return out


def _sites(mask: np.ndarray) -> list[int]:
    return np.flatnonzero(mask).tolist()


@pytest.mark.parametrize("batch", [True, False])
def test_one_swap_escapes_greedy_trap(batch: bool) -> None:
    # greedy gives {0, 1} or {0, 2} (8.5); swapping 0 out for the other reaches {1, 2} = 11
    m = compile_model(trap3(), "coverage")
    start = greedy(m)
    assert 0 in _sites(start)
    out, n_swaps = local_search(m, start, batch=batch)
    assert _sites(out) == [1, 2] and n_swaps == 1
    assert m.value(out) == 11


def test_forced_site_is_never_swapped_out() -> None:
    # with site 0 forced the best plan is 0 plus either other site: 8.5
    m = compile_model(replace(trap3(), fixed=np.array([0])), "coverage")
    out, _ = local_search(m, _mask(3, [0, 1]))
    assert 0 in _sites(out)
    assert brute_value(trap3(), "coverage", _sites(out)) == 8.5


def test_blocked_best_swap_falls_back_to_a_feasible_one() -> None:
    # capex 1, 4, 2, budget 5, start {0, 1} (cost 5, value 60). The best swap 0 -> 2 ({1, 2}, 90)
    # costs 6; the next, 1 -> 2 ({0, 2}, 70), costs 3: the budget optimum.
    inst = cover4(2, capex_cny=np.array([1.0, 4.0, 2.0]), capex_budget_cny=5.0)
    out, _ = local_search(compile_model(inst, "coverage"), _mask(3, [0, 1]))
    assert _sites(out) == [0, 2]
    assert brute_optimum(inst, "coverage") == (70.0, [(0, 2)])


def test_group_maximum_kept_while_improving() -> None:
    # at most one of {1, 2}: {0, 1} = 60 -> {0, 2} = 70 (the group's optimum; {1, 2} breaks it)
    inst = cover4(2, groups=[group([1, 2], hi=1)])
    out, n = local_search(compile_model(inst, "coverage"), _mask(3, [0, 1]))
    assert _sites(out) == [0, 2] and n == 1


def test_best_two_by_hand_on_line4() -> None:
    # benefits 100 - |x_i - x_j| at x = 0, 1, 2, 10; open {0, 3}
    m = compile_model(line4(2), "distance")
    b1, s1, b2 = best_two(m, _mask(4, [0, 3]))
    assert b1.tolist() == [100, 99, 98, 100]
    assert s1.tolist() == [0, 0, 0, 3]
    assert b2.tolist() == [90, 91, 92, 90]


def test_move_tables_by_hand_on_line4() -> None:
    m = compile_model(line4(2), "distance")
    t = move_tables(m, _mask(4, [0, 3]))
    # gain[1]: cells 1, 2 gain 1 each; gain[2]: cell 2 gains 2
    assert t.gain[[1, 2]].tolist() == [2, 2]
    # loss[0]: cells 0-2 fall back to site 3: 10 + 8 + 6; loss[3]: cell 3 falls to site 0: 10
    assert t.loss[[0, 3]].tolist() == [24, 10]
    # extra(0 -> 1): cells 0-2 keep min(v_1, b1) - b2 = 9 + 8 + 6
    extra = t.lookup(np.array([0]), np.array([1]), 4)
    assert extra.tolist() == [23]
    # so the swap is worth 2 - 24 + 23 = +1: total km 3 -> 2
    assert brute_value(line4(2), "distance", [0, 3]) - brute_value(line4(2), "distance", [1, 3]) == 1


@pytest.mark.parametrize("kind", ["coverage", "distance", "market_share"])
@pytest.mark.parametrize("seed", [0, 1])
def test_move_table_scores_are_exact_swap_values(kind: str, seed: int) -> None:
    inst = random_instance(seed, decay="linear")
    m = compile_model(inst, kind)
    sign = -1.0 if kind == "distance" else 1.0
    plan = [0, 2, 4] if seed else [1, 3]
    inst.stores = len(plan)
    t = move_tables(m, _mask(inst.n_sites, plan))
    for f in plan:
        for j in set(range(inst.n_sites)) - set(plan):
            new = [s for s in plan if s != f] + [j]
            want = sign * (brute_value(inst, kind, new) - brute_value(inst, kind, plan))
            got = t.gain[j] - t.loss[f] + t.lookup(np.array([f]), np.array([j]), m.n_sites)[0]
            assert got == pytest.approx(want, abs=1e-9)


@pytest.mark.parametrize("kind", ["coverage", "distance", "market_share"])
@pytest.mark.parametrize("seed", range(4))
def test_never_worse_and_stays_feasible(kind: str, seed: int) -> None:
    inst = random_instance(
        seed, n_sites=7, stores=3, conflict_a=np.array([0, 2]), conflict_b=np.array([1, 3]),
        groups=[group([4, 5, 6], lo=1, hi=2)], capex_cny=np.arange(1.0, 8.0), capex_budget_cny=14.0,
    )
    m = compile_model(inst, kind)
    starts = [c for c in itertools.combinations(range(7), 3) if brute_feasible(inst, c)]
    opt, _ = brute_optimum(inst, kind)
    sign = -1.0 if kind == "distance" else 1.0
    for c in starts[seed::4]:
        out, _ = local_search(m, _mask(7, c))
        assert brute_feasible(inst, _sites(out))
        assert PlanState(m, out).feasible()
        before, after = brute_value(inst, kind, c), brute_value(inst, kind, _sites(out))
        assert sign * (after - before) >= -1e-9
        assert sign * (opt - after) >= -1e-9


def test_a_round_is_charged_its_pairs_its_pair_pairs_and_the_swaps_it_checked() -> None:
    """Market share's dense cells make pair-pairs, constraints make checks: each round charges both,
    once known, and a work limit below one round's cost stops after exactly one round."""
    from planner.optimise.incumbent import SWAP_CHECK_S, SWAP_ROUND_S_PER_PAIR_PAIR, Work
    from planner.optimise.local_search import round_seconds
    from planner.synthetic import clustered_instance

    m = compile_model(clustered_instance(n_cells=3000, n_sites=300, stores=40, n_fixed=4, seed=5, radius_km=12.0),
                      "market_share")
    st = PlanState(m)
    for j in np.random.default_rng(0).permutation(m.n_sites):  # a random plan: far from a local optimum
        if st.n_open < m.p and not st.open[j] and st.can_add(int(j)):
            st.add(int(j))
    start = st.open.copy()
    t = move_tables(m, start)
    assert t.pair_pairs > 0
    work = Work(1e9)
    _, n_swaps = local_search(m, start, max_rounds=1, work=work, time_limit_s=600)
    checks = (work.spent - round_seconds(m) - SWAP_ROUND_S_PER_PAIR_PAIR * t.pair_pairs) / SWAP_CHECK_S
    assert n_swaps >= 1 and checks == pytest.approx(round(checks), abs=1e-6) and round(checks) >= n_swaps
    once = Work(1e9)
    local_search(m, start, max_rounds=100, work=once, work_s=1e-9, time_limit_s=600)
    assert once.spent == pytest.approx(work.spent)
    # with room for more, more rounds run (the plan above was not a local optimum yet)
    more = Work(1e9)
    local_search(m, start, max_rounds=100, work=more, time_limit_s=600)
    assert more.spent > work.spent
