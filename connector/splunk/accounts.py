"""The appliances and settings an admin enters on the app's configuration
page, read back the way the page's REST handlers (splunktaucclib, generated
by ucc-gen from ``ucc.py``) store them:

- an appliance is a stanza of ``spectra_analyze_account.conf`` (``disabled``
  set when an admin disables it), its API token written there as ``******``;
- the Settings, Proxy and Logging tabs are the stanzas ``settings``,
  ``proxy`` and ``logging`` of ``spectra_analyze_settings.conf``;
- a secret field lives in storage/passwords under the realm
  ``__REST_CREDENTIAL__#<app>#configs/conf-<conf>``: solnlib cuts the JSON
  ``{"<field>": "<value>", ...}`` of a stanza's secret fields in pieces of 255
  characters, stored as the users ``<stanza>``splunk_cred_sep``1``, ``2``, ...,
  and ends them with an entry holding its end mark (solnlib
  ``credentials.CredentialManager``, splunktaucclib
  ``rest_handler/credentials.py``).

The .conf files are read from the app's folder as Splunk layers them
(``default/`` then ``local/``): no request, and a search head cluster
replicates them (``server.conf``). The secrets are read with the search's
own session, which needs the ``list_storage_passwords`` capability.

An install upgraded from 1.0 keeps ``[appliance]`` in
``spectra_analyze.conf`` and its token under the realm ``spectra_analyze``:
while no appliance is chosen on the page, that one is the default appliance
(named ``LEGACY_NAME``), and its file's cache and command settings stay the
base the Settings tab overrides.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional
from urllib.parse import quote

from ..config import Config
from ..errors import ConfigurationError, InputError
from ..params import parse_bool
from ..settings import Setting, parse_settings
from .conf import (
    APPLIANCE_SETTINGS,
    CACHE_FOLDER,
    COMMAND_SETTINGS,
    CONF_NAME,
    AppSettings,
    Stanzas,
    load_settings,
    read_app_conf,
)
from .kvstore import KVStoreError, Splunkd
from .ucc import (
    ACCOUNT_SETTINGS,
    ACCOUNT_TAB,
    ALLOW_HTTP_FIELD,
    APP_ID,
    CACHE_SETTINGS,
    DEFAULT_APPLIANCE_FIELD,
    LOGGING_TAB,
    MEMO_SETTING,
    PAGE_HINT,
    PROXY_PASSWORD_FIELD,
    PROXY_TAB,
    SETTINGS_TAB,
    TOKEN_FIELD,
)

ACCOUNT_CONF = f"{APP_ID}_{ACCOUNT_TAB}"
SETTINGS_CONF = f"{APP_ID}_settings"
REALM = "__REST_CREDENTIAL__#{app}#configs/conf-{conf}"
SEPARATOR = "``splunk_cred_sep``"
END_MARK = SEPARATOR + SEPARATOR.join("SPLUNK") + SEPARATOR
LEGACY_NAME = "spectra_analyze.conf"  # the 1.0 install's appliance, named after where it is set
CA_FOLDER = "ca"  # pasted CA certificates, written as files under the app's cache folder
_PEM = "-----BEGIN"


@dataclass(frozen=True)
class Appliance:
    """The appliance a search or an alert uses, with the settings it shares."""

    name: str
    settings: AppSettings  # settings.appliance: the core's settings for it, less the token and proxy
    legacy: bool  # the 1.0 install's appliance (token under the realm spectra_analyze)

    def describe(self) -> str:
        return f"the appliance {self.name!r}"


def choose(app_dir: Path, name: Optional[str] = None) -> Appliance:
    """The appliance ``name`` (default: the default appliance), from the
    app's files alone. Raises ``ConfigurationError`` naming the appliance
    and the page where it is fixed."""
    accounts = {
        stanza: values for stanza, values in read_app_conf(app_dir, ACCOUNT_CONF).items() if stanza != "default"
    }
    tabs = saved_tabs(app_dir)
    legacy = _legacy(app_dir)
    name = name or _default_name(accounts, tabs, legacy)
    if name == LEGACY_NAME and legacy is not None:
        return Appliance(LEGACY_NAME, _shared(legacy, tabs), legacy=True)
    values = accounts.get(name)
    if values is None:
        known = f"; the appliances are: {', '.join(sorted(accounts))}" if accounts else ""
        raise ConfigurationError(
            f"there is no appliance {name!r}{known}: add it on the app's configuration page ({PAGE_HINT})"
        )
    if _true(values.get("disabled")):
        raise ConfigurationError(
            f"the appliance {name!r} is disabled: enable it on the app's configuration page ({PAGE_HINT})"
        )
    return Appliance(name, _shared(_account_settings(name, values, legacy or load_defaults()), tabs), legacy=False)


def _default_name(accounts: Mapping[str, Any], tabs: Mapping[str, Any], legacy: Optional[AppSettings]) -> str:
    """The appliance chosen on the Settings tab, else 1.0's, else the only one."""
    chosen = (tabs.get(SETTINGS_TAB, {}).get(DEFAULT_APPLIANCE_FIELD) or "").strip()
    if chosen:
        return chosen
    if legacy is not None:
        return LEGACY_NAME
    if len(accounts) == 1:
        return next(iter(accounts))
    known = f" (there are {len(accounts)}: {', '.join(sorted(accounts))})" if accounts else ""
    raise ConfigurationError(
        f"no default appliance is set{known}: add an appliance or choose the default "
        f"one on the app's configuration page ({PAGE_HINT}), or give appliance=<name>"
    )


def _account_settings(name: str, values: Mapping[str, str], base: AppSettings) -> AppSettings:
    """The settings of one appliance stanza, checked, over ``base`` for what the page does not set."""
    appliance = {key: values[key] for key in ACCOUNT_SETTINGS if values.get(key, "").strip()}
    _check_scheme(name, appliance.get("url", ""), values.get(ALLOW_HTTP_FIELD))
    try:
        parse_settings(appliance, [setting for setting in _appliance_settings() if setting.name in ACCOUNT_SETTINGS])
    except ConfigurationError as err:
        raise ConfigurationError(
            f"the appliance {name!r}: {err}; correct it on the app's configuration page ({PAGE_HINT})"
        ) from None
    return AppSettings(
        appliance=dict(
            {key: value for key, value in base.appliance.items() if key not in ACCOUNT_SETTINGS}, **appliance
        ),
        memo_size=base.memo_size,
        log_level=base.log_level,
    )


def load_defaults() -> AppSettings:
    values = parse_settings({}, COMMAND_SETTINGS)
    return AppSettings(appliance={}, memo_size=values["memo_size"], log_level=values["log_level"])


def _appliance_settings() -> list[Setting]:
    return list(APPLIANCE_SETTINGS)


def saved_tabs(app_dir: Path) -> Stanzas:
    """The tabs as an admin saved them (``local/``): ucc-gen's ``default/``
    only restates the defaults of ``connector.settings``, which must not hide
    a 1.0 install's own values."""
    return read_app_conf(app_dir, SETTINGS_CONF, layers=("local",))


def _legacy(app_dir: Path) -> Optional[AppSettings]:
    """The 1.0 install's settings, when its ``local/spectra_analyze.conf``
    sets the appliance (checked: a mistake there is reported, not skipped)."""
    if not read_app_conf(app_dir, CONF_NAME, layers=("local",)).get("appliance"):
        return None
    return load_settings(app_dir)


def _shared(base: AppSettings, tabs: Stanzas) -> AppSettings:
    """``base`` with the Settings and Logging tabs' values over it."""
    settings = tabs.get(SETTINGS_TAB, {})
    cache = {key: settings[key] for key in CACHE_SETTINGS if settings.get(key, "").strip()}
    command: dict[str, Any] = {
        "memo_size": settings.get(MEMO_SETTING) or base.memo_size,
        "log_level": tabs.get(LOGGING_TAB, {}).get("loglevel") or base.log_level,
    }
    try:
        parse_settings(cache, [setting for setting in _appliance_settings() if setting.name in CACHE_SETTINGS])
        values = parse_settings(command, COMMAND_SETTINGS)
    except ConfigurationError as err:
        raise ConfigurationError(
            f"the Settings tab: {err}; correct it on the app's configuration page ({PAGE_HINT})"
        ) from None
    return AppSettings(
        appliance=dict(base.appliance, **cache), memo_size=values["memo_size"], log_level=values["log_level"]
    )


def _check_scheme(name: str, url: str, allow_http: Optional[str]) -> None:
    if url.strip().lower().startswith("http://") and not _true(allow_http):
        raise ConfigurationError(
            f"the appliance {name!r} has a plain http:// address, which would send its API "
            'token unencrypted: use https://, or tick "Allow plain HTTP" for a lab appliance '
            f"on the app's configuration page ({PAGE_HINT})"
        )


def _true(value: Optional[str]) -> bool:
    """A checkbox of the page (1, 0, true, false); anything else counts as unticked."""
    try:
        return parse_bool("checkbox", value, False)
    except InputError:
        return False


def connection_settings(
    appliance: Appliance, splunkd: Optional[Splunkd], legacy_token: Any, app_dir: Path
) -> dict[str, Any]:
    """The core's settings for ``appliance``, with its token and the proxy,
    the secrets read through ``splunkd`` (the search's session).
    ``legacy_token(app)`` reads the 1.0 token. Raises ``ConfigurationError``."""
    values: dict[str, Any] = dict(appliance.settings.appliance)
    if appliance.legacy:
        values["token"] = legacy_token()
    else:
        if splunkd is None:
            raise ConfigurationError(
                f"splunkd passed no session, so the API token of {appliance.describe()} cannot be read"
            )
        secret = read_secret(splunkd, ACCOUNT_CONF, appliance.name).get(TOKEN_FIELD, "")
        if not str(secret).strip():
            raise ConfigurationError(
                f"no API token is stored for the appliance {appliance.name!r}: enter it on "
                f"the app's configuration page ({PAGE_HINT})"
            )
        values["token"] = str(secret)
    proxy = proxy_url(saved_tabs(app_dir).get(PROXY_TAB, {}), splunkd)
    if proxy:
        values["proxy"] = proxy
    bundle = values.get("ca_bundle")
    if bundle and bundle.lstrip().startswith(_PEM):
        values["ca_bundle"] = str(pem_file(app_dir, bundle))
    return values


def proxy_url(proxy: Mapping[str, str], splunkd: Optional[Splunkd]) -> Optional[str]:
    """The proxy of the Proxy tab as a URL (with its user and password), or
    None when it is not enabled."""
    if not _true(proxy.get("proxy_enabled")) or not (proxy.get("proxy_url") or "").strip():
        return None
    scheme = (proxy.get("proxy_type") or "http").strip()
    host = proxy["proxy_url"].strip()
    port = (proxy.get("proxy_port") or "").strip()
    user = (proxy.get("proxy_username") or "").strip()
    credentials = ""
    if user:
        password = ""
        if splunkd is not None:
            password = read_secret(splunkd, SETTINGS_CONF, PROXY_TAB).get(PROXY_PASSWORD_FIELD, "")
        credentials = quote(user, safe="") + (":" + quote(str(password), safe="") if password else "") + "@"
    return f"{scheme}://{credentials}{host}" + (f":{port}" if port else "")


def _secret_text(entries: list[dict[str, Any]], realm: str, stanza: str) -> str:
    """The stanza's secret JSON: its pieces joined up to the end mark, or stored whole by an old solnlib."""
    pieces: dict[int, str] = {}
    whole = ""
    numbered = re.compile(re.escape(stanza + SEPARATOR) + r"(\d+)")
    for entry in entries:
        content = entry.get("content", {})
        if content.get("realm") != realm:
            continue
        user = content.get("username", "")
        match = numbered.fullmatch(user)
        if match:
            pieces[int(match.group(1))] = content.get("clear_password", "")
        elif user == stanza:
            whole = content.get("clear_password", "")
    if not pieces:
        return whole
    text = ""
    for index in sorted(pieces):
        if pieces[index] == END_MARK:
            break
        text += pieces[index]
    return text


def read_secret(splunkd: Splunkd, conf: str, stanza: str) -> dict[str, Any]:
    """The secret fields of ``stanza`` of ``conf``, as splunktaucclib stored
    them; {} when none are stored. Raises ``ConfigurationError``."""
    realm = REALM.format(app=splunkd.app, conf=conf)
    try:
        answer = splunkd.call(
            "GET",
            f"/servicesNS/nobody/{quote(splunkd.app)}/storage/passwords",
            {"output_mode": "json", "count": "-1", "search": f"realm={realm}"},
        )
    except KVStoreError as err:
        raise ConfigurationError(_refusal(err, conf, stanza)) from None
    text = _secret_text((answer or {}).get("entry", []), realm, stanza)
    if not text:
        return {}
    try:
        secret = json.loads(text)
    except ValueError:
        raise ConfigurationError(
            f"the stored secret of {stanza!r} ({conf}) is not what the configuration page "
            f"writes: save it again on the app's configuration page ({PAGE_HINT})"
        ) from None
    return secret if isinstance(secret, dict) else {}


def _refusal(err: KVStoreError, conf: str, stanza: str) -> str:
    what = f"the API token of the appliance {stanza!r}" if conf == ACCOUNT_CONF else f"the {stanza} password"
    if err.status == 403:
        return (
            f"the user running this search may not read {what}: give their role the list_storage_passwords capability"
        )
    if err.status == 401:
        return f"splunkd refused the search's session while reading {what}; run the search again"
    return f"could not read {what} from splunkd: {err}"


def pem_file(app_dir: Path, pem: str) -> Path:
    """A pasted CA bundle as a file the TLS layer can load: under the app's
    cache folder, named by its content, written once."""
    text = pem.replace("\r\n", "\n").strip() + "\n"
    folder = app_dir / CACHE_FOLDER / CA_FOLDER
    path = folder / (hashlib.sha256(text.encode("utf-8")).hexdigest()[:32] + ".pem")
    if not path.exists():
        try:
            folder.mkdir(parents=True, exist_ok=True)
            scratch = path.with_suffix(f".{os.getpid()}.tmp")
            scratch.write_text(text, encoding="utf-8")
            os.replace(scratch, path)
        except OSError as err:
            raise ConfigurationError(f"cannot write the pasted CA bundle to {path}: {err.strerror}") from None
    return path


def check_account(name: str, fields: Mapping[str, Any], app_dir: Path, proxy: Optional[str] = None) -> str:
    """What the configuration page's "test connection" does before it saves
    an appliance: the address's scheme, the settings' ranges, then the same
    read-only lookup as ``test_connectivity`` with the token just entered
    (skipped when the page sends the token's placeholder: an edit that keeps
    the stored token). Returns what was checked; raises ``ConfigurationError``
    or the lookup's ``ApplianceError``."""
    from ..actions import check_connectivity  # the lookup path, only when checking
    from ..client import SpectraAnalyzeClient

    text = {key: str(value) for key, value in fields.items() if value is not None}
    _check_scheme(name, text.get("url", ""), text.get(ALLOW_HTTP_FIELD))
    values: dict[str, Any] = {key: text[key] for key in ACCOUNT_SETTINGS if text.get(key, "").strip()}
    token = text.get(TOKEN_FIELD, "")
    if not token.strip() or set(token) == {"*"}:
        parse_settings(values, [setting for setting in _appliance_settings() if setting.name in ACCOUNT_SETTINGS])
        return f"the settings of the appliance {name!r} (its stored API token was not tried)"
    if values.get("ca_bundle", "").lstrip().startswith(_PEM):
        values["ca_bundle"] = str(pem_file(app_dir, values["ca_bundle"]))
    values.update(token=token, cache=False, max_attempts=1)
    if proxy:
        values["proxy"] = proxy
    config = Config.from_settings(values)
    with SpectraAnalyzeClient(config) as client:
        return check_connectivity({}, client).message
