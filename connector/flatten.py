"""Flattening a report into the record every platform gets.

The keys, and their order, come from ``schemas/record.schema.json``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Optional, Union

from .names import Status
from .validation import load_schema

_RECORD = load_schema("record")
RECORD_KEYS = tuple(_RECORD["properties"])
REPORT_KEYS = tuple(_RECORD["required"])
SUMMARY_KEYS = tuple(key for key in RECORD_KEYS if key not in REPORT_KEYS)
LIST_KEYS = tuple(key for key, spec in _RECORD["properties"].items() if spec.get("type") == "array")

# The report fields the record is made of: what a lookup asks for by default.
SOURCE_FIELDS = (
    "md5",
    "sha1",
    "sha256",
    "sha512",
    "classification",
    "riskscore",
    "classification_result",
    "classification_reason",
    "tags",
    "file_type",
    "file_subtype",
    "file_size",
    "local_first_seen",
    "local_last_seen",
)

_EMPTY_REPORT = dict.fromkeys(REPORT_KEYS)
_EMPTY_SUMMARY = dict.fromkeys(SUMMARY_KEYS)
_FOUND = Status.FOUND.value


def empty_record(
    value: str, kind: Optional[str], status: Union[Status, str], error: Optional[str] = None, with_summary: bool = False
) -> dict[str, Any]:
    """A record with no verdict: not_found, invalid or error."""
    record = dict(_EMPTY_REPORT)
    if with_summary:
        record.update(_EMPTY_SUMMARY)
    for key in LIST_KEYS:
        if key in record:
            record[key] = []  # a fresh list each time: records are handed out and may be changed
    # str(): the plain value; platforms write a record's values by their exact class.
    record["hash"], record["hash_type"], record["status"], record["error"] = value, kind, str(status), error
    return record


def copy_record(record: Mapping[str, Any]) -> dict[str, Any]:
    """Another record like this one, sharing no list with it; several
    times quicker than flattening the report again."""
    copy = dict(record)
    for key in LIST_KEYS:
        if key in copy:
            copy[key] = list(copy[key])
    return copy


def flatten(value: str, kind: str, item: Mapping[str, Any], with_summary: bool = False) -> dict[str, Any]:
    """The record of a found sample."""
    classification = item.get("classification")
    threat_name = item.get("classification_result") or None
    platform, threat_type, family = split_threat_name(threat_name)
    groups = item.get("tags")
    ticore, user, merged = _tags(groups)
    record = {
        "hash": value,
        "hash_type": kind,
        "status": _FOUND,
        "error": None,
        "classification": classification.lower() if isinstance(classification, str) else None,
        "riskscore": item.get("riskscore"),
        "threat_name": threat_name,
        "threat_platform": platform,
        "threat_type": threat_type,
        "threat_family": family,
        "tags": merged,
        "tags_ticore": ticore,
        "tags_user": user,
        "classification_reason": item.get("classification_reason"),
        "file_type": item.get("file_type"),
        "file_subtype": item.get("file_subtype"),
        "file_size": item.get("file_size"),
        "md5": item.get("md5"),
        "sha1": item.get("sha1"),
        "sha256": item.get("sha256"),
        "first_seen": item.get("local_first_seen"),
        "last_seen": item.get("local_last_seen"),
    }
    if record.get(kind) is None and kind in record:
        record[kind] = value  # matched on it, so known even when the fields asked for left it out
    if with_summary:
        record.update(_summary(item.get("summary")))
    return record


def split_threat_name(name: Optional[str]):
    """Platform, type and family of ``Platform.Type.Family[.More]``. A
    one-part name is the family; a two-part name has no family."""
    if not name:
        return None, None, None
    parts = name.split(".")
    if len(parts) == 1:
        return None, None, parts[0]
    return parts[0] or None, parts[1] or None, ".".join(parts[2:]) or None


def _tags(groups: Any):
    if isinstance(groups, list):
        return [], [], list(dict.fromkeys(t for t in groups if isinstance(t, str)))
    if not isinstance(groups, dict):
        return [], [], []
    ticore = list(groups.get("ticore") or ())
    user = list(groups.get("user") or ())
    merged: dict[str, None] = {}
    for tags in groups.values():
        if tags:
            merged.update(dict.fromkeys(tags))
    return ticore, user, list(merged)


def _summary(summary: Any) -> dict[str, Any]:
    if not isinstance(summary, dict):
        return dict(_EMPTY_SUMMARY, indicators=[])
    indicators = summary.get("indicators") or []
    ranked = sorted(indicators, key=lambda ind: -(ind.get("priority") or 0))
    return {
        "indicators": [ind["description"] for ind in ranked if ind.get("description")],
        "indicator_count": len(indicators),
        "unpacking_status": _unpacking(summary.get("unpacking_status")),
    }


def _unpacking(status: Any) -> Optional[str]:
    if isinstance(status, dict):
        return " ".join(f"{key}:{count}" for key, count in status.items())
    return status if isinstance(status, str) else None


def with_prefix(record: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    """The record's keys under a platform prefix, e.g. ``rl_``."""
    return {prefix + key: value for key, value in record.items()}
