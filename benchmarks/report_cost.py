"""What checking and flattening one report costs, next to ``json.loads`` of
the same report: the connector's own work per hash, once the answer is in."""

from __future__ import annotations

import json
import timeit
from typing import Any, Callable, NamedTuple

from connector.flatten import SOURCE_FIELDS, flatten
from connector.lookup import Question
from connector.simulator.corpus import Corpus
from connector.validation import violation

TARGET = 2.0  # validation plus flattening within twice the cost of json.loads


class Cost(NamedTuple):
    label: str
    size: int  # bytes of JSON per report
    loads: float  # microseconds per report
    validate: float
    flatten: float

    @property
    def ratio(self) -> float:
        return (self.validate + self.flatten) / self.loads


def _steps(raw: list[bytes], items: list[dict[str, Any]], with_summary: bool) -> dict[str, Callable[[], Any]]:
    """What is timed for one kind of report, each step over every report."""
    return {
        "loads": lambda: [json.loads(text) for text in raw],
        "validate": lambda: [violation("result-item", item) for item in items],
        "flatten": lambda: [flatten(item["sha1"], "sha1", item, with_summary) for item in items],
    }


def _per_report(steps: dict[str, Callable[[], Any]], count: int, rounds: int = 15) -> dict[str, float]:
    """Microseconds per report of each step: the best of several rounds,
    the steps taking turns, so that other load on the machine weighs on
    each alike and as little as possible."""
    best = dict.fromkeys(steps, float("inf"))
    for _ in range(rounds):
        for name, step in steps.items():
            best[name] = min(best[name], timeit.timeit(step, number=10) / 10 / count * 1e6)
    return best


def measure(samples: int = 300) -> list[Cost]:
    corpus = Corpus(samples)
    costs = []
    for label, fields, with_summary in (
        ("get_report", SOURCE_FIELDS, False),
        ("get_summary", SOURCE_FIELDS + ("summary",), True),
    ):
        asked = Question(fields=fields).request_fields()
        items: list[dict[str, Any]] = [
            {name: sample[name] for name in asked if name in sample} for sample in corpus.samples
        ]
        raw = [json.dumps(item).encode() for item in items]
        best = _per_report(_steps(raw, items, with_summary), len(items))
        costs.append(Cost(label, sum(map(len, raw)) // len(raw), **best))
    return costs


def table(costs: list[Cost]) -> str:
    lines = [
        f"{'report of':<14}{'bytes':>7}{'json.loads':>12}{'validate':>10}{'flatten':>9}{'(validate+flatten)/loads':>27}"
    ]
    lines += [
        f"{cost.label:<14}{cost.size:>7}{cost.loads:>10.1f}us{cost.validate:>8.1f}us{cost.flatten:>7.1f}us"
        f"{cost.ratio:>19.2f} (target <= {TARGET:g})"
        for cost in costs
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    print(table(measure()))
