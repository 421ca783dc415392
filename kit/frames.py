"""The kit's main computations on pandas DataFrames, for an analyst with a table at hand.

Every function takes a DataFrame with named columns (``customer_id``, ``order_ts``,
``amount`` by default; a parameter names each column when yours differ), checks it first
the way scikit-learn does (a missing column is named together with the columns the frame
has, a column of the wrong kind is named with what it should hold) and returns plain
DataFrames or small result objects. The definitions are the monthly reports' own:

``rfm_summary``        frequency / recency / T / monetary per customer, as lifetimes'
                       ``summary_data_from_transaction_data`` (kit.clv.summary), as of any date
``fit_clv``            a purchase model (BG/NBD, Pareto/NBD, MBG/NBD) and the Gamma-Gamma
                       spend model fitted on that summary; per-customer P(alive), expected
                       purchases and discounted CLV (kit.clv.value)
``rfm_segments``       RFM scores and segments, value tier and lifecycle stage per customer
                       from an order log (kit.segments, kit.core.vocabulary)
``analyze_experiment`` one metric of an A/B test from one row per unit (kit.experiments.units)
``churn_scores``       the churn early warning of an order log (and, optionally, an event
                       log): trained, validated out of time and scored as 05_churn does

Orders count as purchases unless a refund column (``is_refund`` true) or a status column
(``status`` "refunded") says otherwise; an order log with neither is all paid.
The churn model trains on monthly snapshots of a warehouse, so ``churn_scores`` writes the
frames as the warehouse's canonical tables (docs/data_contract.md) into a temporary folder and
runs ``kit.churn.run_churn`` there: the same model, reasons and actions as the report.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from kit.clv import (
    COUNT_MODELS,
    UNIT_DAYS,
    FittedValue,
    as_of_day,
    fit_value,
    orders_summary,
)
from kit.churn import ChurnResult, run_churn
from kit.core.config import CLVConfig, KitConfig, SegmentationConfig
from kit.core.dates import check_month, snapshot_end
from kit.core.warehouse import Warehouse
from kit.experiments import Settings, UnitsReadout, analyse_units
from kit.segments import rfm_layers

__all__ = ["analyze_experiment", "churn_scores", "fit_clv", "rfm_segments", "rfm_summary"]

DAY = pd.Timedelta(days=1)
SUMMARY_COLUMNS = ("customer_id", "frequency", "recency", "T", "monetary")
SEGMENT_COLUMNS = (
    "customer_id", "recency_days", "frequency_all", "monetary_all", "monetary_365d",
    "r_score", "f_score", "m_score", "rfm_segment", "value_tier", "lifecycle_stage",
)


# --------------------------------------------------------------------------- input checks


def _frame(data: object, what: str) -> pd.DataFrame:
    """``data`` when it is a non-empty DataFrame; a TypeError / ValueError naming ``what`` otherwise."""
    if not isinstance(data, pd.DataFrame):
        raise TypeError(f"{what} must be a pandas DataFrame, got {type(data).__name__}")
    if data.empty:
        raise ValueError(f"{what} is empty: it has no rows")
    return data


def _require(data: pd.DataFrame, what: str, columns: Mapping[str, str | None]) -> None:
    """Raise a ValueError naming each column of ``columns`` (parameter -> column name; None =
    not used) that ``data`` lacks, the parameter that names it and the columns ``data`` has."""
    missing = [(param, name) for param, name in columns.items() if name is not None and name not in data.columns]
    if missing:
        wanted = ", ".join(f"{name!r} (set {param}= to name yours)" for param, name in missing)
        have = ", ".join(repr(str(c)) for c in data.columns)
        raise ValueError(f"{what} has no column {wanted}; its columns are {have}")


def _timestamps(values: pd.Series, name: str) -> pd.Series:
    """Column ``name`` as naive timestamps (a time zone's local wall time is kept)."""
    try:
        ts = values if pd.api.types.is_datetime64_any_dtype(values) else pd.to_datetime(values, format="mixed")
    except (TypeError, ValueError) as exc:
        raise ValueError(f"column {name!r} must hold dates or timestamps: {exc}") from exc
    return ts.dt.tz_localize(None) if getattr(ts.dt, "tz", None) is not None else ts


def _amounts(values: pd.Series, name: str) -> pd.Series:
    """Column ``name`` as float64 amounts."""
    try:
        return pd.to_numeric(values, errors="raise").astype("float64")
    except (TypeError, ValueError) as exc:
        raise ValueError(f"column {name!r} must hold numbers (amounts of money): {exc}") from exc


def _orders(orders: object, customer_id: str, order_ts: str, amount: str, refund: str, status: str) -> pd.DataFrame:
    """The orders with the canonical column names and types of kit.clv.summary
    (customer_id, order_ts, amount; is_refund and status when present)."""
    frame = _frame(orders, "orders")
    _require(frame, "orders", {"customer_id": customer_id, "order_ts": order_ts, "amount": amount})
    out = pd.DataFrame({
        "customer_id": frame[customer_id].astype("str"),
        "order_ts": _timestamps(frame[order_ts], order_ts),
        "amount": _amounts(frame[amount], amount),
    })
    if refund in frame.columns:
        try:
            out["is_refund"] = frame[refund].astype("boolean")
        except (TypeError, ValueError) as exc:
            raise ValueError(f"column {refund!r} must hold true/false refund flags (set refund= to another column): {exc}") from exc
    if status in frame.columns:
        out["status"] = frame[status].astype("str")
    return out


def _as_of(orders: pd.DataFrame, when: object) -> pd.Timestamp | str:
    """The as-of date: ``when``, or the day of the latest order when None."""
    return orders["order_ts"].max().normalize() if when is None else when  # type: ignore[return-value]


# --------------------------------------------------------------------------- CLV


def rfm_summary(
    orders: pd.DataFrame,
    observation_end: str | pd.Timestamp | None = None,
    *,
    customer_id: str = "customer_id",
    order_ts: str = "order_ts",
    amount: str = "amount",
    refund: str = "is_refund",
    status: str = "status",
    time_unit: str = "W",
    calibration_end: str | pd.Timestamp | None = None,
) -> pd.DataFrame:
    """One row per customer with a paid order up to ``observation_end``: frequency (repeat
    purchase days), recency and T (in ``time_unit``: "W" weeks or "D" days) and monetary
    (mean spend of the repeat purchase days), sorted by customer_id.

    ``observation_end`` is any date (orders on that day count) or a month "YYYY-MM" (its
    last day); None takes the day of the latest order, as lifetimes does. Orders on the same
    day are one purchase. With ``calibration_end`` the summary is as of that date, with
    ``frequency_holdout`` and ``duration_holdout`` up to ``observation_end``, for checking
    a model on the holdout. The result's ``attrs["time_unit"]`` records the unit for ``fit_clv``.
    """
    frame = _orders(orders, customer_id, order_ts, amount, refund, status)
    summary = orders_summary(frame, _as_of(frame, observation_end), time_unit, calibration_end, source="orders")
    summary.attrs["time_unit"] = time_unit
    return summary


def fit_clv(
    summary: pd.DataFrame,
    model: str = "bgnbd",
    *,
    horizon_months: int = 12,
    monthly_discount_rate: float = 0.01,
    gross_margin: float = 0.3,
    time_unit: str | None = None,
) -> FittedValue:
    """Fit purchase model ``model`` (``bgnbd``, ``paretonbd`` or ``mbgnbd``) and the
    Gamma-Gamma spend model on an ``rfm_summary`` and value every customer.

    Returns ``.model`` and ``.spend`` (fitted; ``params_``, ``confidence_intervals()``) and
    ``.scores``: per customer expected_purchases over ``horizon_months``, p_alive,
    expected_spend per order, clv (gross_margin x spend, discounted monthly at
    ``monthly_discount_rate``) and clv_tier (high = top 10%, medium = next 30%, low).
    ``time_unit`` defaults to the summary's own (``attrs["time_unit"]``, else "W").
    """
    frame = _frame(summary, "summary")
    _require(frame, "summary", {column: column for column in SUMMARY_COLUMNS})
    if model not in COUNT_MODELS:
        raise ValueError(f"model {model!r} is not known; use one of {', '.join(COUNT_MODELS)}")
    own = frame.attrs.get("time_unit")
    unit = time_unit or own or "W"
    if unit not in UNIT_DAYS:
        raise ValueError(f"time_unit {unit!r}: use one of {', '.join(UNIT_DAYS)} (days, weeks)")
    if own and own != unit:
        raise ValueError(f"time_unit {unit!r} differs from the summary's {own!r}: leave time_unit out to use the summary's")
    if isinstance(horizon_months, bool) or not isinstance(horizon_months, int) or horizon_months < 1:
        raise ValueError(f"horizon_months must be a whole number of months of at least 1, got {horizon_months!r}")
    if not 0 < gross_margin <= 1:
        raise ValueError(f"gross_margin must be a share in (0, 1] (1 values revenue), got {gross_margin!r}")
    if monthly_discount_rate < 0:
        raise ValueError(f"monthly_discount_rate must be 0 or more, got {monthly_discount_rate!r}")
    config = CLVConfig(time_unit=unit, horizon_months=horizon_months, monthly_discount_rate=monthly_discount_rate,  # type: ignore[arg-type]
                       gross_margin=gross_margin)
    return fit_value(frame.reset_index(drop=True), config, model)


# --------------------------------------------------------------------------- segments


def order_profile(orders: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """The profile columns RFM layering reads, from canonical orders (``_orders``), as
    kit.profile.features defines them: days are measured to the end of the as-of day, an
    order counts unless refunded, and a customer whose every order was refunded has not
    ordered (no recency). Customers whose first order is after ``as_of`` are left out."""
    end = as_of + DAY
    known = orders[orders["order_ts"] < end]
    refunded = known["is_refund"].fillna(False).to_numpy(bool) if "is_refund" in known else np.zeros(len(known), bool)
    if "status" in known:
        refunded |= (known["status"] == "refunded").fillna(False).to_numpy(bool)
    paid = known[~refunded].assign(recent=lambda f: f["order_ts"] >= end - 365 * DAY)
    per = paid.groupby("customer_id").agg(
        first=("order_ts", "min"), last=("order_ts", "max"), frequency_all=("amount", "size"), monetary_all=("amount", "sum"),
    )
    per["monetary_365d"] = paid[paid["recent"]].groupby("customer_id")["amount"].sum()
    profile = pd.DataFrame(index=pd.Index(sorted(known["customer_id"].unique()), name="customer_id")).join(per)
    return pd.DataFrame({
        "customer_id": profile.index.astype("str"),
        "has_ordered": profile["frequency_all"].notna().to_numpy(),
        "recency_days": ((end - profile["last"]) / DAY).to_numpy(dtype=float, na_value=np.nan),
        "days_since_first_order": ((end - profile["first"]) / DAY).to_numpy(dtype=float, na_value=np.nan),
        "frequency_all": profile["frequency_all"].fillna(0).to_numpy(dtype=float),
        "monetary_all": profile["monetary_all"].fillna(0.0).to_numpy(dtype=float),
        "monetary_365d": profile["monetary_365d"].fillna(0.0).to_numpy(dtype=float),
    })


def rfm_segments(
    orders: pd.DataFrame,
    as_of: str | pd.Timestamp | None = None,
    *,
    customer_id: str = "customer_id",
    order_ts: str = "order_ts",
    amount: str = "amount",
    refund: str = "is_refund",
    status: str = "status",
    config: KitConfig | SegmentationConfig | None = None,
) -> pd.DataFrame:
    """RFM layers per customer as of ``as_of`` (any date, orders on it count; a month
    "YYYY-MM" means its last day; None = the day of the latest order).

    Columns: customer_id, recency_days (days from the last order to the end of the as-of
    day), frequency_all (orders), monetary_all (spend), monetary_365d (spend in the last
    365 days), r_score / f_score / m_score (1-5, 5 = best; empty for a customer with only
    refunded orders), rfm_segment (named segment codes such as "Champions"; "Prospect" when
    unscored), value_tier (high / medium / low by share of 365-day spend) and
    lifecycle_stage (new / active / silent / churned / prospect). Thresholds and the scheme
    (rfm11 or cn8, score breaks) come from ``config``'s segmentation section (the
    defaults of kit.core.config when None).
    """
    frame = _orders(orders, customer_id, order_ts, amount, refund, status)
    day = as_of_day(_as_of(frame, as_of))
    profile = order_profile(frame, day)
    if profile.empty:
        raise ValueError(f"orders has no order on or before {day.date()}: nothing to segment")
    layers = rfm_layers(profile, config if config is not None else SegmentationConfig())
    return pd.concat([profile, layers], axis=1)[list(SEGMENT_COLUMNS)]


# --------------------------------------------------------------------------- experiments


def analyze_experiment(
    units: pd.DataFrame,
    metric: str,
    variant: str = "variant",
    control: str = "control",
    *,
    covariate: str | None = None,
    denominator: str | None = None,
    higher_is_better: bool = True,
    planned: dict[str, float] | None = None,
    alpha: float = 0.05,
    correction: str = "holm",
) -> UnitsReadout:
    """Read out ``metric`` of an A/B test from one row per unit: every arm of column
    ``variant`` against arm ``control``.

    ``covariate`` names each unit's pre-experiment value of the metric (CUPED variance
    reduction); ``denominator`` makes the metric a ratio (sum of ``metric`` / sum of
    ``denominator``, e.g. revenue per order); ``planned`` ({arm: share}) adds the
    sample-ratio check. P-values and intervals are corrected over the treatments
    (``correction`` "holm" or "bh"). Returns ``.results`` (one row per treatment: effect,
    relative lift, intervals, p-values, chance to win, minimum detectable effect),
    ``.decision`` (ship / do_not_ship / investigate), ``.srm`` and ``.assigned``.
    """
    frame = _frame(units, "units")
    _require(frame, "units", {"metric": metric, "variant": variant, "covariate": covariate, "denominator": denominator})
    if covariate is not None and denominator is not None:
        raise ValueError("give covariate (CUPED on a mean metric) or denominator (a ratio metric), not both")
    if correction not in ("holm", "bh"):
        raise ValueError(f"correction {correction!r}: use 'holm' or 'bh'")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be between 0 and 1, got {alpha!r}")
    settings = Settings(alpha=alpha, correction=correction)
    return analyse_units(frame, metric, variant, control, covariate=covariate, denominator=denominator,
                         higher_is_better=higher_is_better, planned=planned, settings=settings)


# --------------------------------------------------------------------------- churn


def _warehouse_tables(orders: pd.DataFrame, events: pd.DataFrame | None, folder: Path) -> None:
    """Write ``orders`` (canonical names, kit.clv.summary types) and ``events`` as the
    warehouse tables churn reads: orders, customers (first seen = first order or event) and
    events. Columns the frames do not have are absent, as for a company without them."""
    table = orders.assign(
        order_id=[f"o{i}" for i in range(len(orders))],
        status=orders["status"] if "status" in orders else "paid",
        is_refund=orders["is_refund"].fillna(False).astype(bool) if "is_refund" in orders else False,
    )
    if "status" in orders and "is_refund" not in orders:
        table["is_refund"] = orders["status"].str.lower().eq("refunded").to_numpy()
    table.to_parquet(folder / "orders.parquet", index=False)
    seen = [orders[["customer_id", "order_ts"]].rename(columns={"order_ts": "first_seen"})]
    if events is not None:
        events.to_parquet(folder / "events.parquet", index=False)
        seen.append(events[["customer_id", "event_ts"]].rename(columns={"event_ts": "first_seen"}))
    customers = pd.concat(seen).groupby("customer_id", as_index=False)["first_seen"].min()
    customers.to_parquet(folder / "customers.parquet", index=False)


def churn_scores(
    orders: pd.DataFrame,
    month: str,
    events: pd.DataFrame | None = None,
    *,
    customer_id: str = "customer_id",
    order_ts: str = "order_ts",
    amount: str = "amount",
    refund: str = "is_refund",
    status: str = "status",
    event_ts: str = "event_ts",
    event_type: str = "event_type",
    config: KitConfig | None = None,
) -> ChurnResult:
    """The churn early warning as of the end of ``month`` ("YYYY-MM"), from an order log and
    optionally an event log (one row per event: ``customer_id``, ``event_ts``, ``event_type``;
    every event type becomes features, kit.profile.events).

    As 05_churn: a gradient-boosting model is trained on the earlier month ends whose next
    ``churn.window_days`` are known, validated out of time, and scores every customer not yet
    churned (an order in the ``segmentation.silent_days`` before the month end). Returns the
    kit.churn.ChurnResult: ``.scores`` (customer_id, churn_probability, reason codes with
    their values, clv, value_at_risk, action), ``.quality`` (AUC and more on the validation
    month, against a recency baseline), ``.drivers`` and ``.headline()``. The thresholds are
    ``config``'s (KitConfig defaults when None). Orders after the month are not read.
    """
    frame = _orders(orders, customer_id, order_ts, amount, refund, status)
    end = snapshot_end(check_month(month))
    if not (frame["order_ts"] < end).any():
        raise ValueError(f"orders has no order before the end of {month}: nothing to learn churn from")
    activity = None
    if events is not None:
        log = _frame(events, "events")
        _require(log, "events", {"customer_id": customer_id, "event_ts": event_ts, "event_type": event_type})
        activity = pd.DataFrame({
            "customer_id": log[customer_id].astype("str"),
            "event_ts": _timestamps(log[event_ts], event_ts),
            "event_type": log[event_type].astype("str").str.strip().str.lower(),
        })
    with tempfile.TemporaryDirectory(prefix="kit_churn_") as folder:
        _warehouse_tables(frame, activity, Path(folder))
        return run_churn(Warehouse(folder), month, config if config is not None else KitConfig())
