"""The app as SOAR gets it: ``spectra-connector build-soar-app`` through the
console script, the ``.tgz`` unpacked, its wheels installed, and its
connector run from the unpacked folder in a fresh interpreter whose path
holds only the app, its wheels, what SOAR itself ships (requests and its
dependencies) and the stand-in ``phantom`` package: on this Python and on
the 3.9 and 3.13 that SOAR runs apps on."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any, Callable

import pytest
from checkout import pip_install_checkout
from helpers import SCRIPT

from connector_tools.packaging import read_pins
from connector_tools.soar.app_json import APP_JSON, MAIN_MODULE, soar_pythons
from connector_tools.soar.build import APP_FOLDER, PINS_FILE

from .soar_support import STANDIN, TOKEN, absent_sha1

pytestmark = pytest.mark.slow  # every test here starts a process

# What a SOAR host provides to apps; the app must bring everything else.
SOAR_LIBRARIES = ("requests",)  # with urllib3, idna, certifi and charset-normalizer
PYENV = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"

DRIVER = """
import json, sys
spec = json.load(sys.stdin)
sys.path[:0] = spec["path"]
import soar_platform
platform = soar_platform.PLATFORM
platform.add_asset("spectra_analyze", spec["app_dir"], {"url": spec["url"], "token": spec["token"]})
report = platform.run_action("spectra_analyze", "get report", [{"hashes": ",".join(spec["hashes"])}])
check = platform.run_action("spectra_analyze", "test connectivity", [])
import connector, fastjsonschema, requests
modules = {module.__name__: module.__file__ for module in (connector, fastjsonschema, requests)}
print(json.dumps({"report": report, "check": check, "modules": modules, "path": sys.path}))
"""


def interpreters() -> list[tuple[str, str]]:
    """(Python, the SOAR Python whose wheels it gets): SOAR's 3.9 and 3.13
    where pyenv has them, and this Python with the newest set it can run."""
    targets = soar_pythons()
    found = [
        (str(path), version)
        for version in targets
        for path in sorted(PYENV.glob(f"{version}.*/bin/python{version}"))[-1:]
    ]
    mine = [version for version in targets if tuple(map(int, version.split("."))) <= sys.version_info[:2]]
    return found + [(sys.executable, mine[-1])]


@pytest.fixture(scope="module")
def unpacked(soar_package, tmp_path_factory) -> Path:
    target = tmp_path_factory.mktemp("unpacked")
    with tarfile.open(soar_package) as archive:
        archive.extractall(target)
    return target / APP_FOLDER


@pytest.fixture(scope="module")
def installed_wheels(unpacked, tmp_path_factory) -> Callable[[str], Path]:
    """The app's wheels for one SOAR Python, installed as SOAR installs an app's pip dependencies."""
    app = json.loads((unpacked / APP_JSON).read_text())
    folders: dict[str, Path] = {}

    def folder_for(target: str) -> Path:
        if target not in folders:
            folders[target] = tmp_path_factory.mktemp("app-site")
            listed = app[f"pip{target.replace('.', '')}_dependencies"]["wheel"]
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                    "--no-index",
                    "--no-deps",
                    "--target",
                    str(folders[target]),
                    *[str(unpacked / entry["input_file"]) for entry in listed],
                ],
                check=True,
                capture_output=True,
                timeout=120,
            )
        return folders[target]

    return folder_for


@pytest.fixture(scope="module")
def soar_libraries(tmp_path_factory) -> Callable[[str], Path]:
    """A folder per Python with only what SOAR ships to apps, installed by that Python's pip."""
    folders: dict[str, Path] = {}

    def folder_for(python: str) -> Path:
        if python not in folders:
            folders[python] = tmp_path_factory.mktemp("soar-site")
            subprocess.run(
                [
                    python,
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                    "--target",
                    str(folders[python]),
                    *SOAR_LIBRARIES,
                ],
                check=True,
                capture_output=True,
                timeout=300,
            )
        return folders[python]

    return folder_for


def test_tgz_is_one_clean_app_folder(soar_package):
    with tarfile.open(soar_package) as archive:
        members = archive.getmembers()
    names = [member.name for member in members]
    assert all(name == APP_FOLDER or name.startswith(f"{APP_FOLDER}/") for name in names)
    assert not [name for name in names if ".." in name.split("/") or name.endswith(".pyc") or "__pycache__" in name]
    assert {member.mode for member in members if member.isdir()} == {0o755}
    assert {member.mode for member in members if member.isfile()} == {0o644}
    for required in (
        APP_JSON,
        MAIN_MODULE,
        "__init__.py",
        "connector/soar/adapter.py",
        "connector/schemas/record.schema.json",
    ):
        assert f"{APP_FOLDER}/{required}" in names
    assert not [name for name in names if "/cli/" in name or "/simulator/" in name]


def test_wheels_are_pure_and_declared_for_every_python(unpacked):
    app = json.loads((unpacked / APP_JSON).read_text())
    declared = {key: value["wheel"] for key, value in app.items() if key.endswith("_dependencies")}
    assert sorted(declared) == ["pip313_dependencies", "pip39_dependencies", "pip_dependencies"]
    assert declared["pip_dependencies"] == declared["pip39_dependencies"]
    for entries in declared.values():
        assert [entry["module"] for entry in entries] == ["fastjsonschema"]
        for entry in entries:
            wheel = unpacked / entry["input_file"]
            assert wheel.is_file() and wheel.name.endswith("-none-any.whl")
    shipped = sorted(path.relative_to(unpacked).as_posix() for path in (unpacked / "wheels").rglob("*.whl"))
    assert shipped == sorted({entry["input_file"] for entries in declared.values() for entry in entries})
    pins = read_pins(PINS_FILE)
    for python in soar_pythons():
        [entry] = declared[f"pip{python.replace('.', '')}_dependencies"]
        wheel = unpacked / entry["input_file"]
        [pin] = [pin for pin in pins if pin.python == python]
        assert wheel.name.startswith(f"{pin.name}-{pin.version}-")
        assert hashlib.sha256(wheel.read_bytes()).hexdigest() == pin.sha256


@pytest.mark.parametrize("python, target", interpreters(), ids=lambda value: Path(value).name)
def test_unpacked_app_runs_with_only_its_wheels(
    python, target, unpacked, installed_wheels, soar_libraries, simulator, corpus
):
    hashes = [corpus.samples[0]["sha1"], corpus.hashes("sha256", "goodware")[0], absent_sha1(9)]
    wheels, provided = installed_wheels(target), soar_libraries(python)
    spec: dict[str, Any] = {
        "path": [str(unpacked), str(wheels), str(provided), str(STANDIN)],
        "app_dir": str(unpacked),
        "url": simulator.url,
        "token": TOKEN,
        "hashes": hashes,
    }
    completed = subprocess.run(
        [python, "-I", "-S", "-c", DRIVER], input=json.dumps(spec), capture_output=True, text=True, timeout=120
    )
    assert completed.returncode == 0, completed.stderr
    outcome = json.loads(completed.stdout)
    assert outcome["modules"]["connector"].startswith(str(unpacked))
    assert outcome["modules"]["fastjsonschema"].startswith(str(wheels))
    assert outcome["modules"]["requests"].startswith(str(provided))
    [report] = outcome["report"]["action_results"]
    assert [item["status"] for item in report["data"]] == ["found", "found", "not_found"]
    assert report["summary"]["by_classification"]["malicious"] == 1
    assert outcome["check"]["action_results"][0]["status"] == "success"
    assert TOKEN not in completed.stdout


def offline() -> dict[str, str]:
    """The environment of a build host without network: no package index, no pip configuration."""
    environ = {key: value for key, value in os.environ.items() if not key.startswith("PIP_")}
    return dict(environ, PIP_CONFIG_FILE=os.devnull, PIP_NO_INDEX="1")


def test_offline_build_takes_the_pinned_wheels_from_the_cache(unpacked, tmp_path):
    cache = tmp_path / "wheels"
    cache.mkdir()
    for wheel in (unpacked / "wheels").rglob("*.whl"):
        (cache / wheel.name).write_bytes(wheel.read_bytes())
    completed = subprocess.run(
        [SCRIPT, "build-soar-app", "--output", str(tmp_path / "dist"), "--wheel-cache", str(cache)],
        capture_output=True,
        text=True,
        timeout=300,
        env=offline(),
    )
    assert completed.returncode == 0, completed.stderr
    with tarfile.open(completed.stdout.strip().splitlines()[-1]) as archive:
        shipped = sorted(Path(name).name for name in archive.getnames() if name.endswith(".whl"))
    assert shipped == sorted(path.name for path in cache.iterdir())

    empty = tmp_path / "empty"
    empty.mkdir()
    completed = subprocess.run(
        [SCRIPT, "build-soar-app", "--output", str(tmp_path / "dist2"), "--wheel-cache", str(empty)],
        capture_output=True,
        text=True,
        timeout=300,
        env=offline(),
    )
    assert completed.returncode == 1
    assert f"could not download fastjsonschema==2.21.2 for Python 3.9 into the wheel cache {empty}" in completed.stderr
    assert "Traceback" not in completed.stderr
    assert not (tmp_path / "dist2").exists()


def test_a_cached_wheel_that_is_not_the_pinned_one_is_never_shipped(unpacked, tmp_path):
    cache = tmp_path / "wheels"
    cache.mkdir()
    for wheel in (unpacked / "wheels").rglob("*.whl"):
        (cache / wheel.name).write_bytes(wheel.read_bytes() + b"tampered")
    completed = subprocess.run(
        [SCRIPT, "build-soar-app", "--output", str(tmp_path / "dist"), "--wheel-cache", str(cache)],
        capture_output=True,
        text=True,
        timeout=300,
        env=offline(),
    )
    assert completed.returncode == 1
    assert "could not download fastjsonschema==2.21.2" in completed.stderr and "Traceback" not in completed.stderr
    assert not (tmp_path / "dist").exists()


# pip builds the checkout in its build/ folder: one such install at a time, on one worker.
@pytest.mark.xdist_group("pip-installs-the-checkout")
def test_an_installed_package_builds_the_same_app(soar_package, unpacked, tmp_path):
    """The pins and logos are package data: pip-installed (not editable), the
    package builds an app with the same files, from a filled cache, offline."""
    site, cache = tmp_path / "site", tmp_path / "wheels"
    pip_install_checkout(site)
    cache.mkdir()
    for wheel in (unpacked / "wheels").rglob("*.whl"):
        (cache / wheel.name).write_bytes(wheel.read_bytes())
    completed = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from connector.cli import main; sys.exit(main())",
            "build-soar-app",
            "--output",
            str(tmp_path / "dist"),
            "--wheel-cache",
            str(cache),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        env=dict(offline(), PYTHONPATH=str(site)),
    )
    assert completed.returncode == 0, completed.stderr
    with tarfile.open(completed.stdout.strip().splitlines()[-1]) as mine, tarfile.open(soar_package) as checkout:
        assert mine.getnames() == checkout.getnames()
