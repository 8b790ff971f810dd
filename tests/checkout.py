"""The checkout as pip installs it, for the tests of installed packages."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parent.parent
# What a checkout holds that a package build must not see: setuptools builds in the source's own
# build/ folder, which parallel tests would share and a stale one would leak into the package.
_NOT_SOURCE = shutil.ignore_patterns(".git", ".venv*", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache")


def pip_install_checkout(target: Path) -> None:
    """``pip install .`` (not editable) into ``target``, from a copy of the checkout of its own."""
    source = target.parent / f"{target.name}-source"
    shutil.copytree(CHECKOUT, source, symlinks=True, ignore=_NOT_SOURCE)
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target), str(source)],
        check=True,
        capture_output=True,
        timeout=300,
    )
