"""Issue 18: a ``subscriptions`` source kind (one row per subscription: customer key, plan,
start, paid-through date, MRR, optional cancellation), cleaned like the other kinds and
linked to the customer's other records through its declared key."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from worlds import write_config

from kit.core.config import ConfigError, load_config
from kit.core.inputs import Inputs
from kit.ingest import IngestError, run_ingest

IDENTITY = {"keys": ["member_id", "customer_no", "phone", "email", "app_user_id"],
            "account_keys": ["member_id", "customer_no", "app_user_id"]}
ACCOUNTS = "客户号,email,registered_at\nC1,ann@example.com,2025-01-01\nC2,bob@example.com,2025-02-01\nC3,cy@example.com,2025-03-01\n"
SUBS_HEADER = "customer_no,plan,start,paid_through,mrr,cancelled_at\n"
SUBS_ROWS = [
    "C1,basic,2025-01-31,2025-03-31,9.9,",          # kept
    "C1,pro,2025-04-01,2025-10-31,29,2025-10-15",   # kept, cancelled
    "C2,basic,2025-02-01,2025-09-30,9.9,",          # kept
    "C2,basic,2025-02-01,2025-09-30,9.9,",          # exact duplicate
    "C3,team,2025-05-01,2025-04-30,49,",            # paid through before start
    "C3,team,not a date,2025-06-30,49,",            # unparseable start
    "C3,team,2025-05-01,2025-06-30,forty,",         # text in mrr
    "C3,team,2025-05-01,2025-06-30,-5,",            # negative mrr
    "C4,team,2025-05-01,2025-06-30,49,",            # a customer number no other source has: a customer of its own
]
EVENTS = "customer_no,ts,event\nC1,2025-10-01 10:00:00,login\nC2,2025-10-02 11:00:00,export\nC9,2025-10-03 09:00:00,login\n"


def ingest(root: Path):
    raw = root / "data" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    (raw / "accounts.csv").write_text(ACCOUNTS, encoding="utf-8")
    (raw / "subs.csv").write_text(SUBS_HEADER + "\n".join(SUBS_ROWS) + "\n", encoding="utf-8")
    (raw / "events.csv").write_text(EVENTS, encoding="utf-8")
    sources = {
        "accounts": {"kind": "customers", "path": "data/raw/accounts.csv", "columns": {"客户号": "member_id"},
                     "keys": {"member_id": "customer_no", "email": "email"}},
        "subs": {"kind": "subscriptions", "path": "data/raw/subs.csv", "columns": {"start": "started_at"},
                 "keys": {"customer_no": "customer_no"}},
        "events": {"kind": "events", "path": "data/raw/events.csv", "columns": {"ts": "event_ts", "event": "event_type"},
                   "keys": {"customer_no": "customer_no"}},
    }
    config = write_config(root, {"sources": sources, "identity": IDENTITY, "run": {"month": "2025-10"}})
    return run_ingest(load_config(config))


def read(root: Path, name: str) -> pd.DataFrame:
    return pd.read_parquet(root / "data" / "warehouse" / f"{name}.parquet")


def test_subscriptions_are_typed_quarantined_and_linked(tmp_path):
    result = ingest(tmp_path)
    subs = read(tmp_path, "subscriptions").sort_values(["started_at", "plan"], ignore_index=True)
    assert list(subs.columns) == ["subscription_id", "customer_id", "source", "plan", "started_at", "paid_through",
                                  "mrr", "cancelled_at"]
    assert str(subs["started_at"].dtype).startswith("datetime64")
    assert str(subs["paid_through"].dtype).startswith("datetime64")
    assert str(subs["cancelled_at"].dtype).startswith("datetime64")
    assert subs["mrr"].dtype == "float64"
    assert len(subs) == 4 and set(subs["source"]) == {"subs"}
    assert subs["subscription_id"].str.startswith("subs:").all() and subs["subscription_id"].is_unique
    assert subs["cancelled_at"].notna().sum() == 1
    # linking: the subscription's customer number is the account's, and the events' too
    ids = read(tmp_path, "identities")
    account = dict(ids.loc[ids["source"] == "accounts", ["source_id", "customer_id"]].to_numpy())
    by_plan = subs.groupby("plan")["customer_id"].agg(set)
    assert by_plan["pro"] == {account["C1"]}
    assert set(subs.loc[subs["mrr"] == 9.9, "customer_id"]) == {account["C1"], account["C2"]}
    other = subs.loc[subs["plan"] == "team", "customer_id"].iloc[0]
    assert other not in account.values()
    events = read(tmp_path, "events")
    assert set(events["customer_id"]) == {account["C1"], account["C2"]}
    # accounting and quarantine reasons
    stats = result.sources["subs"]
    assert stats.read == 9 and stats.loaded == 4 and stats.exact_duplicates == 1 and stats.quarantined == 4
    assert stats.read == stats.loaded + stats.duplicates + stats.quarantined
    assert stats.quarantine_reasons == {"paid_through_before_start": 1, "unparseable_timestamp": 1,
                                        "text_in_number": 1, "negative_amount": 1}
    quarantine = pd.read_parquet(tmp_path / "data" / "warehouse" / "quarantine" / "subs.parquet")
    assert dict(zip(quarantine["reason"], quarantine["column"])) == {
        "paid_through_before_start": "paid_through", "unparseable_timestamp": "started_at",
        "text_in_number": "mrr", "negative_amount": "mrr"}
    assert result.report["tables"]["subscriptions"] == 4
    inputs = Inputs.read(tmp_path / "data" / "warehouse")
    assert inputs.has("subscriptions") and inputs.has("subscriptions.cancelled_at")


def test_synthesised_subscription_ids_are_stable(tmp_path):
    """No subscription_id column: each row gets a keyed hash of its fields, the same on a
    second ingest."""
    ingest(tmp_path)
    first = sorted(read(tmp_path, "subscriptions")["subscription_id"])
    ingest(tmp_path)
    assert sorted(read(tmp_path, "subscriptions")["subscription_id"]) == first


def test_no_subscriptions_source_writes_an_empty_typed_table(tmp_path):
    raw = tmp_path / "data" / "raw"
    raw.mkdir(parents=True)
    (raw / "accounts.csv").write_text(ACCOUNTS, encoding="utf-8")
    sources = {"accounts": {"kind": "customers", "path": "data/raw/accounts.csv", "columns": {"客户号": "member_id"}}}
    run_ingest(load_config(write_config(tmp_path, {"sources": sources, "identity": IDENTITY})))
    subs = read(tmp_path, "subscriptions")
    assert subs.empty and str(subs["paid_through"].dtype).startswith("datetime64")
    assert not Inputs.read(tmp_path / "data" / "warehouse").has("subscriptions")


def test_a_subscriptions_file_without_paid_through_is_refused_with_the_column_named(tmp_path):
    raw = tmp_path / "data" / "raw"
    raw.mkdir(parents=True)
    (raw / "subs.csv").write_text("customer_no,plan,started_at,mrr\nC1,basic,2025-01-01,9.9\n", encoding="utf-8")
    sources = {"subs": {"kind": "subscriptions", "path": "data/raw/subs.csv", "keys": {"customer_no": "customer_no"}}}
    config = load_config(write_config(tmp_path, {"sources": sources, "identity": IDENTITY}))
    with pytest.raises(IngestError, match=r"'paid_through'.*Columns found: customer_no, plan, started_at, mrr"):
        run_ingest(config)


def test_subscription_keys_must_be_listed_key_types(tmp_path):
    sources = {"subs": {"kind": "subscriptions", "path": "data/raw/subs.csv", "keys": {"account": "account_no"}}}
    with pytest.raises(ConfigError, match="account_no"):
        load_config(write_config(tmp_path, {"sources": sources, "identity": IDENTITY}))
