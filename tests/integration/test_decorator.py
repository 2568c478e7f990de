"""Tracing.trace: the view decorator, with and without the tween."""

from __future__ import annotations

from typing import Any

import pytest
from opentracing.mocktracer import MockTracer
from pyramid.config import Configurator
from pyramid.request import Request
from pyramid.response import Response
from webtest import TestApp

from pyramid_tracing import Tracing


def make_app(configure: Any, *, include: bool = False, tracer: MockTracer) -> TestApp:
    with Configurator(settings={"tracing.tracer": tracer}) as config:
        if include:
            config.include("pyramid_tracing")
        configure(config)
        return TestApp(config.make_wsgi_app())


def test_decorator_without_tween_creates_server_span(tracer: MockTracer):
    """Without the tween, the decorator creates the server span exactly like the tween."""
    tracing = Tracing(tracer)

    @tracing.trace("method", "does_not_exist")
    def view(request: Any) -> Response:
        return Response("hi", status=201)

    def configure(config: Configurator) -> None:
        config.add_route("item", "/items/{id}")
        config.add_view(view, route_name="item")

    make_app(configure, tracer=tracer).post("/items/3?x=1", status=201)
    (span,) = tracer.finished_spans()
    assert span.operation_name == "item"
    assert span.tags == {
        "component": "pyramid",
        "span.kind": "server",
        "http.method": "POST",
        "http.url": "http://localhost/items/3?x=1",
        "http.status_code": 201,
        "pyramid.route": "item",
        "http.route": "/items/{id}",
        "method": "POST",
    }
    assert tracer.active_span is None


def test_decorator_with_tween_only_adds_tags(tracer: MockTracer):
    """With the tween, the decorator adds its attribute tags to the request's single span."""
    tracing = Tracing(tracer)

    @tracing.trace("path")
    def view(request: Any) -> Response:
        return Response("hi")

    def configure(config: Configurator) -> None:
        config.add_route("item", "/items/{id}")
        config.add_view(view, route_name="item")

    make_app(configure, include=True, tracer=tracer).get("/items/3")
    (span,) = tracer.finished_spans()
    assert span.tags["path"] == "/items/3"
    assert span.tags["http.status_code"] == 200


def test_decorator_on_context_request_view_and_class_view(tracer: MockTracer):
    """Views taking (context, request) and methods of class-based views are traced."""
    tracing = Tracing(tracer)

    @tracing.trace()
    def context_view(context: Any, request: Any) -> Response:
        return Response("ctx")

    class ItemViews:
        def __init__(self, request: Any) -> None:
            self.request = request

        @tracing.trace("matchdict")
        def show(self) -> Response:
            return Response("class")

    def configure(config: Configurator) -> None:
        config.add_route("ctx", "/ctx")
        config.add_view(context_view, route_name="ctx")
        config.add_route("cls", "/cls/{id}")
        config.add_view(ItemViews, attr="show", route_name="cls")

    app = make_app(configure, tracer=tracer)
    assert app.get("/ctx").text == "ctx"
    assert app.get("/cls/9").text == "class"
    ctx_span, cls_span = tracer.finished_spans()
    assert ctx_span.operation_name == "ctx"
    assert cls_span.operation_name == "cls"
    assert cls_span.tags["matchdict"] == '{"id": "9"}'


def test_decorator_on_renderer_view_reads_request_response(tracer: MockTracer):
    """A view returning a dict for a renderer is tagged with request.response's status."""
    tracing = Tracing(tracer)

    @tracing.trace()
    def view(request: Any) -> dict[str, str]:
        request.response.status_code = 202
        return {"ok": "yes"}

    def configure(config: Configurator) -> None:
        config.add_route("json", "/json")
        config.add_view(view, route_name="json", renderer="json")

    assert make_app(configure, tracer=tracer).get("/json", status=202).json == {"ok": "yes"}
    (span,) = tracer.finished_spans()
    assert span.tags["http.status_code"] == 202


def test_decorator_tags_exception_and_reraises(tracer: MockTracer):
    """An exception in a decorated view tags the span and propagates unchanged."""
    tracing = Tracing(tracer)

    @tracing.trace("method")
    def view(request: Any) -> Response:
        raise ValueError("Testing exception")

    def configure(config: Configurator) -> None:
        config.add_route("bad", "/bad")
        config.add_view(view, route_name="bad")

    with pytest.raises(ValueError, match="Testing exception"):
        make_app(configure, tracer=tracer).get("/bad")
    (span,) = tracer.finished_spans()
    assert span.tags["error"] is True
    assert span.tags["method"] == "GET"
    assert span.logs[0].key_values["error.kind"] == "ValueError"
    assert tracer.active_span is None


def test_decorator_keeps_metadata_and_passes_through_without_request(tracer: MockTracer):
    """The wrapper keeps functools.wraps metadata and calls through when there is no request."""
    tracing = Tracing(tracer)

    @tracing.trace()
    def plain(a: int, b: int) -> int:
        """Add numbers."""
        return a + b

    assert plain.__name__ == "plain"
    assert plain.__doc__ == "Add numbers."
    assert plain(1, 2) == 3
    assert tracer.finished_spans() == []


def test_decorator_rejects_non_string_attributes(tracer: MockTracer):
    """Tracing.trace takes attribute names; anything else is a TypeError naming it."""
    with pytest.raises(TypeError, match=r"takes request attribute names, got 42"):
        Tracing(tracer).trace(42)  # type: ignore[arg-type]


def test_decorator_on_a_request_without_request_tracing(tracer: MockTracer):
    """A request that no router extended (a unit test's request) still gets its span."""
    tracing = Tracing(tracer)
    seen: dict[str, Any] = {}

    @tracing.trace("path")
    def view(request: Request) -> Response:
        seen["span"] = tracing.get_span(request)
        seen["active"] = tracer.active_span
        return Response("ok")

    request = Request.blank("/unit?x=1")
    assert view(request).status_code == 200
    (span,) = tracer.finished_spans()
    assert seen == {"span": span, "active": span}
    assert span.tags["path"] == "/unit"
    assert span.tags["http.status_code"] == 200
    assert tracing.get_span(request) is None
    assert not hasattr(request, "tracing")
