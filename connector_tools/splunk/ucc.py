"""The app's configuration page, as UCC's ``globalConfig.json``.

Splunk's UCC framework (``ucc-gen``, run by ``build.py``) turns this file
into the page, its REST handlers and the encrypted storage of its secrets.
Every field of a setting of ``connector.settings`` takes its label, help,
default and range from there, and every tab and field its name from
``connector.splunk.ucc``: nothing here restates them.
"""

from __future__ import annotations

from typing import Any

from connector.settings import SETTING, Kind, Setting, plain
from connector.splunk.conf import COMMAND_SETTINGS
from connector.splunk.ucc import (
    ACCOUNT_SETTINGS,
    ACCOUNT_TAB,
    ALLOW_HTTP_FIELD,
    APP_ID,
    CACHE_SETTINGS,
    DEFAULT_APPLIANCE_FIELD,
    DISPLAY_NAME,
    LOG_LEVEL_SETTING,
    LOGGING_TAB,
    MEMO_SETTING,
    NAME_PATTERN,
    PROXY_PASSWORD_FIELD,
    PROXY_TAB,
    SETTINGS_TAB,
    TOKEN_FIELD,
    URL_PATTERN,
)


def global_config(version: str) -> dict[str, Any]:
    """The whole ``globalConfig.json``."""
    return {
        "meta": {
            "name": APP_ID,
            "restRoot": APP_ID,
            "version": version,
            "displayName": DISPLAY_NAME,
            "schemaVersion": "0.0.8",
            "checkForUpdates": False,
            "hideUCCVersion": True,
            "defaultView": "configuration",
        },
        "alerts": [_alert_action(version)],
        "pages": {
            "configuration": {
                "title": "Configuration",
                "description": "The appliances the spectraanalyze command and the alert action look hashes up on, "
                "and the settings they share.",
                "tabs": [_account_tab(), _settings_tab(), _proxy_tab(), _logging_tab()],
            }
        },
    }


def _alert_action(version: str) -> dict[str, Any]:
    """The alert action (``alert_action.py``), declared as an adaptive response action for Splunk
    Enterprise Security too: ucc-gen writes its ``alert_actions.conf`` stanza with ``param._cam``.
    The app's own form (``default/data/ui/alerts``) and script (``bin/``) replace the generated ones."""
    from connector.splunk.alert_action import (  # the action's own module, at build time
        ACTION,
        DEFAULT_SOURCETYPE,
        SHIPPED_RULES,
    )

    def text(field: str, label: str, help_text: str, default: str = "") -> dict[str, Any]:
        entry = {"type": "text", "field": field, "label": label, "help": help_text, "required": False}
        return dict(entry, defaultValue=default) if default else entry

    return {
        "name": ACTION,
        "label": "Enrich with Spectra Analyze rules",
        "iconFileName": "alerticon.png",
        "description": "Looks up the file hashes of the alert's results on ReversingLabs Spectra Analyze, applies an "
        "enrichment rules file (severity, tags, fields, route) and indexes the enriched results.",
        "entity": [
            text(
                "rules_file",
                "Rules file",
                "A .json file in the app's local/rules folder, or a shipped one.",
                SHIPPED_RULES,
            ),
            text("index", "Index", "Where the enriched results go, one event per result.", "main"),
            text("sourcetype", "Sourcetype", "The sourcetype of the enriched events.", DEFAULT_SOURCETYPE),
            text("appliance", "Appliance", "The appliance's name on the configuration page; empty: the default."),
        ],
        "adaptiveResponse": {
            "task": ["scan"],
            "subject": ["file"],
            "category": ["Information Gathering"],
            "technology": [{"vendor": "ReversingLabs", "product": "Spectra Analyze", "version": [version]}],
            "supportsAdhoc": True,
            "supportsCloud": True,
            "sourcetype": DEFAULT_SOURCETYPE,
        },
    }


def _account_tab() -> dict[str, Any]:
    entity: list[dict[str, Any]] = [
        {
            "type": "text",
            "field": "name",
            "label": "Name",
            "required": True,
            "help": "The name a search gives as appliance=<name>, e.g. prod or lab.",
            "validators": [
                {
                    "type": "regex",
                    "pattern": NAME_PATTERN,
                    "errorMsg": "A letter, then up to 49 letters, digits, _ or -.",
                }
            ],
        },
        _field(SETTING["url"], required=True),
        {
            "type": "checkbox",
            "field": ALLOW_HTTP_FIELD,
            "label": "Allow plain HTTP",
            "defaultValue": False,
            "help": "Only for a lab appliance without TLS: the API token then crosses the network unencrypted.",
        },
        {
            "type": "text",
            "field": TOKEN_FIELD,
            "label": "API token",
            "required": True,
            "encrypted": True,
            "help": "The API token of an appliance user (Administration > Users > API token). Kept encrypted "
            "in Splunk's password storage, never shown again.",
        },
    ]
    entity += [_field(SETTING[name]) for name in ACCOUNT_SETTINGS[1:]]
    return {
        "name": ACCOUNT_TAB,
        "title": "Appliances",
        # The handler tries the account on the appliance before it is saved (bin/spectra_analyze_account_check.py).
        "restHandlerModule": "spectra_analyze_account_check",
        "restHandlerClass": "AccountCheck",
        "table": {
            "actions": ["edit", "delete", "clone"],
            "header": [
                {"label": "Name", "field": "name"},
                {"label": "URL", "field": "url"},
                {"label": "Verify TLS", "field": "verify_tls"},
            ],
            "moreInfo": [
                {"label": "Batch size", "field": "batch_size"},
                {"label": "Connections", "field": "max_connections"},
            ],
        },
        "entity": entity,
    }


def _settings_tab() -> dict[str, Any]:
    settings = [SETTING[name] for name in CACHE_SETTINGS] + [_command_setting(MEMO_SETTING)]
    return {
        "name": SETTINGS_TAB,
        "title": "Settings",
        "entity": [
            {
                "type": "singleSelect",
                "field": DEFAULT_APPLIANCE_FIELD,
                "label": "Default appliance",
                "options": {"referenceName": ACCOUNT_TAB},
                "help": "The appliance of a search without appliance=<name>, and of the alert action.",
            }
        ]
        + [_field(setting) for setting in settings],
    }


def _proxy_tab() -> dict[str, Any]:
    return {
        "name": PROXY_TAB,
        "title": "Proxy",
        "entity": [
            {"type": "checkbox", "field": "proxy_enabled", "label": "Enable", "defaultValue": False},
            {
                "type": "singleSelect",
                "field": "proxy_type",
                "label": "Type",
                "defaultValue": "http",
                "options": {
                    "disableSearch": True,
                    "autoCompleteFields": [
                        {"value": "http", "label": "http"},
                        {"value": "https", "label": "https"},
                        {"value": "socks5h", "label": "socks5 (names resolved by the proxy)"},
                    ],
                },
            },
            {
                "type": "text",
                "field": "proxy_url",
                "label": "Host",
                "help": "The proxy's host name or address.",
                "validators": [
                    {
                        "type": "regex",
                        "pattern": r"^[A-Za-z0-9.\-:\[\]]+$",
                        "errorMsg": "A host name or address, without scheme or port.",
                    }
                ],
            },
            {
                "type": "text",
                "field": "proxy_port",
                "label": "Port",
                "validators": [{"type": "number", "range": [1, 65535], "isInteger": True}],
            },
            {"type": "text", "field": "proxy_username", "label": "User"},
            {"type": "text", "field": PROXY_PASSWORD_FIELD, "label": "Password", "encrypted": True},
        ],
    }


def _logging_tab() -> dict[str, Any]:
    level = _command_setting(LOG_LEVEL_SETTING)
    return {
        "type": "loggingTab",
        "name": LOGGING_TAB,
        "title": "Logging",
        "defaultLevel": level.default,
        "levels": list(level.choices),
    }


def _command_setting(name: str) -> Setting:
    return next(setting for setting in COMMAND_SETTINGS if setting.name == name)


def _field(setting: Setting, required: bool = False) -> dict[str, Any]:
    """One setting as a field of the page, its range checked in the page."""
    label = setting.name.replace("_", " ").capitalize().replace("Url", "URL").replace("Tls", "TLS")
    entry: dict[str, Any] = {"field": setting.name, "label": label, "help": _help(setting)}
    if setting.kind is Kind.BOOLEAN:
        return dict(entry, type="checkbox", defaultValue=setting.default)
    if setting.choices:
        return dict(
            entry,
            type="singleSelect",
            defaultValue=setting.default,
            options={
                "disableSearch": True,
                "autoCompleteFields": [{"value": choice, "label": choice} for choice in setting.choices],
            },
        )
    if setting.name == "ca_bundle":
        # A certificate pasted in the page, or the path of a file on the search head.
        return dict(
            entry,
            type="textarea",
            options={"rowsMin": 3, "rowsMax": 12},
            help="The PEM certificates of the authorities that signed the appliance's certificate (pasted "
            "here), or the path of such a file on the search head; empty: the usual public ones.",
        )
    entry["type"] = "text"
    if required:
        entry["required"] = True
    if setting.default is not None:
        entry["defaultValue"] = str(plain(setting.default))
    if setting.minimum is not None:
        assert setting.maximum is not None
        entry["validators"] = [
            {
                "type": "number",
                "range": [plain(setting.minimum), plain(setting.maximum)],
                "isInteger": setting.kind is Kind.INTEGER,
                "errorMsg": f"{label}: {setting.bounds}.",
            }
        ]
    elif setting.unit == "url":
        entry["validators"] = [
            {
                "type": "regex",
                "pattern": URL_PATTERN,
                "errorMsg": "An address like https://a1000.example.com (no path).",
            }
        ]
    return entry


def _help(setting: Setting) -> str:
    text = setting.help.rstrip(".")
    return f"{text} ({setting.bounds})." if setting.minimum is not None else f"{text}."
