"""The simulated appliance in a process of its own: the benchmark's driver
(splunkd's part) then never competes with it for the interpreter lock, and
every scenario meets the same appliance."""

from __future__ import annotations

import multiprocessing
from typing import Any

from connector.simulator.server import Simulator

from .workload import corpus_for


class ApplianceProcess:
    """``with ApplianceProcess(token, distinct, latency_ms) as appliance``:
    ``appliance.url``, ``appliance.requests_served()``."""

    def __init__(self, token: str, distinct: int, latency_ms: float) -> None:
        context = multiprocessing.get_context("spawn")
        self._connection, child = context.Pipe()
        self._process = context.Process(
            target=_serve, args=(child, token, distinct, latency_ms), daemon=True, name="simulated-appliance"
        )
        self.url = ""

    def __enter__(self) -> ApplianceProcess:
        self._process.start()
        self.url = self._connection.recv()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._connection.send("stop")
        self._process.join(10)

    def requests_served(self) -> int:
        self._connection.send("count")
        return self._connection.recv()


def _serve(connection: Any, token: str, distinct: int, latency_ms: float) -> None:
    with Simulator(token, corpus=corpus_for(distinct), latency_ms=latency_ms) as simulator:
        connection.send(simulator.url)
        while connection.recv() != "stop":
            connection.send(simulator.requests_served)
