"""The server side of the SOAR stand-in: assets, containers, actiond (which
runs an app's connector through ``_handle_action``) and the playbook run
that ``phantom.rules`` works in. Not SOAR API: the tests' handle on it."""

import importlib.util
import inspect
import itertools
import json
import sys
from pathlib import Path
from typing import Any, Optional

from phantom.base_connector import BaseConnector

_ids = itertools.count(1)


class Platform:
    def __init__(self) -> None:
        self.assets: dict[str, tuple[Path, dict[str, Any]]] = {}
        self.containers: dict[int, dict[str, Any]] = {}
        self.artifacts: dict[int, list[dict[str, Any]]] = {}
        self.notes: dict[int, list[dict[str, Any]]] = {}
        self.debug_log: list[str] = []
        # The playbook run under way: its container, action runs and filtered results by name.
        self.container: Optional[dict[str, Any]] = None
        self.action_runs: dict[str, dict[str, Any]] = {}
        self.filtered: dict[str, list[dict[str, Any]]] = {}
        # An input playbook's inputs (name -> values) and the run data its blocks saved.
        self.inputs: dict[str, list[Any]] = {}
        self.run_data: dict[str, str] = {}

    def add_asset(self, name: str, app_dir: Path, config: dict[str, Any]) -> None:
        self.assets[name] = (Path(app_dir), dict(config))

    def add_container(self, name: str, artifacts: list[dict[str, Any]], severity: str = "medium") -> int:
        container_id = next(_ids)
        self.containers[container_id] = {
            "id": container_id,
            "name": name,
            "severity": severity,
            "status": "new",
            "tags": [],
            "container_type": "default",
        }
        self.artifacts[container_id] = [
            {"id": next(_ids), "container": container_id, "cef": dict(cef)} for cef in artifacts
        ]
        self.notes[container_id] = []
        return container_id

    def run_action(
        self, asset: str, action: str, parameters: list[dict[str, Any]], container_id: Optional[int] = None
    ) -> dict[str, Any]:
        """What actiond does: build the action JSON, hand it to a new connector
        instance, and add the run's counts."""
        app_dir, config = self.assets[asset]
        app = app_json(app_dir)
        spec = next(spec for spec in app["actions"] if action in (spec["action"], spec["identifier"]))
        connector = connector_class(app_dir)()
        action_json = {
            "action": spec["action"],
            "identifier": spec["identifier"],
            "asset_id": asset,
            "container_id": container_id,
            "parameters": parameters,
            # the platform adds keys of its own to the asset's settings
            "config": dict(
                config, appname="-", directory=str(app_dir), appid=app["appid"], main_module=app["main_module"]
            ),
        }
        run = json.loads(connector._handle_action(json.dumps(action_json), None))
        results = run["action_results"]
        run.update(
            action=spec["action"],
            progress=connector.progress,
            log=connector.log,
            summary={
                "total_objects": len(results),
                "total_objects_successful": sum(result["status"] == "success" for result in results),
            },
        )
        return run

    def run_playbook(
        self,
        playbook: Any,
        container_id: int,
        inputs: Optional[dict[str, list[Any]]] = None,
        output_spec: Optional[list[dict[str, Any]]] = None,
    ) -> dict[str, list[Any]]:
        """Run a playbook module on a container, from on_start to on_finish; an
        input playbook with its ``inputs``. Returns the outputs its
        ``output_spec`` (of its JSON) declares: per output, the values saved at
        its data paths (``block:custom_function:name``, run data ``block:name``), joined."""
        self.container = dict(self.containers[container_id])
        self.action_runs, self.filtered, self.inputs, self.run_data = {}, {}, dict(inputs or {}), {}
        playbook.on_start(self.container)
        playbook.on_finish(self.container, {})
        outputs: dict[str, list[Any]] = {}
        for output in output_spec or []:
            values = outputs.setdefault(output["name"], [])
            for path in output["datapaths"]:
                block, kind, name = path.split(":")
                assert kind == "custom_function", path
                saved = self.run_data.get(f"{block}:{name}")
                if saved is not None:
                    value = json.loads(saved)
                    values.extend(value if isinstance(value, list) else [value])
        return outputs


def app_json(app_dir: Path) -> dict[str, Any]:
    for candidate in sorted(Path(app_dir).glob("*.json")):
        data = json.loads(candidate.read_text())
        if isinstance(data, dict) and "appid" in data:
            return data
    raise FileNotFoundError(f"no app JSON in {app_dir}")


_classes: dict[Path, type] = {}


def connector_class(app_dir: Path) -> type:
    """The BaseConnector subclass the app's main module declares."""
    app_dir = Path(app_dir).resolve()
    if app_dir not in _classes:
        main = app_dir / app_json(app_dir)["main_module"]
        spec = importlib.util.spec_from_file_location(f"soar_app_{len(_classes)}_{main.stem}", main)
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # as an import would: classes find their module by name
        spec.loader.exec_module(module)
        _classes[app_dir] = next(
            value
            for value in vars(module).values()
            if inspect.isclass(value) and issubclass(value, BaseConnector) and value.__module__ == module.__name__
        )
    return _classes[app_dir]


PLATFORM = Platform()
