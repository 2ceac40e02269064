"""Tests for ``planner.bench``: the OR-Library reader, the ``.npz`` reader and writer, JSON.

The ``run_*`` tests replace the optimiser with a tiny brute-force stand-in
(injected as ``planner.optimise.solve``), so they test the plumbing only and
stay fast whether or not the real solver exists. The tests that need the shared
OR-Library file use the copy of pmed1 in ``tests/data/orlib/`` (its README gives
the source), so they run on a fresh clone. The
generators' tests are in ``tests/test_synthetic.py``, the array adapters' in
``tests/optimise/test_types.py``.
"""

from __future__ import annotations

import itertools
import json
import sys
import types
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import shortest_path

from planner import bench
from planner.bench import (
    NPZ_KEYS,
    read_npz,
    read_orlib_pmed,
    result_json,
    run_instance,
    run_pmed,
    run_synthetic,
    write_npz,
)
from planner.errors import DataError
from planner.optimise.types import ARRAY_KEYS_PROFIT, Instance, Solution
from planner.synthetic import synthetic_instance
from tests.fixtures.instances import assert_same

#: OR-Library pmed1, vendored for the tests (source in tests/data/orlib/README.md)
PMED1 = Path(__file__).resolve().parent / "data" / "orlib" / "pmed1.txt"


def dense(inst: Instance) -> np.ndarray:
    """Cell x site distance matrix (unreachable = unreachable_km)."""
    d = np.full((inst.n_cells, inst.n_sites), inst.unreachable_km)
    d[inst.pair_cell, inst.pair_site] = inst.pair_km
    return d


def pmedian(inst: Instance, open_sites: list[int]) -> float:
    return float((inst.weight * dense(inst)[:, open_sites].min(axis=1)).sum())


# ---------------------------------------------------------------------------
# OR-Library reader
# ---------------------------------------------------------------------------
def test_pmed1_optimum_scores_5819_under_last_duplicate_rule() -> None:
    inst, p = read_orlib_pmed(PMED1)
    assert p == 5 and inst.stores == 5 and inst.n_cells == inst.n_sites == 100
    plan = [v - 1 for v in (7, 13, 65, 91, 99)]
    assert pmedian(inst, plan) == 5819.0


def test_pmed1_min_rule_would_score_5718() -> None:
    """The trap is real: taking the cheapest duplicate gives another (wrong) instance."""
    tokens = PMED1.read_text().split()
    n, m = int(tokens[0]), int(tokens[1])
    e = np.asarray(tokens[3:], dtype=float).reshape(m, 3)
    a, b = e[:, 0].astype(int) - 1, e[:, 1].astype(int) - 1
    c = np.full((n, n), np.inf)
    np.minimum.at(c, (a, b), e[:, 2])
    np.minimum.at(c, (b, a), e[:, 2])
    ii, jj = np.nonzero(np.isfinite(c))
    d_min = shortest_path(csr_matrix((c[ii, jj], (ii, jj)), shape=(n, n)), directed=False)
    plan = [v - 1 for v in (7, 13, 65, 91, 99)]
    assert d_min[:, plan].min(axis=1).sum() == 5718.0
    inst, _ = read_orlib_pmed(PMED1)
    assert not np.array_equal(dense(inst), d_min)


def test_pmed1_distances_match_an_independent_last_duplicate_reading() -> None:
    """The OR-Library rule recomputed here without the reader: the last cost listed for a pair wins."""
    tokens = PMED1.read_text().split()
    n, m = int(tokens[0]), int(tokens[1])
    last: dict[tuple[int, int], float] = {}
    for k in range(m):
        a, b, c = int(tokens[3 + 3 * k]) - 1, int(tokens[4 + 3 * k]) - 1, float(tokens[5 + 3 * k])
        last[(min(a, b), max(a, b))] = c
    ii = np.array([a for a, _ in last])
    jj = np.array([b for _, b in last])
    graph = csr_matrix((np.array(list(last.values())), (ii, jj)), shape=(n, n))
    d_ref = shortest_path(graph, directed=False)
    inst, _ = read_orlib_pmed(PMED1)
    assert len(last) < m  # the file does hold duplicate edges, so the rule matters
    assert np.array_equal(dense(inst), d_ref)


def write_text(tmp_path: Path, text: str) -> Path:
    f = tmp_path / "g.txt"
    f.write_text(text)
    return f


def test_pmed_last_duplicate_wins_on_a_hand_graph(tmp_path: Path) -> None:
    # 1-2 listed three times (5, 1, 7) and once reversed (2-1 = 4): the last, 4, wins.
    f = write_text(tmp_path, "3 5 1\n1 2 5\n1 2 1\n2 3 2\n1 2 7\n2 1 4\n")
    inst, p = read_orlib_pmed(f)
    d = dense(inst)
    assert p == 1
    assert d[0, 1] == d[1, 0] == 4.0
    assert d[0, 2] == 6.0 and d[1, 2] == 2.0
    assert np.all(np.diag(d) == 0)


def test_pmed_instance_layout(tmp_path: Path) -> None:
    f = write_text(tmp_path, "3 2 2\n1 2 3\n2 3 4\n")
    inst, _ = read_orlib_pmed(f)
    assert inst.n_pairs == 9 and inst.pair_cell.dtype == np.int32
    order = np.lexsort((inst.pair_cell, inst.pair_site))
    assert np.array_equal(order, np.arange(9))  # sorted by site, then cell
    assert np.all(inst.weight == 1) and inst.fixed.size == 0
    assert inst.radius_km.shape == (3,) and inst.radius_km.min() > 7.0
    assert inst.unreachable_km > 7.0


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("3 2\n", "header"),
        ("3 2 1\n1 2 3\n", "2 edges"),
        ("3 1 1\n1 4 3\n", "outside 1..3"),
        ("3 1 1\n1 2 x\n", "non-numeric"),
        ("3 1 1\n1 2 -3\n", "negative"),
        ("3 1 5\n1 2 3\n", "p <= n"),
        ("3 1 1\n1 2 3\n", "not connected"),
    ],
)
def test_pmed_bad_files_raise_data_error(tmp_path: Path, text: str, words: str) -> None:
    with pytest.raises(DataError, match=words):
        read_orlib_pmed(write_text(tmp_path, text))


def test_pmed_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="cannot read"):
        read_orlib_pmed(tmp_path / "nope.txt")


# ---------------------------------------------------------------------------
# Interchange format
# ---------------------------------------------------------------------------
def small() -> Instance:
    return synthetic_instance(
        cells=300, candidates=40, stores=6, existing=2, seed=3, objective="market_share"
    )


def test_npz_round_trip(tmp_path: Path) -> None:
    inst = small()
    path = write_npz(tmp_path / "inst", inst)
    assert path.name == "inst.npz"
    with np.load(path) as z:
        assert set(z.files) == set(NPZ_KEYS) - set(ARRAY_KEYS_PROFIT)  # profit arrays only when set
        assert z["radius_km"].shape == ()  # scalar in the file
    back = read_npz(path)
    assert_same(inst, back)
    assert back.radius_km.shape == (inst.n_sites,)


def test_npz_sorts_pairs_and_fills_defaults(tmp_path: Path) -> None:
    f = tmp_path / "min.npz"
    np.savez(
        f,
        weight=[1.0, 2.0],
        pair_cell=[1, 0, 0],
        pair_site=[0, 2, 0],
        pair_km=[3.0, 1.0, 2.0],
        stores=1,
        radius_km=5.0,
        unreachable_km=9.0,
    )
    inst = read_npz(f)
    assert inst.n_sites == 3  # max(pair_site) + 1 without site_attr
    assert inst.pair_site.tolist() == [0, 0, 2] and inst.pair_cell.tolist() == [0, 1, 0]
    assert inst.pair_km.tolist() == [2.0, 3.0, 1.0]
    assert np.all(inst.site_attr == 1) and np.all(inst.competitor_pull == 0)
    assert inst.beta == 2.0 and inst.fixed.size == 0
    assert np.all(inst.radius_km == 5.0)


def test_npz_one_element_arrays_are_scalars(tmp_path: Path) -> None:
    d = good_arrays()
    d["stores"] = np.array([6])
    d["beta"] = np.array([1.5])
    np.savez(tmp_path / "s.npz", **d)
    inst = read_npz(tmp_path / "s.npz")
    assert inst.stores == 6 and inst.beta == 1.5


def test_npz_site_attr_sets_m_and_per_site_radius(tmp_path: Path) -> None:
    f = tmp_path / "m.npz"
    np.savez(
        f,
        weight=[1.0],
        pair_cell=[0],
        pair_site=[0],
        pair_km=[1.0],
        stores=2,
        radius_km=[1.0, 2.0, 3.0, 4.0],
        unreachable_km=9.0,
        site_attr=np.ones(4),
        fixed=[3],
    )
    inst = read_npz(f)
    assert inst.n_sites == 4 and inst.radius_km.tolist() == [1.0, 2.0, 3.0, 4.0]
    assert inst.fixed.tolist() == [3]


def good_arrays() -> dict[str, np.ndarray]:
    return small().to_arrays()


def _set(key: str, value: object):  # noqa: ANN202
    def f(d: dict) -> None:
        d[key] = value

    return f


def _del(key: str):  # noqa: ANN202
    def f(d: dict) -> None:
        del d[key]

    return f


def _nan(key: str):  # noqa: ANN202
    def f(d: dict) -> None:
        d[key] = d[key].astype(float)
        d[key][1] = np.nan

    return f


def _shift(key: str, to: int):  # noqa: ANN202
    def f(d: dict) -> None:
        d[key] = d[key].copy()
        d[key][0] = to

    return f


def _dup_pair(d: dict) -> None:
    for k in ("pair_cell", "pair_site", "pair_km"):
        d[k] = np.concatenate((d[k], d[k][:1]))


@pytest.mark.parametrize(
    ("change", "key", "words"),
    [
        (_del("weight"), "weight", "missing"),
        (_del("pair_km"), "pair_km", "missing"),
        (_set("weight", np.ones((300, 2))), "weight", "shape"),
        (_shift("weight", -1), "weight", "negative"),
        (_nan("weight"), "weight", "NaN"),
        (_nan("pair_km"), "pair_km", "NaN"),
        (_shift("pair_km", -2), "pair_km", "negative"),
        (_set("pair_km", np.ones(3)), "pair_km", "entries"),
        (_shift("pair_site", 40), "pair_site", "out of range"),
        (_shift("pair_cell", 300), "pair_cell", "out of range"),
        (_shift("pair_cell", -1), "pair_cell", "negative"),
        (_set("pair_cell", np.full(1, 0.5)), "pair_cell", "integers"),
        (_set("fixed", np.array([0, 40])), "fixed", "out of range"),
        (_set("fixed", np.array([1, 1])), "fixed", "more than once"),
        (_set("stores", 41), "stores", "at most"),
        (_set("stores", 1), "stores", "at least"),
        (_set("stores", 2.5), "stores", "whole"),
        (_set("radius_km", np.ones(7)), "radius_km", "shape"),
        (_set("radius_km", np.nan), "radius_km", "NaN"),
        (_set("unreachable_km", np.inf), "unreachable_km", "infinite"),
        (_set("site_attr", -np.ones(40)), "site_attr", "negative"),
        (_set("competitor_pull", np.ones(5)), "competitor_pull", "one per cell"),
        (_set("beta", np.array([1.0, 2.0])), "beta", "scalar"),
        (_set("weight", np.array(["a", "b"])), "weight", "numeric"),
        (_dup_pair, "pair_cell", "repeat"),
    ],
)
def test_npz_errors_name_key_and_problem(tmp_path: Path, change, key: str, words: str) -> None:  # noqa: ANN001
    d = good_arrays()
    change(d)
    f = tmp_path / "bad.npz"
    np.savez(f, **d)
    with pytest.raises(DataError) as info:
        read_npz(f)
    msg = str(info.value)
    assert key in msg and words in msg and str(f) in msg


def test_npz_not_an_archive(tmp_path: Path) -> None:
    f = tmp_path / "x.npz"
    f.write_text("hello")
    with pytest.raises(DataError, match="cannot read"):
        read_npz(f)
    g = tmp_path / "one.npy"
    np.save(g, np.ones(3))
    with pytest.raises(DataError, match="single array"):
        read_npz(g)
    with pytest.raises(DataError, match="not found"):
        read_npz(tmp_path / "missing.npz")


# ---------------------------------------------------------------------------
# JSON and the run_* functions (with a stand-in solver)
# ---------------------------------------------------------------------------
def test_result_json_keys_and_ids() -> None:
    sol = Solution(
        open_sites=np.array([4, 0, 2]),
        objective=10.0,
        objective_kind="distance",
        bound=9.5,
        gap=0.05,
        seconds=1.25,
    )
    out = result_json(sol, one_based=True)
    assert list(out) == ["objective", "bound", "gap", "seconds", "open", "status"]
    assert out["open"] == [1, 3, 5] and out["bound"] == 9.5
    assert result_json(sol, one_based=False)["open"] == [0, 2, 4]
    json.dumps(out)
    none = Solution(
        open_sites=np.array([1]),
        objective=3.0,
        objective_kind="coverage",
        bound=float("inf"),
        gap=None,
    )
    out = result_json(none, one_based=False, seconds=2.0)
    assert out["bound"] is None and out["gap"] is None and out["seconds"] == 2.0


def _stand_in_solve(inst: Instance, kind: str, **kw: object) -> Solution:
    """Exhaustive p-median / coverage for tiny instances, else fixed + first free sites."""
    free = [j for j in range(inst.n_sites) if j not in set(inst.fixed.tolist())]
    k = inst.stores - inst.fixed.size
    d = dense(inst)
    best: tuple[float, list[int]] | None = None
    combos = itertools.combinations(free, k) if len(free) <= 12 else [tuple(free[:k])]
    for extra in combos:
        plan = sorted(inst.fixed.tolist() + list(extra))
        if kind == "distance":
            val = float((inst.weight * d[:, plan].min(axis=1)).sum())
        else:
            val = -float((inst.weight * (d[:, plan] <= inst.radius_km[plan]).any(axis=1)).sum())
        if best is None or val < best[0]:
            best = (val, plan)
    assert best is not None
    obj = abs(best[0])
    return Solution(
        open_sites=np.array(best[1]),
        objective=obj,
        objective_kind=kind,  # type: ignore[arg-type]
        bound=obj,
        gap=0.0,
        seconds=0.01,
    )


@pytest.fixture
def stand_in(monkeypatch: pytest.MonkeyPatch) -> None:
    mod = types.ModuleType("planner.optimise.solve")
    mod.solve = _stand_in_solve  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "planner.optimise.solve", mod)


def test_run_pmed_reports_one_based(stand_in: None, tmp_path: Path) -> None:
    # a path 1-2-3-4-5 with unit edges, p = 1: the median is vertex 3
    f = write_text(tmp_path, "5 4 1\n1 2 1\n2 3 1\n3 4 1\n4 5 1\n")
    out = run_pmed(f, time_limit_s=1.0)
    assert out["open"] == [3] and out["objective"] == 6.0
    assert set(out) == {"objective", "bound", "gap", "seconds", "open", "status"}


def test_run_instance_and_synthetic_dump(stand_in: None, tmp_path: Path) -> None:
    out = run_synthetic(
        cells=200,
        candidates=12,
        stores=3,
        existing=1,
        objective="distance",
        seed=5,
        time_limit_s=1.0,
        dump_dir=tmp_path / "dump",
    )
    assert set(out) == {"objective", "bound", "gap", "seconds", "open", "status"}
    saved = json.loads((tmp_path / "dump" / "solution.json").read_text())
    assert saved == out
    again = run_instance(tmp_path / "dump" / "instance.npz", "distance", time_limit_s=1.0)
    assert again["open"] == out["open"] and again["objective"] == pytest.approx(out["objective"])
    with pytest.raises(DataError, match="objective"):
        run_instance(tmp_path / "dump" / "instance.npz", "nope", time_limit_s=1.0)  # type: ignore[arg-type]


def test_module_has_no_print() -> None:
    src = Path(bench.__file__).read_text()
    assert "print(" not in src


def test_npz_ignores_unknown_keys_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    f = tmp_path / "extra.npz"
    np.savez(f, **good_arrays(), notes=np.ones(2), source=np.zeros(1))
    with caplog.at_level("WARNING"):
        inst = read_npz(f)
    assert_same(inst, small())
    assert "ignoring unknown key(s) notes, source" in caplog.text and str(f) in caplog.text


# ---------------------------------------------------------------------------
# Property tests
# ---------------------------------------------------------------------------


@st.composite
def edge_lists(draw: st.DrawFn) -> tuple[int, list[tuple[int, int, int]]]:
    n = draw(st.integers(2, 7))
    path = [(v, v + 1, draw(st.integers(1, 9))) for v in range(1, n)]  # keeps it connected
    extra = draw(
        st.lists(st.tuples(st.integers(1, n), st.integers(1, n), st.integers(0, 9)), max_size=12)
    )
    edges = path + extra
    return n, draw(st.permutations(edges))


@given(edge_lists())
@settings(max_examples=60, deadline=None)
def test_pmed_distances_equal_reference_floyd(tmp_path_factory, case) -> None:  # noqa: ANN001
    n, edges = case
    c = [[0.0 if i == j else float("inf") for j in range(n)] for i in range(n)]
    for i, j, k in edges:  # OR-Library: read in turn, the last line wins
        if i != j:
            c[i - 1][j - 1] = c[j - 1][i - 1] = float(k)
    for k in range(n):
        for i in range(n):
            for j in range(n):
                c[i][j] = min(c[i][j], c[i][k] + c[k][j])
    f = tmp_path_factory.mktemp("g") / "g.txt"
    f.write_text(f"{n} {len(edges)} 1\n" + "".join(f"{i} {j} {k}\n" for i, j, k in edges))
    inst, _ = read_orlib_pmed(f)
    assert np.array_equal(dense(inst), np.array(c))


@given(
    n=st.integers(1, 6),
    m=st.integers(1, 5),
    data=st.data(),
)
@settings(max_examples=60, deadline=None)
def test_npz_round_trip_property(tmp_path_factory, n: int, m: int, data: st.DataObject) -> None:  # noqa: ANN001
    pairs = data.draw(
        st.sets(st.tuples(st.integers(0, n - 1), st.integers(0, m - 1)), max_size=n * m)
    )
    pairs_l = sorted(pairs)
    floats = st.floats(0, 1e6, allow_nan=False, allow_infinity=False)
    n_fixed = data.draw(st.integers(0, m))
    inst = Instance(
        weight=np.array(data.draw(st.lists(floats, min_size=n, max_size=n))),
        pair_cell=np.array([i for i, _ in pairs_l], dtype=np.int32),
        pair_site=np.array([j for _, j in pairs_l], dtype=np.int32),
        pair_km=np.array(data.draw(st.lists(floats, min_size=len(pairs_l), max_size=len(pairs_l)))),
        n_sites=m,
        stores=data.draw(st.integers(n_fixed, m)),
        radius_km=np.array(data.draw(st.lists(floats, min_size=m, max_size=m))),
        unreachable_km=data.draw(floats),
        site_attr=np.array(data.draw(st.lists(floats, min_size=m, max_size=m))),
        competitor_pull=np.array(data.draw(st.lists(floats, min_size=n, max_size=n))),
        beta=data.draw(st.floats(0, 5)),
        fixed=np.arange(n_fixed, dtype=np.int64),
    )
    back = read_npz(write_npz(tmp_path_factory.mktemp("z") / "i.npz", inst))
    order = np.lexsort((inst.pair_cell, inst.pair_site))
    for name in ("pair_cell", "pair_site", "pair_km"):
        assert np.array_equal(getattr(back, name), getattr(inst, name)[order]), name
    for name in ("weight", "radius_km", "site_attr", "competitor_pull", "fixed"):
        assert np.array_equal(getattr(back, name), getattr(inst, name)), name
    assert (back.n_sites, back.stores, back.unreachable_km, back.beta) == (
        m,
        inst.stores,
        inst.unreachable_km,
        inst.beta,
    )
