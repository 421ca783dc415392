"""The config loader: every mistake names the file, the key and what is allowed."""

from __future__ import annotations

import dataclasses
import typing
from pathlib import Path

import pytest

from kit.core.config import (
    DEFAULT_CONFIG,
    MONTH_PATTERN,
    PROJECT_ROOT,
    RANGES,
    ConfigError,
    KitConfig,
    load_config,
)
from kit.core.dates import check_month
from kit.core.strict_yaml import load_strict_yaml


def write(folder: Path, text: str, name: str = "kit.yml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    file = folder / name
    file.write_text(text, encoding="utf-8")
    return file


def test_project_config_loads_with_the_documented_defaults():
    config = load_config()
    assert isinstance(config, KitConfig)
    assert config.source_file == DEFAULT_CONFIG
    assert config.root == PROJECT_ROOT
    assert config.run.notebooks[0] == "01_ingest" and config.run.notebooks[-1] == "07_overview"
    assert config.resolve(config.paths.reports) == PROJECT_ROOT / "reports"


def test_unknown_key_names_file_key_and_suggests_the_closest(tmp_path):
    file = write(tmp_path, "run:\n  kernal_name: python3\n")
    with pytest.raises(ConfigError) as info:
        load_config(file)
    message = str(info.value)
    assert str(file) in message
    assert "run.kernal_name" in message
    assert "Did you mean 'kernel_name'?" in message
    assert "timeout_seconds" in message  # lists what is allowed


def test_unknown_section_is_refused(tmp_path):
    file = write(tmp_path, "runn:\n  month: '2026-10'\n")
    with pytest.raises(ConfigError, match=r"unknown key 'runn'.*Did you mean 'run'\?"):
        load_config(file)


def test_wrong_type_names_the_key_and_the_expected_type(tmp_path):
    file = write(tmp_path, "run:\n  timeout_seconds: soon\n")
    with pytest.raises(ConfigError, match=r"run.timeout_seconds must be a whole number, got 'soon'"):
        load_config(file)


def test_boolean_is_not_accepted_as_a_number(tmp_path):
    file = write(tmp_path, "clv:\n  gross_margin: true\n")
    with pytest.raises(ConfigError, match=r"clv.gross_margin must be a number"):
        load_config(file)


def test_list_where_a_list_is_expected(tmp_path):
    file = write(tmp_path, "run:\n  notebooks: 01_ingest\n")
    with pytest.raises(ConfigError, match=r"run.notebooks must be a list"):
        load_config(file)


def test_bad_literal_lists_the_allowed_values(tmp_path):
    file = write(tmp_path, "run:\n  lang: fr\n")
    with pytest.raises(ConfigError) as info:
        load_config(file)
    assert "run.lang = 'fr' is not allowed" in str(info.value)
    assert "'en', 'zh'" in str(info.value)


@pytest.mark.parametrize("month", ["2026-13", "2026-1", "26-10", "October"])
def test_bad_month_is_refused(tmp_path, month):
    file = write(tmp_path, f"run:\n  month: '{month}'\n")
    with pytest.raises(ConfigError, match=r"run.month.*expected YYYY-MM"):
        load_config(file)


def test_bad_month_from_an_override_is_refused(tmp_path):
    file = write(tmp_path, "run:\n  lang: en\n")
    with pytest.raises(ConfigError, match=r"expected YYYY-MM"):
        load_config(file, overrides={"run": {"month": "2026/10"}})


def test_overrides_are_validated_and_applied(tmp_path):
    file = write(tmp_path, "run:\n  month: '2026-10'\n")
    config = load_config(file, overrides={"run": {"month": "2026-09", "lang": "zh"}})
    assert (config.run.month, config.run.lang) == ("2026-09", "zh")
    with pytest.raises(ConfigError, match="run.lang"):
        load_config(file, overrides={"run": {"lang": "de"}})


def test_missing_file_says_what_to_do(tmp_path):
    with pytest.raises(ConfigError, match=r"nope.yml: config file not found.*--config"):
        load_config(tmp_path / "nope.yml")


def test_invalid_yaml_and_non_mapping_are_refused(tmp_path):
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(write(tmp_path, "run: [unclosed\n"))
    with pytest.raises(ConfigError, match="top level must be a mapping"):
        load_config(write(tmp_path, "- just\n- a list\n", "list.yml"))


def test_relative_paths_resolve_from_the_config_folder_not_the_cwd(tmp_path, monkeypatch):
    file = write(tmp_path / "project", "paths:\n  reports: out/reports\n  raw: ../shared/raw\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    config = load_config(file)
    assert config.root == (tmp_path / "project").resolve()
    assert config.resolve(config.paths.reports) == (tmp_path / "project" / "out" / "reports").resolve()
    assert config.resolve(config.paths.raw) == (tmp_path / "shared" / "raw").resolve()


def test_a_config_inside_config_folder_resolves_from_the_project_root(tmp_path, monkeypatch):
    file = write(tmp_path / "proj" / "config", "paths:\n  warehouse: data/wh\n")
    monkeypatch.chdir(tmp_path)
    config = load_config(file)
    assert config.root == (tmp_path / "proj").resolve()
    assert config.resolve(config.paths.warehouse) == (tmp_path / "proj" / "data" / "wh").resolve()


def test_absolute_paths_stay_absolute(tmp_path):
    target = tmp_path / "abs" / "reports"
    config = load_config(write(tmp_path, f"paths:\n  reports: {target}\n"))
    assert config.resolve(config.paths.reports) == target


def test_relative_config_path_argument_is_made_absolute(tmp_path, monkeypatch):
    write(tmp_path, "run:\n  lang: zh\n")
    monkeypatch.chdir(tmp_path)
    config = load_config("kit.yml")
    assert config.source_file == (tmp_path / "kit.yml").resolve()
    assert config.source_file.is_absolute()


@pytest.mark.parametrize("month", ["", "2026-10\n", "２０２６-１０", "2026-1０", "2026-00", " 2026-10"])
def test_month_must_be_ascii_yyyy_mm_without_a_trailing_newline(tmp_path, month):
    # before: \d took full-width digits and $ allowed a final newline
    file = write(tmp_path, "run:\n  lang: en\n")
    with pytest.raises(ConfigError, match=r"run.month = .*expected YYYY-MM with a month 01-12"):
        load_config(file, overrides={"run": {"month": month}})
    assert not MONTH_PATTERN.match(month)
    with pytest.raises(ValueError, match="YYYY-MM"):
        check_month(month)


@pytest.mark.parametrize(
    "text, message",
    [
        ("clv:\n  gross_margin: -4", r"clv.gross_margin = -4.0 is out of range: allowed \[0, 1\]"),
        ("clv:\n  gross_margin: 1.5", r"clv.gross_margin = 1.5 is out of range: allowed \[0, 1\]"),
        ("experiments:\n  alpha: 0", r"experiments.alpha = 0.0 is out of range: allowed \(0, 1\)"),
        ("experiments:\n  alpha: 1", r"experiments.alpha = 1.0 is out of range: allowed \(0, 1\)"),
        ("experiments:\n  power: .nan", r"experiments.power = nan is out of range"),
        ("segmentation:\n  value_tier_shares: [0.85, 0.5]", r"value_tier_shares = \[0.85, 0.5\] must be strictly increasing"),
        ("segmentation:\n  value_tier_shares: [0.5, 1.0]", r"value_tier_shares\[1\] = 1.0 is out of range: allowed \(0, 1\)"),
        ("segmentation:\n  rfm_breaks: {recency: [30, 20, 60, 90]}", r"segmentation.rfm_breaks.recency = .* strictly increasing"),
        ("segmentation:\n  active_days: 0", r"segmentation.active_days = 0 is out of range: allowed >= 1"),
        ("segmentation:\n  persona_k_min: 1", r"persona_k_min = 1 is out of range: allowed >= 2"),
        ("segmentation:\n  persona_k_min: 9", r"persona_k_min = 9 is above segmentation.persona_k_max = 8"),
        ("segmentation:\n  silent_days: 60", r"active_days = 90, silent_days = 60: the lifecycle stages .* need new_days <= active_days < silent_days"),
        ("segmentation:\n  new_days: 120", r"new_days = 120, active_days = 90"),
        ("churn:\n  window_days: -90", r"churn.window_days = -90 is out of range"),
        ("churn:\n  call_share: 50", r"churn.call_share = 50.0 is out of range: allowed \[0, 1\]"),
        ("churn:\n  seed: -1", r"churn.seed = -1 is out of range: allowed \[0, 4294967295\]"),
        ("run:\n  timeout_seconds: 0", r"run.timeout_seconds = 0 is out of range: allowed \[1, 86400\]"),
        ("features:\n  city_tiers: {上海: 0}", r"features.city_tiers.上海 = 0 is out of range"),
        ("clv:\n  monthly_discount_rate: 1", r"clv.monthly_discount_rate = 1.0 is out of range: allowed \[0, 1\)"),
    ],
)
def test_numbers_out_of_range_name_file_key_value_and_range(tmp_path, text, message):
    # before: loaded, e.g. gross_margin -4 published a CLV of -14.2M
    file = write(tmp_path, text + "\n")
    with pytest.raises(ConfigError, match=message) as info:
        load_config(file)
    assert str(info.value).startswith(f"{file}: ")


@pytest.mark.parametrize(
    "text, message",
    [
        ("warehouse:\n  backend: url\n", r"warehouse.backend = url needs warehouse.url, an Ibis connection URL"),
        ("warehouse:\n  backend: url\n  url: my-warehouse\n", r"warehouse.backend = url needs warehouse.url.*got 'my-warehouse'"),
        ("warehouse:\n  url: bigquery://p/d\n", r"warehouse.url = 'bigquery://p/d' is only read with warehouse.backend = url \(it is duckdb\)"),
        ("warehouse:\n  backend: spark\n", r"warehouse.backend"),
    ],
)
def test_warehouse_backend_settings_are_checked(tmp_path, text, message):
    with pytest.raises(ConfigError, match=message):
        load_config(write(tmp_path, text))


def test_warehouse_backend_defaults_to_embedded_duckdb(tmp_path):
    config = load_config(write(tmp_path, "warehouse:\n  backend: pyspark\n  spark: {spark.driver.memory: 4g}\n"))
    assert config.warehouse.backend == "pyspark" and config.warehouse.spark == {"spark.driver.memory": "4g"}
    assert load_config(write(tmp_path, "run:\n  lang: en\n")).warehouse.backend == "duckdb"


def _numeric_fields(cls: type, seen: set | None = None):
    """(section class, field name) of every field holding numbers, in every nested section."""
    seen = set() if seen is None else seen
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if f.metadata.get("internal"):
            continue
        hint = hints[f.name]
        inner = typing.get_args(hint)[-1] if typing.get_origin(hint) in (list, dict) else hint
        if typing.get_origin(inner) is list:
            inner = typing.get_args(inner)[0]
        if dataclasses.is_dataclass(inner) and inner not in seen:
            seen.add(inner)
            yield from _numeric_fields(inner, seen)
        elif inner in (int, float):
            yield cls, f.name


def test_every_number_in_the_config_has_a_range_and_its_default_fits():
    fields = list(_numeric_fields(KitConfig))
    assert len(fields) > 30
    missing = [f"{cls.__name__}.{name}" for cls, name in fields if (cls, name) not in RANGES]
    assert not missing, f"add these to kit.core.config.RANGES: {missing}"
    assert not set(RANGES) - set(fields), "RANGES names a field that is not a number"
    for (cls, name), allowed in RANGES.items():
        default = getattr(cls(), name)
        numbers = default if isinstance(default, list) else list(default.values()) if isinstance(default, dict) else [default]
        assert all(allowed.allows(n) for n in numbers), f"{cls.__name__}.{name} default {default!r} is outside {allowed}"


def test_long_values_are_cut_in_messages(tmp_path):
    file = write(tmp_path, "run:\n  notebooks: " + "x" * 5000 + "\n")
    with pytest.raises(ConfigError, match=r"run.notebooks must be a list") as info:
        load_config(file)
    assert len(str(info.value)) < len(str(file)) + 200


def test_a_key_given_twice_is_refused_naming_file_line_and_key(tmp_path):
    # before: the second `clv:` silently replaced the first
    file = write(tmp_path, "clv:\n  gross_margin: 0.4\nrun:\n  lang: en\nclv:\n  horizon_months: 6\n")
    with pytest.raises(ConfigError, match=r"kit.yml: not valid YAML: line 5: the key 'clv' is given a second time \(first on line 1\)"):
        load_config(file)
    file = write(tmp_path, "run:\n  lang: en\n  lang: zh\n")
    with pytest.raises(ConfigError, match=r"line 3: the key 'lang' is given a second time \(first on line 2\)"):
        load_config(file)


def test_yaml_merge_keys_may_still_be_overridden():
    assert load_strict_yaml("base: &b {lang: en}\nrun:\n  <<: *b\n  lang: zh\n")["run"] == {"lang": "zh"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("ingest:\n  min_date: '1900-13-01'", r"ingest.min_date = '1900-13-01': expected a date YYYY-MM-DD"),
        ("ingest:\n  max_date: '2100/01/01'", r"ingest.max_date = '2100/01/01': expected a date YYYY-MM-DD"),
        ("ingest:\n  min_date: '2030-01-01'\n  max_date: '2020-01-01'", r"ingest.min_date = 2030-01-01 must be before"),
        (
            "ingest:\n  gate:\n    month_drop_warn: 0.7\n    month_drop_fail: 0.6",
            r"ingest.gate.month_drop_warn = 0.7 is above ingest.gate.month_drop_fail = 0.6",
        ),
    ],
)
def test_ingest_limits_must_be_dates_in_order_and_warn_not_above_fail(tmp_path, text, message):
    # before: a date that does not parse failed inside DuckDB during ingest, and a warn level
    # above its fail level let a source fail the gate without ever warning
    with pytest.raises(ConfigError, match=message):
        load_config(write(tmp_path, text + "\n"))


def test_a_retired_key_says_what_replaced_it() -> None:
    """churn.population_days (before issue 18): the error says where the population went."""
    with pytest.raises(ConfigError, match="population_days.*It is gone.*segmentation.silent_days"):
        load_config(overrides={"churn": {"population_days": 365}})
