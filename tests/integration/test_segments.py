"""kit.segments: RFM scores and segments, cn8, value tiers, lifecycle stages, the step."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kit.config import KitConfig, SegmentationConfig
from kit.report.i18n import t
from kit.segments import (
    CN8_NAMES,
    PROSPECT,
    RFM11_NAMES,
    RFM11_RULES,
    SEGMENT_COLUMNS,
    STAGES,
    TIERS,
    break_scores,
    build_segments,
    cn8_segments,
    first_match,
    layer_summary,
    lifecycle_stage,
    quantile_scores,
    rfm11_segments,
    rfm_grid,
    rfm_scores,
    segment_action,
    segment_label,
    value_tiers,
)
from worlds import make_profile

CFG = SegmentationConfig()


@pytest.fixture(scope="module")
def profile() -> pd.DataFrame:
    return make_profile(1500, seed=1)[0]


@pytest.fixture(scope="module")
def segments(profile: pd.DataFrame) -> pd.DataFrame:
    return build_segments(profile, KitConfig(), None)


# --------------------------------------------------------------------------- scores


def test_quantile_scores_are_exact_quintiles_without_ties() -> None:
    scores = quantile_scores(np.arange(100, dtype=float))
    assert np.array_equal(np.bincount(scores)[1:], [20] * 5)
    assert scores[0] == 1 and scores[-1] == 5


def test_quantile_scores_reverse_for_recency() -> None:
    scores = quantile_scores(np.array([1.0, 10.0, 100.0, 1000.0, 5.0]), higher_is_better=False)
    assert list(scores) == [5, 3, 2, 1, 4]


def test_ties_share_a_score_and_single_order_customers_score_one() -> None:
    # 60% single-order customers: they must all get F = 1, and equal values equal scores
    freq = np.array([1.0] * 60 + [2.0] * 20 + [3.0] * 10 + [8.0] * 10)
    scores = quantile_scores(freq)
    assert set(scores[:60]) == {1}
    for value in np.unique(freq):
        assert len(set(scores[freq == value])) == 1
    # 2 orders: 60% of customers are strictly below -> 1 + floor(5 * 0.6) = 4
    assert set(scores[60:80]) == {4} and set(scores[80:]) == {5}


@given(st.lists(st.integers(0, 30), min_size=1, max_size=200))
@settings(max_examples=60, deadline=None)
def test_quantile_scores_are_monotone_and_in_range(values: list[int]) -> None:
    x = np.array(values, dtype=float)
    scores = quantile_scores(x)
    assert scores.min() >= 1 and scores.max() <= 5
    order = np.argsort(x, kind="stable")
    assert np.all(np.diff(scores[order].astype(int)) >= 0)
    assert scores[x == x.min()].max() == 1


def test_break_scores_use_inclusive_upper_edges() -> None:
    freq = np.array([1, 2, 3, 4, 5, 8, 9], dtype=float)
    assert list(break_scores(freq, [1, 2, 4, 8])) == [1, 2, 3, 3, 4, 4, 5]
    recency = np.array([0, 30, 31, 90, 91, 365, 366], dtype=float)
    assert list(break_scores(recency, [30, 90, 180, 365], higher_is_better=False)) == [5, 5, 4, 4, 3, 2, 1]


def test_break_scores_reject_bad_breaks() -> None:
    with pytest.raises(ValueError, match="4 strictly increasing"):
        break_scores(np.array([1.0]), [1, 1, 2, 3])


def test_rfm_scores_leave_never_ordered_customers_unscored(profile: pd.DataFrame) -> None:
    scores = rfm_scores(profile, CFG)
    never = ~profile["has_ordered"]
    assert scores.loc[never].isna().all().all()
    assert scores.loc[~never].notna().all().all()
    assert str(scores["r_score"].dtype) == "Int8"
    # recent customers score higher on R
    ordered = profile.loc[~never]
    assert ordered["recency_days"].corr(scores.loc[~never, "r_score"].astype(float), method="spearman") < -0.9


def test_rfm_scores_with_user_breaks(profile: pd.DataFrame) -> None:
    cfg = dataclasses.replace(CFG, rfm_breaks={"frequency": [1, 2, 4, 8]})
    scores = rfm_scores(profile, cfg)
    single = profile["has_ordered"] & (profile["frequency_all"] == 1)
    assert (scores.loc[single, "f_score"] == 1).all()
    many = profile["frequency_all"] > 8
    assert (scores.loc[many, "f_score"] == 5).all()
    with pytest.raises(ValueError, match="unknown key"):
        rfm_scores(profile, dataclasses.replace(CFG, rfm_breaks={"spend": [1, 2, 3, 4]}))


# --------------------------------------------------------------------------- named segments


def test_rule_list_ends_with_a_catch_all_and_reaches_all_eleven() -> None:
    assert RFM11_RULES[-1].r == (1, 5) and RFM11_RULES[-1].f == (1, 5) and RFM11_RULES[-1].m == (1, 5)
    reached = {first_match(RFM11_RULES, r, f, m) for r in range(1, 6) for f in range(1, 6) for m in range(1, 6)}
    assert reached == set(RFM11_NAMES) and len(RFM11_NAMES) == 11


@pytest.mark.parametrize(
    ("r", "f", "m", "expected"),
    [
        (5, 5, 5, "Champions"),
        (3, 4, 4, "Loyal"),
        (1, 5, 5, "Can't Lose Them"),
        (2, 4, 3, "At Risk"),
        (5, 1, 5, "New"),
        (4, 3, 1, "Potential Loyalist"),
        (3, 1, 2, "Promising"),
        (3, 2, 2, "Need Attention"),
        (2, 1, 1, "About to Sleep"),
        (1, 3, 1, "Hibernating"),
        (1, 1, 1, "Lost"),
    ],
)
def test_known_score_combinations(r: int, f: int, m: int, expected: str) -> None:
    assert first_match(RFM11_RULES, r, f, m) == expected


@given(st.lists(st.tuples(st.integers(1, 5), st.integers(1, 5), st.integers(1, 5)), min_size=1, max_size=80))
@settings(max_examples=80, deadline=None)
def test_every_score_combination_lands_in_exactly_one_segment(rows: list[tuple[int, int, int]]) -> None:
    scores = pd.DataFrame(rows, columns=["r_score", "f_score", "m_score"]).astype("Int8")
    names = rfm11_segments(scores)
    assert names.notna().all() and names.isin(RFM11_NAMES).all()
    for (r, f, m), name in zip(rows, names):
        matching = [rule.name for rule in RFM11_RULES if rule.matches(r, f, m)]
        assert matching[0] == name  # first match wins, and at least one rule matches


def test_unscored_customers_are_prospects() -> None:
    scores = pd.DataFrame({"r_score": [5, None], "f_score": [5, None], "m_score": [5, None]}).astype("Int8")
    assert list(rfm11_segments(scores)) == ["Champions", PROSPECT]


# --------------------------------------------------------------------------- cn8


def _cn8_profile() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "has_ordered": [True, True, True, True, False],
            "recency_days": [10.0, 10.0, 200.0, 200.0, np.nan],
            "frequency_all": [10, 1, 10, 1, 0],
            "monetary_all": [1000.0, 1000.0, 10.0, 10.0, 0.0],
        }
    )


def test_cn8_against_the_mean() -> None:
    names = cn8_segments(_cn8_profile(), dataclasses.replace(CFG, rfm_scheme="cn8"))
    # means over orderers: recency 105, frequency 5.5, monetary 505
    assert list(names) == ["Important value", "Important development", "General retention", "General win-back", PROSPECT]


def test_cn8_median_and_user_breaks() -> None:
    frame = _cn8_profile()
    frame.loc[0, "monetary_all"] = 1e6  # moves the mean, not the median
    by_mean = cn8_segments(frame, dataclasses.replace(CFG, cn8_break="mean"))
    by_median = cn8_segments(frame, dataclasses.replace(CFG, cn8_break="median"))
    assert by_mean[1] == "General development" and by_median[1] == "Important development"
    given_breaks = cn8_segments(frame, dataclasses.replace(CFG, cn8_breaks={"recency": 300, "frequency": 0, "monetary": 5}))
    assert set(given_breaks[:4]) == {"Important value"}
    assert set(CN8_NAMES) >= set(by_mean[:4])


def test_build_segments_with_cn8_scheme(profile: pd.DataFrame) -> None:
    out = build_segments(profile, dataclasses.replace(CFG, rfm_scheme="cn8", persona_k_max=4))
    assert out["rfm_segment"].isin([*CN8_NAMES, PROSPECT]).all()


# --------------------------------------------------------------------------- value tiers


def test_value_tiers_by_cumulative_revenue_share() -> None:
    value = pd.Series([50.0, 30.0, 10.0, 5.0, 5.0, 0.0])
    # share of revenue above each customer: 0, .5, .8, .9, .9, 1
    assert list(value_tiers(value, [0.5, 0.85])) == ["high", "medium", "medium", "low", "low", "low"]
    assert list(value_tiers(value, [0.6, 0.85])) == ["high", "high", "medium", "low", "low", "low"]


@given(st.lists(st.floats(0, 1e4, allow_nan=False), min_size=1, max_size=300))
@settings(max_examples=60, deadline=None)
def test_value_tiers_match_a_sorted_reference(values: list[float]) -> None:
    value = pd.Series(values)
    tiers = value_tiers(value, [0.5, 0.85])
    total = value.sum()
    for amount, tier in zip(values, tiers):
        if amount <= 0 or total <= 0:
            assert tier == "low"
            continue
        above = value[value > amount].sum() / total
        assert tier == ("high" if above < 0.5 else "medium" if above < 0.85 else "low")


def test_value_tiers_reject_bad_shares() -> None:
    with pytest.raises(ValueError, match="value_tier_shares"):
        value_tiers(pd.Series([1.0]), [0.9, 0.5])


# --------------------------------------------------------------------------- lifecycle


def test_lifecycle_stage_boundaries() -> None:
    snap = pd.Timestamp("2026-10-31")
    days = pd.to_timedelta
    first = [90, 91, 400, 400, 400, 400, 400, None]
    last = [0, 0, 90, 91, 180, 181, 500, None]
    frame = pd.DataFrame(
        {
            "snapshot_date": snap,
            "first_order_date": [snap - days(d, "D") if d is not None else pd.NaT for d in first],
            "last_order_date": [snap - days(d, "D") if d is not None else pd.NaT for d in last],
        }
    )
    stages = lifecycle_stage(frame, KitConfig())
    assert list(stages) == ["new", "active", "active", "silent", "silent", "churned", "churned", "prospect"]
    shorter = lifecycle_stage(frame, dataclasses.replace(CFG, new_days=30, active_days=30, silent_days=90))
    assert list(shorter) == ["active", "active", "silent", "churned", "churned", "churned", "churned", "prospect"]


def test_new_takes_precedence_over_active_and_times_of_day_do_not_matter() -> None:
    frame = pd.DataFrame(
        {
            "snapshot_date": [pd.Timestamp("2026-10-31")],
            "first_order_date": [pd.Timestamp("2026-08-02 23:59")],  # 90 days before
            "last_order_date": [pd.Timestamp("2026-10-30 08:00")],
        }
    )
    assert lifecycle_stage(frame, CFG).iloc[0] == "new"


def test_lifecycle_stage_names_missing_columns() -> None:
    with pytest.raises(KeyError, match="first_order_date"):
        lifecycle_stage(pd.DataFrame({"snapshot_date": [pd.Timestamp("2026-10-31")]}), CFG)


# --------------------------------------------------------------------------- the step


def test_build_segments_contract(profile: pd.DataFrame, segments: pd.DataFrame) -> None:
    out = segments
    assert list(out.columns) == list(SEGMENT_COLUMNS)
    assert len(out) == len(profile) and out["customer_id"].is_unique
    assert out["rfm_segment"].isin([*RFM11_NAMES, PROSPECT]).all()
    assert out["lifecycle_stage"].isin(STAGES).all() and out["value_tier"].isin(TIERS).all()
    never = profile["has_ordered"].to_numpy()
    assert (out.loc[~never, "rfm_segment"] == PROSPECT).all() and (out.loc[~never, "lifecycle_stage"] == "prospect").all()
    assert out["persona"].notna().all() and out["persona_id"].notna().all()
    # the fixture has no sign-up channel and no browsing: customers who never ordered have
    # no signal at all, so they get no persona instead of a guessed one
    assert (out.loc[never, "persona_basis"] == "orders").all() and (out.loc[~never, "persona_basis"] == "none").all()
    assert (out.loc[~never, "persona_id"] == -1).all() and (out.loc[never, "persona_id"] > 0).all()
    assert (out.loc[~never, "persona"] == "Not enough data yet").all()


def test_build_segments_rejects_duplicates_and_missing_columns(profile: pd.DataFrame) -> None:
    doubled = pd.concat([profile.head(5), profile.head(1)], ignore_index=True)
    with pytest.raises(ValueError, match="duplicated customer_id"):
        build_segments(doubled, CFG)
    with pytest.raises(KeyError, match="monetary_all"):
        build_segments(profile.drop(columns="monetary_all"), CFG)


def test_layer_summary_and_grid_add_up(profile: pd.DataFrame, segments: pd.DataFrame) -> None:
    out = segments
    value = profile["monetary_365d"]
    summary = layer_summary(out, value, "rfm_segment", [*RFM11_NAMES, PROSPECT], "zh")
    assert summary["customers"].sum() == len(profile)
    assert summary["revenue"].sum() == pytest.approx(value.sum())
    assert summary["revenue_share"].sum() == pytest.approx(1.0)
    assert summary.loc[summary["name"] == "Champions", "label"].item() == "冠军客户"
    counts, mean = rfm_grid(out, value)
    assert counts.shape == (5, 5) and list(counts.index) == [5, 4, 3, 2, 1]
    assert counts.to_numpy().sum() == profile["has_ordered"].sum()
    assert mean.loc[5, 5] > mean.loc[1, 1]


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_every_layer_has_a_label_and_an_action(lang: str) -> None:
    for name in [*RFM11_NAMES, *CN8_NAMES, PROSPECT, *STAGES, *TIERS]:
        assert segment_label(name, lang) and segment_action(name, lang)
    assert segment_label("churned", "zh") == "流失客户" and segment_label("prospect", "zh") == "潜在客户"
    assert t("segments.seg.important_value", "zh") == "重要价值客户"


def test_layer_labeller_translates_segments_and_personas(tmp_path) -> None:
    import json

    from kit.segments import layer_labeller
    from kit.warehouse import Warehouse

    wh = Warehouse(tmp_path)
    folder = wh.snapshot_dir("2026-10")
    (folder / "personas.json").write_text(
        json.dumps({"personas": [{"persona_id": 0, "name_en": "Night owls", "name_zh": "夜猫子"}]}), encoding="utf-8"
    )
    assert layer_labeller(wh, "2026-10", "persona", "zh")("Night owls") == "夜猫子"
    assert layer_labeller(wh, "2026-10", "persona", "zh")("(none)") == "(none)"
    assert layer_labeller(wh, "2026-10", "persona", "zh")("Not enough data yet") == "数据不足"
    assert layer_labeller(wh, "2026-10", "rfm_segment", "zh")("Champions") != "Champions"
    assert layer_labeller(wh, "2026-10", "rfm_segment", "en")("Champions") == "Champions"
