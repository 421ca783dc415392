"""Run months and snapshot dates.

A run month ``YYYY-MM`` is analysed "as of" its snapshot: the last instant of the month.
Everything the kit computes for a month uses data strictly before ``snapshot_end(month)``
(i.e. up to and including the month's last day).
"""

from __future__ import annotations

import pandas as pd

from kit.core.config import MONTH_PATTERN


def check_month(month: str) -> str:
    """Return ``month`` if it is ASCII ``YYYY-MM`` with a month 01-12 (no full-width digits,
    no trailing newline); raise ValueError naming the expected form."""
    if not isinstance(month, str) or not MONTH_PATTERN.match(month):
        raise ValueError(f"month {str(month)[:40]!r} is not in the form YYYY-MM with a month 01-12 (for example 2026-10)")
    return month


def snapshot_end(month: str) -> pd.Timestamp:
    """The exclusive upper bound of a run month: midnight at the start of the next month."""
    return pd.Period(check_month(month), freq="M").end_time.normalize() + pd.Timedelta(days=1)


def snapshot_date(month: str) -> pd.Timestamp:
    """The last calendar day of a run month (the date reports call "as of")."""
    return snapshot_end(month) - pd.Timedelta(days=1)


def shift_month(month: str, months: int) -> str:
    """The run month ``months`` later (negative for earlier)."""
    return str(pd.Period(check_month(month), freq="M") + months)


def previous_month(month: str) -> str:
    """The run month before ``month``."""
    return shift_month(month, -1)
