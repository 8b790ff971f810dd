"""``build-splunk-app``: package the Splunk app as a ``.tgz``."""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..packaging import WHEEL_CACHE_ENV, default_wheel_cache
from ..splunk.build import build_app
from .common import EXIT_OK, add_verbosity


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "build-splunk-app", help="package the Splunk app (the spectraanalyze search command) as a .tgz",
        description="Write OUTPUT/spectra_analyze-<version>.tgz, ready to install on Splunk 9 or 10, and print "
                    "its path as the last line. Its pure-Python dependencies are pinned wheels, taken from the "
                    "wheel cache or downloaded from PyPI once.")
    parser.add_argument("--output", required=True, type=Path, metavar="DIR", help="folder to write the package to")
    parser.add_argument("--wheel-cache", type=Path, metavar="DIR",
                        help=f"where the pinned wheels are kept (default: ${WHEEL_CACHE_ENV} or {default_wheel_cache()})")
    add_verbosity(parser)
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    print(build_app(args.output, args.wheel_cache))
    return EXIT_OK
