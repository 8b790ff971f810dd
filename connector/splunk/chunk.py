"""The events of one SCP v2 chunk as CSV rows: the command's fast path.

splunklib reads every event into an ``OrderedDict`` and writes every field
of every record back in Python, several microseconds an event. Here a
body without quotes (what splunkd sends unless a cell holds a comma, a
quote or a line break) is split into its lines and cells by C string
methods, and any other by the C ``csv`` module; the hash field's distinct
values are found (an event's value is its cell and, for a multivalue
field, its ``__mv_`` cell); the output cells of each distinct value are
rendered as CSV text once; and each row goes back out as that text
followed by the row's own cells, as they came (input fields and their
``__mv_`` columns pass through unchanged).

Output cells follow splunklib's record writer, but for one thing: splunklib
writes every field ``name`` as the columns ``name`` and ``__mv_name``; here
only a field that can hold several values has its ``__mv_name`` column (SCP
v2 makes it optional: splunkd, and splunklib's reader, take a field without
one as its single value). Null and an empty list are empty cells; a list of
one is that value; a longer list is its values joined by newlines and, in
``__mv_name``, ``$value$;$value$`` with ``$`` doubled; booleans are 1 and 0.
tests/test_splunk_fastpath.py checks this against splunklib's own writer and
reader.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Hashable, Iterable, Mapping, Sequence
from itertools import chain, islice, repeat
from operator import itemgetter
from types import SimpleNamespace
from typing import Any, Callable, Optional, Union, cast

MULTIVALUE = "__mv_"
FieldValue = Union[str, list[str], None]  # an event's value of a field: None when it has none
# What the csv writer writes as splunklib's record writer does (str() of a
# number, an empty cell for null); booleans are not among them (1 and 0).
_WRITTEN_AS_THEY_ARE = frozenset((str, int, float, type(None)))
_STRINGS = frozenset((str,))


class Chunk:
    """A chunk's header and rows, every row as long as the header.

    A plain body (no quoted cell, each line one row) keeps ``lines``, the
    rows' texts as they came (no line terminator), to be written back as they
    are; and its cells in one list, row after row, made by two C calls: a
    column is a slice of it, and a list a row is made only if ``rows`` is
    asked for (a row's columns are rarely needed one by one)."""

    def __init__(
        self,
        header: list[str],
        rows: Optional[list[list[str]]] = None,
        lines: Optional[list[str]] = None,
        cells: Optional[list[str]] = None,
        ascii: bool = False,
    ) -> None:
        self.header = header
        self.lines = lines
        self._rows = rows
        self._cells = cells  # a plain body's: the header's first
        self.ascii = ascii  # whether every line is known to be ASCII, a character a byte

    @classmethod
    def read(cls, body: str, dialect: Any) -> Chunk:
        """A CSV body as splunkd sends it (``dialect``: splunklib's)."""
        lines = _plain_lines(body, dialect)
        cells = None if lines is None else _plain_cells(body, lines, dialect.delimiter)
        if lines is not None and cells is not None:
            return cls(cells[: len(cells) // len(lines)], lines=lines[1:], cells=cells, ascii=body.isascii())
        reader = csv.reader(io.StringIO(body), dialect=dialect)
        header = next(reader, [])
        rows = list(reader)
        width = len(header)
        if rows and set(map(len, rows)) != {width}:  # never from splunkd; splunklib pairs cells up to the shorter
            rows = [(row + [""] * (width - len(row)))[:width] for row in rows]
        return cls(header, rows)

    @property
    def rows(self) -> list[list[str]]:
        if self._rows is None:
            cells, width = self._cells or [], len(self.header)
            self._rows = [cells[start : start + width] for start in range(width, len(cells), width)]
        return self._rows

    def __len__(self) -> int:
        return len(self.lines) if self.lines is not None else len(self.rows)

    def column(self, name: str) -> Optional[int]:
        try:
            return self.header.index(name)
        except ValueError:
            return None

    def keys(self, field: str) -> Sequence[Hashable]:
        """What tells one row's value of ``field`` from another's, for each
        row: its cell and, when the field has a ``__mv_`` column, that cell
        too (a tuple); None for every row when the chunk has neither."""
        single, multi = self.column(field), self.column(MULTIVALUE + field)
        if multi is None:
            return [None] * len(self) if single is None else self._column(single)
        return list(zip(repeat("") if single is None else self._column(single), self._column(multi)))

    def _column(self, index: int) -> list[str]:
        if self._cells is None:
            return list(map(itemgetter(index), self.rows))
        width = len(self.header)
        return self._cells[width + index :: width]


def _plain_lines(body: str, dialect: Any) -> Optional[list[str]]:
    """The lines of a body without a quote character, each line break a
    whole line terminator (CRLF throughout, or LF throughout): then the csv
    reader reads each line as one row, the same cells. None otherwise."""
    if dialect.quotechar in body:
        return None
    returns, newlines = body.count("\r"), body.count("\n")
    if returns not in (0, newlines) or (returns and body.count("\r\n") != returns):
        return None
    lines = body.split("\r\n" if returns else "\n")
    if lines[-1] == "":
        lines.pop()
    return lines


def _plain_cells(body: str, lines: list[str], delimiter: str) -> Optional[list[str]]:
    """Every cell of a body of plain ``lines``, row after row, when each
    line has as many as the first (the header); None otherwise, or when
    there is no line. A blank line is no row to the csv reader, nor a cell."""
    if not lines:
        return None
    separators = lines[0].count(delimiter)
    if set(map(str.count, lines, repeat(delimiter))) != {separators} or (not separators and "" in lines):
        return None
    terminator = "\r\n" if "\r" in body else "\n"
    cells = body.replace(terminator, delimiter).split(delimiter)
    if body.endswith(terminator):
        cells.pop()
    return cells


def field_value(key: Hashable, decode: Callable[[str], list[str]]) -> FieldValue:
    """The value a row key stands for, as splunklib reads it: the
    ``__mv_`` cell decoded (``decode``: splunklib's decoder) when it is not
    empty, otherwise the cell."""
    if key is None or isinstance(key, str):
        return key
    single, multi = cast(tuple[str, str], key)  # the cell and its __mv_ cell
    return decode(multi) if multi else single


def encode_value(value: Any) -> tuple[str, str]:
    """A field's two cells (``name``, ``__mv_name``), as splunklib writes them."""
    if isinstance(value, list):
        if len(value) > 1:
            # A list of strings (tags, indicators: nearly every list) is
            # joined as it is, not item by item through _text.
            texts = (
                value
                if _STRINGS.issuperset(map(type, value))
                else ["" if item is None else _text(item) for item in value]
            )
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


def output_header(names: Iterable[str]) -> list[str]:
    """Every column splunklib would write for ``names``: each with its ``__mv_``."""
    return [column for name in names for column in (name, MULTIVALUE + name)]


class OutputColumns:
    """The output columns of a chunk, in the order of ``keys`` (the record
    keys), named ``names`` (prefixed): each field, followed by its ``__mv_``
    column when ``multivalue`` names its key."""

    def __init__(self, names: Sequence[str], keys: Sequence[str], multivalue: Iterable[str]) -> None:
        several = frozenset(multivalue)
        self.keys = list(keys)
        self.several = [key in several for key in keys]
        self.header = [
            column
            for name, key in zip(names, keys)
            for column in ((name, MULTIVALUE + name) if key in several else (name,))
        ]
        # For CsvText.record: a record's values in one C call, and the
        # places of the single-valued and of the multivalue columns.
        self.values = _getter(self.keys)
        self.single = [index for index, flag in enumerate(self.several) if not flag]
        self.singles = _getter([self.keys[index] for index in self.single])
        self.packed = [index for index, flag in enumerate(self.several) if flag][::-1]  # right to left


def _getter(keys: Sequence[str]) -> Callable[[Mapping[str, Any]], Sequence[Any]]:
    """The values of ``keys`` in a mapping, as a sequence, whatever their number."""
    if len(keys) > 1:
        return itemgetter(*keys)
    return lambda record: [record[key] for key in keys]


class CsvText:
    """Rows as CSV text in ``dialect``, a line at a time. The csv writer's
    file is ``str``: its ``writerow`` then returns the line it wrote, and
    mapping it over rows stays in C."""

    def __init__(self, dialect: Any) -> None:
        self.line = csv.writer(SimpleNamespace(write=str), dialect=dialect).writerow
        self.lineterminator = dialect.lineterminator
        self._end = len(dialect.lineterminator)
        self.delimiter = dialect.delimiter
        self._quote = dialect.quotechar
        # The characters that make the csv writer quote a cell, where its
        # rules are the plain ones (splunklib's dialect): see ``cells``.
        plain = dialect.quoting == csv.QUOTE_MINIMAL and dialect.doublequote and not dialect.escapechar
        special = {dialect.delimiter, dialect.quotechar, "\r", "\n", *dialect.lineterminator}
        self._special = re.compile(f"[{re.escape(''.join(sorted(special)))}]").search if plain else None

    def cells(self, values: Sequence[Any]) -> str:
        """Cells as the start of a line (no line terminator): strings,
        numbers and null (an empty cell), as the csv writer writes them.

        The csv writer copies a cell character by character, some 20 ns
        each, and a record's tag lists run to hundreds of characters: a
        record took 10 us. Where its quoting rules are the plain ones (a
        cell is quoted when it holds the delimiter, the quote character or
        a line break, and its quotes are doubled) they are applied here
        with C string methods; a row of one cell keeps the csv writer,
        which quotes an empty one."""
        special = self._special
        if special is None or len(values) < 2:
            return self.line(values)[: -self._end]
        quote = self._quote
        texts = []
        for value in values:
            if value.__class__ is str:
                if special(value):
                    value = quote + value.replace(quote, quote + quote) + quote
            elif value is None:
                value = ""
            else:
                value = str(value)  # a number: the csv writer's str() of it
            texts.append(value)
        return self.delimiter.join(texts)

    def record(self, record: Mapping[str, Any], columns: OutputColumns) -> str:
        """A record's output cells, in the order of ``columns``. The csv
        writer writes strings, numbers and null (as an empty cell) as
        splunklib does; only other values (lists, booleans) need
        ``encode_value``. A value of several items in a single-valued column
        is a bug of the caller's: it would read as one value with line breaks.

        Called once for each distinct hash of a search (10,000 in the
        benchmark's): the values are taken in one C call, and only the
        multivalue columns and the rare other value are looked at one by
        one. With ``cells``, the record of a report of the benchmark's takes
        7.3 us under Python 3.13 (10.0 us before), 9.5 us under 3.9 (10.5).
        (``python -m benchmarks.splunk_cost`` times it.)"""
        cells = list(columns.values(record))
        if not _WRITTEN_AS_THEY_ARE.issuperset(map(type, columns.singles(record))):
            for index in columns.single:
                value = cells[index]
                if value.__class__ not in _WRITTEN_AS_THEY_ARE:
                    single, packed = encode_value(value)
                    if packed:
                        raise ValueError(f"{columns.keys[index]} has several values but no __mv_ column")
                    cells[index] = single
        for index in columns.packed:  # right to left: each __mv_ cell goes in after its field's
            value = cells[index]
            cells[index : index + 1] = (value, "") if value.__class__ in _WRITTEN_AS_THEY_ARE else encode_value(value)
        return self.cells(cells)


class Layout:
    """How an input row becomes an output row: the output cells first, then
    the input's cells but those of columns an output field replaces (a field
    named like one, say rl_status, is overwritten as splunklib's record
    update would). Column order means nothing to splunkd."""

    def __init__(self, header: Sequence[str], columns: OutputColumns, text: CsvText) -> None:
        outputs = [name for name in columns.header if not name.startswith(MULTIVALUE)]
        replaced = set(output_header(outputs))  # an input's __mv_ column too, where the output has none
        self.kept = [index for index, name in enumerate(header) if name not in replaced]
        self.header = columns.header + [header[index] for index in self.kept]
        self.header_line = text.line(self.header)
        self._input_width = len(header)
        self._text = text
        self._separator = text.delimiter if self.kept else ""

    def body(self, chunk: Chunk, keys: Sequence[Hashable], rendered: Mapping[Hashable, str]) -> Body:
        """The chunk's output: the header line, then each row's line with the
        output cells ``rendered`` for its key (``keys``: each row's). A plain
        chunk's rows go out as the text they came in; otherwise the csv
        writer writes them again. The size in bytes is counted a distinct
        key's cells and a line at a time, without the text."""
        starts = {key: cells + self._separator for key, cells in rendered.items()}
        sizes = {key: _size(text) for key, text in starts.items()}
        prefixes = map(starts.__getitem__, keys)
        pieces: Iterable[str]
        if len(self.kept) == self._input_width and chunk.lines is not None:
            lines, end = chunk.lines, self._text.lineterminator
            rest = (sum(map(len, lines)) if chunk.ascii else sum(map(_size, lines))) + len(end) * len(lines)
            pieces = chain.from_iterable(zip(prefixes, lines, repeat(end)))
        else:  # the csv writer's lines, each with its line terminator
            kept, rows = self.kept, chunk.rows
            if len(kept) < self._input_width:
                rows = [[row[index] for index in kept] for row in rows]
            lines = list(map(self._text.line, rows))
            rest = sum(map(_size, lines))
            pieces = chain.from_iterable(zip(prefixes, lines))
        size = _size(self.header_line) + sum(map(sizes.__getitem__, keys)) + rest
        return Body(chain((self.header_line,), pieces), size)


class Body:
    """A chunk's output text, ``size`` bytes in UTF-8, written a block of
    some 2,000 rows at a time: joined whole, the text and then its bytes
    (tens of megabytes each) would be new memory for every chunk, and
    touching new memory costs more than the copying."""

    _PIECES = 6000  # a row is two or three pieces

    def __init__(self, pieces: Iterable[str], size: int) -> None:
        self._pieces = iter(pieces)
        self.size = size

    def write(self, write: Callable[[bytes], Any]) -> None:
        """All the text, once, its blocks to ``write``."""
        while True:
            block = "".join(islice(self._pieces, self._PIECES))
            if not block:
                return
            write(block.encode("utf-8"))


def _size(text: str) -> int:
    """The length of ``text`` in UTF-8."""
    return len(text) if text.isascii() else len(text.encode("utf-8"))
