"""The settings table: one parser for text (.conf files, flags) and values as
SOAR types them, and the files generated from the table kept current."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from connector.config import CacheSettings, Config, cache_settings
from connector.errors import ConfigurationError
from connector.settings import SETTINGS, Kind, Setting, Surface, on, parse_settings, shown
from connector_tools.splunk.spec import DEFAULT_PATH, SPEC_PATH, default_text, spec_text

TOKEN = "settings-token-5c9e1f0a"
AS_TEXT = {
    "url": "https://a1000.example.com",
    "token": TOKEN,
    "verify_tls": "false",
    "ca_bundle": "",
    "proxy": "",
    "connect_timeout": "2.5",
    "read_timeout": "30",
    "batch_size": "20",
    "max_connections": "2",
    "max_attempts": "3",
    "retry_deadline": "15",
    "cache": "true",
    "cache_ttl": "7200",
    "cache_not_found_ttl": "",
    "cache_max_entries": "5000",
    "cache_store": "KVStore",
    "verdict_high_riskscore": "8",
    "verdict_medium_riskscore": "5",
}
AS_SOAR_TYPES = {
    "url": "https://a1000.example.com",
    "token": TOKEN,
    "verify_tls": False,
    "ca_bundle": "",
    "proxy": "",
    "connect_timeout": 2.5,
    "read_timeout": 30.0,
    "batch_size": 20.0,
    "max_connections": 2.0,
    "max_attempts": 3.0,
    "retry_deadline": 15.0,
    "cache": True,
    "cache_ttl": 7200.0,
    "cache_not_found_ttl": "",
    "cache_max_entries": 5000.0,
    "cache_store": "kvstore",
    "verdict_high_riskscore": 8.0,
    "verdict_medium_riskscore": 5.0,
}


def test_text_and_soar_types_give_the_same_config(tmp_path):
    assert set(AS_TEXT) == set(AS_SOAR_TYPES) == {setting.name for setting in SETTINGS}
    from_text = Config.from_settings(dict(AS_TEXT, cache_dir=str(tmp_path)))
    from_soar = Config.from_settings(dict(AS_SOAR_TYPES, cache_dir=str(tmp_path)))
    assert from_text == from_soar
    assert (from_soar.batch_size, from_soar.max_connections, from_soar.retry.max_attempts) == (20, 2, 3)
    assert isinstance(from_soar.batch_size, int) and from_soar.verify_tls is False
    assert from_soar.cache == CacheSettings(str(tmp_path), ttl=7200, not_found_ttl=3600, max_entries=5000)


def test_unset_values_take_the_tables_defaults():
    values = parse_settings({"url": "https://a1000.example.com", "token": TOKEN, "batch_size": "", "cache": None})
    assert {name: value for name, value in values.items() if name not in ("url", "token")} == {
        setting.name: setting.default for setting in SETTINGS if not setting.required
    }
    config = Config(url="https://a1000.example.com", token=TOKEN)
    assert Config.from_settings({"url": "https://a1000.example.com", "token": TOKEN}) == config
    assert (config.batch_size, config.retry.max_attempts) == (values["batch_size"], values["max_attempts"])


@pytest.mark.parametrize(
    "key, value, message",
    [
        ("max_attempts", 4.5, "max_attempts: expected a whole number, got 4.5"),
        ("batch_size", True, "batch_size: expected a whole number, got True"),
        ("batch_size", "1e4", "batch_size: expected a value from 1 to 1000, got '1e4'"),
        ("read_timeout", float("nan"), "read_timeout: expected a finite number"),
        ("verify_tls", 2.0, "verify_tls: expected true or false, got 2.0"),
        ("proxy", 3128, "proxy: expected text, got 3128"),
        ("token", 12345678.0, "token: expected text"),
    ],
)
def test_a_bad_value_is_named(key, value, message):
    with pytest.raises(ConfigurationError) as raised:
        Config.from_settings(dict(AS_SOAR_TYPES, **{key: value}))
    assert str(raised.value).startswith(message)
    if key == "token":
        assert str(raised.value) == "token: expected text"  # a secret is never echoed


def test_whole_numbers_in_any_form():
    for value in (4, 4.0, "4", " 4.0 ", "4e0"):
        assert Config.from_settings(dict(AS_TEXT, max_attempts=value)).retry.max_attempts == 4


def test_the_cache_settings_stand_apart_from_the_clients():
    assert cache_settings(dict(AS_SOAR_TYPES, cache_dir="state")) == CacheSettings("state", ttl=7200, max_entries=5000)
    assert cache_settings(dict(AS_SOAR_TYPES, cache_dir="")) is None
    assert cache_settings(dict(AS_SOAR_TYPES, cache_dir="state", cache=False)) is None
    assert cache_settings({"cache_dir": "state", "url": "not read"}) == CacheSettings("state")
    with pytest.raises(ConfigurationError, match="cache_ttl: expected a number"):
        cache_settings({"cache_dir": "state", "cache_ttl": "a day"})


def test_the_table_refuses_what_no_platform_could_carry():
    with pytest.raises(ValueError, match="secret"):
        Setting("key", Kind.SECRET, "a secret", default="x")
    with pytest.raises(ValueError, match="secret"):
        Setting("key", Kind.SECRET, "a secret", surfaces=frozenset({Surface.CLI}))
    with pytest.raises(ValueError, match="minimum"):
        Setting("size", Kind.INTEGER, "a size", default=1)
    with pytest.raises(ConfigurationError, match="size: expected a value from 1 to 9"):
        Setting("size", Kind.INTEGER, "a size", default=10, minimum=1, maximum=9)
    assert [setting.name for setting in SETTINGS if setting.kind is Kind.SECRET] == ["token"]
    assert [setting.name for setting in SETTINGS if setting.required] == ["url", "token"]


def test_the_splunk_conf_files_are_generated_from_the_table():
    assert SPEC_PATH.read_text(encoding="utf-8") == spec_text(), "run: python -m connector_tools.splunk.spec"
    assert DEFAULT_PATH.read_text(encoding="utf-8") == default_text(), "run: python -m connector_tools.splunk.spec"


@pytest.mark.slow
def test_the_command_line_help_comes_from_the_table():
    script = Path(sys.executable).with_name("spectra-connector")
    completed = subprocess.run([str(script), "get-report", "--help"], capture_output=True, text=True, timeout=60)
    text = " ".join(completed.stdout.split())
    for setting in on(Surface.CLI):
        assert setting.cli_flag in text
        if setting.kind in (Kind.INTEGER, Kind.NUMBER):
            assert f"({setting.bounds}; default {shown(setting.default)})" in text
    assert "--token " not in text
