"""``tracing.response_trace_headers``: the server span's ids back to the caller."""

from __future__ import annotations

import re
from typing import Any

import pytest
from opentracing.mocktracer import MockTracer
from pyramid.config import Configurator
from pyramid.exceptions import ConfigurationError
from pyramid.response import Response
from webtest import TestApp

from pyramid_tracing import ScopeManager

TRACEPARENT = re.compile(r"00-([0-9a-f]{32})-([0-9a-f]{16})-0[01]")


def make(tracer: Any, headers: str, view: Any = None) -> TestApp:
    settings = {"tracing.tracer": tracer, "tracing.response_trace_headers": headers}
    with Configurator(settings=settings) as config:
        config.include("pyramid_tracing")
        config.add_route("hello", "/hello")
        config.add_view(view or (lambda request: Response("hi")), route_name="hello")
        config.add_route("data", "/data")
        config.add_view(lambda request: {"a": 1}, route_name="data", renderer="json")
        return TestApp(config.make_wsgi_app())


def test_traceresponse_and_server_timing_carry_the_server_span_ids() -> None:
    """Both headers name the request's span (MockTracer ids, zero-padded to W3C widths)."""
    tracer = MockTracer(scope_manager=ScopeManager())
    response = make(tracer, "traceresponse, server-timing").get("/hello")
    (span,) = tracer.finished_spans()
    expected = f"00-{span.context.trace_id:032x}-{span.context.span_id:016x}-01"
    assert response.headers["traceresponse"] == expected
    assert response.headers["Server-Timing"] == f'traceparent;desc="{expected}"'
    assert response.headers["Access-Control-Expose-Headers"] == "traceresponse, Server-Timing"


def test_headers_reach_a_rendered_response_and_keep_the_apps_own() -> None:
    """A renderer's response gets them; the app's Server-Timing and exposed headers stay."""

    def view(request: Any) -> Response:
        response = Response("hi")
        response.headers["Server-Timing"] = "db;dur=53"
        response.headers["Access-Control-Expose-Headers"] = "X-Request-Id, traceresponse"
        return response

    tracer = MockTracer(scope_manager=ScopeManager())
    app = make(tracer, "traceresponse server-timing", view)
    response = app.get("/hello")
    assert response.headers.getall("Server-Timing")[0] == "db;dur=53"
    assert TRACEPARENT.search(response.headers.getall("Server-Timing")[1])
    assert response.headers["Access-Control-Expose-Headers"] == (
        "X-Request-Id, traceresponse, Server-Timing"
    )
    rendered = app.get("/data")
    assert TRACEPARENT.fullmatch(rendered.headers["traceresponse"])


def test_no_header_by_default(tracer: MockTracer) -> None:
    """The default is no trace header at all."""
    with Configurator(settings={"tracing.tracer": tracer}) as config:
        config.include("pyramid_tracing")
        config.add_route("hello", "/hello")
        config.add_view(lambda request: Response("hi"), route_name="hello")
        app = TestApp(config.make_wsgi_app())
    response = app.get("/hello")
    assert "traceresponse" not in response.headers
    assert "Access-Control-Expose-Headers" not in response.headers


def test_an_unknown_header_name_fails_at_startup(tracer: MockTracer) -> None:
    """The error names the key, the value and the allowed names."""
    with pytest.raises(ConfigurationError) as raised:
        make(tracer, "traceparent")
    assert (
        "Invalid value for setting 'tracing.response_trace_headers': 'traceparent'. "
        "'traceparent' is not one of server-timing, traceresponse (or empty for none)."
    ) in str(raised.value)


def test_opentelemetry_ids_are_the_exported_ones() -> None:
    """With the OpenTelemetry shim, traceresponse is the exported span's W3C ids and flags."""
    pytest.importorskip("opentelemetry.shim.opentracing_shim")
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry.shim.opentracing_shim import create_tracer

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    response = make(create_tracer(provider), "traceresponse").get("/hello")
    (span,) = [s for s in exporter.get_finished_spans() if s.parent is None]
    context = span.get_span_context()
    assert response.headers["traceresponse"] == (
        f"00-{context.trace_id:032x}-{context.span_id:016x}-01"
    )


@pytest.mark.parametrize("sampled", [True, False])
def test_jaeger_flags_follow_the_sampling_decision(sampled: bool) -> None:
    """jaeger-client's sampling flag becomes the W3C flags (01 sampled, 00 not)."""
    pytest.importorskip("jaeger_client")
    from jaeger_client import Tracer
    from jaeger_client.reporter import NullReporter
    from jaeger_client.sampler import ConstSampler

    tracer = Tracer(
        "svc", reporter=NullReporter(), sampler=ConstSampler(sampled), scope_manager=ScopeManager()
    )
    response = make(tracer, "traceresponse").get("/hello")
    match = TRACEPARENT.fullmatch(response.headers["traceresponse"])
    assert match is not None
    assert response.headers["traceresponse"].endswith("-01" if sampled else "-00")
