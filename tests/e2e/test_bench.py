"""The benchmark harness: stages in their own processes, isolated peaks, clear statuses."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from kit.bench import stages as bench
from kit.bench.stages import (
    STAGES,
    BenchError,
    Stage,
    bench_config,
    monthly_run,
    resolve_function,
    run_bench,
    world_stages,
)
from kit.cli import main
from kit.core.config import load_config
from kit.demo.shapes import END_MONTH

FIXTURES = Path(__file__).parents[1] / "fixtures"
MB = 1024**2


@pytest.fixture
def base(tmp_path):
    """A base project config in tmp_path with one source under the raw folder."""
    file = tmp_path / "kit.yml"
    file.write_text(
        "paths:\n  raw: data/raw/demo\n  notebooks: nbs\n"
        "experiments:\n  catalog: data/raw/demo/experiments.yml\n"
        "sources:\n  shop:\n    kind: orders\n    path: data/raw/demo/shop_orders.csv\n"
        "  erp:\n    kind: orders\n    path: /srv/erp/orders.csv\n",
        encoding="utf-8",
    )
    return load_config(file)


def test_bench_config_moves_every_folder_into_the_bench_world(base, tmp_path):
    config = bench_config(base, 1000)
    root = tmp_path / "data" / "bench" / "1000"
    assert config.source_file == root / "kit.yml"
    assert config.resolve(config.paths.raw) == root / "raw"
    assert config.resolve(config.paths.warehouse) == root / "warehouse"
    assert config.resolve(config.paths.reports) == root / "reports"
    assert config.resolve(config.paths.notebooks) == tmp_path / "nbs"
    assert config.resolve(config.features.tags_file) == base.resolve(base.features.tags_file)
    assert config.resolve(config.experiments.catalog) == root / "raw" / "experiments.yml"
    assert config.sources["shop"].path == str(root / "raw" / "shop_orders.csv")
    assert config.sources["erp"].path == "/srv/erp/orders.csv"


def test_resolve_function_says_why_a_stage_is_unavailable():
    assert resolve_function("json.dumps") is json.dumps
    with pytest.raises(bench.StageUnavailable, match="module kit.nothing_here does not exist"):
        resolve_function("kit.nothing_here.run")
    with pytest.raises(bench.StageUnavailable, match="kit.core.config has no function run_it"):
        resolve_function("kit.core.config.run_it")


def test_stages_run_in_their_own_processes_with_isolated_peaks(base, tmp_path, monkeypatch, capsys):
    monkeypatch.syspath_prepend(str(Path(__file__).parents[1]))
    monkeypatch.setattr(bench, "STAGES", [
        Stage("world", "worlds.fake_world", 60, 1.0, takes="world"),
        Stage("big", "worlds.allocate", 60, 0.1),
        Stage("small", "builtins.repr", None, None),
        Stage("broken", "json.dumps", 60, 1.0),
        Stage("later", "kit.nothing_here.run", 60, 1.0),
    ])
    report = run_bench(base, customers=1000, seed=7, out=tmp_path / "out")
    results = {s.name: s for s in report.stages}
    assert [s.status for s in report.stages] == ["ok", "ok", "ok", "failed", "unavailable"]
    truth = json.loads((tmp_path / "data/bench/1000/raw/_truth/config.json").read_text())
    assert truth == {"customers": 1000, "seed": 7, "end_month": base.run.month}
    assert results["big"].peak_gb * 1024 >= 200
    assert results["small"].peak_gb * 1024 < 150  # the 200 MB of the previous stage do not count
    assert results["big"].seconds >= 0 and results["later"].peak_gb is None
    assert results["big"].details == {"touched_mb": 200} and results["small"].details == {}
    assert "TypeError" in results["broken"].message and "KitConfig" in results["broken"].message
    assert results["big"].verdict == "targets are for 1,000,000" and results["small"].verdict == "no target"
    assert not report.ok
    written = json.loads(Path(report.json_file).read_text())
    assert Path(report.json_file).name.startswith("bench-1000-")
    assert [s["name"] for s in written["stages"]] == ["world", "big", "small", "broken", "later"]
    assert written["customers"] == 1000 and written["machine"]["cpus"] >= 1
    out = capsys.readouterr().out
    assert "stage unavailable: module kit.nothing_here does not exist" in out
    assert "peak GB" in out and "target s" in out and "touched_mb 200" in out


def test_stages_are_skipped_without_a_world_and_unknown_names_refused(base, tmp_path, monkeypatch):
    report = run_bench(base, customers=500, out=tmp_path / "out", stages=["ingest", "monthly-run"])
    assert [s.status for s in report.stages] == ["skipped", "skipped"]
    assert "run the demo-data stage first" in report.stages[0].message
    assert report.ok
    with pytest.raises(BenchError, match="unknown stage.*nope.*known stages: demo-data"):
        run_bench(base, customers=500, stages=["nope"])
    assert main(["bench", "--customers", "500", "--config", str(base.source_file), "--stages", "nope"]) == 2


def test_verdict_at_the_reference_size():
    stage = bench.StageResult("x", "f", "ok", seconds=100, peak_gb=2.0, target_seconds=180, target_gb=6.0)
    assert bench._verdict(stage, bench.REFERENCE_CUSTOMERS) == "within target"
    slow = bench.StageResult("x", "f", "ok", seconds=200, peak_gb=2.0, target_seconds=180, target_gb=6.0)
    assert bench._verdict(slow, bench.REFERENCE_CUSTOMERS) == "OVER TARGET"


def test_monthly_run_stage_raises_with_the_failing_notebook(tmp_path):
    file = tmp_path / "kit.yml"
    file.write_text(
        f"run:\n  notebooks: [02_broken]\npaths:\n  reports: reports\n  warehouse: wh\n"
        f"  notebooks: {FIXTURES / 'notebooks'}\n",
        encoding="utf-8",
    )
    with pytest.raises(RuntimeError, match="monthly run failed at 02_broken.*deliberate fixture failure"):
        monthly_run(load_config(file))


def test_subscription_world_through_the_bench_command(base, tmp_path, capsys):
    """``kit bench --world subscriptions``: the subscription_app shape's accounts written into
    data/bench/subscriptions_<N> with the contractual churn settings, then ingested,
    profiled and scored, each stage timed in its own process; no retail world is made."""
    accounts = 1500
    code = main([
        "bench", "--customers", str(accounts), "--world", "subscriptions",
        "--config", str(base.source_file), "--out", str(tmp_path / "out"),
    ])
    out = capsys.readouterr().out
    assert code == 0, out
    written = json.loads(next((tmp_path / "out").glob(f"bench-subscriptions_{accounts}-*.json")).read_text())
    root = tmp_path / "data" / "bench" / f"subscriptions_{accounts}"
    assert written["world"] == str(root) and written["month"] == END_MONTH and written["customers"] == accounts
    stages = {s["name"]: s for s in written["stages"]}
    assert list(stages) == ["demo-data", "ingest", "features-tags", "churn"]
    assert {s["status"] for s in stages.values()} == {"ok"}, out
    assert all(s["seconds"] > 0 and s["peak_gb"] > 0 for s in stages.values())
    # the world's own config: the shape's sources and contractual churn
    config = load_config(root / "kit.yml")
    assert set(config.sources) == {"accounts", "subscriptions", "payments", "events"}
    assert config.resolve(config.paths.warehouse) == root / "warehouse"
    assert (config.churn.mode, config.churn.window_days, config.churn.grace_days) == ("contractual", 30, 7)
    details = stages["demo-data"]["details"]
    assert details["accounts"] == accounts and details["events"] == len(pd.read_parquet(root / "raw" / "events.parquet"))
    # ingested, profiled and scored on that world
    warehouse = root / "warehouse"
    assert len(pd.read_parquet(warehouse / "subscriptions.parquet")) == accounts
    profile = pd.read_parquet(warehouse / "snapshots" / END_MONTH / "profile.parquet")
    scores = pd.read_parquet(warehouse / "snapshots" / END_MONTH / "churn.parquet")
    assert len(profile) == accounts and 0 < stages["churn"]["details"]["customers_scored"] == len(scores) <= accounts
    assert not (tmp_path / "data" / "bench" / str(accounts)).exists()
    assert f"kit bench: {accounts:,} accounts of a subscription business" in out


def test_worlds_and_their_stages(base, capsys):
    assert world_stages("retail") is STAGES
    subscription = world_stages("subscriptions")
    assert [s.name for s in subscription] == ["demo-data", "ingest", "features-tags", "churn"]
    retail = {s.name: s for s in STAGES}
    assert all(s == retail[s.name] for s in subscription[1:])  # the retail stages and targets
    with pytest.raises(BenchError, match="unknown world 'shops'; known worlds: retail, subscriptions"):
        world_stages("shops")
    with pytest.raises(BenchError, match="unknown stage.*clv.*known stages: demo-data, ingest, features-tags, churn"):
        run_bench(base, customers=10, world="subscriptions", stages=["clv"])
    assert main(["bench", "--customers", "10", "--world", "shops", "--config", str(base.source_file)]) == 2
    assert "unknown world 'shops'" in capsys.readouterr().err
