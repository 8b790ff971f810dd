"""The ``spectraanalyze`` options, parsed once per search with messages the
user sees (splunklib's own validators only say "Illegal value")."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Optional

from ..actions import parse_question
from ..config import MAX_BATCH_SIZE
from ..errors import InputError
from ..lookup import Question
from ..params import parse_bool, parse_number

ACTIONS = {"report": False, "summary": True}  # action -> with the threat indicator summary
DEFAULT_PREFIX = "rl_"
SYNTAX = (
    "spectraanalyze field=<hash field> [action=report|summary] [fields=<api fields>] [prefix=rl_] "
    "[skip_reanalysis=true|false] [batch_size=<1-1000>] [appliance=<name>]"
)
_FIELD_NAME = re.compile(r"[\w.:-]+")  # letters and digits of any script: JSON logs name fields in their language
_PREFIX = re.compile(r"[A-Za-z][A-Za-z0-9_]*")


@dataclass(frozen=True)
class CommandOptions:
    field: str
    with_summary: bool
    question: Question
    prefix: str
    batch_size: Optional[int]
    appliance: Optional[str] = None  # None: the default appliance


def parse_options(options: Mapping[str, Optional[str]], positional: Sequence[str] = ()) -> CommandOptions:
    """Options as given in the search (strings or None). Raises ``InputError``."""
    if positional:
        raise InputError(f"unexpected argument {positional[0]!r}; the syntax is: {SYNTAX}")
    field = (options.get("field") or "").strip()
    if not field:
        raise InputError(f"field=<hash field> is required, e.g. | spectraanalyze field=file_hash. Syntax: {SYNTAX}")
    if not _FIELD_NAME.fullmatch(field):
        raise InputError(f"field: {field!r} is not a field name")
    action = (options.get("action") or "report").strip().lower()
    if action not in ACTIONS:
        raise InputError(f"action: expected report or summary, got {options.get('action')!r}")
    prefix = options.get("prefix")
    prefix = DEFAULT_PREFIX if prefix is None else prefix.strip()
    if not _PREFIX.fullmatch(prefix):
        raise InputError(f"prefix: expected a letter then letters, digits or underscores (e.g. rl_), got {prefix!r}")
    batch_size = parse_number(
        "batch_size", options.get("batch_size"), None, minimum=1, maximum=MAX_BATCH_SIZE, integer=True
    )
    parse_bool("skip_reanalysis", options.get("skip_reanalysis"), True)  # its message names the values
    question = parse_question(
        {"fields": options.get("fields"), "skip_reanalysis": options.get("skip_reanalysis")}, ACTIONS[action]
    )
    return CommandOptions(
        field=field,
        with_summary=ACTIONS[action],
        question=question,
        prefix=prefix,
        batch_size=int(batch_size) if batch_size is not None else None,
        appliance=(options.get("appliance") or "").strip() or None,
    )
