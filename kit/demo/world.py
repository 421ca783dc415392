"""Latent persons of the demo world: personas and every trait a persona drives.

Five personas (the truth the segmentation is scored against) differ in demographics, the
categories they buy, their channels, discount use, payment method, shopping hour, spend
per order, purchase rate and dropout, app activity and satisfaction. Traits are drawn per
person around the persona's centre, so personas overlap a little but stay separable in
behaviour (spend per order, discount share, channel and category mix, frequency).

Raw category codes (English, used in every file): apparel, beauty, electronics, home,
food, baby, sports, books. Channels: web, app, mini_program (online shop) and store (POS).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from kit.demo.timeline import Timeline

CATEGORIES = ("apparel", "beauty", "electronics", "home", "food", "baby", "sports", "books")
CHANNELS = ("web", "app", "mini_program", "store")
PAYMENTS = ("alipay", "wechat_pay", "card", "cod")  # cod is "cash" at the POS

CITIES: dict[int, tuple[str, ...]] = {
    1: ("北京", "上海", "广州", "深圳"),
    2: ("杭州", "成都", "武汉", "南京", "重庆", "西安", "苏州", "天津"),
    3: ("佛山", "东莞", "无锡", "宁波", "合肥", "昆明"),
    4: ("洛阳", "赣州", "遵义", "绵阳", "桂林", "湛江"),
}
CITY_TIERS: dict[str, int] = {city: tier for tier, names in CITIES.items() for city in names}
CITY_NAMES = tuple(CITY_TIERS)


@dataclass(frozen=True)
class Persona:
    """The centre of one persona. Rates are per day; money in yuan."""

    share: float
    age: tuple[float, float]  # mean, sd
    female: float
    tiers: tuple[float, float, float, float]
    channels: tuple[float, float, float, float]  # web, app, mini_program, store
    categories: tuple[float, ...]  # weights over CATEGORIES
    discount: float  # mean discount share of the gross price
    payments: tuple[float, float, float, float]
    hour: tuple[float, float]  # preferred order hour: mean, sd
    lam: tuple[float, float]  # purchase rate Gamma(shape r, rate alpha): r, alpha
    dropout: tuple[float, float]  # p ~ Beta(a, b)
    spend: tuple[float, float, float]  # Gamma-Gamma: shape p, q, gamma (mean = p*gamma/(q-1))
    convert: tuple[float, float, float]  # first order at join / after a delay / never
    delay_days: float  # mean wait for delayed first orders
    member: float  # share in the CRM
    app: float  # share using the app
    visits: float  # app visits per expected order (visit rate = visits * lam)
    satisfaction: tuple[float, float]  # Beta(a, b)
    survey: float  # share who answer surveys
    refund: float  # chance an online order is refunded
    items: float  # mean items per order


PERSONAS: dict[str, Persona] = {
    "bargain_hunter": Persona(
        share=0.28, age=(27, 6), female=0.62, tiers=(0.10, 0.20, 0.35, 0.35),
        channels=(0.15, 0.45, 0.35, 0.05), categories=(3, 3, 0.5, 1, 3, 0.5, 1, 0.3),
        discount=0.32, payments=(0.45, 0.45, 0.05, 0.05), hour=(21.5, 1.5),
        lam=(8.0, 8.0 / 0.045), dropout=(2.0, 22.0), spend=(4.0, 6.0, 110.0),
        convert=(0.85, 0.10, 0.05), delay_days=20, member=0.45, app=0.95, visits=5.0,
        satisfaction=(4, 3), survey=0.25, refund=0.06, items=2.5,
    ),
    "loyal_high_spender": Persona(
        share=0.14, age=(41, 7), female=0.55, tiers=(0.55, 0.30, 0.10, 0.05),
        channels=(0.25, 0.10, 0.05, 0.60), categories=(2.5, 2, 2.5, 1, 0.5, 0.3, 0.8, 0.4),
        discount=0.03, payments=(0.25, 0.25, 0.48, 0.02), hour=(13.0, 3.5),
        lam=(8.0, 8.0 / 0.05), dropout=(2.0, 60.0), spend=(6.0, 6.0, 380.0),
        convert=(0.90, 0.08, 0.02), delay_days=15, member=0.92, app=0.92, visits=4.0,
        satisfaction=(8, 2), survey=0.45, refund=0.02, items=1.6,
    ),
    "occasional_gift_buyer": Persona(
        share=0.23, age=(36, 9), female=0.40, tiers=(0.30, 0.35, 0.20, 0.15),
        channels=(0.60, 0.15, 0.15, 0.10), categories=(0.5, 2.5, 2, 0.8, 0.6, 0.3, 0.5, 2.2),
        discount=0.08, payments=(0.55, 0.25, 0.15, 0.05), hour=(19.0, 2.5),
        lam=(8.0, 8.0 / 0.012), dropout=(2.0, 12.0), spend=(5.0, 5.0, 240.0),
        convert=(0.88, 0.07, 0.05), delay_days=30, member=0.35, app=0.85, visits=6.0,
        satisfaction=(5, 3), survey=0.20, refund=0.05, items=1.2,
    ),
    "new_app_user": Persona(
        share=0.17, age=(23, 3.5), female=0.50, tiers=(0.30, 0.40, 0.20, 0.10),
        channels=(0.03, 0.85, 0.10, 0.02), categories=(3, 1.5, 1.5, 0.4, 1.5, 0.2, 2, 0.6),
        discount=0.15, payments=(0.35, 0.60, 0.03, 0.02), hour=(23.0, 1.5),
        lam=(8.0, 8.0 / 0.03), dropout=(2.0, 14.0), spend=(4.0, 6.0, 140.0),
        convert=(0.40, 0.45, 0.15), delay_days=25, member=0.30, app=1.0, visits=10.0,
        satisfaction=(4, 4), survey=0.25, refund=0.04, items=1.5,
    ),
    "family_shopper": Persona(
        share=0.18, age=(34, 5), female=0.76, tiers=(0.20, 0.40, 0.25, 0.15),
        channels=(0.10, 0.20, 0.40, 0.30), categories=(1, 0.5, 0.3, 2.5, 3, 3, 0.4, 0.8),
        discount=0.12, payments=(0.30, 0.55, 0.10, 0.05), hour=(10.0, 2.0),
        lam=(8.0, 8.0 / 0.065), dropout=(2.0, 38.0), spend=(5.0, 6.0, 160.0),
        convert=(0.85, 0.10, 0.05), delay_days=20, member=0.70, app=0.93, visits=3.0,
        satisfaction=(6, 3), survey=0.30, refund=0.03, items=3.5,
    ),
}
PERSONA_NAMES = tuple(PERSONAS)

ACQUISITION_GROWTH = 0.35  # yearly growth of new-customer arrivals
NEW_APP_GROWTH = 2.5  # new app users arrive mostly in the last year
SATISFACTION_DROPOUT = (1.6, 1.2)  # p *= 1.6 - 1.2 * satisfaction (low satisfaction leaves sooner)


def make_persons(n: int, timeline: Timeline, rng: np.random.Generator) -> pd.DataFrame:
    """One row per latent person with every trait the rest of the generator uses.

    Vectorised per persona (a loop over five personas, never over persons).
    """
    shares = np.array([p.share for p in PERSONAS.values()])
    persona = rng.choice(len(PERSONAS), size=n, p=shares / shares.sum())
    cols: dict[str, np.ndarray] = {
        name: np.empty(n) for name in (
            "age", "lam", "p", "spend_q", "spend_gamma", "spend_p", "spend_nu", "join", "delay",
            "discount", "hour_mean", "hour_sd", "visit_rate", "satisfaction", "refund", "items",
        )
    }
    female = np.zeros(n, dtype=bool)
    tier = np.zeros(n, dtype=np.int8)
    is_member = np.zeros(n, dtype=bool)
    is_app = np.zeros(n, dtype=bool)
    surveys = np.zeros(n, dtype=bool)
    convert = np.zeros(n, dtype=np.int8)
    pay = np.zeros(n, dtype=np.int8)
    chan = np.zeros((n, len(CHANNELS)))
    cat = np.zeros((n, len(CATEGORIES)))
    for k, spec in enumerate(PERSONAS.values()):
        idx = np.flatnonzero(persona == k)
        m = idx.size
        cols["age"][idx] = np.clip(rng.normal(spec.age[0], spec.age[1], m), 18, 70)
        female[idx] = rng.random(m) < spec.female
        tier[idx] = rng.choice(4, size=m, p=spec.tiers) + 1
        cols["lam"][idx] = rng.gamma(spec.lam[0], 1.0 / spec.lam[1], m)
        sat = rng.beta(*spec.satisfaction, m)
        cols["satisfaction"][idx] = sat
        base_p = rng.beta(*spec.dropout, m)
        cols["p"][idx] = np.clip(base_p * (SATISFACTION_DROPOUT[0] - SATISFACTION_DROPOUT[1] * sat), 0.002, 0.9)
        sp, sq, sg = spec.spend
        cols["spend_p"][idx], cols["spend_q"][idx], cols["spend_gamma"][idx] = sp, sq, sg
        cols["spend_nu"][idx] = rng.gamma(sq, 1.0 / sg, m)  # rate of the order-value Gamma
        growth = NEW_APP_GROWTH if spec is PERSONAS["new_app_user"] else ACQUISITION_GROWTH
        cols["join"][idx] = _arrival_times(timeline, growth, m, rng)
        convert[idx] = rng.choice(3, size=m, p=spec.convert)
        cols["delay"][idx] = rng.exponential(spec.delay_days, m)
        cols["discount"][idx] = np.clip(rng.beta(4, 4, m) * 2 * spec.discount, 0.0, 0.7)
        cols["hour_mean"][idx] = rng.normal(spec.hour[0], 0.7, m)
        cols["hour_sd"][idx] = spec.hour[1]
        # frequent buyers visit often: the visit rate tracks the purchase rate
        cols["visit_rate"][idx] = spec.visits * cols["lam"][idx] * rng.gamma(20.0, 1 / 20.0, m)
        cols["refund"][idx] = spec.refund
        cols["items"][idx] = spec.items
        is_member[idx] = rng.random(m) < spec.member
        is_app[idx] = rng.random(m) < spec.app
        surveys[idx] = rng.random(m) < spec.survey
        pay[idx] = rng.choice(4, size=m, p=spec.payments)
        chan[idx] = rng.dirichlet(np.array(spec.channels) * 12.0, m)
        cat[idx] = rng.dirichlet(np.array(spec.categories) * 4.0, m)
    delay_days = np.array([spec.delay_days for spec in PERSONAS.values()])
    join = cols.pop("join")
    delay = cols.pop("delay")
    first = np.where(convert == 0, join, np.where(convert == 1, join + delay, np.inf))
    city_pick = rng.random(n)
    city = np.empty(n, dtype=object)
    for t, names in CITIES.items():
        sel = tier == t
        city[sel] = np.asarray(names, dtype=object)[(city_pick[sel] * len(names)).astype(int)]
    persons = pd.DataFrame(
        {
            "persona": pd.Categorical.from_codes(persona, PERSONA_NAMES),
            "gender": np.where(female, "female", "male"),
            "city": city.astype(str),
            "city_tier": tier,
            "join": join,
            "convert_type": pd.Categorical.from_codes(convert, ["at_join", "delayed", "never"]),
            "first_order": first,
            "convert_rate": np.where(convert == 1, 1.0 / delay_days[persona], 0.0),
            "is_member": is_member,
            "is_app_user": is_app,
            "answers_surveys": surveys,
            "payment_pref": pay,
            **cols,
        }
    )
    for j, name in enumerate(CHANNELS):
        persons[f"share_{name}"] = chan[:, j]
    for j, name in enumerate(CATEGORIES):
        persons[f"pref_{name}"] = cat[:, j]
    return persons


def _arrival_times(timeline: Timeline, growth: float, m: int, rng: np.random.Generator) -> np.ndarray:
    """Join days in [0, end): density grows exponentially and follows the seasonality."""
    days = int(timeline.end)
    weight = np.exp(growth * np.arange(days) / 365.25) * timeline.f[:days]
    cum = np.concatenate([[0.0], np.cumsum(weight)])
    return np.interp(rng.random(m) * cum[-1], cum, np.arange(days + 1, dtype=float))

