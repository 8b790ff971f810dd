"""``make bench``: the connector against the vendor SDK and against the floor,
side by side in one run, on the embedded simulator with a fixed latency.

Each scenario runs in its own process: its CPU seconds and peak RSS are that
process's own (``os.wait4``), its requests are counted by the simulator, and
its events per second are the events over the seconds the lookups took,
interpreter start-up left out.
"""
from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from connector.config import Config
from connector.simulator.server import Simulator

from . import report_cost
from .workload import Workload, build

REPO = Path(__file__).resolve().parent.parent


@dataclass
class Measurement:
    label: str
    events: int
    seconds: float
    requests: int
    cpu_seconds: float
    peak_rss_mb: float
    note: str = ""

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds


def run_child(command: List[str], env: Dict[str, str]) -> Tuple[bytes, Any]:
    """Run a process to its end: its output and its own resource usage."""
    process = subprocess.Popen(command, stdout=subprocess.PIPE, env=env, cwd=str(REPO))
    output = process.stdout.read()
    process.stdout.close()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        raise SystemExit(f"benchmark step failed ({process.returncode}): {' '.join(command)}")
    return output, usage


def client_scenario(name: str, label: str, simulator: Simulator, hashes: List[str], events: int,
                    work: Path, env: Dict[str, str]) -> Measurement:
    """A scenario of ``benchmarks.scenarios`` over ``hashes``, standing for
    ``events`` events (each distinct hash asked once)."""
    hash_file = work / f"{name}.txt"
    hash_file.write_text("\n".join(hashes), encoding="utf-8")
    before = simulator.requests_served
    output, usage = run_child([sys.executable, "-m", "benchmarks.scenarios", name, simulator.url, str(hash_file)], env)
    outcome = json.loads(output)
    return Measurement(label, events, outcome["seconds"], simulator.requests_served - before,
                       usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024)


def measure(workload: Workload, latency_ms: float, sdk_hashes: int) -> List[Measurement]:
    token = secrets.token_hex(16)
    env = dict(os.environ, SPECTRA_ANALYZE_TOKEN=token)
    events = len(workload.events)
    with Simulator(token, corpus=workload.corpus, latency_ms=latency_ms) as simulator, \
            tempfile.TemporaryDirectory(prefix="spectra-bench-") as folder:
        work = Path(folder)
        floor = client_scenario("floor", "(c) floor: bare requests + json.loads", simulator, workload.distinct,
                                events, work, env)
        sample = workload.distinct[:sdk_hashes]
        sdk = client_scenario("sdk", "(b) vendor SDK, one hash per call", simulator, sample,
                              events * len(sample) // len(workload.distinct), work, env)
        if len(sample) < len(workload.distinct):
            sdk.note = f"{len(sample):,} of {len(workload.distinct):,} hashes"
        return [sdk, floor]


def table(rows: List[Measurement]) -> str:
    lines = [f"{'scenario':<44}{'events/s':>11}{'requests':>10}{'CPU s':>8}{'peak RSS MB':>13}{'wall s':>9}"]
    lines += [f"{row.label:<44}{row.events_per_second:>11,.0f}{row.requests:>10,}{row.cpu_seconds:>8.2f}"
              f"{row.peak_rss_mb:>13.1f}{row.seconds:>9.2f}" + (f"  ({row.note})" if row.note else "")
              for row in rows]
    return "\n".join(lines)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--distinct", type=int, default=10_000, help="distinct hashes among the events")
    parser.add_argument("--latency-ms", type=float, default=20)
    parser.add_argument("--sdk-hashes", type=int, help="look up only this many hashes with the vendor SDK "
                                                         "(default: all; one per call, it takes minutes)")
    args = parser.parse_args(argv)
    workload = build(args.events, args.distinct)
    defaults = Config(url="https://appliance.invalid", token="-")
    print(f"{args.events:,} events carrying {args.distinct:,} distinct SHA1 hashes "
          f"({workload.unknown:,} unknown to the appliance); "
          f"simulated appliance, {args.latency_ms:g} ms a request; batch_size {defaults.batch_size}, "
          f"max_connections {defaults.max_connections}\n")
    rows = measure(workload, args.latency_ms, args.sdk_hashes or len(workload.distinct))
    print(table(rows))
    print("\nChecking and flattening one report, next to json.loads of it:")
    print(report_cost.table(report_cost.measure()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
