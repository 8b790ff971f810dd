"""The ``spectra-connector`` command line.

Only this layer reads flags and the environment. Exit status: 0 when every
hash got an answer, 1 when a lookup failed, 2 for a usage error. A user's
mistake gets one clear line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import gc
import io
import logging
import sys
from typing import Any, Optional

from .. import __version__
from ..errors import (
    ApplianceError,
    AuthenticationError,
    ConfigurationError,
    EndpointNotFoundError,
    InputError,
    SpectraAnalyzeError,
    TLSVerificationError,
)
from . import action, build_apps, demo, enrich, lookups, simulator
from .common import EXIT_FAILED, EXIT_USAGE, UsageError

# Each module adds its subcommands with ``register(subparsers)``.
COMMAND_MODULES = [lookups, demo, simulator, action, build_apps, enrich]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="spectra-connector",
        description="ReversingLabs Spectra Analyze verdicts for the command line, Splunk, SOAR and alert rules.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    # No abbreviated flags: '--token X' would otherwise be taken for '--token-file X'.
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_StrictParser)
    subparsers.required = True
    for module in COMMAND_MODULES:
        module.register(subparsers)
    return parser


class _StrictParser(argparse.ArgumentParser):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)


def main(argv: Optional[list[str]] = None) -> int:
    _escape_what_stdout_cannot_hold()
    parser = build_parser()
    args = parser.parse_args(argv)
    _collect_less()
    logging.basicConfig(
        level=_log_level(getattr(args, "verbose", 0)),
        stream=sys.stderr,
        format="spectra-connector: %(levelname)s: %(message)s",
    )
    try:
        return args.handler(args)
    except (UsageError, InputError) as err:
        return _fail(EXIT_USAGE, err)
    except (AuthenticationError, EndpointNotFoundError, TLSVerificationError, ApplianceError) as err:
        return _fail(EXIT_FAILED, err)
    except ConfigurationError as err:  # a bad setting, found before any request
        return _fail(EXIT_USAGE, err)
    except SpectraAnalyzeError as err:
        return _fail(EXIT_FAILED, err)
    except KeyboardInterrupt:
        return _fail(130, "interrupted")
    except BrokenPipeError:
        return 0


# Container objects made between two collections of the youngest generation
# (Python's default: 700).
YOUNG_GENERATION = 10_000
_start_up_set_aside = False


def _collect_less() -> None:
    """Speed only: a run makes a few dicts and lists per hash or alert, tens
    of thousands in all, and the cyclic garbage collector then ran so often,
    over every object alive, that it took a quarter of ``enrich``'s time. What
    start-up made (modules, compiled schemas) lives as long as the process:
    it is set aside, never scanned again; and the youngest generation is
    collected every YOUNG_GENERATION new objects. Cycles are still collected,
    so memory stays flat. Once a process: a program that calls ``main``
    again (the tests) does not set its own objects aside."""
    global _start_up_set_aside
    if not _start_up_set_aside:
        gc.freeze()
        _start_up_set_aside = True
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_GENERATION, older, oldest)


def _escape_what_stdout_cannot_hold() -> None:
    """Text the output's encoding lacks (PYTHONIOENCODING=ascii, a Latin-1
    locale, a Windows code page behind ``>``) goes out as ``\\uXXXX``, as
    Python writes it on stderr, instead of ending the command in a traceback.
    JSON output is ASCII already; with UTF-8, the usual case, nothing changes."""
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(errors="backslashreplace")


def _fail(code: int, err: object) -> int:
    print(f"spectra-connector: error: {err}", file=sys.stderr)
    return code


def _log_level(verbosity: int) -> int:
    return {0: logging.WARNING, 1: logging.INFO}.get(verbosity, logging.DEBUG)


if __name__ == "__main__":
    sys.exit(main())
