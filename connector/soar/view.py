"""The app's custom result view (``render`` of type custom in the app JSON)
for ``get report``, ``get summary`` and ``file reputation``: one table per
result, a row per hash with its verdict, risk score, threat name, tags and
indicators, the most dangerous first.

SOAR calls the view function with the action's runs and renders the template
it names (``spectra_analyze_view.html``) with Django's template engine, whose
autoescaping shows every value as text: a threat name, a tag or an indicator
comes from the sample and may hold markup. The template marks nothing safe.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ..names import Action, Status

TEMPLATE = "spectra_analyze_view.html"
# The order of the rows: what needs attention first, what vouches for a file last.
_RANK = {
    "malicious": 0,
    "suspicious": 1,
    "unknown": 2,
    Status.NOT_FOUND: 3,
    Status.ERROR: 4,
    Status.INVALID: 5,
    "goodware": 6,
}
_TITLES = {
    action: action.value.replace("_", " ") for action in (Action.GET_REPORT, Action.GET_SUMMARY, Action.FILE_REPUTATION)
}


def display_view(provides: str, all_app_runs: Sequence[tuple[Any, Sequence[Any]]], context: dict[str, Any]) -> str:
    """SOAR's view entry point: ``all_app_runs`` is a list of (summary,
    action results) pairs. Fills ``context`` and names the template."""
    context["title"] = provides
    context["results"] = [result_view(result) for _, results in all_app_runs for result in results]
    return TEMPLATE


def result_view(result: Any) -> dict[str, Any]:
    """One action result (a ``phantom`` ActionResult) as the template shows it."""
    records = [record for record in result.get_data() or [] if isinstance(record, Mapping)]
    return {
        "message": result.get_message(),
        "rows": rows(records),
        "has_verdict": any("verdict" in record for record in records),
        "has_indicators": any(record.get("indicators") for record in records),
    }


def rows(records: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """A row per record, the most dangerous first; input order among equals."""
    indexed = sorted(enumerate(records), key=lambda pair: _order(pair[1], pair[0]))
    return [_row(record) for _, record in indexed]


def _order(record: Mapping[str, Any], index: int) -> tuple[int, int, int]:
    verdict = record.get("verdict") or {}
    kind = record.get("classification") if record.get("status") == Status.FOUND else record.get("status")
    score = verdict.get("score") if verdict.get("score") is not None else record.get("riskscore")
    return (_RANK.get(str(kind), 2), -(score if isinstance(score, int) else -1), index)


def _row(record: Mapping[str, Any]) -> dict[str, Any]:
    verdict = record.get("verdict") or {}
    status = record.get("status")
    found = status == Status.FOUND
    return {
        "hash": record.get("hash"),
        "kind": (record.get("classification") or "unknown") if found else status,
        "shown": (record.get("classification") or "unknown") if found else str(status).replace("_", " "),
        "label": verdict.get("label"),
        "score": verdict.get("score"),
        "reason": verdict.get("reason") if verdict else None,
        "riskscore": record.get("riskscore"),
        "threat_name": record.get("threat_name"),
        "tags": list(record.get("tags") or []),
        "indicators": list(record.get("indicators") or []),
        "error": record.get("error"),
    }
