"""The chain of command: a province opens county stores only after enough city stores.

``rollout.city_stores_before_county = K``: a county store of province ``p`` may
open in quarter ``t`` only if ``p`` has at least ``K`` city-core stores open
before ``t`` (existing ones count from the start). This module is the rule's one
home on the solver side: the quarter greedy asks :func:`county_stores_unlocked`,
the MIP writes the same test as linear rows, the upfront explanation and the
pipeline's forbid-and-re-solve loop ask :func:`provinces_short_of_city_stores`
(a final network with new county stores and fewer than ``K`` city stores can
never be scheduled), and ``planner.instance`` asks :func:`implies_city_minimum`
for the city-store minimums it adds to the site selection. The checker
(:mod:`planner.optimise.rollout_check`) verifies the rule with its own code.
Arrays only; OR-Tools is not imported here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "ChainShortfall",
    "county_stores_unlocked",
    "implies_city_minimum",
    "provinces_short_of_city_stores",
]


def county_stores_unlocked(city_stores: np.ndarray, need: int) -> np.ndarray:
    """bool[P]: provinces whose county stores may open, given their city stores open so far.

    Parameters
    ----------
    city_stores
        int[P] city-core stores open before the quarter, per province.
    need
        ``rollout.city_stores_before_county``.
    """
    return np.asarray(city_stores) >= need


@dataclass
class ChainShortfall:
    """Provinces whose network can never be scheduled under the chain of command.

    ``province[k]`` (ascending) has ``new_county_stores[k] > 0`` new county stores but
    only ``city_stores[k]`` city stores in the whole network (< ``need``).
    """

    province: np.ndarray
    city_stores: np.ndarray
    new_county_stores: np.ndarray


def provinces_short_of_city_stores(
    site_province: np.ndarray, site_is_county: np.ndarray, is_new: np.ndarray, need: int,
    *, n_provinces: int | None = None,
) -> ChainShortfall:
    """Provinces with new county stores but fewer than ``need`` city stores in the network.

    Parameters
    ----------
    site_province
        int[S] province index of each store of the network (existing and new).
    site_is_county
        bool[S] county store (True) or city-core store.
    is_new
        bool[S] the store opens within the horizon (False = open before it).
    need
        ``rollout.city_stores_before_county``.
    n_provinces
        Number of provinces (default: largest index + 1).

    Returns
    -------
    ChainShortfall
        Empty when every province's county stores can eventually open.
    """
    prov = np.asarray(site_province, dtype=np.int64)
    county = np.asarray(site_is_county, dtype=bool)
    new = np.asarray(is_new, dtype=bool)
    n = int(prov.max()) + 1 if n_provinces is None and prov.size else int(n_provinces or 0)
    city = np.bincount(prov[~county], minlength=n)
    county_new = np.bincount(prov[county & new], minlength=n)
    short = np.flatnonzero((county_new > 0) & (city < need))
    return ChainShortfall(short, city[short], county_new[short])


def implies_city_minimum(province_min_stores: int, need: int) -> bool:
    """Whether a province that must have ``province_min_stores`` stores must have ``need`` city stores.

    Either it has a county store (which needs ``need`` city stores open first) or
    all its stores are city stores, so with ``province_min_stores >= need`` the
    minimum removes no schedulable plan.
    """
    return need > 0 and province_min_stores >= need
