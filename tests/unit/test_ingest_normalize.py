"""Property tests of the value rules (phones, e-mails, amounts, dates) run through DuckDB."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st

from kit.ingest.normalize import (
    DEFAULT_TIMESTAMP_FORMATS,
    apply_sql,
    mask_email,
    mask_phone,
    normalize_emails,
    normalize_phones,
    number_sql,
    timestamp_sql,
)

MOBILE = re.compile(r"1[3-9]\d{9}")
mobiles = st.builds(
    lambda second, rest: f"1{second}{rest:09d}", st.integers(3, 9), st.integers(0, 999_999_999)
)
STYLES = (
    lambda p: p,
    lambda p: f"{p[:3]} {p[3:7]} {p[7:]}",
    lambda p: f"+86 {p[:3]}-{p[3:7]}-{p[7:]}",
    lambda p: f"0086 {p}",
    lambda p: f"+86-{p}",
    lambda p: f"86{p}",
    lambda p: f" ({p[:3]}) {p[3:7]}.{p[7:]} ",
)
settings.register_profile("ingest", max_examples=40, deadline=None)
settings.load_profile("ingest")


@given(st.lists(st.tuples(mobiles, st.integers(0, len(STYLES) - 1)), min_size=1, max_size=40))
def test_every_writing_style_gives_the_11_digit_number(items):
    written = [STYLES[style](phone) for phone, style in items]
    assert normalize_phones(written) == [phone for phone, _ in items]


@given(st.lists(st.one_of(st.none(), st.text(max_size=20), st.from_regex(r"\+?[0-9 \-]{5,16}", fullmatch=True)), max_size=40))
def test_phone_output_is_a_mobile_or_null_and_idempotent(values):
    out = normalize_phones(values)
    assert all(v is None or MOBILE.fullmatch(v) for v in out)
    assert normalize_phones(out) == out


@given(mobiles, st.integers(0, 10), st.sampled_from("abcxyz#/"))
def test_letters_inside_a_phone_make_it_invalid(phone, position, letter):
    assert normalize_phones([phone[:position] + letter + phone[position:]]) == [None]


@given(mobiles)
def test_wrong_lengths_and_landlines_are_invalid(phone):
    assert normalize_phones([phone[:-1], phone + "0", "010" + phone[3:], "2" + phone[1:]]) == [None] * 4


local = st.from_regex(r"[a-z0-9][a-z0-9._]{0,10}", fullmatch=True)
domain = st.from_regex(r"[a-z0-9]{1,8}(\.[a-z0-9]{1,8})?\.(com|cn|net|org)", fullmatch=True)


@given(st.lists(st.tuples(local, domain, st.booleans(), st.text(" \t", max_size=3)), min_size=1, max_size=30))
def test_emails_are_trimmed_and_lower_cased(items):
    written = [f"{pad}{(l + '@' + d).upper() if upper else l + '@' + d}{pad}" for l, d, upper, pad in items]
    assert normalize_emails(written) == [f"{l}@{d}" for l, d, _, _ in items]


@given(st.lists(st.one_of(st.none(), st.text(max_size=25)), max_size=30))
def test_email_output_is_valid_lower_case_or_null(values):
    out = normalize_emails(values)
    assert all(v is None or (v == v.lower() and "@" in v and v == v.strip()) for v in out)
    assert normalize_emails(out) == out


def _evaluate(expr: str, values: list[str]) -> list:
    return apply_sql(lambda col, dtype: expr, values)


@given(st.lists(st.decimals(min_value=-10**7, max_value=10**7, places=2, allow_nan=False), min_size=1, max_size=30))
def test_amounts_with_currency_signs_and_separators_parse(values):
    written = [f"¥{v:,.2f}" if i % 3 == 0 else (f"{v}元" if i % 3 == 1 else f"{v}") for i, v in enumerate(values)]
    assert _evaluate(number_sql("x", "VARCHAR"), written) == [float(v) for v in values]


@given(st.lists(st.text(alphabet="abcxyz待定#!", min_size=1, max_size=6), min_size=1, max_size=20))
def test_text_amounts_do_not_parse(values):
    assert _evaluate(number_sql("x", "VARCHAR"), values) == [None] * len(values)


@given(st.lists(st.dates(min_value=dt.date(1930, 1, 1), max_value=dt.date(2030, 12, 31)), min_size=1, max_size=30))
def test_chinese_and_slash_dates_parse_with_the_default_formats(days):
    styles = ("{d:%Y-%m-%d}", "{d.year}/{d.month}/{d.day}", "{d.year}年{d.month}月{d.day}日")
    written = [styles[i % 3].format(d=d) for i, d in enumerate(days)]
    expr = timestamp_sql("x", "VARCHAR", DEFAULT_TIMESTAMP_FORMATS, None, "Asia/Shanghai")
    assert _evaluate(expr, written) == [dt.datetime(d.year, d.month, d.day) for d in days]


def test_impossible_dates_do_not_parse():
    expr = timestamp_sql("x", "VARCHAR", ["%Y-%m-%d %H:%M:%S", "%d/%m/%Y %H:%M"], None, "Asia/Shanghai")
    values = ["0000-00-00 00:00:00", "2025-02-30 12:00:00", "2025-13-01 10:00:00", "unknown", "31/02/2025 14:00"]
    assert _evaluate(expr, values) == [None] * 5


def test_source_time_zone_converts_to_project_time():
    expr = timestamp_sql("x", "VARCHAR", ["%Y-%m-%d %H:%M:%S"], "UTC", "Asia/Shanghai")
    assert _evaluate(expr, ["2024-01-01 00:00:00"]) == [dt.datetime(2024, 1, 1, 8, 0)]


def test_masks_hide_phones_and_emails():
    text = "call 138 0013 8000 or 13912345678, mail Foo.Bar@example.com"
    masked = _evaluate(mask_email(mask_phone("x")), [text])[0]
    assert masked == "call 138****8000 or 139****5678, mail F***@example.com"


FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
SEPARATORS = ("", "", "", " ", "-", ".", "(", ")", "\u3000", "\t", " - ")
PREFIXES = ("", "+86", "0086", "86", "+86 ", "(+86) ", "0086-", "+86 (", "86-")


@st.composite
def written_phones(draw) -> tuple[str, str, bool]:
    """(phone, a writing of it, whether the phone rule accepts that writing): any prefix
    and separators the rule strips, then maybe full-width digits and surrounding text."""
    phone = draw(mobiles)
    text = draw(st.sampled_from(PREFIXES))
    for digit in phone:
        text += digit + draw(st.sampled_from(SEPARATORS))
    accepted = True
    if draw(st.booleans()):
        text = text.translate(FULL_WIDTH) if draw(st.booleans()) else "".join(
            c.translate(FULL_WIDTH) if draw(st.booleans()) else c for c in text
        )
        accepted = False  # the phone rule reads ASCII digits only; the mask reads both
    if draw(st.booleans()):
        text = draw(st.sampled_from(("tel:", "电话 ", "\u3000", "call me on "))) + text + draw(st.sampled_from(("", " thanks", "（手机）", "\u3000")))
        accepted = False
    return phone, text, accepted


def longest_clear_run(masked: str, phone: str) -> int:
    """The most consecutive digits of ``phone`` readable in ``masked`` (full-width digits
    read as digits, separators skipped)."""
    digits = unicodedata.normalize("NFKC", masked)
    digits = re.sub(r"[\s\-().\u3000/_]", "", digits)
    return max((n for n in range(1, len(phone) + 1) for i in range(len(phone) - n + 1) if phone[i : i + n] in digits), default=0)


@given(st.lists(written_phones(), min_size=1, max_size=30))
def test_mask_hides_every_writing_of_a_phone(items):
    writings = [text for _, text, _ in items]
    accepted = [phone for (phone, _, ok) in items if ok]
    assert [p for p, (_, _, ok) in zip(normalize_phones(writings), items) if ok] == accepted
    for (phone, text, _), masked in zip(items, _evaluate(mask_phone("x"), writings)):
        assert "****" in masked and longest_clear_run(masked, phone) <= 4, (text, masked)
