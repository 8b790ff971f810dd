"""The compiled validators (fastjsonschema, definitions inlined for speed)
judge reports exactly as the reference implementation (jsonschema) does."""

from __future__ import annotations

import copy

import jsonschema
import pytest

from connector.validation import load_schema, violation

PATHS = [
    ("tags",),
    ("tags", "ticore"),
    ("tags", "ticore", 0),
    ("summary",),
    ("summary", "unpacking_status"),
    ("summary", "unpacking_status", "failed"),
    ("summary", "indicators"),
    ("summary", "indicators", 0),
    ("summary", "indicators", 0, "priority"),
    ("summary", "indicators", 0, "reasons"),
    ("summary", "indicators", 0, "reasons", 0),
    ("summary", "indicators", 0, "reasons", 0, "category"),
    ("riskscore",),
    ("sha1",),
    ("file_size",),
]
VALUES = [
    None,
    0,
    -1,
    11,
    2.5,
    True,
    "text",
    [],
    ["tag"],
    [1],
    {},
    {"group": ["tag"]},
    {"group": [1]},
    {"group": None},
    {"group": "tag"},
    {"failed": 1},
    {"failed": "1"},
]


def replaced(sample, path, value):
    """A copy of the sample with the value at ``path`` replaced."""
    report = copy.deepcopy(sample)
    parent = report
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = value
    return report


def mutations(sample):
    for path in PATHS:
        for value in VALUES:
            try:
                yield path, value, replaced(sample, path, value)
            except (KeyError, IndexError, TypeError):  # this sample has no such path
                continue


def test_compiled_validator_agrees_with_jsonschema(corpus):
    reference = jsonschema.Draft7Validator(load_schema("result-item"))
    verdicts = {True: 0, False: 0}
    for sample in corpus.samples[:12]:
        for path, value, report in mutations(sample):
            valid = reference.is_valid(report)
            assert (violation("result-item", report) == "") == valid, (path, value)
            verdicts[valid] += 1
    assert verdicts[True] > 300 and verdicts[False] > 300


@pytest.mark.parametrize(
    "path, value, where",
    [
        (("tags",), "packed", "tags"),
        (("tags", "ticore"), [1], "tags.ticore[0]"),
        (("summary", "indicators", 0, "reasons", 0), 7, "summary.indicators[0].reasons[0]"),
        (("summary", "unpacking_status"), ["success"], "summary.unpacking_status"),
    ],
)
def test_a_violation_names_where_it_is(corpus, path, value, where):
    assert violation("result-item", replaced(corpus.samples[3], path, value)).startswith(where + " must be")
