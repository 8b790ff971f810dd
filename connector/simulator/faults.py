"""Faults the simulator injects on purpose, for reliability tests and for
showing how the connector behaves when the appliance (or a proxy in front of
it) misbehaves.

A ``FaultSchedule`` decides, list request by list request, whether the
simulator answers normally or with one of ``FAULTS``. It first plays a
fixed plan (``"503*2,ok,reset"``: two 503s, one normal answer, one reset;
``"503*"``: 503 for ever), then injects a random fault from ``kinds`` into a
``rate`` share of the requests.

A connect timeout cannot be a per-request fault of a server that accepts
connections: ``Blackhole`` is a loopback port whose connections never
complete.
"""

from __future__ import annotations

import gzip
import io
import json
import random
import socket
import struct
import threading
import time
from collections import Counter, deque
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any, Callable, Optional

from ..client import LIST_PATH

# What each fault does; the keys are the names a schedule uses.
FAULTS: dict[str, str] = {
    "429": "429 Too Many Requests without Retry-After",
    "429-retry-after": "429 Too Many Requests with Retry-After: 1",
    "429-absurd": "429 Too Many Requests with Retry-After of 1000 days",
    "500": "500 Internal Server Error",
    "502": "502 Bad Gateway as an HTML page from a proxy",
    "503": "503 Service Unavailable",
    "504": "504 Gateway Timeout as an HTML page from a proxy",
    "reset": "200 whose connection is reset half way through the body",
    "trickle": "200 whose body arrives one byte every 0.1 s",
    "malformed-json": "200 whose body is cut-off JSON",
    "deep-json": "200 whose body nests 100,000 arrays deep (Python's json parser gives up on it)",
    "invalid-item": "200 whose first result item breaks the result-item schema (riskscore 'high')",
    "oversized": "200 with a 256 MiB body",
    "gzip-bomb": "200 with a 256 KiB gzip body that expands to 256 MiB",
    "redirect": "307 to another host (redirect_to, or this server under the name localhost)",
    "401": "401 whose body echoes the Authorization header it got (a worst case for secret hygiene)",
    "403": "403 Invalid token",
}
NO_FAULT = "ok"
# Faults a client is expected to ride out by retrying: the default random mix.
TRANSIENT = ("429", "502", "503", "504", "reset")
MAX_PLANNED = 100_000
TRICKLE_INTERVAL = 0.1
TRICKLE_LIMIT = 60.0  # a trickling answer stops after this long, so no server thread lingers
HUGE_BYTES = 256 * 1024 * 1024
BLOCK = 64 * 1024

Respond = Callable[[], tuple[int, Any]]


class FaultSchedule:
    """Which fault, if any, each list request gets. Thread-safe."""

    def __init__(
        self,
        plan: Iterable[str] = (),
        *,
        forever: Optional[str] = None,
        rate: float = 0.0,
        kinds: Sequence[str] = TRANSIENT,
        seed: int = 0,
        redirect_to: Optional[str] = None,
    ) -> None:
        for name in list(plan) + [forever or NO_FAULT] + list(kinds):
            _check_name(name)
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"fault rate must be from 0 to 1, got {rate}")
        if rate and not kinds:
            raise ValueError("a fault rate needs at least one fault kind")
        self._plan: deque[str] = deque(plan)
        self.forever = forever
        self.rate = rate
        self.kinds = tuple(kinds)
        self.redirect_to = redirect_to
        self.injected: Counter = Counter()
        self.requests = 0
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        if "gzip-bomb" in set(self._plan) | set(self.kinds) | {forever}:
            gzip_bomb()  # made now, so that making it never looks like a slow answer

    @classmethod
    def parse(cls, spec: str, **options: Any) -> FaultSchedule:
        """A schedule from ``NAME[*COUNT]`` entries separated by commas; a
        last ``NAME*`` without a count repeats for ever. Raises ``ValueError``."""
        plan: list[str] = []
        forever = None
        entries = [entry.strip() for entry in spec.split(",") if entry.strip()]
        for position, entry in enumerate(entries):
            name, star, count = entry.partition("*")
            name = name.strip()
            _check_name(name)
            if star and not count.strip():
                if position != len(entries) - 1:
                    raise ValueError(f"{entry!r} repeats for ever, so it must be the last entry")
                forever = name
                continue
            times = _count(count) if star else 1
            if len(plan) + times > MAX_PLANNED:
                raise ValueError(f"a fault plan may list at most {MAX_PLANNED} requests")
            plan += [name] * times
        return cls(plan, forever=forever, **options)

    def next_fault(self) -> Optional[str]:
        """The fault for the next list request, or None for a normal answer."""
        with self._lock:
            self.requests += 1
            if self._plan:
                name: Optional[str] = self._plan.popleft()
            elif self.forever:
                name = self.forever
            elif self.rate and self._rng.random() < self.rate:
                name = self._rng.choice(self.kinds)
            else:
                name = None
            if name == NO_FAULT:
                name = None
            if name:
                self.injected[name] += 1
            return name

    def serve(self, handler: Any, respond: Respond, send: Callable[[int, Any], None]) -> None:
        """Answer one list request: normally through ``send``, or with the next fault."""
        name = self.next_fault()
        if name is None:
            send(*respond())
        else:
            _INJECTORS[name](handler, respond, self)


def _check_name(name: str) -> None:
    if name != NO_FAULT and name not in FAULTS:
        raise ValueError(f"unknown fault {name!r}; known: {NO_FAULT}, {', '.join(FAULTS)}")


def _count(text: str) -> int:
    if not text.strip().isdigit() or not text.isascii():
        raise ValueError(f"a fault count must be a whole number, got {text!r}")
    return int(text)


# Injectors: each writes a whole (mis)answer on the handler's connection.


def _write_head(handler: Any, status: int, headers: dict[str, str]) -> None:
    handler.send_response(status)
    for name, value in headers.items():
        handler.send_header(name, value)
    handler.end_headers()


def _send_bytes(
    handler: Any,
    status: int,
    body: bytes,
    content_type: str = "application/json",
    extra: Optional[dict[str, str]] = None,
) -> None:
    headers = {"Content-Type": content_type, "Content-Length": str(len(body))}
    headers.update(extra or {})
    _write_head(handler, status, headers)
    handler.wfile.write(body)


def _send_json(handler: Any, status: int, payload: Any, extra: Optional[dict[str, str]] = None) -> None:
    _send_bytes(handler, status, json.dumps(payload).encode(), extra=extra)


def _status(status: int, payload: Any, retry_after: Optional[str] = None) -> Callable[..., None]:
    def inject(handler: Any, respond: Respond, schedule: FaultSchedule) -> None:
        _send_json(handler, status, payload, {"Retry-After": retry_after} if retry_after else None)

    return inject


def _proxy_page(status: int, reason: str) -> Callable[..., None]:
    page = f"<html><head><title>{status} {reason}</title></head><body><h1>{reason}</h1></body></html>"

    def inject(handler: Any, respond: Respond, schedule: FaultSchedule) -> None:
        _send_bytes(handler, status, page.encode(), "text/html")

    return inject


def _unauthorized(handler: Any, respond: Respond, schedule: FaultSchedule) -> None:
    echoed = handler.headers.get("Authorization", "")
    _send_json(handler, 401, {"detail": f"Authentication failed for header: {echoed}"})


def _reset(handler: Any, respond: Respond, schedule: FaultSchedule) -> None:
    status, payload = respond()
    body = json.dumps(payload).encode()
    _write_head(handler, status, {"Content-Type": "application/json", "Content-Length": str(len(body) + 1024)})
    handler.wfile.write(body[: len(body) // 2])
    _abort(handler)


def _abort(handler: Any) -> None:
    """Close with a TCP reset (linger 0) rather than an orderly end."""
    handler.close_connection = True
    handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    handler.connection.close()


def _trickle(handler: Any, respond: Respond, schedule: FaultSchedule) -> None:
    status, payload = respond()
    body = json.dumps(payload).encode() + b" " * 4096  # long enough to outlast any sane read timeout
    _write_head(
        handler, status, {"Content-Type": "application/json", "Content-Length": str(len(body)), "Connection": "close"}
    )
    handler.close_connection = True
    stop = time.monotonic() + TRICKLE_LIMIT
    try:
        for offset in range(len(body)):
            handler.wfile.write(body[offset : offset + 1])
            if time.monotonic() > stop:
                break
            time.sleep(TRICKLE_INTERVAL)
    except OSError:  # the client gave up, as it should
        pass


def _malformed(handler: Any, respond: Respond, schedule: FaultSchedule) -> None:
    _send_bytes(handler, 200, b'{"count": 1, "next": null, "previous": null, "results": [{"sha1": "3ecb5')


def _deep(handler: Any, respond: Respond, schedule: FaultSchedule) -> None:
    depth = 100_000
    _send_bytes(handler, 200, b'{"results": ' + b"[" * depth + b"]" * depth + b"}")


def _invalid_item(handler: Any, respond: Respond, schedule: FaultSchedule) -> None:
    """The first item keeps its hashes (so it maps to its hash) but breaks the schema."""
    status, payload = respond()
    if status == 200 and payload.get("results"):
        payload["results"][0] = dict(payload["results"][0], riskscore="high")
    _send_json(handler, status, payload)


def _huge_json_head() -> bytes:
    return b'{"count": 0, "next": null, "previous": null, "results": []'


def _oversized(handler: Any, respond: Respond, schedule: FaultSchedule) -> None:
    """Valid JSON padded with whitespace, written until the client hangs up."""
    head = _huge_json_head()
    _write_head(
        handler, 200, {"Content-Type": "application/json", "Content-Length": str(HUGE_BYTES + 1), "Connection": "close"}
    )
    handler.close_connection = True
    block = b" " * BLOCK
    try:
        handler.wfile.write(head)
        for _ in range((HUGE_BYTES - len(head)) // BLOCK):
            handler.wfile.write(block)
    except OSError:
        pass


@lru_cache(maxsize=1)
def gzip_bomb() -> bytes:
    """``HUGE_BYTES`` of valid JSON, gzip-compressed to about 256 KiB (made once)."""
    buffer = io.BytesIO()
    # Compressed block by block, so the 256 MiB never sit in memory.
    with gzip.GzipFile(fileobj=buffer, mode="wb", compresslevel=9) as out:
        out.write(_huge_json_head())
        block = b" " * (1024 * 1024)
        for _ in range(HUGE_BYTES // len(block)):
            out.write(block)
        out.write(b"}")
    return buffer.getvalue()


def _gzip_bomb(handler: Any, respond: Respond, schedule: FaultSchedule) -> None:
    try:
        _send_bytes(handler, 200, gzip_bomb(), extra={"Content-Encoding": "gzip", "Connection": "close"})
    except OSError:
        pass
    handler.close_connection = True


def _redirect(handler: Any, respond: Respond, schedule: FaultSchedule) -> None:
    port = handler.server.server_address[1]
    target = schedule.redirect_to or f"http://localhost:{port}{LIST_PATH}"
    _send_json(handler, 307, {"detail": "moved"}, {"Location": target})


_INJECTORS: dict[str, Callable[[Any, Respond, FaultSchedule], None]] = {
    "429": _status(429, {"detail": "Request was throttled."}),
    "429-retry-after": _status(429, {"detail": "Request was throttled. Expected available in 1 second."}, "1"),
    "429-absurd": _status(429, {"detail": "Request was throttled."}, str(1000 * 86400)),
    "500": _status(500, {"detail": "A server error occurred."}),
    "502": _proxy_page(502, "Bad Gateway"),
    "503": _status(503, {"detail": "Service temporarily unavailable, try again later."}),
    "504": _proxy_page(504, "Gateway Time-out"),
    "reset": _reset,
    "trickle": _trickle,
    "malformed-json": _malformed,
    "deep-json": _deep,
    "invalid-item": _invalid_item,
    "oversized": _oversized,
    "gzip-bomb": _gzip_bomb,
    "redirect": _redirect,
    "401": _unauthorized,
    "403": _status(403, {"detail": "Invalid token."}),
}


class Blackhole:
    """A loopback port that never completes a connection, so that a client's
    connect timeout fires: its accept queue is kept full and the kernel drops
    further connection attempts."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.bind((host, 0))
        self._listener.listen(0)
        self._fillers: list[socket.socket] = []
        self._fill()

    def _fill(self) -> None:
        address = self._listener.getsockname()
        for _ in range(64):
            filler = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            filler.settimeout(0.2)
            try:
                filler.connect(address)
            except OSError:
                filler.close()
                return
            self._fillers.append(filler)
        self.close()
        raise RuntimeError("could not fill the accept queue of the blackhole port")

    @property
    def url(self) -> str:
        host, port = self._listener.getsockname()[:2]
        return f"http://{host}:{port}"

    def close(self) -> None:
        for filler in self._fillers:
            filler.close()
        self._listener.close()

    def __enter__(self) -> Blackhole:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
