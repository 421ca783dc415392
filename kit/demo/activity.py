"""App activity and satisfaction surveys: the early-warning signals of the demo world.

App users visit at a persona-dependent rate from their app sign-up while engaged. During
the disengaging phase (from ``dropout_time`` to ``death_time``, see
:mod:`kit.demo.purchases`) visits drop at once to 12% of the normal rate and fade linearly to 3%; after death
only a trickle (3%) remains. Each visit is a session: a ``visit`` event followed by a
Poisson number of views, searches, add-to-carts and coupon claims a few minutes apart.

Survey answerers reply after some of their orders and about every ``SURVEY_EVERY_DAYS``
days until their death; NPS (0-10) and CSAT (1-5) follow their satisfaction trait and
drop sharply from the order on which they decide to leave. Only activity before the raw-data cut is generated.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from kit.demo.purchases import pick
from kit.demo.timeline import Timeline, sample_nhpp
from kit.demo.world import CATEGORIES, PERSONA_NAMES

EVENT_TYPES = ("visit", "view", "search", "add_to_cart", "coupon_claim")
# weights of the follow-up events (view, search, add_to_cart, coupon_claim) per persona
FOLLOW_UPS = {
    "bargain_hunter": (0.40, 0.20, 0.12, 0.28),
    "loyal_high_spender": (0.55, 0.15, 0.27, 0.03),
    "occasional_gift_buyer": (0.50, 0.35, 0.10, 0.05),
    "new_app_user": (0.55, 0.20, 0.17, 0.08),
    "family_shopper": (0.50, 0.15, 0.25, 0.10),
}
FOLLOW_UPS_PER_VISIT = 0.4
FADE_START, FADE_FLOOR = 0.12, 0.03  # visit rate share at the start / end of disengaging
AFTER_DEATH = 0.03
APP_ADOPTION_DAYS = 30.0  # mean delay from joining to installing the app (not new app users)
PROSPECT_ACTIVE_DAYS = 45.0  # mean app life of people who never order
SURVEY_EVERY_DAYS = 180.0
POST_ORDER_SURVEY = 0.3  # share of an answerer's orders followed by a survey


def app_signup(persons: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Persons gain ``app_reg`` (day of app sign-up, inf if never) and ``active_end``."""
    n = len(persons)
    join = persons["join"].to_numpy()
    new_app = persons["persona"].to_numpy() == "new_app_user"
    app_reg = np.where(new_app, join, join + rng.exponential(APP_ADOPTION_DAYS, n))
    app_reg = np.where(persons["is_app_user"].to_numpy(), app_reg, np.inf)
    never = ~np.isfinite(persons["first_order"].to_numpy())
    active_end = np.where(never, join + rng.exponential(PROSPECT_ACTIVE_DAYS, n), persons["death_time"].to_numpy())
    return persons.assign(app_reg=app_reg, active_end=active_end)


def app_events(persons: pd.DataFrame, timeline: Timeline, rng: np.random.Generator) -> pd.DataFrame:
    """Events before the raw cut: ``person``, ``t`` (float day), ``event`` (code), ``category``.

    ``persons`` may be a slice of the persons (events are generated in chunks of persons
    to bound memory); ``person`` is the row position in the full frame, which must have
    a RangeIndex. ``category`` is -1 for visits and searches (written as null).
    """
    end = timeline.end
    offset = int(persons.index[0]) if len(persons) else 0
    app_reg = persons["app_reg"].to_numpy()
    active_end = persons["active_end"].to_numpy()
    dropout = persons["dropout_time"].to_numpy()
    rate = persons["visit_rate"].to_numpy()
    user = np.isfinite(app_reg) & (app_reg < end)
    start = np.where(user, app_reg, end)
    owner, t = sample_nhpp(timeline, start, np.minimum(active_end, end), np.where(user, rate, 0.0), rng)
    fade_start = np.minimum(dropout, active_end)[owner]
    fading = t > fade_start
    start_f = np.where(fading, fade_start, 0.0)
    end_f = np.where(fading, active_end[owner], 1.0)
    progress = np.where(fading, (t - start_f) / (end_f - start_f), 0.0)
    keep_p = np.where(fading, FADE_START - (FADE_START - FADE_FLOOR) * progress, 1.0)
    keep = rng.random(t.size) < keep_p
    owner, t = owner[keep], t[keep]
    trickle_start = np.maximum(np.where(user, active_end, end), start)
    t_owner, t_t = sample_nhpp(timeline, trickle_start, np.full(len(persons), end), AFTER_DEATH * rate * user, rng)
    visit_person = np.concatenate([owner, t_owner])
    visit_t = np.concatenate([t, t_t])
    # follow-up events of each session, a few minutes after the visit
    n_follow = rng.poisson(FOLLOW_UPS_PER_VISIT, visit_t.size)
    f_person = np.repeat(visit_person, n_follow)
    # the k-th follow-up comes 2k to 2k+2 minutes after the visit (distinct seconds)
    rank = np.arange(f_person.size) - np.repeat(np.cumsum(n_follow) - n_follow, n_follow)
    f_t = np.repeat(visit_t, n_follow) + (2.0 * rank + rng.uniform(0.5, 1.9, f_person.size)) / 1440.0
    persona = persons["persona"].cat.codes.to_numpy()
    weights = np.array([FOLLOW_UPS[name] for name in PERSONA_NAMES])[persona]
    f_kind = 1 + pick(weights, f_person, rng)
    prefs = persons[[f"pref_{c}" for c in CATEGORIES]].to_numpy()
    f_cat = pick(prefs, f_person, rng).astype(np.int8)
    f_cat[f_kind == EVENT_TYPES.index("search")] = -1
    events = pd.DataFrame(
        {
            "person": np.concatenate([visit_person, f_person]).astype(np.int64) + offset,
            "t": np.concatenate([visit_t, f_t]),
            "event": np.concatenate([np.zeros(visit_t.size, np.int8), f_kind.astype(np.int8)]),
            "category": np.concatenate([np.full(visit_t.size, -1, np.int8), f_cat]),
        }
    )
    return events[events["t"] < end]


def surveys(persons: pd.DataFrame, orders: pd.DataFrame, timeline: Timeline, rng: np.random.Generator) -> pd.DataFrame:
    """Survey answers before the raw cut: ``person``, ``t``, ``nps``, ``csat`` (ints).

    Answerers reply to a post-purchase survey after a share of their orders (a few days
    later) and to a relationship survey about every ``SURVEY_EVERY_DAYS`` days until
    death. The order on which a person decides to leave, and everything after it, was a
    bad experience: those answers are much lower.
    """
    end = timeline.end
    first = persons["first_order"].to_numpy()
    dropout = persons["dropout_time"].to_numpy()
    answers = persons["answers_surveys"].to_numpy() & (first < end)
    stop = np.minimum(persons["death_time"].to_numpy(), end)
    owner, t = sample_nhpp(
        timeline, np.where(answers, first, end), np.where(answers, stop, end),
        np.full(len(persons), 1.0 / SURVEY_EVERY_DAYS), rng, seasonal=False,
    )
    bad = t > dropout[owner]
    o_person, o_t = orders["person"].to_numpy(), orders["t"].to_numpy()
    post = answers[o_person] & (rng.random(o_t.size) < POST_ORDER_SURVEY)
    owner = np.concatenate([owner, o_person[post]])
    t = np.concatenate([t, o_t[post] + rng.uniform(0.5, 3.0, int(post.sum()))])
    bad = np.concatenate([bad, o_t[post] >= dropout[o_person[post]]])
    sat = persons["satisfaction"].to_numpy()[owner]
    nps = np.clip(np.round(10.0 * sat + rng.normal(0.0, 1.5, t.size)) - 4 * bad, 0, 10)
    csat = np.clip(np.round(1.0 + 4.0 * sat + rng.normal(0.0, 0.7, t.size)) - 2 * bad, 1, 5)
    frame = pd.DataFrame({"person": owner, "t": t, "nps": nps.astype(np.int8), "csat": csat.astype(np.int8)})
    return frame[frame["t"] < end]
