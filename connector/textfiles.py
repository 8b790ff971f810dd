"""Reading a file a user wrote: a hash list, a token file, JSON parameters or
settings, a rules file, alerts.

Such files are often written on Windows: UTF-16 with a byte order mark (what
Windows PowerShell's ``>`` writes) or UTF-8 with one (Notepad), with CRLF
line ends. A BOM says the encoding and is not part of the text; a file
without one is UTF-8 (UTF-16 without a BOM is not guessed: it cannot be told
from other bytes reliably).

- ``read_text`` decodes strictly: bytes the encoding cannot decode are one
  ``TextFileError`` line naming the file and the line, never the bytes (a
  token file's content must not be echoed).
- ``read_lines`` is for lists, where one bad line must not cost the others:
  undecodable bytes are kept as ``\\xNN`` text in their line, which the
  caller then reports on its own (a hash list: an ``invalid`` record).
- ``utf8_lines`` streams alert lines as UTF-8 bytes, whatever the input's
  encoding, for ``enrich``.
"""

from __future__ import annotations

import codecs
import io
import sys
from collections.abc import Iterator
from typing import BinaryIO, Optional, cast

from .errors import InputError

STDIN = "-"
_BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"))
_NAMES = {"utf-8": "UTF-8", "utf-16-le": "UTF-16", "utf-16-be": "UTF-16"}


class TextFileError(InputError):
    """A file that cannot be read as text; the message names the file."""


def encoding_of(head: bytes) -> tuple[str, int]:
    """The encoding a file's first bytes say and the length of its BOM (0: none, UTF-8)."""
    for bom, encoding in _BOMS:
        if head.startswith(bom):
            return encoding, len(bom)
    return "utf-8", 0


def read_bytes(path: str, name: Optional[str] = None, what: str = "the file", stdin: bool = False) -> bytes:
    """The bytes of ``path`` (with ``stdin``, ``-`` is standard input). A
    message says ``name: cannot read what: why``. Raises ``TextFileError``."""
    if stdin and path == STDIN:
        return sys.stdin.buffer.read()
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as err:
        raise TextFileError(f"{name or path}: cannot read {what}: {err.strerror}") from None


def decode(data: bytes, name: str) -> str:
    """The text of a file's bytes, BOM honoured. Raises ``TextFileError``
    naming the line of the first byte that cannot be decoded."""
    encoding, skip = encoding_of(data)
    body = data[skip:]
    try:
        return body.decode(encoding)
    except UnicodeDecodeError as err:
        line = body[: err.start].decode(encoding, "replace").count("\n") + 1
        expected = f"{_NAMES[encoding]} text" if skip else "UTF-8 text (nor UTF-16 with a byte order mark)"
        raise TextFileError(f"{name}: line {line}: not {expected}; save it as UTF-8") from None


def decode_lines(data: bytes) -> list[str]:
    """The lines of a file's bytes (any line end), BOM honoured, undecodable
    bytes kept as ``\\xNN`` text in their line."""
    encoding, skip = encoding_of(data)
    return data[skip:].decode(encoding, "backslashreplace").splitlines()


def read_text(path: str, name: Optional[str] = None, what: str = "the file", stdin: bool = False) -> str:
    """The text of a file (with ``stdin``, ``-`` is standard input). Raises ``TextFileError``."""
    name = name or path
    return decode(read_bytes(path, name, what, stdin), name)


def read_lines(path: str, name: Optional[str] = None, stdin: bool = False) -> list[str]:
    """The lines of a list file (with ``stdin``, ``-`` is standard input).
    Raises ``TextFileError`` only when the file cannot be read at all."""
    return decode_lines(read_bytes(path, name, stdin=stdin))


def utf8_lines(stream: BinaryIO) -> Iterator[bytes]:
    """The lines of a stream, line ends kept, as UTF-8 bytes: UTF-8 ones as
    they are (a BOM dropped), UTF-16 ones (with a BOM) re-encoded, their
    undecodable bytes kept as bytes, so that the line is not valid UTF-8 and
    its reader says so."""
    # A buffered stream can peek at the BOM without consuming the first line.
    buffered = stream if hasattr(stream, "peek") else io.BufferedReader(cast(io.RawIOBase, stream))
    reader = cast(io.BufferedReader, buffered)
    encoding, skip = encoding_of(reader.peek(4)[:4])
    reader.read(skip)
    if encoding == "utf-8":
        yield from reader
        return
    text = io.TextIOWrapper(reader, encoding=encoding, errors=_KEPT, newline="")
    try:
        for line in text:
            yield line.encode("utf-8", "surrogatepass")
    finally:
        text.detach()  # the stream stays its owner's to close (standard input, say)


def _kept(err: UnicodeError) -> tuple[str, int]:
    """Each undecodable byte as a lone surrogate, which UTF-8 (with
    ``surrogatepass``) writes as bytes no UTF-8 reader accepts. Python's own
    ``surrogateescape`` will not do: it refuses bytes below 128, and half of
    a bad UTF-16 unit often is one."""
    if not isinstance(err, UnicodeDecodeError):
        raise err
    return "".join(chr(0xDC00 + byte) for byte in err.object[err.start : err.end]), err.end


_KEPT = "spectra-connector-kept"
codecs.register_error(_KEPT, _kept)
