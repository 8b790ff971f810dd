"""A deterministic corpus of samples for the appliance simulator: the two
samples of the vendor's page plus generated ones covering every
classification, threat-name shape, tag layout and both shapes of
``summary.indicators[].reasons``."""

from __future__ import annotations

import hashlib
from typing import Any, Optional

from ..hashes import HASH_TYPES

DEFAULT_SIZE = 5000

# From the vendor's Report Summary API page (its sha512 is elided there).
VENDOR_REPORT_SAMPLE: dict[str, Any] = {
    "id": 215590,
    "sha1": "3ecb56536b58d2e2ec0779d1c28a9f20024d6b66",
    "sha256": "eac444d6cddbae6972f0af91da5a89b0eb370c2f7bbe6f9706aaaf1f25f6c0d3",
    "sha512": hashlib.sha512(b"vendor-sample-215590").hexdigest(),
    "md5": "6cadcefb80b7e757323aa46fba909d72",
    "imphash": "9612c82b4c865e0bf6797463aa91292a",
    "category": "application",
    "file_type": "PE",
    "file_subtype": "Exe",
    "identification_name": "UPX",
    "identification_version": "0.60-3.x",
    "file_size": 350720,
    "extracted_file_count": 9,
    "local_first_seen": "2017-02-06T18:10:54.594306Z",
    "local_last_seen": "2020-02-27T11:37:37.954472Z",
    "classification_origin": {
        "sha1": "8d0cbc4f10b2aa40f849bda9ee2524146870cc7a",
        "sha256": "cc8698fac45061e5bb1a2cc712d25c5ed5977f3b5b5cc55978562df942777815",
        "md5": "cf87a4c0f97ef995221650b4c8116e04",
        "imphash": "fe93401dae4bdb92076a6adf424ffc73",
    },
    "classification_reason": "cloud",
    "classification": "malicious",
    "riskscore": 8,
    "classification_result": "Win32.Backdoor.Prorat",
    "tags": {
        "ticore": [
            "yara",
            "indicator-network",
            "string-http",
            "capability-execution",
            "capability-filesystem",
            "capability-networking",
            "desktop",
            "indicator-execution",
            "indicator-monitor",
            "arch-x86",
            "gui",
            "packed",
            "entropy-high",
            "contains-pe",
            "file-download",
            "privacy-intrusion",
            "ftp-use",
            "compression-nrv",
            "cloud",
        ],
        "user": ["RSA2016", "testtag1"],
    },
}

VENDOR_SUMMARY_SHA1 = "0da28a5159bee9cd930403023230f2e918b0334d"
VENDOR_SUMMARY: dict[str, Any] = {
    "id": 215600,
    "sha1": VENDOR_SUMMARY_SHA1,
    "indicators": [
        {"priority": 7, "category": 22, "description": "Deletes files in Windows system directories."},
        {"priority": 7, "category": 11, "description": "Requests permission required to shut down a system."},
    ],
    "unpacking_status": {"failed": 0, "success": 1, "partial": 0},
}

_THREATS = [
    "Win32.Trojan.Emotet",
    "Win32.Ransomware.WannaCry",
    "Win64.Backdoor.Cobaltstrike",
    "Linux.Trojan.Mirai",
    "Script-JS.Downloader.Nemucod",
    "Document-Word.Trojan.Valyria",
    "ByteCode-MSIL.Infostealer.AgentTesla",
    "Android.Spyware.Joker",
    "Win32.Worm",
    "EICAR",
    "Win32.Trojan.Generic.Variant.4",
]
_INDICATORS = [
    (9, 13, "Contains a reference to a known ransomware family."),
    (8, 10, "Tampers with security settings."),
    (7, 22, "Deletes files in Windows system directories."),
    (6, 4, "Contains URLs that link to interesting resources."),
    (5, 12, "Enumerates running processes."),
    (3, 11, "Requests permission required to shut down a system."),
    (1, 0, "Contains references to executable file extensions."),
]
_FILE_TYPES = [
    ("PE", "Exe"),
    ("PE", "Dll"),
    ("ELF", "Executable"),
    ("Text", "JavaScript"),
    ("Document", "Word"),
    ("Binary", "Archive"),
]
# Per ten samples: 2 malicious, 1 suspicious, 5 goodware, 2 unknown.
_CLASSES = [
    "malicious",
    "malicious",
    "suspicious",
    "goodware",
    "goodware",
    "goodware",
    "goodware",
    "goodware",
    "unknown",
    "unknown",
]


def hashes_of(seed: bytes) -> dict[str, str]:
    return {kind: hashlib.new(kind, seed).hexdigest() for kind in HASH_TYPES}


def generated_sample(index: int) -> dict[str, Any]:
    """Sample ``index`` of the generated corpus, always the same."""
    classification = _CLASSES[index % len(_CLASSES)]
    file_type, file_subtype = _FILE_TYPES[index % len(_FILE_TYPES)]
    hashes = hashes_of(f"spectra-simulator-sample-{index}".encode())
    sample: dict[str, Any] = dict(hashes)
    sample.update(
        {
            "id": 300000 + index,
            "category": "application" if file_type in ("PE", "ELF") else "other",
            "file_type": file_type,
            "file_subtype": file_subtype,
            "file_size": 1024 + (index * 7919) % 5_000_000,
            "extracted_file_count": index % 12,
            "local_first_seen": f"2024-{1 + index % 12:02d}-{1 + index % 28:02d}T08:00:00.000000Z",
            "local_last_seen": f"2026-{1 + index % 11:02d}-{1 + index % 28:02d}T16:30:00.000000Z",
            "classification_reason": ["cloud", "antivirus", "certificate", "user", "none"][index % 5],
            "classification": classification.upper() if index % 37 == 0 else classification,
            "riskscore": _riskscore(classification, index),
            "classification_result": _threat_name(classification, index),
            "tags": _tags(classification, index),
            "summary": _summary(hashes["sha1"], index, classification),
            "ticore": {"info": {"file": {"entropy": 5.5 + index % 3}}},
            "ticloud": {"classification": classification, "riskscore": _riskscore(classification, index)},
            "aliases": [f"sample-{index}.bin"],
            "imphash": hashlib.md5(f"imphash-{index % 50}".encode()).hexdigest(),
        }
    )
    return sample


def _riskscore(classification: str, index: int) -> Optional[int]:
    return {"malicious": 7 + index % 4, "suspicious": 6, "goodware": index % 6}.get(classification)


def _threat_name(classification: str, index: int) -> Optional[str]:
    if classification in ("malicious", "suspicious"):
        return _THREATS[index % len(_THREATS)]
    return None


def _tags(classification: str, index: int) -> Any:
    ticore = ["arch-x86", "capability-networking", "indicator-network"][: 1 + index % 3]
    if classification == "malicious":
        ticore = ticore + ["packed", "entropy-high"]
    if index % 13 == 0:
        return None
    return {"ticore": ticore, "user": ["triage"] if index % 4 == 0 else []}


def _summary(sha1: str, index: int, classification: str) -> dict[str, Any]:
    count = {"malicious": 5, "suspicious": 3, "goodware": 1, "unknown": 0}[classification]
    chosen = [_INDICATORS[(index + offset) % len(_INDICATORS)] for offset in range(count)]
    indicators: list[dict[str, Any]] = []
    for priority, category, description in chosen:
        indicator: dict[str, Any] = {"priority": priority, "category": category, "description": description}
        # Older appliances list reasons as strings, newer ones as objects.
        indicator["reasons"] = (
            [description] if index % 2 else [{"propagated": False, "category": "Behavior", "description": description}]
        )
        indicators.append(indicator)
    return {
        "id": 300000 + index,
        "sha1": sha1,
        "indicators": indicators,
        "unpacking_status": {"failed": index % 7 == 0 and 1 or 0, "success": 1, "partial": 0},
    }


def vendor_samples() -> list[dict[str, Any]]:
    """The two samples of the vendor's page, the second one made whole."""
    report = dict(VENDOR_REPORT_SAMPLE, summary=_summary(VENDOR_REPORT_SAMPLE["sha1"], 1, "malicious"))
    second = dict(generated_sample(1), **hashes_of(b"vendor-sample-215600"))
    second.update(id=215600, sha1=VENDOR_SUMMARY_SHA1, summary=VENDOR_SUMMARY)
    return [report, second]


class Corpus:
    """Samples indexed by every hash type."""

    def __init__(self, size: int = DEFAULT_SIZE) -> None:
        self.samples = vendor_samples() + [generated_sample(index) for index in range(size)]
        self._index = {kind: {sample[kind]: sample for sample in self.samples} for kind in HASH_TYPES}

    def find(self, kind: str, value: str) -> Optional[dict[str, Any]]:
        return self._index[kind].get(value)

    def hashes(self, kind: str = "sha1", classification: Optional[str] = None) -> list[str]:
        """Hashes of the corpus, optionally of one classification."""
        return [
            sample[kind]
            for sample in self.samples
            if classification is None or str(sample["classification"]).lower() == classification
        ]
