"""The 05_churn page: findings, KPI cards, tables, charts and texts built from a ChurnResult.

Every number the notebook shows comes from here or from the modelling modules, so it is
tested; the notebook only lays the pieces out. All translation (``t``) and formatting
(``Formatter``) of the churn stage lives here: the pipeline and the snapshot hold codes
(feature codes, reason codes with their numbers, action codes).

Words follow the business vocabulary (kit.core.vocabulary): the scored population is
"customers not yet churned" (an order in the last ``segmentation.silent_days``; not "active customers",
which means an order in the last ``segmentation.active_days``); the call list's value
band is "the top X% by CLV" (not "high value", the vocabulary's spend tier); the
retention curves count a customer as lost when churned (no order for more than
``segmentation.silent_days``). With ``churn.mode: contractual`` the texts that name the
population, the loss or the value have a ``.contractual`` twin (``text_key``): active
subscribers, a lapsed subscription (kit.churn.contract), MRR at risk.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from kit.churn import retention
from kit.churn.actions import ACTIONS, EXPORT_FILE, budget_outcome
from kit.churn.drivers import (
    MIN_IMPORTANCE,
    TREND_PAIRS,
    VALUE_KINDS,
    dependence_summary,
)
from kit.churn.pipeline import ChurnResult
from kit.core.vocabulary import value_at_risk
from kit.profile import event_feature_parts
from kit.text.cards import Canvas, Kpi
from kit.text.fmt import Formatter
from kit.text.i18n import catalogue, t

# Okabe-Ito colours, distinct for colour-blind readers: call stands out, nurture recedes.
ACTION_COLORS = {"call": "#D55E00", "coupon": "#0072B2", "nurture": "#BBBBBB"}
QUALITY_COLUMNS = {
    "n": "int",
    "train_customers": "int",
    "train_churners": "int",
    "validation_churners": "int",
    "roc_auc": "num2",
    "pr_auc": "num2",
    "brier": "num2",
    "caught_top10": "pct",
    "lift_top10": "num1",
    "caught_top20": "pct",
    "lift_top20": "num1",
    "churn_rate": "pct",
    "mean_predicted": "pct",
}
# section -> (title key, "what this means" key)
SECTIONS = {
    "trend": ("churn.section.trend", "churn.meaning.trend"),
    "quality": ("churn.section.quality", "churn.meaning.quality"),
    "drivers": ("churn.section.drivers", "churn.meaning.drivers"),
    "segments": ("churn.section.segments", "churn.meaning.segments"),
    "quadrant": ("churn.section.quadrant", "churn.meaning.quadrant"),
    "retention": ("churn.section.retention", "churn.meaning.retention"),
    "cohorts": ("churn.section.cohorts", "churn.meaning.cohorts"),
    "actions": ("churn.section.actions", "churn.meaning.actions"),
    "budget": ("churn.section.budget", "churn.meaning.budget"),
}
# chart -> (title key, x-axis key, y-axis key, size)
FIGURES: dict[str, tuple[str, str, str, tuple[float, float]]] = {
    "trend": ("churn.chart.trend", "churn.chart.snapshot", "churn.chart.churn_rate", (8, 4.5)),
    "gains": ("churn.chart.gains", "churn.chart.contacted", "churn.chart.caught", (8, 4.5)),
    "reliability": ("churn.chart.reliability", "churn.chart.predicted_risk", "churn.chart.actual_rate", (6, 5)),
    "drivers": ("churn.chart.drivers", "churn.chart.importance", "", (8, 5)),
    "quadrant": ("churn.chart.quadrant", "churn.chart.predicted_risk", "churn.chart.value", (8, 6)),
    "km_segment": ("churn.chart.km_segment", "churn.chart.days_since_first", "churn.chart.still_active", (8, 4.5)),
    "km_persona": ("churn.chart.km_persona", "churn.chart.days_since_first", "churn.chart.still_active", (8, 4.5)),
    "km_channel": ("churn.chart.km_channel", "churn.chart.days_since_first", "churn.chart.still_active", (8, 4.5)),
    "km_plan": ("churn.chart.km_plan", "churn.chart.days_since_first", "churn.chart.still_active", (8, 4.5)),
    "cohorts": ("churn.chart.cohorts", "churn.chart.months_since", "churn.chart.cohort", (10, 6)),
    "budget": ("churn.chart.budget", "churn.chart.contacts", "churn.chart.saved", (8, 4.5)),
}
MAX_RETENTION_GROUPS = 8


# --------------------------------------------------------------------------- words


def text_key(result: ChurnResult, key: str) -> str:
    """``key``, or its ``.contractual`` twin when churn is contractual and the twin exists."""
    twin = f"{key}.contractual"
    return twin if result.config.mode == "contractual" and twin in catalogue() else key


def definition_terms(result: ChurnResult) -> list[str]:
    """The vocabulary terms of the page's definitions table (kit.core.vocabulary): the
    order-based words, or for contractual churn the subscription ones."""
    if result.config.mode == "contractual":
        return ["customer", "active_subscriber", "lapsed_subscriber", "mrr_at_risk", "value_at_risk"]
    return ["customer", "churned", "value_at_risk"]


def _values(result: ChurnResult, fmt: Formatter) -> dict[str, Any]:
    """The placeholders every churn text may use, formatted for ``fmt``."""
    cfg = result.config
    return {
        "days": cfg.window_days,
        "grace_days": cfg.grace_days,
        "horizon": result.horizon_months,
        "silent_days": result.silent_days,
        "call_share": fmt.pct(cfg.call_share, 0),
        "coupon_share": fmt.pct(cfg.coupon_share, 0),
        "min_importance": fmt.num(MIN_IMPORTANCE, 3),
        "rate": fmt.pct(cfg.action_success_rate, 0),
        "month": fmt.month(result.plan.validation),
        "currency": fmt.symbol,
    }


def feature_label(feature: str, lang: str, event_types: dict[str, str] | None = None) -> str:
    """The readable name of a feature (``churn.feature.<name>``; an event feature from its
    event type, ``event_types`` mapping slugs to the types as logged), the raw name when none."""
    key = f"churn.feature.{feature}"
    if key in catalogue():
        return t(key, lang)
    parts = event_feature_parts(feature)
    if parts is not None:
        slug, suffix = parts
        return t(f"churn.feature.ev.{suffix}", lang, type=(event_types or {}).get(slug, slug))
    return feature


def value_kind(feature: str) -> str:
    """How a feature's value is formatted (kit.text.fmt kinds): ``VALUE_KINDS``, event
    counts as whole numbers, days since an event as days, rates and others with one decimal."""
    if feature in VALUE_KINDS:
        return VALUE_KINDS[feature]
    parts = event_feature_parts(feature)
    if parts is None:
        return "num1"
    return {"7d": "int", "28d": "int", "90d": "int", "since": "days", "trend_28d": "pct"}.get(parts[1], "num1")


def section_text(result: ChurnResult, name: str, fmt: Formatter) -> tuple[str, str]:
    """(title, "what this means") of section ``name`` (``SECTIONS``), placeholders filled;
    the quality section says when months were checked on a sample."""
    title, meaning = SECTIONS[name]
    values = _values(result, fmt)
    text = t(text_key(result, meaning), fmt.lang, **values)
    if name == "quality" and result.sample_customers is not None:
        text += " " + t("churn.meaning.quality_sample", fmt.lang, n=fmt.int(result.sample_customers))
    return t(title, fmt.lang, **values), text


def figure_labels(result: ChurnResult, name: str, fmt: Formatter) -> dict[str, Any]:
    """``rep.figure`` arguments of chart ``name`` (``FIGURES``): title, axis labels, size."""
    title, xlabel, ylabel, size = FIGURES[name]
    values = _values(result, fmt)
    return {
        "title": t(text_key(result, title), fmt.lang, **values),
        "xlabel": t(text_key(result, xlabel), fmt.lang, **values) if xlabel else "",
        "ylabel": t(text_key(result, ylabel), fmt.lang, **values) if ylabel else "",
        "size": size,
    }


def quality_meaning(result: ChurnResult, fmt: Formatter) -> str:
    """The quality section's "what this means", saying when months were checked on a sample."""
    return section_text(result, "quality", fmt)[1]


def findings(result: ChurnResult, fmt: Formatter) -> list[str]:
    """The key findings at the top of the page."""
    lang = fmt.lang
    h = result.headline()
    values = _values(result, fmt)
    top = result.drivers.loc[result.drivers["material"]].head(3)
    quality = result.quality.set_index("model")
    sizes = {
        key: fmt.int(quality.loc["model", key])
        for key in ("train_customers", "train_churners", "validation_customers", "validation_churners")
    }
    aucs = {"auc": fmt.num(h["auc"], 2), "baseline": fmt.num(h["auc_baseline"], 2)}
    first = (
        [t("churn.finding.fallback", lang, gain=fmt.num(result.config.min_auc_gain, 3), **aucs)]
        if result.scorer == "baseline"
        else []
    )
    drivers = (
        t("churn.finding.drivers", lang, drivers=", ".join(driver_phrase(r.feature, r.direction, lang, result.event_types)
                                                          for r in top.itertuples()))
        if len(top)
        else t("churn.finding.no_drivers", lang)
    )
    return [
        *first,
        t(
            text_key(result, "churn.finding.expected"),
            lang,
            churners=fmt.int(h["expected_churners"]),
            customers=fmt.int(h["customers_scored"]),
            rate=fmt.pct(h["predicted_churn_rate"]),
            days=values["days"],
            silent_days=values["silent_days"],
        ),
        t(
            "churn.finding.quality",
            lang,
            model=t(f"churn.model.{result.scorer}", lang),
            lift=fmt.num(h["lift_top10"], 1),
            caught=fmt.pct(quality.loc[result.scorer, "caught_top20"], 0),
            month=values["month"],
            **aucs,
            **sizes,
        ),
        drivers,
        t(
            text_key(result, "churn.finding.value"),
            lang,
            value=fmt.money(h["value_at_risk_total"], compact=True),
            mrr=fmt.money(h.get("mrr_at_risk", 0.0), compact=True),
            horizon=values["horizon"],
            calls=fmt.int(h["action_call"]),
            coupons=fmt.int(h["action_coupon"]),
            call_share=values["call_share"],
            coupon_share=values["coupon_share"],
        ),
    ]


def driver_phrase(feature: str, direction: str, lang: str, event_types: dict[str, str] | None = None) -> str:
    """A global driver with the direction of its effect: "days since the last order (more →
    higher risk)"; the bare label when the direction is not clear (text features)."""
    label = feature_label(feature, lang, event_types)
    return t(f"churn.direction.{direction}", lang, label=label) if direction else label


def kpi_cards(result: ChurnResult, fmt: Formatter) -> list[Kpi]:
    """The KPI row under the findings."""
    lang = fmt.lang
    h = result.headline()
    values = _values(result, fmt)
    return [
        Kpi(t(text_key(result, "churn.kpi.scored"), lang, **values), fmt.int(h["customers_scored"])),
        Kpi(t("churn.kpi.expected", lang, **values), fmt.int(h["expected_churners"]),
            note=fmt.pct(h["predicted_churn_rate"])),
        Kpi(t("churn.kpi.auc", lang), fmt.num(h["auc"], 2),
            note=t(f"churn.kpi.auc_note_{h['scorer']}", lang, baseline=fmt.num(h["auc_baseline"], 2))),
        value_card(result, fmt),
        Kpi(t("churn.kpi.calls", lang, **values), fmt.int(h["action_call"])),
    ]


def value_card(result: ChurnResult, fmt: Formatter) -> Kpi:
    """Value at risk; for subscriptions the MRR at risk a month, with its value over the
    CLV horizon as the note."""
    h = result.headline()
    total = fmt.money(h["value_at_risk_total"], compact=True)
    if "mrr_at_risk" not in h:
        return Kpi(t("churn.kpi.var", fmt.lang), total)
    return Kpi(t("churn.kpi.mrr", fmt.lang), fmt.money(h["mrr_at_risk"], compact=True),
               note=t("churn.kpi.mrr_note", fmt.lang, value=total, horizon=result.horizon_months))


def banners(result: ChurnResult, lang: str) -> list[tuple[str, str]]:
    """(text, level) of the notes under the KPIs: CLV fallback or mix, missing segments."""
    out = []
    if result.clv_source == "margin_365d":
        out.append((t("churn.banner.clv_fallback", lang), "warning"))
    elif result.clv_source == "mixed":
        out.append((t("churn.banner.clv_mixed", lang), "info"))
    if not result.has_segments:
        out.append((t("churn.banner.no_segments", lang), "warning"))
    return out


def status_banners(rep: Canvas, result: ChurnResult) -> None:
    """Show ``banners`` on the page."""
    for text, level in banners(result, rep.lang):
        rep.banner(text, level)


def not_for_this_business(result: ChurnResult, need: str) -> bool:
    """Whether signals lacking ``need`` are no gap in the data: subscription signals of a
    business without contractual churn (a shop has no subscriptions to miss), and the event
    balance a config never asked for (``features.negative_events``; the README says how)."""
    if need.startswith("features."):
        return True
    return result.config.mode != "contractual" and need.split(".")[0] == "subscriptions"


def input_notes(result: ChurnResult, missing: Callable[[str], str], lang: str) -> list[str]:
    """Plain lines on what the model could not use: the signals not computed for an absent
    input, counted per input (``missing`` phrases a need: the report's ``missing_input``),
    and the model columns dropped before fitting, with why."""
    notes = []
    needs: dict[str, int] = {}
    for need in result.skipped.values():
        if not_for_this_business(result, need):
            continue
        needs[need] = needs.get(need, 0) + 1
    if needs:
        parts = [t("churn.banner.skipped_need", lang, missing=missing(need), n=n) for need, n in needs.items()]
        notes.append(t("churn.banner.skipped", lang, needs="; ".join(parts)))
    if len(result.dropped):
        parts = [
            t(f"churn.dropped.{row.reason}", lang, label=feature_label(row.feature, lang, result.event_types),
              other=feature_label(row.same_as, lang, result.event_types) if row.same_as else "")
            for row in result.dropped.itertuples(index=False)
        ]
        notes.append(t("churn.banner.dropped", lang, features="; ".join(parts)))
    return notes


def retention_gaps(result: ChurnResult, lang: str) -> list[tuple[str, str]]:
    """(need, what) for ``rep.unavailable`` when the retention section has no chart: no
    segments this month and no order channel to group by."""
    if retention_groupings(result):
        return []
    return [("orders.channel", t("churn.unavailable.retention_channel", lang))]


def export_banner(result: ChurnResult, fmt: Formatter) -> str:
    """The note naming the exported contact list (written by ``ChurnResult.write``)."""
    return t("churn.banner.export", fmt.lang, rows=fmt.int(len(result.scores)), file=EXPORT_FILE)


# --------------------------------------------------------------------------- reasons and drivers


def reason_phrases(reasons: pd.DataFrame, fmt: Formatter, event_types: dict[str, str] | None = None) -> pd.DataFrame:
    """Readable phrases (``reason_1..k``) from ``kit.churn.drivers.reason_inputs`` columns,
    in ``fmt``'s language and currency.

    Each distinct (code, value, before) is phrased once and shared by the customers who
    have it: day and order counts repeat across hundreds of thousands.
    """
    slots = [c for c in reasons.columns if c.startswith("reason_") and c.removeprefix("reason_").isdigit()]
    out = {}
    for column in slots:
        parts = [column, f"{column}_value", f"{column}_before", f"{column}_typical"]
        part = reasons.reindex(columns=parts).set_axis(["code", "value", "before", "typical"], axis=1)
        group = part.groupby(["code", "value", "before", "typical"], dropna=False, sort=False).ngroup().to_numpy()
        first = part.iloc[np.unique(group, return_index=True)[1]]
        phrases = np.asarray(
            [phrase(c, v, b, fmt, event_types, typical=u) for c, v, b, u in first.itertuples(index=False)], dtype=object
        )
        out[column] = phrases[group] if len(group) else np.array([], dtype=object)
    return pd.DataFrame(out, index=reasons.index).astype("str")


def phrase(
    code: str,
    value: float,
    before: float,
    fmt: Formatter,
    event_types: dict[str, str] | None = None,
    typical: float = np.nan,
) -> str:
    """The phrase of one reason code with its numbers (see ``drivers.reason_inputs``);
    ``event_types`` names the event types behind event features (``feature_label``). A
    numeric feature's phrase ends with the population's ``typical`` value when known:
    "5 'complaint' events in the last 28 days (typical: 0)"."""
    if not code or pd.isna(code):
        return ""
    lang = fmt.lang
    feature, _, level = str(code).partition("=")
    if feature in TREND_PAIRS:
        if np.isnan(value) or np.isnan(before) or before <= 0:
            return t(f"churn.reason.{feature}.none", lang, now=fmt.int(value))
        change = value / before - 1
        key = f"churn.reason.{feature}.down" if change < 0 else f"churn.reason.{feature}.up"
        return t(key, lang, v=fmt.pct(abs(change), 0))
    if feature.startswith("cat_share_"):
        return t("churn.reason.cat_share", lang, category=feature.removeprefix("cat_share_"), v=fmt.pct(value, 0))
    label = feature_label(feature, lang, event_types)
    if level:
        return t("churn.reason.generic", lang, label=label, v=level)
    if np.isnan(value):
        return t("churn.reason.missing", lang, label=label)
    parts = event_feature_parts(feature)
    if parts is not None and parts[1] == "trend_28d":
        direction = "down" if value < 0 else "up"
        return t(f"churn.reason.ev.trend_28d.{direction}", lang, type=(event_types or {}).get(parts[0], parts[0]),
                 v=fmt.pct(abs(value), 0))
    key = f"churn.reason.{feature}"
    kind = value_kind(feature)
    # "no visit for 0 days" reads wrong: a zero day count takes the plain label form
    if key not in catalogue() or (kind == "days" and value == 0):
        text = t("churn.reason.generic", lang, label=label, v=fmt.apply(value, kind))
    else:
        text = t(key, lang, v=fmt.apply(value, kind))
    if np.isfinite(typical):
        text += t("churn.reason.typical", lang, v=fmt.apply(typical, kind))
    return text


def describe_dependence(curves: pd.DataFrame, fmt: Formatter, event_types: dict[str, str] | None = None) -> list[str]:
    """One plain sentence per feature: how risk moves from the low to the high end."""
    sentences = []
    for row in dependence_summary(curves).itertuples(index=False):
        kind = value_kind(row.feature)
        sentences.append(
            t(
                f"churn.pd.{row.trend}",
                fmt.lang,
                feature=feature_label(row.feature, fmt.lang, event_types),
                low=fmt.apply(row.low, kind),
                high=fmt.apply(row.high, kind),
                risk_low=fmt.pct(row.risk_low),
                risk_high=fmt.pct(row.risk_high),
            )
        )
    return sentences


def drivers_table(result: ChurnResult, lang: str, n: int = 10) -> pd.DataFrame:
    """Top ``n`` material global drivers (``kit.churn.drivers.permutation_drivers``) with
    readable names and the direction of their effect (feature, importance); none when no
    signal is material."""
    top = result.drivers.loc[result.drivers["material"]].head(n)
    labels = [driver_phrase(r.feature, r.direction, lang, result.event_types) for r in top.itertuples()]
    return pd.DataFrame({"feature": labels, "importance": top["importance"].to_numpy()})


def dependence_table(result: ChurnResult, fmt: Formatter) -> tuple[pd.DataFrame, dict[str, str]]:
    """One plain-words sentence per top driver (partial dependence)."""
    column = t("churn.col.driver", fmt.lang)
    return pd.DataFrame({column: describe_dependence(result.dependence, fmt, result.event_types)}), {column: "text"}


# --------------------------------------------------------------------------- tables


def quality_table(result: ChurnResult, lang: str) -> tuple[pd.DataFrame, dict[str, str]]:
    """Model vs baseline on the out-of-time snapshot, with translated headers."""
    table = result.quality[["model", *QUALITY_COLUMNS]].copy()
    table["model"] = [t(f"churn.model.{m}", lang) for m in table["model"]]
    names = {c: t(f"churn.col.{c}", lang) for c in table.columns}
    formats = {names[c]: kind for c, kind in QUALITY_COLUMNS.items()}
    formats[names["model"]] = "text"
    return table.rename(columns=names), formats


def risk_by_group(result: ChurnResult, column: str, lang: str) -> tuple[pd.DataFrame, dict[str, str]]:
    """Customers, average risk, share at risk >= 50%, and value at risk per group."""
    scores = result.scores.assign(group=result.scores[column].fillna(t("churn.unknown", lang)))
    rows = [
        {
            "group": group,
            "customers": len(part),
            "risk": float(part["churn_probability"].mean()),
            "high": float((part["churn_probability"] >= 0.5).mean()),
            "value_at_risk": value_at_risk(part["churn_probability"], part["clv"]),
        }
        for group, part in scores.groupby("group", sort=True)
    ]
    table = pd.DataFrame(rows, columns=["group", "customers", "risk", "high", "value_at_risk"])
    table = table.sort_values("value_at_risk", ascending=False, kind="stable", ignore_index=True)
    names = {c: t(f"churn.col.{c}", lang) for c in table.columns}
    kinds = {"group": "text", "customers": "int", "risk": "pct", "high": "pct", "value_at_risk": "money"}
    return table.rename(columns=names), {names[c]: k for c, k in kinds.items()}


def segments_section(rep: Canvas, result: ChurnResult) -> None:
    """Risk by segment and by persona, when the month has segments (else nothing: a banner
    under the KPIs says so)."""
    if not result.has_segments:
        return
    rep.section(*section_text(result, "segments", rep.fmt))
    for column in ("segment", "persona"):
        rep.table(*risk_by_group(result, column, rep.lang))


def contact_list(result: ChurnResult, fmt: Formatter, n: int = 20) -> tuple[pd.DataFrame, dict[str, str]]:
    """The first ``n`` customers to contact (highest value at risk): ids and reasons only,
    the reasons phrased in ``fmt``'s language from their stored codes."""
    lang = fmt.lang
    top = result.scores.nlargest(n, "value_at_risk")
    phrases = reason_phrases(top, fmt, result.event_types)
    table = pd.DataFrame(
        {
            "customer_id": top["customer_id"].to_numpy(),
            "risk": top["churn_probability"].to_numpy(),
            "clv": top["clv"].to_numpy(),
            "value_at_risk": top["value_at_risk"].to_numpy(),
            "reasons": ["; ".join(r for r in row if r) for row in phrases.to_numpy()],
            "action": [t(f"churn.action.{a}", lang) for a in top["action"]],
        }
    )
    names = {c: t(f"churn.col.{c}", lang) for c in table.columns}
    kinds = {"customer_id": "text", "risk": "pct", "clv": "money", "value_at_risk": "money", "reasons": "text", "action": "text"}
    return table.rename(columns=names), {names[c]: k for c, k in kinds.items()}


def action_summary(result: ChurnResult, lang: str) -> tuple[pd.DataFrame, dict[str, str]]:
    """Customers, expected churners and value at risk per action bucket."""
    scores = result.scores
    rows = []
    for action in ACTIONS:
        part = scores.loc[scores["action"] == action]
        rows.append(
            {
                "action": t(f"churn.action.{action}", lang),
                "customers": len(part),
                "expected_churners": float(part["churn_probability"].sum()),
                "value_at_risk": value_at_risk(part["churn_probability"], part["clv"]),
            }
        )
    table = pd.DataFrame(rows)
    names = {c: t(f"churn.col.{c}", lang) for c in table.columns}
    kinds = {"action": "text", "customers": "int", "expected_churners": "int", "value_at_risk": "money"}
    return table.rename(columns=names), {names[c]: k for c, k in kinds.items()}


# --------------------------------------------------------------------------- charts


def plot_trend(ax: Axes, result: ChurnResult, fmt: Formatter) -> None:
    """Observed churn rate per labelled snapshot month and the forecast for the run month."""
    trend = result.trend
    observed, forecast = trend[trend["kind"] == "observed"], trend[trend["kind"] == "predicted"]
    ax.plot(observed["snapshot_month"], observed["churn_rate"] * 100, marker="o", label=t("churn.chart.observed", fmt.lang))
    ax.plot(forecast["snapshot_month"], forecast["churn_rate"] * 100, marker="D", linestyle="none", markersize=9,
            label=t("churn.chart.predicted", fmt.lang))
    ax.set_ylim(bottom=0)
    ax.tick_params(axis="x", rotation=45)
    ax.legend()


def plot_gains(ax: Axes, result: ChurnResult, fmt: Formatter) -> None:
    """Cumulative gains of the model and the baseline against random order."""
    for name, curve in result.gains.groupby("model", sort=False):
        ax.plot(curve["contacted"] * 100, curve["caught"] * 100, label=t(f"churn.model.{name}", fmt.lang))
    ax.plot([0, 100], [0, 100], linestyle=":", color="grey", label=t("churn.model.random", fmt.lang))
    ax.legend()


def plot_reliability(ax: Axes, result: ChurnResult, fmt: Formatter) -> None:
    """Predicted vs actual churn rate in ten equal groups of the validation month."""
    ax.plot([0, 100], [0, 100], linestyle=":", color="grey", label=t("churn.chart.perfect", fmt.lang))
    ax.plot(result.reliability["predicted"] * 100, result.reliability["observed"] * 100, marker="o",
            label=t("churn.model.model", fmt.lang))
    ax.legend()


def plot_drivers(ax: Axes, result: ChurnResult, fmt: Formatter) -> None:
    """The top drivers as horizontal bars, the strongest on top."""
    top = drivers_table(result, fmt.lang).iloc[::-1]
    if len(top):
        ax.barh(top["feature"], top["importance"])
    else:
        ax.text(0.5, 0.5, t("churn.finding.no_drivers", fmt.lang), ha="center", va="center", wrap=True)
        ax.set_axis_off()


def plot_quadrant(ax: Axes, result: ChurnResult, fmt: Formatter) -> None:
    """Risk x CLV of a sample of customers, coloured by action (shares of the list ranked by
    value at risk, so no fixed threshold lines)."""
    sample = result.quadrant_sample()
    for action in reversed(ACTIONS):
        part = sample[sample["action"] == action]
        ax.scatter(part["churn_probability"] * 100, part["clv"].clip(lower=1), s=6, alpha=0.5,
                   color=ACTION_COLORS[action], label=t(f"churn.action.{action}", fmt.lang))
    ax.set_yscale("log")
    ax.legend(markerscale=3)


def retention_groupings(result: ChurnResult) -> list[tuple[str, str]]:
    """(spans column, chart name) of the retention charts: by plan for subscriptions, then
    segment and persona when the month has segments, else the main channel (when the
    features have one)."""
    plans = [("plan", "km_plan")] if result.config.mode == "contractual" else []
    wanted = plans + ([("segment", "km_segment"), ("persona", "km_persona")] if result.has_segments
                      else [("main_channel", "km_channel")])
    return [(column, chart) for column, chart in wanted if column in result.spans.columns]


def retention_curves(result: ChurnResult, column: str) -> pd.DataFrame:
    """Kaplan-Meier curves (lost = churned) of the ``MAX_RETENTION_GROUPS`` largest groups of
    ``column`` (long: group, n, day, survival, low, high), largest group first."""
    spans = result.spans
    curves = retention.km_by_group(spans, spans[column])
    if curves.empty:
        return curves
    names = curves.groupby("group")["n"].first().nlargest(MAX_RETENTION_GROUPS).index.tolist()
    order = {name: i for i, name in enumerate(names)}
    kept = curves[curves["group"].isin(names)]
    return kept.assign(_o=kept["group"].map(order)).sort_values(["_o", "day"], kind="stable").drop(columns="_o").reset_index(drop=True)


def plot_retention(ax: Axes, result: ChurnResult, fmt: Formatter, column: str,
                   colors: Callable[[list[str], str], dict[str, str]] | None = None) -> None:
    """Kaplan-Meier curves by ``column`` with their 95% bands, drawn as the steps they are
    (a straight line between grid days showed churn before it can happen); ``colors`` is
    the shell's kit-wide colour lookup (``rep.colors``)."""
    curves = retention_curves(result, column)
    names = list(dict.fromkeys(curves["group"]))
    palette = colors(names, "segment" if column == "segment" else "persona") if colors else {}
    for name in names:
        curve = curves[curves["group"] == name]
        color = palette.get(name)
        ax.plot(curve["day"], curve["survival"] * 100, color=color, label=f"{name} ({fmt.int(curve['n'].iloc[0])})",
                drawstyle="steps-post")
        ax.fill_between(curve["day"], curve["low"] * 100, curve["high"] * 100, color=color, alpha=0.15, step="post")
    ax.set_ylim(0, 100)
    if names:
        ax.legend(fontsize=8)


def retention_charts(rep: Canvas, result: ChurnResult) -> None:
    """One retention chart per grouping (``retention_groupings``)."""
    for column, chart in retention_groupings(result):
        fig, ax = rep.figure(**figure_labels(result, chart, rep.fmt))
        plot_retention(ax, result, rep.fmt, column, rep.colors)
        rep.show(fig)


def plot_cohorts(ax: Axes, result: ChurnResult, fmt: Formatter) -> None:
    """The cohort retention matrix as a heatmap (months 1.. after the first order)."""
    shown = result.cohorts.drop(columns=0, errors="ignore")
    values = shown.to_numpy(dtype=float)
    image = ax.imshow(values * 100, cmap="Blues", aspect="auto")
    ax.set_xticks(range(shown.shape[1]), shown.columns)
    ax.set_yticks(range(shown.shape[0]), shown.index)
    for (i, j), value in np.ndenumerate(values):
        if not np.isnan(value):
            ax.text(j, i, fmt.pct(value, 0), ha="center", va="center", fontsize=7)
    ax.grid(False)
    ax.figure.colorbar(image, ax=ax, label="%")


def plot_budget(ax: Axes, result: ChurnResult, fmt: Formatter) -> None:
    """Expected value saved by the number of customers contacted."""
    ax.plot(result.budget["contacted"], result.budget["expected_value_saved"])


def budget_text(result: ChurnResult, n_contacts: int, fmt: Formatter) -> str:
    """What contacting the top ``n_contacts`` by value at risk reaches and may save."""
    scores, cfg = result.scores, result.config
    outcome = budget_outcome(scores["churn_probability"].to_numpy(), scores["value_at_risk"].to_numpy(),
                             n_contacts, cfg.action_success_rate)
    return t("churn.explore.result", fmt.lang, n=fmt.int(outcome["contacted"]),
             churners=fmt.int(outcome["expected_churners_reached"]),
             share=fmt.pct(outcome["share_of_expected_churners"]),
             var=fmt.money(outcome["value_at_risk_reached"], compact=True),
             rate=fmt.pct(cfg.action_success_rate, 0),
             saved=fmt.money(outcome["expected_value_saved"], compact=True))


def budget_explorer(rep: Canvas, result: ChurnResult) -> Callable[[], Any]:
    """A widget builder for ``rep.explore``: a contact-budget slider and what it buys."""

    def build() -> Any:
        import ipywidgets as widgets

        n = len(result.scores)
        slider = widgets.IntSlider(value=min(1000, n), min=0, max=n, step=max(1, n // 200),
                                   description=t("churn.explore.budget", rep.lang), style={"description_width": "initial"},
                                   layout=widgets.Layout(width="70%"))
        out = widgets.Output()

        def update(_: Any = None) -> None:
            out.clear_output()
            with out:
                rep.banner(budget_text(result, slider.value, rep.fmt))

        slider.observe(update, names="value")
        update()
        return widgets.VBox([slider, out])

    return build
