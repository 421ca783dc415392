"""The executive overview page (07_overview): KPI cards, the lifecycle at a glance,
highlights, findings, the trend chart and the definitions, from an ``Overview``
(kit.overview.pipeline). Every KPI's name and definition is the business vocabulary's.
"""

from __future__ import annotations

from collections.abc import Callable

import matplotlib.pyplot as plt
import pandas as pd

from kit.churn.page import feature_label
from kit.core.config import KitConfig
from kit.core.vocabulary import Vocabulary
from kit.overview.pipeline import (
    HIGHER_IS_BETTER,
    KPI_KEYS,
    ONE_TIME_MAJORITY,
    Overview,
)
from kit.segments.page import narratives, persona_names, segment_label
from kit.text.cards import Highlight, Kpi
from kit.text.fmt import MISSING, Formatter
from kit.text.glossary import glossary as vocabulary_glossary
from kit.text.glossary import term
from kit.text.i18n import t

# each KPI's vocabulary term (kit/text/strings/vocabulary.yml): its card label and definition
KPI_TERMS = {
    "active_customers": "active",
    "new_this_month": "new_this_month",
    "churned_this_month": "churned_this_month",
    "revenue": "revenue",
    "repeat_rate": "repeat_rate",
    "aov": "aov",
    "avg_clv": "clv",
    "value_at_risk": "value_at_risk",
    "nps": "nps",
}
VALUE_FORMATS = {
    "active_customers": "int",
    "new_this_month": "int",
    "churned_this_month": "int",
    "revenue": "money_compact",
    "repeat_rate": "pct",
    "aov": "money",
    "avg_clv": "money",
    "value_at_risk": "money_compact",
    "nps": "num1",
}
# currencies whose reports may name the Chinese shopping festivals (11.11, 618) as seasonal peaks
FESTIVAL_CURRENCIES = ("CNY", "RMB")
# the figures another stage must have saved for its highlight (a stage may save fewer)
CHURN_HIGHLIGHT = ("top_driver", "expected_churners", "predicted_churn_rate")
CLV_HIGHLIGHT = ("top10_share", "average_clv", "horizon_months")


def data_quality_banner(ov: Overview, lang: str) -> tuple[str, str] | None:
    """(text, level) of the banner opening the overview when the data gate was not ok.

    warn publishes with this banner naming the sources and limits; fail only reaches the
    overview when the run was told ``--accept-data-warnings``. None when the gate passed.
    """
    gate = ov.gate
    if gate is None:
        return None
    flagged = [c for c in gate["checks"] if c["grade"] != "ok"]
    sources = ", ".join(dict.fromkeys(c["source"] for c in flagged))
    limits = ", ".join(dict.fromkeys(t(f"ingest.value.{c['limit']}", lang) for c in flagged))
    level = "danger" if gate["grade"] == "fail" else "warning"
    return t(f"overview.data_quality.{gate['grade']}", lang, sources=sources, limits=limits), level


def kpi_cards(ov: Overview, fmt: Formatter, missing: Callable[[str], str]) -> list[Kpi]:
    """One KPI card per KPI: value, change against last month (coloured by direction), sparkline.

    A KPI whose input the data lacks shows ``missing(need)`` ("No survey data": the report's
    ``missing_input``); one whose stage did not run this month says it was not computed.
    """
    changes = {c.key: c for c in ov.changes}
    cards = []
    for key in KPI_KEYS:
        value = ov.current.get(key)
        label = term(KPI_TERMS[key], fmt.lang)
        if value is None and key in ov.unavailable:
            cards.append(Kpi(label, missing(ov.unavailable[key])))
            continue
        if value is None:
            cards.append(Kpi(label, MISSING, note=t("overview.kpi.not_available", fmt.lang)))
            continue
        change = changes[key].change if key in changes else None
        if ov.previous is None:
            delta, good = t("overview.kpi.no_previous", fmt.lang), None
        elif change is None:
            delta, good = "", None
        else:
            if key == "repeat_rate":
                text = fmt.pp(change)
            elif key == "nps":
                text = t("overview.kpi.points", fmt.lang, value=f"{change:+.1f}")
            else:
                text = fmt.change(change)
            delta = t("overview.kpi.vs_last_month", fmt.lang, change=text)
            good = None if change == 0 else (change > 0) == HIGHER_IS_BETTER[key]
        spark = ov.history[key] if key in ov.history else ov.series[key].tolist()
        cards.append(
            Kpi(label, fmt.apply(value, VALUE_FORMATS[key]), delta, good, spark, t("overview.kpi.trend_note", fmt.lang))
        )
    return cards


def glance_cards(ov: Overview, fmt: Formatter) -> list[Kpi]:
    """The lifecycle at a glance as four cards: acquisition, conversion, retention, value growth."""
    g = ov.glance
    value_change = (
        g.revenue_per_active / g.revenue_per_active_prev - 1
        if g.revenue_per_active_prev and not pd.isna(g.revenue_per_active_prev)
        else None
    )
    lang = fmt.lang
    return [
        Kpi(t("overview.stage.acquisition", lang), fmt.int(g.signups), note=t("overview.glance.signups", lang)),
        Kpi(
            t("overview.stage.conversion", lang),
            fmt.pct(g.conversion_rate),
            t("overview.glance.new_buyers", lang, n=fmt.int(g.new_buyers)),
            note=t("overview.glance.conversion", lang, days=g.recent_days),
        ),
        Kpi(t("overview.stage.retention", lang), fmt.pct(g.retention_rate), note=t("overview.glance.retention", lang)),
        Kpi(
            t("overview.stage.value", lang),
            fmt.money(g.revenue_per_active),
            t("overview.kpi.vs_last_month", lang, change=fmt.change(value_change)) if value_change is not None else "",
            None if value_change is None else value_change > 0,
            note=t("overview.glance.value", lang),
        ),
    ]


def anonymous_note(ov: Overview, fmt: Formatter) -> str | None:
    """The sentence saying how much of the month's revenue came from anonymous store
    receipts, which no customer count includes (None when there were none)."""
    row = ov.series.set_index("month").loc[ov.month]
    if not row["anonymous_orders"]:
        return None
    share = row["anonymous_revenue"] / row["revenue"] if row["revenue"] else 0.0
    return t(
        "overview.anonymous_note", fmt.lang, orders=fmt.int(row["anonymous_orders"]),
        revenue=fmt.money(row["anonymous_revenue"], compact=True), share=fmt.pct(share),
    )


def people_note(ov: Overview, fmt: Formatter) -> str | None:
    """The sentence saying that customer counts count customer ids, with the identity
    model's estimate of the real people behind them when the linkage ran (None when the
    warehouse predates the linkage report)."""
    people = ov.people
    if people is None:
        return None
    if people.skipped:
        return t("overview.people_note.not_estimated", fmt.lang, ids=fmt.int(people.customer_ids))
    return t("overview.people_note", fmt.lang, ids=fmt.int(people.customer_ids), people=fmt.int(round(people.people)))


def trend_meaning(currency: str, lang: str) -> str:
    """The trend chart's "what this means": the seasonal remark on 11.11 and 618 only for a
    project in Chinese yuan (``project.currency``), where those shopping festivals apply."""
    text = t("overview.section.trend.meaning", lang)
    return f"{text} {t('overview.trend.festivals', lang)}" if currency.upper() in FESTIVAL_CURRENCIES else text


def glossary(config: KitConfig, lang: str) -> pd.DataFrame:
    """Term and definition of every figure on the page, from the business vocabulary."""
    return vocabulary_glossary(["customer", "anonymous", *(KPI_TERMS[k] for k in KPI_KEYS)], Vocabulary.from_config(config), lang)


def movement_highlight(ov: Overview, fmt: Formatter) -> list[Highlight]:
    """The largest RFM segment movement since last month, by 12-month value (none without last month)."""
    if ov.segment_moves is None:
        return []
    sentences = narratives(ov.segment_moves, lambda name: segment_label(name, fmt.lang), fmt, n=1)
    return [Highlight(s, "03_segmentation.html") for s in sentences]


def value_at_risk_highlight(ov: Overview, fmt: Formatter) -> list[Highlight]:
    """Which persona holds the largest share of the month's value at risk."""
    by_persona = ov.value_at_risk_by_persona
    if by_persona.empty:
        return []
    total = float(by_persona.sum())
    names = persona_names(ov.persona_cards, fmt.lang)
    name = str(by_persona.index[0])
    text = t(
        "overview.hl.var_persona",
        fmt.lang,
        total=fmt.money(total, compact=True),
        persona=names.get(name, name),
        share=fmt.pct(by_persona.iloc[0] / total),
    )
    return [Highlight(text, "05_churn.html")]


def metric_highlights(metrics: dict[str, dict], fmt: Formatter) -> list[Highlight]:
    """Highlights from the headline figures the other notebooks saved this month."""
    lang = fmt.lang
    out: list[Highlight] = []
    churn = metrics.get("05_churn", {})
    if all(churn.get(key) is not None for key in CHURN_HIGHLIGHT):
        # subscriptions (churn.mode contractual): the churn page's MRR at risk, a monthly figure
        contractual = churn.get("mode") == "contractual" and churn.get("mrr_at_risk") is not None
        text = t(
            "overview.hl.churn.contractual" if contractual else "overview.hl.churn",
            lang,
            churners=fmt.int(churn["expected_churners"]),
            rate=fmt.pct(churn["predicted_churn_rate"]),
            driver=feature_label(churn["top_driver"], lang),
            mrr=fmt.money(churn.get("mrr_at_risk") or 0.0, compact=True),
        )
        # the churn page's fallback (kit.churn.model.choose_scorer) said here too
        fallback = " " + t("churn.overview_fallback", lang) if churn.get("scorer") == "baseline" else ""
        out.append(Highlight(text + fallback, "05_churn.html"))
    clv = metrics.get("04_clv", {})
    if all(clv.get(key) is not None for key in CLV_HIGHLIGHT):
        out.append(
            Highlight(
                t(
                    "overview.hl.clv",
                    lang,
                    share=fmt.pct(clv["top10_share"]),
                    average=fmt.money(clv["average_clv"]),
                    months=clv["horizon_months"],
                ),
                "04_clv.html",
            )
        )
    experiments = metrics.get("06_experiment_readout", {})
    for key, verdict in experiments.items():
        if not key.endswith(".decision"):
            continue
        exp_id = key.removesuffix(".decision")
        lift = experiments.get(f"{exp_id}.primary_lift")
        out.append(
            Highlight(
                t(
                    "overview.hl.experiment",
                    lang,
                    experiment=exp_id,
                    decision=t(f"overview.decision.{verdict}", lang),
                    lift=fmt.change(lift),
                ),
                "06_experiment_readout.html",
            )
        )
    return out


def highlights(ov: Overview, fmt: Formatter) -> list[Highlight]:
    """Five to eight highlights of the month, each pointing at the report that details it;
    one line saying so when the other reports gave none (never an empty list on the page)."""
    items = (movement_highlight(ov, fmt) + value_at_risk_highlight(ov, fmt) + metric_highlights(ov.metrics, fmt))[:8]
    return items or [Highlight(t("overview.hl.none", fmt.lang))]


def findings(ov: Overview, fmt: Formatter) -> list[str]:
    """Three to six plain sentences on the month's KPIs for the top of the page. The story
    fits the data: a month without a new customer says acquisition stopped (not "0 new
    customers"), and a base where most buyers bought once says so."""
    lang = fmt.lang
    cur = ov.current
    changes = {c.key: c.change for c in ov.changes}

    def vs(key: str) -> str:
        change = changes.get(key)
        if ov.previous is None or change is None:
            return t("overview.kpi.no_previous", lang)
        return t("overview.kpi.vs_last_month", lang, change=fmt.change(change))

    acquisition_stopped = not cur["new_this_month"]
    customers = "overview.finding.customers_no_new" if acquisition_stopped else "overview.finding.customers"
    items = [
        t("overview.finding.revenue", lang, revenue=fmt.money(cur["revenue"], compact=True), change=vs("revenue"),
          aov=fmt.money(cur["aov"])),
        t(customers, lang, active=fmt.int(cur["active_customers"]), change=vs("active_customers"),
          new=fmt.int(cur["new_this_month"]), churned=fmt.int(cur["churned_this_month"])),
    ]
    if acquisition_stopped:
        items.append(t("overview.finding.no_new", lang, month=fmt.month(ov.month)))
    if ov.one_time_share > ONE_TIME_MAJORITY:
        items.append(t("overview.finding.one_time", lang, share=fmt.pct(ov.one_time_share)))
    items.append(t("overview.finding.repeat", lang, rate=fmt.pct(cur["repeat_rate"]),
                   retention=fmt.pct(ov.glance.retention_rate)))
    if cur.get("value_at_risk") is not None and cur.get("avg_clv") is not None:
        items.append(t("overview.finding.value", lang, clv=fmt.money(cur["avg_clv"]),
                       var=fmt.money(cur["value_at_risk"], compact=True)))
    return items


def plot_trend(ax: plt.Axes, series: pd.DataFrame, fmt: Formatter, currency: str) -> None:
    """Revenue per month as bars with active customers as a line on a second axis; both
    axes start at 0 (a second axis cut above 0 makes a small change look like a collapse)."""
    labels = [m[2:] for m in series["month"]]
    ax.bar(labels, series["revenue"], color="#0072B2", alpha=0.85, label=term("revenue", fmt.lang))
    ax.set_ylabel(t("overview.axis.revenue", fmt.lang, currency=currency))
    ax.yaxis.set_major_formatter(lambda v, _: fmt.money(v, compact=True))
    line = ax.twinx()
    line.plot(labels, series["active_customers"], color="#E69F00", marker="o", label=term("active", fmt.lang))
    line.set_ylabel(t("overview.axis.active", fmt.lang))
    line.yaxis.set_major_formatter(lambda v, _: fmt.int(v))
    line.set_ylim(bottom=0)
    line.grid(False)
    ax.set_xlabel(t("overview.axis.month", fmt.lang))
    ax.tick_params(axis="x", rotation=45)
    handles = ax.get_legend_handles_labels()[0] + line.get_legend_handles_labels()[0]
    ax.legend(handles, [h.get_label() for h in handles], loc="upper left")
