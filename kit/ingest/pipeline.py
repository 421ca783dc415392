"""``run_ingest``: raw sources -> cleaned, unified canonical warehouse tables.

One DuckDB connection does the row-level work: each declared source is read
(``sources.py``), cleaned (``clean.py``; the identity key is loaded first, as it keys the
ids synthesised for order logs without order ids), its people resolved (``identity.py``),
and the canonical tables of docs/data_contract.md written as Parquet (temp file, then rename).
Personal data (names, phones, e-mails) lives only inside this connection; the written
tables carry ``customer_id`` and keyed hashes only, and quarantined rows are masked.

Written under ``paths.warehouse``: customers, identities, orders, events, surveys,
subscriptions, assignments (.parquet), quarantine/<source>.parquet, identity_registry.parquet,
identity_merges.parquet (merge log across runs) and ingest_report.json. Files read before
come from the parse cache (``paths.ingest_cache``, outside the warehouse: ``cache.py``),
which the run updates and prunes at its end; everything after reading runs over all rows,
so the tables are the same as a rebuild's from an empty cache.

Speed target: the 1,000,000-customer bench world in under 180 s and 6 GB on 2 cores
(``kit bench --customers 1000000 --stages ingest``). Measurements and the fixes:
docs/decisions/0002-ingest-speed-at-1m.md; the cost of the CSV line accounting
(``lines.py``): docs/decisions/0003-csv-line-accounting.md.
"""

from __future__ import annotations

import json
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import duckdb
import pandas as pd

from kit.core.atomic import atomic_path, write_text_atomic
from kit.core.config import KitConfig
from kit.core.dates import snapshot_end
from kit.ingest import quality
from kit.ingest.cache import ParseCache
from kit.ingest.clean import (
    SourceStats,
    clean_source,
    quarantine_sql,
    quarantine_unmatched,
)
from kit.ingest.linkage import attribute_values, linkage_report, review_frame
from kit.ingest.identity import (
    NORMALISE,
    SEP,
    IdentityKey,
    build_links,
    find_overshared,
    hash_sql,
    load_key,
    resolve,
    use_key,
)
from kit.ingest.kinds import (
    DEFAULT_CITY_TIERS,
    GENDERS,
    KEY_PARSE,
    KINDS,
    MAIN_TS,
    PLATFORM_CHANNEL,
    ROW_ID,
    SIGNUP_CHANNELS,
    event_key,
    record_sql,
    unit_keys,
)
from kit.ingest.normalize import quote_ident, sql_literal
from kit.ingest.sources import IngestError, load_source, source_files

REGISTRY = "identity_registry.parquet"
MERGES = "identity_merges.parquet"
REVIEW = "identity_review.parquet"
REPORT = "ingest_report.json"
MEMORY_LIMIT = "4GB"  # DuckDB spills to the scratch folder beyond this (target: 6 GB peak)
# phases of a run: read the files (parse or parse cache), clean them, resolve identities
# (exact rules), link probabilistically, write the warehouse (from the quarantine on)
PHASES = ("read", "clean", "identity", "linkage", "write")


@dataclass
class IngestResult:
    """What one ingest run produced: per-source accounting and the identity figures."""

    warehouse: Path
    month: str
    sources: dict[str, SourceStats]
    skipped: list[str]
    overshared: pd.DataFrame  # key_type, value_masked, n_records, n_accounts, n_sources
    merges: pd.DataFrame  # run_month, merged_id, kept_id
    report: dict  # the content of ingest_report.json
    seconds: dict[str, float]  # wall time per phase (``PHASES``), for the benchmark

    def headline(self) -> dict[str, float | int | str]:
        """Headline figures for metrics/01_ingest.json (``kit.ingest.quality.headline``)."""
        return quality.headline(self.report)


def run_ingest(config: KitConfig) -> IngestResult:
    """Ingest every source declared in ``config.sources`` into the warehouse.

    Raises IngestError (naming source, file and what to do) for unreadable, empty or
    incomplete sources; rejected rows go to the quarantine instead.
    """
    if not config.sources:
        raise IngestError(
            f"no sources declared: add a sources: section to {config.source_file} (see docs/data_contract.md)."
        )
    for name, source in config.sources.items():
        if source.kind not in KINDS:
            raise IngestError(f"source {name!r}: unknown kind {source.kind!r}; use one of {', '.join(KINDS)}.")
    warehouse = config.resolve(config.paths.warehouse)
    warehouse.mkdir(parents=True, exist_ok=True)
    month = config.run.month
    cache = ParseCache(config.resolve(config.paths.ingest_cache), month)
    clock = _Clock()
    con = duckdb.connect()
    with tempfile.TemporaryDirectory(prefix="kit_ingest_") as scratch:
        con.execute(f"SET temp_directory = {sql_literal(scratch)}")
        con.execute(f"SET memory_limit = {sql_literal(MEMORY_LIMIT)}")
        con.execute("SET enable_progress_bar = false")
        key = load_key(config)
        use_key(con, key)
        raws, stats, skipped = {}, {}, []
        for name, source in config.sources.items():
            if not source.required and source.format != "ibis" and not _exists(config, name):
                skipped.append(name)
                continue
            raws[name] = load_source(con, config, name, source, Path(scratch), cache)
            clock.lap("read")
            stats[name] = clean_source(con, raws[name], config, key)
            clock.lap("clean")
        kinds = {name: config.sources[name].kind for name in raws}
        identity_sources = {n: config.sources[n] for n, k in kinds.items() if k in ROW_ID}
        if not identity_sources:
            raise IngestError(
                "no source of kind customers, orders, app_users, surveys or subscriptions is declared, so there are no "
                f"customers to build. Declare at least one in the sources: section of {config.source_file}."
            )
        present = {n: stats[n].columns for n in identity_sources}
        build_links(con, identity_sources, present, config.identity)
        attribute_values(con, identity_sources, present, config.identity)
        overshared = find_overshared(con, config.identity)
        registry_file = warehouse / REGISTRY
        first_run = not registry_file.exists()
        merges, linkage = resolve(con, config.identity, key, None if first_run else registry_file, month)
        clock.lap("identity", linkage.seconds)
        _quarantine_unlinked(con, config, kinds, stats)
        counts = _write_tables(con, config, warehouse, stats, key)
        for name, raw in raws.items():
            _copy(con, quarantine_sql(raw, config.sources[name]), warehouse / "quarantine" / f"{name}.parquet")
        _copy(con, "SELECT id_hash, customer_id, first_run, key_hash, linked FROM reg_new", registry_file)  # unsorted: 13 s saved
        _write_review(con, linkage, warehouse)
        previous = pd.read_parquet(warehouse / MERGES) if (warehouse / MERGES).exists() else None
        merge_log = pd.concat([previous, merges]) if previous is not None and len(previous) else merges
        _write_frame(merge_log.astype("str"), warehouse / MERGES)
        report = _report(con, config, stats, kinds, skipped, overshared, merges, counts, first_run)
        report["identity"]["linkage"] = linkage_report(linkage, report["identity"]["customers"])
    con.close()
    write_text_atomic(warehouse / REPORT, json.dumps(report, ensure_ascii=False, indent=2, default=str))
    cache.finish()
    clock.lap("write")
    return IngestResult(warehouse, month, stats, skipped, overshared, merges, report, clock.seconds)


run = run_ingest  # the stage entry (kit.<stage>.pipeline.run); ingest writes the warehouse as it runs


class _Clock:
    """Wall time per phase of a run (``PHASES``): ``lap`` books the time since the last lap."""

    def __init__(self) -> None:
        self.seconds = dict.fromkeys(PHASES, 0.0)
        self._last = time.perf_counter()

    def lap(self, phase: str, linkage: float = 0.0) -> None:
        """Add the time since the last lap to ``phase``, less ``linkage`` seconds (the
        probabilistic step inside identity resolution), which go to "linkage"."""
        now = time.perf_counter()
        self.seconds[phase] += now - self._last - linkage
        self.seconds["linkage"] += linkage
        self._last = now


def _exists(config: KitConfig, name: str) -> bool:
    try:
        source_files(config, name, config.sources[name])
    except IngestError:
        return False
    return True


def _quarantine_unlinked(
    con: duckdb.DuckDBPyConnection, config: KitConfig, kinds: dict[str, str], stats: dict[str, SourceStats]
) -> None:
    """Events and assignments pointing at no known customer go to the quarantine.

    An event whose key matches no customer: ``unknown_app_user_id`` when the key is an app
    user id (the default), else ``unknown_key``; the ``column`` names the key column (a
    phone or e-mail that did not parse is null and matches nobody either).
    """
    for name, kind in kinds.items():
        if kind == "events":
            column, key_type = event_key(config.sources[name])
            col = quote_ident(column)
            condition = f"{col} NOT IN (SELECT key_value FROM key_customer WHERE key_type = {sql_literal(key_type)})"
            if key_type in KEY_PARSE:  # a phone or e-mail that does not parse is null (text keys are mandatory)
                condition = f"{col} IS NULL OR {condition}"
            reason = "unknown_app_user_id" if key_type == "app_user_id" else "unknown_key"
            quarantine_unmatched(con, stats[name], condition, reason, column)
        elif kind == "assignments":
            condition = (
                "NOT EXISTS (SELECT 1 FROM key_customer k WHERE k.key_type = "
                f"{_unit_key_sql(config)} AND k.key_value = {_unit_value_sql(config)})"
            )
            quarantine_unmatched(con, stats[name], condition, "unknown_unit", "unit_id")


def _unit_key_sql(config: KitConfig, alias: str = "") -> str:
    """SQL mapping an assignment's unit_type to the identity key type it names (``kinds.unit_keys``)."""
    col = f"{alias}unit_type"
    cases = " ".join(f"WHEN {sql_literal(u)} THEN {sql_literal(k)}" for u, k in unit_keys(config.identity).items())
    return f"CASE {col} {cases} END"


def _unit_value_sql(config: KitConfig, alias: str = "") -> str:
    """SQL for an assignment's unit_id as an identifier value: normalised by the rule of the
    key type its unit_type names (a phone, an e-mail), else its cleaned text."""
    col = f"{alias}unit_id"
    cases = " ".join(
        f"WHEN {sql_literal(u)} THEN {NORMALISE[KEY_PARSE[k]](col, 'VARCHAR')}"
        for u, k in unit_keys(config.identity).items()
        if k in KEY_PARSE
    )
    return f"CASE {alias}unit_type {cases} ELSE {col} END" if cases else col


def _has_time_sql(stats: SourceStats) -> str:
    """The ``has_time`` value of a source's rows: false for a date-only source (``clean.py``)."""
    return "true" if stats.has_time else "false"


def _mapping_sql(column: str, mapping: dict[str, str], otherwise: str) -> str:
    cases = " ".join(f"WHEN {sql_literal(k)} THEN {sql_literal(v)}" for k, v in mapping.items())
    return f"CASE {column} {cases} ELSE {otherwise} END"


def _table_sql(config: KitConfig, stats: dict[str, SourceStats], key: IdentityKey) -> dict[str, str]:
    """SELECT statements of the canonical tables."""
    kinds = {name: item.kind for name, item in stats.items()}

    def union(parts: list[str], empty: str) -> str:
        return " UNION ALL ".join(parts) if parts else empty

    orders = []
    for name, kind in kinds.items():
        if kind != "orders":
            continue
        src = sql_literal(name)
        declared = config.sources[name].channel
        channel = sql_literal(declared) if declared else _mapping_sql("o.platform", PLATFORM_CHANNEL, "o.platform")
        record, _ = record_sql(config.sources[name], config.identity, stats[name].columns, "o")
        orders.append(
            f"""SELECT {src} || ':' || o.order_id AS order_id, i.customer_id, {src} AS source,
                {channel} AS channel, o.order_ts, abs(o.amount) AS amount, o.discount, o.category,
                o.items, o.payment_method, o.status, o.status = 'refunded' AS is_refund, o.store_city,
                {_has_time_sql(stats[name])} AS has_time
            FROM clean_{name} o JOIN identities i ON i.source = {src} AND i.source_id = {record}"""
        )
    event_keys = {name: event_key(config.sources[name]) for name, kind in kinds.items() if kind == "events"}
    events = [
        f"""SELECT k.customer_id, e.event_ts, e.event_type, e.category, {_has_time_sql(stats[name])} AS has_time
            FROM clean_{name} e JOIN key_customer k
            ON k.key_type = {sql_literal(key_type)} AND k.key_value = e.{quote_ident(column)}"""
        for name, (column, key_type) in event_keys.items()
    ]
    surveys = [
        f"""SELECT s.response_id, i.customer_id, s.survey_ts, s.nps, s.csat FROM clean_{name} s
            JOIN identities i ON i.source = {sql_literal(name)} AND i.source_id = s.response_id"""
        for name, kind in kinds.items()
        if kind == "surveys"
    ]
    subscriptions = [
        f"""SELECT {sql_literal(name)} || ':' || s.subscription_id AS subscription_id, i.customer_id,
                {sql_literal(name)} AS source, s.plan, s.started_at, s.paid_through, s.mrr, s.cancelled_at
            FROM clean_{name} s JOIN identities i ON i.source = {sql_literal(name)} AND i.source_id = s.subscription_id"""
        for name, kind in kinds.items()
        if kind == "subscriptions"
    ]
    unit_value = _unit_value_sql(config, "a.")
    unit_hash = hash_sql(key, f"'u' || a.unit_type || '{SEP}' || {unit_value}", 16)
    assignments = [
        f"""SELECT a.experiment_id, k.customer_id, a.variant, a.assigned_ts, a.unit_type, {unit_hash} AS unit_id_hash
            FROM clean_{name} a JOIN key_customer k
            ON k.key_type = {_unit_key_sql(config, 'a.')} AND k.key_value = {unit_value}"""
        for name, kind in kinds.items()
        if kind == "assignments"
    ]
    members = [
        f"""SELECT i.customer_id, c.registered_at, c.gender, c.birth_date, c.city, c.signup_channel
            FROM clean_{name} c JOIN identities i ON i.source = {sql_literal(name)} AND i.source_id = c.member_id"""
        for name, kind in kinds.items()
        if kind == "customers"
    ]
    first_events = [
        f"""SELECT {sql_literal(key_type)} AS key_type, {quote_ident(column)} AS key_value, min(event_ts) AS first_event
            FROM clean_{name} GROUP BY ALL"""
        for name, (column, key_type) in event_keys.items()
    ]
    no_events = "SELECT NULL::VARCHAR key_type, NULL::VARCHAR key_value, NULL::TIMESTAMP first_event WHERE false"
    app_sources = [sql_literal(n) for n, k in kinds.items() if k in ("app_users", "events")]
    no_orders = (
        "SELECT NULL::VARCHAR order_id, NULL::VARCHAR customer_id, NULL::VARCHAR source, NULL::VARCHAR channel, "
        "NULL::TIMESTAMP order_ts, NULL::DOUBLE amount, NULL::DOUBLE discount, NULL::VARCHAR category, NULL::BIGINT items, "
        "NULL::VARCHAR payment_method, NULL::VARCHAR status, NULL::BOOLEAN is_refund, NULL::VARCHAR store_city, "
        "NULL::BOOLEAN has_time WHERE false"
    )
    no_members = "SELECT NULL::VARCHAR customer_id, NULL::TIMESTAMP registered_at, NULL::VARCHAR gender, NULL::TIMESTAMP birth_date, NULL::VARCHAR city, NULL::VARCHAR signup_channel WHERE false"
    year_max = int(config.run.month[:4])
    # the sorted list of a customer's sources, without sorting a list per customer (3x slower)
    source_list = ", ".join(
        f"CASE WHEN bool_or(source = {sql_literal(n)}) THEN {sql_literal(n)} END"
        for n in sorted(n for n, k in kinds.items() if k in ROW_ID)
    )
    customers = f"""
        WITH recs AS (
            SELECT customer_id, source, min(first_ts) AS first_ts FROM identities GROUP BY ALL),
        base AS (
            SELECT customer_id, min(first_ts) AS first_seen, CAST(count(*) AS BIGINT) AS n_sources,
                   concat_ws(',', {source_list}) AS sources,
                   bool_or(source IN ({", ".join(app_sources) or "NULL"})) AS is_app
            FROM recs GROUP BY customer_id),
        ev AS (
            SELECT k.customer_id, min(e.first_event) AS first_event
            FROM ({union(first_events, no_events)}) e
            JOIN key_customer k USING (key_type, key_value) GROUP BY ALL),
        mem AS (
            SELECT customer_id, min(registered_at) AS member_since,
                   arg_min(signup_channel, registered_at) AS signup_channel,
                   arg_max(gender, registered_at) AS gender, arg_max(birth_date, registered_at) AS birth_date,
                   arg_max(city, registered_at) AS city
            FROM ({union(members, no_members)}) GROUP BY customer_id),
        ord AS (
            SELECT customer_id, arg_min(channel, order_ts) AS first_channel FROM out_orders GROUP BY customer_id),
        store AS (
            SELECT customer_id, store_city FROM (
                SELECT customer_id, store_city, count(*) AS n FROM out_orders
                WHERE store_city IS NOT NULL GROUP BY ALL)
            QUALIFY row_number() OVER (PARTITION BY customer_id ORDER BY n DESC, store_city) = 1)
        SELECT b.customer_id,
               least(b.first_seen, ev.first_event) AS first_seen,
               m.member_since,
               coalesce({_mapping_sql("lower(m.signup_channel)", SIGNUP_CHANNELS, "lower(m.signup_channel)")},
                        o.first_channel, CASE WHEN b.is_app THEN 'app' END) AS signup_channel,
               {_mapping_sql("lower(m.gender)", GENDERS, "NULL")} AS gender,
               CASE WHEN year(m.birth_date) BETWEEN 1900 AND {year_max} THEN CAST(year(m.birth_date) AS BIGINT) END AS birth_year,
               coalesce(m.city, st.store_city) AS city,
               CAST(t.tier AS BIGINT) AS city_tier,
               b.n_sources,
               b.sources
        FROM base b LEFT JOIN mem m USING (customer_id) LEFT JOIN ord o USING (customer_id)
        LEFT JOIN store st USING (customer_id) LEFT JOIN ev USING (customer_id)
        LEFT JOIN city_tiers t ON t.city = coalesce(m.city, st.store_city)"""
    return {
        "orders": union(orders, no_orders),
        "events": union(events, "SELECT NULL::VARCHAR customer_id, NULL::TIMESTAMP event_ts, NULL::VARCHAR event_type, NULL::VARCHAR category, NULL::BOOLEAN has_time WHERE false"),
        "surveys": union(surveys, "SELECT NULL::VARCHAR response_id, NULL::VARCHAR customer_id, NULL::TIMESTAMP survey_ts, NULL::BIGINT nps, NULL::BIGINT csat WHERE false"),
        "subscriptions": union(subscriptions, "SELECT NULL::VARCHAR subscription_id, NULL::VARCHAR customer_id, NULL::VARCHAR source, NULL::VARCHAR plan, NULL::TIMESTAMP started_at, NULL::TIMESTAMP paid_through, NULL::DOUBLE mrr, NULL::TIMESTAMP cancelled_at WHERE false"),
        "assignments": union(assignments, "SELECT NULL::VARCHAR experiment_id, NULL::VARCHAR customer_id, NULL::VARCHAR variant, NULL::TIMESTAMP assigned_ts, NULL::VARCHAR unit_type, NULL::VARCHAR unit_id_hash WHERE false"),
        "customers": customers,
    }


ORDER_BY = {
    "orders": "order_ts, order_id",
    "events": "",  # tens of millions of rows: written in scan order, a sort would double the time
    "surveys": "response_id",
    "subscriptions": "started_at, subscription_id",
    "assignments": "experiment_id, customer_id",
    "customers": "customer_id",
    "identities": "",  # 6 million rows at 1M customers: sorting cost 7 s and helps no reader
}


def _write_tables(
    con: duckdb.DuckDBPyConnection, config: KitConfig, warehouse: Path, stats: dict[str, SourceStats], key: IdentityKey
) -> dict[str, int]:
    """Build and write the canonical tables; returns their row counts."""
    tiers = config.features.city_tiers or DEFAULT_CITY_TIERS
    con.register("city_tiers_df", pd.DataFrame({"city": list(tiers), "tier": list(tiers.values())}))
    con.execute("CREATE OR REPLACE TABLE city_tiers AS SELECT * FROM city_tiers_df")
    con.unregister("city_tiers_df")
    statements = _table_sql(config, stats, key)
    statements["identities"] = "SELECT source, source_id, customer_id, rule, kind, keyed, match_probability FROM identities"
    con.execute(f"CREATE OR REPLACE TABLE out_orders AS {statements['orders']}")
    statements["orders"] = "SELECT * FROM out_orders"
    return {
        table: _copy(con, statements[table] + (f" ORDER BY {order}" if order else ""), warehouse / f"{table}.parquet")
        for table, order in ORDER_BY.items()
    }


def _copy(con: duckdb.DuckDBPyConnection, select: str, path: Path) -> int:
    """Write a query result to Parquet atomically (``kit.core.atomic.atomic_path``); returns its rows."""
    with atomic_path(path) as tmp:
        rows = con.execute(f"COPY ({select}) TO {sql_literal(str(tmp))} (FORMAT parquet, COMPRESSION zstd)").fetchall()
    return int(rows[0][0])


def _write_frame(frame: pd.DataFrame, path: Path) -> None:
    """Write a small table to Parquet atomically (``kit.core.atomic.atomic_path``)."""
    with atomic_path(path) as tmp:
        frame.to_parquet(tmp, index=False)


def _report(
    con: duckdb.DuckDBPyConnection,
    config: KitConfig,
    stats: dict[str, SourceStats],
    kinds: dict[str, str],
    skipped: list[str],
    overshared: pd.DataFrame,
    merges: pd.DataFrame,
    counts: dict[str, int],
    first_run: bool,
) -> dict:
    """The content of ingest_report.json (all figures the 01_ingest report shows)."""
    month_end = snapshot_end(config.run.month)
    has_orders = "orders" in kinds.values()
    sources = {}
    for name, item in stats.items():
        ts = MAIN_TS[kinds[name]]
        monthly = con.execute(
            f"SELECT strftime(date_trunc('month', {ts}), '%Y-%m') AS month, count(*) FROM clean_{name} "
            f"WHERE {ts} IS NOT NULL GROUP BY ALL ORDER BY 1"
        ).fetchall()
        latest = con.execute(
            f"SELECT min({ts}), max({ts}) FILTER (WHERE {ts} < {sql_literal(str(month_end))}::TIMESTAMP), "
            f"count(*) FILTER (WHERE {ts} >= {sql_literal(str(month_end))}::TIMESTAMP) FROM clean_{name}"
        ).fetchall()[0]
        entry = asdict(item)
        entry.update(
            required=config.sources[name].required,
            revenue=_revenue(con, name, config) if kinds[name] == "orders" else None,
            duplicates=item.duplicates,
            rows_by_month={m: int(n) for m, n in monthly},
            first_record=str(latest[0]) if latest[0] is not None else None,
            latest_record=str(latest[1]) if latest[1] is not None else None,
            rows_after_month_end=int(latest[2]),
            members_without_orders=_members_without_orders(con, name) if kinds[name] == "customers" and has_orders else None,
        )
        sources[name] = entry
    per_source = con.execute(
        """WITH c AS (SELECT customer_id, count(*) AS n_records, count(DISTINCT source) AS n_sources
                      FROM identities GROUP BY ALL)
        SELECT i.source, count(*) AS records, avg((c.n_records > 1)::INT) AS unified,
               avg((c.n_sources > 1)::INT) AS cross_source
        FROM identities i JOIN c USING (customer_id) GROUP BY ALL ORDER BY 1"""
    ).fetchall()
    totals = con.execute(
        """WITH c AS (SELECT customer_id, count(*) AS n_records, count(DISTINCT source) AS n_sources
                      FROM identities GROUP BY ALL)
        SELECT (SELECT count(*) FROM identities), count(*), sum(n_records) FILTER (WHERE n_records > 1),
               avg((n_sources > 1)::INT) FROM c"""
    ).fetchall()[0]
    rules = dict(con.execute("SELECT rule, count(*) FROM identities GROUP BY ALL ORDER BY 1").fetchall())
    identity = {
        "records": int(totals[0]),
        "customers": int(totals[1]),
        "records_unified_share": float(totals[2] or 0) / max(int(totals[0]), 1),
        "multi_source_customer_share": float(totals[3] or 0.0),
        "by_source": [
            {"source": s, "records": int(n), "unified_share": float(u), "cross_source_share": float(x)}
            for s, n, u, x in per_source
        ],
        "rules": {k: int(v) for k, v in rules.items()},
        "overshared_rule": {
            "accounts": config.identity.overshared_threshold,
            "orphan_records": config.identity.overshared_orphan_threshold,
            "records": config.identity.overshared_total_threshold,
        },
        "overshared": overshared.to_dict(orient="records"),
        "merges": int(len(merges)),
        "first_run": first_run,
    }
    report = {
        "run_month": config.run.month,
        "month_end": str(month_end),
        "generated_at": pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds"),
        "sources": sources,
        "skipped_sources": skipped,
        "identity": identity,
        "tables": counts,
        "gate": asdict(config.ingest.gate),
    }
    report["fitness"] = quality.fitness(report).to_dict()
    return report


def _write_review(con: duckdb.DuckDBPyConnection, linkage, warehouse: Path) -> None:
    """``identity_review.parquet``: the borderline pairs of this run for a person to check,
    with pseudonymous ids and comparison levels only (``linkage.review_frame``)."""
    _write_frame(review_frame(con, linkage), warehouse / REVIEW)


def _members_without_orders(con: duckdb.DuckDBPyConnection, name: str) -> float:
    """Share of the records of customers source ``name`` whose customer has no order (the
    gate's ``members_without_orders``: a CRM whose members link to no order at all means
    the order log's customer key is not declared as the members' key)."""
    share = con.execute(
        f"""SELECT avg(CASE WHEN o.customer_id IS NULL THEN 1.0 ELSE 0.0 END) FROM identities i
        LEFT JOIN (SELECT DISTINCT customer_id FROM out_orders) o USING (customer_id) WHERE i.source = {sql_literal(name)}"""
    ).fetchall()[0][0]
    return float(share or 0.0)


def _revenue(con: duckdb.DuckDBPyConnection, name: str, config: KitConfig) -> dict[str, float]:
    """Amounts of an orders source: loaded, and in quarantined rows (the gate's revenue_lost).

    Quarantined amounts count when they parse and are plausible (an implausible amount is
    not revenue); re-sent versions and duplicates count in neither.
    """
    plausible = f"isfinite(amount) AND abs(amount) <= {config.ingest.max_amount!r}"
    loaded, lost = con.execute(
        f"""SELECT coalesce(sum(abs(amount)) FILTER (WHERE _reason IS NULL AND NOT _resent), 0),
                   coalesce(sum(abs(amount)) FILTER (WHERE _reason IS NOT NULL AND {plausible}), 0)
            FROM stage_{name}"""
    ).fetchall()[0]
    return {"loaded": float(loaded), "quarantined": float(lost)}
