"""Probabilistic identity linkage: the same person found without a shared identifier.

The exact rules (``kit.ingest.identity``) join records that share a member number, a
phone, an e-mail or an account id. They are precise but split people whose records share
none: a second CRM registration under an old phone, an app account with no phone, a shop
account whose orders carry only a receiver name and address. This module joins those
customers with a Fellegi-Sunter model (Splink, on the ingest's own DuckDB connection, so
the same settings run on Splink's Spark backend).

What is compared. Each customer the exact rules found (a connected component) gets one
profile: per matching attribute (``identity.matching.attributes``: attribute -> how it is
compared) the most frequent value over its records. An attribute is a column that any
identity source carries (the CRM's name and birth date, an app's real name and birthday,
an order log's receiver name and address), or an identity key type (phone, e-mail) whose
usable values (over-shared ones left out) are compared by their last 4 digits or their
e-mail local part. Values are normalised for comparison: names in Chinese characters get
their pinyin (``pypinyin``) so 张伟 meets "Zhang Wei" and "Wei Zhang"; a date's key
ignores the order of day and month; e-mail local parts lose dots and ``+tags``.

Comparison types (``COMPARISONS``; the levels, best first):
- ``name``: same text, same pinyin, same pinyin with surname and given name swapped,
  Jaro-Winkler of the pinyin >= 0.92, >= 0.80, else;
- ``date``: same date, day and month swapped, one typed digit apart, else;
- ``gender``, ``exact``: same value (e.g. city), else;
- ``text``: same normalised text (address), Jaro-Winkler >= 0.90, >= 0.75, else;
- ``code``: same code (a national id, a postcode), one or two edits apart, else;
- ``phone``: same last 4 digits, else; ``email``: same local part, Jaro-Winkler >= 0.88, else.
Term-frequency adjustments make a common name or city weaker evidence than a rare one.

Estimation without labels. The u-probabilities come from random pairs, the
m-probabilities and the prior from EM sessions blocked on attribute pairs until every
comparison is estimated. Candidate pairs come from blocking rules: pairs of attributes
that agree exactly on their blocking keys (``identity.matching.blocking``; default every
pair of the attributes present, gender left out).

Threshold. The accepted links' expected precision is the mean match probability over
them (the model's estimate: each accepted pair is a true match with its probability).
The threshold is the lowest probability, not below ``min_threshold``, at which that mean
is still >= ``target_precision``, unless ``threshold`` fixes it.

Clusters and the chaining guard. Accepted links are added strongest first to a
union-find over the exact-rule customers; a link is refused when the person it would
make holds more than ``max_cluster_size`` customers, or two birth dates (any ``date``
attribute) that are neither equal, swapped nor one digit apart. A refused link is
counted, never silently used.

Privacy. Names, dates and addresses stay in the ingest connection; what leaves this
module is customer ids, the rule, match probabilities, comparison levels and counts.
"""

from __future__ import annotations

import itertools
import logging
import re
import time
from dataclasses import dataclass, field

import duckdb
import numpy as np
import pandas as pd

from kit.core.config import IdentityConfig, MatchingConfig, SourceConfig
from kit.ingest.kinds import GENDERS, attribute_columns, record_sql
from kit.ingest.normalize import quote_ident, sql_literal

CANDIDATE_FLOOR = 0.5  # pairs below this probability are not kept (the page charts pairs near the threshold)
REVIEW_BAND = 0.2  # borderline pairs: within this many probability points below / above the threshold
REVIEW_ROWS = 2000
EM_MAX_PAIRS = 5_000_000
PRIOR_ITERATIONS = 500
MIN_TRAINING_PAIRS = 100  # fewer blocked pairs than this teach EM nothing reliable
MIN_LABELLED_RECORDS = 100  # records of known people carrying the attribute, to learn its m
M_FLOOR = 1e-4  # the m of a level no known pair reached: rare, not impossible
CJK = re.compile(r"[\u3400-\u9fff]")
WORD = re.compile(r"[a-z]+")
SEED = 19

LOG = logging.getLogger("splink")


@dataclass
class Linkage:
    """What the probabilistic step did, for the ingest page (no personal data)."""

    attributes: dict[str, str]  # attribute -> comparison type, the ones any record carries
    profiles: int = 0  # customers of the exact rules that carry two or more attributes
    candidates: int = 0  # pairs scored at or above CANDIDATE_FLOOR
    prior: float = float("nan")  # probability that two random profiles are one person
    threshold: float = float("nan")
    expected_precision: float = float("nan")  # mean match probability over the accepted links
    accepted: int = 0  # links used
    refused: int = 0  # links the chaining guard refused
    joined: int = 0  # exact-rule customers joined into another (customer ids saved)
    carried: int = 0  # links kept from earlier months
    seconds: float = 0.0  # the time of the whole probabilistic step
    weights: pd.DataFrame = field(default_factory=pd.DataFrame)  # comparison, level, m, u, match_weight
    probabilities: np.ndarray = field(default_factory=lambda: np.zeros(0))  # candidate pairs' probabilities
    review: pd.DataFrame = field(default_factory=pd.DataFrame)  # borderline pairs: comps, probability, levels
    skipped: str = ""  # why no linkage ran: disabled, too_few_attributes, too_little_data ("" when it ran)


# --------------------------------------------------------------------------- attributes


def attribute_values(
    con: duckdb.DuckDBPyConnection, sources: dict[str, SourceConfig], present: dict[str, list[str]], identity: IdentityConfig
) -> None:
    """Table ``id_attrs`` (source, source_id, attribute, value): every non-blank value of a
    matching attribute column on an identity record, as text (dates as YYYY-MM-DD).
    Key-type attributes (phone, e-mail) are taken from the usable identifiers instead
    (``_profiles``), so an over-shared phone is no evidence here either."""
    parts = []
    matching = identity.matching
    for name, source in sources.items():
        rid, _ = record_sql(source, identity, present[name])
        for attribute, compare in matching.attributes.items():
            if not matching.enabled or attribute not in present[name] or attribute in identity.keys:
                continue
            column = quote_ident(attribute)
            text = f"strftime(CAST({column} AS DATE), '%Y-%m-%d')" if compare == "date" else f"trim(CAST({column} AS VARCHAR))"
            parts.append(
                f"SELECT {sql_literal(name)} AS source, {rid} AS source_id, {sql_literal(attribute)} AS attribute, "
                f"{text} AS value FROM clean_{name} WHERE nullif({text}, '') IS NOT NULL"
            )
    empty = "SELECT NULL::VARCHAR source, NULL::VARCHAR source_id, NULL::VARCHAR attribute, NULL::VARCHAR value WHERE false"
    con.execute("CREATE OR REPLACE TABLE id_attrs AS " + " UNION ALL ".join(parts or [empty]))


def _profiles(con: duckdb.DuckDBPyConnection, identity: IdentityConfig) -> dict[str, str]:
    """Tables ``link_profile`` (one row per exact-rule customer, ``unique_id`` = its
    component, that carries two or more attributes: each attribute's most frequent value)
    and ``link_labelled`` (one row per record of the exact-rule customers with two or more
    such records, ``label`` = its component: pairs known to be one person, from which the
    m-probabilities are learned), each attribute as its normalised columns. Returns the
    attributes present (attribute -> comparison type). Needs ``rec_comp0`` and ``id_use``."""
    attributes = identity.matching.attributes
    keyed = [a for a in attributes if a in identity.keys]
    keys = ", ".join(sql_literal(a) for a in keyed) or "NULL"
    con.execute(
        f"""CREATE OR REPLACE TABLE link_values AS
        WITH v AS (
            SELECT source, source_id, attribute, value FROM id_attrs
            UNION ALL SELECT source, source_id, key_type, key_value FROM id_use WHERE key_type IN ({keys}))
        SELECT r.source, r.source_id, r.comp, v.attribute, mode(v.value ORDER BY v.value) AS value
        FROM v JOIN rec_comp0 r USING (source, source_id) GROUP BY ALL"""
    )
    found = {row[0] for row in con.execute("SELECT DISTINCT attribute FROM link_values").fetchall()}
    present = {a: c for a, c in attributes.items() if a in found}
    if not present:
        return {}
    _wide(con, "SELECT comp AS unique_id, attribute, mode(value ORDER BY value) AS value FROM link_values GROUP BY ALL",
          "link_profile", present, min_attributes=2)
    _wide(
        con,
        """SELECT dense_rank() OVER (ORDER BY source, source_id) AS unique_id, comp AS label, attribute, value
        FROM link_values WHERE comp IN (
            SELECT comp FROM (SELECT DISTINCT comp, source, source_id FROM link_values) GROUP BY comp HAVING count(*) >= 2)""",
        "link_labelled", present, min_attributes=1,
    )
    return present


def _wide(con: duckdb.DuckDBPyConnection, long_sql: str, table: str, present: dict[str, str], min_attributes: int) -> None:
    """Table ``table``: the rows of ``long_sql`` (unique_id, [label,] attribute, value)
    pivoted to one row per id with at least ``min_attributes`` values, each attribute as
    its normalised columns (``_normalised``)."""
    con.execute(f"CREATE OR REPLACE TEMP TABLE link_long AS {long_sql}")
    label = ", any_value(label) AS label" if "label" in {r[0] for r in con.execute("DESCRIBE link_long").fetchall()} else ""
    wide = ", ".join(f"max(value) FILTER (WHERE attribute = {sql_literal(a)}) AS {quote_ident('raw_' + a)}" for a in present)
    con.execute(
        f"""CREATE OR REPLACE TABLE link_raw AS SELECT unique_id{label}, {wide}
        FROM link_long GROUP BY unique_id HAVING count(*) >= {int(min_attributes)}"""
    )
    columns = []
    for attribute, compare in present.items():
        raw = quote_ident("raw_" + attribute)
        columns += [f"{sql} AS {quote_ident(attribute + suffix)}" for suffix, sql in _normalised(compare, raw).items()]
    names = _pinyin_table(con, [a for a, c in present.items() if c == "name"])
    joins = "".join(
        f" LEFT JOIN {names} {quote_ident('py_' + a)} ON {quote_ident('py_' + a)}.raw = l.{quote_ident('raw_' + a)}"
        for a, c in present.items() if c == "name"
    )
    keep = "l.unique_id, l.label" if label else "l.unique_id"
    con.execute(f"CREATE OR REPLACE TABLE {table} AS SELECT {keep}, {', '.join(columns)} FROM link_raw l{joins}")
    con.execute("DROP TABLE link_long")


def _normalised(compare: str, raw: str) -> dict[str, str]:
    """Column suffix -> SQL of the normalised forms of one attribute (``raw`` is its value
    in ``link_raw l``; names read the pinyin join ``py_<attribute>``). The suffix ``""`` is
    the compared value, ``_key`` the blocking key."""
    value = f"l.{raw}"
    if compare == "name":
        alias = quote_ident("py_" + raw.strip('"')[4:])
        return {"": f"lower(regexp_replace({value}, '\\s+', '', 'g'))", "_py": f"{alias}.py", "_key": f"{alias}.key"}
    if compare == "date":
        swapped = (f"CASE WHEN day(CAST({value} AS DATE)) <= 12 THEN strftime(CAST({value} AS DATE), '%Y-%d-%m') END")
        ordered = (f"year(CAST({value} AS DATE)) || '-' || least(month(CAST({value} AS DATE)), day(CAST({value} AS DATE))) "
                   f"|| '-' || greatest(month(CAST({value} AS DATE)), day(CAST({value} AS DATE)))")
        return {"": value, "_swap": swapped, "_key": ordered}
    if compare == "gender":
        cases = " ".join(f"WHEN {sql_literal(k)} THEN {sql_literal(v)}" for k, v in GENDERS.items())
        gender = f"CASE lower({value}) {cases} ELSE lower({value}) END"
        return {"": gender, "_key": gender}
    if compare == "text":
        text = f"nullif(lower(regexp_replace({value}, '[\\s[:punct:]，。、（）]+', '', 'g')), '')"
        return {"": text, "_key": text}
    if compare == "code":
        code = f"nullif(upper(regexp_replace({value}, '[\\s\\-./]+', '', 'g')), '')"
        return {"": code, "_key": code}
    if compare == "phone":
        last = f"nullif(right(regexp_replace({value}, '\\D', '', 'g'), 4), '')"
        return {"": last, "_key": last}
    if compare == "email":
        local = f"nullif(replace(regexp_replace(split_part(lower({value}), '@', 1), '\\+.*$', ''), '.', ''), '')"
        return {"": local, "_key": local}
    exact = f"lower({value})"  # exact
    return {"": exact, "_key": exact}


def _pinyin_table(con: duckdb.DuckDBPyConnection, attributes: list[str]) -> str:
    """Table ``link_pinyin`` (raw, py, key): the pinyin tokens of every distinct name value
    (``py``: surname then given name; ``key``: the tokens sorted, so a swapped order agrees)."""
    raws = set()
    for attribute in attributes:
        column = quote_ident("raw_" + attribute)
        raws |= {r[0] for r in con.execute(f"SELECT DISTINCT {column} FROM link_raw WHERE {column} IS NOT NULL").fetchall()}
    raws_sorted = sorted(raws)
    tokens = [name_tokens(r) for r in raws_sorted]
    frame = pd.DataFrame({
        "raw": pd.Series(raws_sorted, dtype="str"),
        "py": pd.Series([" ".join(t) or None for t in tokens], dtype="str"),
        "key": pd.Series(["".join(sorted(t)) or None for t in tokens], dtype="str"),
    })
    con.register("link_pinyin_df", frame)
    con.execute("CREATE OR REPLACE TABLE link_pinyin AS SELECT * FROM link_pinyin_df")
    con.unregister("link_pinyin_df")
    return "link_pinyin"


def name_tokens(name: str) -> list[str]:
    """A name as lower-case pinyin tokens: Chinese characters as [surname, given name]
    (张伟明 -> ["zhang", "weiming"]), Latin script as its words ("Wei ZHANG" -> ["wei", "zhang"])."""
    from pypinyin import lazy_pinyin  # loads its dictionaries on first use only

    text = re.sub(r"\s+", "", name) if CJK.search(name) else name.lower()
    if CJK.search(text):
        syllables = [s.lower() for s in lazy_pinyin(text)]
        return [syllables[0], "".join(syllables[1:])] if len(syllables) > 1 else syllables
    return WORD.findall(text)


# --------------------------------------------------------------------------- the model


def _level(condition: str, label: str, *, null: bool = False, tf: str | None = None) -> dict:
    """One Splink comparison level (SQL over the ``_l`` / ``_r`` columns)."""
    level: dict = {"sql_condition": condition, "label_for_charts": label}
    if null:
        level["is_null_level"] = True
    if tf:
        level["tf_adjustment_column"] = tf
        level["tf_adjustment_weight"] = 1.0
    return level


def _jw(column: str, at: float) -> str:
    return f'jaro_winkler_similarity("{column}_l", "{column}_r") >= {at}'


def comparison(attribute: str, compare: str) -> dict:
    """The Splink comparison of one attribute (levels in the module docstring)."""
    a = attribute
    same = f'"{a}_l" = "{a}_r"'
    levels = [_level(f'"{a}_l" IS NULL OR "{a}_r" IS NULL', "missing", null=True)]
    if compare == "name":
        levels += [
            _level(same, "same_text"),
            _level(f'"{a}_py_l" = "{a}_py_r"', "same_pinyin", tf=f"{a}_py"),
            _level(f'"{a}_key_l" = "{a}_key_r"', "swapped_pinyin"),
            _level(_jw(f"{a}_py", 0.92), "similar_pinyin"),
            _level(_jw(f"{a}_py", 0.80), "somewhat_similar_pinyin"),
        ]
    elif compare == "date":
        levels += [
            _level(same, "same_date"),
            _level(f'"{a}_l" = "{a}_swap_r"', "swapped_date"),
            _level(f'damerau_levenshtein("{a}_l", "{a}_r") <= 1', "one_digit_apart"),
        ]
    elif compare in ("gender", "exact", "phone"):
        levels += [_level(same, "same" if compare != "phone" else "same_last4", tf=None if compare == "gender" else a)]
    elif compare == "text":
        levels += [_level(same, "same", tf=a), _level(_jw(a, 0.90), "similar"), _level(_jw(a, 0.75), "somewhat_similar")]
    elif compare == "code":
        levels += [
            _level(same, "same"),
            _level(f'damerau_levenshtein("{a}_l", "{a}_r") <= 1', "one_edit_apart"),
            _level(f'damerau_levenshtein("{a}_l", "{a}_r") <= 2', "two_edits_apart"),
        ]
    elif compare == "email":
        levels += [_level(same, "same_local_part", tf=a), _level(_jw(a, 0.88), "similar_local_part")]
    levels.append(_level("ELSE", "different"))
    return {"output_column_name": a, "comparison_levels": levels}


def blocking_rules(present: dict[str, str], matching: MatchingConfig) -> list[list[str]]:
    """Attribute pairs whose blocking keys must agree for a pair to be scored."""
    if matching.blocking:
        return [rule for rule in matching.blocking if all(a in present for a in rule)]
    usable = [a for a, c in present.items() if c != "gender"]
    return [list(pair) for pair in itertools.combinations(usable, 2)]


def _rule_sql(rule: list[str]) -> str:
    return " AND ".join(f"l.{quote_ident(a + '_key')} = r.{quote_ident(a + '_key')}" for a in rule)


def _train(
    con: duckdb.DuckDBPyConnection, api, settings: dict, rules: list[list[str]], present: dict[str, str],
    matching: MatchingConfig, keyed: set[str],
):
    """The fitted linker over ``link_profile``, or None when the data cannot teach it.

    m-probabilities: learned from the pairs the exact rules already know to be one
    person (``link_labelled``: records of one exact-rule customer), then held fixed, so
    that EM cannot drift into a class of strangers who merely share a birth date. Not for
    the key-type attributes (phone, e-mail): those pairs share their phone or e-mail by
    construction, so their m comes from EM. u: random pairs of profiles. The prior and
    the remaining m: EM sessions blocked on attribute pairs with at least
    ``MIN_TRAINING_PAIRS`` pairs, until each of those comparisons has been estimated by a
    session not blocked on it. None when no comparison gets its m from the labelled
    pairs, or one is left without an estimate."""
    from splink import Linker

    learned = _labelled_m(con, api, settings, present, keyed)
    if not learned:
        return None
    fixed = dict(settings, comparisons=[_with_m(c, learned.get(c["output_column_name"])) for c in settings["comparisons"]])
    linker = Linker(api.register("link_profile"), fixed, log_level=logging.ERROR)
    linker.training.estimate_u_using_random_sampling(max_pairs=float(matching.u_sample_pairs), seed=SEED)
    untrained = set(present) - set(learned)
    prior = False
    for rule in rules:
        if (prior and not untrained - set(rule)) or _pairs(con, rule) < MIN_TRAINING_PAIRS:
            continue
        linker.training.estimate_parameters_using_expectation_maximisation(
            _rule_sql(rule), populate_probability_two_random_records_match_from_trained_values=True,
            max_pairs=float(EM_MAX_PAIRS),
        )
        prior = True
        untrained &= set(rule)
        if not untrained:
            break
    return linker if prior and not untrained else None


def _labelled_m(
    con: duckdb.DuckDBPyConnection, api, settings: dict, present: dict[str, str], keyed: set[str]
) -> dict[str, list[float]]:
    """attribute -> the m-probability of each of its non-null levels (in order), learned
    from the labelled pairs, for the attributes carried by at least ``MIN_LABELLED_RECORDS``
    labelled records (key-type attributes left out). A level no labelled
    pair reached gets ``M_FLOOR``: rare, not impossible."""
    from splink import Linker

    counts = con.execute(
        "SELECT " + ", ".join(
            f"count(*) FILTER (WHERE {quote_ident(a)} IS NOT NULL) AS {quote_ident(a)}" for a in present
        ) + ", count(DISTINCT label) AS labels FROM link_labelled"
    ).df().iloc[0] if present else None
    if counts is None or int(counts["labels"]) == 0:
        return {}
    linker = Linker(api.register("link_labelled"), settings, log_level=logging.ERROR)
    linker.training.estimate_m_from_label_column("label")
    learned = {}
    for item in linker.misc.save_model_to_json()["comparisons"]:
        attribute = item["output_column_name"]
        levels = [lv for lv in item["comparison_levels"] if not lv.get("is_null_level")]
        m = [lv.get("m_probability") for lv in levels]
        if attribute in keyed or int(counts[attribute]) < MIN_LABELLED_RECORDS or all(v is None for v in m):
            continue
        learned[attribute] = [max(float(v or 0.0), M_FLOOR) for v in m]
    return learned


def _with_m(item: dict, m: list[float] | None) -> dict:
    """A comparison with its levels' m-probabilities set and fixed (unchanged when None)."""
    if m is None:
        return item
    levels, values = [], iter(m)
    for level in item["comparison_levels"]:
        if not level.get("is_null_level"):
            level = dict(level, m_probability=next(values), fix_m_probability=True)
        levels.append(level)
    return dict(item, comparison_levels=levels)


def _pairs(con: duckdb.DuckDBPyConnection, rule: list[str]) -> int:
    """The number of profile pairs a blocking rule generates (sum over its key groups of n*(n-1)/2)."""
    keys = ", ".join(quote_ident(a + "_key") for a in rule)
    nonnull = " AND ".join(f"{quote_ident(a + '_key')} IS NOT NULL" for a in rule)
    row = con.execute(
        f"SELECT coalesce(sum(n * (n - 1) / 2), 0) FROM (SELECT count(*) AS n FROM link_profile WHERE {nonnull} GROUP BY {keys})"
    ).fetchall()[0]
    return int(row[0])


def choose_threshold(probabilities: np.ndarray, matching: MatchingConfig) -> tuple[float, float]:
    """(threshold, expected precision of the links at or above it).

    The lowest candidate probability (not below ``min_threshold``) at which the mean
    probability of all pairs at or above it is still >= ``target_precision``; a fixed
    ``threshold`` wins. With no pair above ``min_threshold`` the threshold is that floor.
    """
    ordered = np.sort(probabilities)[::-1]
    if matching.threshold is not None:
        kept = ordered[ordered >= matching.threshold]
        return matching.threshold, float(kept.mean()) if kept.size else float("nan")
    kept = ordered[ordered >= matching.min_threshold]
    if not kept.size:
        return matching.min_threshold, float("nan")
    running = np.cumsum(kept) / np.arange(1, kept.size + 1)
    ok = np.flatnonzero(running >= matching.target_precision)
    if not ok.size:
        return float(kept[0]), float(kept[0])
    last = int(ok[-1])
    return float(kept[last]), float(running[last])


def _weights(linker) -> pd.DataFrame:
    """comparison, level, m, u and the level's match weight (log2 of m / u)."""
    rows = []
    for item in linker.misc.save_model_to_json()["comparisons"]:
        for level in item["comparison_levels"]:
            if level.get("is_null_level"):
                continue
            m, u = level.get("m_probability"), level.get("u_probability")
            weight = float(np.log2(m / u)) if m and u else float("nan")
            rows.append({"comparison": item["output_column_name"], "level": level["label_for_charts"],
                         "m": m, "u": u, "match_weight": weight})
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- linking


def link(
    con: duckdb.DuckDBPyConnection, identity: IdentityConfig, comps: np.ndarray, carried: pd.DataFrame
) -> tuple[np.ndarray, pd.DataFrame, Linkage]:
    """Join exact-rule customers the model finds to be one person.

    ``comps`` numbers the exact-rule customer of every graph node; table ``rec_comp0``
    (source, source_id, comp) gives each record's. ``carried`` (comp_l, comp_r) are last
    month's accepted links between current customers (kept, guard permitting). Returns
    the new customer number of every node, the accepted links (comp_l, comp_r,
    match_probability; NaN for a carried link) and the ``Linkage`` summary.
    """
    started = time.perf_counter()
    matching = identity.matching
    summary = Linkage(attributes={})
    empty = pd.DataFrame({"comp_l": pd.Series(dtype="int64"), "comp_r": pd.Series(dtype="int64"),
                          "match_probability": pd.Series(dtype="float64")})
    pairs = empty
    if not matching.enabled:
        summary.skipped = "disabled"
    else:
        present = _profiles(con, identity)
        summary.attributes = present
        summary.profiles = int(con.execute("SELECT count(*) FROM link_profile").fetchall()[0][0]) if present else 0
        rules = blocking_rules(present, matching)
        if len(present) < 2 or not rules or summary.profiles < 2:
            summary.skipped = "too_few_attributes"
        else:
            pairs = _score(con, present, rules, matching, {a for a in present if a in identity.keys}, summary)
    merged, links = cluster(con, comps, pairs, carried, matching, summary)
    summary.seconds = time.perf_counter() - started
    return merged, links, summary


def _score(
    con: duckdb.DuckDBPyConnection, present: dict[str, str], rules: list[list[str]], matching: MatchingConfig,
    keyed: set[str], summary: Linkage,
) -> pd.DataFrame:
    """Fit the model on ``link_profile`` and score the blocked pairs; returns the pairs at
    or above the threshold (comp_l, comp_r, match_probability) and fills ``summary``."""
    from splink import DuckDBAPI  # imported here: the exact rules alone never load Splink

    settings = {
        "link_type": "dedupe_only",
        "unique_id_column_name": "unique_id",
        "comparisons": [comparison(a, c) for a, c in present.items()],
        "blocking_rules_to_generate_predictions": [{"blocking_rule": _rule_sql(r)} for r in rules],
        "retain_matching_columns": False,
        "retain_intermediate_calculation_columns": False,
    }
    level = LOG.level
    LOG.setLevel(logging.ERROR)  # Splink logs its progress; the ingest page reports what matters
    try:
        api = DuckDBAPI(connection=con)
        linker = _train(con, api, settings, rules, present, matching, keyed)
        if linker is None:
            summary.skipped = "too_little_data"
            return pd.DataFrame({"comp_l": pd.Series(dtype="int64"), "comp_r": pd.Series(dtype="int64"),
                                 "match_probability": pd.Series(dtype="float64")})
        scored = linker.inference.predict()
        prior = _log2_odds(linker._settings_obj._probability_two_random_records_match)
        frame = con.execute(
            f"SELECT unique_id_l AS comp_l, unique_id_r AS comp_r, match_weight - {prior!r} AS evidence "
            f"FROM {scored.physical_name}"
        ).df()
        summary.weights = _weights(linker)
    finally:
        LOG.setLevel(level)
    evidence = frame["evidence"].to_numpy(dtype="float64")
    summary.prior = prior_probability(evidence, summary.profiles)
    frame["match_probability"] = 1.0 / (1.0 + np.exp2(-(evidence + _log2_odds(summary.prior))))
    frame = frame[frame["match_probability"] >= CANDIDATE_FLOOR].reset_index(drop=True)
    probabilities = frame["match_probability"].to_numpy(dtype="float64")
    summary.candidates = len(frame)
    summary.probabilities = probabilities
    summary.threshold, summary.expected_precision = choose_threshold(probabilities, matching)
    distance = pd.Series(np.abs(probabilities - summary.threshold), index=frame.index)
    closest = distance[distance <= REVIEW_BAND].sort_values(kind="stable").index[:REVIEW_ROWS]
    summary.review = _level_labels(con, frame.loc[closest], present)
    return frame.loc[probabilities >= summary.threshold, ["comp_l", "comp_r", "match_probability"]].reset_index(drop=True)


def _log2_odds(p: float) -> float:
    return float(np.log2(p / (1.0 - p)))


def prior_probability(evidence: np.ndarray, profiles: int) -> float:
    """The probability that two random profiles are one person, estimated from the
    evidence (log2 Bayes factor) of every candidate pair.

    Splink's EM estimates this prior within one blocking rule's pairs and converts it
    back with the blocking rule's own comparison levels; the kit's blocking keys (a date
    whose day and month may be swapped, sorted pinyin) are no comparison level, so that
    conversion does not apply. Instead the prior is the fixed point of
    lambda = sum_i p_i(lambda) / (n (n - 1) / 2) over the candidate pairs, p_i being the
    posterior of pair i under lambda: every true pair is assumed to be a candidate (the
    blocking rules' recall, checked against the demo's truth), and a pair outside them
    is a match with probability ~0. Few candidates with strong evidence give a small
    prior, so a world with no duplicates links almost nobody."""
    total = profiles * (profiles - 1) / 2.0
    if not evidence.size or total <= 0:
        return 1.0 / max(total, 1.0)
    prior = min(evidence.size / total, 0.5)
    for _ in range(PRIOR_ITERATIONS):
        posterior = 1.0 / (1.0 + np.exp2(-(evidence + _log2_odds(prior))))
        updated = max(float(posterior.sum()) / total, 1.0 / total)
        if abs(updated - prior) <= 1e-6 * prior:
            return updated
        prior = updated
    return prior


def _level_labels(con: duckdb.DuckDBPyConnection, pairs: pd.DataFrame, present: dict[str, str]) -> pd.DataFrame:
    """Scored pairs with each comparison's level (its label), strongest pair first: the
    levels' own SQL conditions evaluated on the two profiles, as Splink evaluates them."""
    columns = [row[0] for row in con.execute("DESCRIBE link_profile").fetchall() if row[0] != "unique_id"]
    sides = ", ".join(f"{side}.{quote_ident(c)} AS {quote_ident(c + '_' + side)}" for side in ("l", "r") for c in columns)
    cases = []
    for attribute, compare in present.items():
        levels = comparison(attribute, compare)["comparison_levels"]
        whens = " ".join(f"WHEN {lv['sql_condition']} THEN {sql_literal(lv['label_for_charts'])}" for lv in levels[:-1])
        cases.append(f"CASE {whens} ELSE {sql_literal(levels[-1]['label_for_charts'])} END AS {quote_ident(attribute)}")
    con.register("link_pairs_df", pairs[["comp_l", "comp_r", "match_probability"]])
    frame = con.execute(
        f"""SELECT comp_l, comp_r, match_probability, {", ".join(cases)} FROM (
            SELECT p.*, {sides} FROM link_pairs_df p
            JOIN link_profile l ON l.unique_id = p.comp_l JOIN link_profile r ON r.unique_id = p.comp_r)
        ORDER BY match_probability DESC, comp_l, comp_r"""
    ).df()
    con.unregister("link_pairs_df")
    return frame.astype({a: "str" for a in present})


def cluster(
    con: duckdb.DuckDBPyConnection, comps: np.ndarray, pairs: pd.DataFrame, carried: pd.DataFrame,
    matching: MatchingConfig, summary: Linkage,
) -> tuple[np.ndarray, pd.DataFrame]:
    """Union-find over the exact-rule customers: carried links first, then accepted pairs
    by falling probability, each refused when it breaks the chaining guard."""
    candidates = pd.concat([carried.assign(match_probability=np.nan), pairs], ignore_index=True)
    candidates = candidates[candidates["comp_l"] != candidates["comp_r"]]
    order = np.lexsort((candidates["comp_r"].to_numpy(), candidates["comp_l"].to_numpy(),
                        -candidates["match_probability"].fillna(2.0).to_numpy()))
    candidates = candidates.iloc[order].reset_index(drop=True)
    dates = _dates(con, summary.attributes, candidates)
    parent: dict[int, int] = {}
    size: dict[int, int] = {}
    known: dict[int, set[tuple[str, str]]] = {}

    def root(x: int) -> int:
        while parent.get(x, x) != x:
            parent[x] = parent.get(parent[x], parent[x])
            x = parent[x]
        return x

    used = []
    for i, (a, b) in enumerate(zip(candidates["comp_l"].to_numpy(), candidates["comp_r"].to_numpy())):
        ra, rb = root(int(a)), root(int(b))
        if ra == rb:
            used.append(i)
            continue
        da, db = known.get(ra, dates.get(ra, set())), known.get(rb, dates.get(rb, set()))
        if size.get(ra, 1) + size.get(rb, 1) > matching.max_cluster_size or not dates_agree(da, db):
            summary.refused += 1
            continue
        keep, gone = (ra, rb) if ra < rb else (rb, ra)
        parent[gone] = keep
        size[keep] = size.get(ra, 1) + size.get(rb, 1)
        known[keep] = da | db
        summary.joined += 1
        used.append(i)
    links = candidates.iloc[used].reset_index(drop=True)
    summary.accepted = int(links["match_probability"].notna().sum())
    if not parent:
        return comps, links
    lookup = np.arange(int(comps.max(initial=-1)) + 1)
    for node in parent:
        lookup[node] = root(node)
    return lookup[comps], links


def _dates(con: duckdb.DuckDBPyConnection, attributes: dict[str, str], candidates: pd.DataFrame) -> dict[int, set[tuple[str, str]]]:
    """comp -> its date attribute values, for the customers the candidate links touch."""
    columns = [a for a, c in attributes.items() if c == "date"]
    if not columns or candidates.empty:
        return {}
    ids = pd.DataFrame({"unique_id": pd.unique(candidates[["comp_l", "comp_r"]].to_numpy().ravel())})
    con.register("link_touched", ids)
    frame = con.execute(
        f"SELECT unique_id, {', '.join(quote_ident(c) for c in columns)} FROM link_profile SEMI JOIN link_touched USING (unique_id)"
    ).df()
    con.unregister("link_touched")
    return {
        int(row[0]): {(c, v) for c, v in zip(columns, row[1:]) if isinstance(v, str)}
        for row in frame.itertuples(index=False)
    }


def dates_agree(left: set[tuple[str, str]], right: set[tuple[str, str]]) -> bool:
    """Whether two people's dates ((attribute, YYYY-MM-DD), e.g. birth dates) can be one
    person's: every pair of the same attribute is equal, day and month swapped, or one
    typed digit apart."""
    return all(_close_dates(a, b) for ka, a in left for kb, b in right if ka == kb)


def _close_dates(a: str, b: str) -> bool:
    if a == b or (a[:4] == b[:4] and a[5:7] == b[8:10] and a[8:10] == b[5:7]):
        return True
    return len(a) == len(b) and sum(x != y for x, y in zip(a, b)) <= 1


# --------------------------------------------------------------------------- outputs


def review_frame(con: duckdb.DuckDBPyConnection, summary: Linkage) -> pd.DataFrame:
    """The borderline pairs (within ``REVIEW_BAND`` of the threshold) as a reviewer sees
    them: each side's customer id and a pseudonymous record reference (10 hex digits of
    the keyed hash that names its exact-rule customer), the match probability, whether
    the link was used, and the level of every comparison. No value is shown."""
    columns = ["customer_id_l", "record_l", "customer_id_r", "record_r", "match_probability", "accepted",
               *summary.attributes]
    if summary.review.empty:
        return pd.DataFrame({c: pd.Series(dtype="float64" if c == "match_probability" else "bool" if c == "accepted" else "str")
                             for c in columns})
    con.register("review_df", summary.review)
    frame = con.execute(
        """WITH side AS (SELECT comp0, any_value(customer_id) AS customer_id, min(h) AS h
                         FROM rec_comp JOIN comp_cid USING (comp) GROUP BY comp0)
        SELECT l.customer_id AS customer_id_l, substr(l.h, 1, 10) AS record_l,
               r.customer_id AS customer_id_r, substr(r.h, 1, 10) AS record_r, v.* EXCLUDE (comp_l, comp_r)
        FROM review_df v JOIN side l ON l.comp0 = v.comp_l JOIN side r ON r.comp0 = v.comp_r
        ORDER BY v.match_probability DESC, record_l, record_r"""
    ).df()
    con.unregister("review_df")
    frame["accepted"] = frame["match_probability"] >= summary.threshold
    return frame[columns].astype({c: "str" for c in columns if c not in ("match_probability", "accepted")})


def linkage_report(summary: Linkage, customers: int) -> dict:
    """The linkage figures of ingest_report.json (the 01_ingest page reads them).

    ``estimated_people``: the customer ids less the duplicates the model expects to remain
    (the sum of probabilities of the candidate pairs left below the threshold) plus the
    false joins it expects among the links used (the sum of 1 - probability): the model's
    own estimate of the people behind the ids, an estimate and labelled so on the page.
    """
    p = summary.probabilities
    below = float(p[p < summary.threshold].sum()) if p.size else 0.0
    above = float((1 - p[p >= summary.threshold]).sum()) if p.size else 0.0
    edges = np.round(np.linspace(CANDIDATE_FLOOR, 1.0, 26), 2)
    counts, _ = np.histogram(p, bins=edges)
    return {
        "skipped": summary.skipped,
        "attributes": summary.attributes,
        "profiles": summary.profiles,
        "candidates": summary.candidates,
        "threshold": None if np.isnan(summary.threshold) else summary.threshold,
        "expected_precision": None if np.isnan(summary.expected_precision) else summary.expected_precision,
        "accepted": summary.accepted,
        "refused": summary.refused,
        "carried": summary.carried,
        "joined": summary.joined,
        "customers_before": customers + summary.joined,
        "estimated_people": customers - below + above,
        "prior": None if np.isnan(summary.prior) else summary.prior,
        "seconds": summary.seconds,
        "weights": summary.weights.to_dict(orient="records"),
        "histogram": {"edges": edges.tolist(), "counts": counts.astype(int).tolist()},
    }
