"""The one explicit configuration object the library takes.

Only the outer layers (CLI, Splunk command, SOAR connector) read flags,
environment or platform settings; they build a ``Config`` with
``Config.from_settings`` and hand it down.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional
from urllib.parse import SplitResult, urlsplit

from . import __version__
from .errors import ConfigurationError, InputError
from .params import parse_bool, parse_number
from .retry import RetryPolicy

DEFAULT_USER_AGENT = f"spectra-analyze-connector/{__version__}"
MAX_BATCH_SIZE = 1000
MIN_SECRET_LENGTH = 8
PROXY_SCHEMES = ("http", "https", "socks5", "socks5h")
CACHE_FILE = "answers.sqlite3"


@dataclass(frozen=True)
class CacheSettings:
    """Where the answer cache lives and how long answers are kept (see
    ``connector.cache``). The adapter chooses the folder: the Splunk app its
    own, the CLI the user's cache folder."""

    directory: str
    ttl: float = 24 * 3600.0
    not_found_ttl: float = 3600.0  # short: a missing sample may be uploaded any time
    max_entries: int = 200_000

    def __post_init__(self) -> None:
        if not str(self.directory).strip():
            raise ConfigurationError("cache_dir: no folder given for the cache")
        if self.ttl < 0 or self.not_found_ttl < 0:
            raise ConfigurationError("cache_ttl and cache_not_found_ttl: expected 0 seconds or more")
        if self.max_entries < 1:
            raise ConfigurationError("cache_max_entries: expected at least 1")

    @property
    def path(self) -> str:
        return os.path.join(self.directory, CACHE_FILE)


@dataclass(frozen=True)
class Config:
    """Where the appliance is and how to talk to it. ``repr`` never shows the token."""

    url: str
    token: str = field(repr=False)
    verify_tls: bool = True
    ca_bundle: Optional[str] = None
    connect_timeout: float = 5.0
    read_timeout: float = 60.0
    proxy: Optional[str] = field(default=None, repr=False)  # may carry the proxy's password
    user_agent: str = DEFAULT_USER_AGENT
    batch_size: int = 100
    max_connections: int = 4
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    max_response_bytes: int = 64 * 1024 * 1024
    max_pages: int = 100
    cache: Optional[CacheSettings] = None  # None: every lookup goes to the appliance

    def __post_init__(self) -> None:
        _refuse_token_in({"url": self.url, "ca_bundle": self.ca_bundle, "proxy": self.proxy,
                          "user_agent": self.user_agent}, self.token)
        parts = _split(self.url)
        if parts is None or parts.scheme not in ("https", "http") or not parts.hostname:
            raise ConfigurationError(
                f"url: expected the appliance address like https://appliance.example.com, got {self.url!r}")
        if parts.username or parts.password or parts.query or parts.fragment:
            raise ConfigurationError("url: give the appliance address without credentials, query or fragment")
        object.__setattr__(self, "url", self.url.rstrip("/"))
        if not self.token or not self.token.strip():
            raise ConfigurationError("token: no API token given; create one on the appliance "
                                     "(Administration > Users > API token) and configure it")
        if any(ch.isspace() for ch in self.token.strip()) or not self.token.isprintable():
            raise ConfigurationError("token: the API token contains spaces or control characters; check how it was pasted")
        if not self.token.isascii():  # HTTP headers cannot carry it, and appliance tokens are hex
            raise ConfigurationError("token: the API token contains non-ASCII characters; check how it was pasted")
        object.__setattr__(self, "token", self.token.strip())
        if self.proxy:
            proxy = _split(self.proxy)
            if proxy is None or proxy.scheme not in PROXY_SCHEMES or not proxy.hostname:
                # Not echoed: a proxy address may carry a password.
                raise ConfigurationError("proxy: expected an address like http://proxy.example.com:3128 "
                                         f"(schemes: {', '.join(PROXY_SCHEMES)})")
        if self.ca_bundle and not os.path.exists(self.ca_bundle):
            raise ConfigurationError(f"ca_bundle: no file or folder at {self.ca_bundle}")
        if not 1 <= self.batch_size <= MAX_BATCH_SIZE:
            raise ConfigurationError(f"batch_size: expected 1 to {MAX_BATCH_SIZE}, got {self.batch_size}")
        if self.max_connections < 1:
            raise ConfigurationError("max_connections: expected at least 1")
        if self.connect_timeout <= 0 or self.read_timeout <= 0:
            raise ConfigurationError("timeouts must be more than 0 seconds")

    @property
    def tls_verify(self) -> Any:
        """The value for requests' ``verify``: False, a CA bundle path, or True."""
        if not self.verify_tls:
            return False
        return self.ca_bundle or True

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> "Config":
        """Build from platform settings, all strings as platforms keep them.

        Keys: url, token, verify_tls, ca_bundle, connect_timeout, read_timeout,
        proxy, batch_size, max_connections, max_attempts, retry_deadline, and for
        the cache cache_dir (no cache without it), cache (true/false, the off
        switch), cache_ttl, cache_not_found_ttl, cache_max_entries.
        Empty values take the defaults. Raises ``ConfigurationError``.
        """
        get = settings.get
        _refuse_token_in({key: value for key, value in settings.items() if key != "token"}, get("token"))
        try:
            retry = RetryPolicy(
                max_attempts=int(parse_number("max_attempts", get("max_attempts"), 4, minimum=1, maximum=10, integer=True)),
                deadline=parse_number("retry_deadline", get("retry_deadline"), 60.0, minimum=0, maximum=3600))
            return cls(
                url=str(get("url") or "").strip(),
                token=str(get("token") or ""),
                verify_tls=parse_bool("verify_tls", get("verify_tls"), True),
                ca_bundle=(str(get("ca_bundle")).strip() or None) if get("ca_bundle") else None,
                connect_timeout=parse_number("connect_timeout", get("connect_timeout"), 5.0, minimum=0.1, maximum=600),
                read_timeout=parse_number("read_timeout", get("read_timeout"), 60.0, minimum=0.1, maximum=3600),
                proxy=(str(get("proxy")).strip() or None) if get("proxy") else None,
                batch_size=int(parse_number("batch_size", get("batch_size"), 100, minimum=1,
                                            maximum=MAX_BATCH_SIZE, integer=True)),
                max_connections=int(parse_number("max_connections", get("max_connections"), 4, minimum=1,
                                                 maximum=32, integer=True)),
                retry=retry,
                cache=_cache_settings(settings),
            )
        except InputError as err:
            raise ConfigurationError(str(err)) from None


def _refuse_token_in(settings: Mapping[str, Any], token: Any) -> None:
    """A token pasted into another field would be echoed by that field's
    error messages (and a URL is in every message): refuse it by name. A
    token shorter than any real one (appliance tokens have 40 characters)
    is not looked for: it would turn up inside ordinary values."""
    token = str(token or "").strip()
    if len(token) < MIN_SECRET_LENGTH:
        return
    for name, value in settings.items():
        if isinstance(value, str) and token in value:
            raise ConfigurationError(f"{name}: the value contains the API token; give the token in the token "
                                     "setting only")


def _split(address: str) -> Optional[SplitResult]:
    """The parts of a URL, or None when it cannot be one (bad IPv6 brackets, port)."""
    try:
        parts = urlsplit(address)
        parts.port  # noqa: B018 (parsing the port is the check)
    except ValueError:
        return None
    return parts


def cache_settings(settings: Mapping[str, Any]) -> Optional[CacheSettings]:
    """The cache settings among platform settings (``Config.from_settings``'
    keys), or None when they switch the cache off. Raises ``ConfigurationError``."""
    try:
        return _cache_settings(settings)
    except InputError as err:
        raise ConfigurationError(str(err)) from None


def _cache_settings(settings: Mapping[str, Any]) -> Optional[CacheSettings]:
    get = settings.get
    directory = str(get("cache_dir") or "").strip()
    if not directory or not parse_bool("cache", get("cache"), True):
        return None
    defaults = CacheSettings(directory)
    return CacheSettings(
        directory,
        ttl=parse_number("cache_ttl", get("cache_ttl"), defaults.ttl, minimum=0, maximum=30 * 24 * 3600),
        not_found_ttl=parse_number("cache_not_found_ttl", get("cache_not_found_ttl"), defaults.not_found_ttl,
                                   minimum=0, maximum=30 * 24 * 3600),
        max_entries=int(parse_number("cache_max_entries", get("cache_max_entries"), defaults.max_entries,
                                     minimum=1, maximum=100_000_000, integer=True)))
