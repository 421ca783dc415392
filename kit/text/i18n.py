"""Translations for every user-facing string: ``t(key, lang, **kw)``.

Strings live in ``kit/text/strings/<module>.yml`` as ``key: {en: "...", zh: "..."}`` with
``str.format`` placeholders. One file per module keeps the catalogue readable and lets
each capability own its words; a key defined twice is an error, as is a key missing a
language (checked by ``check_catalogue`` in the tests).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml

LANGS = ("en", "zh")
CATALOGUE_DIR = Path(__file__).resolve().parent / "strings"


class TranslationError(KeyError):
    """A key or language is missing from the catalogue."""


@lru_cache(maxsize=1)
def catalogue() -> dict[str, dict[str, str]]:
    """All strings of all ``kit/text/strings/*.yml`` files, keyed by string key."""
    strings: dict[str, dict[str, str]] = {}
    owner: dict[str, str] = {}
    for file in sorted(CATALOGUE_DIR.glob("*.yml")):
        data = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
        if not isinstance(data, dict):
            raise TranslationError(f"{file}: expected a mapping of key -> {{en: ..., zh: ...}}")
        for key, entry in data.items():
            if key in strings:
                raise TranslationError(f"{file}: key {key!r} is already defined in {owner[key]}")
            if not isinstance(entry, dict):
                raise TranslationError(f"{file}: key {key!r} must map languages to text, got {entry!r}")
            strings[key] = {lang: str(text) for lang, text in entry.items()}
            owner[key] = file.name
    return strings


def t(key: str, lang: str = "en", **values: object) -> str:
    """The text for ``key`` in ``lang`` with ``values`` filled into its placeholders."""
    if lang not in LANGS:
        raise TranslationError(f"unknown language {lang!r}; use one of {', '.join(LANGS)}")
    entry = catalogue().get(key)
    if entry is None:
        raise TranslationError(f"no text for key {key!r} in kit/text/strings/*.yml")
    if lang not in entry:
        raise TranslationError(f"key {key!r} has no {lang!r} text in kit/text/strings/*.yml")
    return entry[lang].format(**values) if values else entry[lang]


def has_key(key: str) -> bool:
    """Whether the catalogue has text for ``key``."""
    return key in catalogue()


def check_catalogue() -> list[str]:
    """Problems in the catalogue: keys lacking a language (empty when all is well)."""
    return [
        f"{key}: missing {lang}"
        for key, entry in catalogue().items()
        for lang in LANGS
        if not entry.get(lang)
    ]
