"""The rivals answer back: their best response to a plan, and the plan that anticipates it.

Leader-follower ((r|p)-centroid) site selection under Huff choice, on arrays only.
The *leader* is the own brand (an :class:`~planner.optimise.types.Instance`); the
*follower* (:class:`Follower`) is the rivals, who open ``stores`` more sites among
their own candidates after seeing the leader's plan. A follower opening set R
adds ``F_i(R) = sum_{k in R paired with i} attraction(f_site_attr_k, km, beta)``
to cell i's competitor pull, so the leader's share becomes
``sum_i w_i S_i / (S_i + C_i + F_i(R))``.

**The follower's problem is a market-share problem.** What the follower takes
from the leader is

    share(X) - share(X, R) = sum_i [w_i S_i / (S_i + C_i)] * F_i / (F_i + S_i + C_i),

the Huff share of cells weighted by the leader's captured demand, against the
pull ``S_i + C_i`` of everybody already there. :func:`follower_instance` builds
that instance and :func:`best_response` solves it with ``solve.solve`` (its
proven bound bounds the loss, so the leader's share after *any* response is at
least ``share(X) - bound``).

**Anticipation** (:func:`anticipate`) solves max over X of min over R by a growing
set of follower responses (the structure of the exact methods for the
(r|p)-centroid problem): against the set, the leader's best plan gives an upper
bound (any convex combination of the set's shares bounds the max-min over the
set from above, and the max-min over the set bounds the true one); the
follower's best response to that plan gives a value and joins the set. It
stops when value and bound meet, when a response repeats, or at the time limit,
and keeps the best plan seen, starting from the plan that ignores the response,
so it is never worse after the response than that plan (against the responses
it knows). On instances small enough to enumerate every leader plan the
master is exact over the set, and the method is exact.
"""

from __future__ import annotations

import itertools
import logging
import time
from dataclasses import dataclass, field, replace

import numpy as np

from planner.errors import DataError
from planner.optimise.exhaustive import plan_count
from planner.optimise.incumbent import WORK_PER_LIMIT_S, relative_gap
from planner.optimise.model import compile_model
from planner.optimise.types import GroupLimit, Instance, attraction

__all__ = [
    "Follower", "Response", "MaxMin", "anticipate", "best_response", "follower_instance",
    "leader_strength", "master_instance", "response_pull", "share_against", "submodular_bound",
]

log = logging.getLogger(__name__)


@dataclass
class Follower:
    """The rivals' side of the game: where they may open, how attractive, how many.

    ``pair_*`` are the follower's reachable (cell, follower site) pairs, cells
    indexed as in the leader's instance. ``groups`` limit the follower's
    openings among its sites (e.g. exactly 200 for one brand); ``forbidden``
    sites may not be chosen. ``key`` names what set ``stores`` (a scenario key
    or the interchange array), for messages.
    """

    site_attr: np.ndarray  # float[F]
    pair_cell: np.ndarray  # int[K']
    pair_site: np.ndarray  # int[K']
    pair_km: np.ndarray  # float[K']
    stores: int
    groups: list[GroupLimit] = field(default_factory=list)
    forbidden: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    key: str = "f_stores"

    @property
    def n_sites(self) -> int:
        return int(np.asarray(self.site_attr).shape[0])

    def validate(self, n_cells: int) -> None:
        """Raise a DataError naming the array when the follower does not fit the leader's cells."""
        k = np.asarray(self.pair_cell).shape[0]
        for name, arr in (("f_pair_site", self.pair_site), ("f_pair_km", self.pair_km)):
            if np.asarray(arr).shape != (k,):
                raise DataError(f"key '{name}' has shape {np.asarray(arr).shape}, expected ({k},) like f_pair_cell.")
        if k and (int(np.max(self.pair_cell)) >= n_cells or int(np.min(self.pair_cell)) < 0):
            raise DataError(f"key 'f_pair_cell' has an index outside 0..{n_cells - 1} (the leader's cells).")
        if k and (int(np.max(self.pair_site)) >= self.n_sites or int(np.min(self.pair_site)) < 0):
            raise DataError(f"key 'f_pair_site' has an index outside 0..{self.n_sites - 1} (f_site_attr's sites).")
        if np.any(~np.isfinite(self.pair_km)) or np.any(np.asarray(self.pair_km) < 0):
            raise DataError("key 'f_pair_km' must hold finite distances >= 0.")
        if np.any(~np.isfinite(self.site_attr)) or np.any(np.asarray(self.site_attr) < 0):
            raise DataError("key 'f_site_attr' must hold finite attractions >= 0.")
        free = self.n_sites - np.unique(np.asarray(self.forbidden, dtype=np.int64)).size
        if not 0 <= self.stores <= free:
            raise DataError(f"{self.key} = {self.stores}: the rivals can open 0..{free} stores on their sites.")


@dataclass
class Response:
    """The follower's best response found to one leader plan.

    Shares are in the instance's objective units (``sum_i w_i * share_i``);
    ``loss`` = ``share_before - share_after``, ``loss_bound`` a proven upper bound
    on what any response could take (so ``share_after_floor`` is a proven lower
    bound on the leader's share after the follower's optimal response).
    """

    sites: np.ndarray
    share_before: float
    share_after: float
    loss: float
    loss_bound: float | None
    gap: float | None
    seconds: float
    status: str
    methods: dict[str, str] = field(default_factory=dict)
    work_s: float = 0.0  # nominal seconds of work of the follower's solve

    @property
    def share_after_floor(self) -> float | None:
        return None if self.loss_bound is None else self.share_before - self.loss_bound


@dataclass
class MaxMin:
    """The anticipating plan: its share after the best response found, and a bound on the max-min."""

    open_sites: np.ndarray
    objective: float  # leader's share against ``response``
    bound: float | None  # upper bound on max_X min_R share(X, R)
    gap: float | None
    response: np.ndarray  # the worst response known to ``open_sites``
    response_gap: float | None  # proven gap of the follower's solve against ``open_sites``
    objective_without_response: float  # share of ``open_sites`` before any response
    start_objective: float  # the plan that ignores the response, after its best response found
    rounds: int
    seconds: float
    status: str  # "optimal" | "converged" | "time_limit" (the wall-clock net) | "rounds" (rounds or work spent)
    history: list[dict[str, float]] = field(default_factory=list)


# --------------------------------------------------------------------------- the Huff evaluations
def leader_strength(inst: Instance, open_sites: np.ndarray) -> np.ndarray:
    """S_i: the leader's Huff attraction on every cell of the instance."""
    is_open = np.zeros(inst.n_sites, dtype=bool)
    is_open[np.asarray(open_sites, dtype=np.int64)] = True
    m = is_open[inst.pair_site]
    attr = np.ones(inst.n_sites) if inst.site_attr is None else np.asarray(inst.site_attr, dtype=float)
    return np.bincount(
        inst.pair_cell[m], weights=attraction(attr[inst.pair_site[m]], inst.pair_km[m], inst.beta),
        minlength=inst.n_cells,
    )


def response_pull(follower: Follower, response: np.ndarray, n_cells: int, beta: float) -> np.ndarray:
    """F_i(R): the extra pull the follower's openings put on every cell."""
    is_open = np.zeros(follower.n_sites, dtype=bool)
    is_open[np.asarray(response, dtype=np.int64)] = True
    m = is_open[np.asarray(follower.pair_site, dtype=np.int64)]
    attr = np.asarray(follower.site_attr, dtype=float)
    return np.bincount(
        np.asarray(follower.pair_cell, dtype=np.int64)[m],
        weights=attraction(attr[np.asarray(follower.pair_site, dtype=np.int64)[m]], np.asarray(follower.pair_km)[m], beta),
        minlength=n_cells,
    )


def _pull(inst: Instance) -> np.ndarray:
    return np.zeros(inst.n_cells) if inst.competitor_pull is None else np.asarray(inst.competitor_pull, dtype=float)


def _share(weight: np.ndarray, strength: np.ndarray, pull: np.ndarray) -> float:
    den = strength + pull
    with np.errstate(invalid="ignore", divide="ignore"):
        return float(np.sum(np.where(den > 0, weight * strength / den, 0.0)))


def share_against(inst: Instance, open_sites: np.ndarray, extra_pull: np.ndarray | None = None) -> float:
    """The leader's market-share objective with ``extra_pull`` added to the competitors' pull."""
    pull = _pull(inst) if extra_pull is None else _pull(inst) + extra_pull
    return _share(np.asarray(inst.weight, dtype=float), leader_strength(inst, open_sites), pull)


# --------------------------------------------------------------------------- the follower
def follower_instance(inst: Instance, open_sites: np.ndarray, follower: Follower) -> Instance:
    """The follower's best response to ``open_sites`` as a market-share instance.

    Weights ``w_i S_i / (S_i + C_i)`` (the demand the leader captures), pull
    ``S_i + C_i``; cells the leader does not reach weigh 0 and are left out of
    the pairs. Its objective is what the follower takes from the leader.
    """
    s = leader_strength(inst, open_sites)
    total = s + _pull(inst)
    w = np.asarray(inst.weight, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        weight = np.where(total > 0, w * s / total, 0.0)
    pc = np.asarray(follower.pair_cell, dtype=np.int64)
    keep = weight[pc] > 0
    f = follower.n_sites
    return Instance(
        weight=weight,
        pair_cell=pc[keep].astype(np.int32),
        pair_site=np.asarray(follower.pair_site, dtype=np.int64)[keep].astype(np.int32),
        pair_km=np.asarray(follower.pair_km, dtype=float)[keep],
        n_sites=f,
        stores=int(follower.stores),
        radius_km=np.zeros(f),
        site_attr=np.asarray(follower.site_attr, dtype=float),
        competitor_pull=total,
        beta=inst.beta,
        forbidden=np.asarray(follower.forbidden, dtype=np.int64),
        groups=list(follower.groups),
        keys=replace(inst.keys, stores=follower.key),
    )


def best_response(
    inst: Instance,
    open_sites: np.ndarray,
    follower: Follower,
    *,
    time_limit_s: float = 30.0,
    gap_target: float = 0.005,
    threads: int = 2,
    seed: int = 0,
    use_mip: bool = True,
    work_limit_s: float | None = None,
) -> Response:
    """The follower's best response to a leader plan, with a proven gap.

    Solved by ``solve.solve`` on :func:`follower_instance` (market share), with
    ``time_limit_s`` its wall-clock limit and ``work_limit_s`` its work budget
    (default ``solve``'s share of the limit).

    Returns
    -------
    Response
        ``sites`` (follower site indices), the leader's share before and after,
        the loss, its proven upper bound and the relative gap of the follower's solve.
    """
    from planner.optimise.solve import solve  # solve imports the whole optimiser

    t0 = time.perf_counter()
    before = share_against(inst, open_sites)
    if follower.stores == 0:
        return Response(np.zeros(0, dtype=np.int64), before, before, 0.0, 0.0, 0.0, 0.0, "optimal")
    finst = follower_instance(inst, open_sites, follower)
    small, kept = _useful_sites(finst)
    sol = solve(
        small, "market_share", time_limit_s=time_limit_s, gap_target=gap_target, threads=threads,
        seed=seed, use_mip=use_mip, work_limit_s=work_limit_s,
    )
    sites = np.sort(kept[np.asarray(sol.open_sites, dtype=np.int64)])
    after = share_against(inst, open_sites, response_pull(follower, sites, inst.n_cells, inst.beta))
    loss = before - after
    bounds = [b for b in (sol.bound, submodular_bound(finst, sites, follower)) if b is not None]
    bound = max(min(bounds), loss) if bounds else None
    gap = None if bound is None else relative_gap(loss, bound, maximise=True)
    log.info("best response: %d sites take %.6g of %.6g (bound %s, gap %s)", sites.size, loss, before, bound, gap)
    return Response(
        sites=sites, share_before=before, share_after=after, loss=loss, loss_bound=bound, gap=gap,
        seconds=time.perf_counter() - t0, status=sol.status, methods=dict(sol.methods),
        work_s=float(sol.stats.get("work_s", 0.0)),
    )


def _useful_sites(finst: Instance) -> tuple[Instance, np.ndarray]:
    """The follower instance on the sites that reach a cell the leader serves (plus what the counts need).

    A site without pairs adds nothing, so dropping it loses no response's value; a
    group held at a count keeps enough of its sites to fill it. Returns the smaller
    instance and the original index of each of its sites.
    """
    m = finst.n_sites
    forbidden = np.zeros(m, dtype=bool)
    forbidden[np.asarray(finst.forbidden, dtype=np.int64)] = True
    keep = np.zeros(m, dtype=bool)
    keep[np.asarray(finst.pair_site, dtype=np.int64)] = True
    keep &= ~forbidden
    need = [(np.arange(m), int(finst.stores))] + [
        (np.asarray(g.sites, dtype=np.int64), int(max(g.min_open, g.max_open or 0))) for g in finst.groups
    ]
    for members, count in need:
        short = count - int(keep[members].sum())
        if short > 0:
            pad = members[~keep[members] & ~forbidden[members]][:short]
            keep[pad] = True
    kept = np.flatnonzero(keep)
    if kept.size == m:
        return finst, kept
    new_index = np.full(m, -1, dtype=np.int64)
    new_index[kept] = np.arange(kept.size)
    ps = new_index[np.asarray(finst.pair_site, dtype=np.int64)]
    groups = [
        replace(g, sites=new_index[np.asarray(g.sites, dtype=np.int64)][new_index[np.asarray(g.sites, dtype=np.int64)] >= 0])
        for g in finst.groups
    ]
    small = replace(
        finst, pair_site=ps.astype(np.int32), n_sites=int(kept.size), radius_km=np.zeros(kept.size),
        site_attr=np.asarray(finst.site_attr, dtype=float)[kept], forbidden=np.zeros(0, dtype=np.int64), groups=groups,
    )
    return small, kept


def submodular_bound(finst: Instance, response: np.ndarray, follower: Follower) -> float:
    """An upper bound on the follower's best loss from the marginal gains at ``response``.

    The follower's objective is a sum over cells of a concave increasing function of
    an additive pull, so it is monotone submodular and, for any response R*,
    ``f(R*) <= f(R) + sum over k in R* - R of gain_k(R)`` (Nemhauser, Wolsey and
    Fisher). R* has at most ``stores`` sites outside R, and at most ``max_open``
    in each of disjoint groups: the sum of the largest gains within those counts bounds it.
    """
    w = np.asarray(finst.weight, dtype=float)
    pull = np.asarray(finst.competitor_pull, dtype=float)
    pc = np.asarray(finst.pair_cell, dtype=np.int64)
    ps = np.asarray(finst.pair_site, dtype=np.int64)
    a = attraction(np.asarray(finst.site_attr, dtype=float)[ps], finst.pair_km, finst.beta)
    is_r = np.zeros(finst.n_sites, dtype=bool)
    is_r[np.asarray(response, dtype=np.int64)] = True
    f_now = np.bincount(pc[is_r[ps]], weights=a[is_r[ps]], minlength=finst.n_cells)

    def term(f: np.ndarray, p: np.ndarray) -> np.ndarray:
        den = f + p
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(den > 0, f / den, 0.0)

    delta = w[pc] * (term(f_now[pc] + a, pull[pc]) - term(f_now[pc], pull[pc]))
    gain = np.bincount(ps, weights=delta, minlength=finst.n_sites)
    gain[is_r] = 0.0
    gain[np.asarray(finst.forbidden, dtype=np.int64)] = 0.0
    gain = np.maximum(gain, 0.0)
    value = float(np.sum(w * term(f_now, pull)))
    k = int(finst.stores)
    best = float(np.sum(np.sort(gain)[::-1][:k]))
    groups = [g for g in follower.groups if g.max_open is not None]
    members = np.concatenate([np.asarray(g.sites, dtype=np.int64) for g in groups]) if groups else np.zeros(0, dtype=np.int64)
    if groups and members.size == finst.n_sites and np.unique(members).size == members.size:
        per_group = sum(
            float(np.sum(np.sort(gain[np.asarray(g.sites, dtype=np.int64)])[::-1][: int(g.max_open or 0)]))
            for g in groups
        )
        best = min(best, per_group)
    return value + best


# --------------------------------------------------------------------------- the leader against a set of responses
def master_instance(inst: Instance, pulls: list[np.ndarray], lam: np.ndarray) -> Instance:
    """The leader's instance whose objective is ``sum_r lam_r * share(X, pull_r)``.

    Cells whose extra pull is the same in every response appear once; the others
    once per response, with weight ``lam_r * w_i`` and pull ``C_i + pull_r[i]``.
    Every constraint of ``inst`` is kept (the sites do not change).
    """
    base = _pull(inst)
    w = np.asarray(inst.weight, dtype=float)
    lam = np.asarray(lam, dtype=float) / float(np.sum(lam))
    stack = np.vstack(pulls)
    differ = np.any(stack != stack[0], axis=0)
    weight = [np.where(differ, lam[0] * w, w)]
    pull = [base + stack[0]]
    pc = np.asarray(inst.pair_cell, dtype=np.int64)
    cells, sites, kms = [pc], [np.asarray(inst.pair_site, dtype=np.int64)], [np.asarray(inst.pair_km, dtype=float)]
    d_idx = np.flatnonzero(differ)
    remap = np.full(inst.n_cells, -1, dtype=np.int64)
    remap[d_idx] = np.arange(d_idx.size)
    in_d = differ[pc]
    offset = inst.n_cells
    for r in range(1, len(pulls)):
        weight.append(lam[r] * w[d_idx])
        pull.append(base[d_idx] + stack[r][d_idx])
        cells.append(offset + remap[pc[in_d]])
        sites.append(np.asarray(inst.pair_site, dtype=np.int64)[in_d])
        kms.append(np.asarray(inst.pair_km, dtype=float)[in_d])
        offset += d_idx.size
    c, s, k = np.concatenate(cells), np.concatenate(sites), np.concatenate(kms)
    order = np.lexsort((c, s))
    return replace(
        inst, weight=np.concatenate(weight), pair_cell=c[order].astype(np.int32),
        pair_site=s[order].astype(np.int32), pair_km=k[order], competitor_pull=np.concatenate(pull),
    )


def _enumerable(inst: Instance, max_plans: int) -> bool:
    n = plan_count(compile_model(inst, "market_share"))
    return n is not None and n <= max_plans


def _exact_master(inst: Instance, pulls: list[np.ndarray]) -> tuple[np.ndarray, float]:
    """max_X min_r share(X, pull_r) by scoring every plan (tiny instances without side constraints)."""
    m = inst.n_sites
    forced = np.zeros(m, dtype=bool)
    forced[np.asarray(inst.fixed, dtype=np.int64)] = True
    allowed = np.ones(m, dtype=bool)
    allowed[np.asarray(inst.forbidden, dtype=np.int64)] = False
    free = np.flatnonzero(allowed & ~forced)
    k = int(inst.stores) - int(forced.sum())
    attr = np.ones(m) if inst.site_attr is None else np.asarray(inst.site_attr, dtype=float)
    dense = np.zeros((inst.n_cells, m))
    np.add.at(dense, (inst.pair_cell, inst.pair_site), attraction(attr[inst.pair_site], inst.pair_km, inst.beta))
    w, base = np.asarray(inst.weight, dtype=float), _pull(inst)
    best_v, best = -np.inf, None
    for combo in itertools.combinations(free.tolist(), k):
        sel = np.concatenate([np.flatnonzero(forced), np.asarray(combo, dtype=np.int64)])
        s = dense[:, sel].sum(axis=1)
        v = min(_share(w, s, base + p) for p in pulls)
        if v > best_v + 1e-12 * max(1.0, abs(v)):
            best_v, best = v, np.sort(sel)
    assert best is not None
    return best, best_v


def anticipate(
    inst: Instance,
    follower: Follower,
    *,
    start: np.ndarray,
    time_limit_s: float = 120.0,
    solve_time_limit_s: float | None = None,
    solve_work_limit_s: float | None = None,
    gap_target: float = 0.005,
    max_rounds: int = 8,
    threads: int = 2,
    seed: int = 0,
    use_mip: bool = True,
    max_enumerated: int = 20_000,
) -> MaxMin:
    """The leader's plan that holds up best after the follower's best response (max-min).

    Parameters
    ----------
    inst : Instance
        The leader's instance (market share against ``competitor_pull``; every
        constraint is kept).
    follower : Follower
        The rivals' sites and openings.
    start : ndarray of int
        The plan that ignores the response (it is the first candidate and the
        fallback, so the result is never worse after the response found).
    time_limit_s : float
        Nominal budget of the whole loop (s): its work budget is
        ``incumbent.WORK_PER_LIMIT_S`` times it, each solve's that share of
        ``solve_time_limit_s`` (default a quarter of it), and rounds stop once
        the solves' work (their ``stats["work_s"]``) has used the loop's, so the
        result does not depend on the machine's load. The wall clock is a
        safety net: each solve's limit is at most what is left of it, and a
        loop it stops, or one with a solve it cut short, has
        ``status = "time_limit"``.
    solve_work_limit_s : float, optional
        Each solve's work budget (nominal seconds) instead of that share.
    gap_target : float
        Stop once (bound - value) / bound is at most this (a fraction).
    max_rounds : int
        Most master solves.

    Returns
    -------
    MaxMin
    """
    from planner.optimise.solve import solve

    t0 = time.perf_counter()
    per_solve = solve_time_limit_s or max(1.0, 0.25 * time_limit_s)
    work_total = WORK_PER_LIMIT_S * time_limit_s
    per_work = WORK_PER_LIMIT_S * per_solve if solve_work_limit_s is None else float(solve_work_limit_s)
    spent = [0.0]  # nominal seconds of the solves so far
    cut = [False]  # the wall clock cut a solve short (its result may differ from run to run)

    def left() -> float:
        return time_limit_s - (time.perf_counter() - t0)

    def respond(plan: np.ndarray) -> Response:
        r = best_response(
            inst, plan, follower, time_limit_s=max(0.5, min(per_solve, left())), gap_target=gap_target,
            threads=threads, seed=seed, use_mip=use_mip, work_limit_s=per_work,
        )
        spent[0] += r.work_s
        cut[0] |= r.status == "time_limit"
        return r

    start = np.sort(np.asarray(start, dtype=np.int64))
    r0 = respond(start)
    responses = [r0.sites]
    pulls = [response_pull(follower, r0.sites, inst.n_cells, inst.beta)]
    # per plan: its own response (for the proven gap) and its value against every known response
    plans: list[tuple[np.ndarray, Response]] = [(start, r0)]

    def worst_known(plan: np.ndarray) -> tuple[float, int]:
        vals = [share_against(inst, plan, p) for p in pulls]
        i = int(np.argmin(vals))
        return float(vals[i]), i

    exact = _enumerable(inst, max_enumerated)
    bound = np.inf
    history: list[dict[str, float]] = [{"round": 0.0, "value": r0.share_after, "bound": np.inf}]
    lam = np.ones(1)
    status = "rounds"
    rounds = 0
    for rounds in range(1, max_rounds + 1):
        if spent[0] >= 0.95 * work_total:
            break  # the loop's work is spent: "rounds", as when the rounds run out
        if left() <= 0.05 * time_limit_s:
            status = "time_limit"  # the safety net: a loaded machine
            break
        if exact:
            plan, b = _exact_master(inst, pulls)
        else:
            sol = solve(
                master_instance(inst, pulls, lam), "market_share", time_limit_s=max(0.5, min(per_solve, left())),
                gap_target=gap_target, threads=threads, seed=seed, use_mip=use_mip, work_limit_s=per_work,
            )
            spent[0] += float(sol.stats.get("work_s", per_work))
            cut[0] |= sol.status == "time_limit"
            plan, b = np.sort(np.asarray(sol.open_sites, dtype=np.int64)), (np.inf if sol.bound is None else sol.bound)
        bound = min(bound, float(b))
        resp = respond(plan)
        plans.append((plan, resp))
        value = resp.share_after
        history.append({"round": float(rounds), "value": value, "bound": bound})
        best_value = max(min(worst_known(p)[0], r.share_after) for p, r in plans)
        log.info("anticipate round %d: value %.6g, best %.6g, bound %.6g", rounds, value, best_value, bound)
        repeated = any(np.array_equal(resp.sites, r) for r in responses)
        if relative_gap(best_value, bound, maximise=True) <= gap_target:
            status = "optimal" if exact else "converged"
            break
        if repeated:
            # the master's plan is already answered by a known response: a heuristic
            # master cannot make progress against the same set
            status = "converged"
            break
        responses.append(resp.sites)
        pulls.append(response_pull(follower, resp.sites, inst.n_cells, inst.beta))
        # weigh the responses that hurt the latest plan most (multiplicative weights)
        vals = np.array([share_against(inst, plan, p) for p in pulls])
        scale = max(1e-12, float(np.ptp(vals)))
        lam = np.append(lam, lam.mean()) * np.exp(-(vals - vals.min()) / scale)
    # the best plan by its worst known response; the plan that ignores the response is a candidate
    def scored(item: tuple[np.ndarray, Response]) -> tuple[float, np.ndarray]:
        plan, own = item
        v, which = worst_known(plan)
        return (own.share_after, own.sites) if own.share_after <= v else (v, responses[which])

    values = [scored(item) for item in plans]
    pick = int(np.argmax([v for v, _ in values]))  # ties keep the earliest (the start)
    (value, response), (plan, own) = values[pick], plans[pick]
    b_out = None if not np.isfinite(bound) else max(float(bound), value)
    loss = own.share_before - value
    r_gap = None if own.loss_bound is None else relative_gap(loss, max(own.loss_bound, loss), maximise=True)
    start_value = values[0][0]
    if cut[0] and status != "optimal":
        status = "time_limit"  # a solve was cut by the safety net: report it as the loop's
    return MaxMin(
        open_sites=plan, objective=value, bound=b_out,
        gap=None if b_out is None else relative_gap(value, b_out, maximise=True),
        response=np.sort(response), response_gap=r_gap, objective_without_response=own.share_before,
        start_objective=start_value, rounds=rounds, seconds=time.perf_counter() - t0, status=status,
        history=history,
    )
