"""Subscription features as of a snapshot: tenure, MRR, plan, cancellation, count.

A company that sells plans (kit.ingest kind ``subscriptions``: one row per subscription
with ``started_at``, ``paid_through``, ``mrr``, ``plan`` and an optional ``cancelled_at``)
knows more about a customer than orders say: how long they have subscribed, what they
pay each month, which plan they are on and whether they have already cancelled. Per
customer, as of the snapshot end ``S``:

- ``sub_tenure_days``: days from the first subscription's start to ``S``;
- ``sub_mrr``: MRR of the subscriptions active at ``S`` (summed; 0 when none is);
- ``sub_plan``: plan of the latest subscription started before ``S`` (ties: the latest
  subscription id);
- ``sub_cancelled``: 1.0 when a subscription active at ``S`` has a cancellation dated
  before ``S`` (it still runs to the end of its paid period), else 0.0;
- ``sub_count``: subscriptions started before ``S``.

Point in time: only subscriptions with ``started_at < S`` are read, and a cancellation
counts only when ``cancelled_at < S``. ``paid_through`` is the state at the export date,
in the future of an earlier snapshot, so it feeds no feature by its value; it enters only
through the billing calendar: a subscription is *active at S* when ``started_at < S <
paid_through``. That reads the future correctly because paid periods are contiguous: a
subscription that was paid at ``S`` held a period reaching past ``S``, and renewals only
ever push ``paid_through`` later, so its final ``paid_through`` is past ``S`` too; one
that had lapsed by ``S`` never renews (a return is a new subscription, with a new
``started_at``), so its final ``paid_through`` is at or before ``S``. One reading of the
future remains by construction: an account in its renewal grace at ``S`` (period ended,
renewal paid a few days late, after ``S``) counts as active, as it does in the billing
calendar's population of contractual churn.

A customer with no subscription started before ``S`` has ``sub_count`` and ``sub_mrr`` 0,
``sub_cancelled`` 0.0 and no tenure or plan. The per-row work runs in Ibis (DuckDB) in the
same expression as the other aggregates (``aggregates``, joined by kit.profile.features);
pandas only derives the columns at customer grain (``features``).
"""

from __future__ import annotations

import ibis
import pandas as pd

# name -> (dtype, English description, Chinese description)
SUBSCRIPTION_FEATURES: dict[str, tuple[str, str, str]] = {
    "sub_tenure_days": ("number", "Days since the customer's first subscription started", "首次订阅开始至今的天数"),
    "sub_mrr": (
        "number",
        "Monthly recurring revenue of the subscriptions paid at the snapshot (0 when none is)",
        "快照时仍在付费期内的订阅月费合计（没有则为0）",
    ),
    "sub_plan": ("text", "Plan of the latest subscription started", "最近开始的订阅的套餐"),
    "sub_cancelled": (
        "number",
        "1 when a subscription still paid at the snapshot has a cancellation recorded, else 0",
        "快照时仍在付费期内的订阅已登记取消为1，否则为0",
    ),
    "sub_count": ("number", "Subscriptions started before the snapshot", "快照前开始的订阅数"),
}
CANCELLATION = "sub_cancelled"  # the feature that also needs subscriptions.cancelled_at
# the aggregates that are counts (0 for a customer without subscriptions)
COUNT_COLUMNS = ("sub_count", "_sub_cancelled_n")


def aggregates(subscriptions: ibis.Table, end: pd.Timestamp, cancellations: bool) -> ibis.Table:
    """Per customer, the aggregates behind the subscription features as of ``end``: first
    start, active MRR, latest plan, count, and (``cancellations``: the table has
    cancellation dates) the active subscriptions cancelled before ``end``."""
    s = subscriptions.filter(subscriptions.started_at < end)
    latest = ibis.row_number().over(
        group_by=s.customer_id, order_by=[s.started_at.desc(), s.subscription_id.desc()]
    )
    s = s.mutate(_latest=latest)
    active = s.paid_through > end
    aggs: dict[str, ibis.Value] = {
        "_sub_first_start": s.started_at.min(),
        "_sub_mrr": s.mrr.sum(where=active),
        "_sub_plan": s.plan.max(where=s._latest == 0),
        "sub_count": s.count(),
    }
    if cancellations:
        aggs["_sub_cancelled_n"] = s.count(where=active & s.cancelled_at.notnull() & (s.cancelled_at < end))
    return s.group_by("customer_id").aggregate(**aggs)


def features(raw: pd.DataFrame, end: pd.Timestamp) -> dict[str, pd.Series]:
    """The subscription feature columns from ``aggregates``' output joined to customers
    (counts already filled with 0); none when the aggregates were not read."""
    if "sub_count" not in raw.columns:
        return {}
    out = {
        "sub_tenure_days": (end - raw["_sub_first_start"]) / pd.Timedelta(days=1),
        "sub_mrr": raw["_sub_mrr"].astype("float64").fillna(0.0),
        "sub_plan": raw["_sub_plan"].astype("str"),
    }
    if "_sub_cancelled_n" in raw.columns:
        out[CANCELLATION] = (raw["_sub_cancelled_n"] > 0).astype("float64")
    out["sub_count"] = raw["sub_count"]
    return out
