"""Company shapes: the demo world's people and orders, exported as other companies hand them over.

Issue 17: the kit must run on the data a company actually has. A shape simulates a small
demo world (:func:`kit.demo.generate`, into a temporary folder), keeps the part of it that
company would know and rewrites it into that company's files, headers, encodings, date
formats and event vocabulary; then it writes the project config that maps those files
(``write_shape(name, root, customers, seed) -> path of root/kit.yml``):

``orders_only``   one order log: customer number, date (no time of day), amount; no order
                  id, no refunds, no other source, and no ``experiments:`` section (no
                  catalogue file either).
``member_store``  a membership store (only members buy): a GBK CRM with Chinese headers in
                  which one line holds bytes GBK cannot decode (``on_bad_encoding:
                  quarantine``), and an order log (UTF-8 with BOM, Chinese headers) whose
                  member number links every order to its member (no shop user id); the
                  member coupon experiment. The report language is Chinese.
``app_events``    an app business: users, online orders by app user id, and events in the
                  app's own vocabulary (``EVENT_VOCABULARY`` plus ``complaint`` for every
                  detractor survey answer); no surveys; the app homepage experiment.
``subscription_app`` a subscription app on monthly plans (:mod:`kit.demo.subscriptions`, a
                  world of its own, not the retail demo's): accounts, subscriptions and
                  payments by customer number, behaviour events (Parquet) by the same key;
                  its churn causes are known (``_truth/`` beside the raw files); no
                  experiments section.
``us_store``      a US online store in USD and America/New_York that opened mid-month
                  (``US_OPENING``): customers and orders linked by e-mail, order times in
                  UTC written month/day/year, an empty experiments catalogue.

The people behind the records come from the demo's ground truth (``_truth/``), so every
customer key, member number and e-mail belongs to exactly one person. Mess is kept small
and visible in the files themselves: exact duplicate rows (order log, CRM, events),
refunds where the shape has a status column, and the one undecodable CRM line. Malformed
demo orders (bad dates, text or negative amounts) are left out and re-sent orders keep
their final state, so each shape's files are the truth its figures are checked against
(tests/e2e/test_shapes.py). The config's notebooks and tag file are the project's own
(absolute paths); raw files, warehouse and reports live in the shape's folder.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from kit.core.config import DEFAULT_CONFIG, PROJECT_ROOT
from kit.demo import subscriptions

END_MONTH = "2026-10"
RAW = "raw"
DUPLICATE_SHARE = 0.003  # rows exported twice in the order log, the CRM and the event log
# app_events: the demo's event names in the app's own words (plus complaint, from surveys)
EVENT_VOCABULARY = {"visit": "login", "view": "browse", "search": "search", "add_to_cart": "wishlist",
                    "coupon_claim": "share"}
COMPLAINT, COMPLAINT_NPS = "complaint", 6  # a survey answer with NPS <= 6 becomes a complaint event
US_OPENING = "2024-06-17"  # the US store's first day (local time): its data starts mid-month
US_TIMEZONE = "America/New_York"
FIRST_NAMES = ("James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David",
               "Elizabeth", "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Karen")
LAST_NAMES = ("Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez",
              "Martinez", "Wilson", "Anderson", "Taylor", "Thomas", "Moore", "Jackson", "Martin", "Lee")
US_CITIES = (("New York", "NY"), ("Brooklyn", "NY"), ("Boston", "MA"), ("Philadelphia", "PA"),
             ("Newark", "NJ"), ("Baltimore", "MD"), ("Pittsburgh", "PA"), ("Hartford", "CT"))


@dataclass(frozen=True)
class World:
    """The demo world read back from its raw files, every record tied to its true person."""

    persons: pd.DataFrame  # person_id, join_time
    orders: pd.DataFrame  # order_id, person_id, ts, amount, discount, category, platform, payment_method, status
    members: pd.DataFrame  # the CRM rows as written (text) + person_id, each person's first member id only
    app_users: pd.DataFrame  # app_user_id, person_id, email, registered_at (text)
    events: pd.DataFrame  # app_user_id, event_time, event_type, category
    surveys: pd.DataFrame  # person_id, submitted_at, nps
    assignments: pd.DataFrame  # the raw assignment rows (text)
    experiments: list[dict]  # the demo's experiments.yml entries


def read_world(folder: Path) -> World:
    """The demo world written by :func:`kit.demo.generate` into ``folder``.

    Orders: shop and store orders with a valid time and a non-negative number as amount,
    one row per order id in its final state (the later row of a re-sent order), each with
    its true person.
    """
    folder = Path(folder)
    truth = pd.read_parquet(folder / "_truth" / "source_records.parquet")
    person = {src: dict(zip(g["source_id"], g["person_id"])) for src, g in truth.groupby("source")}
    shop = pd.read_csv(folder / "shop_orders.csv", dtype=str, keep_default_na=False)
    shop = shop.drop_duplicates("order_id", keep="last")
    shop = shop.assign(person_id=shop["shop_user_id"].map(person["shop"]),
                       ts=pd.to_datetime(shop["order_time"], format="%Y-%m-%d %H:%M:%S", errors="coerce"))
    pos = pd.read_csv(folder / "pos_orders.csv", dtype=str, keep_default_na=False, encoding="utf-8-sig")
    pos = pos.drop_duplicates("receipt_id", keep="last")
    pos = pos.assign(order_id=pos["receipt_id"], person_id=pos["receipt_id"].map(person["pos"]), platform="store",
                     ts=pd.to_datetime(pos["paid_at"], format="%d/%m/%Y %H:%M", errors="coerce"),
                     discount="", status="paid")
    columns = ["order_id", "person_id", "ts", "amount", "discount", "category", "platform", "payment_method", "status"]
    orders = pd.concat([shop[columns], pos[columns]], ignore_index=True)
    amount = pd.to_numeric(orders["amount"], errors="coerce")
    orders = orders.assign(amount=amount, discount=pd.to_numeric(orders["discount"], errors="coerce"))
    orders = orders[orders["ts"].notna() & (amount >= 0)].sort_values(["ts", "order_id"], kind="stable")

    crm = pd.read_csv(folder / "crm_members.csv", dtype=str, keep_default_na=False, encoding="gb18030")
    crm = crm.assign(person_id=crm["会员编号"].map(person["crm"]))
    first_id = crm.drop_duplicates("person_id")[["person_id", "会员编号"]]
    crm = crm[crm["会员编号"].isin(first_id["会员编号"])]
    app = pd.read_csv(folder / "app_users.csv", dtype=str, keep_default_na=False)
    app = app.assign(person_id=app["app_user_id"].map(person["app"]))
    surveys = pd.read_csv(folder / "surveys.csv", dtype=str, keep_default_na=False)
    surveys = pd.DataFrame({
        "person_id": surveys["response_id"].map(person["survey"]),
        "submitted_at": pd.to_datetime(surveys["submitted_at"], format="%Y-%m-%d %H:%M"),
        "nps": pd.to_numeric(surveys["nps"], errors="coerce"),
    })
    persons = pd.read_parquet(folder / "_truth" / "persons.parquet", columns=["person_id", "join_time"])
    catalogue = yaml.safe_load((folder / "experiments.yml").read_text(encoding="utf-8"))["experiments"]
    return World(
        persons=persons,
        orders=orders.reset_index(drop=True),
        members=crm.reset_index(drop=True),
        app_users=app,
        events=pd.read_parquet(folder / "app_events.parquet"),
        surveys=surveys,
        assignments=pd.read_csv(folder / "assignments.csv", dtype=str, keep_default_na=False),
        experiments=catalogue,
    )


# --------------------------------------------------------------------------- writing helpers


def _money(values: pd.Series) -> pd.Series:
    """Amounts as text with two decimals; blank where missing."""
    text = values.map(lambda v: f"{v:.2f}" if pd.notna(v) else "")
    return text.astype(object)


def _with_duplicates(frame: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """``frame`` with a few rows (``DUPLICATE_SHARE``) exported twice, each copy right after its row."""
    copies = 1 + (rng.random(len(frame)) < DUPLICATE_SHARE)
    return frame.loc[frame.index.repeat(copies)].reset_index(drop=True)


def _write_csv(frame: pd.DataFrame, path: Path, encoding: str = "utf-8") -> None:
    frame.to_csv(path, index=False, encoding=encoding, lineterminator="\n")


def _experiments(world: World, raw: Path, unit_type: str) -> dict:
    """The demo experiments on ``unit_type`` units: their catalogue and assignments; the
    config's experiments section."""
    chosen = [e for e in world.experiments if e["unit_type"] == unit_type]
    (raw / "experiments.yml").write_text(
        yaml.safe_dump({"experiments": chosen}, allow_unicode=True, sort_keys=False), encoding="utf-8"
    )
    ids = {e["id"] for e in chosen}
    _write_csv(world.assignments[world.assignments["experiment_id"].isin(ids)], raw / "assignments.csv")
    return {"catalog": f"{RAW}/experiments.yml"}


ASSIGNMENTS_SOURCE = {
    "kind": "assignments", "path": f"{RAW}/assignments.csv", "columns": {"assigned_at": "assigned_ts"},
    "timestamp_formats": ["%Y-%m-%d %H:%M:%S"],
}


@dataclass(frozen=True)
class ShapeConfig:
    """What a shape writer returns: the config sections that differ from the project's."""

    project: dict
    sources: dict
    identity: dict
    experiments: dict | None  # None: no experiments section at all
    lang: str = "en"
    features: dict = field(default_factory=dict)  # keys set over the project's features section
    churn: dict = field(default_factory=dict)  # keys set over the project's churn section


# --------------------------------------------------------------------------- the shapes


def orders_only(world: World, raw: Path, rng: np.random.Generator) -> ShapeConfig:
    """One order log (Customer, Date, Amount): paid orders, dates only, a few rows twice."""
    paid = world.orders[world.orders["status"] == "paid"]
    number = paid["person_id"].str[1:].astype(int) + 10_000_000
    log = pd.DataFrame({"Customer": number.astype(str), "Date": paid["ts"].dt.strftime("%Y-%m-%d"),
                        "Amount": _money(paid["amount"])})
    log = log.drop_duplicates()  # a till log holds one line per customer, day and amount
    _write_csv(_with_duplicates(log, rng), raw / "orders.csv")
    return ShapeConfig(
        project={"name": "Corner Shop", "currency": "CNY", "timezone": "Asia/Shanghai"},
        sources={"orders": {
            "kind": "orders", "path": f"{RAW}/orders.csv",
            "columns": {"Customer": "customer_no", "Date": "order_ts", "Amount": "amount"},
            "keys": {"customer_no": "customer_no"}, "timestamp_formats": ["%Y-%m-%d"],
        }},
        identity={"keys": ["customer_no"], "account_keys": ["customer_no"]},
        experiments=None,
    )


MEMBER_COLUMNS = {"会员编号": "会员号", "姓名": "姓名", "手机号": "手机", "性别": "性别", "出生日期": "生日",
                  "城市": "所在城市", "注册日期": "入会日期", "注册渠道": "入会渠道"}
BAD_LINE_NAME = b"\xff"  # prefixed to one member's name: no GBK / GB18030 text starts with it


def member_store(world: World, raw: Path, rng: np.random.Generator) -> ShapeConfig:
    """A GBK CRM (one undecodable line, a few rows twice) and the members' orders by member number."""
    member_of = dict(zip(world.members["person_id"], world.members["会员编号"]))
    orders = world.orders[world.orders["person_id"].isin(member_of)]
    log = pd.DataFrame({
        "订单号": orders["order_id"], "会员号": orders["person_id"].map(member_of),
        "下单时间": orders["ts"].dt.strftime("%Y/%m/%d %H:%M:%S"), "实付金额": _money(orders["amount"]),
        "优惠金额": _money(orders["discount"]), "商品类别": orders["category"], "渠道": orders["platform"],
        "支付方式": orders["payment_method"], "订单状态": orders["status"],
    })
    _write_csv(log, raw / "orders.csv", encoding="utf-8-sig")
    crm = _with_duplicates(world.members[list(MEMBER_COLUMNS)].rename(columns=MEMBER_COLUMNS), rng)
    lines = crm.to_csv(index=False, lineterminator="\n").encode("gbk").split(b"\n")
    # the undecodable line: a buying member's (so the member still exists through the orders)
    buyers = np.flatnonzero(crm["会员号"].isin(log["会员号"]).to_numpy() & ~crm.duplicated(keep=False).to_numpy())
    bad = 1 + int(buyers[len(buyers) // 2])  # +1: the header line
    name = crm["姓名"].iloc[bad - 1].encode("gbk")
    lines[bad] = lines[bad].replace(name, BAD_LINE_NAME + name, 1)
    (raw / "members.csv").write_bytes(b"\n".join(lines))
    return ShapeConfig(
        project={"name": "会员制超市", "currency": "CNY", "timezone": "Asia/Shanghai"},
        sources={
            "members": {
                "kind": "customers", "path": f"{RAW}/members.csv", "encoding": "gb18030",
                "on_bad_encoding": "quarantine",
                "columns": {"会员号": "member_id", "姓名": "name", "手机": "phone", "性别": "gender",
                            "生日": "birth_date", "所在城市": "city", "入会日期": "registered_at",
                            "入会渠道": "signup_channel"},
                "timestamp_formats": ["%Y-%m-%d", "%Y/%m/%d", "%Y年%m月%d日"],
            },
            "orders": {
                "kind": "orders", "path": f"{RAW}/orders.csv",
                "columns": {"订单号": "order_id", "会员号": "member_id", "下单时间": "order_ts", "实付金额": "amount",
                            "优惠金额": "discount", "商品类别": "category", "渠道": "platform",
                            "支付方式": "payment_method", "订单状态": "status"},
                "keys": {"member_id": "member_id"}, "timestamp_formats": ["%Y/%m/%d %H:%M:%S"],
            },
            "assignments": ASSIGNMENTS_SOURCE,
        },
        identity={"keys": ["member_id", "phone"], "account_keys": ["member_id"]},
        experiments=_experiments(world, raw, "member"),
        lang="zh",
    )


def app_events(world: World, raw: Path, rng: np.random.Generator) -> ShapeConfig:
    """App users, their online orders by app user id, and events in the app's vocabulary."""
    users = world.app_users
    app_of = dict(zip(users["person_id"], users["app_user_id"]))
    registered = pd.to_datetime(users["registered_at"], format="%Y-%m-%dT%H:%M:%S")
    _write_csv(pd.DataFrame({"user_id": users["app_user_id"], "email": users["email"],
                             "signup_time": registered.dt.strftime("%Y-%m-%d %H:%M:%S")}), raw / "users.csv")
    orders = world.orders[world.orders["person_id"].isin(app_of) & (world.orders["platform"] != "store")]
    _write_csv(pd.DataFrame({
        "order_no": orders["order_id"], "user_id": orders["person_id"].map(app_of),
        "created_at": orders["ts"].dt.strftime("%Y-%m-%d %H:%M:%S"), "total": _money(orders["amount"]),
        "category": orders["category"], "platform": orders["platform"], "status": orders["status"],
    }), raw / "orders.csv")
    events = world.events
    detractors = world.surveys[(world.surveys["nps"] <= COMPLAINT_NPS) & world.surveys["person_id"].isin(app_of)]
    log = pd.concat([
        pd.DataFrame({"user_id": events["app_user_id"], "event": events["event_type"].map(EVENT_VOCABULARY),
                      "ts": events["event_time"], "item_category": events["category"]}),
        pd.DataFrame({"user_id": detractors["person_id"].map(app_of), "event": COMPLAINT,
                      "ts": detractors["submitted_at"], "item_category": None}),
    ], ignore_index=True).sort_values(["ts", "user_id"], kind="stable", ignore_index=True)
    log["ts"] = log["ts"].dt.strftime("%Y-%m-%d %H:%M:%S")
    _write_csv(_with_duplicates(log, rng), raw / "events.csv")
    return ShapeConfig(
        project={"name": "Study App", "currency": "CNY", "timezone": "Asia/Shanghai"},
        sources={
            "users": {"kind": "app_users", "path": f"{RAW}/users.csv",
                      "columns": {"user_id": "app_user_id", "signup_time": "registered_at"},
                      "timestamp_formats": ["%Y-%m-%d %H:%M:%S"]},
            "orders": {"kind": "orders", "path": f"{RAW}/orders.csv",
                       "columns": {"order_no": "order_id", "user_id": "app_user_id", "created_at": "order_ts",
                                   "total": "amount"},
                       "keys": {"app_user_id": "app_user_id"}, "timestamp_formats": ["%Y-%m-%d %H:%M:%S"]},
            "events": {"kind": "events", "path": f"{RAW}/events.csv",
                       "columns": {"user_id": "app_user_id", "event": "event_type", "ts": "event_ts",
                                   "item_category": "category"},
                       "timestamp_formats": ["%Y-%m-%d %H:%M:%S"]},
            "assignments": ASSIGNMENTS_SOURCE,
        },
        identity={"keys": ["app_user_id", "email"], "account_keys": ["app_user_id"]},
        experiments=_experiments(world, raw, "app_user"),
    )


def us_store(world: World, raw: Path, rng: np.random.Generator) -> ShapeConfig:
    """Customers and their orders since the store opened (``US_OPENING``), linked by e-mail;
    order times in UTC, month/day/year; an empty experiments catalogue."""
    opening = pd.Timestamp(US_OPENING)
    people = world.persons[world.persons["join_time"] >= opening].reset_index(drop=True)
    k = np.arange(len(people))
    first = np.asarray(FIRST_NAMES)[rng.integers(0, len(FIRST_NAMES), len(people))]
    last = np.asarray(LAST_NAMES)[rng.integers(0, len(LAST_NAMES), len(people))]
    city = rng.integers(0, len(US_CITIES), len(people))
    email = pd.Series([f"{f}.{la}{i + 100}@example.com".lower() for f, la, i in zip(first, last, k)])
    _write_csv(pd.DataFrame({
        "Customer ID": (k + 7_000_001).astype(str), "First Name": first, "Last Name": last, "Email": email,
        "Created At": people["join_time"].dt.strftime("%m/%d/%Y"),
        "City": [US_CITIES[c][0] for c in city], "State": [US_CITIES[c][1] for c in city],
    }), raw / "customers.csv")
    email_of = dict(zip(people["person_id"], email))
    orders = world.orders[world.orders["person_id"].isin(email_of)].reset_index(drop=True)
    local = orders["ts"].dt.tz_localize(US_TIMEZONE, ambiguous=np.zeros(len(orders), dtype=bool),
                                         nonexistent="shift_forward")
    _write_csv(pd.DataFrame({
        "Order ID": [f"#{1001 + i}" for i in range(len(orders))], "Email": orders["person_id"].map(email_of),
        "Created At": local.dt.tz_convert("UTC").dt.strftime("%m/%d/%Y %H:%M"), "Total": _money(orders["amount"]),
        "Discount Amount": _money(orders["discount"].fillna(0.0)), "Product Type": orders["category"],
        "Financial Status": orders["status"],
    }), raw / "orders.csv")
    (raw / "experiments.yml").write_text("experiments: []\n", encoding="utf-8")
    return ShapeConfig(
        project={"name": "Hudson Goods", "currency": "USD", "timezone": US_TIMEZONE},
        sources={
            "customers": {"kind": "customers", "path": f"{RAW}/customers.csv",
                          "columns": {"Customer ID": "member_id", "First Name": "name", "Email": "email",
                                      "Created At": "registered_at", "City": "city"},
                          "timestamp_formats": ["%m/%d/%Y"]},
            "orders": {"kind": "orders", "path": f"{RAW}/orders.csv", "timezone": "UTC",
                       "columns": {"Order ID": "order_id", "Email": "email", "Created At": "order_ts",
                                   "Total": "amount", "Discount Amount": "discount", "Product Type": "category",
                                   "Financial Status": "status"},
                       "timestamp_formats": ["%m/%d/%Y %H:%M"]},
        },
        identity={"keys": ["member_id", "email"], "account_keys": ["member_id"]},
        experiments={"catalog": f"{RAW}/experiments.yml"},
    )


SHAPES: dict[str, Callable[[World, Path, np.random.Generator], ShapeConfig]] = {
    "orders_only": orders_only,
    "member_store": member_store,
    "app_events": app_events,
    "us_store": us_store,
}


def subscription_app(raw: Path, customers: int, seed: int) -> ShapeConfig:
    """The subscription world (``kit.demo.subscriptions.write_world``) and the config mapping
    its four files, every one linked through the customer number; its positive events (the
    world's ``POSITIVE``) and the others, negative, are the config's event lists. Churn is
    contractual (a subscription lapses ``GRACE_DAYS`` after its paid-through date) over a
    30-day window, the horizon a monthly subscription business plans on."""
    subscriptions.write_world(raw, customers, seed, END_MONTH)
    key = {"customer_no": "customer_no"}
    negative = [t for t in subscriptions.EVENT_RATES if t not in subscriptions.POSITIVE]
    return ShapeConfig(
        project={"name": "Team Planner", "currency": "USD", "timezone": "UTC"},
        sources={
            "accounts": {"kind": "customers", "path": f"{RAW}/accounts.csv",
                         "columns": {"customer_no": "member_id", "signup_date": "registered_at"},
                         "keys": {"member_id": "customer_no", "email": "email"}, "timestamp_formats": ["%Y-%m-%d"]},
            "subscriptions": {"kind": "subscriptions", "path": f"{RAW}/subscriptions.csv", "keys": key,
                              "timestamp_formats": ["%Y-%m-%d %H:%M:%S", "%Y-%m-%d"]},
            "payments": {"kind": "orders", "path": f"{RAW}/payments.csv",
                         "columns": {"invoice": "order_id", "paid_at": "order_ts"}, "keys": key,
                         "timestamp_formats": ["%Y-%m-%d %H:%M:%S"], "channel": "online"},
            "events": {"kind": "events", "path": f"{RAW}/events.parquet", "format": "parquet", "keys": key},
        },
        identity={"keys": ["customer_no", "email"], "account_keys": ["customer_no"]},
        experiments=None,
        features={"negative_events": negative, "positive_events": list(subscriptions.POSITIVE)},
        churn={"mode": "contractual", "window_days": 30, "grace_days": subscriptions.GRACE_DAYS},
    )


# shapes with a world of their own (not the retail demo's): (raw folder, customers, seed) -> config
OWN_WORLDS: dict[str, Callable[[Path, int, int], ShapeConfig]] = {"subscription_app": subscription_app}


def write_shape(name: str, root: Path, customers: int = 2500, seed: int = 42) -> Path:
    """Write shape ``name``'s raw files into ``root/raw`` and its config ``root/kit.yml``;
    return the config's path.

    ``customers`` people are simulated (:func:`kit.demo.generate`, up to ``END_MONTH``); a
    shape keeps those its company knows (the membership store only its members, about
    half). The config is the project's (``config/kit.yml``) with the shape's project,
    sources, identity and experiments sections, its folders inside ``root``.
    """
    from kit.demo import generate

    if name not in SHAPES and name not in OWN_WORLDS:
        raise ValueError(f"unknown shape {name!r}: choose one of {', '.join([*SHAPES, *OWN_WORLDS])}")
    root = Path(root).resolve()
    raw = root / RAW
    raw.mkdir(parents=True, exist_ok=True)
    if name in OWN_WORLDS:
        shape = OWN_WORLDS[name](raw, customers, seed)
    else:
        with tempfile.TemporaryDirectory(prefix="kit_shape_") as folder:
            generate(Path(folder), customers=customers, seed=seed, end_month=END_MONTH)
            world = read_world(Path(folder))
        shape = SHAPES[name](world, raw, np.random.default_rng(seed))
    data = yaml.safe_load(DEFAULT_CONFIG.read_text(encoding="utf-8"))
    data.pop("experiments")
    data |= {
        "project": shape.project,
        "run": {**data["run"], "month": END_MONTH, "lang": shape.lang},
        "paths": {"raw": RAW, "warehouse": "warehouse", "reports": "reports", "scratch": "scratch",
                  "ingest_cache": "ingest_cache", "notebooks": str(PROJECT_ROOT / "notebooks")},
        "sources": shape.sources,
        "identity": {**data["identity"], **shape.identity},
        "features": {**data["features"], **shape.features, "tags_file": str(PROJECT_ROOT / "config" / "tags.yml")},
        "churn": {**data["churn"], **shape.churn},
    }
    if shape.experiments is not None:
        data["experiments"] = shape.experiments
    path = root / "kit.yml"
    path.write_text(f"# Company shape {name!r} (kit.demo.shapes)\n"
                    + yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path

