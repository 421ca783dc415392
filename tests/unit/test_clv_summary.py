"""kit.clv.summary: the CDNOW transactions give the published summary; same-day merging,
refunds, time units, holdout columns and bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from kit.clv.simulate import simulate_orders
from kit.clv.summary import customer_summary
from kit.core.config import CLVConfig
from kit.core.warehouse import Warehouse

FIXTURES = Path(__file__).parents[1] / "fixtures" / "cdnow"


def _warehouse(tmp_path: Path, orders: pd.DataFrame) -> Warehouse:
    orders.to_parquet(tmp_path / "orders.parquet", index=False)
    return Warehouse(tmp_path)


@pytest.fixture(scope="module")
def cdnow_wh(tmp_path_factory) -> Warehouse:
    raw = pd.read_csv(
        FIXTURES / "CDNOW_sample.txt", sep=r"\s+", header=None, names=["master", "id", "date", "cds", "amount"], dtype={"date": str}
    )
    orders = pd.DataFrame(
        {
            "order_id": [f"X{i}" for i in range(len(raw))],
            "customer_id": raw["id"].map(lambda v: f"C{v:010x}"),
            "order_ts": pd.to_datetime(raw["date"], format="%Y%m%d"),
            "amount": raw["amount"].astype(float),
            "status": "paid",
            "is_refund": False,
        }
    )
    return _warehouse(tmp_path_factory.mktemp("cdnow"), orders)


def test_cdnow_summary_equals_published(cdnow_wh):
    # calibration ends 1997-09-30; the CDNOW sample has 223 same-day repeat orders to merge
    summary = customer_summary(cdnow_wh, "1997-09", CLVConfig(time_unit="W"))
    ref = pd.read_csv(FIXTURES / "cdnow_customers_summary_with_transactions.csv")
    ref["customer_id"] = ref["ID"].map(lambda v: f"C{v:010x}")
    both = ref.merge(summary, on="customer_id", validate="1:1")
    assert len(both) == len(ref) == len(summary) == 2357
    assert (both["x"] == both["frequency"]).all()
    assert np.allclose(both["t_x"], both["recency"], atol=0.005)
    assert np.allclose(both["T_x"], both["T_y"], atol=0.005)
    assert np.allclose(both["zbar"], both["monetary"], atol=0.005)


def test_cdnow_holdout_counts_published_total(cdnow_wh):
    holdout = customer_summary(cdnow_wh, "1998-06", CLVConfig(time_unit="W"), calibration_end="1997-09")
    assert len(holdout) == 2357
    assert holdout["frequency_holdout"].sum() == 1882  # FHL 2005: repeat purchases in weeks 40-78
    assert holdout["duration_holdout"].iloc[0] == pytest.approx(273 / 7)


def test_same_day_refunds_and_days(tmp_path):
    ts = pd.to_datetime(
        ["2026-01-01 09:00", "2026-01-01 18:00", "2026-01-08 10:00", "2026-01-15 10:00", "2026-01-20 10:00", "2026-11-02 10:00"]
    )
    orders = pd.DataFrame(
        {
            "order_id": list("abcdef"),
            "customer_id": ["C1"] * 5 + ["C1"],
            "order_ts": ts,
            "amount": [10.0, 5.0, 20.0, 99.0, 30.0, 50.0],
            "status": ["paid", "paid", "paid", "refunded", "paid", "paid"],
            "is_refund": [False, False, False, True, False, False],
        }
    )
    wh = _warehouse(tmp_path, orders)
    row = customer_summary(wh, "2026-01", CLVConfig(time_unit="D")).iloc[0]
    # same-day orders merged (Jan 1), refund on Jan 15 dropped, the November order is after the snapshot
    assert row["frequency"] == 2
    assert row["recency"] == 19 and row["T"] == 30
    assert row["monetary"] == pytest.approx(25.0)
    weeks = customer_summary(wh, "2026-01", CLVConfig(time_unit="W")).iloc[0]
    assert weeks["T"] == pytest.approx(30 / 7)


def test_simulated_orders_summary_ignores_refunds(tmp_path):
    orders = simulate_orders(500, start="2025-01-01", end="2026-11-01", seed=4)
    wh = _warehouse(tmp_path, orders)
    summary = customer_summary(wh, "2026-10", CLVConfig())
    paid = orders[~orders["is_refund"]]
    days = paid.assign(day=paid["order_ts"].dt.normalize()).groupby("customer_id")["day"].nunique()
    assert len(summary) == 500
    assert (summary.set_index("customer_id")["frequency"] == days.reindex(summary["customer_id"]).to_numpy() - 1).all()
    assert (summary["recency"] <= summary["T"]).all()


def test_bad_orders_give_a_clear_error(tmp_path):
    orders = pd.DataFrame(
        {
            "order_id": ["a", "b"],
            "customer_id": ["C1", "C2"],
            "order_ts": pd.to_datetime(["2026-01-01", "2026-01-02"]),
            "amount": [10.0, -3.0],
            "status": ["paid", "paid"],
            "is_refund": [False, False],
        }
    )
    with pytest.raises(ValueError, match="1 of 2 orders with a missing or negative amount"):
        customer_summary(_warehouse(tmp_path, orders), "2026-01", CLVConfig())


def test_summary_does_not_depend_on_the_order_of_the_orders(tmp_path: Path) -> None:
    """Amounts are summed exactly (in cents): the same orders in another row order give
    the same monetary values to the last bit, so the CLV fits and exports repeat exactly."""
    rng = np.random.default_rng(4)
    n = 20_000
    orders = pd.DataFrame(
        {
            "order_id": [f"O{i}" for i in range(n)],
            "customer_id": [f"C{i:04d}" for i in rng.integers(0, 300, n)],
            "order_ts": pd.Timestamp("2025-01-01") + pd.to_timedelta(rng.integers(0, 600, n), unit="D"),
            "amount": rng.integers(1, 100_000, n) / 100,
            "status": "paid",
            "is_refund": False,
        }
    )
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = customer_summary(_warehouse(tmp_path / "a", orders), "2026-10", CLVConfig())
    shuffled = orders.sample(frac=1.0, random_state=1)
    second = customer_summary(_warehouse(tmp_path / "b", shuffled), "2026-10", CLVConfig())
    pd.testing.assert_frame_equal(first, second, check_exact=True)


def _without_refund_columns(tmp_path: Path) -> Warehouse:
    """Two customers' orders with no is_refund or status column."""
    orders = pd.DataFrame({
        "customer_id": ["a", "a", "a", "a", "b", "a"],
        "order_ts": pd.to_datetime(["2026-01-01 09:00", "2026-01-01 18:00", "2026-01-08", "2026-01-15", "2026-01-10",
                                    "2026-01-20"], format="mixed"),
        "amount": [10.0, 5.0, 20.0, 30.0, 7.0, 99.0],
    })
    return _warehouse(tmp_path, orders)


def test_orders_without_refund_columns_are_all_paid(tmp_path: Path) -> None:
    """No is_refund / status column: every order is a purchase (it raised AttributeError)."""
    a = customer_summary(_without_refund_columns(tmp_path), "2026-01", CLVConfig(time_unit="D")).set_index("customer_id").loc["a"]
    assert (a["frequency"], a["recency"], a["T"]) == (3, 19, 30)


def test_as_of_and_calibration_on_any_day(tmp_path: Path) -> None:
    """The as-of and calibration dates need not be month ends (they had to be YYYY-MM)."""
    wh = _without_refund_columns(tmp_path)
    a = customer_summary(wh, "2026-01-17", CLVConfig(time_unit="D")).set_index("customer_id").loc["a"]
    assert (a["frequency"], a["recency"], a["T"], a["monetary"]) == (2, 14, 16, 25.0)
    holdout = customer_summary(wh, "2026-01-31", CLVConfig(time_unit="D"), calibration_end="2026-01-09")
    assert holdout.set_index("customer_id").loc["a", "frequency_holdout"] == 2
    assert holdout["duration_holdout"].iloc[0] == 22
    with pytest.raises(ValueError, match="calibration_end 2026-02-01 must be before the as-of day 2026-01-31"):
        customer_summary(wh, "2026-01-31", CLVConfig(), calibration_end="2026-02-01")
