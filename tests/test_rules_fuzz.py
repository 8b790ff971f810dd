"""Fuzzing rule loading: the shipped rules files mutated at random places,
any bytes as a rules file, and absurd nesting. Loading gives a rule set or
one RulesError naming the file, never another exception; a rule set that
loads enriches alerts without crashing, whatever the records hold."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schema_strategies import from_schema, json_values

from connector.flatten import empty_record, flatten
from connector.hashes import hash_type
from connector.rules import RulesError, apply_rules, load_rules, parse_rules
from connector.rules.conditions import MAX_NESTING
from connector.validation import load_schema

EXAMPLES = sorted((Path(__file__).resolve().parent.parent / "playbooks" / "rules").glob("*.json"))
DOCUMENTS = [json.loads(path.read_text(encoding="utf-8")) for path in EXAMPLES]
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Values that have broken template, regex and path handling elsewhere.
tricky = st.sampled_from(
    [
        "{__class__}",
        "{hash.__class__.__mro__}",
        "{0}",
        "{}",
        "{",
        "}",
        "{{x}}",
        "{hash!r}",
        "{hash:>999999999}",
        "{classification",
        "(a+)+$",
        "(",
        "[",
        "\\",
        "",
        " ",
        "\u0000",
        "\u00e9\u0663",
        "a" * 5000,
        ".",
        "..",
        "a..b",
        "a.",
        "[0]",
        "file.hash.sha256",
        "status",
        "not_found",
        "malicious",
        -1,
        0,
        10**30,
        1.5,
        float("1e308"),
        True,
        None,
        [],
        {},
        [None],
        {"": None},
    ]
)
values = st.one_of(tricky, json_values, st.text(max_size=40))


def places(node: Any, path: tuple = ()) -> list[tuple]:
    """Every path into a JSON document, the root included."""
    found = [path]
    if isinstance(node, dict):
        for key, value in node.items():
            found += places(value, path + (key,))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += places(value, path + (index,))
    return found


def mutate(document: Any, path: tuple, how: str, value: Any, key: str) -> Any:
    if not path:
        return value if how == "replace" else document
    parent = document
    for step in path[:-1]:
        parent = parent[step]
    last = path[-1]
    if how == "replace":
        parent[last] = value
    elif how == "delete":
        del parent[last]
    elif isinstance(parent, dict):
        parent[key] = value
    else:
        parent.insert(last, value)
    return document


@st.composite
def mutated_documents(draw):
    document = copy.deepcopy(draw(st.sampled_from(DOCUMENTS)))
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(places(document)))
        how = draw(st.sampled_from(["replace", "delete", "add"]))
        document = mutate(
            document,
            path,
            how,
            copy.deepcopy(draw(values)),  # sampled_from hands out the same {"": None}: mutated, it could hold itself
            draw(
                st.text(max_size=12)
                | st.sampled_from(
                    [
                        "when",
                        "then",
                        "else",
                        "stop",
                        "match",
                        "lookup",
                        "on_error",
                        "any",
                        "all",
                        "not",
                        "defaults",
                        "two\nlines",
                        "\x1b[2J",
                    ]
                )
            ),
        )
    return document


result_items = from_schema(load_schema("result-item"))


@st.composite
def alerts_and_records(draw, rules):
    """An alert holding hashes under the rule set's hash fields, and records
    for them: found (from schema-generated reports), not found, or failed."""
    alert, records = {}, {}
    for path in rules.hash_fields:
        value = draw(
            st.sampled_from(
                ["3ecb56536b58d2e2ec0779d1c28a9f20024d6b66", "0" * 32, "not-a-hash", "", ["0" * 64, "f" * 40]]
            )
            | values
        )
        alert[path] = value
        for item in value if isinstance(value, list) else [value]:
            if not isinstance(item, str) or not hash_type(item):
                continue
            kind = hash_type(item)
            status = draw(st.sampled_from(["found", "not_found", "error"]))
            with_summary = rules.action == "get_summary"
            records[item] = (
                flatten(item, kind, draw(result_items), with_summary)
                if status == "found"
                else empty_record(item, kind, status, "boom" if status == "error" else None, with_summary)
            )
    return alert, records


def test_the_shipped_rules_files_load():
    assert EXAMPLES and all(load_rules(path).rules for path in EXAMPLES)


@FUZZ
@given(mutated_documents(), st.data())
def test_mutated_rules_load_or_fail_with_one_rules_error_and_loaded_ones_run(document, data):
    try:
        rules = parse_rules(document, source="fuzz.json")
    except RulesError as err:
        message = str(err)
        assert message.startswith("fuzz.json") and "\n" not in message and "Traceback" not in message
        return
    for _ in range(3):
        alert, records = data.draw(alerts_and_records(rules))
        result = apply_rules(alert, rules, records)
        json.dumps(result.alert, default=str)  # what an adapter then writes out


@FUZZ
@given(
    st.one_of(
        st.binary(max_size=300),
        st.text(max_size=300).map(str.encode),
        st.sampled_from(
            [b"[" * 100_000, b'{"rules": ' + b"[" * 50_000, b"\xff\xfe{}", b"", b'{"version": 1, "rules": []}']
        ),
    )
)
def test_any_file_loads_or_fails_with_a_rules_error(tmp_path_factory, raw):
    path = tmp_path_factory.mktemp("rules") / "fuzz.json"
    path.write_bytes(raw)
    try:
        load_rules(path)
    except RulesError as err:
        assert str(err).startswith(str(path))


@given(st.integers(MAX_NESTING + 1, 3000), st.sampled_from(["not", "all", "any"]))
@settings(max_examples=20, deadline=None)
def test_absurdly_nested_conditions_fail_cleanly(depth, combinator):
    condition: Any = {"field": "classification", "op": "eq", "value": "malicious"}
    for _ in range(depth):
        condition = {"not": condition} if combinator == "not" else {combinator: [condition]}
    document = copy.deepcopy(DOCUMENTS[0])
    document["rules"][0]["when"] = condition
    with pytest.raises(RulesError) as raised:
        parse_rules(document, source="deep.json")
    assert str(raised.value).startswith("deep.json") and "nested" in str(raised.value)


def test_nesting_up_to_the_limit_loads_and_runs():
    condition: Any = {"field": "classification", "op": "eq", "value": "malicious"}
    for _ in range(MAX_NESTING):
        condition = {"not": condition}
    document = copy.deepcopy(DOCUMENTS[0])
    document["rules"][0]["when"] = condition
    rules = parse_rules(document, source="deep.json")
    sha1 = "3ecb56536b58d2e2ec0779d1c28a9f20024d6b66"
    record = empty_record(sha1, "sha1", "not_found")
    alert = {rules.hash_fields[0]: sha1}
    assert apply_rules(alert, rules, {sha1: record}).alert


@pytest.mark.parametrize("template", ["{hash.__class__}", "{hash[0]}", "{hash!r}", "{hash:>10}", "{0}"])
def test_templates_name_record_fields_only(template):
    """No attribute or index access, conversion or format spec: a template can
    only copy a record value, never reach into Python objects."""
    document = copy.deepcopy(DOCUMENTS[0])
    document["rules"][0]["then"]["set_fields"] = {"note": template}
    with pytest.raises(RulesError, match="then.set_fields.note"):
        parse_rules(document, source="templates.json")


@pytest.mark.parametrize("place", ["top", "defaults", "rule", "condition"])
def test_control_characters_of_a_name_are_escaped_in_the_one_line_message(place):
    document = copy.deepcopy(DOCUMENTS[0])
    target = {
        "top": document,
        "defaults": document["defaults"],
        "rule": document["rules"][0],
        "condition": document["rules"][0]["when"],
    }[place]
    target["bad\nname\x1b[2J"] = 1
    with pytest.raises(RulesError) as raised:
        parse_rules(document, source="names.json")
    message = str(raised.value)
    assert "\\n" in message and "\\x1b" in message and message.isprintable()
