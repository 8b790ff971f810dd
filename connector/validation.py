"""The JSON Schemas of ``schemas/``: loading and fast validation.

The schemas are the single source of truth. They are compiled once with
fastjsonschema (pure Python, so it vendors into the Splunk and SOAR apps, and
some 30 times faster than jsonschema on a report); its errors name the path
of the offending value.
"""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Dict

import fastjsonschema

_PACKAGE = Path(__file__).resolve().parent
# Installed (and vendored) packages carry the schemas inside the package; a
# checkout keeps them at the top level.
_SCHEMA_DIRS = (_PACKAGE / "schemas", _PACKAGE.parent / "schemas")


def schema_dir() -> Path:
    for folder in _SCHEMA_DIRS:
        if (folder / "record.schema.json").is_file():
            return folder
    raise FileNotFoundError("the connector's JSON Schemas are missing; reinstall the package")


@lru_cache(maxsize=None)
def load_schema(name: str) -> Dict[str, Any]:
    """A schema by its short name, e.g. ``record`` for ``record.schema.json``."""
    with open(schema_dir() / f"{name}.schema.json", encoding="utf-8") as handle:
        return json.load(handle)


@lru_cache(maxsize=None)
def validator(name: str) -> Callable[[Any], Any]:
    """A compiled validator that raises ``fastjsonschema.JsonSchemaException``."""
    return fastjsonschema.compile(load_schema(name))


def violation(name: str, instance: Any) -> str:
    """The first violation of schema ``name`` as a short message, or '' when valid."""
    try:
        validator(name)(instance)
    except fastjsonschema.JsonSchemaValueException as err:
        return describe(err)
    return ""


def describe(err: "fastjsonschema.JsonSchemaValueException") -> str:
    """A readable message: the path without fastjsonschema's ``data`` prefix."""
    message = err.message
    if message.startswith("data."):
        return message[len("data."):]
    if message.startswith("data "):
        return "the value " + message[len("data "):]
    return message
