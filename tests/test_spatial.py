"""Distances and neighbour search against brute force."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.spatial import haversine_km, nearest_km, pairs_within, project_km


def test_haversine_beijing_shanghai() -> None:
    # great-circle Beijing (116.4074, 39.9042) – Shanghai (121.4737, 31.2304) ≈ 1,067 km
    assert abs(float(haversine_km(116.4074, 39.9042, 121.4737, 31.2304)) - 1067.3) < 2.0


def test_albers_is_metric_in_km() -> None:
    xy = project_km(np.array([113.0, 113.1]), np.array([23.0, 23.0]))
    d = float(np.hypot(*(xy[1] - xy[0])))
    assert abs(d - float(haversine_km(113.0, 23.0, 113.1, 23.0))) < 0.2


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    n_src=st.integers(1, 40),
    n_dst=st.integers(1, 60),
    spread=st.floats(0.05, 3.0),
)
def test_pairs_within_matches_brute_force(seed: int, n_src: int, n_dst: int, spread: float) -> None:
    rng = np.random.default_rng(seed)
    slon, slat = 110 + rng.random(n_src) * spread, 25 + rng.random(n_src) * spread
    dlon, dlat = 110 + rng.random(n_dst) * spread, 25 + rng.random(n_dst) * spread
    radius = rng.choice([3.0, 5.0, 12.0, 40.0], size=n_src)
    s, d, km = pairs_within(slon, slat, dlon, dlat, radius)
    full = haversine_km(slon[:, None], slat[:, None], dlon[None, :], dlat[None, :])
    want = np.argwhere(full <= radius[:, None])
    assert np.array_equal(np.column_stack([s, d]), want)
    assert np.allclose(km, full[want[:, 0], want[:, 1]])


def test_nearest_excluding_self() -> None:
    lon = np.array([113.0, 113.01, 113.5])
    lat = np.array([23.0, 23.0, 23.0])
    km, idx = nearest_km(lon, lat, lon, lat, exclude_self=True)
    assert list(idx) == [1, 0, 1]
    assert km[0] < 1.1 and km[2] > 40
