"""Company shapes (kit.demo.shapes): each writes its raw files in its company's own layout
and a config that loads; the month runs on them are tests/e2e/test_shapes.py."""

from __future__ import annotations

import re

import pandas as pd
import pytest
import yaml

from kit.core.config import load_config
from kit.demo.shapes import (
    BAD_LINE_NAME,
    COMPLAINT,
    END_MONTH,
    EVENT_VOCABULARY,
    SHAPES,
    US_OPENING,
    US_TIMEZONE,
    write_shape,
)

CUSTOMERS = 600


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    """Every shape written for a small world: name -> loaded config."""
    root = tmp_path_factory.mktemp("shapes")
    return {name: load_config(write_shape(name, root / name, customers=CUSTOMERS, seed=3)) for name in SHAPES}


def raw(config, source: str, **options) -> pd.DataFrame:
    return pd.read_csv(config.resolve(config.sources[source].path), dtype=str, keep_default_na=False, **options)


def test_every_shape_has_a_config_that_loads_and_points_at_its_files(shapes):
    for name, config in shapes.items():
        assert config.run.month == END_MONTH and config.root == config.source_file.parent
        assert config.resolve(config.paths.notebooks).joinpath("01_ingest.ipynb").is_file()
        assert config.resolve(config.features.tags_file).is_file()
        for source in config.sources.values():
            assert config.resolve(source.path).is_file(), (name, source.path)
            assert config.resolve(source.path).parent == config.resolve(config.paths.raw)


def test_same_seed_same_bytes(tmp_path):
    folders = [tmp_path / "a", tmp_path / "b", tmp_path / "c"]
    for folder, seed in zip(folders, (3, 3, 4)):
        write_shape("orders_only", folder, customers=CUSTOMERS, seed=seed)
    files = [(folder / "raw" / "orders.csv").read_bytes() for folder in folders]
    assert files[0] == files[1] != files[2]


def test_orders_only_is_one_dated_log_without_order_ids_or_experiments(shapes):
    config = shapes["orders_only"]
    assert list(config.sources) == ["orders"]
    log = raw(config, "orders")
    assert list(log.columns) == ["Customer", "Date", "Amount"]
    assert log["Date"].str.fullmatch(r"\d{4}-\d{2}-\d{2}").all()
    assert log["Customer"].str.fullmatch(r"\d{8}").all()
    assert log.duplicated().sum() > 0  # a few lines exported twice
    assert "experiments" not in yaml.safe_load(config.source_file.read_text(encoding="utf-8"))
    assert [p.name for p in config.resolve(config.paths.raw).iterdir()] == ["orders.csv"]


def test_member_store_links_orders_by_member_number_and_has_one_undecodable_crm_line(shapes):
    config = shapes["member_store"]
    crm = config.sources["members"]
    assert (crm.encoding, crm.on_bad_encoding) == ("gb18030", "quarantine")
    lines = config.resolve(crm.path).read_bytes().split(b"\n")
    undecodable = []
    for number, line in enumerate(lines, start=1):
        try:
            line.decode("gbk")
        except UnicodeDecodeError:
            undecodable.append(number)
    assert len(undecodable) == 1 and BAD_LINE_NAME in lines[undecodable[0] - 1]
    members = pd.read_csv(config.resolve(crm.path), dtype=str, keep_default_na=False, encoding="gb18030",
                          encoding_errors="replace")
    assert list(members.columns[:3]) == ["会员号", "姓名", "手机"]
    orders_path = config.resolve(config.sources["orders"].path)
    assert orders_path.read_bytes()[:3] == b"\xef\xbb\xbf"
    orders = raw(config, "orders", encoding="utf-8-sig")
    assert {"订单号", "会员号", "下单时间", "实付金额"} <= set(orders.columns) and "shop_user_id" not in orders.columns
    assert orders["会员号"].isin(members["会员号"]).all()  # a membership store: every order is a member's
    bad_member = lines[undecodable[0] - 1].split(b",")[0].decode()
    assert (orders["会员号"] == bad_member).any()  # the member still exists through their orders
    assignments = raw(config, "assignments")
    assert set(assignments["unit_type"]) == {"member"}


def test_app_events_speak_the_apps_own_vocabulary_without_surveys(shapes):
    config = shapes["app_events"]
    assert {s.kind for s in config.sources.values()} == {"app_users", "orders", "events", "assignments"}
    events, users, orders = raw(config, "events"), raw(config, "users"), raw(config, "orders")
    assert set(events["event"]) == {*EVENT_VOCABULARY.values(), COMPLAINT}
    assert not set(events["event"]) & {"visit", "view", "add_to_cart"}  # the demo's names for its signals
    assert events["user_id"].isin(users["user_id"]).all() and orders["user_id"].isin(users["user_id"]).all()
    assert set(raw(config, "assignments")["unit_type"]) == {"app_user"}


def test_us_store_starts_mid_month_in_utc_month_day_year(shapes):
    config = shapes["us_store"]
    assert (config.project.currency, config.project.timezone) == ("USD", US_TIMEZONE)
    assert config.sources["orders"].timezone == "UTC"
    orders, customers = raw(config, "orders"), raw(config, "customers")
    assert orders["Created At"].str.fullmatch(r"\d{2}/\d{2}/\d{4} \d{2}:\d{2}").all()
    utc = pd.to_datetime(orders["Created At"], format="%m/%d/%Y %H:%M").dt.tz_localize("UTC")
    local = utc.dt.tz_convert(US_TIMEZONE)
    opening = pd.Timestamp(US_OPENING, tz=US_TIMEZONE)
    first = local.min()
    assert opening <= first and (first.year, first.month) == (opening.year, opening.month) and first.day > 1
    assert pd.to_datetime(customers["Created At"], format="%m/%d/%Y").min() >= opening.tz_localize(None)
    assert (local.dt.hour != utc.dt.hour).all()  # written in UTC, not local time
    assert orders["Email"].isin(customers["Email"]).all() and customers["Email"].is_unique
    assert all(re.fullmatch(r"[a-z]+\.[a-z]+\d+@example\.com", e) for e in customers["Email"])
    catalogue = yaml.safe_load(config.resolve(config.experiments.catalog).read_text(encoding="utf-8"))
    assert catalogue == {"experiments": []}
