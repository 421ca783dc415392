"""Row-level cleaning of one loaded source, as set-based DuckDB SQL.

``clean_source`` turns ``raw_<name>`` into ``stage_<name>`` (canonical, typed columns plus
the row position ``_pos``, the quarantine ``_reason`` / ``_column`` and a ``_resent`` flag)
and the view ``clean_<name>`` (the rows kept), in three steps:

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

from kit.core.config import IngestConfig, SourceConfig
from kit.ingest.kinds import KINDS, ORDER_STATUSES, PERSONAL, Column, Kind
from kit.ingest.normalize import (
    TEXT_TYPES,
    TRIMMED,
    blank_sql,
    email_sql,
    mask_email,
    mask_phone,
    number_sql,
    phone_sql,
    quote_ident,
    sql_literal,
    text_sql,
    timestamp_sql,
    trimmed_text_sql,
    whole_number_sql,
)
from kit.ingest.sources import IngestError, RawSource

INTERNAL = ("_file", "_row", "_line", "_pos")
MONEY = ("amount", "discount")  # number columns held to ingest.max_amount


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
    read: int = 0
    exact_duplicates: int = 0
    resent_duplicates: int = 0
    quarantined: int = 0
    loaded: int = 0
    quarantine_reasons: dict[str, int] = field(default_factory=dict)
    quarantine_detail: list[dict] = field(default_factory=list)  # reason, column, rows
    values_nulled: dict[str, int] = field(default_factory=dict)
    missing_share: dict[str, float] = field(default_factory=dict)

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
    column: Column, present: dict[str, str], source: SourceConfig, project_tz: str, limits: IngestConfig
) -> str:
    """The SQL expression giving the cleaned value of ``column`` (NULL when absent).

    Integer columns are parsed in two steps by ``clean_source`` (number, then whole number).
    A date of a nullable column (birth date) outside the plausible range is NULL.
    """
    if column.name not in present:
        return "NULL"
    col, dtype = quote_ident(column.name), present[column.name]
    if column.parse == "phone":
        return phone_sql(col, dtype)
    if column.parse == "email":
        return email_sql(col, dtype)
    if column.parse == "number":
        return number_sql(col, dtype)
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


def _checks(kind_name: str, kind: Kind, present: dict[str, str], limits: IngestConfig) -> list[tuple[str, str, str]]:
    """(reason, column, SQL condition) in the order they are tested."""
    checks = []
    for column in kind.columns:
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
    return checks


def clean_source(
    con: duckdb.DuckDBPyConnection, raw: RawSource, source: SourceConfig, project_tz: str, limits: IngestConfig
) -> SourceStats:
    """Clean ``raw_<name>`` into ``stage_<name>`` / view ``clean_<name>``; return its accounting."""
    name, kind = raw.name, KINDS[source.kind]
    present = {c: t for c, t in raw.columns.items() if c in {col.name for col in kind.columns}}
    missing = [c.name for c in kind.columns if c.required and c.name not in present]
    if missing:
        found = ", ".join(c for c in raw.columns if c not in INTERNAL)
        reverse = {v: k for k, v in source.columns.items()}
        wanted = ", ".join(f"{m!r}" + (f" (mapped from {reverse[m]!r})" if m in reverse else "") for m in missing)
        raise IngestError(
            f"source {name!r} (kind {source.kind}, file {', '.join(raw.files)}): required column(s) "
            f"{wanted} missing. Columns found: {found}. Fix the file's header or map its column "
            f"to the canonical name under sources.{name}.columns in the config."
        )
    fields = ", ".join(quote_ident(c) for c in raw.columns if c not in INTERNAL)
    con.execute(
        f"""CREATE OR REPLACE TABLE dup_{name} AS
        SELECT _pos FROM (
            SELECT * FROM {raw.table} WHERE hash({fields}) IN (
                SELECT hash({fields}) AS h FROM {raw.table} GROUP BY h HAVING count(*) > 1))
        QUALIFY row_number() OVER (PARTITION BY {fields} ORDER BY _pos) > 1"""
    )
    # step 1 trims every text column once; step 2 parses; step 3 picks the first failed check
    types = {c: TRIMMED if t in TEXT_TYPES else t for c, t in present.items()}
    trimmed = ", ".join(f"{trimmed_text_sql(quote_ident(c), t)} AS {quote_ident(c)}" for c, t in present.items())
    parsed = []
    for column in kind.columns:
        if column.parse == "integer":
            number = number_sql(quote_ident(column.name), types[column.name]) if column.name in types else "NULL"
            parsed.append(f"{number} AS p_{column.name}_num")
        else:
            parsed.append(f"{_parsed_sql(column, types, source, project_tz, limits)} AS p_{column.name}")
    wholes = [f"{whole_number_sql(f'p_{c.name}_num')} AS p_{c.name}" for c in kind.columns if c.parse == "integer"]
    nullable = [c.name for c in kind.columns if c.on_invalid == "null" and c.name in present]
    flags = [f"{quote_ident(c)} IS NOT NULL AND p_{c} IS NULL AS _nulled_{c}" for c in nullable]
    checks = _checks(source.kind, kind, types, limits)
    # the first failing check's number, evaluated once; reason and column are looked up
    first = "CASE " + " ".join(f"WHEN {cond} THEN {i}" for i, (_, _, cond) in enumerate(checks, 1)) + " END"
    reasons = "[" + ", ".join(sql_literal(r) for r, _, _ in checks) + "]"
    columns = "[" + ", ".join(sql_literal(c) for _, c, _ in checks) + "]"
    if not checks:
        first, reasons, columns = "NULL::INTEGER", "[NULL::VARCHAR]", "[NULL::VARCHAR]"
    outputs = [f"p_{c.name} AS {c.name}" for c in kind.columns] + flags
    con.execute(
        f"""CREATE OR REPLACE TABLE stage_{name} AS
        SELECT * EXCLUDE (_check), {reasons}[_check] AS _reason, {columns}[_check] AS _column, false AS _resent FROM (
            SELECT {", ".join(outputs)}, _pos, {first} AS _check FROM (
                SELECT *{"".join(", " + w for w in wholes)} FROM (
                    SELECT *, {", ".join(parsed)} FROM (
                        SELECT _pos{", " + trimmed if trimmed else ""} FROM {raw.table} ANTI JOIN dup_{name} USING (_pos)))))"""
    )
    if kind.key:
        _mark_resent(con, name, kind, source.kind)
    keep = ", ".join([c.name for c in kind.columns] + ["_pos"])
    con.execute(f"CREATE OR REPLACE VIEW clean_{name} AS SELECT {keep} FROM stage_{name} WHERE _reason IS NULL AND NOT _resent")
    stats = SourceStats(name, source.kind, raw.files, raw.encodings, read=raw.records)
    stats.exact_duplicates = _count(con, f"dup_{name}", "true")
    if nullable:
        counts = ", ".join(f"count(*) FILTER (WHERE _nulled_{c})" for c in nullable)
        row = con.execute(f"SELECT {counts} FROM stage_{name} WHERE _reason IS NULL AND NOT _resent").fetchall()[0]
        stats.values_nulled = {f"{c}_invalid": int(v) for c, v in zip(nullable, row) if v}
    refresh_counts(con, stats)
    stats.missing_share = missing_shares(con, name, [c.name for c in kind.columns if c.name in present])
    return stats


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


def quarantine_sql(raw: RawSource) -> str:
    """SELECT of the quarantine rows of ``raw``'s source: reason, position, masked raw fields.

    ``row_number`` is the record's number in its file (header not counted), ``line`` the
    text line it starts on. Malformed records come with no fields (NULL): their content
    cannot be split into columns, so it cannot be masked column by column either.
    """
    names = [c for c in raw.columns if c not in INTERNAL and c not in PERSONAL]
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
