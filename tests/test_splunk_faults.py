"""The fault matrix through the Splunk command: the built app under Splunk's
Python 3.9, driven over SCP v2 as splunkd drives it, against the simulator
injecting each fault. Every event comes out, with the case's status and one
message in the job inspector; the token and the session key stay out of
events, messages, stderr and the app's log file."""

import json
import time

import pytest
from certs import Authority
from faultmatrix import (
    CASE_IDS,
    CASES,
    PROCESS_TIME_BOUND,
    RECOVERS,
    STOPS,
    appliance,
    assert_no_token,
    check_records,
    hash_mix,
)
from helpers import TOKEN
from scp import run_command
from splunk_harness import SESSION_KEY, configure, python

from connector.simulator.server import Simulator

pytestmark = pytest.mark.slow  # every test here starts a process


def as_record(event):
    """An event's output fields with Splunk's empty strings read as null."""
    return {key: (value if value != "" else None) for key, value in event.items()}


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_splunk_command(case, corpus, splunk_app, splunkd):
    mix = hash_mix(corpus)
    events = [{"h": value, "n": str(index)} for index, value in enumerate(mix)] + [{"n": "no hash"}]
    with appliance(case, corpus) as target:
        settings = {key: value for key, value in target.settings().items() if key != "token"}
        configure(splunk_app, settings)
        started = time.monotonic()
        run = run_command(splunk_app, python("3.9"), ["field=h"], [events], splunkd.uri, SESSION_KEY)
        elapsed = time.monotonic() - started
        target.check_requests(case)
    assert elapsed < PROCESS_TIME_BOUND
    assert run.returncode == 0 and "Traceback" not in run.stderr
    records = [as_record(event) for event in run.records]
    assert [record["n"] for record in records] == [event["n"] for event in events]  # every event, in order
    assert records[-1]["rl_status"] == "no_hash"
    errors, warnings = run.messages_of("ERROR"), run.messages_of("WARN")
    if case.outcome == STOPS:
        assert len(errors) == 1 and case.message in errors[0] and warnings == []
        statuses = [record["rl_status"] for record in records[:-1]]
        assert statuses == ["invalid" if value == "not-a-hash" else "error" for value in mix]
    else:
        check_records(case, mix, corpus, records[:-1], prefix="rl_")
        assert errors == []
        if case.outcome == RECOVERS:
            assert warnings == []
        else:
            assert len(warnings) == 1 and case.message in warnings[0]
    log_file = splunk_app.parent.parent.parent / "var" / "log" / "splunk" / "spectra_analyze.log"
    texts = [json.dumps(run.records), json.dumps(run.messages), run.stderr, log_file.read_text()]
    assert_no_token(*texts)
    assert not any(SESSION_KEY in text for text in texts)


@pytest.fixture(scope="module")
def authority(tmp_path_factory):
    return Authority(tmp_path_factory.mktemp("ca"))


def test_tls_is_verified_by_default_ca_bundle_works_and_the_opt_out_warns(corpus, splunk_app, splunkd, authority):
    sha1 = corpus.hashes("sha1")[0]
    with Simulator(TOKEN, corpus=corpus, tls=authority.server_context()) as server:
        outcomes = []
        for extra in ({}, {"ca_bundle": str(authority.bundle)}, {"verify_tls": "false"}):
            configure(splunk_app, dict({"url": server.url, "max_attempts": "1"}, **extra))
            run = run_command(splunk_app, python("3.9"), ["field=h"], [[{"h": sha1}]], splunkd.uri, SESSION_KEY)
            assert run.returncode == 0
            outcomes.append((run.records[0]["rl_status"], run.messages))
            assert_no_token(json.dumps(run.records), json.dumps(run.messages), run.stderr)
    (default, default_messages), (bundle, bundle_messages), (off, off_messages) = outcomes
    assert default == "error" and len(default_messages) == 1
    assert default_messages[0][0] == "ERROR" and "set ca_bundle to its CA certificate file" in default_messages[0][1]
    assert bundle == "found" and bundle_messages == []
    assert off == "found" and [level for level, _ in off_messages] == ["WARN"]
    assert "verify_tls = false" in off_messages[0][1]
