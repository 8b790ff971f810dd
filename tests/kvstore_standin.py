"""A stand-in of Splunk's KV store data endpoints, from Splunk's REST API
reference ("KV store endpoint descriptions") and limits.conf [kvstore]:

- ``GET  .../storage/collections/data/<collection>``: ``query`` (JSON: field
  equality, ``$and``, ``$or``, ``$not``... of which this keeps ``$and``, ``$or``,
  ``$gt``, ``$gte``, ``$lt``, ``$lte``, ``$ne``), ``sort`` (``field:1`` or
  ``field:-1``, comma separated), ``skip``, ``limit`` (0: no limit), ``fields``
  (``_key`` always comes); at most ``max_rows_per_query`` (50000) documents.
- ``POST .../<collection>/batch_save``: a JSON array of documents, at most
  ``max_documents_per_batch_save`` (1000) and ``max_size_per_batch_save_mb``
  (50 MB); each replaces the document of its ``_key``; answers the keys.
- ``DELETE .../<collection>`` with a ``query``: the matching documents;
  without: every document.
- An unknown collection: 404. A query the store cannot parse: 400.

Faults, as a member meets them: ``"initializing"`` (503, "KV Store is
initializing. Please try again later.", as splunkd answers while mongod
starts), ``"down"`` (the connection closed without an answer), ``"slow"``
(answers after ``delay`` seconds), ``"malformed"`` (a query answers documents
that are no answers), ``"garbage"`` (a body that is not JSON); ``"read_only"``
(403 for a write, as for a user whose role the collection's ``write`` ACL
leaves out).

    kv = KVStore({"spectra_analyze_answers"})
    SplunkdStandIn(key, credentials, kvstore=kv)   # one per member, kv shared
    kv.documents["spectra_analyze_answers"]        # _key -> document
    kv.calls                                       # (method, action) of every request
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Callable, Optional

MAX_ROWS_PER_QUERY = 50000
MAX_DOCUMENTS_PER_BATCH_SAVE = 1000
MAX_SIZE_PER_BATCH_SAVE = 50 * 1024 * 1024
INITIALIZING = "KV Store is initializing. Please try again later."
_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "$gt": lambda a, b: a > b,
    "$gte": lambda a, b: a >= b,
    "$lt": lambda a, b: a < b,
    "$lte": lambda a, b: a <= b,
    "$ne": lambda a, b: a != b,
}


class QueryError(ValueError):
    pass


class KVStore:
    def __init__(self, collections: Iterable[str], *, fault: Optional[str] = None, delay: float = 0.0) -> None:
        self.documents: dict[str, dict[str, dict[str, Any]]] = {name: {} for name in collections}
        self.fault = fault
        self.delay = delay
        self.calls: list[tuple[str, str]] = []
        self.longest_query = 0
        self._lock = threading.Lock()

    def answer(
        self, method: str, app: str, route: Sequence[str], query: Mapping[str, str], body: bytes
    ) -> tuple[Optional[int], str]:
        action = route[1] if len(route) > 1 else ""
        self.calls.append((method, action or "data"))
        self.longest_query = max(self.longest_query, len(query.get("query", "")))
        if self.fault == "down":
            return None, ""
        if self.fault == "initializing":
            return 503, _messages(INITIALIZING)
        if self.fault == "slow":
            time.sleep(self.delay)
        if self.fault == "garbage":
            return 200, "<html>Service Unavailable</html>"
        if self.fault == "read_only" and method != "GET":
            return 403, _messages("User does not have write permission on the collection")
        if not route or route[0] not in self.documents:
            return 404, _messages(f"Collection not found: {route[0] if route else ''}")
        with self._lock:
            try:
                return self._serve(method, self.documents[route[0]], action, query, body)
            except QueryError as err:
                return 400, _messages(str(err))

    def _serve(
        self, method: str, documents: dict[str, dict[str, Any]], action: str, query: Mapping[str, str], body: bytes
    ) -> tuple[int, str]:
        if method == "POST" and action == "batch_save":
            return self._batch_save(documents, body)
        if action:
            return 404, _messages(f"no such endpoint: {action}")
        selector = _parse(query.get("query", "{}"))
        if method == "DELETE":
            for key in [key for key, document in documents.items() if _matches(document, selector)]:
                del documents[key]
            return 200, ""
        if method != "GET":
            return 405, _messages("method not allowed")
        found = _by_key(documents, selector)
        if found is None:
            found = [document for document in documents.values() if _matches(document, selector)]
        for field, direction in reversed(_sort(query.get("sort", ""))):
            found.sort(key=lambda document: _order(document.get(field)), reverse=direction < 0)
        skip, limit = int(query.get("skip") or 0), int(query.get("limit") or 0)
        found = found[skip : skip + min(limit or MAX_ROWS_PER_QUERY, MAX_ROWS_PER_QUERY)]
        if self.fault == "malformed":
            return 200, json.dumps([_broken(document, n) for n, document in enumerate(found)] + ["not a document"])
        fields = [name for name in query.get("fields", "").split(",") if name]
        if fields:
            found = [{name: document[name] for name in ["_key", *fields] if name in document} for document in found]
        return 200, json.dumps(found)

    @staticmethod
    def _batch_save(documents: dict[str, dict[str, Any]], body: bytes) -> tuple[int, str]:
        if len(body) > MAX_SIZE_PER_BATCH_SAVE:
            return 400, _messages(
                "Request exceeds API limits - see limits.conf for details. (max_size_per_batch_save_mb)"
            )
        batch = _parse(body.decode("utf-8") or "null")
        if not isinstance(batch, list) or not all(isinstance(document, dict) for document in batch):
            raise QueryError("batch_save expects a JSON array of objects")
        if len(batch) > MAX_DOCUMENTS_PER_BATCH_SAVE:
            return 400, _messages(
                "Request exceeds API limits - see limits.conf for details. (max_documents_per_batch_save)"
            )
        keys = []
        for document in batch:
            key = str(document.get("_key") or uuid.uuid4().hex)
            documents[key] = dict(document, _key=key)
            keys.append(key)
        return 200, json.dumps(keys)


def _parse(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        raise QueryError(f"Invalid JSON: {text[:80]}") from None


def _by_key(documents: Mapping[str, dict[str, Any]], selector: Any) -> Optional[list[dict[str, Any]]]:
    """The documents of an ``$or`` of ``_key`` equalities, through the key's
    index as the KV store finds them; None for any other query."""
    clauses = selector.get("$or") if isinstance(selector, dict) and list(selector) == ["$or"] else None
    if not isinstance(clauses, list) or not all(
        isinstance(clause, dict) and list(clause) == ["_key"] and isinstance(clause["_key"], str) for clause in clauses
    ):
        return None
    keys = dict.fromkeys(clause["_key"] for clause in clauses)
    return [documents[key] for key in keys if key in documents]


def _matches(document: Mapping[str, Any], selector: Any) -> bool:
    if not isinstance(selector, dict):
        raise QueryError("a query is a JSON object")
    for field, wanted in selector.items():
        if field in ("$and", "$or"):
            if not isinstance(wanted, list):
                raise QueryError(f"{field} takes an array")
            results = [_matches(document, part) for part in wanted]
            if not (all(results) if field == "$and" else any(results)):
                return False
        elif field.startswith("$"):
            raise QueryError(f"unsupported operator {field}")
        elif isinstance(wanted, dict):
            for operator, operand in wanted.items():
                if operator not in _COMPARE:
                    raise QueryError(f"unsupported operator {operator}")
                value = document.get(field)
                if value is None or not _COMPARE[operator](_order(value), _order(operand)):
                    return False
        elif document.get(field) != wanted:
            return False
    return True


def _sort(text: str) -> list[tuple[str, int]]:
    order = []
    for part in filter(None, text.split(",")):
        field, _, direction = part.partition(":")
        order.append((field, -1 if direction.strip() == "-1" else 1))
    return order


def _order(value: Any) -> tuple[int, Any]:
    """Values of mixed types compare as BSON orders them: null, numbers, text."""
    if value is None:
        return (0, 0)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (1, value)
    return (2, str(value))


def _broken(document: Mapping[str, Any], n: int) -> dict[str, Any]:
    """A document under the asked key that is no answer: each a different way."""
    kinds = [
        {"status": "found", "item": "{not json"},
        {"status": ["found"], "item": None},
        {"status": "found", "item": json.dumps({"classification": "malicious"}), "stored": "yesterday"},
        {"status": "found", "item": json.dumps({"sha1": "x", "riskscore": "high"})},
    ]
    return {"_key": document["_key"], "stored": document.get("stored"), **kinds[n % len(kinds)]}


def _messages(text: str) -> str:
    return json.dumps({"messages": [{"type": "ERROR", "text": text}]})
