"""``get-report`` and ``get-summary``."""

from __future__ import annotations

import argparse
import sys
from typing import Any, TextIO

from ..actions import ActionResult, run_lookup
from ..cache import open_cache
from ..client import SpectraAnalyzeClient
from ..names import Action
from ..service import LookupService
from ..textfiles import read_lines
from .common import (
    EXIT_FAILED,
    EXIT_OK,
    JsonLines,
    UsageError,
    add_connection_options,
    config_from,
    write_json,
    write_jsonl,
)

FORMATS = ("table", "json", "jsonl")


def register(subparsers: Any) -> None:
    for name, action, what in (
        ("get-report", Action.GET_REPORT, "classification, risk score, threat name and tags"),
        ("get-summary", Action.GET_SUMMARY, "the report plus its threat indicator summary"),
    ):
        parser = subparsers.add_parser(
            name, help=f"look up {what} of file hashes", description=f"Look up {what} of file hashes on the appliance."
        )
        add_lookup_options(parser)
        add_connection_options(parser)
        parser.set_defaults(handler=handle, action=action)


def add_lookup_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("hashes", nargs="*", metavar="HASH", help="MD5, SHA1, SHA256 or SHA512 hashes")
    parser.add_argument(
        "--hash-file",
        metavar="FILE",
        help="read hashes from FILE (- for standard input), separated by new lines, commas or spaces",
    )
    parser.add_argument("--fields", help="report fields to ask for, comma separated (default: what the record needs)")
    parser.add_argument(
        "--skip-reanalysis",
        default="true",
        metavar="true|false",
        help="fetch stored reports without reanalysing samples (default true)",
    )
    parser.add_argument(
        "--include-network-ti",
        action="store_true",
        help="include network and domain threat intelligence (needs those two fields)",
    )
    parser.add_argument(
        "--format",
        choices=FORMATS,
        help="output: table (default at a terminal), json (the action result) or jsonl "
        "(one record per hash, the default otherwise)",
    )
    parser.add_argument("--prefix", default="rl_", help="prefix of the record fields in json/jsonl (default rl_)")


def lookup_params(args: argparse.Namespace) -> dict[str, Any]:
    hashes: list[str] = list(args.hashes)
    if args.hash_file:
        hashes += read_lines(args.hash_file, f"--hash-file {args.hash_file}", stdin=True)
    if not any(value.strip() for value in hashes):
        raise UsageError("no hash given: pass hashes as arguments or with --hash-file")
    return {
        "hashes": hashes,
        "fields": args.fields,
        "skip_reanalysis": args.skip_reanalysis,
        "include_network_threat_intelligence": "true" if args.include_network_ti else "false",
    }


def handle(args: argparse.Namespace) -> int:
    params = lookup_params(args)
    config = config_from(args)
    fmt = args.format or ("table" if sys.stdout.isatty() else "jsonl")
    # JSON lines go out as their records are known, in input order, while
    # later batches are still on their way; the other formats need them all.
    each = JsonLines(args.prefix, sys.stdout) if fmt == "jsonl" else None
    with LookupService(SpectraAnalyzeClient(config), store=open_cache(config.cache)) as lookups:
        try:
            result = run_lookup(args.action, params, lookups, each=each)
        finally:
            if each is not None:
                each.flush()
    return report(result, fmt, args.prefix, sys.stdout, written=each is not None)


def report(result: ActionResult, fmt: str, prefix: str, out: TextIO, written: bool = False) -> int:
    """Write a result in a format (``written``: its records are out already);
    the exit status says whether every hash got an answer."""
    fmt = fmt or ("table" if out.isatty() else "jsonl")
    if fmt == "json":
        payload = result.to_dict()
        payload["data"] = [{prefix + key: value for key, value in record.items()} for record in result.records]
        write_json(payload, out)
    elif fmt == "jsonl":
        if not written:
            write_jsonl(result.records, prefix, out)
    else:
        write_table(result, out)
    if not result.ok:
        print(f"spectra-connector: {result.message}", file=sys.stderr)
    return EXIT_OK if result.ok else EXIT_FAILED


def write_table(result: ActionResult, out: TextIO) -> None:
    columns = [
        ("HASH", "hash"),
        ("STATUS", "status"),
        ("CLASSIFICATION", "classification"),
        ("RISK", "riskscore"),
        ("THREAT NAME", "threat_name"),
    ]
    if result.action == Action.GET_SUMMARY:
        columns.append(("INDICATORS", "indicator_count"))
    rows = [[header for header, _ in columns]]
    rows += [[_cell(record, key) for _, key in columns] for record in result.records]
    widths = [max(len(row[i]) for row in rows) for i in range(len(columns))]
    for row in rows:
        out.write("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() + "\n")
    for record in result.records:
        if record["error"]:
            out.write(f"{record['hash']}: {record['error']}\n")
    out.write(result.message + "\n")


def _cell(record: dict[str, Any], key: str) -> str:
    value = record.get(key)
    return "-" if value is None else str(value)
