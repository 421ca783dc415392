"""Contractual churn against the subscription world's truth (issue 18's acceptance figures).

``python -m kit.bench.churn_truth [--accounts N] [--seed S] [--folder DIR]`` writes the
subscription world (``kit.demo.subscriptions``, shape ``subscription_app``) with
``churn.mode: contractual`` and a 30-day window, ingests it, runs the churn stage for the
export month and prints the figures the issue asks for, each against the generator's truth:

- ``label_agreement``: share of the truly active subscribers at every labelled snapshot
  whose contractual label equals ``_truth/labels.parquet`` (``population_agreement``: share
  of the union of the kit's and the truth's active sets that both hold);
- ``auc`` / ``auc_baseline`` / ``auc_oracle`` on the validation month: the oracle scores each
  active subscriber with the generator's own churn probability, ``sigmoid(utility)`` at the
  renewal decision falling in the window, from the exported events and the true weights;
- ``driver_signs``: for every event type with true ``|weight| >= 1``, the direction the
  kit states for its strongest material feature (raises / lowers), and whether it agrees;
- ``top_reasons_true``: of the 50 riskiest active subscribers, how many have as first
  reason a feature of a risk-raising event type (true weight > 0);
- ``km``: the kit's Kaplan-Meier tenure survival at 30/60/150 days against ``km.json``.

Nothing in production imports this module; tests/integration/test_churn_contract.py runs
it on a small world and checks the issue's thresholds.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from kit.churn import ChurnResult, run_churn
from kit.churn.contract import SubscriptionChurn
from kit.churn.retention import kaplan_meier
from kit.core.config import KitConfig, load_config
from kit.core.dates import snapshot_end
from kit.core.warehouse import Warehouse
from kit.demo import subscriptions as world
from kit.demo.shapes import write_shape
from kit.ingest import run_ingest
from kit.profile.events import event_feature_parts

WINDOW_DAYS = 30
TOP_RISK = 50
STRONG_WEIGHT = 1.0


@dataclass
class Evaluation:
    """The acceptance figures of one run (module docstring)."""

    label_agreement: float
    population_agreement: float
    labelled_subscribers: int
    auc: float
    auc_baseline: float
    auc_oracle: float
    scorer: str
    driver_signs: dict[str, dict[str, str | float | bool]]
    top_reasons_true: int
    top_reasons: list[str]
    km: dict[str, dict[str, float]]

    def as_dict(self) -> dict[str, object]:
        """Plain values for JSON."""
        return dict(self.__dict__)


def build(folder: Path, accounts: int, seed: int) -> KitConfig:
    """Write the world into ``folder`` (the shape's churn: contractual over ``WINDOW_DAYS``)
    and ingest it; the config of the run.

    The identity key file is written from ``seed`` (unless it exists): customer ids, and
    with them the model's samples and early-stopping splits, then depend on the seed only,
    so a re-run prints the same figures (a fresh random key moves the permutation
    importances and can flip a weak driver between material and not)."""
    config = load_config(write_shape("subscription_app", folder, customers=accounts, seed=seed))
    if config.churn.mode != "contractual" or config.churn.window_days != WINDOW_DAYS:
        raise ValueError(f"the subscription_app shape's churn is not contractual over {WINDOW_DAYS} days")
    key_file = config.resolve(config.identity.key_file)
    if not key_file.exists():
        key_file.parent.mkdir(parents=True, exist_ok=True)
        key_file.write_text(hashlib.sha256(f"churn-truth-{seed}".encode()).hexdigest() + "\n", encoding="utf-8")
    run_ingest(config)
    return config


def account_ids(wh: Warehouse) -> pd.Series:
    """customer_no (as exported) -> the kit's pseudonymous customer_id."""
    ids = wh.table("identities")
    rows = ids.filter(ids.source == "accounts").select("source_id", "customer_id").to_pandas()
    return rows.set_index("source_id")["customer_id"]


def label_agreement(config: KitConfig, result: ChurnResult) -> tuple[float, float, int]:
    """(label agreement on the truly active, population agreement, subscribers compared)
    over every labelled snapshot of ``result.plan``."""
    wh = Warehouse.from_config(config)
    churn = SubscriptionChurn.read(wh, result.month, config.churn.grace_days, config.churn.window_days)
    truth = pd.read_parquet(config.resolve(config.paths.raw) / "_truth" / "labels.parquet")
    ids = account_ids(wh)
    agree = total = both = union = 0
    for month in (*result.plan.labelled, result.plan.validation):
        rows = truth[truth["month"] == month]
        true_active = pd.Series(rows[f"churned_{WINDOW_DAYS}d"].to_numpy(), index=rows["customer_no"].map(ids).to_numpy())
        kit_active = set(churn.active_at(snapshot_end(month)))
        retained = set(churn.retained(month))
        kit_churned = np.array([cid not in retained for cid in true_active.index])
        agree += int((kit_churned == true_active.to_numpy()).sum())
        total += len(true_active)
        both += len(kit_active & set(true_active.index))
        union += len(kit_active | set(true_active.index))
    return agree / total, both / union, total


def oracle_risk(config: KitConfig, month: str, customer_ids: np.ndarray) -> np.ndarray:
    """The generator's churn probability of each subscriber active at the end of ``month``:
    ``sigmoid(utility)`` at the decision before their renewal due in the window (0 when no
    renewal falls in it), from the exported events and ``_truth/weights.json``."""
    raw = config.resolve(config.paths.raw)
    weights = json.loads((raw / "_truth" / "weights.json").read_text(encoding="utf-8"))
    subs = pd.read_csv(raw / "subscriptions.csv", dtype=str, keep_default_na=False)
    wh = Warehouse.from_config(config)
    ids = account_ids(wh)
    subs = subs.assign(customer_id=subs["customer_no"].map(ids)).set_index("customer_id").loc[customer_ids]
    start_day = (pd.to_datetime(subs["started_at"]).dt.normalize() - world.START).dt.days.to_numpy()
    snap_day = (snapshot_end(month) - world.START).days
    due, k = np.full(len(subs), -1), np.zeros(len(subs), dtype=np.int64)
    for n in range(1, 60):  # the first renewal due after the snapshot
        d = world._renewal_days(start_day, n)
        first = (due < 0) & (d > snap_day)
        due, k = np.where(first, d, due), np.where(first, n, k)
    in_window = due <= snap_day + WINDOW_DAYS
    decide = due - weights["decision_days_before_renewal"]
    events = pd.read_parquet(raw / "events.parquet")
    events = events.assign(customer_id=events["customer_no"].map(ids),
                           day=(events["event_ts"].dt.normalize() - world.START).dt.days)
    position = pd.Series(np.arange(len(subs)), index=subs.index)
    events = events[events["customer_id"].isin(position.index)]
    row = position[events["customer_id"]].to_numpy()
    lo = decide[row] - weights["window_days"]
    counted = events[(events["day"].to_numpy() >= lo) & (events["day"].to_numpy() < decide[row])]
    counts = pd.crosstab(position[counted["customer_id"]].to_numpy(), counted["event_type"].to_numpy())
    counts = counts.reindex(index=range(len(subs)), columns=list(weights["events"]), fill_value=0)
    utility = (weights["intercept"] + np.log1p(counts.to_numpy(dtype=float)) @ np.array(list(weights["events"].values()))
               + subs["plan"].map(weights["plans"]).to_numpy(dtype=float) + weights["tenure"] * np.log1p(k))
    return np.where(in_window, 1 / (1 + np.exp(-utility)), 0.0)


def driver_signs(result: ChurnResult, weights: dict[str, float]) -> dict[str, dict[str, str | float | bool]]:
    """Per event type with ``|weight| >= STRONG_WEIGHT``: the strongest material feature of
    that type, its stated direction and whether it agrees with the weight's sign. Days since
    the last event reads the other way round (more days = fewer events)."""
    slugs = {slug: kind for slug, kind in result.event_types.items()}
    out: dict[str, dict[str, str | float | bool]] = {}
    material = result.drivers[result.drivers["material"]]
    for kind, weight in weights.items():
        if abs(weight) < STRONG_WEIGHT:
            continue
        found = {"feature": "", "direction": "", "weight": weight, "agrees": False}
        for row in material.itertuples():
            parts = event_feature_parts(row.feature)
            if parts is None or slugs.get(parts[0]) != kind or row.direction not in ("raises", "lowers"):
                continue
            more_raises = (row.direction == "raises") != (parts[1] == "since")
            found = {"feature": row.feature, "direction": row.direction, "weight": weight,
                     "agrees": more_raises == (weight > 0)}
            break
        out[kind] = found
    return out


def top_reason_hits(result: ChurnResult, weights: dict[str, float]) -> tuple[int, list[str]]:
    """How many of the ``TOP_RISK`` riskiest scored subscribers have as first reason a
    feature of an event type with a positive true weight (and those first reasons)."""
    top = result.scores.nlargest(TOP_RISK, "churn_probability")
    slugs = result.event_types
    raising = {kind for kind, w in weights.items() if w > 0}
    reasons = top["reason_1"].astype("str").tolist()
    hits = 0
    for code in reasons:
        parts = event_feature_parts(code.split("=")[0]) if code else None
        hits += parts is not None and slugs.get(parts[0]) in raising and parts[1] != "since"
    return int(hits), reasons


def km_figures(config: KitConfig, result: ChurnResult) -> dict[str, dict[str, float]]:
    """The kit's tenure survival at ``world.KM_DAYS`` against the truth's ``at_export``."""
    truth = json.loads((config.resolve(config.paths.raw) / "_truth" / "km.json").read_text(encoding="utf-8"))["at_export"]
    spans = result.spans
    days = np.asarray(world.KM_DAYS, dtype=float)
    kit = kaplan_meier(spans["duration_days"].to_numpy(), spans["lapsed"].to_numpy(), days)["survival"].to_numpy()
    return {str(int(d)): {"kit": float(s), "truth": float(truth[str(int(d))])} for d, s in zip(days, kit)}


def evaluate(config: KitConfig) -> Evaluation:
    """Run churn for the export month of ``config``'s world and compare with its truth."""
    wh = Warehouse.from_config(config)
    result = run_churn(wh, config.run.month, config)
    weights = json.loads((config.resolve(config.paths.raw) / "_truth" / "weights.json").read_text(encoding="utf-8"))["events"]
    labels, population, n = label_agreement(config, result)
    val = result.validation
    oracle = oracle_risk(config, result.plan.validation, val["customer_id"].to_numpy())
    quality = result.quality.set_index("model")
    hits, reasons = top_reason_hits(result, weights)
    return Evaluation(
        label_agreement=labels,
        population_agreement=population,
        labelled_subscribers=n,
        auc=float(roc_auc_score(val["churned"], val["risk"] if result.scorer == "model" else val["baseline_risk"])),
        auc_baseline=float(quality.loc["baseline", "roc_auc"]),
        auc_oracle=float(roc_auc_score(val["churned"], oracle)),
        scorer=result.scorer,
        driver_signs=driver_signs(result, weights),
        top_reasons_true=hits,
        top_reasons=reasons,
        km=km_figures(config, result),
    )


def main(argv: list[str] | None = None) -> None:
    """Build a world, evaluate it and print the figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--folder", type=Path, default=Path("data/bench/churn_truth"))
    args = parser.parse_args(argv)
    folder = args.folder / f"{args.accounts}_{args.seed}"
    config = load_config(folder / "kit.yml") if (folder / "kit.yml").exists() else build(folder, args.accounts, args.seed)
    print(json.dumps(evaluate(config).as_dict(), indent=2))


if __name__ == "__main__":
    main()
