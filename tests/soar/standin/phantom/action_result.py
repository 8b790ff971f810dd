"""``phantom.action_result.ActionResult``: the result of one parameter set."""

from typing import Any, Optional

from . import app as phantom


class ActionResult:
    """A parameter set's status, message, data items and summary. It starts
    failed: an app that never sets a status has not succeeded."""

    def __init__(self, param: Optional[dict[str, Any]] = None) -> None:
        self.__param = dict(param or {})
        self.__data: list[Any] = []
        self.__summary: dict[str, Any] = {}
        self.__status = phantom.APP_ERROR
        self.__message = ""

    def set_status(
        self, status_code: bool, status_message: str = "", exception: Optional[BaseException] = None
    ) -> bool:
        self.__status = status_code
        self.__message = status_message + (f" {exception}" if exception is not None else "")
        return status_code

    def get_status(self) -> bool:
        return self.__status

    def is_fail(self) -> bool:
        return phantom.is_fail(self.__status)

    def is_success(self) -> bool:
        return phantom.is_success(self.__status)

    def get_message(self) -> str:
        return self.__message

    def append_to_message(self, message: str) -> None:
        self.__message += message

    def add_data(self, item: Any) -> None:
        self.__data.append(item)

    def update_data(self, items: list[Any]) -> None:
        self.__data.extend(items)

    def get_data(self) -> list[Any]:
        return self.__data

    def get_data_size(self) -> int:
        return len(self.__data)

    def update_summary(self, summary: dict[str, Any]) -> dict[str, Any]:
        self.__summary.update(summary)
        return self.__summary

    def set_summary(self, summary: dict[str, Any]) -> dict[str, Any]:
        self.__summary = dict(summary)
        return self.__summary

    def get_summary(self) -> dict[str, Any]:
        return self.__summary

    def get_param(self) -> dict[str, Any]:
        return self.__param

    def update_param(self, param: dict[str, Any]) -> None:
        self.__param.update(param)

    def set_param(self, param: dict[str, Any]) -> None:
        self.__param = dict(param)

    def get_dict(self) -> dict[str, Any]:
        """What the platform stores: the shape playbooks' data paths read."""
        return {
            "status": "success" if self.is_success() else "failed",
            "message": self.__message,
            "parameter": self.__param,
            "data": self.__data,
            "summary": self.__summary,
        }
