"""A subscription product with monthly billing, behaviour events and known churn causes.

Issue 18: the churn warning must find the behaviours that cause churn. This world makes
them known. ``write_world(raw, accounts, seed, end_month)`` simulates ``accounts`` accounts
of an app sold on monthly plans (``PLANS``: different prices) and writes the files its
company would export, plus ``_truth/`` beside them:

- ``accounts.csv``: customer number, e-mail, sign-up date;
- ``subscriptions.csv``: one row per subscription (one per account here): id, customer
  number, plan, ``started_at``, ``paid_through`` (the day the paid period ends, as of the
  export), ``mrr``, ``cancelled_at`` (blank unless the customer cancelled);
- ``payments.csv``: one row per period paid (the order log: invoice, customer, time, amount);
- ``events.parquet``: customer number, ``event_ts``, ``event_type`` (``EVENT_RATES``).

How it works (every draw from one seeded numpy Generator, vectorised over accounts, so the
same arguments give the same bytes):

- Sign-ups are spread evenly over the days from ``START`` to the export's end (the end of
  ``end_month``), so some start on the 29th-31st. Billing follows the calendar: period k
  ends on ``started_at + k months`` (a start on 31 January renews on 28/29 February, then
  31 March: pandas ``DateOffset``, counted from the start, never from the last renewal).
  A renewal is paid on its due day or, for ``LATE_SHARE`` of renewals, 1 to
  ``GRACE_DAYS - 1`` days late (never churn: the paid period still starts on the due day).
- Events: each account has a base rate per event type (``EVENT_RATES`` times a
  log-normal factor) that drifts: a weekly random walk per type plus one engagement walk
  that raises the positive events and lowers the negative ones. Events happen only while
  the account is subscribed.
- Churn: ``DECISION_DAYS`` before each renewal the account renews or not, with probability
  of leaving ``sigmoid(u)``, ``u = INTERCEPT + sum_k WEIGHTS[k] * log1p(count_k) +
  PLAN_EFFECT[plan] + TENURE_WEIGHT * log1p(tenure in months)``, ``count_k`` the account's
  events of type k in the ``WINDOW_DAYS`` days before the decision. A leaver cancels on
  the decision day or within ``CANCEL_DAYS`` after it (``CANCEL_SHARE`` of them; the others'
  payment simply stops) and keeps the service up to its ``paid_through``, then is gone.
- The simulation runs ``TRUTH_DAYS`` past the export, so the truth knows the churn after it.

``_truth/``: ``weights.json`` (the utility above), ``accounts.parquet`` (per account: plan,
start, ``end_date`` = the last paid-through day when the account left within the
simulation, else null, ``last_paid_through`` and ``cancelled_at`` as simulated, the latter
possibly after the export), ``labels.parquet`` (per month-end snapshot ``S``, midnight after
the month's last day, and account active at ``S`` (started before ``S`` and paid through
after it): ``churned_<N>d`` = the paid period it holds at ``S`` is its last and ends by
``S + N`` days, N in ``LABEL_DAYS``; the kit sees such a lapse ``GRACE_DAYS`` after
``end_date``), ``km.json`` (the Kaplan-Meier survival of the true subscription tenure,
start day to ``end_date``, at 30/60/150 days: ``at_export`` censored at the export's end,
what the exported data can show and the figure to check the kit's curve against, and
``full`` censored at the end of the simulation) and ``config.json``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from kit.core.dates import snapshot_end

START = pd.Timestamp("2025-05-01")
PLANS = {"basic": 9.9, "pro": 29.0, "team": 79.0}  # plan -> price per month
PLAN_SHARE = (0.5, 0.35, 0.15)
PLAN_EFFECT = {"basic": 0.4, "pro": 0.0, "team": -0.5}
# expected events per account-day at the base level
EVENT_RATES = {
    "login": 0.22, "use_feature": 0.18, "invite": 0.03, "export": 0.06,
    "support_ticket": 0.02, "error": 0.05, "downgrade_view": 0.015, "unfriend": 0.012,
}
POSITIVE = ("login", "use_feature", "invite", "export")
# weights of log1p(28-day count) in the churn utility: > 0 raises the risk, < 0 protects
WEIGHTS = {
    "login": -0.5, "use_feature": -1.0, "invite": -1.2, "export": -0.4,
    "support_ticket": 1.0, "error": 0.5, "downgrade_view": 1.6, "unfriend": 1.4,
}
INTERCEPT = -1.2
TENURE_WEIGHT = -0.4
WINDOW_DAYS = 28
DECISION_DAYS = 7  # the renewal decision falls this many days before the renewal
CANCEL_SHARE, CANCEL_DAYS = 0.7, 5
GRACE_DAYS = 7  # a renewal paid up to this many days late is a renewal
LATE_SHARE = 0.1
TRUTH_DAYS = 200  # simulated past the export, for the truth only
LABEL_DAYS = (30, 90)
KM_DAYS = (30, 60, 150)
BASE_SPREAD, WALK_SD, ENGAGEMENT_SD = 0.5, 0.12, 0.12


def write_world(raw: Path, accounts: int = 2500, seed: int = 42, end_month: str = "2026-10") -> dict:
    """Write the subscription world's files into ``raw`` and its truth into ``raw/_truth``;
    return a summary (rows per file, churned accounts)."""
    raw = Path(raw)
    truth_dir = raw / "_truth"
    truth_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    export_end = snapshot_end(end_month)
    n_days = int((export_end - START).days) + TRUTH_DAYS
    start_day = np.sort(rng.integers(0, (export_end - START).days, accounts))
    plans = np.asarray(list(PLANS))[rng.choice(len(PLANS), accounts, p=PLAN_SHARE)]
    daily = _daily_events(rng, accounts, n_days)
    sim = _simulate(rng, start_day, plans, daily, n_days)
    numbers = np.asarray([f"CU{100_000 + i}" for i in range(accounts)])
    started = START + pd.to_timedelta(start_day, unit="D") + pd.to_timedelta(rng.integers(8 * 60, 22 * 60, accounts), unit="min")
    files = _export(raw, rng, numbers, plans, started, sim, daily, export_end)
    _truth(truth_dir, numbers, plans, started, sim, export_end, seed, accounts, end_month)
    return {"files": files, "churned": int(np.isfinite(sim["end_k"]).sum())}


def _daily_events(rng: np.random.Generator, accounts: int, n_days: int) -> np.ndarray:
    """Event counts per day, account and type (``EVENT_RATES`` order), as if every account
    were subscribed every day (``_export`` keeps the subscribed days). Drawn a week at a
    time (int8 counts: the rate is capped at e**2 a day), so 50,000 accounts fit in memory."""
    types = list(EVENT_RATES)
    log_rate = np.log(np.asarray([EVENT_RATES[t] for t in types]))[None, :] + rng.normal(0, BASE_SPREAD, (accounts, len(types)))
    sign = np.where(np.isin(types, POSITIVE), 1.0, -1.0)[None, :]
    daily = np.empty((n_days, accounts, len(types)), dtype=np.int8)
    for week in range(0, n_days, 7):
        log_rate = log_rate + rng.normal(0, WALK_SD, (accounts, len(types))) + sign * rng.normal(0, ENGAGEMENT_SD, (accounts, 1))
        rate = np.exp(np.clip(log_rate, -8, 2))
        days = min(7, n_days - week)
        daily[week:week + days] = rng.poisson(rate, (days, accounts, len(types)))
    return daily


def _renewal_days(start_day: np.ndarray, k: np.ndarray | int) -> np.ndarray:
    """Day number (since ``START``) on which period ``k`` of each account ends, by the
    billing calendar: start + k months, the day clipped to the month's last day (as
    pandas ``DateOffset(months=k)``, vectorised; ``k`` per account or one for all)."""
    start = np.datetime64(START.date(), "D") + np.asarray(start_day).astype("timedelta64[D]")
    month = start.astype("datetime64[M]")
    day = (start - month.astype("datetime64[D]")).astype(np.int64)
    target = month + np.asarray(k).astype("timedelta64[M]")
    length = ((target + 1).astype("datetime64[D]") - target.astype("datetime64[D]")).astype(np.int64)
    due = target.astype("datetime64[D]") + np.minimum(day, length - 1).astype("timedelta64[D]")
    return (due - np.datetime64(START.date(), "D")).astype(np.int64)


def _simulate(
    rng: np.random.Generator, start_day: np.ndarray, plans: np.ndarray, daily: np.ndarray, n_days: int
) -> dict[str, np.ndarray]:
    """The renewal decisions: per account the number of paid periods (``periods``), the
    renewal at which it left (``end_k``, inf when it never left within the simulation) and
    the day it decided to leave (``decision_day``, -1 for a stayer)."""
    accounts = len(start_day)
    weights = np.asarray([WEIGHTS[t] for t in EVENT_RATES])
    plan_effect = np.asarray([PLAN_EFFECT[p] for p in plans])
    end_k = np.full(accounts, np.inf)
    decision_day = np.full(accounts, -1)
    periods = np.zeros(accounts, dtype=np.int64)
    k = 1
    while True:
        due = _renewal_days(start_day, k)
        alive = ~np.isfinite(end_k) & (due < n_days)
        if not alive.any():
            break
        periods[alive] = k
        decide = due - DECISION_DAYS
        idx = np.flatnonzero(alive)
        counts = np.zeros((len(idx), daily.shape[2]))
        for back in range(1, WINDOW_DAYS + 1):  # the window's days on or after the start
            day = decide[idx] - back
            counts += daily[np.maximum(day, 0), idx] * (day >= start_day[idx])[:, None]
        utility = INTERCEPT + np.log1p(counts) @ weights + plan_effect[idx] + TENURE_WEIGHT * np.log1p(k)
        leave = rng.random(len(idx)) < 1 / (1 + np.exp(-utility))
        end_k[idx[leave]] = k
        decision_day[idx[leave]] = decide[idx[leave]]
        k += 1
    return {"start_day": start_day, "periods": periods, "end_k": end_k, "decision_day": decision_day}


def _export(
    raw: Path, rng: np.random.Generator, numbers: np.ndarray, plans: np.ndarray, started: pd.DatetimeIndex,
    sim: dict[str, np.ndarray], daily: np.ndarray, export_end: pd.Timestamp,
) -> dict[str, int]:
    """The files the company exports on ``export_end``: what happened before it."""
    accounts = len(numbers)
    start_day = sim["start_day"]
    cut = int((export_end - START).days)
    price = np.asarray([PLANS[p] for p in plans])
    # payments: period k (k = 0 ..) is paid on its start day, a few late
    rows = []
    for k in range(int(sim["periods"].max()) + 1):
        paid = np.flatnonzero(sim["periods"] >= k) if k else np.arange(accounts)
        paid = paid[~(sim["end_k"][paid] <= k)]  # a leaver at renewal k pays no period k
        if not len(paid):
            break
        due = start_day[paid] if k == 0 else _renewal_days(start_day[paid], k)
        late = np.where((rng.random(len(paid)) < LATE_SHARE) & (k > 0), rng.integers(1, GRACE_DAYS, len(paid)), 0)
        minute = rng.integers(0, 24 * 60, len(paid))
        rows.append(pd.DataFrame({"account": paid, "k": k, "day": due + late, "minute": minute}))
    pay = pd.concat(rows, ignore_index=True)
    pay = pay[pay["day"] < cut].sort_values(["day", "minute", "account"], ignore_index=True)
    paid_at = START + pd.to_timedelta(pay["day"], unit="D") + pd.to_timedelta(pay["minute"], unit="min")
    paid_at = paid_at.where(pay["k"] > 0, started[pay["account"]].to_numpy())
    payments = pd.DataFrame({
        "invoice": [f"INV{900_000 + i}" for i in range(len(pay))], "customer_no": numbers[pay["account"]],
        "paid_at": paid_at.dt.strftime("%Y-%m-%d %H:%M:%S"), "amount": [f"{v:.2f}" for v in price[pay["account"]]],
    })
    payments.to_csv(raw / "payments.csv", index=False, lineterminator="\n")
    # subscriptions as of the export: paid through the end of the last period paid
    periods_paid = pay.groupby("account")["k"].max().reindex(range(accounts)).to_numpy()
    through = _renewal_days(start_day, periods_paid + 1)
    cancel_day = sim["decision_day"] + rng.integers(0, CANCEL_DAYS + 1, accounts)
    cancels = (sim["decision_day"] >= 0) & (rng.random(accounts) < CANCEL_SHARE) & (cancel_day < cut)
    cancel_at = START + pd.to_timedelta(cancel_day, unit="D") + pd.to_timedelta(rng.integers(8 * 60, 23 * 60, accounts), unit="min")
    subscriptions = pd.DataFrame({
        "subscription_id": [f"SUB{500_000 + i}" for i in range(accounts)], "customer_no": numbers, "plan": plans,
        "started_at": started.strftime("%Y-%m-%d %H:%M:%S"),
        "paid_through": (START + pd.to_timedelta(through, unit="D")).strftime("%Y-%m-%d"),
        "mrr": [f"{v:.2f}" for v in price],
        "cancelled_at": np.where(cancels, cancel_at.strftime("%Y-%m-%d %H:%M:%S"), ""),
    })
    subscriptions.to_csv(raw / "subscriptions.csv", index=False, lineterminator="\n")
    pd.DataFrame({
        "customer_no": numbers, "email": [f"user{100_000 + i}@example.com" for i in range(accounts)],
        "signup_date": started.strftime("%Y-%m-%d"),
    }).to_csv(raw / "accounts.csv", index=False, lineterminator="\n")
    # events: subscribed days before the export
    left = np.isfinite(sim["end_k"])
    end_day = np.where(left, _renewal_days(start_day, np.where(left, sim["end_k"], 0).astype(np.int64)), cut)
    events = _event_rows(rng, daily, start_day, np.minimum(end_day, cut))
    events = events.assign(customer_no=numbers[events.pop("account").to_numpy()])[["customer_no", "event_ts", "event_type"]]
    events.to_parquet(raw / "events.parquet", index=False)
    return {"accounts.csv": accounts, "subscriptions.csv": accounts, "payments.csv": len(payments), "events.parquet": len(events)}


def _event_rows(rng: np.random.Generator, daily: np.ndarray, first: np.ndarray, last: np.ndarray) -> pd.DataFrame:
    """One row per event on the days [first, last) of each account, at a random time of day
    (to the millisecond; no two rows alike)."""
    day, account, kind = np.nonzero(daily)
    keep = (day >= first[account]) & (day < last[account])
    day, account, kind = day[keep], account[keep], kind[keep]
    n = daily[day, account, kind].astype(np.int64)
    day, account, kind = np.repeat(day, n), np.repeat(account, n), np.repeat(kind, n)
    millis = rng.integers(6 * 3_600_000, 24 * 3_600_000, len(day))
    ts = START + pd.to_timedelta(day, unit="D") + pd.to_timedelta(millis, unit="ms")
    frame = pd.DataFrame({"account": account, "event_ts": ts, "event_type": np.asarray(list(EVENT_RATES))[kind]})
    # two events of one account, type and millisecond would be an exact duplicate row: one ms apart
    clash = frame.groupby(["account", "event_ts", "event_type"]).cumcount().to_numpy()
    frame["event_ts"] += pd.to_timedelta(clash, unit="ms")
    return frame.sort_values(["event_ts", "account"], ignore_index=True)


def _truth(
    truth_dir: Path, numbers: np.ndarray, plans: np.ndarray, started: pd.DatetimeIndex, sim: dict[str, np.ndarray],
    export_end: pd.Timestamp, seed: int, accounts: int, end_month: str,
) -> None:
    """``_truth/``: weights, accounts, labels per month-end and Kaplan-Meier at ``KM_DAYS``."""
    start_day = sim["start_day"]
    left = np.isfinite(sim["end_k"])
    # a leaver at renewal k paid periods 0 .. k-1; a stayer paid period ``periods`` too
    through = _renewal_days(start_day, np.where(left, sim["end_k"], sim["periods"] + 1).astype(np.int64))
    day0 = START.normalize()
    end_date = pd.Series(day0 + pd.to_timedelta(through, unit="D")).where(left)
    decision = pd.Series(day0 + pd.to_timedelta(sim["decision_day"], unit="D")).where(left)
    table = pd.DataFrame({
        "customer_no": numbers, "plan": plans, "started_at": started, "churned": left, "end_date": end_date,
        "last_paid_through": day0 + pd.to_timedelta(through, unit="D"), "decision_date": decision,
    })
    table.to_parquet(truth_dir / "accounts.parquet", index=False)
    labels = []
    for month in pd.period_range(START, export_end - pd.Timedelta(days=1), freq="M"):
        snap = snapshot_end(str(month))
        active = (table["started_at"] < snap) & (table["end_date"].isna() | (table["end_date"] > snap))
        frame = pd.DataFrame({"month": str(month), "snapshot": snap, "customer_no": table.loc[active, "customer_no"]})
        for days in LABEL_DAYS:
            frame[f"churned_{days}d"] = (table.loc[active, "end_date"] <= snap + pd.Timedelta(days=days)).to_numpy()
        labels.append(frame)
    pd.concat(labels, ignore_index=True).to_parquet(truth_dir / "labels.parquet", index=False)
    horizon = START + pd.Timedelta(days=int((export_end - START).days) + TRUTH_DAYS)
    km = {}
    for name, cut in (("at_export", export_end), ("full", horizon)):
        ended = left & (table["end_date"] < cut).to_numpy()  # lapsed before the cut
        duration = (table["end_date"].where(ended, cut) - table["started_at"].dt.normalize()).dt.days.to_numpy()
        km[name] = {str(d): kaplan_meier(duration, ended, d) for d in KM_DAYS}
    (truth_dir / "km.json").write_text(json.dumps(km, indent=2), encoding="utf-8")
    weights = {
        "utility": "intercept + sum(events[k] * log1p(count of k in the window)) + plans[plan] + tenure * log1p(months)",
        "intercept": INTERCEPT, "events": WEIGHTS, "plans": PLAN_EFFECT, "tenure": TENURE_WEIGHT,
        "window_days": WINDOW_DAYS, "decision_days_before_renewal": DECISION_DAYS,
    }
    (truth_dir / "weights.json").write_text(json.dumps(weights, indent=2), encoding="utf-8")
    config = {"seed": seed, "accounts": accounts, "start": str(START.date()), "end_month": end_month,
              "export_end": str(export_end), "truth_days": TRUTH_DAYS, "grace_days": GRACE_DAYS,
              "label_days": list(LABEL_DAYS), "plans": PLANS, "event_rates": EVENT_RATES}
    (truth_dir / "config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")


def kaplan_meier(duration: np.ndarray, event: np.ndarray, at: float) -> float:
    """The Kaplan-Meier survival at ``at`` of durations ``duration`` (days) with events
    ``event`` (False: censored at that duration)."""
    times = np.unique(duration[event & (duration <= at)])
    survival = 1.0
    for t in times:
        at_risk = np.count_nonzero(duration >= t)
        survival *= 1 - np.count_nonzero(event & (duration == t)) / at_risk
    return float(survival)
