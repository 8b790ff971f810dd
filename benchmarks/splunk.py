"""Scenario (a): the built Splunk app's ``spectraanalyze`` command, driven
through SCP v2 as splunkd drives it (the tests' driver, ``tests/scp.py``),
under a Splunk Python from pyenv."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Callable, Optional

from kvstore_standin import KVStore
from scp import Chunk, encode_records, run_command
from splunk_harness import SESSION_KEY, configure, install_app, python, token_credentials
from splunkd_standin import SplunkdStandIn

CHUNK = 50_000  # events per chunk, splunkd's largest
ANSWERED = ("found", "not_found")


def install(package: Path, work: Path, appliance_url: str, cache_store: str = "auto") -> Path:
    """The app's package unpacked as Splunk installs it, set up for the appliance."""
    app = install_app(package, work / "splunk")
    configure(app, {"url": appliance_url, "cache_store": cache_store})
    return app


def splunkd_for(token: str, kvstore: Optional[KVStore] = None) -> SplunkdStandIn:
    """splunkd's storage/passwords with the token, where the command reads it,
    and the KV store stand-in."""
    return SplunkdStandIn(SESSION_KEY, token_credentials(token), kvstore=kvstore)


def chunks_of(events: list[str], repeat: int = 1) -> Iterator[str]:
    """CSV bodies of ``CHUNK`` events, each event only its hash (the field
    splunkd sends a command that asks for one); ``repeat`` times over."""
    for _ in range(repeat):
        for start in range(0, len(events), CHUNK):
            yield encode_records([{"sha1": value} for value in events[start : start + CHUNK]])


class Search:
    """One search through the command: seconds from the first chunk sent
    (the command has started and answered getinfo) to its last answer read
    (its exit after that is left out, as the floor's interpreter start-up
    and exit are), and the command process's own resource usage."""

    def __init__(self, app: Path, version: str, splunkd_uri: str) -> None:
        self.app, self.version, self.python, self.splunkd_uri = app, version, python(version), splunkd_uri
        self.seconds = 0.0
        self.usage: Any = None
        self.peak_rss_kb = 0
        self.replies: list[Chunk] = []

    def run(self, chunks: Iterable[str], keep: bool = True) -> Search:
        started: list[float] = []

        def timed() -> Iterator[str]:
            started.append(time.perf_counter())
            yield from chunks

        take: Callable[[Chunk], None] = self.replies.append if keep else _drop
        done = run_command(
            self.app, self.python, ["field=sha1"], timed(), self.splunkd_uri, SESSION_KEY, timeout=3600, on_reply=take
        )
        self.seconds = done.answered_at - started[0]
        if done.returncode != 0:
            raise SystemExit(f"the Splunk command failed ({done.returncode}): {done.stderr[-2000:]}")
        self.usage, self.peak_rss_kb = done.usage, done.peak_rss_kb or 0
        return self

    def check(self, events: int) -> None:
        """Every event came back with an answer (after the timing: decoding
        the replies is splunkd's work, not the command's)."""
        statuses = [record["rl_status"] for reply in self.replies for record in reply.records]
        unanswered = [status for status in statuses if status not in ANSWERED]
        if len(statuses) != events or unanswered:
            raise SystemExit(
                f"the Splunk command answered {len(statuses)} of {events} events, {len(unanswered)} without a verdict"
            )


def _drop(_reply: Chunk) -> None:
    """For the memory runs: a million events' replies are not kept."""
