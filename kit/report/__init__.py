"""The report shell every notebook uses: theme, formatting, translation and page blocks."""

from kit.report.shell import Report
from kit.text.cards import Highlight, Kpi
from kit.text.fmt import Formatter
from kit.text.i18n import t

__all__ = ["Formatter", "Highlight", "Kpi", "Report", "t"]
