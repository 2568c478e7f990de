"""request.tracing: the active span, the request's span, child spans and header injection."""

from __future__ import annotations

import gc
import weakref
from typing import Any

import pytest
from opentracing import Format
from opentracing.mocktracer import MockTracer
from pyramid import testing
from pyramid.config import Configurator
from pyramid.request import apply_request_extensions
from pyramid.response import Response
from pyramid.scripting import prepare

from pyramid_tracing import RequestTracing, get_tracing
from tests.helpers.apps import build_app


def test_request_tracing_properties(tracer: MockTracer):
    """request.tracing gives the tracer, the request span and the active span."""
    seen: dict[str, Any] = {}

    def view(request: Any) -> Response:
        tracing = request.tracing
        seen["reified"] = tracing is request.tracing
        seen["type"] = type(tracing)
        seen["tracer"] = tracing.tracer
        seen["span"] = tracing.span
        seen["active_before"] = tracing.active_span
        with tracing.start_active_span("child", tags={"k": "v"}) as scope:
            seen["active_inside"] = tracing.active_span
            seen["child"] = scope.span
            seen["headers"] = tracing.inject({"X-Existing": "1"})
        seen["active_after"] = tracing.active_span
        seen["tracing"] = tracing.tracing
        return Response("ok")

    def configure(config: Configurator) -> None:
        config.add_route("req", "/req")
        config.add_view(view, route_name="req")

    app = build_app({"tracing.tracer": tracer}, configure)
    app.get("/req")
    child, request_span = tracer.finished_spans()
    assert seen["reified"] is True
    assert seen["type"] is RequestTracing
    assert seen["tracer"] is tracer
    assert seen["tracing"] is get_tracing(app.app.registry)
    assert seen["span"] is request_span
    assert seen["active_before"] is request_span
    assert seen["active_inside"] is child
    assert seen["active_after"] is request_span
    assert child.parent_id == request_span.context.span_id
    assert child.tags == {"k": "v"}
    headers = seen["headers"]
    assert headers["X-Existing"] == "1"
    extracted = tracer.extract(Format.HTTP_HEADERS, headers)
    assert extracted.span_id == child.context.span_id
    assert extracted.trace_id == request_span.context.trace_id


def test_untraced_request_has_no_span(tracer: MockTracer):
    """On an excluded request, .span and .active_span are None and inject adds nothing."""
    seen: dict[str, Any] = {}

    def view(request: Any) -> Response:
        seen["span"] = request.tracing.span
        seen["active"] = request.tracing.active_span
        seen["headers"] = request.tracing.inject({})
        return Response("ok")

    def configure(config: Configurator) -> None:
        config.add_route("plain", "/plain")
        config.add_view(view, route_name="plain")

    build_app({"tracing.tracer": tracer, "tracing.exclude_paths": "^/plain$"}, configure).get(
        "/plain"
    )
    assert seen == {"span": None, "active": None, "headers": {}}
    assert tracer.finished_spans() == []


def test_start_active_span_without_finish_on_close(tracer: MockTracer):
    """finish_on_close=False leaves the span open for the caller to finish."""
    seen: dict[str, Any] = {}

    def view(request: Any) -> Response:
        with request.tracing.start_active_span("manual", finish_on_close=False) as scope:
            seen["span"] = scope.span
        seen["finished_before"] = scope.span.finished
        scope.span.finish()
        return Response("ok")

    def configure(config: Configurator) -> None:
        config.add_route("manual", "/manual")
        config.add_view(view, route_name="manual")

    build_app({"tracing.tracer": tracer}, configure).get("/manual")
    assert seen["finished_before"] is False
    assert seen["span"].finished is True


class BrokenInjectTracer(MockTracer):
    """A MockTracer whose inject() fails."""

    def inject(self, span_context: Any, format: str, carrier: Any) -> None:
        raise RuntimeError("inject failed")


def test_inject_fails_open():
    """A tracer whose inject raises leaves the headers unchanged and the view running."""
    from pyramid_tracing import ScopeManager

    tracer = BrokenInjectTracer(scope_manager=ScopeManager())

    def view(request: Any) -> Response:
        return Response(str(request.tracing.inject({"a": "b"})))

    def configure(config: Configurator) -> None:
        config.add_route("inject", "/inject")
        config.add_view(view, route_name="inject")

    response = build_app({"tracing.tracer": tracer}, configure).get("/inject")
    assert response.text == "{'a': 'b'}"


def test_served_request_is_freed_without_the_garbage_collector(tracer: MockTracer):
    """request.tracing refers to no request: no cycle, so reference counting frees it."""
    requests: list[weakref.ref[Any]] = []

    def view(request: Any) -> Response:
        assert request.tracing.span is not None
        requests.append(weakref.ref(request))
        return Response("ok")

    def configure(config: Configurator) -> None:
        config.add_route("req", "/req")
        config.add_view(view, route_name="req")

    app = build_app({"tracing.tracer": tracer}, configure)
    gc.collect()
    gc.disable()
    try:
        app.get("/req")
        assert requests[0]() is None
    finally:
        gc.enable()
    assert len(tracer.finished_spans()) == 1


def test_request_tracing_in_scripts_and_unit_tests(tracer: MockTracer):
    """request.tracing also works where Pyramid applies request extensions without a tween."""
    app = build_app({"tracing.tracer": tracer})
    registry = app.app.registry
    env = prepare(registry=registry)
    try:
        request = env["request"]
        assert request.tracing.tracing is get_tracing(registry)
        assert request.tracing.span is None
        with request.tracing.start_active_span("script.job") as scope:
            assert request.tracing.active_span is scope.span
    finally:
        env["closer"]()
    dummy = testing.DummyRequest()
    dummy.registry = registry
    apply_request_extensions(dummy)
    assert type(dummy.tracing) is RequestTracing
    assert dummy.tracing.tracer is tracer
    assert [span.operation_name for span in tracer.finished_spans()] == ["script.job"]


def test_request_tracing_is_request_tracing_typed(tracer: MockTracer) -> None:
    """request_tracing(request) is the request's own request.tracing, inside a real view."""
    from pyramid_tracing import request_tracing

    seen: list[bool] = []

    def configure(config: Any) -> None:
        def view(request: Any) -> Any:
            tracing = request_tracing(request)
            seen.append(tracing is request.tracing and tracing.span is not None)
            return Response("ok")

        config.add_route("typed", "/typed")
        config.add_view(view, route_name="typed")

    build_app({"tracing.tracer": tracer}, configure).get("/typed")
    assert seen == [True]


def test_request_tracing_on_a_dummy_request_needs_its_extensions(tracer: MockTracer) -> None:
    """A DummyRequest gets request.tracing from apply_request_extensions; before, a clear error."""
    from pyramid import testing
    from pyramid.request import apply_request_extensions

    from pyramid_tracing import RequestTracing, request_tracing

    with testing.testConfig(settings={"tracing.tracer": tracer}) as config:
        config.include("pyramid_tracing")
        config.commit()
        request = testing.DummyRequest()
        with pytest.raises(LookupError, match=r"has no request\.tracing: include pyramid_tracing"):
            request_tracing(request)
        apply_request_extensions(request)
        assert isinstance(request_tracing(request), RequestTracing)
