"""The app's own settings file, ``spectra_analyze.conf``, read as Splunk
layers an app's files: ``local/`` over ``default/``, key by key.

It is read from disk, not through splunkd's REST API: the app's folder is
at hand, it costs no request, and a search head cluster replicates ``local/``
(``server.conf`` asks it to).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from ..cache import ResultCache, open_cache
from ..config import Config, cache_settings
from ..errors import ConfigurationError
from ..settings import Kind, Setting, Surface, on, parse_settings, unknown
from ..textfiles import TextFileError, read_text

CONF_NAME = "spectra_analyze"
# In the app's own folder: answers shared by every search and alert action of this search head.
CACHE_FOLDER = "cache"
SPLUNK_ONLY = frozenset({Surface.SPLUNK})
# The [appliance] stanza: the core's settings (connector.settings) less the token, kept in storage/passwords.
APPLIANCE_SETTINGS = tuple(on(Surface.SPLUNK))
# The [command] stanza: the search command's own settings.
COMMAND_SETTINGS = (
    Setting(
        "memo_size",
        Kind.INTEGER,
        "Distinct hashes a search remembers, so that no hash is looked up twice "
        "in one search while it has at most this many distinct hashes. Memory grows with this number (up to "
        "about 2 KB a hash: 20000 is about 40 MB), not with the number of events; 0 turns the memo off",
        default=20000,
        minimum=0,
        maximum=1_000_000,
        surfaces=SPLUNK_ONLY,
    ),
    Setting(
        "log_level",
        Kind.TEXT,
        "Level of $SPLUNK_HOME/var/log/splunk/spectra_analyze.log",
        default="INFO",
        choices=("DEBUG", "INFO", "WARNING", "ERROR"),
        surfaces=SPLUNK_ONLY,
    ),
)
STANZAS: dict[str, tuple[Setting, ...]] = {"appliance": APPLIANCE_SETTINGS, "command": COMMAND_SETTINGS}
APPLIANCE_KEYS = tuple(setting.name for setting in APPLIANCE_SETTINGS)
COMMAND_KEYS = tuple(setting.name for setting in COMMAND_SETTINGS)
Stanzas = dict[str, dict[str, str]]


@dataclass(frozen=True)
class AppSettings:
    appliance: dict[str, str]  # the keys Config.from_settings takes, less the token
    memo_size: int
    log_level: str


def parse_conf(text: str) -> Stanzas:
    """Stanzas of a Splunk .conf file: ``[stanza]``, ``key = value``, ``#``
    comments, a trailing backslash continuing a value on the next line."""
    stanzas: Stanzas = {}
    current = stanzas.setdefault("default", {})
    pending = ""
    for raw in text.splitlines():
        line = pending + raw.strip()
        if line.endswith("\\"):
            pending = line[:-1] + "\n"
            continue
        pending = ""
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = stanzas.setdefault(line[1:-1].strip(), {})
        elif "=" in line:
            key, _, value = line.partition("=")
            current[key.strip()] = value.strip()
    return stanzas


def read_app_conf(app_dir: Path, name: str = CONF_NAME, layers: tuple[str, ...] = ("default", "local")) -> Stanzas:
    merged: Stanzas = {}
    for layer in layers:
        path = app_dir / layer / f"{name}.conf"
        if not path.exists():
            continue
        try:  # an admin's Notepad writes a BOM, which must not hide the first stanza
            text = read_text(str(path), what="the settings")
        except TextFileError as err:
            raise ConfigurationError(str(err)) from None
        for stanza, values in parse_conf(text).items():
            merged.setdefault(stanza, {}).update(values)
    return merged


def load_settings(app_dir: Path) -> AppSettings:
    """The app's settings, checked. Raises ``ConfigurationError`` naming the
    file and key to fix."""
    stanzas = read_app_conf(app_dir)
    appliance = _known(stanzas, "appliance")
    command = _known(stanzas, "command")
    if not appliance.get("url"):
        raise ConfigurationError(
            f"the appliance address is not set: set url in the [appliance] stanza of "
            f"{app_dir / 'local' / (CONF_NAME + '.conf')}"
        )
    try:
        values = parse_settings(command, COMMAND_SETTINGS)
    except ConfigurationError as err:
        raise ConfigurationError(f"{CONF_NAME}.conf [command] {err}") from None
    return AppSettings(appliance=appliance, memo_size=values["memo_size"], log_level=values["log_level"])


def _known(stanzas: Mapping[str, dict[str, str]], stanza: str) -> dict[str, str]:
    values = dict(stanzas.get(stanza, {}))
    strangers = unknown(values, STANZAS[stanza])
    if strangers:
        raise ConfigurationError(
            f"{CONF_NAME}.conf [{stanza}]: unknown setting(s) {', '.join(strangers)}; "
            f"known: {', '.join(setting.name for setting in STANZAS[stanza])}"
        )
    return values


def appliance_config(values: Mapping[str, Any], app_dir: Path) -> Config:
    """The core's configuration for this app: an appliance's settings with
    its token (``accounts.connection_settings``) and the app's own cache folder."""
    return Config.from_settings(dict(values, cache_dir=str(app_dir / CACHE_FOLDER)))


def app_cache(settings: AppSettings, app_dir: Path) -> Optional[ResultCache]:
    """The answer cache the app's settings ask for, in the app's own folder,
    or None. Raises ``ConfigurationError``."""
    return open_cache(cache_settings(dict(settings.appliance, cache_dir=str(app_dir / CACHE_FOLDER))))
