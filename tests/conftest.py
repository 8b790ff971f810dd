"""Shared fixtures: the embedded simulator over real HTTP on loopback."""
from __future__ import annotations

import pytest

from connector.client import SpectraAnalyzeClient
from connector.config import Config
from connector.simulator.corpus import Corpus
from connector.simulator.server import Simulator

TOKEN = "sentinel-token-5f3c9a1e7d"


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
