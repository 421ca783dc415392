"""Value normalisation as DuckDB SQL expressions: phones, e-mails, numbers, timestamps.

Each builder returns a SQL expression over one column so that cleaning runs as set-based
SQL inside DuckDB (millions of rows, no Python loop per row). The same expressions back
the small Python helpers ``normalize_phones`` / ``normalize_emails`` used by the tests,
so the tested code is the code that runs.

Rules
- Phone: a mainland mobile ``1[3-9]`` + 9 digits. Spaces, dashes, dots and brackets are
  removed, then a ``+86`` / ``0086`` / ``86`` country prefix. Anything else (letters,
  landlines, wrong length) becomes null; the caller counts it as ``phone_invalid``.
- E-mail: trimmed, lower-cased, then checked against a deliberately simple pattern
  (local@domain.tld); failing values become null (``email_invalid``).
- Numbers: a currency sign (any Unicode currency symbol such as ``¥ ￥ $ € £``, with up
  to two capital letters before it: ``US$``, ``HK$``), a three-letter currency code
  before or after the number (``RMB``, ``USD``, ``EUR``), a ``元`` suffix and thousands
  separators are accepted; any other text gives null, which the caller quarantines (text
  in numbers).
- Timestamps: a list of strptime formats tried in order (DuckDB ``try_strptime`` with a
  list), including the Chinese ``%Y年%m月%d日`` form; single-digit months and days parse.
  Typed timestamp columns (Parquet) are used as they are. A source time zone different
  from the project's converts to naive project-local time, except for dates: a source
  whose formats all lack a time of day (``formats_have_time``) writes calendar days, the
  same day in every zone, so they are not shifted to another hour or day.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import duckdb

# Used when a source declares no timestamp formats. Day-first forms such as
# ``%d/%m/%Y`` are ambiguous with month-first ones and must be declared per source.
DEFAULT_TIMESTAMP_FORMATS: tuple[str, ...] = (
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%Y/%m/%d",
    "%Y年%m月%d日 %H:%M:%S",
    "%Y年%m月%d日 %H:%M",
    "%Y年%m月%d日",
)

# strptime directives that read a time of day
TIME_DIRECTIVES = ("%H", "%I", "%M", "%S", "%T", "%R", "%X", "%c", "%p")
# What a number may carry around it (removed before the cast): a currency sign with up to
# two capital letters before it (US$, HK$), a three-letter code at either end, 元, and
# thousands separators. Anything else left makes the cast fail (text in numbers).
CURRENCY_PATTERN = r"^[A-Z]{3}\s*|\s*[A-Z]{3}$|[A-Z]{0,2}\p{Sc}\s*|\s*元$|,"
PHONE_PATTERN = r"1[3-9][0-9]{9}"
EMAIL_PATTERN = r"[a-z0-9._%+\-]+@[a-z0-9\-]+(\.[a-z0-9\-]+)*\.[a-z]{2,}"
# Pseudo-type of a text column already trimmed, blanks as NULL (clean_source's first step):
# builders then use it as it is instead of trimming it again.
TRIMMED = "TRIMMED"
TEXT_TYPES = ("VARCHAR", TRIMMED)
SPACES = " \t\r\n\u3000"  # trimmed from both ends of every text value (incl. full-width space)


def quote_ident(name: str) -> str:
    """A column name quoted for SQL (Chinese headers, spaces and quotes are safe)."""
    return '"' + name.replace('"', '""') + '"'


def sql_literal(value: str) -> str:
    """A text value as a SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


def trim_sql(col: str) -> str:
    """``col`` as text without leading / trailing spaces, tabs, line breaks, full-width spaces.

    DuckDB's ``trim(x, characters)`` is about 8x slower than a check of the first and last
    character (measured: 1.5 s against 0.2 s on 2,000,000 phone values), and almost every
    value needs no trimming, so only values that start or end with one of ``SPACES`` take
    the slow path.
    """
    text, spaces = f"CAST({col} AS VARCHAR)", sql_literal(SPACES)
    # contains(), not IN (...): DuckDB plans an IN list as a join, two per column
    return f"CASE WHEN contains({spaces}, {text}[1]) OR contains({spaces}, {text}[-1]) THEN trim({text}, {spaces}) ELSE {text} END"


def trimmed_text_sql(col: str, dtype: str) -> str:
    """``col`` as the builders' input: text trimmed once, blank as NULL; typed values as they are.

    ``clean_source`` selects this for every column first, so that each value is trimmed
    once however many rules read it (nesting the trim inside every rule made the
    cleaning of 2,000,000 shop orders take 37 s instead of 6 s).
    """
    return f"nullif({trim_sql(col)}, '')" if dtype in TEXT_TYPES else col


def _text(col: str, dtype: str) -> str:
    """``col`` as trimmed text (as it is for ``TRIMMED`` columns)."""
    return col if dtype == TRIMMED else trim_sql(col)


def blank_sql(col: str, dtype: str) -> str:
    """True when the raw value is missing: null, or only spaces for text."""
    if dtype == TRIMMED:
        return f"({col} IS NULL)"
    if dtype in TEXT_TYPES:
        return f"(nullif({trim_sql(col)}, '') IS NULL)"
    return f"({col} IS NULL)"


def text_sql(col: str, dtype: str) -> str:
    """Trimmed text, null when blank."""
    if dtype == TRIMMED:
        return col
    if dtype in TEXT_TYPES:
        return f"nullif({trim_sql(col)}, '')"
    return f"CAST({col} AS VARCHAR)"


def phone_sql(col: str, dtype: str) -> str:
    """The 11-digit mainland mobile number in ``col``, or null when it is not one.

    Numbers already written as 11 plain digits take a fast path without regular
    expressions; the others lose their separators and one country prefix by regex.
    """
    text = _text(col, dtype)
    plain = f"length({text}) = 11 AND TRY_CAST({text} AS BIGINT) BETWEEN 13000000000 AND 19999999999"
    stripped = f"regexp_replace({text}, '[\\s\\-().\u3000]', '', 'g')"
    slow = f"nullif(regexp_extract({stripped}, '^(?:\\+86|0086|86)?({PHONE_PATTERN})$', 1), '')"
    return f"CASE WHEN {plain} THEN {text} ELSE {slow} END"


def email_sql(col: str, dtype: str) -> str:
    """The trimmed lower-case e-mail in ``col``, or null when it is not a valid address."""
    lowered = f"lower({_text(col, dtype)})"
    return f"CASE WHEN regexp_full_match({lowered}, '{EMAIL_PATTERN}') THEN {lowered} END"


def number_sql(col: str, dtype: str) -> str:
    """The value as DOUBLE, or null when it is blank or not a finite number."""
    if dtype not in TEXT_TYPES:
        return f"TRY_CAST({col} AS DOUBLE)"
    text = _text(col, dtype)
    cleaned = f"regexp_replace({text}, {sql_literal(CURRENCY_PATTERN)}, '', 'g')"
    # plain numbers parse without a regular expression; the cleaned text is the fallback
    value = f"coalesce(TRY_CAST({text} AS DOUBLE), TRY_CAST({cleaned} AS DOUBLE))"
    return f"CASE WHEN isfinite({value}) THEN {value} END"


def whole_number_sql(number: str) -> str:
    """A DOUBLE expression as BIGINT when it is a whole number, else null."""
    return f"CASE WHEN {number} = round({number}) THEN CAST({number} AS BIGINT) END"


def formats_have_time(formats: list[str] | tuple[str, ...]) -> bool:
    """Whether any of a source's strptime formats reads a time of day (empty = the built-in
    list, which does)."""
    return any(directive in f for f in formats or DEFAULT_TIMESTAMP_FORMATS for directive in TIME_DIRECTIVES)


def local_timestamp_sql(col: str, dtype: str, formats: list[str] | tuple[str, ...], project_tz: str) -> str:
    """The value as a naive TIMESTAMP in the time zone it was written in (a value with a
    zone of its own is converted to project time), or null when it cannot be parsed."""
    if dtype.startswith("TIMESTAMP WITH TIME ZONE"):
        return f"timezone({sql_literal(project_tz)}, {col})"
    if dtype.startswith("TIMESTAMP") or dtype == "DATE":
        return f"CAST({col} AS TIMESTAMP)"
    fmt_list = "[" + ", ".join(sql_literal(f) for f in formats or DEFAULT_TIMESTAMP_FORMATS) + "]"
    return f"try_strptime({_text(col, dtype)}, {fmt_list})"


def shifts_zone(dtype: str, source_tz: str | None, project_tz: str) -> bool:
    """Whether a naive local value of this column must be converted to project time."""
    return bool(source_tz) and source_tz != project_tz and not dtype.startswith("TIMESTAMP WITH TIME ZONE")


def zone_sql(value: str, source_tz: str, project_tz: str) -> str:
    """A naive TIMESTAMP written in ``source_tz`` as naive project-local time."""
    return f"timezone({sql_literal(project_tz)}, timezone({sql_literal(source_tz)}, {value}))"


def timestamp_sql(
    col: str,
    dtype: str,
    formats: list[str] | tuple[str, ...],
    source_tz: str | None,
    project_tz: str,
) -> str:
    """The value as a naive project-local TIMESTAMP, or null when it cannot be parsed.

    Dates (every declared format without a time of day) keep their calendar day.
    """
    value = local_timestamp_sql(col, dtype, formats, project_tz)
    if shifts_zone(dtype, source_tz, project_tz) and (dtype not in TEXT_TYPES or formats_have_time(formats)):
        value = zone_sql(value, source_tz, project_tz)  # type: ignore[arg-type]
    return value


# Masking phones in the quarantine: every writing the phone rule accepts (separators
# between any digits, a +86 / 0086 / 86 prefix) and more - full-width digits, full-width
# separators and signs, non-breaking spaces - since a rejected value is still a person's.
_MASK_DIGIT = "[0-9\uff10-\uff19]"
_MASK_SEPARATORS = "[\\s\\-().\u3000\u00a0\u2010-\u2015\uff08\uff09\uff0d\uff0e/_]*"
_MASK_PREFIX = f"(?:[+\uff0b]?{_MASK_SEPARATORS}(?:[0\uff10]{_MASK_SEPARATORS}[0\uff10]{_MASK_SEPARATORS})?[8\uff18]{_MASK_SEPARATORS}[6\uff16]{_MASK_SEPARATORS})?"
_MASK_PHONE = (
    _MASK_PREFIX
    + f"([1\uff11]){_MASK_SEPARATORS}([3-9\uff13-\uff19]){_MASK_SEPARATORS}({_MASK_DIGIT})"
    + f"(?:{_MASK_SEPARATORS}{_MASK_DIGIT}){{4,6}}"  # up to 2 digits too many: a mistyped number
    + "".join(f"{_MASK_SEPARATORS}({_MASK_DIGIT})" for _ in range(4))
)


def mask_phone(col: str) -> str:
    """SQL masking every mobile number in ``col``, however written, to ``138****8000``.

    Keeps the first 3 and last 4 of the 11 (up to 13) digits, full-width digits staying
    full-width, and drops the country prefix and the separators inside the number, so that
    no more than 4 of its digits stand together.
    """
    return f"regexp_replace(CAST({col} AS VARCHAR), {sql_literal(_MASK_PHONE)}, '\\1\\2\\3****\\4\\5\\6\\7', 'g')"


def mask_email(col: str) -> str:
    """SQL masking the local part of e-mails: ``a***@example.com``."""
    return f"regexp_replace(CAST({col} AS VARCHAR), '([A-Za-z0-9])[A-Za-z0-9._%+\\-]*@', '\\1***@', 'g')"


def mask_phone_value(phone: str) -> str:
    """A normalised 11-digit phone shown as ``138****8000`` (for reports)."""
    return f"{phone[:3]}****{phone[-4:]}" if len(phone) == 11 else "****"


@functools.cache
def _connection() -> duckdb.DuckDBPyConnection:
    """One in-memory DuckDB connection for the small list helpers below."""
    return duckdb.connect()


def apply_sql(expr_builder: Callable[[str, str], str], values: list[str | None]) -> list:
    """``expr_builder`` (e.g. ``phone_sql``) applied to a Python list of text values."""
    query = (
        f"SELECT {expr_builder('x', 'VARCHAR')} FROM (SELECT unnest($1::VARCHAR[]) AS x, "
        "generate_subscripts($1::VARCHAR[], 1) AS i) ORDER BY i"
    )
    return [row[0] for row in _connection().execute(query, [values]).fetchall()]


def normalize_phones(values: list[str | None]) -> list[str | None]:
    """``phone_sql`` applied to a Python list (tests and small look-ups)."""
    return apply_sql(phone_sql, values)


def normalize_emails(values: list[str | None]) -> list[str | None]:
    """``email_sql`` applied to a Python list (tests and small look-ups)."""
    return apply_sql(email_sql, values)
