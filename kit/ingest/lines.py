"""Physical records of a CSV file, counted and checked independently of DuckDB.

"Read" in the row accounting means the records physically in the file, not whatever a
parser made of them: a stray ``"`` makes a lenient parser swallow every later line into
one field, and a count of the parsed rows still balances. ``scan_records`` walks the file
with Python's csv module (strict quoting, C speed) and yields every data record with its
record number, the line it starts on, and either its fields or why it is malformed:

- ``unbalanced_quote``: a quote that never closes, or text after a closing quote;
- ``too_many_fields`` / ``too_few_fields``: not as many fields as the header has;
- ``undecodable_bytes``: bytes the encoding cannot decode (read with ``surrogateescape``
  when the source says ``on_bad_encoding: quarantine``).

A malformed record is that ONE record: when it ran over several lines (an unclosed quote
eats the lines after it), only its first line is rejected and reading resumes on the next
line, so the records after a bad one still load. A quoted field may span lines when the
record it ends up in is well formed. Blank lines are not records (skipped, counted).
The csv module's 128 KB field limit bounds how far an unclosed quote can reach before it
is detected, so a bad line costs at most that much re-reading.

Cost: the well-formed one-line records, nearly all of them, go through ``csv.reader`` on
the file with a few integer operations each, about 1.1 times a bare ``csv.reader`` pass:
10.9 s for the 1.2 GB of CSV (12.4M records) of the 1,000,000-customer bench world on the
shared 2-core machine. After the first malformed multi-line record the rest of the file is
read line by line through a feed that can give lines back (about 1.5 times).
"""

from __future__ import annotations

import csv
import re
from collections import deque
from collections.abc import Generator, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

MALFORMED = ("unbalanced_quote", "too_many_fields", "too_few_fields", "undecodable_bytes")
_UNDECODED = re.compile("[\udc80-\udcff]")  # bytes kept by the surrogateescape handler


@dataclass
class LineScan:
    """What one pass over a CSV file found (the header line is not a record)."""

    records: int = 0  # physical data records, malformed ones included, blank lines not
    malformed: list[tuple[int, int, str]] = field(default_factory=list)  # record, line, reason
    multiline: int = 0  # well-formed records whose quoted field spans lines
    blank_lines: int = 0

    @property
    def parser_safe(self) -> bool:
        """True when DuckDB can read the file itself: one line per record, all well formed."""
        return not (self.malformed or self.multiline or self.blank_lines)


def open_text(path: Path, encoding: str, lossy: bool):
    """``path`` opened for the csv module (newlines untranslated)."""
    return path.open(encoding=encoding, errors="surrogateescape" if lossy else "strict", newline="")


def scan_records(
    path: Path, encoding: str, delimiter: str, lossy: bool = False
) -> Iterator[tuple[int, int, list[str] | None, str | None]]:
    """(record number, first line, fields or None, malformed reason or None) per data record.

    ``lossy``: the file was opened with ``surrogateescape`` and records holding an
    undecodable byte are malformed. Blank lines are skipped (``LineScan`` counts them when
    the caller passes one through ``scan``).
    """
    yield from _walk(path, encoding, delimiter, lossy, None)


def scan(path: Path, encoding: str, delimiter: str, lossy: bool = False) -> LineScan:
    """Count the physical records of a CSV file and list the malformed ones."""
    result = LineScan()
    walk = _walk(path, encoding, delimiter, lossy, result)
    result.malformed = [(record, line, reason) for record, line, _, reason in walk]
    return result


def _walk(
    path: Path, encoding: str, delimiter: str, lossy: bool, result: LineScan | None
) -> Iterator[tuple[int, int, list[str] | None, str | None]]:
    """Every data record: csv.reader straight on the file while records end where they should
    (``_direct``); from the first malformed record that ran over several lines on, a reader
    fed line by line that can give lines back (``_resync``)."""
    with open_text(path, encoding, lossy) as handle:
        rows = _reader(handle, delimiter)
        header = next(rows, None)
        if header is None:
            return
        walk = _Walk(len(header), lossy, result)
        restart = yield from walk.direct(rows, rows.line_num)
    if restart is not None:
        with open_text(path, encoding, lossy) as handle:
            deque(islice(handle, restart), maxlen=0)  # skip to the line after the bad record's first
            yield from walk.resync(handle, restart + 1, delimiter)
    if result is not None:
        result.records = walk.record


def _reader(lines: Iterable[str], delimiter: str):
    return csv.reader(lines, delimiter=delimiter, quotechar='"', doublequote=True, strict=True)


class _Walk:
    """Record numbering and the checks shared by both ways of reading."""

    def __init__(self, width: int, lossy: bool, result: LineScan | None) -> None:
        self.width, self.lossy, self.result, self.record = width, lossy, result, 0
        self.keep = result is None  # a count (``scan``) needs the malformed records only

    def reason(self, row: list[str] | None, lines: int) -> str | None:
        """Why the record is malformed (None when well formed); "" for a blank line."""
        if row is None:
            return "unbalanced_quote"
        if not row and lines == 1:
            if self.result is not None:
                self.result.blank_lines += 1
            return ""
        if len(row) != self.width:
            return "too_many_fields" if len(row) > self.width else "too_few_fields"
        if self.lossy and any(_UNDECODED.search(value) for value in row):
            return "undecodable_bytes"
        if lines > 1 and self.result is not None:
            self.result.multiline += 1
        return None

    def direct(self, rows, consumed: int) -> Generator[tuple[int, int, list[str] | None, str | None], None, int | None]:
        """Read with ``rows``; returns the first line of a malformed multi-line record, or None at the end.

        Well-formed one-line records take the short path (no call, and no yield unless
        ``keep``): they are nearly all of them, and this loop is the cost of the count.
        """
        width, keep, plain = self.width, self.keep, not self.lossy
        while True:
            try:
                for row in rows:
                    line = rows.line_num
                    if plain and line == consumed + 1 and len(row) == width:
                        self.record += 1
                        consumed = line
                        if keep:
                            yield self.record, line, row, None
                        continue
                    start, lines, consumed = consumed + 1, line - consumed, line
                    reason = self.reason(row, lines)
                    if reason == "":
                        continue
                    self.record += 1
                    if keep or reason:
                        yield self.record, start, (None if reason else row), reason
                    if reason and lines > 1:
                        return start
                return None
            except csv.Error:  # unclosed quote (to the end or past the field limit), text after a quote
                start, lines, consumed = consumed + 1, rows.line_num - consumed, rows.line_num
                self.record += 1
                yield self.record, start, None, "unbalanced_quote"
                if lines > 1:
                    return start

    def resync(
        self, handle: Iterable[str], start: int, delimiter: str
    ) -> Iterator[tuple[int, int, list[str] | None, str | None]]:
        """Read from line ``start`` on; a malformed record gives back all lines but its first."""
        pending: deque[str] = deque()  # lines given back after a malformed multi-line record
        current: list[str] = []  # the lines the record being read has consumed

        def feed() -> Iterator[str]:
            while pending:
                text = pending.popleft()
                current.append(text)
                yield text
            for text in handle:
                current.append(text)
                yield text

        rows = _reader(feed(), delimiter)
        while True:
            current.clear()
            try:
                row = next(rows)
            except StopIteration:
                return
            except csv.Error:
                row = None
            lines = len(current)
            reason = self.reason(row, lines)
            if reason == "":
                start += 1
                continue
            self.record += 1
            if reason and lines > 1:
                pending.extendleft(reversed(current[1:]))  # read on from the record's second line
                rows = _reader(feed(), delimiter)
                lines = 1
            if self.keep or reason:
                yield self.record, start, (None if reason else row), reason
            start += lines


def write_good_records(path: Path, encoding: str, delimiter: str, lossy: bool, target: Path) -> int:
    """Write the well-formed records of ``path`` to UTF-8 ``target``; returns their count.

    Two columns are appended: ``__kit_record`` (record number) and ``__kit_line`` (first
    line), so that every row keeps its place in the original file.
    """
    with open_text(path, encoding, lossy) as handle:
        header = next(csv.reader(handle, delimiter=delimiter), [])
    written = 0
    with target.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out, delimiter=delimiter, quotechar='"', lineterminator="\n")
        writer.writerow([*header, *COPY_COLUMNS])
        for record, line, row, reason in scan_records(path, encoding, delimiter, lossy):
            if reason is None:
                writer.writerow([*row, record, line])
                written += 1
    return written


COPY_COLUMNS = ("__kit_record", "__kit_line")
