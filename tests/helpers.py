"""Plain helpers several test modules share (fixtures live in conftest.py)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any, NamedTuple, Optional

from connector.simulator.server import Simulator, _parse_body

TOKEN = "sentinel-token-5f3c9a1e7d"
# The console script installed next to the interpreter running the tests.
SCRIPT = str(Path(sys.executable).parent / "spectra-connector")
# Splunk 9 runs apps on Python 3.9, Splunk 10 offers 3.13.
PYTHONS = ["3.9", "3.13"]
CONNECTIONS = 4  # in flight at once in the refusal tests


def cli(*args: str, env: Optional[dict[str, str]] = None, stdin: str = "") -> subprocess.CompletedProcess:
    """The console script in a subprocess, without the caller's SPECTRA_ANALYZE_* settings."""
    environment = {key: value for key, value in os.environ.items() if not key.startswith("SPECTRA_ANALYZE_")}
    environment.update(env or {})
    return subprocess.run([SCRIPT, *args], input=stdin, capture_output=True, text=True, env=environment, timeout=60)


class Clock:
    """Wall-clock time that a test moves by hand."""

    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


class FakeTime:
    """An injectable clock whose sleep only advances time."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def closed_port_url() -> str:
    """A loopback URL nothing listens on: connections are refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


class CountingSimulator(Simulator):
    """Counts every request that reaches it, refused ones too, and answers
    each after a delay, so that several are in flight at once."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.attempts = 0
        self._attempts_lock = threading.Lock()

    def answer(self, path, headers, raw):
        with self._attempts_lock:
            self.attempts += 1
        time.sleep(0.02)
        return super().answer(path, headers, raw)


class GatedSimulator(Simulator):
    """Answers at once each request that asks only for ``open_hashes``; holds
    every other one until ``gate`` is set (or 30 s have passed, noted in
    ``held_too_long``). Chosen by what a request asks, not by the order
    requests arrive in, which depends on how the client's threads are run."""

    def __init__(self, *args: Any, open_hashes: Iterable[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.open_hashes = {value.lower() for value in open_hashes}
        self.held_too_long = False
        self.gate = threading.Event()

    def answer(self, path: str, headers: Any, raw: bytes) -> tuple[int, Any]:
        asked = _parse_body(headers.get("Content-Type", ""), raw).get("hash_values", [])
        held = any(value.lower() not in self.open_hashes for value in asked)
        if held and not self.gate.wait(30):
            self.held_too_long = True
        return super().answer(path, headers, raw)


class Streamed(NamedTuple):
    early: list[Any]  # the JSON lines read while the gate held the later requests
    answered_then: int  # the requests the simulator had answered by then
    rest: list[Any]  # the lines after the gate opened
    returncode: int
    stderr: str


def stream_through_gate(simulator: GatedSimulator, argv: list[str], stdin: bytes, early: int) -> Streamed:
    """``spectra-connector ARGV --url <simulator>`` fed ``stdin``: its first
    ``early`` JSON lines, read while ``simulator`` holds every request but
    those of its open hashes; then the gate opens and the rest is read."""
    process = subprocess.Popen(
        [SCRIPT, *argv, "--url", simulator.url],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=dict(os.environ, SPECTRA_ANALYZE_TOKEN=TOKEN),
    )
    assert process.stdin is not None and process.stdout is not None and process.stderr is not None
    process.stdin.write(stdin)
    process.stdin.close()
    try:
        lines = [json.loads(process.stdout.readline()) for _ in range(early)]
        answered_then = simulator.requests_served
    finally:
        simulator.gate.set()
    rest = [json.loads(line) for line in process.stdout.read().splitlines()]
    returncode = process.wait(60)
    return Streamed(lines, answered_then, rest, returncode, process.stderr.read().decode())
