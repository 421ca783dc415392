"""The overview on a company's own data: an orders-only warehouse (no surveys, no other
stage run), other stages that saved fewer figures, and findings that tell the month's story
(no new customers, most customers bought once, festivals only for CNY)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from kit.core.config import load_config
from kit.core.warehouse import Warehouse
from kit.overview import page
from kit.overview.pipeline import Overview, build_overview, value_at_risk_by_persona
from kit.text.fmt import Formatter
from kit.text.i18n import t

MONTH = "2026-10"
EN = Formatter("en", "USD")


def _orders_only(root: Path, last_first_order: str, repeat_share: float, seed: int = 1) -> tuple[Warehouse, Overview]:
    """An orders + customers warehouse (no surveys, identities or snapshots) where nobody
    first bought after ``last_first_order`` and ``repeat_share`` of buyers bought again."""
    rng = np.random.default_rng(seed)
    n = 300
    first = pd.Timestamp("2025-06-01") + pd.to_timedelta(
        rng.integers(0, (pd.Timestamp(last_first_order) - pd.Timestamp("2025-06-01")).days, n), unit="D")
    ids = [f"C{i:03d}" for i in range(n)]
    repeat = rng.random(n) < repeat_share
    later = first + pd.to_timedelta(rng.integers(1, 120, n), unit="D")
    orders = pd.DataFrame({
        "order_id": [f"O{i}" for i in range(n + int(repeat.sum()))],
        "customer_id": ids + [c for c, r in zip(ids, repeat) if r],
        "order_ts": list(first) + list(later[repeat]),
        "amount": rng.gamma(2.0, 30.0, n + int(repeat.sum())).round(2),
        "is_refund": False,
    })
    wh_dir = root / "wh"
    wh_dir.mkdir(parents=True)
    orders.to_parquet(wh_dir / "orders.parquet", index=False)
    pd.DataFrame({"customer_id": ids, "first_seen": first}).to_parquet(wh_dir / "customers.parquet", index=False)
    (root / "kit.yml").write_text("paths:\n  warehouse: wh\n  reports: reports\nproject:\n  currency: USD\n", encoding="utf-8")
    wh = Warehouse(wh_dir)
    return wh, build_overview(wh, MONTH, load_config(root / "kit.yml"))


def test_an_orders_only_warehouse_says_what_is_missing(tmp_path: Path) -> None:
    """No surveys: NPS reads "No survey data" (it failed: surveys.parquet not found)."""
    wh, ov = _orders_only(tmp_path, "2026-10-20", 0.5)
    assert ov.current["nps"] is None and ov.unavailable == {"nps": "surveys"}
    cards = {card.label: card for card in page.kpi_cards(ov, EN, lambda need: t(f"input.{need}", "en"))}
    nps = cards[page.term("nps", "en")]
    assert nps.value == "No survey data" and nps.note == ""
    clv = cards[page.term("clv", "en")]
    assert clv.note == t("overview.kpi.not_available", "en")  # 04_clv did not run: not an absent input
    texts = " ".join(page.findings(ov, EN) + [h.text for h in page.highlights(ov, EN)])
    assert "nan" not in texts.lower() and "None" not in texts
    # no other stage ran: one line instead of an empty list
    assert [h.text for h in page.highlights(ov, EN)] == [t("overview.hl.none", "en")]


def test_no_new_customers_says_acquisition_stopped(tmp_path: Path) -> None:
    _, ov = _orders_only(tmp_path, "2026-08-15", 0.6)
    assert ov.current["new_this_month"] == 0
    findings = page.findings(ov, EN)
    assert any("acquisition has stopped" in f for f in findings)
    assert not any("0 bought for the first time" in f for f in findings)


def test_most_customers_bought_once_is_a_finding(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    _, once = _orders_only(tmp_path / "a", "2026-10-20", 0.2)
    assert once.one_time_share == pytest.approx(0.8, abs=0.06)
    assert any("Most customers have bought only once" in f for f in page.findings(once, EN))
    _, loyal = _orders_only(tmp_path / "b", "2026-10-20", 0.8)
    assert not any("bought only once" in f for f in page.findings(loyal, EN))


def test_festival_remark_only_for_yuan() -> None:
    assert "11.11" in page.trend_meaning("CNY", "en") and "618" in page.trend_meaning("CNY", "zh")
    for currency in ("USD", "EUR"):
        assert "11.11" not in page.trend_meaning(currency, "en") and "618" not in page.trend_meaning(currency, "zh")


def test_other_stages_saving_fewer_figures_give_fewer_highlights() -> None:
    """A churn stage without expected churners, a CLV stage without its top share and an
    experiment without a lift: no KeyError, no "nan"."""
    metrics = {
        "05_churn": {"top_driver": "recency_days"},
        "04_clv": {"average_clv": 120.0},
        "06_experiment_readout": {"experiments": 1, "coupon.decision": "keep_running"},
    }
    highlights = page.metric_highlights(metrics, EN)
    assert [h.page for h in highlights] == ["06_experiment_readout.html"]
    assert "nan" not in highlights[0].text.lower()
    churn = pd.DataFrame({"customer_id": ["a"], "p_churn": [0.4]})  # no persona, no value at risk
    assert value_at_risk_by_persona(churn).empty


def test_the_churn_highlight_speaks_of_subscribers_and_mrr_when_churn_is_contractual() -> None:
    """Contractual churn (kit.churn.contract): the overview names active subscribers and the
    churn page's MRR at risk, the same number; non-contractual churn keeps its words."""
    churn = {"top_driver": "recency_days", "expected_churners": 87.5, "predicted_churn_rate": 0.062, "scorer": "model"}
    shop = page.metric_highlights({"05_churn": churn}, EN)[0].text
    assert "customers" in shop and "MRR" not in shop and "monthly recurring revenue" not in shop
    subs = {**churn, "mode": "contractual", "mrr_at_risk": 2273.71}
    for lang in ("en", "zh"):
        text = page.metric_highlights({"05_churn": subs}, Formatter(lang, "USD"))[0].text
        assert Formatter(lang, "USD").money(2273.71, compact=True) in text and "88" in text
    assert "active subscribers" in page.metric_highlights({"05_churn": subs}, EN)[0].text
