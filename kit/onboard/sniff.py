"""What a raw file is: format, encoding, delimiter, header row and what its columns hold.

``sniff_file(path, scratch)`` reads a file the way ingest will (``kit.ingest.sources``
decides the encoding: UTF-8, UTF-8 with BOM or GB18030, which also reads GBK) and looks
at a sample of its rows (the first ``SAMPLE_ROWS``): for each column, how many values
are filled, which strptime formats parse its values (``timestamp_formats``, tried on the
same DuckDB ``try_strptime`` ingest uses), whether the times are dates only, and the
share of values that read as numbers, phones or e-mails with ingest's own rules
(``kit.ingest.normalize``). Nothing is written next to the raw file.
"""

from __future__ import annotations

import csv
import functools
import itertools
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow.parquet as pq

from kit.ingest import lines
from kit.ingest.normalize import apply_sql, email_sql, number_sql, phone_sql
from kit.ingest.sources import IngestError, utf8_file

SAMPLE_ROWS = 20_000  # rows of each file looked at (the head of the file)
DISTINCT_VALUES = 5_000  # distinct values of a column tried against the date formats
HEAD_LINES = 30  # lines looked at to find title lines above the header
DELIMITERS = (",", ";", "\t", "|")
FORMATS = {  # file suffix -> the config's source format
    ".csv": "csv", ".tsv": "csv", ".txt": "csv", ".xlsx": "excel", ".xls": "excel", ".xlsm": "excel",
    ".parquet": "parquet", ".pq": "parquet", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl",
}
# strptime formats tried, in the order a source lists them. Day-first and month-first forms
# differ only by %d/%m: at most one of a pair is chosen for a source (``SWAPPED``).
TIMESTAMP_FORMATS: tuple[str, ...] = (
    "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%S.%f",
    "%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M", "%Y-%m-%d",
    "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M", "%Y/%m/%d",
    "%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M", "%d/%m/%Y", "%d.%m.%Y %H:%M:%S", "%d.%m.%Y %H:%M", "%d.%m.%Y",
    "%d-%m-%Y %H:%M:%S", "%d-%m-%Y %H:%M", "%d-%m-%Y",
    "%m/%d/%Y %H:%M:%S", "%m/%d/%Y %H:%M", "%m/%d/%Y %I:%M:%S %p", "%m/%d/%Y %I:%M %p", "%m/%d/%Y",
    "%m-%d-%Y %H:%M:%S", "%m-%d-%Y %H:%M", "%m-%d-%Y",
    "%Y年%m月%d日 %H:%M:%S", "%Y年%m月%d日 %H:%M", "%Y年%m月%d日",
    "%Y%m%d %H:%M:%S", "%Y%m%d%H%M%S", "%Y%m%d",
)
UNDECODED = re.compile("[\udc80-\udcff]")  # bytes kept by the surrogateescape handler of a lossy read
MARKED_NUMBER = re.compile(r"^\s*([^\d\s.,+\-]*)\s*[+\-]?[\d.,]+\s*([^\d\s.,]*)\s*$")  # "$ 1,299.00", "12元"
MIN_FORMAT_SHARE = 0.01  # a further format is kept when it parses at least this share of the values


@dataclass(frozen=True)
class ColumnSniff:
    """What one column of a file holds (over the sampled rows)."""

    header: str
    filled: int  # non-blank values in the sample
    dtype: str = "text"  # "text", or the type a typed format (Parquet, JSON) stores
    formats: tuple[str, ...] = ()  # strptime formats that together parse the values
    parsed: float = 0.0  # share of filled values the formats parse (1.0 for typed timestamps)
    date_only: bool = False  # the values carry no time of day
    ambiguous: bool = False  # day-first and month-first both parse every value
    numbers: float = 0.0  # shares of filled values that read as a number, a phone, an e-mail
    phones: float = 0.0
    emails: float = 0.0
    top: tuple[str, ...] = ()  # the most frequent values (for short texts such as event types)
    last: str = ""  # the latest date-time the column holds (ISO), for timestamps
    marks: tuple[str, ...] = ()  # text before or after the digits of most values ("$", "¥", "元")

    @property
    def is_timestamp(self) -> bool:
        """Whether the column holds dates or times (typed, or most values parse)."""
        return self.dtype.startswith(("TIMESTAMP", "DATE", "timestamp", "date")) or self.parsed >= 0.5


@dataclass(frozen=True)
class FileSniff:
    """One raw file: how it is stored and what its columns hold."""

    path: Path
    format: str
    columns: tuple[ColumnSniff, ...]
    rows: int  # data rows (counted, or estimated from the lines of a large text file)
    sampled: int
    encoding: str | None = None  # utf-8, utf-8-sig, gb18030 (text formats only)
    delimiter: str | None = None
    title_lines: int = 0  # lines above the header (ingest reads the first line as the header)
    undecodable: str = ""  # the decoding problem, when some lines do not decode
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def headers(self) -> list[str]:
        """The file's headers in order."""
        return [c.header for c in self.columns]

    def column(self, header: str) -> ColumnSniff:
        """The sniff of the column called ``header``."""
        return next(c for c in self.columns if c.header == header)


def file_format(path: Path) -> str | None:
    """The config format of a file by its suffix, or None when the kit cannot read it."""
    return FORMATS.get(path.suffix.lower())


def sniff_file(path: Path, scratch: Path, prefer_month_first: bool = False) -> FileSniff:
    """Sniff one raw file (module docstring); ``scratch`` holds transcoded copies.

    ``prefer_month_first``: when both day-first and month-first formats parse every value
    (no day above 12 in the sample), choose month-first (a US export) instead of day-first.
    """
    fmt = file_format(path)
    if fmt == "csv":
        return _sniff_csv(path, scratch, prefer_month_first)
    if fmt == "excel":
        rows, widths = _excel_rows(path, SAMPLE_ROWS + HEAD_LINES)
        title = _title_lines(widths[:HEAD_LINES])
        header, data = rows[title], rows[title + 1:]
        notes = ("only the first sheet is read",)
        rows = len(data) if len(data) < SAMPLE_ROWS else _sheet_rows(path) - title - 1
        return _from_rows(path, "excel", header, data, rows, prefer_month_first, title_lines=title, notes=notes)
    if fmt == "parquet":
        parquet = pq.ParquetFile(path)
        batch = next(parquet.iter_batches(batch_size=SAMPLE_ROWS), None)
        frame = batch.to_pandas() if batch is not None else parquet.schema_arrow.empty_table().to_pandas()
        types = {f.name: str(f.type) for f in parquet.schema_arrow}
        return _from_frame(path, "parquet", frame, types, parquet.metadata.num_rows, prefer_month_first)
    if fmt == "jsonl":
        con = duckdb.connect()
        relation = f"read_json('{str(path).replace(chr(39), chr(39) * 2)}', format = 'newline_delimited')"
        frame = con.execute(f"SELECT * FROM {relation} LIMIT {SAMPLE_ROWS}").df()
        types = dict(con.execute(f"SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM {relation})").fetchall())
        rows = con.execute(f"SELECT count(*) FROM {relation}").fetchone()[0]
        con.close()
        return _from_frame(path, "jsonl", frame, types, rows, prefer_month_first)
    raise ValueError(f"{path}: not a format the kit reads (csv, tsv, txt, xlsx, parquet, jsonl)")


def _sniff_csv(path: Path, scratch: Path, prefer_month_first: bool) -> FileSniff:
    """A delimited text file: encoding as ingest decides it, title lines, delimiter, a sample."""
    readable, encoding, text_encoding, lossy, undecodable = _decoded(path, scratch)
    with lines.open_text(readable, text_encoding, lossy) as handle:
        delimiter, title = _head(handle)
        for _ in range(title):
            handle.readline()
        reader = csv.reader(handle, delimiter=delimiter, quotechar='"', doublequote=True)
        header = next(reader, [])
        # a record holding undecodable bytes is quarantined by ingest: it is not sampled either
        data = [row for row in itertools.islice(reader, SAMPLE_ROWS)
                if any(v.strip() for v in row) and not any(UNDECODED.search(v) for v in row)]
        more = handle.read(1) != ""
    rows = len(data) if not more else _estimate_rows(path, len(data), title)
    return _from_rows(path, "csv", header, data, rows, prefer_month_first, encoding=encoding,
                      delimiter=delimiter, title_lines=title, undecodable=undecodable)


def _decoded(path: Path, scratch: Path) -> tuple[Path, str, str, bool, str]:
    """(readable file, encoding, encoding to open it with, lossy, the decoding problem) as ingest
    decides them (``encoding: auto``); a file with undecodable lines is read lossy."""
    undecodable = ""
    try:
        readable, encoding, lossy = utf8_file(path, "auto", scratch)
    except IngestError as exc:
        undecodable = str(exc)
        readable, encoding, lossy = utf8_file(path, "auto", scratch, quarantine=True)
    return readable, encoding, "utf-8-sig" if not lossy or encoding == "utf-8" else encoding, lossy, undecodable


def _head(handle) -> tuple[str, int]:
    """The delimiter and the number of title lines of an open text file (rewound afterwards)."""
    head = list(itertools.islice(handle, HEAD_LINES))
    delimiter = _delimiter(head)
    widths = [len(next(csv.reader([line], delimiter=delimiter), [])) if line.strip() else 0 for line in head]
    handle.seek(0)
    return delimiter, _title_lines(widths)


def title_lines(path: Path, scratch: Path) -> int:
    """Lines above the header of a CSV or Excel file (0 for other formats)."""
    if file_format(path) == "csv":
        readable, _, text_encoding, lossy, _ = _decoded(path, scratch)
        with lines.open_text(readable, text_encoding, lossy) as handle:
            return _head(handle)[1]
    if file_format(path) == "excel":
        return _title_lines(_excel_rows(path, HEAD_LINES)[1])
    return 0


def _sheet_rows(path: Path) -> int:
    """Rows of the first sheet of a workbook, from its dimensions (nothing else is read)."""
    import openpyxl

    book = openpyxl.load_workbook(path, read_only=True)
    try:
        return book.worksheets[0].max_row or 0
    finally:
        book.close()


def _excel_rows(path: Path, count: int) -> tuple[list[list[str]], list[int]]:
    """The first ``count`` rows of the first sheet as text, and the filled cells of each."""
    frame = pd.read_excel(path, dtype=str, header=None, nrows=count)
    rows = [[("" if pd.isna(v) else str(v)) for v in row] for row in frame.itertuples(index=False)]
    return rows, [sum(1 for v in row if v.strip()) for row in rows]


def _delimiter(head: list[str]) -> str:
    """The delimiter splitting the head lines into the most consistent number of fields (> 1)."""
    best, best_score = ",", (0, 0)
    for delimiter in DELIMITERS:
        widths = [len(next(csv.reader([line], delimiter=delimiter), [])) for line in head if line.strip()]
        common = Counter(w for w in widths if w > 1).most_common(1)
        score = (common[0][1], common[0][0]) if common else (0, 0)
        if score > best_score:
            best, best_score = delimiter, score
    return best


def _title_lines(widths: list[int]) -> int:
    """How many lines stand above the header: the header is the first line as wide as most lines."""
    common = Counter(w for w in widths if w > 1).most_common(1)
    if not common:
        return 0
    return next(i for i, w in enumerate(widths) if w == common[0][0])


def _estimate_rows(path: Path, sampled: int, title: int) -> int:
    """Data rows of a large text file: its line breaks (a quoted field spanning lines is rare)."""
    count = 0
    with path.open("rb") as handle:
        while chunk := handle.read(4 * 1024 * 1024):
            count += chunk.count(b"\n")
    return max(count - title - 1, sampled)


def _from_rows(path: Path, fmt: str, header: list[str], data: list[list[str]], rows: int,
               prefer_month_first: bool, **details) -> FileSniff:
    """A FileSniff from text rows (CSV, Excel): every column is text."""
    names = [h.strip() for h in header]
    columns = []
    for i, name in enumerate(names):
        values = [row[i].strip() if i < len(row) else "" for row in data]
        columns.append(sniff_values(name, [v for v in values if v], prefer_month_first))
    return FileSniff(path, fmt, tuple(columns), rows, len(data), **details)


def _from_frame(path: Path, fmt: str, frame: pd.DataFrame, types: dict[str, str], rows: int,
                prefer_month_first: bool) -> FileSniff:
    """A FileSniff from a typed table (Parquet, JSON lines): typed timestamps need no format."""
    columns = []
    for name in frame.columns:
        dtype = types.get(name, "text")
        if dtype.lower().startswith(("timestamp", "date")):
            series = pd.to_datetime(frame[name]).dropna()
            date_only = bool(len(series)) and bool((series == series.dt.normalize()).all())
            last = series.max().isoformat() if len(series) else ""
            columns.append(ColumnSniff(str(name), int(series.size), dtype, parsed=1.0, date_only=date_only, last=last))
        else:
            values = [str(v).strip() for v in frame[name].dropna() if str(v).strip()]
            text = dtype.lower() in ("string", "varchar", "large_string", "text")
            sniff = sniff_values(str(name), values, prefer_month_first)
            columns.append(sniff if text else ColumnSniff(sniff.header, sniff.filled, dtype, numbers=sniff.numbers,
                                                          top=sniff.top))
    return FileSniff(path, fmt, tuple(columns), int(rows), len(frame))


def sniff_values(header: str, values: list[str], prefer_month_first: bool = False) -> ColumnSniff:
    """What the non-blank text ``values`` of a column hold (module docstring)."""
    if not values:
        return ColumnSniff(header, 0)
    distinct = list(dict.fromkeys(values))
    sample = distinct[:DISTINCT_VALUES]
    formats, parsed, date_only, ambiguous = timestamp_formats(sample, prefer_month_first)
    share = _share(apply_sql(number_sql, sample), sample, values) if not formats else 0.0
    phones = _share(apply_sql(phone_sql, sample), sample, values)
    emails = _share(apply_sql(email_sql, sample), sample, values) if "@" in "".join(sample[:200]) else 0.0
    counts = Counter(values)
    top = tuple(v for v, _ in counts.most_common(12)) if len(counts) <= 50 else ()
    last = _latest(sample, formats) if formats else ""
    return ColumnSniff(header, len(values), "text", formats, parsed, date_only, ambiguous, share, phones, emails, top,
                       last, _marks(sample) if not formats else ())


def _marks(values: list[str]) -> tuple[str, ...]:
    """Text standing before or after the number in at least half of ``values`` (a currency sign or unit)."""
    found = Counter(
        mark for v in values if (m := MARKED_NUMBER.match(v)) for mark in (m.group(1), m.group(2)) if mark
    )
    return tuple(mark for mark, n in found.most_common() if n >= len(values) / 2)


def _share(results: list, sample: list[str], values: list[str]) -> float:
    """Share of ``values`` (those whose distinct value was tried) giving a non-null result."""
    good = {v for v, r in zip(sample, results) if r is not None}
    tried = set(sample)
    seen = [v for v in values if v in tried]
    return sum(v in good for v in seen) / len(seen)


def timestamp_formats(values: list[str], prefer_month_first: bool = False) -> tuple[tuple[str, ...], float, bool, bool]:
    """The strptime formats parsing ``values``, the share they parse, whether they are
    dates only, and whether day and month order is ambiguous.

    Formats are chosen greedily (the one parsing most values still unparsed first) while
    one adds at least ``MIN_FORMAT_SHARE`` of the values, never both of a day-first /
    month-first pair; they are returned in the order of ``TIMESTAMP_FORMATS``.
    """
    if not values:
        return (), 0.0, False, False
    parsed = _parse_matrix(tuple(values))
    order = sorted(TIMESTAMP_FORMATS, key=lambda f: _month_first(f) != prefer_month_first) if prefer_month_first \
        else list(TIMESTAMP_FORMATS)
    chosen: list[str] = []
    covered: set[int] = set()
    while True:
        gains = [(len(parsed[f] - covered), f) for f in order if f not in chosen and _skeleton(f) not in
                 {_skeleton(c) for c in chosen}]
        gain, best = max(gains, key=lambda g: g[0], default=(0, ""))
        if gain == 0 or gain < MIN_FORMAT_SHARE * len(values):
            break
        chosen.append(best)
        covered |= parsed[best]
    if not chosen:
        return (), 0.0, False, False
    ambiguous = any(
        parsed[f] >= covered and f != c and _skeleton(f) == _skeleton(c) for c in chosen for f in TIMESTAMP_FORMATS
    )
    date_only = all("%H" not in f and "%I" not in f for f in chosen) or _all_midnight(values, chosen)
    ordered = tuple(f for f in TIMESTAMP_FORMATS if f in chosen)
    return ordered, len(covered) / len(values), date_only, ambiguous


def _month_first(fmt: str) -> bool:
    return fmt.startswith("%m")


def _skeleton(fmt: str) -> str:
    """A format with day and month marks made equal (day-first and month-first pairs match)."""
    return re.sub("%[dm]", "%x", fmt)


@functools.lru_cache(maxsize=64)
def _parse_matrix(values: tuple[str, ...]) -> dict[str, set[int]]:
    """format -> indexes of ``values`` it parses (DuckDB ``try_strptime``, as ingest parses)."""
    con = _connection()
    selects = ", ".join(
        f"try_strptime(v, '{f}') IS NOT NULL" for f in TIMESTAMP_FORMATS
    )
    rows = con.execute(
        f"SELECT i, {selects} FROM (SELECT unnest($1::VARCHAR[]) AS v, generate_subscripts($1::VARCHAR[], 1) AS i)",
        [list(values)],
    ).fetchall()
    result: dict[str, set[int]] = {f: set() for f in TIMESTAMP_FORMATS}
    for i, *flags in rows:
        for f, ok in zip(TIMESTAMP_FORMATS, flags):
            if ok:
                result[f].add(i)
    return result


def _latest(values: list[str], formats: tuple[str, ...]) -> str:
    """The latest date-time the formats parse from ``values`` (ISO text)."""
    listed = "[" + ", ".join(f"'{f}'" for f in formats) + "]"
    found = _connection().execute(f"SELECT max(try_strptime(v, {listed})) FROM (SELECT unnest($1::VARCHAR[]) AS v)", [values]).fetchone()[0]
    return found.isoformat() if found else ""


def _all_midnight(values: list[str], formats: list[str]) -> bool:
    """Whether every value the formats parse is at 00:00:00 (a date written with a time)."""
    con = _connection()
    listed = "[" + ", ".join(f"'{f}'" for f in formats) + "]"
    found = con.execute(
        f"SELECT bool_and(CAST(t AS TIME) = TIME '00:00:00') FROM (SELECT try_strptime(unnest($1::VARCHAR[]), "
        f"{listed}) AS t) WHERE t IS NOT NULL",
        [values],
    ).fetchone()[0]
    return bool(found)


@functools.cache
def _connection() -> duckdb.DuckDBPyConnection:
    """One in-memory DuckDB connection for the format trials."""
    return duckdb.connect()


def describe_encoding(sniff: FileSniff) -> str:
    """The encoding in words: UTF-8, UTF-8 with BOM, GB18030 (reads GBK)."""
    names = {"utf-8": "UTF-8", "utf-8-sig": "UTF-8 with BOM", "gb18030": "GB18030/GBK"}
    return names.get(sniff.encoding or "", sniff.encoding or "")


def describe_delimiter(delimiter: str | None) -> str:
    """A delimiter in words."""
    return {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}.get(delimiter or "", repr(delimiter))


