"""The frames behind the 02_tags report: catalogue, overlap, movement and profile cards.

Each function takes the profile table (features + ``tag_<name>`` columns, as written to
``snapshots/<month>/profile.parquet``) and returns a small pandas frame the notebook shows
as a table or chart. Only counts and shares leave this module, never customer rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd

from kit.config import KitConfig
from kit.dates import previous_month
from kit.features import build_features, write_profile
from kit.report.fmt import Formatter
from kit.report.i18n import t
from kit.tags import Tag, TagError, TagResult, coverage_of, evaluate_rule, evaluate_tags, load_tags
from kit.warehouse import Warehouse

if TYPE_CHECKING:
    from kit.report.page import Report

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
    return ProfileRun(month=month, profile=profile, tags=tags, result=result, previous=previous)


def run_month(config: KitConfig) -> ProfileRun:
    """Features, tags and ``profile.parquet`` for ``config.run.month`` (the bench stage)."""
    return build_profile(Warehouse.from_config(config), config.run.month, config)


def bool_tags(tags: list[Tag], profile: pd.DataFrame) -> list[Tag]:
    """The tags whose profile column is true/false (not categorical)."""
    return [t for t in tags if t.column in profile.columns and profile[t.column].dtype == bool]


def catalogue(
    tags: list[Tag],
    result: TagResult,
    lang: str,
    previous: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One row per tag: label, dimension, rule, customers, coverage and its change.

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
                "label": tag.label(lang),
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


def profile_cards(profile: pd.DataFrame, tags: list[Tag], lang: str, all_label: str) -> pd.DataFrame:
    """One profile card per true/false tag plus a first row for the whole population."""
    rows = [{"tag": "", "label": all_label, **profile_card(profile, pd.Series(True, index=profile.index))}]
    for tag in tags:
        rows.append({"tag": tag.name, "label": tag.label(lang), **profile_card(profile, profile[tag.column])})
    return pd.DataFrame(rows)


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


def findings(run: ProfileRun, lang: str, fmt: Formatter) -> list[str]:
    """The 3-5 key findings at the top of the report, in ``lang``."""
    tags = bool_tags(run.tags, run.profile)
    cat = catalogue(run.tags, run.result, lang, run.previous).set_index("tag")
    cards = profile_cards(run.profile, tags, lang, "").set_index("tag")
    out = [t("tags.finding.size", lang, customers=fmt.int(len(run.profile)), tags=fmt.int(len(run.tags)))]
    biggest = cat.loc[[x.name for x in tags], "coverage"].idxmax()
    out.append(t("tags.finding.largest", lang, label=cat.loc[biggest, "label"], share=fmt.pct(cat.loc[biggest, "coverage"])))
    value = cards.loc[[x.name for x in tags]].dropna(subset=["spend_share_365d"])
    value = value[value["share"] > 0]
    if len(value):
        top = (value["spend_share_365d"] / value["share"]).idxmax()
        out.append(
            t(
                "tags.finding.value",
                lang,
                label=value.loc[top, "label"],
                share=fmt.pct(value.loc[top, "share"]),
                spend=fmt.pct(value.loc[top, "spend_share_365d"]),
            )
        )
    change = cat["coverage_change"].dropna()
    if len(change):
        moved = change.abs().idxmax()
        out.append(t("tags.finding.change", lang, label=cat.loc[moved, "label"], change=fmt.pp(change[moved])))
    else:
        out.append(t("tags.finding.no_previous", lang))
    if run.result.warnings:
        names = ", ".join(cat.loc[n, "label"] for n in run.result.warnings)
        out.append(t("tags.finding.warnings", lang, count=fmt.int(len(run.result.warnings)), names=names))
    return out


def headline(run: ProfileRun) -> dict[str, float | int | str]:
    """The figures saved to metrics/02_tags.json for the overview."""
    cov = run.result.coverage()
    metrics: dict[str, float | int | str] = {
        "customers": len(run.profile),
        "buyers": int(run.profile["has_ordered"].sum()),
        "tags": len(run.tags),
        "tag_warnings": len(run.result.warnings),
    }
    metrics |= {f"coverage_{name}": value for name, value in cov.items()}
    return metrics


def labelled(frame: pd.DataFrame, formats: dict[str, str], lang: str) -> tuple[pd.DataFrame, dict[str, str]]:
    """``frame`` with translated column headers (keys ``tags.col.<column>``) and matching formats."""
    names = {col: t(f"tags.col.{col}", lang) for col in frame.columns}
    return frame.rename(columns=names), {names[col]: kind for col, kind in formats.items()}


def catalogue_view(run: ProfileRun, lang: str) -> tuple[pd.DataFrame, dict[str, str]]:
    """The catalogue as shown in the report: translated headers, dimensions and warnings."""
    cat = catalogue(run.tags, run.result, lang, run.previous)
    cat["dimension"] = [t(f"tags.dimension.{d}", lang) for d in cat["dimension"]]
    cat["warning"] = [t(f"tags.warning.{w}", lang) if w else "" for w in cat["warning"]]
    columns = ["label", "dimension", "rule", "customers", "coverage", "coverage_change", "warning"]
    formats = {"customers": "int", "coverage": "pct", "coverage_change": "pp"}
    return labelled(cat[columns], formats, lang)


def movement_view(run: ProfileRun, lang: str) -> tuple[pd.DataFrame, dict[str, str]]:
    """Gained / lost counts per true/false tag, largest movements first (needs ``previous``)."""
    if run.previous is None:
        raise ValueError("movement needs last month's profile; check run.previous first")
    tags = bool_tags(run.tags, run.profile)
    moves = movement(run.profile, run.previous, tags)
    labels = {x.name: x.label(lang) for x in tags}
    moves = moves.assign(label=moves["tag"].map(labels))
    moves = moves.reindex((moves["gained"] + moves["lost"]).sort_values(ascending=False).index)
    columns = ["label", "before", "after", "gained", "of_which_new", "lost", "net"]
    return labelled(moves[columns], {c: "int" for c in columns[1:]}, lang)


def cards_view(run: ProfileRun, lang: str) -> tuple[pd.DataFrame, dict[str, str]]:
    """Profile cards (population first) with translated headers."""
    cards = profile_cards(run.profile, bool_tags(run.tags, run.profile), lang, t("tags.all_customers", lang))
    return card_table(cards, lang)


def card_table(cards: pd.DataFrame, lang: str) -> tuple[pd.DataFrame, dict[str, str]]:
    """Profile cards (from ``profile_cards`` or ``preview_rule``) with translated headers."""
    formats = {
        "customers": "int", "share": "pct", "spend_share_365d": "pct", "avg_spend_365d": "money",
        "avg_orders_365d": "num1", "median_aov": "money", "median_recency_days": "days", "avg_age": "num1",
        "top_category": "text", "top_channel": "text", "top_age_band": "text", "female_share": "pct",
    }  # fmt: skip
    columns = ["label", *formats] if "label" in cards else list(formats)
    return labelled(cards[columns], formats, lang)


def rule_box(rep: Report, profile: pd.DataFrame):  # -> ipywidgets.Widget (lazy import)
    """A box to try a tag rule on this month's profile: Enter (or the button) shows how
    many customers match, or the rule's error with the closest feature names.

    The answer is computed for the rule as committed (Enter, leaving the box, the button)
    and replaces the previous one at once, so no result stands under another rule.
    """
    import ipywidgets as widgets

    text = widgets.Text(
        placeholder=rep.t("tags.explore.placeholder"), layout=widgets.Layout(width="70%"), continuous_update=False
    )
    button = widgets.Button(description=rep.t("tags.explore.button"))
    out = widgets.Output()

    def evaluate(_: object = None) -> None:
        out.clear_output()
        if not text.value.strip():
            return
        with out:
            try:
                card = preview_rule(text.value, profile)
            except TagError as err:
                rep.banner(str(err), "warning")
                return
            rep.banner(rep.t("tags.explore.result", customers=rep.fmt.int(card["customers"]), share=rep.fmt.pct(card["coverage"])))
            rep.table(*card_table(pd.DataFrame([card]), rep.lang))

    button.on_click(evaluate)
    text.observe(evaluate, names="value")
    return widgets.VBox([widgets.HBox([text, button]), out])
