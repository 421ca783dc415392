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
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from collections.abc import Sequence
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
PREFIX = "ev_"
SINCE_PREFIX = "days_since_ev_"
SUFFIXES = ("7d", "28d", "90d", "rate_28d", "trend_28d")
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
    "rate_28d")``, ``days_since_ev_login`` -> ``("login", "since")``; None for other names."""
    match = _NAME.match(feature)
    if match is None:
        return None
    if match["b"]:
        return match["b"], "since"
    return match["a"], feature[len(PREFIX) + len(match["a"]) + 1 :]


@dataclass(frozen=True)
class EventVocabulary:
    """The event types that get features (most frequent first) and their column slugs."""

    slugs: dict[str, str] = field(default_factory=dict)  # event type -> slug, in output order
    left_out: tuple[str, ...] = ()  # types beyond the most frequent max_event_types, most frequent first
    listed: bool = False  # the types are the config's features.event_types (left_out: the unlisted ones)

    @property
    def types(self) -> tuple[str, ...]:
        """The event types with features."""
        return tuple(self.slugs)

    def type_of(self, slug: str) -> str | None:
        """The event type behind ``slug`` (None when no kept type has it)."""
        return next((t for t, s in self.slugs.items() if s == slug), None)

    def columns(self) -> list[str]:
        """Every event feature column, type by type."""
        return [column for slug in self.slugs.values() for column in event_columns(slug)]

    def describe(self, feature: str, lang: str = "en") -> tuple[str, str] | None:
        """``(dtype, description)`` of an event feature in ``lang``; None for other names."""
        parts = event_feature_parts(feature)
        if parts is None:
            return None
        slug, suffix = parts
        en, zh = DESCRIPTIONS[suffix]
        return "number", (zh if lang == "zh" else en).format(type=self.type_of(slug) or slug)


def event_vocabulary(
    inputs: Inputs, root: Path | str, limit: int = MAX_EVENT_TYPES, chosen: Sequence[str] = ()
) -> EventVocabulary:
    """The event types of the warehouse in folder ``root`` that get features.

    ``chosen`` (the config's ``features.event_types``) names them: those the data has get
    features in that order, the data's other types are left out. Otherwise, with at most
    ``limit`` types all are kept (alphabetical, as ``Inputs`` lists them);
    beyond, the ``limit`` most frequent over the whole events table (ties by name), read
    from the file itself so a sampled warehouse keeps the same columns as the full one.
    Two types with the same slug (``Add to cart`` and ``add_to_cart``) each get the hash
    of their name appended, so neither is silently merged into the other.
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
    shared = {s for s in plain.values() if list(plain.values()).count(s) > 1}
    slugs = {t: f"{s}_{_digest(t)}" if s in shared else s for t, s in plain.items()}
    return EventVocabulary(slugs, tuple(left_out), listed=bool(chosen))


def relative_change(last: pd.Series, prev: pd.Series) -> pd.Series:
    """``(last - prev) / max(prev, 1)``: relative change, finite when ``prev`` is 0."""
    return (last - prev) / prev.clip(lower=1)


def aggregates(e: ibis.Table, vocab: EventVocabulary, end: pd.Timestamp) -> dict[str, ibis.Value]:
    """The per-customer aggregates behind the event features, for one group-by over
    events ``e`` (already cut at ``end``): counts per type and window, the previous 28
    days, the latest event of each type, and the active days of the last 28."""
    since = {days: end - pd.Timedelta(days=days) for days in (*WINDOWS, 2 * TREND_DAYS)}
    out: dict[str, ibis.Value] = {}
    if vocab.slugs:
        # active days as a bit mask (bit k: an event k + 1 days before the end), counted in
        # pandas: exact, and a fifth of the cost of a distinct count per customer
        before_end = -e.event_ts.date().delta(ibis.literal(end.date()), unit="day") - 1
        bit = ibis.literal(1, "int64") << before_end.clip(upper=62).cast("int64")
        out[_ACTIVE_MASK] = bit.bit_or(where=e.event_ts >= since[TREND_DAYS])
    for event_type, slug in vocab.slugs.items():
        this = e.event_type == event_type
        for days in WINDOWS:
            out[f"{PREFIX}{slug}_{days}d"] = e.count(where=this & (e.event_ts >= since[days]))
        out[f"_prev_{slug}"] = e.count(where=this & (e.event_ts >= since[2 * TREND_DAYS]) & (e.event_ts < since[TREND_DAYS]))
        out[f"_last_{slug}"] = e.event_ts.max(where=this)
    return out


def count_columns(vocab: EventVocabulary) -> list[str]:
    """The aggregate columns that are counts (0 for a customer without events)."""
    counts = [f"{PREFIX}{slug}_{days}d" for slug in vocab.slugs.values() for days in WINDOWS]
    counts += [f"_prev_{slug}" for slug in vocab.slugs.values()]
    return [_ACTIVE_MASK, *counts] if vocab.slugs else []


def features(raw: pd.DataFrame, vocab: EventVocabulary, end: pd.Timestamp) -> dict[str, pd.Series]:
    """The event feature columns from ``aggregates``' output (counts already filled with 0)."""
    day = pd.Timedelta(days=1)
    out: dict[str, pd.Series] = {}
    if not vocab.slugs:
        return out
    mask = raw[_ACTIVE_MASK].to_numpy(dtype="int64")
    days = sum((mask >> k) & 1 for k in range(TREND_DAYS))
    out[ACTIVE_DAYS] = pd.Series(days, index=raw.index, dtype="int64")
    active = out[ACTIVE_DAYS].where(out[ACTIVE_DAYS] > 0).astype("float64")
    for slug in vocab.slugs.values():
        name = f"{PREFIX}{slug}"
        for days in WINDOWS:
            out[f"{name}_{days}d"] = raw[f"{name}_{days}d"]
        out[f"{name}_rate_28d"] = raw[f"{name}_28d"] / active
        out[f"{name}_trend_28d"] = relative_change(raw[f"{name}_28d"], raw[f"_prev_{slug}"]).astype("float64")
        out[f"{SINCE_PREFIX}{slug}"] = (end - raw[f"_last_{slug}"]) / day
    return out
