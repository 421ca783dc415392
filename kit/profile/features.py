"""Customer features as of a snapshot: one row per customer, nothing from the future.

``build_features(wh, month, config)`` reads the canonical warehouse tables through Ibis
(DuckDB by default, any Ibis backend in principle), keeps only rows dated strictly before
``kit.core.dates.snapshot_end(month)``, aggregates orders, events and surveys to customer grain
in one expression and brings the result to pandas once (after a small query listing the
categories and payment methods to pivot on). Ratios, day counts and bands are then derived
column-wise in pandas at customer grain. Rows come sorted by ``customer_id``.
``reference_aggregation`` writes the same aggregates by hand in one DuckDB query, for
comparison (measured: docs/decisions/0006-features-through-ibis.md).

Definitions (also in ``FEATURES`` in English and Chinese):
- An *order* counts when it is not a refund (``is_refund`` false). A refunded order is the
  original order row marked ``status = refunded``, so net spend (``monetary_*``) is the
  sum of the amounts of non-refunded orders: paid minus refunded.
- Day counts are measured to ``snapshot_end`` (midnight after the month's last day).
- Trends compare the last 90 days with the 90 before: ``(last - prev) / max(prev, 1)``;
  the floor of 1 keeps a customer going from 0 to 2 orders at +2.0 instead of infinite.
- ``cart_abandonment_rate_90d`` = ``1 - digital orders / add-to-cart events`` in the last
  90 days, clipped to [0, 1]; NaN without add-to-cart events. A cart-level match (each
  add-to-cart followed by an order within N days) needs a row-level join of events to
  orders; the bounded ratio gives the same ordering of customers at a fraction of the cost.
- ``days_since_last_visit`` uses the latest app/web event of any type (a view or a search
  is a visit too).
- Modes (favourite category, main channel, payment method, weekday, hour) break ties
  towards the first value in a fixed order (alphabetical for categories and payment
  methods; online, app, store for channels; earliest weekday and hour), so results are
  deterministic.
- Category and channel shares are shares of orders (not of spend).
- Hour features (``preferred_hour``, ``night_share``) count only orders whose time carries
  a time of day (``has_time``; a warehouse without that column is taken as timed), so a
  date-only export, stamped 00:00, makes nobody a night shopper; with no timed order at
  all they are not computed.

Absent inputs (kit.profile.needs): a feature whose input the warehouse lacks (no
surveys, no events, orders without discounts, categories, items, payment methods or
times of day, customers without birth years...) is left out of the table, not filled
with nulls or zeros; ``feature_plan(wh, config).skipped()`` says which and why. Absent or
empty events and surveys tables are not read at all. Event features follow the event
types in the data (kit.profile.events); the demo's visits, views and add-to-cart
features are built when those event types exist; the balance of negative and positive
events when the config names both kinds (``features.negative_events`` /
``positive_events``). A warehouse with subscriptions gets the subscription features
(kit.profile.subscriptions: tenure, MRR, plan, cancellation, count), point in time like
the rest.
"""

from __future__ import annotations

import re
from pathlib import Path

import ibis
import ibis.expr.operations as ops
import numpy as np
import pandas as pd

from kit.core.config import KitConfig
from kit.core.dates import snapshot_date, snapshot_end
from kit.core.vocabulary import Vocabulary, classify
from kit.core.warehouse import Warehouse
from kit.profile.events import (
    EventVocabulary,
    count_columns,
    event_vocabulary,
    relative_change,
)
from kit.profile.events import aggregates as event_aggregates
from kit.profile.events import features as event_features
from kit.profile.needs import FeaturePlan
from kit.profile.subscriptions import COUNT_COLUMNS as SUBSCRIPTION_COUNTS
from kit.profile.subscriptions import SUBSCRIPTION_FEATURES
from kit.profile.subscriptions import aggregates as subscription_aggregates
from kit.profile.subscriptions import features as subscription_features

CHANNELS = ("online", "app", "store")
AGE_BANDS = ("<25", "25-34", "35-44", "45-54", "55+")
NIGHT_HOURS = (22, 23, 0, 1, 2, 3, 4, 5)
CATEGORY_PREFIX = "cat_share_"
# The demo vocabulary's 90-day counts -> their event type (the same count as ev_<type>_90d).
LAST_90_DAYS = {"visits_90d": "visit", "views_90d": "view", "add_to_cart_90d": "add_to_cart"}

# name -> (dtype, English description, Chinese description)
FEATURES: dict[str, tuple[str, str, str]] = {
    "customer_id": ("text", "Unified customer id", "统一客户编号"),
    "snapshot_date": ("date", "Last day of the run month the features are as of", "画像快照日期（运行月份最后一天）"),
    "tenure_days": ("number", "Days since the customer was first seen", "首次出现至今的天数"),
    "is_member": ("bool", "Joined the membership programme before the snapshot", "快照前已成为会员"),
    "signup_channel": ("text", "Channel the customer signed up through", "注册渠道"),
    "has_ordered": ("bool", "Has at least one non-refunded order", "至少有一笔未退款订单"),
    "first_order_date": ("date", "Date of the first non-refunded order", "首单日期"),
    "last_order_date": ("date", "Date of the latest non-refunded order", "最近一单日期"),
    "days_since_first_order": ("number", "Days since the first order (empty if never ordered)", "距首单的天数（未下单为空）"),
    "recency_days": ("number", "Days since the latest order (empty if never ordered)", "距最近一单的天数（未下单为空）"),
    "frequency_30d": ("number", "Orders in the last 30 days", "近30天订单数"),
    "frequency_90d": ("number", "Orders in the last 90 days", "近90天订单数"),
    "frequency_365d": ("number", "Orders in the last 365 days", "近365天订单数"),
    "frequency_all": ("number", "Non-refunded orders, all time", "累计未退款订单数"),
    "monetary_30d": ("number", "Net spend in the last 30 days (yuan)", "近30天净消费额（元）"),
    "monetary_90d": ("number", "Net spend in the last 90 days (yuan)", "近90天净消费额（元）"),
    "monetary_365d": ("number", "Net spend in the last 365 days (yuan)", "近365天净消费额（元）"),
    "monetary_all": ("number", "Net spend, all time: paid minus refunded (yuan)", "累计净消费额：支付减退款（元）"),
    "aov_all": ("number", "Average order value (yuan)", "平均客单价（元）"),
    "avg_items": ("number", "Average items per order", "平均每单件数"),
    "interpurchase_days": ("number", "Mean days between orders (empty if fewer than 2)", "平均购买间隔天数（少于2单为空）"),
    "order_trend_90d": ("number", "Order count trend: last 90 days vs the 90 before", "订单趋势：近90天对比前90天"),
    "spend_trend_90d": ("number", "Spend trend: last 90 days vs the 90 before", "消费趋势：近90天对比前90天"),
    "refund_count_all": ("number", "Refunded orders, all time", "累计退款订单数"),
    "refund_rate": ("number", "Share of orders that were refunded", "退款订单占比"),
    "category_count": ("number", "Number of categories bought", "购买过的品类数"),
    "favourite_category": ("text", "Category with the most orders", "订单最多的品类（最爱品类）"),
    "channel_share_online": ("number", "Share of orders placed online (web)", "线上商城订单占比"),
    "channel_share_app": ("number", "Share of orders placed in the app", "APP订单占比"),
    "channel_share_store": ("number", "Share of orders placed in stores", "门店订单占比"),
    "main_channel": ("text", "Channel with the most orders", "主要购买渠道"),
    "discount_share": ("number", "Discount / (paid amount + discount)", "优惠占比：优惠 / (实付 + 优惠)"),
    "main_payment_method": ("text", "Most used payment method", "最常用支付方式"),
    "preferred_weekday": ("number", "Weekday with the most orders (0 = Monday)", "下单最多的星期（0 = 周一）"),
    "preferred_hour": ("number", "Hour of day with the most orders (0-23), over orders with a time of day", "下单最多的小时（0-23），仅统计带具体时间的订单"),
    "weekend_share": ("number", "Share of orders on Saturday or Sunday", "周末订单占比"),
    "night_share": ("number", "Share of orders between 22:00 and 06:00, among orders with a time of day", "夜间（22点至6点）订单占比，仅统计带具体时间的订单"),
    "visits_30d": ("number", "App/web visits in the last 30 days", "近30天访问次数"),
    "visits_90d": ("number", "App/web visits in the last 90 days", "近90天访问次数"),
    "visits_prev_90d": ("number", "Visits in the 90 days before the last 90", "前一个90天的访问次数"),
    "visit_trend_90d": ("number", "Visit trend: last 90 days vs the 90 before", "访问趋势：近90天对比前90天"),
    "views_90d": ("number", "Product views in the last 90 days", "近90天商品浏览次数"),
    "add_to_cart_90d": ("number", "Add-to-cart events in the last 90 days", "近90天加购次数"),
    "cart_abandonment_rate_90d": (
        "number",
        "1 - online/app orders / add-to-cart events, last 90 days, in [0, 1]",
        "近90天弃购率：1 - 线上/APP订单数 / 加购次数，取值0到1",
    ),
    "days_since_last_visit": ("number", "Days since the latest app/web event", "距最近一次访问的天数"),
    "event_days_28d": ("number", "Days with any app/web event in the last 28 days", "近28天有任何App/网页行为的天数"),
    "survey_count": ("number", "Survey responses", "问卷回复次数"),
    "last_nps": ("number", "Latest NPS answer (0-10)", "最近一次NPS评分（0-10）"),
    "avg_csat": ("number", "Average CSAT (1-5)", "平均满意度CSAT（1-5）"),
    "low_score_count": ("number", "Answers with NPS <= 6 or CSAT <= 2", "低分次数（NPS≤6或CSAT≤2）"),
    "age": ("number", "Age in years at the snapshot", "快照时年龄"),
    "age_band": ("text", "Age band: <25, 25-34, 35-44, 45-54, 55+", "年龄段：<25、25-34、35-44、45-54、55+"),
    "gender": ("text", "Gender (female / male)", "性别（female / male）"),
    "city": ("text", "City", "城市"),
    "city_tier": ("number", "City tier (1-4)", "城市等级（1-4）"),
    # the business vocabulary (kit.core.vocabulary), so tags use the words every page uses
    "lifecycle_stage": ("text", "Lifecycle stage: prospect, new, active, silent or churned", "生命周期阶段：潜在、新客、活跃、沉默或流失"),
    "is_active": ("bool", "Active customer: new or active stage", "活跃客户：新客或活跃阶段"),
    "value_tier": ("text", "Value tier by share of 365-day spend: high, medium or low", "价值层级（按近365天消费占比）：高、中、低"),
}
CATEGORY_SHARE_DOC = ("number", "Share of orders in category {category}", "{category}品类订单占比")


def category_column(category: str) -> str:
    """The feature name for a category's order share: ``cat_share_`` + a safe identifier."""
    slug = re.sub(r"\W+", "_", str(category).strip().lower()).strip("_")
    return CATEGORY_PREFIX + (slug or "unknown")


def describe(name: str, lang: str = "en", events: EventVocabulary | None = None) -> tuple[str, str]:
    """``(dtype, description)`` of a feature in ``lang`` (subscription features, category
    shares and event features included; ``events`` names the event types behind event
    columns, else their slugs show)."""
    event = (events or EventVocabulary()).describe(name, lang)
    if event is not None:
        return event
    if name in FEATURES or name in SUBSCRIPTION_FEATURES:
        dtype, en, zh = FEATURES.get(name) or SUBSCRIPTION_FEATURES[name]
        return dtype, zh if lang == "zh" else en
    if name.startswith(CATEGORY_PREFIX):
        dtype, en, zh = CATEGORY_SHARE_DOC
        category = name[len(CATEGORY_PREFIX) :]
        return dtype, (zh if lang == "zh" else en).format(category=category)
    raise KeyError(f"unknown feature {name!r}")


# --------------------------------------------------------------------------- building


def feature_plan(wh: Warehouse, config: KitConfig) -> FeaturePlan:
    """What ``build_features`` computes on ``wh`` (kit.profile.needs): its inputs, the event
    types with features, and whether ``features.city_tiers`` can fill city tiers.
    ``feature_plan(wh, config).skipped()`` lists the features left out and why."""
    inputs = wh.inputs()
    chosen = config.features
    vocabulary = event_vocabulary(
        inputs, wh.root, chosen.max_event_types, chosen.event_types, chosen.negative_events, chosen.positive_events
    )
    return FeaturePlan(inputs, vocabulary, bool(config.features.city_tiers))


def build_features(wh: Warehouse, month: str, config: KitConfig) -> pd.DataFrame:
    """One row per customer first seen before the snapshot, with every feature the
    warehouse's inputs allow (``feature_plan``): a feature whose input is absent is not a
    column at all, never a column of nulls.

    Customers are identified people (kit.core.vocabulary): anonymous store receipts are
    left out here, so no page built on the profile counts them.

    Only rows dated before ``snapshot_end(month)`` are read. Columns: ``customer_id``,
    ``snapshot_date``, the computed features in ``FEATURES`` order, the subscription
    features (kit.profile.subscriptions), the event features of each event type and the
    balance of negative and positive events (kit.profile.events), and one
    ``cat_share_<category>`` per category seen in orders before the snapshot.
    """
    plan = feature_plan(wh, config)
    end = snapshot_end(month)
    orders = wh.table("orders")
    orders = orders.filter(orders.order_ts < end)
    paid = orders.filter(~_refunded(orders, plan))
    categories, payments = _levels(paid, ("category", "payment_method"), plan)
    columns = [category_column(c) for c in categories]
    if len(set(columns)) != len(columns):
        raise ValueError(
            f"orders.category has values that differ only in case or punctuation ({', '.join(categories)}); "
            "standardise the category names in ingest so each gets its own cat_share_ feature."
        )
    expr = _customer_expr(wh, plan, end, orders, categories, payments)
    raw = expr.to_pyarrow().to_pandas()
    return _finish(raw, month, config, plan, categories)


def _refunded(orders: ibis.Table, plan: FeaturePlan) -> ibis.Value:
    """Whether each order is refunded; false for all when the warehouse has no refund flag."""
    if plan.inputs.has("orders.is_refund"):
        return orders.is_refund.fill_null(False)
    return ibis.literal(False)


def _levels(paid: ibis.Table, columns: tuple[str, ...], plan: FeaturePlan) -> list[list[str]]:
    """The distinct values of each order column of ``columns`` before the snapshot, sorted
    (empty for a column the warehouse holds no values in): the levels to pivot on, in one query."""
    present = [c for c in columns if plan.inputs.has(f"orders.{c}")]
    found = paid.aggregate(**{c: paid[c].collect(distinct=True) for c in present}).to_pyarrow().to_pylist()[0] if present else {}
    return [sorted(v for v in (found.get(c) or []) if v is not None) for c in columns]


def _customer_expr(
    wh: Warehouse, plan: FeaturePlan, end: pd.Timestamp, orders: ibis.Table, categories: list[str], payments: list[str]
) -> ibis.Table:
    """The Ibis expression joining customers to their order, event and survey aggregates
    (events and surveys only when the warehouse has them)."""
    day = pd.Timedelta(days=1)
    t30, t90, t180, t365 = (end - n * day for n in (30, 90, 180, 365))
    has = plan.inputs.has

    o = orders.filter(~_refunded(orders, plan)).mutate(
        hour=orders.order_ts.hour(), weekday=orders.order_ts.day_of_week.index()
    )
    o_aggs = {
        "frequency_all": o.count(),
        "monetary_all": o.amount.sum(),
        "first_order_ts": o.order_ts.min(),
        "last_order_ts": o.order_ts.max(),
        "weekend_n": o.count(where=o.weekday >= 5),
        "prev_orders_90d": o.count(where=(o.order_ts >= t180) & (o.order_ts < t90)),
        "prev_spend_90d": o.amount.sum(where=(o.order_ts >= t180) & (o.order_ts < t90)),
    }
    for label, since in (("30d", t30), ("90d", t90), ("365d", t365)):
        o_aggs[f"frequency_{label}"] = o.count(where=o.order_ts >= since)
        o_aggs[f"monetary_{label}"] = o.amount.sum(where=o.order_ts >= since)
    if has("orders.discount"):
        o_aggs["discount_all"] = o.discount.sum()
    if has("orders.items"):
        o_aggs["items_all"] = o.items.sum()
    if has("orders.channel"):
        o_aggs["digital_90d"] = o.count(where=(o.order_ts >= t90) & (o.channel != "store"))
    pivots: dict[str, ibis.Value] = {f"_wd_{d}": o.count(where=o.weekday == d) for d in range(7)}
    modes = {"preferred_weekday": {d: f"_wd_{d}" for d in range(7)}}
    if plan.computed("preferred_hour"):  # only orders whose time carries a time of day
        timed = o.has_time.fill_null(False) if "has_time" in plan.inputs.filled.get("orders", ()) else ibis.literal(True)
        o_aggs["timed_n"] = o.count(where=timed)
        o_aggs["night_n"] = o.count(where=timed & o.hour.isin(NIGHT_HOURS))
        pivots |= {f"_hr_{h}": o.count(where=timed & (o.hour == h)) for h in range(24)}
        modes["preferred_hour"] = {h: f"_hr_{h}" for h in range(24)}
    if plan.computed("main_payment_method"):
        pivots |= {f"_pay_{i}": o.count(where=o.payment_method == p) for i, p in enumerate(payments)}
        modes["main_payment_method"] = {p: f"_pay_{i}" for i, p in enumerate(payments)}
    category_n = {f"_n_{category_column(c)}": o.count(where=o.category == c) for c in categories}
    channel_n = {f"_n_channel_{c}": o.count(where=o.channel == c) for c in CHANNELS} if has("orders.channel") else {}
    if plan.computed("favourite_category"):
        modes["favourite_category"] = {c: f"_n_{category_column(c)}" for c in categories}
    if channel_n:
        modes["main_channel"] = {c: f"_n_channel_{c}" for c in CHANNELS}
    oa = o.group_by("customer_id").aggregate(**o_aggs, **category_n, **channel_n, **pivots)
    oa = oa.mutate(**{name: _argmax(oa, counts) for name, counts in modes.items()}).drop(*pivots)
    parts = [oa]

    if has("orders.is_refund"):
        refunds = orders.filter(_refunded(orders, plan))
        parts.append(refunds.group_by("customer_id").aggregate(refund_count_all=refunds.count()))

    if has("events"):
        events = wh.table("events")
        e = events.filter(events.event_ts < end)
        e_aggs = {"last_event_ts": e.event_ts.max()}
        if plan.computed("visits_90d"):
            visit = e.event_type == "visit"
            e_aggs |= {
                "visits_30d": e.count(where=visit & (e.event_ts >= t30)),
                "visits_prev_90d": e.count(where=visit & (e.event_ts >= t180) & (e.event_ts < t90)),
            }
        for name, event_type in LAST_90_DAYS.items():  # the per-type 90-day count when there is one
            if plan.computed(name) and event_type not in plan.events.slugs:
                e_aggs[name] = e.count(where=(e.event_type == event_type) & (e.event_ts >= t90))
        e_aggs |= event_aggregates(e, plan.events, end, bitwise=wh.con.has_operation(ops.BitOr))
        parts.append(e.group_by("customer_id").aggregate(**e_aggs))

    if has("surveys"):
        surveys = wh.table("surveys")
        s = surveys.filter(surveys.survey_ts < end)
        s_aggs = {"survey_count": s.count()}
        if has("surveys.nps"):
            low = (s.nps <= 6) | (s.csat <= 2) if has("surveys.csat") else s.nps <= 6
            s_aggs["low_score_count"] = s.count(where=low)
            s_aggs["last_nps"] = s.nps.argmax(s.survey_ts, where=s.nps.notnull())
        if has("surveys.csat"):
            s_aggs["avg_csat"] = s.csat.mean()
        parts.append(s.group_by("customer_id").aggregate(**s_aggs))

    if has("subscriptions"):
        parts.append(subscription_aggregates(wh.table("subscriptions"), end, has("subscriptions.cancelled_at")))

    customers = wh.table("customers")
    c = customers.filter(customers.first_seen < end).select("customer_id", "first_seen", *plan.customer_columns())
    anonymous = wh.anonymous_receipts()
    if anonymous is not None:  # receipts are revenue, not customers (kit.core.vocabulary)
        c = c.anti_join(anonymous, "customer_id")
    joined = c
    for part in parts:
        joined = joined.left_join(part, "customer_id").drop("customer_id_right")
    return joined.order_by("customer_id")


def _argmax(table: ibis.Table, counts: dict[object, str]) -> ibis.Value:
    """The label whose count column is largest (first label on ties; null when all are 0
    or there are no labels: a month before any order had a category)."""
    if not counts:
        return ibis.null("string")
    top = ibis.greatest(*(table[col] for col in counts.values())) if len(counts) > 1 else table[next(iter(counts.values()))]
    cases = [(table[col] == top, label) for label, col in counts.items()]
    return ibis.ifelse(top > 0, ibis.cases(*cases), ibis.null())


def _finish(raw: pd.DataFrame, month: str, config: KitConfig, plan: FeaturePlan, categories: list[str]) -> pd.DataFrame:
    """Derive ratios, day counts and bands at customer grain and order the columns (the
    computed features of ``FEATURES``, then subscription features, event features and
    category shares)."""
    end = snapshot_end(month)
    day = pd.Timedelta(days=1)
    counts = [
        "frequency_30d", "frequency_90d", "frequency_365d", "frequency_all", "prev_orders_90d", "weekend_n",
        "night_n", "timed_n", "digital_90d", "refund_count_all", "visits_30d", "visits_90d", "visits_prev_90d",
        "views_90d", "add_to_cart_90d", "survey_count", "low_score_count",
    ]
    counts += [f"_n_{category_column(c)}" for c in categories] + [f"_n_channel_{c}" for c in CHANNELS]
    counts = [col for col in counts + count_columns(plan.events) + list(SUBSCRIPTION_COUNTS) if col in raw.columns]
    raw = raw.astype({col: "float64" for col in counts}).fillna({col: 0.0 for col in counts})
    raw = raw.astype({col: "int64" for col in counts})
    money = ["monetary_30d", "monetary_90d", "monetary_365d", "monetary_all", "prev_spend_90d", "discount_all", "items_all"]
    raw = raw.fillna({col: 0.0 for col in money if col in raw.columns})

    n = raw["frequency_all"]
    per_order = n.where(n > 0).astype("float64")
    out: dict[str, object] = {"customer_id": raw["customer_id"].astype("str"), "snapshot_date": snapshot_date(month)}
    out["tenure_days"] = (end - raw["first_seen"]) / day
    if "member_since" in raw:
        out["is_member"] = (raw["member_since"] < end).fillna(False).astype(bool)
    if "signup_channel" in raw:
        out["signup_channel"] = raw["signup_channel"].astype("str")
    out["has_ordered"] = (n > 0).astype(bool)
    out["first_order_date"] = raw["first_order_ts"].dt.normalize()
    out["last_order_date"] = raw["last_order_ts"].dt.normalize()
    out["days_since_first_order"] = (end - raw["first_order_ts"]) / day
    out["recency_days"] = (end - raw["last_order_ts"]) / day
    for col in ("frequency_30d", "frequency_90d", "frequency_365d", "frequency_all"):
        out[col] = raw[col]
    for col in ("monetary_30d", "monetary_90d", "monetary_365d", "monetary_all"):
        out[col] = raw[col].astype("float64")
    out["aov_all"] = raw["monetary_all"] / per_order
    if "items_all" in raw:
        out["avg_items"] = raw["items_all"] / per_order
    gaps = n.where(n > 1) - 1
    out["interpurchase_days"] = ((raw["last_order_ts"] - raw["first_order_ts"]) / day) / gaps
    out["order_trend_90d"] = relative_change(raw["frequency_90d"], raw["prev_orders_90d"])
    out["spend_trend_90d"] = relative_change(raw["monetary_90d"], raw["prev_spend_90d"])
    if "refund_count_all" in raw:
        out["refund_count_all"] = raw["refund_count_all"]
        out["refund_rate"] = raw["refund_count_all"] / (n + raw["refund_count_all"]).where(lambda x: x > 0)
    if "favourite_category" in raw:
        out["category_count"] = (raw[[f"_n_{category_column(c)}" for c in categories]] > 0).sum(axis=1).astype("int64")
        out["favourite_category"] = raw["favourite_category"].astype("str")
    if "main_channel" in raw:
        for c in CHANNELS:
            out[f"channel_share_{c}"] = raw[f"_n_channel_{c}"] / per_order
        out["main_channel"] = raw["main_channel"].astype("str")
    if "discount_all" in raw:
        gross = raw["monetary_all"] + raw["discount_all"]
        out["discount_share"] = raw["discount_all"] / gross.where(gross > 0)
    if "main_payment_method" in raw:
        out["main_payment_method"] = raw["main_payment_method"].astype("str")
    out["preferred_weekday"] = raw["preferred_weekday"].astype("Int64")
    out["weekend_share"] = raw["weekend_n"] / per_order
    if "timed_n" in raw:  # hours only over orders with a time of day
        out["preferred_hour"] = raw["preferred_hour"].astype("Int64")
        out["night_share"] = raw["night_n"] / raw["timed_n"].where(raw["timed_n"] > 0).astype("float64")
    for name, event_type in LAST_90_DAYS.items():
        if plan.computed(name):
            out[name] = raw[name] if name in raw else raw[f"ev_{plan.events.slugs[event_type]}_90d"]
    if "visits_90d" in out:
        out["visits_30d"], out["visits_prev_90d"] = raw["visits_30d"], raw["visits_prev_90d"]
        out["visit_trend_90d"] = relative_change(out["visits_90d"], out["visits_prev_90d"])
    if "add_to_cart_90d" in out and "digital_90d" in raw:
        carts = out["add_to_cart_90d"].where(out["add_to_cart_90d"] > 0).astype("float64")
        out["cart_abandonment_rate_90d"] = (1 - raw["digital_90d"] / carts).clip(0.0, 1.0)
    if "last_event_ts" in raw:
        out["days_since_last_visit"] = (end - raw["last_event_ts"]) / day
    if "survey_count" in raw:
        out["survey_count"] = raw["survey_count"]
    if "last_nps" in raw:
        out["last_nps"] = raw["last_nps"].astype("float64")
    if "avg_csat" in raw:
        out["avg_csat"] = raw["avg_csat"].astype("float64")
    if "low_score_count" in raw:
        out["low_score_count"] = raw["low_score_count"]
    if "birth_year" in raw:
        age = (snapshot_date(month).year - raw["birth_year"].astype("float64")).astype("Int64")
        band = pd.cut(age.astype("float64"), [-np.inf, 25, 35, 45, 55, np.inf], right=False, labels=list(AGE_BANDS))
        out["age"] = age
        out["age_band"] = band.astype("str").where(band.notna())
    for col in ("gender", "city"):
        if col in raw:
            out[col] = raw[col].astype("str")
    if plan.computed("city_tier"):
        tier = raw["city_tier"].astype("Int64") if "city_tier" in raw else pd.Series(pd.NA, index=raw.index, dtype="Int64")
        if config.features.city_tiers and "city" in raw:  # fill tiers ingest could not look up
            tier = tier.fillna(out["city"].map(config.features.city_tiers).astype("Int64"))
        out["city_tier"] = tier
    frame = pd.DataFrame(out, index=raw.index)
    kinds = classify(frame, Vocabulary.from_config(config))
    frame = frame.assign(**{column: kinds[column] for column in ("lifecycle_stage", "is_active", "value_tier")})
    events = event_features(raw, plan.events, end)
    shares = {category_column(c): raw[f"_n_{category_column(c)}"] / per_order for c in categories}
    subscriptions = subscription_features(raw, end)
    frame = pd.concat([frame, pd.DataFrame({**subscriptions, **events, **shares}, index=raw.index)], axis=1)
    ordered = [f for f in FEATURES if f in frame.columns]  # customer_id and snapshot_date first
    return frame[ordered + [c for c in frame.columns if c not in ordered]]


# --------------------------------------------------------------------------- output


def write_profile(wh: Warehouse, month: str, features: pd.DataFrame, tags: pd.DataFrame) -> Path:
    """Write ``snapshots/<month>/profile.parquet``: features then ``tag_<name>`` columns.

    ``tags`` is indexed like ``features`` with one column per tag (from ``kit.profile.tags``); each
    month keeps its own file so later months can compare.
    """
    if len(tags) != len(features):
        raise ValueError(f"tags have {len(tags)} rows but features have {len(features)}; evaluate tags on these features")
    tag_frame = tags.rename(columns=lambda name: name if name.startswith("tag_") else f"tag_{name}")
    profile = pd.concat([features.reset_index(drop=True), tag_frame.reset_index(drop=True)], axis=1)
    return wh.write_snapshot(month, "profile", profile)


def reference_aggregation(wh: Warehouse, month: str) -> pd.DataFrame:
    """The yardstick for ``kit bench``: the same per-customer aggregates in hand-written SQL.

    One DuckDB query over the same Parquet files with the same snapshot cut: one GROUP BY
    over orders (counts and spend per window, first/last order, category, channel,
    payment, weekday and hour counts) and one over events, joined to customers. It skips
    what ``build_features`` adds on top (Ibis compilation, surveys, derived ratios, modes,
    pandas dtypes), so the ratio of the two timings is the cost of that layer.
    """
    import duckdb

    end = snapshot_end(month)
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    files = {name: str(wh.table_path(name)).replace("'", "''") for name in ("customers", "orders", "events")}
    cut = f"TIMESTAMP '{end:%Y-%m-%d %H:%M:%S}'"
    since = {n: f"TIMESTAMP '{end - pd.Timedelta(days=n):%Y-%m-%d %H:%M:%S}'" for n in (30, 90, 180, 365)}
    values = con.execute(
        f"SELECT list(DISTINCT category), list(DISTINCT payment_method) FROM read_parquet('{files['orders']}') "
        f"WHERE order_ts < {cut} AND NOT is_refund"
    ).fetchall()[0]
    pivots = [f"count_if(category = '{c}')" for c in (values[0] or []) if c is not None]
    pivots += [f"count_if(payment_method = '{p}')" for p in (values[1] or []) if p is not None]
    pivots += [f"count_if(channel = '{c}')" for c in CHANNELS]
    pivots += [f"count_if(weekday = {d})" for d in range(7)] + [f"count_if(hour = {h})" for h in range(24)]
    pivot_sql = ",\n".join(f"{expr} AS p{i}" for i, expr in enumerate(pivots))
    sql = f"""
    WITH o AS (
        SELECT customer_id,
               count(*) AS frequency_all, sum(amount) AS monetary_all, sum(discount) AS discount_all,
               sum(items) AS items_all, min(order_ts) AS first_order_ts, max(order_ts) AS last_order_ts,
               count_if(order_ts >= {since[30]}) AS frequency_30d,
               sum(CASE WHEN order_ts >= {since[30]} THEN amount ELSE 0 END) AS monetary_30d,
               count_if(order_ts >= {since[90]}) AS frequency_90d,
               sum(CASE WHEN order_ts >= {since[90]} THEN amount ELSE 0 END) AS monetary_90d,
               count_if(order_ts >= {since[365]}) AS frequency_365d,
               sum(CASE WHEN order_ts >= {since[365]} THEN amount ELSE 0 END) AS monetary_365d,
               count_if(order_ts >= {since[180]} AND order_ts < {since[90]}) AS prev_orders_90d,
               sum(CASE WHEN order_ts >= {since[180]} AND order_ts < {since[90]} THEN amount ELSE 0 END) AS prev_spend_90d,
               count_if(order_ts >= {since[90]} AND channel <> 'store') AS digital_90d,
               count_if(weekday >= 5) AS weekend_n,
               count_if(hour IN {NIGHT_HOURS}) AS night_n,
               {pivot_sql}
        FROM (SELECT *, hour(order_ts) AS hour, isodow(order_ts) - 1 AS weekday
              FROM read_parquet('{files['orders']}') WHERE order_ts < {cut} AND NOT is_refund)
        GROUP BY customer_id),
    e AS (
        SELECT customer_id,
               count_if(event_type = 'visit' AND event_ts >= {since[30]}) AS visits_30d,
               count_if(event_type = 'visit' AND event_ts >= {since[90]}) AS visits_90d,
               count_if(event_type = 'visit' AND event_ts >= {since[180]} AND event_ts < {since[90]}) AS visits_prev_90d,
               count_if(event_type = 'view' AND event_ts >= {since[90]}) AS views_90d,
               count_if(event_type = 'add_to_cart' AND event_ts >= {since[90]}) AS add_to_cart_90d,
               max(event_ts) AS last_event_ts
        FROM read_parquet('{files['events']}')
        WHERE event_ts < {cut}
        GROUP BY customer_id)
    SELECT c.customer_id, o.* EXCLUDE (customer_id), e.* EXCLUDE (customer_id)
    FROM read_parquet('{files['customers']}') AS c
    LEFT JOIN o USING (customer_id)
    LEFT JOIN e USING (customer_id)
    WHERE c.first_seen < {cut}
    """
    try:
        return con.sql(sql).df()
    finally:
        con.close()


def run_reference(config: KitConfig) -> pd.DataFrame:
    """``reference_aggregation`` for ``config.run.month`` (the bench's yardstick stage)."""
    return reference_aggregation(Warehouse.from_config(config), config.run.month)
