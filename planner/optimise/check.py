"""Solver-independent validation of a plan, and the per-store explanations.

Every solve ends here. ``check_solution`` recomputes the objective from the
``Instance`` arrays alone, with deliberately plain code (``np.maximum.at`` /
``np.add.at`` over the pair list, nothing shared with the solvers), verifies
every constraint of the contract in ``types.py`` and that the reported
objective, bound and gap agree with each other. A failed check is *our* bug,
not the user's, so it raises :class:`CheckFailed` (a ``RuntimeError``) rather
than a ``PlannerError``.

Conventions shared with the solvers (documented here because the checker is the
arbiter): a site listed in ``fixed`` must be open unless it is also listed in
``existing``; of the ``existing`` sites at most ``max_closures`` may be closed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from planner.optimise.types import Instance, ObjectiveKind, Solution

log = logging.getLogger(__name__)

MAXIMISE: dict[str, bool] = {"coverage": True, "market_share": True, "distance": False, "profit": True}


class CheckFailed(RuntimeError):  # noqa: N818 - the name the contract uses
    """A plan returned by the optimiser breaks a constraint or misreports its objective."""


@dataclass
class CheckReport:
    """Outcome of :func:`check_solution`.

    Attributes
    ----------
    ok : bool
        True when no violation was found.
    violations : list of str
        One sentence per problem found.
    objective : float
        The objective recomputed from the instance arrays.
    """

    ok: bool
    violations: list[str] = field(default_factory=list)
    objective: float = float("nan")

    def raise_if_failed(self) -> None:
        """Raise :class:`CheckFailed` listing every violation, if any."""
        if not self.ok:
            raise CheckFailed("plan failed the check:\n  - " + "\n  - ".join(self.violations))


def _as_radius(inst: Instance) -> np.ndarray:
    r = np.asarray(inst.radius_km, dtype=float)
    if r.ndim == 0:
        r = np.full(inst.n_sites, float(r))
    return r


def _coverage_credit(km: np.ndarray, r: np.ndarray, decay: str) -> np.ndarray:
    """Share of a cell's demand a store covers at ``km`` with radius ``r`` (the decay function)."""
    if decay == "step":
        return (km <= r).astype(float)
    if decay == "linear":
        return np.asarray(np.clip(1.0 - km / r, 0.0, None))
    if decay == "exponential":
        return np.asarray(np.exp(-km / r) * (km <= 3.0 * r))
    raise ValueError(f"unknown decay {decay!r}")


def objective_value(inst: Instance, open_sites: np.ndarray, kind: ObjectiveKind) -> float:
    """Objective of a set of open sites, recomputed straight from the definitions.

    Parameters
    ----------
    inst : Instance
        The instance.
    open_sites : ndarray of int
        Indices of the open sites (duplicates are ignored).
    kind : {"coverage", "distance", "market_share"}
        Which objective.

    Returns
    -------
    float
        Covered demand (coverage), demand-weighted km (distance) or captured
        demand (market_share).
    """
    sites = np.asarray(open_sites, dtype=np.int64)
    if kind == "profit":
        return _profit_value(inst, sites)
    per_cell = _cell_values(inst, sites, kind)
    return float(np.sum(np.asarray(inst.weight, dtype=float) * per_cell))


def _profit_value(inst: Instance, sites: np.ndarray) -> float:
    """``margin * market_share - sum of the open sites' fixed costs``, from the definitions.

    The checker's own copy of the profit formula (the solver's is in ``optimise/profit.py``).
    """
    sites = np.unique(sites)
    share = float(np.sum(np.asarray(inst.weight, dtype=float) * _cell_values(inst, sites, "market_share")))
    margin = 1.0 if inst.margin is None else float(inst.margin)
    cost = 0.0 if inst.site_fixed_cost is None else float(np.sum(np.asarray(inst.site_fixed_cost, float)[sites]))
    return margin * share - cost


def _cell_values(inst: Instance, open_sites: np.ndarray, kind: str) -> np.ndarray:
    """Per-cell objective term before weighting (share, covered fraction or km)."""
    return _values_on_pairs(inst, open_sites, kind, np.arange(inst.n_pairs), inst.n_cells, None)


def _values_on_pairs(
    inst: Instance,
    open_sites: np.ndarray,
    kind: str,
    pairs: np.ndarray,
    n_out: int,
    cell_slot: np.ndarray | None,
) -> np.ndarray:
    """Per-cell terms computed from the pairs ``pairs`` only.

    ``cell_slot`` maps a cell index to its row in the output (``None``: identity).
    """
    is_open = np.zeros(inst.n_sites, dtype=bool)
    is_open[open_sites] = True
    pairs = pairs[is_open[np.asarray(inst.pair_site)[pairs]]]
    cell = np.asarray(inst.pair_cell, dtype=np.int64)[pairs]
    if cell_slot is not None:
        cell = cell_slot[cell]
    site = np.asarray(inst.pair_site, dtype=np.int64)[pairs]
    km = np.asarray(inst.pair_km, dtype=float)[pairs]
    n = n_out
    if kind == "coverage":
        f = _coverage_credit(km, _as_radius(inst)[site], inst.decay)
        out = np.zeros(n)
        np.maximum.at(out, cell, f)
        return out
    if kind == "distance":
        out = np.full(n, float(inst.unreachable_km))
        np.minimum.at(out, cell, km)
        return out
    if kind == "market_share":
        attr = np.ones(inst.n_sites) if inst.site_attr is None else np.asarray(inst.site_attr, float)
        pull = np.zeros(inst.n_cells) if inst.competitor_pull is None else np.asarray(inst.competitor_pull, float)
        g, pull = _huff_terms(inst, attr, pull)
        s = np.zeros(n)
        np.add.at(s, cell, g[pairs])
        if cell_slot is None:
            pull_n = pull
        else:
            pull_n = np.zeros(n)
            sel = cell_slot >= 0
            pull_n[cell_slot[sel]] = pull[sel]
        den = s + pull_n
        out = np.zeros(n)
        pos = den > 0
        out[pos] = s[pos] / den[pos]
        return out
    raise ValueError(f"unknown objective kind {kind!r}")


def per_site_explain(
    inst: Instance, open_sites: np.ndarray, kind: ObjectiveKind
) -> dict[str, np.ndarray]:
    """Why each open store is there, in numbers a planner can defend.

    Parameters
    ----------
    inst : Instance
        The instance.
    open_sites : ndarray of int
        The open sites.
    kind : {"coverage", "distance", "market_share"}
        The objective used for ``marginal_value``.

    Returns
    -------
    dict of str to ndarray
        Aligned with ``site`` (the sorted open sites):
        ``catchment_demand`` weight of the cells within the site's radius;
        ``marginal_value`` objective lost (coverage, market share) or km added
        (distance) if that store alone were removed, always >= 0 for a sensible
        plan; ``cannibalised_pct`` share (0-100) of its catchment demand that is
        also within reach of another open own store.
    """
    sites = np.unique(np.asarray(open_sites, dtype=np.int64))
    w = np.asarray(inst.weight, dtype=float)
    r = _as_radius(inst)
    pc = np.asarray(inst.pair_cell, dtype=np.int64)
    ps = np.asarray(inst.pair_site, dtype=np.int64)
    km = np.asarray(inst.pair_km, dtype=float)
    is_open = np.zeros(inst.n_sites, dtype=bool)
    is_open[sites] = True
    inside = is_open[ps] & (km <= r[ps])
    reach = np.zeros(inst.n_cells, dtype=np.int64)
    np.add.at(reach, pc[inside], 1)
    pos = np.full(inst.n_sites, -1, dtype=np.int64)
    pos[sites] = np.arange(sites.size)
    catch = np.zeros(sites.size)
    shared = np.zeros(sites.size)
    np.add.at(catch, pos[ps[inside]], w[pc[inside]])
    multi = inside & (reach[pc] >= 2)
    np.add.at(shared, pos[ps[multi]], w[pc[multi]])
    with np.errstate(invalid="ignore", divide="ignore"):
        cann = np.where(catch > 0, 100.0 * shared / catch, 0.0)
    marginal = _marginal_values(inst, sites, kind, pos)
    return {
        "site": sites,
        "catchment_demand": catch,
        "marginal_value": marginal,
        "cannibalised_pct": cann,
    }


def _marginal_values(inst: Instance, sites: np.ndarray, kind: str, pos: np.ndarray) -> np.ndarray:
    """Objective lost (or km added) if each open site alone were removed, for all sites at once.

    Only the cells a site serves change when it closes. For coverage and
    distance a cell's value is the best of its open pairs, so removing a site
    costs ``best - second best`` on the cells where it is the (first) best; for
    market share a cell's share drops from h(S) to h(S - a_j g_ij). Both are
    computed per pair in one pass (no loop over sites).
    """
    w = np.asarray(inst.weight, dtype=float)
    is_open = np.zeros(inst.n_sites, dtype=bool)
    is_open[sites] = True
    sel = is_open[np.asarray(inst.pair_site)]
    cell = np.asarray(inst.pair_cell, dtype=np.int64)[sel]
    site = np.asarray(inst.pair_site, dtype=np.int64)[sel]
    km = np.asarray(inst.pair_km, dtype=float)[sel]
    marginal = np.zeros(sites.size)
    if cell.size == 0:
        return marginal
    if kind in ("market_share", "profit"):
        attr = np.ones(inst.n_sites) if inst.site_attr is None else np.asarray(inst.site_attr, float)
        pull = np.zeros(inst.n_cells) if inst.competitor_pull is None else np.asarray(inst.competitor_pull, float)
        g_all, pull = _huff_terms(inst, attr, pull)
        g = g_all[sel]
        s_all = np.bincount(cell, weights=g, minlength=inst.n_cells)

        def h(x: np.ndarray, c: np.ndarray) -> np.ndarray:
            den = x + c
            return np.asarray(np.divide(x, den, out=np.zeros_like(x), where=den > 0))

        s_without = np.maximum(s_all[cell] - g, 0.0)
        loss = w[cell] * (h(s_all[cell], pull[cell]) - h(s_without, pull[cell]))
        np.add.at(marginal, pos[site], loss)
        if kind == "profit":  # margin on the sales lost, less the costs saved
            margin = 1.0 if inst.margin is None else float(inst.margin)
            cost = np.zeros(inst.n_sites) if inst.site_fixed_cost is None else np.asarray(inst.site_fixed_cost, float)
            marginal = margin * marginal - cost[sites]
        return marginal
    if kind == "coverage":
        v = _coverage_credit(km, _as_radius(inst)[site], inst.decay)
        floor = 0.0
    else:  # distance, as a maximisation of -km capped at the unreachable distance
        v = -np.minimum(km, float(inst.unreachable_km))
        floor = -float(inst.unreachable_km)
    order = np.lexsort((-v, cell))
    cell_o, v_o, site_o = cell[order], v[order], site[order]
    first = np.flatnonzero(np.r_[True, cell_o[1:] != cell_o[:-1]])
    nxt = np.minimum(first + 1, cell_o.size - 1)
    has_second = (first + 1 < cell_o.size) & (cell_o[nxt] == cell_o[first])
    second = np.maximum(np.where(has_second, v_o[nxt], floor), floor)
    loss = w[cell_o[first]] * (np.maximum(v_o[first], floor) - second)
    np.add.at(marginal, pos[site_o[first]], loss)
    return marginal


def _ranges(lens: np.ndarray) -> np.ndarray:
    """Concatenated ``arange(n)`` for every n in ``lens``."""
    total = int(lens.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    starts = np.repeat(np.cumsum(lens) - lens, lens)
    return np.asarray(np.arange(total) - starts)


def _huff_terms(inst: Instance, attr: np.ndarray, pull: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every pair's Huff term and each cell's pull, a cell whose terms all lie below 1e-150
    rescaled in logarithms so its largest is 1 (the checker's own copy of ``types.cell_strengths``)."""
    cell = np.asarray(inst.pair_cell, dtype=np.int64)
    km = np.asarray(inst.pair_km, dtype=float)
    a = attr[np.asarray(inst.pair_site, dtype=np.int64)]
    g = a * (1.0 + km) ** (-float(inst.beta))
    pull = pull.copy()
    top = pull.copy()
    np.maximum.at(top, cell, g)
    tiny = top < 1e-150
    at = tiny[cell]
    if np.any(at):
        with np.errstate(divide="ignore"):
            log_g = np.log(a[at]) - float(inst.beta) * np.log1p(km[at])
            log_c = np.log(pull)
        shift = np.where(tiny, log_c, -np.inf)
        np.maximum.at(shift, cell[at], log_g)
        shift = np.where(np.isfinite(shift), shift, 0.0)
        g[at] = np.exp(log_g - shift[cell[at]])
        pull[tiny] = np.exp(log_c[tiny] - shift[tiny])
    return g, pull


def _sense_word(kind: str) -> str:
    return "maximised" if MAXIMISE[kind] else "minimised"


def check_solution(inst: Instance, sol: Solution, *, tol: float = 1e-6) -> CheckReport:
    """Verify a plan against every constraint and recompute its objective.

    Parameters
    ----------
    inst : Instance
        The instance the plan claims to solve.
    sol : Solution
        The plan.
    tol : float, default 1e-6
        Relative tolerance for objective, bound, gap and budget comparisons.

    Returns
    -------
    CheckReport
        ``ok``, human-readable ``violations`` and the recomputed ``objective``.
    """
    v: list[str] = []
    m = inst.n_sites
    sites = np.asarray(sol.open_sites)
    if sites.size and not np.issubdtype(sites.dtype, np.integer):
        v.append(f"open_sites has dtype {sites.dtype}, expected integers")
        return CheckReport(False, v)
    sites = sites.astype(np.int64, copy=False)
    if np.any((sites < 0) | (sites >= m)):
        bad = sites[(sites < 0) | (sites >= m)][:5].tolist()
        v.append(f"site indices out of range 0..{m - 1}: {bad}")
        return CheckReport(False, v)
    uniq = np.unique(sites)
    if uniq.size != sites.size:
        v.append(f"{sites.size - uniq.size} site(s) listed more than once")
    is_open = np.zeros(m, dtype=bool)
    is_open[uniq] = True

    if inst.stores_min is None and inst.stores_max is None:
        if uniq.size != inst.stores:
            v.append(f"{uniq.size} stores open, the plan must have exactly {inst.stores}")
    else:
        lo = np.unique(np.asarray(inst.fixed)).size if inst.stores_min is None else int(inst.stores_min)
        hi = m if inst.stores_max is None else int(inst.stores_max)
        if not lo <= uniq.size <= hi:
            v.append(f"{uniq.size} stores open, the plan must have between {lo} and {hi}")

    existing = np.unique(np.asarray(inst.existing, dtype=np.int64))
    fixed = np.setdiff1d(np.asarray(inst.fixed, dtype=np.int64), existing)
    closed_fixed = fixed[~is_open[fixed]]
    if closed_fixed.size:
        v.append(f"{closed_fixed.size} fixed site(s) closed, e.g. {closed_fixed[:5].tolist()}")
    if existing.size:
        n_closed = int(np.sum(~is_open[existing]))
        if n_closed > inst.max_closures:
            v.append(
                f"{n_closed} existing stores closed, at most {inst.max_closures} may close"
            )
    forb = np.asarray(inst.forbidden, dtype=np.int64)
    open_forb = forb[is_open[forb]]
    if open_forb.size:
        v.append(f"{open_forb.size} forbidden site(s) open, e.g. {open_forb[:5].tolist()}")

    if inst.site_location is not None:
        loc = np.asarray(inst.site_location)[uniq]
        vals, counts = np.unique(loc, return_counts=True)
        if np.any(counts > 1):
            bad = vals[counts > 1][:5].tolist()
            v.append(
                f"{int(np.sum(counts > 1))} location(s) with more than one open site "
                f"(formats / one store per cell), e.g. locations {bad}"
            )

    ca = np.asarray(inst.conflict_a, dtype=np.int64)
    cb = np.asarray(inst.conflict_b, dtype=np.int64)
    both = is_open[ca] & is_open[cb]
    if np.any(both):
        ex = list(zip(ca[both][:3].tolist(), cb[both][:3].tolist(), strict=True))
        v.append(f"{int(both.sum())} pair(s) of open stores closer than the minimum spacing, e.g. {ex}")

    for name, cost, budget in (
        ("capex", inst.capex_cny, inst.capex_budget_cny),
        ("opex", inst.opex_cny, inst.opex_budget_cny),
    ):
        if cost is None or budget is None:
            continue
        spent = float(np.sum(np.asarray(cost, dtype=float)[uniq]))
        if spent > budget * (1 + tol) + tol:
            v.append(f"{name} {spent:,.0f} CNY exceeds the budget {budget:,.0f} CNY")

    for g in inst.groups:
        members = np.unique(np.asarray(g.sites, dtype=np.int64))
        cnt = int(np.sum(is_open[members]))
        label = g.key or g.name
        if cnt < g.min_open:
            v.append(f"{label}: {cnt} stores open in {g.name}, minimum is {g.min_open}")
        if g.max_open is not None and cnt > g.max_open:
            v.append(f"{label}: {cnt} stores open in {g.name}, maximum is {g.max_open}")

    obj = objective_value(inst, uniq, sol.objective_kind)
    scale = max(1.0, abs(obj))
    if not np.isfinite(sol.objective) or abs(sol.objective - obj) > tol * scale:
        v.append(f"reported objective {sol.objective!r} differs from the recomputed {obj!r}")
    maxi = MAXIMISE[sol.objective_kind]
    if sol.bound is not None:
        b = float(sol.bound)
        if maxi and obj > b + tol * scale:
            v.append(f"objective {obj:.6g} is above the claimed upper bound {b:.6g} (maximised)")
        if not maxi and obj < b - tol * scale:
            v.append(f"objective {obj:.6g} is below the claimed lower bound {b:.6g} (minimised)")
        if sol.gap is not None:
            denom = b if maxi else sol.objective
            num = (b - sol.objective) if maxi else (sol.objective - b)
            want = num / denom if denom != 0 else 0.0
            if denom != 0 and abs(want - sol.gap) > 1e-6 + tol:
                v.append(f"reported gap {sol.gap:.6g} differs from the bound's {want:.6g}")
            if sol.gap < -1e-9:
                v.append(f"negative gap {sol.gap:.6g}")
    elif sol.gap is not None:
        v.append("a gap is reported without a bound")
    return CheckReport(not v, v, obj)
