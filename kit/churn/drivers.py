"""Why the model flags customers: global drivers and per-customer reasons.

- Global drivers: ``sklearn.inspection.permutation_importance`` of the booster on the
  out-of-time validation snapshot (drop in ROC AUC when a feature is shuffled), on a
  seeded sample of at most ``max_rows`` rows to keep it fast at 1M customers.
- Partial dependence (``sklearn.inspection.partial_dependence``, brute force on the
  calibrated model) of the top numeric drivers, described in plain words.
- Per-customer reasons come from the model's own occlusion attributions: for each
  customer and each of the top global drivers, the change in the booster's predicted
  risk when that one feature is replaced by the population's typical value (median, or
  most common level). The three largest positive changes are the customer's reasons.
  This is exact for the model (it only queries the model's trees); exact TreeSHAP
  costs trees x leaves x depth^2 steps per customer, against one walk per tree plus a
  few partial re-walks here. ``kit.churn.trees`` computes
  the scores and all occlusions in one walk over the trees (module docstring there for
  the speed; tests/unit/test_churn_trees.py checks it against whole-model predictions).
  Reasons are stored as codes with the numbers their phrase needs (``reason_inputs``:
  ``reason_1`` = ``recency_days``, ``reason_1_value`` = 142), the same in every language,
  and turned into phrases only for display (``kit.churn.page.reason_phrases``: "no order
  for 142 days", "已142天未下单").

Permutation importance and partial dependence run single-threaded
(``threadpool_limits(1)``): they make hundreds of predictions on a few thousand rows,
where OpenMP start-up costs more than it saves; on a busy 2-core machine measured 5-10x
slower multi-threaded (80 s vs 12 s on the 10,000-customer demo).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import expit
from sklearn.inspection import partial_dependence, permutation_importance
from threadpoolctl import threadpool_limits

from kit.churn import trees
from kit.churn.model import ChurnModel, FeatureSpec, Predictor, constant_like
from kit.core.sampling import smallest_keys

N_REASONS = 3
# A partial-dependence change smaller than this (probability points) reads as "flat".
FLAT = 0.02
# A global driver is material when shuffling it costs more than this much out-of-time AUC
# (and more than the spread of that cost over the repeats).
MIN_IMPORTANCE = 0.002
# ... and at least this many standard deviations over the shuffles (scikit-learn's own
# permutation-importance example keeps features with mean - 2 x std > 0): with one std, one
# of 30 pure-noise columns passed on a 900-customer validation month (tests/integration/test_churn.py).
MATERIAL_SD = 2.0
# |rank correlation| of a feature with the predicted risk below this has no stated direction.
MIN_CORRELATION = 0.05
# A reason must move the customer's risk by at least this much (probability points).
MIN_EFFECT = 0.01

# How each feature's value is formatted inside its phrase (kit.text.fmt kinds).
VALUE_KINDS: dict[str, str] = {
    "recency_days": "days",
    "days_since_last_visit": "days",
    "tenure_days": "days",
    "interpurchase_days": "days",
    "frequency_30d": "int",
    "frequency_90d": "int",
    "frequency_365d": "int",
    "frequency_all": "int",
    "monetary_30d": "money",
    "monetary_90d": "money",
    "monetary_365d": "money",
    "monetary_all": "money",
    "aov_all": "money",
    "visits_30d": "int",
    "visits_90d": "int",
    "visits_prev_90d": "int",
    "views_90d": "int",
    "add_to_cart_90d": "int",
    "cart_abandonment_rate_90d": "pct",
    "discount_share": "pct",
    "last_nps": "int",
    "avg_csat": "num1",
    "low_score_count": "int",
    "age": "int",
    "ev_negative_28d": "int",
    "ev_positive_28d": "int",
    "sub_tenure_days": "days",
    "sub_mrr": "money",
    "sub_count": "int",
    "sub_cancelled": "int",
    "city_tier": "int",
    "btyd_p_alive": "pct",
    "btyd_expected_orders": "num1",
    "visits_since_last_order": "int",
    "visit_rate_before_order": "num1",
    "visit_shortfall": "pct",
    "last_order_value_ratio": "pct",
    "event_days_28d": "int",
}
# Trend features phrased from the two counts they compare: (recent, previous).
TREND_PAIRS: dict[str, tuple[str, str]] = {"visit_trend_90d": ("visits_90d", "visits_prev_90d")}


def permutation_drivers(
    estimator: Predictor,
    matrix: pd.DataFrame,
    y: np.ndarray,
    ids: np.ndarray,
    seed: int,
    max_rows: int = 4000,
    n_repeats: int = 3,
) -> pd.DataFrame:
    """Features ranked by the drop in out-of-time ROC AUC when shuffled (``importance``, its
    ``std`` over the repeats) of the scoring ``estimator`` (it takes the model matrix), on the
    ``max_rows`` customers (``ids``, one per row) with the smallest seeded keys; ``material``
    when the drop is above ``MIN_IMPORTANCE`` and ``MATERIAL_SD`` times its std, and ``direction`` (``raises``
    / ``lowers``: more of a numeric feature, more or less risk, by the sign of its rank
    correlation with the predicted risk; "" for text features and flat ones)."""
    rows = np.sort(smallest_keys(ids, max_rows, seed))
    sample = matrix.iloc[rows]
    with threadpool_limits(1):
        risk = estimator.predict_proba(sample)[:, 1]
        result = permutation_importance(
            estimator,
            sample,
            np.asarray(y)[rows],
            scoring="roc_auc",
            n_repeats=n_repeats,
            random_state=seed,
        )
    table = pd.DataFrame(
        {"feature": list(matrix.columns), "importance": result.importances_mean, "std": result.importances_std}
    )
    table["material"] = (table["importance"] > MIN_IMPORTANCE) & (table["importance"] > MATERIAL_SD * table["std"])
    table["direction"] = [_direction(sample[c], risk) for c in table["feature"]]
    return table.sort_values("importance", ascending=False, ignore_index=True)


def _direction(values: pd.Series, risk: np.ndarray) -> str:
    """``raises`` / ``lowers`` when the numeric ``values`` rank with or against ``risk``
    (Spearman correlation beyond ``MIN_CORRELATION``), else ""."""
    if isinstance(values.dtype, pd.CategoricalDtype) or values.nunique() < 2:
        return ""
    rho = pd.Series(values.to_numpy(dtype=float, na_value=np.nan)).rank().corr(pd.Series(risk).rank())
    if not np.isfinite(rho) or abs(rho) < MIN_CORRELATION:
        return ""
    return "raises" if rho > 0 else "lowers"


def material_drivers(table: pd.DataFrame) -> list[str]:
    """The ``material`` features of a ``permutation_drivers`` table, most important first."""
    return table.loc[table["material"], "feature"].tolist()


def dependence(
    estimator: Predictor,
    spec: FeatureSpec,
    matrix: pd.DataFrame,
    features: list[str],
    ids: np.ndarray,
    seed: int,
    max_rows: int = 2000,
) -> pd.DataFrame:
    """Average risk of the scoring ``estimator`` (calibrated tree model or baseline) over a
    grid of each numeric feature (long: feature, value, risk), on the ``max_rows`` customers
    (``ids``, one per row) with the smallest seeded keys."""
    sample = matrix.iloc[np.sort(smallest_keys(ids, max_rows, seed))]
    # sklearn writes float64 grid values into the column: widen the float32 columns first
    sample = sample.astype({c: "float64" for c in spec.numeric})
    frames = []
    for feature in features:
        if feature not in spec.numeric or sample[feature].nunique() < 2:
            continue
        with threadpool_limits(1):
            result = partial_dependence(
                estimator,
                sample,
                [feature],
                kind="average",
                method="brute",
                response_method="predict_proba",
                grid_resolution=12,
                percentiles=(0.05, 0.95),
            )
        curve = pd.DataFrame({"feature": feature, "value": result["grid_values"][0], "risk": result["average"][0]})
        frames.append(curve.dropna())
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["feature", "value", "risk"])


def dependence_summary(curves: pd.DataFrame) -> pd.DataFrame:
    """One row per feature of ``dependence`` curves: the grid's low and high end (``low``,
    ``high``), the risk there (``risk_low``, ``risk_high``) and ``trend``: ``rises`` /
    ``falls``, or ``flat`` when the risk moves by less than ``FLAT`` (codes, phrased by
    kit.churn.page)."""
    rows = []
    for feature, curve in curves.groupby("feature", sort=False):
        low, high = curve.iloc[0], curve.iloc[-1]
        change = float(high["risk"] - low["risk"])
        trend = "flat" if abs(change) < FLAT else ("rises" if change > 0 else "falls")
        rows.append({"feature": str(feature), "low": float(low["value"]), "high": float(high["value"]),
                     "risk_low": float(low["risk"]), "risk_high": float(high["risk"]), "trend": trend})
    return pd.DataFrame(rows, columns=["feature", "low", "high", "risk_low", "risk_high", "trend"])


# --------------------------------------------------------------------------- per customer


def reference_values(matrix: pd.DataFrame) -> dict[str, object]:
    """The typical value of each model column: median (numeric) or most common level."""
    reference: dict[str, object] = {}
    for column in matrix.columns:
        series = matrix[column]
        if isinstance(series.dtype, pd.CategoricalDtype):
            counts = series.value_counts()
            reference[column] = counts.index[0] if len(counts) and counts.iloc[0] > 0 else np.nan
        else:
            reference[column] = float(np.nanmedian(series.to_numpy())) if series.notna().any() else np.nan
    return reference


def occlusion_attributions(
    model: ChurnModel,
    matrix: pd.DataFrame,
    features: list[str],
    reference: dict[str, object],
    batch_rows: int = 100_000,
) -> tuple[np.ndarray, pd.DataFrame]:
    """The booster's raw scores, and per feature: risk(customer) - risk(customer with that
    feature set to its typical value).

    Positive attributions mean the customer's own value of that feature raises their risk.
    Exact for the model: ``kit.churn.trees`` walks the booster's trees once per row and
    again only where an occluded feature lies on the row's path. The raw scores are the
    booster's ``decision_function`` (``ChurnModel.calibrate`` turns them into the scored
    probability, so scoring needs no second pass). Computed in row batches, so memory
    stays bounded at 1M customers.
    """
    booster = model.booster
    flat = trees.flatten(booster)
    position = _booster_columns(booster, list(matrix.columns))
    columns = np.array([position[f] for f in features], dtype=np.int64)
    first = matrix.iloc[:1]
    typical = first.assign(**{f: constant_like(first[f], reference[f]) for f in features})
    typical_values = booster._preprocess_X(typical, reset=False)[0, columns] if len(first) else np.zeros(len(features))
    raw = np.empty(len(matrix))
    out = np.zeros((len(matrix), len(features)), dtype="float32")
    for start in range(0, len(matrix), batch_rows):
        chunk = matrix.iloc[start : start + batch_rows]
        scores, change = trees.score_and_occlude(flat, booster._preprocess_X(chunk, reset=False), columns, typical_values)
        raw[start : start + len(chunk)] = scores
        out[start : start + len(chunk)] = expit(scores)[:, None] - expit(scores[:, None] + change)
    return raw, pd.DataFrame(out, columns=features)


def _booster_columns(booster: object, columns: list[str]) -> dict[str, int]:
    """Where each input column sits in the booster's preprocessed matrix (its trees'
    ``feature_idx``): categorical columns first, then numeric, each in input order."""
    categorical = getattr(booster, "is_categorical_", None)
    if getattr(booster, "_preprocessor", None) is None or categorical is None:
        return {c: i for i, c in enumerate(columns)}
    order = np.concatenate([np.flatnonzero(categorical), np.flatnonzero(~categorical)])
    return {columns[k]: p for p, k in enumerate(order)}


def top_reasons(attributions: pd.DataFrame, k: int = N_REASONS, min_effect: float = MIN_EFFECT) -> pd.DataFrame:
    """For each row, the ``k`` features that raise the risk most (``reason_feature_1..k``)."""
    values = attributions.to_numpy()
    names = np.array(list(attributions.columns) + [""], dtype=object)
    order = np.argsort(-values, axis=1, kind="stable")[:, :k]
    picked = np.take_along_axis(values, order, axis=1)
    order = np.where(picked >= min_effect, order, len(names) - 1)
    result = pd.DataFrame({f"reason_feature_{i + 1}": names[order[:, i]] for i in range(order.shape[1])})
    for i in range(order.shape[1], k):
        result[f"reason_feature_{i + 1}"] = ""
    return result


def reason_inputs(
    features: pd.DataFrame, reasons: pd.DataFrame, typical: dict[str, object] | None = None
) -> pd.DataFrame:
    """Language-neutral reasons: per slot ``k`` of ``reasons`` (``top_reasons``' columns),
    ``reason_k`` (the feature code, ``feature=level`` for a text feature, "" for none),
    ``reason_k_value`` (the customer's value; the recent count for a trend),
    ``reason_k_before`` (a trend's earlier count, else NaN) and ``reason_k_typical`` (the
    population's typical value of a numeric feature, from ``typical`` =
    ``reference_values``; else NaN), from ``features`` (same rows)."""
    typical = typical or {}
    out: dict[str, object] = {}
    for slot, column in enumerate(reasons.columns, start=1):
        codes = reasons[column].to_numpy(dtype=object).copy()
        value = np.full(len(reasons), np.nan)
        before = np.full(len(reasons), np.nan)
        usual = np.full(len(reasons), np.nan)
        for feature in pd.unique(reasons[column]):
            rows = np.flatnonzero(reasons[column].to_numpy() == feature)
            pair = TREND_PAIRS.get(feature, ())
            if pair and all(c in features.columns for c in pair):
                value[rows] = pd.to_numeric(features[pair[0]].iloc[rows], errors="coerce").to_numpy(dtype=float)
                before[rows] = pd.to_numeric(features[pair[1]].iloc[rows], errors="coerce").to_numpy(dtype=float)
            elif feature and feature in features.columns:
                data = features[feature].iloc[rows]
                if pd.api.types.is_numeric_dtype(data) or pd.api.types.is_bool_dtype(data):
                    value[rows] = data.to_numpy(dtype=float, na_value=np.nan)
                    usual[rows] = float(typical.get(feature, np.nan))
                else:
                    codes[rows] = [f"{feature}={v}" if pd.notna(v) else feature for v in data]
        out[f"reason_{slot}"] = pd.Series(codes, dtype="str")
        out[f"reason_{slot}_value"] = value
        out[f"reason_{slot}_before"] = before
        out[f"reason_{slot}_typical"] = usual
    return pd.DataFrame(out)
