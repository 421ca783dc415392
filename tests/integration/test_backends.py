"""The warehouse's engine and table source come from the config (kit.core.backends).

The same features come out of the Parquet files and out of a catalog database holding
the same tables; a catalog without a table says where to load it; a backend that cannot be
reached says which setting to check. (Spark itself: tests/integration/test_spark_parity.py.)
"""

from __future__ import annotations

import dataclasses

import ibis
import pandas as pd
import pytest
from worlds import make_warehouse

from kit.core.backends import BackendError, connect
from kit.core.config import KitConfig, WarehouseConfig
from kit.core.warehouse import TABLES, Warehouse, WarehouseError
from kit.profile.features import build_features

MONTH = "2026-10"


def catalog_copy(root, database: str = "analytics") -> ibis.BaseBackend:
    """A DuckDB holding ``root``'s canonical tables in database (schema) ``database``."""
    con = connect(WarehouseConfig())
    con.create_database(database)
    for name in TABLES:
        path = root / f"{name}.parquet"
        if path.exists():
            con.create_table(name, con.read_parquet(path), database=database)
    return con


def test_features_from_the_catalog_equal_features_from_the_files(tmp_path):
    root = make_warehouse(tmp_path / "wh", n_customers=400, seed=4)
    from_files = Warehouse(root)
    from_catalog = Warehouse(tmp_path / "snapshots_only", catalog_copy(root), catalog="analytics")
    assert from_catalog.inputs() == from_files.inputs()
    config = KitConfig()
    left, right = build_features(from_files, MONTH, config), build_features(from_catalog, MONTH, config)
    pd.testing.assert_frame_equal(left.sort_values("customer_id", ignore_index=True),
                                  right.sort_values("customer_id", ignore_index=True))


def test_a_table_missing_from_the_catalog_says_where_to_load_it(tmp_path):
    con = connect(WarehouseConfig())
    con.create_database("analytics")
    wh = Warehouse(tmp_path, con, catalog="analytics")
    assert not wh.has_table("orders")
    with pytest.raises(WarehouseError, match=r"'orders' not found in database 'analytics' .*warehouse.catalog"):
        wh.table("orders")


def test_from_config_uses_the_configured_backend_and_catalog(tmp_path):
    config = dataclasses.replace(KitConfig(), warehouse=WarehouseConfig(catalog="analytics"))
    config = dataclasses.replace(config, paths=dataclasses.replace(config.paths, warehouse=tmp_path))
    wh = Warehouse.from_config(config)
    assert wh.con.name == "duckdb" and wh.catalog == "analytics" and wh.root == tmp_path


def test_an_unreachable_url_names_the_setting(tmp_path):
    with pytest.raises(BackendError, match=r"warehouse.url: could not connect .*Ibis extra"):
        connect(WarehouseConfig(backend="url", url="nosuchengine://host/db"))
