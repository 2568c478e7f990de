"""``benchmarks/streaming.py`` (run by ``make bench``) still runs, on a few requests."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("opentelemetry.shim.opentracing_shim")

from benchmarks import streaming

FIGURES = ["list_request_us", "list_tracing_us", "per_chunk_us", "wrapper_us"]


def test_the_streaming_benchmark_prints_and_writes_its_figures(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """One sample of 20 requests per variant: the table prints, the JSON has every figure."""
    output = tmp_path / "streaming.json"
    assert streaming.main(["--samples=1", "--requests=20", f"--output={output}"]) == 0
    assert capsys.readouterr().out.startswith(
        "Best of 1 samples; microseconds. The test that tells a list body from a streamed one: "
    )
    payload = json.loads(output.read_text(encoding="utf-8"))
    assert payload["check_ns"] > 0
    assert sorted(payload["results"]) == ["MockTracer", "OpenTelemetry shim"]
    for figures in payload["results"].values():
        assert sorted(figures) == FIGURES
        assert figures["list_request_us"] > 0
