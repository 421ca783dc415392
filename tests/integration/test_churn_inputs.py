"""Churn on the data a company actually has: any feature set reaches scikit-learn without
empty or constant columns (each dropped with its reason), other event vocabularies feed
the model, reasons name only model features, and the page says what was not used."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from worlds import orders_only, other_vocabulary

from kit.churn import run_churn
from kit.churn.model import (
    ChurnModelError,
    FeatureSpec,
    check_enough,
    fit_churn_model,
    screen,
)
from kit.churn.page import (
    feature_label,
    input_notes,
    phrase,
    reason_phrases,
    retention_gaps,
)
from kit.churn.signals import churn_features
from kit.core.config import KitConfig
from kit.core.warehouse import Warehouse
from kit.text.fmt import Formatter

MONTH = "2026-10"


def _late_signal(wh: Warehouse, month: str, config: KitConfig) -> pd.DataFrame:
    """The default features plus a signal that only the run month has (a source started late)."""
    features = churn_features(wh, month, config)
    values = np.arange(len(features), dtype=float) if month == MONTH else np.nan
    return features.assign(late_signal=values)


@pytest.fixture(scope="module")
def orders_result(tmp_path_factory: pytest.TempPathFactory):
    wh = Warehouse(orders_only(tmp_path_factory.mktemp("churn_orders"), n_customers=2000, seed=4))
    return run_churn(wh, MONTH, KitConfig(), features_fn=_late_signal)


@pytest.fixture(scope="module")
def vocabulary_result(tmp_path_factory: pytest.TempPathFactory):
    wh = Warehouse(other_vocabulary(tmp_path_factory.mktemp("churn_vocabulary"), n_customers=2000, seed=4))
    return run_churn(wh, MONTH, KitConfig())


def test_screen_drops_empty_constant_and_twin_columns() -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"recency_days": rng.exponential(50, 400), "nothing": np.nan, "same": 1.0,
                          "level": pd.Series([None] * 400, dtype="str"), "channel": rng.choice(["app", "store"], 400)})
    frame["twin"] = frame["recency_days"]
    spec = FeatureSpec.infer(frame)
    dropped = screen(spec, spec.matrix(frame)).set_index("feature")
    assert dropped["reason"].to_dict() == {"nothing": "empty", "same": "constant", "twin": "duplicate", "level": "empty"}
    assert dropped.loc["twin", "same_as"] == "recency_days"
    kept = spec.without(dropped.index)
    assert kept.columns == ("recency_days", "channel")
    y = rng.random(400) < 0.5
    with pytest.raises(ValueError, match="window shape"):  # what reached scikit-learn before
        fit_churn_model(spec, spec.matrix(frame), y, spec.matrix(frame), y, 0, np.arange(400))
    model = fit_churn_model(kept, kept.matrix(frame), y, kept.matrix(frame), y, 0, np.arange(400))
    assert model.predict(kept.matrix(frame)).shape == (400,)


def test_too_few_features_is_an_error_naming_them_and_the_missing_inputs() -> None:
    spec = FeatureSpec(("recency_days", "tenure_days"), ())
    dropped = pd.DataFrame({"feature": ["last_nps"], "reason": ["empty"], "same_as": [""]})
    with pytest.raises(ChurnModelError, match=r"only 2 usable feature\(s\) remain \(recency_days, tenure_days\).*"
                       r"last_nps \(empty\).*lacks: events, surveys"):
        check_enough(spec, dropped, {"visits_90d": "events", "last_nps": "surveys"}, MONTH)
    check_enough(FeatureSpec(("recency_days", "tenure_days", "frequency_all"), ()), dropped, {}, MONTH)


def test_orders_only_churn_runs_and_says_what_it_could_not_use(orders_result) -> None:
    # before: the missing events table, then the all-null survey and visit columns
    # ("window shape cannot be larger than input array shape") stopped the run
    result = orders_result
    dropped = result.dropped.set_index("feature")["reason"]
    assert dropped["late_signal"] == "empty_in_training" and "has_ordered" not in result.model.spec.columns
    assert not set(result.dropped["feature"]) & set(result.model.spec.columns)
    assert {"last_nps": "surveys", "night_share": "orders.time", "visits_90d": "events"}.items() <= result.skipped.items()
    assert not any(c.startswith(("visit", "ev_", "last_nps")) for c in result.model.spec.columns)
    codes = {str(c).partition("=")[0] for k in (1, 2, 3) for c in result.scores[f"reason_{k}"]} - {""}
    assert codes and codes <= set(result.model.spec.columns)  # reasons refer only to model features
    assert 0.5 < result.headline()["auc"] <= 1
    notes = input_notes(result, lambda need: f"<{need}>", "en")
    assert notes[0].startswith("Signals not used for lack of data:") and "<surveys> (4 signal(s))" in notes[0]
    # a shop has no subscriptions to miss, and an event balance never asked for is no gap
    assert "<subscriptions>" in result.skipped.values() or "subscriptions" in result.skipped.values()
    assert "subscriptions>" not in notes[0] and "<features." not in notes[0]
    assert "late_signal (no values in the months the model learns from)" in notes[1]
    assert retention_gaps(result, "en") == []  # no segments, but orders have channels
    no_channel = dataclasses.replace(result, spans=result.spans.drop(columns="main_channel"))
    assert retention_gaps(no_channel, "en") == [("orders.channel", "retention by channel")]


def test_another_event_vocabulary_feeds_the_model(vocabulary_result) -> None:
    # before: only visit / view / add_to_cart events reached the churn model
    result = vocabulary_result
    columns = set(result.model.spec.columns)
    assert {"ev_login_28d", "ev_login_trend_28d", "days_since_ev_complaint", "ev_share_rate_28d"} <= columns
    assert not {"visits_since_last_order", "visit_shortfall", "visits_90d"} & columns
    assert result.event_types["login"] == "login"
    fmt = Formatter("en", "CNY")
    assert feature_label("ev_login_trend_28d", "en", result.event_types) == "'login' trend (28 days vs the 28 before)"
    assert feature_label("days_since_ev_type_1a2b3c4d", "zh", {"type_1a2b3c4d": "登录"}) == "距上次“登录”的天数"
    assert phrase("ev_login_trend_28d", -0.5, np.nan, fmt, result.event_types) == "'login' events fell 50% vs the 28 days before"
    assert phrase("days_since_ev_share", 12.0, np.nan, fmt) == "days since the last 'share' event: 12 days"
    phrases = reason_phrases(result.scores.head(50), fmt, result.event_types)
    assert not phrases.apply(lambda col: col.str.contains("ev_")).any().any()  # no raw codes on the page
