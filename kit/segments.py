"""Customer layers (客户分层): RFM scores and segments, value tiers and lifecycle stages.

Input is the customer profile of a month (``kit.features``, snapshots/<month>/profile.parquet);
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

Value tiers rank customers by revenue in the last 365 days: the top customers who make
the first ``value_tier_shares[0]`` of revenue are "high", the next ones up to
``value_tier_shares[1]`` "medium", the rest (including zero spenders) "low".

Lifecycle stages (``lifecycle_stage``), in days before the snapshot date, first match wins:
new = first order at most ``new_days`` ago; active = last order at most ``active_days``
ago; silent = last order at most ``silent_days`` ago; churned = older; prospect = never
ordered. The demo generator and the experiment readout use the same function.

Personas come from ``kit.personas``: persona_id and persona (name in English), and
persona_basis, how the persona was found: "orders" (k-means on buying habits), "profile"
(never ordered: placed from sign-up channel, tenure and app browsing, which ``run_month``
reads from the events table) or "none" (no signal at all: persona_id -1, "Not enough data
yet").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from kit.config import KitConfig, SegmentationConfig
from kit.report.fmt import Formatter
from kit.report.i18n import t
from kit.warehouse import Warehouse, WarehouseError

RFM_SOURCES = {"recency": "recency_days", "frequency": "frequency_all", "monetary": "monetary_all"}
VALUE_COLUMN = "monetary_365d"
PROSPECT = "Prospect"
STAGES = ("new", "active", "silent", "churned", "prospect")
TIERS = ("high", "medium", "low")
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
    personas: "PersonaModel"  # noqa: F821 (kit.personas.PersonaModel; imported lazily)


# --------------------------------------------------------------------------- labels


def _slug(name: str) -> str:
    """The i18n key part of a segment name: "Can't Lose Them" -> "cant_lose_them"."""
    return "".join(c for c in name.lower().replace(" ", "_").replace("-", "_") if c.isalnum() or c == "_")


def segment_label(name: str, lang: str = "en") -> str:
    """The display label of an RFM / cn8 segment, lifecycle stage or value tier name."""
    if name in STAGES:
        return t(f"segments.stage.{name}", lang)
    if name in TIERS:
        return t(f"segments.tier.{name}", lang)
    return t(f"segments.seg.{_slug(name)}", lang)


def segment_action(name: str, lang: str = "en") -> str:
    """The one-line recommended action for a segment, stage or tier name."""
    if name in STAGES:
        return t(f"segments.stage.{name}.action", lang)
    if name in TIERS:
        return t(f"segments.tier.{name}.action", lang)
    return t(f"segments.seg.{_slug(name)}.action", lang)


# --------------------------------------------------------------------------- RFM


def _check_columns(profile: pd.DataFrame, columns: list[str], what: str) -> None:
    """Raise a clear error when the profile lacks columns that ``what`` needs."""
    missing = [c for c in columns if c not in profile.columns]
    if missing:
        raise KeyError(
            f"{what} needs profile column(s) {missing} (profile has {len(profile):,} rows). "
            "Rebuild snapshots/<month>/profile.parquet with kit.features.build_features (02_tags)."
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


# --------------------------------------------------------------------------- value tiers


def value_tiers(value: pd.Series, shares: list[float]) -> pd.Series:
    """high / medium / low by cumulative share of revenue, biggest customers first.

    A customer is "high" when the customers spending strictly more than them make less
    than ``shares[0]`` of the total (so the customer crossing the threshold is included),
    "medium" below ``shares[1]``, else "low". Equal spenders always share a tier; zero and
    missing spend is "low".
    """
    if len(shares) != 2 or not 0 < shares[0] < shares[1] <= 1:
        raise ValueError(f"segmentation.value_tier_shares must be two increasing fractions in (0, 1], got {shares}")
    amounts = np.clip(np.nan_to_num(value.to_numpy(dtype=float), nan=0.0), 0, None)
    total = amounts.sum()
    if total <= 0:
        return pd.Series("low", index=value.index, dtype="str", name="value_tier")
    ordered = np.sort(amounts)
    cumulative = np.concatenate([[0.0], np.cumsum(ordered)])
    at_most = cumulative[np.searchsorted(ordered, amounts, side="right")]
    share_above = (total - at_most) / total
    tiers = np.where(amounts <= 0, "low", np.where(share_above < shares[0], "high",
                     np.where(share_above < shares[1], "medium", "low")))
    return pd.Series(tiers, index=value.index, dtype="str", name="value_tier")


# --------------------------------------------------------------------------- lifecycle


def _days_before(snapshot: pd.Series, when: pd.Series) -> np.ndarray:
    """Whole calendar days from ``when`` to the snapshot date (NaN when ``when`` is missing)."""
    snap = pd.to_datetime(snapshot).dt.normalize()
    days = (snap - pd.to_datetime(when).dt.normalize()).dt.days
    return days.to_numpy(dtype=float, na_value=np.nan)


def lifecycle_stage(profile: pd.DataFrame, config: KitConfig | SegmentationConfig) -> pd.Series:
    """new / active / silent / churned / prospect per customer (see the module docstring).

    Needs snapshot_date, first_order_date and last_order_date; a customer without a last
    order date has never ordered (prospect). Thresholds are inclusive day counts.
    """
    seg = _segmentation_config(config)
    _check_columns(profile, ["snapshot_date", "first_order_date", "last_order_date"], "lifecycle_stage")
    first_age = _days_before(profile["snapshot_date"], profile["first_order_date"])
    recency = _days_before(profile["snapshot_date"], profile["last_order_date"])
    stage = np.select(
        [np.isnan(recency), first_age <= seg.new_days, recency <= seg.active_days, recency <= seg.silent_days],
        ["prospect", "new", "active", "silent"],
        default="churned",
    )
    return pd.Series(stage, index=profile.index, dtype="str", name="lifecycle_stage")


def _segmentation_config(config: KitConfig | SegmentationConfig) -> SegmentationConfig:
    """The segmentation section of a whole config, or the section itself."""
    return config.segmentation if isinstance(config, KitConfig) else config


# --------------------------------------------------------------------------- summaries


def layer_summary(segments: pd.DataFrame, value: pd.Series, column: str, order: list[str], lang: str = "en") -> pd.DataFrame:
    """Size and 12-month revenue of each layer of ``column`` with its recommended action.

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
    out["label"] = [segment_label(n, lang) for n in out["name"]]
    out["action"] = [segment_action(n, lang) for n in out["name"]]
    return out[["name", "label", "customers", "share", "revenue", "revenue_share", "avg_revenue", "action"]]


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


def for_display(frame: pd.DataFrame, formats: dict[str, str], lang: str) -> tuple[pd.DataFrame, dict[str, str]]:
    """``frame`` with translated column headers (key segments.col.<column>) and its formats."""
    names = {c: t(f"segments.col.{c}", lang) for c in frame.columns}
    return frame.rename(columns=names), {names[c]: kind for c, kind in formats.items() if c in names}


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
    (``kit.personas.browsing_features``) helps place customers who never ordered. All may be None.
    """
    from kit.personas import fit_personas  # personas import this module's labels

    seg = _segmentation_config(config)
    _check_columns(profile, ["customer_id", VALUE_COLUMN], "segmentation")
    duplicated = profile["customer_id"].duplicated()
    if duplicated.any():
        raise ValueError(
            f"profile has {int(duplicated.sum()):,} duplicated customer_id rows out of {len(profile):,} "
            f"(e.g. {profile.loc[duplicated, 'customer_id'].iloc[0]}); rebuild profile.parquet (02_tags)."
        )
    profile = profile.reset_index(drop=True)
    scores = rfm_scores(profile, seg)
    model = fit_personas(profile, seg, previous, previous_cards, browsing=browsing)
    segments = pd.DataFrame(
        {
            "customer_id": profile["customer_id"].astype("str"),
            "r_score": scores["r_score"],
            "f_score": scores["f_score"],
            "m_score": scores["m_score"],
            "rfm_segment": rfm_segments(profile, scores, seg),
            "value_tier": value_tiers(profile[VALUE_COLUMN], seg.value_tier_shares),
            "lifecycle_stage": lifecycle_stage(profile, seg),
            "persona_id": model.labels,
            "persona": pd.Series(model.names_for(model.labels), dtype="str"),
            "persona_basis": model.basis,
        }
    )
    return SegmentationResult(segments=segments, personas=model)


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


@dataclass(frozen=True)
class MonthRun:
    """One month's segmentation with what the 03_segmentation page shows."""

    month: str
    previous_month: str
    profile: pd.DataFrame
    result: SegmentationResult
    previous: pd.DataFrame | None  # last month's segments.parquet, None when missing
    config: SegmentationConfig
    browsing: pd.DataFrame | None = None  # kit.personas.browsing_features, None without events

    @property
    def segments(self) -> pd.DataFrame:
        """This month's segments (segments.parquet rows)."""
        return self.result.segments

    @property
    def value(self) -> pd.Series:
        """12-month revenue per customer, aligned with ``segments``."""
        return self.profile[VALUE_COLUMN].astype(float).fillna(0.0).reset_index(drop=True)


def run_month(wh: Warehouse, month: str, config: KitConfig) -> MonthRun:
    """Read the month's profile and last month's segments, and segment the customers.

    Raises ``WarehouseError`` naming profile.parquet and the step that writes it (02_tags)
    when the profile is missing; a missing previous month is not an error (``previous``
    is None and the page says so), nor is a missing events table (no browsing signals).
    """
    from kit.dates import previous_month
    from kit.personas import browsing_features, load_personas

    if not wh.has_snapshot(month, "profile"):
        raise WarehouseError(
            f"profile.parquet for {month} not found at {wh.snapshot_path(month, 'profile')}: run the "
            f"02_tags notebook for {month} first (kit run --month {month})."
        )
    profile = wh.read_snapshot(month, "profile").reset_index(drop=True)
    before = previous_month(month)
    previous = wh.read_snapshot(before, "segments") if wh.has_snapshot(before, "segments") else None
    cards = load_personas(wh.snapshot_path(before, "segments").parent) if previous is not None else None
    browsing = browsing_features(wh, month) if wh.table_path("events").exists() else None
    result = run_segmentation(profile, config, previous, cards, browsing)
    return MonthRun(month, before, profile, result, previous, _segmentation_config(config), browsing)


def write_month(wh: Warehouse, run: MonthRun) -> list[Path]:
    """Write segments.parquet and personas.json into the month's snapshot folder."""
    from kit.personas import save_personas

    return [wh.write_snapshot(run.month, "segments", run.segments), save_personas(wh.snapshot_dir(run.month), run.result.personas)]


def headline(run: MonthRun) -> dict[str, float | int | str | None]:
    """The page's headline figures (also saved as metrics for the overview)."""
    seg = run.segments
    value = run.value
    total = float(value.sum())
    best = segment_names(run.config)[0]
    risky = seg["rfm_segment"].isin(AT_RISK[run.config.rfm_scheme]).to_numpy()
    high = (seg["value_tier"] == "high").to_numpy()
    is_best = (seg["rfm_segment"] == best).to_numpy()
    active = seg["lifecycle_stage"].isin(["new", "active"]).to_numpy()
    model = run.result.personas
    return {
        "customers": int(len(seg)),
        "buyers": int(seg["r_score"].notna().sum()),
        "rfm_scheme": run.config.rfm_scheme,
        "best_segment": best,
        "best_segment_share": float(is_best.mean()) if len(seg) else None,
        "best_segment_revenue_share": float(value[is_best].sum() / total) if total > 0 else None,
        "high_value_share": float(high.mean()) if len(seg) else None,
        "high_value_revenue_share": float(value[high].sum() / total) if total > 0 else None,
        "at_risk_customers": int(risky.sum()),
        "at_risk_value": float(value[risky].sum()),
        "active_share": float(active.mean()) if len(seg) else None,
        "churned_share": float((seg["lifecycle_stage"] == "churned").mean()) if len(seg) else None,
        "personas": int(model.k),
        "persona_silhouette": model.silhouette.get(model.k),
        "persona_from_profile_share": float((model.basis == "profile").mean()) if len(seg) else None,
        "persona_unprofiled_share": float((model.basis == "none").mean()) if len(seg) else None,
        "revenue_12m": total,
    }


def findings(run: MonthRun, lang: str, fmt: Formatter, movement_sentence: str | None = None) -> list[str]:
    """Three to five plain-language key findings for the top of the page."""
    figures = headline(run)
    out = []
    if figures["best_segment_share"] is not None and figures["best_segment_revenue_share"] is not None:
        out.append(t("seg03.finding.best", lang, segment=segment_label(figures["best_segment"], lang),
                     share=fmt.pct(figures["best_segment_share"]), revenue=fmt.pct(figures["best_segment_revenue_share"])))
    if figures["high_value_share"] is not None and figures["high_value_revenue_share"] is not None:
        out.append(t("seg03.finding.tiers", lang, share=fmt.pct(figures["high_value_share"]),
                     revenue=fmt.pct(figures["high_value_revenue_share"])))
    labels = [segment_label(n, lang) for n in AT_RISK[run.config.rfm_scheme]]
    out.append(t("seg03.finding.risk", lang, count=fmt.int(figures["at_risk_customers"]), first=labels[0],
                 second=labels[1], value=fmt.money(figures["at_risk_value"], compact=True)))
    cards = run.result.personas
    sizes = cards.labels[cards.labels.isin(cards.ids)].value_counts()
    largest = int(sizes.index[0])
    out.append(t("seg03.finding.personas", lang, k=cards.k, name=cards.name(largest, lang),
                 share=fmt.pct(sizes.iloc[0] / len(cards.labels))))
    out.append(movement_sentence if movement_sentence else t("seg03.finding.no_previous", lang))
    return out


def bench_stage(config: KitConfig) -> dict[str, float | int | str | None]:
    """A ``kit bench`` stage: the whole segmentation step of 03_segmentation for ``run.month``
    (read the profile, RFM, tiers, lifecycle, personas, write the snapshot)."""
    wh = Warehouse.from_config(config)
    run = run_month(wh, config.run.month, config)
    write_month(wh, run)
    return headline(run)


def layer_labeller(wh: Warehouse, month: str, column: str, lang: str) -> Callable[[str], str]:
    """A function giving the display name in ``lang`` of a value of ``column`` of segments.parquet:
    RFM segments through their translations, personas through the month's personas.json."""
    from kit.personas import load_personas

    if column == "persona":
        cards = load_personas(wh.snapshot_dir(month)) or {}
        names = {p["name_en"]: p[f"name_{lang}"] for p in cards.get("personas", [])}
        names[t("personas.unprofiled", "en")] = t("personas.unprofiled", lang)
        return lambda name: names.get(name, name)
    if column == "rfm_segment":
        known = set(RFM11_NAMES) | set(CN8_NAMES) | {PROSPECT}
        return lambda name: segment_label(name, lang) if name in known else name
    raise ValueError(f"no display names for column {column!r}; use persona or rfm_segment")
