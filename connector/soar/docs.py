"""The SOAR app's reference (actions, parameters, data paths) as Markdown,
generated from ``package.json`` like the app JSON itself. README.md carries
it between two markers; ``python -m connector.soar.docs README.md`` rewrites
that block, and a test keeps the two in step."""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Dict, List

from ..manifest import load_manifest
from .app_json import DataPath, data_paths, parameters

BEGIN = "<!-- soar-reference: generated from package.json by `python -m connector.soar.docs README.md` -->"
END = "<!-- /soar-reference -->"


def reference() -> str:
    """Asset settings, actions, then the parameters and data paths of the lookup actions."""
    manifest = load_manifest()
    actions = manifest["actions"]
    lookups = {name: spec for name, spec in actions.items() if spec["output"]}
    lines = ["Asset settings:", "", "| Setting | Type | Required | Default | Description |", "| --- | --- | --- | --- | --- |"]
    lines += [f"| `{name}` | {spec['data_type']} | {'yes' if spec.get('required') else 'no'} | "
              f"{_shown(spec.get('default'))} | {spec['description']} |" for name, spec in manifest["configuration"].items()]
    lines += ["", "| Action | Identifier | What it does |", "| --- | --- | --- |"]
    lines += [f"| {spec['title']} | `{name}` | {spec['description']} |" for name, spec in actions.items()]
    lines += ["", "Parameters of " + " and ".join(spec["title"] for spec in lookups.values()) + ":", "",
              "| Parameter | Type | Required | Default | Description |", "| --- | --- | --- | --- | --- |"]
    first = next(iter(lookups.values()))
    for name, param in parameters(first).items():
        lines.append(f"| `{name}`{' (primary)' if param.get('primary') else ''} | {param['data_type']} | "
                     f"{'yes' if param['required'] else 'no'} | {_shown(param.get('default'))} | "
                     f"{param['description']} |")
    lines += ["", "Data paths (" + ", ".join(spec["title"] for spec in lookups.values()) + "):", "",
              "| Data path | Type | " + " | ".join(spec["title"] for spec in lookups.values()) + " | Description |",
              "| --- | --- | " + " | ".join("---" for _ in lookups) + " | --- |"]
    lines += [_path_row(path, actions_with) for path, actions_with in _union(lookups).items()]
    return "\n".join(lines) + "\n"


def _shown(default: object) -> str:
    return "" if default is None else json.dumps(default)


def _union(lookups: Dict[str, dict]) -> Dict[DataPath, List[str]]:
    """Every data path, in first-seen order, with the actions that have it."""
    paths: Dict[DataPath, List[str]] = {}
    for name, spec in lookups.items():
        for path in data_paths(spec):
            paths.setdefault(path, []).append(name)
    return {path: [name if name in names else "" for name in lookups] for path, names in paths.items()}


def _path_row(path: DataPath, actions_with: List[str]) -> str:
    marks = " | ".join("yes" if name else "" for name in actions_with)
    return f"| `{path.path}` | {path.data_type} | {marks} | {path.description} |"


def rewrite(readme: Path) -> None:
    """Replace the generated block of ``readme`` with the current reference."""
    text = readme.read_text(encoding="utf-8")
    if BEGIN not in text or END not in text:
        raise SystemExit(f"{readme}: the markers of the generated SOAR reference are missing")
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    readme.write_text(f"{head}{BEGIN}\n{reference()}{END}{tail}", encoding="utf-8")


if __name__ == "__main__":
    rewrite(Path(sys.argv[1]))
