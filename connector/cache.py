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

A kept answer is trusted without checking its report against the schema
again: it was checked when the appliance gave it, and each row carries a
keyed checksum (``Seal``, HMAC-SHA256) over everything a read uses. The key
is in a file of its own beside the database (``answers.key``, mode 0600),
never in it. A row whose checksum does not verify (a damaged file, a row
edited by hand or by another program, one written with another key or by a
version whose report schema differed) is a miss: its hash is asked of the
appliance again and the row overwritten, with one warning per read.
"""

from __future__ import annotations

import gc
import hashlib
import hmac
import json
import logging
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, Callable, Optional, Protocol

from .config import CacheSettings
from .lookup import Answer, Question
from .names import Status
from .validation import load_schema

log = logging.getLogger(__name__)

BUSY_TIMEOUT = 30.0
# SQLite allows 999 parameters per statement in builds before 3.32.
_READ_CHUNK = 900
# answers_v1 (before the seal) is dropped, not migrated: its rows were never
# sealed, and a day's answers are cheaper to ask again than to check again.
_SCHEMA = """
DROP TABLE IF EXISTS answers_v1;
CREATE TABLE IF NOT EXISTS answers_v2 (
    scope TEXT NOT NULL,
    hash TEXT NOT NULL,
    status TEXT NOT NULL,
    item TEXT,
    stored_at REAL NOT NULL,
    seal TEXT NOT NULL,
    PRIMARY KEY (scope, hash)
);
CREATE INDEX IF NOT EXISTS answers_v2_age ON answers_v2 (stored_at);
"""
KEY_FILE = "answers.key"
KEY_BYTES = 32


class AnswerStore(Protocol):
    """Where answers are kept between lookups: the SQLite file here, or a
    platform's own store (Splunk's KV store). A store never fails a lookup:
    one that cannot be read answers nothing, one that cannot be written
    keeps nothing, each with a warning."""

    def get(self, scope: str, hashes: Sequence[str]) -> dict[str, Answer]:
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
    key = json.dumps(
        [url, sorted(question.request_fields()), question.skip_reanalysis, question.include_network_threat_intelligence]
    )
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def _context() -> bytes:
    """What a seal is bound to besides its row: the seal's own version and
    the report schema that checked the item. A report kept by a version
    whose schema differed is checked again by being asked again."""
    schema = json.dumps(load_schema("result-item"), sort_keys=True, separators=(",", ":"))
    return b"answer-seal-1:" + hashlib.sha256(schema.encode("utf-8")).hexdigest().encode("ascii")


class Seal:
    """A keyed checksum (HMAC-SHA256) over what a kept answer holds: the
    scope, the hash, the status, when it was stored and the report text.

    Only what this program checked is sealed (``put`` is given the answers
    the appliance gave and ``lookup`` checked against the schema), so a row
    whose seal verifies is trusted as it is, and its report is not checked
    against the schema again on every read. The key never goes where the
    rows go: whoever can write a row but not read the key cannot make a row
    that verifies."""

    def __init__(self, key: bytes) -> None:
        # Bound to this version and schema (_CONTEXT), and keyed once: each
        # row's checksum starts from a copy of this state.
        self._keyed = hmac.new(hmac.digest(key, _CONTEXT, "sha256"), digestmod=hashlib.sha256)

    def __repr__(self) -> str:
        return "Seal(...)"  # never the key

    def of(self, scope: str, value: str, status: str, stored: float, item: Optional[str]) -> str:
        """The seal of one row, as hex text."""
        return self._checksum(scope, value, status, stored, b"" if item is None else _utf8(item))

    def opened(self, scope: str, value: str, status: Any, stored: Any, item: Any, seal: Any) -> Optional[Answer]:
        """The answer a row holds when its seal verifies; None when it does
        not (damaged, edited, another key or version) or the row is not an
        answer. ``item`` is the report's text or its UTF-8 bytes. Any type
        may come from a file or a document: none raises."""
        if isinstance(item, str):
            raw = _utf8(item)
        elif isinstance(item, bytes) or item is None:
            raw = item or b""
        else:
            return None
        if (
            status not in (Status.FOUND, Status.NOT_FOUND)
            or not isinstance(seal, str)
            or not isinstance(stored, (int, float))
            or isinstance(stored, bool)
        ):
            return None
        try:
            if not hmac.compare_digest(self._checksum(scope, value, status, stored, raw), seal):
                return None
        except TypeError:  # a seal with characters other than ASCII
            return None
        if status == Status.NOT_FOUND:
            return Answer(Status.NOT_FOUND)
        try:
            report = json.loads(raw)
        except ValueError:  # sealed text is this program's own JSON: only a leaked key gets here
            return None
        return Answer(Status.FOUND, item=report) if isinstance(report, dict) else None

    def _checksum(self, scope: str, value: str, status: str, stored: float, item: bytes) -> str:
        mac = self._keyed.copy()
        mac.update(_utf8(f"{scope}\x1f{value}\x1f{status}\x1f{float(stored)!r}\x1f") + item)
        return mac.hexdigest()


def _utf8(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


_CONTEXT = _context()


@contextmanager
def without_collection() -> Iterator[None]:
    """No cyclic garbage collection while kept reports are parsed.

    ``json.loads`` makes only acyclic objects, and a read keeps all of them:
    each collection it sets off walks every report parsed so far and frees
    none. That was about half of reading 20,000 answers. Reference counting
    still frees everything as usual; collection resumes as it was after."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def file_key(directory: str) -> bytes:
    """The key of the cache file in ``directory``: ``answers.key`` beside it,
    made on first use. Raises ``OSError``.

    Made atomically: written whole under a name of its own (mode 0600), then
    linked into place, so that a process never reads half a key, and of two
    processes making one at once, the first to link wins and the other
    takes its key. A key file that is not a key (cut, emptied) is replaced:
    the rows sealed with the old one are then misses, asked again."""
    path = os.path.join(directory, KEY_FILE)
    try:
        with open(path, "rb") as handle:
            key = handle.read(KEY_BYTES + 1)
        if len(key) == KEY_BYTES:
            return key
        log.warning(
            "the answer cache key %s is damaged; a new one replaces it, and the answers kept with the "
            "old one are asked again",
            path,
        )
        return _new_key(path, replace=True)
    except FileNotFoundError:
        return _new_key(path, replace=False)


def _new_key(path: str, *, replace: bool) -> bytes:
    key = os.urandom(KEY_BYTES)
    temporary = f"{path}.{os.getpid()}.{os.urandom(4).hex()}"
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o600)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(key)
            handle.flush()
            os.fsync(handle.fileno())
        if replace:
            os.replace(temporary, path)
            return key
        try:
            os.link(temporary, path)
        except FileExistsError:  # another process made it first: its key is the key
            with open(path, "rb") as handle:
                key = handle.read(KEY_BYTES + 1)
            if len(key) != KEY_BYTES:
                raise OSError(f"{path} holds {len(key)} bytes, not a key of {KEY_BYTES}") from None
        except OSError:  # no hard links on this file system
            if not os.path.exists(path):
                os.replace(temporary, path)
        return key
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


class ResultCache:
    """An open cache file. Use as a context manager, from one thread.

    ``clock`` gives the wall-clock time in seconds (injectable for tests).
    """

    def __init__(self, settings: CacheSettings, *, clock: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self._clock = clock
        self._seal: Optional[Seal] = None
        self._db: Optional[sqlite3.Connection] = self._open()

    def __repr__(self) -> str:
        return f"ResultCache(path={self.settings.path!r})"

    def __enter__(self) -> ResultCache:
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
            self._seal = Seal(file_key(self.settings.directory))
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
        hint = (
            " (delete the file to start afresh)"
            if isinstance(err, sqlite3.DatabaseError) and "not a database" in str(err)
            else ""
        )
        log.warning("the answer cache %s %s: %s%s; asking the appliance instead", self.settings.path, what, err, hint)

    def get(self, scope: str, hashes: Sequence[str]) -> dict[str, Answer]:
        """The fresh answers kept for these hashes whose seal verifies."""
        if self._db is None or self._seal is None or not hashes:
            return {}
        now = self._clock()
        found_since, not_found_since = now - self.settings.ttl, now - self.settings.not_found_ttl
        answers: dict[str, Answer] = {}
        untrusted = 0
        opened = self._seal.opened
        try:
            with without_collection():
                for start in range(0, len(hashes), _READ_CHUNK):
                    chunk = hashes[start : start + _READ_CHUNK]
                    rows = self._db.execute(
                        # the report as bytes: what the seal is computed over, and json.loads takes them
                        "SELECT hash, status, stored_at, CAST(item AS BLOB), seal FROM answers_v2 "
                        f"WHERE scope = ? AND hash IN ({_marks(len(chunk))}) "
                        "AND ((status = ? AND stored_at > ?) OR (status = ? AND stored_at > ?))",
                        [scope, *chunk, Status.FOUND.value, found_since, Status.NOT_FOUND.value, not_found_since],
                    )
                    for value, status, stored, item, seal in rows:
                        answer = opened(scope, value, status, stored, item, seal)
                        if answer is None:
                            untrusted += 1
                        else:
                            answers[value] = answer
        except sqlite3.Error as err:
            self._skip("cannot be read", err)
            return {}
        if untrusted:
            log.warning(
                "%d answer(s) in the answer cache %s failed their checksum (the file was damaged or "
                "edited, or written with another key): asking the appliance for them again",
                untrusted,
                self.settings.path,
            )
        return answers

    def put(self, scope: str, answers: Mapping[str, Answer]) -> None:
        """Keep found and not_found answers, never errors."""
        if self._seal is None:
            return
        rows = list(_rows(self._seal, scope, answers, self._clock()))
        if rows:
            self._write(lambda db: db.executemany("INSERT OR REPLACE INTO answers_v2 VALUES (?, ?, ?, ?, ?, ?)", rows))

    def trim(self) -> None:
        """Drop what has expired for every reader, then the oldest answers
        past ``max_entries``. Done once a lookup, not once a batch: counting
        the rows reads the whole index."""

        def drop(db: sqlite3.Connection) -> None:
            longest = max(self.settings.ttl, self.settings.not_found_ttl)
            db.execute("DELETE FROM answers_v2 WHERE stored_at <= ?", (self._clock() - longest,))
            (count,) = db.execute("SELECT COUNT(*) FROM answers_v2").fetchone()
            if count > self.settings.max_entries:
                db.execute(
                    "DELETE FROM answers_v2 WHERE rowid IN (SELECT rowid FROM answers_v2 ORDER BY stored_at LIMIT ?)",
                    (count - self.settings.max_entries,),
                )

        self._write(drop)

    def count(self) -> int:
        """The rows in the file (0 when it cannot be read)."""
        if self._db is None:
            return 0
        try:
            return int(self._db.execute("SELECT COUNT(*) FROM answers_v2").fetchone()[0])
        except sqlite3.Error as err:
            self._skip("cannot be read", err)
            return 0

    def clear(self) -> None:
        self._write(lambda db: db.execute("DELETE FROM answers_v2"))

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


def _rows(seal: Seal, scope: str, answers: Mapping[str, Answer], now: float) -> Iterable[tuple]:
    for value, answer in answers.items():
        if answer.status in (Status.FOUND, Status.NOT_FOUND):
            status, item = answer.status.value, item_text(answer)
            yield scope, value, status, item, now, seal.of(scope, value, status, now, item)


# One encoder for every row: json.dumps with any argument builds a new one each call.
_encode_compact = json.JSONEncoder(separators=(",", ":")).encode


def item_text(answer: Answer) -> Optional[str]:
    """A found answer's report as a store keeps it: compact JSON text."""
    return _encode_compact(answer.item) if answer.status == Status.FOUND else None


def _marks(count: int) -> str:
    return ",".join("?" * count)


def open_cache(settings: Optional[CacheSettings]) -> Optional[ResultCache]:
    """The cache the settings name, or None when they name none (the off switch)."""
    return ResultCache(settings) if settings is not None else None
