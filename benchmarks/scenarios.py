"""The benchmark's client-side scenarios, one per process so that the CPU
time and peak memory measured are the scenario's own.

``python -m benchmarks.scenarios NAME URL HASH_FILE`` with the token in
``$SPECTRA_ANALYZE_TOKEN`` prints one JSON line: the seconds the lookups took
(interpreter start-up left out), its peak memory and what was found.
"""
from __future__ import annotations

import json
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Dict, List

import requests
from scp import peak_rss_kb

from connector.client import LIST_PATH
from connector.config import Config
from connector.flatten import SOURCE_FIELDS
from connector.lookup import Question

# What get_report asks for: every scenario gets answers of the same size.
FIELDS = Question(fields=SOURCE_FIELDS).request_fields()
# The floor's request body, but for its hash_values (scenario (a1) sends it too).
FLOOR_REQUEST = {"fields": FIELDS, "skip_reanalysis": "true", "include_networkthreatintelligence": "false"}


def floor(url: str, token: str, hashes: List[str]) -> Dict[str, Any]:
    """The connector's batched requests with nothing else: bare requests and
    json.loads, the same batch size and number of connections."""
    defaults = Config(url=url, token=token)
    size, connections = defaults.batch_size, defaults.max_connections
    session = requests.Session()
    session.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=connections))
    headers = {"Authorization": f"Token {token}"}

    def ask(batch: List[str]) -> int:
        response = session.post(url + LIST_PATH, json=dict(FLOOR_REQUEST, hash_values=batch), headers=headers,
                                timeout=60)
        return len(json.loads(response.content)["results"])

    with ThreadPoolExecutor(connections) as pool:
        found = sum(pool.map(ask, [hashes[start:start + size] for start in range(0, len(hashes), size)]))
    return {"found": found, "not_found": len(hashes) - found}


def vendor_sdk(url: str, token: str, hashes: List[str]) -> Dict[str, Any]:
    """One hash per call, as the vendor's integrations use its SDK. retry=False:
    with the default the SDK waits 10 x 2 s for every hash it cannot find."""
    from ReversingLabs.SDK.a1000 import A1000
    from ReversingLabs.SDK.helper import RequestTimeoutError

    a1000 = A1000(host=url, token=token)
    found = not_found = 0
    for value in hashes:
        try:
            response = a1000.get_summary_report_v2(value, retry=False, fields=FIELDS, skip_reanalysis=True,
                                                   include_networkthreatintelligence=False)
        except RequestTimeoutError:  # how the SDK says "not on the appliance"
            not_found += 1
            continue
        found += len(response.json()["results"])
    return {"found": found, "not_found": not_found}


SCENARIOS: Dict[str, Callable[[str, str, List[str]], Dict[str, Any]]] = {"floor": floor, "sdk": vendor_sdk}


def main(argv: List[str]) -> int:
    name, url, hash_file = argv
    with open(hash_file, encoding="utf-8") as handle:
        hashes = handle.read().split()
    started = time.perf_counter()
    outcome = SCENARIOS[name](url, os.environ["SPECTRA_ANALYZE_TOKEN"], hashes)
    outcome["seconds"] = time.perf_counter() - started
    outcome["peak_rss_kb"] = peak_rss_kb()
    print(json.dumps(outcome))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
