"""Chart theme: a colour-blind safe palette, readable fonts, Chinese glyphs, stable colours.

Chinese text must render with a pip-only install, so the Noto Sans SC font shipped by the
``zhplot`` package (SIL Open Font License) is registered with matplotlib by path and put
second in the sans-serif list: Latin text stays in DejaVu Sans and matplotlib falls back
to Noto Sans SC glyph by glyph. We do not import ``zhplot`` itself, because importing it
switches every font to Noto Sans SC.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
from pathlib import Path

import matplotlib as mpl
from matplotlib import font_manager

CJK_FAMILY = "Noto Sans SC"

# Okabe & Ito (2008), the standard colour-blind safe palette, then two darker extras.
PALETTE = [
    "#0072B2",  # blue
    "#E69F00",  # orange
    "#009E73",  # bluish green
    "#CC79A7",  # reddish purple
    "#56B4E9",  # sky blue
    "#D55E00",  # vermillion
    "#F0E442",  # yellow
    "#000000",  # black
    "#7F7F7F",  # grey
    "#8C564B",  # brown
    "#332288",  # indigo
    "#117733",  # dark green
]
GOOD, BAD, NEUTRAL = "#009E73", "#D55E00", "#7F7F7F"

# Fixed colour order for the kit's known vocabularies, so a segment has one colour everywhere.
KNOWN_ORDERS = {
    "segment": [
        "Champions", "Loyal", "Potential Loyalist", "New", "Promising", "Need Attention",
        "About to Sleep", "At Risk", "Can't Lose Them", "Hibernating", "Lost", "Prospect",
    ],
    "stage": ["new", "active", "silent", "churned", "prospect"],
    "tier": ["high", "medium", "low"],
}
STAGE_COLORS = {"new": "#56B4E9", "active": "#009E73", "silent": "#E69F00", "churned": "#D55E00", "prospect": "#7F7F7F"}
TIER_COLORS = {"high": "#0072B2", "medium": "#56B4E9", "low": "#BBBBBB"}


def cjk_font_path() -> Path:
    """Path of NotoSansSC-Regular.ttf inside the installed ``zhplot`` package."""
    spec = importlib.util.find_spec("zhplot")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the zhplot package (which ships Noto Sans SC) is not installed: pip install zhplot")
    path = Path(list(spec.submodule_search_locations)[0]) / "fonts" / "NotoSansSC-Regular.ttf"
    if not path.is_file():
        raise RuntimeError(f"Noto Sans SC font not found at {path}; reinstall zhplot")
    return path


def apply_theme() -> None:
    """Set matplotlib defaults for every report chart (idempotent)."""
    # Noto Sans SC ships one weight; bold CJK titles are drawn from it, which matplotlib
    # logs as "Failed to find font weight bold" on every chart. That is expected here.
    logging.getLogger("matplotlib.font_manager").setLevel(logging.ERROR)
    names = {f.name for f in font_manager.fontManager.ttflist}
    if CJK_FAMILY not in names:
        font_manager.fontManager.addfont(str(cjk_font_path()))
    mpl.rcParams.update(
        {
            # An explicit family list (not the "sans-serif" alias) is what makes matplotlib
            # fall back glyph by glyph from DejaVu Sans to Noto Sans SC.
            "font.family": ["DejaVu Sans", CJK_FAMILY],
            "axes.unicode_minus": False,
            "axes.prop_cycle": mpl.cycler(color=PALETTE),
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.grid": True,
            "grid.alpha": 0.3,
            "axes.titlesize": 13,
            "axes.titleweight": "bold",
            "axes.labelsize": 11,
            "xtick.labelsize": 10,
            "ytick.labelsize": 10,
            "legend.fontsize": 10,
            "legend.frameon": False,
            "figure.dpi": 100,
            "savefig.dpi": 110,
            "savefig.bbox": "tight",
            "figure.autolayout": False,
            "figure.constrained_layout.use": True,
        }
    )


def colors(names: list[str], kind: str = "") -> dict[str, str]:
    """A colour per name, the same in every report.

    Known vocabularies (RFM segments, lifecycle stages, value tiers) use fixed colours.
    Other names (personas, variants) take a palette slot from a hash of the name, moving
    to the next free slot only when two names in the same chart collide.
    """
    fixed = {"stage": STAGE_COLORS, "tier": TIER_COLORS}.get(kind, {})
    order = KNOWN_ORDERS.get(kind, [])
    result: dict[str, str] = {}
    used: set[int] = set()
    for name in names:
        key = str(name)
        if key in fixed:
            result[key] = fixed[key]
            continue
        if key in order:
            slot = order.index(key) % len(PALETTE)
        else:
            slot = int(hashlib.md5(key.encode("utf-8")).hexdigest(), 16) % len(PALETTE)
            for _ in range(len(PALETTE)):
                if slot not in used:
                    break
                slot = (slot + 1) % len(PALETTE)
        used.add(slot)
        result[key] = PALETTE[slot]
    return result
