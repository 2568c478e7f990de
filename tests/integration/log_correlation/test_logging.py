"""``pyramid_tracing.logging``: trace ids on log records, in formatters and in structlog."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog
from opentracing.mocktracer import MockTracer
from pyramid.config import Configurator
from pyramid.response import Response

from pyramid_tracing import ScopeManager
from pyramid_tracing.logging import (
    TraceContextFilter,
    TraceFormatter,
    add_trace_context,
    trace_context,
    trace_sampled,
)

from ..instrument.conftest import Kit, Record, make_app

ROOT = Path(__file__).resolve().parents[3]
log = logging.getLogger("tests.integration.log_correlation.app")


class ListHandler(logging.Handler):
    """Keeps the records and the formatted lines it handles."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        self.lines.append(self.format(record))


@pytest.fixture
def handler() -> Iterator[ListHandler]:
    """A handler with the filter and an id-using format, on this module's logger only."""
    made = ListHandler()
    made.addFilter(TraceContextFilter())
    made.setFormatter(logging.Formatter("%(trace_id)s/%(span_id)s%(trace_sampled).1s %(message)s"))
    log.addHandler(made)
    log.setLevel(logging.INFO)
    try:
        yield made
    finally:
        log.removeHandler(made)


def expected_ids(kit: Kit, record: Record) -> tuple[str, str]:
    if kit.name == "opentelemetry":
        return format(record.trace_id, "032x"), format(record.span_id, "016x")
    digits = 16 if record.trace_id < 1 << 64 else 32
    return format(record.trace_id, f"0{digits}x"), format(record.span_id, "016x")


def logging_view(request: Any) -> Response:
    log.info("in the view")
    with request.tracing.start_active_span("child"):
        log.info("in the child")
    return Response("ok")


def configure(config: Configurator) -> None:
    config.add_route("logs", "/logs")
    config.add_view(logging_view, route_name="logs")


def test_log_records_carry_the_active_span_ids(kit: Kit, handler: ListHandler) -> None:
    """A line logged in a view has the server span's ids; in a child span, the child's."""
    make_app(kit.tracer, configure).get("/logs")
    records = {record.name: record for record in kit.records()}
    server_ids = expected_ids(kit, records["logs"])
    child_ids = expected_ids(kit, records["child"])
    assert handler.lines == [
        f"{server_ids[0]}/{server_ids[1]}T in the view",
        f"{child_ids[0]}/{child_ids[1]}T in the child",
    ]
    assert server_ids[0] == child_ids[0]


def test_outside_a_span_the_ids_are_empty_and_formats_work(handler: ListHandler) -> None:
    """Outside any span both ids are empty strings and trace_sampled false: formats render."""
    log.info("no span")
    assert handler.lines == ["/F no span"]
    assert trace_context() == ("", "")
    assert trace_sampled() is False


def test_ids_already_on_a_record_are_kept(handler: ListHandler) -> None:
    """A record that carries a trace_id (from extra=) keeps it, and gets trace_sampled."""
    log.info("given", extra={"trace_id": "abc", "span_id": "def"})
    log.info("given", extra={"trace_id": "abc", "span_id": "def", "trace_sampled": True})
    assert handler.lines == ["abc/defF given", "abc/defT given"]


def test_trace_formatter_formats_the_ids_without_a_filter() -> None:
    """TraceFormatter alone fills %(trace_id)s and %(span_id)s."""
    tracer = MockTracer(scope_manager=ScopeManager())
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "msg", None, None)
    formatter = TraceFormatter("%(trace_id)s %(span_id)s %(message)s")
    assert formatter.format(record) == "  msg"

    def view(request: Any) -> Response:
        fresh = logging.LogRecord("x", logging.INFO, __file__, 1, "msg", None, None)
        return Response(formatter.format(fresh))

    app = make_app(
        tracer, lambda config: (config.add_route("f", "/f"), config.add_view(view, route_name="f"))
    )
    line = app.get("/f").text
    [server] = tracer.finished_spans()
    assert line == f"{server.context.trace_id:016x} {server.context.span_id:016x} msg"


def test_nothing_is_installed_on_the_root_logger() -> None:
    """Importing the module and tracing a request adds no handler or filter to the root logger."""
    root = logging.getLogger()
    before = (list(root.handlers), list(root.filters))
    import pyramid_tracing.logging  # noqa: F401

    make_app(MockTracer(scope_manager=ScopeManager()), configure).get("/logs")
    assert (list(root.handlers), list(root.filters)) == before


INI = """\
[app:main]
use = call:tests.integration.log_correlation.ini_app:main

[loggers]
keys = root, shop

[handlers]
keys = file

[formatters]
keys = generic

[logger_root]
level = WARNING
handlers = file

[logger_shop]
level = INFO
handlers =
qualname = shop

[handler_file]
class = FileHandler
args = ('%(here)s/app.log', 'w')
formatter = generic

[formatter_generic]
class = pyramid_tracing.logging.TraceFormatter
format = %(levelname)s [%(trace_id)s %(span_id)s] %(name)s: %(message)s
"""

SCRIPT = """\
import sys
from pyramid.paster import get_app, setup_logging
from webtest import TestApp
from pyramid_tracing import get_tracing

setup_logging(sys.argv[1])
app = get_app(sys.argv[1])
TestApp(app).get("/order")
[span] = get_tracing(app.registry).tracer.finished_spans()
print(f"{span.context.trace_id:016x} {span.context.span_id:016x}")
"""


def test_a_paste_ini_formatter_puts_the_trace_id_in_the_log_line(tmp_path: Path) -> None:
    """pyramid.paster.setup_logging (as pserve does) with TraceFormatter: the line has the ids."""
    ini = tmp_path / "app.ini"
    ini.write_text(INI, encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(ini)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    trace_id, span_id = result.stdout.split()
    lines = (tmp_path / "app.log").read_text(encoding="utf-8").splitlines()
    assert lines == [f"INFO [{trace_id} {span_id}] shop: order placed"]


def test_structlog_processor_renders_the_ids(kit: Kit) -> None:
    """add_trace_context puts the ids in structlog's event dict; none outside a span."""
    out = io.StringIO()
    logger = structlog.wrap_logger(
        structlog.PrintLogger(out),
        processors=[add_trace_context, structlog.processors.JSONRenderer(sort_keys=True)],
    )

    def view(request: Any) -> Response:
        logger.info("charged", amount=3)
        return Response("ok")

    make_app(
        kit.tracer,
        lambda config: (config.add_route("s", "/s"), config.add_view(view, route_name="s")),
    ).get("/s")
    logger.info("outside")
    [server] = kit.records()
    inside, outside = (json.loads(line) for line in out.getvalue().splitlines())
    trace_id, span_id = expected_ids(kit, server)
    assert inside == {
        "amount": 3,
        "event": "charged",
        "span_id": span_id,
        "trace_id": trace_id,
        "trace_sampled": True,
    }
    assert outside == {"event": "outside"}


def test_a_failing_tracer_gives_empty_ids(handler: ListHandler) -> None:
    """A tracer whose active_span raises: the line is logged, with empty ids."""

    class Broken(MockTracer):
        @property
        def active_span(self) -> Any:
            raise RuntimeError("broken")

    def view(request: Any) -> Response:
        log.info("still logged")
        return Response("ok")

    app = make_app(
        Broken(scope_manager=ScopeManager()),
        lambda config: (config.add_route("b", "/b"), config.add_view(view, route_name="b")),
    )
    app.get("/b")
    assert handler.lines == ["/F still logged"]
