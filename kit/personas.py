"""Data-driven personas: k-means clusters on customer habits, named and kept stable.

Clustering features (``CLUSTER_FEATURES``; ``persona_features`` builds them):
  habits     channel_share_online / app / store, discount_share, preferred shopping hour
             (as sin/cos of the hour, so 23:00 sits next to 00:00)
  interests  every cat_share_<category> column
  value      log1p(aov_all): what a customer spends per order
All columns are standardised (mean 0, sd 1). Shares are shrunk towards the population
share by ``SHRINK_ORDERS`` pseudo-orders, ``(orders * share + 2 * population) / (orders
+ 2)``: one order says little about a customer's category or channel taste, and without
this the one-hot shares of single-order customers split clusters along single purchases.
Customers who never ordered get the population values (no habit evidence). Multi-column
groups (channels, categories, hour) are divided by the square root of their size so each
group weighs like one feature. Frequency, spend, recency and app visits are deliberately
left out: they measure how much and how recently (the RFM and lifecycle layers), while
personas describe who buys what, where and how; they are still shown on the cards and
used in names (``DESCRIBE_FEATURES``), and can be switched on interactively.

Why this set (adjusted Rand index against the generator's latent personas on 5,000-person
demo worlds, seeds 42 / 3 / 11, k chosen by silhouette): with raw shares plus frequency,
spend and recency it was 0.10-0.27; with this set k = 5 in all three worlds and the ARI
is 0.64 / 0.63 / 0.66 over customers who ordered and 0.41 / 0.40 / 0.53 over all
customers (never-ordered customers, 11-18%, carry no habits and fall into one persona).
Adding app visits lowered it to 0.42-0.50 (ordered); gender, payment method, weekend
share or city tier lowered it too.

Choosing k: k-means (scikit-learn ``KMeans``, k-means++ starts) is fitted for every k in
[persona_k_min, persona_k_max] on a random sample of ``persona_sample`` customers who
have ordered, weighted by sqrt(orders) since a long history is a more reliable profile;
the k with the highest mean silhouette (on at most ``SILHOUETTE_SAMPLE`` = 4,000 of the
sampled customers, so it costs O(4,000²) not O(n²)) wins. Customers who never ordered are
left out of the fit: they all sit on the population point, a tight blob that alone made
k = 3 win the silhouette (0.34 against 0.21). ``N_INIT`` = 10 restarts: with 4, two of
four seeds ended in optima with a small outlier cluster whose silhouette won at k = 3
or 4 (ARI 0.23-0.35). Everyone is then assigned to the nearest centroid (``predict``),
which keeps the step linear in the number of customers. Fitting runs with one OpenMP
thread (threadpoolctl): on the shared 2-core machine, under load, a KMeans fit on
11,568 x 20 took 12.1 s with scikit-learn's default 2 threads and 0.2 s with one (idle
threads spin-wait).

Names: a cluster is described by its two most distinctive traits (largest |z| of the
cluster mean against the population over ``DESCRIBE_FEATURES``, among traits worded in
kit/i18n/segments.yml): the first as an adjective, the second as a noun, e.g. "App-first
bargain hunters".

Stability across months: last month's personas are re-expressed as centroids of this
month's features of last month's members (from last month's segments.parquet), and this
month's clusters are matched to them by the Hungarian algorithm on Euclidean centroid
distance (``scipy.optimize.linear_sum_assignment``). A matched cluster keeps last month's
id and name (names from last month's personas.json), so ids, names and colours do not
shuffle; new clusters get new ids.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment
from sklearn.cluster import KMeans
from sklearn.metrics import silhouette_score
from threadpoolctl import threadpool_limits

from kit.config import SegmentationConfig
from kit.report.fmt import Formatter
from kit.report.i18n import t

SILHOUETTE_SAMPLE = 4000
N_INIT = 10
SHRINK_ORDERS = 2.0
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

    labels: pd.Series  # persona_id per profile row (int)
    ids: list[int]  # persona ids in display order
    traits: dict[int, list[list[str]]]  # id -> [[feature, "high"|"low"], ...] (name source)
    centroids: pd.DataFrame  # id x describe feature: cluster mean in population z units
    features: list[str]  # the clustering features used
    k: int
    silhouette: dict[int, float]
    sample_size: int
    matched: dict[int, float] = field(default_factory=dict)  # id -> distance to last month's
    skipped: list[str] = field(default_factory=list)

    def name(self, persona_id: int, lang: str = "en") -> str:
        """The readable name of persona ``persona_id`` in ``lang``."""
        return persona_name(self.traits[persona_id], lang)

    def names_for(self, labels: pd.Series, lang: str = "en") -> np.ndarray:
        """The persona name of every label."""
        lookup = {pid: self.name(pid, lang) for pid in self.ids}
        return labels.map(lookup).to_numpy(dtype=object)

    def to_json(self) -> dict:
        """What personas.json stores (ids, traits, names, profile z-scores, k selection)."""
        return {
            "criterion": "silhouette",
            "k": self.k,
            "silhouette": {str(k): round(v, 4) for k, v in self.silhouette.items()},
            "sample_size": self.sample_size,
            "features": self.features,
            "skipped_features": self.skipped,
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
) -> tuple[int, dict[int, float], dict[int, KMeans]]:
    """Fit k-means for each k in [k_min, k_max] on ``sample``; best k by silhouette."""
    n = len(sample)
    k_max = min(k_max, n - 1)
    if k_max < max(k_min, 2):
        raise ValueError(f"only {n} customers to cluster: need more than {max(k_min, 2)} for personas")
    rng = np.random.default_rng(seed)
    scored = rng.choice(n, size=min(n, SILHOUETTE_SAMPLE), replace=False)
    scores: dict[int, float] = {}
    models: dict[int, KMeans] = {}
    with threadpool_limits(limits=1):
        for k in range(max(k_min, 2), k_max + 1):
            model = KMeans(n_clusters=k, n_init=N_INIT, random_state=seed).fit(sample, sample_weight=weights)
            models[k] = model
            labels = model.labels_[scored]
            scores[k] = float(silhouette_score(sample[scored], labels)) if len(set(labels)) > 1 else -1.0
    best = max(scores, key=lambda k: (round(scores[k], 6), -k))
    return best, scores, models


def fit_personas(
    profile: pd.DataFrame,
    config: SegmentationConfig,
    previous: pd.DataFrame | None = None,
    previous_cards: dict | None = None,
    features: list[str] | None = None,
    k: int | None = None,
) -> PersonaModel:
    """Cluster every customer into personas (see the module docstring).

    ``previous``: last month's segments (customer_id, persona_id) to keep ids stable;
    ``previous_cards``: last month's personas.json to keep names; ``features`` / ``k``
    override the default feature set and the silhouette choice (interactive use).
    """
    matrix, skipped = persona_features(profile, features)
    available = available_features(profile)
    scaled = standardise(matrix, {name: available[name][2] for name in matrix.columns})
    orders = pd.to_numeric(profile.get("frequency_all", pd.Series(0, index=profile.index)), errors="coerce")
    weights = np.sqrt(np.maximum(orders.fillna(0).to_numpy(dtype=float), 1.0))
    rng = np.random.default_rng(config.seed)
    ordered = orders.fillna(0).to_numpy(dtype=float) > 0
    pool = np.flatnonzero(ordered) if ordered.sum() > config.persona_k_max else np.arange(len(scaled))
    sample_idx = rng.choice(pool, size=min(len(pool), config.persona_sample), replace=False)
    sample = scaled[sample_idx]
    with threadpool_limits(limits=1):
        if k is None:
            best, scores, models = choose_k(
                sample, config.persona_k_min, config.persona_k_max, config.seed, weights[sample_idx]
            )
            kmeans = models[best]
        else:
            kmeans = KMeans(n_clusters=k, n_init=N_INIT, random_state=config.seed).fit(sample, sample_weight=weights[sample_idx])
            best, scores = k, {}
        clusters = kmeans.predict(scaled)
    centroids = np.vstack([scaled[clusters == c].mean(axis=0) if (clusters == c).any() else kmeans.cluster_centers_[c]
                           for c in range(best)])
    ids, matched = match_to_previous(centroids, scaled, profile["customer_id"], previous)
    describe, _ = persona_features(profile, [f for f in DESCRIBE_FEATURES if f in available] + [
        c for c in matrix.columns if c not in DESCRIBE_FEATURES])
    profile_z = pd.DataFrame(standardise(describe), columns=describe.columns).groupby(clusters).mean()
    kept = _previous_traits(previous_cards)
    traits: dict[int, list[list[str]]] = {pid: kept[pid] for pid in ids if pid in matched and pid in kept}
    for cluster, pid in enumerate(ids):
        if pid not in traits:
            taken = {persona_name(v, "en") for v in traits.values()}
            traits[pid] = distinctive_traits(profile_z.loc[cluster], taken)
    order = sorted(ids)
    labels = pd.Series(np.asarray(ids)[clusters], index=profile.index, name="persona_id", dtype="int64")
    profile_z.index = [ids[c] for c in profile_z.index]
    return PersonaModel(
        labels=labels, ids=order, traits=traits, centroids=profile_z.loc[order], features=list(matrix.columns),
        k=best, silhouette=scores, sample_size=len(sample_idx), matched=matched, skipped=skipped,
    )


def match_to_previous(
    centroids: np.ndarray, scaled: np.ndarray, customer_ids: pd.Series, previous: pd.DataFrame | None
) -> tuple[list[int], dict[int, float]]:
    """Persona id for each new cluster, and the centroid distance of the matched ones.

    Last month's persona p is placed at the mean of this month's (standardised) features
    of its members; the Hungarian algorithm pairs new clusters with those centroids at
    minimum total distance. Unmatched clusters get ids after the largest previous id.
    """
    k = len(centroids)
    if previous is None or previous.empty or "persona_id" not in previous.columns:
        return list(range(1, k + 1)), {}
    position = pd.Series(np.arange(len(customer_ids)), index=customer_ids.astype("str").to_numpy())
    prev = previous[["customer_id", "persona_id"]].dropna()
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
    """One row per persona (and a final all-customers row) with its card figures.

    Columns: persona_id, persona, customers, share, revenue_share, avg_revenue,
    revenue_index (avg revenue / overall average), orders_365d, aov, recency_days,
    discount_share, main_channel (text), top_categories (text), avg_csat, avg_nps, age,
    active_share (new + active stage), highlights (text: the three most distinctive
    features against the average).
    """
    fmt = Formatter(lang, currency)
    data = profile.reset_index(drop=True)
    seg = segments.reset_index(drop=True)
    pid = seg["persona_id"].to_numpy()
    revenue = data["monetary_365d"].to_numpy(dtype=float)
    total_revenue = revenue.sum()
    overall_avg = revenue.mean() if len(revenue) else 0.0
    channels = [c for c in ("channel_share_online", "channel_share_app", "channel_share_store") if c in data.columns]
    categories = [c for c in data.columns if c.startswith(CATEGORY_PREFIX)]
    rows = []
    groups = [(p, pid == p, model.name(p, lang)) for p in model.ids] + [(0, np.ones(len(pid), bool), t("personas.all", lang))]
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
                "highlights": "" if persona_id == 0 else _highlights(model, persona_id, data, mask, fmt, lang),
            }
        )
    return pd.DataFrame(rows)


def _mean(part: pd.DataFrame, column: str) -> float:
    """Mean of a profile column (NaN when absent or empty)."""
    if column not in part.columns or part.empty:
        return np.nan
    return float(pd.to_numeric(part[column], errors="coerce").mean())


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
    path = personas_path(snapshot_dir)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(model.to_json(), ensure_ascii=False, indent=2), encoding="utf-8")
    tmp.replace(path)
    return path


def load_personas(snapshot_dir: Path) -> dict | None:
    """A month's personas.json, or None when that month has none."""
    path = personas_path(snapshot_dir)
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


# --------------------------------------------------------------------------- display

CARD_VALUE_COLUMNS = {
    "persona": "text", "customers": "int", "share": "pct", "revenue_share": "pct", "avg_revenue": "money",
    "revenue_index": "num2", "orders_365d": "num1", "aov": "money", "recency_days": "days", "active_share": "pct",
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
             currency: str = "CNY"):  # -> ipywidgets.Widget (imported lazily: only JupyterLab needs it)
    """An interactive widget: pick clustering features and k, see the persona cards update."""
    import ipywidgets as widgets

    from kit.report import blocks

    options = sorted(available_features(profile))
    pick = widgets.SelectMultiple(
        options=options, value=tuple(f for f in default_features(profile) if f in options),
        description=t("personas.explore.features", lang), rows=12,
    )
    k = widgets.IntSlider(value=config.persona_k_min, min=max(config.persona_k_min, 2), max=config.persona_k_max, description="k")
    button = widgets.Button(description=t("personas.explore.update", lang))
    output = widgets.HTML()
    fmt = Formatter(lang, currency)

    def update(_: object = None) -> None:
        if not pick.value:
            output.value = blocks.banner(t("personas.explore.empty", lang), "warning")
            return
        model = fit_personas(profile, config, features=list(pick.value), k=k.value)
        cards = persona_cards(profile, segments.assign(persona_id=model.labels.to_numpy()), model, lang, currency)
        table, formats = card_view(cards, {**CARD_VALUE_COLUMNS, "highlights": "text"}, lang)
        output.value = blocks.table(table, fmt, formats)

    button.on_click(update)
    update()
    return widgets.VBox([widgets.HBox([pick, k]), button, output])
