"""Secret hygiene beyond the fault matrix (which checks every fault): reprs,
configuration mistakes, an appliance that echoes the token, proxy passwords."""

import logging

import pytest
from faultmatrix import assert_no_token
from helpers import TOKEN, cli

from connector.actions import run_lookup
from connector.client import SpectraAnalyzeClient
from connector.config import Config
from connector.errors import AuthenticationError, ConfigurationError
from connector.retry import RetryPolicy
from connector.simulator.faults import FaultSchedule
from connector.simulator.server import Simulator

PROXY_PASSWORD = "proxy-password-8d2f61"


def test_reprs_of_config_and_client_hide_the_token_and_the_proxy_password():
    config = Config(url="https://a1000.example.com", token=TOKEN, proxy=f"http://user:{PROXY_PASSWORD}@127.0.0.1:3128")
    client = SpectraAnalyzeClient(config)
    for text in (repr(config), str(config), repr(client), str(client)):
        assert_no_token(text)
        assert PROXY_PASSWORD not in text
    assert "a1000.example.com" in repr(client)


@pytest.mark.parametrize("field", ["url", "ca_bundle", "proxy", "batch_size", "read_timeout", "max_attempts"])
def test_a_token_pasted_into_another_setting_is_refused_by_name_without_echoing_it(field):
    settings = {"url": "https://a1000.example.com", "token": TOKEN, field: f"x{TOKEN} "}
    with pytest.raises(ConfigurationError) as raised:
        Config.from_settings(settings)
    assert str(raised.value).startswith(f"{field}: the value contains the API token")
    assert_no_token(str(raised.value), repr(raised.value))


@pytest.mark.parametrize("token, problem", [(TOKEN + " x", "spaces"), (TOKEN + "\u00e9", "non-ASCII")])
def test_a_malformed_token_is_described_not_shown(token, problem):
    with pytest.raises(ConfigurationError, match=problem) as raised:
        Config(url="https://a1000.example.com", token=token)
    assert_no_token(str(raised.value))


def test_an_appliance_echoing_the_token_is_scrubbed(corpus, caplog):
    caplog.set_level(logging.DEBUG)
    with Simulator(TOKEN, corpus=corpus, faults=FaultSchedule(["401"])) as server:
        with SpectraAnalyzeClient(Config(url=server.url, token=TOKEN)) as client:
            with pytest.raises(AuthenticationError) as raised:
                run_lookup("get_report", {"hashes": corpus.hashes("sha1")[:1]}, client)
    assert "Authentication failed for header: Token ***" in str(raised.value)
    assert_no_token(str(raised.value), raised.value.body_excerpt, caplog.text)


def test_a_proxy_password_stays_out_of_errors_and_logs(corpus, caplog):
    caplog.set_level(logging.DEBUG)
    proxy = f"http://user:{PROXY_PASSWORD}@127.0.0.1:9"  # nothing listens there: the proxy is refused
    config = Config(url="http://127.0.0.1:10", token=TOKEN, proxy=proxy, retry=RetryPolicy(max_attempts=1))
    with SpectraAnalyzeClient(config) as client:
        result = run_lookup("get_report", {"hashes": corpus.hashes("sha1")[:1]}, client)
    assert result.records[0]["status"] == "error" and "through the proxy" in result.message
    texts = [result.message, caplog.text, repr(config)]
    assert not any(PROXY_PASSWORD in text for text in texts)
    assert_no_token(*texts)


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--token", TOKEN], "the token is never taken as a flag"),
        ([f"--token={TOKEN}"], "the token is never taken as a flag"),
        (["--token-file", TOKEN], "--token-file: cannot read the file given"),
    ],
    ids=["token", "token=", "token-file"],
)
@pytest.mark.slow
def test_cli_refuses_a_token_given_as_a_flag_without_echoing_it(corpus, simulator, flags, message):
    done = cli("get-report", corpus.hashes("sha1")[0], "--url", simulator.url, *flags)
    assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr
    assert_no_token(done.stdout, done.stderr)


@pytest.mark.slow
def test_cli_never_prints_the_token(corpus, simulator, tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN)
    done = cli(
        "get-report",
        corpus.hashes("sha1")[0],
        "--url",
        simulator.url,
        "--token-file",
        str(token_file),
        "-vv",
        "--format",
        "json",
    )
    assert done.returncode == 0
    assert_no_token(done.stdout, done.stderr)
