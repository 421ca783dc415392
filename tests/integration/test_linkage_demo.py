"""Issue 19: probabilistic identity linkage on generated demo worlds, against their truth.

The figures are pairwise over records (``pairwise_precision_recall``), over the records
that carry any personal attribute: a name, birth date, gender, city, address, a usable
phone or an e-mail (store receipts with no usable phone carry nothing to match on and are
left out). The people-count error is the distinct customer ids over those records
against the distinct true people behind them.

Measured (seed 42, 50,000 customers, ``pytest -s tests/integration/test_linkage_demo.py``):
exact rules alone precision 1.0000, recall 0.9772, ids +18.8 %; with linkage precision
1.0000, recall 0.9846, ids +15.4 %; 85 % of the generator's fuzzy-only duplicate members
joined to their person; the model's people estimate 62,038 for 62,198 identified ids
(49,749 true people: an upper bound, as labelled). The issue's targets (recall >= 0.99, ids within 1 %) are missed:
most remaining splits are app accounts with no phone that carry only some of name,
birthday, gender and city, and shop accounts whose orders carry no phone (a name and an
address, nothing the person's other records carry but the name); with 58,000 profiles a
shared name and city, or birthday, gender and city, is not evidence enough for one person
(the model's prior is about one in a million pairs). The tests guard the measured levels.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from worlds import link_identity_sources, write_config

from kit.core.config import load_config
from kit.ingest import run_ingest
from kit.ingest.identity import IdentityKey, find_overshared, pairwise_precision_recall, use_key
from kit.ingest.linkage import attribute_values

demo = pytest.importorskip("kit.demo")
KEY = "linkage-demo-test-key-0123456789abcdef"


def carrying_records(config) -> pd.DataFrame:
    """(source, source_id) of the records carrying any personal attribute, found with
    ingest's own cleaning and key rules (over-shared phones do not count)."""
    con = duckdb.connect()
    key = IdentityKey(KEY.encode(), "test")
    use_key(con, key)
    sources, columns = link_identity_sources(con, config, key)
    find_overshared(con, config.identity)
    attribute_values(con, sources, columns, config.identity)
    return con.execute(
        """SELECT source, source_id FROM id_attrs
        UNION SELECT source, source_id FROM (SELECT * FROM id_links ANTI JOIN overshared USING (key_type, key_value))
        WHERE key_type IN ('phone', 'email')"""
    ).df()


def figures(root: Path, carrying: pd.DataFrame) -> dict[str, float]:
    """precision, recall and people-count error over the carrying records."""
    ids = pd.read_parquet(root / "data" / "warehouse" / "identities.parquet")
    truth = pd.read_parquet(root / "data" / "raw" / "demo" / "_truth" / "source_records.parquet")
    records = ids.merge(truth, on=["source", "source_id"], validate="one_to_one").merge(carrying, on=["source", "source_id"])
    precision, recall = pairwise_precision_recall(records["customer_id"], records["person_id"])
    error = records["customer_id"].nunique() / records["person_id"].nunique() - 1
    return {"precision": precision, "recall": recall, "error": error, "records": len(records)}


@pytest.fixture(scope="module")
def world50k(tmp_path_factory):
    """The 50,000-customer demo world ingested with the exact rules alone, then with linkage."""
    root = tmp_path_factory.mktemp("linkage50k")
    demo.generate(root / "data" / "raw" / "demo", customers=50_000, seed=42)
    os.environ["KIT_IDENTITY_KEY"] = KEY
    try:
        carrying = carrying_records(load_config(write_config(root, {})))
        results = {}
        for label, enabled in (("exact", False), ("linkage", True)):
            shutil.rmtree(root / "data" / "warehouse", ignore_errors=True)
            result = run_ingest(load_config(write_config(root, {"identity": {"matching": {"enabled": enabled}}})))
            results[label] = (figures(root, carrying), result)
    finally:
        del os.environ["KIT_IDENTITY_KEY"]
    return root, results


def test_linkage_against_the_demo_truth(world50k):
    _, results = world50k
    exact, linked = results["exact"][0], results["linkage"][0]
    linkage = results["linkage"][1].report["identity"]["linkage"]
    for label, f in (("exact rules alone", exact), ("with linkage", linked)):
        print(f"\n50,000 customers, {f['records']:,} records carrying an attribute, {label}: precision "
              f"{f['precision']:.4f}, recall {f['recall']:.4f}, customer ids vs people {f['error']:+.1%}")
    print(f"linkage: threshold {linkage['threshold']:.4f}, expected precision {linkage['expected_precision']:.4f}, "
          f"{linkage['joined']:,} customers joined, {linkage['refused']} refused, {linkage['seconds']:.1f} s")
    assert exact["precision"] >= 0.99 and linked["precision"] >= 0.99
    assert linked["recall"] >= 0.983 and linked["recall"] > exact["recall"] + 0.005
    assert linked["error"] <= 0.16 and linked["error"] < exact["error"] - 0.02
    assert linkage["expected_precision"] >= 0.99


def test_most_fuzzy_only_duplicates_are_joined(world50k):
    root, _ = world50k
    ids = pd.read_parquet(root / "data" / "warehouse" / "identities.parquet")
    truth = pd.read_parquet(root / "data" / "raw" / "demo" / "_truth" / "source_records.parquet")
    fuzzy = pd.read_parquet(root / "data" / "raw" / "demo" / "_truth" / "fuzzy_duplicates.parquet")
    records = ids.merge(truth, on=["source", "source_id"])
    together = records.groupby(["customer_id", "person_id"]).size()
    duplicates = fuzzy.merge(ids, on=["source", "source_id"])
    joined = [together.get((c, p), 0) > 1 for c, p in zip(duplicates["customer_id"], duplicates["person_id"])]
    share = sum(joined) / len(duplicates)
    print(f"\nfuzzy-only duplicate members joined to their person: {share:.1%} of {len(duplicates)}")
    assert share >= 0.80
    assert set(ids.loc[ids["rule"] == "probabilistic", "match_probability"].dropna().round(6) >= 0.5) == {True}


def test_the_review_export_and_report_carry_no_personal_value(world50k):
    root, _ = world50k
    warehouse = root / "data" / "warehouse"
    review = pd.read_parquet(warehouse / "identity_review.parquet")
    assert list(review.columns[:6]) == ["customer_id_l", "record_l", "customer_id_r", "record_r", "match_probability", "accepted"]
    assert len(review) > 0 and review["accepted"].any() and review["customer_id_l"].str.match(r"^C[0-9a-f]{10}$").all()
    levels = set(review.iloc[:, 6:].stack())
    assert levels <= {"same_text", "same_pinyin", "swapped_pinyin", "similar_pinyin", "somewhat_similar_pinyin",
                      "same_date", "swapped_date", "one_digit_apart", "same", "same_last4", "similar",
                      "somewhat_similar", "same_local_part", "similar_local_part", "different", "missing"}
    crm = pd.read_csv(root / "data" / "raw" / "demo" / "crm_members.csv", dtype=str, encoding="gb18030")
    names = sorted(set(crm["姓名"].dropna()) - {""}, key=len)[-500:]  # the longest: no false hit inside other text
    tables = ["identities", "identity_review", "identity_registry", "customers"]
    for path in [*(warehouse / f"{t}.parquet" for t in tables), *(warehouse / "quarantine").glob("*.parquet")]:
        text = pd.read_parquet(path).astype("str").to_csv()
        assert not any(name in text for name in names), path.name


def test_people_estimate_is_an_upper_bound_on_the_true_people(world50k):
    """The overview's note: identified customer ids (anonymous receipts left out) and the
    model's estimate of the people behind them, which subtracts only the duplicates it
    sees, so it stays at or above the true number of people."""
    from kit.core.warehouse import Warehouse
    from kit.overview.pipeline import ingest_report, people_estimate

    root, _ = world50k
    wh = Warehouse(root / "data" / "warehouse")
    estimate = people_estimate(wh, ingest_report(wh))
    ids = pd.read_parquet(root / "data" / "warehouse" / "identities.parquet")
    truth = pd.read_parquet(root / "data" / "raw" / "demo" / "_truth" / "source_records.parquet")
    anonymous = set(wh.anonymous_receipts().execute()["customer_id"])
    identified = ids[~ids["customer_id"].isin(anonymous)].merge(truth, on=["source", "source_id"])
    people = identified["person_id"].nunique()
    print(f"\nidentified customer ids {estimate.customer_ids:,}, model estimate of people at most {estimate.people:,.0f}, "
          f"true people {people:,}")
    assert estimate.customer_ids == identified["customer_id"].nunique() and estimate.skipped is None
    assert people <= estimate.people < estimate.customer_ids


def test_the_page_shows_the_linkage_in_both_languages(world50k):
    from test_ingest_lines import FakeCanvas

    from kit.ingest import page

    result = world50k[1]["linkage"][1]
    for lang in ("en", "zh"):
        canvas = FakeCanvas(lang)
        page.linkage_section(canvas, result)
        assert [k for k, _ in canvas.shown] == ["table", "figure", "figure", "banner"]


def test_a_rerun_on_the_same_files_gives_the_same_customers(tmp_path, monkeypatch):
    """Rule 10: the same inputs give the same numbers. The graph's node order once followed
    DuckDB's parallel scan, which moved the model's sampled pairs and the joins between runs."""
    monkeypatch.setenv("KIT_IDENTITY_KEY", KEY)
    demo.generate(tmp_path / "data" / "raw" / "demo", customers=5_000, seed=11)
    runs = []
    for _ in range(2):
        shutil.rmtree(tmp_path / "data" / "warehouse", ignore_errors=True)
        result = run_ingest(load_config(write_config(tmp_path, {})))
        ids = pd.read_parquet(tmp_path / "data" / "warehouse" / "identities.parquet")
        runs.append((ids.sort_values(["source", "source_id"], ignore_index=True), result.report["identity"]["linkage"]))
    (first, one), (second, two) = runs
    assert one["joined"] > 0 and one["joined"] == two["joined"] and one["candidates"] == two["candidates"]
    assert one["threshold"] == pytest.approx(two["threshold"], rel=1e-12)
    pd.testing.assert_frame_equal(first.drop(columns="match_probability"), second.drop(columns="match_probability"))
    assert np.allclose(first["match_probability"].astype(float), second["match_probability"].astype(float), rtol=1e-9, equal_nan=True)


def test_ids_stay_stable_month_over_month(tmp_path, monkeypatch):
    """Last month's files are this month's without their last 3 % of lines (records that
    arrive later). Every record of last month keeps its id, or its id was merged into
    the new one and the merge is recorded."""
    monkeypatch.setenv("KIT_IDENTITY_KEY", KEY)
    raw = tmp_path / "full"
    demo.generate(raw, customers=5_000, seed=7)
    folder = tmp_path / "data" / "raw" / "demo"
    shutil.copytree(raw, folder)
    for name in ("crm_members.csv", "shop_orders.csv", "pos_orders.csv", "app_users.csv", "surveys.csv"):
        lines = (raw / name).read_bytes().splitlines(keepends=True)
        (folder / name).write_bytes(b"".join(lines[: int(len(lines) * 0.97)]))
    run_ingest(load_config(write_config(tmp_path, {"run": {"month": "2026-09"}})))
    before = pd.read_parquet(tmp_path / "data" / "warehouse" / "identities.parquet")
    for name in ("crm_members.csv", "shop_orders.csv", "pos_orders.csv", "app_users.csv", "surveys.csv"):
        shutil.copy(raw / name, folder / name)
    result = run_ingest(load_config(write_config(tmp_path, {"run": {"month": "2026-10"}})))
    after = pd.read_parquet(tmp_path / "data" / "warehouse" / "identities.parquet")
    both = before.merge(after, on=["source", "source_id"], suffixes=("_before", "_after"))
    assert len(both) == len(before)
    changed = both[both["customer_id_before"] != both["customer_id_after"]]
    kept = dict(zip(result.merges["merged_id"], result.merges["kept_id"]))
    unchanged = 1 - len(changed) / len(both)
    linkage = result.report["identity"]["linkage"]
    print(f"\n{len(both):,} records of last month: {unchanged:.3%} keep their id; {len(changed)} changed, all by a "
          f"recorded merge; {linkage['carried']} model links carried, {linkage['joined']} joins this month")
    assert unchanged >= 0.999
    assert all(kept.get(b) == a for b, a in zip(changed["customer_id_before"], changed["customer_id_after"]))
    assert linkage["carried"] > 0
