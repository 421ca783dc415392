"""The 04_clv page: findings, KPI cards, tables, banners and charts built from a ClvResult.

All translation and formatting of the CLV stage lives here; the numbers come from
kit.clv.pipeline (``ClvResult`` and its derived figures). Words follow the business
vocabulary (kit.core.vocabulary): CLV tiers are "the top 10% by predicted CLV", never
"high value" (the vocabulary's spend tier), and P(alive) is "still buying", never
"active" (an order in the last ``segmentation.active_days``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from kit.clv.pipeline import ONE_TIME_MAJORITY, TOP_SHARE, ClvResult
from kit.text.cards import Canvas, Kpi
from kit.text.fmt import Formatter
from kit.text.heatmap import draw_heatmap
from kit.text.i18n import t

SECTIONS = {
    "model": ("clv.sec_model", "clv.sec_model_meaning"),
    "matrix": ("clv.sec_matrix", "clv.sec_matrix_meaning"),
    "alive": ("clv.sec_alive", "clv.sec_alive_meaning"),
    "distribution": ("clv.sec_distribution", "clv.sec_distribution_meaning"),
    "segments": ("clv.sec_segments", "clv.sec_segments_meaning"),
    "spend": ("clv.sec_spend", "clv.sec_spend_meaning"),
    "guidance": ("clv.sec_guidance", "clv.guidance"),
}
# chart -> (title key, x-axis key, y-axis key)
FIGURES = {
    "holdout": ("clv.chart_holdout", "clv.axis_calibration_freq", "clv.axis_avg_holdout"),
    "expected": ("clv.chart_expected", "clv.axis_recency", "clv.axis_frequency"),
    "alive": ("clv.chart_alive", "clv.axis_recency", "clv.axis_frequency"),
    "distribution": ("clv.chart_distribution", "clv.axis_clv", "clv.axis_customers"),
    "concentration": ("clv.chart_concentration", "clv.axis_share_customers", "clv.axis_share_value"),
}
MODEL_COLUMNS = {"model": "text", "status": "text", "predicted": "num1", "actual": "int", "total_error": "pct", "mae": "num2"}
GROUP_COLUMNS = {"customers": "int", "total_clv": "money", "average_clv": "money", "p_alive": "pct", "clv_share": "pct"}
GROUP_HEADERS = {"customers": "clv.col_customers", "total_clv": "clv.col_total_clv", "average_clv": "clv.col_average_clv",
                 "p_alive": "clv.col_p_alive", "clv_share": "clv.col_share"}


def _values(result: ClvResult, fmt: Formatter) -> dict[str, Any]:
    """The placeholders every CLV text may use, formatted for ``fmt``."""
    cfg = result.config
    return {
        "months": cfg.horizon_months,
        "holdout": cfg.holdout_months,
        "cal_end": fmt.month(result.calibration_end),
        "unit": t(f"clv.unit_{cfg.time_unit}", fmt.lang),
        "age": fmt.num(result.grid_age(), 0),
        "share": fmt.pct(result.headline()["top10_share"]),
        "top": fmt.pct(TOP_SHARE, 0),
        "currency": fmt.currency,
        "month": result.month,
    }


def model_labels(result: ClvResult, lang: str) -> dict[str, str]:
    """Display name of each validated model (the naive rate translated)."""
    scores = result.validation.scores
    return {str(n): (t("clv.naive", lang) if n == "naive" else str(label)) for n, label in zip(scores["model"], scores["label"])}


def section_text(result: ClvResult, name: str, fmt: Formatter) -> tuple[str, str]:
    """(title, "what this means") of section ``name`` (``SECTIONS``), placeholders filled."""
    title, meaning = SECTIONS[name]
    values = _values(result, fmt)
    return t(title, fmt.lang, **values), t(meaning, fmt.lang, **values)


def figure_labels(result: ClvResult, name: str, fmt: Formatter) -> dict[str, Any]:
    """``rep.figure`` arguments of chart ``name`` (``FIGURES``)."""
    title, xlabel, ylabel = FIGURES[name]
    values = _values(result, fmt)
    return {"title": t(title, fmt.lang, **values), "xlabel": t(xlabel, fmt.lang, **values),
            "ylabel": t(ylabel, fmt.lang, **values)}


def findings(result: ClvResult, fmt: Formatter) -> list[str]:
    """The key findings at the top of the page (with, when it holds, that most buyers have
    bought only once: their value is the model's estimate for people like them)."""
    lang, h = fmt.lang, result.headline()
    scores = result.validation.scores.set_index("model")
    name = result.model.name
    out = [
        t("clv.finding_total", lang, customers=fmt.int(h["customers_scored"]), total=fmt.money(h["total_clv"], compact=True),
          months=result.config.horizon_months, average=fmt.money(h["average_clv"])),
        t("clv.finding_top", lang, share=fmt.pct(h["top10_share"]), top=fmt.pct(TOP_SHARE, 0)),
        t("clv.finding_model", lang, model=model_labels(result, lang)[name], holdout=result.config.holdout_months,
          mae=fmt.num(scores.loc[name, "mae"], 2), naive=fmt.num(scores.loc["naive", "mae"], 2)),
        t("clv.finding_alive", lang, p_alive=fmt.pct(h["average_p_alive"])),
    ]
    if h["one_time_share"] > ONE_TIME_MAJORITY:
        out.insert(1, t("clv.finding_one_time", lang, share=fmt.pct(h["one_time_share"])))
    return out


def kpi_cards(result: ClvResult, fmt: Formatter) -> list[Kpi]:
    """The KPI row under the findings."""
    lang, h = fmt.lang, result.headline()
    return [
        Kpi(t("clv.kpi_total", lang, months=result.config.horizon_months), fmt.money(h["total_clv"], compact=True)),
        Kpi(t("clv.kpi_average", lang), fmt.money(h["average_clv"])),
        Kpi(t("clv.kpi_top", lang, top=fmt.pct(TOP_SHARE, 0)), fmt.pct(h["top10_share"])),
        Kpi(t("clv.kpi_customers", lang), fmt.int(h["customers_scored"])),
    ]


def model_table(result: ClvResult, lang: str) -> tuple[pd.DataFrame, dict[str, str]]:
    """Holdout scores of every model (model, status, predicted, actual, total error, MAE)."""
    labels = model_labels(result, lang)
    scores = result.validation.scores
    table = pd.DataFrame({
        "model": [labels[str(m)] for m in scores["model"]],
        "status": [t("clv.ok" if s == "ok" else "clv.failed", lang) for s in scores["status"]],
        **{c: scores[c].to_numpy() for c in ("predicted", "actual", "total_error", "mae")},
    })
    names = {c: t(f"clv.col_{c}", lang) for c in table.columns}
    return table.rename(columns=names), {names[c]: k for c, k in MODEL_COLUMNS.items()}


def model_notes(result: ClvResult, lang: str) -> list[tuple[str, str]]:
    """(text, level) banners of the model section: a holdout shorter than configured (a short
    order history), models that failed, then the choice (or the warning that no model beat
    the naive rate)."""
    labels = model_labels(result, lang)
    scores = result.validation.scores.set_index("model")
    short = [(t("clv.holdout_short", lang, holdout=result.config.holdout_months, configured=result.configured_holdout), "info")]
    notes = short if result.configured_holdout else []
    notes += [
        (t("clv.model_failed", lang, model=labels[str(name)], reason=str(row["status"]).removeprefix("failed: ")), "warning")
        for name, row in scores.iterrows()
        if row["status"] != "ok"
    ]
    if scores.loc[result.model.name, "mae"] >= scores.loc["naive", "mae"]:
        notes.append((t("clv.worse_than_naive", lang), "warning"))
    else:
        notes.append((t("clv.chosen", lang, model=labels[result.model.name]), "success"))
    return notes


def show_notes(rep: Canvas, notes: list[tuple[str, str]]) -> None:
    """Show (text, level) banners in order."""
    for text, level in notes:
        rep.banner(text, level)


def params_table(result: ClvResult, lang: str) -> tuple[pd.DataFrame, dict[str, str], str]:
    """The chosen model's parameters with 95% intervals: (table, formats, caption)."""
    params = result.model.confidence_intervals().reset_index()
    params.columns = [t(k, lang) for k in ("clv.col_parameter", "clv.col_estimate", "clv.col_se", "clv.col_lower", "clv.col_upper")]
    formats = dict(zip(params.columns, ["text", "num2", "num2", "num2", "num2"]))
    return params, formats, t("clv.params_caption", lang, model=model_labels(result, lang)[result.model.name])


def params_notes(result: ClvResult, lang: str) -> list[tuple[str, str]]:
    """A banner when parameters went to the edge of their range."""
    at_bound = result.model.estimates_.at_bound
    return [(t("clv.at_bound", lang, names=", ".join(at_bound)), "info")] if at_bound else []


def tier_table(result: ClvResult, lang: str) -> tuple[pd.DataFrame, dict[str, str], str]:
    """Customers, CLV and P(alive) per CLV tier: (table, formats, caption)."""
    tiers = result.tiers()
    tiers["clv_tier"] = [t(f"clv.tier_{v}", lang) for v in tiers["clv_tier"]]
    table, formats = _group_view(tiers, "clv_tier", "clv.col_tier", lang)
    return table, formats, t("clv.tier_caption", lang)


def _group_view(frame: pd.DataFrame, column: str, header: str, lang: str) -> tuple[pd.DataFrame, dict[str, str]]:
    names = {column: t(header, lang), **{c: t(k, lang) for c, k in GROUP_HEADERS.items()}}
    shown = frame[[column, *GROUP_COLUMNS]].rename(columns=names)
    return shown, {names[column]: "text", **{names[c]: k for c, k in GROUP_COLUMNS.items()}}


def group_table(result: ClvResult, column: str, lang: str, label=None) -> tuple[pd.DataFrame, dict[str, str]] | None:
    """Customers, CLV and P(alive) per value of a segments column (``rfm_segment`` or
    ``persona``), the values shown through ``label`` (a code -> display name function);
    None when the month has no such column."""
    by = result.by_group(column)
    if by is None:
        return None
    if label is not None:
        by[column] = [label(v) for v in by[column]]
    return _group_view(by, column, "clv.col_group", lang)


def segments_section(rep: Canvas, result: ClvResult,
                     labeller: Callable[[str, str], Callable[[str], str]] | None = None) -> None:
    """Value by RFM segment and persona, or a banner when 03_segmentation has not run.

    ``labeller(column, lang)`` gives the display-name function of a segments column; the
    notebook passes the segments page's (``partial(kit.segments.page.layer_labeller, wh,
    month)``): a page does not import another stage's page, so the notebook wires them.
    Without it the stored codes are shown.
    """
    rep.section(*section_text(result, "segments", rep.fmt))
    if result.segments is None:
        rep.banner(t("clv.no_segments", rep.lang, month=rep.fmt.month(result.month)), "info")
        return
    for column in ("rfm_segment", "persona"):
        table = group_table(result, column, rep.lang, labeller(column, rep.lang) if labeller else None)
        if table is not None:
            rep.table(*table)


def independence_note(result: ClvResult, fmt: Formatter) -> tuple[str, str]:
    """(text, level) about the spend model: the frequency / spend independence check that
    Gamma-Gamma assumes, or why each customer's plain average spend is used instead."""
    if result.spend.name == "mean_spend":
        return t("clv.spend_fallback", fmt.lang), "info"
    check = result.independence
    if check is None:
        return t("clv.independence_undefined", fmt.lang), "info"
    key = "clv.independence_ok" if check.ok else "clv.independence_warn"
    return t(key, fmt.lang, corr=fmt.num(check.pearson, 2)), "info" if check.ok else "warning"


# --------------------------------------------------------------------------- charts


def plot_holdout(ax: Axes, result: ClvResult, fmt: Formatter) -> None:
    """Average holdout purchases per calibration-frequency bucket: actual vs each model."""
    buckets = result.validation.buckets
    x = np.arange(len(buckets))
    ax.plot(x, buckets["actual"], marker="o", linewidth=2.5, color="black", label=t("clv.actual", fmt.lang))
    for name, label in model_labels(result, fmt.lang).items():
        if name in buckets:
            ax.plot(x, buckets[name], marker=".", linestyle="--", label=label)
    ax.set_xticks(x, buckets["bucket"])
    ax.legend()


def _matrix(ax: Axes, grid: pd.DataFrame, number: Callable[[float], str], colorbar_label: str, cmap: str) -> None:
    """A frequency (rows, the most repeat purchases on top) x recency (columns) heatmap with
    each cell's value written by ``number``; impossible cells (no repeat purchase, recency
    above 0) stay blank."""
    rows = grid.iloc[::-1]
    text = rows.map(lambda v: "" if pd.isna(v) else number(v))
    image = draw_heatmap(ax, rows, text, [str(f) for f in rows.index], [f"{r:.0f}" for r in rows.columns], cmap)
    ax.figure.colorbar(image, ax=ax, label=colorbar_label)


def plot_expected(ax: Axes, result: ClvResult, fmt: Formatter) -> None:
    """Expected purchases over the horizon by repeat purchases x recency."""
    _matrix(ax, result.grid("expected"), fmt.num, t("clv.colorbar_expected", fmt.lang), "viridis")


def plot_alive(ax: Axes, result: ClvResult, fmt: Formatter) -> None:
    """P(alive) by repeat purchases x recency."""
    _matrix(ax, result.grid("p_alive"), lambda v: fmt.pct(v, 0), t("clv.colorbar_alive", fmt.lang), "RdYlGn")


def plot_distribution(ax: Axes, result: ClvResult, fmt: Formatter) -> None:
    """Histogram of CLV (log-spaced bins for the long right tail)."""
    clv = result.scores["clv"]
    values = clv[clv > 0]
    bins = np.geomspace(max(values.min(), 1e-2), values.max(), 40) if len(values) else 10
    ax.hist(values, bins=bins, color="#4C78A8")
    ax.set_xscale("log")


def plot_concentration(ax: Axes, result: ClvResult, fmt: Formatter) -> None:
    """Cumulative share of CLV against the share of customers, best customers first."""
    curve = result.concentration()
    ax.plot(curve["share_customers"] * 100, curve["share_value"] * 100, linewidth=2)
    ax.plot([0, 100], [0, 100], linestyle=":", color="grey")
    ax.axvline(TOP_SHARE * 100, color="grey", linewidth=0.8)
