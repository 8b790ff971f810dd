"""Shared fixtures: the embedded simulator over real HTTP on loopback."""
from __future__ import annotations

import pytest

from connector.client import SpectraAnalyzeClient
from connector.config import Config
from connector.simulator.corpus import Corpus
from connector.simulator.server import Simulator

TOKEN = "sentinel-token-5f3c9a1e7d"


class Clock:
    """Wall-clock time that a test moves by hand."""

    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now

# Modules that build apps, run AppInspect or start the commands as processes
# (splunkd's SCP v2, the CLI, the SOAR runner): `make test` runs them,
# `make test-fast` leaves them out. A single test elsewhere can be marked
# `@pytest.mark.slow` itself.
SLOW_MODULES = frozenset({
    "test_splunk_command.py", "test_splunk_faults.py", "test_splunk_alert_action.py", "test_splunk_fastpath.py",
    "test_splunk_kvstore_cluster.py", "test_splunk_package.py", "test_splunk_ui.py", "test_splunk_appliances.py",
    "test_splunk_configuration_page.py", "test_refusal.py", "test_soak.py",
    "test_cli.py", "test_enrich_cli.py", "test_packaging.py", "test_faults.py", "test_tls.py",
    "test_soar_package.py", "test_action_runner.py", "test_soar_faults.py", "test_soar_sdk.py", "test_soar_view.py",
    "test_user_files.py",
})


def pytest_collection_modifyitems(items: list) -> None:
    for item in items:
        if item.path.name in SLOW_MODULES:
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def corpus() -> Corpus:
    return Corpus(2000)


@pytest.fixture
def simulator(corpus):
    with Simulator(TOKEN, corpus=corpus) as server:
        yield server


@pytest.fixture
def config(simulator) -> Config:
    return Config(url=simulator.url, token=TOKEN)


@pytest.fixture
def client(config):
    with SpectraAnalyzeClient(config) as instance:
        yield instance


@pytest.fixture(scope="session")
def splunk_package(tmp_path_factory):
    """The Splunk app's .tgz, built once per test run."""
    from splunk_harness import build_package
    return build_package(tmp_path_factory.mktemp("splunk-package"))


@pytest.fixture
def splunk_app(splunk_package, tmp_path):
    """The app unpacked into a fresh $SPLUNK_HOME/etc/apps of its own."""
    from splunk_harness import install_app
    return install_app(splunk_package, tmp_path / "splunk")


@pytest.fixture(autouse=True)
def user_cache_home(tmp_path_factory, monkeypatch):
    """The CLI keeps answers in the user's cache folder: each test gets a
    fresh one, never the real one."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache-home")))
