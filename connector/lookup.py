"""Looking up many hashes: group by type, chunk by batch size, send the
batches over a bounded number of connections, and map every result item
back to the hash that was asked for.

A batch that fails becomes an error answer for each of its hashes; other
batches go through. Only configuration errors (token, URL, TLS) stop the
whole lookup, since every batch would fail the same way: no batch starts
after one is refused.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, NamedTuple, Optional, Union

from .client import SpectraAnalyzeClient
from .errors import ApplianceError, ConfigurationError
from .hashes import HASH_TYPES, hash_type
from .names import Status
from .validation import violation


@dataclass(frozen=True)
class Question:
    """What is asked of the appliance for every hash (also the cache key)."""

    fields: tuple[str, ...]
    skip_reanalysis: bool = True
    include_network_threat_intelligence: bool = False

    def request_fields(self) -> list[str]:
        """The fields sent: the asked ones plus every hash field, so that each
        result maps back to its hash whatever was asked."""
        if not self.fields:
            return []
        return list(dict.fromkeys(self.fields + HASH_TYPES))


class Answer(NamedTuple):
    """The appliance's answer for one hash. A named tuple, not a frozen
    dataclass: one is made per hash, and a tuple is made in half the time."""

    status: Status  # FOUND, NOT_FOUND or ERROR
    item: Optional[dict[str, Any]] = None
    error: Optional[str] = None


def plan_batches(hashes: Iterable[str], batch_size: int) -> list[tuple[str, list[str]]]:
    """(hash type, hashes) batches: one type per request, first-seen order."""
    by_type: dict[str, list[str]] = {}
    for value in dict.fromkeys(hashes):
        by_type.setdefault(hash_type(value) or "", []).append(value)
    by_type.pop("", None)
    return [
        (kind, values[start : start + batch_size])
        for kind, values in by_type.items()
        for start in range(0, len(values), batch_size)
    ]


def lookup(client: SpectraAnalyzeClient, hashes: Sequence[str], question: Question) -> Iterator[dict[str, Answer]]:
    """The answers for normalized, valid hashes, a batch at a time as batches
    arrive (not necessarily in order). A failed batch answers each of its
    hashes with an error; other batches go on.

    Raises ``ConfigurationError`` when a batch is refused (token, URL, TLS):
    every other batch would be refused alike, so none starts after that; the
    ones already in flight finish and their answers come first."""
    batches = plan_batches(hashes, client.config.batch_size)
    if len(batches) <= 1:  # nothing to overlap: no thread
        for kind, values in batches:
            yield _run_batch(client, kind, values, question)
        return
    # One connection too gets a worker of its own: the next batch is asked
    # while the caller deals with the last one.
    yield from _on_connections(client, batches, question, max(1, min(client.config.max_connections, len(batches))))


_DONE = object()  # what a connection's worker says when it takes no more batches


def _on_connections(
    client: SpectraAnalyzeClient, batches: list[tuple[str, list[str]]], question: Question, workers: int
) -> Iterator[dict[str, Answer]]:
    """``lookup`` over several connections. Each worker takes the next batch
    as soon as its own is answered, whatever the caller is doing with the
    answers: a caller that spends longer on a batch (records, cache writes,
    output) than the appliance takes to answer one leaves no connection idle.
    Answers wait in a queue meanwhile, at most the lookup's own. The caller's
    thread matches a batch's items to its hashes (checking each against the
    schema), not the worker: the workers' answers come in together, and each
    sends its next batch once it has the lock to read its own."""
    waiting = iter(batches)
    taking = threading.Lock()
    stop = threading.Event()  # a refusal, or the caller stopped reading
    arrived: queue.SimpleQueue[Any] = queue.SimpleQueue()

    def work() -> None:
        try:
            while True:
                with taking:
                    batch = None if stop.is_set() else next(waiting, None)
                if batch is None:
                    return
                try:
                    arrived.put((batch, _ask(client, batch[1], question)))
                except BaseException as err:  # a refusal, or a bug the caller must see
                    stop.set()
                    arrived.put(err)
        finally:
            arrived.put(_DONE)

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="spectra-batch") as pool:
        for _ in range(workers):
            pool.submit(work)
        refused: Optional[ConfigurationError] = None
        try:
            finished = 0
            while finished < workers:
                item = arrived.get()
                if item is _DONE:
                    finished += 1
                elif isinstance(item, ConfigurationError):
                    refused = refused or item  # the batches in flight finish, and their answers come first
                elif isinstance(item, BaseException):
                    raise item
                else:  # matched here, not by the worker: it sends its next batch sooner
                    (kind, values), asked = item
                    yield _answers(kind, values, asked)
        finally:
            stop.set()  # no batch starts once the caller stops reading (or fails)
    if refused is not None:
        raise refused


def _run_batch(client: SpectraAnalyzeClient, kind: str, values: list[str], question: Question) -> dict[str, Answer]:
    return _answers(kind, values, _ask(client, values, question))


def _ask(
    client: SpectraAnalyzeClient, values: list[str], question: Question
) -> Union[list[dict[str, Any]], ApplianceError]:
    """The result items for one batch, or why there are none. Raises
    ``ConfigurationError``: no batch gets an answer after a refusal."""
    try:
        return client.list_samples(
            values,
            question.request_fields(),
            skip_reanalysis=question.skip_reanalysis,
            include_network_threat_intelligence=question.include_network_threat_intelligence,
        )
    except ApplianceError as err:
        return err


def _answers(kind: str, values: list[str], asked: Union[list[dict[str, Any]], ApplianceError]) -> dict[str, Answer]:
    if isinstance(asked, ApplianceError):
        failed = Answer(Status.ERROR, error=str(asked))
        return {value: failed for value in values}
    return match_items(kind, values, asked)


def match_items(kind: str, values: Sequence[str], items: Sequence[dict[str, Any]]) -> dict[str, Answer]:
    """Map result items to the hashes of one batch. An invalid item is an
    error for its hash only. A hash with no item is not_found, unless some
    item could not be matched to any hash: then it may have been that one,
    so it is an error, never a silent not_found."""
    wanted = set(values)
    answers: dict[str, Answer] = {}
    unmatched = 0
    for item in items:
        key = _item_hash(item, kind)
        if key not in wanted:
            unmatched += 1
            continue
        problem = violation("result-item", item)
        answers[key] = (
            Answer(Status.ERROR, error=f"the appliance's report does not match the documented format: {problem}")
            if problem
            else Answer(Status.FOUND, item=item)
        )
    missing = (
        Answer(
            Status.ERROR,
            error=f"{unmatched} result(s) from the appliance could not be matched to a hash; "
            "this one's answer is unknown",
        )
        if unmatched
        else Answer(Status.NOT_FOUND)
    )
    for value in values:
        answers.setdefault(value, missing)
    return answers


def _item_hash(item: Any, kind: str) -> Optional[str]:
    if not isinstance(item, dict):
        return None
    value = item.get(kind)
    if value is None and kind == "sha1" and isinstance(item.get("summary"), dict):
        value = item["summary"].get("sha1")
    return value.strip().lower() if isinstance(value, str) else None
