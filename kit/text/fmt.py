"""Number, money, percent, day and date formatting for reports, in English and Chinese.

English groups thousands (``1,234,567``) and abbreviates money with K/M/B when compact;
Chinese uses 万 (10^4) and 亿 (10^8) for large figures, the way Chinese reports do.
Missing values print as an em dash, never as ``nan``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

CURRENCY_SYMBOLS = {"CNY": "¥", "RMB": "¥", "USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "HKD": "HK$"}
MISSING = "—"


def _missing(x: object) -> bool:
    """Whether ``x`` is None, NaN or pandas NA."""
    try:
        return x is None or bool(pd.isna(x))
    except (TypeError, ValueError):
        return False


def _trim(text: str) -> str:
    """Drop trailing zeros of a decimal: ``12.0`` -> ``12``, ``3.20`` -> ``3.2``."""
    return text.rstrip("0").rstrip(".") if "." in text else text


@dataclass(frozen=True)
class Formatter:
    """Formats numbers for one report language and currency."""

    lang: str = "en"
    currency: str = "CNY"

    @property
    def symbol(self) -> str:
        """The currency symbol (the code itself when unknown)."""
        return CURRENCY_SYMBOLS.get(self.currency, self.currency + " ")

    def _large(self, x: float, decimals: int) -> str:
        """A large magnitude in the language's units (万/亿 or K/M/B)."""
        a = abs(x)
        if self.lang == "zh":
            if a >= 1e8:
                return _trim(f"{x / 1e8:,.{max(decimals, 2)}f}") + "亿"
            if a >= 1e4:
                return _trim(f"{x / 1e4:,.{max(decimals, 1)}f}") + "万"
            return f"{x:,.0f}"
        for size, unit in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
            if a >= size:
                return _trim(f"{x / size:,.{max(decimals, 1)}f}") + unit
        return f"{x:,.0f}"

    def int(self, x: object) -> str:
        """A count: ``12,345`` (en) or ``1.2万`` from 100,000 up (zh)."""
        if _missing(x):
            return MISSING
        value = float(x)  # type: ignore[arg-type]
        if self.lang == "zh" and abs(value) >= 1e5:
            return self._large(value, 1)
        return f"{value:,.0f}"

    def num(self, x: object, decimals: int = 1) -> str:
        """A plain number with ``decimals`` places."""
        if _missing(x):
            return MISSING
        return f"{float(x):,.{decimals}f}"  # type: ignore[arg-type]

    def money(self, x: object, compact: bool = False, decimals: int = 0) -> str:
        """An amount of money: ``¥1,234`` or compact ``¥1.2M`` / ``¥123.5万``."""
        if _missing(x):
            return MISSING
        value = float(x)  # type: ignore[arg-type]
        sign = "-" if value < 0 else ""
        if compact or (self.lang == "zh" and abs(value) >= 1e5):
            return f"{sign}{self.symbol}{self._large(abs(value), 1)}"
        return f"{sign}{self.symbol}{abs(value):,.{decimals}f}"

    def pct(self, x: object, decimals: int = 1) -> str:
        """A fraction as a percent: 0.123 -> ``12.3%``."""
        if _missing(x):
            return MISSING
        return f"{float(x) * 100:.{decimals}f}%"  # type: ignore[arg-type]

    def pp(self, x: object, decimals: int = 1) -> str:
        """A change of a fraction in percentage points: 0.012 -> ``+1.2 pp`` / ``+1.2个百分点``."""
        if _missing(x):
            return MISSING
        unit = "个百分点" if self.lang == "zh" else " pp"
        return f"{float(x) * 100:+.{decimals}f}{unit}"  # type: ignore[arg-type]

    def change(self, x: object, decimals: int = 1) -> str:
        """A signed relative change: 0.052 -> ``+5.2%``."""
        if _missing(x):
            return MISSING
        value = float(x)  # type: ignore[arg-type]
        if math.isinf(value):
            return MISSING
        return f"{value * 100:+.{decimals}f}%"

    def days(self, x: object) -> str:
        """A number of days: ``45 days`` / ``45天``."""
        if _missing(x):
            return MISSING
        value = float(x)  # type: ignore[arg-type]
        if self.lang == "zh":
            return f"{value:,.0f}天"
        return f"{value:,.0f} day" + ("" if round(value) == 1 else "s")

    def date(self, x: object) -> str:
        """A date: ``2026-10-31`` (en) or ``2026年10月31日`` (zh)."""
        if _missing(x):
            return MISSING
        ts = pd.Timestamp(x)  # type: ignore[arg-type]
        return f"{ts.year}年{ts.month}月{ts.day}日" if self.lang == "zh" else ts.strftime("%Y-%m-%d")

    def month(self, month: str) -> str:
        """A run month: ``October 2026`` / ``2026年10月``."""
        period = pd.Period(month, freq="M")
        return f"{period.year}年{period.month}月" if self.lang == "zh" else period.strftime("%B %Y")

    def apply(self, x: object, kind: str) -> str:
        """Format ``x`` by a kind name used in table specs (int, num1, num2, money, pct, pp, days, date, text)."""
        if kind == "int":
            return self.int(x)
        if kind in ("num1", "num2"):
            return self.num(x, int(kind[-1]))
        if kind == "money":
            return self.money(x)
        if kind == "money_compact":
            return self.money(x, compact=True)
        if kind == "pct":
            return self.pct(x)
        if kind == "pp":
            return self.pp(x)
        if kind == "change":
            return self.change(x)
        if kind == "days":
            return self.days(x)
        if kind == "date":
            return self.date(x)
        if kind == "text":
            return MISSING if _missing(x) else str(x)
        raise ValueError(
            f"unknown format {kind!r}; use int, num1, num2, money, money_compact, pct, pp, change, days, date or text"
        )
