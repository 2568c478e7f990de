"""``make demo``: two traced Pyramid services, a few requests, every trace printed as a tree.

The ``frontend`` and ``backend`` services (``services.py``) are configured from their INI
files and served by waitress on free 127.0.0.1 ports, in threads of this process; they talk
over real HTTP, so the trace context crosses the wire in W3C ``traceparent`` headers. Each
service has its own OpenTelemetry tracer provider (through the OpenTracing shim) with two
exporters: ``tree``, which prints each trace as a tree on standard error when its last span
ends, and ``memory``, from which this script checks that each trace is what it should be.

With ``OTEL_EXPORTER_OTLP_ENDPOINT`` set (for example ``http://localhost:4318`` for Jaeger,
Tempo or an OpenTelemetry collector), the same spans are also exported over OTLP/HTTP.
"""

from __future__ import annotations

import io
import os
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests
from opentelemetry.sdk.trace import ReadableSpan
from pyramid.paster import get_app
from waitress.server import create_server

from pyramid_tracing import get_tracing, otel

HERE = Path(__file__).resolve().parent
USER_AGENT = "pyramid-tracing-demo"

#: (what it shows, method, path, expected status)
SCENARIOS = (
    ("a plain call", "GET", "/checkout/42", 200),
    ("a concurrent fan-out with httpx in asyncio", "GET", "/compare", 200),
    ("a call that fails in the backend", "POST", "/pay", 502),
    ("an excluded health check", "GET", "/health", 200),
)
EXCLUDED = "/health"


class DemoError(Exception):
    """The demo did not see what it expected."""


@contextmanager
def serve(app: Any) -> Iterator[str]:
    """Serve ``app`` with waitress on a free loopback port; yield its URL; stop it after."""
    server: Any = create_server(app, host="127.0.0.1", port=0, threads=4)
    stopping = threading.Event()

    def run() -> None:
        # Short polling steps, so that the server stops promptly and closes its own sockets.
        while not stopping.is_set():
            server.asyncore.loop(timeout=0.05, map=server._map, use_poll=True, count=1)
        # Let running tasks finish before their channels close under them (waitress would log
        # "Exception when servicing" for a task whose socket was closed from this thread).
        server.task_dispatcher.shutdown()
        for channel in list(server._map.values()):
            channel.close()

    thread = threading.Thread(target=run, name="demo-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}"
    finally:
        stopping.set()
        thread.join(timeout=5)


def otlp_endpoint() -> str | None:
    """Where the spans also go, from the standard OpenTelemetry environment variables."""
    return os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or os.environ.get(
        "OTEL_EXPORTER_OTLP_ENDPOINT"
    )


def service(span: ReadableSpan) -> str:
    """The name of the service that recorded ``span``."""
    return str(span.resource.attributes.get("service.name", "?"))


def trace_id(span: ReadableSpan) -> int:
    """The trace id of ``span``."""
    assert span.context is not None
    return int(span.context.trace_id)


def collect(tracers: list[Any], expected_roots: int) -> list[ReadableSpan]:
    """All finished spans, once every traced request's root span has been recorded."""
    deadline = time.monotonic() + 5
    while True:
        spans = [
            span
            for tracer in tracers
            for span in otel.memory_exporter(tracer).get_finished_spans()
        ]
        roots = [span for span in spans if span.parent is None]
        if len(roots) >= expected_roots or time.monotonic() > deadline:
            return spans
        time.sleep(0.02)


def check(spans: list[ReadableSpan], method: str, path: str) -> str:
    """Check the trace of ``method path`` among ``spans``; return a summary or raise DemoError."""
    roots = [
        span
        for span in spans
        if span.parent is None and (span.attributes or {}).get("url.path") == path
    ]
    if path == EXCLUDED:
        if roots:
            raise DemoError(f"{path} is excluded from tracing but was traced")
        return "no trace: tracing.exclude_paths excludes it"
    if len(roots) != 1:
        raise DemoError(f"expected one trace for {method} {path}, recorded {len(roots)}")
    trace = [span for span in spans if trace_id(span) == trace_id(roots[0])]
    services = sorted({service(span) for span in trace})
    if services != ["backend", "frontend"]:
        raise DemoError(f"the trace of {path} covers {services}, not both services")
    return f"checked: one trace, {len(trace)} spans in {len(services)} services"


def run() -> None:
    """Start both services, drive the scenarios, check the traces, stop everything."""
    # The tree exporter prints each trace on standard error when its last span ends; line
    # buffering keeps this script's own lines (standard output) in order with the trees.
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(line_buffering=True)
    exporters = "memory tree otlp" if otlp_endpoint() else "memory tree"
    backend_app = get_app(str(HERE / "backend.ini"), "main", options={"exporters": exporters})
    tracers = [get_tracing(backend_app.registry).tracer]
    traced = 0
    with serve(backend_app) as backend_url:
        options = {"exporters": exporters, "backend_url": backend_url}
        frontend_app = get_app(str(HERE / "frontend.ini"), "main", options=options)
        tracers.append(get_tracing(frontend_app.registry).tracer)
        with serve(frontend_app) as frontend_url:
            print(f"frontend on {frontend_url}, backend on {backend_url}")
            for number, (title, method, path, expected) in enumerate(SCENARIOS, start=1):
                print(f"\n{number}. {title}: {method} {path}")
                response = requests.request(
                    method, frontend_url + path, headers={"User-Agent": USER_AGENT}, timeout=10
                )
                if response.status_code != expected:
                    msg = f"{method} {path} answered {response.status_code}, expected {expected}"
                    raise DemoError(msg)
                traced += path != EXCLUDED
                summary = check(collect(tracers, expected_roots=traced), method, path)
                print(f"  -> {response.status_code}; {summary}")
    for tracer in tracers:
        # Flushes the OTLP exporter too, when there is one.
        otel.tracer_provider(tracer).shutdown()
    endpoint = otlp_endpoint()
    if endpoint:
        print(f"\nThe same spans were exported over OTLP/HTTP to {endpoint}.")
    else:
        print(
            "\nSet OTEL_EXPORTER_OTLP_ENDPOINT (e.g. http://localhost:4318 for Jaeger or Tempo) "
            "to also export these spans."
        )


def main() -> int:
    """Run the demo; return the exit status."""
    try:
        run()
    except DemoError as exc:
        print(f"\ndemo failed: {exc}", file=sys.stderr)
        return 1
    print("\ndemo finished: all services stopped.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
