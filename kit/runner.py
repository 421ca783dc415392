"""Run the monthly notebooks and publish them atomically (the engine behind ``kit run``).

Order of work for one month:
1. Plan: the notebooks of ``run.notebooks`` (a simple DAG written in run order), or the
   ``--only`` subset kept in that order. Every file must exist and every injected
   parameter (``month``, ``config_path``, ``lang``, ``headless``) must be defined in the
   notebook's ``parameters`` cell, checked with ``ast`` before any kernel starts.
2. Execute each notebook with papermill (one fresh kernel per notebook, the configured
   kernel name and per-cell timeout, working directory = the notebooks folder) into a
   staging folder ``reports/.staging-<month>-<pid>/`` and export its HTML page there.
3. Only when every notebook succeeded: write ``metrics.json``, ``run.json`` and the month's
   ``index.html`` into staging, then swap staging in place of ``reports/<month>/`` and
   rebuild ``reports/index.html``. With ``--only``, the pages of the other notebooks are
   carried over from the month published before.
4. On a failure: stop, keep the failed executed notebook as
   ``reports/failed/<month>/<notebook>.ipynb``, delete staging, leave the published month
   untouched and report the notebook, cell and error.
"""

from __future__ import annotations

import ast
import json
import os
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
from kit.config import PROJECT_ROOT, KitConfig
from kit.dates import check_month
from kit.publish import export_html, write_month_index, write_reports_index
from kit.report.page import OUTPUT_DIR_ENV

# The names every notebook receives; each must be defined in its parameters cell.
INJECTED = ("month", "config_path", "lang", "headless")
# ipykernel's start-up warnings (e.g. "running over TCP without encryption") would be
# printed between the progress lines; errors still reach the terminal.
KERNEL_ARGUMENTS = ["--IPKernelApp.log_level=ERROR"]


class RunError(RuntimeError):
    """The run cannot start: unknown notebook, missing file or parameter not accepted."""


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

    @property
    def ok(self) -> bool:
        """True when every planned notebook succeeded and the month was published."""
        return self.published is not None

    @property
    def exit_code(self) -> int:
        """0 on success, 1 when a notebook failed."""
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
    """The notebook files to run, in ``run.notebooks`` order, checked for existence."""
    declared = list(config.run.notebooks)
    if only:
        unknown = [name for name in only if name not in declared]
        if unknown:
            raise RunError(
                f"--only {' '.join(unknown)}: not in run.notebooks of {config.source_file}. "
                f"Known notebooks: {', '.join(declared)}."
            )
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


# --------------------------------------------------------------------------- running


def run_month(
    config: KitConfig,
    month: str | None = None,
    only: list[str] | None = None,
    lang: str | None = None,
    echo: Callable[[str], None] | None = None,
) -> RunResult:
    """Execute and publish the month's notebooks; see the module docstring for the steps.

    Raises RunError before anything runs when the plan is invalid; notebook failures are
    reported in the returned RunResult (``exit_code`` 1), never raised. Progress lines go
    to ``echo`` (default: printed and flushed at once, so a cron log shows them live).
    """
    echo = echo or _print
    month = check_month(month or config.run.month)
    lang = lang or config.run.lang
    notebooks = plan(config, only)
    for path in notebooks:
        check_parameters(path, INJECTED)
    parameters = {"month": month, "config_path": str(config.source_file), "lang": lang, "headless": True}

    reports = config.resolve(config.paths.reports)
    reports.mkdir(parents=True, exist_ok=True)
    staging = reports / f".staging-{month}-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    (staging / "notebooks").mkdir(parents=True)
    result = RunResult(month)
    started = time.monotonic()
    run_started = _now()
    try:
        for index, path in enumerate(notebooks):
            outcome = _run_one(config, path, staging, parameters)
            result.results.append(outcome)
            echo(_progress_line(outcome))
            if outcome.status != "ok":
                for later in notebooks[index + 1 :]:
                    result.results.append(NotebookResult(later.stem, "not run"))
                    echo(_progress_line(result.results[-1]))
                break
        else:
            month_dir = reports / month
            manifest = _manifest(config, month, parameters, only, result.results, run_started, month_dir)
            if only:
                _carry_over(month_dir, staging, manifest, {p.stem for p in notebooks})
            (staging / "metrics.json").write_text(
                json.dumps(merge_metrics(config, month), ensure_ascii=False, indent=2), encoding="utf-8"
            )
            (staging / "run.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")
            write_month_index(staging, manifest)
            _swap_in(staging, month_dir)
            write_reports_index(reports, lang, config.project.name)
            _clear_failed(reports, month, [p.stem for p in notebooks])
            result.published = month_dir
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    result.seconds = time.monotonic() - started
    echo(_summary_line(result, reports))
    return result


def _run_one(config: KitConfig, path: Path, staging: Path, parameters: dict[str, Any]) -> NotebookResult:
    """Execute one notebook into staging and export its page; failures become a result."""
    name = path.stem
    executed = staging / "notebooks" / f"{name}.ipynb"
    outcome = NotebookResult(name, "ok", started_at=_now())
    started = time.monotonic()
    previous_env = os.environ.get(OUTPUT_DIR_ENV)
    os.environ[OUTPUT_DIR_ENV] = str(staging)
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
    finally:
        if previous_env is None:
            os.environ.pop(OUTPUT_DIR_ENV, None)
        else:
            os.environ[OUTPUT_DIR_ENV] = previous_env
    outcome.seconds = time.monotonic() - started
    outcome.finished_at = _now()
    if outcome.status == "failed" and executed.exists():
        kept = config.resolve(config.paths.reports) / "failed" / parameters["month"] / f"{name}.ipynb"
        kept.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(executed, kept)
        outcome.failed_notebook = kept
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


def _swap_in(staging: Path, month_dir: Path) -> None:
    """Replace ``month_dir`` by ``staging``; the old folder is kept until the new one is in place."""
    old = month_dir.with_name(f".previous-{month_dir.name}-{os.getpid()}")
    if month_dir.exists():
        os.replace(month_dir, old)
    try:
        os.replace(staging, month_dir)
    except OSError:
        if old.exists():
            os.replace(old, month_dir)
        raise
    shutil.rmtree(old, ignore_errors=True)


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
        shutil.copy2(html, staging / entry["html"])
        shutil.copy2(notebook, staging / entry["notebook"])
        entries[name] = {**entry, "carried_over": True}
    manifest["notebooks"] = [entries[name] for name in order if name in entries]
    exports = month_dir / "exports"
    if exports.is_dir():
        for file in exports.rglob("*"):
            target = staging / "exports" / file.relative_to(exports)
            if file.is_file() and not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(file, target)


def _clear_failed(reports: Path, month: str, names: list[str]) -> None:
    """Remove kept failed notebooks of ``month`` that have now run successfully."""
    folder = reports / "failed" / month
    for name in names:
        (folder / f"{name}.ipynb").unlink(missing_ok=True)
    for empty in (folder, folder.parent):
        if empty.is_dir() and not any(empty.iterdir()):
            empty.rmdir()


# --------------------------------------------------------------------------- manifest


def merge_metrics(config: KitConfig, month: str) -> dict[str, Any]:
    """All ``snapshots/<month>/metrics/<notebook>.json`` files as one mapping by notebook."""
    folder = config.resolve(config.paths.warehouse) / "snapshots" / month / "metrics"
    if not folder.is_dir():
        return {}
    return {file.stem: json.loads(file.read_text(encoding="utf-8")) for file in sorted(folder.glob("*.json"))}


def data_snapshot(config: KitConfig, month: str) -> dict[str, list[dict[str, Any]]]:
    """The raw input files and the warehouse files this month's pages were built from.

    Each file is listed with its path (relative to its folder), size in bytes and
    modification time. The generator's ground truth (``_truth/``) and other months'
    snapshots are left out.
    """
    raw = config.resolve(config.paths.raw)
    warehouse = config.resolve(config.paths.warehouse)

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
    return line


def _summary_line(result: RunResult, reports: Path) -> str:
    """The final line of a run."""
    done = sum(r.status == "ok" for r in result.results)
    if result.ok:
        return (
            f"{result.month}: {done} notebook(s) ok in {result.seconds:.1f} s; "
            f"published {result.published / 'index.html'}"
        )
    failed = next((r.name for r in result.results if r.status == "failed"), "?")
    return (
        f"{result.month}: FAILED at {failed} ({done} of {len(result.results)} notebook(s) ok, "
        f"{result.seconds:.1f} s); {reports / result.month} left unchanged"
    )
