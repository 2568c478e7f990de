"""The tween: one server span per request, named after routing, tagged from the real response."""

from __future__ import annotations

import asyncio
import contextvars
import threading
import warnings
from collections.abc import Callable
from typing import Any

import opentracing
import pytest
from opentracing import Format
from opentracing.mocktracer import MockTracer
from opentracing.scope_managers import ThreadLocalScopeManager
from pyramid.config import Configurator
from pyramid.exceptions import ConfigurationError
from pyramid.request import Request
from pyramid.response import Response
from webtest import TestApp

import pyramid_tracing
from pyramid_tracing import ScopeManager, Tracing, get_tracing, tracing_tween_factory
from pyramid_tracing._tags import REDACTED
from tests.helpers.apps import Boom, build_app

AppFactory = Callable[..., TestApp]


def only_span(tracer: MockTracer) -> Any:
    spans = tracer.finished_spans()
    assert len(spans) == 1, [span.operation_name for span in spans]
    return spans[0]


def test_request_gets_server_span_with_standard_tags(tracer: MockTracer, make_app: AppFactory):
    """A traced request has one server span with the standard tags and its route."""
    make_app().get("/hello/bob?x=1")
    span = only_span(tracer)
    assert span.operation_name == "hello"
    assert span.parent_id is None
    assert span.finished
    assert span.tags == {
        "component": "pyramid",
        "span.kind": "server",
        "http.method": "GET",
        "http.url": "http://localhost/hello/bob?x=1",
        "http.status_code": 200,
        "pyramid.route": "hello",
        "http.route": "/hello/{name}",
    }


@pytest.mark.parametrize(
    ("strategy", "expected"),
    [
        ("route_name", "hello"),
        ("route_pattern", "/hello/{name}"),
        ("method_route", "POST /hello/{name}"),
        ("tests.integration.test_tween:name_from_path", "path:/hello/ann"),
        ("tests.integration.test_tween.name_from_path", "path:/hello/ann"),
    ],
)
def test_operation_name_strategies(
    tracer: MockTracer, make_app: AppFactory, strategy: str, expected: str
):
    """The operation name follows tracing.operation_name and is known after routing."""
    make_app({"tracing.operation_name": strategy}).post("/hello/ann")
    assert only_span(tracer).operation_name == expected


def name_from_path(request: Any) -> str:
    return f"path:{request.path}"


def test_unmatched_request_is_named_by_method(tracer: MockTracer, make_app: AppFactory):
    """A request that matched no route is named by its HTTP method and tagged 404."""
    make_app({"tracing.operation_name": "method_route"}).delete("/nowhere", status=404)
    span = only_span(tracer)
    assert span.operation_name == "DELETE"
    assert span.tags["http.status_code"] == 404
    assert "error" not in span.tags
    assert "pyramid.route" not in span.tags


def test_failing_operation_name_callable_falls_back_to_method(
    tracer: MockTracer, make_app: AppFactory
):
    """An operation_name callable that raises never breaks the request."""

    def broken(request: Any) -> str:
        raise RuntimeError("no name")

    app = make_app({"tracing.operation_name": broken})
    assert app.get("/hello/x").text == "hello x"
    assert only_span(tracer).operation_name == "GET"


def test_status_code_comes_from_returned_response(tracer: MockTracer, make_app: AppFactory):
    """The status tag is the returned response's, not request.response's (an old bug)."""
    make_app().get("/server-error", status=503)
    span = only_span(tracer)
    assert span.tags["http.status_code"] == 503
    assert span.tags["error"] is True


def test_raised_exception_tags_error_and_propagates(tracer: MockTracer, make_app: AppFactory):
    """An escaped exception: error=true, the error log fields, and the 500 the server sends."""
    with pytest.raises(Boom, match="kaboom") as raised:
        make_app().get("/boom")
    span = only_span(tracer)
    assert span.tags["error"] is True
    assert span.tags["http.status_code"] == 500
    assert span.operation_name == "boom"
    (log,) = span.logs
    fields = log.key_values
    assert fields["event"] == "error"
    assert fields["error.kind"] == "Boom"
    assert fields["error.object"] is raised.value
    assert fields["message"] == "kaboom"
    assert 'raise Boom("kaboom")' in fields["stack"]
    assert tracer.active_span is None


def test_exception_handled_by_exception_view_is_tagged(tracer: MockTracer, make_app: AppFactory):
    """An exception turned into a 5xx by an exception view is tagged as an error (an old bug)."""
    response = make_app().get("/handled", status=500)
    assert response.text == "handled 'handled'"
    span = only_span(tracer)
    assert span.tags["error"] is True
    assert span.tags["http.status_code"] == 500
    (log,) = span.logs
    assert log.key_values["error.kind"] == "KeyError"
    assert isinstance(log.key_values["error.object"], KeyError)


def test_http_4xx_is_not_an_error(tracer: MockTracer, make_app: AppFactory):
    """A raised HTTPForbidden is a 403 response and not an error."""
    make_app().get("/forbidden", status=403)
    span = only_span(tracer)
    assert span.tags["http.status_code"] == 403
    assert "error" not in span.tags
    assert span.logs == []


def test_raised_http_exception_without_exception_view(tracer: MockTracer):
    """An HTTPException that escapes the app is tagged with its code; a 5xx one is an error."""
    from pyramid.httpexceptions import HTTPBadGateway, HTTPConflict, HTTPException

    def conflict(request: Any) -> Response:
        raise HTTPConflict()

    def bad_gateway(request: Any) -> Response:
        raise HTTPBadGateway()

    with Configurator(settings={"tracing.tracer": tracer}) as config:
        config.include("pyramid_tracing")
        config.add_route("conflict", "/conflict")
        config.add_view(conflict, route_name="conflict")
        config.add_route("gateway", "/gateway")
        config.add_view(bad_gateway, route_name="gateway")
        registry = config.registry
        config.commit()
    tween = tracing_tween_factory(lambda request: _raise_view(request, registry), registry)
    for path, expected in (("/conflict", 409), ("/gateway", 502)):
        request = Request.blank(path)
        request.registry = registry
        with pytest.raises(HTTPException) as raised:
            tween(request)
        assert raised.value.code == expected
    conflict_span, gateway_span = tracer.finished_spans()
    assert conflict_span.tags["http.status_code"] == 409
    assert "error" not in conflict_span.tags
    assert gateway_span.tags["http.status_code"] == 502
    assert gateway_span.tags["error"] is True


def _raise_view(request: Any, registry: Any) -> Response:
    from pyramid.httpexceptions import HTTPBadGateway, HTTPConflict

    raise HTTPConflict() if request.path == "/conflict" else HTTPBadGateway()


class Shutdown(BaseException):
    """Stands for SystemExit/KeyboardInterrupt without stopping the test run."""


def test_base_exception_finishes_span_and_propagates(tracer: MockTracer):
    """A BaseException still finishes the span and propagates unchanged."""

    def stop(request: Any) -> Response:
        raise Shutdown()

    def configure(config: Configurator) -> None:
        config.add_route("stop", "/stop")
        config.add_view(stop, route_name="stop")

    app = build_app({"tracing.tracer": tracer}, configure)
    with pytest.raises(Shutdown):
        app.get("/stop")
    span = only_span(tracer)
    assert span.finished
    assert span.tags["error"] is True
    assert tracer.active_span is None


def test_parent_context_extracted_from_headers(tracer: MockTracer, make_app: AppFactory):
    """A request carrying an injected context continues that trace."""
    with tracer.start_active_span("caller") as scope:
        headers: dict[str, str] = {}
        tracer.inject(scope.span.context, Format.HTTP_HEADERS, headers)
    tracer.reset()
    make_app().get("/hello/x", headers=headers)
    span = only_span(tracer)
    assert span.context.trace_id == scope.span.context.trace_id
    assert span.parent_id == scope.span.context.span_id


def test_active_span_of_outer_layer_is_parent(tracer: MockTracer, make_app: AppFactory):
    """When an outer WSGI layer has a span active, the request span is its child."""
    inner = make_app().app

    def outer(environ: dict[str, Any], start_response: Any) -> Any:
        with tracer.start_active_span("outer-wsgi"):
            return inner(environ, start_response)

    TestApp(outer).get("/hello/x")
    request_span, outer_span = tracer.finished_spans()
    assert request_span.parent_id == outer_span.context.span_id
    assert outer_span.operation_name == "outer-wsgi"


class ExtractingTracer(MockTracer):
    """MockTracer whose extract() gives a chosen outcome (a context, None or an exception)."""

    def __init__(self, outcome: object) -> None:
        super().__init__(scope_manager=ScopeManager())
        self.outcome = outcome

    def extract(self, format: str, carrier: Any) -> Any:
        if isinstance(self.outcome, BaseException):
            raise self.outcome
        return self.outcome


@pytest.mark.parametrize(
    "outcome",
    [
        None,
        opentracing.InvalidCarrierException("bad carrier"),
        opentracing.SpanContextCorruptedException("corrupt"),
        opentracing.UnsupportedFormatException("format"),
        RuntimeError("tracer bug"),
        object(),
    ],
    ids=["none", "invalid-carrier", "corrupted", "unsupported", "other-error", "invalid-context"],
)
def test_every_extraction_outcome_gives_a_root_span(outcome: object):
    """Whatever extraction gives, the request is served and its span is a new root."""
    tracer = ExtractingTracer(outcome)
    app = build_app({"tracing.tracer": tracer})
    assert app.get("/hello/x").text == "hello x"
    span = only_span(tracer)
    assert span.tags["http.status_code"] == 200


def test_span_is_active_in_view_and_context_restored(tracer: MockTracer):
    """Inside the view the request span is active; afterwards the context is as found."""
    seen: dict[str, Any] = {}

    def view(request: Any) -> Response:
        seen["active"] = tracer.active_span
        seen["request_span"] = request.tracing.span
        seen["get_span"] = get_tracing(request).get_span(request)
        return Response("ok")

    def configure(config: Configurator) -> None:
        config.add_route("look", "/look")
        config.add_view(view, route_name="look")

    app = build_app({"tracing.tracer": tracer}, configure)
    with tracer.start_active_span("outside") as outside:
        app.get("/look")
        assert tracer.scope_manager.active is outside
    request_span = tracer.finished_spans()[0]
    assert seen["active"] is request_span
    assert seen["request_span"] is request_span
    assert seen["get_span"] is request_span
    assert tracer.active_span is None


def test_asyncio_fan_out_in_view_nests_under_request(tracer: MockTracer):
    """Spans started in asyncio tasks inside a view are children of the request span."""

    async def work(index: int) -> int:
        await asyncio.sleep(0)
        with tracer.start_active_span(f"task-{index}"):
            await asyncio.sleep(0)
        return index

    def view(request: Any) -> Response:
        async def fan_out() -> list[int]:
            return await asyncio.gather(*(work(i) for i in range(3)))

        return Response(str(asyncio.run(fan_out())))

    def configure(config: Configurator) -> None:
        config.add_route("fan", "/fan")
        config.add_view(view, route_name="fan")

    build_app({"tracing.tracer": tracer}, configure).get("/fan")
    *tasks, request_span = tracer.finished_spans()
    assert sorted(task.operation_name for task in tasks) == ["task-0", "task-1", "task-2"]
    for task in tasks:
        assert task.parent_id == request_span.context.span_id
        assert task.context.trace_id == request_span.context.trace_id


def test_threads_see_span_only_with_copied_context(tracer: MockTracer):
    """A thread run in a copy of the context sees the request span; a bare thread sees none."""
    seen: dict[str, Any] = {}

    def view(request: Any) -> Response:
        context = contextvars.copy_context()
        copied = threading.Thread(
            target=context.run, args=(lambda: seen.update(copied=tracer.active_span),)
        )
        bare = threading.Thread(target=lambda: seen.update(bare=tracer.active_span))
        copied.start()
        bare.start()
        copied.join()
        bare.join()
        return Response("ok")

    def configure(config: Configurator) -> None:
        config.add_route("threads", "/threads")
        config.add_view(view, route_name="threads")

    build_app({"tracing.tracer": tracer}, configure).get("/threads")
    assert seen["copied"] is only_span(tracer)
    assert seen["bare"] is None


def test_trace_all_false_returns_handler_itself(tracer: MockTracer):
    """With tracing.trace_all = false the tween factory returns the handler: zero cost."""
    with Configurator(settings={"tracing.tracer": tracer, "tracing.trace_all": "false"}) as config:
        config.include("pyramid_tracing")
        config.commit()

    def handler(request: Any) -> Response:
        return Response()

    assert tracing_tween_factory(handler, config.registry) is handler
    app = build_app({"tracing.tracer": tracer, "tracing.trace_all": "off"})
    app.get("/hello/x")
    assert tracer.finished_spans() == []


def test_exclude_paths_and_routes(tracer: MockTracer, make_app: AppFactory):
    """Excluded paths and routes get no span; other requests still do."""
    app = make_app(
        {"tracing.exclude_paths": "^/static/\n\\.ico$", "tracing.exclude_routes": "health"}
    )
    app.get("/health")
    app.get("/static/app.js", status=404)
    app.get("/favicon.ico", status=404)
    assert tracer.finished_spans() == []
    app.get("/hello/health")
    assert only_span(tracer).operation_name == "hello"


def test_exclude_routes_respects_route_order(tracer: MockTracer):
    """A path an excluded route's pattern matches, but an earlier route serves, is traced."""

    def configure(config: Configurator) -> None:
        config.add_route("first", "/shadow/x")
        config.add_view(lambda request: Response("first"), route_name="first")
        config.add_route("shadowed", "/shadow/{any}")
        config.add_view(lambda request: Response("second"), route_name="shadowed")

    app = build_app(
        {"tracing.tracer": tracer, "tracing.exclude_routes": ["shadowed"]},
        configure,
        include=True,
    )
    assert app.get("/shadow/x").text == "first"
    app.get("/shadow/y")
    assert [span.operation_name for span in tracer.finished_spans()] == ["first"]


def test_exclude_unknown_route_fails_at_startup(tracer: MockTracer):
    """An exclude_routes name that is no route fails when the app is made, naming it."""
    with pytest.raises(ConfigurationError) as raised:
        build_app({"tracing.tracer": tracer, "tracing.exclude_routes": "helth"})
    assert str(raised.value) == (
        "Invalid value for setting 'tracing.exclude_routes': ['helth']. No route is named 'helth'."
    )


def test_captured_headers_with_redaction(tracer: MockTracer):
    """Captured headers become tags; sensitive ones are recorded as [REDACTED]."""

    def view(request: Any) -> Response:
        response = Response("ok")
        response.headers["X-Request-Id"] = "abc"
        response.set_cookie("session", "s3cret")
        return response

    def configure(config: Configurator) -> None:
        config.add_route("headers", "/headers")
        config.add_view(view, route_name="headers")

    app = build_app(
        {
            "tracing.tracer": tracer,
            "tracing.capture_request_headers": "User-Agent Authorization X-Missing",
            "tracing.capture_response_headers": ["x-request-id", "Set-Cookie"],
        },
        configure,
    )
    app.get("/headers", headers={"User-Agent": "pytest", "Authorization": "Bearer hunter2"})
    tags = only_span(tracer).tags
    assert tags["http.request.header.user-agent"] == "pytest"
    assert tags["http.request.header.authorization"] == REDACTED
    assert "http.request.header.x-missing" not in tags
    assert tags["http.response.header.x-request-id"] == "abc"
    assert tags["http.response.header.set-cookie"] == REDACTED
    assert "hunter2" not in repr(tags)
    assert "s3cret" not in repr(tags)


def test_traced_attributes_rendered_and_redacted(tracer: MockTracer, make_app: AppFactory):
    """Traced attributes are tags; mappings render as items with sensitive names redacted."""
    app = make_app({"tracing.traced_attributes": "path\nmatchdict headers\n  missing_attr"})
    app.get("/hello/zoe", headers={"Cookie": "sid=abc", "X-Trace-Me": "yes"})
    tags = only_span(tracer).tags
    assert tags["path"] == "/hello/zoe"
    assert tags["matchdict"] == '{"name": "zoe"}'
    assert '"X-Trace-Me": "yes"' in tags["headers"]
    assert f'"Cookie": "{REDACTED}"' in tags["headers"]
    assert "sid=abc" not in tags["headers"]
    assert "missing_attr" not in tags


def test_query_string_secrets_redacted_in_url(tracer: MockTracer, make_app: AppFactory):
    """Values of sensitive query parameters never reach http.url."""
    make_app().get("/hello/x?token=t0p&page=2&Password=pw")
    url = only_span(tracer).tags["http.url"]
    assert url == f"http://localhost/hello/x?token={REDACTED}&page=2&Password={REDACTED}"


def test_max_tag_length_caps_string_tags(tracer: MockTracer, make_app: AppFactory):
    """String tags longer than max_tag_length are cut to it and marked as cut."""
    make_app({"tracing.max_tag_length": "32"}).get("/hello/" + "a" * 100)
    url = only_span(tracer).tags["http.url"]
    assert len(url) == 32
    assert url.endswith("...[truncated]")


def test_hooks_called_and_failures_swallowed(tracer: MockTracer, caplog: pytest.LogCaptureFixture):
    """Start and finish hooks get their arguments; a hook that raises is logged, not raised."""
    calls: list[tuple[Any, ...]] = []

    def start(span: Any, request: Any) -> None:
        calls.append(("start", span, request.path))
        span.set_tag("hooked", True)

    def finish(span: Any, request: Any, response: Any, exception: Any) -> None:
        calls.append(("finish", span, response.status_code, exception))
        raise RuntimeError("hook bug")

    app = build_app(
        {
            "tracing.tracer": tracer,
            "tracing.start_span_hook": start,
            "tracing.finish_span_hook": finish,
        }
    )
    assert app.get("/hello/x").text == "hello x"
    span = only_span(tracer)
    assert span.finished
    assert span.tags["hooked"] is True
    assert calls == [("start", span, "/hello/x"), ("finish", span, 200, None)]
    assert "the finish_span_hook failed with RuntimeError" in caplog.text


def test_finish_hook_sees_exception(tracer: MockTracer):
    """The finish hook receives the exception of a failed request and no response."""
    calls: list[tuple[Any, Any]] = []

    def finish(span: Any, request: Any, response: Any, exception: Any) -> None:
        calls.append((response, exception))

    app = build_app({"tracing.tracer": tracer, "tracing.finish_span_hook": finish})
    with pytest.raises(Boom):
        app.get("/boom")
    ((response, exception),) = calls
    assert response is None
    assert isinstance(exception, Boom)


def test_tracing_stored_in_settings_and_registry(tracer: MockTracer, make_app: AppFactory):
    """The app's Tracing is at registry.settings['ot.tracing'] and ['ot.tracer']."""
    app = make_app()
    registry = app.app.registry
    tracing = get_tracing(registry)
    assert isinstance(tracing, Tracing)
    assert tracing.tracer is tracer
    assert registry.settings["ot.tracing"] is tracing
    assert registry.settings["ot.tracer"] is tracing


def test_get_tracing_without_include_says_what_to_do():
    """get_tracing on an app without the add-on raises a LookupError that says the fix."""
    with Configurator() as config:
        registry = config.registry
    with pytest.raises(LookupError, match=r"config.include\('pyramid_tracing'\)"):
        get_tracing(registry)


def test_include_twice_and_settings_added_after_include(tracer: MockTracer):
    """Including twice is harmless and settings added after the include still count."""
    with Configurator() as config:
        config.include("pyramid_tracing")
        config.include("pyramid_tracing")
        config.add_settings({"tracing.tracer": tracer, "tracing.operation_name": "route_pattern"})
        config.add_route("hello", "/hello/{name}")
        config.add_view(lambda request: Response("hi"), route_name="hello")
        app = TestApp(config.make_wsgi_app())
    app.get("/hello/x")
    assert only_span(tracer).operation_name == "/hello/{name}"


def test_ini_app_through_paster(tracer: MockTracer, tmp_path: Any):
    """An app configured only from an INI file is traced with those settings."""
    ini = tmp_path / "app.ini"
    ini.write_text(
        "[app:main]\n"
        "use = call:tests.helpers.inifactory:main\n"
        "pyramid.includes = pyramid_tracing\n"
        "tracing.tracer = tests.helpers.inifactory:make_tracer\n"
        "tracing.operation_name = method_route\n"
        "tracing.traced_attributes =\n    path\n    method\n"
        "tracing.exclude_paths = ^/health$\n"
    )
    from pyramid.paster import get_app

    from tests.helpers import inifactory

    app = TestApp(get_app(str(ini), "main"))
    app.get("/hello/ini")
    app.get("/health")
    (span,) = inifactory.TRACER.finished_spans()
    assert span.operation_name == "GET /hello/{name}"
    assert span.tags["path"] == "/hello/ini"
    assert span.tags["method"] == "GET"


def test_explicit_tween_list_without_ours_warns(tracer: MockTracer):
    """An explicit pyramid.tweens list that omits the tween warns at startup."""
    settings = {"tracing.tracer": tracer, "pyramid.tweens": "pyramid.tweens.excview_tween_factory"}
    with pytest.warns(UserWarning, match="^pyramid.tweens lists") as records:
        build_app(settings)
    (record,) = [r for r in records if "pyramid.tweens" in str(r.message)]
    assert str(record.message) == (
        "pyramid.tweens lists the tweens explicitly, and spans are lost: "
        "'pyramid_tracing.tracing_tween_factory' is missing: requests are not traced. The order "
        "that gives every span for this app puts the tracing tween above pyramid_tm's and the "
        "exception views':\n\n"
        "pyramid.tweens =\n"
        "    pyramid_tracing.tracing_tween_factory\n"
        "    pyramid.tweens.excview_tween_factory\n"
    )


def test_explicit_tween_list_with_ours_traces(tracer: MockTracer):
    """Listing the tween in pyramid.tweens traces requests, without a warning."""
    settings = {
        "tracing.tracer": tracer,
        "pyramid.tweens": "pyramid_tracing.tracing_tween_factory\n"
        "pyramid.tweens.excview_tween_factory",
    }
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        app = build_app(settings)
    app.get("/hello/x")
    assert only_span(tracer).operation_name == "hello"


def test_thread_local_scope_manager_warns():
    """A tracer on a thread-local scope manager warns that asyncio propagation won't work."""
    tracer = MockTracer(scope_manager=ThreadLocalScopeManager())
    with pytest.warns(UserWarning, match=r"scope_manager=pyramid_tracing.ScopeManager\(\)"):
        build_app({"tracing.tracer": tracer})


def test_global_tracer_used_by_default():
    """Without a configured tracer the OpenTracing global tracer is used, looked up at use."""
    app = build_app({})
    tracer = MockTracer(scope_manager=ScopeManager())
    opentracing.set_global_tracer(tracer)
    app.get("/hello/x")
    assert only_span(tracer).operation_name == "hello"


def test_subrequest_is_child_span(tracer: MockTracer):
    """request.invoke_subrequest inside a traced request makes a child span."""

    def outer(request: Any) -> Response:
        sub = Request.blank("/hello/sub")
        inner = request.invoke_subrequest(sub, use_tweens=True)
        return Response("outer:" + inner.text)

    def configure(config: Configurator) -> None:
        config.add_route("outer", "/outer")
        config.add_view(outer, route_name="outer")

    response = build_app({"tracing.tracer": tracer}, configure).get("/outer")
    assert response.text == "outer:hello sub"
    sub_span, outer_span = tracer.finished_spans()
    assert sub_span.operation_name == "hello"
    assert sub_span.parent_id == outer_span.context.span_id
    assert outer_span.operation_name == "outer"
    assert outer_span.tags["http.status_code"] == 200


def test_package_exports_tween_names():
    """Both the new and the pyramid_opentracing tween names are importable."""
    assert pyramid_tracing.opentracing_tween_factory is pyramid_tracing.tracing_tween_factory
