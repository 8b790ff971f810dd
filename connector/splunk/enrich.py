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
lists are merged instead. Which output fields may hold several values in a
chunk (``ChunkOutcome.multivalue``) is told to the adapter's ``render``: the
lists alone, unless an event of the chunk has several hashes.
"""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Sequence, Tuple

from ..actions import INVALID, ActionRequest, Lookup, build_records
from ..cache import cached_lookup
from ..client import SpectraAnalyzeClient
from ..errors import ConfigurationError
from ..flatten import LIST_KEYS, REPORT_KEYS, RECORD_KEYS, empty_record
from ..hashes import hash_type, normalize, split_hashes
from ..lookup import FOUND, NOT_FOUND, failing_lookup
from .chunk import FieldValue
from .options import CommandOptions

NO_HASH = "no_hash"
Record = Dict[str, Any]


class Answered(NamedTuple):
    """A hash's record, and what the adapter's ``render`` made of it (the
    command's CSV cells): rendered once, used for every event with it."""

    record: Record
    output: Any


class Memo:
    """The answers of a search, least recently used dropped first."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._answers: "OrderedDict[str, Answered]" = OrderedDict()

    def __len__(self) -> int:
        return len(self._answers)

    def get(self, key: str) -> Optional[Answered]:
        answered = self._answers.get(key)
        if answered is not None:
            self._answers.move_to_end(key)
        return answered

    def put(self, key: str, answered: Answered) -> None:
        if self._size <= 0:
            return
        self._answers[key] = answered
        self._answers.move_to_end(key)
        while len(self._answers) > self._size:
            self._answers.popitem(last=False)


@dataclass
class ChunkOutcome:
    events: int = 0
    hashes: int = 0  # distinct hash values in the chunk
    memo_hits: int = 0
    looked_up: int = 0
    errors: List[str] = field(default_factory=list)  # distinct lookup failures
    multivalue: Tuple[str, ...] = ()  # the output keys that may hold several values in this chunk


class Enricher:
    """One search's enrichment. ``connect`` builds the client the first time
    a lookup is needed; a ``ConfigurationError`` from it or from a lookup
    (bad token, URL, TLS) is kept in ``failure``: from then on every valid
    hash gets an error record with its message, without any request.
    ``render`` turns a record, its ``keys`` (the fields every event gets, in
    order) and those of them that may hold several values into what the
    adapter writes."""

    def __init__(self, options: CommandOptions, connect: Callable[[], SpectraAnalyzeClient],
                 render: Callable[[Record, Sequence[str], Sequence[str]], Any], *, memo_size: int,
                 failure: Optional[ConfigurationError] = None, lookup_with: Lookup = cached_lookup) -> None:
        self.options = options
        self.failure = failure
        self.memo = Memo(memo_size)
        self.hash_seen = False  # whether any event so far had a value in the field
        self.keys = RECORD_KEYS if options.with_summary else REPORT_KEYS
        self.list_keys = tuple(key for key in self.keys if key in LIST_KEYS)
        self._connect = connect
        self._render = render
        self._client: Optional[SpectraAnalyzeClient] = None
        self._lookup = lookup_with
        self._no_hash = self._answered(empty_record("", None, NO_HASH, None, options.with_summary))

    def close(self) -> None:
        if self._client is not None:
            self._client.close()

    def enrich(self, values: Sequence[FieldValue], events: int) -> Tuple[List[Any], ChunkOutcome]:
        """The rendered output for each of a chunk's distinct values of the
        hash field (of its ``events`` events). The work per hash (parsing,
        lookup, flattening, rendering) is done once for each distinct hash,
        not once an event: a chunk has up to 50,000 events and usually far
        fewer distinct hashes. A value that is a remembered hash as it is
        (lowercase, nothing around it: the memo's own key) is answered
        without parsing: in a long search, most values of most chunks."""
        remembered = [self.memo.get(value) if value.__class__ is str else None for value in values]
        keys_of = [[] if known else _keys(value) for value, known in zip(values, remembered)]
        keys = list(dict.fromkeys(key for value_keys in keys_of for key in value_keys if key))
        several = any(len(value_keys) > 1 for value_keys in keys_of)
        outcome = ChunkOutcome(events=events, multivalue=self.keys if several else self.list_keys)
        answers = self._answers(keys, outcome)
        known = {answered.record["hash"] for answered in remembered if answered}
        remembered_only = len(known.difference(answers))
        outcome.hashes += remembered_only
        outcome.memo_hits += remembered_only
        outputs = []
        for value_keys, answered_before in zip(keys_of, remembered):
            answered = [answered_before] if answered_before else \
                [answers[key] if key else self._no_hash for key in value_keys] or [self._no_hash]
            if not several:  # the usual case: one hash an event, rendered once a search
                outputs.append(answered[0].output)
            elif len(answered) == 1:
                outputs.append(self._render(answered[0].record, self.keys, self.keys))
            else:
                outputs.append(self._render(self._merge([each.record for each in answered]), self.keys, self.keys))
        self.hash_seen = self.hash_seen or bool(keys) or bool(known)
        return outputs, outcome

    def _answered(self, record: Record) -> Answered:
        return Answered(record, self._render(record, self.keys, self.list_keys))

    def _answers(self, keys: List[str], outcome: ChunkOutcome) -> Dict[str, Answered]:
        """An answer for every one of the distinct ``keys``, from the memo or
        looked up."""
        outcome.hashes = len(keys)
        answers: Dict[str, Answered] = {}
        needed = []
        for key in keys:
            remembered = self.memo.get(key)
            if remembered is not None:
                answers[key] = remembered
            else:
                needed.append(key)
        outcome.memo_hits = len(answers)
        if needed:
            early: Dict[str, Answered] = {}  # rendered as their batch arrived, while later batches were in flight

            def arrived(record: Record) -> None:
                early[record["hash"]] = self._answered(record)

            for key, record in zip(needed, self._build(needed, outcome, arrived)):
                answered = early.get(record["hash"])
                if answered is None or answered.record is not record:
                    answered = self._answered(record)
                answers[key] = answered
                if record["status"] in (FOUND, NOT_FOUND):
                    self.memo.put(record["hash"], answered)
        return answers

    def _build(self, keys: List[str], outcome: ChunkOutcome, arrived: Callable[[Record], None]) -> List[Record]:
        request = ActionRequest(hashes=tuple(keys), question=self.options.question)
        if self.failure is None and any(map(hash_type, keys)):
            try:
                client = self._client or self._connect()
                self._client = client
                records, outcome.errors = build_records(request, client, self.options.with_summary, self._lookup,
                                                        on_record=arrived)
                outcome.looked_up = sum(1 for record in records if record["status"] != INVALID)
                return records
            except ConfigurationError as err:
                self.failure = err
        records, _ = build_records(request, None, self.options.with_summary,  # type: ignore[arg-type]
                                   failing_lookup(str(self.failure or "")))
        return records

    def _merge(self, records: List[Record]) -> Record:
        merged: Record = {}
        for key in self.keys:
            if key in LIST_KEYS:
                merged[key] = list(dict.fromkeys(item for record in records for item in record[key]))
            else:
                merged[key] = [record[key] for record in records]
        return merged


def _keys(value: FieldValue) -> List[Optional[str]]:
    """What each hash of a field value is looked up and answered by: a valid
    hash normalized, anything else as it was given (trimmed). Several hashes
    in one value are split as on every platform; an empty item of a
    multivalue field keeps its place (None, answered no_hash) so that the
    outputs line up with the field."""
    if isinstance(value, list):
        return [_key(found) if found else None for item in value for found in (split_hashes(item) or [None])]
    if not value:
        return []
    if hash_type(value):  # the usual value: one hash, as the memo keeps it, checked once
        return [value]
    return [_key(item) for item in split_hashes(value)]


def _key(value: str) -> str:
    normalized = normalize(value)
    return normalized if hash_type(normalized) else value.strip()
