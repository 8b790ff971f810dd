"""splunkd's side of the chunked search command protocol (SCP v2), to drive a
custom search command of an unpacked app exactly as splunkd does: a
subprocess, framed messages on its stdin and stdout, CSV bodies with
``__mv_`` companions for multivalue fields.

    run = run_command(app_dir, python, ["field=sha1"], [chunk1, chunk2],
                      splunkd_uri, session_key)
    run.getinfo          # the command's answer to getinfo
    run.chunks           # one Chunk (metadata, fieldnames, records) per chunk sent
    run.records          # every record of every chunk, in order
    run.messages         # every (level, text) of the job inspector

A record is a dict of field name to a string or, for a multivalue field, a
list of strings. After the given chunks the driver sends the final
``finished`` chunk (empty), as splunkd does.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional, Union
from urllib.parse import quote

Value = Union[str, list[str]]
Record = dict[str, Value]
_HEADER = re.compile(rb"chunked 1\.0,(\d+),(\d+)\n")


class ProtocolError(AssertionError):
    """The command broke the protocol or died; carries its stderr."""


@dataclass
class Chunk:
    metadata: dict[str, Any]
    data: bytes  # the body as sent; decoded on first use, out of a benchmark's timed exchange

    @property
    def body(self) -> str:
        if "_body" not in self.__dict__:
            self.__dict__["_body"] = self.data.decode("utf-8")
        return self.__dict__["_body"]

    @property
    def fieldnames(self) -> list[str]:
        return self._decoded[0]

    @property
    def records(self) -> list[Record]:
        return self._decoded[1]

    @property
    def _decoded(self) -> tuple[list[str], list[Record]]:
        if "_cells" not in self.__dict__:
            self.__dict__["_cells"] = decode_records(self.body)
        return self.__dict__["_cells"]

    @property
    def messages(self) -> list[tuple[str, str]]:
        return [tuple(message) for message in (self.metadata.get("inspector") or {}).get("messages", [])]


@dataclass
class CommandRun:
    getinfo: dict[str, Any]
    chunks: list[Chunk]
    returncode: int
    stderr: str
    trailing: list[Chunk] = field(default_factory=list)  # what came after a refused getinfo
    usage: Any = None  # the command process's own resource usage (os.wait4)
    peak_rss_kb: Optional[int] = None  # its peak resident memory, where /proc tells
    answered_at: float = 0.0  # time.perf_counter() when the final reply had been read

    @property
    def records(self) -> list[Record]:
        return [record for chunk in self.chunks for record in chunk.records]

    @property
    def messages(self) -> list[tuple[str, str]]:
        getinfo = [tuple(m) for m in (self.getinfo.get("inspector") or {}).get("messages", [])]
        return getinfo + [m for chunk in self.chunks + self.trailing for m in chunk.messages]

    def messages_of(self, level: str) -> list[str]:
        return [text for kind, text in self.messages if kind == level]


def run_command(
    app_dir: Path,
    python: str,
    args: Sequence[str],
    chunks: Iterable[Union[str, Sequence[Mapping[str, Value]]]],
    splunkd_uri: str,
    session_key: str,
    *,
    command: str = "spectraanalyze",
    splunk_home: Optional[Path] = None,
    dispatch_dir: Optional[Path] = None,
    chunked_idx: bool = True,
    execute: bool = True,
    timeout: float = 120,
    on_reply: Optional[Callable[[Chunk], None]] = None,
    maxresultrows: int = 50000,
) -> CommandRun:
    """Run ``app_dir/bin/<command>.py`` under ``python`` through one search:
    getinfo, then each chunk, then the final chunk. ``SPLUNK_HOME`` defaults
    to the folder that holds ``etc/apps/<app>``. With ``execute=False`` the
    driver stops after getinfo, as splunkd does when it only asks a command
    for its configuration. A chunk may be given already encoded (a CSV body);
    ``on_reply`` takes each reply to an execute chunk instead of keeping it
    (a benchmark of a million events keeps none)."""
    splunk_home = splunk_home or app_dir.parent.parent.parent
    dispatch_dir = dispatch_dir or splunk_home / "var" / "run" / "splunk" / "dispatch" / "scp-test"
    dispatch_dir.mkdir(parents=True, exist_ok=True)
    stderr_path = dispatch_dir / f"{command}.stderr"
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "SPLUNK_HOME": str(splunk_home), "LANG": "C.UTF-8"}
    with open(stderr_path, "wb") as stderr:
        process = subprocess.Popen(
            [python, str(app_dir / "bin" / f"{command}.py")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            cwd=str(dispatch_dir),
            env=env,
        )
    watchdog = threading.Timer(timeout, process.kill)
    watchdog.start()
    try:
        conversation = _Conversation(process, stderr_path)
        getinfo = {
            "action": "getinfo",
            "preview": False,
            "searchinfo": _searchinfo(app_dir, command, args, splunkd_uri, session_key, dispatch_dir, maxresultrows),
        }
        reply = conversation.exchange(getinfo, "")
        answered_at = time.perf_counter()
        answers, trailing = [], []
        if not execute or any(level == "ERROR" for level, _ in Chunk(reply.metadata, b"").messages):
            trailing = conversation.drain()  # splunkd stops here
        else:
            keep = on_reply or answers.append
            for records in chunks:
                body = records if isinstance(records, str) else encode_records(records, chunked_idx)
                keep(conversation.exchange({"action": "execute", "finished": False}, body))
            answers.append(conversation.exchange({"action": "execute", "finished": True}, ""))
        answered_at = time.perf_counter()
        peak = peak_rss_kb(process.pid)  # while it lives: a process's rusage counts its parent's memory too
        process.stdin.close()
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = returncode = os.waitstatus_to_exitcode(status)
    finally:
        watchdog.cancel()
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stdout.close()
    return CommandRun(
        getinfo=reply.metadata,
        chunks=answers,
        returncode=returncode,
        stderr=stderr_path.read_text(errors="replace"),
        trailing=trailing,
        usage=usage,
        peak_rss_kb=peak,
        answered_at=answered_at,
    )


def peak_rss_kb(pid: Union[int, str] = "self") -> Optional[int]:
    """A live process's peak resident memory (VmHWM) in KB, on Linux.
    ``ru_maxrss`` will not do for a child: it includes the memory of the
    parent it was forked from."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def _searchinfo(
    app_dir: Path,
    command: str,
    args: Sequence[str],
    splunkd_uri: str,
    session_key: str,
    dispatch_dir: Path,
    maxresultrows: int = 50000,
) -> dict[str, Any]:
    search = f"search index=main | {command} {' '.join(args)}"
    return {
        "args": list(args),
        "raw_args": list(args),
        "dispatch_dir": str(dispatch_dir),
        "sid": dispatch_dir.name,
        "app": "search",
        "owner": "analyst",
        "username": "analyst",
        "session_key": session_key,
        "splunkd_uri": splunkd_uri,
        "splunk_version": "9.2.1",
        "search": quote(search),
        "command": command,
        "maxresultrows": maxresultrows,
        "earliest_time": "0",
        "latest_time": "0",
    }


class _Conversation:
    def __init__(self, process: subprocess.Popen, stderr_path: Path) -> None:
        self._process = process
        self._stderr_path = stderr_path

    def exchange(self, metadata: Mapping[str, Any], body: str) -> Chunk:
        data = body.encode("utf-8")
        meta = json.dumps(metadata).encode("utf-8")
        try:
            self._process.stdin.write(b"chunked 1.0,%d,%d\n" % (len(meta), len(data)) + meta + data)
            self._process.stdin.flush()
        except BrokenPipeError:
            self._fail("the command exited before reading a chunk")
        chunk = self.read()
        if chunk is None:
            self._fail("the command exited without answering a chunk")
        return chunk

    def read(self) -> Optional[Chunk]:
        header = self._process.stdout.readline()
        if not header:
            return None
        match = _HEADER.fullmatch(header)
        if not match:
            self._fail(f"not a chunk header: {header[:200]!r}")
        meta_length, body_length = int(match.group(1)), int(match.group(2))
        metadata = json.loads(self._read_exactly(meta_length).decode("utf-8"))
        return Chunk(metadata, self._read_exactly(body_length))

    def drain(self) -> list[Chunk]:
        self._process.stdin.close()
        chunks = []
        while True:
            chunk = self.read()
            if chunk is None:
                return chunks
            chunks.append(chunk)

    def _read_exactly(self, length: int) -> bytes:
        data = self._process.stdout.read(length) if length else b""
        if len(data) != length:
            self._fail(f"the chunk ended after {len(data)} of {length} bytes")
        return data

    def _fail(self, message: str) -> None:
        self._process.kill()
        self._process.wait()
        raise ProtocolError(f"{message}; stderr:\n{self._stderr_path.read_text(errors='replace')[-4000:]}")


def encode_records(records: Sequence[Mapping[str, Value]], chunked_idx: bool = True) -> str:
    """A CSV body as splunkd writes it: every field, and a ``__mv_<field>``
    column for each field that is multivalue in some record (``$a$;$b$``)."""
    if not records:
        return ""
    names: dict[str, None] = {}
    for record in records:
        names.update(dict.fromkeys(record))
    multivalue = {name for name in names if any(isinstance(record.get(name), list) for record in records)}
    header = []
    for name in names:
        header.append(name)
        if name in multivalue:
            header.append("__mv_" + name)
    if chunked_idx:
        header.append("_chunked_idx")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    for index, record in enumerate(records):
        row = []
        for name in names:
            value = record.get(name)
            values = value if isinstance(value, list) else None
            row.append("\n".join(values) if values is not None else (value or ""))
            if name in multivalue:
                row.append(";".join("$" + item.replace("$", "$$") + "$" for item in values) if values else "")
        if chunked_idx:
            row.append(str(index))
        writer.writerow(row)
    return out.getvalue()


def decode_records(body: str) -> tuple[list[str], list[Record]]:
    """Field names (without ``__mv_`` columns) and records of a CSV body; a
    non-empty ``__mv_`` value makes its field a list."""
    if not body:
        return [], []
    rows = list(csv.reader(io.StringIO(body)))
    header, rows = rows[0], rows[1:]
    names = [name for name in header if not name.startswith("__mv_")]
    records = []
    for row in rows:
        cells = dict(zip(header, row))
        record: Record = {}
        for name in names:
            encoded = cells.get("__mv_" + name, "")
            record[name] = _decode_multivalue(encoded) if encoded else cells.get(name, "")
        records.append(record)
    return names, records


def _decode_multivalue(encoded: str) -> list[str]:
    return [item.replace("$$", "$") for item in re.findall(r"\$((?:\$\$|[^$])*)\$(?:;|$)", encoded)]
