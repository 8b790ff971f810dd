"""``build-soar-app``: build the installable Splunk SOAR app (``.tgz``)."""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..packaging import WHEEL_CACHE_ENV, default_wheel_cache
from ..soar.build import build_tgz
from .common import EXIT_OK, add_verbosity


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "build-soar-app", help="build the Splunk SOAR app (.tgz) and print its path",
        description="Build the classic Splunk SOAR app: the app JSON generated from package.json, the connector "
                    "and the pinned wheels of the dependencies SOAR does not ship, taken from the wheel cache or "
                    "downloaded from PyPI once. "
                    "The last line printed is the path of the .tgz.")
    parser.add_argument("--output", required=True, metavar="DIR", help="folder to write the .tgz to")
    parser.add_argument("--wheel-cache", type=Path, metavar="DIR",
                        help=f"where the pinned wheels are kept (default: ${WHEEL_CACHE_ENV} or {default_wheel_cache()})")
    add_verbosity(parser)
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    path = build_tgz(Path(args.output), args.wheel_cache, progress=print)
    print(path.resolve())
    return EXIT_OK
