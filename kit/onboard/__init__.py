"""Onboarding a company's own data: ``kit init`` and ``kit check``.

``init_project`` (``starter``) sniffs a folder of exports (``sniff``: format, encoding,
delimiter, header row, date formats), guesses each file's kind, header mapping and
identity keys (``guess``, with the English and Chinese header ``synonyms``) and writes a
commented starter config. ``check_config`` (``check``) validates a config against the raw
files before a run. ``needs`` says what each notebook can show with the declared sources.
A top-level tool like the CLI: it reads with ingest's own readers and parsers.
"""

from kit.onboard.check import CheckReport, check_config
from kit.onboard.starter import (
    InitResult,
    OnboardError,
    default_config_path,
    init_project,
)

__all__ = ["CheckReport", "InitResult", "OnboardError", "check_config", "default_config_path", "init_project"]
