"""``make demo``: two traced Pyramid services, a few requests, every trace printed as a tree.

The ``frontend`` and ``backend`` services (``services.py``) are configured from their INI
files and served by waitress on free 127.0.0.1 ports, in threads of this process; they talk
over real HTTP, so the trace context crosses the wire in W3C ``traceparent`` headers. Each
service has its own OpenTelemetry tracer provider (through the OpenTracing shim) that keeps
its spans in memory; this script reads them back and prints each trace.

With ``OTEL_EXPORTER_OTLP_ENDPOINT`` set (for example ``http://localhost:4318`` for Jaeger,
Tempo or an OpenTelemetry collector), the same spans are also exported over OTLP/HTTP.
"""

from __future__ import annotations

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
from opentelemetry.trace import StatusCode
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
KEY_TAGS = (
    "http.status_code",
    "http.url",
    "http.request.header.user-agent",
    "db.system",
    "cache.key",
)


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
        for channel in list(server._map.values()):
            channel.close()
        server.task_dispatcher.shutdown()

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


def span_id(span: ReadableSpan) -> int:
    """The id of ``span``."""
    assert span.context is not None
    return int(span.context.span_id)


def trace_id(span: ReadableSpan) -> int:
    """The trace id of ``span``."""
    assert span.context is not None
    return int(span.context.trace_id)


def parent_id(span: ReadableSpan) -> int | None:
    """The id of the parent of ``span``, or ``None`` for a root span."""
    return None if span.parent is None else span.parent.span_id


def describe(span: ReadableSpan) -> str:
    """Duration, status and key tags of ``span``, as one line."""
    attributes = span.attributes or {}
    failed = span.status.status_code is StatusCode.ERROR
    status = "ERROR" if failed else "OK"
    duration = ((span.end_time or 0) - (span.start_time or 0)) / 1e6
    client = attributes.get("span.kind") == "client"
    tags = [
        f"{key}={attributes[key]!s}"
        for key in KEY_TAGS
        if key in attributes and (client or key != "http.url")
    ]
    if failed:
        for event in span.events:
            kind = (event.attributes or {}).get("error.kind")
            if isinstance(kind, str):
                tags.append(f"error.kind={kind}")
    return f"{duration:8.1f} ms  {status:<5}  {' '.join(tags)}".rstrip()


def print_tree(spans: list[ReadableSpan]) -> None:
    """Print the spans of one trace as an indented tree, children in start order."""
    ids = {span_id(span) for span in spans}
    children: dict[int | None, list[ReadableSpan]] = {}
    for span in spans:
        parent = parent_id(span)
        children.setdefault(parent if parent in ids else None, []).append(span)
    for siblings in children.values():
        siblings.sort(key=lambda span: (span.start_time or 0, span.name))

    lines: list[tuple[str, str]] = []

    def walk(span: ReadableSpan, prefix: str, branch: str) -> None:
        lines.append((f"{prefix}{branch}{service(span):<9} {span.name}", describe(span)))
        below = children.get(span_id(span), [])
        inner = prefix + ("" if not branch else "   " if branch == "└─ " else "│  ")
        for index, child in enumerate(below):
            walk(child, inner, "└─ " if index == len(below) - 1 else "├─ ")

    for root in children.get(None, []):
        walk(root, "", "")
    width = max(len(label) for label, _ in lines)
    for label, description in lines:
        print(f"  {label:<{width}}{description}")


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


def run() -> None:
    """Start both services, drive the scenarios, print the traces, stop everything."""
    exporters = "memory otlp" if otlp_endpoint() else "memory"
    backend_app = get_app(str(HERE / "backend.ini"), "main", options={"exporters": exporters})
    tracers = [get_tracing(backend_app.registry).tracer]
    statuses: dict[str, int] = {}
    with serve(backend_app) as backend_url:
        options = {"exporters": exporters, "backend_url": backend_url}
        frontend_app = get_app(str(HERE / "frontend.ini"), "main", options=options)
        tracers.append(get_tracing(frontend_app.registry).tracer)
        with serve(frontend_app) as frontend_url:
            print(f"frontend on {frontend_url}, backend on {backend_url}")
            for _, method, path, _ in SCENARIOS:
                response = requests.request(
                    method, frontend_url + path, headers={"User-Agent": USER_AGENT}, timeout=10
                )
                statuses[path] = response.status_code
    spans = collect(tracers, expected_roots=len(SCENARIOS) - 1)
    for tracer in tracers:
        # Flushes the OTLP exporter too, when there is one.
        otel.tracer_provider(tracer).shutdown()

    traces: dict[int, list[ReadableSpan]] = {}
    for span in spans:
        traces.setdefault(trace_id(span), []).append(span)
    roots = {
        str((span.attributes or {}).get("http.url", "")).split("?")[0]: span
        for span in spans
        if span.parent is None
    }
    for number, (title, method, path, expected) in enumerate(SCENARIOS, start=1):
        status = statuses[path]
        print(f"\n{number}. {title}: {method} {path} -> {status}")
        if status != expected:
            raise DemoError(f"{method} {path} answered {status}, expected {expected}")
        root = next((span for url, span in roots.items() if url.endswith(path)), None)
        if path == EXCLUDED:
            if root is not None:
                raise DemoError(f"{path} is excluded from tracing but was traced")
            print("  (no trace: tracing.exclude_paths excludes it)")
            continue
        if root is None:
            raise DemoError(f"no trace was recorded for {method} {path}")
        trace = traces[trace_id(root)]
        services = sorted({service(span) for span in trace})
        if services != ["backend", "frontend"]:
            raise DemoError(f"the trace of {path} covers {services}, not both services")
        print(f"  trace {trace_id(root):032x}: {len(trace)} spans in {len(services)} services")
        print_tree(trace)
    if len(traces) != len(SCENARIOS) - 1:
        raise DemoError(f"expected {len(SCENARIOS) - 1} traces, recorded {len(traces)}")
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
