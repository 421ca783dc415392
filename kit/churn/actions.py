"""From risk to action: value at risk, action buckets, the budget what-if, and exports.

- Value: CLV from ``snapshots/<month>/clv.parquet`` (04_clv) when present. Customers it
  lacks, or every customer when the file is absent, get the documented fallback: the
  margin of their last 365 days (``monetary_365d x clv.gross_margin``), labelled
  ``clv_source = "margin_365d"`` so nobody mistakes it for a model output.
- Value at risk = churn probability x CLV.
- Action buckets (shares in ``churn`` config): customers ranked by value at risk, ties
  by risk (``contact_order``); the first ``call_share`` (5%) get a personal ``call``, the
  next ``coupon_share`` (15%) a ``coupon``, everyone else automated ``nurture``. Shares of
  the ranked list, not fixed risk or value thresholds: when everyone pays the same (one
  price, so one CLV), the riskiest still get the calls and coupons.
- Budget what-if: contacting the ``n`` customers with the highest value at risk reaches
  sum(risk) expected churners; if an action keeps ``action_success_rate`` of them, it
  saves that share of their value at risk (an assumption, shown as such).
- Exports: ``churn_risk.csv`` in UTF-8 with BOM (``utf-8-sig``) so Excel shows Chinese;
  ids only, no personal data. Like the snapshot it holds codes, not words (segment and
  persona as stored by 03_segmentation, reason codes with their numbers, the action code),
  so the same data gives the same file whatever the run's language; the page shows the
  phrases (``kit.churn.drivers.reason_phrases``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from kit.core.atomic import atomic_path
from kit.core.config import ChurnConfig, KitConfig
from kit.core.dates import check_month
from kit.core.warehouse import Warehouse

ACTIONS = ("call", "coupon", "nurture")
EXPORT_FILE = "churn_risk.csv"
# per reason slot: the code, the customer's value, a trend's earlier value, the population's typical value
REASON_PARTS = ("", "_value", "_before", "_typical")
SNAPSHOT_COLUMNS = [
    "customer_id",
    "churn_probability",
    "clv",
    "clv_source",
    "value_at_risk",
    "segment",
    "persona",
    *(f"reason_{k}{part}" for k in (1, 2, 3) for part in REASON_PARTS),
    "action",
]
# contractual churn (kit.churn.contract): MRR at the month end and the expected paid months ahead
SUBSCRIPTION_COLUMNS = ["mrr", "expected_months"]


def customer_value(wh: Warehouse, month: str, features: pd.DataFrame, gross_margin: float) -> pd.DataFrame:
    """``customer_id``, ``clv`` and ``clv_source`` for the customers in ``features``."""
    fallback = pd.to_numeric(features["monetary_365d"], errors="coerce").fillna(0.0).to_numpy() * gross_margin
    value = pd.DataFrame(
        {"customer_id": features["customer_id"].to_numpy(), "clv": fallback, "clv_source": "margin_365d"}
    )
    if wh.has_snapshot(month, "clv"):
        clv = wh.read_snapshot(month, "clv")[["customer_id", "clv"]]
        modelled = value["customer_id"].map(clv.set_index("customer_id")["clv"])
        has = modelled.notna().to_numpy()
        value["clv"] = np.where(has, modelled.to_numpy(dtype=float, na_value=np.nan), value["clv"])
        value["clv_source"] = np.where(has, "clv_model", "margin_365d")
    value["clv_source"] = value["clv_source"].astype("str")
    return value


def segment_labels(wh: Warehouse, month: str, customer_ids: pd.Series) -> pd.DataFrame:
    """``segment`` (RFM segment) and ``persona`` from 03_segmentation, missing when absent."""
    out = pd.DataFrame({"customer_id": customer_ids.to_numpy()})
    if not wh.has_snapshot(month, "segments"):
        return out.assign(segment=pd.Series(pd.NA, index=out.index, dtype="str"), persona=pd.Series(pd.NA, index=out.index, dtype="str"))
    segments = wh.read_snapshot(month, "segments").set_index("customer_id")
    for target, source in (("segment", "rfm_segment"), ("persona", "persona")):
        column = segments[source].astype("str") if source in segments else pd.Series(dtype="str")
        out[target] = out["customer_id"].map(column).astype("str")
    return out


def action_buckets(risk: np.ndarray, value_at_risk: np.ndarray, config: ChurnConfig) -> np.ndarray:
    """``call`` / ``coupon`` / ``nurture`` per customer: the first ``call_share`` of the
    ``contact_order`` get a call, the next ``coupon_share`` a coupon (module docstring)."""
    order = contact_order(value_at_risk, risk)
    n = len(order)
    n_call = int(round(config.call_share * n))
    n_coupon = min(n - n_call, int(round(config.coupon_share * n)))
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n)
    return np.where(rank < n_call, "call", np.where(rank < n_call + n_coupon, "coupon", "nurture")).astype(object)


def contact_order(value_at_risk: np.ndarray, risk: np.ndarray) -> np.ndarray:
    """Row positions in the order to contact customers: highest value at risk first, ties
    (one price for everyone, or no value known) by higher risk."""
    var = np.nan_to_num(np.asarray(value_at_risk, dtype=float))
    return np.lexsort((-np.nan_to_num(np.asarray(risk, dtype=float)), -var))


def budget_outcome(risk: np.ndarray, value_at_risk: np.ndarray, n_contacts: int, success_rate: float) -> dict[str, float]:
    """What contacting the top ``n_contacts`` by value at risk reaches and may save."""
    risk = np.asarray(risk, dtype=float)
    order = contact_order(value_at_risk, risk)[: max(0, int(n_contacts))]
    var = np.asarray(value_at_risk, dtype=float)
    reached = float(np.nansum(risk[order]))
    var_reached = float(np.nansum(var[order]))
    return {
        "contacted": int(len(order)),
        "expected_churners_reached": reached,
        "share_of_expected_churners": reached / float(np.nansum(risk)) if np.nansum(risk) > 0 else 0.0,
        "value_at_risk_reached": var_reached,
        "expected_value_saved": var_reached * success_rate,
    }


def budget_curve(risk: np.ndarray, value_at_risk: np.ndarray, success_rate: float, points: int = 40) -> pd.DataFrame:
    """``budget_outcome`` for budgets from 0 to everyone (``points`` steps)."""
    order = contact_order(value_at_risk, risk)
    cum_risk = np.concatenate([[0.0], np.nancumsum(np.asarray(risk, dtype=float)[order])])
    cum_var = np.concatenate([[0.0], np.nancumsum(np.asarray(value_at_risk, dtype=float)[order])])
    sizes = np.unique(np.linspace(0, len(order), points + 1).round().astype(int))
    return pd.DataFrame(
        {
            "contacted": sizes,
            "expected_churners_reached": cum_risk[sizes],
            "value_at_risk_reached": cum_var[sizes],
            "expected_value_saved": cum_var[sizes] * success_rate,
        }
    )


def export_path(rep_or_config: Any, month: str) -> Path:
    """Folder for this month's exported files: the report's staging ``export_dir`` when
    given a Report, else ``<paths.reports>/<month>/exports`` from a KitConfig."""
    check_month(month)
    if hasattr(rep_or_config, "export_dir"):
        return Path(rep_or_config.export_dir)
    if not isinstance(rep_or_config, KitConfig):
        raise TypeError(f"export_path needs a Report or a KitConfig, got {type(rep_or_config).__name__}")
    folder = rep_or_config.resolve(rep_or_config.paths.reports) / month / "exports"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def export_frame(scores: pd.DataFrame) -> pd.DataFrame:
    """The contact list as exported: ids, risk, value, labels, reason codes, action code;
    highest value at risk first (ties in the scores' order: by customer id)."""
    ordered = scores.iloc[contact_order(scores["value_at_risk"].to_numpy(), scores["churn_probability"].to_numpy())]
    reasons = [f"reason_{k}{part}" for k in (1, 2, 3) for part in REASON_PARTS]
    return pd.DataFrame(
        {
            "customer_id": ordered["customer_id"].to_numpy(),
            "risk": ordered["churn_probability"].round(4).to_numpy(),
            "clv": ordered["clv"].round(2).to_numpy(),
            "clv_source": ordered["clv_source"].to_numpy(),
            "value_at_risk": ordered["value_at_risk"].round(2).to_numpy(),
            "segment": ordered["segment"].to_numpy(),
            "persona": ordered["persona"].to_numpy(),
            # values to 4 decimals: past that only summation-order noise, which would make
            # two runs on the same data write different files
            **{c: ordered[c].round(4).to_numpy() if c.endswith(("_value", "_before")) else ordered[c].to_numpy() for c in reasons},
            "action": ordered["action"].to_numpy(),
        }
    )


def write_export(scores: pd.DataFrame, folder: Path) -> Path:
    """Write ``churn_risk.csv`` (UTF-8 with BOM for Excel) into ``folder``; return its path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / EXPORT_FILE
    with atomic_path(path) as tmp:
        export_frame(scores).to_csv(tmp, index=False, encoding="utf-8-sig")
    return path


def write_snapshot(wh: Warehouse, month: str, scores: pd.DataFrame) -> Path:
    """Write ``snapshots/<month>/churn.parquet`` (the data contract's columns, and for
    subscriptions ``SUBSCRIPTION_COLUMNS``)."""
    extra = [c for c in SUBSCRIPTION_COLUMNS if c in scores.columns]
    return wh.write_snapshot(month, "churn", scores[SNAPSHOT_COLUMNS + extra])
