"""Hash parsing: strict validation, type detection, de-duplication."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Optional, Union

HASH_TYPES_BY_LENGTH = {32: "md5", 40: "sha1", 64: "sha256", 128: "sha512"}
HASH_TYPES = tuple(HASH_TYPES_BY_LENGTH.values())

# ASCII only and a full match: int(x, 16) takes non-ASCII digits and
# bytes.fromhex takes spaces, so neither is a validator.
_HEX = re.compile(r"[0-9a-f]+", re.ASCII)
_SEPARATORS = re.compile(r"[\s,;]+")


def normalize(value: str) -> str:
    """Trim and lower-case a hash as given."""
    return value.strip().lower()


def hash_type(value: str) -> Optional[str]:
    """The type of a normalized hash, or None when it is not a valid hash."""
    kind = HASH_TYPES_BY_LENGTH.get(len(value))
    if kind and _HEX.fullmatch(value):
        return kind
    return None


def split_hashes(value: Union[str, Iterable[str], None]) -> list[str]:
    """Split a platform's hash parameter (comma, whitespace, newline or
    semicolon separated string, or a list of such strings) into trimmed items,
    keeping order and duplicates; empty items are dropped."""
    if value is None:
        return []
    parts = [value] if isinstance(value, str) else list(value)
    items: list[str] = []
    for part in parts:
        items.extend(token for token in _SEPARATORS.split(str(part)) if token)
    return items


def invalid_reason(value: str) -> str:
    """Why a string is not a hash, for the record's error field."""
    if not value:
        return "empty hash"
    return f"not a valid hash ({len(value)} characters): expected hex MD5 (32), SHA1 (40), SHA256 (64) or SHA512 (128)"


def lookup_key(item: str) -> str:
    """What one item of a hash value is looked up and answered by: a valid
    hash normalized, anything else trimmed as it was given (its record says
    ``invalid``)."""
    normalized = normalize(item)
    return normalized if hash_type(normalized) else item.strip()


def lookup_keys(value: Union[str, Iterable[str], None]) -> list[str]:
    """The lookup key of each item of a hash value, split as on every
    platform (``split_hashes``), in order, duplicates kept: the one way every
    adapter finds the hashes in what it is given."""
    return [lookup_key(item) for item in split_hashes(value)]
