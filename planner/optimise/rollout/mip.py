"""The time-indexed MIP of a rollout: ``Y[j, t]`` = candidate ``j`` open by the end of quarter ``t``.

Built with OR-Tools ``pywraplp`` and solved by HiGHS (through SciPy, which takes a node
limit, the deterministic work limit) by default or by SCIP (``pywraplp``) on request, on cumulative
variables, built by one ``define_*`` step per constraint family (manager
pipeline, budget, province capacity, chain of command, and in the joint mode
the site selection's own constraints) and the objective of a
:class:`~planner.optimise.rollout.linearise.Linear` upper model. Its LP
relaxation (``relax=True``) gives a bound even when the MIP finds nothing in
time. :func:`diagnose` drops one family at a time to say which one makes a
schedule impossible.
"""

# The model notation (T quarters, B budget, L training lag, E existing stores, K, Y[j, t])
# is kept in code so it reads like the docstrings.
# ruff: noqa: N806

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from ortools.linear_solver import linear_solver_pb2, pywraplp  # type: ignore[attr-defined]
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import csr_matrix

from planner.optimise.rollout.chain import county_stores_unlocked
from planner.optimise.rollout.context import NEVER, Context
from planner.optimise.rollout.linearise import Linear
from planner.optimise.rollout.npv import is_profit, linear_costs

__all__ = ["Families", "MipOut", "Mip", "diagnose"]


@dataclass
class Families:
    """Which constraint families the MIP models (all, except when diagnosing)."""

    managers: bool = True
    budget: bool = True
    province: bool = True
    chain: bool = True
    command: bool = True


@dataclass
class MipOut:
    status: str  # optimal | feasible | infeasible | unknown
    q: np.ndarray | None
    hires: np.ndarray | None
    bound: float | None  # proven bound on the linearised upper model (value units)
    mip_value: float | None
    seconds: float
    promotions: np.ndarray | None = None
    area_hires: np.ndarray | None = None
    nodes: int = 0  # branch-and-bound nodes used (HiGHS)
    clock_cut: bool = False  # the wall-clock safety net, not the node limit or the gap, ended the solve


class Mip:
    """Time-indexed MIP: ``Y[j][t]`` = candidate ``j`` open by the end of quarter ``t``."""

    def __init__(
        self, ctx: Context, lin: Linear | None, backend: str, fam: Families, *, relax: bool = False
    ) -> None:
        self.ctx, self.lin, self.fam, self.relax = ctx, lin, fam, relax
        s = pywraplp.Solver.CreateSolver(backend)
        if s is None:  # pragma: no cover - backend missing from the wheel
            raise RuntimeError(f"OR-Tools has no {backend} backend")
        self.s = s
        self.backend = backend
        s.SuppressOutput()
        self.inf = s.infinity()
        self.define_opening_variables()
        self.define_count_constraints()
        if fam.managers:
            self.define_manager_constraints()
        if fam.budget:
            self.define_budget_constraints()
        if fam.province:
            self.define_province_constraints()
        if fam.chain:
            self.define_chain_constraints()
        if self.commanded:
            self.define_command_constraints()
        if ctx.sel is not None:
            self.define_selection_constraints()
        if lin is not None:
            self.define_objective()

    # -- helpers --------------------------------------------------------------
    def _row(self, lb: float, ub: float, vars_: list[Any], coefs: Sequence[float]) -> None:
        c = self.s.Constraint(lb, ub)
        for v, a in zip(vars_, coefs, strict=True):
            c.SetCoefficient(v, float(a))

    def _opened_terms(self, members: np.ndarray, t: int) -> tuple[list[Any], list[float]]:
        """Variables and coefficients of ``sum_{j in members} (Y[j,t] - Y[j,t-1])``."""
        Y = self.Y
        vs = [Y[j][t] for j in members]
        cs = [1.0] * len(vs)
        if t > 0:
            vs += [Y[j][t - 1] for j in members]
            cs += [-1.0] * len(members)
        return vs, cs

    # -- variables --------------------------------------------------------------
    def define_opening_variables(self) -> None:
        ctx, s, T = self.ctx, self.s, self.ctx.T
        lb_last = np.full(ctx.n, 1.0 if ctx.must_open else 0.0)
        if ctx.required is not None:
            lb_last[ctx.required] = 1.0  # a signed lease or a forced candidate opens by the end
        var = s.NumVar if self.relax else s.IntVar
        avail = np.zeros(ctx.n, dtype=np.int64) if ctx.avail is None else ctx.avail
        # y[j][t] = open by the end of quarter t; not before the site's available_from
        self.Y = [[var(lb_last[j] if t == T - 1 else 0.0, 1 if t >= avail[j] else 0, f"y{j}_{t}") for t in range(T)]
                  for j in range(ctx.n)]
        for j in range(ctx.n):
            for t in range(1, T):
                self._row(-self.inf, 0.0, [self.Y[j][t - 1], self.Y[j][t]], [1.0, -1.0])
        # n[t]: new stores open by the end of quarter t
        self.nv = [s.NumVar(0, ctx.n, f"n{t}") for t in range(T)]
        self.h = [var(0, ctx.params.external_hires_per_quarter if self.fam.managers else 0, f"h{t}")
                  for t in range(T)]
        # promotions to area manager (they take a store manager each)
        self.commanded = ctx.area is not None and ctx.rinst.command is not None and self.fam.command
        self.p = [var(0, ctx.n + ctx.base.size if self.commanded else 0, f"p{t}") for t in range(T)]

    def define_count_constraints(self) -> None:
        ctx = self.ctx
        for t in range(ctx.T):
            vs = [self.Y[j][t] for j in range(ctx.n)] + [self.nv[t]]
            self._row(0.0, 0.0, vs, [1.0] * ctx.n + [-1.0])

    def define_manager_constraints(self) -> None:
        """The pipeline of :func:`~planner.optimise.rollout.model.manager_pool`, linear in ``n`` and ``h``."""
        ctx, s, params, T = self.ctx, self.s, self.ctx.params, self.ctx.T
        keep = 1.0 - params.attrition_pct / 100.0
        L, c, E = int(params.training_quarters), float(params.cadres_per_store), float(ctx.base.size)
        k = [s.NumVar(0, self.inf, f"k{t}") for t in range(T)]
        a = [s.NumVar(0, self.inf, f"a{t}") for t in range(T)]
        k[0].SetBounds(float(params.initial_managers), float(params.initial_managers))
        nv, h = self.nv, self.h
        for t in range(T):
            # a[t] = k[t] + h[t] + graduates; graduates = c * (E + n[t-L-1]) when t >= L
            vs, cs, rhs = [a[t], k[t], h[t]], [1.0, -1.0, -1.0], 0.0
            if t >= L:
                rhs = c * E
                if t - L - 1 >= 0:
                    vs.append(nv[t - L - 1])
                    cs.append(-c)
            self._row(rhs, rhs, vs, cs)
            # opened[t] + p[t] = n[t] - n[t-1] + p[t] <= a[t]
            vs, cs = [nv[t], a[t], self.p[t]], [1.0, -1.0, 1.0]
            if t:
                vs.append(nv[t - 1])
                cs.append(-1.0)
            self._row(-self.inf, 0.0, vs, cs)
            if t + 1 < T:
                # k[t+1] = keep * (a[t] - n[t] + n[t-1] - p[t])
                vs, cs = [k[t + 1], a[t], nv[t], self.p[t]], [1.0, -keep, keep, keep]
                if t:
                    vs.append(nv[t - 1])
                    cs.append(-keep)
                self._row(0.0, 0.0, vs, cs)
        self.ready = a

    def define_command_constraints(self) -> None:
        """Areas formed by ``t`` need area managers; promotions need eligible store managers.

        ``F[a, t]`` = area ``a`` formed by the end of ``t`` (monotone); a store opens
        only in a formed area; ``pre + sum_a F[a, t] <= A0 + sum_{s<=t} (p[s] + ah[s])``;
        ``p[t] <= E + n[t-P] + sum_{s<=t-P} p[s] - sum_{s<t} p[s]``.
        """
        ctx, s, T = self.ctx, self.s, self.ctx.T
        cmd = ctx.rinst.command
        assert cmd is not None and ctx.area is not None and ctx.area_pre is not None
        var = s.NumVar if self.relax else s.IntVar
        self.ah = [var(0, cmd.external_area_hires_per_quarter, f"ah{t}") for t in range(T)]
        areas = [int(x) for x in np.unique(ctx.area[ctx.area >= 0]).tolist() if not ctx.area_pre[x]]
        F = {a: [var(0, 1, f"F{a}_{t}") for t in range(T)] for a in areas}
        for a in areas:
            for t in range(1, T):
                self._row(-self.inf, 0.0, [F[a][t - 1], F[a][t]], [1.0, -1.0])
        for j in range(ctx.n):
            a = int(ctx.area[j])
            if a in F:
                for t in range(T):
                    self._row(-self.inf, 0.0, [self.Y[j][t], F[a][t]], [1.0, -1.0])
        pre = int(ctx.area_pre.sum())
        a0 = pre if cmd.initial_area_managers is None else int(cmd.initial_area_managers)
        P, E = int(cmd.promotion_after_quarters), float(ctx.base.size)
        for t in range(T):
            vs = [F[a][t] for a in areas] + self.p[: t + 1] + self.ah[: t + 1]
            cs = [1.0] * len(areas) + [-1.0] * (2 * (t + 1))
            self._row(-self.inf, float(a0 - pre), vs, cs)
            # the promoted of s <= t-P were replaced at s and are eligible again: only t-P < s < t count
            first = max(0, t - P + 1)
            vs, cs = [self.p[t]] + self.p[first:t], [1.0] * (1 + t - first)
            if t - P >= 0:
                vs.append(self.nv[t - P])
                cs.append(-1.0)
            self._row(-self.inf, E, vs, cs)

    def define_budget_constraints(self) -> None:
        ctx, params, T = self.ctx, self.ctx.params, self.ctx.T
        B = params.capex_budget_per_quarter_cny
        if B is None:
            return
        hc = float(params.external_hire_cost_cny)
        cap = ctx.capex
        nz = np.flatnonzero(cap > 0)
        for t in range(T):
            if params.carry_over:
                # cumulative spending by the end of t <= (t + 1) B
                vs = [self.Y[j][t] for j in nz] + self.h[: t + 1]
                cs = list(cap[nz]) + [hc] * (t + 1)
            else:
                vs = [self.Y[j][t] for j in nz] + [self.h[t]]
                cs = list(cap[nz]) + [hc]
                if t:
                    vs += [self.Y[j][t - 1] for j in nz]
                    cs += list(-cap[nz])
            self._row(-self.inf, B * (t + 1) if params.carry_over else B, vs, cs)

    def define_province_constraints(self) -> None:
        ctx, cap = self.ctx, self.ctx.params.max_openings_per_province_per_quarter
        if cap is None:
            return
        for p in range(ctx.n_prov):
            mem = np.flatnonzero(ctx.prov == p)
            if mem.size <= cap:
                continue
            for t in range(ctx.T):
                vs, cs = self._opened_terms(mem, t)
                self._row(-self.inf, cap, vs, cs)

    def define_chain_constraints(self) -> None:
        """County stores of province p open by t only if ``z[p,t]``; ``K z[p,t] <=`` city stores before t."""
        ctx, K = self.ctx, self.ctx.params.city_stores_before_county
        if K <= 0:
            return
        unlocked = county_stores_unlocked(ctx.city_base, K)
        for p in range(ctx.n_prov):
            if unlocked[p]:
                continue
            cty = np.flatnonzero((ctx.prov == p) & ctx.county)
            if cty.size == 0:
                continue
            city = np.flatnonzero((ctx.prov == p) & ~ctx.county)
            for t in range(ctx.T):
                z = (self.s.NumVar if self.relax else self.s.IntVar)(0, 1, f"z{p}_{t}")
                for j in cty:
                    self._row(-self.inf, 0.0, [self.Y[j][t], z], [1.0, -1.0])
                vs = [z] + ([self.Y[j][t - 1] for j in city] if t else [])
                self._row(-self.inf, float(ctx.city_base[p]), vs, [float(K)] + [-1.0] * (len(vs) - 1))

    def define_selection_constraints(self) -> None:
        """Joint mode: the site selection's constraints on the final network."""
        ctx, sel, last = self.ctx, self.ctx.sel, self.ctx.T - 1
        assert sel is not None
        Yl = [self.Y[j][last] for j in range(ctx.n)]
        self._row(sel.target_lo, sel.target, Yl, [1.0] * ctx.n)
        order = np.argsort(sel.loc, kind="stable")
        bounds = np.flatnonzero(np.r_[True, np.diff(sel.loc[order]) != 0, True])
        for a0, a1 in zip(bounds[:-1], bounds[1:], strict=True):
            if a1 - a0 > 1:
                mem = order[a0:a1]
                self._row(-self.inf, 1.0, [Yl[j] for j in mem], [1.0] * mem.size)
        for a, b in zip(sel.conf_a.tolist(), sel.conf_b.tolist(), strict=True):
            self._row(-self.inf, 1.0, [Yl[a], Yl[b]], [1.0, 1.0])
        for mem, lo, hi, _ in sel.groups:
            if mem.size and (lo > 0 or (hi is not None and hi < mem.size)):
                self._row(lo, self.inf if hi is None else hi, [Yl[j] for j in mem], [1.0] * mem.size)
        if math.isfinite(sel.capex_left):
            self._row(-self.inf, sel.capex_left, Yl, sel.capex)
        if math.isfinite(sel.opex_left):
            self._row(-self.inf, sel.opex_left, Yl, sel.opex)

    def define_objective(self) -> None:
        """Maximise the upper model summed over quarters; ``profit``: its NPV (:mod:`~planner.optimise.rollout.npv`).

        With ``profit`` every share term of quarter ``t`` is scaled by ``m d_t / 4`` and
        the opex, capex and ramp-loss terms go on ``Y[j, t]`` as they are linear.
        """
        ctx, lin, s, T = self.ctx, self.lin, self.s, self.ctx.T
        assert lin is not None
        obj = s.Objective()
        if is_profit(ctx.rinst):
            coef, scale, const = linear_costs(ctx)
        else:
            coef, scale, const = np.zeros((ctx.n, T)), np.ones(T), 0.0
        for j in range(ctx.n):
            if lin.v[j] or coef[j].any():
                for t in range(T):
                    obj.SetCoefficient(self.Y[j][t], float(lin.v[j] * scale[t] + coef[j, t]))
        for wk, st in zip(lin.cov_w, lin.cov_sets, strict=True):
            for t in range(T):
                u = s.NumVar(0.0, 1.0, "")
                self._row(-self.inf, 0.0, [u] + [self.Y[j][t] for j in st], [1.0] + [-1.0] * st.size)
                obj.SetCoefficient(u, float(wk * scale[t]))
        for hc in lin.huff_cells:
            for t in range(T):
                th = s.NumVar(0.0, self.inf, "")
                ys = [self.Y[j][t] for j in hc.sites]
                self._row(-self.inf, 0.0, [th] + ys, [1.0] + list(-hc.single))
                for slope, icpt in hc.tangents:
                    self._row(-self.inf, icpt, [th] + ys, [1.0] + list(-slope * hc.a))
                obj.SetCoefficient(th, float(scale[t]))
        obj.SetOffset(float(scale.sum()) * lin.const + const)
        obj.SetMaximization()

    # -- solve ----------------------------------------------------------------
    def solve(
        self, time_limit_s: float, hint: tuple[np.ndarray, np.ndarray] | None, threads: int,
        gap_target_pct: float = 0.01, node_limit: int | None = None,
    ) -> MipOut:
        """Solve; ``node_limit`` (branch-and-bound nodes) is the deterministic work limit, the
        time limit only a safety net (``MipOut.clock_cut`` says when it ended the solve)."""
        if self.backend == "HIGHS":
            return self._solve_highs(time_limit_s, gap_target_pct, node_limit)
        ctx, s, T = self.ctx, self.s, self.ctx.T
        t0 = time.perf_counter()
        s.SetTimeLimit(max(1, int(time_limit_s * 1000)))
        s.SetNumThreads(threads)
        if node_limit is not None:
            s.SetSolverSpecificParametersAsString(f"limits/totalnodes = {int(node_limit)}\n")
        if hint is not None:
            q, h = hint
            vs, vals = [], []
            for j in range(ctx.n):
                for t in range(T):
                    vs.append(self.Y[j][t])
                    vals.append(1.0 if 0 <= q[j] <= t else 0.0)
            vs += self.h
            vals += [float(x) for x in h]
            s.SetHint(vs, vals)
        params = pywraplp.MPSolverParameters()
        params.SetDoubleParam(params.RELATIVE_MIP_GAP, gap_target_pct / 100.0)
        st = s.Solve(params)
        secs = time.perf_counter() - t0
        clock_cut = st != pywraplp.Solver.OPTIMAL and secs >= 0.95 * time_limit_s
        if st == pywraplp.Solver.INFEASIBLE:
            return MipOut("infeasible", None, None, None, None, secs)
        if st not in (pywraplp.Solver.OPTIMAL, pywraplp.Solver.FEASIBLE):
            # pywraplp reports no usable dual bound without a solution
            return MipOut("unknown", None, None, None, None, secs, clock_cut=clock_cut)
        x = np.array([v.solution_value() for v in s.variables()])
        bound = None
        if self.lin is not None:
            bound = float(s.Objective().BestBound())
            if st == pywraplp.Solver.OPTIMAL:
                bound = max(bound, float(s.Objective().Value()))  # SCIP reports the bound with its own tolerance
        val = float(s.Objective().Value()) if self.lin is not None else None
        return self._out("optimal" if st == pywraplp.Solver.OPTIMAL else "feasible", x, bound, val, secs, clock_cut)

    def _solve_highs(self, time_limit_s: float, gap_target_pct: float, node_limit: int | None) -> MipOut:
        """The model, exported from ``pywraplp``, solved by HiGHS through ``scipy.optimize.milp``.

        ``pywraplp``'s HiGHS takes no node limit (it rejects solver-specific parameters), so a
        solve that stops short would stop on the wall clock and depend on the machine's load;
        SciPy's HiGHS takes ``node_limit``, which makes such a stop deterministic.
        """
        t0 = time.perf_counter()
        proto = linear_solver_pb2.MPModelProto()
        self.s.ExportModelToProto(proto)
        nvar = len(proto.variable)
        c = np.fromiter((v.objective_coefficient for v in proto.variable), dtype=float, count=nvar)
        lb = np.fromiter((v.lower_bound for v in proto.variable), dtype=float, count=nvar)
        ub = np.fromiter((v.upper_bound for v in proto.variable), dtype=float, count=nvar)
        integ = np.fromiter((v.is_integer for v in proto.variable), dtype=float, count=nvar)
        cons = proto.constraint
        lens = np.fromiter((len(k.var_index) for k in cons), dtype=np.int64, count=len(cons))
        idx = np.fromiter((i for k in cons for i in k.var_index), dtype=np.int64, count=int(lens.sum()))
        coef = np.fromiter((a for k in cons for a in k.coefficient), dtype=float, count=int(lens.sum()))
        clo = np.fromiter((k.lower_bound for k in cons), dtype=float, count=len(cons))
        chi = np.fromiter((k.upper_bound for k in cons), dtype=float, count=len(cons))
        ptr = np.concatenate([[0], np.cumsum(lens)])
        a = csr_matrix((coef, idx, ptr), shape=(len(cons), nvar))
        sense = -1.0 if proto.maximize else 1.0
        options: dict[str, Any] = {"time_limit": max(0.5, float(time_limit_s)), "mip_rel_gap": gap_target_pct / 100.0}
        if node_limit is not None:
            options["node_limit"] = int(node_limit)
        res = milp(sense * c, constraints=[LinearConstraint(a, clo, chi)] if len(cons) else None,
                   bounds=Bounds(lb, ub), integrality=integ, options=options)
        secs = time.perf_counter() - t0
        nodes = int(getattr(res, "mip_node_count", 0) or 0)
        # status 1 is "iteration or time limit": short of the node limit, only the clock is left
        clock_cut = res.status == 1 and (node_limit is None or nodes < node_limit)
        if res.status == 2:
            return MipOut("infeasible", None, None, None, None, secs)
        if res.x is None:
            return MipOut("unknown", None, None, None, None, secs, clock_cut=clock_cut)
        val = None if self.lin is None else sense * float(res.fun) + proto.objective_offset
        bound = None
        if self.lin is not None:
            dual = getattr(res, "mip_dual_bound", None)
            if dual is not None and np.isfinite(dual):
                bound = sense * float(dual) + proto.objective_offset
            if val is not None and (res.status == 0 or not integ.any()):  # solved: the value bounds too
                bound = val if bound is None else max(val, bound)
        out = self._out("optimal" if res.status == 0 else "feasible", np.asarray(res.x), bound, val, secs, clock_cut)
        out.nodes = nodes
        return out

    def _out(self, status: str, x: np.ndarray, bound: float | None, val: float | None, secs: float,
             clock_cut: bool) -> MipOut:
        """A solve's answer from the values of every variable (in ``pywraplp``'s order)."""
        ctx, T = self.ctx, self.ctx.T
        Yv = np.array([[x[self.Y[j][t].index()] for t in range(T)] for j in range(ctx.n)]).reshape(ctx.n, T)
        opened = Yv > 0.5
        q = np.where(opened.any(axis=1), opened.argmax(axis=1), NEVER).astype(np.int64)
        hires = np.array([round(x[v.index()]) for v in self.h], dtype=np.int64)
        prom = np.array([round(x[v.index()]) for v in self.p], dtype=np.int64)
        ahires = (np.array([round(x[v.index()]) for v in self.ah], dtype=np.int64)
                  if self.commanded else np.zeros(T, dtype=np.int64))
        return MipOut(status, q, hires, bound, val, secs, promotions=prom, area_hires=ahires, clock_cut=clock_cut)


def diagnose(ctx: Context, backend: str, time_limit_s: float) -> list[str]:
    """Which constraint family, dropped alone, makes the schedule feasible (in words)."""
    names = {
        "managers": "the manager pipeline (rollout.initial_managers, rollout.cadres_per_store, "
        "rollout.training_quarters, rollout.attrition_pct, rollout.external_hires_per_quarter)",
        "budget": "the capex budget (rollout.capex_budget_per_quarter_cny, rollout.carry_over, "
        "rollout.external_hire_cost_cny)",
        "province": "the province capacity (rollout.max_openings_per_province_per_quarter)",
        "chain": "the chain of command (rollout.city_stores_before_county)",
        "command": "the area managers (command.promotion_after_quarters, command.external_area_hires_per_quarter, "
        "command.initial_area_managers)",
    }
    out = []
    for name in names:
        fam = Families(**{name: False})
        r = Mip(ctx, None, backend, fam).solve(time_limit_s, None, 1)
        if r.status in ("optimal", "feasible"):
            out.append(f"it becomes feasible without {names[name]}")
    if not out:
        out.append("no single rollout constraint family is to blame; several bind together: " + "; ".join(names.values()))
    return out


