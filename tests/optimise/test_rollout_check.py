"""The rollout checker is independent of the solvers: it catches their bugs, and imports none of them."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from rollout_micro import all_open, cfg, micro

import planner.optimise.check
import planner.optimise.rollout_check
from planner.optimise.rollout import RolloutResult, check_rollout, schedule
from planner.optimise.rollout import model as solver_model
from planner.optimise.rollout.model import NetworkValue, quarter_table
from planner.optimise.rollout_check import quarter_values, quarterly_metrics
from planner.synthetic import greedy_selection, synthetic_rollout_instance

#: What the rollout checker may import from the planner: data types, errors, and the selection checker.
ALLOWED = {"planner.optimise.rollout.types", "planner.optimise.types", "planner.errors", "planner.optimise.check"}


def _planner_imports(path: str | None) -> set[str]:
    assert path is not None
    tree = ast.parse(Path(path).read_text(encoding="utf-8"))
    out: set[str] = set()
    for node in ast.walk(tree):  # module level and inside functions alike
        if isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
    return {m for m in out if m == "planner" or m.startswith("planner.")}


def test_rollout_check_imports_no_solver_module() -> None:
    assert _planner_imports(planner.optimise.rollout_check.__file__) <= ALLOWED
    # the one checker it leans on (the joint mode's final network) must be solver-free too
    assert _planner_imports(planner.optimise.check.__file__) <= {"planner.optimise.types", "planner.errors"}


def test_importing_the_checker_loads_no_solver() -> None:
    code = (
        "import sys, planner.optimise.rollout_check\n"
        "bad = [m for m in sys.modules if m.startswith('ortools') or m in ("
        "'planner.optimise.rollout.model', 'planner.optimise.rollout.solve', 'planner.optimise.rollout.mip', "
        "'planner.optimise.rollout.greedy', 'planner.optimise.model', 'planner.optimise.solve')]\n"
        "print(bad)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# ----------------------------------------------------------- injected solver bugs
def test_checker_rejects_a_schedule_whose_value_model_is_wrong(monkeypatch: pytest.MonkeyPatch) -> None:
    """THE test: a solver value model that over-reports by 1 % must not pass the check."""
    ri = micro([1.0, 10.0, 5.0])
    c = cfg(initial_managers=0, external_hires_per_quarter=1)
    good = schedule(ri, all_open(ri), c, time_limit_s=10)
    assert check_rollout(ri, good, c) == []
    # the reported objective of a value is 1 % too high: the search is unchanged, its report is wrong,
    # and the solver, which verifies every result it returns, refuses to return it
    real_objective = NetworkValue.objective
    monkeypatch.setattr(NetworkValue, "objective", lambda self, value: 1.01 * real_objective(self, value))
    with pytest.raises(RuntimeError, match="table column 'objective' differs"):
        schedule(ri, all_open(ri), c, time_limit_s=10)
    monkeypatch.undo()
    # the network's value itself 1 % too high: a result built from it is rejected on its objective
    real_total = NetworkValue.total
    monkeypatch.setattr(NetworkValue, "total", lambda self, state: 1.01 * real_total(self, state))
    ri.cache.clear()
    table, total, _ = quarter_table(ri, c, good.open_sites, good.quarter, good.hires)
    assert total == pytest.approx(1.01 * good.objective)
    bad = RolloutResult(open_sites=good.open_sites, quarter=good.quarter, hires=good.hires, table=table,
                        objective=total, objective_kind="coverage", bound=None, gap=None, seconds=0.0,
                        methods={}, status="feasible", mode="two_stage")
    problems = "\n".join(check_rollout(ri, bad, c))
    assert "table column 'objective' differs" in problems
    assert f"objective {total} != recomputed {good.objective}" in problems


def test_checker_rejects_a_schedule_whose_manager_pool_is_wrong(monkeypatch: pytest.MonkeyPatch) -> None:
    ri = micro([1.0, 10.0, 5.0])
    c = cfg(initial_managers=0, external_hires_per_quarter=1)
    real_pool = solver_model.manager_pool

    def one_manager_too_many(*args: object) -> object:
        pool = real_pool(*args)  # type: ignore[arg-type]
        pool.ready = pool.ready + 1.0
        return pool

    monkeypatch.setattr(solver_model, "manager_pool", one_manager_too_many)
    with pytest.raises(RuntimeError, match="managers_ready"):
        schedule(ri, all_open(ri), c, time_limit_s=10)


# --------------------------------------------------- the checker's own kernel
@pytest.mark.parametrize("kind", ["coverage", "distance", "market_share"])
def test_checker_kernel_agrees_with_the_solvers_on_a_real_schedule(kind: str) -> None:
    ri = synthetic_rollout_instance(n_cells=500, n_sites=50, n_existing=4, n_provinces=2, stores=14,
                                    kind=kind, seed=2)  # type: ignore[arg-type]
    c = cfg(quarters=4, initial_managers=3, cadres_per_store=0.5, training_quarters=1, attrition_pct=10.0,
            external_hires_per_quarter=1)
    res = schedule(ri, greedy_selection(ri), c, time_limit_s=5, use_mip=False)
    m = quarterly_metrics(ri, c, res.open_sites, res.quarter, res.hires)
    assert m["objective_total"] == pytest.approx(res.objective, rel=1e-9)
    for col in res.table.columns[1:]:
        np.testing.assert_allclose(m["columns"][col], res.table[col].to_numpy(dtype=float), rtol=1e-9)


def test_checker_kernel_by_hand() -> None:
    ri = micro([10.0, 5.0], existing=[1.0])
    site_q = np.array([-1, 0, 3])  # site 2 never opens within 2 quarters
    assert quarter_values(ri.instance, "coverage", site_q, 2).tolist() == [11.0, 11.0]
    m = quarterly_metrics(ri, cfg(quarters=2), np.array([0, 1, 2]), np.array([-1, 1, 0]), np.array([0, 0]))
    assert m["columns"]["objective"].tolist() == [6.0, 16.0]
    assert m["columns"]["opex_cny"].tolist() == [2.0, 3.0]
    assert m["objective_total"] == 22.0
