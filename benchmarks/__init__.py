"""Benchmarks (``make bench``): not part of the test suite. They reuse the
tests' drivers and stand-ins (``tests/``: the SCP v2 driver, splunkd's
storage/passwords, the app harness), so that folder goes on the path."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
