"""The raw files of the demo world, written as a company would hand them over: messy.

Every file follows docs/data_contract.md exactly (names, headers, encodings, formats).
The mess is injected here and measured: each writer returns the defects it injected with
their exact counts (collected into ``_truth/defects.json``) and the true person behind
every record id (``_truth/source_records.parquet``).

Injected mess, per file:
- ``crm_members.csv`` (GB18030, Chinese headers): phones in five styles, messy e-mails,
  three date styles, blanks, some members registered twice (a second member id for the
  same person, same phone), exact duplicate rows; fuzzy duplicates (:func:`fuzzy_members`,
  about 4% of the members): a later second record sharing no exact identifier with the
  person's other records (old or no phone, e-mail variant or none, name in pinyin or with
  a typo, birth date swapped or blank), listed in ``_truth/fuzzy_duplicates.parquet``.
- ``shop_orders.csv``: phones in five styles or blank, exact duplicate rows, re-sent
  orders (the same ``order_id`` first ``paid`` then again ``refunded``: the later row in
  the file is the current one), unparseable ``order_time``, text in ``amount``, negative
  amounts on paid orders; refunds are ``status = refunded``. ``receiver_name`` in pinyin
  or with a typo, ``receiver_name``, ``receiver_address`` and its ``receiver_city`` blank.
- ``pos_orders.csv`` (UTF-8 with BOM, ``DD/MM/YYYY HH:MM``): phones typed by staff, often
  blank or the store's walk-in number (one per store city, shared by many different
  people); exact duplicates, bad dates, text and negative amounts. The POS export has no
  refunds.
- ``app_users.csv``: profile fields mostly blank (``real_name``, ``birthday``, ``gender``,
  ``city``), real names in pinyin, birthdays with day and month swapped.
- ``app_events.parquet`` (exact duplicate events), ``surveys.csv`` (blank scores,
  responses identified by member id and/or phone, or by neither).

Personal attributes (:class:`Profiles`: name forms, birth date, gender, city, home
address) and every mistake in them come from the random stream ``[seed, 19]``; the rows
and columns that existed before issue 19 are the same byte for byte.
Malformed rows (bad dates, text or negative amounts) are picked among orders placed
before the first experiment starts, so the experiment windows stay clean.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from kit.demo import text
from kit.demo.activity import EVENT_TYPES
from kit.demo.timeline import Timeline
from kit.demo.world import CATEGORIES, CHANNELS, CITY_NAMES, PAYMENTS

CRM_COLUMNS = ("会员编号", "姓名", "手机号", "邮箱", "性别", "出生日期", "城市", "注册日期", "注册渠道")
SIGNUP_CHANNEL = {"store": "门店", "web": "线上商城", "app": "APP", "mini_program": "小程序"}
POS_PAYMENTS = ("alipay", "wechat_pay", "card", "cash")
BAD_ORDER_TIMES = ("0000-00-00 00:00:00", "2025-02-30 12:00:00", "2025-13-01 10:00:00", "unknown")
BAD_POS_TIMES = ("31/02/2025 14:00", "32/01/2025 09:15", "00/00/0000 00:00")
TEXT_AMOUNTS = ("abc", "#VALUE!", "待定")
BOM = b"\xef\xbb\xbf"
POS_TYPED_MEMBER, POS_TYPED_OTHER, POS_WALK_IN = 0.85, 0.35, 0.10  # shares of POS receipts
MOBILE_PREFIXES = np.array([130, 131, 132, 133, 135, 136, 137, 138, 139, 150, 151, 152, 155, 156, 158, 159,
                            166, 176, 177, 180, 181, 182, 185, 186, 187, 188, 189, 198, 199])


@dataclass
class Contacts:
    """Identifiers and contact details of every person (row-aligned with persons)."""

    phone: np.ndarray  # int64 11-digit mobile, 0 if none
    name: pa.Array
    email: pa.Array  # canonical lower-case, null if none
    member_no: np.ndarray  # -1 if not a member before the cut
    member_reg: np.ndarray  # day, inf if not a member
    shop_user_no: np.ndarray
    app_user_no: np.ndarray  # -1 if no app account before the cut
    walk_in: np.ndarray  # one walk-in phone per store city (CITY_NAMES order)


NAME_FORMS = ("hanzi", "pinyin", "pinyin_given_first", "typo")  # how a record writes a person's name
FUZZY_SHARE = 0.04  # members who registered again under no shared identifier


@dataclass
class Profiles:
    """Personal attributes of every person (row-aligned with persons) that linkage compares.

    Issue 19: records of one person that share no exact identifier can still be linked by
    name, birth date, gender, city and address. Profiles are drawn from a random stream of
    their own (``[seed, 19]``), so that adding them changed no draw of the rest of the world.
    """

    birth: np.ndarray  # datetime64[s]: the birth date the CRM writes (from the person's age)
    female: np.ndarray  # bool
    city: np.ndarray  # home city (text, world.CITY_NAMES)
    names: pa.Array  # every NAME_FORMS form of every name, stacked: form k of person i at k * n + i
    address: pa.Array  # the home address, fixed per person, in the home city

    def name_forms(self, person: np.ndarray, form: np.ndarray) -> pa.Array:
        """The name of ``person`` written as NAME_FORMS[``form``] (form -1: blank)."""
        n = self.birth.size
        return self.names.take(pa.array(np.asarray(form) * n + person, pa.int64(), mask=np.asarray(form) < 0))


def birth_dates(persons: pd.DataFrame, timeline: Timeline) -> np.ndarray:
    """True birth dates (datetime64[s]): the cut minus the person's (fractional) age."""
    ages = persons["age"].to_numpy()
    return timeline.to_timestamps(np.full(ages.size, timeline.end)) - (ages * 365.25 * 86400).astype("timedelta64[s]")


def make_profiles(persons: pd.DataFrame, contacts: Contacts, timeline: Timeline,
                  rng: np.random.Generator) -> Profiles:
    """Name forms (hanzi, pinyin both orders, a fixed typo) and home address of every person."""
    name = contacts.name
    forms = [name, text.pinyin_names(name), text.pinyin_names(name, given_first=True), text.typo_names(rng, name)]
    city = persons["city"].to_numpy()
    return Profiles(
        birth=birth_dates(persons, timeline), female=persons["gender"].to_numpy() == "female", city=city,
        names=pa.concat_arrays([f.cast(pa.string()) for f in forms]), address=text.addresses(rng, city),
    )


class Defects:
    """The list of injected defects with exact counts (becomes defects.json)."""

    def __init__(self) -> None:
        self.items: list[dict] = []
        self.phone_formats: dict[str, dict[str, int]] = {}
        self.missing: dict[str, dict[str, int]] = {}

    def add(self, file: str, defect: str, count: int, note: str) -> None:
        self.items.append({"file": file, "defect": defect, "count": int(count), "note": note})

    def count_missing(self, file: str, table: pa.Table) -> None:
        self.missing[file] = {name: int(table[name].null_count) for name in table.column_names}

    def count_phone_styles(self, file: str, style: np.ndarray, walk_in: np.ndarray | None = None) -> None:
        """Rows per phone writing style (walk-in numbers counted apart when given)."""
        walk_in = np.zeros(style.size, dtype=bool) if walk_in is None else walk_in
        counts = {name: int(((style == k) & ~walk_in).sum()) for k, name in enumerate(text.PHONE_FORMATS)}
        counts["blank"] = int(((style < 0) & ~walk_in).sum())
        if walk_in.any():
            counts["walk_in"] = int(walk_in.sum())
        self.phone_formats[file] = counts


def make_contacts(persons: pd.DataFrame, timeline: Timeline, rng: np.random.Generator) -> Contacts:
    """Phones, names, e-mails, member/shop/app ids for every person."""
    n = len(persons)
    walk_in = 13800000000 + np.arange(1, len(CITY_NAMES) + 1) * 1000
    numbers = text.unique_numbers(rng, n, 0, 100_000_000 * MOBILE_PREFIXES.size)
    phone = MOBILE_PREFIXES[numbers // 100_000_000] * 100_000_000 + numbers % 100_000_000
    phone = np.where(np.isin(phone, walk_in), phone + 1, phone)
    new_app = persons["persona"].to_numpy() == "new_app_user"
    has_phone = ~(new_app & (rng.random(n) < 0.3))
    phone = np.where(has_phone, phone, 0)
    name, surname = text.names(rng, n)
    has_email = rng.random(n) < 0.6
    email = text.emails(rng, surname, 10_000 + rng.permutation(n) * 7 + rng.integers(0, 7, n))
    email = pc.if_else(pa.array(has_email), email, pa.nulls(n, pa.string()))
    join = persons["join"].to_numpy()
    member_reg = np.where(rng.random(n) < 0.7, join, join + rng.exponential(60.0, n))
    is_member = persons["is_member"].to_numpy() & (member_reg < timeline.end)
    member_no = np.full(n, -1, dtype=np.int64)
    member_no[is_member] = text.unique_numbers(rng, int(is_member.sum()), 10_000_000, 100_000_000)
    shop_user_no = text.unique_numbers(rng, n, 10_000_000, 100_000_000)
    app_user = persons["app_reg"].to_numpy() < timeline.end
    app_user_no = np.full(n, -1, dtype=np.int64)
    app_user_no[app_user] = text.unique_numbers(rng, int(app_user.sum()), 100_000_000, 1_000_000_000)
    return Contacts(
        phone=phone, name=name, email=email, member_no=member_no,
        member_reg=np.where(is_member, member_reg, np.inf), shop_user_no=shop_user_no,
        app_user_no=app_user_no, walk_in=walk_in,
    )


def member_ids(contacts: Contacts) -> pa.Array:
    """``M`` + 8 digits for members (null for non-members), row-aligned with persons."""
    ids = text.ids("M", np.maximum(contacts.member_no, 0), 8)
    return pc.if_else(pa.array(contacts.member_no >= 0), ids, pa.nulls(len(ids), pa.string()))


def app_user_ids(contacts: Contacts) -> pa.Array:
    """``A`` + 9 digits for app users (null otherwise), row-aligned with persons."""
    ids = text.ids("A", np.maximum(contacts.app_user_no, 0), 9)
    return pc.if_else(pa.array(contacts.app_user_no >= 0), ids, pa.nulls(len(ids), pa.string()))


def _phone_style(rng: np.random.Generator, phone: np.ndarray, blank_share: float) -> np.ndarray:
    """A random writing style per row, -1 (blank) for a share of rows and for no phone."""
    style = rng.choice(len(text.PHONE_FORMATS), size=phone.size, p=[0.4, 0.2, 0.15, 0.1, 0.15]).astype(np.int64)
    return np.where((rng.random(phone.size) < blank_share) | (phone == 0), -1, style)


def _write_csv(table: pa.Table, path: Path, bom: bool = False) -> None:
    options = pacsv.WriteOptions(quoting_style="needed")
    with open(path, "wb") as fh:
        if bom:
            fh.write(BOM)
        pacsv.write_csv(table, fh, options)


def _spread_copies(rng: np.random.Generator, copies: np.ndarray, max_gap: float) -> np.ndarray:
    """File positions for copies of rows ``copies`` a little later in the file."""
    return copies + 0.5 + rng.random(copies.size) * max_gap


def write_crm(path: Path, persons: pd.DataFrame, contacts: Contacts, profiles: Profiles, timeline: Timeline,
              rng: np.random.Generator, fuzzy_rng: np.random.Generator,
              defects: Defects) -> tuple[pd.DataFrame, int, pd.DataFrame]:
    """crm_members.csv; returns (source records incl. second registrations, rows, fuzzy duplicates).

    ``fuzzy_rng`` draws the fuzzy duplicates only (:func:`fuzzy_members`), so the other rows
    are the same whether or not they are written.
    """
    file = path.name
    member = np.flatnonzero(contacts.member_no >= 0)
    member = member[np.argsort(contacts.member_reg[member], kind="stable")]
    twice = member[rng.random(member.size) < 0.005]
    second_reg = contacts.member_reg[twice] + rng.exponential(200.0, twice.size)
    twice_ok = second_reg < timeline.end
    twice, second_reg = twice[twice_ok], second_reg[twice_ok]
    second_no = text.unique_numbers(rng, twice.size, 10_000_000, 100_000_000, exclude=contacts.member_no)
    rows = np.concatenate([member, twice])
    numbers = np.concatenate([contacts.member_no[member], second_no])
    reg = np.concatenate([contacts.member_reg[member], second_reg])
    m = rows.size
    take = pa.array(rows, pa.int64())
    birth = profiles.birth[rows]
    birth_style = np.where(rng.random(m) < 0.06, -1, rng.integers(0, 3, m))
    reg_style = rng.integers(0, 3, m)
    gender = np.where(persons["gender"].to_numpy()[rows] == "female", "女", "男")
    gender = np.where(rng.random(m) < 0.04, None, gender)
    city = np.where(rng.random(m) < 0.02, None, persons["city"].to_numpy()[rows])
    email_style = np.where(rng.random(m) < 0.65, 0, rng.integers(1, 5, m))
    email = text.messy_emails(contacts.email.take(take), email_style)
    phone_style = _phone_style(rng, contacts.phone[rows], 0.03)
    table = pa.table(
        {
            "会员编号": text.ids("M", numbers, 8),
            "姓名": contacts.name.take(take),
            "手机号": text.phones(contacts.phone[rows], phone_style),
            "邮箱": email,
            "性别": pa.array(gender, pa.string()),
            "出生日期": text.chinese_dates(birth, birth_style),
            "城市": pa.array(city, pa.string()),
            "注册日期": text.chinese_dates(timeline.to_timestamps(reg), reg_style),
            "注册渠道": _signup_channels(persons, rows),
        }
    )
    fuzzy = fuzzy_members(persons, member, contacts, profiles, timeline, np.concatenate([contacts.member_no, second_no]),
                          fuzzy_rng)
    dup = rng.random(m) < 0.003
    position = np.concatenate([np.arange(m, dtype=float), fuzzy.position,
                               _spread_copies(rng, np.flatnonzero(dup), 200.0)])
    table = pa.concat_tables([table, fuzzy.table, table.take(pa.array(np.flatnonzero(dup)))])
    table = table.take(pa.array(np.argsort(position, kind="stable")))
    table.to_pandas().to_csv(path, index=False, encoding="gb18030")
    defects.add(file, "exact_duplicate_rows", dup.sum(), "the same member row exported twice")
    defects.add(file, "second_member_id", twice.size, "a person registered twice: two member ids, one person")
    defects.add(file, "fuzzy_duplicate_members", fuzzy.person.size,
                "a person registered again sharing no exact identifier (no phone or an old one, no e-mail or a "
                "variant, name in pinyin or with a typo, ...): _truth/fuzzy_duplicates.parquet")
    defects.add(file, "messy_emails", _messy(table["邮箱"]),
                "e-mails in upper/capitalised case or padded with spaces (rows incl. duplicates)")
    defects.count_phone_styles(file, np.concatenate([phone_style, fuzzy.phone_style, phone_style[dup]]))
    defects.count_missing(file, table)
    styles = np.concatenate([birth_style, fuzzy.birth_style, birth_style[dup]])
    defects.add(file, "birth_date_styles", (styles > 0).sum(), "birth dates written 1990/5/3 or 1990年5月3日")
    ids = pa.concat_arrays([text.ids("M", numbers, 8), fuzzy.table["会员编号"].combine_chunks()])
    records = pd.DataFrame({"source": "crm", "source_id": ids.to_numpy(zero_copy_only=False),
                            "person": np.concatenate([rows, fuzzy.person])})
    truth = pd.DataFrame({"source": "crm", "source_id": fuzzy.table["会员编号"].to_numpy(), "person": fuzzy.person,
                          "variations": fuzzy.variations})
    return records, table.num_rows, truth


def _signup_channels(persons: pd.DataFrame, rows: np.ndarray) -> pa.Array:
    """The 注册渠道 of each row: the person's main channel."""
    shares = persons[[f"share_{c}" for c in CHANNELS]].to_numpy()[rows]
    return pa.array(np.asarray([SIGNUP_CHANNEL[c] for c in CHANNELS])[shares.argmax(axis=1)])


@dataclass
class FuzzyMembers:
    """The fuzzy duplicate CRM rows and what the writer needs to place and count them."""

    table: pa.Table  # CRM rows (CRM_COLUMNS)
    person: np.ndarray
    position: np.ndarray  # file position among the first registrations (by registration day)
    phone_style: np.ndarray
    birth_style: np.ndarray
    variations: np.ndarray  # comma-separated FUZZY_VARIATIONS of each row


FUZZY_VARIATIONS = ("old_phone", "no_phone", "email_variant", "no_email", "pinyin_name", "name_typo", "name_swap",
                    "date_swapped", "no_birth_date")


def fuzzy_members(persons: pd.DataFrame, member: np.ndarray, contacts: Contacts, profiles: Profiles,
                  timeline: Timeline, taken: np.ndarray, rng: np.random.Generator) -> FuzzyMembers:
    """A second member record for FUZZY_SHARE of the members that shares NO exact identifier
    (after ingest's normalisation) with any other record of the person: what a customer who
    forgot an account creates, and what only probabilistic linkage can join.

    ``member`` are the members' rows in file order (by registration day); ``taken`` the
    member numbers in use. Per record: a new member id registered later than the first
    (before the cut); phone an old number nobody else has (60%) or blank; e-mail an
    :func:`text.email_variants` variant (half of those with an e-mail) or blank; name as is
    (40%), in pinyin surname first (20%, ``Zhang Wei``), with a one-character typo (25%) or
    in pinyin given name first (15%, ``Wei Zhang``: pinyin_name and name_swap); birth date
    blank (10%), else day and month swapped in 15% of the dates where that changes them;
    gender and city as they are. These accounts are dormant: no orders, events or surveys.
    """
    who = member[rng.random(member.size) < FUZZY_SHARE]
    k = who.size
    first_reg = contacts.member_reg[who]
    reg = first_reg + (timeline.end - first_reg) * rng.uniform(0.05, 1.0, k)
    numbers = text.unique_numbers(rng, k, 10_000_000, 100_000_000, exclude=taken)
    old_phone = rng.random(k) < 0.6
    phone = np.where(old_phone, _fresh_phones(rng, k, np.concatenate([contacts.phone, contacts.walk_in])), 0)
    phone_style = _phone_style(rng, phone, 0.0)
    email = contacts.email.take(pa.array(who, pa.int64()))
    has_email = email.is_valid().to_numpy(zero_copy_only=False)
    variant = has_email & (rng.random(k) < 0.5)
    email = pc.if_else(pa.array(variant), text.email_variants(rng, email), pa.nulls(k, pa.string()))
    u = rng.random(k)
    form = np.select([u < 0.40, u < 0.60, u < 0.85], [0, 1, 3], 2)
    no_birth = rng.random(k) < 0.10
    swapped, can_swap = text.swap_day_month(profiles.birth[who])
    swap = ~no_birth & can_swap & (rng.random(k) < 0.15)
    birth = np.where(swap, swapped, profiles.birth[who].astype("datetime64[D]"))
    birth_style = np.where(no_birth, -1, rng.integers(0, 3, k))
    table = pa.table(
        {
            "会员编号": text.ids("M", numbers, 8),
            "姓名": profiles.name_forms(who, form),
            "手机号": text.phones(phone, phone_style),
            "邮箱": email,
            "性别": pa.array(np.where(profiles.female[who], "女", "男")),
            "出生日期": text.chinese_dates(birth, birth_style),
            "城市": pa.array(profiles.city[who].astype(str)),
            "注册日期": text.chinese_dates(timeline.to_timestamps(reg), rng.integers(0, 3, k)),
            "注册渠道": _signup_channels(persons, who),
        }
    )
    flags = (old_phone, ~old_phone & (contacts.phone[who] > 0), variant, has_email & ~variant,
             (form == 1) | (form == 2), form == 3, form == 2, swap, no_birth)
    # numpy string ops: pyarrow's binary_join_element_wise(null_handling="skip") returns too
    # few rows when an input is all null (pyarrow 26)
    variations = np.full(k, "", dtype="<U120")
    for name, flag in zip(FUZZY_VARIATIONS, flags):
        variations = np.char.add(variations, np.where(flag, name + ",", ""))
    variations = np.char.rstrip(variations, ",").astype(object)
    position = np.searchsorted(contacts.member_reg[member], reg) - 0.25
    return FuzzyMembers(table=table, person=who, position=position, phone_style=phone_style,
                        birth_style=birth_style, variations=variations)


def _fresh_phones(rng: np.random.Generator, n: int, taken: np.ndarray) -> np.ndarray:
    """``n`` distinct valid mobile numbers, none of them in ``taken`` (nobody's number)."""
    found = np.empty(0, dtype=np.int64)
    while found.size < n:
        size = 2 * (n - found.size) + 16
        draw = MOBILE_PREFIXES[rng.integers(0, MOBILE_PREFIXES.size, size)] * 100_000_000 + rng.integers(0, 100_000_000, size)
        found = np.setdiff1d(np.unique(np.concatenate([found, draw])), taken)
    return rng.permutation(found)[:n]


def write_shop(path: Path, orders: pd.DataFrame, contacts: Contacts, profiles: Profiles, timeline: Timeline,
               clean_from: float, rng: np.random.Generator, receiver_rng: np.random.Generator,
               defects: Defects) -> tuple[pd.DataFrame, int]:
    """shop_orders.csv from online orders before the cut; returns (source records, rows).

    ``receiver_rng`` draws the receiver columns only: the person's name as typed for the
    delivery (hanzi; 5% pinyin surname first, 5% given name first, 3% the person's typo,
    5% blank) and home address (5% blank).
    """
    file = path.name
    o = orders[(orders["channel"] != CHANNELS.index("store")) & (orders["ts"] < timeline.end)]
    o = o.sort_values("ts", kind="stable")
    m = len(o)
    person = o["person"].to_numpy()
    order_no = 1_000_000_000 + np.arange(m) * 3 + rng.integers(0, 3, m)
    refunded = o["refunded"].to_numpy()
    amount = text.money(o["amount"].to_numpy())
    status = text.labels(refunded.astype(np.int8), ("paid", "refunded"))
    time_text = text.timestamps(timeline.to_timestamps(o["ts"].to_numpy()), "%Y-%m-%d %H:%M:%S")
    # malformed rows among orders before the experiments
    early = np.flatnonzero((o["ts"].to_numpy() < clean_from) & ~refunded)
    k = max(3, int(round(m * 0.0002)))
    bad = rng.choice(early, size=min(3 * k, early.size), replace=False)
    bad_date, bad_text, bad_negative = bad[:k], bad[k:2 * k], bad[2 * k:]
    time_text = _replace(time_text, bad_date, np.asarray(BAD_ORDER_TIMES)[rng.integers(0, len(BAD_ORDER_TIMES), bad_date.size)])
    amount = _replace(amount, bad_text, np.asarray(TEXT_AMOUNTS)[rng.integers(0, len(TEXT_AMOUNTS), bad_text.size)])
    amount = _replace(amount, bad_negative, text.money(-o["amount"].to_numpy()[bad_negative]).to_numpy(zero_copy_only=False))
    phone_style = _phone_style(rng, contacts.phone[person], 0.10)
    u = receiver_rng.random(m)
    name_form = np.select([u < 0.05, u < 0.10, u < 0.15, u < 0.18], [-1, 1, 2, 3], 0)
    no_address = receiver_rng.random(m) < 0.05
    table = pa.table(
        {
            "order_id": text.ids("S", order_no, 10),
            "shop_user_id": text.ids("U", contacts.shop_user_no[person], 8),
            "phone": text.phones(contacts.phone[person], phone_style),
            "order_time": time_text,
            "platform": text.labels(o["channel"].to_numpy(), CHANNELS),
            "amount": amount,
            "discount": text.money(o["discount"].to_numpy()),
            "category": text.labels(o["category"].to_numpy(), CATEGORIES),
            "items": pa.array(o["items"].to_numpy().astype(np.int64)),
            "payment_method": text.labels(o["payment"].to_numpy(), PAYMENTS),
            "status": status,
            "receiver_name": profiles.name_forms(person, name_form),
            "receiver_address": profiles.address.take(pa.array(person, pa.int64(), mask=no_address)),
            "receiver_city": pa.array(profiles.city[person], pa.string(), mask=no_address),
        }
    )
    clean = np.ones(m, dtype=bool)
    clean[bad] = False
    resent = np.flatnonzero(refunded & (rng.random(m) < 0.4))
    dup = np.flatnonzero(clean & ~refunded & (rng.random(m) < 0.004))
    # the re-sent order: original row says paid, the later copy says refunded
    is_resent = np.zeros(m, dtype=bool)
    is_resent[resent] = True
    status_col = table.schema.get_field_index("status")
    table = table.set_column(status_col, "status", pc.if_else(pa.array(is_resent), "paid", table["status"]))
    resent_rows = table.take(pa.array(resent)).set_column(
        status_col, "status", text.labels(np.ones(resent.size, np.int8), ("paid", "refunded"))
    )
    position = np.concatenate([
        np.arange(m, dtype=float), _spread_copies(rng, resent, 5000.0), _spread_copies(rng, dup, 50.0)
    ])
    table = pa.concat_tables([table, resent_rows, table.take(pa.array(dup))])
    table = table.take(pa.array(np.argsort(position, kind="stable")))
    _write_csv(table, path)
    defects.add(file, "exact_duplicate_rows", dup.size, "an order row sent twice, identical")
    defects.add(file, "resent_orders", resent.size, "an order sent again with status refunded: same order_id, later row wins")
    defects.add(file, "refunded_orders", refunded.sum(), "orders whose final status is refunded")
    defects.add(file, "bad_dates", bad_date.size, "order_time that is not a valid date-time")
    defects.add(file, "text_in_amount", bad_text.size, "amount that is not a number")
    defects.add(file, "negative_amounts", bad_negative.size, "negative amount on a paid order (not a refund)")
    all_style = np.concatenate([phone_style, phone_style[resent], phone_style[dup]])
    defects.count_phone_styles(file, all_style)
    forms = np.concatenate([name_form, name_form[resent], name_form[dup]])
    defects.add(file, "receiver_name_pinyin", np.isin(forms, (1, 2)).sum(),
                "receiver_name in pinyin, Zhang Wei or Wei Zhang (rows incl. duplicates)")
    defects.add(file, "receiver_name_typos", (forms == 3).sum(),
                "receiver_name with one character wrong: a homophone or a dropped character (rows incl. duplicates)")
    defects.count_missing(file, table)
    users = np.unique(person)
    records = pd.DataFrame({"source": "shop", "source_id": text.ids("U", contacts.shop_user_no[users], 8).to_numpy(zero_copy_only=False), "person": users})
    return records, table.num_rows


def write_pos(path: Path, orders: pd.DataFrame, persons: pd.DataFrame, contacts: Contacts, timeline: Timeline,
              clean_from: float, rng: np.random.Generator, defects: Defects) -> tuple[pd.DataFrame, int]:
    """pos_orders.csv from store orders before the cut; returns (source records, rows)."""
    file = path.name
    o = orders[(orders["channel"] == CHANNELS.index("store")) & (orders["ts"] < timeline.end)]
    o = o.sort_values("ts", kind="stable")
    m = len(o)
    person = o["person"].to_numpy()
    receipt_no = 1_000_000_000 + np.arange(m) * 7 + rng.integers(0, 7, m)
    home = pd.Categorical(persons["city"].to_numpy()[person], categories=list(CITY_NAMES)).codes
    city = np.where(rng.random(m) < 0.9, home, rng.integers(0, len(CITY_NAMES), m))
    has_phone = contacts.phone[person] > 0
    # members give their number for points; others often get the walk-in number or none
    typed_share = np.where(contacts.member_no[person] >= 0, POS_TYPED_MEMBER, POS_TYPED_OTHER)
    u = rng.random(m)
    typed = has_phone & (u < typed_share)
    walk_in = np.where(has_phone, (u >= typed_share) & (u < typed_share + POS_WALK_IN), u < 0.3)
    number = np.where(typed, contacts.phone[person], np.where(walk_in, contacts.walk_in[city], 0))
    style = _phone_style(rng, number, 0.0)
    style = np.where(walk_in, 0, style)  # staff type the walk-in number plainly
    amount_text = text.money(o["amount"].to_numpy())
    time_text = text.timestamps(timeline.to_timestamps(o["ts"].to_numpy()), "%d/%m/%Y %H:%M")
    early = np.flatnonzero(o["ts"].to_numpy() < clean_from)
    k = max(3, int(round(m * 0.0002)))
    bad = rng.choice(early, size=min(3 * k, early.size), replace=False)
    bad_date, bad_text, bad_negative = bad[:k], bad[k:2 * k], bad[2 * k:]
    time_text = _replace(time_text, bad_date, np.asarray(BAD_POS_TIMES)[rng.integers(0, len(BAD_POS_TIMES), bad_date.size)])
    amount_text = _replace(amount_text, bad_text, np.asarray(TEXT_AMOUNTS)[rng.integers(0, len(TEXT_AMOUNTS), bad_text.size)])
    amount_text = _replace(amount_text, bad_negative, text.money(-o["amount"].to_numpy()[bad_negative]).to_numpy(zero_copy_only=False))
    payment = o["payment"].to_numpy()
    receipt_ids = text.ids("R", receipt_no, 10)
    table = pa.table(
        {
            "receipt_id": receipt_ids,
            "phone": text.phones(number, style),
            "store_city": text.labels(city, CITY_NAMES),
            "amount": amount_text,
            "category": text.labels(o["category"].to_numpy(), CATEGORIES),
            "paid_at": time_text,
            "payment_method": text.labels(payment, POS_PAYMENTS),
        }
    )
    clean = np.ones(m, dtype=bool)
    clean[bad] = False
    dup = np.flatnonzero(clean & (rng.random(m) < 0.003))
    position = np.concatenate([np.arange(m, dtype=float), _spread_copies(rng, dup, 30.0)])
    table = pa.concat_tables([table, table.take(pa.array(dup))])
    table = table.take(pa.array(np.argsort(position, kind="stable")))
    _write_csv(table, path, bom=True)
    walk_in_rows = np.concatenate([walk_in, walk_in[dup]])
    defects.add(file, "exact_duplicate_rows", dup.size, "a receipt exported twice, identical")
    defects.add(file, "walk_in_phone_receipts", walk_in_rows.sum(),
                "receipts carrying a store's shared walk-in number (rows incl. duplicates; many different people)")
    defects.add(file, "walk_in_phone_persons", np.unique(person[walk_in]).size,
                "distinct true persons behind walk-in-number receipts")
    defects.add(file, "bad_dates", bad_date.size, "paid_at that is not a valid date-time")
    defects.add(file, "text_in_amount", bad_text.size, "amount that is not a number")
    defects.add(file, "negative_amounts", bad_negative.size, "negative amount (the POS export has no refunds)")
    defects.count_phone_styles(file, np.concatenate([style, style[dup]]), walk_in_rows)
    defects.count_missing(file, table)
    records = pd.DataFrame({"source": "pos", "source_id": receipt_ids.to_numpy(zero_copy_only=False), "person": person})
    return records, table.num_rows


def write_app_users(path: Path, persons: pd.DataFrame, contacts: Contacts, profiles: Profiles, timeline: Timeline,
                    rng: np.random.Generator, profile_rng: np.random.Generator, defects: Defects) -> pd.DataFrame:
    """app_users.csv; returns source records.

    ``profile_rng`` draws the profile columns only, each filled in by part of the users:
    ``real_name`` (50%; hanzi, 6% of those pinyin surname first, 4% given name first),
    ``birthday`` (65%, ``YYYY-MM-DD``, the true birth date; day and month swapped in 3% of
    the dates where that changes them), ``gender`` (85%, 男/女), ``city`` (80%).
    """
    file = path.name
    users = np.flatnonzero(contacts.app_user_no >= 0)
    users = users[np.argsort(persons["app_reg"].to_numpy()[users], kind="stable")]
    m = users.size
    new_app = persons["persona"].to_numpy()[users] == "new_app_user"
    phone_style = _phone_style(rng, contacts.phone[users], 0.0)
    phone_style = np.where(rng.random(m) < np.where(new_app, 0.45, 0.10), -1, phone_style)
    email_style = np.where(rng.random(m) < 0.55, -1, np.where(rng.random(m) < 0.7, 0, rng.integers(1, 5, m)))
    email = text.messy_emails(contacts.email.take(pa.array(users)), email_style)
    ids = app_user_ids(contacts).take(pa.array(users))
    named = profile_rng.random(m) < 0.5
    u = profile_rng.random(m)
    name_form = np.where(named, np.select([u < 0.06, u < 0.10], [1, 2], 0), -1)
    has_birthday = profile_rng.random(m) < 0.65
    swapped, can_swap = text.swap_day_month(profiles.birth[users])
    swap = has_birthday & can_swap & (profile_rng.random(m) < 0.03)
    birthday = np.where(swap, swapped, profiles.birth[users].astype("datetime64[D]"))
    has_gender = profile_rng.random(m) < 0.85
    has_city = profile_rng.random(m) < 0.80
    table = pa.table(
        {
            "app_user_id": ids,
            "phone": text.phones(contacts.phone[users], phone_style),
            "email": email,
            "registered_at": text.timestamps(timeline.to_timestamps(persons["app_reg"].to_numpy()[users]), "%Y-%m-%dT%H:%M:%S"),
            "real_name": profiles.name_forms(users, name_form),
            "birthday": pc.if_else(pa.array(has_birthday), text.timestamps(birthday, "%Y-%m-%d"), pa.nulls(m, pa.string())),
            "gender": pa.array(np.where(profiles.female[users], "女", "男"), mask=~has_gender),
            "city": pa.array(profiles.city[users].astype(str), mask=~has_city),
        }
    )
    _write_csv(table, path)
    defects.count_phone_styles(file, np.where(contacts.phone[users] > 0, phone_style, -1))
    defects.count_missing(file, table)
    defects.add(file, "messy_emails", _messy(table["email"]), "e-mails in upper/capitalised case or padded with spaces")
    defects.add(file, "real_name_pinyin", np.isin(name_form, (1, 2)).sum(), "real_name in pinyin, Zhang Wei or Wei Zhang")
    defects.add(file, "birthday_day_month_swapped", swap.sum(),
                "birthday with day and month swapped (1990-03-05 for 1990-05-03)")
    return pd.DataFrame({"source": "app", "source_id": ids.to_numpy(zero_copy_only=False), "person": users})


class EventWriter:
    """Writes app_events.parquet chunk by chunk (chunks hold disjoint sets of persons).

    Within a chunk rows are sorted by time; a few exact duplicate events are injected.
    Columns are dictionary-encoded for speed and written without the Arrow schema, so
    readers see plain text columns.
    """

    SCHEMA = pa.schema(
        [
            ("app_user_id", pa.dictionary(pa.int32(), pa.string())),
            ("event_time", pa.timestamp("us")),
            ("event_type", pa.dictionary(pa.int8(), pa.string())),
            ("category", pa.dictionary(pa.int8(), pa.string())),
        ]
    )

    def __init__(self, path: Path, contacts: Contacts, timeline: Timeline, rng: np.random.Generator) -> None:
        self.path, self.contacts, self.timeline, self.rng = path, contacts, timeline, rng
        self.ids = app_user_ids(contacts)
        self.writer = pq.ParquetWriter(path, self.SCHEMA, compression="zstd", store_schema=False)
        self.rows = 0
        self.duplicates = 0

    def write(self, events: pd.DataFrame) -> None:
        """Append one chunk of events (``person``, ``t``, ``event``, ``category`` codes)."""
        person = events["person"].to_numpy().astype(np.int64)
        t = events["t"].to_numpy()
        kind = events["event"].to_numpy().astype(np.int64)
        category = events["category"].to_numpy().astype(np.int64)
        # one int64 key (second, person, type, category) sorts by time and finds identical events
        seconds = np.floor(t * 86400.0).astype(np.int64)
        key = (seconds << 30) | (person << 7) | (kind << 4) | (category + 1)
        order = np.argsort(key, kind="stable")
        distinct = np.concatenate([[True], key[order][1:] != key[order][:-1]])
        rows = order[distinct]  # the rare natural twins (same second) are merged
        copies = 1 + (self.rng.random(rows.size) < 0.001)
        self.duplicates += int((copies > 1).sum())
        rows = np.repeat(rows, copies)
        users, slot = np.unique(person[rows], return_inverse=True)
        category = category[rows]
        table = pa.table(
            {
                "app_user_id": pa.DictionaryArray.from_arrays(
                    pa.array(slot.astype(np.int32)), self.ids.take(pa.array(users))
                ),
                "event_time": pa.array(self.timeline.to_timestamps(t[rows]).astype("datetime64[us]")),
                "event_type": pa.DictionaryArray.from_arrays(pa.array(kind[rows].astype(np.int8)), pa.array(EVENT_TYPES)),
                "category": pa.DictionaryArray.from_arrays(
                    pa.array(category.astype(np.int8), mask=category < 0), pa.array(CATEGORIES)
                ),
            },
            schema=self.SCHEMA,
        )
        self.writer.write_table(table)
        self.rows += table.num_rows

    def close(self, defects: Defects) -> int:
        """Finish the file, record the injected duplicates; returns the rows written."""
        self.writer.close()
        defects.add(self.path.name, "exact_duplicate_rows", self.duplicates, "an event logged twice, identical")
        return self.rows


def write_surveys(path: Path, answers: pd.DataFrame, contacts: Contacts, timeline: Timeline,
                  rng: np.random.Generator, defects: Defects) -> pd.DataFrame:
    """surveys.csv; returns source records."""
    file = path.name
    a = answers.sort_values("t", kind="stable")
    m = len(a)
    person = a["person"].to_numpy()
    t = a["t"].to_numpy()
    member = (contacts.member_no[person] >= 0) & (contacts.member_reg[person] <= t)
    with_member = member & (rng.random(m) < 0.85)
    phone_share = np.where(with_member, 0.5, 0.85)
    phone_style = _phone_style(rng, contacts.phone[person], 0.0)
    phone_style = np.where(rng.random(m) < phone_share, phone_style, -1)
    ids = text.ids("Q", 10_000_000 + np.arange(m) * 3 + rng.integers(0, 3, m), 8)
    mids = member_ids(contacts).take(pa.array(person))
    nps = a["nps"].to_numpy().astype(np.int64)
    csat = a["csat"].to_numpy().astype(np.int64)
    table = pa.table(
        {
            "response_id": ids,
            "member_id": pc.if_else(pa.array(with_member), mids, pa.nulls(m, pa.string())),
            "phone": text.phones(contacts.phone[person], phone_style),
            "submitted_at": text.timestamps(timeline.to_timestamps(t), "%Y-%m-%d %H:%M"),
            "nps": pa.array(nps, mask=rng.random(m) < 0.04),
            "csat": pa.array(csat, mask=rng.random(m) < 0.08),
        }
    )
    _write_csv(table, path)
    defects.count_phone_styles(file, np.where(contacts.phone[person] > 0, phone_style, -1))
    defects.count_missing(file, table)
    anonymous = ~with_member & (phone_style < 0)
    defects.add(file, "unidentified_responses", anonymous.sum(), "responses with neither member id nor phone")
    return pd.DataFrame({"source": "survey", "source_id": ids.to_numpy(zero_copy_only=False), "person": person})


def write_assignments(path: Path, units: pd.DataFrame, timeline: Timeline, unit_type: dict[str, str],
                      defects: Defects) -> int:
    """assignments.csv: the logged assignment rows of every experiment."""
    logged = units[units["logged"]].sort_values(["assigned", "experiment_id"], kind="stable")
    table = pa.table(
        {
            "experiment_id": pa.array(logged["experiment_id"].to_numpy().astype(str)),
            "unit_type": pa.array(logged["experiment_id"].map(unit_type).to_numpy().astype(str)),
            "unit_id": pa.array(logged["unit_id"].to_numpy().astype(str)),
            "variant": pa.array(logged["variant"].to_numpy().astype(str)),
            "assigned_at": text.timestamps(timeline.to_timestamps(logged["assigned"].to_numpy()), "%Y-%m-%d %H:%M:%S"),
        }
    )
    _write_csv(table, path)
    for exp_id, g in units.groupby("experiment_id", sort=True):
        dropped = int((~g["logged"]).sum())
        if dropped:
            defects.add(path.name, "srm_dropped_assignments", dropped,
                        f"{exp_id}: assignments lost by a logging bug (all in variant_b)")
    return table.num_rows


def _messy(emails: pa.ChunkedArray) -> int:
    """Rows whose e-mail differs from its trimmed lower-case form."""
    clean = pc.utf8_lower(pc.utf8_trim_whitespace(emails))
    return int(pc.sum(pc.not_equal(emails, clean)).as_py() or 0)


def _replace(values: pa.Array, rows: np.ndarray, new: np.ndarray) -> pa.Array:
    """A copy of string array ``values`` with ``rows`` replaced by ``new``."""
    order = np.argsort(rows)
    mask = np.zeros(len(values), dtype=bool)
    mask[rows] = True
    return pc.replace_with_mask(values, pa.array(mask), pa.array(np.asarray(new, dtype=object)[order], pa.string()))
