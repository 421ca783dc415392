"""End-to-end ingest of the tiny hand-written world (tests/worlds.py, section 3)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
import yaml
from worlds import CRM, TRUTH, WALK_IN, csv_bytes, write_tiny_world

from kit.core.config import load_config
from kit.ingest import run_ingest
from kit.ingest.identity import pairwise_precision_recall

CONTRACT = {
    "customers": ["customer_id", "first_seen", "member_since", "signup_channel", "gender", "birth_year", "city", "city_tier", "n_sources", "sources"],
    "identities": ["source", "source_id", "customer_id", "rule", "kind", "keyed", "match_probability"],
    "orders": ["order_id", "customer_id", "source", "channel", "order_ts", "amount", "discount", "category", "items", "payment_method", "status", "is_refund", "store_city", "has_time"],
    "events": ["customer_id", "event_ts", "event_type", "category", "has_time"],
    "surveys": ["response_id", "customer_id", "survey_ts", "nps", "csat"],
    "assignments": ["experiment_id", "customer_id", "variant", "assigned_ts", "unit_type", "unit_id_hash"],
}
PHONE = re.compile(r"(?<![\d.])1[3-9]\d[\s-]?\d{4}[\s-]?\d{4}(?!\d)")
EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny")
    config = load_config(write_tiny_world(root))
    result = run_ingest(config)
    return root, config, result


def table(root: Path, name: str) -> pd.DataFrame:
    return pd.read_parquet(root / "data" / "warehouse" / f"{name}.parquet")


def test_tables_follow_the_contract(world):
    root, _, _ = world
    for name, columns in CONTRACT.items():
        assert pq.read_schema(root / "data" / "warehouse" / f"{name}.parquet").names == columns, name
    schema = pq.read_schema(root / "data" / "warehouse" / "customers.parquet")
    assert str(schema.field("birth_year").type) == "int64"
    assert str(schema.field("first_seen").type) == "timestamp[us]"
    orders = table(root, "orders")
    assert orders["order_id"].is_unique
    assert set(orders["channel"]) == {"online", "app", "store"}
    assert (orders["amount"] >= 0).all()


def test_every_source_balances(world):
    root, _, result = world
    report = json.loads((root / "data" / "warehouse" / "ingest_report.json").read_text(encoding="utf-8"))
    assert set(report["sources"]) == {"crm", "shop", "pos", "app", "app_events", "survey", "assignments"}
    for name, s in report["sources"].items():
        assert s["read"] == s["loaded"] + s["exact_duplicates"] + s["resent_duplicates"] + s["quarantined"], name
        quarantine = pd.read_parquet(root / "data" / "warehouse" / "quarantine" / f"{name}.parquet")
        assert len(quarantine) == s["quarantined"]
    shop = report["sources"]["shop"]
    assert (shop["read"], shop["loaded"], shop["exact_duplicates"], shop["resent_duplicates"]) == (7, 2, 1, 1)
    assert shop["quarantine_reasons"] == {"negative_amount": 1, "text_in_number": 1, "unparseable_timestamp": 1}
    assert report["sources"]["crm"]["encodings"] == {"data/raw/demo/crm_members.csv": "gb18030"}
    assert report["sources"]["pos"]["encodings"] == {"data/raw/demo/pos_orders.csv": "utf-8-sig"}
    assert report["sources"]["app_events"]["quarantine_reasons"] == {"unknown_app_user_id": 1}
    assert report["sources"]["assignments"]["quarantine_reasons"] == {"unknown_unit": 1}
    assert report["sources"]["survey"]["quarantine_reasons"] == {"out_of_range": 1}


def test_resent_order_keeps_the_refunded_version(world):
    root, _, _ = world
    orders = table(root, "orders").set_index("order_id")
    assert orders.loc["shop:S2", "status"] == "refunded"
    assert bool(orders.loc["shop:S2", "is_refund"])
    assert orders.loc["shop:S2", "amount"] == 99.0


def test_one_person_across_sources_is_one_customer(world):
    root, _, _ = world
    ids = table(root, "identities").set_index(["source", "source_id"])["customer_id"]
    p1 = {ids[("crm", "M00000001")], ids[("shop", "U1")], ids[("pos", "R1")], ids[("app", "A1")], ids[("survey", "V1")]}
    assert len(p1) == 1
    customer = table(root, "customers").set_index("customer_id").loc[p1.pop()]
    assert (customer["gender"], customer["birth_year"], customer["city"], customer["city_tier"]) == ("male", 1990, "上海", 1)
    assert customer["sources"] == "app,crm,pos,shop,survey"
    assert customer["n_sources"] == 5
    assert customer["member_since"] == pd.Timestamp("2024-01-05")
    assert customer["signup_channel"] == "store"


def test_overshared_walk_in_phone_keeps_receipts_apart(world):
    root, _, result = world
    ids = table(root, "identities").set_index(["source", "source_id"])
    walk_in = [("pos", r) for r in ("R2", "R3", "R4", "R5")] + [("app", "A3")]
    assert ids.loc[walk_in, "customer_id"].nunique() == 5
    assert set(ids.loc[walk_in, "rule"]) == {"singleton"}
    assert result.overshared.to_dict(orient="records") == [
        {"key_type": "phone", "value_masked": "138****0000", "n_records": 5, "n_accounts": 1, "n_sources": 2}
    ]
    text = (root / "data" / "warehouse" / "ingest_report.json").read_text(encoding="utf-8")
    assert WALK_IN not in text and "138****0000" in text


def test_identity_matches_the_truth(world):
    root, _, _ = world
    merged = table(root, "identities").merge(TRUTH, on=["source", "source_id"], validate="one_to_one")
    precision, recall = pairwise_precision_recall(merged["customer_id"], merged["person_id"])
    print(f"tiny world: precision {precision:.4f}, recall {recall:.4f} over {len(merged)} records")
    assert len(merged) == 15  # V3 (NPS 11) is quarantined
    # R2 (P3's walk-in receipt) cannot be linked to A3 (P3): the only link is over-shared
    assert precision == 1.0
    assert recall == pytest.approx(13 / 14, abs=1e-9)  # 14 true pairs: P1 10, P2 3, P3 1


def test_pairwise_scores_count_pairs():
    predicted = pd.Series(["a", "a", "a", "b"])
    truth = pd.Series([1, 1, 2, 2])
    assert pairwise_precision_recall(predicted, truth) == (pytest.approx(1 / 3), pytest.approx(1 / 2))


def test_no_personal_data_in_the_warehouse(world):
    root, _, _ = world
    names = {row[1] for row in CRM[1:]}
    folder = root / "data" / "warehouse"
    files = list(folder.rglob("*.parquet"))
    assert len(files) >= 6 + 7
    for file in files:
        frame = pd.read_parquet(file)
        for column in frame.columns:
            values = frame[column].dropna().astype("str")
            if column.endswith("hash"):
                # salted SHA-256 prefixes: hex only, so no name or e-mail; a run of 11
                # decimal digits inside one is chance (1 in ~700 per 32-digit hash, measured), not a phone
                assert values.str.fullmatch("[0-9a-f]{16,64}").all(), (file.name, column)
                continue
            for value in values:
                assert not PHONE.search(value.replace("****", "")) or "****" in value, (file.name, column, value)
                assert not EMAIL.search(value) or "***@" in value, (file.name, column, value)
                assert not any(n in value for n in names), (file.name, column, value)
    report = (folder / "ingest_report.json").read_text(encoding="utf-8")
    assert not PHONE.search(report) and not EMAIL.search(report)
    assert not any(n in report for n in names)


def test_stable_ids_when_new_records_arrive(tmp_path):
    config = load_config(write_tiny_world(tmp_path))
    run_ingest(config)
    before = table(tmp_path, "identities")
    raw = tmp_path / "data" / "raw" / "demo"
    with (raw / "shop_orders.csv").open("a", encoding="utf-8") as handle:
        handle.write("S9,U9,13700137009,2024-07-01 10:00:00,web,10,0,food,1,alipay,paid\n")
        handle.write("S10,U1,,2024-07-02 10:00:00,web,11,0,food,1,alipay,paid\n")
    crm = CRM + [["M00000011", "孙八", "13700137009", "", "女", "", "北京", "2024-07-01", "门店"]]
    (raw / "crm_members.csv").write_bytes(csv_bytes(crm, "gb18030"))
    result = run_ingest(config)
    after = table(tmp_path, "identities")
    both = before.merge(after, on=["source", "source_id"], suffixes=("_before", "_after"))
    assert len(both) == len(before)
    assert (both["customer_id_before"] == both["customer_id_after"]).all()
    new = after[after["source_id"].isin(["U9", "M00000011"])]
    assert new["customer_id"].nunique() == 1
    assert not set(new["customer_id"]) & set(before["customer_id"])
    assert result.merges.empty


def test_merging_components_keeps_the_oldest_id(tmp_path):
    config = load_config(write_tiny_world(tmp_path))
    run_ingest(config)
    before = table(tmp_path, "identities").set_index(["source", "source_id"])["customer_id"]
    p1, p2 = before[("crm", "M00000001")], before[("crm", "M00000002")]
    raw = tmp_path / "data" / "raw" / "demo"
    with (raw / "app_users.csv").open("a", encoding="utf-8") as handle:
        handle.write("A7,13900139002,p1@example.com,2024-08-01T08:00:00\n")  # P1's e-mail, P2's phone
    result = run_ingest(config)
    after = table(tmp_path, "identities").set_index(["source", "source_id"])["customer_id"]
    kept = min(p1, p2)  # same first run: the smaller id is kept
    assert after[("crm", "M00000001")] == after[("crm", "M00000002")] == after[("app", "A7")] == kept
    assert result.merges[["merged_id", "kept_id"]].to_dict(orient="records") == [
        {"merged_id": max(p1, p2), "kept_id": kept}
    ]
    log = pd.read_parquet(tmp_path / "data" / "warehouse" / "identity_merges.parquet")
    assert len(log) == 1
    unchanged = [k for k in before.index if before[k] not in (p1, p2)]
    assert (after[unchanged] == before[unchanged]).all()


def test_rerun_on_the_same_data_is_identical(tmp_path):
    config = load_config(write_tiny_world(tmp_path))
    run_ingest(config)
    first = {name: table(tmp_path, name) for name in CONTRACT}
    run_ingest(config)
    for name in CONTRACT:
        # events are written in scan order (no sort), so compare them sorted
        before, after = (f.sort_values(list(f.columns), ignore_index=True) for f in (first[name], table(tmp_path, name)))
        pd.testing.assert_frame_equal(before, after, obj=name)
    registry = pd.read_parquet(tmp_path / "data" / "warehouse" / "identity_registry.parquet")
    assert registry["id_hash"].str.fullmatch(r"[0-9a-f]{32}").all()
    assert registry["customer_id"].str.fullmatch(r"C[0-9a-f]{10}").all()


def test_excel_jsonl_and_ibis_sources_ingest_like_csv(tmp_path, monkeypatch):
    """The same rows as Excel (CRM), JSON lines (app users) and an Ibis table (surveys in a
    DuckDB file) give the same warehouse as the CSV exports."""
    import duckdb

    monkeypatch.setenv("KIT_IDENTITY_KEY", "same-identity-key-for-both-of-the-runs")
    csv_root, other_root = tmp_path / "csv", tmp_path / "other"
    run_ingest(load_config(write_tiny_world(csv_root)))
    config_path = write_tiny_world(other_root)
    raw = other_root / "data" / "raw" / "demo"
    pd.DataFrame(CRM[1:], columns=CRM[0]).to_excel(raw / "crm_members.xlsx", index=False)
    pd.read_csv(raw / "app_users.csv", dtype=str).to_json(raw / "app_users.jsonl", orient="records", lines=True)
    with duckdb.connect(str(raw / "surveys.duckdb")) as con:
        con.execute(f"CREATE TABLE answers AS SELECT * FROM read_csv('{raw / 'surveys.csv'}', all_varchar = true)")
    data = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    data["sources"]["crm"].update(path="data/raw/demo/crm_members.xlsx", format="excel")
    data["sources"]["app"].update(path="data/raw/demo/app_users.jsonl", format="jsonl")
    survey = {k: v for k, v in data["sources"]["survey"].items() if k != "path"}
    data["sources"]["survey"] = {**survey, "format": "ibis", "url": f"duckdb://{raw / 'surveys.duckdb'}", "table": "answers"}
    config_path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    for how in ("parsed", "reused"):  # the second run reads the Excel and JSON lines files from the parse cache
        result = run_ingest(load_config(config_path))
        assert result.sources["crm"].file_reads[how] == result.sources["app"].file_reads[how] == 1
        assert result.sources["survey"].file_reads == {"parsed": 0, "reused": 0, "in_place": 1}
        assert result.sources["crm"].files == ["data/raw/demo/crm_members.xlsx"]
        assert result.sources["crm"].read == len(CRM) - 1
        assert result.sources["app"].files == ["data/raw/demo/app_users.jsonl"]
        assert result.sources["survey"].files == ["ibis:answers"]
        for name in CONTRACT:
            expected, got = (
                pd.read_parquet(root / "data" / "warehouse" / f"{name}.parquet") for root in (csv_root, other_root)
            )
            expected, got = (f.sort_values(list(f.columns), ignore_index=True) for f in (expected, got))
            pd.testing.assert_frame_equal(expected, got, obj=name, check_dtype=False)
