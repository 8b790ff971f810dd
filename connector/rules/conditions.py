"""Conditions over a verdict record, compiled once into predicates.

``{"all": [...]}``, ``{"any": [...]}`` and ``{"not": {...}}`` combine
comparisons ``{"field": ..., "op": ..., "value": ...}``. A list field (tags,
indicators) passes a comparison when one of its items does; ``ne`` and
``not_in`` are the exact negations of ``eq`` and ``in``. A null field equals
only null, is in no list, is neither greater nor less than anything, and
contains nothing.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Collection, Iterable, Mapping
from typing import Any, Callable

from ..flatten import SUMMARY_KEYS
from ..validation import load_schema
from .problems import RuleProblem, Where

Record = Mapping[str, Any]
Predicate = Callable[[Record], bool]

_NUMERIC = {"gt": operator.gt, "gte": operator.ge, "lt": operator.lt, "lte": operator.le}
_TEXT_OPS = ("contains", "regex")
_COMBINATORS = ("all", "any", "not")
MAX_NESTING = 32


def field_types() -> dict[str, frozenset]:
    """Each record field and the JSON types it can hold, from record.schema.json."""
    types = {}
    for name, spec in load_schema("record")["properties"].items():
        declared = spec.get("type")
        types[name] = frozenset([declared] if isinstance(declared, str) else declared)
    return types


FIELD_TYPES = field_types()


def compile_condition(spec: Mapping[str, Any], where: Where, *, with_summary: bool) -> Predicate:
    """A predicate for a schema-valid condition; raises ``RuleProblem`` for a
    field the record lacks, an operator its type cannot take, a bad regex or
    nesting deeper than ``MAX_NESTING``."""
    if sum(step in _COMBINATORS for step in where) > MAX_NESTING:
        # Evaluating is recursive too: a limit here keeps every alert from hitting Python's.
        raise RuleProblem(where, f"conditions are nested more than {MAX_NESTING} levels deep (all, any, not)")
    for combinator in ("all", "any"):
        if combinator in spec:
            parts = [
                compile_condition(part, where + (combinator, index), with_summary=with_summary)
                for index, part in enumerate(spec[combinator])
            ]
            join = all if combinator == "all" else any
            return lambda record: join(part(record) for part in parts)
    if "not" in spec:
        inner = compile_condition(spec["not"], where + ("not",), with_summary=with_summary)
        return lambda record: not inner(record)
    return _comparison(spec, where, with_summary)


def check_field(name: str, where: Where, *, with_summary: bool, known: Collection[str] = FIELD_TYPES) -> None:
    """Raise ``RuleProblem`` unless the record of this rule's lookup has ``name``."""
    if name not in known:
        raise RuleProblem(where, f'unknown record field "{name}"', given=name, choices=list(known))
    if name in SUMMARY_KEYS and not with_summary:
        raise RuleProblem(
            where,
            f'the field "{name}" comes with get_summary only: '
            'set "lookup": {"action": "get_summary"} on this rule or in defaults',
        )


def _comparison(spec: Mapping[str, Any], where: Where, with_summary: bool) -> Predicate:
    name, op = spec["field"], spec["op"]
    check_field(name, where + ("field",), with_summary=with_summary)
    types = FIELD_TYPES[name]
    if op in _NUMERIC and not types & {"integer", "number"}:
        raise RuleProblem(
            where + ("op",),
            f'{op} compares numbers, and the field "{name}" holds {_kinds(types)}; use eq, in, contains or regex',
        )
    if op in _TEXT_OPS and not types & {"string", "array"}:
        raise RuleProblem(
            where + ("op",),
            f'{op} looks into text, and the field "{name}" holds {_kinds(types)}; use eq, in, gt, gte, lt or lte',
        )
    if op == "exists":
        return lambda record: _present(record.get(name))
    test = _item_test(op, spec.get("value"), spec.get("ignore_case", False), where + ("value",))
    if op in ("ne", "not_in"):
        return lambda record: not any(test(item) for item in _items(record.get(name)))
    return lambda record: any(test(item) for item in _items(record.get(name)))


def _item_test(op: str, value: Any, ignore_case: bool, where: Where) -> Callable[[Any], bool]:
    """The test one item of the field must pass (eq for ne, in for not_in)."""
    fold = _casefold if ignore_case else _same_case
    if op in ("eq", "ne"):
        wanted = fold(value)
        return lambda item: _same(fold(item), wanted)
    if op in ("in", "not_in"):
        choices = [fold(choice) for choice in value]
        return lambda item: any(_same(fold(item), choice) for choice in choices)
    if op == "contains":
        needle = fold(_text(value))
        return lambda item: item is not None and needle in fold(_text(item))
    if op == "regex":
        try:
            pattern = re.compile(value, re.IGNORECASE if ignore_case else 0)
        except re.error as err:
            raise RuleProblem(where, f"not a valid regular expression: {err}") from None
        return lambda item: item is not None and pattern.search(_text(item)) is not None
    compare = _NUMERIC[op]
    return lambda item: _is_number(item) and compare(item, value)


def _items(value: Any) -> list[Any]:
    """The values a comparison tests: a list's items, or the value itself."""
    return list(value) if isinstance(value, list) else [value]


def _present(value: Any) -> bool:
    return value is not None and value != "" and value != []


def _same(left: Any, right: Any) -> bool:
    """Equality that keeps true apart from 1 and false from 0."""
    return isinstance(left, bool) == isinstance(right, bool) and left == right


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _same_case(value: Any) -> Any:
    return value


def _casefold(value: Any) -> Any:
    return value.casefold() if isinstance(value, str) else value


def _kinds(types: Iterable[str]) -> str:
    names = {"string": "text", "integer": "numbers", "number": "numbers", "array": "lists", "null": "null"}
    return " or ".join(dict.fromkeys(names.get(kind, kind) for kind in sorted(types) if kind != "null"))
