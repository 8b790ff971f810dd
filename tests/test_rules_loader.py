"""A bad rules file fails at load with one line naming the rule and the field."""

from __future__ import annotations

import json

import jsonschema
import pytest

from connector.cli import main
from connector.rules import RulesError, load_rules, parse_rules
from connector.validation import load_schema

OK_RULE = {"name": "first", "then": {"route": "queue"}}


def rules_with(rule, **top):
    return dict({"version": 1, "defaults": {"hash_fields": ["sha1"]}, "rules": [OK_RULE, rule]}, **top)


def test_the_schema_is_valid_draft_07():
    jsonschema.Draft7Validator.check_schema(load_schema("rules"))


REJECTED_RULES = [
    (
        {"name": "r", "then": {"route": "q"}, "when": {"field": "riskscore", "op": "gte", "value": "7"}},
        'rule 2 "r": when.value: must be a number; got "7"',
    ),
    (
        {"name": "r", "then": {"route": "q"}, "when": {"all": [{"field": "riskscore", "op": "equals", "value": 7}]}},
        'rule 2 "r": when.all[0].op: must be one of: eq, ne, in, not_in, gt, gte, lt, lte, contains, regex, exists; '
        'got "equals"',
    ),
    (
        {
            "name": "r",
            "then": {"route": "q"},
            "when": {"any": [{"field": "threat_name", "op": "regexp", "value": "x"}]},
        },
        'rule 2 "r": when.any[0].op: got "regexp" (did you mean "regex"?)',
    ),
    (
        {"name": "r", "then": {"route": "q"}, "when": {"not": {"field": "threat_name", "op": "exists", "value": 1}}},
        'rule 2 "r": when.not: exists takes no value; wrap it in {"not": ...} to test that a field is empty',
    ),
    (
        {"name": "r", "then": {"route": "q"}, "when": {"classification": "malicious"}},
        'rule 2 "r": when: missing "field" and "op"; a condition is one of {"all": [...]}, {"any": [...]}, '
        '{"not": {...}} or {"field": ..., "op": ..., "value": ...}',
    ),
    (
        {"name": "r", "then": {"route": "q"}, "when": {"field": "classification", "op": "in", "value": "malicious"}},
        'rule 2 "r": when.value: must be a list; got "malicious"',
    ),
    (
        {"name": "r", "then": {"route": "q"}, "when": {"field": "classification", "op": "eq"}},
        'rule 2 "r": when: missing "value"; eq, ne and contains compare with a "value"',
    ),
    (
        {"name": "r", "then": {"route": "q"}, "when": {"all": [{"field": "riskscore", "op": "exists"}], "any": []}},
        'rule 2 "r": when: unknown field "any"; expected one of: all; a condition holds one of all, any, not, '
        "or is one comparison; nest them to combine",
    ),
    (
        {"name": "r", "then": {"set_fields": {"event..severity": 1}}},
        'rule 2 "r": then.set_fields["event..severity"]: must be a dotted path such as file.sha256: names '
        'separated by dots, no spaces, no empty names; got "event..severity"',
    ),
    (
        {"name": "r", "then": {"route": "q"}, "on_error": "tag"},
        'rule 2 "r": on_error: must be "mark" or an effects object such as {"add_tags": ["spectra-lookup-failed"]}; '
        'got "tag"',
    ),
    (
        {"name": "r", "then": {"add_tag": ["x"]}},
        'rule 2 "r": then: unknown field "add_tag" (did you mean "add_tags"?); an effects object takes '
        "set_severity, add_tags, set_fields and route",
    ),
    (
        {"name": "r", "then": {}},
        'rule 2 "r": then: must not be empty; an effects object takes set_severity, add_tags, set_fields and route',
    ),
    (
        {"name": "r", "then": {"set_severity": 2.5}},
        'rule 2 "r": then.set_severity: must be a string or a whole number; got 2.5',
    ),
    (
        {"name": "two words", "then": {"route": "q"}},
        "rule 2 \"two words\": name: must be letters, digits, '_', '.' and '-', starting with a letter or digit; "
        'got "two words"',
    ),
    ({"then": {"route": "q"}}, 'rule 2: missing "name"'),
    ({"name": "r", "when": {"field": "riskscore", "op": "gt", "value": 5}}, 'rule 2 "r": missing "then"'),
    ({"name": "r", "then": {"route": "q"}, "thne": {}}, 'rule 2 "r": unknown field "thne" (did you mean "then"?)'),
    ({"name": "r", "then": {"route": "q"}, "stop": "yes"}, 'rule 2 "r": stop: must be true or false; got "yes"'),
    (
        {"name": "r", "then": {"route": "q"}, "match": "every"},
        'rule 2 "r": match: must be one of: worst, any, all; got "every"',
    ),
    (
        {"name": "r", "then": {"route": "q"}, "lookup": {"action": "get_reports"}},
        'rule 2 "r": lookup.action: got "get_reports" (did you mean "get_report"?)',
    ),
    ({"name": "r", "then": {"route": "q"}, "hash_fields": []}, 'rule 2 "r": hash_fields: must not be empty'),
    ("r", 'rule 2: must be an object; got "r"'),
    # Found after the schema: names the record, the report and Python's regular expressions know.
    (
        {"name": "first", "then": {"route": "q"}},
        'rule 2 "first": name: "first" is already the name of rule 1; rule names must differ',
    ),
    (
        {"name": "r", "then": {"route": "q"}, "when": {"field": "riskscor", "op": "gte", "value": 7}},
        'rule 2 "r": when.field: unknown record field "riskscor" (did you mean "riskscore"?)',
    ),
    (
        {"name": "r", "then": {"route": "q"}, "when": {"field": "verdict", "op": "eq", "value": "bad"}},
        'rule 2 "r": when.field: unknown record field "verdict"; expected one of: hash, hash_type, status, error, '
        "classification, riskscore, threat_name, threat_platform, threat_type, threat_family, tags, tags_ticore, "
        "tags_user, classification_reason, file_type, file_subtype, file_size, md5, sha1, sha256, first_seen, "
        "last_seen, indicators, indicator_count, unpacking_status",
    ),
    (
        {"name": "r", "then": {"route": "q"}, "when": {"field": "threat_name", "op": "gte", "value": 7}},
        'rule 2 "r": when.op: gte compares numbers, and the field "threat_name" holds text; '
        "use eq, in, contains or regex",
    ),
    (
        {"name": "r", "then": {"route": "q"}, "when": {"field": "riskscore", "op": "contains", "value": 7}},
        'rule 2 "r": when.op: contains looks into text, and the field "riskscore" holds numbers; '
        "use eq, in, gt, gte, lt or lte",
    ),
    (
        {"name": "r", "then": {"route": "q"}, "when": {"field": "threat_name", "op": "regex", "value": "(Emotet"}},
        'rule 2 "r": when.value: not a valid regular expression: missing ), unterminated subpattern at position 0',
    ),
    (
        {"name": "r", "then": {"route": "q"}, "when": {"field": "indicators", "op": "exists"}},
        'rule 2 "r": when.field: the field "indicators" comes with get_summary only: set "lookup": '
        '{"action": "get_summary"} on this rule or in defaults',
    ),
    (
        {"name": "r", "then": {"route": "{threat_familly}"}},
        'rule 2 "r": then.route: unknown record field "threat_familly" (did you mean "threat_family"?)',
    ),
    (
        {"name": "r", "then": {"add_tags": ["ok", "{riskscore:02d}"]}},
        'rule 2 "r": then.add_tags[1]: template {riskscore:02d} takes a field name only, without ! or :',
    ),
    (
        {"name": "r", "then": {"set_fields": {"note": "risk {riskscore"}}},
        'rule 2 "r": then.set_fields.note: unbalanced braces; write {{ or }} for a literal brace',
    ),
    (
        {"name": "r", "then": {"route": "q"}, "lookup": {"fields": ["riskscore", "clasification"]}},
        'rule 2 "r": lookup.fields[1]: unknown report field "clasification" (did you mean "classification"?)',
    ),
    (
        {"name": "r", "then": {"route": "q"}, "on_error": {"add_tags": ["{indicator_count}"]}},
        'rule 2 "r": on_error.add_tags[0]: the field "indicator_count" comes with get_summary only: set "lookup": '
        '{"action": "get_summary"} on this rule or in defaults',
    ),
]


@pytest.mark.parametrize("rule, message", REJECTED_RULES, ids=[m.split(": ", 1)[1][:40] for _, m in REJECTED_RULES])
def test_a_bad_rule_is_named_with_the_field_that_is_wrong(rule, message):
    with pytest.raises(RulesError) as caught:
        parse_rules(rules_with(rule), source="triage.json")
    assert str(caught.value) == f"triage.json: {message}"


REJECTED_FILES = [
    ({"version": 2, "rules": [OK_RULE]}, "version: must be 1; got 2"),
    ({"version": 1, "rules": []}, "rules: must not be empty"),
    ({"version": 1, "rule": [OK_RULE]}, 'missing "rules"; found "rule" (did you mean "rules"?)'),
    ({"version": 1}, 'missing "rules"'),
    ([OK_RULE], 'must be an object; got [{"name": "first", "then": {"route": "queue"}}]'),
    (
        {"version": 1, "prefix": "rl-", "rules": [OK_RULE]},
        'prefix: must be letters, digits and underscores only, e.g. rl_; got "rl-"',
    ),
    (
        {"version": 1, "targets": {"severity": "a b"}, "rules": [OK_RULE]},
        "targets.severity: must be a dotted path such as file.sha256: names separated by dots, no spaces, "
        'no empty names; got "a b"',
    ),
    (
        {"version": 1, "defaults": {"hash_fields": "sha1"}, "rules": [OK_RULE]},
        'defaults.hash_fields: must be a list; got "sha1"',
    ),
    (
        {"version": 1, "rules": [OK_RULE]},
        'rule 1 "first": missing "hash_fields": name the alert fields that hold hashes, on the rule or in "defaults"',
    ),
    (
        {"version": 1, "defaults": {"hash_fields": ["sha1"], "on_error": {"route": "{threat}"}}, "rules": [OK_RULE]},
        'rule 1 "first": defaults.on_error.route: unknown record field "threat" (did you mean "threat_type"?)',
    ),
]


@pytest.mark.parametrize("document, message", REJECTED_FILES, ids=[m[:40] for _, m in REJECTED_FILES])
def test_a_bad_file_is_named_with_the_field_that_is_wrong(document, message):
    with pytest.raises(RulesError) as caught:
        parse_rules(document, source="triage.json")
    assert str(caught.value) == f"triage.json: {message}"


def test_unreadable_and_malformed_files(tmp_path):
    missing = tmp_path / "missing.json"
    with pytest.raises(RulesError, match=r"missing.json: cannot read the rules file: No such file or directory$"):
        load_rules(missing)
    broken = tmp_path / "broken.json"
    broken.write_text('{"version": 1,\n "rules": [}\n', encoding="utf-8")
    with pytest.raises(RulesError) as caught:
        load_rules(broken)
    assert str(caught.value) == f"{broken}: not valid JSON: Expecting value: line 2 column 12 (char 26)"


def test_the_cli_reports_a_bad_rules_file_in_one_line_and_exits_2(tmp_path, capsys):
    path = tmp_path / "rules.json"
    path.write_text(json.dumps(rules_with({"name": "r", "then": {"route": "q"}, "stop": 1})), encoding="utf-8")
    code = main(["enrich", "--rules", str(path), "--url", "https://appliance.invalid"])
    captured = capsys.readouterr()
    assert code == 2
    assert captured.err == f'spectra-connector: error: {path}: rule 2 "r": stop: must be true or false; got 1\n'
    assert captured.out == ""


def test_a_good_file_compiles_with_defaults_and_overrides():
    rules = parse_rules(
        {
            "version": 1,
            "prefix": "x_",
            "enrichment_field": "meta.enrichment",
            "targets": {"severity": "event.severity"},
            "defaults": {
                "hash_fields": ["sha1"],
                "lookup": {"fields": ["classification"]},
                "match": "any",
                "on_error": {"add_tags": ["failed"]},
            },
            "rules": [
                {"name": "a", "then": {"route": "q"}},
                {
                    "name": "b",
                    "hash_fields": ["md5"],
                    "match": "all",
                    "lookup": {"action": "get_summary"},
                    "on_error": "mark",
                    "then": {"route": "q"},
                    "stop": True,
                },
            ],
        }
    )
    first, second = rules.rules
    assert (first.hash_fields, first.match, first.fields, first.on_error is not None) == (
        ("sha1",),
        "any",
        ("classification",),
        True,
    )
    assert (second.hash_fields, second.match, second.action, second.on_error, second.stop) == (
        ("md5",),
        "all",
        "get_summary",
        None,
        True,
    )
    assert (rules.prefix, rules.enrichment_field, rules.targets.severity, rules.targets.tags) == (
        "x_",
        "meta.enrichment",
        "event.severity",
        "tags",
    )
    assert rules.action == "get_summary" and rules.hash_fields == ("sha1", "md5")
    assert rules.fields[0] == "classification" and "riskscore" in rules.fields  # rule b needs the record's fields


def test_the_fields_held_to_lower_case_are_lower_case_in_the_record_schema():
    # rules.schema.json refuses capitals compared with these fields; record.schema.json says what they hold
    branch = next(
        part
        for part in load_schema("rules")["definitions"]["comparison"]["allOf"]
        if "lower_case" in json.dumps(part.get("then", {}))
    )
    names = branch["if"]["properties"]["field"]["enum"]
    record = load_schema("record")["properties"]
    assert set(names) == {"classification", "status", "hash_type"}
    for name in names:
        values = record[name].get("enum")
        assert (
            "lower case" in record[name]["description"]
            if values is None
            else all(value is None or value == value.lower() for value in values)
        )
