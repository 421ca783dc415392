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
  the speed; tests/test_churn_trees.py checks it against whole-model predictions).
  Reasons are turned into phrases from the feature values ("no order for 142 days",
  "last NPS 3") in English or Chinese.

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
from kit.churn.model import ChurnModel
from kit.report.fmt import Formatter
from kit.report.i18n import catalogue, t

N_REASONS = 3
# A partial-dependence change smaller than this (probability points) reads as "flat".
FLAT = 0.02
# A reason must move the customer's risk by at least this much (probability points).
MIN_EFFECT = 0.01

# How each feature's value is formatted inside its phrase (kit.report.fmt kinds).
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
    "city_tier": "int",
    "btyd_p_alive": "pct",
    "btyd_expected_orders": "num1",
    "visits_since_last_order": "int",
    "visit_rate_before_order": "num1",
    "visit_shortfall": "pct",
    "last_order_value_ratio": "pct",
}
# Trend features phrased from the two counts they compare: (recent, previous).
TREND_PAIRS: dict[str, tuple[str, str]] = {"visit_trend_90d": ("visits_90d", "visits_prev_90d")}


def permutation_drivers(
    model: ChurnModel, matrix: pd.DataFrame, y: np.ndarray, seed: int, max_rows: int = 4000, n_repeats: int = 2
) -> pd.DataFrame:
    """Features ranked by the drop in out-of-time ROC AUC when shuffled (``importance``)."""
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(len(y), min(max_rows, len(y)), replace=False))
    with threadpool_limits(1):
        result = permutation_importance(
            model.booster,
            matrix.iloc[rows],
            np.asarray(y)[rows],
            scoring="roc_auc",
            n_repeats=n_repeats,
            random_state=seed,
        )
    table = pd.DataFrame(
        {"feature": list(matrix.columns), "importance": result.importances_mean, "std": result.importances_std}
    )
    return table.sort_values("importance", ascending=False, ignore_index=True)


def dependence(
    model: ChurnModel, matrix: pd.DataFrame, features: list[str], seed: int, max_rows: int = 2000
) -> pd.DataFrame:
    """Average calibrated risk over a grid of each numeric feature (long: feature, value, risk)."""
    rng = np.random.default_rng(seed)
    sample = matrix.iloc[np.sort(rng.choice(len(matrix), min(max_rows, len(matrix)), replace=False))]
    # sklearn writes float64 grid values into the column: widen the float32 columns first
    sample = sample.astype({c: "float64" for c in model.spec.numeric})
    frames = []
    for feature in features:
        if feature not in model.spec.numeric or sample[feature].nunique() < 2:
            continue
        with threadpool_limits(1):
            result = partial_dependence(
                model.calibrated,
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


def feature_label(feature: str, lang: str) -> str:
    """The readable name of a feature (``churn.feature.<name>``), the raw name when none."""
    key = f"churn.feature.{feature}"
    return t(key, lang) if key in catalogue() else feature


def describe_dependence(curves: pd.DataFrame, lang: str, currency: str = "CNY") -> list[str]:
    """One plain sentence per feature: how risk moves from the low to the high end."""
    fmt = Formatter(lang, currency)
    sentences = []
    for feature, curve in curves.groupby("feature", sort=False):
        low, high = curve.iloc[0], curve.iloc[-1]
        kind = VALUE_KINDS.get(str(feature), "num1")
        change = high["risk"] - low["risk"]
        key = "churn.pd.flat" if abs(change) < FLAT else ("churn.pd.rises" if change > 0 else "churn.pd.falls")
        sentences.append(
            t(
                key,
                lang,
                feature=feature_label(str(feature), lang),
                low=fmt.apply(low["value"], kind),
                high=fmt.apply(high["value"], kind),
                risk_low=fmt.pct(low["risk"]),
                risk_high=fmt.pct(high["risk"]),
            )
        )
    return sentences


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
    typical = first.assign(**{f: _constant_like(first[f], reference[f]) for f in features})
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


def _constant_like(series: pd.Series, value: object) -> pd.Series | np.ndarray:
    """A column of ``value`` with the dtype of ``series`` (categoricals keep their levels)."""
    if isinstance(series.dtype, pd.CategoricalDtype):
        return pd.Categorical([value] * len(series), categories=series.cat.categories)
    return np.full(len(series), value, dtype=series.dtype)


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


def reason_phrases(features: pd.DataFrame, reasons: pd.DataFrame, lang: str, currency: str = "CNY") -> pd.DataFrame:
    """Readable phrases (``reason_1..k``) for reason features, from each customer's values.

    Each distinct value (pair of values for trends) is phrased once and shared by the
    customers who have it: day and order counts repeat across hundreds of thousands.
    """
    fmt = Formatter(lang, currency)
    out = {}
    for slot, column in enumerate(reasons.columns, start=1):
        phrases = np.full(len(reasons), "", dtype=object)
        codes = reasons[column].to_numpy()
        for feature in pd.unique(codes):
            if not feature:
                continue
            rows = np.flatnonzero(codes == feature)
            phrases[rows] = _distinct_phrases(str(feature), features.iloc[rows], fmt)
        out[f"reason_{slot}"] = phrases
    return pd.DataFrame(out).astype("str")


def _distinct_phrases(feature: str, rows: pd.DataFrame, fmt: Formatter) -> np.ndarray:
    """``_phrases_for`` computed once per distinct value of the columns it reads."""
    inputs = [c for c in (*TREND_PAIRS.get(feature, ()), feature) if c in rows.columns]
    if not inputs:
        return np.full(len(rows), _phrases_for(feature, rows.iloc[:1], fmt)[0], dtype=object)
    part = rows[inputs]
    distinct = part.drop_duplicates()
    position = pd.MultiIndex.from_frame(distinct).get_indexer(pd.MultiIndex.from_frame(part))
    return np.asarray(_phrases_for(feature, distinct, fmt), dtype=object)[position]


def _phrases_for(feature: str, rows: pd.DataFrame, fmt: Formatter) -> list[str]:
    """Phrases for one reason feature over the customers who have it."""
    lang = fmt.lang
    if feature in TREND_PAIRS and all(c in rows.columns for c in TREND_PAIRS[feature]):
        recent, previous = (pd.to_numeric(rows[c], errors="coerce").to_numpy(dtype=float) for c in TREND_PAIRS[feature])
        phrases = []
        for now, before in zip(recent, previous):
            if np.isnan(now) or np.isnan(before) or before <= 0:
                phrases.append(t(f"churn.reason.{feature}.none", lang, now=fmt.int(now)))
            else:
                change = now / before - 1
                key = f"churn.reason.{feature}.down" if change < 0 else f"churn.reason.{feature}.up"
                phrases.append(t(key, lang, v=fmt.pct(abs(change), 0)))
        return phrases
    values = rows[feature].to_numpy() if feature in rows.columns else np.full(len(rows), np.nan)
    key = f"churn.reason.{feature}"
    if feature.startswith("cat_share_"):
        category = feature.removeprefix("cat_share_")
        return [t("churn.reason.cat_share", lang, category=category, v=fmt.pct(v, 0)) for v in values]
    label = feature_label(feature, lang)
    kind = VALUE_KINDS.get(feature) or ("num1" if pd.api.types.is_numeric_dtype(values.dtype) else "text")
    if key not in catalogue():
        return [t("churn.reason.generic", lang, label=label, v=fmt.apply(v, kind)) for v in values]
    missing = t("churn.reason.missing", lang, label=label)
    return [missing if pd.isna(v) else t(key, lang, v=fmt.apply(v, kind)) for v in values]
