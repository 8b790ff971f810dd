"""``spectra-connector action`` through the console script: the result JSON
on stdout, the CLI's exit codes, and the same data a SOAR playbook gets."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest
from .soar_support import ASSET, TOKEN, absent_sha1, assert_secret_kept, closed_port

from connector.validation import violation

SCRIPT = Path(sys.executable).with_name("spectra-connector")


def runner(*args: str, stdin: str = "", env: Optional[Dict[str, str]] = None) -> subprocess.CompletedProcess:
    environment = {key: value for key, value in os.environ.items() if not key.startswith("SPECTRA_ANALYZE_")}
    environment.update(env or {})
    return subprocess.run([str(SCRIPT), "action", *args], input=stdin, capture_output=True, text=True,
                          env=environment, timeout=60)


@pytest.fixture
def settings_file(tmp_path, simulator) -> Path:
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"url": simulator.url, "token": TOKEN, "max_attempts": 1}))
    return path


def document(completed: subprocess.CompletedProcess) -> Dict[str, Any]:
    assert_secret_kept(completed.stdout + completed.stderr, TOKEN)
    return json.loads(completed.stdout)


def test_get_report_gives_what_the_soar_app_gives(soar, corpus, settings_file):
    values: List[str] = [corpus.samples[0]["sha1"], corpus.hashes("md5", "suspicious")[0], absent_sha1(2), "nope"]
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
    from_file = document(runner("get_summary", "--params", f"@{params}", "--config", f"@{settings_file}"))
    from_stdin = document(runner("get_summary", "--params", "@-", "--config", f"@{settings_file}",
                                 stdin=params.read_text()))
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
    completed = runner("get_report", "--params", json.dumps({"hashes": corpus.hashes("sha1")[:2]}),
                       "--config", f"@{settings}")
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


@pytest.mark.parametrize("args, complaint", [
    (["--params", "{not json"], "--params: not valid JSON"),
    (["--params", "[1, 2]"], "--params: expected a JSON object"),
    (["--params", '{"hashes": "a", "colour": "red"}'], "invalid parameters"),
    (["--params", '{"hashes": "a"}', "--config", '{"token": "inline"}'], "--config takes @FILE"),
    (["--params", '{"hashes": "a"}', "--config", "@/nonexistent/settings.json"], "cannot read"),
])
def test_usage_errors_exit_2_with_a_failed_document(args, complaint, settings_file):
    if "--config" not in args:
        args = args + ["--config", f"@{settings_file}"]
    completed = runner("get_report", *args)
    assert completed.returncode == 2
    assert complaint in completed.stderr and "Traceback" not in completed.stderr
    assert document(completed) == {"action": "get_report", "status": "failed",
                                   "message": completed.stderr.split("error: ", 1)[1].strip(),
                                   "summary": {}, "data": []}


def test_unknown_settings_are_named(tmp_path, simulator):
    settings = tmp_path / "settings.json"
    settings.write_text(json.dumps({"url": simulator.url, "token": TOKEN, "verify_ssl": False}))
    completed = runner("test_connectivity", "--config", f"@{settings}")
    assert completed.returncode == 2 and "unknown setting(s) verify_ssl" in completed.stderr


def test_help_lists_the_manifest_actions():
    completed = subprocess.run([str(SCRIPT), "action", "--help"], capture_output=True, text=True, timeout=60)
    assert completed.returncode == 0
    for name in ("get_report", "get_summary", "test_connectivity"):
        assert name in completed.stdout
