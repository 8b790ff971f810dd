"""Packaging the Splunk app: ``<output>/spectra_analyze-<version>.tgz``.

Splunk's UCC framework builds the app: ``ucc-gen`` takes the app's source
tree (``app/``, every file of it, so that new app files need no change here)
and the configuration page's ``globalConfig.json`` (``ucc.py``), and adds
the page, its REST handlers and their .conf files. ``ucc-gen`` runs from a
virtual environment of its own, made once beside the wheel cache
(``UCC_GEN``); it installs no library itself (the app has no
``lib/requirements.txt``, so no pip runs inside it). ``bin/lib`` then gets the
``connector`` package with its schemas and the pinned pure-Python wheels of
``vendor.txt``, and ``lib/``, where the generated handlers look, the wheels.

The wheels come from the wheel cache the app builders share
(``connector_tools.packaging``). Pinned, hashed wheels make the app the same
whichever Python builds it (the build environment's own packages may be newer
releases that no longer run on Splunk's Python 3.9, or compiled ones).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Callable, Optional

from connector import __version__

from ..packaging import (
    DEV_ONLY,
    BuildError,
    check_pure,
    copy_core,
    default_wheel_cache,
    never_shipped,
    pinned_wheels,
    unpack_wheel,
    wheel_name,
    write_tgz,
)
from .ucc import global_config

APP_ID = "spectra_analyze"
HERE = Path(__file__).resolve().parent
APP_SOURCE = HERE / "app"
PINS_FILE = HERE / "vendor.txt"
# What of the core serves development or other platforms only.
LEAVE_OUT = DEV_ONLY + ("soar", "package.json")
DROPPED_FROM_WHEELS = ("splunklib/ai/",)  # splunk-sdk's AI package: Python 3.13 syntax, not needed
# Splunk 9 runs apps on Python 3.9; the pins run on 3.13 (Splunk 10) as well.
SPLUNK_PYTHON = "3.9"
# The UCC release that builds the app, and the pip of its environment: ucc-gen 6.6
# asks pip for "show --version", which pip 26 no longer takes.
UCC_GEN = ("splunk-add-on-ucc-framework==6.6.0", "pip==25.0.1")
UCC_TIMEOUT = 600
# What only the page's REST handlers import (from lib/, where ucc-gen's handlers look), not the command.
HANDLERS_ONLY = ("splunktaucclib", "solnlib", "defusedxml", "sortedcontainers", "pysocks")
# Splunk's Pythons the generated REST handlers run on, as commands.conf declares for the command.
PYTHON_REQUIRED = "3.9, 3.13"
ALERT_MAXTIME = "10m"  # an alert's results are looked up in batches; a stuck appliance must not hold it longer


def build_app(
    output: Path, wheel_cache: Optional[Path] = None, progress: Callable[[str], object] = lambda line: None
) -> Path:
    """Build the app package into ``output``; returns the ``.tgz`` path.
    ``wheel_cache``: the folder of pinned wheels (default: the shared one).
    Raises ``BuildError``."""
    check_app_version()
    # splunk-sdk declares Python 3.13 for its AI package only, which the app leaves out.
    wheels = pinned_wheels(PINS_FILE, SPLUNK_PYTHON, wheel_cache, ignore_requires_python=True)
    progress(f"Python {SPLUNK_PYTHON} and newer: " + ", ".join(path.name for path in wheels))
    ucc_gen = ucc_gen_command(wheel_cache or default_wheel_cache(), progress)
    with tempfile.TemporaryDirectory(prefix="spectra-app-") as scratch:
        stage = run_ucc_gen(ucc_gen, Path(scratch))
        for wheel in wheels:
            unpack_wheel(wheel, stage / "lib", leave_out=DROPPED_FROM_WHEELS)
            if wheel_name(wheel).distribution not in HANDLERS_ONLY:
                unpack_wheel(wheel, stage / "bin" / "lib", leave_out=DROPPED_FROM_WHEELS)
        copy_core(stage / "bin" / "lib" / "connector", LEAVE_OUT)
        check_pure(stage)
        return write_tgz(stage, output / f"{APP_ID}-{__version__}.tgz")


def ucc_gen_command(wheel_cache: Path, progress: Callable[[str], object]) -> Path:
    """``ucc-gen`` of the pinned release, installed from PyPI into a virtual
    environment beside the wheel cache the first time; later builds run offline.
    Builds running at once (parallel tests) install it once, under a lock."""
    home = wheel_cache / "tools" / "-".join(pin.replace("==", "-") for pin in UCC_GEN)
    bin_dir = home / ("Scripts" if os.name == "nt" else "bin")
    stamp = home / ".installed"
    if stamp.exists():
        return bin_dir / "ucc-gen"
    home.parent.mkdir(parents=True, exist_ok=True)
    with _locked(home.parent / f"{home.name}.lock"):
        if not stamp.exists():
            progress(f"installing {' '.join(UCC_GEN)} into {home} (once)")
            shutil.rmtree(home, ignore_errors=True)
            _run([sys.executable, "-m", "venv", str(home)], "install ucc-gen")
            _run(
                [str(bin_dir / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *UCC_GEN],
                "install ucc-gen",
            )
            stamp.write_text("\n".join(UCC_GEN) + "\n", encoding="utf-8")
    return bin_dir / "ucc-gen"


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive lock on ``path`` (none where fcntl is missing: Windows builds one at a time)."""
    try:
        import fcntl
    except ImportError:
        yield
        return
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def run_ucc_gen(ucc_gen: Path, scratch: Path) -> Path:
    """The app built by ucc-gen from the app's source and its globalConfig.json
    in ``scratch``; returns the built app's folder."""
    source = scratch / "source"
    shutil.copytree(APP_SOURCE, source / "package", ignore=_app_files_ignored)
    config = source / "globalConfig.json"
    config.write_text(json.dumps(global_config(__version__), indent=2) + "\n", encoding="utf-8")
    built = scratch / "built"
    _run(
        [
            str(ucc_gen),
            "build",
            "--source",
            str(source / "package"),
            "--config",
            str(config),
            "--ta-version",
            __version__,
            "--output",
            str(built),
        ],
        "build the app with ucc-gen",
        cwd=source,
    )
    _stable_build_number(built / APP_ID, config.read_bytes())
    app = built / APP_ID
    _after_python_version(app / "default" / "restmap.conf", f"python.required = {PYTHON_REQUIRED}")
    _after_python_version(
        app / "default" / "alert_actions.conf", f"python.required = {PYTHON_REQUIRED}", f"maxtime = {ALERT_MAXTIME}"
    )
    # ucc-gen's script for the alert action is replaced by the app's own bin/spectra_analyze_enrich.py
    # (the payload read as bytes, the events posted as UTF-8): its helper module is never imported.
    shutil.rmtree(app / "bin" / APP_ID)
    return app


def _after_python_version(conf: Path, *lines: str) -> None:
    """Settings ucc-gen 6.6 does not write, in each stanza that runs Python:
    without ``python.required`` AppInspect gives a future failure."""
    text = conf.read_text(encoding="utf-8")
    text = re.sub(
        r"^(python\.version = python3)$", lambda found: "\n".join((found.group(1),) + lines), text, flags=re.MULTILINE
    )
    conf.write_text(text, encoding="utf-8")


def _stable_build_number(app: Path, config: bytes) -> None:
    """ucc-gen stamps the build time into app.conf and the page's template
    (Splunk Web's cache key for the page's scripts); a number taken from the
    page's definition instead makes the package the same on every build, and
    new whenever the page changes."""
    app_conf = app / "default" / "app.conf"
    found = re.search(r"^build\s*=\s*(\d+)\s*$", app_conf.read_text(encoding="utf-8"), re.MULTILINE)
    if found is None:
        raise BuildError(f"ucc-gen wrote no build number into {app_conf}")
    stable = str(int(hashlib.sha256(config).hexdigest()[:7], 16))
    for path in (app_conf, app / "appserver" / "templates" / "base.html"):
        text = path.read_text(encoding="utf-8")
        path.write_text(re.sub(rf"(?<=[@= ]){found.group(1)}\b", stable, text), encoding="utf-8")


def _run(command: list[str], what: str, cwd: Optional[Path] = None) -> None:
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, stdin=subprocess.DEVNULL, cwd=cwd, timeout=UCC_TIMEOUT
        )
    except (OSError, subprocess.TimeoutExpired) as err:
        raise BuildError(f"could not {what}: {err}") from None
    if done.returncode != 0:
        detail = " ".join((done.stderr + done.stdout).split())[-800:]
        raise BuildError(f"could not {what} ({Path(command[0]).name} exited {done.returncode}): {detail}")


def check_app_version() -> None:
    """app.conf and app.manifest must carry the package's version."""
    conf = (APP_SOURCE / "default" / "app.conf").read_text(encoding="utf-8")
    conf_versions = set(re.findall(r"^version\s*=\s*(\S+)\s*$", conf, re.MULTILINE))
    manifest = json.loads((APP_SOURCE / "app.manifest").read_text(encoding="utf-8"))
    found = conf_versions | {manifest["info"]["id"]["version"]}
    if found != {__version__}:
        raise BuildError(
            f"the app's version ({', '.join(sorted(found))}) differs from the package's "
            f"({__version__}): update version in {APP_SOURCE}/default/app.conf and app.manifest"
        )


def _app_files_ignored(folder: str, names: list[str]) -> list[str]:
    """What never ships, and an admin's ``local/`` settings."""
    at_app_root = Path(folder) == APP_SOURCE
    return [name for name in names if never_shipped(name) or (at_app_root and name in ("local", "local.meta"))]
