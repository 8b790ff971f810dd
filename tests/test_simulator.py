"""The embedded simulator behaves as the vendor documents the endpoint."""

import requests
from helpers import TOKEN

from connector.simulator.server import EXPLICIT_ONLY, LIST_PATH, STATUS_PATH


def post(simulator, body=None, token=TOKEN, path=LIST_PATH, **kwargs):
    headers = {"Authorization": f"Token {token}"} if token else {}
    return requests.post(simulator.url + path, json=body, headers=headers, timeout=5, **kwargs)


def test_token_missing_or_wrong_is_403_with_the_documented_messages(simulator):
    assert post(simulator, {"hash_values": ["0" * 40]}, token=None).json() == {
        "detail": "Authentication credentials were not provided."
    }
    answer = post(simulator, {"hash_values": ["0" * 40]}, token="nope")
    assert answer.status_code == 403 and answer.json() == {"detail": "Invalid token."}


def test_other_paths_are_404(simulator):
    assert post(simulator, {"hash_values": ["0" * 40]}, path="/api/samples/v3/list/").status_code == 404


def test_malformed_hash_mixed_types_and_unknown_fields_are_400(simulator, corpus):
    sample = corpus.samples[2]
    assert post(simulator, {"hash_values": ["xyz"]}).status_code == 400
    assert post(simulator, {"hash_values": [sample["sha1"], sample["md5"]]}).json() == {
        "hash_values": ["All hashes in a request must be of the same type."]
    }
    assert post(simulator, {"hash_values": [sample["sha1"]], "fields": ["riskscor"]}).status_code == 400


def test_default_fields_leave_out_the_explicit_only_ones(simulator, corpus):
    item = post(simulator, {"hash_values": [corpus.samples[3]["sha1"]]}).json()["results"][0]
    assert not set(EXPLICIT_ONLY) & set(item) and "classification" in item
    item = post(simulator, {"hash_values": [corpus.samples[3]["sha1"]], "fields": ["summary", "aliases"]}).json()
    assert set(item["results"][0]) == {"summary", "aliases"}


def test_absent_samples_are_left_out_of_results(simulator, corpus):
    page = post(simulator, {"hash_values": ["0" * 40, corpus.samples[4]["sha1"]]}).json()
    assert page["count"] == 1 and [r["sha1"] for r in page["results"]] == [corpus.samples[4]["sha1"]]


def test_form_encoded_bodies_as_the_vendor_sdk_sends_them(simulator, corpus):
    answer = requests.post(
        simulator.url + LIST_PATH,
        data={"hash_values": [corpus.samples[0]["sha1"]], "fields": ["classification", "sha1"]},
        headers={"Authorization": f"Token {TOKEN}"},
        timeout=5,
    )
    assert answer.json()["results"] == [{"classification": "malicious", "sha1": corpus.samples[0]["sha1"]}]


def test_the_corpus_covers_every_classification(corpus):
    seen = {str(sample["classification"]).lower() for sample in corpus.samples}
    assert seen == {"malicious", "suspicious", "goodware", "unknown"}
    assert any(sample["classification"] == "MALICIOUS" for sample in corpus.samples)
    assert all(sample.get("summary") for sample in corpus.samples)


def test_status_answers_as_the_vendor_sdk_reads_it(simulator, corpus):
    present, absent = corpus.samples[4]["sha256"], "0" * 64
    headers = {"Authorization": f"Token {TOKEN}"}
    every = requests.post(
        simulator.url + STATUS_PATH, data={"hash_values": [present, absent]}, headers=headers, timeout=5
    ).json()
    assert every == {
        "hash_type": "sha256",
        "results": [{"hash_value": present, "status": "processed"}, {"hash_value": absent, "status": "not_found"}],
    }
    processed = requests.post(
        simulator.url + STATUS_PATH + "?status=processed",
        data={"hash_values": [present, absent]},
        headers=headers,
        timeout=5,
    ).json()
    assert processed["results"] == [{"hash_value": present, "status": "processed"}]
    assert post(simulator, {"hash_values": ["xyz"]}, path=STATUS_PATH).status_code == 400
    assert simulator.requests_served == 3
