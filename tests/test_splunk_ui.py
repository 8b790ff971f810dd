"""The built app's workflow action, hash lookup form and overview dashboard.

The workflow action is checked against Splunk Web's substitution (in
``link.uri`` it URL-encodes ``$@field_value$``) and the form's (``$hash|u$``
URL-encodes the token): hostile values must come out of the chain as one
string in the search, never as SPL. The dashboard's searches run, through
``spl_subset``, over the events the app itself writes: the real command's log
lines (three searches through SCP v2) and the real alert action's events."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ElementTree
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

import pytest
from helpers import TOKEN
from scp import run_command
from spl_subset import MissingField, Unsupported, run, split_pipeline
from splunk_harness import (
    SESSION_KEY,
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

from connector.flatten import RECORD_KEYS
from connector.rules import load_rules
from connector.splunk.conf import parse_conf
from connector.splunk.options import parse_options
from connector.validation import schema_dir

pytestmark = pytest.mark.slow  # the built app, and the command run as a process

VIEWS = "default/data/ui/views"
LOOKUP_VIEW, OVERVIEW_VIEW = "spectra_analyze_lookup", "spectra_analyze_overview"
HOSTILE = [
    'x" | delete',
    'a"b" | outputlookup evil.csv | eval c="',
    "ends with a backslash\\",
    '\\" | delete | eval x=\\"',
    "$hash$ $env:user$ `macro` [search index=_audit]",
    "line\nbreak\r| delete",
    "%22 %7C already%20encoded %",
    "späť 文字 \u2028 ' ( ) * ! ~",
]
URI_SAFE = "-_.!~*'()"  # what JavaScript's encodeURIComponent leaves as it is


def encode_uri_component(value: str) -> str:
    return quote(value, safe=URI_SAFE)


def conf(app: Path, name: str) -> dict[str, dict[str, str]]:
    return parse_conf((app / "default" / name).read_text(encoding="utf-8"))


def macros_of(app: Path) -> dict[str, str]:
    return {name: stanza["definition"] for name, stanza in conf(app, "macros.conf").items() if "definition" in stanza}


def view_searches(app: Path, view: str) -> dict[str, str]:
    """Each search of a Simple XML view by its id or panel title; a
    post-process search is its base search's query, a pipe, then its own."""
    root = ElementTree.parse(app / VIEWS / f"{view}.xml").getroot()
    assert root.tag in ("form", "dashboard") and root.get("version") == "1.1"
    bases = {search.get("id"): search.findtext("query").strip() for search in root.iter("search") if search.get("id")}
    searches = dict(bases)
    for panel in root.iter("panel"):
        for search in panel.iter("search"):
            query = search.findtext("query").strip()
            if search.get("base"):
                query = f"{bases[search.get('base')]} | {query}"
            searches[panel.findtext("title")] = query
    return searches


def hash_field_names() -> set:
    """The hash fields the app knows: the shipped rules file's, and each hash
    type of the record schema."""
    rules = load_rules(Path(__file__).resolve().parent.parent / "connector_tools/splunk/app/rules/splunk-triage.json")
    record = json.loads((schema_dir() / "record.schema.json").read_text())
    return set(rules.hash_fields) | {kind for kind in record["properties"]["hash_type"]["enum"] if kind}


def test_the_workflow_action_is_on_every_hash_field_menu_and_opens_the_lookup_form(splunk_app):
    action = conf(splunk_app, "workflow_actions.conf")["spectra_analyze_lookup"]
    assert action["label"] == "Look up in Spectra Analyze"
    # Splunk Web splits fields at commas only; $@field_value$ exists in field menus only.
    assert {field.strip() for field in action["fields"].split(",")} == hash_field_names()
    assert (action["type"], action["display_location"], action["link.method"]) == ("link", "field_menu", "get")
    uri = urlsplit(action["link.uri"])
    assert uri.path == f"/app/search/{LOOKUP_VIEW}" and (splunk_app / VIEWS / f"{LOOKUP_VIEW}.xml").is_file()
    assert re.findall(r"\$[^$]*\$", action["link.uri"]) == ["$@field_value$"]  # the one token, URL-encoded there
    meta = parse_conf((splunk_app / "metadata" / "default.meta").read_text())
    for stanza in (f"views/{LOOKUP_VIEW}", f"views/{OVERVIEW_VIEW}", "macros", "workflow_actions"):
        assert meta[stanza]["export"] == "system", stanza  # opened from the Search app


def lookup_search_for(splunk_app: Path, value: str) -> str:
    """What Splunk runs after a click on ``value``: Splunk Web puts it in
    link.uri URL-encoded, the form reads form.hash from the URL, then puts
    the token in its search URL-encoded again ($hash|u$)."""
    uri = conf(splunk_app, "workflow_actions.conf")["spectra_analyze_lookup"]["link.uri"]
    opened = urlsplit(uri.replace("$@field_value$", encode_uri_component(value)))
    token = parse_qs(opened.query, keep_blank_values=True)["form.hash"]
    assert token == [value]  # the form gets the value exactly
    (query,) = view_searches(splunk_app, LOOKUP_VIEW).values()
    assert query.count("$") == 2 and "$hash|u$" in query
    return query.replace("$hash|u$", encode_uri_component(token[0]))


@pytest.mark.parametrize("value", HOSTILE)
def test_a_hostile_value_reaches_the_search_as_one_string_and_nothing_else(splunk_app, value):
    search = lookup_search_for(splunk_app, value)
    commands = split_pipeline(search)
    assert [command.split()[0] for command in commands] == ["makeresults", "eval", "spectraanalyze", "table"]
    literal = re.fullmatch(r"eval hash=urldecode\(\"([A-Za-z0-9%" + re.escape(URI_SAFE) + r"]*)\"\)", commands[1])
    assert literal, commands[1]  # no quote, backslash, pipe, bracket, backtick, $ or space inside
    assert unquote(literal.group(1), errors="strict") == value  # what urldecode gives the command


@pytest.mark.parametrize("version", ["3.9", "3.13"])
def test_the_lookup_form_runs_the_command_on_the_value(version, splunk_app, simulator, corpus):
    configure(splunk_app, {"url": simulator.url, "max_attempts": "2", "retry_deadline": "2"})
    commands = split_pipeline(lookup_search_for(splunk_app, "x"))
    name, *arguments = commands[2].split()
    options = parse_options(dict(argument.split("=", 1) for argument in arguments))  # the command's own parser
    assert options.field == "hash" and options.with_summary
    shown = commands[3].split()[1:]
    assert shown[0] == "hash" and {column[3:] for column in shown[1:]} <= set(RECORD_KEYS)
    malicious = corpus.hashes("sha256", "malicious")[0]
    with SplunkdStandIn(SESSION_KEY, token_credentials(TOKEN)) as splunkd:
        done = run_command(
            splunk_app,
            python(version),
            arguments,
            [[{"hash": malicious}, {"hash": HOSTILE[1]}]],
            splunkd.uri,
            SESSION_KEY,
        )
    assert done.returncode == 0, done.stderr
    found, hostile = done.records
    assert (found["rl_status"], found["rl_classification"]) == ("found", "malicious")
    statuses = hostile["rl_status"] if isinstance(hostile["rl_status"], list) else [hostile["rl_status"]]
    assert set(statuses) == {"invalid"} and hostile["hash"] == HOSTILE[1]  # its words, none a hash


def splunk_fields(value: Any, name: str = "") -> dict[str, Any]:
    """A JSON event's fields as KV_MODE = json extracts them: a.b for objects,
    a{} for arrays (their values a multivalue field)."""
    if isinstance(value, dict):
        fields: dict[str, Any] = {}
        for key, item in value.items():
            fields.update(splunk_fields(item, f"{name}.{key}" if name else key))
        return fields
    if isinstance(value, list):
        merged: dict[str, list[Any]] = {}
        for item in value:
            for key, found in splunk_fields(item, f"{name}{{}}").items():
                merged.setdefault(key, []).extend(found if isinstance(found, list) else [found])
        return merged
    return {} if value is None else {name: value}


def alert_events(splunkd: SplunkdStandIn) -> list[dict[str, Any]]:
    """The alert action's events as indexed: props.conf takes _time from orig_time."""
    events = []
    for query, body in splunkd.received:
        for line in body.splitlines():
            event = splunk_fields(json.loads(line.decode("utf-8")))
            event.update(
                _raw=line.decode("utf-8"),
                _time=float(event["orig_time"]),
                index=query["index"],
                sourcetype=query["sourcetype"],
                source=query["source"],
            )
            events.append(event)
    return events


def log_events(path: Path) -> list[dict[str, Any]]:
    """The log's lines as Splunk indexes them into _internal (one event a line)."""
    return [
        {
            "_raw": line,
            "index": "_internal",
            "source": str(path),
            "sourcetype": "spectra_analyze",
            "_time": datetime.strptime(line[:19], "%Y-%m-%d %H:%M:%S").timestamp(),
        }
        for line in path.read_text(encoding="utf-8").splitlines()
    ]


@pytest.fixture
def written(splunk_app, simulator, corpus, tmp_path):
    """What the app writes: the command's log over three searches (the same
    hashes twice, the second time from the cache, a hash of the first chunk
    again in the second, which the search remembers; then one without a token)
    and the alert action's events, with its own log lines."""
    configure(splunk_app, {"url": simulator.url, "max_attempts": "2", "retry_deadline": "2"})
    hashes = corpus.hashes("sha1")[:30] + corpus.hashes("sha256", "malicious")[:5]
    chunks = [
        [{"sha1": value} for value in hashes[:20]],
        [{"sha1": value} for value in hashes[20:]] + [{"sha1": "x"}, {"sha1": hashes[0]}],
    ]
    with SplunkdStandIn(SESSION_KEY, token_credentials(TOKEN)) as splunkd:
        for _ in range(2):
            assert (
                run_command(splunk_app, python("3.9"), ["field=sha1"], chunks, splunkd.uri, SESSION_KEY).returncode == 0
            )
    requests = simulator.requests_served
    with SplunkdStandIn(SESSION_KEY, {}) as splunkd:  # no token: the search logs an error
        run_command(
            splunk_app, python("3.9"), ["field=sha1"], [[{"sha1": corpus.hashes("md5")[0]}]], splunkd.uri, SESSION_KEY
        )
    index = conf(splunk_app, "alert_actions.conf")["spectra_analyze_enrich"]["param.index"]  # the action's default
    results = alert_results(corpus, 80)
    payload = payload_for(write_results(tmp_path / "results.csv.gz", results), "", index=index)
    with SplunkdStandIn(SESSION_KEY, token_credentials(TOKEN)) as splunkd:
        payload["server_uri"] = splunkd.uri
        assert execute(splunk_app, "3.9", payload).returncode == 0
        alerts = alert_events(splunkd)
    assert len(alerts) == len(events_of(splunkd)) == 80
    log = splunk_app.parent.parent.parent / "var" / "log" / "splunk" / "spectra_analyze.log"
    return {"hashes": len(hashes), "requests": requests, "alerts": alerts, "events": log_events(log) + alerts}


def test_every_dashboard_search_runs_on_what_the_app_writes(splunk_app, written):
    macros = macros_of(splunk_app)
    searches = view_searches(splunk_app, OVERVIEW_VIEW)
    results = {title: run(search, written["events"], macros) for title, search in searches.items()}
    assert all(results.values()), [title for title, rows in results.items() if not rows]

    distinct = written["hashes"]  # valid ones; "x" is not a hash and never looked up
    looked_up = 2 * distinct + 1  # each search asks for each of its hashes once, the one without a token too
    assert results["Hashes looked up"] == [{"looked_up": looked_up}]
    assert results["Answered from the cache"] == [{"cached": distinct}]  # the second search, all of them
    assert results["Requests to the appliance"] == [{"requests": written["requests"]}]
    assert results["Failed lookups"] == [{"failed": 1}]  # the search without a token
    assert results["Lookups over time"] == [{"looked_up": looked_up, "remembered": 2, "failed": 1}]

    alerts = written["alerts"]
    verdicts = Counter(event.get("rl_classification") or event["rl_status"] for event in alerts if "rl_status" in event)
    assert results["Verdicts of the enriched alerts over time"] == [dict(verdicts)] and verdicts["malicious"]
    families = Counter(event["rl_threat_family"] for event in alerts if event.get("rl_threat_family"))
    assert {row["rl_threat_family"]: row["count"] for row in results["Top threat families"]} == dict(
        families.most_common(10)
    )
    malicious = Counter(event["rl_hash"] for event in alerts if event.get("rl_classification") == "malicious")
    top = results["Top malicious hashes"]
    assert [row["alerts"] for row in top] == sorted(malicious.values(), reverse=True)[:10]
    assert {row["rl_hash"] for row in top} <= set(malicious) and all(row["hosts"] >= 1 for row in top)

    problems = results["Warnings and errors of the app (command and alert action)"]
    assert [row["level"] for row in problems] == ["ERROR"]
    assert "no API token is stored for the app spectra_analyze" in problems[0]["message"]


def test_a_search_on_a_field_the_app_does_not_write_fails(written):
    """The evaluation is not blind: a misspelt field or SPL it cannot read stops it."""
    with pytest.raises(MissingField, match="rl_threat_familly"):
        run("index=main | top limit=10 rl_threat_familly", written["alerts"], {})
    with pytest.raises(MissingField, match="rl_verdict"):
        run("index=main rl_verdict=malicious", written["alerts"], {})
    with pytest.raises(Unsupported, match="lookup"):
        run("index=main | lookup hashes.csv rl_hash", written["alerts"], {})
    assert run('index=main NOT rl_classification=malicious sourcetype="spectra:*"', written["alerts"], {}) == [
        event for event in written["alerts"] if event.get("rl_classification") != "malicious"
    ]


def test_the_alerts_macro_reads_the_alert_actions_default_index_and_sourcetype(splunk_app):
    action = conf(splunk_app, "alert_actions.conf")["spectra_analyze_enrich"]
    assert macros_of(splunk_app)["spectra_analyze_alerts"] == (
        f'index={action["param.index"]} sourcetype="{action["param.sourcetype"]}"'
    )
