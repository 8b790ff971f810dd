"""The fault matrix: every fault the simulator injects and what each surface
(client and actions, CLI, Splunk command, SOAR connector) must make of it.

A surface looks up ``hash_mix(corpus)`` against ``appliance(case)`` with
``SETTINGS`` and checks its records with ``check_records``: one per input
hash, in order, the statuses the case defines, the case's message on every
failed one, within ``TIME_BOUND``, and never the token.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Optional

from helpers import TOKEN

from connector.hashes import hash_type, normalize
from connector.simulator.corpus import Corpus
from connector.simulator.faults import LIST_PATH, Blackhole, FaultSchedule
from connector.simulator.server import Simulator

RECOVERS = "recovers"  # retried: every hash answered as if nothing had happened
FIRST_BATCH_FAILS = "first batch fails"  # its hashes are errors, the other batch is answered
EVERY_BATCH_FAILS = "every batch fails"
FIRST_ITEM_FAILS = "first item fails"  # only the hash of the bad item is an error
STOPS = "stops"  # the appliance refused the token: the whole run stops with one message

# Two attempts per request keeps the matrix fast and still shows a retry.
SETTINGS = {
    "max_attempts": "2",
    "retry_deadline": "10",
    "connect_timeout": "0.3",
    "read_timeout": "0.5",
    "max_connections": "1",
    "batch_size": "100",
}
TIME_BOUND = 6.0  # seconds for one run: 2 batches x 2 attempts x (0.3 s + 0.5 s) plus backoff, with room
# A run in a process of its own also starts Python beside the other test workers: more room, still far
# below what a fault not cut short would take (a trickling answer lasts a minute).
PROCESS_TIME_BOUND = TIME_BOUND + 10


@dataclass(frozen=True)
class Case:
    plan: Optional[str]  # a FaultSchedule plan; None: a connect timeout (a blackhole port)
    outcome: str
    message: str = ""  # in every failed record's error and in the run's one message
    requests: Optional[int] = None  # list requests the appliance sees for hash_mix

    @property
    def id(self) -> str:
        return self.plan.replace("*", "-forever") if self.plan else "connect-timeout"


CASES = [
    Case("429", RECOVERS, requests=3),
    Case("429*", EVERY_BATCH_FAILS, "rate limiting", 4),
    Case("429-retry-after", RECOVERS, requests=3),
    Case("429-absurd", FIRST_BATCH_FAILS, "asked to wait 86400000s", 2),
    Case("500", FIRST_BATCH_FAILS, "server error (HTTP 500", 2),
    Case("502", RECOVERS, requests=3),
    Case("503", RECOVERS, requests=3),
    Case("504", RECOVERS, requests=3),
    Case("503*", EVERY_BATCH_FAILS, "server error (HTTP 503", 4),
    Case("reset", RECOVERS, requests=3),
    Case("reset*", EVERY_BATCH_FAILS, "the connection was reset", 4),
    Case(None, EVERY_BATCH_FAILS, "connection timed out"),
    Case("trickle", RECOVERS, requests=3),
    Case("trickle*", EVERY_BATCH_FAILS, "did not arrive within 0.5s", 4),
    Case("malformed-json", FIRST_BATCH_FAILS, "not JSON", 2),
    Case("deep-json", FIRST_BATCH_FAILS, "not JSON", 2),
    Case("invalid-item", FIRST_ITEM_FAILS, "riskscore must be integer", 2),
    Case("oversized", FIRST_BATCH_FAILS, "larger than", 2),
    Case("gzip-bomb", FIRST_BATCH_FAILS, "larger than", 2),
    Case("redirect", FIRST_BATCH_FAILS, "redirected the request", 2),
    Case("401", STOPS, "refused the API token (HTTP 401", 1),
    Case("403", STOPS, "refused the API token (HTTP 403", 1),
]
CASE_IDS = [case.id for case in CASES]


def hash_mix(corpus: Corpus) -> list[str]:
    """Two batches (sha1 first, then md5) with a duplicate, a hash the
    appliance lacks, an upper-case one and a typo."""
    sha1, md5 = corpus.hashes("sha1"), corpus.hashes("md5")
    return [sha1[0], sha1[5].upper(), "0" * 40, "not-a-hash", md5[2], sha1[3], md5[9], sha1[0]]


def expected_statuses(case: Case, mix: Sequence[str], corpus: Corpus) -> list[str]:
    first_sha1 = normalize(mix[0])
    statuses = []
    for given in mix:
        value = normalize(given)
        kind = hash_type(value)
        failed = kind and (
            case.outcome == EVERY_BATCH_FAILS
            or (case.outcome == FIRST_BATCH_FAILS and kind == "sha1")
            or (case.outcome == FIRST_ITEM_FAILS and value == first_sha1)
        )
        if kind is None:
            statuses.append("invalid")
        elif failed:
            statuses.append("error")
        else:
            statuses.append("found" if corpus.find(kind, value) else "not_found")
    return statuses


def check_records(
    case: Case, mix: Sequence[str], corpus: Corpus, records: Sequence[Mapping[str, Any]], prefix: str = ""
) -> None:
    """Every input hash accounted for, as the case defines."""
    assert case.outcome != STOPS, "a run that stops has no records"
    assert [record[prefix + "hash"] for record in records] == [normalize(given) for given in mix]
    assert [record[prefix + "status"] for record in records] == expected_statuses(case, mix, corpus)
    for record in records:
        if record[prefix + "status"] == "error":
            assert case.message in record[prefix + "error"]
        if record[prefix + "status"] != "found":
            assert record[prefix + "classification"] is None and record[prefix + "riskscore"] is None
        else:
            assert record[prefix + "classification"]


def assert_no_token(*texts: Any) -> None:
    """The sentinel token appears in none of the texts (or their JSON)."""
    for text in texts:
        blob = text if isinstance(text, str) else json.dumps(text, default=repr)
        assert TOKEN not in blob, f"the token leaked into: {blob[:300]}"


@dataclass
class Appliance:
    url: str
    schedule: Optional[FaultSchedule]
    catcher: Optional[Simulator]  # where the redirect fault points

    def settings(self) -> dict[str, str]:
        return dict(SETTINGS, url=self.url, token=TOKEN)

    def check_requests(self, case: Case) -> None:
        """The retries the case defines happened, and a redirect was not followed."""
        if self.schedule is not None and case.requests is not None:
            assert self.schedule.requests == case.requests
        if self.catcher is not None:
            assert self.catcher.faults.requests == 0, "the redirect was followed"


@contextmanager
def appliance(case: Case, corpus: Corpus) -> Iterator[Appliance]:
    """The simulator injecting the case's fault (or a blackhole port)."""
    if case.plan is None:
        with Blackhole() as hole:
            yield Appliance(hole.url, None, None)
        return
    if "redirect" not in case.plan:
        with Simulator(TOKEN, corpus=corpus, faults=FaultSchedule.parse(case.plan)) as server:
            yield Appliance(server.url, server.faults, None)
        return
    with Simulator(TOKEN, corpus=corpus) as catcher:  # a second appliance, for the redirect to point at
        schedule = FaultSchedule.parse(case.plan, redirect_to=catcher.url + LIST_PATH)
        with Simulator(TOKEN, corpus=corpus, faults=schedule) as server:
            yield Appliance(server.url, schedule, catcher)
