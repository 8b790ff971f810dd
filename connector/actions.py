"""The connector actions: ``get_report``, ``get_summary``,
``file_reputation``, ``test_connectivity`` and ``clear_cache``.

The lookups take parameters as platforms hand them over (strings), validate
them against their schema (``schemas/action-parameters.schema.json``,
``schemas/reputation-parameters.schema.json``), look the hashes up and
return one flattened record per input hash, in input order;
``file_reputation`` adds each hash's normalized verdict (``connector.verdict``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Union, cast

from .client import SpectraAnalyzeClient
from .errors import InputError
from .flatten import SOURCE_FIELDS, copy_record, empty_record, flatten
from .hashes import hash_type, invalid_reason, lookup_key, split_hashes
from .lookup import Answer, Question
from .names import STATUSES, Action, ResultStatus, Status
from .params import parse_bool, split_list
from .service import LookupService, Requests
from .text import quoted, shortened
from .validation import load_schema, violation
from .verdict import Thresholds, verdict_summary, with_verdicts

SUPPORTED_FIELDS = tuple(load_schema("action-parameters")["definitions"]["field"]["enum"])
NETWORK_TI_FIELDS = ("networkthreatintelligence", "domainthreatintelligence")


@dataclass(frozen=True)
class ActionRequest:
    """Parsed, validated action parameters."""

    hashes: tuple[str, ...]
    question: Question


@dataclass
class ActionResult:
    """What an action returns to every platform."""

    action: str
    status: str
    message: str
    records: list[dict[str, Any]]
    summary: dict[str, Any]
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Every hash got an answer: found, not_found or invalid."""
        return self.status == ResultStatus.SUCCESS

    def to_dict(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "status": self.status,
            "message": self.message,
            "summary": self.summary,
            "data": self.records,
        }


def parse_request(params: Mapping[str, Any], *, with_summary: bool = False) -> ActionRequest:
    """Validate platform parameters; raises ``InputError`` naming what to fix."""
    params, hashes = _checked(params, "action-parameters", "hashes")
    return ActionRequest(hashes=hashes, question=_question(params, with_summary))


def parse_reputation_request(params: Mapping[str, Any]) -> ActionRequest:
    """Validate ``file_reputation`` parameters; raises ``InputError`` naming what to fix.
    It asks for the report's fields, never reanalysing a sample."""
    _, hashes = _checked(params, "reputation-parameters", "hash")
    return ActionRequest(hashes=hashes, question=_question({}, False))


def _checked(params: Mapping[str, Any], schema: str, hash_parameter: str) -> tuple[dict[str, Any], tuple[str, ...]]:
    """The parameters valid against ``schema``, and the hashes of ``hash_parameter`` (at least one)."""
    params = _given(params)
    problem = violation(schema, params)
    if problem:
        raise InputError(f"invalid parameters: {problem}")
    hashes = tuple(split_hashes(params.get(hash_parameter)))
    if not hashes:
        raise InputError(f"{hash_parameter}: no hash given; pass one or more MD5, SHA1, SHA256 or SHA512 hashes")
    return params, hashes


def request_of(action: str, params: Mapping[str, Any]) -> ActionRequest:
    """The parsed parameters of a lookup action; raises ``InputError``."""
    if action == Action.FILE_REPUTATION:
        return parse_reputation_request(params)
    return parse_request(params, with_summary=action == Action.GET_SUMMARY)


def parse_question(params: Mapping[str, Any], with_summary: bool) -> Question:
    """What to ask for every hash, from the parameters other than ``hashes``
    (an adapter that finds its hashes elsewhere: the Splunk command, the
    rules engine). Raises ``InputError`` naming what to fix."""
    params = _given(params)
    problem = violation("action-parameters", params, partial=True)
    if problem:
        raise InputError(f"invalid parameters: {problem}")
    return _question(params, with_summary)


def _given(params: Mapping[str, Any]) -> dict[str, Any]:
    # Platforms hand over unset optional parameters as None or "".
    return {
        key: value
        for key, value in params.items()
        if value is not None and not (isinstance(value, str) and not value.strip() and key != "hashes")
    }


def _question(params: Mapping[str, Any], with_summary: bool) -> Question:
    fields = _parse_fields(params.get("fields"), with_summary)
    include_nti = parse_bool(
        "include_network_threat_intelligence", params.get("include_network_threat_intelligence"), False
    )
    missing = [name for name in NETWORK_TI_FIELDS if name not in fields]
    if include_nti and missing:
        raise InputError(
            "include_network_threat_intelligence=true needs the fields networkthreatintelligence "
            f"and domainthreatintelligence: add {', '.join(missing)} to fields"
        )
    return Question(
        fields=fields,
        skip_reanalysis=parse_bool("skip_reanalysis", params.get("skip_reanalysis"), True),
        include_network_threat_intelligence=include_nti,
    )


def _parse_fields(value: Any, with_summary: bool) -> tuple[str, ...]:
    fields = split_list(value)
    unknown = [name for name in fields if name not in SUPPORTED_FIELDS]
    if unknown:
        raise InputError(
            f"fields: unknown field name(s) {shortened(', '.join(unknown))}; supported: {', '.join(SUPPORTED_FIELDS)}"
        )
    chosen = tuple(fields) or SOURCE_FIELDS
    if with_summary and "summary" not in chosen:
        chosen += ("summary",)
    return tuple(dict.fromkeys(chosen))


Lookups = Union[LookupService, SpectraAnalyzeClient]


def get_report(params: Mapping[str, Any], lookups: Lookups) -> ActionResult:
    """Classification, risk score, threat name and tags of every hash."""
    return run_lookup(Action.GET_REPORT, params, lookups)


def get_summary(params: Mapping[str, Any], lookups: Lookups) -> ActionResult:
    """``get_report`` plus the threat indicator summary of every hash."""
    return run_lookup(Action.GET_SUMMARY, params, lookups)


def file_reputation(params: Mapping[str, Any], lookups: Lookups, thresholds: Thresholds = Thresholds()) -> ActionResult:
    """``get_report``'s records, each with its normalized verdict, and the verdicts counted."""
    return run_lookup(Action.FILE_REPUTATION, params, lookups, thresholds)


def run_lookup(
    action: str,
    params: Mapping[str, Any],
    lookups: Lookups,
    thresholds: Thresholds = Thresholds(),
    *,
    each: Optional[Callable[[dict[str, Any]], None]] = None,
) -> ActionResult:
    """Run a lookup action through ``lookups`` (a client alone: straight to
    the appliance, nothing kept). Raises ``InputError`` for bad parameters and
    ``ConfigurationError`` when the appliance cannot be used at all; a failed
    batch becomes error records, never an exception.

    ``each``, when given, gets every record in input order as soon as it is
    known (``iter_records``), so that an output can be written while later
    batches are still on their way; none after the appliance refused the run."""
    service = lookups if isinstance(lookups, LookupService) else LookupService(lookups)
    request = request_of(action, params)
    before = service.requests
    records = []
    for record in iter_records(request, service, action == Action.GET_SUMMARY):
        if action == Action.FILE_REPUTATION:
            with_verdicts((record,), thresholds)
        records.append(record)
        if each is not None and service.failure is None:
            each(record)
    if service.failure is not None:
        raise service.failure
    return summarize(action, records, distinct_errors(records), service.requests.since(before))


def lookup_records(
    action: str, request: ActionRequest, lookups: LookupService, thresholds: Thresholds = Thresholds()
) -> list[dict[str, Any]]:
    """The records of a lookup action: ``build_records``, with verdicts for ``file_reputation``."""
    records = build_records(request, lookups, action == Action.GET_SUMMARY)
    if action == Action.FILE_REPUTATION:
        with_verdicts(records, thresholds)
    return records


def build_records(request: ActionRequest, lookups: LookupService, with_summary: bool) -> list[dict[str, Any]]:
    """One record per input hash, in input order. A hash given many times is
    looked up, checked and flattened once; its other records are copies."""
    return list(iter_records(request, lookups, with_summary))


def iter_records(request: ActionRequest, lookups: LookupService, with_summary: bool) -> Iterator[dict[str, Any]]:
    """``build_records``' records one at a time, in input order: each as soon
    as the answers of its hash and of every hash before it have arrived
    (batches arrive in any order). A report is let go once flattened."""
    keys = [lookup_key(value) for value in request.hashes]
    kinds = {key: hash_type(key) for key in dict.fromkeys(keys)}
    answers: dict[str, Answer] = {}
    made: dict[str, dict[str, Any]] = {}
    position = 0

    def record_at(value: str) -> dict[str, Any]:
        kind = kinds[value]
        if kind is None:
            return invalid_record(value, with_summary)
        if value in made:
            return copy_record(made[value])
        made[value] = record_of(value, kind, answers.pop(value, None), with_summary)
        return made[value]

    for batch in lookups.answers([key for key, kind in kinds.items() if kind], request.question):
        answers.update(batch)
        while position < len(keys) and (
            keys[position] in answers or keys[position] in made or kinds[keys[position]] is None
        ):
            yield record_at(keys[position])
            position += 1
    for value in keys[position:]:
        yield record_at(value)


def invalid_record(value: str, with_summary: bool) -> dict[str, Any]:
    """The record of an item that is not a hash, which it repeats, cut."""
    return empty_record(shortened(value), None, Status.INVALID, invalid_reason(value), with_summary)


def distinct_errors(records: list[dict[str, Any]]) -> list[str]:
    """Every distinct reason among error records, a failed batch's or a single bad report's."""
    return list(dict.fromkeys(record["error"] for record in records if record["status"] == Status.ERROR))


def record_of(value: str, kind: str, answer: Optional[Answer], with_summary: bool) -> dict[str, Any]:
    """The record of one valid hash from its answer (None: it got none)."""
    if answer is not None and answer.status == Status.FOUND:
        return flatten(value, kind, cast(dict[str, Any], answer.item), with_summary)  # found: it has its report
    if answer is None:
        return empty_record(value, kind, Status.ERROR, "no answer for this hash", with_summary)
    return empty_record(value, kind, answer.status, answer.error, with_summary)


def summarize(
    action: str, records: list[dict[str, Any]], errors: list[str], requests: Requests = Requests()
) -> ActionResult:
    """Counts, the highest risk score, the requests, an overall status and a one-line message."""
    by_status = Counter(record["status"] for record in records)
    by_classification = Counter(record["classification"] for record in records if record["classification"])
    scores = [record["riskscore"] for record in records if record["riskscore"] is not None]
    summary = {
        "total": len(records),
        "by_status": {status: by_status.get(status, 0) for status in STATUSES},
        "by_classification": dict(sorted(by_classification.items())),
        "highest_riskscore": max(scores) if scores else None,
        "requests_attempted": requests.attempted,
        "requests_answered": requests.answered,
    }
    if action == Action.FILE_REPUTATION:
        summary.update(verdict_summary(records))
    # Failed when no lookup got through: a typo among hashes the appliance
    # could not answer (a refused token, say) must not make the run look partly good.
    failed = by_status.get(Status.ERROR, 0)
    answered = by_status.get(Status.FOUND, 0) + by_status.get(Status.NOT_FOUND, 0)
    status = ResultStatus.SUCCESS if not failed else (ResultStatus.PARTIAL if answered else ResultStatus.FAILED)
    # Plain values in the result, as in its records.
    return ActionResult(
        action=Action(action).value,
        status=status.value,
        message=_message(summary, errors),
        records=records,
        summary=summary,
        errors=errors,
    )


def _message(summary: dict[str, Any], errors: list[str]) -> str:
    counts = summary["by_status"]
    parts = [f"{counts[Status.FOUND]} found"]
    verdicts = ", ".join(f"{count} {name}" for name, count in summary["by_classification"].items())
    if verdicts:
        parts[0] += f" ({verdicts})"
    parts += [f"{counts[status]} {status.replace('_', ' ')}" for status in STATUSES[1:] if counts[status]]
    message = f"{summary['total']} hash(es): " + ", ".join(parts)
    if errors:
        message += "; lookup failed: " + "; ".join(errors[:3])
        message += f" ({summary['requests_attempted']} request(s) attempted, {summary['requests_answered']} answered)"
    return message


# A SHA1 no appliance holds: the cheapest lookup there is.
CONNECTIVITY_HASH = "0" * 40


def check_connectivity(params: Mapping[str, Any], lookups: Lookups) -> ActionResult:
    """``test_connectivity``: one read-only lookup (one hash, one field, no
    reanalysis, no upload, never from the cache) proves the URL, the TLS
    certificate and the token. Raises ``ConfigurationError`` or
    ``ApplianceError`` saying what failed."""
    if any(value not in (None, "") for value in params.values()):
        raise InputError("test_connectivity takes no parameters")
    client = lookups.client() if isinstance(lookups, LookupService) else lookups
    client.list_samples([CONNECTIVITY_HASH], ["sha1"])
    entries = _cache_entries(lookups)
    kept = "no cache" if entries is None else f"{entries} answer(s) in the cache"
    return ActionResult(
        action=Action.TEST_CONNECTIVITY.value,
        status=ResultStatus.SUCCESS.value,
        message=f"connected to {client.config.url}: the appliance accepted the API token; {kept}",
        records=[],
        summary=dict(summarize(Action.TEST_CONNECTIVITY, [], []).summary, cache_entries=entries),
    )


def clear_cache(params: Mapping[str, Any], lookups: Lookups) -> ActionResult:
    """``clear_cache``: drop every kept answer, so that the next lookup asks
    the appliance (an analyst who just uploaded a sample wants its verdict)."""
    if any(value not in (None, "") for value in params.values()):
        raise InputError("clear_cache takes no parameters")
    before = _cache_entries(lookups)
    if before is None:
        return ActionResult(
            action=Action.CLEAR_CACHE.value,
            status=ResultStatus.SUCCESS.value,
            message="no cache: the cache setting is off",
            records=[],
            summary={"cleared": 0, "cache_entries": None},
        )
    assert isinstance(lookups, LookupService) and lookups.store is not None  # _cache_entries found it
    lookups.store.clear()
    after = lookups.store.count()
    message = f"cleared {before - after} answer(s) from the cache"
    if after:  # the store warned why it could not
        message += f"; {after} could not be dropped"
    return ActionResult(
        action=Action.CLEAR_CACHE.value,
        status=(ResultStatus.SUCCESS if not after else ResultStatus.FAILED).value,
        message=message,
        records=[],
        summary={"cleared": before - after, "cache_entries": after},
    )


def _cache_entries(lookups: Lookups) -> Optional[int]:
    """The answers kept in the cache; None when there is no cache."""
    store = lookups.store if isinstance(lookups, LookupService) else None
    return None if store is None else store.count()


ACTIONS: dict[str, Callable[..., ActionResult]] = {
    Action.GET_REPORT.value: get_report,
    Action.GET_SUMMARY.value: get_summary,
    Action.FILE_REPUTATION.value: file_reputation,
    Action.TEST_CONNECTIVITY.value: check_connectivity,
    Action.CLEAR_CACHE.value: clear_cache,
}


def run_action(
    action: str, params: Mapping[str, Any], lookups: Lookups, thresholds: Thresholds = Thresholds()
) -> ActionResult:
    """Dispatch by action name; raises ``InputError`` for an unknown one.
    ``thresholds``: the verdict's, for ``file_reputation``."""
    handler: Optional[Callable[..., ActionResult]] = ACTIONS.get(action)
    if handler is None:
        raise InputError(f"unknown action {quoted(action)}; expected one of {', '.join(ACTIONS)}")
    if handler is file_reputation:
        return file_reputation(params, lookups, thresholds)
    return handler(params, lookups)
