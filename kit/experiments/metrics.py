"""Per-user experiment metrics from the warehouse, and their sufficient statistics.

Two steps, both in Ibis on DuckDB so nothing per-user reaches pandas:

1. ``user_metrics``: one row per eligible user of an experiment with the metrics inside
   the exposure window [assigned_ts, assigned_ts + exposure_days), the same metrics in the
   pre-period [assigned_ts - exposure_days, assigned_ts) as CUPED covariates, a flag for
   users who existed before the pre-period, and the segment labels. Users with several
   variants, assigned outside [start, end], or unknown to the warehouse are excluded and
   counted; users whose window is not over by the readout date are counted and left out
   of the metrics (they still count for the sample-ratio check).
2. ``sufficient_stats``: per arm x segment cell the sums the statistics need (n, sums,
   sums of squares, cross-products with the covariates), with revenue winsorised at a
   quantile of the positive values pooled over all arms. All sums are additive, so overall
   and per-segment figures are roll-ups of this one small table.

Metric definitions (per user; names as in the demo generator's experiments.yml):
    conversion        1 if the user placed at least one paid (not refunded) order
    revenue_per_user  paid amount of paid orders (refunded orders excluded), yuan
    orders_per_user   number of paid orders
    retention         1 if the user ordered or visited in days 30-60 after assignment;
                      missing (left out) when those days are not over by the readout date
    aov               ratio metric: sum of revenue / sum of paid orders over the arm's users
    refund_rate       ratio metric: refunded orders / all orders (lower is better)
"""

from __future__ import annotations

from dataclasses import dataclass

import ibis
import pandas as pd

from kit.core.config import KitConfig
from kit.core.dates import shift_month
from kit.core.vocabulary import lifecycle_stage_expr
from kit.core.warehouse import Warehouse
from kit.experiments.catalog import SEGMENTS, Experiment

#: Mean metrics with a per-user value and a pre-period covariate.
MEAN_METRICS = ("conversion", "revenue_per_user", "orders_per_user", "retention")
BINARY_METRICS = ("conversion", "retention")
#: Ratio metrics: (numerator column, denominator column) of the per-user table.
RATIO_METRICS = {"aov": ("revenue_per_user", "orders_per_user"), "refund_rate": ("refunded_orders", "all_orders")}
LOWER_IS_BETTER = ("refund_rate",)
RETENTION_FROM, RETENTION_TO = 30, 60
UNKNOWN = "unknown"
STAT_COLUMNS = ("n", "sy", "syy", "sx", "sxx", "sd", "sxy", "syd", "sxd")


@dataclass(frozen=True)
class UserMetrics:
    """The per-user table (lazy) and what was left out on the way."""

    table: ibis.Table
    assigned: dict[str, int]  # users per variant after exclusions (for the SRM check)
    exclusions: dict[str, int]  # reason -> users excluded
    segment_source: str  # "snapshot:<YYYY-MM>" or "orders" (lifecycle stage computed here)
    segments: tuple[str, ...]  # segment dimensions available
    readout_end: pd.Timestamp


def user_metrics(wh: Warehouse, config: KitConfig, experiment: Experiment, readout_end: pd.Timestamp) -> UserMetrics:
    """Per-user metrics of ``experiment`` with data strictly before ``readout_end``."""
    e = experiment
    days = ibis.interval(days=e.exposure_days)
    raw = wh.table("assignments").filter(lambda t: t.experiment_id == e.id)
    counts = raw.aggregate(rows=raw.count(), no_customer=raw.customer_id.isnull().sum()).to_pandas().iloc[0]
    if int(counts["rows"]) == 0:
        raise ValueError(
            f"warehouse table 'assignments' has no rows for experiment {e.id!r}; check the experiment id "
            "in the catalog against the assignments file."
        )
    raw = raw.filter(raw.customer_id.notnull())
    per_user = raw.group_by("customer_id").aggregate(
        n_variants=raw.variant.nunique(), variant=raw.variant.min(), assigned_ts=raw.assigned_ts.min()
    )
    window_end = e.end.normalize() + pd.Timedelta(days=1)
    in_window = (per_user.assigned_ts >= e.start.normalize()) & (per_user.assigned_ts < window_end)
    known_arm = per_user.variant.isin(list(e.variants))
    flags = per_user.aggregate(
        users=per_user.count(),
        several=(per_user.n_variants > 1).sum(),
        outside=((per_user.n_variants == 1) & ~in_window).sum(),
        unknown_arm=((per_user.n_variants == 1) & in_window & ~known_arm).sum(),
    ).to_pandas().iloc[0]
    users = per_user.filter((per_user.n_variants == 1) & in_window & known_arm).select("customer_id", "variant", "assigned_ts")
    assigned = users.group_by("variant").aggregate(n=users.count()).to_pandas()
    assigned_counts = {v: int(assigned.loc[assigned.variant == v, "n"].sum()) for v in e.variants}

    complete = users.assigned_ts + days <= ibis.timestamp(readout_end)
    n_incomplete = int(users.filter(~complete).count().to_pandas())
    users = users.filter(complete)

    users, segment_source, segments = _with_segments(wh, config, e, users)
    users = _with_history(wh, users, e.exposure_days)
    table = _with_outcomes(wh, users, e.exposure_days, readout_end)
    exclusions = {
        "no_customer": int(counts["no_customer"]),
        "several_variants": int(flags["several"]),
        "outside_dates": int(flags["outside"]),
        "unknown_variant": int(flags["unknown_arm"]),
        "window_not_over": n_incomplete,
    }
    return UserMetrics(table, assigned_counts, exclusions, segment_source, segments, readout_end)


def _with_segments(wh: Warehouse, config: KitConfig, e: Experiment,
                   users: ibis.Table) -> tuple[ibis.Table, str, tuple[str, ...]]:
    """Segment labels as of the month before the start: the segments snapshot if present,
    else the vocabulary's lifecycle stage from each user's orders before assignment."""
    month = shift_month(e.start.strftime("%Y-%m"), -1)
    if wh.has_snapshot(month, "segments"):
        snap = wh.read_snapshot(month, "segments")
        cols = [c for c in SEGMENTS if c in snap.columns]
        labels = snap[["customer_id", *cols]].astype({c: "str" for c in cols})
        seg = ibis.memtable(labels)
        joined = users.left_join(seg, "customer_id").select(users, *[seg[c] for c in cols])
        joined = joined.mutate(**{c: joined[c].fill_null(UNKNOWN) for c in cols})
        for c in SEGMENTS:
            if c not in cols:
                joined = joined.mutate(**{c: ibis.literal(UNKNOWN)})
        return joined, f"snapshot:{month}", tuple(c for c in e.segments if c in cols)

    # The vocabulary's lifecycle stage (kit.core.vocabulary) as of the start of the
    # assignment day, from paid, not refunded orders before it.
    orders = wh.table("orders")
    orders = orders.filter(~orders.is_refund).select("customer_id", "order_ts")
    j = users.mutate(day0=users.assigned_ts.truncate("D")).join(orders, "customer_id")
    j = j.filter(j.order_ts < j.day0)
    hist = j.group_by("customer_id").aggregate(first=j.order_ts.min(), last=j.order_ts.max())
    u = users.left_join(hist, "customer_id").select(users, hist.first, hist.last)
    day0 = u.assigned_ts.truncate("D").epoch_seconds()
    first_age = (day0 - u.first.epoch_seconds()) / 86400
    recency = (day0 - u.last.epoch_seconds()) / 86400
    stage = lifecycle_stage_expr(recency, first_age, config.segmentation)
    out = u.mutate(lifecycle_stage=stage, value_tier=ibis.literal(UNKNOWN), persona=ibis.literal(UNKNOWN))
    out = out.drop("first", "last")
    return out, "orders", tuple(c for c in e.segments if c == "lifecycle_stage")


def _with_history(wh: Warehouse, users: ibis.Table, exposure_days: int) -> ibis.Table:
    """Flag users who existed before the pre-period (first seen before its start)."""
    customers = wh.table("customers").select("customer_id", "first_seen")
    u = users.left_join(customers, "customer_id").select(users, customers.first_seen)
    pre_start = u.assigned_ts - ibis.interval(days=exposure_days)
    return u.mutate(has_pre=(u.first_seen.notnull() & (u.first_seen < pre_start)).cast("int8")).drop("first_seen")


def _with_outcomes(wh: Warehouse, users: ibis.Table, exposure_days: int, readout_end: pd.Timestamp) -> ibis.Table:
    """Add exposure-window and pre-period metrics from orders and visits."""
    orders = wh.table("orders")
    rows = orders.select("customer_id", ts=orders.order_ts, amount=orders.amount, refund=orders.is_refund)
    j = users.select("customer_id", "assigned_ts").join(rows, "customer_id")
    delta_s = (j.ts.epoch_seconds() - j.assigned_ts.epoch_seconds())
    exposure_s, day_s = exposure_days * 86400, 86400
    in_exp = (delta_s >= 0) & (delta_s < exposure_s)
    in_pre = (delta_s >= -exposure_s) & (delta_s < 0)
    in_ret = (delta_s >= RETENTION_FROM * day_s) & (delta_s < RETENTION_TO * day_s)
    paid = ~j.refund
    o = j.group_by("customer_id").aggregate(
        orders=(in_exp & paid).cast("int64").sum(),
        all_orders=in_exp.cast("int64").sum(),
        revenue=(in_exp & paid).ifelse(j.amount, 0.0).sum(),
        orders_pre=(in_pre & paid).cast("int64").sum(),
        revenue_pre=(in_pre & paid).ifelse(j.amount, 0.0).sum(),
        ret_order=(in_ret & paid).cast("int64").max(),
        ret_order_pre=(in_pre & paid).cast("int64").max(),
    )
    events = wh.table("events")
    visits = events.filter(events.event_type == "visit").select("customer_id", ts=events.event_ts)
    k = users.select("customer_id", "assigned_ts").join(visits, "customer_id")
    kd = k.ts.epoch_seconds() - k.assigned_ts.epoch_seconds()
    v = k.group_by("customer_id").aggregate(
        ret_visit=((kd >= RETENTION_FROM * day_s) & (kd < RETENTION_TO * day_s)).cast("int64").max(),
        ret_visit_pre=((kd >= -exposure_s) & (kd < 0)).cast("int64").max(),
    )
    u = users.left_join(o, "customer_id").select(users, *[o[c] for c in o.columns if c != "customer_id"])
    u = u.left_join(v, "customer_id").select(u, v.ret_visit, v.ret_visit_pre)
    orders_n = u.orders.fill_null(0)
    orders_pre = u.orders_pre.fill_null(0)
    retention_known = u.assigned_ts + ibis.interval(days=RETENTION_TO) <= ibis.timestamp(readout_end)
    retained = ((u.ret_order.fill_null(0) + u.ret_visit.fill_null(0)) > 0).cast("float64")
    return u.select(
        "customer_id", "variant", "assigned_ts", *SEGMENTS, "has_pre",
        conversion=(orders_n > 0).cast("float64"),
        conversion_pre=(orders_pre > 0).cast("float64"),
        revenue_per_user=u.revenue.fill_null(0.0),
        revenue_per_user_pre=u.revenue_pre.fill_null(0.0),
        orders_per_user=orders_n.cast("float64"),
        orders_per_user_pre=orders_pre.cast("float64"),
        retention=retention_known.ifelse(retained, ibis.null("float64")),
        retention_pre=((u.ret_order_pre.fill_null(0) + u.ret_visit_pre.fill_null(0)) > 0).cast("float64"),
        all_orders=u.all_orders.fill_null(0).cast("float64"),
        refunded_orders=(u.all_orders.fill_null(0) - orders_n).cast("float64"),
    )


# --------------------------------------------------------------------------- sufficient statistics


def winsor_caps(table: ibis.Table, quantile: float) -> dict[str, float]:
    """Caps for revenue and pre-period revenue: the ``quantile`` of positive values, pooled
    over all arms (so capping cannot favour an arm and does not collapse to 0 when most
    users spend nothing)."""
    caps = {}
    for col in ("revenue_per_user", "revenue_per_user_pre"):
        pos = table.filter(table[col] > 0)
        value = pos.aggregate(q=pos[col].quantile(quantile)).to_pandas()["q"].iloc[0]
        caps[col] = float(value) if pd.notna(value) else 0.0
    return caps


def sufficient_stats(table: ibis.Table, caps: dict[str, float] | None = None) -> pd.DataFrame:
    """Sums per variant x segment cell for every metric, capped and uncapped.

    Long format: one row per (variant, lifecycle_stage, value_tier, persona, metric,
    capped) with columns ``STAT_COLUMNS``. For mean metrics y is the metric, x its
    pre-period value and d the has-pre-period flag; for ratio metrics (``RATIO_METRICS``)
    y is the numerator and x the denominator (d unused). Rows where y is missing do not
    count. ``capped`` rows exist for the revenue metrics when a cap is given.
    """
    caps = caps or {}
    t = table
    d = t.has_pre.cast("float64")
    specs: dict[tuple[str, bool], tuple[ibis.Value, ibis.Value]] = {}
    for m in MEAN_METRICS:
        specs[(m, False)] = (t[m], t[f"{m}_pre"])
    for m, (num, den) in RATIO_METRICS.items():
        specs[(m, False)] = (t[num], t[den])
    rev_cap, pre_cap = caps.get("revenue_per_user"), caps.get("revenue_per_user_pre")
    if rev_cap:
        capped = t.revenue_per_user.clip(upper=rev_cap)
        capped_pre = t.revenue_per_user_pre.clip(upper=pre_cap) if pre_cap else t.revenue_per_user_pre
        specs[("revenue_per_user", True)] = (capped, capped_pre)
        specs[("aov", True)] = (capped, t.orders_per_user)
    aggs = {}
    for i, ((metric, _capped), (y, x)) in enumerate(specs.items()):
        has = y.notnull()
        xx = has.ifelse(x, ibis.null("float64"))
        dd = has.ifelse(d, ibis.null("float64"))
        aggs.update({
            f"n_{i}": has.cast("int64").sum(),
            f"sy_{i}": y.sum(), f"syy_{i}": (y * y).sum(),
            f"sx_{i}": xx.sum(), f"sxx_{i}": (xx * xx).sum(), f"sd_{i}": dd.sum(),
            f"sxy_{i}": (xx * y).sum(), f"syd_{i}": (y * dd).sum(), f"sxd_{i}": (xx * dd).sum(),
        })
    keys = ["variant", *SEGMENTS]
    wide = t.group_by(keys).aggregate(**aggs).to_pandas()
    frames = []
    for i, (metric, capped) in enumerate(specs):
        part = wide[keys].copy()
        part["metric"] = metric
        part["capped"] = capped
        for c in STAT_COLUMNS:
            part[c] = wide[f"{c}_{i}"].astype("float64").fillna(0.0).to_numpy()
        frames.append(part)
    return pd.concat(frames, ignore_index=True)
