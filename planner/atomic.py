"""Atomic writes: a reader sees the old file (or folder) or the complete new one, never half of one.

Every file the planner writes goes through here: :func:`write_atomic` (any
writer that takes a path, e.g. ``DataFrame.to_parquet``), :func:`write_text_atomic`
and :func:`write_bytes_atomic` write to a hidden temporary file beside the
target and move it into place with :func:`os.replace`; :func:`atomic_folder`
fills a hidden temporary folder and renames it into place when the block ends
without an error. On any failure (or Ctrl-C) the temporary is removed and the
target is left as it was. :func:`unique_folder` creates a folder that did not
exist before, for outputs that are never overwritten.

Errors are :class:`OSError` as raised by the file system; callers turn them
into an :class:`~planner.errors.OutputError` that names what to do.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from planner.errors import OutputError

__all__ = ["atomic_folder", "unique_folder", "write_atomic", "write_bytes_atomic", "write_text_atomic"]


def _temp_file(path: Path) -> Path:
    """Create (exclusively) an empty hidden file beside ``path`` and return its name.

    Created with ``os.open`` mode 0o666 so the umask applies as for a plain
    ``open(path, "w")`` (``tempfile.mkstemp`` would make it 0o600).
    """
    while True:
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.partial")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
        os.close(fd)
        return tmp


def write_atomic(path: str | os.PathLike[str], write: Callable[[Path], Any]) -> Path:
    """Call ``write(tmp)`` on a temporary file beside ``path``, then move it onto ``path``.

    Parameters
    ----------
    path
        The target file; its folder must exist. An existing file is replaced only
        once ``write`` has returned.
    write
        Writes the complete content to the path it is given (it may overwrite the
        empty temporary file).

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    OSError
        From the file system; anything ``write`` raises propagates. Either way the
        temporary file is gone and ``path`` is untouched.
    """
    path = Path(path)
    tmp = _temp_file(path)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.lexists(tmp):
            os.unlink(tmp)
    return path


def write_text_atomic(path: str | os.PathLike[str], text: str, *, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` atomically (see :func:`write_atomic`)."""
    return write_atomic(path, lambda tmp: tmp.write_text(text, encoding=encoding))


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (see :func:`write_atomic`)."""
    return write_atomic(path, lambda tmp: tmp.write_bytes(data))


@contextmanager
def atomic_folder(final: str | os.PathLike[str]) -> Iterator[Path]:
    """Fill a hidden temporary folder beside ``final``; rename it to ``final`` when the block succeeds.

    The temporary is ``.partial-<name>`` (with a random suffix if that is taken)
    in ``final``'s parent, which must exist. If the block raises (or is
    interrupted), the temporary folder and everything in it are removed and
    ``final`` is never created.

    Yields
    ------
    pathlib.Path
        The temporary folder to write into.
    """
    final = Path(final)
    tmp = final.with_name(f".partial-{final.name}")
    while True:
        try:
            tmp.mkdir()
            break
        except FileExistsError:
            tmp = final.with_name(f".partial-{final.name}-{secrets.token_hex(3)}")
    try:
        yield tmp
        os.rename(tmp, final)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def unique_folder(parent: Path, stem: str) -> Path:
    """Create and return ``parent/stem`` (or ``stem-2``, ``stem-3`` …): never an existing folder.

    Raises
    ------
    OutputError
        When the folder cannot be created.
    """
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{parent}: cannot create the folder ({exc.strerror}). Choose a writable folder.") from None
    for n in range(1, 1000):
        p = parent / (stem if n == 1 else f"{stem}-{n}")
        try:
            p.mkdir()
            return p
        except FileExistsError:
            continue
        except OSError as exc:
            raise OutputError(f"{p}: cannot create the folder ({exc.strerror}). Choose a writable folder.") from None
    return unique_folder(parent, f"{stem}-{secrets.token_hex(3)}")
