"""Customer lifetime value (issue 7): purchase models (BG/NBD, Pareto/NBD, MBG/NBD), the
Gamma-Gamma spend model, calibration/holdout validation and per-customer CLV.

We write these models by hand on purpose: the well-kept library (PyMC-Marketing) is heavy
to install and slower at a million customers (docs/decisions/0017-clv-hand-written-models.md).
They are checked against the published CDNOW estimates, against lifetimes
(benchmark-only, see kit.bench.clv) and by parameter recovery on simulated data.

DataFrame entry points (kit.frames): ``orders_summary`` (the summary of an orders frame, as
of any date) and ``fit_value`` (one model and the spend model fitted, every customer valued).

Stage entry: ``pipeline.run(wh, month, config) -> ClvResult`` (``result.write(wh)`` writes
snapshots/<month>/clv.parquet; ``run_clv`` does both); ``page`` is the 04_clv page.
"""

from kit.clv.base import ClvFitError, per_customer
from kit.clv.bgnbd import BetaGeoModel
from kit.clv.models import COUNT_MODELS
from kit.clv.pipeline import ClvResult, run_clv
from kit.clv.summary import (
    UNIT_DAYS,
    as_of_day,
    orders_summary,
    paid_orders,
    purchase_days,
)
from kit.clv.value import FittedValue, fit_value

# the BG/NBD pieces kit.churn.signals uses, the rule of which orders are purchases
# (paid_orders, for the overview) and the DataFrame entry points of kit.frames
# (orders_summary, fit_value, as_of_day): other modules import kit.clv, never its modules
__all__ = [
    "COUNT_MODELS", "UNIT_DAYS", "BetaGeoModel", "ClvFitError", "ClvResult", "FittedValue", "as_of_day", "fit_value",
    "orders_summary", "paid_orders", "per_customer", "purchase_days", "run_clv",
]
