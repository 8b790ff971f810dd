"""A persistent cache of the appliance's answers, shared by every adapter.

One SQLite file (standard library) per folder. An answer is keyed by the
appliance URL, the question (fields, skip_reanalysis, network threat
intelligence: what an action asks; ``get_summary`` asks for ``summary`` too,
so the two actions never share answers) and the hash. Found answers are kept
``ttl`` seconds, not_found answers ``not_found_ttl`` seconds, errors never.
At most ``max_entries`` answers are kept: past that, the oldest go first.

Several processes may use one file at once (several searches, several alert
actions): the file is in WAL mode, so readers never wait, and a writer waits
up to ``BUSY_TIMEOUT`` seconds for another writer. A cache that cannot be
read or written never fails a lookup: it is skipped with a warning, and the
appliance answers instead.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import sqlite3
import time
from typing import Any, Callable, Dict, Iterable, Mapping, Optional, Protocol, Sequence

from .config import CacheSettings
from .lookup import Answer, Question
from .names import Status
from .validation import violation

log = logging.getLogger(__name__)

BUSY_TIMEOUT = 30.0
# SQLite allows 999 parameters per statement in builds before 3.32.
_READ_CHUNK = 900
_SCHEMA = """
CREATE TABLE IF NOT EXISTS answers_v1 (
    scope TEXT NOT NULL,
    hash TEXT NOT NULL,
    status TEXT NOT NULL,
    item TEXT,
    stored_at REAL NOT NULL,
    PRIMARY KEY (scope, hash)
);
CREATE INDEX IF NOT EXISTS answers_v1_age ON answers_v1 (stored_at);
"""


class AnswerStore(Protocol):
    """Where answers are kept between lookups: the SQLite file here, or a
    platform's own store (Splunk's KV store). A store never fails a lookup:
    one that cannot be read answers nothing, one that cannot be written
    keeps nothing, each with a warning."""

    def get(self, scope: str, hashes: Sequence[str]) -> Dict[str, Answer]:
        """The fresh answers kept for these hashes of ``scope``."""

    def put(self, scope: str, answers: Mapping[str, Answer]) -> None:
        """Keep found and not_found answers, never errors."""

    def trim(self) -> None:
        """Drop expired answers, then the oldest past the size limit."""

    def count(self) -> int:
        """How many answers are kept, fresh or not yet dropped."""

    def clear(self) -> None:
        """Drop every kept answer."""

    def close(self) -> None:
        """Let go of the store."""


def lifetime(settings: CacheSettings, status: str) -> Optional[float]:
    """Seconds an answer of ``status`` is kept: found ``ttl``, not_found
    ``not_found_ttl``; None for what is never kept (errors)."""
    return {Status.FOUND.value: settings.ttl, Status.NOT_FOUND.value: settings.not_found_ttl}.get(status)


def scope_of(url: str, question: Question) -> str:
    """The part of the key that is not the hash: appliance and question.
    A digest keeps every row short; field order does not change an answer."""
    key = json.dumps([url, sorted(question.request_fields()), question.skip_reanalysis,
                      question.include_network_threat_intelligence])
    return hashlib.sha256(key.encode()).hexdigest()[:32]


class ResultCache:
    """An open cache file. Use as a context manager, from one thread.

    ``clock`` gives the wall-clock time in seconds (injectable for tests).
    """

    def __init__(self, settings: CacheSettings, *, clock: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self._clock = clock
        self._db: Optional[sqlite3.Connection] = self._open()

    def __repr__(self) -> str:
        return f"ResultCache(path={self.settings.path!r})"

    def __enter__(self) -> "ResultCache":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def _open(self) -> Optional[sqlite3.Connection]:
        db = None
        try:
            os.makedirs(self.settings.directory, mode=0o700, exist_ok=True)
            db = sqlite3.connect(self.settings.path, timeout=BUSY_TIMEOUT, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")  # a lost answer after a power cut is only asked again
            db.executescript(_SCHEMA)
            return db
        except (OSError, sqlite3.Error) as err:
            if db is not None:
                db.close()
            self._skip("cannot be opened", err)
            return None

    def _skip(self, what: str, err: Exception) -> None:
        hint = " (delete the file to start afresh)" if isinstance(err, sqlite3.DatabaseError) and \
            "not a database" in str(err) else ""
        log.warning("the answer cache %s %s: %s%s; asking the appliance instead",
                    self.settings.path, what, err, hint)

    def get(self, scope: str, hashes: Sequence[str]) -> Dict[str, Answer]:
        """The fresh answers kept for these hashes."""
        if self._db is None or not hashes:
            return {}
        now = self._clock()
        found_since, not_found_since = now - self.settings.ttl, now - self.settings.not_found_ttl
        answers: Dict[str, Answer] = {}
        try:
            for start in range(0, len(hashes), _READ_CHUNK):
                chunk = hashes[start:start + _READ_CHUNK]
                rows = self._db.execute(
                    f"SELECT hash, status, item FROM answers_v1 WHERE scope = ? AND hash IN ({_marks(len(chunk))}) "
                    "AND ((status = ? AND stored_at > ?) OR (status = ? AND stored_at > ?))",
                    [scope, *chunk, Status.FOUND.value, found_since, Status.NOT_FOUND.value, not_found_since])
                for value, status, item in rows:
                    answer = kept_answer(status, item)
                    if answer is not None:
                        answers[value] = answer
        except sqlite3.Error as err:
            self._skip("cannot be read", err)
            return {}
        return answers

    def put(self, scope: str, answers: Mapping[str, Answer]) -> None:
        """Keep found and not_found answers, never errors."""
        rows = list(_rows(scope, answers, self._clock()))
        if rows:
            self._write(lambda db: db.executemany("INSERT OR REPLACE INTO answers_v1 VALUES (?, ?, ?, ?, ?)", rows))

    def trim(self) -> None:
        """Drop what has expired for every reader, then the oldest answers
        past ``max_entries``. Done once a lookup, not once a batch: counting
        the rows reads the whole index."""
        def drop(db: sqlite3.Connection) -> None:
            longest = max(self.settings.ttl, self.settings.not_found_ttl)
            db.execute("DELETE FROM answers_v1 WHERE stored_at <= ?", (self._clock() - longest,))
            (count,) = db.execute("SELECT COUNT(*) FROM answers_v1").fetchone()
            if count > self.settings.max_entries:
                db.execute("DELETE FROM answers_v1 WHERE rowid IN "
                           "(SELECT rowid FROM answers_v1 ORDER BY stored_at LIMIT ?)",
                           (count - self.settings.max_entries,))
        self._write(drop)

    def count(self) -> int:
        """The rows in the file (0 when it cannot be read)."""
        if self._db is None:
            return 0
        try:
            return int(self._db.execute("SELECT COUNT(*) FROM answers_v1").fetchone()[0])
        except sqlite3.Error as err:
            self._skip("cannot be read", err)
            return 0

    def clear(self) -> None:
        self._write(lambda db: db.execute("DELETE FROM answers_v1"))

    def _write(self, change: Callable[[sqlite3.Connection], Any]) -> None:
        """One transaction; a failure is a warning, never a failed lookup."""
        db = self._db
        if db is None:
            return
        try:
            db.execute("BEGIN IMMEDIATE")  # take the write lock now: no deadlock with another writer
            try:
                change(db)
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        except sqlite3.Error as err:
            self._skip("cannot be written", err)


def _rows(scope: str, answers: Mapping[str, Answer], now: float) -> Iterable[tuple]:
    for value, answer in answers.items():
        if answer.status in (Status.FOUND, Status.NOT_FOUND):
            yield scope, value, answer.status.value, item_text(answer), now


def item_text(answer: Answer) -> Optional[str]:
    """A found answer's report as a store keeps it: compact JSON text."""
    return json.dumps(answer.item, separators=(",", ":")) if answer.status == Status.FOUND else None


def kept_answer(status: Any, item: Optional[str]) -> Optional[Answer]:
    """A kept answer, or None when what was kept cannot be trusted (a file on
    disk, a document any app may have written): then the appliance is asked
    again."""
    if status == Status.NOT_FOUND:
        return Answer(Status.NOT_FOUND)
    if status != Status.FOUND or not isinstance(item, str):
        return None
    try:
        report = json.loads(item)
    except ValueError:
        return None
    return None if violation("result-item", report) else Answer(Status.FOUND, item=report)


def _marks(count: int) -> str:
    return ",".join("?" * count)



def open_cache(settings: Optional[CacheSettings]) -> Optional[ResultCache]:
    """The cache the settings name, or None when they name none (the off switch)."""
    return ResultCache(settings) if settings is not None else None
