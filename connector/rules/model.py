"""A loaded rules file: rules in order and the settings they share."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Optional

from ..flatten import SOURCE_FIELDS
from ..names import Action
from .conditions import Predicate
from .effects import Effects, Targets


@dataclass(frozen=True)
class Rule:
    """One compiled rule. ``on_error`` None means: mark the alert only."""

    name: str
    hash_fields: tuple[str, ...]
    action: str
    fields: Optional[tuple[str, ...]]
    match: str
    when: Optional[Predicate]
    then: Effects
    otherwise: Optional[Effects]
    stop: bool
    on_error: Optional[Effects]


@dataclass(frozen=True)
class RuleSet:
    """The rules of one file, compiled, and what their lookups share."""

    rules: tuple[Rule, ...]
    prefix: str = "rl_"
    enrichment_field: str = "enrichment"
    targets: Targets = Targets()
    source: str = "rules"

    @cached_property
    def action(self) -> str:
        """get_summary when any rule needs the summary: one lookup serves all rules."""
        summary = any(rule.action == Action.GET_SUMMARY for rule in self.rules)
        return (Action.GET_SUMMARY if summary else Action.GET_REPORT).value

    @property
    def fields(self) -> Optional[tuple[str, ...]]:
        """The report fields asked for: the union of the rules' fields, None
        (the record's own) when no rule names any. A rule that names none
        needs the record's own fields."""
        if all(rule.fields is None for rule in self.rules):
            return None
        merged = [name for rule in self.rules for name in (rule.fields or SOURCE_FIELDS)]
        return tuple(dict.fromkeys(merged))

    @cached_property
    def hash_fields(self) -> tuple[str, ...]:
        """Every rule's paths, each once (asked once an alert: made once)."""
        return tuple(dict.fromkeys(path for rule in self.rules for path in rule.hash_fields))
