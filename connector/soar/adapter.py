"""The Splunk SOAR connector: a ``BaseConnector`` adapter over the core actions.

SOAR calls ``_handle_action`` with the action JSON (asset configuration and
a list of parameter dictionaries), then ``initialize``, ``handle_action``
once per parameter dictionary, and ``finalize``. Every hash of the whole run
is looked up in one batched lookup, whether the hashes come in one
parameter (a comma separated list) or in many; each action result then gets
one data item per hash, in input order, and a summary.

The asset's token is used only to call the appliance: it never reaches a
result, a message or a log line.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Callable, Optional, Union

import phantom.app as phantom
from phantom.action_result import ActionResult as SoarResult
from phantom.base_connector import BaseConnector

from ..actions import ActionRequest, ActionResult, distinct_errors, lookup_records, request_of, run_action, summarize
from ..cache import open_cache
from ..client import SpectraAnalyzeClient
from ..config import Config
from ..errors import ConfigurationError, InputError, SpectraAnalyzeError
from ..lookup import Question
from ..manifest import action_spec, schema_of
from ..names import Action, ResultStatus
from ..outputs import summary_of
from ..service import LookupService, Requests
from ..verdict import Thresholds

LOOKUP_ACTIONS = (Action.GET_REPORT, Action.GET_SUMMARY, Action.FILE_REPUTATION)
# Each lookup action's parameters, by name, from its schema.
PARAMETERS: dict[str, dict[str, dict[str, Any]]] = {
    action: (schema_of(action_spec(action)["parameters"]) or {"properties": {}})["properties"]
    for action in LOOKUP_ACTIONS
}

Outcome = Union[ActionResult, InputError]


class SpectraAnalyzeAdapter(BaseConnector):
    """What the app's connector class does; the app's main module declares
    the class itself, since SOAR finds the app JSON beside that module."""

    def __init__(self) -> None:
        super().__init__()
        self._lookups: Optional[LookupService] = None
        self._parameter_sets: list[dict[str, Any]] = []
        self._batch: Optional[BatchedLookup] = None
        self._thresholds = Thresholds()

    def _handle_action(self, in_json: str, handle: Any) -> Any:
        # Every parameter dictionary of the run is known only here; handle_action
        # then sees them one at a time. Keeping them lets one lookup serve all.
        self._parameter_sets = _parameter_sets(in_json)
        return super()._handle_action(in_json, handle)

    def initialize(self) -> bool:
        try:
            # The asset as SOAR types it (4.0 for a numeric 4, "" for unset) and keys
            # the platform adds, which the settings parser does not read.
            config = Config.from_settings(dict(self.get_config(), cache_dir=self._cache_dir()))
            self._thresholds = Thresholds.from_settings(self.get_config())
        except ConfigurationError as err:
            # Not fatal here: every hash then gets an error item saying why, so a
            # playbook sees the failure instead of an empty run.
            self._lookups = LookupService(None, failure=err)
            return phantom.APP_SUCCESS
        if not config.verify_tls:
            self.save_progress(
                f"WARNING: TLS certificate verification is off for {config.url}; "
                "anyone on the network path can read the API token"
            )
        self._lookups = LookupService(SpectraAnalyzeClient(config), store=open_cache(config.cache))
        return phantom.APP_SUCCESS

    def _cache_dir(self) -> str:
        # The app's state folder survives between runs and belongs to this app only.
        return str(Path(self.get_state_dir()) / "cache")

    def validate_parameters(self, param: dict[str, Any]) -> bool:
        # The platform's own check of 'contains' types would reject a list of
        # hashes; the core validates every hash and reports each invalid one.
        return phantom.APP_SUCCESS

    def handle_action(self, param: dict[str, Any]) -> bool:
        action = self.get_action_identifier()
        if action == Action.TEST_CONNECTIVITY:
            return self._test_connectivity(self.add_action_result(SoarResult(dict(param))))
        if action in LOOKUP_ACTIONS:
            return self._lookup(action, param, self.add_action_result(SoarResult(with_defaults(action, param))))
        if action == Action.CLEAR_CACHE:
            return self._clear_cache(self.add_action_result(SoarResult(dict(param))))
        result = self.add_action_result(SoarResult(dict(param)))
        return result.set_status(phantom.APP_ERROR, f"this app has no action {action!r}")

    def finalize(self) -> bool:
        if self._lookups is not None:
            self._lookups.close()
        return phantom.APP_SUCCESS

    def _test_connectivity(self, result: SoarResult) -> bool:
        assert self._lookups is not None  # initialize made it
        try:
            client = self._lookups.client()
            self.save_progress(
                f"Connecting to {client.config.url} (TLS verification {'on' if client.config.verify_tls else 'OFF'})"
            )
            outcome = run_action(Action.TEST_CONNECTIVITY, {}, self._lookups)
        except SpectraAnalyzeError as err:
            self.save_progress("Test Connectivity Failed")
            return result.set_status(phantom.APP_ERROR, f"Test Connectivity Failed: {err}")
        self.save_progress("Test Connectivity Passed")
        result.update_summary({"cache_entries": outcome.summary["cache_entries"]})
        return result.set_status(phantom.APP_SUCCESS, outcome.message)

    def _clear_cache(self, result: SoarResult) -> bool:
        assert self._lookups is not None  # initialize made it
        outcome = run_action(Action.CLEAR_CACHE, {}, self._lookups)
        result.update_summary(outcome.summary)
        self.save_progress(outcome.message)
        return result.set_status(phantom.APP_SUCCESS if outcome.ok else phantom.APP_ERROR, outcome.message)

    def _lookup(self, action: str, param: dict[str, Any], result: SoarResult) -> bool:
        if self._batch is None:
            assert self._lookups is not None  # initialize made it
            self._batch = BatchedLookup(
                action, self._parameter_sets, self._lookups, self.save_progress, self._thresholds
            )
        outcome = self._batch.result_for(param)
        if isinstance(outcome, InputError):
            return result.set_status(phantom.APP_ERROR, str(outcome))
        for record in outcome.records:
            result.add_data(record)
        result.update_summary(summary_of(outcome))
        self.save_progress(outcome.message)
        status = phantom.APP_ERROR if outcome.status == ResultStatus.FAILED else phantom.APP_SUCCESS
        return result.set_status(status, outcome.message)


class BatchedLookup:
    """The outcome of every parameter set of one run, looked up together:
    one core lookup (batched by hash type and batch size) per distinct
    question, that is per set of fields and flags."""

    def __init__(
        self,
        action: str,
        parameter_sets: Sequence[Mapping[str, Any]],
        lookups: LookupService,
        progress: Callable[[str], Any],
        thresholds: Thresholds = Thresholds(),
    ) -> None:
        self.action = action
        self._thresholds = thresholds
        self._pending = list(parameter_sets)
        self._lookups = lookups
        self._progress = progress
        self._outcomes: dict[str, Outcome] = {}

    def result_for(self, params: Mapping[str, Any]) -> Outcome:
        """The outcome for one parameter set: an ``ActionResult``, or the
        ``InputError`` that makes the parameters unusable."""
        key = _key(self.action, params)
        if key not in self._outcomes and self._pending:
            self._resolve(self._pending)  # the first call answers every set of the run
            self._pending = []
        if key not in self._outcomes:
            self._resolve([params])  # a set that was not in the action JSON as given
        return self._outcomes[key]

    def _resolve(self, parameter_sets: Sequence[Mapping[str, Any]]) -> None:
        groups: dict[Question, list[tuple[str, ActionRequest]]] = {}
        for params in parameter_sets:
            try:
                request = request_of(self.action, declared(self.action, params))
            except InputError as err:
                self._outcomes[_key(self.action, params)] = err
                continue
            groups.setdefault(request.question, []).append((_key(self.action, params), request))
        total = sum(len(request.hashes) for members in groups.values() for _, request in members)
        self._progress(
            f"Looking up {total} hash(es) of {len(parameter_sets)} parameter set(s) in {len(groups)} batched lookup(s)"
        )
        for question, members in groups.items():
            merged = ActionRequest(
                hashes=tuple(value for _, request in members for value in request.hashes), question=question
            )
            before = self._lookups.requests
            records = lookup_records(self.action, merged, self._lookups, self._thresholds)
            self._split(members, records, self._lookups.requests.since(before))

    def _split(
        self, members: list[tuple[str, ActionRequest]], records: list[dict[str, Any]], requests: Requests
    ) -> None:
        """Each parameter set's share of the records; the requests are the
        whole batched lookup's, which served them all."""
        start = 0
        for key, request in members:
            part = records[start : start + len(request.hashes)]
            start += len(request.hashes)
            self._outcomes[key] = summarize(self.action, part, distinct_errors(part), requests)


def declared(action: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """The action's own parameters of a SOAR parameter set (which may carry
    more, such as a playbook's context)."""
    return {name: params[name] for name in PARAMETERS[action] if name in params}


def with_defaults(action: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """The parameter set as the result shows it: every parameter, defaults
    filled in (None where there is none)."""
    filled = {name: spec.get("default") for name, spec in PARAMETERS[action].items()}
    filled.update(params)
    return filled


def _key(action: str, params: Mapping[str, Any]) -> str:
    return json.dumps(declared(action, params), sort_keys=True, default=str)


def _parameter_sets(in_json: str) -> list[dict[str, Any]]:
    try:
        parameters = json.loads(in_json).get("parameters")
    except (ValueError, AttributeError):
        return []  # the base class reports a broken action JSON
    return [params for params in parameters or [] if isinstance(params, dict)]
