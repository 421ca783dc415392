"""What each source kind contains and how each of its columns is cleaned.

A source's ``kind`` (customers, orders, app_users, events, surveys, subscriptions,
assignments) fixes
its canonical columns: which must exist in the file (``required``; every other column is
optional), which must hold a valid value on every row where the column exists
(``mandatory``: a blank or unparseable value quarantines the row), and what happens to a
non-blank value that does not parse: ``quarantine`` (dates and numbers: text in a number
or an unreadable date is never guessed) or ``null`` (phones, e-mails, birth dates: the
row is still useful, the value is dropped and counted). An optional column missing from
a file is written as a null of its column's SQL type (``Column.sql_type``: DOUBLE,
BIGINT, TIMESTAMP or VARCHAR), never a typeless NULL, or as its ``default`` (an order's
``status`` is ``paid``). docs/data_contract.md lists every kind's columns.

An orders source without ``order_id``, and a subscriptions source without
``subscription_id``, gets a stable synthesised id (``clean.py``, ``SYNTHESISED_IDS``).
A subscription row is one identity record (one customer's subscription), linked to the
customer's other records through its declared key (e.g. ``keys: {customer_no: customer_no}``)
or, declaring none, its ``member_id`` / ``email``. Columns
named in ``PERSONAL`` are read only for identity resolution and never written anywhere
(quarantine rows drop them too); so are the identity key columns a source declares that
are not canonical columns of its kind (``sources.<name>.keys``, ``identity_keys``).
An events source links its rows to customers through one key column (``event_key``:
``app_user_id`` unless it declares another, ``source_columns``); an assignment's
``unit_type`` names the key type of its ``unit_id`` (``unit_keys``).

Quarantine reasons (the ``reason`` column; the ``column`` column names the field):
``missing_value``, ``unparseable_timestamp``, ``text_in_number``, ``not_whole_number``,
``negative_amount`` (a negative paid amount without refund status), ``unknown_status``,
``paid_through_before_start`` (a subscription paid through a date before it started),
``out_of_range`` (NPS outside 0-10, CSAT outside 1-5, negative item count),
``implausible_amount`` (amount or discount not finite or above ``ingest.max_amount``),
``implausible_date`` (a quarantining date outside ``ingest.min_date`` .. ``max_date``),
for rows that point at nobody, ``unknown_app_user_id`` (an event whose app user id, the
default events key, matches no customer), ``unknown_key`` (an event whose declared key,
named in ``column``, matches none) and ``unknown_unit``, and for
malformed CSV records (``lines.py``) ``unbalanced_quote``, ``too_many_fields``,
``too_few_fields`` and ``undecodable_bytes``.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Literal

from kit.core.config import IdentityConfig, SourceConfig
from kit.ingest.normalize import quote_ident, sql_literal

Parse = Literal["text", "lower", "phone", "email", "number", "integer", "timestamp"]
# the SQL type of a cleaned value, by parse rule (an absent column is a null of this type)
SQL_TYPES: dict[str, str] = {
    "text": "VARCHAR", "lower": "VARCHAR", "phone": "VARCHAR", "email": "VARCHAR",
    "number": "DOUBLE", "integer": "BIGINT", "timestamp": "TIMESTAMP",
}


@dataclass(frozen=True)
class Column:
    """One canonical column of a kind and its cleaning rule."""

    name: str
    parse: Parse = "text"
    required: bool = False
    mandatory: bool = False
    on_invalid: Literal["quarantine", "null"] = "quarantine"
    valid_range: tuple[float, float] | None = None
    default: str | None = None  # the value of a blank or absent text field (orders.status: paid)

    @property
    def sql_type(self) -> str:
        """The DuckDB type of the cleaned value (and of the typed null of an absent column)."""
        return SQL_TYPES[self.parse]


@dataclass(frozen=True)
class Kind:
    """A source kind: its columns, the key that identifies a row, and identity role."""

    columns: tuple[Column, ...]
    key: tuple[str, ...] = ()

    def column(self, name: str) -> Column:
        """The column rule called ``name``."""
        return next(c for c in self.columns if c.name == name)


PERSONAL = ("name",)
ORDER_STATUSES = ("paid", "refunded")

KINDS: dict[str, Kind] = {
    "customers": Kind(
        columns=(
            Column("member_id", required=True, mandatory=True),
            Column("phone", "phone", on_invalid="null"),
            Column("email", "email", on_invalid="null"),
            Column("gender"),
            Column("birth_date", "timestamp", on_invalid="null"),
            Column("city"),
            Column("registered_at", "timestamp", required=True, mandatory=True),
            Column("signup_channel"),
        ),
        key=("member_id",),
    ),
    "orders": Kind(
        columns=(
            Column("order_id", mandatory=True),  # absent: synthesised (clean.py)
            Column("order_ts", "timestamp", required=True, mandatory=True),
            Column("amount", "number", required=True, mandatory=True),
            Column("shop_user_id"),
            Column("member_id"),
            Column("phone", "phone", on_invalid="null"),
            Column("email", "email", on_invalid="null"),
            Column("platform", "lower"),
            Column("discount", "number"),
            Column("category"),
            Column("items", "integer", valid_range=(0, 1e9)),
            Column("payment_method", "lower"),
            Column("status", "lower", default="paid"),
            Column("store_city"),
        ),
        key=("order_id",),
    ),
    "app_users": Kind(
        columns=(
            Column("app_user_id", required=True, mandatory=True),
            Column("phone", "phone", on_invalid="null"),
            Column("email", "email", on_invalid="null"),
            Column("registered_at", "timestamp"),
        ),
        key=("app_user_id",),
    ),
    "events": Kind(
        columns=(
            Column("app_user_id", required=True, mandatory=True),
            Column("event_ts", "timestamp", required=True, mandatory=True),
            Column("event_type", "lower", required=True, mandatory=True),
            Column("category"),
        ),
    ),
    "surveys": Kind(
        columns=(
            Column("response_id", required=True, mandatory=True),
            Column("member_id"),
            Column("phone", "phone", on_invalid="null"),
            Column("survey_ts", "timestamp", required=True, mandatory=True),
            Column("nps", "integer", required=True, valid_range=(0, 10)),
            Column("csat", "integer", valid_range=(1, 5)),
        ),
        key=("response_id",),
    ),
    "subscriptions": Kind(
        columns=(
            Column("subscription_id", mandatory=True),  # absent: synthesised (clean.py)
            Column("member_id"),
            Column("email", "email", on_invalid="null"),
            Column("plan"),
            Column("started_at", "timestamp", required=True, mandatory=True),
            Column("paid_through", "timestamp", required=True, mandatory=True),
            Column("mrr", "number", required=True, mandatory=True),
            Column("cancelled_at", "timestamp"),
        ),
        key=("subscription_id",),
    ),
    "assignments": Kind(
        columns=(
            Column("experiment_id", required=True, mandatory=True),
            Column("unit_type", "lower", required=True, mandatory=True),
            Column("unit_id", required=True, mandatory=True),
            Column("variant", required=True, mandatory=True),
            Column("assigned_ts", "timestamp", required=True, mandatory=True),
        ),
        key=("experiment_id", "unit_type", "unit_id"),
    ),
}

# Kinds whose rows are identity records (a person behind each record; the config check
# of declared keys lists the same kinds: kit.core.config.IDENTITY_KINDS), and the column
# naming the row when it carries no account key.
ROW_ID = {
    "customers": "member_id",
    "orders": "order_id",
    "app_users": "app_user_id",
    "surveys": "response_id",
    "subscriptions": "subscription_id",
}
# Identifier columns each identity kind links on when its source declares no ``keys``
# (column = key type; only the key types in identity.keys and the columns the file has).
DEFAULT_KEYS = {
    "customers": ("member_id", "phone", "email"),
    "orders": ("member_id", "shop_user_id", "phone", "email"),
    "app_users": ("app_user_id", "phone", "email"),
    "surveys": ("member_id", "phone"),
    "subscriptions": ("member_id", "email"),
}
# Kinds whose row id may be absent from the file: synthesised from the row's fields (clean.py)
SYNTHESISED_IDS = {"orders": "order_id", "subscriptions": "subscription_id"}
# Key types normalised by a rule of their own; any other key type is trimmed text.
KEY_PARSE: dict[str, Parse] = {"phone": "phone", "email": "email"}
# Kinds whose timestamps carry the time of day analyses use (hour of day, night): the
# canonical tables of these kinds get ``has_time``.
TIMED_KINDS = ("orders", "events")
# The main timestamp of each kind (rows per month, freshness, first_seen).
MAIN_TS = {
    "customers": "registered_at",
    "orders": "order_ts",
    "app_users": "registered_at",
    "events": "event_ts",
    "surveys": "survey_ts",
    "subscriptions": "started_at",
    "assignments": "assigned_ts",
}
# assignment unit types that are aliases of an identity key type; any key type listed in
# identity.keys names itself too (``unit_keys``)
UNIT_KEYS = {"member": "member_id", "app_user": "app_user_id"}
# the identity key an events source links through when it declares none: column -> key type
EVENT_KEY = {"app_user_id": "app_user_id"}
# shop platform -> order channel (contract: online / app / store)
PLATFORM_CHANNEL = {"web": "online", "mini_program": "online", "app": "app", "store": "store", "pos": "store"}
# CRM text -> canonical values
GENDERS = {"男": "male", "女": "female", "m": "male", "f": "female", "male": "male", "female": "female"}
SIGNUP_CHANNELS = {"门店": "store", "线上商城": "online", "app": "app", "小程序": "mini_program"}
# City tiers used when config features.city_tiers is empty: the four tiers of the demo
# world (一线, 新一线, 二线, other); extend or replace them in the config for real data.
DEFAULT_CITY_TIERS = {
    **dict.fromkeys(("北京", "上海", "广州", "深圳"), 1),
    **dict.fromkeys(("杭州", "成都", "武汉", "南京", "重庆", "西安", "苏州", "天津"), 2),
    **dict.fromkeys(("佛山", "东莞", "无锡", "宁波", "合肥", "昆明"), 3),
    **dict.fromkeys(("洛阳", "赣州", "遵义", "绵阳", "桂林", "湛江"), 4),
}


def identity_keys(source: SourceConfig, identity: IdentityConfig, present: Collection[str]) -> dict[str, str]:
    """The identity keys of a source: column (after ``columns:``) -> key type.

    A source's declared ``keys`` replace its kind's defaults (``DEFAULT_KEYS`` of the
    types listed in ``identity.keys``, among the file's columns ``present``); the config
    loader has checked that every declared key type is in ``identity.keys``, and
    ``clean.py`` that every declared column is in the file. Kinds without identity records
    carry none.
    """
    if source.kind not in DEFAULT_KEYS:
        return {}
    if source.keys:
        return dict(source.keys)
    return {c: c for c in DEFAULT_KEYS[source.kind] if c in identity.keys and c in present}


def event_key(source: SourceConfig) -> tuple[str, str]:
    """(column, key type) an events source's rows link to customers through: its one
    declared key (the config loader allows no more), else ``EVENT_KEY`` (app user ids)."""
    return next(iter((source.keys or EVENT_KEY).items()))


def event_key_problem(name: str, source: SourceConfig) -> str | None:
    """What is wrong with the key events source ``name`` declares, or None: its column
    must not be one of the events' own columns (event_ts, event_type, category), which
    would be read as the key and no longer as what they are."""
    own = [c.name for c in KINDS["events"].columns if c.name not in EVENT_KEY]
    taken = [c for c in source.keys if c in own] if source.kind == "events" else []
    if not taken:
        return None
    return (
        f"sources.{name}.keys names the events' own column {taken[0]!r} as the identity key. Name the column "
        f"that holds the customer's key instead (map its header to a name of its own under sources.{name}.columns, "
        "e.g. member_id)."
    )


def unit_keys(identity: IdentityConfig) -> dict[str, str]:
    """Assignment unit types (lower case, as ``unit_type`` is cleaned) -> the identity key
    type their ``unit_id`` is: the aliases of ``UNIT_KEYS``, and every key type listed in
    ``identity.keys`` by its own name (``customer_no``, ``email``, ``member_id``; a listed
    key type wins over an alias of the same name)."""
    return {**UNIT_KEYS, **{k.lower(): k for k in identity.keys}}


def source_columns(source: SourceConfig, identity: IdentityConfig | None = None) -> tuple[Column, ...]:
    """The columns read from a source: its kind's canonical columns, its declared key
    columns that are not canonical (``key_columns``) and, given ``identity``, the matching
    attributes it may carry (``attribute_columns``).

    An events source that declares its key reads that column in place of
    ``app_user_id`` (then neither required nor read): required, a blank value quarantines
    the row (``missing_value``), normalised by key type (``KEY_PARSE``; a phone or e-mail
    that does not parse is null and the row's key then matches no customer).
    """
    kind = KINDS[source.kind]
    if source.kind != "events" or not source.keys:
        return kind.columns + key_columns(source) + (attribute_columns(source, identity) if identity else ())
    column, key_type = event_key(source)
    key = Column(column, KEY_PARSE.get(key_type, "text"), required=True, mandatory=True)
    return (key, *(c for c in kind.columns if c.name not in (*EVENT_KEY, column)))


def key_columns(source: SourceConfig) -> tuple[Column, ...]:
    """The declared key columns that are not canonical columns of the source's kind, as
    cleaning rules: read for identity only, normalised by key type (``KEY_PARSE``; an
    invalid phone or e-mail is nulled and counted), never written to a canonical table.
    (An events source's key column: ``source_columns``.)"""
    canonical = {c.name for c in KINDS[source.kind].columns}
    return tuple(
        Column(column, KEY_PARSE.get(key_type, "text"), on_invalid="null" if key_type in KEY_PARSE else "quarantine")
        for column, key_type in source.keys.items()
        if column not in canonical
    )


ATTRIBUTE_PARSE: dict[str, Parse] = {"date": "timestamp", "phone": "phone", "email": "email"}


def attribute_columns(source: SourceConfig, identity: IdentityConfig) -> tuple[Column, ...]:
    """The matching attributes (``identity.matching.attributes``) an identity source may
    carry beyond its kind's canonical columns and its keys: read for identity resolution
    only (personal: never written, not even to the quarantine), optional, a value that does
    not parse (a date, a phone) is dropped and counted. Attributes that are identity key
    types (phone, email) come from the keys instead (``kit.ingest.linkage``)."""
    if source.kind not in ROW_ID or not identity.matching.enabled:
        return ()
    taken = {c.name for c in KINDS[source.kind].columns} | set(source.keys)
    return tuple(
        Column(name, ATTRIBUTE_PARSE.get(compare, "text"), on_invalid="null")
        for name, compare in identity.matching.attributes.items()
        if name not in taken and name not in identity.keys
    )


def record_sql(
    source: SourceConfig, identity: IdentityConfig, present: Collection[str], alias: str = ""
) -> tuple[str, str]:
    """SQL (record id, is account) over a source's cleaned rows (columns of table ``alias``;
    ``present``: the columns its files have).

    A record is one person as the source knows them. A CRM row, an app user and a survey
    answer are one record each (``ROW_ID``). The rows of an order log group into one
    record per account: the first account key the row carries (key types in
    ``identity.account_keys``, in the order declared), else the order itself (a one-off
    receipt). Fallback values are prefixed with their column name so that a member number
    and an order id written alike never name the same record. A record is an account
    when its id is an account key (a survey answer that names a member is linked to the
    member through that key, but is not an account itself).
    """
    row_id = ROW_ID[source.kind]
    keys = identity_keys(source, identity, present)
    accounts = [c for c, k in keys.items() if k in identity.account_keys]
    prefix = f"{alias}." if alias else ""
    if source.kind != "orders":
        return prefix + quote_ident(row_id), "true" if row_id in accounts else "false"
    candidates = [prefix + quote_ident(c) for c in (*accounts, row_id)]
    names = [*accounts, row_id]
    parts = [candidates[0]] + [f"({sql_literal(n + ':')} || {c})" for n, c in zip(names[1:], candidates[1:])]
    is_account = " OR ".join(f"{c} IS NOT NULL" for c in candidates[: len(accounts)]) or "false"
    return (f"coalesce({', '.join(parts)})" if len(parts) > 1 else parts[0]), f"({is_account})"
