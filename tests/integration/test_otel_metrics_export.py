"""The HTTP server metrics at a real collector (rotel-agent), from servers configured by INI.

The metrics interval is one minute: a point reaches the collector before the test's deadline
only if the process's exit (SIGTERM) exports the last interval.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests
from pyramid.paster import get_app
from webtest import TestApp

pytest.importorskip("opentelemetry.exporter.otlp.proto.http")

from pyramid_tracing import get_tracing, otel
from tests.helpers.collector import counted_once, parse_metric_points, run_collector_urls
from tests.helpers.production import (
    BIN,
    free_port,
    gunicorn_command,
    running,
    uwsgi_command,
    write_ini,
)

DURATION = "http.server.request.duration"
ROUTE = "Str(/orders/{id})"


@pytest.fixture
def collector(tmp_path: Path) -> Iterator[tuple[str, str, Path]]:
    with run_collector_urls(tmp_path) as started:
        yield started


def duration_points(log: Path, total: int, timeout: float = 10.0) -> list[dict[str, Any]]:
    """The duration points rotel logged, once their counts add up to ``total`` (or timeout)."""
    deadline = time.monotonic() + timeout
    points: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        text = log.read_text(errors="replace")
        points = [point for point in parse_metric_points(text) if point.get("name") == DURATION]
        if sum(int(point["Count"]) for point in points) >= total:
            break
        time.sleep(0.1)
    return points


def test_the_apps_own_shutdown_hook_exports_the_last_interval(
    collector: tuple[str, str, Path], tmp_path: Path
) -> None:
    """meter_provider(tracer).shutdown(), as a shutdown hook of the app's own calls it,
    exports the interval at once (one minute long) and stops the export thread; the next app
    with the same settings gets a new provider."""
    http_url, _, log = collector
    ini = write_ini(tmp_path / "app.ini", 0, endpoint=http_url, metrics_interval="60")
    app = get_app(str(ini), "main")
    tracer = get_tracing(app.registry).tracer
    client = TestApp(app)
    for number in range(3):
        client.get(f"/orders/{number}")
    provider = otel.meter_provider(tracer)
    threads = {thread.name for thread in threading.enumerate()}
    assert "OtelPeriodicExportingMetricReader" in threads
    provider.shutdown()
    assert counted_once(duration_points(log, 3)) == 3
    threads = {thread.name for thread in threading.enumerate()}
    assert "OtelPeriodicExportingMetricReader" not in threads
    otel.tracer_provider(tracer).shutdown()
    again = get_tracing(get_app(str(ini), "main").registry).tracer
    assert otel.meter_provider(again) is not provider


def stop(process: Any) -> int:
    process.send_signal(signal.SIGTERM)
    return int(process.wait(timeout=20))


@pytest.mark.parametrize("protocol", ["http/protobuf", "grpc"])
def test_pserve_exports_the_duration_over_otlp_at_sigterm(
    collector: tuple[str, str, Path], tmp_path: Path, protocol: str
) -> None:
    """pserve with an INI file: 5 requests' duration reaches rotel over OTLP/HTTP and gRPC,
    exported by the SIGTERM flush, with the route pattern and exemplars."""
    if protocol == "grpc":
        pytest.importorskip("opentelemetry.exporter.otlp.proto.grpc")
    http_url, grpc_url, log = collector
    port = free_port()
    endpoint = grpc_url if protocol == "grpc" else http_url
    ini = write_ini(
        tmp_path / "app.ini", port, endpoint=endpoint, protocol=protocol, metrics_interval="60"
    )
    with running([str(BIN / "pserve"), str(ini)], port, tmp_path / "pserve.log", tmp_path) as app:
        for number in range(5):
            assert requests.get(f"http://127.0.0.1:{port}/orders/{number}", timeout=5).ok
        assert stop(app) == -signal.SIGTERM
    (point,) = duration_points(log, 5)
    assert point["unit"] == "s"
    assert point["Count"] == "5"
    assert point["attributes"] == {
        "http.request.method": "Str(GET)",
        "url.scheme": "Str(http)",
        "http.response.status_code": "Int(200)",
        "http.route": ROUTE,
        "network.protocol.version": "Str(1.1)",
    }
    assert point["resource"]["service.name"] == "production-test"
    assert len(point["trace_ids"]) >= 1


def send_concurrently(port: int, count: int) -> set[str]:
    """``count`` slow requests, 4 at a time; the worker pids that answered."""
    with ThreadPoolExecutor(4) as pool:
        answers = list(
            pool.map(
                lambda _: requests.get(f"http://127.0.0.1:{port}/slow", timeout=10).text,
                range(count),
            )
        )
    return {answer.split()[1] for answer in answers}


def per_instance(points: list[dict[str, Any]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for point in points:
        instance = point["resource"]["service.instance.id"]
        counts[instance] = counts.get(instance, 0) + int(point["Count"])
    return counts


@pytest.mark.parametrize(
    "options",
    [["--worker-class", "sync"], ["--worker-class", "gthread", "--threads", "2"]],
    ids=["sync", "gthread"],
)
def test_gunicorn_preload_workers_each_export_their_points(
    collector: tuple[str, str, Path], tmp_path: Path, options: list[str]
) -> None:
    """gunicorn --preload, 2 workers: each worker's requests reach rotel as its own points
    (its own service.instance.id), exported when the worker is stopped."""
    http_url, _, log = collector
    port = free_port()
    ini = write_ini(tmp_path / "app.ini", port, endpoint=http_url, metrics_interval="60")
    command = gunicorn_command(ini, port, "--preload", *options)
    output = tmp_path / "gunicorn.log"
    with running(command, port, output, tmp_path) as app:
        # The master binds the socket first: wait until both workers serve.
        deadline = time.monotonic() + 20
        while output.read_text(errors="replace").count("Booting worker with pid") < 2:
            assert time.monotonic() < deadline, output.read_text()
            time.sleep(0.05)
        pids = send_concurrently(port, 12)
        assert stop(app) == 0, output.read_text()
    assert len(pids) == 2, pids
    counts = per_instance(duration_points(log, 12))
    assert sum(counts.values()) == 12, counts
    assert len(counts) == 2, counts


def test_uwsgi_prefork_workers_each_export_their_points(
    collector: tuple[str, str, Path], tmp_path: Path
) -> None:
    """uWSGI without lazy-apps (the app loaded in the master, 2 workers forked) with
    ``py-call-osafterfork`` (docs/production.md's recipe): each worker exports its points
    periodically while it serves, under a service.instance.id of its own."""
    http_url, _, log = collector
    port = free_port()
    ini = write_ini(tmp_path / "app.ini", port, endpoint=http_url, metrics_interval="0.5")
    command = uwsgi_command(ini, port, "--py-call-osafterfork")
    output = tmp_path / "uwsgi.log"
    with running(command, port, output, tmp_path) as app:
        deadline = time.monotonic() + 20
        while ") ready in " not in output.read_text(errors="replace"):
            assert time.monotonic() < deadline, output.read_text()
            time.sleep(0.05)
        pids = send_concurrently(port, 12)
        # Before any SIGTERM: the workers' own export threads send their (cumulative) points.
        latest: dict[str, int] = {}
        deadline = time.monotonic() + 10
        while not (len(latest) == 2 and sum(latest.values()) == 12):
            assert time.monotonic() < deadline, (latest, output.read_text())
            time.sleep(0.1)
            latest = {}
            for point in parse_metric_points(log.read_text(errors="replace")):
                if point.get("name") != DURATION:
                    continue
                instance = point["resource"]["service.instance.id"]
                latest[instance] = max(latest.get(instance, 0), int(point["Count"]))
        assert stop(app) == 0, output.read_text()
    assert len(pids) == 2, pids
