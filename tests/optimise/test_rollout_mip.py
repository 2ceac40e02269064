"""The rollout MIP and its linear upper model (planner.optimise.rollout.mip / .linearise)."""

from __future__ import annotations

import numpy as np
import pytest
from rollout_micro import cfg, micro

from planner.optimise.rollout import RolloutInstance, RolloutParams
from planner.optimise.rollout.context import Context, make_context
from planner.optimise.rollout.linearise import linearise
from planner.optimise.rollout.mip import Families, Mip, diagnose
from planner.optimise.types import Instance


def two_stage(ri: RolloutInstance, params: RolloutParams) -> Context:
    pre = ri.preopen_mask()
    cand = np.flatnonzero(~pre)
    return make_context(ri, params, np.flatnonzero(pre), cand, must_open=True, n_required=int(cand.size))


def test_linearise_is_exact_and_modular_on_separate_cells() -> None:
    lin = linearise(two_stage(micro([10.0, 6.0, 5.0], existing=[2.0]), cfg()), max_terms=100, seed=0)
    assert lin.exact and lin.const == 2.0
    assert lin.v.tolist() == [10.0, 6.0, 5.0] and lin.cov_sets == []


def test_linearise_writes_a_shared_cell_as_one_any_of_term() -> None:
    # one cell of weight 10 reached by both sites: worth 10 once either opens
    inst = Instance(weight=np.array([10.0]), pair_cell=np.array([0, 0], dtype=np.int32),
                    pair_site=np.array([0, 1], dtype=np.int32), pair_km=np.zeros(2), n_sites=2, stores=2,
                    radius_km=np.ones(2))
    ri = RolloutInstance(instance=inst, site_province=np.zeros(2), site_is_county=np.zeros(2, dtype=bool))
    lin = linearise(two_stage(ri, cfg()), max_terms=100, seed=0)
    assert lin.exact and lin.v.tolist() == [0.0, 0.0]
    assert [sorted(s.tolist()) for s in lin.cov_sets] == [[0, 1]] and lin.cov_w.tolist() == [10.0]
    # with no room for the term it is over-estimated by single-site values (the bound stays valid)
    lin0 = linearise(two_stage(ri, cfg()), max_terms=0, seed=0)
    assert not lin0.exact and lin0.v.tolist() == [10.0, 10.0]


@pytest.mark.parametrize("backend", ["HIGHS", "SCIP"])
def test_mip_finds_the_budget_optimum(backend: str) -> None:
    # budget 2 per quarter: {6, 5} in Q0 then 10 (11 + 21 = 32) beats 10 first (10 + 21 = 31)
    ctx = two_stage(micro([10.0, 6.0, 5.0], capex=[2.0, 1.0, 1.0]), cfg(quarters=2, capex_budget_per_quarter_cny=2.0))
    lin = linearise(ctx, max_terms=100, seed=0)
    out = Mip(ctx, lin, backend, Families()).solve(10.0, None, 1)
    assert out.status == "optimal" and out.q is not None
    assert out.q.tolist() == [1, 0, 0]
    assert out.mip_value == pytest.approx(32.0) and out.bound == pytest.approx(32.0)
    lp = Mip(ctx, lin, backend, Families(), relax=True).solve(10.0, None, 1)
    assert lp.mip_value is not None and lp.mip_value >= 32.0 - 1e-6  # the LP bounds the MIP


def test_mip_chain_of_command_delays_county_stores() -> None:
    ri = micro([10.0, 2.0, 1.0], existing=[0.0], county=[True, False, False])
    ctx = two_stage(ri, cfg(city_stores_before_county=2))
    out = Mip(ctx, linearise(ctx, max_terms=100, seed=0), "HIGHS", Families()).solve(10.0, None, 1)
    assert out.q is not None and out.q.tolist() == [1, 0, 0]
    free = Mip(ctx, linearise(ctx, max_terms=100, seed=0), "HIGHS", Families(chain=False)).solve(10.0, None, 1)
    assert free.q is not None and free.q.tolist() == [0, 0, 0]


def test_infeasible_mip_and_diagnosis() -> None:
    # managers alone suffice (2 free hires would), money alone too, but hires cost 1 and the budget is 1
    ri = micro([1.0, 2.0], capex=[0.0, 0.0])
    ctx = two_stage(ri, cfg(quarters=1, initial_managers=0, external_hires_per_quarter=2,
                            external_hire_cost_cny=1.0, capex_budget_per_quarter_cny=1.0))
    assert Mip(ctx, None, "HIGHS", Families()).solve(10.0, None, 1).status == "infeasible"
    words = "\n".join(diagnose(ctx, "HIGHS", 10.0))
    assert "without the manager pipeline" in words and "without the capex budget" in words


# ---------------------------------------------------------------- work limit and safety net
def _national_like() -> Context:
    from planner.synthetic import synthetic_rollout_instance

    ri = synthetic_rollout_instance(n_cells=3000, n_sites=300, n_existing=20, n_provinces=4, stores=120, seed=4)
    pre = ri.preopen_mask()
    cand = np.flatnonzero(~pre)[:100]
    params = cfg(quarters=4, initial_managers=200, capex_budget_per_quarter_cny=8.0e7)
    return make_context(ri, params, np.flatnonzero(pre), cand, must_open=True, n_required=int(cand.size))


@pytest.mark.parametrize("backend", ["HIGHS", "SCIP"])
def test_a_node_limited_mip_stops_on_its_nodes_not_the_clock(backend: str) -> None:
    from micro import quiet_then_busy

    ctx = _national_like()
    lin = linearise(ctx, max_terms=2000, seed=0)

    def run() -> tuple[list[int], float | None, float | None, str, bool]:
        out = Mip(ctx, lin, backend, Families()).solve(600.0, None, 1, 1e-6, node_limit=1)
        assert out.q is not None
        return out.q.tolist(), out.mip_value, out.bound, out.status, out.clock_cut

    quiet, busy = quiet_then_busy(run)
    assert quiet[4] is False and quiet[3] in ("optimal", "feasible")
    assert quiet[1] is not None and quiet[2] is not None and quiet[2] >= quiet[1] - 1e-6 * abs(quiet[1])
    assert quiet == busy  # the same schedule, value and bound with a core burning


def test_the_clock_cutting_the_rollout_mip_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    from planner.optimise.rollout import mip as mip_mod
    from planner.optimise.rollout.solve import schedule
    from planner.synthetic import greedy_selection, synthetic_rollout_instance

    real = mip_mod.Mip.solve

    def cut(self: Mip, *a: object, **kw: object) -> object:
        """The solve as if the wall clock had ended it: the LP with nothing, the MIP with its plan only."""
        if self.relax:
            return mip_mod.MipOut("unknown", None, None, None, None, 10.0, clock_cut=True)
        out = real(self, *a, **kw)  # type: ignore[arg-type]
        out.status, out.bound, out.clock_cut = "feasible", None, True
        return out

    monkeypatch.setattr(mip_mod.Mip, "solve", cut)
    ri = synthetic_rollout_instance(n_cells=800, n_sites=120, n_existing=8, n_provinces=3, stores=40, seed=3)
    res = schedule(ri, greedy_selection(ri), RolloutParams(quarters=4, initial_managers=12), time_limit_s=10)
    assert res.status == "time_limit"
    warning = res.methods["warning"]
    assert "solver.time_limit_s = 10 s" in warning and "rollout MIP" in warning and "LP relaxation" in warning
    assert res.bound is not None and res.bound > res.objective  # only the submodular bound is left
