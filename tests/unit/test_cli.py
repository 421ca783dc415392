"""``kit run --month``: only ASCII YYYY-MM with a real month is accepted, refused before
anything runs (exit code 2, the message says the expected form); ``kit lab`` opens working
copies of the notebooks."""

from __future__ import annotations

from pathlib import Path

import pytest

from kit.cli import main


def config_without_notebooks(folder: Path) -> Path:
    """A config whose notebooks folder is empty: a month that got through would fail later
    with a different message ("not found"), so the tests see where a month is refused."""
    (folder / "notebooks").mkdir(parents=True)
    file = folder / "kit.yml"
    file.write_text("run:\n  notebooks: [01_first]\npaths:\n  reports: reports\n  notebooks: notebooks\n", encoding="utf-8")
    return file


@pytest.mark.parametrize("month", ["", "2026-10\n", "２０２６-１０", "2026-13", "2026-00", "2026-1", "2026/10"])
def test_run_refuses_a_month_that_is_not_ascii_yyyy_mm(tmp_path, capsys, month):
    # before: "" silently ran the config's month; "2026-10\n" and full-width digits passed
    config = config_without_notebooks(tmp_path)
    assert main(["run", "--config", str(config), "--month", month]) == 2
    err = capsys.readouterr().err
    assert "--month" in err and "expected YYYY-MM with a month 01-12" in err
    assert not (tmp_path / "reports").exists()


def test_a_valid_month_gets_past_the_check(tmp_path, capsys):
    config = config_without_notebooks(tmp_path)
    assert main(["run", "--config", str(config), "--month", "2026-10"]) == 2
    err = capsys.readouterr().err
    assert "expected YYYY-MM" not in err and "01_first" in err


def test_lab_opens_working_copies_not_the_tracked_notebooks(tmp_path, monkeypatch):
    # before: make lab opened notebooks/ itself, so autosave wrote outputs and parameter
    # edits into the tracked notebooks, and it refused to start as root
    file = config_without_notebooks(tmp_path)
    tracked = tmp_path / "notebooks" / "01_first.ipynb"
    tracked.write_text('{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}', encoding="utf-8")
    started = []
    monkeypatch.setattr("os.execv", lambda path, argv: started.append(argv))
    assert main(["lab", "--config", str(file)]) == 0
    (argv,) = started
    folder = Path(argv[3])
    assert argv[1:3] == ["-m", "jupyterlab"] and folder != tracked.parent
    assert (folder / "01_first.ipynb").is_file() and folder.is_relative_to(tmp_path / "data" / "scratch")


def test_check_exits_1_with_a_plain_message_when_the_config_does_not_load(tmp_path, capsys):
    file = tmp_path / "kit.yml"
    file.write_text("sources:\n  shop:\n    kind: order\n", encoding="utf-8")
    assert main(["check", "--config", str(file)]) == 1
    out = capsys.readouterr().out
    assert "NOT READY" in out and "sources.shop.kind" in out


def test_check_exits_1_when_a_declared_file_is_missing(tmp_path, capsys):
    file = tmp_path / "kit.yml"
    file.write_text("sources:\n  shop:\n    kind: orders\n    path: raw/none.csv\n", encoding="utf-8")
    assert main(["check", "--config", str(file)]) == 1
    assert "no file matches 'raw/none.csv'" in capsys.readouterr().out


def test_init_writes_config_named_after_the_folder_and_refuses_an_empty_folder(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "Shop Export").mkdir()
    assert main(["init", "Shop Export"]) == 2
    assert "no file the kit reads" in capsys.readouterr().err
    (tmp_path / "Shop Export" / "orders.csv").write_text("order_id,order_ts,amount\nA,2025-01-02 10:00:00,3\n", encoding="utf-8")
    assert main(["init", "Shop Export"]) == 0
    assert (tmp_path / "config" / "shop_export.yml").is_file()
    assert "kit check --config" in capsys.readouterr().out


def test_init_and_check_refuse_a_time_zone_that_does_not_exist(tmp_path, capsys):
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / "orders.csv").write_text("order_id,order_ts,amount\nA,2025-01-02 10:00:00,3\n", encoding="utf-8")
    assert main(["init", str(tmp_path / "raw"), "--out", str(tmp_path / "kit.yml"), "--timezone", "Mars/Olympus"]) == 2
    assert "'Mars/Olympus' is not a time zone name" in capsys.readouterr().err
    assert main(["init", str(tmp_path / "raw"), "--out", str(tmp_path / "kit.yml"), "--timezone", "UTC"]) == 0
    config = tmp_path / "kit.yml"
    config.write_text(config.read_text(encoding="utf-8").replace('"UTC"', '"Shanghai"'), encoding="utf-8")
    assert main(["check", "--config", str(config)]) == 1
    assert "project.timezone = 'Shanghai' is not a time zone name" in capsys.readouterr().out
