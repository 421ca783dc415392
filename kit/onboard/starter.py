"""``kit init RAW_FOLDER``: sniff every file and write a starter config with its guesses.

Every readable file of the folder (CSV / TSV / TXT, Excel, Parquet, JSON lines; names
starting with ``.`` or ``_`` are skipped) becomes one source (``sniff`` + ``guess``). The
config is written as commented YAML: for each source what was detected (format,
encoding, delimiter, rows), the kind and how sure that is, the header mapping with the
reason of each value-based guess, the strptime formats and the share of sampled values
they parse, unmapped headers and absent optional columns. ``identity.keys`` lists the
key types the sources carry; an experiments catalogue (a YAML file with an
``experiments:`` list) is referenced when the folder holds one, else the section is left
out and the comment says so. The written file is loaded with ``load_config`` before
``init`` returns, so a starter config always loads. An existing file is never
overwritten without ``force``.
"""

from __future__ import annotations

import dataclasses
import json
import re
import tempfile
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import yaml

from kit.core.config import (
    PROJECT_ROOT,
    FeaturesConfig,
    KitConfig,
    PathsConfig,
    ProjectConfig,
    load_config,
)
from kit.onboard.check import known_timezone, latest_time
from kit.onboard.guess import (
    ACCOUNT_KEYS,
    KEY_TYPES,
    SourceGuess,
    group_files,
    guess_source,
    source_name,
    unify_customer_key,
)
from kit.onboard.needs import PlannedSource, page_lines, planned_inputs
from kit.onboard.sniff import (
    describe_delimiter,
    describe_encoding,
    file_format,
    sniff_file,
)

CURRENCY_SIGNS = {"$": "USD", "US$": "USD", "€": "EUR", "£": "GBP", "¥": "CNY", "￥": "CNY", "元": "CNY", "RMB": "CNY"}
TIMED_KINDS = ("orders", "events")  # kinds whose time of day feeds features (kit.core.inputs.TIMED)
COMPLETE_FROM_DAY = 28  # orders ending on this day of a month or later: the month is complete
GENERIC_FOLDERS = ("raw", "data", "export", "exports", "input", "inputs", "files")  # named after the folder above
CJK = re.compile("[\u4e00-\u9fff]")


class OnboardError(ValueError):
    """``kit init`` / ``kit check`` cannot do their work: the message says what to do."""


@dataclass(frozen=True)
class InitResult:
    """The config written, its sources and the lines ``kit init`` prints."""

    path: Path
    config: KitConfig
    sources: list[SourceGuess]
    lines: list[str]


def config_root(file: Path) -> Path:
    """The project root of a config file (``load_config``'s rule: the parent of ``config/``)."""
    return file.parent.parent if file.parent.name == "config" else file.parent


def init_project(
    raw: Path, out: Path, project: str | None = None, currency: str | None = None,
    timezone: str | None = None, force: bool = False,
) -> InitResult:
    """Sniff ``raw``, write the starter config ``out`` and return what was found (module docstring)."""
    raw, out = raw.resolve(), out.resolve()
    if not raw.is_dir():
        raise OnboardError(f"{raw}: not a folder. Give the folder holding the exported files.")
    if timezone and not known_timezone(timezone):
        raise OnboardError(f"--timezone {timezone!r} is not a time zone name; use one like Asia/Shanghai or America/New_York.")
    if out.exists() and not force:
        raise OnboardError(f"{out} exists already. Pass --force to overwrite it, or --out to write another file.")
    files = sorted(p for p in raw.iterdir() if p.is_file() and not p.name.startswith((".", "_")))
    readable = [p for p in files if file_format(p)]
    catalogues = [p for p in files if p.suffix.lower() in (".yml", ".yaml") and _is_catalogue(p)]
    skipped = [p.name for p in files if p not in readable and p not in catalogues]
    if not readable:
        raise OnboardError(
            f"{raw}: no file the kit reads (csv, tsv, txt, xlsx, parquet, jsonl). Put the exports in this folder."
        )
    month_first = bool(timezone and timezone.startswith("America/")) or currency == "USD"
    guesses: list[SourceGuess] = []
    problems: list[str] = []
    with tempfile.TemporaryDirectory(prefix="kit-init-") as scratch:
        for path in readable:
            try:
                sniff = sniff_file(path, Path(scratch), month_first)
            except Exception as exc:  # any reader error: the file is listed, the others still sniffed
                problems.append(f"{path.name}: cannot be read ({type(exc).__name__}); it is left out of the config")
                continue
            if not sniff.headers:
                problems.append(f"{path.name}: no header line found; it is left out of the config")
                continue
            guess = guess_source(path.stem, sniff)
            guess.name = source_name(path.stem, {g.name for g in guesses}, guess.kind)
            guesses.append(guess)
    if not guesses:
        raise OnboardError(f"{raw}: no file could be read: " + "; ".join(problems))
    guesses = group_files(guesses, [p.name for p in files])
    unify_customer_key(guesses)
    for guess in guesses:
        if guess.pattern:
            guess.name = source_name(guess.pattern.split("*")[0].rstrip("_-. 0123456789") or guess.kind,
                                     {g.name for g in guesses if g is not guess}, guess.kind)
    root = config_root(out)
    settings = _project_settings(raw, guesses, project, currency, timezone)
    catalogue = catalogues[0] if catalogues else None
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render(guesses, raw, root, settings, catalogue), encoding="utf-8")
    config = load_config(out)
    latest = latest_time(config)  # over every row, as ingest parses them (the sniff saw a sample)
    if latest:
        settings = dataclasses.replace(settings, **run_month(latest))
        out.write_text(render(guesses, raw, root, settings, catalogue), encoding="utf-8")
        config = load_config(out)
    lines = summary(guesses, config, skipped, problems, catalogues)
    return InitResult(out, config, guesses, lines)


def project_folder(raw: Path) -> Path:
    """The folder naming the project: the raw folder, or the one above a generic name (``raw``, ``data``)."""
    raw = raw.resolve()
    return raw.parent if raw.name.lower() in GENERIC_FOLDERS else raw


def default_config_path(raw: Path) -> Path:
    """``config/<project folder name>.yml`` (relative to the current folder)."""
    slug = re.sub(r"[^a-z0-9]+", "_", project_folder(raw).name.lower()).strip("_") or "project"
    return Path("config") / f"{slug}.yml"


def _is_catalogue(path: Path) -> bool:
    """Whether a YAML file is an experiments catalogue (a top-level ``experiments:`` list)."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError):
        return False
    return isinstance(data, dict) and isinstance(data.get("experiments"), list)


@dataclass(frozen=True)
class Settings:
    """Project settings and a comment on where each came from."""

    name: str
    currency: str
    currency_note: str
    timezone: str
    timezone_note: str
    month: str
    month_note: str


def _project_settings(raw: Path, guesses: list[SourceGuess], project: str | None, currency: str | None,
                      timezone: str | None) -> Settings:
    """Name, currency, time zone and run month: given, else guessed from the files."""
    default = ProjectConfig()
    chinese = any(CJK.search(h) for g in guesses for h in g.sniff.headers)
    signs = {sign for g in guesses for h, c in g.mapping.items() if c == "amount"
             for sign in g.sniff.column(h).marks if sign in CURRENCY_SIGNS}
    month_first = any(f.startswith("%m") for g in guesses for f in g.formats)
    hint = " (month-first dates: a US export? then --currency USD --timezone America/New_York)" if month_first else ""
    if currency:
        cur, cur_note = currency, "given with --currency"
    elif signs:
        cur, cur_note = CURRENCY_SIGNS[sorted(signs)[0]], f"from the {sorted(signs)[0]!r} sign in the amounts"
    elif chinese:
        cur, cur_note = "CNY", "guessed from the Chinese headers; check"
    else:
        cur, cur_note = default.currency, f"not found in the data: CHECK (pass --currency){hint}"
    if timezone:
        tz, tz_note = timezone, "given with --timezone"
    elif chinese:
        tz, tz_note = "Asia/Shanghai", "guessed from the Chinese headers; check"
    else:
        tz, tz_note = default.timezone, f"not found in the data: CHECK (pass --timezone){hint}"
    lasts = [g.sniff.column(h).last for g in guesses if g.kind == "orders"
             for h, c in g.mapping.items() if c == "order_ts" and g.sniff.column(h).last]
    if lasts:
        month, month_note = max(lasts)[:7], "the latest month with orders in the sampled rows"
    else:
        month, month_note = date.today().strftime("%Y-%m"), "no order dates found: set the month to report on"
    name = project or project_folder(raw).name.replace("_", " ").replace("-", " ").strip().title() or "My Company"
    return Settings(name, cur, cur_note, tz, tz_note, month, month_note)


def run_month(latest: datetime) -> dict[str, str]:
    """The month to report on: the month of the latest order, or the month before when the
    data ends in its first weeks (a month cut short is not a month to report on)."""
    if latest.day >= COMPLETE_FROM_DAY:
        return {"month": latest.strftime("%Y-%m"), "month_note": "the latest month with orders in the files"}
    before = (latest.replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
    return {"month": before, "month_note": f"the orders end on {latest.date()}, inside their month: the month "
            "before is the latest complete one"}


def _q(value: object) -> str:
    """A YAML scalar, list or mapping on one line (JSON is YAML; keeps CJK readable)."""
    return json.dumps(value, ensure_ascii=False)


def _path(path: Path, root: Path) -> str:
    """``path`` relative to the project root when it lies below it, else absolute."""
    return path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)


def render(guesses: list[SourceGuess], raw: Path, root: Path, settings: Settings, catalogue: Path | None) -> str:
    """The starter config's YAML text, with comments on every guess."""
    out = [
        f"# Starter config written by `kit init` on {date.today().isoformat()} from {raw}",
        f"# ({len(guesses)} source files). Each guess says how sure it is: check the ones marked CHECK or unsure,",
        "# then validate against the files with `kit check --config THIS_FILE` before `kit run`.",
        "# Relative paths resolve from the project root (the folder above config/, else this file's folder).",
        "project:",
        f"  name: {_q(settings.name)}",
        f"  currency: {_q(settings.currency)}  # {settings.currency_note}",
        f"  timezone: {_q(settings.timezone)}  # {settings.timezone_note}",
        "",
        "run:",
        f"  month: {_q(settings.month)}  # {settings.month_note}",
        "",
        "paths:",
        f"  raw: {_q(_path(raw, root))}",
    ]
    defaults = PathsConfig()
    out += [f"  {key}: {_q(str(getattr(defaults, key)))}" for key in ("warehouse", "reports", "scratch", "ingest_cache")]
    if root != PROJECT_ROOT:  # the kit's own notebooks and tag catalogue, wherever the project lives
        out.append(f"  notebooks: {_q(str(PROJECT_ROOT / defaults.notebooks))}")
    out += ["", "# One source per file: kind, header mapping (file header: canonical column), formats.", "sources:"]
    for guess in guesses:
        out += _source_lines(guess, raw, root)
    keys = [k for k in KEY_TYPES if any(k in g.keys.values() for g in guesses)]
    accounts = [k for k in ACCOUNT_KEYS if k in keys]
    out += [
        "identity:",
        "  # key types that link records of different sources to one customer, in priority order",
        *(["  # CHECK: no file carries an identity key: every record becomes its own customer"] if not keys else []),
        f"  keys: {_q(keys)}",
        "  # key types that name one account by construction (never treated as over-shared)",
        f"  account_keys: {_q(accounts)}",
    ]
    if root != PROJECT_ROOT:
        out += ["", "features:", f"  tags_file: {_q(str(PROJECT_ROOT / FeaturesConfig().tags_file))}"]
    out.append("")
    if catalogue:
        out += ["experiments:", f"  catalog: {_q(_path(catalogue, root))}  # the experiments catalogue found in the folder"]
    else:
        out += ["# experiments: no experiments catalogue (a YAML file with an `experiments:` list) was found in",
                "# the folder, so the section is left out and 06_experiment_readout shows no experiments."]
    return "\n".join(out) + "\n"


def _source_lines(guess: SourceGuess, raw: Path, root: Path) -> list[str]:
    """The commented YAML lines of one source."""
    sniff = guess.sniff
    stored = [{"csv": "CSV", "excel": "Excel", "parquet": "Parquet", "jsonl": "JSON lines"}[sniff.format]]
    if sniff.encoding:
        stored.append(describe_encoding(sniff))
    if sniff.delimiter:
        stored.append(f"{describe_delimiter(sniff.delimiter)}-delimited")
    out = [
        f"  {guess.name}:",
        f"    # {guess.files}: {', '.join(stored)}, {guess.rows:,} data rows ({sniff.sampled:,} of {sniff.path.name} "
        "looked at)",
        *(f"    # {note}" for note in sniff.notes),
        f"    # kind {guess.kind}: {guess.kind_reason}",
        f"    kind: {guess.kind}",
        f"    path: {_q(_path(sniff.path.parent / (guess.pattern or sniff.path.name), root))}",
    ]
    if sniff.format != "csv":
        out.append(f"    format: {sniff.format}")
    else:
        out.append(f"    encoding: auto  # detected {describe_encoding(sniff)}; auto reads UTF-8, UTF-8 with BOM, GB18030")
    if sniff.undecodable:
        out += ["    # some lines do not decode: they are quarantined with their line number (fail: stop instead)",
                "    on_bad_encoding: quarantine"]
    if sniff.title_lines:
        out.append(f"    # CHECK: {sniff.title_lines} title line(s) stand above the header; ingest reads the first line as "
                   "the header: remove them from the export")
    if guess.channel:
        out.append(f"    channel: {guess.channel}  # no platform column and the file names a store: every order is a store order")
    elif guess.kind == "orders" and "platform" not in guess.mapping.values():
        out.append("    # channel: online  # no platform column: set the channel (online, app or store) if all orders share one")
    if guess.columns:
        out.append("    columns:")
        for header, column in guess.columns.items():
            why = f"  # by values: {guess.by_values[header]}" if header in guess.by_values else ""
            out.append(f"      {_q(header)}: {_q(column)}{why}")
    if guess.declared_keys:
        out.append(f"    keys: {_q(guess.declared_keys)}  # identity key columns -> key type")
    out += _format_lines(guess)
    if guess.missing_required:
        out.append(f"    # CHECK: required column(s) not found: {', '.join(guess.missing_required)}. Map the header "
                   "holding each under columns:")
    if guess.unmapped:
        out.append(f"    # not mapped (no canonical column matched): {', '.join(_q(h) for h in guess.unmapped)}")
    for header, column in guess.doubles.items():
        out.append(f"    # {_q(header)} also looks like {column}; the more specific header was mapped")
        if column == "name":
            out.append(f"    # {_q(header)} holds personal names and is not read: it never leaves the raw file")
    if guess.missing_optional:
        out.append(f"    # optional columns not in this file: {', '.join(guess.missing_optional)}")
    if guess.kind == "events":
        types = next((sniff.column(h).top for h, c in guess.mapping.items() if c == "event_type"), ())
        if types:
            out.append(f"    # event types seen: {', '.join(types)}")
    return out + [""]


def _format_lines(guess: SourceGuess) -> list[str]:
    """``timestamp_formats`` with the share of sampled values they parse per column."""
    notes = []
    for header in guess.timestamp_columns:
        column = guess.sniff.column(header)
        if column.dtype != "text":
            notes.append(f"{header}: typed timestamps")
        elif column.filled:
            notes.append(f"{header}: {column.parsed:.1%} parse")
    out = []
    if guess.formats:
        out.append(f"    timestamp_formats: {_q(list(guess.formats))}  # {'; '.join(notes)}")
    elif any(guess.sniff.column(h).dtype == "text" and guess.sniff.column(h).filled for h in guess.timestamp_columns):
        out.append("    # CHECK: no known date format parses the timestamps: add timestamp_formats (strptime forms)")
    if guess.date_only and guess.kind in TIMED_KINDS:
        out.append("    # times are dates only: hour-of-day figures are not computed for this source")
    if guess.ambiguous:
        out.append("    # CHECK: no day above 12 in the sample: day-first or month-first cannot be told apart")
    return out


def summary(guesses: list[SourceGuess], config: KitConfig, skipped: list[str], problems: list[str],
            catalogues: list[Path]) -> list[str]:
    """The lines ``kit init`` prints: sources found, what to check, what each notebook can show."""
    out = [f"kit init: wrote {config.source_file} with {len(guesses)} source(s):"]
    for guess in guesses:
        mark = "" if guess.sure and not guess.missing_required else "  (CHECK)"
        out.append(f"  {guess.name:<20} {guess.kind:<12} {guess.files}{mark}")
        if guess.missing_required:
            out.append(f"      required column(s) not found: {', '.join(guess.missing_required)}")
        if guess.sniff.title_lines:
            out.append(f"      {guess.sniff.title_lines} title line(s) above the header: remove them from the export")
        if guess.sniff.undecodable:
            out.append("      some lines do not decode: on_bad_encoding: quarantine set")
    out += [f"  skipped {name}: not a format the kit reads" for name in skipped]
    out += [f"  {problem}" for problem in problems]
    if len(catalogues) > 1:
        out.append(f"  several experiments catalogues found; using {catalogues[0].name}")
    out.append("What each notebook can show with these files:")
    planned = [
        PlannedSource(g.kind, g.rows, frozenset(c for h, c in g.mapping.items() if g.sniff.column(h).filled),
                      bool(g.timestamp_columns) and not g.date_only)
        for g in guesses
    ]
    catalogue = bool(catalogues)
    out += page_lines(planned_inputs(planned), catalogue, config.run.notebooks)
    out += ["Next:", f"  kit check --config {config.source_file}",
            f"  kit run --config {config.source_file} --month {config.run.month}"]
    return out
