"""``build-soar-app``: build the installable Splunk SOAR app (``.tgz``)."""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..soar.build import build_tgz
from .common import EXIT_OK, add_verbosity


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "build-soar-app", help="build the Splunk SOAR app (.tgz) and print its path",
        description="Build the classic Splunk SOAR app: the app JSON generated from package.json, the connector "
                    "and the wheels of the dependencies SOAR does not ship (downloaded from PyPI). "
                    "The last line printed is the path of the .tgz.")
    parser.add_argument("--output", required=True, metavar="DIR", help="folder to write the .tgz to")
    parser.add_argument("--wheels-from", metavar="DIR",
                        help="take the dependency wheels from DIR instead of downloading them (offline builds)")
    add_verbosity(parser)
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    path = build_tgz(Path(args.output), Path(args.wheels_from) if args.wheels_from else None, progress=print)
    print(path.resolve())
    return EXIT_OK
