"""``simulator``: serve the embedded appliance simulator in the foreground."""

from __future__ import annotations

import argparse
import ssl
import sys
from typing import Any, Optional

from ..simulator.corpus import DEFAULT_SIZE, Corpus
from ..simulator.faults import FAULTS, NO_FAULT, TRANSIENT, FaultSchedule
from ..simulator.server import Simulator
from .common import EXIT_OK, UsageError, add_verbosity


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "simulator",
        help="serve the embedded appliance simulator (simulated data)",
        description="Serve a simulated Spectra Analyze appliance on loopback, "
        "for demos and tests. Its data is generated, not real.",
    )
    parser.add_argument("--port", type=int, default=8000, help="port to listen on (default 8000; 0: any free port)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--token", required=True, help="the API token the simulator accepts")
    parser.add_argument("--latency-ms", type=float, default=0, help="delay added to every answer (default 0)")
    parser.add_argument("--page-size", type=int, help="results per page; more set 'next' (default: one page)")
    parser.add_argument(
        "--samples",
        type=int,
        default=DEFAULT_SIZE,
        help=f"generated samples besides the vendor's two (default {DEFAULT_SIZE})",
    )
    faults = parser.add_argument_group(
        "fault injection",
        "Known faults: "
        + "; ".join(f"{name}: {what}" for name, what in FAULTS.items())
        + f"; {NO_FAULT}: a normal answer.",
    )
    faults.add_argument(
        "--faults",
        metavar="PLAN",
        default="",
        help="faults for the first list requests, in order: NAME[*COUNT] entries separated by "
        "commas, e.g. 503*2,ok,reset; a last NAME* repeats for ever",
    )
    faults.add_argument(
        "--fault-rate",
        type=float,
        default=0.0,
        metavar="SHARE",
        help="after the plan, inject a random fault into this share of requests, e.g. 0.01",
    )
    faults.add_argument(
        "--fault-kinds",
        default=",".join(TRANSIENT),
        metavar="NAMES",
        help=f"faults --fault-rate picks from (default {','.join(TRANSIENT)})",
    )
    faults.add_argument("--fault-seed", type=int, default=0, metavar="N", help="seed of the random faults")
    faults.add_argument("--redirect-to", metavar="URL", help="where the redirect fault points")
    tls = parser.add_argument_group("HTTPS")
    tls.add_argument("--tls-cert", metavar="FILE", help="serve HTTPS with this certificate (PEM, chain first)")
    tls.add_argument("--tls-key", metavar="FILE", help="the certificate's private key (PEM)")
    add_verbosity(parser)
    parser.set_defaults(handler=handle)


def fault_schedule(args: argparse.Namespace) -> FaultSchedule:
    kinds = [name.strip() for name in args.fault_kinds.split(",") if name.strip()]
    try:
        return FaultSchedule.parse(
            args.faults, rate=args.fault_rate, kinds=kinds, seed=args.fault_seed, redirect_to=args.redirect_to
        )
    except ValueError as err:
        raise UsageError(f"--faults: {err}") from None


def tls_context(args: argparse.Namespace) -> Optional[ssl.SSLContext]:
    if not args.tls_cert and not args.tls_key:
        return None
    if not (args.tls_cert and args.tls_key):
        raise UsageError("--tls-cert and --tls-key go together")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.load_cert_chain(args.tls_cert, args.tls_key)
    except (OSError, ssl.SSLError) as err:
        raise UsageError(f"cannot load --tls-cert/--tls-key: {err}") from None
    return context


def handle(args: argparse.Namespace) -> int:
    if args.latency_ms < 0 or args.samples < 0 or (args.page_size is not None and args.page_size < 1):
        raise UsageError("--latency-ms and --samples must not be negative, --page-size must be at least 1")
    try:
        server = Simulator(
            args.token,
            host=args.host,
            port=args.port,
            latency_ms=args.latency_ms,
            page_size=args.page_size,
            corpus=Corpus(args.samples),
            faults=fault_schedule(args),
            tls=tls_context(args),
        )
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
