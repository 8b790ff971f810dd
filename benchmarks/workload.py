"""The benchmark's workload: events carrying a few distinct SHA1 hashes, most
of them known to the simulated appliance, the rest absent from it."""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass

from connector.simulator.corpus import Corpus

ABSENT_SHARE = 0.1  # the share of distinct hashes the appliance has never seen


@dataclass(frozen=True)
class Workload:
    corpus: Corpus
    distinct: list[str]  # every hash once, in first-seen order
    events: list[str]  # the hash of each event; each distinct hash at least once

    @property
    def unknown(self) -> int:
        """How many of the distinct hashes the appliance does not have."""
        return sum(1 for value in self.distinct if self.corpus.find("sha1", value) is None)


def corpus_for(distinct: int) -> Corpus:
    """The appliance's samples: all the distinct hashes but the absent ones."""
    return Corpus(distinct - int(distinct * ABSENT_SHARE))


def build(events: int, distinct: int, seed: int = 6) -> Workload:
    """The same workload for the same arguments, in every process."""
    absent = int(distinct * ABSENT_SHARE)
    corpus = corpus_for(distinct)
    present = corpus.hashes("sha1")[: distinct - absent]
    rng = random.Random(seed)
    hashes = present + [hashlib.sha1(f"absent-{index}".encode()).hexdigest() for index in range(absent)]
    rng.shuffle(hashes)
    stream = hashes + [rng.choice(hashes) for _ in range(events - len(hashes))]
    rng.shuffle(stream)
    return Workload(corpus=corpus, distinct=list(dict.fromkeys(stream)), events=stream)
