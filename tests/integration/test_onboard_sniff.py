"""The sniffer behind ``kit init``: formats, delimiters, title lines, date formats, header synonyms."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from kit.onboard import check_config, init_project
from kit.onboard.sniff import sniff_file, timestamp_formats
from kit.onboard.synonyms import concept


@pytest.mark.parametrize(
    ("header", "expected"),
    [("会员编号", "member_id"), ("会员号", "member_id"), ("Member No.", "member_id"), ("手机号", "phone"),
     ("Mobile", "phone"), ("邮箱", "email"), ("E-mail", "email"), ("下单时间", "order_ts"), ("InvoiceDate", "order_ts"),
     ("Order Date", "order_ts"), ("实付金额", "amount"), ("Revenue", "amount"), ("订单号", "order_id"),
     ("InvoiceNo", "order_id"), ("客户编号", "customer_no"), ("CustomerID", "customer_no"), ("ＮＰＳ", "nps")],
)
def test_headers_name_their_canonical_column_in_english_and_chinese(header: str, expected: str) -> None:
    assert concept(header)[0] == expected


def test_the_more_specific_synonym_wins(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "orders.csv").write_text("订单号,下单时间,金额,实付金额\nA1,2025-01-02 10:00:00,12,10\n", encoding="utf-8")
    result = init_project(raw, tmp_path / "kit.yml")
    assert result.config.sources["orders"].columns == {"订单号": "order_id", "下单时间": "order_ts", "实付金额": "amount"}
    assert '"金额" also looks like amount' in result.path.read_text(encoding="utf-8")


def test_date_formats_cover_mixed_writings_in_a_stable_order() -> None:
    formats, parsed, date_only, ambiguous = timestamp_formats(["1990-05-03", "1990/5/3", "1990年5月3日", "2001-12-31"])
    assert formats == ("%Y-%m-%d", "%Y/%m/%d", "%Y年%m月%d日") and parsed == 1.0 and date_only and not ambiguous


def test_day_first_and_month_first_are_told_apart_by_days_above_12() -> None:
    assert timestamp_formats(["25/03/2025 10:00", "01/04/2025 11:30"])[0] == ("%d/%m/%Y %H:%M",)
    assert timestamp_formats(["03/25/2025 10:00", "04/01/2025 11:30"])[0] == ("%m/%d/%Y %H:%M",)
    formats, _, _, ambiguous = timestamp_formats(["03/04/2025", "05/06/2025"])
    assert formats == ("%d/%m/%Y",) and ambiguous
    assert timestamp_formats(["03/04/2025", "05/06/2025"], prefer_month_first=True)[0] == ("%m/%d/%Y",)


def test_midnight_times_count_as_dates_only_and_unparseable_values_as_such() -> None:
    formats, parsed, date_only, _ = timestamp_formats(["2025-01-02 00:00:00", "2025-01-03 00:00:00", "soon", "n/a"])
    assert formats == ("%Y-%m-%d %H:%M:%S",) and parsed == 0.5 and date_only
    assert timestamp_formats(["abc", "12.5"])[0] == ()


def test_title_lines_above_the_header_are_found_and_the_check_stops_on_them(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    text = "销售报表\n导出日期 2025-02-01\n订单号;下单时间;实付金额\n" + "".join(
        f"A{i};2025-01-{1 + i % 28:02d} 10:00:00;{i}.5\n" for i in range(50))
    (raw / "sales.txt").write_bytes(text.encode("gb18030"))
    sniff = sniff_file(raw / "sales.txt", tmp_path)
    assert (sniff.title_lines, sniff.delimiter, sniff.encoding) == (2, ";", "gb18030")
    assert sniff.headers == ["订单号", "下单时间", "实付金额"] and sniff.rows == 50
    result = init_project(raw, tmp_path / "kit.yml")
    assert "2 title line(s) stand above the header" in result.path.read_text(encoding="utf-8")
    assert result.config.sources["sales"].columns == {"订单号": "order_id", "下单时间": "order_ts", "实付金额": "amount"}
    report = check_config(result.config)
    assert not report.ok and "sales.txt has 2 title line(s) above its header line" in report.problems[0]


def test_excel_tsv_and_json_lines_are_sniffed(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    members = pd.DataFrame({"Member ID": ["M1", "M2"], "Phone": ["13800138000", "13900139000"],
                            "Join Date": ["2024-01-05", "2024-02-06"]})
    members.to_excel(raw / "members.xlsx", index=False)
    (raw / "orders.tsv").write_text(
        "order_id\tmember_id\torder_time\tamount\n" + "".join(f"O{i}\tM{1 + i % 2}\t2025-01-0{1 + i % 9} 09:00\t{i}\n"
                                                              for i in range(20)), encoding="utf-8")
    events = [{"app_user_id": "A1", "event_ts": f"2025-01-0{1 + i % 9}T10:00:00", "event_type": "login"} for i in range(9)]
    (raw / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events), encoding="utf-8")
    (raw / "app_users.csv").write_text("app_user_id,member_id\nA1,M1\n", encoding="utf-8")
    result = init_project(raw, tmp_path / "kit.yml")
    sources = result.config.sources
    assert (sources["members"].format, sources["members"].kind) == ("excel", "customers")
    assert sources["members"].columns == {"Member ID": "member_id", "Phone": "phone", "Join Date": "registered_at"}
    assert (sources["orders"].kind, sources["orders"].columns) == ("orders", {"order_time": "order_ts"})
    assert sources["orders"].timestamp_formats == ["%Y-%m-%d %H:%M"]
    assert (sources["events"].format, sources["events"].kind, sources["events"].timestamp_formats) == ("jsonl", "events", [])


def test_monthly_exports_with_one_header_become_one_source_read_through_a_glob(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    for month in ("2025-01", "2025-02", "2025-03"):
        (raw / f"orders_{month}.csv").write_text(
            "order_id,order_ts,amount\n" + "".join(f"{month}-{i},{month}-{1 + i:02d} 10:00:00,{i}\n" for i in range(9)),
            encoding="utf-8")
    (raw / "orders_summary.csv").write_text("month,total\n2025-01,36\n", encoding="utf-8")
    result = init_project(raw, tmp_path / "kit.yml")
    sources = result.config.sources
    assert sources["orders"].path == "raw/orders_2025-0*.csv" and result.sources[0].rows == 27
    report = check_config(result.config)
    assert any("27 rows read" in line for line in report.lines)


def test_the_currency_comes_from_the_sign_of_the_amounts_and_a_us_export_is_hinted(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "orders.csv").write_text("Order ID,Order Date,Total\n" + "".join(
        f"#{i},03/{1 + i:02d}/2025 10:00,${i}.99\n" for i in range(20)), encoding="utf-8")
    result = init_project(raw, tmp_path / "kit.yml")
    assert result.config.project.currency == "USD"
    assert result.config.sources["orders"].timestamp_formats == ["%m/%d/%Y %H:%M"]
    assert "month-first dates: a US export? then --currency USD --timezone America/New_York" in result.path.read_text(
        encoding="utf-8")
