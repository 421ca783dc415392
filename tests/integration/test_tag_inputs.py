"""Tags on the data a company actually has: a tag whose features the inputs do not allow
is skipped with the input it lacks, never evaluated on nulls, and the 02_tags page says so."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from worlds import orders_only, other_vocabulary, write_tag_project

from kit.core.config import PROJECT_ROOT, KitConfig, load_config
from kit.core.warehouse import Warehouse
from kit.profile.features import build_features, feature_plan
from kit.profile.page import card_gaps, cards_view, findings, kpi_cards, skipped_notes
from kit.profile.pipeline import build_profile, preview_rule
from kit.profile.tags import Tag, TagError, evaluate_tags, load_tags
from kit.text.fmt import Formatter
from kit.text.i18n import t

MONTH = "2026-10"
TAGS = load_tags(PROJECT_ROOT / "config" / "tags.yml")


@pytest.fixture(scope="module")
def orders_run(tmp_path_factory: pytest.TempPathFactory):
    config = load_config(write_tag_project(tmp_path_factory.mktemp("orders_tags"), orders_only) / "config" / "kit.yml")
    return build_profile(Warehouse.from_config(config), MONTH, config)


def test_tags_needing_absent_inputs_are_skipped_with_the_need(orders_run) -> None:
    # before: the orders-only warehouse crashed; date-only orders made "Night owls" 31.5 % of customers
    skipped = orders_run.result.skipped
    assert {"night_owl": "orders.time", "heavy_browser": "events", "discount_sensitive": "orders.discount",
            "favourite_category": "orders.category", "detractor": "surveys", "promoter": "surveys",
            "unhappy": "surveys", "young_adult": "customers.birth_year", "female": "customers.gender"}.items() <= skipped.items()
    assert [tag.name for tag in orders_run.skipped] == [tag.name for tag in TAGS if tag.name in skipped]
    assert {tag.name for tag in orders_run.tags} == {tag.name for tag in TAGS} - set(skipped)
    assert not any(f"tag_{name}" in orders_run.profile for name in skipped)
    assert {"high_value", "repeat_buyer", "lapsed", "never_purchased", "weekend_shopper"} <= set(orders_run.result.kinds)
    assert orders_run.headline()["tags_skipped"] == len(skipped)


def test_the_tags_page_lists_skipped_tags_and_card_gaps(orders_run) -> None:
    phrase = {"surveys": "No survey data", "orders.time": "Order times are dates only"}.get  # as Report.missing_input
    notes = skipped_notes(orders_run, lambda need: phrase(need, need), "en")
    assert "No survey data: 3 tag(s) skipped (NPS detractors, NPS promoters, Repeatedly unhappy)." in notes
    assert "Order times are dates only: 1 tag(s) skipped (Night owls)." in notes
    assert len(notes) == len(set(orders_run.result.skipped.values()))
    assert all(skipped_notes(orders_run, str, "zh"))
    gaps = dict(card_gaps(orders_run, "en"))
    assert gaps == {"customers.birth_year": "age on the profile cards", "orders.category": "the top category on the profile cards",
                    "customers.gender": "the female share on the profile cards"}
    table, formats = cards_view(orders_run, "en")
    assert "Avg. age" not in table.columns and "Main channel" in table.columns and set(formats) <= set(table.columns)
    assert not table.drop(columns=["Tag"]).isna().all().any()  # no column of blanks
    fmt = Formatter("en", "CNY")
    assert any("skipped" in s for s in findings(orders_run, "en", fmt))
    assert "skipped" in kpi_cards(orders_run, fmt)[3].note


def test_rules_on_event_type_features_follow_the_vocabulary(tmp_path: Path) -> None:
    wh = Warehouse(other_vocabulary(tmp_path))
    features = build_features(wh, MONTH, KitConfig())
    plan = feature_plan(wh, KitConfig())
    tags = [Tag("regular_login", "Regular", "常登录", "behaviour", "ev_login_rate_28d >= 1 and ev_login_trend_28d >= 0", "", "1"),
            Tag("browser", "Browser", "浏览", "behaviour", "ev_visit_28d >= 3", "", "1"),
            Tag("fan", "Fan", "粉丝", "behaviour", "views_90d > 0 or last_nps >= 9", "", "1")]
    result = evaluate_tags(tags, features, plan.need_of)
    expected = (features["ev_login_rate_28d"] >= 1) & (features["ev_login_trend_28d"] >= 0)
    assert (result.values["tag_regular_login"] == expected.fillna(False)).all()
    assert result.skipped == {"browser": "events.visit", "fan": "surveys"}
    assert list(result.values.columns) == ["tag_regular_login"]
    with pytest.raises(TagError, match="unknown feature"):  # a typo is still an error, not a skip
        evaluate_tags([Tag("typo", "T", "T", "behaviour", "ev_logins_7d_x > 1 and frequncy_all > 1", "", "1")], features, plan.need_of)
    with pytest.raises(TagError, match="surveys"):
        preview_rule("last_nps >= 9", features, plan.need_of)


def test_every_new_tags_string_has_both_languages() -> None:
    for key in ("tags.finding.skipped", "tags.kpi.skipped", "tags.skipped", "tags.unavailable.card_age"):
        assert t(key, "en", count=1, total=2, missing="x", names="y") and t(key, "zh", count=1, total=2, missing="x", names="y")


def test_the_demo_shape_skips_nothing(tag_runs: tuple) -> None:
    _, run = tag_runs
    assert not run.skipped and not run.result.skipped and card_gaps(run, "en") == []
    assert isinstance(run.profile, pd.DataFrame) and len(run.tags) == len(TAGS)


def test_event_types_beyond_the_cap_are_named_on_the_page(tag_project: Path, tag_runs: tuple) -> None:
    import dataclasses

    from kit.profile.events import event_vocabulary
    from kit.profile.page import event_notes

    _, run = tag_runs
    assert event_notes(run, "en") == []  # five types, all kept
    capped = event_vocabulary(run.plan.inputs, tag_project / "wh", limit=3)
    narrow = dataclasses.replace(run, plan=dataclasses.replace(run.plan, events=capped))
    events = pd.read_parquet(tag_project / "wh" / "events.parquet")["event_type"].value_counts()
    rare = list(events.index[3:])
    assert event_notes(narrow, "en") == [
        f"Event features cover the 3 most frequent event types; 2 rarer type(s) have none: {', '.join(rare)}."
    ]
