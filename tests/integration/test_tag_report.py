"""Tests for kit.profile.pipeline and kit.profile.page: catalogue, overlap, movement, profile cards
and findings; the 02_tags notebook end to end is in tests/e2e/test_notebooks_by_hand.py."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from unittest.mock import MagicMock

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from kit.core.config import load_config
from kit.profile.features import run_reference
from kit.profile.page import (
    card_table,
    cards_view,
    catalogue_view,
    findings,
    labelled_catalogue,
    movement_view,
    overlap_section,
    rule_box,
)
from kit.profile.pipeline import (
    bool_tags,
    catalogue,
    category_breakdown,
    cooccurrence,
    movement,
    overlap_pairs,
    preview_rule,
    profile_card,
    run_month,
)
from kit.profile.tags import Tag, TagError, TagResult
from kit.text.fmt import Formatter
from kit.text.heatmap import MAX_ROWS
from kit.text.i18n import catalogue as i18n_catalogue


def _tag(name: str, rule: str = "true") -> Tag:
    return Tag(name, name.upper(), name, "value", rule, "", "1")


@pytest.fixture(scope="module")
def project(tag_project: Path) -> Path:
    """The session's tag project (tests/conftest.py: a 1,200-customer fixture warehouse)."""
    return tag_project


@pytest.fixture(scope="module")
def runs(tag_runs: tuple) -> tuple:
    """Its profiles for 2026-09 and 2026-10 (tests/conftest.py)."""
    return tag_runs


def test_build_profile_writes_and_finds_last_month(project: Path, runs: tuple) -> None:
    first, second = runs
    assert first.previous is None
    assert second.previous is not None and len(second.previous) == len(first.profile)
    saved = pd.read_parquet(project / "wh" / "snapshots" / "2026-10" / "profile.parquet")
    assert len(saved) == len(second.profile)
    assert saved["tag_vip"].dtype == bool and str(saved["tag_favourite_category"].dtype) == "category"


def test_bench_stage_functions_take_the_config(project: Path, runs: tuple) -> None:
    config = load_config(project / "config" / "kit.yml", overrides={"run": {"month": "2026-10"}})
    run = run_month(config)
    assert run.previous is not None and len(run.profile) == len(runs[1].profile)
    assert len(run_reference(config)) == len(run.profile)


def test_catalogue_coverage_and_change(runs: tuple) -> None:
    first, second = runs
    cat = catalogue(second.tags, second.result, second.previous).set_index("tag")
    assert cat.loc["active", "coverage"] == pytest.approx(second.profile["tag_active"].mean())
    assert cat.loc["active", "customers"] == second.profile["tag_active"].sum()
    expected = second.profile["tag_active"].mean() - first.profile["tag_active"].mean()
    assert cat.loc["active", "coverage_change"] == pytest.approx(expected)
    assert labelled_catalogue(second, "zh").set_index("tag").loc["active", "label"] == "活跃客户"
    assert np.isnan(catalogue(second.tags, second.result, None)["coverage_change"]).all()
    table, formats = catalogue_view(second, "en")
    assert set(formats) <= set(table.columns) and "Coverage" in table.columns


def test_cooccurrence_is_a_conditional_share() -> None:
    profile = pd.DataFrame({"tag_a": [True, True, False, False], "tag_b": [True, False, True, False]})
    profile["tag_c"] = False
    matrix = cooccurrence(profile, [_tag("a"), _tag("b"), _tag("c")])
    assert matrix.loc["a", "a"] == 1 and matrix.loc["a", "b"] == 0.5 and matrix.loc["b", "a"] == 0.5
    assert matrix.loc["a", "c"] == 0 and matrix.loc["c"].isna().all()


def test_overlap_pairs_list_the_strongest_overlaps_first() -> None:
    profile = pd.DataFrame({"tag_a": [True, True, False, False], "tag_b": [True, False, True, False]})
    profile["tag_c"] = [True, True, True, False]
    pairs = overlap_pairs(profile, [_tag("a"), _tag("b"), _tag("c")])
    assert pairs[["tag", "other"]].values.tolist()[:2] == [["a", "c"], ["b", "c"]]  # all of a and b carry c
    assert pairs["share"].is_monotonic_decreasing and (pairs["tag"] != pairs["other"]).all()
    row = pairs.set_index(["tag", "other"]).loc[("c", "a")]
    assert row["customers"] == 2 and row["share"] == pytest.approx(2 / 3)


def recording_canvas(lang: str = "en") -> MagicMock:
    """A Canvas that records its calls; figures are real (closed by the test)."""
    rep = MagicMock(lang=lang, fmt=Formatter(lang, "CNY"))
    rep.figure.side_effect = lambda *a, **k: plt.subplots()
    return rep


def test_overlap_is_a_heatmap_with_numbers_or_a_table_past_max_rows(runs: tuple) -> None:
    second = runs[1]
    flags = bool_tags(second.tags, second.profile)
    assert len(flags) > MAX_ROWS  # the tag file's true/false tags: too many for a heatmap
    rep = recording_canvas()
    overlap_section(rep, second)
    rep.figure.assert_not_called()
    table, formats = rep.table.call_args.args
    assert list(table.columns) == ["Tag", "Also carries", "Share of the tag's customers", "Customers with both"]
    assert formats == {"Share of the tag's customers": "pct", "Customers with both": "int"}
    assert rep.table.call_args.kwargs["max_rows"] == 20 and len(table) > 20
    few = dataclasses.replace(second, tags=[tag for tag in second.tags if tag in flags][:4])
    rep = recording_canvas("zh")
    overlap_section(rep, few)
    rep.table.assert_not_called()
    fig = rep.show.call_args.args[0]
    assert len(fig.axes[0].texts) == 16 and "100%" in {text.get_text() for text in fig.axes[0].texts}
    plt.close(fig)
    alone = dataclasses.replace(second, tags=flags[:1])
    rep = recording_canvas()
    overlap_section(rep, alone)
    assert not rep.method_calls  # one tag has nothing to overlap with: no section at all


def test_movement_counts_gains_losses_and_new_customers() -> None:
    before = pd.DataFrame({"customer_id": ["c1", "c2", "c3"], "tag_a": [True, True, False]})
    after = pd.DataFrame({"customer_id": ["c1", "c2", "c3", "c4"], "tag_a": [True, False, True, True]})
    row = movement(after, before, [_tag("a")]).iloc[0]
    assert (row["before"], row["after"], row["gained"], row["of_which_new"], row["lost"], row["net"]) == (2, 3, 2, 1, 1, 1)


def test_movement_view_needs_last_month(runs: tuple) -> None:
    first, second = runs
    with pytest.raises(ValueError, match="last month"):
        movement_view(first, "en")
    table, _ = movement_view(second, "en")
    assert len(table) == len(bool_tags(second.tags, second.profile))


def test_profile_card_against_pandas(runs: tuple) -> None:
    _, run = runs
    p = run.profile
    card = profile_card(p, p["tag_high_value"])
    group = p[p["tag_high_value"]]
    assert card["customers"] == len(group) and card["share"] == pytest.approx(len(group) / len(p))
    assert card["avg_spend_365d"] == pytest.approx(group["monetary_365d"].mean())
    assert card["spend_share_365d"] == pytest.approx(group["monetary_365d"].sum() / p["monetary_365d"].sum())
    assert card["top_category"] == group["favourite_category"].value_counts().index[0]
    known = group["gender"].notna()
    assert card["female_share"] == pytest.approx((group.loc[known, "gender"] == "female").mean())
    assert card["spend_share_365d"] > card["share"]  # high value tags hold more than their share of spend
    cards, formats = cards_view(run, "zh")
    assert cards.iloc[0, 0] == "全部客户" and set(formats) <= set(cards.columns)


def test_preview_rule_and_breakdown(runs: tuple) -> None:
    _, run = runs
    card = preview_rule("frequency_365d >= 2", run.profile)
    assert card["coverage"] == pytest.approx((run.profile["frequency_365d"] >= 2).mean())
    table, formats = card_table(pd.DataFrame([card]), "zh")
    assert len(table) == 1 and "客户数" in table.columns and set(formats) <= set(table.columns)
    assert preview_rule("favourite_category", run.profile)["customers"] == run.profile["has_ordered"].sum()
    with pytest.raises(TagError, match="Closest features: frequency_365d"):
        preview_rule("frequncy_365d >= 2", run.profile)
    fav = next(t for t in run.tags if t.name == "favourite_category")
    table = category_breakdown(run.profile, fav)
    assert table["customers"].sum() == run.profile["has_ordered"].sum()


def test_findings_and_headline(runs: tuple) -> None:
    first, second = runs
    for lang in ("en", "zh"):
        items = findings(second, lang, Formatter(lang, "CNY"))
        assert 3 <= len(items) <= 5 and all(items)
    assert any("first month" in s for s in findings(first, "en", Formatter("en", "CNY")))
    metrics = second.headline()
    assert metrics["customers"] == len(second.profile) and metrics["tags"] == len(second.tags)
    json.dumps(metrics)


def test_warnings_reach_findings(runs: tuple) -> None:
    _, run = runs
    nobody = TagResult(run.result.values, {"vip": "matches_nobody"}, run.result.kinds)
    items = findings(type(run)(run.month, run.profile, run.tags, nobody, run.previous, run.vocab), "en", Formatter("en", "CNY"))
    assert any("need a look" in s and "VIP" in s for s in items)


def test_every_tags_string_has_both_languages() -> None:
    keys = [k for k in i18n_catalogue() if k.startswith("tags.")]
    assert keys and all(set(i18n_catalogue()[k]) == {"en", "zh"} for k in keys)


def test_rule_box_answers_on_enter_and_never_keeps_an_old_answer(project: Path, runs: tuple, monkeypatch) -> None:
    # before: the rule box answered only to its button (Enter did nothing) and kept the
    # previous answer under a new rule
    from kit.report.shell import Report

    shown: list[str] = []
    monkeypatch.setattr("kit.report.shell._display_html", shown.append)
    rep = Report.start(project / "config" / "kit.yml", month="2026-10", notebook="02_tags")
    box = rule_box(rep, runs[1].profile)
    text = box.children[0].children[0]
    assert text.continuous_update is False  # the value commits on Enter (or leaving the box)
    shown.clear()
    text.value = "recency_days <= 30"  # what Enter does: commit the value
    expected = int((runs[1].profile["recency_days"] <= 30).sum())
    assert any(f"{expected:,}" in html for html in shown)
    shown.clear()
    text.value = "no_such_feature > 1"
    assert len(shown) == 1 and "no_such_feature" in shown[0]
