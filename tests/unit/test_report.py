"""The report shell: formatting, translations, blocks, colours, fonts and the page object."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from kit.core.scratch import user_dir
from kit.report import blocks, theme
from kit.report.shell import Report, RunContext
from kit.text.fmt import MISSING, Formatter
from kit.text.i18n import LANGS, TranslationError, catalogue, check_catalogue, t


# ---------------------------------------------------------------- formatting
@pytest.mark.parametrize(
    ("lang", "value", "expected"),
    [("en", 1234567, "1,234,567"), ("zh", 1234567, "123.5万"), ("zh", 99999, "99,999"), ("zh", 3.2e8, "3.2亿")],
)
def test_int_format(lang: str, value: float, expected: str) -> None:
    assert Formatter(lang).int(value) == expected


def test_money_pct_and_missing() -> None:
    en, zh = Formatter("en", "CNY"), Formatter("zh", "CNY")
    assert en.money(1234.4) == "¥1,234"
    assert en.money(2_500_000, compact=True) == "¥2.5M"
    assert en.money(-50) == "-¥50"
    assert zh.money(2_500_000) == "¥250万"
    assert en.pct(0.1234) == "12.3%"
    assert zh.pp(0.012) == "+1.2个百分点"
    assert en.pp(-0.005) == "-0.5 pp"
    assert en.change(float("inf")) == MISSING
    for value in (None, float("nan"), pd.NA, np.nan):
        assert en.money(value) == MISSING
        assert zh.pct(value) == MISSING
    assert Formatter("en", "USD").money(10) == "$10"


def test_dates_and_days() -> None:
    assert Formatter("zh").date("2026-10-31") == "2026年10月31日"
    assert Formatter("en").month("2026-02") == "February 2026"
    assert Formatter("en").days(1) == "1 day"
    assert Formatter("en").days(12) == "12 days"
    with pytest.raises(ValueError, match="unknown format"):
        Formatter().apply(1, "percent")


# ---------------------------------------------------------------- translations
def test_every_key_has_every_language() -> None:
    assert check_catalogue() == []
    assert len(catalogue()) > 0


def test_translation_errors_are_clear() -> None:
    with pytest.raises(TranslationError, match="no text for key"):
        t("no.such.key")
    with pytest.raises(TranslationError, match="unknown language"):
        t("report.key_findings", "fr")
    assert t("report.key_findings", "zh") == "关键发现"
    assert set(LANGS) == {"en", "zh"}


# ---------------------------------------------------------------- blocks
def test_blocks_escape_text_and_format_tables() -> None:
    html = blocks.findings("Key", ["<script>alert(1)</script>"])
    assert "<script>" not in html and "&lt;script&gt;" in html
    frame = pd.DataFrame({"segment": ["A", "B"], "customers": [1200, 5], "share": [0.5, 0.25]})
    out = blocks.table(frame, Formatter("en"), {"customers": "int", "share": "pct"}, caption="Sizes")
    assert "1,200" in out and "50.0%" in out and "<caption>Sizes</caption>" in out
    with pytest.raises(KeyError, match="not in the table"):
        blocks.table(frame, Formatter(), {"nope": "int"})
    with pytest.raises(ValueError, match="banner level"):
        blocks.banner("x", "fatal")


def test_table_notes_truncation() -> None:
    frame = pd.DataFrame({"x": range(50)})
    out = blocks.table(frame, Formatter(), {"x": "int"}, max_rows=10, more_text="10 of 50")
    assert out.count("<tr>") == 11 and "10 of 50" in out


def test_kpi_cards_and_sparkline() -> None:
    card = blocks.Kpi("Revenue", "¥1.2M", "+5.0%", good=True, spark=[1, 2, np.nan, 3])
    html = blocks.kpi_cards([card])
    assert "kit-good" in html and "<svg" in html and "polyline" in html
    assert blocks.sparkline([1.0]) == ""


def test_sparklines_of_fewer_than_three_points_are_not_drawn() -> None:
    # one or two points drew a dot or a lone stroke on the KPI cards, which read as a glitch
    assert blocks.sparkline([1.0, 2.0]) == "" and blocks.sparkline([1.0, np.nan, 3.0]) == ""
    assert "<svg" not in blocks.kpi_cards([blocks.Kpi("Revenue", "¥1.2M", spark=[1.0, 2.0])])
    assert "polyline" in blocks.sparkline([1.0, 2.0, 1.5])


def test_heatmaps_carry_numbers_and_refuse_more_than_max_rows() -> None:
    from kit.text.heatmap import MAX_ROWS, draw_heatmap, fits

    small = pd.DataFrame(np.arange(6, dtype=float).reshape(2, 3))
    small.iloc[0, 0] = np.nan
    fig, ax = plt.subplots()
    draw_heatmap(ax, small, small.map(lambda v: "" if pd.isna(v) else f"{v:.0f}"), ["a", "b"], ["x", "y", "z"])
    assert [text.get_text() for text in ax.texts] == ["", "1", "2", "3", "4", "5"]
    plt.close(fig)
    tall = pd.DataFrame(np.ones((MAX_ROWS + 1, 2)))
    assert fits(small) and fits(tall.head(MAX_ROWS)) and not fits(tall) and not fits(tall.head(0))
    fig, ax = plt.subplots()
    with pytest.raises(ValueError, match="show a table instead"):
        draw_heatmap(ax, tall, tall.astype(str), [""] * len(tall), ["", ""])
    plt.close(fig)


# ---------------------------------------------------------------- colours and fonts
def test_colors_are_stable_and_distinct() -> None:
    names = ["Bargain hunters", "Loyal big spenders", "Gift buyers", "New app users"]
    first = theme.colors(names, "persona")
    again = theme.colors(list(reversed(names)), "persona")
    assert len(set(first.values())) == len(names)
    assert first["Champions" if False else "Gift buyers"] in theme.PALETTE
    seg = theme.colors(["At Risk", "Champions"], "segment")
    assert seg == theme.colors(["Champions", "At Risk"], "segment")
    assert theme.colors(["churned"], "stage")["churned"] == theme.STAGE_COLORS["churned"]
    assert set(again) == set(first)


def test_chinese_labels_render_without_missing_glyph_warnings(tmp_path: Path) -> None:
    theme.apply_theme()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig, ax = plt.subplots()
        ax.set_title("客户生命周期价值 CLV (¥)")
        ax.bar(["新客户", "活跃客户", "沉默客户", "流失客户"], [3, 5, 2, 1])
        ax.set_ylabel("客户数(万)")
        fig.savefig(tmp_path / "zh.png")
        plt.close(fig)
    assert (tmp_path / "zh.png").stat().st_size > 1000


# ---------------------------------------------------------------- the page object
@pytest.fixture()
def report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Report, list[str]]:
    cfg = tmp_path / "kit.yml"
    cfg.write_text("paths:\n  warehouse: wh\n  reports: rep\n", encoding="utf-8")
    shown: list[str] = []
    monkeypatch.setattr("kit.report.shell._display_html", shown.append)
    return Report.start(cfg, month="2026-10", lang="zh", headless=True, notebook="99_test"), shown


def test_report_start_and_blocks(report: tuple[Report, list[str]]) -> None:
    rep, shown = report
    assert "<style>" in shown[0]
    rep.title("测试")
    assert "2026年10月" in shown[-1]
    rep.section("标题", "说明")
    assert "这意味着" in shown[-1]
    assert rep.explore(lambda: pytest.fail("widgets must not be built headless")) is None


def test_empty_tables_say_why_in_one_line(report: tuple[Report, list[str]]) -> None:
    rep, shown = report
    rep.table(pd.DataFrame({"规律": pd.Series([], dtype=str)}), empty="没有明显的单一信号。")
    assert "<table" not in shown[-1] and 'class="kit-unavailable">没有明显的单一信号。</p>' in shown[-1]
    rep.table(pd.DataFrame(columns=["x"]))
    assert "<table" not in shown[-1] and t("report.no_rows", "zh") in shown[-1]
    rep.table(pd.DataFrame({"x": [1]}), empty="unused")
    assert "<table" in shown[-1] and "unused" not in shown[-1]


def test_explore_section_is_left_out_with_its_widget_when_headless(
    report: tuple[Report, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    # before: the published segmentation page ended on an "Explore personas" heading with nothing under it
    rep, shown = report
    before = len(shown)
    rep.explore(lambda: pytest.fail("widgets must not be built headless"), "探索", "说明")
    assert len(shown) == before
    displayed: list[object] = []
    monkeypatch.setattr("IPython.display.display", displayed.append)
    rep.headless = False
    rep.explore(lambda: "widget", "探索", "说明")
    assert "<h2>探索</h2>" in shown[-1] and displayed == ["widget"]


def test_save_metrics_and_export_dir(report: tuple[Report, list[str]], tmp_path: Path) -> None:
    rep, _ = report
    assert rep.save_metrics({"customers": np.int64(5), "rate": np.float64(0.5), "missing": np.nan}) is None
    path = rep.metrics_path
    assert json.loads(path.read_text(encoding="utf-8")) == {"customers": 5, "rate": 0.5, "missing": None}
    scratch = user_dir(rep.config)
    assert path.parent == scratch / "warehouse" / "snapshots" / "2026-10" / "metrics"
    assert rep.export_dir == scratch / "months" / "2026-10" / "exports"
    assert not list(path.parent.glob("*.tmp")) and not list(path.parent.glob(".*"))
    assert not (tmp_path / "wh").exists() and not (tmp_path / "rep").exists()


def test_run_dir_sends_tables_metrics_and_exports_to_the_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With ``run_dir`` (set by kit run) every write goes to the run's generation and staging folder."""
    cfg = tmp_path / "kit.yml"
    cfg.write_text("paths:\n  warehouse: wh\n  reports: rep\n", encoding="utf-8")
    monkeypatch.setattr("kit.report.shell._display_html", lambda html: None)
    run_dir = tmp_path / "rep" / ".run-x"
    RunContext(warehouse=str(tmp_path / "wh" / "generations" / "g1"), output_dir=str(run_dir / "month")).write(run_dir)
    rep = Report.start(cfg, month="2026-10", run_dir=str(run_dir), notebook="99_test")
    assert rep.config.resolve(rep.config.paths.warehouse) == tmp_path / "wh" / "generations" / "g1"
    assert rep.wh.root == tmp_path / "wh" / "generations" / "g1"
    rep.save_metrics({"n": 1})
    assert rep.metrics_path.parent == tmp_path / "wh" / "generations" / "g1" / "snapshots" / "2026-10" / "metrics"
    assert rep.export_dir == run_dir / "month" / "exports"
    with pytest.raises(FileNotFoundError, match="run_context.json not found"):
        Report.start(cfg, month="2026-10", run_dir=str(tmp_path / "nowhere"))
    with pytest.raises(TypeError, match="not JSON-serialisable"):
        rep.save_metrics({"bad": object()})


def test_embedded_font_holds_exactly_the_page_glyphs() -> None:
    import base64
    import io
    import re

    from fontTools.ttLib import TTFont

    from kit.report.webfont import embed_font

    page = "<html><head></head><body><h1>客户价值 ¥123.5万 report</h1></body></html>"
    out = embed_font(page)
    data = re.search(r"base64,([A-Za-z0-9+/=]+)", out).group(1)
    cmap = TTFont(io.BytesIO(base64.b64decode(data))).getBestCmap()
    assert {chr(c) for c in cmap} == set("客户价值万")
    assert out.index("@font-face") < out.index("</head>")
    assert embed_font("<p>latin only</p>") == "<p>latin only</p>"


def test_highlights_link_to_their_pages() -> None:
    html = blocks.highlights([blocks.Highlight("Churn up <5%>", "05_churn.html"), blocks.Highlight("No link")], "details")
    assert '<a href="05_churn.html">details</a>' in html
    assert "&lt;5%&gt;" in html and html.count("<a ") == 1


def test_explore_shows_a_widget_once(report: tuple[Report, list[str]], monkeypatch: pytest.MonkeyPatch) -> None:
    # before: explore returned the widget, so as a cell's last expression it was shown twice
    rep, _ = report
    displayed: list[object] = []
    monkeypatch.setattr("IPython.display.display", displayed.append)
    rep.headless = False
    assert rep.explore(lambda: "widget") is None
    assert displayed == ["widget"]


def test_progress_lines_only_when_an_analyst_waits(report: tuple[Report, list[str]], capsys: pytest.CaptureFixture[str]) -> None:
    rep, _ = report
    assert rep.progress("churn.progress") is None  # headless: nothing reaches a published page
    rep.headless = False
    say = rep.progress("churn.progress")
    say("scoring")
    assert "正在为每位客户打分" in capsys.readouterr().out
