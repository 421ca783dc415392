"""Negative against positive events (kit.profile.events ``EventBalance``): the smoothed
ratio, the one aggregation behind it, what the plan says when it cannot be computed, and
the config keys features.negative_events / positive_events."""

from __future__ import annotations

import ibis
import numpy as np
import pandas as pd
import pytest

from kit.core.config import ConfigError, load_config
from kit.core.inputs import Inputs
from kit.profile.events import (
    BALANCE_COLUMNS,
    EventBalance,
    aggregates,
    count_columns,
    event_feature_parts,
    event_vocabulary,
    features,
    negative_per_positive,
)
from kit.profile.needs import NEEDS, FeaturePlan
from kit.text.i18n import t

END = pd.Timestamp("2026-11-01")
RATIOS = ("ev_negative_per_positive_28d", "ev_negative_per_positive_90d")


def _inputs(*types: str) -> Inputs:
    return Inputs(rows={"customers": 3, "orders": 3, "events": 9}, filled={"events": frozenset({"event_type"})},
                  event_types=tuple(sorted(types)))


def test_ratio_is_add_one_smoothed_and_finite_without_positive_events():
    negative = pd.Series([3, 0, 1, 0, 5])
    positive = pd.Series([0, 0, 3, 9, 5])
    ratio = negative_per_positive(negative, positive)
    np.testing.assert_allclose(ratio, [4.0, 1.0, 0.5, 0.1, 1.0])
    assert np.isfinite(ratio).all() and ratio.dtype == "float64"
    # more negatives raise it, more positives lower it
    assert (negative_per_positive(negative + 1, positive) > ratio).all()
    assert (negative_per_positive(negative, positive + 1) < ratio).all()


def test_balance_sums_listed_types_from_the_one_aggregation():
    # one customer per row pattern; 'unfriend' has no per-type columns (event_types: login, error)
    day = pd.Timedelta(days=1)
    rows = [
        ("a", END - 1 * day, "error"), ("a", END - 2 * day, "unfriend"), ("a", END - 40 * day, "error"),
        ("a", END - 3 * day, "login"),
        ("b", END - 5 * day, "login"), ("b", END - 6 * day, "use"), ("b", END - 60 * day, "login"),
        ("c", END - 50 * day, "error"),
    ]
    events = pd.DataFrame(rows, columns=["customer_id", "event_ts", "event_type"])
    inputs = _inputs("error", "login", "unfriend", "use")
    vocab = event_vocabulary(inputs, "/nonexistent", chosen=["login", "error"],
                             negative=["error", "unfriend"], positive=["login", "use"])
    assert vocab.balance.need is None and "unfriend" not in vocab.slugs
    e = ibis.memtable(events)
    raw = e.group_by("customer_id").aggregate(**aggregates(e, vocab, END)).to_pandas().sort_values("customer_id")
    counts = [c for c in count_columns(vocab) if c in raw.columns]
    raw = raw.set_index("customer_id").fillna(dict.fromkeys(counts, 0)).astype(dict.fromkeys(counts, "int64"))
    out = pd.DataFrame(features(raw, vocab, END))
    assert list(out.columns[-4:]) == list(BALANCE_COLUMNS)
    # the active days by distinct dates (backends without a bitwise-or aggregate) equal the bit mask's
    portable = e.group_by("customer_id").aggregate(**aggregates(e, vocab, END, bitwise=False)).to_pandas()
    portable = portable.sort_values("customer_id").set_index("customer_id")
    assert "_active_days_mask" in raw.columns and "_active_days_mask" not in portable.columns
    counts = [c for c in count_columns(vocab) if c in portable.columns]
    portable = portable.fillna(dict.fromkeys(counts, 0)).astype(dict.fromkeys(counts, "int64"))
    pd.testing.assert_frame_equal(pd.DataFrame(features(portable, vocab, END)), out)
    assert out["ev_negative_28d"].tolist() == [2, 0, 0]
    assert out["ev_positive_28d"].tolist() == [1, 2, 0]
    np.testing.assert_allclose(out["ev_negative_per_positive_28d"], [3 / 2, 1 / 3, 1.0])
    np.testing.assert_allclose(out["ev_negative_per_positive_90d"], [4 / 2, 1 / 4, 2.0])
    # no balance: no balance aggregates, no balance columns
    plain = event_vocabulary(inputs, "/nonexistent", chosen=["login", "error"])
    assert plain.balance.need == "features.negative_events"
    assert not any(name.startswith(("_negative", "_positive")) for name in aggregates(e, plain, END))
    assert not set(BALANCE_COLUMNS) & set(plain.columns())


@pytest.mark.parametrize(
    ("negative", "positive", "present", "need"),
    [
        ((), (), {"error", "login"}, "features.negative_events"),
        (("error",), (), {"error", "login"}, "features.positive_events"),
        (("crash", "bug"), ("login",), {"error", "login"}, "events.crash"),
        (("error",), ("invite",), {"error", "login"}, "events.invite"),
        (("error", "crash"), ("login",), {"error", "login"}, None),
    ],
)
def test_balance_need_names_the_missing_setting_or_event_type(negative, positive, present, need):
    assert EventBalance(negative, positive, frozenset(present)).need == need


def test_plan_names_why_ratios_are_missing_and_notes_absent_listed_types():
    inputs = _inputs("error", "login")
    unset = FeaturePlan(inputs, event_vocabulary(inputs, "/nonexistent"))
    skipped = unset.skipped()
    assert {c: skipped[c] for c in BALANCE_COLUMNS} == dict.fromkeys(BALANCE_COLUMNS, "features.negative_events")
    # a listed type the data lacks: a note, while the ratio is computed from the others
    listed = FeaturePlan(inputs, event_vocabulary(inputs, "/nonexistent", negative=["error", "Crash Report"], positive=["login"]))
    assert all(listed.computed(c) for c in BALANCE_COLUMNS)
    assert listed.skipped()["ev_crash_report_28d"] == "events.Crash Report"
    assert not set(BALANCE_COLUMNS) & set(listed.skipped())
    # no events at all: the plain need, and no note per listed type
    bare = Inputs(rows={"customers": 3, "orders": 3})
    none = FeaturePlan(bare, event_vocabulary(bare, "/nonexistent", negative=["error"], positive=["login"])).skipped()
    assert {none[c] for c in BALANCE_COLUMNS} == {"events"} and "ev_error_28d" not in none
    # every need a page may phrase has words in both languages
    needs = {need for inputs_needed in NEEDS.values() for need in inputs_needed}
    assert {"subscriptions", "subscriptions.cancelled_at"} <= needs
    for need in needs | {"features.negative_events", "features.positive_events"}:
        for lang in ("en", "zh"):
            assert t(f"input.{need}", lang)


def test_balance_columns_are_not_read_as_event_types():
    for name in BALANCE_COLUMNS:
        assert event_feature_parts(name) is None
    assert event_feature_parts("ev_error_28d") == ("error", "28d")
    # an event type whose own columns would read as a balance column gets its hash appended
    inputs = _inputs("negative", "Positive", "login")
    vocab = event_vocabulary(inputs, "/nonexistent", negative=["negative"], positive=["login"])
    assert vocab.slugs["login"] == "login"
    assert vocab.slugs["negative"].startswith("negative_") and vocab.slugs["Positive"].startswith("positive_")
    columns = vocab.columns()
    assert len(columns) == len(set(columns)) and columns[-4:] == list(BALANCE_COLUMNS)
    assert vocab.describe("ev_negative_28d")[1] == "Negative events (negative) in the last 28 days"
    assert vocab.describe("ev_positive_28d", "zh")[1] == "近28天正面事件（login）次数"


def test_config_lists_load_and_a_type_in_both_is_refused():
    config = load_config(overrides={"features": {"negative_events": ["error"], "positive_events": ["login", "invite"]}})
    assert config.features.negative_events == ["error"] and config.features.positive_events == ["login", "invite"]
    assert load_config().features.negative_events == [] == load_config().features.positive_events
    with pytest.raises(ConfigError, match=r"event type 'login' is in both features.negative_events and features.positive_events"):
        load_config(overrides={"features": {"negative_events": ["error", "login"], "positive_events": ["login"]}})
    with pytest.raises(ConfigError, match=r"features.positive_events = \['login', ' '\] has a blank event type"):
        load_config(overrides={"features": {"negative_events": ["error"], "positive_events": ["login", " "]}})
    with pytest.raises(ConfigError, match=r"features.negative_events"):
        load_config(overrides={"features": {"negative_events": "error"}})
