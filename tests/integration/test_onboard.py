"""``kit init`` and ``kit check`` on the demo export and on company shapes the demo lacks.

``kit init`` on the demo raw folder must find what config/kit.yml declares by hand (kinds,
header mappings, formats, encodings, identity keys); on an orders-only log, a GBK CRM with
an order log carrying the member number, and an app with its own event vocabulary, it must
write configs that load and that ``kit check`` accepts. ``kit check`` must stop, in plain
words, on a missing required column and on a date column it cannot parse.
"""

from __future__ import annotations

import csv
import dataclasses
import io
from pathlib import Path

import pytest
import yaml

from kit.cli import main
from kit.core.config import DEFAULT_CONFIG, load_config
from kit.onboard import check_config, init_project


def write_csv(path: Path, rows: list[list[str]], encoding: str = "utf-8") -> Path:
    """Rows as a CSV file in ``encoding``."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path


@pytest.fixture(scope="module")
def demo_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project whose raw folder holds a small demo export (kit.demo)."""
    from kit.demo import generate

    root = tmp_path_factory.mktemp("demo_project")
    generate(root / "data" / "raw" / "demo", customers=300, seed=5, months=14)
    return root


def test_init_on_the_demo_export_finds_what_the_demo_config_declares(demo_project: Path, capsys) -> None:
    out = demo_project / "config" / "kit.yml"
    assert main(["init", str(demo_project / "data" / "raw" / "demo"), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    written, demo = load_config(out), load_config(DEFAULT_CONFIG)

    def by_file(config):
        return {Path(s.path).name: dataclasses.replace(s, path="") for s in config.sources.values()}

    assert by_file(written) == by_file(demo)
    assert written.identity.keys == demo.identity.keys
    assert written.identity.account_keys == demo.identity.account_keys
    assert written.resolve(written.experiments.catalog) == demo_project / "data" / "raw" / "demo" / "experiments.yml"
    assert written.run.month == "2026-10" and written.project.currency == "CNY"
    assert "05_churn" in printed and "not shown" not in printed  # the demo has every input
    assert main(["check", "--config", str(out)]) == 0
    assert "OK: a run can proceed" in capsys.readouterr().out


def test_init_never_overwrites_a_config_without_force(demo_project: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "kit.yml"
    out.write_text("# mine\n", encoding="utf-8")
    raw = str(demo_project / "data" / "raw" / "demo")
    assert main(["init", raw, "--out", str(out)]) == 2
    assert "--force" in capsys.readouterr().err and out.read_text(encoding="utf-8") == "# mine\n"
    assert main(["init", raw, "--out", str(out), "--force"]) == 0
    assert load_config(out).sources


def orders_only(root: Path) -> Path:
    """A plain transaction log: customer, date, amount; no order id, dates only."""
    rows = [["Customer ID", "Order Date", "Total"]]
    for i in range(400):
        rows.append([f"CUST{i % 90:04d}", f"2025-{1 + i % 12:02d}-{1 + i % 28:02d}", f"{10 + i % 37}.50"])
    write_csv(root / "raw" / "transactions.csv", rows)
    return root / "raw"


def test_an_orders_only_log_gets_a_config_that_loads_and_passes_the_check(tmp_path: Path, capsys) -> None:
    raw = orders_only(tmp_path)
    result = init_project(raw, tmp_path / "kit.yml", timezone="America/New_York", currency="USD")
    (source,) = result.config.sources.values()
    assert list(result.config.sources) == ["transactions"] and source.kind == "orders"
    assert result.sources[0].missing_required == []  # no order id: ingest synthesises one
    assert source.columns == {"Customer ID": "customer_no", "Order Date": "order_ts", "Total": "amount"}
    assert source.keys == {"customer_no": "customer_no"} and source.timestamp_formats == ["%Y-%m-%d"]
    assert result.config.identity.keys == ["customer_no"] and result.config.identity.account_keys == ["customer_no"]
    text = result.path.read_text(encoding="utf-8")
    assert "\nexperiments:" not in text and "no experiments catalogue" in text
    assert "dates only" in text and result.config.run.month == "2025-12"
    printed = "\n".join(result.lines)
    assert "time-of-day habits" in printed and "Order times are dates only" in printed
    assert "No survey data" in printed and "No experiment assignments" in printed
    report = check_config(result.config)
    assert report.ok, report.problems


def crm_and_orders(root: Path) -> Path:
    """A GBK CRM with Chinese headers and one undecodable line, and an order log carrying the member number."""
    raw = root / "raw"
    crm = [["会员号", "姓名", "手机", "注册时间", "性别"]]
    crm += [[f"M{i:05d}", "张三", f"1380013{i:04d}", f"2024年{1 + i % 12}月{1 + i % 28}日", "男女"[i % 2]] for i in range(300)]
    path = write_csv(raw / "会员资料.csv", crm, "gbk")
    lines = path.read_bytes().split(b"\n")
    lines[150] = lines[150].replace(b"M00149", b"M\xff0149")  # a byte no Chinese encoding decodes
    path.write_bytes(b"\n".join(lines))
    orders = [["订单编号", "会员编号", "下单时间", "实付金额", "支付方式"]]
    orders += [[f"D{i:06d}", f"M{i % 300:05d}", f"2025-{1 + i % 12:02d}-{1 + i % 28:02d} {i % 24:02d}:15:00",
                f"¥{20 + i % 50}.00", "微信"] for i in range(900)]
    write_csv(raw / "orders.csv", orders)
    return raw


def test_a_gbk_crm_and_an_order_log_link_by_member_number(tmp_path: Path, capsys) -> None:
    result = init_project(crm_and_orders(tmp_path), tmp_path / "config" / "shop.yml")
    crm, orders = (result.config.sources[name] for name in ("customers", "orders"))
    assert crm.kind == "customers" and crm.on_bad_encoding == "quarantine"
    assert crm.columns == {"会员号": "member_id", "姓名": "name", "手机": "phone", "注册时间": "registered_at",
                           "性别": "gender"}
    assert crm.timestamp_formats == ["%Y年%m月%d日"] and crm.keys == {}
    assert orders.columns == {"订单编号": "order_id", "会员编号": "member_id", "下单时间": "order_ts",
                              "实付金额": "amount", "支付方式": "payment_method"}
    assert orders.keys == {}  # member_id is one of the default keys of an order log (kinds.DEFAULT_KEYS)
    assert result.config.identity.keys == ["member_id", "phone"]
    assert result.config.project.currency == "CNY" and result.config.project.timezone == "Asia/Shanghai"
    assert main(["check", "--config", str(result.path)]) == 0
    printed = capsys.readouterr().out
    assert "1 malformed record(s) will be quarantined" in printed
    assert "identity key member_id (column member_id): 300 distinct values" in printed


def test_events_with_their_own_vocabulary(tmp_path: Path, capsys) -> None:
    raw = tmp_path / "raw"
    write_csv(raw / "users.csv", [["User ID", "Mobile", "Signup Time"]]
              + [[f"u{i}", f"+86 139 0000 {i:04d}", f"2025/03/{1 + i % 28:02d} 10:00"] for i in range(120)])
    vocabulary = ("login", "search", "share", "complaint")
    events = [["uid", "event_name", "timestamp"]]
    events += [[f"u{i % 120}", vocabulary[i % 4], f"2025-{1 + i % 12:02d}-{1 + i % 28:02d}T08:{i % 60:02d}:00"]
               for i in range(2000)]
    write_csv(raw / "app_log.csv", events)
    orders = [["order_no", "user_id", "paid_at", "amount"]]
    orders += [[f"o{i}", f"u{i % 120}", f"2025-{1 + i % 12:02d}-{1 + i % 28:02d} 12:00", "99"] for i in range(500)]
    write_csv(raw / "orders.csv", orders)
    result = init_project(raw, tmp_path / "kit.yml", currency="CNY", timezone="Asia/Shanghai")
    sources = result.config.sources
    assert {n: s.kind for n, s in sources.items()} == {"app_log": "events", "orders": "orders", "users": "app_users"}
    assert sources["app_log"].columns == {"uid": "app_user_id", "event_name": "event_type", "timestamp": "event_ts"}
    assert sources["users"].columns == {"User ID": "app_user_id", "Mobile": "phone", "Signup Time": "registered_at"}
    assert sources["orders"].keys == {"app_user_id": "app_user_id"}
    assert "event types seen: login, search, share, complaint" in result.path.read_text(encoding="utf-8")
    assert main(["check", "--config", str(result.path)]) == 0
    out = capsys.readouterr().out
    assert "satisfaction signals (No survey data)" in out and "engagement signals (falling activity)\n" in out


def test_web_events_keyed_by_the_member_number(tmp_path: Path, capsys) -> None:
    """A web log that names the member (no app user id) links through the member number."""
    raw = tmp_path / "raw"
    write_csv(raw / "members.csv", [["会员编号", "手机号", "注册日期"]]
              + [[f"M{i:05d}", f"1390000{i:04d}", f"2025-03-{1 + i % 28:02d}"] for i in range(150)])
    write_csv(raw / "web_events.csv", [["会员编号", "事件", "时间"]]
              + [[f"M{i % 150:05d}", ("login", "search")[i % 2], f"2025-{1 + i % 12:02d}-{1 + i % 28:02d} 09:{i % 60:02d}:00"]
                 for i in range(900)])
    write_csv(raw / "orders.csv", [["订单号", "会员编号", "下单时间", "实付金额"]]
              + [[f"D{i}", f"M{i % 150:05d}", f"2025-{1 + i % 12:02d}-{1 + i % 28:02d} 12:00:00", "88"] for i in range(600)])
    result = init_project(raw, tmp_path / "kit.yml", currency="CNY", timezone="Asia/Shanghai")
    events = result.config.sources["web_events"]
    assert events.kind == "events" and events.keys == {"member_id": "member_id"}
    assert events.columns == {"会员编号": "member_id", "事件": "event_type", "时间": "event_ts"}
    assert main(["check", "--config", str(result.path)]) == 0


def broken(tmp_path: Path, header: list[str], dates: str, formats: list[str]) -> Path:
    """A one-source project: an orders file with ``header`` and date values written as ``dates``."""
    rows = [header] + [[f"S{i}", "U1", dates.format(d=1 + i % 28), "10"][: len(header)] for i in range(200)]
    write_csv(tmp_path / "raw" / "orders.csv", rows)
    config = {
        "run": {"month": "2025-03"},
        "paths": {"raw": "raw"},
        "sources": {"shop": {"kind": "orders", "path": "raw/orders.csv", "timestamp_formats": formats}},
    }
    file = tmp_path / "kit.yml"
    file.write_text(yaml.safe_dump(config), encoding="utf-8")
    return file


def test_check_names_a_missing_required_column(tmp_path: Path, capsys) -> None:
    file = broken(tmp_path, ["order_id", "shop_user_id", "order_ts"], "2025-03-{d:02d} 10:00:00", ["%Y-%m-%d %H:%M:%S"])
    assert main(["check", "--config", str(file)]) == 1
    out = capsys.readouterr().out
    assert "source 'shop': required column amount is missing" in out
    assert "Map the header that holds it under sources.shop.columns" in out and "NOT READY" in out


def test_check_names_an_unparseable_date_column_and_the_format_that_parses_it(tmp_path: Path, capsys) -> None:
    file = broken(tmp_path, ["order_id", "shop_user_id", "order_ts", "amount"], "03/{d:02d}/2025 10:00",
                  ["%Y-%m-%d %H:%M:%S"])
    assert main(["check", "--config", str(file)]) == 1
    out = capsys.readouterr().out
    assert "order_ts: 200 of 200 sampled values do not parse; 100.0% of the rows would be quarantined" in out
    assert "Add the format(s) ['%m/%d/%Y %H:%M'] to sources.shop.timestamp_formats" in out


def test_check_stops_when_the_run_month_has_no_orders(tmp_path: Path, capsys) -> None:
    file = broken(tmp_path, ["order_id", "shop_user_id", "order_ts", "amount"], "2025-01-{d:02d} 10:00:00",
                  ["%Y-%m-%d %H:%M:%S"])
    assert main(["check", "--config", str(file)]) == 1
    assert "no rows in the run month 2025-03 (its data runs from 2025-01 to 2025-01)" in capsys.readouterr().out


def test_check_stops_when_events_cannot_reach_a_customer(tmp_path: Path, capsys) -> None:
    file = broken(tmp_path, ["order_id", "shop_user_id", "order_ts", "amount"], "2025-03-{d:02d} 10:00:00",
                  ["%Y-%m-%d %H:%M:%S"])
    write_csv(tmp_path / "raw" / "events.csv", [["app_user_id", "event_ts", "event_type"], ["A1", "2025-03-02 10:00:00", "login"]])
    config = yaml.safe_load(file.read_text(encoding="utf-8"))
    config["sources"]["events"] = {"kind": "events", "path": "raw/events.csv"}
    file.write_text(yaml.safe_dump(config), encoding="utf-8")
    assert main(["check", "--config", str(file)]) == 1
    assert "every event would be quarantined (unknown_app_user_id)" in capsys.readouterr().out


def test_a_second_name_column_is_flagged_as_personal_data(tmp_path: Path, capsys) -> None:
    rows = [["Customer ID", "First Name", "Last Name", "Created At"]]
    rows += [[f"C{i}", "Mary", "Smith", f"2025-01-{1 + i:02d}"] for i in range(20)]
    write_csv(tmp_path / "raw" / "customers.csv", rows)
    result = init_project(tmp_path / "raw", tmp_path / "kit.yml")
    assert result.config.sources["customers"].columns == {"Customer ID": "member_id", "First Name": "name",
                                                          "Created At": "registered_at"}
    assert '"Last Name" holds personal names and is not read' in result.path.read_text(encoding="utf-8")
    report = check_config(result.config)
    assert report.ok and not [w for w in report.warnings if "personal" in w]
    assert (
        "source 'customers': header 'Last Name' looks like personal names; it is not read, so it never leaves the "
        "raw file (not even into the quarantine)"
    ) in [line.strip() for line in report.lines]


def test_check_stops_when_experiment_units_name_no_known_key(tmp_path: Path, capsys) -> None:
    file = broken(tmp_path, ["order_id", "shop_user_id", "order_ts", "amount"], "2025-03-{d:02d} 10:00:00",
                  ["%Y-%m-%d %H:%M:%S"])
    write_csv(tmp_path / "raw" / "assignments.csv", [["experiment_id", "unit_type", "unit_id", "variant", "assigned_ts"],
                                                     ["e1", "member", "M1", "a", "2025-03-02 10:00:00"],
                                                     ["e1", "device", "D1", "b", "2025-03-02 10:00:00"]])
    config = yaml.safe_load(file.read_text(encoding="utf-8"))
    config["sources"]["assignments"] = {"kind": "assignments", "path": "raw/assignments.csv"}
    file.write_text(yaml.safe_dump(config), encoding="utf-8")
    assert main(["check", "--config", str(file)]) == 1
    out = capsys.readouterr().out
    assert "unit_type value(s) 'device' name no identity key" in out
    assert "experiment units of type member_id cannot reach a customer" in out
