"""What each surface does for one hash once its answer is in, in CPU
microseconds, next to the floor's own work for it: the measurement behind
the limit of the command line, the action runner and ``enrich``.

A surface runs in one Python process, whose threads share one interpreter
lock: its work per hash and the floor's (sending the batch, ``json.loads``
of the answer) overlap the appliance's latency, never each other.

Single thread, no network, the collector set as the command line sets it;
each step the best of several rounds over the same reports.
"""

from __future__ import annotations

import argparse
import gc
import io
import json
import sys
import tempfile
import time
import timeit
from typing import Any, Callable

from connector.actions import record_of
from connector.cache import ResultCache
from connector.cli import YOUNG_GENERATION
from connector.cli.common import JsonLines
from connector.config import CacheSettings
from connector.flatten import SOURCE_FIELDS
from connector.lookup import Answer, Question, match_items
from connector.names import Status
from connector.rules import load_rules
from connector.rules.engine import _apply, _HashesOf
from connector.simulator.corpus import Corpus
from connector.text import encode_line

from .scenarios import RULES

BATCH = 100  # hashes a request, the default batch size


def _steps(count: int) -> dict[str, Callable[[], Any]]:
    corpus = Corpus(count)
    asked = Question(fields=SOURCE_FIELDS).request_fields()
    items = [{name: sample[name] for name in asked if name in sample} for sample in corpus.samples[:count]]
    hashes = [item["sha1"] for item in items]
    pages = [
        json.dumps({"count": BATCH, "next": None, "results": items[start : start + BATCH]}).encode()
        for start in range(0, count, BATCH)
    ]
    answers = {value: Answer(Status.FOUND, item=item) for value, item in zip(hashes, items)}
    records = {value: record_of(value, "sha1", answer, False) for value, answer in answers.items()}
    rules = load_rules(str(RULES))
    alerts = [
        json.dumps({"id": index, "file": {"hash": {"sha1": value}}}).encode() for index, value in enumerate(hashes)
    ]
    folder = tempfile.mkdtemp(prefix="surface-cost-")

    def cache_write() -> None:
        with ResultCache(CacheSettings(folder)) as cache:
            for start in range(0, count, 2000):  # as the lookup service writes: 2,000 a transaction
                cache.put("scope", dict(list(answers.items())[start : start + 2000]))

    def jsonl() -> None:
        lines = JsonLines("rl_", io.StringIO())
        for record in records.values():
            lines(record)
        lines.flush()

    def enrich_rules() -> None:
        for raw in alerts:
            _apply(_HashesOf(json.loads(raw)), rules, records)

    def enrich_line() -> None:
        for raw in alerts:
            encode_line(_apply(_HashesOf(json.loads(raw)), rules, records).alert)

    return {
        "floor: json.loads of the answer": lambda: [json.loads(page) for page in pages],
        "check the report against the schema": lambda: [
            match_items("sha1", hashes[start : start + BATCH], items[start : start + BATCH])
            for start in range(0, count, BATCH)
        ],
        "flatten it into a record": lambda: [
            record_of(value, "sha1", answer, False) for value, answer in answers.items()
        ],
        "keep it in the SQLite cache": cache_write,
        "CLI: write its JSON line": jsonl,
        "runner: encode the record": lambda: [json.dumps(record) for record in records.values()],
        "enrich: read the alert, apply the rules": enrich_rules,
        "enrich: ... and write the alert's line": enrich_line,
    }


def measure(count: int = 5000, rounds: int = 5) -> dict[str, float]:
    """CPU microseconds per hash of each step, the best of ``rounds``."""
    steps = _steps(count)
    best = dict.fromkeys(steps, float("inf"))
    gc.freeze()
    gc.set_threshold(YOUNG_GENERATION, *gc.get_threshold()[1:])
    for _ in range(rounds):
        for name, step in steps.items():
            best[name] = min(best[name], timeit.timeit(step, number=1, timer=_cpu) / count * 1e6)
    return best


def _cpu() -> float:
    return time.process_time()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.surface_cost", description=__doc__.splitlines()[0])
    parser.add_argument("--hashes", type=int, default=5000)
    args = parser.parse_args(argv)
    cost = measure(args.hashes)
    print(f"{'step, per hash':<44}{'CPU us':>8}")
    for name, value in cost.items():
        print(f"{name:<44}{value:>8.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
