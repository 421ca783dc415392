"""Customer lifetime value (issue 7): purchase models (BG/NBD, Pareto/NBD, MBG/NBD), the
Gamma-Gamma spend model, calibration/holdout validation and per-customer CLV.

We write these models by hand on purpose: the well-kept library (PyMC-Marketing) is heavy
to install and slower at a million customers (docs/decisions/0017-clv-hand-written-models.md).
They are checked against the published CDNOW estimates, against lifetimes
(benchmark-only, see kit.bench.clv) and by parameter recovery on simulated data.

Stage entry: ``pipeline.run(wh, month, config) -> ClvResult`` (``result.write(wh)`` writes
snapshots/<month>/clv.parquet; ``run_clv`` does both); ``page`` is the 04_clv page.
"""

from kit.clv.base import ClvFitError, per_customer
from kit.clv.bgnbd import BetaGeoModel
from kit.clv.pipeline import ClvResult, run_clv
from kit.clv.summary import UNIT_DAYS, purchase_days

# the BG/NBD pieces kit.churn.signals uses: other stages import kit.clv, never its modules
__all__ = ["UNIT_DAYS", "BetaGeoModel", "ClvFitError", "ClvResult", "per_customer", "purchase_days", "run_clv"]
