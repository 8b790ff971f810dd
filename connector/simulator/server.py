"""The embedded appliance simulator: a real HTTP server on loopback that
behaves as the vendor documents ``POST /api/samples/v2/list/``.

It is for demos and tests only; nothing falls back to it silently.
"""

from __future__ import annotations

import json
import ssl
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Optional
from urllib.parse import parse_qs, urlsplit

from ..client import LIST_PATH
from ..hashes import hash_type
from ..validation import load_schema
from .corpus import Corpus
from .faults import FaultSchedule

STATUS_PATH = "/api/samples/status/"  # the vendor SDK asks it before every report
FIELDS = tuple(load_schema("action-parameters")["definitions"]["field"]["enum"])
EXPLICIT_ONLY = ("ticore", "ticloud", "summary", "aliases")
NO_CREDENTIALS = "Authentication credentials were not provided."
INVALID_TOKEN = "Invalid token."
BODIES_KEPT = 10_000


class ApiError(Exception):
    def __init__(self, status: int, payload: Any) -> None:
        super().__init__(status)
        self.status = status
        self.payload = payload


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # failed handshakes, clients that hang up: nothing to tell


class Simulator:
    """Serve the simulated appliance in a background thread.

    ``latency_ms`` delays every answer; ``page_size`` splits results into
    pages linked by ``next``. ``requests_served`` counts the API requests
    answered (report and status). ``faults`` injects failures (see ``faults``);
    ``tls`` serves HTTPS.
    """

    def __init__(
        self,
        token: str,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        latency_ms: float = 0,
        page_size: Optional[int] = None,
        corpus: Optional[Corpus] = None,
        faults: Optional[FaultSchedule] = None,
        tls: Optional[ssl.SSLContext] = None,
    ) -> None:
        self.token = token
        self.latency = latency_ms / 1000.0
        self.page_size = page_size
        self.corpus = corpus or Corpus()
        self.requests_served = 0
        # The latest request bodies, for tests; bounded, since a simulator may serve for days.
        self.bodies: deque[dict[str, Any]] = deque(maxlen=BODIES_KEPT)
        self.faults = faults or FaultSchedule()
        self.scheme = "https" if tls else "http"
        self._lock = threading.Lock()
        self._server = _QuietServer((host, port), _handler_for(self))
        self._server.daemon_threads = True
        if tls:
            # The handshake happens in the request's thread, so a stalled client cannot block accept().
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True, do_handshake_on_connect=False)
        self._thread: Optional[threading.Thread] = None

    def __repr__(self) -> str:
        return f"Simulator(url={self.url!r})"

    @property
    def url(self) -> str:
        host, port = self._server.socket.getsockname()[:2]
        return f"{self.scheme}://{host}:{port}"

    def start(self) -> Simulator:
        # A short poll interval makes stop() quick (tests start many servers).
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="spectra-simulator", daemon=True
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def answer(self, path: str, headers: Any, raw: bytes) -> tuple[int, Any]:
        """Status and JSON payload for one request."""
        parts = urlsplit(path)
        if parts.path not in (LIST_PATH, STATUS_PATH):
            return 404, {"detail": "Not found."}
        self._authenticate(headers.get("Authorization"))
        body = _parse_body(headers.get("Content-Type", ""), raw)
        with self._lock:
            self.requests_served += 1
            self.bodies.append(body)
        if self.latency:
            time.sleep(self.latency)
        if parts.path == STATUS_PATH:
            return 200, self._status(body, parts.query)
        results = self._results(body)
        return 200, self._page(results, parts.query, headers.get("Host", ""))

    def _authenticate(self, header: Optional[str]) -> None:
        if not header:
            raise ApiError(403, {"detail": NO_CREDENTIALS})
        scheme, _, token = header.partition(" ")
        if scheme != "Token" or token != self.token:
            raise ApiError(403, {"detail": INVALID_TOKEN})

    def _status(self, body: dict[str, list[str]], query: str) -> dict[str, Any]:
        """Whether each sample is processed, optionally only those of one status."""
        values, kind = _hashes_of(body)
        wanted = next(iter(parse_qs(query).get("status") or []), None)
        statuses = {value: "processed" if self.corpus.find(kind, value.lower()) else "not_found" for value in values}
        return {
            "hash_type": kind,
            "results": [
                {"hash_value": value, "status": status}
                for value, status in statuses.items()
                if wanted in (None, status)
            ],
        }

    def _results(self, body: dict[str, list[str]]) -> list[dict[str, Any]]:
        values, kind = _hashes_of(body)
        fields = body.get("fields") or []
        unknown = [name for name in fields if name not in FIELDS]
        if unknown:
            raise ApiError(400, {"fields": [f"Invalid field name: {name}" for name in unknown]})
        if _truthy(body, "include_networkthreatintelligence") and not {
            "networkthreatintelligence",
            "domainthreatintelligence",
        } <= set(fields):
            raise ApiError(
                400,
                {
                    "fields": [
                        "networkthreatintelligence and domainthreatintelligence are required "
                        "when include_networkthreatintelligence is true."
                    ]
                },
            )
        found = (self.corpus.find(kind, value.lower()) for value in dict.fromkeys(values))
        return [_select(sample, fields) for sample in found if sample is not None]

    def _page(self, results: list[dict[str, Any]], query: str, host: str) -> dict[str, Any]:
        size = self.page_size or max(len(results), 1)
        page = int((parse_qs(query).get("page") or ["1"])[0])
        start = (page - 1) * size
        more = start + size < len(results)
        return {
            "count": len(results),
            "previous": None,
            "next": f"{self.scheme}://{host}{LIST_PATH}?page={page + 1}" if more else None,
            "results": results[start : start + size],
        }


def _hashes_of(body: dict[str, list[str]]) -> tuple[list[str], str]:
    """The hashes asked for and their one type; raises a 400 otherwise."""
    values = body.get("hash_values") or []
    if not values:
        raise ApiError(400, {"hash_values": ["This field is required."]})
    kinds = {hash_type(value.lower()) for value in values}
    if None in kinds:
        bad = next(value for value in values if hash_type(value.lower()) is None)
        raise ApiError(400, {"hash_values": [f"Malformed hash: {bad}"]})
    if len(kinds) > 1:
        raise ApiError(400, {"hash_values": ["All hashes in a request must be of the same type."]})
    kind = kinds.pop()
    assert kind is not None  # checked above
    return values, kind


def _select(sample: dict[str, Any], fields: list[str]) -> dict[str, Any]:
    if fields:
        return {name: sample[name] for name in fields if name in sample}
    return {name: value for name, value in sample.items() if name not in EXPLICIT_ONLY}


def _truthy(body: dict[str, list[str]], name: str) -> bool:
    return (body.get(name) or ["false"])[0].lower() == "true"


def _parse_body(content_type: str, raw: bytes) -> dict[str, list[str]]:
    """JSON or form-encoded (the vendor SDK sends the latter), as lists of strings."""
    if "json" in content_type:
        try:
            data = json.loads(raw or b"{}")
        except ValueError:
            raise ApiError(400, {"detail": "JSON parse error."}) from None
        if not isinstance(data, dict):
            raise ApiError(400, {"detail": "Expected a JSON object."})
        return {key: _as_list(value) for key, value in data.items()}
    form = parse_qs(raw.decode("utf-8", "replace"))
    return {
        key: [part.strip() for value in values for part in value.split(",") if part.strip()]
        for key, values in form.items()
    }


def _as_list(value: Any) -> list[str]:
    if isinstance(value, list):
        return [str(item) for item in value]
    if isinstance(value, bool):
        return ["true" if value else "false"]
    return [part.strip() for part in str(value).split(",") if part.strip()]


def _handler_for(simulator: Simulator) -> type:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "SpectraAnalyzeSimulator"
        # Headers and body are two writes: with Nagle on, the body waits for the
        # client's delayed ACK, 40 ms a request. Appliances send at once.
        disable_nagle_algorithm = True

        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def respond() -> tuple[int, Any]:
                try:
                    return simulator.answer(self.path, self.headers, raw)
                except ApiError as err:
                    return err.status, err.payload

            if urlsplit(self.path).path == LIST_PATH:
                simulator.faults.serve(self, respond, self._send)
            else:
                self._send(*respond())

        def do_GET(self) -> None:  # noqa: N802
            self._send(405 if urlsplit(self.path).path == LIST_PATH else 404, {"detail": "Not found."})

        def _send(self, status: int, payload: Any) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:  # quiet: tests and demos read stdout
            pass

    return Handler
