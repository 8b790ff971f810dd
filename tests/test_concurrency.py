"""Batches go out concurrently over at most ``max_connections`` connections,
and the records keep the input order: measured on the simulator's side."""

from __future__ import annotations

import threading

import pytest
from helpers import TOKEN

from connector.actions import build_records, parse_request, run_lookup
from connector.cache import ResultCache
from connector.client import SpectraAnalyzeClient
from connector.config import CacheSettings, Config
from connector.service import LookupService
from connector.simulator.server import Simulator


class InFlightSimulator(Simulator):
    """Counts the requests being answered at the same moment."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.in_flight = self.peak_in_flight = 0
        self._count_lock = threading.Lock()

    def answer(self, path, headers, raw):
        with self._count_lock:
            self.in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        try:
            return super().answer(path, headers, raw)
        finally:
            with self._count_lock:
                self.in_flight -= 1


@pytest.mark.parametrize("connections", [1, 3])
def test_no_more_than_max_connections_requests_in_flight(corpus, connections):
    hashes = corpus.hashes("sha1")[:120]
    with InFlightSimulator(TOKEN, corpus=corpus, latency_ms=40) as simulator:
        config = Config(url=simulator.url, token=TOKEN, batch_size=10, max_connections=connections)
        with SpectraAnalyzeClient(config) as client:
            result = run_lookup("get_report", {"hashes": hashes}, client)
    assert simulator.requests_served == 12
    assert simulator.peak_in_flight == connections
    assert [record["hash"] for record in result.records] == hashes


def test_records_keep_the_input_order_across_batches_and_types(simulator, corpus):
    samples = corpus.samples[:60]
    hashes = []
    for index, sample in enumerate(samples):
        hashes.append(sample[("md5", "sha1", "sha256")[index % 3]])
    hashes += [hashes[7], "0" * 64, hashes[0].upper(), "not-a-hash"]
    config = Config(url=simulator.url, token=TOKEN, batch_size=7, max_connections=4)
    with SpectraAnalyzeClient(config) as client:
        records = run_lookup("get_report", {"hashes": hashes}, client).records
    assert [record["hash"] for record in records] == [value.lower() for value in hashes]
    for record, sample in zip(records, samples + [samples[7], None, samples[0], None]):
        if sample is None:
            assert record["status"] in ("not_found", "invalid")
        else:
            assert (record["status"], record["sha1"]) == ("found", sample["sha1"])
    assert simulator.requests_served == 3 * 3  # 20 hashes of each type in batches of 7


def test_a_repeated_hash_is_asked_once_and_gets_records_of_its_own(simulator, corpus):
    sample = next(s for s in corpus.samples if s["tags"] and s["tags"]["ticore"])
    hashes = [sample["sha1"], corpus.samples[5]["md5"], sample["sha1"].upper(), sample["sha1"]]
    config = Config(url=simulator.url, token=TOKEN)
    with SpectraAnalyzeClient(config) as client:
        records = run_lookup("get_summary", {"hashes": hashes}, client).records
    assert sorted(body["hash_values"] for body in simulator.bodies) == sorted(
        [[sample["sha1"]], [corpus.samples[5]["md5"]]]
    )
    first, _, second, third = records
    assert first == second == third and first is not second
    second["tags"].append("changed")
    second["indicators"].clear()
    assert "changed" not in first["tags"] + third["tags"] and first["indicators"] == third["indicators"] != []


@pytest.mark.parametrize("cached", [False, True])
def test_answers_come_as_their_batch_arrives(corpus, tmp_path, cached):
    """The lookup service hands each batch's answers over while later batches
    are still to be answered, each hash once: the cache's kept answers first."""
    known, asked = corpus.hashes("sha1")[:5], corpus.hashes("sha1")[5:45] + ["f" * 40]
    store = ResultCache(CacheSettings(str(tmp_path))) if cached else None
    with InFlightSimulator(TOKEN, corpus=corpus, latency_ms=30) as simulator:
        config = Config(url=simulator.url, token=TOKEN, batch_size=5, max_connections=2)
        with LookupService(SpectraAnalyzeClient(config), store=store) as lookups:
            question = parse_request({"hashes": known}).question
            build_records(parse_request({"hashes": known}), lookups, False)
            served_before = simulator.requests_served
            handed: list[str] = []
            seen_at: list[int] = []
            for batch in lookups.answers(known + asked, question):
                handed += batch
                seen_at += [simulator.requests_served - served_before] * len(batch)
                statuses = {answer.status for answer in batch.values()}
                assert statuses <= {"found", "not_found"}
            streamed = simulator.requests_served - served_before
            records = build_records(
                parse_request({"hashes": known + asked + [known[0].upper(), "not-a-hash"]}), lookups, False
            )
    requests = 9 if cached else 10  # 41 hashes by 5, or 46
    assert streamed == requests and simulator.requests_served - served_before == requests * (1 if cached else 2)
    assert sorted(handed) == sorted(known + asked)  # each hash once; batches may arrive in any order
    assert records[-2] == records[0] and records[-2] is not records[0] and records[-1]["status"] == "invalid"
    assert records[len(known) + len(asked) - 1]["status"] == "not_found"
    assert min(seen_at) < requests  # the first answers came while later batches were still unanswered
    if cached:
        assert sorted(handed[: len(known)]) == sorted(known)  # kept answers first,
        assert seen_at[: len(known)] == [0] * len(known)  # before any request


@pytest.mark.parametrize("connections", [1, 2])
def test_connections_go_on_while_the_caller_holds_a_batch(simulator, corpus, connections):
    """The caller keeps the first batch for as long as it likes (writing
    records, a cache transaction): every other batch is still asked meanwhile."""
    hashes = corpus.hashes("sha1")[:200]
    config = Config(url=simulator.url, token=TOKEN, batch_size=10, max_connections=connections)
    all_served = threading.Event()
    with LookupService(SpectraAnalyzeClient(config)) as lookups:
        handed: list[str] = []
        for index, batch in enumerate(lookups.answers(hashes, parse_request({"hashes": hashes}).question)):
            if index == 0:  # the caller is busy with its first batch until all 20 requests are answered
                for _ in range(600):
                    if simulator.requests_served == 20:
                        all_served.set()
                        break
                    threading.Event().wait(0.05)
            handed += batch
    assert all_served.is_set() and sorted(handed) == sorted(hashes)


def test_answers_are_kept_in_groups_and_all_by_the_end(simulator, corpus, tmp_path):
    """More answers than one write group, and a reader that stops after the
    first batch: what arrived is kept either way, asked once."""
    hashes = corpus.hashes("sha1")[:2100]
    config = Config(url=simulator.url, token=TOKEN, batch_size=100, max_connections=2)
    question = parse_request({"hashes": hashes}).question
    with LookupService(SpectraAnalyzeClient(config), store=ResultCache(CacheSettings(str(tmp_path)))) as lookups:
        reader = lookups.answers(hashes[:300], question)
        first = next(reader)
        reader.close()  # the reader stops here
        assert lookups.store is not None and lookups.store.count() >= len(first)
        handed = {value for batch in lookups.answers(hashes, question) for value in batch}
        assert handed == set(hashes) and lookups.store.count() == len(hashes)
    with LookupService(SpectraAnalyzeClient(config), store=ResultCache(CacheSettings(str(tmp_path)))) as lookups:
        served = simulator.requests_served
        assert {value for batch in lookups.answers(hashes, question) for value in batch} == set(hashes)
        assert simulator.requests_served == served and lookups.kept == len(hashes)
