"""The built app's ``spectra_analyze_enrich`` alert action, run as splunkd runs
it: ``bin/spectra_analyze_enrich.py --execute`` under Splunk's Pythons (3.9
and 3.13), a JSON payload on stdin, the alert's results in a gzip CSV, the
appliance simulator and a stand-in splunkd (storage/passwords and
receivers/simple) on loopback."""
from __future__ import annotations

import csv
import gzip
import json
import math
import os
import re
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any, Dict, List

import pytest

from conftest import TOKEN
from connector.hashes import hash_type
from connector.rules import hashes_in, load_rules
from splunk_harness import SESSION_KEY, configure, python, token_credentials
from splunkd_standin import SplunkdStandIn

ACTION = "spectra_analyze_enrich"
SHIPPED_RULES = "splunk-triage.json"


@pytest.fixture
def app(splunk_app, simulator):
    configure(splunk_app, {"url": simulator.url, "max_attempts": "2", "retry_deadline": "2"})
    return splunk_app


def write_results(path: Path, results: List[Dict[str, Any]]) -> Path:
    """The alert's results as splunkd writes them: gzip CSV, a multivalue
    field as its values on lines plus a ``__mv_`` column of ``$a$;$b$``."""
    columns = list(dict.fromkeys(key for result in results for key in result))
    for key in [key for key in columns if any(isinstance(result.get(key), list) for result in results)]:
        columns.append("__mv_" + key)
    with gzip.open(path, "wt", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, columns)
        writer.writeheader()
        for result in results:
            row = {}
            for key, value in result.items():
                if isinstance(value, list):
                    row[key] = "\n".join(value)
                    row["__mv_" + key] = ";".join("$" + item.replace("$", "$$") + "$" for item in value)
                else:
                    row[key] = value
            writer.writerow(row)
    return path


def payload_for(results_file: Path, splunkd_uri: str, **configuration: str) -> Dict[str, Any]:
    return {
        "app": "search", "owner": "admin", "results_file": str(results_file),
        "results_link": "http://sh1:8000/app/search/search?q=%7Cloadjob%20scheduler__admin__search__RMD5",
        "search_uri": "/servicesNS/admin/search/saved/searches/Malware%20hashes", "server_host": "sh1",
        "server_uri": splunkd_uri, "session_key": SESSION_KEY, "sid": "scheduler__admin__search__RMD5_at_1",
        "search_name": "Malware hashes",
        "configuration": dict({"rules_file": SHIPPED_RULES, "index": "alerts"}, **configuration),
        "result": {},
    }


def execute(app_dir: Path, version: str, payload: Dict[str, Any]) -> subprocess.CompletedProcess:
    env = {"PATH": os.environ.get("PATH", ""), "SPLUNK_HOME": str(app_dir.parent.parent.parent)}
    return subprocess.run([python(version), str(app_dir / "bin" / f"{ACTION}.py"), "--execute"],
                          input=json.dumps(payload), capture_output=True, text=True, env=env, timeout=120)


def events_of(splunkd: SplunkdStandIn) -> List[Dict[str, Any]]:
    return [json.loads(line) for _, body in splunkd.received for line in body.decode("utf-8").splitlines()]


def alert_results(corpus, count=240):
    """Results of a hash-hunting search: CIM file_hash, sha256 and multivalue
    md5 fields, unknown hashes, results without a hash, Splunk's internal fields."""
    malicious = corpus.hashes("sha256", "malicious")
    goodware = corpus.hashes("sha1", "goodware")
    md5s = corpus.hashes("md5")
    results = []
    for index in range(count):
        result = {"_time": f"{1700000000 + index}.250", "_raw": f"event {index} file=C:\\\\x{index}.exe",
                  "host": "ws-%02d" % (index % 7), "source": "WinEventLog:Sysmon", "sourcetype": "xmlwineventlog",
                  "_cd": f"1:{index}", "_bkt": "main~1~X", "severity": "low", "n": str(index)}
        shape = index % 4
        if shape == 0:
            result["file_hash"] = malicious[index % 150]
        elif shape == 1:
            result["sha1"] = goodware[index]
        elif shape == 2:
            result["md5"] = [md5s[index], md5s[index + 1], "ab" * 16]
        results.append(result)
    return results


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
        "/servicesNS/nobody/spectra_analyze/storage/passwords/spectra_analyze%3Aapi_token%3A"]
    assert len(splunkd.received) == 1
    query, _ = splunkd.received[0]
    assert query == {"index": "alerts", "sourcetype": "spectra:enriched_alert",
                     "source": f"{ACTION}:Malware hashes", "host": "sh1"}
    events = events_of(splunkd)
    assert [event["n"] for event in events] == [result["n"] for result in results]  # all of them, in order
    for result, event in zip(results, events):
        assert list(event)[0] == "orig_time" and event["orig_time"] == result["_time"]
        assert (event["orig_raw"], event["orig_host"], event["orig_sourcetype"]) == (
            result["_raw"], result["host"], result["sourcetype"])
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


@pytest.mark.parametrize("configuration, message", [
    ({"rules_file": "../../../etc/passwd"},
     "param.rules_file: expected a file name ending in .json (letters, digits, '.', '_', '-'), looked up in the "
     "app's local/rules and rules folders; got '../../../etc/passwd'"),
    ({"rules_file": "missing.json"}, "param.rules_file: no rules file missing.json in {app}/local/rules or {app}/rules"),
    ({"index": ""}, "param.index: expected an index name: lower-case letters, digits, '_' and '-'; it is empty"),
    ({"index": "Alerts"}, "param.index: expected an index name: lower-case letters, digits, '_' and '-'; got 'Alerts'"),
    ({"rules_file": "mine.json"}, '{app}/local/rules/mine.json: rule 1 "r": when.op: got "regexp" '
                                  '(did you mean "regex"?)'),
])
def test_wrong_parameters_or_rules_stop_before_any_lookup(configuration, message, app, simulator, corpus, tmp_path):
    local_rules = app / "local" / "rules"
    local_rules.mkdir(parents=True)
    (local_rules / "mine.json").write_text(json.dumps({"version": 1, "rules": [
        {"name": "r", "hash_fields": ["file_hash"], "when": {"field": "threat_name", "op": "regexp", "value": "x"},
         "then": {"route": "q"}}]}), encoding="utf-8")
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
    (local_rules / SHIPPED_RULES).write_text(json.dumps({"version": 1, "rules": [
        {"name": "everything", "hash_fields": ["file_hash", "sha1"], "then": {"route": "{classification}-queue"}}]}),
        encoding="utf-8")
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
    assert run.stderr == (f"ERROR {ACTION}: splunkd refused the enriched events for index alerts "
                          "(HTTP 403 Forbidden -- cannot write to index alerts)\n")


def test_only_execute_mode_and_a_json_payload(app, tmp_path):
    script = [python("3.9"), str(app / "bin" / f"{ACTION}.py")]
    wrong_mode = subprocess.run(script + ["--setup"], input="{}", capture_output=True, text=True, timeout=60)
    assert wrong_mode.returncode == 2
    assert wrong_mode.stderr == (f"ERROR {ACTION}: splunkd runs this script with --execute and a JSON payload "
                                 "on stdin\n")
    xml = subprocess.run(script + ["--execute"], input="<alert/>", capture_output=True, text=True, timeout=60)
    assert xml.returncode == 2
    assert xml.stderr.startswith(f"ERROR {ACTION}: the payload on stdin is not JSON (")
    assert xml.stderr.endswith("); set payload_format = json\n")


def test_the_conf_the_spec_and_the_form_declare_the_parameters_the_code_reads():
    from connector.splunk.alert_action import DEFAULT_SOURCETYPE, PARAMETERS
    from connector.splunk.build import APP_SOURCE
    from connector.splunk.conf import parse_conf
    stanza = parse_conf((APP_SOURCE / "default" / "alert_actions.conf").read_text())[ACTION]
    assert (stanza["is_custom"], stanza["payload_format"]) == ("1", "json")
    assert tuple(key[len("param."):] for key in stanza if key.startswith("param.")) == PARAMETERS
    assert (stanza["param.rules_file"], stanza["param.sourcetype"]) == (SHIPPED_RULES, DEFAULT_SOURCETYPE)
    spec = parse_conf("\n".join(line for line in (APP_SOURCE / "README" / "alert_actions.conf.spec").read_text()
                                .splitlines() if not line.startswith("*")))[ACTION]
    assert tuple(key[len("param."):] for key in spec) == PARAMETERS
    form = (APP_SOURCE / "default" / "data" / "ui" / "alerts" / f"{ACTION}.html").read_text()
    assert re.findall(rf'name="action\.{ACTION}\.param\.(\w+)"', form) == list(PARAMETERS)
    props = parse_conf((APP_SOURCE / "default" / "props.conf").read_text())
    assert props[DEFAULT_SOURCETYPE]["KV_MODE"] == "json"
    load_rules(APP_SOURCE / "rules" / SHIPPED_RULES)  # the shipped rules file loads


def test_verification_turned_off_is_warned_about(splunk_app, simulator, corpus, tmp_path):
    configure(splunk_app, {"url": simulator.url, "verify_tls": "false"})
    payload = payload_for(write_results(tmp_path / "results.csv.gz", alert_results(corpus, 4)), "")
    with SplunkdStandIn(SESSION_KEY, token_credentials(TOKEN)) as splunkd:
        payload["server_uri"] = splunkd.uri
        run = execute(splunk_app, "3.9", payload)
    assert run.returncode == 0, run.stderr
    assert run.stderr.splitlines()[0] == (f"WARN {ACTION}: verify_tls = false in spectra_analyze.conf: the "
                                          "appliance's certificate is not checked, so anyone on the network path "
                                          "can read the API token")


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
