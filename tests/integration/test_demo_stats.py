"""The demo world's statistics match its configuration, and its truth matches its raw files."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.metrics import roc_auc_score

from kit.demo import generate
from kit.demo.experiments import SRM_DROP_SHARE
from kit.demo.purchases import BASKET_SHRINK, DISENGAGE_DAYS, DISENGAGE_RATE
from kit.demo.timeline import Timeline

CUSTOMERS = 5000
Z = 4.0  # tolerance in standard errors


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo_stats")
    generate(out, customers=CUSTOMERS, seed=3)
    truth = out / "_truth"
    return {
        "out": out,
        "persons": pd.read_parquet(truth / "persons.parquet"),
        "records": pd.read_parquet(truth / "source_records.parquet"),
        "units": pd.read_parquet(truth / "experiment_units.parquet"),
        "effects": pd.read_parquet(truth / "experiments.parquet"),
        "churn": pd.read_parquet(truth / "churn.parquet"),
        "config": json.loads((truth / "config.json").read_text(encoding="utf-8")),
    }


def raw_orders(world) -> pd.DataFrame:
    """Clean orders from the raw files, with the true person (shop + POS)."""
    out, records = world["out"], world["records"]
    owner = {s: records[records["source"] == s].set_index("source_id")["person_id"] for s in ("shop", "pos")}
    shop = pd.read_csv(out / "shop_orders.csv", dtype=str, keep_default_na=False)
    shop = shop.drop_duplicates().drop_duplicates("order_id", keep="last")
    pos = pd.read_csv(out / "pos_orders.csv", dtype=str, keep_default_na=False, encoding="utf-8-sig").drop_duplicates()
    frame = pd.concat(
        [
            pd.DataFrame({"person_id": shop["shop_user_id"].map(owner["shop"]),
                          "ts": pd.to_datetime(shop["order_time"], format="%Y-%m-%d %H:%M:%S", errors="coerce"),
                          "amount": pd.to_numeric(shop["amount"], errors="coerce"),
                          "paid": shop["status"] == "paid"}),
            pd.DataFrame({"person_id": pos["receipt_id"].map(owner["pos"]),
                          "ts": pd.to_datetime(pos["paid_at"], format="%d/%m/%Y %H:%M", errors="coerce"),
                          "amount": pd.to_numeric(pos["amount"], errors="coerce"), "paid": True}),
        ],
        ignore_index=True,
    )
    return frame[frame["ts"].notna() & (frame["amount"] >= 0)]


def test_purchase_rates_follow_the_configured_gamma(world):
    persons, personas = world["persons"], world["config"]["personas"]
    for name, spec in personas.items():
        lam = persons.loc[persons["persona"] == name, "lam"]
        r, alpha = spec["lam"]
        mean, var = r / alpha, r / alpha**2
        assert abs(lam.mean() - mean) < Z * np.sqrt(var / len(lam)), name
        assert stats.kstest(lam, stats.gamma(r, scale=1 / alpha).cdf).pvalue > 1e-4, name


def test_share_of_repeat_buyers_matches_the_process(world):
    """Expected repeat buyers from each person's true lam, p and first order (BG/NBD + fade)."""
    persons, units = world["persons"], world["units"]
    config = world["config"]
    timeline = Timeline.build(config["end_month"], config["months"])
    coupon = units.loc[(units["experiment_id"] == "retention_coupon") & (units["variant"] == "coupon"), "person_id"]
    buyers = persons[persons["first_order_time"].notna() & ~persons["person_id"].isin(coupon)]
    first = ((buyers["first_order_time"] - timeline.t0) / pd.Timedelta(days=1)).to_numpy()
    lam, p = buyers["lam"].to_numpy(), buyers["p"].to_numpy()
    c_end = timeline.integral(timeline.end)
    engaged = 1 - np.exp(-lam * (c_end - timeline.integral(first)))
    fading = np.mean(  # the disengaging phase lasts Uniform(DISENGAGE_DAYS) days
        [
            1 - np.exp(-DISENGAGE_RATE * lam * (timeline.integral(np.minimum(first + days, timeline.end))
                                                - timeline.integral(first)))
            for days in np.linspace(*DISENGAGE_DAYS, 41)
        ],
        axis=0,
    )
    q = (1 - p) * engaged + p * fading
    observed = (buyers["n_orders"] >= 2).sum()
    assert abs(observed - q.sum()) < Z * np.sqrt((q * (1 - q)).sum())
    share = observed / len(buyers)
    assert 0.6 < share < 0.95


def test_churn_truth_is_calibrated_and_informative(world):
    churn = world["churn"]
    assert set(churn["snapshot_month"]) == {str(pd.Period("2026-10", "M") - k) for k in range(12)}
    assert churn["p_churn"].between(0, 1).all()
    units = world["units"]
    coupon = units.loc[(units["experiment_id"] == "retention_coupon") & (units["variant"] == "coupon"), "person_id"]
    gone = churn[churn["state"].isin(["never", "dead"]) & ~churn["person_id"].isin(coupon)]
    assert (gone["p_churn"] == 1).all() and gone["churned"].all()
    for month, g in churn.groupby("snapshot_month"):
        p = g["p_churn"].to_numpy()
        assert abs(g["churned"].sum() - p.sum()) < Z * np.sqrt((p * (1 - p)).sum()), month
    buyers = churn[(churn["snapshot_month"] == "2026-07") & churn["state"].isin(["engaged", "disengaging", "dead"])]
    assert roc_auc_score(buyers["churned"], buyers["p_churn"]) > 0.9


def test_spend_per_order_follows_the_persons_gamma(world):
    """Orders from the decision to leave on are worth BASKET_SHRINK of the usual draw (the
    decision order is matched by calendar day: its hour may fall before the latent time)."""
    orders = raw_orders(world)
    persons = world["persons"].set_index("person_id")
    orders = orders.join(persons[["persona", "mean_order_value", "spend_p", "spend_nu", "dropout_time"]], on="person_id")
    scale = np.where(orders["ts"].dt.normalize() >= orders["dropout_time"].dt.normalize(), BASKET_SHRINK, 1.0)
    orders = orders.assign(expected=orders["mean_order_value"] * scale, var=orders["spend_p"] * (scale / orders["spend_nu"]) ** 2)
    for name, g in orders.groupby("persona"):
        expected = g["expected"].mean()
        se = np.sqrt(g["var"].sum()) / len(g)
        # amounts are rounded to cents and floored at 1 yuan: allow 0.5% on top
        assert abs(g["amount"].mean() - expected) < Z * se + 0.005 * expected, name


def test_coupon_outcomes_in_raw_orders_match_the_potential_outcomes(world):
    out, units = world["out"], world["units"]
    orders = raw_orders(world)
    assign = pd.read_csv(out / "assignments.csv", dtype=str)
    coupon = assign[assign["experiment_id"] == "retention_coupon"]
    members = world["records"].query("source == 'crm'").set_index("source_id")["person_id"]
    frame = pd.DataFrame({"unit_id": coupon["unit_id"], "variant": coupon["variant"],
                          "person_id": coupon["unit_id"].map(members),
                          "at": pd.to_datetime(coupon["assigned_at"])})
    joined = frame.merge(orders[orders["paid"]], on="person_id", how="left")
    inside = (joined["ts"] >= joined["at"]) & (joined["ts"] < joined["at"] + pd.Timedelta(days=30))
    paid = inside.groupby(joined["unit_id"]).sum().reindex(frame["unit_id"]).to_numpy()
    truth = units[units["experiment_id"] == "retention_coupon"].set_index("unit_id").loc[frame["unit_id"]]
    expected = np.where(frame["variant"] == "coupon", truth["y1_paid"], truth["y0_paid"])
    assert np.mean(paid != expected) < 0.005  # only POS minutes at the window edges may differ
    converted = paid > 0
    treated = (frame["variant"] == "coupon").to_numpy()
    p1, p0 = converted[treated].mean(), converted[~treated].mean()
    se = np.sqrt(p1 * (1 - p1) / treated.sum() + p0 * (1 - p0) / (~treated).sum())
    effects = world["effects"].query("experiment_id == 'retention_coupon' and metric == 'conversion'")
    overall = effects.query("segment_type == 'all'")["true_effect"].item()
    assert abs((p1 - p0) - overall) < Z * se
    by_stage = effects.query("segment_type == 'lifecycle_stage'").set_index("segment")["true_effect"]
    assert by_stage["active"] == 0 and by_stage["new"] == 0
    assert by_stage["silent"] > by_stage["churned"] > 0.02


def test_app_homepage_has_no_effect_and_a_sample_ratio_mismatch(world):
    out, units, effects = world["out"], world["units"], world["effects"]
    homepage = effects.query("experiment_id == 'app_homepage'")
    assert (homepage["true_effect"].fillna(0) == 0).all()
    assigned = units[units["experiment_id"] == "app_homepage"]
    everyone = assigned["variant"].value_counts().reindex(["control", "variant_a", "variant_b"]).to_numpy()
    assert stats.chisquare(everyone).pvalue > 1e-4  # the randomisation itself is fair
    logged = pd.read_csv(out / "assignments.csv").query("experiment_id == 'app_homepage'")
    counts = logged["variant"].value_counts().reindex(["control", "variant_a", "variant_b"]).to_numpy()
    assert counts[2] < counts[:2].min()
    assert counts.sum() == assigned["logged"].sum()
    lost = assigned.groupby("variant")["logged"].apply(lambda s: 1 - s.mean())
    assert lost["control"] == 0 and lost["variant_a"] == 0
    n_b = everyone[2]
    assert abs(lost["variant_b"] - SRM_DROP_SHARE) < Z * np.sqrt(SRM_DROP_SHARE * (1 - SRM_DROP_SHARE) / n_b)
