"""Churn early warning (流失预警): who is about to leave, why, and what they are worth.

Modules: ``dataset`` (snapshot scheme, labels, population), ``signals`` (the churn
features on top of kit.profile.features: BG/NBD, visits and basket around the last order, with
the measured effect of every change on the demo world), ``model`` (gradient boosting,
baseline, calibration, metrics), ``drivers`` (permutation importance, partial dependence,
per-customer reasons), ``retention`` (Kaplan-Meier, cohorts), ``actions`` (value at
risk, action buckets, exports), ``sample`` (the training sample), ``pipeline``
(``run`` = ``run_churn``; ``ChurnResult.write`` / ``headline``) and ``page`` (the 05_churn page).

Scale: the run month is always scored for every customer in its population. The
training and validation snapshots follow a fixed random sample of customers once the
run month has more than ``kit.churn.sample.SAMPLE_CUSTOMERS`` (100,000; a whole number
of at least 20,000 via ``run_churn(sample_customers=...)``): the same customers in every
month, chosen by a stable hash of ``customer_id``, with features read from a warehouse
holding only their rows. On the 1,000,000-customer bench world the out-of-time AUC moved
by 0.0001 between ~290,000 and ~574,000 training rows and its standard error on the
~82,000 sampled validation customers is about 0.001; measurements in
``kit.churn.sample`` and ``kit.churn.pipeline``. Worlds below the cap (the demo) are not
sampled, so their results are unchanged.
"""

from kit.churn.pipeline import ChurnResult, run_churn

__all__ = ["ChurnResult", "run_churn"]
