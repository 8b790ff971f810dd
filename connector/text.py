"""Text that UTF-8 can hold, in and out.

A Python string may hold a lone surrogate: a JSON escape such as
``"\\ud800"`` without its pair parses to one. UTF-8 cannot encode it, so a
strict encoding fails the whole output: a Splunk chunk, an alert's events, an
``enrich`` run.

- Out, ``encode_line`` writes it with ``backslashreplace``: ``\\ud800``, which
  inside a JSON string is that same escape again, so the line stays valid
  UTF-8 and valid JSON and reads back as the value that was written
  (surrogates only occur inside strings, so the escape never lands outside one).
- In, ``replace_lone_surrogates`` makes an appliance's answer text: each lone
  surrogate becomes U+FFFD, the replacement character, before any adapter
  writes it (a CSV cell for Splunk carries no JSON escapes).
"""

from __future__ import annotations

import json
import re
from typing import Any

_LONE_SURROGATE = re.compile("[\ud800-\udfff]")  # a pair parses to one character: any left is alone


SHORTENED = 200  # characters of a value a user gave that a record or message repeats


def shortened(value: str, limit: int = SHORTENED) -> str:
    """``value``, cut to ``limit`` characters: what a user gave is repeated
    back (an invalid hash, say), but a 5 MB line must not be, in every record
    and message that names it."""
    return value if len(value) <= limit else value[:limit] + "..."


def quoted(value: Any) -> str:
    """``repr(value)`` cut like ``shortened``: for a message that quotes what a user gave."""
    return shortened(repr(value))


def encode_line(value: Any) -> bytes:
    """``value`` as one line of JSON in UTF-8 (no line terminator)."""
    return json.dumps(value, ensure_ascii=False).encode("utf-8", "backslashreplace")


def replace_lone_surrogates(value: Any, source: bytes) -> Any:
    """``value``, parsed from the JSON ``source``, with every lone surrogate
    of its strings (keys too) replaced by U+FFFD. Only a source with a
    ``\\uD...`` escape or a byte 0xED (the lead byte json decodes a raw
    surrogate from) can hold one: others are returned as they are, unwalked."""
    if b"\\ud" not in source and b"\\uD" not in source and b"\xed" not in source:
        return value
    return _replaced(value)


def _replaced(value: Any) -> Any:
    if isinstance(value, str):
        return _LONE_SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [_replaced(item) for item in value]
    if isinstance(value, dict):
        return {_replaced(key): _replaced(item) for key, item in value.items()}
    return value
