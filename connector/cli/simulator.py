"""``simulator``: serve the embedded appliance simulator in the foreground."""
from __future__ import annotations

import argparse
import sys
from typing import Any

from ..simulator.corpus import DEFAULT_SIZE, Corpus
from ..simulator.server import Simulator
from .common import EXIT_OK, UsageError, add_verbosity


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("simulator", help="serve the embedded appliance simulator (simulated data)",
                                   description="Serve a simulated Spectra Analyze appliance on loopback, "
                                               "for demos and tests. Its data is generated, not real.")
    parser.add_argument("--port", type=int, default=8000, help="port to listen on (default 8000; 0: any free port)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--token", required=True, help="the API token the simulator accepts")
    parser.add_argument("--latency-ms", type=float, default=0, help="delay added to every answer (default 0)")
    parser.add_argument("--page-size", type=int, help="results per page; more set 'next' (default: one page)")
    parser.add_argument("--samples", type=int, default=DEFAULT_SIZE,
                        help=f"generated samples besides the vendor's two (default {DEFAULT_SIZE})")
    add_verbosity(parser)
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    if args.latency_ms < 0 or args.samples < 0 or (args.page_size is not None and args.page_size < 1):
        raise UsageError("--latency-ms and --samples must not be negative, --page-size must be at least 1")
    try:
        server = Simulator(args.token, host=args.host, port=args.port, latency_ms=args.latency_ms,
                           page_size=args.page_size, corpus=Corpus(args.samples))
    except OSError as err:
        raise UsageError(f"cannot listen on {args.host}:{args.port}: {err.strerror}") from None
    print(f"SIMULATED appliance (generated data, not a real Spectra Analyze) listening on {server.url}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("simulator stopped", file=sys.stderr)
    finally:
        server.stop()
    return EXIT_OK
