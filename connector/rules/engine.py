"""Applying rules to alerts.

``apply_rules`` is pure: given an alert and the verdict records of its
hashes it returns the enriched copy, the same every time. ``AlertEnricher`` adds
the lookups: the hashes of all alerts of a window are de-duplicated and
looked up together through the core actions, batched by the client's batch
size, one hash type per request.

The verdict that matters
------------------------
An alert may carry several hashes. Its records are ranked, worst first:
malicious, suspicious, error (the lookup failed: it could be anything),
not_found (the appliance does not know it: never clean), other
classifications (unknown, unclassified), goodware/known; within a rank the
higher risk score first, then the order in the alert. The first is the
alert's verdict: its fields are added under the prefix. Every record is kept
in the enrichment record. A rule judges the hashes of its own hash fields by
its ``match``:

- ``worst``: the condition is tested on the worst record; when that record
  is an error, the rule's ``on_error`` applies.
- ``any``: it matches when a record that got an answer passes (the worst
  such record fills the templates); when none passes but a lookup failed,
  ``on_error`` applies, since the failed hash might have passed.
- ``all``: it does not match as soon as a record that got an answer fails;
  when all answered records pass but a lookup failed, ``on_error`` applies.
"""

from __future__ import annotations

import copy
import json
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Optional

from ..actions import ActionRequest, iter_records, parse_question
from ..flatten import empty_record
from ..hashes import hash_type, lookup_keys
from ..names import Action, Status
from ..service import LookupService, Requests
from .model import Rule, RuleSet
from .paths import set_value, values_at

Record = Mapping[str, Any]
MATCHED, NOT_MATCHED, LOOKUP_ERROR = "matched", "not_matched", "lookup_error"
OUTCOMES = (MATCHED, NOT_MATCHED, LOOKUP_ERROR)

# Worst first; a classification ranks found records, a status the others.
_RANK_OF = {
    "malicious": 0,
    "suspicious": 1,
    Status.ERROR.value: 2,
    Status.NOT_FOUND.value: 3,
    "goodware": 5,
    "known": 5,
}
_OTHER_VERDICT = 4  # unknown, unclassified or none


def verdict_rank(record: Record) -> tuple[int, int]:
    """Sort key putting the record that matters most first."""
    key = record.get("classification") if record["status"] == Status.FOUND else record["status"]
    score = record.get("riskscore")
    return _RANK_OF.get(key or "", _OTHER_VERDICT), -score if isinstance(score, int) else 1


def hashes_in(alert: Any, paths: Sequence[str]) -> list[str]:
    """The distinct valid hashes the paths reach, normalized, in order.
    Values that are not hashes (``-``, ``N/A``, file names) are skipped."""
    return _HashesOf(alert).hashes_in(paths)


class _HashesOf:
    """The hashes of one alert, each path walked once however many rules
    name it and whoever asks (the window's lookup, the rules, the check for
    paths that reach nothing)."""

    def __init__(self, alert: Any) -> None:
        self.alert = alert
        self._values: dict[str, list[Any]] = {}
        self._hashes: dict[str, list[str]] = {}
        self._in: dict[tuple[str, ...], list[str]] = {}  # rules mostly share their paths

    def hashes_in(self, paths: Sequence[str]) -> list[str]:
        """The distinct hashes the paths reach, in order (the same list for the same paths)."""
        key = paths if isinstance(paths, tuple) else tuple(paths)
        known = self._in.get(key)
        if known is None:
            found: dict[str, None] = {}
            for path in key:
                found.update(dict.fromkeys(self._hashes_at(path)))
            known = self._in[key] = list(found)
        return known

    def reaches(self, path: str) -> bool:
        """Whether the path reaches any value, a hash or not."""
        return bool(self._values_at(path))

    def _values_at(self, path: str) -> list[Any]:
        if path not in self._values:
            self._values[path] = values_at(self.alert, path)
        return self._values[path]

    def _hashes_at(self, path: str) -> list[str]:
        if path not in self._hashes:
            self._hashes[path] = [
                key
                for value in self._values_at(path)
                if isinstance(value, str)
                for key in lookup_keys(value)
                if hash_type(key)
            ]
        return self._hashes[path]


@dataclass
class AlertResult:
    """An alert after the rules, and what happened to it."""

    alert: Any
    hashes: list[str] = field(default_factory=list)
    outcomes: dict[str, str] = field(default_factory=dict)


def apply_rules(alert: Any, rules: RuleSet, records: Mapping[str, Record]) -> AlertResult:
    """Enrich one alert given the records of its hashes (missing ones count
    as failed lookups). An alert without hashes is returned as it is."""
    return _apply(_HashesOf(alert), rules, records)


def _apply(found: _HashesOf, rules: RuleSet, records: Mapping[str, Record]) -> AlertResult:
    alert = found.alert
    hashes = found.hashes_in(rules.hash_fields) if isinstance(alert, dict) else []
    if not hashes:
        return AlertResult(alert)
    with_summary = rules.action == Action.GET_SUMMARY
    known = {value: records.get(value) or _unanswered(value, with_summary) for value in hashes}
    enriched = json_copy(alert)
    verdict = min(known.values(), key=verdict_rank)
    enriched.update((rules.prefix + key, value) for key, value in json_copy(verdict).items())
    entries, outcomes = [], {}
    for rule in rules.rules:
        own = [known[value] for value in found.hashes_in(rule.hash_fields)]
        if not own:
            continue
        outcome, record = judge(rule, own)
        effects = {MATCHED: rule.then, NOT_MATCHED: rule.otherwise, LOOKUP_ERROR: rule.on_error}[outcome]
        changes = effects.apply(enriched, record, rules.targets) if effects else []
        entry = {"rule": rule.name, "outcome": outcome, "hash": record["hash"], "changes": changes}
        if outcome == LOOKUP_ERROR:
            entry["error"] = record["error"]
        entries.append(entry)
        outcomes[rule.name] = outcome
        if outcome == MATCHED and rule.stop:
            break
    set_value(
        enriched,
        rules.enrichment_field,
        {
            "verdict_hash": verdict["hash"],
            "matched": [name for name, outcome in outcomes.items() if outcome == MATCHED],
            "rules": entries,
            "records": [json_copy(record if type(record) is dict else dict(record)) for record in known.values()],
        },
    )
    return AlertResult(enriched, hashes, outcomes)


_SCALARS = frozenset((str, int, float, bool, type(None)))


def json_copy(value: Any) -> Any:
    """A deep copy of a JSON value: alerts and records are made of dicts,
    lists and immutable scalars, which copy.deepcopy copies several times slower.
    A scalar inside is taken as it is, without a call for it: most values
    of a record are scalars, and a call each was most of the copy's time."""
    kind = type(value)
    if kind is dict:
        return {key: item if type(item) in _SCALARS else json_copy(item) for key, item in value.items()}
    if kind is list:
        return [item if type(item) in _SCALARS else json_copy(item) for item in value]
    if isinstance(value, dict):
        return {key: json_copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [json_copy(item) for item in value]
    if isinstance(value, (str, int, float, bool, type(None))):
        return value
    return copy.deepcopy(value)


def judge(rule: Rule, records: Sequence[Record]) -> tuple[str, Record]:
    """The rule's outcome on an alert's records and the record behind it."""
    ranked = sorted(records, key=verdict_rank)
    answered = [record for record in ranked if record["status"] != Status.ERROR]
    failed = [record for record in ranked if record["status"] == Status.ERROR]
    passes = rule.when or (lambda record: True)
    if rule.match == "worst":
        if ranked[0]["status"] == Status.ERROR:
            return LOOKUP_ERROR, ranked[0]
        return (MATCHED if passes(ranked[0]) else NOT_MATCHED), ranked[0]
    if rule.match == "any":
        hit = next((record for record in answered if passes(record)), None)
        if hit is not None:
            return MATCHED, hit
        return (LOOKUP_ERROR, failed[0]) if failed else (NOT_MATCHED, ranked[0])
    miss = next((record for record in answered if not passes(record)), None)
    if miss is not None:
        return NOT_MATCHED, miss
    return (LOOKUP_ERROR, failed[0]) if failed else (MATCHED, ranked[0])


def _unanswered(value: str, with_summary: bool) -> dict[str, Any]:
    return empty_record(value, hash_type(value), Status.ERROR, "no answer for this hash", with_summary)


@dataclass
class EnrichmentStats:
    """Counts over a run, for the summary line."""

    rule_names: tuple[str, ...]
    alerts: int = 0
    with_hashes: int = 0
    hashes: int = 0
    unique_hashes: int = 0
    requests: Requests = Requests()
    failed_hashes: int = 0
    outcomes: dict[str, Counter] = field(default_factory=dict)

    def count(self, result: AlertResult) -> None:
        self.alerts += 1
        if result.hashes:
            self.with_hashes += 1
            self.hashes += len(result.hashes)
        for name, outcome in result.outcomes.items():
            self.outcomes.setdefault(name, Counter())[outcome] += 1

    def add_requests(self, more: Requests) -> None:
        self.requests = Requests(self.requests.attempted + more.attempted, self.requests.answered + more.answered)

    def matches(self, name: str) -> int:
        return self.outcomes.get(name, Counter())[MATCHED]

    def describe(self) -> str:
        """One line: alerts, hashes, lookups, matches per rule."""
        matches = ", ".join(f"{name} {self.matches(name)}" for name in self.rule_names)
        errors = sum(counter[LOOKUP_ERROR] for counter in self.outcomes.values())
        return (
            f"{self.alerts} alerts ({self.with_hashes} with hashes), {self.hashes} hashes "
            f"({self.unique_hashes} looked up), {self.requests.attempted} lookup requests "
            f"({self.requests.answered} answered), "
            f"{self.failed_hashes} failed lookups, {errors} rule lookup errors; matches: {matches}"
        )


class AlertEnricher:
    """Enrich windows of alerts with one batched lookup per window.

    A failed batch makes error records for its hashes (each rule's
    ``on_error`` decides); so does a refusal of the appliance (token, URL,
    TLS) for every later hash, without more requests (``lookups`` keeps it).
    No alert is ever dropped.
    """

    def __init__(self, rules: RuleSet, lookups: LookupService) -> None:
        self.rules = rules
        self.lookups = lookups
        self.with_summary = rules.action == Action.GET_SUMMARY
        self.question = parse_question({"fields": list(rules.fields) if rules.fields else None}, self.with_summary)
        self.stats = EnrichmentStats(tuple(rule.name for rule in rules.rules))
        self._unreached = dict.fromkeys(rules.hash_fields)  # hash_fields paths no alert has had yet

    @property
    def fatal_error(self) -> Optional[str]:
        """Why the appliance cannot be used, once that is known."""
        return None if self.lookups.failure is None else str(self.lookups.failure)

    def enrich(self, alerts: Sequence[Any]) -> list[Any]:
        """The window's alerts enriched, in the same order, one for one."""
        return list(self.enrich_stream(alerts))

    def enrich_stream(self, alerts: Sequence[Any]) -> Iterator[Any]:
        """``enrich``'s alerts one at a time, in order: each as soon as the
        records of its hashes, and of every alert's before it, are known, so
        that the rules run and the output is written while later batches of
        the window are still on their way."""
        found = [_HashesOf(alert) for alert in alerts]
        wanted: dict[str, None] = {}
        needed = []  # for each alert, how many of the window's hashes in order it waits for
        for each in found:
            if isinstance(each.alert, dict):
                wanted.update(dict.fromkeys(each.hashes_in(self.rules.hash_fields)))
            needed.append(len(wanted))
        self._note_reached(found)
        records: dict[str, Record] = {}
        position = 0
        for value, record in zip(wanted, self._records(list(wanted))):
            records[value] = record
            while position < len(found) and needed[position] <= len(records):
                yield self._applied(found[position], records)
                position += 1
        for each in found[position:]:
            yield self._applied(each, records)

    def _applied(self, found: _HashesOf, records: Mapping[str, Record]) -> Any:
        result = _apply(found, self.rules, records)
        self.stats.count(result)
        return result.alert

    def _note_reached(self, found: Sequence[_HashesOf]) -> None:
        # Only the paths not yet reached are asked about: once each is, this costs nothing.
        for each in found:
            if not self._unreached:
                return
            if isinstance(each.alert, dict):
                for path in [path for path in self._unreached if each.reaches(path)]:
                    del self._unreached[path]

    def unreached_warning(self) -> Optional[str]:
        """The hash_fields paths that reached no value in any alert so far
        (a typo, most often), with the rules naming them; None when every
        path reached one, or when there was no alert."""
        if not self._unreached or not self.stats.alerts:
            return None
        named = []
        for path in self._unreached:
            rules = [json.dumps(rule.name) for rule in self.rules.rules if path in rule.hash_fields]
            named.append(f"{json.dumps(path)} ({'rule' if len(rules) == 1 else 'rules'} {', '.join(rules)})")
        return (
            f"hash_fields path(s) that reached no field in any of the {self.stats.alerts} alerts: "
            f"{', '.join(named)}; check their spelling against the alerts"
        )

    def _records(self, hashes: list[str]) -> Iterator[Record]:
        """The records of ``hashes``, in their order, as their batches arrive."""
        if not hashes:
            return
        self.stats.unique_hashes += len(hashes)
        before = self.lookups.requests
        try:
            for record in iter_records(ActionRequest(tuple(hashes), self.question), self.lookups, self.with_summary):
                self.stats.failed_hashes += record["status"] == Status.ERROR
                yield record
        finally:
            self.stats.add_requests(self.lookups.requests.since(before))
