"""The churn model, its baseline, calibration and out-of-time metrics.

- ``FeatureSpec`` turns a features frame into the model matrix: every numeric or boolean
  feature as float32, low-cardinality text features as pandas categoricals with fixed
  categories (HistGradientBoosting splits on them natively). Dates, ids, ``city``
  (many levels; ``city_tier`` carries its signal) and ``has_ordered`` (true for the whole
  population) are left out.
- ``screen``: before scikit-learn sees them, model columns with no value at all, with one
  value for everyone, or with the same values as an earlier column (``ev_visit_90d`` is
  ``visits_90d``) are dropped, each with its reason (``DROP_REASONS``): an all-null column
  makes HistGradientBoosting fail ("window shape cannot be larger than input array shape")
  and a constant one carries nothing. ``check_enough`` stops with the features left and
  the inputs missing when fewer than ``MIN_MODEL_FEATURES`` remain.
- ``fit_churn_model``: a HistGradientBoostingClassifier fitted on the older training
  snapshots, then calibrated on the newest one (a time-ordered hold-out) with
  ``CalibratedClassifierCV(FrozenEstimator(...))``: isotonic when the hold-out has at
  least ``ISOTONIC_MIN_ROWS`` rows, Platt scaling (sigmoid) below that, where isotonic
  steps overfit.
- ``fit_logistic``: the baseline, an L2-regularised logistic regression on the same screened
  model columns (``FeatureSpec.design``: signed log1p of every numeric column, one column per
  level of a text one; median-imputed and standardised). The tree model scores the customers
  only when its out-of-time AUC beats this baseline's by ``churn.min_auc_gain``
  (``choose_scorer``); otherwise the baseline scores them (``LogisticChurnModel``).
- ``fit_recency_baseline``: logistic regression on log recency, frequency, spend and tenure,
  the RFM yardstick shown beside both.
- Metrics: ROC AUC, PR AUC (average precision), Brier score, and the lift and share of
  churners caught in the riskiest 10% and 20%.

The booster learns at rate 0.05 with 15 leaves per tree (smoother than 0.1 and 31 leaves:
docs/decisions/0013-churn-booster-settings.md). Training rows are capped at
``MAX_TRAINING_ROWS`` (the customers with the smallest ``kit.core.sampling.stable_key`` under
``churn.seed``, not a draw of row positions): beyond that the out-of-time AUC stops
improving while fit time keeps growing linearly (docs/decisions/0014-churn-training-sample.md).

Same inputs, same model: the rows reach the booster sorted by snapshot month and customer
id (``kit.churn.pipeline``), so its internal early-stopping split (``validation_fraction``,
drawn by position with ``random_state = churn.seed``) holds the same customers in every run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import pandas as pd
from scipy.special import expit
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.frozen import FrozenEstimator
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import (
    average_precision_score,
    brier_score_loss,
    roc_auc_score,
    roc_curve,
)
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from kit.core.sampling import smallest_keys

# ids, dates, the label, ``city`` (many levels; ``city_tier`` carries its signal) and
# ``has_ordered`` (true for everyone in the population: kit.churn.dataset)
# and ``sub_cancelled``: a cancellation recorded while the period is still paid decides the
# label (the subscription ends at its paid-through date), so it would rank customers who
# already decided to leave first and crowd out the behaviours that warn before the decision
# (measured: 10 of the 50 riskiest subscribers had a true behaviour as first reason with it,
# 49 of 50 without; kit.bench.churn_truth)
NON_FEATURES = frozenset(
    {"customer_id", "snapshot_date", "snapshot_month", "churned", "first_order_date", "last_order_date", "city",
     "has_ordered", "sub_cancelled"}
)
MAX_CATEGORIES = 60
ISOTONIC_MIN_ROWS = 2000
MAX_TRAINING_ROWS = 300_000
# inverse L2 strength of the baseline (on standardised inputs)
LOGISTIC_C = 0.1
BASELINE_FEATURES = ("recency_days", "frequency_365d", "monetary_365d", "tenure_days")
MIN_MODEL_FEATURES = 3
# Why a model column is dropped (codes; kit.churn.page words them): no value at all in the
# run month, one value for everyone, the same values as an earlier column, or no value in
# the snapshots a model is fitted on.
DROP_REASONS = ("empty", "constant", "duplicate", "empty_in_training")


class Predictor(Protocol):
    """What scores a model matrix: the calibrated tree model, its booster or the baseline."""

    def predict_proba(self, matrix: pd.DataFrame) -> np.ndarray: ...


class ChurnModelError(ValueError):
    """The training data cannot produce a model (one class only, missing columns)."""


def _as_float(series: pd.Series) -> np.ndarray:
    """A numeric or boolean column as float32 with NaN for missing values."""
    values = pd.to_numeric(series, errors="coerce")
    return values.astype("Float64").to_numpy(dtype="float32", na_value=np.nan)


@dataclass(frozen=True)
class FeatureSpec:
    """The model's input columns: numeric names and categorical names with their levels."""

    numeric: tuple[str, ...]
    categorical: tuple[tuple[str, tuple[str, ...]], ...]

    @classmethod
    def infer(cls, frame: pd.DataFrame) -> "FeatureSpec":
        """Pick model columns from a features frame (see module docstring for the rules)."""
        numeric, categorical = [], []
        for column in frame.columns:
            if column in NON_FEATURES:
                continue
            series = frame[column]
            if pd.api.types.is_datetime64_any_dtype(series):
                continue
            if pd.api.types.is_bool_dtype(series) or pd.api.types.is_numeric_dtype(series):
                numeric.append(column)
                continue
            levels = series.dropna().astype(str).unique()
            if len(levels) <= MAX_CATEGORIES:
                categorical.append((column, tuple(sorted(levels))))
        if not numeric:
            raise ChurnModelError("features frame has no numeric feature columns to model churn with.")
        return cls(tuple(numeric), tuple(categorical))

    @property
    def columns(self) -> tuple[str, ...]:
        """All model columns, numeric first."""
        return self.numeric + tuple(name for name, _ in self.categorical)

    def without(self, columns: set[str] | list[str]) -> "FeatureSpec":
        """This spec less ``columns``."""
        drop = set(columns)
        return FeatureSpec(
            tuple(c for c in self.numeric if c not in drop), tuple((c, v) for c, v in self.categorical if c not in drop)
        )

    def design(self, matrix: pd.DataFrame) -> np.ndarray:
        """The linear models' inputs for model ``matrix``: signed log1p of each numeric column
        (counts, days and money are skewed), then one 0/1 column per level of each text
        column, in ``design_features`` order."""
        numeric = matrix[list(self.numeric)].to_numpy(dtype="float64", na_value=np.nan)
        parts = [np.sign(numeric) * np.log1p(np.abs(numeric))]
        for name, levels in self.categorical:
            codes = matrix[name].cat.codes.to_numpy()
            parts.append((codes[:, None] == np.arange(len(levels))[None, :]).astype("float64"))
        return np.hstack(parts)

    @property
    def design_features(self) -> np.ndarray:
        """The model column behind each column of ``design``."""
        return np.array(list(self.numeric) + [name for name, levels in self.categorical for _ in levels], dtype=object)

    def matrix(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The model matrix for ``frame`` (same row order); unseen levels become missing."""
        missing = [c for c in self.columns if c not in frame.columns]
        if missing:
            raise ChurnModelError(f"features frame lacks model column(s): {', '.join(missing)}.")
        data: dict[str, object] = {c: _as_float(frame[c]) for c in self.numeric}
        for name, levels in self.categorical:
            text = frame[name].astype("str").where(frame[name].notna())
            text = text.where(text.isin(levels))
            data[name] = pd.Categorical(text, categories=list(levels))
        return pd.DataFrame(data, index=range(len(frame)))


@dataclass
class ChurnModel:
    """A fitted gradient-boosted churn model with its calibration map."""

    spec: FeatureSpec
    booster: HistGradientBoostingClassifier
    calibrated: CalibratedClassifierCV
    calibration_method: str

    def predict(self, matrix: pd.DataFrame) -> np.ndarray:
        """Calibrated churn probability for each row of a model matrix."""
        return self.calibrated.predict_proba(matrix)[:, 1]

    def calibrate(self, raw: np.ndarray) -> np.ndarray:
        """Calibrated churn probability from the booster's raw scores (its
        ``decision_function``): the map ``predict`` applies, for scores already computed
        (``kit.churn.drivers.occlusion_attributions`` returns them)."""
        (fitted,) = self.calibrated.calibrated_classifiers_
        (calibrator,) = fitted.calibrators
        return np.clip(calibrator.predict(np.asarray(raw, dtype=float)), 0.0, 1.0)

    def raw(self, matrix: pd.DataFrame) -> np.ndarray:
        """The booster's own (uncalibrated) churn probability: the scale on which the
        per-customer reasons (``kit.churn.drivers.occlusion_attributions``) measure change."""
        return self.booster.predict_proba(matrix)[:, 1]


def screen(spec: FeatureSpec, matrix: pd.DataFrame) -> pd.DataFrame:
    """The columns of model ``matrix`` (built with ``spec``) to drop: ``feature``,
    ``reason`` (``empty``, ``constant`` or ``duplicate``) and ``same_as`` (the earlier
    column a duplicate repeats, else "")."""
    rows: list[dict[str, str]] = []
    kept: dict[tuple, list[str]] = {}  # signature -> numeric columns kept with it
    for column in spec.numeric:
        values = matrix[column].to_numpy(dtype="float32")
        known = values[~np.isnan(values)]
        if not len(known):
            rows.append({"feature": column, "reason": "empty", "same_as": ""})
            continue
        low, high = float(known.min()), float(known.max())
        if low == high:
            rows.append({"feature": column, "reason": "constant", "same_as": ""})
            continue
        signature = (len(known), low, high, float(known.sum(dtype="float64")))
        twin = next((c for c in kept.get(signature, []) if np.array_equal(matrix[c].to_numpy(), values, equal_nan=True)), None)
        if twin is not None:
            rows.append({"feature": column, "reason": "duplicate", "same_as": twin})
            continue
        kept.setdefault(signature, []).append(column)
    for column, _ in spec.categorical:
        levels = matrix[column].dropna().unique()
        if len(levels) < 2:
            rows.append({"feature": column, "reason": "empty" if len(levels) == 0 else "constant", "same_as": ""})
    return pd.DataFrame(rows, columns=["feature", "reason", "same_as"])


def empty_in(spec: FeatureSpec, matrices: list[pd.DataFrame]) -> pd.DataFrame:
    """Columns of ``spec`` without any value in the stacked ``matrices`` (the rows a model is
    fitted on), as ``screen`` rows with reason ``empty_in_training``."""
    empty = [c for c in spec.columns if not any(m[c].notna().any() for m in matrices)]
    return pd.DataFrame({"feature": empty, "reason": "empty_in_training", "same_as": ""}, columns=["feature", "reason", "same_as"])


def check_enough(spec: FeatureSpec, dropped: pd.DataFrame, skipped: dict[str, str], month: str) -> None:
    """Raise ChurnModelError when fewer than ``MIN_MODEL_FEATURES`` model columns remain, or
    ``recency_days`` is gone, naming what remains, what was dropped and the missing inputs."""
    if len(spec.columns) >= MIN_MODEL_FEATURES and "recency_days" in spec.columns:
        return
    gone = ", ".join(f"{r.feature} ({r.reason}{' as ' + r.same_as if r.same_as else ''})" for r in dropped.itertuples())
    needs = sorted(set(skipped.values()))
    raise ChurnModelError(
        f"churn model for {month}: only {len(spec.columns)} usable feature(s) remain "
        f"({', '.join(spec.columns) or 'none'}); at least {MIN_MODEL_FEATURES}, recency_days among them, are needed. "
        f"Dropped: {gone or 'none'}. Inputs the warehouse lacks: {', '.join(needs) or 'none'}. "
        "Load more months of orders (a feature with one value for everyone often means too short a history) "
        "or the missing sources."
    )


def _check_labels(y: np.ndarray, what: str) -> None:
    """Both classes must be present to fit or calibrate a classifier."""
    if len(np.unique(y)) < 2:
        raise ChurnModelError(f"{what}: all {len(y)} examples have the same label; cannot fit a churn model.")


def _cap(matrix: pd.DataFrame, y: np.ndarray, ids: np.ndarray, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """At most MAX_TRAINING_ROWS rows: those of the customers (``ids``, one per row) with the
    smallest seeded keys, in their original order."""
    if len(y) <= MAX_TRAINING_ROWS:
        return matrix, y
    keep = np.sort(smallest_keys(ids, MAX_TRAINING_ROWS, seed))
    return matrix.iloc[keep].reset_index(drop=True), y[keep]


def fit_churn_model(
    spec: FeatureSpec,
    fit_matrix: pd.DataFrame,
    fit_y: np.ndarray,
    cal_matrix: pd.DataFrame,
    cal_y: np.ndarray,
    seed: int,
    fit_ids: np.ndarray,
) -> ChurnModel:
    """Fit the booster on the fit part and calibrate it on the later hold-out part.

    ``fit_ids`` gives the customer of each fit row (the cap keeps whole customers by key).
    """
    _check_labels(fit_y, "churn model training snapshots")
    _check_labels(cal_y, "churn model calibration snapshot")
    fit_matrix, fit_y = _cap(fit_matrix, fit_y, fit_ids, seed)
    booster = HistGradientBoostingClassifier(
        learning_rate=0.05,
        max_iter=400,
        max_leaf_nodes=15,
        min_samples_leaf=80,
        l2_regularization=1.0,
        early_stopping=True,
        validation_fraction=0.1,
        n_iter_no_change=25,
        categorical_features="from_dtype",
        random_state=seed,
    )
    booster.fit(fit_matrix, fit_y)
    method = "isotonic" if len(cal_y) >= ISOTONIC_MIN_ROWS else "sigmoid"
    calibrated = CalibratedClassifierCV(FrozenEstimator(booster), method=method)
    calibrated.fit(cal_matrix, cal_y)
    return ChurnModel(spec, booster, calibrated, method)


@dataclass
class LogisticChurnModel:
    """The baseline: a regularised logistic regression on a ``FeatureSpec``'s model matrix."""

    spec: FeatureSpec
    pipeline: Pipeline  # design -> impute -> scale -> logistic regression; takes the model matrix

    def predict(self, matrix: pd.DataFrame) -> np.ndarray:
        """Churn probability for each row of a model matrix."""
        return self.pipeline.predict_proba(matrix)[:, 1]

    def attributions(
        self, matrix: pd.DataFrame, features: list[str], reference: dict[str, object]
    ) -> pd.DataFrame:
        """Per feature: risk(customer) - risk(customer with that feature at its ``reference``
        value), exact for the linear model (its share of the log-odds taken out)."""
        design, impute, scale, logistic = (step for _, step in self.pipeline.steps)
        typical = matrix.iloc[:1].assign(**{f: constant_like(matrix[f].iloc[:1], reference[f]) for f in features})
        z = scale.transform(impute.transform(design.transform(matrix)))
        z_typical = scale.transform(impute.transform(design.transform(typical)))
        contribution = (z - z_typical) * logistic.coef_[0]
        owner = self.spec.design_features
        logit = logistic.decision_function(z)  # the pipeline's own last step, on the inputs already transformed
        risk = expit(logit)
        return pd.DataFrame(
            {f: risk - expit(logit - contribution[:, owner == f].sum(axis=1)) for f in features}, index=matrix.index
        ).astype("float32")


def constant_like(column: pd.Series, value: object) -> pd.Series:
    """``value`` repeated along ``column``, keeping its dtype (categories included)."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        return pd.Series(pd.Categorical([value] * len(column), categories=column.cat.categories), index=column.index)
    return pd.Series(np.full(len(column), value, dtype=column.dtype), index=column.index)


def fit_logistic(
    spec: FeatureSpec, matrix: pd.DataFrame, y: np.ndarray, seed: int, ids: np.ndarray
) -> LogisticChurnModel:
    """The baseline fitted on model ``matrix`` (capped like the tree model by customer key)."""
    _check_labels(y, "baseline training snapshots")
    matrix, y = _cap(matrix, y, ids, seed)
    pipeline = make_pipeline(
        FunctionTransformer(spec.design),
        SimpleImputer(strategy="median", keep_empty_features=True),
        StandardScaler(),
        LogisticRegression(C=LOGISTIC_C, max_iter=1000, random_state=seed),
    )
    pipeline.fit(matrix, y)
    return LogisticChurnModel(spec, pipeline)


def choose_scorer(quality: pd.DataFrame, min_gain: float) -> str:
    """``model`` (the tree model) when its out-of-time ROC AUC beats the ``baseline``'s by at
    least ``min_gain``, else ``baseline``: a model that cannot beat a linear one on the month
    it never saw does not get to score the customers."""
    auc = quality.set_index("model")["roc_auc"]
    return "model" if float(auc["model"]) >= float(auc["baseline"]) + min_gain else "baseline"


def _log1p_clipped(x: np.ndarray) -> np.ndarray:
    """log(1 + x) with negative values clipped to 0 (counts, days and money)."""
    return np.log1p(np.clip(x, 0, None))


def fit_recency_baseline(frame: pd.DataFrame, y: np.ndarray, seed: int) -> tuple[Pipeline, tuple[str, ...]]:
    """Logistic regression on log1p of recency, frequency, spend and tenure (those present)."""
    columns = tuple(c for c in BASELINE_FEATURES if c in frame.columns)
    if "recency_days" not in columns:
        raise ChurnModelError("the baseline needs the 'recency_days' feature.")
    _check_labels(y, "baseline training snapshots")
    pipeline = make_pipeline(
        FunctionTransformer(_log1p_clipped, feature_names_out="one-to-one"),
        SimpleImputer(strategy="median"),
        StandardScaler(),
        LogisticRegression(max_iter=500, random_state=seed),
    )
    x = np.column_stack([_as_float(frame[c]) for c in columns])
    pipeline.fit(x, y)
    return pipeline, columns


def predict_recency_baseline(baseline: tuple[Pipeline, tuple[str, ...]], frame: pd.DataFrame) -> np.ndarray:
    """Churn probability from the fitted baseline."""
    pipeline, columns = baseline
    x = np.column_stack([_as_float(frame[c]) for c in columns])
    return pipeline.predict_proba(x)[:, 1]


# --------------------------------------------------------------------------- metrics


def top_share_caught(y: np.ndarray, p: np.ndarray, share: float) -> tuple[float, float]:
    """(share of all churners among the riskiest ``share`` of customers, lift over random)."""
    y = np.asarray(y, dtype=bool)
    n_top = max(1, int(round(share * len(y))))
    order = np.argsort(-np.asarray(p), kind="stable")[:n_top]
    caught = float(y[order].sum() / max(y.sum(), 1))
    lift = float(y[order].mean() / y.mean()) if y.mean() > 0 else float("nan")
    return caught, lift


def classification_metrics(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    """Out-of-time quality of churn probabilities ``p`` against outcomes ``y``."""
    y = np.asarray(y, dtype=bool)
    p = np.asarray(p, dtype=float)
    caught10, lift10 = top_share_caught(y, p, 0.10)
    caught20, lift20 = top_share_caught(y, p, 0.20)
    return {
        "n": int(len(y)),
        "churn_rate": float(y.mean()),
        "mean_predicted": float(p.mean()),
        "roc_auc": float(roc_auc_score(y, p)),
        "pr_auc": float(average_precision_score(y, p)),
        "brier": float(brier_score_loss(y, p)),
        "caught_top10": caught10,
        "lift_top10": lift10,
        "caught_top20": caught20,
        "lift_top20": lift20,
    }


def reliability(y: np.ndarray, p: np.ndarray, n_bins: int = 10) -> pd.DataFrame:
    """Predicted vs observed churn rate in ``n_bins`` equal-count bins of ``p``."""
    frame = pd.DataFrame({"p": np.asarray(p, dtype=float), "y": np.asarray(y, dtype=float)})
    frame["bin"] = pd.qcut(frame["p"].rank(method="first"), n_bins, labels=False)
    out = frame.groupby("bin").agg(predicted=("p", "mean"), observed=("y", "mean"), n=("y", "size"))
    return out.reset_index(drop=True)


def roc_points(y: np.ndarray, p: np.ndarray, max_points: int = 200) -> pd.DataFrame:
    """The ROC curve (false and true positive rates), thinned to at most ``max_points``."""
    fpr, tpr, _ = roc_curve(np.asarray(y, dtype=bool), p)
    keep = np.unique(np.linspace(0, len(fpr) - 1, min(max_points, len(fpr))).astype(int))
    return pd.DataFrame({"fpr": fpr[keep], "tpr": tpr[keep]})


def gains(y: np.ndarray, p: np.ndarray, points: int = 50) -> pd.DataFrame:
    """Share of churners caught when contacting the riskiest x% (cumulative gains curve)."""
    y = np.asarray(y, dtype=bool)[np.argsort(-np.asarray(p), kind="stable")]
    caught = np.cumsum(y) / max(y.sum(), 1)
    shares = np.linspace(1 / points, 1.0, points)
    idx = np.clip((shares * len(y)).round().astype(int) - 1, 0, len(y) - 1)
    return pd.DataFrame({"contacted": shares, "caught": caught[idx]})
