"""Atomic file writes: every file of a run appears whole under its final name, or not at all.

Why one helper for every writer: a run works in a new warehouse generation that starts as
a hard-link copy of the current one (``kit.core.generations``), so the two share inodes until a
file is replaced. Writing into an existing file would change the previous generation
through the shared inode; writing to a fresh temp name beside the target, fsyncing it and
``os.replace``-ing it onto the target never does. A failed write (full disk, read-only
folder) removes the temp file, so no 0-byte or half-written file is left behind, and is
raised as one ``WriteError`` line naming the target path.

Temp names are unique per process and call (``.<name>.<pid>.<random>.tmp``), so two
writers never share a temp file.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class WriteError(OSError):
    """A file could not be written (disk full, read-only folder): one line naming the file."""


def temp_name(path: Path) -> Path:
    """A unique temp path beside ``path`` (same folder, so ``os.replace`` is a rename)."""
    return path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")


def fsync_file(path: Path) -> None:
    """Flush a written file's data to disk, so a rename never exposes a file whose data is lost."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def atomic_path(path: Path | str) -> Iterator[Path]:
    """Yield a temp path to write ``path``'s new content to; on success it replaces ``path``.

    The body writes the whole file to the yielded path (pandas ``to_parquet``, DuckDB
    ``COPY ... TO``, ``write_text``). On normal exit the temp file is fsynced and renamed
    onto ``path``; on any exception it is removed and ``path`` is left as it was. An
    OSError (including ENOSPC or EROFS from the body) is raised as ``WriteError`` naming
    ``path``, chained to the original.
    """
    path = Path(path)
    tmp = temp_name(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        yield tmp
        if not tmp.is_file():
            raise WriteError(f"cannot write {path}: the writer produced no file")
        fsync_file(tmp)
        os.replace(tmp, path)
    except OSError as exc:
        _remove(tmp)
        if isinstance(exc, WriteError):
            raise
        reason = exc.strerror or str(exc)
        raise WriteError(exc.errno, f"cannot write {path}: {reason}") from exc
    except BaseException:
        _remove(tmp)
        raise


def write_text_atomic(path: Path | str, text: str, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` atomically; returns ``path``."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding=encoding)
    return Path(path)


def write_bytes_atomic(path: Path | str, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically; returns ``path``."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def copy_atomic(source: Path, target: Path) -> Path:
    """Copy ``source`` to ``target`` atomically (a carried-over page, a kept notebook)."""
    return write_bytes_atomic(target, Path(source).read_bytes())


def _remove(tmp: Path) -> None:
    """Delete a temp file if it exists; a failure here must not hide the original error."""
    try:
        tmp.unlink(missing_ok=True)
    except OSError:
        pass
