"""HTML export and index pages: no code, no warnings, nothing loaded from the internet."""

from __future__ import annotations

import json

import nbformat
import pytest
from nbconvert import HTMLExporter
from nbformat.v4 import new_code_cell, new_notebook, new_output

from kit.publish import (
    PublishError,
    add_toc,
    clean_notebook,
    display_order,
    export_html,
    remote_resources,
    write_month_index,
    write_reports_index,
)


def executed_notebook() -> nbformat.NotebookNode:
    """A notebook as papermill leaves it: parameters, injected parameters and outputs."""
    params = new_code_cell('month = "2026-10"\nlang = "en"', execution_count=1)
    params.metadata["tags"] = ["parameters"]
    injected = new_code_cell('# Parameters\nmonth = "2026-09"\nSECRET_INJECTED = 1', execution_count=2)
    injected.metadata["tags"] = ["injected-parameters"]
    body = new_code_cell(
        "import warnings\nrep.title('x')",
        execution_count=3,
        outputs=[
            new_output("stream", name="stderr", text="UserWarning: STDERR-NOISE\n"),
            new_output("stream", name="stdout", text="/x/y.py:12: FutureWarning: STDOUT-WARNING\n"),
            new_output("stream", name="stdout", text="PLAIN-STDOUT kept\n"),
            new_output("display_data", data={"text/html": "<h1>Churn &amp; value</h1><p>intro</p>"}),
            new_output("display_data", data={"text/html": "<h2>Who is leaving</h2><p>BODY-ONE</p>"}),
            new_output("display_data", data={"text/html": "<p>TAGGED-WARNING</p>"}, metadata={"tags": ["warning"]}),
            new_output(
                "display_data",
                data={"application/vnd.jupyter.widget-view+json": {"model_id": "abc"}, "text/plain": "HBox(WIDGET)"},
            ),
            new_output("display_data", data={"application/javascript": "alert('JS-OUT')", "text/plain": "JS-FALLBACK"}),
        ],
    )
    second = new_code_cell(
        "rep.section('b')",
        execution_count=4,
        outputs=[
            new_output("display_data", data={"text/html": "<h2 id='kept-id'>What to do <b>now</b></h2>"}),
            new_output("error", ename="ValueError", evalue="TRACEBACK-TEXT", traceback=["TRACEBACK-TEXT"]),
        ],
    )
    hidden = new_code_cell("x = 1", execution_count=5, outputs=[new_output("execute_result", data={"text/plain": "HIDDEN-OUT"})])
    hidden.metadata["tags"] = ["remove-output"]
    nb = new_notebook(cells=[params, injected, body, second, hidden])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    return nb


def test_clean_notebook_drops_everything_a_report_must_not_show():
    nb = executed_notebook()
    cleaned = clean_notebook(nb)
    text = json.dumps(cleaned)
    for gone in ["SECRET_INJECTED", 'month = "2026-10"', "STDERR-NOISE", "STDOUT-WARNING", "TAGGED-WARNING",
                 "WIDGET", "JS-OUT", "TRACEBACK-TEXT", "HIDDEN-OUT", "widget-state"]:
        assert gone not in text, gone
    for kept in ["PLAIN-STDOUT kept", "BODY-ONE", "What to do", "JS-FALLBACK"]:
        assert kept in text, kept
    assert len(nb.cells) == 5 and "SECRET_INJECTED" in json.dumps(nb)  # the input is not modified


def test_add_toc_numbers_h2_and_keeps_existing_ids():
    html = "<main><h1>Title</h1><p>findings</p><h2>First &amp; foremost</h2><p>x</p><h2 id='mine' class='c'>Second <b>one</b></h2></main>"
    out = add_toc(html, "en")
    assert '<h2 id="kit-section-1">First &amp; foremost</h2>' in out
    assert "<h2 id='mine' class='c'>" in out
    assert '<a href="#kit-section-1">First &amp; foremost</a>' in out
    assert '<a href="#mine">Second one</a>' in out
    assert out.index("findings") < out.index('<nav class="kit-toc">') < out.index("<h2")
    assert "目录" in add_toc(html, "zh")
    assert add_toc("<main><p>no headings</p></main>", "en") == "<main><p>no headings</p></main>"


@pytest.fixture(scope="module")
def page(tmp_path_factory) -> str:
    folder = tmp_path_factory.mktemp("page")
    executed = folder / "05_churn.ipynb"
    nbformat.write(executed_notebook(), executed)
    title = export_html(executed, folder / "05_churn.html", "zh", "05_churn")
    assert title == "Churn & value"
    return (folder / "05_churn.html").read_text(encoding="utf-8")


def test_page_is_self_contained(page):
    assert remote_resources(page) == []
    assert "<script" not in page
    assert "mathjax" not in page.lower() and "require.js" not in page and "mermaid" not in page.lower()


def test_page_shows_outputs_but_no_code_prompts_or_noise(page):
    body = page[page.index("<body") :]
    assert "BODY-ONE" in body and "PLAIN-STDOUT kept" in body
    for gone in ["rep.title", "import warnings", "SECRET_INJECTED", "STDERR-NOISE", "STDOUT-WARNING", "TAGGED-WARNING",
                 "TRACEBACK-TEXT", "HIDDEN-OUT", "JS-OUT", "jp-InputPrompt", "jp-OutputPrompt", "In&nbsp;["]:
        assert gone not in body, gone


def test_page_has_language_title_toc_and_print_css(page):
    assert '<html lang="zh">' in page
    assert "<title>Churn &amp; value</title>" in page
    assert '<nav class="kit-toc">' in page and '<a href="#kit-section-1">Who is leaving</a>' in page
    assert '<a href="#kept-id">What to do now</a>' in page
    assert "@media print" in page
    assert "@font-face" in page and "Kit Noto Sans SC" in page  # the TOC title 目录 needs CJK glyphs


def test_a_page_that_would_load_from_the_internet_is_refused(tmp_path):
    nb = executed_notebook()
    nb.cells[2].outputs.append(
        new_output("display_data", data={"text/html": '<script src="https://cdn.plot.ly/plotly.min.js"></script>'})
    )
    nbformat.write(nb, tmp_path / "06_x.ipynb")
    with pytest.raises(PublishError, match=r"06_x.ipynb: the page would load 1 resource\(s\) from the internet.*plotly"):
        export_html(tmp_path / "06_x.ipynb", tmp_path / "06_x.html", "en", "06_x")
    assert not (tmp_path / "06_x.html").exists()


def test_stock_lab_template_would_load_from_the_internet():
    """The check is real: nbconvert's own lab template references CDNs."""
    nb = executed_notebook()
    nb.cells[2].outputs.append(new_output("display_data", data={"text/markdown": "$x^2$"}))
    body, _ = HTMLExporter(template_name="lab").from_notebook_node(nb)
    assert remote_resources(body)


def test_remote_resources_finds_each_kind_of_remote_load():
    html = (
        '<script src="https://cdn.example/x.js"></script>'
        "<link rel=stylesheet href=//fonts.example/css>"
        "<style>@import url(https://f.example/a.css); p{background:url('http://x.example/y.png')}</style>"
        '<script type="module">await import("https://cdn.example/m.mjs")</script>'
    )
    assert len(remote_resources(html)) == 5
    local = '<img src="data:image/png;base64,AAAA"><a href="https://example.com">link</a><svg xmlns="http://www.w3.org/2000/svg"></svg>'
    assert remote_resources(local) == []


def manifest(month: str, names: list[str], lang: str = "en") -> dict:
    return {
        "month": month,
        "project": "Demo Retail",
        "kit_version": "0.1.0",
        "git_commit": "abc123",
        "finished_at": f"{month}-28T10:00:00",
        "parameters": {"month": month, "lang": lang},
        "notebooks": [
            {"name": n, "title": f"Title {n}", "seconds": 1.5, "finished_at": f"{month}-28T09:59:00",
             "html": f"{n}.html", "notebook": f"notebooks/{n}.ipynb"}
            for n in names
        ],
    }


def test_display_order_puts_the_overview_first():
    names = ["01_ingest", "02_tags", "07_overview"]
    assert display_order(names) == ["07_overview", "01_ingest", "02_tags"]


def test_month_index_lists_pages_overview_first(tmp_path):
    data = manifest("2026-10", ["01_ingest", "05_churn", "07_overview"], lang="zh")
    index = write_month_index(tmp_path, data).read_text(encoding="utf-8")
    assert '<html lang="zh">' in index
    positions = [index.index(f'href="{n}.html"') for n in ["07_overview", "01_ingest", "05_churn"]]
    assert positions == sorted(positions)
    assert 'href="notebooks/05_churn.ipynb"' in index and 'href="../index.html"' in index
    assert "2026-10" in index and remote_resources(index) == []
    assert "@font-face" in index  # Chinese page: its glyphs are embedded


def test_english_index_embeds_no_font(tmp_path):
    index = write_month_index(tmp_path, manifest("2026-10", ["07_overview"])).read_text(encoding="utf-8")
    assert "@font-face" not in index and "customer reports for 2026-10" in index


def test_reports_index_lists_published_months_newest_first(tmp_path):
    for month in ["2026-08", "2026-10", "2026-09"]:
        folder = tmp_path / month
        folder.mkdir()
        (folder / "run.json").write_text(json.dumps(manifest(month, ["07_overview"])))
        write_month_index(folder, manifest(month, ["07_overview"]))
    (tmp_path / "2026-07").mkdir()  # no run.json: not a published month
    (tmp_path / "failed").mkdir()
    (tmp_path / "bench").mkdir()
    index = write_reports_index(tmp_path, "en", "Demo Retail").read_text(encoding="utf-8")
    links = [index.index(f'href="{m}/index.html"') for m in ["2026-10", "2026-09", "2026-08"]]
    assert links == sorted(links)
    assert "2026-07" not in index and "failed/" not in index and "bench/" not in index
    assert '<html lang="en">' in index and remote_resources(index) == []
