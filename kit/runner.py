"""Run the monthly notebooks and publish them atomically (the engine behind ``kit run``).

A run's warehouse tables, snapshots, metrics, exports and pages become visible together
or not at all. Order of work for one month:
1. Plan: the notebooks of ``run.notebooks`` (a simple DAG written in run order), or the
   ``--only`` subset kept in that order plus the notebooks that read what it rewrites
   (``READS``). Every file must exist and every injected parameter (``INJECTED``) must
   be defined in the notebook's ``parameters`` cell, checked with ``ast`` before any
   kernel starts.
2. Take the project's run lock (``<warehouse>/.kit-run.lock``); finish a commit a killed
   run left half-done (the journal), and delete what killed runs left behind (staging
   folders, uncommitted generations). ``--only`` refuses a month whose pages were built
   from another warehouse generation than the current one.
3. Start a new warehouse generation (a hard-link copy of the current one, see
   ``kit.core.generations``) and a run folder ``reports/.run-<month>-<generation>/`` holding
   ``run_context.json`` and the staging month. Each notebook gets ``run_dir`` and writes
   through ``Report.start(..., run_dir=run_dir)`` into the new generation and the staging
   month only. Notebooks run with papermill (one fresh kernel each, the configured
   kernel name and per-cell timeout, working directory = the notebooks folder).
4. After ``01_ingest`` the data fitness gate (``kit.ingest.quality.fitness``) grades the
   new data: on "fail" the run stops before any other notebook and publishes nothing,
   unless ``--accept-data-warnings`` was given.
5. Only when every notebook succeeded: write ``metrics.json``, ``run.json`` (with the
   generation id) and the month's ``index.html`` into staging, then commit: write the
   journal, move staging in place of ``reports/<month>/``, point ``CURRENT`` at the new
   generation, rebuild ``reports/index.html``, delete the journal; then delete
   generations older than the previous one. With ``--only``, the pages of the other notebooks are
   carried over from the month published before.
6. On a failure: stop, keep the failed executed notebook as
   ``reports/failed/<month>/<notebook>.ipynb``, delete the new generation and the run
   folder, leave the published month and the current warehouse untouched and report the
   notebook, cell and error (a write that fails names the file).
"""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import nbformat
import papermill
from papermill.exceptions import PapermillExecutionError

from kit import __version__
from kit.core import generations
from kit.core.atomic import copy_atomic, write_text_atomic
from kit.core.config import PROJECT_ROOT, KitConfig
from kit.core.dates import check_month
from kit.core.generations import Generation
from kit.core.warehouse import Warehouse, with_warehouse
from kit.ingest.identity import IdentityKeyError, load_key
from kit.publish import export_html, write_month_index, write_reports_index
from kit.report.shell import RunContext

# The names every notebook receives; each must be defined in its parameters cell
# (``run_dir = None`` there: the run folder, see kit.report.shell.RunContext).
INJECTED = ("month", "config_path", "lang", "headless", "run_dir")
# The notebook after which the data fitness gate grades the new warehouse generation.
INGEST_NOTEBOOK = "01_ingest"
# What each monthly notebook reads from the notebooks before it (tables, snapshots,
# personas, metrics). ``--only X`` also re-runs every notebook that reads X, directly or
# not, so that no page is carried over from data this run changes. A notebook not listed
# here is taken to read every notebook before it in run.notebooks.
READS: dict[str, tuple[str, ...]] = {
    "01_ingest": (),
    "02_tags": ("01_ingest",),  # canonical tables -> profile snapshot
    "03_segmentation": ("01_ingest", "02_tags"),  # profile -> segments, personas
    "04_clv": ("01_ingest", "03_segmentation"),  # orders; persona labels
    "05_churn": ("01_ingest", "03_segmentation", "04_clv"),  # orders, events; segments, clv
    "06_experiment_readout": ("01_ingest", "03_segmentation"),  # assignments; segments
    "07_overview": ("01_ingest", "02_tags", "03_segmentation", "04_clv", "05_churn", "06_experiment_readout"),
}
# ipykernel's start-up warnings (e.g. "running over TCP without encryption") would be
# printed between the progress lines; errors still reach the terminal.
KERNEL_ARGUMENTS = ["--IPKernelApp.log_level=ERROR"]


class RunError(RuntimeError):
    """The run cannot start: unknown notebook, missing file, parameter not accepted, lock held."""


@dataclass
class NotebookResult:
    """What happened to one notebook of a run."""

    name: str
    status: str  # "ok", "failed" or "not run"
    seconds: float = 0.0
    title: str = ""
    started_at: str = ""
    finished_at: str = ""
    error: str = ""
    failed_notebook: Path | None = None
    keep_error: str = ""  # why the failed notebook could not be kept (e.g. read-only reports folder)

    def manifest_entry(self) -> dict[str, Any]:
        """This result as a ``run.json`` notebook entry (successful notebooks only)."""
        return {
            "name": self.name,
            "title": self.title,
            "status": self.status,
            "seconds": round(self.seconds, 2),
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "html": f"{self.name}.html",
            "notebook": f"notebooks/{self.name}.ipynb",
        }


@dataclass
class RunResult:
    """The outcome of ``run_month``."""

    month: str
    results: list[NotebookResult] = field(default_factory=list)
    published: Path | None = None
    seconds: float = 0.0
    generation: str | None = None
    data_problems: list[str] = field(default_factory=list)  # set when the fitness gate stopped the run
    error: str = ""  # a failure outside the notebooks (writing the month, committing)

    @property
    def ok(self) -> bool:
        """True when every planned notebook succeeded and the month was published."""
        return self.published is not None

    @property
    def failure(self) -> str:
        """Why the run did not publish, in a few words ("" when it did)."""
        if self.ok:
            return ""
        if self.error:
            return self.error
        if self.data_problems:
            return f"the data is not fit to publish after {INGEST_NOTEBOOK}"
        return "at " + next((r.name for r in self.results if r.status == "failed"), "?")

    @property
    def exit_code(self) -> int:
        """0 on success, 1 when a notebook failed, the data gate stopped the run or publishing failed."""
        return 0 if self.ok else 1


# --------------------------------------------------------------------------- planning


def parameters_cell(path: Path) -> dict[str, Any]:
    """The names and literal default values of the notebook's ``parameters`` cell.

    Raises RunError when the notebook has no cell tagged ``parameters`` or when that cell
    holds anything but ``name = <literal>`` assignments (the runner and the notebook
    conventions rely on literal, typed defaults).
    """
    nb = nbformat.read(path, as_version=4)
    cells = [c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    if not cells:
        raise RunError(f"{path.name}: no cell is tagged 'parameters'. Tag the cell that defines {', '.join(INJECTED)}.")
    try:
        tree = ast.parse(cells[0].source)
    except SyntaxError as exc:
        raise RunError(f"{path.name}: the parameters cell is not valid Python: {exc}") from exc
    values: dict[str, Any] = {}
    for node in tree.body:
        if not (isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None):
            raise RunError(f"{path.name}: the parameters cell may only assign literal values (line {node.lineno}).")
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        try:
            value = ast.literal_eval(node.value)
        except ValueError as exc:
            raise RunError(f"{path.name}: parameters cell line {node.lineno}: the value is not a literal.") from exc
        for target in targets:
            if not isinstance(target, ast.Name):
                raise RunError(f"{path.name}: parameters cell line {node.lineno}: assign to a plain name.")
            values[target.id] = value
    return values


def check_parameters(path: Path, names: list[str] | tuple[str, ...]) -> None:
    """Refuse to inject a name the notebook's parameters cell does not define."""
    defined = parameters_cell(path)
    unknown = [name for name in names if name not in defined]
    if unknown:
        raise RunError(
            f"{path.name}: parameter(s) {', '.join(repr(n) for n in unknown)} would be injected but the "
            f"parameters cell does not define them (it defines: {', '.join(defined) or 'nothing'}). "
            "Add them to the cell tagged 'parameters' with a literal default."
        )


def plan(config: KitConfig, only: list[str] | None = None) -> list[Path]:
    """The notebook files to run, in ``run.notebooks`` order, checked for existence.

    With ``only``, the named notebooks plus every notebook that reads what they write
    (``dependents``), so that a page is never carried over from data this run changes.
    """
    declared = list(config.run.notebooks)
    if only:
        unknown = [name for name in only if name not in declared]
        if unknown:
            raise RunError(
                f"--only {' '.join(unknown)}: not in run.notebooks of {config.source_file}. "
                f"Known notebooks: {', '.join(declared)}."
            )
        only = [*only, *dependents(declared, only)]
    names = [name for name in declared if not only or name in only]
    folder = config.resolve(config.paths.notebooks)
    paths = [folder / f"{name}.ipynb" for name in names]
    missing = [p.name for p in paths if not p.is_file()]
    if missing:
        raise RunError(
            f"notebook file(s) not found in {folder}: {', '.join(missing)}. Add them or remove them from "
            f"run.notebooks in {config.source_file} (or choose others with --only)."
        )
    return paths


def dependents(declared: list[str], chosen: list[str]) -> list[str]:
    """The declared notebooks, not in ``chosen``, that read what ``chosen`` writes (transitively)."""
    changed, added = set(chosen), []
    for index, name in enumerate(declared):
        reads = READS.get(name, tuple(declared[:index]))
        if name not in changed and changed.intersection(reads):
            changed.add(name)
            added.append(name)
    return added


# --------------------------------------------------------------------------- running


def run_month(
    config: KitConfig,
    month: str | None = None,
    only: list[str] | None = None,
    lang: str | None = None,
    echo: Callable[[str], None] | None = None,
    accept_data_warnings: bool = False,
) -> RunResult:
    """Execute and publish the month's notebooks; see the module docstring for the steps.

    Raises RunError before anything runs when the plan is invalid, another run holds the
    lock, ``--only`` would mix generations or the run folder cannot be created; notebook
    failures, a stop by the data gate and write failures while publishing are reported in
    the returned RunResult (``exit_code`` 1), never raised. Progress lines go to ``echo``
    (default: printed and flushed at once, so a cron log shows them live).
    """
    echo = echo or _print
    month = check_month(month or config.run.month)
    lang = lang or config.run.lang
    notebooks = plan(config, only)
    for path in notebooks:
        check_parameters(path, INJECTED)
    if any(path.stem == INGEST_NOTEBOOK for path in notebooks):
        # Before any kernel: a bad key fails here, and a new key's "keep and back it up"
        # line reaches the terminal instead of a notebook's discarded stderr.
        try:
            load_key(config)
        except IdentityKeyError as exc:
            raise RunError(str(exc)) from None
    if only and len(notebooks) > len(only):
        added = [p.stem for p in notebooks if p.stem not in only]
        echo(f"--only {' '.join(only)}: also running {', '.join(added)}, which read what it rewrites")
    root = config.resolve(config.paths.warehouse)
    reports = config.resolve(config.paths.reports)
    try:
        with generations.run_lock(root):
            recover(config, echo)
            if only:
                _check_same_generation(root, reports / month, month)
            return _run_locked(config, month, lang, only, notebooks, accept_data_warnings, echo)
    except generations.RunLocked as exc:
        raise RunError(str(exc)) from None
    except OSError as exc:  # the lock, the new generation or the run folder cannot be written
        raise RunError(f"cannot start the run: {exc}") from exc


def recover(config: KitConfig, echo: Callable[[str], None]) -> None:
    """Repair what a killed run left (call with the run lock held).

    Finishes a commit that was under way (the journal names it), moves a flat warehouse
    into its first generation, and deletes uncommitted generations and run folders.
    """
    root = config.resolve(config.paths.warehouse)
    reports = config.resolve(config.paths.reports)
    journal = generations.read_journal(root)
    if journal is not None:
        generations.roll_forward(root, journal)
        write_reports_index(reports, journal["lang"], journal["project"])
        generations.finish_commit(root, journal)
        echo(f"finished publishing {journal['month']} (generation {journal['generation']}), interrupted earlier")
    adopted = generations.adopt_flat(root)
    if adopted:
        echo(f"moved the warehouse tables of {root} into generation {adopted}")
    generations.clean_stale(root)
    if reports.is_dir():
        for stale in reports.iterdir():
            if stale.is_dir() and stale.name.startswith((".run-", ".previous-", ".staging-")):
                shutil.rmtree(stale, ignore_errors=True)


def _check_same_generation(root: Path, month_dir: Path, month: str) -> None:
    """Refuse ``--only`` when the published month was built from other data than the current.

    Its carried-over pages would show figures from one warehouse generation next to pages
    built from another (for example after a run of another month re-ingested the data).
    """
    previous = _read_manifest(month_dir)
    if previous is None:
        return
    built, current = previous.get("generation"), generations.current_id(root)
    if built != current:
        raise RunError(
            f"--only: the pages of {month_dir} were built from warehouse generation {built or 'unknown'}, but the "
            f"current generation is {current or 'none'} (the data changed since, e.g. by a run of another month). "
            f"Mixing their pages with new ones would combine different data; run the whole month: "
            f"kit run --month {month}"
        )


def _run_locked(
    config: KitConfig,
    month: str,
    lang: str,
    only: list[str] | None,
    notebooks: list[Path],
    accept_data_warnings: bool,
    echo: Callable[[str], None],
) -> RunResult:
    """The run itself, with the lock held: new generation, notebooks, gate, commit or discard."""
    root = config.resolve(config.paths.warehouse)
    reports = config.resolve(config.paths.reports)
    gen = generations.start(root)
    run_dir = reports / f".run-{month}-{gen.id}"
    staging = run_dir / "month"
    result = RunResult(month, generation=gen.id)
    committed = False
    try:
        (staging / "notebooks").mkdir(parents=True)
        RunContext(warehouse=str(gen.path), output_dir=str(staging)).write(run_dir)
        parameters = {
            "month": month, "config_path": str(config.source_file), "lang": lang, "headless": True,
            "run_dir": str(run_dir),
        }
        started = time.monotonic()
        run_started = _now()
        fitness = None
        for index, path in enumerate(notebooks):
            outcome = _run_one(config, path, staging, parameters)
            result.results.append(outcome)
            echo(_progress_line(outcome))
            if outcome.status == "ok" and path.stem == INGEST_NOTEBOOK:
                try:
                    fitness = _data_gate(gen, accept_data_warnings, result, echo)
                except Exception as exc:  # an unreadable ingest report: stop, never publish ungraded data
                    result.error = (
                        f"the data fitness check after {path.stem} failed: {type(exc).__name__}: {exc}; "
                        f"{reports / month} and the warehouse left unchanged"
                    )
            if outcome.status != "ok" or result.data_problems or result.error:
                for later in notebooks[index + 1 :]:
                    result.results.append(NotebookResult(later.stem, "not run"))
                    echo(_progress_line(result.results[-1]))
                break
        else:
            try:
                committed = _publish(
                    config, month, lang, only, notebooks, result, gen, staging, run_started,
                    fitness, accept_data_warnings, echo,
                )
            except OSError as exc:
                result.error = f"could not publish: {exc}; {reports / month} and the warehouse left unchanged"
        result.seconds = time.monotonic() - started
    finally:
        if generations.read_journal(root) is None:  # a pending journal needs both for recover()
            if not committed:
                generations.discard(gen)
            shutil.rmtree(run_dir, ignore_errors=True)
    echo(_summary_line(result, reports))
    return result


def _data_gate(gen: Generation, accept: bool, result: RunResult, echo: Callable[[str], None]) -> Any:
    """Grade the newly ingested data; on "fail" (not accepted) record the problems in ``result``.

    Returns the fitness (its grade and problems go into run.json).
    """
    from kit.ingest import quality

    fitness = quality.fitness(quality.load_report(gen.path))
    problems = fitness.problems()
    if fitness.grade == "fail" and not accept:
        result.data_problems = problems or ["the data fitness grade is 'fail'"]
        lines = "\n".join(f"    - {p}" for p in result.data_problems)
        echo(
            f"data not fit to publish; stopping before the other notebooks:\n{lines}\n"
            "    Fix the source files and re-run, or publish anyway with: kit run --accept-data-warnings"
        )
    elif fitness.grade != "ok":
        note = " (accepted with --accept-data-warnings)" if fitness.grade == "fail" else ""
        echo(f"data warnings{note}:\n" + "\n".join(f"    - {p}" for p in problems))
    return fitness


def _publish(
    config: KitConfig,
    month: str,
    lang: str,
    only: list[str] | None,
    notebooks: list[Path],
    result: RunResult,
    gen: Generation,
    staging: Path,
    run_started: str,
    fitness: Any,
    accept_data_warnings: bool,
    echo: Callable[[str], None],
) -> bool:
    """Write the month's manifest, metrics and index into staging and commit; returns True once committed.

    The commit point is the journal: once it is written, the run counts as published and
    ``recover`` finishes the renames if this process dies before they are done.
    """
    root = config.resolve(config.paths.warehouse)
    reports = config.resolve(config.paths.reports)
    month_dir = reports / month
    run_config = with_warehouse(config, gen.path)
    parameters = {"month": month, "config_path": str(config.source_file), "lang": lang, "headless": True}
    manifest = _manifest(run_config, month, parameters, only, result.results, run_started, month_dir)
    manifest["generation"] = gen.id
    manifest["data_fitness"] = None if fitness is None else fitness.grade
    manifest["accepted_data_warnings"] = accept_data_warnings
    if only:
        _carry_over(month_dir, staging, manifest, {p.stem for p in notebooks})
    write_text_atomic(staging / "metrics.json", json.dumps(Warehouse.from_config(run_config).month_metrics(month), ensure_ascii=False, indent=2))
    write_text_atomic(staging / "run.json", json.dumps(manifest, ensure_ascii=False, indent=2))
    write_month_index(staging, manifest)
    entry = {
        "month": month, "generation": gen.id, "staging": str(staging), "target": str(month_dir),
        "backup": str(reports / f".previous-{month}-{gen.id}"), "lang": lang, "project": config.project.name,
        "written_at": _now(),
    }
    generations.write_journal(root, entry)
    try:
        generations.roll_forward(root, entry)
        write_reports_index(reports, lang, config.project.name)
        generations.finish_commit(root, entry)
    except OSError as exc:
        result.error = f"publishing {month} was interrupted ({exc}); the next kit run finishes it"
        return True
    result.published = month_dir
    try:  # housekeeping: the month is published whatever happens here
        _clear_failed(reports, month, [p.stem for p in notebooks])
        generations.clean_stale(root)
    except OSError as exc:
        echo(f"warning: {month} is published, but tidying up failed: {exc}")
    return True


def _run_one(config: KitConfig, path: Path, staging: Path, parameters: dict[str, Any]) -> NotebookResult:
    """Execute one notebook into staging and export its page; failures become a result."""
    name = path.stem
    executed = staging / "notebooks" / f"{name}.ipynb"
    outcome = NotebookResult(name, "ok", started_at=_now())
    started = time.monotonic()
    try:
        papermill.execute_notebook(
            path,
            executed,
            parameters=parameters,
            kernel_name=config.run.kernel_name,
            execution_timeout=config.run.timeout_seconds,
            cwd=path.parent,
            progress_bar=False,
            log_output=False,
            extra_arguments=KERNEL_ARGUMENTS,
        )
        outcome.title = export_html(executed, staging / f"{name}.html", parameters["lang"], name)
    except PapermillExecutionError as exc:
        outcome.status = "failed"
        outcome.error = f"{_failed_cell(path, exc.cell_index, exc.exec_count, exc.source)} raised {exc.ename}: {exc.evalue}"
    except Exception as exc:  # kernel death, timeout, export problem: report, never crash the run
        outcome.status = "failed"
        outcome.error = f"{type(exc).__name__}: {exc}".strip()
    outcome.seconds = time.monotonic() - started
    outcome.finished_at = _now()
    if outcome.status == "failed" and executed.exists():
        kept = config.resolve(config.paths.reports) / "failed" / parameters["month"] / f"{name}.ipynb"
        try:
            outcome.failed_notebook = copy_atomic(executed, kept)
        except OSError as exc:  # the notebook's own error stays the one reported
            outcome.keep_error = str(exc)
    return outcome


def _failed_cell(path: Path, executed_index: int, exec_count: int | None, source: str) -> str:
    """Name the failing cell as the analyst sees it: its position in the saved notebook.

    papermill reports the index in the executed notebook, which has one more cell (the
    injected parameters) right after the parameters cell.
    """
    nb = nbformat.read(path, as_version=4)
    tagged = [i for i, c in enumerate(nb.cells) if "parameters" in c.get("metadata", {}).get("tags", [])]
    injected = tagged[0] + 1 if tagged else -1
    if executed_index == injected:
        return "the injected parameters cell"
    index = executed_index - 1 if injected != -1 and executed_index > injected else executed_index
    first_line = next((line.strip() for line in source.splitlines() if line.strip()), "")
    return f"cell {index + 1} of {len(nb.cells)} (In [{exec_count}]: {first_line[:80]})"


def _carry_over(month_dir: Path, staging: Path, manifest: dict[str, Any], ran: set[str]) -> None:
    """Copy the pages of notebooks not run this time from the published month (``--only``).

    Their manifest entries are kept as published (with their own run times) and the
    merged list is put back in ``run.notebooks`` order. Exported files of the earlier run
    are kept unless this run wrote a file of the same name.
    """
    previous = _read_manifest(month_dir)
    if previous is None:
        return
    order = manifest["declared_notebooks"]
    entries = {e["name"]: e for e in manifest["notebooks"]}
    for entry in previous["notebooks"]:
        name = entry["name"]
        if name in ran or name not in order:
            continue
        html, notebook = month_dir / entry["html"], month_dir / entry["notebook"]
        if not (html.exists() and notebook.exists()):
            continue
        copy_atomic(html, staging / entry["html"])
        copy_atomic(notebook, staging / entry["notebook"])
        entries[name] = {**entry, "carried_over": True}
    manifest["notebooks"] = [entries[name] for name in order if name in entries]
    exports = month_dir / "exports"
    if exports.is_dir():
        for file in exports.rglob("*"):
            target = staging / "exports" / file.relative_to(exports)
            if file.is_file() and not target.exists():
                copy_atomic(file, target)


def _clear_failed(reports: Path, month: str, names: list[str]) -> None:
    """Remove kept failed notebooks of ``month`` that have now run successfully."""
    folder = reports / "failed" / month
    for name in names:
        (folder / f"{name}.ipynb").unlink(missing_ok=True)
    for empty in (folder, folder.parent):
        if empty.is_dir() and not any(empty.iterdir()):
            empty.rmdir()


# --------------------------------------------------------------------------- manifest


def data_snapshot(config: KitConfig, month: str) -> dict[str, list[dict[str, Any]]]:
    """The raw input files and the warehouse files this month's pages were built from.

    Each file is listed with its path (relative to its folder), size in bytes and
    modification time. The generator's ground truth (``_truth/``) and other months'
    snapshots are left out.
    """
    raw = config.resolve(config.paths.raw)
    warehouse = generations.current_dir(config.resolve(config.paths.warehouse))

    def listing(folder: Path, keep: Callable[[Path], bool]) -> list[dict[str, Any]]:
        if not folder.is_dir():
            return []
        files = (p for p in sorted(folder.rglob("*")) if p.is_file() and keep(p.relative_to(folder)))
        return [
            {
                "path": p.relative_to(folder).as_posix(),
                "bytes": p.stat().st_size,
                "modified": datetime.fromtimestamp(p.stat().st_mtime).isoformat(timespec="seconds"),
            }
            for p in files
        ]

    return {
        "raw_dir": str(raw),
        "raw": listing(raw, lambda rel: rel.parts[0] != "_truth"),
        "warehouse_dir": str(warehouse),
        "warehouse": listing(warehouse, lambda rel: rel.parts[0] != "snapshots" or rel.parts[1] == month),
    }


def git_commit() -> str | None:
    """The checked-out commit of the kit's repository, or None outside a git checkout."""
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def _manifest(
    config: KitConfig,
    month: str,
    parameters: dict[str, Any],
    only: list[str] | None,
    results: list[NotebookResult],
    started_at: str,
    month_dir: Path,
) -> dict[str, Any]:
    """The ``run.json`` contents of a successful run."""
    return {
        "month": month,
        "project": config.project.name,
        "kit_version": __version__,
        "git_commit": git_commit(),
        "config_file": str(config.source_file),
        "parameters": parameters,
        "only": list(only or []),
        "declared_notebooks": list(config.run.notebooks),
        "kernel_name": config.run.kernel_name,
        "timeout_seconds": config.run.timeout_seconds,
        "started_at": started_at,
        "finished_at": _now(),
        "seconds": round(sum(r.seconds for r in results), 2),
        "data": data_snapshot(config, month),
        "notebooks": [r.manifest_entry() for r in results],
        "replaced_previous": month_dir.exists(),
    }


def _read_manifest(month_dir: Path) -> dict[str, Any] | None:
    """The ``run.json`` of a published month, or None when there is none."""
    file = month_dir / "run.json"
    return json.loads(file.read_text(encoding="utf-8")) if file.exists() else None


# --------------------------------------------------------------------------- progress


def _print(line: str) -> None:
    """Print a progress line immediately (stdout is block-buffered under cron)."""
    print(line, flush=True)


def _now() -> str:
    """Local time, to the second, ISO 8601."""
    return datetime.now().isoformat(timespec="seconds")


def _progress_line(outcome: NotebookResult) -> str:
    """One progress line per notebook: name, status, seconds (and the error when failed)."""
    line = f"{outcome.name:<28} {outcome.status:<8} {outcome.seconds:7.1f} s"
    if outcome.status == "failed":
        error = outcome.error.strip().replace("\n", "\n      ")
        line += f"\n    {outcome.name}: {error}"
        if outcome.failed_notebook:
            line += f"\n    failed notebook kept at {outcome.failed_notebook}"
        if outcome.keep_error:
            line += f"\n    could not keep the failed notebook: {outcome.keep_error}"
    return line


def _summary_line(result: RunResult, reports: Path) -> str:
    """The final line of a run."""
    done = sum(r.status == "ok" for r in result.results)
    if result.ok:
        return (
            f"{result.month}: {done} notebook(s) ok in {result.seconds:.1f} s; "
            f"published {result.published / 'index.html'}"
        )
    counts = f"({done} of {len(result.results)} notebook(s) ok, {result.seconds:.1f} s)"
    if result.error:
        return f"{result.month}: FAILED {counts}: {result.error}"
    return f"{result.month}: FAILED {result.failure} {counts}; {reports / result.month} and the warehouse left unchanged"
