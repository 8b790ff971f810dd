"""What several subcommands share: connection options, configuration from
flags and environment, output formats."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Iterable, Mapping
from typing import Any, AnyStr, Generic, Optional, TextIO

from ..config import Config
from ..settings import Kind, Setting, Surface, on, shown
from ..textfiles import decode, read_bytes

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
ENV_URL, ENV_TOKEN, ENV_CA_BUNDLE = "SPECTRA_ANALYZE_URL", "SPECTRA_ANALYZE_TOKEN", "SPECTRA_ANALYZE_CA_BUNDLE"
# The settings a user may give in the environment instead.
ENVIRONMENT = {"url": ENV_URL, "token": ENV_TOKEN, "ca_bundle": ENV_CA_BUNDLE}
CACHE_FOLDER = "spectra-analyze-connector"


class UsageError(Exception):
    """A flag or argument the user must fix (exit 2)."""


def add_connection_options(parser: argparse.ArgumentParser) -> None:
    """A flag for every setting the command line carries (see ``connector.settings``)."""
    group = parser.add_argument_group("appliance connection")
    for setting in on(Surface.CLI):
        add_setting_flag(group, setting)
        if setting.name == "url":  # the token has no flag of its own: process lists would show it
            group.add_argument(
                "--token-file",
                metavar="FILE",
                help=f"file holding the API token (default: ${ENV_TOKEN}); the token is never taken as a flag",
            )
            group.add_argument("--token", action=_RefuseToken, help=argparse.SUPPRESS)
    add_cache_dir_option(group)
    add_verbosity(parser)


def add_setting_flag(group: Any, setting: Setting) -> None:
    """The setting's flag: a boolean's switches it off, any other takes a value."""
    if setting.kind is Kind.BOOLEAN:
        group.add_argument(
            setting.cli_flag,
            dest=setting.name,
            action="store_const",
            const=not setting.default,
            help=_escaped(f"{setting.help} (on by default; this flag turns it off)"),
        )
        return
    placeholder = setting.unit.upper() or "VALUE"
    facts = [setting.bounds] if setting.bounds else []
    if setting.name in ENVIRONMENT:
        facts.append(f"default: ${ENVIRONMENT[setting.name]}")
    elif setting.default is not None:
        facts.append(f"default {shown(setting.default)}")
    help_text = setting.help + (f" ({'; '.join(facts)})" if facts else "")
    group.add_argument(setting.cli_flag, dest=setting.name, metavar=placeholder, help=_escaped(help_text))


def add_cache_dir_option(group: Any) -> None:
    group.add_argument(
        "--cache-dir", metavar="DIR", help=_escaped(f"keep answers in DIR (default: {user_cache_dir()})")
    )


def _escaped(help_text: str) -> str:
    return help_text.replace("%", "%%")  # argparse formats help with %


class _RefuseToken(argparse.Action):
    """``--token VALUE`` fails without echoing VALUE (argparse's own error would)."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: Optional[str] = None,
    ) -> None:
        raise argparse.ArgumentError(
            self,
            f"the token is never taken as a flag (process lists and shell history "
            f"would show it): set {ENV_TOKEN} or pass --token-file",
        )


def add_verbosity(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging on stderr (-vv: debug)")


def config_from(args: argparse.Namespace, environ: Mapping[str, str] = os.environ) -> Config:
    """Flags first, then the environment. Raises ``UsageError`` or ``ConfigurationError``."""
    values = with_environment({setting.name: getattr(args, setting.name) for setting in on(Surface.CLI)}, environ)
    if not values.get("url"):
        raise UsageError(f"no appliance URL: pass --url or set {ENV_URL}")
    values.update(token=_token(args.token_file, environ), cache_dir=cache_dir_of(args, environ))
    return Config.from_settings(values)


def with_environment(values: Mapping[str, Any], environ: Mapping[str, str]) -> dict[str, Any]:
    """The settings, those unset taken from the environment where it has them."""
    completed = dict(values)
    for name, variable in ENVIRONMENT.items():
        if completed.get(name) in (None, "") and environ.get(variable):
            completed[name] = environ[variable]
    return completed


def cache_dir_of(args: argparse.Namespace, environ: Mapping[str, str] = os.environ) -> str:
    return args.cache_dir or user_cache_dir(environ)


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
        # The path is not echoed: a token given by mistake in its place would be.
        token = decode(read_bytes(path, "--token-file", "the file given"), "--token-file").strip()
        if not token:
            raise UsageError(f"--token-file: {path} is empty")
        return token
    token = environ.get(ENV_TOKEN, "").strip()
    if not token:
        raise UsageError(f"no API token: set {ENV_TOKEN} or pass --token-file")
    return token


def write_json(payload: Any, out: TextIO) -> None:
    """The payload as an indented JSON document, except that each item of a
    top-level ``data`` list (an action's records) takes one line: indenting
    every key of tens of thousands of records takes json's pure-Python
    encoder, about three times as long as its C encoder takes for the line."""
    if not isinstance(payload, dict) or not isinstance(payload.get("data"), list) or not payload["data"]:
        json.dump(payload, out, indent=2)
        out.write("\n")
        return
    out.write("{")
    for position, (key, value) in enumerate(payload.items()):
        out.write(f"{',' if position else ''}\n  {json.dumps(key)}: ")
        if key == "data":
            out.write("[")
            for index, item in enumerate(value):  # a line at a time: the document is never all in memory
                out.write(f"{',' if index else ''}\n    {json.dumps(item)}")
            out.write("\n  ]")
        else:  # JSON text holds no raw line break but those indent makes
            out.write(json.dumps(value, indent=2).replace("\n", "\n  "))
    out.write("\n}\n")


def write_jsonl(records: Iterable[dict[str, Any]], prefix: str, out: TextIO) -> None:
    lines = JsonLines(prefix, out)
    for record in records:
        lines(record)
    lines.flush()


class Chunks(Generic[AnyStr]):
    """Lines handed to ``write`` some ``SIZE`` bytes at a time, each ended by
    ``newline``; ``flush`` writes what is still held. Speed only: each write
    that reaches the file lets the lookup's threads take the interpreter, and
    getting it back cost more than the write itself, once every three lines
    with a file's own 8 KB buffer."""

    SIZE = 65536

    def __init__(self, write: Callable[[AnyStr], object], newline: AnyStr) -> None:
        self._write: Callable[[AnyStr], object] = write
        self._newline: AnyStr = newline
        self._lines: list[AnyStr] = []
        self._size = 0

    def add(self, line: AnyStr) -> None:
        self._lines.append(line)
        self._size += len(line) + 1
        if self._size >= self.SIZE:
            self.flush()

    def flush(self) -> None:
        if self._lines:
            self._lines.append(self._newline[:0])  # the last line's end
            self._write(self._newline.join(self._lines))
            self._lines, self._size = [], 0


class JsonLines:
    """Writes records as JSON lines, their keys under a prefix, as they come,
    in ``Chunks``; ``flush`` writes what is still held. Speed only: records
    share a few key orders, and each order's prefixed keys are made once, not
    once a record (the command line writes a line per hash, tens of
    thousands). A line is what ``json.dumps(with_prefix(record, prefix))`` makes."""

    def __init__(self, prefix: str, out: TextIO) -> None:
        self.prefix = prefix
        self._keys: dict[tuple[str, ...], tuple[str, ...]] = {}
        self._chunks = Chunks(out.write, "\n")

    def __call__(self, record: dict[str, Any]) -> None:
        order = tuple(record)
        keys = self._keys.get(order)
        if keys is None:
            keys = self._keys[order] = tuple(self.prefix + key for key in order)
        self._chunks.add(json.dumps(dict(zip(keys, record.values()))))

    def flush(self) -> None:
        self._chunks.flush()
