"""kit.segments.movement: transition tables, shares, top moves; kit.segments.page: the sentences and heatmaps."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd
import pytest

from kit.segments.movement import (
    NEW_IN_DATA,
    stay_rate,
    top_moves,
    transition_matrix,
    transitions,
)
from kit.segments.page import narratives, segment_label, with_new_label
from kit.text.fmt import Formatter
from kit.text.heatmap import draw_heatmap

PREVIOUS = pd.DataFrame(
    {
        "customer_id": ["a", "b", "c", "d", "e", "f"],
        "rfm_segment": ["Champions", "Champions", "Champions", "Loyal", "Loyal", "Lost"],
    }
)
CURRENT = pd.DataFrame(
    {
        "customer_id": ["a", "b", "c", "d", "e", "f", "g"],
        "rfm_segment": ["Champions", "At Risk", "At Risk", "Loyal", "At Risk", "Lost", "New"],
    }
)
VALUE = pd.Series([100.0, 600.0, 640.0, 50.0, 20.0, 0.0, 30.0])
ORDER = ["Champions", "Loyal", "New", "At Risk", "Lost"]


@pytest.fixture()
def moves() -> pd.DataFrame:
    return transitions(PREVIOUS, CURRENT, "rfm_segment", VALUE)


def test_transitions_count_and_value(moves: pd.DataFrame) -> None:
    table = moves.set_index(["source", "target"])
    assert table.loc[("Champions", "At Risk"), "count"] == 2
    assert table.loc[("Champions", "At Risk"), "value"] == pytest.approx(1240.0)
    assert table.loc[(NEW_IN_DATA, "New"), "count"] == 1
    assert moves["count"].sum() == len(CURRENT) and moves["value"].sum() == pytest.approx(VALUE.sum())


def test_transition_matrix_orders_rows_and_shares(moves: pd.DataFrame) -> None:
    counts = transition_matrix(moves, ORDER)
    assert list(counts.columns) == ORDER and list(counts.index) == [*ORDER, NEW_IN_DATA]
    assert counts.loc["Champions", "At Risk"] == 2 and counts.loc["New"].sum() == 0
    shares = transition_matrix(moves, ORDER, row_share=True)
    assert shares.loc["Champions", "At Risk"] == pytest.approx(2 / 3)
    assert shares.loc["Loyal"].sum() == pytest.approx(1.0) and shares.loc["New"].sum() == 0
    value = transition_matrix(moves, ORDER, measure="value")
    assert value.loc["Champions", "At Risk"] == pytest.approx(1240.0)


def test_top_moves_skip_stayers_and_new_customers(moves: pd.DataFrame) -> None:
    top = top_moves(moves, n=5)
    assert list(zip(top["source"], top["target"])) == [("Champions", "At Risk"), ("Loyal", "At Risk")]
    assert stay_rate(moves) == pytest.approx(3 / 6)


def test_narrative_sentences_in_both_languages(moves: pd.DataFrame) -> None:
    en = narratives(moves, lambda n: segment_label(n, "en"), Formatter("en", "CNY"), n=1)
    assert en == ["2 Champions became At Risk, worth ¥1.2K a year."]
    zh = narratives(moves, lambda n: segment_label(n, "zh"), Formatter("zh", "CNY"), n=1)
    assert zh == ["2 位冠军客户变为风险客户，年价值 ¥1,240。"]


def test_missing_columns_and_misaligned_value_are_explained() -> None:
    with pytest.raises(KeyError, match="last month's segments"):
        transitions(PREVIOUS.drop(columns="rfm_segment"), CURRENT, "rfm_segment", VALUE)
    with pytest.raises(ValueError, match="rows"):
        transitions(PREVIOUS, CURRENT, "rfm_segment", VALUE.head(3))


def test_heatmap_draws_every_cell(moves: pd.DataFrame) -> None:
    counts = transition_matrix(moves, ORDER)
    label = with_new_label(lambda n: segment_label(n, "zh"), "zh")
    fig, ax = plt.subplots()
    draw_heatmap(ax, counts, counts.astype(int).astype(str), [label(n) for n in counts.index], [label(n) for n in counts.columns])
    assert len(ax.texts) == counts.size
    assert ax.get_yticklabels()[-1].get_text() == "本月新增"
    plt.close(fig)
