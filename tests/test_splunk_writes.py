"""The Splunk command's cache file written on a thread of its own
(``connector/splunk/writes.py``), through real SQLite files: a search reads
what it has kept, every write is done when the store closes, and a failed
write is a warning that stops nothing. Through SCP v2, the same in
tests/test_splunk_command.py (a memo of 0 leaves chunk 2 to the cache)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence

import pytest

from connector.cache import ResultCache
from connector.config import CacheSettings
from connector.lookup import Answer
from connector.names import Status
from connector.splunk.writes import WritesBehind

SCOPE = "scope"


def answers(count: int, start: int = 0) -> dict[str, Answer]:
    return {
        f"{index:040x}": Answer(Status.FOUND, item={"sha1": f"{index:040x}", "classification": "MALICIOUS"})
        if index % 2
        else Answer(Status.NOT_FOUND)
        for index in range(start, start + count)
    }


@pytest.fixture
def settings(tmp_path):
    return CacheSettings(str(tmp_path))


def test_a_search_reads_what_it_kept_and_every_answer_is_kept_when_it_closes(settings):
    store = WritesBehind(ResultCache(settings), lambda: ResultCache(settings))
    for start in range(0, 1000, 100):  # batches, as a lookup keeps them
        store.put(SCOPE, answers(100, start))
    store.trim()
    assert store.get(SCOPE, list(answers(1000))) == answers(1000)  # no write asked before is left out
    store.put(SCOPE, answers(100, 1000))
    store.close()

    with ResultCache(settings) as again:
        assert again.get(SCOPE, list(answers(1100))) == answers(1100)


class Recording:
    """A store that notes which thread each write ran on, and fails one."""

    def __init__(self) -> None:
        self.threads: list[str] = []
        self.kept: dict[str, Answer] = {}
        self.closed = False

    def get(self, scope: str, hashes: Sequence[str]) -> dict[str, Answer]:
        return {value: self.kept[value] for value in hashes if value in self.kept}

    def put(self, scope: str, given: Mapping[str, Answer]) -> None:
        self.threads.append(threading.current_thread().name)
        if "fail" in given:
            raise OSError("disk full")
        self.kept.update(given)

    def trim(self) -> None:
        self.threads.append(threading.current_thread().name)

    def count(self) -> int:
        return len(self.kept)

    def clear(self) -> None:
        self.kept.clear()

    def close(self) -> None:
        self.closed = True


def test_writes_run_in_order_off_the_callers_thread_and_a_failed_one_stops_nothing(caplog):
    writes = Recording()
    reads = Recording()
    reads.kept = writes.kept  # one file, two connections
    store = WritesBehind(reads, lambda: writes)
    with caplog.at_level(logging.WARNING):
        store.put(SCOPE, answers(2))
        store.put(SCOPE, {"fail": Answer(Status.FOUND, item={})})
        store.put(SCOPE, answers(2, 2))
        store.trim()
        assert store.count() == 4 and store.get(SCOPE, ["fail"]) == {}
        store.close()

    assert writes.threads == ["spectra-cache-writes"] * 4
    assert writes.closed and reads.closed
    assert [record.getMessage() for record in caplog.records] == [
        "the answer cache could not keep a batch of answers: disk full"
    ]


def test_a_cache_that_cannot_be_opened_for_writing_keeps_nothing_and_says_so(settings, caplog):
    def refuse() -> ResultCache:
        raise OSError("read-only file system")

    with caplog.at_level(logging.WARNING):
        store = WritesBehind(ResultCache(settings), refuse)
        store.put(SCOPE, answers(3))
        assert store.get(SCOPE, list(answers(3))) == {}
        store.close()
    assert "could not be opened for writing (read-only file system)" in caplog.text
