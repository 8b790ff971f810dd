"""The KV store answer store, in process, over real HTTP: the appliance
simulator, and the splunkd stand-in serving the KV store stand-in (written
from Splunk's REST reference and limits.conf). Requests are counted on both
sides."""

from __future__ import annotations

import json

import pytest
from helpers import TOKEN, Clock
from kvstore_standin import INITIALIZING, MAX_DOCUMENTS_PER_BATCH_SAVE, KVStore
from splunkd_standin import SplunkdStandIn

from connector.actions import run_lookup
from connector.cache import ResultCache
from connector.client import SpectraAnalyzeClient
from connector.config import CacheSettings, Config
from connector.lookup import Answer
from connector.names import Status
from connector.retry import RetryPolicy
from connector.service import LookupService
from connector.splunk.conf import AppSettings
from connector.splunk.kvstore import COLLECTION, MAX_QUERY_CHARS, KVStoreAnswers, Splunkd, in_cluster, open_store
from connector.validation import violation

SESSION = "kv-session-3f9d0c2b71"
APP = "spectra_analyze"
MISSING = "0" * 40


@pytest.fixture
def kv():
    return KVStore({COLLECTION})


@pytest.fixture
def splunkd(kv):
    with SplunkdStandIn(SESSION, kvstore=kv) as standin:
        yield standin


def store_of(splunkd, tmp_path, clock=None, timeout=3.0, budget=30.0, token=TOKEN, **cache) -> KVStoreAnswers:
    settings = CacheSettings(str(tmp_path / "cache"), **cache)
    return KVStoreAnswers(
        Splunkd(splunkd.uri, SESSION, APP, timeout=timeout),
        settings,
        token=lambda: token,
        fallback=lambda: ResultCache(settings),
        clock=clock or Clock(),
        budget=budget,
    )


def report(simulator, store, hashes, url: str = "") -> list[dict]:
    config = Config(url=url or simulator.url, token=TOKEN, retry=RetryPolicy(max_attempts=1))
    with LookupService(SpectraAnalyzeClient(config), store=store) as lookups:
        return run_lookup("get_report", {"hashes": list(hashes)}, lookups).records


def verdicts(records) -> list[tuple]:
    return [(record["hash"], record["status"], record["classification"]) for record in records]


def test_answers_are_kept_by_key_and_served_without_the_appliance(simulator, corpus, splunkd, kv, tmp_path):
    hashes = corpus.hashes("sha1")[:5] + [MISSING]
    first = report(simulator, store_of(splunkd, tmp_path), hashes)
    sent = simulator.requests_served
    second = report(simulator, store_of(splunkd, tmp_path), hashes)

    assert simulator.requests_served == sent  # every answer from the KV store
    assert verdicts(second) == verdicts(first)
    documents = kv.documents[COLLECTION]
    assert sorted(key.partition(":")[2] for key in documents) == sorted(hashes)
    missing = next(document for document in documents.values() if document["_key"].endswith(MISSING))
    assert (missing["status"], missing["item"], missing["expires"] - missing["stored"]) == ("not_found", None, 3600)
    found = next(document for document in documents.values() if document["status"] == "found")
    assert found["expires"] - found["stored"] == 86400 and json.loads(found["item"])["sha1"] in hashes


def test_found_kept_a_day_not_found_an_hour_errors_never(simulator, corpus, splunkd, kv, tmp_path):
    clock = Clock()
    hashes = corpus.hashes("sha1")[:2] + [MISSING]
    report(simulator, store_of(splunkd, tmp_path, clock), hashes)
    sent = simulator.requests_served
    clock.now += 3601
    report(simulator, store_of(splunkd, tmp_path, clock), hashes)
    assert [value for body in list(simulator.bodies)[sent:] for value in body["hash_values"]] == [MISSING]
    sent = simulator.requests_served
    clock.now += 86400
    report(simulator, store_of(splunkd, tmp_path, clock), hashes)
    assert sorted(value for body in list(simulator.bodies)[sent:] for value in body["hash_values"]) == sorted(hashes)
    kv.documents[COLLECTION].clear()
    failed = report(simulator, store_of(splunkd, tmp_path, clock), hashes, url="http://127.0.0.1:9")
    assert {record["status"] for record in failed} == {"error"} and kv.documents[COLLECTION] == {}


def test_reads_and_writes_stay_within_the_kv_store_limits(simulator, corpus, splunkd, kv, tmp_path):
    hashes = corpus.hashes("sha256")[:1500] + corpus.hashes("md5")[:500]
    report(simulator, store_of(splunkd, tmp_path), hashes)
    saves = [call for call in kv.calls if call == ("POST", "batch_save")]
    assert len(kv.documents[COLLECTION]) == 2000
    assert len(saves) >= 2000 // MAX_DOCUMENTS_PER_BATCH_SAVE  # none refused: each within its document limit
    sent = simulator.requests_served
    reads = len([call for call in kv.calls if call == ("GET", "data")])
    report(simulator, store_of(splunkd, tmp_path), hashes)
    assert simulator.requests_served == sent
    assert len([call for call in kv.calls if call == ("GET", "data")]) - reads > 1  # in several queries
    assert kv.longest_query <= MAX_QUERY_CHARS  # the raw query; its URL form is what the budget counts


def test_trim_deletes_the_expired_then_the_oldest_past_the_limit(simulator, corpus, splunkd, kv, tmp_path):
    clock = Clock()
    hashes = corpus.hashes("sha1")[:30]
    report(simulator, store_of(splunkd, tmp_path, clock, max_entries=20), [MISSING])
    clock.now += 3601  # MISSING's answer has expired
    for start in (0, 10, 20):
        clock.now += 10
        report(simulator, store_of(splunkd, tmp_path, clock, max_entries=20), hashes[start : start + 10])
    kept = {document["_key"].partition(":")[2] for document in kv.documents[COLLECTION].values()}
    assert kept == set(hashes[10:])  # the oldest ten and the expired one gone
    assert ("DELETE", "data") in kv.calls


def test_trim_keeps_the_limit_when_answers_were_stored_at_the_same_time(simulator, corpus, splunkd, kv, tmp_path):
    report(simulator, store_of(splunkd, tmp_path, max_entries=20), corpus.hashes("sha1")[:30])  # one clock reading
    assert len({document["stored"] for document in kv.documents[COLLECTION].values()}) == 1
    assert len(kv.documents[COLLECTION]) == 20


def test_count_and_clear(simulator, corpus, splunkd, kv, tmp_path):
    store = store_of(splunkd, tmp_path)
    report(simulator, store, corpus.hashes("sha1")[:7])
    store = store_of(splunkd, tmp_path)
    assert store.count() == 7 == len(kv.documents[COLLECTION])
    store.clear()
    assert store.count() == 0 and store.trouble is None


@pytest.mark.parametrize(
    "fault, said",
    [
        ("initializing", INITIALIZING),
        ("down", "could not be reached"),
        ("slow", "did not answer within 0.3s"),
        ("garbage", "not JSON"),
    ],
)
def test_a_failing_kv_store_is_left_for_the_local_file_with_one_warning(
    fault, said, simulator, corpus, splunkd, kv, tmp_path, caplog
):
    hashes = corpus.hashes("sha1")[:4] + [MISSING]
    expected = verdicts(report(simulator, None, hashes))
    kv.fault, kv.delay = fault, 1.0
    store = store_of(splunkd, tmp_path, timeout=0.3)
    sent = simulator.requests_served
    assert verdicts(report(simulator, store, hashes)) == expected
    assert simulator.requests_served == sent + 1
    assert said in store.trouble and "goes on without it" in store.trouble
    assert len(kv.calls) == 1  # left after the first failure
    assert len([r for r in caplog.records if r.levelname == "WARNING" and "KV store" in r.getMessage()]) == 1
    assert ResultCache(store.settings).count() == len(hashes)  # the local file took the answers
    assert SESSION not in store.trouble and SESSION not in repr(store)


def test_a_kv_store_slow_on_every_request_is_left_once_the_runs_budget_is_spent(
    simulator, corpus, splunkd, kv, tmp_path
):
    hashes = corpus.hashes("sha256")[:600]  # several reads
    report(simulator, store_of(splunkd, tmp_path), hashes)
    kv.fault, kv.delay, before = "slow", 0.3, len(kv.calls)
    store = store_of(splunkd, tmp_path, timeout=2.0, budget=0.5)
    sent = simulator.requests_served
    records = report(simulator, store, hashes)
    assert len(kv.calls) - before == 2  # each within the timeout; the second past the budget
    assert "more than the 0.5s allowed" in store.trouble
    assert len(records) == 600 and simulator.requests_served > sent  # the appliance answered the rest


def test_documents_that_are_no_answers_are_asked_again(simulator, corpus, splunkd, kv, tmp_path):
    hashes = corpus.hashes("sha1")[:8]
    expected = verdicts(report(simulator, store_of(splunkd, tmp_path), hashes))
    kv.fault = "malformed"
    sent = simulator.requests_served
    store = store_of(splunkd, tmp_path)
    assert verdicts(report(simulator, store, hashes)) == expected
    assert sorted(value for body in list(simulator.bodies)[sent:] for value in body["hash_values"]) == sorted(hashes)
    assert "8 document(s)" in store.trouble  # the eight broken answers (the string is no document at all)


def test_a_user_who_may_not_write_still_reads(simulator, corpus, splunkd, kv, tmp_path):
    hashes = corpus.hashes("sha1")[:6]
    report(simulator, store_of(splunkd, tmp_path), hashes[:3])
    kv.fault, before = "read_only", len(kv.calls)
    store = store_of(splunkd, tmp_path)
    sent = simulator.requests_served
    report(simulator, store, hashes)
    assert sorted(value for body in list(simulator.bodies)[sent:] for value in body["hash_values"]) == sorted(
        hashes[3:]
    )  # the three kept were read
    assert "may not write" in store.trouble and len(kv.documents[COLLECTION]) == 3
    assert [call for call in kv.calls[before:] if call[0] != "GET"] == [("POST", "batch_save")]  # tried once


def test_a_cluster_member_is_told_by_its_server_roles(splunkd, kv, tmp_path):
    session = Splunkd(splunkd.uri, SESSION, APP)
    assert not in_cluster(session)
    splunkd.server_roles = ["search_head", "kv_store", "shc_member"]
    assert in_cluster(session)
    settings = AppSettings(appliance={"url": "https://a1000.example.com"}, memo_size=0, log_level="INFO")
    assert open_store(settings, tmp_path, session, lambda: TOKEN)[1] == "kvstore"
    assert open_store(settings, tmp_path, None, lambda: TOKEN)[1] == "file"
    for choice, kind in (("file", "file"), ("kvstore", "kvstore")):
        chosen = AppSettings(appliance={"url": "x", "cache_store": choice}, memo_size=0, log_level="INFO")
        splunkd.server_roles = ["search_head"]
        assert open_store(chosen, tmp_path, session, lambda: TOKEN)[1] == kind
    off = AppSettings(appliance={"url": "x", "cache": "false", "cache_store": "kvstore"}, memo_size=0, log_level="INFO")
    assert open_store(off, tmp_path, session, lambda: TOKEN) == (None, "")


def as_goodware(item: str) -> str:
    report = json.loads(item)
    report.update(classification="goodware", riskscore=0, classification_result=None)
    assert violation("result-item", report) == ""  # the schema alone cannot tell it from the appliance's
    return json.dumps(report)


@pytest.mark.parametrize("damage", ["verdict", "no seal", "stored", "another token"])
def test_a_document_that_does_not_verify_is_asked_again_and_overwritten(
    damage, simulator, corpus, splunkd, kv, tmp_path
):
    malicious = [s["sha1"] for s in corpus.samples if s["classification"].lower() == "malicious"][:3]
    hashes = malicious + [MISSING]
    expected = verdicts(report(simulator, store_of(splunkd, tmp_path), hashes))
    for document in kv.documents[COLLECTION].values():
        if document["_key"].partition(":")[2] in malicious[:2]:
            if damage == "verdict":  # as a user who may write the collection could
                document["item"] = as_goodware(document["item"])
            elif damage == "no seal":  # as version 1.1 wrote it
                del document["seal"]
            elif damage == "stored":
                document["stored"] += 60
    token = "another-token-" + "x" * 26 if damage == "another token" else TOKEN
    store = store_of(splunkd, tmp_path, token=token)
    sent = len(simulator.bodies)

    assert verdicts(report(simulator, store, hashes)) == expected
    again = sorted(value for body in list(simulator.bodies)[sent:] for value in body["hash_values"])
    assert again == (sorted(hashes) if damage == "another token" else sorted(malicious[:2]))
    assert store.trouble.count("failed their checksum") == 1
    assert f"{len(again)} document(s)" in store.trouble
    sent = simulator.requests_served
    store = store_of(splunkd, tmp_path, token=token)
    assert verdicts(report(simulator, store, hashes)) == expected  # overwritten: sealed again
    assert simulator.requests_served == sent and store.trouble is None


def test_nothing_is_read_or_written_before_the_token_is_known(simulator, corpus, splunkd, kv, tmp_path):
    hashes = corpus.hashes("sha1")[:3]
    report(simulator, store_of(splunkd, tmp_path), hashes)
    store = store_of(splunkd, tmp_path, token=None)
    calls = len(kv.calls)
    assert store.get("scope", hashes) == {}
    store.put("scope", {hashes[0]: Answer(Status.NOT_FOUND)})
    assert len(kv.calls) == calls and store.trouble is None
