"""The SOAR connector after the appliance refuses the token: no new request
starts, however many parameter sets and batches the run carries; counted on
the server's side."""

from __future__ import annotations

from helpers import CONNECTIONS, CountingSimulator

from .soar_support import ASSET, TOKEN


def test_no_request_starts_after_a_refusal(platform, app_dir, asset_settings, corpus):
    with CountingSimulator("another-token-the-asset-lacks", corpus=corpus) as appliance:
        platform.add_asset(
            ASSET, app_dir, dict(asset_settings, url=appliance.url, batch_size=1.0, max_connections=float(CONNECTIONS))
        )
        hashes = corpus.hashes("sha1")[:400]
        parameter_sets = [{"hashes": ",".join(hashes[start : start + 100])} for start in range(0, 400, 100)]
        result = platform.run_action(ASSET, "get report", parameter_sets)
    assert [each["status"] for each in result["action_results"]] == ["failed"] * 4
    items = [item for each in result["action_results"] for item in each["data"]]
    assert len(items) == 400 and {item["status"] for item in items} == {"error"}
    assert "refused the API token" in items[0]["error"] and TOKEN not in str(result)
    assert appliance.attempts < CONNECTIONS + 1
