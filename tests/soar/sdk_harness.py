"""Run under splunk-soar-sdk's Python (``.venv-soarsdk``, 3.13), by
``test_soar_sdk.py``: Splunk's own code checks the built SOAR app.

``manifest APP_JSON``: the app JSON through the SDK's manifest deserializer
(``AppMetaDeserializer``, which builds its ``AppMeta`` and ``ActionMeta``
models), as it is and with the two excused constraints met; prints JSON.

``run``: reads a spec (JSON on stdin), puts only the app folder, the app's
bundled wheels for Python 3.13 and the SDK's own packages on ``sys.path``,
maps the classic ``phantom`` modules to the SDK's shims, runs the app's
connector for each action JSON and prints every action result as JSON.

The SDK's shims lack two things of the classic API the app uses; this
harness fills exactly these and nothing else:

1. ``ActionResult.update_summary(summary)``, which merges keys into the
   result's summary;
2. the platform's calls of ``initialize()`` before the first ``handle_action``
   and of ``finalize()`` after the last, which the shim's ``_handle_action``
   does not make.
"""

import json
import sys
from pathlib import Path
from typing import Any

# What the SDK's models reject in a classic app that runs on SOAR today (Splunk's own classic apps break
# them too): they describe apps made with the SDK, for SOAR 7 and later.
EXCUSED = {
    "python_version": "the SDK's apps run on Python 3.13 only; this classic app also declares 3.9, which "
    "SOAR 6.x runs apps on",
    "category": "the SDK requires a category on every asset field; the classic app JSON has none",
}


def excused(error: dict[str, Any]) -> str:
    """The reason an SDK validation error is excused, or ""."""
    location = tuple(error["loc"])
    if location == ("python_version",) and "3.9" in error["msg"]:
        return EXCUSED["python_version"]
    if (
        len(location) == 3
        and location[0] == "configuration"
        and location[2] == "category"
        and error["type"] == "missing"
    ):
        return EXCUSED["category"]
    return ""


def manifest(path: Path) -> dict[str, Any]:
    from pydantic import ValidationError
    from soar_sdk.cli.manifests.deserializers import AppMetaDeserializer

    errors: list[dict[str, Any]] = []
    try:
        AppMetaDeserializer.from_app_json(path)
    except ValidationError as err:
        errors = [
            {"loc": list(error["loc"]), "msg": error["msg"], "type": error["type"], "excused": excused(error)}
            for error in err.errors()
        ]
    met = path.with_name("excuses-met-" + path.name)
    app = json.loads(path.read_text())
    app["python_version"] = "3.13"
    for field in app["configuration"].values():
        field["category"] = "connectivity"
    met.write_text(json.dumps(app))
    deserialized = AppMetaDeserializer.from_app_json(met)  # raises on anything not excused
    actions = {}
    for action in deserialized.app_meta.actions:
        dumped = action.model_dump()
        actions[action.identifier] = {
            "type": dumped["type"],
            "read_only": dumped["read_only"],
            "parameters": {
                name: {
                    "contains": spec.get("contains"),
                    "primary": spec.get("primary"),
                    "data_type": spec.get("data_type"),
                }
                for name, spec in dumped["parameters"].items()
            },
            "data_paths": {
                output["data_path"]: {"data_type": output.get("data_type"), "contains": output.get("contains")}
                for output in dumped["output"]
            },
        }
    return {"errors": errors, "actions": actions, "custom_views": deserialized.actions_with_custom_views}


def use_the_sdk_shims_as_phantom() -> dict[str, Any]:
    """Import the SDK's shims (no ``phantom`` exists here, so they define
    themselves) and make them the classic ``phantom`` modules."""
    import types

    from soar_sdk.shims.phantom import action_result, app, base_connector

    package = types.ModuleType("phantom")
    package.__path__ = []  # a package: ``import phantom.app`` looks up sys.modules
    for name, module in (("app", app), ("action_result", action_result), ("base_connector", base_connector)):
        setattr(package, name, module)
        sys.modules[f"phantom.{name}"] = module
    sys.modules["phantom"] = package
    fill_gaps(action_result.ActionResult, base_connector.BaseConnector)
    return {"action_result": action_result, "base_connector": base_connector}


def fill_gaps(result_class: Any, connector_class: Any) -> None:
    assert not hasattr(result_class, "update_summary"), "gap 1 is gone: drop its fill"

    def update_summary(self: Any, summary: dict[str, Any]) -> dict[str, Any]:
        merged = dict(self.get_summary() or {}, **summary)
        self.set_summary(merged)
        return merged

    result_class.update_summary = update_summary

    shim_handle_action = connector_class._handle_action

    def _handle_action(self: Any, in_json: str, handle: Any) -> str:
        started = []
        handle_action = self.handle_action

        def first_initializes(param: dict[str, Any]) -> Any:
            if not started:
                started.append(True)
                assert self.initialize(), "initialize failed"
            return handle_action(param)

        self.handle_action = first_initializes
        try:
            return shim_handle_action(self, in_json, handle)
        finally:
            if started:
                self.finalize()

    connector_class._handle_action = _handle_action


def run(spec: dict[str, Any]) -> dict[str, Any]:
    import importlib.util

    shims = use_the_sdk_shims_as_phantom()
    app_dir = Path(spec["app_dir"])
    app = json.loads((app_dir / spec["app_json"]).read_text())
    main = importlib.util.spec_from_file_location(Path(app["main_module"]).stem, app_dir / app["main_module"])
    module = importlib.util.module_from_spec(main)
    sys.modules[main.name] = module
    main.loader.exec_module(module)
    base = shims["base_connector"].BaseConnector
    [connector_class] = [
        value
        for value in vars(module).values()
        if isinstance(value, type) and issubclass(value, base) and value.__module__ == main.name
    ]
    runs = {}
    for name, action_json in spec["actions"]:
        connector = connector_class()
        progress: list[str] = []
        connector.save_progress = lambda message, *args, progress=progress, **kwargs: progress.append(str(message))
        connector._handle_action(json.dumps(action_json), None)
        runs[name] = {
            "progress": progress,
            "results": [
                {
                    "status": result.get_status(),
                    "message": result.get_message(),
                    "parameter": result.get_param(),
                    "data": result.get_data(),
                    "summary": result.get_summary(),
                }
                for result in connector.get_action_results()
            ],
        }
    import fastjsonschema
    import requests

    import connector as core

    modules = {module.__name__: module.__file__ for module in (core, fastjsonschema, requests)}
    modules["phantom.base_connector"] = sys.modules["phantom.base_connector"].__file__
    return {"runs": runs, "modules": modules}


if __name__ == "__main__":
    if sys.argv[1] == "manifest":
        print(json.dumps(manifest(Path(sys.argv[2]))))
    else:
        given = json.load(sys.stdin)
        sys.path[:0] = given["path"]
        print(json.dumps(run(given)))
