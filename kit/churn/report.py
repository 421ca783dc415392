"""Tables, findings and headline figures of the 05_churn page, built from a ChurnResult.

Every number the notebook shows comes from here or from the modelling modules, so it is
tested; the notebook only lays them out and draws charts.
"""

from __future__ import annotations

import pandas as pd

from kit.churn.actions import ACTIONS
from kit.churn.drivers import describe_dependence, feature_label, reason_phrases
from kit.churn.pipeline import ChurnResult
from kit.report.fmt import Formatter
from kit.report.i18n import t

# Okabe-Ito colours, distinct for colour-blind readers: call stands out, nurture recedes.
ACTION_COLORS = {"call": "#D55E00", "coupon": "#0072B2", "nurture": "#BBBBBB"}
QUALITY_COLUMNS = {
    "n": "int",
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


def headline(result: ChurnResult) -> dict[str, float | int | str]:
    """Headline figures saved with ``rep.save_metrics`` (read by the overview)."""
    quality = result.quality.set_index("model")
    scores = result.scores
    return {
        "customers_scored": int(len(scores)),
        "predicted_churn_rate": float(scores["churn_probability"].mean()),
        "expected_churners": float(scores["churn_probability"].sum()),
        "validation_month": result.plan.validation,
        "validation_churn_rate": float(quality.loc["model", "churn_rate"]),
        "auc": float(quality.loc["model", "roc_auc"]),
        "auc_baseline": float(quality.loc["baseline", "roc_auc"]),
        "pr_auc": float(quality.loc["model", "pr_auc"]),
        "brier": float(quality.loc["model", "brier"]),
        "caught_top20": float(quality.loc["model", "caught_top20"]),
        "value_at_risk_total": float(scores["value_at_risk"].sum()),
        "top_driver": str(result.drivers["feature"].iloc[0]),
        "top_driver_en": feature_label(str(result.drivers["feature"].iloc[0]), "en"),
        "top_driver_zh": feature_label(str(result.drivers["feature"].iloc[0]), "zh"),
        "clv_source": result.clv_source,
        **{f"action_{a}": int((scores["action"] == a).sum()) for a in ACTIONS},
    }


def findings(result: ChurnResult, lang: str, fmt: Formatter, window_days: int) -> list[str]:
    """The three to five key findings at the top of the page."""
    h = headline(result)
    top = result.drivers["feature"].head(3).tolist()
    return [
        t(
            "churn.finding.expected",
            lang,
            churners=fmt.int(h["expected_churners"]),
            customers=fmt.int(h["customers_scored"]),
            rate=fmt.pct(h["predicted_churn_rate"]),
            days=window_days,
        ),
        t(
            "churn.finding.quality",
            lang,
            auc=fmt.num(h["auc"], 2),
            baseline=fmt.num(h["auc_baseline"], 2),
            caught=fmt.pct(h["caught_top20"], 0),
            month=fmt.month(result.plan.validation),
        ),
        t("churn.finding.drivers", lang, drivers=", ".join(feature_label(f, lang) for f in top)),
        t(
            "churn.finding.value",
            lang,
            value=fmt.money(h["value_at_risk_total"], compact=True),
            calls=fmt.int(h["action_call"]),
        ),
    ]


def quality_meaning(result: ChurnResult, lang: str, fmt: Formatter, window_days: int) -> str:
    """The quality section's "what this means", saying when months were checked on a sample."""
    text = t("churn.meaning.quality", lang, month=fmt.month(result.plan.validation), days=window_days)
    if result.sample_customers is not None:
        text += " " + t("churn.meaning.quality_sample", lang, n=fmt.int(result.sample_customers))
    return text


def quality_table(result: ChurnResult, lang: str) -> tuple[pd.DataFrame, dict[str, str]]:
    """Model vs baseline on the out-of-time snapshot, with translated headers."""
    table = result.quality[["model", *QUALITY_COLUMNS]].copy()
    table["model"] = [t(f"churn.model.{m}", lang) for m in table["model"]]
    names = {c: t(f"churn.col.{c}", lang) for c in table.columns}
    formats = {names[c]: kind for c, kind in QUALITY_COLUMNS.items()}
    formats[names["model"]] = "text"
    return table.rename(columns=names), formats


def drivers_table(result: ChurnResult, lang: str, n: int = 10) -> pd.DataFrame:
    """Top ``n`` global drivers with readable names (feature, importance)."""
    top = result.drivers.head(n)
    return pd.DataFrame({"feature": [feature_label(f, lang) for f in top["feature"]], "importance": top["importance"].to_numpy()})


def dependence_table(result: ChurnResult, lang: str, currency: str) -> tuple[pd.DataFrame, dict[str, str]]:
    """One plain-words sentence per top driver (partial dependence)."""
    column = t("churn.col.driver", lang)
    sentences = describe_dependence(result.dependence, lang, currency)
    return pd.DataFrame({column: sentences}), {column: "text"}


def risk_by_group(result: ChurnResult, column: str, lang: str) -> tuple[pd.DataFrame, dict[str, str]]:
    """Customers, average risk, share at risk >= 50%, and value at risk per group."""
    scores = result.scores.assign(group=result.scores[column].fillna(t("churn.unknown", lang)))
    table = (
        scores.groupby("group")
        .agg(
            customers=("customer_id", "size"),
            risk=("churn_probability", "mean"),
            high=("churn_probability", lambda r: float((r >= 0.5).mean())),
            value_at_risk=("value_at_risk", "sum"),
        )
        .sort_values("value_at_risk", ascending=False)
        .reset_index()
    )
    names = {c: t(f"churn.col.{c}", lang) for c in table.columns}
    kinds = {"group": "text", "customers": "int", "risk": "pct", "high": "pct", "value_at_risk": "money"}
    return table.rename(columns=names), {names[c]: k for c, k in kinds.items()}


def contact_list(result: ChurnResult, lang: str, n: int = 20, currency: str = "CNY") -> tuple[pd.DataFrame, dict[str, str]]:
    """The first ``n`` customers to contact (highest value at risk): ids and reasons only,
    the reasons phrased in ``lang`` from their stored codes."""
    top = result.scores.nlargest(n, "value_at_risk")
    phrases = reason_phrases(top, lang, currency)
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
                "value_at_risk": float(part["value_at_risk"].sum()),
            }
        )
    table = pd.DataFrame(rows)
    names = {c: t(f"churn.col.{c}", lang) for c in table.columns}
    kinds = {"action": "text", "customers": "int", "expected_churners": "int", "value_at_risk": "money"}
    return table.rename(columns=names), {names[c]: k for c, k in kinds.items()}
