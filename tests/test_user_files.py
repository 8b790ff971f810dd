"""Files a user wrote, as Windows writes them, read by the console script
against the simulator over HTTP: UTF-16 with a BOM (Windows PowerShell's
``>``), UTF-8 with a BOM (Notepad), CRLF line ends, bytes that are not text,
a 5 MB line."""

from __future__ import annotations

import codecs
import json
import os
import subprocess

import pytest
from helpers import SCRIPT, TOKEN

# How each writer starts a file and encodes its text.
WRITERS = {"utf-16-le": codecs.BOM_UTF16_LE, "utf-16-be": codecs.BOM_UTF16_BE, "utf-8": codecs.BOM_UTF8}


def as_windows_writes(text: str, encoding: str = "utf-16-le") -> bytes:
    """``text`` with CRLF line ends, a BOM first."""
    return WRITERS[encoding] + text.replace("\n", "\r\n").encode(encoding)


def cli(*args, env=None, stdin=b""):
    environment = {key: value for key, value in os.environ.items() if not key.startswith("SPECTRA_ANALYZE_")}
    environment.update(env or {})
    return subprocess.run([SCRIPT, *args], input=stdin, capture_output=True, env=environment, timeout=120)


@pytest.fixture
def env(simulator):
    return {"SPECTRA_ANALYZE_URL": simulator.url, "SPECTRA_ANALYZE_TOKEN": TOKEN}


def records(done):
    assert done.stderr == b"" and done.returncode == 0, done.stderr.decode(errors="replace")
    return [json.loads(line) for line in done.stdout.decode("utf-8").splitlines()]


def one_line_error(done, code=2):
    """A failed run's stderr: one line, no traceback."""
    text = done.stderr.decode("utf-8")
    assert done.returncode == code and text.count("\n") == 1 and "Traceback" not in text, text
    return text


@pytest.mark.parametrize("encoding", list(WRITERS))
def test_a_hash_list_with_a_bom_and_crlf(encoding, env, corpus, tmp_path):
    hashes = [corpus.samples[0]["sha1"], corpus.samples[1]["md5"], corpus.samples[2]["sha256"]]
    listing = tmp_path / "hashes.txt"
    listing.write_bytes(as_windows_writes("\n".join(hashes) + "\n", encoding))
    got = records(cli("get-report", "--hash-file", str(listing), env=env))
    assert [(r["rl_hash"], r["rl_status"]) for r in got] == [(value, "found") for value in hashes]


def test_a_hash_list_on_standard_input_in_utf16(env, corpus):
    hashes = [corpus.samples[3]["sha1"], corpus.samples[4]["md5"]]
    got = records(cli("get-report", "--hash-file", "-", env=env, stdin=as_windows_writes(" ".join(hashes))))
    assert [r["rl_status"] for r in got] == ["found", "found"]


def test_a_line_that_is_not_text_is_an_invalid_record_the_others_are_looked_up(env, corpus, tmp_path):
    listing = tmp_path / "hashes.txt"
    listing.write_bytes(
        corpus.samples[0]["sha1"].encode() + b"\r\n\xff\xfe\xe9t\xe9\r\n" + corpus.samples[1]["md5"].encode() + b"\r\n"
    )
    got = records(cli("get-report", "--hash-file", str(listing), env=env))
    assert [r["rl_status"] for r in got] == ["found", "invalid", "found"]
    assert got[1]["rl_hash"] == "\\xff\\xfe\\xe9t\\xe9" and got[1]["rl_error"].startswith("not a valid hash")


@pytest.mark.parametrize("fmt", ["jsonl", "table"])
def test_a_5_mb_line_is_named_cut_not_echoed(fmt, env, corpus, tmp_path):
    listing = tmp_path / "hashes.txt"
    listing.write_bytes(b"a" * 5_000_000 + b"\n" + corpus.samples[0]["sha1"].encode() + b"\n")
    done = cli("get-report", "--hash-file", str(listing), "--format", fmt, env=env)
    assert done.returncode == 0 and done.stderr == b""
    assert len(done.stdout) < 3000, len(done.stdout)
    assert b"5000000 characters" in done.stdout and b"a" * 200 + b"..." in done.stdout
    if fmt == "jsonl":
        assert [json.loads(line)["rl_status"] for line in done.stdout.splitlines()] == ["invalid", "found"]


@pytest.mark.parametrize(
    "params, settings, refused",
    [
        ({"hashes": "a" * 40, "fields": "b" * 5_000_000}, {}, "fields: unknown field name(s) " + "b" * 200 + "...;"),
        (
            {"hashes": "a" * 40, "skip_reanalysis": "c" * 5_000_000},
            {},
            "skip_reanalysis: '" + "c" * 199 + "... is not accepted",
        ),
        (
            {"hashes": "a" * 40},
            {"batch_size": "9" * 5_000_000},
            "batch_size: expected a finite number, got '" + "9" * 199,
        ),
        (
            {"hashes": "a" * 40},
            {"url": "https://" + "x" * 5_000_000},
            "url: expected the appliance address like https://appliance.example.com, got 'https://xxx",
        ),
        ({"hashes": "a" * 40}, {"ca_bundle": "/" + "d" * 5_000_000}, "ca_bundle: no file or folder at /ddd"),
    ],
)
def test_a_5_mb_parameter_or_setting_is_named_cut_not_echoed(params, settings, refused, simulator, tmp_path):
    (tmp_path / "params.json").write_text(json.dumps(params))
    (tmp_path / "asset.json").write_text(json.dumps(dict({"url": simulator.url, "token": TOKEN}, **settings)))
    done = cli(
        "action",
        "get_report",
        "--params",
        f"@{tmp_path / 'params.json'}",
        "--config",
        f"@{tmp_path / 'asset.json'}",
        "--no-cache",
    )
    assert done.returncode == 2 and len(done.stdout) + len(done.stderr) < 3000, len(done.stdout) + len(done.stderr)
    assert refused in one_line_error(done) and refused in json.loads(done.stdout)["message"]


@pytest.mark.parametrize("encoding", list(WRITERS))
def test_a_token_file_with_a_bom(encoding, simulator, corpus, tmp_path):
    token_file = tmp_path / "token.txt"
    token_file.write_bytes(as_windows_writes(TOKEN + "\n", encoding))
    got = records(cli("get-report", corpus.samples[0]["sha1"], "--url", simulator.url, "--token-file", str(token_file)))
    assert got[0]["rl_status"] == "found"


def test_a_token_file_that_is_not_text_is_one_line_naming_no_byte(simulator, tmp_path):
    token_file = tmp_path / "token.bin"
    token_file.write_bytes(b"sentinel\xa7\x91secret\n")
    done = cli("get-report", "a" * 40, "--url", simulator.url, "--token-file", str(token_file))
    text = one_line_error(done)
    assert text.startswith("spectra-connector: error: --token-file: line 1: not UTF-8 text")
    assert "sentinel" not in text and "a7" not in text and simulator.requests_served == 0


def test_action_params_and_config_files_as_windows_writes_them(simulator, corpus, tmp_path):
    params = tmp_path / "params.json"
    params.write_bytes(as_windows_writes(json.dumps({"hashes": [corpus.samples[0]["sha1"]]}) + "\n", "utf-8"))
    config = tmp_path / "asset.json"
    config.write_bytes(
        as_windows_writes(json.dumps({"url": simulator.url, "token": TOKEN, "max_attempts": 1.0}, indent=2) + "\n")
    )
    done = cli("action", "get_report", "--params", f"@{params}", "--config", f"@{config}", "--no-cache")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["data"][0]["status"] == "found"
    done = cli(
        "action",
        "get_report",
        "--params",
        "@-",
        "--config",
        f"@{config}",
        "--no-cache",
        stdin=as_windows_writes(json.dumps({"hashes": corpus.samples[1]["md5"]})),
    )
    assert done.returncode == 0 and json.loads(done.stdout)["data"][0]["status"] == "found"


def test_action_params_that_are_not_text_are_one_line_naming_the_file_and_line(env, tmp_path):
    params = tmp_path / "params.json"
    params.write_bytes(b'{\r\n"hashes": "caf\xe9"}\r\n')
    done = cli("action", "get_report", "--params", f"@{params}", env=env)
    assert one_line_error(done) == (
        f"spectra-connector: error: --params {params}: line 2: not UTF-8 text "
        "(nor UTF-16 with a byte order mark); save it as UTF-8\n"
    )
    assert json.loads(done.stdout)["status"] == "failed"


RULES = {"version": 1, "rules": [{"name": "tag-them", "hash_fields": ["sha1"], "then": {"add_tags": ["seen"]}}]}


@pytest.mark.parametrize("encoding", list(WRITERS))
def test_enrich_rules_and_alerts_as_windows_writes_them(encoding, simulator, corpus, tmp_path):
    rules = tmp_path / "rules.json"
    rules.write_bytes(as_windows_writes(json.dumps(RULES, indent=2) + "\n", encoding))
    alerts = [{"sha1": corpus.samples[index]["sha1"], "note": "é ✓"} for index in range(3)]
    source = tmp_path / "alerts.jsonl"
    source.write_bytes(
        as_windows_writes("".join(json.dumps(alert, ensure_ascii=False) + "\n" for alert in alerts), encoding)
    )
    done = cli(
        "enrich",
        "--rules",
        str(rules),
        "--input",
        str(source),
        env={"SPECTRA_ANALYZE_URL": simulator.url, "SPECTRA_ANALYZE_TOKEN": TOKEN},
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.decode().endswith("; 0 malformed line(s) passed through\n")
    out = [json.loads(line) for line in done.stdout.decode("utf-8").splitlines()]
    assert [(alert["note"], alert["tags"]) for alert in out] == [("é ✓", ["seen"])] * 3


def test_enrich_utf16_alerts_a_bad_unit_is_a_malformed_line_the_others_enriched(simulator, corpus, tmp_path):
    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps(RULES), encoding="utf-8")
    first, last = (json.dumps({"sha1": corpus.samples[index]["sha1"]}) + "\r\n" for index in (0, 1))
    bad = '{"sha1": "x'.encode("utf-16-le") + b"\x00\xd8" + '"}\r\n'.encode("utf-16-le")  # a lone surrogate
    done = cli(
        "enrich",
        "--rules",
        str(rules),
        env={"SPECTRA_ANALYZE_URL": simulator.url, "SPECTRA_ANALYZE_TOKEN": TOKEN},
        stdin=codecs.BOM_UTF16_LE + first.encode("utf-16-le") + bad + last.encode("utf-16-le"),
    )
    assert done.returncode == 0, done.stderr
    assert (
        done.stderr.decode().splitlines()[0]
        == "spectra-connector: enrich: stdin: line 2: not UTF-8 text; passed through"
    )
    lines = done.stdout.split(b"\n")
    assert len(lines) == 4 and lines[3] == b""
    assert [json.loads(lines[index])["tags"] for index in (0, 2)] == [["seen"], ["seen"]]


def test_a_rules_file_that_is_not_text_is_one_line(env, tmp_path):
    rules = tmp_path / "rules.json"
    rules.write_bytes(codecs.BOM_UTF8 + b'{"version": 1,\r\n "rules": [{"name": "caf\xe9"}]}\r\n')
    done = cli("enrich", "--rules", str(rules), env=env)
    assert one_line_error(done) == f"spectra-connector: error: {rules}: line 2: not UTF-8 text; save it as UTF-8\n"
