"""TLS against the simulator serving HTTPS with a certificate authority made
by the test: verification on by default, ca_bundle, and a loud opt-out."""

import json
import logging
import subprocess

import pytest
from certs import Authority
from faultmatrix import assert_no_token
from helpers import SCRIPT, TOKEN, cli

from connector.actions import run_lookup
from connector.client import SpectraAnalyzeClient
from connector.config import Config
from connector.errors import TLSVerificationError
from connector.simulator.server import Simulator

OFF_WARNING = "TLS certificate verification is OFF"


@pytest.fixture(scope="module")
def authority(tmp_path_factory):
    return Authority(tmp_path_factory.mktemp("ca"))


@pytest.fixture
def https(authority, corpus):
    # Two results a page, so that following 'next' over HTTPS is covered too.
    with Simulator(TOKEN, corpus=corpus, tls=authority.server_context(), page_size=2) as server:
        yield server


def three_hashes(corpus):
    return corpus.hashes("sha1")[:3]


def lookup(corpus, **settings):
    with SpectraAnalyzeClient(Config(token=TOKEN, **settings)) as client:
        return run_lookup("get_report", {"hashes": three_hashes(corpus)}, client)


def test_verification_is_on_by_default_and_an_unknown_ca_fails_with_a_hint(https, corpus, caplog):
    caplog.set_level(logging.DEBUG)
    assert https.url.startswith("https://") and Config(url=https.url, token=TOKEN).verify_tls
    with pytest.raises(TLSVerificationError) as raised:
        lookup(corpus, url=https.url)
    message = str(raised.value)
    assert "certificate verify failed" in message and "set ca_bundle to its CA certificate file" in message
    assert https.requests_served == 0
    assert_no_token(message, caplog.text)


def test_ca_bundle_verifies_the_appliance(https, authority, corpus):
    result = lookup(corpus, url=https.url, ca_bundle=str(authority.bundle))
    assert [record["status"] for record in result.records] == ["found"] * 3
    assert https.requests_served == 2  # two pages, the second through an https 'next' link


@pytest.mark.parametrize(
    "hosts, expired, reason",
    [
        (("localhost",), False, "IP address mismatch"),
        (("127.0.0.1",), True, "certificate has expired"),
    ],
    ids=["other-host", "expired"],
)
def test_ca_bundle_does_not_excuse_a_wrong_host_or_an_expired_certificate(authority, corpus, hosts, expired, reason):
    context = authority.server_context(hosts, expired=expired, stem="-".join(hosts) + str(expired))
    with Simulator(TOKEN, corpus=corpus, tls=context) as server:
        with pytest.raises(TLSVerificationError, match=reason):
            lookup(corpus, url=server.url, ca_bundle=str(authority.bundle))
        assert server.requests_served == 0


def test_the_opt_out_works_and_warns_every_time(https, corpus, caplog):
    caplog.set_level(logging.WARNING)
    for _ in range(2):
        assert lookup(corpus, url=https.url, verify_tls=False).ok
    warnings = [record for record in caplog.records if OFF_WARNING in record.getMessage()]
    assert len(warnings) == 2 and all(record.levelno == logging.WARNING for record in warnings)


def test_platform_settings_turn_verification_off_only_on_purpose(https, authority):
    base = {"url": https.url, "token": TOKEN}
    assert Config.from_settings(base).tls_verify is True
    assert Config.from_settings(dict(base, verify_tls="")).tls_verify is True
    assert Config.from_settings(dict(base, ca_bundle=str(authority.bundle))).tls_verify == str(authority.bundle)
    assert Config.from_settings(dict(base, verify_tls="false")).tls_verify is False


@pytest.mark.slow
def test_cli_default_ca_bundle_and_insecure(https, authority, corpus):
    env = {"SPECTRA_ANALYZE_URL": https.url, "SPECTRA_ANALYZE_TOKEN": TOKEN}
    hashes = three_hashes(corpus)
    done = cli("get-report", *hashes, env=env)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.startswith("spectra-connector: error: TLS verification of") and "ca_bundle" in done.stderr
    assert done.stdout == ""
    for extra, more_env in (
        (["--ca-bundle", str(authority.bundle)], {}),
        ([], {"SPECTRA_ANALYZE_CA_BUNDLE": str(authority.bundle)}),
    ):
        done = cli("get-report", *hashes, *extra, env=dict(env, **more_env))
        assert done.returncode == 0 and done.stderr == ""
        assert [json.loads(line)["rl_status"] for line in done.stdout.splitlines()] == ["found"] * 3
    for _ in range(2):
        done = cli("get-report", *hashes, "--insecure", env=env)
        assert done.returncode == 0 and OFF_WARNING in done.stderr
    assert_no_token(done.stdout, done.stderr)


@pytest.mark.slow
def test_the_simulator_command_serves_https(authority, corpus, tmp_path):
    certificate, key = authority.issue(["127.0.0.1"], stem="command")
    server = subprocess.Popen(
        [
            SCRIPT,
            "simulator",
            "--port",
            "0",
            "--token",
            "tok",
            "--samples",
            "10",
            "--tls-cert",
            str(certificate),
            "--tls-key",
            str(key),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = server.stdout.readline().split()[-1]
        assert url.startswith("https://127.0.0.1:")
        done = cli(
            "get-report",
            corpus.samples[0]["sha1"],
            "--ca-bundle",
            str(authority.bundle),
            env={"SPECTRA_ANALYZE_URL": url, "SPECTRA_ANALYZE_TOKEN": "tok"},
        )
        assert json.loads(done.stdout)["rl_classification"] == "malicious"
    finally:
        server.terminate()
        server.wait(timeout=10)
