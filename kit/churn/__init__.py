"""Churn early warning (流失预警): who is about to leave, why, and what they are worth.

Modules: ``dataset`` (snapshot scheme, labels, population), ``signals`` (the churn
features on top of kit.profile.features: BG/NBD, visits and basket around the last order),
``model`` (gradient boosting, baseline, calibration, metrics), ``drivers`` (permutation
importance, partial dependence, per-customer reasons), ``retention`` (Kaplan-Meier,
cohorts), ``actions`` (value at risk, action buckets, exports), ``sample`` (the training
sample), ``pipeline`` (``run`` = ``run_churn``; ``ChurnResult.write`` / ``headline``) and
``page`` (the 05_churn page).

Scale: the run month is always scored for every customer in its population. The
training and validation snapshots follow a fixed random sample of customers once the
run month has more than ``kit.churn.sample.SAMPLE_CUSTOMERS`` (100,000; a whole number
of at least 20,000 via ``run_churn(sample_customers=...)``): the same customers in every
month, chosen by a stable hash of ``customer_id``, with features read from a warehouse
holding only their rows. Worlds below the cap (the demo) are not sampled, so their
results are unchanged. Measurements: docs/decisions/0014-churn-training-sample.md (the
sample), docs/decisions/0011-churn-signals.md (the signals), docs/decisions/0015-churn-speed-at-1m.md.
"""

from kit.churn.pipeline import ChurnResult, run_churn

__all__ = ["ChurnResult", "run_churn"]
