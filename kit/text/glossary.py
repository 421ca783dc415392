"""The definitions table every page shows, written from the business vocabulary.

Each term's name and meaning is ``vocab.<term>`` / ``vocab.<term>.means`` in
kit/text/strings/vocabulary.yml, filled with the thresholds of ``Vocabulary.values()``, so
a page's glossary and the overview's say the same thing in English and Chinese.
"""

from __future__ import annotations

import pandas as pd

from kit.core.vocabulary import Vocabulary
from kit.text.i18n import has_key, t


def term(name: str, lang: str) -> str:
    """The display name of vocabulary term ``name`` (e.g. "Active customers")."""
    return t(f"vocab.{name}", lang)


def definition(name: str, vocab: Vocabulary, lang: str) -> str:
    """What vocabulary term ``name`` means, with this config's thresholds; with contractual
    churn the ``.contractual`` twin where the term has one (value at risk of subscriptions)."""
    key = f"vocab.{name}.means"
    if vocab.churn_mode == "contractual" and has_key(f"{key}.contractual"):
        key = f"{key}.contractual"
    return t(key, lang, **vocab.values())


def glossary(terms: list[str] | tuple[str, ...], vocab: Vocabulary, lang: str) -> pd.DataFrame:
    """A two-column table (term, definition) of ``terms`` in ``lang``."""
    return pd.DataFrame({
        t("vocab.col.term", lang): [term(name, lang) for name in terms],
        t("vocab.col.means", lang): [definition(name, vocab, lang) for name in terms],
    })
