"""kit.segments.pipeline: RFM scores and segments, cn8, value tiers, lifecycle stages, the step;
kit.segments.page: the 03_segmentation page built from a MonthRun."""

from __future__ import annotations

import dataclasses

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from worlds import make_profile as _make_profile

from kit.core.config import KitConfig, SegmentationConfig
from kit.core.vocabulary import Vocabulary, customer_counts
from kit.segments import page
from kit.segments.movement import NEW_IN_DATA, transitions
from kit.segments.page import segment_action, segment_label
from kit.segments.personas import UNPROFILED, load_personas
from kit.segments.pipeline import (
    CN8_NAMES,
    MOVEMENT_COLUMNS,
    PROSPECT,
    RFM11_NAMES,
    RFM11_RULES,
    SEGMENT_COLUMNS,
    STAGES,
    TIERS,
    MonthRun,
    SegmentationResult,
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
    segment_month,
    value_tiers,
)
from kit.text.fmt import Formatter
from kit.text.i18n import t


def make_profile(n: int = 2000, seed: int = 0, month: str = "2026-10") -> tuple[pd.DataFrame, np.ndarray]:
    """profile_fixture.make_profile with ``days_since_first_order`` (kit.core.vocabulary's
    lifecycle rule reads it) as long as the shared fixture does not build it."""
    profile, groups = _make_profile(n, seed, month)
    if "days_since_first_order" not in profile.columns:
        profile["days_since_first_order"] = (profile["snapshot_date"] - profile["first_order_date"]).dt.days.astype("float64")
    return profile, groups

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


def _days(first: list[float | None], last: list[float | None]) -> pd.DataFrame:
    """A profile with the day counts the vocabulary's lifecycle rule reads (days before the month end)."""
    return pd.DataFrame({"days_since_first_order": pd.Series(first, dtype="float64"),
                         "recency_days": pd.Series(last, dtype="float64")})


def test_lifecycle_stage_boundaries() -> None:
    frame = _days([90, 91, 400, 400, 400, 400, 400, None], [0, 0, 90, 91, 180, 181, 500, None])
    stages = lifecycle_stage(frame, KitConfig().segmentation)
    assert list(stages) == ["new", "active", "active", "silent", "silent", "churned", "churned", "prospect"]
    shorter = lifecycle_stage(frame, dataclasses.replace(CFG, new_days=30, active_days=30, silent_days=90))
    assert list(shorter) == ["active", "active", "silent", "churned", "churned", "churned", "churned", "prospect"]


def test_new_takes_precedence_over_active() -> None:
    assert lifecycle_stage(_days([90], [1]), CFG).iloc[0] == "new"


def test_lifecycle_stage_names_missing_columns() -> None:
    with pytest.raises(ValueError, match="days_since_first_order"):
        lifecycle_stage(pd.DataFrame({"recency_days": [1.0]}), CFG)


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
    summary = layer_summary(out, value, "rfm_segment", [*RFM11_NAMES, PROSPECT])
    assert summary["customers"].sum() == len(profile)
    assert summary["revenue"].sum() == pytest.approx(value.sum())
    assert summary["revenue_share"].sum() == pytest.approx(1.0)
    assert list(summary.columns) == ["name", "customers", "share", "revenue", "revenue_share", "avg_revenue"]
    assert summary["name"].tolist() == [n for n in [*RFM11_NAMES, PROSPECT] if n in set(out["rfm_segment"])]
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

    from kit.core.warehouse import Warehouse
    from kit.segments.page import layer_labeller

    wh = Warehouse(tmp_path)
    folder = wh.snapshot_dir("2026-10")
    (folder / "personas.json").write_text(json.dumps({"personas": [
        {"persona_id": 1, "name_en": "Deal-seeking night owls", "traits": [["discount_share", "high"], ["night_share", "high"]]},
        {"persona_id": 2, "name_en": "Old file", "name_zh": "旧文件"},  # a personas.json from before traits were kept
    ]}), encoding="utf-8")
    assert layer_labeller(wh, "2026-10", "persona", "zh")("Deal-seeking night owls") == "爱用券·夜猫子"
    assert layer_labeller(wh, "2026-10", "persona", "en")("Deal-seeking night owls") == "Deal-seeking night owls"
    assert layer_labeller(wh, "2026-10", "persona", "zh")("Old file") == "旧文件"
    assert layer_labeller(wh, "2026-10", "persona", "zh")("(none)") == "(none)"
    assert layer_labeller(wh, "2026-10", "persona", "zh")("Not enough data yet") == "数据不足"
    assert layer_labeller(wh, "2026-10", "rfm_segment", "zh")("Champions") != "Champions"
    assert layer_labeller(wh, "2026-10", "rfm_segment", "en")("Champions") == "Champions"
    assert layer_labeller(wh, "2026-11", "persona", "zh")("Not enough data yet") == "数据不足"  # no personas.json
    with pytest.raises(ValueError, match="no display names"):
        layer_labeller(wh, "2026-10", "value_tier", "en")


# --------------------------------------------------------------------------- the month run and its page

SMALL = KitConfig()
SMALL = dataclasses.replace(SMALL, segmentation=dataclasses.replace(SMALL.segmentation, persona_k_min=3, persona_k_max=4,
                                                                    persona_sample=800))
EN, ZH = Formatter("en", "CNY"), Formatter("zh", "CNY")


class FakeCanvas:
    """What the page draws on (kit.text.cards.Canvas), recording every call."""

    def __init__(self, lang: str = "en") -> None:
        self.lang, self.fmt, self.calls = lang, Formatter(lang, "CNY"), []

    def section(self, title: str, meaning: str = "") -> None:
        self.calls.append(("section", title))

    def banner(self, text: str, level: str = "info") -> None:
        self.calls.append(("banner", text, level))

    def kpis(self, cards: list) -> None:
        self.calls.append(("kpis", cards))

    def table(self, frame: pd.DataFrame, formats: dict | None = None, caption: str = "", max_rows: int = 30) -> None:
        self.calls.append(("table", frame, formats))

    def figure(self, title: str, xlabel: str = "", ylabel: str = "", size: tuple = (8, 4.5)):
        fig, ax = plt.subplots(figsize=size)
        ax.set_title(title)
        self.calls.append(("figure", title))
        return fig, ax

    def show(self, fig) -> None:
        self.calls.append(("show",))
        plt.close(fig)

    def colors(self, names: list[str], kind: str = "") -> dict[str, str]:
        return {n: "#336699" for n in names}

    def kinds(self) -> list[str]:
        return [c[0] for c in self.calls]


@pytest.fixture(scope="module")
def first() -> MonthRun:
    """A month without last month's segments (no movement)."""
    return segment_month("2026-10", make_profile(600, seed=2)[0], SMALL)


@pytest.fixture(scope="module")
def run(first: MonthRun) -> MonthRun:
    """The same month with a made-up last month: 60 Champions were Loyal, 20 customers are new in data."""
    previous = first.segments.copy()
    champions = previous.index[previous["rfm_segment"] == "Champions"][:60]
    previous.loc[champions, "rfm_segment"] = "Loyal"
    previous = previous.iloc[20:].reset_index(drop=True)
    moves = {c: transitions(previous, first.segments, c, first.value) for c in MOVEMENT_COLUMNS}
    return dataclasses.replace(first, previous=previous, moves=moves)


def _text(frame: pd.DataFrame) -> str:
    return " ".join(frame.astype(str).to_numpy().ravel())


def test_headline_counts_customers_with_the_vocabulary(run: MonthRun) -> None:
    h = run.headline()
    counts = customer_counts(run.profile, Vocabulary.from_config(SMALL))
    assert {k: h[k] for k in counts} == counts
    assert h["buyers"] == run.segments["r_score"].notna().sum() == run.profile["has_ordered"].sum()
    assert h["active_customers"] == run.segments["lifecycle_stage"].isin(["new", "active"]).sum()
    assert h["active_share"] == pytest.approx(h["active_customers"] / h["customers"])
    assert h["high_value_share"] == pytest.approx((run.segments["value_tier"] == "high").mean())
    risky = run.segments["rfm_segment"].isin(["At Risk", "Can't Lose Them"]).to_numpy()
    assert h["at_risk_customers"] == risky.sum()
    assert h["at_risk_segments_revenue"] == pytest.approx(run.value[risky].sum())
    assert not any("value_at_risk" in k or k == "at_risk_value" for k in h)  # the vocabulary's word is p(churn) x CLV
    assert h["previous_month_found"] and h["rfm_stay_rate"] == pytest.approx(run.stay_rate())
    assert h["persona_names"] == [run.personas.name(p) for p in run.personas.ids]
    first = dataclasses.replace(run, previous=None, moves={}).headline()
    assert first["rfm_stay_rate"] is None and not first["previous_month_found"]


def test_month_run_writes_snapshots_with_codes(first: MonthRun, tmp_path) -> None:
    from kit.core.warehouse import Warehouse

    wh = Warehouse(tmp_path)
    assert first.write(wh) is None  # nothing for a notebook cell to print
    assert wh.snapshot_path("2026-10", "segments").exists()
    back = wh.read_snapshot("2026-10", "segments")
    assert list(back.columns) == list(SEGMENT_COLUMNS) and len(back) == len(first.segments)
    cards = load_personas(wh.snapshot_dir("2026-10"))
    assert [p["persona_id"] for p in cards["personas"]] == first.personas.ids
    assert all(p["traits"] and "name_zh" not in p for p in cards["personas"])
    # the persona column holds the English name for every run language: the key the page translates
    assert set(back["persona"]) <= {p["name_en"] for p in cards["personas"]} | {"Not enough data yet"}


def test_segment_month_measures_movement_only_with_last_month(first: MonthRun, run: MonthRun) -> None:
    assert first.moves == {} and first.previous_month == "2026-09"
    again = segment_month("2026-10", first.profile, SMALL, previous=run.previous)
    assert set(again.moves) == set(MOVEMENT_COLUMNS)
    assert again.moves["rfm_segment"]["count"].sum() == len(first.segments)
    assert (again.moves["rfm_segment"]["source"] == NEW_IN_DATA).sum() >= 1


def test_findings_and_kpis_in_both_languages(first: MonthRun, run: MonthRun) -> None:
    en = page.findings(run, EN)
    assert len(en) == 5 and en[-1] == page.movement_sentences(run, EN, n=1)[0]
    assert "spent" in en[2] and "value at risk" not in " ".join(en).lower()
    assert page.findings(first, ZH)[-1] == t("seg03.finding.no_previous", "zh")
    cards = page.kpi_cards(run, EN)
    h = run.headline()
    assert [c.label for c in cards][4] == "12-month revenue of At-Risk segments"
    assert cards[4].value == EN.money(h["at_risk_segments_revenue"], compact=True) and cards[4].note == EN.int(h["at_risk_customers"])
    assert cards[0].value == EN.int(h["customers"]) and cards[5].value == EN.int(h["personas"])
    assert page.kpi_cards(run, ZH)[4].label == "风险分层近12个月收入"


def test_section_and_figure_texts(run: MonthRun) -> None:
    for name in page.SECTIONS:
        title, meaning = page.section_text(run, name, ZH)
        assert title and meaning and "{" not in meaning
    assert str(run.personas.k) in page.section_text(run, "personas", EN)[1]
    cn8 = dataclasses.replace(run, config=dataclasses.replace(run.config, rfm_scheme="cn8"))
    assert page.section_text(cn8, "segments", EN)[1] == t("seg03.meaning.segments_cn8", "en")
    for name in page.FIGURES:
        labels = page.figure_labels(run, name, EN)
        assert labels["title"] and set(labels) == {"title", "xlabel", "ylabel", "size"}
    people = (run.cards["persona_id"] != 0).sum()
    assert page.figure_labels(run, "personas", EN)["size"] == (9, 0.8 * people + 1.5)
    assert page.figure_labels(run, "grid", EN)["ylabel"] == t("seg03.axis.r", "en")


def test_layer_tables_label_and_add_up(run: MonthRun) -> None:
    summary = page.layer_table(run, "rfm_segment", "zh")
    assert summary.loc[summary["name"] == "Champions", "label"].item() == "冠军客户"
    assert summary["customers"].sum() == len(run.segments) and summary["action"].str.len().gt(0).all()
    for build, rows in ((page.segment_table, summary), (page.operations_table, summary)):
        table, formats = build(run, "en")
        assert len(table) == len(rows) and set(formats) <= set(table.columns)
    table, formats = page.segment_table(run, "en")
    assert "Layer" in table.columns and "name" not in table.columns and formats["Customers"] == "int"
    tiers, _ = page.tier_table(run, "zh")
    assert tiers["层级"].tolist() == [page.segment_label(n, "zh") for n in run.summary("value_tier")["name"]]
    stages, formats = page.stage_table(run, "en")
    assert stages["Customers"].sum() == len(run.segments) and formats["Recommended action"] == "text"


def test_rfm_notes_for_bands_and_cn8(run: MonthRun) -> None:
    assert page.breaks_note(run, EN) is None and page.cn8_rule_table(run, EN) is None
    canvas = FakeCanvas()
    page.show_rfm_notes(canvas, run)
    assert canvas.calls == []
    banded = dataclasses.replace(run, config=dataclasses.replace(run.config, rfm_breaks={"frequency": [1, 2, 4, 8]}))
    assert page.breaks_note(banded, EN) == t("seg03.breaks", "en", breaks="frequency (orders): 1 / 2 / 4 / 8")
    cn8 = dataclasses.replace(run, config=dataclasses.replace(run.config, rfm_scheme="cn8"))
    rule, formats = page.cn8_rule_table(cn8, ZH)
    assert list(rule.columns) == ["指标", "“高”的条件"] and len(rule) == 3 and formats == {}
    canvas = FakeCanvas()
    page.show_rfm_notes(canvas, dataclasses.replace(cn8, config=dataclasses.replace(cn8.config, rfm_breaks={"frequency": [1, 2, 4, 8]})))
    assert canvas.kinds() == ["banner", "table"]


def test_layer_charts(run: MonthRun) -> None:
    fig, ax = plt.subplots()
    page.plot_segments(ax, run, EN, FakeCanvas().colors)
    n = len(run.summary("rfm_segment"))
    assert len(ax.patches) == 2 * n and ax.get_yticklabels()[0].get_text() == "Champions"
    plt.close(fig)
    fig, ax = plt.subplots()
    page.plot_tiers(ax, run, ZH)  # default colours without a report
    assert len(ax.patches) == 2 * len(run.summary("value_tier")) and ax.get_xticklabels()[0].get_text() == "高价值"
    plt.close(fig)
    fig, ax = plt.subplots()
    page.plot_stages(ax, run, EN)
    stages = run.summary("lifecycle_stage")
    assert len(ax.patches) == len(stages) and len(ax.texts) == len(stages)
    assert ax.texts[0].get_text().startswith(f" {EN.int(stages['customers'].iloc[0])} (")
    plt.close(fig)
    fig, ax = plt.subplots()
    page.plot_grid(ax, run, EN)
    counts, text = page.grid_text(run, EN)
    assert len(ax.texts) == 25 and text.iat[0, 0] == f"{EN.int(counts.iat[0, 0])}\n" + text.iat[0, 0].split("\n")[1]
    assert ax.get_yticklabels()[0].get_text() == "5"
    plt.close(fig)


def test_persona_section(run: MonthRun) -> None:
    banners = page.persona_banners(run, EN)
    assert [level for _, level in banners] == ["info"]  # the fixture's never-ordered customers have no signal
    assert "Not enough data yet" in banners[0][0]
    skipped = SegmentationResult(run.segments, dataclasses.replace(run.personas, skipped=["age"]))
    assert page.persona_banners(dataclasses.replace(run, result=skipped), EN)[0] == (
        t("seg03.personas.skipped", "en", features="age"), "warning")
    canvas = FakeCanvas()
    page.show_banners(canvas, banners)
    assert canvas.calls == [("banner", banners[0][0], "info")]
    values, formats = page.persona_value_table(run, ZH)
    assert values["画像"].iloc[-1] == "全部客户" and values["画像"].iloc[-2] == "数据不足" and set(formats) <= set(values.columns)
    profile_table, _ = page.persona_profile_table(run, EN)
    assert len(profile_table) == len(values) and profile_table["What sets them apart"].iloc[0].count("average") >= 1
    fig, ax = plt.subplots()
    page.plot_personas(ax, run, EN)
    people = run.cards[run.cards["persona_id"] != 0]
    assert len(ax.patches) == 2 * len(people)
    assert ax.get_yticklabels()[0].get_text() == page.persona_label(run.personas, int(people["persona_id"].iloc[0]), "en")
    plt.close(fig)
    table, formats, caption = page.k_table(run, "en")
    assert len(table) == len(run.personas.davies_bouldin) == 2 and caption == t("seg03.caption.k", "en")
    assert set(formats) == set(table.columns)


def test_persona_labels(run: MonthRun) -> None:
    model = run.personas
    pid = model.ids[0]
    assert page.persona_label(model, pid, "en") == model.name(pid)  # the English display name is the key
    assert page.persona_label(model, UNPROFILED, "zh") == "数据不足" and page.persona_label(model, 0, "en") == "All customers"
    names = page.persona_names(model.to_json(), "zh")
    assert names[model.name(pid)] == page.persona_name(model.traits[pid], "zh") and names["Not enough data yet"] == "数据不足"
    assert page.persona_names(None, "zh") == {"Not enough data yet": "数据不足"}


def test_movement_section(first: MonthRun, run: MonthRun) -> None:
    assert page.movement_banner(run, EN) is None
    assert page.movement_banner(first, ZH) == t("seg03.no_previous", "zh", month=ZH.month("2026-09"))
    fig, ax = plt.subplots()
    page.plot_movement(ax, run, "lifecycle_stage", EN)
    rows = [x.get_text() for x in ax.get_yticklabels()]
    assert rows[-1] == "New in data" and len(ax.texts) == len(rows) * len(ax.get_xticklabels())
    plt.close(fig)
    # 11 segments, Prospect and New in data: 13 rows are too many for a heatmap, so a table of customers
    fig, ax = plt.subplots()
    with pytest.raises(ValueError, match="13 rows"):
        page.plot_movement(ax, run, "rfm_segment", EN)
    plt.close(fig)
    moved, formats, caption = page.movement_table(run, "rfm_segment", EN)
    assert moved.iloc[0, 0] == "Champions" and moved.iloc[-1, 0] == "New in data" and len(moved) == 13
    assert set(formats) == set(moved.columns[1:]) and caption == page.figure_labels(run, "rfm_segment", EN)["title"]
    moves = run.moves["rfm_segment"]
    became = moves.loc[(moves["source"] == "Loyal") & (moves["target"] == "Champions"), "count"].sum()
    assert moved.loc[moved.iloc[:, 0] == "Loyal", "Champions"].item() == became > 0
    assert page.stay_rate_text(run, EN) == t("seg03.stay_rate", "en", share=EN.pct(run.stay_rate()))
    table, _ = page.moves_table(run, EN)
    assert table.columns.tolist() == ["Largest moves by annual value"] and len(table) == 1  # new-in-data rows are no moves
    assert "Loyal became Champions" in _text(table)
    assert table.iloc[0, 0] == page.movement_sentences(run, EN)[0]
    assert page.movement_sentences(first, EN) == []
    canvas = FakeCanvas()
    page.movement_section(canvas, run)
    assert canvas.kinds() == ["figure", "show", "table", "banner", "table"]
    canvas = FakeCanvas("zh")
    page.movement_section(canvas, first)
    assert canvas.kinds() == ["banner"]


def test_for_display_translates_headers() -> None:
    frame = pd.DataFrame({"customers": [1], "share": [0.5]})
    table, formats = page.for_display(frame, {"customers": "int", "share": "pct", "absent": "int"}, "zh")
    assert list(table.columns) == ["客户数", "客户占比"] and formats == {"客户数": "int", "客户占比": "pct"}


def test_findings_say_acquisition_stopped_and_most_bought_once(first: MonthRun) -> None:
    """No first order within new_days is a stopped acquisition, not "0 new customers"; a
    base of one-time buyers is named as such (neither is said of the usual month)."""
    usual = page.findings(first, EN)
    assert not any("acquisition has stopped" in f or "ordered only once" in f for f in usual)
    profile = first.profile.copy()
    bought = profile["has_ordered"].to_numpy(bool)
    profile.loc[bought, "days_since_first_order"] = np.maximum(profile.loc[bought, "days_since_first_order"], 200.0)
    profile.loc[profile.index[bought][: int(0.8 * bought.sum())], "frequency_all"] = 1
    stopped = dataclasses.replace(first, profile=profile)
    assert stopped.headline()["new_customers"] == 0
    found = page.findings(stopped, EN)
    assert found[0].startswith("No customer placed a first order in the last 90 days: acquisition has stopped")
    assert found[1].startswith("Most buyers have ordered only once (8")
    assert "近90天没有任何客户下首单" in page.findings(stopped, ZH)[0]


def test_persona_details_without_their_inputs_are_one_line_each(first: MonthRun) -> None:
    from kit.core.inputs import Inputs

    assert page.persona_gaps(first, "en") == []  # inputs not known: every column shown
    orders_only = Inputs(rows={"customers": 600, "orders": 5000},
                         filled={"customers": frozenset({"customer_id"}), "orders": frozenset({"customer_id", "amount"})})
    bare = dataclasses.replace(first, inputs=orders_only)
    assert page.persona_gaps(bare, "en") == [
        ("orders.category", "persona detail on favourite categories"),
        ("orders.discount", "persona detail on discount use"),
        ("surveys", "persona detail on satisfaction and NPS"),
        ("customers.birth_year", "persona detail on age"),
    ]
    table, formats = page.persona_profile_table(bare, EN)
    assert list(table.columns) == ["Persona", "Main channel", "What sets them apart"]
    assert set(formats) == set(table.columns)
    full, _ = page.persona_profile_table(first, EN)
    assert len(full.columns) == len(page.CARD_PROFILE_COLUMNS)
