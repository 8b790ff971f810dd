"""Loading a rules file: JSON, checked against ``schemas/rules.schema.json``,
then compiled. Every problem becomes one ``RulesError`` line naming the file,
the rule and the field, e.g.::

    triage.json: rule 2 "unknown-to-sandbox": when.any[0].op: must be one of:
    eq, ne, in, not_in, gt, gte, lt, lte, contains, regex, exists; got "equals"
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any, Optional, Union

import fastjsonschema

from ..actions import SUPPORTED_FIELDS
from ..names import Action
from ..textfiles import TextFileError, read_text
from ..validation import validator
from .conditions import MAX_NESTING, check_field, compile_condition
from .effects import Effects, Targets, compile_effects
from .model import Rule, RuleSet
from .problems import RuleProblem, RulesError, Where, hint, location, near_miss
from .templates import FieldCheck

_TYPE_NAMES = {
    "string": "a string",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
    "array": "a list",
    "object": "an object",
    "null": "null",
}
# Schema keywords best explained by the failing node's errorMessage alone, and
# those where it is added after the generic wording.
_OWN_MESSAGE = ("pattern", "const", "not")
_ADDED_MESSAGE = ("required", "minProperties", "additionalProperties")


def load_rules(path: Union[str, Path]) -> RuleSet:
    """Read and compile a rules file; raises ``RulesError``."""
    source = Path(path)
    try:
        text = read_text(str(source), what="the rules file")
    except TextFileError as err:
        raise RulesError(str(err)) from None
    try:
        document = json.loads(text)
    except ValueError as err:
        raise RulesError(f"{source}: not valid JSON: {err}") from None
    except RecursionError:  # json's answer to arrays or objects nested thousands deep
        raise RulesError(f"{source}: not valid JSON: nested too deeply") from None
    return parse_rules(document, source=str(source))


def parse_rules(document: Any, source: str = "rules") -> RuleSet:
    """Compile a rules document already parsed from JSON; raises ``RulesError``."""
    try:
        return _parse(document, source)
    except RecursionError:  # validating conditions nested some hundreds deep
        raise RulesError(
            f"{source}: conditions are nested too deeply (at most {MAX_NESTING} levels of all, any and not)"
        ) from None


def _parse(document: Any, source: str) -> RuleSet:
    try:
        validator("rules")(document)
    except fastjsonschema.JsonSchemaValueException as err:
        steps, problem = _schema_problem(err)
        raise RulesError(_message(source, document, steps, problem)) from None
    defaults = document.get("defaults", {})
    rules: list[Rule] = []
    for index, spec in enumerate(document["rules"]):
        try:
            _check_unique(spec["name"], rules)
            rules.append(_compile_rule(spec, defaults))
        except RuleProblem as problem:
            raise RulesError(_message(source, document, ("rules", index) + problem.where, problem.problem)) from None
    return RuleSet(
        rules=tuple(rules),
        prefix=document.get("prefix", "rl_"),
        enrichment_field=document.get("enrichment_field", "enrichment"),
        targets=Targets(**document.get("targets", {})),
        source=source,
    )


def _check_unique(name: str, earlier: Sequence[Rule]) -> None:
    for number, rule in enumerate(earlier, 1):
        if rule.name == name:
            raise RuleProblem(("name",), f'"{name}" is already the name of rule {number}; rule names must differ')


def _compile_rule(spec: Mapping[str, Any], defaults: Mapping[str, Any]) -> Rule:
    hash_fields = _setting(spec, defaults, "hash_fields")[1]
    if hash_fields is None:
        raise RuleProblem(
            (), 'missing "hash_fields": name the alert fields that hold hashes, on the rule or in "defaults"'
        )
    lookup_where, lookup = _setting(spec, defaults, "lookup")
    action = (lookup or {}).get("action", Action.GET_REPORT.value)
    with_summary = action == Action.GET_SUMMARY
    check: FieldCheck = partial(check_field, with_summary=with_summary)
    on_error_where, on_error = _setting(spec, defaults, "on_error")
    return Rule(
        name=spec["name"],
        hash_fields=tuple(hash_fields),
        action=action,
        fields=_lookup_fields((lookup or {}).get("fields"), lookup_where + ("fields",)),
        match=_setting(spec, defaults, "match")[1] or "worst",
        when=compile_condition(spec["when"], ("when",), with_summary=with_summary) if "when" in spec else None,
        then=compile_effects(spec["then"], ("then",), check),
        otherwise=compile_effects(spec["else"], ("else",), check) if "else" in spec else None,
        stop=spec.get("stop", False),
        on_error=_on_error(on_error, on_error_where, check),
    )


def _setting(spec: Mapping[str, Any], defaults: Mapping[str, Any], key: str) -> tuple[Where, Any]:
    """Where a setting comes from (for messages) and its value: the rule's own, else the default."""
    if key in spec:
        return (key,), spec[key]
    return ("defaults", key), defaults.get(key)


def _on_error(value: Any, where: Where, check: FieldCheck) -> Optional[Effects]:
    if value is None or value == "mark":
        return None
    return compile_effects(value, where, check)


def _lookup_fields(fields: Optional[Sequence[str]], where: Where) -> Optional[tuple[str, ...]]:
    if fields is None:
        return None
    for index, name in enumerate(fields):
        if name not in SUPPORTED_FIELDS:
            raise RuleProblem(where + (index,), f'unknown report field "{name}"', given=name, choices=SUPPORTED_FIELDS)
    return tuple(dict.fromkeys(fields))


def _schema_problem(err: fastjsonschema.JsonSchemaValueException) -> tuple[Where, str]:
    """The path (after fastjsonschema's ``data``) and the problem in plain words."""
    steps: Where = tuple(int(step) if step.isdigit() else step for step in err.path[1:])
    rule, value, node = err.rule or "", err.value, err.definition if isinstance(err.definition, dict) else {}
    own = node.get("errorMessage")
    if rule == "propertyNames":
        pattern = re.compile(err.rule_definition["pattern"])
        bad = next(key for key in value if not pattern.fullmatch(key))
        return steps + (bad,), f'{err.rule_definition["errorMessage"]}; got "{bad}"'
    if rule in _OWN_MESSAGE and own:
        return steps, own if rule == "not" else f"{own}; got {_show(value)}"
    problem = _generic_problem(rule, value, err.rule_definition, node) or err.message.split(" ", 1)[-1]
    if rule in _ADDED_MESSAGE and own:
        problem += f"; {own}"
    return steps, problem


def _generic_problem(rule: str, value: Any, expected: Any, node: Mapping[str, Any]) -> str:
    if rule == "required":
        missing = [name for name in expected if name not in value]
        unknown = [key for key in value if key not in node.get("properties", {})]
        typo = next((key for key in unknown if near_miss(key, missing)), None)
        found = f'; found "{typo}"{hint(typo, missing)}' if typo else ""
        return "missing " + " and ".join(f'"{name}"' for name in missing) + found
    if rule == "additionalProperties":
        allowed = list(node.get("properties", {}))
        extra = next(key for key in value if key not in allowed)
        return f'unknown field "{extra}"' + hint(extra, allowed)
    if rule == "type":
        kinds = expected if isinstance(expected, list) else [expected]
        return f"must be {' or '.join(_TYPE_NAMES.get(kind, str(kind)) for kind in kinds)}; got {_show(value)}"
    if rule == "enum":
        choices = [str(choice) for choice in expected]
        if isinstance(value, str) and near_miss(value, choices):
            return f"got {_show(value)}{hint(value, choices)}"
        return f"must be one of: {', '.join(choices)}; got {_show(value)}"
    if rule == "const":
        return f"must be {_show(expected)}; got {_show(value)}"
    if rule in ("minItems", "minLength", "minProperties") and expected == 1:
        return "must not be empty"
    return ""


def _message(source: str, document: Any, steps: Sequence[Any], problem: str) -> str:
    """``file: rule N "name": path: problem``; no rule part outside the rules."""
    parts = [source]
    if len(steps) >= 2 and steps[0] == "rules" and isinstance(steps[1], int):
        spec = document["rules"][steps[1]]
        name = spec.get("name") if isinstance(spec, dict) else None
        parts.append(f"rule {steps[1] + 1}" + (f' "{name}"' if isinstance(name, str) else ""))
        steps = steps[2:]
    if steps:
        parts.append(location(steps))
    return _printable(": ".join(parts + [problem]))


def _printable(text: str) -> str:
    """Control characters of names quoted from the file, escaped: the message
    stays one line and cannot drive a terminal."""
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in text)


def _show(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."
