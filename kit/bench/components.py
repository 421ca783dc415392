"""Connected components at the size of a 1,000,000-customer identity graph: scipy against
``kit.ingest.components`` (Ibis on DuckDB).

``graph(con, nodes, chains, chain_nodes)`` writes table ``edges`` (src, dst) of a random
graph of about ``nodes`` nodes: components of 1 to 5 nodes (a path plus as many random
chords, like records sharing a phone and an e-mail) and ``chains`` paths of
``chain_nodes`` nodes, the node ids shuffled (DuckDB hash, reproducible). The defaults
give about 2.6 million nodes and 3.5 million edges, the identity graph of the 1,000,000-customer world.
``run`` times the scipy way (fetchnumpy, coo_matrix, connected_components) and the Ibis
way on it and checks that they agree. Run ``python -m kit.bench.components``;
docs/decisions/0021-components-through-ibis.md has the figures.
"""

from __future__ import annotations

import json
import time

import duckdb
import ibis
import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from kit.ingest.components import components

_GRAPH = """
CREATE OR REPLACE TEMP TABLE comp AS
SELECT c, s, sum(s) OVER (ORDER BY c) - s AS start FROM (
  SELECT c, CASE WHEN c < {chains} THEN {chain_nodes} ELSE CAST(1 + hash(c, 'size') % 5 AS BIGINT) END AS s
  FROM range({components}) t(c));
CREATE OR REPLACE TEMP TABLE node_id AS
SELECT p, row_number() OVER (ORDER BY hash(p, 'id')) - 1 AS id FROM range((SELECT CAST(sum(s) AS BIGINT) FROM comp)) t(p);
CREATE OR REPLACE TEMP TABLE steps AS
SELECT c, s, start, j FROM comp, LATERAL (SELECT unnest(range(s - 1)) AS j);
CREATE OR REPLACE TABLE edges AS
WITH pos AS (
  SELECT start + j AS a, start + j + 1 AS b FROM steps
  UNION ALL
  SELECT start + x, start + (x + 1 + CAST(hash(c, j, 'to') % (s - 1) AS BIGINT)) % s
  FROM (SELECT *, CAST(hash(c, j, 'from') % s AS BIGINT) AS x FROM steps WHERE c >= {chains}))
SELECT na.id AS src, nb.id AS dst FROM pos JOIN node_id na ON na.p = pos.a JOIN node_id nb ON nb.p = pos.b;
"""


def graph(con: duckdb.DuckDBPyConnection, nodes: int, chains: int, chain_nodes: int) -> int:
    """Write table ``edges`` (module docstring); returns the number of nodes."""
    small = (nodes - chains * chain_nodes) // 3  # components of 1 to 5 nodes, 3 on average
    con.execute(_GRAPH.format(chains=chains, chain_nodes=chain_nodes, components=chains + small))
    return int(con.execute("SELECT count(*) FROM node_id").fetchone()[0])


def run(nodes: int = 2_600_000, chains: int = 4, chain_nodes: int = 1000) -> dict:
    """Build the graph, then the components both ways; the timings in seconds."""
    con = duckdb.connect()
    n_nodes = graph(con, nodes, chains, chain_nodes)
    t0 = time.perf_counter()
    edges = con.execute("SELECT src, dst FROM edges").fetchnumpy()
    matrix = coo_matrix((np.ones(len(edges["src"]), dtype=np.int8), (edges["src"], edges["dst"])), shape=(n_nodes, n_nodes))
    count, expected = connected_components(matrix, directed=False)
    t1 = time.perf_counter()
    with con.cursor() as cursor:
        labels, rounds = components(ibis.duckdb.from_connection(cursor).table("edges"), n_nodes)
    t2 = time.perf_counter()
    return {
        "nodes": n_nodes,
        "edges": len(edges["src"]),
        "components": int(count),
        "scipy_seconds": round(t1 - t0, 2),
        "ibis_seconds": round(t2 - t1, 2),
        "rounds": rounds,
        "equal": bool(np.array_equal(labels, expected)),
    }


if __name__ == "__main__":
    print(json.dumps(run(), indent=1))
