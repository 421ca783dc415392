"""Every notebook in notebooks/ follows the conventions the runner relies on.

- a cell tagged ``parameters`` holding only literal assignments, with typed defaults for
  ``month`` (YYYY-MM), ``config_path`` (a config file that exists, relative to notebooks/),
  ``lang`` (en/zh) and ``headless`` (bool), so the notebook runs as-is on the demo data;
- a kernelspec; no stored outputs and no execution counts (strip before committing);
- ``Report.start(..., notebook="<file name>")`` so metrics land under the right name;
- listed in ``run.notebooks`` of config/kit.yml (otherwise it is never published).
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook, new_output

from kit.core.config import MONTH_PATTERN, PROJECT_ROOT, load_config
from kit.runner import RunError, parameters_cell

NOTEBOOKS = sorted((PROJECT_ROOT / "notebooks").glob("*.ipynb"))
FIXTURES = sorted((Path(__file__).parents[1] / "fixtures" / "notebooks").glob("*.ipynb"))


def problems(path: Path, declared: list[str] | None = None) -> list[str]:
    """Every convention ``path`` breaks (empty when it follows them all)."""
    found = []
    try:
        params = parameters_cell(path)
    except RunError as exc:
        params = {}
        found.append(str(exc))
    typed = {
        "month": lambda v: isinstance(v, str) and bool(MONTH_PATTERN.match(v)),
        "config_path": lambda v: isinstance(v, str) and (path.parent / v).is_file(),
        "lang": lambda v: v in ("en", "zh"),
        "headless": lambda v: isinstance(v, bool),
    }
    for name, ok in typed.items():
        if name not in params:
            found.append(f"parameters cell does not define {name}")
        elif not ok(params[name]):
            found.append(f"parameters cell: {name} = {params[name]!r} is not a valid default")
    nb = nbformat.read(path, as_version=4)
    if not nb.metadata.get("kernelspec", {}).get("name"):
        found.append("no kernelspec in the notebook metadata")
    for index, cell in enumerate(nb.cells, start=1):
        if cell.cell_type != "code":
            continue
        if cell.get("outputs"):
            found.append(f"cell {index} has stored outputs (clear them, e.g. nbstripout)")
        if cell.get("execution_count") is not None:
            found.append(f"cell {index} has an execution count (clear outputs before committing)")
        if "Report.start(" in cell.source and f'notebook="{path.stem}"' not in cell.source:
            found.append(f'cell {index}: Report.start must pass notebook="{path.stem}"')
    if declared is not None and path.stem not in declared:
        found.append(f"{path.stem} is not listed in run.notebooks of config/kit.yml")
    return found


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_follows_the_conventions(path):
    declared = load_config().run.notebooks
    assert problems(path, declared) == []


@pytest.mark.parametrize("path", FIXTURES, ids=[p.name for p in FIXTURES])
def test_runner_fixtures_follow_the_conventions(path):
    assert problems(path) == []


def test_the_check_finds_each_broken_convention(tmp_path):
    params = new_code_cell('month = "2026-13"\nconfig_path = "missing.yml"\nlang = "en"')
    params.metadata["tags"] = ["parameters"]
    start = new_code_cell('rep = Report.start(config_path, month=month, notebook="05_churn")', execution_count=3)
    start.outputs = [new_output("stream", name="stdout", text="hi")]
    path = tmp_path / "04_clv.ipynb"
    nbformat.write(new_notebook(cells=[params, start]), path)
    found = "\n".join(problems(path, declared=["01_ingest"]))
    for expected in ["month = '2026-13'", "config_path = 'missing.yml'", "does not define headless",
                     "no kernelspec", "cell 2 has stored outputs", "cell 2 has an execution count",
                     'notebook="04_clv"', "not listed in run.notebooks"]:
        assert expected in found, expected
