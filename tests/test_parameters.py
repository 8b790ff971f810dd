"""Action parameters as platforms hand them over."""

import pytest

from connector.actions import SUPPORTED_FIELDS, parse_request
from connector.config import Config
from connector.errors import ConfigurationError, InputError
from connector.flatten import SOURCE_FIELDS

SHA1 = "3ecb56536b58d2e2ec0779d1c28a9f20024d6b66"


def test_defaults_skip_reanalysis_and_ask_for_the_record_fields():
    request = parse_request({"hashes": SHA1})
    assert request.question.skip_reanalysis is True
    assert request.question.include_network_threat_intelligence is False
    assert request.question.fields == SOURCE_FIELDS


def test_the_32_documented_fields_come_from_the_schema():
    assert len(SUPPORTED_FIELDS) == 32 and "av_scanners_summary" in SUPPORTED_FIELDS


def test_fields_tolerate_spaces_and_summary_is_added_for_get_summary():
    request = parse_request({"hashes": SHA1, "fields": " classification , riskscore,"}, with_summary=True)
    assert request.question.fields == ("classification", "riskscore", "summary")


def test_request_fields_always_carry_the_hash_fields():
    request = parse_request({"hashes": SHA1, "fields": "riskscore"})
    assert request.question.request_fields() == ["riskscore", "md5", "sha1", "sha256", "sha512"]


@pytest.mark.parametrize(
    "text, expected", [("true", True), ("FALSE", False), (" yes ", True), ("0", False), (True, True), ("", True)]
)
def test_booleans_in_every_spelling(text, expected):
    assert parse_request({"hashes": SHA1, "skip_reanalysis": text}).question.skip_reanalysis is expected


def test_unknown_field_names_are_named_with_the_supported_list():
    with pytest.raises(InputError) as err:
        parse_request({"hashes": SHA1, "fields": "classification,riskscor"})
    assert "riskscor" in str(err.value) and "supported: id, sha1" in str(err.value)


def test_network_ti_rule_says_what_to_add():
    with pytest.raises(InputError) as err:
        parse_request(
            {"hashes": SHA1, "fields": "networkthreatintelligence", "include_network_threat_intelligence": "true"}
        )
    assert str(err.value).endswith("add domainthreatintelligence to fields")
    request = parse_request(
        {
            "hashes": SHA1,
            "fields": "networkthreatintelligence,domainthreatintelligence",
            "include_network_threat_intelligence": "true",
        }
    )
    assert request.question.include_network_threat_intelligence is True


@pytest.mark.parametrize(
    "params, message",
    [
        ({}, "invalid parameters: missing hashes"),
        ({"hashes": " , "}, "hashes: no hash given"),
        (
            {"hashes": SHA1, "skip_reanalysis": "maybe"},
            "invalid parameters: skip_reanalysis: 'maybe' is not accepted; Fetch the stored report",
        ),
        ({"hashes": SHA1, "colour": "red"}, "invalid parameters: unknown colour (expected: hashes, fields,"),
    ],
)
def test_bad_parameters_get_a_clear_message(params, message):
    with pytest.raises(InputError) as err:
        parse_request(params)
    assert str(err.value).startswith(message)


def test_config_from_platform_strings():
    config = Config.from_settings(
        {
            "url": "https://a1000.example.com/",
            "token": " abc ",
            "verify_tls": "False",
            "batch_size": "50",
            "read_timeout": "",
            "max_attempts": "2",
        }
    )
    assert (config.url, config.token, config.verify_tls, config.batch_size) == (
        "https://a1000.example.com",
        "abc",
        False,
        50,
    )
    assert config.read_timeout == 60.0 and config.retry.max_attempts == 2 and config.tls_verify is False


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"url": "a1000.example.com", "token": "t"}, "url: expected the appliance address"),
        ({"url": "https://a", "token": ""}, "token: no API token given"),
        ({"url": "https://a", "token": "t", "batch_size": "0"}, "batch_size: expected a value from 1 to 1000"),
        ({"url": "https://a", "token": "t", "verify_tls": "sometimes"}, "verify_tls: expected true or false"),
        ({"url": "https://a", "token": "t", "ca_bundle": "/nonexistent/ca.pem"}, "ca_bundle: no file or folder"),
    ],
)
def test_bad_settings_are_configuration_errors(settings, message):
    with pytest.raises(ConfigurationError) as err:
        Config.from_settings(settings)
    assert str(err.value).startswith(message)


def test_repr_never_shows_the_token():
    config = Config(url="https://a", token="sentinel-secret")
    assert "sentinel-secret" not in repr(config) and "sentinel-secret" not in str(config)
