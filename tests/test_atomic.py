"""The one atomic writer: a failed write leaves the old file (or no folder) and no temporary debris."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from planner.atomic import (
    atomic_folder,
    unique_folder,
    write_atomic,
    write_bytes_atomic,
    write_text_atomic,
)
from planner.errors import OutputError


def test_text_and_bytes_replace_the_file(tmp_path: Path) -> None:
    target = tmp_path / "a.txt"
    target.write_text("old", encoding="utf-8")
    assert write_text_atomic(target, "新的") == target
    assert target.read_text(encoding="utf-8") == "新的"
    write_bytes_atomic(tmp_path / "b.bin", b"\x00\x01")
    assert (tmp_path / "b.bin").read_bytes() == b"\x00\x01"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "b.bin"]


def test_a_failed_write_leaves_the_old_file_intact_and_no_debris(tmp_path: Path) -> None:
    target = tmp_path / "kpis.json"
    target.write_text("old", encoding="utf-8")

    def boom(tmp: Path) -> None:
        tmp.write_text("half", encoding="utf-8")
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError, match="disk on fire"):
        write_atomic(target, boom)
    assert target.read_text(encoding="utf-8") == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["kpis.json"]


def test_a_failed_write_of_a_new_file_creates_nothing(tmp_path: Path) -> None:
    with pytest.raises(KeyboardInterrupt):
        write_atomic(tmp_path / "new.txt", lambda tmp: (_ for _ in ()).throw(KeyboardInterrupt()))
    assert list(tmp_path.iterdir()) == []


def test_written_files_follow_the_umask_like_a_plain_write(tmp_path: Path) -> None:
    plain = tmp_path / "plain.txt"
    plain.write_text("x", encoding="utf-8")
    atomic = write_text_atomic(tmp_path / "atomic.txt", "x")
    assert stat.S_IMODE(atomic.stat().st_mode) == stat.S_IMODE(plain.stat().st_mode)


def test_atomic_folder_appears_only_when_complete(tmp_path: Path) -> None:
    final = tmp_path / "run-1"
    with atomic_folder(final) as tmp:
        assert tmp.parent == tmp_path and tmp.name.startswith(".partial-")
        (tmp / "plan.csv").write_text("a\n", encoding="utf-8")
        assert not final.exists()
    assert (final / "plan.csv").read_text(encoding="utf-8") == "a\n"
    assert [p.name for p in tmp_path.iterdir()] == ["run-1"]


def test_a_failed_folder_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(ValueError), atomic_folder(tmp_path / "run-2") as tmp:
        (tmp / "plan.csv").write_text("a\n", encoding="utf-8")
        raise ValueError("solver bug")
    assert list(tmp_path.iterdir()) == []


def test_atomic_folder_side_steps_a_stale_temporary(tmp_path: Path) -> None:
    (tmp_path / ".partial-run-3").mkdir()
    with atomic_folder(tmp_path / "run-3") as tmp:
        assert tmp.name != ".partial-run-3"
    assert (tmp_path / "run-3").is_dir()


def test_unique_folder_never_reuses_a_folder(tmp_path: Path) -> None:
    a = unique_folder(tmp_path / "out", "sweep")
    b = unique_folder(tmp_path / "out", "sweep")
    assert (a.name, b.name) == ("sweep", "sweep-2")
    blocker = tmp_path / "file"
    blocker.write_text("x", encoding="utf-8")
    with pytest.raises(OutputError):
        unique_folder(blocker, "sweep")
