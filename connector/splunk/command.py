"""``| spectraanalyze field=<hash field> ...``: the splunklib adapter.

A streaming command that stays on the search head (``distributed=False``,
SCP v2 type ``stateful``), where the API token is. ``prepare`` parses the
options and does no I/O beyond opening the log file: splunkd starts the
command several times just to ask for its configuration. The settings,
the token and the client come with the first chunk of events.

Messages the user sees in the job inspector: a bad option stops the search
with one error; a configuration error (no token, refused token, bad URL)
gives one error and every event comes out with rl_status=error; failed
lookups give one warning per search, however many chunks they touch.
"""

from __future__ import annotations

import csv
import io
import logging
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any, Callable, Optional

from splunklib.searchcommands import Configuration, Option, StreamingCommand, dispatch, environment
from splunklib.searchcommands.internals import CsvDialect, RecordWriterV2

from ..client import SpectraAnalyzeClient
from ..errors import AuthenticationError, ConfigurationError, InputError
from ..service import LookupService
from .accounts import Appliance, choose, connection_settings
from .chunk import MULTIVALUE, Body, Chunk, CsvText, Layout, OutputColumns, field_value
from .conf import appliance_config
from .credentials import REPLACE_HINT, read_token
from .enrich import ChunkOutcome, EventEnricher
from .kvstore import KVStoreError, Splunkd, open_store
from .logs import SecretFilter, setup_logging
from .options import CommandOptions, parse_options
from .pipes import widen_pipes
from .ucc import PAGE_HINT

NAME = "spectraanalyze"
log = logging.getLogger("spectra_analyze.command")


@Configuration(distributed=False)
class SpectraAnalyzeCommand(StreamingCommand):
    """Adds ReversingLabs Spectra Analyze verdicts to events (syntax: ``options.SYNTAX``)."""

    field = Option(doc="The field holding the hash (MD5, SHA1, SHA256 or SHA512); may be multivalue.")
    action = Option(doc="report (default) or summary (adds the threat indicator summary).")
    fields = Option(doc="Comma separated report fields to ask the appliance for.")
    prefix = Option(doc="Prefix of the output fields (default rl_).")
    skip_reanalysis = Option(doc="false lets the appliance reanalyze old samples (default true).")
    batch_size = Option(doc="Hashes per request, 1-1000 (default: the appliance's batch size).")
    appliance = Option(
        doc="The appliance to ask, by its name on the configuration page (default: the default appliance)."
    )

    def __init__(self) -> None:
        super().__init__()
        self._secrets = SecretFilter()
        setup_logging(self._secrets)
        self._options: Optional[CommandOptions] = None
        self._enricher: Optional[EventEnricher] = None
        self._appliance: Optional[Appliance] = None
        self._token: Optional[str] = None  # once _connect has read it: the KV store's seal
        self._reported_failure = False
        self._warned = False
        self._store_warned = False
        self._events = 0
        self._chunks = 0
        self._csv = CsvText(CsvDialect)  # splunklib's dialect
        self._columns: dict[tuple[tuple[str, ...], tuple[str, ...]], OutputColumns] = {}

    @property
    def app_dir(self) -> Path:
        return Path(environment.app_root)

    def prepare(self) -> None:
        self._secrets.add(getattr(self.metadata.searchinfo, "session_key", None))
        raw = {
            name: getattr(self, name)
            for name in ("field", "action", "fields", "prefix", "skip_reanalysis", "batch_size", "appliance")
        }
        try:
            self._options = parse_options(raw, self.fieldnames)
        except InputError as err:
            self._tell(self.write_error, str(err))
            log.warning("bad options: %s", err)
            sys.exit(1)

    def stream(self, records: Iterable[dict]) -> Iterable[dict]:
        """splunklib requires this override, yet calls it only on SCP v1,
        which the app never speaks (``chunked = true`` in commands.conf)."""
        raise NotImplementedError("spectraanalyze speaks SCP v2 only (chunked = true)")

    def _execute_chunk_v2(self, process: Any, chunk: tuple[Any, str]) -> None:
        """One chunk of events, on the fast path of ``chunk.py`` instead of
        splunklib's ``OrderedDict`` per event (``process``, the ``stream``
        splunklib would call, is not needed). splunklib still speaks the
        protocol (getinfo, chunk headers, messages, finishing)."""
        started = time.monotonic()
        events = Chunk.read(chunk[1], CsvDialect)
        enricher = self._enricher or self._start()
        assert self._options is not None  # prepare() ran
        keys = events.keys(self._options.field)
        distinct = list(dict.fromkeys(keys))
        outputs, outcome = enricher.enrich([field_value(key, self._decode_list) for key in distinct], events=len(keys))
        if keys:
            layout = Layout(events.header, self._output_columns(enricher.keys, outcome.multivalue), self._csv)
            _write_rows(self._record_writer, layout, layout.body(events, keys, dict(zip(distinct, outputs))), len(keys))
        self._chunks += 1
        self._events += len(keys)
        self._report(outcome, time.monotonic() - started)
        if self._finished:
            self._finish()

    def _start(self) -> EventEnricher:
        assert self._options is not None  # prepare() ran
        failure, memo_size, store, kind, appliance = None, 0, None, "", None
        try:
            appliance = choose(self.app_dir, self._options.appliance)
            settings = appliance.settings
            logging.getLogger().setLevel(settings.log_level)
            memo_size = settings.memo_size
            store, kind = open_store(settings, self.app_dir, self._splunkd(), lambda: self._token)
        except ConfigurationError as err:
            failure = err
        self._appliance = appliance
        lookups = LookupService(self._connect, store=store, failure=failure)
        self._enricher = EventEnricher(self._options, lookups, self._render, memo_size=memo_size)
        log.info(
            "search %s: field=%s prefix=%s summary=%s cache=%s appliance=%s",
            self._sid,
            self._options.field,
            self._options.prefix,
            self._options.with_summary,
            kind or "none",
            appliance.name if appliance else self._options.appliance,
        )
        return self._enricher

    def _splunkd(self) -> Optional[Splunkd]:
        """splunkd's REST API with the search's own session, for the KV store."""
        info = self.metadata.searchinfo
        try:
            return Splunkd(info.splunkd_uri, info.session_key, self.app_dir.name)
        except (AttributeError, KVStoreError) as err:
            log.warning("search %s: no splunkd session for the KV store: %s", self._sid, err)
            return None

    def _render(self, record: dict, keys: Sequence[str], multivalue: Sequence[str]) -> str:
        """A record's output cells, as ``_output_columns`` lays them out."""
        return self._csv.record(record, self._output_columns(keys, multivalue))

    def _output_columns(self, keys: Sequence[str], multivalue: Sequence[str]) -> OutputColumns:
        """The output columns for ``keys``, an ``__mv_`` column only for
        those that may hold several values (one layout or two a search)."""
        known = (tuple(keys), tuple(multivalue))
        if known not in self._columns:
            assert self._options is not None  # prepare() ran
            self._columns[known] = OutputColumns([self._options.prefix + key for key in keys], keys, multivalue)
        return self._columns[known]

    def _connect(self) -> SpectraAnalyzeClient:
        """The client for this search: the appliance's settings, plus its token
        and the proxy's password read through the search's session. Raises
        ``ConfigurationError``."""
        assert self._options is not None  # _start() read them, or the lookups fail before connecting
        appliance = self._appliance
        assert appliance is not None  # _start() chose it, or the lookups fail before connecting
        values = connection_settings(
            appliance, self._splunkd(), lambda: read_token(self.service, self.app_dir.name), self.app_dir
        )
        self._secrets.add(values["token"])
        self._secrets.add(values.get("proxy"))
        self._token = values["token"]
        config = appliance_config(values, self.app_dir)
        if self._options.batch_size:
            config = replace(config, batch_size=self._options.batch_size)
        if not config.verify_tls:
            self._tell(
                self.write_warning,
                f"{appliance.describe()} has verify_tls = false (Verify TLS unticked): its "
                "certificate is not checked, so anyone on the network path can read the "
                "API token",
            )
        log.info(
            "search %s: appliance %s at %s, batch_size=%d, max_connections=%d",
            self._sid,
            appliance.name,
            config.url,
            config.batch_size,
            config.max_connections,
        )
        return SpectraAnalyzeClient(config)

    def _report(self, outcome: ChunkOutcome, elapsed: float) -> None:
        enricher = self._enricher
        assert enricher is not None  # the chunk started it
        log.info(
            "search %s chunk %d: %d events, %d distinct hashes, %d remembered, %d looked up, %d errors, %.3fs",
            self._sid,
            self._chunks,
            outcome.events,
            outcome.hashes,
            outcome.memo_hits,
            outcome.looked_up,
            outcome.failed,
            elapsed,
        )
        if enricher.failure and not self._reported_failure:
            self._reported_failure = True
            log.error("search %s: %s", self._sid, enricher.failure)
            hint = ""
            if isinstance(enricher.failure, AuthenticationError):
                hint = f"; {self._replace_hint()}"
            self._tell(self.write_error, f"{enricher.failure}{hint}. Events with a hash have rl_status=error.")
        trouble = getattr(enricher.lookups.store, "trouble", None)
        if trouble and not self._store_warned:
            self._store_warned = True
            self._tell(self.write_warning, trouble)
        if outcome.errors:
            log.warning("search %s chunk %d: lookups failed: %s", self._sid, self._chunks, "; ".join(outcome.errors))
            if not self._warned:
                self._warned = True
                self._tell(
                    self.write_warning,
                    "some lookups failed, so their events have rl_status=error (reason in "
                    f"rl_error): {outcome.errors[0]}",
                )

    def _finish(self) -> None:
        enricher = self._enricher
        assert enricher is not None and self._options is not None  # a chunk came first
        if self._events and not enricher.hash_seen:
            self._tell(
                self.write_warning,
                f"none of the {self._events} events has a value in the field "
                f"{self._options.field!r}; check the field name",
            )
        requests = enricher.lookups.requests
        log.info(
            "search %s done: %d events in %d chunks, %d distinct hashes remembered, %d requests attempted, "
            "%d answered, %d answers from the cache",
            self._sid,
            self._events,
            self._chunks,
            len(enricher.memo),
            requests.attempted,
            requests.answered,
            enricher.lookups.kept,
        )
        enricher.close()

    def _replace_hint(self) -> str:
        appliance = self._appliance
        if appliance is None or appliance.legacy:
            return REPLACE_HINT.format(app=self.app_dir.name)
        return f"replace the API token of {appliance.describe()} on the app's configuration page ({PAGE_HINT})"

    @staticmethod
    def _tell(write: Callable[..., None], text: str) -> None:
        """A message in the job inspector. splunklib runs str.format on the
        message, so the text goes in as an argument: braces stay as they are."""
        write("{}", f"{NAME}: {text}")

    @property
    def _sid(self) -> Any:
        return getattr(self.metadata.searchinfo, "sid", None)


def _write_rows(writer: Any, layout: Layout, body: Body, count: int) -> None:
    """Put a chunk's rows in splunklib's record writer as its own
    ``write_records`` would leave it: the chunk's ``body`` (the header line
    and the rows' lines) in the buffer it sends, for ``_write_chunk`` to
    write; the field names it takes as the header written; the count it adds
    to the records it has written.

    These are splunklib's private attributes (``_buffer``, ``_writer``,
    ``_writerow``, ``_fieldnames``, ``_pending_record_count``,
    ``_write_chunk``), relied on only because splunklib is pinned (3.0.1,
    ``vendor.txt``) and ships inside the app: tests/test_splunk_fastpath.py
    fails when a splunklib release changes any of the code this stands in
    for. splunklib's ``maxresultrows`` check needs no counterpart: on SCP v2
    its partial flush writes nothing (the protocol has no partial chunks), so
    every record of a chunk goes out in the chunk's one reply."""
    writer._buffer = _PendingBody(body)
    writer._writer = csv.writer(writer._buffer, dialect=CsvDialect)  # as splunklib's constructor points it
    writer._writerow = writer._writer.writerow
    writer._fieldnames = [name for name in layout.header if not name.startswith(MULTIVALUE)]
    writer._pending_record_count += count
    writer._write_chunk = partial(_write_chunk, writer)


class _PendingBody(io.StringIO):
    """splunklib's record writer's buffer, holding a chunk's ``Body`` for
    ``_write_chunk``; splunklib's ``_clear`` (``seek(0)``, ``truncate()``)
    lets it go."""

    def __init__(self, body: Body) -> None:
        super().__init__()
        self.body: Optional[Body] = body

    def truncate(self, size: Optional[int] = None) -> int:
        self.body = None
        return super().truncate(size)


def _write_chunk(writer: Any, metadata: list[tuple[str, Any]], text: str) -> None:
    """splunklib's ``RecordWriterV2._write_chunk``, but for a chunk whose
    rows are a pending ``Body``: the same chunk header (``chunked 1.0,``
    the metadata's size, the body's size) and metadata, then the body a
    block at a time. splunklib encodes the body whole, tens of megabytes of
    new memory twice over for each chunk. Its other chunks (getinfo's, the
    last one) go through splunklib as they are."""
    body = getattr(writer._buffer, "body", None)
    if body is None:
        RecordWriterV2._write_chunk(writer, metadata, text)
        return
    assert not text, "a chunk's rows are its Body alone"  # _execute_chunk_v2 writes no record through splunklib
    encoded = "".join(writer._iterencode_json({name: value for name, value in metadata if value is not None}, 0))
    meta = encoded.encode("utf-8")
    writer.write(f"chunked 1.0,{len(meta)},{body.size}\n".encode())
    writer.write(meta)
    body.write(writer.write)
    writer.ofile.flush()
    writer._flushed = True


def main(argv: Optional[list] = None) -> None:
    """The app's entry point (``bin/spectraanalyze.py``)."""
    widen_pipes(sys.stdin.fileno(), sys.stdout.fileno())
    dispatch(SpectraAnalyzeCommand, argv or sys.argv, sys.stdin, sys.stdout, None)
