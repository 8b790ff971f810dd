"""Reference tables for the pages of ``docs/``, generated from the schemas and
the settings table so the docs never restate them by hand. ``python -m
connector_tools.docs [PAGE...]`` rewrites the marked sections of the pages given
(default: every page of ``docs/``); a test checks they are current."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Callable

from connector.settings import SETTINGS, Setting, Surface, shown
from connector.splunk.conf import COMMAND_SETTINGS
from connector.validation import load_schema

from .splunk.spec import settings_tables


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"


def _types(spec: dict) -> str:
    kinds = spec.get("type") or sorted({option.get("type", "") for option in spec.get("oneOf", [])})
    kinds = [kinds] if isinstance(kinds, str) else kinds
    return " or ".join(kind for kind in kinds if kind and kind != "null") + (" or null" if "null" in kinds else "")


def record_fields() -> str:
    schema = load_schema("record")
    rows = [_row(["field (default prefix `rl_`)", "type", "meaning"]), _row(["---", "---", "---"])]
    rows += [
        _row([f"`rl_{name}`", _types(spec), spec.get("description", "")]) for name, spec in schema["properties"].items()
    ]
    return "\n".join(rows)


def action_parameters() -> str:
    schema = load_schema("action-parameters")
    rows = [_row(["parameter", "required", "meaning"]), _row(["---", "---", "---"])]
    rows += [
        _row([f"`{name}`", "yes" if name in schema["required"] else "no", spec.get("description", "")])
        for name, spec in schema["properties"].items()
    ]
    rows.append("")
    rows.append(
        "Supported `fields`: " + ", ".join(f"`{name}`" for name in schema["definitions"]["field"]["enum"]) + "."
    )
    return "\n".join(rows)


def configuration() -> str:
    """Every setting: the core's (connector.settings), then the Splunk command's own."""
    rows = [_row(["setting", "type", "default", "range", "set in", "meaning"]), _row(["---"] * 6)]
    for stanza, settings in (("appliance", SETTINGS), ("command", COMMAND_SETTINGS)):
        rows += [
            _row(
                [
                    f"`{setting.name}`",
                    setting.kind.value,
                    "required"
                    if setting.required
                    else f"`{shown(setting.default)}`"
                    if setting.default is not None
                    else "",
                    setting.bounds,
                    _set_in(setting, stanza),
                    setting.help,
                ]
            )
            for setting in settings
        ]
    return "\n".join(rows)


def _set_in(setting: Setting, stanza: str) -> str:
    places = {Surface.SPLUNK: f"Splunk `[{stanza}]`", Surface.SOAR: "SOAR asset", Surface.CLI: f"`{setting.cli_flag}`"}
    return ", ".join(place for surface, place in places.items() if surface in setting.surfaces)


def rules_reference() -> str:
    """The keys of a rules file, a rule, a lookup and effects, from rules.schema.json."""
    schema = load_schema("rules")
    definitions = schema["definitions"]
    tables = [
        ("rules file", schema),
        ("rule", definitions["rule"]),
        ("lookup", definitions["lookup"]),
        ("effects", definitions["effects"]),
        ("targets", schema["properties"]["targets"]),
    ]
    blocks = []
    for title, node in tables:
        required = node.get("required", [])
        rows = [_row([f"{title} key", "value", "meaning"]), _row(["---", "---", "---"])]
        rows += [
            _row(
                [
                    f"`{name}`" + (" (required)" if name in required else ""),
                    _rules_value(spec, definitions),
                    spec.get("description") or _target(spec, definitions).get("description", ""),
                ]
            )
            for name, spec in node["properties"].items()
        ]
        blocks.append("\n".join(rows))
    return "\n\n".join(blocks)


def _target(spec: dict, definitions: dict) -> dict:
    ref = spec.get("$ref", "")
    return definitions[ref.rsplit("/", 1)[1]] if ref else spec


def _rules_value(spec: dict, definitions: dict) -> str:
    """The kind of value a key takes, named after the schema's definitions."""
    ref = spec.get("$ref", "").rsplit("/", 1)[-1]
    target = _target(spec, definitions)
    if "const" in target:
        return f"`{json.dumps(target['const'])}`"
    if "enum" in target:
        return " or ".join(f"`{value}`" for value in target["enum"])
    if "if" in target and "const" in target["then"]:  # on_error: a keyword or an object
        return f"{_rules_value(target['then'], definitions)} or {_rules_value(target['else'], definitions)}"
    if target.get("type") == "array":
        return "list of " + _rules_value(target["items"], definitions) + "s"
    if ref == "path":
        return "dotted path"
    if ref:
        return ref
    return _types(target) if target.get("type") != "object" else "object"


SECTIONS: dict[str, Callable[[], str]] = {
    "record-fields": record_fields,
    "action-parameters": action_parameters,
    "configuration": configuration,
    "rules-reference": rules_reference,
    "splunk-settings": settings_tables,
}


def render(page: str, sections: dict[str, Callable[[], str]] = SECTIONS) -> str:
    """The page with every ``<!-- BEGIN name -->...<!-- END name -->`` section regenerated."""
    for name, build in sections.items():
        page = _replace_section(page, name, build())
    return page


def _replace_section(page: str, name: str, text: str) -> str:
    pattern = re.compile(rf"(<!-- BEGIN {name} -->\n)(?:.*?\n)?(<!-- END {name} -->)", re.S)
    return pattern.sub(lambda match: match.group(1) + text + "\n" + match.group(2), page)


def main(argv: list[str]) -> int:
    for path in [Path(arg) for arg in argv] or sorted(Path("docs").glob("*.md")):
        path.write_text(render(path.read_text(encoding="utf-8")), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
