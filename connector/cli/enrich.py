"""``enrich``: apply a rules file to JSON lines of alerts.

One output line per input line, in the same order, in UTF-8 (an input in
UTF-16 with a byte order mark is read as such). An alert the rules do not
touch (no hash) is written back byte for byte; a line that is not a JSON
object is reported with its number and passed through as it is, or stops
the run with ``--reject-malformed``.
"""

from __future__ import annotations

import argparse
import json
import os
import stat
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, BinaryIO, Optional, TextIO, cast

from ..cache import open_cache
from ..client import SpectraAnalyzeClient
from ..rules import AlertEnricher, load_rules
from ..service import LookupService
from ..text import encode_line
from ..textfiles import utf8_lines
from .common import EXIT_FAILED, EXIT_OK, Chunks, UsageError, add_connection_options, config_from

DEFAULT_WINDOW = 10000
MAX_REPORTED_LINES = 20


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "enrich",
        help="apply alert enrichment rules to JSON lines of alerts",
        description="Read alerts as JSON lines, look up the file hashes they carry (de-duplicated and batched "
        "over each window of alerts), apply the rules file and write the enriched alerts as JSON "
        "lines, one output line per input line, in the same order. A summary goes to stderr.",
    )
    parser.add_argument("--rules", required=True, metavar="FILE", help="the rules file (see schemas/rules.schema.json)")
    parser.add_argument(
        "--input", default="-", metavar="FILE", help="alerts, one JSON object a line (default -: stdin)"
    )
    parser.add_argument(
        "--output",
        default="-",
        metavar="FILE",
        help="where the enriched alerts go (default -: stdout); a file is replaced only when the run completes",
    )
    parser.add_argument(
        "--reject-malformed",
        action="store_true",
        help="stop at the first line that is not a JSON object (exit 2) instead of passing it through unchanged",
    )
    parser.add_argument(
        "--window",
        type=_positive,
        default=DEFAULT_WINDOW,
        metavar="N",
        help=f"alerts whose hashes are looked up together (default {DEFAULT_WINDOW})",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar, even at a terminal")
    add_connection_options(parser)
    parser.set_defaults(handler=handle)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected at least 1, got {value}")
    return value


@dataclass
class Line:
    """One input line: the alert it holds, or why it holds none."""

    number: int
    raw: bytes
    alert: Any = None
    problem: Optional[str] = None


def parse_line(number: int, raw: bytes) -> Line:
    text = raw.rstrip(b"\r\n")
    line = Line(number, text)
    if not text.strip():
        line.problem = "empty line"
        return line
    try:
        value = json.loads(text.decode("utf-8"))
    except UnicodeDecodeError:
        line.problem = "not UTF-8 text"
    except ValueError as err:
        # Not always a JSONDecodeError: an integer of too many digits is a plain ValueError.
        where = f"{err.msg} at column {err.colno}" if isinstance(err, json.JSONDecodeError) else str(err)
        line.problem = f"not JSON ({where})"
    else:
        if isinstance(value, dict):
            line.alert = value
        else:
            line.problem = f"a JSON {type(value).__name__ if value is not None else 'null'}, not an alert object"
    return line


def windows(stream: BinaryIO, size: int, progress: Optional[Progress] = None) -> Iterator[list[Line]]:
    window: list[Line] = []
    for number, raw in enumerate(utf8_lines(stream), 1):
        window.append(parse_line(number, raw))
        if progress:
            progress.read(_position(stream))
        if len(window) == size:
            yield window
            window = []
    if window:
        yield window


def handle(args: argparse.Namespace) -> int:
    rules = load_rules(args.rules)
    config = config_from(args)
    progress = Progress(sys.stderr) if sys.stderr.isatty() and not args.no_progress else None
    lookups = LookupService(SpectraAnalyzeClient(config), store=open_cache(config.cache))
    with _input(args.input) as source, _output(args.output) as sink, lookups:
        run = EnrichRun(AlertEnricher(rules, lookups), _name(args.input), args.reject_malformed, progress)
        if progress:
            progress.total = _size(source)
        for window in windows(source, args.window, progress):
            run.process(window, sink)
    return run.finish(sys.stderr)


class EnrichRun:
    """One run of ``enrich``: windows in, lines out, malformed lines counted."""

    def __init__(
        self, enricher: AlertEnricher, input_name: str, reject_malformed: bool, progress: Optional[Progress]
    ) -> None:
        self.enricher = enricher
        self.input_name = input_name
        self.reject_malformed = reject_malformed
        self.progress = progress
        self.malformed = 0

    def process(self, window: list[Line], sink: BinaryIO) -> None:
        """Enrich a window and write it: one line per input line, in order."""
        self._check(window)
        alerts = [line.alert for line in window if line.alert is not None]
        if self.progress:
            self.progress.note(f"looking up the hashes of {len(alerts)} alerts")
        # Lazily: each alert is enriched and written as its lookups arrive.
        enriched = self.enricher.enrich_stream(alerts)
        lines = Chunks(sink.write, b"\n")
        for line in window:
            lines.add(line.raw if line.alert is None else _encoded(line.alert, next(enriched), line.raw))
        lines.flush()
        if self.progress:
            self.progress.wrote(len(window))

    def _check(self, window: list[Line]) -> None:
        for line in window:
            if not line.problem:
                continue
            where = f"{self.input_name}: line {line.number}: {line.problem}"
            if self.reject_malformed:
                raise UsageError(f"{where}; the input is rejected (--reject-malformed)")
            self.malformed += 1
            if self.malformed <= MAX_REPORTED_LINES:
                if self.progress:
                    self.progress.clear()
                print(f"spectra-connector: enrich: {where}; passed through", file=sys.stderr)

    def finish(self, err: TextIO) -> int:
        """A warning for hash_fields paths no alert had, the fatal error if
        any, then the summary: always the last line, which scripts read. The
        exit status says whether every lookup succeeded."""
        if self.progress:
            self.progress.clear()
        stats, fatal = self.enricher.stats, self.enricher.fatal_error
        unreached = self.enricher.unreached_warning()
        if unreached:
            print(f"spectra-connector: enrich: warning: {unreached}", file=err)
        if fatal:
            print(f"spectra-connector: error: {fatal} (every hash counts as a failed lookup)", file=err)
        print(
            f"spectra-connector: enrich: {stats.describe()}; {self.malformed} malformed line(s) passed through",
            file=err,
        )
        return EXIT_FAILED if fatal or stats.failed_hashes else EXIT_OK


def _encoded(original: Any, enriched: Any, raw: bytes) -> bytes:
    """The alert as written: byte for byte when the rules left it alone."""
    if enriched is original:
        return raw
    return encode_line(enriched)


def _name(path: str) -> str:
    return "stdin" if path == "-" else path


def _position(stream: BinaryIO) -> Optional[int]:
    """Bytes read so far, as the file counts them: lines of a UTF-16 input
    are re-encoded, so their own lengths would not add up to its size."""
    try:
        return stream.tell()
    except (OSError, ValueError):
        return None


def _size(stream: BinaryIO) -> Optional[int]:
    try:
        status = os.fstat(stream.fileno())
    except (OSError, ValueError):
        return None
    return status.st_size if stat.S_ISREG(status.st_mode) and status.st_size else None


@contextmanager
def _input(path: str) -> Iterator[BinaryIO]:
    if path == "-":
        yield sys.stdin.buffer
        return
    try:
        handle = open(path, "rb")
    except OSError as err:
        raise UsageError(f"--input: cannot read {path}: {err.strerror}") from None
    with handle:
        yield handle


@contextmanager
def _output(path: str) -> Iterator[BinaryIO]:
    """Standard output, or a file that appears only when the run completes."""
    if path == "-":
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
        return
    folder = os.path.dirname(os.path.abspath(path))
    try:
        handle = tempfile.NamedTemporaryFile("wb", dir=folder, prefix=".enrich-", suffix=".partial", delete=False)
    except OSError as err:
        raise UsageError(f"--output: cannot write in {folder}: {err.strerror}") from None
    try:
        with handle:
            yield cast(BinaryIO, handle)
        os.chmod(handle.name, 0o666 & ~_umask())
        os.replace(handle.name, path)
    except BaseException:
        os.unlink(handle.name)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


class Progress:
    """A one-line progress bar on a terminal: share of the input read (when
    its size is known) and alerts written."""

    WIDTH = 30
    INTERVAL = 0.1

    def __init__(self, stream: TextIO, total: Optional[int] = None) -> None:
        self.stream = stream
        self.total = total
        self.done = 0
        self.written = 0
        self._shown = 0.0

    def read(self, position: Optional[int]) -> None:
        """Read up to ``position`` bytes into the input (None: not known)."""
        self.done = position or 0
        if time.monotonic() - self._shown >= self.INTERVAL:
            self.note("reading")

    def wrote(self, count: int) -> None:
        self.written += count
        self.note("writing")

    def note(self, what: str) -> None:
        self._shown = time.monotonic()
        if self.total:
            filled = min(self.WIDTH, self.WIDTH * self.done // self.total)
            bar = f"[{'#' * filled}{'.' * (self.WIDTH - filled)}] {100 * self.done // self.total:3d}% "
        else:
            bar = ""
        self.stream.write(f"\r\x1b[Kenrich {bar}{self.written} alerts written; {what}")
        self.stream.flush()

    def clear(self) -> None:
        self.stream.write("\r\x1b[K")
        self.stream.flush()
