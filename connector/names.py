"""The words every surface shares: a record's status, an action result's
status and the action names. Each is a ``str`` enum, so a member equals
(and hashes as) its plain value: ``record["status"] == Status.FOUND``.

Records and results hold the plain ``str`` values (``Status.FOUND.value``),
never the members: the platforms' writers, the Splunk fast path among them,
take a value's exact class to mean "written as it is".
"""

from __future__ import annotations

from enum import Enum


class _Word(str, Enum):
    """A ``str`` enum whose ``str()`` and ``format()`` are its value, on every
    Python (3.12 changed ``format()`` of mixed-in enums to the member name)."""

    def __str__(self) -> str:
        return str(self.value)

    def __format__(self, spec: str) -> str:
        return format(str(self.value), spec)


class Status(_Word):
    """A record's status: what became of one input hash."""

    FOUND = "found"
    NOT_FOUND = "not_found"
    INVALID = "invalid"  # never looked up: not a hash
    ERROR = "error"
    NO_HASH = "no_hash"  # Splunk only: an event with no value in the hash field


class ResultStatus(_Word):
    """An action result's status."""

    SUCCESS = "success"
    PARTIAL = "partial"  # some hashes answered, some lookups failed
    FAILED = "failed"  # no lookup got through


class Action(_Word):
    """The actions every platform runs."""

    GET_REPORT = "get_report"
    GET_SUMMARY = "get_summary"
    FILE_REPUTATION = "file_reputation"
    TEST_CONNECTIVITY = "test_connectivity"
    CLEAR_CACHE = "clear_cache"


# The statuses an action counts, in the order they are shown.
STATUSES = tuple(status.value for status in (Status.FOUND, Status.NOT_FOUND, Status.INVALID, Status.ERROR))
