"""The solvers' compiled view of an ``Instance``, and the plan state they edit.

``compile_model`` turns an ``Instance`` into the form every method shares:

- pairs sorted by cell (CSR ``cell_ptr``) with, per pair, either a *benefit*
  ``val = weight_i * a_ij >= 0`` (coverage and distance, both written as
  "maximise the sum over cells of the best open benefit", distance via
  ``a_ij = unreachable_km - km``) or a Huff *strength* ``val = attr_j (1+km)^-beta``
  (market share);
- a second order of the same pairs by site (``site_ptr``, ``site_pairs``);
- the constraints as flat arrays (forced / allowed sites, location ids, conflict
  adjacency, group membership, costs).

Writing coverage and distance as one "maximum-benefit facility location"
problem lets greedy, swap search, Lagrangian bounds and MIPs serve both. The
user-facing objective is ``offset + sign * value``.

``PlanState`` holds an open set with the counters needed to test, in O(degree),
whether adding a site or swapping two keeps every constraint but the store
count (and the group minimums when adding).
"""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass, field

import numpy as np

from planner.optimise.feasibility import forced_sites, min_existing_open
from planner.optimise.types import Instance, ObjectiveKind, cell_strengths

log = logging.getLogger(__name__)


def ranges(lens: np.ndarray) -> np.ndarray:
    """Concatenated ``arange(n)`` for every n in ``lens`` (int64)."""
    lens = np.asarray(lens, dtype=np.int64)
    total = int(lens.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    starts = np.repeat(np.cumsum(lens) - lens, lens)
    return np.asarray(np.arange(total, dtype=np.int64) - starts)


def dot(a: np.ndarray, b: np.ndarray) -> float:
    """``a @ b`` of two vectors without BLAS: its threads spin against each other on a
    busy machine (a 40,000-long dot product then takes 10 ms instead of 15 us)."""
    return float(np.einsum("i,i->", a, b))


def weigh_columns(w: np.ndarray, a: np.ndarray) -> np.ndarray:
    """``w @ a`` for a vector ``w`` and a matrix ``a`` (column sums weighted by ``w``), without BLAS."""
    return np.asarray(np.einsum("i,ij->j", w, a))


def run_starts(keys: np.ndarray) -> np.ndarray:
    """Where each run of equal values begins in a sorted array (True at index 0; empty in, empty out)."""
    keys = np.asarray(keys)
    return np.concatenate([[True], keys[1:] != keys[:-1]])[: keys.size]


@dataclass
class Group:
    """A min/max limit over a site set (the instance's groups plus 'existing kept')."""

    sites: np.ndarray
    min_open: int
    max_open: int | None
    label: str


@dataclass
class Model:
    """Compiled instance (see module docstring)."""

    kind: ObjectiveKind
    facility: bool  # coverage / distance form
    n_cells: int
    n_sites: int
    p: int
    w: np.ndarray  # float[N]
    cell_ptr: np.ndarray  # int64[N+1]
    pc: np.ndarray  # int64[K] cell of pair (cell-sorted)
    ps: np.ndarray  # int64[K] site of pair
    val: np.ndarray  # float[K] benefit (facility) or strength (market share)
    site_ptr: np.ndarray  # int64[M+1]
    site_pairs: np.ndarray  # int64[K] pair indices grouped by site
    pull: np.ndarray  # float[N] competitor pull (market share)
    offset: float  # user objective = offset + sign * value
    sign: float
    forced: np.ndarray  # bool[M]
    allowed: np.ndarray  # bool[M]
    loc: np.ndarray  # int64[M] compact location id
    n_loc: int
    conf_ptr: np.ndarray  # int64[M+1]
    conf_adj: np.ndarray  # int64[...]
    groups: list[Group]
    sg_ptr: np.ndarray  # int64[M+1] site -> groups CSR
    sg_adj: np.ndarray
    capex: np.ndarray | None
    opex: np.ndarray | None
    capex_budget: float | None
    opex_budget: float | None
    cell_map: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    # per cell: the best benefit left out by ``truncate`` (0 = nothing left out)
    floor: np.ndarray | None = None
    full: Model | None = None  # the untruncated model, when this one is truncated
    # the pairwise-disjoint groups the bounds keep in their plan subproblem (``disjoint_groups``)
    part: np.ndarray | None = None  # int64[M] group of each site among them (-1: none)
    part_min: np.ndarray | None = None  # int64[G] their minimums
    part_max: np.ndarray | None = None  # int64[G] their maximums (a large number when none)

    @property
    def maximise(self) -> bool:
        return self.sign > 0

    def site_cells(self, j: int) -> np.ndarray:
        """Pair indices (cell-sorted order) of site ``j``."""
        return self.site_pairs[self.site_ptr[j] : self.site_ptr[j + 1]]

    # ------------------------------------------------------------------ values
    def value(self, open_mask: np.ndarray) -> float:
        """Internal value (maximised) of an open set."""
        return float(self.cell_values(open_mask).sum())

    def cell_values(self, open_mask: np.ndarray) -> np.ndarray:
        """Weighted per-cell value of an open set."""
        v = np.where(open_mask[self.ps], self.val, 0.0)
        if self.facility:
            return _seg_max(v, self.cell_ptr)
        s = np.add.reduceat(v, self.cell_ptr[:-1]) if v.size else np.zeros(self.n_cells)
        return np.asarray(self.w * huff(s, self.pull))

    def truncate(self, top: int) -> Model:
        """The same model keeping, per cell, only its ``top`` best pairs (facility form).

        Every computation that only reads pairs better than a cell's second-best
        open site (swap gains, losses, extras; Lagrangian terms with ``u >= floor``)
        is exact on the truncated model as long as ``b2 >= floor`` holds.
        """
        assert self.facility
        deg = np.diff(self.cell_ptr)
        if top >= int(deg.max(initial=0)):
            return self
        order = np.lexsort((-self.val, self.pc))
        rank = np.arange(self.val.size) - np.repeat(self.cell_ptr[:-1], deg)
        keep = np.sort(order[rank < top])  # stays cell-sorted
        floor = np.zeros(self.n_cells)
        cut = deg > top
        floor[cut] = self.val[order[self.cell_ptr[:-1][cut] + top]]
        pc, ps, val = self.pc[keep], self.ps[keep], self.val[keep]
        cell_ptr = np.searchsorted(pc, np.arange(self.n_cells + 1)).astype(np.int64)
        site_pairs = np.argsort(ps, kind="stable").astype(np.int64)
        site_ptr = np.searchsorted(ps[site_pairs], np.arange(self.n_sites + 1)).astype(np.int64)
        out = copy.copy(self)
        out.pc, out.ps, out.val = pc, ps, val
        out.cell_ptr, out.site_pairs, out.site_ptr = cell_ptr, site_pairs, site_ptr
        out.floor = floor
        out.full = self
        return out

    def user_objective(self, value: float) -> float:
        return self.offset + self.sign * value

    def internal(self, user_value: float) -> float:
        """Inverse of :meth:`user_objective`."""
        return (user_value - self.offset) / self.sign


def huff(s: np.ndarray, pull: np.ndarray) -> np.ndarray:
    """Own share S/(S+c), 0 where both are 0."""
    den = s + pull
    out = np.zeros_like(s, dtype=float)
    pos = den > 0
    out[pos] = s[pos] / den[pos]
    return out


def _seg_max(v: np.ndarray, ptr: np.ndarray) -> np.ndarray:
    """Max of each non-empty CSR segment (every cell in a model has a pair)."""
    if v.size == 0:
        return np.zeros(ptr.size - 1)
    return np.maximum.reduceat(v, ptr[:-1])


def decay_value(km: np.ndarray, r: np.ndarray, decay: str) -> np.ndarray:
    """Coverage decay ``f(km, radius)`` of the contract."""
    if decay == "step":
        return (km <= r).astype(float)
    if decay == "linear":
        return np.asarray(np.clip(1.0 - km / r, 0.0, None))
    if decay == "exponential":
        return np.asarray(np.exp(-km / r) * (km <= 3.0 * r))
    raise ValueError(f"unknown decay {decay!r}")


def disjoint_groups(groups: list[Group], loc: np.ndarray, n_sites: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairwise-disjoint groups among ``groups`` (in order, each kept if it shares no site with those kept).

    A group is kept only when it holds every site of each location it touches
    (one site per location is then chosen inside or outside it, never across).
    The bounds keep these limits in their plan subproblem (``bounds.select_top``):
    the provinces' minimums and maximums are often what separates the relaxation's
    plan from a feasible one. Returns the group of each site (-1: none) and the
    kept groups' minimums and maximums.
    """
    part = np.full(n_sites, -1, dtype=np.int64)
    lo: list[int] = []
    hi: list[int] = []
    per_loc = np.bincount(loc, minlength=int(loc.max(initial=-1)) + 1) if n_sites else np.zeros(0, np.int64)
    big = np.iinfo(np.int64).max // 4
    for g in groups:
        s = g.sites
        if s.size == 0 or np.any(part[s] >= 0):
            continue
        locs, cnt = np.unique(loc[s], return_counts=True)
        if np.any(per_loc[locs] != cnt):
            continue
        if g.min_open <= 0 and g.max_open is None:
            continue
        part[s] = len(lo)
        lo.append(int(g.min_open))
        hi.append(big if g.max_open is None else int(g.max_open))
    return part, np.asarray(lo, dtype=np.int64), np.asarray(hi, dtype=np.int64)


def merge_equal_cells(
    cells: np.ndarray, w: np.ndarray, pc: np.ndarray, ps: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Merge the cells reached by exactly the same sites (step coverage), weights summed.

    ``pc`` / ``ps``: the pairs sorted by cell then site, ``pc`` in ``0..len(w)-1``;
    ``cells``: each cell's id in the instance. Cells are grouped by a hash of their
    site lists, then every member is compared site by site with the one before it in
    that order, so a hash collision only leaves cells apart, never merges them.
    Returns the kept cells' instance ids (each group's first cell), their summed
    weights and their pairs (values = the summed weights), in the input's order.
    """
    n = w.size
    ptr = np.searchsorted(pc, np.arange(n + 1))
    deg = np.diff(ptr)
    x = ps.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    x ^= x >> np.uint64(29)
    h1 = np.zeros(n, dtype=np.uint64)
    np.add.at(h1, pc, x)
    h2 = np.zeros(n, dtype=np.uint64)
    np.bitwise_xor.at(h2, pc, x * np.uint64(0xBF58476D1CE4E5B9) + np.uint64(1))
    o = np.lexsort((np.arange(n), h2, h1, deg))
    same = np.zeros(n, dtype=bool)  # same[k]: cell o[k] has the sites of cell o[k-1]
    cand = np.flatnonzero((deg[o[1:]] == deg[o[:-1]]) & (h1[o[1:]] == h1[o[:-1]]) & (h2[o[1:]] == h2[o[:-1]])) + 1
    cand = cand[deg[o[cand]] > 0]
    if cand.size:
        a, b = o[cand], o[cand - 1]
        lens = deg[a]
        off = ranges(lens)
        eq = ps[np.repeat(ptr[a], lens) + off] == ps[np.repeat(ptr[b], lens) + off]
        same[cand] = np.logical_and.reduceat(eq, np.cumsum(lens) - lens)
    group_sorted = np.cumsum(~same) - 1
    group = np.empty(n, dtype=np.int64)
    group[o] = group_sorted
    if group_sorted[-1] + 1 == n:
        return cells, w, pc, ps, w[pc]
    # each group is represented by its first cell (in the input order)
    first = np.full(int(group_sorted[-1]) + 1, n, dtype=np.int64)
    np.minimum.at(first, group, np.arange(n))
    rep = np.sort(first)
    new_id = np.full(n, -1, dtype=np.int64)
    new_id[rep] = np.arange(rep.size)
    wsum = np.bincount(new_id[first[group]], weights=w, minlength=rep.size)
    keep = new_id[pc] >= 0
    pc2 = new_id[pc[keep]]
    return cells[rep], wsum, pc2, ps[keep], wsum[pc2]


def compile_model(inst: Instance, kind: ObjectiveKind) -> Model:
    """Compile an instance for the solvers.

    Cells with no useful pair are dropped (their value cannot change); the
    distance objective's constant part goes into ``offset``.

    Parameters
    ----------
    inst : Instance
        The instance.
    kind : {"coverage", "distance", "market_share"}
        The objective.

    Returns
    -------
    Model
    """
    m = int(inst.n_sites)
    w_all = np.asarray(inst.weight, dtype=float)
    pc = np.asarray(inst.pair_cell, dtype=np.int64)
    ps = np.asarray(inst.pair_site, dtype=np.int64)
    km = np.asarray(inst.pair_km, dtype=float)
    offset, sign = 0.0, 1.0
    pull_all = (
        np.zeros(inst.n_cells) if inst.competitor_pull is None else np.asarray(inst.competitor_pull, float)
    )
    if kind == "coverage":
        r = np.asarray(inst.radius_km, dtype=float)
        r = np.full(m, float(r)) if r.ndim == 0 else r
        a = decay_value(km, r[ps], inst.decay)
        val = w_all[pc] * a
    elif kind == "distance":
        u = float(inst.unreachable_km)
        offset, sign = float(w_all.sum() * u), -1.0
        val = w_all[pc] * np.clip(u - km, 0.0, None)
    elif kind == "market_share":
        attr = np.ones(m) if inst.site_attr is None else np.asarray(inst.site_attr, float)
        val, pull_all = cell_strengths(attr[ps], km, inst.beta, pc, pull_all)
    else:
        raise ValueError(f"unknown objective kind {kind!r}")
    keep = (val > 0) & (w_all[pc] > 0)
    pc, ps, val = pc[keep], ps[keep], val[keep]
    forced_mask = np.zeros(m, dtype=bool)
    forced_mask[forced_sites(inst)] = True
    if kind != "market_share" and forced_mask.any():
        # A cell keeps at least what its best forced store gives it: move that into
        # the constant and keep only the pairs that could beat it. Around the
        # existing stores this removes most pairs (and whole cells) from every method.
        fb = np.zeros(inst.n_cells)
        fp = forced_mask[ps]
        np.maximum.at(fb, pc[fp], val[fp])
        offset += sign * float(fb.sum())
        val = val - fb[pc]
        keep = val > 1e-12 * np.maximum(1.0, fb[pc])
        pc, ps, val = pc[keep], ps[keep], val[keep]
    # Compact the cells that have a pair.
    used = np.unique(pc)
    cmap = np.full(inst.n_cells, -1, dtype=np.int64)
    cmap[used] = np.arange(used.size)
    pc = cmap[pc]
    order = np.lexsort((ps, pc))
    pc, ps, val = pc[order], ps[order], val[order]
    w_used = w_all[used]
    if kind == "coverage" and pc.size and bool(np.all(val == w_used[pc])):
        # step coverage: a cell is worth its weight once any of its sites opens, so cells
        # reached by the same sites are one cell of their summed weight (exact)
        used, w_used, pc, ps, val = merge_equal_cells(used, w_used, pc, ps)
    n = used.size
    cell_ptr = np.searchsorted(pc, np.arange(n + 1)).astype(np.int64)
    site_pairs = np.argsort(ps, kind="stable").astype(np.int64)
    site_ptr = np.searchsorted(ps[site_pairs], np.arange(m + 1)).astype(np.int64)

    forced = forced_mask
    allowed = np.ones(m, dtype=bool)
    allowed[np.asarray(inst.forbidden, dtype=np.int64)] = False
    loc_raw = np.arange(m) if inst.site_location is None else np.asarray(inst.site_location)
    _, loc = np.unique(loc_raw, return_inverse=True)
    loc = loc.astype(np.int64).ravel()

    ca = np.asarray(inst.conflict_a, dtype=np.int64)
    cb = np.asarray(inst.conflict_b, dtype=np.int64)
    a2 = np.concatenate([ca, cb])
    b2 = np.concatenate([cb, ca])
    o = np.argsort(a2, kind="stable")
    conf_adj = b2[o]
    conf_ptr = np.searchsorted(a2[o], np.arange(m + 1)).astype(np.int64)

    groups: list[Group] = []
    for g in inst.groups:
        groups.append(
            Group(np.unique(np.asarray(g.sites, dtype=np.int64)), int(g.min_open),
                  None if g.max_open is None else int(g.max_open), g.key or g.name)
        )
    ex = np.unique(np.asarray(inst.existing, dtype=np.int64))
    if ex.size and min_existing_open(inst) > 0:
        groups.append(Group(ex, min_existing_open(inst), None, inst.keys.closures))
    if groups:
        gi = np.concatenate([np.full(g.sites.size, k, dtype=np.int64) for k, g in enumerate(groups)])
        gs = np.concatenate([g.sites for g in groups])
        o = np.argsort(gs, kind="stable")
        sg_adj = gi[o]
        sg_ptr = np.searchsorted(gs[o], np.arange(m + 1)).astype(np.int64)
    else:
        sg_adj = np.zeros(0, dtype=np.int64)
        sg_ptr = np.zeros(m + 1, dtype=np.int64)

    part, part_min, part_max = disjoint_groups(groups, loc, m)

    def _cost(x: np.ndarray | None, b: float | None) -> np.ndarray | None:
        return None if x is None or b is None else np.asarray(x, dtype=float)

    return Model(
        kind=kind,
        facility=kind != "market_share",
        n_cells=n,
        n_sites=m,
        p=int(inst.stores),
        w=w_used,
        cell_ptr=cell_ptr,
        pc=pc,
        ps=ps,
        val=val,
        site_ptr=site_ptr,
        site_pairs=site_pairs,
        pull=pull_all[used],
        offset=offset,
        sign=sign,
        forced=forced,
        allowed=allowed,
        loc=loc,
        n_loc=int(loc.max()) + 1 if m else 0,
        conf_ptr=conf_ptr,
        conf_adj=conf_adj,
        groups=groups,
        sg_ptr=sg_ptr,
        sg_adj=sg_adj,
        capex=_cost(inst.capex_cny, inst.capex_budget_cny),
        opex=_cost(inst.opex_cny, inst.opex_budget_cny),
        capex_budget=None if inst.capex_cny is None else inst.capex_budget_cny,
        opex_budget=None if inst.opex_cny is None else inst.opex_budget_cny,
        cell_map=used,
        part=part,
        part_min=part_min,
        part_max=part_max,
    )


class PlanState:
    """An open set plus the counters that make constraint tests O(degree).

    The store count and group minimums are the caller's business when adding
    (greedy fills towards them); swaps test every constraint.
    """

    def __init__(self, model: Model, open_mask: np.ndarray | None = None) -> None:
        self.m = model
        self.open = np.zeros(model.n_sites, dtype=bool)
        self.loc_count = np.zeros(model.n_loc, dtype=np.int64)
        self.conf_count = np.zeros(model.n_sites, dtype=np.int64)
        self.grp_count = np.zeros(len(model.groups), dtype=np.int64)
        self.grp_min = np.array([g.min_open for g in model.groups], dtype=np.int64)
        self.grp_max = np.array(
            [np.iinfo(np.int64).max if g.max_open is None else g.max_open for g in model.groups],
            dtype=np.int64,
        )
        self.capex_used = 0.0
        self.opex_used = 0.0
        if open_mask is not None:
            for j in np.flatnonzero(open_mask):
                self.add(int(j))

    @property
    def n_open(self) -> int:
        return int(self.open.sum())

    def groups_of(self, j: int) -> np.ndarray:
        return self.m.sg_adj[self.m.sg_ptr[j] : self.m.sg_ptr[j + 1]]

    def conflicts_of(self, j: int) -> np.ndarray:
        return self.m.conf_adj[self.m.conf_ptr[j] : self.m.conf_ptr[j + 1]]

    def add(self, j: int) -> None:
        self.open[j] = True
        self.loc_count[self.m.loc[j]] += 1
        self.conf_count[self.conflicts_of(j)] += 1
        self.grp_count[self.groups_of(j)] += 1
        if self.m.capex is not None:
            self.capex_used += self.m.capex[j]
        if self.m.opex is not None:
            self.opex_used += self.m.opex[j]

    def remove(self, j: int) -> None:
        self.open[j] = False
        self.loc_count[self.m.loc[j]] -= 1
        self.conf_count[self.conflicts_of(j)] -= 1
        self.grp_count[self.groups_of(j)] -= 1
        if self.m.capex is not None:
            self.capex_used -= self.m.capex[j]
        if self.m.opex is not None:
            self.opex_used -= self.m.opex[j]

    def can_add(self, j: int, *, reserve_capex: float = 0.0, reserve_opex: float = 0.0) -> bool:
        """Adding ``j`` keeps spacing, location, group maximums and budgets."""
        m = self.m
        if self.open[j] or not m.allowed[j]:
            return False
        if self.loc_count[m.loc[j]] > 0 or self.conf_count[j] > 0:
            return False
        g = self.groups_of(j)
        if g.size and np.any(self.grp_count[g] >= self.grp_max[g]):
            return False
        if m.capex is not None and self.capex_used + m.capex[j] + reserve_capex > m.capex_budget * (1 + 1e-12):  # type: ignore[operator]
            return False
        if m.opex is not None and self.opex_used + m.opex[j] + reserve_opex > m.opex_budget * (1 + 1e-12):  # type: ignore[operator]
            return False
        return True

    def addable_mask(self) -> np.ndarray:
        """Vectorised :meth:`can_add` for every site (budgets without reserve)."""
        m = self.m
        ok = m.allowed & ~self.open & (self.loc_count[m.loc] == 0) & (self.conf_count == 0)
        if m.groups:
            ok &= self.group_hits(self.grp_count >= self.grp_max) == 0
        if m.capex is not None:
            ok &= self.capex_used + m.capex <= m.capex_budget * (1 + 1e-12)  # type: ignore[operator]
        if m.opex is not None:
            ok &= self.opex_used + m.opex <= m.opex_budget * (1 + 1e-12)  # type: ignore[operator]
        return np.asarray(ok)

    def group_hits(self, flags: np.ndarray) -> np.ndarray:
        """Per site: how many of its groups have ``flags`` set."""
        m = self.m
        hit = np.zeros(m.n_sites, dtype=np.int64)
        site_of = np.repeat(np.arange(m.n_sites), np.diff(m.sg_ptr))
        np.add.at(hit, site_of, flags.astype(np.int64)[m.sg_adj])
        return hit

    def removable_mask(self) -> np.ndarray:
        """Open, not forced sites whose removal keeps every group at or above its minimum."""
        m = self.m
        ok = self.open & ~m.forced
        if m.groups:
            ok &= self.group_hits(self.grp_count <= self.grp_min) == 0
        return np.asarray(ok)

    def can_swap(self, f: int, j: int) -> bool:
        """Closing open ``f`` and opening closed ``j`` keeps every constraint."""
        m = self.m
        if not self.open[f] or self.open[j] or m.forced[f] or not m.allowed[j]:
            return False
        if self.loc_count[m.loc[j]] - (m.loc[f] == m.loc[j]) > 0:
            return False
        if self.conf_count[j] > 0:
            cj = self.conflicts_of(j)
            if self.conf_count[j] > 1 or not np.any(cj == f):
                return False
        gf = self.groups_of(f)
        gj = self.groups_of(j)
        if gf.size or gj.size:
            only_j = np.setdiff1d(gj, gf, assume_unique=True)
            if only_j.size and np.any(self.grp_count[only_j] >= self.grp_max[only_j]):
                return False
            only_f = np.setdiff1d(gf, gj, assume_unique=True)
            if only_f.size and np.any(self.grp_count[only_f] <= self.grp_min[only_f]):
                return False
        if m.capex is not None and self.capex_used - m.capex[f] + m.capex[j] > m.capex_budget * (1 + 1e-12):  # type: ignore[operator]
            return False
        if m.opex is not None and self.opex_used - m.opex[f] + m.opex[j] > m.opex_budget * (1 + 1e-12):  # type: ignore[operator]
            return False
        return True

    def swap(self, f: int, j: int) -> None:
        self.remove(f)
        self.add(j)

    def feasible(self) -> bool:
        """Every constraint including count and group minimums."""
        m = self.m
        if self.n_open != m.p or np.any(m.forced & ~self.open) or np.any(self.open & ~m.allowed):
            return False
        if np.any(self.loc_count > 1) or np.any(self.conf_count[self.open] > 0):
            return False
        if np.any(self.grp_count < self.grp_min) or np.any(self.grp_count > self.grp_max):
            return False
        if m.capex is not None and self.capex_used > m.capex_budget * (1 + 1e-9):  # type: ignore[operator]
            return False
        if m.opex is not None and self.opex_used > m.opex_budget * (1 + 1e-9):  # type: ignore[operator]
            return False
        return True
