"""The SOAR app JSON (classic app format), generated from ``package.json``
and the schemas it points at, and from ``connector.settings``: the asset's
configuration, actions, parameters (the hash
parameter primary, with its ``contains`` types, so the actions appear on a
hash artifact's menu) and a data path for every record field and summary
key, so that playbooks can branch on the verdict."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Optional

from connector.hashes import HASH_TYPES
from connector.manifest import load_manifest, output_keys, schema_of, summary_schemas
from connector.settings import Kind, Surface, on, plain

MAIN_MODULE = "spectra_analyze_connector.py"
VIEW_MODULE = "spectra_analyze_view.py"
APP_JSON = "spectra_analyze.json"
LOGO, LOGO_DARK = "logo_spectra_analyze.svg", "logo_spectra_analyze_dark.svg"
HASH_CONTAINS = ("hash",) + HASH_TYPES
SOAR_TYPES = {
    Kind.TEXT: "string",
    Kind.SECRET: "password",
    Kind.BOOLEAN: "boolean",
    Kind.INTEGER: "numeric",
    Kind.NUMBER: "numeric",
}
# Counts the platform adds to every action run.
RUN_SUMMARY = (
    ("summary.total_objects", "Parameter sets of the run."),
    ("summary.total_objects_successful", "Parameter sets that succeeded."),
)


@dataclass(frozen=True)
class Wheel:
    """A dependency wheel in the app: its distribution and its path in the app folder."""

    module: str
    input_file: str


@dataclass(frozen=True)
class DataPath:
    """One output of an action: what a playbook or a custom view can read."""

    path: str
    data_type: str
    description: str
    contains: Sequence[str] = ()


def soar_pythons() -> list[str]:
    """The Pythons SOAR runs the app on, oldest first, e.g. ["3.9", "3.13"]."""
    versions = [part.strip() for part in load_manifest()["soar"]["python_version"].split(",")]
    return sorted(versions, key=lambda version: tuple(int(number) for number in version.split(".")))


def app_json(
    wheels: Optional[Mapping[str, Sequence[Wheel]]] = None, updated: Optional[datetime] = None
) -> dict[str, Any]:
    """The app JSON; ``wheels`` are the dependency wheels of each SOAR Python."""
    manifest = load_manifest()
    soar = manifest["soar"]
    return dict(
        {
            "appid": soar["appid"],
            "name": soar["name"],
            "description": manifest["description"],
            "type": soar["type"],
            "product_vendor": manifest["product"]["vendor"],
            "product_name": manifest["product"]["name"],
            "product_version_regex": soar["product_version_regex"],
            "publisher": manifest["publisher"],
            "license": manifest["license"],
            "app_version": manifest["version"],
            "utctime_updated": (updated or datetime.now(timezone.utc)).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "package_name": soar["package_name"],
            "main_module": MAIN_MODULE,
            "min_phantom_version": soar["min_phantom_version"],
            "python_version": soar["python_version"],
            "logo": LOGO,
            "logo_dark": LOGO_DARK,
            "configuration": configuration(),
            "actions": [action(name, spec, soar["table_columns"]) for name, spec in manifest["actions"].items()],
        },
        **dependencies(wheels or {}),
    )


def dependencies(wheels: Mapping[str, Sequence[Wheel]]) -> dict[str, dict[str, list[dict[str, str]]]]:
    """``pip39_dependencies`` and the like, one per SOAR Python; ``pip_dependencies``,
    read by platforms that know no versioned key, gets the oldest Python's."""
    pythons = soar_pythons()
    lists = {
        python: {
            "wheel": [{"module": wheel.module, "input_file": wheel.input_file} for wheel in wheels.get(python, ())]
        }
        for python in pythons
    }
    keys = {f"pip{python.replace('.', '')}_dependencies": listed for python, listed in lists.items()}
    return dict({"pip_dependencies": lists[pythons[0]]}, **keys)


def configuration() -> dict[str, dict[str, Any]]:
    """The asset's settings, in the settings table's order; the token as a password."""
    fields = {}
    for order, setting in enumerate(on(Surface.SOAR)):
        description = setting.help + (f" ({setting.bounds})" if setting.bounds else "")
        entry: dict[str, Any] = {
            "description": description,
            "data_type": SOAR_TYPES[setting.kind],
            "required": setting.required,
            "order": order,
        }
        if setting.default is not None:
            entry["default"] = plain(setting.default)
        fields[setting.name] = entry
    return fields


def action(name: str, spec: dict[str, Any], columns: dict[str, str]) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "action": spec["title"],
        "identifier": name,
        "description": spec["description"],
        "type": spec["kind"],
        "read_only": spec["read_only"],
        "parameters": parameters(spec),
        "output": [_output(data_path, columns) for data_path in data_paths(spec)],
        "versions": "EQ(*)",
    }
    if spec["output"]:
        # The custom view (connector.soar.view) shows the hashes most dangerous first.
        entry["render"] = {
            "type": "custom",
            "view": f"{VIEW_MODULE[: -len('.py')]}.display_view",
            "title": spec["title"].capitalize(),
            "width": 12,
            "height": 5,
        }
    return entry


def parameters(spec: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The action's parameters from its parameter schema, in schema order."""
    schema = schema_of(spec["parameters"])
    if schema is None:
        return {}
    required = set(schema.get("required", ()))
    fields = {}
    for order, (name, prop) in enumerate(schema["properties"].items()):
        entry = {
            "description": prop["description"],
            "data_type": soar_type(prop),
            "required": name in required,
            "order": order,
        }
        if "default" in prop:
            entry["default"] = prop["default"]
        if name == spec.get("primary_parameter"):
            entry.update(primary=True, contains=list(HASH_CONTAINS))
        fields[name] = entry
    return fields


def data_paths(spec: dict[str, Any]) -> list[DataPath]:
    """Every output of an action: status and message, its parameters, one path
    per record field and per summary key, and the run's counts."""
    if spec["output"] is None and not spec.get("summary"):
        return []
    paths = [
        DataPath("action_result.status", "string", "success or failed"),
        DataPath("action_result.message", "string", "What happened, in one line."),
    ]
    paths += [
        DataPath(
            f"action_result.parameter.{name}",
            param["data_type"],
            param["description"],
            tuple(param.get("contains", ())),
        )
        for name, param in parameters(spec).items()
    ]
    for key, prop in output_keys(spec).items():
        paths += _record_paths(f"action_result.data.*.{key}", key, prop)
    for schema in summary_schemas(spec):
        paths += _summary_paths("action_result.summary", schema)
    paths += [DataPath(path, "numeric", description) for path, description in RUN_SUMMARY]
    return paths


def _record_paths(path: str, key: str, prop: dict[str, Any]) -> list[DataPath]:
    """A record field's data paths: one, or one per key of an object (the verdict)."""
    if "properties" in prop:
        return [
            inner
            for name, sub in prop["properties"].items()
            for inner in _record_paths(f"{path}.{name}", f"{key}.{name}", sub)
        ]
    listed = "array" in _types(prop)
    return [
        DataPath(
            path + (".*" if listed else ""),
            soar_type(prop["items"] if listed else prop),
            prop["description"],
            _record_contains(key),
        )
    ]


def soar_type(prop: dict[str, Any]) -> str:
    """SOAR's data type for a JSON Schema: boolean, numeric or string."""
    kinds = set(_types(prop))
    if "boolean" in kinds:
        return "boolean"
    if kinds & {"integer", "number"}:
        return "numeric"
    return "string"


def _types(prop: dict[str, Any]) -> Iterator[str]:
    declared = prop.get("type", [])
    yield from [declared] if isinstance(declared, str) else declared
    for choice in prop.get("oneOf", []) + prop.get("anyOf", []):
        yield from _types(choice)


def _summary_paths(prefix: str, schema: dict[str, Any]) -> list[DataPath]:
    paths = []
    for key, prop in schema["properties"].items():
        if "properties" in prop:
            paths += _summary_paths(f"{prefix}.{key}", prop)
        else:
            paths.append(DataPath(f"{prefix}.{key}", soar_type(prop), prop["description"]))
    return paths


def _record_contains(key: str) -> Sequence[str]:
    if key == "hash":
        return HASH_CONTAINS
    return (key, "hash") if key in HASH_TYPES else ()


def _output(data_path: DataPath, columns: dict[str, str]) -> dict[str, Any]:
    entry: dict[str, Any] = {"data_path": data_path.path, "data_type": data_path.data_type}
    if data_path.contains:
        entry["contains"] = list(data_path.contains)
    field = (
        data_path.path[len("action_result.data.*.") :] if data_path.path.startswith("action_result.data.*.") else None
    )
    if field in columns:
        entry.update(column_name=columns[field], column_order=list(columns).index(field))
    return entry
