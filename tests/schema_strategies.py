"""Hypothesis strategies generated from the JSON Schemas of ``schemas/``.

Covers the keywords those schemas use: type (one or a list), enum, const,
oneOf, $ref to #/definitions, properties, required, additionalProperties,
items, minimum/maximum and pattern. (hypothesis-jsonschema would do this,
but its last release breaks on current Hypothesis.)
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

ALL_TYPES = ("null", "boolean", "integer", "number", "string", "array", "object")

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)


def from_schema(schema: dict[str, Any], root: dict[str, Any] = None) -> st.SearchStrategy:
    """Values valid against ``schema`` (``root`` resolves its $refs)."""
    root = root if root is not None else schema
    if "$ref" in schema:
        return from_schema(_resolve(root, schema["$ref"]), root)
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    if "const" in schema:
        return st.just(schema["const"])
    if "oneOf" in schema:
        return st.one_of([from_schema(option, root) for option in schema["oneOf"]])
    kinds = schema.get("type", ALL_TYPES)
    kinds = [kinds] if isinstance(kinds, str) else kinds
    return st.one_of([_typed(kind, schema, root) for kind in kinds])


def _resolve(root: dict[str, Any], ref: str) -> dict[str, Any]:
    if not ref.startswith("#/"):
        raise ValueError(f"only local references are supported, got {ref}")
    node: Any = root
    for part in ref[2:].split("/"):
        node = node[part]
    return node


def _typed(kind: str, schema: dict[str, Any], root: dict[str, Any]) -> st.SearchStrategy:
    low, high = schema.get("minimum"), schema.get("maximum")
    if kind == "null":
        return st.none()
    if kind == "boolean":
        return st.booleans()
    if kind == "integer":
        return st.integers(min_value=low, max_value=high)
    if kind == "number":
        return st.floats(min_value=low, max_value=high, allow_nan=False, allow_infinity=False)
    if kind == "string":
        return st.from_regex(schema["pattern"]) if "pattern" in schema else st.text(max_size=30)
    if kind == "array":
        items = from_schema(schema["items"], root) if "items" in schema else json_values
        return st.lists(items, max_size=5)
    return _object(schema, root)


def _object(schema: dict[str, Any], root: dict[str, Any]) -> st.SearchStrategy:
    properties = schema.get("properties", {})
    required = set(schema.get("required", ()))
    known = st.fixed_dictionaries(
        {name: from_schema(spec, root) for name, spec in properties.items() if name in required},
        optional={name: from_schema(spec, root) for name, spec in properties.items() if name not in required},
    )
    extra_spec = schema.get("additionalProperties", True)
    if extra_spec is False:
        return known
    extra_values = json_values if extra_spec is True else from_schema(extra_spec, root)
    extra = st.dictionaries(st.text(max_size=12).filter(lambda name: name not in properties), extra_values, max_size=3)
    return st.tuples(known, extra).map(lambda parts: {**parts[1], **parts[0]})
