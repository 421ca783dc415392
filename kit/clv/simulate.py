"""Vectorised simulators of the CLV models: ground truth for parameter-recovery tests and
the 1,000,000-customer world that ``kit.bench.clv`` times.

No loop per customer: each customer's rate and dropout are drawn at once, purchase counts
are Poisson over their active window, purchase times are uniform within it (the Poisson
process given its count), sorted per customer with one lexsort.

- ``simulate_histories``: (frequency, recency, T) at T plus repeat purchases in a holdout
  period after T and whether the customer is truly still active at T.
- ``simulate_orders``: warehouse ``orders`` rows (data contract) with day timestamps,
  Gamma-Gamma spend and a share of refunded orders, for summary and pipeline tests.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

MODELS = ("bgnbd", "mbgnbd", "paretonbd")
UNIT_DAYS = {"D": 1.0, "W": 7.0}


@dataclass(frozen=True)
class Paths:
    """Repeat-purchase times (in time units since the first purchase) of n customers."""

    customer: np.ndarray  # index of the customer of each purchase, sorted
    time: np.ndarray  # time of each purchase, ascending within a customer
    death: np.ndarray  # per customer: when they leave (inf if never within the window)


def purchase_paths(model: str, params: dict[str, float], horizon: np.ndarray, rng: np.random.Generator) -> Paths:
    """Repeat purchases in (0, horizon] for each customer under ``model`` with ``params``."""
    if model not in MODELS:
        raise ValueError(f"unknown model {model!r}; choose one of {', '.join(MODELS)}")
    n = len(horizon)
    lam = rng.gamma(params["r"], 1.0 / params["alpha"], n)
    if model == "paretonbd":
        mu = rng.gamma(params["s"], 1.0 / params["beta"], n)
        death = rng.exponential(1.0 / mu)
        window = np.minimum(death, horizon)
        limit = None
    else:
        p = rng.beta(params["a"], params["b"], n)
        # number of repeat purchases after which the customer leaves (MBG: may be 0)
        limit = rng.geometric(p) - (1 if model == "mbgnbd" else 0)
        window = horizon
    counts = rng.poisson(lam * window)
    customer = np.repeat(np.arange(n), counts)
    time = rng.uniform(0.0, 1.0, counts.sum()) * window[customer]
    order = np.lexsort((time, customer))
    customer, time = customer[order], time[order]
    if limit is not None:
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        rank = np.arange(len(customer)) - starts[customer]
        keep = rank < limit[customer]
        last = np.full(n, np.inf)
        # a BG customer dies at their limit-th purchase if it happens inside the window
        dies = keep & (rank == limit[customer] - 1)
        last[customer[dies]] = time[dies]
        death = np.where(limit == 0, 0.0, last)
        customer, time = customer[keep], time[keep]
    return Paths(customer, time, death)


def simulate_histories(
    model: str,
    params: dict[str, float],
    T: np.ndarray | float,
    n: int | None = None,
    holdout: float = 0.0,
    seed: int = 0,
) -> pd.DataFrame:
    """Customers' (frequency, recency, T) at T, ``frequency_holdout`` in (T, T + holdout]
    and ``alive`` (truly active at T). ``T`` is an array, or a number with ``n`` customers."""
    rng = np.random.default_rng(seed)
    T = np.full(n, float(T)) if np.isscalar(T) else np.asarray(T, dtype=float)
    paths = purchase_paths(model, params, T + holdout, rng)
    calib = paths.time <= T[paths.customer]
    frequency = np.bincount(paths.customer[calib], minlength=len(T))
    recency = np.zeros(len(T))
    np.maximum.at(recency, paths.customer[calib], paths.time[calib])
    return pd.DataFrame(
        {
            "frequency": frequency,
            "recency": recency,
            "T": T,
            "frequency_holdout": np.bincount(paths.customer[~calib], minlength=len(T)),
            "alive": paths.death > T,
        }
    )


def simulate_orders(
    n_customers: int,
    start: str = "2024-01-01",
    end: str = "2026-11-01",
    model: str = "bgnbd",
    params: dict[str, float] | None = None,
    spend: dict[str, float] | None = None,
    time_unit: str = "W",
    refund_share: float = 0.03,
    seed: int = 0,
) -> pd.DataFrame:
    """Warehouse ``orders`` rows (data contract columns) for ``n_customers`` buyers whose
    first purchase is uniform in [start, end); nothing is dated at or after ``end``.

    ``params`` are per ``time_unit`` (default BG/NBD r=0.8, alpha=4, a=0.8, b=2.5 per week);
    ``spend`` are Gamma-Gamma p, q, v (default 6, 4, 60: about 120 yuan per order).
    A ``refund_share`` of extra orders are refunded copies (status refunded, is_refund true)
    which a CLV summary must ignore.
    """
    rng = np.random.default_rng(seed)
    params = params or {"r": 0.8, "alpha": 4.0, "a": 0.8, "b": 2.5}
    spend = spend or {"p": 6.0, "q": 4.0, "v": 60.0}
    unit = UNIT_DAYS[time_unit]
    t0, t1 = pd.Timestamp(start), pd.Timestamp(end)
    span_days = (t1 - t0).days
    first_day = rng.integers(0, span_days, n_customers)
    horizon = (span_days - first_day - 1) / unit  # last purchase stays before `end`
    paths = purchase_paths(model, params, horizon, rng)
    customer = np.concatenate([np.arange(n_customers), paths.customer])
    day = np.concatenate([first_day.astype(float), first_day[paths.customer] + paths.time * unit])
    seconds = np.floor(day).astype(np.int64) * 86400 + rng.integers(8 * 3600, 22 * 3600, len(day))
    nu = rng.gamma(spend["q"], 1.0 / spend["v"], n_customers)
    amount = np.round(rng.gamma(spend["p"], 1.0 / nu[customer]), 2)
    refunded = rng.random(len(customer)) < refund_share
    customer = np.concatenate([customer, customer[refunded]])
    seconds = np.concatenate([seconds, seconds[refunded] + 3600])
    amount = np.concatenate([amount, amount[refunded]])
    is_refund = np.concatenate([np.zeros(len(day), bool), np.ones(int(refunded.sum()), bool)])
    ids = np.array([f"C{v:010x}" for v in rng.choice(16**10, n_customers, replace=False)])
    m = len(customer)
    return pd.DataFrame(
        {
            "order_id": pd.array([f"S{i:09d}" for i in range(m)], dtype="str"),
            "customer_id": pd.array(ids[customer], dtype="str"),
            "source": "shop",
            "channel": "online",
            "order_ts": t0 + pd.to_timedelta(seconds, unit="s"),
            "amount": amount,
            "discount": 0.0,
            "category": "general",
            "items": pd.array(np.ones(m, dtype=np.int64), dtype="Int64"),
            "payment_method": "alipay",
            "status": np.where(is_refund, "refunded", "paid"),
            "is_refund": is_refund,
            "store_city": pd.array([None] * m, dtype="str"),
        }
    )
