"""tracing.semconv = stable, side by side with opentelemetry-instrumentation-pyramid.

The same app, the same requests: once traced by pyramid_tracing with the OpenTelemetry tracer
(``stable`` is its default), once by the official instrumentation with
``OTEL_SEMCONV_STABILITY_OPT_IN=http``. The server span attributes must be equal, except the
differences listed in docs/semconv.md (each one asserted here as it is).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from opentracing.mocktracer import MockTracer
from pyramid.config import Configurator
from pyramid.httpexceptions import HTTPForbidden
from pyramid.response import Response
from webtest import TestApp

pytest.importorskip("opentelemetry.sdk")

import contextlib

from pyramid_tracing import ScopeManager, get_tracing, otel
from tests.helpers.otel_globals import reset_otel_globals
from tests.helpers.production import environment


class Boom(Exception):
    """Raised by a view, handled by nothing."""


class Handled(Exception):
    """Raised by a view, turned into a 500 by an exception view."""


def ok(request: Any) -> Response:
    return Response("ok")


def forbid(request: Any) -> Response:
    raise HTTPForbidden()


def boom(request: Any) -> Response:
    raise Boom("kaput")


def handled(request: Any) -> Response:
    raise Handled("nope")


def error_page(exc: Exception, request: Any) -> Response:
    return Response("error", status=500)


def build(**settings: Any) -> Any:
    with Configurator(settings=settings) as config:
        if settings:
            config.include("pyramid_tracing")
        config.add_route("order", "/orders/{id}")
        config.add_view(ok, route_name="order")
        config.add_route("forbid", "/forbid")
        config.add_view(forbid, route_name="forbid")
        config.add_route("boom", "/boom")
        config.add_view(boom, route_name="boom")
        config.add_route("handled", "/handled")
        config.add_view(handled, route_name="handled")
        config.add_view(error_page, context=Handled)
        return config.make_wsgi_app()


# Each request kind: (path, query, status, extra environ).
REQUESTS: list[tuple[str, str, int, dict[str, str]]] = [
    ("/orders/7", "", 200, {"HTTP_USER_AGENT": "side-by-side", "REMOTE_ADDR": "10.0.0.1"}),
    ("/orders/7", "page=2&token=s3cret", 200, {}),
    ("/orders/7", "", 200, {"HTTP_HOST": "shop.example:8080"}),
    ("/missing", "", 404, {}),
    ("/forbid", "", 403, {}),
    ("/boom", "", 500, {}),
    ("/handled", "", 500, {}),
]


def drive(app: Any) -> None:
    client = TestApp(app)
    for path, query, status, environ in REQUESTS:
        url = f"{path}?{query}" if query else path
        with contextlib.suppress(Boom):
            client.get(url, status=status, extra_environ=environ)


OFFICIAL_SCRIPT = """
import json, os, sys
os.environ["OTEL_SEMCONV_STABILITY_OPT_IN"] = "http"
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.instrumentation.pyramid import PyramidInstrumentor
memory = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(memory))
trace.set_tracer_provider(provider)
PyramidInstrumentor().instrument()
from tests.integration import test_semconv as side
side.drive(side.build())
print(json.dumps([side.summary(span) for span in memory.get_finished_spans()]))
"""


def summary(span: Any) -> dict[str, Any]:
    """What is compared of one OpenTelemetry span (JSON-friendly)."""
    events = [
        {key: value for key, value in event.attributes.items() if key != "exception.stacktrace"}
        | {"name": event.name, "has_stacktrace": "exception.stacktrace" in event.attributes}
        for event in span.events
    ]
    return {
        "name": span.name,
        "kind": span.kind.name,
        "status": span.status.status_code.name,
        "description": span.status.description,
        "attributes": dict(span.attributes),
        "events": events,
    }


@pytest.fixture(scope="module")
def official() -> list[dict[str, Any]]:
    """The official instrumentation's spans, from a process of its own (it patches Pyramid)."""
    pytest.importorskip("opentelemetry.instrumentation.pyramid")
    done = subprocess.run(
        [sys.executable, "-c", OFFICIAL_SCRIPT],
        capture_output=True,
        text=True,
        env=environment(),
        timeout=60,
        check=True,
    )
    import json

    spans: list[dict[str, Any]] = json.loads(done.stdout.splitlines()[-1])
    return spans


@pytest.fixture(scope="module")
def ours() -> Iterator[list[dict[str, Any]]]:
    app = build(
        **{
            "tracing.tracer": "pyramid_tracing.otel:tracer_from_settings",
            "tracing.otel.exporter": "memory",
        }
    )
    drive(app)
    memory = otel.memory_exporter(get_tracing(app.registry).tracer)
    yield [summary(span) for span in memory.get_finished_spans()]
    reset_otel_globals()


# What ours does on purpose, per request (index in REQUESTS): docs/semconv.md lists each.
def expected_from_official(index: int, theirs: dict[str, Any]) -> dict[str, Any]:
    span = {**theirs, "attributes": dict(theirs["attributes"])}
    attributes = span["attributes"]
    path, query, _, environ = REQUESTS[index]
    # 1. url.path and url.query on server spans, as the conventions say, not url.full; the
    #    query redacted.
    del attributes["url.full"]
    attributes["url.path"] = path
    if query:
        attributes["url.query"] = query.replace("s3cret", "[REDACTED]")
    # 2. server.address without the port, server.port from the Host header.
    host = environ.get("HTTP_HOST", "localhost:80")
    name, _, port = host.partition(":")
    attributes["server.address"] = name
    attributes["server.port"] = int(port or 80)
    # 3. The span name is "{method} {route}", and "{method}" without a route (never the path).
    route = attributes.get("http.route")
    span["name"] = f"GET {route}" if route else "GET"
    # 4. The exception view's 500 records the exception it handled.
    if path == "/handled":
        attributes["error.type"] = "Handled"
        span["description"] = "nope"
        span["events"] = [
            {
                "name": "exception",
                "exception.type": "tests.integration.test_semconv.Handled",
                "exception.message": "nope",
                "exception.escaped": "False",
                "has_stacktrace": True,
            }
        ]
    return span


def test_stable_attributes_match_the_official_instrumentation(
    official: list[dict[str, Any]], ours: list[dict[str, Any]]
) -> None:
    """Each request's server span equals the official one but for the documented changes."""
    assert len(official) == len(ours) == len(REQUESTS)
    for index, (theirs, mine) in enumerate(zip(official, ours, strict=True)):
        theirs = {**theirs}
        if theirs["events"]:
            # The official instrumentation's exception type: qualified the same way.
            for event in theirs["events"]:
                event["exception.type"] = event["exception.type"].replace(
                    "__main__.", "tests.integration.test_semconv."
                )
        assert mine == expected_from_official(index, theirs), (index, REQUESTS[index])


def test_the_official_span_names_and_urls_are_as_documented(
    official: list[dict[str, Any]],
) -> None:
    """The official instrumentation's own values, pinned: the differences are real."""
    assert [span["name"] for span in official] == [
        "/orders/{id}",
        "/orders/{id}",
        "/orders/{id}",
        "GET /missing",
        "/forbid",
        "/boom",
        "/handled",
    ]
    assert (
        official[1]["attributes"]["url.full"] == "http://localhost:80/orders/7?page=2&token=s3cret"
    )
    assert official[2]["attributes"]["server.address"] == "shop.example:8080"
    assert official[2]["attributes"]["server.port"] == 80


def test_both_keeps_the_opentracing_tags_too() -> None:
    """tracing.semconv = both: http.url and http.request.method side by side."""
    tracer = MockTracer(scope_manager=ScopeManager())
    app = build(**{"tracing.tracer": tracer, "tracing.semconv": "both"})
    TestApp(app).get("/orders/7?token=s3cret")
    (span,) = tracer.finished_spans()
    assert span.operation_name == "GET /orders/{id}"
    assert span.tags["http.url"] == "http://localhost/orders/7?token=[REDACTED]"
    assert span.tags["url.query"] == "token=[REDACTED]"
    assert span.tags["http.status_code"] == span.tags["http.response.status_code"] == 200
    assert span.tags["pyramid.route"] == "order"


def test_opentracing_is_the_default_for_other_tracers() -> None:
    """A tracer that is not pyramid_tracing.otel's keeps the OpenTracing vocabulary."""
    tracer = MockTracer(scope_manager=ScopeManager())
    app = build(**{"tracing.tracer": tracer})
    TestApp(app).get("/orders/7")
    (span,) = tracer.finished_spans()
    assert span.operation_name == "order"
    assert "http.request.method" not in span.tags
    assert span.tags["http.method"] == "GET"


def test_stable_on_another_tracer_logs_an_exception_event() -> None:
    """With a non-OpenTelemetry tracer, stable errors are an exception log and error=true."""
    tracer = MockTracer(scope_manager=ScopeManager())
    app = build(**{"tracing.tracer": tracer, "tracing.semconv": "stable"})
    with pytest.raises(Boom):
        TestApp(app).get("/boom")
    (span,) = tracer.finished_spans()
    assert span.tags["error"] is True
    assert span.tags["error.type"] == "Boom"
    (log,) = span.logs
    assert log.key_values["event"] == "exception"
    assert log.key_values["exception.type"] == "tests.integration.test_semconv.Boom"
    assert log.key_values["exception.message"] == "kaput"
    assert log.key_values["exception.stacktrace"].endswith("Boom: kaput\n")


def test_client_spans_carry_the_stable_attributes() -> None:
    """Outbound requests: url.full redacted, server.*, status; a 4xx is an error for clients."""
    from pyramid_tracing import traced_requests_session
    from tests.helpers.serving import serve

    server = build()
    app = build(
        **{
            "tracing.tracer": "pyramid_tracing.otel:tracer_from_settings",
            "tracing.otel.exporter": "memory",
        }
    )
    tracing = get_tracing(app.registry)
    memory = otel.memory_exporter(tracing.tracer)
    try:
        with serve(server) as url, traced_requests_session(tracing) as session:
            session.get(f"{url}/orders/7?token=s3cret", timeout=5)
            session.get(f"{url}/forbid", timeout=5)
        ok_span, forbidden = memory.get_finished_spans()
        port = int(url.rsplit(":", 1)[1])
        assert ok_span.name == "GET"
        assert ok_span.kind.name == "CLIENT"
        assert dict(ok_span.attributes or {}) == {
            "http.request.method": "GET",
            "url.full": f"{url}/orders/7?token=[REDACTED]",
            "server.address": "127.0.0.1",
            "server.port": port,
            "http.response.status_code": 200,
        }
        assert ok_span.status.status_code.name == "UNSET"
        assert (forbidden.attributes or {})["error.type"] == "403"
        assert forbidden.status.status_code.name == "ERROR"
    finally:
        reset_otel_globals()
