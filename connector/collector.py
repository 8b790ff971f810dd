"""Speed only: how often Python's cyclic garbage collector runs in a
process that looks hashes up (the command line, the Splunk command).

A lookup makes a few dicts and lists per hash, event or alert, tens of
thousands in all, and the collector, at its default of a collection every
700 new container objects, ran so often, over every object alive, that it
took a quarter of ``enrich``'s time. What start-up made (modules, compiled
schemas) lives as long as the process: it is set aside and never scanned
again; and the youngest generation is collected every ``YOUNG_GENERATION``
new objects. Cycles are still collected, so memory stays flat.
"""

from __future__ import annotations

import gc

YOUNG_GENERATION = 10_000
_start_up_set_aside = False


def collect_less() -> None:
    """Set start-up's objects aside and collect the youngest generation less
    often. Sets aside once a process: a program that runs an entry point
    again (the tests) does not set its own objects aside."""
    global _start_up_set_aside
    if not _start_up_set_aside:
        gc.freeze()
        _start_up_set_aside = True
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_GENERATION, older, oldest)
