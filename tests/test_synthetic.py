"""Tests for ``planner.synthetic``: the instance generators are seeded, shaped as documented, checked."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from planner import synthetic
from planner.bench import read_npz, write_npz
from planner.optimise.check import objective_value
from planner.optimise.model import compile_model
from planner.optimise.types import Instance, attraction
from planner.synthetic import (
    clustered_instance,
    encode_logit,
    logit_capture,
    logit_capture_instance,
    logit_utilities,
    synthetic_instance,
)
from tests.fixtures.instances import assert_same


def test_synthetic_is_deterministic() -> None:
    a = synthetic_instance(
        cells=5000, candidates=500, stores=50, existing=8, seed=11, objective="coverage"
    )
    b = synthetic_instance(
        cells=5000, candidates=500, stores=50, existing=8, seed=11, objective="coverage"
    )
    assert_same(a, b)
    c = synthetic_instance(
        cells=5000, candidates=500, stores=50, existing=8, seed=12, objective="coverage"
    )
    assert not np.array_equal(a.weight, c.weight)
    # the objective does not change the arrays: one instance, three scores
    d = synthetic_instance(
        cells=5000, candidates=500, stores=50, existing=8, seed=11, objective="distance"
    )
    assert_same(a, d)


def test_synthetic_shape() -> None:
    inst = synthetic_instance(
        cells=20000, candidates=2000, stores=200, existing=30, seed=1, objective="coverage"
    )
    assert inst.n_cells == 20000 and inst.n_sites == 2000 and inst.stores == 200
    assert inst.fixed.size == 30 and np.unique(inst.fixed).size == 30
    assert 3.5 <= inst.n_pairs / inst.n_cells <= 4.5
    assert np.all(inst.pair_km <= inst.radius_km[0])
    assert np.array_equal(np.lexsort((inst.pair_cell, inst.pair_site)), np.arange(inst.n_pairs))
    assert inst.unreachable_km > inst.radius_km[0]
    assert np.all(inst.weight > 0) and np.all(inst.competitor_pull >= 0)
    assert inst.competitor_pull.max() > 0
    assert set(np.unique(inst.site_attr)) <= {0.6, 1.0, 1.8}


def test_synthetic_rejects_bad_sizes() -> None:
    with pytest.raises(ValueError, match="existing"):
        synthetic_instance(
            cells=100, candidates=10, stores=3, existing=4, seed=0, objective="coverage"
        )
    with pytest.raises(ValueError, match="objective"):
        synthetic_instance(cells=100, candidates=10, stores=3, existing=0, seed=0, objective="x")  # type: ignore[arg-type]


def test_clustered_is_deterministic_and_sorted() -> None:
    a = clustered_instance(n_cells=400, n_sites=40, stores=8, n_fixed=2, seed=4, radius_km=6.0)
    b = clustered_instance(n_cells=400, n_sites=40, stores=8, n_fixed=2, seed=4, radius_km=6.0)
    assert_same(a, b)
    assert not np.array_equal(a.weight, clustered_instance(seed=5, n_cells=400, n_sites=40).weight)
    assert (a.n_cells, a.n_sites, a.stores, a.fixed.size) == (400, 40, 8, 2)
    assert np.array_equal(np.lexsort((a.pair_cell, a.pair_site)), np.arange(a.n_pairs))
    assert np.all(a.pair_km <= 1.5 * 6.0) and a.unreachable_km == 2.0 * 1.5 * 6.0
    assert np.all((a.radius_km >= 0.7 * 6.0) & (a.radius_km <= 1.3 * 6.0))


def test_module_has_no_print() -> None:
    assert "print(" not in Path(synthetic.__file__).read_text()


# --- maximum capture (logit) -------------------------------------------------
@pytest.mark.parametrize("beta_util", [0.05, 1.0, 5.0])
def test_logit_encoding_round_trips(beta_util: float, tmp_path: Path) -> None:
    # utilities -> interchange file -> the solver's market-share objective = the logit capture sum
    q, v, log_u = logit_utilities(30, seed=3, beta_util=beta_util, alpha=0.1)
    inst = read_npz(write_npz(tmp_path / "logit", encode_logit(q, v, log_u, 4)))
    model = compile_model(inst, "market_share")
    rng = np.random.default_rng(0)
    for _ in range(10):
        plan = rng.choice(30, size=4, replace=False)
        mask = np.zeros(30, dtype=bool)
        mask[plan] = True
        direct = logit_capture(q, v, log_u, plan)
        assert model.user_objective(model.value(mask)) == pytest.approx(direct, rel=1e-9)
        assert objective_value(inst, plan, "market_share") == pytest.approx(direct, rel=1e-9)


def test_logit_instance_is_dense_and_deterministic() -> None:
    a = logit_capture_instance(40, 3, seed=1, beta_util=0.2)
    b = logit_capture_instance(40, 3, seed=1, beta_util=0.2)
    assert a.n_pairs == 40 * 40 and a.n_cells == 40 and a.n_sites == 40
    assert np.array_equal(a.pair_km, b.pair_km) and np.array_equal(a.competitor_pull, b.competitor_pull)
    # strengths are e^{v - max}: each customer's best alternative is worth exactly 1
    strength = attraction(a.site_attr[a.pair_site], a.pair_km, a.beta)
    best = np.asarray(a.competitor_pull, dtype=float).copy()
    np.maximum.at(best, a.pair_cell, strength)
    assert np.allclose(best, 1.0)
    assert float(np.max(a.pair_km)) > 1e4  # not distances: many orders of magnitude


def test_cells_whose_terms_all_underflow_still_count() -> None:
    # cell 0 has no competitor and strengths (1 + 1e200)^-2 ~ 1e-400: no float holds them,
    # yet any open site wins the whole cell; cell 1 is ordinary (pull 1, strengths 1 and 1/4)
    inst = Instance(
        weight=np.array([10.0, 5.0]),
        pair_cell=np.array([0, 1, 0, 1], dtype=np.int32),
        pair_site=np.array([0, 0, 1, 1], dtype=np.int32),
        pair_km=np.array([1e200, 0.0, 1e201, 1.0]),
        n_sites=2,
        stores=1,
        radius_km=np.zeros(2),
        site_attr=np.ones(2),
        competitor_pull=np.array([0.0, 1.0]),
        beta=2.0,
    )
    model = compile_model(inst, "market_share")
    assert model.n_cells == 2  # the underflowing cell is kept
    for plan, expect in (([0], 10.0 + 5.0 * 0.5), ([1], 10.0 + 5.0 * 0.2)):
        mask = np.isin(np.arange(2), plan)
        assert model.user_objective(model.value(mask)) == pytest.approx(expect)
        assert objective_value(inst, np.array(plan), "market_share") == pytest.approx(expect)


def test_orlib_like_pmed_reads_as_a_connected_graph_of_the_asked_size(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from planner.bench import read_orlib_pmed
    from planner.synthetic import orlib_like_pmed

    text = orlib_like_pmed(120, 7, seed=3)
    head = text.split("\n", 1)[0].split()
    assert head == ["120", str(round(120 * 120 / 50)), "7"]
    assert len(text.strip().splitlines()) == 1 + round(120 * 120 / 50)
    path = tmp_path / "gen.txt"
    path.write_text(text)
    inst, p = read_orlib_pmed(path)  # raises when the graph is not connected
    assert p == 7 and inst.n_sites == 120 and inst.n_cells == 120
    assert text == orlib_like_pmed(120, 7, seed=3) and text != orlib_like_pmed(120, 7, seed=4)


def test_the_rival_variants_change_only_the_pull(tmp_path: Path) -> None:
    size = dict(cells=3000, candidates=300, stores=30, existing=5, seed=2)
    base = synthetic.FAMILIES["china_like"](**size)
    none = synthetic.FAMILIES["no_rivals"](**size)
    strong = synthetic.FAMILIES["dominant_rivals"](**size)
    assert base.competitor_pull is not None and np.any(base.competitor_pull > 0)
    for v in (none, strong):
        assert np.array_equal(v.pair_km, base.pair_km) and np.array_equal(v.weight, base.weight)
    assert none.competitor_pull is not None and not np.any(none.competitor_pull)
    np.testing.assert_allclose(strong.competitor_pull, 1e3 * base.competitor_pull)
    back = read_npz(write_npz(tmp_path / "none.npz", none))  # the interchange keeps the zero pull
    assert back.competitor_pull is not None and not np.any(back.competitor_pull)
