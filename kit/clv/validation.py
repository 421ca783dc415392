"""Calibration/holdout validation of the purchase models, and the choice of model.

Each configured model is fitted on the calibration period (the summary as of
``clv.holdout_months`` before the run month) and predicts every customer's repeat
purchases in the holdout months; so does a naive baseline (each customer keeps buying at
their historical repeat rate, frequency / T). We report per model: the total predicted vs
actual holdout purchases (total error, relative) and the mean absolute error per
customer (MAE), and per calibration-frequency bucket the average predicted and actual
purchases (the classic "calibration vs holdout" chart). The model with the lowest MAE is
chosen; a model whose fit fails is shown as failed with its message and not chosen.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from kit.clv.base import ClvFitError, CountModel, per_customer
from kit.clv.models import make_model

NAIVE = "naive"
BUCKET_CAP = 7  # calibration frequencies 0..6 and "7+"


@dataclass(frozen=True)
class Validation:
    """Holdout scores per model, the per-bucket comparison and the chosen model's name."""

    scores: pd.DataFrame  # model, label, status, predicted, actual, total_error, mae, mae_vs_naive
    buckets: pd.DataFrame  # bucket, customers, actual, then one column of mean prediction per model
    chosen: str
    fits: dict[str, CountModel]  # the calibration fits that succeeded
    n_customers: int
    duration: float  # holdout length in time units


def naive_prediction(frequency, T, duration: float) -> np.ndarray:
    """Each customer's repeat rate so far (frequency / T) times the holdout length."""
    f = np.asarray(frequency, dtype=float)
    age = np.asarray(T, dtype=float)
    return np.where(age > 0, f / np.where(age > 0, age, 1.0), 0.0) * duration


def validate(holdout: pd.DataFrame, models: list[str]) -> Validation:
    """Fit ``models`` on the calibration columns of ``holdout`` (from
    ``customer_summary(..., calibration_end=...)``) and score them on the holdout columns."""
    if holdout.empty:
        raise ValueError("no customers bought before the calibration end: shorten clv.holdout_months")
    if not models:
        raise ValueError("clv.models is empty: list at least one of bgnbd, paretonbd, mbgnbd")
    duration = float(holdout["duration_holdout"].iloc[0])
    f, r, T = (holdout[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    actual = holdout["frequency_holdout"].to_numpy(float)
    predictions = {NAIVE: naive_prediction(f, T, duration)}
    labels = {NAIVE: NAIVE}
    status: dict[str, str] = {NAIVE: "ok"}
    fits: dict[str, CountModel] = {}
    for name in models:
        model = make_model(name)
        labels[name] = model.label
        try:
            model.fit(f, r, T)
        except ClvFitError as exc:
            status[name] = f"failed: {exc}"
            continue
        fits[name] = model
        status[name] = "ok"
        predictions[name] = per_customer(
            lambda x, t_x, age, m=model: m.conditional_expected_purchases(duration, x, t_x, age), f, r, T
        )
    if not fits:
        raise ClvFitError("no CLV model could be fitted on the calibration period: " + "; ".join(status.values()))
    scores = _scores(predictions, actual, labels, status)
    usable = scores[scores["model"].isin(list(fits))]
    chosen = str(usable.sort_values("mae")["model"].iloc[0])
    return Validation(scores, _buckets(f, actual, predictions), chosen, fits, len(holdout), duration)


def _scores(predictions, actual, labels, status) -> pd.DataFrame:
    """One row per model: totals, relative total error, MAE and MAE relative to naive."""
    total_actual = float(actual.sum())
    naive_mae = float(np.mean(np.abs(predictions[NAIVE] - actual)))
    rows = []
    for name, label in labels.items():
        pred = predictions.get(name)
        mae = float(np.mean(np.abs(pred - actual))) if pred is not None else np.nan
        total = float(pred.sum()) if pred is not None else np.nan
        rows.append(
            {
                "model": name,
                "label": label,
                "status": status[name],
                "predicted": total,
                "actual": total_actual,
                "total_error": (total - total_actual) / total_actual if total_actual > 0 else np.nan,
                "mae": mae,
                "mae_vs_naive": mae / naive_mae - 1 if naive_mae > 0 else np.nan,
            }
        )
    return pd.DataFrame(rows)


def _buckets(frequency: np.ndarray, actual: np.ndarray, predictions: dict[str, np.ndarray]) -> pd.DataFrame:
    """Mean actual and predicted holdout purchases per calibration frequency (0..6, 7+)."""
    bucket = np.minimum(frequency, BUCKET_CAP).astype(int)
    frame = pd.DataFrame({"bucket": bucket, "actual": actual} | predictions)
    out = frame.groupby("bucket").mean()
    out.insert(0, "customers", frame.groupby("bucket").size())
    out = out.reset_index()
    out["bucket"] = out["bucket"].map(lambda b: f"{BUCKET_CAP}+" if b == BUCKET_CAP else str(b)).astype("str")
    return out
