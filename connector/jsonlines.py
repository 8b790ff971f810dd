"""JSON lines as the tools write them: UTF-8, every character as it is.

A string may hold a lone surrogate (``"\\ud800"`` in a JSON input is one):
UTF-8 cannot encode it, and a strict encoding would fail the whole output.
Written with ``backslashreplace`` it becomes ``\\ud800``, which inside a JSON
string is that same escape again: the line stays valid UTF-8 and valid JSON
and reads back as the value that was written. Surrogates can only occur
inside strings, so the escape never lands outside one.
"""
from __future__ import annotations

import json
from typing import Any


def encode_line(value: Any) -> bytes:
    """``value`` as one line of JSON in UTF-8 (no line terminator)."""
    return json.dumps(value, ensure_ascii=False).encode("utf-8", "backslashreplace")
