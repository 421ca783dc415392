"""Samples of customers drawn by a seeded hash of the customer id, never by row position.

Tables come back from DuckDB in an order that can change from run to run (parallel
scans), so a draw of row positions, even seeded, picks other customers on the same data;
the model fits, k-means starts and early-stopping splits downstream then differ. A
customer's key here depends only on its id and the configured seed: the same customers
are drawn whatever the row order, in every run and every month (tests/e2e/test_determinism.py).
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def stable_key(customer_ids: pd.Series | np.ndarray, seed: int) -> np.ndarray:
    """A pseudo-random uint64 per customer id (SipHash keyed by ``seed``): the same for the
    same id and seed in every run, whatever the row order."""
    hash_key = f"kit{int(seed) & (16**13 - 1):013x}"  # SipHash takes a 16-character key
    return pd.util.hash_pandas_object(pd.Series(customer_ids, dtype="str"), index=False, hash_key=hash_key).to_numpy()


def smallest_keys(customer_ids: pd.Series | np.ndarray, n: int, seed: int) -> np.ndarray:
    """Positions of the ``n`` rows with the smallest keys (all rows when there are fewer),
    in key order; rows of one id repeated (several snapshot months) keep their order."""
    keys = stable_key(customer_ids, seed)
    order = np.lexsort((np.arange(len(keys)), keys))
    return order[: max(0, int(n))]
