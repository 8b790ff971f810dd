"""What several subcommands share: connection options, configuration from
flags and environment, output formats."""
from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any, Dict, Iterable, List, Mapping, Optional, TextIO

from ..config import Config
from ..flatten import with_prefix

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
ENV_URL, ENV_TOKEN, ENV_CA_BUNDLE = "SPECTRA_ANALYZE_URL", "SPECTRA_ANALYZE_TOKEN", "SPECTRA_ANALYZE_CA_BUNDLE"
CACHE_FOLDER = "spectra-analyze-connector"


class UsageError(Exception):
    """A flag or argument the user must fix (exit 2)."""


def add_connection_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("appliance connection")
    group.add_argument("--url", help=f"appliance address, e.g. https://a1000.example.com (default: ${ENV_URL})")
    group.add_argument("--token-file", metavar="FILE",
                       help=f"file holding the API token (default: ${ENV_TOKEN}); the token is never taken as a flag")
    group.add_argument("--token", action=_RefuseToken, help=argparse.SUPPRESS)
    group.add_argument("--ca-bundle", metavar="FILE",
                       help=f"CA certificate bundle to verify the appliance with (default: ${ENV_CA_BUNDLE})")
    group.add_argument("--insecure", action="store_true",
                       help="do not verify the appliance's TLS certificate (warns every time; avoid)")
    group.add_argument("--proxy", metavar="URL", help="HTTP(S) proxy for the appliance")
    group.add_argument("--connect-timeout", metavar="SECONDS", help="connect timeout (default 5)")
    group.add_argument("--read-timeout", metavar="SECONDS", help="read timeout (default 60)")
    group.add_argument("--batch-size", metavar="N", help="hashes per request, 1-1000 (default 100)")
    group.add_argument("--max-connections", metavar="N", help="batches sent at once (default 4)")
    group.add_argument("--max-attempts", metavar="N", help="tries per request, with backoff (default 4)")
    group.add_argument("--retry-deadline", metavar="SECONDS", help="total time for one request and its retries (default 60)")
    group.add_argument("--cache-dir", metavar="DIR",
                       help=f"keep answers in DIR (default: {user_cache_dir()}); found answers are kept a day, "
                            "not_found an hour, errors never")
    group.add_argument("--no-cache", action="store_true", help="ask the appliance every time; keep nothing")
    add_verbosity(parser)


class _RefuseToken(argparse.Action):
    """``--token VALUE`` fails without echoing VALUE (argparse's own error would)."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: Optional[str] = None) -> None:
        raise argparse.ArgumentError(self, f"the token is never taken as a flag (process lists and shell history "
                                           f"would show it): set {ENV_TOKEN} or pass --token-file")


def add_verbosity(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging on stderr (-vv: debug)")


def config_from(args: argparse.Namespace, environ: Mapping[str, str] = os.environ) -> Config:
    """Flags first, then the environment. Raises ``UsageError`` or ``ConfigurationError``."""
    url = args.url or environ.get(ENV_URL)
    if not url:
        raise UsageError(f"no appliance URL: pass --url or set {ENV_URL}")
    return Config.from_settings({
        "url": url,
        "token": _token(args.token_file, environ),
        "verify_tls": "false" if args.insecure else "true",
        "ca_bundle": args.ca_bundle or environ.get(ENV_CA_BUNDLE),
        "proxy": args.proxy,
        "connect_timeout": args.connect_timeout,
        "read_timeout": args.read_timeout,
        "batch_size": args.batch_size,
        "max_connections": args.max_connections,
        "max_attempts": args.max_attempts,
        "retry_deadline": args.retry_deadline,
        "cache_dir": args.cache_dir or user_cache_dir(environ),
        "cache": "false" if args.no_cache else "true",
    })


def user_cache_dir(environ: Mapping[str, str] = os.environ) -> str:
    """The user's cache folder for this package, as each system places it."""
    if sys.platform == "win32":
        base = environ.get("LOCALAPPDATA") or os.path.expanduser(r"~\AppData\Local")
    elif sys.platform == "darwin":
        base = os.path.expanduser("~/Library/Caches")
    else:
        base = environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    return os.path.join(base, CACHE_FOLDER)


def _token(path: Optional[str], environ: Mapping[str, str]) -> str:
    if path:
        try:
            with open(path, encoding="utf-8") as handle:
                token = handle.read().strip()
        except OSError as err:
            # The path is not echoed: a token given by mistake in its place would be.
            raise UsageError(f"--token-file: cannot read the file given: {err.strerror}") from None
        if not token:
            raise UsageError(f"--token-file: {path} is empty")
        return token
    token = environ.get(ENV_TOKEN, "").strip()
    if not token:
        raise UsageError(f"no API token: set {ENV_TOKEN} or pass --token-file")
    return token


def read_lines(source: str, stdin: TextIO = sys.stdin) -> List[str]:
    """Lines of a file, or of standard input for ``-``."""
    if source == "-":
        return stdin.read().splitlines()
    try:
        with open(source, encoding="utf-8") as handle:
            return handle.read().splitlines()
    except OSError as err:
        raise UsageError(f"cannot read {source}: {err.strerror}") from None


def write_json(payload: Any, out: TextIO) -> None:
    json.dump(payload, out, indent=2)
    out.write("\n")


def write_jsonl(records: Iterable[Dict[str, Any]], prefix: str, out: TextIO) -> None:
    for record in records:
        out.write(json.dumps(with_prefix(record, prefix)))
        out.write("\n")
