"""The pyramid_opentracing README setups, with only the import name changed."""

from __future__ import annotations

from typing import Any

import pytest
from opentracing.mocktracer import MockTracer
from opentracing.scope_managers import ThreadLocalScopeManager
from pyramid.config import Configurator
from pyramid.response import Response
from pyramid.view import view_config
from webtest import TestApp

from pyramid_tracing import PyramidTracer, PyramidTracing, ScopeManager, Tracing
from tests.compat import migration_helpers


def hello(request: Any) -> Response:
    return Response("hello")


def make(settings: dict[str, Any]) -> TestApp:
    with Configurator() as config:
        config.add_settings(settings)
        config.include("pyramid_tracing")
        config.add_route("hello", "/hello")
        config.add_view(hello, route_name="hello")
        return TestApp(config.make_wsgi_app())


def test_setup_1_tween_via_add_settings(tracer: MockTracer):
    """README setup 1: ot.* settings added in Python with a ready PyramidTracing."""
    tracing = PyramidTracing(tracer)
    with pytest.warns(DeprecationWarning, match="is deprecated") as caught:
        app = make(
            {
                "ot.trace_all": True,
                "ot.traced_attributes": ["host", "method"],
                "ot.start_span_cb": "tests.compat.migration_helpers.start_span_cb",
                "ot.tracing": tracing,
            }
        )
    messages = {str(warning.message) for warning in caught}
    assert "The setting 'ot.trace_all' is deprecated: use 'tracing.trace_all' instead." in messages
    assert (
        "The setting 'ot.tracing' is deprecated: use 'tracing.tracer' with the tracer." in messages
    )
    app.get("/hello")
    (span,) = tracer.finished_spans()
    assert span.operation_name == "hello"
    assert span.tags["host"] == "localhost:80"
    assert span.tags["method"] == "GET"
    assert span.tags["started.by"] == "start_span_cb"
    settings = app.app.registry.settings
    assert isinstance(settings["ot.tracing"], Tracing)
    assert settings["ot.tracing"].tracer is tracer


def test_setup_1_with_tracing_callable(tracer: MockTracer):
    """ot.tracing_callable is called once with the settings and returns the PyramidTracing."""
    migration_helpers.TRACER = tracer
    with pytest.warns(DeprecationWarning, match="'ot.tracing_callable' is deprecated"):
        app = make(
            {
                "ot.tracing_callable": "tests.compat.migration_helpers.create_tracing",
                "component_name": "MyComponent",
            }
        )
    app.get("/hello")
    assert len(tracer.finished_spans()) == 1
    assert migration_helpers.CALLS == [{"component_name": "MyComponent"}]


def test_setup_1_with_tracer_callable_and_parameters():
    """ot.tracer_callable is called with ot.tracer_parameters as keyword arguments."""
    scope_manager = ScopeManager()
    with pytest.warns(DeprecationWarning, match="'ot.tracer_callable' is deprecated"):
        app = make(
            {
                "ot.tracer_callable": "opentracing.mocktracer.MockTracer",
                "ot.tracer_parameters": {"scope_manager": scope_manager},
            }
        )
    app.get("/hello")
    tracer = app.app.registry.settings["ot.tracing"].tracer
    assert isinstance(tracer, MockTracer)
    assert tracer.scope_manager is scope_manager
    assert len(tracer.finished_spans()) == 1


def test_setup_2_ini_with_ot_keys(tmp_path: Any):
    """README setup 2: an INI file with ot.* keys and pyramid.includes."""
    ini = tmp_path / "app.ini"
    ini.write_text(
        "[app:myapp]\n"
        "use = call:tests.compat.migration_helpers:app_factory\n"
        "ot.trace_all = true\n"
        "ot.start_span_cb = tests.compat.migration_helpers.start_span_cb\n"
        "ot.traced_attributes = host\n"
        "                       method\n"
        "ot.tracing_callable = tests.compat.migration_helpers.create_tracing\n"
        "pyramid.includes = pyramid_tracing\n"
    )
    from pyramid.paster import get_app

    tracer = MockTracer(scope_manager=ScopeManager())
    migration_helpers.TRACER = tracer
    with pytest.warns(DeprecationWarning, match="'ot.tracing_callable' is deprecated"):
        app = TestApp(get_app(str(ini), "myapp"))
    app.get("/hello")
    (span,) = tracer.finished_spans()
    assert span.operation_name == "hello"
    assert span.tags["method"] == "GET"
    assert span.tags["started.by"] == "start_span_cb"


def test_setup_3_decorator_with_hand_managed_tracer(tracer: MockTracer):
    """README setup 3: @tracing.trace('headers') on views, with no tween included."""
    tracing = PyramidTracer(tracer)

    @view_config(route_name="traced")
    @tracing.trace("headers")
    def some_view_func(request: Any) -> Response:
        assert tracing.get_span(request) is tracer.active_span
        return Response("traced")

    with Configurator() as config:
        config.add_route("traced", "/traced")
        config.add_view(some_view_func, route_name="traced")
        app = TestApp(config.make_wsgi_app())
    assert app.get("/traced", headers={"X-Hi": "there"}).text == "traced"
    (span,) = tracer.finished_spans()
    assert span.operation_name == "traced"
    assert span.tags["http.status_code"] == 200
    assert '"X-Hi": "there"' in span.tags["headers"]


def test_0x_base_tracer_keys(tracer: MockTracer):
    """The 0.x keys ot.base_tracer and ot.base_tracer_func still give the tracer."""
    with pytest.warns(DeprecationWarning, match="'ot.base_tracer' is deprecated"):
        app = make({"ot.base_tracer": tracer})
    app.get("/hello")
    assert len(tracer.finished_spans()) == 1

    migration_helpers.TRACER = tracer
    tracer.reset()
    with pytest.warns(DeprecationWarning, match="'ot.base_tracer_func' is deprecated"):
        app = make({"ot.base_tracer_func": "tests.compat.migration_helpers.base_tracer_func"})
    app.get("/hello")
    assert len(tracer.finished_spans()) == 1


def test_0x_ot_tracer_object_and_operation_name_func(tracer: MockTracer):
    """0.x ot.tracer (a tracer) and ot.operation_name_func keep working."""
    with pytest.warns(DeprecationWarning, match="'ot.operation_name_func' is deprecated"):
        app = make(
            {
                "ot.tracer": tracer,
                "ot.operation_name_func": "tests.compat.migration_helpers.operation_name",
            }
        )
    app.get("/hello")
    (span,) = tracer.finished_spans()
    assert span.operation_name == "custom:/hello"
    settings = app.app.registry.settings
    assert settings["ot.tracer"] is settings["ot.tracing"]


def test_0x_ot_tracer_with_pyramid_tracer_object(tracer: MockTracer):
    """0.x code that stored a PyramidTracer at ot.tracer is served by that tracer."""
    with pytest.warns(DeprecationWarning, match="'ot.tracer' is deprecated"):
        app = make({"ot.tracer": PyramidTracer(tracer)})
    app.get("/hello")
    assert len(tracer.finished_spans()) == 1


def test_old_class_signatures(tracer: MockTracer):
    """PyramidTracer and PyramidTracing accept their old positional signatures."""

    def callback(span: Any, request: Any) -> None:
        pass

    assert PyramidTracing(tracer, callback)._start_span_cb is callback
    assert PyramidTracer(tracer, callback)._start_span_cb is callback
    old = PyramidTracer(tracer, True, migration_helpers.operation_name)
    assert old.settings.operation_name is migration_helpers.operation_name
    assert PyramidTracing().tracer is not None
    with pytest.raises(ValueError, match="start_span_cb must be callable, got 4"):
        PyramidTracing(tracer, start_span_cb=4)  # type: ignore[arg-type]


def test_thread_local_tracer_still_works_with_warning():
    """An old tracer on ThreadLocalScopeManager works (with the startup warning)."""
    tracer = MockTracer(scope_manager=ThreadLocalScopeManager())
    with pytest.warns(UserWarning, match="thread-local scope manager"):
        app = make({"tracing.tracer": tracer})
    app.get("/hello")
    assert len(tracer.finished_spans()) == 1
    assert tracer.active_span is None
