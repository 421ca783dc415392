"""The 01_ingest page: findings, KPI cards, translated tables, banners and charts built from
an ingest run (``IngestResult``; its ``report`` is the content of ingest_report.json).

The figures come from kit.ingest.quality (tidy frames, the fitness gate); this module
translates and formats them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd
from matplotlib.axes import Axes

from kit.ingest import quality
from kit.ingest.pipeline import IngestResult
from kit.text.cards import Canvas, Kpi
from kit.text.fmt import Formatter
from kit.text.i18n import has_key, t

Colors = Callable[[list[str], str], dict[str, str]]

# Column formats for rep.table: column name -> format kind (any other column: text).
FORMATS = {
    "read": "int", "loaded": "int", "exact_duplicates": "int", "resent_duplicates": "int",
    "quarantined": "int", "malformed": "int", "quarantined_share": "pct", "rows": "int", "records": "int",
    "value": "pct", "warn": "pct", "fail": "pct",
    "unified_share": "pct", "cross_source_share": "pct", "n_records": "int", "n_accounts": "int",
    "n_sources": "int", "missing_share": "pct", "latest_record": "date", "days_before_month_end": "num1",
    "rows_after_month_end": "int",
}
TRANSLATED_VALUES = ("reason", "rule", "key_type", "problem", "kind", "balanced", "has_run_month", "limit", "grade")
SECTIONS = ("accounting", "monthly", "freshness", "match", "linkage", "overshared", "quarantine", "missing", "gate", "verdict")
# chart -> (title key, x-axis key, y-axis key, size)
FIGURES = {
    "monthly": ("ingest.chart.monthly", "ingest.chart.month", "ingest.chart.rows_log", (10, 4.5)),
    "rules": ("ingest.chart.rules", "ingest.chart.records", "", (8, 3.5)),
    "quarantine": ("ingest.chart.quarantine", "ingest.chart.rows", "", (8, 3.5)),
    "weights": ("ingest.chart.weights", "ingest.chart.weight", "", (9, 6)),
    "probabilities": ("ingest.chart.probabilities", "ingest.chart.probability", "ingest.chart.pairs", (9, 3.5)),
}


def view(frame: pd.DataFrame, lang: str) -> tuple[pd.DataFrame, dict[str, str]]:
    """``frame`` ready for rep.table: values and headers translated, plus column formats.

    Headers come from ``ingest.col.<column>``; values of the columns in
    ``TRANSLATED_VALUES`` from ``ingest.value.<value>``.
    """
    shown = frame.copy()
    for column in TRANSLATED_VALUES:
        if column in shown.columns:
            shown[column] = [value_text(v, lang) for v in shown[column]]
    headers = {c: t(f"ingest.col.{c}", lang) for c in shown.columns}
    formats = {headers[c]: FORMATS.get(c, "text") for c in shown.columns}
    return shown.rename(columns=headers), formats


def value_text(value: object, lang: str) -> str:
    """A code shown in a table or chart: its ``ingest.value.<code>`` text, or the code itself
    for a name the config chose (a custom identity key type such as ``loyalty_card``)."""
    key = f"ingest.value.{str(value).lower()}"
    return t(key, lang) if has_key(key) else str(value)


def section_text(name: str, lang: str) -> tuple[str, str]:
    """(title, "what this means") of section ``name`` (``SECTIONS``)."""
    return t(f"ingest.section.{name}", lang), t(f"ingest.meaning.{name}", lang)


def figure_labels(name: str, lang: str) -> dict[str, Any]:
    """``rep.figure`` arguments of chart ``name`` (``FIGURES``)."""
    title, xlabel, ylabel, size = FIGURES[name]
    return {"title": t(title, lang), "xlabel": t(xlabel, lang), "ylabel": t(ylabel, lang) if ylabel else "", "size": size}


def findings(result: IngestResult, fmt: Formatter) -> list[str]:
    """The key findings at the top of the page."""
    report, lang = result.report, fmt.lang
    head = result.headline()
    items = [
        t("ingest.finding.customers", lang, customers=fmt.int(head["customer_ids"]),
          records=fmt.int(report["identity"]["records"]), sources=fmt.int(len(report["sources"]))),
        t("ingest.finding.match", lang, unified=fmt.pct(head["records_unified_share"]),
          multi=fmt.pct(head["multi_source_customer_share"])),
        t("ingest.finding.quarantine", lang, rows=fmt.int(head["rows_quarantined"]),
          share=fmt.pct(head["quarantined_share"], 2), duplicates=fmt.int(head["rows_duplicate"])),
    ]
    if head["overshared_identifiers"]:
        top = report["identity"]["overshared"][0]
        items.append(t("ingest.finding.overshared", lang, n=fmt.int(head["overshared_identifiers"]),
                       value=top["value_masked"], records=fmt.int(top["n_records"])))
    for check in quality.fitness(report).checks:
        if check.limit == "members_without_orders" and check.grade != "ok":
            items.append(t("ingest.finding.members_unlinked", lang, source=check.source, share=fmt.pct(check.value)))
    for name in quality.date_only_sources(report):
        items.append(t("ingest.finding.date_only", lang, source=name))
    for name in quality.synthesised_id_sources(report):
        items.append(t("ingest.finding.synthesised_ids", lang, source=name))
    reads = quality.file_reads(report)
    if any(reads.values()):
        items.append(t("ingest.finding.files", lang, files=fmt.int(sum(reads.values())),
                       **{how: fmt.int(n) for how, n in reads.items()}))
    return items


def kpi_cards(result: IngestResult, fmt: Formatter) -> list[Kpi]:
    """The KPI row under the findings."""
    lang, head = fmt.lang, result.headline()
    return [
        Kpi(t("ingest.kpi.customers", lang), fmt.int(head["customer_ids"])),
        Kpi(t("ingest.kpi.records", lang), fmt.int(result.report["identity"]["records"])),
        Kpi(t("ingest.kpi.orders", lang), fmt.int(head["orders"])),
        Kpi(t("ingest.kpi.unified", lang), fmt.pct(head["records_unified_share"])),
        Kpi(t("ingest.kpi.multi_source", lang), fmt.pct(head["multi_source_customer_share"])),
        Kpi(t("ingest.kpi.quarantined", lang), fmt.int(head["rows_quarantined"]),
            note=t("ingest.kpi.quarantined_note", lang, share=fmt.pct(head["quarantined_share"], 2))),
    ]


def verdict(result: IngestResult, lang: str) -> tuple[str, str]:
    """(text, level) of the data fitness verdict (``quality.verdict``)."""
    level, key, values = quality.verdict(result.report)
    return t(key, lang, **values), level


def privacy_note(lang: str) -> tuple[str, str]:
    """(text, level) of the note that personal data stays inside ingest."""
    return t("ingest.privacy", lang), "info"


# --------------------------------------------------------------------------- tables


def accounting_table(result: IngestResult, lang: str) -> tuple[pd.DataFrame, dict[str, str]]:
    return view(quality.accounting(result.report), lang)


def freshness_table(result: IngestResult, lang: str) -> tuple[pd.DataFrame, dict[str, str]]:
    return view(quality.freshness(result.report), lang)


def match_table(result: IngestResult, lang: str) -> tuple[pd.DataFrame, dict[str, str]]:
    return view(quality.match_rates(result.report), lang)


def gate_table(result: IngestResult, lang: str) -> tuple[pd.DataFrame, dict[str, str]]:
    return view(quality.fitness_table(result.report), lang)


def overshared_section(rep: Canvas, result: IngestResult) -> None:
    """The over-shared identifiers (at most 15 rows), or a banner when there is none."""
    shared = quality.overshared(result.report)
    if shared.empty:
        rep.banner(t("ingest.none_overshared", rep.lang), "success")
    else:
        rep.table(*view(shared, rep.lang), max_rows=15)


def linkage_section(rep: Canvas, result: IngestResult) -> None:
    """What the probabilistic linkage did: a plain sentence when it did not run, else its
    figures, the match-weight chart and the match probabilities around the threshold."""
    linkage = result.report["identity"].get("linkage") or {"skipped": "disabled"}
    if linkage["skipped"]:
        rep.banner(t(f"ingest.linkage.{linkage['skipped']}", rep.lang), "info")
        return
    rep.table(*view(linkage_table(result, rep.fmt), rep.lang))
    fig, ax = rep.figure(**figure_labels("weights", rep.lang))
    plot_weights(ax, result, rep.fmt, rep.colors)
    rep.show(fig)
    fig, ax = rep.figure(**figure_labels("probabilities", rep.lang))
    plot_probabilities(ax, result, rep.fmt, rep.colors)
    rep.show(fig)
    rep.banner(t("ingest.linkage.review", rep.lang, file=f"{result.warehouse.name}/identity_review.parquet"), "info")


def linkage_table(result: IngestResult, fmt: Formatter) -> pd.DataFrame:
    """The linkage figures as (figure, value) rows, values formatted."""
    linkage, lang = result.report["identity"]["linkage"], fmt.lang
    rows = [
        ("customers_before", fmt.int(linkage["customers_before"])),
        ("joined", fmt.int(linkage["joined"])),
        ("customers_after", fmt.int(result.report["identity"]["customers"])),
        ("estimated_people", fmt.int(round(linkage["estimated_people"]))),
        ("threshold", fmt.pct(linkage["threshold"], 2)),
        ("expected_precision", fmt.pct(linkage["expected_precision"], 2) if linkage["expected_precision"] is not None else "–"),
        ("refused", fmt.int(linkage["refused"])),
        ("carried", fmt.int(linkage["carried"])),
    ]
    return pd.DataFrame({"figure": [t(f"ingest.linkage.figure.{k}", lang) for k, _ in rows], "amount": [v for _, v in rows]})


def quarantine_reasons_by_reason(result: IngestResult) -> pd.DataFrame:
    """Quarantined rows per reason (all sources), fewest first (the bar chart's order)."""
    reasons = quality.quarantine_reasons(result.report)
    return reasons.groupby("reason", as_index=False)["rows"].sum().sort_values("rows", kind="stable", ignore_index=True)


def quarantine_section(rep: Canvas, result: IngestResult) -> None:
    """Duplicates per source, then the quarantined rows by reason (table and chart), or a
    banner when no row was dropped or set aside."""
    dropped = quality.duplicates(result.report)
    if dropped.empty:
        rep.banner(t("ingest.none_duplicates", rep.lang), "success")
    else:
        rep.table(*view(dropped, rep.lang))
    reasons = quality.quarantine_reasons(result.report)
    if reasons.empty:
        rep.banner(t("ingest.none_quarantined", rep.lang), "success")
        return
    rep.table(*view(reasons, rep.lang))
    fig, ax = rep.figure(**figure_labels("quarantine", rep.lang))
    plot_quarantine(ax, result, rep.fmt, rep.colors)
    rep.show(fig)


def missing_section(rep: Canvas, result: IngestResult) -> None:
    """Missing shares per source and column (a banner when no loaded value is missing),
    then the values blanked as invalid (if any)."""
    missing = quality.missingness(result.report, min_share=0.0)
    if missing.empty:
        rep.banner(t("ingest.none_missing", rep.lang), "success")
    else:
        rep.table(*view(missing, rep.lang), max_rows=25)
    nulled = quality.values_nulled(result.report)
    if not nulled.empty:
        rep.table(*view(nulled, rep.lang))


# --------------------------------------------------------------------------- charts


def plot_monthly(ax: Axes, result: IngestResult, fmt: Formatter, colors: Colors | None = None) -> None:
    """Loaded rows per month and source (log scale); ``colors`` is the shell's ``rep.colors``."""
    monthly = quality.monthly_matrix(result.report)
    palette = colors(list(monthly.columns), "") if colors else {}
    for source in monthly.columns:
        ax.plot(monthly.index, monthly[source], marker="o", markersize=3, label=source, color=palette.get(source))
    ax.set_yscale("log")
    ax.tick_params(axis="x", labelrotation=90, labelsize=8)
    ax.legend(ncol=4, fontsize=8)


def plot_rules(ax: Axes, result: IngestResult, fmt: Formatter, colors: Colors | None = None) -> None:
    """Records per identity matching rule."""
    rules = quality.rules(result.report)
    color = colors(["rules"], "")["rules"] if colors else None
    ax.barh([value_text(r, fmt.lang) for r in rules["rule"]], rules["records"], color=color)


def plot_quarantine(ax: Axes, result: IngestResult, fmt: Formatter, colors: Colors | None = None) -> None:
    """Quarantined rows per reason."""
    by_reason = quarantine_reasons_by_reason(result)
    color = colors(["quarantine"], "")["quarantine"] if colors else None
    ax.barh([value_text(r, fmt.lang) for r in by_reason["reason"]], by_reason["rows"], color=color)


def plot_weights(ax: Axes, result: IngestResult, fmt: Formatter, colors: Colors | None = None) -> None:
    """The match weight of every comparison level (log2 of how much more often true matches
    than non-matches agree that way): bars right of zero move the odds towards the same
    person, bars left of it away."""
    weights = pd.DataFrame(result.report["identity"]["linkage"]["weights"]).dropna(subset=["match_weight"])
    weights = weights.iloc[::-1]
    palette = colors(["towards", "away"], "") if colors else {}
    labels = [f"{value_text(c, fmt.lang)}: {value_text(lv, fmt.lang)}" for c, lv in zip(weights["comparison"], weights["level"])]
    bar_colors = [palette.get("towards" if w > 0 else "away") for w in weights["match_weight"]]
    ax.barh(labels, weights["match_weight"], color=bar_colors)
    ax.axvline(0, color="#444444", linewidth=0.8)
    ax.tick_params(axis="y", labelsize=8)


def plot_probabilities(ax: Axes, result: IngestResult, fmt: Formatter, colors: Colors | None = None) -> None:
    """Candidate pairs by match probability, with the threshold marked."""
    linkage = result.report["identity"]["linkage"]
    edges, counts = linkage["histogram"]["edges"], linkage["histogram"]["counts"]
    color = colors(["pairs"], "")["pairs"] if colors else None
    ax.bar(edges[:-1], counts, width=[b - a for a, b in zip(edges, edges[1:])], align="edge", color=color)
    ax.axvline(linkage["threshold"], color="#c0392b", linestyle="--", linewidth=1.2,
               label=t("ingest.chart.threshold", fmt.lang, value=fmt.pct(linkage["threshold"], 2)))
    ax.set_yscale("log")
    ax.legend(fontsize=8)
