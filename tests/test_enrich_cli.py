"""``spectra-connector enrich`` through its console script, against the
embedded simulator over real HTTP."""

from __future__ import annotations

import json
import math
import os
import pty
import random
import subprocess
from collections import Counter
from pathlib import Path

import pytest
from helpers import SCRIPT, TOKEN, GatedSimulator, stream_through_gate

from connector.hashes import hash_type
from connector.simulator.server import Simulator

pytestmark = pytest.mark.slow  # every test here starts a process

ROOT = Path(__file__).resolve().parent.parent
TRIAGE = ROOT / "playbooks" / "rules" / "malware-triage.json"
WORST_FIRST = {"malicious": 0, "suspicious": 1, "error": 2, "not_found": 3, "goodware": 5}


def enrich(simulator_url, *args, stdin=b"", token=TOKEN, stderr=subprocess.PIPE):
    env = dict(os.environ, SPECTRA_ANALYZE_URL=simulator_url, SPECTRA_ANALYZE_TOKEN=token)
    return subprocess.run(
        [SCRIPT, "enrich", *args], input=stdin, stdout=subprocess.PIPE, stderr=stderr, env=env, timeout=120, check=False
    )


def make_alerts(corpus, count=3000, seed=7):
    """Alerts in several shapes: one hash, several, repeats, unknown hashes, no hash, junk values."""
    rng = random.Random(seed)
    sha1s = rng.sample(corpus.hashes("sha1"), 900)
    sha256s = rng.sample(corpus.hashes("sha256"), 450)
    md5s = rng.sample(corpus.hashes("md5"), 160)
    unknown = [f"{rng.getrandbits(160):040x}" for _ in range(80)]
    alerts = []
    for index in range(count):
        shape = index % 6
        alert = {"id": index, "severity": "low"}
        if shape == 0:
            alert["file"] = {"hash": {"sha1": rng.choice(sha1s)}}
        elif shape == 1:
            alert["file"] = {"hash": {"sha256": rng.choice(sha256s), "md5": rng.choice(md5s)}}
        elif shape == 2:
            alert["hashes"] = [rng.choice(sha1s), rng.choice(unknown), "N/A"]
        elif shape == 3:
            alert["process"] = {"hash": {"sha256": rng.choice(sha256s)}}
            alert["hashes"] = f"{rng.choice(sha1s)}, {rng.choice(md5s).upper()}"
        elif shape == 4:
            alert["message"] = "no file involved"
        else:
            alert["file"] = {"hash": {"sha1": "-"}, "name": "notepad.exe"}
        alerts.append(alert)
    return alerts


def expected_requests(alerts, rules_hash_fields):
    from connector.rules import hashes_in

    unique = {value for alert in alerts for value in hashes_in(alert, rules_hash_fields)}
    by_type = Counter(hash_type(value) for value in unique)
    return sum(math.ceil(count / 100) for count in by_type.values()), unique


def truth(corpus, value):
    sample = corpus.find(hash_type(value), value)
    return ("found", str(sample["classification"]).lower()) if sample else ("not_found", None)


def test_a_few_thousand_alerts_one_request_per_100_unique_hashes_of_a_type(simulator, corpus, tmp_path):
    from connector.rules import load_rules

    alerts = make_alerts(corpus)
    source = tmp_path / "alerts.jsonl"
    source.write_text("".join(json.dumps(alert) + "\n" for alert in alerts), encoding="utf-8")
    rules = load_rules(TRIAGE)
    requests, unique = expected_requests(alerts, rules.hash_fields)

    run = enrich(simulator.url, "--rules", str(TRIAGE), "--input", str(source), "--output", str(tmp_path / "out.jsonl"))

    assert run.returncode == 0, run.stderr
    assert simulator.requests_served == requests
    asked = [value for body in simulator.bodies for value in body["hash_values"]]
    assert sorted(asked) == sorted(unique)  # each hash once, nothing else
    assert all(
        len(body["hash_values"]) <= 100 and len({hash_type(v) for v in body["hash_values"]}) == 1
        for body in simulator.bodies
    )
    lines = (tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()
    originals = source.read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(alerts)
    matches = Counter()
    for original, line, alert in zip(originals, lines, alerts):
        enriched = json.loads(line)
        assert enriched["id"] == alert["id"]
        hashes = [record["hash"] for record in enriched.get("enrichment", {}).get("records", [])]
        if alert["id"] % 6 in (4, 5):
            assert line == original  # no hash: byte for byte
            continue
        for record in enriched["enrichment"]["records"]:
            assert (record["status"], record["classification"]) == truth(corpus, record["hash"])
        ranks = [
            WORST_FIRST.get(record["classification"] or record["status"], 4)
            for record in enriched["enrichment"]["records"]
        ]
        assert WORST_FIRST.get(enriched["rl_classification"] or enriched["rl_status"], 4) == min(ranks)
        assert enriched["rl_hash"] in hashes
        matches.update(enriched["enrichment"]["matched"])
        if "malicious-to-incident" in enriched["enrichment"]["matched"]:
            assert enriched["severity"] == "critical" and enriched["route"] == "incident-response"
            assert "malware" in enriched["tags"]
    assert matches["malicious-to-incident"] > 100 and matches["unknown-to-submission"] > 100
    assert run.stderr.decode().splitlines()[-1] == (
        f"spectra-connector: enrich: {len(alerts)} alerts (2000 with hashes), "
        f"{sum(len(json.loads(line).get('enrichment', {}).get('records', [])) for line in lines)} hashes "
        f"({len(unique)} looked up), {requests} lookup requests ({requests} answered), "
        "0 failed lookups, 0 rule lookup errors; "
        f"matches: unknown-to-submission {matches['unknown-to-submission']}, "
        f"malicious-to-incident {matches['malicious-to-incident']}, "
        f"suspicious-to-triage {matches['suspicious-to-triage']}; 0 malformed line(s) passed through"
    )


def test_windows_split_the_lookups(simulator, corpus, tmp_path):
    alerts = [{"sha1": value} for value in corpus.hashes("sha1")[:250]]
    rules = tmp_path / "rules.json"
    rules.write_text(
        json.dumps({"version": 1, "rules": [{"name": "all", "hash_fields": ["sha1"], "then": {"add_tags": ["seen"]}}]}),
        encoding="utf-8",
    )
    stdin = "".join(json.dumps(alert) + "\n" for alert in alerts).encode()
    run = enrich(simulator.url, "--rules", str(rules), "--window", "200", stdin=stdin)
    assert run.returncode == 0, run.stderr
    assert [len(body["hash_values"]) for body in simulator.bodies] == [100, 100, 50]  # 200 + 50
    assert [json.loads(line)["sha1"] for line in run.stdout.decode().splitlines()] == [a["sha1"] for a in alerts]


MALFORMED = [
    b'{"sha1": "%s"}' % b"a" * 1,
    b"not json at all",
    b'["a", "list"]',
    b"",
    b'{"ok": 1}',
    b'{"bad": "\xff"}',
    b'{"id": 2}\r',
]


def test_malformed_lines_are_reported_by_number_and_passed_through(simulator, tmp_path):
    rules = tmp_path / "rules.json"
    rules.write_text(
        json.dumps({"version": 1, "rules": [{"name": "all", "hash_fields": ["sha1"], "then": {"add_tags": ["seen"]}}]}),
        encoding="utf-8",
    )
    stdin = b"\n".join(MALFORMED) + b"\n"
    run = enrich(simulator.url, "--rules", str(rules), stdin=stdin)
    assert run.returncode == 0
    assert run.stdout.split(b"\n")[:-1] == [line.rstrip(b"\r") for line in MALFORMED]
    assert run.stderr.decode().splitlines()[:4] == [
        "spectra-connector: enrich: stdin: line 2: not JSON (Expecting value at column 1); passed through",
        "spectra-connector: enrich: stdin: line 3: a JSON list, not an alert object; passed through",
        "spectra-connector: enrich: stdin: line 4: empty line; passed through",
        "spectra-connector: enrich: stdin: line 6: not UTF-8 text; passed through",
    ]
    assert run.stderr.decode().splitlines()[-1].endswith("; 4 malformed line(s) passed through")
    assert simulator.requests_served == 0


def test_reject_malformed_stops_and_leaves_no_output_file(simulator, tmp_path):
    rules = tmp_path / "rules.json"
    rules.write_text(
        json.dumps({"version": 1, "rules": [{"name": "all", "hash_fields": ["sha1"], "then": {"add_tags": ["seen"]}}]}),
        encoding="utf-8",
    )
    source = tmp_path / "in.jsonl"
    source.write_bytes(b"\n".join(MALFORMED) + b"\n")
    out = tmp_path / "out.jsonl"
    run = enrich(
        simulator.url, "--rules", str(rules), "--input", str(source), "--output", str(out), "--reject-malformed"
    )
    assert run.returncode == 2
    assert run.stderr.decode() == (
        f"spectra-connector: error: {source}: line 2: not JSON (Expecting value at column 1); "
        "the input is rejected (--reject-malformed)\n"
    )
    assert sorted(os.listdir(tmp_path)) == ["in.jsonl", "rules.json"]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16"])  # utf-16: with a BOM, each line re-encoded as read
def test_progress_bar_only_when_stderr_is_a_terminal(encoding, simulator, corpus, tmp_path):
    source = tmp_path / "in.jsonl"
    source.write_text(
        "".join(json.dumps({"hashes": value}) + "\n" for value in corpus.hashes("sha1")[:300]), encoding=encoding
    )
    args = ("--rules", str(TRIAGE), "--input", str(source), "--output", str(tmp_path / "out.jsonl"))
    piped = enrich(simulator.url, *args)
    assert piped.returncode == 0 and "\r" not in piped.stderr.decode()
    primary, secondary = pty.openpty()
    try:
        at_terminal = enrich(simulator.url, *args, stderr=secondary)
        os.close(secondary)
        shown = _read_all(primary).decode()
    finally:
        os.close(primary)
    assert at_terminal.returncode == 0
    assert "enrich [##############################] 100% 300 alerts written; writing" in shown
    # the bar is cleared first; the alerts hold "hashes" only, so the triage file's other paths are named
    assert "\r\x1b[Kspectra-connector: enrich: warning: hash_fields path(s) that reached no field" in shown
    assert shown.splitlines()[-1].startswith("spectra-connector: enrich: 300 alerts (300 with hashes)")


def _read_all(fd):
    chunks = []
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # the terminal's other end is closed
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


class FailingSimulator(Simulator):
    """The simulator, counting every request, refused ones too; requests for
    hashes of ``failing_type`` get a 500."""

    def __init__(self, *args, failing_type=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.failing_type = failing_type
        self.calls = 0

    def answer(self, path, headers, raw):
        self.calls += 1
        status, payload = super().answer(path, headers, raw)
        if hash_type(self.bodies[-1]["hash_values"][0].lower()) == self.failing_type:
            return 500, {"detail": "simulated server error"}
        return status, payload


def test_lookup_errors_follow_each_rules_on_error_and_no_alert_is_dropped(corpus, tmp_path):
    rules = tmp_path / "rules.json"
    rules.write_text(
        json.dumps(
            {
                "version": 1,
                "defaults": {"hash_fields": ["md5", "sha1"]},
                "rules": [
                    {
                        "name": "marked",
                        "when": {"field": "classification", "op": "eq", "value": "malicious"},
                        "then": {"set_severity": "high"},
                        "on_error": "mark",
                    },
                    {
                        "name": "tagged",
                        "when": {"field": "classification", "op": "eq", "value": "malicious"},
                        "then": {"add_tags": ["malware"]},
                        "on_error": {"add_tags": ["spectra-lookup-failed"], "route": "retry"},
                    },
                ],
            }
        ),
        encoding="utf-8",
    )
    malicious_md5, malicious_sha1 = corpus.hashes("md5", "malicious")[:2], corpus.hashes("sha1", "malicious")[2:4]
    alerts = (
        [{"md5": value} for value in malicious_md5]
        + [{"sha1": value} for value in malicious_sha1]
        + [{"md5": malicious_md5[0], "sha1": malicious_sha1[0]}, {"id": "no hash"}]
    )
    stdin = "".join(json.dumps(alert) + "\n" for alert in alerts).encode()
    with FailingSimulator(TOKEN, corpus=corpus, failing_type="md5") as failing:
        run = enrich(failing.url, "--rules", str(rules), stdin=stdin)
    assert run.returncode == 1
    out = [json.loads(line) for line in run.stdout.decode().splitlines()]
    assert len(out) == len(alerts)
    for enriched in out[:2]:  # md5 only: the lookup failed
        assert enriched["rl_status"] == "error" and "HTTP 500" in enriched["rl_error"]
        assert "severity" not in enriched
        assert (enriched["tags"], enriched["route"]) == (["spectra-lookup-failed"], "retry")
        assert [entry["outcome"] for entry in enriched["enrichment"]["rules"]] == ["lookup_error", "lookup_error"]
    for enriched in out[2:4]:
        assert (enriched["severity"], enriched["tags"]) == ("high", ["malware"])
    both = out[4]  # a known malicious sha1 decides, whatever the failed md5 would have said
    assert (both["rl_hash"], both["severity"], both["tags"]) == (malicious_sha1[0], "high", ["malware"])
    assert out[5] == {"id": "no hash"}
    assert "2 failed lookups, 4 rule lookup errors; matches: marked 3, tagged 3" in run.stderr.decode()


def test_a_refused_token_stops_the_lookups_but_passes_every_alert_through(corpus, tmp_path):
    alerts = [{"hashes": value} for value in corpus.hashes("sha1")[:30]]
    stdin = "".join(json.dumps(alert) + "\n" for alert in alerts).encode()
    wrong = "wrong-token-1f2e3d4c"
    with FailingSimulator(TOKEN, corpus=corpus) as simulator:
        run = enrich(simulator.url, "--rules", str(TRIAGE), "--window", "10", stdin=stdin, token=wrong)
    assert run.returncode == 1
    assert simulator.calls == 1  # the first window found out; the others did not ask again
    out = [json.loads(line) for line in run.stdout.decode().splitlines()]
    assert [alert["hashes"] for alert in out] == [alert["hashes"] for alert in alerts]
    assert all(alert["tags"] == ["spectra-lookup-failed"] and alert["rl_status"] == "error" for alert in out)
    errors = run.stderr.decode()
    assert "spectra-connector: error: the appliance refused the API token" in errors
    assert wrong not in errors and wrong not in run.stdout.decode()


def test_enrich_keeps_answers_in_the_cache_like_every_lookup(simulator, corpus, tmp_path):
    source = tmp_path / "alerts.jsonl"
    source.write_text("".join(json.dumps(alert) + "\n" for alert in make_alerts(corpus, count=300)), encoding="utf-8")
    common = ("--rules", str(TRIAGE), "--input", str(source), "--cache-dir", str(tmp_path / "cache"))
    first = enrich(simulator.url, *common, "--output", str(tmp_path / "first.jsonl"))
    asked = simulator.requests_served
    second = enrich(simulator.url, *common, "--output", str(tmp_path / "second.jsonl"))
    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    assert asked > 0 and simulator.requests_served == asked  # the second run asked nothing
    assert (tmp_path / "first.jsonl").read_bytes() == (tmp_path / "second.jsonl").read_bytes()
    enrich(simulator.url, *common, "--no-cache", "--output", str(tmp_path / "third.jsonl"))
    assert simulator.requests_served == 2 * asked


def test_enriched_alerts_keep_their_text_in_any_language(simulator, corpus, tmp_path):
    # every script as it is; a lone surrogate (a JSON escape some tools write) comes back as that same escape
    sha1 = corpus.hashes("sha1")[0]
    alerts = [
        {"sha1": sha1, "user": "Zoë Жанна 悪意 🦠 👩‍💻 ملف \u200fקובץ", "note": "broken \ud800 pair"},
        {"sha1": sha1, "user": "e\u0301 \u2028 tab\t"},
    ]
    rules = tmp_path / "rules.json"
    rules.write_text(
        json.dumps(
            {"version": 1, "rules": [{"name": "all", "hash_fields": ["sha1"], "then": {"add_tags": ["seen ✓"]}}]}
        ),
        encoding="utf-8",
    )
    stdin = b"".join(json.dumps(alert).encode("ascii") + b"\n" for alert in alerts)
    run = enrich(simulator.url, "--rules", str(rules), stdin=stdin)
    assert run.returncode == 0, run.stderr.decode()
    lines = run.stdout.split(b"\n")
    assert lines[-1] == b"" and len(lines) == 3
    enriched = [json.loads(line.decode("utf-8")) for line in lines[:-1]]  # valid UTF-8, valid JSON
    assert [alert["user"] for alert in enriched] == [alert["user"] for alert in alerts]
    assert enriched[0]["note"] == "broken \ud800 pair" and b'"broken \\ud800 pair"' in lines[0]
    assert "Zoë Жанна 悪意 🦠".encode() in lines[0]  # written as characters, not \u escapes
    assert all(alert["tags"] == ["seen ✓"] for alert in enriched)


def test_hash_fields_paths_no_alert_had_are_named_once_at_the_end(simulator, corpus, tmp_path):
    rules = tmp_path / "rules.json"
    rules.write_text(
        json.dumps(
            {
                "version": 1,
                "rules": [
                    {
                        "name": "sandbox",
                        "hash_fields": ["file.hash.sha1", "behaviours.sha256"],
                        "then": {"add_tags": ["a"]},
                    },
                    {
                        "name": "dropped",
                        "hash_fields": ["behaviours.sha256", "droped.md5"],
                        "then": {"add_tags": ["b"]},
                    },
                    {"name": "hashes", "hash_fields": ["hashes"], "then": {"add_tags": ["c"]}},
                ],
            }
        ),
        encoding="utf-8",
    )
    alerts = [{"file": {"hash": {"sha1": value}}} for value in corpus.hashes("sha1")[:5]] + [{"hashes": "N/A"}]
    stdin = "".join(json.dumps(alert) + "\n" for alert in alerts).encode()
    run = enrich(simulator.url, "--rules", str(rules), "--window", "2", stdin=stdin)
    assert run.returncode == 0, run.stderr
    lines = run.stderr.decode().splitlines()
    assert lines[:-1] == [  # "hashes" reached a value, though not a hash
        "spectra-connector: enrich: warning: hash_fields path(s) that reached no field in any of the 6 alerts: "
        '"behaviours.sha256" (rules "sandbox", "dropped"), "droped.md5" (rule "dropped"); check their spelling '
        "against the alerts"
    ]
    assert lines[-1].startswith("spectra-connector: enrich: 6 alerts (5 with hashes)")


def test_no_warning_when_every_path_reached_an_alert_or_there_was_none(simulator, corpus, tmp_path):
    rules = tmp_path / "rules.json"
    rules.write_text(
        json.dumps(
            {"version": 1, "rules": [{"name": "all", "hash_fields": ["sha1", "md5"], "then": {"add_tags": ["a"]}}]}
        ),
        encoding="utf-8",
    )
    stdin = (json.dumps({"sha1": corpus.hashes("sha1")[0]}) + "\n" + json.dumps({"md5": "-"}) + "\n").encode()
    for given in (stdin, b""):
        run = enrich(simulator.url, "--rules", str(rules), "--window", "1", stdin=given)
        assert run.returncode == 0 and len(run.stderr.decode().splitlines()) == 1, run.stderr


def test_a_refused_token_the_summary_is_still_the_last_line(simulator, corpus, tmp_path):
    rules = tmp_path / "rules.json"
    rules.write_text(
        json.dumps({"version": 1, "rules": [{"name": "all", "hash_fields": ["sha1"], "then": {"add_tags": ["seen"]}}]}),
        encoding="utf-8",
    )
    stdin = "".join(json.dumps({"sha1": value}) + "\n" for value in corpus.hashes("sha1")[:3]).encode()
    run = enrich(simulator.url, "--rules", str(rules), stdin=stdin, token="refused-token-3c1d")
    assert run.returncode == 1 and len(run.stdout.splitlines()) == 3
    lines = run.stderr.decode().splitlines()
    assert len(lines) == 2 and "refused-token" not in run.stderr.decode()
    assert lines[0].startswith("spectra-connector: error: the appliance refused the API token")
    assert lines[1].startswith("spectra-connector: enrich: 3 alerts (3 with hashes)")
    assert lines[1].endswith("; 0 malformed line(s) passed through")


@pytest.mark.parametrize(
    "condition, where",
    [
        ({"field": "classification", "op": "eq", "value": "Suspicious"}, "when.value"),
        (
            {
                "any": [
                    {"field": "riskscore", "op": "gte", "value": 5},
                    {"field": "classification", "op": "in", "value": ["malicious", "Suspicious"]},
                ]
            },
            "when.any[1].value[1]",
        ),
        ({"not": {"field": "status", "op": "ne", "value": "FOUND"}}, "when.not.value"),
    ],
)
def test_a_capitalised_value_for_a_lower_case_verdict_field_is_refused_at_load(condition, where, simulator, tmp_path):
    rules = tmp_path / "rules.json"
    rules.write_text(
        json.dumps(
            {
                "version": 1,
                "rules": [
                    {
                        "name": "fine",
                        "hash_fields": ["sha1"],
                        "when": {"field": "classification", "op": "eq", "value": "Suspicious", "ignore_case": True},
                        "then": {"add_tags": ["seen"]},
                    },
                    {"name": "triage", "hash_fields": ["sha1"], "when": condition, "then": {"add_tags": ["seen"]}},
                ],
            }
        ),
        encoding="utf-8",
    )
    run = enrich(simulator.url, "--rules", str(rules), stdin=b'{"sha1": "%s"}\n' % (b"a" * 40))
    assert run.returncode == 2 and run.stdout == b""
    wrong = '"FOUND"' if "status" in where or "not" in where else '"Suspicious"'
    assert run.stderr.decode() == (
        f'spectra-connector: error: {rules}: rule 2 "triage": {where}: classification, status and hash_type hold '
        f'lower case: write the value in lower case ("suspicious", not "Suspicious"), or set "ignore_case": true; '
        f"got {wrong}\n"
    )
    assert simulator.requests_served == 0


def test_alerts_go_out_while_later_batches_of_their_window_are_still_unanswered(corpus):
    """One window of 300 alerts: the alerts whose hashes the first two batches
    answered are enriched and written while the appliance holds every later
    request; then every alert comes out, in order, with the summary last."""
    hashes = corpus.hashes("sha1")[:300]
    alerts = "".join(
        json.dumps({"id": index, "file": {"hash": {"sha1": value}}}) + "\n" for index, value in enumerate(hashes)
    )
    with GatedSimulator(TOKEN, corpus=corpus, open_hashes=hashes[:100]) as simulator:
        # 30 of the first 100 alerts: what a full pipe buffer surely holds of them.
        argv = ["enrich", "--rules", str(TRIAGE), "--batch-size", "50", "--max-connections", "2", "--no-cache"]
        argv.append("--no-progress")
        run = stream_through_gate(simulator, argv, alerts.encode(), early=30)
        assert run.returncode == 0
        summary = run.stderr.splitlines()[-1]
    assert not simulator.held_too_long and run.answered_then == 2
    assert [alert["id"] for alert in run.early + run.rest] == list(range(300))
    assert all(alert["rl_status"] == "found" for alert in run.early + run.rest)
    assert summary.startswith(
        "spectra-connector: enrich: 300 alerts (300 with hashes), 300 hashes (300 looked up), "
        "6 lookup requests (6 answered), 0 failed lookups"
    )
