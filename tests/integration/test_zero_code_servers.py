"""Zero-code for real: ``opentelemetry-instrument`` starting pserve and gunicorn on an INI file
with no ``tracing.*`` key, the distro's OTLP exporters sending to rotel-agent on loopback.

opentelemetry-instrumentation-pyramid is installed beside pyramid_tracing (the dev group
has it), so each run also checks that a request gets exactly one server span, ours; and
``OTEL_PYTHON_DISABLED_INSTRUMENTATIONS=pyramid_tracing`` gives the peer's instead.
"""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import pytest
import requests

pytest.importorskip("opentelemetry.distro")
pytest.importorskip("opentelemetry.instrumentation.pyramid")

from tests.helpers.collector import counted_once, parse_metric_points, parse_spans, wait_for
from tests.helpers.production import BIN, free_port, gunicorn_command, running

REQUESTS = 6


def write_ini(path: Path, port: int) -> Path:
    """The app of tests.helpers.production, served by waitress: not a word of tracing."""
    path.write_text(
        "[app:main]\n"
        "use = call:tests.helpers.production:main\n\n"
        "[server:main]\n"
        "use = egg:waitress#main\n"
        f"listen = 127.0.0.1:{port}\n"
    )
    return path


def distro_environment(endpoint: str, **extra: str) -> dict[str, str]:
    """What a deployment sets for the distro: OTLP/HTTP to the collector, short intervals."""
    return {
        "OTEL_SERVICE_NAME": "zero-code-test",
        "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_METRICS_EXPORTER": "otlp",
        "OTEL_LOGS_EXPORTER": "none",
        "OTEL_BSP_SCHEDULE_DELAY": "100",
        "OTEL_METRIC_EXPORT_INTERVAL": "500",
        **extra,
    }


def server_spans(text: str) -> list[dict[str, Any]]:
    return [span for span in parse_spans(text) if span.get("Kind") == "SPAN_KIND_SERVER"]


def counted_by(metric: str) -> Any:
    """What counts the requests that the histogram ``metric``'s points at rotel counted.

    The distro exports every 500 ms with cumulative temporality, so a series is logged again
    at each export with its running total; each is counted once."""

    def requests_counted(text: str) -> list[int]:
        points = [point for point in parse_metric_points(text) if point["name"] == metric]
        return [1] * counted_once(points)

    return requests_counted


def serve_and_collect(
    command: list[str],
    port: int,
    tmp_path: Path,
    log: Path,
    env: dict[str, str],
    metric: str = "http.server.request.duration",
    *,
    stop_first: bool = False,
) -> tuple[list[dict[str, Any]], str]:
    """Serve ``REQUESTS`` requests; the server spans at rotel, and the server's output.

    The requests must be counted by the histogram ``metric`` at rotel too. ``stop_first``:
    SIGTERM right after the last answer, before anything is exported; the process must still
    die of the signal."""
    output = tmp_path / "server.log"
    with running(command, port, output, tmp_path, **env) as server:
        for number in range(REQUESTS):
            answer = requests.get(f"http://127.0.0.1:{port}/orders/{number}", timeout=10)
            assert answer.text == f"order {number}"
        if stop_first:
            server.send_signal(signal.SIGTERM)
            assert server.wait(timeout=20) == -signal.SIGTERM
        spans = wait_for(log, server_spans, REQUESTS)
        counted = wait_for(log, counted_by(metric), REQUESTS)
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=20)
    assert len(counted) == REQUESTS, log.read_text()
    return spans, output.read_text(errors="replace")


def assert_ours(spans: list[dict[str, Any]]) -> None:
    assert len(spans) == REQUESTS, spans
    for span in spans:
        assert span["Name"] == "GET /orders/{id}"
        assert span["service"] == "zero-code-test"
        assert span["attributes"]["http.route"] == "Str(/orders/{id})"
        assert span["attributes"]["http.request.method"] == "Str(GET)"


# The distro exporting a minute later than the stop: only the SIGTERM flush can deliver.
LATE = {"OTEL_BSP_SCHEDULE_DELAY": "60000", "OTEL_METRIC_EXPORT_INTERVAL": "60000"}


@pytest.mark.parametrize("stop_first", [False, True], ids=["serving", "sigterm-flush"])
def test_pserve_under_opentelemetry_instrument(
    collector: tuple[str, Path], tmp_path: Path, stop_first: bool
) -> None:
    """opentelemetry-instrument pserve app.ini: one server span per request (pyramid_tracing's,
    on the distro's provider), and the duration metric, at rotel. ``sigterm-flush``: pserve
    dies of SIGTERM without atexit; pyramid_tracing's handler flushes the global providers
    first, so the spans and metrics that would wait a minute reach rotel."""
    endpoint, log = collector
    port = free_port()
    ini = write_ini(tmp_path / "app.ini", port)
    command = [str(BIN / "opentelemetry-instrument"), str(BIN / "pserve"), str(ini)]
    env = distro_environment(endpoint, **(LATE if stop_first else {}))
    spans, output = serve_and_collect(command, port, tmp_path, log, env, stop_first=stop_first)
    assert_ours(spans)
    assert "Traceback" not in output, output


def test_gunicorn_workers_under_opentelemetry_instrument(
    collector: tuple[str, Path], tmp_path: Path
) -> None:
    """opentelemetry-instrument gunicorn --paste, 2 sync workers: the distro's providers were
    built in the master; every worker's spans and metrics still reach rotel."""
    endpoint, log = collector
    port = free_port()
    ini = write_ini(tmp_path / "app.ini", port)
    command = [str(BIN / "opentelemetry-instrument"), *gunicorn_command(ini, port)]
    spans, output = serve_and_collect(command, port, tmp_path, log, distro_environment(endpoint))
    assert_ours(spans)
    assert "Traceback" not in output, output


def test_disabling_pyramid_tracing_gives_the_peers_span(
    collector: tuple[str, Path], tmp_path: Path
) -> None:
    """OTEL_PYTHON_DISABLED_INSTRUMENTATIONS=pyramid_tracing: the peer's server span and
    metric instead (its default, older conventions: http.method, http.server.duration)."""
    endpoint, log = collector
    port = free_port()
    ini = write_ini(tmp_path / "app.ini", port)
    command = [str(BIN / "opentelemetry-instrument"), str(BIN / "pserve"), str(ini)]
    env = distro_environment(endpoint, OTEL_PYTHON_DISABLED_INSTRUMENTATIONS="pyramid_tracing")
    spans, _ = serve_and_collect(command, port, tmp_path, log, env, "http.server.duration")
    assert len(spans) == REQUESTS, spans
    for span in spans:
        assert "http.request.method" not in span["attributes"]
        assert span["attributes"]["http.method"] == "Str(GET)"
