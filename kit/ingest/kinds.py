"""What each source kind contains and how each of its columns is cleaned.

A source's ``kind`` (customers, orders, app_users, events, surveys, assignments) fixes
its canonical columns: which must exist in the file (``required``), which must hold a
valid value on every row (``mandatory``: a blank or unparseable value quarantines the
row), and what happens to a non-blank value that does not parse: ``quarantine`` (dates
and numbers: text in a number or an unreadable date is never guessed) or ``null``
(phones, e-mails, birth dates: the row is still useful, the value is dropped and
counted). Columns named in ``PERSONAL`` are read only for identity resolution and never
written anywhere (quarantine rows drop them too).

Quarantine reasons (the ``reason`` column; the ``column`` column names the field):
``missing_value``, ``unparseable_timestamp``, ``text_in_number``, ``not_whole_number``,
``negative_amount`` (a negative paid amount without refund status), ``unknown_status``,
``out_of_range`` (NPS outside 0-10, CSAT outside 1-5, negative item count),
``implausible_amount`` (amount or discount not finite or above ``ingest.max_amount``),
``implausible_date`` (a quarantining date outside ``ingest.min_date`` .. ``max_date``),
for rows that point at nobody, ``unknown_app_user_id`` / ``unknown_unit``, and for
malformed CSV records (``lines.py``) ``unbalanced_quote``, ``too_many_fields``,
``too_few_fields`` and ``undecodable_bytes``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Parse = Literal["text", "lower", "phone", "email", "number", "integer", "timestamp"]


@dataclass(frozen=True)
class Column:
    """One canonical column of a kind and its cleaning rule."""

    name: str
    parse: Parse = "text"
    required: bool = False
    mandatory: bool = False
    on_invalid: Literal["quarantine", "null"] = "quarantine"
    valid_range: tuple[float, float] | None = None


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
            Column("order_id", required=True, mandatory=True),
            Column("order_ts", "timestamp", required=True, mandatory=True),
            Column("amount", "number", required=True, mandatory=True),
            Column("shop_user_id"),
            Column("phone", "phone", on_invalid="null"),
            Column("email", "email", on_invalid="null"),
            Column("platform", "lower"),
            Column("discount", "number"),
            Column("category"),
            Column("items", "integer", valid_range=(0, 1e9)),
            Column("payment_method", "lower"),
            Column("status", "lower"),
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

# Kinds whose rows are identity records (a person behind each record id).
RECORD_ID = {
    "customers": "member_id",
    "orders": "coalesce(shop_user_id, order_id)",
    "app_users": "app_user_id",
    "surveys": "response_id",
}
# SQL telling whether a record is an account (a member, app user or shop user) rather than
# a one-off transaction (a receipt without user id, a survey answer).
RECORD_IS_ACCOUNT = {
    "customers": "true",
    "orders": "shop_user_id IS NOT NULL",
    "app_users": "true",
    "surveys": "false",
}
# Identifier columns each identity kind carries (identity.keys filters them).
RECORD_KEYS = {
    "customers": ("member_id", "phone", "email"),
    "orders": ("shop_user_id", "phone", "email"),
    "app_users": ("app_user_id", "phone", "email"),
    "surveys": ("member_id", "phone"),
}
# The main timestamp of each kind (rows per month, freshness, first_seen).
MAIN_TS = {
    "customers": "registered_at",
    "orders": "order_ts",
    "app_users": "registered_at",
    "events": "event_ts",
    "surveys": "survey_ts",
    "assignments": "assigned_ts",
}
# assignment unit types -> identity key type
UNIT_KEYS = {"member": "member_id", "app_user": "app_user_id", "member_id": "member_id", "app_user_id": "app_user_id"}
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
