"""Dotted paths into nested alerts: reading every value a path reaches and
writing one value.

A path such as ``file.hashes.sha256`` walks dictionaries key by key. A list
met on the way is searched item by item (a digit segment indexes it
instead), so ``files.sha256`` reaches the sha256 of every file. A key that
itself holds dots (``"file.sha256"`` in a flat Splunk result) is found too:
at each level the longest run of segments that is a key wins.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping, Sequence
from functools import lru_cache
from typing import Any, Optional


def values_at(node: Any, path: str) -> list[Any]:
    """Every leaf value the path reaches, lists flattened, in document order."""
    found: list[Any] = []
    _collect(node, _segments(path), found)
    return found


@lru_cache(maxsize=1024)
def _segments(path: str) -> tuple[str, ...]:
    return tuple(path.split("."))


def _collect(node: Any, segments: tuple[str, ...], found: list[Any]) -> None:
    """Add what ``segments`` reach from ``node`` to ``found``. A loop down
    dictionaries, a call only for each item of a list: every alert walks
    several paths, and a generator a level cost more than the walk."""
    while True:
        if isinstance(node, list):
            if segments and segments[0].isdigit():
                index = int(segments[0])
                if index >= len(node):
                    return
                node, segments = node[index], segments[1:]
                continue
            for item in node:
                _collect(item, segments, found)
            return
        if not segments:
            if node is not None:
                found.append(node)
            return
        if not isinstance(node, dict):
            return
        cut = _longest_key(node, segments)
        if cut is None:
            return
        key, rest = cut
        node, segments = node[key], tuple(rest)  # a tuple already: no copy


def _longest_key(node: Mapping[str, Any], segments: Sequence[str]) -> Optional[tuple[str, Sequence[str]]]:
    for key, rest in _cuts(tuple(segments)):
        if key in node:
            return key, rest
    return None


@lru_cache(maxsize=4096)
def _cuts(segments: tuple[str, ...]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """Each key the segments could start with, longest first, and what
    follows it: joined once per path, not once per alert."""
    return tuple((".".join(segments[:cut]), segments[cut:]) for cut in range(len(segments), 0, -1))


def get_value(node: MutableMapping[str, Any], path: str) -> Any:
    """The value a write to ``path`` would replace (None when absent)."""
    target = _target(node, path, create=False)
    return target[0].get(target[1]) if target else None


def set_value(node: MutableMapping[str, Any], path: str, value: Any) -> None:
    """Write ``value`` at ``path``, creating missing dictionaries on the way.
    When the way is blocked by a value that is not a dictionary, the whole
    path becomes one flat key, so that nothing already there is lost."""
    holder, key = _target(node, path, create=True) or (node, path)
    holder[key] = value


def _target(root: MutableMapping[str, Any], path: str, create: bool) -> Optional[tuple[MutableMapping[str, Any], str]]:
    """The dictionary and key a write to ``path`` goes to; None when reading
    a path whose dictionaries do not exist."""
    node, segments = root, path.split(".")
    while len(segments) > 1:
        found = _longest_key(node, segments)
        if found is None:
            if not create:
                return None
            node[segments[0]] = {}
            found = (segments[0], segments[1:])
        key, rest = found
        if not rest:
            return node, key
        if not isinstance(node[key], dict):
            return root, path
        node, segments = node[key], list(rest)
    return node, segments[0]
