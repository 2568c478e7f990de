"""The server span under the plain OpenTelemetry shim, started on OpenTelemetry directly.

``pyramid_tracing._tracers`` starts the request's span with one ``start_span`` on the tracer under
the shim and one context attach, instead of the shim's ``start_active_span``. These tests hold
it to the shim's own behaviour: the same span (name, attributes, parent, status, events), the
same active span for OpenTracing and OpenTelemetry code, the context restored afterwards, and
fail-open when the OpenTelemetry tracer raises. The shim's own path is what a scope manager
with its own ``activate`` gets, so both run side by side here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import opentracing
import pytest
from pyramid.config import Configurator
from webtest import TestApp

pytest.importorskip("opentelemetry.sdk")
pytest.importorskip("opentelemetry.shim.opentracing_shim")

from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.shim.opentracing_shim import ScopeManagerShim, TracerShim, create_tracer
from opentelemetry.trace import INVALID_SPAN, SpanKind, StatusCode

from pyramid_tracing import get_tracing
from pyramid_tracing._tracers import server_span_starter

TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


class _ShimActivation(ScopeManagerShim):  # type: ignore[misc]
    """The shim's scope manager with ``activate`` overridden: the tracer's own path is taken."""

    def activate(self, span: Any, finish_on_close: bool) -> Any:
        return super().activate(span, finish_on_close)


def _shim(own_path: bool = False) -> tuple[TracerShim, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = create_tracer(provider)
    if own_path:
        tracer._scope_manager = _ShimActivation(tracer)
    return tracer, exporter


def _view(request: Any) -> dict[str, Any]:
    if request.params.get("fail") == "raise":
        raise RuntimeError("boom")
    if request.params.get("fail") == "500":
        request.response.status = 500
    tracer = request.tracing.tracer
    current = trace.get_current_span()
    span = request.tracing.span
    with request.tracing.start_active_span("child"):
        pass
    return {
        "active_is_span": request.tracing.active_span is span,
        "tracer_active_is_span": tracer.active_span is span,
        "current_is_span": span is not None and span.unwrap() is current,
    }


def _app(tracer: opentracing.Tracer, wrap: Callable[[Any], Any] | None = None) -> TestApp:
    with Configurator(settings={"tracing.tracer": tracer}) as config:
        config.include("pyramid_tracing")
        config.add_settings({"tracing.instrument": ""})  # render spans: tests/integration
        config.add_route("work", "/work/{name}")
        config.add_view(_view, route_name="work", renderer="json")
        app = config.make_wsgi_app()
    return TestApp(app if wrap is None else wrap(app))


def _record(span: ReadableSpan) -> dict[str, Any]:
    """What a span says, without its ids and times."""
    return {
        "name": span.name,
        "attributes": dict(span.attributes or {}),
        "status": span.status.status_code,
        "events": [(event.name, dict(event.attributes or {})) for event in span.events],
        "has_parent": span.parent is not None,
    }


def test_the_plain_shim_takes_the_direct_path_and_a_custom_activation_does_not() -> None:
    tracer, _ = _shim()
    assert server_span_starter(tracer) is not None
    own, _ = _shim(own_path=True)
    assert server_span_starter(own) is None
    assert server_span_starter(opentracing.Tracer()) is None


def test_the_server_span_is_the_active_span_for_opentracing_and_opentelemetry() -> None:
    tracer, exporter = _shim()
    app = _app(tracer)
    body = app.get("/work/a?lang=en").json
    assert body == {"active_is_span": True, "tracer_active_is_span": True, "current_is_span": True}
    # The context is restored: nothing is current after the request.
    assert trace.get_current_span() is INVALID_SPAN
    assert tracer.active_span is None
    child, work = exporter.get_finished_spans()
    assert work.kind is SpanKind.SERVER
    assert child.parent is not None
    assert work.context is not None
    assert child.parent.span_id == work.context.span_id
    assert dict(work.attributes or {}) == {
        "component": "pyramid",
        "span.kind": "server",
        "http.method": "GET",
        "http.url": "http://localhost/work/a?lang=en",
        "pyramid.route": "work",
        "http.route": "/work/{name}",
        "http.status_code": 200,
    }


@pytest.mark.parametrize(
    ("query", "headers", "status"),
    [
        ("", {}, 200),
        ("?token=secret&lang=en", {}, 200),
        ("", {"traceparent": TRACEPARENT}, 200),
        ("?fail=500", {}, 500),
        ("?fail=raise", {}, None),
    ],
)
def test_the_span_is_the_one_the_shims_own_path_makes(
    query: str, headers: dict[str, str], status: int | None
) -> None:
    """Name, attributes, status, error events and parent match; only the kind is better."""
    records = []
    for own_path in (False, True):
        tracer, exporter = _shim(own_path=own_path)
        app = _app(tracer)
        if status is None:
            with pytest.raises(RuntimeError, match="boom"):
                app.get(f"/work/a{query}", headers=headers)
        else:
            app.get(f"/work/a{query}", headers=headers, status=status)
        work = exporter.get_finished_spans()[-1]
        assert work.name == "work"
        if headers:
            assert work.parent is not None
            assert f"{work.parent.span_id:016x}" == "b7ad6b7169203331"
            assert work.context is not None
            assert f"{work.context.trace_id:032x}" == "0af7651916cd43dd8448eb211c80319c"
        records.append((work.kind, _record(work)))
    (direct_kind, direct), (own_kind, own) = records
    assert direct == own
    # The shim's own path leaves the span INTERNAL; the direct path gives it the SERVER kind.
    assert (direct_kind, own_kind) == (SpanKind.SERVER, SpanKind.INTERNAL)


@pytest.mark.parametrize("headers", [{}, {"traceparent": TRACEPARENT}])
def test_the_server_span_nests_under_a_span_an_outer_layer_made_current(
    headers: dict[str, str],
) -> None:
    """An outer WSGI layer's current OpenTelemetry span is the parent, before any header.

    The outer layer (OpenTelemetry's WSGI middleware, say) has continued the caller's trace
    already. The shim's own scope manager does not see a native span as active, so its own
    path would make the request's span a sibling of the outer span under the header's context.
    """
    tracer, exporter = _shim()
    provider_tracer = tracer.unwrap()

    def wrap(app: Any) -> Any:
        def outer(environ: dict[str, Any], start_response: Any) -> Any:
            with provider_tracer.start_as_current_span("outer"):
                return list(app(environ, start_response))

        return outer

    app = _app(tracer, wrap)
    app.get("/work/a", headers=headers)
    spans = {span.name: span for span in exporter.get_finished_spans()}
    outer, work = spans["outer"], spans["work"]
    assert work.parent is not None
    assert outer.context is not None
    assert work.parent.span_id == outer.context.span_id
    assert work.context is not None
    assert work.context.trace_id == outer.context.trace_id


class _FailingTracer(trace.Tracer):
    """An OpenTelemetry tracer whose start_span raises: always, or under a parent only."""

    def __init__(self, tracer: trace.Tracer, *, only_with_parent: bool) -> None:
        self._tracer = tracer
        self._only_with_parent = only_with_parent

    def start_span(self, name: str, context: Any = None, *args: Any, **kwargs: Any) -> Any:
        parent = trace.get_current_span(context)
        if not self._only_with_parent or parent.get_span_context().is_valid:
            raise RuntimeError("the tracer failed")
        return self._tracer.start_span(name, context, *args, **kwargs)

    def start_as_current_span(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError


def test_a_failing_tracer_never_changes_the_response(caplog: pytest.LogCaptureFixture) -> None:
    tracer, exporter = _shim()
    failing = TracerShim(_FailingTracer(tracer.unwrap(), only_with_parent=False))
    app = _app(failing)
    with caplog.at_level(logging.WARNING, logger="pyramid_tracing"):
        for _ in range(3):
            body = app.get("/work/a").json
            assert body == {
                "active_is_span": True,
                "tracer_active_is_span": True,
                "current_is_span": False,
            }
    assert exporter.get_finished_spans() == ()
    messages = [record.getMessage() for record in caplog.records]
    # Once, not once per request; the view's own child span fails open as well.
    assert len([message for message in messages if "the server span" in message]) == 1
    assert trace.get_current_span() is INVALID_SPAN


def test_a_context_the_tracer_cannot_start_under_gives_a_new_root(
    caplog: pytest.LogCaptureFixture,
) -> None:
    tracer, exporter = _shim()
    failing = TracerShim(_FailingTracer(tracer.unwrap(), only_with_parent=True))
    app = _app(failing)
    with caplog.at_level(logging.WARNING, logger="pyramid_tracing"):
        app.get("/work/a", headers={"traceparent": TRACEPARENT})
    (work,) = (span for span in exporter.get_finished_spans() if span.name == "work")
    assert work.parent is None
    assert work.status.status_code is StatusCode.UNSET
    messages = [record.getMessage() for record in caplog.records]
    assert any("under the extracted context" in message for message in messages)
    assert get_tracing(app.app.registry).tracer is failing


@pytest.mark.parametrize(
    "environ",
    [
        {},
        {"HTTP_TRACEPARENT": TRACEPARENT},
        {"HTTP_TRACEPARENT": TRACEPARENT[:-2] + "00", "HTTP_TRACESTATE": "a=1,b=2"},
        {"HTTP_TRACEPARENT": "00-not-a-context", "HTTP_BAGGAGE": "user=ann"},
        {"HTTP_TRACEPARENT": "00-" + "0" * 32 + "-b7ad6b7169203331-01"},
        {"HTTP_BAGGAGE": "user=ann"},
    ],
)
def test_direct_extract_finds_what_the_shim_extract_finds(environ: dict[str, str]) -> None:
    """The starter's extract (the propagator on the environ) equals the shim's extract."""
    from pyramid_tracing._carrier import HeaderCarrier

    tracer, _ = _shim()
    starter = server_span_starter(tracer)
    assert starter is not None
    shim_context = tracer.extract(opentracing.Format.HTTP_HEADERS, HeaderCarrier(environ)).unwrap()
    found = starter.extract(environ)
    if not shim_context.is_valid:
        assert found is None
    else:
        assert trace.get_current_span(found).get_span_context() == shim_context


def test_the_direct_path_needs_the_shims_own_scope_manager() -> None:
    """A shim with another kind of scope manager gets the shim's own path."""
    import pyramid_tracing

    tracer, _ = _shim()
    tracer._scope_manager = pyramid_tracing.ScopeManager()
    assert server_span_starter(tracer) is None


def test_the_starter_takes_shim_contexts_and_spans_as_parents() -> None:
    """Under a SpanContextShim or a SpanShim, the span is their child; other parents: None."""
    tracer, exporter = _shim()
    starter = server_span_starter(tracer)
    assert starter is not None
    with tracer.start_active_span("outer") as outer:
        parent_span = outer.span
    parents: list[object] = [parent_span.context, parent_span]
    for parent in parents:
        with starter("server", parent, {"component": "pyramid"}) as scope:
            assert tracer.active_span is scope.span
        assert tracer.active_span is None
    outer_id = parent_span.unwrap().get_span_context().span_id
    servers = [span for span in exporter.get_finished_spans() if span.name == "server"]
    assert [span.parent.span_id for span in servers] == [outer_id, outer_id]
    assert all(span.kind is SpanKind.SERVER for span in servers)
    assert starter("server", object(), None) is None  # not a kind it knows: the shim's path


def test_a_propagator_that_lists_the_headers_sees_the_request_headers() -> None:
    """A global propagator that iterates over the carrier's keys gets the header names."""
    from opentelemetry import propagate
    from opentelemetry.propagators.textmap import TextMapPropagator

    seen: list[list[str]] = []

    class Listing(TextMapPropagator):  # type: ignore[misc]
        def extract(self, carrier: Any, context: Any = None, getter: Any = None) -> Any:
            seen.append(sorted(getter.keys(carrier)))
            return context

        def inject(self, carrier: Any, context: Any = None, setter: Any = None) -> None:
            pass

        @property
        def fields(self) -> set[str]:
            return set()

    tracer, _ = _shim()
    starter = server_span_starter(tracer)
    assert starter is not None
    before = propagate.get_global_textmap()
    propagate.set_global_textmap(Listing())
    try:
        found = starter.extract({"HTTP_X_TRACE": "1", "HTTP_HOST": "h", "PATH_INFO": "/"})
    finally:
        propagate.set_global_textmap(before)
    assert found is None  # the propagator found no span context
    assert [[name.lower() for name in names] for names in seen] == [["host", "x-trace"]]
