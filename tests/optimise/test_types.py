"""Tests for the array adapters on ``Instance``: ``from_arrays``, ``from_cost_matrix``, ``to_arrays``.

Hand-sized instances whose arrays can be read off; the file side (``.npz``,
error messages naming the file) is tested in ``tests/test_bench.py``.
"""

from __future__ import annotations

import numpy as np
import pytest

from planner.errors import DataError
from planner.optimise.types import ARRAY_KEYS, ARRAY_KEYS_PROFIT, GroupLimit, Instance


def hand() -> Instance:
    """2 sites, 3 cells, per-site radius, one fixed site, Huff data."""
    return Instance(
        weight=np.array([1.0, 2.0, 3.0]),
        pair_cell=np.array([0, 1, 1, 2], dtype=np.int32),
        pair_site=np.array([0, 0, 1, 1], dtype=np.int32),
        pair_km=np.array([1.0, 4.0, 2.0, 3.0]),
        n_sites=2,
        stores=2,
        radius_km=np.array([2.5, 3.5]),
        unreachable_km=9.0,
        site_attr=np.array([1.0, 1.8]),
        competitor_pull=np.array([0.0, 0.5, 0.25]),
        beta=1.5,
        fixed=np.array([1], dtype=np.int64),
    )


def test_to_arrays_from_arrays_round_trip() -> None:
    inst = hand()
    arrays = inst.to_arrays()
    assert set(arrays) == set(ARRAY_KEYS) - set(ARRAY_KEYS_PROFIT)  # profit arrays only when set
    back = Instance.from_arrays(**arrays)
    for name in ("weight", "pair_cell", "pair_site", "pair_km", "radius_km", "site_attr",
                 "competitor_pull", "fixed"):  # fmt: skip
        assert np.array_equal(getattr(back, name), getattr(inst, name)), name
    assert (back.n_sites, back.stores, back.unreachable_km, back.beta) == (2, 2, 9.0, 1.5)
    assert back.pair_cell.dtype == np.int32 and back.pair_site.dtype == np.int32
    again = back.to_arrays()
    assert all(np.array_equal(again[k], arrays[k]) for k in arrays)


def test_to_arrays_scalar_radius_when_all_equal() -> None:
    inst = hand()
    inst.radius_km = np.array([3.0, 3.0])
    arrays = inst.to_arrays()
    assert arrays["radius_km"].shape == () and float(arrays["radius_km"]) == 3.0
    assert np.array_equal(Instance.from_arrays(**arrays).radius_km, [3.0, 3.0])


def test_to_arrays_warns_about_what_it_drops(caplog: pytest.LogCaptureFixture) -> None:
    inst = hand()
    inst.groups = [GroupLimit("p", np.array([0, 1]), max_open=1)]
    inst.decay = "linear"
    with caplog.at_level("WARNING"):
        inst.to_arrays()
    assert "groups" in caplog.text and "decay 'linear'" in caplog.text


def test_from_arrays_rejects_missing_and_unknown_keys() -> None:
    arrays = hand().to_arrays()
    with pytest.raises(DataError, match="missing key.*weight"):
        Instance.from_arrays(**{k: v for k, v in arrays.items() if k != "weight"})
    with pytest.raises(DataError, match="unknown key.*wieght"):
        Instance.from_arrays(**arrays, wieght=np.ones(3))


def test_from_cost_matrix_3x2_by_hand() -> None:
    # cells x sites; inf = not reachable. Pairs by site then cell: (0,0) (1,0) (1,1) (2,1).
    cost = np.array([[1.0, np.inf], [4.0, 2.0], [np.inf, 3.0]])
    inst = Instance.from_cost_matrix(cost, np.array([1.0, 2.0, 3.0]), stores=1, radius_km=2.5)
    assert inst.n_cells == 3 and inst.n_sites == 2 and inst.n_pairs == 4
    assert inst.pair_site.tolist() == [0, 0, 1, 1] and inst.pair_cell.tolist() == [0, 1, 1, 2]
    assert inst.pair_km.tolist() == [1.0, 4.0, 2.0, 3.0]  # 4.0 > radius is kept (distance)
    assert inst.unreachable_km == 41.0  # 10 x the largest finite cost + 1
    assert np.all(inst.radius_km == 2.5) and np.all(inst.site_attr == 1)
    assert np.all(inst.competitor_pull == 0) and inst.fixed.size == 0 and inst.stores == 1


def test_from_cost_matrix_fixed_and_unreachable() -> None:
    cost = np.array([[1.0, np.inf], [4.0, 2.0], [np.inf, 3.0]])
    inst = Instance.from_cost_matrix(cost, np.ones(3), stores=2, fixed=[1], unreachable_km=7.0)
    assert inst.fixed.tolist() == [1] and inst.unreachable_km == 7.0
    assert np.all(np.isinf(inst.radius_km))  # default radius: every pair covers


def test_from_cost_matrix_errors() -> None:
    cost = np.array([[1.0, np.inf], [4.0, 2.0], [np.inf, 3.0]])
    with pytest.raises(DataError, match="weight"):
        Instance.from_cost_matrix(cost, np.ones(2), stores=1)
    with pytest.raises(DataError, match="2-D"):
        Instance.from_cost_matrix(np.ones(3), np.ones(3), stores=1)
    with pytest.raises(DataError, match="^cost matrix: key 'stores'"):
        Instance.from_cost_matrix(cost, np.ones(3), stores=3)
