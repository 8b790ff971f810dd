"""Parsing of the strings platforms hand over: booleans, numbers, lists."""

from __future__ import annotations

import math
from typing import Any, Optional, Union

from .errors import InputError
from .text import quoted

_TRUE = {"true", "yes", "1", "on"}
_FALSE = {"false", "no", "0", "off"}


def parse_bool(name: str, value: Any, default: bool) -> bool:
    """A boolean from a platform value: true/false, yes/no, 1/0, on/off, or a bool."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return default
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise InputError(f"{name}: expected true or false, got {quoted(value)}")


def parse_number(
    name: str,
    value: Any,
    default: Optional[float],
    *,
    minimum: float,
    maximum: Optional[float] = None,
    integer: bool = False,
) -> Optional[float]:
    """A number from a platform value (a number, or its text), checked
    against its range; ``integer`` takes whole numbers only, 4.0 as 4."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return default
    kind = "a whole number" if integer else "a number"
    number = _number(value)
    if number is None:
        raise InputError(f"{name}: expected {kind}, got {quoted(value)}")
    if isinstance(number, float):
        if not math.isfinite(number):  # 'nan' passes every range check below
            raise InputError(f"{name}: expected a finite number, got {quoted(value)}")
        if integer and not number.is_integer():
            raise InputError(f"{name}: expected {kind}, got {quoted(value)}")
    if number < minimum or (maximum is not None and number > maximum):
        bounds = f"from {minimum:g} to {maximum:g}" if maximum is not None else f"of at least {minimum:g}"
        raise InputError(f"{name}: expected a value {bounds}, got {quoted(value)}")
    return int(number) if integer else float(number)


def _number(value: Any) -> Union[int, float, None]:
    """The number a platform value stands for: SOAR types a numeric 4 as
    4.0, a .conf file or a flag gives text. None when it is no number (a
    boolean is not one, although Python counts it as an int)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return value
    text = str(value).strip()
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return None


def split_list(value: Any) -> list[str]:
    """A comma separated string (spaces tolerated) or a list, as trimmed non-empty items."""
    if value is None:
        return []
    parts = value.split(",") if isinstance(value, str) else [str(v) for v in value]
    return [part.strip() for part in parts if part.strip()]
