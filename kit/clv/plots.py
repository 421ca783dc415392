"""Charts of the 04_clv report, drawn on an Axes the report created (titles and axis labels
come translated from the notebook)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from kit.clv.validation import Validation


def calibration_holdout(ax: Axes, validation: Validation, labels: dict[str, str], actual_label: str) -> None:
    """Average holdout purchases per calibration-frequency bucket: actual vs each model."""
    buckets = validation.buckets
    x = np.arange(len(buckets))
    ax.plot(x, buckets["actual"], marker="o", linewidth=2.5, color="black", label=actual_label)
    for name, label in labels.items():
        if name in buckets:
            ax.plot(x, buckets[name], marker=".", linestyle="--", label=label)
    ax.set_xticks(x, buckets["bucket"])
    ax.legend()


def matrix(ax: Axes, grid: pd.DataFrame, colorbar_label: str, cmap: str = "viridis") -> None:
    """A frequency (rows) x recency (columns) heatmap from value.frequency_recency_matrix."""
    image = ax.imshow(grid.to_numpy(), origin="lower", aspect="auto", cmap=cmap)
    ticks = np.linspace(0, grid.shape[1] - 1, 6).round().astype(int)
    ax.set_xticks(ticks, [f"{grid.columns[i]:.0f}" for i in ticks])
    ax.figure.colorbar(image, ax=ax, label=colorbar_label)


def clv_distribution(ax: Axes, clv: pd.Series) -> None:
    """Histogram of CLV (log-spaced bins for the long right tail)."""
    values = clv[clv > 0]
    bins = np.geomspace(max(values.min(), 1e-2), values.max(), 40) if len(values) else 10
    ax.hist(values, bins=bins, color="#4C78A8")
    ax.set_xscale("log")


def concentration(ax: Axes, clv: pd.Series) -> None:
    """Cumulative share of CLV against the share of customers, best customers first."""
    values = np.sort(clv.to_numpy(float))[::-1]
    share_customers = np.arange(1, len(values) + 1) / len(values)
    share_value = np.cumsum(values) / values.sum()
    ax.plot(share_customers * 100, share_value * 100, linewidth=2)
    ax.plot([0, 100], [0, 100], linestyle=":", color="grey")
    ax.axvline(10, color="grey", linewidth=0.8)
