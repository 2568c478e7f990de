"""A Pyramid app whose views stream their bodies, served by WebTest, waitress and gunicorn.

``/stream`` yields five 50 ms chunks, each after a SQL statement on SQLite; ``/fail`` fails
after two chunks; ``/long`` streams for two seconds (a client leaves it early); ``/file`` is a
:class:`~pyramid.response.FileResponse`. Under gunicorn, ``/spans`` returns the spans the
worker finished (``tracing.otel.exporter = memory``) as JSON.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import sqlalchemy
from pyramid.config import Configurator
from pyramid.response import FileResponse, Response
from sqlalchemy import text

from pyramid_tracing import get_tracing, otel, traced

CHUNKS = 5
PAUSE = 0.05
LONG_CHUNKS = 40
#: The exact body of ``/stream``.
STREAM_BODY = b"".join(f"chunk {number}\n".encode() for number in range(CHUNKS))


class BodyBroke(Exception):
    """What ``/fail`` raises half-way through its body."""


@traced
def produce(number: int) -> bytes:
    return f"chunk {number}\n".encode()


def stream_view(request: Any) -> Response:
    engine: sqlalchemy.engine.Engine = request.registry.settings["streaming.engine"]

    def body() -> Iterator[bytes]:
        with engine.connect() as connection:
            for number in range(CHUNKS):
                time.sleep(PAUSE)
                connection.execute(text("SELECT :number"), {"number": number}).all()
                yield produce(number)

    return Response(app_iter=body(), content_type="text/plain")


def fail_view(request: Any) -> Response:
    def body() -> Iterator[bytes]:
        yield b"first\n"
        yield b"second\n"
        raise BodyBroke("the disk went away")

    return Response(app_iter=body(), content_type="text/plain")


def long_view(request: Any) -> Response:
    def body() -> Iterator[bytes]:
        for number in range(LONG_CHUNKS):
            yield f"line {number:04d}\n".encode()
            time.sleep(PAUSE)

    return Response(app_iter=body(), content_type="text/plain")


class FailingClose:
    """A body whose close() fails (a cursor that cannot be released)."""

    def __iter__(self) -> Iterator[bytes]:
        return iter([b"done\n"])

    def close(self) -> None:
        raise BodyBroke("the cursor could not be released")


def failing_close_view(request: Any) -> Response:
    return Response(app_iter=FailingClose())


def iterator_view(request: Any) -> Response:
    # An iterator without close(): the span still ends when the server closes the body.
    return Response(app_iter=iter([b"a", b"b"]))


def file_view(request: Any) -> FileResponse:
    return FileResponse(request.registry.settings["streaming.file"], request=request)


def spans_view(request: Any) -> Response:
    """The finished spans of this process, as JSON (times in nanoseconds)."""
    tracer = get_tracing(request).tracer
    found = []
    for span in otel.memory_exporter(tracer).get_finished_spans():
        assert span.context is not None
        found.append(
            {
                "name": span.name,
                "span_id": span.context.span_id,
                "parent_id": None if span.parent is None else span.parent.span_id,
                "start": span.start_time,
                "end": span.end_time,
                "attributes": dict(span.attributes or {}),
                "events": [event.name for event in span.events],
                "status": span.status.status_code.name,
            }
        )
    return Response(json.dumps(found), content_type="application/json", charset="utf-8")


def tag_body_type(span: Any, request: Any, response: Any, exception: Any) -> None:
    """A finish hook: the body type the server was given (its fast path or ours), the timings."""
    if response is not None:
        span.set_tag("test.app_iter", type(response.app_iter).__name__)
        span.set_tag("test.server_timings", len(response.headers.getall("Server-Timing")))


def build(settings: dict[str, Any]) -> Any:
    """The WSGI app; ``streaming.db`` (a SQLite path) and ``streaming.file`` are required."""
    settings = dict(settings)
    settings["streaming.engine"] = sqlalchemy.create_engine(
        f"sqlite:///{settings['streaming.db']}"
    )
    with Configurator(settings=settings) as config:
        config.include("pyramid_tracing")
        for name, view in [
            ("stream", stream_view),
            ("fail", fail_view),
            ("long", long_view),
            ("file", file_view),
            ("failing-close", failing_close_view),
            ("iterator", iterator_view),
            ("spans", spans_view),
        ]:
            config.add_route(name, f"/{name}")
            config.add_view(view, route_name=name)
        return config.make_wsgi_app()


def main(global_config: dict[str, str], **settings: str) -> Any:
    """For ``gunicorn --paste``: :func:`build` with the INI file's settings."""
    return build(settings)
