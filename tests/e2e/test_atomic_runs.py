"""A failed or killed run changes nothing (issue 15 §3) and the data fitness gate (§2).

The runs use the real ingest on the tiny hand-written world (tests/worlds.py, section 3)
and small fixture notebooks (tests/fixtures/notebooks/01_ingest, 04_tables, 02_broken)
that write warehouse tables, snapshots, metrics, exports and pages through the kit's own
writers. "State" below is the SHA-256 of every file of the current warehouse generation
and of the reports folder.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import psutil
import pytest
import yaml
from worlds import write_tiny_world

from kit.cli import main
from kit.core import atomic, generations
from kit.core.atomic import WriteError, atomic_path, write_text_atomic
from kit.core.config import load_config
from kit.core.warehouse import DamagedFileError, Warehouse
from kit.runner import dependents, recover, run_month

FIXTURES = Path(__file__).parents[1] / "fixtures" / "notebooks"
MONTH = "2026-09"
REAL = ["01_ingest", "02_tags", "03_segmentation", "04_clv", "05_churn", "06_experiment_readout", "07_overview"]


def project(root: Path, notebooks: list[str]) -> Path:
    """The tiny world under ``root`` with a config that runs the given fixture notebooks."""
    config = write_tiny_world(root)
    data = yaml.safe_load(config.read_text(encoding="utf-8"))
    data["run"].update({"notebooks": notebooks, "timeout_seconds": 120, "month": MONTH})
    data["paths"]["notebooks"] = str(FIXTURES)
    config.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return config


def state(root: Path) -> dict[str, str]:
    """Checksums of the current warehouse generation and the reports (the lock file aside)."""
    config = load_config(root / "config" / "kit.yml")
    folders = {"wh": Warehouse.from_config(config).root, "reports": config.resolve(config.paths.reports)}
    return {
        f"{label}/{p.relative_to(folder)}": hashlib.sha256(p.read_bytes()).hexdigest()
        for label, folder in folders.items() if folder.is_dir()
        for p in sorted(folder.rglob("*")) if p.is_file()
    }


def tree(folder: Path) -> dict[str, str]:
    """Checksums of every file under ``folder``."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.rglob("*") if p.is_file()}


def leftovers(root: Path) -> list[Path]:
    """Temp, 0-byte and staging files anywhere in the project (none may survive a run)."""
    return [
        p for p in root.rglob("*")
        if p.name.endswith(".tmp") or p.name.startswith((".run-", ".previous-", ".staging-"))
        or (p.is_file() and p.stat().st_size == 0 and p.name != generations.LOCK)
    ]


@pytest.fixture(scope="module")
def published(tmp_path_factory) -> Path:
    """The tiny world with MONTH published once by 01_ingest + 04_tables; returns its root."""
    root = tmp_path_factory.mktemp("atomic")
    config = project(root, ["01_ingest", "04_tables"])
    assert main(["run", "--config", str(config), "--accept-data-warnings"]) == 0
    return root


@pytest.fixture()
def world(published: Path, tmp_path: Path) -> Path:
    """A private copy of the published world."""
    subprocess.run(["cp", "-a", str(published), str(tmp_path / "w")], check=True)
    return tmp_path / "w"


def config_of(root: Path, notebooks: list[str] | None = None) -> Path:
    """The world's config file, optionally with other notebooks to run."""
    file = root / "config" / "kit.yml"
    if notebooks is not None:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
        data["run"]["notebooks"] = notebooks
        file.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return file


# --------------------------------------------------------------------------- the writer


def test_atomic_write_replaces_whole_or_leaves_the_old_file(tmp_path):
    target = tmp_path / "t.parquet"
    write_text_atomic(target, "old")
    with pytest.raises(WriteError) as info, atomic_path(target) as tmp:
        tmp.write_text("half")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    assert str(info.value) == f"[Errno {errno.ENOSPC}] cannot write {target}: No space left on device"
    assert info.value.errno == errno.ENOSPC
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["t.parquet"]
    with pytest.raises(ValueError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise ValueError("writer bug")
    assert target.read_text() == "old" and len(list(tmp_path.iterdir())) == 1


def test_atomic_write_never_changes_a_hard_linked_twin(tmp_path):
    """A new generation shares inodes with the previous one: a write must not reach the twin."""
    wh = Warehouse(tmp_path / "a")
    snapshot = wh.write_snapshot(MONTH, "profile", pd.DataFrame({"x": [1]}))
    os.link(snapshot, tmp_path / "twin.parquet")
    wh.write_snapshot(MONTH, "profile", pd.DataFrame({"x": [2]}))
    assert pd.read_parquet(tmp_path / "twin.parquet")["x"].tolist() == [1]
    write_text_atomic(tmp_path / "a" / "f.json", "previous")
    os.link(tmp_path / "a" / "f.json", tmp_path / "twin.json")
    write_text_atomic(tmp_path / "a" / "f.json", "new")
    assert (tmp_path / "twin.json").read_text() == "previous"


def test_temp_names_are_never_shared():
    names = {atomic.temp_name(Path("/w/orders.parquet")) for _ in range(200)}
    assert len(names) == 200 and all(n.parent == Path("/w") and str(os.getpid()) in n.name for n in names)


def test_truncated_parquet_names_the_file(tmp_path):
    wh = Warehouse(tmp_path)
    path = wh.write_snapshot(MONTH, "clv", pd.DataFrame({"customer_id": ["C1"] * 100, "clv": range(100)}))
    path.write_bytes(path.read_bytes()[:-40])
    with pytest.raises(DamagedFileError, match=rf"{path} is not a readable Parquet file .*re-run the month"):
        wh.read_snapshot(MONTH, "clv")
    (tmp_path / "orders.parquet").write_bytes(path.read_bytes()[:50])
    with pytest.raises(DamagedFileError, match=r"orders\.parquet is not a readable Parquet file"):
        wh.table("orders").count().execute()


def test_only_reruns_what_reads_the_changed_data():
    assert dependents(REAL, ["02_tags"]) == ["03_segmentation", "04_clv", "05_churn", "06_experiment_readout", "07_overview"]
    assert dependents(REAL, ["04_clv"]) == ["05_churn", "07_overview"]
    assert dependents(REAL, ["07_overview"]) == []
    assert dependents(REAL, ["01_ingest"]) == REAL[1:]


# --------------------------------------------------------------------------- generations


def test_a_run_publishes_a_new_generation_and_keeps_the_previous_byte_identical(world):
    root = world / "data" / "warehouse"
    first = generations.current_id(root)
    first_files = tree(root / "generations" / first)
    assert main(["run", "--config", str(config_of(world)), "--accept-data-warnings"]) == 0
    second = generations.current_id(root)
    assert second != first and tree(root / "generations" / first) == first_files
    run = json.loads((world / "reports" / MONTH / "run.json").read_text())
    assert run["generation"] == second and run["accepted_data_warnings"] is True
    assert run["data"]["warehouse_dir"] == str(root / "generations" / second)
    # a third run keeps the current generation and its parent only
    assert main(["run", "--config", str(config_of(world, ["04_tables"]))]) == 0
    assert sorted(p.name for p in (root / "generations").iterdir()) == sorted([second, generations.current_id(root)])
    assert leftovers(world) == []


def test_a_failed_run_changes_nothing(world, capsys):
    before = state(world)
    current = generations.current_id(world / "data" / "warehouse")
    previous = tree(world / "data" / "warehouse" / "generations" / current)
    config = config_of(world, ["01_ingest", "04_tables", "02_broken"])
    capsys.readouterr()
    assert main(["run", "--config", str(config), "--accept-data-warnings"]) == 1
    out = capsys.readouterr().out
    assert "deliberate fixture failure" in out and "warehouse left unchanged" in out
    after = {k: v for k, v in state(world).items() if "/failed/" not in k}
    assert after == before
    assert tree(world / "data" / "warehouse" / "generations" / current) == previous
    assert len(list((world / "data" / "warehouse" / "generations").iterdir())) == 1
    assert leftovers(world) == []


def test_a_flat_warehouse_becomes_the_first_generation(tmp_path):
    root = tmp_path / "wh"
    Warehouse(root).write_snapshot(MONTH, "profile", pd.DataFrame({"x": [1]}))
    write_text_atomic(root / "ingest_report.json", "{}")
    (root / "keep-me.csv").write_text("not a warehouse file")
    gen = generations.adopt_flat(root)
    assert generations.current_dir(root) == root / "generations" / gen
    assert Warehouse(generations.current_dir(root)).has_snapshot(MONTH, "profile")
    assert sorted(p.name for p in root.iterdir()) == ["CURRENT", "generations", "keep-me.csv"]


def test_a_kill_between_the_commit_renames_is_rolled_forward(world, monkeypatch):
    """The journal is written, the month is moved, then the process dies before CURRENT."""
    root = world / "data" / "warehouse"
    old = generations.current_id(root)

    def die(path, text, encoding="utf-8"):
        if Path(path).name == generations.CURRENT:
            raise KeyboardInterrupt  # stands for a kill: nothing after this line runs
        return real(path, text, encoding)

    real = generations.write_text_atomic
    monkeypatch.setattr(generations, "write_text_atomic", die)
    config = load_config(config_of(world, ["04_tables"]))
    with pytest.raises(KeyboardInterrupt):
        run_month(config, MONTH, echo=lambda line: None)
    monkeypatch.undo()
    journal = generations.read_journal(root)
    assert journal and generations.current_id(root) == old  # half done: pages new, data old
    lines: list[str] = []
    run_month(config, MONTH, only=["04_tables"], echo=lines.append)
    assert lines[0].startswith(f"finished publishing {MONTH} (generation {journal['generation']})")
    run = json.loads((world / "reports" / MONTH / "run.json").read_text())
    assert run["generation"] == generations.current_id(root) and run["only"] == ["04_tables"]
    assert generations.read_journal(root) is None and leftovers(world) == []


def test_only_refuses_pages_built_from_another_generation(world, capsys):
    config = config_of(world, ["04_tables"])
    assert main(["run", "--config", str(config), "--month", "2026-10"]) == 0
    capsys.readouterr()
    assert main(["run", "--config", str(config), "--month", MONTH, "--only", "04_tables"]) == 2
    err = capsys.readouterr().err
    assert "built from warehouse generation" in err and f"kit run --month {MONTH}" in err


def test_stale_run_folders_and_generations_are_cleaned_at_the_next_start(world):
    root = world / "data" / "warehouse"
    stale_gen = generations.start(root)
    (world / "reports" / f".run-{MONTH}-x" / "month").mkdir(parents=True)
    assert main(["run", "--config", str(config_of(world, ["04_tables"])), "--only", "04_tables"]) == 0
    assert not stale_gen.path.exists() and leftovers(world) == []


# --------------------------------------------------------------------------- faults


def test_disk_full_while_publishing_names_the_file_and_changes_nothing(world, monkeypatch, capsys):
    before = state(world)

    def full(path):
        if "reports" in Path(path).parts and Path(path).name.startswith(".run.json"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(path)

    real = atomic.fsync_file
    monkeypatch.setattr(atomic, "fsync_file", full)
    capsys.readouterr()
    assert main(["run", "--config", str(config_of(world, ["04_tables"]))]) == 1
    out = capsys.readouterr().out.strip().splitlines()
    assert out[-1].startswith(f"{MONTH}: FAILED (1 of 1 notebook(s) ok, ")
    assert f"could not publish: [Errno {errno.ENOSPC}] cannot write {world / 'reports'}/" in out[-1]
    assert "run.json: No space left on device" in out[-1] and out[-1].endswith("the warehouse left unchanged")
    assert state(world) == before and leftovers(world) == []


def test_a_blocked_reports_folder_keeps_the_notebooks_own_error(world, capsys):
    (world / "reports" / "failed").write_text("a file where the folder should be")
    capsys.readouterr()
    assert main(["run", "--config", str(config_of(world, ["02_broken"]))]) == 1
    out = capsys.readouterr().out
    assert "ValueError: deliberate fixture failure" in out
    assert f"could not keep the failed notebook: [Errno {errno.ENOTDIR}] cannot write {world / 'reports' / 'failed'}" in out


def test_a_missing_raw_file_fails_the_run_naming_it_and_changes_nothing(world, capsys):
    before = state(world)
    (world / "data" / "raw" / "demo" / "shop_orders.csv").unlink()
    capsys.readouterr()
    assert main(["run", "--config", str(config_of(world)), "--accept-data-warnings"]) == 1
    out = capsys.readouterr().out
    assert "shop_orders" in out and "FAILED at 01_ingest" in out
    assert {k: v for k, v in state(world).items() if "/failed/" not in k} == before


def test_a_second_run_gets_the_lock_message(world, capsys):
    """Two concurrent runs of one project: the second stops at once with exit 2, naming the first."""
    config = config_of(world, ["04_tables"])
    first = subprocess.Popen(
        [sys.executable, "-m", "kit.cli", "run", "--config", str(config)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    lock = world / "data" / "warehouse" / generations.LOCK
    deadline = time.monotonic() + 60
    while f"pid {first.pid}" not in (lock.read_text() if lock.exists() else "") and time.monotonic() < deadline:
        time.sleep(0.05)
    capsys.readouterr()
    assert main(["run", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert f"another kit run is using {world / 'data' / 'warehouse'} (pid {first.pid} on " in err
    assert first.wait(timeout=120) == 0, first.stdout.read()


# --------------------------------------------------------------------------- the data gate


def fake_fitness(grade: str):
    return lambda report: SimpleNamespace(grade=grade, problems=lambda: [f"source shop: 9.1% of lines quarantined (limit 5%) [{grade}]"])


def test_the_gate_stops_before_any_other_notebook_and_publishes_nothing(world, monkeypatch, capsys):
    from kit.ingest import quality

    before = state(world)
    monkeypatch.setattr(quality, "fitness", fake_fitness("fail"), raising=False)
    capsys.readouterr()
    assert main(["run", "--config", str(config_of(world))]) == 1
    out = capsys.readouterr().out
    assert "source shop: 9.1% of lines quarantined (limit 5%)" in out
    assert "kit run --accept-data-warnings" in out and "04_tables" in out and "not run" in out
    assert state(world) == before and leftovers(world) == []
    assert len(list((world / "data" / "warehouse" / "generations").iterdir())) == 1


def test_warnings_publish_and_accepted_failures_are_recorded(world, monkeypatch):
    from kit.ingest import quality

    monkeypatch.setattr(quality, "fitness", fake_fitness("warn"), raising=False)
    lines: list[str] = []
    result = run_month(load_config(config_of(world, ["01_ingest"])), MONTH, echo=lines.append)
    assert result.exit_code == 0 and "data warnings:\n    - source shop" in "\n".join(lines)
    run = json.loads((world / "reports" / MONTH / "run.json").read_text())
    assert run["data_fitness"] == "warn" and run["accepted_data_warnings"] is False
    monkeypatch.setattr(quality, "fitness", fake_fitness("fail"), raising=False)
    assert main(["run", "--config", str(config_of(world)), "--accept-data-warnings"]) == 0
    run = json.loads((world / "reports" / MONTH / "run.json").read_text())
    assert run["data_fitness"] == "fail" and run["accepted_data_warnings"] is True


# --------------------------------------------------------------------------- kill -9


@pytest.mark.slow
def test_kill_9_at_random_moments_leaves_the_old_or_the_new_month_never_a_mix(world):
    """Ten runs killed with SIGKILL at random moments; their kernels must end by themselves,
    and the next start's recovery must leave either the state before or a whole new
    publication."""
    config = config_of(world, ["01_ingest", "04_tables"])
    root = world / "data" / "warehouse"
    command = [sys.executable, "-m", "kit.cli", "run", "--config", str(config), "--accept-data-warnings"]
    started = time.monotonic()
    subprocess.run(command, check=True, capture_output=True)
    full_run = time.monotonic() - started
    rng = random.Random(15)
    outcomes = []
    for _ in range(10):
        before, gen_before = state(world), generations.current_id(root)
        previous_files = tree(root / "generations" / gen_before)
        run = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        time.sleep(rng.uniform(0.5, full_run))
        kernels = psutil.Process(run.pid).children(recursive=True)  # in sessions of their own
        os.killpg(run.pid, signal.SIGKILL)
        run.wait()
        # jupyter_client starts kernels in sessions of their own, so the kill does not reach
        # them; ipykernel's parent poller (JPY_PARENT_PID) ends each within a second. The
        # next start comes after that: a kernel still writing would recreate a run folder
        # that recovery had just cleaned up (what made this test flaky).
        _, alive = psutil.wait_procs(kernels, timeout=15)
        assert not alive, f"kernels outlived their killed run: {alive}"
        with generations.run_lock(root):  # what the next start does first
            recover(load_config(config), lambda line: None)
        after = state(world)
        assert tree(root / "generations" / gen_before) == previous_files
        if after == before:
            outcomes.append("old")
            continue
        outcomes.append("new")
        current = generations.current_id(root)
        published = json.loads((world / "reports" / MONTH / "run.json").read_text())
        metrics = json.loads((world / "reports" / MONTH / "metrics.json").read_text())
        assert published["generation"] == current != gen_before
        assert metrics == {
            f.stem: json.loads(f.read_text()) for f in sorted((root / "generations" / current / "snapshots" / MONTH / "metrics").glob("*.json"))
        }
        assert leftovers(world) == []
    print("kill outcomes:", outcomes)
