"""Building the SOAR app: the app folder (app JSON, main module, the core as
a module folder with the manifest, logos, dependency wheels) and its installable ``.tgz``.

SOAR ships requests (with urllib3, idna, certifi and charset-normalizer);
every other runtime dependency travels in the app as the pure-Python wheels
pinned in ``vendor.txt``, one set for each Python SOAR runs apps on (a
dependency's newest release may have left 3.9 behind), taken from the wheel
cache the app builders share (``connector_tools.packaging``). The core travels as
plain modules in the app folder rather than as a wheel: SOAR puts the app
folder first on the path of the app's own process, while wheels go into an
environment all apps share.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Callable, Optional

from connector.manifest import load_manifest
from connector.soar.view import TEMPLATE

from ..packaging import DEV_ONLY, check_pure, copy_core, pinned_wheels, wheel_name, write_tgz
from .app_json import APP_JSON, LOGO, LOGO_DARK, MAIN_MODULE, VIEW_MODULE, Wheel, app_json, soar_pythons

APP_FOLDER = "spectra_analyze"
PLATFORM_PROVIDED = frozenset({"requests"})
HERE = Path(__file__).resolve().parent
# The files at the app folder's top: the main modules, the view's template, the logos.
APP_SOURCE = HERE / "app"
PINS_FILE = HERE / "vendor.txt"
# What of the core serves Splunk only.
LEAVE_OUT = DEV_ONLY + ("splunk",)


def build_app(
    output: Path, wheel_cache: Optional[Path] = None, progress: Callable[[str], object] = lambda line: None
) -> Path:
    """Build the app into ``output`` and return the ``.tgz``'s path.
    ``wheel_cache``: the folder of pinned wheels (default: the shared one)."""
    version = load_manifest()["version"]
    wheels: dict[str, Sequence[Path]] = {}
    for python in soar_pythons():
        wheels[python] = pinned_wheels(PINS_FILE, python, wheel_cache, provided=PLATFORM_PROVIDED)
        progress(f"Python {python}: " + (", ".join(path.name for path in wheels[python]) or "no dependency wheels"))
    with tempfile.TemporaryDirectory(prefix="soar-app-") as work:
        folder = assemble_app(Path(work) / APP_FOLDER, wheels)
        check_pure(folder)
        # Named apart from the Splunk app's spectra_analyze-<version>.tgz, so both fit in one folder.
        return write_tgz(folder, output / f"{APP_FOLDER}_soar-{version}.tgz")


def assemble_app(folder: Path, wheels: dict[str, Sequence[Path]]) -> Path:
    """Write the app folder, with the dependency wheels of each SOAR Python."""
    copy_core(folder / "connector", LEAVE_OUT)
    shutil.copy(APP_SOURCE / "app_main.py", folder / MAIN_MODULE)
    shutil.copy(APP_SOURCE / "view_main.py", folder / VIEW_MODULE)
    shutil.copy(APP_SOURCE / "templates" / TEMPLATE, folder / TEMPLATE)
    (folder / "__init__.py").write_text('"""The Spectra Analyze app for Splunk SOAR."""\n', encoding="utf-8")
    for logo in (LOGO, LOGO_DARK):
        shutil.copy(APP_SOURCE / logo, folder / logo)
    entries = {python: [_place_wheel(wheel, folder) for wheel in files] for python, files in wheels.items()}
    (folder / APP_JSON).write_text(json.dumps(app_json(entries), indent=4) + "\n", encoding="utf-8")
    return folder


def _place_wheel(wheel: Path, folder: Path) -> Wheel:
    # Where SOAR's own apps keep them: py3-only wheels and those for both Pythons apart.
    kind = "shared" if wheel_name(wheel).python == "py2.py3" else "py3"
    (folder / "wheels" / kind).mkdir(parents=True, exist_ok=True)
    shutil.copy(wheel, folder / "wheels" / kind / wheel.name)
    return Wheel(module=wheel.name.split("-")[0], input_file=f"wheels/{kind}/{wheel.name}")
