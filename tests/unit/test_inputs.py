"""kit.core.inputs: which tables, columns, times of day and event types a warehouse holds."""

from __future__ import annotations

import pandas as pd
import pytest

from kit.core.inputs import Inputs
from kit.text.i18n import t


def _write(root, name, frame):
    frame.to_parquet(root / f"{name}.parquet", index=False)


def test_inputs_read_rows_filled_columns_times_and_event_types(tmp_path):
    ts = pd.to_datetime(["2026-01-01", "2026-01-02"])
    _write(tmp_path, "orders", pd.DataFrame({"customer_id": ["a", "b"], "order_ts": ts, "amount": [1.0, 2.0],
                                             "discount": [None, None], "has_time": [False, False]}).astype({"discount": "float64"}))
    _write(tmp_path, "events", pd.DataFrame({"customer_id": ["a"], "event_ts": ts[:1], "event_type": ["login"]}))
    _write(tmp_path, "surveys", pd.DataFrame({"customer_id": pd.Series([], dtype="str"), "nps": pd.Series([], dtype="Int64")}))
    inputs = Inputs.read(tmp_path)
    assert inputs.has("orders") and inputs.has("orders.amount")
    assert not inputs.has("orders.discount")  # present but all null
    assert not inputs.has("orders.time")  # every row is a date only
    assert inputs.has("events.time")  # no has_time column: times are assumed to carry a time of day
    assert inputs.event_types == ("login",)
    assert not inputs.has("surveys") and not inputs.has("assignments")
    assert inputs.missing(["orders", "surveys", "orders.discount", "events"]) == ["surveys", "orders.discount"]
    with pytest.raises(ValueError, match="unknown input"):
        inputs.has("tickets")


def test_every_table_and_time_need_has_a_phrase_in_both_languages():
    for need in ("customers", "orders", "events", "surveys", "assignments", "orders.time", "events.time"):
        for lang in ("en", "zh"):
            assert t(f"input.{need}", lang)
    assert t("input.unavailable", "en", missing="No survey data", what="satisfaction") == (
        "No survey data: satisfaction is not shown."
    )
