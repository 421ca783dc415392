"""Shared fixtures of the test suite; every world comes from tests/worlds.py.

Layout: tests/unit (pure functions on tiny frames), tests/integration (warehouse, ingest
and pipelines on small worlds; no notebooks), tests/e2e (notebooks, the runner, publishing,
the CLI end to end). This folder is on ``sys.path`` (rootdir conftest), so test modules
import the builders with ``from worlds import ...``.

The expensive worlds are session-wide and read-only: a test that changes one works on a
copy. The demo months and the company shapes of the e2e tests are each built by one
background process (``worlds.DemoMonths``, ``worlds.ShapeRuns``) that starts with the first
test of a run that needs them; the tests that read them run last, so the builds overlap the
rest of the suite.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest
from worlds import DemoMonths, ShapeRuns, make_warehouse, write_tag_project

TESTS = Path(__file__).resolve().parent
FIXTURES = TESTS / "fixtures"
# the fixtures the background builds provide, in the order their stages end (shapes last)
BUILT_FIXTURES = {"demo_months": 1, "interactive_session": 2, "shuffled_month": 3, "shape_run": 4}
# each background build (fixture) and the fixtures that need it
BUILDERS = {"demo_builder": {"demo_months", "interactive_session", "shuffled_month"}, "shape_builder": {"shape_run"}}


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test by its folder (``-m unit``, ``-m "not e2e"``); tests that read what
    the background builds make run after all others (stable order)."""
    for item in items:
        if item.path.is_relative_to(TESTS) and item.path.relative_to(TESTS).parts[0] in ("unit", "integration", "e2e"):
            item.add_marker(item.path.relative_to(TESTS).parts[0])
    items.sort(key=lambda item: max((BUILT_FIXTURES.get(name, 0) for name in getattr(item, "fixturenames", ())), default=0))


# --------------------------------------------------------------------------- demo months (e2e)


@pytest.fixture(scope="session")
def demo_builder(tmp_path_factory: pytest.TempPathFactory):
    builder = DemoMonths(tmp_path_factory.mktemp("demo_months"))
    builder.start()
    yield builder
    builder.stop()


@pytest.fixture(scope="session")
def shape_builder(tmp_path_factory: pytest.TempPathFactory):
    builder = ShapeRuns(tmp_path_factory.mktemp("shapes"))
    builder.start()
    yield builder
    builder.stop()


@pytest.fixture(scope="session", autouse=True)
def _start_builds_early(request: pytest.FixtureRequest) -> None:
    """Start each background build with the first test when any selected test needs it."""
    needed = set().union(*(getattr(item, "fixturenames", ()) for item in request.session.items))
    for builder, fixtures in BUILDERS.items():
        if needed & fixtures:
            request.getfixturevalue(builder)


@pytest.fixture(scope="session")
def demo_months(demo_builder: DemoMonths):
    """The demo world published for 2026-09 (zh) and 2026-10 (en) (worlds.build_demo_months).
    Read-only; returned once the by-hand runs on it ended too (they must not overlap a reader)."""
    from kit.core.config import load_config

    demo_builder.wait("published")
    while not demo_builder.ended("interactive") and demo_builder.process.poll() is None:
        time.sleep(0.5)
    return load_config(demo_builder.root / "published" / "kit.yml")


@pytest.fixture(scope="session")
def interactive_session(demo_builder: DemoMonths) -> dict[str, dict[str, str]]:
    """Checksums before and after every notebook was run by hand on ``demo_months``."""
    import json

    demo_builder.wait("published", "interactive")
    return json.loads((demo_builder.root / "interactive" / "checksums.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def shuffled_month(demo_builder: DemoMonths):
    """The demo raw files with shuffled rows, run for 2026-09 in English in a fresh project."""
    from kit.core.config import load_config

    demo_builder.wait("shuffled")
    return load_config(demo_builder.root / "shuffled" / "kit.yml")


# --------------------------------------------------------------------------- company shapes (e2e)


@pytest.fixture
def shape_run(shape_builder: ShapeRuns, shape: str):
    """Shape ``shape`` (kit.demo.shapes; tests parametrize ``shape``) run for
    ``worlds.SHAPE_MONTH``: its config, once the background run of that shape ended."""
    from kit.core.config import load_config

    shape_builder.wait(shape)
    return load_config(shape_builder.root / shape / "kit.yml")


# --------------------------------------------------------------------------- shared worlds


@pytest.fixture(scope="session")
def experiments_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 30,000-customer demo world (seed 42) ingested with the project config; returns its root.
    30,000: enough app users for the 15% logging loss in one arm to be a clear SRM."""
    from kit.core.config import PROJECT_ROOT, load_config
    from kit.demo import generate
    from kit.ingest import run_ingest

    root = tmp_path_factory.mktemp("experiments_demo")
    (root / "config").mkdir()
    shutil.copy(PROJECT_ROOT / "config" / "kit.yml", root / "config" / "kit.yml")
    generate(root / "data" / "raw" / "demo", customers=30_000, seed=42, end_month="2026-10")
    run_ingest(load_config(root / "config" / "kit.yml"))
    return root


@pytest.fixture(scope="session")
def tag_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project folder with a config pointing at a 1,200-customer fixture warehouse."""
    return write_tag_project(tmp_path_factory.mktemp("tag_project"), lambda wh: make_warehouse(wh, n_customers=1200, seed=11))


@pytest.fixture(scope="session")
def tag_runs(tag_project: Path) -> tuple:
    """``kit.profile.pipeline.build_profile`` for 2026-09, then 2026-10 (which finds last month)."""
    from kit.core.config import load_config
    from kit.core.warehouse import Warehouse
    from kit.profile.pipeline import build_profile

    config = load_config(tag_project / "config" / "kit.yml")
    wh = Warehouse.from_config(config)
    first = build_profile(wh, "2026-09", config)
    second = build_profile(wh, "2026-10", config)
    return first, second
