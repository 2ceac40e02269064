"""A schedule's working context: the candidates, their attributes in local indices, and the joint mode's selection.

Every search in this package (the quarter greedy, the MIP, the bounds) works on
*local* candidate indices ``0..n-1`` (``Context.cand`` maps them to global site
ids). :class:`Selection` tracks the site-selection constraints of the joint
mode (store count, one site per location, spacing, group minima and maxima,
budgets) incrementally, so the greedy can test a site in O(degree).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from planner.optimise.rollout.model import NetworkValue, value_model
from planner.optimise.rollout.types import TOL, RolloutInstance, RolloutParams

__all__ = ["NEVER", "Context", "Selection", "make_context"]

NEVER = -2  # local marker: candidate not opened within the horizon


@dataclass
class Context:
    """Everything a schedule needs, in local candidate indices (0..n-1)."""

    rinst: RolloutInstance
    params: RolloutParams
    base: np.ndarray  # global ids open before the horizon
    cand: np.ndarray  # global ids of candidate new sites
    must_open: bool  # two-stage: every candidate opens
    n_required: int  # new openings required by the end
    capex: np.ndarray
    prov: np.ndarray
    county: np.ndarray
    city_base: np.ndarray  # existing city-core stores per province
    vm: NetworkValue
    base_state: np.ndarray
    base_value: float
    sel: Selection | None = None  # joint mode only
    avail: np.ndarray | None = None  # int[n] first quarter each candidate may open (None: 0)
    area: np.ndarray | None = None  # local candidate -> area (-1 = none); None = no command
    area_pre: np.ndarray | None = None  # bool[n_areas] area formed before the horizon (holds a base store)
    required: np.ndarray | None = None  # bool[n] candidates that must open by the end (joint: site_must_open)

    @property
    def T(self) -> int:  # noqa: N802 - the model's notation
        """Quarters in the horizon."""
        return int(self.params.quarters)

    @property
    def n(self) -> int:
        """Candidates."""
        return int(self.cand.size)

    @property
    def n_prov(self) -> int:
        """Provinces."""
        return self.rinst.n_provinces


def make_context(
    rinst: RolloutInstance, params: RolloutParams, base: np.ndarray, cand: np.ndarray, *, must_open: bool,
    n_required: int,
) -> Context:
    """The context of scheduling candidates ``cand`` (global ids) on top of the network ``base``."""
    vm = value_model(rinst)
    base_state = vm.state_of(base)
    n_prov = rinst.n_provinces
    prov = rinst.site_province
    county = rinst.site_is_county
    city_base = np.bincount(prov[base][~county[base]], minlength=n_prov)
    area = area_pre = None
    if rinst.commanded:
        assert rinst.site_area is not None
        site_area = rinst.site_area
        n_areas = int(site_area.max()) + 1 if site_area.size else 0
        area = site_area[cand]
        area_pre = np.zeros(max(n_areas, 0), dtype=bool)
        b = site_area[base]
        area_pre[b[b >= 0]] = True
    return Context(
        rinst=rinst, params=params, base=base, cand=cand, must_open=must_open, n_required=n_required,
        capex=rinst.site_capex()[cand], prov=prov[cand], county=county[cand], city_base=city_base,
        vm=vm, base_state=base_state, base_value=vm.total(base_state), area=area, area_pre=area_pre,
        avail=rinst.available_from()[cand] if rinst.site_available_from is not None else None,
        required=None if rinst.site_must_open is None or not len(rinst.site_must_open)
        else np.isin(cand, np.asarray(rinst.site_must_open, dtype=np.int64)),
    )


class Selection:
    """The site-selection constraints of the joint mode, on local candidate indices."""

    def __init__(self, rinst: RolloutInstance, base: np.ndarray, cand: np.ndarray) -> None:
        inst = rinst.instance
        n = cand.size
        g2l = np.full(inst.n_sites, -1, dtype=np.int64)
        g2l[cand] = np.arange(n)
        self.g2l = g2l
        s_lo, s_hi = inst.store_range()  # exactly ``stores``, or a range (profit)
        self.target = s_hi - int(base.size)  # most new stores
        self.target_lo = max(s_lo - int(base.size), 0) if s_lo != s_hi else self.target  # fewest new stores
        # locations: one open site each
        if inst.site_location is not None:
            loc = np.asarray(inst.site_location, dtype=np.int64)
            _, self.loc = np.unique(loc[cand], return_inverse=True)
        else:
            self.loc = np.arange(n)
        self.loc_used = np.zeros(int(self.loc.max()) + 1 if n else 0, dtype=bool)
        a = g2l[np.asarray(inst.conflict_a, dtype=np.int64)]
        b = g2l[np.asarray(inst.conflict_b, dtype=np.int64)]
        ok = (a >= 0) & (b >= 0)
        self.conf_a, self.conf_b = a[ok], b[ok]
        nbr: list[list[int]] = [[] for _ in range(n)]
        for x, y in zip(self.conf_a.tolist(), self.conf_b.tolist(), strict=True):
            nbr[x].append(y)
            nbr[y].append(x)
        self.nbr = nbr
        self.blocked = np.zeros(n, dtype=bool)
        # groups: (local members, min_new, max_new, key)
        pre = np.zeros(inst.n_sites, dtype=bool)
        pre[base] = True
        self.groups: list[tuple[np.ndarray, int, int | None, str]] = []
        for g in inst.groups:
            s = np.asarray(g.sites, dtype=np.int64)
            have = int(pre[s].sum())
            loc_ = g2l[s]
            loc_ = loc_[loc_ >= 0]
            hi = None if g.max_open is None else g.max_open - have
            self.groups.append((loc_, max(0, g.min_open - have), hi, g.key or g.name))
        self.site_groups: list[list[int]] = [[] for _ in range(n)]
        for gi, (mem, _, _, _) in enumerate(self.groups):
            for j in mem.tolist():
                self.site_groups[j].append(gi)
        self.group_count = np.zeros(len(self.groups), dtype=np.int64)
        capex = rinst.site_capex()
        opex = rinst.site_opex()
        self.capex = capex[cand]
        self.opex = opex[cand]
        self.capex_left = math.inf if inst.capex_budget_cny is None else inst.capex_budget_cny - capex[base].sum()
        self.opex_left = math.inf if inst.opex_budget_cny is None else inst.opex_budget_cny - opex[base].sum()
        self.count = 0

    def copy_state(self) -> tuple[Any, ...]:
        return (self.loc_used.copy(), self.blocked.copy(), self.group_count.copy(),
                self.capex_left, self.opex_left, self.count)

    def restore(self, s: tuple[Any, ...]) -> None:
        (self.loc_used, self.blocked, self.group_count, self.capex_left, self.opex_left, self.count) = (
            s[0].copy(), s[1].copy(), s[2].copy(), s[3], s[4], s[5])

    def ok(self, j: int) -> bool:
        if self.count >= self.target or self.blocked[j] or self.loc_used[self.loc[j]]:
            return False
        if self.capex[j] > self.capex_left + TOL or self.opex[j] > self.opex_left + TOL:
            return False
        for gi in self.site_groups[j]:
            hi = self.groups[gi][2]
            if hi is not None and self.group_count[gi] >= hi:
                return False
        return True

    def add(self, j: int) -> None:
        self.count += 1
        self.loc_used[self.loc[j]] = True
        for k in self.nbr[j]:
            self.blocked[k] = True
        for gi in self.site_groups[j]:
            self.group_count[gi] += 1
        self.capex_left -= self.capex[j]
        self.opex_left -= self.opex[j]

    def accepts(self, sites: np.ndarray) -> bool:
        """Whether the final network of local ``sites`` satisfies every selection constraint."""
        saved = self.copy_state()
        try:
            for j in np.asarray(sites).tolist():
                if not self.ok(j):
                    return False
                self.add(j)
            return self.count_ok() and self.mins_met()
        finally:
            self.restore(saved)

    def count_ok(self) -> bool:
        """Whether the new stores so far are as many as the count (or range) asks."""
        return self.target_lo <= self.count <= self.target

    def mins_met(self) -> bool:
        return all(self.group_count[gi] >= g[1] for gi, g in enumerate(self.groups))


