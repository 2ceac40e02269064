"""The map in a real browser: headless Chromium through Selenium.

No console errors, the expected markers and polygons, layer toggles and the
quarter slider work, hostile names run no script, the offline page draws with every
host blocked, and a screenshot that is not blank. Skipped (with the reason) only
when Chromium, chromedriver or selenium is missing.
"""

from __future__ import annotations

import io
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from planner.report.browser import (
    browser_unavailable_reason,
    console_errors,
    headless_chromium,
    open_map,
    screenshot_map,
)

_REASON = browser_unavailable_reason()
# CI sets PLANNER_REQUIRE_BROWSER=1 (see .ci/run): there a missing browser fails the tests
# instead of skipping them silently.
_REQUIRED = os.environ.get("PLANNER_REQUIRE_BROWSER", "") not in ("", "0")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(_REASON is not None and not _REQUIRED, reason=f"browser tests need Chromium: {_REASON}"),
]


@pytest.fixture(scope="module")
def driver() -> Iterator[Any]:
    # No internet in CI either: block it outright so a stray request fails fast and visibly.
    with headless_chromium(block_network=True) as d:
        yield d


def _open(driver: Any, path: Path) -> dict[str, float]:
    driver.get_log("browser")  # drop entries left by the previous test's page
    return open_map(driver, path)


def _count(driver: Any, key: str) -> int:
    return int(driver.execute_script("return window.plannerMap.count(arguments[0]);", key))


def _visible(driver: Any, key: str) -> bool:
    return bool(driver.execute_script("return window.plannerMap.visible(arguments[0]);", key))


def _store_icons(driver: Any) -> int:
    return len(driver.find_elements("css selector", ".leaflet-marker-pane .planner-store"))


@pytest.mark.parametrize("tiles", ["none", "osm", "amap"])
def test_no_console_errors_and_expected_counts(driver: Any, write_micro_map: Any, tiles: str) -> None:
    _open(driver, write_micro_map(tiles=tiles))
    assert console_errors(driver) == []
    assert _store_icons(driver) == 12
    assert driver.execute_script("return window.plannerMap.meta.stores;") == 12
    assert _count(driver, "province") == 2 and _count(driver, "city") == 4 and _count(driver, "county") == 8
    assert _count(driver, "existing") == 4 and _count(driver, "new:2027Q2") == 3
    assert [_count(driver, f"competitor:{b}") for b in ("huawei", "oppo", "vivo")] == [10, 10, 10]
    # Provinces drawn on the canvas renderer, city search and scale bar present.
    assert driver.find_elements("css selector", ".leaflet-overlay-pane canvas")
    assert driver.find_elements("css selector", ".leaflet-control-search input")
    assert driver.find_elements("css selector", ".leaflet-control-scale")
    assert "Illustrative networks" in driver.find_element("id", "planner-illustrative").text
    assert "micro-test" in driver.find_element("id", "planner-title").text


def _layer_checkbox(driver: Any, label: str) -> Any:
    driver.execute_script(
        "document.querySelector('.leaflet-control-layers').classList.add('leaflet-control-layers-expanded');"
    )
    for lab in driver.find_elements("css selector", ".leaflet-control-layers-overlays label"):
        if label in lab.text:
            return lab.find_element("css selector", "input")
    raise AssertionError(f"no layer control entry containing {label!r}")


def test_layer_toggles_work(driver: Any, write_micro_map: Any) -> None:
    _open(driver, write_micro_map(tiles="none"))
    assert not _visible(driver, "competitor:huawei")
    assert not driver.find_elements("css selector", ".marker-cluster")
    _layer_checkbox(driver, "Huawei").click()
    assert _visible(driver, "competitor:huawei")
    assert driver.find_elements("css selector", ".marker-cluster") or driver.execute_script(
        "return window.plannerMap.layers['competitor:huawei'].getLayers().some(function(l){ return !!l._map; });"
    )
    assert _visible(driver, "province")
    _layer_checkbox(driver, "Province").click()
    assert not _visible(driver, "province")
    _layer_checkbox(driver, "Existing stores").click()
    assert _store_icons(driver) == 8
    _layer_checkbox(driver, "County").click()
    assert _visible(driver, "county")
    assert console_errors(driver) == []


def test_quarter_slider_changes_what_is_shown(driver: Any, write_micro_map: Any) -> None:
    from selenium.webdriver.common.keys import Keys

    _open(driver, write_micro_map(tiles="none"))
    slider = driver.find_element("css selector", "input.planner-quarter")
    label = driver.find_element("css selector", ".planner-slider div")
    assert _store_icons(driver) == 12 and "2027Q3: 12 stores" in label.text
    slider.send_keys(Keys.HOME)
    assert _store_icons(driver) == 4 and "existing only" in label.text
    assert not _visible(driver, "new:2027Q1")
    slider.send_keys(Keys.ARROW_RIGHT)
    assert _store_icons(driver) == 6 and "2027Q1: 6 stores · 5 managers ready" in label.text
    slider.send_keys(Keys.ARROW_RIGHT)
    assert _store_icons(driver) == 9 and _visible(driver, "new:2027Q2") and not _visible(driver, "new:2027Q3")
    # The layer control follows the slider.
    assert not _layer_checkbox(driver, "2027Q3").is_selected()
    assert _layer_checkbox(driver, "2027Q2").is_selected()
    slider.send_keys(Keys.END)
    assert _store_icons(driver) == 12
    assert console_errors(driver) == []


def test_hostile_names_run_no_script(driver: Any, write_micro_map: Any) -> None:
    from selenium.common.exceptions import NoAlertPresentException

    _open(driver, write_micro_map(tiles="none"))
    # Open every store and competitor popup the way Leaflet would (content via innerHTML).
    texts = driver.execute_script(
        """
        var pm = window.plannerMap, out = [];
        Object.keys(pm.layers).forEach(function(k){
          if (k.indexOf('competitor:') === 0) pm.map.addLayer(pm.layers[k]);
        });
        Object.keys(pm.layers).forEach(function(k){
          var stack = [pm.layers[k]];
          while (stack.length) {
            var l = stack.pop();
            if (l.getLayers) { stack = stack.concat(l.getLayers()); continue; }
            var p = l.getPopup && l.getPopup();
            if (!p) continue;
            var pop = L.popup().setLatLng(l.getLatLng()).setContent(p.getContent()).openOn(pm.map);
            out.push(pop.getElement().innerText);
          }
        });
        return out;
        """
    )
    time.sleep(0.5)  # an injected <img onerror> would fire asynchronously
    assert driver.execute_script("return window.__xss === undefined;"), "an injected handler ran"
    assert len(texts) == 12 + 30
    joined = "\n".join(texts)
    assert "<script>alert(1)</script>" in joined
    assert '<img src=x onerror="window.__xss=1">' in joined
    with pytest.raises(NoAlertPresentException):
        driver.switch_to.alert.text  # noqa: B018 - raises when no alert is open
    assert not driver.find_elements("css selector", ".leaflet-popup-content img")
    assert console_errors(driver) == []


def test_offline_map_draws_with_every_host_blocked(driver: Any, write_micro_map: Any) -> None:
    # The module's browser resolves no host and blocks every http(s) URL (see ``driver``).
    _open(driver, write_micro_map(tiles="osm", offline=True))
    assert driver.execute_script("return typeof L === 'object' && typeof L.markerClusterGroup === 'function';")
    assert _store_icons(driver) == 12
    assert driver.find_elements("css selector", ".leaflet-overlay-pane canvas")
    assert console_errors(driver) == []  # failed tiles are the only errors allowed
    requested = driver.execute_script(
        "return performance.getEntriesByType('resource').map(function(e){ return e.name; });"
    )
    assert all("tile.openstreetmap.org" in u or u.startswith(("file:", "data:")) for u in requested), requested


def test_screenshot_is_not_blank(write_micro_map: Any, tmp_path: Path) -> None:
    from PIL import Image

    out = screenshot_map(write_micro_map(tiles="none"), tmp_path / "map.png")
    png = out.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    img = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=float)
    assert img.shape[0] >= 600 and img.shape[1] >= 800
    assert img.std() > 20  # a blank or single-colour page is ~0
    colours = np.unique((img[::4, ::4] // 32).reshape(-1, 3), axis=0)
    assert len(colours) > 20


def test_city_search_finds_a_city(driver: Any, write_micro_map: Any) -> None:
    _open(driver, write_micro_map(tiles="none"))
    box = driver.find_element("css selector", ".leaflet-control-search input.search-input")
    box.send_keys("City 10")
    deadline = time.monotonic() + 5
    tips: list[Any] = []
    while time.monotonic() < deadline and not tips:
        tips = [t for t in driver.find_elements("css selector", ".leaflet-control-search .search-tip") if t.text]
        time.sleep(0.05)
    assert [t.text for t in tips] == ["市10 City 10"]
    before = driver.execute_script("return window.plannerMap.map.getZoom();")
    tips[0].click()
    time.sleep(1.0)  # the map flies to the city
    assert driver.execute_script("return window.plannerMap.map.getZoom();") > before
    assert console_errors(driver) == []


def test_areas_layer_follows_the_quarter_slider(driver: Any, micro_inputs: dict[str, Any], tmp_path: Path) -> None:
    import geopandas as gpd
    from selenium.webdriver.common.keys import Keys

    from planner.config.models import MapConfig, Scenario
    from planner.report.maps import write_map

    counties = micro_inputs["layers"].counties.reset_index(drop=True)
    # area A (the first county) is led before the horizon, area B (the second) forms in 2027Q2
    areas = gpd.GeoDataFrame(
        {"area_id": ["P-A01", "P-A02"], "stores": [6, 7], "workload": [100.0, 120.0], "formed": ["", "2027Q2"],
         "manager": ["existing", "promoted"], "exception": ["", ""]},
        geometry=[counties.geometry.iloc[0], counties.geometry.iloc[1]], crs=counties.crs,
    )
    plan = micro_inputs["plan"].assign(area_id=["P-A01", "P-A02"] * 6)
    path = write_map(tmp_path / "map.html", scenario=Scenario(name="micro-test", map=MapConfig(tiles="none")),
                     **{**micro_inputs, "plan": plan}, areas=areas)
    _open(driver, path)
    assert not _visible(driver, "areas")  # off by default
    driver.execute_script("window.plannerMap.map.addLayer(window.plannerMap.layers.areas);")
    assert _count(driver, "areas") == 2
    slider = driver.find_element("css selector", "input.planner-quarter")
    slider.send_keys(Keys.HOME)
    assert _count(driver, "areas") == 1
    slider.send_keys(Keys.ARROW_RIGHT)  # 2027Q1
    assert _count(driver, "areas") == 1
    slider.send_keys(Keys.ARROW_RIGHT)  # 2027Q2: area B forms
    assert _count(driver, "areas") == 2
    assert console_errors(driver) == []
