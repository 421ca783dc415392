"""A company without experiments: no catalogue file, a config without an experiments
section, an empty catalogue or no assignment data each give the 06 page one plain line
and no readout, never an error."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from kit.core.config import load_config
from kit.core.warehouse import Warehouse
from kit.experiments import page, pipeline
from kit.text.fmt import Formatter

MONTH = "2026-10"
CATALOG = """experiments:
  - id: retention_coupon
    control: control
    variants: {control: 0.5, coupon: 0.5}
    start: "2026-09-01"
    end: "2026-10-31"
    primary_metric: conversion
"""


class Recorder:
    """A Canvas (kit.text.cards) that records what a page draws."""

    def __init__(self) -> None:
        self.lang, self.fmt, self.calls = "en", Formatter("en", "CNY"), []

    def __getattr__(self, name: str):
        return lambda *args, **kwargs: self.calls.append(name)


def _project(root: Path, experiments: str | None, catalog: str | None = None) -> Warehouse:
    """A project folder whose config has ``experiments`` as its experiments section (None: none),
    a warehouse with orders but no assignments, and the catalogue text ``catalog`` if given."""
    (root / "config").mkdir(parents=True)
    text = "paths:\n  warehouse: wh\n" + (experiments or "")
    (root / "config" / "kit.yml").write_text(text, encoding="utf-8")
    (root / "wh").mkdir()
    pd.DataFrame({"customer_id": ["a"], "order_ts": pd.to_datetime(["2026-10-02"]), "amount": [1.0]}).to_parquet(
        root / "wh" / "orders.parquet", index=False)
    if catalog is not None:
        (root / "experiments.yml").write_text(catalog, encoding="utf-8")
    return Warehouse(root / "wh")


def _read(root: Path, wh: Warehouse) -> tuple[pipeline.ExperimentsResult, list[str], Recorder]:
    result = pipeline.run(wh, MONTH, load_config(root / "config" / "kit.yml"))
    canvas = Recorder()
    page.experiment_sections(canvas, result)
    page.glossary(canvas, result)
    return result, page.findings(result, Formatter("en", "CNY")), canvas


def test_no_catalogue_configured_is_one_plain_line(tmp_path: Path) -> None:
    """A config without an experiments section names no catalogue: the company runs none."""
    result, findings, canvas = _read(tmp_path, _project(tmp_path, None))
    assert result.missing == "unset" and result.items == []
    assert findings == [
        "No experiments this month: no experiment catalogue is configured. To read out experiments, list them "
        "in a YAML file and name it in experiments.catalog."
    ]
    assert canvas.calls == []
    assert result.headline() == {"experiments": 0, "missing": "unset"}


def test_no_catalogue_file_is_one_plain_line(tmp_path: Path) -> None:
    """A configured catalogue that does not exist is named on the page (a typo is visible)."""
    result, findings, canvas = _read(tmp_path, _project(tmp_path, "experiments:\n  catalog: nowhere/experiments.yml\n"))
    assert result.missing == "catalog" and result.items == []
    assert findings == [
        "No experiments this month: there is no experiment catalogue (experiments.yml was not found), so nothing "
        "was read out. To read out experiments, list them in a YAML file and name it in experiments.catalog."
    ]
    assert canvas.calls == []
    assert result.headline() == {"experiments": 0, "missing": "catalog"}


def test_a_catalogue_without_assignment_data_is_one_plain_line(tmp_path: Path) -> None:
    wh = _project(tmp_path, "experiments:\n  catalog: experiments.yml\n", CATALOG)
    result, findings, canvas = _read(tmp_path, wh)
    assert result.missing == "assignments" and result.listed == 1
    assert findings == ["No experiments this month: the data holds no experiment assignments, so the 1 catalogued "
                        "experiment(s) cannot be read out."]
    assert canvas.calls == []


def test_an_empty_catalogue_reads_out_nothing(tmp_path: Path) -> None:
    wh = _project(tmp_path, "experiments:\n  catalog: experiments.yml\n", "experiments: []\n")
    result, findings, canvas = _read(tmp_path, wh)
    assert result.missing is None and result.items == []
    assert findings == ["No experiments this month: the experiment catalogue lists none, so there is nothing to read out."]
    assert canvas.calls == [] and result.headline() == {"experiments": 0}
