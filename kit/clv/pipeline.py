"""The 04_clv pipeline: summary, holdout validation, model choice, refit, scores, snapshot.

``run(wh, month, config) -> ClvResult`` computes; ``ClvResult.write(wh)`` writes
snapshots/<month>/clv.parquet; ``ClvResult.headline()`` gives metrics/04_clv.json;
kit.clv.page displays the result. ``run_clv`` does run + write (the bench and older
callers). CLV covers identified customers only: anonymous store receipts are left out of
the summary (kit.clv.summary.customer_summary).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from kit.clv.base import CountModel
from kit.clv.gammagamma import IndependenceCheck, SpendModel, independence_check
from kit.clv.summary import UNIT_DAYS, clv_config, customer_summary
from kit.clv.validation import Validation, validate
from kit.clv.value import (
    MONTH_DAYS,
    fit_value,
    frequency_recency_matrix,
    top_share,
    value_by_group,
)
from kit.core.config import CLVConfig, KitConfig
from kit.core.dates import shift_month
from kit.core.warehouse import Warehouse

# Share of customers the concentration figures are about (the "top 10% by predicted CLV").
TOP_SHARE = 0.10
# Most buyers having bought once is a story of its own (the findings say so) above this share.
ONE_TIME_MAJORITY = 0.5
# The customer age of the frequency x recency grids: this quantile of the customers' T.
GRID_AGE_QUANTILE = 0.9
# The grids' size: repeat purchases 0..GRID_MAX_FREQUENCY (rows) by GRID_RECENCY_BINS + 1
# recency steps, small enough to carry a number in every cell (kit.text.heatmap.MAX_ROWS).
GRID_MAX_FREQUENCY = 10
GRID_RECENCY_BINS = 8
SEGMENT_COLUMNS = ("rfm_segment", "persona")


@dataclass(frozen=True)
class ClvResult:
    """Everything the 04_clv report shows; ``scores`` is what clv.parquet holds."""

    month: str
    config: CLVConfig
    summary: pd.DataFrame
    validation: Validation
    model: CountModel
    spend: SpendModel  # Gamma-Gamma, or MeanSpendModel when it could not be fitted
    independence: IndependenceCheck | None  # None: undefined (too few repeat buyers, one price)
    scores: pd.DataFrame
    segments: pd.DataFrame | None = None  # customer_id + SEGMENT_COLUMNS of 03's snapshot; None without one
    path: Path | None = None  # clv.parquet once written
    configured_holdout: int | None = None  # clv.holdout_months when the history was too short for it (else None)

    def headline(self) -> dict[str, float | int | str]:
        """Headline figures for metrics/04_clv.json (numbers and codes)."""
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
            "top10_share": top_share(clv, TOP_SHARE),
            "average_p_alive": float(self.scores["p_alive"].mean()),
            "expected_purchases": float(self.scores["expected_purchases"].sum()),
            "horizon_months": int(self.config.horizon_months),
            "frequency_spend_correlation": self.independence.pearson if self.independence else None,
            "one_time_share": self.one_time_share,
            "spend_model": self.spend.name,
        }

    @property
    def one_time_share(self) -> float:
        """Share of the scored buyers with a single purchase day (no repeat purchase yet)."""
        return float((self.summary["frequency"] == 0).mean())

    def write(self, wh: Warehouse) -> None:
        """Write snapshots/<month>/clv.parquet (returns nothing: no server path on a page)."""
        wh.write_snapshot(self.month, "clv", self.scores)

    # ---- derived figures the page shows (numbers only)
    @property
    def calibration_end(self) -> str:
        """The last month of the calibration period of the holdout validation."""
        return shift_month(self.month, -self.config.holdout_months)

    @property
    def horizon_units(self) -> float:
        """The CLV horizon in the model's time units (weeks or days)."""
        return self.config.horizon_months * MONTH_DAYS / UNIT_DAYS[self.config.time_unit]

    def grid_age(self) -> float:
        """The customer age (in time units) of the frequency x recency grids."""
        return float(self.summary["T"].quantile(GRID_AGE_QUANTILE))

    def grid(self, what: str) -> pd.DataFrame:
        """``value.frequency_recency_matrix`` of the chosen model: ``expected`` purchases over
        the horizon or ``p_alive``, for a customer of ``grid_age``."""
        horizon = self.horizon_units if what == "expected" else 0.0
        return frequency_recency_matrix(self.model, self.grid_age(), what, t=horizon,
                                        max_frequency=GRID_MAX_FREQUENCY, recency_bins=GRID_RECENCY_BINS)

    def tiers(self) -> pd.DataFrame:
        """``value.value_by_group`` by CLV tier (high / medium / low codes)."""
        return value_by_group(self.scores, self.scores[["customer_id", "clv_tier"]], "clv_tier")

    def by_group(self, column: str) -> pd.DataFrame | None:
        """``value.value_by_group`` by a column of the segments snapshot (codes as stored);
        None without segments or without that column."""
        if self.segments is None or column not in self.segments:
            return None
        return value_by_group(self.scores, self.segments, column)

    def concentration(self) -> pd.DataFrame:
        """Cumulative share of CLV against the share of customers, best customers first."""
        values = np.sort(self.scores["clv"].to_numpy(float))[::-1]
        n, total = len(values), values.sum()
        return pd.DataFrame({
            "share_customers": np.arange(1, n + 1) / max(n, 1),
            "share_value": np.cumsum(values) / total if total > 0 else np.zeros(n),
        })


def _segments(wh: Warehouse, month: str) -> pd.DataFrame | None:
    """customer_id and the segment columns of 03_segmentation's snapshot, None without one."""
    if not wh.has_snapshot(month, "segments"):
        return None
    frame = wh.read_snapshot(month, "segments")
    return frame[["customer_id", *[c for c in SEGMENT_COLUMNS if c in frame.columns]]]


def holdout_months(summary: pd.DataFrame, config: CLVConfig) -> int:
    """The months to hold out for validation: ``clv.holdout_months`` when the history (the
    oldest customer's age) is at least twice as long, else half the history in whole months,
    so a company with a short order history still gets a checked model."""
    history = float(summary["T"].max()) * UNIT_DAYS[config.time_unit] / MONTH_DAYS
    if history >= 2 * config.holdout_months:
        return config.holdout_months
    if history < 2:
        raise ValueError(
            f"the orders cover {history:.1f} months: CLV needs at least 2 months of order history "
            "(one to fit the models on, one to check them)"
        )
    return int(history // 2)


def run(wh: Warehouse, month: str, config: KitConfig | CLVConfig) -> ClvResult:
    """Validate the configured models on the last ``holdout_months`` (fewer for a short
    history: ``holdout_months``), pick the best on holdout MAE, refit it on all history up
    to ``month`` and score every identified buyer (nothing is written: ``ClvResult.write``)."""
    configured = clv_config(config)
    summary = customer_summary(wh, month, configured)
    if summary.empty:
        raise ValueError(f"no paid orders before the end of {month}: nothing to score for CLV")
    cfg = replace(configured, holdout_months=holdout_months(summary, configured))
    holdout = customer_summary(wh, month, cfg, calibration_end=shift_month(month, -cfg.holdout_months))
    validation = validate(holdout, cfg.models)
    fitted = fit_value(summary, cfg, validation.chosen)
    return ClvResult(
        month=month,
        config=cfg,
        summary=summary,
        validation=validation,
        model=fitted.model,
        spend=fitted.spend,
        independence=independence_check(summary["frequency"], summary["monetary"]),
        scores=fitted.scores,
        segments=_segments(wh, month),
        configured_holdout=configured.holdout_months if cfg.holdout_months != configured.holdout_months else None,
    )


def run_clv(wh: Warehouse, month: str, config: KitConfig | CLVConfig) -> ClvResult:
    """``run`` and write snapshots/<month>/clv.parquet (its path in ``result.path``)."""
    result = run(wh, month, config)
    result.write(wh)
    return replace(result, path=wh.snapshot_dir(month) / "clv.parquet")
