"""``make bench``: the Splunk command against the vendor SDK and against the
floor, side by side in one run, on the simulated appliance with a fixed
latency; and what SCP v2 alone costs (a no-op command moving the same bytes)
and SCP v2 with the floor's lookups (the same command, looking up as the
floor does), which bound how near the floor any command can come.

Each scenario runs in its own process: its CPU seconds and peak RSS are that
process's own (``os.wait4``), its requests are counted by the appliance (a
process of its own too), and its events per second are the events over the
seconds the work took, interpreter start-up left out.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from connector.client import LIST_PATH
from connector.config import Config

from . import exchange, report_cost
from .appliance import ApplianceProcess
from .scenarios import FLOOR_REQUEST
from .splunk import Search, chunks_of, install, splunkd_for
from .workload import Workload, build

REPO = Path(__file__).resolve().parent.parent
TARGETS = {"a/c": 0.8, "a/b": 50.0, "memory": 1.10}


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


def measured(label: str, events: int, seconds: float, requests: int, usage: Any, peak_rss_kb: int,
             note: str) -> Measurement:
    return Measurement(label, events, seconds, requests, usage.ru_utime + usage.ru_stime, peak_rss_kb / 1024, note)


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


def client_scenario(name: str, label: str, appliance: ApplianceProcess, hashes: List[str], events: int,
                    work: Path, env: Dict[str, str]) -> Measurement:
    """A scenario of ``benchmarks.scenarios`` over ``hashes``, standing for
    ``events`` events (each distinct hash asked once)."""
    hash_file = work / f"{name}.txt"
    hash_file.write_text("\n".join(hashes), encoding="utf-8")
    before = appliance.requests_served()
    output, usage = run_child([sys.executable, "-m", "benchmarks.scenarios", name, appliance.url, str(hash_file)],
                              env)
    outcome = json.loads(output)
    return measured(label, events, outcome["seconds"], appliance.requests_served() - before, usage,
                    outcome["peak_rss_kb"], f"Python {platform.python_version()}")


def splunk_scenario(label: str, search: Search, appliance: ApplianceProcess, workload: Workload,
                    repeat: int = 1) -> Measurement:
    keep = repeat == 1
    # Encoded before the clock starts, as splunkd has its events ready; the
    # memory run makes them as it goes instead, a million events being large.
    chunks = list(chunks_of(workload.events)) if keep else chunks_of(workload.events, repeat)
    before = appliance.requests_served()
    search.replies = []
    search.run(chunks, keep=keep)
    if keep:
        search.check(len(workload.events))
    return measured(label, len(workload.events) * repeat, search.seconds, appliance.requests_served() - before,
                    search.usage, search.peak_rss_kb, f"Python {search.version}")


def exchange_scenarios(search: Search, appliance: ApplianceProcess, token: str, workload: Workload, work: Path
                       ) -> Dict[str, Measurement]:
    """(a0) and (a1): the chunks (a) was sent, each event answered with as
    many bytes as (a) added to it, by a command that does nothing else
    (a0), or nothing else but the floor's lookups (a1)."""
    chunks = list(chunks_of(workload.events))
    added = sum(len(reply.data) for reply in search.replies) - sum(len(chunk.encode("utf-8")) for chunk in chunks)
    width = round(added / len(workload.events))
    app = exchange.install(work)
    lookups = work / "lookups.json"  # holds the token: only the owner may read it
    lookups.touch(mode=0o600)
    defaults = Config(url=appliance.url, token="-")
    lookups.write_text(json.dumps({"url": appliance.url + LIST_PATH, "token": token,
                                   "batch_size": defaults.batch_size, "connections": defaults.max_connections,
                                   "body": FLOOR_REQUEST, "field": "sha1", "lib": str(search.app / "bin" / "lib")}),
                       encoding="utf-8")
    rows = {}
    for key, label, config in (("a0", "(a0) SCP v2 alone: a no-op command", None),
                               ("a1", "(a1) SCP v2 + the floor's lookups", lookups)):
        before = appliance.requests_served()
        seconds, usage, peak_rss_kb = exchange.run(app, search.python, chunks, width, config)
        rows[key] = measured(label, len(workload.events), seconds, appliance.requests_served() - before, usage,
                             peak_rss_kb, f"Python {search.version}; the same bytes as (a)")
        progress(rows[key])
    return rows


def measure(workload: Workload, latency_ms: float, sdk_hashes: int, version: str, memory: bool
            ) -> Dict[str, Measurement]:
    """Every scenario, the quick ones first."""
    token = secrets.token_hex(16)
    env = dict(os.environ, SPECTRA_ANALYZE_TOKEN=token)
    events = len(workload.events)
    rows: Dict[str, Measurement] = {}
    with ApplianceProcess(token, len(workload.distinct), latency_ms) as appliance, \
            splunkd_for(token) as splunkd, \
            tempfile.TemporaryDirectory(prefix="spectra-bench-") as folder:
        work = Path(folder)
        search = Search(install(work, appliance.url), version, splunkd.uri)
        rows["c"] = client_scenario("floor", "(c) floor: bare requests + json.loads", appliance, workload.distinct,
                                    events, work, env)
        progress(rows["c"])
        rows["a"] = splunk_scenario("(a) Splunk command, SCP v2, cold cache", search, appliance, workload)
        progress(rows["a"])
        rows.update(exchange_scenarios(search, appliance, token, workload, work))
        rows["warm"] = splunk_scenario("(a) again, warm cache", search, appliance, workload)
        progress(rows["warm"])
        if memory:
            rows["1M"] = splunk_scenario("(a) warm, 1,000,000 events (memory)", search, appliance, workload,
                                         repeat=10)
            progress(rows["1M"])
        sample = workload.distinct[:sdk_hashes]
        rows["b"] = client_scenario("sdk", "(b) vendor SDK, one hash per call", appliance, sample,
                                    events * len(sample) // len(workload.distinct), work, env)
        if len(sample) < len(workload.distinct):
            rows["b"].note += f"; {len(sample):,} of {len(workload.distinct):,} hashes"
        progress(rows["b"])
    return rows


def progress(row: Measurement) -> None:
    print(f"  done: {row.label} ({row.seconds:.1f}s)", file=sys.stderr, flush=True)


def table(rows: List[Measurement]) -> str:
    lines = [f"{'scenario':<42}{'events/s':>10}{'requests':>10}{'CPU s':>8}{'peak RSS MB':>13}{'wall s':>9}"]
    lines += [f"{row.label:<42}{row.events_per_second:>10,.0f}{row.requests:>10,}{row.cpu_seconds:>8.2f}"
              f"{row.peak_rss_mb:>13.1f}{row.seconds:>9.2f}" + (f"  {row.note}" if row.note else "")
              for row in rows]
    return "\n".join(lines)


def verdicts(rows: Dict[str, Measurement]) -> List[str]:
    a, b, c, warm = rows["a"], rows["b"], rows["c"], rows["warm"]
    ceiling = c.seconds / (c.seconds + rows["a0"].seconds)
    checks = [("a/c", a.events_per_second / c.events_per_second, f">= {TARGETS['a/c']}",
               a.events_per_second / c.events_per_second >= TARGETS["a/c"]),
              ("a/b", a.events_per_second / b.events_per_second, f">= {TARGETS['a/b']:g}",
               a.events_per_second / b.events_per_second >= TARGETS["a/b"]),
              ("warm requests", warm.requests, "= 0", warm.requests == 0)]
    if "1M" in rows:
        growth = rows["1M"].peak_rss_mb / warm.peak_rss_mb
        checks.append(("peak RSS 1M / 100k events", growth, f"<= {TARGETS['memory']:.2f}",
                       growth <= TARGETS["memory"]))
    lines = [f"{name:<28}{value:>10.2f}   target {target:<8} {'met' if ok else 'NOT MET'}"
             for name, value, target, ok in checks]
    lines[1:1] = [f"{'a/c ceiling, c/(c+a0)':<28}{ceiling:>10.2f}   the appliance's time, then SCP's (a0)",
                  f"{'a/c of (a1), c/a1':<28}{c.seconds / rows['a1'].seconds:>10.2f}   a command that only looks up, "
                  "as the floor does, and answers"]
    return lines


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--distinct", type=int, default=10_000, help="distinct hashes among the events")
    parser.add_argument("--latency-ms", type=float, default=20)
    parser.add_argument("--splunk-python", default="3.13", choices=("3.9", "3.13"),
                        help="the Splunk Python the command runs under (Splunk 9: 3.9, Splunk 10: 3.13)")
    parser.add_argument("--sdk-hashes", type=int, help="look up only this many hashes with the vendor SDK "
                                                         "(default: all; one per call, it takes minutes)")
    parser.add_argument("--no-memory", action="store_true", help="skip the 1,000,000-event memory run")
    args = parser.parse_args(argv)
    workload = build(args.events, args.distinct)
    defaults = Config(url="https://appliance.invalid", token="-")
    print(f"{args.events:,} events carrying {args.distinct:,} distinct SHA1 hashes "
          f"({workload.unknown:,} unknown to the appliance); simulated appliance, {args.latency_ms:g} ms a request; "
          f"batch_size {defaults.batch_size}, max_connections {defaults.max_connections}\n", flush=True)
    rows = measure(workload, args.latency_ms, args.sdk_hashes or len(workload.distinct), args.splunk_python,
                   not args.no_memory)
    order = ["a", "a0", "a1", "b", "c", "warm", "1M"]
    print(table([rows[key] for key in order if key in rows]))
    print()
    print("\n".join(verdicts(rows)))
    print("\nChecking and flattening one report, next to json.loads of it:")
    print(report_cost.table(report_cost.measure()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
