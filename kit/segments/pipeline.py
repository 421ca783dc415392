"""Customer layers (客户分层): RFM scores and segments, value tiers and lifecycle stages.

Input is the customer profile of a month (``kit.profile.features``, snapshots/<month>/profile.parquet);
output is one row per customer (``build_segments``), written to segments.parquet.

RFM scores (1-5, 5 = best) use recency_days, frequency_all and monetary_all of customers
who have ordered. Quantile scores are rank based: a customer's score is
``1 + floor(5 * share of ordering customers with a strictly worse value)`` (pandas rank
``method="min"``). Why this and not ``pd.qcut``: equal values always get the same score
(qcut on raw values fails on duplicate edges, qcut on ``rank(method="first")`` splits
identical customers at random), the lowest value always scores 1 (so single-order
customers share F = 1 however many there are), and without ties it gives exact quintiles.
Recency is reversed (fewer days = better). Alternatively ``segmentation.rfm_breaks`` gives
four inclusive upper band edges per measure (business-chosen breaks instead of quantiles).

Named segments come from an ORDERED rule list over (R, F, M): the first matching rule
wins and the last rule matches everything, so every scored customer gets exactly one
segment. Customers who never ordered get no scores and the catch-all segment "Prospect".
``segmentation.rfm_scheme: cn8`` switches to the eight classes Chinese teams use
(重要价值 … 一般挽留): R, F and M each high or low against the mean or median of ordering
customers (``cn8_break``) or against ``cn8_breaks``.

Value tiers and lifecycle stages are the business vocabulary's (kit.core.vocabulary):
one definition for every page, the demo generator and the experiment readout.

Personas come from ``kit.segments.personas``: persona_id and persona (the English name, the
persona's key: the same for en and zh runs), and persona_basis, how the persona was found: "orders" (k-means on buying habits), "profile"
(never ordered: placed from sign-up channel, tenure and app browsing, which ``run_month``
reads from the events table) or "none" (no signal at all: persona_id -1, "Not enough data
yet").

``run_month`` is the stage: it returns a ``MonthRun`` (segments, personas, movement since last
month) whose ``write(wh)`` writes the snapshots and ``headline()`` the figures for metrics.json.
Everything here computes with codes (segment, stage and tier names, persona ids and traits);
kit.segments.page turns them into the words and charts of the 03_segmentation page.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property

import numpy as np
import pandas as pd

from kit.core.config import KitConfig, SegmentationConfig
from kit.core.dates import previous_month
from kit.core.inputs import Inputs
from kit.core.vocabulary import (
    STAGES,
    TIERS,
    VALUE_COLUMN,
    Vocabulary,
    customer_counts,
    lifecycle_stage,
    value_tiers,
)
from kit.core.warehouse import Warehouse, WarehouseError
from kit.segments.movement import stay_rate, transitions
from kit.segments.personas import (
    PersonaModel,
    browsing_features,
    fit_personas,
    load_personas,
    persona_cards,
    save_personas,
)

RFM_SOURCES = {"recency": "recency_days", "frequency": "frequency_all", "monetary": "monetary_all"}
PROSPECT = "Prospect"
SEGMENT_COLUMNS = (
    "customer_id", "r_score", "f_score", "m_score", "rfm_segment",
    "value_tier", "lifecycle_stage", "persona_id", "persona", "persona_basis",
)


@dataclass(frozen=True)
class SegmentRule:
    """A named segment: inclusive score ranges on R, F and M (all 1-5 = catch-all)."""

    name: str
    r: tuple[int, int] = (1, 5)
    f: tuple[int, int] = (1, 5)
    m: tuple[int, int] = (1, 5)

    def matches(self, r: int, f: int, m: int) -> bool:
        """Whether scores (r, f, m) fall inside all three ranges."""
        return self.r[0] <= r <= self.r[1] and self.f[0] <= f <= self.f[1] and self.m[0] <= m <= self.m[1]


# Ordered: first match wins; the last rule has no condition (guaranteed catch-all).
RFM11_RULES: tuple[SegmentRule, ...] = (
    SegmentRule("Champions", r=(4, 5), f=(4, 5), m=(4, 5)),
    SegmentRule("Loyal", r=(3, 5), f=(3, 5), m=(3, 5)),
    SegmentRule("Can't Lose Them", r=(1, 1), f=(4, 5), m=(4, 5)),
    SegmentRule("At Risk", r=(1, 2), f=(3, 5), m=(3, 5)),
    SegmentRule("New", r=(4, 5), f=(1, 1)),
    SegmentRule("Potential Loyalist", r=(4, 5)),
    SegmentRule("Promising", r=(3, 3), f=(1, 1)),
    SegmentRule("Need Attention", r=(3, 3)),
    SegmentRule("About to Sleep", r=(2, 2)),
    SegmentRule("Hibernating", r=(1, 1), f=(2, 5)),
    SegmentRule("Lost"),
)
RFM11_NAMES = tuple(rule.name for rule in RFM11_RULES)

# cn8: (R high, F high, M high) -> class name
CN8_CLASSES: dict[tuple[bool, bool, bool], str] = {
    (True, True, True): "Important value",
    (True, False, True): "Important development",
    (False, True, True): "Important retention",
    (False, False, True): "Important win-back",
    (True, True, False): "General value",
    (True, False, False): "General development",
    (False, True, False): "General retention",
    (False, False, False): "General win-back",
}
CN8_NAMES = tuple(CN8_CLASSES.values())


@dataclass(frozen=True)
class SegmentationResult:
    """Everything the segmentation step produces for one month."""

    segments: pd.DataFrame  # one row per customer, SEGMENT_COLUMNS
    personas: PersonaModel


# --------------------------------------------------------------------------- RFM


def _check_columns(profile: pd.DataFrame, columns: list[str], what: str) -> None:
    """Raise a clear error when the profile lacks columns that ``what`` needs."""
    missing = [c for c in columns if c not in profile.columns]
    if missing:
        raise KeyError(
            f"{what} needs profile column(s) {missing} (profile has {len(profile):,} rows). "
            "Rebuild snapshots/<month>/profile.parquet with kit.profile.features.build_features (02_tags)."
        )


def ordered_mask(profile: pd.DataFrame) -> np.ndarray:
    """Customers who have ordered at least once (has_ordered, else a known recency)."""
    if "has_ordered" in profile.columns:
        return profile["has_ordered"].fillna(False).to_numpy(dtype=bool)
    return profile["recency_days"].notna().to_numpy()


def quantile_scores(values: np.ndarray, higher_is_better: bool = True) -> np.ndarray:
    """1-5 scores: 1 + floor(5 x share of customers with a strictly worse value)."""
    n = len(values)
    if n == 0:
        return np.zeros(0, dtype=np.int8)
    oriented = values if higher_is_better else -values
    worse = pd.Series(oriented).rank(method="min").to_numpy() - 1
    return np.clip(np.floor(5 * worse / n) + 1, 1, 5).astype(np.int8)


def break_scores(values: np.ndarray, breaks: list[float], higher_is_better: bool = True) -> np.ndarray:
    """1-5 scores from four increasing inclusive upper band edges.

    Higher is better (frequency, monetary): value <= breaks[0] scores 1, ... above
    breaks[3] scores 5. Lower is better (recency): value <= breaks[0] scores 5 ... above
    breaks[3] scores 1.
    """
    edges = np.asarray(breaks, dtype=float)
    if edges.shape != (4,) or not np.all(np.diff(edges) > 0):
        raise ValueError(
            f"segmentation.rfm_breaks: expected 4 strictly increasing numbers per measure, got {list(breaks)}"
        )
    above = np.searchsorted(edges, values, side="left")  # number of edges strictly below value
    scores = 1 + above if higher_is_better else 5 - above
    return scores.astype(np.int8)


def rfm_scores(profile: pd.DataFrame, config: SegmentationConfig) -> pd.DataFrame:
    """r_score, f_score, m_score (nullable Int8, NA for never-ordered), index as profile."""
    _check_columns(profile, list(RFM_SOURCES.values()), "RFM scoring")
    unknown = set(config.rfm_breaks) - set(RFM_SOURCES)
    if unknown:
        raise ValueError(f"segmentation.rfm_breaks: unknown key(s) {sorted(unknown)}; use {list(RFM_SOURCES)}")
    mask = ordered_mask(profile)
    out = pd.DataFrame(index=profile.index)
    for measure, column in RFM_SOURCES.items():
        values = profile[column].to_numpy(dtype=float)[mask]
        values = np.nan_to_num(values, nan=np.nanmax(values) if measure == "recency" and len(values) else 0.0)
        better_high = measure != "recency"
        if measure in config.rfm_breaks:
            scores = break_scores(values, config.rfm_breaks[measure], better_high)
        else:
            scores = quantile_scores(values, better_high)
        full = np.full(len(profile), np.nan)
        full[mask] = scores
        out[f"{measure[0]}_score"] = pd.array(full, dtype="Float64").astype("Int8")
    return out


def first_match(rules: tuple[SegmentRule, ...], r: int, f: int, m: int) -> str:
    """The name of the first rule matching (r, f, m); rules must end with a catch-all."""
    for rule in rules:
        if rule.matches(r, f, m):
            return rule.name
    raise ValueError(f"no segment rule matches R={r}, F={f}, M={m}: the rule list needs a catch-all last")


def rfm11_segments(scores: pd.DataFrame) -> pd.Series:
    """Named RFM segment per customer (first matching rule); "Prospect" when unscored."""
    lookup = np.array(
        [first_match(RFM11_RULES, r, f, m) for r in range(1, 6) for f in range(1, 6) for m in range(1, 6)],
        dtype=object,
    )
    r, f, m = (scores[c].fillna(0).to_numpy(dtype=np.int64) for c in ("r_score", "f_score", "m_score"))
    scored = r > 0
    idx = np.where(scored, (r - 1) * 25 + (f - 1) * 5 + (m - 1), 0)
    names = np.where(scored, lookup[idx], PROSPECT)
    return pd.Series(names, index=scores.index, dtype="str", name="rfm_segment")


def cn8_breaks(profile: pd.DataFrame, config: SegmentationConfig) -> dict[str, float]:
    """The high/low break per measure: config.cn8_breaks, else mean/median of orderers."""
    unknown = set(config.cn8_breaks) - set(RFM_SOURCES)
    if unknown:
        raise ValueError(f"segmentation.cn8_breaks: unknown key(s) {sorted(unknown)}; use {list(RFM_SOURCES)}")
    mask = ordered_mask(profile)
    breaks = {}
    for measure, column in RFM_SOURCES.items():
        if measure in config.cn8_breaks:
            breaks[measure] = float(config.cn8_breaks[measure])
        else:
            values = profile.loc[mask, column].astype(float)
            breaks[measure] = float(values.mean() if config.cn8_break == "mean" else values.median())
    return breaks


def cn8_segments(profile: pd.DataFrame, config: SegmentationConfig) -> pd.Series:
    """The eight-class scheme: R high = recency <= break, F/M high = value > break."""
    _check_columns(profile, list(RFM_SOURCES.values()), "cn8 segmentation")
    breaks = cn8_breaks(profile, config)
    r_high = profile["recency_days"].to_numpy(dtype=float) <= breaks["recency"]
    f_high = profile["frequency_all"].to_numpy(dtype=float) > breaks["frequency"]
    m_high = profile["monetary_all"].to_numpy(dtype=float) > breaks["monetary"]
    lookup = np.array([CN8_CLASSES[(bool(i & 4), bool(i & 2), bool(i & 1))] for i in range(8)], dtype=object)
    names = lookup[r_high.astype(int) * 4 + f_high.astype(int) * 2 + m_high.astype(int)]
    names = np.where(ordered_mask(profile), names, PROSPECT)
    return pd.Series(names, index=profile.index, dtype="str", name="rfm_segment")


def rfm_segments(profile: pd.DataFrame, scores: pd.DataFrame, config: SegmentationConfig) -> pd.Series:
    """The segment of every customer under ``config.rfm_scheme`` (rfm11 or cn8)."""
    return rfm11_segments(scores) if config.rfm_scheme == "rfm11" else cn8_segments(profile, config)


def segment_names(config: SegmentationConfig) -> list[str]:
    """All segment names of the configured scheme, in display order, Prospect last."""
    return [*(RFM11_NAMES if config.rfm_scheme == "rfm11" else CN8_NAMES), PROSPECT]


def _segmentation_config(config: KitConfig | SegmentationConfig) -> SegmentationConfig:
    """The segmentation section of a whole config, or the section itself."""
    return config.segmentation if isinstance(config, KitConfig) else config


# --------------------------------------------------------------------------- summaries


def layer_summary(segments: pd.DataFrame, value: pd.Series, column: str, order: list[str]) -> pd.DataFrame:
    """Size and 12-month revenue of each layer of ``column`` (name = the layer's code).

    ``value`` is revenue per customer aligned with ``segments`` rows (monetary_365d).
    Layers in ``order`` come first (empty ones are dropped), unknown ones after.
    """
    frame = pd.DataFrame({"name": segments[column].astype("str").to_numpy(), "revenue": value.to_numpy(dtype=float)})
    grouped = frame.groupby("name", sort=False)["revenue"].agg(customers="size", revenue="sum")
    names = [n for n in order if n in grouped.index] + [n for n in grouped.index if n not in order]
    out = grouped.loc[names].reset_index()
    total_revenue = out["revenue"].sum()
    out["share"] = out["customers"] / out["customers"].sum()
    out["revenue_share"] = out["revenue"] / total_revenue if total_revenue > 0 else 0.0
    out["avg_revenue"] = out["revenue"] / out["customers"]
    return out[["name", "customers", "share", "revenue", "revenue_share", "avg_revenue"]]


def rfm_grid(segments: pd.DataFrame, value: pd.Series) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Customer counts and average 12-month revenue on the R (rows, 5 = recent) x F grid."""
    scored = segments["r_score"].notna().to_numpy()
    frame = pd.DataFrame(
        {
            "R": segments["r_score"].to_numpy()[scored].astype(int),
            "F": segments["f_score"].to_numpy()[scored].astype(int),
            "value": value.to_numpy(dtype=float)[scored],
        }
    )
    full = pd.Index(range(1, 6))
    counts = frame.pivot_table(index="R", columns="F", values="value", aggfunc="size", fill_value=0)
    counts = counts.reindex(index=full[::-1], columns=full, fill_value=0)
    mean = frame.pivot_table(index="R", columns="F", values="value", aggfunc="mean")
    mean = mean.reindex(index=full[::-1], columns=full)
    return counts, mean


# --------------------------------------------------------------------------- the step


def run_segmentation(
    profile: pd.DataFrame,
    config: KitConfig | SegmentationConfig,
    previous: pd.DataFrame | None = None,
    previous_cards: dict | None = None,
    browsing: pd.DataFrame | None = None,
) -> SegmentationResult:
    """All layers and personas for one month's profile.

    ``previous`` (last month's segments.parquet) keeps persona ids stable and
    ``previous_cards`` (last month's personas.json) keeps their names; ``browsing``
    (``kit.segments.personas.browsing_features``) helps place customers who never ordered. All may be None.
    """
    seg = _segmentation_config(config)
    _check_columns(profile, ["customer_id", VALUE_COLUMN], "segmentation")
    duplicated = profile["customer_id"].duplicated()
    if duplicated.any():
        raise ValueError(
            f"profile has {int(duplicated.sum()):,} duplicated customer_id rows out of {len(profile):,} "
            f"(e.g. {profile.loc[duplicated, 'customer_id'].iloc[0]}); rebuild profile.parquet (02_tags)."
        )
    profile = profile.reset_index(drop=True)
    model = fit_personas(profile, seg, previous, previous_cards, browsing=browsing)
    segments = pd.concat([profile[["customer_id"]].astype("str"), rfm_layers(profile, seg)], axis=1).assign(
        persona_id=model.labels,
        persona=pd.Series(model.names_for(model.labels), dtype="str"),  # English name: the key
        persona_basis=model.basis,
    )
    return SegmentationResult(segments=segments[list(SEGMENT_COLUMNS)], personas=model)


def rfm_layers(profile: pd.DataFrame, config: KitConfig | SegmentationConfig) -> pd.DataFrame:
    """The layers of every customer of a profile, without personas (index as ``profile``):
    r_score, f_score, m_score, rfm_segment, value_tier and lifecycle_stage (the last two
    are kit.core.vocabulary's: one definition for every page)."""
    seg = _segmentation_config(config)
    _check_columns(profile, [VALUE_COLUMN, "days_since_first_order"], "segmentation")
    scores = rfm_scores(profile, seg)
    return scores.assign(
        rfm_segment=rfm_segments(profile, scores, seg),
        value_tier=value_tiers(profile[VALUE_COLUMN], seg.value_tier_shares),
        lifecycle_stage=lifecycle_stage(profile, seg),
    )


def build_segments(
    profile: pd.DataFrame,
    config: KitConfig | SegmentationConfig,
    previous: pd.DataFrame | None = None,
    previous_cards: dict | None = None,
    browsing: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """segments.parquet for one month: one row per customer with SEGMENT_COLUMNS."""
    return run_segmentation(profile, config, previous, previous_cards, browsing).segments


# --------------------------------------------------------------------------- the monthly run

AT_RISK = {"rfm11": ("At Risk", "Can't Lose Them"), "cn8": ("Important retention", "Important win-back")}
MOVEMENT_COLUMNS = ("lifecycle_stage", "rfm_segment")  # the layers whose movement the page shows


@dataclass(frozen=True)
class MonthRun:
    """One month's segmentation: the result, its inputs and the movement since last month."""

    month: str
    previous_month: str
    profile: pd.DataFrame
    result: SegmentationResult
    previous: pd.DataFrame | None  # last month's segments.parquet, None when missing
    config: SegmentationConfig
    kit_config: KitConfig  # the whole config: the business vocabulary's thresholds (headline)
    browsing: pd.DataFrame | None = None  # kit.segments.personas.browsing_features, None without events
    moves: dict[str, pd.DataFrame] = field(default_factory=dict)  # column -> transitions; empty without last month
    inputs: Inputs | None = None  # what data the warehouse holds (None: not known, e.g. a profile given by hand)

    @property
    def segments(self) -> pd.DataFrame:
        """This month's segments (segments.parquet rows)."""
        return self.result.segments

    @property
    def personas(self) -> PersonaModel:
        """This month's personas."""
        return self.result.personas

    @property
    def value(self) -> pd.Series:
        """12-month revenue per customer, aligned with ``segments``."""
        return self.profile[VALUE_COLUMN].astype(float).fillna(0.0).reset_index(drop=True)

    @cached_property
    def cards(self) -> pd.DataFrame:
        """``kit.segments.personas.persona_cards`` of the month (numbers and codes; computed once)."""
        return persona_cards(self.profile, self.segments, self.personas)

    def summary(self, column: str) -> pd.DataFrame:
        """``layer_summary`` of ``column`` (rfm_segment, value_tier or lifecycle_stage) in display order."""
        order = {"rfm_segment": segment_names(self.config), "value_tier": list(TIERS), "lifecycle_stage": list(STAGES)}
        return layer_summary(self.segments, self.value, column, order[column])

    def stay_rate(self) -> float | None:
        """Share of last month's customers still in the same RFM segment (None without last month)."""
        return stay_rate(self.moves["rfm_segment"]) if self.moves else None

    def write(self, wh: Warehouse) -> None:
        """Write segments.parquet and personas.json into the month's snapshot folder (returns
        nothing: a notebook cell ending in ``run.write(...)`` shows no server path)."""
        wh.write_snapshot(self.month, "segments", self.segments)
        save_personas(wh.snapshot_dir(self.month), self.personas)

    def headline(self) -> dict[str, float | int | str | list[str] | bool | None]:
        """The month's headline figures for metrics.json (codes and numbers only).

        Customer counts are the business vocabulary's (``customer_counts``: the same numbers
        as every other page). ``at_risk_segments_revenue`` is the past 12-month revenue of
        the two slipping RFM segments (AT_RISK), not the vocabulary's value at risk
        (p(churn) x CLV, 05_churn). ``persona_names`` are the English names (the keys of
        segments.parquet's ``persona``).
        """
        seg = self.segments
        value = self.value
        total = float(value.sum())
        n = len(seg)
        counts = customer_counts(self.profile, Vocabulary.from_config(self.kit_config))
        best = segment_names(self.config)[0]
        risky = seg["rfm_segment"].isin(AT_RISK[self.config.rfm_scheme]).to_numpy()
        is_best = (seg["rfm_segment"] == best).to_numpy()
        model = self.personas
        return {
            **counts,
            "rfm_scheme": self.config.rfm_scheme,
            "best_segment": best,
            "best_segment_share": float(is_best.mean()) if n else None,
            "best_segment_revenue_share": float(value[is_best].sum() / total) if total > 0 else None,
            "high_value_share": counts["high_value_customers"] / n if n else None,
            "at_risk_customers": int(risky.sum()),
            "at_risk_segments_revenue": float(value[risky].sum()),
            "active_share": counts["active_customers"] / n if n else None,
            "churned_share": counts["churned_customers"] / n if n else None,
            "personas": int(model.k),
            "persona_silhouette": model.silhouette.get(model.k),
            "persona_from_profile_share": float((model.basis == "profile").mean()) if n else None,
            "persona_unprofiled_share": float((model.basis == "none").mean()) if n else None,
            "revenue_12m": total,
            "persona_names": [model.name(p) for p in model.ids],
            "rfm_stay_rate": self.stay_rate(),
            "previous_month_found": self.previous is not None,
            "one_time_share": self.one_time_share(),
        }

    def one_time_share(self) -> float | None:
        """Share of the buyers with exactly one order (None without buyers)."""
        bought = ordered_mask(self.profile)
        if not bought.any():
            return None
        return float((self.profile.loc[bought, "frequency_all"].to_numpy(dtype=float) == 1).mean())


def run_month(wh: Warehouse, month: str, config: KitConfig) -> MonthRun:
    """Read the month's profile and last month's segments, segment the customers and measure
    who moved between layers since last month.

    Raises ``WarehouseError`` naming profile.parquet and the step that writes it (02_tags)
    when the profile is missing; a missing previous month is not an error (``previous``
    is None, ``moves`` empty and the page says so), nor is a missing or empty events table
    (no browsing signals). The run carries the warehouse's ``Inputs`` for the page.
    """
    if not wh.has_snapshot(month, "profile"):
        raise WarehouseError(
            f"profile.parquet for {month} not found at {wh.snapshot_path(month, 'profile')}: run the "
            f"02_tags notebook for {month} first (kit run --month {month})."
        )
    profile = wh.read_snapshot(month, "profile").reset_index(drop=True)
    before = previous_month(month)
    previous = wh.read_snapshot(before, "segments") if wh.has_snapshot(before, "segments") else None
    cards = load_personas(wh.snapshot_path(before, "segments").parent) if previous is not None else None
    inputs = wh.inputs()
    browsing = browsing_features(wh, month) if inputs.has("events") else None
    return replace(segment_month(month, profile, config, previous, cards, browsing), inputs=inputs)


def segment_month(
    month: str,
    profile: pd.DataFrame,
    config: KitConfig,
    previous: pd.DataFrame | None = None,
    previous_cards: dict | None = None,
    browsing: pd.DataFrame | None = None,
) -> MonthRun:
    """``run_month`` on inputs already read: segments, personas and movement since ``previous``
    (last month's segments.parquet; None = no movement)."""
    profile = profile.reset_index(drop=True)
    result = run_segmentation(profile, config, previous, previous_cards, browsing)
    value = profile[VALUE_COLUMN].astype(float).fillna(0.0)
    moves = {} if previous is None else {c: transitions(previous, result.segments, c, value) for c in MOVEMENT_COLUMNS}
    return MonthRun(month, previous_month(month), profile, result, previous, config.segmentation, config, browsing, moves)


def bench_stage(config: KitConfig) -> dict[str, float | int | str | list[str] | bool | None]:
    """A ``kit bench`` stage: the whole segmentation step of 03_segmentation for ``run.month``
    (read the profile, RFM, tiers, lifecycle, personas, movement, write the snapshot)."""
    wh = Warehouse.from_config(config)
    run = run_month(wh, config.run.month, config)
    run.write(wh)
    return run.headline()
