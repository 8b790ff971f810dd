"""The ``spectra_analyze_enrich`` custom alert action: a rules file applied to
a triggered alert's results, the enriched results indexed as events.

splunkd runs ``bin/spectra_analyze_enrich.py --execute`` with a JSON payload
on stdin (``payload_format = json``): ``configuration`` holds the action's
parameters, ``results_file`` the alert's results (a gzip CSV),
``server_uri`` and ``session_key`` the alert's session. The appliance comes
from ``spectra_analyze.conf`` and its token from storage/passwords, read
through that session exactly as the search command reads them. The enriched
results go back through splunkd's REST receiver (``receivers/simple``).

Lines on stderr start with a level, as splunkd expects of alert actions; it
files them in splunkd.log (``index=_internal sendmodalert``). Exit status:
0 done (failed lookups are marked on the events, each rule's ``on_error``
decides, and a WARN line says so); 1 the appliance could not be used (the
events are written anyway, marked) or splunkd did not take every event (the
ERROR line says how many were written); 2 the action's parameters, the rules
file or the payload are wrong (nothing is written: the alert's results stay
in its search artifact).

Text is UTF-8 throughout, whatever the locale: the payload is read as bytes,
the events are sent as UTF-8 bytes (splunklib would send a ``str`` body as
Latin-1), the lines on stderr are UTF-8. Bytes of the results file that are
not UTF-8 are kept as ``\\xNN`` text, as Splunk itself shows bytes that do not
fit a source's CHARSET, and a WARN line says on how many lines.
"""

from __future__ import annotations

import csv
import gzip
import http.client
import io
import json
import logging
import re
import socket
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import (
    Any,
    BinaryIO,
    Callable,
    Optional,
    TextIO,
    cast,
)
from urllib.parse import urlsplit

from ..client import SpectraAnalyzeClient
from ..errors import ConfigurationError, SpectraAnalyzeError, excerpt
from ..rules import AlertEnricher, RulesError, RuleSet, load_rules
from ..service import LookupService
from ..text import encode_line
from .accounts import choose, connection_settings
from .conf import appliance_config
from .credentials import read_token
from .kvstore import KVStoreError, Splunkd, open_store
from .logs import SecretFilter, setup_logging

ACTION = "spectra_analyze_enrich"
PARAMETERS = ("rules_file", "index", "sourcetype", "appliance")
DEFAULT_SOURCETYPE = "spectra:enriched_alert"
SHIPPED_RULES = "splunk-triage.json"  # in the app's rules/ folder
RULES_FOLDERS = ("local/rules", "rules")  # an admin's own files first, then the shipped ones
WINDOW = 10000
MAX_POST_BYTES = 1024 * 1024
# splunklib waits forever by default; splunkd answers a 1 MB post in well under this.
SPLUNKD_TIMEOUT = 60
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
_RULES_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*\.json")
_INDEX_NAME = re.compile(r"[a-z0-9][a-z0-9_-]*")
_SOURCETYPE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_:.-]*")
# Fields that describe the original event: kept under orig_ so that they do
# not clash with the new event's own.
_RENAMED = {
    "_time": "orig_time",
    "_raw": "orig_raw",
    "host": "orig_host",
    "source": "orig_source",
    "sourcetype": "orig_sourcetype",
    "index": "orig_index",
}
log = logging.getLogger("spectra_analyze.alert_action")


class ActionError(SpectraAnalyzeError):
    """The action cannot run: bad parameters, payload or rules file (exit 2)."""


def main(argv: Sequence[str], stdin: TextIO, stderr: TextIO, app_dir: Path) -> int:
    """Run the action as splunkd does; returns the exit status."""
    secrets = SecretFilter()
    if setup_logging(secrets) is None:  # no log file: stderr carries the same lines already
        logging.getLogger().addHandler(logging.NullHandler())
    say = _Reporter(stderr)
    if list(argv[1:2]) != ["--execute"]:
        say("ERROR", f"{ACTION}: splunkd runs this script with --execute and a JSON payload on stdin")
        return EXIT_USAGE
    try:
        payload = read_payload(cast(BinaryIO, getattr(stdin, "buffer", stdin)))
        secrets.add(payload["session_key"])
        params = parse_parameters(payload.get("configuration") or {})
        rules = load_rules(rules_path(app_dir, params["rules_file"]))
        results, undecodable = read_results(payload["results_file"])
    except (ActionError, RulesError) as err:
        say("ERROR", f"{ACTION}: {err}")
        return EXIT_USAGE
    if undecodable:
        say(
            "WARN",
            f"{ACTION}: {undecodable} line(s) of the alert's results are not UTF-8; their undecodable "
            "bytes are written as \\xNN text",
        )
    service = splunkd_service(payload, app_dir.name)
    lookups = lookup_service(service, app_dir, secrets, payload, params["appliance"] or None)
    enricher, enriched = enrich(rules, results, lookups, say)
    trouble = getattr(lookups.store, "trouble", None)  # the KV store's, said once
    if trouble:
        say("WARN", f"{ACTION}: {trouble}")
    delivery = send_events(service, as_events(enriched, payload), params, payload)
    return _outcome(enricher, len(enriched), delivery, params["index"], say)


def _outcome(
    enricher: AlertEnricher, events: int, delivery: Delivery, index: str, say: Callable[[str, str], None]
) -> int:
    """Says what became of the alert's results; returns the exit status."""
    written = f"{delivery.written} of {events} events written to index {index} in {delivery.requests} request(s)"
    if delivery.failure:
        say(
            "ERROR",
            f"{ACTION}: {enricher.stats.describe()}; {written}; the other "
            f"{events - delivery.written} were not: {delivery.failure}",
        )
        return EXIT_FAILED
    say("INFO", f"{ACTION}: {enricher.stats.describe()}; {written}")
    if enricher.fatal_error:
        say("ERROR", f"{ACTION}: {enricher.fatal_error} (the events are written with rl_status=error)")
        return EXIT_FAILED
    if enricher.stats.failed_hashes:
        say(
            "WARN",
            f"{ACTION}: {enricher.stats.failed_hashes} hash lookup(s) failed; their events are marked "
            "and each rule's on_error applied",
        )
    return EXIT_OK


def enrich(
    rules: RuleSet, results: list[dict[str, Any]], lookups: LookupService, say: Callable[[str, str], None]
) -> tuple[AlertEnricher, list[Any]]:
    """The results through the rules, in windows; every hash marked failed
    when the appliance cannot be used."""
    with lookups:
        if lookups.failure is None and not lookups.client().config.verify_tls:
            say(
                "WARN",
                f"{ACTION}: verify_tls = false in spectra_analyze.conf: the appliance's certificate is not "
                "checked, so anyone on the network path can read the API token",
            )
        enricher = AlertEnricher(rules, lookups)
        return enricher, [
            alert
            for start in range(0, len(results), WINDOW)
            for alert in enricher.enrich(results[start : start + WINDOW])
        ]


class _Reporter:
    """Level-prefixed lines on stderr for splunkd, in UTF-8 whatever the
    locale, and the same in the app's log."""

    def __init__(self, stream: TextIO) -> None:
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(encoding="utf-8", errors="backslashreplace")
        self.stream = stream

    def __call__(self, level: str, message: str) -> None:
        log.log(getattr(logging, "WARNING" if level == "WARN" else level), "%s", message)
        self.stream.write(f"{level} {message}\n")
        self.stream.flush()


def read_payload(stdin: BinaryIO) -> dict[str, Any]:
    """The JSON payload, from bytes: json reads UTF-8 (or UTF-16/32) itself,
    whatever encoding the locale would give a text stream."""
    try:
        payload = json.loads(stdin.read())
    except ValueError as err:
        raise ActionError(f"the payload on stdin is not JSON ({err}); set payload_format = json") from None
    missing = [
        key
        for key in ("results_file", "server_uri", "session_key")
        if not isinstance(payload, dict) or not payload.get(key)
    ]
    if missing:
        raise ActionError(f"the payload lacks {', '.join(missing)}")
    _check_server_uri(payload["server_uri"])
    return payload


def _check_server_uri(value: Any) -> None:
    try:
        uri = urlsplit(str(value))
        valid = uri.scheme in ("http", "https") and bool(uri.hostname) and uri.port is not None
    except ValueError:  # a port out of range or not a number
        valid = False
    if not valid:
        raise ActionError(f"the payload's server_uri is not splunkd's https://host:port: {excerpt(str(value), None)}")


def parse_parameters(configuration: Mapping[str, Any]) -> dict[str, str]:
    """The action's parameters, checked; raises ``ActionError`` naming the one to fix."""
    values = {key: str(configuration.get(key) or "").strip() for key in PARAMETERS}
    values["sourcetype"] = values["sourcetype"] or DEFAULT_SOURCETYPE
    checks = (
        (
            "rules_file",
            _RULES_NAME,
            "a file name ending in .json (letters, digits, '.', '_', '-'), "
            "looked up in the app's local/rules and rules folders",
        ),
        ("index", _INDEX_NAME, "an index name: lower-case letters, digits, '_' and '-'"),
        ("sourcetype", _SOURCETYPE, "a sourcetype name: letters, digits, '_', ':', '.' and '-'"),
    )
    for key, pattern, expected in checks:
        if not pattern.fullmatch(values[key]):
            got = f"got {values[key]!r}" if values[key] else "it is empty"
            raise ActionError(f"param.{key}: expected {expected}; {got}")
    return values


def rules_path(app_dir: Path, name: str) -> Path:
    for folder in RULES_FOLDERS:
        path = app_dir / folder / name
        if path.is_file():
            return path
    places = " or ".join(str(app_dir / folder) for folder in RULES_FOLDERS)
    raise ActionError(f"param.rules_file: no rules file {name} in {places}")


def read_results(path: str) -> tuple[list[dict[str, Any]], int]:
    """The alert's results from its gzip CSV: multivalue fields (``__mv_``
    columns) as lists, empty values left out; and how many lines held bytes
    that are not UTF-8 (kept as ``\\xNN`` text: no result is lost)."""
    csv.field_size_limit(2**31 - 1)  # _raw may be long
    undecodable: list[int] = []
    try:
        with gzip.open(path, "rb") as handle:
            return [_result(row) for row in csv.DictReader(_text_lines(handle, undecodable))], len(undecodable)
    except (OSError, EOFError, zlib.error, csv.Error) as err:
        raise ActionError(f"cannot read the alert's results {path}: {err}") from None


def _text_lines(chunks: Iterable[bytes], undecodable: list[int]) -> Iterator[str]:
    """Lines as text, their terminators kept for the csv reader (CR, LF or
    CRLF, as a text file read with ``newline=""`` splits them). A line break
    is never inside a UTF-8 character, so decoding a line at a time is
    decoding the file; a line that is not UTF-8 is noted in ``undecodable``."""
    lines = (line for chunk in chunks for line in chunk.splitlines(keepends=True))
    for number, line in enumerate(lines, 1):
        try:
            yield line.decode("utf-8")
        except UnicodeDecodeError:
            undecodable.append(number)
            yield line.decode("utf-8", "backslashreplace")


def _result(row: Mapping[str, Optional[str]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in row.items():
        if not key or key.startswith("__mv_") or not value:
            continue
        packed = row.get("__mv_" + key)
        result[key] = _multivalue(packed) if packed else value
    return result


def _multivalue(packed: str) -> list[str]:
    """``$a$;$b$`` into ``["a", "b"]`` (``$$`` is a literal ``$``)."""
    return [item.replace("$$", "$") for item in re.findall(r"\$((?:[^$]|\$\$)*)\$", packed)]


def splunkd_service(payload: Mapping[str, Any], app: str) -> Any:
    """A splunklib service on the alert's own session (only the built app carries splunklib)."""
    from splunklib.binding import handler
    from splunklib.client import Service

    uri = urlsplit(payload["server_uri"])
    return Service(
        scheme=uri.scheme,
        host=uri.hostname,
        port=uri.port,
        app=app,
        owner="nobody",
        token=payload["session_key"],
        handler=handler(timeout=SPLUNKD_TIMEOUT),
    )


def lookup_service(
    service: Any, app_dir: Path, secrets: SecretFilter, payload: Mapping[str, Any], appliance_name: Optional[str] = None
) -> LookupService:
    """The lookups of the alert's appliance (``appliance_name``, default: the
    default appliance), or of why it cannot be used: its settings, its token
    and the answer store, read as the search command reads them."""
    store = None
    token: dict[str, str] = {}  # the KV store's seal, once read
    try:
        appliance = choose(app_dir, appliance_name)
        settings = appliance.settings
        try:
            splunkd: Optional[Splunkd] = Splunkd(payload["server_uri"], payload["session_key"], app_dir.name)
        except KVStoreError as err:  # read_payload checked the address: not met in practice
            log.warning("no splunkd session for the KV store: %s", err)
            splunkd = None
        store, _ = open_store(settings, app_dir, splunkd, lambda: token.get("token"))
        values = connection_settings(appliance, splunkd, lambda: read_token(service, app_dir.name), app_dir)
        token["token"] = values["token"]
        secrets.add(values["token"])
        secrets.add(values.get("proxy"))
        return LookupService(SpectraAnalyzeClient(appliance_config(values, app_dir)), store=store)
    except ConfigurationError as err:
        return LookupService(None, store=store, failure=err)


def as_events(results: Sequence[Mapping[str, Any]], payload: Mapping[str, Any]) -> Iterator[bytes]:
    """One JSON object a result, in UTF-8: the original time first (props.conf
    reads it), the original event's fields under ``orig_``, splunkd's
    internal ones dropped."""
    for result in results:
        event: dict[str, Any] = {}
        time = _epoch(result.get("_time"))
        if time:
            event["orig_time"] = time
        for key, value in result.items():
            if key in _RENAMED:
                if key != "_time":
                    event[_RENAMED[key]] = value
            elif not key.startswith("_"):
                event[key] = value
        event["alert_search_name"] = payload.get("search_name")
        event["alert_sid"] = payload.get("sid")
        yield encode_line(event)


def _epoch(value: Any) -> Optional[str]:
    try:
        return f"{float(value):.3f}"
    except (TypeError, ValueError):
        return None


@dataclass
class Delivery:
    """What splunkd took: the requests it accepted, the events in them, and
    why the rest was not written (None when every event was)."""

    requests: int = 0
    written: int = 0
    failure: Optional[str] = None


def send_events(
    service: Any, events: Iterable[bytes], params: Mapping[str, str], payload: Mapping[str, Any]
) -> Delivery:
    """POST the events, one a line, in bodies of at most 1 MB, in order. The
    first request that fails ends the sending: the events written are then the
    first ``written`` ones, and the rest would most likely meet the same fault."""
    query = {
        "index": params["index"],
        "sourcetype": params["sourcetype"],
        "source": f"{ACTION}:{payload.get('search_name') or 'adhoc'}",
    }
    if payload.get("server_host"):
        query["host"] = payload["server_host"]
    query = {key: _well_formed(str(value)) for key, value in query.items()}
    delivery = Delivery()
    for body, count in _bodies(events):
        failure = _post(service, body, query, params["index"], payload["server_uri"])
        if failure:
            delivery.failure = f"request {delivery.requests + 1}: {failure}"
            break
        delivery.requests += 1
        delivery.written += count
    return delivery


def _post(service: Any, body: bytes, query: Mapping[str, str], index: str, uri: str) -> Optional[str]:
    """One body to receivers/simple; why it failed (one line), or None.
    splunklib sends a ``bytes`` body as it is, its length in bytes as
    Content-Length."""
    from splunklib.binding import HTTPError

    try:
        service.post("/services/receivers/simple", body=body, **query)
    except HTTPError as err:
        return f"splunkd refused them for index {index} ({_one_line(err)})"
    except socket.timeout:  # before OSError: an OSError itself
        return (
            f"splunkd at {uri} did not answer within {SPLUNKD_TIMEOUT}s (it may still have written this "
            "request's events)"
        )
    except (OSError, http.client.HTTPException) as err:
        return f"the connection to splunkd at {uri} failed ({type(err).__name__}: {_one_line(err)})"
    except ValueError as err:  # UnicodeError among them: a request http.client cannot make
        return f"the request to splunkd could not be made ({type(err).__name__}: {_one_line(err)})"
    return None


def _one_line(err: Exception) -> str:
    """What splunkd or the network said, on one line: splunkd files each
    stderr line as a message of its own."""
    return excerpt(str(err), None, limit=300)


def _well_formed(text: str) -> str:
    """``text`` without lone surrogates (which no URL can carry), as ``\\udXXX``."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _bodies(events: Iterable[bytes]) -> Iterator[tuple[bytes, int]]:
    """Bodies of events a line each, at most ``MAX_POST_BYTES`` (an event
    longer than that goes alone), with the count of events in each."""
    batch: list[bytes] = []
    size = 0
    for event in events:
        if batch and size + len(event) + 1 > MAX_POST_BYTES:
            yield b"\n".join(batch) + b"\n", len(batch)
            batch, size = [], 0
        batch.append(event)
        size += len(event) + 1
    if batch:
        yield b"\n".join(batch) + b"\n", len(batch)
