"""`planner bench compete`: the contract's JSON on a hand-checked leader-follower instance."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from planner.bench import read_compete_npz, run_compete, write_compete_npz
from planner.errors import DataError
from planner.optimise.compete import Follower
from planner.optimise.types import Instance

KEYS = ["objective", "bound", "gap", "seconds", "open", "response", "response_gap", "objective_without_response"]


def _two_cells(path: Path) -> Path:
    """Cells A, B (weight 1, pull 1 and 1.2); leader sites a@A, b@B, one store; rivals fA@A (10), fB@B (0.1), one.

    Ignoring the rivals a is best (1/2 > 1/2.2), but fA then leaves 1/12; b after fB keeps 1/2.3: the max-min.
    """
    inst = Instance.from_arrays(
        weight=np.array([1.0, 1.0]), pair_cell=np.array([0, 1]), pair_site=np.array([0, 1]), pair_km=np.zeros(2),
        stores=1, radius_km=1.0, unreachable_km=50.0, competitor_pull=np.array([1.0, 1.2]), site_attr=np.ones(2),
    )
    fol = Follower(site_attr=np.array([10.0, 0.1]), pair_cell=np.array([0, 1]), pair_site=np.array([0, 1]),
                   pair_km=np.zeros(2), stores=1)
    return write_compete_npz(path / "two.npz", inst, fol)


def test_contract_by_hand(tmp_path: Path) -> None:
    out = run_compete(_two_cells(tmp_path), time_limit_s=10)
    assert list(out) == KEYS
    assert out["open"] == [1] and out["response"] == [1]
    assert out["objective"] == pytest.approx(1 / 2.3)
    assert out["bound"] == pytest.approx(1 / 2.3) and out["gap"] == pytest.approx(0.0)
    assert out["response_gap"] == pytest.approx(0.0)
    assert out["objective_without_response"] == pytest.approx(1 / 2.2)


def test_cli_prints_one_json_line(tmp_path: Path) -> None:
    f = _two_cells(tmp_path)
    proc = subprocess.run([sys.executable, "-m", "planner.cli", "bench", "compete", str(f), "--time-limit", "20", "--json"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1
    assert list(json.loads(lines[0])) == KEYS


def test_missing_follower_key_is_named(tmp_path: Path) -> None:
    f = _two_cells(tmp_path)
    data = dict(np.load(f))
    del data["f_stores"]
    np.savez(tmp_path / "bad.npz", **data)
    with pytest.raises(DataError, match="f_stores"):
        read_compete_npz(tmp_path / "bad.npz")


def test_follower_pair_out_of_range_is_named(tmp_path: Path) -> None:
    f = _two_cells(tmp_path)
    data = dict(np.load(f))
    data["f_pair_cell"] = np.array([0, 5])
    np.savez(tmp_path / "bad.npz", **data)
    with pytest.raises(DataError, match="f_pair_cell"):
        read_compete_npz(tmp_path / "bad.npz")
