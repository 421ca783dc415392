"""The demo world's clock: days since the start, the daily intensity curve and sampling.

Time inside the generator is a float number of days since ``t0`` (midnight on the first
day of the first simulated month). The daily intensity ``f[d]`` multiplies every
customer's purchase rate on day ``d``: Chinese retail seasonality (Double 11, 618,
Double 12, a Spring Festival dip, slightly busier weekends) times a gentle upward trend.
Its cumulative ``C`` is piecewise linear, so integrals of ``lam * f`` and the inverse
needed to sample a non-homogeneous Poisson process are exact (``np.interp``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from kit.core.dates import shift_month, snapshot_end

# Spring Festival (Chinese New Year's day) by year: the demo months must fall in this range.
SPRING_FESTIVAL = {
    2018: "2018-02-16", 2019: "2019-02-05", 2020: "2020-01-25", 2021: "2021-02-12",
    2022: "2022-02-01", 2023: "2023-01-22", 2024: "2024-02-10", 2025: "2025-01-29",
    2026: "2026-02-17", 2027: "2027-02-06", 2028: "2028-01-26", 2029: "2029-02-13",
    2030: "2030-02-03", 2031: "2031-01-23", 2032: "2032-02-11",
}
TREND_PER_YEAR = 0.04  # purchase intensity grows 4% a year on top of the seasonality
HORIZON_EXTRA_DAYS = 92  # simulated beyond the end so churn truth covers 90 days
BLOCK = 200_000  # intervals per block in sample_nhpp (bounds its temporary memory)


@dataclass(frozen=True)
class Timeline:
    """Day grid of one demo world: ``end`` is the raw-data cut (exclusive), in days."""

    t0: pd.Timestamp
    end: float
    horizon: float
    f: np.ndarray  # daily purchase intensity multiplier, len = horizon days
    cum: np.ndarray  # cumulative of f, len = horizon days + 1

    @classmethod
    def build(cls, end_month: str, months: int) -> "Timeline":
        """The grid from the first of ``months`` months up to ``end_month`` plus 92 days."""
        t0 = pd.Period(shift_month(end_month, -(months - 1)), freq="M").start_time
        end = float((snapshot_end(end_month) - t0).days)
        n_days = int(end) + HORIZON_EXTRA_DAYS
        dates = pd.date_range(t0, periods=n_days, freq="D")
        f = seasonality(dates) * (1.0 + TREND_PER_YEAR * np.arange(n_days) / 365.25)
        cum = np.concatenate([[0.0], np.cumsum(f)])
        return cls(t0=t0, end=end, horizon=float(n_days), f=f, cum=cum)

    def day(self, value: str | pd.Timestamp) -> float:
        """Days since ``t0`` of a date or timestamp."""
        return (pd.Timestamp(value) - self.t0) / pd.Timedelta(days=1)

    def integral(self, t: np.ndarray | float) -> np.ndarray:
        """The cumulative intensity C(t) at float day(s) ``t`` (clipped to the grid)."""
        t = np.clip(np.asarray(t, dtype=float), 0.0, self.horizon)
        return np.interp(t, np.arange(self.cum.size, dtype=float), self.cum)

    def inverse(self, y: np.ndarray) -> np.ndarray:
        """The day ``t`` with C(t) = y (inverse of :meth:`integral`)."""
        return np.interp(y, self.cum, np.arange(self.cum.size, dtype=float))

    def to_timestamps(self, t: np.ndarray) -> np.ndarray:
        """Float days as datetime64[us] (whole seconds)."""
        seconds = np.floor(np.asarray(t) * 86400.0).astype("int64")
        return self.t0.to_datetime64().astype("datetime64[s]") + seconds.astype("timedelta64[s]")


def seasonality(dates: pd.DatetimeIndex) -> np.ndarray:
    """Daily demand multiplier with mean about 1 over a year."""
    month, dom = dates.month.to_numpy(), dates.day.to_numpy()
    f = np.ones(len(dates))
    f[(month == 11) & (dom <= 10)] = 1.3  # Double 11 warm-up
    f[(month == 11) & (dom == 11)] = 4.0  # Double 11
    f[(month == 11) & (dom == 12)] = 1.5
    f[(month == 6) & (dom <= 17)] = 1.25  # 618 warm-up
    f[(month == 6) & (dom == 18)] = 3.0  # 618
    f[(month == 12) & (dom == 12)] = 1.8  # Double 12
    f *= np.where(dates.day_of_week.to_numpy() >= 5, 1.1, 0.96)
    for year in np.unique(dates.year):
        if year not in SPRING_FESTIVAL:
            raise ValueError(f"demo world: no Spring Festival date for {year}; choose months in 2018-2032")
        festival = pd.Timestamp(SPRING_FESTIVAL[year])
        dip = (dates >= festival - pd.Timedelta(days=7)) & (dates <= festival + pd.Timedelta(days=7))
        f[dip] *= 0.45
    return f / 1.07  # the bumps above average about +7% over a year


def sample_nhpp(
    timeline: Timeline,
    start: np.ndarray,
    stop: np.ndarray,
    rate: np.ndarray,
    rng: np.random.Generator,
    seasonal: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Poisson process points for many intervals at once, sorted by (owner, time).

    Interval ``i`` runs from ``start[i]`` to ``stop[i]`` with intensity ``rate[i] * f(t)``
    (or the constant ``rate[i]`` when ``seasonal`` is False). Returns ``(owner, t)``:
    the interval index of every point and its time. Sorting uses one float sort of
    ``owner + u`` so points come out ordered within each owner.
    """
    start = np.asarray(start, dtype=float)
    stop = np.maximum(np.asarray(stop, dtype=float), start)
    rate = np.broadcast_to(np.asarray(rate, dtype=float), start.shape)
    if start.size > BLOCK:  # bounded temporaries: draw block by block, same result format
        parts = [
            sample_nhpp(timeline, start[i:i + BLOCK], stop[i:i + BLOCK], rate[i:i + BLOCK], rng, seasonal)
            for i in range(0, start.size, BLOCK)
        ]
        owner = np.concatenate([o + i for o, i in zip((p[0] for p in parts), range(0, start.size, BLOCK))])
        return owner, np.concatenate([p[1] for p in parts])
    if seasonal:
        c0, c1 = timeline.integral(start), timeline.integral(stop)
    else:
        c0, c1 = start, stop
    counts = rng.poisson(np.asarray(rate, dtype=float) * (c1 - c0))
    owner = np.repeat(np.arange(start.size, dtype=np.int64), counts)
    key = np.sort(owner + rng.random(owner.size))
    u = key - owner  # owner is unchanged by the sort (keys stay inside [owner, owner+1))
    y = c0[owner] + u * (c1 - c0)[owner]
    t = timeline.inverse(y) if seasonal else y
    return owner, t
