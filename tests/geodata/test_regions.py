"""``grid.provinces``: names, English names and GB codes all select the same province."""

from __future__ import annotations

import pytest

from planner.errors import ConfigError
from planner.geodata._sources import read_provinces_table
from planner.geodata.regions import resolve_provinces


@pytest.mark.parametrize(
    "name", ["广东省", "广东", "440000", "44", "156440000", "Guangdong", "guangdong province", " GUANGDONG "]
)
def test_guangdong_spellings(name: str) -> None:
    assert resolve_provinces([name], read_provinces_table()) == ["440000"]


@pytest.mark.parametrize(
    ("name", "code"),
    [("Inner Mongolia", "150000"), ("Nei Mongol", "150000"), ("内蒙古", "150000"), ("Tibet", "540000"),
     ("Xizang", "540000"), ("西藏自治区", "540000"), ("Xinjiang", "650000"), ("新疆", "650000"),
     ("Ningxia", "640000"), ("北京", "110000"), ("Shanghai Municipality", "310000"), ("Shaanxi", "610000"),
     ("Shanxi", "140000")],
)
def test_other_names(name: str, code: str) -> None:
    assert resolve_provinces([name], read_provinces_table()) == [code]


def test_empty_means_all() -> None:
    assert len(resolve_provinces([], read_provinces_table())) == 31


def test_unknown_province_names_the_key_and_suggests() -> None:
    with pytest.raises(ConfigError) as info:
        resolve_provinces(["广东省", "Guangdon", "Hong Kong"], read_provinces_table())
    text = str(info.value)
    assert "grid.provinces[1]" in text and "guangdong" in text
    assert "grid.provinces[2]" in text
