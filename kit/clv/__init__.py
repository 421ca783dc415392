"""Customer lifetime value (issue 7): purchase models (BG/NBD, Pareto/NBD, MBG/NBD), the
Gamma-Gamma spend model, calibration/holdout validation and per-customer CLV.

We write these models by hand on purpose: the well-kept library (PyMC-Marketing) needs a
compiler toolchain and about 800 MB, and its MAP fit is several times slower at a
million customers. They are checked against the published CDNOW estimates, against
lifetimes (benchmark-only, see kit.clv.bench) and by parameter recovery on simulated data.

Entry point: ``run_clv(wh, month, config) -> ClvResult`` (writes snapshots/<month>/clv.parquet).
"""

from kit.clv.pipeline import ClvResult, run_clv

__all__ = ["ClvResult", "run_clv"]
