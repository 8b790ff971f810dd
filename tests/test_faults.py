"""The fault schedule itself, and driving the CLI through 'spectra-connector simulator --faults'."""

import json
import subprocess

import pytest
from helpers import SCRIPT, cli

from connector.simulator.faults import FAULTS, TRANSIENT, FaultSchedule

pytestmark = pytest.mark.slow  # every test here starts a process


def drawn(schedule, count):
    return [schedule.next_fault() for _ in range(count)]


def test_a_plan_plays_in_order_then_answers_normally():
    schedule = FaultSchedule.parse("503*2, ok ,reset")
    assert drawn(schedule, 5) == ["503", "503", None, "reset", None]
    assert schedule.injected == {"503": 2, "reset": 1} and schedule.requests == 5


def test_a_last_entry_without_a_count_repeats_for_ever():
    assert drawn(FaultSchedule.parse("429,500*"), 4) == ["429", "500", "500", "500"]


def test_a_rate_injects_about_that_share_of_the_kinds_reproducibly():
    first = drawn(FaultSchedule(rate=0.01, seed=3), 20000)
    assert first == drawn(FaultSchedule(rate=0.01, seed=3), 20000)
    faults = [name for name in first if name]
    assert 150 < len(faults) < 250 and set(faults) == set(TRANSIENT)


@pytest.mark.parametrize(
    "spec, message",
    [
        ("504,nope", "unknown fault 'nope'"),
        ("503*,ok", "must be the last entry"),
        ("503*x", "whole number"),
        ("503*\u0663", "whole number"),
        ("ok*200000", "at most"),
    ],
)
def test_bad_plans_are_refused_with_a_reason(spec, message):
    with pytest.raises(ValueError, match=message):
        FaultSchedule.parse(spec)


def test_every_fault_has_an_injector_and_a_description():
    for name in FAULTS:
        assert FaultSchedule.parse(name).next_fault() == name


def test_the_simulator_command_injects_a_fault_plan_the_cli_goes_through(corpus):
    server = subprocess.Popen(
        [SCRIPT, "simulator", "--port", "0", "--token", "tok", "--samples", "10", "--faults", "503,500"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = server.stdout.readline().split()[-1]
        env = {"SPECTRA_ANALYZE_URL": url, "SPECTRA_ANALYZE_TOKEN": "tok"}
        sha1 = corpus.samples[0]["sha1"]
        done = cli("get-report", sha1, env=env)  # 503, retried, then 500: not retried
        assert done.returncode == 1 and json.loads(done.stdout)["rl_status"] == "error"
        assert "server error (HTTP 500" in done.stderr
        done = cli("get-report", sha1, env=env)  # the plan is over: a normal answer
        assert done.returncode == 0 and json.loads(done.stdout)["rl_status"] == "found"
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_the_simulator_command_refuses_a_bad_plan():
    done = cli("simulator", "--port", "0", "--token", "tok", "--faults", "503,teapot")
    assert done.returncode == 2 and "--faults: unknown fault 'teapot'" in done.stderr
