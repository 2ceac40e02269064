"""Headless Chromium through Selenium, for the map's browser tests and benchmarks.

Uses the system ``chromium`` and ``chromedriver`` (Debian: ``apt-get install
chromium chromium-driver``) by explicit path, so Selenium never tries to download
a driver. :func:`headless_chromium` starts a throw-away browser (fresh profile, no
background traffic), optionally with every network host blocked, and
:func:`open_map` loads a ``map.html`` and waits for the page's ``plannerMap`` hook
(set by :mod:`planner.report.maps` once every layer is drawn).
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

__all__ = [
    "BrowserUnavailableError",
    "TILE_HOSTS",
    "browser_unavailable_reason",
    "console_errors",
    "find_chromium",
    "headless_chromium",
    "open_map",
    "screenshot_map",
]

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
DRIVER_NAMES = ("chromedriver", "chromium-driver")
TILE_HOSTS = ("tile.openstreetmap.org", "autonavi.com")
"""Hosts of background tiles: their load errors are expected with no network."""


class BrowserUnavailableError(RuntimeError):
    """Chromium, chromedriver or selenium is missing."""


def _executable(path: str | None) -> str | None:
    """``path`` when it names an executable file (an override from the environment), else None."""
    if path and os.path.isfile(path) and os.access(path, os.X_OK):
        return path
    if path:
        log.warning("browser: ignoring %s, not an executable file", path)
    return None


def find_chromium() -> tuple[str | None, str | None]:
    """Paths of the Chromium binary and its chromedriver (``CHROMIUM_BIN`` / ``CHROMEDRIVER`` override)."""
    browser = _executable(os.environ.get("CHROMIUM_BIN")) or next(filter(None, map(shutil.which, CHROMIUM_NAMES)), None)
    driver = _executable(os.environ.get("CHROMEDRIVER")) or next(filter(None, map(shutil.which, DRIVER_NAMES)), None)
    if driver is None and Path("/usr/lib/chromium/chromedriver").exists():
        driver = "/usr/lib/chromium/chromedriver"
    return browser, driver


def browser_unavailable_reason() -> str | None:
    """Why headless Chromium cannot run here, or None when it can."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e .[dev])"
    browser, driver = find_chromium()
    if browser is None:
        return "no Chromium binary on PATH (apt-get install chromium)"
    if driver is None:
        return "no chromedriver on PATH (apt-get install chromium-driver)"
    return None


@contextmanager
def headless_chromium(
    *, block_network: bool = False, window_size: tuple[int, int] = (1280, 900), extra_args: tuple[str, ...] = ()
) -> Iterator[Any]:
    """A headless Chromium WebDriver with a fresh profile, closed on exit.

    Parameters
    ----------
    block_network : bool
        Resolve every host name to nothing (``--host-resolver-rules``) and block
        every http(s) URL through the DevTools protocol, so only ``file://`` loads.
    window_size : tuple of int
        Viewport width and height in pixels.
    extra_args : tuple of str
        More Chromium switches.

    Yields
    ------
    selenium.webdriver.Chrome
        The driver; browser console logs are kept (``driver.get_log('browser')``).

    Raises
    ------
    BrowserUnavailableError
        When selenium, Chromium or chromedriver is missing.
    """
    reason = browser_unavailable_reason()
    if reason:
        raise BrowserUnavailableError(reason)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    browser, driver_path = find_chromium()
    profile = tempfile.mkdtemp(prefix="planner-chromium-")
    opts = webdriver.ChromeOptions()
    opts.binary_location = str(browser)
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-default-apps",
        "--disable-extensions",
        "--no-first-run",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
        f"--window-size={window_size[0]},{window_size[1]}",
        *extra_args,
    ):
        opts.add_argument(arg)
    if block_network:
        opts.add_argument("--host-resolver-rules=MAP * ~NOTFOUND")
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=opts, service=Service(executable_path=str(driver_path)))
    try:
        if block_network:
            driver.execute_cdp_cmd("Network.enable", {})
            driver.execute_cdp_cmd("Network.setBlockedURLs", {"urls": ["http://*", "https://*", "ws://*", "wss://*"]})
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def open_map(driver: Any, path: str | Path, *, timeout_s: float = 30.0) -> dict[str, float]:
    """Load a map file and wait until the page reports its layers drawn.

    Returns
    -------
    dict
        ``load_ms`` (wall time of the navigation, as seen from Python),
        ``ready_ms`` (page script finished, from navigation start) and
        ``drawn_ms`` (first frame painted after that, from navigation start).
    """
    url = Path(path).resolve().as_uri()
    t0 = time.perf_counter()
    driver.get(url)
    deadline = time.monotonic() + timeout_s
    while True:
        drawn = driver.execute_script("return window.plannerMap ? window.plannerMap.drawnAt || null : null;")
        if drawn is not None:
            break
        if time.monotonic() > deadline:
            raise TimeoutError(f"map {path} not drawn within {timeout_s} s")
        time.sleep(0.02)
    ready = driver.execute_script("return window.plannerMap.readyAt;")
    return {"load_ms": (time.perf_counter() - t0) * 1000.0, "ready_ms": float(ready), "drawn_ms": float(drawn)}


def console_errors(driver: Any, *, ignore_hosts: tuple[str, ...] = TILE_HOSTS) -> list[dict[str, Any]]:
    """SEVERE browser console entries since the last call, less those about ``ignore_hosts``."""
    out = []
    for entry in driver.get_log("browser"):
        if entry.get("level") != "SEVERE":
            continue
        msg = str(entry.get("message", ""))
        if any(h in msg for h in ignore_hosts):
            continue
        out.append(entry)
    return out


def screenshot_map(
    map_path: str | Path, png_path: str | Path, *, window_size: tuple[int, int] = (1280, 800),
    block_network: bool = True,
) -> Path:
    """Open a map in headless Chromium and save what it draws as a PNG (e.g. for the README).

    Parameters
    ----------
    map_path : str or pathlib.Path
        The ``map.html`` to open.
    png_path : str or pathlib.Path
        Where to write the screenshot.
    window_size : tuple of int
        Viewport width and height in pixels.
    block_network : bool
        Block every host (background tiles then stay blank; the map's layers draw).

    Returns
    -------
    pathlib.Path
        The PNG written.
    """
    png_path = Path(png_path)
    with headless_chromium(block_network=block_network, window_size=window_size) as driver:
        open_map(driver, map_path)
        time.sleep(0.3)  # let marker and canvas layers settle after the first frame
        if not driver.save_screenshot(str(png_path)):
            raise RuntimeError(f"Chromium could not write a screenshot to {png_path}")
    log.info("browser: screenshot of %s written to %s", map_path, png_path)
    return png_path
