"""Ingest: raw sources -> one clean, unified, pseudonymous customer warehouse.

``run_ingest(config)`` reads the sources declared in the config, cleans them in DuckDB,
resolves identities into stable ``customer_id`` values and writes the canonical tables of
docs/data_contract.md. Modules: ``sources`` (reading, encodings), ``normalize`` (value
rules as SQL), ``kinds`` (canonical columns per source kind), ``clean`` (quarantine and
de-duplication), ``identity`` (connected components, stable ids), ``pipeline`` (the run)
``quality`` (tidy frames and the data fitness gate) and ``page`` (the 01_ingest page).
Stage entry: ``pipeline.run`` (= ``run_ingest``).
"""

from kit.ingest.pipeline import IngestResult, run_ingest
from kit.ingest.sources import IngestError

__all__ = ["IngestError", "IngestResult", "run_ingest"]
