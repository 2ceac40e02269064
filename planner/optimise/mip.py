"""Exact (or time-limited) MIP solves with OR-Tools on a reduced problem.

Coverage and distance use the radius formulation of Elloumi (2010) in its
"maximise benefit" form: for cell i with distinct benefits v_1 > v_2 > ... > v_L
among the candidate sites, ``value_i = sum_k (v_k - v_{k+1}) z_ik`` with
``z_ik <= z_i,k-1 + sum of y_j at level k`` and ``z_ik <= 1``. Its LP is as
strong as the classical assignment formulation but has one variable per
distinct benefit instead of one per pair, and levels cut off by truncation
(``Model.truncate``) can be charged their best possible value (``floor``),
which keeps the MIP's bound valid for the full problem.

The model is built on a candidate subset (Lagrangian reduced-cost fixing, or a
region of the decomposition) and optionally a cell subset; side constraints
(count, location, spacing, groups, budgets) are included when asked, else
dropped, which only loosens the bound. A store price ``price`` replaces the
count when a region is solved inside a Lagrangian decomposition. The incumbent
is passed as a hint; the time limit always returns the best plan and bound.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np
from ortools.linear_solver import pywraplp

from planner.optimise.model import Model

log = logging.getLogger(__name__)


@dataclass
class MipResult:
    """Outcome of a MIP solve (values in the model's internal, maximised, units)."""

    open_mask: np.ndarray | None  # plan over all model sites, or None if none found
    objective: float  # MIP objective of that plan (price included), -inf if none
    bound: float  # proven upper bound on the MIP objective
    status: str  # "optimal" | "feasible" | "infeasible" | "no_solution"
    seconds: float


def solve_facility_mip(
    model: Model,
    candidates: np.ndarray,
    *,
    cells: np.ndarray | None = None,
    fix_open: np.ndarray | None = None,
    count: int | None = None,
    price: float = 0.0,
    side_constraints: bool = True,
    hint: np.ndarray | None = None,
    time_limit_s: float = 10.0,
    threads: int = 1,
    solver_name: str = "HIGHS",
    rel_gap: float = 1e-9,
    abs_gap: float = 0.0,
    cutoff: float | None = None,
    deadline: float | None = None,
    site_value: np.ndarray | None = None,
) -> MipResult:
    """Solve max benefit - price * stores over the candidate sites.

    Parameters
    ----------
    model : Model
        Facility-form model (possibly truncated).
    candidates : ndarray of bool
        Sites that may open (forced ones are always open); others stay closed.
    cells : ndarray of bool, optional
        Cells counted in the objective (default all).
    fix_open : ndarray of bool, optional
        Sites fixed open in addition to the forced ones.
    count : int, optional
        Exact number of open sites among the candidates (the store total when
        solving the whole problem).
    price : float
        Price per open site (Lagrangian decomposition); constant for forced ones.
    side_constraints : bool
        Include location, spacing, groups wholly inside the candidates, budgets.
    hint : ndarray of bool, optional
        Starting plan.
    time_limit_s, threads, solver_name : float, int, str
        OR-Tools settings ("HIGHS", "SCIP" or "CBC").
    rel_gap, abs_gap : float
        Stop tolerances.
    cutoff : float, optional
        Not used by every backend; kept for API symmetry.
    site_value : ndarray, optional
        Extra objective per open site (a linear proxy used when only a feasible,
        reasonable plan is wanted).
    deadline : float, optional
        ``time.perf_counter()`` value by which the solve must end (model building
        counts against it).

    Returns
    -------
    MipResult
    """
    t0 = time.perf_counter()
    m = model
    # forced sites belong to the scope only when they are among the candidates
    # (a region's MIP must not pay for another region's stores)
    cand = candidates & (m.allowed | m.forced)
    if fix_open is not None:
        cand = cand | (fix_open & candidates)
    sites = np.flatnonzero(cand)
    col = np.full(m.n_sites, -1, dtype=np.int64)
    col[sites] = np.arange(sites.size)
    solver = pywraplp.Solver.CreateSolver(solver_name)
    if solver is None:  # pragma: no cover - OR-Tools build without the backend
        solver = pywraplp.Solver.CreateSolver("SCIP")
    inf = solver.infinity()
    y = [solver.BoolVar(f"y{j}") for j in sites]
    for k, j in enumerate(sites):
        if m.forced[j] or (fix_open is not None and fix_open[j]):
            y[k].SetLb(1.0)
    obj = solver.Objective()
    obj.SetMaximization()
    const = 0.0

    # pairs of the scope, sorted by cell then benefit (descending)
    sel = cand[m.ps]
    if cells is not None:
        sel &= cells[m.pc]
    pc, ps, val = m.pc[sel], m.ps[sel], m.val[sel]
    order = np.lexsort((-val, pc))
    pc, ps, val = pc[order], ps[order], val[order]
    floor = np.zeros(m.n_cells) if m.floor is None else m.floor
    if cells is None:
        cell_ids = np.unique(m.pc)
    else:
        cell_ids = np.flatnonzero(cells)
    # cells whose every pair is outside the candidates still earn at most their floor
    has_pair = np.zeros(m.n_cells, dtype=bool)
    has_pair[pc] = True
    const += float(floor[cell_ids[~has_pair[cell_ids]]].sum())

    new_cell = np.concatenate([[True], pc[1:] != pc[:-1]]) if pc.size else np.zeros(0, bool)
    new_level = new_cell | np.concatenate([[True], val[1:] != val[:-1]]) if pc.size else new_cell
    lvl_start = np.flatnonzero(new_level)
    lvl_cell = pc[lvl_start]
    lvl_val = val[lvl_start]
    nxt = np.empty_like(lvl_val)
    if lvl_val.size:
        last_of_cell = np.concatenate([lvl_cell[1:] != lvl_cell[:-1], [True]])
        nxt[:-1] = lvl_val[1:]
        nxt[last_of_cell] = floor[lvl_cell[last_of_cell]]
    coef = lvl_val - nxt
    const += float(floor[np.unique(lvl_cell)].sum()) if lvl_val.size else 0.0
    lvl_end = np.concatenate([lvl_start[1:], [pc.size]])
    # one variable per level; a cell with a single level of a single site needs none
    first_of_cell = np.concatenate([[True], lvl_cell[1:] != lvl_cell[:-1]]) if lvl_val.size else np.zeros(0, bool)
    ncell_lv = np.bincount(np.searchsorted(np.unique(lvl_cell), lvl_cell)) if lvl_val.size else np.zeros(0, int)
    single = np.zeros(lvl_val.size, dtype=bool)
    if lvl_val.size:
        lv_count = np.repeat(ncell_lv, ncell_lv)
        single = (lv_count == 1) & (lvl_end - lvl_start == 1)
    ycoef = np.zeros(sites.size)
    np.add.at(ycoef, col[ps[lvl_start[single]]], coef[single])
    prev = None
    zvars: list = []
    zlev: list[int] = []
    for q in range(lvl_val.size):
        if single[q]:
            prev = None
            continue
        z = solver.NumVar(0.0, 1.0, "")
        zvars.append(z)
        zlev.append(q)
        obj.SetCoefficient(z, float(coef[q]))
        ct = solver.Constraint(-inf, 0.0)
        ct.SetCoefficient(z, 1.0)
        if not first_of_cell[q] and prev is not None:
            ct.SetCoefficient(prev, -1.0)
        for j in ps[lvl_start[q] : lvl_end[q]]:
            ct.SetCoefficient(y[col[j]], -1.0)
        prev = z
    if site_value is not None:
        ycoef += site_value[sites]
    for k in range(sites.size):
        c = ycoef[k] - price
        if c != 0.0:
            obj.SetCoefficient(y[k], float(c))
    obj.SetOffset(const)

    if count is not None:
        ct = solver.Constraint(count, count)
        for v in y:
            ct.SetCoefficient(v, 1.0)
    if side_constraints:
        _side_constraints(solver, m, sites, col, y)

    if solver_name.upper() == "HIGHS":
        # OR-Tools 9.15's pywraplp crashes (SIGSEGV) when HiGHS is given a hint;
        # HiGHS also prints a banner unless told not to log.
        hint = None
        solver.SetSolverSpecificParametersAsString("output_flag=false\nlog_to_console=false\n")
    if hint is not None:
        try:
            # a complete hint (levels too) lets the backend take it as a solution
            zval: list[float] = []
            if zvars:
                lo = np.add.reduceat(hint[ps].astype(float), lvl_start)
                cell_first = np.flatnonzero(first_of_cell)
                cum = np.cumsum(lo)
                base = np.repeat(cum[cell_first] - lo[cell_first], np.diff(np.append(cell_first, lo.size)))
                zval = np.minimum(1.0, cum - base)[np.asarray(zlev)].tolist()
            solver.SetHint(y + zvars, [float(hint[j]) for j in sites] + zval)
        except Exception:  # pragma: no cover - backend without hints
            log.debug("MIP hint not supported by %s", solver_name)
    if deadline is not None:
        time_limit_s = min(time_limit_s, deadline - time.perf_counter())
    solver.SetTimeLimit(int(max(0.05, time_limit_s) * 1000))
    # SCIP's multi-thread mode in OR-Tools is its concurrent solver, which often
    # finds nothing in our time limits; regions run in parallel instead.
    solver.SetNumThreads(1 if solver_name.upper() == "SCIP" else max(1, threads))
    params = pywraplp.MPSolverParameters()
    params.SetDoubleParam(params.RELATIVE_MIP_GAP, rel_gap)
    status = solver.Solve(params)
    secs = time.perf_counter() - t0
    if status in (pywraplp.Solver.OPTIMAL, pywraplp.Solver.FEASIBLE):
        open_mask = np.zeros(m.n_sites, dtype=bool)
        yv = np.array([v.solution_value() for v in y])
        open_mask[sites[yv > 0.5]] = True
        val_ = obj.Value()
        bnd = obj.BestBound()
        if not np.isfinite(bnd) or bnd < val_ - 1e-6 * max(1.0, abs(val_)):
            # a dual bound below the plan found is not a proof of anything
            bnd = val_ if status == pywraplp.Solver.OPTIMAL else np.inf
        bnd = max(bnd, val_)
        return MipResult(open_mask, float(val_), float(bnd),
                         "optimal" if status == pywraplp.Solver.OPTIMAL else "feasible", secs)
    if status == pywraplp.Solver.INFEASIBLE:
        return MipResult(None, -np.inf, -np.inf, "infeasible", secs)
    # Without a solution OR-Tools backends report no trustworthy dual bound.
    return MipResult(None, -np.inf, np.inf, "no_solution", secs)


def _side_constraints(
    solver: pywraplp.Solver, m: Model, sites: np.ndarray, col: np.ndarray, y: list
) -> None:
    """Location, spacing, groups inside the candidate set, budgets."""
    inf = solver.infinity()
    loc = m.loc[sites]
    order = np.argsort(loc, kind="stable")
    ls = loc[order]
    starts = np.flatnonzero(np.concatenate([[True], ls[1:] != ls[:-1]]))
    ends = np.concatenate([starts[1:], [ls.size]])
    for a, b in zip(starts, ends, strict=True):
        if b - a > 1:
            ct = solver.Constraint(-inf, 1.0)
            for k in order[a:b]:
                ct.SetCoefficient(y[k], 1.0)
    for j in sites:
        for nb in m.conf_adj[m.conf_ptr[j] : m.conf_ptr[j + 1]]:
            if nb > j and col[nb] >= 0:
                ct = solver.Constraint(-inf, 1.0)
                ct.SetCoefficient(y[col[j]], 1.0)
                ct.SetCoefficient(y[col[nb]], 1.0)
    for g in m.groups:
        inside = col[g.sites] >= 0
        if g.max_open is not None and np.any(inside):
            ct = solver.Constraint(-inf, float(g.max_open))
            for j in g.sites[inside]:
                ct.SetCoefficient(y[col[j]], 1.0)
        if g.min_open > 0 and np.all(inside):
            ct = solver.Constraint(float(g.min_open), inf)
            for j in g.sites:
                ct.SetCoefficient(y[col[j]], 1.0)
    for cost, budget in ((m.capex, m.capex_budget), (m.opex, m.opex_budget)):
        if cost is None or budget is None:
            continue
        ct = solver.Constraint(-inf, float(budget))
        for k, j in enumerate(sites):
            if cost[j] != 0:
                ct.SetCoefficient(y[k], float(cost[j]))
