"""The connector actions ``get_report`` and ``get_summary``.

They take parameters as platforms hand them over (strings), validate them
against ``schemas/action-parameters.schema.json``, look the hashes up and
return one flattened record per input hash, in input order.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

from .client import SpectraAnalyzeClient
from .errors import InputError
from .flatten import SOURCE_FIELDS, copy_record, empty_record, flatten
from .hashes import hash_type, invalid_reason, normalize, split_hashes
from .cache import cached_lookup
from .lookup import ERROR, FOUND, NOT_FOUND, Answer, Lookup, LookupResult, Question
from .params import parse_bool, split_list
from .validation import load_schema, violation

SUPPORTED_FIELDS = tuple(load_schema("action-parameters")["definitions"]["field"]["enum"])
NETWORK_TI_FIELDS = ("networkthreatintelligence", "domainthreatintelligence")
INVALID = "invalid"  # a record status only: an invalid hash is never looked up
STATUSES = (FOUND, NOT_FOUND, INVALID, ERROR)

@dataclass(frozen=True)
class ActionRequest:
    """Parsed, validated action parameters."""

    hashes: Tuple[str, ...]
    question: Question


@dataclass
class ActionResult:
    """What an action returns to every platform."""

    action: str
    status: str
    message: str
    records: List[Dict[str, Any]]
    summary: Dict[str, Any]
    errors: List[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Every hash got an answer: found, not_found or invalid."""
        return self.status == "success"

    def to_dict(self) -> Dict[str, Any]:
        return {"action": self.action, "status": self.status, "message": self.message,
                "summary": self.summary, "data": self.records}


def parse_request(params: Mapping[str, Any], *, with_summary: bool = False) -> ActionRequest:
    """Validate platform parameters; raises ``InputError`` naming what to fix."""
    # Platforms hand over unset optional parameters as None or "".
    params = {key: value for key, value in params.items()
              if value is not None and not (isinstance(value, str) and not value.strip() and key != "hashes")}
    problem = violation("action-parameters", params)
    if problem:
        raise InputError(f"invalid parameters: {problem}")
    hashes = tuple(split_hashes(params.get("hashes")))
    if not hashes:
        raise InputError("hashes: no hash given; pass one or more MD5, SHA1, SHA256 or SHA512 hashes")
    fields = _parse_fields(params.get("fields"), with_summary)
    include_nti = parse_bool("include_network_threat_intelligence",
                             params.get("include_network_threat_intelligence"), False)
    missing = [name for name in NETWORK_TI_FIELDS if name not in fields]
    if include_nti and missing:
        raise InputError("include_network_threat_intelligence=true needs the fields networkthreatintelligence "
                         f"and domainthreatintelligence: add {', '.join(missing)} to fields")
    question = Question(fields=fields, skip_reanalysis=parse_bool("skip_reanalysis", params.get("skip_reanalysis"), True),
                        include_network_threat_intelligence=include_nti)
    return ActionRequest(hashes=hashes, question=question)


def _parse_fields(value: Any, with_summary: bool) -> Tuple[str, ...]:
    fields = split_list(value)
    unknown = [name for name in fields if name not in SUPPORTED_FIELDS]
    if unknown:
        raise InputError(f"fields: unknown field name(s) {', '.join(unknown)}; supported: {', '.join(SUPPORTED_FIELDS)}")
    chosen = tuple(fields) or SOURCE_FIELDS
    if with_summary and "summary" not in chosen:
        chosen += ("summary",)
    return tuple(dict.fromkeys(chosen))


def get_report(params: Mapping[str, Any], client: SpectraAnalyzeClient, *, lookup_with: Lookup = cached_lookup) -> ActionResult:
    """Classification, risk score, threat name and tags of every hash."""
    return run("get_report", params, client, lookup_with=lookup_with)


def get_summary(params: Mapping[str, Any], client: SpectraAnalyzeClient, *, lookup_with: Lookup = cached_lookup) -> ActionResult:
    """``get_report`` plus the threat indicator summary of every hash."""
    return run("get_summary", params, client, lookup_with=lookup_with)


def run(action: str, params: Mapping[str, Any], client: SpectraAnalyzeClient, *,
        lookup_with: Lookup = cached_lookup) -> ActionResult:
    """Run ``get_report`` or ``get_summary``. Raises ``InputError`` for bad
    parameters and ``ConfigurationError`` when the appliance cannot be used at
    all; a failed batch becomes error records, never an exception."""
    with_summary = action == "get_summary"
    request = parse_request(params, with_summary=with_summary)
    records, errors = build_records(request, client, with_summary, lookup_with)
    return summarize(action, records, errors)


def build_records(request: ActionRequest, client: SpectraAnalyzeClient, with_summary: bool,
                  lookup_with: Lookup = cached_lookup, *, on_record: Optional[Callable[[Dict[str, Any]], None]] = None
                  ) -> Tuple[List[Dict[str, Any]], List[str]]:
    """One record per input hash, in input order, and the distinct lookup errors.

    A hash given many times (a search's events repeat a few hashes) is
    checked and flattened once; its other records are copies. With
    ``on_record`` (and a ``lookup_with`` that takes ``on_batch``, as
    ``lookup`` and ``cached_lookup`` do), each answered hash's record is
    flattened as its batch arrives, while later batches are in flight, and
    handed to ``on_record`` (the very record returned for its first place)."""
    normalized = [normalize(value) for value in request.hashes]
    kinds = {value: hash_type(value) for value in dict.fromkeys(normalized)}
    valid = [value for value, kind in kinds.items() if kind]
    made: Dict[str, Dict[str, Any]] = {}

    def arrived(answers: Dict[str, Answer]) -> None:
        for value, answer in answers.items():
            made[value] = record = _record(value, kinds[value], answer, with_summary)
            on_record(record)  # type: ignore[misc]

    result = LookupResult()
    if valid:
        result = lookup_with(client, valid, request.question) if on_record is None else \
            lookup_with(client, valid, request.question, on_batch=arrived)  # type: ignore[call-arg]
    records = []
    placed = set()
    for given, value in zip(request.hashes, normalized):
        kind = kinds[value]
        if kind is None:
            records.append(empty_record(given.strip(), None, INVALID, invalid_reason(given.strip()), with_summary))
        elif value in placed:
            records.append(copy_record(made[value]))
        else:
            if value not in made:
                made[value] = _record(value, kind, result.answers.get(value), with_summary)
            placed.add(value)
            records.append(made[value])
    return records, distinct_errors(records)


def distinct_errors(records: List[Dict[str, Any]]) -> List[str]:
    """Every distinct reason among error records, a failed batch's or a single bad report's."""
    return list(dict.fromkeys(record["error"] for record in records if record["status"] == ERROR))


def _record(value: str, kind: str, answer: Optional[Answer], with_summary: bool) -> Dict[str, Any]:
    if answer is not None and answer.status == FOUND:
        return flatten(value, kind, answer.item, with_summary)
    if answer is None:
        return empty_record(value, kind, ERROR, "no answer for this hash", with_summary)
    return empty_record(value, kind, answer.status, answer.error, with_summary)


def summarize(action: str, records: List[Dict[str, Any]], errors: List[str]) -> ActionResult:
    """Counts, the highest risk score, an overall status and a one-line message."""
    by_status = Counter(record["status"] for record in records)
    by_classification = Counter(record["classification"] for record in records if record["classification"])
    scores = [record["riskscore"] for record in records if record["riskscore"] is not None]
    summary = {
        "total": len(records),
        "by_status": {status: by_status.get(status, 0) for status in STATUSES},
        "by_classification": dict(sorted(by_classification.items())),
        "highest_riskscore": max(scores) if scores else None,
    }
    # Failed when no lookup got through: a typo among hashes the appliance
    # could not answer (a refused token, say) must not make the run look partly good.
    failed = by_status.get(ERROR, 0)
    answered = by_status.get(FOUND, 0) + by_status.get(NOT_FOUND, 0)
    status = "success" if not failed else ("partial" if answered else "failed")
    return ActionResult(action=action, status=status, message=_message(summary, errors),
                        records=records, summary=summary, errors=errors)


def _message(summary: Dict[str, Any], errors: List[str]) -> str:
    counts = summary["by_status"]
    parts = [f"{counts['found']} found"]
    verdicts = ", ".join(f"{count} {name}" for name, count in summary["by_classification"].items())
    if verdicts:
        parts[0] += f" ({verdicts})"
    parts += [f"{counts[status]} {status.replace('_', ' ')}" for status in STATUSES[1:] if counts[status]]
    message = f"{summary['total']} hash(es): " + ", ".join(parts)
    if errors:
        message += "; lookup failed: " + "; ".join(errors[:3])
    return message


ACTIONS: Dict[str, Callable[..., ActionResult]] = {"get_report": get_report, "get_summary": get_summary}


def run_action(action: str, params: Mapping[str, Any], client: SpectraAnalyzeClient) -> ActionResult:
    """Dispatch by action name; raises ``InputError`` for an unknown one."""
    handler: Optional[Callable[..., ActionResult]] = ACTIONS.get(action)
    if handler is None:
        raise InputError(f"unknown action {action!r}; expected one of {', '.join(ACTIONS)}")
    return handler(params, client)


# A SHA1 no appliance holds: the cheapest lookup there is.
CONNECTIVITY_HASH = "0" * 40


def check_connectivity(params: Mapping[str, Any], client: SpectraAnalyzeClient) -> ActionResult:
    """``test_connectivity``: one read-only lookup (one hash, one field, no
    reanalysis, no upload) proves the URL, the TLS certificate and the token.
    Raises ``ConfigurationError`` or ``ApplianceError`` saying what failed."""
    if any(value not in (None, "") for value in params.values()):
        raise InputError("test_connectivity takes no parameters")
    client.list_samples([CONNECTIVITY_HASH], ["sha1"])
    return ActionResult(action="test_connectivity", status="success",
                        message=f"connected to {client.config.url}: the appliance accepted the API token",
                        records=[], summary=summarize("test_connectivity", [], []).summary)


ACTIONS["test_connectivity"] = check_connectivity
