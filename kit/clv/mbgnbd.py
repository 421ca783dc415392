"""MBG/NBD purchase model (Batislam, Denizel and Filiztekin 2007).

The BG/NBD model with one change: a customer may also leave right after the first
purchase, so someone who never came back can be "dead" (BG/NBD keeps every
one-time buyer alive). The formulas are BG/NBD's with the dropout count shifted by one;
see kit.clv.bgnbd, which implements both (and says why they are written by hand).
"""

from __future__ import annotations

from typing import ClassVar

from kit.clv.bgnbd import BetaGeoModel


class ModifiedBetaGeoModel(BetaGeoModel):
    """MBG/NBD: parameters r, alpha (purchase rate) and a, b (dropout, also at the first purchase)."""

    name: ClassVar[str] = "mbgnbd"
    label: ClassVar[str] = "MBG/NBD"
    shift: ClassVar[int] = 1
