"""Same inputs, same outputs: one raw world, two fresh warehouses, two languages.

The same demo raw files (the second copy with its rows shuffled) are ingested into two
fresh warehouses under the same identity key, and the month is run in each through
``kit.runner.run_month``: one in Chinese, one in English. Every snapshot table must be
the same (floats to 1e-6), every exported CSV the same apart from its header labels, and
every number of ``metrics.json`` the same. The language may change words on the pages,
nothing stored; the row order of the raw files may change nothing at all.

The two runs are the session's demo months (tests/worlds.py, section 4): 2026-09 of the
published demo world (its first month, in Chinese, from a fresh warehouse; its
generation is kept as the parent of October's) and 2026-09 of the same raw files shuffled,
in English, in a fresh project.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from worlds import DEMO_MONTHS, SHUFFLED

from kit.core.config import KitConfig
from kit.core.warehouse import Warehouse

pytestmark = pytest.mark.slow

MONTH = SHUFFLED["month"]
LANGS = ("en", "zh")
assert DEMO_MONTHS[MONTH] == "zh" and SHUFFLED["lang"] == "en" and MONTH == "2026-09"


@pytest.fixture(scope="module")
def runs(demo_months: KitConfig, shuffled_month: KitConfig) -> dict[str, KitConfig]:
    """The month run in two fresh projects from the same raw files (rows shuffled in the second)."""
    configs = {"zh": demo_months, "en": shuffled_month}
    assert {lang: run_of(config)["parameters"]["lang"] for lang, config in configs.items()} == {"zh": "zh", "en": "en"}
    first, second = (configs[lang].resolve(configs[lang].paths.raw) for lang in LANGS)
    assert (first / "shop_orders.csv").read_bytes() != (second / "shop_orders.csv").read_bytes()
    assert sorted(p.name for p in first.iterdir()) == sorted(p.name for p in second.iterdir())
    return configs


def run_of(config: KitConfig) -> dict:
    """The published run.json of ``MONTH``."""
    return json.loads((config.resolve(config.paths.reports) / MONTH / "run.json").read_text(encoding="utf-8"))


def snapshot_dir(config: KitConfig) -> Path:
    """``MONTH``'s snapshots in the warehouse generation that published it."""
    return Warehouse(Path(run_of(config)["data"]["warehouse_dir"])).snapshot_dir(MONTH)


def _comparable(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` in a row order that does not depend on how it was written: by customer id
    (or the first column), then every non-float column."""
    keys = [c for c in frame.columns if not pd.api.types.is_float_dtype(frame[c])]
    if "customer_id" in keys:
        keys.remove("customer_id")
        keys.insert(0, "customer_id")
    text = [frame[c].map(str).to_numpy(dtype=object) for c in reversed(keys)]  # missing values as "nan"
    order = np.lexsort(text) if keys else np.arange(len(frame))
    return frame.iloc[order].reset_index(drop=True)


def _numbers(value: object, path: str = "") -> dict[str, float]:
    """Every number in a JSON value, by its path (booleans and texts left out)."""
    if isinstance(value, dict):
        return {k: v for key, item in value.items() for k, v in _numbers(item, f"{path}/{key}").items()}
    if isinstance(value, list):
        return {k: v for i, item in enumerate(value) for k, v in _numbers(item, f"{path}/{i}").items()}
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return {path: float(value)}
    return {}


def _same_numbers(a: dict[str, float], b: dict[str, float], what: str) -> None:
    assert a.keys() == b.keys(), (what, sorted(a.keys() ^ b.keys())[:10])
    differ = {k: (a[k], b[k]) for k in a if not math.isclose(a[k], b[k], rel_tol=1e-6, abs_tol=1e-6) and not (math.isnan(a[k]) and math.isnan(b[k]))}
    assert not differ, (what, dict(list(differ.items())[:10]))


def test_snapshot_tables_are_identical(runs: dict[str, KitConfig]) -> None:
    folders = {lang: snapshot_dir(config) for lang, config in runs.items()}
    files = {lang: sorted(p.relative_to(f) for p in f.rglob("*.parquet")) for lang, f in folders.items()}
    assert files["en"] == files["zh"] and len(files["en"]) >= 4, files
    for name in files["en"]:
        en, zh = (_comparable(pd.read_parquet(folders[lang] / name)) for lang in LANGS)
        # floats to 1e-6 (relative for large values: a CLV of 1,631.02696 may differ in its 10th digit,
        # DuckDB sums in parallel in no fixed order)
        pd.testing.assert_frame_equal(en, zh, check_exact=False, rtol=1e-6, atol=1e-6, obj=str(name))
    for name in sorted(p.relative_to(folders["en"]) for p in folders["en"].rglob("*.json")):
        en, zh = (json.loads((folders[lang] / name).read_text(encoding="utf-8")) for lang in LANGS)
        _same_numbers(_numbers(en), _numbers(zh), str(name))


def test_exports_are_identical_apart_from_header_labels(runs: dict[str, KitConfig]) -> None:
    folders = {lang: config.resolve(config.paths.reports) / MONTH / "exports" for lang, config in runs.items()}
    names = {lang: sorted(p.name for p in folder.glob("*.csv")) for lang, folder in folders.items()}
    assert names["en"] == names["zh"] and names["en"], names
    for name in names["en"]:
        en, zh = (folders[lang].joinpath(name).read_bytes().split(b"\n", 1) for lang in LANGS)
        assert en[1] == zh[1], name


def test_metrics_have_identical_numbers(runs: dict[str, KitConfig]) -> None:
    metrics = {
        lang: json.loads((config.resolve(config.paths.reports) / MONTH / "metrics.json").read_text(encoding="utf-8"))
        for lang, config in runs.items()
    }
    numbers = {lang: _numbers(value) for lang, value in metrics.items()}
    assert len(numbers["en"]) > 20
    _same_numbers(numbers["en"], numbers["zh"], "metrics.json")
