"""Reading declared raw sources into DuckDB, losslessly and with clear errors.

Every source in ``config.sources`` becomes one DuckDB view ``raw_<name>`` holding the
file's columns renamed to the kit's canonical names (``columns:`` mapping; unmapped
headers keep their text), plus ``_file`` (path relative to the project root), ``_row``
(1-based record number within that file; the header is not counted), ``_line`` (the text
line the record starts on; NULL for formats without lines) and ``_pos`` (file number and
record in one sortable integer, the key the cleaning step joins on). Malformed CSV
records go to the table ``bad_<name>`` (same keys, ``_reason``) instead.

- CSV: the physical records are counted and checked first, independently of DuckDB
  (``lines.py``: quoting respected, one malformed record rejected as that one record).
  A file where every record is one well-formed line is read by DuckDB ``read_csv`` in
  place (strict mode) and DuckDB must find the same number of rows; otherwise the
  well-formed records are first written to a UTF-8 copy that keeps each record's number
  and line. Every column is read as text: nothing is coerced or lost at read time;
  parsing happens later in SQL with explicit rules.
- Encoding ``auto`` accepts UTF-8 (with or without BOM) and falls back to GB18030.
  DuckDB reads UTF-8 only and its ``encodings`` extension cannot be installed offline,
  so a GB18030 file is transcoded to a temporary UTF-8 copy in 4 MB streaming chunks
  (the codec runs in C: 3 s per 100 MB measured on the shared 2-core machine, the
  1,000,000-customer CRM export is about 40 MB). A file that decodes in neither fails
  naming the file and the line (not the byte) where the encoding that reads furthest
  stops, unless the source says ``on_bad_encoding: quarantine``: then the lines holding
  undecodable bytes are quarantined (with their line numbers) and the others load.
- Errors name the file, the line and the column, never the content of a row: a parser
  message that quotes the data is replaced, not chained.
- Excel through pandas/openpyxl (text cells), Parquet and JSON lines through DuckDB,
  and ``ibis`` sources through ``ibis.connect(url).table(table)``.
- A file parsed before (same bytes, same load options) is read from ingest's parse cache
  instead (``cache.py``): the same table, record numbers, lines and malformed records.
"""

from __future__ import annotations

import codecs
import csv
import glob
import io
import re
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

from kit.core.config import KitConfig, SourceConfig
from kit.ingest import lines
from kit.ingest.cache import ParseCache, Stored
from kit.ingest.normalize import quote_ident, sql_literal

CHUNK = 4 * 1024 * 1024
# how a file was read: parsed from the raw file, taken from the parse cache (``cache.py``),
# or read in place (Parquet files and ibis tables, which need no parsing and are not cached)
READS = ("parsed", "reused", "in_place")
COPY_NUMBERS = tuple(quote_ident(c) for c in lines.COPY_COLUMNS)  # SQL of a copy's record number and line


class IngestError(ValueError):
    """A source cannot be ingested: the message names source, file, the problem and the fix."""


@dataclass(frozen=True)
class RawSource:
    """A source loaded into DuckDB: its table name, files, encodings and column types.

    ``records`` counts the physical records of its files (``lines.py`` for CSV); ``rows``
    the well-formed ones in ``table``; the others (``records - rows``) are in ``bad_<name>``.
    """

    name: str
    table: str
    files: list[str]
    encodings: dict[str, str]
    columns: dict[str, str]  # canonical (or raw) column name -> DuckDB type
    rows: int
    records: int
    file_reads: dict[str, int]  # files parsed, reused from the parse cache, read in place (``READS``)


@dataclass(frozen=True)
class _Part:
    """How one loaded file gives its record number and line (SQL over its part table)."""

    encoding: str | None
    malformed: list[tuple[int, int, str]]  # record, line, reason
    row: str
    line: str
    hidden: tuple[str, ...] = ()

    @property
    def exclude(self) -> str:
        """`` EXCLUDE (...)`` of the helper columns a ``SELECT *`` of the part must leave out, or ""."""
        return f" EXCLUDE ({', '.join(self.hidden)})" if self.hidden else ""


def source_files(config: KitConfig, name: str, source: SourceConfig) -> list[Path]:
    """The files of a path-based source (a path or glob relative to the project root)."""
    if not source.path:
        raise IngestError(
            f"source {name!r}: no path given. Set sources.{name}.path in {config.source_file} "
            "to a file or glob relative to the project root."
        )
    pattern = config.resolve(source.path)
    files = sorted(Path(p) for p in glob.glob(str(pattern))) if glob.has_magic(str(pattern)) else [pattern]
    files = [f for f in files if f.is_file()]
    if not files:
        raise IngestError(
            f"source {name!r}: no file matches {source.path!r} (looked for {pattern}). "
            f"Put the export there or fix sources.{name}.path in {config.source_file}."
        )
    return files


def utf8_file(path: Path, declared: str, scratch: Path, quarantine: bool = False) -> tuple[Path, str, bool]:
    """A readable version of ``path``, the encoding it was written in, and whether it is lossy.

    UTF-8 (with or without BOM) is used in place. Otherwise the file is transcoded into
    ``scratch`` from GB18030 (``auto``) or from the declared encoding, in one streaming
    pass that also checks every byte. When nothing decodes every byte: with
    ``quarantine`` the original file is returned with the encoding that decodes furthest
    and ``lossy`` True (``lines.py`` then quarantines the lines with undecodable bytes);
    else IngestError names the file and the line (and byte) where each encoding fails.
    """
    declared = declared.lower()
    failures: dict[str, int] = {}
    errors = []
    if declared in ("auto", "utf-8", "utf8", "utf-8-sig"):
        offset = _first_bad_byte(path, "utf-8")
        if offset is None:
            with path.open("rb") as handle:
                return path, "utf-8-sig" if handle.read(3) == codecs.BOM_UTF8 else "utf-8", False
        failures["utf-8"] = offset
    fallback = "gb18030" if declared == "auto" else declared
    if fallback not in ("utf-8", "utf8", "utf-8-sig"):
        try:
            return transcode_to_utf8(path, fallback, scratch), fallback, False
        except UnicodeDecodeError:
            failures[fallback] = _first_bad_byte(path, fallback) or 0
        except LookupError:
            errors.append(f"{fallback!r} is not an encoding Python knows")
    best = max(failures, key=failures.get) if failures else None
    if quarantine and best:
        return path, best, True
    if best:
        # the encoding that reads furthest is the file's; the line where it stops is the bad one
        earlier = [f"{e.upper()} fails from line {_line_of(path, failures[e])}" for e in failures if e != best]
        errors.insert(0, f"line {_line_of(path, failures[best])} is not valid {best.upper()}"
                      + (f", the encoding that reads furthest; {', '.join(earlier)}" if earlier else ""))
    raise IngestError(
        f"file {path}: cannot decode the text ({'; '.join(errors)}). Fix or remove that line, save the file as "
        "UTF-8 or GB18030, set the source's encoding: in the config to the file's real encoding, or set "
        "on_bad_encoding: quarantine to quarantine the lines that do not decode and load the others."
    )


def _first_bad_byte(path: Path, encoding: str) -> int | None:
    """Byte offset of the first byte ``encoding`` cannot decode, or None if all decode."""
    decoder = codecs.getincrementaldecoder(encoding)()
    offset = 0
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                return offset + exc.start
            offset += len(chunk)
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return offset
    return None


def _line_of(path: Path, offset: int) -> int:
    """The 1-based text line holding byte ``offset`` of ``path``."""
    newlines = 0
    with path.open("rb") as handle:
        while offset > 0 and (chunk := handle.read(min(CHUNK, offset))):
            newlines += chunk.count(b"\n")
            offset -= len(chunk)
    return newlines + 1


def transcode_to_utf8(path: Path, encoding: str, folder: Path) -> Path:
    """A UTF-8 copy of ``path`` in ``folder``, written in streaming chunks."""
    target = folder / (path.stem + ".utf8.csv")
    decoder = codecs.getincrementaldecoder(encoding)()
    with path.open("rb") as src, target.open("w", encoding="utf-8", newline="") as dst:
        while chunk := src.read(CHUNK):
            dst.write(decoder.decode(chunk))
        dst.write(decoder.decode(b"", final=True))
    return target


def load_source(
    con: duckdb.DuckDBPyConnection,
    config: KitConfig,
    name: str,
    source: SourceConfig,
    scratch: Path,
    cache: ParseCache | None = None,
) -> RawSource:
    """Read source ``name`` into the view ``raw_<name>`` and ``bad_<name>`` (module docstring).

    Each file becomes one part: a table for text formats (CSV, Excel, ibis), so that the
    table's ``rowid`` is the data row, or a view for Parquet (``file_row_number``), so
    that large event files are scanned, never copied into memory. With ``cache`` a file
    whose content was parsed before under the same options is read from its cache entry
    instead (``cache.py``); without, every file is parsed.
    """
    encodings: dict[str, str] = {}
    parts, files, bad = [], [], []
    reads = dict.fromkeys(READS, 0)
    if source.format == "ibis":
        reads["in_place"] += 1
        files.append(_load_ibis(con, name, source, f"raw_{name}_0"))
        parts.append(
            f"SELECT *, {sql_literal(files[0])} AS _file, rowid + 1 AS _row, NULL::BIGINT AS _line, "
            f"rowid + 1 AS _pos FROM raw_{name}_0"
        )
    else:
        for index, path in enumerate(source_files(config, name, source)):
            label = _label(config, path)
            if path.stat().st_size == 0:
                raise IngestError(
                    f"source {name!r}: file {label} is empty (0 bytes). Re-export it, or remove it "
                    f"from sources.{name}.path if it should not be ingested."
                )
            table = f"raw_{name}_{index}"
            part, how = _load_part(con, name, source, path, label, scratch, table, cache)
            reads[how] += 1
            if part.encoding:
                encodings[label] = part.encoding
            position = f"({index}::BIGINT << 40) + {part.row}"  # file, then record (BIGINT: INTEGER overflows)
            parts.append(
                f"SELECT *{part.exclude}, {sql_literal(label)} AS _file, {part.row} AS _row, "
                f"{part.line} AS _line, {position} AS _pos FROM {table}"
            )
            bad += [(label, record, line, (index << 40) + record, reason) for record, line, reason in part.malformed]
            files.append(label)
    table = f"raw_{name}"
    try:
        con.execute(f"CREATE OR REPLACE VIEW {table} AS " + " UNION ALL BY NAME ".join(parts))
    except duckdb.Error:
        raise IngestError(
            f"source {name!r}: the files {', '.join(files)} do not share the same columns. Compare "
            "their header lines and export them with the same columns."
        ) from None
    frame = pd.DataFrame(bad, columns=["_file", "_row", "_line", "_pos", "_reason"])
    con.register(f"bad_{name}_frame", frame.astype({"_file": "str", "_reason": "str", "_row": "int64", "_line": "int64", "_pos": "int64"}))
    con.execute(f"CREATE OR REPLACE TABLE bad_{name} AS SELECT * FROM bad_{name}_frame")
    con.unregister(f"bad_{name}_frame")
    columns = dict(con.execute(f"SELECT column_name, column_type FROM (DESCRIBE {table})").fetchall())
    rows = con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]
    if rows + len(bad) == 0:
        raise IngestError(
            f"source {name!r}: {', '.join(files)} has a header but no data rows. Re-export the "
            f"file with its rows, or set sources.{name}.required: false and remove the file."
        )
    return RawSource(name, table, files, encodings, columns, rows, rows + len(bad), reads)


def _label(config: KitConfig, path: Path) -> str:
    try:
        return str(path.resolve().relative_to(config.root))
    except ValueError:
        return str(path)


def _load_part(
    con: duckdb.DuckDBPyConnection,
    name: str,
    source: SourceConfig,
    path: Path,
    label: str,
    scratch: Path,
    part: str,
    cache: ParseCache | None,
) -> tuple[_Part, str]:
    """Load one file as ``part``: from its parse cache entry when there is one, else parsed
    (and then cached); returns how its rows are numbered and how it was read (``READS``).

    A part read from the cache, like a checked copy, numbers its rows by ``lines.COPY_COLUMNS``.
    """
    entry = cache.register(name, source, path, label) if cache else None
    if entry and source.format != "parquet" and (stored := cache.read(con, entry, part)) is not None:
        return _Part(stored.encoding, stored.malformed, *COPY_NUMBERS, lines.COPY_COLUMNS), "reused"
    info = _load_file(con, name, source, path, label, scratch, part)
    how = "in_place" if source.format == "parquet" else "parsed"
    if entry is None:
        return info, how
    entry.row["rows"] = con.execute(f"SELECT count(*) FROM {part}").fetchall()[0][0]
    if how == "parsed":
        record, line = COPY_NUMBERS
        cache.write(con, entry, f"SELECT *{info.exclude}, {info.row} AS {record}, {info.line} AS {line} FROM {part}",
                    Stored(info.encoding, info.malformed))
    return info, how


def _load_file(
    con: duckdb.DuckDBPyConnection, name: str, source: SourceConfig, path: Path, label: str, scratch: Path, part: str
) -> _Part:
    """Load one file as table or view ``part`` (columns renamed); say how its rows are numbered."""
    if source.format == "csv":
        return _load_csv(con, name, source, path, label, scratch, part)
    if source.format == "parquet":
        relation = f"read_parquet({sql_literal(str(path))}, file_row_number = true)"
        info = _Part(None, [], "file_row_number + 1", "NULL::BIGINT", ("file_row_number",))
    elif source.format == "jsonl":
        relation = f"read_json({sql_literal(str(path))}, format = 'newline_delimited')"
        info = _Part(None, [], "rowid + 1", "NULL::BIGINT")
    elif source.format == "excel":
        try:
            frame = pd.read_excel(path, dtype=str)
        except Exception:  # any reader error; its text may quote cells
            raise _read_error(name, label, "excel", "") from None
        con.register(f"{part}_frame", frame)
        relation = f"{part}_frame"
        info = _Part(None, [], "rowid + 1", "rowid + 2")  # the sheet row (row 1 is the header)
    else:
        raise IngestError(
            f"source {name!r}: unknown format {source.format!r}. Use csv, excel, parquet, jsonl or ibis."
        )
    _create_part(con, name, source, label, relation, part, "VIEW" if source.format == "parquet" else "TABLE")
    return info


def _load_csv(
    con: duckdb.DuckDBPyConnection, name: str, source: SourceConfig, path: Path, label: str, scratch: Path, part: str
) -> _Part:
    """Count and check the CSV's physical records, then load the well-formed ones as ``part``.

    The file is read in place when every record is one well-formed line and DuckDB finds
    exactly that many rows; otherwise from a copy holding the well-formed records with
    their record number and line (``lines.write_good_records``).
    """
    try:
        readable, encoding, lossy = utf8_file(path, source.encoding, scratch, source.on_bad_encoding == "quarantine")
    except IngestError as exc:
        raise IngestError(f"source {name!r}: {exc}") from None
    text_encoding = "utf-8-sig" if not lossy or encoding == "utf-8" else encoding
    delimiter, header = _csv_dialect(readable, text_encoding, lossy)
    found = lines.scan(readable, text_encoding, delimiter, lossy)
    if found.parser_safe and not lossy:
        try:
            _create_part(con, name, source, label, _csv_relation(readable, delimiter, header), part, "TABLE")
            if con.execute(f"SELECT count(*) FROM {part}").fetchall()[0][0] == found.records:
                return _Part(encoding, [], "rowid + 1", "rowid + 2")
        except IngestError:
            pass  # DuckDB disagrees with the line count: read the checked copy instead
    copy = scratch / f"{part}.records.csv"
    lines.write_good_records(readable, text_encoding, delimiter, lossy, copy)
    try:
        _create_part(con, name, source, label, _csv_relation(copy, delimiter, [*header, *lines.COPY_COLUMNS]), part, "TABLE")
    except IngestError:  # a line number in the copy would point to the wrong line of the file
        raise IngestError(
            f"source {name!r}: file {label}: DuckDB cannot read the records that passed the line check. "
            "This is a bug in kit.ingest; please report it with the file's header line (not its rows)."
        ) from None
    return _Part(encoding, found.malformed, *COPY_NUMBERS, lines.COPY_COLUMNS)


def _create_part(
    con: duckdb.DuckDBPyConnection, name: str, source: SourceConfig, label: str, relation: str, part: str, kind: str
) -> None:
    """``CREATE {kind} part`` from ``relation`` with the file's columns renamed to canonical names."""
    header: list[str] = []
    try:
        header = [row[0] for row in con.execute(f"SELECT column_name FROM (DESCRIBE SELECT * FROM {relation})").fetchall()]
        select = ", ".join(
            f"{quote_ident(col)} AS {quote_ident(source.columns.get(col.strip(), col.strip()))}"
            if col not in lines.COPY_COLUMNS else quote_ident(col)
            for col in header
        )
        con.execute(f"CREATE OR REPLACE {kind} {part} AS SELECT {select} FROM {relation}")
    except duckdb.Error as exc:
        raise _read_error(name, label, source.format, str(exc), header) from None


def _read_error(name: str, label: str, fmt: str, message: str, header: list[str] | None = None) -> IngestError:
    """An IngestError for a file the reader rejects: file, line and column, never row content.

    The reader's own message is not kept (nor chained): it often quotes whole lines, with
    the phone numbers and names in them. Only the line number it names is kept, and the
    column when it is one of the file's header names.
    """
    line = re.search(r"\bline:?\s*(\d+)", message, re.IGNORECASE)
    column = re.search(r"\bcolumn(?: name)?:?\s*\"?([^\s\"]+)\"?", message, re.IGNORECASE)
    named = column.group(1) if column and column.group(1) in (header or []) else None
    where = ", ".join(part for part in (f"line {line.group(1)}" if line else "", f"column {named}" if named else "") if part)
    return IngestError(
        f"source {name!r}: file {label} cannot be read as {fmt}"
        + (f" (the reader stopped at {where})" if where else "")
        + ". The reader's message is not shown because it quotes the file's rows (personal data). "
        f"Open the file{' at that line' if line else ''}, fix or remove the broken record, or re-export the file, "
        "then run again."
    )


def _csv_dialect(path: Path, encoding: str, lossy: bool) -> tuple[str, list[str]]:
    """The delimiter and header of a CSV file, read with Python's csv module from the first 64 KB.

    This spares DuckDB's sniffer two passes over the file (measured: 5 s of 12 s on
    650,000 shop orders on the shared 2-core machine).
    """
    with lines.open_text(path, encoding, lossy) as handle:
        sample = handle.read(65536)
    try:
        dialect = csv.Sniffer().sniff(sample.split("\n", 1)[0], delimiters=",;\t|")
        delimiter = dialect.delimiter
    except csv.Error:
        delimiter = ","
    return delimiter, next(csv.reader(io.StringIO(sample), delimiter=delimiter), [])


def _csv_relation(path: Path, delimiter: str, header: list[str]) -> str:
    """``read_csv`` of a UTF-8 file, dialect and header given, every column text, strict.

    The record number and line columns of a checked copy (``lines.COPY_COLUMNS``) are BIGINT.
    """
    types = {h: "'BIGINT'" if h in lines.COPY_COLUMNS else "'VARCHAR'" for h in header}
    columns = "{" + ", ".join(f"{sql_literal(h)}: {t}" for h, t in types.items()) + "}"
    return (
        f"read_csv({sql_literal(str(path))}, header = true, auto_detect = false, columns = {columns}, "
        f"delim = {sql_literal(delimiter)}, quote = '\"', escape = '\"', strict_mode = true)"
    )


def _load_ibis(con: duckdb.DuckDBPyConnection, name: str, source: SourceConfig, table: str) -> str:
    """Read an ``ibis`` source (connection URL + table) into ``table``; returns its label.

    The label names the table only: a URL may carry a password and must not be written out.
    """
    import ibis

    if not source.url or not source.table:
        raise IngestError(
            f"source {name!r}: format ibis needs url: (e.g. duckdb:///path.db or postgres://...) "
            "and table: in the config."
        )
    try:
        arrow = ibis.connect(source.url).table(source.table).to_pyarrow()
    except Exception as exc:  # any backend error; its text may quote rows, the URL a password
        raise IngestError(
            f"source {name!r}: cannot read table {source.table!r} ({type(exc).__name__}; the backend's "
            f"message is not shown as it may quote rows). Check sources.{name}.url and .table and that "
            "the database answers."
        ) from None
    renamed = arrow.rename_columns([source.columns.get(c.strip(), c.strip()) for c in arrow.column_names])
    con.register(f"{table}_arrow", renamed)
    con.execute(f"CREATE OR REPLACE TABLE {table} AS SELECT * FROM {table}_arrow")
    con.unregister(f"{table}_arrow")
    return f"ibis:{source.table}"
