"""The pseudonymisation key (kit.ingest.identity): HMAC in SQL, where the key lives, and
that a copy of the warehouse alone cannot turn customer ids back into phone numbers."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import re
import stat
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from worlds import write_tiny_world

from kit.core.config import load_config
from kit.ingest import run_ingest
from kit.ingest.identity import (
    SEP,
    IdentityKey,
    IdentityKeyError,
    hash_sql,
    load_key,
    use_key,
)
from kit.ingest.normalize import normalize_phones
from kit.ingest.pipeline import REGISTRY

KEY = "0123456789abcdef0123456789abcdef-test-key"


@settings(max_examples=60, deadline=None)
@given(st.binary(min_size=1, max_size=150), st.text(max_size=60), st.integers(1, 64))
def test_sql_hmac_equals_python_hmac(secret, message, length):
    key = IdentityKey(secret, "test")
    con = duckdb.connect()
    use_key(con, key)
    sql = hash_sql(key, "$1", length)
    assert not re.search("[0-9a-f]{20,}", sql)  # no key pad in the queries: an error message cannot show it
    got = con.execute(f"SELECT {sql}", [message]).fetchall()[0][0]
    assert got == hmac.new(secret, message.encode("utf-8"), hashlib.sha256).hexdigest()[:length]


def test_first_ingest_creates_a_private_key_file_outside_the_warehouse(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("KIT_IDENTITY_KEY", raising=False)
    config = load_config(write_tiny_world(tmp_path))
    key = load_key(config)
    file = tmp_path / "secrets" / "identity.key"
    assert key.origin == str(file) and file.read_text().strip().encode() == key.secret
    assert len(key.secret) == 64 and stat.S_IMODE(file.stat().st_mode) == 0o600
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(file) in err and "back it up" in err
    assert load_key(config) == key and capsys.readouterr().err == ""  # created once
    assert not file.is_relative_to(config.resolve(config.paths.warehouse))
    monkeypatch.setenv("KIT_IDENTITY_KEY", KEY)
    assert load_key(config).secret == KEY.encode() and "KIT_IDENTITY_KEY" in load_key(config).origin
    monkeypatch.setenv("KIT_IDENTITY_KEY", "short")
    with pytest.raises(IdentityKeyError, match="at least 32"):
        load_key(config)
    monkeypatch.delenv("KIT_IDENTITY_KEY")
    inside = dataclasses.replace(config, identity=dataclasses.replace(config.identity, key_file=Path("data/warehouse/k")))
    with pytest.raises(IdentityKeyError, match="inside"):
        load_key(inside)


def test_a_warehouse_built_with_another_key_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("KIT_IDENTITY_KEY", KEY)
    config = load_config(write_tiny_world(tmp_path))
    run_ingest(config)
    ids = set(pd.read_parquet(tmp_path / "data" / "warehouse" / "customers.parquet")["customer_id"])
    run_ingest(config)  # same key: same ids
    assert set(pd.read_parquet(tmp_path / "data" / "warehouse" / "customers.parquet")["customer_id"]) == ids
    monkeypatch.setenv("KIT_IDENTITY_KEY", KEY.upper())
    with pytest.raises(IdentityKeyError, match=REGISTRY) as error:
        run_ingest(config)
    assert "Restore the key" in str(error.value) and KEY.upper() not in str(error.value)
    assert set(pd.read_parquet(tmp_path / "data" / "warehouse" / "customers.parquet")["customer_id"]) == ids


def _strings_in(folder: Path) -> set[str]:
    """Every text an attacker holding ``folder`` could try as a salt or key: the content,
    lines and words of every non-Parquet file and every short text value in the Parquet files."""
    found: set[str] = {""}
    for file in folder.rglob("*"):
        if not file.is_file():
            continue
        if file.suffix == ".parquet":
            frame = pd.read_parquet(file)
            for column in frame.columns:
                found |= {v for v in frame[column].dropna().astype("str") if len(v) <= 128}
        else:
            text = file.read_bytes().decode("utf-8", errors="replace")
            found |= {text, text.strip(), *text.splitlines(), *text.split()}
    return found


def test_the_warehouse_alone_does_not_reverse_phone_hashes(tmp_path, monkeypatch):
    """Hashing every phone of the world with any text found in the warehouse (the old
    ``identity_salt.txt`` scheme, or as an HMAC key) reproduces no registry hash."""
    monkeypatch.delenv("KIT_IDENTITY_KEY", raising=False)
    config = load_config(write_tiny_world(tmp_path))
    run_ingest(config)
    warehouse = config.resolve(config.paths.warehouse)
    registry = set(pd.read_parquet(warehouse / REGISTRY)["id_hash"])
    raw = config.resolve(config.paths.raw)
    phones = {
        p
        for file in raw.glob("*.csv")
        for p in normalize_phones([str(v) for v in pd.read_csv(file, dtype=str, encoding="gb18030" if "crm" in file.name else "utf-8-sig").stack()])
        if p
    }
    assert len(phones) == 3  # two customers' phones and the shared walk-in number
    messages = [f"kphone{SEP}{p}".encode() for p in phones]
    candidates = _strings_in(warehouse)
    assert len(candidates) > 50
    for candidate in candidates:
        salt = candidate.encode("utf-8", errors="replace")
        for message in messages:
            assert hashlib.sha256(salt + message).hexdigest()[:32] not in registry
            assert hmac.new(salt, message, hashlib.sha256).hexdigest()[:32] not in registry
    # the real key does reproduce them: the test hashes what the registry holds
    secret = load_key(config).secret
    assert any(hmac.new(secret, m, hashlib.sha256).hexdigest()[:32] in registry for m in messages)
