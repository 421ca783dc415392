"""Data-quality figures of one ingest run as tidy frames (shown by kit.ingest.page).

Every function reads the run's report (``IngestResult.report``, the same content as
``ingest_report.json``) so a page can be rebuilt from the JSON alone. Text is not
produced here: ``verdict`` returns a level and a translation key with its values, and
kit.ingest.page translates and formats.

``fitness`` is the data fitness gate: every source graded ok / warn / fail on the limits
of the config's ``ingest.gate`` (stored in the report under ``gate``):

- ``quarantined_share``: share of the source's physical records quarantined;
- ``month_drop``: drop of the run month's rows per day against the month before's,
  each month's rows divided by the days of it the source's data covers (from its first
  record's day to its latest record's day before the run month ends), so a source that
  starts or ends inside a month is not judged a drop (orders and events sources, when
  both months have rows);
- ``revenue_lost``: share of an orders source's revenue (parseable amounts, implausible
  ones excluded) in quarantined rows; malformed records have no amount and count in
  ``quarantined_share`` only;
- ``empty_month``: an orders or events source declared ``required`` with no row in the
  run month fails;
- ``members_without_orders``: share of a customers source's records whose customer has
  no order, when an orders source was ingested too (a CRM whose members link to no order
  means the order log's customer key is not declared as an identity key).

A check is graded at or above its thresholds. ``kit run`` stops before publishing when
the grade is fail (``kit.runner``; ``--accept-data-warnings`` overrides); on warn it
publishes and the overview opens with a data-quality banner naming the sources.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd

from kit.core.config import IngestGateConfig
from kit.ingest.lines import MALFORMED
from kit.ingest.sources import READS

FLOW_KINDS = ("orders", "events")  # kinds expected to have rows in every month
GRADES = ("ok", "warn", "fail")
LIMIT_TEXT = {
    "quarantined_share": "share of records quarantined",
    "month_drop": "drop of the run month's rows per day (over the days the data covers) against the month before",
    "revenue_lost": "share of revenue in quarantined rows",
    "empty_month": "no rows in the run month",
    "members_without_orders": "share of member records linked to no order",
}
# what to do when a check is not ok (the plain line of ``Fitness.problems``)
LIMIT_ADVICE = {
    "members_without_orders": (
        " Members and orders are not linked: declare the order log's customer column (member number, phone, "
        "e-mail or account) under sources.<orders source>.keys with the key type the members carry."
    ),
}


@dataclass(frozen=True)
class FitnessCheck:
    """One limit of the gate applied to one source."""

    source: str
    limit: str  # quarantined_share | month_drop | revenue_lost | empty_month | members_without_orders
    value: float
    warn: float
    fail: float
    grade: str  # ok | warn | fail


@dataclass(frozen=True)
class Fitness:
    """The gate's verdict: the worst grade of its checks, and the checks."""

    grade: str
    checks: list[FitnessCheck]

    def problems(self) -> list[str]:
        """One plain English line per warn or fail check: source, limit, value, threshold."""
        lines = []
        for c in self.checks:
            if c.grade == "ok":
                continue
            threshold = c.fail if c.grade == "fail" else c.warn
            if c.limit == "empty_month":
                lines.append(f"{c.grade}: source {c.source!r} has no rows in the run month (limit ingest.gate: required orders/events source)")
            else:
                lines.append(
                    f"{c.grade}: source {c.source!r}, {LIMIT_TEXT[c.limit]} is {c.value:.2%}, at or above the "
                    f"{c.grade} limit {threshold:.2%} (ingest.gate.{c.limit}_{c.grade}).{LIMIT_ADVICE.get(c.limit, '')}"
                )
        return lines

    def sources(self, grade: str) -> list[str]:
        """The sources with a check of ``grade``, in check order."""
        return list(dict.fromkeys(c.source for c in self.checks if c.grade == grade))

    def to_dict(self) -> dict:
        """The JSON form stored in ingest_report.json under ``fitness``."""
        return {"grade": self.grade, "checks": [asdict(c) for c in self.checks], "problems": self.problems()}


def _grade(value: float, warn: float, fail: float) -> str:
    return "fail" if value >= fail else "warn" if value >= warn else "ok"


def fitness(report: dict) -> Fitness:
    """Grade every source of an ingest report on the limits in ``report["gate"]``.

    A report written before the gate (or one of its limits) existed is graded on the
    default limits, without the checks whose figures it does not hold (revenue, member
    links, first record).
    """
    gate, month = {**asdict(IngestGateConfig()), **(report.get("gate") or {})}, report["run_month"]
    previous = str(pd.Period(month, freq="M") - 1)
    checks = []

    def check(source: str, limit: str, value: float) -> None:
        warn, fail = (1.0, 1.0) if limit == "empty_month" else (gate[f"{limit}_warn"], gate[f"{limit}_fail"])
        checks.append(FitnessCheck(source, limit, float(value), float(warn), float(fail), _grade(value, warn, fail)))

    for name, s in report["sources"].items():
        check(name, "quarantined_share", s["quarantined"] / s["read"] if s["read"] else 0.0)
        if s["kind"] == "orders" and s.get("revenue"):
            revenue = s["revenue"]
            total = revenue["loaded"] + revenue["quarantined"]
            check(name, "revenue_lost", revenue["quarantined"] / total if total else 0.0)
        if s["kind"] in FLOW_KINDS:
            now, before = s["rows_by_month"].get(month, 0), s["rows_by_month"].get(previous, 0)
            if s.get("required", True):
                check(name, "empty_month", float(now == 0))
            days_now, days_before = (covered_days(s, m) for m in (month, previous))
            if before and now and days_now and days_before:
                check(name, "month_drop", max(0.0, 1 - (now / days_now) / (before / days_before)))
        if s["kind"] == "customers" and s.get("members_without_orders") is not None:
            check(name, "members_without_orders", s["members_without_orders"])
    worst = max((GRADES.index(c.grade) for c in checks), default=0)
    return Fitness(GRADES[worst], checks)


def covered_days(source: dict, month: str) -> int:
    """Days of calendar ``month`` that a source's data covers: from its first record's day
    to its latest record's day before the run month ends (the whole month when the report
    does not say)."""
    period = pd.Period(month, freq="M")
    start, end = period.start_time.normalize(), period.end_time.normalize()
    if source.get("first_record"):
        start = max(start, pd.Timestamp(source["first_record"]).normalize())
    if source.get("latest_record"):
        end = min(end, pd.Timestamp(source["latest_record"]).normalize())
    return max(0, (end - start).days + 1)


def fitness_table(report: dict) -> pd.DataFrame:
    """The gate's checks as a table (source, limit, value, warn, fail, grade), worst first."""
    frame = pd.DataFrame([asdict(c) for c in fitness(report).checks], columns=["source", "limit", "value", "warn", "fail", "grade"])
    order = frame["grade"].map(GRADES.index)
    return frame.assign(_o=-order).sort_values(["_o", "source"], kind="stable").drop(columns="_o").reset_index(drop=True)


def load_report(warehouse: Path | str) -> dict:
    """``ingest_report.json`` of a warehouse folder."""
    return json.loads((Path(warehouse) / "ingest_report.json").read_text(encoding="utf-8"))


def accounting(report: dict) -> pd.DataFrame:
    """Records per source: read (physical records in the files), loaded, duplicates (exact,
    re-sent), quarantined (of which malformed: not even split into fields), and whether
    read = loaded + duplicates + quarantined (ingest fails when it does not)."""
    rows = [
        {
            "source": name,
            "kind": s["kind"],
            "read": s["read"],
            "loaded": s["loaded"],
            "exact_duplicates": s["exact_duplicates"],
            "resent_duplicates": s["resent_duplicates"],
            "quarantined": s["quarantined"],
            "malformed": sum(n for reason, n in s["quarantine_reasons"].items() if reason in MALFORMED),
            "quarantined_share": s["quarantined"] / s["read"] if s["read"] else 0.0,
            "balanced": s["read"] == s["loaded"] + s["exact_duplicates"] + s["resent_duplicates"] + s["quarantined"],
        }
        for name, s in report["sources"].items()
    ]
    return pd.DataFrame(rows)


def rows_by_month(report: dict) -> pd.DataFrame:
    """Loaded rows per source and calendar month of the source's main timestamp (long)."""
    rows = [
        {"source": name, "month": month, "rows": n}
        for name, s in report["sources"].items()
        for month, n in s["rows_by_month"].items()
    ]
    frame = pd.DataFrame(rows, columns=["source", "month", "rows"])
    return frame.astype({"source": "str", "month": "str", "rows": "int64"})


def monthly_matrix(report: dict, months: int = 24) -> pd.DataFrame:
    """Rows per month (index, the last ``months`` up to the run month) x source (columns)."""
    frame = rows_by_month(report)
    frame = frame[frame["month"] <= report["run_month"]]
    wide = frame.pivot_table(index="month", columns="source", values="rows", aggfunc="sum", fill_value=0)
    return wide.tail(months)


def freshness(report: dict) -> pd.DataFrame:
    """Latest record per source before the run month ends, and days it lies before that end."""
    end = pd.Timestamp(report["month_end"])
    rows = []
    for name, s in report["sources"].items():
        latest = pd.Timestamp(s["latest_record"]) if s["latest_record"] else pd.NaT
        lag = (end - latest) / pd.Timedelta(days=1) if latest is not pd.NaT else float("nan")
        rows.append(
            {
                "source": name,
                "latest_record": latest,
                "days_before_month_end": lag,
                "has_run_month": bool(s["rows_by_month"].get(report["run_month"], 0)),
                "rows_after_month_end": s["rows_after_month_end"],
            }
        )
    return pd.DataFrame(rows)


def match_rates(report: dict) -> pd.DataFrame:
    """Per source: records, share unified with another record, share linked to another source."""
    frame = pd.DataFrame(report["identity"]["by_source"])
    return frame.astype({"records": "int64"})


def rules(report: dict) -> pd.DataFrame:
    """Records per matching rule (member_id, phone, ..., singleton)."""
    items = report["identity"]["rules"]
    return pd.DataFrame({"rule": list(items), "records": list(items.values())}).astype({"records": "int64"})


def overshared(report: dict) -> pd.DataFrame:
    """Over-shared identifiers (masked values) never used to merge records."""
    return pd.DataFrame(report["identity"]["overshared"], columns=["key_type", "value_masked", "n_records", "n_accounts", "n_sources"])


def quarantine_reasons(report: dict) -> pd.DataFrame:
    """Quarantined rows per source, reason and column, most frequent first."""
    rows = [
        {"source": name, **item} for name, s in report["sources"].items() for item in s["quarantine_detail"]
    ]
    frame = pd.DataFrame(rows, columns=["source", "reason", "column", "rows"])
    return frame.sort_values(["rows", "source"], ascending=[False, True], ignore_index=True)


def duplicates(report: dict) -> pd.DataFrame:
    """Rows dropped as exact duplicates and as re-sent versions, per source (only non-zero)."""
    frame = accounting(report)[["source", "read", "exact_duplicates", "resent_duplicates"]]
    return frame[(frame["exact_duplicates"] + frame["resent_duplicates"]) > 0].reset_index(drop=True)


def values_nulled(report: dict) -> pd.DataFrame:
    """Values dropped as invalid (phones, e-mails, birth dates) per source and problem."""
    rows = [
        {"source": name, "problem": problem, "rows": n}
        for name, s in report["sources"].items()
        for problem, n in s["values_nulled"].items()
    ]
    return pd.DataFrame(rows, columns=["source", "problem", "rows"])


def missingness(report: dict, min_share: float = 0.0) -> pd.DataFrame:
    """Share of loaded rows with no value, per source and canonical column (highest first)."""
    rows = [
        {"source": name, "column": column, "missing_share": share}
        for name, s in report["sources"].items()
        for column, share in s["missing_share"].items()
        if share > min_share
    ]
    frame = pd.DataFrame(rows, columns=["source", "column", "missing_share"])
    return frame.sort_values("missing_share", ascending=False, ignore_index=True)


def date_only_sources(report: dict) -> list[str]:
    """Orders and events sources whose timestamps are dates only (``has_time`` false):
    hour-of-day figures are not computed for their rows."""
    return [name for name, s in report["sources"].items() if s.get("has_time") is False]


def synthesised_id_sources(report: dict) -> list[str]:
    """Orders sources without an order id column, whose rows got synthesised ids (kit.ingest.clean)."""
    return [name for name, s in report["sources"].items() if s.get("synthesised_order_id")]


def file_reads(report: dict) -> dict[str, int]:
    """Raw files the run read, all sources together: parsed, reused from the parse cache, read
    in place (``kit.ingest.sources.READS``; none counted in a report from before the cache)."""
    totals = dict.fromkeys(READS, 0)
    for s in report["sources"].values():
        for how, n in s.get("file_reads", {}).items():
            totals[how] += n
    return totals


def headline(report: dict) -> dict[str, float | int | str]:
    """Headline figures saved with the report (rep.save_metrics)."""
    table = accounting(report)
    identity = report["identity"]
    return {
        "customer_ids": int(report["tables"]["customers"]),  # anonymous store receipts included
        "orders": int(report["tables"]["orders"]),
        "events": int(report["tables"]["events"]),
        "rows_read": int(table["read"].sum()),
        "rows_quarantined": int(table["quarantined"].sum()),
        "rows_duplicate": int((table["exact_duplicates"] + table["resent_duplicates"]).sum()),
        "quarantined_share": float(table["quarantined"].sum() / max(int(table["read"].sum()), 1)),
        "records_unified_share": float(identity["records_unified_share"]),
        "multi_source_customer_share": float(identity["multi_source_customer_share"]),
        "overshared_identifiers": len(identity["overshared"]),
        "identity_merges": int(identity["merges"]),
        "verdict": verdict(report)[0],
        "data_grade": fitness(report).grade,
    }


def verdict(report: dict) -> tuple[str, str, dict]:
    """(level, translation key, values): is the data fit for this month's analysis?

    The data fitness gate's grade (``fitness``): fail is ``danger`` (not fit), warn is
    ``warning`` (usable with caveats), ok is ``success``; the sources named are those at
    the grade. Sign-ups, surveys and experiment assignments come in bursts, so a month
    without them is not checked.
    """
    gate = fitness(report)
    if gate.grade == "fail":
        return "danger", "ingest.verdict.not_fit", {"sources": ", ".join(gate.sources("fail"))}
    if gate.grade == "warn":
        return "warning", "ingest.verdict.caveats", {"sources": ", ".join(gate.sources("warn"))}
    return "success", "ingest.verdict.fit", {}
