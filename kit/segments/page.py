"""The 03_segmentation page: words, tables and charts built from a ``MonthRun``
(kit.segments.pipeline).

The compute modules keep codes (segment, stage and tier names, persona ids and traits);
every translation (``t``, ``lang``) and every formatted number (``Formatter``) of the page
lives here: labels and actions of the layers, persona display names (built from the traits
with the same word list as the English persona keys), findings, KPI cards, tables, charts,
the movement heatmaps (tables past ``kit.text.heatmap.MAX_ROWS`` rows) and sentences, and
the persona explorer widget. Other pages name segments and personas through
``segment_label``, ``layer_labeller``, ``persona_names`` and ``narratives``.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from kit.core.config import SegmentationConfig
from kit.core.warehouse import Warehouse
from kit.segments import personas
from kit.segments.movement import NEW_IN_DATA, top_moves, transition_matrix
from kit.segments.personas import ALL_CUSTOMERS, UNPROFILED, PersonaModel
from kit.segments.pipeline import (
    AT_RISK,
    CN8_NAMES,
    PROSPECT,
    RFM11_NAMES,
    STAGES,
    TIERS,
    MonthRun,
    cn8_breaks,
    rfm_grid,
    segment_names,
)
from kit.text.cards import Canvas, Kpi
from kit.text.fmt import Formatter
from kit.text.heatmap import draw_heatmap, fits
from kit.text.i18n import t

Colors = Callable[[list[str], str], dict[str, str]]  # Canvas.colors: name -> colour of a kind

# section -> (title key, meaning key)
SECTIONS = {
    "segments": ("seg03.section.segments", "seg03.meaning.segments"),
    "grid": ("seg03.section.grid", "seg03.meaning.grid"),
    "tiers": ("seg03.section.tiers", "seg03.meaning.tiers"),
    "personas": ("seg03.section.personas", "seg03.meaning.personas"),
    "movement": ("seg03.section.movement", "seg03.meaning.movement"),
    "operations": ("seg03.section.operations", "seg03.meaning.operations"),
    "explore": ("seg03.section.explore", "seg03.meaning.explore"),
}
# chart -> (title key, x-axis key, y-axis key, size)
FIGURES = {
    "segments": ("seg03.chart.segments", "seg03.axis.share", "", (9, 6)),
    "grid": ("seg03.chart.grid", "seg03.axis.f", "seg03.axis.r", (7.5, 6)),
    "tiers": ("seg03.chart.tiers", "", "seg03.axis.share", (7, 4.5)),
    "stages": ("seg03.chart.stages", "seg03.axis.customers", "", (8, 4)),
    "personas": ("seg03.chart.personas", "seg03.axis.share", "", (9, 0.0)),  # height from the number of personas
    "lifecycle_stage": ("seg03.chart.move_stage", "seg03.axis.this_month", "seg03.axis.last_month", (10, 7)),
    "rfm_segment": ("seg03.chart.move_segment", "seg03.axis.this_month", "seg03.axis.last_month", (10, 7)),
}
SEGMENT_FORMATS = {"customers": "int", "share": "pct", "revenue": "money", "revenue_share": "pct", "avg_revenue": "money"}
LAYER_FORMATS = {"customers": "int", "share": "pct", "revenue_share": "pct", "avg_revenue": "money", "action": "text"}
OPERATION_FORMATS = {"customers": "int", "revenue_share": "pct", "avg_revenue": "money", "action": "text"}
CARD_VALUE_COLUMNS = {
    "persona": "text", "customers": "int", "share": "pct", "profile_share": "pct", "revenue_share": "pct",
    "avg_revenue": "money", "revenue_index": "num2", "orders_365d": "num1", "aov": "money", "recency_days": "days", "active_share": "pct",
}
CARD_PROFILE_COLUMNS = {
    "persona": "text", "main_channel": "text", "top_categories": "text", "discount_share": "pct",
    "avg_csat": "num2", "avg_nps": "num1", "age": "num1", "highlights": "text",
}
# persona profile column -> (the input it needs (kit.core.inputs), the table it is absent without)
CARD_NEEDS = {
    "top_categories": ("orders.category", "orders"), "discount_share": ("orders.discount", "orders"),
    "avg_csat": ("surveys.csat", "surveys"), "avg_nps": ("surveys.nps", "surveys"), "age": ("customers.birth_year", "customers"),
}
# most buyers having bought once is a story of its own above this share
ONE_TIME_MAJORITY = 0.5
# how a feature's average is shown in a persona's highlights (other features are shares: pct)
CARD_FORMATS = {"frequency": "num1", "monetary": "money", "aov": "money", "recency": "days", "visits": "num1", "age": "num1"}
K_FORMATS = {"k": "int", "davies_bouldin": "num2", "silhouette": "num2"}


# --------------------------------------------------------------------------- names


def _slug(name: str) -> str:
    """The i18n key part of a segment name: "Can't Lose Them" -> "cant_lose_them"."""
    return "".join(c for c in name.lower().replace(" ", "_").replace("-", "_") if c.isalnum() or c == "_")


def _layer_key(name: str) -> str:
    """The catalogue key of an RFM / cn8 segment, lifecycle stage or value tier code."""
    if name in STAGES:
        return f"segments.stage.{name}"
    if name in TIERS:
        return f"segments.tier.{name}"
    return f"segments.seg.{_slug(name)}"


def segment_label(name: str, lang: str = "en") -> str:
    """The display label of an RFM / cn8 segment, lifecycle stage or value tier code."""
    return t(_layer_key(name), lang)


def segment_action(name: str, lang: str = "en") -> str:
    """The one-line recommended action for a segment, stage or tier code."""
    return t(_layer_key(name) + ".action", lang)


def persona_name(traits: list[list[str]], lang: str = "en") -> str:
    """A persona's display name in ``lang`` from its traits (in English it is the persona's key)."""
    return personas.persona_name(traits, partial(t, lang=lang))


def persona_label(model: PersonaModel, persona_id: int, lang: str = "en") -> str:
    """The display name of persona ``persona_id`` ("Not enough data yet" for UNPROFILED, "All customers" for the total)."""
    if persona_id == UNPROFILED:
        return t("personas.unprofiled", lang)
    if persona_id == ALL_CUSTOMERS:
        return t("personas.all", lang)
    return persona_name(model.traits[persona_id], lang)


def persona_names(cards: dict | None, lang: str) -> dict[str, str]:
    """English persona key (segments.parquet ``persona``) -> display name in ``lang``, from a
    month's personas.json (``kit.segments.personas.load_personas``; None gives only UNPROFILED)."""
    names = {t("personas.unprofiled", "en"): t("personas.unprofiled", lang)}
    for card in (cards or {}).get("personas", []):
        traits = card.get("traits")
        names[card["name_en"]] = persona_name(traits, lang) if traits else card.get(f"name_{lang}", card["name_en"])
    return names


def layer_labeller(wh: Warehouse, month: str, column: str, lang: str) -> Callable[[str], str]:
    """A function giving the display name in ``lang`` of a value of ``column`` of segments.parquet:
    RFM segments through their translations, personas through the month's personas.json."""
    if column == "persona":
        names = persona_names(personas.load_personas(wh.snapshot_dir(month)), lang)
        return lambda name: names.get(name, name)
    if column == "rfm_segment":
        known = set(RFM11_NAMES) | set(CN8_NAMES) | {PROSPECT}
        return lambda name: segment_label(name, lang) if name in known else name
    raise ValueError(f"no display names for column {column!r}; use persona or rfm_segment")


def for_display(frame: pd.DataFrame, formats: dict[str, str], lang: str) -> tuple[pd.DataFrame, dict[str, str]]:
    """``frame`` with translated column headers (key segments.col.<column>) and its formats."""
    names = {c: t(f"segments.col.{c}", lang) for c in frame.columns}
    return frame.rename(columns=names), {names[c]: kind for c, kind in formats.items() if c in names}


# --------------------------------------------------------------------------- movement words and heatmaps


def narratives(moves: pd.DataFrame, label: Callable[[str], str], fmt: Formatter, n: int = 5, by: str = "value") -> list[str]:
    """Sentences such as "1,240 Champions became At Risk, worth ¥3.1M a year."

    ``moves`` are ``kit.segments.movement.transitions``; ``label`` turns a layer code into
    its display label in ``fmt.lang``.
    """
    return [
        t("movement.sentence", fmt.lang, count=fmt.int(row.count), source=label(row.source),
          target=label(row.target), value=fmt.money(row.value, compact=True))
        for row in top_moves(moves, n, by).itertuples(index=False)
    ]


def with_new_label(label: Callable[[str], str], lang: str) -> Callable[[str], str]:
    """``label`` that also names the ``NEW_IN_DATA`` row (customers absent last month)."""
    return lambda name: t("movement.new_in_data", lang) if name == NEW_IN_DATA else label(name)


def movement_sentences(run: MonthRun, fmt: Formatter, n: int = 5) -> list[str]:
    """The ``n`` largest RFM segment moves by annual value as sentences (none without last month)."""
    if not run.moves:
        return []
    return narratives(run.moves["rfm_segment"], partial(segment_label, lang=fmt.lang), fmt, n=n)


# --------------------------------------------------------------------------- top of the page


def findings(run: MonthRun, fmt: Formatter) -> list[str]:
    """Three to seven plain-language key findings for the top of the page; first, when they
    hold, that acquisition stopped (no new customer) and that most buyers bought once."""
    lang = fmt.lang
    figures = run.headline()
    out = []
    if figures["best_segment_share"] is not None and figures["best_segment_revenue_share"] is not None:
        out.append(t("seg03.finding.best", lang, segment=segment_label(figures["best_segment"], lang),
                     share=fmt.pct(figures["best_segment_share"]), revenue=fmt.pct(figures["best_segment_revenue_share"])))
    if figures["high_value_share"] is not None and not pd.isna(figures["high_value_revenue_share"]):
        out.append(t("seg03.finding.tiers", lang, share=fmt.pct(figures["high_value_share"]),
                     revenue=fmt.pct(figures["high_value_revenue_share"])))
    labels = [segment_label(n, lang) for n in AT_RISK[run.config.rfm_scheme]]
    out.append(t("seg03.finding.risk", lang, count=fmt.int(figures["at_risk_customers"]), first=labels[0],
                 second=labels[1], value=fmt.money(figures["at_risk_segments_revenue"], compact=True)))
    model = run.personas
    sizes = model.labels[model.labels.isin(model.ids)].value_counts()
    if len(sizes):
        out.append(t("seg03.finding.personas", lang, k=model.k, name=persona_label(model, int(sizes.index[0]), lang),
                     share=fmt.pct(sizes.iloc[0] / len(model.labels))))
    sentences = movement_sentences(run, fmt, n=1)
    out.append(sentences[0] if sentences else t("seg03.finding.no_previous", lang))
    if figures["buyers"] and not figures["new_customers"]:
        out.insert(0, t("seg03.finding.no_new", lang, days=run.config.new_days))
    if (figures["one_time_share"] or 0.0) > ONE_TIME_MAJORITY:
        out.insert(1, t("seg03.finding.one_time", lang, share=fmt.pct(figures["one_time_share"])))
    return out


def kpi_cards(run: MonthRun, fmt: Formatter) -> list[Kpi]:
    """The KPI row: customers, buyers, new or active, high-value revenue share, the At-Risk
    segments' 12-month revenue and the number of personas."""
    lang = fmt.lang
    h = run.headline()
    return [
        Kpi(t("seg03.kpi.customers", lang), fmt.int(h["customers"])),
        Kpi(t("seg03.kpi.buyers", lang), fmt.int(h["buyers"]), note=fmt.pct(h["buyers"] / max(h["customers"], 1))),
        Kpi(t("seg03.kpi.active", lang), fmt.pct(h["active_share"])),
        Kpi(t("seg03.kpi.high_value", lang), fmt.pct(h["high_value_revenue_share"])),
        Kpi(t("seg03.kpi.at_risk_segments_revenue", lang), fmt.money(h["at_risk_segments_revenue"], compact=True),
            note=fmt.int(h["at_risk_customers"])),
        Kpi(t("seg03.kpi.personas", lang), fmt.int(h["personas"])),
    ]


def section_text(run: MonthRun, name: str, fmt: Formatter) -> tuple[str, str]:
    """(title, "what this means") of section ``name`` (``SECTIONS``), placeholders filled."""
    title, meaning = SECTIONS[name]
    cfg, model = run.config, run.personas
    values: dict[str, Any] = {}
    if name == "segments" and cfg.rfm_scheme == "cn8":
        meaning = "seg03.meaning.segments_cn8"
    elif name == "tiers":
        shares = cfg.value_tier_shares
        values = {"high": fmt.pct(shares[0], 0), "medium": fmt.pct(shares[1], 0), "new_days": cfg.new_days,
                  "active_days": cfg.active_days, "silent_days": cfg.silent_days}
    elif name == "personas":
        silhouette, bouldin = model.silhouette.get(model.k), model.davies_bouldin.get(model.k)
        values = {"k": model.k, "silhouette": fmt.num(silhouette, 2) if silhouette is not None else "—",
                  "bouldin": fmt.num(bouldin, 2) if bouldin is not None else "—"}
    return t(title, fmt.lang), t(meaning, fmt.lang, **values)


def figure_labels(run: MonthRun, name: str, fmt: Formatter) -> dict[str, Any]:
    """``rep.figure`` arguments (title, xlabel, ylabel, size) of chart ``name`` (``FIGURES``;
    the movement heatmaps are named by their column, lifecycle_stage or rfm_segment)."""
    title, xlabel, ylabel, size = FIGURES[name]
    if name == "personas":
        size = (size[0], 0.8 * len(_people(run)) + 1.5)
    lang = fmt.lang
    return {"title": t(title, lang), "xlabel": t(xlabel, lang) if xlabel else "",
            "ylabel": t(ylabel, lang) if ylabel else "", "size": size}


# --------------------------------------------------------------------------- layers


def layer_table(run: MonthRun, column: str, lang: str) -> pd.DataFrame:
    """``MonthRun.summary`` of ``column`` with each layer's label and recommended action in ``lang``."""
    out = run.summary(column)
    out.insert(1, "label", [segment_label(n, lang) for n in out["name"]])
    out["action"] = [segment_action(n, lang) for n in out["name"]]
    return out


def _palette(names: list[str], kind: str = "") -> dict[str, str]:
    """Matplotlib's colour cycle over ``names`` (when no report colours are given)."""
    cycle = mpl.rcParams["axes.prop_cycle"].by_key()["color"]
    return {n: cycle[i % len(cycle)] for i, n in enumerate(names)}


def _paired_bars(ax: Axes, labels: list[str], customers: pd.Series, revenue: pd.Series, colors: list[str], fmt: Formatter,
                 horizontal: bool = True) -> None:
    """Share of customers (solid) beside share of revenue (hatched) per layer, percent axis."""
    pos = np.arange(len(labels))
    legend = (t("seg03.legend.customers", fmt.lang), t("seg03.legend.revenue", fmt.lang))
    percent = lambda v, _: fmt.pct(v, 0)
    if horizontal:
        ax.barh(pos - 0.2, customers, height=0.4, color=colors, label=legend[0])
        ax.barh(pos + 0.2, revenue, height=0.4, color=colors, alpha=0.45, hatch="//", label=legend[1])
        ax.set_yticks(pos, labels)
        ax.invert_yaxis()
        ax.xaxis.set_major_formatter(percent)
        ax.legend(loc="lower right")
    else:
        ax.bar(pos - 0.2, customers, width=0.4, color=colors, label=legend[0])
        ax.bar(pos + 0.2, revenue, width=0.4, color=colors, alpha=0.45, hatch="//", label=legend[1])
        ax.set_xticks(pos, labels)
        ax.yaxis.set_major_formatter(percent)
        ax.legend()


def plot_segments(ax: Axes, run: MonthRun, fmt: Formatter, colors: Colors | None = None) -> None:
    """Share of customers and of 12-month revenue by RFM segment (horizontal bars)."""
    summary = layer_table(run, "rfm_segment", fmt.lang)
    palette = (colors or _palette)(list(summary["name"]), "segment")
    _paired_bars(ax, list(summary["label"]), summary["share"], summary["revenue_share"],
                 [palette[n] for n in summary["name"]], fmt)


def segment_table(run: MonthRun, lang: str) -> tuple[pd.DataFrame, dict[str, str]]:
    """The RFM segments: customers, shares, revenue and revenue per customer."""
    summary = layer_table(run, "rfm_segment", lang)
    return for_display(summary.drop(columns=["name", "action"]), SEGMENT_FORMATS, lang)


def breaks_note(run: MonthRun, fmt: Formatter) -> str | None:
    """The banner naming the fixed score bands of ``segmentation.rfm_breaks`` (None without any)."""
    breaks = run.config.rfm_breaks
    if not breaks:
        return None
    bands = "; ".join(
        f"{t('segments.rfm_measure.' + measure, fmt.lang)}: {' / '.join(fmt.num(edge, 0) for edge in edges)}"
        for measure, edges in breaks.items()
    )
    return t("seg03.breaks", fmt.lang, breaks=bands)


def cn8_rule_table(run: MonthRun, fmt: Formatter) -> tuple[pd.DataFrame, dict[str, str]] | None:
    """The cn8 high/low break of each measure (None under rfm11)."""
    if run.config.rfm_scheme != "cn8":
        return None
    breaks = cn8_breaks(run.profile, run.config)
    shown = {"recency": fmt.num(breaks["recency"], 0), "frequency": fmt.num(breaks["frequency"], 1),
             "monetary": fmt.money(breaks["monetary"])}
    rule = pd.DataFrame({"measure": [t(f"segments.rfm_measure.{m}", fmt.lang) for m in shown],
                         "break": [t(f"segments.measure.{m}", fmt.lang, value=v) for m, v in shown.items()]})
    return for_display(rule, {}, fmt.lang)


def show_rfm_notes(rep: Canvas, run: MonthRun) -> None:
    """Below the segment table: the fixed-bands banner and the cn8 rule table, when they apply."""
    note = breaks_note(run, rep.fmt)
    if note:
        rep.banner(note, "info")
    rule = cn8_rule_table(run, rep.fmt)
    if rule is not None:
        rep.table(*rule)


def grid_text(run: MonthRun, fmt: Formatter) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The R x F grid's customer counts and each cell's text ("count\\naverage 12-month spend")."""
    counts, mean = rfm_grid(run.segments, run.value)
    return counts, counts.map(fmt.int) + "\n" + mean.map(lambda v: fmt.money(v, compact=True))


def plot_grid(ax: Axes, run: MonthRun, fmt: Formatter) -> None:
    """Buyers on the recency (rows, 5 on top) x frequency grid with their average spend."""
    counts, text = grid_text(run, fmt)
    draw_heatmap(ax, counts, text, [str(r) for r in counts.index], [str(f) for f in counts.columns])


def plot_tiers(ax: Axes, run: MonthRun, fmt: Formatter, colors: Colors | None = None) -> None:
    """Share of customers and of revenue by value tier (vertical bars)."""
    tiers = layer_table(run, "value_tier", fmt.lang)
    palette = (colors or _palette)(list(tiers["name"]), "tier")
    _paired_bars(ax, list(tiers["label"]), tiers["share"], tiers["revenue_share"], [palette[n] for n in tiers["name"]], fmt,
                 horizontal=False)


def plot_stages(ax: Axes, run: MonthRun, fmt: Formatter, colors: Colors | None = None) -> None:
    """Customers by lifecycle stage, each bar labelled with its count and share."""
    stages = layer_table(run, "lifecycle_stage", fmt.lang)
    palette = (colors or _palette)(list(stages["name"]), "stage")
    y = np.arange(len(stages))
    ax.barh(y, stages["customers"], color=[palette[n] for n in stages["name"]])
    for i, (count, share) in enumerate(zip(stages["customers"], stages["share"])):
        ax.text(count, i, f" {fmt.int(count)} ({fmt.pct(share)})", va="center")
    ax.set_yticks(y, stages["label"])
    ax.invert_yaxis()
    ax.xaxis.set_major_formatter(lambda v, _: fmt.int(v))


def tier_table(run: MonthRun, lang: str) -> tuple[pd.DataFrame, dict[str, str]]:
    """Value tiers: customers, shares, revenue per customer and the recommended action."""
    return for_display(layer_table(run, "value_tier", lang)[["label", *LAYER_FORMATS]], LAYER_FORMATS, lang)


def stage_table(run: MonthRun, lang: str) -> tuple[pd.DataFrame, dict[str, str]]:
    """Lifecycle stages: customers, shares, revenue per customer and the recommended action."""
    return for_display(layer_table(run, "lifecycle_stage", lang)[["label", *LAYER_FORMATS]], LAYER_FORMATS, lang)


def operations_table(run: MonthRun, lang: str) -> tuple[pd.DataFrame, dict[str, str]]:
    """One recommended action per RFM segment, from the most to the least valuable."""
    summary = layer_table(run, "rfm_segment", lang)
    return for_display(summary[["label", *OPERATION_FORMATS]], OPERATION_FORMATS, lang)


# --------------------------------------------------------------------------- personas


def persona_banners(run: MonthRun, fmt: Formatter) -> list[tuple[str, str]]:
    """(text, level) banners of the persona section: skipped features, customers placed
    without orders and customers left without a persona."""
    lang, model, n = fmt.lang, run.personas, len(run.segments)
    out = []
    if model.skipped:
        out.append((t("seg03.personas.skipped", lang, features=", ".join(model.skipped)), "warning"))
    basis = run.segments["persona_basis"].value_counts()
    profiled, unprofiled = int(basis.get("profile", 0)), int(basis.get("none", 0))
    if profiled or unprofiled:
        out.append((t("seg03.personas.basis", lang, profiled=fmt.int(profiled), profiled_share=fmt.pct(profiled / n),
                      unprofiled=fmt.int(unprofiled), unprofiled_share=fmt.pct(unprofiled / n),
                      name=persona_label(model, UNPROFILED, lang)), "info"))
    return out


def show_banners(rep: Canvas, banners: list[tuple[str, str]]) -> None:
    """Each (text, level) as a banner."""
    for text, level in banners:
        rep.banner(text, level)


def _feature_label(feature: str, lang: str) -> str:
    """A persona feature's name ("Discount share", "Sports share")."""
    if feature.startswith(personas.CATEGORY_PREFIX):
        return t("personas.feature.category", lang, category=feature.removeprefix(personas.CATEGORY_PREFIX))
    return t(f"personas.feature.{feature}", lang)


def _highlight_text(persona_id: int, items: list[tuple[str, float, float]], fmt: Formatter) -> str:
    """A card's highlights: none for all customers, why for the unprofiled, else the top traits."""
    if persona_id == ALL_CUSTOMERS:
        return ""
    if persona_id == UNPROFILED:
        return t("personas.unprofiled.why", fmt.lang)
    return "; ".join(
        t("personas.highlight", fmt.lang, feature=_feature_label(feature, fmt.lang),
          value=fmt.apply(here, CARD_FORMATS.get(feature, "pct")), average=fmt.apply(overall, CARD_FORMATS.get(feature, "pct")))
        for feature, here, overall in items
    )


def card_texts(cards: pd.DataFrame, model: PersonaModel, fmt: Formatter) -> pd.DataFrame:
    """``kit.segments.personas.persona_cards`` with its words: persona name, main channel,
    top categories ("name 45%") and highlights in ``fmt.lang``."""
    lang = fmt.lang
    out = cards.copy()
    out.insert(1, "persona", [persona_label(model, int(p), lang) for p in cards["persona_id"]])
    out["main_channel"] = [", ".join(f"{t(f'personas.channel.{c}', lang)} {fmt.pct(v, 0)}" for c, v in items)
                           for items in cards["main_channel"]]
    out["top_categories"] = [", ".join(f"{c} {fmt.pct(v, 0)}" for c, v in items) for items in cards["top_categories"]]
    out["highlights"] = [_highlight_text(int(p), items, fmt) for p, items in zip(cards["persona_id"], cards["highlights"])]
    return out


def persona_card_frame(run: MonthRun, fmt: Formatter) -> pd.DataFrame:
    """The persona cards of the month in ``fmt.lang`` (one row per persona, the unprofiled, all customers)."""
    return card_texts(run.cards, run.personas, fmt)


def _people(run: MonthRun) -> pd.DataFrame:
    """Persona cards without the all-customers row (numbers only)."""
    return run.cards[run.cards["persona_id"] != ALL_CUSTOMERS].reset_index(drop=True)


def card_view(cards: pd.DataFrame, columns: dict[str, str], lang: str) -> tuple[pd.DataFrame, dict[str, str]]:
    """A slice of ``card_texts`` with translated headers and its table formats."""
    return for_display(cards[list(columns)], columns, lang)


def persona_value_table(run: MonthRun, fmt: Formatter) -> tuple[pd.DataFrame, dict[str, str]]:
    """Personas by size and value: customers, shares, revenue, orders, order value, recency, activity."""
    return card_view(persona_card_frame(run, fmt), CARD_VALUE_COLUMNS, fmt.lang)


def absent_profile_columns(run: MonthRun) -> dict[str, str]:
    """Persona profile columns whose input the warehouse does not hold -> that input (the
    table when it has no rows, else the column); empty when the inputs are not known."""
    if run.inputs is None:
        return {}
    return {column: (table if not run.inputs.has(table) else need)
            for column, (need, table) in CARD_NEEDS.items() if not run.inputs.has(need)}


def persona_gaps(run: MonthRun, lang: str) -> list[tuple[str, str]]:
    """(input, what is not shown) for each absent input of the persona profile table, once per
    input, for ``rep.unavailable``: "No survey data: satisfaction and NPS are not shown."."""
    absent: dict[str, list[str]] = {}
    for column, need in absent_profile_columns(run).items():
        absent.setdefault(need, []).append(column)
    return [(need, t(f"seg03.absent.{'_'.join(columns)}", lang)) for need, columns in absent.items()]


def persona_profile_table(run: MonthRun, fmt: Formatter) -> tuple[pd.DataFrame, dict[str, str]]:
    """Personas by habits: channel, categories, discounts, satisfaction, age and what sets them
    apart; a column whose input is absent is left out (``persona_gaps`` says so)."""
    absent = absent_profile_columns(run)
    columns = {c: kind for c, kind in CARD_PROFILE_COLUMNS.items() if c not in absent}
    return card_view(persona_card_frame(run, fmt), columns, fmt.lang)


def plot_personas(ax: Axes, run: MonthRun, fmt: Formatter, colors: Colors | None = None) -> None:
    """Share of customers and of 12-month revenue by persona; colours keyed by the English
    persona name, so a persona keeps its colour in every language and month."""
    people = _people(run)
    model = run.personas
    keys = [model.name(int(p)) for p in people["persona_id"]]
    palette = (colors or _palette)(keys, "persona")
    labels = [persona_label(model, int(p), fmt.lang) for p in people["persona_id"]]
    _paired_bars(ax, labels, people["share"], people["revenue_share"], [palette[k] for k in keys], fmt)


def k_table(run: MonthRun, lang: str) -> tuple[pd.DataFrame, dict[str, str], str]:
    """Davies-Bouldin index and silhouette for every k tried, and the table's caption."""
    model = run.personas
    frame = pd.DataFrame({
        "k": list(model.davies_bouldin),
        "davies_bouldin": list(model.davies_bouldin.values()),
        "silhouette": [model.silhouette.get(k) for k in model.davies_bouldin],
    })
    table, formats = for_display(frame, K_FORMATS, lang)
    return table, formats, t("seg03.caption.k", lang)


# --------------------------------------------------------------------------- movement


def movement_banner(run: MonthRun, fmt: Formatter) -> str | None:
    """Why no movement is shown (last month's segments missing), None when it is."""
    return None if run.moves else t("seg03.no_previous", fmt.lang, month=fmt.month(run.previous_month))


def movement_matrices(run: MonthRun, column: str, fmt: Formatter) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Last month's layer (rows) against this month's (columns) for ``column``: each row's
    shares and the customer counts, rows and columns labelled in ``fmt.lang``."""
    order = list(STAGES) if column == "lifecycle_stage" else segment_names(run.config)
    moves = run.moves[column]
    label = with_new_label(partial(segment_label, lang=fmt.lang), fmt.lang)
    shares, counts = (transition_matrix(moves, order, row_share=share) for share in (True, False))
    names = {"index": label, "columns": label}
    return shares.rename(**names), counts.rename(**names)


def plot_movement(ax: Axes, run: MonthRun, column: str, fmt: Formatter) -> None:
    """Heatmap of last month's layer (rows) against this month's (columns) for ``column``:
    colour = share of the row, text = customers."""
    shares, counts = movement_matrices(run, column, fmt)
    draw_heatmap(ax, shares, counts.map(fmt.int), list(shares.index), list(shares.columns))


def movement_table(run: MonthRun, column: str, fmt: Formatter) -> tuple[pd.DataFrame, dict[str, str], str]:
    """(table, formats, caption) of the movement of ``column`` when it has too many rows for a
    heatmap: customers from each of last month's layers (rows) in each layer now (columns)."""
    _, counts = movement_matrices(run, column, fmt)
    corner = t("seg03.col.movement_corner", fmt.lang)
    table = counts.rename_axis(corner).reset_index()
    return table, {str(c): "int" for c in counts.columns}, figure_labels(run, column, fmt)["title"]


def stay_rate_text(run: MonthRun, fmt: Formatter) -> str:
    """The share of last month's customers who stayed in their RFM segment, as a sentence."""
    return t("seg03.stay_rate", fmt.lang, share=fmt.pct(run.stay_rate()))


def moves_table(run: MonthRun, fmt: Formatter) -> tuple[pd.DataFrame, dict[str, str]]:
    """The largest RFM segment moves by annual value, one sentence a row."""
    return pd.DataFrame({t("seg03.col.sentence", fmt.lang): movement_sentences(run, fmt)}), {}


def movement_section(rep: Canvas, run: MonthRun) -> None:
    """The movement section below its heading: a banner when last month is missing, else both
    heatmaps, the stay rate and the largest moves."""
    missing = movement_banner(run, rep.fmt)
    if missing:
        rep.banner(missing, "info")
        return
    for column in ("lifecycle_stage", "rfm_segment"):
        if not fits(movement_matrices(run, column, rep.fmt)[1]):
            rep.table(*movement_table(run, column, rep.fmt))
            continue
        fig, ax = rep.figure(**figure_labels(run, column, rep.fmt))
        plot_movement(ax, run, column, rep.fmt)
        rep.show(fig)
    rep.banner(stay_rate_text(run, rep.fmt), "info")
    rep.table(*moves_table(run, rep.fmt))


# --------------------------------------------------------------------------- explorer


def persona_explorer(rep: Canvas, run: MonthRun) -> Callable[[], Any]:
    """A widget builder for ``rep.explore``: pick clustering features and k, see the persona
    cards update. It opens on the page's k and places customers who never ordered as the
    page does (the month's browsing)."""
    return partial(explorer, rep, run.profile, run.segments, run.config, run.browsing, run.personas.k)


def explorer(rep: Canvas, profile: pd.DataFrame, segments: pd.DataFrame, config: SegmentationConfig, browsing: pd.DataFrame | None = None,
             k: int | None = None) -> Any:  # -> ipywidgets.Widget (lazy import)
    """The persona explorer widget; the cards are drawn with ``rep`` into the widget's output.

    ``k`` is where the slider starts (default ``persona_k_min``).
    """
    import ipywidgets as widgets

    lang = rep.lang
    options = sorted(personas.available_features(profile))
    pick = widgets.SelectMultiple(
        options=options, value=tuple(f for f in personas.default_features(profile) if f in options),
        description=t("personas.explore.features", lang), rows=12,
    )
    low, high = max(config.persona_k_min, 2), config.persona_k_max
    slider = widgets.IntSlider(value=min(max(k or low, low), high), min=low, max=high, description="k")
    button = widgets.Button(description=t("personas.explore.update", lang))
    output = widgets.Output()

    def update(_: object = None) -> None:
        output.clear_output()
        with output:
            if not pick.value:
                rep.banner(t("personas.explore.empty", lang), "warning")
                return
            model = personas.fit_personas(profile, config, features=list(pick.value), k=slider.value, browsing=browsing)
            cards = personas.persona_cards(profile, segments.assign(persona_id=model.labels.to_numpy()), model)
            rep.table(*card_view(card_texts(cards, model, rep.fmt), {**CARD_VALUE_COLUMNS, "highlights": "text"}, lang))

    button.on_click(update)
    update()
    return widgets.VBox([widgets.HBox([pick, slider]), button, output])
