"""Data-driven personas: k-means clusters on buyers' habits, named, kept stable, given to everyone.

Customers are the profile's identified customers (anonymous store receipts are not customers).
Clustering features (``CLUSTER_FEATURES``; ``persona_features`` builds them): channel shares
(online / app / store), discount share, preferred shopping hour as sin/cos (23:00 sits next
to 00:00), every cat_share_<category>, and log1p(aov_all): who buys what, where and how.
All are standardised; shares are shrunk towards the population share by ``SHRINK_ORDERS``
pseudo-orders, ``(orders * share + 2 * population) / (orders + 2)`` (one order says little
about a taste), and multi-column groups (channels, categories, hour) are divided by the
square root of their size so each weighs like one feature. Customers who never ordered
have the population values. How much and how recently (frequency, spend, recency, app
visits) belong to the RFM and lifecycle layers: not clustered, but shown on the cards and
used in names (``DESCRIBE_FEATURES``).

Choosing k: k-means (scikit-learn ``KMeans``, k-means++, ``N_INIT`` restarts, one OpenMP
thread) for every k in [persona_k_min, persona_k_max] on ``persona_sample`` customers who
have ordered (smallest ``kit.core.sampling.stable_key`` under ``segmentation.seed``, in key
order, weighted by sqrt(orders)); the lowest Davies-Bouldin index wins. The mean silhouette
(on at most ``SILHOUETTE_SAMPLE`` sampled customers) is shown as a separation figure. Every
buyer is assigned to the nearest centroid (``predict``; persona_basis "orders").

Customers who never ordered (``place_without_orders``): a multinomial logistic regression
(``predict_from_profile``) learns the sampled buyers' clusters from ``profile_signals``
(sign-up channel, for members only; tenure; app browsing from ``browsing_features``), buyers
weighted by ``shift_weights``; a non-buyer with a signal gets its prediction (basis
"profile"), one without any gets ``UNPROFILED`` (-1, "Not enough data yet", basis "none").

Names: a cluster's two most distinctive traits (largest |z| of the cluster mean over
``DESCRIBE_FEATURES``, among traits worded in kit/text/strings/segments.yml), as adjective and
noun, e.g. "App-first bargain hunters". personas.json keeps the trait codes; the English name
is the persona's key (``persona`` in segments.parquet, ``name_en`` in personas.json; the same
for en and zh runs). Trait words are read as data (``trait_words``, no kit.text import), so
one word list serves the key here and the display names kit.segments.page builds.

Stability across months: last month's personas are re-expressed as centroids of this
month's features of last month's members who have ordered (``UNPROFILED`` left out) and
matched to this month's clusters by the Hungarian algorithm on Euclidean centroid distance
(``scipy.optimize.linear_sum_assignment``); a matched cluster keeps last month's id and name,
new clusters get new ids.

Measurements and the options tried: docs/decisions/0007-persona-features.md,
docs/decisions/0008-persona-k-choice.md, docs/decisions/0009-persona-placement.md.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import yaml
from scipy.optimize import linear_sum_assignment
from sklearn.cluster import KMeans
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import davies_bouldin_score, silhouette_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from kit.core.atomic import write_text_atomic
from kit.core.config import SegmentationConfig
from kit.core.dates import snapshot_end
from kit.core.sampling import smallest_keys
from kit.profile import CATEGORY_PREFIX, category_column

if TYPE_CHECKING:
    from kit.core.warehouse import Warehouse

SILHOUETTE_SAMPLE = 4000
N_INIT = 10
SHRINK_ORDERS = 2.0
SHRINK_EVENTS = 2.0
SHIFT_WEIGHT_QUANTILE = 0.99  # covariate-shift weights are capped at this quantile
UNPROFILED = -1  # persona_id of customers with no orders and no profile signal
BROWSE_TYPE_PREFIX = "browse_type_"
BROWSE_CATEGORY_PREFIX = "browse_cat_"
RECENCY_CAP_DAYS = 730.0
# feature -> (profile column, transform, group); categories are added from the profile
FEATURES: dict[str, tuple[str, str, str]] = {
    "channel_share_online": ("channel_share_online", "share", "channel"),
    "channel_share_app": ("channel_share_app", "share", "channel"),
    "channel_share_store": ("channel_share_store", "share", "channel"),
    "discount_share": ("discount_share", "share", ""),
    "hour_sin": ("preferred_hour", "hour_sin", "hour"),
    "hour_cos": ("preferred_hour", "hour_cos", "hour"),
    "aov": ("aov_all", "log1p_median", ""),
    "visits": ("visits_90d", "log1p", ""),
    "frequency": ("frequency_365d", "log1p", ""),
    "monetary": ("monetary_365d", "log1p", ""),
    "recency": ("recency_days", "recency", ""),
    "never_ordered": ("has_ordered", "not", ""),
    "night_share": ("night_share", "share", ""),
    "age": ("age", "median", ""),
}
CLUSTER_FEATURES = [
    "channel_share_online", "channel_share_app", "channel_share_store", "discount_share",
    "hour_sin", "hour_cos", "aov",
]  # + every cat_share_<category>
DESCRIBE_FEATURES = [*CLUSTER_FEATURES, "visits", "frequency", "monetary", "recency", "never_ordered", "night_share", "age"]
# the persona words (trait adjectives and nouns, the name template): data read by ``trait_words``
WORDS_FILE = Path(__file__).resolve().parents[1] / "text" / "strings" / "segments.yml"
UNPROFILED_KEY = "personas.unprofiled"  # the words of UNPROFILED ("Not enough data yet")


@dataclass
class PersonaModel:
    """Fitted personas: labels for every customer plus what a card and next month need."""

    labels: pd.Series  # persona_id per profile row (int; UNPROFILED when there is no signal)
    basis: pd.Series  # persona_basis per profile row: "orders", "profile" or "none"
    ids: list[int]  # persona ids in display order (UNPROFILED is not a persona)
    traits: dict[int, list[list[str]]]  # id -> [[feature, "high"|"low"], ...] (name source)
    centroids: pd.DataFrame  # id x describe feature: cluster mean in population z units
    features: list[str]  # the clustering features used
    k: int
    silhouette: dict[int, float]
    davies_bouldin: dict[int, float]  # the k criterion (lower = better separated)
    sample_size: int
    matched: dict[int, float] = field(default_factory=dict)  # id -> distance to last month's
    skipped: list[str] = field(default_factory=list)

    def name(self, persona_id: int) -> str:
        """The English name of persona ``persona_id``, its key in segments.parquet ("Not enough data yet" for UNPROFILED)."""
        if persona_id == UNPROFILED:
            return english_words(UNPROFILED_KEY)
        return persona_name(self.traits[persona_id])

    def names_for(self, labels: pd.Series) -> np.ndarray:
        """The English persona name (key) of every label."""
        lookup = {pid: self.name(pid) for pid in [*self.ids, UNPROFILED]}
        return labels.map(lookup).to_numpy(dtype=object)

    def to_json(self) -> dict:
        """What personas.json stores (ids, traits, English name keys, profile z-scores, k selection)."""
        return {
            "criterion": "davies_bouldin",
            "k": self.k,
            "davies_bouldin": {str(k): round(v, 4) for k, v in self.davies_bouldin.items()},
            "silhouette": {str(k): round(v, 4) for k, v in self.silhouette.items()},
            "sample_size": self.sample_size,
            "features": self.features,
            "skipped_features": self.skipped,
            "basis": {basis: int((self.basis == basis).sum()) for basis in ("orders", "profile", "none")},
            "personas": [
                {
                    "persona_id": pid,
                    "name_en": self.name(pid),
                    "traits": self.traits[pid],
                    "profile_z": {f: round(float(v), 4) for f, v in self.centroids.loc[pid].items()},
                    "matched_distance": self.matched.get(pid),
                }
                for pid in self.ids
            ],
        }


# --------------------------------------------------------------------------- features


def available_features(profile: pd.DataFrame) -> dict[str, tuple[str, str, str]]:
    """Every feature that can be built: ``FEATURES`` plus one per cat_share_ column."""
    found = dict(FEATURES)
    for column in profile.columns:
        if column.startswith(CATEGORY_PREFIX):
            found[column] = (column, "share", "category")
    return found


def default_features(profile: pd.DataFrame) -> list[str]:
    """The clustering feature set for this profile (CLUSTER_FEATURES + categories)."""
    return [*CLUSTER_FEATURES, *(c for c in profile.columns if c.startswith(CATEGORY_PREFIX))]


def persona_features(profile: pd.DataFrame, features: list[str] | None = None) -> tuple[pd.DataFrame, list[str]]:
    """The transformed (unscaled) feature matrix and the requested features the profile lacks."""
    available = available_features(profile)
    wanted = default_features(profile) if features is None else features
    unknown = [f for f in wanted if f not in available]
    if unknown:
        raise KeyError(f"unknown persona feature(s) {unknown}; choose from {sorted(available)}")
    orders = pd.to_numeric(profile.get("frequency_all", pd.Series(0, index=profile.index)), errors="coerce")
    orders = orders.fillna(0).to_numpy(dtype=float)
    matrix = {}
    skipped = []
    for name in wanted:
        column, how, _ = available[name]
        if column not in profile.columns:
            skipped.append(name)
            continue
        values = pd.to_numeric(profile[column], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        matrix[name] = _transform(values, how, orders)
    if not matrix:
        raise KeyError(f"none of the persona features {wanted} can be built from the profile columns")
    return pd.DataFrame(matrix, index=profile.index), skipped


def _transform(values: np.ndarray, how: str, orders: np.ndarray) -> np.ndarray:
    """One feature column from its profile column (see the module docstring)."""
    known = np.isfinite(values)
    if how == "share":
        shares = np.clip(np.where(known, values, 0.0), 0, 1)
        weight = np.where(known, orders, 0.0)
        population = (shares * weight).sum() / weight.sum() if weight.sum() > 0 else 0.0
        return (weight * shares + SHRINK_ORDERS * population) / (weight + SHRINK_ORDERS)
    if how in ("hour_sin", "hour_cos"):
        angle = 2 * np.pi * values / 24.0
        wave = np.sin(angle) if how == "hour_sin" else np.cos(angle)
        return np.where(known, wave, np.nanmean(wave) if known.any() else 0.0)
    if how == "log1p":
        return np.log1p(np.clip(np.where(known, values, 0.0), 0, None))
    if how == "recency":  # never-ordered customers count as typical (never_ordered marks them)
        return np.minimum(np.where(known, values, np.nanmedian(values) if known.any() else 0.0), RECENCY_CAP_DAYS)
    if how == "not":
        return 1.0 - np.where(known, values, 0.0)
    median = np.nanmedian(values) if known.any() else 0.0
    filled = np.where(known, values, median)
    return np.log1p(np.clip(filled, 0, None)) if how == "log1p_median" else filled


def standardise(matrix: pd.DataFrame, groups: dict[str, str] | None = None) -> np.ndarray:
    """Columns to mean 0 / sd 1 (constant columns become 0); grouped columns / sqrt(size)."""
    values = matrix.to_numpy(dtype=np.float64)
    std = values.std(axis=0)
    scaled = (values - values.mean(axis=0)) / np.where(std > 0, std, 1.0)
    if groups:
        labels = [groups.get(c, "") for c in matrix.columns]
        sizes = pd.Series(labels).map(pd.Series(labels).value_counts()).to_numpy()
        scaled = scaled / np.sqrt(np.where(np.array(labels) == "", 1, sizes))
    return scaled.astype(np.float32)


# --------------------------------------------------------------------------- fitting


def choose_k(
    sample: np.ndarray, k_min: int, k_max: int, seed: int, weights: np.ndarray | None = None
) -> tuple[int, dict[int, float], dict[int, float], dict[int, KMeans]]:
    """Fit k-means for each k in [k_min, k_max] on ``sample``; best k by Davies-Bouldin.

    Returns the best k, the silhouette and the Davies-Bouldin index of every k, and the fits.
    """
    n = len(sample)
    k_max = min(k_max, n - 1)
    if k_max < max(k_min, 2):
        raise ValueError(f"only {n} customers to cluster: need more than {max(k_min, 2)} for personas")
    rng = np.random.default_rng(seed)
    scored = rng.choice(n, size=min(n, SILHOUETTE_SAMPLE), replace=False)
    scores: dict[int, float] = {}
    bouldin: dict[int, float] = {}
    models: dict[int, KMeans] = {}
    with threadpool_limits(limits=1):
        for k in range(max(k_min, 2), k_max + 1):
            model = KMeans(n_clusters=k, n_init=N_INIT, random_state=seed).fit(sample, sample_weight=weights)
            models[k] = model
            labels = model.labels_[scored]
            scores[k] = float(silhouette_score(sample[scored], labels)) if len(set(labels)) > 1 else -1.0
            separated = len(set(model.labels_)) > 1
            bouldin[k] = float(davies_bouldin_score(sample, model.labels_)) if separated else np.inf
    best = min(bouldin, key=lambda k: (round(bouldin[k], 6), k))
    return best, scores, bouldin, models


def fit_personas(
    profile: pd.DataFrame,
    config: SegmentationConfig,
    previous: pd.DataFrame | None = None,
    previous_cards: dict | None = None,
    features: list[str] | None = None,
    k: int | None = None,
    browsing: pd.DataFrame | None = None,
) -> PersonaModel:
    """Cluster the customers who ordered into personas and place everyone (see the module docstring).

    ``previous``: last month's segments (customer_id, persona_id) to keep ids stable;
    ``previous_cards``: last month's personas.json to keep names; ``features`` / ``k``
    override the default feature set and the choice of k (interactive use);
    ``browsing``: ``browsing_features`` of the month, used with the profile to place
    customers who never ordered.
    """
    matrix, skipped = persona_features(profile, features)
    available = available_features(profile)
    scaled = standardise(matrix, {name: available[name][2] for name in matrix.columns})
    orders = pd.to_numeric(profile.get("frequency_all", pd.Series(0, index=profile.index)), errors="coerce")
    weights = np.sqrt(np.maximum(orders.fillna(0).to_numpy(dtype=float), 1.0))
    ordered = orders.fillna(0).to_numpy(dtype=float) > 0
    pool = np.flatnonzero(ordered) if ordered.sum() > config.persona_k_max else np.arange(len(scaled))
    sample_idx = pool[smallest_keys(profile["customer_id"].to_numpy()[pool], config.persona_sample, config.seed)]
    sample = scaled[sample_idx]
    with threadpool_limits(limits=1):
        if k is None:
            best, scores, bouldin, models = choose_k(
                sample, config.persona_k_min, config.persona_k_max, config.seed, weights[sample_idx]
            )
            kmeans = models[best]
        else:
            kmeans = KMeans(n_clusters=k, n_init=N_INIT, random_state=config.seed).fit(sample, sample_weight=weights[sample_idx])
            best, scores, bouldin = k, {}, {}
        clusters = kmeans.predict(scaled)
    clusters, basis = place_without_orders(profile, browsing, clusters, ordered, sample_idx[ordered[sample_idx]], config.seed)
    placed = clusters != UNPROFILED
    centroids = np.vstack([scaled[(clusters == c) & ordered].mean(axis=0) if ((clusters == c) & ordered).any()
                           else kmeans.cluster_centers_[c] for c in range(best)])
    ids, matched = match_to_previous(centroids, scaled[ordered], profile["customer_id"][ordered], previous)
    describe, _ = persona_features(profile, [f for f in DESCRIBE_FEATURES if f in available] + [
        c for c in matrix.columns if c not in DESCRIBE_FEATURES])
    profile_z = pd.DataFrame(standardise(describe), columns=describe.columns)[placed].groupby(clusters[placed]).mean()
    profile_z = profile_z.reindex(range(best), fill_value=0.0)  # a cluster may have no member left to describe
    kept = _previous_traits(previous_cards)
    traits: dict[int, list[list[str]]] = {pid: kept[pid] for pid in ids if pid in matched and pid in kept}
    for cluster, pid in enumerate(ids):
        if pid not in traits:
            taken = {persona_name(v) for v in traits.values()}
            traits[pid] = distinctive_traits(profile_z.loc[cluster], taken)
    order = sorted(ids)
    persona_ids = np.where(placed, np.asarray(ids)[np.where(placed, clusters, 0)], UNPROFILED)
    labels = pd.Series(persona_ids, index=profile.index, name="persona_id", dtype="int64")
    profile_z.index = [ids[c] for c in profile_z.index]
    return PersonaModel(
        labels=labels, basis=basis, ids=order, traits=traits, centroids=profile_z.loc[order],
        features=list(matrix.columns), k=best, silhouette=scores, davies_bouldin=bouldin, sample_size=len(sample_idx), matched=matched,
        skipped=skipped,
    )


def match_to_previous(
    centroids: np.ndarray, scaled: np.ndarray, customer_ids: pd.Series, previous: pd.DataFrame | None
) -> tuple[list[int], dict[int, float]]:
    """Persona id for each new cluster, and the centroid distance of the matched ones.

    Last month's persona p is placed at the mean of this month's (standardised) features
    of its members among ``customer_ids`` (the customers who ordered); the Hungarian
    algorithm pairs new clusters with those centroids at minimum total distance. Unmatched clusters get ids after the largest previous id.
    """
    k = len(centroids)
    if previous is None or previous.empty or "persona_id" not in previous.columns:
        return list(range(1, k + 1)), {}
    position = pd.Series(np.arange(len(customer_ids)), index=customer_ids.astype("str").to_numpy())
    prev = previous[["customer_id", "persona_id"]].dropna()
    prev = prev[prev["persona_id"] != UNPROFILED]
    prev = prev[prev["customer_id"].astype("str").isin(position.index)]
    if prev.empty:
        return list(range(1, k + 1)), {}
    rows = position.loc[prev["customer_id"].astype("str").to_numpy()].to_numpy()
    prev_ids = prev["persona_id"].astype("int64").to_numpy()
    old_ids = np.unique(prev_ids)
    old_centroids = np.vstack([scaled[rows[prev_ids == pid]].mean(axis=0) for pid in old_ids])
    cost = np.linalg.norm(centroids[:, None, :] - old_centroids[None, :, :], axis=2)
    new_rows, old_cols = linear_sum_assignment(cost)
    ids = [0] * k
    matched = {}
    for r, c in zip(new_rows, old_cols):
        ids[r] = int(old_ids[c])
        matched[int(old_ids[c])] = float(cost[r, c])
    next_id = int(previous["persona_id"].max()) + 1
    for r in range(k):
        if ids[r] == 0:
            ids[r] = next_id
            next_id += 1
    return ids, matched


def _previous_traits(cards: dict | None) -> dict[int, list[list[str]]]:
    """persona_id -> traits from last month's personas.json (empty when unknown)."""
    if not cards:
        return {}
    return {int(p["persona_id"]): [list(x) for x in p["traits"]] for p in cards.get("personas", [])}


# --------------------------------------------------------------------------- customers who never ordered


def browsing_features(wh: Warehouse, month: str) -> pd.DataFrame:
    """App/web browsing before the snapshot, one row per customer with events.

    Columns: customer_id, browse_events (all events), browse_type_<event type> and
    browse_cat_<category> (event counts; names as ``kit.profile.features.category_column`` writes
    them). Read through Ibis like ``kit.profile.features``: one small query lists the event types
    and categories, one aggregation pivots on them.
    """
    events = wh.table("events")
    e = events.filter(events.event_ts < snapshot_end(month))
    values = e.aggregate(
        types=e.event_type.collect(distinct=True), categories=e.category.collect(distinct=True)
    ).to_pyarrow().to_pylist()[0]
    aggs = {"browse_events": e.count()}
    for prefix, column, names in (
        (BROWSE_TYPE_PREFIX, e.event_type, values["types"]), (BROWSE_CATEGORY_PREFIX, e.category, values["categories"])
    ):
        slugs: dict[str, list[str]] = {}  # names differing only in case or punctuation count together
        for name in sorted(v for v in names or [] if v is not None):
            slugs.setdefault(prefix + category_column(name).removeprefix(CATEGORY_PREFIX), []).append(name)
        # == is faster than isin; fill_null: Ibis counts a group whose conditions are all null as
        # null on Spark (a sum of the condition), as 0 on DuckDB
        aggs |= {slug: e.count(where=(column == same[0] if len(same) == 1 else column.isin(same)).fill_null(False))
                 for slug, same in slugs.items()}
    return e.group_by("customer_id").aggregate(**aggs).to_pyarrow().to_pandas()


def profile_signals(profile: pd.DataFrame, browsing: pd.DataFrame | None) -> tuple[np.ndarray, np.ndarray]:
    """Features every customer has without ordering, and whether each customer has any signal.

    Sign-up channel (one column per channel), log tenure, and from ``browsing``: log1p of
    the event count, the event-type mix and the category mix (shares shrunk towards the
    population by ``SHRINK_EVENTS`` pseudo-events, as order shares are). A customer has a
    signal when the sign-up channel is known or there is at least one event; tenure alone
    is not one (everyone has it).
    """
    columns: list[np.ndarray] = []
    signal = np.zeros(len(profile), dtype=bool)
    if "signup_channel" in profile.columns:
        channel = profile["signup_channel"]
        values = sorted(channel.dropna().unique())
        # a non-member's channel is their first order's (ingest), which no non-buyer has
        member = (profile["is_member"].fillna(False).to_numpy(dtype=bool) if "is_member" in profile.columns
                  else np.ones(len(profile), dtype=bool))
        columns += [(channel == value).to_numpy(dtype=float, na_value=0.0) * member for value in values]
        signal |= channel.notna().to_numpy()
    if "tenure_days" in profile.columns:
        tenure = pd.to_numeric(profile["tenure_days"], errors="coerce").fillna(0.0).clip(lower=0.0)
        columns.append(np.log1p(tenure.to_numpy(dtype=float)))
    if browsing is not None and not browsing.empty:
        aligned = browsing.set_index(browsing["customer_id"].astype("str")).drop(columns="customer_id")
        aligned = aligned.reindex(profile["customer_id"].astype("str")).fillna(0).astype("float64")
        events = aligned["browse_events"].to_numpy()
        columns.append(np.log1p(events))
        signal |= events > 0
        for prefix in (BROWSE_TYPE_PREFIX, BROWSE_CATEGORY_PREFIX):
            counts = aligned[[c for c in aligned.columns if c.startswith(prefix)]].to_numpy()
            columns += list(_shrunk_mix(counts).T)
    matrix = np.column_stack(columns) if columns else np.zeros((len(profile), 0))
    return matrix, signal


def _shrunk_mix(counts: np.ndarray) -> np.ndarray:
    """Row shares of ``counts`` shrunk towards the population shares by ``SHRINK_EVENTS``."""
    total = counts.sum()
    population = counts.sum(axis=0) / total if total > 0 else np.zeros(counts.shape[1])
    return (counts + SHRINK_EVENTS * population) / (counts.sum(axis=1, keepdims=True) + SHRINK_EVENTS)


def place_without_orders(
    profile: pd.DataFrame, browsing: pd.DataFrame | None, clusters: np.ndarray, ordered: np.ndarray, train: np.ndarray,
    seed: int = 0,
) -> tuple[np.ndarray, pd.Series]:
    """Clusters with customers who never ordered placed from their profile, and the basis of each.

    ``clusters`` are the k-means clusters (kept for buyers), ``train`` the rows of buyers
    the classifier learns from, weighted by ``shift_weights`` against as many non-buyers
    (smallest ``stable_key`` under ``seed``). Non-buyers with a signal get the predicted
    cluster (basis "profile"); those without any get ``UNPROFILED`` (basis "none"), not a guess.
    """
    signals, has_signal = profile_signals(profile, browsing)
    profiled = ~ordered & has_signal & (len(train) > 0)
    placed = clusters.copy()
    if profiled.any():
        pool = np.flatnonzero(profiled)
        others = pool[smallest_keys(profile["customer_id"].to_numpy()[pool], len(train), seed)]
        weights = shift_weights(signals[train], signals[others])
        placed[profiled] = predict_from_profile(signals[train], clusters[train], signals[profiled], weights)
    placed[~ordered & ~profiled] = UNPROFILED
    basis = np.where(ordered, "orders", np.where(profiled, "profile", "none"))
    return placed, pd.Series(basis, index=profile.index, name="persona_basis", dtype="str")


def shift_weights(buyers: np.ndarray, others: np.ndarray) -> np.ndarray:
    """A weight per buyer: the odds that a customer with these signals never ordered (mean 1).

    Covariate-shift correction: a logistic regression (standardised, one thread) tells
    ``others`` (non-buyers) from ``buyers`` on the profile signals; buyers who look like
    non-buyers (short tenure, little browsing) then count more when the placement model
    learns. Weights are capped at the ``SHIFT_WEIGHT_QUANTILE`` quantile.
    """
    if len(buyers) == 0 or len(others) == 0 or buyers.shape[1] == 0:
        return np.ones(len(buyers))
    X = np.vstack([buyers, others])
    y = np.r_[np.zeros(len(buyers)), np.ones(len(others))]
    with threadpool_limits(limits=1):
        model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(X, y)
        p = model.predict_proba(buyers)[:, 1]
    odds = p / np.maximum(1.0 - p, 1e-12)
    odds = np.minimum(odds, np.quantile(odds, SHIFT_WEIGHT_QUANTILE))
    return odds / odds.mean() if odds.mean() > 0 else np.ones(len(buyers))


def predict_from_profile(
    train: np.ndarray, clusters: np.ndarray, new: np.ndarray, weights: np.ndarray | None = None
) -> np.ndarray:
    """The cluster of each ``new`` row from a logistic regression fitted on buyers' signals.

    ``train`` holds the signals of buyers and ``clusters`` their k-means clusters, each row
    weighted by ``weights`` (``shift_weights``; equal when None); the model is standardised
    multinomial logistic regression, fitted with one thread.
    """
    if len(new) == 0 or train.shape[1] == 0:
        return np.zeros(len(new), dtype=clusters.dtype)
    if len(np.unique(clusters)) == 1:
        return np.full(len(new), clusters[0])
    with threadpool_limits(limits=1):
        model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
        model.fit(train, clusters, logisticregression__sample_weight=weights)
        return model.predict(new)


# --------------------------------------------------------------------------- naming


@lru_cache(maxsize=1)
def _words() -> dict[str, dict[str, str]]:
    """The ``personas.*`` entries of segments.yml: key -> {language: text}."""
    data = yaml.safe_load(WORDS_FILE.read_text(encoding="utf-8")) or {}
    return {key: dict(entry) for key, entry in data.items() if key.startswith("personas.")}


def english_words(key: str, **values: object) -> str:
    """The English text of a ``personas.*`` word (KeyError when segments.yml has none)."""
    text = _words()[key]["en"]
    return text.format(**values) if values else text


def trait_words(feature: str, direction: str, words: Callable[..., str] = english_words) -> tuple[str, str]:
    """(adjective, noun) for a trait; categories use one template with the category.

    ``words(key, **values)`` looks a word up: English data by default; the page passes its
    translation in the report language.
    """
    if feature.startswith(CATEGORY_PREFIX):
        if direction != "high":
            raise KeyError(feature)
        category = feature.removeprefix(CATEGORY_PREFIX)
        return (words("personas.trait.category.high.adj", category=category),
                words("personas.trait.category.high.noun", category=category))
    return words(f"personas.trait.{feature}.{direction}.adj"), words(f"personas.trait.{feature}.{direction}.noun")


def has_wording(feature: str, direction: str) -> bool:
    """Whether kit/text/strings/segments.yml words feature ``feature`` in ``direction``."""
    try:
        trait_words(feature, direction)
    except KeyError:
        return False
    return True


def persona_name(traits: list[list[str]], words: Callable[..., str] = english_words) -> str:
    """"<adjective of trait 1> <noun of trait 2>", e.g. "App-first bargain hunters" (English
    by default: the key in segments.parquet; ``words`` as in ``trait_words``)."""
    adj, _ = trait_words(*traits[0], words)
    _, noun = trait_words(*traits[1], words)
    name = words("personas.name", adj=adj, noun=noun)
    return name[:1].upper() + name[1:]


def distinctive_traits(centroid_z: pd.Series, taken: set[str] = frozenset()) -> list[list[str]]:
    """The two most distinctive worded traits of a centroid (|z| order) with an unused (English) name."""
    order = centroid_z.abs().sort_values(ascending=False, kind="stable").index
    candidates = [[feature, "high" if centroid_z[feature] > 0 else "low"] for feature in order]
    ranked = [trait for trait in candidates if has_wording(*trait)]
    if len(ranked) < 2:
        ranked += [["frequency", "high"], ["monetary", "high"]]
    for i, first in enumerate(ranked):
        for second in ranked[i + 1:]:
            candidate = [first, second]
            if persona_name(candidate) not in taken:
                return candidate
    return ranked[:2]


# --------------------------------------------------------------------------- cards

ALL_CUSTOMERS = 0  # persona_id of the all-customers row of persona_cards (persona ids start at 1)
CHANNEL_COLUMNS = ("channel_share_online", "channel_share_app", "channel_share_store")


def persona_cards(profile: pd.DataFrame, segments: pd.DataFrame, model: PersonaModel) -> pd.DataFrame:
    """One row per persona, one for customers without a persona (when any) and a final all-customers row.

    Numbers and codes only (kit.segments.page words and formats them). Columns: persona_id
    (``ALL_CUSTOMERS`` for the last row), customers, share, profile_share (share placed from
    profile and browsing, no orders yet), revenue_share, avg_revenue, revenue_index (avg
    revenue / overall average), orders_365d, aov, recency_days, discount_share, avg_csat,
    avg_nps, age, active_share (new + active stage), main_channel ([(channel, share)], the
    largest), top_categories ([(category, share)], up to three) and highlights ([(feature,
    mean here, overall mean)]: the three most distinctive features; empty for all customers
    and for UNPROFILED).
    """
    data = profile.reset_index(drop=True)
    seg = segments.reset_index(drop=True)
    pid = seg["persona_id"].to_numpy()
    from_profile = (model.basis == "profile").to_numpy()
    revenue = data["monetary_365d"].to_numpy(dtype=float)
    total_revenue = revenue.sum()
    overall_avg = revenue.mean() if len(revenue) else 0.0
    channels = [c for c in CHANNEL_COLUMNS if c in data.columns]
    categories = [c for c in data.columns if c.startswith(CATEGORY_PREFIX)]
    shown = [*model.ids, *([UNPROFILED] if (pid == UNPROFILED).any() else [])]
    groups = [(p, pid == p) for p in shown] + [(ALL_CUSTOMERS, np.ones(len(pid), bool))]
    rows = []
    for persona_id, mask in groups:
        part = data.loc[mask]
        active = seg.loc[mask, "lifecycle_stage"].isin(["new", "active"]).mean() if mask.any() else np.nan
        avg_revenue = revenue[mask].mean() if mask.any() else 0.0
        rows.append(
            {
                "persona_id": persona_id,
                "customers": int(mask.sum()),
                "share": mask.mean(),
                "profile_share": from_profile[mask].mean() if mask.any() else np.nan,
                "revenue_share": revenue[mask].sum() / total_revenue if total_revenue > 0 else 0.0,
                "avg_revenue": avg_revenue,
                "revenue_index": avg_revenue / overall_avg if overall_avg > 0 else np.nan,
                "orders_365d": _mean(part, "frequency_365d"),
                "aov": _mean(part, "aov_all"),
                "recency_days": _mean(part, "recency_days"),
                "discount_share": _mean(part, "discount_share"),
                "avg_csat": _mean(part, "avg_csat"),
                "avg_nps": _mean(part, "last_nps"),
                "age": _mean(part, "age"),
                "active_share": active,
                "main_channel": _top_shares(part, channels, "channel_share_", 1),
                "top_categories": _top_shares(part, categories, CATEGORY_PREFIX, 3),
                "highlights": [] if persona_id in (ALL_CUSTOMERS, UNPROFILED) else _highlights(model, persona_id, data, mask),
            }
        )
    return pd.DataFrame(rows)


def _mean(part: pd.DataFrame, column: str) -> float:
    """Mean of a profile column (NaN when absent, empty or all missing, e.g. the age of the unprofiled)."""
    if column not in part.columns or part.empty:
        return np.nan
    return float(pd.to_numeric(part[column], errors="coerce").astype("float64").mean())


def _top_shares(part: pd.DataFrame, columns: list[str], prefix: str, n: int) -> list[tuple[str, float]]:
    """The ``n`` largest positive average shares as (name without ``prefix``, share)."""
    if not columns or part.empty:
        return []
    means = part[columns].mean().sort_values(ascending=False).head(n)
    return [(c.removeprefix(prefix), float(v)) for c, v in means[means > 0].items()]


def _highlights(model: PersonaModel, persona_id: int, data: pd.DataFrame, mask: np.ndarray) -> list[tuple[str, float, float]]:
    """The three most distinctive features of a persona: (feature, mean here, overall mean) in raw units."""
    z = model.centroids.loc[persona_id].abs().sort_values(ascending=False, kind="stable")
    available = available_features(data)
    # the hour shows as night_share and never_ordered as the lifecycle mix, not as raw means
    shown = [f for f in z.index if available[f][1] not in ("hour_sin", "hour_cos", "not")][:3]
    return [(f, _mean(data.loc[mask], available[f][0]), _mean(data, available[f][0])) for f in shown]


# --------------------------------------------------------------------------- files


def personas_path(snapshot_dir: Path) -> Path:
    """Where a month's personas.json lives (beside segments.parquet)."""
    return Path(snapshot_dir) / "personas.json"


def save_personas(snapshot_dir: Path, model: PersonaModel) -> Path:
    """Write personas.json (ids, names, traits, centroids, k selection) atomically."""
    return write_text_atomic(personas_path(snapshot_dir), json.dumps(model.to_json(), ensure_ascii=False, indent=2))


def load_personas(snapshot_dir: Path) -> dict | None:
    """A month's personas.json, or None when that month has none."""
    path = personas_path(snapshot_dir)
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None
