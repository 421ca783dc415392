"""Ingest's parse cache (kit/ingest/cache.py): unchanged files are not parsed again, and a
run from the cache writes the same warehouse as a full rebuild from an empty cache."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml
from worlds import CRM, SHOP, csv_bytes, demo_world, write_config, write_tiny_world

from kit.core.config import ConfigError, KitConfig, load_config
from kit.ingest import cache, run_ingest
from kit.ingest.pipeline import ORDER_BY, IngestResult

# tables whose rows ingest writes in a defined order: compared as written, not sorted
ORDERED = {f"{name}.parquet" for name, order in ORDER_BY.items() if order} | {"quarantine"}
LONG_AGO_NS = 1_600_000_000 * 10**9  # 2020: files older than the hashing, so the registry's shortcut applies


def warehouse(config: KitConfig) -> dict[str, pd.DataFrame]:
    """Every Parquet file of the warehouse by relative path; rows sorted, except in the
    tables ingest writes in a defined order (``ORDERED``), which must match as written."""
    folder = config.resolve(config.paths.warehouse)
    tables = {}
    for file in sorted(folder.rglob("*.parquet")):
        name = file.relative_to(folder).as_posix()
        frame = pd.read_parquet(file)
        if name not in ORDERED and name.split("/")[0] not in ORDERED:
            frame = frame.iloc[frame.astype("str").sort_values(list(frame.columns)).index].reset_index(drop=True)
        tables[name] = frame
    return tables


def report(config: KitConfig) -> dict:
    """ingest_report.json without what differs between equal runs: the time, the file reads
    and whether the identity registry existed before (a second run is not a first run)."""
    text = (config.resolve(config.paths.warehouse) / "ingest_report.json").read_text(encoding="utf-8")
    data = json.loads(text)
    data.pop("generated_at")
    data["identity"].pop("first_run")
    data["identity"]["linkage"].pop("seconds", None)
    for source in data["sources"].values():
        source.pop("file_reads")
    return data


def assert_same_warehouse(left: KitConfig, right: KitConfig) -> None:
    """The two configs' warehouses hold the same tables, rows and report figures."""
    first, second = warehouse(left), warehouse(right)
    assert first.keys() == second.keys()
    for name in first:
        pd.testing.assert_frame_equal(first[name], second[name], obj=name)
    assert report(left) == report(right)


def reads(result: IngestResult, how: str) -> dict[str, int]:
    """Files read by ``how`` (parsed, reused, in_place), per source."""
    return {name: stats.file_reads[how] for name, stats in result.sources.items()}


def entries(config: KitConfig) -> list[Path]:
    """The cache entries (one per cached raw file)."""
    return sorted(config.resolve(config.paths.ingest_cache).glob("*/*.parquet"))


def at_month(config: KitConfig, month: str) -> KitConfig:
    return dataclasses.replace(config, run=dataclasses.replace(config.run, month=month))


# --------------------------------------------------------------------------- a world with monthly files

CRM_SOURCE = {
    "kind": "customers", "path": "data/raw/crm_members.csv",
    "columns": {"会员编号": "member_id", "姓名": "name", "手机号": "phone", "邮箱": "email", "性别": "gender",
                "出生日期": "birth_date", "城市": "city", "注册日期": "registered_at", "注册渠道": "signup_channel"},
    "timestamp_formats": ["%Y-%m-%d", "%Y/%m/%d", "%Y年%m月%d日"],
}
SHOP_SOURCE = {
    "kind": "orders", "path": "data/raw/shop/orders_*.csv", "on_bad_encoding": "quarantine",
    "columns": {"order_time": "order_ts"}, "timestamp_formats": ["%Y-%m-%d %H:%M:%S"],
}
HEADER = ",".join(SHOP[0]) + "\n"
MONTHS = {  # the tiny world's shop orders by month, with a malformed and an undecodable line in March
    "2024-03": "".join(",".join(r) + "\n" for r in (SHOP[1], SHOP[2], SHOP[3], SHOP[7]))
    + 'S7,U1,"13800138001,2024-03-09 10:00:00,web,1,0,food,1,alipay,paid\n',
    "2024-04": "".join(",".join(r) + "\n" for r in SHOP[4:7]),
    "2024-05": "S8,U1,13800138001,2024-05-03 10:00:00,web,30,0,food,1,alipay,paid\n"
    "S9,U2,13900139002,2024-05-04 10:00:00,app,40,0,home,2,card,paid\n",
}


def write_month(root: Path, month: str) -> Path:
    """Write the shop orders of ``month`` as ``data/raw/shop/orders_<month>.csv``."""
    folder = root / "data" / "raw" / "shop"
    folder.mkdir(parents=True, exist_ok=True)
    data = (HEADER + MONTHS[month]).encode("utf-8")
    if month == "2024-03":
        data += "S9,U2,13900139002,2024-03-10 10:00:00,web,5,0,food,1,card,paid\n".encode("utf-8").replace(b"web", b"w\xffb")
    (folder / f"orders_{month}.csv").write_bytes(data)
    return folder / f"orders_{month}.csv"


def monthly_world(root: Path, months: tuple[str, ...]) -> KitConfig:
    """The tiny world's CRM (GB18030) and its shop orders in one file per month of ``months``."""
    (root / "data" / "raw").mkdir(parents=True, exist_ok=True)
    (root / "data" / "raw" / "crm_members.csv").write_bytes(csv_bytes(CRM, "gb18030"))
    for month in months:
        write_month(root, month)
    config = load_config(write_config(root, {"sources": {"crm": CRM_SOURCE, "shop": SHOP_SOURCE}}))
    return at_month(config, months[-1])


# --------------------------------------------------------------------------- tests


def test_a_second_ingest_parses_nothing_and_writes_the_same_warehouse(tmp_path):
    config = demo_world(tmp_path)  # 2,500 people; the probabilistic linkage (most of the time) is not what is tested
    identity = dataclasses.replace(config.identity, matching=dataclasses.replace(config.identity.matching, enabled=False))
    config = dataclasses.replace(config, identity=identity)
    first = run_ingest(config)
    assert sum(reads(first, "reused").values()) == 0
    before = warehouse(config), report(config)
    second = run_ingest(config)
    assert sum(reads(second, "parsed").values()) == 0
    assert reads(second, "reused") == {name: 0 if name == "app_events" else 1 for name in config.sources}
    assert reads(second, "in_place") == {name: int(name == "app_events") for name in config.sources}
    after = warehouse(config)
    assert before[0].keys() == after.keys()
    for name in after:
        pd.testing.assert_frame_equal(before[0][name], after[name], obj=name)
    assert before[1] == report(config)
    assert second.report["sources"]["shop"]["file_reads"] == {"parsed": 0, "reused": 1, "in_place": 0}


def test_only_new_and_changed_files_are_parsed_and_the_result_equals_a_full_rebuild(tmp_path):
    incremental = monthly_world(tmp_path / "incremental", ("2024-03", "2024-04"))
    first = run_ingest(incremental)
    assert reads(first, "parsed") == {"crm": 1, "shop": 2}
    assert first.sources["shop"].quarantine_reasons["unbalanced_quote"] == 1
    assert first.sources["shop"].quarantine_reasons["undecodable_bytes"] == 1
    # a month later: a new month's orders, and the CRM export has one more member
    incremental = at_month(incremental, "2024-05")
    write_month(tmp_path / "incremental", "2024-05")
    crm = CRM + [["M00000011", "孙八", "13700137009", "", "女", "", "北京", "2024-05-01", "门店"]]
    (tmp_path / "incremental" / "data" / "raw" / "crm_members.csv").write_bytes(csv_bytes(crm, "gb18030"))
    shutil.copytree(tmp_path / "incremental", tmp_path / "full")
    shutil.rmtree(tmp_path / "full" / "data" / "ingest_cache")
    full = at_month(load_config(tmp_path / "full" / "config" / "kit.yml"), "2024-05")

    second = run_ingest(incremental)
    assert reads(second, "parsed") == {"crm": 1, "shop": 1} and reads(second, "reused") == {"crm": 0, "shop": 2}
    rebuilt = run_ingest(full)
    assert reads(rebuilt, "parsed") == {"crm": 1, "shop": 3}
    assert_same_warehouse(incremental, full)
    assert second.sources["shop"].quarantine_detail == rebuilt.sources["shop"].quarantine_detail
    registry = pd.read_parquet(tmp_path / "incremental" / "data" / "ingest_cache" / "registry.parquet")
    seen = dict(zip(registry["path"], registry["first_seen"]))
    assert seen == {
        "data/raw/crm_members.csv": "2024-05",  # changed: its content is first seen now
        "data/raw/shop/orders_2024-03.csv": "2024-04",
        "data/raw/shop/orders_2024-04.csv": "2024-04",
        "data/raw/shop/orders_2024-05.csv": "2024-05",
    }
    assert set(registry["last_used"]) == {"2024-05"}
    assert len(entries(incremental)) == 4  # the CRM's old entry was pruned


def test_a_changed_columns_mapping_invalidates_that_sources_cache(tmp_path):
    config_file = write_tiny_world(tmp_path)
    run_ingest(load_config(config_file))
    old = {p.name for p in entries(load_config(config_file))}
    data = yaml.safe_load(config_file.read_text(encoding="utf-8"))
    data["sources"]["shop"]["columns"]["platform"] = "platform"  # maps a header to the name it had: same rows
    config_file.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    config = load_config(config_file)
    before = warehouse(config)
    result = run_ingest(config)
    assert reads(result, "parsed") == {name: int(name == "shop") for name in config.sources}
    assert {p.name for p in entries(config)} - old == {p.name for p in entries(config) if p.parent.name == "shop"}
    assert len(entries(config)) == len(old)  # the shop's entry under the old mapping was pruned
    for name, frame in warehouse(config).items():
        pd.testing.assert_frame_equal(before[name], frame, obj=name)


def test_a_damaged_cache_entry_is_parsed_again_without_losing_rows(tmp_path):
    config = monthly_world(tmp_path, ("2024-03", "2024-04"))
    first = run_ingest(config)
    before = warehouse(config), report(config)
    damaged = next(p for p in entries(config) if p.parent.name == "shop")
    damaged.write_bytes(damaged.read_bytes()[: damaged.stat().st_size // 2])
    second = run_ingest(config)
    assert reads(second, "parsed") == {"crm": 0, "shop": 1} and reads(second, "reused") == {"crm": 1, "shop": 1}
    assert second.sources["shop"].read == first.sources["shop"].read
    after = warehouse(config)
    for name in after:
        pd.testing.assert_frame_equal(before[0][name], after[name], obj=name)
    assert before[1] == report(config)
    assert run_ingest(config).sources["shop"].file_reads["parsed"] == 0  # the entry was written again


def test_the_content_hash_not_the_file_times_identifies_a_file(tmp_path, monkeypatch):
    """Unchanged files keep their hash (size and times as written down); a file rewritten
    with other bytes of the same size and its old modification time is hashed and parsed."""
    config = monthly_world(tmp_path, ("2024-03", "2024-04"))
    files = [tmp_path / "data" / "raw" / "crm_members.csv", *sorted((tmp_path / "data" / "raw" / "shop").glob("*.csv"))]
    for file in files:
        os.utime(file, ns=(LONG_AGO_NS, LONG_AGO_NS))
    run_ingest(config)
    hashed = []
    monkeypatch.setattr(cache, "file_fingerprint", lambda path: hashed.append(path.name) or "0" * 64)
    assert sum(reads(run_ingest(config), "parsed").values()) == 0
    assert hashed == []
    monkeypatch.undo()
    april = files[-1]
    april.write_bytes(april.read_bytes().replace(b"S4,U2", b"S6,U2"))
    os.utime(april, ns=(LONG_AGO_NS, LONG_AGO_NS))
    assert reads(run_ingest(config), "parsed") == {"crm": 0, "shop": 1}


def test_the_cache_may_not_lie_in_the_warehouse(tmp_path):
    config_file = write_config(tmp_path, {"paths": {"ingest_cache": "data/warehouse/cache"}})
    with pytest.raises(ConfigError, match="paths.ingest_cache .* lies inside paths.warehouse"):
        load_config(config_file)
