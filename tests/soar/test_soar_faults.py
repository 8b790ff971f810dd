"""The fault matrix through the SOAR connector: the app folder as the builder
writes it, run by the stand-in platform as actiond runs it, against the
simulator injecting each fault. Every hash gets a data item, the action
result carries the case's message, and the token stays out of the results,
progress messages and logs."""
from __future__ import annotations

import json
import logging
import time

import pytest

from faultmatrix import (CASE_IDS, CASES, RECOVERS, STOPS, TIME_BOUND, appliance, assert_no_token, check_records,
                         hash_mix)

from .soar_support import ASSET


def asset_settings(settings):
    """The asset as SOAR keeps it: numbers as JSON numbers, verify_tls a boolean."""
    numbers = {key: float(value) for key, value in settings.items() if key not in ("url", "token")}
    return dict(numbers, url=settings["url"], token=settings["token"], verify_tls=True)


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_soar_connector(case, corpus, platform, app_dir, caplog):
    caplog.set_level(logging.DEBUG)
    mix = hash_mix(corpus)
    with appliance(case, corpus) as target:
        platform.add_asset(ASSET, app_dir, asset_settings(target.settings()))
        started = time.monotonic()
        run = platform.run_action(ASSET, "get report", [{"hashes": ", ".join(mix)}])
        elapsed = time.monotonic() - started
        target.check_requests(case)
    assert elapsed < TIME_BOUND
    [action_result] = run["action_results"]
    data = action_result["data"]
    if case.outcome == STOPS:
        assert [item["status"] for item in data] == ["invalid" if value == "not-a-hash" else "error" for value in mix]
        assert all(case.message in item["error"] for item in data if item["status"] == "error")
    else:
        check_records(case, mix, corpus, data)
    if case.outcome == RECOVERS:
        assert action_result["status"] == "success" and "lookup failed" not in action_result["message"]
    else:
        assert case.message in action_result["message"]
        all_failed = all(item["status"] in ("error", "invalid") for item in data)
        assert action_result["status"] == ("failed" if all_failed else "success")
    assert_no_token(json.dumps(run, default=str), caplog.text)
