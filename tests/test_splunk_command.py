"""The built app's ``spectraanalyze`` driven as splunkd drives it: a
subprocess speaking SCP v2 under Splunk's Pythons (3.9 and 3.13), against the
appliance simulator and a stand-in for splunkd's storage/passwords, both
real HTTP servers on loopback."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import pytest
from helpers import PYTHONS, TOKEN, closed_port_url
from scp import run_command
from splunk_harness import SESSION_KEY, configure, python, token_credentials
from splunkd_standin import SplunkdStandIn

from connector.actions import get_report, get_summary
from connector.flatten import RECORD_KEYS, REPORT_KEYS, SUMMARY_KEYS, with_prefix
from connector.simulator.faults import FaultSchedule
from connector.simulator.server import Simulator

pytestmark = pytest.mark.slow  # every test here starts a process


def as_splunk(value: Any) -> Any:
    """A record value as it comes back through SCP: strings, lists for multivalues."""
    if value is None or value == []:
        return ""
    if isinstance(value, list):
        return [as_splunk(item) for item in value] if len(value) > 1 else as_splunk(value[0])
    return str(value)


def expected_fields(records: list[dict[str, Any]], prefix: str = "rl_") -> list[dict[str, Any]]:
    return [{key: as_splunk(value) for key, value in with_prefix(record, prefix).items()} for record in records]


def looked_up(simulator) -> list[str]:
    return [value for body in simulator.bodies for value in body["hash_values"]]


@pytest.mark.parametrize("version", PYTHONS)
def test_enriches_every_event_across_chunks_looking_each_hash_up_once(version, app, simulator, splunkd, client, corpus):
    found = [sample["sha1"] for sample in corpus.samples[:4]]
    chunks = [
        [{"sha1": found[0], "n": "1"}, {"sha1": found[1], "n": "2"}, {"sha1": found[0], "n": "3"}],
        [{"sha1": found[1].upper(), "n": "4"}, {"sha1": f"  {found[2]} ", "n": "5"}],
        [{"sha1": found[2], "n": "6"}, {"sha1": found[3], "n": "7"}, {"sha1": found[0], "n": "8"}],
    ]
    run = run_command(app, python(version), ["field=sha1"], chunks, splunkd.uri, SESSION_KEY)

    assert run.returncode == 0, run.stderr
    assert run.getinfo["type"] == "stateful"  # distributed=False: stays on the search head
    assert "required_fields" not in run.getinfo  # every field of the event passes through
    assert run.messages == []
    assert Counter(looked_up(simulator)) == Counter(found)  # each distinct hash once, in one search
    assert [len(chunk.records) for chunk in run.chunks] == [3, 2, 3, 0]
    assert [record["n"] for record in run.records] == [str(n) for n in range(1, 9)]
    assert [record["_chunked_idx"] for record in run.records] == ["0", "1", "2", "0", "1", "0", "1", "2"]
    order = [0, 1, 0, 1, 2, 2, 3, 0]
    expected = expected_fields(get_report({"hashes": [found[i] for i in order]}, client).records)
    for record, fields in zip(run.records, expected):
        assert {key: record[key] for key in fields} == fields
    assert splunkd.requests == [
        ("GET", "/services/server/info?output_mode=json"),  # cache_store = auto: a cluster?
        ("GET", "/servicesNS/nobody/spectra_analyze/storage/passwords/spectra_analyze%3Aapi_token%3A"),
    ]


@pytest.mark.parametrize("version", PYTHONS)
def test_mixed_hash_types_one_request_per_type(version, app, simulator, splunkd, corpus):
    sample = corpus.samples[5]
    hashes = {kind: sample[kind] for kind in ("md5", "sha1", "sha256", "sha512")}
    events = [{"file_hash": value, "kind": kind} for kind, value in hashes.items()]
    run = run_command(app, python(version), ["field=file_hash"], [events], splunkd.uri, SESSION_KEY)

    assert run.returncode == 0, run.stderr
    assert sorted(len(body["hash_values"]) for body in simulator.bodies) == [1, 1, 1, 1]
    for record in run.records:
        assert (record["rl_status"], record["rl_hash_type"]) == ("found", record["kind"])
        assert record["rl_sha1"] == sample["sha1"]


@pytest.mark.parametrize("version", PYTHONS)
def test_empty_invalid_and_unknown_hashes_are_marked_never_clean(version, app, simulator, splunkd, corpus):
    unknown = "0" * 64
    events = [{"h": ""}, {"h": "not-a-hash"}, {"h": "g" * 40}, {"h": unknown}, {"other": "x"}]
    run = run_command(app, python(version), ["field=h"], [events], splunkd.uri, SESSION_KEY)

    assert run.returncode == 0, run.stderr
    statuses = [record["rl_status"] for record in run.records]
    assert statuses == ["no_hash", "invalid", "invalid", "not_found", "no_hash"]
    assert "expected hex MD5 (32)" in run.records[1]["rl_error"]
    assert all(record["rl_classification"] == "" for record in run.records)
    assert looked_up(simulator) == [unknown]  # invalid values are never sent


@pytest.mark.parametrize("version", PYTHONS)
def test_multivalue_field_gives_aligned_multivalue_results(version, app, simulator, splunkd, client, corpus):
    first, second = corpus.samples[0]["sha256"], corpus.samples[1]["md5"]
    unknown = "f" * 40
    events = [{"h": [first, unknown, "", second]}, {"h": [second]}, {"h": first}]
    run = run_command(app, python(version), ["field=h"], [events], splunkd.uri, SESSION_KEY)

    assert run.returncode == 0, run.stderr
    assert Counter(looked_up(simulator)) == Counter([first, unknown, second])
    multi = run.records[0]
    assert multi["rl_hash"] == [first, unknown, "", second]  # an empty value keeps its place
    assert multi["rl_status"] == ["found", "not_found", "no_hash", "found"]
    records = get_report({"hashes": [first, unknown, second]}, client).records
    classifications = [record["classification"] or "" for record in records]
    assert multi["rl_classification"] == classifications[:2] + [""] + classifications[2:]
    merged_tags = list(dict.fromkeys(tag for record in records for tag in record["tags"]))
    assert multi["rl_tags"] == as_splunk(merged_tags)  # lists are merged, not aligned
    assert run.records[1]["rl_hash"] == second and run.records[2]["rl_hash"] == first


@pytest.mark.parametrize("version", PYTHONS)
def test_first_record_without_hash_drops_no_column(version, app, simulator, splunkd, corpus):
    sha1 = corpus.samples[3]["sha1"]
    run = run_command(app, python(version), ["field=sha1"], [[{"sha1": ""}, {"sha1": sha1}]], splunkd.uri, SESSION_KEY)

    assert run.returncode == 0, run.stderr
    header = run.chunks[0].fieldnames
    assert [name for name in header if name.startswith("rl_")] == ["rl_" + key for key in REPORT_KEYS]
    assert run.records[1]["rl_status"] == "found" and run.records[1]["rl_riskscore"] != ""


@pytest.mark.parametrize("version", PYTHONS)
def test_summary_action_and_prefix(version, app, simulator, splunkd, client, corpus):
    sha1 = corpus.samples[1]["sha1"]
    run = run_command(
        app,
        python(version),
        ["field=sha1", "action=summary", "prefix=ra_"],
        [[{"sha1": sha1}]],
        splunkd.uri,
        SESSION_KEY,
    )

    assert run.returncode == 0, run.stderr
    assert [name for name in run.chunks[0].fieldnames if name.startswith("ra_")] == ["ra_" + k for k in RECORD_KEYS]
    expected = expected_fields(get_summary({"hashes": sha1}, client).records, "ra_")[0]
    assert {key: run.records[0][key] for key in expected} == expected
    assert any(run.records[0]["ra_" + key] for key in SUMMARY_KEYS)


@pytest.mark.parametrize("version", PYTHONS)
def test_appliance_down_every_event_out_with_one_warning(version, splunk_app, splunkd, corpus):
    configure(splunk_app, {"url": closed_port_url(), "max_attempts": "2", "retry_deadline": "1"})
    chunks = [[{"sha1": sample["sha1"]} for sample in corpus.samples[i : i + 3]] + [{"sha1": ""}] for i in (0, 3, 6)]
    run = run_command(splunk_app, python(version), ["field=sha1"], chunks, splunkd.uri, SESSION_KEY)

    assert run.returncode == 0, run.stderr
    assert len(run.records) == 12
    statuses = [record["rl_status"] for record in run.records]
    assert statuses == (["error"] * 3 + ["no_hash"]) * 3
    assert all("could not reach" in record["rl_error"] for record in run.records if record["rl_status"] == "error")
    warnings = run.messages_of("WARN")
    assert len(warnings) == 1 and "rl_status=error" in warnings[0] and "could not reach" in warnings[0]
    assert run.messages_of("ERROR") == []


@pytest.mark.parametrize("version", PYTHONS)
def test_a_failing_appliance_is_left_alone_for_the_rest_of_the_search(version, splunk_app, splunkd, corpus):
    """Once three requests in a row have failed past their retries, later
    chunks send none for a while (the client's breaker): a search over a
    dead appliance does not spend every chunk's retry budget."""
    schedule = FaultSchedule(forever="503")
    with Simulator(TOKEN, corpus=corpus, faults=schedule) as server:
        configure(splunk_app, {"url": server.url, "max_attempts": "2", "retry_deadline": "5", "cache": "false"})
        chunks = [
            [{"sha1": sample["sha1"]} for sample in corpus.samples[start : start + 2]] for start in range(0, 12, 2)
        ]
        run = run_command(splunk_app, python(version), ["field=sha1"], chunks, splunkd.uri, SESSION_KEY)

    assert run.returncode == 0, run.stderr
    assert schedule.injected["503"] == 3 * 2  # chunks 1 to 3, two attempts each; chunks 4 to 6 sent nothing
    errors = [record["rl_error"] for record in run.records]
    assert [record["rl_status"] for record in run.records] == ["error"] * 12
    assert all("not sent" not in error for error in errors[:6]) and all("not sent" in error for error in errors[6:])
    assert len(run.messages_of("WARN")) == 1


@pytest.mark.parametrize("version", PYTHONS)
def test_refused_token_one_error_naming_the_fix_and_no_more_requests(version, app, simulator, corpus, monkeypatch):
    answered = simulator.answer
    attempts = []  # requests_served counts accepted requests only
    monkeypatch.setattr(simulator, "answer", lambda *request: attempts.append(1) or answered(*request))
    chunks = [[{"sha1": corpus.samples[0]["sha1"]}, {"sha1": "xyz"}], [{"sha1": corpus.samples[1]["sha1"]}]]
    with SplunkdStandIn(SESSION_KEY, token_credentials("stale-token-0000")) as splunkd:
        run = run_command(app, python(version), ["field=sha1"], chunks, splunkd.uri, SESSION_KEY)

    assert run.returncode == 0, run.stderr
    assert [record["rl_status"] for record in run.records] == ["error", "invalid", "error"]
    errors = run.messages_of("ERROR")
    assert len(errors) == 1
    assert "refused the API token" in errors[0] and "storage/passwords" in errors[0]
    assert len(attempts) == 1  # the first refusal stops all further lookups
    assert "stale-token-0000" not in str(run.messages) + run.stderr


@pytest.mark.parametrize("version", PYTHONS)
@pytest.mark.parametrize(
    "credentials, deny, message",
    [
        ({}, None, "no API token is stored for the app spectra_analyze"),
        (None, 403, "list_storage_passwords capability"),
    ],
)
def test_unreadable_token_one_error_saying_what_to_do(version, credentials, deny, message, app, simulator, corpus):
    with SplunkdStandIn(
        SESSION_KEY, credentials if credentials is not None else token_credentials(TOKEN), deny_status=deny
    ) as splunkd:
        run = run_command(
            app, python(version), ["field=sha1"], [[{"sha1": corpus.samples[0]["sha1"]}]], splunkd.uri, SESSION_KEY
        )

    assert run.returncode == 0, run.stderr
    assert [record["rl_status"] for record in run.records] == ["error"]
    errors = run.messages_of("ERROR")
    assert len(errors) == 1 and message in errors[0]
    assert simulator.requests_served == 0


@pytest.mark.parametrize("version", PYTHONS)
@pytest.mark.parametrize(
    "args, message",
    [
        ([], "field=<hash field> is required"),
        (["field=sha1", "batch_size=abc"], "batch_size: expected a whole number, got 'abc'"),
        (["field=sha1", "batch_size=5000"], "batch_size: expected a value from 1 to 1000"),
        (["field=sha1", "action=verdict"], "action: expected report or summary"),
        (["field=sha1", "fields=riskscore,colour"], "fields: unknown field name(s) colour"),
        (["field=sha1", "skip_reanalysis=maybe"], "skip_reanalysis: expected true or false"),
        (["field=sha1", "prefix=1x"], "prefix: expected a letter"),
        (["sha1"], "unexpected argument 'sha1'"),
        (["field=sha1", "colour=red"], "Unrecognized option: colour=red"),
    ],
)
def test_bad_options_stop_the_search_with_a_clear_message(version, args, message, splunk_app, splunkd):
    configure(splunk_app, {"url": closed_port_url()})
    run = run_command(splunk_app, python(version), args, [[{"sha1": "a" * 40}]], splunkd.uri, SESSION_KEY)

    assert run.returncode != 0
    errors = run.messages_of("ERROR")
    assert len(errors) == 1 and message in errors[0], errors
    assert "Traceback" not in errors[0] and "Illegal value" not in errors[0]
    assert splunkd.requests == [] and run.chunks == []  # stopped at getinfo, before any I/O


@pytest.mark.parametrize("version", PYTHONS)
def test_getinfo_alone_does_no_network_io(version, app, simulator, splunkd):
    run = run_command(app, python(version), ["field=sha1"], [], splunkd.uri, SESSION_KEY, execute=False)

    assert run.returncode == 0, run.stderr
    assert run.getinfo["type"] == "stateful"
    assert splunkd.requests == [] and simulator.requests_served == 0


@pytest.mark.parametrize("version", PYTHONS)
def test_memo_keeps_later_chunks_from_asking_again_and_is_bounded(version, splunk_app, simulator, splunkd, corpus):
    sha1 = corpus.samples[0]["sha1"]
    chunks = [[{"h": sha1}], [{"h": sha1}]]
    configure(splunk_app, {"url": simulator.url, "cache": "false"}, {"memo_size": "0"})
    run = run_command(splunk_app, python(version), ["field=h"], chunks, splunkd.uri, SESSION_KEY)

    assert [record["rl_status"] for record in run.records] == ["found", "found"]
    assert looked_up(simulator) == [sha1, sha1]  # nothing remembered: asked per chunk, never per event


@pytest.mark.parametrize("version", PYTHONS)
def test_a_later_chunk_reads_what_the_search_kept_in_the_cache(version, splunk_app, simulator, splunkd, corpus):
    """A chunk reads every answer the search kept in the cache file before
    it, so a hash is asked once a search even with nothing remembered in memory."""
    sha1 = corpus.samples[0]["sha1"]
    configure(splunk_app, {"url": simulator.url, "cache_store": "file"}, {"memo_size": "0"})
    run = run_command(
        splunk_app,
        python(version),
        ["field=h"],
        [[{"h": sha1}], [{"h": sha1}], [{"h": sha1}]],
        splunkd.uri,
        SESSION_KEY,
    )

    assert [record["rl_status"] for record in run.records] == ["found"] * 3
    assert looked_up(simulator) == [sha1]


@pytest.mark.parametrize("version", PYTHONS)
def test_misconfiguration_and_missing_field_are_reported(version, splunk_app, splunkd, corpus):
    configure(splunk_app, {"url": "", "verfiy_tls": "false"})
    run = run_command(
        splunk_app,
        python(version),
        ["field=sha1"],
        [[{"sha256": corpus.samples[0]["sha256"]}]],
        splunkd.uri,
        SESSION_KEY,
    )

    assert run.returncode == 0, run.stderr
    assert [record["rl_status"] for record in run.records] == ["no_hash"]
    errors, warnings = run.messages_of("ERROR"), run.messages_of("WARN")
    assert len(errors) == 1 and "unknown setting(s) verfiy_tls" in errors[0]
    assert len(warnings) == 1 and "none of the 1 events has a value in the field 'sha1'" in warnings[0]


@pytest.mark.parametrize("version", PYTHONS)
def test_tls_verification_off_warns(version, splunk_app, simulator, splunkd, corpus):
    configure(splunk_app, {"url": simulator.url, "verify_tls": "false"})
    run = run_command(
        splunk_app, python(version), ["field=sha1"], [[{"sha1": corpus.samples[0]["sha1"]}]], splunkd.uri, SESSION_KEY
    )

    assert run.records[0]["rl_status"] == "found"
    warnings = run.messages_of("WARN")
    assert len(warnings) == 1 and "verify_tls = false" in warnings[0]


def test_log_file_has_the_pid_and_never_a_secret(app, simulator, splunkd, corpus):
    run = run_command(
        app,
        python("3.13"),
        ["field=sha1", "logging_level=DEBUG"],
        [[{"sha1": corpus.samples[0]["sha1"]}]],
        splunkd.uri,
        SESSION_KEY,
    )

    assert run.returncode == 0, run.stderr
    log = (app.parent.parent.parent / "var" / "log" / "splunk" / "spectra_analyze.log").read_text()
    assert re.search(r" INFO pid=\d+ spectra_analyze\.command: search \S+ chunk 1: 1 events", log)
    for secret in (TOKEN, SESSION_KEY):
        assert secret not in log and secret not in run.stderr


def without_index(records) -> list[dict[str, Any]]:
    return [{key: value for key, value in record.items() if key != "_chunked_idx"} for record in records]


@pytest.mark.parametrize("version", PYTHONS)
def test_later_searches_answer_from_the_apps_cache(version, app, simulator, splunkd, corpus):
    hashes = [corpus.samples[0]["sha1"], "0" * 40]
    first = run_command(
        app, python(version), ["field=sha1"], [[{"sha1": value} for value in hashes]], splunkd.uri, SESSION_KEY
    )
    asked = simulator.requests_served
    second = run_command(
        app,
        python(version),
        ["field=sha1"],
        [[{"sha1": value} for value in reversed(hashes)]],
        splunkd.uri,
        SESSION_KEY,
    )

    assert [r["rl_status"] for r in first.records] == ["found", "not_found"]
    assert without_index(reversed(second.records)) == without_index(first.records)
    assert asked == 1 and simulator.requests_served == 1
    assert (app / "cache" / "answers.sqlite3").is_file()


class WorldlyAppliance(Simulator):
    """Threat names in several scripts, sent as the simulator sends text (\\u escapes, an emoji as an escaped
    pair), one of them with a lone surrogate: an escape a broken encoder on the appliance's side could write."""

    NAMES = [
        "Win32.Trojan.Zoë",
        "Android.Вредонос.Тест",
        "Win64.木马.样本",
        "Script.🦠.Emoji",
        "Doc.ملف.\u200fקובץ",
        "Broken.\ud800.Pair",
    ]

    def answer(self, path, headers, raw):
        status, payload = super().answer(path, headers, raw)
        for index, item in enumerate(payload.get("results", ())):
            item["classification_result"] = self.NAMES[index % len(self.NAMES)]
        return status, payload


@pytest.mark.parametrize("version", PYTHONS)
def test_text_in_any_language_in_and_out_counted_in_bytes(version, splunk_app, splunkd, corpus):
    # scp.py reads each reply by its byte length and decodes it as strict UTF-8;
    # 3,000 events: a reply is written a block of some 2,000 rows at a time
    hashes = corpus.hashes("sha1", "malicious")[:6]
    events = [
        {"sha1": value, "who": who, "tags": [who, "✓"]}
        for value, who in zip(hashes, ["Zoë Müller", "Жанна", "悪意のある", "👩‍💻 🇸🇮", "ملف \u200fקובץ", "e\u0301"])
    ]
    events = [{"хэш": event.pop("sha1"), **event} for event in events] * 500  # a hash field named in Russian
    with WorldlyAppliance(TOKEN, corpus=corpus) as appliance:
        configure(splunk_app, {"url": appliance.url, "max_attempts": "1"})
        run = run_command(splunk_app, python(version), ["field=хэш"], [events], splunkd.uri, SESSION_KEY)
    assert run.returncode == 0, run.stderr
    assert [(record["who"], record["tags"]) for record in run.records] == [
        (event["who"], event["tags"]) for event in events
    ]
    assert Counter(record["rl_threat_name"] for record in run.records) == Counter(  # the lone surrogate replaced
        {name.replace("\ud800", "\ufffd"): 500 for name in WorldlyAppliance.NAMES}
    )
    assert {record["rl_threat_family"] for record in run.records} >= {"Тест", "样本", "Emoji"}


@pytest.mark.parametrize("version", ["3.9"])
def test_settings_saved_by_notepad_and_a_huge_value_cut(version, splunk_app, simulator, splunkd, corpus):
    # Notepad: a UTF-8 BOM before the first stanza, CRLF line ends
    conf = configure(splunk_app, {"url": simulator.url, "max_attempts": "2"})
    conf.write_bytes(b"\xef\xbb\xbf" + conf.read_bytes().replace(b"\n", b"\r\n"))
    events = [{"h": "f" * 100_000}, {"h": corpus.samples[0]["sha1"]}]
    run = run_command(splunk_app, python(version), ["field=h"], [events], splunkd.uri, SESSION_KEY)

    assert run.returncode == 0, run.stderr
    assert [record["rl_status"] for record in run.records] == ["invalid", "found"]
    assert run.records[0]["rl_hash"] == "f" * 200 + "..."
    assert "(100000 characters)" in run.records[0]["rl_error"]
