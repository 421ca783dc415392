"""Contractual churn (``churn.mode: contractual``, kit.churn.contract): who is active, who
lapses, tenure and value, by hand on small tables, then against the subscription world's
truth (kit.bench.churn_truth) with the issue's thresholds."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from worlds import write_config

from kit.bench import churn_truth
from kit.churn import page
from kit.churn.contract import SubscriptionChurn, expected_months, periods
from kit.churn.dataset import ChurnDataError, plan_snapshots
from kit.churn.retention import kaplan_meier
from kit.core.config import ConfigError, load_config
from kit.core.vocabulary import Vocabulary
from kit.text.fmt import Formatter
from kit.text.glossary import glossary

END = pd.Timestamp("2026-11-01")  # the end of 2026-10, the data end


def churn(rows: list[tuple], grace: int = 7, window: int = 30, data_end: pd.Timestamp = END) -> SubscriptionChurn:
    """A SubscriptionChurn over (customer, started_at, paid_through, cancelled_at, mrr) rows."""
    frame = pd.DataFrame(rows, columns=["customer_id", "started_at", "paid_through", "cancelled_at", "mrr"])
    frame = frame.assign(plan="basic", started_at=pd.to_datetime(frame["started_at"]),
                         paid_through=pd.to_datetime(frame["paid_through"]), cancelled_at=pd.to_datetime(frame["cancelled_at"]))
    return SubscriptionChurn(periods(frame, data_end, grace), data_end, grace, window)


def test_ends_are_known_after_the_grace_period_or_a_cancellation() -> None:
    c = churn([
        ("lapsed", "2026-01-10", "2026-09-10", None, 10.0),  # paid through 10 Sep, no renewal since: ended
        ("grace", "2026-01-28", "2026-10-28", None, 10.0),  # due 28 Oct, 4 days ago: may still renew late
        ("cancelled", "2026-02-15", "2026-11-15", "2026-10-20", 10.0),  # cancelled, paid to 15 Nov: ends then
        ("paying", "2026-03-05", "2026-11-05", None, 10.0),
        ("late_cancel", "2026-03-05", "2026-11-05", "2026-11-02", 10.0),  # cancelled after the data end: not known
    ])
    ends = c.periods.set_index("customer_id")["ends_at"]
    assert ends["lapsed"] == pd.Timestamp("2026-09-10") and ends["cancelled"] == pd.Timestamp("2026-11-15")
    assert ends[["grace", "paying", "late_cancel"]].isna().all()
    # the population at the data end: everyone who has not ended, the grace period included
    assert set(c.active_at(END)) == {"grace", "cancelled", "paying", "late_cancel"}
    assert set(c.active_at(pd.Timestamp("2026-09-01"))) == {"lapsed", "grace", "cancelled", "paying", "late_cancel"}
    assert "lapsed" not in set(c.active_at(pd.Timestamp("2026-09-10")))  # gone on its paid-through day


def test_a_renewal_paid_late_within_grace_is_not_churn() -> None:
    """A subscription renewing on the 31st and paid on the 3rd keeps its calendar paid-through
    date (the period starts on the due day): the label window sees no lapse."""
    c = churn([
        ("late_payer", "2026-01-31", "2026-11-30", None, 10.0),  # renewed 31 Aug, 30 Sep (paid 3 Oct), 31 Oct
        ("leaver", "2026-01-31", "2026-08-31", None, 10.0),  # did not renew on 31 Aug
    ])
    assert set(c.active_at(pd.Timestamp("2026-08-01"))) == {"late_payer", "leaver"}
    assert set(c.retained("2026-07")) == {"late_payer"}  # window 1 Aug + 30 days = 31 Aug: the leaver is gone
    assert set(c.retained("2026-08")) == {"late_payer"}


def test_labels_wait_for_the_window_and_the_grace_period() -> None:
    c = churn([("a", "2026-01-01", "2026-12-01", None, 10.0)])
    assert list(c.retained("2026-08")) == ["a"]  # window ends 1 Oct, known from 8 Oct
    with pytest.raises(ChurnDataError, match="grace days"):
        c.retained("2026-09")  # window ends 31 Oct, known only from 7 Nov, after the data end
    plan = plan_snapshots("2026-10", 30, 3, lag_days=7)
    assert plan.validation == "2026-08"  # September's window ends 31 Oct, known only 7 Nov
    assert plan_snapshots("2026-10", 30, 3).validation == "2026-09"


def test_several_subscriptions_one_customer() -> None:
    c = churn([
        ("a", "2025-06-01", "2025-12-01", None, 10.0),  # first subscription ended
        ("a", "2026-03-01", "2026-12-01", None, 30.0),  # came back in March on a bigger plan
        ("b", "2026-01-01", "2026-04-01", None, 5.0),
        ("b", "2026-02-01", "2026-12-01", None, 7.0),  # two at once
    ])
    assert set(c.active_at(pd.Timestamp("2026-01-15"))) == {"b"}
    np.testing.assert_allclose(c.mrr_at(pd.Series(["a", "b", "x"]), pd.Timestamp("2026-03-15")), [30.0, 12.0, 0.0])
    tenure = c.tenure().set_index("customer_id")
    assert not tenure.loc["a", "lapsed"] and tenure.loc["a", "duration_days"] == (END - pd.Timestamp("2025-06-01")).days


def test_tenure_ends_at_paid_through_and_censors_open_subscriptions() -> None:
    c = churn([
        ("lost", "2026-01-05 14:30", "2026-04-05", None, 10.0),
        ("grace", "2026-05-29 09:00", "2026-10-29", None, 10.0),
        ("paying", "2026-06-10 10:00", "2026-11-10", None, 10.0),
        ("cancelled", "2026-07-01 08:00", "2026-11-01", "2026-10-15", 10.0),
    ])
    t = c.tenure().set_index("customer_id")
    assert t.loc["lost", "duration_days"] == 90 and t.loc["lost", "lapsed"]  # 5 Jan to 5 Apr, from the start's day
    assert t.loc["grace", "duration_days"] == (pd.Timestamp("2026-10-29") - pd.Timestamp("2026-05-29")).days
    assert not t.loc["grace", "lapsed"] and not t.loc["paying", "lapsed"]
    assert t.loc["paying", "duration_days"] == (END - pd.Timestamp("2026-06-10")).days
    assert t.loc["cancelled", "lapsed"]  # cancelled, paid through the data end: ended on it


def test_expected_months_is_the_restricted_mean_residual_life() -> None:
    grid = np.arange(0, 400, dtype=float)
    flat = np.ones_like(grid)
    horizon = int(round(12 * 365.25 / 12))  # 365 days
    # nobody leaves: every day of the horizon is paid, whatever the tenure (beyond the grid too)
    np.testing.assert_allclose(expected_months(np.array([0.0, 100.0, 900.0]), grid, flat, 12), horizon / (365.25 / 12))
    # a constant daily hazard h: E[min(T, H)] = (1 - (1-h)^H) / h days, whatever the tenure (memoryless)
    h = 0.01
    survival = (1 - h) ** grid
    want = (1 - (1 - h) ** horizon) / h / (365.25 / 12)
    got = expected_months(np.array([0.0, 20.0]), grid, survival, 12)
    np.testing.assert_allclose(got, want, rtol=1e-9)
    assert expected_months(np.array([5.0]), grid, np.where(grid < 5, 1.0, 0.0), 12)[0] == 0.0


def test_contractual_mode_needs_a_subscriptions_source(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="churn.mode = contractual needs a source of kind subscriptions"):
        load_config(write_config(tmp_path, {"churn": {"mode": "contractual"}}))


@pytest.fixture(scope="module")
def subscription_world(tmp_path_factory: pytest.TempPathFactory):
    return churn_truth.build(tmp_path_factory.mktemp("subscriptions") / "world", accounts=5000, seed=42)


def test_contractual_churn_against_the_generator_truth(subscription_world) -> None:
    """The issue's acceptance figures on a 5,000-account subscription world (seed 42):
    labels, AUC against baseline and oracle, driver signs, top reasons, Kaplan-Meier."""
    got = churn_truth.evaluate(subscription_world)
    assert got.label_agreement >= 0.99 and got.population_agreement >= 0.99
    assert got.auc >= got.auc_baseline and got.auc >= got.auc_oracle - 0.03
    assert got.driver_signs and all(sign["agrees"] for sign in got.driver_signs.values()), got.driver_signs
    assert got.top_reasons_true >= 30, got.top_reasons
    for day, pair in got.km.items():
        assert abs(pair["kit"] - pair["truth"]) <= 0.005, (day, pair)


def test_contractual_page_speaks_of_subscribers_and_mrr(subscription_world) -> None:
    from kit.churn import run_churn
    from kit.core.warehouse import Warehouse

    result = run_churn(Warehouse.from_config(subscription_world), subscription_world.run.month, subscription_world)
    h = result.headline()
    assert h["mode"] == "contractual" and h["clv_source"] == "mrr"
    scores = result.scores
    assert h["mrr_at_risk"] == pytest.approx(float((scores["churn_probability"] * scores["mrr"]).sum()))
    assert set(scores["mrr"].round(2)) <= {9.9, 29.0, 79.0}  # one plan each: its price
    np.testing.assert_allclose(scores["clv"], scores["mrr"] * scores["expected_months"])
    assert (scores["expected_months"] > 0).all() and (scores["expected_months"] <= 12 + 1e-9).all()
    # a long-tenure subscriber is expected to stay longer than a new one (survivors are loyal)
    spans = result.spans.set_index("customer_id")
    tenure = spans.loc[scores["customer_id"], "duration_days"].to_numpy()
    assert scores["expected_months"][tenure > 300].mean() > scores["expected_months"][tenure < 45].mean()
    # retention by plan, on tenure (the curve the truth checks)
    assert ("plan", "km_plan") in page.retention_groupings(result)
    curve = kaplan_meier(spans["duration_days"].to_numpy(), spans["lapsed"].to_numpy(), np.array([30.0]))
    assert 0.8 < curve["survival"].iloc[0] < 1
    for lang in ("en", "zh"):
        fmt = Formatter(lang)
        texts = " ".join(page.findings(result, fmt) + [k.label + (k.note or "") for k in page.kpi_cards(result, fmt)])
        texts += " ".join(x for name in page.SECTIONS for x in page.section_text(result, name, fmt))
        texts += " ".join(page.figure_labels(result, name, fmt)["title"] for name in page.FIGURES)
        assert "{" not in texts
        if lang == "en":
            assert "active subscribers" in texts and "MRR at risk" in texts and "place no order" not in texts
            assert "not yet churned" not in texts
    # the definitions table: the subscription words, value at risk as MRR x expected months
    terms = page.definition_terms(result)
    assert terms == ["customer", "active_subscriber", "lapsed_subscriber", "mrr_at_risk", "value_at_risk"]
    vocab = Vocabulary.from_config(subscription_world)
    means = dict(zip(terms, glossary(terms, vocab, "en").iloc[:, 1]))
    assert "7 days" in means["active_subscriber"] and "30 days" in means["lapsed_subscriber"]
    assert "monthly recurring revenue" in means["value_at_risk"] and "no order" not in means["value_at_risk"]
