"""The built app's ``spectra_analyze_enrich`` alert action, run as splunkd runs
it: ``bin/spectra_analyze_enrich.py --execute`` under Splunk's Pythons (3.9
and 3.13), a JSON payload on stdin, the alert's results in a gzip CSV, the
appliance simulator and a stand-in splunkd (storage/passwords and
receivers/simple) on loopback."""

from __future__ import annotations

import gzip
import json
import math
import re
import socket
import subprocess
import threading
from collections import Counter

import pytest
from helpers import TOKEN
from splunk_harness import (
    ACTION,
    SESSION_KEY,
    SHIPPED_RULES,
    alert_results,
    configure,
    events_of,
    execute,
    payload_for,
    python,
    token_credentials,
    write_results,
)
from splunkd_standin import SplunkdStandIn

from connector.hashes import hash_type
from connector.rules import hashes_in, load_rules

pytestmark = pytest.mark.slow  # every test here starts a process


@pytest.mark.parametrize("version", ["3.9", "3.13"])
def test_enriches_the_alerts_results_into_the_index(version, app, simulator, corpus, tmp_path):
    results = alert_results(corpus)
    payload = payload_for(write_results(tmp_path / "results.csv.gz", results), "")
    with SplunkdStandIn(SESSION_KEY, token_credentials(TOKEN)) as splunkd:
        payload["server_uri"] = splunkd.uri
        run = execute(app, version, payload)

    assert run.returncode == 0, run.stderr
    rules = load_rules(app / "rules" / SHIPPED_RULES)
    unique = {value for result in results for value in hashes_in(result, rules.hash_fields)}
    per_type = Counter(hash_type(value) for value in unique)
    assert simulator.requests_served == sum(math.ceil(count / 100) for count in per_type.values())
    assert sorted(v for body in simulator.bodies for v in body["hash_values"]) == sorted(unique)
    assert [path for _, path in splunkd.requests if "storage/passwords" in path] == [
        "/servicesNS/nobody/spectra_analyze/storage/passwords/spectra_analyze%3Aapi_token%3A"
    ]
    assert len(splunkd.received) == 1
    query, _ = splunkd.received[0]
    assert query == {
        "index": "alerts",
        "sourcetype": "spectra:enriched_alert",
        "source": f"{ACTION}:Malware hashes",
        "host": "sh1",
    }
    events = events_of(splunkd)
    assert [event["n"] for event in events] == [result["n"] for result in results]  # all of them, in order
    for result, event in zip(results, events):
        assert list(event)[0] == "orig_time" and event["orig_time"] == result["_time"]
        assert (event["orig_raw"], event["orig_host"], event["orig_sourcetype"]) == (
            result["_raw"],
            result["host"],
            result["sourcetype"],
        )
        assert not any(key.startswith("_") for key in event)
        assert (event["alert_search_name"], event["alert_sid"]) == ("Malware hashes", payload["sid"])
        shape = int(result["n"]) % 4
        if shape == 3:
            assert "enrichment" not in event and event["severity"] == "low"  # no hash: untouched
            continue
        assert event["rl_hash"] in {record["hash"] for record in event["enrichment"]["records"]}
        if shape == 0:
            assert (event["severity"], event["route"]) == ("critical", "incident-response")
            assert event["rl_classification"] == "malicious" and "malware" in event["tags"]
            assert event["signature"] == event["rl_threat_name"]
        elif shape == 1:
            assert event["rl_classification"] == "goodware" and event["severity"] == "low"
            assert event["enrichment"]["matched"] == []
        else:  # three md5s, one unknown to the appliance: tagged for submission whatever the others are
            assert len(event["md5"]) == 3 and event["submit_hash"] == "ab" * 16
            assert "submit-to-spectra-analyze" in event["tags"]
    assert f"INFO {ACTION}: 240 alerts (180 with hashes)" in run.stderr
    assert "events written to index alerts in 1 request(s)" in run.stderr
    assert TOKEN not in run.stderr and SESSION_KEY not in run.stderr


def test_a_refused_token_still_writes_every_result_marked(app, simulator, corpus, tmp_path):
    results = alert_results(corpus, 12)
    payload = payload_for(write_results(tmp_path / "results.csv.gz", results), "")
    with SplunkdStandIn(SESSION_KEY, token_credentials("a-token-the-appliance-refuses")) as splunkd:
        payload["server_uri"] = splunkd.uri
        run = execute(app, "3.9", payload)
    assert run.returncode == 1
    events = events_of(splunkd)
    assert [event["n"] for event in events] == [result["n"] for result in results]
    marked = [event for event in events if "enrichment" in event]
    assert len(marked) == 9 and all(event["rl_status"] == "error" for event in marked)
    assert all("spectra-lookup-failed" in event["tags"] for event in marked)  # the rules' on_error
    assert f"ERROR {ACTION}: the appliance refused the API token" in run.stderr
    assert "a-token-the-appliance-refuses" not in run.stderr + json.dumps(events)
    log = (app.parent.parent.parent / "var" / "log" / "splunk" / "spectra_analyze.log").read_text()
    assert "the appliance refused the API token" in log and "a-token-the-appliance-refuses" not in log


def test_no_stored_token_marks_the_results_without_asking_the_appliance(app, simulator, corpus, tmp_path):
    payload = payload_for(write_results(tmp_path / "results.csv.gz", alert_results(corpus, 8)), "")
    with SplunkdStandIn(SESSION_KEY, {}) as splunkd:
        payload["server_uri"] = splunkd.uri
        run = execute(app, "3.9", payload)
    assert run.returncode == 1 and simulator.requests_served == 0
    assert len(events_of(splunkd)) == 8
    assert f"ERROR {ACTION}: no API token is stored for the app spectra_analyze" in run.stderr


@pytest.mark.parametrize(
    "configuration, message",
    [
        (
            {"rules_file": "../../../etc/passwd"},
            "param.rules_file: expected a file name ending in .json (letters, digits, '.', '_', '-'), looked up in the "
            "app's local/rules and rules folders; got '../../../etc/passwd'",
        ),
        (
            {"rules_file": "missing.json"},
            "param.rules_file: no rules file missing.json in {app}/local/rules or {app}/rules",
        ),
        ({"index": ""}, "param.index: expected an index name: lower-case letters, digits, '_' and '-'; it is empty"),
        (
            {"index": "Alerts"},
            "param.index: expected an index name: lower-case letters, digits, '_' and '-'; got 'Alerts'",
        ),
        (
            {"rules_file": "mine.json"},
            '{app}/local/rules/mine.json: rule 1 "r": when.op: got "regexp" (did you mean "regex"?)',
        ),
    ],
)
def test_wrong_parameters_or_rules_stop_before_any_lookup(configuration, message, app, simulator, corpus, tmp_path):
    local_rules = app / "local" / "rules"
    local_rules.mkdir(parents=True)
    (local_rules / "mine.json").write_text(
        json.dumps(
            {
                "version": 1,
                "rules": [
                    {
                        "name": "r",
                        "hash_fields": ["file_hash"],
                        "when": {"field": "threat_name", "op": "regexp", "value": "x"},
                        "then": {"route": "q"},
                    }
                ],
            }
        ),
        encoding="utf-8",
    )
    payload = payload_for(write_results(tmp_path / "results.csv.gz", alert_results(corpus, 4)), "", **configuration)
    with SplunkdStandIn(SESSION_KEY, token_credentials(TOKEN)) as splunkd:
        payload["server_uri"] = splunkd.uri
        run = execute(app, "3.9", payload)
    assert run.returncode == 2
    assert run.stderr == f"ERROR {ACTION}: {message.format(app=app)}\n"
    assert splunkd.requests == [] and simulator.requests_served == 0


def test_an_admins_own_rules_file_in_local_rules_wins(app, simulator, corpus, tmp_path):
    local_rules = app / "local" / "rules"
    local_rules.mkdir(parents=True)
    (local_rules / SHIPPED_RULES).write_text(
        json.dumps(
            {
                "version": 1,
                "rules": [
                    {
                        "name": "everything",
                        "hash_fields": ["file_hash", "sha1"],
                        "then": {"route": "{classification}-queue"},
                    }
                ],
            }
        ),
        encoding="utf-8",
    )
    payload = payload_for(write_results(tmp_path / "results.csv.gz", alert_results(corpus, 4)), "")
    with SplunkdStandIn(SESSION_KEY, token_credentials(TOKEN)) as splunkd:
        payload["server_uri"] = splunkd.uri
        run = execute(app, "3.9", payload)
    assert run.returncode == 0, run.stderr
    assert [event.get("route") for event in events_of(splunkd)] == ["malicious-queue", "goodware-queue", None, None]


def test_splunkd_refusing_the_events_fails_the_action(app, simulator, corpus, tmp_path):
    payload = payload_for(write_results(tmp_path / "results.csv.gz", alert_results(corpus, 4)), "")
    with SplunkdStandIn(SESSION_KEY, token_credentials(TOKEN), receiver_status=403) as splunkd:
        payload["server_uri"] = splunkd.uri
        run = execute(app, "3.9", payload)
    assert run.returncode == 1
    assert run.stderr.startswith(f"ERROR {ACTION}: 4 alerts (3 with hashes)") and run.stderr.count("\n") == 1
    assert run.stderr.endswith(
        "; 0 of 4 events written to index alerts in 0 request(s); the other 4 were not: "
        "request 1: splunkd refused them for index alerts (HTTP 403 Forbidden -- cannot write "
        "to index alerts)\n"
    )


def test_only_execute_mode_and_a_json_payload(app, tmp_path):
    script = [python("3.9"), str(app / "bin" / f"{ACTION}.py")]
    wrong_mode = subprocess.run(script + ["--setup"], input="{}", capture_output=True, text=True, timeout=60)
    assert wrong_mode.returncode == 2
    assert wrong_mode.stderr == (
        f"ERROR {ACTION}: splunkd runs this script with --execute and a JSON payload on stdin\n"
    )
    xml = subprocess.run(script + ["--execute"], input="<alert/>", capture_output=True, text=True, timeout=60)
    assert xml.returncode == 2
    assert xml.stderr.startswith(f"ERROR {ACTION}: the payload on stdin is not JSON (")
    assert xml.stderr.endswith("); set payload_format = json\n")


def test_the_conf_the_spec_and_the_form_declare_the_parameters_the_code_reads(splunk_app):
    """The built app's alert_actions.conf (ucc-gen's, from connector_tools/splunk/ucc.py): a plain custom alert
    action, and an adaptive response action for Enterprise Security (param._cam)."""
    from connector.splunk.alert_action import DEFAULT_SOURCETYPE, PARAMETERS
    from connector.splunk.conf import parse_conf
    from connector_tools.splunk.build import APP_SOURCE

    stanza = parse_conf((splunk_app / "default" / "alert_actions.conf").read_text())[ACTION]
    assert (stanza["is_custom"], stanza["payload_format"]) == ("1", "json")
    assert (stanza["python.version"], stanza["python.required"], stanza["maxtime"]) == ("python3", "3.9, 3.13", "10m")
    assert (
        tuple(key[len("param.") :] for key in stanza if key.startswith("param.") and key != "param._cam") == PARAMETERS
    )
    assert (stanza["param.rules_file"], stanza["param.sourcetype"]) == (SHIPPED_RULES, DEFAULT_SOURCETYPE)
    adaptive = json.loads(stanza["param._cam"])
    assert adaptive["supports_adhoc"] is True and adaptive["subject"] == ["file"]
    assert adaptive["technology"][0]["product"] == "Spectra Analyze"
    assert (splunk_app / "bin" / f"{ACTION}.py").read_text() == (APP_SOURCE / "bin" / f"{ACTION}.py").read_text()
    spec = parse_conf(
        "\n".join(
            line
            for line in (APP_SOURCE / "README" / "alert_actions.conf.spec").read_text().splitlines()
            if not line.startswith("*")
        )
    )[ACTION]
    assert tuple(key[len("param.") :] for key in spec) == PARAMETERS
    form = (APP_SOURCE / "default" / "data" / "ui" / "alerts" / f"{ACTION}.html").read_text()
    assert re.findall(rf'name="action\.{ACTION}\.param\.(\w+)"', form) == list(PARAMETERS)
    props = parse_conf((APP_SOURCE / "default" / "props.conf").read_text())
    assert props[DEFAULT_SOURCETYPE]["KV_MODE"] == "json"
    assert props[DEFAULT_SOURCETYPE]["CHARSET"] == "UTF-8"  # what the action writes
    load_rules(APP_SOURCE / "rules" / SHIPPED_RULES)  # the shipped rules file loads


def test_verification_turned_off_is_warned_about(splunk_app, simulator, corpus, tmp_path):
    configure(splunk_app, {"url": simulator.url, "verify_tls": "false"})
    payload = payload_for(write_results(tmp_path / "results.csv.gz", alert_results(corpus, 4)), "")
    with SplunkdStandIn(SESSION_KEY, token_credentials(TOKEN)) as splunkd:
        payload["server_uri"] = splunkd.uri
        run = execute(splunk_app, "3.9", payload)
    assert run.returncode == 0, run.stderr
    assert run.stderr.splitlines()[0] == (
        f"WARN {ACTION}: verify_tls = false in spectra_analyze.conf: the "
        "appliance's certificate is not checked, so anyone on the network path "
        "can read the API token"
    )


def test_answers_are_kept_in_the_apps_cache_for_the_next_alert(app, simulator, corpus, tmp_path):
    payload = payload_for(write_results(tmp_path / "results.csv.gz", alert_results(corpus, count=40)), "")
    with SplunkdStandIn(SESSION_KEY, token_credentials(TOKEN)) as splunkd:
        payload["server_uri"] = splunkd.uri
        first = execute(app, "3.9", payload)
        asked = simulator.requests_served
        second = execute(app, "3.9", payload)
    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    assert asked > 0 and simulator.requests_served == asked  # the second alert asked nothing
    assert (app / "cache" / "answers.sqlite3").is_file()
    assert events_of(splunkd)[:40] == events_of(splunkd)[40:]


# Text in every script and direction: Latin-1, Cyrillic, CJK, emoji beyond the BMP (a ZWJ sequence and a flag),
# Arabic and Hebrew with a right-to-left mark, combining accents, and JSON's own specials.
WORLD = {
    "latin1": "Zoë Müller, Øresund café ñ ß",
    "cyrillic": "Вредоносный файл ёЁ",
    "cjk": "悪意のあるファイル 恶意文件 악성 파일",
    "emoji": "🦠 👩‍💻 🇸🇮 ✓",
    "rtl": "ملف ضار \u200fקובץ זדוני",
    "combining": "e\u0301 a\u0308 Z\u030c",
    "specials": 'tab\t "q" \\ \u2028',
}


def worldly_results(corpus, count=12):
    malicious = corpus.hashes("sha256", "malicious")
    results = []
    for index in range(count):
        texts = list(WORLD.values())
        result = {
            "_time": f"{1700000000 + index}.000",
            "_raw": f"{texts[index % len(texts)]} #{index}",
            "host": f"хост-{index}",
            "n": str(index),
            "пользователь": "Жанна 👩‍💻",
            "paths": [f"C:\\Users\\{texts[(index + 1) % len(texts)]}", "/home/ユーザー/файл"],
        }
        result.update(WORLD)
        if index % 2 == 0:
            result["file_hash"] = malicious[index]
        results.append(result)
    return results


@pytest.mark.parametrize("version", ["3.9", "3.13"])
def test_results_in_any_language_are_written_back_as_they_came(version, app, simulator, corpus, tmp_path):
    results = worldly_results(corpus)
    payload = payload_for(write_results(tmp_path / "results.csv.gz", results), "")
    payload["search_name"] = "Хэши 悪意 🦠"
    with SplunkdStandIn(SESSION_KEY, token_credentials(TOKEN)) as splunkd:
        payload["server_uri"] = splunkd.uri
        run = execute(app, version, payload)

    assert run.returncode == 0, run.stderr
    assert splunkd.received[0][0]["source"] == f"{ACTION}:Хэши 悪意 🦠"
    events = events_of(splunkd)  # each body decoded as strict UTF-8: Latin-1 bytes would fail here
    assert len(events) == len(results)
    for result, event in zip(results, events):
        assert (event["orig_raw"], event["orig_host"], event["пользователь"]) == (
            result["_raw"],
            result["host"],
            result["пользователь"],
        )
        assert event["paths"] == result["paths"]
        assert {key: event[key] for key in WORLD} == WORLD
        assert event["alert_search_name"] == "Хэши 悪意 🦠"
    assert [event["rl_classification"] for event in events[::2]] == ["malicious"] * 6
    body = splunkd.received[0][1]
    assert "Zoë Müller".encode() in body and "🦠".encode() in body  # the characters, not \u escapes


def test_bodies_stay_under_1_mb_counted_in_bytes(app, simulator, corpus, tmp_path):
    # 3 bytes a character: counted in characters, a body would be near 3 MB
    results = [
        {"_time": "1700000000.000", "n": str(index), "_raw": "悪意" * 450 + f" {index}"} for index in range(1500)
    ]
    payload = payload_for(write_results(tmp_path / "results.csv.gz", results), "")
    with SplunkdStandIn(SESSION_KEY, token_credentials(TOKEN)) as splunkd:
        payload["server_uri"] = splunkd.uri
        run = execute(app, "3.9", payload)

    assert run.returncode == 0, run.stderr
    sizes = [len(body) for _, body in splunkd.received]
    assert len(sizes) == 5 and max(sizes) <= 1024 * 1024 and min(sizes[:-1]) > 1000 * 1024, sizes
    assert [event["n"] for event in events_of(splunkd)] == [str(index) for index in range(1500)]
    assert f"1500 of 1500 events written to index alerts in {len(sizes)} request(s)" in run.stderr


def test_a_results_file_that_is_not_utf8_loses_no_result(app, simulator, corpus, tmp_path):
    sha = corpus.hashes("sha256", "malicious")[0]
    lines = [
        b"_raw,file_hash,user",
        '"ok ✓",%s,Zoë\r\n'.encode() % sha.encode(),
        b"caf\xe9 (Latin-1),,\xff\xfe\r\n",  # not UTF-8 at all
        '"cut \u00e9",,'.encode("utf-8") + b"\xe2\x9c\r\n",  # a UTF-8 character cut short
        '"quoted, over\nlines \xe9",,ü\r'.encode(),  # a bare CR ends a line too
        "last,,\xe9\n".encode("latin-1"),
    ]
    path = tmp_path / "results.csv.gz"
    path.write_bytes(gzip.compress(lines[0] + b"\r\n" + b"".join(lines[1:])))
    payload = payload_for(path, "")
    with SplunkdStandIn(SESSION_KEY, token_credentials(TOKEN)) as splunkd:
        payload["server_uri"] = splunkd.uri
        run = execute(app, "3.9", payload)

    assert run.returncode == 0, run.stderr
    events = events_of(splunkd)
    assert [(event.get("orig_raw"), event.get("user")) for event in events] == [
        ("ok ✓", "Zoë"),
        ("caf\\xe9 (Latin-1)", "\\xff\\xfe"),
        ("cut é", "\\xe2\\x9c"),
        ("quoted, over\nlines é", "ü"),
        ("last", "\\xe9"),
    ]
    assert events[0]["rl_classification"] == "malicious"
    assert (
        f"WARN {ACTION}: 3 line(s) of the alert's results are not UTF-8; their undecodable bytes are written as "
        "\\xNN text\n"
    ) in run.stderr


@pytest.mark.parametrize("version", ["3.9", "3.13"])
def test_the_payload_and_stderr_are_utf8_whatever_the_locale(version, app, simulator, corpus, tmp_path):
    # Windows pipes, or a Latin-1 locale: stdin and stderr would not be UTF-8 on their own
    payload = payload_for(write_results(tmp_path / "results.csv.gz", alert_results(corpus, 4)), "")
    payload["search_name"] = "Хэши 🦠"
    with SplunkdStandIn(SESSION_KEY, token_credentials(TOKEN)) as splunkd:
        payload["server_uri"] = splunkd.uri
        run = execute(app, version, payload, PYTHONIOENCODING="latin-1")
        missing = payload_for(tmp_path / "результаты 🦠.csv.gz", splunkd.uri)
        unreadable = execute(app, version, missing, PYTHONIOENCODING="latin-1")
    assert run.returncode == 0, run.stderr
    assert {event["alert_search_name"] for event in events_of(splunkd)} == {"Хэши 🦠"}
    assert unreadable.returncode == 2
    assert unreadable.stderr.startswith(
        f"ERROR {ACTION}: cannot read the alert's results {tmp_path}/результаты 🦠.csv.gz"
    )


def results_of_two_bodies(count=300):
    return [{"_time": "1700000000.000", "n": str(index), "_raw": "x" * 5000} for index in range(count)]


@pytest.mark.parametrize(
    "fault, message",
    [
        (
            {"receiver_status": 503},
            "splunkd refused them for index alerts (HTTP 503 Service Unavailable -- cannot write to index alerts)",
        ),
        (
            {"receiver_fault": "nothing"},
            "the connection to splunkd at {uri} failed (RemoteDisconnected: Remote end "
            "closed connection without response)",
        ),
        (
            {"receiver_fault": "garbage"},
            "the connection to splunkd at {uri} failed (BadStatusLine: <html>not HTTP</html>)",
        ),
    ],
)
def test_a_failure_midway_says_how_many_events_were_written(fault, message, app, simulator, tmp_path):
    payload = payload_for(write_results(tmp_path / "results.csv.gz", results_of_two_bodies()), "")
    with SplunkdStandIn(SESSION_KEY, token_credentials(TOKEN), receiver_fails_after=1, **fault) as splunkd:
        payload["server_uri"] = splunkd.uri
        run = execute(app, "3.9", payload)

    assert run.returncode == 1, run.stderr
    written = len(events_of(splunkd))
    assert 0 < written < 300 and splunkd.receiver_requests == 2
    assert run.stderr.startswith(f"ERROR {ACTION}: 300 alerts (0 with hashes)") and run.stderr.count("\n") == 1
    assert run.stderr.endswith(
        f"; {written} of 300 events written to index alerts in 1 request(s); the other "
        f"{300 - written} were not: request 2: {message.format(uri=splunkd.uri)}\n"
    )


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_splunkd_unreachable_or_not_speaking_tls_is_one_error_line(scheme, app, simulator, tmp_path):
    payload = payload_for(write_results(tmp_path / "results.csv.gz", results_of_two_bodies(3)), "")
    with SplunkdStandIn(SESSION_KEY, token_credentials(TOKEN)) as splunkd:
        port = splunkd.uri.rsplit(":", 1)[1]
        if scheme == "https":  # a plain-HTTP port: the TLS handshake fails
            payload["server_uri"] = f"https://127.0.0.1:{port}"
            run = execute(app, "3.9", payload)
    if scheme == "http":  # the stand-in is gone: connection refused
        payload["server_uri"] = f"http://127.0.0.1:{port}"
        run = execute(app, "3.9", payload)

    assert run.returncode == 1 and "Traceback" not in run.stderr, run.stderr
    last = run.stderr.splitlines()[-1]
    assert last.startswith(f"ERROR {ACTION}: 3 alerts (0 with hashes)")
    assert (
        f"; 0 of 3 events written to index alerts in 0 request(s); the other 3 were not: request 1: the "
        f"connection to splunkd at {payload['server_uri']} failed ("
    ) in last
    assert ("SSLError" if scheme == "https" else "ConnectionRefusedError") in last


def test_log_lines_keep_what_utf8_cannot_hold(app, simulator, tmp_path):
    # a lone surrogate (a JSON escape in the payload) in a message: escaped, never a lost line or a logging traceback
    payload = payload_for(tmp_path / "r\udcff 🦠.csv.gz", "http://127.0.0.1:9")
    run = execute(app, "3.9", payload)
    assert run.returncode == 2
    assert (
        run.stderr == f"ERROR {ACTION}: cannot read the alert's results {tmp_path}/r\\udcff 🦠.csv.gz: "
        f"[Errno 2] No such file or directory: '{tmp_path}/r\\udcff 🦠.csv.gz'\n"
    )
    log = (app.parent.parent.parent / "var" / "log" / "splunk" / "spectra_analyze.log").read_bytes().decode("utf-8")
    assert f"cannot read the alert's results {tmp_path}/r\\udcff 🦠.csv.gz" in log


class NotHttp:
    """A server on loopback that answers anything with a line that is not HTTP."""

    def __init__(self) -> None:
        self._socket = socket.create_server(("127.0.0.1", 0))
        self.uri = f"http://127.0.0.1:{self._socket.getsockname()[1]}"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self._socket.accept()
            except OSError:
                return
            with connection:
                connection.recv(65536)
                connection.sendall(b"garbage\r\n")

    def close(self) -> None:
        self._socket.close()


def test_splunkd_answering_garbage_is_error_lines_not_a_traceback(app, simulator, tmp_path):
    payload = payload_for(write_results(tmp_path / "results.csv.gz", results_of_two_bodies(3)), "")
    server = NotHttp()
    try:
        payload["server_uri"] = server.uri
        run = execute(app, "3.9", payload)
    finally:
        server.close()
    assert run.returncode == 1 and "Traceback" not in run.stderr, run.stderr
    assert run.stderr.splitlines()[-1].endswith(
        f"; 0 of 3 events written to index alerts in 0 request(s); the other 3 were not: request 1: the connection "
        f"to splunkd at {server.uri} failed (BadStatusLine: garbage)"
    )


@pytest.mark.parametrize(
    "uri", ["ftp://127.0.0.1:8089", "https://127.0.0.1:99999", "https://127.0.0.1:x", "https://127.0.0.1", "not a uri"]
)
def test_a_server_uri_splunkd_would_not_give_is_one_line(uri, app, simulator, tmp_path):
    payload = payload_for(write_results(tmp_path / "results.csv.gz", results_of_two_bodies(3)), uri)
    run = execute(app, "3.9", payload)
    assert run.returncode == 2
    assert run.stderr == f"ERROR {ACTION}: the payload's server_uri is not splunkd's https://host:port: {uri}\n"
