"""The profile stage (用户画像): features and tags for the month (``build_profile``), and the
frames behind the 02_tags page: catalogue, overlap, movement and profile cards.

Each frame function takes the profile table (features + ``tag_<name>`` columns, as written
to ``snapshots/<month>/profile.parquet``) and returns a small pandas frame of codes and
numbers; kit.profile.page labels and formats them. Only counts and shares leave this
module, never customer rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from kit.core.config import KitConfig
from kit.core.dates import previous_month
from kit.core.vocabulary import Vocabulary, customer_counts
from kit.core.warehouse import Warehouse
from kit.profile.features import build_features, write_profile
from kit.profile.tags import (
    Tag,
    TagResult,
    coverage_of,
    evaluate_rule,
    evaluate_tags,
    load_tags,
)

# Columns summarised on a profile card: (output column, feature, statistic).
CARD_NUMBERS = (
    ("avg_spend_365d", "monetary_365d", "mean"),
    ("avg_orders_365d", "frequency_365d", "mean"),
    ("median_aov", "aov_all", "median"),
    ("median_recency_days", "recency_days", "median"),
    ("avg_age", "age", "mean"),
)
CARD_MODES = (("top_category", "favourite_category"), ("top_channel", "main_channel"), ("top_age_band", "age_band"))


@dataclass
class ProfileRun:
    """The month's features and tags, and last month's profile when it exists."""

    month: str
    profile: pd.DataFrame
    tags: list[Tag]
    result: TagResult
    previous: pd.DataFrame | None
    vocab: Vocabulary

    def headline(self) -> dict[str, float | int | str]:
        """The figures saved to metrics/02_tags.json: the vocabulary's customer counts, tags and coverage."""
        metrics: dict[str, float | int | str] = {
            **customer_counts(self.profile, self.vocab),
            "tags": len(self.tags),
            "tag_warnings": len(self.result.warnings),
        }
        metrics |= {f"coverage_{name}": value for name, value in self.result.coverage().items()}
        return metrics


def build_profile(wh: Warehouse, month: str, config: KitConfig, write: bool = True) -> ProfileRun:
    """Build features, evaluate the tag file, write ``profile.parquet`` and load last month's."""
    features = build_features(wh, month, config)
    tags = load_tags(config.resolve(config.features.tags_file))
    result = evaluate_tags(tags, features)
    if write:
        write_profile(wh, month, features, result.values)
    profile = pd.concat([features, result.values], axis=1)
    before = previous_month(month)
    previous = wh.read_snapshot(before, "profile") if wh.has_snapshot(before, "profile") else None
    return ProfileRun(month=month, profile=profile, tags=tags, result=result, previous=previous,
                      vocab=Vocabulary.from_config(config))


def run_month(config: KitConfig) -> ProfileRun:
    """Features, tags and ``profile.parquet`` for ``config.run.month`` (the bench stage)."""
    return build_profile(Warehouse.from_config(config), config.run.month, config)


def bool_tags(tags: list[Tag], profile: pd.DataFrame) -> list[Tag]:
    """The tags whose profile column is true/false (not categorical)."""
    return [t for t in tags if t.column in profile.columns and profile[t.column].dtype == bool]


def catalogue(tags: list[Tag], result: TagResult, previous: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per tag: name, dimension, rule, customers, coverage and its change.

    ``previous`` is last month's profile (or None): ``coverage_prev`` and
    ``coverage_change`` (a difference of shares, in percentage points x 0.01) are NaN when
    a tag was not in it.
    """
    rows = []
    for tag in tags:
        col = result.values[tag.column]
        hits = int(col.sum()) if col.dtype == bool else int(col.notna().sum())
        before = coverage_of(previous[tag.column]) if previous is not None and tag.column in previous else float("nan")
        cov = coverage_of(col)
        rows.append(
            {
                "tag": tag.name,
                "dimension": tag.dimension,
                "rule": tag.rule.strip(),
                "version": tag.version,
                "customers": hits,
                "coverage": cov,
                "coverage_prev": before,
                "coverage_change": cov - before,
                "warning": result.warnings.get(tag.name, ""),
            }
        )
    return pd.DataFrame(rows)


def cooccurrence(profile: pd.DataFrame, tags: list[Tag]) -> pd.DataFrame:
    """Share of the row tag's customers who also carry the column tag (diagonal = 1).

    Rows and columns are tag names; a tag with no customers has a row of NaN.
    """
    names = [t.name for t in tags]
    matrix = profile[[t.column for t in tags]].to_numpy(dtype="float64")
    both = matrix.T @ matrix
    sizes = both.diagonal().copy()
    sizes[sizes == 0] = float("nan")
    return pd.DataFrame(both / sizes[:, None], index=names, columns=names)


def movement(profile: pd.DataFrame, previous: pd.DataFrame, tags: list[Tag]) -> pd.DataFrame:
    """Per tag, how many customers gained it and lost it since last month's profile.

    Customers are matched on ``customer_id``; ``gained`` includes customers who were not in
    last month's profile (``of_which_new``). ``before`` / ``after`` are the tag sizes.
    """
    now = profile.set_index("customer_id")
    before = previous.set_index("customer_id")
    new_ids = now.index.difference(before.index)
    rows = []
    for tag in tags:
        after_set = now[tag.column]
        if tag.column not in before.columns:
            continue
        prev = before[tag.column].reindex(now.index, fill_value=False).astype(bool)
        gained = after_set & ~prev
        lost_here = prev & ~after_set
        dropped = before[tag.column].drop(now.index, errors="ignore").astype(bool).sum()
        rows.append(
            {
                "tag": tag.name,
                "before": int(before[tag.column].astype(bool).sum()),
                "after": int(after_set.sum()),
                "gained": int(gained.sum()),
                "of_which_new": int(gained.loc[new_ids].sum()),
                "lost": int(lost_here.sum() + dropped),
                "net": int(after_set.sum()) - int(before[tag.column].astype(bool).sum()),
            }
        )
    return pd.DataFrame(rows, columns=["tag", "before", "after", "gained", "of_which_new", "lost", "net"])


def profile_card(profile: pd.DataFrame, mask: pd.Series) -> dict[str, float | str | int]:
    """Who the customers selected by ``mask`` are: size, value, habits, top category."""
    group = profile[mask.to_numpy()]
    card: dict[str, float | str | int] = {"customers": len(group), "share": len(group) / max(len(profile), 1)}
    for out, feature, stat in CARD_NUMBERS:
        values = group[feature].astype("float64") if feature in group else pd.Series(dtype="float64")
        card[out] = float(getattr(values, stat)()) if values.notna().any() else float("nan")
    total_spend = float(profile["monetary_365d"].sum())
    card["spend_share_365d"] = float(group["monetary_365d"].sum()) / total_spend if total_spend > 0 else float("nan")
    for out, feature in CARD_MODES:
        counts = group[feature].value_counts(normalize=True, sort=True) if feature in group else pd.Series()
        card[out] = str(counts.index[0]) if len(counts) else ""
        card[f"{out}_share"] = float(counts.iloc[0]) if len(counts) else float("nan")
    known = group["gender"].notna().sum()  # share among customers whose gender is known
    card["female_share"] = float((group["gender"] == "female").sum() / known) if known else float("nan")
    return card


def category_breakdown(profile: pd.DataFrame, tag: Tag) -> pd.DataFrame:
    """For a categorical tag: customers and share per value (missing values left out)."""
    counts = profile[tag.column].value_counts(sort=True)
    counts = counts[counts > 0]
    return pd.DataFrame({"value": counts.index.astype(str), "customers": counts.to_numpy(), "share": counts.to_numpy() / len(profile)})


def preview_rule(rule: str, profile: pd.DataFrame) -> dict[str, float | str | int]:
    """Coverage and profile card of an ad-hoc rule (the interactive rule box)."""
    series = evaluate_rule(rule, profile)
    if series.dtype != bool:
        series = series.notna()
    return {"coverage": coverage_of(series), **profile_card(profile, series)}


