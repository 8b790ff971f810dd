"""The CLI through its console script, against the simulator over HTTP."""

import json
import os
import subprocess

import pytest
from helpers import SCRIPT, TOKEN, GatedSimulator, cli, stream_through_gate

pytestmark = pytest.mark.slow  # every test here starts a process


@pytest.fixture
def env(simulator):
    return {"SPECTRA_ANALYZE_URL": simulator.url, "SPECTRA_ANALYZE_TOKEN": TOKEN}


def test_get_report_jsonl_one_record_per_input_hash_in_order(env, corpus, simulator):
    hashes = [corpus.samples[0]["sha1"], "0" * 32, "bogus", corpus.samples[7]["sha256"]]
    done = cli("get-report", *hashes, "--format", "jsonl", env=env)
    assert done.returncode == 0, done.stderr
    records = [json.loads(line) for line in done.stdout.splitlines()]
    assert [r["rl_hash"] for r in records] == hashes
    assert [r["rl_status"] for r in records] == ["found", "not_found", "invalid", "found"]
    assert records[0]["rl_classification"] == "malicious" and records[0]["rl_threat_family"] == "Prorat"


def test_hashes_from_a_file_and_stdin(env, corpus, tmp_path):
    listing = tmp_path / "hashes.txt"
    listing.write_text(corpus.samples[0]["md5"] + "\n" + corpus.samples[1]["md5"] + "\n")
    done = cli("get-summary", "--hash-file", str(listing), env=env)
    assert done.returncode == 0 and len(done.stdout.splitlines()) == 2
    assert "rl_indicators" in json.loads(done.stdout.splitlines()[0])
    done = cli("get-report", "--hash-file", "-", "--prefix", "ra_", env=env, stdin=corpus.samples[0]["sha1"])
    assert json.loads(done.stdout)["ra_status"] == "found"


def test_table_and_json_formats(env, corpus):
    done = cli("get-report", corpus.samples[0]["sha1"], "--format", "table", env=env)
    assert done.stdout.splitlines()[0].split() == ["HASH", "STATUS", "CLASSIFICATION", "RISK", "THREAT", "NAME"]
    assert "Win32.Backdoor.Prorat" in done.stdout and "1 found (1 malicious)" in done.stdout
    done = cli("get-report", corpus.samples[0]["sha1"], "--format", "json", env=env)
    result = json.loads(done.stdout)
    assert result["status"] == "success" and result["summary"]["highest_riskscore"] == 8
    assert result["data"][0]["rl_riskscore"] == 8


@pytest.mark.parametrize(
    "encoding, shown",
    [("utf-8", "хэш✓"), ("latin-1", "\\u0445\\u044d\\u0448\\u2713"), ("ascii", "\\u0445\\u044d\\u0448\\u2713")],
)
def test_a_table_with_text_the_output_cannot_encode_is_escaped_not_a_traceback(encoding, shown, env, corpus):
    # what Windows' `> file` (a code page) or PYTHONIOENCODING give; a hash as typed is echoed in the table
    done = subprocess.run(
        [SCRIPT, "get-report", "хэш✓", corpus.samples[0]["sha1"], "--format", "table"],
        capture_output=True,
        env=dict(os.environ, PYTHONIOENCODING=encoding, **env),
        timeout=60,
    )
    assert done.returncode == 0 and done.stderr == b"", done.stderr
    lines = done.stdout.decode(encoding).splitlines()
    assert lines[1].startswith(shown) and " invalid " in lines[1]
    assert "Win32.Backdoor.Prorat" in lines[2]


def test_token_file(simulator, corpus, tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    done = cli("get-report", corpus.samples[0]["sha1"], "--url", simulator.url, "--token-file", str(token_file))
    assert done.returncode == 0 and json.loads(done.stdout)["rl_status"] == "found"


def test_403_exits_1_with_a_clear_message_without_the_token(simulator, corpus):
    done = cli(
        "get-report",
        corpus.samples[0]["sha1"],
        env={"SPECTRA_ANALYZE_URL": simulator.url, "SPECTRA_ANALYZE_TOKEN": "sentinel-wrong-token"},
    )
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr == (
        "spectra-connector: error: the appliance refused the API token (HTTP 403: "
        f'{{"detail": "Invalid token."}}); check the token configured for {simulator.url}\n'
    )
    assert "sentinel-wrong-token" not in done.stderr


def test_unknown_field_exits_2_before_any_request(env, simulator, corpus):
    done = cli("get-report", corpus.samples[0]["sha1"], "--fields", "classification,riskscor", env=env)
    assert done.returncode == 2 and simulator.requests_served == 0
    assert done.stderr.startswith("spectra-connector: error: fields: unknown field name(s) riskscor;")
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    "args, message",
    [
        (["get-report"], "no hash given"),
        (["get-report", "a" * 40, "--skip-reanalysis", "perhaps"], "skip_reanalysis: 'perhaps' is not accepted"),
        (["get-report", "a" * 40, "--batch-size", "0"], "batch_size: expected a value from 1 to 1000"),
        (["get-report", "a" * 40, "--token-file", "/nonexistent"], "--token-file: cannot read the file given"),
    ],
)
def test_usage_errors_exit_2_with_one_line(env, args, message):
    done = cli(*args, env=env)
    assert done.returncode == 2 and message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr


def test_missing_url_and_token_say_how_to_set_them():
    assert "set SPECTRA_ANALYZE_URL" in cli("get-report", "a" * 40).stderr
    assert "set SPECTRA_ANALYZE_TOKEN" in cli("get-report", "a" * 40, env={"SPECTRA_ANALYZE_URL": "https://x"}).stderr


def test_an_unreachable_appliance_exits_1_and_every_hash_is_accounted_for(tmp_path):
    env = {"SPECTRA_ANALYZE_URL": "http://127.0.0.1:9", "SPECTRA_ANALYZE_TOKEN": TOKEN}
    done = cli("get-report", "a" * 40, "b" * 32, "--max-attempts", "1", "--format", "jsonl", env=env)
    assert done.returncode == 1
    assert [json.loads(line)["rl_status"] for line in done.stdout.splitlines()] == ["error", "error"]
    assert "could not reach http://127.0.0.1:9" in done.stderr and "Traceback" not in done.stderr


def test_insecure_warns(env, corpus):
    done = cli("get-report", corpus.samples[0]["sha1"], "--insecure", env=env)
    assert done.returncode == 0 and "TLS certificate verification is OFF" in done.stderr


def test_demo_is_labelled_simulated_and_shows_each_status():
    done = cli("demo")
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("SIMULATED") >= 2
    for word in ("malicious", "suspicious", "goodware", "unknown", "not_found", "invalid"):
        assert word in done.stdout
    assert "Deletes files in Windows system directories." in done.stdout


def test_nothing_falls_back_to_the_simulator(tmp_path):
    done = cli("get-report", "a" * 40)
    assert done.returncode == 2 and "SIMULATED" not in done.stdout + done.stderr


def test_the_simulator_command_serves_until_stopped(corpus):
    server = subprocess.Popen(
        [SCRIPT, "simulator", "--port", "0", "--token", "tok", "--samples", "10"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        banner = server.stdout.readline()
        assert banner.startswith("SIMULATED appliance")
        url = banner.split()[-1]
        done = cli(
            "get-report", corpus.samples[0]["sha1"], env={"SPECTRA_ANALYZE_URL": url, "SPECTRA_ANALYZE_TOKEN": "tok"}
        )
        assert json.loads(done.stdout)["rl_classification"] == "malicious"
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_jsonl_lines_go_out_while_later_batches_are_still_unanswered(corpus):
    """The first two batches' records are written, in input order, while the
    appliance holds every later request: the output does not wait for the last batch."""
    hashes = corpus.hashes("sha1")[:300]
    with GatedSimulator(TOKEN, corpus=corpus, open_hashes=hashes[:100]) as simulator:
        # 50 of the first 100 records: what a full pipe buffer surely holds of them.
        argv = ["get-report", "--hash-file", "-", "--format", "jsonl", "--batch-size", "50", "--max-connections", "2"]
        argv.append("--no-cache")
        run = stream_through_gate(simulator, argv, "\n".join(hashes).encode(), early=50)
        assert run.returncode == 0, run.stderr
    assert not simulator.held_too_long and run.answered_then == 2
    assert [record["rl_hash"] for record in run.early + run.rest] == hashes
    assert {record["rl_status"] for record in run.early + run.rest} == {"found"}
