"""Effects: the changes a rule makes to an alert, applied in the order
written, each reported as a change (field, before, after)."""

from __future__ import annotations

import copy
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any, Callable

from .paths import get_value, set_value
from .problems import Where
from .templates import FieldCheck, Template, as_text, parse_template

Change = dict[str, Any]


@dataclass(frozen=True)
class Targets:
    """The alert fields set_severity, add_tags and route write."""

    severity: str = "severity"
    tags: str = "tags"
    route: str = "route"


Step = Callable[[MutableMapping[str, Any], Mapping[str, Any], Targets], list[Change]]


class Effects:
    """A compiled effects object."""

    def __init__(self, steps: list[Step]) -> None:
        self._steps = steps

    def apply(self, alert: MutableMapping[str, Any], record: Mapping[str, Any], targets: Targets) -> list[Change]:
        """Change ``alert`` in place; the changes made, none for a value already there."""
        changes: list[Change] = []
        for step in self._steps:
            changes += step(alert, record, targets)
        return changes


def compile_effects(spec: Mapping[str, Any], where: Where, check_field: FieldCheck) -> Effects:
    """Effects from a schema-valid object; raises ``RuleProblem`` for a bad template."""
    steps: list[Step] = []
    for name, value in spec.items():
        here = where + (name,)
        if name == "set_severity":
            steps.append(_setter("set_severity", lambda targets: targets.severity, _value_of(value, here, check_field)))
        elif name == "route":
            template = parse_template(value, here, check_field)
            steps.append(_setter("route", lambda targets: targets.route, template.render))
        elif name == "add_tags":
            steps.append(
                _tagger([parse_template(tag, here + (index,), check_field) for index, tag in enumerate(value)])
            )
        else:
            steps += [
                _setter("set_fields", _fixed(path), _value_of(item, here + (path,), check_field))
                for path, item in value.items()
            ]
    return Effects(steps)


def _value_of(value: Any, where: Where, check_field: FieldCheck) -> Callable[[Mapping[str, Any]], Any]:
    """How a configured value becomes the value written, given the record."""
    if isinstance(value, str):
        return parse_template(value, where, check_field).value
    return lambda record: copy.deepcopy(value)


def _fixed(path: str) -> Callable[[Targets], str]:
    return lambda targets: path


def _setter(effect: str, field_of: Callable[[Targets], str], value_of: Callable[[Mapping[str, Any]], Any]) -> Step:
    def step(alert: MutableMapping[str, Any], record: Mapping[str, Any], targets: Targets) -> list[Change]:
        field, new = field_of(targets), copy.deepcopy(value_of(record))
        old = get_value(alert, field)
        if old == new and type(old) is type(new):
            return []
        set_value(alert, field, new)
        return [{"effect": effect, "field": field, "from": old, "to": new}]

    return step


def _tagger(templates: list[Template]) -> Step:
    def step(alert: MutableMapping[str, Any], record: Mapping[str, Any], targets: Targets) -> list[Change]:
        current = _as_list(get_value(alert, targets.tags))
        added = [tag for tag in dict.fromkeys(_tags(templates, record)) if tag not in current]
        if not added:
            return []
        set_value(alert, targets.tags, current + added)
        return [{"effect": "add_tags", "field": targets.tags, "added": added}]

    return step


def _tags(templates: list[Template], record: Mapping[str, Any]) -> list[str]:
    """Rendered tags; a lone {field} of a list field adds each item; empty tags are skipped."""
    tags: list[str] = []
    for template in templates:
        value = template.value(record)
        values = value if isinstance(value, list) else [value]
        tags += [text for text in (as_text(item) for item in values) if text]
    return tags


def _as_list(value: Any) -> list[Any]:
    """The tags already on the alert; a single value becomes a one-item list."""
    if value is None or value == "":
        return []
    return list(value) if isinstance(value, list) else [value]
