"""``package.json``: the integration's manifest.

It names the package and its actions, and ties
each action to the schemas of ``schemas/``. ``schemas/package.schema.json``
validates it when it is loaded. The SOAR app JSON, the action runner and the
docs are generated from it, so nothing restates it by hand.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Optional, overload

from .errors import SpectraAnalyzeError
from .validation import load_schema, violation

# Package data (in a checkout a link to the top-level package.json).
_MANIFEST = resources.files("connector") / "package.json"


@cache
def load_manifest() -> dict[str, Any]:
    """The validated manifest. Raises ``SpectraAnalyzeError`` when it is
    missing or does not match its schema (a packaging mistake)."""
    try:
        manifest = json.loads(_MANIFEST.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SpectraAnalyzeError("package.json is missing; reinstall the package") from None
    problem = violation("package", manifest)
    if problem:
        raise SpectraAnalyzeError(f"package.json does not match schemas/package.schema.json: {problem}")
    return manifest


@overload
def schema_of(reference: str) -> dict[str, Any]: ...
@overload
def schema_of(reference: None) -> None: ...
@overload
def schema_of(reference: Optional[str]) -> Optional[dict[str, Any]]: ...


def schema_of(reference: Optional[str]) -> Optional[dict[str, Any]]:
    """The schema a manifest entry points at (``schemas/x.schema.json``), or None."""
    if reference is None:
        return None
    return load_schema(Path(reference).name[: -len(".schema.json")])


def action_spec(name: str) -> dict[str, Any]:
    """One action of the manifest; raises ``KeyError`` for an unknown one."""
    return load_manifest()["actions"][name]


def output_keys(spec: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The record fields an action returns, with their schemas, in record order."""
    schema = schema_of(spec.get("output"))
    if schema is None:
        return {}
    wanted = schema["required"] if spec["output_keys"] == "required" else list(schema["properties"])
    keys = {key: value for key, value in schema["properties"].items() if key in wanted}
    verdict = schema_of(spec.get("verdict"))
    if verdict is not None:
        keys["verdict"] = verdict
    return keys


def summary_schemas(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """The schemas whose keys an action's summary joins (none for an action without one)."""
    declared = spec.get("summary")
    references = declared if isinstance(declared, list) else [declared] if declared else []
    return [load_schema(Path(reference).name[: -len(".schema.json")]) for reference in references]
