"""The SOAR app's reference (actions, parameters, data paths) as Markdown,
generated from ``package.json`` like the app JSON itself. docs/soar.md carries
it in its ``soar-reference`` section; ``python -m connector_tools.soar.docs
docs/soar.md`` rewrites that section, and a test keeps it current."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from connector.manifest import load_manifest
from connector_tools.soar.app_json import DataPath, data_paths, parameters

from .. import docs


def reference() -> str:
    """The actions, then the parameters of each parameter schema and the data
    paths of every action that has some."""
    actions = load_manifest()["actions"]
    lines = ["| Action | Identifier | What it does |", "| --- | --- | --- |"]
    lines += [f"| {spec['title']} | `{name}` | {spec['description']} |" for name, spec in actions.items()]
    by_schema: dict[str, list[dict]] = {}
    for spec in actions.values():
        if spec["parameters"]:
            by_schema.setdefault(spec["parameters"], []).append(spec)
    for specs in by_schema.values():
        lines += [
            "",
            "Parameters of " + " and ".join(spec["title"] for spec in specs) + ":",
            "",
            "| Parameter | Type | Required | Default | Description |",
            "| --- | --- | --- | --- | --- |",
        ]
        for name, param in parameters(specs[0]).items():
            lines.append(
                f"| `{name}`{' (primary)' if param.get('primary') else ''} | {param['data_type']} | "
                f"{'yes' if param['required'] else 'no'} | {_shown(param.get('default'))} | "
                f"{param['description']} |"
            )
    with_paths = {name: spec for name, spec in actions.items() if data_paths(spec)}
    lines += [
        "",
        "Data paths:",
        "",
        "| Data path | Type | " + " | ".join(spec["title"] for spec in with_paths.values()) + " | Description |",
        "| --- | --- | " + " | ".join("---" for _ in with_paths) + " | --- |",
    ]
    lines += [_path_row(path, actions_with) for path, actions_with in _union(with_paths).items()]
    return "\n".join(lines)


def _shown(default: object) -> str:
    return "" if default is None else json.dumps(default)


def _union(lookups: dict[str, dict]) -> dict[DataPath, list[str]]:
    """Every data path, in first-seen order, with the actions that have it."""
    paths: dict[DataPath, list[str]] = {}
    for name, spec in lookups.items():
        for path in data_paths(spec):
            paths.setdefault(path, []).append(name)
    return {path: [name if name in names else "" for name in lookups] for path, names in paths.items()}


def _path_row(path: DataPath, actions_with: list[str]) -> str:
    marks = " | ".join("yes" if name else "" for name in actions_with)
    return f"| `{path.path}` | {path.data_type} | {marks} | {path.description} |"


SECTIONS = {"soar-reference": reference}

if __name__ == "__main__":
    page = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/soar.md")
    page.write_text(docs.render(page.read_text(encoding="utf-8"), SECTIONS), encoding="utf-8")
