"""What the Splunk command does for each distinct hash once its answer is in,
next to the time a request leaves to each hash of its batch.

A cold search asks 100 hashes a request, 4 requests at a time. While they
are in flight, the command checks, flattens, renders and keeps (in the
SQLite file) the reports of the batches that have arrived. All of that, and
the requests' own Python work, runs under one interpreter lock. Each hash
is given ``latency / (batch_size x max_connections)`` of the appliance's
time: 50 us at 20 ms, 250 us at 100 ms. When the command's work for a hash,
with (a1)'s (requests and ``json.loads``, measured by ``make bench`` as its
CPU seconds less (a0)'s, a hash), takes longer than that, the search waits
for the command, not for the appliance: the lookup is CPU-bound, and (a)
cannot come as close to (a1) as it does when the appliance is slower.
"""

from __future__ import annotations

import csv
import json
import tempfile
import timeit
from typing import Any, Callable, NamedTuple

from connector.actions import record_of
from connector.cache import ResultCache
from connector.config import CacheSettings, Config
from connector.flatten import LIST_KEYS, REPORT_KEYS, SOURCE_FIELDS
from connector.lookup import Answer, Question
from connector.names import Status
from connector.simulator.corpus import Corpus
from connector.splunk.chunk import CsvText, OutputColumns
from connector.validation import violation

BATCH = 100
OWN = "the command's own, the four above"


class Steps(NamedTuple):
    """Microseconds per hash of each step."""

    loads: float  # json.loads of the report: (a1) does it too
    validate: float
    flatten: float
    render: float
    keep: float  # ResultCache.put, a batch of 100 in one transaction

    @property
    def own(self) -> float:
        """The command's work that (a1) does not do."""
        return self.validate + self.flatten + self.render + self.keep


def _best(step: Callable[[], Any], count: int, number: int, rounds: int) -> float:
    return min(timeit.timeit(step, number=number) / number / count * 1e6 for _ in range(rounds))


def measure(samples: int = 1000, rounds: int = 7) -> Steps:
    corpus = Corpus(samples)
    asked = Question(fields=SOURCE_FIELDS).request_fields()
    items: list[dict[str, Any]] = [
        {name: sample[name] for name in asked if name in sample} for sample in corpus.samples
    ]
    raw = [json.dumps(item).encode() for item in items]
    records = [record_of(item["sha1"], "sha1", Answer(Status.FOUND, item=item), False) for item in items]
    text = CsvText(csv.excel)  # splunklib's dialect has the same rules
    columns = OutputColumns(
        ["rl_" + key for key in REPORT_KEYS], REPORT_KEYS, [key for key in REPORT_KEYS if key in LIST_KEYS]
    )
    batches = [
        {item["sha1"]: Answer(Status.FOUND, item=item) for item in items[start : start + BATCH]}
        for start in range(0, len(items), BATCH)
    ]
    count = len(items)
    with tempfile.TemporaryDirectory(prefix="splunk-cost-") as folder, ResultCache(CacheSettings(folder)) as cache:
        return Steps(
            loads=_best(lambda: [json.loads(report) for report in raw], count, 5, rounds),
            validate=_best(lambda: [violation("result-item", item) for item in items], count, 5, rounds),
            flatten=_best(
                lambda: [record_of(item["sha1"], "sha1", Answer(Status.FOUND, item=item), False) for item in items],
                count,
                5,
                rounds,
            ),
            render=_best(lambda: [text.record(record, columns) for record in records], count, 5, rounds),
            keep=_best(lambda: [cache.put("scope", batch) for batch in batches], count, 1, rounds),
        )


def window(latency_ms: float) -> float:
    """Microseconds of a request's latency to each hash it asks."""
    defaults = Config(url="https://appliance.invalid", token="-")
    return latency_ms * 1000 / (defaults.batch_size * defaults.max_connections)


def table(steps: Steps, latencies: list[float], a1_us: float = 0.0) -> str:
    """The steps, and for each latency the window per hash next to the work
    per hash (``a1_us``: (a1)'s own CPU per hash, when measured)."""
    lines = [f"{'per distinct hash':<34}{'us':>8}", f"{'json.loads (a1 does it too)':<34}{steps.loads:>8.1f}"]
    lines += [f"{name:<34}{getattr(steps, name):>8.1f}" for name in ("validate", "flatten", "render")]
    lines += [f"{'keep (SQLite, 100 a transaction)':<34}{steps.keep:>8.1f}", f"{OWN:<34}{steps.own:>8.1f}"]
    if a1_us:
        lines.append(f"{'(a1) CPU a hash, less (a0)':<34}{a1_us:>8.1f}")
    for latency in latencies:
        work = steps.own + a1_us
        bound = "CPU-bound" if work > window(latency) else "latency-bound"
        lines.append(
            f"{f'a request at {latency:g} ms, each hash gets':<34}{window(latency):>8.1f}   work {work:.1f} us: {bound}"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    print(table(measure(), [20.0, 100.0]))
