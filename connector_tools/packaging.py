"""What the app builders share: pinned wheels, the core, a pure check, the ``.tgz``.

- Pins: pure-Python wheels pinned by version and sha256 in pip's requirements
  format; a pin may hold for one Python only (``; python_version == "3.9"``)
  when a dependency's newest release has left an older Python behind.
- A wheel cache that every builder shares: a pin's wheel is taken from it when
  its hash matches, and the pins it lacks are downloaded into it with
  ``pip download --require-hashes`` for the Python the app runs on. A cache
  filled beforehand builds offline.
- The core package copied into an app, minus what that app does not run.
- A check that nothing compiled slipped in: an app runs on every platform.
- A reproducible ``.tgz``: sorted entries, fixed times and owners, folders 755
  and files 644 (what the platforms' app vetting accepts), no bytecode.
"""

from __future__ import annotations

import fnmatch
import gzip
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Iterator, Sequence, Set
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path, PurePosixPath
from typing import NamedTuple, Optional

import connector
from connector.errors import SpectraAnalyzeError

DISTRIBUTION = "spectra-analyze-connector"
CORE = Path(connector.__file__).resolve().parent
WHEEL_CACHE_ENV = "SPECTRA_CONNECTOR_WHEEL_CACHE"
# Parts of the core that no app runs: the command line and the simulator.
DEV_ONLY = ("cli", "simulator")
COMPILED_SUFFIXES = (".so", ".pyd", ".dll", ".dylib")
_PIN = re.compile(
    r'^([A-Za-z0-9._-]+)==(\S+)(?:\s*;\s*python_version\s*==\s*"(\d+\.\d+)")?'
    r"\s+--hash=sha256:([0-9a-f]{64})$"
)


class BuildError(SpectraAnalyzeError):
    """An app cannot be built: a bad pin, a missing wheel, a compiled module or an unwritable output."""


@dataclass(frozen=True)
class Pin:
    """One pinned wheel; ``python`` is the one Python it is for, or None for all."""

    name: str
    version: str
    python: Optional[str]
    sha256: str

    @property
    def requirement(self) -> str:
        return f"{self.name}=={self.version} --hash=sha256:{self.sha256}"


class WheelName(NamedTuple):
    """The parts of a wheel's file name; ``distribution`` canonical."""

    distribution: str
    version: str
    python: str
    abi: str
    platform: str

    @property
    def pure(self) -> bool:
        return self.abi == "none" and self.platform == "any"


def read_pins(path: Path) -> list[Pin]:
    """The pins of a requirements file, each ``name==version [; python_version == "X.Y"] --hash=sha256:HEX``."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise BuildError(f"cannot read the pins {path}: {err.strerror}; reinstall the package") from None
    pins = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        match = _PIN.match(line)
        if not match:
            raise BuildError(
                f'{path}:{number}: expected \'name==version [; python_version == "X.Y"] '
                f"--hash=sha256:<hex>', got {line!r}"
            )
        pins.append(Pin(*match.groups()))
    return pins


def pinned_wheels(
    pins_file: Path,
    python: str,
    cache: Optional[Path] = None,
    provided: Set[str] = frozenset(),
    ignore_requires_python: bool = False,
) -> list[Path]:
    """The wheel of every pin of ``pins_file`` that holds for ``python`` (e.g. "3.9"),
    from ``cache`` (default: ``default_wheel_cache()``), downloading the missing ones.
    Every runtime requirement of the package needs a pin, except those the
    platform ``provided``. ``ignore_requires_python``: a pin may declare a
    newer Python than ``python`` for parts the app leaves out."""
    pins = [pin for pin in read_pins(pins_file) if pin.python in (None, python)]
    pinned = {canonical_name(pin.name) for pin in pins}
    unpinned = [name for name in runtime_requirements() if name not in pinned and name not in provided]
    if unpinned:
        raise BuildError(f"{pins_file} pins no wheel of {', '.join(unpinned)} for Python {python}")
    return fetch_wheels(pins, python, cache or default_wheel_cache(), ignore_requires_python)


def runtime_requirements() -> list[str]:
    """The canonical names of the package's runtime requirements, as installed."""
    try:
        declared = metadata.requires(DISTRIBUTION) or []
    except metadata.PackageNotFoundError:
        raise BuildError(f"{DISTRIBUTION} is not installed: pip install it to build the apps") from None
    return [canonical_name(_requirement_name(requirement)) for requirement in declared if "extra ==" not in requirement]


def _requirement_name(requirement: str) -> str:
    """The distribution a requirement names: what comes before its version or markers."""
    match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement)
    return match.group(0) if match else requirement


def default_wheel_cache() -> Path:
    configured = os.environ.get(WHEEL_CACHE_ENV)
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "spectra-analyze-connector" / "wheels"


def fetch_wheels(pins: Sequence[Pin], python: str, cache: Path, ignore_requires_python: bool = False) -> list[Path]:
    """The wheel file of every pin, downloading those the cache lacks."""
    try:
        cache.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise BuildError(f"cannot use {cache} as the wheel cache: {err.strerror}") from None
    missing = [pin for pin in pins if _cached_wheel(pin, cache) is None]
    if missing:
        _download(missing, python, cache, ignore_requires_python)
    wheels = []
    for pin in pins:
        wheel = _cached_wheel(pin, cache)
        if wheel is None:
            raise BuildError(f"pip did not deliver {pin.name}=={pin.version} with the pinned hash into {cache}")
        wheels.append(wheel)
    return wheels


def _cached_wheel(pin: Pin, cache: Path) -> Optional[Path]:
    for candidate in sorted(cache.glob("*.whl")):
        name = wheel_name(candidate)
        if (
            name.distribution == canonical_name(pin.name)
            and name.version == pin.version
            and _sha256(candidate) == pin.sha256
        ):
            return candidate
    return None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _download(pins: Sequence[Pin], python: str, cache: Path, ignore_requires_python: bool) -> None:
    """Pure wheels only (platform 'any'), for ``python`` whatever Python runs the build."""
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as requirements:
        requirements.write("\n".join(pin.requirement for pin in pins) + "\n")
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--quiet",
        "--disable-pip-version-check",
        "--no-deps",
        "--only-binary=:all:",
        "--platform",
        "any",
        "--implementation",
        "py",
        "--python-version",
        python,
        *(["--ignore-requires-python"] if ignore_requires_python else []),
        "--require-hashes",
        "-r",
        requirements.name,
        "--dest",
        str(cache),
    ]
    try:
        done = subprocess.run(command, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=600)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise BuildError(f"could not run pip to download the app's dependencies: {err}") from None
    finally:
        os.unlink(requirements.name)
    if done.returncode != 0:
        detail = " ".join(done.stderr.split())[-600:]
        names = ", ".join(f"{pin.name}=={pin.version}" for pin in pins)
        raise BuildError(
            f"could not download {names} for Python {python} into the wheel cache {cache} "
            f"(pip: {detail}); reach PyPI, or put those wheels in the cache"
        )


def wheel_name(wheel: Path) -> WheelName:
    """Distribution, version and the three tags of a wheel's file name."""
    parts = wheel.name[: -len(".whl")].split("-")
    return WheelName(canonical_name(parts[0]), parts[1], parts[-3], parts[-2], parts[-1])


def canonical_name(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def unpack_wheel(wheel: Path, lib: Path, leave_out: Sequence[str] = ()) -> None:
    """The importable files of a wheel into ``lib``, without the paths
    starting with one of ``leave_out``."""
    with zipfile.ZipFile(wheel) as archive:
        for member in archive.infolist():
            name = member.filename
            parts = PurePosixPath(name).parts
            if name.startswith("/") or ".." in parts:
                raise BuildError(f"{wheel.name}: unsafe path {name!r}")
            # A wheel's <name>.data folder holds scripts and headers, not importable code.
            if (
                member.is_dir()
                or name.startswith(tuple(leave_out))
                or parts[0].endswith(".data")
                or any(never_shipped(part) for part in parts)
            ):
                continue
            target = lib.joinpath(*parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(member) as source, open(target, "wb") as sink:
                shutil.copyfileobj(source, sink)


def copy_core(target: Path, leave_out: Sequence[str]) -> None:
    """The connector package as it runs here into ``target``, its JSON Schemas
    under ``schemas/`` among it, without the paths of ``leave_out`` (relative
    to the package, ``/``-separated, glob patterns allowed)."""

    def ignore(folder: str, names: list[str]) -> list[str]:
        relative = PurePosixPath(Path(folder).relative_to(CORE).as_posix())
        return [name for name in names if never_shipped(name) or _matches(str(relative / name), leave_out)]

    shutil.copytree(CORE, target, ignore=ignore)  # links followed: schemas/ is a link in a checkout


def _matches(path: str, patterns: Sequence[str]) -> bool:
    return any(fnmatch.fnmatchcase(path, pattern) for pattern in patterns)


def ignored_files(folder: str, names: list[str]) -> list[str]:
    """A ``shutil.copytree`` ignore: what never ships."""
    return [name for name in names if never_shipped(name)]


def never_shipped(name: str) -> bool:
    """Caches, bytecode and hidden files."""
    return name == "__pycache__" or name.endswith((".pyc", ".pyo")) or name.startswith(".")


def check_pure(stage: Path) -> None:
    """Raise ``BuildError`` when the app holds a compiled module or a wheel for one platform only."""
    impure = [
        str(path.relative_to(stage))
        for path in sorted(stage.rglob("*"))
        if path.suffix in COMPILED_SUFFIXES or (path.suffix == ".whl" and not wheel_name(path).pure)
    ]
    if impure:
        raise BuildError(f"compiled modules would not run on every platform the app installs on: {', '.join(impure)}")


def write_tgz(stage: Path, package: Path) -> Path:
    """``stage`` as a reproducible gzipped tar whose one top folder is
    ``stage``'s name; returns ``package``."""
    try:
        package.parent.mkdir(parents=True, exist_ok=True)
        with (
            open(package, "wb") as raw,
            gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as zipped,
            tarfile.open(fileobj=zipped, mode="w", format=tarfile.PAX_FORMAT) as archive,
        ):
            for path in _walk(stage):
                _add(archive, path, PurePosixPath(stage.name, *path.relative_to(stage).parts))
    except OSError as err:
        raise BuildError(f"cannot write {package}: {err.strerror or err}") from None
    return package


def _add(archive: tarfile.TarFile, path: Path, name: PurePosixPath) -> None:
    info = archive.gettarinfo(str(path), arcname=str(name))
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
    """``root`` and everything below it, sorted, without what never ships."""
    yield root
    for child in sorted(root.iterdir()):
        if never_shipped(child.name):
            continue
        if child.is_dir():
            yield from _walk(child)
        else:
            yield child
