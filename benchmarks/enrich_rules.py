"""Alert enrichment rules: windowed, batched lookups against one lookup per
alert, side by side in one run, on the embedded simulator with a fixed
latency per request; and the rules engine alone, given the answers.

    python benchmarks/enrich_rules.py [--alerts 1000] [--latency-ms 5]
"""

from __future__ import annotations

import argparse
import random
import secrets
import time
from pathlib import Path
from typing import Any

from connector.client import SpectraAnalyzeClient
from connector.config import Config
from connector.rules import AlertEnricher, apply_rules, hashes_in, load_rules
from connector.service import LookupService
from connector.simulator.corpus import Corpus
from connector.simulator.server import Simulator

RULES = Path(__file__).resolve().parent.parent / "playbooks" / "rules" / "malware-triage.json"


def alerts(corpus: Corpus, count: int, seed: int = 11) -> list[dict[str, Any]]:
    """One to three hashes an alert, drawn from a pool so that hashes repeat
    across alerts as they do in a SOC's queue; one alert in ten unknown."""
    rng = random.Random(seed)
    pool = rng.sample(corpus.hashes("sha1"), count // 2) + rng.sample(corpus.hashes("sha256"), count // 4)
    made = []
    for index in range(count):
        hashes = [rng.choice(pool) for _ in range(1 + index % 3)]
        if index % 10 == 0:
            hashes.append(f"{rng.getrandbits(160):040x}")
        made.append({"id": index, "severity": "low", "hashes": hashes})
    return made


def timed_enrichment(url: str, token: str, batch: list[dict[str, Any]], window: int) -> tuple[float, int]:
    rules = load_rules(RULES)
    with SpectraAnalyzeClient(Config(url=url, token=token)) as client:
        enricher = AlertEnricher(rules, LookupService(client))
        started = time.perf_counter()
        for start in range(0, len(batch), window):
            enricher.enrich(batch[start : start + window])
        return time.perf_counter() - started, enricher.stats.requests.attempted


def engine_only(batch: list[dict[str, Any]], url: str, token: str) -> tuple[float, int]:
    """Seconds for the pure step over every alert, the answers fetched beforehand."""
    rules = load_rules(RULES)
    wanted = {value for alert in batch for value in hashes_in(alert, rules.hash_fields)}
    with SpectraAnalyzeClient(Config(url=url, token=token)) as client:
        records = dict(zip(sorted(wanted), _records(client, sorted(wanted))))
    started = time.perf_counter()
    for alert in batch:
        apply_rules(alert, rules, records)
    return time.perf_counter() - started, len(batch)


def _records(client: SpectraAnalyzeClient, hashes: list[str]) -> list[dict[str, Any]]:
    from connector.actions import run_lookup

    return run_lookup("get_report", {"hashes": hashes}, client).records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=1000)
    parser.add_argument("--latency-ms", type=float, default=5.0)
    args = parser.parse_args()
    token = secrets.token_hex(16)
    corpus = Corpus(max(4000, args.alerts))
    batch = alerts(corpus, args.alerts)
    with Simulator(token, corpus=corpus, latency_ms=args.latency_ms) as server:
        windowed = timed_enrichment(server.url, token, batch, window=10000)
        per_alert = timed_enrichment(server.url, token, batch, window=1)
        engine_seconds, engine_alerts = engine_only(batch, server.url, token)
    print(
        f"SIMULATED appliance, {args.latency_ms:g} ms per request; {args.alerts} alerts, "
        f"{sum(len(alert['hashes']) for alert in batch)} hash occurrences, rules {RULES.name}"
    )
    print(f"{'mode':<28}{'requests':>10}{'seconds':>10}{'alerts/s':>12}")
    for label, (seconds, requests) in (("one window (enrich default)", windowed), ("one lookup per alert", per_alert)):
        print(f"{label:<28}{requests:>10}{seconds:>10.2f}{args.alerts / seconds:>12.0f}")
    print(f"{'rules engine alone':<28}{'-':>10}{engine_seconds:>10.2f}{engine_alerts / engine_seconds:>12.0f}")
    print(
        f"ratio per-alert/windowed: {per_alert[1] / windowed[1]:.0f}x the requests, "
        f"{per_alert[0] / windowed[0]:.1f}x the time"
    )


if __name__ == "__main__":
    main()
