"""Fixtures of the SOAR tests: the stand-in ``phantom`` package, the app
folder as the builder writes it, and a stand-in platform with an asset
pointing at the embedded simulator."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from helpers import SCRIPT

from .soar_support import ASSET, STANDIN, TOKEN

sys.path.insert(0, str(STANDIN))

import soar_platform  # noqa: E402  (needs the stand-in on the path)
from phantom import base_connector  # noqa: E402

import connector  # noqa: E402
from connector.simulator.server import Simulator  # noqa: E402
from connector_tools.soar.build import APP_FOLDER, assemble_app  # noqa: E402


@pytest.fixture(scope="session")
def app_dir(tmp_path_factory) -> Path:
    """The app folder as the builder writes it; no wheels, since this
    process has the dependencies already (the .tgz test runs without them)."""
    return assemble_app(tmp_path_factory.mktemp("soar-app") / APP_FOLDER, {})


@pytest.fixture(scope="session")
def soar_package(tmp_path_factory) -> Path:
    """The app's .tgz, built by the console script as a user builds it (slow tests only)."""
    output = tmp_path_factory.mktemp("dist")
    completed = subprocess.run(
        [SCRIPT, "build-soar-app", "--output", str(output)],
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )
    assert completed.returncode == 0, completed.stderr
    tgz = Path(completed.stdout.strip().splitlines()[-1])
    assert tgz.parent == output.resolve() and tgz.name == f"spectra_analyze_soar-{connector.__version__}.tgz"
    return tgz


@pytest.fixture(scope="session")
def shared_simulator(corpus):
    with Simulator(TOKEN, corpus=corpus) as server:
        yield server


@pytest.fixture
def simulator(shared_simulator) -> Simulator:
    """The session's simulator with its counters reset: starting one per test
    costs half a second of shutdown each."""
    shared_simulator.requests_served = 0
    shared_simulator.bodies.clear()
    return shared_simulator


@pytest.fixture
def platform(tmp_path) -> soar_platform.Platform:
    base_connector.STATE_ROOT = tmp_path / "app_states"
    soar_platform.PLATFORM = soar_platform.Platform()
    return soar_platform.PLATFORM


@pytest.fixture
def asset_settings(simulator) -> dict[str, Any]:
    """An asset as an admin configures it: TLS verification on, numbers as SOAR keeps them."""
    return {
        "url": simulator.url,
        "token": TOKEN,
        "verify_tls": True,
        "batch_size": 100.0,
        "connect_timeout": 5,
        "read_timeout": 60,
        "max_attempts": 2,
        "retry_deadline": 5,
    }


@pytest.fixture
def soar(platform, app_dir, asset_settings) -> soar_platform.Platform:
    """The platform with the asset configured."""
    platform.add_asset(ASSET, app_dir, asset_settings)
    return platform
