"""Distances and neighbour search against brute force."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.spatial import (
    CHINA_ALBERS,
    CHINA_ALBERS_M,
    gcj02_to_wgs84,
    haversine_km,
    nearest_km,
    pairs_within,
    project_km,
    wgs84_to_gcj02,
)


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


def test_wgs84_to_gcj02_matches_the_reference_and_leaves_abroad_alone() -> None:
    from fast_geocn.coord import wgs84_to_gcj02 as reference

    lon = np.array([116.397, 121.4737, 113.2644, 2.35])
    lat = np.array([39.909, 31.2304, 23.1291, 48.85])
    glon, glat = wgs84_to_gcj02(lon, lat)
    for i in range(len(lon)):
        assert (glon[i], glat[i]) == pytest.approx(reference(lon[i], lat[i]))
    assert glon[3] == lon[3] and glat[3] == lat[3]  # Paris: outside China, unchanged
    assert wgs84_to_gcj02(np.array([]), np.array([]))[0].size == 0


def test_gcj02_round_trip_is_within_a_micrometre_of_a_degree() -> None:
    rng = np.random.default_rng(7)
    lon = rng.uniform(75.0, 134.0, 500)
    lat = rng.uniform(19.0, 52.0, 500)
    glon, glat = wgs84_to_gcj02(lon, lat)
    assert np.hypot(glon - lon, glat - lat).min() > 1e-4  # it does shift inside China
    blon, blat = gcj02_to_wgs84(glon, glat)
    np.testing.assert_allclose(blon, lon, atol=1e-6)
    np.testing.assert_allclose(blat, lat, atol=1e-6)
    grid_lon, grid_lat = wgs84_to_gcj02(lon.reshape(20, 25), lat.reshape(20, 25))
    assert grid_lon.shape == (20, 25)
    np.testing.assert_array_equal(grid_lon.ravel(), glon)


def test_one_china_albers_in_two_units() -> None:
    from pyproj import Transformer

    lon, lat = np.array([105.0, 113.26, 87.6]), np.array([35.0, 23.13, 43.8])
    km = Transformer.from_crs("EPSG:4326", CHINA_ALBERS, always_xy=True).transform(lon, lat)
    m = Transformer.from_crs("EPSG:4326", CHINA_ALBERS_M, always_xy=True).transform(lon, lat)
    np.testing.assert_allclose(np.array(m) / 1000.0, np.array(km), rtol=1e-12)
    np.testing.assert_allclose(project_km(lon, lat), np.column_stack(km))
