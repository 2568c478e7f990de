"""tracing.otel.exporter = tree: the development exporter that the quickstart and demo use."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import opentracing
import pytest
from pyramid.config import Configurator
from webtest import TestApp

pytest.importorskip("opentelemetry.sdk")

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags

from pyramid_tracing import otel, traced
from pyramid_tracing.otel import _tree

TRACE_ID = 0x0AF7651916CD43DD8448EB211C80319C
MS = 1_000_000


@pytest.fixture
def made() -> Iterator[list[opentracing.Tracer]]:
    """Tracers made by a test; their providers are shut down after it."""
    tracers: list[opentracing.Tracer] = []
    yield tracers
    for tracer in tracers:
        otel.tracer_provider(tracer).shutdown()


def tree_tracer(made: list[opentracing.Tracer], service: str) -> opentracing.Tracer:
    settings = {"tracing.otel.exporter": "tree memory", "tracing.otel.service_name": service}
    tracer = otel.tracer_from_settings(**settings)
    made.append(tracer)
    return tracer


def span(
    name: str,
    span_id: int,
    parent: int | None,
    start_ms: float,
    end_ms: float,
    *,
    service: str = "shop",
    error: bool = False,
    **attributes: Any,
) -> ReadableSpan:
    def context(span_id: int) -> SpanContext:
        return SpanContext(TRACE_ID, span_id, is_remote=False, trace_flags=TraceFlags(1))

    return ReadableSpan(
        name=name,
        context=context(span_id),
        parent=None if parent is None else context(parent),
        resource=Resource.create({"service.name": service}),
        attributes=attributes,
        kind=SpanKind.CLIENT if attributes.get("span.kind") == "client" else SpanKind.INTERNAL,
        status=Status(StatusCode.ERROR if error else StatusCode.UNSET),
        start_time=int(start_ms * MS),
        end_time=int(end_ms * MS),
    )


def app(tracer: opentracing.Tracer) -> TestApp:
    @traced(tags={"db.system": "sqlite"})
    def load_user(user_id: str) -> dict[str, str]:
        return {"id": user_id}

    def profile(request: Any) -> dict[str, Any]:
        with request.tracing.start_active_span("render", tags={"template": "profile"}):
            return {"user": load_user(request.matchdict["id"])}

    def fail(request: Any) -> None:
        raise KeyError("gone")

    with Configurator(settings={"tracing.tracer": tracer}) as config:
        config.include("pyramid_tracing")
        config.add_route("profile", "/users/{id}")
        config.add_view(profile, route_name="profile", renderer="json")
        config.add_route("fail", "/fail")
        config.add_view(fail, route_name="fail", renderer="json")
        return TestApp(config.make_wsgi_app())


def without_times(text: str) -> list[str]:
    return [re.sub(r" +\+\d+\.\d ms +\d+\.\d ms +", " <+ms> <ms> ", line) for line in text]


def test_each_request_prints_its_trace_as_a_tree_on_stderr(
    made: list[opentracing.Tracer], capsys: pytest.CaptureFixture[str]
) -> None:
    """A request's spans are printed once, as a tree, on standard error, when it finishes."""
    testapp = app(tree_tracer(made, "users"))
    testapp.get("/users/7", extra_environ={"HTTP_HOST": "127.0.0.1:6543"})
    out, err = capsys.readouterr()
    assert out == ""
    header, *lines = err.splitlines()
    assert re.fullmatch(r"trace [0-9a-f]{32}  users  4 spans  \d+\.\d ms", header)
    assert without_times(lines) == [
        "  users  GET /users/{id} <+ms> <ms> OK     http.response.status_code=200",
        "  ├─ users  render <+ms> <ms> OK     template=profile",
        "  │  └─ users  app.<locals>.load_user <+ms> <ms> OK     db.system=sqlite",
        "  └─ users  render json <+ms> <ms> OK     pyramid.renderer=json",
    ]
    assert re.match(r"  users  GET /users/\{id\} +\+0\.0 ms ", lines[0])


def test_a_failed_request_shows_error_and_its_kind(
    made: list[opentracing.Tracer], capsys: pytest.CaptureFixture[str]
) -> None:
    """The server span of a request whose view raised is ERROR, with the exception's type."""
    testapp = app(tree_tracer(made, "users"))
    with pytest.raises(KeyError):
        testapp.get("/fail")
    (_, line) = capsys.readouterr().err.splitlines()
    assert without_times([line]) == [
        "  users  GET /fail <+ms> <ms> ERROR  http.response.status_code=500 error.kind=KeyError"
    ]


def test_offsets_show_the_time_children_do_not_cover() -> None:
    """Offsets are from the trace's first start; a child's offset and duration show the gaps."""
    spans = [
        span("load", 2, 1, 2.0, 5.5, **{"db.system": "sqlite"}),
        span(
            "HTTP GET",
            3,
            1,
            7.25,
            9.0,
            **{"span.kind": "client", "http.url": "http://payments/x", "http.method": "GET"},
        ),
        span("GET /cart", 1, None, 0.0, 10.0, error=True, **{"http.url": "http://shop/cart"}),
    ]
    assert otel.format_trace(spans).splitlines() == [
        "trace 0af7651916cd43dd8448eb211c80319c  shop  3 spans  10.0 ms",
        "  shop  GET /cart        +0.0 ms     10.0 ms  ERROR",
        "  ├─ shop  load          +2.0 ms      3.5 ms  OK     db.system=sqlite",
        "  └─ shop  HTTP GET      +7.2 ms      1.8 ms  OK     http.url=http://payments/x",
    ]


def test_long_and_spaced_values_are_quoted_and_cut() -> None:
    """A tag value with spaces is quoted; one longer than 60 characters is cut with an ellipsis."""
    spans = [span("job", 1, None, 0, 1, note="two words", blob="x" * 100)]
    line = otel.format_trace(spans).splitlines()[1]
    assert line.endswith(f"note='two words' blob={'x' * 59}…")


def test_no_spans_is_no_text() -> None:
    """format_trace of nothing is the empty string."""
    assert otel.format_trace([]) == ""


def test_a_trace_through_two_services_in_one_process_prints_once(
    made: list[opentracing.Tracer], capsys: pytest.CaptureFixture[str]
) -> None:
    """Spans of two providers in one process print as one tree when the last open span ends."""
    front, back = tree_tracer(made, "front"), tree_tracer(made, "back")
    with front.start_active_span("GET /cart") as outer:
        carrier: dict[str, str] = {}
        front.inject(outer.span.context, opentracing.Format.HTTP_HEADERS, carrier)
        parent = back.extract(opentracing.Format.HTTP_HEADERS, carrier)
        with back.start_active_span("GET /items", child_of=parent):
            pass
        assert capsys.readouterr().err == ""
    header, *lines = capsys.readouterr().err.splitlines()
    assert header.split("  ")[1:3] == ["front, back", "2 spans"]
    assert [line.split("  +")[0].rstrip() for line in lines] == [
        "  front  GET /cart",
        "  └─ back  GET /items",
    ]


def test_a_span_that_outlives_its_trace_is_printed_as_a_continuation(
    made: list[opentracing.Tracer], capsys: pytest.CaptureFixture[str]
) -> None:
    """A child that ends after its root has been printed comes later, marked (continued)."""
    tracer = tree_tracer(made, "jobs")
    root = tracer.start_span("request")
    # The root's span is printed when it ends, even while the child is open: the child was
    # started from the root's context but this process tracks it as open...
    child = tracer.start_span("background", child_of=root)
    root.finish()
    assert capsys.readouterr().err == ""
    child.finish()
    assert "2 spans" in capsys.readouterr().err.splitlines()[0]
    late = tracer.start_span("late", child_of=child)
    late.finish()
    header, line = capsys.readouterr().err.splitlines()
    assert header.endswith(" (continued)")
    assert line.startswith("  jobs  late ")


def test_spans_still_open_at_shutdown_are_printed_with_a_note(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """When the last tree processor shuts down, unfinished traces are printed as they are."""
    provider = TracerProvider(resource=Resource.create({"service.name": "w"}))
    provider.add_span_processor(_tree.TreeProcessor(_tree._TreePrinter()))
    tracer = provider.get_tracer("t")
    with tracer.start_as_current_span("open"):
        tracer.start_span("done").end()
        assert capsys.readouterr().err == ""
        provider.shutdown()
    err = capsys.readouterr().err
    header, line, note = err.splitlines()
    assert "1 span" in header
    assert line.startswith("  w  done ")
    assert note == "  (and 1 span of this trace not finished)"
    tracer.start_span("after").end()
    assert capsys.readouterr().err == ""


def test_the_tree_is_written_to_stderr_at_process_exit_too() -> None:
    """A script that ends its spans and exits prints its tree on stderr, nothing on stdout."""
    code = (
        "from pyramid_tracing import otel\n"
        "tracer = otel.tracer_from_settings(**{'tracing.otel.exporter': 'tree',"
        " 'tracing.otel.service_name': 'cli'})\n"
        "with tracer.start_active_span('main'):\n"
        "    tracer.start_span('step').finish()\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout == ""
    # What comes before the tree: Pyramid's pkg_resources warning with setuptools >= 81.
    tree = result.stderr[result.stderr.index("trace ") :]
    assert [line.split("  +")[0].rstrip() for line in tree.splitlines()[1:]] == [
        "  cli  main",
        "  └─ cli  step",
    ]
