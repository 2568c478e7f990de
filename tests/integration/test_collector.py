"""A real OpenTelemetry collector: rotel-agent receives what an INI-configured app exports.

The app is configured only through an INI file (``pyramid.paster.get_app``) with
``tracing.otel.exporter = otlp``; the collector logs every span it receives (``--debug-log
traces --debug-log-verbosity detailed``) and the test reads the spans back from that log.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from pyramid.config import Configurator
from pyramid.paster import get_app
from pyramid.response import Response
from webtest import TestApp

from pyramid_tracing import get_tracing

pytest.importorskip("opentelemetry.exporter.otlp.proto.http")

from pyramid_tracing import otel
from tests.helpers.collector import parse_spans
from tests.helpers.otel_globals import reset_otel_globals, shut_down

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN_ID = "00f067aa0ba902b7"


class Failed(Exception):
    """What the failing view raises."""


def order_view(request: Any) -> Response:
    with request.tracing.start_active_span("load_order", tags={"order.id": "7"}):
        pass
    return Response("order 7")


def failing_view(request: Any) -> Response:
    raise Failed("payment declined")


def main(global_config: dict[str, str], **settings: str) -> Any:
    """The WSGI app that the test's INI file names: tracing comes from the settings alone."""
    with Configurator(settings=settings) as config:
        config.add_route("order", "/orders/{id}")
        config.add_view(order_view, route_name="order")
        config.add_route("fail", "/fail")
        config.add_view(failing_view, route_name="fail")
        return config.make_wsgi_app()


def write_ini(path: Path, endpoint: str) -> Path:
    path.write_text(
        "[app:main]\n"
        "use = call:tests.integration.test_collector:main\n"
        "pyramid.includes = pyramid_tracing\n"
        "tracing.tracer = pyramid_tracing.otel:tracer_from_settings\n"
        "tracing.otel.service_name = orders\n"
        "tracing.otel.exporter = otlp\n"
        f"tracing.otel.endpoint = {endpoint}\n"
        "tracing.capture_request_headers = user-agent\n"
        "tracing.semconv = opentracing\n"
    )
    return path


def test_spans_reach_a_real_collector(collector: tuple[str, Path], tmp_path: Path) -> None:
    """An INI-configured app exports OTLP to rotel-agent, which logs the right spans."""
    endpoint, log = collector
    app = get_app(str(write_ini(tmp_path / "app.ini", endpoint)), "main")
    tracer = get_tracing(app.registry).tracer
    try:
        client = TestApp(app)
        traceparent = f"00-{TRACE_ID}-{CALLER_SPAN_ID}-01"
        client.get(
            "/orders/7?token=s3cret",
            headers={"traceparent": traceparent, "User-Agent": "collector-test"},
        )
        with pytest.raises(Failed):
            client.get("/fail")
        assert otel.tracer_provider(tracer).force_flush(timeout_millis=10_000)
    finally:
        shut_down(tracer)
        reset_otel_globals()

    deadline = time.monotonic() + 10
    spans: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        spans = parse_spans(log.read_text(errors="replace"))
        if len(spans) >= 3:
            break
        time.sleep(0.05)
    by_name = {span["Name"]: span for span in spans}
    assert sorted(by_name) == ["fail", "load_order", "order"], spans

    order, load, fail = by_name["order"], by_name["load_order"], by_name["fail"]
    assert {span["service"] for span in spans} == {"orders"}
    # The incoming traceparent is continued, and the child nests under the server span.
    assert order["Trace ID"] == TRACE_ID
    assert order["Parent ID"] == CALLER_SPAN_ID
    assert load["Trace ID"] == TRACE_ID
    assert load["Parent ID"] == order["ID"]
    assert fail["Trace ID"] != TRACE_ID
    assert fail["Parent ID"] == ""

    assert order["Kind"] == "SPAN_KIND_SERVER"
    assert order["Status code"] == "STATUS_CODE_UNSET"
    assert fail["Status code"] == "STATUS_CODE_ERROR"
    assert load["Kind"] == "SPAN_KIND_INTERNAL"
    assert order["attributes"]["http.method"] == "Str(GET)"
    assert order["attributes"]["http.status_code"] == "Int(200)"
    assert order["attributes"]["http.url"] == "Str(http://localhost/orders/7?token=[REDACTED])"
    assert order["attributes"]["http.route"] == "Str(/orders/{id})"
    assert order["attributes"]["http.request.header.user-agent"] == "Str(collector-test)"
    assert order["attributes"]["span.kind"] == "Str(server)"
    assert load["attributes"] == {"order.id": "Str(7)"}
    assert fail["attributes"]["error"] == "Bool(true)"
    assert fail["attributes"]["http.route"] == "Str(/fail)"


def test_the_log_parser_reads_rotel_output() -> None:
    """parse_spans() reads names, ids, attributes and the service of rotel's detailed log."""
    text = (
        "ResourceSpans #0\nResource attributes:\n     -> service.name: Str(svc)\n"
        "ScopeSpans #0\nSpan #0\n    Trace ID       : ab\n    Parent ID      : \n"
        "    ID             : cd\n    Name           : outer\nAttributes:\n"
        "     -> a: Int(1)\n"
    )
    assert parse_spans(text) == [
        {
            "service": "svc",
            "attributes": {"a": "Int(1)"},
            "resource": {"service.name": "Str(svc)"},
            "Trace ID": "ab",
            "Parent ID": "",
            "ID": "cd",
            "Name": "outer",
        }
    ]
