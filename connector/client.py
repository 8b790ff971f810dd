"""HTTP client for ``POST /api/samples/v2/list/``: one request (and its pages)
with timeouts, bounded retries, a response size cap and error mapping.

Batching, hash grouping and mapping results back to hashes live in
``lookup``; this module only speaks HTTP.
"""

from __future__ import annotations

import http.client
import json
import logging
import random
import socket
import threading
import time
from collections.abc import Sequence
from typing import Any, Callable, Optional
from urllib.parse import urljoin, urlsplit

import requests
import urllib3

from .config import Config
from .errors import (
    ApplianceError,
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    EndpointNotFoundError,
    MalformedResponseError,
    RateLimitedError,
    SchemaViolationError,
    ServerError,
    SpectraAnalyzeError,
    TLSVerificationError,
    TransportError,
    excerpt,
)
from .retry import RETRY_STATUSES, Breaker, parse_retry_after
from .text import replace_lone_surrogates
from .validation import violation

# The Report Summary API; the embedded simulator answers it too.
LIST_PATH = "/api/samples/v2/list/"
log = logging.getLogger(__name__)


class _Retryable(Exception):
    """An attempt failed in a way worth another try."""

    def __init__(self, error: ApplianceError, retry_after: Optional[float] = None) -> None:
        super().__init__(str(error))
        self.error = error
        self.retry_after = retry_after


class SpectraAnalyzeClient:
    """Talks to one appliance. Thread-safe for concurrent batches.

    ``clock``, ``sleep``, ``wall_clock`` and ``rng`` are injectable so that
    retry timing can be tested without waiting.
    """

    def __init__(
        self,
        config: Config,
        *,
        session: Optional[requests.Session] = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        wall_clock: Callable[[], float] = time.time,
        rng: Optional[random.Random] = None,
    ) -> None:
        self.config = config
        self._clock = clock
        self._sleep = sleep
        self._wall_clock = wall_clock
        self._rng = rng or random.Random()
        environment = _read_environment(config)
        self._verify = environment["verify"]
        self._session = session or self._new_session(environment["proxies"])
        self._breaker = Breaker(clock=clock)
        self._watchdog = _Watchdog()
        self._breaker_lock = threading.Lock()
        self._endpoint = config.url + LIST_PATH
        self.requests_sent = 0  # attempts, retries included
        self.requests_answered = 0  # attempts the appliance answered, with any status
        self._count_lock = threading.Lock()
        if not config.verify_tls:
            log.warning(
                "TLS certificate verification is OFF for %s (verify_tls=false): "
                "anyone on the network path can read the API token",
                config.url,
            )
            urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)

    def __repr__(self) -> str:
        return f"SpectraAnalyzeClient(url={self.config.url!r}, verify_tls={self.config.verify_tls})"

    def __enter__(self) -> SpectraAnalyzeClient:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        self._session.close()
        self._watchdog.close()

    def _new_session(self, environ_proxies: dict[str, str]) -> requests.Session:
        session = requests.Session()
        pool = max(self.config.max_connections, 1)
        adapter = requests.adapters.HTTPAdapter(pool_connections=1, pool_maxsize=pool, max_retries=0)
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        session.headers.update(
            {
                "Authorization": f"Token {self.config.token}",
                "User-Agent": self.config.user_agent,
                "Accept": "application/json",
            }
        )
        # The environment was read once (_read_environment), not on every
        # request as requests does by default; and ~/.netrc is never read: its
        # login for the appliance's host would replace the API token with
        # basic authentication.
        session.trust_env = False
        if self.config.proxy:
            session.proxies = {"http": self.config.proxy, "https": self.config.proxy}
        else:
            session.proxies = dict(environ_proxies)
        return session

    def list_samples(
        self,
        hash_values: Sequence[str],
        fields: Sequence[str] = (),
        *,
        skip_reanalysis: bool = True,
        include_network_threat_intelligence: bool = False,
    ) -> list[dict[str, Any]]:
        """The raw result items for hashes of one type, following ``next``.

        Raises ``ConfigurationError`` (fix the setup, do not retry) or
        ``ApplianceError`` (this lookup failed after the retry budget).
        """
        body: dict[str, Any] = {
            "hash_values": list(hash_values),
            "skip_reanalysis": _flag(skip_reanalysis),
            "include_networkthreatintelligence": _flag(include_network_threat_intelligence),
        }
        if fields:
            body["fields"] = list(fields)
        url = self._endpoint
        seen = {url}
        results: list[dict[str, Any]] = []
        for _ in range(self.config.max_pages):
            page = self._post(url, body)
            results.extend(page["results"])
            if not page.get("next"):
                return results
            url = self._next_url(page["next"])
            if url in seen:
                raise MalformedResponseError(
                    "the appliance's 'next' link points to a page already read; stopped to avoid a loop"
                )
            seen.add(url)
        raise MalformedResponseError(
            f"the appliance returned more than {self.config.max_pages} pages; lower batch_size"
        )

    def _next_url(self, link: str) -> str:
        target = urljoin(self._endpoint, link)
        here, there = urlsplit(self._endpoint), urlsplit(target)
        if (here.scheme, here.netloc) != (there.scheme, there.netloc):
            raise MalformedResponseError(
                f"the appliance's 'next' link points to another host ({there.netloc}); "
                "not followed, since the request carries the API token"
            )
        return target

    def _post(self, url: str, body: dict[str, Any]) -> dict[str, Any]:
        """One logical request, unless the breaker refuses it: see ``Breaker``."""
        with self._breaker_lock:
            is_open = self._breaker.is_open()
            last = self._breaker.last_failure
        if is_open and isinstance(last, ApplianceError):
            raise type(last)(
                f"not sent: {self._breaker.threshold} requests in a row failed ({last.message}); "
                f"none is sent for {self._breaker.cooldown:g}s after the last",
                status=last.status,
            )
        try:
            page = self._retrying(url, body)
        except ApplianceError as err:
            opened = False
            with self._breaker_lock:
                if _unwell(err):
                    opened = self._breaker.failed(err)
                else:  # the appliance answered, about this request only
                    self._breaker.succeeded()
            if opened:
                log.warning(
                    "%s failed %d requests in a row (%s); no request is sent for %gs",
                    self.config.url,
                    self._breaker.threshold,
                    err,
                    self._breaker.cooldown,
                )
            raise
        with self._breaker_lock:
            self._breaker.succeeded()
        return page

    def _retrying(self, url: str, body: dict[str, Any]) -> dict[str, Any]:
        """One logical request: attempts with backoff until success, a final
        error, the attempt limit or the deadline."""
        policy = self.config.retry
        started = self._clock()
        attempt = 0
        while True:
            attempt += 1
            try:
                return self._attempt(url, body)
            except _Retryable as retry:
                error = retry.error
                wait = policy.delay(attempt, retry.retry_after, self._rng)
                spent = self._clock() - started
                if attempt >= policy.max_attempts or spent + wait > policy.deadline:
                    error.attempts = attempt
                    # No elapsed time in the text: the batches failing alike must read alike, and be said once.
                    error.message = f"{error.message} (gave up after {attempt} attempt(s)"
                    if attempt < policy.max_attempts and retry.retry_after is not None:
                        error.message += (
                            f": the appliance asked to wait {retry.retry_after:.0f}s, longer than "
                            f"the {policy.deadline:g}s retry_deadline allows"
                        )
                    error.message += ")"
                    raise error from None
                log.info("attempt %d failed (%s); retrying in %.2fs", attempt, error.message, wait)
                self._sleep(wait)

    def _attempt(self, url: str, body: dict[str, Any]) -> dict[str, Any]:
        timeout = (self.config.connect_timeout, self.config.read_timeout)
        with self._count_lock:
            self.requests_sent += 1
        try:
            response = self._session.post(
                url, json=body, timeout=timeout, verify=self._verify, allow_redirects=False, stream=True
            )
        except requests.exceptions.SSLError as err:
            raise TLSVerificationError(
                f"TLS verification of {self.config.url} failed: {_reason(err)}. If the appliance uses a private "
                "certificate authority, set ca_bundle to its CA certificate file"
            ) from None
        except requests.exceptions.ProxyError as err:
            raise _Retryable(
                TransportError(f"could not reach {self.config.url} through the proxy: {_reason(err)}")
            ) from None
        except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as err:
            raise _Retryable(TransportError(f"could not reach {self.config.url}: {_reason(err)}")) from None
        except requests.exceptions.RequestException as err:
            # A URL or proxy requests cannot use (e.g. socks5 without PySocks). Only the
            # class is named: requests' text may quote a proxy address with its password.
            raise ConfigurationError(
                f"cannot send a request to {self.config.url} ({type(err).__name__}); check url and proxy"
            ) from None
        with self._count_lock:
            self.requests_answered += 1
        try:
            return self._read(response)
        finally:
            response.close()

    def _read(self, response: requests.Response) -> dict[str, Any]:
        status = response.status_code
        if status == 200:
            return self._parse(self._body(response))
        text = excerpt(self._body(response, limit=4096).decode("utf-8", "replace"), self.config.token)
        error = self._status_error(status, text, response.headers.get("Location"))
        if status in RETRY_STATUSES:
            assert isinstance(error, ApplianceError)  # 429 and 5xx map to ApplianceError subclasses
            retry_after = parse_retry_after(response.headers.get("Retry-After"), self._wall_clock())
            raise _Retryable(error, retry_after)
        raise error

    def _status_error(self, status: int, text: str, location: Optional[str]) -> SpectraAnalyzeError:
        """The one place that maps an HTTP status to an exception."""
        detail = f" (HTTP {status}: {text})" if text else f" (HTTP {status})"
        kwargs: dict[str, Any] = {"status": status, "body_excerpt": text}
        if status in (401, 403):
            return AuthenticationError(
                f"the appliance refused the API token{detail}; check the token configured for {self.config.url}",
                **kwargs,
            )
        if status == 404:
            return EndpointNotFoundError(
                f"{self.config.url}{LIST_PATH} was not found{detail}; check that the "
                "URL points at a Spectra Analyze appliance",
                **kwargs,
            )
        if status == 400:
            return BadRequestError(f"the appliance rejected the request{detail}", **kwargs)
        if status == 429:
            return RateLimitedError(
                f"the appliance is rate limiting requests{detail}; lower batch_size or max_connections, or try later",
                **kwargs,
            )
        if 300 <= status < 400:
            host = urlsplit(location or "").netloc or "elsewhere"
            return MalformedResponseError(
                f"the appliance redirected the request to {host}{detail}; not followed, "
                "since it carries the API token: set url to the final address",
                **kwargs,
            )
        if status >= 500:
            return ServerError(f"the appliance answered with a server error{detail}", **kwargs)
        return ApplianceError(f"unexpected answer from the appliance{detail}", **kwargs)

    def _body(self, response: requests.Response, limit: Optional[int] = None) -> bytes:
        """The decoded body, read up to a cap (a small gzip body can expand
        enormously) and within read_timeout in all: the socket's timeout only
        bounds each read, so a body trickling in a byte at a time would
        otherwise hold the caller for ever."""
        cap = limit if limit is not None else self.config.max_response_bytes
        if limit is None and _declared_size(response) > cap:  # refused before a byte is read
            response.close()
            raise _too_large(cap)
        chunks: list[bytes] = []
        size = 0
        watchdog = self._watchdog.watch(response, self.config.read_timeout)
        try:
            with watchdog:
                for chunk in response.iter_content(chunk_size=65536):
                    size += len(chunk)
                    if size > cap:
                        if limit is not None:
                            break
                        raise _too_large(cap)
                    chunks.append(chunk)
        except (
            requests.exceptions.ConnectionError,
            requests.exceptions.ChunkedEncodingError,
            requests.exceptions.ContentDecodingError,
        ) as err:
            if not watchdog.fired:
                raise _Retryable(
                    TransportError(f"the answer from {self.config.url} broke off: {_reason(err)}")
                ) from None
        if watchdog.fired:
            raise _Retryable(
                TransportError(
                    f"the answer from {self.config.url} did not arrive within "
                    f"{self.config.read_timeout:g}s (read_timeout)"
                )
            )
        return b"".join(chunks)

    def _parse(self, raw: bytes) -> dict[str, Any]:
        try:
            page = json.loads(raw)
        except (ValueError, RecursionError):  # json raises the latter for arrays nested thousands deep
            raise MalformedResponseError(
                "the appliance's answer is not JSON: "
                + (excerpt(raw[:4096].decode("utf-8", "replace"), self.config.token) or "empty body")
            ) from None
        page = replace_lone_surrogates(page, raw)  # what no adapter could write
        problem = violation("response", page)
        if problem:
            raise SchemaViolationError(f"the appliance's answer does not match the documented format: {problem}")
        return page


class _Watchdog:
    """One thread for every answer a client is reading: it stops the reads
    of an answer once its ``seconds`` have passed (see ``_body``). Started
    with the first answer, it sleeps until the earliest deadline; a thread
    for each answer cost more than reading a small answer."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._due: dict[_Reading, float] = {}
        self._thread: Optional[threading.Thread] = None
        self._closed = False

    def watch(self, response: requests.Response, seconds: float) -> _Reading:
        return _Reading(self, response, seconds)

    def close(self) -> None:
        with self._changed:
            self._closed = True
            self._changed.notify()

    def _add(self, reading: _Reading, due: float) -> None:
        with self._changed:
            earliest = min(self._due.values(), default=None)
            self._due[reading] = due
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="spectra-watchdog", daemon=True)
                self._thread.start()
            elif earliest is None or due < earliest:  # the thread sleeps past it
                self._changed.notify()

    def _remove(self, reading: _Reading) -> None:
        with self._changed:
            self._due.pop(reading, None)

    def _run(self) -> None:
        with self._changed:
            while not self._closed:
                now = time.monotonic()
                for reading in [reading for reading, due in self._due.items() if due <= now]:
                    del self._due[reading]
                    reading.stop()
                earliest = min(self._due.values(), default=None)
                self._changed.wait(None if earliest is None else earliest - now)


class _Reading:
    """The reading of one answer, watched while in its ``with`` block."""

    def __init__(self, watchdog: _Watchdog, response: requests.Response, seconds: float) -> None:
        self.fired = False
        self._watchdog = watchdog
        self._raw = response.raw
        self._seconds = seconds

    def __enter__(self) -> _Reading:
        self._watchdog._add(self, time.monotonic() + self._seconds)
        return self

    def __exit__(self, *exc: Any) -> None:
        self._watchdog._remove(self)

    def stop(self) -> None:
        self.fired = True
        try:
            if hasattr(self._raw, "shutdown"):  # urllib3 2.3 and later
                self._raw.shutdown()
            else:  # older urllib3 (the Splunk app carries 1.26): the same by hand
                socket.socket.shutdown(_socket_of(self._raw), socket.SHUT_RD)  # the plain call works under TLS too
        except (AttributeError, OSError, RuntimeError, TypeError, ValueError):
            pass  # the read ended meanwhile and the connection is gone


def _socket_of(raw: Any) -> socket.socket:
    """The socket under an urllib3 1.26 response: its connection's, or, when
    http.client has already let go of a connection that closes after this
    answer, the one its body is read from."""
    return getattr(raw._connection, "sock", None) or raw._fp.fp.raw._sock


def _flag(value: bool) -> str:
    return "true" if value else "false"


def _reason(err: Exception) -> str:
    """A short reason from a requests error. requests' messages carry the URL
    but never the headers, so no token can appear here."""
    if isinstance(err, requests.exceptions.ConnectTimeout):
        return "connection timed out"
    if isinstance(err, requests.exceptions.ReadTimeout):
        return "read timed out"
    cause = _root_cause(err)
    for kind, text in _PLAIN_REASONS:
        if isinstance(cause, kind):
            return text
    return str(cause)[:200]


_PLAIN_REASONS = (
    (ConnectionRefusedError, "connection refused; check the host and port"),
    (ConnectionResetError, "the connection was reset"),
    (http.client.IncompleteRead, "the connection closed before the whole answer arrived"),
    (socket.gaierror, "the host name could not be resolved"),
)


def _root_cause(err: BaseException) -> BaseException:
    """The innermost error: requests wraps urllib3's, which wrap the socket's,
    in ``args``, ``reason`` or the exception chain."""
    seen = set()
    while id(err) not in seen:
        seen.add(id(err))
        inner = [getattr(err, "reason", None), *err.args, err.__cause__, err.__context__]
        nested = next((value for value in inner if isinstance(value, BaseException)), None)
        if nested is None:
            break
        err = nested
    return err


def _unwell(error: ApplianceError) -> bool:
    """Whether a request's final error says the appliance itself is unwell,
    rather than that it could not answer this one request."""
    if isinstance(error, (TransportError, RateLimitedError)):
        return True
    return isinstance(error, ServerError) and error.status in RETRY_STATUSES


def _read_environment(config: Config) -> dict[str, Any]:
    """What requests takes from the environment on every request by default
    (the proxy variables, NO_PROXY included; REQUESTS_CA_BUNDLE or
    CURL_CA_BUNDLE while verification is on without a ca_bundle), taken
    once by requests' own rules: ``proxies`` and ``verify``."""
    with requests.Session() as probe:
        return dict(probe.merge_environment_settings(config.url, {}, None, config.tls_verify, None))


def _too_large(cap: int) -> MalformedResponseError:
    return MalformedResponseError(f"the appliance's answer is larger than {cap} bytes; lower batch_size")


def _declared_size(response: requests.Response) -> int:
    """The body's size its headers declare, or 0 when they do not (a
    compressed body's Content-Length says nothing of what it expands to)."""
    if response.headers.get("Content-Encoding", "identity") != "identity":
        return 0
    length = response.headers.get("Content-Length", "")
    return int(length) if length.isdigit() else 0
