"""Heatmaps a reader can read: a number in every cell and at most ``MAX_ROWS`` rows.

Colour alone only says "darker is more", so every cell carries its number; past
``MAX_ROWS`` rows those numbers no longer fit, and the page shows a table instead (each
page chooses that table: ``fits`` says whether a heatmap may be drawn). Shared by every
stage page, below the report shell in the layering like the display cards.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.image import AxesImage

MAX_ROWS = 12
# Cells darker than this share of the largest value get white numbers.
DARK_SHARE = 0.6


def fits(matrix: pd.DataFrame) -> bool:
    """Whether ``matrix`` may be drawn as a heatmap: at least one and at most ``MAX_ROWS`` rows."""
    return 0 < len(matrix) <= MAX_ROWS


def draw_heatmap(ax: Axes, matrix: pd.DataFrame, cell_text: pd.DataFrame, row_labels: list[str],
                 col_labels: list[str], cmap: str = "Blues") -> AxesImage:
    """A labelled heatmap of ``matrix`` with ``cell_text`` written in each cell; missing
    values stay blank. Refuses a matrix that does not ``fit`` (show a table instead)."""
    if not fits(matrix):
        raise ValueError(f"a heatmap of {len(matrix)} rows is unreadable (at most {MAX_ROWS}): show a table instead")
    values = matrix.to_numpy(dtype=float)
    image = ax.imshow(np.ma.masked_invalid(values), cmap=cmap, aspect="auto")
    ax.set_xticks(range(len(col_labels)), labels=col_labels, rotation=35, ha="right")
    ax.set_yticks(range(len(row_labels)), labels=row_labels)
    ax.grid(False)
    top = np.nanmax(values) if np.isfinite(values).any() else 0.0
    for (i, j), value in np.ndenumerate(values):
        dark = top > 0 and value > DARK_SHARE * top
        ax.text(j, i, cell_text.iat[i, j], ha="center", va="center", fontsize=8, color="white" if dark else "black")
    return image
