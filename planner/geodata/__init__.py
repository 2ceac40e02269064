"""Geodata for the planner: the only package that reads boundaries, census, settlements and store files.

``load_layers(scenario)`` returns a :class:`Layers` (provinces, cities,
counties, H3 cells with modelled population, candidate sites, own and
competitor stores), built from the embedded sources or the scenario's files
and cached as GeoParquet under ``data.cache_dir``. ``read_store_file`` reads a
user's store list; ``build_cache`` / ``cache_info`` back ``planner data
build|info``. Sources, licences and what is real, modelled or illustrative:
``data/README.md``.
"""

from __future__ import annotations

from .adjacency import county_adjacency, county_centroids_km
from .build import build_cache, cache_info, load_layers
from .cache import CODE_VERSION
from .layers import Layers
from .regions import province_names_en
from .stores import read_store_file

__all__ = ["load_layers", "read_store_file", "build_cache", "cache_info", "Layers", "CODE_VERSION", "province_names_en",
           "county_adjacency", "county_centroids_km"]
