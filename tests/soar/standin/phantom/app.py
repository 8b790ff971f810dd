"""``phantom.app``: the status codes, and the app classes re-exported."""

from typing import Any

APP_SUCCESS = True
APP_ERROR = False


def is_fail(status: Any) -> bool:
    return not status


def is_success(status: Any) -> bool:
    return bool(status)


def __getattr__(name: str) -> Any:
    # ``from phantom.app import BaseConnector, ActionResult`` works as on SOAR;
    # resolved late because those modules import this one.
    if name == "BaseConnector":
        from .base_connector import BaseConnector

        return BaseConnector
    if name == "ActionResult":
        from .action_result import ActionResult

        return ActionResult
    raise AttributeError(name)
