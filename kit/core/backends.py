"""The engine behind the warehouse's row-level work: DuckDB, Spark, or any Ibis backend.

Every row-level computation after ingest (features, tags' inputs, the churn datasets, the
CLV summary, the experiment metrics) is an Ibis expression, so it runs where the data
is. ``warehouse.backend`` in the config chooses the engine (``kit.core.config.WarehouseConfig``):

- ``duckdb``: an embedded DuckDB in this process, the default; ``make report`` needs
  nothing else.
- ``pyspark``: the running Spark session (spark-submit, Databricks and EMR jobs start one),
  else a new session on ``warehouse.spark_master`` (``local[2]`` by default) with the
  ``warehouse.spark`` settings. Ibis sets the session's time zone to UTC, the warehouse's
  convention for timestamps.
- ``url``: any other Ibis backend by its connection URL (``ibis.connect``), for example
  BigQuery, Snowflake or ClickHouse; that backend's Ibis extra must be installed.

Customer-grain results come back to pandas once per stage for the models, as on DuckDB.
"""

from __future__ import annotations

import uuid
import warnings

import ibis

from kit.core.config import WarehouseConfig


class BackendError(RuntimeError):
    """The configured engine cannot be reached: the message says which setting to check."""


def connect(settings: WarehouseConfig) -> ibis.BaseBackend:
    """An Ibis connection to the engine ``settings`` names (module docstring)."""
    if settings.backend == "duckdb":
        con = ibis.duckdb.connect()
        # DuckDB's progress bar writes to stderr, which would end up in notebook outputs.
        con.raw_sql("SET enable_progress_bar = false")
        return con
    if settings.backend == "pyspark":
        session = spark_session(settings)  # first: it quiets pyspark's import-time warnings
        return ibis.pyspark.connect(session)
    try:
        return ibis.connect(settings.url)
    except Exception as exc:  # each backend raises its own driver's errors
        raise BackendError(
            f"warehouse.url: could not connect ({type(exc).__name__}: {str(exc).strip()[:200]}). Check the URL, "
            "the credentials and that the backend's Ibis extra is installed (pip install 'ibis-framework[<backend>]')."
        ) from exc


def spark_session(settings: WarehouseConfig):
    """The active Spark session, else a new one on ``settings.spark_master``.

    A new session gets the UI and the console progress bar switched off (their output would
    land in the notebooks) and ``settings.spark`` on top."""
    # pyspark 4.3 warns that it does not yet fully support pandas 3, and calls pandas'
    # deprecated ``copy=`` keyword, on every transfer; the parity test checks the transfers'
    # results (tests/integration/test_spark_parity.py), and the warnings would fill the pages.
    warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas", category=FutureWarning)
    warnings.filterwarnings("ignore", message="The copy keyword is deprecated", module=r"pyspark\.")
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:
        raise BackendError(
            "warehouse.backend = pyspark needs pyspark (pip install pyspark) and Java 17 or newer."
        ) from exc
    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    builder = (
        SparkSession.builder.master(settings.spark_master)
        .appName("customer-lifecycle-kit")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
    )
    for key, value in settings.spark.items():
        builder = builder.config(key, value)
    try:
        session = builder.getOrCreate()
    except Exception as exc:  # py4j raises when Java is missing or the master cannot be reached
        raise BackendError(
            f"could not start Spark on warehouse.spark_master = {settings.spark_master!r} "
            f"({type(exc).__name__}: {str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ''}). "
            "Spark needs Java 17 or newer (java -version) and a reachable master."
        ) from exc
    session.sparkContext.setLogLevel("ERROR")
    return session


def materialise(con: ibis.BaseBackend, expr: ibis.Table, prefix: str) -> ibis.Table:
    """``expr`` computed once and kept for this connection, for a result read several times.

    A temporary table named ``prefix`` + a unique suffix on DuckDB and most engines (unique,
    never overwritten: ibis 12's ``cache()`` and ``overwrite`` emit a DROP without the table
    name, ibis issue 12101); on Spark, where Ibis has no temporary tables, a temporary view
    (which registers the in-memory tables ``expr`` reads; ``cache()`` alone does not), cached."""
    name = f"{prefix}_{uuid.uuid4().hex}"
    if con.name == "pyspark":
        return con.create_view(name, expr).cache()
    return con.create_table(name, expr, temp=True)
