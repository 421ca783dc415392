"""The report shell every notebook uses: theme, formatting, translation and page blocks."""

from kit.report.blocks import Highlight, Kpi
from kit.report.fmt import Formatter
from kit.report.i18n import t
from kit.report.page import Report

__all__ = ["Formatter", "Highlight", "Kpi", "Report", "t"]
