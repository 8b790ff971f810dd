"""Enriching one search's events, chunk by chunk, through the core.

Per chunk: the distinct hashes not yet answered in this search are looked up
together through the search's ``LookupService`` (batched by type, over
several connections), each rendered as its batch arrives; a bounded memo keeps found and not_found answers for later
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
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Callable, NamedTuple, Optional

from ..actions import invalid_record, record_of
from ..errors import ConfigurationError
from ..flatten import LIST_KEYS, RECORD_KEYS, REPORT_KEYS, empty_record
from ..hashes import hash_type, lookup_keys
from ..names import Status
from ..service import LookupService
from .chunk import FieldValue
from .options import CommandOptions

Record = dict[str, Any]


class RenderedRecord(NamedTuple):
    """A hash's record, and what the adapter's ``render`` made of it (the
    command's CSV cells): rendered once, used for every event with it."""

    record: Record
    output: Any


class Memo:
    """The answers of a search, least recently used dropped first."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._answers: OrderedDict[str, RenderedRecord] = OrderedDict()

    def __len__(self) -> int:
        return len(self._answers)

    def get(self, key: str) -> Optional[RenderedRecord]:
        answered = self._answers.get(key)
        if answered is not None:
            self._answers.move_to_end(key)
        return answered

    def put(self, key: str, answered: RenderedRecord) -> None:
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
    looked_up: int = 0  # valid hashes asked of the cache or the appliance
    failed: int = 0  # hashes whose record is an error
    errors: list[str] = field(default_factory=list)  # distinct lookup failures, but a refusal (said on its own)
    multivalue: tuple[str, ...] = ()  # the output keys that may hold several values in this chunk


class EventEnricher:
    """One search's enrichment through ``lookups``, which stops asking the
    appliance once it refuses (bad token, URL, TLS): from then on every valid
    hash gets an error record saying why, without any request. ``render``
    turns a record, its ``keys`` (the fields every event gets, in order) and
    those of them that may hold several values into what the adapter writes."""

    def __init__(
        self,
        options: CommandOptions,
        lookups: LookupService,
        render: Callable[[Record, Sequence[str], Sequence[str]], Any],
        *,
        memo_size: int,
    ) -> None:
        self.options = options
        self.lookups = lookups
        self.memo = Memo(memo_size)
        self.hash_seen = False  # whether any event so far had a value in the field
        self.keys = RECORD_KEYS if options.with_summary else REPORT_KEYS
        self.list_keys = tuple(key for key in self.keys if key in LIST_KEYS)
        self._render = render
        self._no_hash = self._answered(empty_record("", None, Status.NO_HASH, None, options.with_summary))

    @property
    def failure(self) -> Optional[ConfigurationError]:
        return self.lookups.failure

    def close(self) -> None:
        self.lookups.close()

    def enrich(self, values: Sequence[FieldValue], events: int) -> tuple[list[Any], ChunkOutcome]:
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
            answered = (
                [answered_before]
                if answered_before
                else [answers[key] if key else self._no_hash for key in value_keys] or [self._no_hash]
            )
            if not several:  # the usual case: one hash an event, rendered once a search
                outputs.append(answered[0].output)
            elif len(answered) == 1:
                outputs.append(self._render(answered[0].record, self.keys, self.keys))
            else:
                outputs.append(self._render(self._merge([each.record for each in answered]), self.keys, self.keys))
        self.hash_seen = self.hash_seen or bool(keys) or bool(known)
        return outputs, outcome

    def _answered(self, record: Record) -> RenderedRecord:
        return RenderedRecord(record, self._render(record, self.keys, self.list_keys))

    def _answers(self, keys: list[str], outcome: ChunkOutcome) -> dict[str, RenderedRecord]:
        """An answer for every one of the distinct ``keys``: from the memo, or
        looked up and rendered as its batch arrives, while later batches are
        in flight."""
        outcome.hashes = len(keys)
        answers: dict[str, RenderedRecord] = {}
        wanted = []
        with_summary = self.options.with_summary
        for key in keys:
            remembered = self.memo.get(key)
            if remembered is not None:
                answers[key] = remembered
                outcome.memo_hits += 1
            elif hash_type(key):
                wanted.append(key)
            else:
                answers[key] = self._answered(invalid_record(key, with_summary))
        outcome.looked_up = 0 if self.lookups.failure is not None else len(wanted)  # none is asked after a refusal
        errors: dict[str, None] = {}
        for batch in self.lookups.answers(wanted, self.options.question):
            for key, answer in batch.items():
                answers[key] = answered = self._answered(record_of(key, hash_type(key) or "", answer, with_summary))
                if answer.status in (Status.FOUND, Status.NOT_FOUND):
                    self.memo.put(key, answered)
                else:
                    outcome.failed += 1
                    errors[answered.record["error"]] = None
        if self.lookups.failure is not None:
            errors.pop(str(self.lookups.failure), None)
        outcome.errors = list(errors)
        return answers

    def _merge(self, records: list[Record]) -> Record:
        merged: Record = {}
        for key in self.keys:
            if key in LIST_KEYS:
                merged[key] = list(dict.fromkeys(item for record in records for item in record[key]))
            else:
                merged[key] = [record[key] for record in records]
        return merged


_NO_KEY: list[Optional[str]] = [None]  # an empty item keeps its place


def _keys(value: FieldValue) -> list[Optional[str]]:
    """The lookup keys of a field value. An empty item of a multivalue field
    keeps its place (None, answered no_hash) so that the outputs line up with
    the field."""
    if isinstance(value, list):
        return [key for item in value for key in (lookup_keys(item) or _NO_KEY)]
    if not value:
        return []
    if hash_type(value):  # the usual value: one hash, as the memo keeps it, checked once
        return [value]
    return list(lookup_keys(value))
