"""The profit objective on micro-instances whose optimum is known by hand.

``three_shops``: three cells, each with one own site at 0 km (attractiveness 1,
strength 1) against a competitor pull of 1, so an open site captures half its
cell: weights 100, 60, 20 give captured 50, 30, 10. With margin 1 and a fixed
cost of 20 per site the sites earn 30, 10 and -10 on their own, and no two
share a cell, so a plan's profit is the sum of its sites':

- count range 1..3: open {0, 1}, profit 40 (a count inside the range; 1 store
  gives 30, 3 stores 30);
- the same with site 2 signed (fixed): {0, 1, 2}, profit 40 - 10 = 30;
- exactly 1 store: {0}, 30.
"""

from __future__ import annotations

import itertools
from dataclasses import replace

import numpy as np
import pytest

from planner.errors import DataError
from planner.optimise.check import check_solution, objective_value
from planner.optimise.profit import profit_lagrangian, profit_model, select_range, solve_profit
from planner.optimise.solve import solve
from planner.optimise.types import Instance, Solution
from planner.synthetic import clustered_instance, with_profit


def three_shops(**kw: object) -> Instance:
    base: dict[str, object] = dict(
        weight=np.array([100.0, 60.0, 20.0]),
        pair_cell=np.array([0, 1, 2], dtype=np.int32),
        pair_site=np.array([0, 1, 2], dtype=np.int32),
        pair_km=np.zeros(3),
        n_sites=3,
        stores=1,
        radius_km=np.full(3, 5.0),
        site_attr=np.ones(3),
        competitor_pull=np.ones(3),
        beta=2.0,
        site_fixed_cost=np.full(3, 20.0),
        margin=1.0,
        stores_min=1,
        stores_max=3,
    )
    base.update(kw)
    return Instance(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize("max_enumerated", [20_000, 0])
def test_count_inside_range_is_best(max_enumerated: int) -> None:
    sol = solve_profit(three_shops(), max_enumerated=max_enumerated, time_limit_s=5)
    assert sol.open_sites.tolist() == [0, 1]
    assert sol.objective == pytest.approx(40.0)
    assert sol.bound is not None and sol.bound >= 40.0 - 1e-9
    assert sol.gap is not None and sol.gap <= 1e-6


@pytest.mark.parametrize("max_enumerated", [20_000, 0])
def test_signed_unprofitable_site_opens(max_enumerated: int) -> None:
    sol = solve_profit(three_shops(fixed=np.array([2])), max_enumerated=max_enumerated, time_limit_s=5)
    assert sol.open_sites.tolist() == [0, 1, 2]
    assert sol.objective == pytest.approx(30.0)


def test_exact_count_without_range() -> None:
    sol = solve(three_shops(stores_min=None, stores_max=None, stores=1), "profit", time_limit_s=5)
    assert sol.open_sites.tolist() == [0]
    assert sol.objective == pytest.approx(30.0)


def test_minimum_forces_a_losing_store() -> None:
    # at least 3 stores: the loss-maker must open too (30 + 10 - 10)
    sol = solve_profit(three_shops(stores_min=3), max_enumerated=0, time_limit_s=5)
    assert sol.open_sites.tolist() == [0, 1, 2]
    assert sol.objective == pytest.approx(30.0)


def test_checker_rejects_count_outside_range_and_wrong_profit() -> None:
    inst = three_shops(stores_min=2, stores_max=2)
    bad = Solution(open_sites=np.array([0]), objective=30.0, objective_kind="profit")
    rep = check_solution(inst, bad)
    assert not rep.ok and any("between 2 and 2" in v for v in rep.violations)
    wrong = Solution(open_sites=np.array([0, 1]), objective=50.0, objective_kind="profit")
    rep = check_solution(inst, wrong)
    assert not rep.ok and any("differs from the recomputed" in v for v in rep.violations)
    assert objective_value(inst, np.array([0, 1]), "profit") == pytest.approx(40.0)


def test_select_range_takes_minimum_then_positive_only() -> None:
    pm = profit_model(three_shops(stores_min=2, stores_max=3))
    sel = select_range(pm.model, np.array([5.0, -1.0, -3.0]), 2, 3)
    assert sel.tolist() == [True, True, False]  # the second is negative but the minimum needs it
    sel = select_range(pm.model, np.array([5.0, 1.0, 2.0]), 1, 2)
    assert sel.tolist() == [True, False, True]


def _brute_force(inst: Instance) -> float:
    lo, hi = inst.store_range()
    best = -np.inf
    fixed = set(np.asarray(inst.fixed).tolist())
    for k in range(lo, hi + 1):
        for combo in itertools.combinations(range(inst.n_sites), k):
            if not fixed <= set(combo):
                continue
            best = max(best, objective_value(inst, np.array(combo, dtype=np.int64), "profit"))
    return best


@pytest.mark.parametrize("seed", range(8))
def test_profit_never_exceeds_its_bound(seed: int) -> None:
    """Property: on random small instances, objective <= brute-force optimum <= bound (the Lagrangian alone too)."""
    rng = np.random.default_rng(seed)
    base = clustered_instance(n_cells=40, n_sites=9, stores=3, n_fixed=1, n_cities=1, seed=seed,
                              radius_km=4.0, max_km=12.0, spread_km=6.0)
    inst = with_profit(base, seed=seed, margin=float(rng.uniform(0.5, 2.0)), cost_ratio=float(rng.uniform(0.2, 1.5)),
                       stores_min=int(rng.integers(1, 3)), stores_max=int(rng.integers(3, 7)))
    opt = _brute_force(inst)
    sol = solve_profit(inst, max_enumerated=0, time_limit_s=5)
    assert sol.objective <= opt + 1e-6 * max(1.0, abs(opt))
    assert sol.bound is not None and sol.bound >= opt - 1e-6 * max(1.0, abs(opt))
    pm = profit_model(inst)
    mask = np.zeros(inst.n_sites, dtype=bool)
    mask[sol.open_sites] = True
    raw = profit_lagrangian(pm, pm.value(mask), mask, max_iter=30)
    assert pm.profit(raw) >= opt - 1e-6 * max(1.0, abs(opt))


def test_interchange_round_trip_and_errors() -> None:
    inst = three_shops()
    arrays = inst.to_arrays()
    assert {"site_fixed_cost", "margin", "stores_min", "stores_max"} <= set(arrays)
    back = Instance.from_arrays(**arrays)
    assert back.store_range() == (1, 3) and back.margin == 1.0
    np.testing.assert_allclose(back.site_fixed_cost, 20.0)
    with pytest.raises(DataError, match="site_fixed_cost"):
        Instance.from_arrays(**{**arrays, "site_fixed_cost": np.ones(2)})
    with pytest.raises(DataError, match="stores_min"):
        Instance.from_arrays(**{**arrays, "stores_min": 4})
    with pytest.raises(DataError, match="margin"):
        Instance.from_arrays(**{**arrays, "margin": -1.0})


def test_bench_contract_profit(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """``planner bench instance FILE.npz --objective profit`` with the range arrays (the contract)."""
    from planner.bench import run_instance

    f = tmp_path / "p.npz"
    np.savez(f, **three_shops().to_arrays())
    out = run_instance(f, "profit", time_limit_s=5)
    assert set(out) == {"objective", "bound", "gap", "seconds", "open", "status"}
    assert out["open"] == [0, 1] and out["objective"] == pytest.approx(40.0)
    # without the range arrays the exact `stores` (1) holds
    arrays = {k: v for k, v in three_shops().to_arrays().items() if k not in ("stores_min", "stores_max")}
    np.savez(f, **arrays)
    assert run_instance(f, "profit", time_limit_s=5)["open"] == [0]


@pytest.mark.parametrize("max_enumerated", [20_000, 0])
def test_a_proven_loss_is_optimal_with_gap_zero(max_enumerated: int) -> None:
    # every site costs 100 and earns at most 50: one store must open, the best loses 50
    sol = solve_profit(three_shops(site_fixed_cost=np.full(3, 100.0), stores_max=2), max_enumerated=max_enumerated,
                       time_limit_s=5)
    assert sol.open_sites.tolist() == [0]
    assert sol.objective == pytest.approx(-50.0)
    assert sol.bound is not None and sol.bound >= sol.objective - 1e-9
    if max_enumerated or sol.bound <= sol.objective + 1e-9:  # proven: a relative gap is 0 whatever the sign
        assert sol.gap == 0.0 and sol.status == "optimal"
    else:
        assert sol.gap is None  # a negative bound above the plan: no relative gap to give


def test_a_move_round_is_charged_for_its_pairs_and_its_extra_table() -> None:
    """Dense cells make the extra table, not the pairs, the round's cost: the charge counts both,
    so the work budget (not the wall clock) ends the search on dense instances too."""
    from planner.optimise.incumbent import PROFIT_ROUND_S_PER_PAIR_PAIR, Work
    from planner.optimise.local_search import move_tables
    from planner.optimise.profit import greedy_profit, local_search_profit, profit_round_seconds

    inst = with_profit(clustered_instance(n_cells=3000, n_sites=300, stores=40, n_fixed=4, seed=3, radius_km=12.0),
                       seed=0, cost_ratio=0.3, stores_min=4, stores_max=60)
    pm = profit_model(inst)
    start = greedy_profit(pm)
    t = move_tables(pm.model, start)
    assert t.pair_pairs > pm.model.pc.size  # dense: more pair-pairs than pairs
    work = Work(1e9)
    local_search_profit(pm, start, max_rounds=1, work=work, time_limit_s=600)
    assert work.spent == pytest.approx(profit_round_seconds(pm) + PROFIT_ROUND_S_PER_PAIR_PAIR * t.pair_pairs)
    # a budget smaller than one round: exactly one round, whatever the machine
    once = Work(1e9)
    local_search_profit(pm, start, max_rounds=100, work=once, work_s=1e-9, time_limit_s=600)
    assert once.spent == pytest.approx(work.spent)


def test_the_lagrangian_is_charged_for_its_tables_not_its_pairs() -> None:
    """Without rivals every cell is a step cell (no subset table): the same pairs cost a
    fraction of an iteration, and both runs charge exactly the cost model per iteration."""
    from planner.optimise.incumbent import CELL_HULL_S_PER_ENTRY, CELL_HULL_S_PER_PAIR, Work
    from planner.optimise.market_share_bounds import cell_hull_seconds, cell_tables
    from planner.optimise.profit import greedy_profit, profit_lagrangian, profit_lagrangian_seconds

    base = with_profit(clustered_instance(n_cells=3000, n_sites=300, stores=40, n_fixed=0, seed=4, radius_km=12.0),
                       seed=0, cost_ratio=0.3, stores_min=10, stores_max=60)
    charged = {}
    for name, inst in {"rivals": base, "none": replace(base, competitor_pull=None)}.items():
        pm = profit_model(inst)
        start = greedy_profit(pm)
        tab = cell_tables(pm.model, start)
        per = profit_lagrangian_seconds(pm, tab)
        assert per == pytest.approx(cell_hull_seconds(pm.model, tab) + CELL_HULL_S_PER_PAIR * pm.model.n_sites)
        work = Work(1e9)
        profit_lagrangian(pm, pm.value(start), start, max_iter=7, gap_stop=0.0, work=work, tables=tab,
                          time_limit_s=600)
        assert work.spent == pytest.approx(7 * per)
        charged[name] = (per, tab.entries, pm.model.pc.size)
    (per_r, entries_r, pairs_r), (per_n, entries_n, pairs_n) = charged["rivals"], charged["none"]
    assert pairs_r == pairs_n and entries_n == 0 < entries_r
    assert per_r - per_n == pytest.approx(CELL_HULL_S_PER_ENTRY * entries_r)
