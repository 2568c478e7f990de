"""``benchmarks/metrics.py`` (run by ``make bench``) still runs, on a few requests."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("opentelemetry.sdk.metrics")
pytest.importorskip("opentelemetry.instrumentation.pyramid")

from benchmarks import metrics

from tests.helpers.otel_globals import clean_globals, reset_meter_provider

FIGURES = ["floor_loop_us", "floor_request_us", "over_none_us", "ratio_loop", "ratio_request"]


def test_the_metrics_benchmark_prints_and_writes_its_figures(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """One sample of 10 requests per variant: the tables print, the JSON has every figure."""
    output = tmp_path / "metrics.json"
    # The benchmark sets OpenTelemetry's global providers: forgotten before and after.
    with clean_globals(reset_meter_provider):
        assert metrics.main(["--samples=1", "--requests=10", f"--output={output}"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Best of 1 samples of 10 requests (or loop turns); µs per request.")
    assert "| `duration` (1 histogram record) |" in out
    assert "| `active_requests` (2 up-down counter adds) |" in out
    assert "| opentelemetry-instrumentation-pyramid's metrics (" in out
    assert "| duration < the peer's metrics (µs per request) |" in out
    payload = json.loads(output.read_text(encoding="utf-8"))
    assert sorted(payload["results"]) == ["active_requests", "all", "body_size", "duration"]
    for figures in payload["results"].values():
        assert sorted(figures) == FIGURES
    assert payload["floor_calls"] == {"duration": 1, "active_requests": 2, "body_size": 1}
    assert payload["attributes"]["http.server.request.duration"]["http.route"] == "/orders/{id}"
    assert sorted(payload["peer"]) == [
        "OTEL_SEMCONV_STABILITY_OPT_IN",
        "metrics",
        "metrics_us",
        "noop_meters_us",
        "with_metrics_us",
    ]
    assert payload["peer"]["metrics"], "the peer recorded no metric on the SDK meters"
    assert len(payload["targets"]) == 3
    assert all(isinstance(target["ok"], bool) for target in payload["targets"])
    assert payload["requests_us"]["none"] > 0


def test_the_section_goes_after_the_opentelemetry_backend_results(tmp_path: Path) -> None:
    """Inserted after the OpenTelemetry backend's end marker the first time, then replaced."""
    page = tmp_path / "performance.md"
    page.write_text(
        "## OpenTelemetry backend\n\n"
        f"{metrics.otel_backend.DOCS_START}\nfigures\n{metrics.otel_backend.DOCS_END}\n",
        encoding="utf-8",
    )
    payload = {
        "date": "2026-01-01T00:00:00Z",
        "seconds": 1.0,
        "machine": {
            "machine": "x86_64",
            "logical_cpus": 2,
            "implementation": "CPython",
            "python": "3.11.7",
            "packages": {},
        },
    }
    metrics.write_docs(page, payload, "first")
    metrics.write_docs(page, payload, "second")
    text = page.read_text(encoding="utf-8")
    assert text.count(metrics.DOCS_TITLE) == 1
    assert "first" not in text
    assert text.index(metrics.otel_backend.DOCS_END) < text.index(metrics.DOCS_START)
    assert text.rstrip().endswith(f"second\n{metrics.DOCS_END}")
