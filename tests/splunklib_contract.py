"""Run under a Splunk Python with the built app's ``bin/lib`` first on the
path (``python splunklib_contract.py LIB``): prints, as JSON, what the
command's fast path relies on in the vendored splunklib, for
tests/test_splunk_fastpath.py to check.

- ``version``: splunklib's.
- ``digests``: a digest of the source of each splunklib function and class
  the fast path stands in for or writes into (see ``connector/splunk/command.py``,
  ``_execute_chunk_v2`` and ``_write_rows``). A new release that changes any
  of them changes its digest.
- ``writer``: the attributes a fresh RecordWriterV2 has.
- ``mismatches``: records written by splunklib's own record writer and by
  the fast path's ``CsvText``, line by line, where they differ (none), when
  every field has its ``__mv_`` column as splunklib writes it.
- ``read_differently``: records the fast path writes with an ``__mv_``
  column only for fields of several values, where splunklib's reader reads
  them otherwise than splunklib's own writing of them (none).
"""

import hashlib
import importlib.metadata
import inspect
import io
import json
import sys

sys.path.insert(0, sys.argv[1])

from splunklib.searchcommands import StreamingCommand  # noqa: E402
from splunklib.searchcommands.internals import CsvDialect, RecordWriter, RecordWriterV2  # noqa: E402
from splunklib.searchcommands.search_command import SearchCommand  # noqa: E402

from connector.splunk.chunk import CsvText, OutputColumns  # noqa: E402

RELIED_ON = {
    "SearchCommand._execute_v2": SearchCommand._execute_v2,
    "SearchCommand._execute_chunk_v2": SearchCommand._execute_chunk_v2,
    "SearchCommand._read_csv_records": SearchCommand._read_csv_records,
    "SearchCommand._decode_list": SearchCommand._decode_list,
    "RecordWriter.__init__": RecordWriter.__init__,
    "RecordWriter._write_record": RecordWriter._write_record,
    "RecordWriter._clear": RecordWriter._clear,
    "RecordWriter.flush": RecordWriter.flush,
    "RecordWriterV2": RecordWriterV2,
    "CsvDialect": CsvDialect,
    "StreamingCommand._execute": StreamingCommand._execute,
}

# Values of every kind a record can hold, and a few it cannot (yet). Left
# out: a list of one null, which splunklib writes as the text "None" and the
# fast path as an empty cell; no record holds one.
VALUES = [
    None,
    "",
    "plain",
    "a,b",
    'say "hi"',
    "two\nlines",
    "cr\rlf\r\n",
    "ünïcödé ✓",
    "$dollar$",
    " padded ",
    0,
    7,
    -3,
    1.5,
    2e-9,
    True,
    False,
    [],
    ["one"],
    ["a", "b"],
    ["a,b", 'c"d', "e$f", "g\nh"],
    ["x", None, "y"],
    [1, 2.5, True],
    ["ü", "✓"],
    [""],
    ["", ""],
]


def written_by_splunklib(record, keys):
    writer = RecordWriterV2(io.BytesIO())
    writer._write_record({key: record[key] for key in keys})
    return writer._buffer.getvalue()


def records():
    keys = [f"field_{index}" for index in range(len(VALUES))]
    return [dict(zip(keys, VALUES))] + [{"only": value} for value in VALUES]


def written_by_us(record, multivalue):
    text = CsvText(CsvDialect)
    columns = OutputColumns(list(record), list(record), multivalue)
    return text.line(columns.header) + text.record(record, columns) + CsvDialect.lineterminator


def mismatches():
    found = []
    for record in records():
        ours, theirs = written_by_us(record, list(record)), written_by_splunklib(record, list(record))
        if ours != theirs:
            found.append({"record": repr(record), "ours": ours, "splunklib": theirs})
    return found


def read_by_splunklib(body):
    return [dict(read) for read in SearchCommand._read_csv_records(SearchCommand, io.StringIO(body))]


def read_differently():
    found = []
    for record in records():
        several = [key for key, value in record.items() if isinstance(value, list) and len(value) > 1]
        ours = read_by_splunklib(written_by_us(record, several))
        theirs = read_by_splunklib(written_by_splunklib(record, list(record)))
        if ours != theirs:
            found.append({"record": repr(record), "ours": ours, "splunklib": theirs})
    return found


def main():
    digests = {
        name: hashlib.sha256(inspect.getsource(item).encode()).hexdigest()[:16] for name, item in RELIED_ON.items()
    }
    print(
        json.dumps(
            {
                "version": importlib.metadata.version("splunk-sdk"),
                "digests": digests,
                "writer": sorted(vars(RecordWriterV2(io.BytesIO()))),
                "mismatches": mismatches(),
                "read_differently": read_differently(),
            }
        )
    )


main()
