"""Buy-till-you-die purchasing and the details of every order.

The process per person (all persons at once, vectorised):

1. **First order** at ``first_order`` (at the join, after an exponential delay with rate
   ``convert_rate``, or never).
2. **Engaged phase.** Repeat orders arrive as a Poisson process with intensity
   ``lam * f(t)`` (``f`` = seasonality and trend, :mod:`kit.demo.timeline`). After every
   order, the first included, the person decides to leave with probability ``p`` (BG/NBD).
   The number of orders up to that decision is Geometric(p); the decision time is the
   ``dropout_time``.
3. **Disengaging phase** of ``DISENGAGE_DAYS`` (50-70) days: purchases continue at
   ``DISENGAGE_RATE * lam * f(t)``, app visits fade linearly and survey scores drop.
   At ``death_time`` everything stops.

The order on which a person decides to leave was a bad experience (say, what they came
for was out of stock), and from it on they buy only part of their usual basket: that
order and every disengaging order is worth ``BASKET_SHRINK`` (30%) of the normal draw.
This is how the decision shows for customers without the app or surveys, as in real
shops where a customer drifting to a competitor first buys less per visit. (Without it
nothing observable told a non-app customer who had decided to leave from a slow buyer,
and the churn model stayed 0.038 AUC below the oracle even on 100,000 customers; see
:mod:`kit.churn.signals`.) The share is a strong, deliberate signal: at 50% the
30,000-customer gap was 0.040, at 30% it is 0.029 (seed 11).

Given the latent state at a snapshot the chance of no order in the next window is exact
(see :mod:`kit.demo.truth`). Order details: the calendar day comes from the process, the
hour from the person's preferred hour; the paid amount is Gamma(spend_p, rate spend_nu)
per order (Gamma-Gamma), the discount a person-level share of the gross price (larger on
sale days), the channel, category and payment method are drawn from the person's mix.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from kit.demo.timeline import Timeline, sample_nhpp
from kit.demo.world import CATEGORIES, CHANNELS

DISENGAGE_DAYS = (50.0, 70.0)
DISENGAGE_RATE = 0.3
BASKET_SHRINK = 0.3  # order value from the decision to leave on, as a share of the usual
SALE_DISCOUNT_BOOST = 1.5
STORE_HOURS = (9.5, 21.9)  # stores are open 9:30 to 22:00  # discount share on Double 11 / 618 / Double 12 days


def simulate_lifetimes(persons: pd.DataFrame, timeline: Timeline, rng: np.random.Generator) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Run the process to the horizon: persons gain dropout/death times; returns the orders.

    Orders come back as a frame with ``person`` (row position in ``persons``), ``t``
    (float day, latent time) and ``phase`` (0 engaged, 1 disengaging), sorted by person.
    """
    n = len(persons)
    first = persons["first_order"].to_numpy()
    lam = persons["lam"].to_numpy()
    p = persons["p"].to_numpy()
    buyer = first < timeline.horizon
    n_until_drop = rng.geometric(p)  # orders up to and including the dropout decision
    start = np.where(buyer, first, timeline.horizon)
    owner, t = sample_nhpp(timeline, start, np.full(n, timeline.horizon), np.where(buyer, lam, 0.0), rng)
    counts = np.bincount(owner, minlength=n)
    offset = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank = np.arange(owner.size) - offset[owner]
    keep = rank < n_until_drop[owner] - 1
    repeats_owner, repeats_t = owner[keep], t[keep]
    # the dropout decision happens at order number n_until_drop (1 = the first order)
    dropout = np.full(n, np.inf)
    at_first = buyer & (n_until_drop == 1)
    dropout[at_first] = first[at_first]
    last_repeat = keep & (rank == n_until_drop[owner] - 2)
    dropout[owner[last_repeat]] = t[last_repeat]
    death = dropout + rng.uniform(*DISENGAGE_DAYS, n)
    fading = dropout < timeline.horizon
    d_owner, d_t = sample_nhpp(
        timeline,
        np.where(fading, dropout, timeline.horizon),
        np.minimum(death, timeline.horizon),
        np.where(fading, DISENGAGE_RATE * lam, 0.0),
        rng,
    )
    first_owner = np.flatnonzero(buyer)
    orders = pd.DataFrame(
        {
            "person": np.concatenate([first_owner, repeats_owner, d_owner]),
            "t": np.concatenate([first[first_owner], repeats_t, d_t]),
            "phase": np.concatenate(
                [np.zeros(first_owner.size + repeats_owner.size, np.int8), np.ones(d_owner.size, np.int8)]
            ),
        }
    )
    orders = orders.sort_values(["person", "t"], kind="stable", ignore_index=True)
    persons = persons.assign(dropout_time=dropout, death_time=np.where(fading, death, np.inf))
    return persons, orders


def order_details(
    orders: pd.DataFrame, persons: pd.DataFrame, timeline: Timeline, rng: np.random.Generator
) -> pd.DataFrame:
    """Observable details of orders: time of day, channel, category, money, payment, refund.

    ``orders`` needs ``person`` and ``t``; a boolean ``coupon`` column (coupon orders of
    the retention experiment) adds a fixed 20-yuan discount. Returns a copy with ``ts``
    (final float day: same calendar day, the person's hour), ``channel``, ``category``,
    ``amount`` (paid, yuan, 2 decimals), ``discount``, ``items``, ``payment`` (code into
    PAYMENTS) and ``refunded`` (online orders only: the POS export has no refunds).
    Orders at or after the person's ``dropout_time`` are worth ``BASKET_SHRINK`` of the
    Gamma draw (module docstring); this scaling uses no random draw, so every other
    detail of the world is the same with or without it.
    """
    person = orders["person"].to_numpy()
    m = person.size
    hour = rng.normal(persons["hour_mean"].to_numpy()[person], persons["hour_sd"].to_numpy()[person]) % 24.0
    channel = pick(persons[[f"share_{c}" for c in CHANNELS]].to_numpy(), person, rng)
    hour = np.where(channel == CHANNELS.index("store"), np.clip(hour, *STORE_HOURS), hour)
    ts = np.floor(orders["t"].to_numpy()) + np.minimum(hour / 24.0, 86399.0 / 86400.0)
    category = pick(persons[[f"pref_{c}" for c in CATEGORIES]].to_numpy(), person, rng)
    amount = rng.gamma(persons["spend_p"].to_numpy()[person], 1.0) / persons["spend_nu"].to_numpy()[person]
    amount *= np.where(orders["t"].to_numpy() >= persons["dropout_time"].to_numpy()[person], BASKET_SHRINK, 1.0)
    amount = np.maximum(np.round(amount, 2), 1.0)
    sale_day = timeline.f[np.clip(np.floor(ts).astype(int), 0, timeline.f.size - 1)] > 1.6
    share = persons["discount"].to_numpy()[person] * np.where(sale_day, SALE_DISCOUNT_BOOST, 1.0)
    share = np.clip(share * rng.uniform(0.5, 1.5, m), 0.0, 0.8)
    discount = np.round(amount * share / (1.0 - share), 2)
    if "coupon" in orders:
        discount = np.where(orders["coupon"].to_numpy(), discount + 20.0, discount)
    items = 1 + rng.poisson(persons["items"].to_numpy()[person] - 1.0)
    pref = persons["payment_pref"].to_numpy()[person]
    payment = np.where(rng.random(m) < 0.8, pref, rng.integers(0, 4, m)).astype(np.int8)
    store = CHANNELS.index("store")
    refunded = (rng.random(m) < persons["refund"].to_numpy()[person]) & (channel != store)
    return orders.assign(
        ts=ts, channel=channel, category=category, amount=amount, discount=discount,
        items=items, payment=payment, refunded=refunded,
    )


def pick(weights: np.ndarray, person: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One categorical draw per row from the person's weights (loop over columns only)."""
    cum = np.cumsum(weights, axis=1)
    cum /= cum[:, -1:]
    u = rng.random(person.size)
    choice = np.zeros(person.size, dtype=np.int8)
    for j in range(weights.shape[1] - 1):
        choice += u >= cum[person, j]
    return choice
