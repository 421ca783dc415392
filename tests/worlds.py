"""A small, realistic canonical warehouse for tests (docs/data_contract.md, section 2).

``make_warehouse(tmp_path, n_customers=2000, seed=0)`` writes the six canonical tables
(customers, identities, orders, events, surveys, assignments) as Parquet into ``tmp_path``
and returns that folder, ready for ``kit.warehouse.Warehouse(tmp_path)``. Everything is
vectorised numpy + pyarrow (no loop per customer), so the same builder also produces the
1,000,000-customer world used to time ``kit.features`` by hand.

The world: customers first seen between ``start`` and ``end``; each buys at a personal
Poisson rate with persona-like habits (favourite category and channel, discount taste,
weekend/night shoppers), browses an app (visits, views, add-to-cart), and some answer
surveys. About 5% of orders are refunded (status ``refunded``, ``is_refund`` true). No
row is dated on or after ``end`` so tests can plant "future" rows themselves.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

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
