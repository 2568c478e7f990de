"""``tracing.instrument = render``: a child span around each renderer call, with every tracer."""

from __future__ import annotations

from typing import Any

import pytest
from opentracing.mocktracer import MockTracer
from pyramid.config import Configurator
from pyramid.interfaces import IRendererFactory
from pyramid.renderers import RendererHelper, get_renderer, render
from pyramid.response import Response

from pyramid_tracing import ScopeManager
from pyramid_tracing._instrument import _TracedRendererFactory

from .conftest import Kit, by_name, make_app

TEMPLATES = "tests.integration.instrument:templates"

# renderer name -> (add-on to include, the view's renderer, the span name, the template tag)
RENDERERS: dict[str, tuple[str | None, str, str, str | None]] = {
    "jinja2": ("pyramid_jinja2", f"{TEMPLATES}/item.jinja2", "render jinja2", "item.jinja2"),
    "chameleon": ("pyramid_chameleon", f"{TEMPLATES}/item.pt", "render pt", "item.pt"),
    "mako": ("pyramid_mako", f"{TEMPLATES}/item.mako", "render mako", "item.mako"),
    "json": (None, "json", "render json", None),
    "string": (None, "string", "render string", None),
}


def item(request: Any) -> dict[str, str]:
    return {"name": request.matchdict["name"]}


def configure_renderer(kind: str) -> Any:
    addon, renderer, _, _ = RENDERERS[kind]

    def configure(config: Configurator) -> None:
        if addon is not None:
            config.include(addon)
        config.add_route("item", "/items/{name}")
        config.add_view(item, route_name="item", renderer=renderer)

    return configure


@pytest.mark.parametrize("kind", sorted(RENDERERS))
def test_each_renderer_call_is_a_child_span(kit: Kit, kind: str) -> None:
    """Each renderer's call is a span named after it, under the server span, with its template."""
    _, _, span_name, template = RENDERERS[kind]
    app = make_app(kit.tracer, configure_renderer(kind))
    response = app.get("/items/ann")
    assert "ann" in response.text
    spans = by_name(kit.records())
    assert set(spans) == {"item", span_name}
    server, rendered = spans["item"], spans[span_name]
    assert rendered.parent_id == server.span_id
    assert rendered.trace_id == server.trace_id
    assert rendered.tags["component"] == "pyramid"
    assert rendered.tags["pyramid.renderer"] == span_name.split(" ")[1]
    if template is None:
        assert "pyramid.template" not in rendered.tags
    else:
        assert rendered.tags["pyramid.template"] == f"{TEMPLATES}/{template}"
    assert "error" not in rendered.tags


def broken(request: Any) -> dict[str, int]:
    return {"zero": 0}


def test_an_exception_while_rendering_marks_the_span_failed(kit: Kit) -> None:
    """A template that raises: error tag and error log on the render span; the error propagates."""

    def configure(config: Configurator) -> None:
        config.include("pyramid_jinja2")
        config.add_route("broken", "/broken")
        config.add_view(broken, route_name="broken", renderer=f"{TEMPLATES}/broken.jinja2")

    app = make_app(kit.tracer, configure)
    with pytest.raises(ZeroDivisionError):
        app.get("/broken")
    spans = by_name(kit.records())
    rendered = spans["render jinja2"]
    assert rendered.tags["error"] is True
    assert rendered.errors == ["ZeroDivisionError"]
    assert rendered.parent_id == spans["broken"].span_id


def csv_factory(info: Any) -> Any:
    def render_csv(value: dict[str, str], system: dict[str, Any]) -> str:
        return ",".join(f"{key}={value[key]}" for key in sorted(value))

    return render_csv


def test_a_renderer_added_after_the_include_is_covered(tracer: MockTracer) -> None:
    """config.add_renderer after config.include('pyramid_tracing') still gets render spans."""

    def configure(config: Configurator) -> None:
        config.add_renderer("csv", csv_factory)
        config.add_route("item", "/items/{name}")
        config.add_view(item, route_name="item", renderer="csv")

    app = make_app(tracer, configure)
    assert app.get("/items/bo").text == "name=bo"
    assert [span.operation_name for span in tracer.finished_spans()] == ["render csv", "item"]


def test_render_called_by_the_view_is_a_child_span(tracer: MockTracer) -> None:
    """pyramid.renderers.render() inside a view is traced like a view's renderer."""

    def view(request: Any) -> Response:
        return Response(render("json", {"a": 1}, request=request))

    def configure(config: Configurator) -> None:
        config.add_route("direct", "/direct")
        config.add_view(view, route_name="direct")

    app = make_app(tracer, configure)
    assert app.get("/direct").text == '{"a": 1}'
    rendered, server = tracer.finished_spans()
    assert rendered.operation_name == "render json"
    assert rendered.parent_id == server.context.span_id


def test_a_view_returning_a_response_gets_no_render_span(tracer: MockTracer) -> None:
    """No renderer runs for a Response, so no render span is made."""

    def configure(config: Configurator) -> None:
        config.add_route("plain", "/plain")
        config.add_view(lambda request: Response("plain"), route_name="plain", renderer="json")

    make_app(tracer, configure).get("/plain")
    assert [span.operation_name for span in tracer.finished_spans()] == ["plain"]


def test_renderer_attributes_stay_reachable(tracer: MockTracer) -> None:
    """get_renderer(...).implementation() (chameleon macros) works through the traced renderer."""

    def configure(config: Configurator) -> None:
        config.include("pyramid_chameleon")

    app = make_app(tracer, configure)
    registry = app.app.registry
    factory = registry.getUtility(IRendererFactory, name=".pt")
    assert isinstance(factory, _TracedRendererFactory)
    renderer = get_renderer(f"{TEMPLATES}/macros.pt", registry=registry)
    assert "box" in renderer.implementation().macros.names


def test_renderer_factory_attributes_stay_reachable(tracer: MockTracer) -> None:
    """pyramid_jinja2's factory.environment is still there on the wrapped factory."""

    def configure(config: Configurator) -> None:
        config.include("pyramid_jinja2")

    registry = make_app(tracer, configure).app.registry
    factory = registry.getUtility(IRendererFactory, name=".jinja2")
    assert isinstance(factory, _TracedRendererFactory)
    assert factory.environment is not None
    assert factory.environment.get_template(f"{TEMPLATES}/item.jinja2") is not None


def test_not_listed_means_no_span_and_no_wrapper(tracer: MockTracer) -> None:
    """With tracing.instrument empty, renderer factories are the originals and no span is made."""
    app = make_app(tracer, configure_renderer("jinja2"), {"tracing.instrument": ""})
    assert "ann" in app.get("/items/ann").text
    assert [span.operation_name for span in tracer.finished_spans()] == ["item"]
    factories = dict(app.app.registry.getUtilitiesFor(IRendererFactory))
    assert factories
    assert not any(isinstance(f, _TracedRendererFactory) for f in factories.values())


class RaisingTracer(MockTracer):
    """A real MockTracer that fails to start any span whose name starts with ``render``."""

    def start_active_span(self, operation_name: str, *args: Any, **kwargs: Any) -> Any:
        if operation_name.startswith("render"):
            raise RuntimeError("tracer down")
        return super().start_active_span(operation_name, *args, **kwargs)


class FinishRaisingTracer(MockTracer):
    """A real MockTracer whose render spans raise when they finish."""

    def start_active_span(self, operation_name: str, *args: Any, **kwargs: Any) -> Any:
        scope = super().start_active_span(operation_name, *args, **kwargs)
        if operation_name.startswith("render"):

            def finish(finish_time: float | None = None) -> None:
                raise RuntimeError("cannot finish")

            scope.span.finish = finish
        return scope


@pytest.mark.parametrize("tracer_class", [RaisingTracer, FinishRaisingTracer])
def test_a_failing_tracer_never_changes_the_response(
    tracer_class: type[MockTracer], caplog: pytest.LogCaptureFixture
) -> None:
    """A tracer raising as a render span starts or finishes: same body, the failure logged."""
    tracer = tracer_class(scope_manager=ScopeManager())
    app = make_app(tracer, configure_renderer("jinja2"))
    response = app.get("/items/cy")
    assert response.status_code == 200
    assert response.text.strip() == "<p>cy</p>"
    assert [span.operation_name for span in tracer.finished_spans()] == ["item"]
    assert "pyramid_tracing:" in caplog.text
    assert "RuntimeError" in caplog.text


def test_outside_a_trace_no_render_span_is_made(tracer: MockTracer) -> None:
    """render() with no active span (a script, a test) makes no span: no trace of its own."""
    app = make_app(tracer, lambda config: None)
    helper = RendererHelper(name="json", registry=app.app.registry)
    assert helper.render({"b": 2}, None) == '{"b": 2}'
    assert tracer.finished_spans() == []
