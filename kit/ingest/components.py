"""Connected components of an undirected graph, computed on the engine through Ibis and
numbered as ``scipy.sparse.csgraph.connected_components`` numbers them.

Why: identity resolution (``kit.ingest.identity``) finds people as the components of the
graph records <-> identifier values. Written with Ibis joins, aggregates and unions, the
computation runs where the edge list lives (DuckDB for ingest) instead of pulling it into
Python, so the same code can serve another Ibis backend.

How: min-label propagation on a graph that shrinks (randomized contraction; Bögeholz,
Brand and Todor, "In-database connected component analysis", ICDE 2020). Each round
ranks the nodes by a fresh random permutation ``(a * id + b) mod p`` (p a prime above
every id: a bijection, so no ties); every node of the current graph takes the name of
the lowest-ranked node among itself and its neighbours; edges are renamed, those inside
one name dropped and duplicates merged. A name left without edges is a whole component,
so the small components (nearly all of an identity graph) leave in the first rounds and
later rounds touch only what is left; each round shrinks the graph by a constant share
on average, so a path of L nodes takes about log2 L rounds. The rounds stop when no edge
is left (no name can change any more), or with an error after ``max_rounds``. Every
node's final name is then followed through the rounds, and the components are numbered
in the order of their smallest node (component 0 holds node 0): scipy's numbering.
Propagation over node ids with pointer jumping, every node's label rewritten each round,
was measured first and took 2.5 to 3 times as long: docs/decisions/0021-components-through-ibis.md.

Each round's names and edges are written to temporary tables, so a query never holds
more than one round. ``create_table(temp=True)``, not ``Table.cache()``: ibis 12 releases
a cache with a DROP that sqlglot >= 30.18 emits without the table name (ibis issue 12101),
and for the same reason the tables are emptied at the end instead of dropped (they go
with the connection). Backends without temporary tables in ibis 12 (PySpark) cannot run it.
"""

from __future__ import annotations

import math
import random
import uuid

import ibis
import numpy as np

#: The most nodes: p is then at most 2**31 - 1 (a prime), so ranks ``a * id + b`` stay below 2**62.
MAX_NODES = 2**31 - 1


def components(edges: ibis.Table, n_nodes: int, max_rounds: int = 64) -> tuple[np.ndarray, int]:
    """The component number of every node 0 .. ``n_nodes`` - 1 of the undirected graph
    ``edges`` (integer columns ``src`` and ``dst``; duplicates and self-loops allowed), equal
    to ``scipy.sparse.csgraph.connected_components(..., directed=False)[1]`` as int64, and
    the number of contraction rounds it took. A node without edges is a component of its own.

    Raises ValueError when an edge names no node of 0 .. ``n_nodes`` - 1 (or NULL), and
    RuntimeError when edges are left after ``max_rounds`` rounds (the module docstring).
    """
    if not 0 <= n_nodes <= MAX_NODES:
        raise ValueError(f"n_nodes must be between 0 and {MAX_NODES}, got {n_nodes}.")
    if not all(c in edges.columns and edges[c].type().is_integer() for c in ("src", "dst")):
        raise ValueError(f"edges needs integer columns src and dst; it has {dict(edges.schema())}.")
    scratch = _Scratch(ibis.get_backend(edges))
    try:
        given = scratch.keep(edges.select(src=edges.src.cast("int64"), dst=edges.dst.cast("int64")))
        inside = given.src.between(0, n_nodes - 1) & given.dst.between(0, n_nodes - 1)
        outside = int(given.filter(~inside.fill_null(False)).count().execute())
        if outside:
            raise ValueError(f"{outside} edges name a node outside 0 .. {n_nodes - 1} (or NULL).")
        graph = given.filter(given.src != given.dst)
        prime = _prime_at_least(n_nodes)
        draws = random.Random(0)  # fixed: the same rounds on every run (the numbering never depends on them)
        renames: list[ibis.Table] = []
        while int(graph.count().execute()):
            if len(renames) == max_rounds:
                raise RuntimeError(
                    f"connected components: edges are left after {max_rounds} contraction rounds "
                    f"(about log2 of the longest path is expected); raise max_rounds."
                )
            renamed = scratch.keep(_rename(graph, draws.randrange(1, prime), draws.randrange(prime), prime))
            renames.append(renamed)
            graph = scratch.keep(_contract(graph, renamed))
        # a one-row table of the backend (also without edges) to unnest the node ids from
        nodes = given.aggregate(n=given.count()).select(node=ibis.range(n_nodes).unnest().cast("int64"))
        # every node's name after all rounds, composed from the last round back (ibis 12
        # cannot join onto a join's projection on the left; the later rounds are the small ones)
        steps = [nodes.mutate(name=nodes.node), *renames]
        labels = steps[-1]
        for earlier in reversed(steps[:-1]):
            labels = _then(earlier, labels)
        labels = scratch.keep(labels)
        firsts = labels.group_by("name").aggregate(first=labels.node.min())
        numbered = firsts.select("name", component=ibis.row_number().over(order_by=firsts.first))
        result = labels.join(numbered, "name").order_by(labels.node).select("component")
        return result.to_pyarrow()["component"].to_numpy(), len(renames)
    finally:
        scratch.empty()


def _rename(graph: ibis.Table, a: int, b: int, prime: int) -> ibis.Table:
    """(node, name) for every node of ``graph``: the node of lowest rank ``(a * id + b) mod
    prime`` among the node itself and its neighbours."""

    def rank(node: ibis.Value) -> ibis.Value:
        return (node * a + b) % prime

    arcs = graph.select(node=graph.src, other=graph.dst).union(graph.select(node=graph.dst, other=graph.src), distinct=False)
    lowest = arcs.group_by("node").aggregate(other=arcs.other.argmin(rank(arcs.other)))
    return lowest.select("node", name=ibis.ifelse(rank(lowest.node) < rank(lowest.other), lowest.node, lowest.other))


def _then(first: ibis.Table, then: ibis.Table) -> ibis.Table:
    """(node, name) of ``first`` with each name renamed by ``then`` (kept where ``then`` has none)."""
    joined = first.left_join(then, first.name == then.node)
    return joined.select(node=first.node, name=then.name.fill_null(first.name))


def _contract(graph: ibis.Table, renamed: ibis.Table) -> ibis.Table:
    """``graph`` with its nodes replaced by their names: one edge per pair of different names."""
    src, dst = renamed.view(), renamed.view()
    pairs = graph.join(src, graph.src == src.node).join(dst, graph.dst == dst.node).select(a=src.name, b=dst.name)
    pairs = pairs.filter(pairs.a != pairs.b)
    return pairs.select(src=ibis.least(pairs.a, pairs.b), dst=ibis.greatest(pairs.a, pairs.b)).distinct()


def _prime_at_least(n: int) -> int:
    """The smallest prime >= max(n, 2), by trial division (milliseconds below 2**31)."""
    candidate = max(n, 2)
    while any(candidate % d == 0 for d in range(2, math.isqrt(candidate) + 1)):
        candidate += 1
    return candidate


class _Scratch:
    """The temporary tables of one ``components`` call on ``backend``, each under a new name."""

    def __init__(self, backend: ibis.BaseBackend) -> None:
        self.backend = backend
        self.names: list[str] = []

    def keep(self, table: ibis.Table) -> ibis.Table:
        """``table`` computed once into a new temporary table."""
        self.names.append(f"components_{uuid.uuid4().hex}")
        return self.backend.create_table(self.names[-1], table, temp=True)

    def empty(self) -> None:
        """Empty every table made (the module docstring says why not dropped)."""
        for name in self.names:
            self.backend.truncate_table(name)
