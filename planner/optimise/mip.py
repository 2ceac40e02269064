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

Work is limited by a branch-and-bound node limit (``node_limit``, SCIP's
``limits/totalnodes``), which SCIP honours deterministically: the same model,
hint and limits give the same plan and bound on any machine and under any load.
The time limit is only a safety net; ``MipResult.clock_cut`` says when it, not
the node limit or the gap, ended the solve.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from ortools.linear_solver.python import model_builder_helper as mbh
from scipy.sparse import csr_matrix

from planner.optimise.model import Model, ranges, run_starts

log = logging.getLogger(__name__)


@dataclass
class MipResult:
    """Outcome of a MIP solve (values in the model's internal, maximised, units)."""

    open_mask: np.ndarray | None  # plan over all model sites, or None if none found
    objective: float  # MIP objective of that plan (price included), -inf if none
    bound: float  # proven upper bound on the MIP objective
    status: str  # "optimal" | "feasible" | "infeasible" | "no_solution"
    seconds: float  # wall time: reported, never a basis for decisions
    clock_cut: bool = False  # the time limit (not the node limit or the gap) ended the solve
    pairs: int = 0  # pairs in the model's scope (above the floor): its size, for the work estimate
    levels: int = 0  # level variables z (one per distinct benefit level with several sites)


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
    solver_name: str = "SCIP",
    rel_gap: float = 1e-9,
    abs_gap: float = 0.0,
    cutoff: float | None = None,
    deadline: float | None = None,
    site_value: np.ndarray | None = None,
    floor: np.ndarray | None = None,
    outside_open: np.ndarray | None = None,
    node_limit: int | None = None,
    restarts: bool = True,
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
        Starting plan (SCIP only).
    time_limit_s, threads, solver_name : float, int, str
        OR-Tools settings ("SCIP", which every caller uses, or "HIGHS"). The
        time limit is a safety net: a solve it ends may differ from run to run.
    rel_gap, abs_gap : float
        Stop tolerances (SCIP; HiGHS keeps its defaults).
    cutoff : float, optional
        Not used by every backend; kept for API symmetry.
    site_value : ndarray, optional
        Extra objective per open site (a linear proxy used when only a feasible,
        reasonable plan is wanted).
    deadline : float, optional
        ``time.perf_counter()`` value by which the solve must end (model building
        counts against it).
    floor : ndarray, optional
        Per-cell value earned whatever the candidates do (default the model's
        truncation floor); a neighbourhood search passes what the open sites
        outside its window already give each cell.
    outside_open : ndarray of bool, optional
        Sites open outside the candidates and kept open (neighbourhood search):
        the side constraints become exact residual ones (candidates sharing a
        location or spacing conflict with them stay closed; group limits and
        budgets net of them) instead of being dropped.
    node_limit : int, optional
        Branch-and-bound nodes (SCIP ``limits/totalnodes``): the deterministic
        work limit. A solve it ends returns status ``"feasible"`` with its bound.
    restarts : bool
        Let SCIP restart its root (``presolving/maxrestarts``). A restart's new root
        (presolve, LP, cut rounds) is work the node limit does not count: a region
        of 40 k pairs at H3 resolution 8 spent 23 s in six of them, 10 s without,
        with the same optimum. False for the regional MIPs.

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
    ns = sites.size
    col = np.full(m.n_sites, -1, dtype=np.int64)
    col[sites] = np.arange(ns)
    y_lb = (m.forced[sites] | (fix_open[sites] if fix_open is not None else False)).astype(float)
    y_ub = np.ones(ns)
    if outside_open is not None and ns:
        y_ub[_blocked_by(m, sites, outside_open & ~cand)] = 0.0
        y_lb = np.minimum(y_lb, y_ub)
    const = 0.0

    # pairs of the scope, sorted by cell then benefit (descending)
    if floor is None:
        floor = np.zeros(m.n_cells) if m.floor is None else m.floor
    if cells is None:
        pidx = np.arange(m.pc.size)
    else:
        # the cells' own pairs (CSR ranges, in the pairs' order): a window's MIP costs its size
        cl = np.flatnonzero(cells)
        lens = m.cell_ptr[cl + 1] - m.cell_ptr[cl]
        pidx = np.repeat(m.cell_ptr[cl], lens) + ranges(lens)
    keep = cand[m.ps[pidx]] & (m.val[pidx] > floor[m.pc[pidx]])  # pairs at or below the floor add nothing
    pidx = pidx[keep]
    pc, ps, val = m.pc[pidx], m.ps[pidx], m.val[pidx]
    order = np.lexsort((-val, pc))
    pc, ps, val = pc[order], ps[order], val[order]
    cell_ids = np.unique(m.pc) if cells is None else np.flatnonzero(cells)
    # cells whose every pair is outside the candidates still earn at most their floor
    has_pair = np.zeros(m.n_cells, dtype=bool)
    has_pair[pc] = True
    const += float(floor[cell_ids[~has_pair[cell_ids]]].sum())

    levels = _levels(pc, val, floor)
    const += levels.const
    # one variable z per level (a cell with one level holding one site needs none):
    #   z_q <= z_{q-1} (same cell) + sum of y at level q,   z_q <= 1
    nz = int((~levels.single).sum())
    zcol = np.full(levels.coef.size, -1, dtype=np.int64)
    zcol[~levels.single] = ns + np.arange(nz)
    ycoef = np.zeros(ns)
    np.add.at(ycoef, col[ps[levels.start[levels.single]]], levels.coef[levels.single])
    if site_value is not None:
        ycoef += site_value[sites]
    obj = np.concatenate([ycoef - price, levels.coef[~levels.single]])

    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    vals: list[np.ndarray] = []
    lo_b: list[np.ndarray] = []
    hi_b: list[np.ndarray] = []
    n_rows = 0

    def add_rows(r: np.ndarray, c: np.ndarray, v: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> None:
        nonlocal n_rows
        rows.append(n_rows + r)
        cols.append(c)
        vals.append(v)
        lo_b.append(lo)
        hi_b.append(hi)
        n_rows += lo.size

    if nz:
        multi = np.flatnonzero(~levels.single)
        row_of = np.full(levels.coef.size, -1, dtype=np.int64)
        row_of[multi] = np.arange(nz)
        prev = multi[~levels.first[multi]]
        lens = levels.end[multi] - levels.start[multi]
        pair_idx = np.repeat(levels.start[multi], lens) + ranges(lens)
        add_rows(
            np.concatenate([np.arange(nz), row_of[prev], np.repeat(np.arange(nz), lens)]),
            np.concatenate([zcol[multi], zcol[prev - 1], col[ps[pair_idx]]]),
            np.concatenate([np.ones(nz), -np.ones(prev.size), -np.ones(pair_idx.size)]),
            np.full(nz, -np.inf), np.zeros(nz),
        )
    if count is not None:
        add_rows(np.zeros(ns, dtype=np.int64), np.arange(ns), np.ones(ns),
                 np.array([float(count)]), np.array([float(count)]))
    if side_constraints:
        for r, c, v, lo, hi in _side_rows(m, sites, col, outside_open):
            add_rows(r, c, v, lo, hi)

    nv = ns + nz
    if rows:
        a = csr_matrix(
            (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n_rows, nv)
        )
        a.sum_duplicates()
        clo, chi = np.concatenate(lo_b), np.concatenate(hi_b)
    else:
        a = csr_matrix((0, nv))
        clo = chi = np.zeros(0)
    helper = mbh.ModelBuilderHelper()
    # OR-Tools' stub types these arrays as ``ndarray[float64, ...]``, which no array matches
    helper.fill_model_from_sparse_data(
        np.concatenate([y_lb, np.zeros(nz)]), np.concatenate([y_ub, np.ones(nz)]), obj, clo, chi, a,  # type: ignore[arg-type]
    )
    for k in range(ns):
        helper.set_var_integrality(k, True)
    helper.set_maximize(True)
    helper.set_objective_offset(const)

    backend = solver_name.upper()
    if hint is not None and backend == "SCIP" and ns:
        # a complete hint (levels too) lets the backend take it as a solution
        hy = hint[sites].astype(float)
        for k in range(ns):
            helper.add_hint(k, float(hy[k]))
        if nz:
            zv = levels.hint_values(hint[ps])
            for q, v in zip(zcol[~levels.single], zv[~levels.single], strict=True):
                helper.add_hint(int(q), float(v))
    solver = mbh.ModelSolverHelper("scip" if backend == "SCIP" else "highs")
    if deadline is not None:
        time_limit_s = min(time_limit_s, deadline - time.perf_counter())
    time_limit_s = max(0.05, time_limit_s)
    solver.set_time_limit_in_seconds(time_limit_s)
    t_solve = time.perf_counter()
    if backend == "SCIP":
        # SCIP's multi-thread mode in OR-Tools is its concurrent solver, which often
        # finds nothing in our time limits; regions run in parallel instead.
        params = f"limits/gap = {rel_gap:.12g}\n"
        if abs_gap > 0:
            params += f"limits/absgap = {abs_gap:.12g}\n"
        if node_limit is not None:
            params += f"limits/totalnodes = {max(1, int(node_limit))}\n"
        if not restarts:
            params += "presolving/maxrestarts = 0\n"
    else:
        params = ""  # HiGHS through this helper: its own default tolerances
    solver.set_solver_specific_parameters(params)
    solver.enable_output(False)
    solver.solve(helper)
    secs = time.perf_counter() - t0
    status = solver.status()
    # the backends report a time limit and a node limit alike (FEASIBLE, or no solution)
    cut = status != mbh.SolveStatus.OPTIMAL and time.perf_counter() - t_solve >= 0.97 * time_limit_s
    if status in (mbh.SolveStatus.OPTIMAL, mbh.SolveStatus.FEASIBLE) and solver.has_solution():
        open_mask = np.zeros(m.n_sites, dtype=bool)
        yv = np.asarray(solver.variable_values())[:ns]
        open_mask[sites[yv > 0.5]] = True
        val_ = float(solver.objective_value())
        bnd = float(solver.best_objective_bound())
        optimal = status == mbh.SolveStatus.OPTIMAL
        if not np.isfinite(bnd) or bnd < val_ - 1e-6 * max(1.0, abs(val_)):
            # a dual bound below the plan found is not a proof of anything
            bnd = val_ if optimal else np.inf
        bnd = max(bnd, val_)
        return MipResult(open_mask, val_, bnd, "optimal" if optimal else "feasible", secs, cut, pc.size, nz)
    if status == mbh.SolveStatus.INFEASIBLE:
        return MipResult(None, -np.inf, -np.inf, "infeasible", secs, False, pc.size, nz)
    # Without a solution the backends report no trustworthy dual bound.
    return MipResult(None, -np.inf, np.inf, "no_solution", secs, cut, pc.size, nz)


@dataclass
class _Levels:
    """Distinct benefit levels of cell-sorted pairs (Elloumi's radius formulation)."""

    start: np.ndarray  # first pair of each level
    end: np.ndarray  # one past its last pair
    coef: np.ndarray  # v_k - v_{k+1} (the last level down to the cell's floor)
    first: np.ndarray  # bool: first level of its cell
    single: np.ndarray  # bool: the cell's only level, with one site (no z needed)
    const: float  # sum of the floors of cells that have levels

    def hint_values(self, open_pairs: np.ndarray) -> np.ndarray:
        """z values a plan implies: 1 from the first level holding an open site on."""
        if self.start.size == 0:
            return np.zeros(0)
        lo = np.add.reduceat(open_pairs.astype(float), self.start)
        cell_first = np.flatnonzero(self.first)
        cum = np.cumsum(lo)
        base = np.repeat(cum[cell_first] - lo[cell_first], np.diff(np.append(cell_first, lo.size)))
        return np.asarray(np.minimum(1.0, cum - base))


def _levels(pc: np.ndarray, val: np.ndarray, floor: np.ndarray) -> _Levels:
    if pc.size == 0:
        e = np.zeros(0, dtype=np.int64)
        return _Levels(e, e, np.zeros(0), np.zeros(0, bool), np.zeros(0, bool), 0.0)
    new_cell = run_starts(pc)
    new_level = new_cell | run_starts(val)
    start = np.flatnonzero(new_level)
    lcell = pc[start]
    lval = val[start]
    end = np.concatenate([start[1:], [pc.size]])
    first = run_starts(lcell)
    last = np.concatenate([lcell[1:] != lcell[:-1], [True]])
    nxt = np.empty_like(lval)
    nxt[:-1] = lval[1:]
    nxt[last] = floor[lcell[last]]
    per_cell = np.diff(np.append(np.flatnonzero(first), lval.size))
    single = (np.repeat(per_cell, per_cell) == 1) & (end - start == 1)
    const = float(floor[lcell[first]].sum())
    return _Levels(start, end, lval - nxt, first, single, const)


def _blocked_by(m: Model, sites: np.ndarray, others: np.ndarray) -> np.ndarray:
    """Positions in ``sites`` sharing a location or a spacing conflict with an open site of ``others``."""
    taken = np.zeros(m.n_loc, dtype=bool)
    taken[m.loc[others]] = True
    blocked = taken[m.loc[sites]]
    deg = m.conf_ptr[sites + 1] - m.conf_ptr[sites]
    if deg.sum():
        nb = m.conf_adj[np.repeat(m.conf_ptr[sites], deg) + ranges(deg)]
        owner = np.repeat(np.arange(sites.size), deg)
        blocked |= np.bincount(owner, weights=others[nb].astype(float), minlength=sites.size) > 0
    return np.asarray(blocked)


def _side_rows(
    m: Model, sites: np.ndarray, col: np.ndarray, outside_open: np.ndarray | None = None
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """Location, spacing, groups, budgets, as sparse rows.

    Without ``outside_open`` a group or budget reaching outside the sites is
    relaxed (maximums kept, minimums dropped); with it, every limit is net of
    the sites kept open outside.
    """
    inf = np.inf
    # one store per location
    loc = m.loc[sites]
    uniq, inv, cnt = np.unique(loc, return_inverse=True, return_counts=True)
    shared = cnt[inv] > 1
    if np.any(shared):
        keep = np.flatnonzero(shared)
        r = np.unique(inv[keep], return_inverse=True)[1]
        nr = int(r.max()) + 1
        yield r, keep, np.ones(keep.size), np.full(nr, -inf), np.ones(nr)
    # spacing: y_j + y_k <= 1 for conflicting pairs inside the scope
    deg = m.conf_ptr[sites + 1] - m.conf_ptr[sites]
    if deg.sum():
        src = np.repeat(sites, deg)
        nb = m.conf_adj[np.repeat(m.conf_ptr[sites], deg) + ranges(deg)]
        ok = (nb > src) & (col[nb] >= 0)
        src, nb = src[ok], nb[ok]
        if src.size:
            e = np.arange(src.size)
            yield (np.concatenate([e, e]), np.concatenate([col[src], col[nb]]), np.ones(2 * src.size),
                   np.full(src.size, -inf), np.ones(src.size))
    out = None if outside_open is None else outside_open & (col < 0)
    for g in m.groups:
        inside = col[g.sites] >= 0
        used = 0 if out is None else int(out[g.sites].sum())
        c = col[g.sites[inside]]
        if g.max_open is not None and np.any(inside):
            yield (np.zeros(c.size, dtype=np.int64), c, np.ones(c.size), np.array([-inf]),
                   np.array([float(g.max_open - used)]))
        # members that can never open (forbidden) do not take a group outside the scope
        can_open = (m.allowed | m.forced)[g.sites]
        if g.min_open > used and (out is not None or np.all(inside | ~can_open)):
            yield (np.zeros(c.size, dtype=np.int64), c, np.ones(c.size), np.array([float(g.min_open - used)]),
                   np.array([inf]))
    for cost, budget in ((m.capex, m.capex_budget), (m.opex, m.opex_budget)):
        if cost is None or budget is None:
            continue
        spent = 0.0 if out is None else float(cost[out].sum())
        c = np.flatnonzero(cost[sites] != 0)
        yield (np.zeros(c.size, dtype=np.int64), c, cost[sites][c].astype(float),
               np.array([-inf]), np.array([float(budget) * (1 + 1e-12) - spent]))
