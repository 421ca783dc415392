"""Who moved between layers since last month: transition tables, top moves and the stay rate.

Movement is measured on this month's customers: each is paired with last month's layer
(lifecycle stage, RFM segment, value tier or persona) from last month's segments.parquet;
customers who were not in last month's file come from the row ``NEW_IN_DATA``. Value is
the customer's revenue over the last 12 months as of this month (monetary_365d), i.e.
what the movers are worth a year. Codes and numbers only: the heatmaps and the sentences
("1,240 Champions became At Risk ...") are drawn and worded by kit.segments.page.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

NEW_IN_DATA = "(new in data)"


def transitions(previous: pd.DataFrame, current: pd.DataFrame, column: str, value: pd.Series) -> pd.DataFrame:
    """Long table of moves: source, target, count, value (one row per pair that occurs).

    ``current`` and ``value`` are aligned row by row (this month's segments and
    monetary_365d); ``previous`` is last month's segments (customer_id + ``column``).
    """
    for frame, name in ((previous, "last month's segments"), (current, "this month's segments")):
        missing = [c for c in ("customer_id", column) if c not in frame.columns]
        if missing:
            raise KeyError(f"{name} lack column(s) {missing} ({len(frame):,} rows); rebuild segments.parquet")
    if len(value) != len(current):
        raise ValueError(f"value has {len(value):,} rows but this month's segments have {len(current):,}")
    now = pd.DataFrame(
        {
            "customer_id": current["customer_id"].astype("str").to_numpy(),
            "target": current[column].astype("str").to_numpy(),
            "value": np.nan_to_num(value.to_numpy(dtype=float), nan=0.0),
        }
    )
    before = pd.Series(
        previous[column].astype("str").to_numpy(), index=previous["customer_id"].astype("str").to_numpy()
    )
    now["source"] = now["customer_id"].map(before).fillna(NEW_IN_DATA).astype("str")
    moves = now.groupby(["source", "target"], sort=False).agg(count=("value", "size"), value=("value", "sum"))
    return moves.reset_index()


def transition_matrix(moves: pd.DataFrame, order: list[str], measure: str = "count", row_share: bool = False) -> pd.DataFrame:
    """Source (rows) x target (columns) table of ``measure``; rows may be turned into shares.

    Rows and columns follow ``order`` (layers absent from both sides are dropped);
    ``NEW_IN_DATA`` is the last row when present. ``row_share`` divides each row by its
    total: the share of last month's layer that is in each layer now.
    """
    present = set(moves["source"]) | set(moves["target"])
    known = [name for name in order if name in present]
    extra = sorted(present - set(known) - {NEW_IN_DATA})
    columns = known + extra
    rows = columns + ([NEW_IN_DATA] if NEW_IN_DATA in set(moves["source"]) else [])
    matrix = moves.pivot_table(index="source", columns="target", values=measure, aggfunc="sum", fill_value=0)
    matrix = matrix.reindex(index=rows, columns=columns, fill_value=0).astype(float)
    if row_share:
        totals = matrix.sum(axis=1).replace(0, np.nan)
        matrix = matrix.div(totals, axis=0).fillna(0.0)
    return matrix


def top_moves(moves: pd.DataFrame, n: int = 5, by: str = "value", include_new: bool = False) -> pd.DataFrame:
    """The ``n`` largest changes of layer (source != target) by ``by`` (value or count)."""
    changed = moves[moves["source"] != moves["target"]]
    if not include_new:
        changed = changed[changed["source"] != NEW_IN_DATA]
    return changed.sort_values([by, "count"], ascending=False, kind="stable").head(n).reset_index(drop=True)


def stay_rate(moves: pd.DataFrame) -> float:
    """Share of last month's customers who are in the same layer this month."""
    known = moves[moves["source"] != NEW_IN_DATA]
    total = known["count"].sum()
    return float(known.loc[known["source"] == known["target"], "count"].sum() / total) if total else float("nan")
