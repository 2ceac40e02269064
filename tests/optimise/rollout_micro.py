"""Hand-checkable rollout micro-instances shared by the rollout tests.

Every site gets its own cell (weight = the site's value, distance 0), so the
quarterly coverage is the sum of the open sites' values and the best schedule
can be worked out by hand. :func:`cfg` is a rollout with no limit but the ones
a test sets (100 managers, no training, no budget, no chain, no province cap).
"""

from __future__ import annotations

import numpy as np

from planner.optimise.rollout import RolloutInstance, RolloutParams
from planner.optimise.types import Instance, Solution


def micro(
    values: list[float],
    *,
    existing: list[float] = (),  # type: ignore[assignment]
    province: list[int] | None = None,
    county: list[bool] | None = None,
    capex: list[float] | None = None,
    stores: int | None = None,
    **inst_kw: object,
) -> RolloutInstance:
    """Existing stores first (values ``existing``), then new sites (values ``values``)."""
    vals = list(existing) + list(values)
    m = len(vals)
    e = len(existing)
    inst = Instance(
        weight=np.asarray(vals, dtype=float),
        pair_cell=np.arange(m, dtype=np.int32),
        pair_site=np.arange(m, dtype=np.int32),
        pair_km=np.zeros(m),
        n_sites=m,
        stores=m if stores is None else stores,
        radius_km=np.ones(m),
        fixed=np.arange(e, dtype=np.int64),
        **inst_kw,  # type: ignore[arg-type]
    )
    pad = lambda x, d: (list(x) if x is not None else [d] * len(values))  # noqa: E731
    return RolloutInstance(
        instance=inst,
        site_province=np.asarray([0] * e + pad(province, 0)),
        site_is_county=np.asarray([False] * e + pad(county, False)),
        capex_cny=np.asarray([0.0] * e + pad(capex, 0.0)),
        opex_cny=np.full(m, 4.0),
    )


def cfg(**kw: object) -> RolloutParams:
    base = dict(
        quarters=3, initial_managers=100, cadres_per_store=0.0, training_quarters=0, attrition_pct=0.0,
        external_hires_per_quarter=0, external_hire_cost_cny=0.0, capex_budget_per_quarter_cny=None,
        carry_over=False, city_stores_before_county=0, max_openings_per_province_per_quarter=None,
    )
    base.update(kw)
    return RolloutParams(**base)  # type: ignore[arg-type]


def all_open(ri: RolloutInstance) -> Solution:
    return Solution(open_sites=np.arange(ri.instance.n_sites), objective=0.0, objective_kind="coverage")


def quarters_of(res, sites: list[int]) -> list[int]:  # type: ignore[no-untyped-def]
    q = dict(zip(res.open_sites.tolist(), res.quarter.tolist(), strict=True))
    return [q.get(j, None) for j in sites]
