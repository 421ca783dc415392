"""Segments stage: RFM segments, value tiers and lifecycle stages (``pipeline``), data-driven
personas (``personas``), month-over-month movement (``movement``) and the 03 page (``page``).

Entry point: ``run_month(wh, month, config) -> MonthRun`` (``MonthRun.write(wh)`` writes
snapshots/<month>/segments.parquet and personas.json; ``MonthRun.headline()`` the metrics).
Other stages' compute uses this face: ``load_personas`` (a month's personas.json) and
``transitions`` (who moved between layers); kit.frames uses ``rfm_layers`` (RFM scores and
segments, value tier and lifecycle stage of any profile-shaped frame); their pages name layers through kit.segments.page.
"""

from kit.segments.movement import transitions
from kit.segments.personas import load_personas
from kit.segments.pipeline import MonthRun, rfm_layers, run_month

__all__ = ["MonthRun", "load_personas", "rfm_layers", "run_month", "transitions"]
