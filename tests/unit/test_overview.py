"""Overview KPIs against a brute-force pandas computation on random orders (anonymous store
receipts count in revenue and orders, not in customer counts)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from kit.core.config import load_config
from kit.core.dates import shift_month, snapshot_end
from kit.core.warehouse import Warehouse
from kit.overview.pipeline import (
    kpi_changes,
    nps_by_month,
    order_kpis,
    published_metrics,
)


@pytest.fixture()
def world(tmp_path: Path) -> tuple[Warehouse, pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(3)
    n = 4000
    start = pd.Timestamp("2024-06-01")
    orders = pd.DataFrame(
        {
            "order_id": [f"S{i}" for i in range(n)],
            "customer_id": [f"C{int(c):03d}" for c in rng.integers(0, 400, n)],
            "order_ts": start + pd.to_timedelta(rng.integers(0, 900 * 24 * 60, n), unit="min"),
            "amount": rng.gamma(2.0, 60.0, n).round(2),
            "is_refund": rng.random(n) < 0.05,
        }
    )
    surveys = pd.DataFrame(
        {
            "response_id": [f"R{i}" for i in range(600)],
            "customer_id": [f"C{int(c):03d}" for c in rng.integers(0, 400, 600)],
            "survey_ts": start + pd.to_timedelta(rng.integers(0, 900, 600), unit="D"),
            "nps": pd.array(np.where(rng.random(600) < 0.1, None, rng.integers(0, 11, 600)), dtype="Int64"),
        }
    )
    # C350-C399 are anonymous store receipts (one unlinked POS identity row each); C340-C349
    # have a POS receipt too but also a member record, so they are identified customers
    identities = pd.DataFrame(
        [(f"M{i}", f"C{i:03d}", "crm", "member_id", "customers", True) for i in range(350)]
        + [(f"R{i}", f"C{i:03d}", "pos", "singleton", "orders", False) for i in range(340, 400)],
        columns=["source_id", "customer_id", "source", "rule", "kind", "keyed"],
    )
    orders.to_parquet(tmp_path / "orders.parquet")
    surveys.to_parquet(tmp_path / "surveys.parquet")
    identities.to_parquet(tmp_path / "identities.parquet")
    return Warehouse(tmp_path), orders, surveys


ANONYMOUS = {f"C{i:03d}" for i in range(350, 400)}


def brute_force(orders: pd.DataFrame, month: str, silent_days: int) -> dict[str, float]:
    everything = orders[~orders["is_refund"] & (orders["order_ts"] < snapshot_end(month))]
    start, end = snapshot_end(shift_month(month, -1)), snapshot_end(month)
    all_in_month = everything[(everything["order_ts"] >= start) & (everything["order_ts"] < end)]
    paid = everything[~everything["customer_id"].isin(ANONYMOUS)]
    in_month = paid[(paid["order_ts"] >= start) & (paid["order_ts"] < end)]
    anonymous = all_in_month[all_in_month["customer_id"].isin(ANONYMOUS)]
    first = paid.groupby("customer_id")["order_ts"].min()
    last = paid.groupby("customer_id")["order_ts"].max()
    buyers = set(in_month["customer_id"])
    returning = {c for c in buyers if first[c] < start}
    active = paid[paid["order_ts"] >= end - pd.Timedelta(days=90)]["customer_id"].nunique()
    churned = ((last >= start - pd.Timedelta(days=silent_days)) & (last < end - pd.Timedelta(days=silent_days))).sum()
    return {
        "active_customers": active,
        "new_this_month": int(((first >= start) & (first < end)).sum()),
        "churned_this_month": int(churned),
        "revenue": all_in_month["amount"].sum(),
        "repeat_rate": len(returning) / len(buyers),
        "aov": all_in_month["amount"].sum() / len(all_in_month),
        "anonymous_orders": len(anonymous),
        "anonymous_revenue": anonymous["amount"].sum(),
    }


def test_order_kpis_match_brute_force(world: tuple[Warehouse, pd.DataFrame, pd.DataFrame]) -> None:
    wh, orders, _ = world
    config = load_config()
    got = order_kpis(wh, "2026-10", config, months=12).set_index("month")
    assert list(got.index) == [shift_month("2026-10", k) for k in range(-11, 1)]
    for month in ("2026-10", "2026-03", "2025-11"):
        expected = brute_force(orders, month, config.segmentation.silent_days)
        assert expected["anonymous_orders"] > 0
        for key, value in expected.items():
            assert got.loc[month, key] == pytest.approx(value), (month, key)


def test_nps_matches_definition(world: tuple[Warehouse, pd.DataFrame, pd.DataFrame]) -> None:
    wh, _, surveys = world
    got = nps_by_month(wh, "2026-10", months=6).set_index("month")
    month = "2026-08"
    sel = surveys[
        (surveys["survey_ts"] >= snapshot_end("2026-07")) & (surveys["survey_ts"] < snapshot_end(month))
    ]["nps"].dropna()
    expected = 100 * ((sel >= 9).mean() - (sel <= 6).mean())
    assert got.loc[month, "nps"] == pytest.approx(expected)
    assert got.loc[month, "nps_responses"] == len(sel)


def test_kpi_changes_and_missing_previous(tmp_path: Path) -> None:
    current = {"revenue": 110.0, "repeat_rate": 0.30, "churned_this_month": 50, "nps": 20.0}
    changes = {c.key: c for c in kpi_changes(current, {"revenue": 100.0, "repeat_rate": 0.25, "nps": 25.0})}
    assert changes["revenue"].change == pytest.approx(0.10)
    assert changes["repeat_rate"].change == pytest.approx(0.05)
    assert changes["nps"].change == pytest.approx(-5.0)
    assert changes["churned_this_month"].change is None and not changes["churned_this_month"].higher_is_better
    assert all(c.change is None for c in kpi_changes(current, None))
    assert published_metrics(tmp_path, "2026-09") is None


def test_lifecycle_glance_matches_brute_force(world: tuple[Warehouse, pd.DataFrame, pd.DataFrame], tmp_path: Path) -> None:
    from kit.core.vocabulary import Vocabulary
    from kit.overview.pipeline import lifecycle_glance

    wh, orders, _ = world
    rng = np.random.default_rng(5)
    customers = pd.DataFrame(
        {
            "customer_id": [f"C{i:03d}" for i in range(450)],
            "first_seen": pd.Timestamp("2024-06-01") + pd.to_timedelta(rng.integers(0, 880, 450), unit="D"),
        }
    )
    customers.to_parquet(tmp_path / "customers.parquet")
    month = "2026-09"
    kpis = order_kpis(wh, month, load_config(), months=3)
    glance = lifecycle_glance(wh, month, kpis, Vocabulary.from_config(load_config()))
    end, start = snapshot_end(month), snapshot_end("2026-08")
    customers = customers[~customers["customer_id"].isin(ANONYMOUS)]
    assert glance.signups == ((customers["first_seen"] >= start) & (customers["first_seen"] < end)).sum()
    paid = orders[~orders["is_refund"] & (orders["order_ts"] < end) & ~orders["customer_id"].isin(ANONYMOUS)]
    recent = customers[(customers["first_seen"] >= end - pd.Timedelta(days=90)) & (customers["first_seen"] < end)]
    assert glance.conversion_rate == pytest.approx(recent["customer_id"].isin(paid["customer_id"]).mean())

    def active(at: pd.Timestamp) -> set[str]:
        sel = paid[(paid["order_ts"] >= at - pd.Timedelta(days=90)) & (paid["order_ts"] < at)]
        return set(sel["customer_id"])

    assert glance.retention_rate == pytest.approx(len(active(start) & active(end)) / len(active(start)))
    in_month = paid[paid["order_ts"] >= start]
    assert glance.revenue_per_active == pytest.approx(in_month["amount"].sum() / len(active(end)))


def test_anonymous_note_states_receipts_revenue_and_share() -> None:
    from kit.overview.page import anonymous_note
    from kit.overview.pipeline import LifecycleGlance, Overview
    from kit.text.fmt import Formatter

    series = pd.DataFrame(
        {"month": ["2026-09", "2026-10"], "revenue": [1000.0, 2000.0], "anonymous_orders": [0, 12], "anonymous_revenue": [0.0, 250.0]}
    )
    glance = LifecycleGlance(0, 0, float("nan"), float("nan"), float("nan"), float("nan"))
    empty = {"gate": None, "metrics": {}, "segment_moves": None, "value_at_risk_by_persona": pd.Series(dtype=float),
             "persona_cards": None}
    october = Overview("2026-10", series, {}, None, [], glance, {}, **empty)
    note = anonymous_note(october, Formatter("en", "CNY"))
    assert note is not None and "12 store receipts" in note and "12.5%" in note
    assert "12张" in anonymous_note(october, Formatter("zh", "CNY"))
    assert anonymous_note(Overview("2026-09", series, {}, None, [], glance, {}, **empty), Formatter("en", "CNY")) is None


def test_people_note_says_customer_counts_count_ids() -> None:
    from kit.overview.page import people_note
    from kit.overview.pipeline import LifecycleGlance, Overview, PeopleEstimate
    from kit.text.fmt import Formatter

    series = pd.DataFrame({"month": ["2026-10"], "revenue": [1.0], "anonymous_orders": [0], "anonymous_revenue": [0.0]})
    glance = LifecycleGlance(0, 0, float("nan"), float("nan"), float("nan"), float("nan"))
    empty = {"gate": None, "metrics": {}, "segment_moves": None, "value_at_risk_by_persona": pd.Series(dtype=float),
             "persona_cards": None}

    def note(people: PeopleEstimate | None, lang: str = "en") -> str | None:
        return people_note(Overview("2026-10", series, {}, None, [], glance, {}, **empty, people=people), Formatter(lang, "CNY"))

    ran = PeopleEstimate(62_222, 62_046.4, None)
    assert "62,222 identified ids" in note(ran) and "at most about 62,046 real people" in note(ran)
    assert "62,222" in note(ran, "zh") and "62,046" in note(ran, "zh")
    skipped = note(PeopleEstimate(2_290, float("nan"), "too_few_attributes"))
    assert "2,290 identified ids" in skipped and "not estimated" in skipped and "nan" not in skipped
    assert note(None) is None


def test_trend_chart_second_axis_starts_at_zero() -> None:
    """Before: the active-customers axis started near its smallest value (14,000 on the demo),
    so a 5% dip looked like a collapse."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from kit.overview.page import plot_trend
    from kit.text.fmt import Formatter

    series = pd.DataFrame({"month": ["2026-08", "2026-09", "2026-10"], "revenue": [1.2e6, 1.3e6, 1.25e6],
                           "active_customers": [14_200, 14_900, 14_500]})
    fig, ax = plt.subplots()
    plot_trend(ax, series, Formatter("en", "CNY"), "CNY")
    bars, line = fig.axes
    assert bars.get_ylim()[0] == 0 and line.get_ylim()[0] == 0 and line.get_ylim()[1] >= 14_900
    plt.close(fig)
