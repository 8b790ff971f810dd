"""The one explicit configuration object the library takes.

Only the outer layers (CLI, Splunk command, SOAR connector) read flags,
environment or platform settings; they build a ``Config`` with
``Config.from_settings`` and hand it down. Defaults and ranges are those of
``connector.settings``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Optional
from urllib.parse import SplitResult, urlsplit

from . import __version__
from .errors import ConfigurationError
from .retry import RetryPolicy
from .settings import DEFAULTS, SETTING, Value, parse_settings
from .text import quoted, shortened

DEFAULT_USER_AGENT = f"spectra-analyze-connector/{__version__}"
MAX_BATCH_SIZE = int(SETTING["batch_size"].maximum or 0)
MIN_SECRET_LENGTH = 8
PROXY_SCHEMES = ("http", "https", "socks5", "socks5h")
CACHE_FILE = "answers.sqlite3"
CACHE_SETTINGS = tuple(SETTING[name] for name in ("cache", "cache_ttl", "cache_not_found_ttl", "cache_max_entries"))


@dataclass(frozen=True)
class CacheSettings:
    """Where the answer cache lives and how long answers are kept (see
    ``connector.cache``). The adapter chooses the folder: the Splunk app its
    own, the CLI the user's cache folder."""

    directory: str
    ttl: float = DEFAULTS["cache_ttl"]
    not_found_ttl: float = DEFAULTS["cache_not_found_ttl"]
    max_entries: int = DEFAULTS["cache_max_entries"]

    def __post_init__(self) -> None:
        if not str(self.directory).strip():
            raise ConfigurationError("cache_dir: no folder given for the cache")
        _check_ranges(cache_ttl=self.ttl, cache_not_found_ttl=self.not_found_ttl, cache_max_entries=self.max_entries)

    @property
    def path(self) -> str:
        return os.path.join(self.directory, CACHE_FILE)


@dataclass(frozen=True)
class Config:
    """Where the appliance is and how to talk to it. ``repr`` never shows the token."""

    url: str
    token: str = field(repr=False)
    verify_tls: bool = DEFAULTS["verify_tls"]
    ca_bundle: Optional[str] = None
    connect_timeout: float = DEFAULTS["connect_timeout"]
    read_timeout: float = DEFAULTS["read_timeout"]
    proxy: Optional[str] = field(default=None, repr=False)  # may carry the proxy's password
    user_agent: str = DEFAULT_USER_AGENT
    batch_size: int = DEFAULTS["batch_size"]
    max_connections: int = DEFAULTS["max_connections"]
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    max_response_bytes: int = 64 * 1024 * 1024
    max_pages: int = 100
    cache: Optional[CacheSettings] = None  # None: every lookup goes to the appliance

    def __post_init__(self) -> None:
        _refuse_token_in(
            {"url": self.url, "ca_bundle": self.ca_bundle, "proxy": self.proxy, "user_agent": self.user_agent},
            self.token,
        )
        object.__setattr__(self, "url", _checked_url(self.url))
        object.__setattr__(self, "token", _checked_token(self.token))
        if self.proxy:
            _check_proxy(self.proxy)
        if self.ca_bundle and not os.path.exists(self.ca_bundle):
            raise ConfigurationError(f"ca_bundle: no file or folder at {shortened(self.ca_bundle)}")
        _check_ranges(
            connect_timeout=self.connect_timeout,
            read_timeout=self.read_timeout,
            batch_size=self.batch_size,
            max_connections=self.max_connections,
        )

    @property
    def tls_verify(self) -> Any:
        """The value for requests' ``verify``: False, a CA bundle path, or True."""
        if not self.verify_tls:
            return False
        return self.ca_bundle or True

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> Config:
        """Build from platform settings: text as a .conf file or a flag gives
        it, or values as SOAR types them (see ``connector.settings``).

        Keys: those of ``connector.settings.SETTINGS``, and ``cache_dir``, the
        cache's folder, which the adapter chooses (no cache without it).
        Unset values take the defaults. Raises ``ConfigurationError``.
        """
        _refuse_token_in({key: value for key, value in settings.items() if key != "token"}, settings.get("token"))
        values = parse_settings(settings)
        return cls(
            url=str(values["url"] or ""),
            token=str(values["token"] or ""),
            verify_tls=bool(values["verify_tls"]),
            ca_bundle=_text(values["ca_bundle"]),
            connect_timeout=float(values["connect_timeout"]),
            read_timeout=float(values["read_timeout"]),
            proxy=_text(values["proxy"]),
            batch_size=int(values["batch_size"]),
            max_connections=int(values["max_connections"]),
            retry=RetryPolicy(max_attempts=int(values["max_attempts"]), deadline=float(values["retry_deadline"])),
            cache=_cache_from(values, settings.get("cache_dir")),
        )


def cache_settings(settings: Mapping[str, Any]) -> Optional[CacheSettings]:
    """The cache's settings among platform settings (``Config.from_settings``'
    keys, ``cache_dir`` the folder the adapter chose), apart from the
    client's; None when they switch the cache off or name no folder. Raises
    ``ConfigurationError``."""
    return _cache_from(parse_settings(settings, CACHE_SETTINGS), settings.get("cache_dir"))


def _cache_from(values: Mapping[str, Value], directory: Any) -> Optional[CacheSettings]:
    folder = str(directory or "").strip()
    if not folder or not values["cache"]:
        return None
    return CacheSettings(
        folder,
        ttl=float(values["cache_ttl"]),
        not_found_ttl=float(values["cache_not_found_ttl"]),
        max_entries=int(values["cache_max_entries"]),
    )


def _check_ranges(**values: Any) -> None:
    """A value built in code meets the same range as one a platform gives."""
    for name, value in values.items():
        SETTING[name].parse(value)


def _text(value: Value) -> Optional[str]:
    return str(value) if value else None


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
            raise ConfigurationError(
                f"{name}: the value contains the API token; give the token in the token setting only"
            )


def _split(address: str) -> Optional[SplitResult]:
    """The parts of a URL, or None when it cannot be one (bad IPv6 brackets, port)."""
    try:
        parts = urlsplit(address)
        parts.port  # noqa: B018 (parsing the port is the check)
    except ValueError:
        return None
    return parts


def _checked_url(url: str) -> str:
    """The appliance's address, without a trailing slash. Raises ``ConfigurationError``."""
    parts = _split(url)
    # A host name is at most 253 characters (DNS); a longer one is a pasting accident.
    if parts is None or parts.scheme not in ("https", "http") or not parts.hostname or len(parts.hostname) > 253:
        raise ConfigurationError(
            f"url: expected the appliance address like https://appliance.example.com, got {quoted(url)}"
        )
    if parts.username or parts.password or parts.query or parts.fragment:
        raise ConfigurationError("url: give the appliance address without credentials, query or fragment")
    return url.rstrip("/")


def _checked_token(token: str) -> str:
    """The API token, stripped. Raises ``ConfigurationError``, never quoting it."""
    if not token or not token.strip():
        raise ConfigurationError(
            "token: no API token given; create one on the appliance "
            "(Administration > Users > API token) and configure it"
        )
    if any(ch.isspace() for ch in token.strip()) or not token.isprintable():
        raise ConfigurationError("token: the API token contains spaces or control characters; check how it was pasted")
    if not token.isascii():  # HTTP headers cannot carry it, and appliance tokens are hex
        raise ConfigurationError("token: the API token contains non-ASCII characters; check how it was pasted")
    return token.strip()


def _check_proxy(proxy: str) -> None:
    parts = _split(proxy)
    if parts is None or parts.scheme not in PROXY_SCHEMES or not parts.hostname:
        # Not echoed: a proxy address may carry a password.
        raise ConfigurationError(
            f"proxy: expected an address like http://proxy.example.com:3128 (schemes: {', '.join(PROXY_SCHEMES)})"
        )
