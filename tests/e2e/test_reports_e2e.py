"""End to end: the real notebooks on a small demo world, checked as leadership reads them.

One generated world (2,500 people) is run for two months: September in Chinese, then
October in English, so both languages are published and October has a previous month to
compare with (the session's ``demo_months``: tests/worlds.py, section 4, built in the
background while the other tests run). Then every page is checked: size, no code or warnings, no personal data
from the raw files, CSV exports for Excel, month-over-month figures, and a real headless
Chromium visit of every page (console errors, failed or outside requests, broken images)
with screenshots saved under ``reports/<month>/screenshots/``.
"""

from __future__ import annotations

import html
import json
import os
import re
from pathlib import Path

import pandas as pd
import pytest
from worlds import DEMO_MONTHS, INTERACTIVE

from kit.core.config import PROJECT_ROOT, KitConfig
from kit.publish import remote_resources
from kit.text.i18n import t

pytestmark = pytest.mark.slow

MONTHS = DEMO_MONTHS
assert MONTHS == {"2026-09": "zh", "2026-10": "en"}
MAX_PAGE_BYTES = 3 * 1024 * 1024
DATA_URI = re.compile(r"data:[a-z/+.-]+;base64,[A-Za-z0-9+/=]+")
TAG = re.compile(r"<[^>]+>")


@pytest.fixture(scope="module")
def published(demo_months: KitConfig) -> KitConfig:
    """The demo world published for both months (tests/conftest.py; read-only)."""
    return demo_months


def month_dir(config: KitConfig, month: str) -> Path:
    return config.resolve(config.paths.reports) / month


def visible_text(html: str) -> str:
    """The page's text without embedded images and fonts (which are base64 noise)."""
    return TAG.sub(" ", DATA_URI.sub("", html))


def test_every_notebook_published_in_both_languages(published: KitConfig) -> None:
    for month, lang in MONTHS.items():
        folder = month_dir(published, month)
        for name in published.run.notebooks:
            page = (folder / f"{name}.html").read_text(encoding="utf-8")
            assert f'<html lang="{lang}">' in page, (month, name)
            assert len(page.encode("utf-8")) < MAX_PAGE_BYTES, (month, name, len(page))
            assert remote_resources(page) == [], (month, name)
            box = re.search(r"kit-findings.*?</ul>", page, re.S)
            assert box and 3 <= box.group(0).count("<li>") <= 5, (month, name)  # 3-5 key findings
            body = visible_text(page[page.index("<body") :])
            # code and warnings (reprs and paths: test_no_repr_path_or_empty_table_on_any_page)
            for forbidden in ("Traceback", "Warning:", "warnings.warn", "import kit", "rep.section("):
                assert forbidden not in body, (month, name, forbidden)
        manifest = json.loads((folder / "run.json").read_text(encoding="utf-8"))
        assert all(n["status"] == "ok" for n in manifest["notebooks"]), manifest
    zh_overview = visible_text((month_dir(published, "2026-09") / "07_overview.html").read_text(encoding="utf-8"))
    assert "管理层总览" in zh_overview and "关键发现" in zh_overview
    assert PROJECT_ROOT not in month_dir(published, "2026-10").parents


# What a cell's last line prints when it returns a path or an object, or a server path in a message.
REPR_OR_PATH = ("PosixPath(", "/tmp/", "<function", "object at 0x")
# Sections that only hold a widget (JupyterLab only): never on a published page.
WIDGET_SECTIONS = ("seg03.section.explore", "tags.section.explore")


def test_no_repr_path_or_empty_table_on_any_page(published: KitConfig) -> None:
    """Every published page of both languages, month indexes and the report index included,
    read as the browser shows it (entities decoded, attributes kept, embedded images and fonts
    left out): no printed repr or server path, no table without rows, no widget-only section."""
    reports = published.resolve(published.paths.reports)
    pages = [reports / "index.html"] + [p for month in MONTHS for p in sorted(month_dir(published, month).glob("*.html"))]
    assert len(pages) == 1 + len(MONTHS) * (len(published.run.notebooks) + 1)
    widget_headings = {f">{t(key, lang)}</h2>" for key in WIDGET_SECTIONS for lang in set(MONTHS.values())}
    for file in pages:
        page = file.read_text(encoding="utf-8")
        text = html.unescape(DATA_URI.sub("", page))
        found = [(marker, text[max(0, i - 80) : i + 80]) for marker in REPR_OR_PATH if (i := text.find(marker)) >= 0]
        assert not found, (file.relative_to(reports), found)
        assert "<tbody></tbody>" not in page, file.relative_to(reports)
        assert not [h for h in widget_headings if h in page], file.relative_to(reports)


def test_overview_compares_with_last_month(published: KitConfig) -> None:
    september = visible_text((month_dir(published, "2026-09") / "07_overview.html").read_text(encoding="utf-8"))
    october = visible_text((month_dir(published, "2026-10") / "07_overview.html").read_text(encoding="utf-8"))
    assert "未找到上月报告" in september  # the first month says it has nothing to compare with
    assert "vs last month" in october and "no previous month" not in october
    metrics = json.loads((month_dir(published, "2026-10") / "metrics.json").read_text(encoding="utf-8"))
    assert set(metrics) >= set(published.run.notebooks)
    assert 5 <= len(metrics["07_overview"]["highlights"]) <= 8


def raw_personal_data(config: KitConfig) -> tuple[set[str], set[str], set[str]]:
    """Every phone (11 digits), e-mail and name that occurs in the raw files."""
    raw = config.resolve(config.paths.raw)
    phones: set[str] = set()
    emails: set[str] = set()
    crm = pd.read_csv(raw / "crm_members.csv", encoding="gb18030", dtype=str)
    frames = [
        crm.rename(columns={"手机号": "phone", "邮箱": "email"}),
        pd.read_csv(raw / "shop_orders.csv", dtype=str, usecols=["phone"]),
        pd.read_csv(raw / "app_users.csv", dtype=str, usecols=["phone", "email"]),
    ]
    for frame in frames:
        for value in frame.get("phone", pd.Series(dtype=str)).dropna():
            digits = re.sub(r"\D", "", value)
            if len(digits) >= 11:
                phones.add(digits[-11:])
        for value in frame.get("email", pd.Series(dtype=str)).dropna():
            emails.add(value.strip().lower())
    names = {n for n in crm["姓名"].dropna() if len(n) >= 2}
    return phones, emails, names


def test_no_personal_data_in_pages_or_exports(published: KitConfig) -> None:
    phones, emails, names = raw_personal_data(published)
    assert len(phones) > 1000 and len(emails) > 500 and len(names) > 500
    for month in MONTHS:
        folder = month_dir(published, month)
        files = sorted(folder.glob("*.html")) + sorted((folder / "exports").glob("*.csv"))
        for file in files:
            text = visible_text(file.read_text(encoding="utf-8-sig"))
            lowered = text.lower()
            digit_runs = set(re.findall(r"\d{11}", re.sub(r"[\s-]", "", text)))
            assert not digit_runs & phones, (file.name, sorted(digit_runs & phones)[:3])
            assert not [e for e in re.findall(r"[\w.+-]+@[\w-]+\.[\w.]+", lowered) if e in emails], file.name
            leaked = [n for n in names if n in text]
            assert not leaked, (file.name, leaked[:5])


def test_exports_open_in_excel_with_chinese(published: KitConfig) -> None:
    export = month_dir(published, "2026-10") / "exports" / "churn_risk.csv"
    assert export.read_bytes()[:3] == b"\xef\xbb\xbf"  # UTF-8 BOM: Excel reads Chinese correctly
    frame = pd.read_csv(export, encoding="utf-8-sig")
    assert frame.iloc[:, 0].astype(str).str.match(r"^C[0-9a-f]{10}$").all()


@pytest.mark.browser
def test_pages_in_headless_chromium(published: KitConfig) -> None:
    from kit.browser_check import BrowserUnavailable, check_month

    try:
        checks = {month: check_month(month_dir(published, month)) for month in MONTHS}
    except BrowserUnavailable as missing:
        if os.environ.get("CI"):
            raise
        pytest.skip(str(missing))
    for month, results in checks.items():
        assert len(results) == len(published.run.notebooks) + 1, month  # pages + the month index
        for check in results:
            assert check.ok, (month, check)
            assert Path(check.screenshot).stat().st_size > 10_000
        assert sum(c.images for c in results) >= 10


def test_interactive_sessions_change_nothing_published(published: KitConfig, interactive_session: dict) -> None:
    """Every notebook run by hand (headless=False, no run_dir: how JupyterLab runs it), in the
    other language, after the month was published: the published month, the warehouse and
    the tracked notebooks stay byte-identical; the session wrote only to its scratch area.
    (The runs happen in worlds.run_by_hand, with the checksums before and after them.)"""
    from kit.core.scratch import user_dir

    assert INTERACTIVE == {"month": "2026-10", "lang": "zh"}
    assert len(interactive_session["before"]) > 50
    assert interactive_session["after"] == interactive_session["before"]
    scratch = user_dir(published)
    assert (scratch / "warehouse" / "snapshots" / "2026-10" / "metrics" / "07_overview.json").is_file()
    assert (scratch / "months" / "2026-10" / "exports" / "churn_risk.csv").is_file()


# One word, one number (issue 16): every figure shown under the same business label on two
# pages is the same number. label -> the (notebook, key) of metrics.json holding it on each page.
SAME_FIGURE = {
    "customers": [("02_tags", "customers"), ("03_segmentation", "customers")],
    "buyers": [("02_tags", "buyers"), ("03_segmentation", "buyers")],
    "active customers": [("02_tags", "active_customers"), ("03_segmentation", "active_customers"),
                         ("07_overview", "kpis.active_customers")],
    "new customers": [("02_tags", "new_customers"), ("03_segmentation", "new_customers")],
    "churned customers": [("02_tags", "churned_customers"), ("03_segmentation", "churned_customers")],
    "high-value customers": [("02_tags", "high_value_customers"), ("03_segmentation", "high_value_customers")],
    "value at risk": [("05_churn", "value_at_risk_total"), ("07_overview", "kpis.value_at_risk")],
    "average CLV": [("04_clv", "average_clv"), ("07_overview", "kpis.avg_clv")],
}


def metric(metrics: dict, notebook: str, key: str) -> float:
    """A figure of the month's metrics.json: ``key`` may go one level down (``kpis.x``)."""
    value = metrics[notebook]
    for part in key.split("."):
        value = value[part]
    return value


@pytest.mark.parametrize("month", list(MONTHS))
def test_one_label_one_number_on_every_page(published: KitConfig, month: str) -> None:
    metrics = json.loads((month_dir(published, month) / "metrics.json").read_text(encoding="utf-8"))
    differ = []
    for label, places in SAME_FIGURE.items():
        values = {f"{nb}:{key}": metric(metrics, nb, key) for nb, key in places}
        first = next(iter(values.values()))
        if any(v != pytest.approx(first, rel=1e-9) for v in values.values()):
            differ.append(f"{label}: {values}")
    assert not differ, "same label, different numbers:\n" + "\n".join(differ)
    tags, segments = metrics["02_tags"], metrics["03_segmentation"]
    # the tags built on the vocabulary count exactly its customers
    assert tags["coverage_active"] * tags["customers"] == pytest.approx(tags["active_customers"])
    assert tags["coverage_high_value"] * tags["customers"] == pytest.approx(tags["high_value_customers"])
    assert segments["customers"] == tags["customers"] > 0
    # the export carries the same value at risk as the churn page and the overview
    export = pd.read_csv(month_dir(published, month) / "exports" / "churn_risk.csv", encoding="utf-8-sig")
    assert len(export) == metrics["05_churn"]["customers_scored"]
    # the file rounds each customer's value to the cent: the sum may differ by half a cent a row
    assert abs(export["value_at_risk"].sum() - metrics["05_churn"]["value_at_risk_total"]) <= 0.005 * len(export)


def test_anonymous_receipts_are_no_customers_anywhere(published: KitConfig) -> None:
    """The one policy: receipts count in revenue, never in profile, segments, CLV or churn rows."""
    from kit.core.warehouse import Warehouse

    wh = Warehouse.from_config(published)
    receipts = set(wh.anonymous_receipts().to_pandas()["customer_id"])
    assert receipts, "the test world should have anonymous store receipts"
    for name in ("profile", "segments", "clv", "churn"):
        rows = set(wh.read_snapshot("2026-10", name)["customer_id"])
        assert not rows & receipts, f"{name}.parquet holds {len(rows & receipts)} anonymous receipts"
