"""The benchmark's client-side scenarios, one per process so that the CPU
time and peak memory measured are the scenario's own.

``python -m benchmarks.scenarios NAME URL HASH_FILE [FOLDER]`` with the token
in ``$SPECTRA_ANALYZE_TOKEN`` prints one JSON line: the seconds the work took
(interpreter start-up and imports left out), its peak memory and what was
found. The surfaces (the command line, the action runner, ``enrich``) run
in-process through the command line's own ``main``, writing to FOLDER/out
and keeping answers in FOLDER/cache: run again on the same FOLDER, they are
warm. ``floor-warm`` reads the reports a command line run left in FOLDER.
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable

import requests
from scp import peak_rss_kb

from connector.client import LIST_PATH
from connector.config import CACHE_FILE, Config
from connector.flatten import SOURCE_FIELDS
from connector.lookup import Question

# What get_report asks for: every scenario gets answers of the same size.
FIELDS = Question(fields=SOURCE_FIELDS).request_fields()
# The floor's request body, but for its hash_values (scenario (a1) sends it too).
FLOOR_REQUEST = {"fields": FIELDS, "skip_reanalysis": "true", "include_networkthreatintelligence": "false"}


def floor(url: str, token: str, hashes: list[str]) -> dict[str, Any]:
    """The connector's batched requests with nothing else: bare requests and
    json.loads, the same batch size and number of connections."""
    defaults = Config(url=url, token=token)
    size, connections = defaults.batch_size, defaults.max_connections
    session = requests.Session()
    session.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=connections))
    headers = {"Authorization": f"Token {token}"}

    def ask(batch: list[str]) -> int:
        response = session.post(
            url + LIST_PATH, json=dict(FLOOR_REQUEST, hash_values=batch), headers=headers, timeout=60
        )
        return len(json.loads(response.content)["results"])

    with ThreadPoolExecutor(connections) as pool:
        found = sum(pool.map(ask, [hashes[start : start + size] for start in range(0, len(hashes), size)]))
    return {"found": found, "not_found": len(hashes) - found}


def vendor_sdk(url: str, token: str, hashes: list[str]) -> dict[str, Any]:
    """One hash per call, as the vendor's integrations use its SDK. retry=False:
    with the default the SDK waits 10 x 2 s for every hash it cannot find."""
    from ReversingLabs.SDK.a1000 import A1000
    from ReversingLabs.SDK.helper import RequestTimeoutError

    a1000 = A1000(host=url, token=token)
    found = not_found = 0
    for value in hashes:
        try:
            response = a1000.get_summary_report_v2(
                value, retry=False, fields=FIELDS, skip_reanalysis=True, include_networkthreatintelligence=False
            )
        except RequestTimeoutError:  # how the SDK says "not on the appliance"
            not_found += 1
            continue
        found += len(response.json()["results"])
    return {"found": found, "not_found": not_found}


def floor_warm(folder: str) -> dict[str, Any]:
    """What a warm lookup cannot do without: ``json.loads`` of every report
    as the cache keeps it, and writing the lines the command line wrote."""
    with open(os.path.join(folder, "out"), encoding="utf-8") as written:
        lines = written.readlines()
    with sqlite3.connect(os.path.join(folder, "cache", CACHE_FILE)) as db:
        reports = [item for (item,) in db.execute("SELECT item FROM answers_v2 WHERE item IS NOT NULL")]
    started = time.perf_counter()
    with open(os.path.join(folder, "floor.jsonl"), "w", encoding="utf-8") as out:
        for report in reports:
            json.loads(report)
        out.writelines(lines)
    return {"seconds": time.perf_counter() - started, "found": len(reports)}


def surface(argv: Callable[[str, list[str], str], list[str]]) -> Callable[[str, str, list[str], str], dict[str, Any]]:
    """A scenario running ``spectra-connector`` with the arguments ``argv``
    makes of the appliance URL, the hashes and the scenario's folder."""

    def scenario(url: str, token: str, hashes: list[str], folder: str) -> dict[str, Any]:
        arguments = argv(url, hashes, folder)
        started = time.perf_counter()
        _cli(arguments, folder)
        seconds = time.perf_counter() - started
        with open(os.path.join(folder, "out"), encoding="utf-8") as written:
            lines = sum(1 for _ in written)
        return {"seconds": seconds, "lines": lines}

    return scenario


def _cli(argv: list[str], folder: str) -> None:
    """``spectra-connector ARGV`` in this process, standard output to ``folder/out``."""
    from connector.cli import main as cli

    with open(os.path.join(folder, "out"), "w", encoding="utf-8") as out:
        saved, sys.stdout = sys.stdout, out
        try:
            cli(argv)
        finally:
            sys.stdout = saved


def _lookup_flags(url: str, hashes: list[str], folder: str) -> list[str]:
    path = os.path.join(folder, "hashes.txt")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("\n".join(hashes))
    return ["--hash-file", path, "--url", url, "--cache-dir", os.path.join(folder, "cache")]


def _runner_args(url: str, hashes: list[str], folder: str) -> list[str]:
    params, config = os.path.join(folder, "params.json"), os.path.join(folder, "config.json")
    with open(params, "w", encoding="utf-8") as handle:
        json.dump({"hashes": hashes}, handle)
    with open(config, "w", encoding="utf-8") as handle:
        json.dump({"url": url}, handle)
    os.environ["XDG_CACHE_HOME"] = os.path.join(folder, "cache")
    return ["action", "get_report", "--params", "@" + params, "--config", "@" + config]


def _enrich_args(url: str, hashes: list[str], folder: str) -> list[str]:
    alerts = os.path.join(folder, "alerts.jsonl")
    with open(alerts, "w", encoding="utf-8") as handle:
        handle.writelines(
            json.dumps({"id": index, "file": {"hash": {"sha1": value}}}) + "\n" for index, value in enumerate(hashes)
        )
    return [
        "enrich",
        "--rules",
        str(RULES),
        "--input",
        alerts,
        "--no-progress",
        "--url",
        url,
        "--cache-dir",
        os.path.join(folder, "cache"),
    ]


def _get_report_args(url: str, hashes: list[str], folder: str) -> list[str]:
    return ["get-report", "--format", "jsonl", *_lookup_flags(url, hashes, folder)]


RULES = Path(__file__).resolve().parent.parent / "playbooks" / "rules" / "malware-triage.json"
CLIENTS: dict[str, Callable[[str, str, list[str]], dict[str, Any]]] = {"floor": floor, "sdk": vendor_sdk}
SURFACES: dict[str, Callable[[str, str, list[str], str], dict[str, Any]]] = {
    "cli": surface(_get_report_args),
    "runner": surface(_runner_args),
    "enrich": surface(_enrich_args),
}


def main(argv: list[str]) -> int:
    name, url, hash_file, *folder = argv
    with open(hash_file, encoding="utf-8") as handle:
        hashes = handle.read().split()
    import connector.cli  # noqa: F401  (imports are start-up, left out of the time)

    token = os.environ["SPECTRA_ANALYZE_TOKEN"]
    started = time.perf_counter()
    if name == "floor-warm":
        outcome = floor_warm(folder[0])
    elif name in SURFACES:
        outcome = SURFACES[name](url, token, hashes, folder[0])
    else:
        outcome = CLIENTS[name](url, token, hashes)
    outcome.setdefault("seconds", time.perf_counter() - started)
    outcome["peak_rss_kb"] = peak_rss_kb()
    print(json.dumps(outcome))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
