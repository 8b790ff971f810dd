"""Scenarios (a0) and (a1): what SCP v2 costs, whatever a command does; and
what the protocol plus the floor's lookups cost, however little else a
command does.

The same chunks as scenario (a) go through a command that answers each
event with output cells of the same size as (a)'s, from one fixed string:
no parsing beyond lines, no validation, no flattening, no cache.

- (a0) looks nothing up. Its seconds are what (a) spends moving its events
  to and from splunkd at the least.
- (a1) first looks up each chunk's hashes not asked before, exactly as the
  floor (c) does: bare requests and json.loads, the same batch size, body
  and number of connections (splunkd sends a chunk only once the command
  has answered the one before, and an answer needs its verdicts). Its
  seconds are what a command that did nothing but look up would take: c/a1
  is the a/c of such a command, measured.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Optional

from scp import run_command

COMMAND = "noop"
# The command, run as splunkd runs a command (its own process, stdin and
# stdout): bytes in and out, the standard library only but for (a1)'s
# requests (the Splunk app's copy).
_SOURCE = '''
import fcntl
import json
import sys
from concurrent.futures import ThreadPoolExecutor
from itertools import chain, repeat

stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
for pipe in (stdin, stdout):
    fcntl.fcntl(pipe.fileno(), 1031, 1 << 20)  # F_SETPIPE_SZ, as the Splunk command does
cells = b""
look_up = None


def floor_lookups(path):
    """(a1): the floor's requests for a chunk's hashes not asked before."""
    with open(path, encoding="utf-8") as handle:
        config = json.load(handle)
    sys.path.insert(0, config["lib"])  # the Splunk app's own requests
    import requests

    session = requests.Session()
    session.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=config["connections"]))
    headers = {"Authorization": "Token " + config["token"]}
    pool = ThreadPoolExecutor(config["connections"])
    size, asked = config["batch_size"], set()

    def ask(batch):
        body = dict(config["body"], hash_values=batch)
        response = session.post(config["url"], json=body, headers=headers, timeout=60)
        return len(json.loads(response.content)["results"])

    def chunk_lookups(header, lines):
        column = header.split(b",").index(config["field"].encode())
        values = [line.split(b",")[column].decode() for line in lines]
        new = [value for value in dict.fromkeys(values) if value not in asked]
        asked.update(new)
        return sum(pool.map(ask, [new[start:start + size] for start in range(0, len(new), size)]))

    return chunk_lookups


def reply(metadata, *body):
    meta = json.dumps(metadata).encode()
    stdout.write(b"chunked 1.0,%d,%d\\n" % (len(meta), sum(map(len, body))) + meta)
    for part in body:  # written as they are: no copy of tens of megabytes
        stdout.write(part)
    stdout.flush()


while True:
    header = stdin.readline()
    if not header:
        break
    meta_length, body_length = map(int, header.split(b",")[1:])
    metadata = json.loads(stdin.read(meta_length))
    body = stdin.read(body_length)
    if metadata["action"] == "getinfo":
        args = dict(arg.split("=", 1) for arg in metadata["searchinfo"]["args"])
        cells = b"x" * (int(args["width"]) - 1) + b","
        if "lookups" in args:
            look_up = floor_lookups(args["lookups"])
        reply({"type": "stateful"})
        continue
    lines = body.split(b"\\r\\n")
    if lines and lines[-1] == b"":
        lines.pop()
    finished = {"finished": metadata.get("finished", False)}
    if lines:
        if look_up is not None:
            look_up(lines[0], lines[1:])
        rows = chain.from_iterable(zip(repeat(cells), lines[1:], repeat(b"\\r\\n")))
        reply(finished, b"out," + lines[0] + b"\\r\\n", b"".join(rows))
    else:
        reply(finished)
'''


def install(work: Path) -> Path:
    """A folder laid out as an app, with the command in ``bin``."""
    app = work / "noop" / "etc" / "apps" / "noop"
    (app / "bin").mkdir(parents=True, exist_ok=True)
    (app / "bin" / f"{COMMAND}.py").write_text(_SOURCE, encoding="utf-8")
    return app


def run(
    app: Path, python: str, chunks: list[str], cell_bytes: int, lookups: Optional[Path] = None
) -> tuple[float, Any, int]:
    """Seconds from the first chunk sent to the last answer read, each
    event answered with ``cell_bytes`` bytes of cells (its separator in);
    and the command's resource usage and peak RSS in KB. With ``lookups``
    (a JSON file: url, token, batch_size, connections, body, field, lib),
    (a1): each chunk's new hashes are looked up first."""
    started: list[float] = []

    def timed() -> Iterable[str]:
        started.append(time.perf_counter())
        yield from chunks

    args = [f"width={cell_bytes}"] + ([f"lookups={lookups}"] if lookups else [])
    done = run_command(
        app, python, args, timed(), "http://127.0.0.1:9", "-", command=COMMAND, timeout=600, on_reply=lambda reply: None
    )
    if done.returncode != 0:
        raise SystemExit(f"the {COMMAND} command failed ({done.returncode}): {done.stderr[-2000:]}")
    return done.answered_at - started[0], done.usage, done.peak_rss_kb or 0
