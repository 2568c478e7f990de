"""The three phases of a server span (start, routed, finish) on real Pyramid apps."""

from __future__ import annotations

import logging
import warnings
from typing import Any

import opentracing
import pytest
import requests
from opentracing.mocktracer import MockTracer
from pyramid.config import Configurator
from pyramid.response import Response
from webtest import TestApp

from pyramid_tracing import ScopeManager
from pyramid_tracing._tags import REDACTED
from tests.helpers.serving import serve

HOOK_CALLS: list[tuple[str, str]] = []


def rename_hook(span: Any, request: Any) -> None:
    """pyramid_opentracing's example/simple start_span_cb, which renames the span."""
    HOOK_CALLS.append((span.operation_name, request.path))
    span.set_operation_name("Test-" + request.method)


def tag_method_view(request: Any) -> Response:
    request.tracing.span.set_tag("method", "POST")
    return Response("tagged")


def raising_view(request: Any) -> Response:
    raise KeyError("nothing handles this")


def app_with(tracer: MockTracer, settings: dict[str, Any] | None = None) -> Any:
    with Configurator(settings={"tracing.tracer": tracer, **(settings or {})}) as config:
        config.include("pyramid_tracing")
        config.add_route("tag", "/tag")
        config.add_view(tag_method_view, route_name="tag")
        config.add_route("hello", "/hello/{name}")
        config.add_view(lambda request: Response("hi"), route_name="hello")
        config.add_route("raise", "/raise")
        config.add_view(raising_view, route_name="raise")
        return config.make_wsgi_app()


def short_circuit_factory(handler: Any, registry: Any) -> Any:
    """A tween that answers every request itself (a maintenance switch)."""
    return lambda request: Response("maintenance", status=503)


@pytest.fixture(autouse=True)
def _clear_hook_calls() -> None:
    HOOK_CALLS.clear()


def test_start_hook_sees_the_route_name_and_its_rename_wins(tracer: MockTracer) -> None:
    """The hook runs once, after routing, sees the final name, and may rename the span."""
    app = TestApp(app_with(tracer, {"tracing.start_span_hook": rename_hook}))
    app.get("/hello/ann")
    (span,) = tracer.finished_spans()
    assert HOOK_CALLS == [("hello", "/hello/ann")]
    assert span.operation_name == "Test-GET"


def test_a_tag_the_view_sets_wins_over_a_traced_attribute(tracer: MockTracer) -> None:
    """Traced attributes are recorded when the request is routed, before the view runs."""
    app = TestApp(app_with(tracer, {"tracing.traced_attributes": "method, path"}))
    app.get("/tag")
    (span,) = tracer.finished_spans()
    assert span.tags["method"] == "POST"
    assert span.tags["path"] == "/tag"


def test_the_routed_phase_runs_once_when_an_exception_view_runs_too(tracer: MockTracer) -> None:
    """A failing view and the exception view after it: the hook is called once."""

    def failing(request: Any) -> Response:
        raise ValueError("boom")

    def handled(exc: ValueError, request: Any) -> Response:
        return Response("handled", status=500)

    with Configurator(
        settings={"tracing.tracer": tracer, "tracing.start_span_hook": rename_hook}
    ) as config:
        config.include("pyramid_tracing")
        config.add_route("fail", "/fail")
        config.add_view(failing, route_name="fail")
        config.add_view(handled, context=ValueError)
        app = TestApp(config.make_wsgi_app())
    app.get("/fail", status=500)
    (span,) = tracer.finished_spans()
    assert HOOK_CALLS == [("fail", "/fail")]
    assert span.tags["error"] is True
    assert span.tags["http.status_code"] == 500


def test_a_request_that_never_reaches_a_view_is_named_and_hooked_at_finish(
    tracer: MockTracer,
) -> None:
    """A tween under ours answers by itself: the span still gets its hook, name and status."""

    with Configurator(
        settings={"tracing.tracer": tracer, "tracing.start_span_hook": rename_hook}
    ) as config:
        config.include("pyramid_tracing")
        config.add_tween(
            f"{__name__}:short_circuit_factory", over="pyramid.tweens.excview_tween_factory"
        )
        config.add_route("hello", "/hello/{name}")
        config.add_view(lambda request: Response("hi"), route_name="hello")
        app = TestApp(config.make_wsgi_app())
    app.get("/hello/ann", status=503)
    (span,) = tracer.finished_spans()
    assert HOOK_CALLS == [("GET", "/hello/ann")]
    assert span.operation_name == "Test-GET"
    assert span.tags["http.status_code"] == 503


def test_an_exception_that_escapes_the_app_records_the_500_waitress_sends(
    tracer: MockTracer,
) -> None:
    """Under a real server, an unhandled error is a 500 on the wire and on the span."""
    with serve(app_with(tracer), threads=1) as base:
        response = requests.get(f"{base}/raise", timeout=10)
    assert response.status_code == 500
    (span,) = tracer.finished_spans()
    assert span.tags["http.status_code"] == 500
    assert span.tags["error"] is True
    assert span.logs[0].key_values["error.kind"] == "KeyError"


def test_csrf_tokens_are_redacted_by_default(tracer: MockTracer) -> None:
    """Pyramid's csrf_token parameter and X-CSRF-Token header never reach a span in clear."""
    app = TestApp(
        app_with(
            tracer,
            {
                "tracing.traced_attributes": "params",
                "tracing.capture_request_headers": "x-csrf-token, x-request-id",
            },
        )
    )
    app.post(
        "/hello/ann?next=/home",
        {"csrf_token": "s3cr3t-csrf", "name": "ann"},
        headers={"X-CSRF-Token": "s3cr3t-header", "X-Request-Id": "r-1"},
    )
    (span,) = tracer.finished_spans()
    assert "s3cr3t" not in repr(span.tags)
    assert span.tags["http.request.header.x-csrf-token"] == REDACTED
    assert span.tags["http.request.header.x-request-id"] == "r-1"
    assert '"csrf_token": "[REDACTED]"' in span.tags["params"]


def test_a_misspelt_traced_attribute_warns_with_a_suggestion(tracer: MockTracer) -> None:
    """``matchdickt`` is no request attribute: startup warns and suggests ``matchdict``."""
    with pytest.warns(UserWarning, match="traced attribute") as caught:
        app_with(tracer, {"tracing.traced_attributes": "matchdickt"})
    assert [str(w.message) for w in caught if "traced attribute" in str(w.message)] == [
        "The traced attribute 'matchdickt' (setting 'tracing.traced_attributes') is not an "
        "attribute of Pyramid's request, so it is only recorded if your code sets it on each "
        "request. Did you mean 'matchdict'?"
    ]


def test_a_request_method_extension_is_a_known_traced_attribute(tracer: MockTracer) -> None:
    """An attribute added with add_request_method is known: no warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with Configurator(
            settings={"tracing.tracer": tracer, "tracing.traced_attributes": "tenant"}
        ) as config:
            config.include("pyramid_tracing")
            config.add_request_method(lambda request: "acme", "tenant", reify=True)
            config.add_route("hello", "/hello/{name}")
            config.add_view(lambda request: Response("hi"), route_name="hello")
            app = TestApp(config.make_wsgi_app())
    app.get("/hello/ann")
    assert tracer.finished_spans()[0].tags["tenant"] == "acme"


def test_no_tracer_configured_is_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    """With no tracer and the no-op global tracer, one warning says spans are dropped."""
    opentracing.tracer = opentracing.Tracer()
    with Configurator() as config:
        config.include("pyramid_tracing")
        config.add_route("hello", "/hello/{name}")
        config.add_view(lambda request: Response("hi"), route_name="hello")
        app = TestApp(config.make_wsgi_app())
    with caplog.at_level(logging.WARNING, logger="pyramid_tracing"):
        app.get("/hello/a")
        app.get("/hello/b")
    messages = [
        r.getMessage() for r in caplog.records if "no tracer is configured" in r.getMessage()
    ]
    assert len(messages) == 1
    assert "the OpenTracing global tracer is its no-op tracer: spans are dropped" in messages[0]


def test_a_noop_placeholder_under_ot_tracer_uses_the_global_tracer() -> None:
    """As with pyramid_opentracing 1.0, ``ot.tracer = opentracing.Tracer()`` is ignored."""
    real = MockTracer(scope_manager=ScopeManager())
    opentracing.tracer = real
    with pytest.warns(DeprecationWarning, match="no-op opentracing.Tracer"):
        app = TestApp(
            app_with(
                opentracing.Tracer(), {"ot.tracer": opentracing.Tracer(), "tracing.tracer": None}
            )
            if False
            else _placeholder_app()
        )
    app.get("/hello/ann")
    assert [s.operation_name for s in real.finished_spans()] == ["hello"]


def _placeholder_app() -> Any:
    with Configurator(settings={"ot.tracer": opentracing.Tracer()}) as config:
        config.include("pyramid_tracing")
        config.add_route("hello", "/hello/{name}")
        config.add_view(lambda request: Response("hi"), route_name="hello")
        return config.make_wsgi_app()


class Folder:
    """A traversal resource."""

    def __getitem__(self, name: str) -> Any:
        raise KeyError(name)


def test_traversal_views_get_low_cardinality_names(tracer: MockTracer) -> None:
    """By traversal: ``GET edit`` for a named view, the context class for the default view;
    a 404 keeps the bare method (its view name comes from the URL)."""
    with Configurator(
        settings={"tracing.tracer": tracer}, root_factory=lambda request: Folder()
    ) as config:
        config.include("pyramid_tracing")
        config.add_view(lambda context, request: Response("edit"), context=Folder, name="edit")
        config.add_view(lambda context, request: Response("index"), context=Folder)
        app = TestApp(config.make_wsgi_app())
    app.get("/edit")
    app.get("/")
    app.get("/no-such-view-abc123", status=404)
    names = [span.operation_name for span in tracer.finished_spans()]
    assert names == ["GET edit", "GET Folder", "GET"]


def test_old_submodule_imports_warn_and_work() -> None:
    """``pyramid_tracing.tracing`` and ``.tween_factory`` mirror pyramid_opentracing's."""
    import importlib
    import sys

    for name in ("pyramid_tracing.tracing", "pyramid_tracing.tween_factory"):
        sys.modules.pop(name, None)
        with pytest.warns(DeprecationWarning, match="is deprecated"):
            module = importlib.import_module(name)
        assert module.__all__
    from pyramid_tracing import PyramidTracing, includeme, opentracing_tween_factory
    from pyramid_tracing.tracing import PyramidTracing as OldPyramidTracing
    from pyramid_tracing.tween_factory import includeme as old_includeme
    from pyramid_tracing.tween_factory import opentracing_tween_factory as old_factory

    assert (OldPyramidTracing, old_includeme, old_factory) == (
        PyramidTracing,
        includeme,
        opentracing_tween_factory,
    )


def test_pyramid_tracer_warns_that_it_is_deprecated(tracer: MockTracer) -> None:
    """PyramidTracer, deprecated since pyramid_opentracing 1.0, warns when created."""
    from pyramid_tracing import PyramidTracer

    with pytest.warns(DeprecationWarning, match="PyramidTracer is deprecated"):
        PyramidTracer(tracer)
