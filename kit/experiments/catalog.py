"""The experiment catalog: experiment metadata read from YAML and validated.

The file (``experiments.catalog`` in the config) holds a list under ``experiments:``; each
entry names the experiment, its arms and planned split, dates, metrics and segments. Every
problem is reported with the file, the experiment and the key, and what is allowed::

    experiments:
      - id: retention_coupon                  # as in the assignments' experiment_id
        name: Retention coupon
        hypothesis: A coupon brings back members who have gone quiet.
        control: control
        variants: {control: 0.5, coupon: 0.5}  # planned share per arm (sums to 1)
        unit_type: member
        start: "2026-09-01"                    # first assignment day
        end: "2026-10-31"                      # last day of the experiment (planned end)
        primary_metric: conversion             # one of METRICS
        secondary_metrics: [revenue_per_user, orders_per_user, aov]
        guardrail_metrics: [refund_rate]
        segments: [lifecycle_stage, value_tier, persona]
        exposure_days: 30                      # each user's outcome window (default 30)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from kit.core.strict_yaml import load_strict_yaml

#: Metrics the readout can compute (see kit.experiments.metrics for definitions).
METRICS = ("conversion", "revenue_per_user", "orders_per_user", "aov", "refund_rate", "retention")
#: Segment dimensions the breakdown understands.
SEGMENTS = ("lifecycle_stage", "value_tier", "persona")
REQUIRED = ("id", "control", "variants", "start", "end", "primary_metric")
OPTIONAL = ("name", "hypothesis", "unit_type", "secondary_metrics", "guardrail_metrics", "segments", "exposure_days")


class CatalogError(ValueError):
    """The experiment catalog is wrong: the message names file, experiment and key."""


@dataclass(frozen=True)
class Experiment:
    """One experiment's metadata. ``variants`` maps arm name to planned share (sums to 1)."""

    id: str
    name: str
    hypothesis: str
    control: str
    variants: dict[str, float]
    unit_type: str
    start: pd.Timestamp
    end: pd.Timestamp
    primary_metric: str
    secondary_metrics: tuple[str, ...]
    guardrail_metrics: tuple[str, ...]
    segments: tuple[str, ...]
    exposure_days: int = 30

    def as_yaml(self) -> dict:
        """The catalog entry (experiments.yml) that ``parse_experiment`` reads back as this experiment."""
        return {
            "id": self.id, "name": self.name, "hypothesis": self.hypothesis, "control": self.control,
            "variants": dict(self.variants), "unit_type": self.unit_type,
            "start": str(self.start.date()), "end": str(self.end.date()), "primary_metric": self.primary_metric,
            "secondary_metrics": list(self.secondary_metrics), "guardrail_metrics": list(self.guardrail_metrics),
            "segments": list(self.segments), "exposure_days": self.exposure_days,
        }

    @property
    def metrics(self) -> tuple[str, ...]:
        """Primary, secondary and guardrail metrics, each once, in that order."""
        return tuple(dict.fromkeys((self.primary_metric, *self.secondary_metrics, *self.guardrail_metrics)))

    @property
    def treatments(self) -> tuple[str, ...]:
        """The arms other than control, in catalog order."""
        return tuple(v for v in self.variants if v != self.control)


def load_catalog(path: Path | str) -> list[Experiment]:
    """Read and validate the catalog file; a clear CatalogError on any problem."""
    file = Path(path)
    if not file.is_file():
        raise CatalogError(
            f"{file}: experiment catalog not found. Set experiments.catalog in the config to the "
            "YAML file listing the experiments (the demo generator writes data/raw/demo/experiments.yml)."
        )
    try:
        data = load_strict_yaml(file.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise CatalogError(f"{file}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("experiments"), list):
        raise CatalogError(f"{file}: expected a list of experiments under the top-level key 'experiments:'.")
    experiments = [parse_experiment(entry, file, i) for i, entry in enumerate(data["experiments"])]
    ids = [e.id for e in experiments]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise CatalogError(f"{file}: experiment id(s) used more than once: {', '.join(duplicates)}.")
    return experiments


def parse_experiment(entry: Any, file: Path, index: int) -> Experiment:
    """Validate one catalog entry (``index`` is its position, used until the id is known)."""
    where = f"{file}: experiment #{index + 1}"
    if not isinstance(entry, dict):
        raise CatalogError(f"{where} must be a mapping of keys, got {type(entry).__name__}.")
    if isinstance(entry.get("id"), str) and entry["id"]:
        where = f"{file}: experiment {entry['id']!r}"
    unknown = sorted(set(entry) - set(REQUIRED) - set(OPTIONAL))
    if unknown:
        raise CatalogError(f"{where}: unknown key(s) {', '.join(unknown)}. Allowed: {', '.join(REQUIRED + OPTIONAL)}.")
    missing = [k for k in REQUIRED if k not in entry]
    if missing:
        raise CatalogError(f"{where}: missing required key(s) {', '.join(missing)}.")

    variants = entry["variants"]
    if not isinstance(variants, dict) or len(variants) < 2:
        raise CatalogError(f"{where}: key 'variants' must map at least two arm names to planned shares, got {variants!r}.")
    shares: dict[str, float] = {}
    for name, share in variants.items():
        if isinstance(share, bool) or not isinstance(share, (int, float)) or share <= 0:
            raise CatalogError(f"{where}: key 'variants.{name}' must be a positive planned share, got {share!r}.")
        shares[str(name)] = float(share)
    total = sum(shares.values())
    if abs(total - 1) > 0.01:
        raise CatalogError(f"{where}: key 'variants': planned shares sum to {total:.3f}, expected 1.")
    control = str(entry["control"])
    if control not in shares:
        raise CatalogError(f"{where}: key 'control' = {control!r} is not one of the variants ({', '.join(shares)}).")

    start, end = _date(entry["start"], where, "start"), _date(entry["end"], where, "end")
    if end < start:
        raise CatalogError(f"{where}: key 'end' ({end.date()}) is before key 'start' ({start.date()}).")
    exposure = entry.get("exposure_days", 30)
    if isinstance(exposure, bool) or not isinstance(exposure, int) or exposure <= 0:
        raise CatalogError(f"{where}: key 'exposure_days' must be a positive whole number of days, got {exposure!r}.")

    return Experiment(
        id=_text(entry["id"], where, "id"),
        name=_text(entry.get("name", entry["id"]), where, "name"),
        hypothesis=_text(entry.get("hypothesis", ""), where, "hypothesis", allow_empty=True),
        control=control,
        variants={k: v / total for k, v in shares.items()},
        unit_type=_text(entry.get("unit_type", "member"), where, "unit_type"),
        start=start,
        end=end,
        primary_metric=_names([entry["primary_metric"]], METRICS, where, "primary_metric")[0],
        secondary_metrics=_names(entry.get("secondary_metrics", []), METRICS, where, "secondary_metrics"),
        guardrail_metrics=_names(entry.get("guardrail_metrics", []), METRICS, where, "guardrail_metrics"),
        segments=_names(entry.get("segments", []), SEGMENTS, where, "segments"),
        exposure_days=exposure,
    )


def _text(value: Any, where: str, key: str, allow_empty: bool = False) -> str:
    if not isinstance(value, str) or (not value and not allow_empty):
        raise CatalogError(f"{where}: key {key!r} must be text, got {value!r}.")
    return value


def _date(value: Any, where: str, key: str) -> pd.Timestamp:
    try:
        return pd.Timestamp(value)
    except (ValueError, TypeError) as exc:
        raise CatalogError(f"{where}: key {key!r} = {value!r} is not a date (use YYYY-MM-DD).") from exc


def _names(values: Any, allowed: tuple[str, ...], where: str, key: str) -> tuple[str, ...]:
    if isinstance(values, str):
        values = [values]
    if not isinstance(values, list):
        raise CatalogError(f"{where}: key {key!r} must be a list, got {values!r}.")
    bad = [v for v in values if v not in allowed]
    if bad:
        raise CatalogError(f"{where}: key {key!r} has unknown value(s) {bad}. Allowed: {', '.join(allowed)}.")
    return tuple(values)
