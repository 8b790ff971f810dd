"""``{field}`` templates in effect values, filled from a verdict record.

``"{threat_family} ({riskscore}/10)"`` renders the record's values as text;
a value that is one template alone (``"{riskscore}"``) takes the record
value as it is, so numbers stay numbers and lists stay lists. ``{{`` and
``}}`` are literal braces.
"""

from __future__ import annotations

from collections.abc import Mapping
from string import Formatter
from typing import Any, Callable, Optional

from .problems import RuleProblem, Where

_FORMATTER = Formatter()


class Template:
    """A parsed template: literal text and record field names, alternating."""

    def __init__(self, parts: list[tuple[str, Optional[str]]]) -> None:
        self._parts = parts

    @property
    def single_field(self) -> Optional[str]:
        """The field name when the template is exactly one ``{field}``."""
        if len(self._parts) == 1 and not self._parts[0][0]:
            return self._parts[0][1]
        return None

    def render(self, record: Mapping[str, Any]) -> str:
        return "".join(literal + (as_text(record.get(name)) if name else "") for literal, name in self._parts)

    def value(self, record: Mapping[str, Any]) -> Any:
        """The record value itself for a lone ``{field}``, the rendered text otherwise."""
        single = self.single_field
        return record.get(single) if single else self.render(record)


FieldCheck = Callable[[str, Where], None]


def parse_template(text: str, where: Where, check_field: FieldCheck) -> Template:
    """Parse ``text``; raises ``RuleProblem`` for bad braces, and
    ``check_field(name, where)`` raises it for a field the record lacks."""
    try:
        pieces = list(_FORMATTER.parse(text))
    except ValueError:
        raise RuleProblem(where, "unbalanced braces; write {{ or }} for a literal brace") from None
    parts = []
    for literal, name, spec, conversion in pieces:
        if name is not None and (spec or conversion):
            raise RuleProblem(
                where,
                f"template {{{name}{'!' + conversion if conversion else ''}"
                f"{':' + spec if spec else ''}}} takes a field name only, without ! or :",
            )
        if name is not None:
            check_field(name, where)
        parts.append((literal, name))
    return Template(parts)


def as_text(value: Any) -> str:
    """A record value as template text: nothing for null, lists joined with ", "."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ", ".join(as_text(item) for item in value)
    return str(value)
