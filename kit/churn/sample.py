"""A fixed random sample of customers for the churn model's training and validation snapshots.

Building features for every customer of ten snapshots and fitting on all of them costs
minutes at 1,000,000 customers and the model does not need them all. When the run month's
population exceeds ``SAMPLE_CUSTOMERS`` (100,000), every labelled snapshot keeps only a
sample of about that many customers (earlier months have fewer); the run month itself is
always scored in full. Worlds below the cap (the demo) are not sampled.

The sample is a set of customers, not of rows: every customer whose ``stable_key`` (a
SipHash of the id keyed by ``churn.seed``: ``kit.core.sampling``) is below a threshold, the
threshold chosen so that ``cap`` customers of the run month's population fall below it.
It is the same customers in every snapshot month and every run, a uniform random subset
of *all* customers (lapsed ones and anonymous receipts included, so the BG/NBD signals
are fitted on the same kind of histories as for the full population).

``SampledWarehouse`` materialises the customer-level tables of those customers once on
the warehouse's own engine (``Warehouse.materialise``: a temporary table in DuckDB's
memory, a cached DataFrame on Spark); any features function then runs unchanged on it, and every per-customer
feature equals that of a full build (aggregates only read the customer's own rows;
tests/integration/test_churn.py checks it). The BG/NBD fit is the full build's too when the sample
holds at least ``kit.churn.signals.BTYD_SAMPLE`` buyers (both fit the buyers with the
smallest keys), else it is fitted on all the sample's buyers. A category nobody in the
sample bought before the snapshot gets no ``cat_share_`` column; ``fill_category_shares``
adds it as 0, which is what the full build gives every buyer without an order in it.

Why 100,000 (AUC and fit time by sample size on the bench world):
docs/decisions/0014-churn-training-sample.md.
"""

from __future__ import annotations

import ibis
import numpy as np
import pandas as pd

from kit.core.sampling import stable_key
from kit.core.warehouse import Warehouse

SAMPLE_CUSTOMERS = 100_000
MIN_SAMPLE_CUSTOMERS = 20_000
# Tables keyed by customer_id: the sample keeps the rows of sampled customers only.
CUSTOMER_TABLES = ("customers", "identities", "orders", "events", "surveys")
CATEGORY_PREFIX = "cat_share_"


def check_cap(cap: object) -> int:
    """``cap`` as a sample size, or ValueError when it is not a whole number >= MIN_SAMPLE_CUSTOMERS."""
    if isinstance(cap, bool) or not isinstance(cap, int) or cap < MIN_SAMPLE_CUSTOMERS:
        raise ValueError(
            f"churn sample of {cap!r} customers per snapshot: needs a whole number of at least "
            f"{MIN_SAMPLE_CUSTOMERS:,} (fewer makes the out-of-time AUC and the fit noisy)."
        )
    return cap


def key_threshold(population_ids: pd.Series, cap: int, seed: int) -> int | None:
    """The largest key among the ``cap`` population ids with the smallest keys, or None
    when the population has at most ``cap`` customers (no sampling)."""
    if len(population_ids) <= cap:
        return None
    keys = stable_key(population_ids, seed)
    return int(np.partition(keys, cap - 1)[cap - 1])


def in_sample(customer_ids: pd.Series, threshold: int, cap: int, seed: int) -> np.ndarray:
    """Mask of the ids with a key at most ``threshold``, trimmed to the ``cap`` smallest keys
    (an earlier month's population can be larger than the run month's)."""
    keys = stable_key(customer_ids, seed)
    keep = keys <= np.uint64(threshold)
    if keep.sum() > cap:
        keep = keys <= np.partition(keys[keep], cap - 1)[cap - 1]
    return keep


class SampledWarehouse(Warehouse):
    """``wh`` with ``CUSTOMER_TABLES`` limited to customers whose key (under ``seed``) is at
    most ``threshold``.

    Each table is filtered once, on first use, and cached on ``wh``'s engine (freed with
    the object); other tables are read as ``wh`` reads them.
    """

    def __init__(self, wh: Warehouse, threshold: int, seed: int) -> None:
        super().__init__(wh.root, wh.con, wh.catalog)
        customers = super().table("customers").select("customer_id").to_pandas()["customer_id"]
        ids = customers.loc[stable_key(customers, seed) <= np.uint64(threshold)]
        # an in-memory table: the engine of the first table it is joined with takes it
        self.sample_ids = ibis.memtable(pd.DataFrame({"customer_id": ids.to_numpy()}))
        self._tables: dict[str, ibis.Table] = {}

    def table(self, name: str) -> ibis.Table:
        """Canonical table ``name``; the sampled customers' rows only for ``CUSTOMER_TABLES``."""
        if name not in CUSTOMER_TABLES:
            return super().table(name)
        if name not in self._tables:
            self._tables[name] = self.materialise(super().table(name).semi_join(self.sample_ids, "customer_id"), f"sample_{name}")
        return self._tables[name]


def fill_category_shares(frame: pd.DataFrame, columns: tuple[str, ...]) -> pd.DataFrame:
    """``frame`` with every missing ``cat_share_`` column of ``columns`` added as 0.0 (see
    the module docstring: exact for buyers, the only customers in a churn snapshot)."""
    missing = [c for c in columns if c.startswith(CATEGORY_PREFIX) and c not in frame.columns]
    return frame.assign(**{c: 0.0 for c in missing}) if missing else frame
