"""Log lines under a ratio sampler: every line has a trace id, ``trace_sampled`` says which lead.

Real tracers at a 10 % ratio: OpenTelemetry's SDK from the INI keys (``tracing.otel.sampler =
traceidratio``, ``tracing.otel.sampler_arg = 0.1``, the memory exporter) and jaeger-client's
probabilistic sampler. The log lines that say ``trace_sampled=True`` are exactly those whose
trace was exported.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from pyramid.config import Configurator
from pyramid.response import Response
from webtest import TestApp

from pyramid_tracing import ScopeManager, get_tracing, otel
from pyramid_tracing.logging import TraceContextFilter, add_trace_context
from tests.helpers.otel_globals import reset_otel_globals

pytest.importorskip("jaeger_client")

from jaeger_client import ProbabilisticSampler
from jaeger_client import Tracer as JaegerTracer
from jaeger_client.reporter import InMemoryReporter

REQUESTS = 200
log = logging.getLogger("tests.integration.log_correlation.sampling")
LINE = re.compile(r"(?P<trace_id>[0-9a-f]{16,32}) sampled=(?P<sampled>True|False) order \d+")


def order_view(request: Any) -> Response:
    log.info("order %s", request.matchdict["id"])
    request.registry.events_seen.append(add_trace_context(None, "info", {}))
    return Response("ok")


def serve(settings: dict[str, Any]) -> TestApp:
    with Configurator(settings=settings) as config:
        config.include("pyramid_tracing")
        config.add_route("order", "/orders/{id}")
        config.add_view(order_view, route_name="order")
        app = config.make_wsgi_app()
    app.registry.events_seen = []
    return TestApp(app)


def otel_app() -> tuple[TestApp, Callable[[], set[str]]]:
    """The OpenTelemetry SDK at 10 %, from the settings a user writes; its exported trace ids."""
    app = serve(
        {
            "tracing.tracer": "pyramid_tracing.otel:tracer_from_settings",
            "tracing.otel.service_name": "sampling-test",
            "tracing.otel.exporter": "memory",
            "tracing.otel.sampler": "traceidratio",
            "tracing.otel.sampler_arg": "0.1",
        }
    )
    exporter = otel.memory_exporter(get_tracing(app.app.registry).tracer)

    def exported() -> set[str]:
        spans = exporter.get_finished_spans()
        return {format(span.context.trace_id, "032x") for span in spans}

    return app, exported


def jaeger_app() -> tuple[TestApp, Callable[[], set[str]]]:
    """jaeger-client with a 10 % probabilistic sampler; the trace ids its reporter got."""
    reporter = InMemoryReporter()
    tracer = JaegerTracer(
        service_name="sampling-test",
        reporter=reporter,
        sampler=ProbabilisticSampler(0.1),
        scope_manager=ScopeManager(),
    )
    app = serve({"tracing.tracer": tracer})

    def exported() -> set[str]:
        return {format(span.context.trace_id, "016x") for span in reporter.get_spans()}

    return app, exported


@pytest.fixture
def lines() -> Iterator[list[str]]:
    """The formatted lines of the view's logger, through the filter."""
    got: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            got.append(self.format(record))

    handler = Keep()
    handler.addFilter(TraceContextFilter())
    handler.setFormatter(logging.Formatter("%(trace_id)s sampled=%(trace_sampled)s %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    saved = {name: os.environ.pop(name) for name in list(os.environ) if name.startswith("OTEL_")}
    try:
        yield got
    finally:
        log.removeHandler(handler)
        os.environ.update(saved)
        reset_otel_globals()


@pytest.mark.parametrize("make", [otel_app, jaeger_app], ids=["opentelemetry", "jaeger-client"])
def test_trace_sampled_marks_the_lines_whose_trace_was_exported(
    make: Callable[[], tuple[TestApp, Callable[[], set[str]]]], lines: list[str]
) -> None:
    """At 10 %, all 200 lines carry a trace id; those with trace_sampled=True are the exported."""
    app, exported = make()
    for number in range(REQUESTS):
        app.get(f"/orders/{number}")
    parsed = [LINE.fullmatch(line) for line in lines]
    assert len(lines) == REQUESTS
    assert all(parsed), lines[:3]
    traced = {match["trace_id"] for match in parsed if match}
    sampled = {match["trace_id"] for match in parsed if match and match["sampled"] == "True"}
    assert len(traced) == REQUESTS  # every line has an id, one trace per request
    assert sampled == exported()
    # Binomial(200, 0.1): mean 20, standard deviation 4.2; five deviations each side.
    assert 0 < len(sampled) <= 41, len(sampled)
    events = app.app.registry.events_seen
    assert [event["trace_sampled"] for event in events] == [
        match["sampled"] == "True" for match in parsed if match
    ]
