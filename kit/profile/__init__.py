"""Profile (用户画像) stage: per-customer features (``features``), rule-based tags (``tags``),
the month's profile (``pipeline``) and the 02_tags page (``page``).

Other stages use the profile through this face: ``build_features`` (one row per customer
with every feature, as of a month end) and ``category_column`` (the
cat_share_ column of a category, ``CATEGORY_PREFIX`` + name).
"""

from kit.profile.features import CATEGORY_PREFIX, build_features, category_column

__all__ = ["CATEGORY_PREFIX", "build_features", "category_column"]
