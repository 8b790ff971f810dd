"""The fault matrix through the client (get_report over HTTP) and the CLI
(console script in a subprocess), with the token checked everywhere."""

import json
import logging
import re
import time

import pytest
from faultmatrix import (
    CASE_IDS,
    CASES,
    PROCESS_TIME_BOUND,
    RECOVERS,
    SETTINGS,
    STOPS,
    TIME_BOUND,
    appliance,
    assert_no_token,
    check_records,
    hash_mix,
)
from helpers import cli

from connector.actions import run_lookup
from connector.client import SpectraAnalyzeClient
from connector.config import Config
from connector.errors import AuthenticationError

LOG_LINE = re.compile(r"^spectra-connector: (DEBUG|INFO|WARNING|ERROR|CRITICAL): ")


class RecordedSleep:
    """Backoff waits are recorded, not slept, so the matrix runs in seconds."""

    def __init__(self):
        self.waits = []

    def __call__(self, seconds):
        self.waits.append(seconds)


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_client(case, corpus, caplog):
    caplog.set_level(logging.DEBUG)  # the root logger: urllib3's records too
    mix = hash_mix(corpus)
    sleep = RecordedSleep()
    with appliance(case, corpus) as target:
        config = Config.from_settings(target.settings())
        started = time.monotonic()
        with SpectraAnalyzeClient(config, sleep=sleep) as client:
            if case.outcome == STOPS:
                with pytest.raises(AuthenticationError) as raised:
                    run_lookup("get_report", {"hashes": mix}, client)
                outcome = raised.value
                assert case.message in str(outcome)
            else:
                outcome = run_lookup("get_report", {"hashes": mix}, client)
                check_records(case, mix, corpus, outcome.records)
                assert outcome.ok == (case.outcome == RECOVERS)
                assert all(case.message in error for error in outcome.errors)
        elapsed = time.monotonic() - started
        target.check_requests(case)
    assert elapsed < TIME_BOUND
    if case.plan == "429-retry-after":
        assert sleep.waits == [1.0]  # the server's Retry-After, not the backoff
    texts = [caplog.text, repr(config), repr(client)]  # caplog.text: every record, tracebacks included
    if case.outcome == STOPS:
        texts += [str(outcome), repr(outcome), outcome.body_excerpt]
    else:
        texts += [json.dumps(outcome.to_dict()), outcome.message] + outcome.errors
    assert_no_token(*texts)


def cli_flags():
    names = {
        "max_attempts": "--max-attempts",
        "retry_deadline": "--retry-deadline",
        "connect_timeout": "--connect-timeout",
        "read_timeout": "--read-timeout",
        "max_connections": "--max-connections",
        "batch_size": "--batch-size",
    }
    return [part for key, value in SETTINGS.items() for part in (names[key], value)]


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
@pytest.mark.slow
def test_cli(case, corpus):
    mix = hash_mix(corpus)
    with appliance(case, corpus) as target:
        started = time.monotonic()
        settings = target.settings()
        done = cli(
            "get-report",
            "--hash-file",
            "-",
            "--format",
            "jsonl",
            "-vv",
            *cli_flags(),
            env={"SPECTRA_ANALYZE_URL": settings["url"], "SPECTRA_ANALYZE_TOKEN": settings["token"]},
            stdin="\n".join(mix),
        )
        elapsed = time.monotonic() - started
        target.check_requests(case)
    assert elapsed < PROCESS_TIME_BOUND
    assert "Traceback" not in done.stderr
    messages = [line for line in done.stderr.splitlines() if not LOG_LINE.match(line)]
    if case.outcome == RECOVERS:
        assert done.returncode == 0 and messages == []
    else:
        assert done.returncode == 1
        assert len(messages) == 1 and messages[0].startswith("spectra-connector: ")
        assert case.message in messages[0]
    if case.outcome == STOPS:
        assert done.stdout == ""
    else:
        check_records(case, mix, corpus, [json.loads(line) for line in done.stdout.splitlines()], prefix="rl_")
    assert_no_token(done.stdout, done.stderr)
