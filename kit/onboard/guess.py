"""From a sniffed file to a source: its kind, header mapping, identity keys and formats.

Each header is matched to a concept by name (``synonyms``); a header no synonym knows is
matched by its values when they are unmistakable (phones, e-mails, or dates for a kind
whose main timestamp has no header yet). The kind is the one whose required columns
the headers cover best, then whose columns they fill most, then the one the file name
suggests. Identity keys are the member, customer, shop, app, phone and e-mail columns the
file carries: written as ``keys:`` only when they differ from the kind's defaults
(``kit.ingest.kinds.DEFAULT_KEYS``). How sure each guess is goes into the starter config
as a comment.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import os
import re
from dataclasses import dataclass, field

from kit.core.config import MatchingConfig
from kit.ingest.kinds import DEFAULT_KEYS, KINDS, MAIN_TS, PERSONAL
from kit.onboard.sniff import TIMESTAMP_FORMATS, FileSniff
from kit.onboard.synonyms import CUSTOMER_KEY, column_for, concept, kind_hints

# identity key columns and their key type, in the priority order identity.keys lists them
KEY_TYPES = ("member_id", CUSTOMER_KEY, "phone", "email", "app_user_id", "shop_user_id")
ACCOUNT_KEYS = ("member_id", "app_user_id", "shop_user_id", CUSTOMER_KEY)
IDENTITY_KINDS = tuple(DEFAULT_KEYS)  # kinds whose rows are identity records
VALUE_SHARE = 0.9  # a header no synonym knows is mapped by its values above this share
COMPACT = ("%Y%m%d",)
STORE_WORDS = ("pos", "store", "stores", "offline", "门店", "线下")  # digit-only dates: never used to map a header by its values (ids look alike)


@dataclass
class SourceGuess:
    """One source of the starter config and the reasons behind each guess."""

    name: str
    sniff: FileSniff
    kind: str
    kind_reason: str
    sure: bool
    mapping: dict[str, str]  # header -> canonical (or key) column, for every mapped header
    by_values: dict[str, str] = field(default_factory=dict)  # header -> what its values look like
    unmapped: list[str] = field(default_factory=list)
    doubles: dict[str, str] = field(default_factory=dict)  # header -> column another header took
    keys: dict[str, str] = field(default_factory=dict)  # key column -> key type (all found)
    formats: tuple[str, ...] = ()
    date_only: bool = False
    ambiguous: bool = False
    missing_required: list[str] = field(default_factory=list)
    missing_optional: list[str] = field(default_factory=list)
    channel: str | None = None  # the channel of every order (a store export without platform column)
    others: tuple[FileSniff, ...] = ()  # further files of the same source (read with ``pattern``)
    pattern: str = ""  # the glob naming all the source's files, when there are several

    @property
    def rows(self) -> int:
        """Data rows of all the source's files."""
        return self.sniff.rows + sum(other.rows for other in self.others)

    @property
    def files(self) -> str:
        """The source's file name, or its glob with the number of files."""
        return f"{self.pattern} ({1 + len(self.others)} files)" if self.pattern else self.sniff.path.name

    @property
    def columns(self) -> dict[str, str]:
        """The ``columns:`` mapping: headers whose canonical name differs from the header."""
        return {h: c for h, c in self.mapping.items() if h != c}

    @property
    def declared_keys(self) -> dict[str, str]:
        """``keys:`` to write: empty when the kind's defaults present in the file are the keys."""
        defaults = {c: c for c in DEFAULT_KEYS.get(self.kind, ()) if c in self.mapping.values()}
        return {} if self.keys == defaults else dict(self.keys)

    @property
    def timestamp_columns(self) -> list[str]:
        """Headers mapped to a timestamp column of the kind."""
        stamps = _timestamps(self.kind)
        return [h for h, c in self.mapping.items() if c in stamps]


def guess_source(name: str, sniff: FileSniff) -> SourceGuess:
    """The source a sniffed file most likely is (module docstring)."""
    named = {h: found for h in sniff.headers if (found := concept(h))}
    scores = {kind: _score(kind, named, sniff) for kind in KINDS}
    hints = kind_hints(sniff.path.stem)
    kind = max(KINDS, key=lambda k: (*scores[k], k in hints))
    rivals = [k for k in KINDS if k != kind and scores[k] == scores[kind]]
    required = [c.name for c in KINDS[kind].columns if c.required]
    mapping, doubles = _map(kind, named, sniff)
    by_values = _map_by_values(kind, sniff, mapping)
    mapping.update({h: c for h, (c, _) in by_values.items()})
    keys = {c: c for c in KEY_TYPES if c in mapping.values()} if kind in IDENTITY_KINDS else {}
    if kind == "events":
        mapping, keys = _event_key(mapping)
    missing = [c for c in required if c not in mapping.values() and not (c == "app_user_id" and keys)]
    sure = not missing and not rivals
    if missing:
        reason = f"unsure: the headers fit kind {kind} best but lack {', '.join(missing)}"
    elif rivals:
        reason = f"unsure: the headers fit {kind} and {', '.join(rivals)} equally; chosen by the file name" \
            if kind in hints else f"unsure: the headers fit {kind} and {', '.join(rivals)} equally"
    else:
        reason = f"sure: its required columns ({', '.join(required)}) are all found"
    stamps = [sniff.column(h) for h, c in mapping.items() if c in _timestamps(kind)]
    formats = tuple(dict.fromkeys(f for col in stamps for f in col.formats))
    optional = [c.name for c in KINDS[kind].columns if not c.required and c.name not in mapping.values()]
    return SourceGuess(
        name=name, sniff=sniff, kind=kind, kind_reason=reason, sure=sure, mapping=mapping,
        by_values={h: why for h, (_, why) in by_values.items()},
        unmapped=[h for h in sniff.headers if h not in mapping], doubles=doubles, keys=keys,
        formats=_source_order(formats), date_only=bool(stamps) and all(c.date_only for c in stamps if c.is_timestamp),
        ambiguous=any(c.ambiguous for c in stamps), missing_required=missing, missing_optional=optional,
        channel=_store_channel(kind, sniff, mapping),
    )


def _event_key(mapping: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """An event log's one identity key: none when it has an app user id (the default link),
    else the first key column it has in ``KEY_TYPES`` order (a member number, a customer
    number, an e-mail...), declared with ``keys:``; other key columns stay unmapped, since
    an event links through one key only (kit.ingest.kinds)."""
    found = [c for c in KEY_TYPES if c in mapping.values()]
    if "app_user_id" in found or not found:
        return {h: c for h, c in mapping.items() if c not in KEY_TYPES or c == "app_user_id"}, {}
    return {h: c for h, c in mapping.items() if c not in KEY_TYPES or c == found[0]}, {found[0]: found[0]}


def _store_channel(kind: str, sniff: FileSniff, mapping: dict[str, str]) -> str | None:
    """``store`` for an order file without platform column that names a store (a POS export)."""
    if kind != "orders" or "platform" in mapping.values():
        return None
    words = set(re.split(r"[^0-9a-z]+", sniff.path.stem.lower()))
    store = bool(words & set(STORE_WORDS)) or any(w in sniff.path.stem for w in STORE_WORDS if not w.isascii())
    return "store" if store or "store_city" in mapping.values() else None


def _timestamps(kind: str) -> set[str]:
    """The timestamp columns of ``kind``, with the date attributes linkage compares
    (``identity.matching.attributes``: an app's birthday) for identity kinds."""
    dates = {a for a, c in MatchingConfig().attributes.items() if c == "date"} if kind in IDENTITY_KINDS else set()
    return {c.name for c in KINDS[kind].columns if c.parse == "timestamp"} | dates


def _source_order(formats: tuple[str, ...]) -> tuple[str, ...]:
    """Formats of several columns in the order the sniffer tries them (a stable, readable list)."""
    return tuple(f for f in TIMESTAMP_FORMATS if f in formats)


def _usable(kind: str) -> set[str]:
    """Columns a source of ``kind`` can take: its canonical ones, identity keys for identity
    kinds, and the personal attributes linkage compares (``identity.matching.attributes``:
    a name, birthday, address; read for identity, never written) for identity kinds."""
    usable = {c.name for c in KINDS[kind].columns}
    if kind in IDENTITY_KINDS or kind == "events":  # an event log links through one key of any type
        usable |= set(KEY_TYPES)
    if kind in IDENTITY_KINDS:
        usable |= set(PERSONAL) | set(MatchingConfig().attributes)
    return usable


def _score(kind: str, named: dict[str, tuple[str, int]], sniff: FileSniff) -> tuple[float, int]:
    """(share of the kind's required columns found, number of canonical columns found)."""
    found = {column_for(c, kind) for c, _ in named.values()}
    if MAIN_TS[kind] not in found and _free_timestamp(sniff, named):
        found.add(MAIN_TS[kind])
    if kind == "events" and "event_type" in found and found & set(KEY_TYPES):
        found.add("app_user_id")  # an event log keyed by a member number or e-mail links through it
    canonical = {c.name for c in KINDS[kind].columns}
    required = [c.name for c in KINDS[kind].columns if c.required]
    return sum(c in found for c in required) / len(required), len(found & canonical)


def _free_timestamp(sniff: FileSniff, named: dict[str, tuple[str, int]]) -> bool:
    """Whether a column no synonym names holds dates (so the kind's main timestamp can take it)."""
    return any(c.header not in named and c.is_timestamp and not set(c.formats) <= set(COMPACT) for c in sniff.columns)


def _map(kind: str, named: dict[str, tuple[str, int]], sniff: FileSniff) -> tuple[dict[str, str], dict[str, str]]:
    """header -> column for headers named by a synonym; one header per column (the most
    specific synonym, then the most filled), the others listed as doubles."""
    usable = _usable(kind)
    candidates: dict[str, list[tuple[int, int, str]]] = {}
    for header, (found, rank) in named.items():
        column = column_for(found, kind)
        if column in usable:
            candidates.setdefault(column, []).append((rank, -sniff.column(header).filled, header))
    if kind == "customers" and CUSTOMER_KEY in candidates and "member_id" not in candidates:
        candidates["member_id"] = candidates.pop(CUSTOMER_KEY)  # a CRM's own customer number is its member id
    mapping, doubles = {}, {}
    for column, options in candidates.items():
        best, *others = sorted(options)
        mapping[best[2]] = column
        doubles.update({header: column for _, _, header in others})
    return mapping, doubles


def _map_by_values(kind: str, sniff: FileSniff, mapping: dict[str, str]) -> dict[str, tuple[str, str]]:
    """header -> (column, why) for unnamed headers whose values are unmistakable."""
    found: dict[str, tuple[str, str]] = {}
    taken = set(mapping.values())
    usable = _usable(kind)
    for col in sniff.columns:
        if col.header in mapping or not col.filled:
            continue
        if "phone" in usable and "phone" not in taken and col.phones >= VALUE_SHARE:
            found[col.header] = ("phone", f"{col.phones:.0%} of its values are mobile numbers")
        elif "email" in usable and "email" not in taken and col.emails >= VALUE_SHARE:
            found[col.header] = ("email", f"{col.emails:.0%} of its values are e-mail addresses")
        elif MAIN_TS[kind] not in taken and col.parsed >= VALUE_SHARE and not set(col.formats) <= set(COMPACT):
            found[col.header] = (MAIN_TS[kind], f"{col.parsed:.0%} of its values are dates")
        else:
            continue
        taken.add(found[col.header][0])
    return found


def source_name(stem: str, taken: set[str], kind: str) -> str:
    """A config key for a file: its name in [a-z0-9_], else the kind; unique among ``taken``."""
    base = re.sub(r"[^a-z0-9]+", "_", stem.lower()).strip("_") or kind
    name, n = base, 2
    while name in taken:
        name, n = f"{base}_{n}", n + 1
    return name


def group_files(guesses: list[SourceGuess], names: list[str]) -> list[SourceGuess]:
    """Files of one kind, format and header (monthly exports: ``orders_2025-01.csv``, ...) become
    one source read through a glob, when a glob names exactly those files among ``names``
    (every file name of the folder). Formats and date notes are merged over the files."""
    groups: dict[tuple, list[SourceGuess]] = {}
    for guess in guesses:
        groups.setdefault((guess.kind, guess.sniff.format, tuple(guess.sniff.headers)), []).append(guess)
    merged = []
    for members in groups.values():
        files = sorted(m.sniff.path.name for m in members)
        pattern = _glob(files)
        if len(members) == 1 or not pattern or sorted(n for n in names if fnmatch.fnmatchcase(n, pattern)) != files:
            merged += members
            continue
        first = members[0]
        merged.append(dataclasses.replace(
            first, others=tuple(m.sniff for m in members[1:]), pattern=pattern,
            formats=_source_order(tuple(f for m in members for f in m.formats)),
            date_only=all(m.date_only for m in members), ambiguous=all(m.ambiguous for m in members),
        ))
    return merged


def _glob(names: list[str]) -> str:
    """``prefix*suffix`` of file names (their common start and end), or "" when they share no start."""
    prefix = os.path.commonprefix(names)
    suffix = os.path.commonprefix([n[::-1] for n in names])[::-1]
    suffix = suffix[max(0, len(prefix) + len(suffix) - min(map(len, names))):]
    return f"{prefix}*{suffix}" if prefix else ""


def unify_customer_key(guesses: list[SourceGuess]) -> None:
    """When a customers file's customer number became its ``member_id``, the customer numbers
    of the other files (an order log's ``Customer ID``) are member ids too: the same key type
    links them. Changes the guesses in place."""
    crm_numbers = any(
        g.kind == "customers" and (found := concept(h)) and found[0] == CUSTOMER_KEY and c == "member_id"
        for g in guesses for h, c in g.mapping.items()
    )
    if not crm_numbers:
        return
    for guess in guesses:
        if CUSTOMER_KEY in guess.mapping.values() and "member_id" not in guess.mapping.values():
            guess.mapping = {h: "member_id" if c == CUSTOMER_KEY else c for h, c in guess.mapping.items()}
            guess.keys = {("member_id" if c == CUSTOMER_KEY else c): ("member_id" if t == CUSTOMER_KEY else t)
                          for c, t in guess.keys.items()}
