"""Event features from the data's own vocabulary: one set of columns per event type.

A company logs whatever events its app or site knows (``login``, ``search``, ``share``,
``complaint``...), so the event types come from the warehouse (``Inputs.event_types``),
not from a fixed list. Per type ``t`` (its name made safe: ``event_slug``), as of the
snapshot end:

- ``ev_<t>_7d``, ``ev_<t>_28d``, ``ev_<t>_90d``: events of that type in the last 7, 28
  and 90 days;
- ``ev_<t>_rate_28d``: those of the last 28 days per *active day* (a day with any event
  of any type, ``event_days_28d``); empty for a customer with no event in 28 days;
- ``ev_<t>_trend_28d``: the last 28 days against the 28 before,
  ``(last - prev) / max(prev, 1)`` (``relative_change``, the formula of every trend);
- ``days_since_ev_<t>``: days since the latest event of that type (empty when none).

Only the ``features.max_event_types`` (default ``MAX_EVENT_TYPES``) most frequent types
get columns (ties by name), or the types ``features.event_types`` lists: a log with
hundreds of types would otherwise give thousands of columns; ``EventVocabulary.left_out``
names the rest so a page can say so. All counts come from the one aggregation over
events that builds the other features (``aggregates``: conditional counts, no query per
type), which keeps the cost at 1,000,000 customers one scan of the events table.

Negative against positive events (``EventBalance``): the config names the types that
signal trouble (``features.negative_events``: a support ticket, an error, a downgrade
page) and those that signal engagement (``features.positive_events``: using the product,
inviting a colleague). With types of both lists in the data, four more columns:
``ev_negative_28d`` and ``ev_positive_28d`` (events of the listed types in the last 28
days, every listed type counted, whether or not it has columns of its own) and
``ev_negative_per_positive_28d`` / ``_90d`` (``negative_per_positive``). A type whose slug
would make its own columns read as these (``negative``, ``positive``,
``negative_per_positive``) gets its hash appended, like two types sharing a slug.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import ibis
import pandas as pd

from kit.core.inputs import Inputs

MAX_EVENT_TYPES = 20
WINDOWS = (7, 28, 90)
TREND_DAYS = 28
ACTIVE_DAYS = "event_days_28d"
_ACTIVE_MASK = "_active_days_mask"
_ACTIVE_COUNT = "_active_days_count"
PREFIX = "ev_"
SINCE_PREFIX = "days_since_ev_"
SUFFIXES = ("7d", "28d", "90d", "rate_28d", "trend_28d")
BALANCE_WINDOWS = (28, 90)
RATIO = PREFIX + "negative_per_positive_{days}d"
BALANCE_COLUMNS = (f"{PREFIX}negative_28d", f"{PREFIX}positive_28d", *(RATIO.format(days=d) for d in BALANCE_WINDOWS))
# slugs whose per-type columns would read as the balance columns
RESERVED_SLUGS = frozenset({"negative", "positive", "negative_per_positive"})
_NAME = re.compile(rf"^(?:{PREFIX}(?P<a>.+?)_(?:rate_28d|trend_28d|7d|28d|90d)|{SINCE_PREFIX}(?P<b>.+))$")

# suffix -> (English, Chinese) description; {type} is the event type as logged
DESCRIPTIONS: dict[str, tuple[str, str]] = {
    "7d": ("'{type}' events in the last 7 days", "近7天“{type}”事件次数"),
    "28d": ("'{type}' events in the last 28 days", "近28天“{type}”事件次数"),
    "90d": ("'{type}' events in the last 90 days", "近90天“{type}”事件次数"),
    "rate_28d": (
        "'{type}' events per active day (a day with any event), last 28 days",
        "近28天每个活跃日（有任何行为的日子）的“{type}”事件次数",
    ),
    "trend_28d": ("'{type}' event trend: last 28 days vs the 28 before", "“{type}”事件趋势：近28天对比前28天"),
    "since": ("Days since the latest '{type}' event", "距最近一次“{type}”事件的天数"),
}
# balance column -> (English, Chinese); {negative} and {positive} list the configured types
BALANCE_DESCRIPTIONS: dict[str, tuple[str, str]] = {
    f"{PREFIX}negative_28d": ("Negative events ({negative}) in the last 28 days", "近28天负面事件（{negative}）次数"),
    f"{PREFIX}positive_28d": ("Positive events ({positive}) in the last 28 days", "近28天正面事件（{positive}）次数"),
    RATIO.format(days=28): (
        "Negative events per positive event, last 28 days: (negative + 1) / (positive + 1)",
        "近28天负面事件与正面事件之比：(负面 + 1) / (正面 + 1)",
    ),
    RATIO.format(days=90): (
        "Negative events per positive event, last 90 days: (negative + 1) / (positive + 1)",
        "近90天负面事件与正面事件之比：(负面 + 1) / (正面 + 1)",
    ),
}


def event_slug(event_type: str) -> str:
    """``event_type`` as a column-safe name of ``[a-z0-9_]``; a name with none of those
    characters (e.g. ``登录``) becomes ``type_`` + 8 hex digits of its hash (stable)."""
    slug = re.sub(r"[^a-z0-9]+", "_", str(event_type).strip().lower()).strip("_")
    return slug or f"type_{_digest(event_type)}"


def _digest(text: str) -> str:
    """8 hex digits identifying ``text`` (the same in every run)."""
    return hashlib.sha1(str(text).encode("utf-8")).hexdigest()[:8]


def event_columns(slug: str) -> list[str]:
    """The feature columns of one event type, in output order."""
    return [f"{PREFIX}{slug}_{suffix}" for suffix in SUFFIXES] + [f"{SINCE_PREFIX}{slug}"]


def slug_of(feature: str) -> str | None:
    """The event slug a feature name refers to (``ev_login_7d`` -> ``login``), else None."""
    parts = event_feature_parts(feature)
    return None if parts is None else parts[0]


def event_feature_parts(feature: str) -> tuple[str, str] | None:
    """``(slug, suffix)`` of an event feature: ``ev_login_rate_28d`` -> ``("login",
    "rate_28d")``, ``days_since_ev_login`` -> ``("login", "since")``; None for other names,
    the balance columns included (they sum several types: ``BALANCE_COLUMNS``)."""
    if feature in BALANCE_COLUMNS:
        return None
    match = _NAME.match(feature)
    if match is None:
        return None
    if match["b"]:
        return match["b"], "since"
    return match["a"], feature[len(PREFIX) + len(match["a"]) + 1 :]


def negative_per_positive(negative: pd.Series, positive: pd.Series) -> pd.Series:
    """Negative events per positive event, ``(negative + 1) / (positive + 1)``: add-one
    (Laplace) smoothing, a prior of one event of each kind, keeps the ratio finite for a
    customer with no positive event (3 negatives, none positive: 4.0) and at 1.0 for one with
    no event of either kind, while it still rises with each negative event and falls with
    each positive one."""
    return (negative.astype("float64") + 1.0) / (positive.astype("float64") + 1.0)


@dataclass(frozen=True)
class EventBalance:
    """The config's negative and positive event types (``features.negative_events`` /
    ``positive_events``, as logged) against the event types the data has (``present``)."""

    negative: tuple[str, ...] = ()
    positive: tuple[str, ...] = ()
    present: frozenset[str] = frozenset()

    @property
    def absent(self) -> tuple[str, ...]:
        """The listed types the data does not have, negative ones first."""
        return tuple(t for t in (*self.negative, *self.positive) if t not in self.present)

    @property
    def need(self) -> str | None:
        """Why the balance columns are not computed, named as ``Inputs`` names needs (an
        unset list: ``features.negative_events`` / ``features.positive_events``; no listed
        type of one side in the data: ``events.<its first type>``); None when they are."""
        if not self.negative:
            return "features.negative_events"
        if not self.positive:
            return "features.positive_events"
        for side in (self.negative, self.positive):
            if not any(t in self.present for t in side):
                return f"events.{side[0]}"
        return None

    def describe(self, feature: str, lang: str = "en") -> str:
        """The description of balance column ``feature`` in ``lang``, naming the listed types
        (the config key while a list is unset)."""
        en, zh = BALANCE_DESCRIPTIONS[feature]
        negative = ", ".join(self.negative) or "features.negative_events"
        positive = ", ".join(self.positive) or "features.positive_events"
        return (zh if lang == "zh" else en).format(negative=negative, positive=positive)


@dataclass(frozen=True)
class EventVocabulary:
    """The event types that get features (most frequent first) and their column slugs."""

    slugs: dict[str, str] = field(default_factory=dict)  # event type -> slug, in output order
    left_out: tuple[str, ...] = ()  # types beyond the most frequent max_event_types, most frequent first
    listed: bool = False  # the types are the config's features.event_types (left_out: the unlisted ones)
    balance: EventBalance = field(default_factory=EventBalance)  # negative and positive types

    @property
    def types(self) -> tuple[str, ...]:
        """The event types with features."""
        return tuple(self.slugs)

    def type_of(self, slug: str) -> str | None:
        """The event type behind ``slug`` (None when no kept type has it)."""
        return next((t for t, s in self.slugs.items() if s == slug), None)

    def columns(self) -> list[str]:
        """Every event feature column, type by type, then the balance columns when computed."""
        per_type = [column for slug in self.slugs.values() for column in event_columns(slug)]
        return per_type + (list(BALANCE_COLUMNS) if self.balance.need is None else [])

    def describe(self, feature: str, lang: str = "en") -> tuple[str, str] | None:
        """``(dtype, description)`` of an event feature in ``lang``; None for other names."""
        if feature in BALANCE_COLUMNS:
            return "number", self.balance.describe(feature, lang)
        parts = event_feature_parts(feature)
        if parts is None:
            return None
        slug, suffix = parts
        en, zh = DESCRIPTIONS[suffix]
        return "number", (zh if lang == "zh" else en).format(type=self.type_of(slug) or slug)


def event_vocabulary(
    inputs: Inputs,
    root: Path | str,
    limit: int = MAX_EVENT_TYPES,
    chosen: Sequence[str] = (),
    negative: Sequence[str] = (),
    positive: Sequence[str] = (),
) -> EventVocabulary:
    """The event types of the warehouse in folder ``root`` that get features, and the
    ``negative`` and ``positive`` types (the config's lists) behind the balance columns.

    ``chosen`` (the config's ``features.event_types``) names them: those the data has get
    features in that order, the data's other types are left out. Otherwise, with at most
    ``limit`` types all are kept (alphabetical, as ``Inputs`` lists them);
    beyond, the ``limit`` most frequent over the whole events table (ties by name), read
    from the file itself so a sampled warehouse keeps the same columns as the full one.
    Two types with the same slug (``Add to cart`` and ``add_to_cart``) each get the hash
    of their name appended, so neither is silently merged into the other; so does a type
    whose slug is in ``RESERVED_SLUGS``.
    """
    types = list(inputs.event_types)
    left_out: list[str] = []
    if chosen:
        types, left_out = [t for t in chosen if t in inputs.event_types], [t for t in types if t not in chosen]
    elif len(types) > limit:
        path = str(Path(root) / "events.parquet").replace("'", "''")
        con = duckdb.connect()
        try:
            ranked = con.execute(
                f"SELECT event_type FROM read_parquet('{path}') WHERE event_type IS NOT NULL "
                "GROUP BY event_type ORDER BY count(*) DESC, event_type"
            ).fetchall()
        finally:
            con.close()
        ordered = [str(row[0]) for row in ranked]
        types, left_out = ordered[:limit], ordered[limit:]
    plain = {t: event_slug(t) for t in types}
    shared = {s for s in plain.values() if list(plain.values()).count(s) > 1} | RESERVED_SLUGS
    slugs = {t: f"{s}_{_digest(t)}" if s in shared else s for t, s in plain.items()}
    balance = EventBalance(tuple(negative), tuple(positive), frozenset(inputs.event_types))
    return EventVocabulary(slugs, tuple(left_out), listed=bool(chosen), balance=balance)


def relative_change(last: pd.Series, prev: pd.Series) -> pd.Series:
    """``(last - prev) / max(prev, 1)``: relative change, finite when ``prev`` is 0."""
    return (last - prev) / prev.clip(lower=1)


def aggregates(e: ibis.Table, vocab: EventVocabulary, end: pd.Timestamp, bitwise: bool = True) -> dict[str, ibis.Value]:
    """The per-customer aggregates behind the event features, for one group-by over
    events ``e`` (already cut at ``end``): counts per type and window, the previous 28
    days, the latest event of each type, the active days of the last 28, and the
    negative and positive events of the last 28 and 90 days when the balance is computed.

    ``bitwise``: whether the backend has a bitwise-or aggregate (DuckDB does; Ibis cannot
    compile it for Spark). Without it the active days are a distinct count of dates, the
    same number at about five times the cost on DuckDB."""
    since = {days: end - pd.Timedelta(days=days) for days in (*WINDOWS, 2 * TREND_DAYS)}
    out: dict[str, ibis.Value] = {}
    recent = e.event_ts >= since[TREND_DAYS]
    if vocab.slugs and bitwise:
        # active days as a bit mask (bit k: an event k + 1 days before the end), counted in
        # pandas: exact, and a fifth of the cost of a distinct count per customer
        before_end = -e.event_ts.date().delta(ibis.literal(end.date()), unit="day") - 1
        bit = ibis.literal(1, "int64") << before_end.clip(upper=62).cast("int64")
        out[_ACTIVE_MASK] = bit.bit_or(where=recent)
    elif vocab.slugs:
        out[_ACTIVE_COUNT] = e.event_ts.date().nunique(where=recent)
    for event_type, slug in vocab.slugs.items():
        this = e.event_type == event_type
        for days in WINDOWS:
            out[f"{PREFIX}{slug}_{days}d"] = e.count(where=this & (e.event_ts >= since[days]))
        out[f"_prev_{slug}"] = e.count(where=this & (e.event_ts >= since[2 * TREND_DAYS]) & (e.event_ts < since[TREND_DAYS]))
        out[f"_last_{slug}"] = e.event_ts.max(where=this)
    if vocab.balance.need is None:
        for side, types in (("negative", vocab.balance.negative), ("positive", vocab.balance.positive)):
            listed = e.event_type.isin(list(types))
            for days in BALANCE_WINDOWS:
                out[f"_{side}_{days}d"] = e.count(where=listed & (e.event_ts >= since[days]))
    return out


def count_columns(vocab: EventVocabulary) -> list[str]:
    """The aggregate columns that are counts (0 for a customer without events)."""
    counts = [f"{PREFIX}{slug}_{days}d" for slug in vocab.slugs.values() for days in WINDOWS]
    counts += [f"_prev_{slug}" for slug in vocab.slugs.values()]
    if vocab.balance.need is None:
        counts += [f"_{side}_{days}d" for side in ("negative", "positive") for days in BALANCE_WINDOWS]
    return [_ACTIVE_MASK, _ACTIVE_COUNT, *counts] if vocab.slugs else counts


def features(raw: pd.DataFrame, vocab: EventVocabulary, end: pd.Timestamp) -> dict[str, pd.Series]:
    """The event feature columns from ``aggregates``' output (counts already filled with 0)."""
    day = pd.Timedelta(days=1)
    out: dict[str, pd.Series] = {}
    if not vocab.slugs:
        return balance_features(raw, vocab)
    if _ACTIVE_MASK in raw.columns:
        mask = raw[_ACTIVE_MASK].to_numpy(dtype="int64")
        days = sum((mask >> k) & 1 for k in range(TREND_DAYS))
    else:
        days = raw[_ACTIVE_COUNT].to_numpy(dtype="int64")
    out[ACTIVE_DAYS] = pd.Series(days, index=raw.index, dtype="int64")
    active = out[ACTIVE_DAYS].where(out[ACTIVE_DAYS] > 0).astype("float64")
    for slug in vocab.slugs.values():
        name = f"{PREFIX}{slug}"
        for days in WINDOWS:
            out[f"{name}_{days}d"] = raw[f"{name}_{days}d"]
        out[f"{name}_rate_28d"] = raw[f"{name}_28d"] / active
        out[f"{name}_trend_28d"] = relative_change(raw[f"{name}_28d"], raw[f"_prev_{slug}"]).astype("float64")
        out[f"{SINCE_PREFIX}{slug}"] = (end - raw[f"_last_{slug}"]) / day
    return out | balance_features(raw, vocab)


def balance_features(raw: pd.DataFrame, vocab: EventVocabulary) -> dict[str, pd.Series]:
    """The balance columns (``BALANCE_COLUMNS``) from ``aggregates``' output; none when
    the balance is not computed (``EventBalance.need``)."""
    if vocab.balance.need is not None:
        return {}
    out = {f"{PREFIX}negative_28d": raw["_negative_28d"], f"{PREFIX}positive_28d": raw["_positive_28d"]}
    for days in BALANCE_WINDOWS:
        out[RATIO.format(days=days)] = negative_per_positive(raw[f"_negative_{days}d"], raw[f"_positive_{days}d"])
    return out
