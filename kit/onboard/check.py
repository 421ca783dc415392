"""``kit check``: validate a config against the raw files in seconds, before a run.

Each source is read with ingest's own reader (``kit.ingest.sources.load_source``: the
same files, encodings, header renaming and malformed-record checks as the run) into an
in-memory DuckDB, then checked with ingest's own value rules (``kit.ingest.normalize``):

- the files found, their encodings, rows and malformed records;
- the kind's columns found and missing, required and optional; ``columns:`` entries whose
  header no file has; declared identity key columns that are absent;
- the share of values that parse per column, on the first ``SAMPLE_ROWS`` rows: a
  column whose unparseable or blank values would quarantine at least the data fitness
  gate's failing share (``ingest.gate.quarantined_share_fail``) stops the run, with the
  formats that would parse them when the sniffer finds some;
- rows per month over the whole source, and whether the run month has orders / events;
- identity keys per source and their distinct values;
- whether events and experiment units can link to customers: the key each events source
  links through (``app_user_id``, or the one it declares) and the key types the
  assignments' ``unit_type`` values name must be carried by some identity source;
- and, per notebook, what will be shown and what will be missing (``needs``).

A problem (the run cannot proceed or would fail the gate) makes ``ok`` false; a warning
is printed but does not.
"""

from __future__ import annotations

import tempfile
import zoneinfo
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import duckdb

from kit.core.config import KitConfig, SourceConfig
from kit.ingest.kinds import (
    DEFAULT_KEYS,
    MAIN_TS,
    PERSONAL,
    UNIT_KEYS,
    Column,
    event_key,
    event_key_problem,
    source_columns,
    unit_keys,
)
from kit.ingest.normalize import (
    blank_sql,
    email_sql,
    number_sql,
    phone_sql,
    quote_ident,
    text_sql,
    timestamp_sql,
    whole_number_sql,
)
from kit.ingest.sources import IngestError, RawSource, load_source, source_files
from kit.onboard.needs import PlannedSource, page_lines, planned_inputs
from kit.onboard.sniff import timestamp_formats, title_lines
from kit.onboard.synonyms import concept

SAMPLE_ROWS = 50_000  # rows per source whose values are parsed
INTERNAL = ("_file", "_row", "_line", "_pos")
MONTHS_SHOWN = 13  # rows per month: the latest months listed one by one
FAILED_VALUES = 2_000  # distinct unparseable dates tried against the known formats


@dataclass
class CheckReport:
    """What ``kit check`` found: the lines to print, problems (stop) and warnings."""

    lines: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether a run can proceed."""
        return not self.problems

    def problem(self, text: str) -> None:
        """Record a problem: the run cannot proceed until it is fixed."""
        self.problems.append(text)
        self.lines.append(f"    PROBLEM: {text}")

    def warning(self, text: str) -> None:
        """Record a warning: worth a look, the run can proceed."""
        self.warnings.append(text)
        self.lines.append(f"    warning: {text}")

    def info(self, text: str) -> None:
        """Record a finding of the current source."""
        self.lines.append(f"    {text}")


@dataclass(frozen=True)
class _Checked:
    """A source that was read: what it brings to the warehouse."""

    name: str
    kind: str
    planned: PlannedSource
    key_types: tuple[str, ...]  # identity key types the source carries (identity kinds)
    # key types its rows link to customers through: an events source's key, the key types
    # an assignments source's unit types name
    links: tuple[str, ...] = ()


def check_config(config: KitConfig) -> CheckReport:
    """Check every source of ``config`` against its files (module docstring)."""
    report = CheckReport()
    report.lines.append(f"kit check: {config.source_file} (run month {config.run.month})")
    if not config.sources:
        report.problem(f"no sources: declared in {config.source_file}. Run `kit init RAW_FOLDER` to write them.")
        return report
    zones = {"project.timezone": config.project.timezone} | {
        f"sources.{name}.timezone": s.timezone for name, s in config.sources.items() if s.timezone}
    for key, zone in zones.items():
        if not known_timezone(zone):
            report.problem(f"{key} = {zone!r} is not a time zone name; use one like Asia/Shanghai or America/New_York.")
    checked: list[_Checked] = []
    con = duckdb.connect()
    with tempfile.TemporaryDirectory(prefix="kit-check-") as scratch:
        for name, source in config.sources.items():
            report.lines.append(f"  source {name} (kind {source.kind})")
            found = _check_source(con, config, name, source, Path(scratch), report)
            if found:
                checked.append(found)
    con.close()
    _check_links(checked, report)
    catalogue = config.experiments.catalog is not None and config.resolve(config.experiments.catalog).is_file()
    report.lines.append("What each notebook will show:")
    report.lines += page_lines(planned_inputs(c.planned for c in checked), catalogue, config.run.notebooks)
    if report.ok:
        report.lines.append(f"OK: a run can proceed ({len(report.warnings)} warning(s)).")
    else:
        report.lines.append(f"NOT READY: {len(report.problems)} problem(s) to fix before `kit run`:")
        report.lines += [f"  - {p}" for p in report.problems]
    return report


def known_timezone(name: str) -> bool:
    """Whether ``name`` is an IANA time zone (Asia/Shanghai, America/New_York, UTC)."""
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _check_source(
    con: duckdb.DuckDBPyConnection, config: KitConfig, name: str, source: SourceConfig, scratch: Path,
    report: CheckReport,
) -> _Checked | None:
    """Read and check one source; None when it cannot be read (a problem is recorded)."""
    if source.format != "ibis":
        try:
            source_files(config, name, source)
        except IngestError as exc:
            if not source.required:
                report.info(f"no file found; the source is optional (required: false) and is skipped ({exc})")
                return None
            report.problem(str(exc))
            return None
    try:
        raw = load_source(con, config, name, source, scratch)
    except IngestError as exc:
        report.problem(str(exc))
        return None
    encodings = ", ".join(f"{f} ({e})" for f, e in raw.encodings.items()) or ", ".join(raw.files)
    report.info(f"files: {encodings}; {raw.rows:,} rows read" + (
        f", {raw.records - raw.rows:,} malformed record(s) will be quarantined" if raw.records > raw.rows else ""))
    if problem := event_key_problem(name, source):
        report.problem(f"source {name!r}: {problem}")
        return None
    columns = source_columns(source, config.identity)
    present = {c: t for c, t in raw.columns.items() if c not in INTERNAL}
    header_of = {v: k for k, v in source.columns.items()}
    if source.format in ("csv", "excel"):
        for path in source_files(config, name, source):
            if title := title_lines(path, scratch):
                report.problem(
                    f"source {name!r}: file {path.name} has {title} title line(s) above its header line; ingest "
                    "reads the first line as the header. Remove the lines above the header from the export."
                )
    _check_columns(columns, present, source, name, header_of, report)
    filled, timed = _check_values(con, config, raw, columns, present, source, name, header_of, report)
    if source.kind in MAIN_TS and MAIN_TS[source.kind] in present and filled:
        _rows_per_month(con, config, raw, source, name, present, report)
    keys = _check_keys(con, raw, source, present, name, report)
    planned = PlannedSource(source.kind, raw.rows, frozenset(filled), timed)
    if source.kind == "events":
        return _Checked(name, source.kind, planned, (), (event_key(source)[1],))
    units = _unit_keys(con, config, raw, name, report) if source.kind == "assignments" and "unit_type" in present else ()
    return _Checked(name, source.kind, planned, tuple(keys.values()), units)


def _unit_keys(
    con: duckdb.DuckDBPyConnection, config: KitConfig, raw: RawSource, name: str, report: CheckReport
) -> tuple[str, ...]:
    """The identity key types an assignments source's unit types name (``kinds.unit_keys``);
    unknown unit types are a problem."""
    named = unit_keys(config.identity)
    types = [row[0] for row in con.execute(
        f"SELECT DISTINCT lower({text_sql(quote_ident('unit_type'), raw.columns['unit_type'])}) AS u FROM {raw.table} "
        "WHERE u IS NOT NULL ORDER BY u").fetchall()]
    unknown = [t for t in types if t not in named]
    if unknown:
        report.problem(
            f"source {name!r}: unit_type value(s) {', '.join(map(repr, unknown))} name no identity key; use "
            f"{', '.join(UNIT_KEYS)} or a key type listed in identity.keys ({', '.join(config.identity.keys)}), "
            "adding the key type to identity.keys if it is a new one (their rows would be quarantined as unknown_unit)"
        )
    return tuple(dict.fromkeys(named[t] for t in types if t in named))


def _label(column: str, header_of: dict[str, str]) -> str:
    """A column with the file header it comes from: ``order_ts (header '下单时间')``."""
    return f"{column} (header {header_of[column]!r})" if column in header_of else column


def _check_columns(columns: tuple[Column, ...], present: dict[str, str], source: SourceConfig, name: str,
                   header_of: dict[str, str], report: CheckReport) -> None:
    """Required and optional columns found or missing; ``columns:`` headers absent from the files."""
    canonical = {c.name for c in columns}
    found = [c.name for c in columns if c.name in present]
    report.info(f"columns found: {', '.join(found) or 'none of the kind'}")
    unused = [h for h in present if h not in canonical and h not in source.keys and h not in PERSONAL]
    if unused:
        report.info(f"other headers (not read): {', '.join(unused)}")
    for header in unused:
        if (found := concept(header)) and found[0] in PERSONAL:
            report.info(f"source {name!r}: header {header!r} looks like personal names; it is not read, so it never "
                        "leaves the raw file (not even into the quarantine)")
    for column in columns:
        if column.required and column.name not in present and column.name not in source.keys:  # keys: _check_keys
            wanted = _label(column.name, header_of)
            report.problem(
                f"source {name!r}: required column {wanted} is missing. Columns found (after renaming): "
                f"{', '.join(present) or 'none'}. Map the header that holds it under sources.{name}.columns "
                f"(\"<header>\": {column.name}) or fix the export."
            )
    optional = [c.name for c in columns if not c.required and c.name not in present and c.name not in source.keys]
    if optional:
        report.info(f"optional columns absent: {', '.join(optional)}")
    for header, column in source.columns.items():
        if column not in present and header not in present:
            report.warning(f"sources.{name}.columns maps header {header!r} to {column}, but no file has that header")


def _parsed(column: Column, col: str, dtype: str, source: SourceConfig, project_tz: str) -> str | None:
    """SQL of a column's parsed value by its rule, or None for plain text columns."""
    if column.parse == "timestamp":
        return timestamp_sql(col, dtype, source.timestamp_formats, source.timezone, project_tz)
    if column.parse == "number":
        return number_sql(col, dtype)
    if column.parse == "integer":
        return whole_number_sql(f"({number_sql(col, dtype)})")
    if column.parse == "phone":
        return phone_sql(col, dtype)
    if column.parse == "email":
        return email_sql(col, dtype)
    return None


def _check_values(
    con: duckdb.DuckDBPyConnection, config: KitConfig, raw: RawSource, columns: tuple[Column, ...],
    present: dict[str, str], source: SourceConfig, name: str, header_of: dict[str, str], report: CheckReport,
) -> tuple[set[str], bool]:
    """Share of sampled values that parse per column; returns the columns holding values and
    whether the source's main timestamps carry a time of day."""
    sample = f"(SELECT * FROM {raw.table} LIMIT {SAMPLE_ROWS})"
    n = con.execute(f"SELECT count(*) FROM {sample}").fetchone()[0]
    gate = config.ingest.gate
    filled: set[str] = set()
    timed = False
    for column in columns:
        if column.name not in present:
            continue
        col, dtype = quote_ident(column.name), present[column.name]
        parsed = _parsed(column, col, dtype, source, config.project.timezone)
        value = parsed or text_sql(col, dtype)
        blank, bad = con.execute(
            f"SELECT count(*) FILTER (WHERE {blank_sql(col, dtype)}), "
            f"count(*) FILTER (WHERE NOT {blank_sql(col, dtype)} AND ({value}) IS NULL) FROM {sample}"
        ).fetchone()
        if n - blank - bad > 0:
            filled.add(column.name)
        if parsed is None:
            if column.mandatory and blank:
                _judge(report, gate, blank / n, f"source {name!r}: {_label(column.name, header_of)} is blank in "
                       f"{blank / n:.1%} of {n:,} sampled rows; those rows will be quarantined (missing_value)")
            continue
        values = n - blank
        share = (values - bad) / values if values else 0.0
        report.info(f"{_label(column.name, header_of)}: {share:.1%} of {values:,} sampled values parse"
                    + (f" ({blank:,} blank)" if blank else ""))
        if column.name == MAIN_TS.get(source.kind) and values - bad:
            timed = bool(con.execute(
                f"SELECT bool_or(CAST(({parsed}) AS TIME) <> TIME '00:00:00') FROM {sample}").fetchone()[0])
        if column.on_invalid != "quarantine" and not column.mandatory:
            continue
        lost = (bad + (blank if column.mandatory else 0)) / n if n else 0.0
        if lost:
            advice = _advice(con, column, col, dtype, sample, value, name, bad)
            _judge(report, gate, lost, f"source {name!r}: {_label(column.name, header_of)}: {bad:,} of {values:,} "
                   f"sampled values do not parse" + (f" and {blank:,} are blank" if column.mandatory and blank else "")
                   + f"; {lost:.1%} of the rows would be quarantined. {advice}")
    return filled, timed


def _judge(report: CheckReport, gate, share: float, text: str) -> None:
    """A problem at or above the gate's failing quarantine share, a warning at or above its warning share."""
    if share >= gate.quarantined_share_fail:
        report.problem(text)
    elif share >= gate.quarantined_share_warn:
        report.warning(text)


def _advice(con: duckdb.DuckDBPyConnection, column: Column, col: str, dtype: str, sample: str, value: str,
            name: str, bad: int) -> str:
    """What to do about unparseable values: for dates, the formats that would parse them."""
    if column.parse != "timestamp" or not bad:
        return "Fix the values in the export, or map the right header to this column."
    failing = [row[0] for row in con.execute(
        f"SELECT DISTINCT {text_sql(col, dtype)} FROM {sample} WHERE NOT {blank_sql(col, dtype)} AND ({value}) IS NULL "
        f"LIMIT {FAILED_VALUES}").fetchall()]
    formats, share, _, _ = timestamp_formats([str(v) for v in failing])
    if formats and share >= 0.5:
        return (f"Add the format(s) {list(formats)} to sources.{name}.timestamp_formats "
                f"(they parse {share:.0%} of the failing values).")
    return (f"No known date format parses them: set sources.{name}.timestamp_formats to the strptime "
            "format(s) the export uses (e.g. \"%d/%m/%Y %H:%M\").")


def months_of(con: duckdb.DuckDBPyConnection, config: KitConfig, raw: RawSource, source: SourceConfig,
              present: dict[str, str]) -> list[tuple[str, int]]:
    """(YYYY-MM, rows) of a loaded source's main timestamp over all its rows, as ingest parses it."""
    main = MAIN_TS[source.kind]
    ts = timestamp_sql(quote_ident(main), present[main], source.timestamp_formats, source.timezone,
                       config.project.timezone)
    return con.execute(
        f"SELECT strftime(t, '%Y-%m') AS m, count(*) FROM (SELECT {ts} AS t FROM {raw.table}) "
        "WHERE t IS NOT NULL GROUP BY m ORDER BY m").fetchall()


def latest_time(config: KitConfig, kind: str = "orders") -> datetime | None:
    """The latest main timestamp of the sources of ``kind``, as ingest parses them (None when none reads)."""
    con = duckdb.connect()
    found = []
    with tempfile.TemporaryDirectory(prefix="kit-latest-") as scratch:
        for name, source in config.sources.items():
            if source.kind != kind:
                continue
            main = MAIN_TS[kind]
            try:
                raw = load_source(con, config, name, source, Path(scratch))
            except IngestError:
                continue
            if main in raw.columns:
                ts = timestamp_sql(quote_ident(main), raw.columns[main], source.timestamp_formats, source.timezone,
                                   config.project.timezone)
                latest = con.execute(f"SELECT max({ts}) FROM {raw.table}").fetchone()[0]
                found += [latest] if latest is not None else []
    con.close()
    return max(found, default=None)


def _rows_per_month(con: duckdb.DuckDBPyConnection, config: KitConfig, raw: RawSource, source: SourceConfig,
                    name: str, present: dict[str, str], report: CheckReport) -> None:
    """Rows per month of the main timestamp over the whole source; the run month must have rows."""
    months = months_of(con, config, raw, source, present)
    if not months:
        return
    counts = dict(months)
    shown = months[-MONTHS_SHOWN:]
    earlier = sum(c for _, c in months[:-MONTHS_SHOWN])
    report.info(f"rows per month ({months[0][0]} to {months[-1][0]}): "
                + ", ".join(f"{m} {c:,}" for m, c in shown) + (f"; earlier {earlier:,}" if earlier else ""))
    if source.kind in ("orders", "events") and source.required and config.run.month not in counts:
        report.problem(
            f"source {name!r} has no rows in the run month {config.run.month} (its data runs from {months[0][0]} "
            f"to {months[-1][0]}). Set run.month in {config.source_file} or pass `kit run --month {months[-1][0]}`."
        )


def _check_keys(con: duckdb.DuckDBPyConnection, raw: RawSource, source: SourceConfig, present: dict[str, str],
                name: str, report: CheckReport) -> dict[str, str]:
    """Identity keys the source carries (declared, else the kind's defaults present) and their distinct values."""
    declared = dict(source.keys) or {c: c for c in DEFAULT_KEYS.get(source.kind, ()) if c in present}
    found = {}
    for column, key_type in declared.items():
        if column not in present:
            report.problem(f"source {name!r}: identity key column {column!r} (keys: {column}: {key_type}) is not in "
                           f"the file. Headers found: {', '.join(present)}. Map its header to {column} under "
                           f"sources.{name}.columns.")
            continue
        col, dtype = quote_ident(column), present[column]
        rule = {"phone": phone_sql, "email": email_sql}.get(key_type, text_sql)
        distinct = con.execute(f"SELECT count(DISTINCT {rule(col, dtype)}) FROM {raw.table}").fetchone()[0]
        report.info(f"identity key {key_type} (column {column}): {distinct:,} distinct values")
        found[column] = key_type
    if source.kind in DEFAULT_KEYS and not found:
        report.warning(f"source {name!r} carries no identity key: each of its records becomes a customer of its own")
    return found


def _check_links(checked: list[_Checked], report: CheckReport) -> None:
    """Links between sources: events and experiment units need their key known from an identity source."""
    kinds = {c.kind for c in checked}
    keys = {k for c in checked for k in c.key_types}
    for events in (c for c in checked if c.kind == "events" and c.links[0] not in keys):
        key_type = events.links[0]
        if key_type == "app_user_id":
            report.problem(
                f"events of source {events.name!r} link to customers through app user ids, but no customers / "
                "app_users / orders / surveys source carries an app_user_id key: every event would be quarantined "
                "(unknown_app_user_id). Add the app users export (kind app_users), declare the column holding app "
                "user ids as keys: {column: app_user_id}, or link the events through another key with "
                f"sources.{events.name}.keys (e.g. {{member_id: member_id}})."
            )
        else:
            report.problem(
                f"events of source {events.name!r} link to customers through {key_type} (sources.{events.name}.keys), "
                f"but no customers / app_users / orders / surveys source carries a {key_type} key: every event "
                f"would be quarantined (unknown_key). Declare the column holding {key_type} in a customer source's "
                f"keys ({{column: {key_type}}}), or link the events through a key a customer source carries."
            )
    for key_type in dict.fromkeys(k for c in checked if c.kind == "assignments" for k in c.links):
        if key_type not in keys:
            report.problem(f"experiment units of type {key_type} cannot reach a customer: no customers / app_users / "
                           f"orders / surveys source carries a {key_type} key (their rows would be quarantined as "
                           "unknown_unit)")
    if "orders" not in kinds:
        report.warning("no orders source: tags, segments, lifetime value and churn need orders and will not be shown")
