"""The command's fast path (``connector/splunk/chunk.py``, and
``_execute_chunk_v2`` / ``_write_rows`` in ``command.py``) reads and writes
chunks itself and writes into splunklib's record writer: what it relies on
in the vendored splunklib is pinned here, and what it could get wrong is
checked through SCP v2 under Splunk's Pythons."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import PYTHONS
from hypothesis import given, settings
from hypothesis import strategies as st
from scp import encode_records, run_command
from splunk_harness import SESSION_KEY, python

from connector.flatten import LIST_KEYS, RECORD_KEYS, REPORT_KEYS
from connector.splunk.chunk import Chunk, CsvText, Layout, OutputColumns
from connector.splunk.pipes import PIPE_SIZE, widen_pipes
from connector_tools.splunk.build import PINS_FILE

HERE = Path(__file__).resolve().parent

# The source digests of what the fast path stands in for or writes into,
# in splunk-sdk 3.0.1 (tests/splunklib_contract.py). When a splunklib
# upgrade changes one: read the new code, bring _execute_chunk_v2,
# _write_rows and chunk.py in line with it, then update the digest.
SPLUNKLIB_DIGESTS = {
    "SearchCommand._execute_v2": "7934dfb05b1840f1",
    "SearchCommand._execute_chunk_v2": "c1f9efeb60af5f50",
    "SearchCommand._read_csv_records": "73278e8221faa2ef",
    "SearchCommand._decode_list": "500c00438025d68b",
    "RecordWriter.__init__": "a61dd72842a8d37f",
    "RecordWriter._write_record": "935c07667a021e5d",
    "RecordWriter._clear": "69ca8a66423dbe84",
    "RecordWriter.flush": "e1b4801feee87849",
    "RecordWriterV2": "6ddffbe7dc1ec3f7",
    "CsvDialect": "6c71410a00ddf074",
    "StreamingCommand._execute": "2b24a814941d3f6a",
}
WRITTEN_INTO = {"_buffer", "_writer", "_writerow", "_fieldnames", "_pending_record_count"}


def pinned_splunklib() -> str:
    pins = PINS_FILE.read_text(encoding="utf-8")
    return next(line.split("==")[1].split()[0] for line in pins.splitlines() if line.startswith("splunk-sdk=="))


@pytest.mark.slow
@pytest.mark.parametrize("version", PYTHONS)
def test_vendored_splunklib_is_the_one_the_fast_path_was_written_for(version, splunk_app):
    done = subprocess.run(
        [python(version), str(HERE / "splunklib_contract.py"), str(splunk_app / "bin" / "lib")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    contract = json.loads(done.stdout)

    assert contract["version"] == pinned_splunklib() == "3.0.1"
    changed = sorted(name for name, digest in SPLUNKLIB_DIGESTS.items() if contract["digests"].get(name) != digest)
    assert not changed, f"splunklib changed {changed}: check the Splunk command's fast path against it"
    assert WRITTEN_INTO <= set(contract["writer"])
    assert contract["mismatches"] == []  # output cells exactly as splunklib's own record writer writes them
    assert contract["read_differently"] == []  # and, without the __mv_ columns of single values, read the same


def cells_by_name(body: str) -> list[dict[str, str]]:
    """The raw cells of each row of a CSV body, by column name (``__mv_`` columns included)."""
    rows = list(csv.reader(io.StringIO(body)))
    return [dict(zip(rows[0], row)) for row in rows[1:]]


@pytest.mark.slow
@pytest.mark.parametrize("version", PYTHONS)
def test_input_fields_pass_through_cell_for_cell(version, app, simulator, splunkd, corpus):
    sha1 = corpus.samples[0]["sha1"]
    events = [
        {"sha1": sha1, "text": 'a,b "quoted"\r\nnext line', "who": "Zoë ✓ 日本", "tags": ["x,y", 'q"q', "$d$", "n\nl"]},
        {"sha1": "", "text": ",", "who": '"', "tags": ["", "only"]},
        {"sha1": sha1.upper(), "text": "", "who": "\t", "tags": "single"},
    ]
    body = encode_records(events)
    run = run_command(app, python(version), ["field=sha1"], [body], splunkd.uri, SESSION_KEY)

    assert run.returncode == 0, run.stderr
    sent, returned = cells_by_name(body), cells_by_name(run.chunks[0].body)
    assert [{name: row[name] for name in sent[0]} for row in returned] == sent  # every input cell, as it came
    assert [record["rl_status"] for record in run.records] == ["found", "no_hash", "found"]
    assert run.records[0]["tags"] == events[0]["tags"] and run.records[1]["tags"] == ["", "only"]


@pytest.mark.slow
@pytest.mark.parametrize("version", PYTHONS)
def test_fields_named_like_output_fields_are_replaced(version, app, simulator, splunkd, corpus):
    sha1 = corpus.samples[1]["sha1"]
    # rl_status comes with an __mv_ column, which goes with it though the output's rl_status has none
    events = [
        {"rl_status": ["stale", "older"], "rl_tags": ["old", "tags"], "sha1": sha1},
        {"rl_status": "stale", "sha1": ""},
    ]
    run = run_command(app, python(version), ["field=sha1"], [events], splunkd.uri, SESSION_KEY)

    assert run.returncode == 0, run.stderr
    header = run.chunks[0].fieldnames
    assert header.count("rl_status") == 1 and header.count("rl_tags") == 1
    assert "__mv_rl_status" not in next(csv.reader(io.StringIO(run.chunks[0].body)))
    assert [record["rl_status"] for record in run.records] == ["found", "no_hash"]
    assert "old" not in run.records[0]["rl_tags"] and run.records[1]["rl_tags"] == ""


@pytest.mark.slow
@pytest.mark.parametrize("version", PYTHONS)
def test_the_hash_field_may_be_an_output_field_or_multivalue_only(version, app, simulator, splunkd, corpus):
    first, second = corpus.samples[2]["sha1"], corpus.samples[3]["md5"]
    body = f"rl_hash,__mv_rl_hash,n\r\n{first},,1\r\n,${first}$;${second}$,2\r\n"
    run = run_command(app, python(version), ["field=rl_hash"], [body], splunkd.uri, SESSION_KEY)

    assert run.returncode == 0, run.stderr
    assert [record["n"] for record in run.records] == ["1", "2"]
    assert run.records[0]["rl_hash"] == first and run.records[0]["rl_status"] == "found"
    assert run.records[1]["rl_hash"] == [first, second] and run.records[1]["rl_status"] == ["found", "found"]


@pytest.mark.slow
@pytest.mark.parametrize("version", PYTHONS)
def test_empty_and_ragged_chunks_lose_no_event(version, app, simulator, splunkd, corpus):
    sha1 = corpus.samples[4]["sha1"]
    header_only = "sha1,n\r\n"
    ragged = f"sha1,n,extra\r\n{sha1},1\r\n{sha1},2,x,surplus\r\n\r\n"
    chunks = ["", header_only, ragged, [{"sha1": sha1, "n": "4"}]]
    run = run_command(app, python(version), ["field=sha1"], chunks, splunkd.uri, SESSION_KEY)

    assert run.returncode == 0, run.stderr
    assert [len(chunk.records) for chunk in run.chunks] == [0, 0, 3, 1, 0]
    assert [record["n"] for record in run.records] == ["1", "2", "", "4"]
    assert [record["rl_status"] for record in run.records] == ["found", "found", "no_hash", "found"]
    assert [record["extra"] for record in run.records[:3]] == ["", "x", ""]


@pytest.mark.slow
@pytest.mark.parametrize("version", PYTHONS)
def test_a_chunk_larger_than_maxresultrows_comes_back_whole(version, app, simulator, splunkd, corpus):
    events = [{"sha1": sample["sha1"], "n": str(index)} for index, sample in enumerate(corpus.samples[:7])]
    run = run_command(app, python(version), ["field=sha1"], [events], splunkd.uri, SESSION_KEY, maxresultrows=3)

    assert run.returncode == 0, run.stderr
    assert [len(chunk.records) for chunk in run.chunks] == [7, 0]  # SCP v2 has no partial chunks
    assert [record["n"] for record in run.records] == [str(index) for index in range(7)]
    assert {record["rl_status"] for record in run.records} == {"found"}


@pytest.mark.slow
@pytest.mark.parametrize("version", PYTHONS)
def test_every_event_gets_every_output_field(version, app, simulator, splunkd, corpus):
    events = [{"other": "x"}, {"sha1": corpus.samples[5]["sha1"]}, {"sha1": "zz"}]
    run = run_command(app, python(version), ["field=sha1"], [events], splunkd.uri, SESSION_KEY)

    assert run.returncode == 0, run.stderr
    for record in run.records:
        assert all("rl_" + key in record for key in REPORT_KEYS)
    assert [record["rl_status"] for record in run.records] == ["no_hash", "found", "invalid"]


def multivalue_columns(body: str) -> list[str]:
    header = next(csv.reader(io.StringIO(body)))
    return sorted(name[len("__mv_") :] for name in header if name.startswith("__mv_rl_"))


@pytest.mark.slow
@pytest.mark.parametrize("version", PYTHONS)
def test_only_output_fields_of_several_values_have_an_mv_column(version, app, simulator, splunkd, corpus):
    """Tags and indicators always; every output field in a chunk with an
    event of several hashes (its outputs are aligned lists), and only there."""
    first, second = corpus.samples[6]["sha1"], corpus.samples[7]["sha1"]
    single = [{"sha1": first}, {"sha1": ""}, {"sha1": second}]
    several = [{"sha1": [first, second]}, {"sha1": first}]
    run = run_command(
        app, python(version), ["field=sha1", "action=summary"], [single, several, single], splunkd.uri, SESSION_KEY
    )

    assert run.returncode == 0, run.stderr
    lists = sorted("rl_" + key for key in LIST_KEYS)
    assert lists == ["rl_indicators", "rl_tags", "rl_tags_ticore", "rl_tags_user"]
    assert multivalue_columns(run.chunks[0].body) == lists
    assert multivalue_columns(run.chunks[1].body) == sorted("rl_" + key for key in RECORD_KEYS)
    assert multivalue_columns(run.chunks[2].body) == lists
    assert run.chunks[0].records == run.chunks[2].records
    assert run.chunks[1].records[0]["rl_status"] == ["found", "found"]
    assert dict(run.chunks[1].records[1], _chunked_idx="0") == run.chunks[0].records[0]  # __mv_ columns or not


def test_a_value_of_several_items_is_never_written_without_its_mv_column():
    """Single-valued columns take a list of one; a longer list there would
    read as one value with line breaks, so it is refused (a bug, not input)."""
    text = CsvText(csv.excel)
    columns = OutputColumns(["rl_a", "rl_b"], ["a", "b"], ["b"])
    assert columns.header == ["rl_a", "rl_b", "__mv_rl_b"]
    assert text.record({"a": ["one"], "b": ["x", "y"]}, columns) == 'one,"x\ny",$x$;$y$'
    with pytest.raises(ValueError, match="a has several values but no __mv_ column"):
        text.record({"a": ["x", "y"], "b": []}, columns)


CELL_VALUES = st.one_of(
    st.none(),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(alphabet=st.sampled_from('ab ,"\r\n$;\tü✓'), max_size=12),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(CELL_VALUES, max_size=8))
def test_output_cells_are_the_csv_writers_own(values):
    """The command quotes its output cells itself (the csv writer copies
    them a character at a time); the text is the csv writer's, quotes,
    line breaks, empty cells and numbers included."""
    for dialect in (csv.excel, csv.unix_dialect):  # splunklib's rules; and others, left to the csv writer
        line = io.StringIO()
        csv.writer(line, dialect=dialect).writerow(values)
        assert CsvText(dialect).cells(values) + dialect.lineterminator == line.getvalue()


PLAIN_BODIES = [
    "sha1,n,_chunked_idx\r\naa,1,0\r\n,,1\r\nbb,$x$;$y$,2\r\n",
    "sha1,n\naa,Zoë ✓\n,\t\n",  # line feeds only, splunkd's or not
    "sha1,n\r\n,\r\n",  # empty cells
    "sha1,n\r\naa,1",  # no final line break
]
NOT_PLAIN_BODIES = [
    'sha1,n\r\naa,"a,b"\r\n',  # a quoted cell
    "sha1,n\r\naa,1\nbb,2\r\n",  # line terminators mixed
    "sha1,n\r\naa\r\nbb,2,3\r\n",  # ragged rows
    "sha1\r\naa\r\n\r\n",  # a blank line (the csv writer writes one empty cell as "")
]


def written(chunk: Chunk, text: CsvText) -> str:
    columns = OutputColumns(["rl_status"], ["status"], [])
    layout = Layout(chunk.header, columns, text)
    keys = [row[0] for row in chunk.rows]
    body = layout.body(chunk, keys, {key: text.cells([f"<{key}>"]) for key in keys})
    blocks: list[bytes] = []
    body.write(blocks.append)
    written = b"".join(blocks)
    assert len(written) == body.size  # the size the chunk header says
    return written.decode("utf-8")


@pytest.mark.parametrize("body", PLAIN_BODIES)
def test_a_plain_chunk_goes_back_out_as_the_csv_writer_writes_it(body):
    """Rows of a body without quotes go out as the text they came in: the
    same text the csv writer writes from the cells the csv reader reads."""
    text = CsvText(csv.excel)
    chunk = Chunk.read(body, csv.excel)
    rows = list(csv.reader(io.StringIO(body)))[1:]
    assert chunk.lines is not None and chunk.rows == rows
    assert written(chunk, text) == written(Chunk(chunk.header, chunk.rows), text)


@pytest.mark.parametrize("body", NOT_PLAIN_BODIES)
def test_other_chunks_are_read_and_written_cell_by_cell(body):
    chunk = Chunk.read(body, csv.excel)
    width = len(chunk.header)
    assert chunk.lines is None
    assert chunk.rows == [(row + [""] * width)[:width] for row in list(csv.reader(io.StringIO(body)))[1:]]


KEYED_BODIES = [
    "sha1,__mv_sha1,n\r\naa,,1\r\n,$x$;$y$,2\r\n",  # the field and its __mv_ column
    "__mv_sha1,n,sha1\naa,1,bb\n$x$;$y$,2,\n",  # __mv_ first
    "n,__mv_sha1\r\n1,$x$;$y$\r\n2,\r\n",  # only the __mv_ column
    "n,other\r\n1,2\r\n",  # no column of the field
    "sha1\r\naa\r\n\r\n",  # a blank line
]


@pytest.mark.parametrize("body", PLAIN_BODIES + NOT_PLAIN_BODIES + KEYED_BODIES)
def test_a_rows_key_is_its_cells_of_the_field_as_the_csv_reader_reads_them(body):
    """The keys a plain chunk takes from slices of its cells are those the
    rows the csv reader reads give."""
    rows = list(csv.reader(io.StringIO(body)))
    header, rows = rows[0], [(row + [""] * len(rows[0]))[: len(rows[0])] for row in rows[1:]]
    single = header.index("sha1") if "sha1" in header else None
    multi = header.index("__mv_sha1") if "__mv_sha1" in header else None
    expected = [
        None
        if single is None and multi is None
        else row[single]
        if multi is None
        else ("" if single is None else row[single], row[multi])
        for row in rows
    ]
    chunk = Chunk.read(body, csv.excel)
    assert chunk.keys("sha1") == expected
    assert chunk.rows == rows and len(chunk) == len(rows)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="pipe sizes are a Linux setting")
def test_the_command_widens_its_pipes_and_leaves_other_files_alone(tmp_path):
    get_size = 1032  # fcntl.F_GETPIPE_SZ
    import fcntl

    read_end, write_end = os.pipe()
    with open(tmp_path / "file", "wb") as regular:
        try:
            widen_pipes(read_end, regular.fileno())  # a file is no pipe: no error, nothing done
            assert fcntl.fcntl(write_end, get_size) == PIPE_SIZE
        finally:
            os.close(read_end)
            os.close(write_end)
