"""``run`` (``run_churn``): the whole churn early-warning run for one month, used by 05_churn
and the bench. The result's ``write`` writes the snapshot (and the contact export) and its
``headline`` gives the figures of ``metrics/05_churn.json``; kit.churn.page displays it.

Features come from ``features_fn``, by default ``kit.churn.signals.churn_features``.
Steps (snapshot scheme in ``kit.churn.dataset``):
1. features for the run month fix the model columns (``FeatureSpec``), less those with no
   value, one value or a twin (``kit.churn.model.screen``);
2. features + labels for every labelled snapshot month, kept only as model matrices; a
   column with no value in the snapshots a model is fitted on is dropped too
   (``empty_in``), and too few columns left is an error naming them and the missing inputs;
3. the out-of-time tree model (training snapshots), the logistic baseline on the same
   columns and the recency yardstick are scored on the validation snapshot: metrics and
   sample sizes, reliability, ROC, gains; the tree model keeps the scoring only when it
   beats the baseline by ``churn.min_auc_gain`` (``kit.churn.model.choose_scorer``);
   permutation drivers (material ones, with direction) and partial dependence are those of
   the scorer;
4. the scorer, refitted on the latest fully labelled snapshots, scores the run month; each
   customer gets reasons from the material drivers (tree occlusion, or the baseline's own
   linear share), CLV, value at risk and an action bucket (shares of the ranked list).

Threads and scale: scikit-learn's OpenMP and BLAS run on one thread (threadpoolctl); the
out-of-time fit and the final fit run side by side in two Python threads, and the run month
is scored by one numba walk over the trees (``kit.churn.trees``). Labelled snapshots use the
customer sample of ``kit.churn.sample`` when the run month has more than
``SAMPLE_CUSTOMERS``; the run month is always scored in full. ``ChurnResult.timings`` holds
the seconds per part (printed by the bench under the stage's row).

Measurements and the options tried: docs/decisions/0010-one-openmp-thread.md (threads),
docs/decisions/0015-churn-speed-at-1m.md (speed at 1,000,000 customers).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from kit.churn import actions, contract, drivers, retention, sample
from kit.churn.dataset import (
    Definition,
    FeaturesFn,
    SnapshotPlan,
    anonymous_receipts,
    check_point_in_time,
    first_order_month,
    ids_in,
    plan_snapshots,
    snapshot_examples,
)
from kit.churn.model import (
    BASELINE_FEATURES,
    ChurnModel,
    FeatureSpec,
    LogisticChurnModel,
    check_enough,
    choose_scorer,
    classification_metrics,
    empty_in,
    fit_churn_model,
    fit_logistic,
    fit_recency_baseline,
    gains,
    predict_recency_baseline,
    reliability,
    roc_points,
    screen,
)
from kit.churn.sample import SAMPLE_CUSTOMERS
from kit.core.config import ChurnConfig, KitConfig
from kit.core.vocabulary import value_at_risk
from kit.core.warehouse import Warehouse

# Per-customer reasons are searched among this many top global drivers.
N_REASON_DRIVERS = 8
N_DEPENDENCE = 3
# Customers drawn for the risk x value chart (a seeded sample: a million dots draw nothing more).
QUADRANT_SAMPLE = 5000
# The steps run_churn reports to its ``progress`` callback, in order (churn.progress.* texts).
PROGRESS_STEPS = ("features", "snapshots", "training", "drivers", "scoring", "actions")


@dataclass
class Snapshot:
    """One labelled snapshot month, reduced to what the models need (its population, or
    the population's sampled customers: ``kit.churn.sample``)."""

    customer_id: np.ndarray
    matrix: pd.DataFrame
    baseline: pd.DataFrame
    churned: np.ndarray


@dataclass
class ChurnResult:
    """Everything 05_churn shows and writes for one month."""

    month: str
    plan: SnapshotPlan
    # one row per model on the validation snapshot: "model" (trees), "baseline" (logistic on the
    # same features), "recency" (logistic on RFM); metrics plus training and validation sizes
    quality: pd.DataFrame
    validation: pd.DataFrame  # customer_id, churned, risk, baseline_risk at the validation snapshot
    reliability: pd.DataFrame
    roc: pd.DataFrame  # model, fpr, tpr
    gains: pd.DataFrame  # model, contacted, caught
    drivers: pd.DataFrame  # feature, importance, std, material, direction (of the scoring model)
    dependence: pd.DataFrame  # feature, value, risk
    trend: pd.DataFrame  # snapshot_month, customers (sampled ones above the cap), churn_rate, kind (observed / predicted)
    scores: pd.DataFrame  # the run month: actions.SNAPSHOT_COLUMNS (reasons as codes: drivers.reason_inputs)
    spans: pd.DataFrame  # every buyer: customer_id, duration_days, lapsed (churned), main_channel, segment, persona
    model: ChurnModel | LogisticChurnModel  # the final model that scored the run month
    scorer: str  # which one: "model" (trees) or "baseline" (kit.churn.model.choose_scorer)
    clv_source: str  # "clv_model", "margin_365d" or "mixed"
    has_segments: bool
    config: ChurnConfig  # the thresholds the page states (window, population, action rules)
    silent_days: int  # the vocabulary's churned: no order for more than this many days (retention curves)
    horizon_months: int  # the CLV horizon: subscriptions' value is MRR x expected paid months within it
    cohorts: pd.DataFrame  # kit.churn.retention.cohort_matrix of the month (anonymous receipts left out)
    budget: pd.DataFrame  # kit.churn.actions.budget_curve over the scored customers
    sample_customers: int | None = None  # labelled months followed this many sampled customers; None: everyone
    timings: dict[str, float] = field(default_factory=dict)
    # model columns dropped before fitting: feature, reason (kit.churn.model.DROP_REASONS), same_as
    dropped: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["feature", "reason", "same_as"]))
    skipped: dict[str, str] = field(default_factory=dict)  # features not computed -> the input they lack
    event_types: dict[str, str] = field(default_factory=dict)  # event feature slug -> event type as logged

    def headline(self) -> dict[str, float | int | str]:
        """Headline figures for ``metrics/05_churn.json`` (read by the overview): numbers and
        codes only (``top_driver`` is a feature code; pages look its label up)."""
        quality = self.quality.set_index("model")
        scores = self.scores
        return {
            "customers_scored": int(len(scores)),
            "predicted_churn_rate": float(scores["churn_probability"].mean()),
            "expected_churners": float(scores["churn_probability"].sum()),
            "validation_month": self.plan.validation,
            "validation_churn_rate": float(quality.loc["model", "churn_rate"]),
            "auc": float(quality.loc["model", "roc_auc"]),
            "auc_baseline": float(quality.loc["baseline", "roc_auc"]),
            "scorer": self.scorer,
            "lift_top10": float(quality.loc[self.scorer, "lift_top10"]),
            "pr_auc": float(quality.loc["model", "pr_auc"]),
            "brier": float(quality.loc["model", "brier"]),
            "caught_top20": float(quality.loc["model", "caught_top20"]),
            "value_at_risk_total": value_at_risk(scores["churn_probability"], scores["clv"]),
            # the most important material driver (the first by importance when none is material:
            # the overview's churn highlight names one)
            "top_driver": next(iter(drivers.material_drivers(self.drivers)), str(self.drivers["feature"].iloc[0])),
            "clv_source": self.clv_source,
            "mode": self.config.mode,
            # subscriptions: the monthly recurring revenue of the expected leavers
            **({"mrr_at_risk": float((scores["churn_probability"] * scores["mrr"]).sum())} if "mrr" in scores else {}),
            **{f"action_{a}": int((scores["action"] == a).sum()) for a in actions.ACTIONS},
        }

    def quadrant_sample(self) -> pd.DataFrame:
        """At most ``QUADRANT_SAMPLE`` scored customers, drawn with the churn seed."""
        return self.scores.sample(min(QUADRANT_SAMPLE, len(self.scores)), random_state=self.config.seed)

    def write(self, wh: Warehouse, export_dir: Path | None = None) -> None:
        """Write ``snapshots/<month>/churn.parquet`` and, given ``export_dir``, the contact
        list ``churn_risk.csv`` there (kit.churn.actions). Returns nothing, so a notebook
        cell ending with it prints no server path."""
        actions.write_snapshot(wh, self.month, self.scores)
        if export_dir is not None:
            actions.write_export(self.scores, Path(export_dir))


def _snapshot(frame: pd.DataFrame, spec: FeatureSpec) -> Snapshot:
    """Reduce a labelled examples frame to model inputs (a category nobody had bought yet
    by that month counts as a share of 0)."""
    frame = sample.fill_category_shares(frame, spec.numeric)
    base_cols = [c for c in BASELINE_FEATURES if c in frame.columns]
    return Snapshot(
        customer_id=frame["customer_id"].to_numpy(),
        matrix=spec.matrix(frame),
        baseline=frame[base_cols].reset_index(drop=True),
        churned=frame["churned"].to_numpy(dtype=bool),
    )


def _labelled_snapshots(
    wh: Warehouse,
    months: tuple[str, ...],
    config: KitConfig,
    features_fn: FeaturesFn,
    spec: FeatureSpec,
    threshold: int | None,
    cap: int,
    definition: Definition,
) -> dict[str, Snapshot]:
    """Features and labels (churn as ``definition`` says) of each snapshot month: the whole
    population when ``threshold`` is None, else at most ``cap`` sampled customers, read
    from a ``SampledWarehouse``."""
    seed = config.churn.seed
    source = wh if threshold is None else sample.SampledWarehouse(wh, threshold, seed)
    snaps = {}
    for month in months:
        frame = snapshot_examples(source, month, config, features_fn, definition=definition)
        if threshold is not None:
            frame = frame.loc[sample.in_sample(frame["customer_id"], threshold, cap, seed)].reset_index(drop=True)
        snaps[month] = _snapshot(frame, spec)
    return snaps


def _stack(snaps: list[Snapshot]) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray, np.ndarray]:
    """Model matrix, baseline frame, labels and customer ids of several snapshots, stacked
    (each snapshot sorted by customer id: ``select_population``)."""
    return (
        pd.concat([s.matrix for s in snaps], ignore_index=True),
        pd.concat([s.baseline for s in snaps], ignore_index=True),
        np.concatenate([s.churned for s in snaps]),
        np.concatenate([s.customer_id for s in snaps]),
    )


def _sizes(snaps: dict[str, Snapshot], plan: SnapshotPlan) -> dict[str, int]:
    """Customers and churners the out-of-time models were trained on (rows of the training
    snapshots, the tree model's calibration month included) and validated on."""
    train = [snaps[m].churned for m in plan.training]
    val = snaps[plan.validation].churned
    return {
        "train_customers": int(sum(len(y) for y in train)),
        "train_churners": int(sum(int(y.sum()) for y in train)),
        "validation_customers": int(len(val)),
        "validation_churners": int(val.sum()),
    }


def _fit(spec: FeatureSpec, snaps: dict[str, Snapshot], months: tuple[str, ...], seed: int) -> ChurnModel:
    """Fit on all but the newest of ``months``; calibrate on the newest."""
    fit_x, _, fit_y, fit_ids = _stack([snaps[m] for m in months[:-1]])
    cal = snaps[months[-1]]
    return fit_churn_model(spec, fit_x, fit_y, cal.matrix, cal.churned, seed, fit_ids)


@threadpool_limits.wrap(limits=1)
def _fit_one_thread(spec: FeatureSpec, snaps: dict[str, Snapshot], months: tuple[str, ...], seed: int) -> ChurnModel:
    """``_fit`` for a worker thread: OpenMP's thread count is set per thread, so the
    run's one-thread limit has to be set again inside the worker."""
    return _fit(spec, snaps, months, seed)


@threadpool_limits.wrap(limits=1)
def run_churn(
    wh: Warehouse,
    month: str,
    config: KitConfig,
    features_fn: FeaturesFn | None = None,
    sample_customers: int = SAMPLE_CUSTOMERS,
    progress: Callable[[str], None] | None = None,
) -> ChurnResult:
    """Train, validate out of time, and score ``month`` (see module docstring); labelled
    snapshots follow at most ``sample_customers`` customers each, the run month scores all.

    ``progress`` is called with the code of each step as it starts (``PROGRESS_STEPS``), so
    an analyst waiting on a large base sees where the run is.
    """
    # on use, as churn_features imports build_features: the rest of kit.churn runs without the profile stage
    from kit.profile import feature_plan

    sample.check_cap(sample_customers)
    step = progress or (lambda code: None)
    if features_fn is None:
        from kit.churn.signals import churn_features

        features_fn = churn_features
    inputs_plan = feature_plan(wh, config)
    skipped = inputs_plan.skipped()
    cfg = config.churn
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    step("features")
    definition = contract.definition(wh, config, month)
    plan = plan_snapshots(month, cfg.window_days, cfg.training_snapshots, first_order_month(wh), definition.lag_days)
    features = features_fn(wh, month, config)
    check_point_in_time(features, month)
    anonymous = anonymous_receipts(wh)
    current = definition.population(features, month)
    if isinstance(definition, contract.SubscriptionChurn):
        spans = definition.tenure()
    else:
        spans = retention.lifetimes(features, config.segmentation.silent_days)
    if "main_channel" in features.columns:
        spans = spans.merge(features[["customer_id", "main_channel"]], on="customer_id", how="left")
    spans = spans.loc[~ids_in(spans["customer_id"], anonymous)].reset_index(drop=True)
    spans = spans.merge(actions.segment_labels(wh, month, spans["customer_id"]), on="customer_id", how="left")
    del features
    spec = FeatureSpec.infer(current)
    dropped = screen(spec, spec.matrix(current))
    spec = spec.without(dropped["feature"])
    check_enough(spec, dropped, skipped, month)
    timings["run_month_features_s"] = time.perf_counter() - clock

    clock = time.perf_counter()
    step("snapshots")
    threshold = sample.key_threshold(current["customer_id"], sample_customers, cfg.seed)
    snaps = _labelled_snapshots(wh, plan.labelled, config, features_fn, spec, threshold, sample_customers, definition)
    untrained = pd.concat(
        [empty_in(spec, [snaps[m].matrix for m in months[:-1]]) for months in (plan.training, plan.final)], ignore_index=True
    ).drop_duplicates("feature", ignore_index=True)
    if len(untrained):
        spec = spec.without(untrained["feature"])
        snaps = {m: dataclasses.replace(s, matrix=s.matrix[list(spec.columns)]) for m, s in snaps.items()}
        dropped = pd.concat([dropped, untrained], ignore_index=True)
        check_enough(spec, dropped, skipped, month)
    timings["snapshot_features_s"] = time.perf_counter() - clock

    clock = time.perf_counter()
    step("training")
    with ThreadPoolExecutor(max_workers=1) as pool:
        # the final model does not depend on the out-of-time one: both fit at once, one per core
        final_job = pool.submit(_fit_one_thread, spec, snaps, plan.final, cfg.seed)
        model = _fit(spec, snaps, plan.training, cfg.seed)
        train_x, base_x, base_y, train_ids = _stack([snaps[m] for m in plan.training])
        logistic = fit_logistic(spec, train_x, base_y, cfg.seed, train_ids)
        recency = fit_recency_baseline(base_x, base_y, cfg.seed)
        val = snaps[plan.validation]
        risk = model.predict(val.matrix)
        base_risk = logistic.predict(val.matrix)
        recency_risk = predict_recency_baseline(recency, val.baseline)
        timings["train_validate_s"] = time.perf_counter() - clock

        clock = time.perf_counter()
        step("drivers")
        sizes = _sizes(snaps, plan)
        quality = pd.DataFrame(
            [
                {"model": name, **classification_metrics(val.churned, p), **sizes}
                for name, p in (("model", risk), ("baseline", base_risk), ("recency", recency_risk))
            ]
        )
        scorer = choose_scorer(quality, cfg.min_auc_gain)
        # importance on the booster's own scores (isotonic steps would tie ranks), risk curves calibrated
        ranker, chosen = (model.booster, model.calibrated) if scorer == "model" else (logistic.pipeline,) * 2
        importance = drivers.permutation_drivers(ranker, val.matrix, val.churned, val.customer_id, cfg.seed)
        top_numeric = [f for f in drivers.material_drivers(importance) if f in spec.numeric][:N_DEPENDENCE]
        curves = drivers.dependence(chosen, spec, val.matrix, top_numeric, val.customer_id, cfg.seed)
        timings["drivers_s"] = time.perf_counter() - clock

        clock = time.perf_counter()
        final = final_job.result()
        timings["final_fit_wait_s"] = time.perf_counter() - clock

    clock = time.perf_counter()
    step("scoring")
    matrix = spec.matrix(current)
    reason_features = drivers.material_drivers(importance)[:N_REASON_DRIVERS]
    reference = drivers.reference_values(matrix)
    if scorer == "model":
        raw, attributions = drivers.occlusion_attributions(final, matrix, reason_features, reference)
        probability = final.calibrate(raw)
        scoring: ChurnModel | LogisticChurnModel = final
    else:
        final_x, _, final_y, final_ids = _stack([snaps[m] for m in plan.final])
        scoring = fit_logistic(spec, final_x, final_y, cfg.seed, final_ids)
        probability = scoring.predict(matrix)
        attributions = scoring.attributions(matrix, reason_features, reference)
    scores = pd.DataFrame({"customer_id": current["customer_id"].to_numpy(), "churn_probability": probability})
    reasons = drivers.reason_inputs(current, drivers.top_reasons(attributions), reference)
    timings["score_reasons_s"] = time.perf_counter() - clock

    clock = time.perf_counter()
    step("actions")
    if isinstance(definition, contract.SubscriptionChurn):
        value = contract.subscription_value(definition, current["customer_id"], spans, config.clv.horizon_months)
        value = value.assign(clv_source="mrr")
    else:
        value = actions.customer_value(wh, month, current, config.clv.gross_margin)
    labels = actions.segment_labels(wh, month, current["customer_id"])
    scores = pd.concat([scores, reasons], axis=1).assign(
        clv=value["clv"].to_numpy(),
        clv_source=value["clv_source"].to_numpy(),
        segment=labels["segment"].to_numpy(),
        persona=labels["persona"].to_numpy(),
    )
    if "mrr" in value.columns:
        scores = scores.assign(mrr=value["mrr"].to_numpy(), expected_months=value["expected_months"].to_numpy())
    scores["value_at_risk"] = scores["churn_probability"] * scores["clv"]
    scores["action"] = actions.action_buckets(scores["churn_probability"], scores["value_at_risk"], cfg)
    scores["action"] = scores["action"].astype("str")

    budget = actions.budget_curve(
        scores["churn_probability"].to_numpy(), scores["value_at_risk"].to_numpy(), cfg.action_success_rate
    )
    cohorts = retention.cohort_matrix(wh, month, exclude=anonymous)
    timings["value_actions_s"] = time.perf_counter() - clock

    sources = set(value["clv_source"])
    trend = pd.DataFrame(
        [
            {"snapshot_month": m, "customers": len(s.churned), "churn_rate": float(s.churned.mean()), "kind": "observed"}
            for m, s in sorted(snaps.items())
        ]
        + [{"snapshot_month": month, "customers": len(scores), "churn_rate": float(scores["churn_probability"].mean()), "kind": "predicted"}]
    )
    return ChurnResult(
        month=month,
        plan=plan,
        quality=quality,
        validation=pd.DataFrame(
            {"customer_id": val.customer_id, "churned": val.churned, "risk": risk, "baseline_risk": base_risk}
        ),
        reliability=reliability(val.churned, risk),
        roc=pd.concat(
            [roc_points(val.churned, risk).assign(model="model"), roc_points(val.churned, base_risk).assign(model="baseline")],
            ignore_index=True,
        ),
        gains=pd.concat(
            [gains(val.churned, risk).assign(model="model"), gains(val.churned, base_risk).assign(model="baseline")],
            ignore_index=True,
        ),
        drivers=importance,
        dependence=curves,
        trend=trend,
        scores=scores,
        spans=spans,
        model=scoring,
        scorer=scorer,
        clv_source=sources.pop() if len(sources) == 1 else "mixed",
        has_segments=wh.has_snapshot(month, "segments"),
        config=cfg,
        silent_days=config.segmentation.silent_days,
        horizon_months=config.clv.horizon_months,
        cohorts=cohorts,
        budget=budget,
        sample_customers=None if threshold is None else sample_customers,
        timings=timings,
        dropped=dropped,
        skipped=skipped,
        event_types={slug: event_type for event_type, slug in inputs_plan.events.slugs.items()},
    )


run = run_churn  # the stage entry (kit.<stage>.pipeline.run)


def bench_stage(config: KitConfig) -> dict[str, float | int | str]:
    """A ``kit bench`` stage: train, validate and score churn for ``run.month`` (issue target:
    1,000,000 customers in under 3 minutes and 6 GB), writing the month's churn snapshot."""
    wh = Warehouse.from_config(config)
    result = run_churn(wh, config.run.month, config)
    clock = time.perf_counter()
    result.write(wh)
    return {"customers_scored": int(len(result.scores)), **result.timings, "write_s": time.perf_counter() - clock}
