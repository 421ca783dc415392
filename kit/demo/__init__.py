"""The demo world: a messy multi-source customer dataset with known ground truth.

``generate(out_dir, customers, seed, end_month, months)`` simulates a retailer selling
online (web, app, mini program) and in stores over ``months`` months up to ``end_month``
and writes the raw files of docs/data_contract.md plus ``_truth/`` into ``out_dir``.
Same arguments, same bytes: every random draw comes from one seeded numpy Generator per
step. Everything is vectorised over persons and rows (loops run over personas, months,
formats or experiments only), so 1,000,000 customers take a few minutes at most.

How the world works (details in the modules):
- :mod:`kit.demo.world` latent persons and their personas (bargain_hunter,
  loyal_high_spender, occasional_gift_buyer, new_app_user, family_shopper);
- :mod:`kit.demo.timeline` the day grid, seasonality and trend;
- :mod:`kit.demo.purchases` buy-till-you-die purchasing and order details (smaller
  baskets from the order on which a customer decides to leave);
- :mod:`kit.demo.activity` app events and surveys (signals of falling engagement);
- :mod:`kit.demo.experiments` the two experiments and their potential outcomes (also
  documents the ``experiments.yml`` format);
- :mod:`kit.demo.raw` the raw files and the injected, counted mess;
- :mod:`kit.demo.truth` persons, churn truth;
- :mod:`kit.demo.shapes` the same world exported as other companies hand their data over
  (an order log only, a membership store with a GBK CRM, an app with its own event names,
  a US store): ``write_shape(name, root, customers, seed)`` writes the raw files and the
  project config of one shape;
- :mod:`kit.demo.subscriptions` a world of its own (shape ``subscription_app``): a
  subscription app with monthly billing, behaviour events and churn from a known utility.

``_truth/`` holds persons.parquet, source_records.parquet, fuzzy_duplicates.parquet
(the CRM records of a person that share no exact identifier with the person's other
records, and what differs), churn.parquet, experiments.parquet (true effect per
experiment, variant, segment and metric), experiment_units.parquet (every assigned unit
with its stage and potential outcomes), defects.json and config.json.

Personal attributes for probabilistic identity resolution (issue 19: names in hanzi or
pinyin with typos, birth dates, gender, city, home addresses; the fuzzy duplicate members)
come from a random stream of their own, ``SeedSequence([seed, 19])``: the persons, orders,
events and every column that existed before are the same, byte for byte.
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from kit.core.dates import check_month
from kit.demo import raw
from kit.demo.activity import app_events, app_signup, surveys
from kit.demo.experiments import (
    COUPON_EXTRA_RATE,
    OrderIndex,
    assign_coupon,
    assign_homepage,
    catalog,
    first_visits,
    potential_outcomes,
    true_effects,
)
from kit.demo.purchases import order_details, simulate_lifetimes
from kit.demo.timeline import Timeline
from kit.demo.truth import churn_truth, persons_truth
from kit.demo.world import CITY_TIERS, PERSONAS, make_persons

__all__ = ["generate", "CITY_TIERS"]

MIN_CUSTOMERS, MAX_CUSTOMERS = 100, 5_000_000
MIN_MONTHS = 13
EVENT_CHUNK = 100_000  # persons per chunk of app events (bounds memory at 1M customers)


def generate(
    out_dir: Path, customers: int = 50000, seed: int = 42, end_month: str = "2026-10", months: int = 30
) -> dict:
    """Write the demo raw files and ``_truth/`` into ``out_dir``; return a summary.

    The summary maps every written file name to its number of rows (data rows, without
    the header; experiments.yml counts experiments) and ``seconds`` to the run time.
    """
    started = time.perf_counter()
    check_month(end_month)
    if not MIN_CUSTOMERS <= customers <= MAX_CUSTOMERS:
        raise ValueError(f"customers = {customers}: choose between {MIN_CUSTOMERS:,} and {MAX_CUSTOMERS:,}")
    if months < MIN_MONTHS:
        raise ValueError(f"months = {months}: at least {MIN_MONTHS} months are needed (12 churn snapshots)")
    out = Path(out_dir)
    truth_dir = out / "_truth"
    truth_dir.mkdir(parents=True, exist_ok=True)
    rngs = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(16)]
    # issue 19 (personal attributes, fuzzy duplicates) draws from a stream of its own, so the
    # rest of the world is the same as before, draw for draw
    identity_rngs = [np.random.default_rng(s) for s in np.random.SeedSequence([seed, 19]).spawn(4)]
    timeline = Timeline.build(end_month, months)

    persons = make_persons(customers, timeline, rngs[0])
    persons, base = simulate_lifetimes(persons, timeline, rngs[1])
    persons = app_signup(persons, rngs[2])
    base = order_details(base, persons, timeline, rngs[3])
    contacts = raw.make_contacts(persons, timeline, rngs[4])
    profiles = raw.make_profiles(persons, contacts, timeline, identity_rngs[0])
    person_ids = raw.text.ids("P", np.arange(1, customers + 1), 7).to_numpy(zero_copy_only=False)

    # experiments: potential outcomes, then the realised coupon orders join the orders
    coupon_exp, homepage_exp = catalog(end_month)
    base_index = _index(base)
    is_member = contacts.member_no >= 0
    members = pd.DataFrame(
        {
            "person": np.flatnonzero(is_member),
            "member_id": raw.member_ids(contacts).to_numpy(zero_copy_only=False)[is_member],
            "member_reg": contacts.member_reg[is_member],
        }
    )
    coupon_units, extra = assign_coupon(coupon_exp, members, base_index, timeline, rngs[5])
    extra = order_details(extra.assign(coupon=True), persons, timeline, rngs[6])
    extra = extra.assign(ts=extra["t"])  # coupon orders keep their exact time (window edges)
    extra_index = OrderIndex(extra["unit"].to_numpy(), extra["ts"].to_numpy(), extra["amount"].to_numpy(),
                             extra["refunded"].to_numpy())
    coupon_units = potential_outcomes(coupon_units, base_index, extra_index)
    treated = coupon_units["variant"].to_numpy() == "coupon"
    orders = pd.concat([base, extra[treated[extra["unit"].to_numpy()]].drop(columns="unit")], ignore_index=True)
    orders = orders.assign(coupon=orders["coupon"].fillna(False).astype(bool))
    index = _index(orders)

    # app events: generated and written in chunks of persons (the largest table)
    defects = raw.Defects()
    writer = raw.EventWriter(out / "app_events.parquet", contacts, timeline, rngs[14])
    first = []
    for lo in range(0, customers, EVENT_CHUNK):
        events = app_events(persons.iloc[lo:lo + EVENT_CHUNK], timeline, rngs[7])
        first.append(first_visits(homepage_exp, events, timeline))
        writer.write(events)
        del events
    rows: dict[str, int] = {"app_events.parquet": writer.close(defects)}
    has_app = contacts.app_user_no >= 0
    app_users = pd.DataFrame(
        {"person": np.flatnonzero(has_app), "app_user_id": raw.app_user_ids(contacts).to_numpy(zero_copy_only=False)[has_app]}
    )
    homepage_units = potential_outcomes(
        assign_homepage(homepage_exp, app_users, pd.concat(first), index, rngs[8]), index, None
    )
    answers = surveys(persons, base, timeline, rngs[9])
    del base, base_index

    # the other raw files
    clean_from = timeline.day(homepage_exp.start) - 31
    crm, rows["crm_members.csv"], fuzzy = raw.write_crm(out / "crm_members.csv", persons, contacts, profiles, timeline,
                                                        rngs[10], identity_rngs[1], defects)
    shop, rows["shop_orders.csv"] = raw.write_shop(out / "shop_orders.csv", orders, contacts, profiles, timeline,
                                                   clean_from, rngs[11], identity_rngs[2], defects)
    pos, rows["pos_orders.csv"] = raw.write_pos(out / "pos_orders.csv", orders, persons, contacts, timeline, clean_from, rngs[12], defects)
    app = raw.write_app_users(out / "app_users.csv", persons, contacts, profiles, timeline, rngs[13], identity_rngs[3],
                              defects)
    rows["app_users.csv"] = len(app)
    survey = raw.write_surveys(out / "surveys.csv", answers, contacts, timeline, rngs[15], defects)
    rows["surveys.csv"] = len(survey)
    units = pd.concat([coupon_units, homepage_units], ignore_index=True)
    rows["assignments.csv"] = raw.write_assignments(
        out / "assignments.csv", units, timeline, {e.id: e.unit_type for e in (coupon_exp, homepage_exp)}, defects
    )
    experiments = [coupon_exp.as_yaml(), homepage_exp.as_yaml()]
    (out / "experiments.yml").write_text(
        yaml.safe_dump({"experiments": experiments}, allow_unicode=True, sort_keys=False), encoding="utf-8"
    )
    rows["experiments.yml"] = len(experiments)

    # truth
    records = pd.concat([crm, shop, pos, app, survey], ignore_index=True)
    records = pd.DataFrame(
        {"source": records["source"].to_numpy(), "source_id": records["source_id"].to_numpy(),
         "person_id": person_ids[records["person"].to_numpy()]}
    )
    _parquet(records, truth_dir / "source_records.parquet", rows)
    fuzzy = fuzzy.assign(person_id=person_ids[fuzzy["person"].to_numpy()])
    _parquet(fuzzy[["source", "source_id", "person_id", "variations"]], truth_dir / "fuzzy_duplicates.parquet", rows)
    n_orders = np.bincount(orders["person"].to_numpy()[orders["ts"].to_numpy() < timeline.end], minlength=customers)
    _parquet(persons_truth(persons, person_ids, timeline, n_orders, profiles.birth), truth_dir / "persons.parquet", rows)
    coupon_treated = coupon_units[treated]
    coupon = pd.DataFrame({"person": coupon_treated["person"], "rate": coupon_treated["coupon_rate"],
                           "assigned": coupon_treated["assigned"]})
    _parquet(churn_truth(persons, person_ids, index, coupon, timeline, end_month), truth_dir / "churn.parquet", rows)
    persona_codes = persons["persona"].cat.codes.to_numpy()
    effects = pd.concat(
        [true_effects(coupon_units, coupon_exp, persona_codes), true_effects(homepage_units, homepage_exp, persona_codes)],
        ignore_index=True,
    )
    _parquet(effects, truth_dir / "experiments.parquet", rows)
    unit_truth = units.assign(
        person_id=person_ids[units["person"].to_numpy()],
        assigned_at=timeline.to_timestamps(units["assigned"].to_numpy()).astype("datetime64[us]"),
        lifecycle_stage=np.asarray(["prospect", "new", "active", "silent", "churned"])[units["stage"].to_numpy()],
        persona=persons["persona"].astype(str).to_numpy()[units["person"].to_numpy()],
    ).drop(columns=["person", "assigned", "stage"])
    _parquet(unit_truth, truth_dir / "experiment_units.parquet", rows)
    (truth_dir / "defects.json").write_text(
        json.dumps(
            {"defects": defects.items, "walk_in_phones": [str(p) for p in contacts.walk_in],
             "phone_formats": defects.phone_formats, "missing": defects.missing},
            ensure_ascii=False, indent=2,
        ),
        encoding="utf-8",
    )
    config = {
        "seed": seed, "customers": customers, "end_month": end_month, "months": months,
        "start": str(timeline.t0.date()), "personas": {k: dataclasses.asdict(v) for k, v in PERSONAS.items()},
        "coupon_extra_rate_per_day": COUPON_EXTRA_RATE, "city_tiers": CITY_TIERS,
    }
    (truth_dir / "config.json").write_text(json.dumps(config, ensure_ascii=False, indent=2), encoding="utf-8")
    rows["seconds"] = round(time.perf_counter() - started, 1)
    return rows


def _index(orders: pd.DataFrame) -> OrderIndex:
    return OrderIndex(orders["person"].to_numpy(), orders["ts"].to_numpy(), orders["amount"].to_numpy(),
                      orders["refunded"].to_numpy())


def _parquet(frame: pd.DataFrame, path: Path, rows: dict[str, int]) -> None:
    frame.to_parquet(path, index=False, compression="zstd")
    rows[f"_truth/{path.name}"] = len(frame)
