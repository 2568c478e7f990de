"""``benchmarks/instrument.py`` (run by ``make bench``) still runs, on a few requests."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_the_instrument_benchmark_runs_and_writes_every_figure(tmp_path: Path) -> None:
    """One sample of 20 requests per variant: the table prints and the JSON has all figures."""
    output = tmp_path / "instrument.json"
    command = [sys.executable, "-m", "benchmarks.instrument", "--samples=1", "--requests=20"]
    done = subprocess.run(
        [*command, f"--output={output}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Best of 1 samples; microseconds.")
    results = json.loads(output.read_text(encoding="utf-8"))["results"]
    assert sorted(results) == ["MockTracer", "OpenTelemetry shim"]
    for figures in results.values():
        assert len(figures) == 9
        assert figures["raw_child_span_us"] > 0
        assert figures["statement_without_span_us"] > 0
        assert figures["plain_request_default_us"] > 0
