"""``phantom.rules``: the playbook API, as SOAR's playbook API docs describe
it, over the stand-in platform (``soar_platform.PLATFORM``).

Data paths: ``artifact:*.cef.<field>`` reads the container's artifacts;
``playbook_input:<name>`` the values an input playbook was given for an input;
``<action name>:action_result.<path>`` the results of an action run of this
playbook run; ``filtered-data:<filter>:<condition>:<action name>:action_result.<path>``
the results a filter condition kept. ``data.*`` walks the data items.
"""

import operator
from collections.abc import Sequence
from typing import Any, Callable, Optional, Union

import soar_platform

_OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "in": lambda left, right: left in right,
    "not in": lambda left, right: left not in right,
}
_DATA = "data.*."


def playbook_block() -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    return lambda function: function


def debug(message: Any) -> None:
    soar_platform.PLATFORM.debug_log.append(str(message))


def error(message: Any) -> None:
    soar_platform.PLATFORM.debug_log.append(f"ERROR {message}")


def act(
    action: str,
    parameters: Optional[list[dict[str, Any]]] = None,
    assets: Optional[Sequence[str]] = None,
    callback: Optional[Callable[..., Any]] = None,
    name: Optional[str] = None,
    **kwargs: Any,
) -> bool:
    """Run an action on each asset; the callback follows once it is done."""
    platform = soar_platform.PLATFORM
    container = platform.container
    name = name or action.replace(" ", "_")
    runs = [platform.run_action(asset, action, parameters or [], container["id"]) for asset in assets or []]
    platform.action_runs[name] = {
        "action": action,
        "action_results": [result for run in runs for result in run["action_results"]],
    }
    if callback is not None:
        callback(
            action={"name": name, "action": action},
            success=all(run["status"] == "success" for run in runs),
            container=container,
            results=runs,
            handle=None,
        )
    return True


def collect2(
    container: dict[str, Any], datapath: Sequence[str], action_results: Any = None, **kwargs: Any
) -> list[list[Any]]:
    """One row per artifact, data item or result, one column per data path."""
    sources = {_source(path) for path in datapath}
    if len(sources) != 1:
        raise ValueError(f"collect2 data paths must share one source: {datapath}")
    source = sources.pop()
    if source == "playbook_input":  # one row per value given for the input
        [name] = {_tail(path) for path in datapath}
        return [[value] for value in soar_platform.PLATFORM.inputs.get(name, [])]
    if source == "artifact":
        return [
            [_walk(artifact, _tail(path)) for path in datapath]
            for artifact in soar_platform.PLATFORM.artifacts[container["id"]]
        ]
    return [
        [_value(result, item, _tail(path)) for path in datapath]
        for result, item in _rows(_results(source), [_tail(path) for path in datapath])
    ]


def condition(
    container: Optional[dict[str, Any]] = None,
    conditions: Optional[list[list[Any]]] = None,
    logical_operator: str = "and",
    name: Optional[str] = None,
    **kwargs: Any,
) -> tuple[list[Any], list[dict[str, Any]]]:
    """Filter: the results, cut down to the data items that match. They are
    kept under ``name`` for ``filtered-data:`` paths."""
    matched = _match(conditions or [], logical_operator)
    if name:
        soar_platform.PLATFORM.filtered[name] = matched
    return [], matched


def decision(
    container: Optional[dict[str, Any]] = None,
    conditions: Optional[list[list[Any]]] = None,
    logical_operator: str = "and",
    **kwargs: Any,
) -> bool:
    """Decision: does any result or data item match?"""
    return bool(_match(conditions or [], logical_operator))


def set_severity(
    container: Union[dict[str, Any], int, None] = None, severity: Optional[str] = None, trace: bool = False
) -> bool:
    _stored(container)["severity"] = str(severity).lower()
    return True


def add_tags(
    container: Union[dict[str, Any], int, None] = None,
    tags: Union[str, Sequence[str], None] = None,
    trace: bool = False,
) -> bool:
    stored = _stored(container)
    for tag in [tags] if isinstance(tags, str) else list(tags or []):
        if tag not in stored["tags"]:
            stored["tags"].append(tag)
    return True


def promote(
    container: Union[dict[str, Any], int, None] = None, template: Optional[str] = None, trace: bool = False
) -> tuple[bool, str]:
    stored = _stored(container)
    stored["container_type"] = "case"
    stored["template"] = template
    return True, "promoted to a case"


def add_note(
    container: Union[dict[str, Any], int, None] = None,
    note_type: str = "general",
    title: str = "",
    content: str = "",
    note_format: str = "markdown",
    **kwargs: Any,
) -> tuple[bool, str, int]:
    notes = soar_platform.PLATFORM.notes[_stored(container)["id"]]
    notes.append({"note_type": note_type, "title": title, "content": content, "note_format": note_format})
    return True, "note added", len(notes)


def save_run_data(key: str, value: str, auto: bool = True) -> None:
    """Keep a value (a string, JSON as a rule) for later blocks and the playbook's outputs."""
    if not isinstance(value, str):
        raise TypeError("save_run_data keeps strings")
    soar_platform.PLATFORM.run_data[key] = value


def get_run_data(key: str) -> str:
    return soar_platform.PLATFORM.run_data.get(key, "")


def get_container(container_id: int) -> dict[str, Any]:
    return dict(soar_platform.PLATFORM.containers[container_id])


def _stored(container: Union[dict[str, Any], int, None]) -> dict[str, Any]:
    container_id = container["id"] if isinstance(container, dict) else container
    return soar_platform.PLATFORM.containers[container_id]


def _source(path: str) -> str:
    """``artifact``, an action name, or ``filtered-data:<filter>:<condition>:<action name>``."""
    return path.rsplit(":", 1)[0]


def _tail(path: str) -> str:
    """The path inside its source: ``cef.<field>`` of an artifact, ``data.*.<key>`` or ``status`` of a result."""
    tail = path.rsplit(":", 1)[1]
    for prefix in ("*.", "action_result."):
        if tail.startswith(prefix):
            return tail[len(prefix) :]
    return tail


def _results(source: str) -> list[dict[str, Any]]:
    platform = soar_platform.PLATFORM
    if source.startswith("filtered-data:"):
        _, filter_name, condition_name, action_name = source.split(":")
        results = platform.filtered.get(f"{filter_name}:{condition_name}", [])
        return [result for result in results if result["_action_name"] == action_name]
    run = platform.action_runs.get(source)
    return [dict(result, _action_name=source) for result in run["action_results"]] if run else []


def _rows(results: list[dict[str, Any]], tails: Sequence[str]) -> list[tuple[dict[str, Any], Any]]:
    """A row per data item when any path reads the items, else a row per result."""
    if any(tail.startswith(_DATA) for tail in tails):
        return [(result, item) for result in results for item in result["data"]]
    return [(result, None) for result in results]


def _value(result: dict[str, Any], item: Any, tail: str) -> Any:
    return _walk(item, tail[len(_DATA) :]) if tail.startswith(_DATA) else _walk(result, tail)


def _walk(value: Any, path: str) -> Any:
    for key in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def _compare(left: Any, op: str, right: Any) -> bool:
    try:
        return bool(_OPERATORS[op](left, right))
    except TypeError:  # e.g. a missing risk score against a number: no match
        return False


def _match(conditions: list[list[Any]], logical_operator: str) -> list[dict[str, Any]]:
    sources = {_source(path) for path, _, _ in conditions}
    if len(sources) != 1:
        raise ValueError(f"conditions must read one action's results: {conditions}")
    combine = all if logical_operator == "and" else any
    tails = [(_tail(path), op, right) for path, op, right in conditions]
    matched = []
    for result in _results(sources.pop()):
        rows = _rows([result], [tail for tail, _, _ in tails])
        hits = [
            item
            for _, item in rows
            if combine(_compare(_value(result, item, tail), op, right) for tail, op, right in tails)
        ]
        if hits:
            matched.append(dict(result, data=hits) if rows[0][1] is not None else result)
    return matched
