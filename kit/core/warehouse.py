"""The canonical warehouse: Parquet tables under ``paths.warehouse``, read through Ibis.

Row-level work (orders, events) goes through Ibis, on DuckDB by default or on the engine
``warehouse.backend`` names (``kit.core.backends``: Spark, or any Ibis backend by URL), so the
same expressions run where the data is. The tables are read from the Parquet files below,
or from a database of the engine's catalog (``warehouse.catalog``) holding tables of the
same names and columns. Customer-grain results come back to pandas once.

Layout of one generation (the data contract, also in README.md; ``kit.core.generations`` keeps
the generations of ``paths.warehouse``, and a flat folder is read as one generation):
    <warehouse>/customers.parquet, identities.parquet, orders.parquet, events.parquet,
    surveys.parquet, assignments.parquet           canonical tables written by ingest
    <warehouse>/quarantine/<source>.parquet         rejected rows with the reason
    <warehouse>/snapshots/<YYYY-MM>/*.parquet       profile, segments, clv, churn per month
    <warehouse>/snapshots/<YYYY-MM>/metrics/*.json  headline figures per notebook
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import ibis
import pandas as pd
from ibis.common.exceptions import TableNotFound

from kit.core.atomic import atomic_path
from kit.core.backends import connect, materialise
from kit.core.config import KitConfig, WarehouseConfig
from kit.core.dates import check_month
from kit.core.generations import current_dir
from kit.core.inputs import TABLES as INPUT_TABLES
from kit.core.inputs import Inputs

TABLES = ("customers", "identities", "orders", "events", "surveys", "subscriptions", "assignments")


class WarehouseError(FileNotFoundError):
    """A warehouse table or snapshot is missing: the message says which step produces it."""


class DamagedFileError(WarehouseError):
    """A warehouse file exists but cannot be read as Parquet (truncated, overwritten)."""


def with_warehouse(config: KitConfig, folder: Path) -> KitConfig:
    """``config`` with ``paths.warehouse`` set to ``folder`` (a run's generation)."""
    return dataclasses.replace(config, paths=dataclasses.replace(config.paths, warehouse=Path(folder)))


def _damaged(path: Path, exc: Exception) -> DamagedFileError:
    """The error for a Parquet file that exists but does not read."""
    reason = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
    return DamagedFileError(
        f"{path} is not a readable Parquet file ({reason}). It is damaged, for example truncated by a "
        "full disk or a copy that did not finish: re-run the month (kit run) to rebuild it, or restore "
        "the warehouse from a backup."
    )


class Warehouse:
    """Access to the canonical tables and the monthly snapshots of one project."""

    def __init__(self, root: Path | str, con: ibis.BaseBackend | None = None, catalog: str = "") -> None:
        """``root``: the generation folder (snapshots, reports, and the tables unless
        ``catalog``); ``con``: the engine (an embedded DuckDB when None); ``catalog``: the
        engine's database holding the canonical tables, empty to read ``root``'s files."""
        self.root = Path(root)
        self.con = con if con is not None else connect(WarehouseConfig())
        self.catalog = catalog
        self._inputs: Inputs | None = None

    @classmethod
    def from_config(cls, config: KitConfig) -> "Warehouse":
        """The warehouse named by ``paths.warehouse`` (its current generation, or the flat
        folder) on the engine ``warehouse`` names."""
        settings = config.warehouse
        return cls(current_dir(config.resolve(config.paths.warehouse)), connect(settings), settings.catalog)

    def table_path(self, name: str) -> Path:
        """Where canonical table ``name`` lives."""
        if name not in TABLES:
            raise ValueError(f"unknown warehouse table {name!r}; known tables: {', '.join(TABLES)}")
        return self.root / f"{name}.parquet"

    def has_table(self, name: str) -> bool:
        """Whether canonical table ``name`` exists (in the catalog, or as a file)."""
        if self.catalog:
            # asking for the table, not list_tables(): ibis 12's listing calls a method DuckDB 2 removed
            try:
                self.con.table(name, database=self.catalog)
            except TableNotFound:
                return False
            return True
        return self.table_path(name).exists()

    def table(self, name: str) -> ibis.Table:
        """Canonical table ``name`` as a lazy Ibis table."""
        path = self.table_path(name)
        if self.catalog:
            if not self.has_table(name):
                raise WarehouseError(
                    f"warehouse table {name!r} not found in database {self.catalog!r} of the {self.con.name} "
                    "backend (warehouse.catalog). Load the canonical tables there (README, Scaling out) or "
                    "leave warehouse.catalog empty to read the Parquet files under paths.warehouse."
                )
            return self.con.table(name, database=self.catalog)
        if not path.exists():
            raise WarehouseError(
                f"warehouse table {name!r} not found at {path}. Run the ingest step first "
                "(kit run --only 01_ingest) or check paths.warehouse in the config."
            )
        try:
            return self.con.read_parquet(path, table_name=f"wh_{name}")
        except Exception as exc:  # DuckDB's error types vary by version; the message names the file
            raise _damaged(path, exc) from exc

    def materialise(self, expr: ibis.Table, prefix: str) -> ibis.Table:
        """``expr`` computed once and kept on this warehouse's engine (``kit.core.backends.materialise``)."""
        return materialise(self.con, expr, prefix)

    def inputs(self) -> Inputs:
        """What data this warehouse holds (kit.core.inputs), read once per Warehouse."""
        if self._inputs is None:
            self._inputs = (
                Inputs.of_tables({name: self.table(name) for name in INPUT_TABLES if self.has_table(name)})
                if self.catalog else Inputs.read(self.root)
            )
        return self._inputs

    def anonymous_receipts(self) -> ibis.Table | None:
        """Customer ids made only of one-off receipts nobody can recognise again.

        An order record that carries no identity key used for linking (no member number,
        account, phone or e-mail, or only an over-shared one such as a store's walk-in
        number: identities ``kind`` orders and ``keyed`` false) becomes its own one-order
        "customer", in any orders source: revenue, but not a person anyone can count,
        contact or follow. Counts of customers (the overview's KPIs, the churn population)
        leave them out. Returns an Ibis table with one column ``customer_id``, or None when
        the warehouse has no identities table, or one without the record kinds (``kind``,
        ``keyed``: identities written by an older ingest).
        """
        if not self.has_table("identities"):
            return None
        ids = self.table("identities")
        if not {"kind", "keyed"} <= set(ids.columns):
            return None
        linked = ((ids.kind != "orders") | ids.keyed).cast("int64")
        per = ids.group_by("customer_id").aggregate(linked=linked.sum())
        return per.filter(per.linked == 0).select("customer_id")

    def snapshot_dir(self, month: str) -> Path:
        """The folder holding month ``month``'s snapshot outputs (created if missing)."""
        folder = self.root / "snapshots" / check_month(month)
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def month_metrics(self, month: str) -> dict[str, dict]:
        """Every stage's saved headline figures for ``month`` (``snapshots/<month>/metrics/<notebook>.json``)
        as one mapping by notebook; empty when none was saved."""
        folder = self.snapshot_dir(month) / "metrics"
        if not folder.is_dir():
            return {}
        return {file.stem: json.loads(file.read_text(encoding="utf-8")) for file in sorted(folder.glob("*.json"))}

    def snapshot_path(self, month: str, name: str) -> Path:
        """Path of snapshot output ``name`` (e.g. ``profile``) for ``month``."""
        return self.root / "snapshots" / check_month(month) / f"{name}.parquet"

    def has_snapshot(self, month: str, name: str) -> bool:
        """Whether snapshot output ``name`` exists for ``month``."""
        return self.snapshot_path(month, name).exists()

    def read_snapshot(self, month: str, name: str) -> pd.DataFrame:
        """Snapshot output ``name`` for ``month`` as pandas; a clear error when missing."""
        path = self.snapshot_path(month, name)
        if not path.exists():
            raise WarehouseError(
                f"snapshot {name!r} for {month} not found at {path}. "
                f"Run the notebook that writes it for {month} first."
            )
        try:
            return pd.read_parquet(path)
        except Exception as exc:  # pyarrow raises ArrowInvalid / OSError for a damaged file
            raise _damaged(path, exc) from exc

    def write_snapshot(self, month: str, name: str, frame: pd.DataFrame) -> Path:
        """Write snapshot output ``name`` for ``month`` atomically (``kit.core.atomic.atomic_path``)."""
        path = self.snapshot_dir(month) / f"{name}.parquet"
        with atomic_path(path) as tmp:
            frame.to_parquet(tmp, index=False)
        return path
