"""``package.json``: the integration's manifest.

It names the package and its actions, and ties
each action to the schemas of ``schemas/``. ``schemas/package.schema.json``
validates it when it is loaded. The SOAR app JSON, the action runner and the
docs are generated from it, so nothing restates it by hand.
"""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, Optional, overload

from .errors import SpectraAnalyzeError
from .validation import load_schema, violation

_PACKAGE = Path(__file__).resolve().parent
# An installed package carries the manifest in connector/meta/; a checkout
# keeps it at the top level.
_MANIFEST_PATHS = (_PACKAGE / "meta" / "package.json", _PACKAGE.parent / "package.json")


@lru_cache(maxsize=None)
def load_manifest() -> Dict[str, Any]:
    """The validated manifest. Raises ``SpectraAnalyzeError`` when it is
    missing or does not match its schema (a packaging mistake)."""
    for path in _MANIFEST_PATHS:
        if path.is_file():
            with open(path, encoding="utf-8") as handle:
                manifest = json.load(handle)
            problem = violation("package", manifest)
            if problem:
                raise SpectraAnalyzeError(f"package.json does not match schemas/package.schema.json: {problem}")
            return manifest
    raise SpectraAnalyzeError("package.json is missing; reinstall the package")


@overload
def schema_of(reference: str) -> Dict[str, Any]: ...
@overload
def schema_of(reference: None) -> None: ...
@overload
def schema_of(reference: Optional[str]) -> Optional[Dict[str, Any]]: ...


def schema_of(reference: Optional[str]) -> Optional[Dict[str, Any]]:
    """The schema a manifest entry points at (``schemas/x.schema.json``), or None."""
    if reference is None:
        return None
    return load_schema(Path(reference).name[:-len(".schema.json")])


def action_spec(name: str) -> Dict[str, Any]:
    """One action of the manifest; raises ``KeyError`` for an unknown one."""
    return load_manifest()["actions"][name]


def output_keys(spec: Dict[str, Any]) -> Dict[str, Dict[str, Any]]:
    """The record fields an action returns, with their schemas, in record order."""
    schema = schema_of(spec.get("output"))
    if schema is None:
        return {}
    wanted = schema["required"] if spec["output_keys"] == "required" else list(schema["properties"])
    return {key: value for key, value in schema["properties"].items() if key in wanted}
