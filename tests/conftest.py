"""Shared fixtures: the embedded simulator over real HTTP on loopback, the
built Splunk app and a stand-in splunkd. Plain helpers are in helpers.py."""

from __future__ import annotations

import fcntl
import subprocess
from pathlib import Path

import pytest
from helpers import TOKEN, FakeTime

from connector.client import SpectraAnalyzeClient
from connector.config import Config
from connector.simulator.corpus import Corpus
from connector.simulator.server import Simulator

# Modules that build apps, run AppInspect or start the commands as processes
# (splunkd's SCP v2, the CLI, the SOAR runner): `make test` runs them,
# `make test-fast` leaves them out. A single test elsewhere can be marked
# `@pytest.mark.slow` itself.
SLOW_MODULES = frozenset(
    {
        "test_splunk_command.py",
        "test_splunk_faults.py",
        "test_splunk_alert_action.py",
        "test_splunk_fastpath.py",
        "test_splunk_kvstore_cluster.py",
        "test_splunk_package.py",
        "test_splunk_ui.py",
        "test_splunk_appliances.py",
        "test_splunk_configuration_page.py",
        "test_refusal.py",
        "test_soak.py",
        "test_cli.py",
        "test_enrich_cli.py",
        "test_packaging.py",
        "test_faults.py",
        "test_tls.py",
        "test_soar_package.py",
        "test_action_runner.py",
        "test_soar_faults.py",
        "test_soar_sdk.py",
        "test_soar_view.py",
        "test_user_files.py",
    }
)


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
def splunk_package(tmp_path_factory, worker_id):
    """The Splunk app's .tgz, built once per test run, also when pytest-xdist
    runs it in several workers: the first to take the lock builds it (one
    builder at a time also keeps the shared wheel cache whole)."""
    from splunk_harness import build_package

    base = tmp_path_factory.getbasetemp()
    shared = base if worker_id == "master" else base.parent  # the run's folder, above the workers' own
    with open(shared / "splunk-package.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        built = shared / "splunk-package.path"
        if built.exists():
            return Path(built.read_text(encoding="utf-8"))
        output = shared / "splunk-package"
        output.mkdir()
        package = build_package(output)
        built.write_text(str(package), encoding="utf-8")
        return package


@pytest.fixture
def splunk_app(splunk_package, tmp_path):
    """The app unpacked into a fresh $SPLUNK_HOME/etc/apps of its own."""
    from splunk_harness import install_app

    return install_app(splunk_package, tmp_path / "splunk")


@pytest.fixture
def app(splunk_app, simulator):
    """The installed app, configured for the simulator; retries kept short."""
    from splunk_harness import configure

    configure(splunk_app, {"url": simulator.url, "max_attempts": "2", "retry_deadline": "2"})
    return splunk_app


@pytest.fixture
def splunkd():
    """A stand-in splunkd holding the token in storage/passwords."""
    from splunk_harness import SESSION_KEY, token_credentials
    from splunkd_standin import SplunkdStandIn

    with SplunkdStandIn(SESSION_KEY, token_credentials(TOKEN)) as standin:
        yield standin


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture(autouse=True)
def user_cache_home(tmp_path_factory, monkeypatch):
    """The CLI keeps answers in the user's cache folder: each test gets a
    fresh one, never the real one."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache-home")))


@pytest.fixture(autouse=True)
def subprocesses_only_in_slow_tests(request, monkeypatch):
    """The fast loop (``make test-fast``: ``-m "not slow"``) starts no
    process: a test that does must say so with ``@pytest.mark.slow``."""
    if request.node.get_closest_marker("slow") is None:

        def refuse(*args, **kwargs):
            raise AssertionError(f"{request.node.nodeid} starts a subprocess: mark it @pytest.mark.slow")

        monkeypatch.setattr(subprocess.Popen, "_execute_child", refuse)
