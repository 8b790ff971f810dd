"""Flattening: golden files of realistic reports, including the vendor page's examples."""

import json
from pathlib import Path

import jsonschema
import pytest

from connector.flatten import RECORD_KEYS, REPORT_KEYS, empty_record, flatten, split_threat_name, with_prefix
from connector.validation import load_schema

GOLDEN = Path(__file__).parent / "golden"
CASES = sorted(path.name[: -len(".report.json")] for path in GOLDEN.glob("*.report.json"))


@pytest.mark.parametrize("name", CASES)
def test_golden(name):
    case = json.loads((GOLDEN / f"{name}.report.json").read_text())
    expected = json.loads((GOLDEN / f"{name}.record.json").read_text())
    record = flatten(case["hash"], case["hash_type"], case["report"], case["with_summary"])
    assert record == expected
    assert list(record) == [key for key in RECORD_KEYS if key in record]
    jsonschema.validate(record, load_schema("record"))
    jsonschema.validate(case["report"], load_schema("result-item"))


def test_the_golden_cases_cover_what_varies():
    assert {"vendor-report", "vendor-summary", "variants", "one-part-name", "all-null"} <= set(CASES)


@pytest.mark.parametrize(
    "name, parts",
    [
        ("Win32.Backdoor.Prorat", ("Win32", "Backdoor", "Prorat")),
        ("ByteCode-MSIL.Trojan.Agent.Tesla", ("ByteCode-MSIL", "Trojan", "Agent.Tesla")),
        ("Win32.Worm", ("Win32", "Worm", None)),
        ("EICAR", (None, None, "EICAR")),
        ("", (None, None, None)),
        (None, (None, None, None)),
    ],
)
def test_threat_names_of_any_number_of_parts(name, parts):
    assert split_threat_name(name) == parts


@pytest.mark.parametrize("status", ["not_found", "invalid", "error"])
def test_records_without_a_verdict_have_every_key_and_no_classification(status):
    record = empty_record("x", None, status, "why", with_summary=True)
    assert list(record) == list(RECORD_KEYS)
    assert record["classification"] is None and record["tags"] == [] and record["indicators"] == []
    jsonschema.validate(record, load_schema("record"))


def test_empty_records_do_not_share_lists():
    first, second = empty_record("a", None, "invalid"), empty_record("b", None, "invalid")
    first["tags"].append("x")
    assert second["tags"] == []


def test_report_records_have_only_the_report_keys():
    assert list(empty_record("a", "sha1", "not_found")) == list(REPORT_KEYS)


def test_prefix():
    assert list(with_prefix({"hash": "a", "status": "found"}, "rl_")) == ["rl_hash", "rl_status"]
