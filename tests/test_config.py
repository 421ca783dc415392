"""The config loader: every mistake names the file, the key and what is allowed."""

from __future__ import annotations

from pathlib import Path

import pytest

from kit.config import DEFAULT_CONFIG, PROJECT_ROOT, ConfigError, KitConfig, load_config


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
