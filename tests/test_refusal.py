"""After the appliance refuses a request (token, URL path), no new request
starts, on every surface: only those already in flight (fewer than
``max_connections``) finish. Counted on the server's side, over hundreds of
batches and four connections."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from helpers import CONNECTIONS, TOKEN, CountingSimulator, closed_port_url
from scp import run_command
from splunk_harness import (
    SESSION_KEY,
    configure,
    events_of,
    execute,
    payload_for,
    python,
    token_credentials,
    write_results,
)
from splunkd_standin import SplunkdStandIn

pytestmark = pytest.mark.slow  # every test here starts a process

BATCHES = 400  # one hash a batch
WRONG_TOKEN = "refused-token-8d2f61c0"
CLI = str(Path(sys.executable).parent / "spectra-connector")


@pytest.fixture
def appliance(corpus):
    with CountingSimulator(TOKEN, corpus=corpus) as server:
        yield server


@pytest.fixture
def hashes(corpus) -> list[str]:
    return corpus.hashes("sha1")[:BATCHES]


def cli(*args: str, stdin: str = "", token: str = WRONG_TOKEN) -> subprocess.CompletedProcess:
    env = dict(os.environ, SPECTRA_ANALYZE_TOKEN=token)
    return subprocess.run([CLI, *args], input=stdin, capture_output=True, text=True, env=env, timeout=120)


def connection_flags(url: str) -> list[str]:
    return ["--url", url, "--batch-size", "1", "--max-connections", str(CONNECTIONS), "--no-cache"]


@pytest.mark.parametrize("path", ["", "/not-an-appliance"], ids=["403", "404"])
def test_cli_get_report(appliance, hashes, path):
    done = cli(
        "get-report",
        "--hash-file",
        "-",
        "--format",
        "jsonl",
        *connection_flags(appliance.url + path),
        stdin="\n".join(hashes),
        token=TOKEN if path else WRONG_TOKEN,
    )
    assert done.returncode != 0
    assert ("refused the API token" if not path else "was not found") in done.stderr
    assert appliance.attempts < CONNECTIONS + 1


def test_cli_enrich(appliance, hashes):
    alerts = "\n".join(
        json.dumps({"id": index, "file": {"hash": {"sha1": value}}}) for index, value in enumerate(hashes)
    )
    rules = Path(__file__).resolve().parent.parent / "playbooks" / "rules" / "malware-triage.json"
    done = cli("enrich", "--rules", str(rules), "--window", "1000", *connection_flags(appliance.url), stdin=alerts)
    assert done.returncode != 0
    assert len(done.stdout.splitlines()) == BATCHES  # every alert out, marked
    assert all("spectra-lookup-failed" in json.loads(line)["tags"] for line in done.stdout.splitlines())
    assert appliance.attempts < CONNECTIONS + 1


@pytest.mark.parametrize("version", ["3.13"])
def test_splunk_command_every_later_chunk_too(version, splunk_app, appliance, hashes):
    configure(
        splunk_app, {"url": appliance.url, "batch_size": "1", "max_connections": str(CONNECTIONS), "cache": "false"}
    )
    chunks = [[{"sha1": value} for value in hashes[start : start + 100]] for start in range(0, BATCHES, 100)]
    with SplunkdStandIn(SESSION_KEY, token_credentials(WRONG_TOKEN)) as splunkd:
        run = run_command(splunk_app, python(version), ["field=sha1"], chunks, splunkd.uri, SESSION_KEY)
    assert run.returncode == 0, run.stderr
    assert [record["rl_status"] for record in run.records] == ["error"] * BATCHES
    assert len(run.messages_of("ERROR")) == 1
    assert appliance.attempts < CONNECTIONS + 1
    log = (splunk_app.parent.parent.parent / "var" / "log" / "splunk" / "spectra_analyze.log").read_text()
    counts = re.findall(r"chunk \d+: 100 events, 100 distinct hashes, 0 remembered, (\d+) looked up, (\d+) errors", log)
    assert counts == [("100", "100")] + [("0", "100")] * 3  # true counts: asked once, every hash an error
    done = re.search(r"done: .*, (\d+) requests attempted, (\d+) answered", log)
    assert done is not None and int(done[1]) == int(done[2]) == appliance.attempts  # refused, but answered


@pytest.mark.parametrize("version", ["3.13"])
def test_splunk_alert_action(version, splunk_app, appliance, hashes, tmp_path):
    configure(
        splunk_app, {"url": appliance.url, "batch_size": "1", "max_connections": str(CONNECTIONS), "cache": "false"}
    )
    results = write_results(tmp_path / "results.csv.gz", [{"sha1": value} for value in hashes])
    with SplunkdStandIn(SESSION_KEY, token_credentials(WRONG_TOKEN)) as splunkd:
        done = execute(splunk_app, version, payload_for(results, splunkd.uri))
        events = events_of(splunkd)
    assert done.returncode == 1 and "refused the API token" in done.stderr
    assert len(events) == BATCHES and all(event["rl_status"] == "error" for event in events)
    assert appliance.attempts < CONNECTIONS + 1


def test_unreachable_appliance_is_said_once_with_attempted_and_answered_requests(hashes):

    done = cli(
        "get-report",
        "--hash-file",
        "-",
        "--format",
        "json",
        "--max-attempts",
        "2",
        "--retry-deadline",
        "1",
        *connection_flags(closed_port_url()),
        stdin="\n".join(hashes[:40]),
        token=TOKEN,
    )
    assert done.returncode == 1
    result: dict[str, Any] = json.loads(done.stdout)
    assert result["summary"]["requests_answered"] == 0 and result["summary"]["requests_attempted"] > 0
    warnings = [line for line in done.stderr.splitlines() if "WARNING" in line]
    assert len(warnings) <= 1, warnings  # the breaker opening, said once
    reasons = result["message"].split("lookup failed: ", 1)[1]
    assert reasons.count("could not reach") == 1 + reasons.count("not sent")  # one reason, said once
    assert f"{result['summary']['requests_attempted']} request(s) attempted, 0 answered" in result["message"]
