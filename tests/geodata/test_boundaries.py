"""Boundaries: 31 provinces, and a clean province → city → county hierarchy with GB codes."""

from __future__ import annotations

from typing import Any

import pandas as pd

from planner.geodata._sources import INCOME_FILE
from planner.geodata.boundaries import city_code_of


def test_exactly_31_mainland_provinces(admin_tables: dict[str, Any]) -> None:
    prov = admin_tables["provinces"]
    assert len(prov) == 31
    assert prov["code"].is_unique
    assert not prov["code"].str[:2].isin(["71", "81", "82"]).any()
    assert (prov.geom_type.isin(["Polygon", "MultiPolygon"])).all()


def test_every_county_has_one_city_and_one_province(admin_tables: dict[str, Any]) -> None:
    counties, cities, prov = admin_tables["counties"], admin_tables["cities"], admin_tables["provinces"]
    assert counties["code"].is_unique and cities["code"].is_unique
    assert counties["city_code"].isin(cities["code"]).all()
    assert counties["province_code"].isin(prov["code"]).all()
    # the county's province is its city's province
    city_prov = counties["city_code"].map(cities.set_index("code")["province_code"])
    assert (city_prov == counties["province_code"]).all()
    # every city has a county
    assert cities["code"].isin(counties["city_code"]).all()
    assert len(counties) > 2800


def test_special_units_sit_where_they_belong(admin_tables: dict[str, Any]) -> None:
    city = admin_tables["counties"].set_index("code")["city_code"]
    assert city["110101"] == "110000"  # 东城区 → 北京 (municipality)
    assert city["500229"] == "500000"  # 城口县 → 重庆
    assert city["441900"] == "441900"  # 东莞: a city without counties
    assert city["442000"] == "442000"  # 中山
    assert city["460400"] == "460400"  # 儋州
    assert city["620200"] == "620200"  # 嘉峪关
    assert city["429004"] == "429004"  # 仙桃, administered by Hubei
    assert city["469001"] == "469001"  # 五指山, administered by Hainan
    assert city["659001"] == "659001"  # 石河子, XPCC
    assert city["419001"] == "419001"  # 济源
    assert city["440106"] == "440100"  # 天河区 → 广州
    codes = set(city.index)
    assert "350527" not in codes  # 金门: administered from Taiwan
    assert not {"629700", "629800", "629900"} & codes  # non-administrative Gansu polygons, folded in


def test_city_code_rule() -> None:
    cities = {"110000", "440100", "441900", "429004"}
    assert city_code_of("110105", cities) == "110000"
    assert city_code_of("440106", cities) == "440100"
    assert city_code_of("441900", cities) == "441900"
    assert city_code_of("429004", cities) == "429004"
    assert city_code_of("450127", cities) is None


def test_tiers_cover_every_city(admin_tables: dict[str, Any]) -> None:
    cities = admin_tables["cities"]
    assert cities["tier"].isin(["1", "new1", "2", "3", "4", "5"]).all()
    counts = cities.loc[cities["tier_source"] == "yicai2025", "tier"].value_counts()
    assert counts.to_dict() == {"5": 128, "4": 90, "3": 70, "2": 30, "new1": 15, "1": 4}
    assert set(cities["tier_source"]) == {"yicai2025", "rule:population"}
    tier = cities.set_index("code")["tier"]
    assert tier["110000"] == "1" and tier["310000"] == "1" and tier["440300"] == "1"
    assert tier["429004"] in ("4", "5")


def test_income_every_province(admin_tables: dict[str, Any]) -> None:
    prov = admin_tables["provinces"].set_index("code")
    assert (prov["income_cny"] > 15_000).all()
    assert prov.loc["310000", "income_cny"] == 84834  # 2023 figure, used as published
    assert prov.loc["310000", "income_source"] == "2023"
    hebei = pd.read_csv(
        INCOME_FILE, dtype={"code": str}
    ).query("code == '130000' and year == 2017")["per_capita_disposable_income_cny"].iloc[0]
    assert abs(prov.loc["130000", "income_cny"] - hebei * 39218 / 25973.8) < 0.01
