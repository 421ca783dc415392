"""kit.core.strict_yaml: the kit's YAML files refuse a key given twice (kit.yml and tags.yml
have their own tests in test_config.py and test_tags.py; here the loader and the
experiment catalogue)."""

from __future__ import annotations

import pytest
import yaml

from kit.core.strict_yaml import DuplicateKeyError, load_strict_yaml
from kit.experiments.catalog import CatalogError, load_catalog


def test_duplicate_keys_are_refused_at_any_depth_naming_both_lines():
    with pytest.raises(DuplicateKeyError, match=r"^line 4: the key 'b' is given a second time \(first on line 2\)"):
        load_strict_yaml("a:\n  b: 1\n  c: 2\n  b: 3\n")
    with pytest.raises(yaml.YAMLError, match=r"line 3: the key 'x' is given a second time \(first on line 2\)"):
        load_strict_yaml("- {x: 1, y: 2}\n- {x: 1,\n   x: 2}\n")


def test_a_long_duplicate_key_is_cut_in_the_message():
    key = "k" * 500
    with pytest.raises(DuplicateKeyError) as info:
        load_strict_yaml(f"{key}: 1\n{key}: 2\n")
    assert len(str(info.value)) < 200


def test_safe_yaml_is_otherwise_unchanged():
    text = "a: 1\nb: [1, 2.5, x]\nbase: &d {x: 1}\nm:\n  <<: *d\n  x: 2\nwhen: 2026-10-01\n"
    assert load_strict_yaml(text) == yaml.safe_load(text)
    with pytest.raises(yaml.YAMLError):
        load_strict_yaml("!!python/object/apply:os.system ['true']\n")


def test_experiment_catalogue_with_a_key_given_twice_is_refused(tmp_path):
    # before: the second `experiments:` silently replaced the first list
    entry = "  - id: exp_a\n    control: control\n    variants: [control, b]\n    start: 2026-09-01\n    end: 2026-09-28\n    primary_metric: conversion\n"
    path = tmp_path / "experiments.yml"
    path.write_text("experiments:\n" + entry + "experiments:\n" + entry.replace("exp_a", "exp_b"), encoding="utf-8")
    with pytest.raises(CatalogError, match=r"experiments.yml: not valid YAML: line 8: the key 'experiments' is given a second time"):
        load_catalog(path)
