"""Issue 15: no silent loss of rows, errors without row content, implausible values, the gate.

"Read" is the physical records of a file, counted independently of the parser; every
record is loaded, dropped as a duplicate or quarantined as that one record with its line.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
from worlds import write_config

from kit.core.config import load_config
from kit.ingest import IngestError, quality, run_ingest

HEADER = "order_id,phone,order_time,amount,status\n"
PHONE_RUN = re.compile(r"\d{7,}")


def order_lines(n: int, start: int = 1) -> list[str]:
    """``n`` well-formed order lines with a phone number each, one per day of 2026-10."""
    return [f"S{i},1380013{i:04d},2026-10-{1 + i % 28:02d} 10:00:00,{10 + i},paid\n" for i in range(start, start + n)]


def ingest_orders(tmp_path: Path, text: bytes | str, source: dict | None = None, ingest: dict | None = None):
    """Ingest ``text`` as the only source ``shop`` (kind orders); returns the IngestResult."""
    raw = tmp_path / "data" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    data = text.encode("utf-8") if isinstance(text, str) else text
    (raw / "shop.csv").write_bytes(data)
    changes = {"sources": {"shop": {"kind": "orders", "path": "data/raw/shop.csv", "columns": {"order_time": "order_ts"}, **(source or {})}}}
    if ingest:
        changes["ingest"] = ingest
    return run_ingest(load_config(write_config(tmp_path, changes)))


def quarantine(tmp_path: Path) -> pd.DataFrame:
    return pd.read_parquet(tmp_path / "data" / "warehouse" / "quarantine" / "shop.parquet")


def balanced(stats) -> bool:
    return stats.read == stats.loaded + stats.duplicates + stats.quarantined


def test_stray_quote_mid_file_loses_exactly_one_line(tmp_path):
    lines = order_lines(600)
    lines[499] = lines[499].replace(",1380013", ',"1380013')  # record 500 = line 501
    result = ingest_orders(tmp_path, HEADER + "".join(lines))
    stats = result.sources["shop"]
    assert (stats.read, stats.loaded, stats.quarantined) == (600, 599, 1)
    assert stats.quarantine_reasons == {"unbalanced_quote": 1}
    assert balanced(stats)
    bad = quarantine(tmp_path)
    assert bad[["row_number", "line", "reason"]].values.tolist() == [[500, 501, "unbalanced_quote"]]
    orders = pd.read_parquet(tmp_path / "data" / "warehouse" / "orders.parquet")
    assert len(orders) == 599 and "shop:S600" in set(orders["order_id"])


def test_every_stray_quote_costs_one_line_and_later_quoted_lines_still_load(tmp_path):
    lines = order_lines(300)
    for i in (9, 99, 199):  # records 10, 100, 200
        lines[i] = lines[i].replace(",1380013", ',"1380013')
    lines[250] = 'S251,13800130251,2026-10-01 10:00:00,261,"pa\nid"\n'  # well formed, two lines
    found = scan_text(tmp_path, HEADER + "".join(lines))
    assert found.records == 300 and found.multiline == 1
    assert found.malformed == [(10, 11, "unbalanced_quote"), (100, 101, "unbalanced_quote"), (200, 201, "unbalanced_quote")]


def scan_text(tmp_path: Path, text: str):
    from kit.ingest.lines import scan

    path = tmp_path / "scan.csv"
    path.write_text(text, encoding="utf-8")
    return scan(path, "utf-8-sig", ",")


def test_reader_error_keeps_line_and_column_but_no_row_content():
    from kit.ingest.sources import _read_error

    quoted = "CSV Error on Line: 11\nOriginal Line: \nS10,\"13800130010,10\nS11,13800130011,11\nColumn phone"
    message = str(_read_error("shop", "data/raw/shop.csv", "csv", quoted, ["order_id", "phone"]))
    assert "line 11" in message and "column phone" in message and "data/raw/shop.csv" in message
    assert not PHONE_RUN.search(message)


def test_too_many_and_too_few_fields_are_quarantined_with_their_line(tmp_path):
    lines = order_lines(20)
    lines[4] = lines[4].rstrip("\n") + ",extra\n"  # line 6
    lines[9] = "S10,13800130010,2026-10-11 10:00:00\n"  # line 11
    result = ingest_orders(tmp_path, HEADER + "".join(lines))
    stats = result.sources["shop"]
    assert stats.quarantine_reasons == {"too_many_fields": 1, "too_few_fields": 1}
    assert (stats.read, stats.loaded) == (20, 18) and balanced(stats)
    bad = quarantine(tmp_path)
    assert set(zip(bad["line"], bad["reason"])) == {(6, "too_many_fields"), (11, "too_few_fields")}


def test_quoted_field_may_span_lines_and_line_numbers_follow(tmp_path):
    lines = order_lines(5)
    lines[1] = 'S2,13800130002,2026-10-03 10:00:00,12,"paid\nstill the status"\n'  # lines 3-4
    lines[3] = "S4,13800130004,2026-10-05 10:00:00,1x,paid\n"  # line 6, record 4
    result = ingest_orders(tmp_path, HEADER + "".join(lines))
    stats = result.sources["shop"]
    assert (stats.read, stats.quarantined) == (5, 2) and balanced(stats)
    bad = quarantine(tmp_path).set_index("reason")
    assert bad.loc["text_in_number", ["row_number", "line"]].tolist() == [4, 6]
    assert bad.loc["unknown_status", ["row_number", "line"]].tolist() == [2, 3]


def test_undecodable_byte_fails_naming_the_line_by_default(tmp_path):
    text = (HEADER + "".join(order_lines(9))).encode("utf-8")
    text = text.replace(b"S7,", b"S7\xff\xfe,")  # line 8
    with pytest.raises(IngestError) as error:
        ingest_orders(tmp_path, text, {"encoding": "utf-8"})
    assert "line 8" in str(error.value) and "on_bad_encoding: quarantine" in str(error.value)


def test_undecodable_byte_quarantines_that_line_when_asked(tmp_path):
    text = (HEADER + "".join(order_lines(9))).encode("utf-8").replace(b"S7,", b"S7\xff\xfe,")
    result = ingest_orders(tmp_path, text, {"encoding": "utf-8", "on_bad_encoding": "quarantine"})
    stats = result.sources["shop"]
    assert stats.quarantine_reasons == {"undecodable_bytes": 1}
    assert (stats.read, stats.loaded) == (9, 8) and balanced(stats)
    assert quarantine(tmp_path)["line"].tolist() == [8]


def test_runaway_quote_past_the_parser_line_limit_loads_the_rest(tmp_path):
    """Over 2 MB after a stray quote, DuckDB failed with an error quoting 222 phone numbers."""
    lines = order_lines(60000)
    lines[9] = lines[9].replace(",1380013", ',"1380013')
    stats = ingest_orders(tmp_path, HEADER + "".join(lines)).sources["shop"]
    assert (stats.read, stats.loaded, stats.quarantine_reasons) == (60000, 59999, {"unbalanced_quote": 1})


def test_parser_error_text_carries_no_phone_numbers(tmp_path):
    """A reader error names file and line, never the row's content (45 phones leaked before)."""
    raw = tmp_path / "data" / "raw"
    raw.mkdir(parents=True)
    rows = [f'{{"app_user_id": "A{i}", "phone": "1390013{i:04d}"}}' for i in range(45)]
    rows[3] = '{"app_user_id": "A3", "phone": "13900130003"'  # broken JSON line
    (raw / "app.jsonl").write_text("\n".join(rows) + "\n", encoding="utf-8")
    config = load_config(write_config(tmp_path, {"sources": {"app": {"kind": "app_users", "path": "data/raw/app.jsonl", "format": "jsonl"}}}))
    with pytest.raises(IngestError) as error:
        run_ingest(config)
    message = str(error.value)
    assert "app.jsonl" in message and not PHONE_RUN.search(message), message
    assert error.value.__cause__ is None and error.value.__suppress_context__


def test_implausible_amounts_and_dates_are_quarantined(tmp_path):
    lines = order_lines(10)
    lines[0] = "S1,13800130001,2026-10-02 10:00:00,1e308,paid\n"
    lines[1] = "S2,13800130002,2026-10-03 10:00:00,20000000,paid\n"
    lines[2] = "S3,13800130003,0001-10-03 10:00:00,13,paid\n"
    result = ingest_orders(tmp_path, HEADER + "".join(lines))
    stats = result.sources["shop"]
    assert stats.quarantine_reasons == {"implausible_amount": 2, "implausible_date": 1}
    orders = pd.read_parquet(tmp_path / "data" / "warehouse" / "orders.parquet")
    assert orders["amount"].max() < 1e7 and orders["order_ts"].min() >= pd.Timestamp("1900-01-01")


def test_max_amount_is_configurable(tmp_path):
    result = ingest_orders(tmp_path, HEADER + "".join(order_lines(10)), ingest={"max_amount": 15.0})
    assert result.sources["shop"].quarantine_reasons == {"implausible_amount": 5}


def test_birth_date_out_of_range_is_nulled_not_quarantined(tmp_path):
    raw = tmp_path / "data" / "raw"
    raw.mkdir(parents=True)
    (raw / "crm.csv").write_text(
        "member_id,birth_date,registered_at\nM1,0001-01-01,2024-01-01\nM2,1990-05-03,2024-01-02\n", encoding="utf-8"
    )
    config = load_config(write_config(tmp_path, {"sources": {"crm": {"kind": "customers", "path": "data/raw/crm.csv"}}}))
    stats = run_ingest(config).sources["crm"]
    assert (stats.loaded, stats.quarantined) == (2, 0)
    assert stats.values_nulled == {"birth_date_invalid": 1}
    customers = pd.read_parquet(tmp_path / "data" / "warehouse" / "customers.parquet")
    assert sorted(customers["birth_year"].dropna().tolist()) == [1990]


def test_scan_counts_physical_records_like_the_file():
    """The line scan on its own: blank lines skipped, a runaway quote rejected at its line."""
    from kit.ingest.lines import scan

    folder = Path(__file__).parents[1] / "fixtures" / "bad_inputs"
    found = scan(folder / "malformed_lines.csv", "utf-8-sig", ",")
    assert found.records == 8 and found.blank_lines == 1
    assert found.malformed == [(3, 4, "unbalanced_quote"), (6, 8, "too_few_fields")]


# --------------------------------------------------------------------------- the gate


def gate_report(sources: dict, month: str = "2026-10") -> dict:
    """A minimal ingest report holding what ``quality.fitness`` reads."""
    defaults = {"kind": "orders", "required": True, "quarantine_reasons": {}, "revenue": {"loaded": 1000.0, "quarantined": 0.0}}
    gate = {"quarantined_share_warn": 0.01, "quarantined_share_fail": 0.05, "month_drop_warn": 0.3,
            "month_drop_fail": 0.6, "revenue_lost_warn": 0.01, "revenue_lost_fail": 0.05}
    return {"run_month": month, "gate": gate, "sources": {n: {**defaults, **s} for n, s in sources.items()}}


def test_fitness_grades_each_limit():
    steady = {"read": 1000, "quarantined": 0, "rows_by_month": {"2026-09": 100, "2026-10": 100}}
    assert quality.fitness(gate_report({"shop": steady})).grade == "ok"
    some = {**steady, "quarantined": 20}
    assert quality.fitness(gate_report({"shop": some})).grade == "warn"
    drop = {**steady, "rows_by_month": {"2026-09": 100, "2026-10": 32}}  # the -68% of a swallowed file
    fit = quality.fitness(gate_report({"shop": drop}))
    assert fit.grade == "fail" and [(c.limit, c.grade) for c in fit.checks if c.grade != "ok"] == [("month_drop", "fail")]
    lost = {**steady, "revenue": {"loaded": 970.0, "quarantined": 30.0}}
    assert quality.fitness(gate_report({"shop": lost})).grade == "warn"
    empty = {**steady, "rows_by_month": {"2026-09": 100}}
    assert quality.fitness(gate_report({"shop": empty})).grade == "fail"
    assert quality.fitness(gate_report({"shop": {**empty, "required": False}})).grade == "ok"


def test_fitness_problems_name_source_limit_value_and_threshold():
    fit = quality.fitness(gate_report({"pos": {"read": 100, "quarantined": 7, "rows_by_month": {"2026-10": 93}}}))
    assert fit.grade == "fail"
    (line,) = fit.problems()
    assert "'pos'" in line and "quarantined" in line and "7.00%" in line and "5.00%" in line
    level, key, values = quality.verdict(gate_report({"pos": {"read": 100, "quarantined": 7, "rows_by_month": {"2026-10": 93}}}))
    assert (level, key, values) == ("danger", "ingest.verdict.not_fit", {"sources": "pos"})


def test_report_stores_the_gate_and_a_balanced_accounting(tmp_path):
    lines = order_lines(200)
    lines[50] = lines[50].replace(",1380013", ',"1380013')
    result = ingest_orders(tmp_path, HEADER + "".join(lines))
    saved = quality.load_report(tmp_path / "data" / "warehouse")
    assert saved["fitness"]["grade"] == quality.fitness(saved).grade == "ok"
    table = quality.accounting(saved)
    assert table["balanced"].all() and table.loc[0, "malformed"] == 1
    assert result.report["sources"]["shop"]["read"] == 200


def test_overview_banner_names_the_sources_on_warn(tmp_path):
    from types import SimpleNamespace

    from kit.core.warehouse import Warehouse
    from kit.overview.page import data_quality_banner
    from kit.overview.pipeline import data_gate, ingest_report

    def banner(wh, lang):  # the overview reads the gate (pipeline) and words it (page)
        return data_quality_banner(SimpleNamespace(gate=data_gate(ingest_report(wh))), lang)

    lines = order_lines(100)
    lines[10] = lines[10].replace(",1380013", ',"1380013')  # 1% of records: warn
    ingest_orders(tmp_path, HEADER + "".join(lines))
    wh = Warehouse(tmp_path / "data" / "warehouse")
    text, level = banner(wh, "en")
    assert level == "warning" and "shop" in text and "share of records set aside" in text
    assert "shop" in banner(wh, "zh")[0]
    ingest_orders(tmp_path, HEADER + "".join(order_lines(100)))
    assert banner(wh, "en") is None


def test_quote_inside_an_unquoted_field_is_kept_as_text(tmp_path):
    """A literal quote mid-field (a 5" screen) is well formed; DuckDB's strict mode may disagree,
    and then the checked copy is read: same records, same lines."""
    lines = order_lines(10)
    lines[3] = 'S4,13800130004,2026-10-05 10:00:00,14,pa"id\n'
    result = ingest_orders(tmp_path, HEADER + "".join(lines))
    stats = result.sources["shop"]
    assert (stats.read, stats.loaded, stats.quarantine_reasons) == (10, 9, {"unknown_status": 1})
    bad = quarantine(tmp_path)
    assert bad[["line", "status"]].values.tolist() == [[5, 'pa"id']]


class FakeCanvas:
    """Records what a page lays out (kit.text.cards.Canvas)."""

    def __init__(self, lang: str) -> None:
        from kit.text.fmt import Formatter

        self.lang, self.fmt, self.shown = lang, Formatter(lang), []

    def section(self, title, meaning=""):
        self.shown.append(("section", title))

    def banner(self, text, level="info"):
        self.shown.append(("banner", level))

    def kpis(self, cards):
        self.shown.append(("kpis", len(cards)))

    def table(self, frame, formats=None, caption="", max_rows=30):
        from kit.report import blocks

        blocks.table(frame, self.fmt, formats, caption, max_rows)  # formats every value as the report does
        self.shown.append(("table", len(frame)))

    def figure(self, title, xlabel="", ylabel="", size=(8, 4.5)):
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        return plt.subplots(figsize=size)

    def show(self, fig):
        import matplotlib.pyplot as plt

        assert fig.axes[0].has_data()
        self.shown.append(("figure", 1))
        plt.close(fig)

    def colors(self, names, kind=""):
        return {n: "#123456" for n in names}


def test_page_turns_the_run_into_display_values(tmp_path):
    from kit.ingest import page

    lines = order_lines(200)
    lines[50] = lines[50].replace(",1380013", ',"1380013')  # one malformed record: quarantined
    result = ingest_orders(tmp_path, HEADER + "".join(lines))
    head = result.headline()
    assert head == quality.headline(result.report) and head["data_grade"] == quality.fitness(result.report).grade
    for lang in ("en", "zh"):
        canvas = FakeCanvas(lang)
        items = page.findings(result, canvas.fmt)
        assert len(items) >= 3 and all(items)
        cards = page.kpi_cards(result, canvas.fmt)
        assert len(cards) == 6 and cards[2].value == canvas.fmt.int(head["orders"])
        text, level = page.verdict(result, lang)
        assert text and level == quality.verdict(result.report)[0]
        for name in page.SECTIONS:
            assert all(page.section_text(name, lang))
        table, formats = page.accounting_table(result, lang)
        assert len(table) == 1 and set(formats) == set(table.columns)
        gate, _ = page.gate_table(result, lang)
        assert len(gate) == len(quality.fitness(result.report).checks)
        page.quarantine_section(canvas, result)
        page.overshared_section(canvas, result)
        page.missing_section(canvas, result)
        kinds = [k for k, _ in canvas.shown]
        assert kinds.count("figure") == 1  # the quarantine chart: one row was set aside
        fig, ax = canvas.figure(**page.figure_labels("monthly", lang))
        page.plot_monthly(ax, result, canvas.fmt, canvas.colors)
        canvas.show(fig)
        fig, ax = canvas.figure(**page.figure_labels("rules", lang))
        page.plot_rules(ax, result, canvas.fmt, canvas.colors)
        canvas.show(fig)
    assert page.quarantine_reasons_by_reason(result)["rows"].sum() == head["rows_quarantined"]


def test_page_view_translates_values_and_headers():
    from kit.ingest import page

    frame = pd.DataFrame({"source": ["shop"], "balanced": [True], "quarantined_share": [0.01]})
    shown, formats = page.view(frame, "en")
    assert shown.columns.tolist() == ["Source", "Adds up", "Quarantined share"]
    assert shown.iloc[0, 1] == "yes" and formats == {"Source": "text", "Adds up": "text", "Quarantined share": "pct"}
