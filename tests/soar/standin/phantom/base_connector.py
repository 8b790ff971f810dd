"""``phantom.base_connector.BaseConnector``, as SOAR's docs describe it.

actiond calls ``_handle_action(action_json, handle)``. The base class loads
the app JSON found beside the module that defines the connector class,
calls ``initialize()`` once, then, for every parameter dictionary, checks
the required parameters and ``validate_parameters()`` (the ``contains``
validators) and calls ``handle_action()``; last ``finalize()``.
"""

import inspect
import json
import re
import tempfile
from pathlib import Path
from typing import Any, Optional

from . import app as phantom
from .action_result import ActionResult

_HEX = {"md5": 32, "sha1": 40, "sha256": 64, "sha512": 128}
# The platform's validators of some contains types.
VALIDATORS = {kind: re.compile(f"[0-9a-fA-F]{{{length}}}") for kind, length in _HEX.items()}
VALIDATORS["hash"] = re.compile("|".join(pattern.pattern for pattern in VALIDATORS.values()))


# SOAR keeps each app's state under local_data/app_states/<appid>; the stand-in
# platform points this at a test folder.
STATE_ROOT = Path(tempfile.gettempdir()) / "phantom-app-states"


class BaseConnector:
    """The base of every app's connector class."""

    def __init__(self) -> None:
        self.__action_json: dict[str, Any] = {}
        self.__app_json: dict[str, Any] = {}
        self.__action_results: list[ActionResult] = []
        self.__current_param: dict[str, Any] = {}
        self.__status = phantom.APP_SUCCESS
        self.__message = ""
        # Not SOAR API: what the platform would keep of the run, for tests to read.
        self.progress: list[str] = []
        self.log: list[str] = []

    # What actiond calls.
    def _handle_action(self, in_json: str, handle: Any) -> str:
        self.__action_json = json.loads(in_json)
        if self._load_app_json() and phantom.is_success(self.initialize()):
            for param in self.__action_json.get("parameters") or [{}]:
                self.__current_param = param
                problem = self._missing_parameter(param)
                if problem:
                    self.add_action_result(ActionResult(param)).set_status(phantom.APP_ERROR, problem)
                elif phantom.is_fail(self.validate_parameters(param)):
                    self.add_action_result(ActionResult(param)).set_status(
                        phantom.APP_ERROR, "Parameter validation failed: a value does not match its contains type"
                    )
                else:
                    self.handle_action(param)
            self.finalize()
        elif not self.__message:
            self.set_status(phantom.APP_ERROR, "initialize failed")
        return json.dumps(
            {
                "status": "success" if self._succeeded() else "failed",
                "message": self.__message,
                "action_results": [result.get_dict() for result in self.__action_results],
            }
        )

    def _succeeded(self) -> bool:
        return phantom.is_success(self.__status) and any(result.is_success() for result in self.__action_results)

    def _load_app_json(self) -> bool:
        module_file = Path(inspect.getfile(type(self)))
        for candidate in sorted(module_file.parent.glob("*.json")):
            try:
                app_json = json.loads(candidate.read_text())
            except ValueError:
                continue
            if isinstance(app_json, dict) and Path(str(app_json.get("main_module"))).stem == module_file.stem:
                self.__app_json = app_json
                return True
        self.set_status(phantom.APP_ERROR, "Could not load Connector: no app JSON names this module")
        return False

    def _action_spec(self) -> dict[str, Any]:
        identifier = self.get_action_identifier()
        return next((spec for spec in self.__app_json.get("actions", []) if spec["identifier"] == identifier), {})

    def _missing_parameter(self, param: dict[str, Any]) -> Optional[str]:
        for name, spec in self._action_spec().get("parameters", {}).items():
            if spec.get("required") and param.get(name) in (None, ""):
                return f"Mandatory parameter '{name}' missing"
        return None

    # Methods an app overrides.
    def initialize(self) -> bool:
        return phantom.APP_SUCCESS

    def handle_action(self, param: dict[str, Any]) -> bool:
        raise NotImplementedError("every app implements handle_action")

    def finalize(self) -> bool:
        return phantom.APP_SUCCESS

    def validate_parameters(self, param: dict[str, Any]) -> bool:
        """Each value of a parameter with validated contains types must match one of them."""
        for name, spec in self._action_spec().get("parameters", {}).items():
            checks = [VALIDATORS[kind] for kind in spec.get("contains", []) if kind in VALIDATORS]
            value = param.get(name)
            if checks and value not in (None, "") and not any(check.fullmatch(str(value)) for check in checks):
                return phantom.APP_ERROR
        return phantom.APP_SUCCESS

    # The app authoring API.
    def get_config(self) -> dict[str, Any]:
        return self.__action_json.get("config", {})

    def get_action_identifier(self) -> str:
        return self.__action_json.get("identifier", "")

    def get_asset_id(self) -> str:
        return self.__action_json.get("asset_id", "")

    def get_container_id(self) -> Any:
        return self.__action_json.get("container_id")

    def get_app_json(self) -> dict[str, Any]:
        return self.__app_json

    def get_app_id(self) -> str:
        return self.__app_json.get("appid", "")

    def get_state_dir(self) -> str:
        folder = STATE_ROOT / self.get_app_id()
        folder.mkdir(parents=True, exist_ok=True)
        return str(folder)

    def get_current_param(self) -> dict[str, Any]:
        return self.__current_param

    def add_action_result(self, action_result: ActionResult) -> ActionResult:
        self.__action_results.append(action_result)
        return action_result

    def remove_action_result(self, action_result: ActionResult) -> ActionResult:
        self.__action_results.remove(action_result)
        return action_result

    def get_action_results(self) -> list[ActionResult]:
        return self.__action_results

    def save_progress(self, progress_str_const: str, *unnamed_format_args: Any, **named_format_args: Any) -> None:
        message = progress_str_const
        if unnamed_format_args or named_format_args:
            message = (message % unnamed_format_args).format(**named_format_args)
        self.progress.append(message)

    def send_progress(self, progress_str_const: str, *unnamed_format_args: Any, **named_format_args: Any) -> None:
        self.save_progress(progress_str_const, *unnamed_format_args, **named_format_args)

    def debug_print(self, tag: str, dump_object: Any = "") -> None:
        self.log.append(f"DEBUG {tag} {dump_object}")

    def error_print(self, tag: str, dump_object: Any = "") -> None:
        self.log.append(f"ERROR {tag} {dump_object}")

    def set_status(
        self, status_code: bool, status_message: str = "", exception: Optional[BaseException] = None
    ) -> bool:
        self.__status = status_code
        self.__message = status_message + (f" {exception}" if exception is not None else "")
        return status_code

    def set_status_save_progress(self, status_code: bool, status_message: str = "") -> bool:
        self.save_progress(status_message)
        return self.set_status(status_code, status_message)

    def append_to_message(self, message: str) -> None:
        self.__message += message

    def get_status(self) -> bool:
        return self.__status

    def get_status_message(self) -> str:
        return self.__message

    def is_fail(self) -> bool:
        return phantom.is_fail(self.__status)

    def is_success(self) -> bool:
        return phantom.is_success(self.__status)
