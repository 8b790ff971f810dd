"""The events of one SCP v2 chunk as CSV rows: the command's fast path.

splunklib reads every event into an ``OrderedDict`` and writes every field
of every record back in Python, several microseconds an event. Here the C
``csv`` module reads the rows; the hash field's distinct values are found
(an event's value is its cell and, for a multivalue field, its ``__mv_``
cell); the output cells of each distinct value are rendered as CSV text
once; and each row goes back out as that text followed by the row's own
cells, as they came (input fields and their ``__mv_`` columns pass through
unchanged), written by the C ``csv`` module.

Output cells follow splunklib's record writer: a field ``name`` is written
as the columns ``name`` and ``__mv_name``; null and an empty list as two
empty cells; a list of one as that value; a longer list as its values joined
by newlines and, in ``__mv_name``, as ``$value$;$value$`` with ``$``
doubled; booleans as 1 and 0. tests/test_splunk_fastpath.py checks this
against splunklib's own writer.
"""
from __future__ import annotations

import csv
import io
from operator import add, itemgetter
from types import SimpleNamespace
from typing import Any, Callable, Hashable, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

MULTIVALUE = "__mv_"
FieldValue = Union[str, List[str], None]  # an event's value of a field: None when it has none
# What the csv writer writes as splunklib's record writer does (str() of a
# number, an empty cell for null); booleans are not among them (1 and 0).
_WRITTEN_AS_THEY_ARE = frozenset((str, int, float, type(None)))


class Chunk:
    """A chunk's header and rows, every row as long as the header."""

    def __init__(self, header: List[str], rows: List[List[str]]) -> None:
        self.header = header
        self.rows = rows

    @classmethod
    def read(cls, body: str, dialect: Any) -> "Chunk":
        """A CSV body as splunkd sends it (``dialect``: splunklib's)."""
        reader = csv.reader(io.StringIO(body), dialect=dialect)
        header = next(reader, [])
        rows = list(reader)
        width = len(header)
        if rows and set(map(len, rows)) != {width}:  # never from splunkd; splunklib pairs cells up to the shorter
            rows = [(row + [""] * (width - len(row)))[:width] for row in rows]
        return cls(header, rows)

    def column(self, name: str) -> Optional[int]:
        try:
            return self.header.index(name)
        except ValueError:
            return None

    def key_of(self, field: str) -> Callable[[Sequence[str]], Hashable]:
        """What tells one row's value of ``field`` from another's: its cell
        and, when the field has a ``__mv_`` column, that cell too. Called
        once a row: an ``itemgetter`` (C) in the usual cases."""
        single, multi = self.column(field), self.column(MULTIVALUE + field)
        if single is None and multi is None:
            return lambda row: None
        if multi is None:
            return itemgetter(single)
        if single is None:
            return lambda row: ("", row[multi])
        return itemgetter(single, multi)


def field_value(key: Hashable, decode: Callable[[str], List[str]]) -> FieldValue:
    """The value a row key stands for, as splunklib reads it: the
    ``__mv_`` cell decoded (``decode``: splunklib's decoder) when it is not
    empty, otherwise the cell."""
    if key is None or isinstance(key, str):
        return key
    single, multi = key
    return decode(multi) if multi else single


def encode_value(value: Any) -> Tuple[str, str]:
    """A field's two cells (``name``, ``__mv_name``), as splunklib writes them."""
    if isinstance(value, list):
        if len(value) > 1:
            texts = ["" if item is None else _text(item) for item in value]
            single = "\n".join(texts)
            if "$" in single:
                texts = [text.replace("$", "$$") for text in texts]
            return single, "$" + "$;$".join(texts) + "$"
        value = value[0] if value else None
    return ("" if value is None else _text(value)), ""


def _text(value: Any) -> str:
    if value is True or value is False:
        return str(int(value))
    return value if isinstance(value, str) else str(value)


def output_header(names: Iterable[str]) -> List[str]:
    return [column for name in names for column in (name, MULTIVALUE + name)]


class CsvText:
    """Rows as CSV text in ``dialect``, a line at a time. The csv writer's
    file is ``str``: its ``writerow`` then returns the line it wrote, and
    mapping it over rows stays in C."""

    def __init__(self, dialect: Any) -> None:
        self.line = csv.writer(SimpleNamespace(write=str), dialect=dialect).writerow
        self._end = len(dialect.lineterminator)
        self.delimiter = dialect.delimiter

    def cells(self, values: Sequence[str]) -> str:
        """Cells as the start of a line (no line terminator)."""
        return self.line(values)[:-self._end]

    def record(self, record: Mapping[str, Any], keys: Sequence[str]) -> str:
        """A record's output cells, two for each key, in order. The csv
        writer writes strings, numbers and null (as an empty cell) as
        splunklib does; only other values (lists) need ``encode_value``."""
        values = list(map(record.__getitem__, keys))
        cells: List[Any] = [""] * (2 * len(values))
        cells[::2] = values
        for index, value in enumerate(values):
            if value.__class__ not in _WRITTEN_AS_THEY_ARE:
                cells[2 * index:2 * index + 2] = encode_value(value)
        return self.cells(cells)


class Layout:
    """How an input row becomes an output row: the output cells first, then
    the input's cells but those of columns an output field replaces (a field
    named like one, say rl_status, is overwritten as splunklib's record
    update would). Column order means nothing to splunkd."""

    def __init__(self, header: Sequence[str], output_names: Sequence[str], text: CsvText) -> None:
        replaced = set(output_header(output_names))
        self.kept = [index for index, name in enumerate(header) if name not in replaced]
        self.header = output_header(output_names) + [header[index] for index in self.kept]
        self.header_line = text.line(self.header)
        self._input_width = len(header)
        self._text = text
        self._separator = text.delimiter if self.kept else ""

    def lines(self, rows: List[List[str]], keys: Iterable[Hashable], rendered: Mapping[Hashable, str]
              ) -> Iterable[str]:
        """Each row's line, with the output cells ``rendered`` for its key;
        lazily, and in C but for the rare replaced column."""
        if len(self.kept) < self._input_width:
            kept = self.kept
            rows = [[row[index] for index in kept] for row in rows]
        starts = {key: cells + self._separator for key, cells in rendered.items()}
        return map(add, map(starts.__getitem__, keys), map(self._text.line, rows))
