"""A stand-in search head cluster: two members, each its own SPLUNK_HOME
with the built app and its own stand-in splunkd, one KV store stand-in
shared by both (as the cluster replicates it). The command runs as splunkd
runs it (SCP v2, a subprocess), the alert action as splunkd runs it too."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from helpers import TOKEN
from kvstore_standin import INITIALIZING, KVStore
from scp import run_command
from splunk_harness import (
    SESSION_KEY,
    alert_results,
    configure,
    events_of,
    execute,
    install_app,
    payload_for,
    python,
    token_credentials,
    write_results,
)
from splunkd_standin import SplunkdStandIn

from connector.splunk.kvstore import COLLECTION
from connector.validation import violation

VERSION = "3.9"  # the failure cases; the shared cache itself on both Splunk Pythons
MEMBER_ROLES = ("search_head", "kv_store", "shc_member")

pytestmark = pytest.mark.slow  # every test here starts a process


@pytest.fixture
def kv():
    return KVStore({COLLECTION})


@pytest.fixture
def members(splunk_package, simulator, kv, tmp_path):
    """Two cluster members: (app folder, splunkd stand-in) each."""
    apps = []
    for name in ("member-a", "member-b"):
        app = install_app(splunk_package, tmp_path / name)
        configure(app, {"url": simulator.url, "max_attempts": "2", "retry_deadline": "2"})
        apps.append(app)
    with (
        SplunkdStandIn(SESSION_KEY, token_credentials(TOKEN), kvstore=kv, server_roles=MEMBER_ROLES) as a,
        SplunkdStandIn(SESSION_KEY, token_credentials(TOKEN), kvstore=kv, server_roles=MEMBER_ROLES) as b,
    ):
        yield [(apps[0], a), (apps[1], b)]


def events(corpus) -> list[list[dict[str, str]]]:
    """Two chunks; hashes repeat within and across them, one unknown, one invalid."""
    found = corpus.hashes("sha1")[:6]
    first = [{"sha1": value, "n": str(n)} for n, value in enumerate(found + found[:2])]
    second = [{"sha1": value, "n": str(n)} for n, value in enumerate(found[3:] + ["0" * 40, "nope"], 100)]
    return [first, second]


def search(member, chunks, version: str = VERSION):
    app, splunkd = member
    run = run_command(app, python(version), ["field=sha1"], chunks, splunkd.uri, SESSION_KEY)
    assert run.returncode == 0, run.stderr
    return run


def verdicts(run) -> list[tuple]:
    return [
        (record["n"], record["rl_status"], record["rl_classification"], record["rl_riskscore"])
        for record in run.records
    ]


@pytest.mark.parametrize("version", ["3.9", "3.13"])
def test_a_hash_is_asked_once_for_the_whole_cluster(version, members, simulator, corpus, kv):
    chunks = events(corpus)
    on_a = search(members[0], chunks, version)
    asked = simulator.requests_served
    assert asked > 0 and len(kv.documents[COLLECTION]) == 7  # six found, one not_found: no invalid, no error
    on_b = search(members[1], chunks, version)

    assert simulator.requests_served == asked  # member B asked the appliance nothing
    assert verdicts(on_b) == verdicts(on_a) and len(on_b.records) == 13
    assert Counter(status for _, status, _, _ in verdicts(on_b)) == {"found": 11, "not_found": 1, "invalid": 1}
    assert on_a.messages == [] and on_b.messages == []
    for app, _ in members:  # the members' local files were never opened
        assert not (app / "cache" / "answers.sqlite3").exists()


def test_a_standalone_search_head_keeps_its_local_file(members, simulator, corpus, kv):
    app, splunkd = members[0]
    splunkd.server_roles = ["search_head", "kv_store"]
    search(members[0], events(corpus))
    assert kv.calls == [] and (app / "cache" / "answers.sqlite3").exists()


@pytest.mark.parametrize(
    "fault, said",
    [
        ("initializing", INITIALIZING),
        ("down", "could not be reached"),
        ("slow", "did not answer within 3s"),
        ("garbage", "not JSON"),
        ("malformed", "failed their checksum"),
    ],
)
def test_a_failing_kv_store_costs_one_warning_and_no_event(fault, said, members, simulator, corpus, kv):
    chunks = events(corpus)
    expected = verdicts(search(members[0], chunks))  # a healthy KV store now holds every answer
    kv.fault, kv.delay = fault, 5.0
    run = search(members[1], chunks)

    assert verdicts(run) == expected  # every event, the same verdicts
    warnings = run.messages_of("WARN")
    assert len(warnings) == 1 and said in warnings[0], run.messages
    assert run.messages_of("ERROR") == []


def test_a_document_with_a_changed_verdict_is_never_a_verdict(members, simulator, corpus, kv):
    """A user who may write the collection turns two kept answers clean:
    member B's search gives the appliance's verdicts, asks for those two
    hashes again, warns once, and overwrites them."""
    chunks = events(corpus)
    expected = verdicts(search(members[0], chunks))
    changed = []
    for document in kv.documents[COLLECTION].values():
        if document["status"] == "found" and len(changed) < 2:
            report = json.loads(document["item"])
            report.update(classification="goodware", riskscore=0, classification_result=None)
            assert violation("result-item", report) == ""  # the schema alone would let it through
            document["item"] = json.dumps(report)
            changed.append(report["sha1"])
    sent = len(simulator.bodies)

    run = search(members[1], chunks)

    assert verdicts(run) == expected
    assert sorted(value for body in list(simulator.bodies)[sent:] for value in body["hash_values"]) == sorted(changed)
    warnings = run.messages_of("WARN")
    assert len(warnings) == 1 and "2 document(s)" in warnings[0] and "failed their checksum" in warnings[0]
    sent = simulator.requests_served
    assert verdicts(search(members[1], chunks)) == expected and simulator.requests_served == sent  # overwritten


def test_the_alert_action_shares_the_clusters_answers(members, simulator, corpus, kv, tmp_path):
    results = alert_results(corpus, count=40)
    for app, _ in members:
        configure(app, {"url": simulator.url, "max_attempts": "2", "cache_store": "kvstore"})
    runs, asked = [], []
    for app, splunkd in members:
        payload = payload_for(write_results(tmp_path / "results.csv.gz", results), splunkd.uri)
        runs.append(execute(app, VERSION, payload))
        asked.append(simulator.requests_served)
        assert runs[-1].returncode == 0, runs[-1].stderr
        assert "WARN" not in runs[-1].stderr

    assert asked[0] > 0 and asked[1] == asked[0]  # member B's action asked the appliance nothing
    assert len(kv.documents[COLLECTION]) > 0
    first, second = (events_of(splunkd) for _, splunkd in members)
    assert [event.get("rl_classification") for event in second] == [event.get("rl_classification") for event in first]
    assert len(second) == len(results)


def test_the_alert_action_goes_on_when_the_kv_store_is_down(members, simulator, corpus, kv, tmp_path):
    app, splunkd = members[0]
    configure(app, {"url": simulator.url, "max_attempts": "2", "cache_store": "kvstore"})
    kv.fault = "initializing"
    results = alert_results(corpus, count=40)
    run = execute(app, VERSION, payload_for(write_results(tmp_path / "results.csv.gz", results), splunkd.uri))

    assert run.returncode == 0, run.stderr
    assert len(events_of(splunkd)) == len(results)
    assert [line for line in run.stderr.splitlines() if line.startswith("WARN")] == [
        line for line in run.stderr.splitlines() if INITIALIZING in line
    ]
    assert run.stderr.count(INITIALIZING) == 1
