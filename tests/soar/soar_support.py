"""Helpers of the SOAR tests."""

from __future__ import annotations

import hashlib
import json
import socket
from pathlib import Path
from typing import Any

# The stand-in for SOAR's phantom package, and its platform.
STANDIN = Path(__file__).resolve().parent / "standin"

# The asset name the shipped playbook acts on.
ASSET = "spectra_analyze"
# The token of the SOAR tests' simulator and asset.
TOKEN = "soar-asset-token-4b7e2a9c51"


def absent_sha1(index: int) -> str:
    """A SHA1 the simulator's corpus does not hold."""
    return hashlib.sha1(f"not-on-the-appliance-{index}".encode()).hexdigest()


def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def assert_secret_kept(output: Any, token: str) -> None:
    """The token appears nowhere in what SOAR would store or show."""
    assert token not in (output if isinstance(output, str) else json.dumps(output))
