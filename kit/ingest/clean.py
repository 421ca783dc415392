"""Row-level cleaning of one loaded source, as set-based DuckDB SQL.

``clean_source`` turns ``raw_<name>`` into ``stage_<name>`` (canonical, typed columns plus
the row position ``_pos``, the quarantine ``_reason`` / ``_column`` and a ``_resent`` flag)
and the view ``clean_<name>`` (the rows kept), in three steps:

0. an orders source without an ``order_id`` column (a subscriptions source without
   ``subscription_id`` alike, ``kinds.SYNTHESISED_IDS``) gets a synthesised one: the first 20
   hex digits of the keyed hash (HMAC-SHA256 under the identity key, ``identity.py``) of
   the row's fields, as JSON of column name -> raw value sorted by column name (names
   after the ``columns:`` mapping). The same row gets the same id on every run and in any
   file order; two rows get the same id only when every field is equal, and those are
   exact duplicates (step 1). The canonical ``order_id`` is ``<source>:<that id>``. Such a
   source has no re-sent rows (step 3): without an order id, two rows that differ in any
   field are two orders;

1. exact duplicates: rows whose every raw field equals an earlier row's are dropped. A
   64-bit hash of all fields finds candidate groups in one aggregation; only rows whose
   hash repeats are compared field by field, so the check is exact and costs one hash
   aggregate instead of a window over every column (measured:
   docs/decisions/0001-ingest-exact-duplicates.md);
2. validation: each column is parsed by its rule (``kinds.py``); the first failed check
   gives the row's quarantine ``reason`` and ``column``. Plausibility limits come from
   the config's ``ingest:`` section: an amount above ``max_amount`` or not finite
   (``implausible_amount``), a date outside [``min_date``, ``max_date``)
   (``implausible_date``; a birth date out of range is nulled and counted instead: a
   member is not lost for a typo in an optional field);
3. re-sent rows: of the valid rows sharing a key (order id, member id, ...), the latest
   version in file order is kept; for orders a refunded version wins over a paid one,
   because a refund is always the later state of an order. Only keys that occur more than
   once go through the window that picks the version.

Times: the main timestamp of orders and events is parsed as written; a source whose kept
rows are all at 00:00:00 (all of its formats lack a time of day, or its exports carry
dates only) is date-only (``SourceStats.has_time`` false): its dates keep their calendar
day (no time zone shift) and hour-of-day analyses skip its rows. Other sources' times are
converted from ``sources.<name>.timezone`` to project time.

Declared identity key columns that are not canonical columns of the kind
(``kinds.key_columns``; an events source's key column, ``kinds.source_columns``) are
parsed by their key type and kept in ``clean_<name>`` for identity resolution (events:
linking) only; a declared key column missing from the file is an error.

Malformed records (``bad_<name>``, found before parsing: ``lines.py``) count as
quarantined too, so that read (physical records) = loaded + duplicates + quarantined.

``quarantine_sql`` selects the rejected rows with their raw fields as text so that
nothing is lost (a malformed record has no fields: its file and line point to it),
except that the personal columns (``kinds.PERSONAL``: names) are
dropped and phone numbers and e-mail addresses inside any field are masked
(``138****8000``, ``a***@example.com``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb

from kit.core.config import IngestConfig, KitConfig, SourceConfig
from kit.ingest.identity import IdentityKey, hash_sql
from kit.ingest.kinds import (
    KINDS,
    MAIN_TS,
    ORDER_STATUSES,
    PERSONAL,
    SYNTHESISED_IDS,
    TIMED_KINDS,
    Column,
    Kind,
    event_key_problem,
    source_columns,
)
from kit.ingest.normalize import (
    TEXT_TYPES,
    TRIMMED,
    blank_sql,
    email_sql,
    local_timestamp_sql,
    mask_email,
    mask_phone,
    number_sql,
    phone_sql,
    quote_ident,
    shifts_zone,
    sql_literal,
    text_sql,
    timestamp_sql,
    trimmed_text_sql,
    whole_number_sql,
    zone_sql,
)
from kit.ingest.sources import IngestError, RawSource

INTERNAL = ("_file", "_row", "_line", "_pos")
MONEY = ("amount", "discount", "mrr")  # number columns held to ingest.max_amount
SYNTHESISED_ID_DIGITS = 20  # hex digits of a synthesised order id (80 bits)


@dataclass
class SourceStats:
    """Row accounting of one source: read = loaded + duplicates + quarantined.

    ``read`` is the physical records of the source's files (malformed ones included),
    counted independently of the parser; ``quarantined`` includes the malformed records.
    """

    source: str
    kind: str
    files: list[str]
    encodings: dict[str, str]
    columns: list[str] = field(default_factory=list)  # canonical and key columns the files have
    read: int = 0
    exact_duplicates: int = 0
    resent_duplicates: int = 0
    quarantined: int = 0
    loaded: int = 0
    quarantine_reasons: dict[str, int] = field(default_factory=dict)
    quarantine_detail: list[dict] = field(default_factory=list)  # reason, column, rows
    values_nulled: dict[str, int] = field(default_factory=dict)
    missing_share: dict[str, float] = field(default_factory=dict)
    # orders / events: whether the main timestamps carry a time of day (None: other kinds,
    # or no row kept)
    has_time: bool | None = None
    synthesised_order_id: bool = False  # orders without an order_id column (module docstring)
    file_reads: dict[str, int] = field(default_factory=dict)  # files parsed / reused / read in place (sources.READS)

    @property
    def duplicates(self) -> int:
        """Exact duplicates plus re-sent rows dropped."""
        return self.exact_duplicates + self.resent_duplicates

    def check(self) -> None:
        """Raise IngestError when rows went missing (read != loaded + duplicates + quarantined)."""
        if self.read != self.loaded + self.duplicates + self.quarantined:
            raise IngestError(
                f"source {self.source!r}: row accounting does not add up: read {self.read} != loaded "
                f"{self.loaded} + duplicates {self.duplicates} + quarantined {self.quarantined}. "
                "This is a bug in kit.ingest; please report it with the input files."
            )


def _parsed_sql(
    column: Column, present: dict[str, str], source: SourceConfig, project_tz: str, limits: IngestConfig, local: bool
) -> str:
    """The SQL expression giving the cleaned value of ``column``: its default, or a null
    of its type, when absent or blank.

    Integer columns are parsed in two steps by ``clean_source`` (number, then whole number).
    A date of a nullable column (birth date) outside the plausible range is NULL. ``local``:
    a timestamp stays in the zone it was written in (``clean_source`` converts it once it
    knows whether the source has times of day).
    """
    if column.name not in present:
        return sql_literal(column.default) if column.default is not None else f"NULL::{column.sql_type}"
    value = _value_sql(column, present, source, project_tz, limits, local)
    return f"coalesce({value}, {sql_literal(column.default)})" if column.default is not None else value


def _value_sql(
    column: Column, present: dict[str, str], source: SourceConfig, project_tz: str, limits: IngestConfig, local: bool
) -> str:
    """The parsed value of a column present in the file (``_parsed_sql``)."""
    col, dtype = quote_ident(column.name), present[column.name]
    if column.parse == "phone":
        return phone_sql(col, dtype)
    if column.parse == "email":
        return email_sql(col, dtype)
    if column.parse == "number":
        return number_sql(col, dtype)
    if column.parse == "timestamp" and local:
        return local_timestamp_sql(col, dtype, source.timestamp_formats, project_tz)
    if column.parse == "timestamp":
        value = timestamp_sql(col, dtype, source.timestamp_formats, source.timezone, project_tz)
        if column.on_invalid == "null":
            return f"CASE WHEN {_date_outside(value, limits)} THEN NULL ELSE {value} END"
        return value
    if column.parse == "lower":
        return f"lower({text_sql(col, dtype)})"
    return text_sql(col, dtype)


def _date_outside(value: str, limits: IngestConfig) -> str:
    """SQL: the TIMESTAMP ``value`` lies outside [min_date, max_date)."""
    return f"({value} < {sql_literal(limits.min_date)}::TIMESTAMP OR {value} >= {sql_literal(limits.max_date)}::TIMESTAMP)"


def _checks(
    kind_name: str, columns: tuple[Column, ...], present: dict[str, str], limits: IngestConfig
) -> list[tuple[str, str, str]]:
    """(reason, column, SQL condition) of a source's ``columns`` in the order they are tested."""
    checks = []
    for column in columns:
        if column.name not in present:
            continue
        blank = blank_sql(quote_ident(column.name), present[column.name])
        parsed = f"p_{column.name}"
        if column.mandatory:
            # text values are null exactly when blank, so the parsed value answers cheaply
            checks.append(("missing_value", column.name, f"{parsed} IS NULL" if column.parse in ("text", "lower") else blank))
        if column.on_invalid == "quarantine" and column.parse in ("number", "integer", "timestamp"):
            reason = "unparseable_timestamp" if column.parse == "timestamp" else "text_in_number"
            if column.parse == "integer":
                checks.append(("text_in_number", column.name, f"NOT {blank} AND p_{column.name}_num IS NULL"))
                reason = "not_whole_number"
            checks.append((reason, column.name, f"NOT {blank} AND {parsed} IS NULL"))
        if column.parse == "timestamp" and column.on_invalid == "quarantine":
            checks.append(("implausible_date", column.name, _date_outside(parsed, limits)))
        if column.name in MONEY:
            checks.append(("implausible_amount", column.name, f"(NOT isfinite({parsed}) OR abs({parsed}) > {limits.max_amount!r})"))
        if column.valid_range is not None:
            low, high = column.valid_range
            checks.append(("out_of_range", column.name, f"{parsed} NOT BETWEEN {low} AND {high}"))
    if kind_name == "orders":
        statuses = ", ".join(sql_literal(s) for s in ORDER_STATUSES)
        checks.append(("unknown_status", "status", f"p_status IS NOT NULL AND p_status NOT IN ({statuses})"))
        checks.append(("negative_amount", "amount", "p_amount < 0 AND coalesce(p_status, '') <> 'refunded'"))
    if kind_name == "subscriptions":
        checks.append(("negative_amount", "mrr", "p_mrr < 0"))
        checks.append(("paid_through_before_start", "paid_through", "p_paid_through < p_started_at"))
    return checks


def clean_source(con: duckdb.DuckDBPyConnection, raw: RawSource, config: KitConfig, key: IdentityKey) -> SourceStats:
    """Clean ``raw_<name>`` into ``stage_<name>`` / view ``clean_<name>``; return its accounting.

    ``key`` is the identity key, in use on ``con`` (``identity.use_key``): it keys the
    synthesised order ids.
    """
    name = raw.name
    source, project_tz, limits = config.sources[name], config.project.timezone, config.ingest
    kind = KINDS[source.kind]
    columns = source_columns(source, config.identity)
    _check_columns(raw, source, columns)
    present = {c: t for c, t in raw.columns.items() if c in {col.name for col in columns}}
    fields = [c for c in raw.columns if c not in INTERNAL]
    quoted = ", ".join(quote_ident(c) for c in fields)
    con.execute(
        f"""CREATE OR REPLACE TABLE dup_{name} AS
        SELECT _pos FROM (
            SELECT * FROM {raw.table} WHERE hash({quoted}) IN (
                SELECT hash({quoted}) AS h FROM {raw.table} GROUP BY h HAVING count(*) > 1))
        QUALIFY row_number() OVER (PARTITION BY {quoted} ORDER BY _pos) > 1"""
    )
    # step 1 trims every text column once; step 2 parses; step 3 picks the first failed check
    types = {c: TRIMMED if t in TEXT_TYPES else t for c, t in present.items()}
    trimmed = [f"{trimmed_text_sql(quote_ident(c), t)} AS {quote_ident(c)}" for c, t in present.items()]
    row_id = SYNTHESISED_IDS.get(source.kind)
    synthesised = row_id is not None and row_id not in present
    if synthesised:
        row = "to_json({" + ", ".join(f"{sql_literal(c)}: {quote_ident(c)}" for c in sorted(fields)) + "})"
        trimmed.append(f"{hash_sql(key, row, SYNTHESISED_ID_DIGITS)} AS {quote_ident(row_id)}")
        types[row_id] = TRIMMED
    main_ts = MAIN_TS[source.kind] if source.kind in TIMED_KINDS else None
    parsed = []
    for column in columns:
        if column.parse == "integer":
            number = number_sql(quote_ident(column.name), types[column.name]) if column.name in types else "NULL::DOUBLE"
            parsed.append(f"{number} AS {_p(column.name + '_num')}")
        else:
            value = _parsed_sql(column, types, source, project_tz, limits, local=column.name == main_ts)
            parsed.append(f"{value} AS {_p(column.name)}")
    wholes = [f"{whole_number_sql(_p(c.name + '_num'))} AS {_p(c.name)}" for c in columns if c.parse == "integer"]
    nullable = [c for c in columns if c.on_invalid == "null" and c.name in present]
    flags = [f"{quote_ident(c.name)} IS NOT NULL AND {_p(c.name)} IS NULL AS {_p('nulled_' + c.name)}" for c in nullable]
    checks = _checks(source.kind, columns, types, limits)
    # the first failing check's number, evaluated once; reason and column are looked up
    first = "CASE " + " ".join(f"WHEN {cond} THEN {i}" for i, (_, _, cond) in enumerate(checks, 1)) + " END"
    reasons = "[" + ", ".join(sql_literal(r) for r, _, _ in checks) + "]"
    names = "[" + ", ".join(sql_literal(c) for _, c, _ in checks) + "]"
    if not checks:
        first, reasons, names = "NULL::INTEGER", "[NULL::VARCHAR]", "[NULL::VARCHAR]"
    outputs = [f"{_p(c.name)} AS {quote_ident(c.name)}" for c in columns] + flags
    con.execute(
        f"""CREATE OR REPLACE TABLE stage_{name} AS
        SELECT * EXCLUDE (_check), {reasons}[_check] AS _reason, {names}[_check] AS _column, false AS _resent FROM (
            SELECT {", ".join(outputs)}, _pos, {first} AS _check FROM (
                SELECT *{"".join(", " + w for w in wholes)} FROM (
                    SELECT *, {", ".join(parsed)} FROM (
                        SELECT _pos{"".join(", " + t for t in trimmed)} FROM {raw.table} ANTI JOIN dup_{name} USING (_pos)))))"""
    )
    if kind.key and not synthesised:
        _mark_resent(con, name, kind, source.kind)
    stats = SourceStats(
        name, source.kind, raw.files, raw.encodings, columns=[c.name for c in columns if c.name in raw.columns],
        read=raw.records, synthesised_order_id=synthesised and source.kind == "orders", file_reads=raw.file_reads,
    )
    if main_ts is not None:
        stats.has_time = _has_time(con, name, main_ts)
        dtype = types.get(main_ts, "TIMESTAMP")
        if stats.has_time and shifts_zone(dtype, source.timezone, project_tz):
            moved = zone_sql(main_ts, source.timezone, project_tz)  # type: ignore[arg-type]
            con.execute(f"UPDATE stage_{name} SET {main_ts} = {moved}")
    keep = ", ".join([quote_ident(c.name) for c in columns] + ["_pos"])
    con.execute(f"CREATE OR REPLACE VIEW clean_{name} AS SELECT {keep} FROM stage_{name} WHERE _reason IS NULL AND NOT _resent")
    stats.exact_duplicates = _count(con, f"dup_{name}", "true")
    if nullable:
        counts = ", ".join(f"count(*) FILTER (WHERE {_p('nulled_' + c.name)})" for c in nullable)
        row = con.execute(f"SELECT {counts} FROM stage_{name} WHERE _reason IS NULL AND NOT _resent").fetchall()[0]
        canonical = {c.name for c in kind.columns}
        for column, n in zip(nullable, row):
            # a key column outside the kind is counted under its rule (phone_invalid, email_invalid)
            problem = f"{column.name if column.name in canonical else column.parse}_invalid"
            if n:
                stats.values_nulled[problem] = stats.values_nulled.get(problem, 0) + int(n)
    refresh_counts(con, stats)
    stats.missing_share = missing_shares(con, name, stats.columns)
    return stats


def _p(name: str) -> str:
    """The quoted name of the parsed value of column ``name`` inside ``clean_source``."""
    return quote_ident("p_" + name)


def _check_columns(raw: RawSource, source: SourceConfig, columns: tuple[Column, ...]) -> None:
    """Raise IngestError when a required column or a declared identity key column is missing."""
    missing = [c.name for c in columns if c.required and c.name not in raw.columns and c.name not in source.keys]
    keys = [c for c in source.keys if c not in raw.columns]
    where = f"source {raw.name!r} (kind {source.kind}, file {', '.join(raw.files)})"
    if problem := event_key_problem(raw.name, source):
        raise IngestError(f"{where}: {problem}")
    if not missing and not keys:
        return
    found = ", ".join(c for c in raw.columns if c not in INTERNAL)
    reverse = {v: k for k, v in source.columns.items()}
    if missing:
        wanted = ", ".join(f"{m!r}" + (f" (mapped from {reverse[m]!r})" if m in reverse else "") for m in missing)
        raise IngestError(
            f"{where}: required column(s) {wanted} missing. Columns found: {found}. Fix the file's header or map "
            f"its column to the canonical name under sources.{raw.name}.columns in the config."
        )
    wanted = ", ".join(f"{k!r}" + (f" (mapped from {reverse[k]!r})" if k in reverse else "") for k in keys)
    raise IngestError(
        f"{where}: identity key column(s) {wanted} declared under sources.{raw.name}.keys are not in the file. "
        f"Columns found: {found}. Map the file's column to that name under sources.{raw.name}.columns, or "
        f"remove it from sources.{raw.name}.keys."
    )


def _has_time(con: duckdb.DuckDBPyConnection, name: str, column: str) -> bool | None:
    """Whether any kept row's ``column`` has a time of day other than 00:00:00 (None: no row kept)."""
    found = con.execute(
        f"SELECT bool_or({column} <> date_trunc('day', {column})) FROM stage_{name} WHERE _reason IS NULL AND NOT _resent"
    ).fetchall()[0][0]
    return None if found is None else bool(found)


def _mark_resent(con: duckdb.DuckDBPyConnection, name: str, kind: Kind, kind_name: str) -> None:
    """Flag all but the latest valid version of each key (refunded first for orders)."""
    keys = ", ".join(kind.key)
    order = "_pos DESC"
    if kind_name == "orders":
        order = "(status = 'refunded') DESC NULLS LAST, " + order
    con.execute(
        f"""UPDATE stage_{name} SET _resent = true WHERE _pos IN (
            SELECT _pos FROM (
                SELECT * FROM stage_{name} WHERE _reason IS NULL AND ({keys}) IN (
                    SELECT ({keys}) FROM stage_{name} WHERE _reason IS NULL GROUP BY ALL HAVING count(*) > 1))
            QUALIFY row_number() OVER (PARTITION BY {keys} ORDER BY {order}) > 1)"""
    )


def _count(con: duckdb.DuckDBPyConnection, table: str, where: str) -> int:
    return int(con.execute(f"SELECT count(*) FROM {table} WHERE {where}").fetchall()[0][0])


def quarantine_unmatched(
    con: duckdb.DuckDBPyConnection, stats: SourceStats, condition: str, reason: str, column: str
) -> None:
    """Quarantine the kept rows of ``clean_<name>`` matching ``condition`` with ``reason``."""
    name = stats.source
    con.execute(
        f"""UPDATE stage_{name} SET _reason = {sql_literal(reason)}, _column = {sql_literal(column)}
        WHERE _reason IS NULL AND NOT _resent AND ({condition})"""
    )
    refresh_counts(con, stats)


def refresh_counts(con: duckdb.DuckDBPyConnection, stats: SourceStats) -> None:
    """Recount loaded / re-sent / quarantined rows and reasons, then check the sum."""
    name = stats.source
    loaded, resent = con.execute(
        f"SELECT count(*) FILTER (WHERE _reason IS NULL AND NOT _resent), count(*) FILTER (WHERE _resent) FROM stage_{name}"
    ).fetchall()[0]
    stats.loaded, stats.resent_duplicates = int(loaded), int(resent)
    detail = con.execute(
        f"""SELECT _reason, _column, count(*) FROM (
                SELECT _reason, _column FROM stage_{name} WHERE _reason IS NOT NULL
                UNION ALL SELECT _reason, NULL FROM bad_{name})
            GROUP BY ALL ORDER BY 1, 2 NULLS FIRST"""
    ).fetchall()
    stats.quarantine_detail = [{"reason": r, "column": c, "rows": int(n)} for r, c, n in detail]
    stats.quarantine_reasons = {}
    for item in stats.quarantine_detail:
        stats.quarantine_reasons[item["reason"]] = stats.quarantine_reasons.get(item["reason"], 0) + item["rows"]
    stats.quarantined = sum(stats.quarantine_reasons.values())
    stats.check()


def quarantine_sql(raw: RawSource, source: SourceConfig) -> str:
    """SELECT of the quarantine rows of ``raw``'s source: reason, position, masked raw fields.

    ``row_number`` is the record's number in its file (header not counted), ``line`` the
    text line it starts on. Malformed records come with no fields (NULL): their content
    cannot be split into columns, so it cannot be masked column by column either. Only the
    fields the kit reads are kept (the kind's canonical columns and declared key columns,
    ``kinds.source_columns``, names dropped): a column the config does not map may hold anything, e.g. a second
    name column, and the file and line point to the whole record.
    """
    known = {c.name for c in source_columns(source)} | set(source.keys)
    names = [c for c in raw.columns if c in known and c not in INTERNAL and c not in PERSONAL]
    fields = "".join(f", {mask_email(mask_phone('r.' + quote_ident(c)))} AS {quote_ident(c)}" for c in names)
    empty = "".join(f", NULL::VARCHAR AS {quote_ident(c)}" for c in names)
    return (
        f"""SELECT * EXCLUDE (_pos) FROM (
        SELECT {sql_literal(raw.name)} AS source, r._file AS file, r._row AS row_number, r._line AS line,
               s._reason AS reason, s._column AS "column"{fields}, s._pos
        FROM (SELECT _pos, _reason, _column FROM stage_{raw.name} WHERE _reason IS NOT NULL) s
        JOIN {raw.table} r USING (_pos)
        UNION ALL
        SELECT {sql_literal(raw.name)}, _file, _row, _line, _reason, NULL::VARCHAR{empty}, _pos FROM bad_{raw.name})
        ORDER BY _pos"""
    )


def missing_shares(con: duckdb.DuckDBPyConnection, name: str, columns: list[str]) -> dict[str, float]:
    """Share of loaded rows with no value, per canonical column present in the file."""
    if not columns:
        return {}
    exprs = ", ".join(f"avg(CASE WHEN {quote_ident(c)} IS NULL THEN 1.0 ELSE 0.0 END)" for c in columns)
    row = con.execute(f"SELECT {exprs} FROM clean_{name}").fetchall()[0]
    return {c: float(v) if v is not None else 0.0 for c, v in zip(columns, row)}
