"""The one lookup path every adapter takes.

An adapter (the CLI, the Splunk command and alert action, the SOAR
connector, the rules engine) builds one ``LookupService`` for its run, with
its client and its answer store, and asks it for answers::

    adapter -> LookupService.answers -> AnswerStore.get -> lookup -> client.list_samples -> HTTP

Answers come a batch at a time as they arrive: first those the store kept,
then the appliance's. The appliance's are kept in the store as they arrive,
``WRITE_GROUP`` answers a transaction, and all of them by the time the lookup
ends (or its reader stops): a transaction on a SQLite file costs a few
milliseconds, about as long as the appliance takes to answer a batch over
several connections, so one a batch would hold every later batch up. The
last round's batches (fewer hashes left than the connections carry at once)
are kept one by one as they arrive: a group kept after the last batch would
hold up the caller's answer, with no request left in flight to hide it.

The service owns the one state that outlives a lookup: a refusal (a refused
token, a URL that is not an appliance, a certificate that cannot be
verified), which every later request would meet alike. From the refusal on,
no request is sent, not in this lookup nor in any later one of the run, and
every hash is answered with the refusal as its error, so that each still
gets a record saying why.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Callable, NamedTuple, Optional, Union

from .cache import AnswerStore, scope_of
from .client import SpectraAnalyzeClient
from .errors import ConfigurationError
from .lookup import Answer, Question, lookup
from .names import Status

# Answers kept in the store in one transaction: some 20 batches of the default size.
WRITE_GROUP = 2000
Connect = Callable[[], SpectraAnalyzeClient]


class Requests(NamedTuple):
    """Requests sent to the appliance (retries included) and those it answered
    with any HTTP status: apart, an unreachable appliance shows as such."""

    attempted: int = 0
    answered: int = 0

    def since(self, before: Requests) -> Requests:
        return Requests(self.attempted - before.attempted, self.answered - before.answered)


class LookupService:
    """Looks hashes up for one run of an adapter. Use from one thread.

    ``client`` is the appliance's client, or a function that makes it the
    first time a hash has to be asked (the Splunk command reads the token only
    then); a ``ConfigurationError`` it raises is kept like a refusal. A
    ``failure`` known before (unreadable settings) is kept from the start,
    and then ``client`` may be None.
    ``store`` keeps answers between runs (``connector.cache``); None asks the
    appliance every time. ``close`` closes the client and the store.
    """

    def __init__(
        self,
        client: Union[SpectraAnalyzeClient, Connect, None],
        *,
        store: Optional[AnswerStore] = None,
        failure: Optional[ConfigurationError] = None,
    ) -> None:
        if client is None and failure is None:
            raise ValueError("a LookupService needs a client, or the failure that leaves it without one")
        self._client = client if isinstance(client, SpectraAnalyzeClient) else None
        self._connect = None if isinstance(client, SpectraAnalyzeClient) else client
        self.store = store
        self.failure = failure
        self.kept = 0  # answers taken from the store rather than asked of the appliance

    def __repr__(self) -> str:
        return f"LookupService(client={self._client!r}, store={self.store!r}, failure={self.failure!r})"

    def __enter__(self) -> LookupService:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
        if self.store is not None:
            self.store.close()

    @property
    def requests(self) -> Requests:
        """The requests of the run so far."""
        if self._client is None:
            return Requests()
        return Requests(self._client.requests_sent, self._client.requests_answered)

    def client(self) -> SpectraAnalyzeClient:
        """The appliance's client, made if need be. Raises the kept ``ConfigurationError``."""
        client = self._connected()
        if client is None:
            assert self.failure is not None  # nothing else leaves the service without a client
            raise self.failure
        return client

    def answers(self, hashes: Sequence[str], question: Question) -> Iterator[dict[str, Answer]]:
        """An answer for each of ``hashes`` (normalized, valid), a batch at a
        time: the kept ones first, then the appliance's as they arrive. Raises
        nothing: a failed batch or a refusal makes error answers."""
        wanted = list(dict.fromkeys(hashes))
        client = self._connected() if wanted else None
        if client is None:
            if wanted:
                yield self._refused(wanted)
            return
        scope = scope_of(client.config.url, question)
        kept = self.store.get(scope, wanted) if self.store is not None else {}
        self.kept += len(kept)
        if kept:
            yield kept
        unanswered = dict.fromkeys(value for value in wanted if value not in kept)
        if not unanswered:
            return
        pending: dict[str, Answer] = {}
        last_round = client.config.batch_size * client.config.max_connections
        try:
            for batch in lookup(client, list(unanswered), question):
                for value in batch:
                    unanswered.pop(value, None)
                if self.store is not None:
                    pending.update(batch)
                    # In the last round, each batch is kept as it arrives, while the
                    # others are in flight: nothing is left to keep after the last.
                    if len(pending) >= WRITE_GROUP or len(unanswered) < last_round:
                        self.store.put(scope, pending)
                        pending = {}
                yield batch
        except ConfigurationError as err:
            self.failure = err
        finally:
            if self.store is not None:
                if pending:
                    self.store.put(scope, pending)
                self.store.trim()
        if unanswered and self.failure is not None:
            yield self._refused(list(unanswered))

    def _connected(self) -> Optional[SpectraAnalyzeClient]:
        if self.failure is None and self._client is None and self._connect is not None:
            try:
                self._client = self._connect()
            except ConfigurationError as err:
                self.failure = err
        return None if self.failure is not None else self._client

    def _refused(self, hashes: Sequence[str]) -> dict[str, Answer]:
        failed = Answer(Status.ERROR, error=str(self.failure))
        return {value: failed for value in hashes}
