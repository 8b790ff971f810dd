"""The SOAR connector driven as SOAR drives it: an action JSON through
``_handle_action`` of the app's connector class (loaded from the app folder
the builder writes), over real HTTP to the embedded simulator."""

from __future__ import annotations

from typing import Any

import pytest

from connector.simulator.corpus import VENDOR_SUMMARY_SHA1

from .soar_support import ASSET, absent_sha1, assert_secret_kept, closed_port


def run(soar, action: str, parameters: list[dict[str, Any]]) -> dict[str, Any]:
    return soar.run_action(ASSET, action, parameters)


@pytest.fixture
def mixed_hashes(corpus) -> list[str]:
    """Fifty values: every classification, three hash types, absent hashes and typos."""
    values = (
        corpus.hashes("sha1", "malicious")[:10]
        + corpus.hashes("sha256", "suspicious")[:10]
        + corpus.hashes("md5", "goodware")[:10]
        + corpus.hashes("sha1", "unknown")[:10]
        + [absent_sha1(index) for index in range(8)]
        + ["not-a-hash", "12345"]
    )
    assert len(values) == 50
    return values


def test_fifty_hashes_one_action_call_one_item_each(soar, simulator, mixed_hashes, asset_settings):
    given = [value.upper() for value in mixed_hashes[:48]] + mixed_hashes[48:]  # hashes in any case
    result = run(soar, "get report", [{"hashes": ", ".join(given)}])

    assert result["status"] == "success"
    [action_result] = result["action_results"]
    assert action_result["status"] == "success"
    data = action_result["data"]
    assert [item["hash"] for item in data] == mixed_hashes
    assert [item["status"] for item in data] == ["found"] * 40 + ["not_found"] * 8 + ["invalid"] * 2
    assert [item["classification"] for item in data[:40]] == (
        ["malicious"] * 10 + ["suspicious"] * 10 + ["goodware"] * 10 + ["unknown"] * 10
    )
    assert all(item["threat_name"] for item in data[:20])
    summary = action_result["summary"]
    assert summary["total"] == 50
    assert summary["by_status"] == {"found": 40, "not_found": 8, "invalid": 2, "error": 0}
    assert summary["by_classification"] == {"malicious": 10, "suspicious": 10, "goodware": 10, "unknown": 10}
    assert summary["classification"] is None  # a verdict in the summary only for a single hash
    assert simulator.requests_served == 3  # one batch per hash type: sha1, sha256, md5
    assert "Looking up 50 hash(es) of 1 parameter set(s) in 1 batched lookup(s)" in result["progress"]
    assert action_result["message"] in result["progress"]
    assert_secret_kept(result, asset_settings["token"])


def test_many_parameter_sets_share_one_lookup(soar, simulator, corpus):
    hashes = corpus.hashes("sha1")[:30]
    result = run(
        soar, "get report", [{"hashes": value, "context": {"artifact_id": index}} for index, value in enumerate(hashes)]
    )

    assert simulator.requests_served == 1
    assert result["summary"] == {"total_objects": 30, "total_objects_successful": 30}
    for value, action_result in zip(hashes, result["action_results"]):
        [item] = action_result["data"]
        assert item["hash"] == value
        sample = corpus.find("sha1", value)
        summary = action_result["summary"]
        assert summary["classification"] == str(sample["classification"]).lower()
        assert summary["riskscore"] == sample["riskscore"]
        assert summary["threat_name"] == sample["classification_result"]


def test_single_hash_summary_carries_its_verdict(soar, corpus):
    sha1 = corpus.samples[0]["sha1"]
    [action_result] = run(soar, "get report", [{"hashes": sha1}])["action_results"]
    summary = action_result["summary"]
    assert (summary["classification"], summary["riskscore"], summary["threat_name"]) == (
        "malicious",
        8,
        "Win32.Backdoor.Prorat",
    )
    assert summary["by_status"]["found"] == 1
    assert action_result["parameter"] == {
        "hashes": sha1,
        "fields": None,
        "skip_reanalysis": True,
        "include_network_threat_intelligence": False,
    }


def test_get_summary_adds_the_indicators(soar, simulator):
    [action_result] = run(soar, "get summary", [{"hashes": VENDOR_SUMMARY_SHA1}])["action_results"]
    [item] = action_result["data"]
    assert item["indicators"] == [
        "Deletes files in Windows system directories.",
        "Requests permission required to shut down a system.",
    ]
    assert item["indicator_count"] == 2
    assert "summary" in simulator.bodies[0]["fields"]


def test_not_found_is_reported_never_clean(soar):
    [action_result] = run(soar, "get report", [{"hashes": absent_sha1(0)}])["action_results"]
    [item] = action_result["data"]
    assert action_result["status"] == "success"
    assert (item["status"], item["classification"], item["riskscore"]) == ("not_found", None, None)
    assert action_result["summary"]["by_status"]["not_found"] == 1
    assert action_result["summary"]["by_classification"]["goodware"] == 0


def test_test_connectivity_makes_one_cheap_read_only_call(soar, simulator):
    result = run(soar, "test connectivity", [])
    [action_result] = result["action_results"]
    assert action_result["status"] == "success"
    assert simulator.url in action_result["message"]
    assert simulator.requests_served == 1
    [body] = simulator.bodies
    assert len(body["hash_values"]) == 1 and body["fields"] == ["sha1"] and body["skip_reanalysis"] == ["true"]
    assert "Test Connectivity Passed" in result["progress"]
    assert any("TLS verification on" in line for line in result["progress"])


def test_rejected_token_fails_clearly_without_the_token(platform, app_dir, asset_settings, corpus):
    wrong = dict(asset_settings, token="wrong-token-3e1d7c")
    platform.add_asset(ASSET, app_dir, wrong)

    connectivity = run(platform, "test connectivity", [])
    [check] = connectivity["action_results"]
    assert check["status"] == "failed" and check["message"].startswith("Test Connectivity Failed: ")
    assert "token" in check["message"].lower()

    lookup = run(platform, "get report", [{"hashes": ",".join(corpus.hashes("sha1")[:3])}])
    [action_result] = lookup["action_results"]
    assert action_result["status"] == "failed"
    assert [item["status"] for item in action_result["data"]] == ["error"] * 3
    assert all(item["error"] == action_result["data"][0]["error"] for item in action_result["data"])
    for result in (connectivity, lookup):
        assert_secret_kept(result, "wrong-token-3e1d7c")
        assert_secret_kept(result, asset_settings["token"])


def test_unreachable_appliance_gives_error_items(platform, app_dir, asset_settings, corpus):
    platform.add_asset(ASSET, app_dir, dict(asset_settings, url=f"http://127.0.0.1:{closed_port()}", max_attempts=1))
    lookup = run(platform, "get report", [{"hashes": ",".join(corpus.hashes("md5")[:2])}])
    [action_result] = lookup["action_results"]
    assert action_result["status"] == "failed"
    assert [item["status"] for item in action_result["data"]] == ["error", "error"]
    assert "lookup failed" in action_result["message"]
    [check] = run(platform, "test connectivity", [])["action_results"]
    assert check["status"] == "failed"


def test_bad_asset_settings_reach_every_hash(platform, app_dir, asset_settings, corpus):
    platform.add_asset(ASSET, app_dir, dict(asset_settings, url="ftp://appliance.example.com"))
    [action_result] = run(platform, "get report", [{"hashes": corpus.hashes("sha1")[0]}])["action_results"]
    [item] = action_result["data"]
    assert action_result["status"] == "failed"
    assert item["status"] == "error" and item["error"].startswith("url: expected the appliance address")
    [check] = run(platform, "test connectivity", [])["action_results"]
    assert "url: expected the appliance address" in check["message"]


def test_tls_verification_off_is_announced(platform, app_dir, asset_settings):
    platform.add_asset(ASSET, app_dir, dict(asset_settings, verify_tls=False))
    result = run(platform, "test connectivity", [])
    assert any(line.startswith("WARNING: TLS certificate verification is off") for line in result["progress"])
    assert result["action_results"][0]["status"] == "success"


def test_bad_parameters_fail_their_own_set_only(soar, simulator, corpus):
    good, other = corpus.hashes("sha1")[:2]
    result = run(
        soar,
        "get report",
        [
            {"hashes": good},
            {"hashes": other, "fields": "classification,riskscroe"},
            {"hashes": other, "skip_reanalysis": "maybe"},
        ],
    )
    first, typo, flag = result["action_results"]
    assert first["status"] == "success" and first["data"][0]["status"] == "found"
    assert typo["status"] == "failed" and "riskscroe" in typo["message"] and typo["data"] == []
    assert flag["status"] == "failed" and "skip_reanalysis" in flag["message"]
    assert simulator.requests_served == 1


def test_answers_are_cached_in_the_app_state_folder(soar, simulator, corpus):
    hashes = ",".join(sample["sha1"] for sample in corpus.samples[:5])
    first = soar.run_action(ASSET, "get report", [{"hashes": hashes}])
    assert simulator.requests_served == 1
    second = soar.run_action(ASSET, "get report", [{"hashes": hashes}])
    assert simulator.requests_served == 1, "the second run must be answered from the cache"
    assert second["action_results"][0]["data"] == first["action_results"][0]["data"]


def test_file_reputation_gives_fifty_hashes_a_verdict_each(soar, simulator, mixed_hashes, corpus):
    mixed = mixed_hashes[:48] + ["not-a-hash", mixed_hashes[0]]  # a typo and a repeat among them
    [action_result] = run(soar, "file reputation", [{"hash": ",".join(mixed)}])["action_results"]
    data = action_result["data"]
    assert [item["hash"] for item in data] == mixed
    labels = [item["verdict"]["label"] for item in data]
    assert labels == ["high"] * 10 + ["medium"] * 10 + ["low"] * 10 + ["unknown"] * 18 + [None, "high"]
    for item in data[:30]:
        sample = corpus.find(item["hash_type"], item["hash"])
        assert item["riskscore"] == sample["riskscore"]
        assert 1 <= item["verdict"]["score"] <= 10 and item["verdict"]["source"] == "ReversingLabs Spectra Analyze"
    assert data[48]["status"] == "invalid" and data[48]["verdict"]["score"] is None
    summary = action_result["summary"]
    assert summary["by_verdict"] == {"high": 11, "medium": 10, "low": 10, "unknown": 18}
    assert (summary["verdict_label"], summary["verdict_score"]) == ("high", 10)
    assert action_result["parameter"] == {"hash": ",".join(mixed)}
    assert simulator.requests_served == 3  # one batch per hash type, as get report


def test_file_reputation_thresholds_are_the_assets(platform, app_dir, asset_settings, corpus):
    goodware = [value for value in corpus.hashes("sha1", "goodware")[:12]]
    platform.add_asset(ASSET, app_dir, dict(asset_settings, verdict_medium_riskscore=3.0))
    [action_result] = run(platform, "file reputation", [{"hash": goodware}])["action_results"]
    for item in action_result["data"]:
        expected = "medium" if item["riskscore"] >= 3 else "low"
        assert item["verdict"]["label"] == expected, item
    assert {item["verdict"]["reason"] for item in action_result["data"]} >= {
        "classification goodware",
        "risk score 4 >= 3",
    }


def test_file_reputation_failure_never_reads_as_clean(platform, app_dir, asset_settings, corpus):
    platform.add_asset(ASSET, app_dir, dict(asset_settings, url=f"http://127.0.0.1:{closed_port()}", max_attempts=1))
    [action_result] = run(platform, "file reputation", [{"hash": corpus.hashes("md5", "goodware")[0]}])[
        "action_results"
    ]
    [item] = action_result["data"]
    assert action_result["status"] == "failed" and item["status"] == "error"
    assert item["verdict"]["label"] is None and item["verdict"]["reason"].startswith("no verdict: error: ")
    assert action_result["summary"]["verdict_label"] is None


def test_clear_cache_makes_the_next_lookup_ask_the_appliance(soar, simulator, corpus):
    hashes = ",".join(sample["sha1"] for sample in corpus.samples[:5])
    soar.run_action(ASSET, "get report", [{"hashes": hashes}])
    [check] = run(soar, "test connectivity", [])["action_results"]
    assert check["summary"]["cache_entries"] == 5 and "5 answer(s) in the cache" in check["message"]
    [cleared] = run(soar, "clear cache", [])["action_results"]
    assert cleared["status"] == "success" and cleared["summary"] == {"cleared": 5, "cache_entries": 0}
    before = simulator.requests_served
    soar.run_action(ASSET, "get report", [{"hashes": hashes}])
    assert simulator.requests_served == before + 1


def test_clear_cache_without_a_cache_says_so(platform, app_dir, asset_settings):
    platform.add_asset(ASSET, app_dir, dict(asset_settings, cache=False))
    [cleared] = run(platform, "clear cache", [])["action_results"]
    assert cleared["status"] == "success" and cleared["message"] == "no cache: the cache setting is off"
    [check] = run(platform, "test connectivity", [])["action_results"]
    assert check["summary"]["cache_entries"] is None
