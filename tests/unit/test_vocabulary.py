"""kit.core.vocabulary: one definition per business word, the same in pandas and in Ibis,
and a glossary entry in both languages for every term."""

from __future__ import annotations

import dataclasses

import ibis
import numpy as np
import pandas as pd
import pytest

from kit.core.config import KitConfig
from kit.core.vocabulary import (
    STAGES,
    TERMS,
    Vocabulary,
    classify,
    customer_counts,
    lifecycle_stage,
    lifecycle_stage_expr,
    value_at_risk,
    value_tiers,
)
from kit.text.glossary import definition, glossary, term

VOCAB = Vocabulary.from_config(KitConfig())


def profile(recency: list[float | None], first_age: list[float | None], spend: list[float] | None = None) -> pd.DataFrame:
    n = len(recency)
    return pd.DataFrame({
        "recency_days": pd.Series(recency, dtype="float64"),
        "days_since_first_order": pd.Series(first_age, dtype="float64"),
        "monetary_365d": spend if spend is not None else [0.0] * n,
        "has_ordered": [r is not None for r in recency],
    })


def test_lifecycle_stages_at_their_inclusive_edges() -> None:
    # defaults: new_days 90, active_days 90, silent_days 180 (days before the month end)
    frame = profile([None, 10, 90, 90.01, 180, 180.01, 400], [None, 90, 300, 300, 300, 300, 500])
    assert list(lifecycle_stage(frame, VOCAB)) == ["prospect", "new", "active", "silent", "silent", "churned", "churned"]
    shorter = dataclasses.replace(VOCAB, new_days=30, active_days=30, silent_days=90)
    assert list(lifecycle_stage(profile([20, 40], [40, 40]), shorter)) == ["active", "silent"]
    assert set(STAGES) == {"new", "active", "silent", "churned", "prospect"}


def test_lifecycle_stage_needs_the_profile_day_counts() -> None:
    with pytest.raises(ValueError, match="recency_days"):
        lifecycle_stage(pd.DataFrame({"x": [1]}), VOCAB)


def test_pandas_and_ibis_stages_agree() -> None:
    """The experiment readout's per-row Ibis stage is the profile's rule, row for row."""
    rng = np.random.default_rng(3)
    first = rng.uniform(0, 700, 500)
    recency = first * rng.uniform(0, 1, 500)
    never = rng.uniform(size=500) < 0.1
    frame = profile([None if n else r for n, r in zip(never, recency)], [None if n else f for n, f in zip(never, first)])
    table = ibis.memtable(frame[["recency_days", "days_since_first_order"]])
    expr = table.mutate(stage=lifecycle_stage_expr(table.recency_days, table.days_since_first_order, VOCAB))
    assert list(expr.to_pandas()["stage"]) == list(lifecycle_stage(frame, VOCAB))


def test_value_tiers_by_cumulative_spend() -> None:
    value = pd.Series([50.0, 30.0, 10.0, 5.0, 5.0, 0.0])
    assert list(value_tiers(value, [0.5, 0.85])) == ["high", "medium", "medium", "low", "low", "low"]
    with pytest.raises(ValueError, match="two increasing fractions"):
        value_tiers(value, [0.9, 0.5])


def test_customer_counts_are_the_classified_rows() -> None:
    frame = profile([None, 10, 50, 120, 400], [None, 10, 200, 300, 500], spend=[0.0, 100.0, 10.0, 5.0, 0.0])
    counts = customer_counts(frame, VOCAB)
    kinds = classify(frame, VOCAB)
    assert counts["customers"] == 5 and counts["buyers"] == 4 and counts["prospects"] == 1
    assert counts["active_customers"] == kinds["is_active"].sum() == 2  # new + active
    assert (counts["new_customers"], counts["silent_customers"], counts["churned_customers"]) == (1, 1, 1)
    assert counts["high_value_customers"] == 1 and counts["high_value_revenue_share"] == pytest.approx(100 / 115)


def test_value_at_risk_is_probability_times_clv() -> None:
    assert value_at_risk([0.5, 0.1, np.nan], [100.0, 50.0, 10.0]) == pytest.approx(55.0)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_every_term_has_a_name_and_a_filled_definition(lang: str) -> None:
    table = glossary(TERMS, VOCAB, lang)
    assert len(table) == len(TERMS) and table.notna().all().all()
    assert all("{" not in text for text in table.iloc[:, 1])
    assert "90" in definition("active", VOCAB, lang) and "180" in definition("churned", VOCAB, lang)
    assert len({term(name, lang) for name in TERMS}) == len(TERMS)  # one term, one name


def test_contractual_churn_words_value_at_risk_for_subscriptions() -> None:
    """The glossary's value at risk follows churn.mode (one word, one definition per run)."""
    subscriptions = dataclasses.replace(VOCAB, churn_mode="contractual", churn_grace_days=5)
    assert "no order" in definition("value_at_risk", VOCAB, "en")
    assert "monthly recurring revenue" in definition("value_at_risk", subscriptions, "en")
    assert "5 days" in definition("active_subscriber", subscriptions, "en")
    assert definition("churned", subscriptions, "zh") == definition("churned", VOCAB, "zh")
