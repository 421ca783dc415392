"""Churn early warning (流失预警): who is about to leave, why, and what they are worth.

Modules: ``dataset`` (snapshot scheme, labels, population), ``model`` (gradient boosting,
baseline, calibration, metrics), ``drivers`` (permutation importance, partial dependence,
per-customer reasons), ``retention`` (Kaplan-Meier, cohorts), ``actions`` (value at
risk, action buckets, exports) and ``pipeline`` (``run_churn``).
"""

from kit.churn.pipeline import ChurnResult, run_churn

__all__ = ["ChurnResult", "run_churn"]
