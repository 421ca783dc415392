"""Tests for kit.profile.tags: the safe rule language, error messages, and the default tag file."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from worlds import make_warehouse

from kit.core.config import PROJECT_ROOT, KitConfig
from kit.core.warehouse import Warehouse
from kit.profile.features import build_features
from kit.profile.tags import (
    DIMENSIONS,
    TagError,
    evaluate_rule,
    evaluate_tags,
    load_tags,
    parse_rule,
    rule_features,
)

DEFAULT_TAGS = PROJECT_ROOT / "config" / "tags.yml"


@pytest.fixture(scope="module")
def features(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    root = make_warehouse(tmp_path_factory.mktemp("wh"), n_customers=1500, seed=5)
    return build_features(Warehouse(root), "2026-10", KitConfig())


def _tag_file(tmp_path: Path, rule: str, extra: str = "") -> Path:
    path = tmp_path / "tags.yml"
    path.write_text(
        "tags:\n"
        "  - name: ok_tag\n    label_en: OK\n    label_zh: 好\n    dimension: value\n"
        "    rule: frequency_all >= 1\n    description: fine\n    version: 1\n"
        f"  - name: broken\n    label_en: B\n    label_zh: 坏\n    dimension: value{extra}\n"
        f"    rule: {rule}\n    description: under test\n    version: 2\n",
        encoding="utf-8",
    )
    return path


def test_default_tags_cover_every_dimension_and_evaluate(features: pd.DataFrame) -> None:
    tags = load_tags(DEFAULT_TAGS)
    assert 20 <= len(tags) <= 30
    assert {t.dimension for t in tags} == set(DIMENSIONS)
    result = evaluate_tags(tags, features)
    assert result.warnings == {}, result.warnings
    assert list(result.values.columns) == [t.column for t in tags]
    assert result.kinds["favourite_category"] == "category"
    assert result.values["tag_favourite_category"].dtype == "category"
    cov = result.coverage()
    # the vocabulary's high value tier: the biggest spenders making value_tier_shares[0] of spend
    high = features["value_tier"] == "high"
    assert cov["high_value"] == pytest.approx(high.mean()) and 0 < high.mean() < 0.5
    spend = features["monetary_365d"].clip(lower=0)
    assert spend[high].sum() / spend.sum() >= 0.5
    assert cov["new_customer"] < cov["active"] < 1


@pytest.mark.parametrize(
    "rule",
    [
        "__import__('os').system('echo hacked')",
        "open('/tmp/kit_tag_pwned', 'w')",
        "age.real > 1",
        "().__class__",
        "(lambda: 1)()",
        "age[0] > 1",
        "[x for x in [1, 2]]",
        "f'{age}' == '1'",
        "(y := 1) > 0",
        "q(0.5).real",
        "q(p=0.5) < age",
        "q(2) < age",
        "{1: 2}",
        "age if age else 1",
    ],
)
def test_unsafe_or_unknown_syntax_is_rejected(features: pd.DataFrame, rule: str) -> None:
    with pytest.raises(TagError, match="tag 'rule'"):
        evaluate_rule(rule, features)
    assert not Path("/tmp/kit_tag_pwned").exists()


def test_unknown_feature_names_file_line_and_closest(tmp_path: Path, features: pd.DataFrame) -> None:
    tags = load_tags(_tag_file(tmp_path, "monetry_365d >= q(0.8)"))
    with pytest.raises(TagError) as err:
        evaluate_tags(tags, features)
    message = str(err.value)
    assert str(tmp_path / "tags.yml") in message and "line 13" in message and "'broken'" in message
    assert "monetary_365d" in message


def test_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    with pytest.raises(TagError, match=r"tags.yml, line 13, tag 'broken': syntax error"):
        load_tags(_tag_file(tmp_path, "frequency_all >= and 2"))


def test_type_error_names_file_and_line(tmp_path: Path, features: pd.DataFrame) -> None:
    tags = load_tags(_tag_file(tmp_path, "city > 3"))
    with pytest.raises(TagError, match=r"line 13, tag 'broken': cannot compare a text with a number"):
        evaluate_tags(tags, features)
    for rule, message in [
        ("city + 1 > 2", "arithmetic needs numbers"),
        ("age and has_ordered", "'and' needs true/false"),
        ("city in [1, 2]", "list of number"),
        ("age == null", "is null"),
        ("monetary_all", "gives a number"),
        ("q(0.5) > 1", "q\\(p\\) needs a feature"),
        ("q(city, 0.5) == 'x'", "numeric feature"),
    ]:
        with pytest.raises(TagError, match=message):
            evaluate_rule(rule, features)


@pytest.mark.parametrize(
    "extra, message",
    [
        ("\n    colour: red", "unknown key 'colour'"),
        ("\n    labl_en: x", "Did you mean 'label_en'"),
    ],
)
def test_bad_tag_fields(tmp_path: Path, extra: str, message: str) -> None:
    with pytest.raises(TagError, match=message):
        load_tags(_tag_file(tmp_path, "age > 1", extra))


def test_bad_dimension_duplicate_name_and_missing_field(tmp_path: Path) -> None:
    path = _tag_file(tmp_path, "age > 1")
    path.write_text(path.read_text(encoding="utf-8").replace("dimension: value\n    rule: age", "dimension: mood\n    rule: age"))
    with pytest.raises(TagError, match="dimension 'mood'"):
        load_tags(path)
    path.write_text(path.read_text(encoding="utf-8").replace("name: broken", "name: ok_tag").replace("mood", "value"))
    with pytest.raises(TagError, match="already used by the tag on line 6"):
        load_tags(path)
    path.write_text(path.read_text(encoding="utf-8").replace("    description: under test\n", ""))
    with pytest.raises(TagError, match="missing description"):
        load_tags(path)
    with pytest.raises(TagError, match="not found"):
        load_tags(tmp_path / "nope.yml")


def test_quantiles_match_pandas(features: pd.DataFrame) -> None:
    q80 = features["monetary_365d"].quantile(0.8)
    expected = features["monetary_365d"] >= q80
    assert (evaluate_rule("monetary_365d >= q(0.8)", features) == expected).all()
    assert (evaluate_rule("q(0.8) <= monetary_365d", features) == expected).all()
    assert (evaluate_rule("q(monetary_365d, 0.8) <= monetary_365d", features) == expected).all()
    aov = evaluate_rule("aov_all > q(0.5)", features)  # quantile over customers with a value
    assert aov.sum() == pytest.approx(features["aov_all"].notna().sum() / 2, abs=2)


def test_logic_lists_arithmetic_and_nulls(features: pd.DataFrame) -> None:
    age = features["age"].astype("float64")
    assert (evaluate_rule("25 <= age < 35", features) == ((age >= 25) & (age < 35))).all()
    assert evaluate_rule("age is null", features).sum() == age.isna().sum() > 0
    assert evaluate_rule("age is not null", features).sum() == age.notna().sum()
    # a missing age matches neither a condition nor its negation
    assert evaluate_rule("not (age < 30)", features).sum() == (age >= 30).sum()
    cities = evaluate_rule("city in ['上海', '北京']", features)
    assert (cities == features["city"].isin(["上海", "北京"])).all()
    assert (evaluate_rule("city not in ['上海', '北京']", features) == ~cities).all()
    spend = evaluate_rule("monetary_all / frequency_all > 200 or has_ordered == false", features)
    expected = (features["monetary_all"] / features["frequency_all"].replace(0, np.nan) > 200) | ~features["has_ordered"]
    assert (spend == expected).all()
    assert evaluate_rule("-age < -60", features).sum() == (age > 60).sum()
    assert evaluate_rule("true", features).all()


def test_nobody_and_everybody_are_warnings_not_errors(tmp_path: Path, features: pd.DataFrame) -> None:
    for rule, warning in [("frequency_all < 0", "matches_nobody"), ("tenure_days >= 0", "matches_everybody")]:
        result = evaluate_tags(load_tags(_tag_file(tmp_path, rule)), features)
        assert result.warnings == {"broken": warning}


def test_rule_features_lists_names() -> None:
    assert rule_features("monetary_365d >= q(0.8) and city in ['x'] and age is not null") == {
        "monetary_365d",
        "city",
        "age",
    }
    assert parse_rule("true").body is not None


@pytest.mark.parametrize(
    "rule, message",
    [
        ("not " * 400 + "has_ordered", r"nested \d+ levels deep, more than the 40 allowed"),
        ("age" + " + age" * 60 + " > 1", r"nested \d+ levels deep"),
        ("(" * 300 + "age" + ")" * 300 + " > 1", "too many nested parentheses"),
        ("age" + " + age" * 1000 + " > 1", "6,007 characters, more than the 2,000 allowed"),
        ("age > " + "9" * 400, r"the number 9+\.\.\. is larger than the 1e\+15 allowed"),
        ("age > 1e999", "the number inf is larger"),
    ],
)
def test_oversized_rules_are_refused_at_load_naming_tag_file_and_line(tmp_path: Path, rule: str, message: str) -> None:
    # before: RecursionError, OverflowError (at evaluation) or a pass; now a TagError at load
    with pytest.raises(TagError, match=r"tags.yml, line 13, tag 'broken': ") as info:
        load_tags(_tag_file(tmp_path, rule))
    assert re.search(message, str(info.value))
    assert len(str(info.value)) < 400, "the message must not quote the whole rule"


@pytest.mark.parametrize("rule", ["age > 1 / 0", "age / 0 > 1", "age / (2 - 2) > 1", "age > 3 / 0.0"])
def test_division_by_a_constant_zero_is_a_tag_error(tmp_path: Path, features: pd.DataFrame, rule: str) -> None:
    tags = load_tags(_tag_file(tmp_path, rule))
    with pytest.raises(TagError, match=r"line 13, tag 'broken': division by a constant zero"):
        evaluate_tags(tags, features)


def test_limits_leave_ordinary_rules_and_column_division_alone(features: pd.DataFrame) -> None:
    assert parse_rule("monetary_all >= 1e15 or age > -1e15")
    ratio = evaluate_rule("monetary_all / frequency_all > 0", features)  # zero columns give missing, not an error
    assert ratio.dtype == bool


def test_a_tag_file_with_a_key_given_twice_is_refused(tmp_path: Path) -> None:
    # before: the second `tags:` silently replaced the first one's tags
    path = _tag_file(tmp_path, "age > 1")
    text = path.read_text(encoding="utf-8")
    path.write_text(text + "tags:\n" + text.split("tags:\n", 1)[1].replace("ok_tag", "other").replace("broken", "other2"))
    with pytest.raises(TagError, match=r"tags.yml: not valid YAML: line 16: the key 'tags' is given a second time \(first on line 1\)"):
        load_tags(path)
    path.write_text(text.replace("    version: 2\n", "    version: 2\n    rule: age > 2\n"))
    with pytest.raises(TagError, match=r"line 16: the key 'rule' is given a second time \(first on line 13\)"):
        load_tags(path)


def test_unknown_feature_suggests_by_description_and_spelling() -> None:
    """The rule box's error points at the feature meant, by its description as well as its spelling."""
    from kit.profile.features import FEATURES
    from kit.profile.tags import suggest_features

    columns = list(FEATURES)
    assert suggest_features("days_since_last_order", columns)[0] == "recency_days"  # "Days since the latest order"
    assert suggest_features("monetary_356d", columns)[0] == "monetary_365d"
    assert suggest_features("zzz", columns) == []
    frame = pd.DataFrame({"recency_days": [1.0, 200.0]})
    with pytest.raises(TagError, match="Closest features: recency_days"):
        evaluate_rule("days_since_last_order <= 90", frame)
