"""The 06_experiment_readout page: one section group per experiment, built from the stage's
result (kit.experiments.pipeline.ExperimentsResult).

Every number comes from ``kit.experiments.readout``; this module only turns readouts into
translated tables, sentences and charts, laid out on a ``kit.text.cards.Canvas`` (the
report shell implements it; a page never imports the shell), so the notebook stays a list
of calls.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from kit.experiments.catalog import Experiment
from kit.experiments.decision import Decision
from kit.experiments.metrics import BINARY_METRICS, SEGMENTS
from kit.experiments.pipeline import VERDICTS, ExperimentsResult
from kit.experiments.readout import Readout, analyse, planning
from kit.text.cards import Canvas, Kpi
from kit.text.fmt import Formatter
from kit.text.i18n import t

PLANNING_TARGETS = (0.02, 0.05, 0.10)
STAGES = ("prospect", "new", "active", "silent", "churned", "unknown")
VERDICT_LEVEL = {"ship": "success", "do_not_ship": "warning", "keep_running": "info", "investigate": "danger"}
GLOSSARY = ("control", "interval", "p", "correction", "srm", "cuped", "chance", "loss", "mde", "sequential",
            "heterogeneity", "winsor")


# --------------------------------------------------------------------------- formatting


def metric_label(metric: str, lang: str) -> str:
    return t(f"exp.metric.{metric}", lang)


def level(metric: str, value: float, fmt: Formatter) -> str:
    """A metric's value per user (or per order) in its unit."""
    if metric in BINARY_METRICS or metric == "refund_rate":
        return fmt.pct(value, 1)
    if metric in ("revenue_per_user", "aov"):
        return fmt.money(value, decimals=2)
    return fmt.num(value, 3)


def difference(metric: str, value: float, fmt: Formatter) -> str:
    """An absolute difference in the metric's unit (percentage points for rates)."""
    if metric in BINARY_METRICS or metric == "refund_rate":
        return fmt.pp(value, 2)
    if metric in ("revenue_per_user", "aov"):
        sign = "+" if value >= 0 else ""
        return sign + fmt.money(value, decimals=2)
    return f"{value:+.3f}"


def segment_label(dimension: str, value: str, lang: str) -> str:
    """A segment's display name: lifecycle stages translated, other labels as they come."""
    if dimension == "lifecycle_stage" and value in STAGES:
        return t(f"exp.stage.{value}", lang)
    return str(value)


def _interval(lang: str, value: str, low: str, high: str) -> str:
    return t("exp.interval", lang, value=value, low=low, high=high)


def verdict_text(decision: Decision, lang: str) -> str:
    return t(f"exp.verdict.{decision.verdict}", lang, variant=decision.variant or "")


def reason_texts(decision: Decision, lang: str, fmt: Formatter) -> list[str]:
    """Each reason as a sentence: relative numbers as signed percentages, metrics translated."""
    out = []
    for key, values in decision.reasons:
        shown: dict[str, Any] = dict(values)
        if "metric" in shown:
            shown["metric"] = metric_label(str(shown["metric"]), lang)
        for k in ("rel",):
            if k in shown:
                shown[k] = fmt.change(shown[k])
        if "mde" in shown:
            shown["mde"] = fmt.pct(shown["mde"], 1)
        out.append(t(key, lang, **shown))
    return out


def findings(result: ExperimentsResult, fmt: Formatter) -> list[str]:
    """A count of the experiments by verdict, then one bullet per experiment: name, verdict,
    first reason; one line saying why when there is nothing to read out."""
    lang, items = fmt.lang, result.items
    bullets = []
    if result.readouts:
        counts = result.verdict_counts()
        bullets.append(t("exp.finding.count", lang, n=fmt.int(len(items)), **{k: fmt.int(counts[k]) for k in VERDICTS}))
    for e, r in items:
        if isinstance(r, str):
            bullets.append(t("exp.read_error", lang, name=e.name, error=r))
            continue
        reasons = reason_texts(r.decision, lang, fmt)
        bullets.append(t("exp.finding", lang, name=e.name, verdict=verdict_text(r.decision, lang),
                         reason=reasons[0] if reasons else ""))
    if result.missing:
        return [t(f"exp.none.{result.missing}", lang, file=result.catalog, n=fmt.int(result.listed))]
    return bullets or [t("exp.none", lang)]


# --------------------------------------------------------------------------- page


def experiment_sections(rep: Canvas, result: ExperimentsResult) -> None:
    """The sections of every experiment, in catalog order."""
    for e, r in result.items:
        page(rep, e, r)


def page(rep: Canvas, e: Experiment, r: Readout | str) -> None:
    """All sections of one experiment."""
    if isinstance(r, str):
        rep.section(t("exp.section.headline", rep.lang, name=e.name), "")
        rep.banner(t("exp.read_error", rep.lang, name=e.name, error=r), "warning")
        return
    headline(rep, r)
    srm_section(rep, r)
    if r.results.empty:
        return
    metrics_section(rep, r)
    cuped_section(rep, r)
    bayes_section(rep, r)
    for dim in SEGMENTS:
        if len(r.segments) and dim in set(r.segments.dimension):
            segment_section(rep, r, dim)
    power_section(rep, r)
    if r.early:
        sequential_section(rep, r)


def headline(rep: Canvas, r: Readout) -> None:
    e, lang, fmt = r.experiment, rep.lang, rep.fmt
    decision = t("exp.decision_line", lang, verdict=verdict_text(r.decision, lang))
    arms = ", ".join(f"{v} ({fmt.pct(s, 0)})" for v, s in e.variants.items())
    rep.section(t("exp.section.headline", lang, name=e.name),
                t("exp.meaning.headline", lang, hypothesis=e.hypothesis, arms=arms, start=fmt.date(e.start),
                  end=fmt.date(e.end), days=e.exposure_days, decision=decision))
    rep.banner(" ".join([decision, *reason_texts(r.decision, lang, fmt)]), VERDICT_LEVEL[r.decision.verdict])
    if r.early:
        rep.banner(t("exp.early_note", lang, end=fmt.date(e.end)), "info")
    primary = r.results[r.results.metric == e.primary_metric]
    cards = [Kpi(t("exp.kpi.users", lang), fmt.int(sum(r.assigned.values()))),
             Kpi(t("exp.kpi.srm", lang), t("exp.kpi.srm_failed" if r.srm.failed else "exp.kpi.srm_ok", lang),
                 good=not r.srm.failed)]
    for row in primary.itertuples():
        cards.append(Kpi(t("exp.kpi.lift", lang, metric=metric_label(row.metric, lang), variant=row.variant),
                         fmt.change(row.rel), good=bool(row.significant and row.rel * row.direction > 0) or None,
                         note=t("exp.kpi.lift_note", lang, low=fmt.change(row.rel_ci_low), high=fmt.change(row.rel_ci_high))))
        if len(primary) == 1:
            cards.append(Kpi(t("exp.kpi.chance", lang, variant=row.variant), fmt.pct(row.chance_to_win, 0)))
    rep.kpis(cards[:5])


def srm_section(rep: Canvas, r: Readout) -> None:
    lang, fmt, e = rep.lang, rep.fmt, r.experiment
    rep.section(t("exp.section.srm", lang), t("exp.meaning.srm", lang, alpha=fmt.num(r.settings.srm_alpha, 3)))
    observed = " / ".join(fmt.int(x) for x in r.srm.observed)
    planned = " / ".join(fmt.pct(s, 0) for s in e.variants.values())
    p = f"{r.srm.p_value:.2g}"
    if r.srm.failed:
        rep.banner(t("exp.srm.failed", lang, observed=observed, planned=planned, p=p), "danger")
    else:
        rep.banner(t("exp.srm.ok", lang, p=p), "success")
    failed = r.srm_segments[r.srm_segments.failed] if len(r.srm_segments) else pd.DataFrame()
    if len(failed):
        names = ", ".join(f"{t('exp.dimension.' + d, lang)}: {s}" for d, s in zip(failed.dimension, failed.segment))
        rep.banner(t("exp.srm.segments_failed", lang, segments=names), "danger")
    arms = pd.DataFrame({
        t("exp.col.arm", lang): list(e.variants),
        t("exp.col.planned_share", lang): list(e.variants.values()),
        t("exp.col.expected", lang): r.srm.expected,
        t("exp.col.observed", lang): r.srm.observed,
    })
    rep.table(arms, {t("exp.col.planned_share", lang): "pct", t("exp.col.expected", lang): "int",
                     t("exp.col.observed", lang): "int"})
    excl = pd.DataFrame({t("exp.col.reason", lang): [t(f"exp.exclusion.{k}", lang) for k in r.exclusions],
                         t("exp.col.users", lang): list(r.exclusions.values())})
    if len(excl):
        rep.table(excl, {t("exp.col.users", lang): "int"}, caption=t("exp.exclusions_caption", lang))


def metric_view(r: Readout, lang: str, fmt: Formatter) -> pd.DataFrame:
    """The metric table: one row per metric x arm, values formatted in their units."""
    rows = []
    for x in r.results.itertuples():
        rows.append({
            t("exp.col.metric", lang): metric_label(x.metric, lang),
            t("exp.col.role", lang): t(f"exp.role.{x.role}", lang),
            t("exp.col.variant", lang): x.variant,
            t("exp.col.control", lang): level(x.metric, x.control_mean, fmt),
            t("exp.col.treatment", lang): level(x.metric, x.variant_mean, fmt),
            t("exp.col.effect", lang): _interval(lang, difference(x.metric, x.effect, fmt),
                                                 difference(x.metric, x.ci_low, fmt), difference(x.metric, x.ci_high, fmt)),
            t("exp.col.relative", lang): _interval(lang, fmt.change(x.rel), fmt.change(x.rel_ci_low),
                                                   fmt.change(x.rel_ci_high)),
            t("exp.col.p_adj", lang): f"{x.p_adj:.3g}",
            t("exp.col.significant", lang): t("exp.yes" if x.significant else "exp.no", lang),
        })
    return pd.DataFrame(rows)


def metrics_section(rep: Canvas, r: Readout) -> None:
    lang = rep.lang
    k = len(r.experiment.treatments)
    rep.section(t("exp.section.metrics", lang),
                t("exp.meaning.metrics", lang, k=k, correction=t(f"exp.correction.{r.settings.correction}", lang)))
    rep.table(metric_view(r, lang, rep.fmt), max_rows=40)
    forest_plot(rep, r)


def forest_plot(rep: Canvas, r: Readout) -> None:
    """Relative change per metric x arm with its interval (and the always-valid one when early)."""
    res = r.results.iloc[::-1].reset_index(drop=True)
    if res.empty:
        return
    colors = rep.colors(list(r.experiment.treatments), "variant")
    fig, ax = rep.figure(t("exp.chart.forest", rep.lang), xlabel=t("exp.chart.relative_axis", rep.lang),
                         size=(8, 0.5 * len(res) + 1.5))
    y = np.arange(len(res))
    if r.early:
        ax.hlines(y, res.rel_seq_low * 100, res.rel_seq_high * 100, color="#9e9e9e", linewidth=1,
                  label=t("exp.chart.sequential", rep.lang))
    for variant, g in res.groupby("variant"):
        ax.errorbar(g.rel * 100, g.index, xerr=[(g.rel - g.rel_ci_low) * 100, (g.rel_ci_high - g.rel) * 100],
                    fmt="o", color=colors[str(variant)], capsize=3, label=f"{variant} · {t('exp.chart.fixed', rep.lang)}")
    ax.axvline(0, color="#424242", linewidth=0.8)
    ax.set_yticks(y, [f"{metric_label(m, rep.lang)} · {v}" for m, v in zip(res.metric, res.variant)])
    ax.legend(loc="best", fontsize=8)
    rep.show(fig)


def cuped_section(rep: Canvas, r: Readout) -> None:
    lang, fmt = rep.lang, rep.fmt
    rep.section(t("exp.section.cuped", lang), t("exp.meaning.cuped", lang, days=r.experiment.exposure_days))
    rows = []
    for x in r.results[r.results.cuped].itertuples():
        rows.append({
            t("exp.col.metric", lang): metric_label(x.metric, lang),
            t("exp.col.variant", lang): x.variant,
            t("exp.col.unadjusted", lang): _interval(lang, difference(x.metric, x.raw_abs, fmt),
                                                     difference(x.metric, x.raw_ci_low, fmt),
                                                     difference(x.metric, x.raw_ci_high, fmt)),
            t("exp.col.cuped", lang): _interval(lang, difference(x.metric, x.effect, fmt),
                                                difference(x.metric, x.ci_low, fmt), difference(x.metric, x.ci_high, fmt)),
            t("exp.col.variance_reduction", lang): fmt.pct(x.variance_reduction, 0),
        })
    rep.table(pd.DataFrame(rows), max_rows=40)


def bayes_section(rep: Canvas, r: Readout) -> None:
    lang = rep.lang
    rep.section(t("exp.section.bayes", lang), t("exp.meaning.bayes", lang))
    view = pd.DataFrame({
        t("exp.col.metric", lang): [metric_label(m, lang) for m in r.results.metric],
        t("exp.col.variant", lang): r.results.variant,
        t("exp.col.chance", lang): r.results.chance_to_win,
        t("exp.col.loss_ship", lang): r.results.loss_variant,
        t("exp.col.loss_keep", lang): r.results.loss_control,
    })
    rep.table(view, {t("exp.col.chance", lang): "pct", t("exp.col.loss_ship", lang): "pct",
                     t("exp.col.loss_keep", lang): "pct"}, max_rows=40)


def segment_section(rep: Canvas, r: Readout, dim: str, metric: str | None = None) -> None:
    """Effects per group of one dimension with corrected intervals and the heterogeneity test."""
    lang, fmt, e = rep.lang, rep.fmt, r.experiment
    metric = metric or e.primary_metric
    seg = r.segments[(r.segments.dimension == dim) & (r.segments.metric == metric)]
    if seg.empty:
        return
    dim_label = t(f"exp.dimension.{dim}", lang)
    rep.section(t("exp.section.segments", lang, dimension=dim_label),
                t("exp.meaning.segments", lang, metric=metric_label(metric, lang), m=len(seg),
                  correction=t(f"exp.correction.{r.settings.correction}", lang)))
    source = r.segment_source
    if source.startswith("snapshot:"):
        rep.banner(t("exp.segment_source.snapshot", lang, month=source.split(":", 1)[1]), "info")
    elif source:
        rep.banner(t("exp.segment_source.orders", lang), "info")
    view = pd.DataFrame({
        t("exp.col.segment", lang): [segment_label(dim, s, lang) for s in seg.segment],
        t("exp.col.variant", lang): seg.variant,
        t("exp.col.users_control", lang): seg.n_control,
        t("exp.col.users_variant", lang): seg.n_variant,
        t("exp.col.control", lang): [level(metric, v, fmt) for v in seg.control_mean],
        t("exp.col.effect", lang): [_interval(lang, difference(metric, a, fmt), difference(metric, lo, fmt),
                                              difference(metric, hi, fmt))
                                    for a, lo, hi in zip(seg.effect, seg.ci_low, seg.ci_high)],
        t("exp.col.p_adj", lang): [f"{p:.3g}" for p in seg.p_adj],
    })
    rep.table(view, {t("exp.col.users_control", lang): "int", t("exp.col.users_variant", lang): "int"}, max_rows=40)
    for sentence in heterogeneity_sentences(r, dim, metric, lang, fmt):
        rep.banner(sentence, "info")
    segment_chart(rep, seg, metric, dim, dim_label)


def heterogeneity_sentences(r: Readout, dim: str, metric: str, lang: str, fmt: Formatter) -> list[str]:
    """Cautious sentences on whether the effect differs between the groups of ``dim``."""
    het = r.heterogeneity
    if het.empty:
        return []
    out = []
    rows = het[(het.dimension == dim) & (het.metric == metric)]
    for h in rows.itertuples():
        seg = r.segments[(r.segments.dimension == dim) & (r.segments.metric == metric) & (r.segments.variant == h.variant)]
        p = f"{h.p_value:.2g}"
        if h.p_value < r.settings.alpha and len(seg) > 1:
            best, worst = seg.loc[seg.effect.idxmax()], seg.loc[seg.effect.idxmin()]
            out.append(t("exp.hetero.yes", lang, variant=h.variant, p=p, i2=fmt.pct(h.i2, 0),
                         best=segment_label(dim, best.segment, lang), best_effect=difference(metric, best.effect, fmt),
                         worst=segment_label(dim, worst.segment, lang),
                         worst_effect=difference(metric, worst.effect, fmt)))
        else:
            out.append(t("exp.hetero.no", lang, variant=h.variant, p=p))
    return out


def _unit(metric: str, lang: str) -> tuple[str, float]:
    """Axis unit label and scale of a metric's differences."""
    if metric in BINARY_METRICS or metric == "refund_rate":
        return t("exp.unit.pp", lang), 100.0
    if metric == "revenue_per_user":
        return t("exp.unit.money", lang), 1.0
    if metric == "aov":
        return t("exp.unit.aov", lang), 1.0
    return t("exp.unit.orders", lang), 1.0


def segment_chart(rep: Canvas, seg: pd.DataFrame, metric: str, dim: str, dim_label: str) -> None:
    unit, scale = _unit(metric, rep.lang)
    seg = seg.reset_index(drop=True)
    colors = rep.colors(sorted(set(seg.variant)), "variant")
    fig, ax = rep.figure(t("exp.chart.segments", rep.lang, metric=metric_label(metric, rep.lang), dimension=dim_label),
                         xlabel=t("exp.chart.effect_axis", rep.lang, unit=unit), size=(8, 0.45 * len(seg) + 1.5))
    for variant, g in seg.groupby("variant"):
        ax.errorbar(g.effect * scale, g.index, xerr=[(g.effect - g.ci_low) * scale, (g.ci_high - g.effect) * scale],
                    fmt="o", capsize=3, color=colors[str(variant)], label=str(variant))
    ax.axvline(0, color="#424242", linewidth=0.8)
    ax.set_yticks(seg.index, [f"{segment_label(dim, s, rep.lang)} · {v}" for s, v in zip(seg.segment, seg.variant)])
    ax.legend(loc="best", fontsize=8)
    rep.show(fig)


def power_section(rep: Canvas, r: Readout) -> None:
    lang, fmt, e = rep.lang, rep.fmt, r.experiment
    primary = r.results[r.results.metric == e.primary_metric]
    if primary.empty:
        return
    row = primary.sort_values("rel_mde").iloc[0]
    settings = r.settings
    rep.section(t("exp.section.power", lang),
                t("exp.meaning.power", lang, metric=metric_label(e.primary_metric, lang), mde=fmt.pct(row.rel_mde, 1),
                  power=fmt.pct(settings.power, 0)))
    ratio = e.variants[row.variant] / e.variants[e.control]
    plan = planning(row.unit_sd, row.control_mean, list(PLANNING_TARGETS), settings.alpha, settings.power, ratio)
    view = pd.DataFrame({t("exp.col.target", lang): plan.target_rel, t("exp.col.users_needed", lang): plan.users_control})
    rep.table(view, {t("exp.col.target", lang): "pct", t("exp.col.users_needed", lang): "int"})


def sequential_section(rep: Canvas, r: Readout) -> None:
    lang, fmt = rep.lang, rep.fmt
    rep.section(t("exp.section.sequential", lang), t("exp.meaning.sequential", lang, end=fmt.date(r.experiment.end)))
    res = r.results[r.results.role == "primary"]
    view = pd.DataFrame({
        t("exp.col.metric", lang): [metric_label(m, lang) for m in res.metric],
        t("exp.col.variant", lang): res.variant,
        t("exp.col.fixed", lang): [_interval(lang, fmt.change(a), fmt.change(lo), fmt.change(hi))
                                   for a, lo, hi in zip(res.rel, res.rel_ci_low, res.rel_ci_high)],
        t("exp.col.sequential", lang): [_interval(lang, fmt.change(a), fmt.change(lo), fmt.change(hi))
                                        for a, lo, hi in zip(res.rel, res.rel_seq_low, res.rel_seq_high)],
    })
    rep.table(view)


def glossary(rep: Canvas, result: ExperimentsResult) -> None:
    """The statistical terms of the readouts (nothing when no experiment was read out)."""
    if not result.readouts:
        return
    lang = rep.lang
    rep.section(t("exp.section.glossary", lang), t("exp.meaning.glossary", lang))
    q = f"{result.settings.winsorize_quantile * 100:g}"
    view = pd.DataFrame({
        t("exp.col.term", lang): [t(f"exp.glossary.{k}.term", lang) for k in GLOSSARY],
        t("exp.col.explanation", lang): [t(f"exp.glossary.{k}.text", lang, q=q) if k == "winsor"
                                         else t(f"exp.glossary.{k}.text", lang) for k in GLOSSARY],
    })
    rep.table(view, max_rows=len(GLOSSARY))


def explorer(rep: Canvas, result: ExperimentsResult) -> Callable[[], Any]:
    """A widget builder: choose experiment, metric, capping and segment dimension."""

    def build() -> Any:
        import ipywidgets as widgets

        ready = {e.id: r for e, r in result.items if not isinstance(r, str)}
        lang = rep.lang
        exp_box = widgets.Dropdown(options=list(ready), description=t("exp.explore.experiment", lang))
        metric_box = widgets.Dropdown(description=t("exp.explore.metric", lang))
        cap_box = widgets.Checkbox(value=True, description=t("exp.explore.capping", lang))
        seg_box = widgets.Dropdown(description=t("exp.explore.segment", lang))
        out = widgets.Output()

        def refresh_options(*_: Any) -> None:
            r = ready[exp_box.value]
            metric_box.options = [(metric_label(m, lang), m) for m in r.experiment.metrics]
            metric_box.value = r.experiment.primary_metric
            dims = sorted(set(r.segments.dimension)) if len(r.segments) else []
            seg_box.options = [(t("exp.explore.overall", lang), "")] + [(t(f"exp.dimension.{d}", lang), d) for d in dims]
            seg_box.value = ""

        def draw(*_: Any) -> None:
            r = ready[exp_box.value]
            dims = tuple(sorted(set(r.segments.dimension))) if len(r.segments) else ()
            again = analyse(r.stats, r.experiment, r.assigned, r.settings, r.early, capped=cap_box.value, segments=dims)
            again = replace(again, exclusions=r.exclusions, segment_source=r.segment_source, caps=r.caps)
            out.clear_output()
            with out:
                if seg_box.value:
                    segment_section(rep, again, seg_box.value, metric_box.value)
                else:
                    view = metric_view(again, lang, rep.fmt)
                    rep.table(view[view[t("exp.col.metric", lang)] == metric_label(metric_box.value, lang)])

        if ready:
            refresh_options()
        exp_box.observe(lambda _: (refresh_options(), draw()), names="value")
        for box in (metric_box, cap_box, seg_box):
            box.observe(draw, names="value")
        if ready:
            draw()
        return widgets.VBox([widgets.HBox([exp_box, metric_box]), widgets.HBox([cap_box, seg_box]), out])

    return build
