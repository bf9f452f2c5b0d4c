"""benchmarks/before_after.py: its patterns read the figures the scripts print, its ratios
say above 1 for slower either way, and it skips what a baseline cannot run."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def ba() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "before_after", ROOT / "benchmarks/before_after.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["before_after"] = module
    spec.loader.exec_module(module)
    return module


def bench(ba: ModuleType, name: str) -> object:
    return next(b for b in ba.BENCHMARKS if b.name == name)


# Lines as the scripts print them (copied from real runs and from their f-strings).
OUTPUTS = {
    "admit": """generated 300,000 case rows in 1.2 s
admission with the cases taken in first (SQLite): 4.3 s (CPU 6.1 s) for 200,000 people
    derive: 1.0 s
admission from the cases held: 3.9 s (CPU 5.0 s)
rerun with the same cases (idempotent): 2.2 s (CPU 3.0 s), 0 pool entries changed
""",
    "api": """reviewer queue page (HTML)     4,000 requests in   3.1 s =    1290 req/s (x2.58 of 500); p50  11.0 ms, p99  24.4 ms (target < 100); statuses {200: 4000}
                             server CPU 1.49 ms a request: at most 2 cores / that = 1,342 req/s with the whole machine; client CPU 0.20 ms a request
recipient batch fetch (API)    4,000 requests in   3.6 s =    1114 req/s (x2.23 of 500); p50  12.0 ms, p99  29.5 ms (target < 100); statuses {200: 4000}
                             server CPU 1.32 ms a request: at most 2 cores / that = 1,515 req/s with the whole machine; client CPU 0.21 ms a request
""",  # noqa: E501
    "ledger": """append (SQLite): 100,000 leaves (mean 412 bytes) in batches of 50,000: 0.81 s = 123,456 leaves/s (CPU of all threads 99,000/s); target 100,000/s: ratio 1.23 (met)
inclusion proof at 1,000,000 leaves (200 random leaves, each checked): median 0.41 ms, p95 0.60 ms, max 1.00 ms (CPU median 0.40 ms); target 5 ms: ratio 0.12 at p95 (met)
consistency proof at 1,000,000 leaves: median 0.52 ms
verify (library) 100,000 leaves, 100,000 disclosures, 3 heads: 1.91 s (CPU 1.80 s); target 20 s: ratio 0.10 (met)
`accord verify --workers 1` (start-up included; load average 2.1 on 2 cores): 3.20 s; target 20 s: ratio 0.16 (met)
`accord verify --workers 2` (start-up included; load average 2.1 on 2 cores): 2.70 s; target 20 s: ratio 0.14 (met)
""",  # noqa: E501
    "register_digest": """generated 1,000,000 register rows (80 MB) in 1.0 s
   separate:   2.00 s wall,   2.10 s CPU, peak 0.30 GB
   streamed:   9.00 s wall,   9.10 s CPU, peak 0.30 GB
80 MB, out of the page cache; median of 1:
 separate:   1.50 s wall,   1.60 s CPU, peak 0.30 GB
 streamed:   1.20 s wall,   1.30 s CPU, peak 0.30 GB
""",
    "run": """admitted 4,000 and trained 3 models in 30.5 s (not part of the figure)
    12.0 s  linking dvla
accord run: 10,000 people, 3 registers of 100,000 rows: 41.2 s, peak memory 1.2 GB; 900 disclosed, 40 in review
CPU (user + sys, all threads): 60.3 s
""",  # noqa: E501
}
EXPECTED = {
    "admit": {"admit, cases taken in": 4.3, "admit, cases held": 3.9, "admit, rerun": 2.2},
    "api": {
        "reviewer queue page req/s": 1290.0,
        "recipient batch fetch req/s": 1114.0,
        "reviewer queue page server CPU/request": 1.49,
        "recipient batch fetch server CPU/request": 1.32,
        "reviewer queue page p99": 24.4,
        "recipient batch fetch p99": 29.5,
    },
    "ledger": {
        "append SQLite": 123456.0,
        "inclusion proof median": 0.41,
        "consistency proof median": 0.52,
        "verify (library)": 1.91,
        "accord verify --workers 1": 3.20,
        "accord verify --workers 2": 2.70,
    },
    "register_digest": {"streamed wall": 1.20, "streamed CPU": 1.30, "separate wall": 1.50},
    "run": {"accord run wall": 41.2, "accord run CPU": 60.3, "admit + train 3 models": 30.5},
}


@pytest.mark.parametrize("name", sorted(OUTPUTS))
def test_patterns_read_the_figures_scripts_print(ba: ModuleType, name: str) -> None:
    assert ba.parse_figures(bench(ba, name), OUTPUTS[name]) == EXPECTED[name]


def test_every_script_in_benchmarks_is_covered_or_said_not_to_be(ba: ModuleType) -> None:
    scripts = {p.stem for p in (ROOT / "benchmarks").glob("*.py")} - {"before_after"}
    assert scripts == {b.name for b in ba.BENCHMARKS} | set(ba.NOT_BENCHMARKS)


def test_every_flag_used_is_one_the_current_script_takes(ba: ModuleType) -> None:
    for b in ba.BENCHMARKS:
        for args in (b.full, b.quick):
            assert ba.unsupported(b, args, [ROOT / "benchmarks" / f"{b.name}.py"]) is None


def test_ratio_above_one_is_slower_for_times_and_for_throughputs(ba: ModuleType) -> None:
    time, throughput = ba.Figure("t", "", "s"), ba.Figure("r", "", "req/s", "higher")
    assert ba.ratio(time, 2.0, 3.0) == pytest.approx(1.5)
    assert ba.ratio(throughput, 300.0, 200.0) == pytest.approx(1.5)
    assert ba.ratio(throughput, 200.0, 300.0) < 1


def test_a_baseline_without_the_script_or_the_flag_is_skipped(
    ba: ModuleType, tmp_path: Path
) -> None:
    old = tmp_path / "policy.py"
    b = bench(ba, "policy")
    assert "does not exist" in ba.unsupported(b, ["--people", "1"], [old])
    old.write_text('parser.add_argument("--rows")\n', encoding="utf-8")
    assert "takes no --people" in ba.unsupported(b, ["--people", "1"], [old])
    assert ba.unsupported(b, ["--rows", "1"], [old]) is None


def test_verdict_names_the_slower_figures(ba: ModuleType) -> None:
    assert "within 10%" in ba.verdict({"policy": "ok"}, [], 3)
    slower = ba.verdict({"policy": "ok", "matches": "skipped"}, ["policy: rules 1.20"], 3)
    assert "policy: rules 1.20" in slower and "matches skipped" in slower
