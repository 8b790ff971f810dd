"""Packaging the Splunk app: ``<output>/spectra_analyze-<version>.tgz``.

The app's source tree (``app/``) is copied as it is, every file of it, so
that new app files need no change here. ``bin/lib`` gets the ``connector``
package with its schemas and the pinned pure-Python wheels of ``vendor.txt``.

The wheels come from the wheel cache the app builders share
(``connector_tools.packaging``). Pinned, hashed wheels make the app the same
whichever Python builds it (the build environment's own packages may be newer
releases that no longer run on Splunk's Python 3.9, or compiled ones).
"""
from __future__ import annotations

import json
import re
import shutil
import tempfile
from pathlib import Path
from typing import Callable, List, Optional

from connector import __version__

from ..packaging import (DEV_ONLY, BuildError, check_pure, copy_core, never_shipped, pinned_wheels, unpack_wheel,
                         write_tgz)

APP_ID = "spectra_analyze"
HERE = Path(__file__).resolve().parent
APP_SOURCE = HERE / "app"
PINS_FILE = HERE / "vendor.txt"
# What of the core serves development or other platforms only.
LEAVE_OUT = DEV_ONLY + ("soar", "package.json")
DROPPED_FROM_WHEELS = ("splunklib/ai/",)  # splunk-sdk's AI package: Python 3.13 syntax, not needed
# Splunk 9 runs apps on Python 3.9; the pins run on 3.13 (Splunk 10) as well.
SPLUNK_PYTHON = "3.9"


def build_app(output: Path, wheel_cache: Optional[Path] = None,
              progress: Callable[[str], object] = lambda line: None) -> Path:
    """Build the app package into ``output``; returns the ``.tgz`` path.
    ``wheel_cache``: the folder of pinned wheels (default: the shared one).
    Raises ``BuildError``."""
    check_app_version()
    # splunk-sdk declares Python 3.13 for its AI package only, which the app leaves out.
    wheels = pinned_wheels(PINS_FILE, SPLUNK_PYTHON, wheel_cache, ignore_requires_python=True)
    progress(f"Python {SPLUNK_PYTHON} and newer: " + ", ".join(path.name for path in wheels))
    with tempfile.TemporaryDirectory(prefix="spectra-app-") as scratch:
        stage = Path(scratch) / APP_ID
        shutil.copytree(APP_SOURCE, stage, ignore=_app_files_ignored)
        lib = stage / "bin" / "lib"
        for wheel in wheels:
            unpack_wheel(wheel, lib, leave_out=DROPPED_FROM_WHEELS)
        copy_core(lib / "connector", LEAVE_OUT)
        check_pure(stage)
        return write_tgz(stage, output / f"{APP_ID}-{__version__}.tgz")


def check_app_version() -> None:
    """app.conf and app.manifest must carry the package's version."""
    conf = (APP_SOURCE / "default" / "app.conf").read_text(encoding="utf-8")
    conf_versions = set(re.findall(r"^version\s*=\s*(\S+)\s*$", conf, re.MULTILINE))
    manifest = json.loads((APP_SOURCE / "app.manifest").read_text(encoding="utf-8"))
    found = conf_versions | {manifest["info"]["id"]["version"]}
    if found != {__version__}:
        raise BuildError(f"the app's version ({', '.join(sorted(found))}) differs from the package's "
                         f"({__version__}): update version in {APP_SOURCE}/default/app.conf and app.manifest")


def _app_files_ignored(folder: str, names: List[str]) -> List[str]:
    """What never ships, and an admin's ``local/`` settings."""
    at_app_root = Path(folder) == APP_SOURCE
    return [name for name in names if never_shipped(name) or (at_app_root and name in ("local", "local.meta"))]
