"""The monthly runner: planning, parameter checks, publishing, atomic failure handling.

The kernel tests run the tiny notebooks of tests/fixtures/notebooks with a real
``python3`` kernel: one successful run is shared (module fixture) and copied by the tests
that need an already-published month.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from kit.cli import main
from kit.core.config import load_config
from kit.publish import remote_resources
from kit.runner import (
    INJECTED,
    RunError,
    check_parameters,
    parameters_cell,
    plan,
    run_month,
)

FIXTURES = Path(__file__).parents[1] / "fixtures" / "notebooks"
MONTH = "2026-09"


def write_config(folder: Path, notebooks: list[str], notebooks_dir: Path = FIXTURES) -> Path:
    """A config whose folders live in ``folder`` (relative paths) and notebooks in ``notebooks_dir``."""
    folder.mkdir(parents=True, exist_ok=True)
    file = folder / "kit.yml"
    file.write_text(
        "run:\n"
        f"  notebooks: [{', '.join(notebooks)}]\n"
        "  timeout_seconds: 120\n"
        "paths:\n"
        "  raw: raw\n"
        "  warehouse: warehouse\n"
        "  reports: reports\n"
        f"  notebooks: {notebooks_dir}\n",
        encoding="utf-8",
    )
    return file


def notebook_with_parameters(path: Path, source: str) -> Path:
    cell = new_code_cell(source)
    cell.metadata["tags"] = ["parameters"]
    nb = new_notebook(cells=[cell, new_code_cell("print(month)")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


# --------------------------------------------------------------------------- no kernel


def test_parameters_cell_reads_literal_defaults():
    values = parameters_cell(FIXTURES / "01_first.ipynb")
    assert values == {
        "month": "2026-10", "config_path": "../../../config/kit.yml", "lang": "en", "headless": False, "run_dir": None
    }


def test_unknown_injected_name_is_refused_naming_notebook_and_parameter(tmp_path):
    path = notebook_with_parameters(tmp_path / "04_clv.ipynb", 'month = "2026-10"\nconfig_path = "x"\nlang = "en"')
    with pytest.raises(RunError) as info:
        check_parameters(path, INJECTED)
    assert "04_clv.ipynb" in str(info.value) and "'headless', 'run_dir'" in str(info.value)
    check_parameters(path, ["month", "lang"])  # defined names pass


@pytest.mark.parametrize(
    ("source", "problem"),
    [("month = get_month()", "not a literal"), ("print('x')", "only assign literal values"), ("month = (", "not valid Python")],
)
def test_parameters_cell_must_hold_literal_assignments(tmp_path, source, problem):
    path = notebook_with_parameters(tmp_path / "02_tags.ipynb", source)
    with pytest.raises(RunError, match=problem):
        parameters_cell(path)


def test_notebook_without_parameters_cell_is_refused(tmp_path):
    nb = new_notebook(cells=[new_code_cell('month = "2026-10"')])
    nbformat.write(nb, tmp_path / "03_segmentation.ipynb")
    with pytest.raises(RunError, match=r"03_segmentation.ipynb: no cell is tagged 'parameters'"):
        parameters_cell(tmp_path / "03_segmentation.ipynb")


def test_run_refuses_before_executing_anything(tmp_path):
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    defined = 'month = "x"\nconfig_path = "x"\nlang = "en"\nheadless = False\nrun_dir = None'
    notebook_with_parameters(notebooks / "01_a.ipynb", defined)
    notebook_with_parameters(notebooks / "02_b.ipynb", defined.replace("\nrun_dir = None", ""))
    config = load_config(write_config(tmp_path, ["01_a", "02_b"], notebooks))
    with pytest.raises(RunError, match=r"02_b.ipynb.*'run_dir'"):
        run_month(config, MONTH)
    assert not (tmp_path / "reports").exists()


def test_a_run_with_ingest_checks_the_identity_key_before_any_kernel(tmp_path, monkeypatch):
    # before: a bad key failed inside the 01_ingest kernel, and a newly created key's
    # "keep and back it up" line went to that kernel's stderr, which the page drops
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    defined = 'month = "x"\nconfig_path = "x"\nlang = "en"\nheadless = False\nrun_dir = None'
    notebook_with_parameters(notebooks / "01_ingest.ipynb", defined)
    config = load_config(write_config(tmp_path, ["01_ingest"], notebooks))
    monkeypatch.setenv(config.identity.key_env, "too-short")
    with pytest.raises(RunError, match=r"identity key .* needs at least"):
        run_month(config, MONTH)
    assert not (tmp_path / "reports").exists()


def test_plan_keeps_run_order_for_only_and_names_missing_files(tmp_path):
    config = load_config(write_config(tmp_path, ["01_first", "02_broken", "03_overview"]))
    assert [p.stem for p in plan(config, ["03_overview", "02_broken"])] == ["02_broken", "03_overview"]
    # a notebook not in READS is taken to read every notebook before it
    assert [p.stem for p in plan(config, ["01_first"])] == ["01_first", "02_broken", "03_overview"]
    with pytest.raises(RunError, match=r"--only 09_nope: not in run.notebooks.*Known notebooks: 01_first"):
        plan(config, ["09_nope"])
    missing = load_config(write_config(tmp_path / "m", ["01_first", "05_churn"]))
    with pytest.raises(RunError, match=r"not found in .*: 05_churn.ipynb"):
        plan(missing, None)


def test_cli_reports_start_problems_with_exit_code_2(tmp_path, capsys):
    config = write_config(tmp_path, ["01_first", "05_churn"])
    assert main(["run", "--config", str(config), "--month", MONTH]) == 2
    assert "05_churn.ipynb" in capsys.readouterr().err
    assert main(["run", "--config", str(config), "--month", "2026-13"]) == 2
    assert "expected YYYY-MM" in capsys.readouterr().err
    assert main(["run", "--config", str(tmp_path / "missing.yml")]) == 2
    assert "config file not found" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        main(["run", "--lang", "fr"])
    assert info.value.code == 2


# --------------------------------------------------------------------------- with a kernel


@pytest.fixture(scope="module")
def published(tmp_path_factory) -> Path:
    """A world where 01_first and 03_overview were published for MONTH; returns its folder."""
    world = tmp_path_factory.mktemp("world")
    config = write_config(world, ["01_first", "03_overview"])
    (world / "raw").mkdir()
    (world / "raw" / "orders.csv").write_text("order_id\nS1\n")
    assert main(["run", "--config", str(config), "--month", MONTH]) == 0
    return world


def copy_world(published: Path, tmp_path: Path) -> Path:
    world = tmp_path / "world"
    shutil.copytree(published, world)
    return world


def test_success_publishes_pages_index_manifest_and_metrics(published):
    month_dir = published / "reports" / MONTH
    assert sorted(p.name for p in month_dir.iterdir()) == [
        "01_first.html", "03_overview.html", "exports", "index.html", "metrics.json", "notebooks", "run.json"
    ]
    assert (month_dir / "exports" / "first_list.csv").read_text() == "customer_id\nC0000000001\n"
    assert sorted(p.name for p in (month_dir / "notebooks").iterdir()) == ["01_first.ipynb", "03_overview.ipynb"]
    assert not [p for p in (published / "reports").iterdir() if p.name.startswith(".")]
    run = json.loads((month_dir / "run.json").read_text())
    assert run["month"] == MONTH and run["kit_version"]
    assert run["parameters"] == {
        "month": MONTH, "config_path": str(published / "kit.yml"), "lang": "en", "headless": True
    }
    assert [(n["name"], n["status"]) for n in run["notebooks"]] == [("01_first", "ok"), ("03_overview", "ok")]
    assert all(n["seconds"] > 0 for n in run["notebooks"])
    assert run["data"]["raw"][0]["path"] == "orders.csv" and run["data"]["raw"][0]["bytes"] == 12
    assert json.loads((month_dir / "metrics.json").read_text()) == {"01_first": {"customers": 1234, "lang": "en"}}
    month_index = (month_dir / "index.html").read_text()
    assert month_index.index("03_overview.html") < month_index.index("01_first.html")
    assert f'href="{MONTH}/index.html"' in (published / "reports" / "index.html").read_text()


def test_published_page_has_no_code_noise_or_remote_loads(published):
    page = (published / "reports" / MONTH / "01_first.html").read_text()
    body = page[page.index("<body") :]
    assert '<html lang="en">' in page
    assert remote_resources(page) == [] and "<script" not in page
    assert "FIXTURE-BODY first section" in body and f"Fixture first page {MONTH}" in body
    for gone in ["FIXTURE-WARNING", "FIXTURE-STDERR", "import json", "load_config", "headless = True",
                 "injected-parameters", "jp-InputPrompt"]:
        assert gone not in body, gone
    assert '<a href="#kit-section-1">Customers by month</a>' in body


def test_failing_notebook_keeps_the_published_month_and_exits_1(published, tmp_path, capsys):
    world = copy_world(published, tmp_path)
    before = {p.relative_to(world): p.read_bytes() for p in (world / "reports").rglob("*") if p.is_file()}
    config = write_config(world, ["01_first", "02_broken", "03_overview"])
    capsys.readouterr()
    assert main(["run", "--config", str(config), "--month", MONTH]) == 1
    out = capsys.readouterr().out
    assert "02_broken" in out and "cell 3 of 3" in out
    assert "ValueError: deliberate fixture failure" in out
    assert "03_overview" in out and "not run" in out
    assert "FAILED at 02_broken" in out
    after = {p.relative_to(world): p.read_bytes() for p in (world / "reports").rglob("*") if p.is_file()}
    kept = world / "reports" / "failed" / MONTH / "02_broken.ipynb"
    assert kept.exists()
    assert "deliberate fixture failure" in kept.read_text()
    assert {k: v for k, v in after.items() if "failed" not in k.parts} == before
    assert not [p for p in (world / "reports").iterdir() if p.name.startswith(".")]


def test_only_runs_a_subset_and_merges_with_the_published_month(published, tmp_path):
    world = copy_world(published, tmp_path)
    month_dir = world / "reports" / MONTH
    first_page = (month_dir / "01_first.html").read_bytes()
    config = load_config(world / "kit.yml")
    lines: list[str] = []
    result = run_month(config, MONTH, only=["03_overview"], lang="zh", echo=lines.append)
    assert result.exit_code == 0 and len(lines) == 2 and lines[0].startswith("03_overview")
    assert (month_dir / "01_first.html").read_bytes() == first_page
    assert (month_dir / "notebooks" / "01_first.ipynb").exists()
    assert '<html lang="zh">' in (month_dir / "03_overview.html").read_text()
    run = json.loads((month_dir / "run.json").read_text())
    assert run["only"] == ["03_overview"]
    assert [n["name"] for n in run["notebooks"]] == ["01_first", "03_overview"]
    assert run["notebooks"][0].get("carried_over") is True and "carried_over" not in run["notebooks"][1]
    index = (month_dir / "index.html").read_text()
    assert "01_first.html" in index and "03_overview.html" in index
    assert (month_dir / "exports" / "first_list.csv").exists()  # the earlier run's export is kept


def test_a_full_run_replaces_the_month_without_carrying_pages_over(published, tmp_path):
    world = copy_world(published, tmp_path)
    config = load_config(write_config(world, ["03_overview"]))
    assert run_month(config, MONTH, echo=lambda line: None).ok
    month_dir = world / "reports" / MONTH
    assert sorted(p.name for p in month_dir.glob("*.html")) == ["03_overview.html", "index.html"]
    assert not (month_dir / "exports").exists() and not (month_dir / "notebooks" / "01_first.ipynb").exists()
    assert [n["name"] for n in json.loads((month_dir / "run.json").read_text())["notebooks"]] == ["03_overview"]
    assert not [p for p in (world / "reports").iterdir() if p.name.startswith(".")]


# --------------------------------------------------------------------------- end to end
