"""The profile stage (用户画像): features and tags for the month (``build_profile``), and the
frames behind the 02_tags page: catalogue, overlap, movement and profile cards.

Each frame function takes the profile table (features + ``tag_<name>`` columns, as written
to ``snapshots/<month>/profile.parquet``) and returns a small pandas frame of codes and
numbers; kit.profile.page labels and formats them. Only counts and shares leave this
module, never customer rows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd

from kit.core.config import KitConfig
from kit.core.dates import previous_month
from kit.core.vocabulary import Vocabulary, customer_counts
from kit.core.warehouse import Warehouse
from kit.profile.features import build_features, feature_plan, write_profile
from kit.profile.needs import FeaturePlan
from kit.profile.tags import (
    Tag,
    TagError,
    TagResult,
    coverage_of,
    evaluate_rule,
    evaluate_tags,
    load_tags,
    rule_features,
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
    """The month's features and tags, and last month's profile when it exists.

    ``tags`` are the evaluated tags; ``skipped`` the tags of the file whose features the
    warehouse's inputs do not allow (their needs: ``result.skipped``), ``plan`` what was
    computed (kit.profile.needs)."""

    month: str
    profile: pd.DataFrame
    tags: list[Tag]
    result: TagResult
    previous: pd.DataFrame | None
    vocab: Vocabulary
    skipped: list[Tag] = field(default_factory=list)
    plan: FeaturePlan | None = None

    def headline(self) -> dict[str, float | int | str]:
        """The figures saved to metrics/02_tags.json: the vocabulary's customer counts, tags and coverage."""
        metrics: dict[str, float | int | str] = {
            **customer_counts(self.profile, self.vocab),
            "tags": len(self.tags),
            "tags_skipped": len(self.skipped),
            "tag_warnings": len(self.result.warnings),
        }
        metrics |= {f"coverage_{name}": value for name, value in self.result.coverage().items()}
        return metrics


def build_profile(wh: Warehouse, month: str, config: KitConfig, write: bool = True) -> ProfileRun:
    """Build features, evaluate the tag file, write ``profile.parquet`` and load last month's."""
    features = build_features(wh, month, config)
    plan = feature_plan(wh, config)
    tags = load_tags(config.resolve(config.features.tags_file))
    result = evaluate_tags(tags, features, plan.need_of)
    if write:
        write_profile(wh, month, features, result.values)
    profile = pd.concat([features, result.values], axis=1)
    before = previous_month(month)
    previous = wh.read_snapshot(before, "profile") if wh.has_snapshot(before, "profile") else None
    return ProfileRun(month=month, profile=profile, tags=[t for t in tags if t.name in result.kinds], result=result,
                      previous=previous, vocab=Vocabulary.from_config(config),
                      skipped=[t for t in tags if t.name in result.skipped], plan=plan)


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


def overlap_counts(profile: pd.DataFrame, tags: list[Tag]) -> pd.DataFrame:
    """Customers carrying both the row tag and the column tag (diagonal: the tag's size);
    rows and columns are tag names."""
    names = [t.name for t in tags]
    matrix = profile[[t.column for t in tags]].to_numpy(dtype="float64")
    return pd.DataFrame(matrix.T @ matrix, index=names, columns=names)


def _row_shares(counts: pd.DataFrame) -> pd.DataFrame:
    """``overlap_counts`` as shares of the row tag's customers (NaN for a tag with none)."""
    sizes = pd.Series(counts.to_numpy().diagonal(), index=counts.index)
    return counts.div(sizes.where(sizes > 0), axis=0)


def cooccurrence(profile: pd.DataFrame, tags: list[Tag]) -> pd.DataFrame:
    """Share of the row tag's customers who also carry the column tag (diagonal = 1).

    Rows and columns are tag names; a tag with no customers has a row of NaN.
    """
    return _row_shares(overlap_counts(profile, tags))


def overlap_pairs(profile: pd.DataFrame, tags: list[Tag]) -> pd.DataFrame:
    """Every ordered pair of different tags that share customers: ``tag``, ``other``,
    ``customers`` (carrying both) and ``share`` (of ``tag``'s customers who also carry
    ``other``), the largest share first (ties: more customers). The readable form of
    ``cooccurrence`` when there are too many tags for a grid."""
    counts = overlap_counts(profile, tags)
    pairs = pd.DataFrame({"customers": counts.stack(), "share": _row_shares(counts).stack()})
    pairs = pairs.rename_axis(["tag", "other"]).reset_index()
    pairs = pairs.loc[(pairs["tag"] != pairs["other"]) & (pairs["customers"] > 0)]
    return pairs.sort_values(["share", "customers"], ascending=False, kind="stable", ignore_index=True)


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
    """Who the customers selected by ``mask`` are: size, value, habits, top category; a
    figure whose feature the profile lacks (no birth years, no categories) is left out
    (``card_needs`` says why)."""
    group = profile[mask.to_numpy()]
    card: dict[str, float | str | int] = {"customers": len(group), "share": len(group) / max(len(profile), 1)}
    for out, feature, stat in CARD_NUMBERS:
        if feature in group:
            values = group[feature].astype("float64")
            card[out] = float(getattr(values, stat)()) if values.notna().any() else float("nan")
    total_spend = float(profile["monetary_365d"].sum())
    card["spend_share_365d"] = float(group["monetary_365d"].sum()) / total_spend if total_spend > 0 else float("nan")
    for out, feature in CARD_MODES:
        if feature in group:
            counts = group[feature].value_counts(normalize=True, sort=True)
            card[out] = str(counts.index[0]) if len(counts) else ""
            card[f"{out}_share"] = float(counts.iloc[0]) if len(counts) else float("nan")
    if "gender" in group:
        known = group["gender"].notna().sum()  # share among customers whose gender is known
        card["female_share"] = float((group["gender"] == "female").sum() / known) if known else float("nan")
    return card


def category_breakdown(profile: pd.DataFrame, tag: Tag) -> pd.DataFrame:
    """For a categorical tag: customers and share per value (missing values left out)."""
    counts = profile[tag.column].value_counts(sort=True)
    counts = counts[counts > 0]
    return pd.DataFrame({"value": counts.index.astype(str), "customers": counts.to_numpy(), "share": counts.to_numpy() / len(profile)})


def skipped_by_need(run: ProfileRun) -> dict[str, list[Tag]]:
    """The skipped tags grouped by the input they lack, in tag-file order."""
    groups: dict[str, list[Tag]] = {}
    for tag in run.skipped:
        groups.setdefault(run.result.skipped[tag.name], []).append(tag)
    return groups


def card_needs(run: ProfileRun) -> dict[str, str]:
    """Profile card columns left out for an absent feature -> the input it lacks."""
    plan = run.plan
    sources = {**{out: feature for out, feature, _ in CARD_NUMBERS}, **dict(CARD_MODES), "female_share": "gender"}
    needs = {out: plan.need_of(feature) if plan else None for out, feature in sources.items() if feature not in run.profile}
    return {out: need for out, need in needs.items() if need is not None}


def preview_rule(
    rule: str, profile: pd.DataFrame, need_of: Callable[[str], str | None] | None = None
) -> dict[str, float | str | int]:
    """Coverage and profile card of an ad-hoc rule (the interactive rule box); a rule on a
    feature the warehouse's inputs do not allow (``need_of``) is a TagError naming the input."""
    if need_of is not None:
        for name in sorted(rule_features(rule) - set(profile.columns)):
            if (need := need_of(name)) is not None:
                raise TagError(f"feature {name!r} is not computed for this data: it needs {need!r}, which the warehouse lacks.")
    series = evaluate_rule(rule, profile)
    if series.dtype != bool:
        series = series.notna()
    return {"coverage": coverage_of(series), **profile_card(profile, series)}


