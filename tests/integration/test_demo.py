"""The demo world's raw files: contract headers, encodings, determinism and measured mess."""

from __future__ import annotations

import hashlib
import json

import pandas as pd
import pyarrow.parquet as pq
import pytest
import yaml

from kit.core.dates import snapshot_end
from kit.demo import generate

CUSTOMERS = 3000
HEADERS = {
    "crm_members.csv": ["会员编号", "姓名", "手机号", "邮箱", "性别", "出生日期", "城市", "注册日期", "注册渠道"],
    "shop_orders.csv": ["order_id", "shop_user_id", "phone", "order_time", "platform", "amount", "discount",
                        "category", "items", "payment_method", "status", "receiver_name", "receiver_address", "receiver_city"],
    "pos_orders.csv": ["receipt_id", "phone", "store_city", "amount", "category", "paid_at", "payment_method"],
    "app_users.csv": ["app_user_id", "phone", "email", "registered_at", "real_name", "birthday", "gender", "city"],
    "surveys.csv": ["response_id", "member_id", "phone", "submitted_at", "nps", "csat"],
    "assignments.csv": ["experiment_id", "unit_type", "unit_id", "variant", "assigned_at"],
}
ENCODING = {"crm_members.csv": "gb18030", "pos_orders.csv": "utf-8-sig"}
PHONE_STYLES = {
    "plain": r"1\d{10}",
    "spaced": r"1\d{2} \d{4} \d{4}",
    "plus86_dashed": r"\+86 1\d{2}-\d{4}-\d{4}",
    "0086_plain": r"0086 1\d{10}",
    "plus86_compact": r"\+86-1\d{10}",
}
PHONE_COLUMN = {"crm_members.csv": "手机号", "shop_orders.csv": "phone", "pos_orders.csv": "phone",
                "app_users.csv": "phone", "surveys.csv": "phone"}
TRUTH = ("persons.parquet", "source_records.parquet", "fuzzy_duplicates.parquet", "churn.parquet", "experiments.parquet",
         "experiment_units.parquet", "defects.json", "config.json")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    summary = generate(out, customers=CUSTOMERS, seed=11)
    return out, summary


def read(out, name: str) -> pd.DataFrame:
    """A raw CSV as text, blanks kept as empty strings."""
    return pd.read_csv(out / name, dtype=str, keep_default_na=False, encoding=ENCODING.get(name, "utf-8"))


def defect(out, file: str, name: str) -> int:
    items = json.loads((out / "_truth" / "defects.json").read_text(encoding="utf-8"))["defects"]
    found = [d["count"] for d in items if d["file"] == file and d["defect"] == name]
    assert len(found) == 1, f"{file}/{name} listed {len(found)} times"
    return found[0]


def test_every_file_with_contract_headers_and_counts(world):
    out, summary = world
    for name, header in HEADERS.items():
        frame = read(out, name)
        assert list(frame.columns) == header, name
        assert len(frame) == summary[name] > 0, name
    events = pq.read_table(out / "app_events.parquet")
    assert events.column_names == ["app_user_id", "event_time", "event_type", "category"]
    assert events.num_rows == summary["app_events.parquet"] > 0
    for name in TRUTH:
        assert (out / "_truth" / name).is_file(), name


def test_encodings(world):
    out, _ = world
    crm = (out / "crm_members.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        crm.decode("utf-8")
    assert crm.decode("gb18030").startswith("会员编号,姓名")
    pos = (out / "pos_orders.csv").read_bytes()
    assert pos.startswith(b"\xef\xbb\xbf")
    shop = (out / "shop_orders.csv").read_bytes()
    assert not shop.startswith(b"\xef\xbb\xbf")
    shop.decode("utf-8")


def test_same_seed_same_bytes_other_seed_differs(tmp_path):
    def digest(folder):
        return {
            p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()
        }

    generate(tmp_path / "a", customers=1000, seed=5)
    generate(tmp_path / "b", customers=1000, seed=5)
    generate(tmp_path / "c", customers=1000, seed=6)
    a, b, c = digest(tmp_path / "a"), digest(tmp_path / "b"), digest(tmp_path / "c")
    assert a == b
    assert a["shop_orders.csv"] != c["shop_orders.csv"]


def test_formats(world):
    out, _ = world
    crm = read(out, "crm_members.csv")
    assert crm["会员编号"].str.fullmatch(r"M\d{8}").all()
    dates = crm["注册日期"]
    assert dates.str.fullmatch(r"\d{4}-\d{2}-\d{2}").any()
    assert dates.str.fullmatch(r"\d{4}/\d{1,2}/\d{1,2}").any()
    assert dates.str.fullmatch(r"\d{4}年\d{1,2}月\d{1,2}日").any()
    assert set(crm["性别"]) <= {"男", "女", ""}
    assert set(crm["注册渠道"]) <= {"门店", "线上商城", "APP", "小程序"}
    emails = crm["邮箱"][crm["邮箱"] != ""]
    assert (emails != emails.str.strip().str.lower()).any() and (emails == emails.str.lower()).any()
    shop = read(out, "shop_orders.csv")
    assert shop["order_id"].str.fullmatch(r"S\d+").all() and shop["shop_user_id"].str.fullmatch(r"U\d+").all()
    assert set(shop["status"]) == {"paid", "refunded"}
    assert set(shop["platform"]) <= {"web", "app", "mini_program"}
    assert set(shop["payment_method"]) <= {"alipay", "wechat_pay", "card", "cod"}
    pos = read(out, "pos_orders.csv")
    assert pos["receipt_id"].str.fullmatch(r"R\d+").all()
    parsed = pd.to_datetime(pos["paid_at"], format="%d/%m/%Y %H:%M", errors="coerce")
    assert parsed.notna().mean() > 0.99
    app = read(out, "app_users.csv")
    assert pd.to_datetime(app["registered_at"], format="%Y-%m-%dT%H:%M:%S").notna().all()
    events = pd.read_parquet(out / "app_events.parquet")
    assert set(events["event_type"]) == {"visit", "view", "search", "add_to_cart", "coupon_claim"}
    assert events.loc[events["event_type"].isin(["visit", "search"]), "category"].isna().all()
    assert events.loc[events["event_type"].isin(["view", "add_to_cart"]), "category"].notna().all()
    surveys = read(out, "surveys.csv")
    nps = pd.to_numeric(surveys["nps"], errors="coerce").dropna()
    csat = pd.to_numeric(surveys["csat"], errors="coerce").dropna()
    assert nps.between(0, 10).all() and csat.between(1, 5).all()


def test_nothing_after_the_end_month(world):
    out, _ = world
    end = snapshot_end("2026-10")
    shop = read(out, "shop_orders.csv")
    assert pd.to_datetime(shop["order_time"], format="%Y-%m-%d %H:%M:%S", errors="coerce").max() < end
    pos = read(out, "pos_orders.csv")
    assert pd.to_datetime(pos["paid_at"], format="%d/%m/%Y %H:%M", errors="coerce").max() < end
    assert pd.read_parquet(out / "app_events.parquet")["event_time"].max() < end
    assert pd.to_datetime(read(out, "surveys.csv")["submitted_at"]).max() < end


def test_shop_defect_counts_match_the_file(world):
    out, _ = world
    file = "shop_orders.csv"
    shop = read(out, file)
    assert shop.duplicated().sum() == defect(out, file, "exact_duplicate_rows") > 0
    unique = shop.drop_duplicates()
    resent = unique[unique["order_id"].duplicated(keep=False)]
    assert len(resent) == 2 * defect(out, file, "resent_orders") > 0
    first, last = resent.groupby("order_id", sort=False)["status"].first(), resent.groupby("order_id")["status"].last()
    assert (first == "paid").all() and (last.loc[first.index] == "refunded").all()
    final = unique.drop_duplicates("order_id", keep="last")
    assert (final["status"] == "refunded").sum() == defect(out, file, "refunded_orders")
    times = pd.to_datetime(shop["order_time"], format="%Y-%m-%d %H:%M:%S", errors="coerce")
    assert times.isna().sum() == defect(out, file, "bad_dates") > 0
    amount = pd.to_numeric(shop["amount"], errors="coerce")
    assert amount.isna().sum() == defect(out, file, "text_in_amount") > 0
    negative = (amount < 0).sum()
    assert negative == defect(out, file, "negative_amounts") > 0
    assert shop.loc[amount < 0, "status"].eq("paid").all()


def test_pos_defect_counts_match_the_file(world):
    out, _ = world
    file = "pos_orders.csv"
    pos = read(out, file)
    assert pos.duplicated().sum() == defect(out, file, "exact_duplicate_rows") > 0
    assert pos.drop_duplicates()["receipt_id"].is_unique
    times = pd.to_datetime(pos["paid_at"], format="%d/%m/%Y %H:%M", errors="coerce")
    assert times.isna().sum() == defect(out, file, "bad_dates") > 0
    amount = pd.to_numeric(pos["amount"], errors="coerce")
    assert amount.isna().sum() == defect(out, file, "text_in_amount") > 0
    assert (amount < 0).sum() == defect(out, file, "negative_amounts") > 0
    walk_in = json.loads((out / "_truth" / "defects.json").read_text(encoding="utf-8"))["walk_in_phones"]
    digits = pos["phone"].str.replace(r"\D", "", regex=True).str[-11:]
    on_walk_in = digits.isin(walk_in)
    assert on_walk_in.sum() == defect(out, file, "walk_in_phone_receipts") > 0
    # a walk-in number stands for many different people
    records = pd.read_parquet(out / "_truth" / "source_records.parquet")
    persons = pos.loc[on_walk_in, "receipt_id"].map(records[records["source"] == "pos"].set_index("source_id")["person_id"])
    assert persons.nunique() == defect(out, file, "walk_in_phone_persons") > 25


def test_other_defect_counts_match_the_files(world):
    out, _ = world
    crm = read(out, "crm_members.csv")
    assert crm.duplicated().sum() == defect(out, "crm_members.csv", "exact_duplicate_rows")
    records = pd.read_parquet(out / "_truth" / "source_records.parquet")
    fuzzy = pd.read_parquet(out / "_truth" / "fuzzy_duplicates.parquet")
    members = records[(records["source"] == "crm") & ~records["source_id"].isin(fuzzy["source_id"])]
    assert (members.groupby("person_id").size() == 2).sum() == defect(out, "crm_members.csv", "second_member_id") > 0
    assert crm.drop_duplicates()["会员编号"].is_unique
    messy = crm["邮箱"].ne(crm["邮箱"].str.strip().str.lower())
    assert messy.sum() == defect(out, "crm_members.csv", "messy_emails") > 0
    events = pd.read_parquet(out / "app_events.parquet")
    assert events.duplicated().sum() == defect(out, "app_events.parquet", "exact_duplicate_rows") > 0
    assign = read(out, "assignments.csv")
    units = pd.read_parquet(out / "_truth" / "experiment_units.parquet")
    dropped = (~units["logged"]).sum()
    assert dropped == defect(out, "assignments.csv", "srm_dropped_assignments") > 0
    assert len(assign) == units["logged"].sum()


def test_missing_values_and_phone_styles_are_counted(world):
    out, _ = world
    truth = json.loads((out / "_truth" / "defects.json").read_text(encoding="utf-8"))
    walk_in = set(truth["walk_in_phones"])
    for file, column in PHONE_COLUMN.items():
        frame = read(out, file)
        assert {c: int((frame[c] == "").sum()) for c in frame.columns} == truth["missing"][file], file
        phone = frame[column]
        walk = phone.str.replace(r"\D", "", regex=True).str[-11:].isin(walk_in)
        counts = {style: int((phone.str.fullmatch(rx) & ~walk).sum()) for style, rx in PHONE_STYLES.items()}
        counts["blank"] = int((phone == "").sum())
        if walk.any():
            counts["walk_in"] = int(walk.sum())
        assert counts == truth["phone_formats"][file], file
        written = sum(v for k, v in counts.items() if k != "blank")
        assert written + counts["blank"] == len(frame), f"{file}: a phone in an unknown style"
        assert sum(counts[s] > 0 for s in PHONE_STYLES) >= 4, file


def test_source_records_cover_every_raw_id(world):
    out, _ = world
    records = pd.read_parquet(out / "_truth" / "source_records.parquet")
    persons = pd.read_parquet(out / "_truth" / "persons.parquet")
    assert records["person_id"].isin(persons["person_id"]).all()
    assert not records.duplicated(["source", "source_id"]).any()
    ids = {
        "crm": read(out, "crm_members.csv")["会员编号"],
        "shop": read(out, "shop_orders.csv")["shop_user_id"],
        "pos": read(out, "pos_orders.csv")["receipt_id"],
        "app": read(out, "app_users.csv")["app_user_id"],
        "survey": read(out, "surveys.csv")["response_id"],
    }
    for source, values in ids.items():
        assert set(values) == set(records.loc[records["source"] == source, "source_id"]), source
    events = pd.read_parquet(out / "app_events.parquet")
    assert set(events["app_user_id"]) <= set(ids["app"])
    members = set(ids["crm"])
    surveys = read(out, "surveys.csv")
    assert set(surveys["member_id"][surveys["member_id"] != ""]) <= members
    assign = read(out, "assignments.csv")
    coupon = assign[assign["experiment_id"] == "retention_coupon"]
    assert set(coupon["unit_id"]) <= members and set(coupon["unit_type"]) == {"member"}
    # some people are in one source only, some in all of them
    per_person = records.groupby("person_id")["source"].nunique()
    assert (per_person == 1).any() and (per_person >= 4).any()


def _identifiers(out) -> pd.DataFrame:
    """Every (source record, identifier) of the identity files as ingest normalises it:
    phones to 11 digits (kit.ingest.normalize), e-mails trimmed and lower-cased, member ids."""
    records = pd.read_parquet(out / "_truth" / "source_records.parquet")
    person = records.set_index(["source", "source_id"])["person_id"]
    frames = []
    for file, source, id_col, phone, email, member in (
        ("crm_members.csv", "crm", "会员编号", "手机号", "邮箱", "会员编号"),
        ("shop_orders.csv", "shop", "shop_user_id", "phone", None, None),
        ("pos_orders.csv", "pos", "receipt_id", "phone", None, None),
        ("app_users.csv", "app", "app_user_id", "phone", "email", None),
        ("surveys.csv", "survey", "response_id", "phone", None, "member_id"),
    ):
        raw = read(out, file)
        ids = raw[id_col]
        pid = pd.Series(person.loc[source].reindex(ids).to_numpy(), index=raw.index)
        values = {"phone": raw[phone].str.replace(r"\D", "", regex=True).str[-11:]}
        if email:
            values["email"] = raw[email].str.strip().str.lower()
        if member:
            values["member"] = raw[member]
        for kind, value in values.items():
            frames.append(pd.DataFrame({"source": source, "source_id": ids, "person_id": pid, "kind": kind,
                                        "value": value}))
    found = pd.concat(frames, ignore_index=True)
    return found[found["value"] != ""].drop_duplicates()


def test_fuzzy_duplicates_share_no_exact_identifier(world):
    out, _ = world
    fuzzy = pd.read_parquet(out / "_truth" / "fuzzy_duplicates.parquet")
    assert list(fuzzy.columns) == ["source", "source_id", "person_id", "variations"]
    assert len(fuzzy) == defect(out, "crm_members.csv", "fuzzy_duplicate_members") > 0
    assert set(fuzzy["source"]) == {"crm"} and fuzzy["source_id"].is_unique
    records = pd.read_parquet(out / "_truth" / "source_records.parquet")
    truth = records[records["source"] == "crm"].set_index("source_id")["person_id"]
    assert (fuzzy["person_id"].to_numpy() == truth.loc[fuzzy["source_id"]].to_numpy()).all()
    # every fuzzy duplicate has an earlier record of the same person in the CRM
    crm = read(out, "crm_members.csv")
    assert crm["会员编号"].isin(fuzzy["source_id"]).sum() == len(fuzzy)
    others = records[(records["source"] == "crm") & ~records["source_id"].isin(fuzzy["source_id"])]
    assert fuzzy["person_id"].isin(others["person_id"]).all()
    # no normalised phone, e-mail or member id in common with any other record of the person
    ids = _identifiers(out)
    is_fuzzy = (ids["source"] == "crm") & ids["source_id"].isin(fuzzy["source_id"])
    mine = ids[is_fuzzy]
    rest = ids[~is_fuzzy]
    shared = mine.merge(rest, on=["kind", "value"])
    assert shared.empty, shared.head()
    assert (mine["kind"] == "phone").any() and (mine["kind"] == "email").any()
    # an old phone is nobody's number; an e-mail variant is nobody else's e-mail
    assert mine["value"].is_unique
    # the variations name what was changed, and every kind occurs
    allowed = {"old_phone", "no_phone", "email_variant", "no_email", "pinyin_name", "name_typo", "name_swap",
               "date_swapped", "no_birth_date"}
    flags = fuzzy["variations"].str.split(",").explode()
    assert set(flags[flags != ""]) <= allowed
    rows = crm.drop_duplicates().set_index("会员编号").loc[fuzzy["source_id"]]
    old_phone = fuzzy["variations"].str.contains("old_phone").to_numpy()
    assert (rows["手机号"].to_numpy()[old_phone] != "").all() and (rows["手机号"].to_numpy()[~old_phone] == "").all()
    variant = fuzzy["variations"].str.contains("email_variant").to_numpy()
    assert rows["邮箱"].to_numpy()[variant].tolist() and (rows["邮箱"].to_numpy()[~variant] == "").all()
    pinyin = fuzzy["variations"].str.contains("pinyin_name").to_numpy()
    assert rows["姓名"].str.fullmatch(r"[A-Z][a-z]+ [A-Z][a-z]+").to_numpy()[pinyin].all()


def test_fuzzy_duplicates_at_a_larger_world(tmp_path):
    """About FUZZY_SHARE of the members; every variation occurs."""
    generate(tmp_path, customers=20000, seed=3)
    fuzzy = pd.read_parquet(tmp_path / "_truth" / "fuzzy_duplicates.parquet")
    records = pd.read_parquet(tmp_path / "_truth" / "source_records.parquet")
    members = records.loc[(records["source"] == "crm") & ~records["source_id"].isin(fuzzy["source_id"]), "person_id"]
    share = fuzzy["person_id"].nunique() / members.nunique()
    assert 0.03 < share < 0.05
    counts = fuzzy["variations"].str.split(",").explode().value_counts()
    for flag in ("old_phone", "no_phone", "email_variant", "no_email", "pinyin_name", "name_typo", "name_swap",
                 "date_swapped", "no_birth_date"):
        assert counts.get(flag, 0) > 0, flag


def _crm_birth_dates(values: pd.Series) -> pd.Series:
    """The CRM's three date styles (1990-05-03, 1990/5/3, 1990年5月3日) as timestamps."""
    iso = values.str.replace(r"[年月/]", "-", regex=True).str.rstrip("日")
    return pd.to_datetime(iso, format="%Y-%m-%d", errors="coerce")


def test_personal_attributes_are_the_persons(world):
    """CRM rows, app profiles and shop receivers carry the person's true birth date, gender,
    city and one home address; the counted mistakes are the only departures."""
    out, _ = world
    records = pd.read_parquet(out / "_truth" / "source_records.parquet")
    fuzzy = pd.read_parquet(out / "_truth" / "fuzzy_duplicates.parquet")
    person = {s: g.set_index("source_id")["person_id"] for s, g in records.groupby("source")}
    persons = pd.read_parquet(out / "_truth" / "persons.parquet").set_index("person_id")
    sex = {"female": "女", "male": "男"}

    crm = read(out, "crm_members.csv").assign(person_id=lambda f: f["会员编号"].map(person["crm"]))
    born = _crm_birth_dates(crm["出生日期"])
    true_birth = persons.loc[crm["person_id"], "birth_date"].to_numpy()
    plain = ~crm["会员编号"].isin(fuzzy["source_id"]).to_numpy()
    assert (born.to_numpy() == true_birth)[plain & born.notna().to_numpy()].all()
    swapped = fuzzy.set_index("source_id").loc[crm["会员编号"][~plain], "variations"].str.contains("date_swapped")
    fuzzy_differs = (born.to_numpy() != true_birth)[~plain] & born.notna().to_numpy()[~plain]
    assert (fuzzy_differs == swapped.to_numpy()).all()
    given = crm["性别"] != ""
    assert (crm["性别"] == persons.loc[crm["person_id"], "gender"].map(sex).to_numpy())[given].all()

    app = read(out, "app_users.csv").assign(person_id=lambda f: f["app_user_id"].map(person["app"]))
    assert 0.4 < (app["real_name"] != "").mean() < 0.6 and 0.55 < (app["birthday"] != "").mean() < 0.75
    assert 0.8 < (app["gender"] != "").mean() < 0.9 and 0.75 < (app["city"] != "").mean() < 0.85
    assert set(app["gender"]) == {"男", "女", ""}
    assert (app["city"] == persons.loc[app["person_id"], "city"].to_numpy())[app["city"] != ""].all()
    given = app["gender"] != ""
    assert (app["gender"] == persons.loc[app["person_id"], "gender"].map(sex).to_numpy())[given].all()
    pinyin = app["real_name"].str.fullmatch(r"[A-Z][a-z]+ [A-Z][a-z]+")
    assert pinyin.sum() == defect(out, "app_users.csv", "real_name_pinyin") > 0

    shop = read(out, "shop_orders.csv").assign(person_id=lambda f: f["shop_user_id"].map(person["shop"]))
    assert shop["receiver_name"].str.fullmatch(r"[A-Z][a-z]+ [A-Z][a-z]+").sum() == defect(
        out, "shop_orders.csv", "receiver_name_pinyin") > 0
    assert defect(out, "shop_orders.csv", "receiver_name_typos") > 0
    assert 0.03 < (shop["receiver_name"] == "").mean() < 0.07 and 0.03 < (shop["receiver_address"] == "").mean() < 0.07
    address = shop[shop["receiver_address"] != ""]
    assert address["receiver_address"].str.fullmatch(r"\w+市\w+(区|街道|镇)\w+路\d+号").all()
    assert (address.groupby("person_id")["receiver_address"].nunique() == 1).all()  # one home per person
    city = persons.loc[address["person_id"], "city"].to_numpy()
    assert all(a.startswith(c + "市") for a, c in zip(address["receiver_address"], city))


def test_app_birthdays_swapped_count_matches_the_truth(world):
    out, _ = world
    records = pd.read_parquet(out / "_truth" / "source_records.parquet")
    app = read(out, "app_users.csv")
    app = app.assign(person_id=app["app_user_id"].map(records[records["source"] == "app"].set_index("source_id")["person_id"]))
    persons = pd.read_parquet(out / "_truth" / "persons.parquet").set_index("person_id")
    known = app[app["birthday"] != ""]
    written = pd.to_datetime(known["birthday"], format="%Y-%m-%d")
    true = pd.DatetimeIndex(persons.loc[known["person_id"], "birth_date"])
    differs = written.to_numpy() != true.to_numpy()
    assert differs.sum() == defect(out, "app_users.csv", "birthday_day_month_swapped") > 0
    # every difference is the true date with day and month swapped
    assert ((written.dt.month.to_numpy() == true.day) & (written.dt.day.to_numpy() == true.month))[differs].all()
    assert (written.dt.year.to_numpy() == true.year).all()


def test_experiments_yaml(world):
    out, _ = world
    catalog = yaml.safe_load((out / "experiments.yml").read_text(encoding="utf-8"))["experiments"]
    assert [e["id"] for e in catalog] == ["retention_coupon", "app_homepage"]
    keys = {"id", "name", "hypothesis", "control", "variants", "unit_type", "start", "end", "primary_metric",
            "secondary_metrics", "guardrail_metrics", "segments", "exposure_days"}
    for e in catalog:
        assert set(e) == keys
        assert abs(sum(e["variants"].values()) - 1.0) < 1e-9 and e["control"] in e["variants"]
    coupon = catalog[0]
    assert (coupon["start"], coupon["end"], coupon["unit_type"]) == ("2026-09-01", "2026-10-31", "member")
    assign = read(out, "assignments.csv")
    at = pd.to_datetime(assign["assigned_at"], format="%Y-%m-%d %H:%M:%S")
    c = at[assign["experiment_id"] == "retention_coupon"]
    assert c.min() >= pd.Timestamp("2026-09-01") and c.max() < pd.Timestamp("2026-09-08")


@pytest.mark.parametrize(
    "kwargs", [{"customers": 10}, {"months": 6}, {"end_month": "2026-13"}]
)
def test_bad_arguments_are_refused(tmp_path, kwargs):
    with pytest.raises(ValueError):
        generate(tmp_path, **kwargs)
