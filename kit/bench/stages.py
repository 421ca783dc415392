"""The benchmark harness behind ``kit bench --customers N``: wall time and peak memory per stage.

Speed is measured here, on generated data, never in unit tests. The harness
1. writes a bench world under ``data/bench/<N>/``: a config file ``kit.yml`` whose folders
   (raw, warehouse, reports) point inside that folder, notebooks and tags from the project;
2. runs the stages of ``STAGES`` in order, each in its own freshly spawned Python process
   so that one stage's memory and imports never count for another;
3. prints a table and writes ``bench-<N>-<timestamp>.json`` (default ``reports/bench/``).

That is the retail world (the demo company, ``--world retail``, the default). Issue 18 asks
for the churn stage's figures in both churn modes, so ``--world subscriptions`` benchmarks a
subscription business too: ``SUBSCRIPTION_STAGES`` on ``data/bench/subscriptions_<N>/``,
whose ``demo-data`` stage (``subscription_world``) writes the ``subscription_app`` shape of
N accounts (kit.demo.shapes, kit.demo.subscriptions) with its own ``kit.yml`` (the shape's
config: contractual churn over 30 days, 7 days' grace); results go to
``bench-subscriptions_<N>-<timestamp>.json``. docs/decisions/0018-subscription-bench-world.md
has its figures.

``--backend pyspark`` (``make bench BACKEND=pyspark``) runs the stages that read the warehouse
through Ibis (``Stage.engine``) on Spark local, from the same world's Parquet warehouse (run
the DuckDB bench first: it generates and ingests the world; ingest itself runs on DuckDB),
with the world's config plus ``warehouse.backend: pyspark`` (``kit-pyspark.yml``), and prints
each stage's time beside the newest DuckDB bench of the same world with the ratio. The peak
memory of a Spark stage is the Python driver's: the JVM's own heap is capped by
``SPARK_SETTINGS`` and not measured.

Adding a stage is one line in ``STAGES``: a name, the dotted path of a function taking
the bench ``KitConfig`` (its ``run.month`` is the month to compute), and the targets
for the 1,000,000-customer reference world (None when the issue sets none). A stage whose
module or function does not exist yet prints "stage unavailable: <reason>" and the
harness goes on.

Peak memory of a stage is the larger of the stage process's own high-water mark
(``VmHWM`` in ``/proc/self/status``: the resident peak after the process started, so the
harness's memory is not included) and that of the largest process it started and waited
for (``RUSAGE_CHILDREN``; the notebook kernels of ``monthly-run``).
"""

from __future__ import annotations

import importlib
import json
import multiprocessing
import os
import platform
import resource
import shutil
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import psutil
import yaml

from kit import __version__
from kit.core.config import KitConfig, load_config

REFERENCE_CUSTOMERS = 1_000_000
GB = 1024**3


class BenchError(ValueError):
    """The benchmark cannot start (for example an unknown stage name)."""


class StageUnavailable(LookupError):
    """The stage's module or function does not exist (yet)."""


@dataclass(frozen=True)
class Stage:
    """One timed step: ``function`` is called with the bench config (``takes="config"``),
    or, for a world generator, with the raw folder, customers, seed and end month
    (``takes="world"``: the config is the harness's), or with the world's folder, customers
    and seed (``takes="project"``: the generator writes the world's ``kit.yml`` too)."""

    name: str
    function: str
    target_seconds: float | None
    target_gb: float | None
    takes: Literal["config", "world", "project"] = "config"
    engine: bool = False  # reads the warehouse through the configured backend (``--backend``)


# Targets hold for the 1,000,000-customer world on 2 cores (set by each capability's issue).
STAGES = [
    Stage("demo-data", "kit.demo.generate", 180, 8.0, takes="world"),
    Stage("ingest", "kit.bench.stages.ingest", 240, 8.0),  # issue 19: with probabilistic linkage
    Stage("features-reference", "kit.profile.features.run_reference", None, None),
    Stage("features-tags", "kit.profile.pipeline.run_month", 90, None, engine=True),
    Stage("segmentation", "kit.segments.pipeline.bench_stage", 60, 4.0, engine=True),
    Stage("clv", "kit.bench.clv.stage", None, None, engine=True),
    Stage("clv-fit-vs-lifetimes", "kit.bench.clv.models_stage", None, None),
    Stage("churn", "kit.churn.pipeline.bench_stage", 180, 6.0, engine=True),
    Stage("experiment-readout", "kit.bench.experiments.stage", 60, None),  # synthetic users, DuckDB only
    Stage("monthly-run", "kit.bench.stages.monthly_run", None, None, engine=True),
]

# The subscription world (``--world subscriptions``): generation (issue 18's brief: well
# under 4 GB at 1,000,000 accounts; no time target), then the retail stages churn needs,
# with the retail world's targets.
SUBSCRIPTION_STAGES = [
    Stage("demo-data", "kit.bench.stages.subscription_world", None, 4.0, takes="project"),
    *(stage for stage in STAGES if stage.name in ("ingest", "features-tags", "churn")),
]
WORLDS = ("retail", "subscriptions")
BACKENDS = ("duckdb", "pyspark")
# Spark local for the bench: the driver JVM holds the data (local mode has no executors);
# adaptive execution sizes the shuffles.
SPARK_SETTINGS = {"spark.driver.memory": "8g", "spark.sql.shuffle.partitions": "16"}

@dataclass
class StageResult:
    """What one stage measured."""

    name: str
    function: str
    status: str  # ok, failed, unavailable, skipped
    seconds: float | None = None
    peak_gb: float | None = None
    target_seconds: float | None = None
    target_gb: float | None = None
    verdict: str = ""
    message: str = ""
    details: dict[str, float | int | str] = field(default_factory=dict)  # what the stage reports of itself, e.g. seconds per part


@dataclass
class BenchReport:
    """The whole benchmark: parameters, machine and one result per stage."""

    customers: int
    seed: int
    month: str
    world: str
    backend: str = "duckdb"
    kit_version: str = __version__
    started_at: str = ""
    machine: dict[str, Any] = field(default_factory=dict)
    stages: list[StageResult] = field(default_factory=list)
    json_file: str = ""

    @property
    def ok(self) -> bool:
        """True when no stage failed (unavailable and skipped stages are not failures)."""
        return all(s.status != "failed" for s in self.stages)


# --------------------------------------------------------------------------- the world


def bench_config(base: KitConfig, customers: int) -> KitConfig:
    """The config of the bench world of ``customers`` customers: ``data/bench/<customers>/kit.yml``."""
    return world_config(base, base.resolve("data/bench") / str(customers))


def world_config(base: KitConfig, root: Path) -> KitConfig:
    """Write ``<root>/kit.yml``: the base config with its data folders moved into ``root``.

    raw, warehouse, reports, scratch and ingest_cache become ``<root>/raw``, ``<root>/warehouse``,
    ``<root>/reports``, ``<root>/scratch`` and ``<root>/ingest_cache``; notebooks, the tags file
    and every source path become absolute,
    with sources under the base raw folder moved to the new raw folder.
    """
    raw = root / "raw"
    data = yaml.safe_load(base.source_file.read_text(encoding="utf-8")) or {}
    data["paths"] = {
        "raw": str(raw),
        "warehouse": str(root / "warehouse"),
        "reports": str(root / "reports"),
        "notebooks": str(base.resolve(base.paths.notebooks)),
        "scratch": str(root / "scratch"),
        "ingest_cache": str(root / "ingest_cache"),
    }
    base_raw = base.resolve(base.paths.raw)

    def relocate(path: Path | str) -> str:
        """Absolute path; a file under the base raw folder moves to the new raw folder."""
        absolute = base.resolve(path)
        return str(raw / absolute.relative_to(base_raw) if absolute.is_relative_to(base_raw) else absolute)

    data.setdefault("features", {})["tags_file"] = relocate(base.features.tags_file)
    if base.experiments.catalog is not None:
        data.setdefault("experiments", {})["catalog"] = relocate(base.experiments.catalog)
    for name, source in base.sources.items():
        if source.path:
            data["sources"][name]["path"] = relocate(source.path)
    root.mkdir(parents=True, exist_ok=True)
    file = root / "kit.yml"
    file.write_text(
        "# Written by kit.bench.stages.world_config: the base config with its data folders moved here.\n"
        + yaml.safe_dump(data, allow_unicode=True, sort_keys=False),
        encoding="utf-8",
    )
    return load_config(file)


def backend_config(config: KitConfig, backend: str) -> KitConfig:
    """The bench world's config on ``backend``: itself for DuckDB, else ``kit-<backend>.yml``
    beside it with ``warehouse.backend`` (and, for Spark, ``SPARK_SETTINGS``) set."""
    if backend not in BACKENDS:
        raise BenchError(f"unknown backend {backend!r}; known backends: {', '.join(BACKENDS)}")
    if backend == "duckdb":
        return config
    data = yaml.safe_load(config.source_file.read_text(encoding="utf-8"))
    data["warehouse"] = {"backend": backend, "spark": SPARK_SETTINGS}
    file = config.source_file.with_name(f"kit-{backend}.yml")
    file.write_text(
        f"# Written by kit.bench.stages.backend_config: {config.source_file.name} on {backend}.\n"
        + yaml.safe_dump(data, allow_unicode=True, sort_keys=False),
        encoding="utf-8",
    )
    return load_config(file)


def world_stages(world: str) -> list[Stage]:
    """The stages of bench world ``world`` (``WORLDS``)."""
    if world not in WORLDS:
        raise BenchError(f"unknown world {world!r}; known worlds: {', '.join(WORLDS)}")
    return STAGES if world == "retail" else SUBSCRIPTION_STAGES


def subscription_world(root: Path, customers: int, seed: int) -> dict[str, int | str]:
    """The subscription world's ``demo-data`` stage: the ``subscription_app`` shape of
    ``customers`` accounts written into ``root`` (``raw/`` with its truth, warehouse and
    reports folders beside it, its ``kit.yml`` with the shape's contractual churn settings).
    Returns the account and event counts."""
    # Imported here, like kit.runner in monthly_run: only this stage needs the generators.
    import pyarrow.parquet as pq

    from kit.demo.shapes import write_shape

    write_shape("subscription_app", root, customers=customers, seed=seed)
    return {"accounts": customers, "events": pq.ParquetFile(root / "raw" / "events.parquet").metadata.num_rows}


def ingest(config: KitConfig) -> dict[str, float]:
    """The ``ingest`` stage: a full ingest with every file parsed, as on a first run (the parse
    cache is emptied first, so the figures compare with every bench run before the cache);
    returns the seconds of each phase (``kit.ingest.pipeline.PHASES``)."""
    from kit.ingest import run_ingest

    shutil.rmtree(config.resolve(config.paths.ingest_cache), ignore_errors=True)
    return {f"{phase}_s": seconds for phase, seconds in run_ingest(config).seconds.items()}


def monthly_run(config: KitConfig) -> None:
    """The ``monthly-run`` stage: ``kit run`` for the bench month; raises when it fails."""
    # Imported here: every stage process imports this module, and papermill / nbconvert
    # would add their memory to the peak of stages that never use them.
    from kit.runner import run_month

    result = run_month(config, config.run.month, echo=lambda line: print(f"    {line}", flush=True))
    if not result.ok:
        failed = next((r for r in result.results if r.status == "failed"), None)
        raise RuntimeError(f"monthly run failed at {failed.name}: {failed.error}" if failed else f"monthly run failed {result.failure}")


# --------------------------------------------------------------------------- stages


def resolve_function(dotted: str) -> Any:
    """The function at ``package.module.function``; StageUnavailable when it does not exist."""
    module_name, _, attribute = dotted.rpartition(".")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and module_name.startswith(exc.name):
            raise StageUnavailable(f"module {exc.name} does not exist") from exc
        raise
    if not hasattr(module, attribute):
        raise StageUnavailable(f"{module_name} has no function {attribute}")
    return getattr(module, attribute)


def _peak_bytes() -> int:
    """Peak resident memory of this process since it started, or of its largest waited child."""
    own = 0
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                own = int(line.split()[1]) * 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    return max(own, children)


def _stage_process(stage: Stage, config_file: str, customers: int, seed: int, conn: Any) -> None:
    """Body of a stage's child process: run the stage and send back what it measured."""
    message: dict[str, Any] = {"status": "ok"}
    try:
        function = resolve_function(stage.function)
        config = None if stage.takes == "project" else load_config(config_file)
        started = time.perf_counter()
        if stage.takes == "project":
            output = function(Path(config_file).parent, customers=customers, seed=seed)
        elif stage.takes == "world":
            output = function(config.resolve(config.paths.raw), customers=customers, seed=seed, end_month=config.run.month)
        else:
            output = function(config)
        message["seconds"] = time.perf_counter() - started
        if isinstance(output, dict):
            message["details"] = {k: v for k, v in output.items() if isinstance(v, (int, float, str))}
    except StageUnavailable as exc:
        message = {"status": "unavailable", "message": f"stage unavailable: {exc}"}
    except Exception as exc:  # a stage's failure is a result to report, not a crash of the bench
        where = traceback.extract_tb(exc.__traceback__)[-1]
        text = f"{type(exc).__name__}: {exc}\n(at {where.filename}:{where.lineno} in {where.name})"
        message = {"status": "failed", "message": text[:3000]}
    if message["status"] != "unavailable":
        message["peak_bytes"] = _peak_bytes()
    conn.send(message)
    conn.close()


def run_stage(stage: Stage, config_file: Path, customers: int, seed: int) -> StageResult:
    """Run one stage in a spawned process and collect its time and peak memory."""
    context = multiprocessing.get_context("spawn")
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(
        target=_stage_process, args=(stage, str(config_file), customers, seed, sender), name=f"kit-bench-{stage.name}"
    )
    process.start()
    sender.close()
    try:
        message = receiver.recv()
    except EOFError:
        message = {"status": "failed", "message": "the stage process ended without a result (killed: out of memory?)"}
    process.join()
    if process.exitcode not in (0, None) and message["status"] == "ok":
        message = {"status": "failed", "message": f"the stage process exited with code {process.exitcode}"}
    result = StageResult(
        stage.name,
        stage.function,
        message["status"],
        seconds=message.get("seconds"),
        peak_gb=message["peak_bytes"] / GB if "peak_bytes" in message else None,
        target_seconds=stage.target_seconds,
        target_gb=stage.target_gb,
        message=message.get("message", ""),
        details=message.get("details", {}),
    )
    result.verdict = _verdict(result, customers)
    return result


def _verdict(result: StageResult, customers: int) -> str:
    """"within target", "OVER TARGET", or why no verdict is given."""
    if result.status != "ok":
        return ""
    if result.target_seconds is None and result.target_gb is None:
        return "no target"
    if customers != REFERENCE_CUSTOMERS:
        return f"targets are for {REFERENCE_CUSTOMERS:,}"
    slow = result.target_seconds is not None and (result.seconds or 0) > result.target_seconds
    big = result.target_gb is not None and (result.peak_gb or 0) > result.target_gb
    return "OVER TARGET" if slow or big else "within target"


# --------------------------------------------------------------------------- the harness


def run_bench(
    base: KitConfig,
    customers: int,
    seed: int = 42,
    out: Path | None = None,
    stages: list[str] | None = None,
    echo: Callable[[str], None] = print,
    world: str = "retail",
    backend: str = "duckdb",
) -> BenchReport:
    """Build the bench world ``world`` (``WORLDS``), run the selected stages on ``backend``
    (``BACKENDS``; other than DuckDB: the ``engine`` stages only, on an existing world), print
    the table and write the JSON."""
    plan = [s for s in world_stages(world) if backend == "duckdb" or s.engine]
    known = [s.name for s in plan]
    unknown = [name for name in stages or [] if name not in known]
    if unknown:
        raise BenchError(f"unknown stage(s) {', '.join(unknown)}; known stages: {', '.join(known)}")
    selected = [s for s in plan if not stages or s.name in stages]
    if world == "retail":
        config = bench_config(base, customers)
        file, raw, month, who = config.source_file, config.resolve(config.paths.raw), config.run.month, "customers"
    else:
        from kit.demo.shapes import END_MONTH, RAW

        file = base.resolve("data/bench") / f"subscriptions_{customers}" / "kit.yml"
        raw, month, who = file.parent / RAW, END_MONTH, "accounts of a subscription business"
    world_file = file
    if backend != "duckdb":
        if not file.exists():
            raise BenchError(f"no bench world at {file.parent}: run the DuckDB bench of this world first (make bench)")
        file = backend_config(load_config(file), backend).source_file
    report = BenchReport(customers, seed, month, str(file.parent), backend, started_at=_now(), machine=_machine())
    echo(f"kit bench: {customers:,} {who}, seed {seed}, month {month}, world {report.world}, backend {backend}")
    for stage in selected:
        world_missing = stage.takes == "config" and not ((raw / "_truth" / "config.json").exists() and world_file.exists())
        if world_missing:
            result = StageResult(
                stage.name,
                stage.function,
                "skipped",
                target_seconds=stage.target_seconds,
                target_gb=stage.target_gb,
                message=f"no bench world in {raw}: run the demo-data stage first",
            )
        else:
            result = run_stage(stage, file, customers, seed)
        report.stages.append(result)
        echo(format_row(result))
    out = out or base.resolve(base.paths.reports) / "bench"
    out.mkdir(parents=True, exist_ok=True)
    suffix = "" if backend == "duckdb" else f"-{backend}"
    result_file = out / f"bench-{file.parent.name}{suffix}-{datetime.now():%Y%m%d-%H%M%S}.json"
    report.json_file = str(result_file)
    result_file.write_text(json.dumps(asdict(report), ensure_ascii=False, indent=2), encoding="utf-8")
    echo("")
    echo(format_table(report.stages))
    if backend != "duckdb":
        echo("")
        echo(format_comparison(report, out / f"bench-{file.parent.name}-*.json"))
    echo(f"results written to {result_file}")
    return report


def format_comparison(report: BenchReport, pattern: Path) -> str:
    """Each stage's seconds on ``report``'s backend beside the newest DuckDB bench of the same
    world and size (JSON files matching ``pattern``), with the ratio."""
    duck = None
    for candidate in sorted(pattern.parent.glob(pattern.name), reverse=True):  # names end in the time
        found = json.loads(candidate.read_text(encoding="utf-8"))
        if found.get("backend", "duckdb") == "duckdb" and found["customers"] == report.customers:
            duck, source = found, candidate
            break
    if duck is None:
        return f"no DuckDB bench of this world in {pattern.parent}: run make bench first to compare"
    seconds = {s["name"]: s["seconds"] for s in duck["stages"] if s["status"] == "ok"}
    lines = [f"{'stage':<20} {'duckdb s':>9} {report.backend + ' s':>10} {'ratio':>7}", "-" * 49]
    for stage in report.stages:
        base, other = seconds.get(stage.name), stage.seconds if stage.status == "ok" else None
        ratio = f"{other / base:.1f}x" if base and other else "-"
        lines.append(f"{stage.name:<20} {base or 0:>9.1f} {other or 0:>10.1f} {ratio:>7}")
    return "\n".join(lines) + f"\n(DuckDB figures from {source.name})"


HEADER = f"{'stage':<14} {'status':<12} {'seconds':>9} {'peak GB':>8} {'target s':>9} {'target GB':>9}  verdict"


def format_row(result: StageResult) -> str:
    """One table row, then the stage's details (e.g. seconds per part) and, for
    unavailable, skipped and failed stages, their message."""

    def number(value: float | None, digits: int) -> str:
        return "-" if value is None else f"{value:.{digits}f}"

    row = (
        f"{result.name:<14} {result.status:<12} {number(result.seconds, 1):>9} {number(result.peak_gb, 2):>8} "
        f"{number(result.target_seconds, 0):>9} {number(result.target_gb, 1):>9}  {result.verdict}"
    )
    if result.details:
        row += "\n    " + ", ".join(f"{k} {v:.1f}" if isinstance(v, float) else f"{k} {v}" for k, v in result.details.items())
    if result.message:
        row += "\n    " + result.message.strip().replace("\n", "\n    ")
    return row


def format_table(results: list[StageResult]) -> str:
    """The summary table (one line per stage, details and messages left out)."""
    lines = [HEADER, "-" * len(HEADER)]
    for result in results:
        lines.append(format_row(StageResult(**{**asdict(result), "message": "", "details": {}})))
    return "\n".join(lines)


def _machine() -> dict[str, Any]:
    """What the figures were measured on."""
    return {
        "cpus": os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / GB, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def _now() -> str:
    """Local time, to the second, ISO 8601."""
    return datetime.now().isoformat(timespec="seconds")
