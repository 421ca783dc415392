"""Warehouse generations, the run lock and the commit journal: how a run stays all-or-nothing.

Layout of ``paths.warehouse`` once ``kit run`` has used it::

    <warehouse>/CURRENT                 id of the visible generation (replaced by rename)
    <warehouse>/generations/<id>/       tables, registry, ingest_report.json, snapshots/...
    <warehouse>/generations/<id>/generation.json   {"id", "parent", "created"}
    <warehouse>/.kit-run.lock           held (flock) by the running ``kit run``; PID, host, start
    <warehouse>/.kit-commit.json        the commit journal, present only while a commit is under way

A run starts a new generation as a hard-link copy of the current one (cheap: no data is
copied) and writes only through ``kit.core.atomic`` (temp file, then rename), so the current
generation never changes. On success the runner commits: it writes the journal, moves the
staging month into ``reports/<month>/``, points ``CURRENT`` at the new generation and
rebuilds the reports index, then deletes the journal. A kill between those renames is rolled forward at the next start
(``recover``). On failure the new generation is deleted. The current generation and its
parent are kept; older ones are deleted after each successful run.

A folder without ``CURRENT`` is a flat warehouse (the layout before generations, and the
test fixtures): it is read as it is, and the first ``kit run`` moves its tables into a
first generation (``adopt_flat``).
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from kit.core.atomic import write_text_atomic

CURRENT = "CURRENT"
GENERATIONS = "generations"
LOCK = ".kit-run.lock"
JOURNAL = ".kit-commit.json"
INFO = "generation.json"
# What a flat (pre-generation) warehouse holds: top-level files of these kinds and these folders.
FLAT_SUFFIXES = (".parquet", ".json", ".txt")
FLAT_FOLDERS = ("quarantine", "snapshots")
GENERATION_ID = re.compile(r"^\d{8}T\d{6}-\d+-[0-9a-f]{4}$")


class GenerationError(RuntimeError):
    """The warehouse's generation layout is damaged (CURRENT names a missing generation)."""


class RunLocked(RuntimeError):
    """Another ``kit run`` of this project holds the lock; the message names it."""


@dataclass(frozen=True)
class Generation:
    """One warehouse generation: its id and folder."""

    id: str
    path: Path


# --------------------------------------------------------------------------- reading


def current_id(root: Path) -> str | None:
    """The id named by ``<root>/CURRENT``, or None for a flat warehouse."""
    file = Path(root) / CURRENT
    if not file.is_file():
        return None
    value = file.read_text(encoding="utf-8").strip()
    if not GENERATION_ID.match(value):
        raise GenerationError(f"{file} holds {value[:40]!r}, not a generation id; restore it or delete it.")
    return value


def current_dir(root: Path | str) -> Path:
    """The folder readers use: the current generation, or ``root`` itself when flat."""
    root = Path(root)
    gen = current_id(root)
    if gen is None:
        return root
    folder = root / GENERATIONS / gen
    if not folder.is_dir():
        raise GenerationError(
            f"{root / CURRENT} names generation {gen}, but {folder} does not exist. Point CURRENT at a "
            f"generation that exists under {root / GENERATIONS} (the previous one) or re-run the month."
        )
    return folder


def parent_id(folder: Path) -> str | None:
    """The generation a generation was started from (its ``generation.json``), if known."""
    file = folder / INFO
    if not file.is_file():
        return None
    return json.loads(file.read_text(encoding="utf-8")).get("parent")


# --------------------------------------------------------------------------- the lock


@contextmanager
def run_lock(root: Path) -> Iterator[None]:
    """Hold ``<root>/.kit-run.lock`` for one run; raise RunLocked naming the holder otherwise.

    ``flock`` is released by the kernel when the holder dies, so a killed run never leaves
    a stale lock. The file's text (PID, host, start time) is only there to be shown.
    """
    root.mkdir(parents=True, exist_ok=True)
    file = root / LOCK
    fd = os.open(file, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 400, 0).decode("utf-8", "replace").strip() or "unknown holder"
            raise RunLocked(
                f"another kit run is using {root} ({holder}; lock file {file}). Wait for it to finish; "
                "two runs of one project at a time would mix their data."
            ) from None
        os.ftruncate(fd, 0)
        text = f"pid {os.getpid()} on {socket.gethostname()}, started {datetime.now().isoformat(timespec='seconds')}"
        os.pwrite(fd, text.encode("utf-8"), 0)
        yield
    finally:
        os.close(fd)  # closing releases the flock


# --------------------------------------------------------------------------- starting


def new_id() -> str:
    """A sortable, unique generation id: local time, PID, random suffix."""
    return f"{datetime.now():%Y%m%dT%H%M%S}-{os.getpid()}-{os.urandom(2).hex()}"


def start(root: Path) -> Generation:
    """A new generation: a hard-link copy of the current one (empty for a new warehouse)."""
    gen_id = new_id()
    target = root / GENERATIONS / gen_id
    parent = current_id(root)
    try:
        if parent is not None:
            link_tree(current_dir(root), target)
        else:
            target.mkdir(parents=True)
        write_text_atomic(
            target / INFO,
            json.dumps({"id": gen_id, "parent": parent, "created": datetime.now().isoformat(timespec="seconds")}),
        )
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)
        raise
    return Generation(gen_id, target)


def adopt_flat(root: Path) -> str | None:
    """Move a flat warehouse's tables into a first generation; returns its id (None if nothing to adopt).

    Hard-links the known warehouse entries into ``generations/<id>``, points CURRENT at it,
    then deletes the flat entries. A kill before CURRENT leaves an unreferenced generation
    (removed by ``clean_stale``); a kill after leaves flat leftovers, removed by the next call.
    """
    entries = _flat_entries(root)
    if current_id(root) is not None:
        for entry in entries:
            _delete(entry)
        return None
    if not entries:
        return None
    gen_id = new_id()
    target = root / GENERATIONS / gen_id
    target.mkdir(parents=True)
    for entry in entries:
        if entry.is_dir():
            link_tree(entry, target / entry.name)
        else:
            os.link(entry, target / entry.name)
    write_text_atomic(target / INFO, json.dumps({"id": gen_id, "parent": None, "adopted_from_flat": True}))
    write_text_atomic(root / CURRENT, gen_id + "\n")
    for entry in entries:
        _delete(entry)
    return gen_id


def _flat_entries(root: Path) -> list[Path]:
    """The entries of a flat warehouse at ``root`` (tables, reports, salt, quarantine, snapshots)."""
    if not root.is_dir():
        return []
    return sorted(
        p for p in root.iterdir()
        if (p.is_file() and p.suffix in FLAT_SUFFIXES and not p.name.startswith("."))
        or (p.is_dir() and p.name in FLAT_FOLDERS)
    )


def link_tree(source: Path, target: Path) -> None:
    """Copy a folder tree with hard links (a plain copy where the filesystem has none)."""

    def link(src: str, dst: str) -> None:
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)

    shutil.copytree(source, target, copy_function=link, ignore=shutil.ignore_patterns("*.tmp"))


# --------------------------------------------------------------------------- committing


def write_journal(root: Path, entry: dict[str, Any]) -> None:
    """Record the commit about to happen (``generation``, ``staging``, ``target``, ...)."""
    write_text_atomic(root / JOURNAL, json.dumps(entry, ensure_ascii=False, indent=2))


def read_journal(root: Path) -> dict[str, Any] | None:
    """The pending commit journal, or None."""
    file = root / JOURNAL
    return json.loads(file.read_text(encoding="utf-8")) if file.is_file() else None


def roll_forward(root: Path, entry: dict[str, Any]) -> None:
    """Do a journaled commit: publish the staging month and point CURRENT at the new generation.

    Safe to repeat after a kill at any point: each step checks what is already done. The
    journal stays until ``finish_commit``, so that the caller's follow-up (the reports
    index) is redone too when the process dies before it.
    """
    staging, target, backup = Path(entry["staging"]), Path(entry["target"]), Path(entry["backup"])
    if staging.is_dir():
        if target.exists():
            os.replace(target, backup)
        os.replace(staging, target)
    write_text_atomic(root / CURRENT, entry["generation"] + "\n")


def finish_commit(root: Path, entry: dict[str, Any]) -> None:
    """Delete the journal and the replaced month folder: the commit is complete."""
    (root / JOURNAL).unlink(missing_ok=True)
    shutil.rmtree(entry["backup"], ignore_errors=True)


def discard(gen: Generation) -> None:
    """Delete a generation that was not committed."""
    shutil.rmtree(gen.path, ignore_errors=True)


def clean_stale(root: Path) -> list[str]:
    """Delete generations that are neither current nor the current one's parent; returns their ids.

    Run after a successful commit (old generations) and at each start, with the run lock
    held (generations left by a killed run).
    """
    folder = root / GENERATIONS
    gen = current_id(root)
    if not folder.is_dir():
        return []
    keep = {gen, parent_id(folder / gen)} if gen is not None else set()  # no CURRENT: none was committed
    removed = []
    for child in sorted(folder.iterdir()):
        if child.name not in keep:
            shutil.rmtree(child, ignore_errors=True) if child.is_dir() else child.unlink(missing_ok=True)
            removed.append(child.name)
    return removed


def _delete(path: Path) -> None:
    """Delete a file or folder."""
    shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)
