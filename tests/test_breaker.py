"""The breaker: an appliance that keeps failing as a whole is left alone for
a while, instead of every later request spending its whole retry budget.
The policy on its own, then through the client and a lookup over real HTTP."""

from __future__ import annotations

import random

import pytest
import requests
from helpers import TOKEN, FakeTime, closed_port_url

from connector.actions import run_lookup
from connector.client import LIST_PATH, SpectraAnalyzeClient
from connector.config import Config
from connector.errors import ServerError, TransportError
from connector.retry import Breaker, RetryPolicy
from connector.simulator.faults import FaultSchedule
from connector.simulator.server import Simulator

BASE = "https://a1000.example.com"
SHA1 = "3ecb56536b58d2e2ec0779d1c28a9f20024d6b66"
PAGE = {"count": 0, "next": None, "previous": None, "results": []}


def test_it_opens_after_failures_in_a_row_and_only_then():
    clock = FakeTime()
    breaker = Breaker(threshold=3, cooldown=30, clock=clock.clock)
    assert [breaker.failed(TransportError("down")) for _ in range(2)] == [False, False]
    breaker.succeeded()  # an answer in between: counted afresh
    assert [breaker.failed(TransportError("down")) for _ in range(3)] == [False, False, True]
    clock.sleep(12)
    assert breaker.is_open()
    # A request that was in flight when it opened fails too: the opening is not said again.
    assert breaker.failed(TransportError("down")) is False and breaker.is_open()


def test_after_the_cooldown_the_first_failure_opens_it_again_and_a_success_closes_it():
    clock = FakeTime()
    breaker = Breaker(threshold=3, cooldown=30, clock=clock.clock)
    for _ in range(3):
        breaker.failed(TransportError("down"))
    clock.sleep(30)
    assert not breaker.is_open()  # requests go out again
    assert breaker.failed(TransportError("still down")) is True and breaker.is_open()
    clock.sleep(30)
    breaker.succeeded()
    assert not breaker.is_open() and breaker.failed(TransportError("once")) is False


def client_of(url, fake_time, **settings):
    config = Config(url=url, token=TOKEN, retry=RetryPolicy(max_attempts=1), **settings)
    return SpectraAnalyzeClient(
        config, clock=fake_time.clock, sleep=fake_time.sleep, wall_clock=fake_time.clock, rng=random.Random(7)
    )


def test_an_unreachable_appliance_is_asked_three_times_not_once_a_batch():
    fake_time = FakeTime()
    hashes = [f"{index:040x}" for index in range(8)]
    with client_of(closed_port_url(), fake_time, batch_size=1, max_connections=1) as client:
        result = run_lookup("get_report", {"hashes": hashes}, client)
        assert client.requests_sent == 3
    errors = [record["error"] for record in result.records]
    assert [record["status"] for record in result.records] == ["error"] * 8
    assert all("could not reach" in error for error in errors)  # the reason, on every hash
    assert all(error.startswith("not sent: 3 requests in a row failed") for error in errors[3:])
    assert "none is sent for 30s" in errors[3]


def test_answers_between_failures_keep_it_closed(requests_mock):
    """A 500 is the appliance answering (about one request): it resets the
    count as a success does; 503s past their retries count."""
    fake_time = FakeTime()
    outcomes = [
        {"status_code": 503},
        {"status_code": 503},
        {"status_code": 500},
        {"status_code": 503},
        {"status_code": 503},
        {"json": PAGE},
    ]
    requests_mock.post(BASE + LIST_PATH, outcomes)
    with client_of(BASE, fake_time) as client:
        for _ in outcomes[:-1]:
            with pytest.raises(ServerError) as raised:
                client.list_samples([SHA1])
            assert not str(raised.value).startswith("not sent")
        assert client.list_samples([SHA1]) == []
    assert requests_mock.call_count == 6


def test_the_cooldown_ends_and_a_recovered_appliance_is_asked_again(requests_mock):
    fake_time = FakeTime()
    requests_mock.post(
        BASE + LIST_PATH, [{"exc": requests.exceptions.ConnectionError("refused")}] * 3 + [{"json": PAGE}]
    )
    with client_of(BASE, fake_time) as client:
        for _ in range(4):
            with pytest.raises(TransportError):
                client.list_samples([SHA1])
        assert requests_mock.call_count == 3
        fake_time.sleep(30)
        assert client.list_samples([SHA1]) == []
        assert client.list_samples([SHA1]) == []
    assert requests_mock.call_count == 5


def test_over_http_a_failing_appliance_gets_three_requests_per_cooldown(corpus):
    fake_time = FakeTime()
    with Simulator(TOKEN, corpus=corpus, faults=FaultSchedule(forever="503")) as server:
        with client_of(server.url, fake_time, batch_size=2, max_connections=2) as client:
            result = run_lookup("get_report", {"hashes": corpus.hashes("sha1")[:20]}, client)
        injected = server.faults.injected["503"]
    assert [record["status"] for record in result.records] == ["error"] * 20
    assert 3 <= injected <= 4  # two in flight when the third failure opened it
