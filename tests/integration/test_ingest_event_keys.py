"""Issue 17: events and experiment units linked by any identity key.

A company's web or app events may carry the member number, a customer number or an
e-mail instead of an app user id (``sources.<name>.keys`` on an events source, one key),
and its experiments may be randomised on any of those keys (``unit_type`` naming a key
type of ``identity.keys``). ``kit check`` follows the same rules.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml
from worlds import write_config, write_tiny_world

from kit.core.config import ConfigError, load_config
from kit.ingest import IngestError, run_ingest
from kit.onboard import check_config

CRM = [
    ["member_id", "客户号", "email", "registered_at"],
    ["M1", "CN-0001", "Ann@Example.com", "2025-01-01"],
    ["M2", "CN-0002", "bob@example.com", "2025-01-02"],
    ["M3", "CN-0003", "", "2025-01-03"],
]
CRM_SOURCE = {"kind": "customers", "path": "data/raw/crm.csv", "columns": {"客户号": "customer_no"},
              "keys": {"member_id": "member_id", "customer_no": "customer_no", "email": "email"}}
IDENTITY = {"keys": ["member_id", "customer_no", "phone", "email", "app_user_id"],
            "account_keys": ["member_id", "customer_no", "app_user_id"]}
EVENT_HEADER = ["who", "ts", "event"]


def csv_text(rows: list[list[object]]) -> str:
    return "\n".join(",".join(map(str, r)) for r in rows) + "\n"


def ingest(root: Path, files: dict[str, str], sources: dict, identity: dict | None = None):
    raw = root / "data" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (raw / name).write_text(text, encoding="utf-8")
    return run_ingest(load_config(write_config(root, {"sources": sources, "identity": identity or IDENTITY})))


def table(root: Path, name: str) -> pd.DataFrame:
    return pd.read_parquet(root / "data" / "warehouse" / f"{name}.parquet")


def member_ids(root: Path) -> dict[str, str]:
    """member id -> customer id."""
    ids = table(root, "identities")
    return dict(ids.loc[ids["source"] == "crm", ["source_id", "customer_id"]].to_numpy())


def events_source(key_column: str, key_type: str) -> dict:
    return {"kind": "events", "path": "data/raw/web.csv", "columns": {"who": key_column, "ts": "event_ts", "event": "event_type"},
            "keys": {key_column: key_type}}


def in_row_order(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows sorted on every column: events are written in scan order (no ORDER BY, see
    ``kit.ingest.pipeline.ORDER_BY``), which a parallel join may change from run to run."""
    return frame.sort_values(list(frame.columns), ignore_index=True, kind="stable")


def quarantine(root: Path, name: str) -> pd.DataFrame:
    return pd.read_parquet(root / "data" / "warehouse" / "quarantine" / f"{name}.parquet")


# --------------------------------------------------------------------------- events


def test_events_carrying_the_member_number_link_to_members(tmp_path):
    """Web events with the member number (and an app user id column that is not read):
    each event is its member's; an unknown member number is quarantined naming the key
    column, a blank one too."""
    events = [[*EVENT_HEADER, "app_user_id"],
              ["M1", "2026-10-01 10:00:00", "visit", "A1"], [" M1 ", "2026-10-02 11:00:00", "view", ""],
              ["M2", "2026-10-03 12:00:00", "visit", ""], ["M9", "2026-10-04 13:00:00", "visit", "A9"],
              ["", "2026-10-05 14:00:00", "visit", ""]]
    result = ingest(tmp_path, {"crm.csv": csv_text(CRM), "web.csv": csv_text(events)},
                    {"crm": CRM_SOURCE, "web": events_source("member_id", "member_id")})
    members = member_ids(tmp_path)
    linked = table(tmp_path, "events").sort_values("event_ts")
    assert linked["customer_id"].tolist() == [members["M1"], members["M1"], members["M2"]]
    assert linked["event_type"].tolist() == ["visit", "view", "visit"] and linked["has_time"].all()
    stats = result.sources["web"]
    assert (stats.read, stats.loaded, stats.quarantined) == (5, 3, 2)
    assert stats.quarantine_detail == [{"reason": "missing_value", "column": "member_id", "rows": 1},
                                       {"reason": "unknown_key", "column": "member_id", "rows": 1}]
    held = quarantine(tmp_path, "web").set_index("reason")
    assert held.loc["unknown_key", "member_id"] == "M9" and "app_user_id" not in held.columns
    assert len(table(tmp_path, "customers")) == 3  # events are not identity records: no customer of their own


def test_events_carrying_a_customer_number_link_through_the_custom_key(tmp_path):
    """A custom key (customer_no) mapped from the file's own header; the customer's first
    event counts towards first_seen as an app user's does."""
    events = [EVENT_HEADER, ["CN-0002", "2024-06-01 09:30:00", "visit"], ["CN-0003 ", "2026-10-02 10:00:00", "search"]]
    ingest(tmp_path, {"crm.csv": csv_text(CRM), "web.csv": csv_text(events)},
           {"crm": CRM_SOURCE, "web": events_source("customer_no", "customer_no")})
    members = member_ids(tmp_path)
    linked = table(tmp_path, "events")
    assert sorted(linked["customer_id"]) == sorted([members["M2"], members["M3"]])
    customers = table(tmp_path, "customers").set_index("customer_id")
    assert customers.loc[members["M2"], "first_seen"] == pd.Timestamp("2024-06-01 09:30:00")
    assert customers.loc[members["M3"], "first_seen"] == pd.Timestamp("2025-01-03")
    for name in ("events", "customers", "identities"):
        assert not table(tmp_path, name).astype("str").apply(lambda c: c.str.contains("CN-000")).any().any(), name


def test_events_carrying_an_e_mail_are_normalised_and_masked(tmp_path):
    """E-mails are compared as the CRM's are (trimmed, lower case); an e-mail that does not
    parse or that no customer carries is quarantined with the address masked, and no
    e-mail leaves ingest."""
    events = [EVENT_HEADER, [" ANN@example.COM ", "2026-10-01 10:00:00", "visit"], ["bob@example.com", "2026-10-02 10:00:00", "visit"],
              ["carol@example.com", "2026-10-03 10:00:00", "visit"], ["not-an-address", "2026-10-04 10:00:00", "visit"]]
    result = ingest(tmp_path, {"crm.csv": csv_text(CRM), "web.csv": csv_text(events)},
                    {"crm": CRM_SOURCE, "web": events_source("email", "email")})
    members = member_ids(tmp_path)
    assert sorted(table(tmp_path, "events")["customer_id"]) == sorted([members["M1"], members["M2"]])
    assert result.sources["web"].quarantine_reasons == {"unknown_key": 2}
    held = quarantine(tmp_path, "web")
    assert set(held["column"]) == {"email"} and "c***@example.com" in set(held["email"])
    for file in (tmp_path / "data" / "warehouse").glob("*.parquet"):
        assert not pd.read_parquet(file).astype("str").apply(lambda c: c.str.contains("@")).any().any(), file.name


def test_events_carrying_a_phone_number_are_normalised(tmp_path):
    """A phone written with a country prefix and separators matches the CRM's plain number."""
    crm = [["member_id", "phone", "registered_at"], ["M1", "13800138000", "2025-01-01"]]
    events = [EVENT_HEADER, ["+86 138-0013-8000", "2026-10-01 10:00:00", "visit"], ["12345", "2026-10-02 10:00:00", "visit"]]
    result = ingest(tmp_path, {"crm.csv": csv_text(crm), "web.csv": csv_text(events)},
                    {"crm": {"kind": "customers", "path": "data/raw/crm.csv"}, "web": events_source("phone", "phone")})
    assert table(tmp_path, "events")["customer_id"].tolist() == [member_ids(tmp_path)["M1"]]
    assert result.sources["web"].quarantine_detail == [{"reason": "unknown_key", "column": "phone", "rows": 1}]


def test_a_declared_event_key_missing_from_the_file_stops_ingest(tmp_path):
    events = [["app_user_id", "ts", "event"], ["A1", "2026-10-01 10:00:00", "visit"]]
    source = {"kind": "events", "path": "data/raw/web.csv", "columns": {"ts": "event_ts", "event": "event_type"},
              "keys": {"member_id": "member_id"}}
    with pytest.raises(IngestError) as error:
        ingest(tmp_path, {"crm.csv": csv_text(CRM), "web.csv": csv_text(events)}, {"crm": CRM_SOURCE, "web": source})
    message = str(error.value)
    assert "identity key column(s) 'member_id' declared under sources.web.keys are not in the file" in message
    assert "data/raw/web.csv" in message and "Columns found: app_user_id, event_ts, event_type" in message


def test_an_event_key_cannot_be_one_of_the_events_own_columns(tmp_path):
    """keys: {category: member_id} would read the category as the customer and write the
    member number as the category: ingest and kit check stop instead."""
    events = [["member_id", "ts", "event", "category"], ["M1", "2026-10-01 10:00:00", "view", "shoes"]]
    source = {"kind": "events", "path": "data/raw/web.csv", "columns": {"ts": "event_ts", "event": "event_type"},
              "keys": {"category": "member_id"}}
    files, sources = {"crm.csv": csv_text(CRM), "web.csv": csv_text(events)}, {"crm": CRM_SOURCE, "web": source}
    with pytest.raises(IngestError, match=r"sources\.web\.keys names the events' own column 'category'"):
        ingest(tmp_path / "a", files, sources)
    report = check(tmp_path / "b", files, sources)
    assert any("sources.web.keys names the events' own column 'category'" in p for p in report.problems)


def test_events_without_keys_still_need_app_user_ids(tmp_path):
    events = [["member_id", "ts", "event"], ["M1", "2026-10-01 10:00:00", "visit"]]
    source = {"kind": "events", "path": "data/raw/web.csv", "columns": {"ts": "event_ts", "event": "event_type"}}
    with pytest.raises(IngestError, match=r"required column\(s\) 'app_user_id' missing"):
        ingest(tmp_path, {"crm.csv": csv_text(CRM), "web.csv": csv_text(events)}, {"crm": CRM_SOURCE, "web": source})


def test_declaring_the_default_event_key_changes_nothing(tmp_path, monkeypatch):
    """keys: {app_user_id: app_user_id} on the tiny world's events gives the same tables."""
    monkeypatch.setenv("KIT_IDENTITY_KEY", "event-key-test-key-0123456789abcdef")
    tables = {}
    for label in ("default", "declared"):
        root = tmp_path / label
        file = write_tiny_world(root)
        if label == "declared":
            config = yaml.safe_load(file.read_text(encoding="utf-8"))
            config["sources"]["app_events"]["keys"] = {"app_user_id": "app_user_id"}
            file.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
        result = run_ingest(load_config(file))
        tables[label] = (in_row_order(table(root, "events")), table(root, "customers"),
                         result.sources["app_events"].quarantine_reasons)
    pd.testing.assert_frame_equal(tables["default"][0], tables["declared"][0])
    pd.testing.assert_frame_equal(tables["default"][1], tables["declared"][1])
    assert tables["default"][2] == tables["declared"][2] == {"unknown_app_user_id": 1}


def test_event_key_config_checks(tmp_path):
    """One key on events; none on assignments; every key type listed in identity.keys."""
    two = {"kind": "events", "path": "x", "keys": {"member_id": "member_id", "email": "email"}}
    with pytest.raises(ConfigError) as error:
        load_config(write_config(tmp_path, {"sources": {"web": two}}))
    message = str(error.value)
    assert "sources.web.keys declares 2 keys (member_id, email)" in message
    assert "Keep only the column that names the customer" in message and "keys: {member_id: member_id}" in message
    assignments = {"kind": "assignments", "path": "x", "keys": {"unit_id": "member_id"}}
    with pytest.raises(ConfigError, match=r"sources\.ab\.keys: a source of kind assignments declares no identity keys"):
        load_config(write_config(tmp_path, {"sources": {"ab": assignments}}))
    with pytest.raises(ConfigError, match=r"key type 'customer_no' is not in identity\.keys"):
        load_config(write_config(tmp_path, {"sources": {"web": events_source("customer_no", "customer_no")}}))
    config = load_config(write_config(tmp_path, {"sources": {"web": events_source("member_id", "member_id")}}))
    assert config.sources["web"].keys == {"member_id": "member_id"}


# --------------------------------------------------------------------------- experiment units

ASSIGNMENT_HEADER = ["experiment_id", "unit_type", "unit_id", "variant", "assigned_ts"]


def test_experiment_units_named_by_any_listed_key_type(tmp_path):
    """Units named by a customer number, an e-mail (normalised) or a member number link to
    their customer; the aliases member / app_user still work; a unit type naming no key is
    quarantined."""
    rows = [ASSIGNMENT_HEADER,
            ["e1", "customer_no", "CN-0001", "a", "2026-10-01 10:00:00"],
            ["e1", "Customer_No", "CN-0002", "b", "2026-10-01 10:00:00"],
            ["e2", "email", " BOB@example.com ", "a", "2026-10-01 10:00:00"],
            ["e3", "member_id", "M3", "a", "2026-10-01 10:00:00"],
            ["e4", "member", "M1", "b", "2026-10-01 10:00:00"],
            ["e5", "device", "D1", "a", "2026-10-01 10:00:00"],
            ["e5", "customer_no", "CN-0404", "b", "2026-10-01 10:00:00"]]
    source = {"kind": "assignments", "path": "data/raw/ab.csv"}
    result = ingest(tmp_path, {"crm.csv": csv_text(CRM), "ab.csv": csv_text(rows)}, {"crm": CRM_SOURCE, "ab": source})
    members = member_ids(tmp_path)
    units = table(tmp_path, "assignments").set_index(["experiment_id", "variant"])
    assert units["customer_id"].to_dict() == {
        ("e1", "a"): members["M1"], ("e1", "b"): members["M2"], ("e2", "a"): members["M2"],
        ("e3", "a"): members["M3"], ("e4", "b"): members["M1"]}
    assert units.loc[("e1", "b"), "unit_type"] == "customer_no"  # cleaned lower case
    assert result.sources["ab"].quarantine_reasons == {"unknown_unit": 2}
    assert sorted(quarantine(tmp_path, "ab")["unit_id"]) == ["CN-0404", "D1"]


# --------------------------------------------------------------------------- kit check


def check(root: Path, files: dict[str, str], sources: dict, identity: dict | None = None):
    raw = root / "data" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (raw / name).write_text(text, encoding="utf-8")
    changes = {"sources": sources, "identity": identity or IDENTITY, "run": {"month": "2026-10"}}
    return check_config(load_config(write_config(root, changes)))


EVENTS = [EVENT_HEADER, ["M1", "2026-10-01 10:00:00", "visit"], ["M2", "2026-10-02 10:00:00", "view"]]


def test_check_accepts_events_linked_by_a_declared_key(tmp_path):
    report = check(tmp_path, {"crm.csv": csv_text(CRM), "web.csv": csv_text(EVENTS)},
                   {"crm": CRM_SOURCE, "web": events_source("member_id", "member_id")})
    assert report.ok, report.problems
    text = "\n".join(report.lines)
    assert "identity key member_id (column member_id): 2 distinct values" in text
    assert "app_user_id" not in text


def test_check_stops_when_the_declared_event_key_reaches_no_customer(tmp_path):
    crm = {**CRM_SOURCE, "keys": {"member_id": "member_id"}}
    report = check(tmp_path, {"crm.csv": csv_text(CRM), "web.csv": csv_text(EVENTS)},
                   {"crm": crm, "web": events_source("customer_no", "customer_no")})
    assert not report.ok
    assert any("events of source 'web' link to customers through customer_no" in p
               and "every event would be quarantined (unknown_key)" in p for p in report.problems)
    missing = check(tmp_path / "b", {"crm.csv": csv_text(CRM), "web.csv": csv_text(EVENTS)},
                    {"crm": CRM_SOURCE, "web": {**events_source("member_id", "member_id"), "columns": {"ts": "event_ts", "event": "event_type"}}})
    assert [p for p in missing.problems if "member_id" in p] == [
        "source 'web': identity key column 'member_id' (keys: member_id: member_id) is not in the file. Headers "
        "found: who, event_ts, event_type. Map its header to member_id under sources.web.columns."]


def test_check_accepts_units_named_by_any_listed_key_type(tmp_path):
    rows = [ASSIGNMENT_HEADER, ["e1", "customer_no", "CN-0001", "a", "2026-10-01 10:00:00"],
            ["e1", "email", "ann@example.com", "b", "2026-10-01 10:00:00"]]
    files = {"crm.csv": csv_text(CRM), "ab.csv": csv_text(rows)}
    report = check(tmp_path, files, {"crm": CRM_SOURCE, "ab": {"kind": "assignments", "path": "data/raw/ab.csv"}})
    assert report.ok, report.problems
    crm = {**CRM_SOURCE, "keys": {"member_id": "member_id"}}
    report = check(tmp_path / "b", files, {"crm": crm, "ab": {"kind": "assignments", "path": "data/raw/ab.csv"}})
    assert sorted(p for p in report.problems if "experiment units" in p) == [
        "experiment units of type customer_no cannot reach a customer: no customers / app_users / orders / surveys "
        "source carries a customer_no key (their rows would be quarantined as unknown_unit)",
        "experiment units of type email cannot reach a customer: no customers / app_users / orders / surveys "
        "source carries a email key (their rows would be quarantined as unknown_unit)"]
