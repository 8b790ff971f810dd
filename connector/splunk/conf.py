"""The app's own settings file, ``spectra_analyze.conf``, read as Splunk
layers an app's files: ``local/`` over ``default/``, key by key.

It is read from disk, not through splunkd's REST API: the app's folder is
at hand, it costs no request, and a search head cluster replicates ``local/``
(``server.conf`` asks it to).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Mapping, Optional

from ..cache import ResultCache, open_cache
from ..config import Config, cache_settings
from ..errors import ConfigurationError, InputError
from ..params import parse_number

CONF_NAME = "spectra_analyze"
# In the app's own folder: answers shared by every search and alert action of this search head.
CACHE_FOLDER = "cache"
APPLIANCE_KEYS = ("url", "verify_tls", "ca_bundle", "proxy", "connect_timeout", "read_timeout", "batch_size",
                  "max_connections", "max_attempts", "retry_deadline", "cache", "cache_ttl", "cache_not_found_ttl",
                  "cache_max_entries")
COMMAND_KEYS = ("memo_size", "log_level")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
Stanzas = Dict[str, Dict[str, str]]


@dataclass(frozen=True)
class AppSettings:
    appliance: Dict[str, str]  # the keys Config.from_settings takes, less the token
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


def read_app_conf(app_dir: Path, name: str = CONF_NAME) -> Stanzas:
    merged: Stanzas = {}
    for layer in ("default", "local"):
        path = app_dir / layer / f"{name}.conf"
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            continue
        except (OSError, UnicodeDecodeError) as err:
            raise ConfigurationError(f"cannot read {path}: {err}") from None
        for stanza, values in parse_conf(text).items():
            merged.setdefault(stanza, {}).update(values)
    return merged


def load_settings(app_dir: Path) -> AppSettings:
    """The app's settings, checked. Raises ``ConfigurationError`` naming the
    file and key to fix."""
    stanzas = read_app_conf(app_dir)
    appliance = _known(stanzas, "appliance", APPLIANCE_KEYS)
    command = _known(stanzas, "command", COMMAND_KEYS)
    if not appliance.get("url"):
        raise ConfigurationError(f"the appliance address is not set: set url in the [appliance] stanza of "
                                 f"{app_dir / 'local' / (CONF_NAME + '.conf')}")
    try:
        memo_size = parse_number("memo_size", command.get("memo_size"), 20000, minimum=0, maximum=1000000,
                                 integer=True)
    except InputError as err:
        raise ConfigurationError(f"{CONF_NAME}.conf [command] {err}") from None
    level = (command.get("log_level") or "INFO").upper()
    if level not in LOG_LEVELS:
        raise ConfigurationError(f"{CONF_NAME}.conf [command] log_level: expected one of {', '.join(LOG_LEVELS)}, "
                                 f"got {command.get('log_level')!r}")
    return AppSettings(appliance=appliance, memo_size=int(memo_size), log_level=level)


def _known(stanzas: Mapping[str, Dict[str, str]], stanza: str, keys: tuple) -> Dict[str, str]:
    values = dict(stanzas.get(stanza, {}))
    unknown = sorted(set(values) - set(keys))
    if unknown:
        raise ConfigurationError(f"{CONF_NAME}.conf [{stanza}]: unknown setting(s) {', '.join(unknown)}; "
                                 f"known: {', '.join(keys)}")
    return values


def appliance_config(settings: AppSettings, app_dir: Path, token: str) -> Config:
    """The core's configuration for this app: the [appliance] settings, the
    token read from storage/passwords and the app's own cache folder."""
    return Config.from_settings(dict(settings.appliance, token=token, cache_dir=str(app_dir / CACHE_FOLDER)))


def app_cache(settings: AppSettings, app_dir: Path) -> Optional[ResultCache]:
    """The answer cache the app's settings ask for, in the app's own folder,
    or None. Raises ``ConfigurationError``."""
    return open_cache(cache_settings(dict(settings.appliance, cache_dir=str(app_dir / CACHE_FOLDER))))
