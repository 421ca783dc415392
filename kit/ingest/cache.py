"""The raw-file registry and the parse cache: a month's ingest parses only new or changed files.

Reading a CSV export is most of what ``load_source`` costs (the encoding check and
transcoding, the physical line check of ``lines.py``, DuckDB's parse), and a monthly run
reads every file of every source again, although most of them did not change since last
month. So each raw file is identified by the SHA-256 of its bytes (its fingerprint), and
the table ``load_source`` made of it is kept, per source, as Parquet under ``paths.ingest_cache``
(default ``data/ingest_cache``):

    <ingest_cache>/<source>/<fingerprint>-<options>.parquet  a file's loaded table
    <ingest_cache>/registry.parquet       one row per raw file of the last run: source, path,
                                          fingerprint, size, rows, first seen / last used run month

``<options>`` digests everything that changes how a file is loaded (``options_digest``):
the source's format, encoding, ``on_bad_encoding`` and ``columns:`` mapping, the DuckDB and
pandas versions and ``CACHE_VERSION``, which is bumped whenever ``sources.py`` or ``lines.py``
change what a file loads as. Timestamp formats and time zones act in cleaning, after the
cache, so changing them does not re-parse anything. A file whose fingerprint and options
have an entry is read from it instead of being parsed; any other file is parsed and its
entry written (``kit.core.atomic``). Cleaning, de-duplication, quarantine and identity
then run over all rows as before, so the warehouse is the same as a full rebuild's.
Measured at 250,000 customers (docs/decisions/0022-ingest-parse-cache.md): reading takes
6-8 s instead of 16-27 s of an ingest of 110-220 s; the rest runs over all rows.

What an entry holds: the file's loaded table (text columns renamed by ``columns:``) with
each row's record number and line in ``__kit_record`` / ``__kit_line`` (``lines.COPY_COLUMNS``),
and in its Parquet key-value metadata the encoding found, the row count and the malformed
records (record, line, reason): the part of the quarantine found while loading, so a
reused file quarantines exactly the records a parse would.

Identity: always the content hash. Size, modification and change times only let a file
keep the hash the registry holds for the same path, when all three are unchanged and the
file was last modified well before it was hashed (``RACY_NS``: a write in the same clock
tick as the hash could otherwise go unseen).

Where: an entry holds the raw rows, names, phone numbers and e-mails included, so the
cache is protected like the raw exports and never lies inside ``paths.warehouse`` or
``paths.reports``, which are copied and shared and hold no personal data (the config
loader refuses such a setting; the folder is created readable by its owner only). Outside the
warehouse it also survives from one run's generation to the next, and a discarded run
(the data gate stopped it) leaves its entries for the next attempt: an entry is a pure
function of the file's bytes and the options, so any run's entries are as good as a
committed one's. A run and a notebook run by hand may share the cache: entries are written
by rename and read with a check, so at worst one prunes an entry the other then parses again.

Not cached: Parquet sources (read in place; a copy would cost more than it saves) and
``ibis`` tables (no file). Parquet files are registered with their fingerprint all the
same. An entry that cannot be read (truncated, damaged) or holds another number of rows
than its metadata says is deleted and the file parsed again. At the end of a run every
entry it did not use is deleted, so the cache holds one entry per file of the last run.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

from kit.core.atomic import WriteError, atomic_path
from kit.core.config import SourceConfig
from kit.ingest.normalize import sql_literal

REGISTRY = "registry.parquet"
CACHE_VERSION = 1  # bump when sources.py or lines.py change what a file loads as
METADATA_KEY = "kit_ingest_cache"
RACY_NS = 2_000_000_000  # a file modified this close to its hashing is hashed again next time
REGISTRY_TYPES = {
    "source": "str", "path": "str", "fingerprint": "str", "size": "int64", "mtime_ns": "int64",
    "ctime_ns": "int64", "hashed_ns": "int64", "rows": "int64", "cached": "bool",
    "first_seen": "str", "last_used": "str",
}


@dataclass(frozen=True)
class Stored:
    """What a cache entry says about its file besides the rows: how it was read."""

    encoding: str | None
    malformed: list[tuple[int, int, str]]  # record, line, reason


@dataclass
class Entry:
    """One raw file read by this run: its cache entry and its row of the registry."""

    file: Path  # the cache entry (may not exist yet)
    row: dict


def options_digest(source: SourceConfig) -> str:
    """16 hex digits over everything that changes the table a file of ``source`` loads as."""
    options = {
        "cache_version": CACHE_VERSION, "duckdb": duckdb.__version__, "pandas": pd.__version__,
        "format": source.format, "encoding": source.encoding, "on_bad_encoding": source.on_bad_encoding,
        "columns": sorted(source.columns.items()),
    }
    return hashlib.sha256(json.dumps(options, sort_keys=True).encode("utf-8")).hexdigest()[:16]


def file_fingerprint(path: Path) -> str:
    """SHA-256 of the file's bytes, read in chunks (``hashlib.file_digest``)."""
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


class ParseCache:
    """The parse cache and raw-file registry of one ingest run (module docstring).

    ``register`` each file, then ``read`` its entry or ``write`` the parsed table;
    ``finish`` writes the registry and deletes the entries the run did not use.
    """

    def __init__(self, folder: Path, month: str) -> None:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.folder, self.month = folder, month
        self.known = _read_registry(folder / REGISTRY)
        self.entries: list[Entry] = []

    def register(self, name: str, source: SourceConfig, path: Path, label: str) -> Entry:
        """Fingerprint ``path`` (file ``label`` of source ``name``) and return its entry."""
        stat = path.stat()
        earlier = self.known.get((name, label))
        fresh = earlier is None or not _unchanged(earlier, stat)
        fingerprint = file_fingerprint(path) if fresh else earlier["fingerprint"]
        same = earlier is not None and earlier["fingerprint"] == fingerprint
        row = {
            "source": name, "path": label, "fingerprint": fingerprint, "size": stat.st_size,
            "mtime_ns": stat.st_mtime_ns, "ctime_ns": stat.st_ctime_ns,
            "hashed_ns": time.time_ns() if fresh else earlier["hashed_ns"], "rows": 0, "cached": False,
            "first_seen": earlier["first_seen"] if same else self.month, "last_used": self.month,
        }
        entry = Entry(self.folder / name / f"{fingerprint}-{options_digest(source)}.parquet", row)
        self.entries.append(entry)
        return entry

    def read(self, con: duckdb.DuckDBPyConnection, entry: Entry, table: str) -> Stored | None:
        """Create ``table`` from the entry and say how the file was read; None when there is
        no usable entry (a damaged one is deleted: the caller parses the file again)."""
        if not entry.file.is_file():
            return None
        path = sql_literal(str(entry.file))
        try:
            found = con.execute(
                f"SELECT value FROM parquet_kv_metadata({path}) WHERE key = {sql_literal(METADATA_KEY)}"
            ).fetchall()
            meta = json.loads(found[0][0])
            con.execute(f"CREATE OR REPLACE TABLE {table} AS SELECT * FROM read_parquet({path})")
            intact = con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0] == meta["rows"]
        except (duckdb.Error, IndexError, KeyError, TypeError, ValueError):
            intact = False
        if not intact:
            entry.file.unlink(missing_ok=True)
            con.execute(f"DROP TABLE IF EXISTS {table}")
            return None
        entry.row.update(rows=meta["rows"], cached=True)
        return Stored(meta["encoding"], [(int(r), int(n), str(why)) for r, n, why in meta["malformed"]])

    def write(self, con: duckdb.DuckDBPyConnection, entry: Entry, select: str, stored: Stored) -> None:
        """Write the entry: the rows of ``select`` and, as metadata, ``stored`` and the row
        count (the caller has put it in ``entry.row["rows"]``).

        An entry that would read back with other column types than ``select`` has (a JSON
        lines source's nested or unusual types) is deleted again: that file is parsed every
        run. An entry that cannot be written is left out the same way (the registry says so).
        """
        meta = json.dumps({"encoding": stored.encoding, "malformed": stored.malformed, "rows": entry.row["rows"]})
        try:
            with atomic_path(entry.file) as tmp:
                con.execute(
                    f"COPY ({select}) TO {sql_literal(str(tmp))} (FORMAT parquet, COMPRESSION zstd, "
                    f"KV_METADATA {{{METADATA_KEY}: {sql_literal(meta)}}})"
                )
            written = f"SELECT * FROM read_parquet({sql_literal(str(entry.file))})"
            cached = _types(con, written) == _types(con, select)
        except (WriteError, duckdb.Error):  # a full disk, or a concurrent ingest pruned the file
            cached = False
        if not cached:
            entry.file.unlink(missing_ok=True)
        entry.row["cached"] = cached

    def finish(self) -> None:
        """Write this run's registry, delete every entry (and temp file left by a killed run)
        it did not use and the source folders left empty. Deleting tolerates a concurrent
        ingest deleting the same files."""
        frame = pd.DataFrame([e.row for e in self.entries], columns=list(REGISTRY_TYPES))
        with atomic_path(self.folder / REGISTRY) as tmp:
            frame.astype(REGISTRY_TYPES).to_parquet(tmp, index=False)
        used = {e.file for e in self.entries}
        for file in self.folder.glob("*/*"):
            if file not in used:
                file.unlink(missing_ok=True)
        for folder in (f for f in self.folder.iterdir() if f.is_dir()):
            with contextlib.suppress(OSError):  # a folder still (or again) holding entries stays
                folder.rmdir()


def _unchanged(earlier: dict, stat) -> bool:
    """Whether a file's ``stat`` shows it unchanged since ``earlier`` hashed it (module docstring)."""
    same = (earlier["size"], earlier["mtime_ns"], earlier["ctime_ns"]) == (stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)
    return same and stat.st_mtime_ns < earlier["hashed_ns"] - RACY_NS


def _types(con: duckdb.DuckDBPyConnection, select: str) -> list[tuple[str, str]]:
    """(column, type) of a query's result, in order."""
    return [(row[0], row[1]) for row in con.execute(f"DESCRIBE {select}").fetchall()]


def _read_registry(path: Path) -> dict[tuple[str, str], dict]:
    """The last run's registry by (source, path); empty when there is none or it is unreadable
    (every file is then hashed again: the registry only saves hashing)."""
    try:
        frame = pd.read_parquet(path)
    except (OSError, ValueError):
        return {}
    if set(frame.columns) != set(REGISTRY_TYPES):
        return {}
    return {(row["source"], row["path"]): row for row in frame.to_dict(orient="records")}
