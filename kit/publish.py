"""Turn executed notebooks into self-contained HTML pages and build the index pages.

A published page must read like a report, not a notebook: no code, no prompts, no
parameters cells, no stderr, warnings or tracebacks, and nothing fetched from the
internet (it is opened offline and e-mailed as one file). nbconvert's HTMLExporter does
the rendering with the kit's template (``kit/report/templates/kit_report``: the lab
layout with its CDN scripts removed); this module cleans the notebook before export and
adds a table of contents built from the page's h2 headings and embeds the subset of
the Chinese font the page needs (``kit.report.webfont``), so it reads on machines
without a Chinese font.

The month index (``reports/<month>/index.html``) lists the pages of one run, the overview
first; ``reports/index.html`` lists every published month. Both are small hand-built HTML
pages in the report language using the same print-friendly CSS.
"""

from __future__ import annotations

import copy
import json
import re
from html import escape, unescape
from pathlib import Path
from typing import Any

import nbformat
from nbconvert import HTMLExporter

from kit.core.atomic import write_text_atomic
from kit.core.config import MONTH_PATTERN
from kit.report.webfont import embed_font
from kit.text.i18n import t

TEMPLATES_DIR = Path(__file__).resolve().parent / "report" / "templates"
TEMPLATE_NAME = "kit_report"
PAGE_CSS = TEMPLATES_DIR / TEMPLATE_NAME / "static" / "kit_page.css"

# Cells never shown: papermill's parameters cells and the usual "remove" tags.
HIDDEN_CELL_TAGS = {"parameters", "injected-parameters", "remove-cell", "remove_cell"}
# Cells whose outputs are never shown.
HIDDEN_OUTPUT_TAGS = {"remove-output", "remove_output"}
# Output tags that mark an output as a warning or as not for the page.
HIDDEN_OUTPUT_MARKS = {"warning", "warnings", "remove-output", "remove_output"}
# Widget outputs need a live kernel: they never reach a page (rep.explore skips them headless).
WIDGET_MIMETYPES = ("application/vnd.jupyter.widget-view+json", "application/vnd.jupyter.widget-state+json")
# JavaScript is dropped from outputs: mail clients block it and the page must work without it.
JAVASCRIPT = "application/javascript"
# A Python warning written to stdout by warnings.showwarning: "file.py:12: FutureWarning: ..."
WARNING_LINE = re.compile(r"^\S.*:\d+: \w*Warning: ", re.MULTILINE)
H1 = re.compile(r"<h1\b[^>]*>(.*?)</h1>", re.IGNORECASE | re.DOTALL)
H2 = re.compile(r"<h2\b([^>]*)>(.*?)</h2>", re.IGNORECASE | re.DOTALL)
ID_ATTR = re.compile(r"""\bid\s*=\s*["']([^"']+)["']""", re.IGNORECASE)
TAG = re.compile(r"<[^>]+>")
# Anything a browser would fetch from the network: remote src/href on loading elements,
# CSS @import / url() and JavaScript import() of an http(s) or protocol-relative address.
REMOTE_RESOURCE = re.compile(
    r"""<(?:script|link|img|image|iframe|source|audio|video|embed|object|use)\b[^>]*?\b(?:src|href|data)\s*=\s*["']?\s*(?:https?:)?//[^"'\s>]*"""
    r"""|@import\s+(?:url\()?\s*["']?\s*(?:https?:)?//[^"')\s;]*"""
    r"""|\burl\(\s*["']?\s*(?:https?:)?//[^"')\s]*"""
    r"""|\bimport\s*\(\s*["'](?:https?:)?//[^"']*""",
    re.IGNORECASE,
)


class PublishError(RuntimeError):
    """A page cannot be published as it is (for example it would load from the internet)."""


# --------------------------------------------------------------------------- pages


def clean_notebook(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy of an executed notebook with everything a report must not show removed.

    Drops parameters / injected-parameters / remove-tagged cells, stderr streams, error
    outputs, outputs tagged as warnings, stdout text that is a Python warning, widget and
    JavaScript outputs, and the notebook's widget state.
    """
    nb = copy.deepcopy(nb)
    nb.metadata.pop("widgets", None)
    kept = []
    for cell in nb.cells:
        tags = set(cell.get("metadata", {}).get("tags", []))
        if tags & HIDDEN_CELL_TAGS:
            continue
        if cell.cell_type == "code":
            cell.outputs = [] if tags & HIDDEN_OUTPUT_TAGS else [o for o in map(_clean_output, cell.outputs) if o]
        kept.append(cell)
    nb.cells = kept
    return nb


def _clean_output(output: nbformat.NotebookNode) -> nbformat.NotebookNode | None:
    """The output as it may appear in a report, or None when it must not appear."""
    if output.output_type == "error":
        return None
    if set(output.get("metadata", {}).get("tags", [])) & HIDDEN_OUTPUT_MARKS:
        return None
    if output.output_type == "stream":
        if output.name != "stdout" or WARNING_LINE.search(output.text):
            return None
        return output
    data = output.get("data", {})
    if any(mime in data for mime in WIDGET_MIMETYPES):
        return None
    if JAVASCRIPT in data:
        output = copy.deepcopy(output)
        del output.data[JAVASCRIPT]
        return output if output.data else None
    if WARNING_LINE.search(str(data.get("text/plain", ""))) and len(data) == 1:
        return None
    return output


def page_title(nb: nbformat.NotebookNode, fallback: str) -> str:
    """The text of the first h1 heading among the notebook's HTML outputs (else ``fallback``)."""
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            match = H1.search(str(output.get("data", {}).get("text/html", "")))
            if match:
                text = _plain(match.group(1))
                if text:
                    return text
    return fallback


def add_toc(html: str, lang: str) -> str:
    """Give every h2 an id and put a linked table of contents just before the first h2.

    The page then opens with the title, key findings and KPI cards, followed by the list
    of sections. A page without h2 headings is returned unchanged.
    """
    entries: list[tuple[str, str]] = []

    def number(match: re.Match[str]) -> str:
        attrs, inner = match.group(1), match.group(2)
        found = ID_ATTR.search(attrs)
        anchor = found.group(1) if found else f"kit-section-{len(entries) + 1}"
        entries.append((anchor, _plain(inner)))
        return match.group(0) if found else f'<h2 id="{anchor}"{attrs}>{inner}</h2>'

    html = H2.sub(number, html)
    if not entries:
        return html
    items = "".join(f'<li><a href="#{escape(a)}">{escape(text)}</a></li>' for a, text in entries)
    toc = f'<nav class="kit-toc"><div class="kit-toc-title">{escape(t("publish.contents", lang))}</div><ol>{items}</ol></nav>'
    first = H2.search(html).start()
    return html[:first] + toc + html[first:]


def export_html(executed: Path, html_path: Path, lang: str, fallback_title: str) -> str:
    """Write the report page of an executed notebook; return the page title."""
    nb = clean_notebook(nbformat.read(executed, as_version=4))
    title = page_title(nb, fallback_title)
    nb.metadata["title"] = title
    exporter = HTMLExporter(
        template_name=TEMPLATE_NAME,
        extra_template_basedirs=[str(TEMPLATES_DIR)],
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        exclude_output_stdin=True,
        exclude_anchor_links=True,
        language_code=lang,
        mathjax_url="",
        require_js_url="",
        mermaid_js_url="",
        widget_renderer_url="",
    )
    body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": title}})
    remote = remote_resources(body)
    if remote:
        raise PublishError(
            f"{executed.name}: the page would load {len(remote)} resource(s) from the internet, "
            f"e.g. {remote[0][:120]!r}. Reports must work offline: embed the resource instead."
        )
    write_text_atomic(html_path, embed_font(add_toc(body, lang)))
    return title


def remote_resources(html: str) -> list[str]:
    """Every place in ``html`` that would make a browser fetch something from the network."""
    return [match.group(0) for match in REMOTE_RESOURCE.finditer(html)]


def _plain(html: str) -> str:
    """Visible text of an HTML fragment (tags removed, whitespace collapsed)."""
    return " ".join(unescape(TAG.sub(" ", html)).split())


# --------------------------------------------------------------------------- index pages


def _page(lang: str, title: str, body: str) -> str:
    """A complete, self-contained HTML page: the kit's CSS and the page's Chinese glyphs inlined."""
    css = PAGE_CSS.read_text(encoding="utf-8")
    return embed_font(
        f'<!DOCTYPE html>\n<html lang="{escape(lang)}">\n<head>\n<meta charset="utf-8">\n'
        f'<meta name="viewport" content="width=device-width, initial-scale=1.0">\n'
        f"<title>{escape(title)}</title>\n<style>\n{css}</style>\n</head>\n"
        f'<body>\n<div class="kit-page">\n{body}\n</div>\n</body>\n</html>\n'
    )


def display_order(names: list[str]) -> list[str]:
    """Notebook names in index order: overview pages first, then the run order."""
    return [n for n in names if n.endswith("_overview")] + [n for n in names if not n.endswith("_overview")]


def write_month_index(month_dir: Path, manifest: dict[str, Any]) -> Path:
    """Write ``<month_dir>/index.html`` from a run manifest (see ``kit.runner``)."""
    lang = manifest["parameters"]["lang"]
    month = manifest["month"]
    pages = {entry["name"]: entry for entry in manifest["notebooks"]}
    rows = []
    for name in display_order(list(pages)):
        entry = pages[name]
        rows.append(
            "<tr>"
            f'<td><a href="{escape(entry["html"])}">{escape(entry["title"])}</a></td>'
            f'<td><a href="{escape(entry["notebook"])}">{escape(t("publish.notebook_link", lang))}</a></td>'
            f'<td>{escape(entry["finished_at"][:16].replace("T", " "))}</td>'
            f'<td class="kit-num">{entry["seconds"]:.1f}</td>'
            "</tr>"
        )
    commit = manifest.get("git_commit") or t("publish.unknown", lang)
    body = (
        f'<p><a href="../index.html">{escape(t("publish.all_months", lang))}</a></p>\n'
        f"<h1>{escape(t('publish.month_title', lang, project=manifest['project'], month=month))}</h1>\n"
        f'<p class="kit-meta">{escape(t("publish.run_meta", lang, finished=manifest["finished_at"][:16].replace("T", " "), version=manifest["kit_version"], commit=commit[:12]))}</p>\n'
        '<table class="kit-index">\n<thead><tr>'
        f"<th>{escape(t('publish.col_report', lang))}</th><th>{escape(t('publish.col_notebook', lang))}</th>"
        f"<th>{escape(t('publish.col_updated', lang))}</th><th>{escape(t('publish.col_seconds', lang))}</th>"
        "</tr></thead>\n<tbody>\n" + "\n".join(rows) + "\n</tbody>\n</table>"
    )
    return write_text_atomic(
        month_dir / "index.html", _page(lang, t("publish.month_title", lang, project=manifest["project"], month=month), body)
    )


def write_reports_index(reports_dir: Path, lang: str, project: str) -> Path:
    """Write ``reports/index.html`` listing every published month, newest first."""
    rows = []
    for month_dir in sorted((p for p in reports_dir.iterdir() if p.is_dir() and MONTH_PATTERN.match(p.name)), reverse=True):
        manifest_file = month_dir / "run.json"
        if not (month_dir / "index.html").exists() or not manifest_file.exists():
            continue
        manifest = json.loads(manifest_file.read_text(encoding="utf-8"))
        rows.append(
            "<tr>"
            f'<td><a href="{escape(month_dir.name)}/index.html">{escape(month_dir.name)}</a></td>'
            f'<td class="kit-num">{len(manifest["notebooks"])}</td>'
            f'<td>{escape(manifest["finished_at"][:16].replace("T", " "))}</td>'
            "</tr>"
        )
    title = t("publish.reports_title", lang, project=project)
    body = (
        f"<h1>{escape(title)}</h1>\n"
        '<table class="kit-index">\n<thead><tr>'
        f"<th>{escape(t('publish.col_month', lang))}</th><th>{escape(t('publish.col_pages', lang))}</th>"
        f"<th>{escape(t('publish.col_published', lang))}</th>"
        "</tr></thead>\n<tbody>\n" + "\n".join(rows) + "\n</tbody>\n</table>"
    )
    return write_text_atomic(reports_dir / "index.html", _page(lang, title, body))
