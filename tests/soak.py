"""Soak: many events through the built Splunk command over SCP v2, with a
share of the appliance's answers faulty. Every event must come out, in
order, with a status that matches the appliance's truth (or error, where a
fault was not ridden out), and the command's memory must stay flat.

    python tests/soak.py --events 1000000     # `make soak`
    run_soak(app_dir, events=60000, ...)      # the smaller version in the test suite

Chunks are generated and checked one at a time and never kept, so the
driver's own memory stays flat too.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from scp import _Conversation, _searchinfo, encode_records
from splunk_harness import SESSION_KEY, build_package, configure, install_app, python, token_credentials
from splunkd_standin import SplunkdStandIn

from connector.hashes import hash_type
from connector.simulator.corpus import Corpus
from connector.simulator.faults import TRANSIENT, FaultSchedule
from connector.simulator.server import Simulator

TOKEN = "soak-token-93c0d51f2e"
# Faults the retries ride out, and some they cannot (those events come out with rl_status=error).
SOAK_FAULTS = TRANSIENT + ("500", "malformed-json", "invalid-item")
STATUSES = ("found", "not_found", "invalid", "error")
FLAT_MARGIN_MB = 25.0


@dataclass
class SoakReport:
    events_in: int = 0
    events_out: int = 0
    statuses: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STATUSES, 0))
    wrong: list[str] = field(default_factory=list)  # events that came out wrong (kept short)
    rss_mb: list[float] = field(default_factory=list)  # the command's RSS after each chunk
    requests: int = 0
    faults: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    returncode: int = 0

    @property
    def growth_mb(self) -> float:
        """How much more the last quarter of the chunks needed than the first
        half. The first chunks fill the memo and the allocator's arenas (some
        70 MB over 5 to 10 chunks of 50,000 events, then flat to 2,000,000
        events); memory that grows with the events grows from half to half."""
        quarter, half = max(1, len(self.rss_mb) // 4), max(1, len(self.rss_mb) // 2)
        return max(self.rss_mb[-quarter:]) - max(self.rss_mb[:half])

    @property
    def ok(self) -> bool:
        return (
            self.returncode == 0
            and self.events_out == self.events_in
            and not self.wrong
            and self.growth_mb < FLAT_MARGIN_MB
        )

    def summary(self) -> str:
        injected = sum(self.faults.values())
        share = injected / self.requests if self.requests else 0.0
        return "\n".join(
            [
                f"events: {self.events_in} in, {self.events_out} out, {len(self.wrong)} wrong; "
                f"statuses {self.statuses}",
                f"appliance: {self.requests} requests, {injected} faults injected ({share:.2%}): {self.faults}",
                f"command RSS: first chunk {self.rss_mb[0]:.0f} MB, peak {max(self.rss_mb):.0f} MB, last "
                f"{self.rss_mb[-1]:.0f} MB; last quarter vs first half {self.growth_mb:+.1f} MB "
                f"(flat means under {FLAT_MARGIN_MB:g} MB)",
                f"time: {self.seconds:.1f}s ({self.events_in / max(self.seconds, 1e-9):,.0f} events/s); "
                f"verdict: {'PASS' if self.ok else 'FAIL'}",
            ]
        )


def hash_pool(corpus: Corpus, size: int) -> list[str]:
    """Found and missing hashes of every type, and a few typos."""
    found = [sample[kind] for sample in corpus.samples for kind in ("sha1", "md5", "sha256")]
    pool = []
    for index in range(size):
        if index % 500 == 499:
            pool.append(f"typo-{index}")
        elif index % 4 == 3:
            pool.append(format(index, "x").rjust(40, "d"))  # a sha1 the appliance lacks
        else:
            pool.append(found[index % len(found)])
    return pool


def event_chunks(pool: list[str], events: int, chunk_size: int) -> Iterator[list[dict[str, str]]]:
    """Events spread over the pool (a stride coprime with its size), numbered."""
    stride = 7919
    for start in range(0, events, chunk_size):
        yield [
            {"h": pool[(index * stride) % len(pool)], "n": str(index)}
            for index in range(start, min(events, start + chunk_size))
        ]


def truth(corpus: Corpus, value: str) -> str:
    kind = hash_type(value)
    if kind is None:
        return "invalid"
    return "found" if corpus.find(kind, value) else "not_found"


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    raise RuntimeError("no VmRSS")


def run_soak(
    app_dir: Path,
    *,
    events: int,
    chunk_size: int = 50000,
    pool_size: int = 60000,
    memo_size: int = 20000,
    fault_rate: float = 0.01,
    corpus_size: int = 20000,
    seed: int = 1,
    python_version: str = "3.9",
) -> SoakReport:
    corpus = Corpus(corpus_size)
    pool = hash_pool(corpus, pool_size)
    expected = {value: truth(corpus, value) for value in pool}
    schedule = FaultSchedule(rate=fault_rate, kinds=SOAK_FAULTS, seed=seed)
    report = SoakReport()
    started = time.monotonic()
    with (
        Simulator(TOKEN, corpus=corpus, faults=schedule) as appliance,
        SplunkdStandIn(SESSION_KEY, token_credentials(TOKEN)) as splunkd,
    ):
        configure(
            app_dir,
            {"url": appliance.url, "retry_deadline": "20"},
            {"memo_size": str(memo_size), "log_level": "WARNING"},
        )
        report.returncode = _drive(
            app_dir, python(python_version), splunkd.uri, event_chunks(pool, events, chunk_size), expected, report
        )
        report.requests, report.faults = schedule.requests, dict(schedule.injected)
    report.seconds = time.monotonic() - started
    return report


def _drive(
    app_dir: Path,
    interpreter: str,
    splunkd_uri: str,
    chunks: Iterator[list[dict[str, str]]],
    expected: dict[str, str],
    report: SoakReport,
) -> int:
    splunk_home = app_dir.parent.parent.parent
    dispatch_dir = splunk_home / "var" / "run" / "splunk" / "dispatch" / "soak"
    dispatch_dir.mkdir(parents=True, exist_ok=True)
    stderr_path = dispatch_dir / "soak.stderr"
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "SPLUNK_HOME": str(splunk_home), "LANG": "C.UTF-8"}
    with open(stderr_path, "wb") as stderr:
        process = subprocess.Popen(
            [interpreter, str(app_dir / "bin" / "spectraanalyze.py")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            cwd=str(dispatch_dir),
            env=env,
        )
    try:
        talk = _Conversation(process, stderr_path)
        talk.exchange(
            {
                "action": "getinfo",
                "preview": False,
                "searchinfo": _searchinfo(
                    app_dir, "spectraanalyze", ["field=h"], splunkd_uri, SESSION_KEY, dispatch_dir
                ),
            },
            "",
        )
        for events in chunks:
            reply = talk.exchange({"action": "execute", "finished": False}, encode_records(events))
            report.rss_mb.append(rss_mb(process.pid))
            _check(events, reply.records, expected, report)
        talk.exchange({"action": "execute", "finished": True}, "")
        process.stdin.close()
        return process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stdout.close()


def _check(events: list[dict[str, str]], records: list[dict], expected: dict[str, str], report: SoakReport) -> None:
    report.events_in += len(events)
    report.events_out += len(records)
    for event, record in zip(events, records):
        status = record.get("rl_status")
        want = expected[event["h"]]
        if status in report.statuses:
            report.statuses[status] += 1
        right = record.get("n") == event["n"] and (status == want or (status == "error" and want != "invalid"))
        if not right and len(report.wrong) < 20:
            report.wrong.append(
                f"event {event['n']} ({event['h']}): {status} (expected {want}), "
                f"n={record.get('n')} error={record.get('rl_error')}"
            )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--chunk-size", type=int, default=50000)
    parser.add_argument("--fault-rate", type=float, default=0.01)
    parser.add_argument("--python", default="3.9", choices=("3.9", "3.13"))
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="spectra-soak-") as work:
        app_dir = install_app(build_package(Path(work) / "package"), Path(work) / "splunk")
        report = run_soak(
            app_dir,
            events=args.events,
            chunk_size=args.chunk_size,
            fault_rate=args.fault_rate,
            python_version=args.python,
        )
    print(report.summary())
    for line in report.wrong:
        print("  " + line)
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
