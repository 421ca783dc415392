"""Declarative customer tags (标签): a safe rule language evaluated on the feature table.

A tag file (``config/tags.yml``) lists tags, each with ``name``, ``label_en``,
``label_zh``, ``dimension``, ``rule``, ``description`` and ``version``. A rule is a small
expression over feature names (``kit.profile.features.FEATURES``)::

    monetary_365d >= q(0.8) and frequency_365d >= 3
    favourite_category in ['beauty', 'apparel']
    18 <= age < 25
    last_nps is not null and last_nps <= 6
    not has_ordered
    favourite_category            # a categorical tag: its value is the category

Grammar: comparisons (``== != < <= > >=``, chained), ``and`` / ``or`` / ``not``,
``in [..]`` / ``not in [..]``, ``+ - * /``, number / text / true / false literals,
``is null`` / ``is not null``, and population quantiles ``q(p)`` (the quantile of the
other side of the comparison over all customers) or ``q(feature, p)``.

Safety: the rule is parsed with Python's ``ast`` module in ``eval`` mode and every node is
checked against a whitelist before anything is evaluated; the evaluator is a small
interpreter over pandas columns that never calls ``eval``. Attribute access, subscripts,
lambdas, comprehensions and any call other than ``q`` are rejected with the tag's file and
line. Writing a parser by hand would only re-implement ``ast``'s well-tested grammar.

Missing values: a customer whose feature is missing never matches a condition on it, even
under ``not`` (three-valued logic, unknown counts as "no"); use ``is null`` to select them.

Absent features: a tag whose rule reads a feature the warehouse's inputs do not allow
(no survey data for ``last_nps``, date-only order times for ``night_share``, no
``login`` events for ``ev_login_28d``: kit.profile.needs) is *skipped*, not evaluated on
nulls: ``evaluate_tags`` lists it in ``TagResult.skipped`` with the input it lacks, and
it gets no column. A name that is no feature at all stays an error.

Limits (each refused with a TagError naming the tag, the file and the line): a rule has
at most ``MAX_RULE_CHARS`` characters and ``MAX_RULE_DEPTH`` levels of nesting (so neither
parsing nor evaluation can exhaust Python's stack), a number literal is at most
``MAX_LITERAL`` in size (a float holds it exactly), and dividing by a constant 0 is an
error rather than a column of infinities. Messages quote at most ``SHOWN_RULE_CHARS``
characters of a rule. A tag file with a key given twice is refused (kit.core.strict_yaml).
"""

from __future__ import annotations

import ast
import difflib
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from kit.core.strict_yaml import load_strict_yaml

DIMENSIONS = ("demographic", "behaviour", "value", "interest", "lifecycle", "satisfaction")
FIELDS = ("name", "label_en", "label_zh", "dimension", "rule", "description", "version")
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")
MAX_RULE_CHARS = 2000  # real rules are under 200 characters; a long in [..] list fits
MAX_RULE_DEPTH = 40  # nesting of the parsed rule; 18 <= age < 25 is 4 deep
MAX_LITERAL = 1e15  # largest absolute number literal: larger ones lose digits as floats
SHOWN_RULE_CHARS = 80  # an error message quotes at most this much of a rule

_COMPARE = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
}
_ARITHMETIC = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv}
_LITERAL_NAMES = {"true": True, "false": False, "True": True, "False": False}
_NULL_NAMES = ("null", "None")
_ALLOWED_NODES = (
    ast.Expression, ast.BoolOp, ast.And, ast.Or, ast.UnaryOp, ast.Not, ast.USub, ast.UAdd, ast.Compare,
    ast.Name, ast.Load, ast.Constant, ast.List, ast.Tuple, ast.Call, ast.BinOp,
    *_COMPARE, *_ARITHMETIC, ast.In, ast.NotIn, ast.Is, ast.IsNot,
)  # fmt: skip


class TagError(ValueError):
    """A tag file or rule is wrong: the message names the tag, the file, the line and a fix."""


@dataclass(frozen=True)
class Tag:
    """One tag definition as written in the tag file."""

    name: str
    label_en: str
    label_zh: str
    dimension: str
    rule: str
    description: str
    version: str
    file: str = "<rule>"
    line: int = 0

    @property
    def column(self) -> str:
        """The profile column holding this tag: ``tag_<name>``."""
        return f"tag_{self.name}"

    def label(self, lang: str) -> str:
        """The label in ``lang`` (``zh`` or anything else for English)."""
        return self.label_zh if lang == "zh" else self.label_en

    def where(self) -> str:
        """``file, line N, tag 'name'``: the location used in error messages."""
        if not self.line:
            return f"tag {self.name!r}"
        return f"{self.file}, line {self.line}, tag {self.name!r}"


@dataclass
class TagResult:
    """Evaluated tags: one column per tag (``tag_<name>``) plus warnings and coverage, and
    the tags skipped for an absent input (name -> the need, e.g. ``surveys``)."""

    values: pd.DataFrame
    warnings: dict[str, str] = field(default_factory=dict)
    kinds: dict[str, str] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)

    def coverage(self) -> dict[str, float]:
        """Share of customers with each tag (bool) or with any value (categorical)."""
        return {name: coverage_of(self.values[f"tag_{name}"]) for name in self.kinds}


# --------------------------------------------------------------------------- loading


def load_tags(path: Path | str) -> list[Tag]:
    """Read and check a tag file; errors name the file, line, tag and what is allowed."""
    path = Path(path)
    if not path.is_file():
        raise TagError(f"{path}: tag file not found. Set features.tags_file in config/kit.yml to an existing file.")
    text = path.read_text(encoding="utf-8")
    try:
        root = yaml.compose(text)
        data = load_strict_yaml(text)
    except yaml.YAMLError as exc:
        raise TagError(f"{path}: not valid YAML: {exc}") from exc
    nodes = _tag_nodes(root, path)
    items = data["tags"] if isinstance(data, dict) else data
    tags: list[Tag] = []
    seen: dict[str, int] = {}
    for node, item in zip(nodes, items):
        tag = _tag_from_node(node, item, path)
        if tag.name in seen:
            raise TagError(f"{tag.where()}: the name is already used by the tag on line {seen[tag.name]}; names must be unique.")
        seen[tag.name] = tag.line
        parse_rule(tag.rule, tag)
        tags.append(tag)
    return tags


def _tag_nodes(root: yaml.Node | None, path: Path) -> list[yaml.MappingNode]:
    """The list of tag mappings: the file is ``tags: [..]`` (or a bare list)."""
    node = root
    if isinstance(node, yaml.MappingNode):
        found = [v for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value == "tags"]
        node = found[0] if found else None
    if not isinstance(node, yaml.SequenceNode):
        raise TagError(f"{path}: expected a top-level key 'tags:' holding a list of tags.")
    for item in node.value:
        if not isinstance(item, yaml.MappingNode):
            raise TagError(f"{path}, line {item.start_mark.line + 1}: each tag must be a mapping with keys {', '.join(FIELDS)}.")
    return node.value


def _tag_from_node(node: yaml.MappingNode, values: dict[str, Any], path: Path) -> Tag:
    """Build a Tag from its loaded ``values``, using ``node`` for line numbers."""
    line = node.start_mark.line + 1
    lines = {key.value: value.start_mark.line + 1 for key, value in node.value}
    for key, value in values.items():
        if isinstance(value, (dict, list)):
            raise TagError(f"{path}, line {lines.get(key, line)}: {key!r} must be a single value, not a list or mapping.")
    name = str(values.get("name", "?"))
    where = f"{path}, line {line}, tag {name!r}"
    unknown = [k for k in values if k not in FIELDS]
    if unknown:
        close = difflib.get_close_matches(unknown[0], FIELDS, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise TagError(f"{where}: unknown key {unknown[0]!r}.{hint} Allowed keys: {', '.join(FIELDS)}.")
    missing = [k for k in FIELDS if values.get(k) in (None, "")]
    if missing:
        raise TagError(f"{where}: missing {', '.join(missing)}. Every tag needs {', '.join(FIELDS)}.")
    if not NAME_PATTERN.match(name):
        raise TagError(f"{where}: the name must be lower-case letters, digits and _ (e.g. high_value).")
    if values["dimension"] not in DIMENSIONS:
        raise TagError(f"{where}: dimension {values['dimension']!r} is not one of {', '.join(DIMENSIONS)}.")
    fields = {k: str(values[k]) for k in FIELDS}
    return Tag(**fields, file=str(path), line=lines["rule"])


# --------------------------------------------------------------------------- parsing


def parse_rule(rule: str, tag: Tag | None = None) -> ast.Expression:
    """Parse ``rule`` and check every node against the whitelist (no evaluation)."""
    tag = tag or Tag("rule", "", "", "behaviour", rule, "", "1")
    shown = _short(rule)
    if len(rule.strip()) > MAX_RULE_CHARS:
        raise TagError(f"{tag.where()}: the rule has {len(rule.strip()):,} characters, more than the {MAX_RULE_CHARS:,} allowed: {shown}. Split it into several tags.")
    try:
        tree = ast.parse(rule.strip(), mode="eval")
    except (SyntaxError, ValueError) as exc:
        offset = getattr(exc, "offset", None) or 0
        raise TagError(
            f"{tag.where()}: syntax error in rule {shown} at character {offset}: {getattr(exc, 'msg', exc)}. "
            "Rules look like: monetary_365d >= q(0.8) and frequency_365d >= 3"
        ) from None
    except (RecursionError, MemoryError):
        raise TagError(f"{tag.where()}: rule {shown} is nested too deeply (at most {MAX_RULE_DEPTH} levels).") from None
    if _depth(tree) > MAX_RULE_DEPTH:
        raise TagError(f"{tag.where()}: rule {shown} is nested {_depth(tree)} levels deep, more than the {MAX_RULE_DEPTH} allowed.")
    for node in ast.walk(tree):
        if not isinstance(node, _ALLOWED_NODES):
            raise TagError(f"{tag.where()}: {_describe_node(node)} is not allowed in rule {shown}. {_GRAMMAR_HINT}")
        if isinstance(node, ast.Call):
            if not (isinstance(node.func, ast.Name) and node.func.id == "q") or node.keywords:
                raise TagError(f"{tag.where()}: only q(p) or q(feature, p) may be called in rule {shown}.")
            if len(node.args) not in (1, 2) or not _is_probability(node.args[-1]):
                raise TagError(f"{tag.where()}: q() takes a probability between 0 and 1, e.g. q(0.8) or q(monetary_all, 0.8).")
            if len(node.args) == 2 and not isinstance(node.args[0], ast.Name):
                raise TagError(f"{tag.where()}: the first argument of q(feature, p) must be a feature name.")
        if isinstance(node, ast.Constant) and not isinstance(node.value, (int, float, str, bool, type(None))):
            raise TagError(f"{tag.where()}: literal {_short(node.value)} is not allowed; use numbers or 'text'.")
        if isinstance(node, ast.Constant) and _is_number(node.value) and not abs(node.value) <= MAX_LITERAL:
            raise TagError(f"{tag.where()}: the number {_short(node.value)} is larger than the {MAX_LITERAL:g} allowed in rule {shown}.")
    return tree


def _depth(tree: ast.AST) -> int:
    """The nesting depth of ``tree``, walked without recursion (a deep tree must not
    exhaust the stack while being measured)."""
    deepest, pending = 0, [(tree, 1)]
    while pending:
        node, depth = pending.pop()
        deepest = max(deepest, depth)
        pending.extend((child, depth + 1) for child in ast.iter_child_nodes(node))
    return deepest


def _short(value: Any) -> str:
    """``repr(value)`` cut to SHOWN_RULE_CHARS: a message never quotes a whole long rule."""
    text = repr(value.strip() if isinstance(value, str) else value)
    return text if len(text) <= SHOWN_RULE_CHARS else text[: SHOWN_RULE_CHARS - 3] + "..."


def _is_number(value: Any) -> bool:
    """Whether ``value`` is an int or float literal (not a bool)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


_GRAMMAR_HINT = "Allowed: feature names, numbers, 'text', comparisons, and/or/not, in [..], + - * /, is null, q(p)."


def _describe_node(node: ast.AST) -> str:
    """A plain-language name for a rejected syntax element."""
    names = {
        ast.Attribute: "attribute access (a.b)", ast.Subscript: "indexing (a[b])", ast.Lambda: "lambda",
        ast.Call: "a function call", ast.ListComp: "a comprehension", ast.Dict: "a dict", ast.Set: "a set",
        ast.IfExp: "if/else", ast.NamedExpr: "assignment (:=)", ast.JoinedStr: "an f-string",
    }  # fmt: skip
    return names.get(type(node), type(node).__name__)


def _is_probability(node: ast.AST) -> bool:
    """Whether ``node`` is a numeric literal in [0, 1]."""
    return isinstance(node, ast.Constant) and _is_number(node.value) and 0 <= node.value <= 1


def rule_features(rule: str) -> set[str]:
    """The feature names a rule reads."""
    tree = parse_rule(rule)
    reserved = set(_LITERAL_NAMES) | set(_NULL_NAMES) | {"q"}
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and n.id not in reserved}


# --------------------------------------------------------------------------- evaluating


def evaluate_rule(rule: str, features: pd.DataFrame, tag: Tag | None = None) -> pd.Series:
    """Evaluate one rule on every row of ``features``.

    Returns a bool Series (missing counts as False) or, for a rule that yields text, a
    categorical Series (a categorical tag). Raises TagError for unknown features and type
    errors, naming the tag, file and line and the closest feature names.
    """
    tag = tag or Tag("rule", "", "", "behaviour", rule, "", "1")
    tree = parse_rule(rule, tag)
    result = _Evaluator(features, tag).value(tree.body)
    if result.kind == "bool":
        return pd.Series(result.data, index=features.index).fillna(False).astype(bool)
    if result.kind == "text" and isinstance(result.data, pd.Series):
        return result.data.astype("category")
    raise TagError(
        f"{tag.where()}: rule {_short(rule)} gives a {result.kind}, not true/false. Compare it with a "
        "number (e.g. ... > 0), or give a text feature for a categorical tag."
    )


def evaluate_tags(
    tags: list[Tag], features: pd.DataFrame, need_of: Callable[[str], str | None] | None = None
) -> TagResult:
    """Evaluate every tag; tags matching nobody or everybody are reported as warnings.

    ``need_of`` (``FeaturePlan.need_of``) names the input a feature absent from
    ``features`` lacks: a tag reading such a feature is skipped with that need.
    """
    columns: dict[str, pd.Series] = {}
    warnings: dict[str, str] = {}
    kinds: dict[str, str] = {}
    skipped: dict[str, str] = {}
    for tag in tags:
        need = absent_need(tag, features, need_of) if need_of is not None else None
        if need is not None:
            skipped[tag.name] = need
            continue
        series = evaluate_rule(tag.rule, features, tag)
        kind = "bool" if series.dtype == bool else "category"
        hits = int(series.sum()) if kind == "bool" else int(series.notna().sum())
        if len(features) and hits == 0:
            warnings[tag.name] = "matches_nobody"
        elif len(features) and kind == "bool" and hits == len(features):
            warnings[tag.name] = "matches_everybody"
        columns[tag.column] = series
        kinds[tag.name] = kind
    values = pd.DataFrame(columns, index=features.index)
    return TagResult(values=values, warnings=warnings, kinds=kinds, skipped=skipped)


def absent_need(tag: Tag, features: pd.DataFrame, need_of: Callable[[str], str | None]) -> str | None:
    """The input lacking for the first feature (alphabetically) of ``tag``'s rule that is
    absent from ``features`` and has a need; None when the rule can be evaluated (or names
    an unknown feature, which evaluation reports)."""
    for name in sorted(rule_features(tag.rule) - set(features.columns)):
        need = need_of(name)
        if need is not None:
            return need
    return None


@dataclass
class _Value:
    """An intermediate value: a Series or a scalar/list literal, with its kind."""

    data: Any
    kind: str  # number, text, bool, null, list


class _Evaluator:
    """Walks a whitelisted rule tree and computes it column-wise on ``features``."""

    def __init__(self, features: pd.DataFrame, tag: Tag) -> None:
        self.features = features
        self.tag = tag
        self._cache: dict[str, _Value] = {}

    def fail(self, message: str) -> TagError:
        return TagError(f"{self.tag.where()}: {message} (rule: {_short(self.tag.rule)})")

    def value(self, node: ast.AST, context: _Value | None = None) -> _Value:
        if isinstance(node, ast.Constant):
            return self.constant(node.value)
        if isinstance(node, ast.Name):
            return self.name(node.id)
        if isinstance(node, (ast.List, ast.Tuple)):
            items = [self.value(e) for e in node.elts]
            if any(isinstance(i.data, pd.Series) or i.kind in ("list", "null") for i in items):
                raise self.fail("a list in a rule may only hold literal numbers or 'text'")
            kinds = {i.kind for i in items}
            if len(kinds) > 1:
                raise self.fail(f"a list mixes {' and '.join(sorted(kinds))} values")
            return _Value([i.data for i in items], f"list:{kinds.pop() if kinds else 'number'}")
        if isinstance(node, ast.BoolOp):
            parts = [self.boolean(v, "and" if isinstance(node.op, ast.And) else "or") for v in node.values]
            combine = operator.and_ if isinstance(node.op, ast.And) else operator.or_
            out = parts[0]
            for part in parts[1:]:
                out = combine(out, part)
            return _Value(out, "bool")
        if isinstance(node, ast.UnaryOp):
            if isinstance(node.op, ast.Not):
                return _Value(~self.boolean(node.operand, "not"), "bool")
            operand = self.value(node.operand)
            if operand.kind != "number":
                raise self.fail(f"a minus sign needs a number, got {operand.kind}")
            return _Value(-operand.data if isinstance(node.op, ast.USub) else operand.data, "number")
        if isinstance(node, ast.BinOp):
            left, right = self.value(node.left), self.value(node.right)
            if left.kind != "number" or right.kind != "number":
                raise self.fail(f"arithmetic needs numbers, got {left.kind} and {right.kind}")
            if isinstance(node.op, ast.Div) and isinstance(right.data, pd.Series):
                right = _Value(right.data.mask(right.data == 0), "number")
            elif isinstance(node.op, ast.Div) and right.data == 0:
                raise self.fail(f"division by a constant zero ({_short(ast.unparse(node.right))})")
            return _Value(_ARITHMETIC[type(node.op)](left.data, right.data), "number")
        if isinstance(node, ast.Compare):
            return self.compare(node)
        if isinstance(node, ast.Call):
            return self.quantile(node, context)
        raise self.fail(f"{_describe_node(node)} is not allowed")  # unreachable after parse_rule

    def constant(self, value: Any) -> _Value:
        if value is None:
            return _Value(None, "null")
        if isinstance(value, bool):
            return _Value(value, "bool")
        if isinstance(value, (int, float)):
            return _Value(float(value), "number")
        return _Value(str(value), "text")

    def name(self, name: str) -> _Value:
        if name in _LITERAL_NAMES:
            return _Value(_LITERAL_NAMES[name], "bool")
        if name in _NULL_NAMES:
            return _Value(None, "null")
        if name == "q":
            raise self.fail("q must be called, e.g. q(0.8)")
        if name not in self._cache:
            if name not in self.features.columns:
                close = suggest_features(name, [str(c) for c in self.features.columns])
                hint = f" Closest features: {', '.join(close)}." if close else ""
                raise self.fail(f"unknown feature {_short(name)}.{hint}")
            self._cache[name] = _column(self.features[name])
        return self._cache[name]

    def boolean(self, node: ast.AST, where: str) -> pd.Series:
        value = self.value(node)
        if value.kind != "bool":
            raise self.fail(f"'{where}' needs true/false on both sides, got {value.kind} ({_short(ast.unparse(node))})")
        if not isinstance(value.data, pd.Series):
            return pd.Series(value.data, index=self.features.index, dtype="boolean")
        return value.data

    def compare(self, node: ast.Compare) -> _Value:
        left_node = node.left
        out: pd.Series | None = None
        for op, right_node in zip(node.ops, node.comparators):
            left = self.value(left_node) if not isinstance(left_node, ast.Call) else None
            right = self.value(right_node, context=left)
            if left is None:
                left = self.value(left_node, context=right)
            part = self.compare_pair(op, left, right)
            out = part if out is None else out & part
            left_node = right_node
        return _Value(out, "bool")

    def compare_pair(self, op: ast.cmpop, left: _Value, right: _Value) -> pd.Series:
        index = self.features.index
        if isinstance(op, (ast.Is, ast.IsNot)):
            if right.kind != "null" or not isinstance(left.data, pd.Series):
                raise self.fail("'is' is only for 'feature is null' or 'feature is not null'")
            missing = left.data.isna().astype("boolean")
            return missing if isinstance(op, ast.Is) else ~missing
        if isinstance(op, (ast.In, ast.NotIn)):
            if not right.kind.startswith("list:"):
                raise self.fail("'in' needs a list on the right, e.g. city in ['上海', '北京']")
            if right.data and right.kind != f"list:{left.kind}":
                raise self.fail(f"'in' compares a {left.kind} with a list of {right.kind[5:]} values")
            data = left.data if isinstance(left.data, pd.Series) else pd.Series(left.data, index=index)
            hit = data.isin(right.data).astype("boolean").mask(data.isna())
            return hit if isinstance(op, ast.In) else ~hit
        if "null" in (left.kind, right.kind):
            raise self.fail("compare with null using 'is null' or 'is not null'")
        if left.kind != right.kind or left.kind.startswith("list"):
            raise self.fail(f"cannot compare a {left.kind} with a {right.kind}")
        if left.kind == "text" and not isinstance(op, (ast.Eq, ast.NotEq)):
            raise self.fail("text can only be compared with == or != (or in [..])")
        result = _COMPARE[type(op)](left.data, right.data)
        if not isinstance(result, pd.Series):
            result = pd.Series(result, index=index)
        return result.astype("boolean")

    def quantile(self, node: ast.Call, context: _Value | None) -> _Value:
        p = float(node.args[-1].value)  # type: ignore[attr-defined]
        if len(node.args) == 2:
            target = self.value(node.args[0])
        elif context is not None and isinstance(context.data, pd.Series):
            target = context
        else:
            raise self.fail("q(p) needs a feature on the other side of the comparison, or use q(feature, p)")
        if target.kind != "number":
            raise self.fail(f"q() needs a numeric feature, got {target.kind}")
        return _Value(float(target.data.quantile(p)) if target.data.notna().any() else float("nan"), "number")


STOP_WORDS = {"the", "a", "an", "of", "in", "on", "if", "or", "and", "to", "per", "at", "by", "is", "for"}
SAME_WORD = {"latest": "last", "recent": "last", "spend": "spent", "purchase": "order", "bought": "order"}


def _words(text: str) -> set[str]:
    """Lower-case words of a feature name or description, plural 's' dropped, a few
    synonyms merged (latest = last), stop words left out."""
    words = {w.removesuffix("s") if len(w) > 3 else w for w in re.findall(r"[a-z0-9]+", text.lower())}
    return {SAME_WORD.get(w, w) for w in words} - STOP_WORDS


def suggest_features(name: str, columns: list[str], n: int = 3) -> list[str]:
    """Features an unknown name probably meant, best first: features whose name and
    description share most of the name's words ("days_since_last_order" finds
    ``recency_days``, "Days since the latest order"), then close spellings."""
    from kit.profile.features import FEATURES

    asked = _words(name.replace("_", " "))
    ranked = []
    for column in columns:
        described = FEATURES[column][1] if column in FEATURES else ""
        shared = len(asked & (_words(described) | _words(column.replace("_", " "))))
        meaning = shared / len(asked) if asked and shared >= 2 else 0.0
        spelling = difflib.SequenceMatcher(None, name, column).ratio()
        if meaning >= 0.5 or spelling >= 0.6:
            ranked.append((-meaning, -spelling, column))
    return [column for *_, column in sorted(ranked)[:n]]


def _column(series: pd.Series) -> _Value:
    """A feature column in a nullable dtype (missing stays missing) with its kind."""
    if pd.api.types.is_bool_dtype(series):
        return _Value(series.astype("boolean"), "bool")
    if pd.api.types.is_numeric_dtype(series):
        return _Value(series.astype("Float64"), "number")
    if pd.api.types.is_datetime64_any_dtype(series):
        return _Value(series, "date")
    return _Value(series.astype("string"), "text")


def coverage_of(series: pd.Series) -> float:
    """Share of rows with the tag: True for bool tags, any value for categorical ones."""
    if len(series) == 0:
        return float("nan")
    return float(series.mean()) if series.dtype == bool else float(series.notna().mean())


__all__ = [
    "DIMENSIONS", "Tag", "TagError", "TagResult", "coverage_of", "evaluate_rule", "evaluate_tags", "load_tags",
    "parse_rule", "rule_features",
]  # fmt: skip
