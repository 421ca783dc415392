"""Single notebooks run by hand (no run_dir: how JupyterLab runs them) in English and
Chinese on the worlds of their own topic: 02_tags on a fixture warehouse, 04_clv on a
warehouse with orders only, 06_experiment_readout on the 30,000-customer demo world where
one experiment has a sample-ratio bug. Run by hand, a notebook writes to the user's scratch
copy only. (Every notebook of a published month: tests/e2e/test_reports_e2e.py.)"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kit.clv.simulate import simulate_orders
from kit.core.config import PROJECT_ROOT, load_config
from kit.core.scratch import user_dir

pytestmark = pytest.mark.slow

NOTEBOOKS = PROJECT_ROOT / "notebooks"


def test_02_tags_runs_headless_in_both_languages(tag_project: Path, tag_runs: tuple, tmp_path: Path) -> None:
    # moved from tests/integration/test_tag_report.py (test_notebook_runs_headless_in_both_languages)
    papermill = pytest.importorskip("papermill")
    for lang in ("en", "zh"):
        out = tmp_path / f"02_tags_{lang}.ipynb"
        papermill.execute_notebook(
            str(NOTEBOOKS / "02_tags.ipynb"),
            str(out),
            parameters={"month": "2026-10", "config_path": str(tag_project / "config" / "kit.yml"), "lang": lang, "headless": True},
            cwd=str(NOTEBOOKS),
            kernel_name="python3",
            progress_bar=False,
        )
        text = out.read_text(encoding="utf-8")
        assert "Traceback" not in text
    # run by hand (no run_dir), the notebook writes to the user's scratch copy only
    scratch = user_dir(load_config(tag_project / "config" / "kit.yml"))
    metrics = json.loads((scratch / "warehouse" / "snapshots" / "2026-10" / "metrics" / "02_tags.json").read_text())
    assert metrics["tags"] == 30


def test_04_clv_runs_headless_in_both_languages(tmp_path: Path) -> None:
    # moved from tests/integration/test_clv_pipeline.py (test_notebook_runs_headless_in_both_languages)
    import papermill

    warehouse = tmp_path / "data" / "warehouse"
    warehouse.mkdir(parents=True)
    simulate_orders(1500, seed=8).to_parquet(warehouse / "orders.parquet", index=False)
    (tmp_path / "config").mkdir()
    config = tmp_path / "config" / "kit.yml"
    config.write_text("project: {name: Test Shop}\nrun: {month: '2026-10'}\n", encoding="utf-8")
    for lang in ("en", "zh"):
        papermill.execute_notebook(
            str(NOTEBOOKS / "04_clv.ipynb"),
            str(tmp_path / f"out_{lang}.ipynb"),
            parameters={"config_path": str(config), "lang": lang, "headless": True},
            cwd=str(NOTEBOOKS),
            progress_bar=False,
        )
    # run by hand (no run_dir), the notebook writes to the user's scratch copy only
    written = user_dir(load_config(config)) / "warehouse" / "snapshots" / "2026-10"
    assert (written / "clv.parquet").exists()
    assert (written / "metrics" / "04_clv.json").exists()
    assert not (warehouse / "snapshots").exists()


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_06_experiment_readout_runs_headless(experiments_world: Path, tmp_path: Path, lang: str) -> None:
    # moved from tests/integration/test_experiments_demo.py (test_notebook_runs_headless)
    papermill = pytest.importorskip("papermill")
    demo = experiments_world
    out = tmp_path / f"06_{lang}.ipynb"
    papermill.execute_notebook(
        str(NOTEBOOKS / "06_experiment_readout.ipynb"), str(out),
        parameters={"config_path": str(demo / "config" / "kit.yml"), "lang": lang, "headless": True},
        cwd=str(NOTEBOOKS), progress_bar=False,
    )
    nb = json.loads(out.read_text(encoding="utf-8"))
    outputs = [o for c in nb["cells"] for o in c.get("outputs", [])]
    assert not [o for o in outputs if o["output_type"] == "error"]
    stderr = [o for o in outputs if o["output_type"] == "stream" and o["name"] == "stderr"]
    # The shared chart theme's bold-title font fallback notice is not this page's text.
    assert all("".join(o["text"]).startswith("findfont:") for o in stderr), stderr
    html = "".join("".join(o.get("data", {}).get("text/html", "")) for o in outputs)
    assert ("样本比例失衡" if lang == "zh" else "Sample ratio mismatch") in html
    # run by hand (no run_dir), the notebook writes to the user's scratch copy only
    scratch = user_dir(load_config(demo / "config" / "kit.yml"))
    metrics = json.loads((scratch / "warehouse" / "snapshots" / "2026-10" / "metrics"
                          / "06_experiment_readout.json").read_text(encoding="utf-8"))
    assert metrics["app_homepage.decision"] == "investigate"
