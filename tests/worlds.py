"""The test worlds: every builder of test data in one module (used via tests/conftest.py).

1. ``make_warehouse``: a small, realistic canonical warehouse (Parquet tables).
2. ``make_profile``: synthetic customer profile frames with known latent groups.
3. ``write_tiny_world``: a tiny hand-written raw world for the ingest and run tests.
4. Generated demo worlds (``kit.demo``): ``demo_world`` and ``shuffle_raw``, the
   published demo months that the e2e tests share (``DemoMonths``) and the company shapes
   run for a month (``ShapeRuns``, kit.demo.shapes): each built once per test run in a
   background process while the other tests run; ``python tests/worlds.py
   demo-months|shapes ROOT`` builds them by hand.
5. Stand-in stage functions for the bench harness tests (imported by spawned processes).
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import yaml

from kit.core.config import DEFAULT_CONFIG, PROJECT_ROOT, KitConfig
from kit.core.dates import snapshot_date

# --------------------------------------------------------------------------- 1. A canonical warehouse
#
# A small, realistic canonical warehouse for tests (docs/data_contract.md, section 2).
#
# ``make_warehouse(tmp_path, n_customers=2000, seed=0)`` writes the six canonical tables
# (customers, identities, orders, events, surveys, assignments) as Parquet into ``tmp_path``
# and returns that folder, ready for ``kit.core.warehouse.Warehouse(tmp_path)``. Everything is
# vectorised numpy + pyarrow (no loop per customer), so the same builder also produces the
# 1,000,000-customer world used to time ``kit.profile.features`` by hand.
#
# The world: customers first seen between ``start`` and ``end``; each buys at a personal
# Poisson rate with persona-like habits (favourite category and channel, discount taste,
# weekend/night shoppers), browses an app (visits, views, add-to-cart), and some answer
# surveys. About 5% of orders are refunded (status ``refunded``, ``is_refund`` true). No
# row is dated on or after ``end`` so tests can plant "future" rows themselves.

CATEGORIES = ("apparel", "beauty", "electronics", "grocery", "home", "sports")
CHANNELS = ("online", "app", "store")
PAYMENTS = ("alipay", "wechat_pay", "card", "cod")
CITIES = ("上海", "北京", "杭州", "成都", "南京", "洛阳", "绵阳", "赣州")
CITY_TIER = {"上海": 1, "北京": 1, "杭州": 2, "成都": 2, "南京": 2, "洛阳": 3, "绵阳": 3, "赣州": 4}
SIGNUP = ("store", "online", "app", "mini_program")
EVENT_TYPES = ("visit", "view", "add_to_cart", "search", "coupon_claim")
EVENT_P = (0.35, 0.35, 0.12, 0.12, 0.06)


def make_warehouse(
    tmp_path: Path | str,
    n_customers: int = 2000,
    seed: int = 0,
    start: str = "2024-01-01",
    end: str = "2026-11-01",
    orders_per_customer: float = 10.0,
    events_per_customer: float = 40.0,
) -> Path:
    """Write a canonical warehouse of ``n_customers`` into ``tmp_path`` and return the path.

    ``end`` is exclusive: nothing is dated at or after it (default: after October 2026).
    ``orders_per_customer`` / ``events_per_customer`` set the average volumes.
    """
    root = Path(tmp_path)
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    t0 = np.datetime64(start, "s").astype(np.int64)
    t1 = np.datetime64(end, "s").astype(np.int64)
    n = n_customers

    ids = pa.array([f"C{v:010x}" for v in rng.choice(16**10, size=n, replace=False)], pa.string())
    # Most customers arrived early enough to have history; a tail arrives recently.
    first_seen = t0 + (rng.beta(1.2, 1.0, n) * (t1 - t0 - 86400)).astype(np.int64)
    city_idx = rng.choice(len(CITIES), n, p=[0.18, 0.15, 0.14, 0.13, 0.12, 0.1, 0.1, 0.08])
    gender = rng.choice(np.array(["female", "male", None], dtype=object), n, p=[0.55, 0.4, 0.05])
    birth_year = rng.integers(1955, 2007, n)
    birth_missing = rng.random(n) < 0.08
    is_member = rng.random(n) < 0.7
    fav_cat = rng.integers(0, len(CATEGORIES), n)
    fav_chan = rng.choice(3, n, p=[0.35, 0.35, 0.3])
    app_user = (fav_chan == 1) | (rng.random(n) < 0.4)
    cities = np.array(CITIES, dtype=object)[city_idx]
    customers = pa.table(
        {
            "customer_id": ids,
            "first_seen": _ts(first_seen),
            "member_since": pa.array(
                np.where(is_member, first_seen, 0).astype("datetime64[s]").astype("datetime64[us]"),
                mask=~is_member,
            ),
            "signup_channel": pa.array(np.array(SIGNUP, dtype=object)[fav_chan], pa.string()),
            "gender": pa.array(gender, pa.string()),
            "birth_year": pa.array(birth_year, pa.int64(), mask=birth_missing),
            "city": pa.array(cities, pa.string()),
            "city_tier": pa.array([CITY_TIER[c] for c in cities], pa.int64()),
            "n_sources": pa.array(np.where(app_user, 3, 2), pa.int64()),
            "sources": pa.array(np.where(app_user, "crm,shop,app", "crm,shop"), pa.string()),
        }
    )
    pq.write_table(customers, root / "customers.parquet")
    identities = pa.table(
        {
            "source": pa.array(["crm"] * n, pa.string()),
            "source_id": pa.array([f"M{i:08d}" for i in range(n)], pa.string()),
            "customer_id": ids,
            "rule": pa.array(["member_id"] * n, pa.string()),
            "kind": pa.array(["customers"] * n, pa.string()),
            "keyed": pa.array([True] * n, pa.bool_()),
        }
    )
    pq.write_table(identities, root / "identities.parquet")

    # Orders: a personal rate (gamma) times the time each customer has been around.
    alive_days = (t1 - first_seen) / 86400
    rate = rng.gamma(0.8, orders_per_customer / 0.8, n) / max(float(alive_days.mean()), 1.0)
    n_orders = rng.poisson(rate * alive_days)
    owner = np.repeat(np.arange(n), n_orders)
    m = len(owner)
    ts = first_seen[owner] + (rng.random(m) * (t1 - first_seen[owner] - 1)).astype(np.int64)
    night = rng.random(n) < 0.15
    hour = np.where(night[owner] & (rng.random(m) < 0.7), rng.integers(21, 24, m), rng.integers(8, 21, m))
    ts = ts - ts % 86400 + hour * 3600 + rng.integers(0, 3600, m)
    ts = np.minimum(ts, t1 - 1)
    chan = np.where(rng.random(m) < 0.7, fav_chan[owner], rng.integers(0, 3, m))
    cat = np.where(rng.random(m) < 0.6, fav_cat[owner], rng.integers(0, len(CATEGORIES), m))
    spend_level = rng.lognormal(5.0, 0.5, n)
    amount = np.round(spend_level[owner] * rng.lognormal(0.0, 0.4, m), 2)
    bargain = rng.random(n) < 0.25
    discount = np.round(amount * np.where(bargain[owner], rng.uniform(0.1, 0.4, m), rng.uniform(0, 0.08, m)), 2)
    refunded = rng.random(m) < 0.05
    store = chan == 2
    orders = pa.table(
        {
            "order_id": pa.array(
                np.char.add(np.where(store, "pos:R", "shop:S"), np.arange(m).astype(str)), pa.string()
            ),
            "customer_id": ids.take(pa.array(owner)),
            "source": pa.array(np.where(store, "pos", "shop"), pa.string()),
            "channel": pa.array(np.array(CHANNELS, dtype=object)[chan], pa.string()),
            "order_ts": _ts(ts),
            "amount": pa.array(amount, pa.float64()),
            "discount": pa.array(discount, pa.float64()),
            "category": pa.array(np.array(CATEGORIES, dtype=object)[cat], pa.string()),
            "items": pa.array(rng.integers(1, 6, m), pa.int64()),
            "payment_method": pa.array(np.array(PAYMENTS, dtype=object)[rng.integers(0, 4, m)], pa.string()),
            "status": pa.array(np.where(refunded, "refunded", "paid"), pa.string()),
            "is_refund": pa.array(refunded),
            "store_city": pa.array(cities[owner], pa.string(), mask=~store),
        }
    )
    pq.write_table(orders, root / "orders.parquet")

    # Events: app users only, a personal rate, spread over their time around.
    ev_rate = np.where(app_user, rng.gamma(1.0, events_per_customer / 0.6, n), 0.0) / max(
        float(alive_days.mean()), 1.0
    )
    n_events = rng.poisson(ev_rate * alive_days)
    eowner = np.repeat(np.arange(n), n_events)
    k = len(eowner)
    ets = first_seen[eowner] + (rng.random(k) * (t1 - first_seen[eowner] - 1)).astype(np.int64)
    etype = rng.choice(len(EVENT_TYPES), k, p=EVENT_P)
    ecat = np.where(rng.random(k) < 0.6, fav_cat[eowner], rng.integers(0, len(CATEGORIES), k))
    no_cat = (etype == 0) | (etype == 3)
    events = pa.table(
        {
            "customer_id": ids.take(pa.array(eowner)),
            "event_ts": _ts(ets),
            "event_type": pa.array(np.array(EVENT_TYPES, dtype=object)[etype], pa.string()),
            "category": pa.array(np.array(CATEGORIES, dtype=object)[ecat], pa.string(), mask=no_cat),
        }
    )
    pq.write_table(events, root / "events.parquet")

    # Surveys: about 30% of customers answer once or twice; NPS and CSAT sometimes blank.
    n_surv = np.where(rng.random(n) < 0.3, rng.integers(1, 3, n), 0)
    sowner = np.repeat(np.arange(n), n_surv)
    s = len(sowner)
    sts = first_seen[sowner] + (rng.random(s) * (t1 - first_seen[sowner] - 1)).astype(np.int64)
    happy = rng.random(n) < 0.6
    nps = np.clip(np.where(happy[sowner], rng.integers(7, 11, s), rng.integers(0, 9, s)), 0, 10)
    csat = np.clip(np.where(happy[sowner], rng.integers(3, 6, s), rng.integers(1, 4, s)), 1, 5)
    surveys = pa.table(
        {
            "response_id": pa.array([f"V{i:07d}" for i in range(s)], pa.string()),
            "customer_id": ids.take(pa.array(sowner, pa.int64())),
            "survey_ts": _ts(sts),
            "nps": pa.array(nps, pa.int64(), mask=rng.random(s) < 0.1),
            "csat": pa.array(csat, pa.int64(), mask=rng.random(s) < 0.1),
        }
    )
    pq.write_table(surveys, root / "surveys.parquet")

    assigned = rng.random(n) < 0.3
    aidx = np.flatnonzero(assigned)
    assignments = pa.table(
        {
            "experiment_id": pa.array(["exp_retention_coupon"] * len(aidx), pa.string()),
            "customer_id": ids.take(pa.array(aidx, pa.int64())),
            "variant": pa.array(np.where(rng.random(len(aidx)) < 0.5, "control", "coupon"), pa.string()),
            "assigned_ts": _ts(np.full(len(aidx), np.datetime64("2026-08-01", "s").astype(np.int64))),
            "unit_type": pa.array(["member"] * len(aidx), pa.string()),
            "unit_id_hash": pa.array([f"h{i:012x}" for i in aidx], pa.string()),
        }
    )
    pq.write_table(assignments, root / "assignments.parquet")
    return root


def _ts(seconds: np.ndarray) -> pa.Array:
    """Epoch seconds as a naive microsecond timestamp column."""
    return pa.array(np.asarray(seconds, dtype=np.int64).astype("datetime64[s]").astype("datetime64[us]"))


# --------------------------------------------------------------------------- 1b. Company-shape warehouses
#
# Warehouses of the company shapes the profile and churn tests run on, derived from
# ``make_warehouse`` by dropping or rewriting its tables as a company's exports would leave
# them (an older ingest wrote a missing optional column as a column of typeless nulls):
# - ``orders_only``: customers and orders only (no events, surveys or assignments files);
#   orders without discount (typeless nulls), category, items and payment method; every
#   order time a date only (``has_time`` false, stamped 00:00); customers without gender,
#   birth year, membership or city.
# - ``other_vocabulary``: events named ``login``, ``search``, ``share``, ``complaint`` (no
#   ``visit``, ``view`` or ``add_to_cart``) and a surveys table with no rows.
# - the demo shape is ``make_warehouse`` itself.
# ``write_tag_project`` puts a config pointing at such a warehouse around it.

VOCABULARY = {"visit": "login", "view": "search", "search": "search", "add_to_cart": "share", "coupon_claim": "complaint"}


def _nulls(table: pa.Table, columns: tuple[str, ...]) -> pa.Table:
    """``table`` with ``columns`` replaced by typeless nulls, as ingest writes absent optional columns."""
    for name in columns:
        table = table.set_column(table.schema.get_field_index(name), name, pa.nulls(len(table)))
    return table


def orders_only(root: Path, n_customers: int = 1500, seed: int = 3, **world: object) -> Path:
    """A customers + orders warehouse of date-only orders without optional columns."""
    make_warehouse(root, n_customers=n_customers, seed=seed, **world)
    for table in ("events", "surveys", "assignments"):
        (root / f"{table}.parquet").unlink()
    orders = pq.read_table(root / "orders.parquet")
    orders = _nulls(orders, ("discount",)).drop_columns(["category", "items", "payment_method"])
    midnight = pc.floor_temporal(orders["order_ts"], unit="day")
    orders = orders.set_column(orders.schema.get_field_index("order_ts"), "order_ts", midnight)
    orders = orders.append_column("has_time", pa.array([False] * len(orders)))
    pq.write_table(orders, root / "orders.parquet")
    customers = _nulls(pq.read_table(root / "customers.parquet"), ("member_since", "gender", "birth_year", "city", "city_tier"))
    pq.write_table(customers, root / "customers.parquet")
    return root


def other_vocabulary(root: Path, n_customers: int = 1500, seed: int = 3, **world: object) -> Path:
    """The demo warehouse with another event vocabulary and an empty surveys table."""
    make_warehouse(root, n_customers=n_customers, seed=seed, **world)
    events = pq.read_table(root / "events.parquet")
    renamed = [VOCABULARY[value] for value in events["event_type"].to_pylist()]
    events = events.set_column(events.schema.get_field_index("event_type"), "event_type", pa.array(renamed, pa.string()))
    pq.write_table(events, root / "events.parquet")
    surveys = pq.read_table(root / "surveys.parquet")
    pq.write_table(surveys.slice(0, 0), root / "surveys.parquet")
    return root


def write_tag_project(root: Path, build) -> Path:
    """A project folder ``root``: the warehouse ``build(root / "wh")`` writes and a config
    pointing at it with the project's tag file; returns ``root``."""
    build(root / "wh")
    (root / "config").mkdir()
    (root / "config" / "kit.yml").write_text(
        f"paths:\n  warehouse: wh\n  reports: reports\nfeatures:\n  tags_file: {PROJECT_ROOT / 'config' / 'tags.yml'}\n",
        encoding="utf-8",
    )
    return root


# --------------------------------------------------------------------------- 2. Profile frames
#
# Synthetic customer profile frames for the segmentation tests (docs/data_contract.md, §3).
#
# ``make_profile(n, seed, month)`` returns ``(profile, groups)``: a frame shaped like
# ``kit.profile.features.build_features`` output (one row per customer, the columns kit.segments.pipeline,
# kit.segments.personas and kit.segments.movement read) and the latent group of every row. Four clear groups
# drive channels, categories, discounts, spend, frequency, recency and age, so clustering has
# a known answer:
#
# 0 app bargain hunters   app, high discount share, beauty/apparel, young, many small orders
# 1 loyal store spenders  store, no discounts, home/grocery, older, frequent and expensive
# 2 online gift buyers    web, electronics, rare large orders, mid age
# 3 lapsed sports fans    app/web mix, sports, few orders long ago
#
# About 5% of customers never ordered (``has_ordered`` false, RFM fields NaN / 0).
# Vectorised numpy; fine up to 1,000,000 rows for timing by hand.

GROUPS = ("app bargain hunters", "loyal store spenders", "online gift buyers", "lapsed sports fans")

# per group: channel weights (online, app, store), category weights, discount share mean,
# orders per year, order value (yuan), mean days since last order, age mean
_CHANNEL = np.array([[0.15, 0.8, 0.05], [0.05, 0.1, 0.85], [0.85, 0.1, 0.05], [0.45, 0.45, 0.1]])
_CATEGORY = np.array(
    [
        [0.4, 0.4, 0.05, 0.05, 0.05, 0.05],
        [0.05, 0.05, 0.05, 0.45, 0.35, 0.05],
        [0.1, 0.05, 0.65, 0.05, 0.1, 0.05],
        [0.1, 0.05, 0.05, 0.05, 0.05, 0.7],
    ]
)
_DISCOUNT = np.array([0.55, 0.03, 0.1, 0.2])
_RATE = np.array([10.0, 14.0, 1.5, 2.0])
_AOV = np.array([60.0, 400.0, 1500.0, 150.0])
_RECENCY = np.array([25.0, 15.0, 120.0, 330.0])
_AGE = np.array([24.0, 52.0, 38.0, 30.0])


def make_profile(n: int = 2000, seed: int = 0, month: str = "2026-10") -> tuple[pd.DataFrame, np.ndarray]:
    """A profile frame of ``n`` customers as of ``month`` and each customer's latent group."""
    rng = np.random.default_rng(seed)
    snap = snapshot_date(month)
    group = rng.choice(len(GROUPS), n, p=[0.35, 0.2, 0.25, 0.2])
    ordered = rng.random(n) > 0.05

    tenure = rng.integers(30, 900, n).astype(float)
    recency = np.minimum(rng.exponential(_RECENCY[group]), tenure - 1).round()
    first_age = np.maximum(tenure - rng.integers(0, 30, n), recency)
    years = np.maximum(first_age, 30) / 365.0
    freq_all = 1 + rng.poisson(_RATE[group] * years * rng.gamma(4.0, 0.25, n))
    aov = _AOV[group] * rng.lognormal(0, 0.3, n)
    monetary_all = freq_all * aov
    active_share = np.clip(365 / np.maximum(first_age, 365), 0, 1) * (recency < 365)
    freq_365 = np.minimum(freq_all, rng.binomial(freq_all, active_share))
    freq_365 = np.where((recency < 365) & (freq_365 == 0), 1, freq_365)
    freq_90 = np.minimum(freq_365, rng.binomial(freq_365, 0.3) + (recency < 90))
    freq_30 = np.minimum(freq_90, rng.binomial(freq_90, 0.35) + (recency < 30))

    channels = _dirichlet_rows(rng, _CHANNEL[group] * 20)
    categories = _dirichlet_rows(rng, _CATEGORY[group] * 15)
    discount = np.clip(rng.normal(_DISCOUNT[group], 0.08), 0, 1)
    age = np.clip(rng.normal(_AGE[group], 6), 18, 80).round()
    visits_90 = rng.poisson(np.where(channels[:, 1] > 0.5, 25, 4) * (recency < 120) + 1)

    def when_ordered(values: np.ndarray, fill: float = np.nan) -> np.ndarray:
        return np.where(ordered, values, fill)

    frame = pd.DataFrame(
        {
            "customer_id": [f"C{i:010x}" for i in range(n)],
            "snapshot_date": snap,
            "tenure_days": tenure,
            "has_ordered": ordered,
            "first_order_date": pd.to_datetime(np.where(ordered, snap - pd.to_timedelta(first_age, "D"), pd.NaT)),
            "last_order_date": pd.to_datetime(np.where(ordered, snap - pd.to_timedelta(recency, "D"), pd.NaT)),
            "recency_days": when_ordered(recency),
            "frequency_30d": when_ordered(freq_30, 0).astype("int64"),
            "frequency_90d": when_ordered(freq_90, 0).astype("int64"),
            "frequency_365d": when_ordered(freq_365, 0).astype("int64"),
            "frequency_all": when_ordered(freq_all, 0).astype("int64"),
            "monetary_30d": when_ordered(freq_30 * aov, 0.0),
            "monetary_90d": when_ordered(freq_90 * aov, 0.0),
            "monetary_365d": when_ordered(freq_365 * aov, 0.0),
            "monetary_all": when_ordered(monetary_all, 0.0),
            "aov_all": when_ordered(aov),
            "interpurchase_days": when_ordered(np.where(freq_all > 1, first_age / np.maximum(freq_all - 1, 1), np.nan)),
            "order_trend_90d": when_ordered(rng.normal(0, 1, n)),
            "spend_trend_90d": when_ordered(rng.normal(0, 1, n)),
        }
    )
    for j, cat in enumerate(CATEGORIES):
        frame[f"cat_share_{cat}"] = when_ordered(categories[:, j], 0.0)
    frame["favourite_category"] = pd.array(
        np.where(ordered, np.array(CATEGORIES, dtype=object)[categories.argmax(1)], None), dtype="str"
    )
    for j, chan in enumerate(CHANNELS):
        frame[f"channel_share_{chan}"] = when_ordered(channels[:, j], 0.0)
    frame["main_channel"] = pd.array(
        np.where(ordered, np.array(CHANNELS, dtype=object)[channels.argmax(1)], None), dtype="str"
    )
    frame["discount_share"] = when_ordered(discount, 0.0)
    frame["main_payment_method"] = pd.array(rng.choice(["alipay", "wechat_pay", "card"], n), dtype="str")
    frame["preferred_weekday"] = rng.integers(0, 7, n)
    frame["preferred_hour"] = rng.integers(8, 23, n)
    frame["visits_30d"] = rng.binomial(visits_90, 0.35)
    frame["visits_90d"] = visits_90
    frame["visits_prev_90d"] = rng.poisson(visits_90 + 1)
    frame["visit_trend_90d"] = (visits_90 - frame["visits_prev_90d"]) / np.maximum(frame["visits_prev_90d"], 1)
    frame["views_90d"] = rng.poisson(visits_90 * 3)
    frame["add_to_cart_90d"] = rng.poisson(visits_90 * 0.5)
    frame["cart_abandonment_rate_90d"] = rng.beta(2, 3, n)
    frame["days_since_last_visit"] = np.where(visits_90 > 0, rng.integers(0, 90, n), np.nan)
    frame["last_nps"] = np.where(rng.random(n) < 0.4, rng.integers(0, 11, n), np.nan)
    frame["avg_csat"] = np.where(rng.random(n) < 0.4, rng.uniform(1, 5, n), np.nan)
    frame["low_score_count"] = rng.poisson(0.2, n)
    frame["age"] = np.where(rng.random(n) < 0.08, np.nan, age)
    frame["age_band"] = pd.array(
        pd.cut(frame["age"], [0, 25, 35, 45, 55, 120], labels=["18-25", "26-35", "36-45", "46-55", "56+"]).astype(object),
        dtype="str",
    )
    frame["gender"] = pd.array(rng.choice(["female", "male"], n), dtype="str")
    frame["city"] = pd.array(rng.choice(["上海", "北京", "成都", "洛阳"], n), dtype="str")
    frame["city_tier"] = rng.integers(1, 5, n)
    return frame, group


def _dirichlet_rows(rng: np.random.Generator, alpha: np.ndarray) -> np.ndarray:
    """One Dirichlet draw per row of ``alpha`` (vectorised through gamma draws)."""
    draws = rng.gamma(alpha)
    return draws / draws.sum(axis=1, keepdims=True)


# --------------------------------------------------------------------------- 3. The tiny raw world
#
# A tiny hand-written raw world for the ingest tests (docs/data_contract.md, section 1).
#
# ``write_tiny_world(root)`` writes the seven raw demo files under
# ``root/data/raw/demo/`` with known people, known defects and their expected outcome,
# plus ``root/config/kit.yml`` (the project's config with a low over-share threshold), and
# returns the config path. ``TRUTH`` maps every record id to its true person.
#
# People: P1 is everywhere (CRM, shop, POS, app, survey) under differently written phones
# and e-mails; P2 is a member with a shop account; P3..P7 are walk-in shoppers whose POS
# receipts carry the store's walk-in number 13800000000, which P3 also typed into the app
# (5 records, one account: over-shared because the tiny world's thresholds are 3 accounts,
# 3 orphan records and 4 records in all). Defects: one exact duplicate shop row, one re-sent shop order
# (paid, then refunded), one negative amount without refund, one text amount, one bad date,
# mixed CRM date formats, one app event and one assignment of an unknown user, one NPS 11.

WALK_IN = "13800000000"

CRM = [
    ["会员编号", "姓名", "手机号", "邮箱", "性别", "出生日期", "城市", "注册日期", "注册渠道"],
    ["M00000001", "张三", "138 0013 8001", "p1@example.com", "男", "1990年5月3日", "上海", "2024-01-05", "门店"],
    ["M00000002", "李四", "+86 139-0013-9002", " P2@Example.COM ", "女", "1985/12/1", "成都", "2024/2/1", "线上商城"],
    ["M00000008", "王五", "12345", "not-an-email", "", "bad date", "洛阳", "2024年3月9日", "APP"],
]
SHOP = [
    ["order_id", "shop_user_id", "phone", "order_time", "platform", "amount", "discount", "category", "items", "payment_method", "status"],
    ["S1", "U1", "+86-13800138001", "2024-03-01 10:00:00", "web", "128.50", "10", "beauty", "2", "alipay", "paid"],
    ["S1", "U1", "+86-13800138001", "2024-03-01 10:00:00", "web", "128.50", "10", "beauty", "2", "alipay", "paid"],
    ["S2", "U2", "13900139002", "2024-03-02 11:00:00", "app", "99.00", "0", "home", "1", "wechat_pay", "paid"],
    ["S3", "U1", "", "2024-04-01 09:30:00", "mini_program", "-20.00", "0", "food", "1", "alipay", "paid"],
    ["S4", "U2", "13900139002", "2024-04-02 12:00:00", "web", "12x", "0", "home", "1", "card", "paid"],
    ["S5", "U2", "13900139002", "2024-13-40 12:00:00", "web", "50", "0", "home", "1", "card", "paid"],
    ["S2", "U2", "13900139002", "2024-03-02 11:00:00", "app", "-99.00", "0", "home", "1", "wechat_pay", "refunded"],
]
POS = [
    ["receipt_id", "phone", "store_city", "amount", "category", "paid_at", "payment_method"],
    ["R1", "0086 13800138001", "上海", "30", "food", "05/03/2024 14:20", "cod"],
    ["R2", WALK_IN, "上海", "40", "food", "06/03/2024 15:00", "cod"],
    ["R3", WALK_IN, "上海", "41", "food", "06/03/2024 15:05", "card"],
    ["R4", WALK_IN, "成都", "42", "apparel", "07/03/2024 10:00", "cod"],
    ["R5", WALK_IN, "成都", "43", "apparel", "08/03/2024 10:00", "cod"],
    ["R6", "", "洛阳", "44", "books", "09/03/2024 10:00", "card"],
]
APP = [
    ["app_user_id", "phone", "email", "registered_at"],
    ["A1", "", "  P1@Example.com", "2024-01-10T08:00:00"],
    ["A3", WALK_IN, "p3@example.com", "2024-02-10T08:00:00"],
]
SURVEYS = [
    ["response_id", "member_id", "phone", "submitted_at", "nps", "csat"],
    ["V1", "M00000001", "", "2024-05-01 10:00", "9", "5"],
    ["V2", "", "139 0013 9002", "2024-05-02 10:00", "", "4"],
    ["V3", "", "", "2024-05-03 10:00", "11", "3"],
]
ASSIGNMENTS = [
    ["experiment_id", "unit_type", "unit_id", "variant", "assigned_at"],
    ["exp1", "member", "M00000001", "control", "2024-06-01 00:00:00"],
    ["exp1", "app_user", "A3", "coupon", "2024-06-01 00:00:00"],
    ["exp1", "member", "M99999999", "coupon", "2024-06-01 00:00:00"],
]
EVENTS = pd.DataFrame(
    {
        "app_user_id": ["A1", "A1", "A3", "A99"],
        "event_time": pd.to_datetime(["2024-03-01 09:00", "2024-03-01 09:05", "2024-03-02 10:00", "2024-03-03 10:00"]),
        "event_type": ["visit", "view", "add_to_cart", "visit"],
        "category": [None, "beauty", "food", None],
    }
)
TRUTH = pd.DataFrame(
    [
        ("crm", "M00000001", "P1"), ("crm", "M00000002", "P2"), ("crm", "M00000008", "P8"),
        ("shop", "U1", "P1"), ("shop", "U2", "P2"),
        ("pos", "R1", "P1"), ("pos", "R2", "P3"), ("pos", "R3", "P4"), ("pos", "R4", "P5"),
        ("pos", "R5", "P6"), ("pos", "R6", "P7"),
        ("app", "A1", "P1"), ("app", "A3", "P3"),
        ("survey", "V1", "P1"), ("survey", "V2", "P2"), ("survey", "V3", "P9"),
    ],
    columns=["source", "source_id", "person_id"],
)


def csv_bytes(rows: list[list[str]], encoding: str) -> bytes:
    """Rows as CSV text in ``encoding`` (``utf-8-sig`` writes the BOM)."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue().encode(encoding)


def write_tiny_world(root: Path, threshold: int = 3) -> Path:
    """Write the raw files and a config under ``root``; return the config path."""
    raw = root / "data" / "raw" / "demo"
    raw.mkdir(parents=True, exist_ok=True)
    (raw / "crm_members.csv").write_bytes(csv_bytes(CRM, "gb18030"))
    (raw / "shop_orders.csv").write_bytes(csv_bytes(SHOP, "utf-8"))
    (raw / "pos_orders.csv").write_bytes(csv_bytes(POS, "utf-8-sig"))
    (raw / "app_users.csv").write_bytes(csv_bytes(APP, "utf-8"))
    (raw / "surveys.csv").write_bytes(csv_bytes(SURVEYS, "utf-8"))
    (raw / "assignments.csv").write_bytes(csv_bytes(ASSIGNMENTS, "utf-8"))
    EVENTS.to_parquet(raw / "app_events.parquet", index=False)
    identity = {"overshared_threshold": threshold, "overshared_orphan_threshold": threshold, "overshared_total_threshold": threshold + 1}
    return write_config(root, {"identity": identity})


def write_config(root: Path, changes: dict) -> Path:
    """``root/config/kit.yml``: the project config with ``changes`` merged per section.

    ``sources`` is replaced as a whole, other sections are merged key by key.
    """
    data = yaml.safe_load(DEFAULT_CONFIG.read_text(encoding="utf-8"))
    for section, values in changes.items():
        if section != "sources" and isinstance(values, dict) and isinstance(data.get(section), dict):
            data[section] = {**data[section], **values}
        else:
            data[section] = values
    folder = root / "config"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "kit.yml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


# --------------------------------------------------------------------------- 4. Demo worlds and company shapes
#
# Worlds from the demo generator (kit.demo), run through the real notebooks by background
# processes (``python tests/worlds.py demo-months|shapes ROOT``, see ``BackgroundBuild``)
# that start with the first test needing them, so the notebook kernels run while the unit
# and integration tests do. Each stage of a build ends with ``<stage>.done`` or
# ``<stage>.failed`` (holding the traceback) under the build's root.
#
# The demo months (``build_demo_months``, ``DemoMonths``), shared by the e2e tests:
# - ``published``: a 2,500-person world (seed 11) published for 2026-09 in Chinese, then
#   2026-10 in English (October has a previous month to compare with);
# - ``interactive``: then every notebook run by hand (headless=False, no run_dir: how
#   JupyterLab runs it) for 2026-10 in Chinese, with the checksums of the published month,
#   the warehouse and the tracked notebooks before and after;
# - ``shuffled``: the same raw files with their rows shuffled, in a fresh project, 2026-09
#   in English: the determinism tests compare it with the published 2026-09 (Chinese).
#
# The company shapes (``build_shape_runs``, ``ShapeRuns``; kit.demo.shapes): one stage per
# shape, each written into its own project folder and run with ``kit run --month
# SHAPE_MONTH --config <folder>/kit.yml`` (tests/e2e/test_shapes.py).
#
# Every project uses the same identity key (``DEMO_KEY``), so customer ids are comparable.

DEMO_KEY = "determinism-test-identity-key-0123456789abcdef"
DEMO_CUSTOMERS = 2500
DEMO_SEED = 11
DEMO_MONTHS = {"2026-09": "zh", "2026-10": "en"}
INTERACTIVE = {"month": "2026-10", "lang": "zh"}
SHUFFLED = {"month": "2026-09", "lang": "en", "seed": 3}
STAGES = ("published", "interactive", "shuffled")


def shuffle_raw(folder: Path, seed: int) -> None:
    """Shuffle the data rows of every raw CSV and Parquet file in ``folder`` in place.

    CSV lines move in blocks of equal first field (the record id, or the experiment of an
    assignment) that keep their inner order: a record sent twice keeps its later version
    later, which is what the file order means (ingest keeps the latest version).
    """
    rng = np.random.default_rng(seed)
    for file in sorted(folder.glob("*.csv")):
        header, *lines = file.read_bytes().rstrip(b"\n").split(b"\n")
        assert all(line.count(b'"') % 2 == 0 for line in lines), f"{file.name}: a quoted line break; shuffle records instead"
        first = pd.Series([line.split(b",", 1)[0] for line in lines])
        codes = pd.factorize(first)[0]
        order = np.argsort(rng.permutation(codes.max() + 1)[codes], kind="stable")
        file.write_bytes(b"\n".join([header, *(lines[i] for i in order)]) + b"\n")
    for file in sorted(folder.glob("*.parquet")):
        table = pq.read_table(file)
        pq.write_table(table.take(rng.permutation(table.num_rows)), file)


def checksums(*folders: Path) -> dict[str, str]:
    """SHA-256 of every file below ``folders``, by path."""
    return {
        str(file): hashlib.sha256(file.read_bytes()).hexdigest()
        for folder in folders
        for file in sorted(folder.rglob("*"))
        if file.is_file()
    }


def demo_world(root: Path, shuffle_seed: int | None = None) -> KitConfig:
    """The demo raw files (``DEMO_CUSTOMERS``, ``DEMO_SEED``) in a fresh project under ``root``."""
    from kit.bench.stages import world_config
    from kit.core.config import load_config
    from kit.demo import generate

    base = load_config()
    config = world_config(base, root)
    raw = config.resolve(config.paths.raw)
    generate(raw, customers=DEMO_CUSTOMERS, seed=DEMO_SEED, end_month=base.run.month)
    if shuffle_seed is not None:
        shuffle_raw(raw, seed=shuffle_seed)
    return config


def publish(config: KitConfig, month: str, lang: str) -> None:
    """``kit.runner.run_month`` for ``month`` in ``lang``; raises with its output when it fails."""
    from kit.runner import run_month

    lines: list[str] = []
    run_config = dataclasses.replace(config, run=dataclasses.replace(config.run, lang=lang))
    result = run_month(run_config, month, echo=lines.append)
    if not result.ok:
        raise RuntimeError(f"run of {month} ({lang}) failed:\n" + "\n".join(lines))


# The cell timeout of the by-hand runs: twice the slowest cell measured under a loaded suite
# (05_churn's first, about 60 s). It also bounds a stall seen since ipykernel 7: now and then the
# client's wait for a widget cell's reply does not wake although the kernel replied and sits idle;
# at the timeout nbclient looks again, finds the reply and goes on (the cell shows as completed
# after exactly this many seconds). Where the reply really is missing, the run times out and the
# notebook runs once more (jupyter/nbclient#312).
BY_HAND_CELL_SECONDS = 120


def run_by_hand(config: KitConfig, out: Path) -> dict[str, dict[str, str]]:
    """Every notebook as JupyterLab runs it, after the month was published; the checksums
    of the published reports, the warehouse and the tracked notebooks before and after."""
    import papermill
    from nbclient.exceptions import CellTimeoutError

    notebooks = config.resolve(config.paths.notebooks)
    watched = [config.resolve(config.paths.reports), config.resolve(config.paths.warehouse), notebooks]
    before = checksums(*watched)
    out.mkdir(parents=True, exist_ok=True)
    for name in config.run.notebooks:
        for attempt in (1, 2):
            try:
                papermill.execute_notebook(
                    str(notebooks / f"{name}.ipynb"),
                    str(out / f"{name}.ipynb"),
                    parameters={**INTERACTIVE, "config_path": str(config.source_file), "headless": False},
                    cwd=str(notebooks),
                    progress_bar=False,
                    execution_timeout=BY_HAND_CELL_SECONDS,
                )
                break
            except CellTimeoutError:  # a lost reply (see BY_HAND_CELL_SECONDS): once more, then fail
                if attempt == 2:
                    raise
                print(f"[interactive] {name}: a cell timed out after {BY_HAND_CELL_SECONDS} s; running it again", flush=True)
    return {"before": before, "after": checksums(*watched)}


def build_stage(root: Path, name: str, build: Callable[[Path], object]) -> bool:
    """Run ``build(root / name)``; mark it ``<name>.done``, or ``<name>.failed`` holding the
    traceback; return whether it succeeded."""
    import traceback

    started = time.perf_counter()
    print(f"[{name}] started", flush=True)
    try:
        build(root / name)
    except BaseException:
        traceback.print_exc()
        (root / f"{name}.failed").write_text(traceback.format_exc(), encoding="utf-8")
        return False
    print(f"[{name}] done in {time.perf_counter() - started:.0f} s", flush=True)
    (root / f"{name}.done").touch()
    return True


def build_demo_months(root: Path) -> None:
    """Build every demo stage under ``root/<stage>`` (``build_stage``)."""
    from kit.core.config import load_config

    def published(folder: Path) -> None:
        config = demo_world(folder)
        for month, lang in DEMO_MONTHS.items():
            publish(config, month, lang)

    def interactive(folder: Path) -> None:
        sums = run_by_hand(load_config(root / "published" / "kit.yml"), folder)
        (folder / "checksums.json").write_text(json.dumps(sums), encoding="utf-8")

    def shuffled(folder: Path) -> None:
        publish(demo_world(folder, shuffle_seed=SHUFFLED["seed"]), SHUFFLED["month"], SHUFFLED["lang"])

    if build_stage(root, "published", published):
        build_stage(root, "interactive", interactive)
    else:
        (root / "interactive.failed").write_text("not run: the published stage failed", encoding="utf-8")
    build_stage(root, "shuffled", shuffled)


# Company shapes: people simulated per shape (the membership store keeps only its members,
# about half), the seed, and the month run (the last month of every shape's data).
SHAPE_CUSTOMERS = {"orders_only": 2500, "member_store": 5000, "app_events": 2500, "us_store": 2500, "subscription_app": 2500}
SHAPE_SEED = 5
SHAPE_MONTH = "2026-10"


def run_shape(name: str, folder: Path) -> Path:
    """Write shape ``name`` into ``folder`` and run ``kit run --month SHAPE_MONTH --config
    <folder>/kit.yml``; return the config path, or raise with the run's output when it fails.
    The run's wall time goes to ``<folder>/run_seconds.txt``."""
    import contextlib

    from kit.cli import main
    from kit.demo.shapes import write_shape

    config = write_shape(name, folder, customers=SHAPE_CUSTOMERS[name], seed=SHAPE_SEED)
    output = io.StringIO()
    started = time.perf_counter()
    with contextlib.redirect_stdout(output), contextlib.redirect_stderr(output):
        code = main(["run", "--month", SHAPE_MONTH, "--config", str(config)])
    (folder / "run_seconds.txt").write_text(f"{time.perf_counter() - started:.1f}\n", encoding="utf-8")
    if code != 0:
        raise RuntimeError(f"kit run of shape {name} exited with {code}:\n{output.getvalue()}")
    return config


def build_shape_runs(root: Path) -> None:
    """Build and run every company shape under ``root/<shape>`` (``build_stage``)."""
    from kit.demo.shapes import OWN_WORLDS, SHAPES

    for name in [*SHAPES, *OWN_WORLDS]:
        build_stage(root, name, lambda folder, name=name: run_shape(name, folder))


class BackgroundBuild:
    """The stages of ``python tests/worlds.py COMMAND ROOT``, built by a background process."""

    command = ""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.process: subprocess.Popen | None = None
        self.log = self.root / "build.log"

    def start(self) -> None:
        from kit.core.config import load_config

        env = {**os.environ, load_config().identity.key_env: DEMO_KEY}
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, str(Path(__file__).resolve()), self.command, str(self.root)],
                stdout=log, stderr=subprocess.STDOUT, env=env, cwd=PROJECT_ROOT,
            )

    def wait(self, *stages: str) -> None:
        """Wait until ``stages`` ended; raise with the stage's traceback (or the build
        output, when the process died) when one failed."""
        if self.process is None:
            self.start()
        pending = list(stages)
        while pending:
            name = pending[0]
            failed = self.root / f"{name}.failed"
            if (self.root / f"{name}.done").exists():
                pending.pop(0)
            elif failed.exists():
                raise RuntimeError(f"{self.command}: stage {name} failed:\n{failed.read_text(errors='replace')[-20000:]}")
            elif self.process.poll() is not None:
                raise RuntimeError(f"{self.command}: the build ended before {name}:\n{self.log.read_text(errors='replace')[-20000:]}")
            else:
                time.sleep(0.5)

    def ended(self, name: str) -> bool:
        return (self.root / f"{name}.done").exists() or (self.root / f"{name}.failed").exists()

    def stop(self) -> None:
        """End the build process (only when a test run stops before it finished)."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class DemoMonths(BackgroundBuild):
    """The demo months of ``build_demo_months``."""

    command = "demo-months"


class ShapeRuns(BackgroundBuild):
    """The company shapes of ``build_shape_runs``, each run for ``SHAPE_MONTH``."""

    command = "shapes"


# --------------------------------------------------------------------------- 5. Bench stand-in stages
#
# Stand-in stage functions for tests/e2e/test_bench.py (imported by the spawned stage processes).

def fake_world(out_dir: Path, customers: int, seed: int, end_month: str) -> None:
    """Write the one file the harness looks for, with the generator's parameters."""
    truth = Path(out_dir) / "_truth"
    truth.mkdir(parents=True, exist_ok=True)
    (truth / "config.json").write_text(json.dumps({"customers": customers, "seed": seed, "end_month": end_month}))


def allocate(config: KitConfig) -> dict[str, object]:
    """Touch 200 MB so the stage's peak memory is clearly above a bare interpreter's; report
    what was touched (the harness keeps the scalar entries as the stage's details)."""
    block = bytearray(200 * 1024 * 1024)
    block[:: 4096] = b"x" * len(block[:: 4096])
    return {"touched_mb": 200, "pages": [4096]}


BUILDS = {DemoMonths.command: build_demo_months, ShapeRuns.command: build_shape_runs}

if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in BUILDS:
        sys.exit(f"usage: python tests/worlds.py {'|'.join(BUILDS)} ROOT")
    Path(sys.argv[2]).mkdir(parents=True, exist_ok=True)
    BUILDS[sys.argv[1]](Path(sys.argv[2]))


def link_identity_sources(con, config: KitConfig, key) -> tuple[dict, dict]:
    """Clean every identity source of ``config`` into ``con`` with ingest's own code (key
    ``key``: kit.ingest.identity.IdentityKey, already in use on ``con``) and build the
    identity links (``id_records``, ``id_links``); returns (sources, cleaned columns) by
    source name, for tests that check ingest's identity steps against the demo truth."""
    import tempfile

    from kit.ingest.clean import clean_source
    from kit.ingest.identity import build_links
    from kit.ingest.kinds import ROW_ID
    from kit.ingest.sources import load_source

    sources, columns = {}, {}
    with tempfile.TemporaryDirectory() as scratch:
        for name, source in config.sources.items():
            if source.kind in ROW_ID:
                stats = clean_source(con, load_source(con, config, name, source, Path(scratch)), config, key)
                sources[name], columns[name] = source, stats.columns
        build_links(con, sources, columns, config.identity)
    return sources, columns
