"""pyproject.toml, the lock (requirements/lock.txt) and environment.yml describe the same
environment; the CLI is installable."""

from __future__ import annotations

import importlib
import platform
import re
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.markers import Marker
from packaging.specifiers import SpecifierSet

ROOT = Path(__file__).resolve().parents[2]
REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*(.*?)\s*$")
CONDA_ONLY = {"python", "pip"}
LOCK = ROOT / "requirements" / "lock.txt"
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;]+)\s*(?:;\s*(.*?))?\s*$")


def normalise(name: str) -> str:
    """PEP 503 name normalisation (conda uses the same lower-case dashed names)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def parse(requirement: str) -> tuple[str, str]:
    """(normalised name with extras, version bounds without spaces) of one requirement."""
    match = REQUIREMENT.match(requirement)
    assert match, f"cannot read requirement {requirement!r}"
    name, extras, bounds = match.groups()
    extras = ",".join(sorted(e.strip().lower() for e in extras.strip("[]").split(","))) if extras else ""
    return normalise(name) + (f"[{extras}]" if extras else ""), ",".join(sorted(bounds.replace(" ", "").split(",")))


def pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def pyproject_requirements() -> dict[str, str]:
    project = pyproject()["project"]
    listed = project["dependencies"] + project["optional-dependencies"]["test"]
    return dict(parse(r) for r in listed)


def environment_requirements() -> tuple[dict[str, str], dict[str, str]]:
    """(conda requirements, pip requirements) of environment.yml, the project itself excluded."""
    env = yaml.safe_load((ROOT / "environment.yml").read_text(encoding="utf-8"))
    conda, pip = {}, {}
    for entry in env["dependencies"]:
        if isinstance(entry, dict):
            pip.update(parse(r) for r in entry["pip"] if not r.startswith("-e"))
        else:
            conda[parse(entry)[0]] = parse(entry)[1]
    return conda, pip


def test_parse_normalises_names_extras_and_bounds():
    assert parse("Ibis_Framework[DuckDB] >= 10") == ("ibis-framework[duckdb]", ">=10")
    assert parse("pandas>=3.0, <4") == parse("pandas<4,>=3.0")
    assert parse("zhplot") == ("zhplot", "")


def lock_pins() -> dict[str, list[tuple[str, str]]]:
    """Normalised name -> [(pinned version, environment marker)] of requirements/lock.txt."""
    pins: dict[str, list[tuple[str, str]]] = {}
    for line in LOCK.read_text(encoding="utf-8").splitlines():
        match = PIN.match(line)
        if match:
            pins.setdefault(normalise(match[1]), []).append((match[2], match[3] or ""))
    return pins


def lock_python_range() -> SpecifierSet:
    """The Python versions the lock is resolved for (pyproject's [tool.uv] environments)."""
    (marker,) = pyproject()["tool"]["uv"]["environments"]
    bounds = re.findall(r"python_version\s*([<>=]+)\s*'([0-9.]+)'", marker)
    assert "sys_platform == 'linux'" in marker and bounds, marker
    return SpecifierSet(",".join(op + version for op, version in bounds))


def test_lock_pins_every_dependency_inside_its_pyproject_range():
    pins = lock_pins()
    for requirement, bounds in pyproject_requirements().items():
        name = requirement.split("[")[0]
        assert name in pins, f"{name} is in pyproject.toml but not in {LOCK.name}: run `make lock`"
        for version, marker in pins[name]:
            assert version in SpecifierSet(bounds), f"{LOCK.name} pins {name}=={version}, outside pyproject's {bounds!r}: run `make lock`"
            assert not marker or "sys_platform == 'linux'" in marker, f"{name}: unexpected marker {marker!r}"


def test_lock_covers_this_python_and_the_supported_range():
    assert SpecifierSet(pyproject()["project"]["requires-python"]).contains("3.11")
    assert all(lock_python_range().contains(v) for v in ("3.11", "3.12", "3.13"))
    if sys.platform == "linux" and platform.python_version() in lock_python_range():
        # every direct dependency has exactly one pin for the running interpreter
        for requirement in pyproject_requirements():
            name = requirement.split("[")[0]
            chosen = [v for v, marker in lock_pins()[name] if not marker or Marker(marker).evaluate()]
            assert len(chosen) == 1, f"{name}: {len(chosen)} pins apply to this Python in {LOCK.name}"


def test_environment_yml_pins_the_locked_version_of_every_pyproject_dependency():
    wanted = pyproject_requirements()
    pins = lock_pins()
    conda, pip = environment_requirements()
    described = {k: v for k, v in conda.items() if k not in CONDA_ONLY} | pip
    missing = sorted(set(wanted) - set(described))
    extra = sorted(set(described) - set(wanted))
    assert not missing, f"in pyproject.toml but not environment.yml: {missing}"
    assert not extra, f"in environment.yml but not pyproject.toml: {extra}"
    differ = []
    for requirement, bound in described.items():
        name = requirement.split("[")[0]
        locked = {version for version, _ in pins[name]}
        if len(locked) != 1 or bound != f"=={next(iter(locked))}":
            differ.append(f"{name}: environment.yml {bound!r}, lock {sorted(locked)}")
    assert not differ, "environment.yml must pin the locked versions: " + "; ".join(sorted(differ))
    assert not set(conda) & set(pip), "a package is listed both for conda and for pip"


def test_python_bound_agrees_and_zhplot_comes_from_pip():
    conda, pip = environment_requirements()
    assert "python" in conda
    assert SpecifierSet(conda["python"]) == SpecifierSet(pyproject()["project"]["requires-python"]) & lock_python_range()
    assert "zhplot" in pip, "zhplot is not on conda-forge: environment.yml must list it under pip:"
    env = yaml.safe_load((ROOT / "environment.yml").read_text(encoding="utf-8"))
    assert "-e ." in next(e for e in env["dependencies"] if isinstance(e, dict))["pip"]


def test_scikit_learn_is_bounded_because_the_kit_reads_its_private_trees():
    # kit/churn/trees.py reads HistGradientBoosting internals: a new minor must be tried first
    bounds = SpecifierSet(pyproject_requirements()["scikit-learn"])
    assert any(spec.operator == "<" for spec in bounds), "scikit-learn needs an upper bound"
    assert all(version in bounds for version, _ in lock_pins()["scikit-learn"])


def test_make_installs_from_the_lock_and_the_stamp_depends_on_it():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    stamp_rule = re.search(r"^\$\(STAMP\):(.*)$", makefile, re.MULTILINE)
    assert stamp_rule and "pyproject.toml" in stamp_rule[1] and "$(LOCK)" in stamp_rule[1]
    assert re.search(r"^LOCK\s*:=\s*requirements/lock.txt$", makefile, re.MULTILINE)
    assert "-c $(LOCK)" in makefile
    for target in ("lock", "test-latest", "report", "test"):
        assert re.search(rf"^{target}:", makefile, re.MULTILINE), f"make {target} is missing"
    assert "make test" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def test_console_script_points_at_an_existing_function():
    target = pyproject()["project"]["scripts"]["kit"]
    module, _, function = target.partition(":")
    assert callable(getattr(importlib.import_module(module), function))


@pytest.mark.parametrize("folder", ["notebooks", "kit", "reports", "tests", "config"])
def test_layout_folders_exist(folder):
    assert (ROOT / folder).is_dir()


def test_report_templates_ship_with_the_package():
    patterns = pyproject()["tool"]["setuptools"]["package-data"]["kit"]
    assert "report/templates/**/*" in patterns and "text/strings/*.yml" in patterns
    assert (ROOT / "kit" / "report" / "templates" / "kit_report" / "index.html.j2").is_file()
