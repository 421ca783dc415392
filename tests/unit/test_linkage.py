"""kit.ingest.linkage: the pieces of the probabilistic step that need no fitted model."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pytest
from worlds import write_config

from kit.core.config import ConfigError, MatchingConfig, load_config
from kit.ingest.linkage import (
    Linkage,
    blocking_rules,
    choose_threshold,
    cluster,
    comparison,
    dates_agree,
    name_tokens,
)
from kit.text.i18n import has_key

TYPES = ("name", "date", "gender", "exact", "text", "code", "phone", "email")


def test_names_in_characters_and_pinyin_meet():
    assert name_tokens("张伟明") == ["zhang", "weiming"]
    assert name_tokens(" 张 伟 ") == ["zhang", "wei"]
    assert name_tokens("Wei ZHANG") == ["wei", "zhang"]
    assert sorted(name_tokens("张伟")) == sorted(name_tokens("Wei Zhang")) == sorted(name_tokens("zhang-wei"))
    assert name_tokens("李") == ["li"]
    assert name_tokens("") == []


def test_threshold_is_the_lowest_keeping_the_expected_precision():
    p = np.array([0.999, 0.999, 0.995, 0.98, 0.95, 0.91, 0.6])
    threshold, precision = choose_threshold(p, MatchingConfig(target_precision=0.99))
    kept = p[p >= threshold]
    assert kept.mean() == pytest.approx(precision) and precision >= 0.99
    assert p[p < threshold].max() == 0.95 and np.append(kept, 0.95).mean() < 0.99
    assert choose_threshold(p, MatchingConfig(threshold=0.97))[0] == 0.97
    assert choose_threshold(np.array([0.6, 0.7]), MatchingConfig(min_threshold=0.9)) == (0.9, pytest.approx(np.nan, nan_ok=True))
    assert choose_threshold(np.array([0.92]), MatchingConfig(target_precision=0.99))[0] == 0.92  # one pair: taken at its own score


def test_dates_agree_when_equal_swapped_or_one_digit_apart():
    d = lambda *v: {("birth_date", x) for x in v}  # noqa: E731
    assert dates_agree(d("1990-03-07"), d("1990-03-07"))
    assert dates_agree(d("1990-03-07"), d("1990-07-03"))
    assert dates_agree(d("1990-03-07"), d("1991-03-07"))
    assert not dates_agree(d("1990-03-07"), d("1985-11-20"))
    assert not dates_agree(d("1990-03-07", "1985-11-20"), d("1990-03-07"))
    assert dates_agree({("issued", "2001-01-01")}, d("1990-03-07"))  # different attributes are not compared
    assert dates_agree(set(), d("1990-03-07"))


@pytest.mark.parametrize("compare", TYPES)
def test_every_comparison_has_missing_first_else_last_and_translated_levels(compare):
    levels = comparison("x", compare)["comparison_levels"]
    assert levels[0].get("is_null_level") and levels[-1]["sql_condition"] == "ELSE"
    assert len(levels) >= 3
    for level in levels:
        assert has_key(f"ingest.value.{level['label_for_charts']}"), level["label_for_charts"]


def test_default_blocking_pairs_every_attribute_but_gender():
    present = {"name": "name", "birth_date": "date", "gender": "gender", "city": "exact"}
    assert blocking_rules(present, MatchingConfig()) == [["name", "birth_date"], ["name", "city"], ["birth_date", "city"]]
    chosen = MatchingConfig(blocking=[["name", "city"], ["address", "city"]])
    assert blocking_rules(present, chosen) == [["name", "city"]]  # a rule on an attribute nobody carries is dropped


def _profiles(dates: dict[int, str]) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    frame = pd.DataFrame({"unique_id": list(dates), "birth_date": list(dates.values())})
    con.execute("CREATE TABLE link_profile AS SELECT * FROM frame")
    return con


def test_cluster_joins_strongest_first_and_the_guard_refuses_chains():
    con = _profiles({0: "1990-03-07", 1: "1990-07-03", 2: "1985-11-20", 3: "1990-03-07", 4: "1990-03-07"})
    comps = np.array([0, 1, 2, 3, 4, 4, 0])  # node -> exact-rule customer (two nodes share 4 and 0)
    pairs = pd.DataFrame({"comp_l": [0, 1, 0, 3], "comp_r": [1, 2, 3, 4], "match_probability": [0.999, 0.998, 0.995, 0.994]})
    carried = pd.DataFrame({"comp_l": pd.Series(dtype="int64"), "comp_r": pd.Series(dtype="int64")})
    summary = Linkage(attributes={"birth_date": "date"})
    merged, links = cluster(con, comps, pairs, carried, MatchingConfig(max_cluster_size=3), summary)
    # 0-1 (swapped date) joins; 1-2 refused (birth dates disagree); 0-3 joins; 3-4 refused (4 customers > 3)
    assert merged.tolist() == [0, 0, 2, 0, 4, 4, 0]
    assert summary.joined == 2 and summary.refused == 2 and summary.accepted == 2
    assert links[["comp_l", "comp_r"]].values.tolist() == [[0, 1], [0, 3]]


def test_carried_links_come_first_and_count_apart():
    con = _profiles({0: "1990-03-07", 1: "1990-03-07", 2: "1990-03-07"})
    pairs = pd.DataFrame({"comp_l": [1], "comp_r": [2], "match_probability": [0.999]})
    carried = pd.DataFrame({"comp_l": [0], "comp_r": [2]})
    summary = Linkage(attributes={"birth_date": "date"})
    merged, links = cluster(con, np.array([0, 1, 2]), pairs, carried, MatchingConfig(max_cluster_size=2), summary)
    assert merged.tolist() == [0, 1, 0] and summary.refused == 1 and summary.accepted == 0
    assert links["match_probability"].isna().all()


def test_matching_config_is_checked(tmp_path):
    with pytest.raises(ConfigError, match=r"identity\.matching\.threshold = 1\.5 must be a match probability"):
        load_config(write_config(tmp_path, {"identity": {"matching": {"threshold": 1.5}}}))
    with pytest.raises(ConfigError, match=r"identity\.matching\.blocking\[0\].*unknown: shoe_size"):
        load_config(write_config(tmp_path, {"identity": {"matching": {"blocking": [["name", "shoe_size"]]}}}))
    with pytest.raises(ConfigError, match=r"identity\.matching\.attributes\.name = 'fuzzy' is not allowed"):
        load_config(write_config(tmp_path, {"identity": {"matching": {"attributes": {"name": "fuzzy"}}}}))
    config = load_config(write_config(tmp_path, {"identity": {"matching": {"attributes": {"national_id": "code"}}}}))
    assert config.identity.matching.attributes == {"national_id": "code"}
