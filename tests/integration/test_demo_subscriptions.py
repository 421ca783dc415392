"""The subscription world (kit.demo.subscriptions, shape ``subscription_app``): monthly
billing by the calendar, behaviour events, churn from a known utility, and a truth that
agrees with the files the company exports. The world is simulated in chunks of accounts:
the shape below is written in chunks of ``CHUNK`` (so every check crosses chunk
boundaries), and the chunk size changes the draws, never the world's meaning."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from kit.core.config import load_config
from kit.core.dates import snapshot_end
from kit.core.inputs import Inputs
from kit.demo import subscriptions
from kit.demo.shapes import END_MONTH, write_shape
from kit.demo.subscriptions import (
    EVENT_RATES,
    GRACE_DAYS,
    KM_DAYS,
    LABEL_DAYS,
    PLANS,
    START,
    WEIGHTS,
    _renewal_days,
    kaplan_meier,
    write_world,
)
from kit.ingest import run_ingest

ACCOUNTS = 1500
CHUNK = 400  # 3 full chunks and one of 300


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("subscription_app")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(subscriptions, "CHUNK_ACCOUNTS", CHUNK)
        return load_config(write_shape("subscription_app", root, customers=ACCOUNTS, seed=5))


def files(config) -> dict[str, pd.DataFrame]:
    raw = config.resolve(config.paths.raw)
    read = {n: pd.read_csv(raw / f"{n}.csv", dtype=str, keep_default_na=False) for n in ("accounts", "subscriptions", "payments")}
    read["events"] = pd.read_parquet(raw / "events.parquet")
    return read


def truth(config, name: str):
    folder = config.resolve(config.paths.raw) / "_truth"
    return json.loads((folder / name).read_text()) if name.endswith(".json") else pd.read_parquet(folder / name)


def test_billing_calendar_matches_pandas_month_offsets():
    days = np.arange(0, 800)
    starts = pd.DatetimeIndex(START + pd.to_timedelta(days, unit="D"))
    for k in (1, 2, 13):
        expected = ((starts + pd.DateOffset(months=k)) - START).days.to_numpy()
        assert (_renewal_days(days, k) == expected).all()
    jan31 = (pd.Timestamp("2026-01-31") - START).days
    due = START + pd.to_timedelta(_renewal_days(np.array([jan31] * 3), np.array([1, 2, 3])), unit="D")
    assert list(due.strftime("%Y-%m-%d")) == ["2026-02-28", "2026-03-31", "2026-04-30"]


def test_files_and_config(world):
    data = files(world)
    assert world.run.month == END_MONTH
    assert set(world.sources) == {"accounts", "subscriptions", "payments", "events"}
    subs = data["subscriptions"]
    assert len(subs) == ACCOUNTS == len(data["accounts"]) and subs["customer_no"].is_unique
    assert set(subs["plan"]) == set(PLANS) and {float(v) for v in subs["mrr"]} == set(PLANS.values())
    assert set(data["events"]["event_type"]) == set(EVENT_RATES) and 6 <= len(EVENT_RATES) <= 8
    assert set(data["events"]["customer_no"]) <= set(subs["customer_no"]) and not data["events"].duplicated().any()
    end = snapshot_end(END_MONTH)
    for frame, column in ((subs, "started_at"), (data["payments"], "paid_at")):
        assert (pd.to_datetime(frame[column]) < end).all()
    assert (pd.to_datetime(data["events"]["event_ts"]) < end).all()
    # paid through a period end of the billing calendar, after the start
    started = pd.to_datetime(subs["started_at"]).dt.normalize()
    through = pd.to_datetime(subs["paid_through"])
    assert (through > started).all()
    periods = (through.dt.year - started.dt.year) * 12 + through.dt.month - started.dt.month
    expected = [s + pd.DateOffset(months=int(k)) for s, k in zip(started, periods)]
    assert (pd.DatetimeIndex(expected) == pd.DatetimeIndex(through)).all()
    # one payment per paid period, each of the plan's price
    payments = data["payments"].groupby("customer_no").size()
    assert (payments.reindex(subs["customer_no"]).to_numpy() == periods.to_numpy()).all()
    price = dict(zip(subs["customer_no"], subs["mrr"].astype(float)))
    assert (data["payments"]["amount"].astype(float) == data["payments"]["customer_no"].map(price)).all()


def test_truth_is_consistent_with_the_subscriptions(world):
    data = files(world)
    weights = truth(world, "weights.json")
    assert weights["events"] == WEIGHTS and set(WEIGHTS) == set(EVENT_RATES)
    assert any(w >= 1 for w in WEIGHTS.values()) and any(w <= -1 for w in WEIGHTS.values())
    accounts = truth(world, "accounts.parquet").set_index("customer_no")
    subs = data["subscriptions"].set_index("customer_no")
    end = snapshot_end(END_MONTH)
    through = pd.to_datetime(subs["paid_through"])
    gone = accounts["end_date"] < end - pd.Timedelta(days=GRACE_DAYS)
    # an account that left before the export is paid through its true end, and a cancellation
    # is only ever a leaver's, made before its end
    assert (through[gone] == accounts.loc[gone, "end_date"]).all()
    cancelled = subs["cancelled_at"] != ""
    assert accounts.loc[cancelled, "churned"].all()
    assert (pd.to_datetime(subs.loc[cancelled, "cancelled_at"]) < accounts.loc[cancelled, "end_date"]).all()
    # a subscription paid through after the export has not ended by then
    assert (accounts.loc[through > end, "end_date"].isna() | (accounts.loc[through > end, "end_date"] >= through[through > end])).all()
    # labels: recomputed from the exported subscriptions for every month whose window the export sees
    labels = truth(world, "labels.parquet")
    started = pd.to_datetime(subs["started_at"])
    checked = 0
    for month, frame in labels.groupby("month"):
        snap = snapshot_end(month)
        days = max(LABEL_DAYS)
        if snap + pd.Timedelta(days=days + GRACE_DAYS) > end:
            continue
        lapsed = through <= snap + pd.Timedelta(days=days)  # stopped paying within the window
        active = (started < snap) & (through > snap)
        assert set(frame["customer_no"]) == set(active[active].index), month
        assert (frame[f"churned_{days}d"].to_numpy() == lapsed[frame["customer_no"]].to_numpy()).all(), month
        checked += 1
    assert checked >= 6
    km = truth(world, "km.json")
    assert set(km) == {"at_export", "full"}
    for curve in km.values():
        assert set(curve) == {str(d) for d in KM_DAYS} and 1 > curve["30"] > curve["60"] > curve["150"] > 0
    # at the export: the Kaplan-Meier of the exported tenures, a lapse counting once its paid
    # period has ended (the truth's own end dates agree with paid_through for those)
    ended = (through < end).to_numpy() & accounts.loc[subs.index, "churned"].to_numpy()
    ended &= (accounts.loc[subs.index, "end_date"] < end).to_numpy()
    duration = np.where(ended, (through - started.dt.normalize()).dt.days, (end - started.dt.normalize()).dt.days)
    for days in KM_DAYS:
        assert kaplan_meier(duration, ended, days) == pytest.approx(km["at_export"][str(days)])


def test_kaplan_meier_by_hand():
    duration = np.array([10, 20, 20, 40, 50])
    event = np.array([True, True, False, True, False])
    assert kaplan_meier(duration, event, 30) == pytest.approx(4 / 5 * 3 / 4)
    assert kaplan_meier(duration, event, 45) == pytest.approx(4 / 5 * 3 / 4 * 1 / 2)


def test_same_seed_same_bytes(tmp_path):
    for folder, seed in (("a", 1), ("b", 1), ("c", 2)):
        write_shape("subscription_app", tmp_path / folder, customers=300, seed=seed)
    names = ["subscriptions.csv", "payments.csv", "events.parquet", "_truth/labels.parquet", "_truth/weights.json"]
    read = {f: [(tmp_path / x / "raw" / f).read_bytes() for x in "abc"] for f in names}
    assert all(a == b for a, b, _ in read.values())
    assert read["subscriptions.csv"][0] != read["subscriptions.csv"][2]


WORLD_FILES = ["accounts.csv", "subscriptions.csv", "payments.csv", "events.parquet", "_truth/accounts.parquet",
               "_truth/labels.parquet", "_truth/km.json", "_truth/config.json"]


def test_chunks_give_the_same_bytes_and_draw_on_their_own(tmp_path):
    summaries = [write_world(tmp_path / folder, 700, seed=3, chunk=200) for folder in "ab"]
    assert summaries[0] == summaries[1]
    for name in WORLD_FILES:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    assert pq.ParquetFile(tmp_path / "a" / "events.parquet").metadata.num_row_groups == 4  # one per chunk
    # the accounts are numbered in sign-up order across chunks, each file holds each account once
    subs = pd.read_csv(tmp_path / "a" / "subscriptions.csv", dtype=str)
    assert list(subs["customer_no"]) == [f"CU{100_000 + i}" for i in range(700)]
    assert pd.to_datetime(subs["started_at"]).dt.normalize().is_monotonic_increasing
    assert (pd.read_parquet(tmp_path / "a" / "_truth" / "accounts.parquet")["customer_no"] == subs["customer_no"]).all()
    # each chunk draws its own events: on the days when the i-th account of the first chunk and
    # the i-th of the second both have events, their counts per type seldom agree (always, were
    # the chunks drawn from one stream)
    events = pd.read_parquet(tmp_path / "a" / "events.parquet")
    position = events["customer_no"].str[2:].astype(int) - 100_000
    table = events.assign(pair=position % 200, chunk=position // 200, day=events["event_ts"].dt.floor("D"))
    counts = table[table["chunk"] < 2].groupby(["chunk", "pair", "day", "event_type"]).size().unstack(fill_value=0)
    first, second = counts.loc[0], counts.loc[1]
    common = first.index.intersection(second.index)
    assert len(common) > 1000 and (first.loc[common].to_numpy() == second.loc[common].to_numpy()).all(axis=1).mean() < 0.5
    assert events["customer_no"].is_monotonic_increasing and not events.duplicated(["customer_no", "event_ts", "event_type"]).any()
    # another chunk size draws another world
    write_world(tmp_path / "c", 700, seed=3, chunk=350)
    assert (tmp_path / "c" / "events.parquet").read_bytes() != (tmp_path / "a" / "events.parquet").read_bytes()


def test_chunk_size_keeps_the_worlds_meaning(tmp_path):
    """One chunk of 1,600 accounts against four of 400: per block of 400 neighbouring
    sign-ups (the blocks differ: the first sign-ups had the longest time to leave)
    the share that left, its events per subscribed account and the 90-day labels agree
    within four standard errors; so do the Kaplan-Meier figures."""
    blocks = 4
    worlds = {}
    for name, chunk in (("one", None), ("four", 400)):
        write_world(tmp_path / name, 1600, seed=9, chunk=chunk)
        accounts = pd.read_parquet(tmp_path / name / "_truth" / "accounts.parquet")
        accounts["block"] = np.arange(len(accounts)) // 400
        events = pd.read_parquet(tmp_path / name / "events.parquet").groupby("customer_no").size()
        accounts["events"] = accounts["customer_no"].map(events).fillna(0).to_numpy()
        labels = pd.read_parquet(tmp_path / name / "_truth" / "labels.parquet").merge(accounts[["customer_no", "block"]])
        labelled = labels.groupby(["block", "customer_no"])["churned_90d"].any().groupby("block").agg(["mean", "size"])
        worlds[name] = (accounts, labelled, json.loads((tmp_path / name / "_truth" / "km.json").read_text())["full"])

    def agree(a: np.ndarray, b: np.ndarray) -> bool:
        return abs(a.mean() - b.mean()) < 4 * np.sqrt(a.var() / len(a) + b.var() / len(b))

    (one, one_labels, one_km), (four, four_labels, four_km) = worlds["one"], worlds["four"]
    churned = [one.groupby("block")["churned"].mean()[b] for b in range(blocks)]
    assert abs(churned[-1] - churned[0]) > 0.1  # the blocks do differ, so agreeing per block means something
    for block in range(blocks):
        a, b = one[one["block"] == block], four[four["block"] == block]
        assert agree(a["churned"].to_numpy(float), b["churned"].to_numpy(float)), block
        assert agree(np.log1p(a["events"].to_numpy()), np.log1p(b["events"].to_numpy())), block
        p, q = one_labels.loc[block], four_labels.loc[block]
        assert abs(p["mean"] - q["mean"]) < 4 * np.sqrt(p["mean"] * (1 - p["mean"]) / p["size"] + q["mean"] * (1 - q["mean"]) / q["size"])
    for days in KM_DAYS:
        s = (one_km[str(days)] + four_km[str(days)]) / 2
        assert abs(one_km[str(days)] - four_km[str(days)]) < 4 * np.sqrt(2 * s * (1 - s) / 1600), days


def test_ingest_links_everything_through_the_customer_number(world):
    result = run_ingest(world)
    warehouse = world.resolve(world.paths.warehouse)
    customers = pd.read_parquet(warehouse / "customers.parquet")
    subs = pd.read_parquet(warehouse / "subscriptions.parquet")
    assert len(customers) == ACCOUNTS == len(subs) and subs["customer_id"].is_unique
    assert set(pd.read_parquet(warehouse / "events.parquet")["customer_id"]) <= set(subs["customer_id"])
    assert set(pd.read_parquet(warehouse / "orders.parquet")["customer_id"]) <= set(subs["customer_id"])
    for name, stats in result.sources.items():
        assert stats.quarantined == 0 == stats.duplicates and stats.read == stats.loaded, name
    inputs = Inputs.read(warehouse)
    assert inputs.has("subscriptions.cancelled_at") and set(inputs.event_types) == set(EVENT_RATES)
