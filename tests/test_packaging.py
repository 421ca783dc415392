"""pyproject.toml and environment.yml describe the same environment; the CLI is installable."""

from __future__ import annotations

import importlib
import re
import tomllib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*(.*?)\s*$")
CONDA_ONLY = {"python", "pip"}


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


def test_environment_yml_and_pyproject_list_the_same_packages_and_bounds():
    wanted = pyproject_requirements()
    conda, pip = environment_requirements()
    described = {k: v for k, v in conda.items() if k not in CONDA_ONLY} | pip
    missing = sorted(set(wanted) - set(described))
    extra = sorted(set(described) - set(wanted))
    differ = sorted(f"{n}: pyproject {wanted[n]!r} vs environment.yml {described[n]!r}" for n in set(wanted) & set(described) if wanted[n] != described[n])
    assert not missing, f"in pyproject.toml but not environment.yml: {missing}"
    assert not extra, f"in environment.yml but not pyproject.toml: {extra}"
    assert not differ, "version bounds disagree: " + "; ".join(differ)
    assert not set(conda) & set(pip), "a package is listed both for conda and for pip"


def test_python_bound_agrees_and_zhplot_comes_from_pip():
    conda, pip = environment_requirements()
    assert "python" in conda
    assert conda["python"] == pyproject()["project"]["requires-python"].replace(" ", "")
    assert "zhplot" in pip, "zhplot is not on conda-forge: environment.yml must list it under pip:"
    env = yaml.safe_load((ROOT / "environment.yml").read_text(encoding="utf-8"))
    assert "-e ." in next(e for e in env["dependencies"] if isinstance(e, dict))["pip"]


def test_console_script_points_at_an_existing_function():
    target = pyproject()["project"]["scripts"]["kit"]
    module, _, function = target.partition(":")
    assert callable(getattr(importlib.import_module(module), function))


@pytest.mark.parametrize("folder", ["notebooks", "kit", "reports", "tests", "config"])
def test_layout_folders_exist(folder):
    assert (ROOT / folder).is_dir()


def test_report_templates_ship_with_the_package():
    patterns = pyproject()["tool"]["setuptools"]["package-data"]["kit"]
    assert "report/templates/**/*" in patterns and "i18n/*.yml" in patterns
    assert (ROOT / "kit" / "report" / "templates" / "kit_report" / "index.html.j2").is_file()
