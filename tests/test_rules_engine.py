"""The engine, pure: alerts and verdict records in, enriched alerts out."""

from __future__ import annotations

import copy
import hashlib

import pytest

from connector.flatten import empty_record, flatten
from connector.hashes import hash_type
from connector.rules import LOOKUP_ERROR, MATCHED, NOT_MATCHED, apply_rules, hashes_in, parse_rules
from connector.rules.paths import get_value, set_value, values_at


def digest(seed, kind="sha1"):
    return hashlib.new(kind, str(seed).encode()).hexdigest()


def found(value, classification, riskscore=None, threat=None, ticore=(), user=(), summary=None):
    item = {
        "classification": classification,
        "riskscore": riskscore,
        "classification_result": threat,
        "tags": {"ticore": list(ticore), "user": list(user)},
        "file_type": "PE",
        "summary": summary,
    }
    return flatten(value, hash_type(value), item, with_summary=summary is not None)


def not_found(value):
    return empty_record(value, hash_type(value), "not_found")


def failed(value, error="the appliance answered 500"):
    return empty_record(value, hash_type(value), "error", error)


def ruleset(*rules, **top):
    document = {"version": 1, "defaults": {"hash_fields": ["sha1", "hashes"]}, "rules": list(rules)}
    document.update(top)
    return parse_rules(document)


def rule(name="r", when=None, then=None, **extra):
    spec = {"name": name, "then": then or {"add_tags": ["hit"]}}
    if when is not None:
        spec["when"] = when
    spec.update(extra)
    return spec


MAL, SUS, GOOD, UNKNOWN, MISSING, BROKEN = (digest(n) for n in range(6))
RECORDS = {
    MAL: found(MAL, "malicious", 9, "Win32.Ransomware.WannaCry", ticore=["packed", "Entropy-High"], user=["RSA2016"]),
    SUS: found(SUS, "suspicious", 6, "Script-JS.Downloader.Nemucod"),
    GOOD: found(GOOD, "goodware", 2, ticore=["arch-x86"]),
    UNKNOWN: found(UNKNOWN, "unknown"),
    MISSING: not_found(MISSING),
    BROKEN: failed(BROKEN),
}


def outcome(rules, alert, records=RECORDS):
    result = apply_rules(alert, rules, records)
    return result.outcomes.get("r"), result.alert


# -- operators: each against a record where it holds and one where it does not

OPERATOR_CASES = [
    ({"field": "classification", "op": "eq", "value": "malicious"}, MAL, SUS),
    ({"field": "classification", "op": "eq", "value": "MALICIOUS", "ignore_case": True}, MAL, SUS),
    ({"field": "threat_name", "op": "eq", "value": None}, GOOD, MAL),
    ({"field": "tags", "op": "eq", "value": "packed"}, MAL, GOOD),  # a list field: one item equal
    ({"field": "riskscore", "op": "eq", "value": 9}, MAL, SUS),
    ({"field": "classification", "op": "ne", "value": "goodware"}, MAL, GOOD),
    ({"field": "threat_name", "op": "ne", "value": "Win32.Ransomware.WannaCry"}, GOOD, MAL),  # null is not equal
    ({"field": "tags", "op": "ne", "value": "packed"}, GOOD, MAL),  # no item equal
    ({"field": "classification", "op": "in", "value": ["malicious", "suspicious"]}, SUS, GOOD),
    ({"field": "tags", "op": "in", "value": ["entropy-high", "x"], "ignore_case": True}, MAL, GOOD),
    ({"field": "classification", "op": "not_in", "value": ["goodware", "unknown"]}, MAL, UNKNOWN),
    ({"field": "threat_family", "op": "not_in", "value": ["WannaCry"]}, GOOD, MAL),
    ({"field": "riskscore", "op": "gt", "value": 6}, MAL, SUS),
    ({"field": "riskscore", "op": "gte", "value": 6}, SUS, GOOD),
    ({"field": "riskscore", "op": "lt", "value": 6}, GOOD, SUS),
    ({"field": "riskscore", "op": "lte", "value": 2}, GOOD, SUS),
    ({"field": "riskscore", "op": "lte", "value": 10}, GOOD, UNKNOWN),  # null is never less or greater
    ({"field": "threat_name", "op": "contains", "value": "Ransomware"}, MAL, SUS),
    ({"field": "threat_name", "op": "contains", "value": "ransomware", "ignore_case": True}, MAL, GOOD),
    ({"field": "tags_user", "op": "contains", "value": "RSA"}, MAL, GOOD),  # a list field: one item contains
    ({"field": "threat_name", "op": "regex", "value": r"^Win(32|64)\.Ransom"}, MAL, SUS),
    ({"field": "threat_name", "op": "regex", "value": "nemucod$", "ignore_case": True}, SUS, MAL),
    ({"field": "tags", "op": "regex", "value": "^arch-"}, GOOD, SUS),
    ({"field": "threat_name", "op": "exists"}, MAL, GOOD),
    ({"field": "tags", "op": "exists"}, GOOD, SUS),  # an empty list does not exist
    ({"field": "status", "op": "eq", "value": "not_found"}, MISSING, GOOD),
]


@pytest.mark.parametrize(
    "condition, holds, fails",
    OPERATOR_CASES,
    ids=[f"{c['op']}-{c['field']}-{i}" for i, (c, _, _) in enumerate(OPERATOR_CASES)],
)
def test_operator(condition, holds, fails):
    rules = ruleset(rule(when=condition))
    assert outcome(rules, {"sha1": holds})[0] == MATCHED
    assert outcome(rules, {"sha1": fails})[0] == NOT_MATCHED


def test_numbers_and_booleans_stay_apart():
    rules = ruleset(rule(when={"field": "riskscore", "op": "in", "value": [True]}))
    record = found(MAL, "malicious", 1)
    assert apply_rules({"sha1": MAL}, rules, {MAL: record}).outcomes["r"] == NOT_MATCHED


def test_indicators_of_get_summary():
    summary = {"indicators": [{"priority": 9, "description": "Contains a reference to a known ransomware family."}]}
    records = {MAL: found(MAL, "malicious", 9, summary=summary), SUS: found(SUS, "suspicious", 6, summary={})}
    rules = ruleset(
        rule(
            when={
                "all": [
                    {"field": "indicators", "op": "contains", "value": "RANSOMWARE", "ignore_case": True},
                    {"field": "indicator_count", "op": "gte", "value": 1},
                ]
            },
            lookup={"action": "get_summary"},
        )
    )
    assert outcome(rules, {"sha1": MAL}, records)[0] == MATCHED
    assert outcome(rules, {"sha1": SUS}, records)[0] == NOT_MATCHED


# -- all, any, not


@pytest.mark.parametrize(
    "condition, expected",
    [
        (
            {
                "all": [
                    {"field": "classification", "op": "eq", "value": "malicious"},
                    {"field": "riskscore", "op": "gte", "value": 9},
                ]
            },
            MATCHED,
        ),
        (
            {
                "all": [
                    {"field": "classification", "op": "eq", "value": "malicious"},
                    {"field": "riskscore", "op": "gte", "value": 10},
                ]
            },
            NOT_MATCHED,
        ),
        (
            {
                "any": [
                    {"field": "classification", "op": "eq", "value": "goodware"},
                    {"field": "riskscore", "op": "gte", "value": 9},
                ]
            },
            MATCHED,
        ),
        (
            {
                "any": [
                    {"field": "classification", "op": "eq", "value": "goodware"},
                    {"field": "riskscore", "op": "gte", "value": 10},
                ]
            },
            NOT_MATCHED,
        ),
        ({"not": {"field": "classification", "op": "eq", "value": "malicious"}}, NOT_MATCHED),
        (
            {
                "not": {
                    "any": [
                        {"field": "threat_type", "op": "eq", "value": "Trojan"},
                        {
                            "all": [
                                {"field": "tags", "op": "exists"},
                                {"not": {"field": "riskscore", "op": "lt", "value": 5}},
                            ]
                        },
                    ]
                }
            },
            NOT_MATCHED,
        ),
        (
            {
                "any": [
                    {"not": {"field": "threat_family", "op": "exists"}},
                    {"field": "threat_family", "op": "eq", "value": "WannaCry"},
                ]
            },
            MATCHED,
        ),
    ],
)
def test_combinators(condition, expected):
    assert outcome(ruleset(rule(when=condition)), {"sha1": MAL})[0] == expected


# -- effects


def test_every_effect_with_templates():
    rules = ruleset(
        rule(
            then={
                "set_severity": "critical",
                "add_tags": ["malware", "{threat_family}", "{tags_user}", "{threat_type}"],
                "set_fields": {
                    "verdict": "{classification}: {threat_name} ({riskscore}/10) {{literal}}",
                    "risk": "{riskscore}",
                    "user_tags": "{tags_user}",
                    "ticket.priority": 1,
                    "ticket.labels": ["a", "{not a template}"],
                    "note": "fixed text",
                },
                "route": "ir-{threat_type}",
            }
        )
    )
    alert = {"sha1": MAL, "severity": "low", "tags": ["phishing", "malware"], "ticket": {"id": 7}}
    result = apply_rules(alert, rules, RECORDS).alert
    assert result["severity"] == "critical"
    assert result["tags"] == ["phishing", "malware", "WannaCry", "RSA2016", "Ransomware"]
    assert result["verdict"] == "malicious: Win32.Ransomware.WannaCry (9/10) {literal}"
    assert result["risk"] == 9 and result["user_tags"] == ["RSA2016"]
    assert result["ticket"] == {"id": 7, "priority": 1, "labels": ["a", "{not a template}"]}
    assert result["note"] == "fixed text" and result["route"] == "ir-Ransomware"
    changes = result["enrichment"]["rules"][0]["changes"]
    assert changes == [
        {"effect": "set_severity", "field": "severity", "from": "low", "to": "critical"},
        {"effect": "add_tags", "field": "tags", "added": ["WannaCry", "RSA2016", "Ransomware"]},
        {
            "effect": "set_fields",
            "field": "verdict",
            "from": None,
            "to": "malicious: Win32.Ransomware.WannaCry (9/10) {literal}",
        },
        {"effect": "set_fields", "field": "risk", "from": None, "to": 9},
        {"effect": "set_fields", "field": "user_tags", "from": None, "to": ["RSA2016"]},
        {"effect": "set_fields", "field": "ticket.priority", "from": None, "to": 1},
        {"effect": "set_fields", "field": "ticket.labels", "from": None, "to": ["a", "{not a template}"]},
        {"effect": "set_fields", "field": "note", "from": None, "to": "fixed text"},
        {"effect": "route", "field": "route", "from": None, "to": "ir-Ransomware"},
    ]


def test_empty_templates_add_no_tag_and_a_single_tag_becomes_a_list():
    rules = ruleset(rule(then={"add_tags": ["{threat_family}", "checked"]}))
    result = apply_rules({"sha1": GOOD, "tags": "legacy"}, rules, RECORDS).alert
    assert result["tags"] == ["legacy", "checked"]


def test_targets_write_nested_and_flat_dotted_fields():
    rules = ruleset(
        rule(then={"set_severity": 5, "add_tags": ["x"], "route": "q"}),
        targets={"severity": "event.severity", "tags": "labels.list", "route": "kibana.alert.queue"},
    )
    alert = {"sha1": MAL, "event": {"kind": "alert"}, "kibana.alert.queue": "default", "labels": "flat"}
    result = apply_rules(alert, rules, RECORDS).alert
    assert result["event"] == {"kind": "alert", "severity": 5}
    assert result["kibana.alert.queue"] == "q"
    assert result["labels"] == "flat" and result["labels.list"] == ["x"]  # "labels" blocks the way: kept as it is


def test_an_unchanged_value_is_no_change():
    rules = ruleset(rule(then={"set_severity": "high", "add_tags": ["seen"]}))
    result = apply_rules({"sha1": MAL, "severity": "high", "tags": ["seen"]}, rules, RECORDS).alert
    assert result["enrichment"]["rules"][0] == {"rule": "r", "outcome": MATCHED, "hash": MAL, "changes": []}


# -- order, stop, else


def test_rules_apply_in_order_and_later_ones_win():
    rules = ruleset(rule("first", then={"set_severity": "high"}), rule("second", then={"set_severity": "medium"}))
    result = apply_rules({"sha1": MAL}, rules, RECORDS).alert
    assert result["severity"] == "medium"
    assert [entry["rule"] for entry in result["enrichment"]["rules"]] == ["first", "second"]
    assert result["enrichment"]["matched"] == ["first", "second"]


def test_stop_after_a_match_skips_later_rules():
    rules = ruleset(
        rule(
            "first",
            when={"field": "classification", "op": "eq", "value": "malicious"},
            then={"set_severity": "high"},
            stop=True,
        ),
        rule("second", then={"set_severity": "medium"}),
    )
    stopped = apply_rules({"sha1": MAL}, rules, RECORDS)
    assert stopped.alert["severity"] == "high" and list(stopped.outcomes) == ["first"]
    passed = apply_rules({"sha1": GOOD}, rules, RECORDS)  # no match: stop does not apply
    assert passed.alert["severity"] == "medium" and passed.outcomes == {"first": NOT_MATCHED, "second": MATCHED}


def test_else_applies_when_the_condition_fails():
    rules = ruleset(
        rule(
            when={"field": "classification", "op": "eq", "value": "malicious"},
            then={"route": "incident"},
            **{"else": {"route": "archive", "add_tags": ["{classification}"]}},
        )
    )
    matched = apply_rules({"sha1": MAL}, rules, RECORDS).alert
    other = apply_rules({"sha1": GOOD}, rules, RECORDS).alert
    assert (matched["route"], "tags" in matched) == ("incident", False)
    assert (other["route"], other["tags"]) == ("archive", ["goodware"])
    assert other["enrichment"]["rules"][0]["outcome"] == NOT_MATCHED


def test_a_rule_without_a_condition_always_matches():
    assert outcome(ruleset(rule()), {"sha1": GOOD})[0] == MATCHED


# -- several hashes


def test_the_worst_record_is_the_alerts_verdict_and_every_record_is_kept():
    rules = ruleset(rule(when={"field": "classification", "op": "eq", "value": "malicious"}))
    alert = {"hashes": [GOOD, MISSING, MAL.upper(), " " + SUS], "sha1": GOOD}
    result = apply_rules(alert, rules, RECORDS)
    assert result.hashes == [GOOD, MISSING, MAL, SUS]
    assert result.alert["rl_hash"] == MAL and result.alert["rl_classification"] == "malicious"
    assert result.alert["enrichment"]["verdict_hash"] == MAL
    assert [record["hash"] for record in result.alert["enrichment"]["records"]] == [GOOD, MISSING, MAL, SUS]
    assert result.outcomes == {"r": MATCHED}


@pytest.mark.parametrize(
    "hashes, verdict",
    [
        ([GOOD, SUS], SUS),
        ([GOOD, BROKEN, SUS], SUS),  # a known suspicious file outranks a failed lookup
        ([GOOD, MISSING, BROKEN], BROKEN),  # a failed lookup could be anything: it outranks not_found
        ([GOOD, MISSING], MISSING),  # not_found is never clean
        ([GOOD, UNKNOWN], UNKNOWN),
    ],
)
def test_verdict_ranking(hashes, verdict):
    result = apply_rules({"hashes": hashes}, ruleset(rule()), RECORDS).alert
    assert result["rl_hash"] == verdict


def test_higher_risk_score_then_alert_order_break_ties():
    low, high, same = digest("low"), digest("high"), digest("same")
    records = {low: found(low, "malicious", 7), high: found(high, "malicious", 10), same: found(same, "malicious", 7)}
    assert apply_rules({"hashes": [low, high]}, ruleset(rule()), records).alert["rl_hash"] == high
    assert apply_rules({"hashes": [same, low]}, ruleset(rule()), records).alert["rl_hash"] == same


def test_match_any_and_all():
    unknown_file = {"field": "status", "op": "eq", "value": "not_found"}
    known_good = {"field": "classification", "op": "eq", "value": "goodware"}
    any_rule = ruleset(rule(when=unknown_file, match="any", then={"set_fields": {"submit": "{hash}"}}))
    result = apply_rules({"hashes": [MAL, MISSING]}, any_rule, RECORDS)
    assert result.outcomes["r"] == MATCHED and result.alert["submit"] == MISSING  # the worst record is MAL
    worst_rule = ruleset(rule(when=unknown_file))
    assert apply_rules({"hashes": [MAL, MISSING]}, worst_rule, RECORDS).outcomes["r"] == NOT_MATCHED
    all_rule = ruleset(rule(when=known_good, match="all"))
    assert (
        apply_rules(
            {"hashes": [GOOD, digest(9)]}, all_rule, dict(RECORDS, **{digest(9): found(digest(9), "goodware", 0)})
        ).outcomes["r"]
        == MATCHED
    )
    assert apply_rules({"hashes": [GOOD, UNKNOWN]}, all_rule, RECORDS).outcomes["r"] == NOT_MATCHED


def test_each_rule_judges_its_own_hash_fields():
    rules = ruleset(
        rule("parent", hash_fields=["parent.sha1"], then={"set_fields": {"parent_verdict": "{classification}"}}),
        rule("child", hash_fields=["child.sha1"], then={"set_fields": {"child_verdict": "{classification}"}}),
        rule("absent", hash_fields=["other.sha1"]),
    )
    result = apply_rules({"parent": {"sha1": GOOD}, "child": {"sha1": MAL}}, rules, RECORDS)
    assert (result.alert["parent_verdict"], result.alert["child_verdict"]) == ("goodware", "malicious")
    assert result.alert["rl_hash"] == MAL and result.outcomes == {"parent": MATCHED, "child": MATCHED}


# -- lookup errors


def test_on_error_mark_passes_the_alert_through_marked():
    rules = ruleset(
        rule(
            when={"field": "classification", "op": "eq", "value": "goodware"},
            then={"set_severity": "low"},
            on_error="mark",
        )
    )
    alert = {"hashes": [GOOD, BROKEN], "severity": "high"}
    result = apply_rules(alert, rules, RECORDS)
    assert result.alert["severity"] == "high"  # not lowered: the failed hash could be malicious
    assert result.alert["rl_status"] == "error" and result.alert["rl_error"] == "the appliance answered 500"
    assert result.alert["enrichment"]["rules"] == [
        {"rule": "r", "outcome": LOOKUP_ERROR, "hash": BROKEN, "changes": [], "error": "the appliance answered 500"}
    ]


def test_on_error_effects_tag_and_route():
    rules = ruleset(
        rule(
            on_error={
                "add_tags": ["spectra-lookup-failed"],
                "route": "retry",
                "set_fields": {"lookup_error": "{hash}: {error}"},
            }
        )
    )
    result = apply_rules({"sha1": BROKEN}, rules, RECORDS).alert
    assert result["tags"] == ["spectra-lookup-failed"] and result["route"] == "retry"
    assert result["lookup_error"] == f"{BROKEN}: the appliance answered 500"


def test_the_default_on_error_is_mark_and_defaults_apply():
    marked = ruleset(rule())
    assert apply_rules({"sha1": BROKEN}, marked, RECORDS).alert["enrichment"]["rules"][0]["changes"] == []
    tagged = ruleset(rule(), defaults={"hash_fields": ["sha1"], "on_error": {"add_tags": ["failed"]}})
    assert apply_rules({"sha1": BROKEN}, tagged, RECORDS).alert["tags"] == ["failed"]


def test_any_and_all_decide_without_the_failed_hash_when_they_can():
    malicious = {"field": "classification", "op": "eq", "value": "malicious"}
    any_rule = ruleset(rule(when=malicious, match="any"))
    assert apply_rules({"hashes": [BROKEN, MAL]}, any_rule, RECORDS).outcomes["r"] == MATCHED
    assert apply_rules({"hashes": [BROKEN, GOOD]}, any_rule, RECORDS).outcomes["r"] == LOOKUP_ERROR
    all_rule = ruleset(rule(when=malicious, match="all"))
    assert apply_rules({"hashes": [BROKEN, GOOD]}, all_rule, RECORDS).outcomes["r"] == NOT_MATCHED
    assert apply_rules({"hashes": [BROKEN, MAL]}, all_rule, RECORDS).outcomes["r"] == LOOKUP_ERROR


def test_a_hash_without_a_record_counts_as_a_failed_lookup():
    result = apply_rules({"sha1": digest("never looked up")}, ruleset(rule()), {})
    assert result.outcomes["r"] == LOOKUP_ERROR
    assert result.alert["rl_error"] == "no answer for this hash"


# -- untouched alerts, purity


@pytest.mark.parametrize(
    "alert",
    [{"id": 1}, {"sha1": "-"}, {"sha1": "N/A", "hashes": ["notepad.exe", 42, None]}, {"sha1": None}, {"hashes": []}],
)
def test_alerts_without_hashes_pass_through_untouched(alert):
    before = copy.deepcopy(alert)
    result = apply_rules(alert, ruleset(rule()), RECORDS)
    assert result.alert is alert and alert == before and result.outcomes == {}


def test_the_input_alert_is_not_changed_and_the_result_is_deterministic():
    rules = ruleset(rule(then={"add_tags": ["x"], "set_fields": {"nested.value": "{tags}"}}))
    alert = {"hashes": [MAL, GOOD], "tags": ["a"], "nested": {"keep": True}}
    before = copy.deepcopy(alert)
    first = apply_rules(alert, rules, RECORDS).alert
    second = apply_rules(alert, rules, RECORDS).alert
    assert alert == before and first == second
    first["rl_tags"].append("changed")
    assert RECORDS[MAL]["tags"] == ["packed", "Entropy-High", "RSA2016"]  # records are copied, never shared


def test_prefix_and_enrichment_field():
    rules = ruleset(rule(), prefix="spectra_", enrichment_field="meta.rules")
    result = apply_rules({"sha1": MAL, "meta": {"source": "edr"}}, rules, RECORDS).alert
    assert result["spectra_classification"] == "malicious" and "rl_classification" not in result
    assert result["meta"]["source"] == "edr" and result["meta"]["rules"]["matched"] == ["r"]


# -- hash fields: dotted paths, lists, several hashes in a string


def test_hash_fields_reach_nested_lists_and_flat_dotted_keys():
    md5, sha256 = digest(1, "md5"), digest(2, "sha256")
    alert = {
        "files": [{"hash": {"md5": md5}}, {"hash": {"md5": "-"}}, {"hash": [{"md5": MAL}]}],
        "process.hash.sha256": sha256,
        "process": {"name": "x"},
        "multi": f"{SUS}, {GOOD};{SUS}\n{MISSING}",
        "list": [[BROKEN]],
        "pick": [{"sha1": UNKNOWN}, {"sha1": MAL}],
    }
    assert hashes_in(alert, ["files.hash.md5"]) == [md5, MAL]
    assert hashes_in(alert, ["process.hash.sha256"]) == [sha256]
    assert hashes_in(alert, ["multi", "list", "pick.1.sha1"]) == [SUS, GOOD, MISSING, BROKEN, MAL]
    assert hashes_in(alert, ["files.5.hash.md5", "nothing.here"]) == []


def test_paths_read_and_write():
    alert = {"a": {"b": [1, {"c": 2}]}, "x.y": 3, "s": "text"}
    assert values_at(alert, "a.b") == [1, {"c": 2}]
    assert values_at(alert, "a.b.c") == [2] and values_at(alert, "x.y") == [3]
    assert get_value(alert, "x.y") == 3 and get_value(alert, "a.missing.z") is None
    set_value(alert, "x.y", 4)
    set_value(alert, "new.deep.key", 5)
    set_value(alert, "s.sub", 6)
    assert alert["x.y"] == 4 and alert["new"] == {"deep": {"key": 5}}
    assert alert["s"] == "text" and alert["s.sub"] == 6


def test_an_enricher_without_an_appliance_marks_every_hash_and_drops_nothing():
    from connector.errors import ConfigurationError
    from connector.rules import AlertEnricher
    from connector.service import LookupService

    rules = ruleset(rule(on_error={"add_tags": ["lookup-failed"]}))
    enricher = AlertEnricher(rules, LookupService(None, failure=ConfigurationError("no API token is stored")))
    out = enricher.enrich([{"sha1": MAL}, {"id": 2}, {"hashes": [GOOD, MAL]}])
    assert out[1] == {"id": 2}
    assert [alert["rl_error"] for alert in (out[0], out[2])] == ["no API token is stored"] * 2
    assert out[0]["tags"] == ["lookup-failed"] and enricher.fatal_error == "no API token is stored"
    assert (enricher.stats.failed_hashes, enricher.stats.requests.attempted) == (2, 0)
    with pytest.raises(ValueError):
        LookupService(None)
