"""``make bench`` is not part of ``make test``; this keeps its modules
importable, so that a rename or a lint pass that drops a re-export shows
here, not at the next benchmark run."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


@pytest.mark.parametrize("module", sorted(path.stem for path in BENCHMARKS.glob("*.py") if path.stem != "__init__"))
def test_every_benchmark_module_imports(module):
    importlib.import_module(f"benchmarks.{module}")
