"""A stand-in OTLP/HTTP collector on 127.0.0.1: records what it receives, answers a set status."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
)


class Receiver(http.server.ThreadingHTTPServer):
    """The server: ``received`` is (path, span names) per POST; ``status`` what it answers."""

    received: list[tuple[str, list[str]]]
    status: int


class _Handler(http.server.BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        request = ExportTraceServiceRequest.FromString(body)
        names = [
            span.name
            for resource_spans in request.resource_spans
            for scope_spans in resource_spans.scope_spans
            for span in scope_spans.spans
        ]
        self.server.received.append((self.path, names))
        self.send_response(self.server.status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        """Keep the test output quiet."""


@contextmanager
def receiving(status: int = 200) -> Iterator[Receiver]:
    """Run a :class:`Receiver` answering ``status`` on a free loopback port; stop it after."""
    server = Receiver(("127.0.0.1", 0), _Handler)
    server.received = []
    server.status = status
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
