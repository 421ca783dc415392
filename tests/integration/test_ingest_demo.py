"""Ingest of a generated 3,000-customer demo world, checked against its ground truth.

Precision / recall are pairwise over records (two records of the same true person vs of
the same customer_id), exact via contingency counts. Three figures are printed:
- precision over all records;
- recall over all records: its ceiling is low because many records carry no usable
  identifier at all (receipts with a blank or walk-in phone, anonymous survey answers,
  accounts with no phone or e-mail in common);
- recall over linkable pairs: pairs of records of one person joined by a chain of
  identifier values that belong to that person only (a value the truth shows on two
  people, like a walk-in number, links nobody). This is the ceiling any deterministic
  resolver can reach, computed from the truth independently of the over-share rules.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from worlds import link_identity_sources, write_config

from kit.core.config import load_config
from kit.ingest import quality, run_ingest
from kit.ingest.identity import (
    IdentityKey,
    pairwise_precision_recall,
    use_key,
)
from kit.ingest.normalize import phone_sql

demo = pytest.importorskip("kit.demo")
CUSTOMERS = 3000


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo")
    demo.generate(root / "data" / "raw" / "demo", customers=CUSTOMERS, seed=11)
    config = load_config(write_config(root, {}))
    return root, config, run_ingest(config)


def truth(root: Path, name: str) -> pd.DataFrame:
    return pd.read_parquet(root / "data" / "raw" / "demo" / "_truth" / f"{name}.parquet")


def linkable_groups(root: Path, config) -> pd.DataFrame:
    """source, source_id, person_id, group: records joinable through person-unique identifiers."""
    con = duckdb.connect()
    key = IdentityKey(b"linkable-groups-test-key-0123456789", "test")
    use_key(con, key)
    link_identity_sources(con, config, key)
    people = truth(root, "source_records")
    records = con.execute("SELECT source, source_id FROM id_records").df().merge(people, on=["source", "source_id"])
    records["r"] = np.arange(len(records))
    links = con.execute("SELECT * FROM id_links").df().merge(records, on=["source", "source_id"])
    owners = links.groupby(["key_type", "key_value"])["person_id"].transform("nunique")
    links = links[owners == 1]
    key = links.groupby(["key_type", "key_value"]).ngroup().to_numpy() + len(records)
    n = len(records) + int(key.max(initial=len(records) - 1)) + 1
    graph = coo_matrix((np.ones(len(links)), (links["r"].to_numpy(), key)), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    return records.assign(group=labels[: len(records)])


def test_identity_resolution_against_truth(world):
    root, config, _ = world
    identities = pd.read_parquet(root / "data" / "warehouse" / "identities.parquet")
    merged = identities.merge(truth(root, "source_records"), on=["source", "source_id"], validate="one_to_one")
    assert len(merged) == len(identities)
    precision, recall_all = pairwise_precision_recall(merged["customer_id"], merged["person_id"])
    groups = linkable_groups(root, config).merge(identities, on=["source", "source_id"])
    _, recall_linkable = pairwise_precision_recall(groups["customer_id"], groups["group"])
    _, ceiling = pairwise_precision_recall(groups["group"], groups["person_id"])
    print(
        f"\n{CUSTOMERS} customers, {len(merged)} records: precision {precision:.4f}, recall (all pairs) "
        f"{recall_all:.4f} (ceiling {ceiling:.4f}), recall (linkable pairs) {recall_linkable:.4f}"
    )
    assert precision >= 0.99
    assert recall_linkable >= 0.99
    assert recall_all >= ceiling * 0.99


def test_walk_in_receipts_stay_apart(world):
    root, config, result = world
    walk_in = json.loads((root / "data" / "raw" / "demo" / "_truth" / "defects.json").read_text())["walk_in_phones"]
    pos = duckdb.connect().execute(
        f"SELECT receipt_id AS source_id, {phone_sql('phone', 'VARCHAR')} AS phone FROM read_csv(?, all_varchar = true)",
        [str(root / "data" / "raw" / "demo" / "pos_orders.csv")],
    ).df()
    walk = pos[pos["phone"].isin(walk_in)].drop_duplicates("source_id")
    identities = pd.read_parquet(root / "data" / "warehouse" / "identities.parquet")
    receipts = walk.merge(identities[identities["source"] == "pos"], on="source_id")
    assert len(receipts) >= len(walk) - 10  # a few receipts are quarantined
    assert set(receipts["rule"]) == {"singleton"}
    assert receipts["customer_id"].is_unique
    per_number = walk["phone"].value_counts()
    detectable = int((per_number > config.identity.overshared_orphan_threshold).sum())
    found = result.overshared
    print(f"\nover-shared found: {len(found)}; walk-in numbers in the data: {len(per_number)}, detectable: {detectable}")
    assert set(found["key_type"]) == {"phone"}
    assert detectable <= len(found) <= detectable + 3  # at most a few personal phones given up


def test_defect_counts_match_the_generator(world):
    root, _, result = world
    defects = json.loads((root / "data" / "raw" / "demo" / "_truth" / "defects.json").read_text())["defects"]
    count = {(d["file"], d["defect"]): d["count"] for d in defects}
    shop, pos = result.sources["shop"], result.sources["pos"]
    assert shop.exact_duplicates == count[("shop_orders.csv", "exact_duplicate_rows")]
    assert shop.resent_duplicates == count[("shop_orders.csv", "resent_orders")]
    assert shop.quarantine_reasons == {
        "unparseable_timestamp": count[("shop_orders.csv", "bad_dates")],
        "text_in_number": count[("shop_orders.csv", "text_in_amount")],
        "negative_amount": count[("shop_orders.csv", "negative_amounts")],
    }
    assert pos.exact_duplicates == count[("pos_orders.csv", "exact_duplicate_rows")]
    assert pos.quarantine_reasons == {
        "unparseable_timestamp": count[("pos_orders.csv", "bad_dates")],
        "text_in_number": count[("pos_orders.csv", "text_in_amount")],
        "negative_amount": count[("pos_orders.csv", "negative_amounts")],
    }
    assert result.sources["crm"].exact_duplicates == count[("crm_members.csv", "exact_duplicate_rows")]
    # events logged at the same second with the same type and category also count as duplicates
    events = result.sources["app_events"]
    injected = count[("app_events.parquet", "exact_duplicate_rows")]
    assert injected <= events.exact_duplicates <= injected + events.read * 0.001
    orders = pd.read_parquet(root / "data" / "warehouse" / "orders.parquet")
    assert int(orders["is_refund"].sum()) == count[("shop_orders.csv", "refunded_orders")]
    for stats in result.sources.values():
        assert stats.read == stats.loaded + stats.duplicates + stats.quarantined


def test_demo_month_passes_the_data_gate(world):
    """The demo's planted defects stay within the default limits: the month publishes."""
    _, _, result = world
    gate = quality.fitness(result.report)
    assert gate.grade in ("ok", "warn"), gate.problems()
    assert result.report["fitness"]["grade"] == gate.grade


def _keep_head(path: Path, share: float, encoding: str) -> None:
    """Keep the header and the first ``share`` of the data lines (files are in time order)."""
    lines = path.read_bytes().decode(encoding).splitlines(keepends=True)
    keep = 1 + int((len(lines) - 1) * share)
    path.write_bytes("".join(lines[:keep]).encode(encoding))


def test_ids_are_stable_when_next_month_adds_records(world, tmp_path):
    root, _, _ = world
    raw = tmp_path / "data" / "raw" / "demo"
    shutil.copytree(root / "data" / "raw" / "demo", raw)
    config = load_config(write_config(tmp_path, {}))
    encodings = {"crm_members.csv": "gb18030", "pos_orders.csv": "utf-8-sig"}
    for file in ("crm_members.csv", "shop_orders.csv", "pos_orders.csv", "app_users.csv", "surveys.csv"):
        _keep_head(raw / file, 0.9, encodings.get(file, "utf-8"))
    run_ingest(config)
    before = pd.read_parquet(tmp_path / "data" / "warehouse" / "identities.parquet")
    shutil.rmtree(raw)
    shutil.copytree(root / "data" / "raw" / "demo", raw)
    result = run_ingest(config)
    after = pd.read_parquet(tmp_path / "data" / "warehouse" / "identities.parquet")
    both = before.merge(after, on=["source", "source_id"], suffixes=("_before", "_after"), validate="one_to_one")
    assert len(both) == len(before)
    kept = dict(zip(result.merges["merged_id"], result.merges["kept_id"]))
    expected = both["customer_id_before"].map(lambda c: kept.get(c, c))
    changed = int((both["customer_id_before"] != both["customer_id_after"]).sum())
    print(f"\nrun 2: {len(after) - len(before)} new records, {len(result.merges)} merges, {changed} records changed id")
    assert (expected == both["customer_id_after"]).all()
    # a person seen last month keeps last month's id (unless two of its ids merged)
    people = both.merge(truth(root, "source_records"), on=["source", "source_id"])
    moved = people.loc[people["customer_id_before"] != people["customer_id_after"], "customer_id_before"]
    assert moved.isin(result.merges["merged_id"]).all()
    new_ids = set(after["customer_id"]) - set(before["customer_id"])
    assert not new_ids & set(result.merges["kept_id"])
