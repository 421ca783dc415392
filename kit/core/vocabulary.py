"""The business vocabulary: every word the reports, ``metrics.json`` and the exports use for
customers, defined once from the config (``segmentation`` and ``churn`` sections).

Every page takes its numbers from these definitions, so one label means one number:

customer            a customer id: records ingest joined by a phone, member id, account or
                    e-mail, or that its linkage model judged one person from names and other
                    details (kit.ingest.linkage). A person whose records share none of these
                    is several ids; the overview's note gives the model's upper bound on the
                    real people behind the ids. Anonymous store receipts (``Warehouse.anonymous_receipts``)
                    count in revenue and orders, never as customers: they are in no customer
                    count, segment, persona, CLV average or churn figure (each would be a
                    one-order "new customer" who then "churns").
buyer               a customer with a paid, not refunded order before the month end.
new                 a buyer whose first order is at most ``new_days`` before the month end.
active              a buyer whose last order is at most ``active_days`` before the month end
                    (new customers are active: the config requires new_days <= active_days).
silent              last order more than ``active_days`` and at most ``silent_days`` ago.
churned             last order more than ``silent_days`` ago.
prospect            a customer who never ordered.
lifecycle stage     exactly one of prospect / new / active / silent / churned, in that order.
new this month      first order inside the run month (a flow; the overview's trend).
churned this month  last order crossed ``silent_days`` during the run month (a flow).
repeat rate         share of the month's buying customers who had bought before the month.
high value          value tier "high": the biggest spenders of the last 365 days who together
                    make ``value_tier_shares[0]`` of customers' 365-day spend; "medium" up to
                    ``value_tier_shares[1]``; everyone else "low".
value at risk       sum over the scored customers of p(churn) x 12-month CLV.

With ``churn.mode: contractual`` (subscriptions, kit.churn.contract) the churn page speaks of
active subscriber  a customer holding a subscription at the month end (started before it
                    and not ended: a subscription ends on its paid-through date once
                    ``churn.grace_days`` pass without a renewal, or once cancelled).
lapsed subscriber   an active subscriber at a month end holding none ``churn.window_days`` later.
MRR at risk         sum over the active subscribers of p(lapse) x their monthly recurring revenue.
and value at risk is p(lapse) x MRR x the months subscribers of the same tenure still pay
over the CLV horizon (``vocab.value_at_risk.means.contractual``, chosen by ``definition``
of kit.text.glossary). The lifecycle stages stay order-based in both modes.

"At most N days before the month end" means an order at or after ``month end - N days``,
which is the profile's ``recency_days <= N`` (kit.profile.features measures days from the
end of the month's last day). Pure functions of codes and numbers; the words themselves
live in kit/text/strings/vocabulary.yml (``vocab.<term>``), used by every page's glossary.
"""

from __future__ import annotations

from dataclasses import dataclass

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from kit.core.config import KitConfig, SegmentationConfig

STAGES = ("new", "active", "silent", "churned", "prospect")  # display order
TIERS = ("high", "medium", "low")
VALUE_COLUMN = "monetary_365d"  # the spend that ranks customers into value tiers
# Terms in glossary order, each a key vocab.<term> / vocab.<term>.means in the catalogue
TERMS = (
    "customer", "anonymous", "buyer", "new", "active", "silent", "churned", "prospect", "new_this_month",
    "churned_this_month", "revenue", "repeat_rate", "aov", "high_value", "clv", "value_at_risk", "nps",
    "active_subscriber", "lapsed_subscriber", "mrr_at_risk",
)


@dataclass(frozen=True)
class Vocabulary:
    """The thresholds behind every business word, read from one config."""

    new_days: int
    active_days: int
    silent_days: int
    value_tier_shares: tuple[float, float]
    churn_window_days: int
    clv_horizon_months: int
    churn_mode: str = "non_contractual"  # churn.mode: "contractual" words value at risk for subscriptions
    churn_grace_days: int = 7

    @classmethod
    def from_config(cls, config: KitConfig) -> "Vocabulary":
        """The vocabulary of ``config`` (kit.core.config checks new <= active <= silent days)."""
        seg = config.segmentation
        return cls(
            new_days=seg.new_days,
            active_days=seg.active_days,
            silent_days=seg.silent_days,
            value_tier_shares=(float(seg.value_tier_shares[0]), float(seg.value_tier_shares[1])),
            churn_window_days=config.churn.window_days,
            clv_horizon_months=config.clv.horizon_months,
            churn_mode=config.churn.mode,
            churn_grace_days=config.churn.grace_days,
        )

    def values(self) -> dict[str, int | float]:
        """The thresholds as placeholders for the glossary texts (``vocab.*.means``)."""
        return {
            "new_days": self.new_days,
            "active_days": self.active_days,
            "silent_days": self.silent_days,
            "high_share": self.value_tier_shares[0],
            "medium_share": self.value_tier_shares[1],
            "window_days": self.churn_window_days,
            "horizon_months": self.clv_horizon_months,
            "grace_days": self.churn_grace_days,
        }


def lifecycle_stage(profile: pd.DataFrame, vocab: "Vocabulary | SegmentationConfig") -> pd.Series:
    """prospect / new / active / silent / churned per customer (module docstring).

    Reads ``recency_days`` and ``days_since_first_order`` of the profile (missing for a
    customer who never ordered). Thresholds are inclusive; ``vocab`` is a Vocabulary or
    the config's segmentation section (both carry new_days, active_days, silent_days).
    """
    missing = [c for c in ("recency_days", "days_since_first_order") if c not in profile.columns]
    if missing:
        raise ValueError(f"lifecycle_stage needs the profile columns {missing} (kit.profile.features); rebuild profile.parquet (02_tags).")
    recency = profile["recency_days"].to_numpy(dtype=float, na_value=np.nan)
    first_age = profile["days_since_first_order"].to_numpy(dtype=float, na_value=np.nan)
    stage = np.select(
        [np.isnan(recency), first_age <= vocab.new_days, recency <= vocab.active_days, recency <= vocab.silent_days],
        ["prospect", "new", "active", "silent"],
        default="churned",
    )
    return pd.Series(stage, index=profile.index, dtype="str", name="lifecycle_stage")


def lifecycle_stage_expr(recency_days: ir.NumericValue, first_order_age_days: ir.NumericValue,
                         vocab: "Vocabulary | SegmentationConfig") -> ir.StringValue:
    """``lifecycle_stage`` as an Ibis expression, for stages as of a per-row date (an
    experiment's assignment day) that no profile holds. Same rule, same order; a missing
    recency means never ordered. tests/unit/test_vocabulary.py checks both agree."""
    return ibis.cases(
        (recency_days.isnull(), "prospect"),
        (first_order_age_days <= vocab.new_days, "new"),
        (recency_days <= vocab.active_days, "active"),
        (recency_days <= vocab.silent_days, "silent"),
        else_="churned",
    )


def is_active(stage: pd.Series) -> pd.Series:
    """Active customers: the new and active lifecycle stages."""
    return stage.isin(["new", "active"])


def value_tiers(value: pd.Series, shares: tuple[float, float] | list[float]) -> pd.Series:
    """high / medium / low by cumulative share of spend, biggest spenders first.

    A customer is "high" when the customers spending strictly more than them make less
    than ``shares[0]`` of the total (so the customer crossing the threshold is included),
    "medium" below ``shares[1]``, else "low". Equal spenders always share a tier; zero and
    missing spend is "low".
    """
    if len(shares) != 2 or not 0 < shares[0] < shares[1] <= 1:
        raise ValueError(f"segmentation.value_tier_shares must be two increasing fractions in (0, 1], got {shares}")
    amounts = np.clip(np.nan_to_num(value.to_numpy(dtype=float, na_value=np.nan), nan=0.0), 0, None)
    total = amounts.sum()
    if total <= 0:
        return pd.Series("low", index=value.index, dtype="str", name="value_tier")
    ordered = np.sort(amounts)
    cumulative = np.concatenate([[0.0], np.cumsum(ordered)])
    at_most = cumulative[np.searchsorted(ordered, amounts, side="right")]
    share_above = (total - at_most) / total
    tiers = np.where(amounts <= 0, "low", np.where(share_above < shares[0], "high",
                     np.where(share_above < shares[1], "medium", "low")))
    return pd.Series(tiers, index=value.index, dtype="str", name="value_tier")


def classify(profile: pd.DataFrame, vocab: Vocabulary) -> pd.DataFrame:
    """``lifecycle_stage``, ``value_tier`` and ``is_active`` of each customer of a profile."""
    stage = lifecycle_stage(profile, vocab)
    return pd.DataFrame({
        "lifecycle_stage": stage,
        "value_tier": value_tiers(profile[VALUE_COLUMN], vocab.value_tier_shares),
        "is_active": is_active(stage),
    }, index=profile.index)


def customer_counts(profile: pd.DataFrame, vocab: Vocabulary) -> dict[str, int | float]:
    """The month-end customer figures every page shares, from the profile (one row per
    customer: kit.profile.features leaves anonymous store receipts out).

    ``customers``, ``buyers``, one count per lifecycle stage (``new_customers`` ...
    ``prospects``), ``active_customers`` (new + active), ``high_value_customers`` and
    ``high_value_revenue_share`` (their share of customers' 365-day spend).
    """
    kinds = classify(profile, vocab)
    stage = kinds["lifecycle_stage"].value_counts()
    spend = profile[VALUE_COLUMN].to_numpy(dtype=float, na_value=np.nan)
    spend = np.clip(np.nan_to_num(spend, nan=0.0), 0, None)
    high = (kinds["value_tier"] == "high").to_numpy()
    total = float(spend.sum())
    return {
        "customers": int(len(profile)),
        "buyers": int(profile["has_ordered"].sum()),
        "active_customers": int(kinds["is_active"].sum()),
        "new_customers": int(stage.get("new", 0)),
        "silent_customers": int(stage.get("silent", 0)),
        "churned_customers": int(stage.get("churned", 0)),
        "prospects": int(stage.get("prospect", 0)),
        "high_value_customers": int(high.sum()),
        "high_value_revenue_share": float(spend[high].sum() / total) if total > 0 else float("nan"),
    }


def value_at_risk(p_churn: pd.Series | np.ndarray, clv: pd.Series | np.ndarray) -> float:
    """Sum of p(churn) x CLV: the lifetime value expected to leave with the customers who churn."""
    p = np.asarray(p_churn, dtype=float)
    value = np.asarray(clv, dtype=float)
    return float(np.nansum(p * value))


def repeat_rate(buyers: int, returning: int) -> float:
    """Share of the month's buying customers who had bought before the month (NaN without buyers)."""
    return returning / buyers if buyers else float("nan")
