"""``demo``: the whole path against the embedded simulator, clearly labelled."""

from __future__ import annotations

import argparse
import secrets
import sys
from typing import Any

from ..actions import run_lookup
from ..client import SpectraAnalyzeClient
from ..config import Config
from ..names import Action
from ..service import LookupService
from ..simulator.server import Simulator
from .common import EXIT_FAILED, EXIT_OK, add_verbosity
from .lookups import write_table

BANNER = "=" * 78


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="run get-report and get-summary on the embedded simulator",
        description="Start the embedded appliance simulator on a free loopback port "
        "and look up a few of its samples. All data shown is SIMULATED.",
    )
    add_verbosity(parser)
    parser.set_defaults(handler=handle)


def demo_hashes(server: Simulator) -> list[str]:
    """One sample of each kind, plus a hash the appliance lacks and a typo."""
    corpus = server.corpus
    picks = [corpus.samples[0]["sha1"]]
    picks += [corpus.hashes("sha256", name)[0] for name in ("suspicious", "goodware", "unknown")]
    picks += [corpus.hashes("md5", "malicious")[3], "0" * 40, "not-a-hash"]
    return picks


def handle(args: argparse.Namespace) -> int:
    token = secrets.token_hex(16)
    out = sys.stdout
    with Simulator(token) as server:
        out.write(
            f"{BANNER}\nSIMULATED DATA: an embedded appliance simulator on {server.url}\n"
            f"(generated samples, not a real Spectra Analyze appliance)\n{BANNER}\n"
        )
        hashes = demo_hashes(server)
        config = Config(url=server.url, token=token)
        with LookupService(SpectraAnalyzeClient(config)) as lookups:
            report = run_lookup(Action.GET_REPORT, {"hashes": hashes}, lookups)
            out.write(
                "\n$ spectra-connector get-report "
                + " ".join(h[:12] + "..." if len(h) > 12 else h for h in hashes)
                + "\n\n"
            )
            write_table(report, out)
            summary_hashes = [server.corpus.samples[1]["sha1"], hashes[1]]  # the vendor page's summary sample first
            summary = run_lookup(Action.GET_SUMMARY, {"hashes": summary_hashes}, lookups)
            out.write("\n$ spectra-connector get-summary " + " ".join(summary_hashes) + "\n\n")
            write_table(summary, out)
            for record in summary.records:
                out.write(f"\nindicators of {record['hash']} ({record['unpacking_status']}):\n")
                out.write("".join(f"  - {text}\n" for text in record["indicators"]))
        out.write(
            f"\n{BANNER}\nEnd of SIMULATED demo: {server.requests_served} requests served by the simulator.\n{BANNER}\n"
        )
    failed = not (report.ok and summary.ok)
    return EXIT_FAILED if failed else EXIT_OK
