"""Batching, type grouping and mapping, over real HTTP to the simulator."""

from collections import Counter

import pytest
from helpers import TOKEN

from connector.actions import get_report, get_summary
from connector.client import SpectraAnalyzeClient
from connector.config import Config
from connector.errors import AuthenticationError, EndpointNotFoundError
from connector.hashes import hash_type
from connector.lookup import match_items, plan_batches
from connector.simulator.server import Simulator


def mixed_hashes(corpus, count):
    """Present and absent hashes of all four types, interleaved."""
    kinds = ["md5", "sha1", "sha256", "sha512"]
    values = []
    for index in range(count):
        kind = kinds[index % 4]
        if index % 5 == 4:
            values.append(format(index, "x").rjust({"md5": 32, "sha1": 40, "sha256": 64, "sha512": 128}[kind], "e"))
        else:
            values.append(corpus.samples[index][kind])
    return values


def test_250_mixed_hashes_one_request_per_type_per_100(simulator, client, corpus):
    hashes = mixed_hashes(corpus, 250)
    given = hashes + ["not-a-hash", "  " + hashes[0].upper() + " "]
    result = get_report({"hashes": given}, client)
    assert [record["hash"] for record in result.records[:250]] == hashes
    assert len(result.records) == len(given)
    sizes = sorted(len(body["hash_values"]) for body in simulator.bodies)
    # 250 hashes, about 63 of each type: one request per type.
    assert len(simulator.bodies) == 4 and sum(sizes) == 250
    for body in simulator.bodies:
        assert len({hash_type(value) for value in body["hash_values"]}) == 1
        assert body["skip_reanalysis"] == ["true"]
    statuses = [record["status"] for record in result.records]
    assert statuses[:250] == ["not_found" if i % 5 == 4 else "found" for i in range(250)]
    assert statuses[250:] == ["invalid", "found"]
    assert result.records[251]["hash"] == hashes[0] and result.records[251]["classification"] == "malicious"


def test_batches_are_cut_at_batch_size(simulator, corpus):
    hashes = [sample["sha1"] for sample in corpus.samples[:250]] + [s["md5"] for s in corpus.samples[:30]]
    with SpectraAnalyzeClient(Config(url=simulator.url, token=TOKEN)) as client:
        result = get_report({"hashes": ",".join(hashes)}, client)
    assert sorted(len(body["hash_values"]) for body in simulator.bodies) == [30, 50, 100, 100]
    assert result.summary["by_status"] == {"found": 280, "not_found": 0, "invalid": 0, "error": 0}


def test_invalid_hashes_are_never_sent(simulator, client):
    result = get_report({"hashes": "xyz, 12345, " + "g" * 40}, client)
    assert simulator.requests_served == 0
    assert [record["status"] for record in result.records] == ["invalid"] * 3
    assert result.ok and result.records[0]["error"].startswith("not a valid hash")


def test_duplicates_are_asked_once_and_answered_for_each_input(simulator, client, corpus):
    sha1 = corpus.samples[5]["sha1"]
    result = get_report({"hashes": [sha1, sha1.upper(), sha1]}, client)
    assert simulator.bodies[0]["hash_values"] == [sha1]
    assert len(result.records) == 3 and {r["status"] for r in result.records} == {"found"}


def test_not_found_never_carries_a_verdict(simulator, client):
    record = get_report({"hashes": "1" * 64}, client).records[0]
    assert record["status"] == "not_found" and record["hash_type"] == "sha256"
    assert record["classification"] is None and record["riskscore"] is None and record["tags"] == []


def test_pages_linked_by_next_are_all_read(corpus):
    with Simulator(TOKEN, corpus=corpus, page_size=7) as server:
        with SpectraAnalyzeClient(Config(url=server.url, token=TOKEN)) as client:
            hashes = [sample["sha256"] for sample in corpus.samples[:30]]
            result = get_report({"hashes": hashes}, client)
        assert server.requests_served == 5
    assert Counter(record["status"] for record in result.records) == {"found": 30}


def test_summary_asks_for_summary_and_flattens_indicators(simulator, client, corpus):
    result = get_summary({"hashes": corpus.samples[1]["sha1"]}, client)
    assert "summary" in simulator.bodies[0]["fields"]
    record = result.records[0]
    assert record["indicators"] == [
        "Deletes files in Windows system directories.",
        "Requests permission required to shut down a system.",
    ]
    assert record["indicator_count"] == 2 and record["unpacking_status"] == "failed:0 success:1 partial:0"


def test_a_wrong_token_stops_the_lookup_with_a_clear_error(simulator):
    with SpectraAnalyzeClient(Config(url=simulator.url, token="wrong-token")) as client:
        with pytest.raises(AuthenticationError) as err:
            get_report({"hashes": "0" * 40}, client)
    assert 'HTTP 403: {"detail": "Invalid token."}' in str(err.value) and "wrong-token" not in str(err.value)


def test_a_wrong_path_is_endpoint_not_found(simulator):
    with SpectraAnalyzeClient(Config(url=simulator.url + "/nothing", token=TOKEN)) as client:
        with pytest.raises(EndpointNotFoundError, match="check that the URL points at a Spectra Analyze appliance"):
            get_report({"hashes": "0" * 40}, client)


def test_a_failed_batch_marks_only_its_own_hashes(requests_mock):
    url = "https://a1000.example.com/api/samples/v2/list/"
    good = "a" * 40

    def answer(request, context):
        if request.json()["hash_values"][0] == good:
            return {"results": [{"sha1": good, "classification": "goodware", "riskscore": 0}]}
        context.status_code = 500
        return {"detail": "boom"}

    requests_mock.post(url, json=answer)
    config = Config(url="https://a1000.example.com", token=TOKEN, max_connections=1)
    with SpectraAnalyzeClient(config) as client:
        result = get_report({"hashes": [good, "b" * 32]}, client)
    assert [r["status"] for r in result.records] == ["found", "error"]
    assert result.status == "partial" and "HTTP 500" in result.records[1]["error"]
    assert result.errors == [result.records[1]["error"]]


def test_one_malformed_item_is_that_hash_s_error_only():
    values = ["a" * 40, "b" * 40]
    answers = match_items("sha1", values, [{"sha1": "a" * 40, "riskscore": "high"}, {"sha1": "B" * 40}])
    assert answers["a" * 40].status == "error" and "riskscore must be integer or null" in answers["a" * 40].error
    assert answers["b" * 40].status == "found"


def test_an_unmatched_item_makes_missing_hashes_errors_not_not_found():
    answers = match_items("sha1", ["a" * 40, "b" * 40], [{"sha1": "a" * 40}, {"md5": "c" * 32}])
    assert answers["a" * 40].status == "found"
    assert answers["b" * 40].status == "error" and "could not be matched" in answers["b" * 40].error


def test_plan_groups_by_type_in_first_seen_order():
    plan = plan_batches(["a" * 32, "b" * 40, "c" * 32, "a" * 32, "bad"], batch_size=1)
    assert plan == [("md5", ["a" * 32]), ("md5", ["c" * 32]), ("sha1", ["b" * 40])]
