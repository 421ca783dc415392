"""A tiny hand-written raw world for the ingest tests (docs/data_contract.md, section 1).

``write_tiny_world(root)`` writes the seven raw demo files under
``root/data/raw/demo/`` with known people, known defects and their expected outcome,
plus ``root/config/kit.yml`` (the project's config with a low over-share threshold), and
returns the config path. ``TRUTH`` maps every record id to its true person.

People: P1 is everywhere (CRM, shop, POS, app, survey) under differently written phones
and e-mails; P2 is a member with a shop account; P3..P7 are walk-in shoppers whose POS
receipts carry the store's walk-in number 13800000000, which P3 also typed into the app
(5 records, one account: over-shared because the tiny world's thresholds are 3 accounts,
3 orphan records and 4 records in all). Defects: one exact duplicate shop row, one re-sent shop order
(paid, then refunded), one negative amount without refund, one text amount, one bad date,
mixed CRM date formats, one app event and one assignment of an unknown user, one NPS 11.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pandas as pd
import yaml

from kit.core.config import DEFAULT_CONFIG

WALK_IN = "13800000000"

CRM = [
    ["会员编号", "姓名", "手机号", "邮箱", "性别", "出生日期", "城市", "注册日期", "注册渠道"],
    ["M00000001", "张三", "138 0013 8001", "p1@example.com", "男", "1990年5月3日", "上海", "2024-01-05", "门店"],
    ["M00000002", "李四", "+86 139-0013-9002", " P2@Example.COM ", "女", "1985/12/1", "成都", "2024/2/1", "线上商城"],
    ["M00000008", "王五", "12345", "not-an-email", "", "bad date", "洛阳", "2024年3月9日", "APP"],
]
SHOP = [
    ["order_id", "shop_user_id", "phone", "order_time", "platform", "amount", "discount", "category", "items", "payment_method", "status"],
    ["S1", "U1", "+86-13800138001", "2024-03-01 10:00:00", "web", "128.50", "10", "beauty", "2", "alipay", "paid"],
    ["S1", "U1", "+86-13800138001", "2024-03-01 10:00:00", "web", "128.50", "10", "beauty", "2", "alipay", "paid"],
    ["S2", "U2", "13900139002", "2024-03-02 11:00:00", "app", "99.00", "0", "home", "1", "wechat_pay", "paid"],
    ["S3", "U1", "", "2024-04-01 09:30:00", "mini_program", "-20.00", "0", "food", "1", "alipay", "paid"],
    ["S4", "U2", "13900139002", "2024-04-02 12:00:00", "web", "12x", "0", "home", "1", "card", "paid"],
    ["S5", "U2", "13900139002", "2024-13-40 12:00:00", "web", "50", "0", "home", "1", "card", "paid"],
    ["S2", "U2", "13900139002", "2024-03-02 11:00:00", "app", "-99.00", "0", "home", "1", "wechat_pay", "refunded"],
]
POS = [
    ["receipt_id", "phone", "store_city", "amount", "category", "paid_at", "payment_method"],
    ["R1", "0086 13800138001", "上海", "30", "food", "05/03/2024 14:20", "cod"],
    ["R2", WALK_IN, "上海", "40", "food", "06/03/2024 15:00", "cod"],
    ["R3", WALK_IN, "上海", "41", "food", "06/03/2024 15:05", "card"],
    ["R4", WALK_IN, "成都", "42", "apparel", "07/03/2024 10:00", "cod"],
    ["R5", WALK_IN, "成都", "43", "apparel", "08/03/2024 10:00", "cod"],
    ["R6", "", "洛阳", "44", "books", "09/03/2024 10:00", "card"],
]
APP = [
    ["app_user_id", "phone", "email", "registered_at"],
    ["A1", "", "  P1@Example.com", "2024-01-10T08:00:00"],
    ["A3", WALK_IN, "p3@example.com", "2024-02-10T08:00:00"],
]
SURVEYS = [
    ["response_id", "member_id", "phone", "submitted_at", "nps", "csat"],
    ["V1", "M00000001", "", "2024-05-01 10:00", "9", "5"],
    ["V2", "", "139 0013 9002", "2024-05-02 10:00", "", "4"],
    ["V3", "", "", "2024-05-03 10:00", "11", "3"],
]
ASSIGNMENTS = [
    ["experiment_id", "unit_type", "unit_id", "variant", "assigned_at"],
    ["exp1", "member", "M00000001", "control", "2024-06-01 00:00:00"],
    ["exp1", "app_user", "A3", "coupon", "2024-06-01 00:00:00"],
    ["exp1", "member", "M99999999", "coupon", "2024-06-01 00:00:00"],
]
EVENTS = pd.DataFrame(
    {
        "app_user_id": ["A1", "A1", "A3", "A99"],
        "event_time": pd.to_datetime(["2024-03-01 09:00", "2024-03-01 09:05", "2024-03-02 10:00", "2024-03-03 10:00"]),
        "event_type": ["visit", "view", "add_to_cart", "visit"],
        "category": [None, "beauty", "food", None],
    }
)
TRUTH = pd.DataFrame(
    [
        ("crm", "M00000001", "P1"), ("crm", "M00000002", "P2"), ("crm", "M00000008", "P8"),
        ("shop", "U1", "P1"), ("shop", "U2", "P2"),
        ("pos", "R1", "P1"), ("pos", "R2", "P3"), ("pos", "R3", "P4"), ("pos", "R4", "P5"),
        ("pos", "R5", "P6"), ("pos", "R6", "P7"),
        ("app", "A1", "P1"), ("app", "A3", "P3"),
        ("survey", "V1", "P1"), ("survey", "V2", "P2"), ("survey", "V3", "P9"),
    ],
    columns=["source", "source_id", "person_id"],
)


def csv_bytes(rows: list[list[str]], encoding: str) -> bytes:
    """Rows as CSV text in ``encoding`` (``utf-8-sig`` writes the BOM)."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue().encode(encoding)


def write_tiny_world(root: Path, threshold: int = 3) -> Path:
    """Write the raw files and a config under ``root``; return the config path."""
    raw = root / "data" / "raw" / "demo"
    raw.mkdir(parents=True, exist_ok=True)
    (raw / "crm_members.csv").write_bytes(csv_bytes(CRM, "gb18030"))
    (raw / "shop_orders.csv").write_bytes(csv_bytes(SHOP, "utf-8"))
    (raw / "pos_orders.csv").write_bytes(csv_bytes(POS, "utf-8-sig"))
    (raw / "app_users.csv").write_bytes(csv_bytes(APP, "utf-8"))
    (raw / "surveys.csv").write_bytes(csv_bytes(SURVEYS, "utf-8"))
    (raw / "assignments.csv").write_bytes(csv_bytes(ASSIGNMENTS, "utf-8"))
    EVENTS.to_parquet(raw / "app_events.parquet", index=False)
    identity = {"overshared_threshold": threshold, "overshared_orphan_threshold": threshold, "overshared_total_threshold": threshold + 1}
    return write_config(root, {"identity": identity})


def write_config(root: Path, changes: dict) -> Path:
    """``root/config/kit.yml``: the project config with ``changes`` merged per section.

    ``sources`` is replaced as a whole, other sections are merged key by key.
    """
    data = yaml.safe_load(DEFAULT_CONFIG.read_text(encoding="utf-8"))
    for section, values in changes.items():
        if section != "sources" and isinstance(values, dict) and isinstance(data.get(section), dict):
            data[section] = {**data[section], **values}
        else:
            data[section] = values
    folder = root / "config"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "kit.yml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path
