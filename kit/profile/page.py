"""The 02_tags page: findings, labelled tables and the interactive rule box, from a
``ProfileRun`` (kit.profile.pipeline)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from kit.profile.pipeline import (
    ProfileRun,
    bool_tags,
    card_needs,
    catalogue,
    category_breakdown,
    cooccurrence,
    movement,
    overlap_pairs,
    preview_rule,
    profile_card,
    skipped_by_need,
)
from kit.profile.tags import Tag, TagError
from kit.text.cards import Canvas, Kpi
from kit.text.fmt import Formatter
from kit.text.glossary import term
from kit.text.heatmap import draw_heatmap, fits
from kit.text.i18n import t

# The strongest tag overlaps listed when there are too many tags for a heatmap.
OVERLAP_ROWS = 20
# Profile card columns that an absent input leaves out -> the part named in the line saying so.
CARD_PARTS = {"avg_age": "card_age", "top_age_band": "card_age", "top_category": "card_category",
              "top_channel": "card_channel", "female_share": "card_gender"}


def findings(run: ProfileRun, lang: str, fmt: Formatter) -> list[str]:
    """The 3-5 key findings at the top of the report, in ``lang``."""
    tags = bool_tags(run.tags, run.profile)
    cat = labelled_catalogue(run, lang).set_index("tag")
    cards = profile_cards(run.profile, tags, lang, "").set_index("tag")
    out = [t("tags.finding.size", lang, customers=fmt.int(len(run.profile)), tags=fmt.int(len(run.tags)))]
    if run.skipped:
        out.append(t("tags.finding.skipped", lang, count=fmt.int(len(run.skipped)), total=fmt.int(len(run.tags) + len(run.skipped))))
    if tags:
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


def skipped_notes(run: ProfileRun, missing: Callable[[str], str], lang: str) -> list[str]:
    """One line per absent input naming the tags skipped for it ("No survey data: 3 tags
    skipped (Detractors, Promoters, Unhappy)."); ``missing`` phrases a need (the report's
    ``missing_input``)."""
    return [
        t("tags.skipped", lang, missing=missing(need), count=len(group), names=", ".join(tag.label(lang) for tag in group))
        for need, group in skipped_by_need(run).items()
    ]


def event_notes(run: ProfileRun, lang: str) -> list[str]:
    """A line naming the event types left without features (beyond the most frequent
    ``features.max_event_types``, or not in ``features.event_types``), when there are any."""
    events = run.plan.events if run.plan else None
    if events is None or not events.left_out:
        return []
    key = "tags.events_not_listed" if events.listed else "tags.events_left_out"
    return [t(key, lang, kept=len(events.types), count=len(events.left_out), names=", ".join(events.left_out))]


def card_gaps(run: ProfileRun, lang: str) -> list[tuple[str, str]]:
    """(need, what) of each part of the profile cards left out for an absent input, for
    ``rep.unavailable`` ("No birth dates in the customer records: age on the profile cards
    is not shown.")."""
    gaps = {(need, CARD_PARTS[out]) for out, need in card_needs(run).items() if out in CARD_PARTS}
    return [(need, t(f"tags.unavailable.{part}", lang)) for need, part in sorted(gaps)]


def profile_cards(profile: pd.DataFrame, tags: list[Tag], lang: str, all_label: str) -> pd.DataFrame:
    """One profile card per true/false tag plus a first row for the whole population."""
    rows = [{"tag": "", "label": all_label, **profile_card(profile, pd.Series(True, index=profile.index))}]
    for tag in tags:
        rows.append({"tag": tag.name, "label": tag.label(lang), **profile_card(profile, profile[tag.column])})
    return pd.DataFrame(rows)


def labelled_catalogue(run: ProfileRun, lang: str) -> pd.DataFrame:
    """The tag catalogue (kit.profile.pipeline.catalogue) with each tag's label in ``lang``."""
    cat = catalogue(run.tags, run.result, run.previous)
    return cat.assign(label=[tag.label(lang) for tag in run.tags])


def labelled(frame: pd.DataFrame, formats: dict[str, str], lang: str) -> tuple[pd.DataFrame, dict[str, str]]:
    """``frame`` with translated column headers (keys ``tags.col.<column>``) and matching formats."""
    names = {col: t(f"tags.col.{col}", lang) for col in frame.columns}
    return frame.rename(columns=names), {names[col]: kind for col, kind in formats.items()}


def catalogue_view(run: ProfileRun, lang: str) -> tuple[pd.DataFrame, dict[str, str]]:
    """The catalogue as shown in the report: translated headers, dimensions and warnings."""
    cat = labelled_catalogue(run, lang)
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
    formats = {column: kind for column, kind in formats.items() if column in cards}  # absent features left out
    columns = ["label", *formats] if "label" in cards else list(formats)
    return labelled(cards[columns], formats, lang)


def rule_box(rep: Canvas, profile: pd.DataFrame, need_of: Callable[[str], str | None] | None = None):  # -> ipywidgets.Widget (lazy import)
    """A box to try a tag rule on this month's profile: Enter (or the button) shows how
    many customers match, or the rule's error with the closest feature names.

    The answer is computed for the rule as committed (Enter, leaving the box, the button)
    and replaces the previous one at once, so no result stands under another rule.
    """
    import ipywidgets as widgets

    text = widgets.Text(
        placeholder=t("tags.explore.placeholder", rep.lang), layout=widgets.Layout(width="70%"), continuous_update=False
    )
    button = widgets.Button(description=t("tags.explore.button", rep.lang))
    out = widgets.Output()

    def evaluate(_: object = None) -> None:
        out.clear_output()
        if not text.value.strip():
            return
        with out:
            try:
                card = preview_rule(text.value, profile, need_of)
            except TagError as err:
                rep.banner(str(err), "warning")
                return
            rep.banner(t("tags.explore.result", rep.lang, customers=rep.fmt.int(card["customers"]), share=rep.fmt.pct(card["coverage"])))
            rep.table(*card_table(pd.DataFrame([card]), rep.lang))

    button.on_click(evaluate)
    text.observe(evaluate, names="value")
    return widgets.VBox([widgets.HBox([text, button]), out])


def kpi_cards(run: ProfileRun, fmt: Formatter) -> list[Kpi]:
    """Customers, buyers and active customers (the business vocabulary's), tags and tag warnings."""
    metrics = run.headline()
    lang = fmt.lang
    return [
        Kpi(term("customer", lang), fmt.int(metrics["customers"])),
        Kpi(term("buyer", lang), fmt.int(metrics["buyers"]), note=fmt.pct(metrics["buyers"] / max(metrics["customers"], 1))),
        Kpi(term("active", lang), fmt.int(metrics["active_customers"]),
            note=fmt.pct(metrics["active_customers"] / max(metrics["customers"], 1))),
        Kpi(t("tags.kpi.tags", lang), fmt.int(metrics["tags"]),
            note=t("tags.kpi.skipped", lang, count=fmt.int(metrics["tags_skipped"])) if metrics["tags_skipped"] else ""),
        Kpi(t("tags.kpi.warnings", lang), fmt.int(metrics["tag_warnings"]), good=metrics["tag_warnings"] == 0),
    ]


def plot_overlap(ax: Axes, run: ProfileRun, fmt: Formatter) -> None:
    """Heatmap of the share of each true/false tag's customers who also carry another tag,
    the share written in every cell (at most ``kit.text.heatmap.MAX_ROWS`` tags)."""
    flags = bool_tags(run.tags, run.profile)
    overlap = cooccurrence(run.profile, flags)
    names = [tag.label(fmt.lang) for tag in flags]
    image = draw_heatmap(ax, overlap, overlap.map(lambda v: "" if pd.isna(v) else fmt.pct(v, 0)), names, names)
    image.set_clim(0, 1)
    ax.figure.colorbar(image, ax=ax, format=lambda x, _: fmt.pct(x, 0), shrink=0.8)


def overlap_view(run: ProfileRun, lang: str) -> tuple[pd.DataFrame, dict[str, str]]:
    """The strongest overlaps between true/false tags as a table (``overlap_pairs``): tag,
    the other tag, the share of the tag's customers who carry it too, customers with both."""
    flags = bool_tags(run.tags, run.profile)
    labels = {tag.name: tag.label(lang) for tag in flags}
    pairs = overlap_pairs(run.profile, flags)
    view = pd.DataFrame({"label": pairs["tag"].map(labels), "other": pairs["other"].map(labels),
                         "overlap_share": pairs["share"], "both": pairs["customers"]})
    return labelled(view, {"overlap_share": "pct", "both": "int"}, lang)


def overlap_section(rep: Canvas, run: ProfileRun) -> None:
    """How the true/false tags overlap, under its heading: a heatmap with the share in every
    cell, or the ``OVERLAP_ROWS`` strongest overlaps as a table when the tags are too many
    for a heatmap (``kit.text.heatmap.fits``); nothing with fewer than two such tags."""
    flags = bool_tags(run.tags, run.profile)
    if len(flags) < 2:
        return
    lang = rep.lang
    if fits(cooccurrence(run.profile, flags)):
        rep.section(t("tags.section.overlap", lang), t("tags.meaning.overlap", lang))
        fig, ax = rep.figure(t("tags.chart.overlap", lang), size=(11, 9.5))
        plot_overlap(ax, run, rep.fmt)
        rep.show(fig)
        return
    rep.section(t("tags.section.overlap", lang), t("tags.meaning.overlap_pairs", lang, tags=rep.fmt.int(len(flags))))
    rep.table(*overlap_view(run, lang), max_rows=OVERLAP_ROWS)


def plot_movement(ax: Axes, moves: pd.DataFrame, fmt: Formatter, top: int = 12) -> None:
    """Gained (right) and lost (left) customers of the ``top`` most-moved tags, from ``movement_view``."""
    lang = fmt.lang
    shown = moves.head(top).iloc[::-1]
    y = np.arange(len(shown))
    ax.barh(y, shown[t("tags.col.gained", lang)], color="#2e7d32", label=t("tags.chart.gained", lang))
    ax.barh(y, -shown[t("tags.col.lost", lang)], color="#c62828", label=t("tags.chart.lost", lang))
    ax.set_yticks(y, shown[t("tags.col.label", lang)])
    ax.xaxis.set_major_formatter(lambda x, _: fmt.int(abs(x)))
    ax.axvline(0, color="#444", linewidth=0.8)
    ax.legend()


def categorical_tables(run: ProfileRun, lang: str) -> list[tuple[pd.DataFrame, dict[str, str], str]]:
    """(table, formats, caption) per categorical tag: customers and share per value."""
    flags = {tag.name for tag in bool_tags(run.tags, run.profile)}
    return [
        (*labelled(category_breakdown(run.profile, tag), {"customers": "int", "share": "pct"}, lang), tag.label(lang))
        for tag in run.tags
        if tag.name not in flags
    ]
