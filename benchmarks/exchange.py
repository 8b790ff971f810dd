"""Scenario (a0): what SCP v2 alone costs, whatever a command does.

The same chunks as scenario (a) go through a command that does nothing but
answer each event with output cells of the same size as (a)'s, from one
fixed string: no lookup, no parsing beyond lines. Its seconds are what (a)
spends moving its events to and from splunkd at the least, and a command
cannot wait for the appliance meanwhile: splunkd sends a chunk only once
the command has answered the one before, and an answer needs its verdicts.
(Only the few milliseconds of reading the first chunk could overlap the
first requests.) So the floor's seconds plus these bound (a)'s seconds from
below, and c / (c + a0) bounds a/c from above.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Iterable, List, Tuple

from scp import run_command

COMMAND = "noop"
# The command, run as splunkd runs a command (its own process, stdin and
# stdout): standard library only, bytes in and out.
_SOURCE = '''
import fcntl
import json
import sys
from itertools import chain, repeat

stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
for pipe in (stdin, stdout):
    fcntl.fcntl(pipe.fileno(), 1031, 1 << 20)  # F_SETPIPE_SZ, as the Splunk command does
cells = b""


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
        width = int(metadata["searchinfo"]["args"][0].split("=")[1])
        cells = b"x" * (width - 1) + b","
        reply({"type": "stateful"})
        continue
    lines = body.split(b"\\r\\n")
    if lines and lines[-1] == b"":
        lines.pop()
    finished = {"finished": metadata.get("finished", False)}
    if lines:
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


def run(app: Path, python: str, chunks: List[str], cell_bytes: int) -> Tuple[float, Any, int]:
    """Seconds from the first chunk sent to the last answer read, each
    event answered with ``cell_bytes`` bytes of cells (its separator in);
    and the command's resource usage and peak RSS in KB."""
    started: List[float] = []

    def timed() -> Iterable[str]:
        started.append(time.perf_counter())
        yield from chunks

    done = run_command(app, python, [f"width={cell_bytes}"], timed(), "http://127.0.0.1:9", "-", command=COMMAND,
                       timeout=600, on_reply=lambda reply: None)
    if done.returncode != 0:
        raise SystemExit(f"the no-op command failed ({done.returncode}): {done.stderr[-2000:]}")
    return done.answered_at - started[0], done.usage, done.peak_rss_kb or 0
