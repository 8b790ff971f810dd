"""Enriching one search's events, chunk by chunk, through the core.

Per chunk: the distinct hashes not yet answered in this search are looked up
together (``actions.build_records``: batched by type, over several
connections); a bounded memo keeps found and not_found answers for later
chunks, so no hash is looked up twice while the search has at most
``memo_size`` distinct hashes. Memory grows with the chunk and the memo,
never with the events of the search.

Every event gets every output field. A multivalue hash field gets
multivalue output fields, one value per hash in the same order (so
``mvzip(field, rl_classification)`` pairs them); the tag and indicator
lists are merged instead.
"""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, MutableMapping, Optional, Sequence

from ..actions import ActionRequest, Lookup, build_records
from ..cache import cached_lookup
from ..client import SpectraAnalyzeClient
from ..errors import ConfigurationError
from ..flatten import LIST_KEYS, REPORT_KEYS, RECORD_KEYS, empty_record, with_prefix
from ..hashes import hash_type, normalize, split_hashes
from ..lookup import ERROR, FOUND, NOT_FOUND, Answer, LookupResult, Question
from .options import CommandOptions

NO_HASH = "no_hash"
Record = Dict[str, Any]


class Memo:
    """The answers of a search, least recently used dropped first."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._records: "OrderedDict[str, Record]" = OrderedDict()

    def __len__(self) -> int:
        return len(self._records)

    def get(self, key: str) -> Optional[Record]:
        record = self._records.get(key)
        if record is not None:
            self._records.move_to_end(key)
        return record

    def put(self, key: str, record: Record) -> None:
        if self._size <= 0:
            return
        self._records[key] = record
        self._records.move_to_end(key)
        while len(self._records) > self._size:
            self._records.popitem(last=False)


@dataclass
class ChunkOutcome:
    events: int = 0
    hashes: int = 0  # distinct hash values in the chunk
    memo_hits: int = 0
    looked_up: int = 0
    errors: List[str] = field(default_factory=list)  # distinct lookup failures


class Enricher:
    """One search's enrichment. ``connect`` builds the client the first time
    a lookup is needed; a ``ConfigurationError`` from it or from a lookup
    (bad token, URL, TLS) is kept in ``failure``: from then on every valid
    hash gets an error record with its message, without any request."""

    def __init__(self, options: CommandOptions, connect: Callable[[], SpectraAnalyzeClient], *,
                 memo_size: int, failure: Optional[ConfigurationError] = None,
                 lookup_with: Lookup = cached_lookup) -> None:
        self.options = options
        self.failure = failure
        self.memo = Memo(memo_size)
        self.hashes_seen = 0
        self._connect = connect
        self._client: Optional[SpectraAnalyzeClient] = None
        self._lookup = lookup_with
        self._keys = RECORD_KEYS if options.with_summary else REPORT_KEYS

    @property
    def output_fields(self) -> List[str]:
        return [self.options.prefix + key for key in self._keys]

    def close(self) -> None:
        if self._client is not None:
            self._client.close()

    def enrich(self, events: Sequence[MutableMapping[str, Any]]) -> ChunkOutcome:
        """Add the output fields to every event, in place. The work per hash
        (parsing, lookup, flattening, prefixing) is done once a chunk for each
        distinct value, not once an event: a chunk has up to 50,000 events and
        usually far fewer distinct hashes."""
        split: Dict[str, List[Optional[str]]] = {}
        values = [_hash_values(event.get(self.options.field), split) for event in events]
        distinct = dict.fromkeys(value for event_values in values for value in event_values if value)
        keys = {value: _key(value) for value in distinct}
        outcome = ChunkOutcome(events=len(events))
        answers = self._answers(keys, outcome)
        no_hash = empty_record("", None, NO_HASH, None, self.options.with_summary)
        ready = {key: with_prefix(record, self.options.prefix) for key, record in answers.items()}
        ready_no_hash = with_prefix(no_hash, self.options.prefix)
        for event, event_values in zip(events, values):
            if len(event_values) == 1:  # the usual case: one hash, its prefixed record as it is
                event.update(ready[keys[event_values[0]]] if event_values[0] else ready_no_hash)
                continue
            records = [answers[keys[value]] if value else no_hash for value in event_values] or [no_hash]
            event.update(with_prefix(self._merge(records), self.options.prefix))
        self.hashes_seen += sum(1 for event_values in values if any(event_values))
        return outcome

    def _answers(self, keys: Mapping[str, str], outcome: ChunkOutcome) -> Dict[str, Record]:
        """A record for every distinct key (of the values ``keys`` maps):
        from the memo or looked up."""
        distinct: Dict[str, str] = {}
        for value, key in keys.items():
            distinct.setdefault(key, value)
        outcome.hashes = len(distinct)
        answers: Dict[str, Record] = {}
        needed = []
        for key in distinct:
            remembered = self.memo.get(key)
            if remembered is not None:
                answers[key] = remembered
            else:
                needed.append(distinct[key])
        outcome.memo_hits = len(answers)
        if needed:
            for value, record in zip(needed, self._build(needed, outcome)):
                answers[keys[value]] = record
                if record["status"] in (FOUND, NOT_FOUND):
                    self.memo.put(record["hash"], record)
        return answers

    def _build(self, values: List[str], outcome: ChunkOutcome) -> List[Record]:
        request = ActionRequest(hashes=tuple(values), question=self.options.question)
        valid = sum(1 for value in values if hash_type(normalize(value)))
        if self.failure is None and valid:
            try:
                client = self._client or self._connect()
                self._client = client
                records, outcome.errors = build_records(request, client, self.options.with_summary, self._lookup)
                outcome.looked_up = valid
                return records
            except ConfigurationError as err:
                self.failure = err
        records, _ = build_records(request, None, self.options.with_summary,  # type: ignore[arg-type]
                                   _failing(str(self.failure or "")))
        return records

    def _merge(self, records: List[Record]) -> Record:
        if len(records) == 1:
            return records[0]
        merged: Record = {}
        for key in self._keys:
            if key in LIST_KEYS:
                merged[key] = list(dict.fromkeys(item for record in records for item in record[key]))
            else:
                merged[key] = [record[key] for record in records]
        return merged


def _failing(message: str) -> Lookup:
    """A lookup that answers every hash with ``message`` as its error, for
    when the appliance cannot be used at all; no request is made."""
    def failed(_client: Any, hashes: Sequence[str], _question: Question) -> LookupResult:
        return LookupResult(answers={value: Answer(ERROR, error=message) for value in hashes})
    return failed


def _hash_values(value: Any, split: Dict[str, List[Optional[str]]]) -> List[Optional[str]]:
    """The hashes of a field value. Several hashes in one value are split as
    on every platform; an empty item of a multivalue field keeps its place
    (None, answered no_hash) so that the outputs line up with the field.
    ``split`` remembers the values of one chunk: events repeat them."""
    if isinstance(value, list):
        return [found for item in value for found in (split_hashes(item) or [None])]
    if not value:
        return []
    known = split.get(value)
    if known is None:
        known = split[value] = list(split_hashes(value))
    return known


def _key(value: str) -> str:
    """Hashes are answered by their normalized form; anything else as given."""
    normalized = normalize(value)
    return normalized if hash_type(normalized) else value.strip()
