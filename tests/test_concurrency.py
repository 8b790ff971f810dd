"""Batches go out concurrently over at most ``max_connections`` connections,
and the records keep the input order: measured on the simulator's side."""
from __future__ import annotations

import threading
from typing import Any, Dict, List

import pytest

from conftest import TOKEN
from connector.actions import build_records, parse_request, run
from connector.client import SpectraAnalyzeClient
from connector.config import CacheSettings, Config
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
            result = run("get_report", {"hashes": hashes}, client)
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
        records = run("get_report", {"hashes": hashes}, client).records
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
        records = run("get_summary", {"hashes": hashes}, client).records
    assert sorted(body["hash_values"] for body in simulator.bodies) == sorted([[sample["sha1"]],
                                                                             [corpus.samples[5]["md5"]]])
    first, _, second, third = records
    assert first == second == third and first is not second
    second["tags"].append("changed")
    second["indicators"].clear()
    assert "changed" not in first["tags"] + third["tags"] and first["indicators"] == third["indicators"] != []


@pytest.mark.parametrize("cached", [False, True])
def test_records_are_flattened_as_their_batch_arrives(corpus, tmp_path, cached):
    """build_records' on_record gets each answered hash's record while later
    batches are still to be answered: the very record returned for the hash,
    once; the cache's kept answers first, and never an invalid hash's."""
    known, asked = corpus.hashes("sha1")[:5], corpus.hashes("sha1")[5:45] + ["f" * 40]
    cache = CacheSettings(str(tmp_path)) if cached else None
    with InFlightSimulator(TOKEN, corpus=corpus, latency_ms=30) as simulator:
        config = Config(url=simulator.url, token=TOKEN, batch_size=5, max_connections=2, cache=cache)
        with SpectraAnalyzeClient(config) as client:
            build_records(parse_request({"hashes": known}), client, False)
            served_before = simulator.requests_served
            handed: List[Dict[str, Any]] = []
            seen_at: List[int] = []

            def on_record(record: Dict[str, Any]) -> None:
                handed.append(record)
                seen_at.append(simulator.requests_served - served_before)

            hashes = known + asked + [known[0].upper(), "not-a-hash"]
            records, errors = build_records(parse_request({"hashes": hashes}), client, False, on_record=on_record)
    requests = 9 if cached else 10  # 41 hashes by 5, or 46
    assert simulator.requests_served - served_before == requests and errors == []
    handed_hashes = [record["hash"] for record in handed]
    assert sorted(handed_hashes[:len(known)]) == sorted(known) and handed_hashes[len(known):] == asked
    first_places = {record["hash"]: record for record in reversed(records[:len(known) + len(asked)])}
    assert all(record is first_places[record["hash"]] for record in handed)
    assert records[-2] == records[0] and records[-2] is not records[0] and records[-1]["status"] == "invalid"
    assert records[len(known) + len(asked) - 1]["status"] == "not_found"
    assert min(seen_at) < requests  # the first records came while later batches were still unanswered
    if cached:
        assert seen_at[:len(known)] == [0] * len(known)  # kept answers, before any request
