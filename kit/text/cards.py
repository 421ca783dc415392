"""The display values a stage page hands to the report shell: KPI cards and highlights.

They hold already formatted, already translated text, so the shell (kit.report) only lays
them out and a page never imports the shell.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from kit.text.fmt import Formatter


@dataclass(frozen=True)
class Kpi:
    """One KPI card: label, formatted value, optional change, direction and sparkline."""

    label: str
    value: str
    delta: str = ""
    good: bool | None = None
    spark: list[float] | None = None
    note: str = ""


@dataclass(frozen=True)
class Highlight:
    """One highlight sentence and the report page (``05_churn.html``) that details it."""

    text: str
    page: str = ""


class Canvas(Protocol):
    """What a stage page may draw on: the report shell (kit.report.Report) implements it.

    A page that lays out a whole section itself (e.g. the experiment readout) takes a
    Canvas instead of importing the shell, so pages stay below the shell in the layering.
    """

    lang: str
    fmt: Formatter

    def section(self, title: str, meaning: str = "") -> None: ...
    def banner(self, text: str, level: str = "info") -> None: ...
    def kpis(self, cards: list[Kpi]) -> None: ...
    def table(self, frame: pd.DataFrame, formats: dict[str, str] | None = None, caption: str = "",
              max_rows: int = 30, empty: str = "") -> None: ...
    def figure(self, title: str, xlabel: str = "", ylabel: str = "", size: tuple[float, float] = (8, 4.5)) -> tuple[Figure, Axes]: ...
    def show(self, fig: Figure) -> None: ...
    def colors(self, names: list[str], kind: str = "") -> dict[str, str]: ...
    def missing_input(self, need: str) -> str: ...
    def unavailable(self, need: str, what: str) -> None: ...
