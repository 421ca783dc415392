"""Identity resolution: one pseudonymous, stable ``customer_id`` per person across sources.

Records (a CRM member, a shop account, a POS receipt, an app user, a survey response;
``kinds.record_sql``) are linked through the identity keys they carry: each source's
declared ``keys`` (column -> key type), or its kind's defaults (``kinds.DEFAULT_KEYS``:
member id, phone, e-mail, app user id, shop user id), of the types in ``identity.keys``.
The same key type links across sources: an order log's member-number column declared
``member_id`` links its orders to the CRM. Phones and e-mails are normalised by their
rules, any other key type is compared as trimmed text. People are the connected
components of the bipartite graph records <-> identifier values, over an integer edge list
built in DuckDB (no Python loop per row). They are computed on the engine through Ibis
(``kit.ingest.components``: min-label propagation on a contracting graph, numbered as
``scipy.sparse.csgraph.connected_components`` numbers them, so the linkage's samples and
ties do not move): the edge list never comes into Python, and the step can move with the
rest of the row-level work to Spark or a warehouse. It costs more than scipy on DuckDB: 5
to 9 s against about 1 s on a graph the size of the 1,000,000-customer world's, on 2 shared
cores (docs/decisions/0021-components-through-ibis.md).

Over-shared identifiers. An identifier that is not an account key (a phone, an e-mail, a
custom key not listed in ``identity.account_keys``) and is not one person's is never used
to merge: its edges are dropped, so those records stay apart unless another identifier
links them. It is over-shared when it is carried by
- more than ``overshared_threshold`` accounts (members, app users, shop users), or
- more than ``overshared_orphan_threshold`` records and no account at all, or
- more than ``overshared_total_threshold`` records of any kind.
Why not a single count: a loyal customer's phone sits on dozens of receipts, but also on
their member / shop / app account; the store's walk-in number sits on receipts only.
Account keys (``identity.account_keys``: member, app and shop user ids by default) name
one account by construction and are never treated as over-shared. The report shows
over-shared values masked (``138****8000``).

The ``identities`` table names, per record, its source and kind, its customer id, the
matching rule (the highest-priority key type in ``identity.keys`` it shares with another
record, else ``singleton``) and ``keyed``: whether it carries any identifier used for
linking (over-shared ones do not count). An order record that is not keyed is a one-off
receipt nobody can recognise again (``Warehouse.anonymous_receipts``).

Stable ids. ``identity_registry.parquet`` maps the keyed hash of every record id and
identifier value (never the value itself) to its ``customer_id`` and the run month that
first saw it, with the fingerprint of the key that made it. On the next run each
component takes over the registered id its nodes carry; when a component now holds several registered ids it keeps the oldest (earliest
first run, then smallest id) and the others are recorded in ``identity_merges.parquet``;
when an old component splits, the part holding most of its nodes keeps the id. A new
component gets ``id_prefix`` + 10 hex digits of the keyed hash of its smallest node
hash, re-hashed with a counter on the rare collision with an existing id.

The key. Every hash is HMAC-SHA256 under a secret key that lives outside the warehouse
and the reports (``load_key``): the environment variable named by ``identity.key_env``
when it is set, else the file ``identity.key_file`` (created on the first ingest with 256
random bits, mode 0600), so a copy of the warehouse and the exports gives nothing to try.
The HMAC runs in DuckDB SQL (``use_key`` defines a temporary macro of two SHA-256 over the
key's inner and outer pads, equal to Python's ``hmac``; tests/integration/test_identity_key.py
checks it). The pads appear in that one statement only, never in the queries that use the
macro, so a failing query's message cannot show the key. The registry stores the key's
fingerprint (an HMAC of a fixed text, not the key): a warehouse built under another key
stops the ingest with a message instead of silently giving every customer a new id.

Measurements and the options tried: docs/decisions/0004-overshared-identifiers.md,
docs/decisions/0005-identity-hmac-key.md.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import sys
from dataclasses import dataclass
from pathlib import Path

import duckdb
import ibis
import numpy as np
import pandas as pd
import pyarrow as pa

from kit.core.config import IdentityConfig, KitConfig, SourceConfig
from kit.ingest.components import components
from kit.ingest.kinds import KEY_PARSE, KINDS, MAIN_TS, identity_keys, record_sql
from kit.ingest.linkage import Linkage, link
from kit.ingest.normalize import (
    email_sql,
    mask_phone_value,
    phone_sql,
    quote_ident,
    sql_literal,
)
from kit.ingest.sources import IngestError

SEP = "\x1f"
NORMALISE = {"phone": phone_sql, "email": email_sql}  # key parse rule -> SQL builder


KEY_BYTES = 32  # a created key holds 256 random bits
MIN_KEY_CHARS = 32
BLOCK = 64  # SHA-256 block size: HMAC pads the key to it
FINGERPRINT_TEXT = b"kit identity key fingerprint"


class IdentityKeyError(IngestError):
    """The pseudonymisation key is unusable or is not the one the warehouse was built with."""


@dataclass(frozen=True)
class IdentityKey:
    """The secret of the keyed hashes, and where it came from (for messages; never the key)."""

    secret: bytes
    origin: str

    @property
    def fingerprint(self) -> str:
        """16 hex digits identifying the key without revealing it (stored in the registry)."""
        return hmac.new(self.secret, FINGERPRINT_TEXT, hashlib.sha256).hexdigest()[:16]

    def __repr__(self) -> str:  # never print the secret
        return f"IdentityKey(origin={self.origin!r}, fingerprint={self.fingerprint!r})"


def load_key(config: KitConfig) -> IdentityKey:
    """The pseudonymisation key: the environment variable ``identity.key_env`` when set,
    else the text of ``identity.key_file``, created (256 random bits as hex, mode 0600)
    with one line on stderr when it does not exist yet."""
    identity = config.identity
    text = os.environ.get(identity.key_env, "").strip()
    origin = f"environment variable {identity.key_env}"
    if not text:
        file = config.resolve(identity.key_file)
        origin = str(file)
        for folder in (config.paths.warehouse, config.paths.reports):
            if file.is_relative_to(config.resolve(folder)):
                raise IdentityKeyError(
                    f"identity.key_file {file} in {config.source_file} lies inside {config.resolve(folder)}, "
                    "which is copied and shared: a copy would carry the key. Move the key file elsewhere "
                    "(default secrets/identity.key) and point identity.key_file at it."
                )
        if not file.exists():
            file.parent.mkdir(parents=True, exist_ok=True)
            descriptor = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "w", encoding="utf-8") as out:
                out.write(secrets.token_hex(KEY_BYTES) + "\n")
            print(
                f"kit: created the identity key {file}: keep it and back it up (outside the warehouse); "
                "losing or replacing it changes every customer id.",
                file=sys.stderr,
            )
        text = file.read_text(encoding="utf-8").strip()
    if len(text) < MIN_KEY_CHARS:
        raise IdentityKeyError(
            f"identity key from {origin} has {len(text)} characters; it needs at least {MIN_KEY_CHARS} "
            f"(e.g. the 64 hex digits of `python -c 'import secrets; print(secrets.token_hex(32))'`)."
        )
    return IdentityKey(text.encode("utf-8"), origin)


def _macro(key: IdentityKey) -> str:
    """Name of the SQL macro computing HMAC-SHA256 under ``key`` (by its fingerprint, so
    a query can never run under another key's macro)."""
    return f"kit_hmac_{key.fingerprint}"


def use_key(con: duckdb.DuckDBPyConnection, key: IdentityKey) -> None:
    """Define the temporary macro behind ``hash_sql`` on ``con``.

    HMAC(K, m) = SHA256((K ^ opad) || SHA256((K ^ ipad) || m)); the pads are constants
    folded into the macro, so DuckDB runs two SHA-256 per value.
    """
    secret = key.secret if len(key.secret) <= BLOCK else hashlib.sha256(key.secret).digest()
    padded = secret.ljust(BLOCK, b"\0")
    inner = bytes(b ^ 0x36 for b in padded).hex()
    outer = bytes(b ^ 0x5C for b in padded).hex()
    con.execute(
        f"CREATE OR REPLACE TEMP MACRO {_macro(key)}(x) AS "
        f"sha256(unhex('{outer}') || unhex(sha256(unhex('{inner}') || encode(x))))"
    )


def hash_sql(key: IdentityKey, text_sql: str, length: int = 32) -> str:
    """SQL for the first ``length`` hex digits of HMAC-SHA256(key, text) (UTF-8 bytes);
    the connection needs ``use_key(con, key)`` first."""
    return f"substr({_macro(key)}({text_sql}), 1, {length})"


def check_registry_key(registry: Path, key: IdentityKey) -> None:
    """Raise IdentityKeyError when ``registry`` was not written under ``key``."""
    con = duckdb.connect()
    try:
        columns = {row[0] for row in con.execute(f"DESCRIBE SELECT * FROM read_parquet({sql_literal(str(registry))})").fetchall()}
        found = (
            [row[0] for row in con.execute(f"SELECT DISTINCT key_hash FROM read_parquet({sql_literal(str(registry))})").fetchall()]
            if "key_hash" in columns
            else ["none (written before keyed hashes)"]
        )
    finally:
        con.close()
    if found and found != [key.fingerprint]:
        raise IdentityKeyError(
            f"{registry} was built with identity key fingerprint {', '.join(map(str, found))}, but the key from "
            f"{key.origin} has fingerprint {key.fingerprint}: every customer id would change. Restore the key "
            "this warehouse was built with (from your backup), or, to start new customer ids on purpose, "
            "move the warehouse folder away and ingest again."
        )


def build_links(
    con: duckdb.DuckDBPyConnection, sources: dict[str, SourceConfig], present: dict[str, list[str]], identity: IdentityConfig
) -> None:
    """Tables ``id_records`` (source, kind, source_id, first_ts, is_account) and ``id_links``
    (source, source_id, key_type, key_value).

    ``sources`` maps source name -> config for the identity-bearing sources, ``present``
    source name -> the columns its files have (``SourceStats.columns``); the cleaned
    tables ``clean_<name>`` must exist.
    """
    records, links = [], []
    for name, source in sources.items():
        rid, is_account = record_sql(source, identity, present[name])
        records.append(
            f"SELECT {sql_literal(name)} AS source, {sql_literal(source.kind)} AS kind, {rid} AS source_id, "
            f"min({MAIN_TS[source.kind]}) AS first_ts, bool_or({is_account}) AS is_account FROM clean_{name} GROUP BY ALL"
        )
        for column, key_type in identity_keys(source, identity, present[name]).items():
            value = _key_value_sql(source, column, key_type)
            links.append(
                f"SELECT {sql_literal(name)} AS source, {rid} AS source_id, {sql_literal(key_type)} AS key_type, "
                f"{value} AS key_value FROM clean_{name} WHERE {value} IS NOT NULL"
            )
    con.execute("CREATE OR REPLACE TABLE id_records AS " + " UNION ALL ".join(records))
    empty = "SELECT NULL::VARCHAR source, NULL::VARCHAR source_id, NULL::VARCHAR key_type, NULL::VARCHAR key_value WHERE false"
    con.execute("CREATE OR REPLACE TABLE id_links AS SELECT DISTINCT * FROM (" + " UNION ALL ".join(links or [empty]) + ")")


def _key_value_sql(source: SourceConfig, column: str, key_type: str) -> str:
    """SQL for the identifier value of key column ``column``: its cleaned value when the
    column's own rule already normalises it the key type's way, else the key type's rule
    (phone, e-mail) applied to its text, else its text."""
    kind = KINDS[source.kind]
    rule = next((c.parse for c in kind.columns if c.name == column), KEY_PARSE.get(key_type, "text"))
    text = f"CAST({quote_ident(column)} AS VARCHAR)"
    wanted = KEY_PARSE.get(key_type)
    if wanted and rule != wanted:
        return NORMALISE[wanted](text, "VARCHAR")
    return text


def find_overshared(con: duckdb.DuckDBPyConnection, identity: IdentityConfig) -> pd.DataFrame:
    """Mark over-shared identifiers (table ``overshared``; rules in the module docstring).

    Returns key_type, masked value, records, accounts and sources per over-shared identifier.
    """
    accounts = ", ".join(sql_literal(k) for k in identity.account_keys) or "NULL"
    con.execute(
        f"""CREATE OR REPLACE TABLE overshared AS
        SELECT l.key_type, l.key_value, count(*) AS n_records,
               count(*) FILTER (WHERE r.is_account) AS n_accounts, count(DISTINCT l.source) AS n_sources
        FROM id_links l JOIN id_records r USING (source, source_id)
        WHERE l.key_type NOT IN ({accounts}) GROUP BY ALL
        HAVING n_accounts > {int(identity.overshared_threshold)}
            OR (n_accounts = 0 AND n_records > {int(identity.overshared_orphan_threshold)})
            OR n_records > {int(identity.overshared_total_threshold)}"""
    )
    frame = con.execute("SELECT * FROM overshared ORDER BY n_records DESC, key_type, key_value").df()
    masked = [mask_value(k, v) for k, v in zip(frame["key_type"], frame["key_value"])]
    return pd.DataFrame(
        {
            "key_type": frame["key_type"].astype("str"),
            "value_masked": pd.Series(masked, dtype="str"),
            "n_records": frame["n_records"].astype("int64"),
            "n_accounts": frame["n_accounts"].astype("int64"),
            "n_sources": frame["n_sources"].astype("int64"),
        }
    )


def mask_value(key_type: str, value: str) -> str:
    """An identifier as a report may show it: ``138****8000``, ``a***@example.com``, and
    any other key (a card or customer number may be personal) as its first character."""
    if key_type == "phone":
        return mask_phone_value(value)
    if key_type == "email":
        return value[:1] + "***@" + value.split("@")[-1]
    return value[:1] + "***"


def resolve(
    con: duckdb.DuckDBPyConnection,
    identity: IdentityConfig,
    key: IdentityKey,
    registry: Path | None,
    run_month: str,
) -> tuple[pd.DataFrame, Linkage]:
    """Connected components, probabilistic links between them (``kit.ingest.linkage``) and
    stable ids; returns the merges of this run and what the linkage did.

    ``registry`` is last run's ``identity_registry.parquet`` (None on the first run); it
    must have been written under ``key`` (IdentityKeyError otherwise).
    Creates tables ``identities`` (source, source_id, customer_id, rule, kind, keyed, first_ts),
    ``key_customer`` (key_type, key_value, customer_id) for every usable identifier and
    ``reg_new`` (id_hash, customer_id, first_run, key_hash), the registry to write
    for next month.
    """
    if registry is not None:
        check_registry_key(registry, key)
    # Graph nodes are numbered by table row: records 0 .. n_rec - 1, then identifier values.
    # Each node's keyed hash (for the registry) is computed once; the graph is built from
    # integer row numbers, not by joining on hashes (measured at 1,000,000 customers:
    # 45 s with hash joins and a sort of all hashes). The rows are in a fixed order, so the
    # component numbers repeat from run to run: the linkage's sampled pairs and its ties
    # follow them (the parallel scan order had moved the demo's joins by up to 23 of 1,700).
    con.execute(
        f"""CREATE OR REPLACE TABLE id_rec AS SELECT source, source_id, kind, first_ts,
            {hash_sql(key, f"'r' || source || '{SEP}' || source_id")} AS h FROM id_records ORDER BY source, source_id"""
    )
    con.execute("CREATE OR REPLACE TABLE id_use AS SELECT * FROM id_links ANTI JOIN overshared USING (key_type, key_value)")
    con.execute(
        f"""CREATE OR REPLACE TABLE id_key AS SELECT key_type, key_value,
            {hash_sql(key, f"'k' || key_type || '{SEP}' || key_value")} AS h
        FROM (SELECT DISTINCT key_type, key_value FROM id_use) ORDER BY key_type, key_value"""
    )
    n_rec = int(con.execute("SELECT count(*) FROM id_rec").fetchall()[0][0])
    n_key = int(con.execute("SELECT count(*) FROM id_key").fetchall()[0][0])
    n_nodes = n_rec + n_key
    con.execute(
        f"""CREATE OR REPLACE VIEW id_edges AS SELECT r.rowid AS src, {n_rec} + k.rowid AS dst FROM id_use u
        JOIN id_rec r USING (source, source_id) JOIN id_key k USING (key_type, key_value)"""
    )
    # Read through a cursor of the same database: ibis sets the time zone to UTC and turns
    # off replacement scans on the connection it wraps, and ingest's connection keeps its own.
    with con.cursor() as cursor:
        exact, _ = components(ibis.duckdb.from_connection(cursor).table("id_edges"), n_nodes)
    labels, summary = _link(con, identity, registry, exact, n_rec)
    con.register("labels_arrow", pa.table({"node": np.arange(n_nodes, dtype=np.int64), "comp": labels, "comp0": exact}))
    con.execute(
        """CREATE OR REPLACE TABLE rec_comp AS SELECT r.source, r.source_id, r.kind, r.first_ts, r.h, l.comp, l.comp0
        FROM id_rec r JOIN labels_arrow l ON l.node = r.rowid"""
    )
    con.execute(
        f"""CREATE OR REPLACE TABLE key_comp AS SELECT k.key_type, k.key_value, k.h, l.comp
        FROM id_key k JOIN labels_arrow l ON l.node = {n_rec} + k.rowid"""
    )
    con.unregister("labels_arrow")
    con.execute(
        """CREATE OR REPLACE TABLE node_comp AS
        WITH n AS (SELECT h, comp FROM rec_comp UNION ALL SELECT h, comp FROM key_comp)
        SELECT n.h, n.comp, c.comp_key FROM n JOIN (SELECT comp, min(h) AS comp_key FROM n GROUP BY comp) c USING (comp)"""
    )
    merges = _assign_ids(con, identity, key, registry, run_month)
    _write_identity_tables(con, identity)
    return merges, summary


def _link(
    con: duckdb.DuckDBPyConnection, identity: IdentityConfig, registry: Path | None, exact: np.ndarray, n_rec: int
) -> tuple[np.ndarray, Linkage]:
    """The probabilistic step (``kit.ingest.linkage``) over the exact-rule components
    ``exact`` of every graph node; returns the final component of every node.

    Creates ``rec_comp0`` (source, source_id, comp) and ``link_used`` (comp0,
    match_probability: the strongest link that joined that exact-rule customer). Links
    carried from last month: the exact-rule customers whose nodes the registry puts in one
    customer that a probabilistic link had made (``linked``)."""
    con.register("exact_arrow", pa.table({"node": np.arange(exact.size, dtype=np.int64), "comp": exact}))
    con.execute(
        """CREATE OR REPLACE TABLE rec_comp0 AS SELECT r.source, r.source_id, e.comp
        FROM id_rec r JOIN exact_arrow e ON e.node = r.rowid"""
    )
    carried = pd.DataFrame({"comp_l": pd.Series(dtype="int64"), "comp_r": pd.Series(dtype="int64")})
    if registry is not None and "linked" in _columns(con, registry):
        carried = con.execute(
            f"""WITH nodes AS (
                SELECT r.h, e.comp FROM id_rec r JOIN exact_arrow e ON e.node = r.rowid
                UNION ALL SELECT k.h, e.comp FROM id_key k JOIN exact_arrow e ON e.node = {n_rec} + k.rowid),
            c AS (SELECT DISTINCT g.customer_id, n.comp FROM read_parquet({sql_literal(str(registry))}) g
                  JOIN nodes n ON n.h = g.id_hash WHERE g.linked)
            SELECT min(comp) OVER (PARTITION BY customer_id) AS comp_l, comp AS comp_r FROM c
            QUALIFY comp_r <> comp_l ORDER BY comp_l, comp_r"""
        ).df()
    con.unregister("exact_arrow")
    labels, links, summary = link(con, identity, exact, carried)
    both = pd.concat([links[["comp_l", "match_probability"]].set_axis(["comp0", "match_probability"], axis=1),
                      links[["comp_r", "match_probability"]].set_axis(["comp0", "match_probability"], axis=1)])
    con.register("links_df", both)
    con.execute("CREATE OR REPLACE TABLE link_used AS SELECT comp0, max(match_probability) AS match_probability "
                "FROM links_df GROUP BY comp0")
    con.unregister("links_df")
    summary.carried = int(links["match_probability"].isna().sum())
    return labels, summary


def _columns(con: duckdb.DuckDBPyConnection, parquet: Path) -> set[str]:
    """The column names of a Parquet file."""
    return {row[0] for row in con.execute(f"DESCRIBE SELECT * FROM read_parquet({sql_literal(str(parquet))})").fetchall()}


def _assign_ids(
    con: duckdb.DuckDBPyConnection, identity: IdentityConfig, key: IdentityKey, registry: Path | None, run_month: str
) -> pd.DataFrame:
    """Table ``comp_cid`` (comp -> customer_id) and ``reg_new``; returns this run's merges."""
    source = (
        f"read_parquet({sql_literal(str(registry))})"
        if registry is not None
        else "(SELECT NULL AS id_hash, NULL AS customer_id, NULL AS first_run, false AS linked WHERE false)"
    )
    linked = "linked" if registry is not None and "linked" in _columns(con, registry) else "false"
    con.execute(
        "CREATE OR REPLACE TABLE reg AS SELECT id_hash::VARCHAR id_hash, customer_id::VARCHAR customer_id, "
        f"first_run::VARCHAR first_run, {linked}::BOOLEAN AS linked FROM {source}"
    )
    # Each registered id goes to the component holding most of its nodes (ties: smallest key).
    con.execute(
        """CREATE OR REPLACE TABLE owned AS
        WITH cand AS (
            SELECT n.comp, n.comp_key, r.customer_id, count(*) AS n
            FROM node_comp n JOIN reg r ON r.id_hash = n.h GROUP BY ALL),
        age AS (SELECT customer_id, min(first_run) AS first_run FROM reg GROUP BY ALL)
        SELECT c.comp, c.customer_id, a.first_run FROM cand c JOIN age a USING (customer_id)
        QUALIFY row_number() OVER (PARTITION BY c.customer_id ORDER BY c.n DESC, c.comp_key) = 1"""
    )
    con.execute(
        """CREATE OR REPLACE TABLE comp_cid AS
        SELECT comp, customer_id FROM owned
        QUALIFY row_number() OVER (PARTITION BY comp ORDER BY first_run, customer_id) = 1"""
    )
    merges = con.execute(
        f"""SELECT {sql_literal(run_month)} AS run_month, o.customer_id AS merged_id, k.customer_id AS kept_id
        FROM owned o JOIN comp_cid k USING (comp) WHERE o.customer_id <> k.customer_id ORDER BY merged_id"""
    ).df()
    # New components: prefix + 10 hex digits of the keyed hash of the component key.
    prefix = sql_literal(identity.id_prefix)
    con.execute(
        f"""CREATE OR REPLACE TABLE comp_new AS
        SELECT comp, comp_key, 0 AS attempt, {prefix} || {hash_sql(key, "'c' || comp_key", 10)} AS customer_id
        FROM (SELECT DISTINCT comp, comp_key FROM node_comp) ANTI JOIN comp_cid USING (comp)"""
    )
    while True:
        clash = con.execute(
            """CREATE OR REPLACE TEMP TABLE clash AS
            SELECT comp FROM comp_new n WHERE customer_id IN (SELECT customer_id FROM reg)
            UNION SELECT comp FROM comp_new QUALIFY row_number() OVER (PARTITION BY customer_id ORDER BY comp_key) > 1;
            SELECT count(*) FROM clash"""
        ).fetchall()[0][0]
        if not clash:
            break
        con.execute(
            f"""UPDATE comp_new SET attempt = attempt + 1,
            customer_id = {prefix} || {hash_sql(key, "'c' || comp_key || '#' || CAST(attempt + 1 AS VARCHAR)", 10)}
            WHERE comp IN (SELECT comp FROM clash)"""
        )
    con.execute("INSERT INTO comp_cid SELECT comp, customer_id FROM comp_new")
    con.register("merges_df", merges)
    con.execute(
        f"""CREATE OR REPLACE TABLE reg_new AS SELECT *, {sql_literal(key.fingerprint)} AS key_hash FROM (
        SELECT n.h AS id_hash, c.customer_id, coalesce(r.first_run, {sql_literal(run_month)}) AS first_run,
               c.comp IN (SELECT comp FROM rec_comp SEMI JOIN link_used USING (comp0)) AS linked
        FROM node_comp n JOIN comp_cid c USING (comp) LEFT JOIN reg r ON r.id_hash = n.h
        UNION ALL
        SELECT r.id_hash, coalesce(m.kept_id, r.customer_id), r.first_run, r.linked
        FROM reg r LEFT JOIN merges_df m ON m.merged_id = r.customer_id
        WHERE r.id_hash NOT IN (SELECT h FROM node_comp))"""
    )
    con.unregister("merges_df")
    return merges


def _write_identity_tables(con: duckdb.DuckDBPyConnection, identity: IdentityConfig) -> None:
    """Tables ``identities`` and ``key_customer`` from the component ids."""
    priority = " ".join(f"WHEN {sql_literal(k)} THEN {i}" for i, k in enumerate(identity.keys))
    con.execute(
        f"""CREATE OR REPLACE TABLE identities AS
        WITH shared AS (
            SELECT key_type, key_value FROM id_use GROUP BY ALL HAVING count(*) >= 2),
        rule AS (
            SELECT u.source, u.source_id, u.key_type AS rule FROM id_use u SEMI JOIN shared s USING (key_type, key_value)
            QUALIFY row_number() OVER (PARTITION BY u.source, u.source_id ORDER BY CASE u.key_type {priority} END) = 1),
        keyed AS (SELECT DISTINCT source, source_id FROM id_use)
        SELECT r.source, r.source_id, c.customer_id,
               coalesce(rule.rule, CASE WHEN u.comp0 IS NOT NULL THEN 'probabilistic' ELSE 'singleton' END) AS rule,
               r.kind, keyed.source IS NOT NULL OR u.comp0 IS NOT NULL AS keyed, r.first_ts, u.match_probability
        FROM rec_comp r JOIN comp_cid c USING (comp) LEFT JOIN link_used u USING (comp0)
        LEFT JOIN rule USING (source, source_id) LEFT JOIN keyed USING (source, source_id)"""
    )
    con.execute(
        """CREATE OR REPLACE TABLE key_customer AS
        SELECT k.key_type, k.key_value, c.customer_id FROM key_comp k JOIN comp_cid c USING (comp)"""
    )


def pairwise_precision_recall(predicted: pd.Series, truth: pd.Series) -> tuple[float, float]:
    """Pairwise precision and recall of a clustering against the true one (exact).

    ``predicted`` and ``truth`` give, for the same records in the same order, the
    customer id and the true person id. Over all record pairs: precision = pairs in the
    same customer that are the same person / pairs in the same customer; recall = the
    same over pairs of the same person. Uses contingency counts (sum of n*(n-1)/2), so
    it is exact and linear in the number of records.
    """
    frame = pd.DataFrame({"p": predicted.to_numpy(), "t": truth.to_numpy()})

    def pairs(counts: pd.Series) -> float:
        n = counts.to_numpy(dtype=np.float64)
        return float((n * (n - 1) / 2).sum())

    both = pairs(frame.groupby(["p", "t"]).size())
    same_customer = pairs(frame.groupby("p").size())
    same_person = pairs(frame.groupby("t").size())
    precision = both / same_customer if same_customer else 1.0
    recall = both / same_person if same_person else 1.0
    return precision, recall
