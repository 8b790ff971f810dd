"""``spectra-connector action`` through the console script: the result JSON
on stdout, the CLI's exit codes, and the same data a SOAR playbook gets."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any, Optional

import pytest
from helpers import SCRIPT

from connector.validation import load_schema, violation
from connector_tools.soar.app_json import configuration

from .soar_support import ASSET, TOKEN, absent_sha1, assert_secret_kept, closed_port

pytestmark = pytest.mark.slow  # every test here starts a process


def runner(*args: str, stdin: str = "", env: Optional[dict[str, str]] = None) -> subprocess.CompletedProcess:
    environment = {key: value for key, value in os.environ.items() if not key.startswith("SPECTRA_ANALYZE_")}
    environment.update(env or {})
    return subprocess.run(
        [SCRIPT, "action", *args], input=stdin, capture_output=True, text=True, env=environment, timeout=60
    )


@pytest.fixture
def settings_file(tmp_path, simulator) -> Path:
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"url": simulator.url, "token": TOKEN, "max_attempts": 1}))
    return path


def document(completed: subprocess.CompletedProcess) -> dict[str, Any]:
    assert_secret_kept(completed.stdout + completed.stderr, TOKEN)
    return json.loads(completed.stdout)


def test_get_report_gives_what_the_soar_app_gives(soar, corpus, settings_file):
    values: list[str] = [corpus.samples[0]["sha1"], corpus.hashes("md5", "suspicious")[0], absent_sha1(2), "nope"]
    params = {"hashes": ", ".join(values)}
    completed = runner("get_report", "--params", json.dumps(params), "--config", f"@{settings_file}")
    assert completed.returncode == 0, completed.stderr
    result = document(completed)
    assert (result["action"], result["status"]) == ("get_report", "success")
    assert violation("action-summary", result["summary"]) == ""
    assert all(violation("record", record) == "" for record in result["data"])
    [soar_result] = soar.run_action(ASSET, "get report", [params])["action_results"]
    assert result["data"] == soar_result["data"]
    assert result["summary"] == soar_result["summary"]
    assert result["message"] == soar_result["message"]


def test_parameters_from_a_file_or_stdin(corpus, settings_file, tmp_path):
    params = tmp_path / "params.json"
    params.write_text(json.dumps({"hashes": [corpus.samples[1]["sha1"]]}))
    # --no-cache: both runs ask the appliance, so their request counts agree too.
    from_file = document(runner("get_summary", "--params", f"@{params}", "--config", f"@{settings_file}", "--no-cache"))
    from_stdin = document(
        runner("get_summary", "--params", "@-", "--config", f"@{settings_file}", "--no-cache", stdin=params.read_text())
    )
    assert from_file == from_stdin
    assert from_file["data"][0]["indicator_count"] == 2
    assert from_file["summary"]["classification"] == "malicious"


def test_settings_from_the_environment(corpus, simulator):
    completed = runner("test_connectivity", env={"SPECTRA_ANALYZE_URL": simulator.url, "SPECTRA_ANALYZE_TOKEN": TOKEN})
    assert completed.returncode == 0, completed.stderr
    result = document(completed)
    assert result["status"] == "success" and simulator.url in result["message"]
    assert simulator.requests_served == 1


def test_failed_lookups_exit_1_with_the_document(corpus, tmp_path):
    settings = tmp_path / "settings.json"
    settings.write_text(json.dumps({"url": f"http://127.0.0.1:{closed_port()}", "token": TOKEN, "max_attempts": 1}))
    completed = runner(
        "get_report", "--params", json.dumps({"hashes": corpus.hashes("sha1")[:2]}), "--config", f"@{settings}"
    )
    assert completed.returncode == 1
    result = document(completed)
    assert result["status"] == "failed" and [r["status"] for r in result["data"]] == ["error", "error"]
    assert "lookup failed" in completed.stderr


def test_a_rejected_token_exits_1_and_never_shows_a_token(simulator, tmp_path):
    settings = tmp_path / "settings.json"
    settings.write_text(json.dumps({"url": simulator.url, "token": "stale-token-77aa"}))
    completed = runner("test_connectivity", "--config", f"@{settings}")
    assert completed.returncode == 1
    result = document(completed)
    assert result["status"] == "failed" and "token" in result["message"].lower()
    assert "stale-token-77aa" not in completed.stdout + completed.stderr


@pytest.mark.parametrize(
    "args, complaint",
    [
        (["--params", "{not json"], "--params: not valid JSON"),
        (["--params", "[1, 2]"], "--params: expected a JSON object"),
        (["--params", '{"hashes": "a", "colour": "red"}'], "invalid parameters"),
        (["--params", '{"hashes": "a"}', "--config", '{"token": "inline"}'], "--config takes @FILE"),
        (["--params", '{"hashes": "a"}', "--config", "@/nonexistent/settings.json"], "cannot read"),
    ],
)
def test_usage_errors_exit_2_with_a_failed_document(args, complaint, settings_file):
    if "--config" not in args:
        args = args + ["--config", f"@{settings_file}"]
    completed = runner("get_report", *args)
    assert completed.returncode == 2
    assert complaint in completed.stderr and "Traceback" not in completed.stderr
    assert document(completed) == {
        "action": "get_report",
        "status": "failed",
        "message": completed.stderr.split("error: ", 1)[1].strip(),
        "summary": {},
        "data": [],
    }


def test_unknown_settings_are_named(tmp_path, simulator):
    settings = tmp_path / "settings.json"
    settings.write_text(json.dumps({"url": simulator.url, "token": TOKEN, "verify_ssl": False}))
    completed = runner("test_connectivity", "--config", f"@{settings}")
    assert completed.returncode == 2 and "unknown setting(s) verify_ssl" in completed.stderr


def test_help_lists_the_manifest_actions():
    completed = subprocess.run([SCRIPT, "action", "--help"], capture_output=True, text=True, timeout=60)
    assert completed.returncode == 0
    for name in ("get_report", "get_summary", "test_connectivity"):
        assert name in completed.stdout


# Every asset setting as SOAR types it: numeric as floats, booleans, "" for unset.
# batch_size 2 and a not_found answer kept 0 seconds make both visible in request counts.
SOAR_TYPED = {
    "verify_tls": True,
    "ca_bundle": "",
    "proxy": "",
    "connect_timeout": 5.0,
    "read_timeout": 60.0,
    "batch_size": 2.0,
    "max_connections": 1.0,
    "max_attempts": 4.0,
    "retry_deadline": 30.0,
    "cache": True,
    "cache_ttl": 86400.0,
    "cache_not_found_ttl": 0.0,
    "cache_max_entries": 200000.0,
    "verdict_high_riskscore": 7.0,
    "verdict_medium_riskscore": 6.0,
}


def soar_typed_asset(simulator, **changes: Any) -> dict[str, Any]:
    asset = dict(SOAR_TYPED, url=simulator.url, token=TOKEN)
    asset.update(changes)
    assert set(asset) == set(configuration()), "every key the app JSON declares"
    return asset


def write_asset(path: Path, asset: dict[str, Any]) -> str:
    path.write_text(json.dumps(asset))
    return f"@{path}"


def test_the_runner_and_the_connector_take_the_asset_as_soar_types_it(platform, app_dir, simulator, corpus, tmp_path):
    values = [
        corpus.samples[0]["sha1"],
        corpus.samples[1]["sha1"],
        corpus.samples[2]["sha1"],
        absent_sha1(1),
        absent_sha1(2),
    ]
    params = {"hashes": ",".join(values)}
    asset = soar_typed_asset(simulator)
    config = write_asset(tmp_path / "asset.json", asset)
    platform.add_asset(ASSET, app_dir, asset)
    served = {}
    for surface, run in (
        ("runner", lambda: document(runner("get_report", "--params", json.dumps(params), "--config", config))),
        ("connector", lambda: platform.run_action(ASSET, "get report", [params])["action_results"][0]),
    ):
        counts, data = [], []
        for _ in range(2):
            before = simulator.requests_served
            result = run()
            counts.append(simulator.requests_served - before)
            data.append(result["data"])
        assert data[0] == data[1]
        assert [item["status"] for item in data[0]] == ["found"] * 3 + ["not_found"] * 2
        served[surface] = (counts, data[0])
    # Batches of 2: five hashes are 3 requests; then the found answers come from the cache and the
    # not_found ones, kept 0 seconds, are asked again.
    assert served["runner"] == served["connector"]
    assert served["runner"][0] == [3, 1]


BAD_VALUES = {
    "url": "ftp://appliance.example.com",
    "token": "has spaces in it",
    "verify_tls": "maybe",
    "ca_bundle": "/nonexistent/ca.pem",
    "proxy": "ftp://proxy.example.com",
    "connect_timeout": 0.0,
    "read_timeout": "a minute",
    "batch_size": 2.5,
    "max_connections": 33.0,
    "max_attempts": True,
    "retry_deadline": -1.0,
    "cache": 3.0,
    "cache_ttl": 1e9,
    "cache_not_found_ttl": [],
    "cache_max_entries": 0.0,
    "verdict_high_riskscore": 11.0,
    "verdict_medium_riskscore": "six",
}


@pytest.mark.parametrize("key", sorted(BAD_VALUES))
def test_every_asset_key_is_checked_alike_by_the_runner_and_the_connector(
    key, platform, app_dir, simulator, corpus, tmp_path
):
    assert set(BAD_VALUES) == set(configuration())
    asset = soar_typed_asset(simulator, **{key: BAD_VALUES[key]})
    params = {"hashes": corpus.hashes("sha1")[0]}
    completed = runner(
        "get_report", "--params", json.dumps(params), "--config", write_asset(tmp_path / "asset.json", asset)
    )
    assert completed.returncode == 2 and "Traceback" not in completed.stderr
    message = document(completed)["message"]
    assert message.startswith(f"{key}: ")
    platform.add_asset(ASSET, app_dir, asset)
    [result] = platform.run_action(ASSET, "get report", [params])["action_results"]
    assert result["status"] == "failed" and result["data"][0]["error"] == message
    assert simulator.requests_served == 0


def test_the_runner_keeps_answers_in_the_users_cache_folder(simulator, corpus, tmp_path):
    params = json.dumps({"hashes": corpus.hashes("sha1")[:3]})
    config = write_asset(tmp_path / "asset.json", soar_typed_asset(simulator, batch_size=100.0))
    first = document(runner("get_report", "--params", params, "--config", config))
    assert simulator.requests_served == 1
    second = document(runner("get_report", "--params", params, "--config", config))
    assert simulator.requests_served == 1, "the second run must be answered from the cache"
    assert second["data"] == first["data"]
    assert (first["summary"]["requests_attempted"], second["summary"]["requests_attempted"]) == (1, 0)
    assert (Path(os.environ["XDG_CACHE_HOME"]) / "spectra-analyze-connector" / "answers.sqlite3").is_file()

    document(runner("get_report", "--params", params, "--config", config, "--no-cache"))
    assert simulator.requests_served == 2
    switched_off = write_asset(tmp_path / "off.json", soar_typed_asset(simulator, batch_size=100.0, cache=False))
    document(runner("get_report", "--params", params, "--config", switched_off))
    assert simulator.requests_served == 3
    elsewhere = tmp_path / "elsewhere"
    document(runner("get_report", "--params", params, "--config", config, "--cache-dir", str(elsewhere)))
    assert simulator.requests_served == 4 and (elsewhere / "answers.sqlite3").is_file()


def test_file_reputation_gives_what_the_soar_app_gives_with_the_assets_thresholds(
    platform, app_dir, simulator, corpus, tmp_path
):
    goodware = corpus.hashes("sha1", "goodware")[:6]
    params = {"hash": goodware + [corpus.samples[0]["sha1"], absent_sha1(6), "nope"]}
    asset = soar_typed_asset(simulator, verdict_medium_riskscore=3.0, cache=False)
    result = document(
        runner(
            "file_reputation", "--params", json.dumps(params), "--config", write_asset(tmp_path / "asset.json", asset)
        )
    )
    summary_keys = set(load_schema("reputation-summary")["properties"])
    assert violation("action-summary", {k: v for k, v in result["summary"].items() if k not in summary_keys}) == ""
    assert violation("reputation-summary", {k: v for k, v in result["summary"].items() if k in summary_keys}) == ""
    for record in result["data"]:
        assert violation("record", {k: v for k, v in record.items() if k != "verdict"}) == ""
        assert violation("verdict", record["verdict"]) == ""
    labels = {record["hash"]: record["verdict"]["label"] for record in result["data"]}
    assert {labels[value] for value in goodware} == {"low", "medium"}  # risk scores 0-5 against 3
    platform.add_asset(ASSET, app_dir, asset)
    [soar_result] = platform.run_action(ASSET, "file reputation", [params])["action_results"]
    assert (result["data"], result["summary"], result["message"]) == (
        soar_result["data"],
        soar_result["summary"],
        soar_result["message"],
    )


def test_clear_cache_from_the_runner(simulator, corpus, tmp_path):
    config = write_asset(tmp_path / "asset.json", soar_typed_asset(simulator, batch_size=100.0))
    document(runner("get_report", "--params", json.dumps({"hashes": corpus.hashes("sha1")[:4]}), "--config", config))
    cleared = document(runner("clear_cache", "--config", config))
    assert (cleared["status"], cleared["summary"]) == ("success", {"cleared": 4, "cache_entries": 0})
