"""The Python API examples of README.md run as written, in order, in one namespace."""

from __future__ import annotations

import re

import matplotlib

from kit.core.config import PROJECT_ROOT

matplotlib.use("Agg")

DOC = PROJECT_ROOT / "README.md"  # its section "Python API: the kit on your own DataFrames"


def examples() -> list[str]:
    """The ```python blocks of the README's Python API section, in order."""
    text = DOC.read_text(encoding="utf-8")
    section = text[text.index("## Python API") :]
    section = section[: section.index("\n## ", 1)]
    return re.findall(r"```python\n(.*?)```", section, flags=re.DOTALL)


def test_every_frames_function_has_an_example() -> None:
    from kit import frames

    code = "\n".join(examples())
    assert [name for name in frames.__all__ if f"frames.{name}(" not in code] == []


def test_the_examples_run(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {}
    for block in examples():
        exec(compile(block, str(DOC), "exec"), namespace)  # noqa: S102 - the documented examples
    scores = namespace["scores"]
    assert scores["clv"].notna().all() and len(scores) > 1000
    assert namespace["readout"].decision.verdict == "ship"
    assert "Champions" in capsys.readouterr().out
    churn = namespace["churn"]
    assert churn.scores["churn_probability"].between(0, 1).all() and len(churn.scores) > 500
    assert {"days_since_ev_login", "ev_login_28d"} <= set(churn.model.spec.numeric)  # the log's own event names
