"""Interactive sessions work in a scratch area and never change what `kit run` published."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pytest

from kit.core import scratch
from kit.core.config import load_config
from kit.report.shell import Report

GEN_A, GEN_B = "20261101T000000-1-aaaa", "20261201T000000-2-bbbb"


def published_warehouse(root: Path, gen: str, text: str) -> Path:
    """A warehouse whose current generation ``gen`` holds one snapshot file."""
    folder = root / "generations" / gen / "snapshots" / "2026-10"
    folder.mkdir(parents=True)
    (folder / "segments.parquet").write_text(text, encoding="utf-8")
    (root / "CURRENT").write_text(gen + "\n", encoding="utf-8")
    return root / "generations" / gen


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    (tmp_path / "notebooks").mkdir()
    cfg = tmp_path / "kit.yml"
    cfg.write_text("paths:\n  warehouse: wh\n  reports: rep\n  notebooks: notebooks\n", encoding="utf-8")
    return cfg


def test_an_interactive_report_writes_to_a_scratch_copy_never_the_published_generation(project, monkeypatch):
    # before: a notebook run by hand wrote its snapshots and metrics into the published
    # warehouse and its exports into reports/<month>/exports
    published = published_warehouse(project.parent / "wh", GEN_A, "published")
    monkeypatch.setattr("kit.report.shell._display_html", lambda html: None)
    rep = Report.start(project, month="2026-10", lang="zh", notebook="03_segmentation")
    copy = scratch.user_dir(rep.config) / "warehouse"
    assert rep.wh.root == copy
    assert (copy / "snapshots" / "2026-10" / "segments.parquet").read_text(encoding="utf-8") == "published"
    rep.save_metrics({"customers": 3})
    rep.wh.write_snapshot("2026-10", "note", pd.DataFrame({"x": [1]}))
    assert (copy / "snapshots" / "2026-10" / "metrics" / "03_segmentation.json").is_file()
    assert sorted(p.name for p in (published / "snapshots" / "2026-10").iterdir()) == ["segments.parquet"]
    assert (published / "snapshots" / "2026-10" / "segments.parquet").read_text(encoding="utf-8") == "published"
    assert rep.export_dir.is_relative_to(scratch.user_dir(rep.config))
    assert not (project.parent / "rep").exists()


def test_the_scratch_copy_is_kept_until_a_newer_generation_is_published(project):
    config = load_config(project)
    root = project.parent / "wh"
    published_warehouse(root, GEN_A, "first")
    copy = scratch.warehouse(config)
    (copy / "mine.txt").write_text("an analyst's experiment", encoding="utf-8")
    assert scratch.warehouse(config) == copy and (copy / "mine.txt").is_file()  # same base: kept
    published_warehouse(root, GEN_B, "second")
    copy = scratch.warehouse(config)
    assert not (copy / "mine.txt").exists()
    assert (copy / "snapshots" / "2026-10" / "segments.parquet").read_text(encoding="utf-8") == "second"


def test_no_warehouse_yet_gives_an_empty_scratch_warehouse(project):
    copy = scratch.warehouse(load_config(project))
    assert copy.is_dir() and not any(copy.iterdir())
    assert not (project.parent / "wh").exists()


def test_working_notebooks_point_at_the_config_and_are_never_overwritten(project):
    config = load_config(project)
    tracked = project.parent / "notebooks" / "01_ingest.ipynb"
    cell = {
        "cell_type": "code", "metadata": {"tags": ["parameters"]}, "outputs": [], "execution_count": None,
        "source": ['month = "2026-10"\n', 'config_path = "../config/kit.yml"\n', "headless = False"],
    }
    tracked.write_text(json.dumps({"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}), encoding="utf-8")
    folder, stale = scratch.working_notebooks(config, project)
    copy = folder / "01_ingest.ipynb"
    source = "".join(json.loads(copy.read_text(encoding="utf-8"))["cells"][0]["source"])
    assert f"config_path = {json.dumps(str(project))}" in source and 'month = "2026-10"' in source
    assert stale == []
    copy.write_text(copy.read_text(encoding="utf-8").replace("2026-10", "2026-09"), encoding="utf-8")
    tracked.touch()
    os.utime(copy, (0, 0))  # the tracked notebook is now newer than the working copy
    _, stale = scratch.working_notebooks(config, project)
    assert "2026-09" in copy.read_text(encoding="utf-8")  # the analyst's edit is kept
    assert len(stale) == 1 and "delete it to get the new version" in stale[0]


def test_lab_runs_as_root_with_allow_root(monkeypatch, tmp_path):
    monkeypatch.setattr("os.geteuid", lambda: 0)
    assert scratch.lab_command(tmp_path)[-1] == "--allow-root"
    monkeypatch.setattr("os.geteuid", lambda: 1000)
    assert "--allow-root" not in scratch.lab_command(tmp_path)
