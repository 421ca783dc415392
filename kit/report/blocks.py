"""HTML building blocks of a report page, as pure functions that return HTML text.

Kept separate from the notebook display calls so every block is unit-tested. All text is
escaped; callers pass already-translated strings.
"""

from __future__ import annotations

from html import escape
from pathlib import Path

import pandas as pd

from kit.text.cards import Highlight, Kpi
from kit.text.fmt import Formatter

STYLE_FILE = Path(__file__).with_name("style.css")
NUMERIC_FORMATS = {"int", "num1", "num2", "money", "money_compact", "pct", "pp", "change", "days"}
LEVELS = ("info", "success", "warning", "danger")
# One or two points draw a dot or a lone segment that reads as a glitch, not a trend.
MIN_SPARK_POINTS = 3


def style() -> str:
    """The page's CSS as a <style> element (inline: the page must work offline)."""
    return f"<style>{STYLE_FILE.read_text(encoding='utf-8')}</style>"


def wrap(inner: str) -> str:
    """Wrap a block in the kit's CSS scope."""
    return f'<div class="kit">{inner}</div>'


def title(text: str, subtitle: str = "") -> str:
    """The page heading."""
    sub = f'<div class="kit-subtitle">{escape(subtitle)}</div>' if subtitle else ""
    return wrap(f"<h1>{escape(text)}</h1>{sub}")


def findings(heading: str, items: list[str]) -> str:
    """The key-findings box."""
    bullets = "".join(f"<li>{escape(item)}</li>" for item in items)
    return wrap(f'<div class="kit-findings"><h3>{escape(heading)}</h3><ul>{bullets}</ul></div>')


def highlights(items: list[Highlight], link_text: str) -> str:
    """A list of highlight sentences, each followed by a link to its detailed page."""
    rows = []
    for item in items:
        link = f' <a href="{escape(item.page)}">{escape(link_text)}</a>' if item.page else ""
        rows.append(f"<li>{escape(item.text)}{link}</li>")
    return wrap(f'<ul class="kit-highlights">{"".join(rows)}</ul>')


def section(heading: str, meaning_label: str, meaning: str) -> str:
    """A section heading with its "what this means" paragraph."""
    para = f'<div class="kit-meaning"><b>{escape(meaning_label)}</b> {escape(meaning)}</div>' if meaning else ""
    return wrap(f"<h2>{escape(heading)}</h2>{para}")


def banner(text: str, level: str = "info") -> str:
    """A coloured banner; ``danger`` is the red one that blocks a decision."""
    if level not in LEVELS:
        raise ValueError(f"banner level {level!r} is not one of {', '.join(LEVELS)}")
    return wrap(f'<div class="kit-banner kit-{level}">{escape(text)}</div>')


def unavailable(text: str) -> str:
    """The plain line standing where a section's input is absent."""
    return wrap(f'<p class="kit-unavailable">{escape(text)}</p>')


def sparkline(values: list[float], width: int = 120, height: int = 28) -> str:
    """A small inline SVG line of ``values`` (missing values are skipped); nothing when
    fewer than ``MIN_SPARK_POINTS`` values remain."""
    points = [(i, float(v)) for i, v in enumerate(values) if v is not None and not pd.isna(v)]
    if len(points) < MIN_SPARK_POINTS:
        return ""
    lo = min(v for _, v in points)
    hi = max(v for _, v in points)
    span = (hi - lo) or 1.0
    last = max(i for i, _ in points) or 1
    coords = " ".join(
        f"{2 + i / last * (width - 4):.1f},{height - 2 - (v - lo) / span * (height - 4):.1f}" for i, v in points
    )
    return (
        f'<svg width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img">'
        f'<polyline fill="none" stroke="#0072B2" stroke-width="1.6" points="{coords}"/></svg>'
    )


def kpi_cards(cards: list[Kpi]) -> str:
    """A row of KPI cards."""
    parts = []
    for card in cards:
        tone = {True: "kit-good", False: "kit-bad", None: "kit-neutral"}[card.good]
        delta = f'<div class="kit-delta {tone}">{escape(card.delta)}</div>' if card.delta else ""
        note = f'<div class="kit-note">{escape(card.note)}</div>' if card.note else ""
        spark = sparkline(card.spark) if card.spark else ""
        parts.append(
            f'<div class="kit-card"><div class="kit-label">{escape(card.label)}</div>'
            f'<div class="kit-value">{escape(card.value)}</div>{delta}{spark}{note}</div>'
        )
    return wrap(f'<div class="kit-cards">{"".join(parts)}</div>')


def table(
    frame: pd.DataFrame,
    fmt: Formatter,
    formats: dict[str, str] | None = None,
    caption: str = "",
    max_rows: int = 30,
    more_text: str = "",
) -> str:
    """A formatted HTML table of ``frame``; ``formats`` maps column -> format kind."""
    formats = formats or {}
    unknown = set(formats) - set(frame.columns)
    if unknown:
        raise KeyError(f"table formats name columns that are not in the table: {sorted(unknown)}")
    shown = frame.head(max_rows)
    head = "".join(f"<th>{escape(str(col))}</th>" for col in shown.columns)
    rows = []
    for values in shown.itertuples(index=False, name=None):
        cells = []
        for col, value in zip(shown.columns, values):
            kind = formats.get(col, "text")
            css = ' class="kit-num"' if kind in NUMERIC_FORMATS else ""
            cells.append(f"<td{css}>{escape(fmt.apply(value, kind))}</td>")
        rows.append(f"<tr>{''.join(cells)}</tr>")
    cap = f"<caption>{escape(caption)}</caption>" if caption else ""
    more = ""
    if len(frame) > max_rows and more_text:
        more = f'<div class="kit-more">{escape(more_text)}</div>'
    return wrap(f'<table class="kit-table">{cap}<thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>{more}')
