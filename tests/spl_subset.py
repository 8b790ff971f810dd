"""The part of SPL the app's dashboards use, evaluated in Python over events,
so that a test can run the dashboards' searches against the events the app
itself writes.

Events are dicts: ``_time``, ``_raw``, ``index``, ``source``, ``sourcetype``
and the search-time fields (a list is a multivalue field). Commands:
``search`` terms (field=value with ``*``, field!=value, quoted or bare words
matched in ``_raw``, ``OR``, ``NOT``), ``rex`` with named groups, ``eval
x=coalesce(a, b)``, ``fields``, ``table``, ``stats`` and ``timechart`` (one
time bucket) with count, sum, max, dc and values, ``top limit=N``, ``sort -
x`` and ``head N``. Anything else raises ``Unsupported``: a dashboard search
this module cannot read fails its test rather than passing unread. A field a
command reads that no event at that stage has raises ``MissingField``.
"""

from __future__ import annotations

import fnmatch
import re
import shlex
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Callable

Event = dict[str, Any]


class Unsupported(AssertionError):
    """A search uses SPL this module does not evaluate."""


class MissingField(AssertionError):
    """A command reads a field that no event has at that point."""


def expand_macros(search: str, macros: Mapping[str, str]) -> str:
    """Replace each `name` by its definition (macros.conf, no arguments)."""

    def one(match: re.Match[str]) -> str:
        if match.group(1) not in macros:
            raise Unsupported(f"unknown macro `{match.group(1)}`")
        return macros[match.group(1)]

    return re.sub(r"`([^`]+)`", one, search)


def split_pipeline(search: str) -> list[str]:
    """The commands of a search: split at pipes outside double quotes (a
    backslash escapes the next character inside them)."""
    parts, current, quoted, escaped = [], [], False, False
    for char in search:
        if escaped:
            escaped = False
        elif quoted and char == "\\":
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char == "|" and not quoted:
            parts.append("".join(current).strip())
            current = []
            continue
        current.append(char)
    if quoted:
        raise Unsupported(f"unbalanced quotes in {search!r}")
    parts.append("".join(current).strip())
    return [part for part in parts if part]


def run(search: str, events: Iterable[Event], macros: Mapping[str, str]) -> list[Event]:
    """The results of ``search`` (which starts with search terms) over ``events``."""
    commands = split_pipeline(expand_macros(search, macros))
    rows = [dict(event) for event in events]
    for number, command in enumerate(commands):
        name, _, rest = command.partition(" ")
        if number == 0 and name != "search":
            name, rest = "search", command
        handler = _COMMANDS.get(name)
        if handler is None:
            raise Unsupported(f"command {name!r} in {search!r}")
        rows = handler(rest.strip(), rows)
    return rows


def _values(row: Mapping[str, Any], field: str) -> list[Any]:
    value = row.get(field)
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _require(rows: Sequence[Event], fields: Iterable[str]) -> None:
    for field in fields:
        if rows and not any(field in row for row in rows):
            raise MissingField(
                f"no event has the field {field!r} (fields seen: {sorted({key for row in rows for key in row})})"
            )


def _term_matches(row: Event, term: str) -> bool:
    match = re.fullmatch(r"([\w.{}:]+)(!?=)(.*)", term)
    if match:
        field, operator, pattern = match.groups()
        pattern = pattern.lower()
        hit = any(fnmatch.fnmatchcase(str(value).lower(), pattern) for value in _values(row, field))
        return hit if operator == "=" else (not hit and field in row)
    return fnmatch.fnmatchcase(str(row.get("_raw", "")).lower(), f"*{term.lower()}*")


def _search(arguments: str, rows: list[Event]) -> list[Event]:
    tokens = shlex.split(arguments, posix=True)
    groups: list[list[str]] = [[]]
    for token in tokens:
        if token == "OR":
            groups.append([])
        else:
            groups[-1].append(token)
    fields = {re.split(r"!?=", token)[0] for group in groups for token in group if re.match(r"[\w.{}:]+!?=", token)}
    _require(rows, fields)

    def matches(row: Event, group: list[str]) -> bool:
        negate, result = False, True
        for token in group:
            if token == "NOT":
                negate = True
                continue
            result = result and (_term_matches(row, token) != negate)
            negate = False
        return result

    return [row for row in rows if any(matches(row, group) for group in groups)]


def _rex(arguments: str, rows: list[Event]) -> list[Event]:
    pattern = shlex.split(arguments, posix=True)
    if len(pattern) != 1:
        raise Unsupported(f"rex {arguments}: only a quoted pattern on _raw")
    regex = re.compile(pattern[0].replace("(?<", "(?P<"))
    for row in rows:
        found = regex.search(str(row.get("_raw", "")))
        if found:
            row.update({key: value for key, value in found.groupdict().items() if value is not None})
    return rows


def _eval(arguments: str, rows: list[Event]) -> list[Event]:
    match = re.fullmatch(r"(\w+)=coalesce\(([\w, ]+)\)", arguments)
    if not match:
        raise Unsupported(f"eval {arguments}")
    sources = [name.strip() for name in match.group(2).split(",")]
    _require(rows, sources)
    for row in rows:
        row[match.group(1)] = next((row[name] for name in sources if row.get(name) is not None), None)
    return rows


def _fields(arguments: str, rows: list[Event]) -> list[Event]:
    names = arguments.replace(",", " ").split()
    _require(rows, [name for name in names if name != "_time"])
    return [{name: row[name] for name in names if name in row} for row in rows]


def _number(value: Any) -> float:
    return float(value)


_FUNCTIONS: dict[str, Callable[[list[Any]], Any]] = {
    "count": len,
    "sum": lambda values: sum(_number(value) for value in values),
    "max": lambda values: max((_number(value) for value in values), default=None),
    "dc": lambda values: len(set(values)),
    "values": lambda values: sorted({str(value) for value in values}),
}


def _aggregations(text: str) -> list[tuple]:
    """``count as a sum(x) as b max(y)`` -> [(function, field, name)]."""
    found = []
    for match in re.finditer(r"(\w+)(?:\((\w+)\))?(?:\s+as\s+(\w+))?", text):
        function, field, name = match.groups()
        if function not in _FUNCTIONS:
            raise Unsupported(f"stats function {function!r}")
        found.append((function, field, name or (f"{function}({field})" if field else function)))
    return found


def _stats(arguments: str, rows: list[Event]) -> list[Event]:
    functions, _, by = arguments.partition(" by ")
    keys = by.replace(",", " ").split()
    aggregations = _aggregations(functions)
    _require(rows, keys + [field for _, field, _ in aggregations if field])
    groups: dict[tuple, list[Event]] = {}
    for row in rows:
        if all(row.get(key) is not None for key in keys):
            groups.setdefault(tuple(str(row[key]) for key in keys), []).append(row)
    if not keys and not groups:
        groups[()] = []
    results = []
    for group, members in groups.items():
        result: Event = dict(zip(keys, group))
        for function, field, name in aggregations:
            values = members if field is None else [value for row in members for value in _values(row, field)]
            result[name] = _FUNCTIONS[function](values)
        results.append(result)
    return results


def _timechart(arguments: str, rows: list[Event]) -> list[Event]:
    """One time bucket: the split-by field's values become columns."""
    if " by " not in arguments:
        return _stats(arguments, rows)
    functions, by = arguments.split(" by ")
    ((function, field, _),) = _aggregations(functions)
    result: Event = {}
    for row in _stats(f"{functions} by {by.strip()}", rows):
        result[str(row[by.strip()])] = row[function if field is None else f"{function}({field})"]
    return [result]


def _top(arguments: str, rows: list[Event]) -> list[Event]:
    options = dict(re.findall(r"(\w+)=(\S+)", arguments))
    (field,) = re.sub(r"\w+=\S+", "", arguments).split()
    _require(rows, [field])
    counts = Counter(str(value) for row in rows for value in _values(row, field))
    total = sum(counts.values())
    return [
        {field: value, "count": count, "percent": 100.0 * count / total}
        for value, count in counts.most_common(int(options.get("limit", 10)))
    ]


def _sort(arguments: str, rows: list[Event]) -> list[Event]:
    match = re.fullmatch(r"-\s*(\w+)", arguments)
    if not match:
        raise Unsupported(f"sort {arguments}")
    _require(rows, [match.group(1)])
    return sorted(rows, key=lambda row: -_number(row.get(match.group(1), 0)))


def _head(arguments: str, rows: list[Event]) -> list[Event]:
    return rows[: int(arguments)]


_COMMANDS: dict[str, Callable[[str, list[Event]], list[Event]]] = {
    "search": _search,
    "rex": _rex,
    "eval": _eval,
    "fields": _fields,
    "table": _fields,
    "stats": _stats,
    "timechart": _timechart,
    "top": _top,
    "sort": _sort,
    "head": _head,
}
