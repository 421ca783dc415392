"""YAML for the kit's own files (kit.yml, tags.yml, the experiment catalogue): safe, and
a key given twice in one mapping is an error.

PyYAML keeps the last of two equal keys without a word, so a second ``tags:`` block
silently replaced the first one's tags. Every loader of a hand-written YAML file goes
through ``load_strict_yaml``; its error is a ``yaml.YAMLError`` whose text names the line
and the key, so each caller's "not valid YAML" message (which names the file) covers it.
"""

from __future__ import annotations

from typing import Any

import yaml

SHOWN_KEY_CHARS = 60  # a duplicate key is quoted up to this many characters in the error


class DuplicateKeyError(yaml.YAMLError):
    """A mapping gives the same key twice; the text names both lines and the key."""


class _StrictLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses a mapping with the same key twice."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        first_line: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *defaults` may be overridden
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                earlier = first_line.get(key)
            except TypeError:  # an unhashable key: SafeLoader's own error follows
                continue
            if earlier is not None:
                shown = repr(key)
                shown = shown if len(shown) <= SHOWN_KEY_CHARS else shown[: SHOWN_KEY_CHARS - 3] + "..."
                raise DuplicateKeyError(
                    f"line {key_node.start_mark.line + 1}: the key {shown} is given a second time "
                    f"(first on line {earlier}); each key may appear once in a mapping"
                )
            first_line[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)


def load_strict_yaml(text: str) -> Any:
    """The YAML document ``text`` as Python values; raises ``yaml.YAMLError`` (naming the
    line) for invalid YAML and for a key repeated within one mapping."""
    return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
