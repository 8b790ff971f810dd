"""The answer cache, through real HTTP to the simulator: requests are counted
on the simulator's side."""

from __future__ import annotations

import gc
import json
import logging
import multiprocessing
import os
import random
import sqlite3
import time
from pathlib import Path

import pytest
from helpers import TOKEN, Clock, cli

from connector.actions import run_lookup
from connector.cache import KEY_FILE, ResultCache, open_cache
from connector.client import SpectraAnalyzeClient
from connector.config import CacheSettings, Config
from connector.errors import ConfigurationError
from connector.flatten import SOURCE_FIELDS
from connector.lookup import Question
from connector.retry import RetryPolicy
from connector.service import LookupService
from connector.simulator.server import ApiError, Simulator
from connector.validation import violation

MISSING = "0" * 40


class FaultySimulator(Simulator):
    """Answers 503 while ``failing``; breaks the report of ``corrupt`` hashes."""

    failing = False
    corrupt: tuple[str, ...] = ()

    def answer(self, path, headers, raw):
        if self.failing:
            raise ApiError(503, {"detail": "Service unavailable."})
        status, payload = super().answer(path, headers, raw)
        for item in payload.get("results", ()):
            if item.get("sha1") in self.corrupt:
                item["riskscore"] = "high"
        return status, payload


def cached_config(url: str, folder, **cache) -> Config:
    return Config(url=url, token=TOKEN, retry=RetryPolicy(max_attempts=1), cache=CacheSettings(str(folder), **cache))


def report(config: Config, hashes, action: str = "get_report", **params) -> list[dict]:
    with LookupService(SpectraAnalyzeClient(config), store=open_cache(config.cache)) as lookups:
        return run_lookup(action, dict(params, hashes=list(hashes)), lookups).records


def asked(simulator: Simulator, since: int) -> list[str]:
    """The hashes sent in the requests after the first ``since``."""
    return [value for body in list(simulator.bodies)[since:] for value in body["hash_values"]]


def stored(folder) -> list[tuple[str, str]]:
    with sqlite3.connect(str(folder / "answers.sqlite3")) as db:
        return db.execute("SELECT hash, status FROM answers_v2 ORDER BY stored_at, hash").fetchall()


def test_hits_make_no_requests(simulator, corpus, tmp_path):
    hashes = corpus.hashes("sha1")[:250] + [MISSING]
    config = cached_config(simulator.url, tmp_path)
    first = report(config, hashes)
    sent = simulator.requests_served
    assert sent == 3
    assert report(config, hashes) == first
    assert simulator.requests_served == sent
    assert [record["status"] for record in first].count("not_found") == 1


def test_only_the_missing_hashes_are_asked(simulator, corpus, tmp_path):
    config = cached_config(simulator.url, tmp_path)
    known, new = corpus.hashes("sha256")[:5], corpus.hashes("sha256")[5:8]
    report(config, known)
    before = len(simulator.bodies)
    records = report(config, new + known)
    assert asked(simulator, before) == new
    assert [record["sha256"] for record in records] == new + known


def test_every_answer_is_kept_when_the_last_batch_is_handed_over(simulator, corpus, tmp_path):
    """Answers are kept in groups, but the last round's as they arrive: the
    caller's answer never waits for a write after the last batch."""
    hashes = corpus.hashes("sha1")[:1200]  # 12 batches over 4 connections, far from a full group
    config = cached_config(simulator.url, tmp_path)
    handed = 0
    with LookupService(SpectraAnalyzeClient(config), store=open_cache(config.cache)) as lookups:
        for batch in lookups.answers(hashes, Question(fields=SOURCE_FIELDS)):
            handed += len(batch)
            kept = len(stored(tmp_path))
            assert kept < len(hashes) or handed == len(hashes)
        assert handed == kept == len(hashes)


def test_found_answers_expire_after_the_ttl(simulator, corpus, tmp_path):
    clock = Clock()
    config = cached_config(simulator.url, tmp_path, ttl=600, not_found_ttl=60)
    hashes = corpus.hashes("md5")[:3]
    with ResultCache(config.cache, clock=clock) as cache, SpectraAnalyzeClient(config) as client:
        run_lookup("get_report", {"hashes": hashes}, LookupService(client, store=cache))
        clock.now += 599
        run_lookup("get_report", {"hashes": hashes}, LookupService(client, store=cache))
        assert simulator.requests_served == 1
        clock.now += 2
        records = run_lookup("get_report", {"hashes": hashes}, LookupService(client, store=cache)).records
    assert simulator.requests_served == 2
    assert all(record["status"] == "found" for record in records)


def test_not_found_answers_expire_sooner(simulator, corpus, tmp_path):
    clock = Clock()
    config = cached_config(simulator.url, tmp_path, ttl=600, not_found_ttl=60)
    found = corpus.hashes("sha1")[0]
    with ResultCache(config.cache, clock=clock) as cache, SpectraAnalyzeClient(config) as client:
        first = run_lookup("get_report", {"hashes": [found, MISSING]}, LookupService(client, store=cache))
        clock.now += 61
        before = len(simulator.bodies)
        second = run_lookup("get_report", {"hashes": [found, MISSING]}, LookupService(client, store=cache))
    assert asked(simulator, before) == [MISSING]
    assert [r["status"] for r in first.records] == [r["status"] for r in second.records] == ["found", "not_found"]


def test_failed_batches_are_not_kept(corpus, tmp_path):
    hashes = corpus.hashes("sha1")[:4]
    with FaultySimulator(TOKEN, corpus=corpus) as simulator:
        config = cached_config(simulator.url, tmp_path)
        simulator.failing = True
        assert {r["status"] for r in report(config, hashes)} == {"error"}
        assert stored(tmp_path) == []
        simulator.failing = False
        before = len(simulator.bodies)
        assert {r["status"] for r in report(config, hashes)} == {"found"}
        assert asked(simulator, before) == hashes


def test_a_malformed_report_is_not_kept(corpus, tmp_path):
    hashes = corpus.hashes("sha1")[:4]
    with FaultySimulator(TOKEN, corpus=corpus) as simulator:
        simulator.corrupt = (hashes[1],)
        config = cached_config(simulator.url, tmp_path)
        assert [r["status"] for r in report(config, hashes)] == ["found", "error", "found", "found"]
        simulator.corrupt = ()
        before = len(simulator.bodies)
        assert [r["status"] for r in report(config, hashes)] == ["found"] * 4
        assert asked(simulator, before) == [hashes[1]]


def test_the_key_holds_the_appliance_and_the_question(simulator, corpus, tmp_path):
    hashes = corpus.hashes("sha1")[:2]
    config = cached_config(simulator.url, tmp_path)
    report(config, hashes)
    report(config, hashes, action="get_summary")
    report(config, hashes, skip_reanalysis="false")
    report(config, hashes, fields="classification,riskscore")
    assert simulator.requests_served == 4
    for variant in (
        {},
        {"action": "get_summary"},
        {"skip_reanalysis": "false"},
        {"fields": "classification,riskscore"},
    ):
        report(config, hashes, **variant)
    assert simulator.requests_served == 4
    with Simulator(TOKEN, corpus=corpus) as other:
        report(cached_config(other.url, tmp_path), hashes)
        assert other.requests_served == 1


def test_the_oldest_answers_go_first_past_the_size_bound(simulator, corpus, tmp_path):
    clock = Clock()
    config = cached_config(simulator.url, tmp_path, max_entries=10)
    hashes = corpus.hashes("sha1")[:15]
    with ResultCache(config.cache, clock=clock) as cache, SpectraAnalyzeClient(config) as client:
        for start in (0, 5, 10):
            clock.now += 1
            run_lookup("get_report", {"hashes": hashes[start : start + 5]}, LookupService(client, store=cache))
        assert sorted(value for value, _ in stored(tmp_path)) == sorted(hashes[5:])
        before = len(simulator.bodies)
        run_lookup("get_report", {"hashes": hashes[4:6]}, LookupService(client, store=cache))
    assert asked(simulator, before) == [hashes[4]]


def test_the_off_switch(simulator, corpus, tmp_path):
    config = Config.from_settings(
        {"url": simulator.url, "token": TOKEN, "cache_dir": str(tmp_path / "cache"), "cache": "false"}
    )
    assert config.cache is None
    report(config, corpus.hashes("sha1")[:3])
    report(config, corpus.hashes("sha1")[:3])
    assert simulator.requests_served == 2
    assert not (tmp_path / "cache").exists()


def test_settings_from_a_platform(tmp_path):
    config = Config.from_settings(
        {
            "url": "https://a1000.example.com",
            "token": TOKEN,
            "cache_dir": str(tmp_path),
            "cache_ttl": "7200",
            "cache_not_found_ttl": "",
            "cache_max_entries": "5000",
        }
    )
    assert config.cache == CacheSettings(str(tmp_path), ttl=7200, not_found_ttl=3600, max_entries=5000)
    assert Config.from_settings({"url": "https://a1000.example.com", "token": TOKEN}).cache is None
    with pytest.raises(ConfigurationError, match="cache_ttl"):
        Config.from_settings(
            {"url": "https://a1000.example.com", "token": TOKEN, "cache_dir": str(tmp_path), "cache_ttl": "a day"}
        )
    with pytest.raises(ConfigurationError, match="cache_max_entries"):
        Config.from_settings(
            {"url": "https://a1000.example.com", "token": TOKEN, "cache_dir": str(tmp_path), "cache_max_entries": "0"}
        )


def test_an_unreadable_cache_file_never_fails_a_lookup(simulator, corpus, tmp_path, caplog):
    (tmp_path / "answers.sqlite3").write_bytes(b"this is not a database" * 100)
    config = cached_config(simulator.url, tmp_path)
    with caplog.at_level(logging.WARNING, logger="connector.cache"):
        records = report(config, corpus.hashes("sha1")[:2])
    assert [r["status"] for r in records] == ["found", "found"]
    assert "delete the file" in caplog.text


def test_a_tampered_row_is_asked_again(simulator, corpus, tmp_path):
    hashes = corpus.hashes("sha1")[:2]
    config = cached_config(simulator.url, tmp_path)
    report(config, hashes)
    with sqlite3.connect(str(tmp_path / "answers.sqlite3")) as db:
        db.execute('UPDATE answers_v2 SET item = \'{"riskscore": "high"}\' WHERE hash = ?', (hashes[0],))
    before = len(simulator.bodies)
    records = report(config, hashes)
    assert asked(simulator, before) == [hashes[0]]
    assert records[0]["riskscore"] == corpus.find("sha1", hashes[0])["riskscore"]


def share_one_cache(url: str, folder: str, expected: dict[str, str], seed: int) -> list[str]:
    """In another process: lookups of random hash subsets through one cache
    file; returns what went wrong."""
    problems = []
    warnings = []
    handler = logging.Handler()
    handler.emit = warnings.append
    logging.getLogger("connector.cache").addHandler(handler)
    rng = random.Random(seed)
    config = cached_config(url, folder, max_entries=60)
    with LookupService(SpectraAnalyzeClient(config), store=open_cache(config.cache)) as lookups:
        for _ in range(15):
            hashes = rng.sample(sorted(expected), 40)
            for record in run_lookup("get_report", {"hashes": hashes}, lookups).records:
                if record["status"] != "found" or record["classification"] != expected[record["hash"]]:
                    problems.append(f"{record['hash']}: {record['status']} {record['error']}")
    return problems + [record.getMessage() for record in warnings]


def test_several_processes_share_one_file(simulator, corpus, tmp_path):
    expected = {sample["sha1"]: sample["classification"].lower() for sample in corpus.samples[:100]}
    context = multiprocessing.get_context("spawn")
    with context.Pool(4) as pool:
        outcomes = pool.starmap(share_one_cache, [(simulator.url, str(tmp_path), expected, seed) for seed in range(4)])
    assert outcomes == [[], [], [], []]
    with sqlite3.connect(str(tmp_path / "answers.sqlite3")) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert 40 <= db.execute("SELECT COUNT(*) FROM answers_v2").fetchone()[0] <= 60
    assert len(asked(simulator, 0)) < 4 * 15 * 40  # the processes answered each other's questions


@pytest.mark.slow
def test_the_cli_keeps_answers_in_the_user_cache_folder(simulator, corpus, tmp_path):
    env = {"SPECTRA_ANALYZE_URL": simulator.url, "SPECTRA_ANALYZE_TOKEN": TOKEN}
    hashes = [corpus.samples[0]["sha1"], MISSING]
    first = cli("get-report", *hashes, "--format", "jsonl", env=env)
    again = cli("get-report", *hashes, "--format", "jsonl", env=env)
    assert first.returncode == again.returncode == 0 and first.stdout == again.stdout
    assert simulator.requests_served == 1
    assert (Path(os.environ["XDG_CACHE_HOME"]) / "spectra-analyze-connector" / "answers.sqlite3").is_file()
    assert cli("get-report", *hashes, "--no-cache", env=env).returncode == 0
    assert simulator.requests_served == 2
    elsewhere = tmp_path / "elsewhere"
    assert cli("get-report", *hashes, "--cache-dir", str(elsewhere), env=env).returncode == 0
    assert simulator.requests_served == 3 and stored(elsewhere) != []


def test_count_and_clear_of_the_file(simulator, corpus, tmp_path):
    config = cached_config(simulator.url, tmp_path)
    report(config, corpus.hashes("sha1")[:3] + [MISSING])
    with ResultCache(config.cache) as cache:
        assert cache.count() == 4
        cache.clear()
        assert cache.count() == 0
    sent = simulator.requests_served
    report(config, [MISSING])
    assert simulator.requests_served == sent + 1  # cleared: asked again


def test_an_unreadable_cache_counts_nothing_and_clears_nothing(tmp_path, caplog):
    (tmp_path / "answers.sqlite3").write_bytes(b"this is not a database" * 100)
    with caplog.at_level(logging.WARNING, logger="connector.cache"), ResultCache(CacheSettings(str(tmp_path))) as cache:
        cache.clear()
        assert cache.count() == 0
    assert "delete the file" in caplog.text
    assert (tmp_path / "answers.sqlite3").read_bytes().startswith(b"this is not a database")


def cached_rows(folder) -> dict[str, tuple[str, str, float, str]]:
    """hash -> (status, item, stored_at, seal) of every row of the file."""
    with sqlite3.connect(str(folder / "answers.sqlite3")) as db:
        return {row[0]: row[1:] for row in db.execute("SELECT hash, status, item, stored_at, seal FROM answers_v2")}


def as_goodware(item: str) -> str:
    """The report with a clean verdict: valid JSON that passes the report schema."""
    report = json.loads(item)
    report.update(classification="goodware", riskscore=0, classification_result=None)
    assert violation("result-item", report) == ""  # the schema alone cannot tell it from the appliance's
    return json.dumps(report, separators=(",", ":"))


def tamper(folder, value: str, damage: str) -> None:
    """One row of the file changed as ``damage`` says."""
    status, item, stored_at, seal = cached_rows(folder)[value]
    changes = {
        "verdict": ("item", as_goodware(item)),
        "cut": ("item", item[: len(item) // 2]),
        "status": ("status", "not_found"),
        "kept longer": ("stored_at", stored_at + 86400),
        "seal": ("seal", "0" * 64),
        "seal not text": ("seal", b"\x00" * 32),
        "no seal": ("seal", ""),
    }
    column, changed = changes[damage]
    with sqlite3.connect(str(folder / "answers.sqlite3")) as db:
        db.execute(f"UPDATE answers_v2 SET {column} = ? WHERE hash = ?", (changed, value))


DAMAGES = ("verdict", "cut", "status", "kept longer", "seal", "seal not text", "no seal")


@pytest.mark.slow
@pytest.mark.parametrize("damage", DAMAGES)
def test_a_tampered_or_damaged_row_never_gives_its_verdict_through_the_cli(damage, simulator, corpus, tmp_path):
    env = {"SPECTRA_ANALYZE_URL": simulator.url, "SPECTRA_ANALYZE_TOKEN": TOKEN}
    malicious = [s["sha1"] for s in corpus.samples if s["classification"].lower() == "malicious"][:2]
    hashes = malicious + [corpus.samples[1]["sha256"], MISSING]
    lookup = ("get-report", *hashes, "--format", "jsonl", "--cache-dir", str(tmp_path))
    first = cli(*lookup, env=env)
    assert first.returncode == 0, first.stderr
    for value in malicious:
        tamper(tmp_path, value, damage)
    before = len(simulator.bodies)

    again = cli(*lookup, env=env)

    assert again.returncode == 0 and again.stdout == first.stdout  # the appliance's verdicts
    assert [json.loads(line)["rl_classification"] for line in again.stdout.splitlines()][:2] == ["malicious"] * 2
    assert asked(simulator, before) == malicious  # one request, for the two rows that did not verify
    assert again.stderr.count("failed their checksum") == 1 and "2 answer(s)" in again.stderr  # once a read
    sent = simulator.requests_served
    third = cli(*lookup, env=env)  # the rows were overwritten with the appliance's answers
    assert third.stdout == first.stdout and third.stderr == "" and simulator.requests_served == sent


def test_rows_kept_with_another_key_are_asked_again(simulator, corpus, tmp_path, caplog):
    hashes = corpus.hashes("sha1")[:3] + [MISSING]
    config = cached_config(simulator.url, tmp_path)
    first = report(config, hashes)
    key = tmp_path / KEY_FILE
    assert key.stat().st_size == 32 and (os.name != "posix" or key.stat().st_mode & 0o777 == 0o600)
    key.write_bytes(os.urandom(32))  # another key: the file copied from elsewhere, say
    before = len(simulator.bodies)
    with caplog.at_level(logging.WARNING, logger="connector.cache"):
        assert report(config, hashes) == first
    assert sorted(asked(simulator, before)) == sorted(hashes)
    assert "4 answer(s)" in caplog.text


def test_a_damaged_key_file_is_replaced_and_its_rows_asked_again(simulator, corpus, tmp_path, caplog):
    hashes = corpus.hashes("sha1")[:2]
    config = cached_config(simulator.url, tmp_path)
    first = report(config, hashes)
    (tmp_path / KEY_FILE).write_bytes(b"cut")
    before = len(simulator.bodies)
    with caplog.at_level(logging.WARNING, logger="connector.cache"):
        assert report(config, hashes) == first
    assert asked(simulator, before) == hashes and "is damaged" in caplog.text
    assert (tmp_path / KEY_FILE).stat().st_size == 32
    sent = simulator.requests_served
    assert report(config, hashes) == first and simulator.requests_served == sent


def test_answers_kept_before_the_seal_are_asked_again(simulator, corpus, tmp_path):
    hashes = corpus.hashes("sha1")[:2]
    sample = corpus.find("sha1", hashes[0])
    with sqlite3.connect(str(tmp_path / "answers.sqlite3")) as db:  # as version 1.1 left it, with a forged row
        db.execute(
            "CREATE TABLE answers_v1 (scope TEXT NOT NULL, hash TEXT NOT NULL, status TEXT NOT NULL, "
            "item TEXT, stored_at REAL NOT NULL, PRIMARY KEY (scope, hash))"
        )
        db.execute(
            "INSERT INTO answers_v1 VALUES (?, ?, ?, ?, ?)",
            ("x" * 32, hashes[0], "found", as_goodware(json.dumps(sample)), time.time()),
        )
    config = cached_config(simulator.url, tmp_path)
    records = report(config, hashes)
    assert asked(simulator, 0) == hashes
    assert records[0]["classification"] == sample["classification"].lower()
    with sqlite3.connect(str(tmp_path / "answers.sqlite3")) as db:
        tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert tables == {"answers_v2"}


def test_a_read_leaves_garbage_collection_as_it_found_it(simulator, corpus, tmp_path):
    config = cached_config(simulator.url, tmp_path)
    hashes = corpus.hashes("sha1")[:3]
    report(config, hashes)
    with ResultCache(config.cache) as cache:
        scope = next(iter(cached_scopes(tmp_path)))
        assert gc.isenabled() and len(cache.get(scope, hashes)) == 3 and gc.isenabled()
        gc.disable()
        try:
            assert len(cache.get(scope, hashes)) == 3 and not gc.isenabled()
        finally:
            gc.enable()
        cache._db.close()  # a read that fails
        assert cache.get(scope, hashes) == {} and gc.isenabled()


def cached_scopes(folder) -> list[str]:
    with sqlite3.connect(str(folder / "answers.sqlite3")) as db:
        return [scope for (scope,) in db.execute("SELECT DISTINCT scope FROM answers_v2")]
