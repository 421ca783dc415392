"""The scratch area of interactive sessions: where a notebook run by hand reads and writes.

Only ``kit run`` writes the published warehouse generation, snapshots, metrics, exports
and pages. A notebook opened in JupyterLab (``run_dir`` is None) works on a private
hard-link copy of the current generation in ``<paths.scratch>/<user>/warehouse`` and
exports into ``<paths.scratch>/<user>/months/<month>/exports``, so exploring (another
language, another month, a widget) never changes what leadership reads, and a later
``kit run --only`` never publishes a page built from an analyst's experiment. The copy
costs no data (hard links; every writer replaces files, ``kit.core.atomic``) and is refreshed
when a newer generation is published (``base.txt`` names the one it was copied from).

``kit lab`` also opens working copies of the notebooks (``<user>/notebooks``), so
JupyterLab's autosave never writes outputs or parameter edits into the tracked ones.
"""

from __future__ import annotations

import getpass
import json
import os
import re
import shutil
import sys
from pathlib import Path

from kit.core.atomic import write_text_atomic
from kit.core.config import KitConfig
from kit.core.generations import current_dir, current_id, link_tree

BASE_FILE = "base.txt"
FLAT = "flat"  # base.txt of a copy of a warehouse that has no generations yet
CONFIG_LINE = re.compile(r'^config_path = ".*"$', re.M)


def user_dir(config: KitConfig) -> Path:
    """This user's scratch folder, ``<paths.scratch>/<user>``."""
    user = re.sub(r"[^A-Za-z0-9_.-]", "_", getpass.getuser()) or "user"
    return config.resolve(config.paths.scratch) / user


def month_dir(config: KitConfig, month: str) -> Path:
    """Where an interactive session's month output (exports) goes."""
    return user_dir(config) / "months" / month


def warehouse(config: KitConfig) -> Path:
    """This user's scratch copy of the current warehouse generation, made or refreshed now.

    A copy whose ``base.txt`` names the current generation is reused as it is (with the
    session's own writes); otherwise it is replaced by a fresh hard-link copy. An empty
    folder stands for a warehouse that does not exist yet.
    """
    root = config.resolve(config.paths.warehouse)
    base = (current_id(root) or FLAT) if root.is_dir() else "none"
    folder = user_dir(config) / "warehouse"
    marker = user_dir(config) / BASE_FILE
    if folder.is_dir() and marker.is_file() and marker.read_text(encoding="utf-8").strip() == base:
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    if base == "none":
        folder.mkdir(parents=True)
    else:
        link_tree(current_dir(root), folder)
    write_text_atomic(marker, base + "\n")
    return folder


def working_notebooks(config: KitConfig, config_file: Path) -> tuple[Path, list[str]]:
    """Copy the tracked notebooks this user has no working copy of into
    ``<user>/notebooks`` (their ``config_path`` parameter pointing at ``config_file``).

    Returns the folder and one line per notebook whose tracked version changed after the
    working copy was made (kept, never overwritten: delete it to get the new one).
    """
    source = config.resolve(config.paths.notebooks)
    target = user_dir(config) / "notebooks"
    target.mkdir(parents=True, exist_ok=True)
    stale = []
    for tracked in sorted(source.glob("*.ipynb")):
        copy = target / tracked.name
        if copy.exists():
            if tracked.stat().st_mtime > copy.stat().st_mtime:
                stale.append(f"{copy} is older than {tracked}: kept (delete it to get the new version)")
            continue
        write_text_atomic(copy, _with_config(tracked.read_text(encoding="utf-8"), config_file))
    return target, stale


def _with_config(notebook_json: str, config_file: Path) -> str:
    """The notebook with its parameters cell's ``config_path`` set to ``config_file``."""
    nb = json.loads(notebook_json)
    line = f"config_path = {json.dumps(str(config_file))}"
    for cell in nb["cells"]:
        if "parameters" in cell.get("metadata", {}).get("tags", []):
            source = "".join(cell["source"])
            cell["source"] = CONFIG_LINE.sub(line.replace("\\", "\\\\"), source).splitlines(keepends=True)
    return json.dumps(nb, ensure_ascii=False, indent=1) + "\n"


def lab_command(folder: Path) -> list[str]:
    """The JupyterLab command line for ``folder`` with this interpreter's JupyterLab
    (``--allow-root`` when run as root, which JupyterLab otherwise refuses)."""
    command = [sys.executable, "-m", "jupyterlab", str(folder)]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")
    return command
