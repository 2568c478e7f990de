"""A streamed response body is produced inside the request's span, which ends at its close().

The same app (tests/helpers/streaming.py) under WebTest, waitress and gunicorn (sync, gthread,
gevent workers): the server span lasts as long as the body the client waited for, the spans
made while iterating are its children, an exception raised mid-body is recorded on it, a
client that leaves early is not an error, and a FileResponse keeps the server's fast path.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("opentelemetry.sdk")
pytest.importorskip("sqlalchemy")

import opentracing
import requests
from opentelemetry.sdk.trace import ReadableSpan
from opentracing.mocktracer import MockTracer
from pyramid.config import Configurator
from pyramid.response import Response
from webtest import TestApp

from pyramid_tracing import ScopeManager, Tracing, get_tracing, otel
from pyramid_tracing import sqlalchemy as traced_sqlalchemy
from tests.helpers.faults import FaultPlan, FaultyTracer
from tests.helpers.otel_globals import clean_globals
from tests.helpers.production import BIN, free_port, running
from tests.helpers.serving import serve
from tests.helpers.streaming import (
    CHUNKS,
    LONG_CHUNKS,
    PAUSE,
    STREAM_BODY,
    BodyBroke,
    build,
)

#: The least time /stream takes: its five pauses.
STREAM_TIME = CHUNKS * PAUSE
#: What the server span may last beyond the client's own measure: the server closes the body
#: just after it wrote the last bytes.
CLOSE_SLACK = 0.05
FILE_SIZE = 200_000
FAIL_BODY = b"first\nsecond\n"

OTEL = {
    "tracing.tracer": "pyramid_tracing.otel:tracer_from_settings",
    "tracing.otel.exporter": "memory",
    "tracing.otel.service_name": "streaming",
    "tracing.semconv": "stable",
    "tracing.instrument": "sqlalchemy",
    "tracing.finish_span_hook": "tests.helpers.streaming:tag_body_type",
    "tracing.exclude_paths": "^/spans",
}


@pytest.fixture(autouse=True)
def _clean() -> Iterator[None]:
    with clean_globals(traced_sqlalchemy.uninstrument):
        yield


@pytest.fixture
def files(tmp_path: Path) -> dict[str, str]:
    """The app's SQLite database and the file /file serves."""
    served = tmp_path / "export.bin"
    served.write_bytes(bytes(range(256)) * (FILE_SIZE // 256) + b"x" * (FILE_SIZE % 256))
    return {"streaming.db": str(tmp_path / "shop.db"), "streaming.file": str(served)}


@pytest.fixture
def otel_app(files: dict[str, str]) -> Iterator[Any]:
    """The app traced by the OpenTelemetry SDK, its spans kept in memory."""
    app = build({**OTEL, **files})
    yield app
    otel.tracer_provider(get_tracing(app.registry).tracer).shutdown()


def spans_of(app: Any) -> list[ReadableSpan]:
    return list(otel.memory_exporter(get_tracing(app.registry).tracer).get_finished_spans())


def wait_for(found: Callable[[], list[Any]], count: int) -> list[Any]:
    """What ``found`` returns once it holds ``count`` items (the close comes after the body)."""
    deadline = time.monotonic() + 5
    items = found()
    while len(items) < count and time.monotonic() < deadline:
        time.sleep(0.02)
        items = found()
    assert len(items) >= count, items
    return items


def server_span(spans: list[ReadableSpan], route: str, method: str = "GET") -> ReadableSpan:
    (span,) = [span for span in spans if span.name == f"{method} /{route}"]
    return span


def seconds(span: ReadableSpan) -> float:
    assert span.start_time is not None
    assert span.end_time is not None
    return (span.end_time - span.start_time) / 1e9


def span_id(span: ReadableSpan) -> int:
    assert span.context is not None
    return span.context.span_id


def parents(spans: list[ReadableSpan], name: str) -> list[int | None]:
    return [None if s.parent is None else s.parent.span_id for s in spans if s.name == name]


def assert_stream_span(spans: list[ReadableSpan], measured: float) -> None:
    """/stream's span lasted as long as the client waited; SQL and @traced spans are its own."""
    server = server_span(spans, "stream")
    assert STREAM_TIME <= seconds(server) <= measured + CLOSE_SLACK, (seconds(server), measured)
    assert parents(spans, "SELECT") == [span_id(server)] * CHUNKS
    assert parents(spans, "produce") == [span_id(server)] * CHUNKS
    attributes = dict(server.attributes or {})
    assert attributes["http.response.status_code"] == 200
    assert attributes["http.response.body.size"] == len(STREAM_BODY)
    assert attributes["test.app_iter"] == "StreamedBody"
    assert server.status.status_code.name == "UNSET"


def assert_fail_span(spans: list[ReadableSpan]) -> None:
    """/fail's span records the exception raised mid-body, with the 200 already sent."""
    server = server_span(spans, "fail")
    attributes = dict(server.attributes or {})
    assert attributes["http.response.status_code"] == 200
    assert attributes["error.type"] == "BodyBroke"
    assert attributes["http.response.body.size"] == len(FAIL_BODY)
    assert [event.name for event in server.events] == ["exception"]
    assert server.events[0].attributes is not None
    assert server.events[0].attributes["exception.message"] == "the disk went away"
    assert server.status.status_code.name == "ERROR"
    assert server.status.description == "the disk went away"


# -- WebTest ----------------------------------------------------------------------------------


def test_webtest_stream_span_covers_the_body(otel_app: Any) -> None:
    """Under WebTest, /stream's span lasts its 250 ms body and parents the spans made in it."""
    started = time.monotonic()
    response = TestApp(otel_app).get("/stream")
    measured = time.monotonic() - started
    assert response.body == STREAM_BODY
    assert_stream_span(spans_of(otel_app), measured)


def test_webtest_exception_mid_body_is_recorded_and_raised(otel_app: Any) -> None:
    """Under WebTest, an exception in the body propagates unchanged and is on the span."""
    with pytest.raises(BodyBroke) as raised:
        TestApp(otel_app).get("/fail")
    assert str(raised.value) == "the disk went away"
    # Raised where the app raised it: the innermost frame is the view's generator.
    assert raised.traceback[-1].name == "body"
    assert_fail_span(spans_of(otel_app))


def test_webtest_file_response_keeps_its_length_and_ends_at_close(otel_app: Any) -> None:
    """Without a server file wrapper, a FileResponse is iterated in the span, length kept."""
    response = TestApp(otel_app).get("/file")
    assert response.headers["Content-Length"] == str(FILE_SIZE)
    assert len(response.body) == FILE_SIZE
    attributes = dict(server_span(spans_of(otel_app), "file").attributes or {})
    assert attributes["http.response.body.size"] == FILE_SIZE
    assert attributes["test.app_iter"] == "StreamedBody"


def wsgi_call(app: Any, path: str) -> Any:
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.url_scheme": "http",
    }
    return app(environ, lambda status, headers, exc_info=None: None)


def test_close_before_the_end_is_not_an_error(otel_app: Any) -> None:
    """A server that closes the body after one chunk (the client left) records no error."""
    body = wsgi_call(otel_app, "/long")
    assert spans_of(otel_app) == []  # the span is open while the body is
    assert next(iter(body)) == b"line 0000\n"
    body.close()
    body.close()  # a second close finishes nothing twice
    (server,) = spans_of(otel_app)
    attributes = dict(server.attributes or {})
    assert attributes["http.response.body.size"] == len(b"line 0000\n")
    assert "error.type" not in attributes
    assert server.events == ()
    assert server.status.status_code.name == "UNSET"


def test_close_without_iterating_finishes_the_span_once(otel_app: Any) -> None:
    """A server that never iterates (HEAD, an early error) still finishes the span, once."""
    body = wsgi_call(otel_app, "/stream")
    body.close()
    body.close()
    (server,) = spans_of(otel_app)
    assert dict(server.attributes or {})["http.response.body.size"] == 0
    assert parents(spans_of(otel_app), "SELECT") == []


def test_opentracing_mocktracer_stream_error_and_children(files: dict[str, str]) -> None:
    """With MockTracer: the span covers the body, parents its children, logs the error."""
    tracer = MockTracer(scope_manager=ScopeManager())
    settings = {"tracing.tracer": tracer, "tracing.instrument": "sqlalchemy", **files}
    app = TestApp(build(settings))
    started = time.monotonic()
    app.get("/stream")
    measured = time.monotonic() - started
    with pytest.raises(BodyBroke):
        app.get("/fail")
    spans = tracer.finished_spans()
    stream, fail = (span for span in spans if span.tags.get("span.kind") == "server")
    assert STREAM_TIME <= stream.finish_time - stream.start_time <= measured + CLOSE_SLACK
    children = [span for span in spans if span.operation_name in {"SELECT", "produce"}]
    assert len(children) == 2 * CHUNKS
    assert {span.parent_id for span in children} == {stream.context.span_id}
    assert stream.tags["http.status_code"] == 200
    assert stream.tags["http.response.body.size"] == len(STREAM_BODY)
    assert "error" not in stream.tags
    assert fail.tags["error"] is True
    assert fail.tags["http.status_code"] == 200
    (log,) = fail.logs
    assert log.key_values["event"] == "error"
    assert log.key_values["error.kind"] == "BodyBroke"
    assert log.key_values["message"] == "the disk went away"


# -- real servers on loopback ------------------------------------------------------------------


def timed_get(url: str) -> tuple[requests.Response, float]:
    started = time.monotonic()
    response = requests.get(url, timeout=10)
    return response, time.monotonic() - started


def leave_early(host: str, port: int) -> bytes:
    """GET /long, read its first bytes, and hang up."""
    with socket.create_connection((host, port), timeout=10) as sock:
        sock.sendall(b"GET /long HTTP/1.1\r\nHost: streaming\r\n\r\n")
        received = sock.recv(4096)
        while b"line 0000" not in received:
            received += sock.recv(4096)
    return received


def get_failing(host: str, port: int) -> bytes:
    """GET /fail, reading what the server sends before it drops the connection."""
    received = b""
    with socket.create_connection((host, port), timeout=10) as sock:
        sock.sendall(b"GET /fail HTTP/1.1\r\nHost: streaming\r\nConnection: close\r\n\r\n")
        while chunk := sock.recv(4096):
            received += chunk
    return received


def assert_left_early(spans: list[ReadableSpan]) -> None:
    """The client left /long: no error, and fewer bytes than the whole body."""
    server = server_span(spans, "long")
    attributes = dict(server.attributes or {})
    assert "error.type" not in attributes
    assert server.status.status_code.name == "UNSET"
    assert 0 < int(attributes["http.response.body.size"]) < LONG_CHUNKS * len(b"line 0000\n")


def assert_file_fast_path(spans: list[ReadableSpan], wrapper: str) -> None:
    """The server got its own file wrapper back (its fast path), and the span ended at close."""
    attributes = dict(server_span(spans, "file").attributes or {})
    assert attributes["test.app_iter"] == wrapper
    assert "http.response.body.size" not in attributes  # the server sent it, not Python
    assert attributes["http.response.status_code"] == 200


def test_waitress_stream_fail_disconnect_and_file(otel_app: Any) -> None:
    """Under waitress: the span covers the body, records errors, keeps the file fast path."""
    with serve(otel_app) as url:
        port = int(url.rsplit(":", 1)[1])
        response, measured = timed_get(f"{url}/stream")
        assert response.content == STREAM_BODY
        assert_stream_span(wait_for(lambda: spans_of(otel_app), 1 + 2 * CHUNKS), measured)
        assert FAIL_BODY.split(b"\n")[0] in get_failing("127.0.0.1", port)
        assert_fail_span(wait_for(lambda: spans_of(otel_app), 2 + 2 * CHUNKS))
        leave_early("127.0.0.1", port)
        assert_left_early(wait_for(lambda: spans_of(otel_app), 3 + 2 * CHUNKS))
        response = requests.get(f"{url}/file", timeout=10)
        assert response.headers["Content-Length"] == str(FILE_SIZE)
        assert len(response.content) == FILE_SIZE
        assert_file_fast_path(
            wait_for(lambda: spans_of(otel_app), 4 + 2 * CHUNKS), "ReadOnlyFileBasedBuffer"
        )


def write_ini(path: Path, files: dict[str, str]) -> Path:
    lines = [
        "[app:main]",
        "use = call:tests.helpers.streaming:main",
        *(f"{key} = {value}" for key, value in {**OTEL, **files}.items()),
        "",
    ]
    path.write_text("\n".join(lines))
    return path


@pytest.mark.parametrize(
    "worker",
    [
        ["--worker-class", "sync"],
        ["--worker-class", "gthread", "--threads", "4"],
        ["--worker-class", "gevent"],
    ],
    ids=["sync", "gthread", "gevent"],
)
def test_gunicorn_stream_fail_disconnect_and_file(
    tmp_path: Path, files: dict[str, str], worker: list[str]
) -> None:
    """Under gunicorn's workers: the span covers the body, records errors, keeps sendfile."""
    if "gevent" in worker:
        pytest.importorskip("gevent")
    port = free_port()
    ini = write_ini(tmp_path / "app.ini", files)
    command = [str(BIN / "gunicorn"), "--paste", str(ini), "--bind", f"127.0.0.1:{port}"]
    command += ["--workers", "1", *worker]
    url = f"http://127.0.0.1:{port}"

    def spans() -> list[Any]:
        return list(requests.get(f"{url}/spans", timeout=10).json())

    with running(command, port, tmp_path / "gunicorn.log", tmp_path):
        response, measured = timed_get(f"{url}/stream")
        assert response.content == STREAM_BODY
        found = wait_for(spans, 1 + 2 * CHUNKS)
        (server,) = [span for span in found if span["name"] == "GET /stream"]
        duration = (server["end"] - server["start"]) / 1e9
        assert STREAM_TIME <= duration <= measured + CLOSE_SLACK, (duration, measured)
        children = [span for span in found if span["name"] in {"SELECT", "produce"}]
        assert [span["parent_id"] for span in children] == [server["span_id"]] * 2 * CHUNKS
        assert server["attributes"]["http.response.body.size"] == len(STREAM_BODY)

        assert b"first" in get_failing("127.0.0.1", port)
        (fail,) = [span for span in wait_for(spans, 2 + 2 * CHUNKS) if span["name"] == "GET /fail"]
        assert fail["attributes"]["error.type"] == "BodyBroke"
        assert fail["attributes"]["http.response.status_code"] == 200
        assert (fail["events"], fail["status"]) == (["exception"], "ERROR")

        leave_early("127.0.0.1", port)
        (left,) = [span for span in wait_for(spans, 3 + 2 * CHUNKS) if span["name"] == "GET /long"]
        assert "error.type" not in left["attributes"]
        assert left["status"] == "UNSET"

        response = requests.get(f"{url}/file", timeout=10)
        assert len(response.content) == FILE_SIZE
        (file,) = [span for span in wait_for(spans, 4 + 2 * CHUNKS) if span["name"] == "GET /file"]
        assert file["attributes"]["test.app_iter"] == "FileWrapper"
        assert "http.response.body.size" not in file["attributes"]
    assert json.dumps(found)  # the spans crossed the process boundary as plain JSON


# -- the view decorator, the trace headers, HEAD ------------------------------------------------


def test_decorator_without_tween_covers_the_body(files: dict[str, str]) -> None:
    """Tracing.trace (no tween) also ends the span at close, its children inside it."""
    tracer = MockTracer(scope_manager=ScopeManager())
    tracing = Tracing(tracer)

    @tracing.trace()
    def view(request: Any) -> Response:
        def body() -> Iterator[bytes]:
            for _ in range(CHUNKS):
                time.sleep(PAUSE)
                with tracer.start_active_span("chunk"):
                    yield b"x"

        return Response(app_iter=body())

    with Configurator(settings={"tracing.tracer": tracer}) as config:
        config.add_route("item", "/item")
        config.add_view(view, route_name="item")
        app = TestApp(config.make_wsgi_app())
    assert app.get("/item").body == b"x" * CHUNKS
    *chunks, server = tracer.finished_spans()
    assert server.operation_name == "item"
    assert server.finish_time - server.start_time >= STREAM_TIME
    assert [span.parent_id for span in chunks] == [server.context.span_id] * CHUNKS
    assert server.tags["http.response.body.size"] == CHUNKS


def test_trace_headers_are_sent_with_a_streamed_body_once(files: dict[str, str]) -> None:
    """traceresponse and Server-Timing go out with the headers of a streamed body, once each."""
    tracer = MockTracer(scope_manager=ScopeManager())
    settings = {
        "tracing.tracer": tracer,
        "tracing.response_trace_headers": "traceresponse server-timing",
        "tracing.finish_span_hook": "tests.helpers.streaming:tag_body_type",
        **files,
    }
    response = TestApp(build(settings)).get("/stream")
    (server,) = [span for span in tracer.finished_spans() if span.operation_name == "stream"]
    traceparent = f"00-{server.context.trace_id:032x}-{server.context.span_id:016x}-01"
    assert response.headers["traceresponse"] == traceparent
    assert response.headers.getall("Server-Timing") == [f'traceparent;desc="{traceparent}"']
    assert server.tags["test.app_iter"] == "StreamedBody"
    assert server.tags["test.server_timings"] == 1  # added before the body, not again at close


def test_head_of_a_streamed_view_finishes_its_span(otel_app: Any) -> None:
    """HEAD: WebOb hands the server an empty body whose close() still ends the span."""
    response = TestApp(otel_app).head("/stream")
    assert response.body == b""
    server = server_span(spans_of(otel_app), "stream", "HEAD")
    assert dict(server.attributes or {})["http.response.body.size"] == 0


@pytest.mark.parametrize(
    ("kinds", "where"),
    [
        (["set_tag", "log_kv"], "recording an error of the response body"),
        (["close", "finish"], "finishing the server span"),
    ],
)
def test_a_failing_tracer_leaves_the_streamed_body_and_its_error_untouched(
    files: dict[str, str], kinds: list[str], where: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A tracer failing at the body's end: the body arrives whole, the app's error unchanged."""
    tracer = FaultyTracer(FaultPlan(kinds))
    app = TestApp(build({"tracing.tracer": tracer, **files}))
    assert app.get("/stream").body == STREAM_BODY
    with pytest.raises(BodyBroke) as raised:
        app.get("/fail")
    assert str(raised.value) == "the disk went away"
    assert f"{where} failed with InjectedFault; the request" in caplog.text


# -- bodies of every shape -----------------------------------------------------------------------


class ReadingWrapper:
    """What a server's ``wsgi.file_wrapper`` does: read the file by blocks, close it."""

    __slots__ = ()
    file: Any
    block_size: int

    def __init__(self, file: Any, block_size: int = 8192) -> None:
        self.file = file
        self.block_size = block_size

    def __iter__(self) -> Iterator[bytes]:
        return iter(lambda: self.file.read(self.block_size), b"")

    def close(self) -> None:
        self.file.close()


class FileWrapper(ReadingWrapper):
    """A plain class with a ``__dict__``, as gunicorn's and waitress's are."""


class SlottedFileWrapper(ReadingWrapper):
    """A file wrapper whose close() cannot be replaced on the instance."""

    __slots__ = ("block_size", "file")


@pytest.mark.parametrize(
    ("wrapper", "given"),
    [(FileWrapper, "FileWrapper"), (SlottedFileWrapper, "StreamedBody")],
    ids=["plain", "slotted"],
)
def test_a_server_file_wrapper_is_kept_unless_its_close_cannot_be_wrapped(
    otel_app: Any, wrapper: type, given: str
) -> None:
    """The server gets its own file wrapper back; a slotted one is wrapped like a generator."""
    app = TestApp(otel_app, extra_environ={"wsgi.file_wrapper": wrapper})
    response = app.get("/file")
    assert response.headers["Content-Length"] == str(FILE_SIZE)
    assert len(response.body) == FILE_SIZE
    attributes = dict(server_span(spans_of(otel_app), "file").attributes or {})
    assert attributes["test.app_iter"] == given
    assert attributes.get("http.response.body.size") == (
        FILE_SIZE if given == "StreamedBody" else None
    )


def test_a_failing_close_is_recorded_and_raised(otel_app: Any) -> None:
    """An error raised by the body's own close() is on the span and reaches the server."""
    with pytest.raises(BodyBroke) as raised:
        TestApp(otel_app).get("/failing-close")
    assert str(raised.value) == "the cursor could not be released"
    server = server_span(spans_of(otel_app), "failing-close")
    assert dict(server.attributes or {})["error.type"] == "BodyBroke"
    assert dict(server.attributes or {})["http.response.body.size"] == len(b"done\n")


def test_an_iterator_without_close_ends_its_span(otel_app: Any) -> None:
    """A body with no close() of its own still ends its span when the server closes it."""
    assert TestApp(otel_app).get("/iterator").body == b"ab"
    server = server_span(spans_of(otel_app), "iterator")
    assert dict(server.attributes or {})["http.response.body.size"] == 2


def test_the_finish_hook_runs_once_at_the_end_with_a_noop_tracer(files: dict[str, str]) -> None:
    """OpenTracing's no-op tracer with a finish hook: one call, after the body, error raised."""
    calls: list[tuple[int, object]] = []

    def hook(span: Any, request: Any, response: Any, exception: Any) -> None:
        calls.append((response.status_code, exception))

    app = TestApp(
        build({"tracing.tracer": opentracing.Tracer(), "tracing.finish_span_hook": hook, **files})
    )
    with pytest.raises(BodyBroke):
        app.get("/fail")
    assert calls == [(200, None)]


class FixedBody(Response):  # type: ignore[misc]  # WebOb's Response is untyped here
    """A response whose body cannot be replaced."""

    @property
    def app_iter(self) -> Any:
        return self._app_iter

    @app_iter.setter
    def app_iter(self, value: Any) -> None:
        raise AttributeError("this body is fixed")


def test_a_body_that_cannot_be_wrapped_is_served_and_its_span_finished(
    tracer: MockTracer, caplog: pytest.LogCaptureFixture
) -> None:
    """When the body cannot be wrapped, it is served as is; the span ends as the view returns."""

    def view(request: Any) -> Response:
        return FixedBody(app_iter=iter([b"as ", b"is"]))

    with Configurator(settings={"tracing.tracer": tracer}) as config:
        config.include("pyramid_tracing")
        config.add_route("fixed", "/fixed")
        config.add_view(view, route_name="fixed")
        app = TestApp(config.make_wsgi_app())
    assert app.get("/fixed").body == b"as is"
    (server,) = tracer.finished_spans()
    assert server.tags["http.status_code"] == 200
    assert "http.response.body.size" not in server.tags
    expected = "covering the response body failed with AttributeError"
    assert expected in caplog.text
