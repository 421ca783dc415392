"""Embed the Chinese glyphs a page uses, so it reads correctly on any machine, offline.

A report page must be one self-contained file, readable where no Chinese font is
installed. Embedding the whole Noto Sans SC (about 10 MB) would break the 3 MB page
budget, so we subset it to the CJK characters that actually occur in the page with
fontTools (already a matplotlib dependency) and inline the result as a base64 TrueType
``@font-face``. A typical Chinese report needs a few hundred glyphs: 100-400 KB.
"""

from __future__ import annotations

import base64
import io
import re

from fontTools import subset
from fontTools.ttLib import TTFont

from kit.report.theme import cjk_font_path

FAMILY = "Kit Noto Sans SC"
# CJK ideographs, CJK punctuation, full-width forms and the 万/亿 style marks.
CJK_CHARS = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef]")


def cjk_characters(text: str) -> str:
    """The distinct CJK characters of ``text``, sorted (empty when there are none)."""
    return "".join(sorted(set(CJK_CHARS.findall(text))))


def font_face_css(text: str) -> str:
    """A ``<style>`` element declaring a subset font for the CJK characters of ``text``.

    Returns an empty string when the text has no CJK characters.
    """
    chars = cjk_characters(text)
    if not chars:
        return ""
    font = TTFont(str(cjk_font_path()))
    options = subset.Options()
    options.layout_features = ["*"]
    options.name_IDs = ["*"]
    options.notdef_outline = True
    subsetter = subset.Subsetter(options=options)
    subsetter.populate(text=chars)
    subsetter.subset(font)
    buffer = io.BytesIO()
    font.save(buffer)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return (
        "<style>@font-face{font-family:\"" + FAMILY + "\";"
        f"src:url(data:font/ttf;base64,{data}) format(\"truetype\");"
        "unicode-range:U+3000-303F,U+3400-4DBF,U+4E00-9FFF,U+FF00-FFEF;}"
        # The subset family comes first: it holds only CJK glyphs, so Latin text falls
        # through to DejaVu Sans, and Chromium never shapes CJK text before the font loads.
        "body{font-family:\"" + FAMILY + "\",\"DejaVu Sans\",Arial,sans-serif;}</style>"
    )


def embed_font(html: str) -> str:
    """``html`` with a subset CJK font injected before ``</head>`` (unchanged if no CJK text)."""
    css = font_face_css(html)
    if not css:
        return html
    if "</head>" in html:
        return html.replace("</head>", css + "</head>", 1)
    return css + html
