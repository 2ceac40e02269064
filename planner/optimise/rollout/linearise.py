"""An upper model of the quarterly value, linear in the opening variables, for the MIP.

The quarterly value is submodular; it is written exactly where it can be and
over-estimated elsewhere, so the MIP's proven bound stays a valid upper bound:

- coverage/distance: a cell's value ``w * max_open f_j`` is written exactly as a
  sum of "any of the top-k sites open" terms, ``w (f_(k) - f_(k+1)) min(1, sum_{top k} Y)``;
  terms of one site are linear; identical site sets are merged (by set hashing);
- market share: ``w * x / (x + C)`` is concave in ``x = sum a_j Y_j``; it is
  bounded above by tangents (and by the sum of single-site gains, valid by
  submodularity);
- terms beyond ``max_terms`` are replaced by the sum of their single-site values,
  which over-estimates them (``min(1, sum Y) <= sum Y``; submodularity).
"""

# ruff: noqa: N806

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from planner.optimise.rollout.context import Context

__all__ = ["MAX_HUFF_CELLS", "HuffCell", "Linear", "linearise"]

#: Market-share cells modelled by tangent cuts (the rest by single-site gains). Each costs
#: ~4 dense rows per quarter; beyond a few hundred HiGHS stalls (bench_rollout.py, small market share).
MAX_HUFF_CELLS = 300


@dataclass
class HuffCell:
    """One market-share cell modelled by cuts: ``theta <= c + s * sum a Y`` and ``theta <= sum g Y``."""

    sites: np.ndarray  # local candidate indices
    a: np.ndarray  # Huff attraction of each site on the cell
    single: np.ndarray  # gain of each site alone (submodular upper bound)
    tangents: list[tuple[float, float]]  # (slope s, intercept c)


@dataclass
class Linear:
    """Upper model of the quarterly value over candidates (local indices)."""

    const: float
    v: np.ndarray  # modular value per candidate
    cov_w: np.ndarray  # weight of each "any of set" term
    cov_sets: list[np.ndarray]
    huff_cells: list[HuffCell] = field(default_factory=list)
    n_relaxed: int = 0
    exact: bool = True


def linearise(ctx: Context, *, max_terms: int, seed: int) -> Linear:
    vm = ctx.vm
    cand = ctx.cand
    n = cand.size
    sl = vm.pair_index(cand)
    lens = vm.indptr[cand + 1] - vm.indptr[cand]
    loc = np.repeat(np.arange(n), lens)
    cells = vm.pcell[sl]
    f = vm.f[sl]
    b = ctx.base_state[cells]
    v = np.zeros(n)
    lin = Linear(const=ctx.base_value, v=v, cov_w=np.zeros(0), cov_sets=[])
    if vm.max_family:
        keep = f > b + 1e-12
    else:
        c = vm.pull[cells]
        keep = (f > 0) & ~((c <= 0) & (b > 0))
    cells, f, loc, b = cells[keep], f[keep], loc[keep], b[keep]
    o = np.lexsort((-f, cells))
    cells, f, loc, b = cells[o], f[o], loc[o], b[o]
    if cells.size == 0:
        return lin
    start = np.r_[True, cells[1:] != cells[:-1]]
    gid = np.cumsum(start) - 1
    gstart = np.flatnonzero(start)
    gsize = np.diff(np.r_[gstart, cells.size])
    rank = np.arange(cells.size) - gstart[gid]
    w = vm.w[cells]
    rng = np.random.default_rng(seed)
    k1 = rng.integers(1, 2**63, size=n, dtype=np.uint64)
    k2 = rng.integers(1, 2**63, size=n, dtype=np.uint64)

    def prefix_hash(keys: np.ndarray) -> np.ndarray:
        with np.errstate(over="ignore"):
            cs = np.cumsum(keys[loc], dtype=np.uint64)
            before = np.r_[np.uint64(0), cs][gstart]
            return np.asarray(cs - before[gid])

    if vm.max_family:
        nxt = np.r_[f[1:], 0.0]
        last = rank == gsize[gid] - 1
        nxt[last] = b[last]
        wt = w * (f - nxt)
        cov_mask = np.ones(cells.size, dtype=bool)
    else:
        c = vm.pull[cells]
        cov_mask = c <= 0  # C = 0 and b = 0: reached or not, a coverage term of weight w
        wt = np.where(cov_mask & (rank == gsize[gid] - 1), w, 0.0)
        # huff cells: single-site gains are exact for cells with one candidate
        single = vm.phi(b + f, cells) - vm.phi(b, cells)
        huff = ~cov_mask
        one = huff & (gsize[gid] == 1)
        np.add.at(v, loc[one], single[one])
        multi = huff & (gsize[gid] >= 2)
    # coverage-type terms
    m0 = cov_mask & (rank == 0)
    if vm.max_family:
        np.add.at(v, loc[m0], wt[m0])
    else:
        m0s = m0 & (gsize[gid] == 1)
        np.add.at(v, loc[m0s], wt[m0s])
    tm = cov_mask & (rank >= 1) & (wt > 0)
    h1, h2 = prefix_hash(k1), prefix_hash(k2)
    terms_idx = np.flatnonzero(tm)
    cov_sets: list[np.ndarray] = []
    cov_w: np.ndarray = np.zeros(0)
    if terms_idx.size:
        key = np.stack([h1[terms_idx], h2[terms_idx]], axis=1)
        _, first, inv = np.unique(key, axis=0, return_index=True, return_inverse=True)
        inv = inv.ravel()
        W = np.bincount(inv, weights=wt[terms_idx])
        rep = terms_idx[first]
        size = rank[rep] + 1
        order = np.argsort(-(W * (size - 1)), kind="stable")
        kept, dropped = order[:max_terms], order[max_terms:]
        for u in dropped:
            r = rep[u]
            np.add.at(v, loc[gstart[gid[r]] : r + 1], W[u])
        cov_w = W[kept]
        cov_sets = [loc[gstart[gid[rep[u]]] : rep[u] + 1].copy() for u in kept]
        lin.n_relaxed += int(dropped.size)
    lin.cov_w, lin.cov_sets = cov_w, cov_sets
    if not vm.max_family and multi.any():
        g_ids = np.unique(gid[multi])
        budget_left = max(0, min(max_terms - len(cov_sets), MAX_HUFF_CELLS))
        # overlap loss: sum of single gains - joint gain; the largest are modelled exactly
        s0 = gstart[g_ids]
        s1 = s0 + gsize[g_ids]
        tot_a = np.add.reduceat(f, s0) if s0.size else np.zeros(0)
        cc = cells[s0]
        joint = vm.phi(b[s0] + tot_a, cc) - vm.phi(b[s0], cc)
        sum_single = np.add.reduceat(single, s0)
        loss = sum_single - joint
        order = np.argsort(-loss, kind="stable")
        kept_g = order[:budget_left]
        for u in order[budget_left:]:
            np.add.at(v, loc[s0[u] : s1[u]], single[s0[u] : s1[u]])
        lin.n_relaxed += int(max(0, order.size - budget_left))
        for u in kept_g:
            a0, a1 = s0[u], s1[u]
            cell = int(cells[a0])
            wc, cpull, b0 = float(vm.w[cell]), float(vm.pull[cell]), float(b[a0])
            phi0 = wc * b0 / (b0 + cpull)
            xs = b0 + np.cumsum(f[a0:a1])
            at = np.unique(np.linspace(1, xs.size - 1, min(3, xs.size - 1)).round().astype(int))
            tang = []
            for x in xs[at]:
                slope = wc * cpull / (x + cpull) ** 2
                # tangent of the concave gain: theta <= gain(x) + slope * (b0 + sum aY - x)
                tang.append((float(slope), float(wc * x / (x + cpull) - phi0 + slope * (b0 - x))))
            lin.huff_cells.append(
                HuffCell(loc[a0:a1].copy(), f[a0:a1].copy(), single[a0:a1].copy(), tang)
            )
    lin.exact = lin.n_relaxed == 0 and not lin.huff_cells
    return lin


