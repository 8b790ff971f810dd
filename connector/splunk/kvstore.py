"""One answer cache for a whole search head cluster, in Splunk's KV store.

The app's collection (``default/collections.conf``) is read and written
through splunkd's REST API (``storage/collections/data/<collection>``) with
the session splunkd gives the search or the alert action. A document is one
answer; its ``_key`` is the look-up key (the question's scope and the hash),
so reads are by key::

    {"_key": "<scope>:<hash>", "status": "found", "item": "<report JSON>",
     "stored": 1700000000.0, "expires": 1700086400.0, "seal": "<64 hex digits>"}

Every role may write the collection through the REST API (``default.meta``),
so a document is trusted only when its ``seal`` verifies (``connector.cache.Seal``,
HMAC-SHA256 over scope, hash, status, ``stored`` and the report). The key is
derived from the appliance's API token (``token_key``): the one secret every
member of the cluster already shares, and that a user who may write the
collection is not given. A document that does not verify (edited, written by
an older version of the app, or with another token) is a miss: its hash is
asked of the appliance again and the document overwritten. A new token makes
every kept answer a miss once.

How long an answer is kept is the core's rule (``connector.cache.lifetime``):
``expires`` is when it stops being fresh, and a read also checks ``stored``
against today's settings, as the SQLite file does. Bounded: after a lookup
that wrote answers, the expired ones are deleted by query, then the oldest
past ``cache_max_entries`` by key. A search writes only the answers it got
from the appliance, never errors.

A store that fails (splunkd unreachable, KV store down or initializing, a
request slower than ``TIMEOUT``, a run's requests slower than ``BUDGET`` in
all, an answer that is not what the API returns) is not asked again in the
run: the search goes on with the local file (or none), and ``trouble`` says
why, once. A document that is not an answer is ignored and its hash asked
again; a user who may not write the collection still reads it.
"""

from __future__ import annotations

import hmac
import http.client
import json
import logging
import socket
import ssl
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Callable, Optional, Union
from urllib.parse import quote, urlencode, urlsplit

from ..cache import AnswerStore, Seal, item_text, lifetime, without_collection
from ..config import CacheSettings, cache_settings
from ..errors import ConfigurationError, SpectraAnalyzeError, excerpt
from ..lookup import Answer
from ..settings import SETTING
from .conf import CACHE_FOLDER, AppSettings, app_cache

COLLECTION = "spectra_analyze_answers"
# A slow KV store costs a search at most this once: then it is left alone.
TIMEOUT = 3.0
# limits.conf [kvstore] max_documents_per_batch_save (default 1000); the
# size per request (max_size_per_batch_save_mb, default 50 MB) is kept well
# under with a budget of our own.
MAX_SAVE_DOCUMENTS = 1000
MAX_SAVE_BYTES = 8 * 1024 * 1024
# A read's query travels in the URL: keep the request line short enough for
# any proxy or server in between.
MAX_QUERY_CHARS = 6000
# The oldest answers past the size limit dropped after one lookup, at most.
MAX_TRIM = 5000
# Seconds a run may spend on the KV store in all: a store that answers each
# request just within TIMEOUT would otherwise slow a search by that much a
# request (10,000 answers are some 170 reads).
BUDGET = 30.0
# Roles in server/info's server_roles of a search head cluster member.
CLUSTER_ROLES = ("shc_member", "shc_captain")
log = logging.getLogger(__name__)


class KVStoreError(SpectraAnalyzeError):
    """The KV store could not be used; the message says why, on one line.
    ``status`` is splunkd's HTTP status, when it answered."""


class Splunkd:
    """splunkd's REST API with one session key. Like splunklib, it does not
    check splunkd's certificate: the address is the one splunkd gave the
    search (its own management port), and splunkd's certificate is most
    often its self-signed default."""

    def __init__(self, uri: str, session_key: str, app: str, *, timeout: float = TIMEOUT) -> None:
        parts = urlsplit(uri)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise KVStoreError(f"splunkd's address is not http(s)://host:port: {excerpt(uri, None)}")
        self._parts = parts
        self._key = session_key
        self.app = app
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"Splunkd(uri={self._parts.geturl()!r}, app={self.app!r})"  # never the session key

    def call(self, method: str, path: str, query: Optional[Mapping[str, str]] = None, body: Any = None) -> Any:
        """The JSON answer of one request. Raises ``KVStoreError``."""
        target = path + ("?" + urlencode(query) if query else "")
        data = None if body is None else json.dumps(body, separators=(",", ":")).encode("utf-8")
        headers = {"Authorization": f"Splunk {self._key}", "Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        connection = self._connection()
        try:
            connection.request(method, target, body=data, headers=headers)
            response = connection.getresponse()
            status, raw = response.status, response.read()
        except socket.timeout:
            raise KVStoreError(f"splunkd did not answer within {self.timeout:g}s") from None
        except (OSError, http.client.HTTPException) as err:
            raise KVStoreError(
                f"splunkd could not be reached ({type(err).__name__}: {excerpt(str(err), self._key)})"
            ) from None
        finally:
            connection.close()
        if status >= 300:
            raise KVStoreError(f"splunkd answered HTTP {status}: {_message(raw, self._key)}", status=status)
        try:
            return json.loads(raw.decode("utf-8")) if raw.strip() else None
        except ValueError:
            raise KVStoreError(
                f"splunkd's answer is not JSON: {excerpt(raw.decode('utf-8', 'replace'), self._key)}"
            ) from None

    def _connection(self) -> http.client.HTTPConnection:
        host, port = self._parts.hostname or "", self._parts.port
        if self._parts.scheme == "http":
            return http.client.HTTPConnection(host, port, timeout=self.timeout)
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return http.client.HTTPSConnection(host, port, timeout=self.timeout, context=context)


def _message(raw: bytes, secret: str) -> str:
    """splunkd's own words for a refusal: ``{"messages": [{"text": ...}]}``."""
    try:
        texts = [message["text"] for message in json.loads(raw.decode("utf-8"))["messages"]]
    except (ValueError, KeyError, TypeError):
        return excerpt(raw.decode("utf-8", "replace"), secret) or "(no message)"
    return excerpt("; ".join(str(text) for text in texts), secret)


def in_cluster(splunkd: Splunkd) -> bool:
    """Whether this search head is a member of a search head cluster, as
    server/info's ``server_roles`` says. Raises ``KVStoreError``."""
    answer = splunkd.call("GET", "/services/server/info", {"output_mode": "json"})
    try:
        roles = answer["entry"][0]["content"]["server_roles"]
    except (KeyError, IndexError, TypeError):
        raise KVStoreError("server/info has no server_roles") from None
    roles = [roles] if isinstance(roles, str) else roles
    return any(role in CLUSTER_ROLES for role in roles or ())


def token_key(token: str) -> bytes:
    """The seal's key for an appliance's answers, from its API token: the
    same on every member that asks that appliance, and never the token itself."""
    return hmac.digest(token.encode("utf-8"), b"spectra_analyze KV store answer seal", "sha256")


class KVStoreAnswers:
    """The KV store as an ``AnswerStore``; ``fallback`` opens the store used
    once the KV store has failed (the local file), or gives None. ``token``
    gives the appliance's API token, the seal's key (``token_key``), once
    the lookups have read it; before that nothing is read or written."""

    def __init__(
        self,
        splunkd: Splunkd,
        settings: CacheSettings,
        *,
        token: Callable[[], Optional[str]],
        collection: str = COLLECTION,
        fallback: Callable[[], Optional[AnswerStore]] = lambda: None,
        clock: Callable[[], float] = time.time,
        budget: float = BUDGET,
    ) -> None:
        self.settings = settings
        self._token = token
        self._seals: dict[str, Seal] = {}
        self.trouble: Optional[str] = None  # the first thing wrong with the KV store, for one warning
        self._down = False  # left for the rest of the run
        self._splunkd = splunkd
        self._path = (
            f"/servicesNS/nobody/{quote(splunkd.app, safe='')}/storage/collections/data/{quote(collection, safe='')}"
        )
        self._fallback_opener = fallback
        self._fallback: Optional[AnswerStore] = None
        self._clock = clock
        self._written = False
        self._read_only = False  # the user may read the collection, not write it
        self._budget = budget
        self._spent = 0.0

    def __repr__(self) -> str:
        return f"KVStoreAnswers(splunkd={self._splunkd!r}, path={self._path!r})"

    def get(self, scope: str, hashes: Sequence[str]) -> dict[str, Answer]:
        if self._down:
            return self._fallback.get(scope, hashes) if self._fallback else {}
        seal = self._seal()
        if seal is None:
            return {}
        answers: dict[str, Answer] = {}
        now = self._clock()
        wanted = {_key(scope, value): value for value in hashes}
        ignored = 0
        try:
            with without_collection():
                for keys in _read_batches(list(wanted)):
                    query = {
                        "query": _json({"$or": [{"_key": key} for key in keys]}),
                        "fields": "_key,status,item,stored,seal",
                        "output_mode": "json",
                    }
                    for document in self._documents(self._call("GET", self._path, query)):
                        value = wanted.get(document["_key"])
                        answer = NOT_AN_ANSWER if value is None else self._fresh(seal, scope, value, document, now)
                        if isinstance(answer, Answer):
                            answers[wanted[document["_key"]]] = answer
                        elif answer is NOT_AN_ANSWER:
                            ignored += 1
        except KVStoreError as err:
            self._leave("cannot be read", err)
            return self.get(scope, hashes)
        if ignored:
            self._note(
                f"{ignored} document(s) of the KV store collection {COLLECTION} failed their checksum "
                "(edited, not written by this version of the app, or kept with another API token); their "
                "hashes were asked of the appliance again"
            )
        return answers

    def put(self, scope: str, answers: Mapping[str, Answer]) -> None:
        if self._down:
            if self._fallback:
                self._fallback.put(scope, answers)
            return
        seal = self._seal()
        if self._read_only or seal is None:
            return
        now = self._clock()
        documents = [
            document
            for document in (self._document(seal, scope, value, answer, now) for value, answer in answers.items())
            if document
        ]
        try:
            for batch in _save_batches(documents):
                self._call("POST", self._path + "/batch_save", {"output_mode": "json"}, batch)
                self._written = True
        except KVStoreError as err:
            if err.status == 403:  # narrowed in local.meta: reading still saves requests
                self._read_only = True
                self._note(
                    f"the user running this search may not write the KV store collection {COLLECTION} "
                    f"({err}); its answers are read, new ones are not kept"
                )
                return
            self._leave("cannot be written", err)
            self.put(scope, answers)

    def trim(self) -> None:
        """After a lookup that wrote: delete what has expired, then the oldest
        past ``max_entries``, by key (up to ``MAX_TRIM`` a time: a limit
        lowered by much is reached over several lookups)."""
        if self._down:
            if self._fallback:
                self._fallback.trim()
            return
        if not self._written:
            return
        self._written = False
        try:
            self._delete({"expires": {"$lt": self._clock()}})
            past = self._documents(
                self._call(
                    "GET",
                    self._path,
                    {
                        "sort": "stored:-1",
                        "skip": str(self.settings.max_entries),
                        "limit": str(MAX_TRIM),
                        "fields": "_key",
                        "output_mode": "json",
                    },
                )
            )
            for keys in _read_batches([document["_key"] for document in past]):
                self._delete({"$or": [{"_key": key} for key in keys]})
        except KVStoreError as err:
            self._leave("cannot be trimmed", err)

    def count(self) -> int:
        """The documents of the collection, read a page of keys at a time."""
        total, page = 0, 10000
        try:
            while True:
                keys = self._documents(
                    self._call(
                        "GET",
                        self._path,
                        {
                            "fields": "_key",
                            "sort": "_key:1",
                            "skip": str(total),
                            "limit": str(page),
                            "output_mode": "json",
                        },
                    )
                )
                total += len(keys)
                if len(keys) < page:
                    return total
        except KVStoreError as err:
            self._leave("cannot be read", err)
            return 0

    def clear(self) -> None:
        try:
            self._call("DELETE", self._path, {"output_mode": "json"})
        except KVStoreError as err:
            self._leave("cannot be cleared", err)

    def close(self) -> None:
        if self._fallback is not None:
            self._fallback.close()
            self._fallback = None

    def _call(self, method: str, path: str, query: Mapping[str, str], body: Any = None) -> Any:
        """One request, within what is left of the run's ``budget``. Raises ``KVStoreError``."""
        if self._spent > self._budget:
            raise KVStoreError(f"it has taken {self._spent:.0f}s in this run, more than the {self._budget:g}s allowed")
        started = time.monotonic()
        try:
            return self._splunkd.call(method, path, query, body)
        finally:
            self._spent += time.monotonic() - started

    def _delete(self, query: Mapping[str, Any]) -> None:
        self._call("DELETE", self._path, {"query": _json(query), "output_mode": "json"})

    def _seal(self) -> Optional[Seal]:
        """The seal of the appliance whose token the lookups have read, or None before."""
        token = self._token()
        if not token:
            return None
        if token not in self._seals:
            self._seals = {token: Seal(token_key(token))}
        return self._seals[token]

    def _fresh(
        self, seal: Seal, scope: str, value: str, document: Mapping[str, Any], now: float
    ) -> Union[Answer, None, _NotAnAnswer]:
        """The answer a document holds while it is fresh by today's settings;
        None once stale; ``NOT_AN_ANSWER`` for what does not verify."""
        status = document.get("status")
        kept_for = lifetime(self.settings, status) if isinstance(status, str) else None
        stored = document.get("stored")
        if kept_for is None or not isinstance(stored, (int, float)) or isinstance(stored, bool):
            return NOT_AN_ANSWER
        if stored <= now - kept_for:
            return None
        return seal.opened(scope, value, status, stored, document.get("item"), document.get("seal")) or NOT_AN_ANSWER

    def _document(self, seal: Seal, scope: str, value: str, answer: Answer, now: float) -> Optional[dict[str, Any]]:
        kept_for = lifetime(self.settings, answer.status)
        if kept_for is None:
            return None
        status, item = answer.status.value, item_text(answer)
        return {
            "_key": _key(scope, value),
            "status": status,
            "item": item,
            "stored": now,
            "expires": now + kept_for,
            "seal": seal.of(scope, value, status, now, item),
        }

    @staticmethod
    def _documents(answer: Any) -> list[dict[str, Any]]:
        """The documents of a query's answer: a list of objects, each with a
        text ``_key``. Raises ``KVStoreError`` for anything else."""
        if not isinstance(answer, list):
            raise KVStoreError(f"a query's answer is not a list of documents: {excerpt(str(answer), None)}")
        return [document for document in answer if isinstance(document, dict) and isinstance(document.get("_key"), str)]

    def _note(self, trouble: str) -> None:
        log.warning("%s", trouble)
        self.trouble = self.trouble or trouble

    def _leave(self, what: str, err: KVStoreError) -> None:
        """Stop using the KV store for the rest of the run: one warning."""
        self._down = True
        self._note(f"the KV store collection {COLLECTION} {what} ({err}); the search goes on without it")
        try:
            self._fallback = self._fallback_opener()
        except ConfigurationError as fault:
            log.warning("the local answer cache cannot be used either: %s", fault)


class _NotAnAnswer:
    """What a document holds that does not verify."""


NOT_AN_ANSWER = _NotAnAnswer()


def _key(scope: str, value: str) -> str:
    return f"{scope}:{value}"


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def _read_batches(keys: Sequence[str]) -> Iterator[list[str]]:
    """Keys in groups whose ``$or`` query stays under ``MAX_QUERY_CHARS`` once
    in the URL."""
    batch: list[str] = []
    size = len(quote('{"$or":[]}', safe=""))
    for key in keys:
        cost = len(quote(_json({"_key": key}), safe="")) + 3  # and the comma
        if batch and size + cost > MAX_QUERY_CHARS:
            yield batch
            batch, size = [], len(quote('{"$or":[]}', safe=""))
        batch.append(key)
        size += cost
    if batch:
        yield batch


def _save_batches(documents: Sequence[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    """Documents in groups within ``batch_save``'s limits."""
    batch: list[dict[str, Any]] = []
    size = 2
    for document in documents:
        cost = len(_json(document).encode("utf-8")) + 1
        if batch and (len(batch) >= MAX_SAVE_DOCUMENTS or size + cost > MAX_SAVE_BYTES):
            yield batch
            batch, size = [], 2
        batch.append(document)
        size += cost
    if batch:
        yield batch


def open_store(
    settings: AppSettings, app_dir: Path, splunkd: Optional[Splunkd], token: Callable[[], Optional[str]]
) -> tuple[Optional[AnswerStore], str]:
    """The answer store ``cache_store`` asks for, and which one it is
    ("kvstore", "file" or "" for none). The one place the app reads that
    setting. ``splunkd`` is None when the run has no session (no KV store);
    ``token`` gives the appliance's API token once read (the KV store's
    seal). Raises ``ConfigurationError`` for a bad setting."""

    def local() -> Optional[AnswerStore]:
        return app_cache(settings, app_dir)

    cache = cache_settings(dict(settings.appliance, cache_dir=str(app_dir / CACHE_FOLDER)))
    choice = SETTING["cache_store"].parse(settings.appliance.get("cache_store"))
    if cache is None:
        return None, ""
    if choice == "file" or splunkd is None:
        return local(), "file"
    if choice == "auto":
        try:
            clustered = in_cluster(splunkd)
        except KVStoreError as err:
            log.warning(
                "cache_store = auto: could not tell whether this search head is in a cluster (%s); "
                "using the local file",
                err,
            )
            clustered = False
        if not clustered:
            return local(), "file"
    return KVStoreAnswers(splunkd, cache, token=token, fallback=local), "kvstore"
