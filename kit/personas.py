"""Data-driven personas: k-means clusters on buyers' habits, named, kept stable, given to everyone.

Clustering features (``CLUSTER_FEATURES``; ``persona_features`` builds them):
  habits     channel_share_online / app / store, discount_share, preferred shopping hour
             (as sin/cos of the hour, so 23:00 sits next to 00:00)
  interests  every cat_share_<category> column
  value      log1p(aov_all): what a customer spends per order
All columns are standardised (mean 0, sd 1). Shares are shrunk towards the population
share by ``SHRINK_ORDERS`` pseudo-orders, ``(orders * share + 2 * population) / (orders
+ 2)``: one order says little about a customer's category or channel taste, and without
this the one-hot shares of single-order customers split clusters along single purchases.
Customers who never ordered have no habits (their features are the population values);
they are placed differently (see below). Multi-column
groups (channels, categories, hour) are divided by the square root of their size so each
group weighs like one feature. Frequency, spend, recency and app visits are deliberately
left out: they measure how much and how recently (the RFM and lifecycle layers), while
personas describe who buys what, where and how; they are still shown on the cards and
used in names (``DESCRIBE_FEATURES``), and can be switched on interactively.

Why this set (adjusted Rand index against the generator's latent personas on 5,000-person
demo worlds, seeds 42 / 3 / 11): with raw shares plus frequency, spend and recency it was
0.10-0.27 (customers who ordered); with this set k = 5 in all three worlds and the ARI
over customers who ordered is 0.618 / 0.629 / 0.635. Adding app visits lowered it to
0.42-0.50; gender, payment method, weekend share or city tier lowered it too. Over all
customers (about 9,300 per world, 18-19% never ordered) it is 0.539 / 0.519 / 0.518 with
the placement below; it was about 0.40 when never-ordered customers kept the population
values and all fell into one persona. (Measured after the generator's leavers began
buying smaller baskets, which blurs order value a little: before that change the figures
were 0.640 / 0.644 / 0.647 over buyers and 0.558 / 0.555 / 0.550 over all.)

Customers who never ordered (``place_without_orders``): a customer without orders still
has a sign-up channel, a tenure and often app browsing (``browsing_features``: events
per type and per category before the snapshot). A multinomial logistic regression
(``predict_from_profile``: standardised, one thread) learns the k-means cluster of the
sampled buyers from these signals (``profile_signals``: sign-up channel one-hot, log
tenure, log1p event count, event-type mix and category mix shrunk towards the population
by ``SHRINK_EVENTS`` pseudo-events) and places every non-buyer with a signal
(``persona_basis`` "profile"; buyers are "orders"). On the demo this finds the generator's
persona for non-buyers far better than one shared persona, but less reliably than orders
do (ARI 0.33-0.35 among the customers placed this way, against 0.64 for buyers), so cards
show each persona's share placed this way. A customer with no orders, no sign-up channel
and no event (4.3-5.4% of customers on the demo: survey answers that match no account)
gets ``UNPROFILED`` (-1, "Not enough data yet", basis "none") rather than a guess:
guessing them too gave 0.543 / 0.539 / 0.532 over all customers, since they are a mix of
every persona. Tried and not kept: without browsing (sign-up channel and tenure only)
0.538 / 0.532 / 0.527; adding demographics, visits or survey scores changed it by less
than 0.005; gradient boosting (``HistGradientBoostingClassifier``) scored within 0.005 at
20-30 times the fit time; re-estimating the non-buyers' persona mix by EM (prior shift)
collapsed nearly all of them into one persona (0.49-0.50). Cost on a synthetic
1,000,000-customer world with 43M events (2 cores): ``browsing_features`` 6 s idle, 15-21 s
with the other core busy (one pass over the events, like ``kit.features``); the rest of
``place_without_orders`` about 2 s (aligning the signals; the regression on 20,000 buyers
takes 0.1 s). The whole segmentation step went from 7 s to 24 s idle (13 s to 34 s
loaded), peak memory 2.2 GB.

Choosing k: k-means (scikit-learn ``KMeans``, k-means++ starts) is fitted for every k in
[persona_k_min, persona_k_max] on a sample of ``persona_sample`` customers who have
ordered (those with the smallest ``kit.sampling.stable_key`` under ``segmentation.seed``,
in key order: the same customers and the same k-means starts whatever the row order of
the profile), weighted by sqrt(orders) since a long history is a more reliable profile;
the k with the lowest Davies-Bouldin index (mean over clusters of the worst ratio of
within-cluster spread to between-centroid distance; O(n k), on the whole sample) wins.
The mean silhouette (on at most ``SILHOUETTE_SAMPLE`` = 4,000 of the sampled customers)
is still computed and shown as a separation figure. Why Davies-Bouldin: on the demo worlds
whose leavers buy smaller baskets (seeds 42 / 3 / 11), the silhouette picked k = 3 on seed
42 (0.241 against 0.209 at k = 5; ARI 0.37 over buyers) while Davies-Bouldin picks k = 5 on
all three seeds (1.543 / 1.533 / 1.531; ARI 0.62-0.64 over buyers). Customers who never ordered are
left out of the fit: they all sit on the population point, a tight blob that alone made
k = 3 win the silhouette (0.34 against 0.21). ``N_INIT`` = 10 restarts: with 4, two of
four seeds ended in optima with a small outlier cluster whose silhouette won at k = 3
or 4 (ARI 0.23-0.35). Every buyer is then assigned to the nearest centroid (``predict``),
which keeps the step linear in the number of customers. Fitting runs with one OpenMP
thread (threadpoolctl): on the shared 2-core machine, under load, a KMeans fit on
11,568 x 20 took 12.1 s with scikit-learn's default 2 threads and 0.2 s with one (idle
threads spin-wait).

Names: a cluster is described by its two most distinctive traits (largest |z| of the
cluster mean against the population over ``DESCRIBE_FEATURES``, among traits worded in
kit/i18n/segments.yml): the first as an adjective, the second as a noun, e.g. "App-first
bargain hunters".

Stability across months: last month's personas are re-expressed as centroids of this
month's features of last month's members who have ordered (from last month's
segments.parquet; ``UNPROFILED`` is not a persona and is left out), and this
month's clusters are matched to them by the Hungarian algorithm on Euclidean centroid
distance (``scipy.optimize.linear_sum_assignment``). A matched cluster keeps last month's
id and name (names from last month's personas.json), so ids, names and colours do not
shuffle; new clusters get new ids.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment
from sklearn.cluster import KMeans
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import davies_bouldin_score, silhouette_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from kit.atomic import write_text_atomic
from kit.config import SegmentationConfig
from kit.dates import snapshot_end
from kit.features import category_column
from kit.report.fmt import Formatter
from kit.report.i18n import t
from kit.sampling import smallest_keys

if TYPE_CHECKING:
    from kit.warehouse import Warehouse

SILHOUETTE_SAMPLE = 4000
N_INIT = 10
SHRINK_ORDERS = 2.0
SHRINK_EVENTS = 2.0
UNPROFILED = -1  # persona_id of customers with no orders and no profile signal
BROWSE_TYPE_PREFIX = "browse_type_"
BROWSE_CATEGORY_PREFIX = "browse_cat_"
RECENCY_CAP_DAYS = 730.0
CATEGORY_PREFIX = "cat_share_"
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
# how a feature's average is shown on a persona card (shares as percentages)
CARD_FORMATS = {"frequency": "num1", "monetary": "money", "aov": "money", "recency": "days", "visits": "num1", "age": "num1"}


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

    def name(self, persona_id: int, lang: str = "en") -> str:
        """The readable name of persona ``persona_id`` in ``lang`` ("Not enough data yet" for UNPROFILED)."""
        if persona_id == UNPROFILED:
            return t("personas.unprofiled", lang)
        return persona_name(self.traits[persona_id], lang)

    def names_for(self, labels: pd.Series, lang: str = "en") -> np.ndarray:
        """The persona name of every label."""
        lookup = {pid: self.name(pid, lang) for pid in [*self.ids, UNPROFILED]}
        return labels.map(lookup).to_numpy(dtype=object)

    def to_json(self) -> dict:
        """What personas.json stores (ids, traits, names, profile z-scores, k selection)."""
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
                    "name_en": self.name(pid, "en"),
                    "name_zh": self.name(pid, "zh"),
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
    clusters, basis = place_without_orders(profile, browsing, clusters, ordered, sample_idx[ordered[sample_idx]])
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
            taken = {persona_name(v, "en") for v in traits.values()}
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
    browse_cat_<category> (event counts; names as ``kit.features.category_column`` writes
    them). Read through Ibis like ``kit.features``: one small query lists the event types
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
        aggs |= {slug: e.count(where=column == same[0] if len(same) == 1 else column.isin(same))  # == is faster
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
        columns += [(channel == value).to_numpy(dtype=float, na_value=0.0) for value in values]
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
    profile: pd.DataFrame, browsing: pd.DataFrame | None, clusters: np.ndarray, ordered: np.ndarray, train: np.ndarray
) -> tuple[np.ndarray, pd.Series]:
    """Clusters with customers who never ordered placed from their profile, and the basis of each.

    ``clusters`` are the k-means clusters (kept for buyers), ``train`` the rows of buyers
    the classifier learns from. Non-buyers with a signal get the predicted cluster (basis
    "profile"); those without any get ``UNPROFILED`` (basis "none"), not a guess.
    """
    signals, has_signal = profile_signals(profile, browsing)
    profiled = ~ordered & has_signal & (len(train) > 0)
    placed = clusters.copy()
    placed[profiled] = predict_from_profile(signals[train], clusters[train], signals[profiled])
    placed[~ordered & ~profiled] = UNPROFILED
    basis = np.where(ordered, "orders", np.where(profiled, "profile", "none"))
    return placed, pd.Series(basis, index=profile.index, name="persona_basis", dtype="str")


def predict_from_profile(train: np.ndarray, clusters: np.ndarray, new: np.ndarray) -> np.ndarray:
    """The cluster of each ``new`` row from a logistic regression fitted on buyers' signals.

    ``train`` holds the signals of buyers and ``clusters`` their k-means clusters; the
    model is standardised multinomial logistic regression, fitted with one thread.
    """
    if len(new) == 0 or train.shape[1] == 0:
        return np.zeros(len(new), dtype=clusters.dtype)
    if len(np.unique(clusters)) == 1:
        return np.full(len(new), clusters[0])
    with threadpool_limits(limits=1):
        model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(train, clusters)
        return model.predict(new)


# --------------------------------------------------------------------------- naming


def _has_wording(feature: str, direction: str) -> bool:
    """Whether kit/i18n/segments.yml words feature ``feature`` in ``direction``."""
    try:
        _trait_words(feature, direction, "en")
    except KeyError:
        return False
    return True


def _trait_words(feature: str, direction: str, lang: str) -> tuple[str, str]:
    """(adjective, noun) for a trait; categories use one template with the category."""
    if feature.startswith(CATEGORY_PREFIX):
        if direction != "high":
            raise KeyError(feature)
        category = feature.removeprefix(CATEGORY_PREFIX)
        return (t("personas.trait.category.high.adj", lang, category=category),
                t("personas.trait.category.high.noun", lang, category=category))
    return t(f"personas.trait.{feature}.{direction}.adj", lang), t(f"personas.trait.{feature}.{direction}.noun", lang)


def persona_name(traits: list[list[str]], lang: str = "en") -> str:
    """"<adjective of trait 1> <noun of trait 2>", e.g. "App-first bargain hunters"."""
    adj, _ = _trait_words(*traits[0], lang)
    _, noun = _trait_words(*traits[1], lang)
    name = t("personas.name", lang, adj=adj, noun=noun)
    return name[:1].upper() + name[1:]


def distinctive_traits(centroid_z: pd.Series, taken: set[str] = frozenset()) -> list[list[str]]:
    """The two most distinctive worded traits of a centroid (|z| order) with an unused name."""
    order = centroid_z.abs().sort_values(ascending=False, kind="stable").index
    candidates = [[feature, "high" if centroid_z[feature] > 0 else "low"] for feature in order]
    ranked = [trait for trait in candidates if _has_wording(*trait)]
    if len(ranked) < 2:
        ranked += [["frequency", "high"], ["monetary", "high"]]
    for i, first in enumerate(ranked):
        for second in ranked[i + 1:]:
            candidate = [first, second]
            if persona_name(candidate, "en") not in taken:
                return candidate
    return ranked[:2]


# --------------------------------------------------------------------------- cards


def persona_cards(profile: pd.DataFrame, segments: pd.DataFrame, model: PersonaModel, lang: str = "en",
                  currency: str = "CNY") -> pd.DataFrame:
    """One row per persona, one for customers without a persona (when any) and a final all-customers row.

    Columns: persona_id, persona, customers, share, profile_share (share placed from profile
    and browsing, no orders yet), revenue_share, avg_revenue, revenue_index (avg revenue /
    overall average), orders_365d, aov, recency_days, discount_share, main_channel (text),
    top_categories (text), avg_csat, avg_nps, age, active_share (new + active stage),
    highlights (text: the three most distinctive features against the average).
    """
    fmt = Formatter(lang, currency)
    data = profile.reset_index(drop=True)
    seg = segments.reset_index(drop=True)
    pid = seg["persona_id"].to_numpy()
    from_profile = (model.basis == "profile").to_numpy()
    revenue = data["monetary_365d"].to_numpy(dtype=float)
    total_revenue = revenue.sum()
    overall_avg = revenue.mean() if len(revenue) else 0.0
    channels = [c for c in ("channel_share_online", "channel_share_app", "channel_share_store") if c in data.columns]
    categories = [c for c in data.columns if c.startswith(CATEGORY_PREFIX)]
    shown = [*model.ids, *([UNPROFILED] if (pid == UNPROFILED).any() else [])]
    groups = [(p, pid == p, model.name(p, lang)) for p in shown] + [(0, np.ones(len(pid), bool), t("personas.all", lang))]
    rows = []
    for persona_id, mask, name in groups:
        part = data.loc[mask]
        active = seg.loc[mask, "lifecycle_stage"].isin(["new", "active"]).mean() if mask.any() else np.nan
        avg_revenue = revenue[mask].mean() if mask.any() else 0.0
        rows.append(
            {
                "persona_id": persona_id,
                "persona": name,
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
                "main_channel": _top_shares(part, channels, "channel_share_", 1, fmt, lang, "channel"),
                "top_categories": _top_shares(part, categories, CATEGORY_PREFIX, 3, fmt, lang, "category"),
                "avg_csat": _mean(part, "avg_csat"),
                "avg_nps": _mean(part, "last_nps"),
                "age": _mean(part, "age"),
                "active_share": active,
                "highlights": _card_highlights(model, persona_id, data, mask, fmt, lang),
            }
        )
    return pd.DataFrame(rows)


def _card_highlights(model: PersonaModel, persona_id: int, data: pd.DataFrame, mask: np.ndarray, fmt: Formatter,
                     lang: str) -> str:
    """A card's highlights: none for all customers, why for the unprofiled, else the top three traits."""
    if persona_id == 0:
        return ""
    if persona_id == UNPROFILED:
        return t("personas.unprofiled.why", lang)
    return _highlights(model, persona_id, data, mask, fmt, lang)


def _mean(part: pd.DataFrame, column: str) -> float:
    """Mean of a profile column (NaN when absent, empty or all missing, e.g. the age of the unprofiled)."""
    if column not in part.columns or part.empty:
        return np.nan
    return float(pd.to_numeric(part[column], errors="coerce").astype("float64").mean())


def _top_shares(part: pd.DataFrame, columns: list[str], prefix: str, n: int, fmt: Formatter, lang: str, kind: str) -> str:
    """The ``n`` largest average shares as "name 45%" text."""
    if not columns or part.empty:
        return ""
    means = part[columns].mean().sort_values(ascending=False).head(n)
    means = means[means > 0]
    return ", ".join(f"{_label(c.removeprefix(prefix), kind, lang)} {fmt.pct(v, 0)}" for c, v in means.items())


def _label(value: str, kind: str, lang: str) -> str:
    """Channel names are translated; category names are shown as the data writes them."""
    return t(f"personas.channel.{value}", lang) if kind == "channel" else value


def _highlights(model: PersonaModel, persona_id: int, data: pd.DataFrame, mask: np.ndarray, fmt: Formatter, lang: str) -> str:
    """The three most distinctive features of a persona, in raw units against the average."""
    z = model.centroids.loc[persona_id].abs().sort_values(ascending=False, kind="stable")
    available = available_features(data)
    # the hour shows as night_share and never_ordered as the lifecycle mix, not as raw means
    shown = [f for f in z.index if available[f][1] not in ("hour_sin", "hour_cos", "not")][:3]
    parts = []
    for feature in shown:
        column = available[feature][0]
        kind = CARD_FORMATS.get(feature, "pct")
        here = _mean(data.loc[mask], column)
        overall = _mean(data, column)
        label = (t("personas.feature.category", lang, category=feature.removeprefix(CATEGORY_PREFIX))
                 if feature.startswith(CATEGORY_PREFIX) else t(f"personas.feature.{feature}", lang))
        parts.append(t("personas.highlight", lang, feature=label, value=fmt.apply(here, kind), average=fmt.apply(overall, kind)))
    return "; ".join(parts)


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


# --------------------------------------------------------------------------- display

CARD_VALUE_COLUMNS = {
    "persona": "text", "customers": "int", "share": "pct", "profile_share": "pct", "revenue_share": "pct",
    "avg_revenue": "money", "revenue_index": "num2", "orders_365d": "num1", "aov": "money", "recency_days": "days", "active_share": "pct",
}
CARD_PROFILE_COLUMNS = {
    "persona": "text", "main_channel": "text", "top_categories": "text", "discount_share": "pct",
    "avg_csat": "num2", "avg_nps": "num1", "age": "num1", "highlights": "text",
}


def card_view(cards: pd.DataFrame, columns: dict[str, str], lang: str) -> tuple[pd.DataFrame, dict[str, str]]:
    """A slice of ``persona_cards`` with translated headers and its table formats."""
    from kit.segments import for_display

    return for_display(cards[list(columns)], columns, lang)


def explorer(profile: pd.DataFrame, segments: pd.DataFrame, config: SegmentationConfig, lang: str = "en",
             currency: str = "CNY", browsing: pd.DataFrame | None = None,
             k: int | None = None):  # -> ipywidgets.Widget (lazy import)
    """An interactive widget: pick clustering features and k, see the persona cards update.

    ``browsing`` (``browsing_features``) places customers who never ordered as the report does;
    ``k`` is where the slider starts (the report's chosen k, so the widget opens on the
    personas the page shows; default ``persona_k_min``).
    """
    import ipywidgets as widgets

    from kit.report import blocks

    options = sorted(available_features(profile))
    pick = widgets.SelectMultiple(
        options=options, value=tuple(f for f in default_features(profile) if f in options),
        description=t("personas.explore.features", lang), rows=12,
    )
    low, high = max(config.persona_k_min, 2), config.persona_k_max
    k = widgets.IntSlider(value=min(max(k or low, low), high), min=low, max=high, description="k")
    button = widgets.Button(description=t("personas.explore.update", lang))
    output = widgets.HTML()
    fmt = Formatter(lang, currency)

    def update(_: object = None) -> None:
        if not pick.value:
            output.value = blocks.banner(t("personas.explore.empty", lang), "warning")
            return
        model = fit_personas(profile, config, features=list(pick.value), k=k.value, browsing=browsing)
        cards = persona_cards(profile, segments.assign(persona_id=model.labels.to_numpy()), model, lang, currency)
        table, formats = card_view(cards, {**CARD_VALUE_COLUMNS, "highlights": "text"}, lang)
        output.value = blocks.table(table, fmt, formats)

    button.on_click(update)
    update()
    return widgets.VBox([widgets.HBox([pick, k]), button, output])
