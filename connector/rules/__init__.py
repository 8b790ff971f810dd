"""Alert enrichment rules: a declarative JSON format
(``schemas/rules.schema.json``), its loader and its engine.

Core capability: it imports only the core, and the CLI, the Splunk alert
action and other adapters import it.
"""

from __future__ import annotations

from .engine import (
    LOOKUP_ERROR,
    MATCHED,
    NOT_MATCHED,
    AlertEnricher,
    AlertResult,
    EnrichmentStats,
    apply_rules,
    hashes_in,
    judge,
    verdict_rank,
)
from .loader import load_rules, parse_rules
from .model import Rule, RuleSet
from .problems import RulesError

__all__ = [
    "AlertResult",
    "AlertEnricher",
    "EnrichmentStats",
    "LOOKUP_ERROR",
    "MATCHED",
    "NOT_MATCHED",
    "Rule",
    "RuleSet",
    "RulesError",
    "apply_rules",
    "hashes_in",
    "judge",
    "load_rules",
    "parse_rules",
    "verdict_rank",
]
