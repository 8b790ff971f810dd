"""The soak, small enough for every test run (`make soak` runs 1,000,000 events)."""

import pytest
from soak import run_soak

pytestmark = pytest.mark.slow  # every test here starts a process


def test_every_event_comes_out_with_faults_injected_and_memory_stays_flat(splunk_app):
    # A memo smaller than the pool keeps lookups (and so faults) going to the last chunk.
    report = run_soak(
        splunk_app, events=30000, chunk_size=2500, pool_size=12000, memo_size=1500, corpus_size=4000, fault_rate=0.02
    )
    print(report.summary())
    assert report.returncode == 0
    assert report.events_out == report.events_in == 30000
    assert report.wrong == []
    assert sum(report.faults.values()) > 0 and report.statuses["error"] > 0  # some faults were not ridden out
    assert report.statuses["found"] and report.statuses["not_found"] and report.statuses["invalid"]
    assert report.growth_mb < 25, report.rss_mb
