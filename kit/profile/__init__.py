"""Profile (用户画像) stage: per-customer features (``features``, with ``needs`` saying which
the warehouse's inputs allow and ``events`` the features per event type), rule-based tags
(``tags``), the month's profile (``pipeline``) and the 02_tags page (``page``).

Other stages use the profile through this face: ``build_features`` (one row per customer
with every feature the inputs allow, as of a month end), ``feature_plan`` (which features
are computed and why the others are not: ``FeaturePlan.skipped``, ``FeaturePlan.need_of``),
``category_column`` (the cat_share_ column of a category, ``CATEGORY_PREFIX`` + name) and
``event_feature_parts`` (the event type slug and window of an ``ev_`` feature).
"""

from kit.profile.events import event_feature_parts
from kit.profile.features import (
    CATEGORY_PREFIX,
    build_features,
    category_column,
    describe,
    feature_plan,
)
from kit.profile.needs import FeaturePlan

__all__ = [
    "CATEGORY_PREFIX", "FeaturePlan", "build_features", "category_column", "describe", "event_feature_parts", "feature_plan",
]  # fmt: skip
