"""The "where we lead" layers in a real browser: ranks re-colour with the quarter slider."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from planner.config.models import MapConfig, Scenario
from planner.report.browser import (
    browser_unavailable_reason,
    console_errors,
    headless_chromium,
    open_map,
)
from planner.report.lead_map import RANK_COLOURS

_REASON = browser_unavailable_reason()
_REQUIRED = os.environ.get("PLANNER_REQUIRE_BROWSER", "") not in ("", "0")  # as in test_browser_map.py
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(_REASON is not None and not _REQUIRED, reason=f"browser tests need Chromium: {_REASON}"),
]


@pytest.fixture(scope="module")
def driver() -> Iterator[Any]:
    with headless_chromium(block_network=True) as d:
        yield d

QUARTERS = ["2027Q1", "2027Q2", "2027Q3"]


def _share(codes: dict[str, list[str]], rank_of: dict[tuple[str, str], int]) -> pd.DataFrame:
    rows = []
    for q in QUARTERS:
        rows.append({"level": "nation", "code": "CN", "name": "nation", "quarter": q, "own": 0.1, "huawei": 0.3, "rank": 2})
        for level, cs in codes.items():
            for c in cs:
                r = rank_of.get((c, q), 4)
                rows.append({"level": level, "code": c, "name": c, "quarter": q, "own": 0.5 if r == 1 else 0.05,
                             "huawei": 0.2, "rank": r})
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def lead_map(micro_inputs: dict[str, Any], micro_layers: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from planner.report.maps import write_map

    codes = {"province": micro_layers.provinces["code"].astype(str).tolist(),
             "city": micro_layers.cities["code"].astype(str).tolist()}
    first = codes["province"][0]
    # the first province leads from the second quarter on; every city is fourth throughout
    share = _share(codes, {(first, "2027Q2"): 1, (first, "2027Q3"): 1})
    start = share[share["quarter"] == "2027Q1"].drop(columns="quarter")
    response = pd.DataFrame({"brand": ["huawei", "oppo"], "store_id": ["h-1", "o-1"], "lat": [30.5, 30.6],
                             "lon": [113.5, 114.5], "province": ["省0", "省1"], "city": ["市00", "市10"],
                             "county": ["县000", "县100"], "province_code": ["410000", "420000"]})
    out = tmp_path_factory.mktemp("lead") / "map.html"
    return write_map(out, scenario=Scenario(name="lead-test", map=MapConfig(tiles="none")), share=share,
                     share_start=start, response=response, **micro_inputs)


def _fill(driver: Any, key: str, i: int) -> str:
    return str(driver.execute_script(
        "window.plannerMap.count(arguments[0]);"
        "return window.plannerMap.layers[arguments[0]].getLayers()[arguments[1]].options.fillColor;", key, i))


def test_lead_layers_follow_the_slider(driver: Any, lead_map: Path) -> None:
    from selenium.webdriver.common.keys import Keys

    driver.get_log("browser")
    open_map(driver, lead_map)
    assert driver.execute_script("return window.plannerMap.count('lead:province');") == 2
    assert driver.execute_script("return window.plannerMap.count('lead:city');") == 4
    assert not driver.execute_script("return window.plannerMap.visible('lead:province');")  # off at first
    assert driver.execute_script("return window.plannerMap.count('response');") == 2
    # the slider starts at the last quarter: the first province is first (dark green), the second fourth
    assert _fill(driver, "lead:province", 0) == RANK_COLOURS[0]
    assert _fill(driver, "lead:province", 1) == RANK_COLOURS[3]
    slider = driver.find_element("css selector", "input.planner-quarter")
    slider.send_keys(Keys.HOME)  # the existing network: fourth
    assert _fill(driver, "lead:province", 0) == RANK_COLOURS[3]
    slider.send_keys(Keys.ARROW_RIGHT)  # 2027Q1: still fourth
    assert _fill(driver, "lead:province", 0) == RANK_COLOURS[3]
    slider.send_keys(Keys.ARROW_RIGHT)  # 2027Q2: first
    assert _fill(driver, "lead:province", 0) == RANK_COLOURS[0]
    assert _fill(driver, "lead:city", 0) == RANK_COLOURS[3]
    assert console_errors(driver) == []
