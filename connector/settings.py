"""Every setting of the connector, stated once.

One entry per setting: its name, kind, default, range, help and the
surfaces that carry it. ``Config`` takes its defaults and ranges from here;
the command line's flags, the Splunk app's ``spectra_analyze.conf`` and its
spec, the SOAR asset of the app JSON and ``docs/configuration.md`` are
generated from it. ``parse_settings`` is the one parser of what a platform
hands over: text from a ``.conf`` file or a flag, or values as SOAR types
them (4.0 for a numeric 4, booleans, an empty string for unset).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any, Optional

from .errors import ConfigurationError, InputError
from .params import parse_bool, parse_number
from .text import quoted

Value = Any  # bool, int, float, str or None, as the setting's kind says


class Kind(str, Enum):
    TEXT = "text"
    SECRET = "secret"  # text used only to call the appliance: never shown, logged or echoed
    BOOLEAN = "boolean"
    INTEGER = "integer"
    NUMBER = "number"


class Surface(str, Enum):
    """Where a user sets a setting."""

    SPLUNK = "splunk"  # the Splunk app's spectra_analyze.conf
    SOAR = "soar"  # the SOAR asset, and the action runner's --config file
    CLI = "cli"  # a flag of the command line's lookups


EVERYWHERE: frozenset[Surface] = frozenset(Surface)


@dataclass(frozen=True)
class Setting:
    """One setting. Checked when declared: a number has a range, a boolean a
    default, a secret none (and no surface that would show it), and a
    default meets its own range."""

    name: str
    kind: Kind
    help: str
    default: Value = None
    minimum: Optional[float] = None
    maximum: Optional[float] = None
    unit: str = ""  # what the value is, for the flag's placeholder: "seconds", "url"
    required: bool = False
    choices: tuple[str, ...] = ()
    surfaces: frozenset[Surface] = EVERYWHERE
    flag: str = ""  # the command line's flag when it is not --name; for a boolean, the one that turns it off

    def __post_init__(self) -> None:
        numeric = self.kind in (Kind.INTEGER, Kind.NUMBER)
        if numeric != (self.minimum is not None):
            raise ValueError(f"{self.name}: a number has a minimum, nothing else has")
        if self.kind is Kind.SECRET and (self.default is not None or self.surfaces & {Surface.SPLUNK, Surface.CLI}):
            # Splunk keeps secrets in storage/passwords; a flag shows in process lists.
            raise ValueError(f"{self.name}: a secret has no default and is set in the SOAR asset only")
        if self.kind is Kind.BOOLEAN and not isinstance(self.default, bool):
            raise ValueError(f"{self.name}: a boolean needs a default")
        if self.default is not None:
            self.parse(self.default)

    @property
    def cli_flag(self) -> str:
        return self.flag or "--" + self.name.replace("_", "-")

    @property
    def bounds(self) -> str:
        """The range in words, e.g. "1 to 1000", or ""."""
        if self.minimum is None:
            return " or ".join(self.choices)
        if self.maximum is None:
            return f"at least {shown(self.minimum)}"
        return f"{shown(self.minimum)} to {shown(self.maximum)}"

    def parse(self, value: Any) -> Value:
        """The typed value, the default when unset (None or blank). Raises
        ``ConfigurationError`` naming the setting; a secret is never echoed."""
        try:
            if self.kind is Kind.BOOLEAN:
                return parse_bool(self.name, value, bool(self.default))
            if self.kind in (Kind.INTEGER, Kind.NUMBER):
                assert self.minimum is not None
                return parse_number(
                    self.name,
                    value,
                    self.default,
                    minimum=self.minimum,
                    maximum=self.maximum,
                    integer=self.kind is Kind.INTEGER,
                )
        except InputError as err:
            raise ConfigurationError(str(err)) from None
        return self._text(value)

    def _text(self, value: Any) -> Value:
        if value is None:
            return self.default
        if not isinstance(value, str):
            shown_value = "" if self.kind is Kind.SECRET else f", got {quoted(value)}"
            raise ConfigurationError(f"{self.name}: expected text{shown_value}")
        text = value.strip()
        if not text:
            return self.default
        if self.choices:
            chosen = next((choice for choice in self.choices if choice.lower() == text.lower()), None)
            if chosen is None:
                raise ConfigurationError(f"{self.name}: expected one of {', '.join(self.choices)}, got {quoted(value)}")
            return chosen
        return text


SECONDS_IN_30_DAYS = 30 * 24 * 3600

SETTINGS: tuple[Setting, ...] = (
    Setting(
        "url",
        Kind.TEXT,
        "Appliance address, e.g. https://a1000.example.com (no path, credentials, query or fragment)",
        required=True,
        unit="url",
    ),
    Setting(
        "token",
        Kind.SECRET,
        "API token of an appliance user (Administration > Users > API token)",
        required=True,
        surfaces=frozenset({Surface.SOAR}),
    ),
    Setting(
        "verify_tls",
        Kind.BOOLEAN,
        "Verify the appliance's TLS certificate; turning it off lets anyone on the network path read the API token",
        default=True,
        flag="--insecure",
    ),
    Setting(
        "ca_bundle",
        Kind.TEXT,
        "Path of a PEM file (or folder) of the certificate authorities that signed "
        "the appliance's certificate, for a private CA",
        unit="file",
    ),
    Setting("proxy", Kind.TEXT, "HTTP(S) proxy for the appliance, e.g. http://proxy.example.com:3128", unit="url"),
    Setting(
        "connect_timeout",
        Kind.NUMBER,
        "Seconds to wait for a connection",
        default=5.0,
        minimum=0.1,
        maximum=600,
        unit="seconds",
    ),
    Setting(
        "read_timeout",
        Kind.NUMBER,
        "Seconds to wait for an answer",
        default=60.0,
        minimum=0.1,
        maximum=3600,
        unit="seconds",
    ),
    Setting("batch_size", Kind.INTEGER, "Hashes per request", default=100, minimum=1, maximum=1000, unit="n"),
    Setting("max_connections", Kind.INTEGER, "Requests sent at once", default=4, minimum=1, maximum=32, unit="n"),
    Setting(
        "max_attempts",
        Kind.INTEGER,
        "Tries per request, with backoff, on rate limiting (429), 502, 503, 504 and network errors",
        default=4,
        minimum=1,
        maximum=10,
        unit="n",
    ),
    Setting(
        "retry_deadline",
        Kind.NUMBER,
        "Seconds one request may take with all its retries",
        default=60.0,
        minimum=0,
        maximum=3600,
        unit="seconds",
    ),
    Setting(
        "cache",
        Kind.BOOLEAN,
        "Keep the appliance's answers in a local cache (the Splunk app's cache "
        "folder, the SOAR app's state folder, the user's cache folder for the command line) so that a hash "
        "is not asked again while its answer is fresh; errors are never kept",
        default=True,
        flag="--no-cache",
    ),
    Setting(
        "cache_ttl",
        Kind.NUMBER,
        "Seconds a found sample's answer stays in the cache",
        default=86400.0,
        minimum=0,
        maximum=SECONDS_IN_30_DAYS,
        unit="seconds",
    ),
    Setting(
        "cache_not_found_ttl",
        Kind.NUMBER,
        "Seconds a not_found answer stays in the cache (shorter: a missing sample may be uploaded any time)",
        default=3600.0,
        minimum=0,
        maximum=SECONDS_IN_30_DAYS,
        unit="seconds",
    ),
    Setting(
        "cache_max_entries",
        Kind.INTEGER,
        "Answers kept in the cache at most (about 1 KB each); past that the oldest go first",
        default=200_000,
        minimum=1,
        maximum=100_000_000,
        unit="n",
    ),
    Setting(
        "verdict_high_riskscore",
        Kind.INTEGER,
        "The file reputation action's verdict is high for a malicious "
        "sample and for any sample whose risk score reaches this",
        default=7,
        minimum=3,
        maximum=10,
        unit="n",
        surfaces=frozenset({Surface.SOAR}),
    ),
    Setting(
        "verdict_medium_riskscore",
        Kind.INTEGER,
        "The file reputation action's verdict is medium for a "
        "suspicious sample and for any sample whose risk score reaches this (below the high threshold)",
        default=6,
        minimum=2,
        maximum=9,
        unit="n",
        surfaces=frozenset({Surface.SOAR}),
    ),
    Setting(
        "cache_store",
        Kind.TEXT,
        "Where the Splunk app keeps answers: kvstore (Splunk's KV store, one cache "
        "for every member of a search head cluster), file (a SQLite file on each search head) or auto (the KV "
        "store on a search head cluster member, the file otherwise)",
        default="auto",
        choices=("auto", "kvstore", "file"),
        surfaces=frozenset({Surface.SPLUNK}),
    ),
)
SETTING: dict[str, Setting] = {setting.name: setting for setting in SETTINGS}
DEFAULTS: dict[str, Value] = {setting.name: setting.default for setting in SETTINGS}


def on(surface: Surface, settings: Iterable[Setting] = SETTINGS) -> list[Setting]:
    """The settings a surface carries, in display order."""
    return [setting for setting in settings if surface in setting.surfaces]


def parse_settings(values: Mapping[str, Any], settings: Iterable[Setting] = SETTINGS) -> dict[str, Value]:
    """Every setting's typed value, defaults filled in. Keys that are no
    setting are not read (a platform adds its own): see ``unknown``.
    Raises ``ConfigurationError`` naming the first bad setting."""
    return {setting.name: setting.parse(values.get(setting.name)) for setting in settings}


def unknown(values: Mapping[str, Any], settings: Iterable[Setting]) -> list[str]:
    """The keys of ``values`` that are none of ``settings``, sorted."""
    return sorted(set(values) - {setting.name for setting in settings})


def shown(value: Value) -> str:
    """A value as the docs and generated files show it: 5 rather than 5.0."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return "" if value is None else str(value)


def plain(value: Value) -> Value:
    """A value for a JSON file: 5 rather than 5.0."""
    return int(value) if isinstance(value, float) and value.is_integer() else value
