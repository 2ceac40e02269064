"""The stores it takes: the fewest total stores that reach a market share (``planner target``).

Esri's "target market share" as a search over store counts with the optimiser
itself. For a count n the scenario is solved for ``market_share`` with
``constraints.total_stores = n`` (every other rule kept; with ``--unit`` the
objective counts only that province's or city's cells): a plan reaching the
target proves n is enough (``stores_max``), a proven share bound below the target
proves n is not, and neither is any smaller count, since the best share never
falls when a store is added (Huff attraction only grows), so ``stores_min`` is
one more than the largest such n. Counts in between that the time limit leaves
undecided are reported as such.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from planner.config.models import Scenario
from planner.errors import ConfigError, InfeasibleError
from planner.instance import UnitNames
from planner.optimise.compete import leader_strength
from planner.optimise.feasibility import precheck
from planner.optimise.types import Instance, Solution
from planner.pipeline import Prepared, prepare, run, select_sites

__all__ = ["TargetResult", "feasible_counts", "find_target", "search_counts", "unit_weights"]

log = logging.getLogger(__name__)


@dataclass
class TargetResult:
    """What ``planner target`` prints: ``stores_min``, ``stores_max``, ``share_at_max`` and the run folder."""

    stores_min: int
    stores_max: int | None
    share_at_max: float | None  # percent
    run: Path | None
    unit: str
    target_pct: float
    reachable: bool = True
    best_share_pct: float | None = None  # when unreachable: the most any plan can reach (an upper bound)
    reason: str = ""
    probes: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "stores_min": self.stores_min, "stores_max": self.stores_max, "share_at_max": self.share_at_max,
            "run": None if self.run is None else str(self.run),
        }
        if not self.reachable:
            out["best_share_possible"] = self.best_share_pct
        if self.reason:
            out["reason"] = self.reason
        return out


def unit_weights(prep: Prepared, unit: str | None) -> tuple[np.ndarray, str]:
    """Demand weights of the cells of ``unit`` (a province or city, by code or name; zero elsewhere).

    Raises
    ------
    ConfigError
        ``--unit`` names no province or city of the scenario.
    """
    w = np.asarray(prep.built.instance.weight, dtype=float)
    if unit is None:
        return w, "nation"
    layers, cells = prep.layers, prep.built.cells
    for level, table in (("province", layers.provinces), ("city", layers.cities)):
        try:
            code = UnitNames(level, table[["code", "name", "name_en"]]).resolve(unit, "--unit")
        except ConfigError:
            continue
        mask = cells[f"{level}_code"].astype(str).to_numpy() == code
        name = str(table.set_index(table["code"].astype(str)).loc[code, "name"])
        return np.where(mask, w, 0.0), f"{level} {code} {name}"
    # the message of the city lookup, which suggests a close name
    UnitNames("city", layers.cities[["code", "name", "name_en"]]).resolve(unit, "--unit")
    raise AssertionError("unreachable")  # pragma: no cover


def _max_share(inst: Instance, weight: np.ndarray) -> float:
    """Share with every allowed site open (formats: the most attractive per location): no plan beats it."""
    allowed = np.ones(inst.n_sites, dtype=bool)
    allowed[np.asarray(inst.forbidden, dtype=np.int64)] = False
    strength = leader_strength(inst, np.flatnonzero(allowed))
    pull = np.zeros(inst.n_cells) if inst.competitor_pull is None else np.asarray(inst.competitor_pull)
    den = strength + pull
    total = float(weight.sum())
    with np.errstate(invalid="ignore", divide="ignore"):
        return float(np.sum(np.where(den > 0, weight * strength / den, 0.0)) / total) if total else 0.0


def find_target(
    scenario: Scenario,
    *,
    share_pct: float,
    unit: str | None = None,
    results_dir: str | Path | None = None,
    progress: Callable[[str, dict[str, Any]], None] | None = None,
    max_probes: int = 24,
    write: bool = True,
) -> TargetResult:
    """The fewest total stores whose plan reaches ``share_pct`` % own share (nationally or in ``unit``).

    Each probe is one market-share solve with the scenario's solver settings; the
    plan at ``stores_max`` is written as an ordinary run folder (objective
    ``market_share``, ``constraints.total_stores = stores_max``).

    Returns
    -------
    TargetResult
    """
    if not 0 < share_pct < 100:
        raise ConfigError(f"--share {share_pct}: give a percentage between 0 and 100.")
    sc = scenario.model_copy(deep=True)
    sc.objective.kind = "market_share"
    prep = prepare(sc, progress=progress)
    inst0 = prep.built.instance
    weight, label = unit_weights(prep, unit)
    total_w = float(weight.sum())
    if total_w <= 0:
        raise ConfigError(f"--unit {unit}: the unit has no demand in this scenario.")
    target = share_pct / 100.0
    probes: list[dict[str, Any]] = []
    plans: dict[int, Solution] = {}

    def probe(n: int) -> tuple[float | None, float | None]:
        """(share, bound) of the best plan with n stores; (None, None) when no plan has n stores."""
        sc_n = sc.model_copy(deep=True)
        sc_n.constraints.total_stores = n
        inst_n = replace(inst0, stores=n, weight=weight)
        if precheck(inst_n):
            probes.append({"stores": n, "share_pct": None, "bound_pct": None, "note": "no plan has this many stores"})
            return None, None
        p = Prepared(scenario=sc_n, layers=prep.layers, demand=prep.demand,
                     built=replace(prep.built, instance=inst_n), timings=prep.timings)
        try:
            sol, _ = select_sites(p, progress)
        except InfeasibleError:
            probes.append({"stores": n, "share_pct": None, "bound_pct": None, "note": "infeasible"})
            return None, None
        share = sol.objective / total_w
        bound = None if sol.bound is None else sol.bound / total_w
        plans[n] = sol
        probes.append({"stores": n, "share_pct": 100 * share, "bound_pct": None if bound is None else 100 * bound,
                       "seconds": sol.seconds})
        log.info("target: %d stores give %.3f %% (bound %s)", n, 100 * share, bound)
        return share, bound

    n_fixed = int(np.unique(np.asarray(inst0.fixed)).size)
    n_top = int(np.unique(np.asarray(inst0.site_location if inst0.site_location is not None else np.arange(inst0.n_sites))).size)
    best_possible = _max_share(inst0, weight)
    if best_possible < target:
        return TargetResult(
            stores_min=n_top + 1, stores_max=None, share_at_max=None, run=None, unit=label, target_pct=share_pct,
            reachable=False, best_share_pct=100 * best_possible,
            reason=f"no number of stores reaches {share_pct:g} %: with every candidate open the share is "
            f"{100 * best_possible:.3f} % at most",
        )
    # the store counts the scenario's rules allow at all (minimums below, maximums above)
    total = sc.constraints.total_stores
    hint = total if isinstance(total, int) else int(total.max)  # a {min, max} range starts from its top
    n_low, n_cap = feasible_counts(
        lambda n: not precheck(replace(inst0, stores=n)), max(n_fixed, 1), n_top, hint=hint
    )
    if n_low is None:
        raise InfeasibleError("no store count satisfies the scenario's rules", problems=precheck(inst0))
    lo, hi_ok, hi = search_counts(
        probe, lo=n_low, start=min(max(hint, n_low), n_cap), top=n_cap,
        target=target, max_probes=max_probes,
    )
    if hi_ok is None:
        at_cap = next((p for p in reversed(probes) if p["stores"] == hi and p.get("share_pct") is not None), None)
        cap_note = f" (the rules allow at most {n_cap} stores)" if n_cap < n_top else ""
        best = None if at_cap is None else at_cap["share_pct"]
        return TargetResult(
            stores_min=lo, stores_max=None, share_at_max=None, run=None, unit=label, target_pct=share_pct,
            reachable=False, best_share_pct=best, probes=probes,
            reason=f"no plan reaching {share_pct:g} % was found up to {hi} stores{cap_note}: the best plan there "
            f"reaches {best if best is None else round(best, 3)} %, proven bound "
            f"{None if at_cap is None or at_cap['bound_pct'] is None else round(at_cap['bound_pct'], 3)} %",
        )
    reason = ""
    if lo < hi_ok:
        reason = (
            f"between {lo} and {hi_ok - 1} stores the solver's proven gap leaves it open whether "
            f"{share_pct:g} % can be reached (time limit per solve {sc.solver.time_limit_s:g} s; raise "
            "solver.time_limit_s to narrow it)"
        )
    sol = plans[hi_ok]
    run_path: Path | None = None
    if write:
        sc_u = sc.model_copy(deep=True)
        sc_u.constraints.total_stores = hi_ok
        prep_u = Prepared(scenario=sc_u, layers=prep.layers, demand=prep.demand,
                          built=replace(prep.built, instance=replace(inst0, stores=hi_ok)), timings=prep.timings)
        full = replace(sol, objective=float(sol.objective), bound=None, gap=None,
                       methods={**sol.methods, "target": f"{share_pct:g} % in {label}"})
        if unit is not None:
            # the run reports the national objective; the unit's share is in share.csv
            from planner.optimise.check import objective_value

            full = replace(full, objective=float(objective_value(inst0, sol.open_sites, "market_share")))
        try:
            res = run(sc_u, results_dir=results_dir, progress=progress, prepared=prep_u, solution=full)
            run_path = res.path
        except InfeasibleError as exc:
            # e.g. the rollout cannot open that many stores in its horizon: the count still stands
            reason = (reason + "; " if reason else "") + (
                f"the plan with {hi_ok} stores was not written: {exc.message} "
                + " ".join(exc.problems[:3]) + " (set rollout.enabled=false to count stores without the rollout)"
            )
            log.warning("target: %s", reason)
    return TargetResult(
        stores_min=lo, stores_max=hi_ok, share_at_max=round(100 * sol.objective / total_w, 4), run=run_path,
        unit=label, target_pct=share_pct, reason=reason, probes=probes,
    )


def search_counts(
    probe: Callable[[int], tuple[float | None, float | None]],
    *,
    lo: int,
    start: int,
    top: int,
    target: float,
    max_probes: int = 24,
) -> tuple[int, int | None, int]:
    """Search the store counts: ``(L, U, last count tried)``.

    ``probe(n)`` gives the share of the best plan found with n stores and a
    proven bound on any plan's share (``(None, None)``: no plan has n stores).
    Every count below L is proven short (a bound below ``target``, or no plan, at
    L - 1 or above, and the best share does not fall with more stores); a plan
    with U stores reaches ``target`` (U is None when none was found up to
    ``top``). Counts the bound cannot settle are "undecided": the search looks for
    a proof below and a plan above them, so L < U means the gap left it open.
    """
    n_probes = 0

    def ask(n: int) -> str:
        nonlocal n_probes
        n_probes += 1
        s, b = probe(n)
        if s is not None and s >= target:
            return "reaches"
        if s is None or (b is not None and b < target):
            return "short"
        return "undecided"

    hi = start
    hi_ok: int | None = None
    undecided: set[int] = set()
    # an upper count: the scenario's own, doubled until a plan reaches the target
    while n_probes < max_probes:
        verdict = ask(hi)
        if verdict == "reaches":
            hi_ok = hi
            break
        if verdict == "short":
            lo = max(lo, hi + 1)
        else:
            undecided.add(hi)
        if hi >= top:
            break
        hi = min(2 * hi, top)
    if hi_ok is None:
        return lo, None, hi
    while lo < hi_ok and n_probes < max_probes:
        und_in = sorted(u for u in undecided if lo <= u < hi_ok)
        if not und_in:
            mid = (lo + hi_ok) // 2
        elif lo < und_in[0]:
            mid = (lo + und_in[0] - 1) // 2  # look for a proof below the undecided counts
        elif und_in[-1] + 1 < hi_ok:
            mid = (und_in[-1] + 1 + hi_ok) // 2  # look for a plan above them
        else:
            break
        verdict = ask(mid)
        if verdict == "reaches":
            hi_ok = mid
        elif verdict == "short":
            lo = mid + 1
        else:
            undecided.add(mid)
    return lo, hi_ok, hi


def feasible_counts(ok: Callable[[int], bool], lo: int, hi: int, *, hint: int | None = None) -> tuple[int | None, int]:
    """The smallest and largest store counts in ``lo..hi`` that ``ok`` accepts (bisection; ``ok`` monotone on each side).

    Minimums make small counts impossible and maximums large ones; the counts
    between are a range. Returns ``(None, hi)`` when neither end is accepted and no
    count in between is found by halving.
    """
    # a count that is accepted: try the ends, then the middle
    tries = ([hint] if hint is not None and lo <= hint <= hi else []) + [lo, hi, (lo + hi) // 2]
    probe = next((n for n in tries if ok(n)), None)
    if probe is None:
        return None, hi
    a, b = lo, probe  # smallest accepted in [a, b]
    while a < b:
        mid = (a + b) // 2
        if ok(mid):
            b = mid
        else:
            a = mid + 1
    low = a
    a, b = probe, hi  # largest accepted in [a, b]
    while a < b:
        mid = (a + b + 1) // 2
        if ok(mid):
            a = mid
        else:
            b = mid - 1
    return low, a
