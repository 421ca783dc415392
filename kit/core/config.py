"""The kit's configuration: one YAML file loaded into frozen, typed dataclasses.

Why dataclasses and a small hand-written validator instead of a schema library: the
config has a few dozen keys, and the errors must speak the analyst's language (file, key
path, what is allowed, the closest valid key), which is simplest to guarantee here.

Every section below is one dataclass. Each field's type hint is the contract: the loader
checks values against it (str, int, float, bool, Path, Literal, list, dict, optional,
nested sections) and rejects unknown keys, keys given twice (kit.core.strict_yaml) and numbers
outside their range (``RANGES``, checked on load). Relative paths resolve from the config file's
folder's parent when the config lives in ``config/`` (the project root), else from the
config file's folder, never from the current directory.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import re
import types
import typing
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Literal

import yaml

from kit.core.strict_yaml import load_strict_yaml

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CONFIG = PROJECT_ROOT / "config" / "kit.yml"
# ASCII digits only (\d would take full-width ones) and \Z, not $ (which allows a final newline).
MONTH_PATTERN = re.compile(r"^[0-9]{4}-(0[1-9]|1[0-2])\Z")
DATE_PATTERN = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}\Z")


class ConfigError(ValueError):
    """A config file is wrong: the message names the file, the key and what is allowed."""


# --------------------------------------------------------------------------- sections


@dataclass(frozen=True)
class ProjectConfig:
    """Who the reports are about."""

    name: str = "Demo Retail"
    currency: str = "CNY"
    timezone: str = "Asia/Shanghai"


@dataclass(frozen=True)
class RunConfig:
    """What `kit run` executes and how."""

    month: str = "2026-10"
    lang: Literal["en", "zh"] = "en"
    notebooks: list[str] = field(
        default_factory=lambda: [
            "01_ingest",
            "02_tags",
            "03_segmentation",
            "04_clv",
            "05_churn",
            "06_experiment_readout",
            "07_overview",
        ]
    )
    kernel_name: str = "python3"
    timeout_seconds: int = 1800


@dataclass(frozen=True)
class PathsConfig:
    """Folders. Relative paths resolve from the project root (see module docstring)."""

    raw: Path = Path("data/raw/demo")
    warehouse: Path = Path("data/warehouse")
    reports: Path = Path("reports")
    notebooks: Path = Path("notebooks")
    # interactive sessions (a notebook run by hand, `kit lab`) read and write only here,
    # in <scratch>/<user>/ (kit.core.scratch); only `kit run` writes the published warehouse
    scratch: Path = Path("data/scratch")
    # ingest's parse cache: the loaded rows of every raw file, personal data included
    # (kit.ingest.cache), so never inside warehouse or reports, which are copied and shared
    ingest_cache: Path = Path("data/ingest_cache")


Backend = Literal["duckdb", "pyspark", "url"]


@dataclass(frozen=True)
class WarehouseConfig:
    """Where the row-level work runs (owned by kit.core.backends; README "Scaling out").

    ``duckdb``: embedded, nothing to set up (the default). ``pyspark``: the Spark session
    spark-submit or a notebook already started, else a new one on ``spark_master`` with the
    ``spark`` settings. ``url``: any Ibis backend by its connection URL (``bigquery://project/dataset``,
    ``snowflake://user@account/db/schema``, ``clickhouse://host/db``, ...). The canonical tables are
    read from ``paths.warehouse``'s Parquet files, or, with ``catalog`` set, from that database of
    the engine's own catalog."""

    backend: Backend = "duckdb"
    url: str = ""
    catalog: str = ""
    spark_master: str = "local[2]"
    spark: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SourceConfig:
    """One raw source declared for ingest (owned by kit.ingest)."""

    kind: Literal["customers", "orders", "app_users", "events", "surveys", "subscriptions", "assignments"]
    path: str = ""
    format: Literal["csv", "excel", "parquet", "jsonl", "ibis"] = "csv"
    encoding: str = "auto"
    columns: dict[str, str] = field(default_factory=dict)
    # strptime formats tried in order (e.g. "%d/%m/%Y %H:%M", "%Y年%m月%d日"); empty = built-in list
    timestamp_formats: list[str] = field(default_factory=list)
    timezone: str | None = None
    channel: str | None = None
    url: str | None = None
    table: str | None = None
    required: bool = True
    # a line with bytes the encoding cannot decode: fail (the error names the line) or
    # quarantine that one line (reason undecodable_bytes) and load the others
    on_bad_encoding: Literal["fail", "quarantine"] = "fail"
    # identity keys this source carries: column (after `columns`) -> key type. Key types:
    # member_id, phone, email, app_user_id, shop_user_id or any other name listed in
    # identity.keys (a custom text key, e.g. loyalty_card). The same key type links records
    # across sources. A column that is not a canonical column of the kind is read for
    # identity only. Declared keys replace the kind's defaults (empty = the defaults,
    # kit.ingest.kinds.DEFAULT_KEYS). An events source declares at most one: the key its
    # rows link to customers through (empty = app_user_id); assignments declare none (their
    # unit_type names the key type of unit_id).
    keys: dict[str, str] = field(default_factory=dict)


# how a matching attribute's two values are compared (kit.ingest.linkage.COMPARISONS)
Comparison = Literal["name", "date", "gender", "exact", "text", "code", "phone", "email"]


@dataclass(frozen=True)
class MatchingConfig:
    """Probabilistic linkage after the exact rules (owned by kit.ingest.linkage)."""

    enabled: bool = True
    # attribute -> how it is compared. An attribute is a column name (after a source's
    # `columns:`) read from every identity source that has it, or an identity key type
    # (phone, email) whose normalised values are compared (last 4 digits, e-mail local part)
    attributes: dict[str, Comparison] = field(
        default_factory=lambda: {
            "name": "name", "birth_date": "date", "gender": "gender", "city": "exact",
            "address": "text", "phone": "phone", "email": "email",
        }
    )
    # the accepted links' expected pairwise precision (the model's own estimate) chooses
    # the threshold; `threshold` fixes it instead (a match probability)
    target_precision: float = 0.99
    threshold: float | None = None
    min_threshold: float = 0.9
    # chaining guard: a person holds at most this many customers the exact rules found
    max_cluster_size: int = 8
    # candidate pairs: pairs of attributes that must agree exactly (empty: every pair of
    # the attributes present, gender left out)
    blocking: list[list[str]] = field(default_factory=list)
    # records sampled for the u-probabilities (pairs), and the EM sessions' pairs
    u_sample_pairs: int = 5_000_000


@dataclass(frozen=True)
class IdentityConfig:
    """Identity resolution (owned by kit.ingest)."""

    keys: list[str] = field(default_factory=lambda: ["member_id", "phone", "email", "app_user_id", "shop_user_id"])
    # a phone / e-mail is over-shared (never used to merge) when it is on more than
    # overshared_threshold accounts (members, app users, shop users), or on more than
    # overshared_orphan_threshold records and no account (receipts, survey answers only),
    # or on more than overshared_total_threshold records of any kind
    # key types that name one account by construction (a member number, a shop or app
    # account, a customer number in an order log): records carrying one are accounts,
    # and the key is never treated as over-shared
    account_keys: list[str] = field(default_factory=lambda: ["member_id", "app_user_id", "shop_user_id"])
    overshared_threshold: int = 25
    overshared_orphan_threshold: int = 3
    overshared_total_threshold: int = 250
    id_prefix: str = "C"
    # the pseudonymisation key (kit.ingest.identity.load_key): the environment variable
    # named here wins; else the file, created with 256 random bits on the first ingest.
    # Keep both outside the warehouse and the reports, and back the file up.
    key_env: str = "KIT_IDENTITY_KEY"
    key_file: Path = Path("secrets/identity.key")
    matching: MatchingConfig = field(default_factory=MatchingConfig)


@dataclass(frozen=True)
class IngestGateConfig:
    """Limits of the data fitness gate (kit.ingest.quality.fitness): warn, then fail, above.

    A source is graded on each limit; the run's grade is its worst. ``kit run`` stops
    before publishing on fail (``--accept-data-warnings`` overrides).
    """

    # share of a source's physical records quarantined
    quarantined_share_warn: float = 0.01
    quarantined_share_fail: float = 0.05
    # drop of the run month's rows against the month before (orders and events sources)
    month_drop_warn: float = 0.3
    month_drop_fail: float = 0.6
    # share of an orders source's revenue (parseable amounts) in quarantined rows
    revenue_lost_warn: float = 0.01
    revenue_lost_fail: float = 0.05
    # share of a customers source's records whose customer has no order (judged when an
    # orders source is ingested too): members that link to no order point to an order log
    # whose customer key is not declared (sources.<name>.keys)
    members_without_orders_warn: float = 0.7
    members_without_orders_fail: float = 0.95


@dataclass(frozen=True)
class IngestConfig:
    """Plausibility limits and the fitness gate of ingest (owned by kit.ingest)."""

    # an order amount above this (project currency), or not finite, is quarantined
    # (reason implausible_amount)
    max_amount: float = 1e7
    # a date before min_date or from max_date on is quarantined (implausible_date); a
    # birth date outside the range is nulled instead and counted (birth_date_invalid)
    min_date: str = "1900-01-01"
    max_date: str = "2100-01-01"
    gate: IngestGateConfig = field(default_factory=IngestGateConfig)


@dataclass(frozen=True)
class FeaturesConfig:
    """Customer features and tags (owned by kit.profile.features / kit.profile.tags)."""

    tags_file: Path = Path("config/tags.yml")
    city_tiers: dict[str, int] = field(default_factory=dict)
    # the event types that get features (kit.profile.events), in this order; empty = every
    # type in the data, or its max_event_types most frequent when there are more
    event_types: list[str] = field(default_factory=list)
    max_event_types: int = 20
    # event types (as logged) that signal trouble and engagement: with types of both lists
    # in the data, the event features add ev_negative_28d, ev_positive_28d and the smoothed
    # ev_negative_per_positive_28d / _90d (kit.profile.events); a type may be in one list only
    negative_events: list[str] = field(default_factory=list)
    positive_events: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class SegmentationConfig:
    """Layers and personas (owned by kit.segments.pipeline / kit.segments.personas)."""

    rfm_scheme: Literal["rfm11", "cn8"] = "rfm11"
    # RFM 1-5 scores: empty = rank-based quintiles; else 4 increasing inclusive upper band
    # edges per key (recency in days: edges of scores 5,4,3,2; frequency, monetary: 1,2,3,4)
    rfm_breaks: dict[str, list[float]] = field(default_factory=dict)
    cn8_break: Literal["mean", "median"] = "mean"
    # cn8 high/low: empty = cn8_break over ordering customers; else a break per key
    # (recency, frequency, monetary): high = recency <= break, frequency/monetary > break
    cn8_breaks: dict[str, float] = field(default_factory=dict)
    value_tier_shares: list[float] = field(default_factory=lambda: [0.5, 0.85])
    new_days: int = 90
    active_days: int = 90
    silent_days: int = 180
    persona_k_min: int = 3
    persona_k_max: int = 8
    persona_sample: int = 20000
    seed: int = 7


@dataclass(frozen=True)
class CLVConfig:
    """Lifetime value models (owned by kit.clv)."""

    time_unit: Literal["D", "W"] = "W"
    horizon_months: int = 12
    monthly_discount_rate: float = 0.01
    gross_margin: float = 0.3
    holdout_months: int = 6
    models: list[str] = field(default_factory=lambda: ["bgnbd", "paretonbd", "mbgnbd"])


@dataclass(frozen=True)
class ChurnConfig:
    """Churn early warning (owned by kit.churn)."""

    # non_contractual: churned = no paid order in the `window_days` after the snapshot; the
    # population is customers with an order in the `window_days` before it (kit.churn.dataset).
    # contractual: churned = no active subscription `window_days` after the snapshot, a
    # subscription ending when its paid-through date passes by `grace_days` without renewal;
    # the population is the subscribers active at the snapshot (kit.churn.contract)
    mode: Literal["non_contractual", "contractual"] = "non_contractual"
    window_days: int = 90
    grace_days: int = 7
    training_snapshots: int = 6
    seed: int = 7
    # tree model scores only when its out-of-time AUC beats the logistic baseline's by this much
    min_auc_gain: float = 0.01
    # action buckets, shares of the list ranked by value at risk (ties by risk): the first
    # call_share get a personal call, the next coupon_share a coupon, everyone else nurture
    call_share: float = 0.05
    coupon_share: float = 0.15
    # assumed share of contacted would-be churners an action keeps (budget what-if only)
    action_success_rate: float = 0.2


@dataclass(frozen=True)
class ExperimentsConfig:
    """Experiment readout (owned by kit.experiments)."""

    # the experiment catalogue (kit.experiments.catalog); none = this company runs no experiments
    catalog: Path | None = None
    alpha: float = 0.05
    correction: Literal["holm", "bh"] = "holm"
    winsorize_quantile: float = 0.99
    srm_alpha: float = 0.001
    # always-valid intervals: users (both arms) at which they are tightest (GrowthBook default)
    sequential_tuning: float = 5000.0
    # power of the minimum-detectable-effect note
    power: float = 0.8


@dataclass(frozen=True)
class KitConfig:
    """The whole configuration; ``source_file`` and ``root`` are filled in by the loader."""

    project: ProjectConfig = field(default_factory=ProjectConfig)
    run: RunConfig = field(default_factory=RunConfig)
    paths: PathsConfig = field(default_factory=PathsConfig)
    warehouse: WarehouseConfig = field(default_factory=WarehouseConfig)
    sources: dict[str, SourceConfig] = field(default_factory=dict)
    identity: IdentityConfig = field(default_factory=IdentityConfig)
    ingest: IngestConfig = field(default_factory=IngestConfig)
    features: FeaturesConfig = field(default_factory=FeaturesConfig)
    segmentation: SegmentationConfig = field(default_factory=SegmentationConfig)
    clv: CLVConfig = field(default_factory=CLVConfig)
    churn: ChurnConfig = field(default_factory=ChurnConfig)
    experiments: ExperimentsConfig = field(default_factory=ExperimentsConfig)
    source_file: Path = field(default=DEFAULT_CONFIG, metadata={"internal": True})
    root: Path = field(default=PROJECT_ROOT, metadata={"internal": True})

    def resolve(self, path: Path | str) -> Path:
        """An absolute path for a config path: absolute stays, relative joins ``root``."""
        path = Path(path)
        return path if path.is_absolute() else (self.root / path).resolve()


# --------------------------------------------------------------------------- ranges


@dataclass(frozen=True)
class Range:
    """The allowed values of a number, or of every number in a list or mapping: from
    ``low`` to ``high``, each end included unless marked open, never NaN or infinite.
    ``increasing``: a list must also be strictly increasing."""

    low: float = -math.inf
    high: float = math.inf
    low_open: bool = False
    high_open: bool = False
    increasing: bool = False

    def allows(self, number: float) -> bool:
        """Whether ``number`` lies in the range."""
        above = number > self.low if self.low_open else number >= self.low
        below = number < self.high if self.high_open else number <= self.high
        return (isinstance(number, int) or math.isfinite(number)) and above and below

    def __str__(self) -> str:
        if self.high == math.inf:
            text = f"{'>' if self.low_open else '>='} {_number(self.low)}"
        else:
            text = f"{'(' if self.low_open else '['}{_number(self.low)}, {_number(self.high)}{')' if self.high_open else ']'}"
        return text + (", strictly increasing" if self.increasing else "")


COUNT = Range(1)  # a whole number of at least 1 (days, months, thresholds)
POSITIVE = Range(0, low_open=True)
SHARE = Range(0, 1)  # a share, probability or quantile, ends included
OPEN_SHARE = Range(0, 1, low_open=True, high_open=True)  # a significance level or a power
SEED = Range(0, 2**32 - 1)  # what numpy and scikit-learn accept as a seed

# Every number the config holds, by (section, key): the loader refuses a value outside its
# range, naming the file, the key, the value and the range (tests/unit/test_config.py checks
# that each numeric field of every section is listed here and that its default fits).
RANGES: dict[tuple[type, str], Range] = {
    (RunConfig, "timeout_seconds"): Range(1, 86400),  # per cell: a cell running a day has hung
    (IdentityConfig, "overshared_threshold"): COUNT,
    (IdentityConfig, "overshared_orphan_threshold"): COUNT,
    (IdentityConfig, "overshared_total_threshold"): COUNT,
    (MatchingConfig, "target_precision"): Range(0.5, 1, high_open=True),
    (MatchingConfig, "min_threshold"): Range(0.5, 1, high_open=True),
    (MatchingConfig, "max_cluster_size"): Range(2),
    (MatchingConfig, "u_sample_pairs"): Range(10_000),
    (IngestConfig, "max_amount"): POSITIVE,
    (IngestGateConfig, "quarantined_share_warn"): SHARE,
    (IngestGateConfig, "quarantined_share_fail"): SHARE,
    (IngestGateConfig, "month_drop_warn"): SHARE,
    (IngestGateConfig, "month_drop_fail"): SHARE,
    (IngestGateConfig, "revenue_lost_warn"): SHARE,
    (IngestGateConfig, "revenue_lost_fail"): SHARE,
    (IngestGateConfig, "members_without_orders_warn"): SHARE,
    (IngestGateConfig, "members_without_orders_fail"): SHARE,
    (FeaturesConfig, "city_tiers"): COUNT,
    (FeaturesConfig, "max_event_types"): COUNT,
    (SegmentationConfig, "rfm_breaks"): Range(0, increasing=True),
    (SegmentationConfig, "cn8_breaks"): Range(0),
    (SegmentationConfig, "value_tier_shares"): Range(0, 1, low_open=True, high_open=True, increasing=True),
    (SegmentationConfig, "new_days"): COUNT,
    (SegmentationConfig, "active_days"): COUNT,
    (SegmentationConfig, "silent_days"): COUNT,
    (SegmentationConfig, "persona_k_min"): Range(2),  # k-means needs two clusters to compare
    (SegmentationConfig, "persona_k_max"): Range(2),
    (SegmentationConfig, "persona_sample"): COUNT,
    (SegmentationConfig, "seed"): SEED,
    (CLVConfig, "horizon_months"): COUNT,
    (CLVConfig, "monthly_discount_rate"): Range(0, 1, high_open=True),
    (CLVConfig, "gross_margin"): SHARE,
    (CLVConfig, "holdout_months"): COUNT,
    (ChurnConfig, "window_days"): COUNT,
    (ChurnConfig, "training_snapshots"): Range(2),  # one to fit, one to calibrate
    (ChurnConfig, "seed"): SEED,
    (ChurnConfig, "grace_days"): Range(0),
    (ChurnConfig, "min_auc_gain"): SHARE,
    (ChurnConfig, "call_share"): SHARE,
    (ChurnConfig, "coupon_share"): SHARE,
    (ChurnConfig, "action_success_rate"): SHARE,
    (ExperimentsConfig, "alpha"): OPEN_SHARE,
    (ExperimentsConfig, "winsorize_quantile"): Range(0, 1, low_open=True),
    (ExperimentsConfig, "srm_alpha"): OPEN_SHARE,
    (ExperimentsConfig, "sequential_tuning"): POSITIVE,
    (ExperimentsConfig, "power"): OPEN_SHARE,
}
SHOWN_VALUE_CHARS = 60  # an error message quotes a value up to this many characters


def _number(x: float) -> str:
    """A range end as the analyst wrote it: 1, 0.5, 4294967295, 1e+07."""
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e10 else f"{x:g}"


def _show(value: Any) -> str:
    """``repr(value)``, cut to SHOWN_VALUE_CHARS: an error never prints a whole long value."""
    text = repr(value)
    return text if len(text) <= SHOWN_VALUE_CHARS else text[: SHOWN_VALUE_CHARS - 3] + "..."


def _check_range(value: Any, allowed: Range, file: Path, key_path: str) -> None:
    """Raise ConfigError when ``value`` (a number, or the numbers in a list or mapping) is
    outside ``allowed``."""
    if isinstance(value, dict):
        for key, item in value.items():
            _check_range(item, allowed, file, f"{key_path}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _check_range(item, allowed, file, f"{key_path}[{i}]")
        if allowed.increasing and any(b <= a for a, b in zip(value, value[1:])):
            raise ConfigError(f"{file}: {key_path} = {_show(value)} must be strictly increasing (allowed: {allowed}).")
    elif not allowed.allows(value):
        raise ConfigError(f"{file}: {key_path} = {_show(value)} is out of range: allowed {allowed}.")


def _check_relations(config: KitConfig, file: Path) -> None:
    """Checks that involve two keys or a pattern (a single number's range is in RANGES)."""
    if not MONTH_PATTERN.match(config.run.month):
        raise ConfigError(f"{file}: run.month = {_show(config.run.month)}: expected YYYY-MM with a month 01-12, e.g. 2026-10.")
    seg = config.segmentation
    if seg.persona_k_min > seg.persona_k_max:
        raise ConfigError(
            f"{file}: segmentation.persona_k_min = {seg.persona_k_min} is above segmentation.persona_k_max = "
            f"{seg.persona_k_max}: the range of persona counts tried needs k_min <= k_max."
        )
    if not seg.new_days <= seg.active_days < seg.silent_days:
        raise ConfigError(
            f"{file}: segmentation.new_days = {seg.new_days}, active_days = {seg.active_days}, silent_days = "
            f"{seg.silent_days}: the lifecycle stages (kit.core.vocabulary) need new_days <= active_days < "
            "silent_days, so every new customer is active and every stage can hold someone."
        )
    if config.churn.mode == "contractual" and not any(s.kind == "subscriptions" for s in config.sources.values()):
        raise ConfigError(
            f"{file}: churn.mode = contractual needs a source of kind subscriptions (customer key, plan, started_at, "
            "paid_through, mrr): add one under sources, or set churn.mode: non_contractual to define churn by orders."
        )
    _check_warehouse(config.warehouse, file)
    _check_ingest_limits(config.ingest, file)
    _check_ingest_cache(config, file)
    _check_identity_keys(config, file)
    _check_matching(config.identity.matching, file)
    _check_event_lists(config.features, file)


def _check_warehouse(warehouse: WarehouseConfig, file: Path) -> None:
    """A URL exactly when the backend is ``url``, and one Ibis can route (``scheme://...``)."""
    if warehouse.backend == "url" and "://" not in warehouse.url:
        raise ConfigError(
            f"{file}: warehouse.backend = url needs warehouse.url, an Ibis connection URL such as "
            f"bigquery://project/dataset or clickhouse://host/db; got {_show(warehouse.url)}."
        )
    if warehouse.backend != "url" and warehouse.url:
        raise ConfigError(
            f"{file}: warehouse.url = {_show(warehouse.url)} is only read with warehouse.backend = url "
            f"(it is {warehouse.backend}): remove it, or set backend: url."
        )


def _check_ingest_cache(config: KitConfig, file: Path) -> None:
    """The parse cache holds raw rows (personal data): never inside the warehouse or the
    reports, which are copied and shared (kit.ingest.cache)."""
    cache = config.resolve(config.paths.ingest_cache)
    for shared in ("warehouse", "reports"):
        if cache.is_relative_to(config.resolve(getattr(config.paths, shared))):
            raise ConfigError(
                f"{file}: paths.ingest_cache = {_show(str(config.paths.ingest_cache))} lies inside paths.{shared}, "
                "which is copied and shared, but the cache holds the raw rows (names, phone numbers). Point it at "
                "a folder kept like the raw exports, e.g. data/ingest_cache (the default)."
            )


def _check_matching(matching: MatchingConfig, file: Path) -> None:
    """A fixed threshold is a probability in (0.5, 1); blocking names declared attributes,
    two or more per rule (one attribute alone would compare every pair that shares a city)."""
    if matching.threshold is not None and not 0.5 < matching.threshold < 1:
        raise ConfigError(
            f"{file}: identity.matching.threshold = {_show(matching.threshold)} must be a match probability "
            "between 0.5 and 1 (e.g. 0.99), or left out to choose it for identity.matching.target_precision."
        )
    for i, rule in enumerate(matching.blocking):
        unknown = [a for a in rule if a not in matching.attributes]
        if unknown or len(set(rule)) < 2:
            raise ConfigError(
                f"{file}: identity.matching.blocking[{i}] = {_show(rule)}: a blocking rule lists two or more "
                f"different attributes of identity.matching.attributes ({', '.join(matching.attributes)})"
                + (f"; unknown: {', '.join(unknown)}." if unknown else ".")
            )


# source kinds whose rows are identity records (kit.ingest.kinds.ROW_ID): they carry keys
IDENTITY_KINDS = ("customers", "orders", "app_users", "surveys", "subscriptions")
# source kinds whose rows link to customers through one declared key (kit.ingest.kinds.event_key)
LINKED_KINDS = ("events",)


def _check_identity_keys(config: KitConfig, file: Path) -> None:
    """Every key type a source declares must be in identity.keys (whose order is the
    matching rules' priority); identity-bearing kinds declare any number of keys, events
    one at most (the key each event links to a customer through), assignments none."""
    listed = config.identity.keys
    for name, source in config.sources.items():
        if source.keys and source.kind not in IDENTITY_KINDS + LINKED_KINDS:
            raise ConfigError(
                f"{file}: sources.{name}.keys: a source of kind {source.kind} declares no identity keys "
                f"(only {', '.join(IDENTITY_KINDS + LINKED_KINDS)} do); its rows link through unit_type and "
                "unit_id: write the key type of each unit_id (member, app_user or a key type listed in "
                f"identity.keys, e.g. customer_no) in its unit_type. Remove sources.{name}.keys."
            )
        if source.kind in LINKED_KINDS and len(source.keys) > 1:
            raise ConfigError(
                f"{file}: sources.{name}.keys declares {len(source.keys)} keys ({', '.join(source.keys)}), but "
                f"each event links to a customer through one key. Keep only the column that names the customer "
                f"on every row, e.g. keys: {{{next(iter(source.keys))}: {next(iter(source.keys.values()))}}}; "
                "with no keys: the events link through app_user_id."
            )
        for column, key_type in source.keys.items():
            if not column.strip() or not key_type.strip():
                raise ConfigError(f"{file}: sources.{name}.keys: a column and its key type must both be named, got {_show(column)}: {_show(key_type)}.")
            if key_type not in listed:
                raise ConfigError(
                    f"{file}: sources.{name}.keys.{column} = {_show(key_type)}: key type {key_type!r} is not in "
                    f"identity.keys ({', '.join(listed)}). Add {key_type!r} to identity.keys (its place in the list is "
                    "its priority when naming a matching rule), or use one of the listed key types."
                )


def _check_event_lists(features: FeaturesConfig, file: Path) -> None:
    """An event type is negative or positive, never both (its count would cancel out of the
    ratio of negative to positive events), and a listed type must be named."""
    for key in ("negative_events", "positive_events"):
        if any(not str(name).strip() for name in getattr(features, key)):
            raise ConfigError(f"{file}: features.{key} = {_show(getattr(features, key))} has a blank event type; "
                              "name each type as the event log writes it, e.g. [support_ticket, error].")
    both = [name for name in features.negative_events if name in features.positive_events]
    if both:
        raise ConfigError(
            f"{file}: event type {both[0]!r} is in both features.negative_events and features.positive_events; "
            "an event type signals either trouble or engagement: keep it in one list only."
        )


def _check_ingest_limits(ingest: IngestConfig, file: Path) -> None:
    """The plausible date range must be two ISO dates in order, and every gate limit's warn
    level must not be above its fail level (else a source could fail without a warning)."""
    dates = {}
    for key in ("min_date", "max_date"):
        text = getattr(ingest, key)
        try:
            dates[key] = date.fromisoformat(text) if DATE_PATTERN.match(text) else None
        except ValueError:
            dates[key] = None
        if dates[key] is None:
            raise ConfigError(f"{file}: ingest.{key} = {_show(text)}: expected a date YYYY-MM-DD, e.g. 1900-01-01.")
    if dates["min_date"] >= dates["max_date"]:
        raise ConfigError(f"{file}: ingest.min_date = {ingest.min_date} must be before ingest.max_date = {ingest.max_date}.")
    gate = ingest.gate
    for limit in ("quarantined_share", "month_drop", "revenue_lost", "members_without_orders"):
        warn, fail = getattr(gate, f"{limit}_warn"), getattr(gate, f"{limit}_fail")
        if warn > fail:
            raise ConfigError(
                f"{file}: ingest.gate.{limit}_warn = {warn} is above ingest.gate.{limit}_fail = {fail}: "
                "the warning level must not be above the failing level."
            )


# --------------------------------------------------------------------------- loading


# Keys an earlier version of the kit read, with what replaced them (said instead of "did you mean").
RETIRED_KEYS = {
    "churn.population_days": "It is gone: the churn population is now the customers not yet churned "
    "(last order within segmentation.silent_days), or the active subscribers with churn.mode: contractual. "
    "Delete the key.",
}


def load_config(path: Path | str | None = None, overrides: dict[str, Any] | None = None) -> KitConfig:
    """Read and validate a config file (default ``config/kit.yml``).

    ``overrides`` is a nested dict merged over the file's contents before validation (for
    example ``{"run": {"month": "2026-09"}}`` from the command line).
    """
    file = Path(path).resolve() if path else DEFAULT_CONFIG
    if not file.is_file():
        raise ConfigError(f"{file}: config file not found. Pass --config with an existing YAML file.")
    try:
        data = load_strict_yaml(file.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{file}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{file}: the top level must be a mapping of sections, got {type(data).__name__}.")
    data = _merge(data, overrides or {})
    config = _build(KitConfig, data, file, "")
    root = file.parent.parent if file.parent.name == "config" else file.parent
    config = dataclasses.replace(config, source_file=file, root=root)
    _check_relations(config, file)
    return config


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``base`` with ``extra`` merged in, recursively for nested mappings."""
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _build(cls: type, data: Any, file: Path, where: str) -> Any:
    """Instantiate dataclass ``cls`` from a mapping, checking keys and value types."""
    label = where or "the top level"
    if not isinstance(data, dict):
        raise ConfigError(f"{file}: {label} must be a mapping, got {type(data).__name__} {_show(data)}.")
    hints = typing.get_type_hints(cls)
    allowed = {f.name: f for f in dataclasses.fields(cls) if not f.metadata.get("internal")}
    values = {}
    for key, value in data.items():
        key_path = f"{where}.{key}" if where else str(key)
        if key not in allowed:
            close = difflib.get_close_matches(str(key), list(allowed), n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            if key_path in RETIRED_KEYS:
                hint = f" {RETIRED_KEYS[key_path]}"
            raise ConfigError(
                f"{file}: unknown key {_show(key_path)}.{hint} Allowed here: {', '.join(sorted(allowed))}."
            )
        values[key] = _coerce(hints[key], value, file, key_path)
        if (cls, key) in RANGES:
            _check_range(values[key], RANGES[cls, key], file, key_path)
    missing = [
        name
        for name, f in allowed.items()
        if name not in values
        and f.default is dataclasses.MISSING
        and f.default_factory is dataclasses.MISSING  # type: ignore[misc]
    ]
    if missing:
        raise ConfigError(f"{file}: {label} is missing required key(s): {', '.join(missing)}.")
    return cls(**values)


def _coerce(hint: Any, value: Any, file: Path, key_path: str) -> Any:
    """Check ``value`` against the type ``hint`` and return it in that type."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _coerce(inner[0], value, file, key_path)
    if origin is Literal:
        if value not in args:
            allowed = ", ".join(repr(a) for a in args)
            raise ConfigError(f"{file}: {key_path} = {_show(value)} is not allowed. Allowed values: {allowed}.")
        return value
    if origin is list:
        if not isinstance(value, list):
            raise ConfigError(f"{file}: {key_path} must be a list, got {type(value).__name__} {_show(value)}.")
        return [_coerce(args[0], v, file, f"{key_path}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{file}: {key_path} must be a mapping, got {type(value).__name__} {_show(value)}.")
        return {str(k): _coerce(args[1], v, file, f"{key_path}.{k}") for k, v in value.items()}
    if dataclasses.is_dataclass(hint):
        return _build(hint, value, file, key_path)
    if hint is Path:
        if not isinstance(value, str) or not value:
            raise ConfigError(f"{file}: {key_path} must be a path (text), got {_show(value)}.")
        return Path(value)
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{file}: {key_path} must be true or false, got {_show(value)}.")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{file}: {key_path} must be a whole number, got {_show(value)}.")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{file}: {key_path} must be a number, got {_show(value)}.")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"{file}: {key_path} must be text, got {type(value).__name__} {_show(value)}.")
        return value
    if hint is Any:
        return value
    raise TypeError(f"config field {key_path} has an unsupported type hint {hint!r}")
