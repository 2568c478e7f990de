"""Routes added under a ``route_prefix`` are named and tagged with one leading ``/``.

Kinto includes its API with ``config.include(..., route_prefix='v1')``; Pyramid then stores
the pattern ``v1/buckets/...`` (no leading slash) although it matches ``/v1/buckets/...``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from opentracing.mocktracer import MockTracer
from pyramid.config import Configurator
from pyramid.interfaces import IRoutesMapper
from pyramid.response import Response
from webtest import TestApp

from pyramid_tracing import ScopeManager, get_tracing, otel
from tests.helpers.otel_globals import reset_otel_globals

RECORDS = "/v1/buckets/{bucket_id}/collections/{collection_id}/records"


def ok(request: Any) -> Response:
    return Response("ok")


def buckets(config: Configurator) -> None:
    """Included under ``v1`` with the prefix ``buckets``: the prefixes add up to ``v1/buckets``."""
    config.add_route("records", "/{bucket_id}/collections/{collection_id}/records")
    config.add_view(ok, route_name="records")


def api(config: Configurator) -> None:
    """Kinto's layout: a hello view at the prefix itself, and a nested include."""
    config.add_route("hello", "/")
    config.add_view(ok, route_name="hello")
    config.include(buckets, route_prefix="buckets")


def build(**settings: Any) -> TestApp:
    with Configurator(settings=settings) as config:
        config.include("pyramid_tracing")
        config.include(api, route_prefix="v1")
        return TestApp(config.make_wsgi_app())


@pytest.fixture(autouse=True)
def _otel_globals() -> Iterator[None]:
    reset_otel_globals()
    yield
    reset_otel_globals()


def test_pyramid_stores_the_prefixed_pattern_without_its_slash() -> None:
    """The premise: Pyramid keeps ``v1/buckets/...`` as the route's pattern."""
    app = build(**{"tracing.tracer": MockTracer(scope_manager=ScopeManager())})
    mapper = app.app.registry.queryUtility(IRoutesMapper)
    assert {route.name: route.pattern for route in mapper.get_routes()} == {
        "hello": "v1/",
        "records": "v1/buckets/{bucket_id}/collections/{collection_id}/records",
    }


@pytest.mark.parametrize(
    ("semconv", "operation_name", "names"),
    [
        ("opentracing", "route_name", ["records", "hello"]),
        ("opentracing", "route_pattern", [RECORDS, "/v1/"]),
        ("opentracing", "method_route", [f"GET {RECORDS}", "GET /v1/"]),
        ("stable", None, [f"GET {RECORDS}", "GET /v1/"]),
        ("both", None, [f"GET {RECORDS}", "GET /v1/"]),
    ],
)
def test_prefixed_routes_keep_one_leading_slash(
    semconv: str, operation_name: str | None, names: list[str]
) -> None:
    """Span names and ``http.route`` of nested prefixed routes start with one ``/``."""
    tracer = MockTracer(scope_manager=ScopeManager())
    settings: dict[str, Any] = {"tracing.tracer": tracer, "tracing.semconv": semconv}
    if operation_name is not None:
        settings["tracing.operation_name"] = operation_name
    app = build(**settings)
    app.get("/v1/buckets/b1/collections/c1/records")
    app.get("/v1/")
    spans = tracer.finished_spans()
    assert [span.operation_name for span in spans] == names
    assert [span.tags["http.route"] for span in spans] == [RECORDS, "/v1/"]


@pytest.mark.parametrize("semconv", ["opentracing", "stable", "both"])
def test_prefixed_routes_keep_one_leading_slash_in_opentelemetry(semconv: str) -> None:
    """With the OpenTelemetry tracer too (its shim's own tagging path), in each vocabulary."""
    app = build(
        **{
            "tracing.tracer": "pyramid_tracing.otel:tracer_from_settings",
            "tracing.otel.exporter": "memory",
            "tracing.semconv": semconv,
            "tracing.operation_name": "method_route",
            "tracing.instrument": "",
        }
    )
    app.get("/v1/buckets/b1/collections/c1/records")
    tracer = get_tracing(app.app.registry).tracer
    (span,) = otel.memory_exporter(tracer).get_finished_spans()
    assert span.name == f"GET {RECORDS}"
    assert span.attributes is not None
    assert span.attributes["http.route"] == RECORDS
    otel.tracer_provider(tracer).shutdown()
