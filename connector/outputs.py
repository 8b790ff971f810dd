"""What platforms show of an action result: the result document (status,
message, summary, data) and its summary, shaped by
``schemas/action-summary.schema.json``.

The SOAR app and the action runner both use these, so a shell and a
playbook see the same result.
"""

from __future__ import annotations

from typing import Any

from .actions import ActionResult
from .flatten import RECORD_KEYS
from .names import ResultStatus
from .validation import load_schema

_SUMMARY = load_schema("action-summary")
COUNTED_CLASSIFICATIONS = tuple(_SUMMARY["properties"]["by_classification"]["required"])
# The summary keys that repeat a record's verdict when one hash was asked.
VERDICT_KEYS = tuple(key for key in _SUMMARY["properties"] if key in RECORD_KEYS)


def summary_of(result: ActionResult) -> dict[str, Any]:
    """The result's summary; a lookup's with every current classification
    counted (0 when absent) and, when exactly one hash was asked, that hash's verdict."""
    summary = dict(result.summary)
    if "by_classification" not in summary:
        return summary  # an action that looks nothing up (clear_cache) has a summary of its own
    counted = dict.fromkeys(COUNTED_CLASSIFICATIONS, 0)
    counted.update(result.summary.get("by_classification") or {})
    summary["by_classification"] = counted
    single = result.records[0] if len(result.records) == 1 else {}
    for key in VERDICT_KEYS:
        summary[key] = single.get(key)
    return summary


def result_document(result: ActionResult) -> dict[str, Any]:
    """The action result as one JSON object: action, status, message, summary, data."""
    return {
        "action": result.action,
        "status": result.status,
        "message": result.message,
        "summary": summary_of(result),
        "data": result.records,
    }


def failed_document(action: str, message: str) -> dict[str, Any]:
    """The document of an action that could not run at all (bad input or configuration)."""
    return {"action": action, "status": ResultStatus.FAILED.value, "message": message, "summary": {}, "data": []}
