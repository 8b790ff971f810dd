"""The JSON Schemas of ``schemas/``: loading and fast validation.

The schemas are the single source of truth. They are compiled once with
fastjsonschema (pure Python, so it vendors into the Splunk and SOAR apps, and
some 30 times faster than jsonschema on a report); its errors name the path
of the offending value.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Callable

import fastjsonschema

from .text import quoted, shortened

_LOCAL_DEFINITION = "#/definitions/"
# Checked once per answer of the appliance, so their definitions are inlined
# (see inline_definitions). Any other schema compiles as it is: inlining the
# rules' nested conditions would make megabytes of code for a file read once.
_INLINED = frozenset(("response", "result-item"))


def schema_dir() -> Path:
    """The folder of the schemas: package data, ``connector/schemas`` (in a
    checkout a link to the top-level ``schemas/``, copied into a built package)."""
    return Path(str(resources.files("connector") / "schemas"))


@cache
def load_schema(name: str) -> dict[str, Any]:
    """A schema by its short name, e.g. ``record`` for ``record.schema.json``."""
    return json.loads((resources.files("connector") / "schemas" / f"{name}.schema.json").read_text(encoding="utf-8"))


@cache
def validator(name: str, partial: bool = False) -> Callable[[Any], Any]:
    """A compiled validator that raises ``fastjsonschema.JsonSchemaException``;
    ``partial``: the top-level keys the schema requires may be missing."""
    # inline_definitions builds a new tree: fastjsonschema rewrites the $refs
    # of the schema it compiles, and load_schema hands the same dict to everyone.
    schema = load_schema(name)
    tree = inline_definitions(schema, schema.get("definitions", {})) if name in _INLINED else copy.deepcopy(schema)
    if partial:
        tree.pop("required", None)
    return fastjsonschema.compile(tree)


def inline_definitions(node: Any, definitions: dict[str, Any], inside: frozenset[str] = frozenset()) -> Any:
    """The schema with every local ``{"$ref": "#/definitions/x"}`` replaced by
    the definition itself, except where a definition refers to itself (the
    rules' nested conditions): that ``$ref`` stays, and compiles as a call.

    fastjsonschema compiles a ``$ref`` into a function call whose path
    argument is formatted on every call, once per indicator of a report:
    inlined, validating a report with a summary takes a third less time.
    """
    if isinstance(node, list):
        return [inline_definitions(value, definitions, inside) for value in node]
    if not isinstance(node, dict):
        return node
    target = node.get("$ref")
    if len(node) == 1 and isinstance(target, str) and target.startswith(_LOCAL_DEFINITION):
        name = target[len(_LOCAL_DEFINITION) :]
        if name in definitions and name not in inside:
            return inline_definitions(definitions[name], definitions, inside | {name})
    return {key: inline_definitions(value, definitions, inside) for key, value in node.items()}


def violation(name: str, instance: Any, *, partial: bool = False) -> str:
    """The first violation of schema ``name`` as a short message, or '' when
    valid; ``partial``: as ``validator`` takes it."""
    try:
        validator(name, partial)(instance)
    except fastjsonschema.JsonSchemaValueException as err:
        return describe(err)
    return ""


def describe(err: fastjsonschema.JsonSchemaValueException) -> str:
    """A message naming the offending place and, where the schema has one,
    what it expects (the schema's own description)."""
    name = err.name or "data"
    where = name[len("data") :].lstrip(".") if name.startswith("data") else name
    value, definition = err.value, err.definition or {}
    if err.rule == "required" and isinstance(value, dict):
        missing = [key for key in definition["required"] if key not in value]
        return _at(where, f"missing {', '.join(missing)}")
    if err.rule == "additionalProperties" and isinstance(value, dict):
        unknown = sorted(set(value) - set(definition.get("properties", {})))
        known = ", ".join(definition.get("properties", {}))
        return _at(where, f"unknown {shortened(', '.join(unknown))} (expected: {known})")
    if err.rule in ("oneOf", "anyOf") and definition.get("description"):
        return f"{where}: {quoted(value)} is not accepted; {definition['description']}"
    message = err.message
    return message[len("data.") :] if message.startswith("data.") else message


def _at(where: str, problem: str) -> str:
    return f"{where}: {problem}" if where else problem
