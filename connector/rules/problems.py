"""The error a bad rules file raises, and how its messages are worded."""

from __future__ import annotations

import difflib
from collections.abc import Collection, Sequence
from typing import Optional, Union

from ..errors import InputError


class RulesError(InputError):
    """A rules file that cannot be used; the message names the rule and field."""


Where = tuple[Union[str, int], ...]


class RuleProblem(Exception):
    """A problem at a place inside one rule (a tuple of keys and indexes),
    before the file and rule are named. ``choices`` lists the valid values,
    for a hint."""

    def __init__(
        self, where: Where, problem: str, *, given: Optional[str] = None, choices: Collection[str] = ()
    ) -> None:
        super().__init__(problem)
        self.where = where
        self.problem = problem + hint(given, choices)


def near_miss(given: str, choices: Collection[str]) -> Optional[str]:
    """The choice ``given`` is most likely a misspelling of, if any."""
    close = difflib.get_close_matches(given, list(choices), n=1)
    return close[0] if close else None


def hint(given: Optional[str], choices: Collection[str]) -> str:
    """' (did you mean "x"?)' for a near miss, else '; expected one of: ...'."""
    if given is None or not choices:
        return ""
    close = near_miss(given, choices)
    return f' (did you mean "{close}"?)' if close else "; expected one of: " + ", ".join(choices)


def location(steps: Sequence[Union[str, int]]) -> str:
    """Path steps as text: when.all[0].op, set_fields["event.severity"]."""
    text = ""
    for step in steps:
        if isinstance(step, int):
            text += f"[{step}]"
        elif step.isidentifier():
            text += f".{step}" if text else step
        else:
            text += f'["{step}"]'
    return text
