"""Score a fitted HistGradientBoosting booster and its occlusion attributions in one pass.

Per-customer reasons (``kit.churn.drivers``) ask the booster, for every customer and each
of the top drivers, how the raw score changes when that one feature is set to its
typical value. scikit-learn's predictor walks one tree over all rows at a time (each tree
streams the whole matrix through memory), too slow for that at 1,000,000 customers.

This module copies the booster's trees into flat arrays and walks them with a small
numba kernel, rows outer and trees inner (the trees stay in cache; each row is read once),
rows in parallel (``numba.prange``, numba's own thread pool). Occluding a feature can only
change a tree's output when the row's path in that tree splits on the feature, so each
tree is walked again only for the drivers found on the row's path. The raw scores are the
same sums in the same order as scikit-learn's (``tests/unit/test_churn_trees.py`` checks
both the scores and the occlusions against scikit-learn's own predictions).

It reads the booster's fitted trees (``_predictors``, ``_baseline_prediction``,
``_bin_mapper``), which are private to scikit-learn; ``flatten`` checks that the
booster is a fitted binary classifier and the tests pin the behaviour to the public
``decision_function``.

Measurements and the options tried: docs/decisions/0016-churn-tree-walk.md.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier


@dataclass(frozen=True)
class FlatTrees:
    """All trees of a binary booster as flat per-node arrays (absolute node indices)."""

    roots: np.ndarray  # int64, first node of each tree
    feature: np.ndarray  # int64, column of the preprocessed matrix each node splits on
    threshold: np.ndarray  # float64, numeric split: go left when value <= threshold
    missing_left: np.ndarray  # bool, where missing (and unknown categories) go
    left: np.ndarray  # int64
    right: np.ndarray  # int64
    is_leaf: np.ndarray  # bool
    is_categorical: np.ndarray  # bool
    bitset: np.ndarray  # int64, row of ``left_bitsets`` for categorical splits
    value: np.ndarray  # float64, leaf value (raw score)
    depth: np.ndarray  # int64, depth of each node (root 0)
    left_bitsets: np.ndarray  # uint32 (splits, 8): categories that go left
    known_bitsets: np.ndarray  # uint32 (categorical features, 8): categories seen in fit
    known_index: np.ndarray  # int64, row of ``known_bitsets`` per feature
    baseline: float


def flatten(booster: HistGradientBoostingClassifier) -> FlatTrees:
    """The fitted trees of a binary ``booster`` as one ``FlatTrees``."""
    predictors = getattr(booster, "_predictors", None)
    if predictors is None or any(len(iteration) != 1 for iteration in predictors):
        raise ValueError("flatten needs a fitted binary HistGradientBoostingClassifier.")
    trees = [iteration[0] for iteration in predictors]
    sizes = np.array([len(tree.nodes) for tree in trees], dtype=np.int64)
    roots = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    split_counts = np.array([len(tree.raw_left_cat_bitsets) for tree in trees], dtype=np.int64)
    split_offsets = np.concatenate([[0], np.cumsum(split_counts)[:-1]]).astype(np.int64)
    nodes = np.concatenate([tree.nodes for tree in trees])
    offsets = np.repeat(roots, sizes)
    known_bitsets, f_idx_map = booster._bin_mapper.make_known_categories_bitsets()
    left_bitsets = [tree.raw_left_cat_bitsets for tree in trees if len(tree.raw_left_cat_bitsets)]
    return FlatTrees(
        roots=roots,
        feature=nodes["feature_idx"].astype(np.int64),
        threshold=nodes["num_threshold"].astype(np.float64),
        missing_left=nodes["missing_go_to_left"].astype(bool),
        left=nodes["left"].astype(np.int64) + offsets,
        right=nodes["right"].astype(np.int64) + offsets,
        is_leaf=nodes["is_leaf"].astype(bool),
        is_categorical=nodes["is_categorical"].astype(bool),
        bitset=nodes["bitset_idx"].astype(np.int64) + np.repeat(split_offsets, sizes),
        value=nodes["value"].astype(np.float64),
        depth=nodes["depth"].astype(np.int64),
        left_bitsets=np.ascontiguousarray(np.concatenate(left_bitsets) if left_bitsets else np.zeros((1, 8), "uint32")),
        known_bitsets=np.ascontiguousarray(known_bitsets if len(known_bitsets) else np.zeros((1, 8), np.uint32)),
        known_index=np.asarray(f_idx_map, dtype=np.int64),
        baseline=float(np.ravel(booster._baseline_prediction)[0]),
    )


def score_and_occlude(
    trees: FlatTrees, x: np.ndarray, columns: np.ndarray, reference: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Raw scores of preprocessed rows ``x`` and, per driver, the raw-score change when
    column ``columns[j]`` is set to ``reference[j]`` (shape rows x drivers)."""
    columns = np.asarray(columns, dtype=np.int64)
    reference = np.asarray(reference, dtype=np.float64)
    if len(columns) > 62:
        raise ValueError(f"score_and_occlude handles at most 62 drivers, got {len(columns)}.")
    # bit j set on the nodes that split on driver j's column
    bits = np.zeros(max(x.shape[1], 1), dtype=np.int64)
    bits[columns] = np.left_shift(1, np.arange(len(columns), dtype=np.int64))
    node_bits = np.where(trees.is_leaf, 0, bits[np.where(trees.is_leaf, 0, trees.feature)])
    return _score_and_occlude(
        trees.roots,
        trees.feature,
        trees.threshold,
        trees.missing_left,
        trees.left,
        trees.right,
        trees.is_leaf,
        trees.is_categorical,
        trees.bitset,
        trees.value,
        trees.left_bitsets,
        trees.known_bitsets,
        trees.known_index,
        trees.baseline,
        np.ascontiguousarray(x, dtype=np.float64),
        node_bits,
        columns,
        reference,
        int(trees.depth.max()) if len(trees.depth) else 0,
    )


@numba.njit(cache=True, nogil=True, inline="always")
def _in_bitset(bitsets: np.ndarray, row: int, category: int) -> bool:
    """Whether ``category`` (0-255) is set in row ``row`` of a (rows, 8) uint32 bitset."""
    return ((bitsets[row, category >> 5] >> np.uint32(category & 31)) & np.uint32(1)) == 1


@numba.njit(cache=True, nogil=True)
def _walk(
    x, row, node, swap_column, swap_value, max_steps, path, feature, threshold, missing_left, left, right,
    is_leaf, is_categorical, bitset, left_bitsets, known_bitsets, known_index, node_bits,
):  # fmt: skip
    """Walk down from ``node`` for one row, at most ``max_steps`` splits, with
    scikit-learn's split rule (``_predict_one_from_raw_data``), reading ``swap_value`` in
    place of column ``swap_column`` (-1: none). Writes the nodes passed, the last one
    included, into ``path`` (when it has room) and returns (node reached, splits passed,
    OR of ``node_bits`` on the way). The rule stays in this one loop: a separate
    per-node function call made the walk five times slower."""
    bits = 0
    length = 0
    while not is_leaf[node] and length < max_steps:
        if length < path.shape[0]:
            path[length] = node
        length += 1
        column = feature[node]
        bits |= node_bits[node]
        value = swap_value if column == swap_column else x[row, column]
        if is_categorical[node]:
            if np.isnan(value) or value < 0:
                go_left = missing_left[node]
            elif _in_bitset(left_bitsets, bitset[node], int(value)):
                go_left = True
            elif _in_bitset(known_bitsets, known_index[column], int(value)):
                go_left = False
            else:  # a category unseen in training counts as missing
                go_left = missing_left[node]
        elif value <= threshold[node]:
            go_left = True
        elif value > threshold[node]:
            go_left = False
        else:  # NaN
            go_left = missing_left[node]
        node = left[node] if go_left else right[node]
    if length < path.shape[0]:
        path[length] = node
    return node, length, bits


@numba.njit(cache=True, nogil=True, parallel=True)
def _score_and_occlude(
    roots, feature, threshold, missing_left, left, right, is_leaf, is_categorical, bitset, value,
    left_bitsets, known_bitsets, known_index, baseline, x, node_bits, columns, reference, max_depth,
):  # fmt: skip
    """Kernel of ``score_and_occlude``: the tree arrays of ``FlatTrees`` spelled out.

    An occluded driver can only change the leaf at a node on the row's path that splits
    on it: the walk is repeated from the first such node where the typical value turns
    the other way, and skipped when it never does."""
    n_rows, n_drivers, n_nodes = x.shape[0], columns.shape[0], feature.shape[0]
    raw = np.empty(n_rows)
    change = np.zeros((n_rows, n_drivers))
    for i in numba.prange(n_rows):
        path = np.empty(max_depth + 1, dtype=np.int64)
        no_path = path[:0]
        total = baseline
        for t in range(roots.shape[0]):
            leaf, length, on_path = _walk(
                x, i, roots[t], -1, 0.0, n_nodes, path, feature, threshold, missing_left, left, right, is_leaf,
                is_categorical, bitset, left_bitsets, known_bitsets, known_index, node_bits,
            )  # fmt: skip
            total += value[leaf]
            if on_path == 0:
                continue
            for j in range(n_drivers):
                column, typical = columns[j], reference[j]
                own = x[i, column]
                if not (on_path >> j) & 1 or own == typical or (np.isnan(own) and np.isnan(typical)):
                    continue
                for k in range(length):
                    node = path[k]
                    if feature[node] != column:
                        continue
                    turn, _, _ = _walk(
                        x, i, node, column, typical, 1, no_path, feature, threshold, missing_left, left, right,
                        is_leaf, is_categorical, bitset, left_bitsets, known_bitsets, known_index, node_bits,
                    )  # fmt: skip
                    if turn != path[k + 1]:
                        occluded, _, _ = _walk(
                            x, i, turn, column, typical, n_nodes, no_path, feature, threshold, missing_left, left,
                            right, is_leaf, is_categorical, bitset, left_bitsets, known_bitsets, known_index,
                            node_bits,
                        )  # fmt: skip
                        change[i, j] += value[occluded] - value[leaf]
                        break
        raw[i] = total
    return raw, change
