"""The built Splunk app, installed as Splunk installs it, for the protocol
tests (and the benchmarks and fault tests that reuse them).

    package = build_package(tmp)                  # spectra-connector build-splunk-app
    app_dir = install_app(package, splunk_home)   # <splunk_home>/etc/apps/spectra_analyze
    configure(app_dir, url=simulator.url, max_attempts="1")
    run_command(app_dir, python("3.9"), ["field=sha1"], chunks, splunkd.uri, SESSION_KEY)
"""
from __future__ import annotations

import os
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Dict, Optional

APP_ID = "spectra_analyze"
SESSION_KEY = "splunkd-session-7b1e44c0a9"
REALM, USERNAME = "spectra_analyze", "api_token"
# Splunk 9 runs apps on Python 3.9, Splunk 10 offers 3.13; both come from pyenv.
PYTHON_VERSIONS = {"3.9": "3.9.18", "3.13": "3.13.0"}


def python(version: str) -> str:
    """The interpreter for a Splunk Python version; fails (never skips) when missing."""
    root = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    path = Path(root, "versions", PYTHON_VERSIONS[version], "bin", "python")
    if not path.exists():
        raise FileNotFoundError(f"Python {PYTHON_VERSIONS[version]} is needed at {path} (pyenv install "
                                f"{PYTHON_VERSIONS[version]}) to test the app as Splunk runs it")
    return str(path)


def build_package(output: Path) -> Path:
    """Build through the CLI, as a user does; the last line is the path."""
    cli = Path(sys.executable).parent / "spectra-connector"
    done = subprocess.run([str(cli), "build-splunk-app", "--output", str(output)],
                          capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        raise AssertionError(f"build-splunk-app failed ({done.returncode}): {done.stderr}")
    return Path(done.stdout.strip().splitlines()[-1])


def install_app(package: Path, splunk_home: Path) -> Path:
    """Unpack into ``<splunk_home>/etc/apps`` as Splunk does, with its log folder."""
    apps = splunk_home / "etc" / "apps"
    apps.mkdir(parents=True, exist_ok=True)
    (splunk_home / "var" / "log" / "splunk").mkdir(parents=True, exist_ok=True)
    with tarfile.open(package) as archive:
        archive.extractall(apps)
    return apps / APP_ID


def configure(app_dir: Path, appliance: Optional[Dict[str, str]] = None,
              command: Optional[Dict[str, str]] = None) -> Path:
    """Write ``local/spectra_analyze.conf`` as an admin would."""
    lines = []
    for stanza, values in (("appliance", appliance), ("command", command)):
        if values:
            lines.append(f"[{stanza}]")
            lines.extend(f"{key} = {value}" for key, value in values.items())
            lines.append("")
    local = app_dir / "local"
    local.mkdir(exist_ok=True)
    path = local / f"{APP_ID}.conf"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def token_credentials(token: str) -> Dict[tuple, str]:
    return {(APP_ID, REALM, USERNAME): token}
