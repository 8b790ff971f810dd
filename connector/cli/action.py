"""``action``: run one action of ``package.json`` with JSON parameters and
print its result as one JSON document (status, message, summary, data), for
any automation platform that can run a command.

The settings come from ``--config @FILE`` (a JSON object with the keys of
the SOAR asset, typed as SOAR types them or as text), then from the
environment for the URL, token and CA bundle. The token is never taken on
the command line. Answers are kept in the user's cache folder, as the
lookup commands keep them.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping
from typing import Any, Optional

from ..actions import run_action
from ..cache import open_cache
from ..client import SpectraAnalyzeClient
from ..config import Config
from ..errors import SpectraAnalyzeError
from ..manifest import load_manifest
from ..outputs import failed_document, result_document
from ..service import LookupService
from ..settings import SETTING, Surface, on, unknown
from ..textfiles import STDIN, read_text
from ..verdict import Thresholds
from .common import (
    ENV_CA_BUNDLE,
    ENV_TOKEN,
    ENV_URL,
    EXIT_FAILED,
    EXIT_OK,
    UsageError,
    add_cache_dir_option,
    add_setting_flag,
    add_verbosity,
    cache_dir_of,
    with_environment,
    write_json,
)


def register(subparsers: Any) -> None:
    manifest = load_manifest()
    actions = "; ".join(f"{name}: {spec['description']}" for name, spec in manifest["actions"].items())
    parser = subparsers.add_parser(
        "action",
        help="run an action with JSON parameters and print its result as JSON",
        description="Run one action and print its result as JSON (action, status, message, summary, data). "
        "Exit status: 0 when every hash got an answer, 1 when a lookup failed, 2 for a usage error.",
    )
    parser.add_argument("name", choices=list(manifest["actions"]), metavar="ACTION", help=actions)
    parser.add_argument(
        "--params",
        default="{}",
        metavar="JSON|@FILE",
        help="the action's parameters as a JSON object, or @FILE to read them from a file "
        "(@- for standard input); default {}",
    )
    parser.add_argument(
        "--config",
        metavar="@FILE",
        help="a JSON file of settings, the SOAR asset's: "
        + ", ".join(setting.name for setting in on(Surface.SOAR))
        + f". Missing url, token and ca_bundle come from ${ENV_URL}, ${ENV_TOKEN} "
        f"and ${ENV_CA_BUNDLE}",
    )
    add_setting_flag(parser, SETTING["cache"])
    add_cache_dir_option(parser)
    add_verbosity(parser)
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    try:
        params = _json_object("--params", _text("--params", args.params))
        values = settings(args.config, os.environ)
        if args.cache is False:
            values["cache"] = False
        config = Config.from_settings(dict(values, cache_dir=cache_dir_of(args, os.environ)))
        with LookupService(SpectraAnalyzeClient(config), store=open_cache(config.cache)) as lookups:
            result = run_action(args.name, params, lookups, Thresholds.from_settings(values))
    except (UsageError, SpectraAnalyzeError) as err:
        # The document goes out even then: a caller that parses stdout always gets JSON.
        write_json(failed_document(args.name, str(err)), sys.stdout)
        raise
    write_json(result_document(result), sys.stdout)
    if not result.ok:
        print(f"spectra-connector: {result.message}", file=sys.stderr)
    return EXIT_OK if result.ok else EXIT_FAILED


def settings(config: Optional[str], environ: Mapping[str, str]) -> dict[str, Any]:
    """The settings of ``--config @FILE``, completed from the environment."""
    values: dict[str, Any] = {}
    if config is not None:
        if not config.startswith("@"):
            raise UsageError(
                "--config takes @FILE, a JSON file of settings, so that the token stays off the command line"
            )
        values = _json_object("--config", _text("--config", config))
    asset = on(Surface.SOAR)
    strangers = unknown(values, asset)
    if strangers:
        raise UsageError(
            f"--config: unknown setting(s) {', '.join(strangers)}; "
            f"known: {', '.join(setting.name for setting in asset)}"
        )
    values = with_environment(values, environ)
    if not values.get("url"):
        raise UsageError(f"no appliance URL: set url in the --config file or ${ENV_URL}")
    if not values.get("token"):
        raise UsageError(f"no API token: set token in the --config file or ${ENV_TOKEN}")
    return values


def _text(option: str, value: str) -> str:
    if not value.startswith("@"):
        return value
    path = value[1:]
    return read_text(path, f"{option} {'stdin' if path == STDIN else path}", stdin=True)


def _json_object(option: str, text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError as err:
        raise UsageError(f"{option}: not valid JSON ({err})") from None
    if not isinstance(value, dict):
        raise UsageError(f"{option}: expected a JSON object, got {type(value).__name__}")
    return value
