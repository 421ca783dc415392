"""The 04_clv pipeline: summary, holdout validation, model choice, refit, scores, snapshot."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from kit.clv.base import CountModel
from kit.clv.gammagamma import GammaGammaModel, IndependenceCheck, independence_check
from kit.clv.models import make_model
from kit.clv.summary import clv_config, customer_summary
from kit.clv.validation import Validation, validate
from kit.clv.value import customer_value, top_share
from kit.config import CLVConfig, KitConfig
from kit.dates import shift_month
from kit.warehouse import Warehouse


@dataclass(frozen=True)
class ClvResult:
    """Everything the 04_clv report shows; ``scores`` is what clv.parquet holds."""

    month: str
    config: CLVConfig
    summary: pd.DataFrame
    validation: Validation
    model: CountModel
    spend: GammaGammaModel
    independence: IndependenceCheck
    scores: pd.DataFrame
    path: Path

    def metrics(self) -> dict[str, float | int | str]:
        """Headline figures for metrics/04_clv.json."""
        clv = self.scores["clv"]
        chosen = self.validation.scores.set_index("model").loc[self.model.name]
        return {
            "customers_scored": int(len(self.scores)),
            "model": self.model.name,
            "holdout_mae": float(chosen["mae"]),
            "holdout_total_error": float(chosen["total_error"]),
            "total_clv": float(clv.sum()),
            "average_clv": float(clv.mean()),
            "median_clv": float(clv.median()),
            "top10_share": top_share(clv, 0.10),
            "average_p_alive": float(self.scores["p_alive"].mean()),
            "expected_purchases": float(self.scores["expected_purchases"].sum()),
            "horizon_months": int(self.config.horizon_months),
            "frequency_spend_correlation": self.independence.pearson,
        }


def run_clv(wh: Warehouse, month: str, config: KitConfig | CLVConfig) -> ClvResult:
    """Validate the configured models on the last ``holdout_months``, pick the best on
    holdout MAE, refit it on all history up to ``month``, score every buyer and write
    snapshots/<month>/clv.parquet."""
    cfg = clv_config(config)
    summary = customer_summary(wh, month, cfg)
    if summary.empty:
        raise ValueError(f"no paid orders before the end of {month}: nothing to score for CLV")
    holdout = customer_summary(wh, month, cfg, calibration_end=shift_month(month, -cfg.holdout_months))
    validation = validate(holdout, cfg.models)
    model = make_model(validation.chosen).fit(summary["frequency"], summary["recency"], summary["T"])
    spend = GammaGammaModel().fit(summary["frequency"], summary["monetary"])
    scores = customer_value(model, spend, summary, cfg)
    path = wh.write_snapshot(month, "clv", scores)
    return ClvResult(
        month=month,
        config=cfg,
        summary=summary,
        validation=validation,
        model=model,
        spend=spend,
        independence=independence_check(summary["frequency"], summary["monetary"]),
        scores=scores,
        path=path,
    )
