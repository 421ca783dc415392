"""Company shapes (issue 17): a whole month on the data each kind of company actually has.

Every shape of kit.demo.shapes (the retail world's ``SHAPES`` and the subscription world of
``OWN_WORLDS``) is written into its own project and run with ``kit run
--month SHAPE_MONTH --config <project>/kit.yml`` by one background process (the session's
``shape_builder``: tests/worlds.py, section 4) while the other tests run. Then, per shape:
- every page is published with no traceback, no exception name, no ``nan`` / ``None`` and
  no empty table;
- the figures a reader can recompute from the shape's raw files with pandas alone (orders,
  revenue, customers, buyers, the lifecycle counts of kit.core.vocabulary, customers linked
  across sources, experiments read out) equal those of ``reports/<month>/metrics.json``;
- every input the shape lacks, and only those, is named plainly on the pages;
- the shape's own point holds: no night owls from date-only times, the undecodable CRM
  line quarantined with its line number, features from the app's own event names, no
  Chinese shopping festivals in a US store's story, and a subscription business scoring
  exactly its active subscribers (contractual churn, MRR at risk).

The pandas side reads each source as its config declares it (path, encoding, header
mapping, date formats, time zone) and links people by the one key every record of the
shape carries (``LINK``): by construction of the shapes each key value is one person.
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from bs4 import BeautifulSoup
from worlds import SHAPE_MONTH

from kit.core.config import KitConfig
from kit.core.dates import shift_month, snapshot_end
from kit.core.vocabulary import Vocabulary
from kit.core.warehouse import Warehouse
from kit.demo.shapes import BAD_LINE_NAME, COMPLAINT, EVENT_VOCABULARY, OWN_WORLDS, SHAPES
from kit.text.i18n import t

pytestmark = pytest.mark.slow

# the key that names one person in every record of a shape (canonical column after `columns:`;
# the subscription world's accounts map their customer number to member_id)
LINK = {"orders_only": "customer_no", "member_store": "member_id", "app_events": "app_user_id", "us_store": "email",
        "subscription_app": "customer_no"}
LINK_ALIASES = {"customer_no": ("customer_no", "member_id")}
PERSON_KINDS = ("customers", "orders", "app_users", "subscriptions")  # sources whose records are people
TIMES = {"orders": "order_ts", "events": "event_ts"}
NO_VALUE = re.compile(r"(?<![A-Za-z])(nan|NaN|None|NaT|inf)(?![A-Za-z])")
EXCEPTION = re.compile(r"Traceback|[A-Z][A-Za-z]*(Error|Exception)\b")
FESTIVALS = re.compile(r"11\.11.{0,20}618|618.{0,20}11\.11|Double 11|双11|双十一")  # China's shopping days
ALL_SHAPES = [*SHAPES, *OWN_WORLDS]  # the retail world's shapes and the subscription world
assert set(LINK) == set(ALL_SHAPES)


@pytest.fixture(params=ALL_SHAPES)
def shape(request: pytest.FixtureRequest) -> str:
    return request.param


def month_dir(config: KitConfig) -> Path:
    return config.resolve(config.paths.reports) / SHAPE_MONTH


def page_text(html: str) -> str:
    """What a reader sees of a page: its text without styles, scripts and embedded data."""
    soup = BeautifulSoup(html, "html.parser")
    for tag in soup(["style", "script", "head"]):
        tag.decompose()
    return soup.get_text(" ")


def empty_tables(html: str) -> int:
    """Tables of a page without a single body row."""
    soup = BeautifulSoup(html, "html.parser")
    return sum(1 for table in soup.find_all("table") if not [row for row in table.find_all("tr") if row.find("td")])


# --------------------------------------------------------------------------- the raw files, read with pandas


def read_source(config: KitConfig, name: str) -> pd.DataFrame:
    """Source ``name`` as its config declares it, read with pandas only: lines that do not
    decode left out (the source quarantines them), exact duplicate rows dropped, headers
    renamed to canonical columns, the main time parsed into naive project-local time."""
    source = config.sources[name]
    if source.format == "parquet":  # typed columns: no decoding, times already timestamps
        return pd.read_parquet(config.resolve(source.path)).rename(columns=source.columns)
    encoding = "utf-8-sig" if source.encoding == "auto" else source.encoding
    lines = []
    for line in config.resolve(source.path).read_bytes().split(b"\n"):
        try:
            lines.append(line.decode(encoding))
        except UnicodeDecodeError:
            assert source.on_bad_encoding == "quarantine", f"{name}: an undecodable line the source does not quarantine"
    frame = pd.read_csv(io.StringIO("\n".join(lines)), dtype=str, keep_default_na=False)
    frame = frame.drop_duplicates().rename(columns=source.columns)
    column = TIMES.get(source.kind)
    if column:
        ts = pd.Series(pd.NaT, index=frame.index, dtype="datetime64[us]")
        for fmt in source.timestamp_formats:
            ts = ts.fillna(pd.to_datetime(frame[column], format=fmt, errors="coerce"))
        assert ts.notna().all(), f"{name}: {int(ts.isna().sum())} times that none of the source's formats reads"
        zone = source.timezone or config.project.timezone
        if zone != config.project.timezone:
            ts = ts.dt.tz_localize(zone).dt.tz_convert(config.project.timezone).dt.tz_localize(None)
        frame[column] = ts
    return frame


def person_keys(frame: pd.DataFrame, link: str) -> pd.Series:
    """The linking key of every row, as one person's key is written everywhere (in the
    first column of ``LINK_ALIASES`` the frame has)."""
    column = next(c for c in LINK_ALIASES.get(link, (link,)) if c in frame.columns)
    keys = frame[column].astype(str).str.strip()
    return keys.str.lower() if link == "email" else keys


def expected_figures(config: KitConfig, shape: str) -> dict[tuple[str, str], float]:
    """The figures of metrics.json recomputed from the raw files: (notebook, key) -> value."""
    link = LINK[shape]
    people: dict[str, set[str]] = {}
    orders = events = None
    for name, source in config.sources.items():
        if source.kind in PERSON_KINDS:
            frame = read_source(config, name)
            keys = person_keys(frame, link)
            assert (keys != "").all(), f"{name}: a record without {link}; the shape's premise is one key per record"
            people[name] = set(keys)
            if source.kind == "orders":
                refunded = frame["status"].eq("refunded") if "status" in frame else False
                orders = pd.DataFrame({"key": keys, "ts": frame["order_ts"], "amount": frame["amount"].astype(float),
                                       "refunded": refunded})
        elif source.kind == "events":
            events = read_source(config, name)
    customers = set().union(*people.values())
    sources_per_customer = pd.Series([k for keys in people.values() for k in keys]).value_counts()

    vocab = Vocabulary.from_config(config)
    end, start = snapshot_end(SHAPE_MONTH), snapshot_end(shift_month(SHAPE_MONTH, -1))
    day = pd.Timedelta(days=1)
    paid = orders[~orders["refunded"] & (orders["ts"] < end)]
    first, last = paid.groupby("key")["ts"].min(), paid.groupby("key")["ts"].max()
    in_month = paid[paid["ts"] >= start]
    active = int((last >= end - vocab.active_days * day).sum())
    lifecycle = {
        "customers": len(customers),
        "buyers": len(first),
        "active_customers": active,
        "new_customers": int((first >= end - vocab.new_days * day).sum()),
        "churned_customers": int((last < end - vocab.silent_days * day).sum()),
        "prospects": len(customers) - len(first),
    }
    last_before = paid[paid["ts"] < start].groupby("key")["ts"].max()
    month_buyers = set(in_month["key"])
    figures = {
        ("01_ingest", "customer_ids"): len(customers),
        ("01_ingest", "orders"): len(orders),
        ("01_ingest", "events"): 0 if events is None else len(events),
        ("01_ingest", "multi_source_customer_share"): float((sources_per_customer >= 2).sum() / len(customers)),
        **{(notebook, key): value for notebook in ("02_tags", "03_segmentation") for key, value in lifecycle.items()},
        ("07_overview", "kpis.active_customers"): active,
        ("07_overview", "kpis.revenue"): float(in_month["amount"].sum()),
        ("07_overview", "kpis.aov"): float(in_month["amount"].mean()),
        ("07_overview", "kpis.new_this_month"): int((first >= start).sum()),
        ("07_overview", "kpis.churned_this_month"): int(
            last.between(start - vocab.silent_days * day, end - vocab.silent_days * day, inclusive="left").sum()
        ),
        ("07_overview", "kpis.repeat_rate"): len(month_buyers & set(last_before.index)) / len(month_buyers),
        ("06_experiment_readout", "experiments"): len(started_experiments(config, end)),
    }
    return figures


def started_experiments(config: KitConfig, end: pd.Timestamp) -> list[dict]:
    """The catalogue's experiments started before ``end`` (none without a catalogue file)."""
    catalogue = config.resolve(config.experiments.catalog) if config.experiments.catalog else None
    entries = yaml.safe_load(catalogue.read_text(encoding="utf-8"))["experiments"] if catalogue and catalogue.is_file() else []
    return [e for e in entries if pd.Timestamp(e["start"]) < end]


def metric(metrics: dict, notebook: str, key: str) -> float:
    value = metrics[notebook]
    for part in key.split("."):
        value = value[part]
    return value


# --------------------------------------------------------------------------- every shape


def test_every_page_published_without_errors_or_empty_tables(shape_run: KitConfig, shape: str) -> None:
    folder = month_dir(shape_run)
    run = json.loads((folder / "run.json").read_text(encoding="utf-8"))
    assert [(n["name"], n["status"]) for n in run["notebooks"]] == [(n, "ok") for n in shape_run.run.notebooks]
    problems = []
    for name in shape_run.run.notebooks:
        html = (folder / f"{name}.html").read_text(encoding="utf-8")
        assert f'<html lang="{shape_run.run.lang}">' in html, (shape, name)
        text = page_text(html)
        problems += [f"{name}: {m.group(0)!r} in ...{text[max(m.start() - 60, 0):m.end() + 60]!r}..."
                     for pattern in (EXCEPTION, NO_VALUE) for m in pattern.finditer(text)]
        if empty_tables(html):
            problems.append(f"{name}: {empty_tables(html)} empty table(s)")
    assert not problems, f"{shape}:\n" + "\n".join(problems[:20])


def test_figures_match_the_raw_files(shape_run: KitConfig, shape: str) -> None:
    metrics = json.loads((month_dir(shape_run) / "metrics.json").read_text(encoding="utf-8"))
    differ = []
    for (notebook, key), want in expected_figures(shape_run, shape).items():
        got = metric(metrics, notebook, key)
        if got is None or not np.isclose(got, want, rtol=1e-9, atol=1e-9):
            differ.append(f"{notebook}:{key} published {got}, the raw files give {want}")
    assert not differ, f"{shape}:\n" + "\n".join(differ)


# what a shape may lack -> (source kind, canonical column) that provides it; "time": a time of day
NEEDS = {
    "events": ("events", None), "surveys": ("surveys", None), "orders.time": ("orders", "time"),
    "orders.discount": ("orders", "discount"), "orders.category": ("orders", "category"),
    "orders.payment_method": ("orders", "payment_method"), "customers.gender": ("customers", "gender"),
    "customers.birth_year": ("customers", "birth_date"),
}


def provides(config: KitConfig, kind: str, column: str | None) -> bool:
    """Whether a source of ``kind`` has ``column`` (canonical name, after ``columns:``), or
    times of day for ``time``; any such source when ``column`` is None."""
    for name, source in config.sources.items():
        if source.kind != kind:
            continue
        if column is None or (column == "time" and any("%H" in f for f in source.timestamp_formats)):
            return True
        header = pd.read_csv(config.resolve(source.path), nrows=0, encoding=source.encoding.replace("auto", "utf-8-sig"),
                             encoding_errors="replace").rename(columns=source.columns)
        if column in header.columns:
            return True
    return False


def test_each_missing_input_is_named_plainly_and_no_other(shape_run: KitConfig, shape: str) -> None:
    """An input the shape lacks is named on the pages ("No survey data: ... is not shown"),
    one it has never is."""
    pages = " ".join(page_text(p.read_text(encoding="utf-8")) for p in month_dir(shape_run).glob("0*.html"))
    wrong = []
    for need, (kind, column) in NEEDS.items():
        named = t(f"input.{need}", shape_run.run.lang) in pages
        if named == provides(shape_run, kind, column):
            wrong.append(f"{need}: {'named although present' if named else 'missing but never named'}")
    assert not wrong, f"{shape}: " + "; ".join(wrong)


# --------------------------------------------------------------------------- each shape's own point


@pytest.mark.parametrize("shape", ["orders_only"])
def test_date_only_orders_make_no_night_owls(shape_run: KitConfig, shape: str) -> None:
    # before: dates were stamped 00:00 and "Night owls: 31.5 % of customers, 94 % of spend"
    metrics = json.loads((month_dir(shape_run) / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["02_tags"].get("coverage_night_owl", 0) == 0
    assert "experiments" not in yaml.safe_load(shape_run.source_file.read_text(encoding="utf-8"))
    assert not list(shape_run.resolve(shape_run.paths.raw).glob("experiments*"))


@pytest.mark.parametrize("shape", ["member_store"])
def test_the_undecodable_crm_line_alone_is_quarantined(shape_run: KitConfig, shape: str) -> None:
    path = shape_run.resolve(shape_run.sources["members"].path)
    bad = [i for i, line in enumerate(path.read_bytes().split(b"\n"), start=1) if BAD_LINE_NAME in line]
    assert len(bad) == 1
    quarantine = pd.read_parquet(Warehouse.from_config(shape_run).root / "quarantine" / "members.parquet")
    undecodable = quarantine[quarantine["reason"] == "undecodable_bytes"]
    assert undecodable["line"].tolist() == bad


@pytest.mark.parametrize("shape", ["app_events"])
def test_features_come_from_the_apps_own_events(shape_run: KitConfig, shape: str) -> None:
    profile = Warehouse.from_config(shape_run).read_snapshot(SHAPE_MONTH, "profile")
    for event in [*EVENT_VOCABULARY.values(), COMPLAINT]:
        assert [c for c in profile.columns if event in c], f"no profile feature from the {event!r} events"


@pytest.mark.parametrize("shape", ["us_store"])
def test_a_us_store_story_has_no_chinese_shopping_festivals(shape_run: KitConfig, shape: str) -> None:
    pages = " ".join(page_text(p.read_text(encoding="utf-8")) for p in month_dir(shape_run).glob("0*.html"))
    assert not FESTIVALS.search(pages)


@pytest.mark.parametrize("shape", ["subscription_app"])
def test_a_subscription_business_scores_its_active_subscribers(shape_run: KitConfig, shape: str) -> None:
    """Contractual churn (the shape's ``churn.mode``): the churn page scores exactly the
    accounts holding a subscription at the month end, recounted here from subscriptions.csv
    (a subscription has ended once its paid-through date plus the grace days passed, or
    at its paid-through date once cancelled), and the pages speak of subscribers and MRR."""
    subs = read_source(shape_run, "subscriptions")
    end = snapshot_end(SHAPE_MONTH)
    started = pd.to_datetime(subs["started_at"])
    through = pd.to_datetime(subs["paid_through"])
    cancelled = pd.to_datetime(subs["cancelled_at"].replace("", None))
    ended = (through + pd.Timedelta(days=shape_run.churn.grace_days) <= end) | (cancelled < end)
    held = (started < end) & (~ended | (through > end))
    metrics = json.loads((month_dir(shape_run) / "metrics.json").read_text(encoding="utf-8"))["05_churn"]
    assert metrics["mode"] == "contractual" and metrics["clv_source"] == "mrr"
    assert metrics["customers_scored"] == subs.loc[held, "customer_no"].nunique()
    paying = float(pd.to_numeric(subs.loc[held, "mrr"]).sum())
    assert 0 < metrics["mrr_at_risk"] < paying
    churn_page = page_text((month_dir(shape_run) / "05_churn.html").read_text(encoding="utf-8"))
    overview = page_text((month_dir(shape_run) / "07_overview.html").read_text(encoding="utf-8"))
    assert t("churn.kpi.mrr", shape_run.run.lang) in churn_page and "active subscribers" in churn_page
    assert "not yet churned" not in churn_page and "active subscribers" in overview
