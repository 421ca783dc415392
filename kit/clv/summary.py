"""Customer purchase summary for the CLV models, from the warehouse ``orders`` table or an orders DataFrame.

One row per customer with at least one paid order before the snapshot:
- ``frequency``: number of *repeat* purchase periods, i.e. distinct purchase days after the
  first one (orders on the same calendar day are merged into one purchase, as in the
  literature's CDNOW data; the first purchase only starts the clock);
- ``recency``: time from the first to the last purchase day; ``T``: time from the first
  purchase day to the snapshot date (the last day of the run month), both in
  ``clv.time_unit`` (D = days, W = weeks of 7 days);
- ``monetary``: mean value of the repeat purchase days (sum of their orders), 0 for
  one-time buyers; the first purchase is left out, as the Gamma-Gamma model expects.

Refunds: an order with ``is_refund`` true or ``status`` "refunded" is dropped entirely: the
customer got the money back, so for lifetime value it was not a purchase (a day whose
only order was refunded is not a purchase day). Customers whose every order was refunded
are not in the summary.

Anonymous store receipts (``Warehouse.anonymous_receipts``: one-order "customers" nobody
can follow) are not customers: ``customer_summary`` leaves them out, so CLV is fitted and
averaged over identified customers only and clv.parquet holds no receipts.

Row-level work runs in Ibis (DuckDB); only the customer-grain result comes to pandas.

Dates: the summary is taken as of a day (``as_of_day``): a run month ``YYYY-MM`` means its
last day, any other date (``2026-10-17``, a ``date`` or a ``Timestamp``) that very day;
purchases on the as-of day count. With ``calibration_end`` (a month or any date before the
as-of day) the summary is taken as of the calibration end and two holdout columns are
added for validation: ``frequency_holdout`` (purchase days after the calibration end, up to
the as-of day) and ``duration_holdout`` (the holdout length in time units). Customers who
first bought after the calibration end are left out of that variant.

Entry points: ``customer_summary(wh, month, config)`` reads the warehouse's orders;
``orders_summary(orders, as_of)`` takes a pandas DataFrame with the canonical columns
``customer_id``, ``order_ts`` and ``amount`` (``is_refund`` and ``status`` optional: an
order log without them is all paid). kit.frames maps an analyst's own column names onto it.
"""

from __future__ import annotations

import datetime as dt

import ibis
import pandas as pd
from ibis import _

from kit.core.config import MONTH_PATTERN, CLVConfig, KitConfig
from kit.core.dates import snapshot_date
from kit.core.warehouse import Warehouse

UNIT_DAYS = {"D": 1, "W": 7}
SUMMARY_COLUMNS = ["customer_id", "frequency", "recency", "T", "monetary"]
ORDER_COLUMNS = ("customer_id", "order_ts", "amount")  # required; is_refund and status are optional
DAY = pd.Timedelta(days=1)
Day = str | dt.date | pd.Timestamp


def clv_config(config: KitConfig | CLVConfig) -> CLVConfig:
    """The CLV section of a whole config, or the CLV section itself."""
    return config.clv if isinstance(config, KitConfig) else config


def as_of_day(when: Day) -> pd.Timestamp:
    """The (midnight of the) day a summary is taken as of: the last day of a run month
    ``YYYY-MM``, else the given date with any time of day and time zone dropped."""
    if isinstance(when, str) and MONTH_PATTERN.match(when):
        return snapshot_date(when)
    try:
        day = pd.Timestamp(when)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{when!r} is not a date: give a run month YYYY-MM or a date such as 2026-10-17") from exc
    if pd.isna(day):
        raise ValueError("the as-of date is missing: give a run month YYYY-MM or a date such as 2026-10-17")
    return (day.tz_localize(None) if day.tzinfo is not None else day).normalize()


def paid_orders(orders: ibis.Table) -> ibis.Table:
    """The orders that are purchases: neither ``is_refund`` true nor ``status`` "refunded".
    A column the table lacks cannot refund anything: an order log without both is all paid."""
    keep = []
    if "is_refund" in orders.columns:
        keep.append(~orders.is_refund.fill_null(False))
    if "status" in orders.columns:
        keep.append(orders.status.fill_null("paid") != "refunded")
    return orders.filter(*keep) if keep else orders


def _days(orders: ibis.Table, before: pd.Timestamp) -> ibis.Table:
    """Paid purchase days before ``before``: customer_id, day (days since 1970), amount (sum)."""
    bought = paid_orders(orders.filter(orders.order_ts < before))
    return bought.group_by(customer_id=bought.customer_id, day=bought.order_ts.date().epoch_days()).aggregate(
        amount=_cents_sum(_.amount)
    )


def purchase_days(wh: Warehouse, before: pd.Timestamp) -> ibis.Table:
    """Paid purchase days of the warehouse's orders before ``before``: customer_id, day
    (days since 1970), amount (sum)."""
    orders = wh.table("orders")
    _check_orders(orders, str(wh.table_path("orders")),
                  "The ingest step should quarantine such rows; re-run ingest (01_ingest) and check its report.")
    return _days(orders, before)


def _cents_sum(amount: ibis.Value, where: ibis.Value | None = None) -> ibis.Value:
    """The sum of money amounts, exact in cents: a float sum depends on the order rows
    arrive in (parallel scans), and the CLV fits turned that last-digit noise into
    differences in the 9th digit between runs on the same data."""
    return amount.cast("decimal(18, 2)").sum(where=where).cast("float64")


def _check_orders(orders: ibis.Table, source: str, remedy: str) -> None:
    """Raise ValueError naming ``source`` when orders have no customer, no timestamp or a bad amount."""
    bad = orders.aggregate(
        no_customer=orders.customer_id.isnull().sum(),
        no_time=orders.order_ts.isnull().sum(),
        bad_amount=(orders.amount.isnull() | (orders.amount < 0)).sum(),
        rows=orders.count(),
    ).to_pandas().iloc[0]
    problems = {
        "without customer_id": bad["no_customer"],
        "without order_ts": bad["no_time"],
        "with a missing or negative amount": bad["bad_amount"],
    }
    for what, count in problems.items():
        if count:
            raise ValueError(f"{source}: {int(count)} of {int(bad['rows'])} orders {what}. {remedy}")


def _summarise(days: ibis.Table, as_of_day: int, unit: int) -> ibis.Table:
    """Per-customer frequency, recency, T, monetary from purchase days up to ``as_of_day``."""
    first = days.day.min().over(group_by=days.customer_id)
    marked = days.mutate(repeat=days.day > first)
    agg = marked.group_by("customer_id").aggregate(
        first_day=_.day.min(),
        last_day=_.day.max(),
        purchase_days=_.day.count(),
        repeat_amount=_cents_sum(_.amount, where=_.repeat),
    )
    frequency = agg.purchase_days - 1
    return agg.select(
        "customer_id",
        frequency=frequency.cast("int64"),
        recency=(agg.last_day - agg.first_day).cast("float64") / unit,
        T=(ibis.literal(as_of_day) - agg.first_day).cast("float64") / unit,
        monetary=ibis.ifelse(frequency > 0, agg.repeat_amount.fill_null(0.0) / frequency, 0.0),
    )


def identified(days: ibis.Table, wh: Warehouse) -> ibis.Table:
    """``days`` without the anonymous store receipts' rows (``Warehouse.anonymous_receipts``)."""
    anonymous = wh.anonymous_receipts()
    return days if anonymous is None else days.anti_join(anonymous, "customer_id")


def customer_summary(
    wh: Warehouse, month: Day, config: KitConfig | CLVConfig, calibration_end: Day | None = None
) -> pd.DataFrame:
    """The CLV summary of the warehouse's orders as of ``month`` (a run month or any date;
    ``as_of_day``), or of ``calibration_end`` with holdout columns; identified customers
    only (anonymous store receipts left out).

    Columns: customer_id, frequency, recency, T, monetary (+ frequency_holdout,
    duration_holdout with ``calibration_end``); sorted by customer_id.
    """
    as_of = as_of_day(month)
    days = identified(purchase_days(wh, as_of + DAY), wh)
    return _summary(days, as_of, clv_config(config).time_unit, calibration_end)


def orders_summary(orders: pd.DataFrame, as_of: Day, time_unit: str = "W", calibration_end: Day | None = None,
                   source: str = "orders") -> pd.DataFrame:
    """``customer_summary`` of an orders DataFrame with the canonical columns (``ORDER_COLUMNS``;
    ``is_refund`` / ``status`` optional), every customer in it counted. ``source`` names the
    frame in error messages."""
    missing = [c for c in ORDER_COLUMNS if c not in orders.columns]
    if missing:
        raise ValueError(f"{source} has no column {', '.join(missing)}; its columns are {', '.join(map(str, orders.columns))}")
    kept = [c for c in (*ORDER_COLUMNS, "is_refund", "status") if c in orders.columns]
    table = ibis.memtable(orders[kept])
    _check_orders(table, source, "Drop or fix those rows first.")
    as_of_ts = as_of_day(as_of)
    return _summary(_days(table, as_of_ts + DAY), as_of_ts, time_unit, calibration_end)


def _summary(days: ibis.Table, as_of: pd.Timestamp, time_unit: str, calibration_end: Day | None) -> pd.DataFrame:
    """The summary (with holdout columns after ``calibration_end``) of purchase days as of ``as_of``."""
    if time_unit not in UNIT_DAYS:
        raise ValueError(f"time unit {time_unit!r}: use one of {', '.join(UNIT_DAYS)} (days, weeks)")
    unit = UNIT_DAYS[time_unit]
    last_day = _epoch_day(as_of)
    if calibration_end is None:
        frame = _summarise(days, last_day, unit).order_by("customer_id").to_pandas()
        return _typed(frame)
    cal = as_of_day(calibration_end)
    cal_day = _epoch_day(cal)
    if cal_day >= last_day:
        raise ValueError(f"calibration_end {cal.date()} must be before the as-of day {as_of.date()}")
    calibration = _summarise(days.filter(days.day <= cal_day), cal_day, unit)
    holdout = (
        days.filter(days.day > cal_day).group_by("customer_id").aggregate(frequency_holdout=_.day.count())
    )
    joined = calibration.left_join(holdout, "customer_id").select(
        *SUMMARY_COLUMNS,
        frequency_holdout=_.frequency_holdout.fill_null(0).cast("int64"),
    )
    frame = _typed(joined.order_by("customer_id").to_pandas())
    return frame.assign(duration_holdout=(last_day - cal_day) / unit)


def _epoch_day(day: pd.Timestamp) -> int:
    """Days since 1970-01-01 of a (midnight) timestamp."""
    return int((day - pd.Timestamp("1970-01-01")) // DAY)


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    """Stable dtypes: str ids, int64 frequency, float64 times and money."""
    return frame.astype(
        {"customer_id": "str", "frequency": "int64", "recency": "float64", "T": "float64", "monetary": "float64"}
    ).reset_index(drop=True)
