"""Per-store explanations equal their brute-force definitions."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.optimise.check import objective_value, per_site_explain
from planner.optimise.types import Instance


def random_instance(seed: int, decay: str) -> Instance:
    rng = np.random.default_rng(seed)
    n, m = int(rng.integers(3, 25)), int(rng.integers(2, 10))
    k = int(rng.integers(1, n * m + 1))
    flat = rng.choice(n * m, size=k, replace=False)
    cell, site = flat // m, flat % m
    order = np.lexsort((cell, site))
    return Instance(
        weight=rng.random(n) * 10,
        pair_cell=cell[order].astype(np.int32),
        pair_site=site[order].astype(np.int32),
        pair_km=np.round(rng.random(k) * 12, 1)[order],
        n_sites=m,
        stores=2,
        radius_km=rng.choice([3.0, 6.0, 10.0], size=m),
        unreachable_km=15.0,
        site_attr=rng.random(m) + 0.5,
        competitor_pull=rng.random(n) * rng.integers(0, 2),
        decay=decay,  # type: ignore[arg-type]
    )


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 100_000), decay=st.sampled_from(["step", "linear", "exponential"]),
       kind=st.sampled_from(["coverage", "distance", "market_share"]))
def test_marginal_value_is_loss_when_removed(seed: int, decay: str, kind: str) -> None:
    inst = random_instance(seed, decay)
    rng = np.random.default_rng(seed + 1)
    open_sites = np.sort(rng.choice(inst.n_sites, size=int(rng.integers(1, inst.n_sites + 1)), replace=False))
    got = per_site_explain(inst, open_sites, kind)  # type: ignore[arg-type]
    full = objective_value(inst, open_sites, kind)  # type: ignore[arg-type]
    for k, s in enumerate(open_sites):
        without = objective_value(inst, open_sites[open_sites != s], kind)  # type: ignore[arg-type]
        want = without - full if kind == "distance" else full - without
        assert got["marginal_value"][k] == pytest.approx(want, rel=1e-9, abs=1e-9)
        assert got["marginal_value"][k] >= -1e-9
