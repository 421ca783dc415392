"""The layering of kit/ (docs/REPORT_API.md): every import, including imports inside
functions, goes down the layers, never up; no import cycles; compute never imports
presentation; a stage uses another stage only through its package face.

Layers, lowest first:
  core      kit.core.*            config, dates, warehouse, generations, vocabulary
  text      kit.text.*            formatting, translation, display cards, glossary
  pipeline  kit.<stage>.* but page modules (and each stage package's __init__)
  page      kit.<stage>.page*     a stage's report sections
  shell     kit.report.*          the report shell notebooks draw on
  top       kit.runner, kit.publish, kit.cli, kit.frames, kit.bench.*, kit.demo.*, kit.browser_check, kit
The modules are read with ``ast`` (nothing is imported), so the test also sees imports
that only run inside a function.
"""

from __future__ import annotations

import ast
from pathlib import Path

from kit.core.config import PROJECT_ROOT

KIT = PROJECT_ROOT / "kit"
STAGES = ("ingest", "profile", "segments", "clv", "churn", "experiments", "overview")
LAYERS = ("core", "text", "pipeline", "page", "shell", "top")
PRESENTATION = ("matplotlib", "ipywidgets", "IPython", "kit.text", "kit.report")


def module_name(path: Path) -> str:
    """``kit/segments/page.py`` -> ``kit.segments.page``; a package's __init__ is the package."""
    parts = list(path.relative_to(PROJECT_ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    """Every module of kit/ by dotted name."""
    return {module_name(p): p for p in sorted(KIT.rglob("*.py"))}


def imports(path: Path) -> set[str]:
    """Every module ``path`` imports, at any depth of the file (``from a import b`` gives a and a.b)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def stage_of(name: str) -> str | None:
    """The stage a module belongs to (None outside the stage packages)."""
    parts = name.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in STAGES else None


def layer_of(name: str) -> str:
    """The layer of a kit module (module docstring)."""
    parts = name.split(".")
    if len(parts) > 1 and parts[1] in ("core", "text"):
        return parts[1]
    if len(parts) > 1 and parts[1] == "report":
        return "shell"
    if stage_of(name):
        return "page" if len(parts) > 2 and parts[2].startswith("page") else "pipeline"
    return "top"


def kit_edges() -> dict[str, set[str]]:
    """module -> the kit modules it imports (names that are modules, not functions)."""
    known = modules()
    return {name: {m for m in imports(path) if m in known and m != name} for name, path in known.items()}


def test_every_module_has_a_layer_and_stages_have_their_pages() -> None:
    names = modules()
    assert all(layer_of(n) in LAYERS for n in names)
    for stage in STAGES:
        assert f"kit.{stage}.page" in names, f"stage {stage} has no page module kit/{stage}/page.py"


def test_imports_go_down_the_layers_only() -> None:
    upward = [
        f"{name} ({layer_of(name)}) imports {target} ({layer_of(target)})"
        for name, targets in kit_edges().items()
        for target in targets
        if LAYERS.index(layer_of(target)) > LAYERS.index(layer_of(name))
    ]
    assert not upward, "upward imports:\n" + "\n".join(sorted(upward))


def test_compute_never_imports_presentation() -> None:
    """core and the stage pipelines compute with codes: no translation, formatting or charts."""
    found = [
        f"{name} imports {target}"
        for name, path in modules().items()
        if layer_of(name) in ("core", "pipeline")
        for target in imports(path)
        if target.split(".")[0] in ("matplotlib", "ipywidgets", "IPython") or target.startswith(("kit.text", "kit.report"))
    ]
    assert not found, "presentation in compute modules:\n" + "\n".join(sorted(found))


def test_a_stage_uses_another_only_through_its_package_face() -> None:
    """Across stages only ``kit.<stage>`` (its __init__ exports) may be imported; a page
    may also use another stage's page (e.g. the overview names segments)."""
    found = []
    for name, targets in kit_edges().items():
        own = stage_of(name)
        if own is None:
            continue
        for target in targets:
            other = stage_of(target)
            if other is None or other == own or target == f"kit.{other}":
                continue
            if layer_of(name) == "page" and layer_of(target) == "page":
                continue
            found.append(f"{name} imports {target}")
    assert not found, "reaching into another stage:\n" + "\n".join(sorted(found))


def test_stage_package_faces_export_compute_only() -> None:
    """A stage's __init__ imports only its own pipeline modules, so importing a stage's
    face from another stage's pipeline never pulls in a page."""
    bad = [
        f"kit.{stage} imports {target}"
        for stage in STAGES
        for target in kit_edges().get(f"kit.{stage}", set())
        if stage_of(target) != stage or layer_of(target) != "pipeline"
    ]
    assert not bad, "\n".join(bad)


def test_no_import_cycles() -> None:
    edges = kit_edges()
    # a package face importing its own submodules is how Python packages work, not a cycle of design
    graph = {n: {t for t in ts if not n == ".".join(t.split(".")[:-1])} for n, ts in edges.items()}
    cycles = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append(" -> ".join(stack[stack.index(nxt):] + [nxt]))
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def test_runner_and_notebooks_share_no_environment_variables() -> None:
    """Run settings reach a notebook as papermill parameters (run_dir), never as a hidden
    environment variable between the runner, the report shell and the notebooks."""
    places = [KIT / "runner.py", *sorted((KIT / "report").glob("*.py")), *sorted((PROJECT_ROOT / "notebooks").glob("*.ipynb"))]
    found = [str(p.relative_to(PROJECT_ROOT)) for p in places if "environ" in p.read_text(encoding="utf-8") or "getenv" in p.read_text(encoding="utf-8")]
    assert not found, f"environment variables used in {found}"


def test_the_layering_test_sees_violations(tmp_path: Path) -> None:
    """The checks are not vacuous: an upward import and a cycle are found in made-up modules."""
    assert layer_of("kit.segments.pipeline") == "pipeline" and layer_of("kit.segments.page") == "page"
    assert layer_of("kit.core.vocabulary") == "core" and layer_of("kit.report.shell") == "shell"
    assert layer_of("kit.runner") == "top" and layer_of("kit.text.fmt") == "text"
    source = tmp_path / "m.py"
    source.write_text("def f():\n    from kit.report.shell import Report\n    import kit.text.fmt\n", encoding="utf-8")
    assert {"kit.report.shell", "kit.report.shell.Report", "kit.text.fmt"} <= imports(source)
