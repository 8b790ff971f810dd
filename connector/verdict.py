"""A normalized verdict per hash, for platforms that compare vendors on one
scale (a SOAR reputation action, a dispatch playbook).

The scale is ``schemas/verdict.schema.json``'s: a score of 0-10, OCSF-like
(0 unknown, 10 most dangerous), and a label that follows from the score
alone, so that a playbook may branch on either:

    high     malicious, or risk score >= the high threshold      score high threshold .. 10
    medium   suspicious, or risk score >= the medium threshold   score medium threshold .. high - 1
    low      goodware (or known)                                  score 1 .. medium - 1
    unknown  unknown, unclassified, not_found                     score 0

A record whose lookup failed, or whose value is no hash, gets no verdict
(score and label None, the reason says why): a failure must never read as a
clean file.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .errors import ConfigurationError
from .manifest import load_manifest
from .names import Status
from .settings import DEFAULTS, SETTING, parse_settings
from .validation import load_schema

HIGH, MEDIUM, LOW, UNKNOWN = "high", "medium", "low", "unknown"
LABELS = tuple(label for label in load_schema("verdict")["properties"]["label"]["enum"] if label)
THRESHOLD_SETTINGS = (SETTING["verdict_high_riskscore"], SETTING["verdict_medium_riskscore"])
# Classifications that vouch for a file; older appliances say known for goodware.
BENIGN = ("goodware", "known")

Verdict = dict[str, Any]


def source() -> str:
    """Who gives the verdict, e.g. ReversingLabs Spectra Analyze."""
    product = load_manifest()["product"]
    return f"{product['vendor']} {product['name']}"


@dataclass(frozen=True)
class Thresholds:
    """The risk scores from which a verdict is high and medium. Checked when
    built: medium below high, so that each label keeps a score of its own."""

    high: int = DEFAULTS["verdict_high_riskscore"]
    medium: int = DEFAULTS["verdict_medium_riskscore"]

    def __post_init__(self) -> None:
        for setting, value in zip(THRESHOLD_SETTINGS, (self.high, self.medium)):
            setting.parse(value)
        if self.medium >= self.high:
            raise ConfigurationError(
                f"verdict_medium_riskscore ({self.medium}) must be below verdict_high_riskscore ({self.high})"
            )

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> Thresholds:
        """From platform settings (the SOAR asset); unset ones take the
        defaults. Raises ``ConfigurationError`` naming the bad setting."""
        values = parse_settings(settings, THRESHOLD_SETTINGS)
        return cls(high=int(values["verdict_high_riskscore"]), medium=int(values["verdict_medium_riskscore"]))

    def label_of(self, score: int) -> str:
        """The label a score stands for."""
        if score >= self.high:
            return HIGH
        if score >= self.medium:
            return MEDIUM
        return LOW if score >= 1 else UNKNOWN


def verdict_of(record: Mapping[str, Any], thresholds: Thresholds = Thresholds()) -> Verdict:
    """The verdict of one record (``schemas/record.schema.json``); score and
    label None for an error or invalid record."""
    if record["status"] == Status.NOT_FOUND:
        return _verdict(0, "not on the appliance", thresholds)
    if record["status"] != Status.FOUND:
        return {
            "score": None,
            "label": None,
            "reason": f"no verdict: {record['status']}: {record.get('error')}",
            "source": source(),
        }
    classification, risk = record.get("classification"), record.get("riskscore")
    if classification == "malicious":
        return _verdict(max(thresholds.high, 10 if risk is None else risk), "classification malicious", thresholds)
    if risk is not None and risk >= thresholds.high:
        return _verdict(risk, f"risk score {risk} >= {thresholds.high}", thresholds)
    if classification == "suspicious":
        return _verdict(
            max(thresholds.medium, thresholds.medium if risk is None else risk), "classification suspicious", thresholds
        )
    if risk is not None and risk >= thresholds.medium:
        return _verdict(risk, f"risk score {risk} >= {thresholds.medium}", thresholds)
    if classification in BENIGN:
        # Within low's range: 1 at least (0 is unknown), below the medium threshold.
        return _verdict(max(1, 1 if risk is None else risk), f"classification {classification}", thresholds)
    return _verdict(0, f"classification {classification or 'missing'}", thresholds)


def _verdict(score: int, reason: str, thresholds: Thresholds) -> Verdict:
    return {"score": score, "label": thresholds.label_of(score), "reason": reason, "source": source()}


def with_verdicts(records: Iterable[dict[str, Any]], thresholds: Thresholds) -> None:
    """Add its ``verdict`` to every record, in place."""
    for record in records:
        record["verdict"] = verdict_of(record, thresholds)


def verdict_summary(records: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """``schemas/reputation-summary.schema.json``: the verdicts by label and the highest one."""
    verdicts = [record["verdict"] for record in records if record["verdict"]["label"]]
    counts = Counter(verdict["label"] for verdict in verdicts)
    top = max(verdicts, key=lambda verdict: verdict["score"], default=None)
    return {
        "by_verdict": {label: counts.get(label, 0) for label in LABELS},
        "verdict_label": top["label"] if top else None,
        "verdict_score": top["score"] if top else None,
    }
