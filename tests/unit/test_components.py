"""kit.ingest.components against scipy.sparse.csgraph.connected_components: the same
component number for every node (scipy's numbering), on DuckDB through Ibis."""

from __future__ import annotations

import duckdb
import ibis
import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pytest
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from kit.ingest.components import components


def on_duckdb(src: npt.ArrayLike, dst: npt.ArrayLike, n_nodes: int, **options: int) -> tuple[np.ndarray, int]:
    """``components`` of the edges src[i] - dst[i], read from a fresh DuckDB database."""
    con = duckdb.connect()
    con.register("given", pa.table({"src": pa.array(src, pa.int64()), "dst": pa.array(dst, pa.int64())}))
    return components(ibis.duckdb.from_connection(con).table("given"), n_nodes, **options)


def assert_as_scipy(src: npt.ArrayLike, dst: npt.ArrayLike, n_nodes: int) -> int:
    """Check the labels equal scipy's; returns the rounds taken."""
    labels, rounds = on_duckdb(src, dst, n_nodes)
    matrix = coo_matrix((np.ones(len(src)), (src, dst)), shape=(n_nodes, n_nodes))
    expected = connected_components(matrix, directed=False)[1]
    assert labels.dtype == np.int64
    np.testing.assert_array_equal(labels, expected)
    return rounds


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_sparse_graphs_as_scipy(seed):
    # 3,000 nodes, 2,400 random edges (self-loops and repeats among them): one component
    # of about 1,900 nodes, some 600 single nodes and small components between (10 to 14 rounds)
    rng = np.random.default_rng(seed)
    src, dst = rng.integers(0, 3000, size=(2, 2400))
    assert_as_scipy(src, dst, 3000)


def test_long_chain_needs_few_rounds():
    # a path of 201 nodes in shuffled order (diameter 200) and one in id order: label
    # propagation without shortcuts would take 200 rounds; these take 7 and 9
    order = np.random.default_rng(5).permutation(201)
    assert assert_as_scipy(order[:-1], order[1:], 201) <= 16
    assert assert_as_scipy(np.arange(200), np.arange(1, 201), 201) <= 16


def test_isolated_nodes_a_star_and_no_edges():
    assert_as_scipy([5, 3], [3, 9], 12)  # 0, 1, 2, 4, ... alone: each a component of its own
    assert_as_scipy([7] * 6, [0, 2, 4, 6, 8, 9], 10)  # a star around node 7
    assert on_duckdb([], [], 4)[0].tolist() == [0, 1, 2, 3]
    assert on_duckdb([], [], 0)[0].tolist() == []


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match=r"1 edges name a node outside 0 \.\. 3"):
        on_duckdb([0, 1], [1, 4], 4)
    with pytest.raises(ValueError, match="outside"):
        on_duckdb([-1], [0], 4)
    with pytest.raises(ValueError, match=r"\(or NULL\)"):
        on_duckdb([0, None], [1, 2], 4)
    with pytest.raises(ValueError, match="n_nodes"):
        on_duckdb([], [], -1)
    con = duckdb.connect()
    con.execute("CREATE TABLE e AS SELECT '1' AS src, '2' AS dst")
    with pytest.raises(ValueError, match="integer columns src and dst"):
        components(ibis.duckdb.from_connection(con).table("e"), 3)
    with pytest.raises(RuntimeError, match="after 1 contraction rounds"):
        on_duckdb(np.arange(50), np.arange(1, 51), 51, max_rounds=1)
