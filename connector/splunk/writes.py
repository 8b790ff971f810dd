"""The command's answer cache file, written on a thread of its own.

Keeping a batch of answers in the SQLite file (``connector.cache``) costs
more than checking, flattening and rendering it (benchmarks/README.md):
each report is encoded as JSON and sealed, and the rows inserted in one
transaction a batch; now and then SQLite checkpoints its log to disk. On the command's main thread that
work sat between one batch's arrival and the next, while splunkd waited for
the chunk's reply. Here the same writes, in the same order and the same
transactions, run on a thread with a connection of its own: the file's own
work (SQLite's, outside Python's interpreter lock) overlaps the requests in
flight and the main thread's own work.

Nothing else changes. A read waits until every write asked before it is
done, so a search reads what it has kept, as it did. ``close`` waits for the
last write: when the command exits, every answer is kept. A write that fails
is a warning, as it is without the thread (the file store never raises); the
thread never stops before ``close``.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Mapping, Sequence
from typing import Callable, Optional

from ..cache import AnswerStore
from ..lookup import Answer

log = logging.getLogger("spectra_analyze.command")
_CLOSE = object()  # tells the thread to close its store and end


class WritesBehind:
    """An ``AnswerStore``: ``reads`` answers reads (on the caller's thread),
    and a second store that ``open_writes`` opens on the writing thread
    (a SQLite connection belongs to the thread that opened it) keeps what
    ``put`` and ``trim`` are given, in order, one at a time."""

    def __init__(self, reads: AnswerStore, open_writes: Callable[[], Optional[AnswerStore]]) -> None:
        self._reads = reads
        self._queue: queue.Queue[object] = queue.Queue()
        self._thread = threading.Thread(
            target=self._write, args=(open_writes,), name="spectra-cache-writes", daemon=True
        )
        self._thread.start()

    def __repr__(self) -> str:
        return f"WritesBehind({self._reads!r})"

    @property
    def trouble(self) -> Optional[str]:
        return getattr(self._reads, "trouble", None)

    def get(self, scope: str, hashes: Sequence[str]) -> dict[str, Answer]:
        self._queue.join()  # read what this search has kept
        return self._reads.get(scope, hashes)

    def put(self, scope: str, answers: Mapping[str, Answer]) -> None:
        self._queue.put(lambda store: store.put(scope, answers))

    def trim(self) -> None:
        self._queue.put(lambda store: store.trim())

    def count(self) -> int:
        self._queue.join()
        return self._reads.count()

    def clear(self) -> None:
        self._queue.join()
        self._reads.clear()

    def close(self) -> None:
        """Wait for every write, then close both stores."""
        if self._thread.is_alive():
            self._queue.put(_CLOSE)
            self._thread.join()
        self._reads.close()

    def _write(self, open_writes: Callable[[], Optional[AnswerStore]]) -> None:
        store = None
        try:
            store = open_writes()
        except Exception as err:  # noqa: BLE001 (a setting read twice: it opened once already)
            log.warning("the answer cache could not be opened for writing (%s); answers are not kept", err)
        while True:
            change = self._queue.get()
            try:
                if change is _CLOSE:
                    if store is not None:
                        store.close()
                    return
                if store is not None:
                    change(store)  # type: ignore[operator]
            except Exception as err:  # noqa: BLE001 (a lost write is asked again; the search goes on)
                log.warning("the answer cache could not keep a batch of answers: %s", err)
            finally:
                self._queue.task_done()
