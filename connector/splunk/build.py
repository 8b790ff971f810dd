"""Packaging the Splunk app: ``<output>/spectra_analyze-<version>.tgz``.

The app's source tree (``app/``) is copied as it is, every file of it, so
that new app files need no change here. ``bin/lib`` gets the ``connector``
package with its schemas and the pinned pure-Python wheels of ``vendor.txt``.

Wheels come from a local cache; the pins it lacks are fetched with
``pip download --require-hashes``. Pinned, hashed wheels make the app the same
whichever Python builds it (the build environment's own packages may be newer
releases that no longer run on Splunk's Python 3.9, or compiled ones).
"""
from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Iterator, List, Optional

from .. import __version__
from ..errors import SpectraAnalyzeError
from ..validation import schema_dir

APP_ID = "spectra_analyze"
HERE = Path(__file__).resolve().parent
APP_SOURCE = HERE / "app"
PINS_FILE = HERE / "vendor.txt"
CONNECTOR_SOURCE = HERE.parent
# Parts of the connector that serve development or other platforms only.
NOT_VENDORED = ("cli", "simulator", "soar", "meta", "docs.py", "splunk/app", "splunk/build.py", "splunk/vendor.txt")
DROPPED_FROM_WHEELS = ("splunklib/ai/",)  # splunk-sdk's AI package: Python 3.13 syntax, not needed
COMPILED_SUFFIXES = (".so", ".pyd", ".dll", ".dylib")
CACHE_ENV = "SPECTRA_CONNECTOR_WHEEL_CACHE"
_PIN = re.compile(r"^([A-Za-z0-9._-]+)==(\S+)\s+--hash=sha256:([0-9a-f]{64})$")


class BuildError(SpectraAnalyzeError):
    """The app cannot be built: a missing wheel, a bad pin or a compiled module."""


@dataclass(frozen=True)
class Pin:
    name: str
    version: str
    sha256: str

    @property
    def requirement(self) -> str:
        return f"{self.name}=={self.version} --hash=sha256:{self.sha256}"


def default_wheel_cache() -> Path:
    configured = os.environ.get(CACHE_ENV)
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "spectra-analyze-connector" / "wheels"


def build_app(output: Path, wheel_cache: Optional[Path] = None) -> Path:
    """Build the app package into ``output``; returns the ``.tgz`` path.
    Raises ``BuildError``."""
    check_app_version()
    wheels = fetch_wheels(read_pins(), wheel_cache or default_wheel_cache())
    output.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="spectra-app-") as scratch:
        stage = Path(scratch) / APP_ID
        shutil.copytree(APP_SOURCE, stage, ignore=_ignored_files)
        lib = stage / "bin" / "lib"
        for wheel in wheels:
            unpack_wheel(wheel, lib)
        copy_connector(lib / "connector")
        check_pure_python(stage)
        package = output / f"{APP_ID}-{__version__}.tgz"
        write_tgz(stage, package)
    return package


def check_app_version() -> None:
    """app.conf and app.manifest must carry the package's version."""
    conf = (APP_SOURCE / "default" / "app.conf").read_text(encoding="utf-8")
    conf_versions = set(re.findall(r"^version\s*=\s*(\S+)\s*$", conf, re.MULTILINE))
    manifest = json.loads((APP_SOURCE / "app.manifest").read_text(encoding="utf-8"))
    found = conf_versions | {manifest["info"]["id"]["version"]}
    if found != {__version__}:
        raise BuildError(f"the app's version ({', '.join(sorted(found))}) differs from the package's "
                         f"({__version__}): update version in {APP_SOURCE}/default/app.conf and app.manifest")


def read_pins(path: Path = PINS_FILE) -> List[Pin]:
    pins = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        match = _PIN.match(line)
        if not match:
            raise BuildError(f"{path}:{number}: expected 'name==version --hash=sha256:<hex>', got {line!r}")
        pins.append(Pin(*match.groups()))
    return pins


def fetch_wheels(pins: List[Pin], cache: Path) -> List[Path]:
    """The wheel file of every pin, downloading those the cache lacks."""
    cache.mkdir(parents=True, exist_ok=True)
    missing = [pin for pin in pins if _cached_wheel(pin, cache) is None]
    if missing:
        _download(missing, cache)
    wheels = []
    for pin in pins:
        wheel = _cached_wheel(pin, cache)
        if wheel is None:
            raise BuildError(f"pip did not deliver {pin.name}=={pin.version} with the pinned hash into {cache}")
        wheels.append(wheel)
    return wheels


def _cached_wheel(pin: Pin, cache: Path) -> Optional[Path]:
    stem = re.sub(r"[-_.]+", "_", pin.name).lower()
    for candidate in sorted(cache.glob("*.whl")):
        name, _, rest = candidate.name.partition("-")
        if name.lower() == stem and rest.startswith(pin.version + "-") and _sha256(candidate) == pin.sha256:
            return candidate
    return None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _download(pins: List[Pin], cache: Path) -> None:
    """Pure wheels only (platform 'any'), whatever Python runs the build."""
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as requirements:
        requirements.write("\n".join(pin.requirement for pin in pins) + "\n")
    command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
               "--platform", "any", "--implementation", "py", "--python-version", "3.9",
               "--ignore-requires-python", "--require-hashes", "-r", requirements.name, "-d", str(cache)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise BuildError(f"could not run pip to download the app's dependencies: {err}") from None
    finally:
        os.unlink(requirements.name)
    if done.returncode != 0:
        detail = " ".join(done.stderr.split())[-600:]
        names = ", ".join(f"{pin.name}=={pin.version}" for pin in pins)
        raise BuildError(f"could not download {names} into the wheel cache {cache} (pip: {detail}); "
                         "reach PyPI, or put those wheels in the cache")


def unpack_wheel(wheel: Path, lib: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        for member in archive.infolist():
            name = member.filename
            parts = PurePosixPath(name).parts
            if name.startswith("/") or ".." in parts:
                raise BuildError(f"{wheel.name}: unsafe path {name!r}")
            # A wheel's <name>.data folder holds scripts and headers, not importable code.
            if (member.is_dir() or name.startswith(DROPPED_FROM_WHEELS) or parts[0].endswith(".data")
                    or "__pycache__" in parts or name.endswith(".pyc")):
                continue
            target = lib.joinpath(*parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(member) as source, open(target, "wb") as sink:
                shutil.copyfileobj(source, sink)


def copy_connector(target: Path) -> None:
    """The connector package as it runs here, without the parts Splunk does
    not need, and its JSON Schemas under ``connector/schemas``."""
    skipped = {CONNECTOR_SOURCE.joinpath(*part.split("/")) for part in NOT_VENDORED}

    def ignore(folder: str, names: List[str]) -> List[str]:
        dropped = set(_ignored_files(folder, names))
        dropped.update(name for name in names if Path(folder, name) in skipped)
        return sorted(dropped)

    shutil.copytree(CONNECTOR_SOURCE, target, ignore=ignore)
    schemas = target / "schemas"
    shutil.rmtree(schemas, ignore_errors=True)
    shutil.copytree(schema_dir(), schemas, ignore=_ignored_files)


def _ignored_files(folder: str, names: List[str]) -> List[str]:
    """Caches, bytecode, hidden files and ``local/`` never ship."""
    at_app_root = Path(folder) == APP_SOURCE
    return [name for name in names
            if name == "__pycache__" or name.endswith((".pyc", ".pyo")) or name.startswith(".")
            or (at_app_root and name in ("local", "local.meta"))]


def check_pure_python(stage: Path) -> None:
    compiled = [str(path.relative_to(stage)) for path in stage.rglob("*") if path.suffix in COMPILED_SUFFIXES]
    if compiled:
        raise BuildError(f"compiled modules would not run on every Splunk platform: {', '.join(compiled)}")


def write_tgz(stage: Path, package: Path) -> None:
    """A reproducible archive: sorted entries, fixed times and owners,
    directories 755 and files 644 (AppInspect rejects other modes)."""
    with open(package, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as zipped, \
            tarfile.open(fileobj=zipped, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for path in _walk(stage):
            info = archive.gettarinfo(str(path), arcname=str(PurePosixPath(stage.name, *path.relative_to(stage).parts)))
            info.mode = 0o755 if path.is_dir() else 0o644
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            info.mtime = 0
            if path.is_dir():
                archive.addfile(info)
            else:
                with open(path, "rb") as handle:
                    archive.addfile(info, handle)


def _walk(root: Path) -> Iterator[Path]:
    yield root
    for child in sorted(root.iterdir()):
        if child.is_dir():
            yield from _walk(child)
        else:
            yield child
