"""The normalized verdict: every classification and risk score against the
thresholds, the score always inside its label's range, and no verdict
(never a clean one) for a failed lookup."""

from __future__ import annotations

import itertools
from typing import Any, Optional

import pytest

from connector.errors import ConfigurationError
from connector.verdict import Thresholds, source, verdict_of, verdict_summary

CLASSIFICATIONS = ("malicious", "suspicious", "goodware", "known", "unknown", "unclassified", None)


def found(classification: Optional[str], riskscore: Optional[int]) -> dict[str, Any]:
    return {"status": "found", "error": None, "classification": classification, "riskscore": riskscore}


@pytest.mark.parametrize(
    "classification, riskscore, label, score",
    [
        ("malicious", 10, "high", 10),
        ("malicious", 2, "high", 7),
        ("malicious", None, "high", 10),
        ("suspicious", 6, "medium", 6),
        ("suspicious", 3, "medium", 6),
        ("suspicious", 9, "high", 9),
        ("goodware", 0, "low", 1),
        ("goodware", 5, "low", 5),
        ("goodware", 7, "high", 7),
        ("known", None, "low", 1),
        ("unknown", None, "unknown", 0),
        ("unknown", 6, "medium", 6),
        ("unknown", 8, "high", 8),
        (None, None, "unknown", 0),
        ("unclassified", 2, "unknown", 0),
    ],
)
def test_classification_and_risk_score_give_the_documented_label(classification, riskscore, label, score):
    verdict = verdict_of(found(classification, riskscore))
    assert (verdict["label"], verdict["score"]) == (label, score)
    assert verdict["source"] == source() == "ReversingLabs Spectra Analyze"


def test_the_label_follows_from_the_score_for_every_input_and_threshold():
    checked = 0
    for high, medium in itertools.combinations(range(10, 1, -1), 2):
        thresholds = Thresholds(high=high, medium=medium)
        for classification, risk in itertools.product(CLASSIFICATIONS, [None, *range(11)]):
            verdict = verdict_of(found(classification, risk), thresholds)
            assert 0 <= verdict["score"] <= 10
            assert thresholds.label_of(verdict["score"]) == verdict["label"]
            checked += 1
    assert checked > 2000


def test_not_found_is_unknown_and_a_failure_has_no_verdict():
    assert verdict_of({"status": "not_found", "error": None})["label"] == "unknown"
    for status in ("error", "invalid"):
        verdict = verdict_of({"status": status, "error": "the lookup failed: timeout"})
        assert (verdict["label"], verdict["score"]) == (None, None)
        assert verdict["reason"] == f"no verdict: {status}: the lookup failed: timeout"


def test_thresholds_come_from_the_asset_and_are_checked():
    assert Thresholds.from_settings({"verdict_high_riskscore": 9.0, "verdict_medium_riskscore": ""}) == Thresholds(9, 6)
    with pytest.raises(ConfigurationError, match="must be below"):
        Thresholds.from_settings({"verdict_high_riskscore": 5.0, "verdict_medium_riskscore": 5.0})
    with pytest.raises(ConfigurationError, match="^verdict_high_riskscore: "):
        Thresholds.from_settings({"verdict_high_riskscore": 11})


def test_the_summary_counts_labels_and_keeps_the_highest():
    records = [
        dict(found(name, risk), verdict=verdict_of(found(name, risk)))
        for name, risk in (("goodware", 1), ("suspicious", 6), ("unknown", None))
    ]
    records.append({"status": "error", "error": "x", "verdict": verdict_of({"status": "error", "error": "x"})})
    assert verdict_summary(records) == {
        "by_verdict": {"high": 0, "medium": 1, "low": 1, "unknown": 1},
        "verdict_label": "medium",
        "verdict_score": 6,
    }
    assert verdict_summary(records[3:]) == {
        "by_verdict": {"high": 0, "medium": 0, "low": 0, "unknown": 0},
        "verdict_label": None,
        "verdict_score": None,
    }
