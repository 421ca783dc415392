"""A subscription product with monthly billing, behaviour events and known churn causes.

Issue 18: the churn warning must find the behaviours that cause churn. This world makes
them known. ``write_world(raw, accounts, seed, end_month)`` simulates ``accounts`` accounts
of an app sold on monthly plans (``PLANS``: different prices) and writes the files its
company would export, plus ``_truth/`` beside them:

- ``accounts.csv``: customer number, e-mail, sign-up date;
- ``subscriptions.csv``: one row per subscription (one per account here): id, customer
  number, plan, ``started_at``, ``paid_through`` (the day the paid period ends, as of the
  export), ``mrr``, ``cancelled_at`` (blank unless the customer cancelled);
- ``payments.csv``: one row per period paid (the order log: invoice, customer, time, amount),
  in time order within each chunk;
- ``events.parquet``: customer number, ``event_ts``, ``event_type`` (``EVENT_RATES``), sorted
  by customer number and time, one row group (or more) per chunk.

How it works (accounts are simulated a chunk at a time, ``chunk`` accounts, default
``CHUNK_ACCOUNTS``; the files are written as each chunk is done, so a million accounts fit
in a few GB; every draw comes from one ``np.random.SeedSequence(seed)``: its first child
draws the whole population's sign-up days, plans and sign-up minutes, child ``1 + c`` every
draw of chunk ``c``; so the same arguments give the same bytes, and a chunk's draws never
depend on another chunk; each chunk is vectorised over its accounts; the figures at
1,000,000 accounts are in docs/decisions/0018-subscription-bench-world.md):

- Sign-ups are spread evenly over the days from ``START`` to the export's end (the end of
  ``end_month``), so some start on the 29th-31st; customer numbers follow the sign-up order,
  so a chunk is a block of neighbouring sign-up days. Billing follows the calendar: period k
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
from types import TracebackType

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

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
# accounts simulated at once: 1.4 GB at the peak for 1,000,000 accounts, against 2.2 GB with
# 50,000 a chunk at 100,000 accounts (docs/decisions/0018-subscription-bench-world.md)
CHUNK_ACCOUNTS = 25_000
DAY_S, DAY_MS = 86_400, 86_400_000
DAY0 = np.datetime64(START.date(), "s")  # the simulation's day 0, to the second
EVENT_TYPES = pa.array(list(EVENT_RATES), pa.large_string())
EVENT_SCHEMA = pa.schema([
    ("customer_no", pa.large_string()), ("event_ts", pa.timestamp("us")), ("event_type", pa.large_string()),
])
PRICE_TEXT = {plan: f"{price:.2f}" for plan, price in PLANS.items()}


def write_world(
    raw: Path, accounts: int = 2500, seed: int = 42, end_month: str = "2026-10", chunk: int | None = None,
) -> dict:
    """Write the subscription world's files into ``raw`` and its truth into ``raw/_truth``,
    simulating ``chunk`` accounts at a time (None: ``CHUNK_ACCOUNTS``, read at each call);
    return a summary (rows per file, churned accounts)."""
    chunk = CHUNK_ACCOUNTS if chunk is None else chunk
    if accounts < 1 or chunk < 1:
        raise ValueError(f"the subscription world needs at least 1 account and chunks of at least 1 (got {accounts}, {chunk})")
    raw = Path(raw)
    truth_dir = raw / "_truth"
    truth_dir.mkdir(parents=True, exist_ok=True)
    export_end = snapshot_end(end_month)
    cut = int((export_end - START).days)
    n_days = cut + TRUTH_DAYS
    population, *chunk_seeds = np.random.SeedSequence(seed).spawn(1 + -(-accounts // chunk))
    rng = np.random.default_rng(population)
    start_day = np.sort(rng.integers(0, cut, accounts))
    plans = np.asarray(list(PLANS))[rng.choice(len(PLANS), accounts, p=PLAN_SHARE)]
    started = DAY0 + (start_day * DAY_S + rng.integers(8 * 60, 22 * 60, accounts) * 60).astype("timedelta64[s]")
    tables = []
    with _Export(raw) as export:
        for number, child in enumerate(chunk_seeds):
            part = slice(number * chunk, min((number + 1) * chunk, accounts))
            chunk_rng = np.random.default_rng(child)
            daily = _daily_events(chunk_rng, part.stop - part.start, n_days)
            sim = _simulate(chunk_rng, start_day[part], plans[part], daily, n_days)
            ids = np.arange(part.start, part.stop)
            tables.append(_export_chunk(export, chunk_rng, ids, plans[part], started[part], sim, daily, cut))
            del daily  # before the next chunk's counts are drawn, not after
    table = pd.concat(tables, ignore_index=True)
    _truth(truth_dir, table, export_end, seed, accounts, end_month)
    return {"files": dict(export.rows), "churned": int(table["churned"].sum())}


class _Export:
    """The exported files, open for a whole world and written a chunk at a time: the CSV
    files (header once, then each chunk's rows unquoted: no value holds a comma, quote or
    line break, and pyarrow refuses to write one that does) and ``events.parquet`` through
    one ``ParquetWriter`` (each chunk's rows in one or more row groups)."""

    def __init__(self, raw: Path) -> None:
        self.raw = raw
        self.rows = {"accounts.csv": 0, "subscriptions.csv": 0, "payments.csv": 0, "events.parquet": 0}
        self._csv: dict[str, object] = {}
        self._events: pq.ParquetWriter | None = None

    def __enter__(self) -> _Export:
        self._events = pq.ParquetWriter(self.raw / "events.parquet", EVENT_SCHEMA)
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None) -> None:
        for handle in self._csv.values():
            handle.close()
        self._events.close()

    def csv(self, name: str, table: pa.Table) -> None:
        """Append ``table``'s rows to the CSV file ``name`` (its header on the first call)."""
        if name not in self._csv:
            self._csv[name] = (self.raw / name).open("wb")
            self._csv[name].write((",".join(table.column_names) + "\n").encode("utf-8"))
        pa_csv.write_csv(table, self._csv[name], pa_csv.WriteOptions(include_header=False, quoting_style="none"))
        self.rows[name] += table.num_rows

    def events(self, table: pa.Table) -> None:
        """Append ``table``'s rows to ``events.parquet``."""
        self._events.write_table(table)
        self.rows["events.parquet"] += table.num_rows


def _export_chunk(
    export: _Export, rng: np.random.Generator, ids: np.ndarray, plans: np.ndarray, started: np.ndarray,
    sim: dict[str, np.ndarray], daily: np.ndarray, cut: int,
) -> pd.DataFrame:
    """Write one chunk's rows of the files the company exports on day ``cut`` (what happened
    before it); return the chunk's accounts as the truth knows them. ``ids``: the accounts'
    numbers in the world (0 ..); ``started``: sign-up times (datetime64[s]). Clears
    ``daily`` outside the days each account was subscribed before the export."""
    n = len(ids)
    start_day = sim["start_day"]
    numbers = _numbered("CU", 100_000 + ids)
    price = pa.array([PRICE_TEXT[p] for p in plans])
    # payments: period k (k = 0 ..) is paid on its start day, a few late
    rows = []
    for k in range(int(sim["periods"].max()) + 1):
        paid = np.flatnonzero(sim["periods"] >= k) if k else np.arange(n)
        paid = paid[~(sim["end_k"][paid] <= k)]  # a leaver at renewal k pays no period k
        if not len(paid):
            break
        due = start_day[paid] if k == 0 else _renewal_days(start_day[paid], k)
        late = np.where((rng.random(len(paid)) < LATE_SHARE) & (k > 0), rng.integers(1, GRACE_DAYS, len(paid)), 0)
        minute = rng.integers(0, 24 * 60, len(paid))
        rows.append((paid, np.full(len(paid), k), due + late, minute))
    account, period, day, minute = (np.concatenate(column) for column in zip(*rows))
    before = day < cut
    account, period, day, minute = account[before], period[before], day[before], minute[before]
    paid_at = np.where(period > 0, DAY0 + (day * DAY_S + minute * 60).astype("timedelta64[s]"), started[account])
    order = np.lexsort((account, paid_at))
    first_invoice = 900_000 + export.rows["payments.csv"]
    export.csv("payments.csv", pa.table({
        "invoice": _numbered("INV", first_invoice + np.arange(len(order))), "customer_no": numbers.take(account[order]),
        "paid_at": _text(paid_at[order]), "amount": price.take(account[order]),
    }))
    # subscriptions as of the export: paid through the end of the last period paid
    periods_paid = np.zeros(n, dtype=np.int64)
    np.maximum.at(periods_paid, account, period)
    through = _renewal_days(start_day, periods_paid + 1)
    cancel_day = sim["decision_day"] + rng.integers(0, CANCEL_DAYS + 1, n)
    cancels = (sim["decision_day"] >= 0) & (rng.random(n) < CANCEL_SHARE) & (cancel_day < cut)
    cancel_at = DAY0 + (cancel_day * DAY_S + rng.integers(8 * 60, 23 * 60, n) * 60).astype("timedelta64[s]")
    export.csv("subscriptions.csv", pa.table({
        "subscription_id": _numbered("SUB", 500_000 + ids), "customer_no": numbers, "plan": pa.array(plans),
        "started_at": _text(started), "paid_through": _text(_days(through)), "mrr": price,
        "cancelled_at": _text(np.where(cancels, cancel_at, np.datetime64("NaT"))).fill_null(""),
    }))
    export.csv("accounts.csv", pa.table({
        "customer_no": numbers, "email": _numbered("user", 100_000 + ids, "@example.com"),
        "signup_date": _text(started.astype("datetime64[D]")),
    }))
    # events: subscribed days before the export
    left = np.isfinite(sim["end_k"])
    end_day = np.where(left, _renewal_days(start_day, np.where(left, sim["end_k"], 0).astype(np.int64)), cut)
    export.events(_event_table(rng, daily, start_day, np.minimum(end_day, cut), numbers))
    # the truth: a leaver at renewal k paid periods 0 .. k-1; a stayer paid period ``periods`` too
    last_through = _days(_renewal_days(start_day, np.where(left, sim["end_k"], sim["periods"] + 1).astype(np.int64)))
    never = np.datetime64("NaT", "us")
    return pd.DataFrame({
        "customer_no": pd.Series(numbers.to_numpy(zero_copy_only=False), dtype="str"), "plan": plans,
        "started_at": started.astype("datetime64[us]"), "churned": left,
        "end_date": np.where(left, last_through.astype("datetime64[us]"), never),
        "last_paid_through": last_through.astype("datetime64[us]"),
        "decision_date": np.where(left, _days(sim["decision_day"]).astype("datetime64[us]"), never),
    })


def _numbered(prefix: str, numbers: np.ndarray, suffix: str = "") -> pa.Array:
    """``prefix`` + each number + ``suffix``, as text (``CU100000``)."""
    return pc.binary_join_element_wise(prefix, pc.cast(pa.array(numbers), pa.string()), suffix, "")


def _days(day: np.ndarray) -> np.ndarray:
    """Day numbers since ``START`` as dates (datetime64[D])."""
    return DAY0.astype("datetime64[D]") + day.astype("timedelta64[D]")


def _text(times: np.ndarray) -> pa.Array:
    """Dates as ``%Y-%m-%d``, times to the second as ``%Y-%m-%d %H:%M:%S`` (NaT: null)."""
    return pc.cast(pa.array(times), pa.string())


def _event_table(
    rng: np.random.Generator, daily: np.ndarray, first: np.ndarray, last: np.ndarray, numbers: pa.Array,
) -> pa.Table:
    """One row per event on the days [first, last) of each account, at a random time of day
    to the millisecond, sorted by account and time (``numbers``: the accounts' customer
    numbers). Two events of one account, type and millisecond would be an exact duplicate
    row: the later one moves a millisecond on, until no two rows are alike. Clears ``daily``
    outside those days.

    Each event is one int64 key, ((account * days + day) * DAY_MS + millisecond) * types + type:
    sorting the keys sorts the rows, and a chunk of up to ~17 million accounts fits."""
    n_days, accounts, types = daily.shape
    for day in range(n_days):
        daily[day, (day < first) | (day >= last)] = 0
    flat = np.flatnonzero(daily)
    flat = np.repeat(flat, daily.reshape(-1)[flat].astype(np.int64))
    day, rest = np.divmod(flat, accounts * types)
    del flat
    account, kind = np.divmod(rest, types)
    del rest
    key = account * n_days + day
    del account, day
    key *= DAY_MS
    key += rng.integers(6 * 3_600_000, 24 * 3_600_000, len(key))
    key *= types
    key += kind
    del kind
    key.sort()
    while (copy := np.r_[False, key[1:] == key[:-1]]).any():
        index = np.arange(len(key))
        key += (index - np.maximum.accumulate(np.where(copy, 0, index))) * types  # the n-th copy n ms later
        key.sort()
    millis = (key // types) % (n_days * DAY_MS)  # since START
    return pa.table({
        "customer_no": numbers.take(key // (n_days * DAY_MS * types)).cast(pa.large_string()),
        "event_ts": pa.array(DAY0.astype("datetime64[us]") + (millis * 1000).astype("timedelta64[us]")),
        "event_type": EVENT_TYPES.take(key % types),
    }, schema=EVENT_SCHEMA)


def _truth(truth_dir: Path, table: pd.DataFrame, export_end: pd.Timestamp, seed: int, accounts: int, end_month: str) -> None:
    """``_truth/``: the accounts (``table``), labels per month-end, Kaplan-Meier at ``KM_DAYS``, weights, config."""
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
        ended = (table["churned"] & (table["end_date"] < cut)).to_numpy()  # lapsed before the cut
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


def _daily_events(rng: np.random.Generator, accounts: int, n_days: int) -> np.ndarray:
    """Event counts per day, account and type (``EVENT_RATES`` order), as if every account
    were subscribed every day (``_event_table`` keeps the subscribed days). Drawn a week at
    a time; int8 counts (the rate is capped at e**2 a day): days x accounts x 8 bytes, 0.15 GB
    for a chunk of 25,000 accounts."""
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


def kaplan_meier(duration: np.ndarray, event: np.ndarray, at: float) -> float:
    """The Kaplan-Meier survival at ``at`` of durations ``duration`` (days) with events
    ``event`` (False: censored at that duration)."""
    times = np.unique(duration[event & (duration <= at)])
    survival = 1.0
    for t in times:
        at_risk = np.count_nonzero(duration >= t)
        survival *= 1 - np.count_nonzero(event & (duration == t)) / at_risk
    return float(survival)
