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
from certs import Authority
from faultmatrix import (
    CASE_IDS,
    CASES,
    RECOVERS,
    STOPS,
    TIME_BOUND,
    appliance,
    assert_no_token,
    check_records,
    hash_mix,
)
from helpers import TOKEN

from connector.simulator.server import Simulator

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


def test_tls_is_verified_by_default_ca_bundle_works_and_the_opt_out_warns(corpus, platform, app_dir, tmp_path):
    authority = Authority(tmp_path)
    sha1 = corpus.hashes("sha1")[0]
    base = {"token": TOKEN, "max_attempts": 1.0, "verify_tls": True}
    with Simulator(TOKEN, corpus=corpus, tls=authority.server_context()) as server:
        runs = []
        for extra in ({}, {"ca_bundle": str(authority.bundle)}, {"verify_tls": False}, {"verify_tls": False}):
            platform.add_asset(ASSET, app_dir, dict(base, url=server.url, **extra))
            runs.append(platform.run_action(ASSET, "get report", [{"hashes": sha1}]))
    default, bundle, *off = [(run["action_results"][0], run["progress"]) for run in runs]
    assert default[0]["status"] == "failed" and "set ca_bundle to its CA certificate file" in default[0]["message"]
    assert bundle[0]["status"] == "success" and bundle[0]["data"][0]["status"] == "found"
    for result, progress in off:  # every run warns
        assert result["data"][0]["status"] == "found"
        assert any(line.startswith("WARNING: TLS certificate verification is off") for line in progress)
    assert_no_token(json.dumps(runs, default=str))
