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
