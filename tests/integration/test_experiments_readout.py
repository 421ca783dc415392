"""kit.experiments catalog, metrics (DuckDB vs a pandas re-implementation), readout and
decision rules on small worlds."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import ibis
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import yaml
from worlds import make_warehouse

from kit.bench.experiments import run as bench_run
from kit.core.config import load_config
from kit.core.warehouse import Warehouse
from kit.experiments import stats as st
from kit.experiments.catalog import (
    CatalogError,
    Experiment,
    load_catalog,
    parse_experiment,
)
from kit.experiments.decision import decide
from kit.experiments.metrics import sufficient_stats, user_metrics, winsor_caps
from kit.experiments.readout import Settings, analyse, read_out

READOUT_END = pd.Timestamp("2026-11-01")

ENTRY = {
    "id": "retention_coupon", "name": "Retention coupon", "hypothesis": "Coupons bring back quiet members.",
    "control": "control", "variants": {"control": 0.5, "coupon": 0.5}, "unit_type": "member",
    "start": "2026-08-01", "end": "2026-10-31", "primary_metric": "conversion",
    "secondary_metrics": ["revenue_per_user", "orders_per_user", "aov"], "guardrail_metrics": ["refund_rate"],
    "segments": ["lifecycle_stage", "value_tier", "persona"], "exposure_days": 30,
}


def _write_catalog(tmp_path: Path, entries: list[dict]) -> Path:
    path = tmp_path / "experiments.yml"
    path.write_text(yaml.safe_dump({"experiments": entries}), encoding="utf-8")
    return path


def _experiment(**changes) -> Experiment:
    return replace(parse_experiment(ENTRY, Path("experiments.yml"), 0), **changes)


# --------------------------------------------------------------------------- catalog


def test_catalog_loads_generator_format(tmp_path):
    (e,) = load_catalog(_write_catalog(tmp_path, [ENTRY]))
    assert e.treatments == ("coupon",)
    assert e.metrics == ("conversion", "revenue_per_user", "orders_per_user", "aov", "refund_rate")
    assert e.start == pd.Timestamp("2026-08-01") and e.exposure_days == 30


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"control": "holdout"}, "key 'control'"),
        ({"variants": {"control": 0.5, "coupon": 0.6}}, "sum to 1.100"),
        ({"primary_metric": "happiness"}, "key 'primary_metric'"),
        ({"segments": ["zodiac"]}, "key 'segments'"),
        ({"end": "2026-07-01"}, "key 'end'"),
        ({"colour": "red"}, "unknown key(s) colour"),
    ],
)
def test_catalog_errors_name_file_experiment_and_key(tmp_path, change, message):
    path = _write_catalog(tmp_path, [{**ENTRY, **change}])
    with pytest.raises(CatalogError) as err:
        load_catalog(path)
    assert str(path) in str(err.value)
    assert "'retention_coupon'" in str(err.value)
    assert message in str(err.value)


def test_catalog_missing_key_and_duplicates(tmp_path):
    entry = {k: v for k, v in ENTRY.items() if k != "start"}
    with pytest.raises(CatalogError, match="missing required key"):
        load_catalog(_write_catalog(tmp_path, [entry]))
    with pytest.raises(CatalogError, match="more than once"):
        load_catalog(_write_catalog(tmp_path, [ENTRY, ENTRY]))


# --------------------------------------------------------------------------- metrics


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> tuple[Path, dict[str, int]]:
    """The shared small warehouse with planted assignment problems."""
    root = make_warehouse(tmp_path_factory.mktemp("wh"), n_customers=2500, seed=3)
    customers = pd.read_parquet(root / "customers.parquet")
    rng = np.random.default_rng(5)
    ids = customers.customer_id.sample(1200, random_state=1).to_list()
    start = pd.Timestamp("2026-08-01")
    rows = [
        {"customer_id": c, "variant": v, "assigned_ts": start + pd.Timedelta(seconds=int(s))}
        for c, v, s in zip(ids[:1100], rng.choice(["control", "coupon"], 1100), rng.integers(0, 7 * 86400, 1100))
    ]
    rows += [{"customer_id": c, "variant": v, "assigned_ts": start} for c in ids[1100:1105] for v in ("control", "coupon")]
    rows += [{"customer_id": c, "variant": "control", "assigned_ts": pd.Timestamp("2026-07-20")} for c in ids[1105:1109]]
    rows += [{"customer_id": c, "variant": "coupon", "assigned_ts": pd.Timestamp("2026-10-20")} for c in ids[1109:1115]]
    rows += [{"customer_id": c, "variant": "holdout", "assigned_ts": start} for c in ids[1115:1117]]
    rows += [{"customer_id": None, "variant": "coupon", "assigned_ts": start}]
    a = pd.DataFrame(rows).assign(experiment_id="retention_coupon", unit_type="member", unit_id_hash="h")
    a["assigned_ts"] = a.assigned_ts.astype("datetime64[us]")
    a.to_parquet(root / "assignments.parquet", index=False)
    planted = {"several_variants": 5, "outside_dates": 4, "window_not_over": 6, "unknown_variant": 2, "no_customer": 1}
    return root, planted


def _reference_metrics(root: Path, users: pd.DataFrame, new_days=90, active_days=90, silent_days=180) -> pd.DataFrame:
    """Per-user metrics re-implemented with pandas merges (independent of the Ibis code)."""
    day = pd.Timedelta(days=1)
    u = users[["customer_id", "variant", "assigned_ts"]].reset_index(drop=True)
    o = u.merge(pd.read_parquet(root / "orders.parquet"), on="customer_id")
    ev = pd.read_parquet(root / "events.parquet")
    v = u.merge(ev[ev.event_type == "visit"], on="customer_id")
    a, ts, paid = o.assigned_ts, o.order_ts, ~o.is_refund
    o = o.assign(
        exp=paid & (ts >= a) & (ts < a + 30 * day), every=(ts >= a) & (ts < a + 30 * day),
        pre=paid & (ts >= a - 30 * day) & (ts < a), ret=paid & (ts >= a + 30 * day) & (ts < a + 60 * day),
        hist=paid & (ts < a.dt.normalize()),  # the vocabulary: paid, not refunded orders before the assignment day
    )
    o = o.assign(exp_amount=o.amount.where(o["exp"], 0.0), pre_amount=o.amount.where(o.pre, 0.0),
                 hist_ts=o.order_ts.where(o["hist"]))
    g = o.groupby("customer_id").agg(
        orders=("exp", "sum"), every=("every", "sum"), pre=("pre", "sum"), ret=("ret", "any"),
        revenue=("exp_amount", "sum"), revenue_pre=("pre_amount", "sum"), first=("hist_ts", "min"),
        last=("hist_ts", "max"),
    )
    va, vt = v.assigned_ts, v.event_ts
    vg = v.assign(ret_v=(vt >= va + 30 * day) & (vt < va + 60 * day), pre_v=(vt >= va - 30 * day) & (vt < va))
    vg = vg.groupby("customer_id")[["ret_v", "pre_v"]].any()
    r = u.set_index("customer_id").join(g).join(vg)
    r[["orders", "every", "pre", "revenue", "revenue_pre"]] = r[["orders", "every", "pre", "revenue", "revenue_pre"]].fillna(0)
    for c in ("ret", "ret_v", "pre_v"):
        r[c] = r[c].astype("boolean").fillna(False).astype(bool)
    # kit.core.vocabulary's lifecycle stage as of the start of the assignment day
    as_of = r.assigned_ts.dt.normalize()
    first_age = (as_of - r["first"]).dt.total_seconds() / 86400
    recency = (as_of - r["last"]).dt.total_seconds() / 86400
    stage = np.select(
        [r["first"].isna().to_numpy(), (first_age <= new_days).to_numpy(), (recency <= active_days).to_numpy(),
         (recency <= silent_days).to_numpy()],
        ["prospect", "new", "active", "silent"], "churned",
    )
    first_seen = pd.read_parquet(root / "customers.parquet").set_index("customer_id").first_seen
    retained = (r.ret | r.ret_v).astype(float)
    return pd.DataFrame({
        "customer_id": r.index, "variant": r.variant.to_numpy(), "lifecycle_stage": stage,
        "has_pre": (first_seen.reindex(r.index) < r.assigned_ts - 30 * day).astype(int).to_numpy(),
        "conversion": (r.orders > 0).astype(float).to_numpy(), "conversion_pre": (r.pre > 0).astype(float).to_numpy(),
        "revenue_per_user": r.revenue.to_numpy(), "revenue_per_user_pre": r.revenue_pre.to_numpy(),
        "orders_per_user": r.orders.astype(float).to_numpy(), "orders_per_user_pre": r.pre.astype(float).to_numpy(),
        "retention": retained.where(r.assigned_ts + 60 * day <= READOUT_END).to_numpy(),
        "retention_pre": ((r.pre > 0) | r.pre_v).astype(float).to_numpy(),
        "all_orders": r.every.astype(float).to_numpy(), "refunded_orders": (r.every - r.orders).astype(float).to_numpy(),
    })


def test_user_metrics_match_pandas_reference_and_count_exclusions(world):
    root, planted = world
    config = load_config()
    um = user_metrics(Warehouse(root), config, _experiment(start=pd.Timestamp("2026-08-01")), READOUT_END)
    assert um.exclusions == planted
    assert um.segment_source == "orders"
    got = um.table.to_pandas().sort_values("customer_id").reset_index(drop=True)
    a = pd.read_parquet(root / "assignments.parquet").iloc[:1100]
    assert sum(um.assigned.values()) == 1100 + 6  # window-not-over users still count for the SRM check
    ref = _reference_metrics(root, a).sort_values("customer_id").reset_index(drop=True)
    assert len(got) == len(ref) == 1100
    for col in ref.columns:
        if ref[col].dtype == object or isinstance(ref[col].dtype, pd.StringDtype):
            assert (got[col].astype(str).to_numpy() == ref[col].astype(str).to_numpy()).all(), col
        else:
            np.testing.assert_allclose(got[col].to_numpy(float), ref[col].to_numpy(float), atol=1e-9, err_msg=col)
    assert got.lifecycle_stage.nunique() >= 4


def test_sufficient_stats_and_caps_match_numpy(world):
    root, _ = world
    um = user_metrics(Warehouse(root), load_config(), _experiment(), READOUT_END)
    users = um.table.to_pandas()
    caps = winsor_caps(um.table, 0.95)
    pos = users.revenue_per_user[users.revenue_per_user > 0]
    assert caps["revenue_per_user"] == pytest.approx(np.quantile(pos, 0.95), rel=1e-9)
    stats = sufficient_stats(um.table, caps)
    control = users[users.variant == "control"]
    row = stats[(stats.metric == "revenue_per_user") & stats.capped & (stats.variant == "control")].sum(numeric_only=True)
    y = control.revenue_per_user.clip(upper=caps["revenue_per_user"])
    x = control.revenue_per_user_pre.clip(upper=caps["revenue_per_user_pre"])
    d = control.has_pre
    assert row.n == len(control)
    for name, value in {"sy": y.sum(), "syy": (y * y).sum(), "sx": x.sum(), "sxy": (x * y).sum(),
                        "sd": d.sum(), "syd": (y * d).sum(), "sxd": (x * d).sum()}.items():
        assert row[name] == pytest.approx(value, rel=1e-9), name
    aov = stats[(stats.metric == "aov") & ~stats.capped & (stats.variant == "control")].sum(numeric_only=True)
    assert aov.sxy == pytest.approx((control.revenue_per_user * control.orders_per_user).sum(), rel=1e-9)


def test_read_out_matches_direct_statistics(world):
    root, _ = world
    config = load_config()
    e = _experiment()
    r = read_out(Warehouse(root), config, e, "2026-10", capped=False)
    users = user_metrics(Warehouse(root), config, e, READOUT_END).table.to_pandas()
    c, t = (users[users.variant == v] for v in ("control", "coupon"))
    direct = st.cuped_test(st.CupedStats.from_values(c.conversion, c.conversion_pre, c.has_pre),
                           st.CupedStats.from_values(t.conversion, t.conversion_pre, t.has_pre), binary=True)
    row = r.results.set_index("metric").loc["conversion"]
    assert row.effect == pytest.approx(direct.adjusted.estimate, abs=1e-9)
    assert row.se == pytest.approx(direct.adjusted.se, abs=1e-9)
    assert row.raw_p == pytest.approx(direct.unadjusted.p_value, abs=1e-9)
    assert not r.early and r.decision.verdict in {"do_not_ship", "ship"}
    seg = r.segments[(r.segments.metric == "conversion")]
    assert seg.n_control.sum() <= row.n_control
    assert set(r.heterogeneity.dimension) == {"lifecycle_stage"}


# --------------------------------------------------------------------------- readout on planted effects


def _planted_users(n: int, seed: int, shares=(0.5, 0.5), effect_by_stage=None) -> ibis.Table:
    rng = np.random.default_rng(seed)
    stage = rng.choice(["active", "silent", "churned"], n)
    variant = rng.choice(["control", "coupon"], n, p=list(shares))
    has_pre = (rng.random(n) < 0.8).astype("int8")
    base = np.select([stage == "active", stage == "silent"], [0.4, 0.15], 0.05)
    lift = np.vectorize((effect_by_stage or {}).get)(stage, 0.0).astype(float)
    p = base + (variant == "coupon") * lift
    conv = (rng.random(n) < p).astype(float)
    pre = (rng.random(n) < base).astype(float) * has_pre
    orders = conv * rng.poisson(1.0, n) + conv
    revenue = orders * rng.gamma(2.0, 60.0, n)
    frame = pd.DataFrame({
        "customer_id": np.arange(n), "variant": variant, "lifecycle_stage": stage, "value_tier": "mid",
        "persona": "p", "has_pre": has_pre, "conversion": conv, "conversion_pre": pre,
        "revenue_per_user": revenue, "revenue_per_user_pre": pre * 90.0, "orders_per_user": orders,
        "orders_per_user_pre": pre, "retention": conv, "retention_pre": pre,
        "all_orders": orders, "refunded_orders": np.zeros(n),
    })
    return ibis.memtable(frame)


def test_segment_breakdown_finds_planted_heterogeneity():
    table = _planted_users(40_000, 11, effect_by_stage={"silent": 0.08})
    e = _experiment(segments=("lifecycle_stage",))
    stats = sufficient_stats(table, winsor_caps(table, 0.99))
    arms = stats[stats.metric == "conversion"].groupby("variant").n.sum().to_dict()
    r = analyse(stats, e, arms, Settings(), early=False, segments=("lifecycle_stage",))
    seg = r.segments[r.segments.metric == "conversion"].set_index("segment")
    assert seg.loc["silent", "ci_low"] > 0.0
    assert seg.loc["active", "ci_low"] < 0.0 < seg.loc["active", "ci_high"]
    assert seg.loc["silent", "alpha_used"] == pytest.approx(0.05 / 3)
    het = r.heterogeneity.set_index("metric").loc["conversion"]
    assert het.p_value < 0.001
    assert r.decision.verdict == "ship" and r.decision.variant == "coupon"


def test_srm_blocks_ship_including_zero_user_arm():
    table = _planted_users(20_000, 12, shares=(0.55, 0.45), effect_by_stage={"silent": 0.1, "active": 0.1})
    e = _experiment(segments=("lifecycle_stage",))
    stats = sufficient_stats(table)
    arms = stats[stats.metric == "conversion"].groupby("variant").n.sum().to_dict()
    r = analyse(stats, e, arms, Settings(), early=False, segments=("lifecycle_stage",))
    assert r.srm.failed and r.decision.verdict == "investigate"
    assert r.decision.reasons[0][0] == "exp.reason.srm"
    three = _experiment(variants={"control": 1 / 3, "coupon": 1 / 3, "variant_b": 1 / 3})
    r3 = analyse(sufficient_stats(_planted_users(6_000, 13)), three, {"control": 3000, "coupon": 3000}, Settings(),
                 early=False, segments=())
    assert r3.srm.failed and r3.srm.observed[2] == 0
    assert r3.decision.verdict == "investigate"


# --------------------------------------------------------------------------- decision rules


def _results(rows: list[dict]) -> pd.DataFrame:
    base = {"direction": 1, "rel_mde": 0.05, "significant": False, "rel": 0.0}
    return pd.DataFrame([{**base, **r} for r in rows])


def test_decision_rules():
    up = {"variant": "b", "metric": "conversion", "role": "primary", "significant": True, "rel": 0.1}
    harm = {"variant": "b", "metric": "refund_rate", "role": "guardrail", "significant": True, "rel": 0.3,
            "direction": -1}
    ok_guard = {**harm, "rel": -0.2}
    assert decide(_results([up, ok_guard]), False, [], early=False).verdict == "ship"
    d = decide(_results([up, harm]), False, [], early=False)
    assert d.verdict == "do_not_ship" and d.reasons[-1][0] == "exp.reason.guardrail_down"
    flat = {**up, "significant": False, "rel": 0.01}
    assert decide(_results([flat]), False, [], early=True).verdict == "keep_running"
    assert decide(_results([flat]), False, [], early=False).verdict == "do_not_ship"
    assert decide(_results([up]), False, ["lifecycle_stage=silent"], early=False).verdict == "investigate"
    assert decide(pd.DataFrame(), False, [], early=True).reasons == [("exp.reason.no_data", {})]
    assert decide(pd.DataFrame(), True, [], early=True).verdict == "investigate"


def test_early_readout_needs_the_always_valid_interval():
    table = _planted_users(4_000, 14, effect_by_stage={"silent": 0.05, "active": 0.05, "churned": 0.05})
    stats = sufficient_stats(table)
    arms = stats[stats.metric == "conversion"].groupby("variant").n.sum().to_dict()
    late = analyse(stats, _experiment(), arms, Settings(), early=False, segments=())
    early = analyse(stats, _experiment(), arms, Settings(), early=True, segments=())
    lr, er = (x.results.set_index("metric").loc["conversion"] for x in (late, early))
    assert er.seq_high - er.seq_low > lr.ci_high - lr.ci_low
    assert er.significant <= lr.significant


def test_bench_runs_small():
    out = bench_run(20_000)
    assert out["assignments"] == 20_000 and out["arms"] == 3 and out["metrics"] == 5
    assert out["readout_seconds"] > 0


def test_planning_matches_statsmodels():
    from statsmodels.stats.power import NormalIndPower

    from kit.experiments.readout import planning

    plan = planning(unit_sd=0.45, control_mean=0.3, targets=[0.05, 0.1])
    ref = NormalIndPower().solve_power(effect_size=0.05 * 0.3 / 0.45, alpha=0.05, power=0.8, ratio=1.0)
    assert plan.users_control.iloc[0] == pytest.approx(ref, rel=1e-6)
    assert plan.users_control.iloc[1] < plan.users_control.iloc[0]


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_report_page_renders_every_section(lang, monkeypatch):
    """The page builder on a planted readout (early, 2 arms, segments): every string and chart."""
    from kit.experiments import page as xr
    from kit.experiments.pipeline import ExperimentsResult
    from kit.report import Report

    table = _planted_users(8_000, 21, effect_by_stage={"silent": 0.1})
    stats = sufficient_stats(table, winsor_caps(table, 0.99))
    arms = stats[stats.metric == "conversion"].groupby("variant").n.sum().to_dict()
    e = _experiment(segments=("lifecycle_stage",))
    r = replace(analyse(stats, e, arms, Settings(), early=True, segments=("lifecycle_stage",)),
                exclusions={"several_variants": 2}, segment_source="orders")
    shown: list[str] = []
    monkeypatch.setattr("kit.report.shell._display_html", shown.append)
    monkeypatch.setattr(Report, "show", lambda self, fig: (shown.append(fig.axes[0].get_title()), plt.close(fig)))
    rep = Report(load_config(), "2026-10", lang, True, "")
    items = [(e, r), (_experiment(id="broken", name="Broken"), "no assignments")]
    result = ExperimentsResult("2026-10", items, Settings())
    bullets = xr.findings(result, rep.fmt)
    assert len(bullets) == 3 and "Broken" in bullets[2]
    assert bullets[0].startswith(("2 experiment", "本月共解读2")) and e.name in bullets[1]  # verdict count first
    xr.experiment_sections(rep, result)
    xr.glossary(rep, result)
    out = "\n".join(shown)
    assert ("随时有效" if lang == "zh" else "always-valid") in out
    assert ("沉默" if lang == "zh" else "silent") in out
    assert "99%" in out or "99" in out  # the winsorising quantile of the settings, in the glossary
    metrics = result.headline()
    assert metrics["experiments"] == 2 and metrics["retention_coupon.decision"] == r.decision.verdict
    assert metrics["retention_coupon.users"] == sum(arms.values())
    assert result.verdict_counts()[r.decision.verdict] == 1 and len(result.readouts) == 1
    # The explorer: switch capping off, pick a metric and a segment dimension.
    box = xr.explorer(rep, result)()
    (_, metric_box), (cap_box, seg_box) = box.children[0].children, box.children[1].children
    shown.clear()
    cap_box.value = False
    metric_box.value = "revenue_per_user"
    seg_box.value = "lifecycle_stage"
    assert any(("人均收入" if lang == "zh" else "revenue per user") in h for h in shown)
    assert metrics["broken.decision"] == "error"


def test_segments_come_from_the_snapshot_of_the_month_before_start(world, tmp_path):
    root, _ = world
    copy = tmp_path / "wh"
    shutil.copytree(root, copy)
    wh = Warehouse(copy)
    customers = pd.read_parquet(copy / "customers.parquet").customer_id
    labelled = customers.iloc[: len(customers) // 2]
    snap = pd.DataFrame({"customer_id": labelled, "lifecycle_stage": "silent", "value_tier": "high",
                         "persona": "loyal_high_spender", "rfm_segment": "x"})
    wh.write_snapshot("2026-07", "segments", snap)
    um = user_metrics(wh, load_config(), _experiment(), READOUT_END)
    assert um.segment_source == "snapshot:2026-07"
    assert um.segments == ("lifecycle_stage", "value_tier", "persona")
    got = um.table.to_pandas().set_index("customer_id")
    inside = got.index.isin(labelled)
    assert (got.loc[inside, "value_tier"] == "high").all() and (got.loc[inside, "persona"] == "loyal_high_spender").all()
    assert (got.loc[~inside, "lifecycle_stage"] == "unknown").all()


def test_degenerate_segments_give_no_warnings(recwarn):
    """A segment where nobody converts or orders must not print numpy warnings into the report."""
    frame = _planted_users(3_000, 31).to_pandas()
    dead = frame.lifecycle_stage == "churned"
    for col in ("conversion", "revenue_per_user", "orders_per_user", "all_orders", "retention"):
        frame.loc[dead, col] = 0.0
    table = ibis.memtable(frame)
    stats = sufficient_stats(table, winsor_caps(table, 0.99))
    arms = stats[stats.metric == "conversion"].groupby("variant").n.sum().to_dict()
    r = analyse(stats, _experiment(), arms, Settings(), early=True, segments=("lifecycle_stage",))
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]
    assert "churned" not in set(r.segments[r.segments.metric == "conversion"].segment)


def test_benjamini_hochberg_setting_is_used_for_segments():
    from scipy import stats as sps

    table = _planted_users(40_000, 11, effect_by_stage={"silent": 0.08, "churned": 0.05})
    stats = sufficient_stats(table)
    arms = stats[stats.metric == "conversion"].groupby("variant").n.sum().to_dict()
    r = analyse(stats, _experiment(), arms, Settings(correction="bh"), early=False, segments=("lifecycle_stage",))
    seg = r.segments[r.segments.metric == "conversion"]
    np.testing.assert_allclose(seg.p_adj, sps.false_discovery_control(seg.p_value.to_numpy()), atol=1e-12)
    rejected = int((seg.p_adj < 0.05).sum())
    assert rejected >= 1
    assert seg.alpha_used.iloc[0] == pytest.approx(0.05 * rejected / len(seg))


def test_catalog_entry_round_trips(tmp_path: Path) -> None:
    """What the demo writes to experiments.yml (``as_yaml``) reads back as the same experiment."""
    from kit.demo.experiments import catalog

    for experiment in catalog("2026-10"):
        assert parse_experiment(experiment.as_yaml(), tmp_path / "experiments.yml", 0) == experiment


def test_pipeline_reads_every_experiment_of_the_month(world, tmp_path):
    """The stage entry: the catalog's experiments started by the month, each read out, a
    data problem kept as that experiment's message; headline() has the saved keys."""
    from kit.experiments import pipeline

    root, _ = world
    later = {**ENTRY, "id": "later", "name": "Later", "start": "2026-12-01", "end": "2026-12-31"}
    broken = {**ENTRY, "id": "broken", "name": "Broken"}
    catalog = _write_catalog(tmp_path, [ENTRY, later, broken])
    config = load_config(overrides={"experiments": {"catalog": str(catalog)}})
    wh = Warehouse(root)
    result = pipeline.run(wh, "2026-10", config)
    assert [e.id for e, _ in result.items] == ["retention_coupon", "broken"]  # "later" starts after October
    assert result.settings == Settings.from_config(config)
    head = result.headline()
    assert head["experiments"] == 2
    single = pipeline.run(wh, "2026-10", config, "retention_coupon")
    assert [e.id for e, _ in single.items] == ["retention_coupon"]
    assert single.headline()["retention_coupon.decision"] == head["retention_coupon.decision"]
    assert set(result.verdict_counts()) == set(pipeline.VERDICTS)
