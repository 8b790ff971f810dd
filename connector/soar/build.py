"""Building the SOAR app: the app folder (app JSON, main module, the core as
a module folder, logos, dependency wheels) and its installable ``.tgz``.

SOAR ships requests (with urllib3, idna, certifi and charset-normalizer);
every other runtime dependency travels in the app as pure-Python wheels,
one set for each Python SOAR runs apps on (a dependency's newest release
may have left 3.9 behind). The core travels as plain modules in the app
folder rather than as a wheel: SOAR puts the app folder first on the path
of the app's own process, while wheels go into an environment all apps share.
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from ..errors import SpectraAnalyzeError
from ..manifest import load_manifest
from ..validation import schema_dir
from .app_json import APP_JSON, LOGO, LOGO_DARK, MAIN_MODULE, Wheel, app_json, soar_pythons

APP_FOLDER = "spectra_analyze"
DISTRIBUTION = "spectra-analyze-connector"
PLATFORM_PROVIDED = frozenset({"requests"})
_SOAR = Path(__file__).resolve().parent
_CORE = _SOAR.parent
# What of connector/soar/ runs on SOAR; the rest builds the app.
_SOAR_RUNTIME = ("__init__.py", "adapter.py")


class BuildError(SpectraAnalyzeError):
    """The app could not be built: a wheel is missing or a file cannot be written."""


def build_tgz(output: Path, wheels_from: Optional[Path] = None,
              progress: Callable[[str], object] = lambda line: None) -> Path:
    """Build the app into ``output`` and return the ``.tgz``'s path.
    ``wheels_from``: a folder of wheels to use instead of PyPI."""
    version = load_manifest()["version"]
    with tempfile.TemporaryDirectory(prefix="soar-app-") as work:
        wheels = {python: dependency_wheels(python, Path(work) / f"python{python}", wheels_from)
                  for python in soar_pythons()}
        for python, files in wheels.items():
            progress(f"Python {python}: " + (", ".join(path.name for path in files) or "no dependency wheels"))
        folder = assemble_app(Path(work) / APP_FOLDER, wheels)
        try:
            return write_tgz(folder, output / f"{APP_FOLDER}-{version}.tgz")
        except OSError as err:
            raise BuildError(f"cannot write the app to {output}: {err.strerror}") from None


def assemble_app(folder: Path, wheels: Dict[str, Sequence[Path]]) -> Path:
    """Write the app folder, with the dependency wheels of each SOAR Python."""
    package = folder / "connector"
    package.mkdir(parents=True)
    for module in sorted(_CORE.glob("*.py")):
        shutil.copy(module, package / module.name)
    (package / "schemas").mkdir()
    for schema in sorted(schema_dir().glob("*.schema.json")):
        shutil.copy(schema, package / "schemas" / schema.name)
    (package / "soar").mkdir()
    for name in _SOAR_RUNTIME:
        shutil.copy(_SOAR / name, package / "soar" / name)
    shutil.copy(_SOAR / "app_main.py", folder / MAIN_MODULE)
    (folder / "__init__.py").write_text('"""The Spectra Analyze app for Splunk SOAR."""\n', encoding="utf-8")
    for logo in (LOGO, LOGO_DARK):
        shutil.copy(_SOAR / logo, folder / logo)
    entries = {python: [_place_wheel(wheel, folder) for wheel in files] for python, files in wheels.items()}
    (folder / APP_JSON).write_text(json.dumps(app_json(entries), indent=4) + "\n", encoding="utf-8")
    return folder


def write_tgz(folder: Path, target: Path) -> Path:
    """The folder as a gzipped tar: one top folder, files 644, folders 755, no bytecode."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(target, "w:gz") as archive:
        for path in [folder] + sorted(folder.rglob("*")):
            if "__pycache__" in path.parts or path.suffix == ".pyc":
                continue
            info = archive.gettarinfo(str(path), arcname=str(Path(folder.name) / path.relative_to(folder)))
            info.mode = 0o755 if path.is_dir() else 0o644
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            if path.is_dir():
                archive.addfile(info)
            else:
                with open(path, "rb") as handle:
                    archive.addfile(info, handle)
    return target


def requirements() -> List[str]:
    """The runtime requirements SOAR does not satisfy, as the package declares them."""
    wanted = []
    for requirement in metadata.requires(DISTRIBUTION) or []:
        if "extra ==" in requirement:
            continue
        name = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement).group(0)
        if _canonical(name) not in PLATFORM_PROVIDED:
            wanted.append(requirement)
    return wanted


def dependency_wheels(python: str, downloads: Path, wheels_from: Optional[Path] = None) -> List[Path]:
    """The newest pure-Python wheels that meet the requirements on ``python``
    (e.g. "3.9"), from PyPI or from the folder ``wheels_from``."""
    wanted = requirements()
    if not wanted:
        return []
    source = ["--no-index", "--find-links", str(wheels_from)] if wheels_from else []
    command = [sys.executable, "-m", "pip", "download", "--disable-pip-version-check", "--quiet", "--no-deps",
               "--only-binary=:all:", "--python-version", python, "--dest", str(downloads), *source, *wanted]
    completed = subprocess.run(command, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if completed.returncode:
        reason = (completed.stderr.strip().splitlines() or ["pip failed"])[-1]
        raise BuildError(f"no wheels of {', '.join(wanted)} for Python {python}"
                         f"{' in ' + str(wheels_from) if wheels_from else ''}: {reason}"
                         f"{'' if wheels_from else '; pass --wheels-from DIR with them to build offline'}")
    return [_pure(path) for path in sorted(downloads.glob("*.whl"))]


def _pure(wheel: Path) -> Path:
    _, _, python, abi, platform = _wheel_name(wheel)
    if abi != "none" or platform != "any" or not python.startswith(("py3", "py2.py3")):
        raise BuildError(f"{wheel.name} is not a pure-Python wheel; SOAR needs one that runs on any platform")
    return wheel


def _place_wheel(wheel: Path, folder: Path) -> Wheel:
    # Where SOAR's own apps keep them: py3-only wheels and those for both Pythons apart.
    kind = "shared" if _wheel_name(wheel)[2] == "py2.py3" else "py3"
    (folder / "wheels" / kind).mkdir(parents=True, exist_ok=True)
    shutil.copy(wheel, folder / "wheels" / kind / wheel.name)
    return Wheel(module=wheel.name.split("-")[0], input_file=f"wheels/{kind}/{wheel.name}")


def _wheel_name(wheel: Path) -> Tuple[str, str, str, str, str]:
    """Distribution (canonical), version and the three tags of a wheel's file name."""
    parts = wheel.name[:-len(".whl")].split("-")
    return _canonical(parts[0]), parts[1], parts[-3], parts[-2], parts[-1]


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()
