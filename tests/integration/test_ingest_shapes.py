"""Issue 17: ingest runs on the data a company actually has.

Optional columns are typed nulls or defaults, an order log may have no order id, identity
keys are declared per source (a member number in an order log links to the CRM), dates
without times are detected per source, a GBK CRM with one undecodable line, a New York
store whose data starts and ends inside a month, and anonymous receipts in any source.
"""

from __future__ import annotations

import random
import re
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from worlds import write_config

from kit.core.config import ConfigError, load_config
from kit.core.inputs import Inputs
from kit.core.warehouse import Warehouse
from kit.ingest import IngestError, page, quality, run_ingest
from kit.ingest.normalize import apply_sql, number_sql
from kit.text.fmt import Formatter

TABLES = ("customers", "identities", "orders", "events", "surveys", "assignments")


def write_raw(root: Path, files: dict[str, str | bytes]) -> None:
    """Files under ``root/data/raw`` (text as UTF-8)."""
    raw = root / "data" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        (raw / name).write_bytes(content.encode("utf-8") if isinstance(content, str) else content)


def ingest(root: Path, files: dict[str, str | bytes], sources: dict, **sections):
    """Write ``files`` and a config declaring ``sources`` (plus other ``sections``); run ingest."""
    write_raw(root, files)
    return run_ingest(load_config(write_config(root, {"sources": sources, **sections})))


def warehouse(root: Path, name: str) -> pd.DataFrame:
    return pd.read_parquet(root / "data" / "warehouse" / f"{name}.parquet")


def csv_text(header: list[str], rows: list[list[object]]) -> str:
    return "\n".join(",".join(map(str, r)) for r in [header, *rows]) + "\n"


# --------------------------------------------------------------------------- optional means optional


def test_missing_optional_columns_are_typed_nulls_and_defaults(tmp_path):
    """An order log of order id, account, time and amount only: every canonical column has
    a real type (a typeless null broke Ibis: 'UnknownColumn' object has no attribute 'sum'),
    status is paid and is_refund false."""
    rows = [[f"S{i}", f"U{i % 3}", f"2026-10-{1 + i:02d} 10:00:00", 10 + i] for i in range(6)]
    ingest(tmp_path, {"shop.csv": csv_text(["order_id", "shop_user_id", "order_ts", "amount"], rows)},
           {"shop": {"kind": "orders", "path": "data/raw/shop.csv"}})
    folder = tmp_path / "data" / "warehouse"
    for table in TABLES:
        schema = pq.read_schema(folder / f"{table}.parquet")
        assert not [f.name for f in schema if f.type == pa.null()], table
    schema = pq.read_schema(folder / "orders.parquet")
    assert schema.field("discount").type == pa.float64() and schema.field("items").type == pa.int64()
    assert schema.field("category").type in (pa.string(), pa.large_string())
    assert schema.field("is_refund").type == pa.bool_() and schema.field("has_time").type == pa.bool_()
    orders = warehouse(tmp_path, "orders")
    assert set(orders["status"]) == {"paid"} and not orders["is_refund"].any()
    wh = Warehouse(folder)
    assert wh.table("orders").discount.sum().execute() is None or pd.isna(wh.table("orders").discount.sum().execute())
    assert float(wh.table("orders").amount.sum().execute()) == sum(10 + i for i in range(6))
    inputs = wh.inputs()
    assert inputs.has("orders") and not inputs.has("orders.discount") and not inputs.has("events")


def test_blank_status_is_paid(tmp_path):
    rows = [["S1", "U1", "2026-10-01 10:00:00", 10, ""], ["S2", "U1", "2026-10-02 10:00:00", 12, "refunded"]]
    ingest(tmp_path, {"shop.csv": csv_text(["order_id", "shop_user_id", "order_ts", "amount", "status"], rows)},
           {"shop": {"kind": "orders", "path": "data/raw/shop.csv"}})
    orders = warehouse(tmp_path, "orders").set_index("order_id")
    assert orders.loc["shop:S1", "status"] == "paid" and not orders.loc["shop:S1", "is_refund"]
    assert orders.loc["shop:S2", "status"] == "refunded" and orders.loc["shop:S2", "is_refund"]


# --------------------------------------------------------------------------- optional order_id

LOG_HEADER = ["customer", "date", "amount"]
LOG_ROWS = [
    ["K1", "2026-10-01", "10.00"],
    ["K1", "2026-10-01", "10.00"],  # exact duplicate: dropped
    ["K1", "2026-10-01", "12.00"],  # differs in one field: a second order
    ["K2", "2026-10-02", "30.00"],
    ["K3", "2026-10-03", "40.00"],
]
LOG_SOURCE = {"kind": "orders", "path": "data/raw/log.csv", "columns": {"customer": "shop_user_id", "date": "order_ts"}}


def test_order_log_without_order_id_gets_stable_synthesised_ids(tmp_path, monkeypatch):
    monkeypatch.setenv("KIT_IDENTITY_KEY", "order-id-test-key-0123456789abcdef")
    result = ingest(tmp_path, {"log.csv": csv_text(LOG_HEADER, LOG_ROWS)}, {"log": LOG_SOURCE})
    stats = result.sources["log"]
    assert stats.synthesised_order_id
    assert (stats.read, stats.loaded, stats.exact_duplicates, stats.resent_duplicates) == (5, 4, 1, 0)
    orders = warehouse(tmp_path, "orders")
    assert orders["order_id"].is_unique and orders["order_id"].str.fullmatch(r"log:[0-9a-f]{20}").all()
    ids = dict(zip(orders["amount"], orders["order_id"]))
    assert sorted(orders["amount"]) == [10.0, 12.0, 30.0, 40.0]
    assert result.report["sources"]["log"]["synthesised_order_id"] is True
    assert any("log" in line and "no order id" in line for line in page.findings(result, Formatter("en")))
    assert any("log" in line and "订单号" in line for line in page.findings(result, Formatter("zh")))
    # an order log of customer, date and amount: one customer per customer key, dates only
    assert len(warehouse(tmp_path, "customers")) == 3 and stats.has_time is False
    assert not warehouse(tmp_path, "orders")["has_time"].any()

    # the same rows in another order, with the columns in another order: the same ids
    shuffled = LOG_ROWS[:]
    random.Random(3).shuffle(shuffled)
    text = csv_text(["amount", "customer", "date"], [[r[2], r[0], r[1]] for r in shuffled])
    ingest(tmp_path, {"log.csv": text}, {"log": LOG_SOURCE})
    again = warehouse(tmp_path, "orders")
    assert dict(zip(again["amount"], again["order_id"])) == ids


def test_synthesised_ids_depend_on_the_identity_key(tmp_path, monkeypatch):
    """The id is a keyed hash: a row's fields (a phone among them) cannot be tried against it."""
    found = []
    for key in ("first-order-id-test-key-0123456789", "other-order-id-test-key-0123456789"):
        monkeypatch.setenv("KIT_IDENTITY_KEY", key)
        folder = tmp_path / key[:5]
        ingest(folder, {"log.csv": csv_text(LOG_HEADER, LOG_ROWS)}, {"log": LOG_SOURCE})
        found.append(set(warehouse(folder, "orders")["order_id"]))
    assert not found[0] & found[1]


# --------------------------------------------------------------------------- declared identity keys


def crm_and_orders(n_members: int = 500, buyers: int = 497, seed: int = 5) -> tuple[bytes, str]:
    """A GBK CRM of ``n_members`` (member number, name, phone, sign-up date) and an order
    log whose customer column holds the member number of the first ``buyers`` members
    (order id, member number, time, amount; no phone)."""
    rng = random.Random(seed)
    crm = [["会员编号", "姓名", "手机号", "注册日期"]] + [
        [f"M{i:08d}", f"会员{i}", f"139{i:08d}", f"2025-{1 + i % 12:02d}-{1 + i % 28:02d}"] for i in range(n_members)
    ]
    orders = []
    for i in range(buyers):
        for j in range(rng.randint(1, 4)):
            orders.append([f"T{i}-{j}", f"M{i:08d}", f"2026-{10 - j % 2:02d}-{1 + rng.randrange(28):02d} 1{j}:00:00", str(rng.randint(5, 500))])
    text = "\n".join(",".join(r) for r in crm) + "\n"
    return text.encode("gbk"), csv_text(["单号", "会员号", "下单时间", "实付金额"], orders)


CRM_SOURCE = {"kind": "customers", "path": "data/raw/crm.csv",
              "columns": {"会员编号": "member_id", "姓名": "name", "手机号": "phone", "注册日期": "registered_at"}}
ORDER_COLUMNS = {"单号": "order_id", "会员号": "member_id", "下单时间": "order_ts", "实付金额": "amount"}


def test_member_number_in_the_order_log_links_to_the_crm(tmp_path):
    """500 members, 497 with orders in an order log carrying the member number: every
    member with orders is one customer with their orders (before: 0 of 497 linked)."""
    crm, orders = crm_and_orders()
    sources = {"crm": CRM_SOURCE,
               "orders": {"kind": "orders", "path": "data/raw/orders.csv", "columns": ORDER_COLUMNS, "keys": {"member_id": "member_id"}}}
    result = ingest(tmp_path, {"crm.csv": crm, "orders.csv": orders}, sources)
    ids = warehouse(tmp_path, "identities")
    members = ids[ids["source"] == "crm"].set_index("source_id")["customer_id"]
    buyers = warehouse(tmp_path, "orders").groupby("customer_id").size()
    assert members.isin(buyers.index).sum() == 497
    assert len(warehouse(tmp_path, "customers")) == 500  # no extra never-purchased customers
    order_records = ids[ids["source"] == "orders"]
    assert set(order_records["rule"]) == {"member_id"} and order_records["keyed"].all()
    assert (order_records["customer_id"].to_numpy() == members[order_records["source_id"]].to_numpy()).all()
    assert result.report["fitness"]["grade"] == "ok"
    assert result.report["sources"]["crm"]["members_without_orders"] == pytest.approx(3 / 500)


def test_orders_link_on_a_member_id_column_by_default(tmp_path):
    crm, orders = crm_and_orders(40, 30)
    sources = {"crm": CRM_SOURCE, "orders": {"kind": "orders", "path": "data/raw/orders.csv", "columns": ORDER_COLUMNS}}
    ingest(tmp_path, {"crm.csv": crm, "orders.csv": orders}, sources)
    assert len(warehouse(tmp_path, "customers")) == 40


def test_a_custom_key_links_sources_and_stays_inside_ingest(tmp_path):
    """A customer number (not a canonical column) in the CRM and in a store's order log."""
    crm = csv_text(["member_id", "客户号", "registered_at"], [["M1", "CN-0001", "2025-01-01"], ["M2", "CN-0002", "2025-01-02"]])
    log = csv_text(["Customer", "date", "amount"], [[" CN-0001 ", "2026-10-01", 5], ["CN-0001", "2026-10-02", 6], ["CN-0002", "2026-10-03", 7]])
    sources = {
        "crm": {"kind": "customers", "path": "data/raw/crm.csv", "columns": {"客户号": "customer_no"},
                "keys": {"member_id": "member_id", "customer_no": "customer_no"}},
        "store": {"kind": "orders", "path": "data/raw/store.csv", "columns": {"Customer": "customer_no", "date": "order_ts"},
                  "keys": {"customer_no": "customer_no"}},
    }
    identity = {"keys": ["member_id", "customer_no", "phone", "email"], "account_keys": ["member_id", "customer_no"]}
    result = ingest(tmp_path, {"crm.csv": crm, "store.csv": log}, sources, identity=identity)
    ids = warehouse(tmp_path, "identities")
    assert len(warehouse(tmp_path, "customers")) == 2
    store = ids[ids["source"] == "store"]
    assert sorted(store["source_id"]) == ["CN-0001", "CN-0002"] and set(store["rule"]) == {"customer_no"}
    assert warehouse(tmp_path, "orders").groupby("customer_id").size().sort_values().tolist() == [1, 2]
    assert "customer_no" in result.sources["store"].columns
    for file in (tmp_path / "data" / "warehouse").glob("*.parquet"):
        if file.name not in ("identities.parquet", "identity_registry.parquet"):
            frame = pd.read_parquet(file)
            assert "customer_no" not in frame.columns, file.name
            assert not frame.astype("str").apply(lambda c: c.str.contains("CN-000")).any().any(), file.name
    assert quality.rules(result.report).set_index("rule")["records"].to_dict() == {"customer_no": 4}  # 2 members, 2 store accounts
    assert page.value_text("customer_no", "en") == "customer_no"  # a custom key type is shown by its name
    assert page.value_text("member_id", "zh") == "会员编号"


def test_a_key_that_is_not_an_account_key_can_be_overshared(tmp_path):
    """A custom key outside identity.account_keys on many receipts and no account is not one
    person's: it is not used to link (as a walk-in phone); as an account key it links."""
    log = csv_text(["order_id", "card", "order_ts", "amount"], [[f"R{i}", "CARD-1", f"2026-10-{1 + i:02d}", 5] for i in range(6)])
    source = {"kind": "orders", "path": "data/raw/log.csv", "columns": {"card": "card_no"}, "keys": {"card_no": "card_no"}}
    keys = ["member_id", "phone", "email", "card_no"]
    shared = ingest(tmp_path / "a", {"log.csv": log}, {"log": source}, identity={"keys": keys})
    assert len(warehouse(tmp_path / "a", "customers")) == 6
    assert shared.overshared.to_dict(orient="records") == [
        {"key_type": "card_no", "value_masked": "C***", "n_records": 6, "n_accounts": 0, "n_sources": 1}
    ]
    ingest(tmp_path / "b", {"log.csv": log}, {"log": source}, identity={"keys": keys, "account_keys": ["member_id", "card_no"]})
    assert len(warehouse(tmp_path / "b", "customers")) == 1


def test_a_key_type_not_in_identity_keys_is_a_config_error(tmp_path):
    source = {"kind": "orders", "path": "x.csv", "keys": {"customer_no": "customer_no"}}
    with pytest.raises(ConfigError) as error:
        load_config(write_config(tmp_path, {"sources": {"store": source}}))
    message = str(error.value)
    assert "sources.store.keys.customer_no" in message and "identity.keys" in message and "Add 'customer_no'" in message
    with pytest.raises(ConfigError, match=r"sources\.ab\.keys: a source of kind assignments"):
        load_config(write_config(tmp_path, {"sources": {"ab": {"kind": "assignments", "path": "x", "keys": {"unit_id": "member_id"}}}}))


def test_identity_kinds_agree_between_config_and_ingest():
    from kit.core.config import IDENTITY_KINDS
    from kit.ingest.kinds import DEFAULT_KEYS, ROW_ID

    assert set(IDENTITY_KINDS) == set(ROW_ID) == set(DEFAULT_KEYS)


def test_a_declared_key_column_missing_from_the_file_is_an_error(tmp_path):
    log = csv_text(["order_id", "order_ts", "amount"], [["R1", "2026-10-01", 5]])
    source = {"kind": "orders", "path": "data/raw/log.csv", "keys": {"member_id": "member_id"}}
    with pytest.raises(IngestError, match=r"identity key column\(s\) 'member_id' declared under sources\.log\.keys"):
        ingest(tmp_path, {"log.csv": log}, {"log": source})


# --------------------------------------------------------------------------- link-rate fitness


def test_members_linked_to_no_order_are_not_fit(tmp_path):
    """The order log's member column is not mapped: no member links to an order, so the
    gate fails and the page says why instead of "fit for this month's analysis"."""
    crm, orders = crm_and_orders(60, 50)
    columns = {k: v for k, v in ORDER_COLUMNS.items() if v != "member_id"}
    sources = {"crm": CRM_SOURCE, "orders": {"kind": "orders", "path": "data/raw/orders.csv", "columns": columns}}
    result = ingest(tmp_path, {"crm.csv": crm, "orders.csv": orders}, sources)
    fit = quality.fitness(result.report)
    (check,) = [c for c in fit.checks if c.limit == "members_without_orders"]
    assert (check.source, check.value, check.grade) == ("crm", 1.0, "fail")
    assert fit.grade == "fail" and quality.verdict(result.report)[1] == "ingest.verdict.not_fit"
    assert any("sources.<orders source>.keys" in line for line in fit.problems())
    assert any("100" in line and "link to no order" in line for line in page.findings(result, Formatter("en")))
    assert any("crm" in line and "没有关联到任何订单" in line for line in page.findings(result, Formatter("zh")))
    # no orders source: members are not judged on it
    alone = ingest(tmp_path / "crm_only", {"crm.csv": crm}, {"crm": CRM_SOURCE})
    assert alone.report["sources"]["crm"]["members_without_orders"] is None
    assert not [c for c in quality.fitness(alone.report).checks if c.limit == "members_without_orders"]


# --------------------------------------------------------------------------- dates without times


def test_date_only_sources_are_detected_per_source(tmp_path):
    shop = csv_text(["order_id", "shop_user_id", "order_ts", "amount"], [["S1", "U1", "2026-10-01 21:30:00", 5], ["S2", "U2", "2026-10-02 23:10:00", 6]])
    pos = csv_text(["order_id", "shop_user_id", "order_ts", "amount"], [["R1", "U1", "2026/10/01", 5], ["R2", "U3", "2026/10/31", 6]])
    sources = {
        "shop": {"kind": "orders", "path": "data/raw/shop.csv"},
        # dates written in New York: a calendar day, not shifted to 13:00 Shanghai time
        "pos": {"kind": "orders", "path": "data/raw/pos.csv", "timestamp_formats": ["%Y/%m/%d"], "timezone": "America/New_York"},
    }
    result = ingest(tmp_path, {"shop.csv": shop, "pos.csv": pos}, sources)
    assert (result.sources["shop"].has_time, result.sources["pos"].has_time) == (True, False)
    assert result.report["sources"]["pos"]["has_time"] is False
    orders = warehouse(tmp_path, "orders").set_index("order_id")
    assert orders.loc["pos:R2", "order_ts"] == pd.Timestamp("2026-10-31") and not orders.loc["pos:R2", "has_time"]
    assert orders.loc["shop:S1", "has_time"] and orders.loc["shop:S1", "order_ts"] == pd.Timestamp("2026-10-01 21:30")
    assert "Times in pos are dates only: hour-of-day figures are not computed for them." in page.findings(result, Formatter("en"))
    assert "pos 中的时间只有日期:不为这些记录计算按小时的指标。" in page.findings(result, Formatter("zh"))
    assert Inputs.read(tmp_path / "data" / "warehouse").has("orders.time")

    only = ingest(tmp_path / "only", {"pos.csv": pos}, {"pos": {**sources["pos"], "timestamp_formats": []}})
    assert only.sources["pos"].has_time is False  # built-in formats, every value at midnight
    assert not Inputs.read(tmp_path / "only" / "data" / "warehouse").has("orders.time")


def test_times_of_a_timed_source_move_to_project_time(tmp_path):
    shop = csv_text(["order_id", "shop_user_id", "order_ts", "amount"], [["S1", "U1", "2026-10-01 09:30:00", 5]])
    source = {"kind": "orders", "path": "data/raw/shop.csv", "timezone": "America/New_York"}
    result = ingest(tmp_path, {"shop.csv": shop}, {"shop": source})
    assert result.sources["shop"].has_time
    assert warehouse(tmp_path, "orders")["order_ts"].tolist() == [pd.Timestamp("2026-10-01 21:30")]  # EDT + 12 h


# --------------------------------------------------------------------------- encoding errors per row


def gbk_crm_with_a_bad_line() -> bytes:
    rows = ["会员编号,姓名,手机号,注册日期"] + [f"M{i:08d},会员{i},1390013{i:04d},2025-01-{i % 28 + 1:02d}" for i in range(1, 21)]
    lines = ("\n".join(rows) + "\n").encode("gbk").split(b"\n")
    lines[7] = lines[7].replace("会员".encode("gbk"), b"\xff\xfe", 1)  # line 8: not GBK / GB18030
    return b"\n".join(lines)


def test_gbk_crm_with_an_undecodable_line_fails_naming_the_line(tmp_path):
    with pytest.raises(IngestError) as error:
        ingest(tmp_path, {"crm.csv": gbk_crm_with_a_bad_line()}, {"crm": CRM_SOURCE})
    message = str(error.value)
    assert "crm.csv" in message and "line 8 is not valid GB18030" in message and "on_bad_encoding: quarantine" in message
    assert "byte" not in message


def test_gbk_crm_quarantines_the_undecodable_line_when_asked(tmp_path):
    result = ingest(tmp_path, {"crm.csv": gbk_crm_with_a_bad_line()}, {"crm": {**CRM_SOURCE, "on_bad_encoding": "quarantine"}})
    stats = result.sources["crm"]
    assert (stats.read, stats.loaded, stats.quarantine_reasons) == (20, 19, {"undecodable_bytes": 1})
    assert stats.encodings == {"data/raw/crm.csv": "gb18030"}
    bad = pd.read_parquet(tmp_path / "data" / "warehouse" / "quarantine" / "crm.parquet")
    assert bad[["row_number", "line", "reason"]].values.tolist() == [[7, 8, "undecodable_bytes"]]
    assert len(warehouse(tmp_path, "customers")) == 19


# --------------------------------------------------------------------------- any currency, time zone, partial months


def daily_orders(first: str, last: str, per_day: int = 5) -> str:
    """``per_day`` orders a day from ``first`` to ``last`` (US dates, dollar amounts)."""
    rows = []
    for day in pd.date_range(first, last, freq="D"):
        for j in range(per_day):
            rows.append([f"N{day:%m%d}{j}", f"U{j}", f"{day:%m/%d/%Y} {1 + j}:15 PM", f'"${1000 + j:,}.50"'])
    return csv_text(["order_id", "shop_user_id", "order_ts", "amount"], rows)


def test_new_york_store_with_data_starting_and_ending_inside_months(tmp_path):
    """USD amounts, America/New_York times, data from 15 September to 6 October: the run
    month has 6 days of data against 16 in September, at the same rate a day. The month
    drop compares rates per day over the days covered (counts alone: -62%, a fail)."""
    source = {"kind": "orders", "path": "data/raw/us.csv", "timestamp_formats": ["%m/%d/%Y %I:%M %p"], "timezone": "America/New_York"}
    result = ingest(tmp_path, {"us.csv": daily_orders("2026-09-15", "2026-10-06")}, {"us": source},
                    project={"currency": "USD", "timezone": "America/New_York"})
    stats = result.sources["us"]
    assert (stats.loaded, stats.quarantined) == (22 * 5, 0) and stats.has_time
    orders = warehouse(tmp_path, "orders")
    assert orders["amount"].min() == 1000.5 and orders["amount"].max() == 1004.5
    assert orders["order_ts"].min() == pd.Timestamp("2026-09-15 13:15")  # local time, unshifted
    entry = result.report["sources"]["us"]
    assert entry["rows_by_month"] == {"2026-09": 80, "2026-10": 30}
    assert (quality.covered_days(entry, "2026-09"), quality.covered_days(entry, "2026-10")) == (16, 6)
    (drop,) = [c for c in quality.fitness(result.report).checks if c.limit == "month_drop"]
    assert drop.value == pytest.approx(0.0) and drop.grade == "ok"
    assert result.report["fitness"]["grade"] == "ok"


def test_month_drop_still_catches_a_lost_file():
    """Per-day rates over the covered days: two thirds of a month's rows missing is a fail."""
    source = {"kind": "orders", "read": 100, "quarantined": 0, "quarantine_reasons": {},
              "rows_by_month": {"2026-09": 300, "2026-10": 100}, "first_record": "2026-01-01 10:00:00",
              "latest_record": "2026-10-31 20:00:00"}
    report = {"run_month": "2026-10", "sources": {"shop": source}}
    (drop,) = [c for c in quality.fitness(report).checks if c.limit == "month_drop"]
    assert drop.value == pytest.approx(1 - (100 / 31) / (300 / 30)) and drop.grade == "fail"


@pytest.mark.parametrize(
    ("text", "value"),
    [("$1,234.50", 1234.5), ("US$ 12", 12.0), ("12.5 USD", 12.5), ("RMB 30", 30.0), ("￥1,000元", 1000.0),
     ("€3", 3.0), ("£4.20", 4.2), ("-$5.00", -5.0), ("12x", None), ("abc", None)],
)
def test_amounts_in_any_currency(text, value):
    assert apply_sql(number_sql, [text]) == [value]


# --------------------------------------------------------------------------- anonymous receipts


def test_anonymous_receipts_in_any_orders_source(tmp_path):
    """Receipts with no identifier, or only a store's shared walk-in phone, are anonymous
    in a source of any name; a receipt with a phone of its own and an account are not."""
    walk_in = "13800000000"
    rows = [["R1", "", "2026-10-01 10:00", 5], ["R2", "13912345678", "2026-10-01 11:00", 6]]
    rows += [[f"W{i}", walk_in, f"2026-10-0{2 + i} 10:00", 7] for i in range(5)]
    store = csv_text(["order_id", "phone", "order_ts", "amount"], rows)
    shop = csv_text(["order_id", "shop_user_id", "order_ts", "amount"], [["S1", "U1", "2026-10-01 09:00", 9]])
    sources = {"store": {"kind": "orders", "path": "data/raw/store.csv"}, "shop": {"kind": "orders", "path": "data/raw/shop.csv"}}
    ingest(tmp_path, {"store.csv": store, "shop.csv": shop}, sources)
    ids = warehouse(tmp_path, "identities").set_index("source_id")
    anonymous = set(Warehouse(tmp_path / "data" / "warehouse").anonymous_receipts().execute()["customer_id"])
    expected = {ids.loc[r, "customer_id"] for r in ["R1", "W0", "W1", "W2", "W3", "W4"]}
    assert anonymous == expected
    assert ids.loc["R2", "keyed"] and not ids.loc["W0", "keyed"] and ids.loc["U1", "kind"] == "orders"


def test_anonymous_receipts_need_the_record_kinds(tmp_path):
    """Identities without ``kind`` / ``keyed`` (an older ingest) name no anonymous receipts."""
    pd.DataFrame({"source": ["pos"], "source_id": ["R1"], "customer_id": ["C1"], "rule": ["singleton"]}).to_parquet(
        tmp_path / "identities.parquet"
    )
    assert Warehouse(tmp_path).anonymous_receipts() is None


def test_contract_lists_every_kind_column():
    """docs/data_contract.md has a table per kind naming each canonical column."""
    from kit.ingest.kinds import KINDS

    text = (Path(__file__).parents[2] / "docs" / "data_contract.md").read_text(encoding="utf-8")
    for kind, spec in KINDS.items():
        section = re.search(rf"#### `{kind}`\n(.*?)(?=\n####|\n###|\Z)", text, re.S)
        assert section, kind
        for column in spec.columns:
            assert re.search(rf"\| `{column.name}` \| {'required' if column.required else 'optional'}", section.group(1)), (kind, column.name)


def test_quarantine_keeps_only_the_columns_the_kit_reads(tmp_path):
    """A column the config does not map (a second name column) never reaches the quarantine
    file: the file and line point to the whole record instead."""
    rows = [[f"S{i}", f"U{i}", "2026-10-01 10:00:00", 10 + i, f"Surname{i}"] for i in range(4)]
    rows[2][3] = "abc"  # text in the amount: quarantined
    ingest(tmp_path, {"shop.csv": csv_text(["order_id", "shop_user_id", "order_ts", "amount", "Last Name"], rows)},
           {"shop": {"kind": "orders", "path": "data/raw/shop.csv"}})
    quarantine = pd.read_parquet(tmp_path / "data" / "warehouse" / "quarantine" / "shop.parquet")
    assert list(quarantine["reason"]) == ["text_in_number"] and quarantine["line"].tolist() == [4]
    assert "Last Name" not in quarantine.columns and "Surname2" not in quarantine.astype(str).to_numpy().ravel()
    assert quarantine.loc[0, "amount"] == "abc" and quarantine.loc[0, "order_id"] == "S2"
