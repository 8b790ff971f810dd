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
events are written anyway, marked) or splunkd refused the events; 2 the
action's parameters, the rules file or the payload are wrong (nothing is
written: the alert's results stay in its search artifact).
"""
from __future__ import annotations

import csv
import gzip
import json
import logging
import re
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional, Sequence, TextIO, Tuple
from urllib.parse import urlsplit

from ..client import SpectraAnalyzeClient
from ..errors import ConfigurationError, SpectraAnalyzeError
from ..rules import AlertEnricher, RuleSet, RulesError, load_rules
from ..service import LookupService
from .conf import app_cache, appliance_config, load_settings
from .credentials import read_token
from .logs import SecretFilter, setup_logging

ACTION = "spectra_analyze_enrich"
PARAMETERS = ("rules_file", "index", "sourcetype")
DEFAULT_SOURCETYPE = "spectra:enriched_alert"
RULES_FOLDERS = ("local/rules", "rules")  # an admin's own files first, then the shipped ones
WINDOW = 10000
MAX_POST_BYTES = 1024 * 1024
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
_RULES_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*\.json")
_INDEX_NAME = re.compile(r"[a-z0-9][a-z0-9_-]*")
_SOURCETYPE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_:.-]*")
# Fields that describe the original event: kept under orig_ so that they do
# not clash with the new event's own.
_RENAMED = {"_time": "orig_time", "_raw": "orig_raw", "host": "orig_host", "source": "orig_source",
            "sourcetype": "orig_sourcetype", "index": "orig_index"}
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
        payload = read_payload(stdin)
        secrets.add(payload["session_key"])
        params = parse_parameters(payload.get("configuration") or {})
        rules = load_rules(rules_path(app_dir, params["rules_file"]))
        results = read_results(payload["results_file"])
    except (ActionError, RulesError) as err:
        say("ERROR", f"{ACTION}: {err}")
        return EXIT_USAGE
    service = splunkd_service(payload, app_dir.name)
    enricher, enriched = enrich(rules, results, lookup_service(service, app_dir, secrets), say)
    try:
        requests = send_events(service, as_events(enriched, payload), params, payload)
    except SpectraAnalyzeError as err:
        say("ERROR", f"{ACTION}: {err}")
        return EXIT_FAILED
    say("INFO", f"{ACTION}: {enricher.stats.describe()}; {len(enriched)} events written to index "
                f"{params['index']} in {requests} request(s)")
    if enricher.fatal_error:
        say("ERROR", f"{ACTION}: {enricher.fatal_error} (the events are written with rl_status=error)")
        return EXIT_FAILED
    if enricher.stats.failed_hashes:
        say("WARN", f"{ACTION}: {enricher.stats.failed_hashes} hash lookup(s) failed; their events are marked "
                    "and each rule's on_error applied")
    return EXIT_OK


def enrich(rules: RuleSet, results: List[Dict[str, Any]], lookups: LookupService,
           say: Callable[[str, str], None]) -> Tuple[AlertEnricher, List[Any]]:
    """The results through the rules, in windows; every hash marked failed
    when the appliance cannot be used."""
    with lookups:
        if lookups.failure is None and not lookups.client().config.verify_tls:
            say("WARN", f"{ACTION}: verify_tls = false in spectra_analyze.conf: the appliance's certificate is not "
                        "checked, so anyone on the network path can read the API token")
        enricher = AlertEnricher(rules, lookups)
        return enricher, [alert for start in range(0, len(results), WINDOW)
                          for alert in enricher.enrich(results[start:start + WINDOW])]


class _Reporter:
    """Level-prefixed lines on stderr for splunkd, and the same in the app's log."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def __call__(self, level: str, message: str) -> None:
        log.log(getattr(logging, "WARNING" if level == "WARN" else level), "%s", message)
        self.stream.write(f"{level} {message}\n")
        self.stream.flush()


def read_payload(stdin: TextIO) -> Dict[str, Any]:
    try:
        payload = json.loads(stdin.read())
    except ValueError as err:
        raise ActionError(f"the payload on stdin is not JSON ({err}); set payload_format = json") from None
    missing = [key for key in ("results_file", "server_uri", "session_key") if not isinstance(payload, dict)
               or not payload.get(key)]
    if missing:
        raise ActionError(f"the payload lacks {', '.join(missing)}")
    return payload


def parse_parameters(configuration: Mapping[str, Any]) -> Dict[str, str]:
    """The action's parameters, checked; raises ``ActionError`` naming the one to fix."""
    values = {key: str(configuration.get(key) or "").strip() for key in PARAMETERS}
    values["sourcetype"] = values["sourcetype"] or DEFAULT_SOURCETYPE
    checks = (("rules_file", _RULES_NAME, "a file name ending in .json (letters, digits, '.', '_', '-'), "
                                          "looked up in the app's local/rules and rules folders"),
              ("index", _INDEX_NAME, "an index name: lower-case letters, digits, '_' and '-'"),
              ("sourcetype", _SOURCETYPE, "a sourcetype name: letters, digits, '_', ':', '.' and '-'"))
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


def read_results(path: str) -> List[Dict[str, Any]]:
    """The alert's results from its gzip CSV: multivalue fields (``__mv_``
    columns) as lists, empty values left out."""
    csv.field_size_limit(2 ** 31 - 1)  # _raw may be long
    try:
        with gzip.open(path, "rt", encoding="utf-8", newline="") as handle:
            return [_result(row) for row in csv.DictReader(handle)]
    except (OSError, EOFError, UnicodeDecodeError, csv.Error) as err:
        raise ActionError(f"cannot read the alert's results {path}: {err}") from None


def _result(row: Mapping[str, Optional[str]]) -> Dict[str, Any]:
    result: Dict[str, Any] = {}
    for key, value in row.items():
        if not key or key.startswith("__mv_") or not value:
            continue
        packed = row.get("__mv_" + key)
        result[key] = _multivalue(packed) if packed else value
    return result


def _multivalue(packed: str) -> List[str]:
    """``$a$;$b$`` into ``["a", "b"]`` (``$$`` is a literal ``$``)."""
    return [item.replace("$$", "$") for item in re.findall(r"\$((?:[^$]|\$\$)*)\$", packed)]


def splunkd_service(payload: Mapping[str, Any], app: str) -> Any:
    """A splunklib service on the alert's own session (only the built app carries splunklib)."""
    from splunklib.client import Service

    uri = urlsplit(payload["server_uri"])
    return Service(scheme=uri.scheme, host=uri.hostname, port=uri.port, app=app, owner="nobody",
                   token=payload["session_key"])


def lookup_service(service: Any, app_dir: Path, secrets: SecretFilter) -> LookupService:
    """The lookups of the configured appliance, or of why it cannot be used:
    the settings of spectra_analyze.conf and the token in storage/passwords,
    read as the search command reads them."""
    store = None
    try:
        settings = load_settings(app_dir)
        store = app_cache(settings, app_dir)
        token = read_token(service, app_dir.name)
        secrets.add(token)
        return LookupService(SpectraAnalyzeClient(appliance_config(settings, app_dir, token)), store=store)
    except ConfigurationError as err:
        return LookupService(None, store=store, failure=err)


def as_events(results: Sequence[Mapping[str, Any]], payload: Mapping[str, Any]) -> Iterator[str]:
    """One JSON object a result: the original time first (props.conf reads it),
    the original event's fields under ``orig_``, splunkd's internal ones dropped."""
    for result in results:
        event: Dict[str, Any] = {}
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
        yield json.dumps(event, ensure_ascii=False)


def _epoch(value: Any) -> Optional[str]:
    try:
        return f"{float(value):.3f}"
    except (TypeError, ValueError):
        return None


def send_events(service: Any, events: Iterator[str], params: Mapping[str, str], payload: Mapping[str, Any]) -> int:
    """POST the events, one a line, in bodies of up to 1 MB; the requests sent.
    Raises ``SpectraAnalyzeError`` with splunkd's message when it refuses."""
    from splunklib.binding import HTTPError

    query = {"index": params["index"], "sourcetype": params["sourcetype"],
             "source": f"{ACTION}:{payload.get('search_name') or 'adhoc'}"}
    if payload.get("server_host"):
        query["host"] = payload["server_host"]
    sent = 0
    for body in _bodies(events):
        try:
            service.post("/services/receivers/simple", body=body, **query)
        except HTTPError as err:
            raise SpectraAnalyzeError(f"splunkd refused the enriched events for index {params['index']} "
                                      f"({err})") from None
        except OSError as err:
            raise SpectraAnalyzeError(f"could not reach splunkd at {payload['server_uri']}: {err}") from None
        sent += 1
    return sent


def _bodies(events: Iterator[str]) -> Iterator[str]:
    batch: List[str] = []
    size = 0
    for event in events:
        if batch and size + len(event) > MAX_POST_BYTES:
            yield "\n".join(batch) + "\n"
            batch, size = [], 0
        batch.append(event)
        size += len(event) + 1
    if batch:
        yield "\n".join(batch) + "\n"
