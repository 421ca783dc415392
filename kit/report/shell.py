"""``Report``: the one object a notebook uses to show a leadership-grade page.

It carries the run's context (config, month, language, headless flag, warehouse) and
displays the blocks of ``kit.report.blocks`` in the notebook output, where the runner's
HTML export picks them up. Interactive widgets go through ``explore`` so that they never
reach a headless (published) run.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from kit.core import scratch
from kit.core.atomic import write_text_atomic
from kit.core.config import KitConfig, load_config
from kit.core.dates import check_month
from kit.core.vocabulary import Vocabulary
from kit.core.warehouse import Warehouse, with_warehouse
from kit.report import blocks, theme
from kit.text.cards import Highlight, Kpi
from kit.text.fmt import Formatter
from kit.text.glossary import glossary
from kit.text.i18n import has_key
from kit.text.i18n import t as translate


@dataclass(frozen=True)
class RunContext:
    """What ``kit run`` tells each notebook through ``run_dir/run_context.json``.

    ``warehouse``: the run's new warehouse generation, where every table, snapshot and
    metric of the run is written; ``output_dir``: the staging folder of ``reports/<month>/``,
    where exported files go. Both become visible only when the whole run succeeds.
    """

    warehouse: str
    output_dir: str

    FILE = "run_context.json"

    def write(self, run_dir: Path) -> Path:
        """Write the context into the run folder (the runner does this before any notebook)."""
        return write_text_atomic(Path(run_dir) / self.FILE, json.dumps(asdict(self), indent=2))

    @classmethod
    def read(cls, run_dir: str | Path) -> "RunContext":
        """The context the runner wrote into ``run_dir``; a clear error when it is not there."""
        file = Path(run_dir) / cls.FILE
        if not file.is_file():
            raise FileNotFoundError(f"run_dir={run_dir}: {file} not found; run_dir is set by kit run (None when interactive).")
        return cls(**json.loads(file.read_text(encoding="utf-8")))


def _display_html(html: str) -> None:
    """Show HTML in the notebook output (a no-op outside IPython is not needed: tests patch it)."""
    from IPython.display import HTML, display

    display(HTML(html))


def _clean(value: Any) -> Any:
    """Replace NaN floats by None, recursively (JSON has no NaN)."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, float) and np.isnan(value):
        return None
    return value


def _json_default(value: Any) -> Any:
    """Make numpy / pandas scalars JSON-serialisable."""
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return None if np.isnan(value) else float(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, (pd.Timestamp,)):
        return value.isoformat()
    raise TypeError(f"metric value {value!r} of type {type(value).__name__} is not JSON-serialisable")


class Report:
    """The page being built by one notebook for one month."""

    def __init__(
        self, config: KitConfig, month: str, lang: str, headless: bool, notebook: str, output_dir: Path | None = None
    ) -> None:
        self.config = config
        self.month = check_month(month)
        self.lang = lang
        self.headless = headless
        self.notebook = notebook
        self.output_dir = output_dir
        self.fmt = Formatter(lang, config.project.currency)
        self.wh = Warehouse.from_config(config)

    @classmethod
    def start(
        cls,
        config_path: str | Path,
        month: str,
        lang: str = "en",
        headless: bool = False,
        notebook: str = "",
        run_dir: str | Path | None = None,
    ) -> "Report":
        """Load the config for this run, apply the chart theme and put the page style in place.

        ``run_dir`` is the folder ``kit run`` injects (None when interactive): the returned
        report's ``config.paths.warehouse`` is then the run's new warehouse generation and
        its exports go to the run's staging folder, so every stage writes where the run can
        publish or discard it as a whole. Interactively, ``paths.warehouse`` becomes this
        user's scratch copy of the current generation and exports go to the scratch area
        (``kit.core.scratch``): exploring never changes the published month.
        """
        config = load_config(config_path, overrides={"run": {"month": month, "lang": lang}})
        if run_dir is not None:
            context = RunContext.read(run_dir)
            config, output_dir = with_warehouse(config, Path(context.warehouse)), Path(context.output_dir)
        else:
            config, output_dir = with_warehouse(config, scratch.warehouse(config)), scratch.month_dir(config, month)
        theme.apply_theme()
        report = cls(config, month, lang, headless, notebook, output_dir)
        _display_html(blocks.style())
        return report

    # ---------------------------------------------------------------- text
    def t(self, key: str, **values: object) -> str:
        """Translated text for ``key`` in this report's language."""
        return translate(key, self.lang, **values)

    def title(self, text: str, subtitle: str = "") -> None:
        """The page heading; the subtitle defaults to the project and the month."""
        if not subtitle:
            subtitle = self.t("report.subtitle", project=self.config.project.name, month=self.fmt.month(self.month))
        _display_html(blocks.title(text, subtitle))

    def findings(self, items: list[str]) -> None:
        """The key-findings box at the top of the page."""
        _display_html(blocks.findings(self.t("report.key_findings"), items))

    def highlights(self, items: list[Highlight]) -> None:
        """Highlight sentences, each linking to the report page that details it."""
        _display_html(blocks.highlights(items, self.t("report.details_link")))

    def section(self, title: str, meaning: str = "") -> None:
        """A section heading and its "what this means" paragraph."""
        _display_html(blocks.section(title, self.t("report.what_this_means"), meaning))

    def banner(self, text: str, level: str = "info") -> None:
        """A coloured banner (``danger`` for a red stop sign)."""
        _display_html(blocks.banner(text, level))

    def missing_input(self, need: str) -> str:
        """The short phrase for an absent input (``input.<need>``: "No survey data"), for a
        KPI card's value or a table cell; needs are named as in kit.core.inputs."""
        key = f"input.{need}"
        if has_key(key):
            return self.t(key)
        table, _, column = need.partition(".")
        if table == "events":  # events.<type>: an event type the data does not have
            return self.t("input.event_type", type=column)
        return self.t("input.column", table=self.t(f"input.table.{table}"), column=column)

    def unavailable(self, need: str, what: str) -> None:
        """One plain line where a section cannot be shown because input ``need`` is absent:
        "No survey data: satisfaction is not shown." (``what`` is the translated thing)."""
        _display_html(blocks.unavailable(self.t("input.unavailable", missing=self.missing_input(need), what=what)))

    def kpis(self, cards: list[Kpi]) -> None:
        """A row of KPI cards."""
        _display_html(blocks.kpi_cards(cards))

    def table(
        self,
        frame: pd.DataFrame,
        formats: dict[str, str] | None = None,
        caption: str = "",
        max_rows: int = 30,
        empty: str = "",
    ) -> None:
        """A formatted table (at most ``max_rows`` rows, with a note when more exist).

        A table without rows is never drawn (a bare header reads as a broken page): one
        plain line stands in its place, ``empty`` (why there is nothing, translated) or a
        generic "nothing to show this month".
        """
        if frame.empty:
            _display_html(blocks.unavailable(empty or self.t("report.no_rows")))
            return
        more = self.t("report.more_rows", shown=self.fmt.int(min(max_rows, len(frame))), total=self.fmt.int(len(frame)))
        _display_html(blocks.table(frame, self.fmt, formats, caption, max_rows, more))

    # ---------------------------------------------------------------- charts
    def figure(
        self, title: str, xlabel: str = "", ylabel: str = "", size: tuple[float, float] = (8, 4.5)
    ) -> tuple[plt.Figure, plt.Axes]:
        """A new titled chart with axis labels (give units in the labels)."""
        fig, ax = plt.subplots(figsize=size)
        ax.set_title(title)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        return fig, ax

    def show(self, fig: plt.Figure) -> None:
        """Display a finished chart once and release it."""
        from IPython.display import display

        display(fig)
        plt.close(fig)

    def colors(self, names: list[str], kind: str = "") -> dict[str, str]:
        """The kit-wide colour of each name (segments, personas, stages, tiers, variants)."""
        return theme.colors([str(n) for n in names], kind)

    # ---------------------------------------------------------------- interaction and outputs
    def progress(self, prefix: str) -> Callable[[str], None] | None:
        """A callback that prints one line per step of a long computation (the text of
        ``<prefix>.<step>`` and the seconds since it began) while an analyst waits; None
        when headless, so no progress line reaches a published page."""
        if self.headless:
            return None
        started = time.perf_counter()

        def say(step: str) -> None:
            print(f"[{time.perf_counter() - started:4.0f} s] {self.t(f'{prefix}.{step}')}", flush=True)

        return say

    def explore(self, build: Callable[[], Any], title: str = "", meaning: str = "") -> None:
        """Show an interactive widget built by ``build`` in JupyterLab; nothing when headless.

        With ``title`` the widget gets its own section (``meaning`` its paragraph), left out
        with the widget when headless: a published page has no widgets, and a heading with
        nothing under it reads as a broken section. Returns nothing on purpose: a widget
        returned as a cell's last expression would be shown a second time below the first.
        """
        if self.headless:
            return
        from IPython.display import display

        if title:
            self.section(title, meaning)
        display(build())

    @property
    def export_dir(self) -> Path:
        """Where this run's exported files go: the staging folder during ``kit run``, else
        the scratch area (never the published ``reports/<month>/``)."""
        base = self.output_dir or scratch.month_dir(self.config, self.month)
        folder = base / "exports"
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    @property
    def metrics_path(self) -> Path:
        """Where ``save_metrics`` writes this notebook's headline figures for the month."""
        if not self.notebook:
            raise ValueError("Report.start(..., notebook=NAME) is needed to save metrics")
        return self.wh.snapshot_dir(self.month) / "metrics" / f"{self.notebook}.json"

    def definitions(self, terms: list[str]) -> None:
        """A "Definitions" section with the business vocabulary's name and meaning of each
        of ``terms`` (kit.core.vocabulary.TERMS), the same words on every page."""
        self.section(self.t("report.definitions"), self.t("report.definitions.meaning"))
        self.table(glossary(terms, Vocabulary.from_config(self.config), self.lang), max_rows=len(terms))

    def save_metrics(self, values: dict[str, Any]) -> None:
        """Write this notebook's headline figures for the month (read by the overview).

        Returns nothing on purpose: a notebook's last line is shown on the page, and a
        returned path printed a server path (``PosixPath('/…/metrics/…json')``) there.
        """
        text = json.dumps(_clean(values), default=_json_default, ensure_ascii=False, indent=2)
        write_text_atomic(self.metrics_path, text)
