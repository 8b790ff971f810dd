"""``build-soar-app`` and ``build-splunk-app``: build an app's installable
``.tgz``. Both take the same options, print the wheels they took and, as the
last line, the path of the ``.tgz``."""

from __future__ import annotations

import argparse
import importlib
from pathlib import Path
from typing import Any

from .common import EXIT_OK, add_verbosity

# name, builder's module (in connector_tools, imported when the command runs), one-line help, what the app holds
COMMANDS = (
    (
        "build-soar-app",
        "connector_tools.soar.build",
        "build the Splunk SOAR app (.tgz) and print its path",
        "Build the classic Splunk SOAR app: the app JSON generated from package.json, the connector and the pinned "
        "wheels of the dependencies SOAR does not ship, one set per Python SOAR runs apps on.",
    ),
    (
        "build-splunk-app",
        "connector_tools.splunk.build",
        "package the Splunk app (the spectraanalyze search command) as a .tgz",
        "Build OUTPUT/spectra_analyze-<version>.tgz, ready to install on Splunk 9 or 10, with its pure-Python "
        "dependencies as pinned wheels in bin/lib.",
    ),
)


def register(subparsers: Any) -> None:
    from connector_tools.packaging import WHEEL_CACHE_ENV, default_wheel_cache  # a small module, for the help

    for name, builder, summary, contents in COMMANDS:
        description = (
            f"{contents} The wheels come from the wheel cache, which downloads those it lacks from "
            "PyPI once. The last line printed is the path of the .tgz."
        )
        parser = subparsers.add_parser(name, help=summary, description=description)
        parser.add_argument("--output", required=True, type=Path, metavar="DIR", help="folder to write the .tgz to")
        parser.add_argument(
            "--wheel-cache",
            type=Path,
            metavar="DIR",
            help="folder of the pinned dependency wheels; those it lacks are downloaded into it "
            f"(default: ${WHEEL_CACHE_ENV} or {default_wheel_cache()})",
        )
        add_verbosity(parser)
        parser.set_defaults(handler=handle, builder=builder)


def handle(args: argparse.Namespace) -> int:
    build_app = importlib.import_module(args.builder).build_app
    print(build_app(args.output, args.wheel_cache, print).resolve())
    return EXIT_OK
